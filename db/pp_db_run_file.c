/*
 * pp_db_run_file.c -- a run's record built from plain values, its fallback
 * file when the database refuses it, and the `pippy run --json` document
 * (see pp_db_run_file.h). Stores only through pp_db_run_put; no SQL here.
 */
#include "db/pp_db_run_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/pp_io.h"
#include "core/pp_stats.h"

void pp_db_run_init_from(pp_db_run *run, const char *plan_hash, const char *model, const char *schedule,
                         const char *status, const char *message, int pp, int dp, int n_ranks, int global_batch,
                         int micro_batch, int n_microbatches, int seq_len, int first_step, int steps,
                         double iteration_s, double predicted_s, double final_loss) {
    memset(run, 0, sizeof *run);
    snprintf(run->plan_hash, sizeof run->plan_hash, "%s", plan_hash);
    snprintf(run->model, sizeof run->model, "%s", model);
    snprintf(run->schedule, sizeof run->schedule, "%s", schedule);
    snprintf(run->status, sizeof run->status, "%s", status);
    snprintf(run->message, sizeof run->message, "%s", message);
    run->pp = pp;
    run->dp = dp;
    run->n_ranks = n_ranks;
    run->global_batch = global_batch;
    run->micro_batch = micro_batch;
    run->n_microbatches = n_microbatches;
    run->seq_len = seq_len;
    run->first_step = first_step;
    run->steps = steps;
    run->iteration_s = iteration_s;
    run->tokens_per_s = iteration_s > 0 ? (double)global_batch * seq_len / iteration_s : 0;
    run->predicted_iteration_s = predicted_s;
    run->final_loss = final_loss;
}

