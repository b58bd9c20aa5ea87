/*
 * test_report_data.c -- the report's data preparation
 * (reports/pp_report_data.h), each function against values worked out by
 * hand: the measured throughput (the median tokens/s per schedule and
 * microbatch count over the runs of the same shape), trace rebasing, the
 * memory timeline (activations + static bytes), the optimizer bars, rank
 * peaks, stage means without the first step, the run and the step shown,
 * and the two sides put together; the errors and notes of the choices.
 */
#include "core/pp_sched.h"
#include "core/pp_trace.h"
#include "reports/pp_report_data.h"

#include <check.h>

#include "tests/pp_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static pp_trace_event ev(int rank, pp_stream st, pp_act_type a, int stage, double t0, double t1) {
    return (pp_trace_event){.rank = rank, .stream = st, .action = a, .stage = stage, .mb = 0, .start = t0, .end = t1};
}

static pp_report_run run(const char *model, const char *sched, const char *status, int dp, int seq, int m, double tps) {
    return (pp_report_run){.plan_hash = "h", .model = model, .schedule = sched, .status = status, .pp = 2, .dp = dp,
                           .micro_batch = 2, .seq_len = seq, .n_microbatches = m, .steps = 4, .tokens_per_s = tps};
}

START_TEST(measured_throughput_medians) {
    /* Newest first. 1f1b at m = 4: 100, 200, 400 -> 200 (the middle one);
     * at m = 8: 300, 500 -> 400 (the mean of the two middle values);
     * gpipe at m = 4: 50. The rest differ in status, model, dp, seq or
     * have no throughput. */
    pp_report_run runs[] = {
        run("m", "1f1b", "ok", 1, 32, 8, 300),     run("m", "1f1b", "ok", 1, 32, 4, 100),
        run("m", "gpipe", "ok", 1, 32, 4, 50),     run("m", "1f1b", "ok", 1, 32, 4, 400),
        run("m", "1f1b", "ok", 1, 32, 4, 200),     run("m", "1f1b", "ok", 1, 32, 8, 500),
        run("m", "1f1b", "failed", 1, 32, 2, 999), run("other", "1f1b", "ok", 1, 32, 2, 999),
        run("m", "zbh1", "ok", 2, 32, 2, 999),     run("m", "1f1b", "ok", 1, 32, 16, 0),
        run("m", "zbh1", "ok", 1, 64, 2, 999),
    };
    pp_report_run like = run("m", "", "", 1, 32, 0, 0);
    pp_report_tput t;
    pp_err err = {0};
    ck_assert_int_eq(pp_report_measured_tput(runs, 11, &like, &t, &err), 0);
    ck_assert_int_eq(t.n, 2);
    ck_assert_str_eq(t.series[0].name, "1f1b");
    ck_assert_ptr_eq(t.series[0].name, runs[0].schedule);
    ck_assert_int_eq(t.series[0].n, 2);
    ck_assert_double_eq(t.series[0].pts[0].x, 4);
    ck_assert_double_eq(t.series[0].pts[0].y, 200);
    ck_assert_double_eq(t.series[0].pts[1].x, 8);
    ck_assert_double_eq(t.series[0].pts[1].y, 400);
    ck_assert_str_eq(t.series[1].name, "gpipe");
    ck_assert_int_eq(t.series[1].n, 1);
    ck_assert_double_eq(t.series[1].pts[0].x, 4);
    ck_assert_double_eq(t.series[1].pts[0].y, 50);
    pp_report_tput_free(&t);
    /* No runs, or none alike: no series. */
    ck_assert_int_eq(pp_report_measured_tput(runs, 0, &like, &t, &err), 0);
    ck_assert_int_eq(t.n, 0);
    pp_report_tput_free(&t);
    like.dp = 4;
    ck_assert_int_eq(pp_report_measured_tput(runs, 11, &like, &t, &err), 0);
    ck_assert_int_eq(t.n, 0);
    pp_report_tput_free(&t);
}
END_TEST

