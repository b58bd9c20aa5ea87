/*
 * mpi_links.c -- the link benchmark under mpirun, for
 * tests/integration/links.sh: the rank pairs pp_linkprof_run chooses
 * (every ordered pair up to 8 ranks, a sample above) over comm/ with the
 * default sizes (8 B .. 64 MiB). Rank 0 prints how many pairs it measured
 * ("pairs measured: 2 of 2") and, per pair, one summary line
 *
 *     link 0->1 host a->b alpha_us=0.412 beta_GBps=5.21 residual=0.183
 *
 * followed by the measured table. Any failure aborts every rank (exit != 0).
 * Options: --sizes MIN MAX FACTOR to change the size series.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/pp_comm.h"
#include "profiler/pp_linkprof.h"

int main(int argc, char **argv) {
    pp_err err = {0};
    pp_comm *c = NULL;
    if (pp_comm_init(&argc, &argv, &c, &err) != 0) {
        fprintf(stderr, "pp_mpi_links_test: %s\n", err.msg);
        return 1;
    }
    pp_linkprof_opts o;
    pp_linkprof_opts_default(&o);
    if (argc == 5 && strcmp(argv[1], "--sizes") == 0) {
        o.min_bytes = strtoull(argv[2], NULL, 10);
        o.max_bytes = strtoull(argv[3], NULL, 10);
        o.factor = atoi(argv[4]);
    }
    int me = pp_comm_rank(c);
    if (me == 0)
        printf("ranks %d, under mpirun: %s\n", pp_comm_size(c), pp_comm_under_mpi() ? "yes" : "no");
    pp_link_result *res = NULL;
    int n = 0;
    if (pp_linkprof_run(c, &o, NULL, 0, &res, &n, &err) != 0) {
        fprintf(stderr, "pp_mpi_links_test: rank %d: %s\n", me, err.msg);
        fflush(stderr);
        pp_comm_abort(c, 1);
        return 1;
    }
    if (me == 0) printf("pairs measured: %d of %d\n", n, pp_comm_size(c) * (pp_comm_size(c) - 1));
    for (int p = 0; p < n; p++) {
        const pp_link_result *r = &res[p];
        printf("link %d->%d host %s->%s alpha_us=%.4f beta_GBps=%.4f residual=%.4f\n", r->src, r->dst,
               r->src_host, r->dst_host, r->alpha_s * 1e6, r->beta_Bps / 1e9, r->residual);
        printf("  %12s %14s %14s %14s %12s\n", "bytes", "pingpong_us", "stream_us", "fit_us", "stream_GBps");
        for (int i = 0; i < r->n_sizes; i++)
            printf("  %12.0f %14.3f %14.3f %14.3f %12.3f\n", r->sizes[i], r->t_pingpong[i] * 1e6,
                   r->t_stream[i] * 1e6, (r->alpha_s + r->sizes[i] / r->beta_Bps) * 1e6,
                   r->sizes[i] / r->t_stream[i] / 1e9);
    }
    free(res);
    /* The all-reduce over every rank: every rank gets the same fit. */
    double a = 0, b = 0, resid = 0;
    if (pp_linkprof_allreduce(c, &o, &a, &b, &resid, &err) != 0) {
        fprintf(stderr, "pp_mpi_links_test: rank %d: %s\n", me, err.msg);
        pp_comm_abort(c, 1);
        return 1;
    }
    double mine[3] = {a, b, resid}, sum[3] = {a, b, resid};
    if (pp_comm_allreduce_sum_f64(c, sum, 3, &err) != 0) return 1;
    int same = 1;
    for (int k = 0; k < 3; k++) same &= sum[k] == mine[k] * pp_comm_size(c);
    if (me == 0)
        printf("allreduce alpha_us=%.4f beta_GBps=%.4f residual=%.4f same_on_all_ranks=%s\n", a * 1e6, b / 1e9, resid,
               same ? "yes" : "no");
    fflush(stdout);
    pp_comm_free(c);
    return 0;
}
