/*
 * test_run_print.c -- what a run prints (executor/pp_run_print.h): the notes
 * of a pipelined run and their log_every filter, the measured-beside-
 * predicted summary, the trace file, how a launched run ended, and the step
 * lines, JSON and closing lines of a single-process run (a short real
 * pp_train_logged of gpt2-tiny included).
 */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/pp_test.h"

#include "core/pp_io.h"
#include "core/pp_json.h"
#include "executor/pp_run_print.h"

/* A FILE* whose text is read back with take(). */
typedef struct capture {
    char *buf;
    size_t len;
    FILE *f;
} capture;

static void cap_open(capture *c) {
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    ck_assert_ptr_nonnull(c->f);
}

static char *cap_take(capture *c) {
    fclose(c->f);
    return c->buf;
}

static pp_plan small_plan(void) {
    pp_plan p;
    memset(&p, 0, sizeof p);
    snprintf(p.model.name, sizeof p.model.name, "gpt2-tiny");
    snprintf(p.schedule_name, sizeof p.schedule_name, "1f1b");
    p.pp = 2;
    p.dp = 1;
    p.n_stages = 2;
    p.n_microbatches = 4;
    p.micro_batch = 2;
    p.global_batch = 8;
    p.seq_len = 16;
    return p;
}

START_TEST(test_notes) {
    pp_plan plan = small_plan();
    capture c;
    cap_open(&c);
    pp_run_printer pr = {.f = c.f, .plan = &plan, .hash = "0123456789abcdef0123", .checkpoint_dir = "ck",
                         .total_steps = 10, .log_every = 4, .print = 1};
    pp_exec_step_result res = {.loss = 2.5, .grad_norm = 1.25, .lr = 1e-3, .seconds = 0.5};
    pp_run_print_note(&pr, &(pp_run_note){.kind = PP_RUN_RESUMED, .step = 2});
    pp_run_print_note(&pr, &(pp_run_note){.kind = PP_RUN_STARTING, .step = 2, .last = 8});
    ck_assert_int_eq(pr.first, 2);
    for (int s = 2; s < 8; s++) pp_run_print_note(&pr, &(pp_run_note){.kind = PP_RUN_STEP, .step = s, .last = 8, .result = &res});
    pp_run_print_note(&pr, &(pp_run_note){.kind = PP_RUN_CHECKPOINT, .step = 8});
    pp_run_print_note(&pr, &(pp_run_note){.kind = PP_RUN_STOPPING, .message = "stopping now"});
    char *t = cap_take(&c);
    ck_assert_ptr_nonnull(strstr(t, "resuming from ck at step 3\n"));
    ck_assert_ptr_nonnull(strstr(t, "running gpt2-tiny: plan 0123456789ab, 1f1b, pp 2 x dp 1, 2 stages, 4 microbatches "
                                    "of 2 x 16 tokens, steps 3..8 of 10\n"));
    /* the first step (3), every 4th (4, 8) and the last (8): three lines */
    ck_assert_ptr_nonnull(strstr(t, "step    3/10  loss 2.500000  grad-norm 1.2500  lr 1.00e-03  256 tokens/s  500.0 ms\n"));
    ck_assert_ptr_nonnull(strstr(t, "step    4/10"));
    ck_assert_ptr_nonnull(strstr(t, "step    8/10"));
    ck_assert_ptr_null(strstr(t, "step    5/10"));
    ck_assert_ptr_null(strstr(t, "step    7/10"));
    ck_assert_ptr_nonnull(strstr(t, "checkpoint: step 8 in ck\nstopping now\n"));
    free(t);
    /* A printer without print says nothing. */
    cap_open(&c);
    pr.f = c.f;
    pr.print = 0;
    pp_run_print_note(&pr, &(pp_run_note){.kind = PP_RUN_STOPPING, .message = "x"});
    t = cap_take(&c);
    ck_assert_str_eq(t, "");
    free(t);
}
END_TEST

