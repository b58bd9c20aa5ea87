/*
 * pp_db.c -- the SQLite layer under every pippy command (see pp_db.h).
 *
 * pippy keeps what it learns -- models, plans, device profiles and links,
 * measured runs with their traces, and (in later migrations) predictions --
 * in one SQLite file, so that `pippy profile`, `plan`, `sim`, `run` and
 * `report` can build on one another across processes and hosts. This file is
 * the only place in pippy that speaks SQL. It owns:
 *
 *  - opening: WAL mode, a busy timeout so concurrent pippy processes wait
 *    for each other instead of failing, foreign keys on;
 *  - the schema: an ordered list of forward migrations, the version kept in
 *    PRAGMA user_version, each migration applied in one BEGIN IMMEDIATE
 *    transaction with its version bump (re-checked inside, so two processes
 *    opening a fresh file never both migrate);
 *  - refusal without harm: files that are not SQLite, SQLite files that are
 *    not pippy's, and databases from a newer pippy are inspected through a
 *    read-only connection and never written;
 *  - transactions that nest (BEGIN IMMEDIATE outside, savepoints inside), so
 *    a command can group several puts into one all-or-nothing write;
 *  - typed store/load of rows as plain C structs.
 *
 * Every sqlite3 call is checked through DB_CHECK, which records the database
 * path, what was being done, SQLite's message and the source line in the
 * caller's pp_err and jumps to the function's one cleanup label.
 */
#include "db/pp_db.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/pp_hash.h"
#include "core/pp_sched.h"

/* How long a connection waits for another process's write lock. */
#define PP_DB_BUSY_TIMEOUT_MS 10000

struct pp_db {
    sqlite3 *h;
    char *path;
    int version;  /* schema version of the open file */
    int readonly; /* opened with pp_db_open_readonly */
    int depth;    /* open pp_db_begin levels */
};

/* ---- Migrations ----------------------------------------------------------
 *
 * migrations[i] takes the schema from version i to version i + 1. The
 * runner executes it and sets PRAGMA user_version = i + 1 in the same
 * BEGIN IMMEDIATE transaction.
 *
 * To change the schema, APPEND a new script and raise PP_DB_SCHEMA_VERSION
 * in pp_db.h to the new array length (a static assert below keeps the two
 * in step). Never edit or reorder a migration that has been committed:
 * databases out there have already run it. A script must not contain
 * BEGIN/COMMIT or set user_version itself.
 */
static const char *const migrations[] = {
    /* 1: models and plans. */
    "CREATE TABLE models (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    name        TEXT    NOT NULL CHECK (length(name) > 0),\n"
    "    family      TEXT    NOT NULL CHECK (length(family) > 0),\n"
    "    hash        TEXT    NOT NULL UNIQUE\n"
    "                        CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),\n"
    "    n_params    INTEGER NOT NULL CHECK (n_params >= 0),\n"
    "    config_json TEXT    NOT NULL CHECK (json_valid(config_json)),\n"
    "    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "CREATE INDEX models_by_name ON models (name);\n"
    "CREATE TABLE plans (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    name        TEXT    NOT NULL CHECK (length(name) > 0),\n"
    "    plan_hash   TEXT    NOT NULL UNIQUE\n"
    "                        CHECK (length(plan_hash) = 64 AND plan_hash NOT GLOB '*[^0-9a-f]*'),\n"
    "    model_hash  TEXT    NOT NULL REFERENCES models (hash),\n"
    "    n_ranks     INTEGER NOT NULL CHECK (n_ranks >= 1),\n"
    "    schedule    TEXT    NOT NULL CHECK (length(schedule) > 0),\n"
    "    plan_json   TEXT    NOT NULL CHECK (json_valid(plan_json)),\n"
    "    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "CREATE INDEX plans_by_model ON plans (model_hash);\n"
    "CREATE INDEX plans_by_name ON plans (name);\n"
    "PRAGMA application_id = 1346981968;\n", /* PP_DB_APPLICATION_ID */
    /* 2: profiles -- devices, op signatures, op timings, links. */
    "CREATE TABLE devices (\n"
    "    id               INTEGER PRIMARY KEY,\n"
    "    fingerprint      TEXT    NOT NULL UNIQUE\n"
    "                             CHECK (length(fingerprint) = 64 AND fingerprint NOT GLOB '*[^0-9a-f]*'),\n"
    "    description_json TEXT    NOT NULL CHECK (json_valid(description_json)),\n"
    "    created_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "CREATE TABLE op_signatures (\n"
    "    id        INTEGER PRIMARY KEY,\n"
    "    signature TEXT    NOT NULL UNIQUE CHECK (length(signature) > 0),\n"
    "    kind      TEXT    NOT NULL CHECK (length(kind) > 0)\n"
    ") STRICT;\n"
    "CREATE INDEX op_signatures_by_kind ON op_signatures (kind);\n"
    "CREATE TABLE op_profiles (\n"
    "    id              INTEGER PRIMARY KEY,\n"
    "    device_id       INTEGER NOT NULL REFERENCES devices (id),\n"
    "    signature_id    INTEGER NOT NULL REFERENCES op_signatures (id),\n"
    "    f_s             REAL    NOT NULL CHECK (f_s >= 0),\n"
    "    i_s             REAL    NOT NULL CHECK (i_s >= 0),\n"
    "    w_s             REAL    NOT NULL CHECK (w_s >= 0),\n"
    "    f_spread        REAL    NOT NULL CHECK (f_spread >= 0),\n"
    "    i_spread        REAL    NOT NULL CHECK (i_spread >= 0),\n"
    "    w_spread        REAL    NOT NULL CHECK (w_spread >= 0),\n"
    "    f_samples       INTEGER NOT NULL CHECK (f_samples >= 0),\n"
    "    i_samples       INTEGER NOT NULL CHECK (i_samples >= 0),\n"
    "    w_samples       INTEGER NOT NULL CHECK (w_samples >= 0),\n"
    "    param_bytes     INTEGER NOT NULL CHECK (param_bytes >= 0),\n"
    "    keep_f_bytes    INTEGER NOT NULL CHECK (keep_f_bytes >= 0),\n"
    "    keep_w_bytes    INTEGER NOT NULL CHECK (keep_w_bytes >= 0),\n"
    "    workspace_bytes INTEGER NOT NULL CHECK (workspace_bytes >= 0),\n"
    "    measured_at     TEXT    NOT NULL CHECK (length(measured_at) > 0)\n"
    "                            DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),\n"
    "    UNIQUE (device_id, signature_id)\n"
    ") STRICT;\n"
    "CREATE INDEX op_profiles_by_signature ON op_profiles (signature_id);\n"
    "CREATE TABLE links (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    device_id   INTEGER NOT NULL REFERENCES devices (id),\n"
    "    src_rank    INTEGER NOT NULL CHECK (src_rank >= 0),\n"
    "    dst_rank    INTEGER NOT NULL CHECK (dst_rank >= 0),\n"
    "    src_host    TEXT    NOT NULL,\n"
    "    dst_host    TEXT    NOT NULL,\n"
    "    alpha_s     REAL    NOT NULL CHECK (alpha_s >= 0),\n"
    "    beta_Bps    REAL    NOT NULL CHECK (beta_Bps >= 0),\n"
    "    residual    REAL    NOT NULL CHECK (residual >= 0),\n"
    "    sizes_json  TEXT    NOT NULL CHECK (json_valid(sizes_json)),\n"
    "    measured_at TEXT    NOT NULL CHECK (length(measured_at) > 0)\n"
    "                        DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),\n"
    "    UNIQUE (device_id, src_rank, dst_rank, src_host, dst_host)\n"
    ") STRICT;\n",
    /* 3: measured training runs -- runs, their steps, ranks and trace events. */
    "CREATE TABLE runs (\n"
    "    id                    INTEGER PRIMARY KEY,\n"
    "    plan_hash             TEXT    NOT NULL\n"
    "                                  CHECK (length(plan_hash) = 64 AND plan_hash NOT GLOB '*[^0-9a-f]*'),\n"
    "    model                 TEXT    NOT NULL,\n"
    "    schedule              TEXT    NOT NULL,\n"
    "    pp                    INTEGER NOT NULL CHECK (pp >= 1),\n"
    "    dp                    INTEGER NOT NULL CHECK (dp >= 1),\n"
    "    n_ranks               INTEGER NOT NULL CHECK (n_ranks >= 1),\n"
    "    global_batch          INTEGER NOT NULL CHECK (global_batch >= 1),\n"
    "    micro_batch           INTEGER NOT NULL CHECK (micro_batch >= 1),\n"
    "    n_microbatches        INTEGER NOT NULL CHECK (n_microbatches >= 1),\n"
    "    seq_len               INTEGER NOT NULL CHECK (seq_len >= 1),\n"
    "    first_step            INTEGER NOT NULL CHECK (first_step >= 0),\n"
    "    steps                 INTEGER NOT NULL CHECK (steps >= 0),\n"
    "    status                TEXT    NOT NULL CHECK (status IN ('ok', 'failed')),\n"
    "    message               TEXT    NOT NULL DEFAULT '',\n"
    "    tokens_per_s          REAL    NOT NULL CHECK (tokens_per_s >= 0),\n"
    "    iteration_s           REAL    NOT NULL CHECK (iteration_s >= 0),\n"
    "    predicted_iteration_s REAL    CHECK (predicted_iteration_s > 0),\n" /* NULL: no prediction */
    "    final_loss            REAL,\n"                                      /* NULL: NaN or no step */
    "    created_at            TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "CREATE INDEX runs_by_plan ON runs (plan_hash);\n"
    "CREATE TABLE run_steps (\n"
    "    run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    step      INTEGER NOT NULL CHECK (step >= 0),\n"
    "    loss      REAL,\n"                                     /* NULL: NaN */
    "    grad_norm REAL    CHECK (grad_norm >= 0),\n"           /* NULL: NaN */
    "    seconds   REAL    NOT NULL CHECK (seconds >= 0),\n"
    "    PRIMARY KEY (run_id, step)\n"
    ") STRICT;\n"
    "CREATE TABLE run_ranks (\n"
    "    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    rank       INTEGER NOT NULL CHECK (rank >= 0),\n"
    "    host       TEXT    NOT NULL,\n"
    "    peak_bytes INTEGER NOT NULL CHECK (peak_bytes >= 0),\n"
    "    busy_s     REAL    NOT NULL CHECK (busy_s >= 0),\n"
    "    PRIMARY KEY (run_id, rank)\n"
    ") STRICT;\n"
    "CREATE TABLE run_events (\n"
    "    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    step    INTEGER NOT NULL CHECK (step >= 0),\n"
    "    rank    INTEGER NOT NULL CHECK (rank >= 0),\n"
    "    stream  INTEGER NOT NULL CHECK (stream >= 0),\n"       /* pp_stream */
    "    action  INTEGER NOT NULL CHECK (action >= 0),\n"       /* pp_act_type */
    "    stage   INTEGER NOT NULL CHECK (stage >= -1),\n"
    "    mb      INTEGER NOT NULL CHECK (mb >= -1),\n"
    "    start_s REAL    NOT NULL,\n"
    "    end_s   REAL    NOT NULL CHECK (end_s >= start_s),\n"
    "    bytes   INTEGER NOT NULL CHECK (bytes >= 0)\n"
    ") STRICT;\n"
    "CREATE INDEX run_events_by_step ON run_events (run_id, step, rank);\n",
    /* 4: a run can be stored as interrupted (a signal stopped it). SQLite
     * cannot change a CHECK in place: the table is rebuilt, its rows copied
     * (the runner turns foreign keys off around migrations, so dropping the
     * old table cascades to nothing, and checks them before committing). */
    "CREATE TABLE runs_v4 (\n"
    "    id                    INTEGER PRIMARY KEY,\n"
    "    plan_hash             TEXT    NOT NULL\n"
    "                                  CHECK (length(plan_hash) = 64 AND plan_hash NOT GLOB '*[^0-9a-f]*'),\n"
    "    model                 TEXT    NOT NULL,\n"
    "    schedule              TEXT    NOT NULL,\n"
    "    pp                    INTEGER NOT NULL CHECK (pp >= 1),\n"
    "    dp                    INTEGER NOT NULL CHECK (dp >= 1),\n"
    "    n_ranks               INTEGER NOT NULL CHECK (n_ranks >= 1),\n"
    "    global_batch          INTEGER NOT NULL CHECK (global_batch >= 1),\n"
    "    micro_batch           INTEGER NOT NULL CHECK (micro_batch >= 1),\n"
    "    n_microbatches        INTEGER NOT NULL CHECK (n_microbatches >= 1),\n"
    "    seq_len               INTEGER NOT NULL CHECK (seq_len >= 1),\n"
    "    first_step            INTEGER NOT NULL CHECK (first_step >= 0),\n"
    "    steps                 INTEGER NOT NULL CHECK (steps >= 0),\n"
    "    status                TEXT    NOT NULL CHECK (status IN ('ok', 'failed', 'interrupted')),\n"
    "    message               TEXT    NOT NULL DEFAULT '',\n"
    "    tokens_per_s          REAL    NOT NULL CHECK (tokens_per_s >= 0),\n"
    "    iteration_s           REAL    NOT NULL CHECK (iteration_s >= 0),\n"
    "    predicted_iteration_s REAL    CHECK (predicted_iteration_s > 0),\n" /* NULL: no prediction */
    "    final_loss            REAL,\n"                                      /* NULL: NaN or no step */
    "    created_at            TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "INSERT INTO runs_v4 SELECT * FROM runs;\n"
    "DROP TABLE runs;\n"
    "ALTER TABLE runs_v4 RENAME TO runs;\n"
    "CREATE INDEX runs_by_plan ON runs (plan_hash);\n",
    /* Append migration 5 here. */
};

_Static_assert(sizeof migrations / sizeof migrations[0] == PP_DB_SCHEMA_VERSION,
               "PP_DB_SCHEMA_VERSION must equal the number of migrations");
_Static_assert(PP_DB_APPLICATION_ID == 1346981968, "migration 1 writes PP_DB_APPLICATION_ID");

/* The schema version that created each table, so a read-only look at an
 * older database can report a table it does not have yet as empty. */
enum { MODELS_SINCE = 1, PLANS_SINCE = 1, PROFILES_SINCE = 2, RUNS_SINCE = 3 };

/* ---- Errors --------------------------------------------------------------- */

/* Fills err with "PATH: CONTEXT: DETAIL [pp_db.c:LINE]" for SQLite result rc
 * and returns -1. DETAIL is SQLite's own message, made plainer for the
 * results a user can meet. */
__attribute__((format(printf, 6, 7))) static int db_error(const pp_db *db, pp_err *err, int rc, const char *file,
                                                          int line, const char *fmt, ...) {
    if (!err) return -1;
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    const char *msg = db->h && sqlite3_errcode(db->h) == rc ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc);
    pp_status code = (rc & 0xff) == SQLITE_NOMEM ? PP_ERR_NOMEM : PP_ERR_DB;
    /* What was being done does not matter here: the file is the problem. */
    if ((rc & 0xff) == SQLITE_NOTADB)
        return pp_err_set(err, code, "%s: not an SQLite database, so not a pippy database; left untouched [%s:%d]",
                          db->path, base, line);
    char detail[512];
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        snprintf(detail, sizeof detail, "%s (another process kept it busy; waited up to %d s)", msg,
                 PP_DB_BUSY_TIMEOUT_MS / 1000);
        break;
    default:
        snprintf(detail, sizeof detail, "%s", msg);
    }
    return pp_err_set(err, code, "%s: %s: %s [%s:%d]", db->path, ctx, detail, base, line);
}