START_TEST(trace_rebasing) {
    pp_run_event e[] = {
        {1, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 10.5, 10.6)},
        {1, ev(1, PP_STREAM_RECV, PP_ACT_RECV_F, 1, 10.2, 10.4)},
        {2, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 9.0, 9.5)}, /* another step: earlier, but not this step's */
        {1, ev(1, PP_STREAM_COMPUTE, PP_ACT_B, 1, 10.9, 11.25)},
    };
    pp_trace t;
    pp_trace_init(&t);
    pp_err err = {0};
    ck_assert_int_eq(pp_report_rebase(e, 4, 1, &t, &err), 3);
    ck_assert_int_eq(t.n, 3);
    /* Shifted by 10.2, in their order. */
    ck_assert_double_eq_tol(t.ev[0].start, 0.3, 1e-12);
    ck_assert_double_eq_tol(t.ev[0].end, 0.4, 1e-12);
    ck_assert_double_eq_tol(t.ev[1].start, 0.0, 1e-12);
    ck_assert_double_eq_tol(t.ev[1].end, 0.2, 1e-12);
    ck_assert_int_eq(t.ev[1].action, PP_ACT_RECV_F);
    ck_assert_double_eq_tol(t.ev[2].start, 0.7, 1e-12);
    ck_assert_double_eq_tol(t.ev[2].end, 1.05, 1e-12);
    ck_assert_int_eq(t.ev[2].rank, 1);
    /* A step with no events adds none. */
    ck_assert_int_eq(pp_report_rebase(e, 4, 5, &t, &err), 0);
    ck_assert_int_eq(t.n, 3);
    pp_trace_free(&t);
}
END_TEST

START_TEST(memory_timeline) {
    const pp_report_point a0[] = {{0, 100}, {1, 300}}, a1[] = {{0.5, 50}};
    const pp_report_series act[] = {{"r0", a0, 2}, {"r1", a1, 1}};
    const double total[] = {1000, 700}, peak_act[] = {300, 200}; /* static bytes 700 and 500 */
    pp_report_series *mem = NULL;
    pp_report_point *pts = NULL;
    pp_err err = {0};
    ck_assert_int_eq(pp_report_memory_timeline(act, 2, total, peak_act, &mem, &pts, &err), 0);
    ck_assert_int_eq(mem[0].n, 2);
    ck_assert_double_eq(mem[0].pts[0].x, 0);
    ck_assert_double_eq(mem[0].pts[0].y, 800);
    ck_assert_double_eq(mem[0].pts[1].x, 1);
    ck_assert_double_eq(mem[0].pts[1].y, 1000);
    ck_assert_int_eq(mem[1].n, 1);
    ck_assert_double_eq(mem[1].pts[0].x, 0.5);
    ck_assert_double_eq(mem[1].pts[0].y, 550);
    ck_assert_ptr_eq(mem[1].pts, pts + 2);
    free(mem);
    free(pts);
    /* No timeline: every rank's series is empty. */
    ck_assert_int_eq(pp_report_memory_timeline(NULL, 2, total, peak_act, &mem, &pts, &err), 0);
    ck_assert_int_eq(mem[0].n + mem[1].n, 0);
    free(mem);
    free(pts);
}
END_TEST

