/*
 * test_db.c -- the SQLite layer (db/pp_db.h): migrations on a fresh file,
 * WAL, idempotent reopen, typed put/list/get round trips, upsert by hash,
 * all-or-nothing transaction groups, refusal of newer-schema, non-SQLite and
 * foreign databases without touching them, read-only opening, and two
 * processes writing one database at once; profiles (schema version 2):
 * the upgrade of a version-1 file, device/op-profile/link round trips and
 * replacement, two processes writing profiles at once, and a writer killed
 * inside a transaction leaving the database intact; runs (schema version 3):
 * the upgrade of a version-2 file, run/step/rank/event round trips (NaN
 * losses, 120k events), refusal of each bad field, all-or-nothing puts alone
 * and inside a group, newest-first listing and cascading deletes.
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
#include "core/pp_sched.h"
#include "core/pp_trace.h"
#include "db/pp_db.h"

static void remove_dir(const char *dir);
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

/* A user who may not write the database or its folder reads it, and
 * leaves it as it was: no -wal or -shm file beside it. Needs root, to
 * become the user nobody (65534) in a child process; the name has bytes a
 * "file:" URI must escape. */
static int nobody_counts_models(const char *path, const char *dir) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (setgid(65534) || setuid(65534)) _exit(10);
        pp_db *db = NULL;
        pp_err err = {0};
        if (pp_db_open_readonly(path, &db, &err)) {
            fprintf(stderr, "as nobody: %s\n", err.msg);
            _exit(11);
        }
        pp_db_model_row *rows = NULL;
        int n = -1;
        if (pp_db_models_list(db, &rows, &n, &err)) _exit(12);
        pp_db_model_rows_free(rows, n);
        pp_db_close(db);
        /* The same through a path relative to the folder. */
        const char *base = strrchr(path, '/') + 1;
        if (chdir(dir) || pp_db_open_readonly(base, &db, &err)) _exit(13);
        pp_db_close(db);
        _exit(n == 1 ? 0 : 14);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

START_TEST(readonly_open_by_another_user) {
    if (getuid() != 0) {
        /* ctest's skip code: this case runs alone (db_test_db_other_user). */
        printf("readonly_open_by_another_user: skipped (needs root to become another user)\n");
        fflush(stdout);
        remove_dir(g_dir);
        _exit(77);
    }
    ck_assert_int_eq(chmod(g_dir, 0755), 0);
    const char *dir = tmp_path("ro-other");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char path[600], wal[620], shm[620];
    snprintf(path, sizeof path, "%s/a b?c%%d#e.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    pp_db *db = open_ok(path);
    put_model(db, "m1", "gpt2", "other-1", 1);
    pp_db_close(db);
    ck_assert(!file_exists(wal) && !file_exists(shm));
    ck_assert_int_eq(chmod(path, 0444), 0);
    size_t l0, l1;
    char *before = slurp(path, &l0);
    /* The folder closed to the reader, then open to it. */
    ck_assert_int_eq(nobody_counts_models(path, dir), 0);
    ck_assert_int_eq(chmod(dir, 0777), 0);
    ck_assert_int_eq(nobody_counts_models(path, dir), 0);
    ck_assert_msg(!file_exists(wal) && !file_exists(shm), "the reader left -wal or -shm files");
    char *after = slurp(path, &l1);
    ck_assert(l0 == l1 && !memcmp(before, after, l0));
    free(before);
    free(after);
    /* Writing is still refused for that user (pp_db_open), file unchanged. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (setgid(65534) || setuid(65534)) _exit(10);
        pp_db *w = NULL;
        pp_err err = {0};
        _exit(pp_db_open(path, &w, &err) == -1 && !w ? 0 : 1);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert(!file_exists(wal) && !file_exists(shm));
    chmod(path, 0644);
    unlink(path);
    rmdir(dir);
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
                      strstr(err.msg, "storing model 'm'") && strstr(err.msg, "pp_db_plans.c:"),
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
        p.m.t[k] = x * 1e-6 * (k + 1);
        p.m.spread[k] = x * 1e-8 * (k + 2);
        p.m.samples[k] = (int)x + k;
    }
    p.m.param_bytes = (long long)(x * 1000);
    p.m.keep_f_bytes = (long long)(x * 2000);
    p.m.keep_w_bytes = (long long)(x * 3000);
    p.m.workspace_bytes = 1LL << 33; /* above 32 bits */
    return p;
}

static void assert_profile_eq(const pp_db_op_profile *a, const pp_db_op_profile *b) {
    ck_assert_str_eq(a->signature, b->signature);
    ck_assert_str_eq(a->kind, b->kind);
    for (int k = 0; k < 3; k++) {
        ck_assert(a->m.t[k] == b->m.t[k]); /* REAL keeps a double exactly */
        ck_assert(a->m.spread[k] == b->m.spread[k]);
        ck_assert_int_eq(a->m.samples[k], b->m.samples[k]);
    }
    ck_assert_int_eq(a->m.param_bytes, b->m.param_bytes);
    ck_assert_int_eq(a->m.keep_f_bytes, b->m.keep_f_bytes);
    ck_assert_int_eq(a->m.keep_w_bytes, b->m.keep_w_bytes);
    ck_assert_int_eq(a->m.workspace_bytes, b->m.workspace_bytes);
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
    p.m.t[1] = -1;
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &p, &err), -1);
    p.m.t[1] = NAN;
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &p, &err), -1);
    p = make_profile("relu f32 x[4]", "relu", 1);
    p.m.samples[2] = -3;
    ck_assert_int_eq(pp_db_op_profile_put(db, dev, &p, &err), -1);
    p = make_profile("relu f32 x[4]", "relu", 1);
    p.m.keep_w_bytes = -1;
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

/* ---- Runs (schema version 3) ---------------------------------------------- */

/* Migration 2 as pippy wrote it, verbatim: with V1_SCHEMA it makes a version-2
 * database. */
static const char *const V2_MIGRATION =
    "BEGIN;\n"
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
    ") STRICT;\n"
    "PRAGMA user_version = 2;\n"
    "COMMIT;\n";

/* A valid run whose numbers all derive from x, so a round trip can be checked
 * field by field: 2 x 2 ranks, steps [first_step, first_step + 3). */