/* Runs one sqlite3 call; on any result but OK, ROW or DONE records the error
 * (with this source line and a printf-style context) and jumps to cleanup.
 * Needs `db`, `err` and `int rc` in scope; rc keeps the result. */
#define DB_CHECK(call, ...)                                                                                  \
    do {                                                                                                     \
        rc = (call);                                                                                         \
        if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {                                      \
            db_error(db, err, rc, __FILE__, __LINE__, __VA_ARGS__);                                          \
            goto cleanup;                                                                                    \
        }                                                                                                    \
    } while (0)

/* Records a non-SQLite failure about db ("PATH: ...") and jumps to cleanup. */
#define DB_FAIL(code, ...)                                                                                   \
    do {                                                                                                     \
        db_fail(db, err, code, __VA_ARGS__);                                                                 \
        goto cleanup;                                                                                        \
    } while (0)

__attribute__((format(printf, 4, 5))) static int db_fail(const pp_db *db, pp_err *err, pp_status code,
                                                         const char *fmt, ...) {
    if (!err) return -1;
    char msg[PP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pp_err_set(err, code, "%s: %s", db->path, msg);
}

/* ---- Small helpers -------------------------------------------------------- */

/* Reads n integers from the one row of a query (PRAGMAs, counts). */
static int db_query_ints(pp_db *db, const char *sql, int *out, int n, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    DB_CHECK(sqlite3_prepare_v2(db->h, sql, -1, &st, NULL), "reading the schema");
    DB_CHECK(sqlite3_step(st), "reading the schema");
    if (rc != SQLITE_ROW) DB_FAIL(PP_ERR_DB, "reading the schema: no result");
    for (int i = 0; i < n; i++) out[i] = sqlite3_column_int(st, i);
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

/* Column i as a new string ("" for NULL). */
static int col_dup(const pp_db *db, sqlite3_stmt *st, int i, char **out, pp_err *err) {
    const char *t = "";
    if (sqlite3_column_type(st, i) != SQLITE_NULL) {
        t = (const char *)sqlite3_column_text(st, i);
        if (!t) return db_fail(db, err, PP_ERR_NOMEM, "out of memory reading a row");
    }
    *out = pp_strdup(t, err);
    return *out ? 0 : -1;
}

/* Column i into a fixed 65-byte hash buffer. */
static void col_hash(sqlite3_stmt *st, int i, char out[65]) {
    const char *t = (const char *)sqlite3_column_text(st, i);
    snprintf(out, 65, "%s", t ? t : "");
}

/* Column i as a borrowed string, "" for NULL (valid until the next step). */
static const char *col_str(sqlite3_stmt *st, int i) {
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? t : "";
}

static int valid_text(const char *s) { return s && *s; }

/* ---- Opening -------------------------------------------------------------- */

/* Reads application_id and user_version and refuses what this build must not
 * touch. Reads only, so it is safe on a read-only connection and is repeated
 * inside the migration transaction. */
static int check_schema(pp_db *db, int *version, pp_err *err) {
    /* One statement, so one snapshot: read separately, another process's
     * migration could commit in between and its tables would show up
     * beside the old version 0. */
    int vals[3];
    if (db_query_ints(db,
                      "SELECT (SELECT application_id FROM pragma_application_id()),"
                      "       (SELECT user_version FROM pragma_user_version()),"
                      "       (SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\')",
                      vals, 3, err))
        return -1;
    int app = vals[0], v = vals[1], n_obj = vals[2];
    if (app != 0 && app != PP_DB_APPLICATION_ID)
        return db_fail(db, err, PP_ERR_INVALID,
                       "an SQLite database of another application (application_id 0x%08x), not pippy's; "
                       "left untouched",
                       (unsigned)app);
    if (v > PP_DB_SCHEMA_VERSION)
        return db_fail(db, err, PP_ERR_UNSUPPORTED,
                       "schema version %d is newer than this pippy understands (%d); use a newer pippy", v,
                       PP_DB_SCHEMA_VERSION);
    if (v < 0)
        return db_fail(db, err, PP_ERR_INVALID, "schema version %d is not one pippy writes; left untouched", v);
    if (v == 0) {
        /* Version 0 must mean empty: never add pippy's tables to someone
         * else's database. */
        if (n_obj > 0)
            return db_fail(db, err, PP_ERR_INVALID,
                           "an SQLite database with %d table(s) or index(es) but no pippy schema version; "
                           "not a pippy database, left untouched",
                           n_obj);
    }
    *version = v;
    return 0;
}

/* Opens db->h on name (db->path when NULL; a "file:" URI needs
 * SQLITE_OPEN_URI in flags) with the given flags and sets the busy timeout. */
static int open_conn(pp_db *db, const char *name, int flags, pp_err *err) {
    int rc, ret = -1;
    DB_CHECK(sqlite3_open_v2(name ? name : db->path, &db->h, flags, NULL), "opening");
    DB_CHECK(sqlite3_busy_timeout(db->h, PP_DB_BUSY_TIMEOUT_MS), "setting the busy timeout");
    /* SQLite falls back to a read-only connection, without a word, when the
     * file cannot be opened for writing: a writer must know now, not at its
     * first write after all the work. */
    if ((flags & SQLITE_OPEN_READWRITE) && sqlite3_db_readonly(db->h, "main") == 1)
        DB_FAIL(PP_ERR_IO, "cannot be written (read-only file or folder, or not ours): open it with a command "
                           "that only reads, or give another --db");
    ret = 0;
cleanup:
    return ret;
}

static void close_conn(pp_db *db) {
    if (!db->h) return;
    int rc = sqlite3_close_v2(db->h);
    if (rc != SQLITE_OK) PP_LOG_WARN("%s: closing: %s", db->path, sqlite3_errstr(rc));
    db->h = NULL;
}

/* sqlite3_step that also retries SQLITE_BUSY for up to the busy timeout.
 * SQLite answers BUSY at once, without calling the busy handler, when two
 * connections that both hold a read lock want the write lock (waiting could
 * deadlock); switching a fresh file to WAL from two processes at once does
 * exactly that. Resetting drops our read lock so the other side can finish;
 * the retry then finds its result. Only for statements that can safely run
 * twice. */
static int step_retry_busy(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    for (long waited_us = 0; rc == SQLITE_BUSY && waited_us < PP_DB_BUSY_TIMEOUT_MS * 1000L;) {
        sqlite3_reset(st);
        long us = 1000 + (waited_us / 8 < 50000 ? waited_us / 8 : 50000); /* 1 ms, growing to 50 ms */
        nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = us * 1000}, NULL);
        waited_us += us;
        rc = sqlite3_step(st);
    }
    return rc;
}

