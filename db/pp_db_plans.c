/*
 * pp_db_plans.c -- models and plans (see pp_db.h): both keyed by a SHA-256
 * hash and named, stored through the one upsert (pp_dbi_upsert_named) and
 * read through the row reader.
 */
#include "db/pp_db_int.h"

#include <stdarg.h>
#include <stdlib.h>

#include "core/pp_hash.h"

/* ---- The upsert ------------------------------------------------------------ */

/* Appends printf output to buf (size n) at *o, clamping at the end. */
__attribute__((format(printf, 4, 5))) static void add(char *buf, size_t n, size_t *o, const char *fmt, ...) {
    if (*o >= n) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *o, n - *o, fmt, ap);
    va_end(ap);
    *o = k < 0 ? n : *o + (size_t)k < n ? *o + (size_t)k : n;
}

/* A bound value as it reads in a message: numbers plain, text quoted. */
static void bind_text(const pp_dbi_bind *b, char *out, size_t n) {
    if (b->type == DBI_B_INT) snprintf(out, n, "%lld", b->i);
    else if (b->type == DBI_B_REAL) snprintf(out, n, "%g", b->r);
    else snprintf(out, n, "'%.200s'", b->s ? b->s : "");
}

int pp_dbi_upsert_named(pp_db *db, const pp_dbi_upsert *u, long long *id, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    long long row_id = 0;
    char sql[1024];
    size_t o = 0;
    /* The stored row: its id, name, and whether each key column agrees. */
    add(sql, sizeof sql, &o, "SELECT id, name");
    for (int k = 0; k < u->n_keys; k++) add(sql, sizeof sql, &o, ", %s, %s IS ?%d", u->cols[k], u->cols[k], k + 2);
    add(sql, sizeof sql, &o, " FROM %s WHERE %s = ?1", u->table, u->hash_col);

    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    DB_CHECK(sqlite3_prepare_v2(db->h, sql, -1, &st, NULL), "storing %s '%s'", u->noun, u->name);
    DB_CHECK(sqlite3_bind_text(st, 1, u->hash, -1, SQLITE_STATIC), "storing %s '%s'", u->noun, u->name);
    DB_CHECK(pp_dbi_bind_all(st, 2, u->vals, u->n_keys), "storing %s '%s'", u->noun, u->name);
    DB_CHECK(sqlite3_step(st), "storing %s '%s'", u->noun, u->name);
    if (rc == SQLITE_ROW) {
        /* Seen before: keep the row, take the new name. */
        row_id = sqlite3_column_int64(st, 0);
        int renamed = strcmp(col_str(st, 1), u->name) != 0, agree = 1;
        for (int k = 0; k < u->n_keys; k++) agree &= sqlite3_column_int(st, 3 + 2 * k) == 1;
        if (!agree) {
            char was[512], now[512], v[256];
            size_t ow = 0, on = 0;
            for (int k = 0; k < u->n_keys; k++) {
                const char *sep = k ? ", " : "";
                if (sqlite3_column_type(st, 2 + 2 * k) == SQLITE_TEXT)
                    add(was, sizeof was, &ow, "%s%s '%.200s'", sep, u->cols[k], col_str(st, 2 + 2 * k));
                else
                    add(was, sizeof was, &ow, "%s%s %s", sep, u->cols[k], col_str(st, 2 + 2 * k));
                bind_text(&u->vals[k], v, sizeof v);
                add(now, sizeof now, &on, "%s%s %s", sep, u->cols[k], v);
            }
            DB_FAIL(PP_ERR_INVALID,
                    "storing %s '%s': hash %.12s is already stored with %s, not %s; refusing the inconsistent %s",
                    u->noun, u->name, u->hash, was, now, u->noun);
        }
        sqlite3_finalize(st);
        st = NULL;
        if (renamed) {
            snprintf(sql, sizeof sql, "UPDATE %s SET name = ?1 WHERE id = ?2", u->table);
            DB_CHECK(sqlite3_prepare_v2(db->h, sql, -1, &st, NULL), "renaming %s to '%s'", u->noun, u->name);
            DB_CHECK(sqlite3_bind_text(st, 1, u->name, -1, SQLITE_STATIC), "renaming %s to '%s'", u->noun, u->name);
            DB_CHECK(sqlite3_bind_int64(st, 2, row_id), "renaming %s to '%s'", u->noun, u->name);
            DB_CHECK(sqlite3_step(st), "renaming %s to '%s'", u->noun, u->name);
        }
    } else {
        sqlite3_finalize(st);
        st = NULL;
        o = 0;
        add(sql, sizeof sql, &o, "INSERT INTO %s (", u->table);
        for (int k = 0; k < u->n_cols; k++) add(sql, sizeof sql, &o, "%s, ", u->cols[k]);
        add(sql, sizeof sql, &o, "name, %s) VALUES (", u->hash_col);
        for (int k = 0; k < u->n_cols + 2; k++) add(sql, sizeof sql, &o, "%s?%d", k ? ", " : "", k + 1);
        add(sql, sizeof sql, &o, ")");
        DB_CHECK(sqlite3_prepare_v2(db->h, sql, -1, &st, NULL), "storing %s '%s'", u->noun, u->name);
        DB_CHECK(pp_dbi_bind_all(st, 1, u->vals, u->n_cols), "storing %s '%s'", u->noun, u->name);
        DB_CHECK(sqlite3_bind_text(st, u->n_cols + 1, u->name, -1, SQLITE_STATIC), "storing %s '%s'", u->noun,
                 u->name);
        DB_CHECK(sqlite3_bind_text(st, u->n_cols + 2, u->hash, -1, SQLITE_STATIC), "storing %s '%s'", u->noun,
                 u->name);
        DB_CHECK(sqlite3_step(st), "storing %s '%s'", u->noun, u->name);
        row_id = sqlite3_last_insert_rowid(db->h);
    }
    sqlite3_finalize(st);
    st = NULL;
    began = 0;
    if (pp_db_commit(db, err)) goto cleanup;
    if (id) *id = row_id;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    if (began) pp_db_rollback(db, NULL);
    return ret;
}

