/*
 * test_closed_forms.c -- the generated schedules simulated with equal stage
 * costs and free links against their closed forms, for every p <= 16 and
 * m <= 64 each schedule admits, to a relative error of 1e-9:
 *   GPipe, 1F1B     bubble (p - 1) / (m + p - 1) of the total
 *   interleaved     (p - 1) / (v m + p - 1)
 *   ZB-H1           idle time (p - 1)(F + I - W) per rank
 *   in flight       GPipe m, 1F1B p - r, ZB-H1 p, ZB-H2 2p - 1, interleaved
 *                   Megatron's (p - r - 1) 2 + (v - 1) p + 1
 * and every generated table is valid and deadlock-free.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pp_test.h"

#include "planner/pp_schedgen.h"
#include "simulator/pp_sim.h"

static int simulate(pp_schedule_kind k, int p, int m, int v, double F, double I, double W, pp_sim_result *r,
                    pp_sched *s) {
    pp_err err = {0};
    if (pp_schedule_check(k, p, m, v, &err)) return 1; /* not admitted */
    ck_assert_msg(pp_schedule_generate(k, p, m, v, s, &err) == 0, "%s p %d m %d: %s", pp_schedule_name(k), p, m,
                  err.msg);
    ck_assert_msg(pp_sched_validate(s, m, &err) == 0, "%s p %d m %d v %d: %s", pp_schedule_name(k), p, m, v, err.msg);
    int S = pp_sched_n_stages(s);
    double *f = malloc(sizeof(double) * (size_t)S), *i = malloc(sizeof(double) * (size_t)S),
           *w = malloc(sizeof(double) * (size_t)S);
    for (int j = 0; j < S; j++) {
        f[j] = F;
        i[j] = I;
        w[j] = W;
    }
    pp_sim_input in = {.sched = s, .n_stages = S, .t_f = f, .t_i = i, .t_w = w, .dp = 1};
    int rc = pp_sim_run(&in, r, &err);
    ck_assert_msg(rc == 0, "%s p %d m %d v %d: %s", pp_schedule_name(k), p, m, v, err.msg);
    free(f);
    free(i);
    free(w);
    return 0;
}

#define REL(a, b) (fabs((a) - (b)) <= 1e-9 * fabs(b) + 1e-15)

START_TEST(test_gpipe_1f1b) {
    pp_schedule_kind kinds[2] = {PP_SCHEDULE_GPIPE, PP_SCHEDULE_1F1B};
    int n = 0;
    for (int kk = 0; kk < 2; kk++)
        for (int p = 1; p <= 16; p++)
            for (int m = 1; m <= 64; m++) {
                pp_sim_result r;
                pp_sched s;
                if (simulate(kinds[kk], p, m, 1, 1.0, 1.25, 0.75, &r, &s)) continue;
                double want = (p - 1.0) / (m + p - 1.0);
                ck_assert_msg(REL(r.bubble_total_all, want), "%s p %d m %d: bubble %.12g, want %.12g",
                              pp_schedule_name(kinds[kk]), p, m, r.bubble_total_all, want);
                for (int k = 0; k < p; k++) {
                    int peak = pp_schedule_peak_inflight(kinds[kk], p, m, 1, k);
                    int want_peak = kk == 0 ? m : (p - k < m ? p - k : m);
                    ck_assert_int_eq(peak, want_peak);
                    ck_assert_msg(r.peak_inflight[k] == want_peak, "%s p %d m %d rank %d: in flight %d, want %d",
                                  pp_schedule_name(kinds[kk]), p, m, k, r.peak_inflight[k], want_peak);
                }
                pp_sim_result_free(&r);
                pp_sched_free(&s);
                n++;
            }
    ck_assert_int_eq(n, 2 * 16 * 64);
}
END_TEST

