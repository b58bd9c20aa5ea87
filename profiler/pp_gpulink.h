/*
 * pp_gpulink.h -- the GPU link benchmark: latency alpha and bandwidth beta
 * of the NCCL path between the GPUs of two ranks, as pp_linkprof.h measures
 * host links over MPI: for each message size of pp_linkprof_sizes, src
 * sends n bytes of device memory to dst with NCCL and dst sends them back;
 * half the round trip (host clock around the stream, so launch costs count,
 * as they do for the executor) is the ping-pong time, the median of the
 * repetitions; pp_linkprof_fit gives alpha and beta. t_stream is not
 * measured (0).
 */
#ifndef PP_GPULINK_H
#define PP_GPULINK_H

#include "comm/pp_comm.h"
#include "comm/pp_nccl.h"
#include "kernels/pp_backend.h"
#include "profiler/pp_linkprof.h"

/* Measures src -> dst over nc (made from world; same ranks). Collective
 * over world: every rank calls it, ranks other than src and dst only wait.
 * be: this rank's CUDA backend (its device memory and stream). On src,
 * *out holds the result; elsewhere it is left zeroed. Returns 0 or -1. */
int pp_gpulink_measure(pp_comm *world, pp_nccl *nc, pp_backend *be, int src, int dst, const pp_linkprof_opts *o,
                       pp_link_result *out, pp_err *err);

/* The GPU link run: NCCL between the GPUs of the ranks of c, over the pairs
 * pp_linkprof_pairs chooses from the ranks' host names (every ordered pair
 * up to o->sample_above ranks, a sample above), one pair at a time. Each
 * rank opens its CUDA backend (threads) and one NCCL communicator for the
 * run. Collective. The results end on rank 0: *res a malloc'd array of *n
 * results in pair order, with host names (free it); elsewhere NULL and 0.
 * Returns 0, or -1 (err: no GPU, NCCL failed, out of memory; a build
 * without NCCL says so; *res NULL, *n 0). A failure on one rank can leave
 * the others waiting: the caller should pp_comm_abort. */
int pp_gpulink_run(pp_comm *c, const pp_linkprof_opts *o, int threads, pp_link_result **res, int *n, pp_err *err);

#endif /* PP_GPULINK_H */