/* ---- Models --------------------------------------------------------------- */

#define MODEL_COLS "id, name, family, hash, n_params, config_json, created_at"

static int model_row_fill(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    pp_db_model_row *r = row;
    r->id = sqlite3_column_int64(st, 0);
    if (pp_dbi_col_dup(db, st, 1, &r->name, err) || pp_dbi_col_dup(db, st, 2, &r->family, err)) goto fail;
    col_hash(st, 3, r->hash);
    r->n_params = sqlite3_column_int64(st, 4);
    if (pp_dbi_col_dup(db, st, 5, &r->config_json, err) || pp_dbi_col_dup(db, st, 6, &r->created_at, err)) goto fail;
    return 0;
fail:
    pp_db_model_row_clear(r);
    return -1;
}

void pp_db_model_row_clear(pp_db_model_row *row) {
    if (!row) return;
    free(row->name);
    free(row->family);
    free(row->config_json);
    free(row->created_at);
    memset(row, 0, sizeof *row);
}

static void model_row_clear(void *row) { pp_db_model_row_clear(row); }

void pp_db_model_rows_free(pp_db_model_row *rows, int n) {
    if (!rows) return;
    for (int i = 0; i < n; i++) pp_db_model_row_clear(&rows[i]);
    free(rows);
}

int pp_db_model_put(pp_db *db, const char *name, const char *family, const char *hash, long long n_params,
                    const char *config_json, long long *id, pp_err *err) {
    int ret = -1;
    if (!valid_text(name)) DB_FAIL(PP_ERR_INVALID, "storing a model: the name is empty");
    if (!valid_text(family)) DB_FAIL(PP_ERR_INVALID, "storing model '%s': the family is empty", name);
    if (!pp_sha256_hex_valid(hash))
        DB_FAIL(PP_ERR_INVALID, "storing model '%s': hash '%s' is not 64 lowercase hex digits", name,
                hash ? hash : "(null)");
    if (n_params < 0) DB_FAIL(PP_ERR_INVALID, "storing model '%s': n_params %lld is negative", name, n_params);
    if (!config_json) DB_FAIL(PP_ERR_INVALID, "storing model '%s': no config JSON", name);
    pp_dbi_upsert u = {.table = "models",
                       .noun = "model",
                       .name = name,
                       .hash_col = "hash",
                       .hash = hash,
                       .n_keys = 2,
                       .n_cols = 3,
                       .cols = {"family", "n_params", "config_json"},
                       .vals = {DBI_TEXT(family), DBI_INT(n_params), DBI_TEXT(config_json)}};
    ret = pp_dbi_upsert_named(db, &u, id, err);
cleanup:
    return ret;
}

int pp_db_model_get_by_hash(pp_db *db, const char *hash, pp_db_model_row *row, int *found, pp_err *err) {
    int ret = -1;
    memset(row, 0, sizeof *row);
    *found = 0;
    if (!hash) DB_FAIL(PP_ERR_INVALID, "looking up a model: no hash");
    if (db->version < MODELS_SINCE) return 0;
    char what[96];
    snprintf(what, sizeof what, "looking up model %.12s", hash);
    pp_dbi_bind b = DBI_TEXT(hash);
    ret = pp_dbi_row(db, "SELECT " MODEL_COLS " FROM models WHERE hash = ?1", &b, 1, sizeof *row, model_row_fill, row,
                     found, what, err);
cleanup:
    return ret;
}

int pp_db_models_list(pp_db *db, pp_db_model_row **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < MODELS_SINCE) return 0;
    return pp_dbi_rows_int(db, "SELECT " MODEL_COLS " FROM models ORDER BY id", NULL, 0, sizeof **rows, model_row_fill,
                           model_row_clear, (void **)rows, n, "listing models", err);
}

/* ---- Plans ---------------------------------------------------------------- */

#define PLAN_COLS "id, name, plan_hash, model_hash, n_ranks, schedule, plan_json, created_at"

