/*
 * pp_report_make.h -- a report assembled: everything `pippy report` makes
 * from the prediction and the run it shows, in one owned struct, and from
 * it the page's pp_report_input (pp_report.h) and the Chrome traces.
 *
 * The tool reads the database and asks the simulator and the planner; this
 * file takes what they said as plain structs (pp_report_sim, the run's
 * records as pp_report_run_data, the simulator's activation timeline
 * through a callback) and does the rest: the series drawn, the step shown
 * and its measured side, the page's input.
 */
#ifndef PP_REPORT_MAKE_H
#define PP_REPORT_MAKE_H

#include <stddef.h>

#include "core/pp_err.h"
#include "core/pp_plan.h"
#include "reports/pp_report.h"
#include "reports/pp_report_data.h"

/* What a report is made of, owned by the struct (pp_report_parts_free).
 * Zero it before the first call. */
typedef struct pp_report_parts {
    pp_report_sim sim;          /* the prediction (its arrays are the caller's), act_bytes = act */
    pp_report_series *act;      /* [sim.n_ranks]: predicted activation bytes over the step */
    pp_report_point *act_pts;   /* the points act[] refers to */
    pp_report_pred pred;
    int *step_no, n_steps;      /* the run's steps (pp_report_parts_steps), ascending, */
    double *step_s;             /* and their seconds */
    int have_run, step;         /* a measured step is shown (have_run): its number, */
    double iteration_s;         /* its seconds */
    long long run_id;           /* its run (have_run), and the run's date (the caller's string) */
    const char *run_date;
    pp_report_meas meas;
    pp_report_tput tp, tm;      /* predicted and measured throughput, filled by the caller */
    int *stage_rank;
    char choice[256];           /* how the step was chosen */
    char note[1024];            /* the note under the page's header ("" for none) */
} pp_report_parts;

/* Point j of series k, read from the caller's ctx. */
typedef pp_report_point (*pp_report_point_at)(const void *ctx, int k, int j);

/* n_series series, series k of n[k] points (none when n is NULL), point j
 * being at(ctx, k, j); names NULL. On success *series and *pts (all points,
 * one array) are malloc'ed, the caller frees both. Returns 0, or -1 with err
 * (out of memory) and both NULL. */
int pp_report_series_build(int n_series, const int *n, pp_report_point_at at, const void *ctx,
                           pp_report_series **series, pp_report_point **pts, pp_err *err);

/* The predicted side: o->sim = *sim with act_bytes the activation timeline
 * built by pp_report_series_build(sim->n_ranks, act_n, at, ctx) into o->act,
 * then pp_report_predicted into o->pred. Returns 0, or -1 with err (out of
 * memory; what o holds is freed by pp_report_parts_free). */
int pp_report_parts_predict(pp_report_parts *o, const pp_report_sim *sim, const int *act_n, pp_report_point_at at,
                            const void *ctx, pp_err *err);

/* Room for a run's n steps: o->step_no and o->step_s (n of each, zeroed,
 * for the caller to fill), o->n_steps = n. Returns 0, or -1 with err (out
 * of memory). */
int pp_report_parts_steps(pp_report_parts *o, int n, pp_err *err);

/* The measured side of run run_id (dated run_date): the step shown among
 * o->step_no[] / o->step_s[] (pp_report_parts_steps; none before it) by
 * pp_report_pick_step (want: --step, or -1) into o->choice and o->note,
 * then pp_report_measured of it into o->meas (rd->step, rd->first_step and
 * rd->n_steps are set here from o), with the note "Run N stored no events for step K: its
 * timeline is empty." when the step has no event and there is no note yet.
 * o->have_run says whether a step is shown. Returns 0, or -1 with err (a
 * step not in the run, out of memory). */
int pp_report_parts_measure(pp_report_parts *o, const pp_report_run_data *rd, long long want, long long run_id,
                            const char *run_date, pp_err *err);

/* The page's input from o (after pp_report_parts_predict and, when a run is
 * shown, pp_report_parts_measure; tp and tm filled) and the plan p (hashed
 * `hash`, via pp_report_input_plan, stage_rank into o->stage_rank): the
 * predicted side, the measured side (present when o->have_run; tokens/s
 * global_batch x seq_len / step seconds), memory, throughput, the run shown,
 * the choice and the note. cost_src, link_src and gnuplot are left NULL for
 * the caller. *in points into o and p, which must outlive it. Returns 0, or
 * -1 with err (out of memory). */
int pp_report_parts_input(pp_report_parts *o, const pp_plan *p, const char *hash, pp_report_input *in,
                          pp_err *err);

/* With --chrome: dir/predicted-trace.json from o->sim.trace, and
 * dir/measured-trace.json from o->meas.trace when a run is shown
 * (pp_trace_save_chrome). Returns 0, or -1 with err (I/O). */
int pp_report_parts_chrome(const pp_report_parts *o, const char *dir, pp_err *err);

/* The predicted throughput as a table into *out (pp_report_tput_free):
 * series i named names[i] (the caller's strings), with the point (ms[j],
 * t[i nm + j]) for each j < nm where that value is >= 0 (the others could
 * not be made). Returns 0, or -1 with err (out of memory) and *out holding
 * nothing to free. */
int pp_report_tput_table(pp_report_tput *out, const char *const *names, int n_series, const int *ms, int nm,
                         const double *t, pp_err *err);

/* The measured throughput of the stored runs[0 .. n) like plan p (its
 * model, pp, dp, micro-batch and sequence length; pp_report_measured_tput)
 * into o->tm. Returns 0, or -1 with err (out of memory). */
int pp_report_parts_measured_tput(pp_report_parts *o, const pp_report_run *runs, int n, const pp_plan *p,
                                  pp_err *err);

/* Frees what *o owns and leaves it zeroed (a zeroed struct is fine). */
void pp_report_parts_free(pp_report_parts *o);

#endif /* PP_REPORT_MAKE_H */
