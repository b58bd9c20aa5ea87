/*
 * test_graph_facts.c -- what `pippy model` shows of a graph
 * (core/pp_graph_facts.h), on gpt2-tiny at micro-batch 2 x seq 16: the
 * figures worked out by hand (the embedding block's parameters, the bytes
 * a cut after it sends, the tied token embedding held by the first and the
 * last block), every block's figures against the one-at-a-time queries of
 * pp_graph.h, and the JSON document naming the tied parameter's blocks.
 */
#include "core/pp_graph_facts.h"
#include "core/pp_zoo.h"

#include <check.h>

#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(gpt2_tiny_facts) {
    char path[1024];
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_zoo_build(&cfg, 2, 16, PP_DTYPE_F32, &g, &err) == 0, "%s", err.msg);
    pp_graph_facts fx;
    ck_assert_msg(pp_graph_facts_get(&g, &fx, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(g.n_blocks, 6); /* embed, h.0 .. h.3, head */
    pp_graph_range_facts r;
    /* The embedding: wte 256 x 32 + wpe 64 x 32 = 10,240 elements; a cut
     * after it sends the hidden state, 2 x 16 x 32 floats = 4,096 bytes. */
    pp_graph_facts_range(&g, &fx, fx.lo[0], fx.hi[0], &r);
    ck_assert_int_eq(r.params, 10240);
    ck_assert_int_eq(r.param_bytes, 4 * 10240);
    ck_assert_int_eq(r.cut_bytes, 4096);
    ck_assert_int_eq(r.tied, 1);
    /* The head holds ln_f (2 x 32) and the tied wte: 8,256; nothing after it. */
    pp_graph_facts_range(&g, &fx, fx.lo[5], fx.hi[5], &r);
    ck_assert_int_eq(r.params, 64 + 8192);
    ck_assert_int_eq(r.cut_bytes, 0);
    ck_assert_int_eq(r.tied, 1);
    /* Every block against the per-row queries; only embed and head are tied. */
    for (int b = 0; b < g.n_blocks; b++) {
        int lo, hi;
        ck_assert_int_eq(pp_graph_block_range(&g, b, &lo, &hi), 0);
        ck_assert_int_eq(fx.lo[b], lo);
        ck_assert_int_eq(fx.hi[b], hi);
        pp_graph_facts_range(&g, &fx, lo, hi, &r);
        ck_assert_int_eq(r.params, pp_graph_range_param_count(&g, lo, hi));
        ck_assert_int_eq(r.keep_f_bytes, pp_graph_range_keep_bytes(&g, lo, hi, 0));
        ck_assert_int_eq(r.keep_w_bytes, pp_graph_range_keep_bytes(&g, lo, hi, 1));
        for (int p = 0; p < PP_PASS__COUNT; p++)
            ck_assert_double_eq(r.flops[p], pp_graph_range_flops(&g, lo, hi, (pp_pass)p));
        ck_assert_int_eq(r.cut_bytes, pp_graph_cut_bytes(&g, hi));
        ck_assert_int_eq(r.tied, b == 0 || b == 5);
    }
    /* The total counts wte once. */
    pp_graph_facts_range(&g, &fx, 0, g.n_ops, &r);
    ck_assert_int_eq(r.params, 61120);
    /* wte is the one shared parameter, held by embed and head. */
    int wte = pp_graph_find_tensor(&g, "wte.weight"), n_shared = 0;
    ck_assert_int_ge(wte, 0);
    for (int t = 0; t < g.n_tensors; t++) n_shared += fx.shared[t];
    ck_assert_int_eq(n_shared, 1);
    ck_assert_int_eq(fx.blocks_off[wte + 1] - fx.blocks_off[wte], 2);
    ck_assert_str_eq(g.blocks[fx.blocks_of[fx.blocks_off[wte]]], "embed");
    ck_assert_str_eq(g.blocks[fx.blocks_of[fx.blocks_off[wte] + 1]], "head");
    /* The JSON document: blocks, ops on request, the tied parameter. */
    pp_jw w;
    pp_jw_init(&w);
    pp_graph_facts_json(&g, &fx, &cfg, "abc", 2, 16, 1, &w);
    char *text = NULL;
    ck_assert_int_eq(pp_jw_finish(&w, &text, NULL, &err), 0);
    ck_assert_ptr_nonnull(strstr(text, "\"tied_params\""));
    ck_assert_ptr_nonnull(strstr(text, "[\"embed\", \"head\"]"));
    ck_assert_ptr_nonnull(strstr(text, "\"ops\""));
    ck_assert_ptr_nonnull(strstr(text, "\"cut_bytes\": 4096"));
    free(text);
    pp_graph_facts_free(&fx);
    pp_graph_facts_free(&fx); /* freeing twice is harmless */
    pp_graph_free(&g);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("graph_facts");
    TCase *tc = tcase_create("facts");
    tcase_add_test(tc, gpt2_tiny_facts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
