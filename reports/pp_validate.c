/*
 * pp_validate.c -- the comparison of each validated configuration's
 * prediction with its run, and the table, summary and JSON over all of
 * them (see pp_validate.h).
 */
#include "reports/pp_validate.h"

#include <math.h>
#include <stdlib.h>

#include "core/pp_stats.h"

int pp_validate_compare(pp_validate_row *r, long long run_id, double pred_s, double meas_s, double run_pred_s,
                        const pp_run_rank *rk, int n_ranks, const double *pred_peak, int n_pred) {
    r->pred_s = pred_s;
    r->run_id = run_id;
    r->ok = 0;
    if (run_id) {
        r->meas_s = meas_s;
        r->run_pred_s = run_pred_s;
    }
    for (int q = 0; q < n_ranks && pred_peak && n_pred > 0; q++) {
        double pm = pred_peak[rk[q].rank % n_pred];
        double me = fabs(pp_stats_rel_error((double)rk[q].peak_bytes, pm));
        if (!(me <= r->mem_err)) r->mem_err = me;
    }
    if (!r->run_id || !(r->pred_s > 0) || !(r->meas_s > 0)) return 0;
    r->err_t = pp_stats_rel_error(r->meas_s, r->pred_s);
    r->ok = 1;
    return 1;
}

void pp_validate_print_planning(FILE *f, const pp_validate_row *r) {
    fprintf(f, "%-12s m=%-3d planning...", r->sched, r->m);
    fflush(f);
}

void pp_validate_print_running(FILE *f) {
    fprintf(f, " running...");
    fflush(f);
}

void pp_validate_print_outcome(FILE *f, const pp_validate_row *r, const char *error) {
    if (error) fprintf(f, " %s\n", error);
    else if (!r->ok) fprintf(f, " no run or prediction found\n");
    else fprintf(f, " predicted %.3f ms, measured %.3f ms: %+.1f%%\n", r->pred_s * 1e3, r->meas_s * 1e3, 100 * r->err_t);
}

int pp_validate_summarize(const pp_validate_row *rows, int nr, pp_validate_stats *st, pp_err *err) {
    double *et = calloc((size_t)(nr + 1), sizeof *et), *em = calloc((size_t)(nr + 1), sizeof *em);
    if (!et || !em) {
        free(et);
        free(em);
        return pp_err_set(err, PP_ERR_NOMEM, "out of memory");
    }
    int ne = 0;
    double worst_t = 0, worst_m = 0;
    for (int i = 0; i < nr; i++) {
        const pp_validate_row *r = &rows[i];
        if (!r->ok) continue;
        et[ne] = fabs(r->err_t);
        em[ne++] = r->mem_err;
        if (fabs(r->err_t) > worst_t) worst_t = fabs(r->err_t);
        if (r->mem_err > worst_m) worst_m = r->mem_err;
    }
    st->n = ne;
    st->med_t = ne ? pp_stats_median(et, ne) : NAN;
    st->med_m = ne ? pp_stats_median(em, ne) : NAN;
    st->worst_t = worst_t;
    st->worst_m = worst_m;
    free(et);
    free(em);
    return 0;
}

void pp_validate_print(FILE *tx, const pp_validate_row *rows, int nr, const pp_validate_stats *st, int failed,
                       const char *log_path) {
    fprintf(tx, "\n%-12s %4s %6s %14s %14s %9s %11s\n", "schedule", "m", "run", "predicted ms", "measured ms", "error",
            "memory err");
    for (int i = 0; i < nr; i++) {
        const pp_validate_row *r = &rows[i];
        if (!r->ok) continue;
        fprintf(tx, "%-12s %4d %6lld %14.3f %14.3f %+8.1f%% %10.1f%%\n", r->sched, r->m, r->run_id, r->pred_s * 1e3,
                r->meas_s * 1e3, 100 * r->err_t, 100 * r->mem_err);
    }
    if (st->n)
        fprintf(tx, "\n%d configurations: |predicted - measured| / measured iteration time: median %.1f%%, max %.1f%%; "
                    "peak memory per rank: median %.1f%%, max %.1f%%\n",
                st->n, 100 * st->med_t, 100 * st->worst_t, 100 * st->med_m, 100 * st->worst_m);
    if (failed) fprintf(tx, "%d configurations failed (see %s)\n", failed, log_path);
}

void pp_validate_json(pp_jw *w, const char *model, long long micro_batch, long long seq_len, long long pp,
                      const char *db_path, const pp_validate_row *rows, int nr, const pp_validate_stats *st,
                      int failed) {
    int ne = st->n;
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "model", model);
    pp_jw_kint(w, "micro_batch", micro_batch);
    pp_jw_kint(w, "seq_len", seq_len);
    pp_jw_kint(w, "pp", pp);
    pp_jw_kstr(w, "database", db_path);
    pp_jw_key(w, "configurations");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nr; i++) {
        const pp_validate_row *r = &rows[i];
        pp_jw_obj_begin(w);
        pp_jw_kstr(w, "schedule", r->sched);
        pp_jw_kint(w, "microbatches", r->m);
        pp_jw_kbool(w, "ok", r->ok);
        pp_jw_key(w, "run"); if (r->run_id) pp_jw_int(w, r->run_id); else pp_jw_null(w);
        pp_jw_knum(w, "predicted_iteration_s", r->ok ? r->pred_s : NAN);
        pp_jw_knum(w, "run_predicted_iteration_s", r->ok ? r->run_pred_s : NAN);
        pp_jw_knum(w, "measured_iteration_s", r->ok ? r->meas_s : NAN);
        pp_jw_knum(w, "rel_error", r->ok ? r->err_t : NAN);
        pp_jw_knum(w, "memory_rel_error_max", r->ok ? r->mem_err : NAN);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_knum(w, "iteration_abs_error_median", ne ? st->med_t : NAN);
    pp_jw_knum(w, "iteration_abs_error_max", ne ? st->worst_t : NAN);
    pp_jw_knum(w, "memory_error_median", ne ? st->med_m : NAN);
    pp_jw_knum(w, "memory_error_max", ne ? st->worst_m : NAN);
    pp_jw_kint(w, "failed", failed);
    pp_jw_obj_end(w);
}
