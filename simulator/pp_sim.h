/*
 * pp_sim.h -- the discrete-event simulator of a pipeline step. It never
 * reads a clock: time is what the cost inputs say.
 *
 * Each rank executes its action list in order on one compute stream. An F,
 * I, W or B of stage s takes t_f[s], t_i[s], t_w[s] or t_i[s] + t_w[s]; an
 * OVERLAP_F_B runs its forward and backward back to back on the stream
 * (these dense models have no all-to-all for the overlap to hide). Sends
 * never block the sender and overlap compute: a message from rank a to rank
 * b waits for the directed link a -> b to be free (FIFO) and then takes
 * alpha + bytes / beta. A receive waits for its messages. Tensors that skip
 * stages go straight from the producing stage to every consuming stage
 * (xfer[s][t] bytes for t > s + 1), gradients the other way. In a
 * compute-only table the sends are implied after the compute actions; in a
 * compute_comms table they happen at the SEND cells. A RECV cell posts its
 * receive without blocking (as PyTorch's runtime does); the compute action
 * that needs the data waits for it.
 * Stages on the same rank hand over in memory: the consumer must come later
 * in the rank's list, or the step deadlocks (reported).
 *
 * After its last action, a rank sums tied gradients (ring all-reduce among
 * the ranks holding the tied stages), all-reduces its stages' gradients
 * across data-parallel replicas (ring: 2 (dp - 1) alpha + 2 (dp - 1) / dp *
 * bytes / beta), and takes the optimizer step; ALLREDUCE and OPTIM cells
 * place them explicitly instead.
 *
 * Outputs: iteration time; throughput; per-rank busy and idle time and the
 * bubble in both common definitions -- idle / total (idle over ranks x
 * iteration time) and idle / ideal (idle over busy time); activation and
 * total memory per rank, their peaks and (on request) their timelines; the
 * peak number of microbatches in flight per rank; the critical path; the
 * trace.
 */
#ifndef PP_SIM_H
#define PP_SIM_H

#include "core/pp_err.h"
#include "core/pp_sched.h"
#include "core/pp_trace.h"

typedef struct pp_sim_input {
    const pp_sched *sched;
    int n_stages;            /* must cover every stage of the table */
    const double *t_f, *t_i, *t_w; /* [n_stages] seconds per microbatch */
    const double *xfer;      /* [n_stages * n_stages] bytes s -> t per microbatch (t > s); NULL: nothing */
    const double *alpha, *beta; /* [n_ranks * n_ranks]; NULL: free links; beta 0 = infinite */
    const double *act_f, *act_w; /* [n_stages] bytes kept F -> I and I -> W per microbatch; may be NULL */
    /* [n_stages] peak bytes of a microbatch inside its F (from its inputs on)
     * and inside its I (from what F kept plus the output gradients); may be
     * NULL (then memory changes only between passes). */
    const double *peak_f, *peak_i;
    const double *param_bytes;   /* [n_stages]; may be NULL */
    double state_per_param_byte; /* extra bytes per parameter byte held (grads + optimizer), e.g. 3 */
    /* Per-hop latency and bandwidth of the ring all-reduce of tied
     * gradients (measured all-reduce, see pp_linkprof_allreduce); beta 0:
     * the links between the ranks instead. */
    double coll_alpha, coll_beta;
    int dp;                  /* data-parallel replicas (1 = none) */
    double dp_alpha, dp_beta; /* the replicas' link */
    const double *optim_s;   /* [n_stages] optimizer step time; may be NULL */
    int n_tied;              /* tied parameter groups */
    const int *tied_n;       /* [n_tied] stages in group i */
    const int *tied_stages;  /* concatenated stage lists */
    const double *tied_bytes; /* [n_tied] */
    double samples_per_step, tokens_per_step;
    int want_trace, want_timeline, want_critical_path;
    /* 1: run ranks in any order instead of time order. The times, memory and
     * bubbles computed are the same (see pp_sim.c), the work per action
     * smaller; the trace and, among equally critical paths, the one reported
     * may differ in order. */
    int any_order;
} pp_sim_input;

typedef struct pp_sim_point {
    double t, bytes;
} pp_sim_point;

typedef struct pp_sim_step {
    int rank, index;         /* action index in the rank's row */
    double start, end;
} pp_sim_step;

typedef struct pp_sim_result {
    int n_ranks;
    double iteration_s, samples_per_s, tokens_per_s;
    double *busy, *idle;            /* [n_ranks] seconds (compute on the stream) */
    double *end;                    /* [n_ranks] when the rank's list ended */
    double *bubble_total;           /* [n_ranks] idle / iteration time */
    double *bubble_ideal;           /* [n_ranks] idle / busy */
    double bubble_total_all;        /* sum idle / (ranks x iteration time) */
    double bubble_ideal_all;        /* sum idle / sum busy */
    double *peak_act_bytes, *peak_total_bytes; /* [n_ranks] */
    int *peak_inflight;             /* [n_ranks] microbatch-stages with F done, B/W not */
    pp_sim_point **timeline;        /* [n_ranks] activation bytes over time (want_timeline) */
    int *timeline_n;
    pp_sim_step *critical;          /* critical path, first to last (want_critical_path) */
    int n_critical;
    pp_trace trace;                 /* (want_trace) */
    long long n_actions;            /* actions executed */
    long long n_messages;
} pp_sim_result;

/* Simulates one step. Returns 0, or -1 with err (bad input, or a deadlock
 * naming the blocked ranks and what they wait for). */
int pp_sim_run(const pp_sim_input *in, pp_sim_result *out, pp_err *err);
void pp_sim_result_free(pp_sim_result *r);

#endif /* PP_SIM_H */
