/*
 * test_db.c -- the SQLite layer (db/pp_db.h): migrations on a fresh file,
 * WAL, idempotent reopen, typed put/list/get round trips, upsert by hash,
 * all-or-nothing transaction groups, refusal of newer-schema, non-SQLite and
 * foreign databases without touching them, read-only opening, and two
 * processes writing one database at once.
 *
 * Raw sqlite3 calls appear here only to inspect or prepare files behind the
 * layer's back.
 */
#include <check.h>

#include "tests/pp_test.h"
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/pp_hash.h"
#include "db/pp_db.h"

static char g_dir[256];

/* A fresh path in the test directory. */
static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static char *slurp(const char *p, size_t *len) {
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Raw helpers that bypass pp_db. */
static void raw_exec(const char *path, const char *sql) {
    sqlite3 *h = NULL;
    ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
    ck_assert_int_eq(sqlite3_close(h), SQLITE_OK);
}

static long long raw_int(const char *path, const char *sql) {
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static void raw_text(const char *path, const char *sql, char *out, size_t n) {
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static void hash_of(const char *s, char out[65]) { pp_sha256_hex(s, strlen(s), out); }

static pp_db *open_ok(const char *path) {
    pp_db *db = NULL;
    pp_err err = {0};
    int rc = pp_db_open(path, &db, &err);
    ck_assert_msg(rc == 0, "pp_db_open(%s): %s", path, err.msg);
    ck_assert_ptr_nonnull(db);
    return db;
}

static long long put_model(pp_db *db, const char *name, const char *family, const char *seed, long long n) {
    char h[65];
    hash_of(seed, h);
    long long id = -1;
    pp_err err = {0};
    int rc = pp_db_model_put(db, name, family, h, n, "{\"n_layer\": 2}", &id, &err);
    ck_assert_msg(rc == 0, "model_put %s: %s", name, err.msg);
    ck_assert_int_gt(id, 0);
    return id;
}

static int count_models(pp_db *db) {
    pp_db_model_row *rows = NULL;
    int n = -1;
    pp_err err = {0};
    ck_assert_msg(pp_db_models_list(db, &rows, &n, &err) == 0, "%s", err.msg);
    pp_db_model_rows_free(rows, n);
    return n;
}

static int count_plans(pp_db *db) {
    pp_db_plan_row *rows = NULL;
    int n = -1;
    pp_err err = {0};
    ck_assert_msg(pp_db_plans_list(db, &rows, &n, &err) == 0, "%s", err.msg);
    pp_db_plan_rows_free(rows, n);
    return n;
}

/* ---- Opening and migrations ----------------------------------------------- */

START_TEST(fresh_file_is_migrated) {
    const char *p = tmp_path("fresh.db");
    ck_assert(!file_exists(p));
    pp_db *db = open_ok(p);
    ck_assert_int_eq(pp_db_schema_version(db), PP_DB_SCHEMA_VERSION);
    ck_assert_str_eq(pp_db_path(db), p);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), PP_DB_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(p, "PRAGMA application_id"), PP_DB_APPLICATION_ID);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'models'"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'plans'"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'plans' "
                                "AND name = 'plans_by_model'"),
                     1);
    char mode[32];
    raw_text(p, "PRAGMA journal_mode", mode, sizeof mode);
    ck_assert_str_eq(mode, "wal");
    ck_assert_int_eq(count_models(db), 0);
    ck_assert_int_eq(count_plans(db), 0);
    pp_db_close(db);
}
END_TEST

START_TEST(reopen_is_idempotent) {
    const char *p = tmp_path("reopen.db");
    pp_db *db = open_ok(p);
    long long id = put_model(db, "m", "gpt2", "reopen", 10);
    pp_db_close(db);
    long long objects = raw_int(p, "SELECT count(*) FROM sqlite_master");
    for (int i = 0; i < 3; i++) {
        db = open_ok(p);
        ck_assert_int_eq(pp_db_schema_version(db), PP_DB_SCHEMA_VERSION);
        ck_assert_int_eq(count_models(db), 1);
        ck_assert_int_eq(put_model(db, "m", "gpt2", "reopen", 10), id);
        pp_db_close(db);
    }
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), PP_DB_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM sqlite_master"), objects);
}
END_TEST

