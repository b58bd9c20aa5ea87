/*
 * pp_db_runs.c -- measured training runs (see pp_db.h): a run's setup and
 * outcome, its steps, ranks and trace events, stored in one transaction and
 * read through the row reader.
 */
#include "db/pp_db_int.h"

#include <stdlib.h>

#include "core/pp_hash.h"
#include "core/pp_sched.h"

/* ---- Runs: measured training runs -------------------------------------------- */

/* Checks a run and its rows against pp_db_run_put's contract (pp_db.h);
 * fills err naming the first field that breaks it. Touches no table. */
static int run_check(const pp_db *db, const pp_db_run *r, const pp_db_run_step *steps, int n_steps,
                     const pp_run_rank *ranks, int n_ranks, const pp_run_event *ev, long long n_ev,
                     pp_err *err) {
    int ret = -1;
    if (!fits(r->plan_hash, sizeof r->plan_hash) || !pp_sha256_hex_valid(r->plan_hash))
        DB_FAIL(PP_ERR_INVALID, "storing a run: plan_hash is not 64 lowercase hex digits");
    const char *h = r->plan_hash;
    if (!fits(r->model, sizeof r->model))
        DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: model is not terminated", h);
    if (!fits(r->schedule, sizeof r->schedule))
        DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: schedule is not terminated", h);
    if (!fits(r->status, sizeof r->status) ||
        (strcmp(r->status, "ok") != 0 && strcmp(r->status, "failed") != 0 && strcmp(r->status, "interrupted") != 0))
        DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: status must be \"ok\", \"failed\" or \"interrupted\"", h);
    if (!fits(r->message, sizeof r->message))
        DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: message is not terminated", h);
    if (strcmp(r->status, "ok") != 0 && !r->message[0])
        DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: status \"%s\" needs a message saying why", h, r->status);
    if (!fits(r->created_at, sizeof r->created_at))
        DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: created_at is not terminated", h);
    const struct {
        const char *name;
        int v;
    } pos[] = {{"pp", r->pp},
               {"dp", r->dp},
               {"n_ranks", r->n_ranks},
               {"global_batch", r->global_batch},
               {"micro_batch", r->micro_batch},
               {"n_microbatches", r->n_microbatches},
               {"seq_len", r->seq_len}};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (pos[i].v < 1)
            DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: %s %d is below 1", h, pos[i].name, pos[i].v);
    if (r->first_step < 0)
        DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: first_step %d is negative", h, r->first_step);
    if (r->steps < 0) DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: steps %d is negative", h, r->steps);
    long long end_step = (long long)r->first_step + r->steps; /* steps lie in [first_step, end_step) */
    if (end_step > 2147483647LL)
        DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: first_step %d + steps %d overflows", h, r->first_step,
                r->steps);
    const struct {
        const char *name;
        double v;
    } secs[] = {{"tokens_per_s", r->tokens_per_s},
                {"iteration_s", r->iteration_s},
                {"predicted_iteration_s", r->predicted_iteration_s}};
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++)
        if (!nonneg_finite(secs[i].v))
            DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: %s %g must be finite and >= 0", h, secs[i].name,
                    secs[i].v);
    if (n_steps < 0 || n_ranks < 0 || n_ev < 0 || (n_steps > 0 && !steps) || (n_ranks > 0 && !ranks) ||
        (n_ev > 0 && !ev))
        DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: a row count is negative or its array is missing", h);

    for (int i = 0; i < n_steps; i++) {
        const pp_db_run_step *s = &steps[i];
        if (s->step < r->first_step || s->step >= end_step)
            DB_FAIL(PP_ERR_INVALID,
                    "storing run of plan %.12s: steps[%d]: step %d is outside the run's steps [%d, %lld)", h, i,
                    s->step, r->first_step, end_step);
        if (!isnan(s->grad_norm) && !(s->grad_norm >= 0))
            DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: steps[%d] (step %d): grad_norm %g is negative", h, i,
                    s->step, s->grad_norm);
        if (!nonneg_finite(s->seconds))
            DB_FAIL(PP_ERR_INVALID,
                    "storing run of plan %.12s: steps[%d] (step %d): seconds %g must be finite and >= 0", h, i,
                    s->step, s->seconds);
    }
    for (int i = 0; i < n_ranks; i++) {
        const pp_run_rank *k = &ranks[i];
        if (k->rank < 0 || k->rank >= r->n_ranks)
            DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: ranks[%d]: rank %d is outside [0, n_ranks %d)", h, i,
                    k->rank, r->n_ranks);
        if (!fits(k->host, sizeof k->host))
            DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: ranks[%d] (rank %d): host is not terminated", h, i,
                    k->rank);
        if (k->peak_bytes < 0)
            DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: ranks[%d] (rank %d): peak_bytes %lld is negative", h,
                    i, k->rank, k->peak_bytes);
        if (!nonneg_finite(k->busy_s))
            DB_FAIL(PP_ERR_INVALID, "storing run of plan %.12s: ranks[%d] (rank %d): busy_s %g must be finite and >= 0",
                    h, i, k->rank, k->busy_s);
    }
    for (long long i = 0; i < n_ev; i++) {
        const pp_trace_event *e = &ev[i].ev;
        const char *bad = NULL;
        if (ev[i].step < r->first_step || ev[i].step >= end_step) bad = "step is outside the run's steps";
        else if (e->rank < 0 || e->rank >= r->n_ranks) bad = "rank is outside [0, n_ranks)";
        else if (e->stream < 0 || e->stream >= PP_STREAM__COUNT) bad = "stream is not a pp_stream";
        else if (e->action < 0 || e->action >= PP_ACT__COUNT) bad = "action is not a pp_act_type";
        else if (e->stage < -1) bad = "stage is below -1";
        else if (e->mb < -1) bad = "mb is below -1";
        else if (!isfinite(e->start) || !isfinite(e->end)) bad = "start or end is not finite";
        else if (e->end < e->start) bad = "end is before start";
        else if (e->bytes < 0) bad = "bytes is negative";
        if (bad)
            DB_FAIL(PP_ERR_INVALID,
                    "storing run of plan %.12s: events[%lld]: %s (step %d, rank %d, stream %d, action %d, stage %d, "
                    "mb %d, start %g s, end %g s, bytes %lld)",
                    h, i, bad, ev[i].step, e->rank, e->stream, e->action, e->stage, e->mb, e->start, e->end,
                    e->bytes);
    }
    ret = 0;
