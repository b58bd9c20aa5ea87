/*
 * test_opprof.c -- op profiling: signatures group the ops of equal shape
 * (every block of a model shares its ops' signatures), each distinct op of
 * the four tiny families is measured with positive times and keeps exactly
 * the bytes the graph predicts, and the summary's median and spread are
 * those of the samples.
 */
#include <check.h>
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

int main(void) {
    Suite *s = suite_create("opprof");
    TCase *tc = tcase_create("opprof");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_signatures_and_measures);
    tcase_add_test(tc, test_summary);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