/* Foreign keys on, WAL journal. Writes the file header (journal mode), so it
 * runs only after check_schema accepted the file. */
static int setup_rw(pp_db *db, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    DB_CHECK(sqlite3_exec(db->h, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), "enabling foreign keys");
    DB_CHECK(sqlite3_prepare_v2(db->h, "PRAGMA journal_mode = WAL", -1, &st, NULL), "switching to WAL mode");
    DB_CHECK(step_retry_busy(st), "switching to WAL mode");
    if (rc != SQLITE_ROW) DB_FAIL(PP_ERR_DB, "switching to WAL mode: no result");
    const char *mode = col_str(st, 0);
    if (strcmp(mode, "wal") != 0)
        PP_LOG_WARN("%s: journal mode is '%s', not WAL (does the file system support it?); "
                    "concurrent pippy processes will wait for each other more",
                    db->path, mode);
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

/* sqlite3_exec callback: counts the rows of a result. */
static int count_rows(void *n, int cols, char **vals, char **names) {
    (void)cols;
    (void)vals;
    (void)names;
    ++*(int *)n;
    return 0;
}

/* Applies the migrations the file has not had yet, one transaction each.
 * Foreign keys are off while they run (a rebuilt table must not cascade
 * its drop to the rows that reference it; the pragma is a no-op inside a
 * transaction, so it is set around them) and every reference is checked
 * before each commit. */
static int migrate(pp_db *db, pp_err *err) {
    int rc, ret = -1, v = 0, in_txn = 0, fk_off = 0;
    if (check_schema(db, &v, err)) goto cleanup;
    if (v < PP_DB_SCHEMA_VERSION) {
        DB_CHECK(sqlite3_exec(db->h, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL), "turning foreign keys off");
        fk_off = 1;
    }
    while (v < PP_DB_SCHEMA_VERSION) {
        DB_CHECK(sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL), "starting a schema migration");
        in_txn = 1;
        /* Another process may have migrated while we waited for the lock. */
        if (check_schema(db, &v, err)) goto cleanup;
        if (v < PP_DB_SCHEMA_VERSION) {
            char bump[64];
            snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
            DB_CHECK(sqlite3_exec(db->h, migrations[v], NULL, NULL, NULL),
                     "migrating the schema from version %d to %d", v, v + 1);
            DB_CHECK(sqlite3_exec(db->h, bump, NULL, NULL, NULL), "setting the schema version to %d", v + 1);
            int broken = 0;
            DB_CHECK(sqlite3_exec(db->h, "PRAGMA foreign_key_check", count_rows, &broken, NULL),
                     "checking references after migrating to version %d", v + 1);
            if (broken)
                DB_FAIL(PP_ERR_DB, "migrating the schema to version %d would break %d reference(s); left at version %d",
                        v + 1, broken, v);
        }
        DB_CHECK(sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL), "committing the schema migration");
        in_txn = 0;
        if (v < PP_DB_SCHEMA_VERSION) {
            PP_LOG_INFO("%s: schema migrated to version %d", db->path, v + 1);
            v++;
        }
    }
    db->version = v;
    ret = 0;
cleanup:
    if (in_txn && !sqlite3_get_autocommit(db->h)) sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    if (fk_off) sqlite3_exec(db->h, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    return ret;
}

/* ---- Reading without writing --------------------------------------------
 *
 * A WAL database is read through its -wal file and the -shm index beside
 * it, which SQLite creates when they are not there -- even for a read-only
 * connection. So a user who may not write the database (a file of someone
 * else's, chmod 0444, or a read-only folder) either cannot read it at all
 * ("attempt to write a readonly database") or leaves -wal and -shm files of
 * their own beside it, which can stop its owner from writing later.
 *
 * When no -wal file is there, no connection has the database open and the
 * main file holds every committed transaction, so such a user reads it as
 * immutable (SQLite's immutable=1): no locks, no -wal, no -shm, nothing
 * created. (A writer that started during that read and checkpointed into
 * the main file at once could make it fail or see part of the write; it
 * cannot damage anything, as nothing is written.) When a -wal file is there,
 * a writer is active or its log is not yet checkpointed: the read must go
 * through the log, so it opens normally (SQLite reads a -shm it may not
 * write), and fails with SQLite's message if it cannot. Databases in the
 * rollback-journal mode and users who may write the file and its folder
 * open normally too. */

/* 1 when the file at path starts with the header of a WAL-mode database
 * (file format versions 2 and 2 at bytes 18 and 19). */
static int is_wal_database(const char *path) {
    unsigned char h[20];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int wal = fread(h, 1, sizeof h, f) == sizeof h && h[18] == 2 && h[19] == 2;
    fclose(f);
    return wal;
}

/* 1 when path should be read as immutable (see above), 0 to open it
 * normally, -1 when out of memory. */
