/*
 * test_cuda_check.c -- the one set of GPU call checks (core/pp_cuda_check.h)
 * against the real CUDA runtime, cuBLAS, NCCL and CUPTI: calls that fail on
 * every machine, GPU or not (an invalid device ordinal, a NULL handle or
 * communicator, an invalid activity kind) set pp_err to "file:line: call
 * failed: the library's message", run the function's `fail` label (which
 * releases what it took) and skip the rest; calls that succeed everywhere
 * (version queries) fall through, each call evaluated once. Exits 77 (a
 * ctest skip) in a build without CUDA.
 */
#include "tests/pp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef PP_HAVE_CUDA

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "core/pp_cuda_check.h"
#ifdef PP_HAVE_NCCL
#include <nccl.h>
#endif
#ifdef PP_HAVE_CUPTI
#include <cupti.h>
#endif

/* What a checked function did: how often its call ran, whether it went past
 * the check, whether its fail label released its buffer. */
typedef struct trace {
    int calls, after, released;
} trace;

static cudaError_t set_device(trace *t, int dev) {
    t->calls++;
    return cudaSetDevice(dev);
}

static cudaError_t runtime_version(trace *t) {
    int v = 0;
    t->calls++;
    return cudaRuntimeGetVersion(&v);
}

/* Takes a host buffer, checks `call`, and releases the buffer at its one
 * cleanup label on failure (or at the end on success). */
static int cuda_step(trace *t, int fail_it, pp_err *err) {
    char *buf = malloc(64);
    if (!buf) return pp_err_set(err, PP_ERR_NOMEM, "no memory");
    if (fail_it) PP_CUDA_CHECK(err, set_device(t, -1));
    else PP_CUDA_CHECK(err, runtime_version(t));
    t->after = 1;
    free(buf);
    return 0;
fail:
    free(buf);
    t->released = 1;
    return -1;
}

START_TEST(test_cuda_failure_goes_to_fail) {
    trace t = {0};
    pp_err err = {0};
    ck_assert_int_eq(cuda_step(&t, 1, &err), -1);
    ck_assert_int_eq(t.calls, 1);
    ck_assert_int_eq(t.after, 0);
    ck_assert_int_eq(t.released, 1);
    ck_assert_int_eq(err.code, PP_ERR_IO);
    /* the library's own words for the error the call gave */
    cudaError_t e = cudaSetDevice(-1);
    ck_assert_int_ne(e, cudaSuccess);
    char want[512];
    snprintf(want, sizeof want, "set_device(t, -1) failed: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
    ck_assert_msg(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
    ck_assert_msg(strstr(err.msg, "test_cuda_check.c:"), "no file in '%s'", err.msg);
}
END_TEST

START_TEST(test_cuda_success_falls_through) {
    trace t = {0};
    pp_err err = {0};
    ck_assert_int_eq(cuda_step(&t, 0, &err), 0);
    ck_assert_int_eq(t.calls, 1);
    ck_assert_int_eq(t.after, 1);
    ck_assert_int_eq(t.released, 0);
}
END_TEST

static int cublas_step(trace *t, int fail_it, pp_err *err) {
    int v = 0;
    if (fail_it) PP_CUBLAS_CHECK(err, cublasSetStream(NULL, NULL)); /* no handle */
    else PP_CUBLAS_CHECK(err, cublasGetProperty(MAJOR_VERSION, &v));
    t->after = 1;
    return 0;
fail:
    t->released = 1;
    return -1;
}

START_TEST(test_cublas_check) {
    trace t = {0};
    pp_err err = {0};
    ck_assert_int_eq(cublas_step(&t, 1, &err), -1);
    ck_assert_int_eq(t.after, 0);
    ck_assert_int_eq(t.released, 1);
    char want[256];
    snprintf(want, sizeof want, "cublasSetStream(NULL, NULL) failed: %s",
             cublasGetStatusString(cublasSetStream(NULL, NULL)));
    ck_assert_msg(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
    trace u = {0};
    ck_assert_int_eq(cublas_step(&u, 0, &err), 0);
    ck_assert_int_eq(u.after, 1);
}
END_TEST

#ifdef PP_HAVE_NCCL
static int nccl_step(trace *t, int fail_it, pp_err *err) {
    int v = 0;
    if (fail_it) PP_NCCL_CHECK(err, NULL, ncclCommCount(NULL, &v)); /* no communicator */
    else PP_NCCL_CHECK(err, NULL, ncclGetVersion(&v));
    t->after = 1;
    return 0;
fail:
    t->released = 1;
    return -1;
}

START_TEST(test_nccl_check) {
    trace t = {0};
    pp_err err = {0};
    ck_assert_int_eq(nccl_step(&t, 1, &err), -1);
    ck_assert_int_eq(t.after, 0);
    ck_assert_int_eq(t.released, 1);
    int v;
    char want[256];
    snprintf(want, sizeof want, "ncclCommCount(NULL, &v) failed: %s", ncclGetErrorString(ncclCommCount(NULL, &v)));
    ck_assert_msg(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
    /* no communicator: nothing appended after NCCL's message */
    ck_assert_msg(!strcmp(strstr(err.msg, want), want), "'%s' has more than '%s'", err.msg, want);
    trace u = {0};
    ck_assert_int_eq(nccl_step(&u, 0, &err), 0);
    ck_assert_int_eq(u.after, 1);
}
END_TEST
#endif

#ifdef PP_HAVE_CUPTI
static int cupti_step(trace *t, int fail_it, pp_err *err) {
    uint32_t v = 0;
    if (fail_it) PP_CUPTI_CHECK(err, cuptiActivityEnable(CUPTI_ACTIVITY_KIND_INVALID));
    else PP_CUPTI_CHECK(err, cuptiGetVersion(&v));
    t->after = 1;
    return 0;
fail:
    t->released = 1;
    return -1;
}

START_TEST(test_cupti_check) {
    trace t = {0};
    pp_err err = {0};
    ck_assert_int_eq(cupti_step(&t, 1, &err), -1);
    ck_assert_int_eq(t.after, 0);
    ck_assert_int_eq(t.released, 1);
    ck_assert_msg(strstr(err.msg, "cuptiActivityEnable(CUPTI_ACTIVITY_KIND_INVALID) failed: "), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "CUPTI_ERROR_"), "no CUPTI message in '%s'", err.msg);
    trace u = {0};
    ck_assert_int_eq(cupti_step(&u, 0, &err), 0);
    ck_assert_int_eq(u.after, 1);
}
END_TEST
#endif

int main(void) {
    Suite *s = suite_create("cuda_check");
    TCase *tc = tcase_create("cuda_check");
    tcase_add_test(tc, test_cuda_failure_goes_to_fail);
    tcase_add_test(tc, test_cuda_success_falls_through);
    tcase_add_test(tc, test_cublas_check);
#ifdef PP_HAVE_NCCL
    tcase_add_test(tc, test_nccl_check);
#endif
#ifdef PP_HAVE_CUPTI
    tcase_add_test(tc, test_cupti_check);
#endif
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}

#else

int main(void) {
    printf("SKIP: no CUDA in this build: the GPU call checks are not used\n");
    return 77;
}

#endif
