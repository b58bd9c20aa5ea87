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

int main(void) {
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_add_test(tc, test_shapes_and_costs);
    tcase_add_test(tc, test_keep_union);
    tcase_add_test(tc, test_shape_mismatch_names_op_and_tensor);
    tcase_add_test(tc, test_dangling_tensor);
    tcase_add_test(tc, test_cycle_and_toposort);
    tcase_add_test(tc, test_duplicate_names_and_blocks);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