static int read_as_immutable(const char *path, pp_err *err) {
    if (!is_wal_database(path)) return 0;
    size_t n = strlen(path);
    char *side = pp_malloc((unsigned long long)n + 8, err);
    if (!side) return -1;
    snprintf(side, n + 8, "%s-wal", path);
    struct stat sb;
    int wal_there = stat(side, &sb) == 0 || errno != ENOENT;
    /* The folder: path up to its last '/', or "." */
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(side, n + 8, ".");
    else if (slash == path) snprintf(side, n + 8, "/");
    else snprintf(side, n + 8, "%.*s", (int)(slash - path), path);
    int writable = access(path, W_OK) == 0 && access(side, W_OK | X_OK) == 0;
    free(side);
    return !wal_there && !writable;
}

/* The "file:" URI that opens path read-only and immutable: every byte but
 * letters, digits, '/', '-', '.', '_' and '~' percent-encoded, an absolute
 * path behind an empty authority ("file:///abs"). Caller frees; NULL when
 * out of memory. */
static char *immutable_uri(const char *path, pp_err *err) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(path);
    char *u = pp_malloc((unsigned long long)n * 3 + 40, err);
    if (!u) return NULL;
    size_t o = (size_t)sprintf(u, "file:%s", path[0] == '/' ? "//" : "");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("/-._~", c)) {
            u[o++] = (char)c;
        } else {
            u[o++] = '%';
            u[o++] = hex[c >> 4];
            u[o++] = hex[c & 15];
        }
    }
    strcpy(u + o, "?mode=ro&immutable=1");
    return u;
}

/* Opens db->h read-only on db->path, as immutable when read_as_immutable
 * says so. */
static int open_reader(pp_db *db, pp_err *err) {
    int imm = read_as_immutable(db->path, err);
    if (imm < 0) return -1;
    if (!imm) return open_conn(db, NULL, SQLITE_OPEN_READONLY, err);
    char *uri = immutable_uri(db->path, err);
    if (!uri) return -1;
    int ret = open_conn(db, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, err);
    free(uri);
    return ret;
}

static int db_open(const char *path, int readonly, pp_db **out, pp_err *err) {
    if (!out) return pp_err_set(err, PP_ERR_INVALID, "pp_db_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return pp_err_set(err, PP_ERR_INVALID, "database path is empty");
    struct stat sb;
    int exists = 0;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return pp_err_set(err, PP_ERR_IO, "%s: is a directory, not a database", path);
        exists = 1;
    } else if (errno != ENOENT) {
        return pp_err_set(err, PP_ERR_IO, "%s: cannot access: %s", path, strerror(errno));
    }
    if (!exists && readonly) return pp_err_set(err, PP_ERR_IO, "no database at %s", path);

    pp_db *db = pp_calloc(1, sizeof *db, err);
    if (!db) return -1;
    db->readonly = readonly;
    db->path = pp_strdup(path, err);
    if (!db->path) goto fail;

    if (exists) {
        /* Look before writing anything: a read-only connection never
         * changes the file, whatever it turns out to be. */
        if (open_reader(db, err) || check_schema(db, &db->version, err)) goto fail;
        if (readonly) {
            *out = db;
            return 0;
        }
        close_conn(db);
    }
    if (open_conn(db, NULL, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err) || setup_rw(db, err) || migrate(db, err))
        goto fail;
    *out = db;
    return 0;
fail:
    pp_db_close(db);
    return -1;
}

int pp_db_open(const char *path, pp_db **out, pp_err *err) { return db_open(path, 0, out, err); }

int pp_db_open_readonly(const char *path, pp_db **out, pp_err *err) { return db_open(path, 1, out, err); }

void pp_db_close(pp_db *db) {
    if (!db) return;
    if (db->h && !sqlite3_get_autocommit(db->h)) {
        PP_LOG_WARN("%s: closed inside a transaction; rolling it back", db->path);
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    }
    close_conn(db);
    free(db->path);
    free(db);
}

int pp_db_schema_version(const pp_db *db) { return db ? db->version : -1; }

const char *pp_db_path(const pp_db *db) { return db ? db->path : ""; }

/* ---- Transactions ----------------------------------------------------------
 *
 * Level 1 is BEGIN IMMEDIATE ... COMMIT/ROLLBACK. Level k > 1 is savepoint
 * pp_db_<k-1>. SQLite may roll a whole transaction back by itself after
 * some errors (disk full, out of memory); sqlite3_get_autocommit() then
 * says no transaction is open although depth > 0, and every level above
 * fails its commit and closes quietly on rollback.
 */

int pp_db_begin(pp_db *db, pp_err *err) {
    int rc, ret = -1;
    if (db->readonly) return db_fail(db, err, PP_ERR_INVALID, "opened read-only; cannot write");
    if (db->depth == 0) {
        DB_CHECK(sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL), "starting a transaction");
    } else {
        if (sqlite3_get_autocommit(db->h))
            DB_FAIL(PP_ERR_DB, "the enclosing transaction was already rolled back after an error");
        char sql[64];
        snprintf(sql, sizeof sql, "SAVEPOINT pp_db_%d", db->depth);
        DB_CHECK(sqlite3_exec(db->h, sql, NULL, NULL, NULL), "starting a nested transaction");
    }
    db->depth++;
    ret = 0;
cleanup:
    return ret;
}

int pp_db_rollback(pp_db *db, pp_err *err_out) {
    pp_err local = {0};
    pp_err *err = err_out ? err_out : &local;
    int rc, ret = -1;
    if (db->depth <= 0) return db_fail(db, err_out, PP_ERR_INVALID, "rollback without a transaction");
    int level = --db->depth;
    if (sqlite3_get_autocommit(db->h)) return 0; /* SQLite already rolled it back */
    if (level == 0) {
        DB_CHECK(sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL), "rolling back");
    } else {
        char sql[96];
        snprintf(sql, sizeof sql, "ROLLBACK TO pp_db_%d; RELEASE pp_db_%d", level, level);
        DB_CHECK(sqlite3_exec(db->h, sql, NULL, NULL, NULL), "rolling back a nested transaction");
    }
    ret = 0;
cleanup:
    if (ret) PP_LOG_ERROR("%s", err->msg);
    return ret;
}

int pp_db_commit(pp_db *db, pp_err *err) {
    int rc, ret = -1;
    if (db->depth <= 0) return db_fail(db, err, PP_ERR_INVALID, "commit without a transaction");
    if (sqlite3_get_autocommit(db->h)) {
        db->depth--;
        return db_fail(db, err, PP_ERR_DB, "the transaction was rolled back after an earlier error; nothing written");
    }
    if (db->depth == 1) {
        DB_CHECK(sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL), "committing");
    } else {
        char sql[64];
        snprintf(sql, sizeof sql, "RELEASE pp_db_%d", db->depth - 1);
        DB_CHECK(sqlite3_exec(db->h, sql, NULL, NULL, NULL), "committing a nested transaction");
    }
    db->depth--;
    ret = 0;
cleanup:
    if (ret) pp_db_rollback(db, NULL); /* closes this level; err keeps the commit's error */
    return ret;
}

/* ---- Models --------------------------------------------------------------- */

#define MODEL_COLS "id, name, family, hash, n_params, config_json, created_at"

static int model_row_fill(const pp_db *db, sqlite3_stmt *st, pp_db_model_row *r, pp_err *err) {
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    if (col_dup(db, st, 1, &r->name, err) || col_dup(db, st, 2, &r->family, err)) goto fail;
    col_hash(st, 3, r->hash);
    r->n_params = sqlite3_column_int64(st, 4);
    if (col_dup(db, st, 5, &r->config_json, err) || col_dup(db, st, 6, &r->created_at, err)) goto fail;
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

void pp_db_model_rows_free(pp_db_model_row *rows, int n) {
    if (!rows) return;
    for (int i = 0; i < n; i++) pp_db_model_row_clear(&rows[i]);
    free(rows);
}

int pp_db_model_put(pp_db *db, const char *name, const char *family, const char *hash, long long n_params,
                    const char *config_json, long long *id, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    long long row_id = 0;
    if (!valid_text(name)) DB_FAIL(PP_ERR_INVALID, "storing a model: the name is empty");
    if (!valid_text(family)) DB_FAIL(PP_ERR_INVALID, "storing model '%s': the family is empty", name);
    if (!pp_sha256_hex_valid(hash))
        DB_FAIL(PP_ERR_INVALID, "storing model '%s': hash '%s' is not 64 lowercase hex digits", name,
                hash ? hash : "(null)");
    if (n_params < 0) DB_FAIL(PP_ERR_INVALID, "storing model '%s': n_params %lld is negative", name, n_params);
    if (!config_json) DB_FAIL(PP_ERR_INVALID, "storing model '%s': no config JSON", name);

    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT id, name, family, n_params FROM models WHERE hash = ?1", -1, &st,
                                NULL),
             "storing model '%s'", name);
    DB_CHECK(sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC), "storing model '%s'", name);
    DB_CHECK(sqlite3_step(st), "storing model '%s'", name);
    if (rc == SQLITE_ROW) {
        /* Seen before: keep the row, take the new name. */
        row_id = sqlite3_column_int64(st, 0);
        int renamed = strcmp(col_str(st, 1), name) != 0;
        if (strcmp(col_str(st, 2), family) != 0 || sqlite3_column_int64(st, 3) != n_params)
            DB_FAIL(PP_ERR_INVALID,
                    "storing model '%s': hash %.12s is already stored for family '%s' with %lld parameters, "
                    "not '%s' with %lld; refusing the inconsistent model",
                    name, hash, col_str(st, 2), (long long)sqlite3_column_int64(st, 3), family, n_params);
        sqlite3_finalize(st);
        st = NULL;
        if (renamed) {
            DB_CHECK(sqlite3_prepare_v2(db->h, "UPDATE models SET name = ?1 WHERE id = ?2", -1, &st, NULL),
                     "renaming model to '%s'", name);
            DB_CHECK(sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC), "renaming model to '%s'", name);
            DB_CHECK(sqlite3_bind_int64(st, 2, row_id), "renaming model to '%s'", name);
            DB_CHECK(sqlite3_step(st), "renaming model to '%s'", name);
        }
    } else {
        sqlite3_finalize(st);
        st = NULL;
        DB_CHECK(sqlite3_prepare_v2(db->h,
                                    "INSERT INTO models (name, family, hash, n_params, config_json) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5)",
                                    -1, &st, NULL),
                 "storing model '%s'", name);
        DB_CHECK(sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC), "storing model '%s'", name);
        DB_CHECK(sqlite3_bind_text(st, 2, family, -1, SQLITE_STATIC), "storing model '%s'", name);
        DB_CHECK(sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC), "storing model '%s'", name);
        DB_CHECK(sqlite3_bind_int64(st, 4, n_params), "storing model '%s'", name);
        DB_CHECK(sqlite3_bind_text(st, 5, config_json, -1, SQLITE_STATIC), "storing model '%s'", name);
        DB_CHECK(sqlite3_step(st), "storing model '%s'", name);
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

