/*
 * test_zoo.c -- the model zoo: every preset's parameter count equals the
 * published one, configs round-trip through JSON, bad configs are refused
 * with file, line, column and field, and the families have the structure
 * they promise (tied heads, GQA, cross attention reading the encoder).
 */
#include <check.h>

#include "tests/pp_test.h"
#include <stdlib.h>
#include <string.h>

#include "core/pp_graph.h"
#include "core/pp_zoo.h"

static void load_preset(const char *name, pp_model_config *cfg) {
    char path[1024];
    pp_err err = {0};
    snprintf(path, sizeof path, "%s/configs/models/%s.json", PP_SOURCE_DIR, name);
    ck_assert_msg(pp_model_config_load(path, cfg, &err) == 0, "%s", err.msg);
}

static long long preset_params(const char *name) {
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    load_preset(name, &cfg);
    /* Short sequences keep the big models cheap to build; parameters do not depend on it. */
    ck_assert_msg(pp_zoo_build(&cfg, 1, 8, PP_DTYPE_F32, &g, &err) == 0, "%s", err.msg);
    long long n = pp_graph_param_count(&g);
    pp_graph_free(&g);
    return n;
}

static const struct {
    const char *name;
    long long params;
} published[] = {
    {"gpt2-124m", 124439808LL},   {"gpt2-355m", 354823168LL},     {"gpt2-774m", 774030080LL},
    {"gpt2-1558m", 1557611200LL}, {"llama2-7b", 6738415616LL},    {"llama2-13b", 13015864320LL},
    {"llama2-70b", 68976648192LL}, {"bert-base", 109482240LL},    {"bert-large", 335141888LL},
    {"t5-base", 222903552LL},     {"t5-large", 737668096LL},
};

START_TEST(test_published_param_counts) {
    const char *name = published[_i].name;
    long long got = preset_params(name);
    ck_assert_msg(got == published[_i].params, "%s: %lld parameters, published %lld", name, got,
                  published[_i].params);
}
END_TEST

START_TEST(test_tiny_presets_build) {
    const char *names[] = {"gpt2-tiny", "llama-tiny", "bert-tiny", "t5-tiny"};
    for (int i = 0; i < 4; i++) {
        pp_model_config cfg;
        pp_graph g;
        pp_err err = {0};
        load_preset(names[i], &cfg);
        ck_assert_int_eq(cfg.vocab_size, 256);
        ck_assert_msg(pp_zoo_build(&cfg, 2, cfg.seq_len, PP_DTYPE_F32, &g, &err) == 0, "%s", err.msg);
        ck_assert_msg(pp_graph_validate(&g, &err) == 0, "%s", err.msg);
        ck_assert_int_gt(g.n_blocks, 3);
        pp_graph_free(&g);
    }
}
END_TEST

/* GPT-2 by hand: 12 layers of 12 D^2 + 13 D, embeddings, final norm. */
START_TEST(test_gpt2_formula) {
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    load_preset("gpt2-tiny", &cfg);
    ck_assert_int_eq(pp_zoo_build(&cfg, 1, 16, PP_DTYPE_F32, &g, &err), 0);
    long long D = cfg.d_model, F = cfg.d_ff, V = cfg.vocab_size, P = cfg.n_positions, L = cfg.n_layer;
    long long layer = 2 * D + (3 * D * D + 3 * D) + (D * D + D) + 2 * D + (F * D + F) + (D * F + D);
    ck_assert_int_eq(pp_graph_param_count(&g), V * D + P * D + L * layer + 2 * D);
    /* Tied head: wte is read by the embedding and the LM head, in two blocks. */
    int wte = pp_graph_find_tensor(&g, "wte.weight");
    ck_assert_int_ge(wte, 0);
    ck_assert(pp_graph_param_is_shared(&g, wte));
    int head = pp_graph_find_op(&g, "lm_head");
    ck_assert_int_eq(g.ops[head].param[0], wte);
    /* F FLOPs of a linear: 2 M N K + bias. */
    int fc = pp_graph_find_op(&g, "h.0.mlp.c_fc");
    ck_assert(g.ops[fc].cost.flops[PP_PASS_F] == 2.0 * 16 * F * D + 16.0 * F);
    ck_assert(g.ops[fc].cost.flops[PP_PASS_I] == 2.0 * 16 * F * D);
    pp_graph_free(&g);
}
END_TEST

