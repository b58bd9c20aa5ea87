/*
 * test_run_file.c -- a run's record outside the database
 * (db/pp_db_run_file.h): the record built from plain values, the fallback
 * file's document, the store that falls back to a file beside the database
 * and then to the current folder, the `pippy run --json` document, and the
 * newest run of a plan (pp_db_run_latest_of_plan).
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/pp_test.h"

#include "core/pp_json.h"
#include "db/pp_db.h"
#include "db/pp_db_run_file.h"

static char dir[64];

static void setup(void) { pp_test_tmpdir(dir, sizeof dir, "run_file"); }
static void teardown(void) { pp_test_rmtree(dir); }

static const char HASH[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static void make_run(pp_db_run *run, const char *hash, double pred) {
    pp_db_run_init_from(run, hash, "gpt2-tiny", "1f1b", "ok", "", 2, 1, 2, 8, 2, 4, 16, 0, 2, 0.5, pred, 3.25);
}

static const pp_db_run_step STEPS[2] = {{.step = 0, .loss = 3.5, .grad_norm = 1, .seconds = 0.5},
                                        {.step = 1, .loss = 3.25, .grad_norm = 0.5, .seconds = 0.5}};
static const pp_run_rank RANKS[2] = {{.rank = 0, .host = "h0", .peak_bytes = 1000, .busy_s = 0.4},
                                     {.rank = 1, .host = "h1", .peak_bytes = 2000, .busy_s = 0.3}};

static pp_json *finish_parse(pp_jw *w) {
    char *text;
    size_t len;
    pp_err err = {0};
    ck_assert_int_eq(pp_jw_finish(w, &text, &len, &err), 0);
    pp_json *j = NULL;
    ck_assert_msg(pp_json_parse(text, len, "t", &j, &err) == 0, "%s", err.msg);
    free(text);
    return j;
}

START_TEST(test_init_from) {
    pp_db_run r;
    make_run(&r, HASH, 0.25);
    ck_assert_str_eq(r.plan_hash, HASH);
    ck_assert_str_eq(r.schedule, "1f1b");
    ck_assert_int_eq(r.n_microbatches, 4);
    ck_assert_int_eq(r.seq_len, 16);
    ck_assert(fabs(r.tokens_per_s - 8.0 * 16 / 0.5) < 1e-9);
    ck_assert(r.predicted_iteration_s == 0.25);
    ck_assert_int_eq(r.id, 0);
    ck_assert_str_eq(r.created_at, "");
    /* No time: no throughput; long strings are cut to their fields. */
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    pp_db_run_init_from(&r, HASH, longname, "gpipe", "failed", "boom", 1, 1, 1, 1, 1, 1, 1, 3, 0, 0, 0, NAN);
    ck_assert(r.tokens_per_s == 0);
    ck_assert_int_eq((int)strlen(r.model), (int)sizeof r.model - 1);
    ck_assert_str_eq(r.message, "boom");
    ck_assert(isnan(r.final_loss));
}
END_TEST

