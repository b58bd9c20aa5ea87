/*
 * pp_run.h -- a run of a plan on this rank: the loop `pippy run --plan`
 * drives on every rank, over the executor (pp_exec.h).
 *
 *     pp_run_opts o;
 *     pp_run_opts_init(&o);
 *     o.steps = 100; o.checkpoint_dir = "ckpt"; o.on_note = print; ...
 *     pp_run_result r;
 *     if (pp_run_plan(x, c, &o, &r, &err)) ...   // r.together: all ranks failed alike
 *     ... r.steps[0 .. r.n_done), r.median_s, r.stop_sig, r.stop_msg
 *     pp_run_result_free(&r);
 *
 * The loop: open the checkpoint folder (new, resume or overwrite: see
 * pp_exec_ckpt_open), then steps first .. last, where first is what a
 * resumed checkpoint holds and last the end of the run or first +
 * stop_after. Before each step the ranks agree whether any was signalled
 * (pp_launch_rank_signal); if so they stop together, after a checkpoint of
 * the steps done. A checkpoint every checkpoint_every steps and at the
 * end. Then the measured events and the ranks' figures are gathered on
 * rank 0, and the step time is the median (pp_stats_median) of the steps
 * after the first of this invocation (the first pays page faults and cold
 * caches), or the only step.
 */
#ifndef PP_RUN_H
#define PP_RUN_H

#include "comm/pp_comm.h"
#include "core/pp_err.h"
#include "executor/pp_exec.h"

typedef enum pp_run_note_kind {
    PP_RUN_RESUMED,    /* step: the first step this invocation runs (0-based) */
    PP_RUN_STARTING,   /* step, last: steps step .. last - 1 are to run */
    PP_RUN_STEP,       /* step done (0-based), result */
    PP_RUN_CHECKPOINT, /* step: the steps the checkpoint holds */
    PP_RUN_STOPPING,   /* message: why the ranks stop early */
} pp_run_note_kind;

typedef struct pp_run_note {
    pp_run_note_kind kind;
    int step, last;
    const pp_exec_step_result *result;
    const char *message;
} pp_run_note;

typedef struct pp_run_opts {
    int steps;                /* total steps of the run (the learning-rate schedule's length) */
    int stop_after;           /* stop after this many steps of this invocation (0: to the end) */
    const char *checkpoint_dir; /* NULL: no checkpoints */
    int checkpoint_every;     /* steps between checkpoints (0: only at the end) */
    pp_exec_ckpt_mode ckpt_mode;
    const char *plan_hash;    /* what checkpoints are tied to */
    /* Called on every rank for what happens (a caller prints on rank 0). */
    void (*on_note)(void *ctx, const pp_run_note *n);
    void *ctx;
} pp_run_opts;

void pp_run_opts_init(pp_run_opts *o);

typedef struct pp_run_result {
    int first, n_done;             /* steps first .. first + n_done - 1 ran */
    pp_exec_step_result *steps;    /* [n_done] */
    int stop_sig;                  /* the signal that stopped the run early, or 0 */
    char stop_msg[256];            /* "interrupted by ... after N steps (steps a..b of S)" */
    double median_s;               /* the step time (see above); 0 without steps */
    int median_of;                 /* how many steps it is the median of */
    int first_left_out;            /* 1 when the first step was left out */
    pp_run_event *ev;              /* rank 0: the measured events of every rank */
    long long n_ev;
    pp_run_rank *ranks;        /* rank 0: [pp_comm_size] each rank's figures */
    int together;                  /* after a failure: every rank failed with the same message */
} pp_run_result;

/* Runs the steps of o on this rank with x (made by pp_exec_create over c).
 * Collective: every rank calls it. Returns 0 with *r filled (a run stopped
 * by a signal is a success here: r->stop_sig says so), or -1 with err and
 * r->together set when every rank got the failing rank's message. Free *r
 * with pp_run_result_free in both cases. */
int pp_run_plan(pp_exec *x, pp_comm *c, const pp_run_opts *o, pp_run_result *r, pp_err *err);
void pp_run_result_free(pp_run_result *r);

#endif /* PP_RUN_H */
