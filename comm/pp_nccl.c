/*
 * pp_nccl.c -- the NCCL transport (pp_nccl.h): communicators bootstrapped
 * with an ncclUniqueId broadcast over MPI, grouped point-to-point, split
 * sub-communicators, all-reduce, and a bounded wait. Every NCCL and CUDA
 * call is checked (PP_NCCL_CHECK, PP_CUDA_CHECK of core/pp_cuda_check.h):
 * the error names the file, line, the call's text and NCCL's (or CUDA's)
 * message, and the function's `fail` label releases what it took.
 */
#include "comm/pp_nccl.h"

#include <stdlib.h>
#include <time.h>

#ifdef PP_HAVE_NCCL

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "core/pp_cuda_check.h"

struct pp_nccl {
    ncclComm_t comm;
    int rank, size, device;
};

int pp_nccl_available(void) { return 1; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int pp_nccl_init(pp_comm *world, int device, pp_nccl **out, pp_err *err) {
    *out = NULL;
    pp_nccl *c = NULL;
    ncclUniqueId id;
    int rank = pp_comm_rank(world), size = pp_comm_size(world);
    int ok[1] = {1};
    if (rank == 0) {
        ncclResult_t r = ncclGetUniqueId(&id);
        if (r != ncclSuccess) {
            ok[0] = 0;
            pp_err_set(err, PP_ERR_IO, "%s:%d: ncclGetUniqueId(&id) failed: %s", __FILE__, __LINE__,
                       ncclGetErrorString(r));
        }
    }
    /* every rank learns whether rank 0 has an id before waiting for it */
    if (pp_comm_bcast(world, ok, sizeof ok, 0, err)) return -1;
    if (!ok[0]) return rank == 0 ? -1 : pp_err_set(err, PP_ERR_IO, "rank 0 could not create the NCCL id");
    if (pp_comm_bcast(world, &id, sizeof id, 0, err)) return -1;
    PP_CUDA_CHECK(err, cudaSetDevice(device));
    c = pp_calloc(1, sizeof *c, err);
    if (!c) goto fail;
    /* into a local first: c->comm holds a communicator only once it is one */
    ncclComm_t nc = NULL;
    ncclResult_t r = ncclCommInitRank(&nc, size, id, rank);
    if (r != ncclSuccess) {
        pp_err_set(err, PP_ERR_IO, "%s:%d: ncclCommInitRank(&nc, %d, id, %d) on device %d failed: %s", __FILE__,
                   __LINE__, size, rank, device, ncclGetErrorString(r));
        goto fail;
    }
    c->comm = nc;
    c->rank = rank;
    c->size = size;
    c->device = device;
    *out = c;
    return 0;
fail:
    free(c);
    return -1;
}

int pp_nccl_split(pp_nccl *c, int color, int key, pp_nccl **out, pp_err *err) {
    *out = NULL;
    /* made: the new communicator once the split succeeded (what NCCL leaves in
     * it after a failed split is not ours to destroy) */
    ncclComm_t made = NULL, nc = NULL;
    pp_nccl *s = NULL;
    PP_NCCL_CHECK(err, c->comm, ncclCommSplit(c->comm, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &made, NULL));
    nc = made;
    if (color < 0 || !nc) return 0;
    s = pp_calloc(1, sizeof *s, err);
    if (!s) goto fail;
    s->device = c->device;
    PP_NCCL_CHECK(err, nc, ncclCommUserRank(nc, &s->rank));
    PP_NCCL_CHECK(err, nc, ncclCommCount(nc, &s->size));
    s->comm = nc;
    *out = s;
    return 0;
fail:
    if (nc) ncclCommDestroy(nc);
    free(s);
    return -1;
}

void pp_nccl_free(pp_nccl *c) {
    if (!c) return;
    if (c->comm) ncclCommDestroy(c->comm);
    free(c);
}

int pp_nccl_rank(const pp_nccl *c) { return c->rank; }
int pp_nccl_size(const pp_nccl *c) { return c->size; }

int pp_nccl_group(pp_nccl *c, const pp_nccl_xfer *x, int n, void *stream, pp_err *err) {
    cudaStream_t st = (cudaStream_t)stream;
    for (int i = 0; i < n; i++)
        if (x[i].peer < 0 || x[i].peer >= c->size)
            return pp_err_set(err, PP_ERR_INVALID, "NCCL transfer %d: peer %d is not a rank of a communicator of %d", i,
                              x[i].peer, c->size);
    int in_group = 0;
    PP_NCCL_CHECK(err, c->comm, ncclGroupStart());
    in_group = 1;
    for (int i = 0; i < n; i++) {
        ncclResult_t r = x[i].send ? ncclSend(x[i].buf, x[i].bytes, ncclUint8, x[i].peer, c->comm, st)
                                   : ncclRecv(x[i].buf, x[i].bytes, ncclUint8, x[i].peer, c->comm, st);
        if (r != ncclSuccess) {
            /* the sizes and peer in the message, which the call's text would not show */
            pp_err_set(err, PP_ERR_IO, "%s:%d: %s(%zu bytes, peer %d) failed: %s: %s", __FILE__, __LINE__,
                       x[i].send ? "ncclSend" : "ncclRecv", x[i].bytes, x[i].peer, ncclGetErrorString(r),
                       ncclGetLastError(c->comm));
            goto fail;
        }
    }
    in_group = 0;
    PP_NCCL_CHECK(err, c->comm, ncclGroupEnd());
    return 0;
fail: /* a group begun is ended, so the next call on this thread starts clean */
    if (in_group) ncclGroupEnd();
    return -1;
}

int pp_nccl_send(pp_nccl *c, const void *buf, size_t bytes, int peer, void *stream, pp_err *err) {
    pp_nccl_xfer x = {.send = 1, .buf = (void *)buf, .bytes = bytes, .peer = peer};
    return pp_nccl_group(c, &x, 1, stream, err);
}

int pp_nccl_recv(pp_nccl *c, void *buf, size_t bytes, int peer, void *stream, pp_err *err) {
    pp_nccl_xfer x = {.send = 0, .buf = buf, .bytes = bytes, .peer = peer};
    return pp_nccl_group(c, &x, 1, stream, err);
}

int pp_nccl_allreduce_sum_f32(pp_nccl *c, float *buf, long long n, void *stream, pp_err *err) {
    if (n <= 0) return 0;
    PP_NCCL_CHECK(err, c->comm,
                  ncclAllReduce(buf, buf, (size_t)n, ncclFloat32, ncclSum, c->comm, (cudaStream_t)stream));
    return 0;
fail:
    return -1;
}

int pp_nccl_wait(pp_nccl *c, void *stream, double timeout_s, pp_err *err) {
    cudaStream_t st = (cudaStream_t)stream;
    double t0 = now_s();
    for (;;) {
        cudaError_t e = cudaStreamQuery(st);
        if (e == cudaSuccess) return 0;
        if (e != cudaErrorNotReady)
            return pp_err_set(err, PP_ERR_IO, "%s:%d: cudaStreamQuery(stream) failed: %s (%s)", __FILE__, __LINE__,
                              cudaGetErrorString(e), cudaGetErrorName(e));
        ncclResult_t ar = ncclSuccess;
        PP_NCCL_CHECK(err, c->comm, ncclCommGetAsyncError(c->comm, &ar));
        if (ar != ncclSuccess && ar != ncclInProgress) {
            ncclCommAbort(c->comm);
            c->comm = NULL;
            return pp_err_set(err, PP_ERR_IO, "NCCL rank %d: asynchronous error: %s", c->rank, ncclGetErrorString(ar));
        }
        if (timeout_s > 0 && now_s() - t0 > timeout_s) {
            ncclCommAbort(c->comm);
            c->comm = NULL;
            return pp_err_set(err, PP_ERR_IO, "NCCL rank %d: transfers not done after %.1f s (a peer is gone or stuck)",
                              c->rank, timeout_s);
        }
        struct timespec ts = {0, 50000}; /* 50 us */
        nanosleep(&ts, NULL);
    }
fail:
    return -1;
}

#else /* no NCCL in this build */

#define PP_NO_NCCL(err)                                                                                                \
    pp_err_set((err), PP_ERR_UNSUPPORTED, "the NCCL transport is not part of this build (no nccl.h / libnccl found)")

struct pp_nccl {
    int rank, size;
};

int pp_nccl_available(void) { return 0; }

int pp_nccl_init(pp_comm *world, int device, pp_nccl **out, pp_err *err) {
    (void)world;
    (void)device;
    *out = NULL;
    return PP_NO_NCCL(err);
}

int pp_nccl_split(pp_nccl *c, int color, int key, pp_nccl **out, pp_err *err) {
    (void)c;
    (void)color;
    (void)key;
    *out = NULL;
    return PP_NO_NCCL(err);
}

void pp_nccl_free(pp_nccl *c) { free(c); }
int pp_nccl_rank(const pp_nccl *c) { return c ? c->rank : -1; }
int pp_nccl_size(const pp_nccl *c) { return c ? c->size : 0; }

int pp_nccl_group(pp_nccl *c, const pp_nccl_xfer *x, int n, void *stream, pp_err *err) {
    (void)c;
    (void)x;
    (void)n;
    (void)stream;
    return PP_NO_NCCL(err);
}

int pp_nccl_send(pp_nccl *c, const void *buf, size_t bytes, int peer, void *stream, pp_err *err) {
    (void)c;
    (void)buf;
    (void)bytes;
    (void)peer;
    (void)stream;
    return PP_NO_NCCL(err);
}

int pp_nccl_recv(pp_nccl *c, void *buf, size_t bytes, int peer, void *stream, pp_err *err) {
    (void)c;
    (void)buf;
    (void)bytes;
    (void)peer;
    (void)stream;
    return PP_NO_NCCL(err);
}

int pp_nccl_allreduce_sum_f32(pp_nccl *c, float *buf, long long n, void *stream, pp_err *err) {
    (void)c;
    (void)buf;
    (void)n;
    (void)stream;
    return PP_NO_NCCL(err);
}

int pp_nccl_wait(pp_nccl *c, void *stream, double timeout_s, pp_err *err) {
    (void)c;
    (void)stream;
    (void)timeout_s;
    return PP_NO_NCCL(err);
}

#endif
