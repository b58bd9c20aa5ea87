/*
 * pp_backend.h -- the one interface behind which a compute backend lives:
 * memory, time stamps and op dispatch. The stage engine, the profiler and
 * the executor only ever talk to a pp_backend, so the CUDA backend slots in
 * beside the CPU one without touching them.
 *
 *     pp_backend *be;
 *     if (pp_backend_open(PP_BACKEND_CPU, 1, &be, &err)) ...   // 1 thread
 *     float *x = pp_backend_alloc(be, bytes, &err);
 *     pp_backend_run_op(be, g, &g->ops[i], PP_PASS_F, &args, &err);
 *     pp_backend_free(be, x, bytes);
 *     pp_backend_close(be);
 *
 * Memory is counted: bytes in use and the peak, so callers can check what
 * they hold against what the graph predicts.
 *
 * Backend memory may live on a device (CUDA): callers never read or write
 * it with the CPU but go through pp_backend_upload / pp_backend_download
 * (host <-> backend), pp_backend_copy (backend <-> backend) and
 * pp_backend_add; pp_backend_is_host says when backend memory is plain host
 * memory (the CPU backend), where these are memcpy and a loop. Staging
 * buffers for MPI come from pp_backend_alloc_host (pinned on CUDA).
 */
#ifndef PP_BACKEND_H
#define PP_BACKEND_H

#include <stddef.h>

#include "core/pp_err.h"
#include "core/pp_graph.h"

typedef enum pp_backend_kind {
    PP_BACKEND_CPU = 0,
    PP_BACKEND_CUDA,
} pp_backend_kind;

/* The tensors an op reads and writes in one pass. Gradients accumulate
 * (docs/ops.md); a NULL din[k] means input k needs no gradient. */
typedef struct pp_op_args {
    void *in[PP_OP_MAX_IN];
    void *out;
    void *param[PP_OP_MAX_PARAM];
    void *din[PP_OP_MAX_IN];
    void *dout;
    void *dparam[PP_OP_MAX_PARAM];
    void *extra;        /* the op's private kept data (statistics, lse, probabilities) */
    float loss_grad;    /* LM head, pass I: d(step loss) / d(this microbatch's loss) */
    float loss;         /* LM head, pass F: the microbatch loss (out too) */
} pp_op_args;

typedef struct pp_backend pp_backend;

/* A point in a stream's work. Stream 0 is the compute stream; a backend may
 * have others (communication). The CPU backend runs everything in order on
 * the calling thread, so its event is a clock reading; CUDA's will be a
 * cudaEvent_t in `handle`. */
typedef struct pp_event {
    double t;
    void *handle;
} pp_event;

typedef struct pp_backend_vtable {
    const char *name;
    void *(*alloc)(pp_backend *be, size_t bytes, int zero);
    void (*free)(pp_backend *be, void *p, size_t bytes);
    void (*trim)(pp_backend *be); /* returns cached free memory to the system */
    void (*zero)(pp_backend *be, void *p, size_t bytes);
    void (*copy)(pp_backend *be, void *dst, const void *src, size_t bytes);
    int (*run_op)(pp_backend *be, const pp_graph *g, const pp_op *op, pp_pass pass, pp_op_args *a, pp_err *err);
    void (*sync)(pp_backend *be);
    void (*set_threads)(pp_backend *be, int n);
    /* AdamW step t (1-based) over n floats; gradients scaled by grad_scale first. */
    void (*adamw)(pp_backend *be, float *p, const float *g, float *m, float *v, long n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int t, float grad_scale);
    double (*sumsq)(pp_backend *be, const float *x, long n);
    void (*event_record)(pp_backend *be, pp_event *ev, int stream);
    /* Seconds from start to end, waiting for end to complete. */
    double (*event_elapsed)(pp_backend *be, const pp_event *start, const pp_event *end);
    void (*close)(pp_backend *be);
    /* 1 when run_op has a kernel for every pass of this op kind (NULL: all kinds). */
    int (*supports)(pp_backend *be, pp_op_kind kind);
    /* Optional entries; NULL means "backend memory is host memory": upload and
     * download are copy, add is a host loop, host buffers are alloc / free
     * (counted), describe is the CPU's description. */
    void (*upload)(pp_backend *be, void *dst, const void *host_src, size_t bytes);
    void (*download)(pp_backend *be, void *host_dst, const void *src, size_t bytes);
    void (*add)(pp_backend *be, float *dst, const float *src, long long n);
    void *(*alloc_host)(pp_backend *be, size_t bytes);
    void (*free_host)(pp_backend *be, void *p, size_t bytes);
    void (*describe)(pp_backend *be, char *json, size_t n);
} pp_backend_vtable;

/* Called by pp_backend_run_op before (end = 0) and after (end = 1) each op
 * pass; the GPU profiler uses it to tag the kernels of each op. */