static int plan_row_fill(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    pp_db_plan_row *r = row;
    r->id = sqlite3_column_int64(st, 0);
    if (pp_dbi_col_dup(db, st, 1, &r->name, err)) goto fail;
    col_hash(st, 2, r->plan_hash);
    col_hash(st, 3, r->model_hash);
    r->n_ranks = sqlite3_column_int(st, 4);
    if (pp_dbi_col_dup(db, st, 5, &r->schedule, err) || pp_dbi_col_dup(db, st, 6, &r->plan_json, err) ||
        pp_dbi_col_dup(db, st, 7, &r->created_at, err))
        goto fail;
    return 0;
fail:
    pp_db_plan_row_clear(r);
    return -1;
}

void pp_db_plan_row_clear(pp_db_plan_row *row) {
    if (!row) return;
    free(row->name);
    free(row->schedule);
    free(row->plan_json);
    free(row->created_at);
    memset(row, 0, sizeof *row);
}

static void plan_row_clear(void *row) { pp_db_plan_row_clear(row); }

void pp_db_plan_rows_free(pp_db_plan_row *rows, int n) {
    if (!rows) return;
    for (int i = 0; i < n; i++) pp_db_plan_row_clear(&rows[i]);
    free(rows);
}

int pp_db_plan_put(pp_db *db, const char *name, const char *plan_hash, const char *model_hash, int n_ranks,
                   const char *schedule, const char *plan_json, long long *id, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    if (!valid_text(name)) DB_FAIL(PP_ERR_INVALID, "storing a plan: the name is empty");
    if (!pp_sha256_hex_valid(plan_hash))
        DB_FAIL(PP_ERR_INVALID, "storing plan '%s': plan hash '%s' is not 64 lowercase hex digits", name,
                plan_hash ? plan_hash : "(null)");
    if (!pp_sha256_hex_valid(model_hash))
        DB_FAIL(PP_ERR_INVALID, "storing plan '%s': model hash '%s' is not 64 lowercase hex digits", name,
                model_hash ? model_hash : "(null)");
    if (n_ranks < 1) DB_FAIL(PP_ERR_INVALID, "storing plan '%s': n_ranks %d is below 1", name, n_ranks);
    if (!valid_text(schedule)) DB_FAIL(PP_ERR_INVALID, "storing plan '%s': the schedule name is empty", name);
    if (!plan_json) DB_FAIL(PP_ERR_INVALID, "storing plan '%s': no plan JSON", name);

    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    /* The foreign key would refuse an unknown model too; this says why. */
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT 1 FROM models WHERE hash = ?1", -1, &st, NULL),
             "storing plan '%s'", name);
    DB_CHECK(sqlite3_bind_text(st, 1, model_hash, -1, SQLITE_STATIC), "storing plan '%s'", name);
    DB_CHECK(sqlite3_step(st), "storing plan '%s'", name);
    if (rc != SQLITE_ROW)
        DB_FAIL(PP_ERR_INVALID, "storing plan '%s': its model %.12s is not stored; store the model first", name,
                model_hash);
    sqlite3_finalize(st);
    st = NULL;
    pp_dbi_upsert u = {.table = "plans",
                       .noun = "plan",
                       .name = name,
                       .hash_col = "plan_hash",
                       .hash = plan_hash,
                       .n_keys = 3,
                       .n_cols = 4,
                       .cols = {"model_hash", "n_ranks", "schedule", "plan_json"},
                       .vals = {DBI_TEXT(model_hash), DBI_INT(n_ranks), DBI_TEXT(schedule), DBI_TEXT(plan_json)}};
    if (pp_dbi_upsert_named(db, &u, id, err)) goto cleanup;
    began = 0;
    if (pp_db_commit(db, err)) goto cleanup;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    if (began) pp_db_rollback(db, NULL);
    return ret;
}

int pp_db_plan_get_by_hash(pp_db *db, const char *plan_hash, pp_db_plan_row *row, int *found, pp_err *err) {
    int ret = -1;
    memset(row, 0, sizeof *row);
    *found = 0;
    if (!plan_hash) DB_FAIL(PP_ERR_INVALID, "looking up a plan: no hash");
    if (db->version < PLANS_SINCE) return 0;
    char what[96];
    snprintf(what, sizeof what, "looking up plan %.12s", plan_hash);
    pp_dbi_bind b = DBI_TEXT(plan_hash);
    ret = pp_dbi_row(db, "SELECT " PLAN_COLS " FROM plans WHERE plan_hash = ?1", &b, 1, sizeof *row, plan_row_fill, row,
                     found, what, err);
cleanup:
    return ret;
}

int pp_db_plans_list(pp_db *db, pp_db_plan_row **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < PLANS_SINCE) return 0;
    return pp_dbi_rows_int(db, "SELECT " PLAN_COLS " FROM plans ORDER BY id", NULL, 0, sizeof **rows, plan_row_fill,
                           plan_row_clear, (void **)rows, n, "listing plans", err);
}