cleanup:
    return ret;
}

/* Inserts the steps of run_id with one statement. Inside a transaction. */
static int run_put_steps(pp_db *db, const char *h, long long run_id, const pp_db_run_step *steps, int n, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    if (n == 0) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h,
                                "INSERT INTO run_steps (run_id, step, loss, grad_norm, seconds) "
                                "VALUES (?1, ?2, ?3, ?4, ?5)",
                                -1, &st, NULL),
             "storing run of plan %.12s: steps", h);
    for (int i = 0; i < n; i++) {
        const pp_db_run_step *s = &steps[i];
        sqlite3_reset(st);
        DB_CHECK(sqlite3_bind_int64(st, 1, run_id), "storing run of plan %.12s: steps[%d]", h, i);
        DB_CHECK(sqlite3_bind_int(st, 2, s->step), "storing run of plan %.12s: steps[%d]", h, i);
        DB_CHECK(bind_real_or_null(st, 3, s->loss), "storing run of plan %.12s: steps[%d]", h, i);
        DB_CHECK(bind_real_or_null(st, 4, s->grad_norm), "storing run of plan %.12s: steps[%d]", h, i);
        DB_CHECK(sqlite3_bind_double(st, 5, s->seconds), "storing run of plan %.12s: steps[%d]", h, i);
        DB_CHECK(sqlite3_step(st), "storing run of plan %.12s: steps[%d] (step %d)", h, i, s->step);
    }
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

/* Inserts the ranks of run_id with one statement. Inside a transaction. */
static int run_put_ranks(pp_db *db, const char *h, long long run_id, const pp_run_rank *ranks, int n, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    if (n == 0) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h,
                                "INSERT INTO run_ranks (run_id, rank, host, peak_bytes, busy_s) "
                                "VALUES (?1, ?2, ?3, ?4, ?5)",
                                -1, &st, NULL),
             "storing run of plan %.12s: ranks", h);
    for (int i = 0; i < n; i++) {
        const pp_run_rank *k = &ranks[i];
        sqlite3_reset(st);
        DB_CHECK(sqlite3_bind_int64(st, 1, run_id), "storing run of plan %.12s: ranks[%d]", h, i);
        DB_CHECK(sqlite3_bind_int(st, 2, k->rank), "storing run of plan %.12s: ranks[%d]", h, i);
        DB_CHECK(sqlite3_bind_text(st, 3, k->host, -1, SQLITE_STATIC), "storing run of plan %.12s: ranks[%d]", h, i);
        DB_CHECK(sqlite3_bind_int64(st, 4, k->peak_bytes), "storing run of plan %.12s: ranks[%d]", h, i);
        DB_CHECK(sqlite3_bind_double(st, 5, k->busy_s), "storing run of plan %.12s: ranks[%d]", h, i);
        DB_CHECK(sqlite3_step(st), "storing run of plan %.12s: ranks[%d] (rank %d)", h, i, k->rank);
    }
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

