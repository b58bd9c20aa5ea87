/*
 * test_tool_common.c -- what the commands share (tools/tool_common.h): the
 * database and preset paths, integer options, the
 * refusal to write over an input, and pp_tool_predict, the plan's one
 * prediction from a database, against pp_predict_plan called directly.
 */
#define _GNU_SOURCE
#include <check.h>

#include "core/pp_fmt.h"
#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pp_plan.h"
#include "core/pp_zoo.h"
#include "simulator/pp_predict.h"
#include "tools/tool_common.h"

static char g_dir[256];

static void setup(void) { pp_test_tmpdir(g_dir, sizeof g_dir, "tool_test"); }
static void teardown(void) { pp_test_rmtree(g_dir); }

START_TEST(db_path_order) {
    unsetenv("PIPPY_DB");
    ck_assert_str_eq(pp_tool_db_path(NULL), "pippy.db");
    ck_assert_str_eq(pp_tool_db_path(""), "pippy.db");
    setenv("PIPPY_DB", "/x/env.db", 1);
    ck_assert_str_eq(pp_tool_db_path(NULL), "/x/env.db");
    ck_assert_str_eq(pp_tool_db_path("given.db"), "given.db"); /* --db wins over the environment */
    unsetenv("PIPPY_DB");
}
END_TEST

START_TEST(parse_int_whole_and_in_range) {
    long long v = -7;
    ck_assert_int_eq(pp_tool_parse_int("t", "--n", "42", 1, 100, &v), 0);
    ck_assert_int_eq(v, 42);
    v = -7;
    ck_assert_int_eq(pp_tool_parse_int("t", "--n", "42x", 1, 100, &v), -1);
    ck_assert_int_eq(pp_tool_parse_int("t", "--n", "", 1, 100, &v), -1);
    ck_assert_int_eq(pp_tool_parse_int("t", "--n", "0", 1, 100, &v), -1);
    ck_assert_int_eq(pp_tool_parse_int("t", "--n", "101", 1, 100, &v), -1);
    ck_assert_int_eq(pp_tool_parse_int("t", "--n", "99999999999999999999", 1, 100, &v), -1); /* overflow */
    ck_assert_int_eq(v, -7); /* untouched on failure */
    ck_assert_int_eq(pp_tool_parse_int("t", "--n", "100", 1, 100, &v), 0);
    ck_assert_int_eq(v, 100);
}
END_TEST

START_TEST(parse_num_finite_and_bounded) {
    double v = -7;
    ck_assert_int_eq(pp_tool_parse_num("t", "--x", "1.5e3", 0, 1, &v), 0);
    ck_assert(v == 1500);
    ck_assert_int_eq(pp_tool_parse_num("t", "--x", "0", 0, 0, &v), 0); /* >= 0 */
    ck_assert(v == 0);
    v = -7;
    ck_assert_int_eq(pp_tool_parse_num("t", "--x", "0", 0, 1, &v), -1); /* > 0 */
    ck_assert_int_eq(pp_tool_parse_num("t", "--x", "", 0, 0, &v), -1);
    ck_assert_int_eq(pp_tool_parse_num("t", "--x", "inf", 0, 1, &v), -1);
    ck_assert_int_eq(pp_tool_parse_num("t", "--x", "nan", 0, 0, &v), -1);
    ck_assert_int_eq(pp_tool_parse_num("t", "--x", "-1", 0, 0, &v), -1);
    ck_assert_int_eq(pp_tool_parse_num("t", "--x", "2x", 0, 0, &v), -1);
    ck_assert_int_eq(pp_tool_parse_num("t", "--x", "1e999", 0, 0, &v), -1); /* overflow */
    ck_assert(v == -7); /* untouched on failure */
}
END_TEST

START_TEST(presets_and_files) {
    char path[4096], cfgs[300];
    pp_err err = {0};
    snprintf(cfgs, sizeof cfgs, "%s/configs", PP_SOURCE_DIR);
    setenv("PIPPY_CONFIGS", cfgs, 1);
    ck_assert_int_eq(pp_tool_model_path("gpt2-tiny", path, sizeof path, &err), 0);
    char want[4096];
    snprintf(want, sizeof want, "%s/models/gpt2-tiny.json", cfgs);
    ck_assert_str_eq(path, want);
    ck_assert_int_eq(pp_tool_cluster_path("local", path, sizeof path, &err), 0);
    /* A file is taken as it is. */
    char f[300];
    snprintf(f, sizeof f, "%s/m.json", g_dir);
    FILE *fp = fopen(f, "w");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    ck_assert_int_eq(pp_tool_model_path(f, path, sizeof path, &err), 0);
    ck_assert_str_eq(path, f);
    /* Neither: the error lists the presets, sorted. */
    ck_assert_int_eq(pp_tool_model_path("no-such-model", path, sizeof path, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "'no-such-model' is neither a file nor a preset"));
    const char *a = strstr(err.msg, "bert-base"), *b = strstr(err.msg, "gpt2-tiny");
    ck_assert(a && b && a < b);
    /* A path with a folder is never a preset. */
    ck_assert_int_eq(pp_tool_model_path("models/gpt2-tiny", path, sizeof path, &err), -1);
    unsetenv("PIPPY_CONFIGS");
}
END_TEST