START_TEST(test_fallback_document) {
    pp_db_run r;
    make_run(&r, HASH, 0);
    pp_run_event ev = {.step = 1, .ev = {.rank = 1, .stream = 0, .action = 2, .stage = 1, .mb = 3, .start = 0.1,
                                         .end = 0.2, .bytes = 64}};
    pp_jw w;
    pp_jw_init(&w);
    pp_db_json_run_file(&w, "x/pippy.db", "disk full", &r, STEPS, 2, RANKS, 2, &ev, 1);
    pp_json *j = finish_parse(&w);
    ck_assert_int_eq(pp_json_get(j, "pippy_run")->inum, 1);
    ck_assert_str_eq(pp_json_get(j, "database")->str, "x/pippy.db");
    ck_assert_str_eq(pp_json_get(j, "database_error")->str, "disk full");
    pp_json *run = pp_json_get(j, "run");
    ck_assert_str_eq(pp_json_get(run, "model")->str, "gpt2-tiny");
    ck_assert_int_eq(pp_json_get(run, "global_batch")->inum, 8);
    ck_assert(pp_json_get(run, "iteration_s")->num == 0.5);
    ck_assert_int_eq(run->n, 18);
    pp_json *st = pp_json_get(j, "steps");
    ck_assert_int_eq(st->n, 2);
    ck_assert_int_eq(st->items[1]->n, 4);
    ck_assert(st->items[1]->items[1]->num == 3.25);
    pp_json *rk = pp_json_get(j, "ranks");
    ck_assert_str_eq(rk->items[1]->items[1]->str, "h1");
    ck_assert_int_eq(rk->items[1]->items[2]->inum, 2000);
    pp_json *e = pp_json_get(j, "events");
    ck_assert_int_eq(e->n, 1);
    ck_assert_int_eq(e->items[0]->n, 9);
    ck_assert_int_eq(e->items[0]->items[5]->inum, 3);
    ck_assert_int_eq(e->items[0]->items[8]->inum, 64);
    pp_json_free(j);
}
END_TEST

/* How many pippy-run-*.json files folder d holds. */
static int count_files(const char *d) {
    DIR *dp = opendir(d);
    ck_assert_ptr_nonnull(dp);
    int n = 0;
    for (struct dirent *e; (e = readdir(dp));)
        if (!strncmp(e->d_name, "pippy-run-", 10)) n++;
    closedir(dp);
    return n;
}