START_TEST(test_llama_gqa_and_untied) {
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    load_preset("llama2-70b", &cfg);
    ck_assert_int_eq(cfg.n_kv_head, 8);
    ck_assert_int_eq(pp_zoo_build(&cfg, 1, 4, PP_DTYPE_BF16, &g, &err), 0);
    int qkv = pp_graph_find_tensor(&g, "layers.0.self_attn.qkv_proj.weight");
    ck_assert_int_ge(qkv, 0);
    ck_assert_int_eq(g.tensors[qkv].shape[0], 8192 + 2 * 1024);
    ck_assert_int_ge(pp_graph_find_tensor(&g, "lm_head.weight"), 0);
    ck_assert(!pp_graph_param_is_shared(&g, pp_graph_find_tensor(&g, "embed_tokens.weight")));
    ck_assert_int_eq(pp_dtype_size(g.tensors[qkv].dtype), 2);
    pp_graph_free(&g);
}
END_TEST

/* Every T5 decoder block reads the encoder output: a cut anywhere in the
 * decoder carries it, on top of the residual stream. */
START_TEST(test_t5_skip_connection) {
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    load_preset("t5-tiny", &cfg);
    int B = 2, T = 16;
    ck_assert_int_eq(pp_zoo_build(&cfg, B, T, PP_DTYPE_F32, &g, &err), 0);
    long long act = (long long)B * T * cfg.d_model * 4;
    int lo, hi;
    /* Cut inside the encoder: only the residual stream. */
    ck_assert_int_eq(pp_graph_block_range(&g, pp_graph_find_block(&g, "encoder.1"), &lo, &hi), 0);
    ck_assert_int_eq(pp_graph_cut_bytes(&g, lo), act);
    /* Cut between decoder blocks: residual + encoder output. */
    ck_assert_int_eq(pp_graph_block_range(&g, pp_graph_find_block(&g, "decoder.1"), &lo, &hi), 0);
    ck_assert_int_eq(pp_graph_cut_bytes(&g, lo), 2 * act);
    /* Cut before the head: the last decoder block's output only. */
    ck_assert_int_eq(pp_graph_block_range(&g, pp_graph_find_block(&g, "head"), &lo, &hi), 0);
    ck_assert_int_eq(pp_graph_cut_bytes(&g, lo), act);
    int enc = pp_graph_find_tensor(&g, "encoder.final_layer_norm.out");
    int readers = 0;
    for (int i = 0; i < g.n_ops; i++)
        for (int k = 0; k < g.ops[i].n_in; k++)
            if (g.ops[i].in[k] == enc) readers++;
    ck_assert_int_eq(readers, cfg.n_decoder_layer);
    /* Embedding shared by encoder, decoder and head; relative bias shared by a stack. */
    ck_assert(pp_graph_param_is_shared(&g, pp_graph_find_tensor(&g, "shared.weight")));
    ck_assert(pp_graph_param_is_shared(&g, pp_graph_find_tensor(&g, "encoder.relative_attention_bias.weight")));
    pp_graph_free(&g);
}
END_TEST

START_TEST(test_config_round_trip) {
    const char *names[] = {"gpt2-124m", "llama2-70b", "bert-base", "t5-large", "llama-tiny"};
    for (int i = 0; i < 5; i++) {
        pp_model_config a, b;
        pp_err err = {0};
        char *text = NULL, *text2 = NULL;
        size_t len, len2;
        load_preset(names[i], &a);
        ck_assert_int_eq(pp_model_config_write(&a, &text, &len, &err), 0);
        ck_assert_msg(pp_model_config_parse(text, len, "mem", &b, &err) == 0, "%s", err.msg);
        ck_assert(memcmp(&a, &b, sizeof a) == 0);
        ck_assert_int_eq(pp_model_config_write(&b, &text2, &len2, &err), 0);
        ck_assert_str_eq(text, text2);
        char h1[65], h2[65];
        ck_assert_int_eq(pp_model_config_hash(&a, h1, &err), 0);
        ck_assert_int_eq(pp_model_config_hash(&b, h2, &err), 0);
        ck_assert_str_eq(h1, h2);
        ck_assert_int_eq((int)strlen(h1), 64);
        free(text);
        free(text2);
    }
    /* Different configs, different hashes. */
    pp_model_config a, b;
    pp_err err = {0};
    char h1[65], h2[65];
    load_preset("gpt2-tiny", &a);
    b = a;
    b.n_layer++;
    pp_model_config_hash(&a, h1, &err);
    pp_model_config_hash(&b, h2, &err);
    ck_assert_str_ne(h1, h2);
}
END_TEST

