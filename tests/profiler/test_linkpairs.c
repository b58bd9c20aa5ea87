/*
 * test_linkpairs.c -- which rank pairs the link profiler measures
 * (pp_linkprof_pairs in profiler/pp_linkprof.h): every ordered pair up to
 * sample_above ranks; above, both ring neighbours of every rank and every
 * ordered host pair at least once, each pair once, the host pairs capped.
 * No MPI.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pp_test.h"

#include "profiler/pp_linkprof.h"

static int has(const int *p, int n, int s, int d) {
    int c = 0;
    for (int i = 0; i < n; i++) c += p[2 * i] == s && p[2 * i + 1] == d;
    return c;
}

/* Every pair valid and none twice. */
static void check_distinct(const int *p, int n, int ranks) {
    for (int i = 0; i < n; i++) {
        ck_assert_msg(p[2 * i] >= 0 && p[2 * i] < ranks && p[2 * i + 1] >= 0 && p[2 * i + 1] < ranks &&
                          p[2 * i] != p[2 * i + 1],
                      "pair %d: %d -> %d", i, p[2 * i], p[2 * i + 1]);
        ck_assert_msg(has(p, n, p[2 * i], p[2 * i + 1]) == 1, "pair %d -> %d twice", p[2 * i], p[2 * i + 1]);
    }
}

START_TEST(all_pairs_up_to_threshold) {
    pp_linkprof_opts o;
    pp_linkprof_opts_default(&o);
    ck_assert_int_eq(o.sample_above, 8);
    pp_err err = {0};
    int *p = NULL, n = -1;
    for (int ranks = 1; ranks <= 8; ranks++) {
        ck_assert_int_eq(pp_linkprof_pairs(&o, ranks, NULL, &p, &n, &err), 0);
        ck_assert_int_eq(n, ranks * (ranks - 1));
        check_distinct(p, n, ranks);
        free(p);
    }
    /* 0: always every pair, even on many ranks. */
    o.sample_above = 0;
    ck_assert_int_eq(pp_linkprof_pairs(&o, 20, NULL, &p, &n, &err), 0);
    ck_assert_int_eq(n, 20 * 19);
    free(p);
}
END_TEST

START_TEST(ring_on_one_host) {
    pp_linkprof_opts o;
    pp_linkprof_opts_default(&o);
    pp_err err = {0};
    int *p = NULL, n = 0;
    ck_assert_int_eq(pp_linkprof_pairs(&o, 10, NULL, &p, &n, &err), 0);
    ck_assert_int_eq(n, 20); /* of 90 */
    check_distinct(p, n, 10);
    for (int r = 0; r < 10; r++) {
        ck_assert_msg(has(p, n, r, (r + 1) % 10), "no %d -> %d", r, (r + 1) % 10);
        ck_assert_msg(has(p, n, (r + 1) % 10, r), "no %d -> %d", (r + 1) % 10, r);
    }
    ck_assert(p[0] == 0 && p[1] == 1 && p[2] == 1 && p[3] == 0); /* ring order */
    free(p);
    /* A threshold of 1 samples two ranks: 0->1 and 1->0, once each. */
    o.sample_above = 1;
    ck_assert_int_eq(pp_linkprof_pairs(&o, 2, NULL, &p, &n, &err), 0);
    ck_assert_int_eq(n, 2);
    check_distinct(p, n, 2);
    free(p);
}
END_TEST

/* 64 ranks, 8 per host in rank order: the ring joins neighbouring hosts
 * only; the other 40 ordered host pairs are added once each. */
START_TEST(every_host_pair) {
    enum { R = 64, H = 8 };
    char(*hosts)[128] = calloc(R, 128);
    ck_assert_ptr_nonnull(hosts);
    for (int r = 0; r < R; r++) snprintf(hosts[r], 128, "node%d", r / (R / H));
    pp_linkprof_opts o;
    pp_linkprof_opts_default(&o);
    pp_err err = {0};
    int *p = NULL, n = 0;
    ck_assert_int_eq(pp_linkprof_pairs(&o, R, (const char(*)[128])hosts, &p, &n, &err), 0);
    ck_assert_int_eq(n, 2 * R + 40);
    check_distinct(p, n, R);
    int seen[H][H] = {{0}};
    for (int i = 0; i < n; i++) seen[p[2 * i] / (R / H)][p[2 * i + 1] / (R / H)]++;
    for (int a = 0; a < H; a++)
        for (int b = 0; b < H; b++)
            if (a != b) ck_assert_msg(seen[a][b] >= 1, "host pair node%d -> node%d not measured", a, b);
    /* The added pairs join the hosts' first ranks. */
    for (int i = 2 * R; i < n; i++) ck_assert(p[2 * i] % (R / H) == 0 && p[2 * i + 1] % (R / H) == 0);
    free(p);
    /* Capped: at most max_host_pairs beyond the ring. */
    o.max_host_pairs = 5;
    ck_assert_int_eq(pp_linkprof_pairs(&o, R, (const char(*)[128])hosts, &p, &n, &err), 0);
    ck_assert_int_eq(n, 2 * R + 5);
    free(p);
    /* Ranks dealt round-robin to hosts: every ring pair crosses hosts and
     * joins each host to the next and previous one; the rest are added. */
    for (int r = 0; r < R; r++) snprintf(hosts[r], 128, "node%d", r % 3);
    o.max_host_pairs = 256;
    ck_assert_int_eq(pp_linkprof_pairs(&o, R, (const char(*)[128])hosts, &p, &n, &err), 0);
    check_distinct(p, n, R);
    int seen3[3][3] = {{0}};
    for (int i = 0; i < n; i++) seen3[p[2 * i] % 3][p[2 * i + 1] % 3]++;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            if (a != b) ck_assert_int_ge(seen3[a][b], 1);
    ck_assert_int_eq(n, 2 * R); /* 0->1, 1->2, 2->0 and back already join all 6 host pairs */
    free(p);
    free(hosts);
}
END_TEST

START_TEST(refused) {
    pp_linkprof_opts o;
    pp_linkprof_opts_default(&o);
    pp_err err = {0};
    int *p = (int *)&o, n = 7;
    ck_assert_int_eq(pp_linkprof_pairs(&o, 0, NULL, &p, &n, &err), -1);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(n, 0);
    o.sample_above = -1;
    ck_assert_int_eq(pp_linkprof_pairs(&o, 4, NULL, &p, &n, &err), -1);
    ck_assert_msg(strstr(err.msg, "sample") != NULL, "%s", err.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("linkpairs");
    TCase *tc = tcase_create("linkpairs");
    tcase_add_test(tc, all_pairs_up_to_threshold);
    tcase_add_test(tc, ring_on_one_host);
    tcase_add_test(tc, every_host_pair);
    tcase_add_test(tc, refused);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
