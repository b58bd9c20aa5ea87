/*
 * test_graph_facts_print.c -- the table `pippy model` prints
 * (core/pp_graph_facts_print.c): the three number formats at their unit
 * boundaries and with a short buffer, and gpt2-tiny's table at micro-batch
 * 2 x seq 16: its header, the embedding row (10,240 parameters held with
 * the tied wte, a cut sending 4.00 KiB), the head row ending in "-", the
 * total, and the tied parameter named with both blocks; per op, one row
 * per op and the footnote worded for ops.
 */
#include "core/pp_fmt.h"
#include "core/pp_graph_facts.h"
#include "core/pp_zoo.h"

#include <check.h>

#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(formats) {
    char b[64];
    ck_assert_str_eq(pp_fmt_count(0, b, sizeof b), "0");
    ck_assert_str_eq(pp_fmt_count(999, b, sizeof b), "999");
    ck_assert_str_eq(pp_fmt_count(1000, b, sizeof b), "1,000");
    ck_assert_str_eq(pp_fmt_count(124439808, b, sizeof b), "124,439,808");
    ck_assert_str_eq(pp_fmt_count(-1234567, b, sizeof b), "-1,234,567");
    ck_assert_str_eq(pp_fmt_count(-9223372036854775807LL - 1, b, sizeof b), "-9,223,372,036,854,775,808");
    ck_assert_str_eq(pp_fmt_count(1234567, b, 4), "1,2"); /* cut short, terminated */
    ck_assert_str_eq(pp_fmt_si(0, b, sizeof b), "0");
    ck_assert_str_eq(pp_fmt_si(999, b, sizeof b), "999");
    ck_assert_str_eq(pp_fmt_si(1000, b, sizeof b), "1K");
    ck_assert_str_eq(pp_fmt_si(1536, b, sizeof b), "1.54K");
    ck_assert_str_eq(pp_fmt_si(4.16e6, b, sizeof b), "4.16M");
    ck_assert_str_eq(pp_fmt_si(2e21, b, sizeof b), "2e+03E"); /* E is the last prefix */
    ck_assert_str_eq(pp_fmt_bytes(0, b, sizeof b), "0 B");
    ck_assert_str_eq(pp_fmt_bytes(1023, b, sizeof b), "1023 B");
    ck_assert_str_eq(pp_fmt_bytes(1024, b, sizeof b), "1.00 KiB");
    ck_assert_str_eq(pp_fmt_bytes(1536, b, sizeof b), "1.50 KiB");
    ck_assert_str_eq(pp_fmt_bytes(3.0 * 1024 * 1024 * 1024, b, sizeof b), "3.00 GiB");
    ck_assert_str_eq(pp_fmt_bytes(2048.0 * 1024 * 1024 * 1024 * 1024, b, sizeof b), "2048.00 TiB");
}
END_TEST

/* gpt2-tiny's table at micro-batch 2 x seq 16; the text is malloc'd. */
static char *table(int by_op) {
    char path[1024];
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_zoo_build(&cfg, 2, 16, PP_DTYPE_F32, &g, &err) == 0, "%s", err.msg);
    pp_graph_facts fx;
    ck_assert_msg(pp_graph_facts_get(&g, &fx, &err) == 0, "%s", err.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pp_graph_facts_print_text(f, &g, &fx, &cfg, "0123456789abcdef0123", 2, 16, by_op);
    fclose(f);
    pp_graph_facts_free(&fx);
    pp_graph_free(&g);
    return buf;
}

START_TEST(blocks) {
    char *t = table(0);
    const char *head = "model gpt2-tiny (gpt2): 61,120 parameters, 4 layers, d_model 32, 4 heads\n"
                       "micro-batch 2 x seq 16, f32; hash 0123456789abcdef\n\n"
                       "block                          ops          params    F FLOP";
    ck_assert_msg(strncmp(t, head, strlen(head)) == 0, "%s", t);
    ck_assert_msg(strstr(t, "\nembed  ") != NULL && strstr(t, "10,240*") != NULL, "%s", t);
    ck_assert_msg(strstr(t, "    4.00 KiB\n") != NULL, "%s", t); /* the cut after the embedding */
    ck_assert_msg(strstr(t, "\nhead                             2          8,256*") != NULL, "%s", t);
    ck_assert_msg(strstr(t, "           -\ntotal                           43         61,120 ") != NULL, "%s", t);
    ck_assert_msg(strstr(t, "\n* holds a parameter shared with another block (held by each, counted once in the "
                            "total):\n  wte.weight (8,192 elements): embed head\n") != NULL,
                  "%s", t);
    int lines = 0;
    for (const char *p = t; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, 3 + 1 + 6 + 1 + 3); /* header, column names, 6 blocks, total, footnote */
    free(t);
}
END_TEST

START_TEST(ops) {
    char *t = table(1);
    ck_assert_msg(strstr(t, "\nop                            kind          params") != NULL, "%s", t);
    ck_assert_msg(strstr(t, "shared with another op's block") != NULL, "%s", t);
    int lines = 0;
    for (const char *p = t; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, 3 + 1 + 43 + 1 + 3);
    free(t);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("graph_facts_print");
    TCase *tc = tcase_create("print");
    tcase_add_test(tc, formats);
    tcase_add_test(tc, blocks);
    tcase_add_test(tc, ops);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