/* An empty existing file (say, `touch pippy.db`) is a database at version 0. */
START_TEST(empty_file_is_migrated) {
    const char *p = tmp_path("empty.db");
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    pp_db *db = open_ok(p);
    ck_assert_int_eq(pp_db_schema_version(db), PP_DB_SCHEMA_VERSION);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), PP_DB_SCHEMA_VERSION);
}
END_TEST

/* Creates a database behind pp_db's back, stats and reads it, tries to open
 * it both ways, and checks the refusal message and that nothing changed. */
static void expect_refused_untouched(const char *p, const char *want1, const char *want2) {
    struct stat before, after;
    ck_assert_int_eq(stat(p, &before), 0);
    size_t n0, n1;
    char *b0 = slurp(p, &n0);
    char wal[600], shm[600];
    snprintf(wal, sizeof wal, "%s-wal", p);
    snprintf(shm, sizeof shm, "%s-shm", p);
    int had_wal = file_exists(wal), had_shm = file_exists(shm);
    /* Let a coarse file-system clock tick, so a write would show in mtime. */
    nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 20000000}, NULL);

    for (int ro = 0; ro < 2; ro++) {
        pp_db *db = (pp_db *)1;
        pp_err err = {0};
        int rc = ro ? pp_db_open_readonly(p, &db, &err) : pp_db_open(p, &db, &err);
        ck_assert_int_eq(rc, -1);
        ck_assert_ptr_null(db);
        ck_assert_msg(strstr(err.msg, p) != NULL, "message does not name the file: %s", err.msg);
        ck_assert_msg(strstr(err.msg, want1) != NULL, "expected '%s' in: %s", want1, err.msg);
        if (want2) ck_assert_msg(strstr(err.msg, want2) != NULL, "expected '%s' in: %s", want2, err.msg);
    }

    ck_assert_int_eq(stat(p, &after), 0);
    char *b1 = slurp(p, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_msg(memcmp(b0, b1, n0) == 0, "%s changed", p);
    ck_assert_int_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    ck_assert_int_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    ck_assert_int_eq(before.st_ino, after.st_ino);
    /* A rollback-journal file grows no WAL side files. */
    if (!had_wal && !had_shm && !(n0 >= 20 && b0[18] == 2)) {
        ck_assert_msg(!file_exists(wal), "%s appeared", wal);
        ck_assert_msg(!file_exists(shm), "%s appeared", shm);
    }
    free(b0);
    free(b1);
}

START_TEST(newer_schema_is_refused_untouched) {
    const char *p = tmp_path("newer.db");
    raw_exec(p, "CREATE TABLE future (x INTEGER); INSERT INTO future VALUES (42); PRAGMA user_version = 99;");
    char want[128];
    snprintf(want, sizeof want, "schema version 99 is newer than this pippy understands (%d); use a newer pippy",
             PP_DB_SCHEMA_VERSION);
    expect_refused_untouched(p, want, NULL);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), 99);
}
END_TEST

/* The same from a newer pippy's WAL-mode file (as pippy itself writes). */
START_TEST(newer_wal_schema_is_refused_untouched) {
    const char *p = tmp_path("newer-wal.db");
    raw_exec(p, "PRAGMA journal_mode = WAL; CREATE TABLE future (x INTEGER); PRAGMA user_version = 7;");
    expect_refused_untouched(p, "schema version 7 is newer than this pippy understands", "use a newer pippy");
}
END_TEST

START_TEST(non_database_is_refused_untouched) {
    const char *p = tmp_path("notes.txt");
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 40; i++) fprintf(f, "line %d: this is a text file, not a database\n", i);
    fclose(f);
    expect_refused_untouched(p, "not an SQLite database", NULL);
}
END_TEST

START_TEST(foreign_sqlite_database_is_refused_untouched) {
    const char *p = tmp_path("foreign.db");
    raw_exec(p, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'x');");
    expect_refused_untouched(p, "not a pippy database", NULL);
    const char *q = tmp_path("other-app.db");
    raw_exec(q, "PRAGMA application_id = 1234; PRAGMA user_version = 1;");
    expect_refused_untouched(q, "another application", NULL);
}
END_TEST

