/*
 * test_graph.c -- the graph IR: shape inference, validation messages that
 * name the op and tensor (dangling tensor, shape mismatch, cycle),
 * topological sorting, and the stage queries (kept bytes counted once per
 * shared tensor, bytes crossing a cut).
 */
#include <check.h>

#include "tests/pp_test.h"
#include <stdlib.h>
#include <string.h>

#include "core/pp_graph.h"
#include "core/pp_zoo.h"


/* x[2,8,16] -> ln -> fc1[32] -> gelu -> fc2[16] -> add(x) */
static void small_mlp(pp_graph *g) {
    pp_err err = {0};
    pp_graph_init(g, PP_DTYPE_F32);
    int x = pp_graph_add_tensor(g, "x", PP_TENSOR_INPUT, PP_DTYPE_F32, 3, (long long[]){2, 8, 16}, &err);
    int lw = pp_graph_add_param(g, "ln.w", 1, (long long[]){16}, &err);
    int lb = pp_graph_add_param(g, "ln.b", 1, (long long[]){16}, &err);
    int w1 = pp_graph_add_param(g, "fc1.w", 2, (long long[]){32, 16}, &err);
    int b1 = pp_graph_add_param(g, "fc1.b", 1, (long long[]){32}, &err);
    int w2 = pp_graph_add_param(g, "fc2.w", 2, (long long[]){16, 32}, &err);
    pp_op_attrs na = {.eps = 1e-5};
    int h = pp_graph_add_op(g, PP_OP_LAYERNORM, "ln", "b0", (int[]){x}, 1, (int[]){lw, lb}, 2, &na, &err);
    ck_assert_msg(h >= 0, "%s", err.msg);
    h = pp_graph_add_op(g, PP_OP_LINEAR, "fc1", "b0", (int[]){h}, 1, (int[]){w1, b1}, 2, NULL, &err);
    ck_assert_msg(h >= 0, "%s", err.msg);
    h = pp_graph_add_op(g, PP_OP_GELU, "gelu", "b1", (int[]){h}, 1, NULL, 0, NULL, &err);
    h = pp_graph_add_op(g, PP_OP_LINEAR, "fc2", "b1", (int[]){h}, 1, (int[]){w2}, 1, NULL, &err);
    h = pp_graph_add_op(g, PP_OP_ADD, "add", "b1", (int[]){x, h}, 2, NULL, 0, NULL, &err);
    ck_assert_msg(h >= 0, "%s", err.msg);
}

START_TEST(test_shapes_and_costs) {
    pp_graph g;
    pp_err err = {0};
    small_mlp(&g);
    ck_assert_int_eq(pp_graph_validate(&g, &err), 0);
    const pp_tensor *y = &g.tensors[g.ops[1].out[0]];
    ck_assert_int_eq(y->ndim, 3);
    ck_assert_int_eq(y->shape[2], 32);
    ck_assert_int_eq(pp_graph_param_count(&g), 16 + 16 + 32 * 16 + 32 + 16 * 32);
    /* fc1: M = 16 rows, N = 32, K = 16 */
    ck_assert(g.ops[1].cost.flops[PP_PASS_F] == 2.0 * 16 * 32 * 16 + 16 * 32);
    ck_assert(g.ops[1].cost.flops[PP_PASS_W] == 2.0 * 16 * 32 * 16 + 16 * 32);
    ck_assert(g.ops[3].cost.flops[PP_PASS_W] == 2.0 * 16 * 16 * 32);
    /* gelu has no weights, so no W pass */
    ck_assert(g.ops[2].cost.flops[PP_PASS_W] == 0);
    ck_assert_int_eq(g.n_blocks, 2);
    pp_graph_free(&g);
}
END_TEST

START_TEST(test_keep_union) {
    pp_graph g;
    small_mlp(&g);
    long long act16 = 2 * 8 * 16 * 4, act32 = 2 * 8 * 32 * 4, stats = 2 * 16 * 4;
    /* ln keeps x + stats; fc1 keeps ln.out; gelu keeps fc1.out; fc2 keeps gelu.out; add nothing */
    ck_assert_int_eq(g.ops[0].cost.keep_f_bytes, act16 + stats);
    ck_assert_int_eq(pp_graph_range_keep_bytes(&g, 0, 5, 0), act16 + stats + act16 + act32 + act32);
    /* keep I->W: ln keeps x, grad(ln.out), stats; fc1 keeps ln.out (again: counted once) and grad(fc1.out) */
    long long w01 = pp_graph_range_keep_bytes(&g, 0, 2, 1);
    ck_assert_int_eq(w01, act16 + act16 + stats + act16 + act32);
    /* Cut after fc1: fc1.out crosses; x is a graph input, fed to every stage by the loader */
    ck_assert_int_eq(pp_graph_cut_bytes(&g, 2), act32);
    ck_assert_int_eq(pp_graph_cut_bytes(&g, 0), 0);
    pp_graph_free(&g);
}
END_TEST

