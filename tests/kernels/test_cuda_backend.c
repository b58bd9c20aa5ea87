/*
 * test_cuda_backend.c -- the parts of the CUDA work that run on any
 * machine: opening the CUDA backend without a GPU (or in a build without
 * CUDA) fails cleanly with a message and no crash; the backend entry points
 * the engine and executor use for device memory (upload, download, add,
 * host staging buffers) behave on the CPU backend exactly as memcpy and a
 * loop; the op hook the GPU profiler uses sees every op pass; the GPU
 * profiler and NCCL transport refuse cleanly where they cannot run. Where a
 * GPU is present the CUDA backend's memory round trip and a whole-model
 * forward against the CPU's loss are checked too (tests/gpu/ has the rest).
 */
#include "comm/pp_nccl.h"
#include "core/pp_zoo.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_engine.h"
#include "tests/pp_test.h"
#include "profiler/pp_gpuprof.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Loss of one forward of gpt2-tiny (B 2, T 16) with fixed weights and data on be. */
static float tiny_forward(pp_backend *be, int *hook_calls) {
    pp_err err = {0};
    pp_model_config cfg;
    pp_graph g;
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_zoo_build(&cfg, 2, 16, PP_DTYPE_F32, &g, &err), 0);
    pp_engine *e;
    ck_assert_msg(pp_engine_create(&g, 0, g.n_ops, be, &e, &err) == 0, "%s", err.msg);
    for (int k = 0; k < pp_engine_n_params(e); k++) {
        int t = pp_engine_param_tensor(e, k);
        long long n = pp_tensor_numel(&g.tensors[t]);
        float *h = malloc((size_t)n * sizeof *h);
        for (long long i = 0; i < n; i++) h[i] = 0.02f * (float)((i * 7919 + t * 31) % 101 - 50) / 50.0f;
        pp_backend_upload(be, pp_engine_param(e, t), h, (size_t)n * sizeof *h);
        free(h);
    }
    ck_assert_int_eq(pp_engine_begin(e, 0, &err), 0);
    for (int k = 0; k < pp_engine_n_inputs(e); k++) {
        int t = pp_engine_input_tensor(e, k);
        long long n = pp_tensor_numel(&g.tensors[t]);
        int32_t *h = malloc((size_t)n * sizeof *h);
        for (long long i = 0; i < n; i++) h[i] = (int32_t)((i * 13 + 5) % cfg.vocab_size);
        void *dst = pp_engine_buffer(e, 0, t, &err);
        ck_assert_msg(dst != NULL, "%s", err.msg);
        pp_backend_upload(be, dst, h, (size_t)n * sizeof *h);
        free(h);
    }
    ck_assert_msg(pp_engine_forward(e, 0, &err) == 0, "%s", err.msg);
    float loss = pp_engine_loss(e, 0);
    if (hook_calls) ck_assert_int_eq(*hook_calls, 2 * g.n_ops);
    pp_engine_free(e);
    pp_graph_free(&g);
    return loss;
}

START_TEST(test_cuda_open_without_gpu_or_with_one) {
    pp_backend *be = (pp_backend *)1;
    pp_err err = {0};
    if (pp_backend_open(PP_BACKEND_CUDA, 1, &be, &err) != 0) {
        ck_assert_ptr_null(be);
        ck_assert_int_eq(err.code, PP_ERR_UNSUPPORTED);
#ifdef PP_HAVE_CUDA
        ck_assert_msg(strncmp(err.msg, "no CUDA device: cudaGetDeviceCount says ", 40) == 0, "message: %s", err.msg);
#else
        ck_assert_msg(strstr(err.msg, "not part of this build") != NULL, "message: %s", err.msg);
#endif
        /* a second try fails the same way: nothing sticky, nothing leaked */
        ck_assert_int_eq(pp_backend_open(PP_BACKEND_CUDA, 1, &be, &err), -1);
        return;
    }
    /* a GPU: memory round trip, add, describe, and the loss of the CPU within bf16 */
    ck_assert_int_eq(pp_backend_is_host(be), 0);
    float h[1000], back[1000];
    for (int i = 0; i < 1000; i++) h[i] = (float)i;
    float *d = pp_backend_alloc(be, sizeof h, &err), *d2 = pp_backend_alloc(be, sizeof h, &err);
    ck_assert_ptr_nonnull(d2);
    pp_backend_upload(be, d, h, sizeof h);
    pp_backend_copy(be, d2, d, sizeof h);
    pp_backend_add(be, d2, d, 1000);
    pp_backend_download(be, back, d2, sizeof back);
    for (int i = 0; i < 1000; i++) ck_assert_float_eq(back[i], 2.0f * i);
    ck_assert(fabs(pp_backend_sumsq(be, d, 1000) - 332833500.0) < 1e-3);
    pp_backend_free(be, d, sizeof h);
    pp_backend_free(be, d2, sizeof h);
    char desc[1024];
    pp_backend_describe(be, desc, sizeof desc);
    ck_assert_msg(strstr(desc, "\"kind\": \"cuda\"") != NULL, "%s", desc);
    pp_backend *cpu;
    ck_assert_int_eq(pp_backend_open(PP_BACKEND_CPU, 1, &cpu, &err), 0);
    float lg = tiny_forward(be, NULL), lc = tiny_forward(cpu, NULL);
    ck_assert_msg(fabsf(lg - lc) <= 1e-2f * fabsf(lc), "loss cuda %f cpu %f", lg, lc);
    pp_backend_close(cpu);
    pp_backend_close(be);
}
END_TEST

