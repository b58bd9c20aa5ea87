/*
 * pp_gpulink.c -- the GPU link benchmark over NCCL (see pp_gpulink.h).
 */
#include "core/pp_stats.h"
#include "profiler/pp_gpulink.h"

#include "kernels/cuda/pp_cuda_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pp_gpulink_measure(pp_comm *world, pp_nccl *nc, pp_backend *be, int src, int dst, const pp_linkprof_opts *o,
                       pp_link_result *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    int me = pp_comm_rank(world);
    if (src == dst || src < 0 || dst < 0 || src >= pp_comm_size(world) || dst >= pp_comm_size(world))
        return pp_err_set(err, PP_ERR_INVALID, "GPU link %d -> %d: not two distinct ranks of %d", src, dst,
                          pp_comm_size(world));
    double sizes[PP_LINK_MAX_SIZES];
    int n_sizes = 0;
    if (pp_linkprof_sizes(o, sizes, &n_sizes, err)) return -1;
    if (me != src && me != dst) return pp_comm_barrier(world, err);
#ifdef PP_HAVE_CUDA
    void *stream = pp_cuda_backend_stream(be);
#else
    void *stream = NULL;
#endif
    if (!stream) return pp_err_set(err, PP_ERR_INVALID, "the GPU link benchmark needs the CUDA backend");
    int peer = me == src ? dst : src, rc = -1;
    size_t maxb = (size_t)sizes[n_sizes - 1];
    void *buf = pp_backend_alloc(be, maxb ? maxb : 1, err);
    double *t = pp_malloc((unsigned long long)(o->max_reps > 0 ? o->max_reps : 1) * sizeof *t, err);
    if (!buf || !t) goto done;
    for (int si = 0; si < n_sizes; si++) {
        size_t n = (size_t)sizes[si];
        long long reps = n ? (long long)(o->rep_bytes / n) : o->max_reps;
        if (reps < o->min_reps) reps = o->min_reps;
        if (reps > o->max_reps) reps = o->max_reps;
        for (long long r = -o->warmup; r < reps; r++) {
            double t0 = pp_backend_now();
            if (me == src) {
                if (pp_nccl_send(nc, buf, n, peer, stream, err) || pp_nccl_recv(nc, buf, n, peer, stream, err) ||
                    pp_nccl_wait(nc, stream, 60.0, err))
                    goto done;
            } else {
                if (pp_nccl_recv(nc, buf, n, peer, stream, err) || pp_nccl_send(nc, buf, n, peer, stream, err) ||
                    pp_nccl_wait(nc, stream, 60.0, err))
                    goto done;
            }
            if (r >= 0) t[r] = (pp_backend_now() - t0) / 2;
        }
        out->sizes[si] = (double)n;
        out->t_pingpong[si] = pp_stats_median(t, reps);
    }
    out->n_sizes = n_sizes;
    out->src = src;
    out->dst = dst;
    if (pp_comm_hostname(world, me == src ? out->src_host : out->dst_host, sizeof out->src_host, err)) goto done;
    if (me == src &&
        pp_linkprof_fit(out->sizes, out->t_pingpong, n_sizes, &out->alpha_s, &out->beta_Bps, &out->residual)) {
        pp_err_set(err, PP_ERR_INVALID, "GPU link %d -> %d: the times do not fit alpha + n / beta", src, dst);
        goto done;
    }
    if (me == dst) memset(out, 0, sizeof *out);
    rc = 0;
done:
    pp_backend_free(be, buf, maxb ? maxb : 1);
    free(t);
    if (rc) return -1;
    return pp_comm_barrier(world, err);
}

int pp_gpulink_run(pp_comm *c, const pp_linkprof_opts *o, int threads, pp_link_result **res, int *n, pp_err *err) {
    *res = NULL;
    *n = 0;
#ifdef PP_HAVE_NCCL
    int size = pp_comm_size(c), me = pp_comm_rank(c), rc = -1, np = 0, *pairs = NULL;
    char host[128] = "", (*hosts)[128] = pp_calloc((unsigned long long)size, 128, err);
    pp_backend *be = NULL;
    pp_nccl *nc = NULL;
    if (!hosts || pp_comm_hostname(c, host, sizeof host, err) || pp_comm_allgather(c, host, 128, hosts, err)) goto done;
    if (pp_backend_open(PP_BACKEND_CUDA, threads, &be, err) ||
        pp_nccl_init(c, pp_cuda_backend_device(be), &nc, err) ||
        pp_linkprof_pairs(o, size, (const char (*)[128])hosts, &pairs, &np, err))
        goto done;
    if (me == 0 && !(*res = pp_calloc((unsigned long long)(np ? np : 1), sizeof **res, err))) goto done;
    for (int i = 0; i < np; i++) {
        pp_link_result r;
        memset(&r, 0, sizeof r);
        int src = pairs[2 * i], dst = pairs[2 * i + 1];
        if (pp_gpulink_measure(c, nc, be, src, dst, o, &r, err)) goto done;
        snprintf(r.src_host, sizeof r.src_host, "%s", hosts[src]);
        snprintf(r.dst_host, sizeof r.dst_host, "%s", hosts[dst]);
        if (src == 0 && me == 0) (*res)[i] = r;
        else if (me == src && pp_comm_send(c, &r, sizeof r, 0, i % 32768, err)) goto done;
        else if (me == 0 && pp_comm_recv(c, &(*res)[i], sizeof r, src, i % 32768, err)) goto done;
    }
    *n = me == 0 ? np : 0;
    rc = 0;
done:
    if (rc) {
        free(*res);
        *res = NULL;
    }
    pp_nccl_free(nc);
    pp_backend_close(be);
    free(pairs);
    free(hosts);
    return rc;
#else
    (void)c;
    (void)o;
    (void)threads;
    return pp_err_set(err, PP_ERR_UNSUPPORTED, "GPU links need NCCL, which this build lacks");
#endif
}