START_TEST(test_shape_mismatch_names_op_and_tensor) {
    pp_graph g;
    pp_err err = {0};
    small_mlp(&g);
    /* Refused when added. */
    int w = pp_graph_add_param(&g, "bad.w", 2, (long long[]){8, 7}, &err);
    int in = g.ops[1].out[0];
    ck_assert_int_eq(pp_graph_add_op(&g, PP_OP_LINEAR, "bad", "b2", (int[]){in}, 1, (int[]){w}, 1, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "op 'bad' (linear)"));
    ck_assert_ptr_nonnull(strstr(err.msg, "tensor 'bad.w' [8, 7]"));
    /* Caught by validation after an edit. */
    g.tensors[g.ops[1].out[0]].shape[2] = 31;
    ck_assert_int_eq(pp_graph_validate(&g, &err), -1);
    ck_assert_msg(strstr(err.msg, "op 'gelu'") || strstr(err.msg, "op 'fc1'"), "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "fc1.out"));
    pp_graph_free(&g);
}
END_TEST

START_TEST(test_dangling_tensor) {
    pp_graph g;
    pp_err err = {0};
    small_mlp(&g);
    int ghost = pp_graph_add_tensor(&g, "ghost", PP_TENSOR_ACTIVATION, PP_DTYPE_F32, 3, (long long[]){2, 8, 16}, &err);
    ck_assert_int_ge(pp_graph_add_op(&g, PP_OP_RELU, "r", "b2", (int[]){ghost}, 1, NULL, 0, NULL, &err), 0);
    ck_assert_int_eq(pp_graph_validate(&g, &err), -1);
    ck_assert_str_eq(err.msg, "op 'r' reads tensor 'ghost', which no op produces (dangling tensor)");
    pp_graph_free(&g);
}
END_TEST

START_TEST(test_cycle_and_toposort) {
    pp_graph g;
    pp_err err = {0};
    small_mlp(&g);
    /* Make ln read the output of fc2: ln -> fc1 -> gelu -> fc2 -> ln. */
    g.ops[0].in[0] = g.ops[3].out[0];
    ck_assert_int_eq(pp_graph_validate(&g, &err), -1);
    ck_assert_msg(strstr(err.msg, "cycle") != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "op 'ln' reads 'fc2.out'"));
    ck_assert_ptr_nonnull(strstr(err.msg, "op 'fc1' reads 'ln.out'"));
    ck_assert_int_eq(pp_graph_toposort(&g, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "cycle"));
    pp_graph_free(&g);

    /* Out of order but acyclic: validation says so, toposort repairs it. */
    small_mlp(&g);
    pp_op tmp = g.ops[1];
    g.ops[1] = g.ops[2];
    g.ops[2] = tmp; /* gelu before fc1 */
    ck_assert_int_eq(pp_graph_validate(&g, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not in topological order: op 'gelu' reads tensor 'fc1.out'"));
    ck_assert_int_eq(pp_graph_toposort(&g, &err), 0);
    ck_assert_str_eq(g.ops[1].name, "fc1");
    ck_assert_str_eq(g.ops[2].name, "gelu");
    ck_assert_int_eq(g.tensors[g.ops[1].out[0]].producer, 1);
    ck_assert_int_eq(pp_graph_validate(&g, &err), 0);
    pp_graph_free(&g);
}
END_TEST

START_TEST(test_duplicate_names_and_blocks) {
    pp_graph g;
    pp_err err = {0};
    small_mlp(&g);
    ck_assert_int_eq(pp_graph_add_param(&g, "fc1.w", 1, (long long[]){3}, &err), -1);
    ck_assert_str_eq(err.msg, "tensor 'fc1.w' defined twice");
    /* A block that comes back after another is refused: blocks are contiguous. */
    int in = g.ops[4].out[0];
    ck_assert_int_eq(pp_graph_add_op(&g, PP_OP_RELU, "late", "b0", (int[]){in}, 1, NULL, 0, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "block 'b0' is not contiguous"));
    pp_graph_free(&g);
}
END_TEST

/* ---- lookups and whole-graph queries (linear in the graph's size) ---- */

static void build_preset(const char *name, int n_layer, pp_graph *g) {
    char path[1024];
    pp_model_config cfg;
    pp_err err = {0};
    snprintf(path, sizeof path, "%s/configs/models/%s.json", PP_SOURCE_DIR, name);
    ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    if (n_layer) cfg.n_layer = cfg.n_decoder_layer = n_layer;
    if (cfg.family != PP_FAMILY_T5) cfg.n_decoder_layer = 0;
    ck_assert_msg(pp_zoo_build(&cfg, 2, 16, PP_DTYPE_F32, g, &err) == 0, "%s", err.msg);
}

/* Every name finds its own index, through the index the add functions keep. */
static void check_lookups(const pp_graph *g) {
    for (int t = 0; t < g->n_tensors; t++) ck_assert_int_eq(pp_graph_find_tensor(g, g->tensors[t].name), t);
    for (int i = 0; i < g->n_ops; i++) ck_assert_int_eq(pp_graph_find_op(g, g->ops[i].name), i);
    for (int b = 0; b < g->n_blocks; b++) ck_assert_int_eq(pp_graph_find_block(g, g->blocks[b]), b);
    ck_assert_int_eq(pp_graph_find_tensor(g, "no.such.tensor"), -1);
    ck_assert_int_eq(pp_graph_find_op(g, ""), -1);
    ck_assert_int_eq(pp_graph_find_block(g, "no.such.block"), -1);
}

/* The per-range queries as they were first written (a mark per tensor of
 * the graph), to hold the faster ones to the same answers. */
static long long ref_range_params(const pp_graph *g, int lo, int hi, int bytes) {
    unsigned char *seen = calloc((size_t)g->n_tensors + 1, 1);
    long long total = 0;
    for (int i = lo; i < hi; i++)
        for (int k = 0; k < g->ops[i].n_param; k++) {
            int t = g->ops[i].param[k];
            if (seen[t]) continue;
            seen[t] = 1;
            total += bytes ? pp_tensor_bytes(&g->tensors[t]) : pp_tensor_numel(&g->tensors[t]);
        }
    free(seen);
    return total;
}

static long long ref_range_keep(const pp_graph *g, int lo, int hi, int keep_w) {
    unsigned char *seen = calloc((size_t)g->n_tensors + 1, 1);
    long long total = 0;
    for (int i = lo; i < hi; i++) {
        const pp_op *op = &g->ops[i];
        const pp_keep *list = keep_w ? op->keep_w : op->keep_f;
        int n = keep_w ? op->n_keep_w : op->n_keep_f;
        for (int k = 0; k < n; k++) {
            unsigned char bit = (unsigned char)(list[k].grad ? 2 : 1);
            if (seen[list[k].tensor] & bit) continue;
            seen[list[k].tensor] |= bit;
            total += pp_tensor_bytes(&g->tensors[list[k].tensor]);
        }
        total += keep_w ? op->keep_w_extra : op->keep_f_extra;
    }
    free(seen);
    return total;
}

/* The all-at-once queries agree with the one-at-a-time ones. */
static void check_queries(const pp_graph *g) {
    pp_err err = {0};
    int *lo = malloc(((size_t)g->n_blocks + 1) * sizeof *lo), *hi = malloc(((size_t)g->n_blocks + 1) * sizeof *hi);
    long long *cut = malloc(((size_t)g->n_ops + 1) * sizeof *cut);
    unsigned char *shared = malloc((size_t)g->n_tensors + 1);
    ck_assert(lo && hi && cut && shared);
    pp_graph_block_ranges(g, lo, hi);
    for (int b = 0; b < g->n_blocks; b++) {
        int l, h;
        ck_assert_int_eq(pp_graph_block_range(g, b, &l, &h), 0);
        ck_assert_int_eq(lo[b], l);
        ck_assert_int_eq(hi[b], h);
        ck_assert_int_eq(pp_graph_range_param_count(g, l, h), ref_range_params(g, l, h, 0));
        ck_assert_int_eq(pp_graph_range_param_bytes(g, l, h), ref_range_params(g, l, h, 1));
        ck_assert_int_eq(pp_graph_range_keep_bytes(g, l, h, 0), ref_range_keep(g, l, h, 0));
        ck_assert_int_eq(pp_graph_range_keep_bytes(g, l, h, 1), ref_range_keep(g, l, h, 1));
    }
    ck_assert_int_eq(pp_graph_param_count(g), ref_range_params(g, 0, g->n_ops, 0));
    ck_assert_int_eq(pp_graph_range_keep_bytes(g, 0, g->n_ops, 0), ref_range_keep(g, 0, g->n_ops, 0));
    ck_assert_int_eq(pp_graph_range_keep_bytes(g, 0, g->n_ops, 1), ref_range_keep(g, 0, g->n_ops, 1));
    ck_assert_int_eq(pp_graph_range_keep_bytes(g, 3, 3, 1), 0);
    ck_assert_int_eq(pp_graph_cut_bytes_all(g, cut, &err), 0);
    int crossing = 0;
    for (int c = 0; c <= g->n_ops; c++) {
        ck_assert_int_eq(cut[c], pp_graph_cut_bytes(g, c));
        crossing += cut[c] > 0;
    }
    ck_assert_int_eq(crossing, g->n_ops - 1); /* every cut inside a chain sends something */
    ck_assert_int_eq(pp_graph_shared_params(g, shared, &err), 0);
    for (int t = 0; t < g->n_tensors; t++) ck_assert_int_eq(shared[t], pp_graph_param_is_shared(g, t));
    free(lo);
    free(hi);
    free(cut);
    free(shared);
}

START_TEST(test_lookups_and_queries_match) {
    pp_graph g;
    small_mlp(&g);
    check_lookups(&g);
    check_queries(&g);
    pp_graph_free(&g);
    const char *names[] = {"gpt2-tiny", "llama-tiny", "bert-tiny", "t5-tiny"};
    for (int i = 0; i < 4; i++) {
        build_preset(names[i], 0, &g);
        check_lookups(&g);
        check_queries(&g);
        int shared = 0;
        for (int t = 0; t < g.n_tensors; t++) shared += pp_graph_param_is_shared(&g, t);
        ck_assert_int_eq(shared, i == 1 ? 0 : i == 3 ? 3 : 1); /* llama unties; T5 shares 2 position tables */
        pp_graph_free(&g);
    }
}
END_TEST

START_TEST(test_lookups_after_reorder_and_by_hand) {
    pp_graph g;
    pp_err err = {0};
    small_mlp(&g);
    /* Ops moved in place: names still find where they are now. */
    pp_op tmp = g.ops[1];
    g.ops[1] = g.ops[2];
    g.ops[2] = tmp;
    ck_assert_int_eq(pp_graph_find_op(&g, "fc1"), 2);
    ck_assert_int_eq(pp_graph_find_op(&g, "gelu"), 1);
    ck_assert_int_eq(pp_graph_toposort(&g, &err), 0);
    check_lookups(&g);
    /* An index that does not cover the arrays (filled by other means) is
     * not trusted: lookups search, and adding rebuilds it first. */
    free(g.tensor_index.slots);
    memset(&g.tensor_index, 0, sizeof g.tensor_index);
    ck_assert_int_eq(pp_graph_find_tensor(&g, "fc1.w"), 3);
    ck_assert_int_eq(pp_graph_add_param(&g, "fc1.w", 1, (long long[]){3}, &err), -1);
    ck_assert_str_eq(err.msg, "tensor 'fc1.w' defined twice");
    ck_assert_int_eq(pp_graph_add_param(&g, "fc3.w", 1, (long long[]){3}, &err), g.n_tensors - 1);
    check_lookups(&g);
    /* Many names: the table grows and keeps them all. */
    for (int i = 0; i < 5000; i++) {
        char name[32];
        snprintf(name, sizeof name, "extra.%d", i);
        ck_assert_int_ge(pp_graph_add_param(&g, name, 1, (long long[]){1}, &err), 0);
    }
    check_lookups(&g);
    pp_graph_free(&g);
}
END_TEST

START_TEST(test_block_contiguity_in_validate) {
    pp_graph g;
    pp_err err = {0};
    small_mlp(&g); /* ln, fc1 in b0; gelu, fc2, add in b1 */
    g.ops[4].block = 0;
    ck_assert_int_eq(pp_graph_validate(&g, &err), -1);
    ck_assert_str_eq(err.msg, "block 'b0' is not contiguous: op 'add' follows op 'fc2' of block 'b1'");
    g.ops[4].block = 1;
    g.ops[2].block = 0; /* b0 b0 b0 b1 b1: still contiguous */
    ck_assert_msg(pp_graph_validate(&g, &err) == 0, "%s", err.msg);
    pp_graph_free(&g);
}
END_TEST

/* A deep model (the limit is 10,000 layers; the integration test
 * model_scale.sh builds that one under a time bound) has the ops, blocks
 * and names the closed form says, found by name in constant time. */
START_TEST(test_deep_model) {
    pp_graph g;
    int n = 3000;
    build_preset("gpt2-tiny", n, &g);
    ck_assert_int_eq(g.n_ops, 10 * n + 3);
    ck_assert_int_eq(g.n_blocks, n + 2);
    ck_assert_int_eq(pp_graph_find_op(&g, "h.2999.mlp.c_fc"), 1 + 10 * 2999 + 6);
    ck_assert_int_eq(pp_graph_find_block(&g, "h.2999"), n);
    ck_assert_int_ge(pp_graph_find_tensor(&g, "h.2999.mlp.c_proj.bias"), 0);
    check_lookups(&g);
    pp_err err = {0};
    long long *cut = malloc(((size_t)g.n_ops + 1) * sizeof *cut);
    int *lo = malloc((size_t)g.n_blocks * sizeof *lo), *hi = malloc((size_t)g.n_blocks * sizeof *hi);
    ck_assert(cut && lo && hi);
    ck_assert_int_eq(pp_graph_cut_bytes_all(&g, cut, &err), 0);
    pp_graph_block_ranges(&g, lo, hi);
    for (int b = 0; b < g.n_blocks; b += 97) {
        int l, h;
        ck_assert_int_eq(pp_graph_block_range(&g, b, &l, &h), 0);
        ck_assert(lo[b] == l && hi[b] == h);
        ck_assert_int_eq(cut[l], pp_graph_cut_bytes(&g, l));
        ck_assert_int_eq(cut[h], pp_graph_cut_bytes(&g, h));
    }
    free(cut);
    free(lo);
    free(hi);
    pp_graph_free(&g);
}
END_TEST

/* A model's ops in reverse order come back in their own order (GPT-2's
 * chain has only one topological order), and every name finds its op. */
START_TEST(test_toposort_reversed_model) {
    pp_graph g;
    pp_err err = {0};
    build_preset("gpt2-tiny", 300, &g);
    int n = g.n_ops;
    char **names = malloc((size_t)n * sizeof *names);
    ck_assert_ptr_nonnull(names);
    for (int i = 0; i < n; i++) names[i] = g.ops[i].name;
    for (int i = 0; i < n / 2; i++) {
        pp_op t = g.ops[i];
        g.ops[i] = g.ops[n - 1 - i];
        g.ops[n - 1 - i] = t;
    }
    ck_assert_int_eq(pp_graph_validate(&g, &err), -1);
    ck_assert_int_eq(pp_graph_find_op(&g, names[0]), n - 1);
    ck_assert_msg(pp_graph_toposort(&g, &err) == 0, "%s", err.msg);
    for (int i = 0; i < n; i++) ck_assert_ptr_eq(g.ops[i].name, names[i]);
    ck_assert_msg(pp_graph_validate(&g, &err) == 0, "%s", err.msg);
    check_lookups(&g);
    free(names);
    pp_graph_free(&g);
}
END_TEST

/* Every op kind has its entry in the table of kinds (a distinct name, so an
 * entry left out shows as "?"), and a value outside the enum is refused by
 * inference with a message naming the op, not read out of the table. */
START_TEST(test_every_op_kind_in_table) {
    for (int k = 0; k < PP_OP__COUNT; k++) {
        const char *name = pp_op_kind_name((pp_op_kind)k);
        ck_assert_msg(strcmp(name, "?") != 0, "op kind %d has no entry", k);
        for (int j = 0; j < k; j++) ck_assert_str_ne(name, pp_op_kind_name((pp_op_kind)j));
    }
    ck_assert_str_eq(pp_op_kind_name(PP_OP__COUNT), "?");
    pp_graph g;
    pp_err err = {0};
    small_mlp(&g);
    pp_op op = g.ops[2]; /* gelu */
    op.kind = PP_OP__COUNT;
    int ndim;
    long long shape[PP_MAX_DIMS];
    pp_dtype dt;
    ck_assert_int_eq(pp_op_infer(&g, &op, &ndim, shape, &dt, &err), -1);
    ck_assert_msg(strstr(err.msg, "op 'gelu'") && strstr(err.msg, "unknown op kind"), "%s", err.msg);
    /* The same op as relu: same shape, relu's FLOPs (1 per element each way). */
    op.kind = PP_OP_RELU;
    ck_assert_int_eq(pp_op_infer(&g, &op, &ndim, shape, &dt, &err), 0);
    ck_assert_int_eq(ndim, 3);
    ck_assert_int_eq(shape[2], 32);
    pp_op_update_cost(&g, &op);
    ck_assert(op.cost.flops[PP_PASS_F] == 2.0 * 8 * 32);
    ck_assert(op.cost.flops[PP_PASS_I] == 2.0 * 8 * 32);
    ck_assert(op.cost.bytes[PP_PASS_W] == 0);
    pp_graph_free(&g);
}
END_TEST

/* Model identity is the SHA-256 of the config, whatever the graph code
 * does: the hashes every preset had before the graph was indexed. */
START_TEST(test_preset_model_hashes_unchanged) {
    static const struct {
        const char *name, *hash;
    } want[] = {
        {"bert-base", "0e2651adefa3f3c477bda0c6969881bd76ede47047c1c851a2190f7ecbdb2b7e"},
        {"bert-large", "3ecdbf5d6bfb5669322911a8898aaa6cefa027477050f7056747011e72a70474"},
        {"bert-tiny", "1cfacf37e3f794630de008afa1dd8b95a835f4bdf77b83abc0775291dbeb5bb6"},
        {"gpt2-124m", "af983f0b66ce3b280fbf154aa7047c78ba310f7f0da2f186312110e61259b15c"},
        {"gpt2-1558m", "cd2950c9356c5c8b967a0af46a7b793629b071df1528ea5c29e1f938f3f9f6c4"},
        {"gpt2-355m", "2ca9c4893aa65caab3a121f2493a5457681ced20c0e90d2594f3540b42cce0c6"},
        {"gpt2-774m", "bd889ae7686c629e365c578452a838d009451862100aae81ea903a78f13653e8"},
        {"gpt2-tiny", "c63757ef04aaca60c80dca29bd9390e0253331cbf45b97603cc3511336bbe900"},
        {"llama-tiny", "33b36ede512484c9cbbed29e9f35d5ece711ef72cb406331756aae7803ab9504"},
        {"llama2-13b", "f7cf501bbbcc407e821e19dd3e046f76833ab4147556782f94c0f6567af76636"},
        {"llama2-70b", "7cab10c2ad17211edd242e6166ab3cd2f8aae3b9ef2dea0567ed6c3805ebe590"},
        {"llama2-7b", "d6aa756b7c560345ba9e7d0641319f1078e5a8049e4dce002b5c520a1006b510"},
        {"t5-base", "eb2199db094a0f4c8ff2ed60c3e4bd3598b4cbcd9218fddc93677878f5e7e544"},
        {"t5-large", "8d18318d4a45a5b9b12f13ac005b35f4d631d9ef1e5a634bc1b8b599ca947235"},
        {"t5-tiny", "39d7e77892e7dc418b0a2ee1009a1bfed7aefe7ddc3fc368493f4890a28ae7cc"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[1024], hex[65];
        pp_model_config cfg;
        pp_err err = {0};
        snprintf(path, sizeof path, "%s/configs/models/%s.json", PP_SOURCE_DIR, want[i].name);
        ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(pp_model_config_hash(&cfg, hex, &err), 0);
        ck_assert_msg(!strcmp(hex, want[i].hash), "%s: hash %s, was %s", want[i].name, hex, want[i].hash);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_add_test(tc, test_shapes_and_costs);
    tcase_add_test(tc, test_keep_union);
    tcase_add_test(tc, test_shape_mismatch_names_op_and_tensor);
    tcase_add_test(tc, test_dangling_tensor);
    tcase_add_test(tc, test_cycle_and_toposort);
    tcase_add_test(tc, test_duplicate_names_and_blocks);
    tcase_add_test(tc, test_lookups_and_queries_match);
    tcase_add_test(tc, test_lookups_after_reorder_and_by_hand);
    tcase_add_test(tc, test_block_contiguity_in_validate);
    tcase_add_test(tc, test_deep_model);
    tcase_add_test(tc, test_toposort_reversed_model);
    tcase_add_test(tc, test_preset_model_hashes_unchanged);
    tcase_add_test(tc, test_every_op_kind_in_table);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