int pp_db_model_get_by_hash(pp_db *db, const char *hash, pp_db_model_row *row, int *found, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    memset(row, 0, sizeof *row);
    *found = 0;
    if (!hash) DB_FAIL(PP_ERR_INVALID, "looking up a model: no hash");
    if (db->version < MODELS_SINCE) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT " MODEL_COLS " FROM models WHERE hash = ?1", -1, &st, NULL),
             "looking up model %.12s", hash);
    DB_CHECK(sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC), "looking up model %.12s", hash);
    DB_CHECK(sqlite3_step(st), "looking up model %.12s", hash);
    if (rc == SQLITE_ROW) {
        if (model_row_fill(db, st, row, err)) goto cleanup;
        *found = 1;
    }
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

int pp_db_models_list(pp_db *db, pp_db_model_row **rows, int *n, pp_err *err) {
    sqlite3_stmt *st = NULL;
    pp_db_model_row *a = NULL;
    int rc, ret = -1, cnt = 0, cap = 0;
    *rows = NULL;
    *n = 0;
    if (db->version < MODELS_SINCE) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT " MODEL_COLS " FROM models ORDER BY id", -1, &st, NULL),
             "listing models");
    for (;;) {
        DB_CHECK(sqlite3_step(st), "listing models");
        if (rc == SQLITE_DONE) break;
        if (pp_grow((void **)&a, &cap, cnt + 1, sizeof *a, err)) goto cleanup;
        if (model_row_fill(db, st, &a[cnt], err)) goto cleanup;
        cnt++;
    }
    *rows = a;
    *n = cnt;
    a = NULL;
    cnt = 0;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    pp_db_model_rows_free(a, cnt);
    return ret;
}

/* ---- Plans ---------------------------------------------------------------- */

#define PLAN_COLS "id, name, plan_hash, model_hash, n_ranks, schedule, plan_json, created_at"

static int plan_row_fill(const pp_db *db, sqlite3_stmt *st, pp_db_plan_row *r, pp_err *err) {
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    if (col_dup(db, st, 1, &r->name, err)) goto fail;
    col_hash(st, 2, r->plan_hash);
    col_hash(st, 3, r->model_hash);
    r->n_ranks = sqlite3_column_int(st, 4);
    if (col_dup(db, st, 5, &r->schedule, err) || col_dup(db, st, 6, &r->plan_json, err) ||
        col_dup(db, st, 7, &r->created_at, err))
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

void pp_db_plan_rows_free(pp_db_plan_row *rows, int n) {
    if (!rows) return;
    for (int i = 0; i < n; i++) pp_db_plan_row_clear(&rows[i]);
    free(rows);
}

int pp_db_plan_put(pp_db *db, const char *name, const char *plan_hash, const char *model_hash, int n_ranks,
                   const char *schedule, const char *plan_json, long long *id, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    long long row_id = 0;
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

    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT id, name, model_hash, n_ranks, schedule FROM plans WHERE plan_hash = ?1",
                                -1, &st, NULL),
             "storing plan '%s'", name);
    DB_CHECK(sqlite3_bind_text(st, 1, plan_hash, -1, SQLITE_STATIC), "storing plan '%s'", name);
    DB_CHECK(sqlite3_step(st), "storing plan '%s'", name);
    if (rc == SQLITE_ROW) {
        row_id = sqlite3_column_int64(st, 0);
        int renamed = strcmp(col_str(st, 1), name) != 0;
        if (strcmp(col_str(st, 2), model_hash) != 0 || sqlite3_column_int(st, 3) != n_ranks ||
            strcmp(col_str(st, 4), schedule) != 0)
            DB_FAIL(PP_ERR_INVALID,
                    "storing plan '%s': hash %.12s is already stored for model %.12s, %d ranks, schedule '%s', "
                    "not model %.12s, %d ranks, '%s'; refusing the inconsistent plan",
                    name, plan_hash, col_str(st, 2), sqlite3_column_int(st, 3), col_str(st, 4), model_hash,
                    n_ranks, schedule);
        sqlite3_finalize(st);
        st = NULL;
        if (renamed) {
            DB_CHECK(sqlite3_prepare_v2(db->h, "UPDATE plans SET name = ?1 WHERE id = ?2", -1, &st, NULL),
                     "renaming plan to '%s'", name);
            DB_CHECK(sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC), "renaming plan to '%s'", name);
            DB_CHECK(sqlite3_bind_int64(st, 2, row_id), "renaming plan to '%s'", name);
            DB_CHECK(sqlite3_step(st), "renaming plan to '%s'", name);
        }
    } else {
        sqlite3_finalize(st);
        st = NULL;
        DB_CHECK(sqlite3_prepare_v2(db->h,
                                    "INSERT INTO plans (name, plan_hash, model_hash, n_ranks, schedule, plan_json) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                    -1, &st, NULL),
                 "storing plan '%s'", name);
        DB_CHECK(sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC), "storing plan '%s'", name);
        DB_CHECK(sqlite3_bind_text(st, 2, plan_hash, -1, SQLITE_STATIC), "storing plan '%s'", name);
        DB_CHECK(sqlite3_bind_text(st, 3, model_hash, -1, SQLITE_STATIC), "storing plan '%s'", name);
        DB_CHECK(sqlite3_bind_int(st, 4, n_ranks), "storing plan '%s'", name);
        DB_CHECK(sqlite3_bind_text(st, 5, schedule, -1, SQLITE_STATIC), "storing plan '%s'", name);
        DB_CHECK(sqlite3_bind_text(st, 6, plan_json, -1, SQLITE_STATIC), "storing plan '%s'", name);
        DB_CHECK(sqlite3_step(st), "storing plan '%s'", name);
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

int pp_db_plan_get_by_hash(pp_db *db, const char *plan_hash, pp_db_plan_row *row, int *found, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    memset(row, 0, sizeof *row);
    *found = 0;
    if (!plan_hash) DB_FAIL(PP_ERR_INVALID, "looking up a plan: no hash");
    if (db->version < PLANS_SINCE) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT " PLAN_COLS " FROM plans WHERE plan_hash = ?1", -1, &st, NULL),
             "looking up plan %.12s", plan_hash);
    DB_CHECK(sqlite3_bind_text(st, 1, plan_hash, -1, SQLITE_STATIC), "looking up plan %.12s", plan_hash);
    DB_CHECK(sqlite3_step(st), "looking up plan %.12s", plan_hash);
    if (rc == SQLITE_ROW) {
        if (plan_row_fill(db, st, row, err)) goto cleanup;
        *found = 1;
    }
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

int pp_db_plans_list(pp_db *db, pp_db_plan_row **rows, int *n, pp_err *err) {
    sqlite3_stmt *st = NULL;
    pp_db_plan_row *a = NULL;
    int rc, ret = -1, cnt = 0, cap = 0;
    *rows = NULL;
    *n = 0;
    if (db->version < PLANS_SINCE) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT " PLAN_COLS " FROM plans ORDER BY id", -1, &st, NULL),
             "listing plans");
    for (;;) {
        DB_CHECK(sqlite3_step(st), "listing plans");
        if (rc == SQLITE_DONE) break;
        if (pp_grow((void **)&a, &cap, cnt + 1, sizeof *a, err)) goto cleanup;
        if (plan_row_fill(db, st, &a[cnt], err)) goto cleanup;
        cnt++;
    }
    *rows = a;
    *n = cnt;
    a = NULL;
    cnt = 0;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    pp_db_plan_rows_free(a, cnt);
    return ret;
}