START_TEST(optimizer_bars) {
    /* Rank 0: 1 s of compute, busy 1.5 -> a 0.5 s bar ending with the step
     * (3 s), after its list ended (2 s): 2.5 .. 3. Rank 1: busy equals its
     * compute, no bar. Rank 2: no events, busy 0.4, list ended at 2.9, later
     * than 3 - 0.4: 2.9 .. 3.3. */
    pp_trace t, out;
    pp_trace_init(&t);
    pp_trace_init(&out);
    pp_err err = {0};
    ck_assert_int_eq(pp_trace_add(&t, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 1), &err), 0);
    ck_assert_int_eq(pp_trace_add(&t, ev(0, PP_STREAM_SEND, PP_ACT_SEND_F, 0, 1, 2), &err), 0);
    ck_assert_int_eq(pp_trace_add(&t, ev(1, PP_STREAM_COMPUTE, PP_ACT_B, 1, 0, 2), &err), 0);
    const double busy[] = {1.5, 2.0, 0.4}, end[] = {2.0, 2.5, 2.9};
    ck_assert_int_eq(pp_report_optim_bars(&t, busy, end, 3.0, 3, &out, &err), 0);
    ck_assert_int_eq(out.n, 2);
    ck_assert_int_eq(out.ev[0].rank, 0);
    ck_assert_int_eq(out.ev[0].action, PP_ACT_OPTIM);
    ck_assert_int_eq(out.ev[0].stage, -1);
    ck_assert_double_eq_tol(out.ev[0].start, 2.5, 1e-12);
    ck_assert_double_eq_tol(out.ev[0].end, 3.0, 1e-12);
    ck_assert_int_eq(out.ev[1].rank, 2);
    ck_assert_double_eq_tol(out.ev[1].start, 2.9, 1e-12);
    ck_assert_double_eq_tol(out.ev[1].end, 3.3, 1e-12);
    pp_trace_free(&t);
    pp_trace_free(&out);
}
END_TEST

START_TEST(rank_peaks_and_stage_means) {
    const pp_run_rank rows[] = {{.rank = 1, .peak_bytes = 5}, {.rank = 0, .peak_bytes = 3}, {.rank = 1, .peak_bytes = 7},
                                {.rank = 9, .peak_bytes = 1}, {.rank = -1, .peak_bytes = 2}};
    double peak[3];
    pp_report_rank_peaks(rows, 5, 3, peak);
    ck_assert_double_eq(peak[0], 3);
    ck_assert_double_eq(peak[1], 7); /* the last row of rank 1 */
    ck_assert(isnan(peak[2]));
    /* Steps 0, 1, 2 of stage 0; step 0 (the first) is left out: F (2 + 4)
     * / 2 = 3, backward (B 4 + I 1 + W 2) / 2 forwards = 3.5. Stage 1 has
     * no forward: NaN. */
    const pp_run_event e[] = {
        {0, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 10)}, {1, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 2)},
        {1, ev(0, PP_STREAM_COMPUTE, PP_ACT_B, 0, 2, 6)},  {2, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 4)},
        {2, ev(0, PP_STREAM_COMPUTE, PP_ACT_I, 0, 4, 5)},  {2, ev(0, PP_STREAM_COMPUTE, PP_ACT_W, 0, 5, 7)},
        {2, ev(1, PP_STREAM_COMPUTE, PP_ACT_W, 1, 0, 1)},
    };
    double fb[4];
    pp_err err = {0};
    ck_assert_int_eq(pp_report_run_stage_means(e, 7, 0, 3, 2, fb, &err), 0);
    ck_assert_double_eq_tol(fb[0], 3, 1e-12);
    ck_assert_double_eq_tol(fb[1], 3.5, 1e-12);
    ck_assert(isnan(fb[2]) && isnan(fb[3]));
    /* A run of one step keeps it: F (10 + 2 + 4) / 3, backward 7 / 3. */
    ck_assert_int_eq(pp_report_run_stage_means(e, 7, 0, 1, 2, fb, &err), 0);
    ck_assert_double_eq_tol(fb[0], 16.0 / 3, 1e-12);
    ck_assert_double_eq_tol(fb[1], 7.0 / 3, 1e-12);
}
END_TEST

