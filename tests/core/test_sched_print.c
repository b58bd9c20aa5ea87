/*
 * test_sched_print.c -- naming and showing a schedule table
 * (core/pp_sched_print.c): the naming names read (auto only where allowed),
 * the `pippy schedule show` text of a small table with an idle cell (counts
 * per type, "_" for the idle step), the valid line of `schedule check`, and
 * the JSON object parsed back with and without its optional members.
 */
#include "core/pp_json.h"
#include "core/pp_sched.h"

#include <check.h>

#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two ranks, two stages, one microbatch, compute-only with one idle step. */
static void small_table(pp_sched *s) {
    pp_err err = {0};
    const char *csv = "0F0,,0B0\n1F0,1I0,1W0\n";
    ck_assert_msg(pp_sched_parse_csv(csv, strlen(csv), "t.csv", PP_NAMING_CURRENT, s, NULL, &err) == 0, "%s",
                  err.msg);
}

START_TEST(naming_parse) {
    pp_sched_naming n = PP_NAMING_CURRENT;
    ck_assert_int_eq(pp_sched_naming_parse("auto", 1, &n), 0);
    ck_assert_int_eq(n, PP_NAMING_AUTO);
    ck_assert_int_eq(pp_sched_naming_parse("legacy", 0, &n), 0);
    ck_assert_int_eq(n, PP_NAMING_LEGACY);
    ck_assert_int_eq(pp_sched_naming_parse("current", 1, &n), 0);
    ck_assert_int_eq(n, PP_NAMING_CURRENT);
    ck_assert_int_eq(pp_sched_naming_parse("auto", 0, &n), -1); /* not allowed: untouched */
    ck_assert_int_eq(n, PP_NAMING_CURRENT);
    ck_assert_int_eq(pp_sched_naming_parse("Legacy", 1, &n), -1);
    ck_assert_int_eq(pp_sched_naming_parse("", 1, &n), -1);
}
END_TEST

START_TEST(text) {
    pp_sched s;
    small_table(&s);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pp_sched_print_text(f, &s, "t.csv", PP_NAMING_LEGACY);
    pp_sched_print_valid(f, &s, "t.csv");
    fclose(f);
    ck_assert_str_eq(buf, "t.csv: 2 ranks, 2 stages, 1 microbatches, compute_only, legacy naming\n"
                          "rank 0: 3 cells: 1 idle 1 F 1 B\n"
                          "  0F0 _ 0B0\n"
                          "rank 1: 3 cells: 1 F 1 I 1 W\n"
                          "  1F0 1I0 1W0\n"
                          "t.csv: valid (2 ranks, 2 stages, 1 microbatches) and free of deadlock\n");
    free(buf);
    pp_sched_free(&s);
}
END_TEST

static pp_json *member(pp_json *o, const char *key) {
    pp_json *v = pp_json_get(o, key);
    ck_assert_msg(v != NULL, "no member '%s'", key);
    return v;
}

START_TEST(json) {
    pp_sched s;
    small_table(&s);
    pp_err err = {0};
    char *text = NULL;
    pp_jw w;
    /* With the check's error and the cells, no output. */
    pp_jw_init(&w);
    pp_sched_write_json(&w, &s, "t.csv", NULL, PP_NAMING_CURRENT, 1, "deadlock: x", 1);
    ck_assert_int_eq(pp_jw_finish(&w, &text, NULL, &err), 0);
    pp_json *root = NULL;
    ck_assert_msg(pp_json_parse(text, strlen(text), "t.json", &root, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(member(root, "file")->str, "t.csv");
    ck_assert(pp_json_get(root, "output") == NULL);
    ck_assert_int_eq((int)member(root, "ranks")->num, 2);
    ck_assert_int_eq((int)member(root, "stages")->num, 2);
    ck_assert_int_eq((int)member(root, "microbatches")->num, 1);
    ck_assert_str_eq(member(root, "form")->str, "compute_only");
    ck_assert_str_eq(member(root, "naming")->str, "current");
    ck_assert_int_eq(member(root, "valid")->type, PP_JSON_BOOL);
    ck_assert(!member(root, "valid")->boolean);
    ck_assert_str_eq(member(root, "error")->str, "deadlock: x");
    pp_json *cells = member(root, "cells");
    ck_assert_int_eq(cells->n, 2);
    ck_assert_int_eq(cells->items[0]->n, 3);
    ck_assert_str_eq(cells->items[0]->items[1]->str, "");
    ck_assert_str_eq(cells->items[1]->items[2]->str, "1W0");
    pp_json_free(root);
    free(text);
    pp_jw_free(&w);
    /* Unchecked, no cells, only the output: those members left out. */
    pp_jw_init(&w);
    pp_sched_write_json(&w, &s, NULL, "o.csv", PP_NAMING_LEGACY, 0, NULL, 0);
    ck_assert_int_eq(pp_jw_finish(&w, &text, NULL, &err), 0);
    ck_assert_msg(pp_json_parse(text, strlen(text), "t.json", &root, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(member(root, "output")->str, "o.csv");
    ck_assert_str_eq(member(root, "naming")->str, "legacy");
    ck_assert(pp_json_get(root, "file") == NULL && pp_json_get(root, "valid") == NULL &&
              pp_json_get(root, "cells") == NULL);
    pp_json_free(root);
    free(text);
    pp_jw_free(&w);
    pp_sched_free(&s);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sched_print");
    TCase *tc = tcase_create("print");
    tcase_add_test(tc, naming_parse);
    tcase_add_test(tc, text);
    tcase_add_test(tc, json);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