static pp_db_run make_run(const char *seed, double x) {
    pp_db_run r;
    memset(&r, 0, sizeof r);
    hash_of(seed, r.plan_hash);
    snprintf(r.model, sizeof r.model, "gpt2-%s", seed);
    snprintf(r.schedule, sizeof r.schedule, "zb1p");
    snprintf(r.status, sizeof r.status, "ok");
    r.pp = 2;
    r.dp = 2;
    r.n_ranks = 4;
    r.global_batch = 32;
    r.micro_batch = 2;
    r.n_microbatches = 8;
    r.seq_len = 128;
    r.first_step = 100;
    r.steps = 3;
    r.tokens_per_s = 1234.5 * x;
    r.iteration_s = 0.125 * x + 1e-9;
    r.predicted_iteration_s = 0.1 * x + 3e-9;
    r.final_loss = 2.5 / x + 1e-7;
    return r;
}

/* Three steps, given out of order, one with a NaN loss and grad norm. */
static void make_steps(pp_db_run_step s[3]) {
    s[0] = (pp_db_run_step){.step = 102, .loss = 3.25, .grad_norm = 0.5, .seconds = 0.130000001};
    s[1] = (pp_db_run_step){.step = 100, .loss = 4.0 + 1e-12, .grad_norm = 1.75, .seconds = 0.2};
    s[2] = (pp_db_run_step){.step = 101, .loss = NAN, .grad_norm = NAN, .seconds = 0.125};
}

/* Ranks 3, 0, 2 (rank 1 not reported), peak above 32 bits. */
static void make_ranks(pp_run_rank k[3]) {
    memset(k, 0, 3 * sizeof *k);
    const int ids[3] = {3, 0, 2};
    for (int i = 0; i < 3; i++) {
        k[i].rank = ids[i];
        snprintf(k[i].host, sizeof k[i].host, "node%d.example", ids[i] / 2);
        k[i].peak_bytes = (5LL << 32) + ids[i];
        k[i].busy_s = 0.3 + ids[i] * 0.01;
    }
}

/* Event i of n, its fields all derived from i: steps 100..102, ranks 0..3,
 * every stream and action, stage/mb -1 sometimes, exact-double times. */
static pp_run_event make_event(long long i) {
    pp_run_event e;
    memset(&e, 0, sizeof e);
    e.step = 100 + (int)(i % 3);
    e.ev.rank = (int)((i / 3) % 4);
    e.ev.stream = (int)((i / 12) % PP_STREAM__COUNT); /* varies within one (step, rank) */
    e.ev.action = (int)(i % PP_ACT__COUNT);
    e.ev.stage = (int)(i % 5) - 1;
    e.ev.mb = (int)(i % 7) - 1;
    e.ev.start = (double)i * 1e-6 + 1.0 / 3.0;
    e.ev.end = e.ev.start + (double)(i % 11) * 1e-7;
    e.ev.bytes = (i % 2) ? (long long)i << 20 : 0;
    return e;
}

static void assert_run_eq(const pp_db_run *a, const pp_db_run *b) {
    ck_assert_int_eq(a->id, b->id);
    ck_assert_str_eq(a->plan_hash, b->plan_hash);
    ck_assert_str_eq(a->model, b->model);
    ck_assert_str_eq(a->schedule, b->schedule);
    ck_assert_str_eq(a->status, b->status);
    ck_assert_str_eq(a->message, b->message);
    ck_assert_str_eq(a->created_at, b->created_at);
    ck_assert_int_eq(a->pp, b->pp);
    ck_assert_int_eq(a->dp, b->dp);
    ck_assert_int_eq(a->n_ranks, b->n_ranks);
    ck_assert_int_eq(a->global_batch, b->global_batch);
    ck_assert_int_eq(a->micro_batch, b->micro_batch);
    ck_assert_int_eq(a->n_microbatches, b->n_microbatches);
    ck_assert_int_eq(a->seq_len, b->seq_len);
    ck_assert_int_eq(a->first_step, b->first_step);
    ck_assert_int_eq(a->steps, b->steps);
    ck_assert(a->tokens_per_s == b->tokens_per_s); /* REAL keeps a double exactly */
    ck_assert(a->iteration_s == b->iteration_s);
    ck_assert(a->predicted_iteration_s == b->predicted_iteration_s);
    ck_assert(a->final_loss == b->final_loss || (isnan(a->final_loss) && isnan(b->final_loss)));
}

static void assert_event_eq(const pp_run_event *a, const pp_run_event *b) {
    ck_assert_int_eq(a->step, b->step);
    ck_assert_int_eq(a->ev.rank, b->ev.rank);
    ck_assert_int_eq(a->ev.stream, b->ev.stream);
    ck_assert_int_eq(a->ev.action, b->ev.action);
    ck_assert_int_eq(a->ev.stage, b->ev.stage);
    ck_assert_int_eq(a->ev.mb, b->ev.mb);
    ck_assert(a->ev.start == b->ev.start);
    ck_assert(a->ev.end == b->ev.end);
    ck_assert_int_eq(a->ev.bytes, b->ev.bytes);
}

/* Orders events as pp_db_run_events promises: step, rank, stream, start, end. */
static int event_cmp(const void *pa, const void *pb) {
    const pp_run_event *a = pa, *b = pb;
    if (a->step != b->step) return a->step < b->step ? -1 : 1;
    if (a->ev.rank != b->ev.rank) return a->ev.rank < b->ev.rank ? -1 : 1;
    if (a->ev.stream != b->ev.stream) return a->ev.stream < b->ev.stream ? -1 : 1;
    if (a->ev.start != b->ev.start) return a->ev.start < b->ev.start ? -1 : 1;
    if (a->ev.end != b->ev.end) return a->ev.end < b->ev.end ? -1 : 1;
    return 0;
}

static long long put_run(pp_db *db, pp_db_run *r, const pp_db_run_step *s, int ns, const pp_run_rank *k, int nk,
                         const pp_run_event *ev, long long ne) {
    pp_err err = {0};
    ck_assert_msg(pp_db_run_put(db, r, s, ns, k, nk, ev, ne, &err) == 0, "run_put: %s", err.msg);
    ck_assert_int_gt(r->id, 0);
    return r->id;
}

static int count_runs(pp_db *db) {
    pp_db_run *rows = NULL;
    int n = -1;
    pp_err err = {0};
    ck_assert_msg(pp_db_runs_list(db, &rows, &n, &err) == 0, "%s", err.msg);
    ck_assert(n > 0 || rows == NULL);
    free(rows);
    return n;
}

/* Rows in the three child tables, read behind pp_db's back. */
static long long raw_run_rows(const char *p) {
    return raw_int(p, "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM run_steps) + "
                      "(SELECT count(*) FROM run_ranks) + (SELECT count(*) FROM run_events)");
}

