/*
 * pp_db.c -- the SQLite layer under every pippy command (see pp_db.h): the
 * connection and what every other file of db/ builds on.
 *
 * pippy keeps what it learns -- models, plans, device profiles and links,
 * measured runs with their traces -- in one SQLite file, so that `pippy
 * profile`, `plan`, `sim`, `run` and `report` can build on one another
 * across processes and hosts. db/ is the only place in pippy that speaks
 * SQL; this file owns:
 *
 *  - opening: WAL mode, a busy timeout so concurrent pippy processes wait
 *    for each other instead of failing, foreign keys on;
 *  - migrating: the scripts of pp_db_schema.c applied in order, the version
 *    kept in PRAGMA user_version, each in one BEGIN IMMEDIATE transaction
 *    with its version bump (re-checked inside, so two processes opening a
 *    fresh file never both migrate);
 *  - refusal without harm: files that are not SQLite, SQLite files that are
 *    not pippy's, and databases from a newer pippy are inspected through a
 *    read-only connection and never written;
 *  - transactions that nest (BEGIN IMMEDIATE outside, savepoints inside), so
 *    a command can group several puts into one all-or-nothing write;
 *  - the errors (pp_dbi_error, pp_dbi_fail) and the one row reader
 *    (pp_dbi_each_row, pp_dbi_rows, pp_dbi_row) of pp_db_int.h.
 *
 * Every sqlite3 call is checked through DB_CHECK, which records the database
 * path, what was being done, SQLite's message and the source line in the
 * caller's pp_err and jumps to the function's one cleanup label.
 */
#include "db/pp_db_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- Errors --------------------------------------------------------------- */

/* DETAIL is SQLite's own message, made plainer for the results a user can
 * meet. */
