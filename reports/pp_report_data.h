/*
 * pp_report_data.h -- the report's data preparation: from what the
 * simulator predicted and what a run stored to the figures pp_report_write
 * draws (pp_report.h). Over plain structs only: the tool reads database
 * rows and the prediction and hands them over in the types below (core
 * types where there are some: pp_trace, pp_trace_event, the run records
 * of core/pp_record.h).
 *
 *   predicted side   the simulator's trace plus an optimizer bar per rank
 *                    (busy time its trace does not hold), memory over the
 *                    step (activations + static bytes), per-stage F and I+W
 *   measured side    the shown step's events rebased to start at 0, busy
 *                    time per rank, peak memory per rank (NaN where the run
 *                    stored no rank), per-stage means over the steps after
 *                    the first
 *   runs             which stored run a plan's report shows, and the
 *                    measured throughput: the median tokens/s per schedule
 *                    and microbatch count over the runs of the same shape
 *   step             which step of a run is shown, and a sentence saying why
 *
 * Medians are pp_stats_median's (core/pp_stats.h); relative errors
 * pp_stats_rel_error's, (measured - predicted) / measured.
 */
#ifndef PP_REPORT_DATA_H
#define PP_REPORT_DATA_H

#include <stddef.h>

#include "core/pp_err.h"
#include "core/pp_plan.h"
#include "core/pp_record.h"
#include "core/pp_trace.h"
#include "reports/pp_report.h"

/* ---- The predicted side -------------------------------------------------- */

/* What the simulator said of one step. Arrays are the caller's. */
typedef struct pp_report_sim {
    int n_ranks, n_stages;
    double iteration_s, tokens_per_s;
    const pp_trace *trace;               /* the step's events; may be NULL */
    const double *busy, *end;            /* [n_ranks]: compute + optimizer seconds; when the rank's list ended */
    const double *peak_total_bytes;      /* [n_ranks] */
    const double *peak_act_bytes;        /* [n_ranks] */
    const pp_report_series *act_bytes;   /* [n_ranks]: activation bytes (y) over seconds (x); may be NULL */
    const double *stage_t;               /* [3 n_stages]: F, I, W seconds per microbatch */
} pp_report_sim;

/* The predicted side as drawn, owned by the struct (pp_report_pred_free). */
typedef struct pp_report_pred {
    pp_trace trace;            /* the simulator's events, then the optimizer bars */
    pp_report_series *memory;  /* [n_ranks]: total bytes over the step */
    pp_report_point *mem_pts;  /* the points memory[] refers to */
    double *stage_fb;          /* [2 n_stages]: F, I + W seconds per microbatch */
} pp_report_pred;

/* Appends to out, for each rank r whose busy[r] exceeds the summed length
 * of its compute-stream events in trace by more than 1e-12 s, an optimizer
 * event of that excess length, placed to end with the step: starting at
 * max(end[r], iteration_s - excess), stage and microbatch -1. Returns 0, or
 * -1 with err (out of memory; out keeps what was added). */
int pp_report_optim_bars(const pp_trace *trace, const double *busy, const double *end, double iteration_s,
                         int n_ranks, pp_trace *out, pp_err *err);

/* Memory per rank over the step: memory[r] is act[r] with each point's y
 * raised by the rank's static bytes (peak_total[r] - peak_act[r]: weights,
 * gradients, optimizer state). act may be NULL (every series then empty).
 * On success *memory ([n_ranks]) and *pts (the points, one array) are
 * malloc'ed, the caller frees both. Returns 0, or -1 with err and both NULL. */
int pp_report_memory_timeline(const pp_report_series *act, int n_ranks, const double *peak_total,
                              const double *peak_act, pp_report_series **memory, pp_report_point **pts, pp_err *err);

/* fb[2s] = stage_t[3s] (F), fb[2s + 1] = stage_t[3s + 1] + stage_t[3s + 2]
 * (I + W), for s < n_stages. */
void pp_report_stage_fb(const double *stage_t, int n_stages, double *fb);

/* All of the above into *out (zeroed first). Returns 0, or -1 with err and
 * *out holding nothing to free. */
int pp_report_predicted(const pp_report_sim *in, pp_report_pred *out, pp_err *err);
/* Frees what *p owns and leaves it empty (a zeroed struct is fine). */
void pp_report_pred_free(pp_report_pred *p);

/* ---- The measured side --------------------------------------------------- */

/* A run's stored events and ranks are the records the executor measured
 * and the database keeps (core/pp_record.h): pp_run_event (an event with
 * the step it belongs to) and pp_run_rank (a rank's peak memory). */

/* What a run stored, in the order it stored it. Arrays are the caller's. */
typedef struct pp_report_run_data {
    const pp_run_event *ev;      /* every step's events */
    long long n_ev;
    const pp_run_rank *ranks;
    int n_rank_rows;
    int step;                            /* the step shown */
    int first_step, n_steps;             /* the run's first step, its step count */
    int n_stages, n_ranks;
} pp_report_run_data;

/* The measured side as drawn, owned by the struct (pp_report_meas_free). */
typedef struct pp_report_meas {
    pp_trace trace;            /* the shown step's events, times from 0 */
    double *busy;              /* [n_ranks]: compute + optimizer seconds of the shown step */
    double *peak_bytes;        /* [n_ranks]; NaN where the run stored no such rank */
    double *stage_fb;          /* [2 n_stages]: means over the steps after the first (all, with one step) */
} pp_report_meas;

