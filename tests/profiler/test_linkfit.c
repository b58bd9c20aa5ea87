/*
 * test_linkfit.c -- the alpha-beta fit of the link profiler
 * (profiler/pp_linkprof.h): exact recovery from t = a + n / b, recovery
 * within tolerance from noisy times, the refit through the origin, the
 * refusal of degenerate input, and the message-size series. No MPI.
 */
#include <check.h>

#include "tests/pp_test.h"
#include <math.h>
#include <stdlib.h>

#include "profiler/pp_linkprof.h"

/* The default sizes, 8 B .. 64 MiB. */
static int default_sizes(double *n) {
    pp_linkprof_opts o;
    pp_linkprof_opts_default(&o);
    int k = 0;
    pp_err err = {0};
    ck_assert_int_eq(pp_linkprof_sizes(&o, n, &k, &err), 0);
    return k;
}

START_TEST(sizes_default) {
    double n[PP_LINK_MAX_SIZES];
    int k = default_sizes(n);
    ck_assert_int_eq(k, 13);
    ck_assert_double_eq(n[0], 8);
    ck_assert_double_eq(n[1], 32);
    ck_assert_double_eq(n[11], 32.0 * 1024 * 1024);
    ck_assert_double_eq(n[12], 64.0 * 1024 * 1024);

    pp_linkprof_opts o;
    pp_linkprof_opts_default(&o);
    o.factor = 8;
    ck_assert_int_eq(pp_linkprof_sizes(&o, n, &k, NULL), 0);
    ck_assert_int_eq(k, 9); /* 8, 64, ..., 16 Mi, then 64 Mi */
    ck_assert_double_eq(n[7], 16.0 * 1024 * 1024);
    ck_assert_double_eq(n[8], 64.0 * 1024 * 1024);

    o.factor = 2; /* 8 .. 64 Mi by 2: 24 sizes, exact end */
    ck_assert_int_eq(pp_linkprof_sizes(&o, n, &k, NULL), 0);
    ck_assert_int_eq(k, 24);
    ck_assert_double_eq(n[23], 64.0 * 1024 * 1024);

    pp_err err = {0};
    o.min_bytes = 1;
    o.max_bytes = (size_t)1 << 30;
    o.factor = 2; /* 31 sizes fit */
    ck_assert_int_eq(pp_linkprof_sizes(&o, n, &k, &err), 0);
    ck_assert_int_eq(k, 31);
    o.factor = 1;
    ck_assert_int_eq(pp_linkprof_sizes(&o, n, &k, &err), -1);
    ck_assert_int_eq(err.code, PP_ERR_INVALID);
    pp_linkprof_opts_default(&o);
    o.max_bytes = 4;
    ck_assert_int_eq(pp_linkprof_sizes(&o, n, &k, &err), -1);
}
END_TEST

START_TEST(fit_exact) {
    double n[PP_LINK_MAX_SIZES], t[PP_LINK_MAX_SIZES];
    int k = default_sizes(n);
    const double as[] = {1.5e-6, 2e-7, 25e-6}, bs[] = {12.5e9, 3e9, 200e9};
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < k; i++) t[i] = as[c] + n[i] / bs[c];
        double a = -1, b = -1, r = -1;
        ck_assert_int_eq(pp_linkprof_fit(n, t, k, &a, &b, &r), 0);
        ck_assert_double_eq_tol(a, as[c], 1e-9 * as[c]);
        ck_assert_double_eq_tol(b, bs[c], 1e-9 * bs[c]);
        ck_assert_double_le(r, 1e-12);
    }
    /* Two points determine the line. */
    double n2[] = {100, 1e6}, t2[] = {1e-6 + 100 / 1e9, 1e-6 + 1e6 / 1e9};
    double a = 0, b = 0, r = 1;
    ck_assert_int_eq(pp_linkprof_fit(n2, t2, 2, &a, &b, &r), 0);
    ck_assert_double_eq_tol(a, 1e-6, 1e-15);
    ck_assert_double_eq_tol(b, 1e9, 1e-3);
    ck_assert_double_le(r, 1e-12);
}
END_TEST

