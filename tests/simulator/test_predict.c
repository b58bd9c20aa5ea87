/*
 * test_predict.c -- the one prediction path (simulator/pp_predict.h): each
 * rule against figures worked by hand or closed forms.
 *   - the FLOP rate rule (--tflops, half the first device's peak, 1e12);
 *   - device speed relative to the first device; a stage on a device of
 *     half the speed takes exactly twice as long;
 *   - links: measured within a host, the spec's between hosts, what-if
 *     figures over both; no inter-host figure: measured everywhere;
 *   - the data-parallel ring at its slowest hop: replicas across hosts pay
 *     2 (dp - 1) inter-host latencies, on one host intra-host ones;
 *   - the measured all-reduce's per-hop figures reproduce it exactly;
 *   - unit costs reproduce 1F1B's closed form (m + p - 1)(F + B);
 *   - memory limits (mem_cap) decide `fits`;
 *   - a plan predicts as its layout does, and bad layouts are refused.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pp_test.h"

#include "core/pp_cluster.h"
#include "core/pp_zoo.h"
#include "planner/pp_schedgen.h"
#include "simulator/pp_pipeline.h"
#include "simulator/pp_predict.h"

/* Two hosts of two devices: host a at speed 1, host b at speed 0.5. */
static const char *TWO_HOSTS =
    "{\"name\": \"two\", \"hosts\": ["
    "{\"name\": \"a\", \"devices\": [{\"type\": \"gpu\", \"model\": \"X1\", \"count\": 2, \"memory_gib\": 8,"
    " \"peak_tflops\": 100, \"speed\": 1.0}]},"
    "{\"name\": \"b\", \"devices\": [{\"type\": \"gpu\", \"model\": \"X2\", \"count\": 2, \"memory_gib\": 8,"
    " \"peak_tflops\": 50, \"speed\": 0.5}]}],"
    " \"links\": {\"intra_host\": {\"latency_us\": 1, \"bandwidth_gbit_s\": 800},"
    " \"inter_host\": {\"latency_us\": 10, \"bandwidth_gbit_s\": 80}}}";

static const char *ONE_SPEED =
    "{\"name\": \"even\", \"hosts\": ["
    "{\"name\": \"a\", \"count\": 2, \"devices\": [{\"type\": \"gpu\", \"model\": \"X1\", \"count\": 2,"
    " \"memory_gib\": 8, \"peak_tflops\": 100}]}],"
    " \"links\": {\"intra_host\": {\"latency_us\": 1, \"bandwidth_gbit_s\": 800},"
    " \"inter_host\": {\"latency_us\": 10, \"bandwidth_gbit_s\": 80}}}";

static void cluster(const char *text, pp_cluster *cl) {
    pp_err err = {0};
    ck_assert_msg(pp_cluster_parse(text, strlen(text), "test", cl, &err) == 0, "%s", err.msg);
}

static void tiny(pp_graph *g) {
    pp_err err = {0};
    pp_model_config cfg;
    char path[4096];
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_zoo_build(&cfg, 2, 32, PP_DTYPE_F32, g, &err) == 0, "%s", err.msg);
}

START_TEST(rate_rule) {
    pp_cluster cl;
    cluster(TWO_HOSTS, &cl);
    ck_assert_double_eq(pp_predict_rate(NULL, 0), 1e12);
    ck_assert_double_eq(pp_predict_rate(&cl, 0), 0.5 * 100e12);
    ck_assert_double_eq(pp_predict_rate(&cl, 3e12), 3e12);
    ck_assert_double_eq(pp_predict_speed(&cl, 0), 1);
    ck_assert_double_eq(pp_predict_speed(&cl, 3), 0.5);
    ck_assert_double_eq(pp_predict_speed(&cl, 99), 1); /* outside: no figure */
    ck_assert_double_eq(pp_predict_speed(NULL, 0), 1);
    pp_cluster_free(&cl);
}
END_TEST