/* ---- Profiles: devices, op signatures, op profiles, links ------------------ */

#define UTC_NOW_SQL "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

/* A fixed char buffer holds a terminated string. */
static int fits(const char *buf, size_t size) { return memchr(buf, '\0', size) != NULL; }

static int nonneg_finite(double v) { return isfinite(v) && v >= 0; }

/* Column i copied into a fixed buffer ("" for NULL), truncated if need be. */
static void col_copy(sqlite3_stmt *st, int i, char *out, size_t size) { snprintf(out, size, "%s", col_str(st, i)); }

/* Fails unless the device id names a stored device. Inside a transaction. */
static int device_exists(pp_db *db, long long device_id, const char *what, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT 1 FROM devices WHERE id = ?1", -1, &st, NULL), "storing %s", what);
    DB_CHECK(sqlite3_bind_int64(st, 1, device_id), "storing %s", what);
    DB_CHECK(sqlite3_step(st), "storing %s", what);
    if (rc != SQLITE_ROW)
        DB_FAIL(PP_ERR_INVALID, "storing %s: device %lld is not stored; store the device first", what, device_id);
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

void pp_db_device_rows_free(pp_db_device *rows, int n) {
    if (!rows) return;
    for (int i = 0; i < n; i++) free(rows[i].description_json);
    free(rows);
}

int pp_db_device_put(pp_db *db, const char *fingerprint, const char *description_json, long long *id,
                     pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    long long row_id = 0;
    if (!pp_sha256_hex_valid(fingerprint))
        DB_FAIL(PP_ERR_INVALID, "storing a device: fingerprint '%s' is not 64 lowercase hex digits",
                fingerprint ? fingerprint : "(null)");
    if (!description_json) DB_FAIL(PP_ERR_INVALID, "storing device %.12s: no description JSON", fingerprint);

    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT id, description_json FROM devices WHERE fingerprint = ?1", -1, &st,
                                NULL),
             "storing device %.12s", fingerprint);
    DB_CHECK(sqlite3_bind_text(st, 1, fingerprint, -1, SQLITE_STATIC), "storing device %.12s", fingerprint);
    DB_CHECK(sqlite3_step(st), "storing device %.12s", fingerprint);
    if (rc == SQLITE_ROW) {
        row_id = sqlite3_column_int64(st, 0);
        int changed = strcmp(col_str(st, 1), description_json) != 0;
        sqlite3_finalize(st);
        st = NULL;
        if (changed) {
            DB_CHECK(sqlite3_prepare_v2(db->h, "UPDATE devices SET description_json = ?1 WHERE id = ?2", -1, &st,
                                        NULL),
                     "updating device %.12s", fingerprint);
            DB_CHECK(sqlite3_bind_text(st, 1, description_json, -1, SQLITE_STATIC), "updating device %.12s",
                     fingerprint);
            DB_CHECK(sqlite3_bind_int64(st, 2, row_id), "updating device %.12s", fingerprint);
            DB_CHECK(sqlite3_step(st), "updating device %.12s", fingerprint);
        }
    } else {
        sqlite3_finalize(st);
        st = NULL;
        DB_CHECK(sqlite3_prepare_v2(db->h, "INSERT INTO devices (fingerprint, description_json) VALUES (?1, ?2)", -1,
                                    &st, NULL),
                 "storing device %.12s", fingerprint);
        DB_CHECK(sqlite3_bind_text(st, 1, fingerprint, -1, SQLITE_STATIC), "storing device %.12s", fingerprint);
        DB_CHECK(sqlite3_bind_text(st, 2, description_json, -1, SQLITE_STATIC), "storing device %.12s",
                 fingerprint);
        DB_CHECK(sqlite3_step(st), "storing device %.12s", fingerprint);
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

int pp_db_devices_list(pp_db *db, pp_db_device **rows, int *n, pp_err *err) {
    sqlite3_stmt *st = NULL;
    pp_db_device *a = NULL;
    int rc, ret = -1, cnt = 0, cap = 0;
    *rows = NULL;
    *n = 0;
    if (db->version < PROFILES_SINCE) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT id, fingerprint, description_json, created_at FROM devices ORDER BY id",
                                -1, &st, NULL),
             "listing devices");
    for (;;) {
        DB_CHECK(sqlite3_step(st), "listing devices");
        if (rc == SQLITE_DONE) break;
        if (pp_grow((void **)&a, &cap, cnt + 1, sizeof *a, err)) goto cleanup;
        pp_db_device *d = &a[cnt];
        memset(d, 0, sizeof *d);
        d->id = sqlite3_column_int64(st, 0);
        col_hash(st, 1, d->fingerprint);
        if (col_dup(db, st, 2, &d->description_json, err)) goto cleanup;
        col_copy(st, 3, d->created_at, sizeof d->created_at);
        cnt++;
    }
    *rows = a;
    *n = cnt;
    a = NULL;
    cnt = 0;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    pp_db_device_rows_free(a, cnt);
    return ret;
}

/* The id of signature, stored with kind if new; refuses a known signature
 * stored with another kind. Inside a transaction. */
static int signature_id(pp_db *db, const char *signature, const char *kind, long long *out, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT id, kind FROM op_signatures WHERE signature = ?1", -1, &st, NULL),
             "storing op signature '%s'", signature);
    DB_CHECK(sqlite3_bind_text(st, 1, signature, -1, SQLITE_STATIC), "storing op signature '%s'", signature);
    DB_CHECK(sqlite3_step(st), "storing op signature '%s'", signature);
    if (rc == SQLITE_ROW) {
        if (strcmp(col_str(st, 1), kind) != 0)
            DB_FAIL(PP_ERR_INVALID,
                    "storing op signature '%s': already stored with kind '%s', not '%s'; refusing the "
                    "inconsistent profile",
                    signature, col_str(st, 1), kind);
        *out = sqlite3_column_int64(st, 0);
    } else {
        sqlite3_finalize(st);
        st = NULL;
        DB_CHECK(sqlite3_prepare_v2(db->h, "INSERT INTO op_signatures (signature, kind) VALUES (?1, ?2)", -1, &st,
                                    NULL),
                 "storing op signature '%s'", signature);
        DB_CHECK(sqlite3_bind_text(st, 1, signature, -1, SQLITE_STATIC), "storing op signature '%s'", signature);
        DB_CHECK(sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC), "storing op signature '%s'", signature);
        DB_CHECK(sqlite3_step(st), "storing op signature '%s'", signature);
        *out = sqlite3_last_insert_rowid(db->h);
    }
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

int pp_db_op_profile_put(pp_db *db, long long device_id, const pp_db_op_profile *p, pp_err *err) {
    static const char pass[3] = {'F', 'I', 'W'};
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    long long sig_id = 0;
    if (!p) DB_FAIL(PP_ERR_INVALID, "storing an op profile: no profile");
    if (!fits(p->signature, sizeof p->signature) || !p->signature[0])
        DB_FAIL(PP_ERR_INVALID, "storing an op profile: the signature is empty or not terminated");
    const char *sig = p->signature;
    if (!fits(p->kind, sizeof p->kind) || !p->kind[0])
        DB_FAIL(PP_ERR_INVALID, "storing op profile '%s': the kind is empty or not terminated", sig);
    if (!fits(p->measured_at, sizeof p->measured_at))
        DB_FAIL(PP_ERR_INVALID, "storing op profile '%s': measured_at is not terminated", sig);
    for (int k = 0; k < 3; k++) {
        if (!nonneg_finite(p->t[k]) || !nonneg_finite(p->spread[k]) || p->samples[k] < 0)
            DB_FAIL(PP_ERR_INVALID,
                    "storing op profile '%s': %c time %g s, spread %g s, %d samples: each must be finite and >= 0",
                    sig, pass[k], p->t[k], p->spread[k], p->samples[k]);
    }
    if (p->param_bytes < 0 || p->keep_f_bytes < 0 || p->keep_w_bytes < 0 || p->workspace_bytes < 0)
        DB_FAIL(PP_ERR_INVALID, "storing op profile '%s': a byte count is negative", sig);

    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    if (device_exists(db, device_id, "an op profile", err) || signature_id(db, sig, p->kind, &sig_id, err))
        goto cleanup;
    DB_CHECK(sqlite3_prepare_v2(
                 db->h,
                 "INSERT INTO op_profiles (device_id, signature_id, f_s, i_s, w_s, f_spread, i_spread, w_spread, "
                 "f_samples, i_samples, w_samples, param_bytes, keep_f_bytes, keep_w_bytes, workspace_bytes, "
                 "measured_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                 "coalesce(nullif(?16, ''), " UTC_NOW_SQL "))\n"
                 "ON CONFLICT (device_id, signature_id) DO UPDATE SET f_s = excluded.f_s, i_s = excluded.i_s, "
                 "w_s = excluded.w_s, f_spread = excluded.f_spread, i_spread = excluded.i_spread, "
                 "w_spread = excluded.w_spread, f_samples = excluded.f_samples, i_samples = excluded.i_samples, "
                 "w_samples = excluded.w_samples, param_bytes = excluded.param_bytes, "
                 "keep_f_bytes = excluded.keep_f_bytes, keep_w_bytes = excluded.keep_w_bytes, "
                 "workspace_bytes = excluded.workspace_bytes, measured_at = excluded.measured_at",
                 -1, &st, NULL),
             "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_int64(st, 1, device_id), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_int64(st, 2, sig_id), "storing op profile '%s'", sig);
    for (int k = 0; k < 3; k++) {
        DB_CHECK(sqlite3_bind_double(st, 3 + k, p->t[k]), "storing op profile '%s'", sig);
        DB_CHECK(sqlite3_bind_double(st, 6 + k, p->spread[k]), "storing op profile '%s'", sig);
        DB_CHECK(sqlite3_bind_int(st, 9 + k, p->samples[k]), "storing op profile '%s'", sig);
    }
    DB_CHECK(sqlite3_bind_int64(st, 12, p->param_bytes), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_int64(st, 13, p->keep_f_bytes), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_int64(st, 14, p->keep_w_bytes), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_int64(st, 15, p->workspace_bytes), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_text(st, 16, p->measured_at, -1, SQLITE_STATIC), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_step(st), "storing op profile '%s'", sig);
    sqlite3_finalize(st);
    st = NULL;
    began = 0;
    if (pp_db_commit(db, err)) goto cleanup;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    if (began) pp_db_rollback(db, NULL);
    return ret;
}