/* Trace rebasing: appends to out the events of ev[0 .. n) whose step is
 * `step`, in their order, each shifted by the same amount so that the
 * earliest start among them is 0. Returns the number appended, or -1 with
 * err (out of memory). */
long long pp_report_rebase(const pp_run_event *ev, long long n, int step, pp_trace *out, pp_err *err);

/* peak[r] for r < n_ranks: the peak of the last row naming rank r, NaN for
 * a rank no row names; rows of ranks outside [0, n_ranks) are ignored. */
void pp_report_rank_peaks(const pp_run_rank *rows, int n, int n_ranks, double *peak);

/* pp_report_stage_means over the events of every step but first_step (all
 * of them when n_steps < 2). Returns 0, or -1 with err (out of memory). */
int pp_report_run_stage_means(const pp_run_event *ev, long long n, int first_step, int n_steps, int n_stages,
                              double *fb, pp_err *err);

/* All of the above into *out (zeroed first). Returns 0, or -1 with err and
 * *out holding nothing to free. */
int pp_report_measured(const pp_report_run_data *in, pp_report_meas *out, pp_err *err);
/* Frees what *m owns and leaves it empty (a zeroed struct is fine). */
void pp_report_meas_free(pp_report_meas *m);

/* ---- The page's header ---------------------------------------------------- */

/* The header of plan p's page into *in: model, schedule, pp, dp,
 * microbatches, micro-batch, sequence, global batch, stages, ranks (pp),
 * plan_hash = hash (the caller's string) and stage_rank, each stage's rank
 * in a malloc'ed array stored in *stage_rank too (the caller frees it).
 * Other fields are left as they are. Returns 0, or -1 with err (out of
 * memory; *in unchanged, *stage_rank NULL). */
int pp_report_input_plan(pp_report_input *in, const pp_plan *p, const char *hash, int **stage_rank, pp_err *err);

/* ---- Runs and steps ------------------------------------------------------- */

/* A stored run as the report chooses and summarises runs. Strings are the
 * caller's and must outlive what is made from them. */
typedef struct pp_report_run {
    long long id;
    const char *plan_hash, *model, *schedule, *status;
    int pp, dp, micro_batch, seq_len, n_microbatches;
    int steps;                 /* steps started */
    double tokens_per_s;
} pp_report_run;

/* The first of runs[0 .. n) (newest first) that is a run of plan_hash with
 * status "ok" and at least one step: its index, or -1 when there is none. */
int pp_report_newest_run(const pp_report_run *runs, int n, const char *plan_hash);

/* Measured throughput, owned by the struct (pp_report_tput_free). */
typedef struct pp_report_tput {
    pp_report_series *series;  /* one per schedule, in order of first appearance in runs[] */
    int n;
    pp_report_point *pts;      /* the points series[] refer to: (m, median tokens/s), m ascending */
    int cap;                   /* points per series of a grid (pp_report_tput_grid); 0 otherwise */
} pp_report_tput;

/* An empty grid for predicted throughput: n_series series (names NULL, set
 * by the caller) with room for cap points each, added in order with
 * pp_report_tput_add. Returns 0 with *out (pp_report_tput_free), or -1
 * with err (out of memory) and *out holding nothing to free. */
int pp_report_tput_grid(pp_report_tput *out, int n_series, int cap, pp_err *err);
/* Appends the point (m, tokens_per_s) to series i of a grid. Returns 0, or
 * -1 when i is not a series of the grid or the series is full (nothing added). */
int pp_report_tput_add(pp_report_tput *t, int i, double m, double tokens_per_s);

/* The measured throughput points of runs like `like`: among runs[0 .. n)
 * with status "ok", tokens_per_s > 0 and like's model, pp, dp, micro_batch
 * and seq_len, one series per schedule and one point per microbatch count,
 * the median of their tokens_per_s (pp_stats_median). Series names point
 * at runs[].schedule. Returns 0 (out->n may be 0), or -1 with err (out of
 * memory) and *out holding nothing to free. */
int pp_report_measured_tput(const pp_report_run *runs, int n, const pp_report_run *like, pp_report_tput *out,
                            pp_err *err);
/* Frees what *t owns and leaves it empty (a zeroed struct is fine). */
void pp_report_tput_free(pp_report_tput *t);

/* Which stored run the report of a plan shows. runs[0 .. n) are the
 * database's runs, newest first; n < 0 when there is no database (at
 * db_path). run_id > 0: that run, which must be a run of plan_hash; 0: the
 * newest run of the plan with status "ok" and a step (pp_report_newest_run).
 * Returns its index; -1 when there is none to show, with note[len] saying
 * so and how to measure one (plan_path and db_path in the command); -2 with
 * err when run_id names no run or a run of another plan, or when there is
 * no database to look it up in. */
int pp_report_choose_run(const pp_report_run *runs, int n, const char *plan_hash, long long run_id,
                         const char *db_path, const char *plan_path, char *note, size_t len, pp_err *err);

/* The step of run run_id to show, among steps[] (numbers, ascending) and
 * seconds[] (n of them): `want` when it is >= 0 (chosen with --step), else
 * pp_report_median_step's. Writes how it was chosen to choice[len] ("chosen
 * with --step", "the median duration of steps A..B, the first left out",
 * "the run's only step"). Returns the index; -1 when the run has no step
 * and none was asked for (note[nlen] says the page shows the prediction
 * only); -2 with err when `want` is not among the steps. */
int pp_report_pick_step(const int *steps, const double *seconds, int n, long long want, long long run_id, char *choice,
                        size_t len, char *note, size_t nlen, pp_err *err);

#endif /* PP_REPORT_DATA_H */
