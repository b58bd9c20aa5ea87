/*
 * pp_report_data.c -- the report's data preparation (see pp_report_data.h):
 * the predicted side (optimizer bars, memory over the step, stage times),
 * the measured side (trace rebasing, busy time, rank peaks, stage means),
 * the choice of run and step, and the measured throughput medians. No I/O.
 */
#include "reports/pp_report_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_sched.h"
#include "core/pp_stats.h"

/* ---- The predicted side -------------------------------------------------- */

int pp_report_optim_bars(const pp_trace *trace, const double *busy, const double *end, double iteration_s,
                         int n_ranks, pp_trace *out, pp_err *err) {
    for (int r = 0; r < n_ranks; r++) {
        double comp = 0;
        for (int i = 0; trace && i < trace->n; i++)
            if (trace->ev[i].rank == r && trace->ev[i].stream == PP_STREAM_COMPUTE)
                comp += trace->ev[i].end - trace->ev[i].start;
        double opt = busy[r] - comp;
        if (!(opt > 1e-12)) continue;
        double st = fmax(end[r], iteration_s - opt);
        pp_trace_event e = {.rank = r, .stream = PP_STREAM_COMPUTE, .action = PP_ACT_OPTIM, .stage = -1, .mb = -1,
                            .start = st, .end = st + opt};
        if (pp_trace_add(out, e, err)) return -1;
    }
    return 0;
}

int pp_report_memory_timeline(const pp_report_series *act, int n_ranks, const double *peak_total,
                              const double *peak_act, pp_report_series **memory, pp_report_point **pts, pp_err *err) {
    long long npts = 0;
    for (int r = 0; act && r < n_ranks; r++) npts += act[r].n;
    *memory = pp_calloc((unsigned long long)(n_ranks > 0 ? n_ranks : 1), sizeof **memory, err);
    *pts = pp_calloc((unsigned long long)(npts ? npts : 1), sizeof **pts, err);
    if (!*memory || !*pts) {
        free(*memory);
        free(*pts);
        *memory = NULL;
        *pts = NULL;
        return -1;
    }
    for (long long r = 0, off = 0; r < n_ranks; r++) {
        double stat = peak_total[r] - peak_act[r];
        int n = act ? act[r].n : 0;
        (*memory)[r].pts = *pts + off;
        (*memory)[r].n = n;
        for (int j = 0; j < n; j++) (*pts)[off + j] = (pp_report_point){act[r].pts[j].x, act[r].pts[j].y + stat};
        off += n;
    }
    return 0;
}

void pp_report_stage_fb(const double *stage_t, int n_stages, double *fb) {
    for (int s = 0; s < n_stages; s++) {
        fb[2 * s] = stage_t[3 * s];
        fb[2 * s + 1] = stage_t[3 * s + 1] + stage_t[3 * s + 2];
    }
}

void pp_report_pred_free(pp_report_pred *p) {
    pp_trace_free(&p->trace);
    free(p->memory);
    free(p->mem_pts);
    free(p->stage_fb);
    memset(p, 0, sizeof *p);
    pp_trace_init(&p->trace);
}

int pp_report_predicted(const pp_report_sim *in, pp_report_pred *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    pp_trace_init(&out->trace);
    out->stage_fb = pp_calloc((unsigned long long)(in->n_stages > 0 ? 2 * in->n_stages : 1), sizeof(double), err);
    if (!out->stage_fb) goto fail;
    pp_report_stage_fb(in->stage_t, in->n_stages, out->stage_fb);
    for (int i = 0; in->trace && i < in->trace->n; i++)
        if (pp_trace_add(&out->trace, in->trace->ev[i], err)) goto fail;
    if (pp_report_optim_bars(in->trace, in->busy, in->end, in->iteration_s, in->n_ranks, &out->trace, err) ||
        pp_report_memory_timeline(in->act_bytes, in->n_ranks, in->peak_total_bytes, in->peak_act_bytes, &out->memory,
                                  &out->mem_pts, err))
        goto fail;
    return 0;
fail:
    pp_report_pred_free(out);
    return -1;
}

/* ---- The measured side --------------------------------------------------- */

long long pp_report_rebase(const pp_run_event *ev, long long n, int step, pp_trace *out, pp_err *err) {
    double t0 = INFINITY;
    for (long long i = 0; i < n; i++)
        if (ev[i].step == step) t0 = fmin(t0, ev[i].ev.start);
    long long k = 0;
    for (long long i = 0; i < n; i++) {
        if (ev[i].step != step) continue;
        pp_trace_event e = ev[i].ev;
        e.start -= t0;
        e.end -= t0;
        if (pp_trace_add(out, e, err)) return -1;
        k++;
    }
    return k;
}