#define PROFILE_SELECT                                                                                        \
    "SELECT p.device_id, s.signature, s.kind, p.f_s, p.i_s, p.w_s, p.f_spread, p.i_spread, p.w_spread, "     \
    "p.f_samples, p.i_samples, p.w_samples, p.param_bytes, p.keep_f_bytes, p.keep_w_bytes, "                  \
    "p.workspace_bytes, p.measured_at FROM op_profiles p JOIN op_signatures s ON s.id = p.signature_id "

/* Grows *items (elem bytes each, *cap slots) to at least need slots, like
 * pp_grow but with a long long count. Returns 0, or -1 with err set (the old
 * array stays valid). */
static int grow_ll(void **items, long long *cap, long long need, size_t elem, pp_err *err) {
    if (need <= *cap) return 0;
    long long c = *cap > 0 ? *cap : 16;
    while (c < need) c *= 2;
    void *p = pp_realloc(*items, (unsigned long long)c * elem, err);
    if (!p) return -1;
    *items = p;
    *cap = c;
    return 0;
}

/* Fills one row struct from the current result row (the struct is zeroed
 * first). */
typedef void (*row_fill_fn)(sqlite3_stmt *st, void *row);

/* Runs sql with the n_binds int64 values bound to ?1, ?2, ... and returns
 * its rows as a malloc'd array (*rows, caller frees with free(); NULL when
 * *n is 0) of row_size-byte structs filled by fill. `what` names the query
 * in errors. Returns 0, or -1 with err set, *rows NULL and *n 0. For rows
 * that own no memory (the profile, link and run readers). */
static int select_rows(pp_db *db, const char *sql, const long long *binds, int n_binds, size_t row_size,
                       row_fill_fn fill, void **rows, long long *n, const char *what, pp_err *err) {
    sqlite3_stmt *st = NULL;
    char *a = NULL;
    long long cnt = 0, cap = 0;
    int rc, ret = -1;
    *rows = NULL;
    *n = 0;
    DB_CHECK(sqlite3_prepare_v2(db->h, sql, -1, &st, NULL), "%s", what);
    for (int i = 0; i < n_binds; i++) DB_CHECK(sqlite3_bind_int64(st, i + 1, binds[i]), "%s", what);
    for (;;) {
        DB_CHECK(sqlite3_step(st), "%s", what);
        if (rc == SQLITE_DONE) break;
        if (grow_ll((void **)&a, &cap, cnt + 1, row_size, err)) goto cleanup;
        memset(a + cnt * row_size, 0, row_size);
        fill(st, a + cnt * row_size);
        cnt++;
    }
    *rows = a;
    *n = cnt;
    a = NULL;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    free(a);
    return ret;
}

/* select_rows for an int count. */
static int select_rows_int(pp_db *db, const char *sql, const long long *binds, int n_binds, size_t row_size,
                           row_fill_fn fill, void **rows, int *n, const char *what, pp_err *err) {
    long long k = 0;
    int rc = select_rows(db, sql, binds, n_binds, row_size, fill, rows, &k, what, err);
    *n = (int)k;
    return rc;
}

static void profile_fill(sqlite3_stmt *st, pp_db_op_profile *r) {
    memset(r, 0, sizeof *r);
    r->device_id = sqlite3_column_int64(st, 0);
    col_copy(st, 1, r->signature, sizeof r->signature);
    col_copy(st, 2, r->kind, sizeof r->kind);
    for (int k = 0; k < 3; k++) {
        r->t[k] = sqlite3_column_double(st, 3 + k);
        r->spread[k] = sqlite3_column_double(st, 6 + k);
        r->samples[k] = sqlite3_column_int(st, 9 + k);
    }
    r->param_bytes = sqlite3_column_int64(st, 12);
    r->keep_f_bytes = sqlite3_column_int64(st, 13);
    r->keep_w_bytes = sqlite3_column_int64(st, 14);
    r->workspace_bytes = sqlite3_column_int64(st, 15);
    col_copy(st, 16, r->measured_at, sizeof r->measured_at);
}

int pp_db_op_profile_get(pp_db *db, long long device_id, const char *signature, pp_db_op_profile *out,
                         int *found, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    memset(out, 0, sizeof *out);
    *found = 0;
    if (!signature) DB_FAIL(PP_ERR_INVALID, "looking up an op profile: no signature");
    if (db->version < PROFILES_SINCE) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h, PROFILE_SELECT "WHERE p.device_id = ?1 AND s.signature = ?2", -1, &st, NULL),
             "looking up op profile '%s'", signature);
    DB_CHECK(sqlite3_bind_int64(st, 1, device_id), "looking up op profile '%s'", signature);
    DB_CHECK(sqlite3_bind_text(st, 2, signature, -1, SQLITE_STATIC), "looking up op profile '%s'", signature);
    DB_CHECK(sqlite3_step(st), "looking up op profile '%s'", signature);
    if (rc == SQLITE_ROW) {
        profile_fill(st, out);
        *found = 1;
    }
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

static void profile_row(sqlite3_stmt *st, void *row) { profile_fill(st, row); }

int pp_db_op_profiles_list(pp_db *db, long long device_id, pp_db_op_profile **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < PROFILES_SINCE) return 0;
    return select_rows_int(db, PROFILE_SELECT "WHERE ?1 <= 0 OR p.device_id = ?1 ORDER BY p.device_id, p.id",
                           &device_id, 1, sizeof **rows, profile_row, (void **)rows, n, "listing op profiles", err);
}

void pp_db_op_profiles_free(pp_db_op_profile *rows) { free(rows); }

int pp_db_link_put(pp_db *db, long long device_id, const pp_db_link *l, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    if (!l) DB_FAIL(PP_ERR_INVALID, "storing a link: no link");
    if (!fits(l->src_host, sizeof l->src_host) || !fits(l->dst_host, sizeof l->dst_host) ||
        !fits(l->sizes_json, sizeof l->sizes_json) || !fits(l->measured_at, sizeof l->measured_at))
        DB_FAIL(PP_ERR_INVALID, "storing link %d -> %d: a text field is not terminated", l->src_rank, l->dst_rank);
    if (l->src_rank < 0 || l->dst_rank < 0)
        DB_FAIL(PP_ERR_INVALID, "storing link %d -> %d: a rank is negative", l->src_rank, l->dst_rank);
    if (!nonneg_finite(l->alpha_s) || !nonneg_finite(l->beta_Bps) || !nonneg_finite(l->residual))
        DB_FAIL(PP_ERR_INVALID,
                "storing link %d -> %d: alpha %g s, beta %g B/s, residual %g: each must be finite and >= 0",
                l->src_rank, l->dst_rank, l->alpha_s, l->beta_Bps, l->residual);

    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    if (device_exists(db, device_id, "a link", err)) goto cleanup;
    DB_CHECK(sqlite3_prepare_v2(db->h,
                                "INSERT INTO links (device_id, src_rank, dst_rank, src_host, dst_host, alpha_s, "
                                "beta_Bps, residual, sizes_json, measured_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                                "?8, coalesce(nullif(?9, ''), '[]'), coalesce(nullif(?10, ''), " UTC_NOW_SQL "))\n"
                                "ON CONFLICT (device_id, src_rank, dst_rank, src_host, dst_host) DO UPDATE SET "
                                "alpha_s = excluded.alpha_s, beta_Bps = excluded.beta_Bps, "
                                "residual = excluded.residual, sizes_json = excluded.sizes_json, "
                                "measured_at = excluded.measured_at",
                                -1, &st, NULL),
             "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_int64(st, 1, device_id), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_int(st, 2, l->src_rank), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_int(st, 3, l->dst_rank), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_text(st, 4, l->src_host, -1, SQLITE_STATIC), "storing link %d -> %d", l->src_rank,
             l->dst_rank);
    DB_CHECK(sqlite3_bind_text(st, 5, l->dst_host, -1, SQLITE_STATIC), "storing link %d -> %d", l->src_rank,
             l->dst_rank);
    DB_CHECK(sqlite3_bind_double(st, 6, l->alpha_s), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_double(st, 7, l->beta_Bps), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_double(st, 8, l->residual), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_text(st, 9, l->sizes_json, -1, SQLITE_STATIC), "storing link %d -> %d", l->src_rank,
             l->dst_rank);
    DB_CHECK(sqlite3_bind_text(st, 10, l->measured_at, -1, SQLITE_STATIC), "storing link %d -> %d", l->src_rank,
             l->dst_rank);
    DB_CHECK(sqlite3_step(st), "storing link %d -> %d", l->src_rank, l->dst_rank);
    sqlite3_finalize(st);
    st = NULL;
    began = 0;
    if (pp_db_commit(db, err)) goto cleanup;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    if (began) pp_db_rollback(db, NULL);
    return ret;
}

