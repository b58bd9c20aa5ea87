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

#endif /* PP_GPULINK_H */