/* Inserts the events of run_id with one prepared statement, reset and
 * rebound per event. Inside a transaction. */
static int run_put_events(pp_db *db, const char *h, long long run_id, const pp_run_event *ev, long long n,
                          pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    if (n == 0) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h,
                                "INSERT INTO run_events (run_id, step, rank, stream, action, stage, mb, start_s, "
                                "end_s, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                                -1, &st, NULL),
             "storing run of plan %.12s: events", h);
    DB_CHECK(sqlite3_bind_int64(st, 1, run_id), "storing run of plan %.12s: events", h);
    for (long long i = 0; i < n; i++) {
        const pp_trace_event *e = &ev[i].ev;
        sqlite3_reset(st); /* bindings survive a reset: run_id stays bound */
        DB_CHECK(sqlite3_bind_int(st, 2, ev[i].step), "storing run of plan %.12s: events[%lld]", h, i);
        DB_CHECK(sqlite3_bind_int(st, 3, e->rank), "storing run of plan %.12s: events[%lld]", h, i);
        DB_CHECK(sqlite3_bind_int(st, 4, e->stream), "storing run of plan %.12s: events[%lld]", h, i);
        DB_CHECK(sqlite3_bind_int(st, 5, e->action), "storing run of plan %.12s: events[%lld]", h, i);
        DB_CHECK(sqlite3_bind_int(st, 6, e->stage), "storing run of plan %.12s: events[%lld]", h, i);
        DB_CHECK(sqlite3_bind_int(st, 7, e->mb), "storing run of plan %.12s: events[%lld]", h, i);
        DB_CHECK(sqlite3_bind_double(st, 8, e->start), "storing run of plan %.12s: events[%lld]", h, i);
        DB_CHECK(sqlite3_bind_double(st, 9, e->end), "storing run of plan %.12s: events[%lld]", h, i);
        DB_CHECK(sqlite3_bind_int64(st, 10, e->bytes), "storing run of plan %.12s: events[%lld]", h, i);
        DB_CHECK(sqlite3_step(st), "storing run of plan %.12s: events[%lld]", h, i);
    }
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

