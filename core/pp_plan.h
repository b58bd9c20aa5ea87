/*
 * pp_plan.h -- the plan: everything needed to run (and to predict) one
 * pipeline-parallel training configuration, as a versioned JSON file.
 *
 *   {
 *     "pippy_plan": 1,
 *     "model":    {"hash": "<sha256 of the config>", "config": {...}},
 *     "cluster":  {...cluster spec...},
 *     "batch":    {"global_batch": 32, "micro_batch": 4, "n_microbatches": 8,
 *                  "seq_len": 64, "dtype": "f32"},
 *     "parallel": {"pp": 2, "dp": 1, "virtual_stages": 1},
 *     "stages": [
 *       {"index": 0, "ops": [0, 23], "first_op": "embed", "last_op": "h.1.add_2",
 *        "rank": 0, "devices": ["localhost:0"]}, ...],
 *     "schedule": {"name": "1f1b", "table": [["0F0", "0F1", ...], [...]]},
 *     "tied":     [{"param": "wte.weight", "stages": [0, 1]}],
 *     "prediction": {...},          (optional)
 *     "planner":    {...}           (optional)
 *   }
 *
 * Stage s holds ops [ops[0], ops[1]) of the model's graph (built for
 * micro_batch x seq_len in dtype) and lives on pipeline rank `rank`; with
 * data parallelism (dp > 1) replica d of the pipeline runs on global rank
 * d * pp + rank, on device devices[d]. The schedule has one row per
 * pipeline rank, in PyTorch's action naming (current naming); every replica
 * runs the same table. "tied" lists parameters held by more than one stage,
 * whose gradients are summed before the optimizer step.
 *
 * Loading checks everything that can be checked without running: the format
 * version, the model hash, that stages tile the graph in order with the op
 * names given, ranks and devices, the batch arithmetic, that every schedule
 * action names a stage of its rank and a microbatch in range, that the table
 * gives every stage x microbatch its passes and cannot deadlock
 * (pp_sched_check), and the tied list. Errors name the file, line, column and field.
 */
#ifndef PP_PLAN_H
#define PP_PLAN_H

#include <stddef.h>

#include "core/pp_cluster.h"
#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "core/pp_sched.h"
#include "core/pp_zoo.h"

#define PP_PLAN_VERSION 1

typedef struct pp_plan_stage {
    int index;
    int op_lo, op_hi;  /* [op_lo, op_hi) */
    int rank;          /* pipeline rank, 0 .. pp-1 */
    int *devices;      /* dp entries: cluster device index of each replica */
} pp_plan_stage;

typedef struct pp_plan_tied {
    char *param;
    int *stages;
    int n_stages;
} pp_plan_tied;

typedef struct pp_plan_prediction {
    int present;
    double iteration_s;
    double samples_per_s;
    double tokens_per_s;
    double bubble_fraction;  /* idle / (ranks x iteration time) */
    double *peak_memory_bytes; /* per pipeline rank, pp entries */
} pp_plan_prediction;

typedef struct pp_plan_planner {
    int present;
    char method[32];   /* "uniform", "params", "dp", "milp", "manual" */
    char status[32];   /* "optimal", "feasible", "heuristic", ... */
    double gap;        /* relative MIP gap, 0 when proven optimal */
    double solve_s;
    /* The ILP schedule, when it ordered the passes (optional). */
    int ilp_present;
    char ilp_status[32];  /* "optimal", "feasible", "time-limit", "warm-start" */
    char ilp_warm[16];    /* the generated schedule it started from */
    double ilp_gap, ilp_solve_s;
    double ilp_makespan_s, ilp_warm_makespan_s;
} pp_plan_planner;

typedef struct pp_plan {
    int version;
    pp_model_config model;
    char model_hash[65];
    pp_cluster cluster;
    int global_batch, micro_batch, n_microbatches, seq_len;
    pp_dtype dtype;
    int pp, dp, virtual_stages;
    pp_plan_stage *stages;   /* pp x virtual_stages, by index */
    int n_stages;
    char schedule_name[32];
    pp_sched schedule;
    pp_plan_tied *tied;
    int n_tied;
    pp_plan_prediction prediction;
    pp_plan_planner planner;
} pp_plan;

void pp_plan_free(pp_plan *p);

/* Reads and checks a plan (see above). Returns 0, or -1 with err naming the
 * file, line, column and field. */
int pp_plan_parse(const char *text, size_t len, const char *file, pp_plan *out, pp_err *err);
int pp_plan_load(const char *path, pp_plan *out, pp_err *err);

/* What every command that runs or predicts a plan starts with: loads the
 * plan, builds its model's graph (pp_zoo_build for its micro-batch,
 * sequence and dtype) and, when hash is not NULL, its content hash
 * (pp_plan_hash). Returns 0 with *out and *g (free both: pp_plan_free,
 * pp_graph_free), or -1 with err and nothing to free. */
int pp_plan_open(const char *path, pp_plan *out, pp_graph *g, char hash[65], pp_err *err);

/* Consistency of a plan in memory with its model's graph (built by the
 * caller for micro_batch x seq_len in dtype), its schedule table included
 * (pp_sched_check against n_stages x n_microbatches); the loader and the
 * writer run it too. */
int pp_plan_check(const pp_plan *p, const pp_graph *g, pp_err *err);

/* Fills p->tied from the graph and the stage ranges. */
int pp_plan_derive_tied(pp_plan *p, const pp_graph *g, pp_err *err);

/* Writes the plan as JSON (*out malloc'ed), or atomically to a file. */
int pp_plan_write(const pp_plan *p, const pp_graph *g, char **out, size_t *len, pp_err *err);
int pp_plan_save(const pp_plan *p, const pp_graph *g, const char *path, pp_err *err);

/* SHA-256 hex of the plan's content: its identity in the database, in
 * measured runs and in checkpoints. That is the JSON text pp_plan_write
 * writes, less how long and how sure the planner's search was -- "planner"
 * "status", "gap" and "solve_s", and the same three of "schedule_ilp" --
 * which differ between runs of the planner on the same inputs (timings, a
 * time-limited solver stopping elsewhere on a slower or busier host). Two
 * plans that differ in nothing else share a hash. Returns 0, or -1 with err
 * set (an inconsistent plan, out of memory). */
int pp_plan_hash(const pp_plan *p, const pp_graph *g, char hex[65], pp_err *err);

#endif /* PP_PLAN_H */
