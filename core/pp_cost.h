/*
 * pp_cost.h -- the cost profile: what the simulator and the planner know of
 * how long things take. Per op: the time of F, I and W for one microbatch
 * (median, spread, samples), the bytes it keeps, its parameter bytes and
 * workspace. Per device: kind, memory, peak rate. Per ordered rank pair:
 * link latency alpha and bandwidth beta.
 *
 * Today it is filled from the graph's FLOP counts and a device rate
 * (pp_cost_from_graph); the profiler fills it from measured op timings in
 * the database. The simulator and the planner never ask where it came
 * from beyond `source`, which tools print.
 */
#ifndef PP_COST_H
#define PP_COST_H

#include "core/pp_err.h"
#include "core/pp_graph.h"

typedef struct pp_cost_profile {
    char source[256];     /* "graph FLOPs at 1e+12 FLOP/s", or the profile used */
    int n_ops;
    double *t;            /* [n_ops * 3] seconds, F, I, W of op i at t[3 i + pass] */
    double *spread;       /* [n_ops * 3] seconds (0 when estimated) */
    int *samples;         /* [n_ops * 3] (0 when estimated) */
    long long *keep_f, *keep_w, *param_bytes, *workspace; /* [n_ops] */
    char device[128];
    double device_memory; /* bytes */
    double device_flops;  /* FLOP/s */
    double optim_s_per_param; /* the step-level work per parameter: AdamW, gradient norm, zeroing (0: unknown) */
    int n_ranks;          /* links: 0 = free links */
    double *alpha;        /* [n_ranks * n_ranks] seconds */
    double *beta;         /* [n_ranks * n_ranks] bytes/s, 0 = infinite */
} pp_cost_profile;

/* Estimates op times as FLOPs / flops_per_s. Returns 0 or -1 (err). */
int pp_cost_from_graph(const pp_graph *g, double flops_per_s, pp_cost_profile *out, pp_err *err);
/* Sets every ordered rank pair's link to (alpha, beta); beta 0 = infinite. */
int pp_cost_set_links(pp_cost_profile *c, int n_ranks, double alpha, double beta, pp_err *err);
void pp_cost_free(pp_cost_profile *c);

/* Sum over ops [lo, hi) of the time of one pass. */
double pp_cost_range_time(const pp_cost_profile *c, int lo, int hi, pp_pass pass);

/* What was measured of communication on one kind of machine (pippy profile
 * --ranks N), as the costs module finds it for a cluster's devices: the
 * mean point-to-point link, and the all-reduce over the most ranks
 * measured. The prediction (simulator/pp_predict.h) uses the links for
 * every pair of ranks on one host (and between hosts when the cluster spec
 * gives no inter-host link), and the all-reduce for data-parallel and tied
 * gradients. */
typedef struct pp_comm_measured {
    int n_links;                        /* links averaged; 0: none measured */
    double link_alpha_s, link_beta_Bps; /* their mean latency and bandwidth */
    int allreduce_ranks;                /* 0: no all-reduce measured */
    double allreduce_alpha_s, allreduce_beta_Bps; /* t(bytes) = alpha + bytes / beta over allreduce_ranks */
    char source[256];                   /* the database they come from ("" when nothing was measured) */
} pp_comm_measured;

#endif /* PP_COST_H */