void pp_report_rank_peaks(const pp_run_rank *rows, int n, int n_ranks, double *peak) {
    for (int r = 0; r < n_ranks; r++) peak[r] = NAN;
    for (int i = 0; i < n; i++)
        if (rows[i].rank >= 0 && rows[i].rank < n_ranks) peak[rows[i].rank] = (double)rows[i].peak_bytes;
}

int pp_report_run_stage_means(const pp_run_event *ev, long long n, int first_step, int n_steps, int n_stages,
                              double *fb, pp_err *err) {
    pp_trace_event *kept = pp_calloc((unsigned long long)(n > 0 ? n : 1), sizeof *kept, err);
    if (!kept) return -1;
    long long k = 0;
    for (long long i = 0; i < n; i++)
        if (n_steps < 2 || ev[i].step != first_step) kept[k++] = ev[i].ev;
    pp_report_stage_means(kept, k, n_stages, fb);
    free(kept);
    return 0;
}

void pp_report_meas_free(pp_report_meas *m) {
    pp_trace_free(&m->trace);
    free(m->busy);
    free(m->peak_bytes);
    free(m->stage_fb);
    memset(m, 0, sizeof *m);
    pp_trace_init(&m->trace);
}

int pp_report_measured(const pp_report_run_data *in, pp_report_meas *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    pp_trace_init(&out->trace);
    unsigned long long R = in->n_ranks > 0 ? (unsigned long long)in->n_ranks : 1;
    out->busy = pp_calloc(R, sizeof(double), err);
    out->peak_bytes = pp_calloc(R, sizeof(double), err);
    out->stage_fb = pp_calloc((unsigned long long)(in->n_stages > 0 ? 2 * in->n_stages : 1), sizeof(double), err);
    if (!out->busy || !out->peak_bytes || !out->stage_fb || pp_report_rebase(in->ev, in->n_ev, in->step, &out->trace, err) < 0 ||
        pp_report_run_stage_means(in->ev, in->n_ev, in->first_step, in->n_steps, in->n_stages, out->stage_fb, err))
        goto fail;
    pp_report_busy(out->trace.ev, out->trace.n, in->n_ranks, out->busy);
    pp_report_rank_peaks(in->ranks, in->n_rank_rows, in->n_ranks, out->peak_bytes);
    return 0;
fail:
    pp_report_meas_free(out);
    return -1;
}

/* ---- The page's header ---------------------------------------------------- */

int pp_report_input_plan(pp_report_input *in, const pp_plan *p, const char *hash, int **stage_rank, pp_err *err) {
    *stage_rank = pp_calloc((unsigned long long)(p->n_stages ? p->n_stages : 1), sizeof(int), err);
    if (!*stage_rank) return -1;
    for (int s = 0; s < p->n_stages; s++) (*stage_rank)[s] = p->stages[s].rank;
    in->model = p->model.name;
    in->plan_hash = hash;
    in->schedule = p->schedule_name;
    in->pp = p->pp;
    in->dp = p->dp;
    in->n_microbatches = p->n_microbatches;
    in->micro_batch = p->micro_batch;
    in->seq_len = p->seq_len;
    in->global_batch = p->global_batch;
    in->n_stages = p->n_stages;
    in->n_ranks = p->pp;
    in->stage_rank = *stage_rank;
    return 0;
}

/* ---- Runs and steps ------------------------------------------------------- */

int pp_report_newest_run(const pp_report_run *runs, int n, const char *plan_hash) {
    for (int i = 0; i < n; i++)
        if (!strcmp(runs[i].plan_hash, plan_hash) && !strcmp(runs[i].status, "ok") && runs[i].steps > 0) return i;
    return -1;
}

void pp_report_tput_free(pp_report_tput *t) {
    free(t->series);
    free(t->pts);
    memset(t, 0, sizeof *t);
}

int pp_report_tput_grid(pp_report_tput *out, int n_series, int cap, pp_err *err) {
    memset(out, 0, sizeof *out);
    unsigned long long ns = n_series > 0 ? (unsigned long long)n_series : 1, c = cap > 0 ? (unsigned long long)cap : 1;
    out->series = pp_calloc(ns, sizeof *out->series, err);
    out->pts = pp_calloc(ns * c, sizeof *out->pts, err);
    if (!out->series || !out->pts) {
        pp_report_tput_free(out);
        return -1;
    }
    out->n = n_series > 0 ? n_series : 0;
    out->cap = cap > 0 ? cap : 0;
    for (int i = 0; i < out->n; i++) out->series[i].pts = out->pts + (long long)i * out->cap;
    return 0;
}

int pp_report_tput_add(pp_report_tput *t, int i, double m, double tokens_per_s) {
    if (i < 0 || i >= t->n || t->series[i].n >= t->cap) return -1;
    t->pts[(long long)i * t->cap + t->series[i].n++] = (pp_report_point){m, tokens_per_s};
    return 0;
}

