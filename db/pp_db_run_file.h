/*
 * pp_db_run_file.h -- a run's record outside the database: the pp_db_run
 * built from plain values, the fallback file a run is written to when the
 * database refuses it (its format is in docs/formats.md), the store that
 * falls back to that file, and the JSON document `pippy run --json` prints.
 *
 *     pp_db_run run;
 *     pp_db_run_init_from(&run, hash, model, sched, "ok", "", pp, dp, n, gb, mb, m, seq, first, n_steps,
 *                         median_s, predicted_s, final_loss);
 *     if (pp_db_run_put_or_save(db, db_path, &run, st, n_steps, rk, n, ev, n_ev, &err)) ...
 *
 * Nothing here prints; the JSON writers fill a pp_jw (core/pp_json.h).
 */
#ifndef PP_DB_RUN_FILE_H
#define PP_DB_RUN_FILE_H

#include <stddef.h>

#include "core/pp_json.h"
#include "db/pp_db.h"

/* Fills *run (zeroed first, id 0, created_at empty) from plain values;
 * strings are cut to their fields. tokens_per_s is global_batch * seq_len /
 * iteration_s (0 when iteration_s is not > 0). predicted_s is 0 when the
 * plan had no prediction; final_loss NaN when no step finished. Cannot fail. */
void pp_db_run_init_from(pp_db_run *run, const char *plan_hash, const char *model, const char *schedule,
                         const char *status, const char *message, int pp, int dp, int n_ranks, int global_batch,
                         int micro_batch, int n_microbatches, int seq_len, int first_step, int steps,
                         double iteration_s, double predicted_s, double final_loss);

/* The fallback document: one object with "pippy_run": 1, "database",
 * "database_error" (why), "run" (its fields), "steps", "ranks" and
 * "events" as arrays of arrays (docs/formats.md). Arrays may be NULL when
 * their count is 0. Cannot fail (pp_jw_finish reports). */
void pp_db_json_run_file(pp_jw *w, const char *db_path, const char *why, const pp_db_run *run,
                         const pp_db_run_step *st, int n_steps, const pp_run_rank *rk, int n_ranks,
                         const pp_run_event *ev, long long n_ev);

/* Writes the fallback document into dir/pippy-run-<UTC time>-<pid>.json
 * (atomically). Returns 0 with the path in out[0..n_out), or -1 with err. */
int pp_db_run_save_file(const char *dir, const char *db_path, const char *why, const pp_db_run *run,
                        const pp_db_run_step *st, int n_steps, const pp_run_rank *rk, int n_ranks,
                        const pp_run_event *ev, long long n_ev, char *out, size_t n_out, pp_err *err);

/* Stores the run in db (pp_db_run_put; sets run->id). When the database
 * refuses it, writes the fallback file beside db_path (its folder), else in
 * the current folder, and returns -1 with err (PP_ERR_DB) saying "could not
 * store the run in DB: WHY; the run is saved in PATH instead", or "...; nor
 * save it as a file: WHY2 (the run is lost)". Returns 0 when stored. */
int pp_db_run_put_or_save(pp_db *db, const char *db_path, pp_db_run *run, const pp_db_run_step *st, int n_steps,
                          const pp_run_rank *rk, int n_ranks, const pp_run_event *ev, long long n_ev, pp_err *err);

/* The document of `pippy run --json` for a finished run: "run" (run_id, or
 * null when 0), plan_hash, model, schedule, status, pp, dp, first_step,
 * steps, iteration_s (null when not > 0), predicted_iteration_s (null
 * without a prediction), rel_error (core/pp_stats.h), tokens_per_s,
 * final_loss, cost_source, step_results[] and ranks[] with each rank's
 * predicted_peak_bytes. A prediction is given by cost_source != NULL with
 * predicted_s; pred_peak (NULL: none) holds one peak per pipeline rank, rank
 * i reads pred_peak[i % run->pp]. Cannot fail (pp_jw_finish reports). */
void pp_db_json_run_result(pp_jw *w, const pp_db_run *run, long long run_id, const pp_db_run_step *st, int n_steps,
                           const pp_run_rank *rk, int n_ranks, const char *cost_source, double predicted_s,
                           const double *pred_peak);

#endif /* PP_DB_RUN_FILE_H */