START_TEST(fit_noisy) {
    double n[PP_LINK_MAX_SIZES], t[PP_LINK_MAX_SIZES];
    int k = default_sizes(n);
    const double a0 = 2e-6, b0 = 10e9;
    srand(12345);
    for (int trial = 0; trial < 20; trial++) {
        double sq = 0;
        for (int i = 0; i < k; i++) {
            double e = 0.05 * (2.0 * rand() / RAND_MAX - 1.0); /* +-5% */
            t[i] = (a0 + n[i] / b0) * (1 + e);
            sq += (e / (1 + e)) * (e / (1 + e));
        }
        double a = 0, b = 0, r = 0;
        ck_assert_int_eq(pp_linkprof_fit(n, t, k, &a, &b, &r), 0);
        ck_assert_double_eq_tol(a, a0, 0.10 * a0);
        ck_assert_double_eq_tol(b, b0, 0.10 * b0);
        ck_assert(isfinite(r) && r > 0);
        /* The fit minimises the relative residual, so it beats the truth. */
        ck_assert_double_le(r, sqrt(sq / k) * (1 + 1e-9));
        ck_assert_double_le(r, 0.05);
    }
}
END_TEST

START_TEST(fit_through_origin) {
    /* Times that bend down at small sizes would give a < 0: refit with a = 0. */
    double n[] = {1e3, 1e4, 1e5, 1e6}, t[] = {0.5e-7, 0.9e-6, 1e-5, 1e-4};
    double a = -1, b = 0, r = 0;
    ck_assert_int_eq(pp_linkprof_fit(n, t, 4, &a, &b, &r), 0);
    ck_assert_double_eq(a, 0);
    ck_assert(b > 0 && isfinite(b));
    ck_assert(isfinite(r) && r > 0);
}
END_TEST

START_TEST(fit_degenerate) {
    double a = 7, b = 7, r = 7;
    double n[] = {8, 64, 512}, t[] = {1e-6, 1.1e-6, 1.5e-6};
    ck_assert_int_eq(pp_linkprof_fit(n, t, 1, &a, &b, &r), -1);
    ck_assert_int_eq(pp_linkprof_fit(n, t, 0, &a, &b, &r), -1);
    ck_assert_int_eq(pp_linkprof_fit(NULL, t, 3, &a, &b, &r), -1);
    ck_assert_int_eq(pp_linkprof_fit(n, NULL, 3, &a, &b, &r), -1);
    ck_assert_int_eq(pp_linkprof_fit(n, t, 3, NULL, &b, &r), -1);
    double same[] = {64, 64, 64};
    ck_assert_int_eq(pp_linkprof_fit(same, t, 3, &a, &b, &r), -1);
    double zero_t[] = {1e-6, 0, 1.5e-6}, neg_t[] = {1e-6, -1e-6, 1.5e-6}, nan_t[] = {1e-6, NAN, 1.5e-6};
    ck_assert_int_eq(pp_linkprof_fit(n, zero_t, 3, &a, &b, &r), -1);
    ck_assert_int_eq(pp_linkprof_fit(n, neg_t, 3, &a, &b, &r), -1);
    ck_assert_int_eq(pp_linkprof_fit(n, nan_t, 3, &a, &b, &r), -1);
    double neg_n[] = {8, -64, 512}, inf_n[] = {8, INFINITY, 512};
    ck_assert_int_eq(pp_linkprof_fit(neg_n, t, 3, &a, &b, &r), -1);
    ck_assert_int_eq(pp_linkprof_fit(inf_n, t, 3, &a, &b, &r), -1);
    /* Times falling with size: no positive bandwidth. */
    double fall[] = {2e-6, 1.5e-6, 1e-6};
    ck_assert_int_eq(pp_linkprof_fit(n, fall, 3, &a, &b, &r), -1);
    /* Flat times: b = 0, infinite bandwidth, refused. */
    double flat[] = {1e-6, 1e-6, 1e-6};
    ck_assert_int_eq(pp_linkprof_fit(n, flat, 3, &a, &b, &r), -1);
    /* Outputs untouched on failure. */
    ck_assert_double_eq(a, 7);
    ck_assert_double_eq(b, 7);
    ck_assert_double_eq(r, 7);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("linkfit");
    TCase *tc = tcase_create("fit");
    tcase_add_test(tc, sizes_default);
    tcase_add_test(tc, fit_exact);
    tcase_add_test(tc, fit_noisy);
    tcase_add_test(tc, fit_through_origin);
    tcase_add_test(tc, fit_degenerate);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    Suite *s = suite();
    return pp_test_run(s);
}
