/*
 * pp_db_int.h -- what the files of db/ share and nothing outside db/ sees:
 * the connection struct, the error macros every SQLite call goes through,
 * the small column and bind helpers, the one row reader every list and get
 * function reads through, the one upsert the named, hash-keyed tables
 * (models, plans) are stored with, and the schema's migrations.
 *
 *   pp_db.c           opening, refusing, migrating, transactions, the row reader
 *   pp_db_schema.c    the migration scripts (the schema's history)
 *   pp_db_plans.c     models and plans (the upsert)
 *   pp_db_profiles.c  devices, op profiles, links, whole steps, the optimizer,
 *                     collectives
 *   pp_db_runs.c      measured runs, their steps, ranks and events
 *
 * Names here are pp_dbi_* (external, but private to the module).
 */
#ifndef PP_DB_INT_H
#define PP_DB_INT_H

#include <math.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "db/pp_db.h"

/* How long a connection waits for another process's write lock. */
#define PP_DB_BUSY_TIMEOUT_MS 10000

/* SQL for "now" in the format every created_at / measured_at column holds. */
#define UTC_NOW_SQL "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

struct pp_db {
    sqlite3 *h;
    char *path;
    int version;  /* schema version of the open file */
    int readonly; /* opened with pp_db_open_readonly */
    int depth;    /* open pp_db_begin levels */
};

/* The schema version that created each table, so a read-only look at an
 * older database can report a table it does not have yet as empty. */
enum { MODELS_SINCE = 1, PLANS_SINCE = 1, PROFILES_SINCE = 2, RUNS_SINCE = 3, PSEUDO_TABLES_SINCE = 5 };

/* ---- Schema (pp_db_schema.c) --------------------------------------------- */

/* The script taking the schema from version v to v + 1, for v in
 * [0, PP_DB_SCHEMA_VERSION); NULL otherwise. */
const char *pp_dbi_migration(int v);

/* The pseudo-rows of op_profiles before schema version 5, as rows of the
 * tables that replace them: migration 5 moves them with these selects and a
 * read-only look at a version 2..4 database reads them through them, so
 * they must not change (databases out there were migrated by them). Each
 * yields id (the op_profiles row), device_id and the new table's columns.
 *   step:       "step <16 hex> <n> ops", kind "step": f_s the whole step,
 *               i_s the sum of its ops, f_samples its timings;
 *   optimizer:  "optim adamw f32 per-parameter", kind "optim": f_s seconds
 *               per parameter, f_samples;
 *   all-reduce: "allreduce f32 over <n> ranks", kind "allreduce": f_s alpha,
 *               i_s 1 / beta, w_s the fit's residual, f_samples. */
#define V4_PSEUDO_FROM "FROM op_profiles p JOIN op_signatures s ON s.id = p.signature_id "
#define V4_IS_STEP                                                                                           \
    "(s.kind = 'step' AND s.signature GLOB 'step * * ops' AND substr(s.signature, 22, 1) = ' ' AND "        \
    "substr(s.signature, 6, 16) NOT GLOB '*[^0-9a-f]*' AND "                                                 \
    "CAST(substr(s.signature, 23, length(s.signature) - 26) AS INTEGER) >= 1)"
#define V4_IS_OPTIM "(s.kind = 'optim' AND s.signature = 'optim adamw f32 per-parameter')"
#define V4_IS_ALLREDUCE                                                                                      \
    "(s.kind = 'allreduce' AND s.signature GLOB 'allreduce f32 over * ranks' AND "                           \
    "CAST(substr(s.signature, 20, length(s.signature) - 25) AS INTEGER) >= 2)"
#define V4_IS_PSEUDO "(" V4_IS_STEP " OR " V4_IS_OPTIM " OR " V4_IS_ALLREDUCE ")"
#define V4_STEP_ROWS                                                                                         \
    "SELECT p.id AS id, p.device_id AS device_id, substr(s.signature, 6, 16) AS graph_hash, "                \
    "CAST(substr(s.signature, 23, length(s.signature) - 26) AS INTEGER) AS n_ops, p.f_s AS whole_s, "        \
    "p.i_s AS sum_ops_s, p.f_samples AS samples, p.measured_at AS measured_at " V4_PSEUDO_FROM              \
    "WHERE " V4_IS_STEP
