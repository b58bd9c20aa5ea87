/*
 * test_stats.c -- the one median and the one relative error (core/pp_stats.h)
 * against values worked by hand and against a brute-force median (the value
 * with as many elements at or below it as at or above it).
 */
#include <check.h>

#include "tests/pp_test.h"
#include <math.h>
#include <stdlib.h>

#include "core/pp_stats.h"

START_TEST(median_odd_even_empty) {
    double a[] = {5, 1, 3};
    ck_assert_double_eq(pp_stats_median(a, 3), 3);
    ck_assert_double_eq(a[0], 1); /* sorted in place */
    double b[] = {4, 1, 3, 2};
    ck_assert_double_eq(pp_stats_median(b, 4), 2.5);
    ck_assert(isnan(pp_stats_median(b, 0)));
    ck_assert(isnan(pp_stats_median(NULL, 3)));
    double c[] = {7, 2}, s[2];
    ck_assert_double_eq(pp_stats_median_copy(c, 2, s), 4.5);
    ck_assert_double_eq(c[0], 7); /* untouched */
}
END_TEST

START_TEST(median_matches_brute_force) {
    srand(7);
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + rand() % 40;
        double v[40], w[40];
        for (int i = 0; i < n; i++) w[i] = v[i] = (double)(rand() % 20);
        double m = pp_stats_median(v, n);
        /* Brute force: for odd n an element with >= (n+1)/2 at or below and at
         * or above; for even n the mean of the k-th and (k+1)-th smallest. */
        double kth[2];
        int want[2] = {(n - 1) / 2, n / 2};
        for (int q = 0; q < 2; q++)
            for (int i = 0; i < n; i++) {
                int below = 0, equal = 0;
                for (int j = 0; j < n; j++) {
                    below += w[j] < w[i];
                    equal += w[j] == w[i];
                }
                if (below <= want[q] && want[q] < below + equal) kth[q] = w[i];
            }
        ck_assert_double_eq_tol(m, 0.5 * (kth[0] + kth[1]), 1e-12);
    }
}
END_TEST

START_TEST(rel_error_convention) {
    /* (measured - predicted) / measured: a run slower than predicted is positive. */
    ck_assert_double_eq_tol(pp_stats_rel_error(2.0, 1.5), 0.25, 1e-15);
    ck_assert_double_eq_tol(pp_stats_rel_error(1.0, 1.5), -0.5, 1e-15);
    ck_assert_double_eq(pp_stats_rel_error(3.0, 3.0), 0);
    ck_assert(isnan(pp_stats_rel_error(0, 1)));
    ck_assert(isnan(pp_stats_rel_error(-1, 1)));
    ck_assert(isnan(pp_stats_rel_error(1, NAN)));
    ck_assert(isnan(pp_stats_rel_error(INFINITY, 1)));
}
END_TEST

static Suite *stats_suite(void) {
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("stats");
    tcase_add_test(tc, median_odd_even_empty);
    tcase_add_test(tc, median_matches_brute_force);
    tcase_add_test(tc, rel_error_convention);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return pp_test_run(stats_suite());
}