/* 1 when run a is one of those the throughput chart shows beside `like`. */
static int same_shape(const pp_report_run *a, const pp_report_run *like) {
    return !strcmp(a->model, like->model) && a->pp == like->pp && a->dp == like->dp &&
           a->micro_batch == like->micro_batch && a->seq_len == like->seq_len && !strcmp(a->status, "ok") &&
           a->tokens_per_s > 0;
}

int pp_report_measured_tput(const pp_report_run *runs, int n, const pp_report_run *like, pp_report_tput *out,
                            pp_err *err) {
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (n <= 0) return 0;
    double *vals = pp_calloc((unsigned long long)n, sizeof *vals, err);
    char *used = pp_calloc((unsigned long long)n, 1, err);
    out->series = pp_calloc((unsigned long long)n, sizeof *out->series, err);
    out->pts = pp_calloc((unsigned long long)n, sizeof *out->pts, err);
    if (!vals || !used || !out->series || !out->pts) goto done;
    for (int i = 0; i < n; i++) used[i] = !same_shape(&runs[i], like);
    /* The series, in order of first appearance. */
    for (int i = 0; i < n; i++) {
        if (used[i]) continue;
        int known = 0;
        for (int k = 0; k < out->n && !known; k++) known = !strcmp(out->series[k].name, runs[i].schedule);
        if (!known) out->series[out->n++].name = runs[i].schedule;
    }
    /* Each series' points in order of m: the median over the runs at that m. */
    int np = 0;
    for (int k = 0; k < out->n; k++) {
        pp_report_series *s = &out->series[k];
        s->pts = out->pts + np;
        for (;;) {
            int m = -1;
            for (int i = 0; i < n; i++)
                if (!used[i] && !strcmp(runs[i].schedule, s->name) && (m < 0 || runs[i].n_microbatches < m))
                    m = runs[i].n_microbatches;
            if (m < 0) break;
            int nv = 0;
            for (int i = 0; i < n; i++)
                if (!used[i] && !strcmp(runs[i].schedule, s->name) && runs[i].n_microbatches == m) {
                    vals[nv++] = runs[i].tokens_per_s;
                    used[i] = 1;
                }
            out->pts[np++] = (pp_report_point){m, pp_stats_median(vals, nv)};
            s->n++;
        }
    }
    rc = 0;
done:
    free(vals);
    free(used);
    if (rc) pp_report_tput_free(out);
    return rc;
}

int pp_report_choose_run(const pp_report_run *runs, int n, const char *plan_hash, long long run_id,
                         const char *db_path, const char *plan_path, char *note, size_t len, pp_err *err) {
    if (n < 0 && run_id) {
        pp_err_set(err, PP_ERR_INVALID, "no run %lld: no database at %s", run_id, db_path);
        return -2;
    }
    if (n < 0) {
        snprintf(note, len, "No database at %s, so no measured run: the page shows the prediction only "
                 "(measure one with: pippy run --plan %s).", db_path, plan_path);
        return -1;
    }
    if (!run_id) {
        int k = pp_report_newest_run(runs, n, plan_hash);
        if (k < 0)
            snprintf(note, len, "No run of this plan (%.12s) in %s: the page shows the prediction only "
                     "(measure one with: pippy run --plan %s --db %s).", plan_hash, db_path, plan_path, db_path);
        return k;
    }
    for (int i = 0; i < n; i++) {
        if (runs[i].id != run_id) continue;
        if (!strcmp(runs[i].plan_hash, plan_hash)) return i;
        pp_err_set(err, PP_ERR_INVALID,
                   "run %lld is a run of plan %s, not of %s (plan %s); give that run's plan, or a run of this plan",
                   run_id, runs[i].plan_hash, plan_path, plan_hash);
        return -2;
    }
    pp_err_set(err, PP_ERR_INVALID, "no run %lld in %s (pippy db runs lists them)", run_id, db_path);
    return -2;
}

int pp_report_pick_step(const int *steps, const double *seconds, int n, long long want, long long run_id, char *choice,
                        size_t len, char *note, size_t nlen, pp_err *err) {
    if (len) choice[0] = 0;
    if (n < 1 && want >= 0) {
        pp_err_set(err, PP_ERR_INVALID, "run %lld has no step %lld: it finished no step", run_id, want);
        return -2;
    }
    if (n < 1) {
        snprintf(note, nlen, "Run %lld of this plan finished no step: the page shows the prediction only.", run_id);
        return -1;
    }
    if (want >= 0) {
        for (int i = 0; i < n; i++)
            if (steps[i] == want) {
                snprintf(choice, len, "chosen with --step");
                return i;
            }
        pp_err_set(err, PP_ERR_INVALID, "run %lld has no step %lld (its steps are %d..%d)", run_id, want, steps[0],
                   steps[n - 1]);
        return -2;
    }
    if (n > 1) snprintf(choice, len, "the median duration of steps %d..%d, the first left out", steps[1], steps[n - 1]);
    else snprintf(choice, len, "the run's only step");
    return pp_report_median_step(steps, seconds, n);
}