START_TEST(run_and_step_shown) {
    pp_report_run r[5];
    for (int i = 0; i < 5; i++) r[i] = run("m", "1f1b", "ok", 1, 32, 4, 100);
    r[0].plan_hash = "other";
    r[1].status = "failed";
    r[2].steps = 0;
    ck_assert_int_eq(pp_report_newest_run(r, 5, "h"), 3);
    ck_assert_int_eq(pp_report_newest_run(r, 5, "none"), -1);
    ck_assert_int_eq(pp_report_newest_run(r, 0, "h"), -1);
    /* Steps 1..3 without step 0: 3 s, 1 s, 2 s -> the middle, 2 s, step 3. */
    const int steps[] = {0, 1, 2, 3};
    const double sec[] = {9, 3, 1, 2};
    char choice[128], note[256] = "";
    pp_err err = {0};
    ck_assert_int_eq(pp_report_pick_step(steps, sec, 4, -1, 7, choice, sizeof choice, note, sizeof note, &err), 3);
    ck_assert_str_eq(choice, "the median duration of steps 1..3, the first left out");
    ck_assert_int_eq(pp_report_pick_step(steps, sec, 4, 2, 7, choice, sizeof choice, note, sizeof note, &err), 2);
    ck_assert_str_eq(choice, "chosen with --step");
    ck_assert_int_eq(pp_report_pick_step(steps, sec, 1, -1, 7, choice, sizeof choice, note, sizeof note, &err), 0);
    ck_assert_str_eq(choice, "the run's only step");
    ck_assert_str_eq(note, "");
    ck_assert_int_eq(pp_report_pick_step(steps, sec, 4, 9, 7, choice, sizeof choice, note, sizeof note, &err), -2);
    ck_assert_str_eq(err.msg, "run 7 has no step 9 (its steps are 0..3)");
    ck_assert_str_eq(choice, "");
    ck_assert_int_eq(pp_report_pick_step(steps, sec, 0, 9, 7, choice, sizeof choice, note, sizeof note, &err), -2);
    ck_assert_str_eq(err.msg, "run 7 has no step 9: it finished no step");
    ck_assert_int_eq(pp_report_pick_step(steps, sec, 0, -1, 7, choice, sizeof choice, note, sizeof note, &err), -1);
    ck_assert_ptr_nonnull(strstr(note, "Run 7 of this plan finished no step"));
}
END_TEST

START_TEST(run_chosen) {
    /* Newest first: run 9 of another plan, run 8 failed, run 7 of this
     * plan ("h") and ok. */
    pp_report_run r[3];
    for (int i = 0; i < 3; i++) r[i] = run("m", "1f1b", "ok", 1, 32, 4, 100), r[i].id = 9 - i;
    r[0].plan_hash = "other";
    r[1].status = "failed";
    char note[512] = "";
    pp_err err = {0};
    ck_assert_int_eq(pp_report_choose_run(r, 3, "h", 0, "x.db", "p.json", note, sizeof note, &err), 2);
    ck_assert_str_eq(note, "");
    /* --run: any run of this plan, failed or not. */
    ck_assert_int_eq(pp_report_choose_run(r, 3, "h", 8, "x.db", "p.json", note, sizeof note, &err), 1);
    ck_assert_int_eq(pp_report_choose_run(r, 3, "h", 9, "x.db", "p.json", note, sizeof note, &err), -2);
    ck_assert_ptr_nonnull(strstr(err.msg, "run 9 is a run of plan other, not of p.json (plan h)"));
    ck_assert_int_eq(pp_report_choose_run(r, 3, "h", 5, "x.db", "p.json", note, sizeof note, &err), -2);
    ck_assert_str_eq(err.msg, "no run 5 in x.db (pippy db runs lists them)");
    /* No run to show: a note, not an error. */
    ck_assert_int_eq(pp_report_choose_run(r, 2, "h", 0, "x.db", "p.json", note, sizeof note, &err), -1);
    ck_assert_ptr_nonnull(strstr(note, "No run of this plan (h) in x.db"));
    ck_assert_ptr_nonnull(strstr(note, "pippy run --plan p.json --db x.db"));
    /* No database. */
    ck_assert_int_eq(pp_report_choose_run(NULL, -1, "h", 0, "x.db", "p.json", note, sizeof note, &err), -1);
    ck_assert_ptr_nonnull(strstr(note, "No database at x.db"));
    ck_assert_int_eq(pp_report_choose_run(NULL, -1, "h", 3, "x.db", "p.json", note, sizeof note, &err), -2);
    ck_assert_str_eq(err.msg, "no run 3: no database at x.db");
}
END_TEST