START_TEST(test_summary) {
    pp_plan plan = small_plan();
    pp_run_rank ranks[2] = {{.rank = 0, .host = "a", .peak_bytes = 1234567, .busy_s = 0.2},
                            {.rank = 1, .host = "b", .peak_bytes = 1000, .busy_s = 0.1}};
    pp_run_result r;
    memset(&r, 0, sizeof r);
    r.median_s = 0.1;
    r.median_of = 3;
    r.first_left_out = 1;
    r.n_done = 4;
    r.ranks = ranks;
    double peaks[2] = {2000000, 0};
    capture c;
    cap_open(&c);
    pp_run_print_summary(c.f, &plan, &r, 2, 0.05, peaks);
    char *t = cap_take(&c);
    ck_assert_str_eq(t, "\nmeasured: 100.00 ms per step (median of 3, the first step left out), 1280 tokens/s; "
                        "predicted 50.00 ms (measured/predicted 2.000)\n"
                        "rank 0 (a): peak memory 1,234,567 bytes (predicted 2000000, measured/predicted 0.617), busy 50.0%\n"
                        "rank 1 (b): peak memory 1,000 bytes, busy 25.0%\n");
    free(t);
    cap_open(&c);
    pp_run_print_summary(c.f, &plan, &r, 1, 0, NULL);
    t = cap_take(&c);
    ck_assert_ptr_null(strstr(t, "predicted"));
    free(t);
}
END_TEST

START_TEST(test_trace_file) {
    char dir[] = "/tmp/pp_run_print_XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.json", dir);
    pp_run_event ev[2] = {{.step = 0, .ev = {.rank = 1, .stage = 1, .mb = 0, .start = 0.2, .end = 0.3}},
                          {.step = 0, .ev = {.rank = 0, .stage = 0, .mb = 0, .start = 0.0, .end = 0.1}}};
    pp_err err = {0};
    ck_assert_msg(pp_run_save_trace(path, ev, 2, &err) == 0, "%s", err.msg);
    pp_json *j = NULL;
    ck_assert_msg(pp_json_parse_file(path, &j, &err) == 0, "%s", err.msg);
    pp_json_free(j);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir/t.json", dir);
    ck_assert_int_ne(pp_run_save_trace(bad, ev, 2, &err), 0);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_launch_end) {
    capture c;
    cap_open(&c);
    pp_run_print_launch_end(c.f, "pippy run", 1, &(pp_launch_result){.signal = 2, .seconds = 3});
    pp_run_print_launch_end(c.f, "pippy run", 1, &(pp_launch_result){.exit_code = 7, .seconds = 4});
    pp_run_print_launch_end(c.f, "pippy run", 1, &(pp_launch_result){.exit_code = 9, .died = 1, .seconds = 5});
    pp_run_print_launch_end(c.f, "pippy run", 0, &(pp_launch_result){.seconds = 5});
    char *t = cap_take(&c);
    char want[512];
    snprintf(want, sizeof want,
             "pippy run: interrupted by %s after 3 s\n"
             "pippy run: the run failed after 4 s (exit 7); the failing rank's message is above\n"
             "pippy run: the run failed after 5 s (exit 9)\n",
             pp_launch_signal_name(2));
    ck_assert_str_eq(t, want);
    free(t);
}
END_TEST

