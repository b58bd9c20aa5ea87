/*
 * pp_search.h -- the plan search: over pipeline degree (and data-parallel
 * degree when the cluster has more devices than stages), schedule
 * (GPipe, 1F1B, interleaved with v, ZB-H1, ZB-H2, ZBV) and microbatch count
 * for the global batch, each candidate partitioned (exact DP, under the
 * memory its schedule needs) and simulated; the best predicted throughput
 * that fits in memory wins, and its partition is then proven optimal by the
 * GLPK MILP. pp_search_make_plan turns a candidate into a plan;
 * pp_search_choose (the winner, or why nothing fits), pp_search_plan_from_csv
 * (a given table instead of a search) and pp_search_write_plan (the plan
 * file, its hash, name and costs source) take `pippy plan` from options to
 * the file it writes. Their text and JSON: pp_search_print.h.
 */
#ifndef PP_SEARCH_H
#define PP_SEARCH_H

#include "core/pp_cluster.h"
#include "core/pp_cost.h"
#include "core/pp_err.h"
#include "core/pp_plan.h"
#include "core/pp_zoo.h"
#include "planner/pp_partition.h"
#include "planner/pp_schedgen.h"

typedef struct pp_search_opts {
    const pp_model_config *cfg;
    const pp_cluster *cluster;
    int global_batch;
    int seq;
    int pp;                 /* 0: search */
    int dp;                 /* data-parallel replicas; 0: search (the most the devices allow) */
    int microbatches;       /* 0: search */
    int v;                  /* stages per rank for interleaved (0: 2) */
    int schedule;           /* pp_schedule_kind, or -1: search */
    double mem_cap;         /* bytes per device; 0: the cluster's */
    int granularity_op;     /* split anywhere, not only at block boundaries */
    const char *split_at;   /* "h.3,h.7": manual split points (blocks), or NULL */
    double flops_per_s;     /* device rate for FLOP-estimated costs; 0: pp_predict_rate's rule */
    double time_limit_s;    /* MILP time limit */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
    /* Measured costs for a graph (from the profiles in the database): fill
     * *out and return 1, return 0 to fall back on FLOP estimates, -1 on
     * error. NULL: always FLOP estimates. used_measured counts the
     * micro-batch sizes that had them. */
    int (*measured_cost)(void *ctx, const pp_graph *g, pp_cost_profile *out, pp_err *err);
    void *measured_ctx;
    int used_measured, used_estimated;
    /* Links and all-reduce measured on the cluster's devices (costs/), for
     * every candidate's prediction (simulator/pp_predict.h); NULL: none. */
    const pp_comm_measured *comm;
} pp_search_opts;

typedef struct pp_candidate {
    int pp, dp, v, m, micro_batch;
    int schedule;           /* pp_schedule_kind */
    int fits;
    double iteration_s, samples_per_s, tokens_per_s, bubble;
    double peak_mem, mem_limit; /* the rank with the highest memory use, and its device's limit */
    int worst_rank;
    double bottleneck;      /* partition's bottleneck stage time */
    int n_stages;
    int *bounds;            /* [n_stages + 1] op indices */
    char note[256];         /* why it does not fit, or "" */
} pp_candidate;

/* Runs the search. *out (caller frees with pp_search_free) is sorted: fitting
 * candidates by throughput, then the others by how little they overflow.
 * Returns 0 (even when nothing fits: check out[0].fits) or -1 (err). */
int pp_search(const pp_search_opts *o, pp_candidate **out, int *n, pp_err *err);
void pp_search_free(pp_candidate *c, int n);

/* The plan for a candidate: partition re-solved by the MILP (warm-started
 * from the DP, recorded in plan.planner), schedule table, devices,
 * prediction. Returns 0 or -1 (err). The caller frees with pp_plan_free. */
int pp_search_make_plan(const pp_search_opts *o, const pp_candidate *c, pp_plan *plan, pp_err *err);

/* The winner of a search: the plan (pp_search_make_plan) for c[0] when it
 * fits; when nothing fits (or n is 0), -1 with err naming the closest
 * candidate and why it does not fit. The caller frees *plan with
 * pp_plan_free (also after an error). */
int pp_search_choose(const pp_search_opts *o, const pp_candidate *c, int n, pp_plan *plan, pp_err *err);

/* The schedule name recorded for a table read from the file at `path`:
 * "csv:" and the file's base name without ".csv", cut to 27 characters.
 * Writes at most n bytes (n >= 1) to name, always terminated. */
void pp_search_table_name(const char *path, char *name, size_t n);