int pp_db_run_put(pp_db *db, pp_db_run *run, const pp_db_run_step *steps, int n_steps, const pp_run_rank *ranks,
                  int n_ranks, const pp_run_event *ev, long long n_ev, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    long long run_id = 0;
    char created[sizeof run->created_at] = "";
    if (!run) DB_FAIL(PP_ERR_INVALID, "storing a run: no run");
    run->id = 0;
    if (run_check(db, run, steps, n_steps, ranks, n_ranks, ev, n_ev, err)) goto cleanup;
    const char *h = run->plan_hash;

    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    DB_CHECK(sqlite3_prepare_v2(db->h,
                                "INSERT INTO runs (plan_hash, model, schedule, pp, dp, n_ranks, global_batch, "
                                "micro_batch, n_microbatches, seq_len, first_step, steps, status, message, "
                                "tokens_per_s, iteration_s, predicted_iteration_s, final_loss, created_at) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                                "nullif(?17, 0.0), ?18, coalesce(nullif(?19, ''), " UTC_NOW_SQL "))\n"
                                "RETURNING id, created_at",
                                -1, &st, NULL),
             "storing run of plan %.12s", h);
    const int ints[] = {run->pp,      run->dp,          run->n_ranks,    run->global_batch, run->micro_batch,
                        run->n_microbatches, run->seq_len, run->first_step, run->steps};
    DB_CHECK(sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC), "storing run of plan %.12s", h);
    DB_CHECK(sqlite3_bind_text(st, 2, run->model, -1, SQLITE_STATIC), "storing run of plan %.12s", h);
    DB_CHECK(sqlite3_bind_text(st, 3, run->schedule, -1, SQLITE_STATIC), "storing run of plan %.12s", h);
    for (int i = 0; i < (int)(sizeof ints / sizeof ints[0]); i++)
        DB_CHECK(sqlite3_bind_int(st, 4 + i, ints[i]), "storing run of plan %.12s", h);
    DB_CHECK(sqlite3_bind_text(st, 13, run->status, -1, SQLITE_STATIC), "storing run of plan %.12s", h);
    DB_CHECK(sqlite3_bind_text(st, 14, run->message, -1, SQLITE_STATIC), "storing run of plan %.12s", h);
    DB_CHECK(sqlite3_bind_double(st, 15, run->tokens_per_s), "storing run of plan %.12s", h);
    DB_CHECK(sqlite3_bind_double(st, 16, run->iteration_s), "storing run of plan %.12s", h);
    DB_CHECK(sqlite3_bind_double(st, 17, run->predicted_iteration_s), "storing run of plan %.12s", h);
    DB_CHECK(bind_real_or_null(st, 18, run->final_loss), "storing run of plan %.12s", h);
    DB_CHECK(sqlite3_bind_text(st, 19, run->created_at, -1, SQLITE_STATIC), "storing run of plan %.12s", h);
    DB_CHECK(sqlite3_step(st), "storing run of plan %.12s", h);
    if (rc != SQLITE_ROW) DB_FAIL(PP_ERR_DB, "storing run of plan %.12s: no id returned", h);
    run_id = sqlite3_column_int64(st, 0);
    col_copy(st, 1, created, sizeof created);
    DB_CHECK(sqlite3_step(st), "storing run of plan %.12s", h); /* to SQLITE_DONE */
    sqlite3_finalize(st);
    st = NULL;
    if (run_put_steps(db, h, run_id, steps, n_steps, err) || run_put_ranks(db, h, run_id, ranks, n_ranks, err) ||
        run_put_events(db, h, run_id, ev, n_ev, err))
        goto cleanup;
    began = 0;
    if (pp_db_commit(db, err)) goto cleanup;
    run->id = run_id;
    memcpy(run->created_at, created, sizeof created);
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    if (began) pp_db_rollback(db, NULL);
    return ret;
}

#define RUN_SELECT                                                                                            \
    "SELECT id, plan_hash, model, schedule, status, message, created_at, pp, dp, n_ranks, global_batch, "    \
    "micro_batch, n_microbatches, seq_len, first_step, steps, tokens_per_s, iteration_s, "                   \
    "predicted_iteration_s, final_loss FROM runs "

static int run_fill(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    (void)db;
    (void)err;
    pp_db_run *r = row;
    r->id = sqlite3_column_int64(st, 0);
    col_hash(st, 1, r->plan_hash);
    col_copy(st, 2, r->model, sizeof r->model);
    col_copy(st, 3, r->schedule, sizeof r->schedule);
    col_copy(st, 4, r->status, sizeof r->status);
    col_copy(st, 5, r->message, sizeof r->message);
    col_copy(st, 6, r->created_at, sizeof r->created_at);
    int *ints[] = {&r->pp,           &r->dp,      &r->n_ranks,    &r->global_batch, &r->micro_batch,
                   &r->n_microbatches, &r->seq_len, &r->first_step, &r->steps};
    for (int i = 0; i < (int)(sizeof ints / sizeof ints[0]); i++) *ints[i] = sqlite3_column_int(st, 7 + i);
    r->tokens_per_s = sqlite3_column_double(st, 16);
    r->iteration_s = sqlite3_column_double(st, 17);
    r->predicted_iteration_s = sqlite3_column_double(st, 18); /* NULL reads as 0 */
    r->final_loss = col_real_or_nan(st, 19);
    return 0;
}

int pp_db_runs_list(pp_db *db, pp_db_run **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < RUNS_SINCE) return 0;
    return pp_dbi_rows_int(db, RUN_SELECT "ORDER BY id DESC", NULL, 0, sizeof **rows, run_fill, NULL, (void **)rows, n,
                           "listing runs", err);
}

int pp_db_run_get(pp_db *db, long long id, pp_db_run *run, int *found, pp_err *err) {
    memset(run, 0, sizeof *run);
    *found = 0;
    if (db->version < RUNS_SINCE) return 0;
    char what[64];
    snprintf(what, sizeof what, "looking up run %lld", id);
    pp_dbi_bind b = DBI_INT(id);
    return pp_dbi_row(db, RUN_SELECT "WHERE id = ?1", &b, 1, sizeof *run, run_fill, run, found, what, err);
}

