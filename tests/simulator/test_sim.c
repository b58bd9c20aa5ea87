/*
 * test_sim.c -- the simulator engine on tables built here by hand: GPipe
 * and 1F1B bubbles and in-flight peaks against their closed forms, link
 * latency and bandwidth on a two-stage pipe, FIFO sharing of one link,
 * skip connections, explicit and implied comms agreeing, memory, data
 * parallelism, and deadlocks reported.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pp_test.h"

#include "simulator/pp_sim.h"

static void gpipe(pp_sched *s, int p, int m) {
    pp_err err = {0};
    ck_assert_int_eq(pp_sched_init(s, p, &err), 0);
    for (int r = 0; r < p; r++) {
        for (int j = 0; j < m; j++) pp_sched_push(s, r, pp_action_make(PP_ACT_F, r, j), &err);
        for (int j = 0; j < m; j++) pp_sched_push(s, r, pp_action_make(PP_ACT_B, r, j), &err);
    }
}

static void onef1b(pp_sched *s, int p, int m) {
    pp_err err = {0};
    ck_assert_int_eq(pp_sched_init(s, p, &err), 0);
    for (int r = 0; r < p; r++) {
        int warm = p - r - 1 < m ? p - r - 1 : m, f = 0, b = 0;
        for (; f < warm; f++) pp_sched_push(s, r, pp_action_make(PP_ACT_F, r, f), &err);
        while (f < m) {
            pp_sched_push(s, r, pp_action_make(PP_ACT_F, r, f++), &err);
            pp_sched_push(s, r, pp_action_make(PP_ACT_B, r, b++), &err);
        }
        while (b < m) pp_sched_push(s, r, pp_action_make(PP_ACT_B, r, b++), &err);
    }
}

/* A table from CSV text (current naming). */
static void from_csv(pp_sched *s, const char *csv) {
    pp_err err = {0};
    ck_assert_msg(pp_sched_parse_csv(csv, strlen(csv), "test", PP_NAMING_CURRENT, s, NULL, &err) == 0, "%s", err.msg);
}

typedef struct costs {
    double f[64], i[64], w[64], af[64], aw[64], pb[64];
} costs;

static pp_sim_input input(const pp_sched *s, int S, costs *c, double F, double I, double W) {
    for (int k = 0; k < S; k++) {
        c->f[k] = F;
        c->i[k] = I;
        c->w[k] = W;
        c->af[k] = 100;
        c->aw[k] = 40;
        c->pb[k] = 1000;
    }
    pp_sim_input in = {.sched = s, .n_stages = S, .t_f = c->f, .t_i = c->i, .t_w = c->w, .act_f = c->af,
                       .act_w = c->aw, .param_bytes = c->pb, .state_per_param_byte = 3, .dp = 1,
                       .samples_per_step = 8, .tokens_per_step = 8 * 64};
    return in;
}

START_TEST(test_gpipe_and_1f1b_closed_forms) {
    pp_err err = {0};
    for (int kind = 0; kind < 2; kind++)
        for (int p = 1; p <= 8; p++)
            for (int m = 1; m <= 20; m++) {
                pp_sched s;
                costs c;
                if (kind == 0) gpipe(&s, p, m);
                else onef1b(&s, p, m);
                pp_sim_input in = input(&s, p, &c, 1.0, 1.5, 0.5);
                pp_sim_result r;
                ck_assert_msg(pp_sim_run(&in, &r, &err) == 0, "%s", err.msg);
                double T = (m + p - 1) * 3.0, want = (p - 1.0) / (m + p - 1.0);
                ck_assert_msg(fabs(r.iteration_s - T) <= 1e-9 * T, "p %d m %d: %g vs %g", p, m, r.iteration_s, T);
                ck_assert(fabs(r.bubble_total_all - want) <= 1e-9);
                ck_assert(fabs(r.bubble_ideal_all - (p - 1.0) / m) <= 1e-9);
                for (int k = 0; k < p; k++) {
                    int peak = kind == 0 ? m : (p - k < m ? p - k : m);
                    ck_assert_msg(r.peak_inflight[k] == peak, "%s p %d m %d rank %d: peak %d, want %d",
                                  kind ? "1f1b" : "gpipe", p, m, k, r.peak_inflight[k], peak);
                    ck_assert(fabs(r.peak_act_bytes[k] - 100.0 * peak) < 1e-9);
                    ck_assert(fabs(r.peak_total_bytes[k] - (100.0 * peak + 4000)) < 1e-9);
                }
                ck_assert(fabs(r.samples_per_s - 8 / T) < 1e-12);
                ck_assert_int_eq(r.n_actions, 2LL * p * m);
                pp_sim_result_free(&r);
                pp_sched_free(&s);
            }
}
END_TEST