typedef void (*pp_backend_op_hook)(void *ctx, const pp_graph *g, const pp_op *op, pp_pass pass, int end);

struct pp_backend {
    const pp_backend_vtable *vt;
    pp_backend_kind kind;
    int threads;
    long long bytes_in_use, peak_bytes;
    void *impl;
    pp_backend_op_hook op_hook; /* NULL unless a profiler set one */
    void *op_hook_ctx;
};

/* Opens a backend with `threads` compute threads (CPU: OpenBLAS and OpenMP;
 * CUDA: ignored, device 0 of the process, or $PIPPY_CUDA_DEVICE). CUDA returns
 * -1 with PP_ERR_UNSUPPORTED in a build without it and where no GPU is
 * usable (the message says what cudaGetDeviceCount said); never aborts. */
int pp_backend_open(pp_backend_kind kind, int threads, pp_backend **out, pp_err *err);
void pp_backend_close(pp_backend *be);

/* Counted, zero-initialised allocation; NULL with err set on failure. */
void *pp_backend_alloc(pp_backend *be, size_t bytes, pp_err *err);
/* The same without zeroing, for buffers the next kernel overwrites whole. */
void *pp_backend_alloc_uninit(pp_backend *be, size_t bytes, pp_err *err);
void pp_backend_free(pp_backend *be, void *p, size_t bytes);
void pp_backend_zero(pp_backend *be, void *p, size_t bytes);
/* bytes from backend memory src to backend memory dst (same device; the
 * CUDA backend also takes pointers of another device of the process). */
void pp_backend_copy(pp_backend *be, void *dst, const void *src, size_t bytes);

/* 1 when backend memory is host memory that the CPU may read and write
 * directly (the CPU backend), 0 for device memory. */
int pp_backend_is_host(const pp_backend *be);
/* bytes from host memory to backend memory; returns when host_src may be
 * reused. */
void pp_backend_upload(pp_backend *be, void *dst, const void *host_src, size_t bytes);
/* bytes from backend memory to host memory; returns when host_dst holds
 * them (waits for the work that writes src). */
void pp_backend_download(pp_backend *be, void *host_dst, const void *src, size_t bytes);
/* dst[i] += src[i] for i < n, both backend memory. */
void pp_backend_add(pp_backend *be, float *dst, const float *src, long long n);
/* Host memory for staging messages (pinned on CUDA, so copies to and from
 * the device run at full speed); freed with pp_backend_free_host. On the
 * CPU backend it is pp_backend_alloc_uninit (counted like any buffer). NULL
 * with err set on failure. */
void *pp_backend_alloc_host(pp_backend *be, size_t bytes, pp_err *err);
void pp_backend_free_host(pp_backend *be, void *p, size_t bytes);
void pp_backend_set_threads(pp_backend *be, int n);
/* Gives cached free blocks back to the system. */
void pp_backend_trim(pp_backend *be);
void pp_backend_sync(pp_backend *be);

/* Runs one pass of one op. Returns 0, or -1 when the backend cannot run it
 * (an op kind or dtype it lacks), with err naming the op. */
/* 1 when the backend has kernels for op kind k, else 0: a plan is checked
 * with it before any compute. */
int pp_backend_supports(pp_backend *be, pp_op_kind k);
int pp_backend_run_op(pp_backend *be, const pp_graph *g, const pp_op *op, pp_pass pass, pp_op_args *a, pp_err *err);

/* Sets (hook != NULL) or clears the op hook. */
void pp_backend_set_op_hook(pp_backend *be, pp_backend_op_hook hook, void *ctx);

void pp_backend_adamw(pp_backend *be, float *p, const float *g, float *m, float *v, long n, float lr, float beta1,
                      float beta2, float eps, float weight_decay, int t, float grad_scale);
/* Sum of squares of n floats, in double. */
double pp_backend_sumsq(pp_backend *be, const float *x, long n);

/* Records ev at the current end of stream's work; the elapsed time between
 * two events is the time the work between them took. */
void pp_backend_event_record(pp_backend *be, pp_event *ev, int stream);
double pp_backend_event_elapsed(pp_backend *be, const pp_event *start, const pp_event *end);

/* Monotonic wall clock in seconds (for timing; never used by the simulator). */
double pp_backend_now(void);

/* The device as a JSON object: kind, model (CPU model or GPU name), cores,
 * threads, BLAS and its kernel, library versions. Two machines that time
 * ops alike describe themselves alike: profiles are keyed by its hash. */
void pp_backend_describe(pp_backend *be, char *json, size_t n);

/* The CPU backend (kernels/cpu/pp_cpu_backend.c). */
int pp_cpu_backend_open(int threads, pp_backend **out, pp_err *err);
/* The CUDA backend (kernels/cuda/pp_cuda_backend.c; builds with PP_HAVE_CUDA). */
int pp_cuda_backend_open(int threads, pp_backend **out, pp_err *err);

#endif /* PP_BACKEND_H */
