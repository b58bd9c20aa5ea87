/*
 * test_opprof.c -- op profiling: signatures group the ops of equal shape
 * (every block of a model shares its ops' signatures), each distinct op of
 * the four tiny families is measured with positive times and keeps exactly
 * the bytes the graph predicts, and the summary's median and spread are
 * those of the samples: the percentile width when the rounds are alike,
 * wide enough to cover a shift between rounds, never under the timer's
 * resolution.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tests/pp_test.h"

#include "core/pp_zoo.h"
#include "profiler/pp_opprof.h"

START_TEST(test_signatures_and_measures) {
    const char *presets[] = {"gpt2-tiny", "llama-tiny", "bert-tiny", "t5-tiny"};
    pp_err err = {0};
    pp_backend *be;
    ck_assert_int_eq(pp_backend_open(PP_BACKEND_CPU, 1, &be, &err), 0);
    pp_opprof_opts o = pp_opprof_defaults();
    o.max_reps = 6;
    for (int k = 0; k < 4; k++) {
        char path[1024], a[512], b[512];
        pp_model_config cfg;
        pp_graph g;
        snprintf(path, sizeof path, "%s/configs/models/%s.json", PP_SOURCE_DIR, presets[k]);
        ck_assert_int_eq(pp_model_config_load(path, &cfg, &err), 0);
        ck_assert_int_eq(pp_zoo_build(&cfg, 2, 16, PP_DTYPE_F32, &g, &err), 0);
        int distinct = 0;
        for (int i = 0; i < g.n_ops; i++) {
            pp_opprof_signature(&g, i, a, sizeof a);
            int seen = 0;
            for (int j = 0; j < i && !seen; j++) {
                pp_opprof_signature(&g, j, b, sizeof b);
                seen = !strcmp(a, b);
            }
            if (seen) continue;
            distinct++;
            pp_op_measure m;
            ck_assert_msg(pp_opprof_measure(&g, i, be, &o, &m, &err) == 0, "%s op %s: %s", presets[k], g.ops[i].name,
                          err.msg);
            ck_assert_msg(m.t[0] > 0, "%s: %s F not timed", presets[k], a);
            ck_assert_int_ge(m.samples[0], 5);
            ck_assert_msg(m.keep_f_bytes == g.ops[i].cost.keep_f_bytes, "%s %s: kept %lld after F, graph says %lld",
                          presets[k], a, m.keep_f_bytes, g.ops[i].cost.keep_f_bytes);
            ck_assert_msg(m.keep_w_bytes == g.ops[i].cost.keep_w_bytes, "%s %s: kept %lld after I, graph says %lld",
                          presets[k], a, m.keep_w_bytes, g.ops[i].cost.keep_w_bytes);
        }
        /* Blocks of one shape share signatures: far fewer than the ops. */
        ck_assert_msg(distinct < g.n_ops / 2, "%s: %d distinct of %d ops", presets[k], distinct, g.n_ops);
        pp_graph_free(&g);
    }
    pp_backend_close(be);
}
END_TEST

START_TEST(test_summary) {
    double f[10] = {5, 1, 2, 3, 4, 6, 7, 8, 9, 10}, i[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 100}, w[10] = {0};
    double *t[3] = {f, i, w};
    pp_op_measure m;
    memset(&m, 0, sizeof m);
    pp_opprof_summarize(t, 10, &m);
    ck_assert(m.t[0] == 5.5);
    ck_assert(m.spread[0] == 0.5 * (9 - 2)); /* 90th and 10th of 1..10 (nearest rank on 0..9): 9 and 2 */
    ck_assert(m.t[1] == 1);
    ck_assert(m.spread[1] == 0); /* one outlier does not move it */
    ck_assert_int_eq(m.samples[2], 10);
}
END_TEST

/* Six rounds of two samples each: the same noise in every round. */
static void noise_rounds(double *v, double shift_from_round, double shift) {
    static const double noise[12] = {1.00, 1.04, 0.98, 1.02, 1.01, 0.97, 1.03, 0.99, 1.00, 1.05, 0.96, 1.02};
    for (int k = 0; k < 12; k++) v[k] = noise[k] + (k / 2 >= shift_from_round ? shift : 0);
}