START_TEST(test_put_or_save) {
    char path[128];
    snprintf(path, sizeof path, "%s/pippy.db", dir);
    pp_db *db = NULL;
    pp_err err = {0};
    ck_assert_msg(pp_db_open(path, &db, &err) == 0, "%s", err.msg);
    pp_db_run r;
    make_run(&r, HASH, 0.25);
    ck_assert_msg(pp_db_run_put_or_save(db, path, &r, STEPS, 2, RANKS, 2, NULL, 0, &err) == 0, "%s", err.msg);
    ck_assert_int_gt(r.id, 0);
    ck_assert_int_eq(count_files(dir), 0);
    /* Refused (pp 0): saved beside the database, the error says where. */
    make_run(&r, HASH, 0.25);
    r.pp = 0;
    ck_assert_int_ne(pp_db_run_put_or_save(db, path, &r, STEPS, 2, RANKS, 2, NULL, 0, &err), 0);
    ck_assert_int_eq(err.code, PP_ERR_DB);
    ck_assert_ptr_nonnull(strstr(err.msg, "could not store the run in "));
    ck_assert_ptr_nonnull(strstr(err.msg, "the run is saved in "));
    ck_assert_ptr_nonnull(strstr(err.msg, dir));
    ck_assert_int_eq(count_files(dir), 1);
    char saved[512];
    const char *p = strstr(err.msg, "saved in ") + 9;
    snprintf(saved, sizeof saved, "%.*s", (int)(strstr(p, " instead") - p), p);
    pp_json *j = NULL;
    ck_assert_msg(pp_json_parse_file(saved, &j, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_json_get(pp_json_get(j, "run"), "pp")->inum, 0);
    pp_json_free(j);
    /* A database path in a folder that is not there: the current folder. */
    char cwd[4096], sub[128];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(sub, sizeof sub, "%s/cwd", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert_int_eq(chdir(sub), 0);
    ck_assert_int_ne(pp_db_run_put_or_save(db, "/no/such/folder/pippy.db", &r, STEPS, 2, RANKS, 2, NULL, 0, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "the run is saved in ./pippy-run-"));
    ck_assert_int_eq(count_files("."), 1);
    ck_assert_int_eq(chdir(cwd), 0);
    pp_db_close(db);
}
END_TEST

START_TEST(test_run_result_document) {
    pp_db_run r;
    make_run(&r, HASH, 0.25);
    double peaks[2] = {1500, 2500};
    pp_jw w;
    pp_jw_init(&w);
    pp_db_json_run_result(&w, &r, 7, STEPS, 2, RANKS, 2, "measured", 0.25, peaks);
    pp_json *j = finish_parse(&w);
    ck_assert_int_eq(pp_json_get(j, "run")->inum, 7);
    ck_assert_str_eq(pp_json_get(j, "plan_hash")->str, HASH);
    ck_assert_str_eq(pp_json_get(j, "status")->str, "ok");
    ck_assert(pp_json_get(j, "predicted_iteration_s")->num == 0.25);
    ck_assert(fabs(pp_json_get(j, "rel_error")->num - 0.5) < 1e-12);
    ck_assert(fabs(pp_json_get(j, "tokens_per_s")->num - 256) < 1e-9);
    ck_assert_str_eq(pp_json_get(j, "cost_source")->str, "measured");
    ck_assert_int_eq(pp_json_get(j, "step_results")->n, 2);
    pp_json *rk = pp_json_get(j, "ranks");
    ck_assert(pp_json_get(rk->items[1], "predicted_peak_bytes")->num == 2500);
    ck_assert_int_eq(pp_json_get(rk->items[1], "peak_bytes")->inum, 2000);
    pp_json_free(j);
    /* Not stored, no prediction, no time. */
    r.iteration_s = 0;
    pp_jw_init(&w);
    pp_db_json_run_result(&w, &r, 0, STEPS, 2, RANKS, 2, NULL, 0.25, NULL);
    j = finish_parse(&w);
    ck_assert_int_eq(pp_json_get(j, "run")->type, PP_JSON_NULL);
    ck_assert_int_eq(pp_json_get(j, "predicted_iteration_s")->type, PP_JSON_NULL);
    ck_assert_int_eq(pp_json_get(j, "iteration_s")->type, PP_JSON_NULL);
    ck_assert_int_eq(pp_json_get(j, "tokens_per_s")->type, PP_JSON_NULL);
    ck_assert_str_eq(pp_json_get(j, "cost_source")->str, "");
    ck_assert_int_eq(pp_json_get(pp_json_get(j, "ranks")->items[0], "predicted_peak_bytes")->type, PP_JSON_NULL);
    pp_json_free(j);
}
END_TEST

START_TEST(test_latest_of_plan) {
    char path[128];
    snprintf(path, sizeof path, "%s/l.db", dir);
    pp_db *db = NULL;
    pp_err err = {0};
    ck_assert_msg(pp_db_open(path, &db, &err) == 0, "%s", err.msg);
    static const char OTHER[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    pp_db_run a, b, c, got;
    make_run(&a, HASH, 0.25);
    make_run(&b, HASH, 0.5);
    make_run(&c, OTHER, 0);
    ck_assert_msg(pp_db_run_put(db, &a, STEPS, 2, RANKS, 2, NULL, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_db_run_put(db, &b, STEPS, 2, RANKS, 2, NULL, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_db_run_put(db, &c, STEPS, 2, RANKS, 2, NULL, 0, &err) == 0, "%s", err.msg);
    int found = 0;
    ck_assert_int_eq(pp_db_run_latest_of_plan(db, HASH, &got, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(got.id, b.id);
    ck_assert(got.predicted_iteration_s == 0.5);
    ck_assert_int_eq(pp_db_run_latest_of_plan(db, OTHER, &got, &found, &err), 0);
    ck_assert_int_eq(got.id, c.id);
    ck_assert_int_eq(pp_db_run_latest_of_plan(db, "cccc", &got, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    ck_assert_int_eq(got.id, 0);
    pp_db_close(db);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("run_file");
    TCase *tc = tcase_create("run_file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_init_from);
    tcase_add_test(tc, test_fallback_document);
    tcase_add_test(tc, test_put_or_save);
    tcase_add_test(tc, test_run_result_document);
    tcase_add_test(tc, test_latest_of_plan);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
