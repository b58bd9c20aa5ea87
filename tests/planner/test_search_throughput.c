/*
 * test_search_throughput.c -- pp_search_throughput, the report's
 * throughput-against-microbatch-count series, against closed forms: with
 * FLOP costs and free links GPipe and 1F1B take (m + p - 1)(F + B) per step,
 * so their throughput is the same at every m and grows with m towards
 * m / (m + p - 1) of the ideal; a count the search cannot make is -1.
 */
#include <check.h>

#include "tests/pp_test.h"
#include <math.h>
#include <stdio.h>

#include "core/pp_plan.h"
#include "planner/pp_search.h"

START_TEST(gpipe_equals_1f1b_and_grows_with_m) {
    pp_err err = {0};
    pp_plan plan;
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/plan-gpt2-tiny-pp2.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_plan_load(path, &plan, &err) == 0, "%s", err.msg);
    pp_search_opts o = {.cfg = &plan.model, .cluster = &plan.cluster, .seq = plan.seq_len, .pp = plan.pp,
                        .time_limit_s = 30};
    pp_schedule_kind kinds[2] = {PP_SCHEDULE_GPIPE, PP_SCHEDULE_1F1B};
    int ms[3] = {plan.pp, 2 * plan.pp, 4 * plan.pp};
    double t[6];
    ck_assert_msg(pp_search_throughput(&o, &plan, kinds, 2, ms, 3, t, &err) == 0, "%s", err.msg);
    for (int j = 0; j < 3; j++) {
        ck_assert_msg(t[j] > 0, "gpipe m=%d: %g", ms[j], t[j]);
        ck_assert_msg(fabs(t[j] - t[3 + j]) <= 1e-9 * t[j], "m=%d: gpipe %g, 1f1b %g", ms[j], t[j], t[3 + j]);
        if (j) ck_assert_msg(t[j] > t[j - 1], "m=%d: %g not above m=%d: %g", ms[j], t[j], ms[j - 1], t[j - 1]);
    }
    /* The bubble's closed form: throughput(m) ~ m / (m + p - 1), within
     * what the optimizer step and the links add. */
    double p = plan.pp, r = t[2] / t[0], want = (4 * p / (4 * p + p - 1)) / (p / (p + p - 1));
    ck_assert_msg(r > 1 && r <= want * 1.0001, "ratio %g, closed form %g", r, want);
    /* A count the schedule cannot run: interleaved needs m a multiple of pp. */
    pp_schedule_kind il = PP_SCHEDULE_INTERLEAVED;
    int odd = 3;
    double u;
    ck_assert_int_eq(pp_search_throughput(&o, &plan, &il, 1, &odd, 1, &u, &err), 0);
    ck_assert_msg(u == -1, "interleaved at m = 3 on 2 ranks: %g", u);
    pp_plan_free(&plan);
}
END_TEST

int main(void) {
    Suite *s = suite_create("search_throughput");
    TCase *tc = tcase_create("all");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gpipe_equals_1f1b_and_grows_with_m);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
