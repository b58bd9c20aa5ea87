/*
 * test_optim.c -- AdamW over a stage, gradient clipping, the learning-rate
 * schedule, and the backend's counted memory (the block cache hands back
 * zeroed memory) and events.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "tests/pp_test.h"

#include "core/pp_graph.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_engine.h"
#include "kernels/pp_optim.h"

START_TEST(test_schedule_and_clip) {
    pp_adamw_hyper h = pp_adamw_defaults();
    h.lr = 1e-3;
    h.min_lr = 1e-4;
    h.warmup = 10;
    ck_assert(fabs(pp_optim_lr(&h, 0, 100) - 1e-4) < 1e-15);
    ck_assert(fabs(pp_optim_lr(&h, 9, 100) - 1e-3) < 1e-15);
    ck_assert(fabs(pp_optim_lr(&h, 10, 100) - 1e-3) < 1e-15);
    ck_assert(fabs(pp_optim_lr(&h, 99, 100) - 1e-4) < 1e-15);
    double mid = pp_optim_lr(&h, 10 + 89 / 2, 100);
    ck_assert(mid > 5e-4 && mid < 6.1e-4);
    h.clip = 1.0;
    ck_assert(pp_optim_clip_scale(&h, 0.5) == 1.0f);
    ck_assert(fabsf(pp_optim_clip_scale(&h, 4.0) - 0.25f) < 1e-7f);
    h.clip = 0;
    ck_assert(pp_optim_clip_scale(&h, 4.0) == 1.0f);
}
END_TEST

/* One linear layer: AdamW decays its weight (2-D) but not its bias. */
START_TEST(test_step_matches_reference) {
    pp_err err = {0};
    pp_graph g;
    pp_graph_init(&g, PP_DTYPE_F32);
    int x = pp_graph_add_tensor(&g, "x", PP_TENSOR_INPUT, PP_DTYPE_F32, 2, (long long[]){2, 3}, &err);
    int w = pp_graph_add_param(&g, "fc.weight", 2, (long long[]){2, 3}, &err);
    int b = pp_graph_add_param(&g, "fc.bias", 1, (long long[]){2}, &err);
    ck_assert_int_ge(pp_graph_add_op(&g, PP_OP_LINEAR, "fc", "b0", (int[]){x}, 1, (int[]){w, b}, 2, NULL, &err), 0);
    pp_backend *be;
    pp_engine *e;
    ck_assert_int_eq(pp_backend_open(PP_BACKEND_CPU, 1, &be, &err), 0);
    ck_assert_int_eq(pp_engine_create(&g, 0, 1, be, &e, &err), 0);
    float *pw = pp_engine_param(e, w), *pb = pp_engine_param(e, b), *gw = pp_engine_grad(e, w), *gb = pp_engine_grad(e, b);
    for (int i = 0; i < 6; i++) {
        pw[i] = 0.1f * (float)(i + 1);
        gw[i] = (i % 2 ? -1.0f : 2.0f);
    }
    pb[0] = 0.5f;
    pb[1] = -0.5f;
    gb[0] = 3.0f;
    gb[1] = 4.0f;
    pp_adamw_hyper h = pp_adamw_defaults();
    h.weight_decay = 0.1;
    pp_optim o;
    ck_assert_int_eq(pp_optim_init(&o, be, e, &err), 0);
    double norm = sqrt(pp_optim_sumsq(be, e));
    ck_assert(fabs(norm - sqrt(3 * 4.0 + 3 * 1.0 + 9 + 16)) < 1e-9);
    float scale = pp_optim_clip_scale(&h, norm);
    pp_optim_step(&o, be, e, &g, &h, 1e-2, scale);
    /* Step 1 of Adam: m/(1-b1) = g', v/(1-b2) = g'^2, so the update is
     * lr * sign(g') (to eps), plus decoupled decay lr * wd * p on the weight. */
    for (int i = 0; i < 6; i++) {
        double p0 = 0.1 * (i + 1), gs = (i % 2 ? -1.0 : 2.0) * scale;
        double want = p0 * (1 - 1e-2 * 0.1) - 1e-2 * gs / (fabs(gs) + 1e-8);
        ck_assert_msg(fabs(pw[i] - want) < 1e-6, "w[%d] %g want %g", i, pw[i], want);
    }
    ck_assert(fabs(pb[0] - (0.5 - 1e-2)) < 1e-6);  /* no decay on the bias */
    ck_assert(fabs(pb[1] - (-0.5 - 1e-2)) < 1e-6);
    ck_assert_int_eq(o.step, 1);
    pp_optim_free(&o, be);
    pp_engine_free(e);
    ck_assert_int_eq(be->bytes_in_use, 0);
    pp_backend_close(be);
    pp_graph_free(&g);
}
END_TEST

START_TEST(test_backend_memory_and_events) {
    pp_err err = {0};
    pp_backend *be;
    ck_assert_int_eq(pp_backend_open(PP_BACKEND_CPU, 1, &be, &err), 0);
    float *a = pp_backend_alloc(be, 4096, &err);
    ck_assert_int_eq(be->bytes_in_use, 4096);
    for (int i = 0; i < 1024; i++) a[i] = 1.0f;
    pp_backend_free(be, a, 4096);
    ck_assert_int_eq(be->bytes_in_use, 0);
    float *b = pp_backend_alloc(be, 4096, &err); /* from the cache: zeroed again */
    for (int i = 0; i < 1024; i++) ck_assert(b[i] == 0.0f);
    ck_assert_int_eq(be->peak_bytes, 4096);
    pp_backend_free(be, b, 4096);
    pp_backend_trim(be);
    pp_event e0, e1;
    pp_backend_event_record(be, &e0, 0);
    pp_backend_event_record(be, &e1, 0);
    ck_assert(pp_backend_event_elapsed(be, &e0, &e1) >= 0);
    pp_backend *cuda; /* refused without a GPU (or a CUDA build); tests/kernels/test_cuda_backend.c says more */
    if (pp_backend_open(PP_BACKEND_CUDA, 1, &cuda, &err) == 0) pp_backend_close(cuda);
    else ck_assert_int_eq(err.code, PP_ERR_UNSUPPORTED);
    pp_backend_close(be);
}
END_TEST

int main(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, test_schedule_and_clip);
    tcase_add_test(tc, test_step_matches_reference);
    tcase_add_test(tc, test_backend_memory_and_events);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