START_TEST(test_interleaved) {
    int n = 0;
    for (int v = 2; v <= 4; v++)
        for (int p = 1; p <= 16; p++)
            for (int m = 1; m <= 64; m++) {
                pp_sim_result r;
                pp_sched s;
                /* stage costs are a 1/v share of a rank's model slice */
                if (simulate(PP_SCHEDULE_INTERLEAVED, p, m, v, 1.0 / v, 1.0 / v, 1.0 / v, &r, &s)) continue;
                double want = (p - 1.0) / (v * m + p - 1.0);
                ck_assert_msg(REL(r.bubble_total_all, want), "interleaved p %d m %d v %d: bubble %.12g, want %.12g", p,
                              m, v, r.bubble_total_all, want);
                for (int k = 0; k < p; k++) {
                    int peak = pp_schedule_peak_inflight(PP_SCHEDULE_INTERLEAVED, p, m, v, k);
                    int mg = (p - k - 1) * 2 + (v - 1) * p + 1;
                    if (mg > v * m) mg = v * m;
                    ck_assert_int_eq(peak, mg);
                    ck_assert_msg(r.peak_inflight[k] == mg, "interleaved p %d m %d v %d rank %d: in flight %d, want %d",
                                  p, m, v, k, r.peak_inflight[k], mg);
                }
                pp_sim_result_free(&r);
                pp_sched_free(&s);
                n++;
            }
    ck_assert_int_gt(n, 100);
}
END_TEST

START_TEST(test_zbh1_zbh2) {
    int n = 0;
    for (int p = 1; p <= 16; p++)
        for (int m = p; m <= 64; m++) {
            pp_sim_result r;
            pp_sched s;
            double F = 1.0, I = 1.0, W = 0.5;
            if (simulate(PP_SCHEDULE_ZBH1, p, m, 1, F, I, W, &r, &s)) continue;
            double idle = (p - 1) * (F + I - W);
            for (int k = 0; k < p; k++) {
                ck_assert_msg(REL(r.idle[k], idle), "zbh1 p %d m %d rank %d: idle %.12g, want %.12g", p, m, k,
                              r.idle[k], idle);
                ck_assert_msg(r.peak_inflight[k] == p, "zbh1 p %d m %d rank %d: in flight %d, want %d", p, m, k,
                              r.peak_inflight[k], p);
            }
            pp_sim_result_free(&r);
            pp_sched_free(&s);
            if (simulate(PP_SCHEDULE_ZBH2, p, m, 1, F, I, W, &r, &s) == 0) {
                for (int k = 0; k < p; k++)
                    ck_assert_msg(r.peak_inflight[k] <= 2 * p - 1, "zbh2 p %d m %d rank %d: in flight %d", p, m, k,
                                  r.peak_inflight[k]);
                ck_assert_int_eq(r.peak_inflight[0], m < 2 * p - 1 ? m : 2 * p - 1);
                pp_sim_result_free(&r);
                pp_sched_free(&s);
            }
            n++;
        }
    ck_assert_int_gt(n, 500);
}
END_TEST

/* Every schedule, a grid of shapes: valid, deadlock-free, simulated. */
START_TEST(test_all_deadlock_free) {
    pp_err err = {0};
    for (int k = 0; k < PP_SCHEDULE__COUNT; k++)
        for (int p = 1; p <= 8; p++)
            for (int m = 1; m <= 24; m++) {
                pp_sched s;
                pp_sim_result r;
                if (simulate((pp_schedule_kind)k, p, m, 2, 1.0, 1.0, 1.0, &r, &s)) continue;
                ck_assert_msg(pp_sched_check_deadlock(&s, &err) == 0, "%s p %d m %d: %s", pp_schedule_name(k), p, m,
                              err.msg);
                ck_assert(r.iteration_s > 0);
                pp_sim_result_free(&r);
                pp_sched_free(&s);
            }
}
END_TEST

/* Swapping two actions of a rank of a valid generated table so that it stays
 * valid but deadlocks: the check names the cycle, and the simulator refuses. */