#define V4_OPTIM_ROWS                                                                                        \
    "SELECT p.id AS id, p.device_id AS device_id, 'adamw' AS optimizer, 'f32' AS dtype, "                    \
    "p.f_s AS s_per_param, p.f_samples AS samples, p.measured_at AS measured_at " V4_PSEUDO_FROM            \
    "WHERE " V4_IS_OPTIM
#define V4_COLLECTIVE_ROWS                                                                                   \
    "SELECT p.id AS id, p.device_id AS device_id, 'allreduce' AS op, 'f32' AS dtype, "                       \
    "CAST(substr(s.signature, 20, length(s.signature) - 25) AS INTEGER) AS n_ranks, p.f_s AS alpha_s, "      \
    "CASE WHEN p.i_s > 0 THEN 1.0 / p.i_s ELSE 0.0 END AS beta_Bps, p.w_s AS residual, "                    \
    "p.f_samples AS samples, p.measured_at AS measured_at " V4_PSEUDO_FROM "WHERE " V4_IS_ALLREDUCE

/* ---- Errors (pp_db.c) ------------------------------------------------------ */

/* Fills err with "PATH: CONTEXT: DETAIL [FILE:LINE]" for SQLite result rc
 * and returns -1 (err may be NULL). */
__attribute__((format(printf, 6, 7))) int pp_dbi_error(const pp_db *db, pp_err *err, int rc, const char *file,
                                                       int line, const char *fmt, ...);

/* Fills err with "PATH: MESSAGE" and returns -1 (err may be NULL). */
__attribute__((format(printf, 4, 5))) int pp_dbi_fail(const pp_db *db, pp_err *err, pp_status code,
                                                      const char *fmt, ...);

/* Runs one sqlite3 call; on any result but OK, ROW or DONE records the error
 * (with this source line and a printf-style context) and jumps to cleanup.
 * Needs `db`, `err` and `int rc` in scope; rc keeps the result. */
#define DB_CHECK(call, ...)                                                                                  \
    do {                                                                                                     \
        rc = (call);                                                                                         \
        if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {                                      \
            pp_dbi_error(db, err, rc, __FILE__, __LINE__, __VA_ARGS__);                                      \
            goto cleanup;                                                                                    \
        }                                                                                                    \
    } while (0)

/* Records a non-SQLite failure about db ("PATH: ...") and jumps to cleanup. */
#define DB_FAIL(code, ...)                                                                                   \
    do {                                                                                                     \
        pp_dbi_fail(db, err, code, __VA_ARGS__);                                                             \
        goto cleanup;                                                                                        \
    } while (0)

/* ---- Columns and values ---------------------------------------------------- */

/* Column i as a borrowed string, "" for NULL (valid until the next step). */
static inline const char *col_str(sqlite3_stmt *st, int i) {
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? t : "";
}

/* Column i copied into a fixed buffer ("" for NULL), truncated if need be. */
static inline void col_copy(sqlite3_stmt *st, int i, char *out, size_t size) {
    snprintf(out, size, "%s", col_str(st, i));
}

/* Column i into a fixed 65-byte hash buffer. */
static inline void col_hash(sqlite3_stmt *st, int i, char out[65]) { col_copy(st, i, out, 65); }