static void link_row(sqlite3_stmt *st, void *row) {
    pp_db_link *r = row;
    r->device_id = sqlite3_column_int64(st, 0);
    r->src_rank = sqlite3_column_int(st, 1);
    r->dst_rank = sqlite3_column_int(st, 2);
    col_copy(st, 3, r->src_host, sizeof r->src_host);
    col_copy(st, 4, r->dst_host, sizeof r->dst_host);
    r->alpha_s = sqlite3_column_double(st, 5);
    r->beta_Bps = sqlite3_column_double(st, 6);
    r->residual = sqlite3_column_double(st, 7);
    col_copy(st, 8, r->sizes_json, sizeof r->sizes_json);
    col_copy(st, 9, r->measured_at, sizeof r->measured_at);
}

int pp_db_links_list(pp_db *db, long long device_id, pp_db_link **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < PROFILES_SINCE) return 0;
    return select_rows_int(db,
                           "SELECT device_id, src_rank, dst_rank, src_host, dst_host, alpha_s, beta_Bps, "
                           "residual, sizes_json, measured_at FROM links WHERE ?1 <= 0 OR device_id = ?1 "
                           "ORDER BY device_id, src_rank, dst_rank, src_host, dst_host",
                           &device_id, 1, sizeof **rows, link_row, (void **)rows, n, "listing links", err);
}

void pp_db_links_free(pp_db_link *rows) { free(rows); }

int pp_db_profile_counts(pp_db *db, int *devices, int *op_profiles, int *links, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, v[3] = {0, 0, 0};
    if (db->version >= PROFILES_SINCE) {
        DB_CHECK(sqlite3_prepare_v2(db->h,
                                    "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM op_profiles), "
                                    "(SELECT count(*) FROM links)",
                                    -1, &st, NULL),
                 "counting profiles");
        DB_CHECK(sqlite3_step(st), "counting profiles");
        if (rc != SQLITE_ROW) DB_FAIL(PP_ERR_DB, "counting profiles: no result");
        for (int i = 0; i < 3; i++) v[i] = sqlite3_column_int(st, i);
    }
    if (devices) *devices = v[0];
    if (op_profiles) *op_profiles = v[1];
    if (links) *links = v[2];
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

/* ---- Runs: measured training runs -------------------------------------------- */

/* Binds v, or NULL when v is NaN (SQLite has no NaN). */
static int bind_real_or_null(sqlite3_stmt *st, int i, double v) {
    return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

/* Column i as a double, NaN for NULL. */
static double col_real_or_nan(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Checks a run and its rows against pp_db_run_put's contract (pp_db.h);
 * fills err naming the first field that breaks it. Touches no table. */
static int run_check(const pp_db *db, const pp_db_run *r, const pp_db_run_step *steps, int n_steps,
                     const pp_db_run_rank *ranks, int n_ranks, const pp_db_run_event *ev, long long n_ev,
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
        const pp_db_run_rank *k = &ranks[i];
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
static int run_put_ranks(pp_db *db, const char *h, long long run_id, const pp_db_run_rank *ranks, int n, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    if (n == 0) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h,
                                "INSERT INTO run_ranks (run_id, rank, host, peak_bytes, busy_s) "
                                "VALUES (?1, ?2, ?3, ?4, ?5)",
                                -1, &st, NULL),
             "storing run of plan %.12s: ranks", h);
    for (int i = 0; i < n; i++) {
        const pp_db_run_rank *k = &ranks[i];
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
static int run_put_events(pp_db *db, const char *h, long long run_id, const pp_db_run_event *ev, long long n,
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

int pp_db_run_put(pp_db *db, pp_db_run *run, const pp_db_run_step *steps, int n_steps, const pp_db_run_rank *ranks,
                  int n_ranks, const pp_db_run_event *ev, long long n_ev, pp_err *err) {
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

static void run_fill(sqlite3_stmt *st, pp_db_run *r) {
    memset(r, 0, sizeof *r);
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
}

static void run_row(sqlite3_stmt *st, void *row) { run_fill(st, row); }

int pp_db_runs_list(pp_db *db, pp_db_run **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < RUNS_SINCE) return 0;
    return select_rows_int(db, RUN_SELECT "ORDER BY id DESC", NULL, 0, sizeof **rows, run_row, (void **)rows, n,
                           "listing runs", err);
}

int pp_db_run_get(pp_db *db, long long id, pp_db_run *run, int *found, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    memset(run, 0, sizeof *run);
    *found = 0;
    if (db->version < RUNS_SINCE) return 0;
    DB_CHECK(sqlite3_prepare_v2(db->h, RUN_SELECT "WHERE id = ?1", -1, &st, NULL), "looking up run %lld", id);
    DB_CHECK(sqlite3_bind_int64(st, 1, id), "looking up run %lld", id);
    DB_CHECK(sqlite3_step(st), "looking up run %lld", id);
    if (rc == SQLITE_ROW) {
        run_fill(st, run);
        *found = 1;
    }
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

static void step_row(sqlite3_stmt *st, void *row) {
    pp_db_run_step *s = row;
    s->step = sqlite3_column_int(st, 0);
    s->loss = col_real_or_nan(st, 1);
    s->grad_norm = col_real_or_nan(st, 2);
    s->seconds = sqlite3_column_double(st, 3);
}

int pp_db_run_steps(pp_db *db, long long id, pp_db_run_step **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < RUNS_SINCE) return 0;
    char what[96];
    snprintf(what, sizeof what, "reading the steps of run %lld", id);
    return select_rows_int(db, "SELECT step, loss, grad_norm, seconds FROM run_steps WHERE run_id = ?1 ORDER BY step",
                           &id, 1, sizeof **rows, step_row, (void **)rows, n, what, err);
}

static void rank_row(sqlite3_stmt *st, void *row) {
    pp_db_run_rank *k = row;
    k->rank = sqlite3_column_int(st, 0);
    col_copy(st, 1, k->host, sizeof k->host);
    k->peak_bytes = sqlite3_column_int64(st, 2);
    k->busy_s = sqlite3_column_double(st, 3);
}

int pp_db_run_ranks(pp_db *db, long long id, pp_db_run_rank **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < RUNS_SINCE) return 0;
    char what[96];
    snprintf(what, sizeof what, "reading the ranks of run %lld", id);
    return select_rows_int(db, "SELECT rank, host, peak_bytes, busy_s FROM run_ranks WHERE run_id = ?1 ORDER BY rank",
                           &id, 1, sizeof **rows, rank_row, (void **)rows, n, what, err);
}

static void event_row(sqlite3_stmt *st, void *row) {
    pp_db_run_event *r = row;
    r->step = sqlite3_column_int(st, 0);
    r->ev.rank = sqlite3_column_int(st, 1);
    r->ev.stream = sqlite3_column_int(st, 2);
    r->ev.action = sqlite3_column_int(st, 3);
    r->ev.stage = sqlite3_column_int(st, 4);
    r->ev.mb = sqlite3_column_int(st, 5);
    r->ev.start = sqlite3_column_double(st, 6);
    r->ev.end = sqlite3_column_double(st, 7);
    r->ev.bytes = sqlite3_column_int64(st, 8);
}

int pp_db_run_events(pp_db *db, long long id, int step, pp_db_run_event **rows, long long *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < RUNS_SINCE) return 0;
    /* Two statements, so the one-step form can seek on (run_id, step). */
    const char *sql = step < 0 ? "SELECT step, rank, stream, action, stage, mb, start_s, end_s, bytes FROM run_events "
                                 "WHERE run_id = ?1 ORDER BY step, rank, stream, start_s, end_s, rowid"
                               : "SELECT step, rank, stream, action, stage, mb, start_s, end_s, bytes FROM run_events "
                                 "WHERE run_id = ?1 AND step = ?2 ORDER BY rank, stream, start_s, end_s, rowid";
    long long binds[2] = {id, step};
    char what[96];
    snprintf(what, sizeof what, "reading the events of run %lld", id);
    return select_rows(db, sql, binds, step < 0 ? 1 : 2, sizeof **rows, event_row, (void **)rows, n, what, err);
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