/* Two stages, one microbatch: F0, message, F1, B1, message, B0. */
START_TEST(test_links) {
    pp_err err = {0};
    pp_sched s;
    costs c;
    gpipe(&s, 2, 1);
    pp_sim_input in = input(&s, 2, &c, 1.0, 1.0, 1.0);
    double xfer[4] = {0, 1e6, 0, 0}, alpha[4] = {0, 1e-3, 1e-3, 0}, beta[4] = {0, 1e9, 1e9, 0};
    in.xfer = xfer;
    in.alpha = alpha;
    in.beta = beta;
    in.want_trace = 1;
    in.want_critical_path = 1;
    pp_sim_result r;
    ck_assert_msg(pp_sim_run(&in, &r, &err) == 0, "%s", err.msg);
    double hop = 1e-3 + 1e6 / 1e9;
    ck_assert(fabs(r.iteration_s - (1 + hop + 1 + 2 + hop + 2)) < 1e-12);
    ck_assert_int_eq(r.n_messages, 2);
    ck_assert_int_eq(r.n_critical, 4);
    ck_assert_int_eq(r.critical[0].rank, 0);
    ck_assert_int_eq(r.critical[3].rank, 0);
    ck_assert(r.trace.n >= 4);
    pp_sim_result_free(&r);

    /* FIFO: gpipe with 3 microbatches and a link slower than compute. */
    pp_sched_free(&s);
    gpipe(&s, 2, 3);
    in = input(&s, 2, &c, 1.0, 1.0, 1.0);
    double slow[4] = {0, 1e6 * 2.0, 0, 0}; /* 2 MB at 1 GB/s: 2 ms... */
    double b2[4] = {0, 1e6, 1e6, 0};       /* ... at 1 MB/s: 2 s per message */
    in.xfer = slow;
    in.beta = b2;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), 0);
    /* Messages post at 1, 2, 3 but leave one after another: arrive 3, 5, 7.
     * Rank 1: F at 3, 5, 7; B 8..10, 10..12, 12..14; grads take 2 s each:
     * arrive 12, 14, 16; rank 0 then runs B 12..14, 14..16, 16..18. */
    ck_assert(fabs(r.iteration_s - 18.0) < 1e-12);
    pp_sim_result_free(&r);
    pp_sched_free(&s);
}
END_TEST

/* A skip connection from stage 0 to stage 2 must reach stage 2 directly:
 * with a slow 0 -> 1 link and a fast 0 -> 2 link, stage 2 waits only for
 * what stage 1 sends it. */
START_TEST(test_skip_connection) {
    pp_err err = {0};
    pp_sched s;
    costs c;
    gpipe(&s, 3, 1);
    pp_sim_input in = input(&s, 3, &c, 1.0, 1.0, 1.0);
    double xfer[9] = {0, 1, 5, 0, 0, 1, 0, 0, 0};
    double alpha[9] = {0, 0, 0.5, 0, 0, 0, 0, 0, 0};
    double beta[9] = {0};
    in.xfer = xfer;
    in.alpha = alpha;
    in.beta = beta;
    pp_sim_result r;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), 0);
    /* F0 0..1, F1 1..2, skip arrives 1.5, F2 2..3, B2 3..5, B1 5..7, B0 waits for
     * both: from 1 at 7, from 2 (skip gradient) at 5 + 0 (2 -> 0 link free). */
    ck_assert(fabs(r.iteration_s - 9.0) < 1e-12);
    ck_assert_int_eq(r.n_messages, 6);
    pp_sim_result_free(&r);
    /* Make the skip slow: stage 2's F now waits for it. */
    alpha[2] = 3.0;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), 0);
    ck_assert(fabs(r.iteration_s - 11.0) < 1e-12); /* F2 starts at 4, B0 at 9 */
    pp_sim_result_free(&r);
    pp_sched_free(&s);
}
END_TEST