START_TEST(directory_and_empty_path_are_refused) {
    pp_db *db = NULL;
    pp_err err = {0};
    ck_assert_int_eq(pp_db_open(g_dir, &db, &err), -1);
    ck_assert_ptr_null(db);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a directory"));
    ck_assert_int_eq(pp_db_open("", &db, &err), -1);
    ck_assert_int_eq(pp_db_open(NULL, &db, &err), -1);
    pp_db_close(NULL); /* allowed */
}
END_TEST

START_TEST(readonly_open) {
    pp_db *db = NULL;
    pp_err err = {0};
    const char *missing = tmp_path("missing.db");
    ck_assert_int_eq(pp_db_open_readonly(missing, &db, &err), -1);
    ck_assert_ptr_null(db);
    ck_assert_msg(strstr(err.msg, "no database at") && strstr(err.msg, missing), "%s", err.msg);
    ck_assert(!file_exists(missing));

    const char *p = tmp_path("ro.db");
    db = open_ok(p);
    put_model(db, "m1", "gpt2", "ro-1", 1);
    pp_db_close(db);

    ck_assert_int_eq(pp_db_open_readonly(p, &db, &err), 0);
    ck_assert_int_eq(pp_db_schema_version(db), PP_DB_SCHEMA_VERSION);
    ck_assert_int_eq(count_models(db), 1);
    char h[65];
    hash_of("ro-2", h);
    ck_assert_int_eq(pp_db_model_put(db, "m2", "gpt2", h, 1, "{}", NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "read-only"));
    ck_assert_int_eq(pp_db_begin(db, &err), -1);
    ck_assert_int_eq(count_models(db), 1);
    pp_db_close(db);

    /* An older (here: empty, version 0) database reads as empty, unchanged. */
    const char *e = tmp_path("ro-empty.db");
    FILE *f = fopen(e, "wb");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(pp_db_open_readonly(e, &db, &err), 0);
    ck_assert_int_eq(pp_db_schema_version(db), 0);
    ck_assert_int_eq(count_models(db), 0);
    ck_assert_int_eq(count_plans(db), 0);
    pp_db_model_row row;
    int found = -1;
    ck_assert_int_eq(pp_db_model_get_by_hash(db, h, &row, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    pp_db_close(db);
    struct stat sb;
    ck_assert_int_eq(stat(e, &sb), 0);
    ck_assert_int_eq(sb.st_size, 0);
}
END_TEST

/* ---- Store and load ----------------------------------------------------- */

START_TEST(put_list_get_round_trip) {
    const char *p = tmp_path("roundtrip.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    char h1[65], h2[65], ph1[65], ph2[65];
    hash_of("gpt2-tiny config", h1);
    hash_of("llama-small config", h2);
    hash_of("plan one", ph1);
    hash_of("plan two", ph2);
    long long id1 = 0, id2 = 0, pid1 = 0, pid2 = 0;
    ck_assert_int_eq(pp_db_model_put(db, "gpt2-tiny", "gpt2", h1, 1234567, "{\"n_layer\": 2}", &id1, &err), 0);
    ck_assert_int_eq(pp_db_model_put(db, "llama-small", "llama", h2, 8000000000LL, "{\"n_layer\": 32}", &id2, &err),
                     0);
    ck_assert_int_lt(id1, id2);
    ck_assert_int_eq(pp_db_plan_put(db, "tiny-1f1b", ph1, h1, 2, "1f1b", "{\"version\": 1}", &pid1, &err), 0);
    ck_assert_int_eq(pp_db_plan_put(db, "llama-gpipe", ph2, h2, 8, "gpipe", "{\"version\": 1, \"x\": [1]}", &pid2,
                                    &err),
                     0);
    ck_assert_int_lt(pid1, pid2);
    pp_db_close(db);

    db = open_ok(p);
    pp_db_model_row *m = NULL;
    int nm = 0;
    ck_assert_int_eq(pp_db_models_list(db, &m, &nm, &err), 0);
    ck_assert_int_eq(nm, 2);
    ck_assert_int_eq(m[0].id, id1);
    ck_assert_str_eq(m[0].name, "gpt2-tiny");
    ck_assert_str_eq(m[0].family, "gpt2");
    ck_assert_str_eq(m[0].hash, h1);
    ck_assert_int_eq(m[0].n_params, 1234567);
    ck_assert_str_eq(m[0].config_json, "{\"n_layer\": 2}");
    ck_assert_uint_eq(strlen(m[0].created_at), 20);
    ck_assert_int_eq(m[0].created_at[10], 'T');
    ck_assert_int_eq(m[0].created_at[19], 'Z');
    ck_assert_str_eq(m[1].name, "llama-small");
    ck_assert_int_eq(m[1].n_params, 8000000000LL);
    pp_db_model_rows_free(m, nm);

    pp_db_plan_row *pl = NULL;
    int np = 0;
    ck_assert_int_eq(pp_db_plans_list(db, &pl, &np, &err), 0);
    ck_assert_int_eq(np, 2);
    ck_assert_int_eq(pl[0].id, pid1);
    ck_assert_str_eq(pl[0].name, "tiny-1f1b");
    ck_assert_str_eq(pl[0].plan_hash, ph1);
    ck_assert_str_eq(pl[0].model_hash, h1);
    ck_assert_int_eq(pl[0].n_ranks, 2);
    ck_assert_str_eq(pl[0].schedule, "1f1b");
    ck_assert_str_eq(pl[0].plan_json, "{\"version\": 1}");
    ck_assert_str_eq(pl[1].schedule, "gpipe");
    ck_assert_int_eq(pl[1].n_ranks, 8);
    pp_db_plan_rows_free(pl, np);

    pp_db_model_row row;
    int found = -1;
    ck_assert_int_eq(pp_db_model_get_by_hash(db, h2, &row, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(row.id, id2);
    ck_assert_str_eq(row.name, "llama-small");
    ck_assert_str_eq(row.config_json, "{\"n_layer\": 32}");
    pp_db_model_row_clear(&row);
    ck_assert_ptr_null(row.name);
    ck_assert_int_eq(pp_db_model_get_by_hash(db, ph1, &row, &found, &err), 0);
    ck_assert_int_eq(found, 0);

    pp_db_plan_row prow;
    ck_assert_int_eq(pp_db_plan_get_by_hash(db, ph2, &prow, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(prow.name, "llama-gpipe");
    ck_assert_str_eq(prow.model_hash, h2);
    pp_db_plan_row_clear(&prow);
    ck_assert_int_eq(pp_db_plan_get_by_hash(db, h1, &prow, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    pp_db_close(db);
}
END_TEST

START_TEST(upsert_by_hash) {
    pp_db *db = open_ok(tmp_path("upsert.db"));
    pp_err err = {0};
    char h[65], ph[65];
    hash_of("same config", h);
    hash_of("same plan", ph);
    long long a = 0, b = 0, c = 0;
    ck_assert_int_eq(pp_db_model_put(db, "first", "gpt2", h, 100, "{\"a\": 1}", &a, &err), 0);
    ck_assert_int_eq(pp_db_model_put(db, "second", "gpt2", h, 100, "{\"a\": 2}", &b, &err), 0);
    ck_assert_int_eq(a, b);
    ck_assert_int_eq(pp_db_model_put(db, "second", "gpt2", h, 100, "{\"a\": 2}", &c, &err), 0);
    ck_assert_int_eq(a, c);
    pp_db_model_row row;
    int found = 0;
    ck_assert_int_eq(pp_db_model_get_by_hash(db, h, &row, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(row.name, "second");        /* the latest name wins */
    ck_assert_str_eq(row.config_json, "{\"a\": 1}"); /* the first config stays */
    pp_db_model_row_clear(&row);
    ck_assert_int_eq(count_models(db), 1);

    /* Same hash, different family or size: inconsistent, refused, unchanged. */
    err.msg[0] = '\0';
    ck_assert_int_eq(pp_db_model_put(db, "third", "llama", h, 100, "{}", NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "inconsistent"), "%s", err.msg);
    ck_assert_int_eq(pp_db_model_put(db, "third", "gpt2", h, 101, "{}", NULL, &err), -1);
    ck_assert_int_eq(pp_db_model_get_by_hash(db, h, &row, &found, &err), 0);
    ck_assert_str_eq(row.name, "second");
    pp_db_model_row_clear(&row);

    /* Plans: same rule. */
    ck_assert_int_eq(pp_db_plan_put(db, "p1", ph, h, 4, "1f1b", "{}", &a, &err), 0);
    ck_assert_int_eq(pp_db_plan_put(db, "p2", ph, h, 4, "1f1b", "{}", &b, &err), 0);
    ck_assert_int_eq(a, b);
    ck_assert_int_eq(pp_db_plan_put(db, "p3", ph, h, 2, "1f1b", "{}", NULL, &err), -1);
    ck_assert_int_eq(pp_db_plan_put(db, "p3", ph, h, 4, "gpipe", "{}", NULL, &err), -1);
    pp_db_plan_row prow;
    ck_assert_int_eq(pp_db_plan_get_by_hash(db, ph, &prow, &found, &err), 0);
    ck_assert_str_eq(prow.name, "p2");
    ck_assert_int_eq(prow.n_ranks, 4);
    pp_db_plan_row_clear(&prow);
    ck_assert_int_eq(count_plans(db), 1);
    pp_db_close(db);
}
END_TEST

START_TEST(bad_values_are_refused) {
    pp_db *db = open_ok(tmp_path("bad.db"));
    pp_err err = {0};
    char h[65], ph[65], unknown[65];
    hash_of("bad", h);
    hash_of("bad plan", ph);
    hash_of("not stored", unknown);
    ck_assert_int_eq(pp_db_model_put(db, "m", "gpt2", "ABC", 1, "{}", NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "64 lowercase hex"), "%s", err.msg);
    ck_assert_int_eq(pp_db_model_put(db, "", "gpt2", h, 1, "{}", NULL, &err), -1);
    ck_assert_int_eq(pp_db_model_put(db, "m", "", h, 1, "{}", NULL, &err), -1);
    ck_assert_int_eq(pp_db_model_put(db, "m", "gpt2", h, -1, "{}", NULL, &err), -1);
    ck_assert_int_eq(pp_db_model_put(db, "m", "gpt2", h, 1, NULL, NULL, &err), -1);
    /* Invalid JSON passes the C checks and is refused by the schema. */
    ck_assert_int_eq(pp_db_model_put(db, "m", "gpt2", h, 1, "{not json", NULL, &err), -1);
    ck_assert_int_eq(err.code, PP_ERR_DB);
    ck_assert_msg(strstr(err.msg, "CHECK constraint failed") && strstr(err.msg, "bad.db") &&
                      strstr(err.msg, "storing model 'm'") && strstr(err.msg, "pp_db.c:"),
                  "%s", err.msg);
    ck_assert_int_eq(count_models(db), 0);

    put_model(db, "m", "gpt2", "bad", 1);
    ck_assert_int_eq(pp_db_plan_put(db, "p", ph, unknown, 2, "1f1b", "{}", NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "is not stored"), "%s", err.msg);
    ck_assert_int_eq(pp_db_plan_put(db, "p", ph, h, 0, "1f1b", "{}", NULL, &err), -1);
    ck_assert_int_eq(pp_db_plan_put(db, "p", ph, h, 2, "", "{}", NULL, &err), -1);
    ck_assert_int_eq(pp_db_plan_put(db, "p", "x", h, 2, "1f1b", "{}", NULL, &err), -1);
    ck_assert_int_eq(count_plans(db), 0);
    pp_db_close(db);

    /* The foreign key itself also holds (behind the layer's back). */
    const char *p = tmp_path("bad.db");
    sqlite3 *raw = NULL;
    ck_assert_int_eq(sqlite3_open(p, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO plans (name, plan_hash, model_hash, n_ranks, schedule, plan_json) "
             "VALUES ('p', '%s', '%s', 2, '1f1b', '{}')",
             ph, unknown);
    ck_assert_int_eq(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_CONSTRAINT);
    sqlite3_close(raw);
}
END_TEST

/* ---- Transactions --------------------------------------------------------- */

START_TEST(failed_group_leaves_database_unchanged) {
    const char *p = tmp_path("group.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    put_model(db, "before", "gpt2", "before", 5);
    char h1[65], h2[65], ph[65];
    hash_of("group-1", h1);
    hash_of("group-2", h2);
    hash_of("group-plan", ph);

    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    ck_assert_int_eq(pp_db_model_put(db, "g1", "gpt2", h1, 1, "{}", NULL, &err), 0);
    ck_assert_int_eq(pp_db_model_put(db, "g2", "gpt2", h2, 2, "{}", NULL, &err), 0);
    ck_assert_int_eq(pp_db_model_put(db, "renamed", "gpt2", h1, 1, "{}", NULL, &err), 0);
    ck_assert_int_eq(count_models(db), 3); /* visible inside the group */
    /* Third write violates a constraint (plan JSON must be valid). */
    ck_assert_int_eq(pp_db_plan_put(db, "p", ph, h1, 2, "1f1b", "[oops", NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "CHECK constraint failed"));
    ck_assert_int_eq(pp_db_rollback(db, &err), 0);
    ck_assert_int_eq(count_models(db), 1);
    ck_assert_int_eq(count_plans(db), 0);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM models"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM models WHERE name = 'before'"), 1);

    /* A group that succeeds commits everything at once. */
    db = open_ok(p);
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    ck_assert_int_eq(pp_db_model_put(db, "g1", "gpt2", h1, 1, "{}", NULL, &err), 0);
    ck_assert_int_eq(pp_db_plan_put(db, "p", ph, h1, 2, "1f1b", "{}", NULL, &err), 0);
    ck_assert_int_eq(pp_db_commit(db, &err), 0);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM models"), 2);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM plans"), 1);
}
END_TEST

START_TEST(nested_transactions) {
    const char *p = tmp_path("nested.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    ck_assert_int_eq(pp_db_commit(db, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "without a transaction"));
    ck_assert_int_eq(pp_db_rollback(db, &err), -1);

    /* Inner rollback drops only the inner writes. */
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    put_model(db, "outer", "gpt2", "outer", 1);
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    put_model(db, "inner", "gpt2", "inner", 1);
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    put_model(db, "innermost", "gpt2", "innermost", 1);
    ck_assert_int_eq(pp_db_commit(db, &err), 0);
    ck_assert_int_eq(count_models(db), 3);
    ck_assert_int_eq(pp_db_rollback(db, &err), 0);
    ck_assert_int_eq(count_models(db), 1);
    ck_assert_int_eq(pp_db_commit(db, &err), 0);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM models"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM models WHERE name = 'outer'"), 1);

    /* Outer rollback drops committed inner levels too. */
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    put_model(db, "x", "gpt2", "x", 1);
    ck_assert_int_eq(pp_db_commit(db, &err), 0);
    ck_assert_int_eq(pp_db_rollback(db, &err), 0);
    ck_assert_int_eq(count_models(db), 1);

    /* Closing with a transaction open rolls it back. */
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    put_model(db, "lost", "gpt2", "lost", 1);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM models"), 1);
}
END_TEST

/* A second connection cannot see a group's writes before the commit. */
START_TEST(uncommitted_writes_are_invisible) {
    const char *p = tmp_path("isolation.db");
    pp_db *a = open_ok(p);
    pp_db *b = open_ok(p);
    pp_err err = {0};
    ck_assert_int_eq(pp_db_begin(a, &err), 0);
    put_model(a, "pending", "gpt2", "pending", 1);
    ck_assert_int_eq(count_models(b), 0);
    ck_assert_int_eq(pp_db_commit(a, &err), 0);
    ck_assert_int_eq(count_models(b), 1);
    pp_db_close(a);
    pp_db_close(b);
}
END_TEST

/* ---- Concurrency ---------------------------------------------------------- */

#define PER_CHILD 200

static int child_writes(const char *path, int tag, int go_fd) {
    char c;
    if (read(go_fd, &c, 1) != 1) return 10;
    pp_db *db = NULL;
    pp_err err = {0};
    if (pp_db_open(path, &db, &err)) {
        fprintf(stderr, "child %d: %s\n", tag, err.msg);
        return 11;
    }
    for (int i = 0; i < PER_CHILD; i++) {
        char seed[64], name[64], h[65];
        snprintf(seed, sizeof seed, "child-%d-model-%d", tag, i);
        snprintf(name, sizeof name, "c%d-m%d", tag, i);
        pp_sha256_hex(seed, strlen(seed), h);
        if (pp_db_model_put(db, name, "gpt2", h, i, "{}", NULL, &err)) {
            fprintf(stderr, "child %d, model %d: %s\n", tag, i, err.msg);
            pp_db_close(db);
            return 12;
        }
    }
    pp_db_close(db);
    return 0;
}

START_TEST(two_processes_write_concurrently) {
    const char *p = tmp_path("concurrent.db");
    ck_assert(!file_exists(p)); /* both children race to create and migrate it */
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t pids[2];
    for (int k = 0; k < 2; k++) {
        fflush(NULL);
        pids[k] = fork();
        ck_assert_int_ge(pids[k], 0);
        if (pids[k] == 0) {
            close(go[1]);
            _exit(child_writes(p, k, go[0]));
        }
    }
    close(go[0]);
    ck_assert_int_eq(write(go[1], "xx", 2), 2); /* start both at once */
    close(go[1]);
    for (int k = 0; k < 2; k++) {
        int status = 0;
        ck_assert_int_eq(waitpid(pids[k], &status, 0), pids[k]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed (status 0x%x)", k, status);
    }
    pp_db *db = open_ok(p);
    pp_db_model_row *rows = NULL;
    int n = 0;
    pp_err err = {0};
    ck_assert_int_eq(pp_db_models_list(db, &rows, &n, &err), 0);
    ck_assert_int_eq(n, 2 * PER_CHILD);
    int per[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        if (!strncmp(rows[i].name, "c0-", 3)) per[0]++;
        if (!strncmp(rows[i].name, "c1-", 3)) per[1]++;
    }
    ck_assert_int_eq(per[0], PER_CHILD);
    ck_assert_int_eq(per[1], PER_CHILD);
    pp_db_model_rows_free(rows, n);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "SELECT count(DISTINCT hash) FROM models"), 2 * PER_CHILD);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), PP_DB_SCHEMA_VERSION);
}
END_TEST

/* ---- Runner --------------------------------------------------------------- */

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static Suite *db_suite(void) {
    Suite *s = suite_create("db");
    TCase *open = tcase_create("open");
    tcase_add_test(open, fresh_file_is_migrated);
    tcase_add_test(open, reopen_is_idempotent);
    tcase_add_test(open, empty_file_is_migrated);
    tcase_add_test(open, newer_schema_is_refused_untouched);
    tcase_add_test(open, newer_wal_schema_is_refused_untouched);
    tcase_add_test(open, non_database_is_refused_untouched);
    tcase_add_test(open, foreign_sqlite_database_is_refused_untouched);
    tcase_add_test(open, directory_and_empty_path_are_refused);
    tcase_add_test(open, readonly_open);
    suite_add_tcase(s, open);

    TCase *store = tcase_create("store");
    tcase_add_test(store, put_list_get_round_trip);
    tcase_add_test(store, upsert_by_hash);
    tcase_add_test(store, bad_values_are_refused);
    suite_add_tcase(s, store);

    TCase *txn = tcase_create("transactions");
    tcase_add_test(txn, failed_group_leaves_database_unchanged);
    tcase_add_test(txn, nested_transactions);
    tcase_add_test(txn, uncommitted_writes_are_invisible);
    suite_add_tcase(s, txn);

    TCase *conc = tcase_create("concurrency");
    tcase_set_timeout(conc, 120);
    tcase_add_test(conc, two_processes_write_concurrently);
    suite_add_tcase(s, conc);
    return s;
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/pp_test_db.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    int rc = pp_test_run(db_suite());
    remove_dir(g_dir);
    return rc;
}
