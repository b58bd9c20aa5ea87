/*
 * pp_report_make.c -- a report assembled (pp_report_make.h): the owned
 * parts of `pippy report`'s page, made from the prediction and the shown
 * run handed over as plain structs, and the page's input from them.
 */
#include "reports/pp_report_make.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_trace.h"

int pp_report_series_build(int n_series, const int *n, pp_report_point_at at, const void *ctx,
                           pp_report_series **series, pp_report_point **pts, pp_err *err) {
    long long npts = 0;
    for (int k = 0; k < n_series; k++) npts += n ? n[k] : 0;
    pp_report_series *s = pp_calloc((unsigned long long)(n_series > 0 ? n_series : 1), sizeof *s, err);
    pp_report_point *q = pp_calloc((unsigned long long)(npts ? npts : 1), sizeof *q, err);
    if (!s || !q) {
        free(s), free(q);
        *series = NULL, *pts = NULL;
        return -1;
    }
    for (long long k = 0, off = 0; k < n_series; off += s[k++].n) {
        s[k] = (pp_report_series){.pts = q + off, .n = n ? n[k] : 0};
        for (int j = 0; j < s[k].n; j++) q[off + j] = at(ctx, (int)k, j);
    }
    *series = s, *pts = q;
    return 0;
}

int pp_report_parts_predict(pp_report_parts *o, const pp_report_sim *sim, const int *act_n, pp_report_point_at at,
                            const void *ctx, pp_err *err) {
    o->sim = *sim;
    if (pp_report_series_build(sim->n_ranks, act_n, at, ctx, &o->act, &o->act_pts, err)) return -1;
    o->sim.act_bytes = o->act;
    return pp_report_predicted(&o->sim, &o->pred, err);
}

int pp_report_parts_measure(pp_report_parts *o, const pp_report_run_data *rd, const int *step_no,
                            const double *step_s, long long want, long long run_id, const char *run_date,
                            pp_err *err) {
    int idx = pp_report_pick_step(step_no, step_s, rd->n_steps, want, run_id, o->choice, sizeof o->choice, o->note,
                                  sizeof o->note, err);
    if (idx < -1) return -1;
    if (!(o->have_run = idx >= 0)) return 0;
    o->step = step_no[idx], o->iteration_s = step_s[idx], o->run_id = run_id, o->run_date = run_date;
    pp_report_run_data d = *rd;
    d.step = o->step, d.first_step = step_no[0];
    if (pp_report_measured(&d, &o->meas, err)) return -1;
    if (o->meas.trace.n == 0 && !o->note[0])
        snprintf(o->note, sizeof o->note, "Run %lld stored no events for step %d: its timeline is empty.", run_id,
                 o->step);
    return 0;
}

int pp_report_parts_input(pp_report_parts *o, const pp_plan *p, const char *hash, pp_report_input *in,
                          pp_err *err) {
    const pp_report_sim *s = &o->sim;
    double it = o->iteration_s;
    *in = (pp_report_input){
        .run_id = o->have_run ? o->run_id : 0, .run_date = o->have_run ? o->run_date : NULL,
        .run_step = o->have_run ? o->step : -1, .step_choice = o->choice, .note = o->note,
        .pred = {.present = 1, .iteration_s = s->iteration_s, .tokens_per_s = s->tokens_per_s, .busy_s = s->busy,
                 .peak_bytes = s->peak_total_bytes, .trace = &o->pred.trace, .stage_fb = o->pred.stage_fb},
        .meas = {.present = o->have_run, .iteration_s = o->have_run ? it : 0,
                 .tokens_per_s = o->have_run && it > 0 ? (double)p->global_batch * p->seq_len / it : 0,
                 .busy_s = o->meas.busy, .peak_bytes = o->meas.peak_bytes, .trace = &o->meas.trace,
                 .stage_fb = o->meas.stage_fb},
        .pred_memory = o->pred.memory, .tput_pred = o->tp.series, .n_tput_pred = o->tp.n,
        .tput_meas = o->tm.series, .n_tput_meas = o->tm.n,
    };
    return pp_report_input_plan(in, p, hash, &o->stage_rank, err);
}

int pp_report_parts_chrome(const pp_report_parts *o, const char *dir, pp_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/predicted-trace.json", dir);
    if (pp_trace_save_chrome(o->sim.trace, path, err)) return -1;
    snprintf(path, sizeof path, "%s/measured-trace.json", dir);
    return o->have_run ? pp_trace_save_chrome(&o->meas.trace, path, err) : 0;
}

void pp_report_parts_free(pp_report_parts *o) {
    free(o->act), free(o->act_pts), free(o->stage_rank);
    pp_report_pred_free(&o->pred);
    pp_report_meas_free(&o->meas);
    pp_report_tput_free(&o->tp);
    pp_report_tput_free(&o->tm);
    memset(o, 0, sizeof *o);
}