START_TEST(test_cpu_host_entry_points) {
    pp_backend *be;
    pp_err err = {0};
    ck_assert_int_eq(pp_backend_open(PP_BACKEND_CPU, 1, &be, &err), 0);
    ck_assert_int_eq(pp_backend_is_host(be), 1);
    float *a = pp_backend_alloc(be, 64 * sizeof(float), &err);
    float *h = pp_backend_alloc_host(be, 64 * sizeof(float), &err);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(be->bytes_in_use, 128 * (long long)sizeof(float)); /* staging is counted on the CPU */
    float src[64], dst[64];
    for (int i = 0; i < 64; i++) src[i] = (float)i;
    pp_backend_upload(be, a, src, sizeof src);
    ck_assert_int_eq(memcmp(a, src, sizeof src), 0);
    pp_backend_add(be, a, src, 64);
    pp_backend_download(be, dst, a, sizeof dst);
    for (int i = 0; i < 64; i++) ck_assert_float_eq(dst[i], 2.0f * i);
    pp_backend_free_host(be, h, 64 * sizeof(float));
    pp_backend_free(be, a, 64 * sizeof(float));
    ck_assert_int_eq(be->bytes_in_use, 0);
    pp_backend_close(be);
}
END_TEST

static int g_calls, g_open;
static void hook(void *ctx, const pp_graph *g, const pp_op *op, pp_pass pass, int end) {
    (void)g;
    (void)op;
    ck_assert_ptr_eq(ctx, &g_calls);
    ck_assert_int_eq(pass, PP_PASS_F);
    ck_assert_int_eq(end, g_open); /* begin and end alternate */
    g_open = !end;
    g_calls++;
}

START_TEST(test_op_hook_sees_every_pass) {
    pp_backend *be;
    pp_err err = {0};
    ck_assert_int_eq(pp_backend_open(PP_BACKEND_CPU, 1, &be, &err), 0);
    g_calls = g_open = 0;
    pp_backend_set_op_hook(be, hook, &g_calls);
    float l1 = tiny_forward(be, &g_calls);
    pp_backend_set_op_hook(be, NULL, NULL);
    float l2 = tiny_forward(be, NULL);
    ck_assert_float_eq(l1, l2); /* the hook changes nothing */
    ck_assert(isfinite(l1) && l1 > 0);
    pp_backend_close(be);
}
END_TEST

START_TEST(test_gpu_parts_refuse_cleanly) {
    pp_backend *be;
    pp_err err = {0};
    ck_assert_int_eq(pp_backend_open(PP_BACKEND_CPU, 1, &be, &err), 0);
    pp_graph g;
    pp_graph_init(&g, PP_DTYPE_F32);
    pp_gpuprof *p = (pp_gpuprof *)1;
    ck_assert_int_eq(pp_gpuprof_start(be, &g, &p, &err), -1);
    ck_assert_ptr_null(p);
    ck_assert(err.code == PP_ERR_INVALID || err.code == PP_ERR_UNSUPPORTED);
#ifdef PP_HAVE_CUPTI
    ck_assert_int_eq(pp_gpuprof_available(), 1);
#else
    ck_assert_int_eq(pp_gpuprof_available(), 0);
#endif
#ifdef PP_HAVE_NCCL
    ck_assert_int_eq(pp_nccl_available(), 1);
#else
    ck_assert_int_eq(pp_nccl_available(), 0);
    pp_nccl *nc = (pp_nccl *)1;
    ck_assert_int_eq(pp_nccl_init(NULL, 0, &nc, &err), -1);
    ck_assert_ptr_null(nc);
    ck_assert_int_eq(err.code, PP_ERR_UNSUPPORTED);
#endif
    pp_graph_free(&g);
    pp_backend_close(be);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cuda_backend");
    TCase *tc = tcase_create("cuda_backend");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cuda_open_without_gpu_or_with_one);
    tcase_add_test(tc, test_cpu_host_entry_points);
    tcase_add_test(tc, test_op_hook_sees_every_pass);
    tcase_add_test(tc, test_gpu_parts_refuse_cleanly);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
