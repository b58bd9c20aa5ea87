/*
 * pp_partition.h -- splitting a chain of units (blocks, or ops with
 * --granularity op) into S contiguous pipeline stages.
 *
 * The chain: unit i costs t[i] seconds per microbatch (F + I + W on a
 * device of speed 1), holds param_bytes[i] of parameters and keeps
 * act_bytes[i] of activations per microbatch in flight; a cut right before
 * unit i (0 < i < n) sends cut_bytes[i] per microbatch forward (and as many
 * gradient bytes back), skip connections included.
 *
 * Stage position s (0 .. S-1) runs on a device of relative speed speed[s]
 * and memory mem[s] bytes, keeps inflight[s] microbatches in flight (what
 * the schedule keeps on that rank: 1F1B S - s, GPipe m, ...), and reaches
 * position s + 1 over a link of latency alpha[s] and bandwidth beta[s]
 * bytes/s (beta 0 = infinite).
 *
 *   time(s)   = sum_{i in s} t[i] / speed[s] + comm(s)
 *   comm(s)   = 2 (alpha[s] + cut_bytes[end of s] / beta[s])   for s < S-1, else 0
 *   memory(s) = sum_{i in s} (param_bytes[i] (1 + state_per_param_byte)
 *                             + act_bytes[i] inflight[s])  <=  mem[s]
 *   bottleneck = max_s time(s), minimised.
 *
 * A partition is bounds[0 .. S]: stage s holds units [bounds[s], bounds[s+1]),
 * bounds[0] = 0, bounds[S] = n, every stage non-empty.
 */
#ifndef PP_PARTITION_H
#define PP_PARTITION_H

#include <stddef.h>

#include "core/pp_err.h"

typedef struct pp_chain {
    int n;
    const double *t;            /* [n] */
    const double *param_bytes;  /* [n]; may be NULL (0) */
    const double *act_bytes;    /* [n]; may be NULL (0) */
    const double *cut_bytes;    /* [n + 1]; cut_bytes[i] crosses a cut before unit i; may be NULL */
} pp_chain;

typedef struct pp_stage_slots {
    int S;
    const double *speed;        /* [S]; NULL = all 1 */
    const double *mem;          /* [S] bytes; NULL = unlimited */
    const double *inflight;     /* [S]; NULL = all 1 */
    const double *alpha, *beta; /* [S - 1]; NULL = free links */
    double state_per_param_byte; /* gradients + optimizer state per parameter byte (3 for fp32 AdamW) */
} pp_stage_slots;

typedef struct pp_partition {
    int S;
    int *bounds;                /* [S + 1], malloc'ed */
    double bottleneck;          /* seconds */
    int feasible;               /* every stage fits its memory */
    char method[16];            /* "uniform", "params", "dp", "milp", "brute", "manual" */
    char status[16];            /* "optimal", "feasible", "heuristic", "infeasible", "time-limit" */
    double lower_bound;         /* proven lower bound on the bottleneck (milp, dp: = bottleneck) */
    double gap;                 /* (bottleneck - lower_bound) / bottleneck */
    double solve_s;             /* wall time */
} pp_partition;

void pp_partition_free(pp_partition *p);

/* Stage time and memory of units [lo, hi) at position s. */
double pp_partition_stage_time(const pp_chain *c, const pp_stage_slots *d, int s, int lo, int hi);
double pp_partition_stage_memory(const pp_chain *c, const pp_stage_slots *d, int s, int lo, int hi);
/* Fills bottleneck and feasible of a partition whose bounds are set. */
void pp_partition_evaluate(const pp_chain *c, const pp_stage_slots *d, pp_partition *p);

/* Baselines. Uniform: equal numbers of units per stage (Megatron-LM);
 * params: balanced parameter bytes (DeepSpeed's "parameters" method);
 * dp: exact minimum bottleneck under the memory limits by dynamic
 * programming (PipeDream), O(S n^2). Each returns 0 or -1 (err, e.g. S > n). A
 * dp with no feasible partition returns 0 with feasible = 0, status
 * "infeasible", and the partition that needs the least memory over its
 * limit. */
int pp_partition_uniform(const pp_chain *c, const pp_stage_slots *d, pp_partition *out, pp_err *err);
int pp_partition_by_params(const pp_chain *c, const pp_stage_slots *d, pp_partition *out, pp_err *err);
int pp_partition_dp(const pp_chain *c, const pp_stage_slots *d, pp_partition *out, pp_err *err);

/* The GLPK MILP (formulation in pp_partition.c): warm-started from `warm`
 * (may be NULL; typically the dp result) whose bottleneck is also an upper
 * bound, with the dp's valid lower bounds, time limit in seconds (<= 0:
 * none). status "optimal" when GLPK proves it, else "feasible"/"time-limit"
 * with the gap; never worse than a feasible warm start. With no feasible
 * partition: "infeasible", feasible = 0, and the warm start's partition (or
 * without one the dp's). */
int pp_partition_milp(const pp_chain *c, const pp_stage_slots *d, const pp_partition *warm, double time_limit_s,
                      pp_partition *out, pp_err *err);

/* Exhaustive search over all C(n-1, S-1) partitions (tests; n <= 24). */
int pp_partition_brute(const pp_chain *c, const pp_stage_slots *d, pp_partition *out, pp_err *err);

/* Which stage and how much: fills a message such as "stage 3 (units 40..59)
 * needs 93.1 GiB (params 61.0 GiB incl. optimizer state, activations 32.1
 * GiB for 4 microbatches in flight) but its device has 80.0 GiB". */
void pp_partition_explain_memory(const pp_chain *c, const pp_stage_slots *d, const pp_partition *p, char *buf,
                                 size_t n);

#endif /* PP_PARTITION_H */