int pp_db_run_latest_of_plan(pp_db *db, const char *plan_hash, pp_db_run *run, int *found, pp_err *err) {
    memset(run, 0, sizeof *run);
    *found = 0;
    if (db->version < RUNS_SINCE) return 0;
    pp_dbi_bind b = DBI_TEXT(plan_hash);
    return pp_dbi_row(db, RUN_SELECT "WHERE plan_hash = ?1 ORDER BY id DESC LIMIT 1", &b, 1, sizeof *run, run_fill,
                      run, found, "looking up the newest run of a plan", err);
}

static int step_row(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    (void)db;
    (void)err;
    pp_db_run_step *s = row;
    s->step = sqlite3_column_int(st, 0);
    s->loss = col_real_or_nan(st, 1);
    s->grad_norm = col_real_or_nan(st, 2);
    s->seconds = sqlite3_column_double(st, 3);
    return 0;
}

int pp_db_run_steps(pp_db *db, long long id, pp_db_run_step **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < RUNS_SINCE) return 0;
    char what[96];
    snprintf(what, sizeof what, "reading the steps of run %lld", id);
    pp_dbi_bind b = DBI_INT(id);
    return pp_dbi_rows_int(db, "SELECT step, loss, grad_norm, seconds FROM run_steps WHERE run_id = ?1 ORDER BY step",
                           &b, 1, sizeof **rows, step_row, NULL, (void **)rows, n, what, err);
}

static int rank_row(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    (void)db;
    (void)err;
    pp_run_rank *k = row;
    k->rank = sqlite3_column_int(st, 0);
    col_copy(st, 1, k->host, sizeof k->host);
    k->peak_bytes = sqlite3_column_int64(st, 2);
    k->busy_s = sqlite3_column_double(st, 3);
    return 0;
}

int pp_db_run_ranks(pp_db *db, long long id, pp_run_rank **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < RUNS_SINCE) return 0;
    char what[96];
    snprintf(what, sizeof what, "reading the ranks of run %lld", id);
    pp_dbi_bind b = DBI_INT(id);
    return pp_dbi_rows_int(db, "SELECT rank, host, peak_bytes, busy_s FROM run_ranks WHERE run_id = ?1 ORDER BY rank",
                           &b, 1, sizeof **rows, rank_row, NULL, (void **)rows, n, what, err);
}

static int event_row(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    (void)db;
    (void)err;
    pp_run_event *r = row;
    r->step = sqlite3_column_int(st, 0);
    r->ev.rank = sqlite3_column_int(st, 1);
    r->ev.stream = sqlite3_column_int(st, 2);
    r->ev.action = sqlite3_column_int(st, 3);
    r->ev.stage = sqlite3_column_int(st, 4);
    r->ev.mb = sqlite3_column_int(st, 5);
    r->ev.start = sqlite3_column_double(st, 6);
    r->ev.end = sqlite3_column_double(st, 7);
    r->ev.bytes = sqlite3_column_int64(st, 8);
    return 0;
}

int pp_db_run_events(pp_db *db, long long id, int step, pp_run_event **rows, long long *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < RUNS_SINCE) return 0;
    /* Two statements, so the one-step form can seek on (run_id, step). */
    const char *sql = step < 0 ? "SELECT step, rank, stream, action, stage, mb, start_s, end_s, bytes FROM run_events "
                                 "WHERE run_id = ?1 ORDER BY step, rank, stream, start_s, end_s, rowid"
                               : "SELECT step, rank, stream, action, stage, mb, start_s, end_s, bytes FROM run_events "
                                 "WHERE run_id = ?1 AND step = ?2 ORDER BY rank, stream, start_s, end_s, rowid";
    pp_dbi_bind binds[2] = {DBI_INT(id), DBI_INT(step)};
    char what[96];
    snprintf(what, sizeof what, "reading the events of run %lld", id);
    return pp_dbi_rows(db, sql, binds, step < 0 ? 1 : 2, sizeof **rows, event_row, NULL, (void **)rows, n, what, err);
}

int pp_db_run_event_count(pp_db *db, long long id, long long *n, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    *n = 0;
    if (db->version < RUNS_SINCE) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT count(*) FROM run_events WHERE run_id = ?1", -1, &st, NULL),
             "counting the events of run %lld", id);
    DB_CHECK(sqlite3_bind_int64(st, 1, id), "counting the events of run %lld", id);
    DB_CHECK(sqlite3_step(st), "counting the events of run %lld", id);
    if (rc != SQLITE_ROW) DB_FAIL(PP_ERR_DB, "counting the events of run %lld: no result", id);
    *n = sqlite3_column_int64(st, 0);
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}