START_TEST(link_rule) {
    pp_cluster cl;
    cluster(TWO_HOSTS, &cl);
    pp_comm_measured m = {.n_links = 2, .link_alpha_s = 5e-6, .link_beta_Bps = 2e9};
    pp_predict_input in;
    pp_predict_input_init(&in);
    in.cluster = &cl;
    double a, b;
    pp_predict_link(&in, 0, 1, &a, &b); /* spec, same host */
    ck_assert_double_eq_tol(a, 1e-6, 1e-18);
    ck_assert_double_eq_tol(b, 100e9, 1);
    pp_predict_link(&in, 1, 2, &a, &b); /* spec, across hosts */
    ck_assert_double_eq_tol(a, 10e-6, 1e-18);
    ck_assert_double_eq_tol(b, 10e9, 1);
    in.comm = &m;
    pp_predict_link(&in, 0, 1, &a, &b); /* measured within a host */
    ck_assert_double_eq(a, 5e-6);
    ck_assert_double_eq(b, 2e9);
    pp_predict_link(&in, 0, 3, &a, &b); /* the spec's between hosts */
    ck_assert_double_eq_tol(a, 10e-6, 1e-18);
    in.link_alpha_s = 7e-6; /* what-if latency over everything, bandwidth as before */
    pp_predict_link(&in, 0, 3, &a, &b);
    ck_assert_double_eq(a, 7e-6);
    ck_assert_double_eq_tol(b, 10e9, 1);
    in.link_beta_Bps = 1e9;
    pp_predict_link(&in, 0, 1, &a, &b);
    ck_assert_double_eq(b, 1e9);
    /* No inter-host figure: what was measured stands for every pair. */
    cl.inter_host.present = 0;
    pp_predict_input_init(&in);
    in.cluster = &cl;
    in.comm = &m;
    pp_predict_link(&in, 0, 3, &a, &b);
    ck_assert_double_eq(a, 5e-6);
    /* No cluster at all: measured, else free. */
    in.cluster = NULL;
    pp_predict_link(&in, -1, -1, &a, &b);
    ck_assert_double_eq(b, 2e9);
    in.comm = NULL;
    pp_predict_link(&in, -1, -1, &a, &b);
    ck_assert(a == 0 && b == 0);
    pp_cluster_free(&cl);
}
END_TEST

START_TEST(allreduce_hops_reproduce_measurement) {
    for (int n = 2; n <= 64; n *= 2) {
        double ha, hb, alpha = 30e-6, beta = 7e9;
        pp_predict_allreduce_hops(n, alpha, beta, &ha, &hb);
        for (double bytes = 0; bytes <= 1e8; bytes += 2.5e7) {
            double ring = 2.0 * (n - 1) * ha + 2.0 * (n - 1) / n * bytes / hb;
            ck_assert_double_eq_tol(ring, alpha + bytes / beta, 1e-12 * (alpha + bytes / beta));
        }
    }
}
END_TEST

START_TEST(unit_costs_closed_form) {
    pp_err err = {0};
    pp_sched s;
    int p = 4, m = 8;
    ck_assert(pp_schedule_generate(PP_SCHEDULE_1F1B, p, m, 1, &s, &err) == 0);
    pp_predict_input in;
    pp_predict_input_init(&in);
    in.sched = &s;
    pp_prediction pr;
    ck_assert_msg(pp_predict(&in, &pr, &err) == 0, "%s", err.msg);
    /* F = 1, B = I + W = 2: (m + p - 1) (F + B); bubble (p - 1) / (m + p - 1). */
    ck_assert_double_eq_tol(pr.sim.iteration_s, (m + p - 1) * 3.0, 1e-12);
    ck_assert_double_eq_tol(pr.sim.bubble_total_all, (p - 1.0) / (m + p - 1), 1e-12);
    ck_assert(pr.fits);
    ck_assert(strstr(pr.cost_source, "unit costs") != NULL);
    ck_assert_double_eq(pr.stage_t[3 * 2 + 1], 1);
    pp_prediction_free(&pr);
    pp_sched_free(&s);
}
END_TEST

