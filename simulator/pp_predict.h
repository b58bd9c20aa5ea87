/*
 * pp_predict.h -- the one path from a layout to its prediction. The
 * planner's search (every candidate and the chosen plan), `pippy sim` (a
 * plan, a what-if, a schedule table), `pippy report`, `pippy run` and
 * `pippy validate` all call pp_predict, so a plan has one prediction
 * whichever command prints it.
 *
 * The rules, each in one place here:
 *   - Op costs: the measured profile when the caller has one (the costs
 *     module finds it for the cluster's devices), else the graph's FLOPs at
 *     pp_predict_rate: the --tflops figure, else half the first device's
 *     peak (what dense layers reach), else 1 TFLOP/s. No graph: unit costs
 *     (F = I = W = 1 s per stage and microbatch).
 *   - Device speed: a stage's times are divided by its device's speed
 *     relative to the cluster's first device (the one the costs stand
 *     for); with data parallelism the slowest replica sets the pace.
 *   - Links between two ranks (pp_predict_link): the what-if figures when
 *     given; else, for two devices on one host (or any two when the spec has
 *     no inter-host link), the links measured on this kind of machine when
 *     there are some; else the spec's link between the two hosts; else free.
 *   - Data-parallel and tied gradients: the measured all-reduce when there
 *     is one (as the per-hop figures of a ring that reproduce it); else, for
 *     data parallelism, the ring's slowest hop (the highest latency and the
 *     lowest bandwidth between neighbouring replicas' devices), and for tied
 *     gradients the links between the ranks.
 *   - Memory: a rank's limit is its device's memory (or mem_cap); the
 *     layout fits when no rank's predicted peak exceeds it.
 */
#ifndef PP_PREDICT_H
#define PP_PREDICT_H

#include "core/pp_cluster.h"
#include "core/pp_cost.h"
#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "core/pp_plan.h"
#include "core/pp_sched.h"
#include "simulator/pp_sim.h"

typedef struct pp_predict_input {
    /* What runs. */
    const pp_sched *sched;       /* the table: compute-only or with comms */
    const pp_graph *g;           /* the model for one microbatch; NULL: unit costs */
    const int *bounds;           /* [n_stages + 1] op indices; NULL: blocks split evenly */
    int dp;                      /* data-parallel replicas (0 or 1: none) */
    /* [n_stages * dp] the device of stage s in replica d at [s * dp + d];
     * NULL: rank r's replica d on device d * ranks + r (the planner's
     * placement). Ignored without a cluster. */
    const int *stage_devices;
    double samples_per_step, tokens_per_step;
    /* Where, and what is known of its costs. */
    const pp_cluster *cluster;   /* NULL: speeds 1, no spec links, no memory limit */
    const pp_cost_profile *cost; /* measured op costs for g; NULL: FLOP estimates */
    const pp_comm_measured *comm; /* NULL: nothing measured */
    double flops_per_s;          /* rate for FLOP estimates; 0: the default rule */
    double link_alpha_s;         /* what-if latency of every link; < 0: none */
    double link_beta_Bps;        /* what-if bandwidth of every link; <= 0: none */
    double mem_cap;              /* bytes per device instead of the spec's; 0: the spec's */
    /* What comes back (as in pp_sim_input). */
    int want_trace, want_timeline, want_critical_path;
    int any_order;               /* faster, same figures (see pp_sim_input) */
} pp_predict_input;

/* Fills *in with no layout and the defaults (no what-if links). */
void pp_predict_input_init(pp_predict_input *in);

typedef struct pp_prediction {
    pp_sim_result sim;           /* iteration time, throughput, bubbles, memory, trace */
    int n_stages, n_ranks;
    double *stage_t;             /* [3 n_stages] F, I, W seconds per microbatch, after device speed */
    double *mem_limit;           /* [n_ranks] bytes (0: unknown) */
    int fits;                    /* every rank's peak within its limit (1 when no limit is known) */
    int worst_rank;              /* the rank with the highest peak / limit (or peak) */
    char cost_source[256];       /* which op costs */
    char link_source[512];       /* which links and all-reduce */
} pp_prediction;

/* The layout of a what-if or a schedule table (no plan): sets in->sched =
 * s, in->g = g (NULL: unit costs), in->dp = dp, and the step's samples
 * (micro_batch x the table's microbatches x dp) and tokens (samples x
 * seq); both 0 without a graph (no throughput). */
void pp_predict_input_layout(pp_predict_input *in, const pp_sched *s, const pp_graph *g, int dp, int micro_batch,
                             int seq);

/* The what-if figures in the units `pippy sim` takes them: tflops (<= 0:
 * the default rate rule), link_us (< 0: none) and link_gbit (<= 0: none)
 * into in->flops_per_s, link_alpha_s and link_beta_Bps (bytes/s). */
void pp_predict_input_whatif(pp_predict_input *in, double tflops, double link_us, double link_gbit);

/* Predicts one step of the layout. Returns 0 and fills *out (free with
 * pp_prediction_free, also after a failure), or -1 with err: a table that
 * fails pp_sched_check, bounds that do not cover the graph, a device index
 * outside the cluster, or a deadlock. */
int pp_predict(const pp_predict_input *in, pp_prediction *out, pp_err *err);
void pp_prediction_free(pp_prediction *p);

/* The same for a plan: its table, stages (op ranges, devices), dp, batch and
 * cluster; g is the plan's graph (NULL: unit costs). `in` gives costs,
 * what-if figures and what to return (NULL: defaults); its layout fields
 * are ignored, except that a table in in->sched is predicted instead of
 * the plan's (the same stages in another order). */
int pp_predict_plan(const pp_plan *plan, const pp_graph *g, const pp_predict_input *in, pp_prediction *out,
                    pp_err *err);

/* Copies the prediction into plan->prediction (iteration time, throughput,
 * bubble, each rank's peak memory). Returns 0 or -1 (out of memory). */
int pp_prediction_to_plan(const pp_prediction *p, pp_plan *plan, pp_err *err);

/* The rate for FLOP-estimated costs: flops_per_s when > 0, else half the
 * cluster's first device's peak, else 1e12. cl may be NULL. */
double pp_predict_rate(const pp_cluster *cl, double flops_per_s);

/* The speed of device dev relative to the cluster's first device (1 without
 * a cluster or a figure). */
double pp_predict_speed(const pp_cluster *cl, int dev);

/* The latency and bandwidth (beta 0: infinite) between devices a and b by
 * the rule above; in gives the cluster, comm and what-if figures. */
void pp_predict_link(const pp_predict_input *in, int a, int b, double *alpha, double *beta);

/* The per-hop figures a ring all-reduce model needs to reproduce a
 * measurement over n_ranks: 2 (N - 1) hop_alpha + 2 (N - 1) / N bytes /
 * hop_beta = alpha + bytes / beta. */
void pp_predict_allreduce_hops(int n_ranks, double alpha, double beta, double *hop_alpha, double *hop_beta);

#endif /* PP_PREDICT_H */