START_TEST(both_sides) {
    /* Predicted: two ranks, one stage each; rank 1's busy time holds 0.25 s
     * of optimizer step beyond its compute. */
    pp_trace sim;
    pp_trace_init(&sim);
    pp_err err = {0};
    ck_assert_int_eq(pp_trace_add(&sim, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 1), &err), 0);
    ck_assert_int_eq(pp_trace_add(&sim, ev(1, PP_STREAM_COMPUTE, PP_ACT_F, 1, 1, 2), &err), 0);
    const double busy[] = {1, 1.25}, end[] = {1, 2}, total[] = {10, 20}, act[] = {4, 5};
    const double stage_t[] = {1, 2, 3, 1, 0.5, 0.25};
    const pp_report_point p0[] = {{0, 4}};
    const pp_report_series acts[] = {{NULL, p0, 1}, {NULL, NULL, 0}};
    pp_report_sim in = {.n_ranks = 2, .n_stages = 2, .iteration_s = 2, .trace = &sim, .busy = busy, .end = end,
                        .peak_total_bytes = total, .peak_act_bytes = act, .act_bytes = acts, .stage_t = stage_t};
    pp_report_pred pred;
    ck_assert_int_eq(pp_report_predicted(&in, &pred, &err), 0);
    ck_assert_int_eq(pred.trace.n, 3);
    ck_assert_int_eq(pred.trace.ev[2].action, PP_ACT_OPTIM);
    ck_assert_double_eq_tol(pred.trace.ev[2].start, 2, 1e-12);
    ck_assert_double_eq_tol(pred.trace.ev[2].end, 2.25, 1e-12);
    ck_assert_double_eq(pred.stage_fb[0], 1);
    ck_assert_double_eq(pred.stage_fb[1], 5);
    ck_assert_double_eq(pred.stage_fb[2], 1);
    ck_assert_double_eq(pred.stage_fb[3], 0.75);
    ck_assert_double_eq(pred.memory[0].pts[0].y, 10); /* 4 + (10 - 4) */
    ck_assert_int_eq(pred.memory[1].n, 0);
    pp_report_pred_free(&pred);
    pp_trace_free(&sim);
    /* Measured: step 1 of steps 0..1 shown; rank 0 computes 0.5 s of it. */
    const pp_run_event e[] = {
        {0, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 3)},
        {1, ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 5, 5.5)},
        {1, ev(1, PP_STREAM_RECV, PP_ACT_RECV_F, 1, 5.25, 6)},
    };
    const pp_run_rank rows[] = {{.rank = 0, .peak_bytes = 100}};
    pp_report_run_data rd = {.ev = e, .n_ev = 3, .ranks = rows, .n_rank_rows = 1, .step = 1, .first_step = 0,
                             .n_steps = 2, .n_stages = 2, .n_ranks = 2};
    pp_report_meas meas;
    ck_assert_int_eq(pp_report_measured(&rd, &meas, &err), 0);
    ck_assert_int_eq(meas.trace.n, 2);
    ck_assert_double_eq_tol(meas.trace.ev[1].start, 0.25, 1e-12);
    ck_assert_double_eq_tol(meas.busy[0], 0.5, 1e-12);
    ck_assert_double_eq(meas.busy[1], 0); /* a receive is not busy time */
    ck_assert_double_eq(meas.peak_bytes[0], 100);
    ck_assert(isnan(meas.peak_bytes[1]));
    ck_assert_double_eq_tol(meas.stage_fb[0], 0.5, 1e-12); /* step 0's 3 s left out */
    pp_report_meas_free(&meas);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("report_data");
    TCase *tc = tcase_create("prepare");
    tcase_add_test(tc, measured_throughput_medians);
    tcase_add_test(tc, trace_rebasing);
    tcase_add_test(tc, memory_timeline);
    tcase_add_test(tc, optimizer_bars);
    tcase_add_test(tc, rank_peaks_and_stage_means);
    tcase_add_test(tc, run_and_step_shown);
    tcase_add_test(tc, run_chosen);
    tcase_add_test(tc, both_sides);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
