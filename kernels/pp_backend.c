/*
 * pp_backend.c -- the backend-independent half of pp_backend.h: opening a
 * backend by kind and the counted memory wrappers.
 */
#include "kernels/pp_backend.h"

#include <time.h>

int pp_backend_open(pp_backend_kind kind, int threads, pp_backend **out, pp_err *err) {
    *out = NULL;
    if (threads < 1) threads = 1;
    switch (kind) {
    case PP_BACKEND_CPU: return pp_cpu_backend_open(threads, out, err);
    case PP_BACKEND_CUDA:
#ifdef PP_HAVE_CUDA
        return pp_cuda_backend_open(threads, out, err);
#else
        return pp_err_set(err, PP_ERR_UNSUPPORTED,
                          "the CUDA backend is not part of this build (configure with -DPIPPY_CUDA=ON)");
#endif
    }
    return pp_err_set(err, PP_ERR_INVALID, "unknown backend kind %d", (int)kind);
}

void pp_backend_close(pp_backend *be) {
    if (be) be->vt->close(be);
}

static void *alloc_counted(pp_backend *be, size_t bytes, int zero, pp_err *err) {
    void *p = be->vt->alloc(be, bytes, zero);
    if (!p) {
        pp_err_set(err, PP_ERR_NOMEM, "%s backend: out of memory allocating %zu bytes (%lld in use)", be->vt->name,
                   bytes, be->bytes_in_use);
        return NULL;
    }
    be->bytes_in_use += (long long)bytes;
    if (be->bytes_in_use > be->peak_bytes) be->peak_bytes = be->bytes_in_use;
    return p;
}

void *pp_backend_alloc(pp_backend *be, size_t bytes, pp_err *err) { return alloc_counted(be, bytes, 1, err); }
void *pp_backend_alloc_uninit(pp_backend *be, size_t bytes, pp_err *err) { return alloc_counted(be, bytes, 0, err); }

void pp_backend_free(pp_backend *be, void *p, size_t bytes) {
    if (!p) return;
    be->vt->free(be, p, bytes);
    be->bytes_in_use -= (long long)bytes;
}

void pp_backend_zero(pp_backend *be, void *p, size_t bytes) { be->vt->zero(be, p, bytes); }
void pp_backend_trim(pp_backend *be) { be->vt->trim(be); }
void pp_backend_copy(pp_backend *be, void *dst, const void *src, size_t bytes) { be->vt->copy(be, dst, src, bytes); }
void pp_backend_sync(pp_backend *be) { be->vt->sync(be); }

int pp_backend_is_host(const pp_backend *be) { return be->vt->upload == NULL; }

void pp_backend_upload(pp_backend *be, void *dst, const void *host_src, size_t bytes) {
    if (be->vt->upload) be->vt->upload(be, dst, host_src, bytes);
    else be->vt->copy(be, dst, host_src, bytes);
}

void pp_backend_download(pp_backend *be, void *host_dst, const void *src, size_t bytes) {
    if (be->vt->download) be->vt->download(be, host_dst, src, bytes);
    else be->vt->copy(be, host_dst, src, bytes);
}

void pp_backend_add(pp_backend *be, float *dst, const float *src, long long n) {
    if (be->vt->add) {
        be->vt->add(be, dst, src, n);
        return;
    }
    for (long long i = 0; i < n; i++) dst[i] += src[i];
}

void *pp_backend_alloc_host(pp_backend *be, size_t bytes, pp_err *err) {
    if (!be->vt->alloc_host) return alloc_counted(be, bytes, 0, err);
    void *p = be->vt->alloc_host(be, bytes);
    if (!p) pp_err_set(err, PP_ERR_NOMEM, "%s backend: out of host memory allocating %zu bytes", be->vt->name, bytes);
    return p;
}

void pp_backend_free_host(pp_backend *be, void *p, size_t bytes) {
    if (!p) return;
    if (!be->vt->free_host) {
        pp_backend_free(be, p, bytes);
        return;
    }
    be->vt->free_host(be, p, bytes);
}

void pp_backend_set_threads(pp_backend *be, int n) {
    if (n < 1) n = 1;
    be->threads = n;
    be->vt->set_threads(be, n);
}

int pp_backend_supports(pp_backend *be, pp_op_kind k) {
    if (k < 0 || k >= PP_OP__COUNT) return 0;
    return be->vt->supports ? be->vt->supports(be, k) : 1;
}

int pp_backend_run_op(pp_backend *be, const pp_graph *g, const pp_op *op, pp_pass pass, pp_op_args *a, pp_err *err) {
    if (!be->op_hook) return be->vt->run_op(be, g, op, pass, a, err);
    be->op_hook(be->op_hook_ctx, g, op, pass, 0);
    int rc = be->vt->run_op(be, g, op, pass, a, err);
    be->op_hook(be->op_hook_ctx, g, op, pass, 1);
    return rc;
}

void pp_backend_set_op_hook(pp_backend *be, pp_backend_op_hook hook, void *ctx) {
    be->op_hook = hook;
    be->op_hook_ctx = hook ? ctx : NULL;
}

void pp_backend_adamw(pp_backend *be, float *p, const float *g, float *m, float *v, long n, float lr, float beta1,
                      float beta2, float eps, float weight_decay, int t, float grad_scale) {
    be->vt->adamw(be, p, g, m, v, n, lr, beta1, beta2, eps, weight_decay, t, grad_scale);
}

double pp_backend_sumsq(pp_backend *be, const float *x, long n) { return be->vt->sumsq(be, x, n); }

void pp_backend_event_record(pp_backend *be, pp_event *ev, int stream) { be->vt->event_record(be, ev, stream); }

double pp_backend_event_elapsed(pp_backend *be, const pp_event *start, const pp_event *end) {
    return be->vt->event_elapsed(be, start, end);
}

double pp_backend_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
