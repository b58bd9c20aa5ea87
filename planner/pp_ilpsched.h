/*
 * pp_ilpsched.h -- the ILP schedule: for a given partition (one stage per
 * rank) and a small p x m, GLPK orders the F, I and W passes of each rank
 * to minimise the makespan under a per-rank activation-memory cap, after
 * the formulation of the Zero Bubble paper (arXiv 2401.10241, section 3.2).
 * It is warm-started from the best generated schedule that fits the cap
 * (1F1B, ZB-H1, ZB-H2), fed better orders by a local search over the
 * passes' orders (GLPK's primal heuristic), time-limited, and never returns
 * a schedule worse than that warm start. The formulation is spelled out at
 * the top of pp_ilpsched.c.
 */
#ifndef PP_ILPSCHED_H
#define PP_ILPSCHED_H

#include "core/pp_err.h"
#include "core/pp_sched.h"

typedef struct pp_ilpsched_problem {
    int p, m;
    const double *t_f, *t_i, *t_w; /* [p] seconds per microbatch */
    const double *act_f, *act_w;   /* [p] bytes kept F -> I and I -> W; NULL = 1 and 0 */
    double comm_s;                 /* time of a hop between neighbouring ranks */
    double mem_cap;                /* per-rank activation bytes; <= 0 = none */
} pp_ilpsched_problem;

typedef struct pp_ilpsched_result {
    pp_sched sched;          /* compute-only table with split I and W */
    double makespan;         /* simulated, seconds */
    double warm_makespan;    /* simulated, the warm start with its B split into I then W */
    char warm_name[16];      /* the generated schedule it started from */
    char status[16];         /* "optimal" (GLPK proved it), "feasible", "time-limit" (better than the warm
                              * start, not proved), "warm-start" (nothing better found; proved optimal when
                              * gap is 0) */
    double gap;              /* GLPK's relative gap at the end; 0 proved; -1 unknown */
    double solve_s;          /* wall time of the whole call */
} pp_ilpsched_result;

/* Solves within time_limit_s (> 0) seconds of search; returns 0 or -1 (err:
 * bad problem, act_w > act_f, a model too large, no generated schedule fits
 * the cap -- the message names a cap that would fit). */
int pp_ilpsched_solve(const pp_ilpsched_problem *pr, double time_limit_s, pp_ilpsched_result *out, pp_err *err);
void pp_ilpsched_result_free(pp_ilpsched_result *r);

#endif /* PP_ILPSCHED_H */