START_TEST(migration_2_to_3_keeps_profiles) {
    const char *p = tmp_path("v2.db");
    raw_exec(p, V1_SCHEMA);
    raw_exec(p, V2_MIGRATION);
    char h[65], ph[65], fp[65];
    hash_of("v2 model", h);
    hash_of("v2 plan", ph);
    hash_of("v2 device", fp);
    char sql[2048];
    snprintf(sql, sizeof sql,
             "INSERT INTO models (name, family, hash, n_params, config_json) VALUES ('old', 'gpt2', '%s', 42, '{}');"
             "INSERT INTO plans (name, plan_hash, model_hash, n_ranks, schedule, plan_json) "
             "VALUES ('old-plan', '%s', '%s', 2, '1f1b', '{}');"
             "INSERT INTO devices (fingerprint, description_json) VALUES ('%s', '{\"cpu\": \"old\"}');"
             "INSERT INTO op_signatures (signature, kind) VALUES ('linear f32 x[2]', 'linear');"
             "INSERT INTO op_profiles (device_id, signature_id, f_s, i_s, w_s, f_spread, i_spread, w_spread, "
             "f_samples, i_samples, w_samples, param_bytes, keep_f_bytes, keep_w_bytes, workspace_bytes) "
             "VALUES (1, 1, 0.5, 0.25, 0.125, 0, 0, 0, 3, 3, 3, 8, 16, 32, 0);"
             "INSERT INTO links (device_id, src_rank, dst_rank, src_host, dst_host, alpha_s, beta_Bps, residual, "
             "sizes_json) VALUES (1, 0, 1, 'a', 'b', 1e-5, 1e10, 0.01, '[1024]');",
             h, ph, h, fp);
    raw_exec(p, sql);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), 2);

    /* Read-only: still version 2, runs read as empty, nothing changes. */
    pp_db *db = NULL;
    pp_err err = {0};
    ck_assert_msg(pp_db_open_readonly(p, &db, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_db_schema_version(db), 2);
    ck_assert_int_eq(count_profiles(db, 0), 1);
    ck_assert_int_eq(count_runs(db), 0);
    pp_db_run run;
    int found = -1;
    ck_assert_int_eq(pp_db_run_get(db, 1, &run, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    pp_db_run_step *steps = (pp_db_run_step *)1;
    pp_run_event *evs = (pp_run_event *)1;
    int n = -1;
    long long ne = -1;
    ck_assert_int_eq(pp_db_run_steps(db, 1, &steps, &n, &err), 0);
    ck_assert(steps == NULL && n == 0);
    ck_assert_int_eq(pp_db_run_events(db, 1, -1, &evs, &ne, &err), 0);
    ck_assert(evs == NULL && ne == 0);
    ne = -1;
    ck_assert_int_eq(pp_db_run_event_count(db, 1, &ne, &err), 0);
    ck_assert_int_eq(ne, 0);
    pp_db_run r = make_run("ro", 1);
    ck_assert_int_eq(pp_db_run_put(db, &r, NULL, 0, NULL, 0, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "read-only"));
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), 2);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'run%'"), 0);

    /* Read-write: migrated to 3, every version-2 row kept as it was. */
    db = open_ok(p);
    ck_assert_int_eq(pp_db_schema_version(db), PP_DB_SCHEMA_VERSION);
    ck_assert_int_eq(count_models(db), 1);
    ck_assert_int_eq(count_plans(db), 1);
    pp_db_op_profile prof;
    ck_assert_int_eq(pp_db_op_profile_get(db, 1, "linear f32 x[2]", &prof, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert(prof.m.t[0] == 0.5 && prof.m.t[2] == 0.125 && prof.m.keep_w_bytes == 32);
    pp_db_link *links = NULL;
    ck_assert_int_eq(pp_db_links_list(db, 0, &links, &n, &err), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(links[0].dst_host, "b");
    ck_assert(links[0].beta_Bps == 1e10);
    pp_db_links_free(links);
    r = make_run("after migration", 1);
    long long id = put_run(db, &r, NULL, 0, NULL, 0, NULL, 0);
    ck_assert_int_eq(count_runs(db), 1);
    pp_db_close(db);
    ck_assert_int_eq(id, 1);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), PP_DB_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                                "('runs', 'run_steps', 'run_ranks', 'run_events')"),
                     4);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                                "AND name = 'run_events_by_step'"),
                     1);
    char ok[64];
    raw_text(p, "PRAGMA integrity_check", ok, sizeof ok);
    ck_assert_str_eq(ok, "ok");
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}
END_TEST

/* The schema version 3 pippy wrote: migration 3, verbatim, in a transaction. */
static const char *const V3_MIGRATION =
    "BEGIN;\n"
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
    "CREATE INDEX run_events_by_step ON run_events (run_id, step, rank);\n"
    "PRAGMA user_version = 3;\n"
    "COMMIT;\n";


START_TEST(migration_3_to_4_keeps_runs) {
    const char *p = tmp_path("v3.db");
    raw_exec(p, V1_SCHEMA);
    raw_exec(p, V2_MIGRATION);
    raw_exec(p, V3_MIGRATION);
    char h[65], sql[2048];
    hash_of("v3 run", h);
    snprintf(sql, sizeof sql,
             "INSERT INTO runs (plan_hash, model, schedule, pp, dp, n_ranks, global_batch, micro_batch, "
             "n_microbatches, seq_len, first_step, steps, status, message, tokens_per_s, iteration_s) VALUES "
             "('%s', 'm', '1f1b', 2, 1, 2, 8, 1, 8, 64, 0, 2, 'failed', 'rank 1 died', 10, 0.5),"
             "('%s', 'm', '1f1b', 2, 1, 2, 8, 1, 8, 64, 0, 3, 'ok', '', 11, 0.25);"
             "INSERT INTO run_steps (run_id, step, loss, grad_norm, seconds) VALUES (1, 0, 5, 1, 0.5), (2, 0, 5, 1, 0.25),"
             " (2, 1, 4, 1, 0.25);"
             "INSERT INTO run_ranks (run_id, rank, host, peak_bytes, busy_s) VALUES (2, 0, 'h', 100, 0.2);"
             "INSERT INTO run_events (run_id, step, rank, stream, action, stage, mb, start_s, end_s, bytes) "
             "VALUES (2, 0, 0, 0, 0, 0, 0, 0.0, 0.1, 0);",
             h, h);
    raw_exec(p, sql);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), 3);

    pp_db *db = open_ok(p);
    ck_assert_int_eq(pp_db_schema_version(db), PP_DB_SCHEMA_VERSION);
    ck_assert_int_eq(count_runs(db), 2);
    pp_db_run run;
    int found = 0;
    pp_err err = {0};
    ck_assert_int_eq(pp_db_run_get(db, 1, &run, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(run.status, "failed");
    ck_assert_str_eq(run.message, "rank 1 died");
    /* The rows that reference the rebuilt table survived its drop. */
    pp_db_run_step *steps = NULL;
    int n = 0;
    ck_assert_int_eq(pp_db_run_steps(db, 2, &steps, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    free(steps);
    long long ne = 0;
    ck_assert_int_eq(pp_db_run_event_count(db, 2, &ne, &err), 0);
    ck_assert_int_eq(ne, 1);
    /* Interrupted is a status now, with its message; anything else is not. */
    pp_db_run r = make_run("interrupted", 1);
    snprintf(r.status, sizeof r.status, "interrupted");
    ck_assert_int_eq(pp_db_run_put(db, &r, NULL, 0, NULL, 0, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "needs a message"));
    snprintf(r.message, sizeof r.message, "interrupted by SIGTERM to pippy run after 1 step");
    long long id = put_run(db, &r, NULL, 0, NULL, 0, NULL, 0);
    ck_assert_int_eq(id, 3);
    snprintf(r.status, sizeof r.status, "paused");
    ck_assert_int_eq(pp_db_run_put(db, &r, NULL, 0, NULL, 0, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "status must be"));
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), PP_DB_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM run_steps"), 3);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM run_ranks"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'runs_by_plan'"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM runs WHERE status = 'interrupted'"), 1);
}
END_TEST