/* Column i as a double, NaN for NULL. */
static inline double col_real_or_nan(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Binds v, or NULL when v is NaN (SQLite has no NaN). */
static inline int bind_real_or_null(sqlite3_stmt *st, int i, double v) {
    return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

static inline int valid_text(const char *s) { return s && *s; }

/* A fixed char buffer holds a terminated string. */
static inline int fits(const char *buf, size_t size) { return memchr(buf, '\0', size) != NULL; }

static inline int nonneg_finite(double v) { return isfinite(v) && v >= 0; }

/* Column i as a new string ("" for NULL) in *out (caller frees). Returns 0,
 * or -1 with err set and *out NULL. */
int pp_dbi_col_dup(const pp_db *db, sqlite3_stmt *st, int i, char **out, pp_err *err);

/* One value bound to a statement's ?N: an integer, a real or a text
 * (borrowed; NULL binds SQL NULL). */
typedef struct pp_dbi_bind {
    enum { DBI_B_INT, DBI_B_REAL, DBI_B_TEXT } type;
    long long i;
    double r;
    const char *s;
} pp_dbi_bind;
#define DBI_INT(v) ((pp_dbi_bind){.type = DBI_B_INT, .i = (v)})
#define DBI_REAL(v) ((pp_dbi_bind){.type = DBI_B_REAL, .r = (v)})
#define DBI_TEXT(v) ((pp_dbi_bind){.type = DBI_B_TEXT, .s = (v)})

/* Binds b[0..n) to ?first..?(first + n - 1) of st; returns SQLite's result
 * code. */
int pp_dbi_bind_all(sqlite3_stmt *st, int first, const pp_dbi_bind *b, int n);

/* ---- The row reader (pp_db.c) ---------------------------------------------
 *
 * Every list and get function reads its rows here: sql is prepared, the
 * binds bound, the statement stepped, and each row handed to a callback
 * (pp_dbi_each_row) or filled into a growing array (pp_dbi_rows) or into
 * one struct (pp_dbi_row). `what` names the query in errors ("listing
 * models"). */

/* Called for each row; returns 0 to go on, 1 to stop reading (not an
 * error), -1 with err set to fail. */
typedef int (*pp_dbi_row_fn)(pp_db *db, sqlite3_stmt *st, void *ctx, pp_err *err);

/* Fills one row struct (zeroed before the call) from the current row;
 * returns 0, or -1 with err set, having freed what it filled. */
typedef int (*pp_dbi_fill_fn)(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err);

/* Frees what a filled row owns (NULL for rows that own nothing). */
typedef void (*pp_dbi_clear_fn)(void *row);

/* Steps sql over every row, calling fn(db, st, ctx, err). Returns 0, or -1
 * with err set (the statement's error or fn's). */
int pp_dbi_each_row(pp_db *db, const char *sql, const pp_dbi_bind *binds, int n_binds, pp_dbi_row_fn fn, void *ctx,
                    const char *what, pp_err *err);

/* Every row of sql as a malloc'd array of row_size-byte structs filled by
 * fill: 0 with *rows (NULL when *n is 0; the caller clears each row with
 * clear and frees the array) and *n, or -1 with err set, *rows NULL and *n 0
 * (what was filled is cleared). */
int pp_dbi_rows(pp_db *db, const char *sql, const pp_dbi_bind *binds, int n_binds, size_t row_size,
                pp_dbi_fill_fn fill, pp_dbi_clear_fn clear, void **rows, long long *n, const char *what, pp_err *err);

/* pp_dbi_rows with an int count. */
int pp_dbi_rows_int(pp_db *db, const char *sql, const pp_dbi_bind *binds, int n_binds, size_t row_size,
                    pp_dbi_fill_fn fill, pp_dbi_clear_fn clear, void **rows, int *n, const char *what, pp_err *err);

/* The first row of sql into *row (row_size bytes, zeroed first): 0 with
 * *found 1, 0 with *found 0 and *row zeroed, or -1 with err set (*row
 * zeroed). */
int pp_dbi_row(pp_db *db, const char *sql, const pp_dbi_bind *binds, int n_binds, size_t row_size, pp_dbi_fill_fn fill,
               void *row, int *found, const char *what, pp_err *err);

/* ---- The upsert of named, hash-keyed rows (pp_db_plans.c) -----------------
 *
 * A row of `table` is keyed by its hash column; it has a name column
 * `name`, the n_keys columns cols[0..n_keys) that must agree with a row
 * already stored under the hash, and the insert-only columns
 * cols[n_keys..n_cols) (kept from the first store). A new hash inserts the
 * row; a stored hash whose key columns agree keeps its row, id and other
 * columns and takes the new name; one whose key columns differ is refused
 * as inconsistent. Runs in its own transaction, or inside the caller's.
 * Writes *id (may be NULL). Returns 0, or -1 with err set and nothing
 * written. */
typedef struct pp_dbi_upsert {
    const char *table;    /* "models" */
    const char *noun;     /* "model", in messages */
    const char *name;     /* the row's name (validated by the caller) */
    const char *hash_col; /* the unique key column, "hash" */
    const char *hash;     /* its value (validated by the caller) */
    int n_keys, n_cols;   /* at most 8 columns */
    const char *cols[8];
    pp_dbi_bind vals[8];
} pp_dbi_upsert;

int pp_dbi_upsert_named(pp_db *db, const pp_dbi_upsert *u, long long *id, pp_err *err);

#endif /* PP_DB_INT_H */