START_TEST(test_train_lines_and_json) {
    capture c;
    cap_open(&c);
    for (int s = 1; s <= 5; s++)
        pp_train_print_step(c.f, 2, &(pp_train_step){.step = s, .steps = 5, .loss = 1, .seconds = 0.001});
    char *t = cap_take(&c);
    ck_assert_ptr_nonnull(strstr(t, "step    1/5  loss 1.0000"));
    ck_assert_ptr_nonnull(strstr(t, "step    2/5"));
    ck_assert_ptr_nonnull(strstr(t, "step    4/5"));
    ck_assert_ptr_nonnull(strstr(t, "step    5/5"));
    ck_assert_ptr_null(strstr(t, "step    3/5"));
    free(t);

    pp_train_opts o = {.steps = 2, .batch = 4, .microbatches = 2, .seq = 8, .threads = 1, .seed = 7};
    pp_train_summary sum = {.data_source = "d", .data_tokens = 12345, .unigram_entropy = 2, .params = 1000,
                            .first_loss = 4, .final_loss = 1, .peak_bytes = 2048};
    pp_train_step st[2] = {{.step = 1, .loss = 4}, {.step = 2, .loss = NAN}};
    pp_jw w;
    pp_jw_init(&w);
    pp_train_json(&w, "m", &o, &sum, st);
    char *text;
    size_t len;
    pp_err err = {0};
    ck_assert_int_eq(pp_jw_finish(&w, &text, &len, &err), 0);
    pp_json *j;
    ck_assert_msg(pp_json_parse(text, len, "t", &j, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(pp_json_get(j, "model")->str, "m");
    ck_assert_int_eq(pp_json_get(j, "data_tokens")->inum, 12345);
    ck_assert_int_eq(pp_json_get(j, "seed")->inum, 7);
    pp_json *sr = pp_json_get(j, "step_results");
    ck_assert_int_eq(sr->n, 2);
    ck_assert_int_eq(pp_json_get(sr->items[1], "step")->inum, 2);
    ck_assert_int_eq(pp_json_get(sr->items[1], "loss")->type, PP_JSON_NULL);
    pp_json_free(j);
    free(text);

    cap_open(&c);
    pp_train_print_summary(c.f, &o, &sum);
    t = cap_take(&c);
    ck_assert_ptr_nonnull(strstr(t, "\ndata: d, 12,345 tokens\nparameters: 1,000; backend peak memory 2,048 bytes\n"));
    ck_assert_ptr_nonnull(strstr(t, "loss: first step 4.0000, last 2 steps 1.0000 nats/token (1.443 bits): 0.50 of the"));
    free(t);
}
END_TEST

START_TEST(test_train_logged) {
    pp_err err = {0};
    char path[4096];
    pp_model_config cfg;
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    pp_train_opts o = {.steps = 3, .batch = 2, .microbatches = 1, .seq = 8, .threads = 1, .seed = 1,
                       .hyper = pp_adamw_defaults()};
    o.hyper.warmup = 1;
    capture c;
    cap_open(&c);
    pp_jw w;
    pp_jw_init(&w);
    pp_train_summary sum;
    ck_assert_msg(pp_train_logged(&cfg, &o, c.f, 2, &w, &sum, &err) == 0, "%s", err.msg);
    char *t = cap_take(&c);
    ck_assert_ptr_nonnull(strstr(t, "training gpt2-tiny: 3 steps of 2 x 8 tokens in 1 microbatches, 1 thread, seed 1\n"));
    ck_assert_ptr_nonnull(strstr(t, "step    1/3"));
    ck_assert_ptr_nonnull(strstr(t, "step    2/3"));
    ck_assert_ptr_nonnull(strstr(t, "step    3/3"));
    free(t);
    char *text;
    size_t len;
    ck_assert_int_eq(pp_jw_finish(&w, &text, &len, &err), 0);
    pp_json *j;
    ck_assert_msg(pp_json_parse(text, len, "t", &j, &err) == 0, "%s", err.msg);
    pp_json *sr = pp_json_get(j, "step_results");
    ck_assert_int_eq(sr->n, 3);
    ck_assert_int_eq(pp_json_get(sr->items[2], "step")->inum, 3);
    ck_assert(fabs(pp_json_get(j, "final_loss")->num - sum.final_loss) < 1e-9);
    pp_json_free(j);
    free(text);
    /* A refused option fails and leaves nothing in the JSON. */
    o.microbatches = 3;
    cap_open(&c);
    pp_jw_init(&w);
    ck_assert_int_ne(pp_train_logged(&cfg, &o, c.f, 1, &w, &sum, &err), 0);
    pp_jw_free(&w);
    free(cap_take(&c));
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("run_print");
    TCase *tc = tcase_create("run_print");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_notes);
    tcase_add_test(tc, test_summary);
    tcase_add_test(tc, test_trace_file);
    tcase_add_test(tc, test_launch_end);
    tcase_add_test(tc, test_train_lines_and_json);
    tcase_add_test(tc, test_train_logged);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