/* Which costs a plan's prediction stands on, for its graph g: the measured
 * profile's source when o->measured_cost has one, else that of the FLOP
 * estimates at pp_predict_rate's rate. Writes at most n bytes to out
 * (terminated). Returns 0, or -1 with err (the callback failed). */
int pp_search_costs_source(const pp_search_opts *o, const pp_graph *g, char *out, size_t n, pp_err *err);

/* The plan for a given schedule table (e.g. one of PyTorch's CSV tables):
 * pipeline degree = the table's ranks, stages placed as its cells say,
 * microbatches = its count (global batch / microbatches sequences each,
 * dp 1), the split by the exact DP under each stage's memory (the
 * device's memory shared by the stages of its rank, every microbatch
 * counted in flight), simulated with the table itself. `name` is the
 * schedule name recorded in the plan. Returns 0 or -1 (err: the table is
 * invalid or deadlocks, the batch does not divide, nothing fits). The
 * caller frees with pp_plan_free. */
int pp_search_plan_from_table(const pp_search_opts *o, const pp_sched *table, const char *name, pp_plan *plan,
                              pp_err *err);

/* The plan for the schedule table in the CSV file at path (PyTorch's,
 * either naming, core/pp_sched.h): read, named by pp_search_table_name and
 * planned by pp_search_plan_from_table; *found is the naming read. Returns
 * 0, or -1 with err (the file's own errors as the reader reports them, the
 * planning errors prefixed with path). The caller frees *plan with
 * pp_plan_free (also after an error). */
int pp_search_plan_from_csv(const pp_search_opts *o, const char *path, pp_plan *plan, pp_sched_naming *found,
                            pp_err *err);

/* A plan written out: its file's text, hash, model size, which costs its
 * prediction stands on, and its name. */
typedef struct pp_search_plan_file {
    char *json;        /* the plan file's text (malloc'ed; free with pp_search_plan_file_free) */
    size_t len;
    char hash[65];     /* pp_plan_hash */
    long long params;  /* the model's parameter count */
    char costs[256];   /* pp_search_costs_source */
    char name[256];    /* what it is called when stored: MODEL-SCHEDULE-ppP-dpD */
} pp_search_plan_file;

/* Builds the plan's graph (o->cfg at the plan's micro-batch, sequence length
 * and dtype), writes the plan file's text, hashes it, writes it atomically to
 * path (core/pp_io.h) and then finds the costs source, in that order. Returns
 * 0, or -1 with err (the file may be written when only the costs source
 * failed). Free *f with pp_search_plan_file_free either way. */
int pp_search_write_plan(const pp_search_opts *o, const pp_plan *plan, const char *path, pp_search_plan_file *f,
                         pp_err *err);
void pp_search_plan_file_free(pp_search_plan_file *f);

/* What the report draws as "throughput against microbatch count": for each
 * schedule kinds[i] and count ms[j], the best tokens/s the search predicts
 * with o's model, cluster, costs and pp at plan's dp and micro-batch (a
 * candidate that fits before one that does not), into out[i * nm + j];
 * -1 where the search makes none (the reason logged at info level). o's
 * schedule, microbatches, global batch and v are set per point (an
 * interleaved point keeps the plan's virtual stages when it has some).
 * Returns 0, or -1 with err when out of memory. */
int pp_search_throughput(const pp_search_opts *o, const pp_plan *plan, const pp_schedule_kind *kinds, int nk,
                         const int *ms, int nm, double *out, pp_err *err);

/* Replaces the plan's schedule by the ILP schedule (pp_ilpsched.h) when it
 * is faster under the plan's activation memory, and records the solver's
 * status in plan->planner either way. Needs one stage per rank and p x m
 * <= 256. Returns 0 or -1 (err). */
int pp_search_ilp_schedule(const pp_search_opts *o, pp_plan *plan, double time_limit_s, pp_err *err);

/* Costs per unit of the chain for a graph: units are blocks (or ops), with
 * times from a cost profile. Arrays malloc'ed in *c (free with
 * pp_search_chain_free); unit_op[i] is the first op of unit i (n + 1 entries). */
typedef struct pp_unit_chain {
    pp_chain chain;
    double *t, *param_bytes, *act_bytes, *cut_bytes;
    int *unit_op;
} pp_unit_chain;
int pp_search_chain(const pp_graph *g, const double *op_time, int by_op, pp_unit_chain *c, pp_err *err);
void pp_search_chain_free(pp_unit_chain *c);

#endif /* PP_SEARCH_H */