START_TEST(refuse_an_input_as_output) {
    char in[300], other[300], same[320];
    snprintf(in, sizeof in, "%s/in.json", g_dir);
    snprintf(other, sizeof other, "%s/out.json", g_dir);
    snprintf(same, sizeof same, "%s/./in.json", g_dir);
    FILE *fp = fopen(in, "w");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    ck_assert_int_eq(pp_tool_refuse_overwrite("t", "-o", other, "--plan", in, NULL), 0);
    ck_assert_int_eq(pp_tool_refuse_overwrite("t", "-o", same, "--plan", in, NULL), 2);
    ck_assert_int_eq(pp_tool_refuse_overwrite("t", "-o", same, "--a", NULL, "--plan", in, NULL), 2);
    ck_assert_int_eq(pp_tool_refuse_overwrite("t", "-o", NULL, "--plan", in, NULL), 0);
}
END_TEST

/* pp_tool_predict with no database file: FLOP estimates, the figures
 * pp_predict_plan gives without costs, to the bit; and the file is not
 * created by looking. */
START_TEST(predict_is_pp_predict_plan) {
    pp_err err = {0};
    pp_plan plan;
    pp_graph g;
    char path[4096], db[300];
    snprintf(path, sizeof path, "%s/tests/data/plan-gpt2-tiny-pp2.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_plan_load(path, &plan, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_zoo_build(&plan.model, plan.micro_batch, plan.seq_len, plan.dtype, &g, &err) == 0, "%s",
                  err.msg);
    snprintf(db, sizeof db, "%s/none.db", g_dir);
    pp_prediction a, b;
    ck_assert_msg(pp_tool_predict(db, &plan, &g, NULL, &a, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_predict_plan(&plan, &g, NULL, &b, &err) == 0, "%s", err.msg);
    ck_assert(a.sim.iteration_s > 0);
    ck_assert(a.sim.iteration_s == b.sim.iteration_s);
    ck_assert_int_eq(a.sim.n_ranks, b.sim.n_ranks);
    for (int r = 0; r < a.sim.n_ranks; r++) ck_assert(a.sim.peak_total_bytes[r] == b.sim.peak_total_bytes[r]);
    ck_assert_ptr_nonnull(strstr(a.cost_source, "FLOP"));
    ck_assert_int_ne(access(db, F_OK), 0);
    /* What the caller asks for comes back (the trace here). */
    pp_predict_input in;
    pp_predict_input_init(&in);
    in.want_trace = 1;
    pp_prediction c;
    ck_assert_msg(pp_tool_predict(db, &plan, &g, &in, &c, &err) == 0, "%s", err.msg);
    ck_assert(c.sim.trace.n > 0);
    ck_assert(c.sim.iteration_s == a.sim.iteration_s);
    pp_prediction_free(&a);
    pp_prediction_free(&b);
    pp_prediction_free(&c);
    /* A database that is not one: an error, with the prediction freeable. */
    snprintf(db, sizeof db, "%s/bad.db", g_dir);
    FILE *fp = fopen(db, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("this is not an SQLite database, not at all, and long enough to be read as one", fp);
    fclose(fp);
    ck_assert_int_eq(pp_tool_predict(db, &plan, &g, NULL, &a, &err), -1);
    ck_assert(err.msg[0]);
    pp_prediction_free(&a);
    pp_graph_free(&g);
    pp_plan_free(&plan);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tool_common");
    TCase *tc = tcase_create("all");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, db_path_order);
    tcase_add_test(tc, parse_int_whole_and_in_range);
    tcase_add_test(tc, parse_num_finite_and_bounded);
    tcase_add_test(tc, presets_and_files);
    tcase_add_test(tc, refuse_an_input_as_output);
    tcase_add_test(tc, predict_is_pp_predict_plan);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