/* The schema version 4 pippy wrote: migration 4, verbatim, in a transaction. */
static const char *const V4_MIGRATION =
    "BEGIN;\n"
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
    "    predicted_iteration_s REAL    CHECK (predicted_iteration_s > 0),\n"
    "    final_loss            REAL,\n"
    "    created_at            TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "INSERT INTO runs_v4 SELECT * FROM runs;\n"
    "DROP TABLE runs;\n"
    "ALTER TABLE runs_v4 RENAME TO runs;\n"
    "CREATE INDEX runs_by_plan ON runs (plan_hash);\n"
    "PRAGMA user_version = 4;\n"
    "COMMIT;\n";

/* What a version 4 database held: one op and the three pseudo-rows pippy
 * profile wrote into op_profiles (a whole step, the optimizer, all-reduces
 * over 4 ranks on device 1 and 2 ranks on device 2). */
static const char *const V4_PSEUDO_ROWS =
    "INSERT INTO devices (fingerprint, description_json) VALUES "
    "('1111111111111111111111111111111111111111111111111111111111111111', '{\"cpu\": \"a\"}'),"
    "('2222222222222222222222222222222222222222222222222222222222222222', '{\"cpu\": \"b\"}');"
    "INSERT INTO op_signatures (signature, kind) VALUES ('linear f32 x[4,64,768] w[2304,768] b', 'linear'),"
    "('step 0123456789abcdef 12 ops', 'step'), ('optim adamw f32 per-parameter', 'optim'),"
    "('allreduce f32 over 4 ranks', 'allreduce'), ('allreduce f32 over 2 ranks', 'allreduce');"
    "INSERT INTO op_profiles (device_id, signature_id, f_s, i_s, w_s, f_spread, i_spread, w_spread, f_samples, "
    "i_samples, w_samples, param_bytes, keep_f_bytes, keep_w_bytes, workspace_bytes, measured_at) VALUES "
    "(1, 1, 0.001, 0.002, 0.003, 0, 0, 0, 20, 21, 22, 1, 2, 3, 0, '2026-01-01T00:00:00Z'),"
    "(1, 2, 0.0125, 0.01, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, '2026-01-02T00:00:00Z'),"
    "(1, 3, 2.5e-9, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, '2026-01-03T00:00:00Z'),"
    "(1, 4, 5e-6, 5e-10, 0.01, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, '2026-01-04T00:00:00Z'),"
    "(2, 5, 3e-6, 0, 0.02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, '2026-01-05T00:00:00Z');";

