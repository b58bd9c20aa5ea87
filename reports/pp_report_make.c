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

int pp_report_parts_steps(pp_report_parts *o, int n, pp_err *err) {
    free(o->step_no), free(o->step_s);
    o->step_no = pp_calloc((unsigned long long)(n > 0 ? n : 1), sizeof *o->step_no, err);
    o->step_s = pp_calloc((unsigned long long)(n > 0 ? n : 1), sizeof *o->step_s, err);
    o->n_steps = o->step_no && o->step_s && n > 0 ? n : 0;
    return o->step_no && o->step_s ? 0 : -1;
}

int pp_report_parts_measure(pp_report_parts *o, const pp_report_run_data *rd, long long want, long long run_id,
                            const char *run_date, pp_err *err) {
    int idx = pp_report_pick_step(o->step_no, o->step_s, o->n_steps, want, run_id, o->choice, sizeof o->choice,
                                  o->note, sizeof o->note, err);
    if (idx < -1) return -1;
    if (!(o->have_run = idx >= 0)) return 0;
    o->step = o->step_no[idx], o->iteration_s = o->step_s[idx], o->run_id = run_id, o->run_date = run_date;
    pp_report_run_data d = *rd;
    d.step = o->step, d.first_step = o->step_no[0], d.n_steps = o->n_steps;
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

int pp_report_tput_table(pp_report_tput *out, const char *const *names, int n_series, const int *ms, int nm,
                         const double *t, pp_err *err) {
    if (pp_report_tput_grid(out, n_series, nm, err)) return -1;
    for (int i = 0; i < n_series; i++) {
        out->series[i].name = names[i];
        for (int j = 0; j < nm; j++)
            if (t[(long long)i * nm + j] >= 0) pp_report_tput_add(out, i, ms[j], t[(long long)i * nm + j]);
    }
    return 0;
}

int pp_report_parts_measured_tput(pp_report_parts *o, const pp_report_run *runs, int n, const pp_plan *p,
                                  pp_err *err) {
    pp_report_run like = {.model = p->model.name, .pp = p->pp, .dp = p->dp, .micro_batch = p->micro_batch,
                          .seq_len = p->seq_len};
    return pp_report_measured_tput(runs, n, &like, &o->tm, err);
}

void pp_report_parts_free(pp_report_parts *o) {
    free(o->act), free(o->act_pts), free(o->stage_rank), free(o->step_no), free(o->step_s);
    pp_report_pred_free(&o->pred);
    pp_report_meas_free(&o->meas);
    pp_report_tput_free(&o->tp);
    pp_report_tput_free(&o->tm);
    memset(o, 0, sizeof *o);
}
