/*
 * test_db.c -- the SQLite layer (db/pp_db.h): migrations on a fresh file,
 * WAL, idempotent reopen, typed put/list/get round trips, upsert by hash,
 * all-or-nothing transaction groups, refusal of newer-schema, non-SQLite and
 * foreign databases without touching them, read-only opening, and two
 * processes writing one database at once; profiles (schema version 2):
 * the upgrade of a version-1 file, device/op-profile/link round trips and
 * replacement, two processes writing profiles at once, and a writer killed
 * inside a transaction leaving the database intact.
 *
 * Raw sqlite3 calls appear here only to inspect or prepare files behind the
 * layer's back.
 */
#include <check.h>

#include "tests/pp_test.h"
#include <dirent.h>
#include <math.h>
#include <signal.h>
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

/* ---- Profiles (schema version 2) ----------------------------------------- */

/* The schema version 1 pippy wrote: migration 1, verbatim. */
static const char *const V1_SCHEMA =
    "PRAGMA journal_mode = WAL;\n"
    "BEGIN;\n"
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
    "PRAGMA application_id = 1346981968;\n"
    "PRAGMA user_version = 1;\n"
    "COMMIT;\n";

/* A profile whose numbers all derive from x, so a round trip can be checked. */
static pp_db_op_profile make_profile(const char *signature, const char *kind, double x) {
    pp_db_op_profile p;
    memset(&p, 0, sizeof p);
    snprintf(p.signature, sizeof p.signature, "%s", signature);
    snprintf(p.kind, sizeof p.kind, "%s", kind);
    for (int k = 0; k < 3; k++) {
        p.t[k] = x * 1e-6 * (k + 1);
        p.spread[k] = x * 1e-8 * (k + 2);
        p.samples[k] = (int)x + k;
    }
    p.param_bytes = (long long)(x * 1000);
    p.keep_f_bytes = (long long)(x * 2000);
    p.keep_w_bytes = (long long)(x * 3000);
    p.workspace_bytes = 1LL << 33; /* above 32 bits */
    return p;
}

static void assert_profile_eq(const pp_db_op_profile *a, const pp_db_op_profile *b) {
    ck_assert_str_eq(a->signature, b->signature);
    ck_assert_str_eq(a->kind, b->kind);
    for (int k = 0; k < 3; k++) {
        ck_assert(a->t[k] == b->t[k]); /* REAL keeps a double exactly */
        ck_assert(a->spread[k] == b->spread[k]);
        ck_assert_int_eq(a->samples[k], b->samples[k]);
    }
    ck_assert_int_eq(a->param_bytes, b->param_bytes);
    ck_assert_int_eq(a->keep_f_bytes, b->keep_f_bytes);
    ck_assert_int_eq(a->keep_w_bytes, b->keep_w_bytes);
    ck_assert_int_eq(a->workspace_bytes, b->workspace_bytes);
}

static long long put_device(pp_db *db, const char *seed, const char *desc) {
    char fp[65];
    hash_of(seed, fp);
    long long id = -1;
    pp_err err = {0};
    ck_assert_msg(pp_db_device_put(db, fp, desc, &id, &err) == 0, "device_put: %s", err.msg);
    ck_assert_int_gt(id, 0);
    return id;
}

static void put_profile(pp_db *db, long long dev, const pp_db_op_profile *p) {
    pp_err err = {0};
    ck_assert_msg(pp_db_op_profile_put(db, dev, p, &err) == 0, "op_profile_put %s: %s", p->signature, err.msg);
}

static int count_profiles(pp_db *db, long long dev) {
    pp_db_op_profile *rows = NULL;
    int n = -1;
    pp_err err = {0};
    ck_assert_msg(pp_db_op_profiles_list(db, dev, &rows, &n, &err) == 0, "%s", err.msg);
    pp_db_op_profiles_free(rows);
    return n;
}