void pp_db_json_run_file(pp_jw *w, const char *db_path, const char *why, const pp_db_run *run,
                         const pp_db_run_step *st, int n_steps, const pp_run_rank *rk, int n_ranks,
                         const pp_run_event *ev, long long n_ev) {
    pp_jw_obj_begin(w);
    pp_jw_kint(w, "pippy_run", 1);
    pp_jw_kstr(w, "database", db_path);
    pp_jw_kstr(w, "database_error", why);
    pp_jw_key(w, "run");
    pp_jw_obj_begin(w);
#define JS(k) (pp_jw_key(w, #k), pp_jw_str(w, run->k))
#define JI(k) (pp_jw_key(w, #k), pp_jw_int(w, run->k))
#define JN(k) (pp_jw_key(w, #k), pp_jw_num(w, run->k))
    JS(plan_hash), JS(model), JS(schedule), JS(status), JS(message);
    JI(pp), JI(dp), JI(n_ranks), JI(global_batch), JI(micro_batch), JI(n_microbatches), JI(seq_len);
    JI(first_step), JI(steps);
    JN(iteration_s), JN(tokens_per_s), JN(predicted_iteration_s), JN(final_loss);
#undef JS
#undef JI
#undef JN
    pp_jw_obj_end(w);
    pp_jw_key(w, "steps");
    pp_jw_arr_begin(w);
    for (int i = 0; i < n_steps; i++) {
        pp_jw_arr_begin_inline(w);
        pp_jw_int(w, st[i].step);
        pp_jw_num(w, st[i].loss);
        pp_jw_num(w, st[i].grad_norm);
        pp_jw_num(w, st[i].seconds);
        pp_jw_arr_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_key(w, "ranks");
    pp_jw_arr_begin(w);
    for (int i = 0; i < n_ranks; i++) {
        pp_jw_arr_begin_inline(w);
        pp_jw_int(w, rk[i].rank);
        pp_jw_str(w, rk[i].host);
        pp_jw_int(w, rk[i].peak_bytes);
        pp_jw_num(w, rk[i].busy_s);
        pp_jw_arr_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_key(w, "events");
    pp_jw_arr_begin(w);
    for (long long i = 0; i < n_ev; i++) {
        const pp_trace_event *e = &ev[i].ev;
        pp_jw_arr_begin_inline(w);
        pp_jw_int(w, ev[i].step);
        pp_jw_int(w, e->rank);
        pp_jw_int(w, e->stream);
        pp_jw_int(w, e->action);
        pp_jw_int(w, e->stage);
        pp_jw_int(w, e->mb);
        pp_jw_num(w, e->start);
        pp_jw_num(w, e->end);
        pp_jw_int(w, e->bytes);
        pp_jw_arr_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_obj_end(w);
}

int pp_db_run_save_file(const char *dir, const char *db_path, const char *why, const pp_db_run *run,
                        const pp_db_run_step *st, int n_steps, const pp_run_rank *rk, int n_ranks,
                        const pp_run_event *ev, long long n_ev, char *out, size_t n_out, pp_err *err) {
    pp_jw w;
    pp_jw_init(&w);
    pp_db_json_run_file(&w, db_path, why, run, st, n_steps, rk, n_ranks, ev, n_ev);
    char *text = NULL;
    size_t len = 0;
    if (pp_jw_finish(&w, &text, &len, err)) return -1;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tmv));
    snprintf(out, n_out, "%s/pippy-run-%s-%ld.json", dir, stamp, (long)getpid());
    int rc = pp_io_write_atomic(out, text, len, err);
    free(text);
    return rc;
}

int pp_db_run_put_or_save(pp_db *db, const char *db_path, pp_db_run *run, const pp_db_run_step *st, int n_steps,
                          const pp_run_rank *rk, int n_ranks, const pp_run_event *ev, long long n_ev, pp_err *err) {
    if (pp_db_run_put(db, run, st, n_steps, rk, n_ranks, ev, n_ev, err) == 0) return 0;
    /* The database said no: keep the run in a file rather than lose it. */
    char why[PP_ERR_MSG_MAX], dir[4096], path[4200];
    snprintf(why, sizeof why, "%s", err->msg);
    snprintf(dir, sizeof dir, "%s", db_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    pp_err e2 = {0};
    int saved = pp_db_run_save_file(dir, db_path, why, run, st, n_steps, rk, n_ranks, ev, n_ev, path, sizeof path,
                                    &e2) == 0;
    if (!saved && strcmp(dir, "."))
        saved = pp_db_run_save_file(".", db_path, why, run, st, n_steps, rk, n_ranks, ev, n_ev, path, sizeof path,
                                    &e2) == 0;
    if (saved)
        return pp_err_set(err, PP_ERR_DB, "could not store the run in %s: %s; the run is saved in %s instead", db_path,
                          why, path);
    return pp_err_set(err, PP_ERR_DB, "could not store the run in %s: %s; nor save it as a file: %s (the run is lost)",
                      db_path, why, e2.msg);
}

void pp_db_json_run_result(pp_jw *w, const pp_db_run *run, long long run_id, const pp_db_run_step *st, int n_steps,
                           const pp_run_rank *rk, int n_ranks, const char *cost_source, double predicted_s,
                           const double *pred_peak) {
    double med = run->iteration_s, pred_s = cost_source ? predicted_s : NAN;
    pp_jw_obj_begin(w);
    pp_jw_key(w, "run");
    if (run_id) pp_jw_int(w, run_id);
    else pp_jw_null(w);
    pp_jw_kstr(w, "plan_hash", run->plan_hash);
    pp_jw_kstr(w, "model", run->model);
    pp_jw_kstr(w, "schedule", run->schedule);
    pp_jw_kstr(w, "status", run->status);
    pp_jw_kint(w, "pp", run->pp);
    pp_jw_kint(w, "dp", run->dp);
    pp_jw_kint(w, "first_step", run->first_step);
    pp_jw_kint(w, "steps", n_steps);
    pp_jw_knum(w, "iteration_s", med > 0 ? med : NAN);
    pp_jw_knum(w, "predicted_iteration_s", pred_s);
    pp_jw_knum(w, "rel_error", pp_stats_rel_error(med, pred_s));
    pp_jw_knum(w, "tokens_per_s", med > 0 ? run->tokens_per_s : NAN);
    pp_jw_knum(w, "final_loss", run->final_loss);
    pp_jw_kstr(w, "cost_source", cost_source ? cost_source : "");
    pp_jw_key(w, "step_results");
    pp_jw_arr_begin(w);
    for (int i = 0; i < n_steps; i++) {
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "step", st[i].step);
        pp_jw_knum(w, "loss", st[i].loss);
        pp_jw_knum(w, "grad_norm", st[i].grad_norm);
        pp_jw_knum(w, "seconds", st[i].seconds);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_key(w, "ranks");
    pp_jw_arr_begin(w);
    for (int i = 0; i < n_ranks; i++) {
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "rank", rk[i].rank);
        pp_jw_kstr(w, "host", rk[i].host);
        pp_jw_kint(w, "peak_bytes", rk[i].peak_bytes);
        pp_jw_knum(w, "predicted_peak_bytes", pred_peak ? pred_peak[i % run->pp] : NAN);
        pp_jw_knum(w, "busy_s", rk[i].busy_s);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_obj_end(w);
}
