/*
 * pp_nccl.h -- the NCCL transport for device buffers, bootstrapped over MPI
 * (pp_comm): one NCCL communicator per run, sub-communicators split from it
 * for data-parallel and tied-gradient all-reduces, point-to-point transfers
 * grouped so that paired sends and receives cannot deadlock.
 *
 *     pp_nccl *nc;
 *     if (pp_nccl_init(world, device, &nc, &err)) ...          // collective
 *     pp_nccl_xfer x[2] = {{.send = 1, .buf = out, .bytes = n, .peer = next},
 *                          {.send = 0, .buf = in,  .bytes = n, .peer = prev}};
 *     pp_nccl_group(nc, x, 2, stream, &err);                    // one group
 *     pp_nccl_wait(nc, stream, 30.0, &err);                     // or keep computing
 *
 * Buffers are device memory of the communicator's device; work is enqueued
 * on the caller's CUDA stream (a cudaStream_t passed as void *, e.g.
 * pp_cuda_backend_stream), so it is ordered with the kernels on it. Rank r
 * of the communicator is rank r of the pp_comm it was made from.
 *
 * Built with PP_HAVE_NCCL (CMake found nccl.h and libnccl); elsewhere every
 * function returns -1 with PP_ERR_UNSUPPORTED and pp_nccl_available() is 0.
 */
#ifndef PP_NCCL_H
#define PP_NCCL_H

#include <stddef.h>

#include "comm/pp_comm.h"
#include "core/pp_err.h"

typedef struct pp_nccl pp_nccl;

/* One transfer of a group: send (send = 1) or receive bytes at buf with peer. */
typedef struct pp_nccl_xfer {
    int send;
    void *buf;
    size_t bytes;
    int peer;
} pp_nccl_xfer;

/* 1 when this build has the NCCL transport. */
int pp_nccl_available(void);

/* Makes the run's communicator over every rank of world: rank 0 creates the
 * ncclUniqueId, pp_comm_bcast hands it to the others, each rank binds CUDA
 * device `device` and joins. Collective over world. Returns 0 or -1 (err
 * names the failing call and NCCL's message). */
int pp_nccl_init(pp_comm *world, int device, pp_nccl **out, pp_err *err);

/* Splits c like pp_comm_split: ranks with the same color >= 0 form one
 * communicator, ordered by key; color < 0 gets *out = NULL. Collective
 * over c (ncclCommSplit). */
int pp_nccl_split(pp_nccl *c, int color, int key, pp_nccl **out, pp_err *err);

/* Frees a communicator (NULL is fine); does not wait for work in flight. */
void pp_nccl_free(pp_nccl *c);

int pp_nccl_rank(const pp_nccl *c);
int pp_nccl_size(const pp_nccl *c);

/* Enqueues n transfers as one NCCL group on stream: the sends and receives
 * of a group progress together, so two ranks that send to each other (or a
 * ring) cannot deadlock whatever order each lists them in. A peer equal to
 * this rank is allowed (a copy through NCCL). Returns 0 or -1. */
int pp_nccl_group(pp_nccl *c, const pp_nccl_xfer *x, int n, void *stream, pp_err *err);

/* Single transfers (each its own group). */
int pp_nccl_send(pp_nccl *c, const void *buf, size_t bytes, int peer, void *stream, pp_err *err);
int pp_nccl_recv(pp_nccl *c, void *buf, size_t bytes, int peer, void *stream, pp_err *err);

/* In-place sum of n floats over every rank of c, enqueued on stream. */
int pp_nccl_allreduce_sum_f32(pp_nccl *c, float *buf, long long n, void *stream, pp_err *err);

/* Waits until the work enqueued on stream is done, at most timeout_s
 * seconds (<= 0: no limit), polling NCCL for asynchronous errors. On a
 * timeout or an error the communicator is aborted (no further use but
 * pp_nccl_free) and -1 returned, naming the rank that waited. */
int pp_nccl_wait(pp_nccl *c, void *stream, double timeout_s, pp_err *err);

#endif /* PP_NCCL_H */