/* The same schedule with explicit SEND/RECV cells simulates the same. */
START_TEST(test_explicit_comms_agree) {
    pp_err err = {0};
    pp_sched s, e;
    costs c;
    onef1b(&s, 3, 5);
    ck_assert_int_eq(pp_sched_init(&e, 3, &err), 0);
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < s.ranks[r].n; j++) {
            pp_action a = s.ranks[r].acts[j];
            if (a.type == PP_ACT_F && r > 0) pp_sched_push(&e, r, pp_action_make(PP_ACT_RECV_F, r, a.mb), &err);
            if (a.type == PP_ACT_B && r < 2) pp_sched_push(&e, r, pp_action_make(PP_ACT_RECV_B, r, a.mb), &err);
            pp_sched_push(&e, r, a, &err);
            if (a.type == PP_ACT_F && r < 2) pp_sched_push(&e, r, pp_action_make(PP_ACT_SEND_F, r, a.mb), &err);
            if (a.type == PP_ACT_B && r > 0) pp_sched_push(&e, r, pp_action_make(PP_ACT_SEND_B, r, a.mb), &err);
        }
    double xfer[9] = {0, 3e6, 0, 0, 0, 3e6, 0, 0, 0}, alpha[9], beta[9];
    for (int k = 0; k < 9; k++) {
        alpha[k] = 2e-4;
        beta[k] = 1e9;
    }
    pp_sim_result a, b;
    pp_sim_input in = input(&s, 3, &c, 1e-3, 2e-3, 1e-3);
    in.xfer = xfer;
    in.alpha = alpha;
    in.beta = beta;
    ck_assert_int_eq(pp_sim_run(&in, &a, &err), 0);
    in.sched = &e;
    ck_assert_int_eq(pp_sim_run(&in, &b, &err), 0);
    ck_assert(fabs(a.iteration_s - b.iteration_s) < 1e-15);
    ck_assert(a.iteration_s > 8 * 3e-3); /* links cost something */
    pp_sim_result_free(&a);
    pp_sim_result_free(&b);
    pp_sched_free(&s);
    pp_sched_free(&e);
}
END_TEST

START_TEST(test_data_parallel_and_tied) {
    pp_err err = {0};
    pp_sched s;
    costs c;
    gpipe(&s, 2, 4);
    pp_sim_input in = input(&s, 2, &c, 1.0, 1.0, 1.0);
    pp_sim_result r;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), 0);
    double base = r.iteration_s;
    pp_sim_result_free(&r);
    in.dp = 4;
    in.dp_alpha = 0.01;
    in.dp_beta = 1000;
    double optim[2] = {0.25, 0.25};
    in.optim_s = optim;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), 0);
    /* ring: 2 * 3 * 0.01 + 2 * 3 / 4 * 1000 / 1000 = 1.56, then the optimizer */
    ck_assert(fabs(r.iteration_s - (base + 1.56 + 0.25)) < 1e-12);
    pp_sim_result_free(&r);
    int tn[1] = {2}, ts[2] = {0, 1};
    double tb[1] = {500};
    double alpha[4] = {0, 0.1, 0.1, 0}, beta[4] = {0, 100, 100, 0};
    in.n_tied = 1;
    in.tied_n = tn;
    in.tied_stages = ts;
    in.tied_bytes = tb;
    in.alpha = alpha;
    in.beta = beta;
    in.dp = 1;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), 0);
    /* tied ring of 2: 2 * 0.1 + 500 / 100 = 5.2 after both ranks end; links also carry activations now (0 bytes + 0.1 s) */
    ck_assert(r.iteration_s > base + 5.2 + 0.25 - 1e-9);
    double with_links = r.iteration_s;
    pp_sim_result_free(&r);
    /* A measured all-reduce replaces the links for the tied sum: 2 * 0.5 +
     * 500 / 50 = 11 instead of 5.2, nothing else changes. */
    in.coll_alpha = 0.5;
    in.coll_beta = 50;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), 0);
    ck_assert_msg(fabs(r.iteration_s - (with_links - 5.2 + 11)) < 1e-9, "%.12g vs %.12g", r.iteration_s,
                  with_links - 5.2 + 11);
    pp_sim_result_free(&r);
    pp_sched_free(&s);
}
END_TEST

/* Peaks inside the passes: F of a microbatch momentarily holds peak_f on
 * top of what is held, I peak_i on top of what is held less its act_f. */