/* 1F1B on two stages of gpt2-tiny, stage s on device devs[s]. */
static void two_stages(const pp_cluster *cl, const int *devs, int dp, pp_prediction *pr) {
    pp_err err = {0};
    static pp_graph g;
    static int built;
    if (!built) {
        tiny(&g);
        built = 1;
    }
    pp_sched s;
    ck_assert(pp_schedule_generate(PP_SCHEDULE_1F1B, 2, 4, 1, &s, &err) == 0);
    pp_predict_input in;
    pp_predict_input_init(&in);
    in.sched = &s;
    in.g = &g;
    in.cluster = cl;
    in.stage_devices = devs;
    in.dp = dp;
    in.samples_per_step = 8.0 * dp;
    ck_assert_msg(pp_predict(&in, pr, &err) == 0, "%s", err.msg);
    pp_sched_free(&s);
}

START_TEST(speed_divides_stage_times) {
    pp_cluster cl;
    cluster(TWO_HOSTS, &cl);
    pp_prediction fast, slow;
    int on_a[2] = {0, 1}, a_then_b[2] = {0, 2};
    two_stages(&cl, on_a, 1, &fast);
    two_stages(&cl, a_then_b, 1, &slow);
    for (int k = 0; k < 3; k++) {
        ck_assert_double_eq_tol(slow.stage_t[k], fast.stage_t[k], 1e-15);            /* stage 0: same device */
        ck_assert_double_eq_tol(slow.stage_t[3 + k], 2 * fast.stage_t[3 + k], 1e-15); /* stage 1 at half speed */
    }
    ck_assert(slow.sim.iteration_s > fast.sim.iteration_s);
    ck_assert(strstr(fast.cost_source, "FLOP") != NULL);
    ck_assert(strstr(fast.cost_source, "5e+13") != NULL); /* half of 100 TFLOP/s */
    pp_prediction_free(&fast);
    pp_prediction_free(&slow);
    pp_cluster_free(&cl);
}
END_TEST

START_TEST(dp_ring_at_slowest_hop) {
    pp_cluster cl;
    cluster(ONE_SPEED, &cl); /* two hosts of two devices, all at speed 1 */
    pp_prediction one, near, far;
    int single[2] = {0, 1};
    int same_host[4] = {0, 1, 2, 3};  /* stage 0 on devices 0, 1 (host 0); stage 1 on 2, 3 (host 1) */
    int across[4] = {0, 2, 3, 1};     /* each stage's replicas on both hosts; the pipeline still crosses */
    two_stages(&cl, single, 1, &one);
    two_stages(&cl, same_host, 2, &near);
    two_stages(&cl, across, 2, &far);
    ck_assert(near.sim.iteration_s > one.sim.iteration_s);
    ck_assert(far.sim.iteration_s > near.sim.iteration_s);
    /* The stages' parameters cross the ring at 10 vs 100 GB/s and 10 vs 1 us:
     * far - near = 2 (dp-1) (10 - 1) us + 2 (dp-1)/dp P (1/10e9 - 1/100e9)
     * for the rank with the most parameters to reduce -- at least the
     * latency part. */
    ck_assert(far.sim.iteration_s - near.sim.iteration_s >= 2 * 9e-6 - 1e-12);
    pp_prediction_free(&one);
    pp_prediction_free(&near);
    pp_prediction_free(&far);
    pp_cluster_free(&cl);
}
END_TEST

START_TEST(memory_cap_decides_fit) {
    pp_err err = {0};
    pp_cluster cl;
    cluster(ONE_SPEED, &cl);
    pp_graph g;
    tiny(&g);
    pp_sched s;
    ck_assert(pp_schedule_generate(PP_SCHEDULE_GPIPE, 2, 4, 1, &s, &err) == 0);
    pp_predict_input in;
    pp_predict_input_init(&in);
    in.sched = &s;
    in.g = &g;
    in.cluster = &cl;
    pp_prediction pr;
    ck_assert(pp_predict(&in, &pr, &err) == 0);
    ck_assert(pr.fits);
    ck_assert_double_eq(pr.mem_limit[0], 8.0 * 1024 * 1024 * 1024);
    double peak = pr.sim.peak_total_bytes[pr.worst_rank];
    pp_prediction_free(&pr);
    in.mem_cap = peak / 2;
    ck_assert(pp_predict(&in, &pr, &err) == 0);
    ck_assert(!pr.fits);
    ck_assert_double_eq(pr.mem_limit[1], peak / 2);
    pp_prediction_free(&pr);
    /* A device outside the cluster is refused, naming it. */
    int bad[2] = {0, 9};
    in.mem_cap = 0;
    in.stage_devices = bad;
    ck_assert(pp_predict(&in, &pr, &err) == -1);
    ck_assert(strstr(err.msg, "device 9") != NULL);
    pp_prediction_free(&pr);
    /* Bounds that do not cover the graph are refused. */
    int bounds[3] = {0, 3, 5};
    in.stage_devices = NULL;
    in.bounds = bounds;
    ck_assert(pp_predict(&in, &pr, &err) == -1);
    pp_prediction_free(&pr);
    pp_sched_free(&s);
    pp_graph_free(&g);
    pp_cluster_free(&cl);
}
END_TEST