START_TEST(migration_1_to_2_keeps_models) {
    const char *p = tmp_path("v1.db");
    raw_exec(p, V1_SCHEMA);
    char h[65], ph[65];
    hash_of("v1 model", h);
    hash_of("v1 plan", ph);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO models (name, family, hash, n_params, config_json) VALUES ('old', 'gpt2', '%s', 42, '{}');"
             "INSERT INTO plans (name, plan_hash, model_hash, n_ranks, schedule, plan_json) "
             "VALUES ('old-plan', '%s', '%s', 2, '1f1b', '{}');",
             h, ph, h);
    raw_exec(p, sql);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), 1);

    /* Read-only: still version 1, profiles read as empty, nothing changes. */
    pp_db *db = NULL;
    pp_err err = {0};
    ck_assert_msg(pp_db_open_readonly(p, &db, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_db_schema_version(db), 1);
    ck_assert_int_eq(count_models(db), 1);
    ck_assert_int_eq(count_profiles(db, 0), 0);
    pp_db_device *devs = (pp_db_device *)1;
    pp_db_link *links = (pp_db_link *)1;
    int n = -1, nd = -1, nop = -1, nl = -1, found = -1;
    ck_assert_int_eq(pp_db_devices_list(db, &devs, &n, &err), 0);
    ck_assert_ptr_null(devs);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(pp_db_links_list(db, 0, &links, &n, &err), 0);
    ck_assert_ptr_null(links);
    ck_assert_int_eq(n, 0);
    pp_db_op_profile out;
    ck_assert_int_eq(pp_db_op_profile_get(db, 1, "linear f32 x[1]", &out, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    ck_assert_int_eq(pp_db_profile_counts(db, &nd, &nop, &nl, &err), 0);
    ck_assert(nd == 0 && nop == 0 && nl == 0);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'devices'"), 0);

    /* Read-write: migrated to 2, the version-1 rows kept as they were. */
    db = open_ok(p);
    ck_assert_int_eq(pp_db_schema_version(db), PP_DB_SCHEMA_VERSION);
    ck_assert_int_eq(count_models(db), 1);
    ck_assert_int_eq(count_plans(db), 1);
    pp_db_model_row row;
    ck_assert_int_eq(pp_db_model_get_by_hash(db, h, &row, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(row.id, 1);
    ck_assert_str_eq(row.name, "old");
    ck_assert_int_eq(row.n_params, 42);
    pp_db_model_row_clear(&row);
    long long dev = put_device(db, "v1 device", "{\"cpu\": \"test\"}");
    pp_db_op_profile prof = make_profile("linear f32 x[4,64,768] w[2304,768] b", "linear", 7);
    put_profile(db, dev, &prof);
    ck_assert_int_eq(count_profiles(db, dev), 1);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), PP_DB_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                                "('devices', 'op_signatures', 'op_profiles', 'links')"),
                     4);
    char ok[64];
    raw_text(p, "PRAGMA integrity_check", ok, sizeof ok);
    ck_assert_str_eq(ok, "ok");
}
END_TEST

START_TEST(profile_round_trip) {
    const char *p = tmp_path("profiles.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    char fp1[65], fp2[65];
    hash_of("cpu box", fp1);
    hash_of("gpu box", fp2);
    long long d1 = 0, d2 = 0, again = 0;
    ck_assert_int_eq(pp_db_device_put(db, fp1, "{\"cpu\": \"Xeon\", \"cores\": 16}", &d1, &err), 0);
    ck_assert_int_eq(pp_db_device_put(db, fp2, "{\"gpu\": \"H200\"}", &d2, &err), 0);
    ck_assert_int_lt(d1, d2);
    /* Upsert by fingerprint: same id, the latest description. */
    ck_assert_int_eq(pp_db_device_put(db, fp1, "{\"cpu\": \"Xeon\", \"cores\": 32}", &again, &err), 0);
    ck_assert_int_eq(again, d1);

    pp_db_op_profile a = make_profile("linear f32 x[4,64,768] w[2304,768] b", "linear", 11);
    pp_db_op_profile b = make_profile("layernorm f32 x[4,64,768]", "layernorm", 3);
    pp_db_op_profile c = make_profile("linear f32 x[4,64,768] w[2304,768] b", "linear", 5);
    snprintf(b.measured_at, sizeof b.measured_at, "2024-01-02T03:04:05Z");
    put_profile(db, d1, &a);
    put_profile(db, d1, &b);
    put_profile(db, d2, &c); /* the same signature on another device */

    pp_db_link l0 = {.src_rank = 0, .dst_rank = 1, .src_host = "h0", .dst_host = "h1", .alpha_s = 12e-6,
                     .beta_Bps = 10e9, .residual = 0.02, .sizes_json = "[1024, 1048576]"};
    pp_db_link l1 = {.src_rank = 1, .dst_rank = 0, .src_host = "h1", .dst_host = "h0", .alpha_s = 13e-6,
                     .beta_Bps = 9e9, .residual = 0.03};
    ck_assert_msg(pp_db_link_put(db, d1, &l1, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_db_link_put(db, d1, &l0, &err) == 0, "%s", err.msg);
    pp_db_close(db);

    ck_assert_int_eq(pp_db_open_readonly(p, &db, &err), 0);
    pp_db_device *devs = NULL;
    int n = 0;
    ck_assert_int_eq(pp_db_devices_list(db, &devs, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(devs[0].id, d1);
    ck_assert_str_eq(devs[0].fingerprint, fp1);
    ck_assert_str_eq(devs[0].description_json, "{\"cpu\": \"Xeon\", \"cores\": 32}");
    ck_assert_uint_eq(strlen(devs[0].created_at), 20);
    ck_assert_str_eq(devs[1].fingerprint, fp2);
    pp_db_device_rows_free(devs, n);

    pp_db_op_profile out;
    int found = -1;
    ck_assert_int_eq(pp_db_op_profile_get(db, d1, a.signature, &out, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    assert_profile_eq(&out, &a);
    ck_assert_int_eq(out.device_id, d1);
    ck_assert_uint_eq(strlen(out.measured_at), 20); /* empty on put: now */
    ck_assert_int_eq(out.measured_at[10], 'T');
    ck_assert_int_eq(pp_db_op_profile_get(db, d2, a.signature, &out, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    assert_profile_eq(&out, &c);
    ck_assert_int_eq(pp_db_op_profile_get(db, d2, b.signature, &out, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    ck_assert_int_eq(pp_db_op_profile_get(db, 999, a.signature, &out, &found, &err), 0);
    ck_assert_int_eq(found, 0);

    pp_db_op_profile *rows = NULL;
    ck_assert_int_eq(pp_db_op_profiles_list(db, d1, &rows, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    assert_profile_eq(&rows[0], &a);
    assert_profile_eq(&rows[1], &b);
    ck_assert_str_eq(rows[1].measured_at, "2024-01-02T03:04:05Z");
    pp_db_op_profiles_free(rows);
    ck_assert_int_eq(pp_db_op_profiles_list(db, 0, &rows, &n, &err), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(rows[0].device_id, d1);
    ck_assert_int_eq(rows[2].device_id, d2);
    pp_db_op_profiles_free(rows);

    pp_db_link *links = NULL;
    ck_assert_int_eq(pp_db_links_list(db, d1, &links, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(links[0].src_rank, 0); /* ordered by pair */
    ck_assert_int_eq(links[0].dst_rank, 1);
    ck_assert_str_eq(links[0].src_host, "h0");
    ck_assert_str_eq(links[0].dst_host, "h1");
    ck_assert(links[0].alpha_s == 12e-6 && links[0].beta_Bps == 10e9 && links[0].residual == 0.02);
    ck_assert_str_eq(links[0].sizes_json, "[1024, 1048576]");
    ck_assert_str_eq(links[1].sizes_json, "[]"); /* empty on put */
    ck_assert_int_eq(links[1].device_id, d1);
    pp_db_links_free(links);
    ck_assert_int_eq(pp_db_links_list(db, d2, &links, &n, &err), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(links);

    int nd = 0, nop = 0, nl = 0;
    ck_assert_int_eq(pp_db_profile_counts(db, &nd, &nop, &nl, &err), 0);
    ck_assert(nd == 2 && nop == 3 && nl == 2);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM op_signatures"), 2);
}
END_TEST

START_TEST(profile_replace_by_device_and_signature) {
    const char *p = tmp_path("replace.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    long long dev = put_device(db, "replace device", "{}");
    pp_db_op_profile a = make_profile("matmul f32 x[8,8] w[8,8]", "matmul", 2);
    put_profile(db, dev, &a);
    long long id = raw_int(p, "SELECT id FROM op_profiles");
    pp_db_op_profile a2 = make_profile("matmul f32 x[8,8] w[8,8]", "matmul", 9);
    snprintf(a2.measured_at, sizeof a2.measured_at, "2025-05-05T05:05:05Z");
    put_profile(db, dev, &a2);
    ck_assert_int_eq(count_profiles(db, 0), 1);
    ck_assert_int_eq(raw_int(p, "SELECT id FROM op_profiles"), id); /* replaced in place */
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM op_signatures"), 1);
    pp_db_op_profile out;
    int found = 0;
    ck_assert_int_eq(pp_db_op_profile_get(db, dev, a.signature, &out, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    assert_profile_eq(&out, &a2);
    ck_assert_str_eq(out.measured_at, "2025-05-05T05:05:05Z");

    /* A known signature with another kind is inconsistent: refused, unchanged. */
    pp_db_op_profile bad = make_profile("matmul f32 x[8,8] w[8,8]", "linear", 1);
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &bad, &err), -1);
    ck_assert_msg(strstr(err.msg, "inconsistent") && strstr(err.msg, "replace.db"), "%s", err.msg);
    ck_assert_int_eq(pp_db_op_profile_get(db, dev, a.signature, &out, &found, &err), 0);
    assert_profile_eq(&out, &a2);

    /* Links replace by (device, ranks, hosts). */
    pp_db_link l = {.src_rank = 0, .dst_rank = 1, .src_host = "a", .dst_host = "b", .alpha_s = 1e-6, .beta_Bps = 1e9};
    ck_assert_int_eq(pp_db_link_put(db, dev, &l, &err), 0);
    l.alpha_s = 2e-6;
    ck_assert_int_eq(pp_db_link_put(db, dev, &l, &err), 0);
    snprintf(l.dst_host, sizeof l.dst_host, "c"); /* another host pair: a new link */
    ck_assert_int_eq(pp_db_link_put(db, dev, &l, &err), 0);
    pp_db_link *links = NULL;
    int n = 0;
    ck_assert_int_eq(pp_db_links_list(db, 0, &links, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert(links[0].alpha_s == 2e-6);
    ck_assert_str_eq(links[0].dst_host, "b");
    pp_db_links_free(links);
    pp_db_close(db);
}
END_TEST

START_TEST(bad_profiles_are_refused) {
    pp_db *db = open_ok(tmp_path("badprof.db"));
    pp_err err = {0};
    ck_assert_int_eq(pp_db_device_put(db, "xyz", "{}", NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "64 lowercase hex"), "%s", err.msg);
    char fp[65];
    hash_of("dev", fp);
    ck_assert_int_eq(pp_db_device_put(db, fp, "{oops", NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "CHECK constraint failed"));
    long long dev = put_device(db, "dev", "{}");

    pp_db_op_profile p = make_profile("relu f32 x[4]", "relu", 1);
    ck_assert_int_eq(pp_db_op_profile_put(db, dev + 100, &p, &err), -1);
    ck_assert_msg(strstr(err.msg, "is not stored"), "%s", err.msg);
    p.t[1] = -1;
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &p, &err), -1);
    p.t[1] = NAN;
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &p, &err), -1);
    p = make_profile("relu f32 x[4]", "relu", 1);
    p.samples[2] = -3;
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &p, &err), -1);
    p = make_profile("relu f32 x[4]", "relu", 1);
    p.keep_w_bytes = -1;
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &p, &err), -1);
    p = make_profile("", "relu", 1);
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &p, &err), -1);
    p = make_profile("relu f32 x[4]", "", 1);
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &p, &err), -1);
    p = make_profile("relu f32 x[4]", "relu", 1);
    memset(p.kind, 'k', sizeof p.kind); /* unterminated */
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &p, &err), -1);
    ck_assert_int_eq(count_profiles(db, 0), 0);

    pp_db_link l = {.src_rank = -1, .dst_rank = 1, .alpha_s = 1e-6, .beta_Bps = 1e9};
    ck_assert_int_eq(pp_db_link_put(db, dev, &l, &err), -1);
    l.src_rank = 0;
    l.beta_Bps = INFINITY;
    ck_assert_int_eq(pp_db_link_put(db, dev, &l, &err), -1);
    l.beta_Bps = 1e9;
    snprintf(l.sizes_json, sizeof l.sizes_json, "[1,");
    ck_assert_int_eq(pp_db_link_put(db, dev, &l, &err), -1);
    ck_assert_int_eq(pp_db_link_put(db, dev + 100, &(pp_db_link){.beta_Bps = 1}, &err), -1);
    pp_db_link *links = NULL;
    int n = -1;
    ck_assert_int_eq(pp_db_links_list(db, 0, &links, &n, &err), 0);
    ck_assert_int_eq(n, 0);
    pp_db_close(db);
}
END_TEST

/* Profile puts join the caller's group like model puts. */
START_TEST(profile_group_rolls_back) {
    const char *p = tmp_path("profgroup.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    long long dev = put_device(db, "group dev", "{}");
    pp_db_op_profile a = make_profile("gelu f32 x[4,64,3072]", "gelu", 4);
    put_profile(db, dev, &a);
    ck_assert_int_eq(count_profiles(db, dev), 1);
    pp_db_op_profile bad = make_profile("gelu f32 x[4,64,3072]", "relu", 4);
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &bad, &err), -1);
    ck_assert_int_eq(pp_db_rollback(db, &err), 0);
    ck_assert_int_eq(count_profiles(db, 0), 0);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM devices"), 0);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM op_signatures"), 0);
}
END_TEST

#define PROFILES_PER_CHILD 300

static int child_writes_profiles(const char *path, int tag, int go_fd) {
    char c;
    if (read(go_fd, &c, 1) != 1) return 10;
    pp_db *db = NULL;
    pp_err err = {0};
    if (pp_db_open(path, &db, &err)) {
        fprintf(stderr, "child %d: %s\n", tag, err.msg);
        return 11;
    }
    char fp[65];
    pp_sha256_hex("shared device", 13, fp);
    long long dev = 0;
    if (pp_db_device_put(db, fp, "{\"cpu\": \"shared\"}", &dev, &err)) {
        fprintf(stderr, "child %d, device: %s\n", tag, err.msg);
        pp_db_close(db);
        return 12;
    }
    for (int i = 0; i < PROFILES_PER_CHILD; i++) {
        char sig[128];
        snprintf(sig, sizeof sig, "linear f32 x[%d,%d] w[64,64] child%d", tag + 1, i + 1, tag);
        pp_db_op_profile p = make_profile(sig, "linear", i + 1);
        if (pp_db_op_profile_put(db, dev, &p, &err)) {
            fprintf(stderr, "child %d, profile %d: %s\n", tag, i, err.msg);
            pp_db_close(db);
            return 13;
        }
    }
    pp_db_close(db);
    return 0;
}

START_TEST(two_processes_write_profiles_concurrently) {
    const char *p = tmp_path("concurrent-profiles.db");
    ck_assert(!file_exists(p));
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t pids[2];
    for (int k = 0; k < 2; k++) {
        fflush(NULL);
        pids[k] = fork();
        ck_assert_int_ge(pids[k], 0);
        if (pids[k] == 0) {
            close(go[1]);
            _exit(child_writes_profiles(p, k, go[0]));
        }
    }
    close(go[0]);
    ck_assert_int_eq(write(go[1], "xx", 2), 2);
    close(go[1]);
    for (int k = 0; k < 2; k++) {
        int status = 0;
        ck_assert_int_eq(waitpid(pids[k], &status, 0), pids[k]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed (status 0x%x)", k, status);
    }
    pp_db *db = open_ok(p);
    pp_db_op_profile *rows = NULL;
    int n = 0, per[2] = {0, 0};
    pp_err err = {0};
    ck_assert_int_eq(pp_db_op_profiles_list(db, 0, &rows, &n, &err), 0);
    ck_assert_int_eq(n, 2 * PROFILES_PER_CHILD);
    for (int i = 0; i < n; i++) {
        if (strstr(rows[i].signature, "child0")) per[0]++;
        if (strstr(rows[i].signature, "child1")) per[1]++;
        ck_assert_int_eq(rows[i].device_id, rows[0].device_id); /* one device, upserted by both */
    }
    ck_assert_int_eq(per[0], PROFILES_PER_CHILD);
    ck_assert_int_eq(per[1], PROFILES_PER_CHILD);
    pp_db_op_profiles_free(rows);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM devices"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(DISTINCT signature_id) FROM op_profiles"), 2 * PROFILES_PER_CHILD);
}
END_TEST

/* A process killed inside a transaction leaves the database as it was. */
START_TEST(killed_writer_leaves_database_intact) {
    const char *p = tmp_path("crash.db");
    pp_db *db = open_ok(p);
    long long dev = put_device(db, "crash device", "{}");
    pp_db_op_profile kept = make_profile("softmax f32 x[4,12,64,64]", "softmax", 1);
    put_profile(db, dev, &kept);
    pp_db_close(db);

    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        pp_db *cdb = NULL;
        pp_err cerr = {0};
        if (pp_db_open(p, &cdb, &cerr) || pp_db_begin(cdb, &cerr)) _exit(11);
        for (int i = 0; i < 100; i++) {
            char sig[64];
            snprintf(sig, sizeof sig, "doomed f32 x[%d]", i + 1);
            pp_db_op_profile d = make_profile(sig, "doomed", i + 1);
            if (pp_db_op_profile_put(cdb, dev, &d, &cerr)) _exit(12);
        }
        if (write(ready[1], "r", 1) != 1) _exit(13);
        for (;;) pause(); /* wait for SIGKILL, never commit */
    }
    close(ready[1]);
    char c = 0;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    db = open_ok(p);
    ck_assert_int_eq(pp_db_schema_version(db), PP_DB_SCHEMA_VERSION);
    ck_assert_int_eq(count_profiles(db, dev), 1);
    pp_db_op_profile out;
    int found = 0;
    pp_err err = {0};
    ck_assert_int_eq(pp_db_op_profile_get(db, dev, "doomed f32 x[1]", &out, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    ck_assert_int_eq(pp_db_op_profile_get(db, dev, kept.signature, &out, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    /* And the database still takes writes. */
    pp_db_op_profile after = make_profile("doomed f32 x[1]", "doomed", 1);
    put_profile(db, dev, &after);
    pp_db_close(db);
    char ok[64];
    raw_text(p, "PRAGMA integrity_check", ok, sizeof ok);
    ck_assert_str_eq(ok, "ok");
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM op_signatures WHERE kind = 'doomed'"), 1);
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

    TCase *prof = tcase_create("profiles");
    tcase_add_test(prof, migration_1_to_2_keeps_models);
    tcase_add_test(prof, profile_round_trip);
    tcase_add_test(prof, profile_replace_by_device_and_signature);
    tcase_add_test(prof, bad_profiles_are_refused);
    tcase_add_test(prof, profile_group_rolls_back);
    suite_add_tcase(s, prof);

    TCase *txn = tcase_create("transactions");
    tcase_add_test(txn, failed_group_leaves_database_unchanged);
    tcase_add_test(txn, nested_transactions);
    tcase_add_test(txn, uncommitted_writes_are_invisible);
    suite_add_tcase(s, txn);

    TCase *conc = tcase_create("concurrency");
    tcase_set_timeout(conc, 120);
    tcase_add_test(conc, two_processes_write_concurrently);
    tcase_add_test(conc, two_processes_write_profiles_concurrently);
    tcase_add_test(conc, killed_writer_leaves_database_intact);
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