START_TEST(test_spread_rounds) {
    double f[12], i[12], w[12];
    double *t[3] = {f, i, w};
    pp_op_measure m, one;
    /* Pure noise: every round's median lies within the percentile width,
     * so the spread is that width, as with one round. */
    noise_rounds(f, 99, 0);
    noise_rounds(i, 99, 0);
    noise_rounds(w, 99, 0);
    pp_opprof_summarize_rounds(t, 12, 6, 0, &m);
    pp_opprof_summarize(t, 12, &one);
    /* sorted: .96 .97 .98 .99 1 1 1.01 1.02 1.02 1.03 1.04 1.05; p10 = [1], p90 = [10] */
    ck_assert_double_eq_tol(m.t[0], 1.005, 1e-12);
    ck_assert_double_eq_tol(m.spread[0], 0.5 * (1.04 - 0.97), 1e-12);
    ck_assert_double_eq_tol(one.spread[0], m.spread[0], 1e-12);
    ck_assert_int_eq(m.samples[0], 12);
    /* The last round 0.5 slower (a load change late in the run): the
     * percentile width alone ((1.46 - 0.98) / 2 = 0.24) misses it; the
     * spread covers the distance of that round's median from the median. */
    noise_rounds(f, 5, 0.5);
    pp_opprof_summarize(t, 12, &one);
    pp_opprof_summarize_rounds(t, 12, 6, 0, &m);
    double late = 0.5 * (0.96 + 1.02) + 0.5; /* round 5's median */
    ck_assert_msg(one.spread[0] < late - m.t[0], "one round: spread %g should miss the shift", one.spread[0]);
    ck_assert_double_eq_tol(m.spread[0], late - m.t[0], 1e-12);
    ck_assert_msg(fabs(late - m.t[0]) <= m.spread[0], "the shifted round's median %g is outside %g +- %g", late,
                  m.t[0], m.spread[0]);
    /* Half the run 0.3 faster: a repeat run at either level is covered. */
    noise_rounds(f, 3, -0.3);
    pp_opprof_summarize_rounds(t, 12, 6, 0, &m);
    for (int k = 0; k < 6; k++) {
        double r = 0.5 * (f[2 * k] + f[2 * k + 1]);
        ck_assert_msg(fabs(r - m.t[0]) <= m.spread[0] + 1e-12, "round %d median %g outside %g +- %g", k, r, m.t[0],
                      m.spread[0]);
    }
    ck_assert_double_eq_tol(m.spread[1], 0.5 * (1.04 - 0.97), 1e-12); /* I unshifted: unchanged */
    /* Identical timings: the spread is the timer's resolution, not 0. */
    for (int k = 0; k < 12; k++) w[k] = 3e-7;
    pp_opprof_summarize_rounds(t, 12, 6, 4e-8, &m);
    ck_assert_double_eq(m.t[2], 3e-7);
    ck_assert_double_eq(m.spread[2], 4e-8);
    /* More rounds than samples: one round; no samples: zeros. */
    pp_opprof_summarize_rounds(t, 3, 6, 0, &m);
    ck_assert_int_eq(m.samples[0], 3);
    ck_assert_double_eq_tol(m.t[0], 1.00, 1e-12); /* median of 1.00 1.04 0.98 */
    pp_opprof_summarize_rounds(t, 0, 6, 1e-8, &m);
    ck_assert_int_eq(m.samples[1], 0);
    ck_assert(m.t[1] == 0 && m.spread[1] == 0);
}
END_TEST

START_TEST(test_timer_resolution) {
    double r = pp_opprof_timer_resolution();
    ck_assert_msg(r > 0 && r < 1e-3, "timer resolution %g s", r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("opprof");
    TCase *tc = tcase_create("opprof");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_signatures_and_measures);
    tcase_add_test(tc, test_summary);
    tcase_add_test(tc, test_spread_rounds);
    tcase_add_test(tc, test_timer_resolution);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