START_TEST(plan_predicts_as_its_layout) {
    pp_err err = {0};
    pp_cluster cl;
    cluster(TWO_HOSTS, &cl);
    pp_graph g;
    tiny(&g);
    pp_plan plan;
    memset(&plan, 0, sizeof plan);
    ck_assert(pp_schedule_generate(PP_SCHEDULE_ZBH1, 2, 4, 1, &plan.schedule, &err) == 0);
    plan.cluster = cl;
    plan.pp = 2;
    plan.dp = 1;
    plan.n_stages = 2;
    plan.global_batch = 8;
    plan.seq_len = 32;
    pp_plan_stage st[2];
    int devs[2] = {1, 3}, bounds[3];
    memset(st, 0, sizeof st);
    ck_assert(pp_pipeline_split_even(&g, 2, bounds, &err) == 0);
    for (int s = 0; s < 2; s++) {
        st[s].index = s;
        st[s].rank = s;
        st[s].op_lo = bounds[s];
        st[s].op_hi = bounds[s + 1];
        st[s].devices = &devs[s];
    }
    plan.stages = st;
    pp_prediction a, b;
    ck_assert_msg(pp_predict_plan(&plan, &g, NULL, &a, &err) == 0, "%s", err.msg);
    pp_predict_input in;
    pp_predict_input_init(&in);
    in.sched = &plan.schedule;
    in.g = &g;
    in.bounds = bounds;
    in.stage_devices = devs;
    in.cluster = &cl;
    in.samples_per_step = 8;
    in.tokens_per_step = 8 * 32;
    ck_assert(pp_predict(&in, &b, &err) == 0);
    ck_assert_double_eq(a.sim.iteration_s, b.sim.iteration_s);
    ck_assert_double_eq(a.sim.tokens_per_s, b.sim.tokens_per_s);
    ck_assert_double_eq_tol(a.sim.tokens_per_s, 256 / a.sim.iteration_s, 1e-9);
    ck_assert(strstr(a.link_source, "spec") != NULL);
    ck_assert(pp_prediction_to_plan(&a, &plan, &err) == 0);
    ck_assert_double_eq(plan.prediction.iteration_s, a.sim.iteration_s);
    ck_assert_double_eq(plan.prediction.peak_memory_bytes[1], a.sim.peak_total_bytes[1]);
    free(plan.prediction.peak_memory_bytes);
    pp_prediction_free(&a);
    pp_prediction_free(&b);
    pp_sched_free(&plan.schedule);
    pp_graph_free(&g);
    pp_cluster_free(&cl);
}
END_TEST

static Suite *predict_suite(void) {
    Suite *s = suite_create("predict");
    TCase *tc = tcase_create("rules");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rate_rule);
    tcase_add_test(tc, link_rule);
    tcase_add_test(tc, allreduce_hops_reproduce_measurement);
    tcase_add_test(tc, unit_costs_closed_form);
    tcase_add_test(tc, speed_divides_stage_times);
    tcase_add_test(tc, dp_ring_at_slowest_hop);
    tcase_add_test(tc, memory_cap_decides_fit);
    tcase_add_test(tc, plan_predicts_as_its_layout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return pp_test_run(predict_suite());
}