int pp_dbi_error(const pp_db *db, pp_err *err, int rc, const char *file, int line, const char *fmt, ...) {
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

int pp_dbi_fail(const pp_db *db, pp_err *err, pp_status code, const char *fmt, ...) {
    if (!err) return -1;
    char msg[PP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pp_err_set(err, code, "%s: %s", db->path, msg);
}

/* ---- Columns, binds and the row reader ------------------------------------ */

int pp_dbi_col_dup(const pp_db *db, sqlite3_stmt *st, int i, char **out, pp_err *err) {
    const char *t = "";
    *out = NULL;
    if (sqlite3_column_type(st, i) != SQLITE_NULL) {
        t = (const char *)sqlite3_column_text(st, i);
        if (!t) return pp_dbi_fail(db, err, PP_ERR_NOMEM, "out of memory reading a row");
    }
    *out = pp_strdup(t, err);
    return *out ? 0 : -1;
}

int pp_dbi_bind_all(sqlite3_stmt *st, int first, const pp_dbi_bind *b, int n) {
    for (int i = 0; i < n; i++) {
        int rc, at = first + i;
        switch (b[i].type) {
        case DBI_B_INT: rc = sqlite3_bind_int64(st, at, b[i].i); break;
        case DBI_B_REAL: rc = sqlite3_bind_double(st, at, b[i].r); break;
        default: rc = b[i].s ? sqlite3_bind_text(st, at, b[i].s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, at);
        }
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

int pp_dbi_each_row(pp_db *db, const char *sql, const pp_dbi_bind *binds, int n_binds, pp_dbi_row_fn fn, void *ctx,
                    const char *what, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    DB_CHECK(sqlite3_prepare_v2(db->h, sql, -1, &st, NULL), "%s", what);
    DB_CHECK(pp_dbi_bind_all(st, 1, binds, n_binds), "%s", what);
    for (;;) {
        DB_CHECK(sqlite3_step(st), "%s", what);
        if (rc == SQLITE_DONE) break;
        int r = fn(db, st, ctx, err);
        if (r < 0) goto cleanup;
        if (r > 0) break;
    }
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

/* pp_dbi_rows's state: the growing array. */
typedef struct rows_ctx {
    size_t row_size;
    pp_dbi_fill_fn fill;
    char *a;
    long long n, cap;
} rows_ctx;

static int rows_add(pp_db *db, sqlite3_stmt *st, void *ctx, pp_err *err) {
    rows_ctx *c = ctx;
    if (c->n == c->cap) {
        long long cap = c->cap > 0 ? c->cap * 2 : 16;
        char *p = pp_realloc(c->a, (unsigned long long)cap * c->row_size, err);
        if (!p) return -1;
        c->a = p;
        c->cap = cap;
    }
    char *row = c->a + (size_t)c->n * c->row_size;
    memset(row, 0, c->row_size);
    if (c->fill(db, st, row, err)) return -1;
    c->n++;
    return 0;
}

int pp_dbi_rows(pp_db *db, const char *sql, const pp_dbi_bind *binds, int n_binds, size_t row_size,
                pp_dbi_fill_fn fill, pp_dbi_clear_fn clear, void **rows, long long *n, const char *what, pp_err *err) {
    rows_ctx c = {.row_size = row_size, .fill = fill};
    *rows = NULL;
    *n = 0;
    if (pp_dbi_each_row(db, sql, binds, n_binds, rows_add, &c, what, err)) {
        if (clear)
            for (long long i = 0; i < c.n; i++) clear(c.a + (size_t)i * row_size);
        free(c.a);
        return -1;
    }
    *rows = c.n ? c.a : NULL;
    if (!c.n) free(c.a);
    *n = c.n;
    return 0;
}

int pp_dbi_rows_int(pp_db *db, const char *sql, const pp_dbi_bind *binds, int n_binds, size_t row_size,
                    pp_dbi_fill_fn fill, pp_dbi_clear_fn clear, void **rows, int *n, const char *what, pp_err *err) {
    long long k = 0;
    int rc = pp_dbi_rows(db, sql, binds, n_binds, row_size, fill, clear, rows, &k, what, err);
    *n = (int)k;
    return rc;
}

/* pp_dbi_row's state: where the one row goes. */
typedef struct row_ctx {
    pp_dbi_fill_fn fill;
    void *row;
    int found;
} row_ctx;

static int row_take(pp_db *db, sqlite3_stmt *st, void *ctx, pp_err *err) {
    row_ctx *c = ctx;
    if (c->fill(db, st, c->row, err)) return -1;
    c->found = 1;
    return 1; /* the first row is all we want */
}

int pp_dbi_row(pp_db *db, const char *sql, const pp_dbi_bind *binds, int n_binds, size_t row_size, pp_dbi_fill_fn fill,
               void *row, int *found, const char *what, pp_err *err) {
    row_ctx c = {.fill = fill, .row = row};
    memset(row, 0, row_size);
    *found = 0;
    if (pp_dbi_each_row(db, sql, binds, n_binds, row_take, &c, what, err)) {
        memset(row, 0, row_size);
        return -1;
    }
    *found = c.found;
    return 0;
}

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
        return pp_dbi_fail(db, err, PP_ERR_INVALID,
                       "an SQLite database of another application (application_id 0x%08x), not pippy's; "
                       "left untouched",
                       (unsigned)app);
    if (v > PP_DB_SCHEMA_VERSION)
        return pp_dbi_fail(db, err, PP_ERR_UNSUPPORTED,
                       "schema version %d is newer than this pippy understands (%d); use a newer pippy", v,
                       PP_DB_SCHEMA_VERSION);
    if (v < 0)
        return pp_dbi_fail(db, err, PP_ERR_INVALID, "schema version %d is not one pippy writes; left untouched", v);
    if (v == 0) {
        /* Version 0 must mean empty: never add pippy's tables to someone
         * else's database. */
        if (n_obj > 0)
            return pp_dbi_fail(db, err, PP_ERR_INVALID,
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
            DB_CHECK(sqlite3_exec(db->h, pp_dbi_migration(v), NULL, NULL, NULL),
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
    if (db->readonly) return pp_dbi_fail(db, err, PP_ERR_INVALID, "opened read-only; cannot write");
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
    if (db->depth <= 0) return pp_dbi_fail(db, err_out, PP_ERR_INVALID, "rollback without a transaction");
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
    if (db->depth <= 0) return pp_dbi_fail(db, err, PP_ERR_INVALID, "commit without a transaction");
    if (sqlite3_get_autocommit(db->h)) {
        db->depth--;
        return pp_dbi_fail(db, err, PP_ERR_DB, "the transaction was rolled back after an earlier error; nothing written");
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