START_TEST(test_pass_peaks) {
    pp_err err = {0};
    pp_sched s;
    costs c;
    from_csv(&s, "0F0,0F1,0I0,0B1,0W0");
    pp_sim_input in = input(&s, 1, &c, 1, 1, 1);
    double pf[1] = {130}, pi[1] = {180};
    in.peak_f = pf;
    in.peak_i = pi;
    pp_sim_result r;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), 0);
    /* F1 at 100 held: 230; I0 at 200 held: 200 - 100 + 180 = 280; B1 at 140: 140 - 100 + 180 = 220 */
    ck_assert_msg(fabs(r.peak_act_bytes[0] - 280) < 1e-9, "%g", r.peak_act_bytes[0]);
    pp_sim_result_free(&r);
    pi[0] = 50; /* below what the passes keep: the between-pass peak (200) stands */
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), 0);
    ck_assert_msg(fabs(r.peak_act_bytes[0] - 230) < 1e-9, "%g", r.peak_act_bytes[0]);
    pp_sim_result_free(&r);
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_deadlock_reported) {
    pp_err err = {0};
    pp_sched s;
    costs c;
    ck_assert_int_eq(pp_sched_init(&s, 2, &err), 0);
    const int r0[][2] = {{PP_ACT_F, 0}, {PP_ACT_B, 0}, {PP_ACT_F, 1}, {PP_ACT_B, 1}};
    const int r1[][2] = {{PP_ACT_F, 0}, {PP_ACT_F, 1}, {PP_ACT_B, 0}, {PP_ACT_B, 1}};
    for (int k = 0; k < 4; k++) {
        pp_sched_push(&s, 0, pp_action_make(r0[k][0], 0, r0[k][1]), &err);
        pp_sched_push(&s, 1, pp_action_make(r1[k][0], 1, r1[k][1]), &err);
    }
    pp_sim_input in = input(&s, 2, &c, 1, 1, 1);
    pp_sim_result r;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), -1);
    ck_assert_msg(strstr(err.msg, "deadlocks") && strstr(err.msg, "rank 0 at action 1 (0B0)") &&
                      strstr(err.msg, "rank 1 at action 1 (1F1)"),
                  "%s", err.msg);
    pp_sched_free(&s);
}
END_TEST

/* The last stage's backward before its own forward: refused, not simulated short. */
START_TEST(test_backward_before_forward) {
    pp_err err = {0};
    pp_sched s;
    costs c;
    from_csv(&s, "0I0,0F0,0W0");
    pp_sim_input in = input(&s, 1, &c, 1, 1, 1);
    pp_sim_result r;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "rank 0 at action 0 (0I0) waits for an earlier action of its own"));
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_memory_timeline) {
    pp_err err = {0};
    pp_sched s;
    costs c;
    from_csv(&s, "0F0,0F1,0I0,0I1,0W1,0W0");
    pp_sim_input in = input(&s, 1, &c, 1, 1, 1);
    in.want_timeline = 1;
    pp_sim_result r;
    ck_assert_int_eq(pp_sim_run(&in, &r, &err), 0);
    /* 100, 200, then I's drop each to 40: 140, 80, then W's: 40, 0 */
    const double want[] = {100, 200, 140, 80, 40, 0};
    ck_assert_int_eq(r.timeline_n[0], 6);
    for (int k = 0; k < 6; k++) ck_assert(fabs(r.timeline[0][k].bytes - want[k]) < 1e-9);
    ck_assert(fabs(r.peak_act_bytes[0] - 200) < 1e-9);
    ck_assert_int_eq(r.peak_inflight[0], 2);
    ck_assert(fabs(r.iteration_s - 6) < 1e-12);
    ck_assert(fabs(r.bubble_total_all) < 1e-12);
    pp_sim_result_free(&r);
    pp_sched_free(&s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sim");
    TCase *tc = tcase_create("sim");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gpipe_and_1f1b_closed_forms);
    tcase_add_test(tc, test_links);
    tcase_add_test(tc, test_skip_connection);
    tcase_add_test(tc, test_explicit_comms_agree);
    tcase_add_test(tc, test_data_parallel_and_tied);
    tcase_add_test(tc, test_deadlock_reported);
    tcase_add_test(tc, test_memory_timeline);
    tcase_add_test(tc, test_pass_peaks);
    tcase_add_test(tc, test_backward_before_forward);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