START_TEST(test_swap_deadlocks) {
    pp_err err = {0};
    pp_sched s;
    int found = 0;
    ck_assert_int_eq(pp_schedule_generate(PP_SCHEDULE_1F1B, 4, 8, 1, &s, &err), 0);
    ck_assert_int_eq(pp_sched_check_deadlock(&s, &err), 0);
    for (int r = 0; r < s.n_ranks && !found; r++)
        for (int j = 0; j < s.ranks[r].n && !found; j++)
        for (int q = j + 1; q < s.ranks[r].n && !found; q++) {
            pp_action *a = s.ranks[r].acts;
            pp_action t = a[j];
            a[j] = a[q];
            a[q] = t;
            if (pp_sched_validate(&s, 8, &err) == 0 && pp_sched_check_deadlock(&s, &err) != 0) {
                found = 1;
                ck_assert_msg(strstr(err.msg, "deadlock") && strstr(err.msg, "waits for rank"), "%s", err.msg);
                fprintf(stderr, "1f1b p 4 m 8, rank %d actions %d and %d swapped: %s\n", r, j, q, err.msg);
                double one[4] = {1, 1, 1, 1};
                pp_sim_input in = {.sched = &s, .n_stages = 4, .t_f = one, .t_i = one, .t_w = one, .dp = 1};
                pp_sim_result res;
                ck_assert_int_eq(pp_sim_run(&in, &res, &err), -1);
                ck_assert_ptr_nonnull(strstr(err.msg, "deadlocks"));
            } else {
                a[q] = a[j];
                a[j] = t;
            }
        }
    ck_assert_msg(found, "no deadlocking swap found");
    pp_sched_free(&s);
}
END_TEST

/* Time order or any order: the same times, bubbles and memory. */
START_TEST(test_any_order_same_results) {
    pp_err err = {0};
    for (int k = 0; k < PP_SCHEDULE__COUNT; k++)
        for (int p = 2; p <= 6; p++) {
            int m = 2 * p;
            pp_sched s;
            if (pp_schedule_check((pp_schedule_kind)k, p, m, 2, NULL)) continue;
            ck_assert_int_eq(pp_schedule_generate((pp_schedule_kind)k, p, m, 2, &s, &err), 0);
            int S = pp_sched_n_stages(&s);
            double f[64], i[64], w[64], xf[64 * 64], al[64], be[64];
            for (int j = 0; j < S; j++) {
                f[j] = 1 + 0.37 * j;
                i[j] = 1.5 - 0.05 * j;
                w[j] = 0.25 + 0.1 * (j % 3);
            }
            for (int j = 0; j < S * S; j++) xf[j] = (j % 7) * 1e5;
            for (int j = 0; j < p * p; j++) {
                al[j] = 1e-3 * (1 + j % 3);
                be[j] = 1e8;
            }
            pp_sim_input in = {.sched = &s, .n_stages = S, .t_f = f, .t_i = i, .t_w = w, .xfer = xf, .alpha = al,
                               .beta = be, .dp = 1};
            pp_sim_result a, b;
            ck_assert_int_eq(pp_sim_run(&in, &a, &err), 0);
            in.any_order = 1;
            ck_assert_int_eq(pp_sim_run(&in, &b, &err), 0);
            ck_assert_msg(a.iteration_s == b.iteration_s, "%s p %d: %.17g vs %.17g", pp_schedule_name(k), p,
                          a.iteration_s, b.iteration_s);
            for (int r = 0; r < p; r++) {
                ck_assert(a.busy[r] == b.busy[r]);
                ck_assert(a.end[r] == b.end[r]);
                ck_assert(a.peak_act_bytes[r] == b.peak_act_bytes[r]);
                ck_assert_int_eq(a.peak_inflight[r], b.peak_inflight[r]);
            }
            pp_sim_result_free(&a);
            pp_sim_result_free(&b);
            pp_sched_free(&s);
        }
}
END_TEST

int main(void) {
    Suite *s = suite_create("closed_forms");
    TCase *tc = tcase_create("closed_forms");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gpipe_1f1b);
    tcase_add_test(tc, test_interleaved);
    tcase_add_test(tc, test_zbh1_zbh2);
    tcase_add_test(tc, test_all_deadlock_free);
    tcase_add_test(tc, test_swap_deadlocks);
    tcase_add_test(tc, test_any_order_same_results);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