/* What a version 4 database with V4_PSEUDO_ROWS reads as, whatever its schema. */
static void assert_v4_rows_read(pp_db *db) {
    pp_err err = {0};
    int found = 0, n = -1, nd = -1, nop = -1, nl = -1;
    ck_assert_int_eq(count_profiles(db, 0), 1); /* the op, not the pseudo-rows */
    ck_assert_int_eq(pp_db_profile_counts(db, &nd, &nop, &nl, &err), 0);
    ck_assert(nd == 2 && nop == 1 && nl == 0);
    pp_db_op_profile op;
    ck_assert_int_eq(pp_db_op_profile_get(db, 1, "step 0123456789abcdef 12 ops", &op, &found, &err), 0);
    ck_assert_int_eq(found, 0);

    pp_db_step_profile sp;
    ck_assert_msg(pp_db_step_profile_get(db, 1, "0123456789abcdef", 12, &sp, &found, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(sp.graph_hash, "0123456789abcdef");
    ck_assert_int_eq(sp.n_ops, 12);
    ck_assert(sp.whole_s == 0.0125 && sp.sum_ops_s == 0.01);
    ck_assert_int_eq(sp.samples, 5);
    ck_assert_str_eq(sp.measured_at, "2026-01-02T00:00:00Z");
    ck_assert_int_eq(pp_db_step_profile_get(db, 1, "0123456789abcdef", 11, &sp, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    ck_assert_int_eq(pp_db_step_profile_get(db, 2, "0123456789abcdef", 12, &sp, &found, &err), 0);
    ck_assert_int_eq(found, 0);

    pp_db_optim_profile o;
    ck_assert_int_eq(pp_db_optim_profile_get(db, 1, "adamw", "f32", &o, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert(o.s_per_param == 2.5e-9);
    ck_assert_int_eq(o.samples, 5);
    ck_assert_int_eq(o.device_id, 1);

    pp_db_collective_profile *c = NULL;
    ck_assert_int_eq(pp_db_collective_profiles_list(db, 0, &c, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(c[0].device_id, 1);
    ck_assert_str_eq(c[0].op, "allreduce");
    ck_assert_str_eq(c[0].dtype, "f32");
    ck_assert_int_eq(c[0].n_ranks, 4);
    ck_assert(c[0].alpha_s == 5e-6);
    ck_assert_double_eq_tol(c[0].beta_Bps, 2e9, 1e-3);
    ck_assert(c[0].residual == 0.01);
    ck_assert_int_eq(c[0].samples, 1);
    ck_assert_int_eq(c[1].device_id, 2);
    ck_assert_int_eq(c[1].n_ranks, 2);
    ck_assert(c[1].beta_Bps == 0); /* not measured */
    free(c);
    ck_assert_int_eq(pp_db_collective_profiles_list(db, 2, &c, &n, &err), 0);
    ck_assert_int_eq(n, 1);
    free(c);
}

START_TEST(migration_4_to_5_moves_pseudo_rows) {
    const char *p = tmp_path("v4.db");
    raw_exec(p, V1_SCHEMA);
    raw_exec(p, V2_MIGRATION);
    raw_exec(p, V3_MIGRATION);
    raw_exec(p, V4_MIGRATION);
    raw_exec(p, V4_PSEUDO_ROWS);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), 4);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM op_profiles"), 5);

    /* Read-only: still version 4, the pseudo-rows read as records. */
    pp_db *db = NULL;
    pp_err err = {0};
    ck_assert_msg(pp_db_open_readonly(p, &db, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_db_schema_version(db), 4);
    assert_v4_rows_read(db);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), 4);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM op_profiles"), 5);

    /* Read-write: migrated, the pseudo-rows moved out of op_profiles, every
     * figure read as before. */
    db = open_ok(p);
    ck_assert_int_eq(pp_db_schema_version(db), PP_DB_SCHEMA_VERSION);
    assert_v4_rows_read(db);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "PRAGMA user_version"), 5);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM op_profiles"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM op_signatures"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM step_profiles"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM optim_profiles"), 1);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM collective_profiles"), 2);
    ck_assert_int_eq(raw_int(p, "SELECT f_samples FROM op_profiles"), 20); /* the op untouched */
    char ok[64];
    raw_text(p, "PRAGMA integrity_check", ok, sizeof ok);
    ck_assert_str_eq(ok, "ok");
}
END_TEST

START_TEST(pseudo_tables_round_trip) {
    const char *p = tmp_path("pseudo.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    long long a = put_device(db, "dev a", "{\"cpu\": \"a\"}"), b = put_device(db, "dev b", "{\"cpu\": \"b\"}");
    pp_db_step_profile s = {.graph_hash = "00112233445566ff", .n_ops = 7, .whole_s = 0.3, .sum_ops_s = 0.25,
                            .samples = 5};
    ck_assert_msg(pp_db_step_profile_put(db, b, &s, &err) == 0, "%s", err.msg);
    s.whole_s = 0.35; /* replaces, keeping the row */
    snprintf(s.measured_at, sizeof s.measured_at, "2026-02-03T04:05:06Z");
    ck_assert_int_eq(pp_db_step_profile_put(db, b, &s, &err), 0);
    s.n_ops = 8; /* another graph */
    ck_assert_int_eq(pp_db_step_profile_put(db, a, &s, &err), 0);
    pp_db_step_profile *sl = NULL;
    int n = 0, found = 0;
    ck_assert_int_eq(pp_db_step_profiles_list(db, 0, &sl, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(sl[0].device_id, a); /* by device */
    ck_assert_int_eq(sl[1].device_id, b);
    ck_assert_int_eq(sl[1].n_ops, 7);
    ck_assert(sl[1].whole_s == 0.35 && sl[1].sum_ops_s == 0.25);
    ck_assert_str_eq(sl[1].measured_at, "2026-02-03T04:05:06Z");
    free(sl);
    ck_assert_int_eq(raw_int(p, "SELECT id FROM step_profiles WHERE n_ops = 7"), 1);

    pp_db_optim_profile o = {.optimizer = "adamw", .dtype = "f32", .s_per_param = 1.5e-9, .samples = 3};
    ck_assert_int_eq(pp_db_optim_profile_put(db, a, &o, &err), 0);
    o.s_per_param = 1.25e-9;
    ck_assert_int_eq(pp_db_optim_profile_put(db, a, &o, &err), 0);
    pp_db_optim_profile og;
    ck_assert_int_eq(pp_db_optim_profile_get(db, a, "adamw", "f32", &og, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert(og.s_per_param == 1.25e-9);
    ck_assert_int_eq(og.samples, 3);
    ck_assert_int_eq((int)strlen(og.measured_at), 20); /* now, set by the database */
    ck_assert_int_eq(pp_db_optim_profile_get(db, b, "adamw", "f32", &og, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    ck_assert_int_eq(pp_db_optim_profile_get(db, a, "sgd", "f32", &og, &found, &err), 0);
    ck_assert_int_eq(found, 0);

    pp_db_collective_profile c = {.op = "allreduce", .dtype = "f32", .n_ranks = 8, .alpha_s = 7e-6,
                                  .beta_Bps = 12.5e9, .residual = 0.03, .samples = 1};
    ck_assert_int_eq(pp_db_collective_profile_put(db, a, &c, &err), 0);
    pp_db_collective_profile cg;
    ck_assert_int_eq(pp_db_collective_profile_get(db, a, "allreduce", "f32", 8, &cg, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert(cg.alpha_s == 7e-6 && cg.beta_Bps == 12.5e9 && cg.residual == 0.03);
    ck_assert_int_eq(pp_db_collective_profile_get(db, a, "allreduce", "f32", 4, &cg, &found, &err), 0);
    ck_assert_int_eq(found, 0);

    /* A group that fails leaves none of its records. */
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    c.n_ranks = 16;
    ck_assert_int_eq(pp_db_collective_profile_put(db, a, &c, &err), 0);
    c.beta_Bps = -1;
    ck_assert_int_eq(pp_db_collective_profile_put(db, a, &c, &err), -1);
    ck_assert_int_eq(pp_db_rollback(db, NULL), 0);
    pp_db_collective_profile *cl = NULL;
    ck_assert_int_eq(pp_db_collective_profiles_list(db, a, &cl, &n, &err), 0);
    ck_assert_int_eq(n, 1);
    free(cl);
    pp_db_close(db);
}
END_TEST

/* err.msg holds want; the call returned -1. */
#define REFUSED(call, want)                                                                                  \
    do {                                                                                                     \
        err.msg[0] = '\0';                                                                                   \
        ck_assert_int_eq((call), -1);                                                                        \
        ck_assert_msg(strstr(err.msg, want) != NULL, "wanted '%s' in: %s", want, err.msg);                   \
    } while (0)

START_TEST(bad_pseudo_records_are_refused) {
    const char *p = tmp_path("badpseudo.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    long long d = put_device(db, "dev", "{\"cpu\": \"a\"}");
    pp_db_step_profile s = {.graph_hash = "00112233445566ff", .n_ops = 7, .whole_s = 0.3, .sum_ops_s = 0.25};
    pp_db_step_profile t = s;
    snprintf(t.graph_hash, sizeof t.graph_hash, "00112233445566FF");
    REFUSED(pp_db_step_profile_put(db, d, &t, &err), "graph_hash");
    t = s;
    t.n_ops = 0;
    REFUSED(pp_db_step_profile_put(db, d, &t, &err), "n_ops 0");
    t = s;
    t.whole_s = NAN;
    REFUSED(pp_db_step_profile_put(db, d, &t, &err), "whole_s");
    t = s;
    t.sum_ops_s = -1;
    REFUSED(pp_db_step_profile_put(db, d, &t, &err), "sum_ops_s");
    t = s;
    t.samples = -1;
    REFUSED(pp_db_step_profile_put(db, d, &t, &err), "samples");
    REFUSED(pp_db_step_profile_put(db, d + 10, &s, &err), "is not stored");

    pp_db_optim_profile o = {.optimizer = "adamw", .dtype = "f32", .s_per_param = 1e-9};
    pp_db_optim_profile q = o;
    q.optimizer[0] = '\0';
    REFUSED(pp_db_optim_profile_put(db, d, &q, &err), "optimizer");
    q = o;
    q.dtype[0] = '\0';
    REFUSED(pp_db_optim_profile_put(db, d, &q, &err), "dtype");
    q = o;
    q.s_per_param = INFINITY;
    REFUSED(pp_db_optim_profile_put(db, d, &q, &err), "s_per_param");

    pp_db_collective_profile c = {.op = "allreduce", .dtype = "f32", .n_ranks = 2, .alpha_s = 1e-6, .beta_Bps = 1e9};
    pp_db_collective_profile e = c;
    e.n_ranks = 1;
    REFUSED(pp_db_collective_profile_put(db, d, &e, &err), "n_ranks 1");
    e = c;
    e.alpha_s = -1e-6;
    REFUSED(pp_db_collective_profile_put(db, d, &e, &err), "alpha_s");
    e = c;
    e.beta_Bps = INFINITY;
    REFUSED(pp_db_collective_profile_put(db, d, &e, &err), "beta_Bps");
    e = c;
    e.residual = NAN;
    REFUSED(pp_db_collective_profile_put(db, d, &e, &err), "residual");
    e = c;
    e.op[0] = '\0';
    REFUSED(pp_db_collective_profile_put(db, d, &e, &err), "op is empty");

    /* The pseudo-rows of old are refused as op profiles. */
    pp_db_op_profile op = make_profile("step 00112233445566ff 7 ops", "step", 1);
    REFUSED(pp_db_op_profile_put(db, d, &op, &err), "kind 'step' is not an op");
    op = make_profile("allreduce f32 over 2 ranks", "allreduce", 1);
    REFUSED(pp_db_op_profile_put(db, d, &op, &err), "not an op");
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "SELECT (SELECT count(*) FROM step_profiles) + (SELECT count(*) FROM optim_profiles) "
                                "+ (SELECT count(*) FROM collective_profiles) + (SELECT count(*) FROM op_profiles)"),
                     0);
}
END_TEST

START_TEST(run_round_trip) {
    const char *p = tmp_path("runs.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    pp_db_run r = make_run("round trip", 3);
    pp_db_run_step s[3];
    pp_run_rank k[3];
    make_steps(s);
    make_ranks(k);
    enum { NE = 300 };
    pp_run_event ev[NE];
    for (int i = 0; i < NE; i++) ev[i] = make_event(NE - 1 - i); /* stored out of order */
    long long id = put_run(db, &r, s, 3, k, 3, ev, NE);
    ck_assert_int_eq(strlen(r.created_at), 20); /* "YYYY-MM-DDTHH:MM:SSZ", set by put */
    ck_assert_int_eq(r.created_at[10], 'T');

    pp_db_run got;
    int found = -1;
    ck_assert_int_eq(pp_db_run_get(db, id, &got, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    assert_run_eq(&got, &r);

    /* Steps by step; NaN loss and grad norm come back as NaN. */
    pp_db_run_step *gs = NULL;
    int n = 0;
    ck_assert_int_eq(pp_db_run_steps(db, id, &gs, &n, &err), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(gs[0].step, 100);
    ck_assert(gs[0].loss == s[1].loss && gs[0].grad_norm == 1.75 && gs[0].seconds == 0.2);
    ck_assert_int_eq(gs[1].step, 101);
    ck_assert(isnan(gs[1].loss) && isnan(gs[1].grad_norm) && gs[1].seconds == 0.125);
    ck_assert_int_eq(gs[2].step, 102);
    ck_assert(gs[2].loss == 3.25 && gs[2].grad_norm == 0.5 && gs[2].seconds == 0.130000001);
    free(gs);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM run_steps WHERE loss IS NULL AND grad_norm IS NULL"), 1);

    /* Ranks by rank. */
    pp_run_rank *gk = NULL;
    ck_assert_int_eq(pp_db_run_ranks(db, id, &gk, &n, &err), 0);
    ck_assert_int_eq(n, 3);
    const int want_rank[3] = {0, 2, 3};
    for (int i = 0; i < 3; i++) {
        const pp_run_rank *w = NULL;
        for (int j = 0; j < 3; j++)
            if (k[j].rank == want_rank[i]) w = &k[j];
        ck_assert_int_eq(gk[i].rank, want_rank[i]);
        ck_assert_str_eq(gk[i].host, w->host);
        ck_assert_int_eq(gk[i].peak_bytes, w->peak_bytes);
        ck_assert(gk[i].busy_s == w->busy_s);
    }
    free(gk);

    /* Events: all of them sorted, and one step's alone. */
    pp_run_event sorted[NE];
    memcpy(sorted, ev, sizeof ev);
    qsort(sorted, NE, sizeof sorted[0], event_cmp);
    pp_run_event *ge = NULL;
    long long ne = 0;
    ck_assert_int_eq(pp_db_run_events(db, id, -1, &ge, &ne, &err), 0);
    ck_assert_int_eq(ne, NE);
    for (int i = 0; i < NE; i++) assert_event_eq(&ge[i], &sorted[i]);
    free(ge);
    ck_assert_int_eq(pp_db_run_events(db, id, 101, &ge, &ne, &err), 0);
    ck_assert_int_eq(ne, NE / 3);
    int first101 = 0;
    while (sorted[first101].step != 101) first101++;
    for (int i = 0; i < NE / 3; i++) assert_event_eq(&ge[i], &sorted[first101 + i]);
    free(ge);
    ck_assert_int_eq(pp_db_run_events(db, id, 7, &ge, &ne, &err), 0); /* a step the run has not */
    ck_assert(ge == NULL && ne == 0);
    ck_assert_int_eq(pp_db_run_event_count(db, id, &ne, &err), 0);
    ck_assert_int_eq(ne, NE);

    /* No prediction and no finished step: 0 and NaN, stored as NULL; a
     * failed run keeps its message; a given created_at is kept. */
    pp_db_run f = make_run("failed", 1);
    snprintf(f.status, sizeof f.status, "failed");
    snprintf(f.message, sizeof f.message, "rank 1: out of memory in stage 1 forward");
    snprintf(f.created_at, sizeof f.created_at, "2024-05-06T07:08:09Z");
    f.first_step = 0;
    f.steps = 1;
    f.predicted_iteration_s = 0;
    f.final_loss = NAN;
    f.tokens_per_s = 0;
    f.iteration_s = 0;
    long long fid = put_run(db, &f, NULL, 0, NULL, 0, NULL, 0);
    ck_assert_str_eq(f.created_at, "2024-05-06T07:08:09Z");
    ck_assert_int_eq(pp_db_run_get(db, fid, &got, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    assert_run_eq(&got, &f);
    ck_assert(got.predicted_iteration_s == 0 && isnan(got.final_loss));
    char q[128];
    snprintf(q, sizeof q, "SELECT predicted_iteration_s IS NULL AND final_loss IS NULL FROM runs WHERE id = %lld", fid);
    ck_assert_int_eq(raw_int(p, q), 1);
    ck_assert_int_eq(pp_db_run_event_count(db, fid, &ne, &err), 0);
    ck_assert_int_eq(ne, 0);

    /* Unknown id: not found, zeroed; empty lists. */
    memset(&got, 0x5a, sizeof got);
    ck_assert_int_eq(pp_db_run_get(db, 9999, &got, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    ck_assert(got.id == 0 && got.plan_hash[0] == '\0' && got.steps == 0);
    gs = (pp_db_run_step *)1;
    ck_assert_int_eq(pp_db_run_steps(db, 9999, &gs, &n, &err), 0);
    ck_assert(gs == NULL && n == 0);
    pp_db_close(db);
}
END_TEST

/* 120,000 events in one put, read back bit for bit. */
START_TEST(many_events_round_trip) {
    const char *p = tmp_path("events.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    const long long NE = 120000;
    pp_run_event *ev = malloc((size_t)NE * sizeof *ev);
    ck_assert_ptr_nonnull(ev);
    for (long long i = 0; i < NE; i++) ev[i] = make_event(i);
    pp_db_run r = make_run("many events", 1);
    long long id = put_run(db, &r, NULL, 0, NULL, 0, ev, NE);
    qsort(ev, (size_t)NE, sizeof *ev, event_cmp);
    pp_run_event *ge = NULL;
    long long ne = 0;
    ck_assert_int_eq(pp_db_run_events(db, id, -1, &ge, &ne, &err), 0);
    ck_assert_int_eq(ne, NE);
    for (long long i = 0; i < NE; i++) assert_event_eq(&ge[i], &ev[i]);
    free(ge);
    free(ev);
    pp_db_close(db);
    ck_assert_int_eq(raw_int(p, "SELECT count(*) FROM run_events"), NE);
}
END_TEST

/* Each broken field is refused before anything is written, naming it. */
START_TEST(bad_runs_are_refused) {
    const char *p = tmp_path("bad-runs.db");
    pp_db *db = open_ok(p);
    enum { NB = 24 };
    const char *want[NB] = {"plan_hash", "status", "needs a message", "pp 0", "n_ranks 0", "seq_len 0",
                            "first_step -1", "steps -1", "tokens_per_s", "iteration_s", "predicted_iteration_s",
                            "steps[0]: step 3", "grad_norm", "seconds", "ranks[0]: rank 4", "peak_bytes",
                            "busy_s", "events[0]: step", "events[0]: rank", "events[0]: stream",
                            "events[0]: action", "events[0]: stage", "events[0]: end is before start",
                            "events[0]: bytes"};
    for (int b = 0; b < NB; b++) {
        pp_db_run r = make_run("bad", 1);
        pp_db_run_step s = {.step = 100, .loss = 1, .grad_norm = 1, .seconds = 0.1};
        pp_run_rank k = {.rank = 0, .host = "h", .peak_bytes = 1, .busy_s = 0.1};
        pp_run_event e = make_event(0);
        switch (b) {
        case 0: r.plan_hash[5] = 'G'; break;
        case 1: snprintf(r.status, sizeof r.status, "maybe"); break;
        case 2: snprintf(r.status, sizeof r.status, "failed"); break;
        case 3: r.pp = 0; break;
        case 4: r.n_ranks = 0; break;
        case 5: r.seq_len = 0; break;
        case 6: r.first_step = -1; break;
        case 7: r.steps = -1; break;
        case 8: r.tokens_per_s = NAN; break;
        case 9: r.iteration_s = -1; break;
        case 10: r.predicted_iteration_s = INFINITY; break;
        case 11: s.step = 3; break; /* relative, not absolute, step number */
        case 12: s.grad_norm = -1; break;
        case 13: s.seconds = NAN; break;
        case 14: k.rank = 4; break;
        case 15: k.peak_bytes = -1; break;
        case 16: k.busy_s = INFINITY; break;
        case 17: e.step = 103; break;
        case 18: e.ev.rank = -1; break;
        case 19: e.ev.stream = PP_STREAM__COUNT; break;
        case 20: e.ev.action = PP_ACT__COUNT; break;
        case 21: e.ev.stage = -2; break;
        case 22: e.ev.end = e.ev.start - 1e-9; break;
        case 23: e.ev.bytes = -1; break;
        }
        pp_err err = {0};
        r.id = 77;
        ck_assert_int_eq(pp_db_run_put(db, &r, &s, 1, &k, 1, &e, 1, &err), -1);
        ck_assert_msg(strstr(err.msg, want[b]) != NULL, "case %d: expected '%s' in: %s", b, want[b], err.msg);
        ck_assert_msg(strstr(err.msg, p) != NULL, "case %d: no path in: %s", b, err.msg);
        ck_assert_int_eq(r.id, 0);
    }
    pp_err err = {0};
    pp_db_run r = make_run("bad", 1);
    ck_assert_int_eq(pp_db_run_put(db, &r, NULL, 1, NULL, 0, NULL, 0, &err), -1); /* count without array */
    ck_assert_int_eq(pp_db_run_put(db, NULL, NULL, 0, NULL, 0, NULL, 0, &err), -1);
    ck_assert_int_eq(count_runs(db), 0);
    pp_db_close(db);
    ck_assert_int_eq(raw_run_rows(p), 0);
}
END_TEST

/* A bad event (or a step given twice, which only SQLite catches) leaves
 * nothing behind, alone or inside the caller's transaction. */
START_TEST(bad_run_rolls_back) {
    const char *p = tmp_path("rollback-runs.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    pp_db_run r = make_run("rollback", 1);
    pp_db_run_step s[3];
    pp_run_rank k[3];
    make_steps(s);
    make_ranks(k);
    enum { NE = 1000 };
    pp_run_event ev[NE];
    for (int i = 0; i < NE; i++) ev[i] = make_event(i);
    ev[NE - 1].ev.end = ev[NE - 1].ev.start - 0.5; /* the last one is bad */
    ck_assert_int_eq(pp_db_run_put(db, &r, s, 3, k, 3, ev, NE, &err), -1);
    ck_assert_msg(strstr(err.msg, "events[999]") && strstr(err.msg, "end is before start"), "%s", err.msg);
    ck_assert_int_eq(r.id, 0);
    ck_assert_int_eq(count_runs(db), 0);

    /* Valid on its own, refused by the primary key after the run row, the
     * other steps, and no events were written: all of it is undone. */
    ev[NE - 1] = make_event(NE - 1);
    s[2].step = s[0].step;
    ck_assert_int_eq(pp_db_run_put(db, &r, s, 3, k, 3, ev, NE, &err), -1);
    ck_assert_msg(strstr(err.msg, "steps[2]") && strstr(err.msg, "UNIQUE"), "%s", err.msg);
    ck_assert_int_eq(r.id, 0);
    ck_assert_int_eq(count_runs(db), 0);

    /* Inside a group: the failed put undoes only itself; the group goes on. */
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    put_model(db, "kept", "gpt2", "rollback model", 5);
    ck_assert_int_eq(pp_db_run_put(db, &r, s, 3, k, 3, ev, NE, &err), -1);
    make_steps(s);
    long long id = put_run(db, &r, s, 3, k, 3, ev, NE);
    ck_assert_int_eq(pp_db_commit(db, &err), 0);
    ck_assert_int_eq(count_models(db), 1);
    ck_assert_int_eq(count_runs(db), 1);
    long long ne = 0;
    ck_assert_int_eq(pp_db_run_event_count(db, id, &ne, &err), 0);
    ck_assert_int_eq(ne, NE);

    /* A run stored inside a group that is rolled back is gone with it. */
    ck_assert_int_eq(pp_db_begin(db, &err), 0);
    pp_db_run r2 = make_run("rolled back group", 2);
    put_run(db, &r2, s, 3, k, 3, ev, NE);
    ck_assert_int_eq(count_runs(db), 2);
    ck_assert_int_eq(pp_db_rollback(db, &err), 0);
    ck_assert_int_eq(count_runs(db), 1);
    pp_db_close(db);
    ck_assert_int_eq(raw_run_rows(p), 1 + 3 + 3 + NE);
}
END_TEST

/* Runs list newest first; deleting a run deletes its rows in every child
 * table (ON DELETE CASCADE) and no other run's. */
START_TEST(runs_list_order_and_cascade) {
    const char *p = tmp_path("list-runs.db");
    pp_db *db = open_ok(p);
    pp_err err = {0};
    pp_db_run_step s[3];
    pp_run_rank k[3];
    make_steps(s);
    make_ranks(k);
    pp_run_event ev[30];
    for (int i = 0; i < 30; i++) ev[i] = make_event(i);
    long long ids[3];
    const char *seeds[3] = {"first", "second", "third"};
    for (int i = 0; i < 3; i++) {
        pp_db_run r = make_run(seeds[i], i + 1);
        ids[i] = put_run(db, &r, s, 3, k, 3, ev, 30);
    }
    pp_db_run *rows = NULL;
    int n = 0;
    ck_assert_int_eq(pp_db_runs_list(db, &rows, &n, &err), 0);
    ck_assert_int_eq(n, 3);
    for (int i = 0; i < 3; i++) {
        pp_db_run want = make_run(seeds[2 - i], 3 - i);
        want.id = ids[2 - i];
        snprintf(want.created_at, sizeof want.created_at, "%s", rows[i].created_at);
        assert_run_eq(&rows[i], &want);
    }
    ck_assert(ids[0] < ids[1] && ids[1] < ids[2]);
    free(rows);
    pp_db_close(db);

    char sql[512];
    snprintf(sql, sizeof sql, "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE id = %lld;", ids[1]);
    raw_exec(p, sql);
    ck_assert_int_eq(raw_run_rows(p), 2 * (1 + 3 + 3 + 30));
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM run_steps WHERE run_id = %lld) + (SELECT count(*) FROM run_ranks "
             "WHERE run_id = %lld) + (SELECT count(*) FROM run_events WHERE run_id = %lld)",
             ids[1], ids[1], ids[1]);
    ck_assert_int_eq(raw_int(p, sql), 0);
    db = open_ok(p);
    ck_assert_int_eq(count_runs(db), 2);
    pp_db_close(db);
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
    /* Its own case, run as its own ctest test (which skips unless root). */
    TCase *other = tcase_create("other_user");
    tcase_set_tags(other, "root");
    tcase_add_test(other, readonly_open_by_another_user);
    suite_add_tcase(s, other);

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

    TCase *runs = tcase_create("runs");
    tcase_set_timeout(runs, 60);
    tcase_add_test(runs, migration_2_to_3_keeps_profiles);
    tcase_add_test(runs, migration_3_to_4_keeps_runs);
    tcase_add_test(runs, migration_4_to_5_moves_pseudo_rows);
    tcase_add_test(runs, pseudo_tables_round_trip);
    tcase_add_test(runs, bad_pseudo_records_are_refused);
    tcase_add_test(runs, run_round_trip);
    tcase_add_test(runs, many_events_round_trip);
    tcase_add_test(runs, bad_runs_are_refused);
    tcase_add_test(runs, bad_run_rolls_back);
    tcase_add_test(runs, runs_list_order_and_cascade);
    suite_add_tcase(s, runs);

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