static void expect_bad(const char *text, const char *want1, const char *want2) {
    pp_model_config cfg;
    pp_err err = {0};
    ck_assert_int_eq(pp_model_config_parse(text, strlen(text), "bad.json", &cfg, &err), -1);
    ck_assert_msg(strstr(err.msg, want1) != NULL, "message '%s' lacks '%s'", err.msg, want1);
    if (want2) ck_assert_msg(strstr(err.msg, want2) != NULL, "message '%s' lacks '%s'", err.msg, want2);
}

START_TEST(test_config_errors) {
    const char *base_head = "{\"name\": \"m\", \"family\": \"gpt2\", \"vocab_size\": 256, \"n_positions\": 64,\n";
    char buf[1024];
    /* wrong type, with line and column */
    snprintf(buf, sizeof buf, "%s \"d_model\": \"64\", \"n_layer\": 2, \"n_head\": 4, \"d_ff\": 256}", base_head);
    expect_bad(buf, "bad.json:2:13: field 'd_model'", "expected an integer");
    /* out of range says the range */
    snprintf(buf, sizeof buf, "%s \"d_model\": 64, \"n_layer\": 0, \"n_head\": 4, \"d_ff\": 256}", base_head);
    expect_bad(buf, "field 'n_layer'", "[1, 10000]");
    /* unknown field */
    snprintf(buf, sizeof buf, "%s \"d_model\": 64, \"n_layer\": 2, \"n_head\": 4, \"d_ff\": 256, \"dropout\": 0.1}",
             base_head);
    expect_bad(buf, "field 'dropout'", "unknown field");
    /* field of another family */
    snprintf(buf, sizeof buf, "%s \"d_model\": 64, \"n_layer\": 2, \"n_head\": 4, \"d_ff\": 256, \"rope_theta\": 1e4}",
             base_head);
    expect_bad(buf, "field 'rope_theta'", "does not apply to family 'gpt2'");
    /* missing field */
    snprintf(buf, sizeof buf, "%s \"d_model\": 64, \"n_layer\": 2, \"d_ff\": 256}", base_head);
    expect_bad(buf, "missing required field 'n_head'", NULL);
    /* unknown family lists the known ones */
    expect_bad("{\"name\": \"m\", \"family\": \"gpt3\"}", "field 'family'", "\"gpt2\", \"llama\", \"bert\", \"t5\"");
    /* syntax error: position of the problem */
    expect_bad("{\"name\": \"m\",\n \"family\": gpt2}", "bad.json:2:12", NULL);
    /* cross-field: heads must divide */
    snprintf(buf, sizeof buf, "%s \"d_model\": 64, \"n_layer\": 2, \"n_head\": 5, \"d_ff\": 256}", base_head);
    expect_bad(buf, "not a multiple of n_head 5", NULL);
    /* seq beyond positions */
    snprintf(buf, sizeof buf, "%s \"d_model\": 64, \"n_layer\": 2, \"n_head\": 4, \"d_ff\": 256, \"seq_len\": 65}",
             base_head);
    expect_bad(buf, "seq_len 65 exceeds n_positions 64", NULL);
}
END_TEST

START_TEST(test_build_refuses_long_sequence) {
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    load_preset("gpt2-tiny", &cfg);
    ck_assert_int_eq(pp_zoo_build(&cfg, 1, 65, PP_DTYPE_F32, &g, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "exceeds its 64 positions"));
    ck_assert_int_eq(g.n_ops, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("zoo");
    TCase *tc = tcase_create("zoo");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_published_param_counts, 0, (int)(sizeof published / sizeof published[0]));
    tcase_add_test(tc, test_tiny_presets_build);
    tcase_add_test(tc, test_gpt2_formula);
    tcase_add_test(tc, test_llama_gqa_and_untied);
    tcase_add_test(tc, test_t5_skip_connection);
    tcase_add_test(tc, test_config_round_trip);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_build_refuses_long_sequence);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
