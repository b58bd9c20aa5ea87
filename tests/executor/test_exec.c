/*
 * test_exec.c -- the executor on one process (MPI singleton): a one-stage
 * plan computes exactly what the single-process trainer computes;
 * checkpoints resume bit for bit and refuse what is not theirs (another
 * plan, a truncated file, a file whose SHA-256 does not match); a save
 * removes only the checkpoint it replaces; pp_exec_ckpt_open checks the
 * folder before step 1; a plan for more ranks than the run has, or
 * with a deadlocking schedule, is refused before any compute. The
 * multi-rank equality (every schedule, 2 and 4 ranks, dp) runs under
 * mpirun in tests/integration/exec.sh.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/pp_test.h"

#include "comm/pp_comm.h"
#include "core/pp_io.h"
#include "executor/pp_exec.h"
#include "executor/pp_trainer.h"
#include "planner/pp_schedgen.h"
#include "tests/executor/plan_fixture.h"

#define MICRO 2
#define SEQ 16
#define M 2
#define STEPS 4

static pp_comm *comm; /* one MPI init for the whole suite */
static pp_model_config cfg;
static pp_graph g;
static char dir[64];

static void setup(void) {
    pp_err err = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_zoo_build(&cfg, MICRO, SEQ, PP_DTYPE_F32, &g, &err) == 0, "%s", err.msg);
    snprintf(dir, sizeof dir, "/tmp/pp_exec_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
    pp_graph_free(&g);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A one-stage plan with schedule `kind` (pp 1). */
static void one_stage_plan(pp_schedule_kind kind, pp_plan *plan) {
    pp_err err = {0};
    pp_sched t;
    ck_assert_msg(pp_schedule_generate(kind, 1, M, 1, &t, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_test_make_plan(&cfg, &g, &t, pp_schedule_name(kind), 1, 1, MICRO, M, SEQ, plan, &err) == 0, "%s",
                  err.msg);
    pp_sched_free(&t);
}

static pp_exec_opts opts(void) {
    pp_exec_opts o = pp_exec_defaults();
    o.total_steps = STEPS;
    o.hyper.warmup = 1;
    o.timeout_s = 10;
    return o;
}

typedef struct losses {
    double loss[STEPS], norm[STEPS];
} losses;

static void on_step(void *ctx, const pp_train_step *s) {
    ((losses *)ctx)->loss[s->step - 1] = s->loss;
    ((losses *)ctx)->norm[s->step - 1] = s->grad_norm;
}

START_TEST(test_one_stage_equals_trainer) {
    pp_err err = {0};
    losses ref;
    pp_train_opts to = {.steps = STEPS, .batch = MICRO * M, .microbatches = M, .seq = SEQ, .threads = 1, .seed = 1234,
                        .hyper = pp_adamw_defaults()};
    to.hyper.warmup = 1;
    pp_train_summary sum;
    ck_assert_msg(pp_train(&cfg, &to, on_step, &ref, &sum, &err) == 0, "%s", err.msg);
    for (int kind = PP_SCHEDULE_GPIPE; kind <= PP_SCHEDULE_1F1B; kind++) {
        pp_plan plan;
        one_stage_plan((pp_schedule_kind)kind, &plan);
        pp_exec_opts o = opts();
        pp_exec *x;
        ck_assert_msg(pp_exec_create(&plan, &g, comm, &o, &x, &err) == 0, "%s", err.msg);
        for (int s = 0; s < STEPS; s++) {
            pp_exec_step_result r;
            ck_assert_msg(pp_exec_step(x, s, &r, &err) == 0, "%s", err.msg);
            /* One stage, the same order of every sum: bit for bit. */
            ck_assert_msg(r.loss == ref.loss[s], "step %d: loss %.9g vs %.9g", s, r.loss, ref.loss[s]);
            ck_assert_msg(fabs(r.grad_norm - ref.norm[s]) <= 1e-12 * ref.norm[s], "step %d: norm %.17g vs %.17g", s,
                          r.grad_norm, ref.norm[s]);
        }
        long long n_ev;
        const pp_run_event *ev = pp_exec_events(x, &n_ev);
        /* Per step: M forwards, M backwards, one optimizer event. */
        ck_assert_int_eq(n_ev, (long long)STEPS * (2 * M + 1));
        for (long long i = 0; i < n_ev; i++) ck_assert(ev[i].ev.end >= ev[i].ev.start && ev[i].ev.start >= 0);
        ck_assert(pp_exec_busy_s(x) > 0);
        ck_assert(pp_exec_peak_bytes(x) > pp_graph_range_param_bytes(&g, 0, g.n_ops));
        pp_exec_free(x);
        pp_plan_free(&plan);
    }
}
END_TEST

/* Runs steps [from, to) of a fresh executor, resuming from dir when from > 0;
 * returns the losses in out[from..to). */
static void run_steps(const pp_plan *plan, const char *hash, int from, int to, int save_at, double *out) {
    pp_err err = {0};
    pp_exec_opts o = opts();
    pp_exec *x;
    ck_assert_msg(pp_exec_create(plan, &g, comm, &o, &x, &err) == 0, "%s", err.msg);
    if (from > 0) {
        int done;
        ck_assert_msg(pp_exec_load(x, dir, hash, &done, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(done, from);
    }
    for (int s = from; s < to; s++) {
        pp_exec_step_result r;
        ck_assert_msg(pp_exec_step(x, s, &r, &err) == 0, "%s", err.msg);
        out[s] = r.loss;
        if (s + 1 == save_at) ck_assert_msg(pp_exec_save(x, dir, s + 1, hash, &err) == 0, "%s", err.msg);
    }
    pp_exec_free(x);
}

START_TEST(test_checkpoint_resumes_bit_for_bit) {
    pp_err err = {0};
    pp_plan plan;
    one_stage_plan(PP_SCHEDULE_1F1B, &plan);
    char hash[65], other[65];
    ck_assert_int_eq(pp_plan_hash(&plan, &g, hash, &err), 0);
    double whole[STEPS], resumed[STEPS];
    run_steps(&plan, hash, 0, STEPS, 0, whole);
    run_steps(&plan, hash, 0, 2, 2, resumed);
    char p[256];
    snprintf(p, sizeof p, "%s/latest", dir);
    ck_assert_int_eq(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/stage-0.step-2.ckpt", dir);
    ck_assert_int_eq(access(p, F_OK), 0);
    run_steps(&plan, hash, 2, STEPS, 0, resumed);
    for (int s = 2; s < STEPS; s++) ck_assert_msg(whole[s] == resumed[s], "step %d: %.17g vs %.17g", s, whole[s], resumed[s]);
    /* A later save replaces the older stage file. */
    run_steps(&plan, hash, 2, 3, 3, resumed);
    ck_assert_int_ne(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/stage-0.step-3.ckpt", dir);
    ck_assert_int_eq(access(p, F_OK), 0);

    pp_exec_opts o = opts();
    pp_exec *x;
    int done = 7;
    ck_assert_int_eq(pp_exec_create(&plan, &g, comm, &o, &x, &err), 0);
    /* Another plan's checkpoint. */
    memcpy(other, hash, 65);
    other[0] = other[0] == 'a' ? 'b' : 'a';
    ck_assert_int_eq(pp_exec_load(x, dir, other, &done, &err), -1);
    ck_assert_msg(strstr(err.msg, "the checkpoint is of plan") != NULL, "%s", err.msg);
    /* No checkpoint at all: nothing loaded, not an error. */
    ck_assert_int_eq(pp_exec_load(x, "/nonexistent-pippy-dir", hash, &done, &err), 0);
    ck_assert_int_eq(done, -1);
    /* A truncated stage file is named. */
    ck_assert_int_eq(truncate(p, 200), 0);
    ck_assert_int_eq(pp_exec_load(x, dir, hash, &done, &err), -1);
    ck_assert_msg(strstr(err.msg, "stage-0.step-3.ckpt: truncated") != NULL, "%s", err.msg);
    pp_exec_free(x);
    pp_plan_free(&plan);
}
END_TEST

/* Overwrites n floats of the file at byte offset off with v. */
static void poke_floats(const char *path, long off, int n, float v) {
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
    for (int i = 0; i < n; i++) ck_assert_int_eq(fwrite(&v, sizeof v, 1, f), 1);
    ck_assert_int_eq(fclose(f), 0);
}

static int exists(const char *d, const char *name) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", d, name);
    return access(p, F_OK) == 0;
}

/* Every checkpoint file carries a SHA-256: 50 overwritten floats of a stage
 * file, or one changed byte of "latest", are found and the file named. */
START_TEST(test_checkpoint_checksum) {
    pp_err err = {0};
    pp_plan plan;
    one_stage_plan(PP_SCHEDULE_1F1B, &plan);
    char hash[65], p[256];
    ck_assert_int_eq(pp_plan_hash(&plan, &g, hash, &err), 0);
    double l[STEPS];
    run_steps(&plan, hash, 0, 2, 2, l);
    pp_exec_opts o = opts();
    pp_exec *x;
    int done = 7;
    ck_assert_int_eq(pp_exec_create(&plan, &g, comm, &o, &x, &err), 0);
    /* Whole, it loads. */
    ck_assert_msg(pp_exec_load(x, dir, hash, &done, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(done, 2);
    pp_exec_free(x);
    /* 50 floats of the parameters overwritten, the length unchanged. */
    snprintf(p, sizeof p, "%s/stage-0.step-2.ckpt", dir);
    poke_floats(p, 128 + 4 * 100, 50, 0.125f);
    ck_assert_int_eq(pp_exec_create(&plan, &g, comm, &o, &x, &err), 0);
    ck_assert_int_eq(pp_exec_load(x, dir, hash, &done, &err), -1);
    ck_assert_msg(strstr(err.msg, "stage-0.step-2.ckpt: checksum mismatch") != NULL, "%s", err.msg);
    ck_assert_int_eq(pp_exec_failed_together(x), 1);
    pp_exec_free(x);
    /* A fresh checkpoint, then "latest" changed by one byte. */
    run_steps(&plan, hash, 0, 2, 2, l);
    snprintf(p, sizeof p, "%s/latest", dir);
    char *text;
    size_t len;
    ck_assert_int_eq(pp_io_read_file(p, &text, &len, &err), 0);
    char *k = strstr(text, "step 2");
    ck_assert_ptr_nonnull(k);
    k[5] = '1';
    ck_assert_int_eq(pp_io_write_atomic(p, text, len, &err), 0);
    free(text);
    ck_assert_int_eq(pp_exec_create(&plan, &g, comm, &o, &x, &err), 0);
    ck_assert_int_eq(pp_exec_load(x, dir, hash, &done, &err), -1);
    ck_assert_msg(strstr(err.msg, "latest: checksum mismatch") != NULL, "%s", err.msg);
    pp_exec_free(x);
    pp_plan_free(&plan);
}
END_TEST

/* A save removes only the checkpoint it replaces: a stage file of another
 * step that this executor neither wrote nor loaded stays. */
START_TEST(test_save_keeps_other_checkpoints) {
    pp_err err = {0};
    pp_plan plan;
    one_stage_plan(PP_SCHEDULE_1F1B, &plan);
    char hash[65], a[256], b[256];
    ck_assert_int_eq(pp_plan_hash(&plan, &g, hash, &err), 0);
    double l[STEPS];
    run_steps(&plan, hash, 0, 2, 2, l);
    /* Someone else's stage file of step 9 in the same folder. */
    snprintf(a, sizeof a, "%s/stage-0.step-2.ckpt", dir);
    snprintf(b, sizeof b, "%s/stage-0.step-9.ckpt", dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp %s %s", a, b);
    ck_assert_int_eq(system(cmd), 0);
    run_steps(&plan, hash, 2, 3, 3, l); /* loads step 2, saves step 3 */
    ck_assert(exists(dir, "stage-0.step-3.ckpt"));
    ck_assert(!exists(dir, "stage-0.step-2.ckpt")); /* the one it resumed from: replaced */
    ck_assert(exists(dir, "stage-0.step-9.ckpt"));  /* not its own: kept */
    pp_plan_free(&plan);
}
END_TEST

/* pp_exec_ckpt_open before step 1: a missing folder is created, a file or
 * a folder holding a checkpoint is refused (nothing touched), --resume
 * without 'latest' says what the folder holds, overwrite replaces. */
START_TEST(test_ckpt_open) {
    pp_err err = {0};
    pp_plan plan;
    one_stage_plan(PP_SCHEDULE_1F1B, &plan);
    char hash[65], sub[128], file[128];
    ck_assert_int_eq(pp_plan_hash(&plan, &g, hash, &err), 0);
    pp_exec_opts o = opts();
    pp_exec *x;
    int done = 7;
    ck_assert_int_eq(pp_exec_create(&plan, &g, comm, &o, &x, &err), 0);
    snprintf(sub, sizeof sub, "%s/new", dir);
    ck_assert_msg(pp_exec_ckpt_open(x, sub, PP_EXEC_CKPT_NEW, hash, &done, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(done, 0);
    struct stat sb;
    ck_assert(stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode));
    ck_assert_int_eq(pp_exec_ckpt_open(x, sub, PP_EXEC_CKPT_RESUME, hash, &done, &err), -1);
    ck_assert_msg(strstr(err.msg, "no checkpoint to resume (no 'latest'): the folder holds nothing") != NULL, "%s",
                  err.msg);
    snprintf(file, sizeof file, "%s/afile", dir);
    ck_assert_int_eq(pp_io_write_atomic(file, "x", 1, &err), 0);
    ck_assert_int_eq(pp_exec_ckpt_open(x, file, PP_EXEC_CKPT_NEW, hash, &done, &err), -1);
    ck_assert_msg(strstr(err.msg, "afile: the checkpoint folder is not a folder") != NULL, "%s", err.msg);
    ck_assert_int_eq(pp_exec_failed_together(x), 1);
    pp_exec_free(x);
    double l[STEPS];
    run_steps(&plan, hash, 0, 2, 2, l); /* a checkpoint of step 2 in dir */
    ck_assert_int_eq(pp_exec_create(&plan, &g, comm, &o, &x, &err), 0);
    ck_assert_int_eq(pp_exec_ckpt_open(x, dir, PP_EXEC_CKPT_NEW, hash, &done, &err), -1);
    ck_assert_msg(strstr(err.msg, "already holds a checkpoint this run did not write: latest (format 2, plan ") != NULL,
                  "%s", err.msg);
    ck_assert_int_eq(err.code, PP_ERR_INVALID);
    ck_assert(exists(dir, "latest") && exists(dir, "stage-0.step-2.ckpt"));
    /* Allowed to overwrite: the first save replaces step 2's files. */
    ck_assert_msg(pp_exec_ckpt_open(x, dir, PP_EXEC_CKPT_OVERWRITE, hash, &done, &err) == 0, "%s", err.msg);
    pp_exec_step_result r;
    ck_assert_int_eq(pp_exec_step(x, 0, &r, &err), 0);
    ck_assert_msg(pp_exec_save(x, dir, 1, hash, &err) == 0, "%s", err.msg);
    ck_assert(exists(dir, "stage-0.step-1.ckpt") && !exists(dir, "stage-0.step-2.ckpt"));
    pp_exec_free(x);
    /* Resume: loads, and says how far it got. */
    ck_assert_int_eq(pp_exec_create(&plan, &g, comm, &o, &x, &err), 0);
    ck_assert_msg(pp_exec_ckpt_open(x, dir, PP_EXEC_CKPT_RESUME, hash, &done, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(done, 1);
    pp_exec_free(x);
    pp_plan_free(&plan);
}
END_TEST

START_TEST(test_refused_before_compute) {
    pp_err err = {0};
    pp_sched t;
    pp_plan plan;
    /* A 2-rank plan on a 1-rank run. */
    ck_assert_int_eq(pp_schedule_generate(PP_SCHEDULE_1F1B, 2, 4, 1, &t, &err), 0);
    ck_assert_msg(pp_test_make_plan(&cfg, &g, &t, "1f1b", 2, 1, MICRO, 4, SEQ, &plan, &err) == 0, "%s", err.msg);
    pp_sched_free(&t);
    pp_exec_opts o = opts();
    pp_exec *x = (pp_exec *)&plan;
    ck_assert_int_eq(pp_exec_create(&plan, &g, comm, &o, &x, &err), -1);
    ck_assert_ptr_null(x);
    ck_assert_msg(strstr(err.msg, "the plan needs 2 ranks (pp 2 x dp 1), but this run has 1") != NULL, "%s", err.msg);
    pp_plan_free(&plan);
    /* A one-rank table whose backward comes before its forward. */
    one_stage_plan(PP_SCHEDULE_GPIPE, &plan);
    pp_sched_rank *row = &plan.schedule.ranks[0];
    pp_action a = row->acts[0];
    row->acts[0] = row->acts[row->n - 1];
    row->acts[row->n - 1] = a;
    ck_assert_int_eq(pp_exec_create(&plan, &g, comm, &o, &x, &err), -1);
    ck_assert_msg(strstr(err.msg, "before") != NULL || strstr(err.msg, "deadlock") != NULL, "%s", err.msg);
    pp_plan_free(&plan);
}
END_TEST

START_TEST(test_nan_names_the_rank) {
    pp_err err = {0};
    pp_plan plan;
    one_stage_plan(PP_SCHEDULE_1F1B, &plan);
    pp_exec_opts o = opts();
    o.nan_rank = 0;
    o.nan_step = 1;
    pp_exec *x;
    ck_assert_int_eq(pp_exec_create(&plan, &g, comm, &o, &x, &err), 0);
    pp_exec_step_result r;
    ck_assert_int_eq(pp_exec_step(x, 0, &r, &err), 0);
    ck_assert_int_eq(pp_exec_step(x, 1, &r, &err), -1);
    ck_assert_msg(strstr(err.msg, "rank 0, step 2: the loss is not finite") != NULL, "%s", err.msg);
    ck_assert_int_eq(pp_exec_failed_together(x), 1);
    pp_exec_free(x);
    pp_plan_free(&plan);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("exec");
    TCase *tc = tcase_create("one process");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_one_stage_equals_trainer);
    tcase_add_test(tc, test_checkpoint_resumes_bit_for_bit);
    tcase_add_test(tc, test_checkpoint_checksum);
    tcase_add_test(tc, test_save_keeps_other_checkpoints);
    tcase_add_test(tc, test_ckpt_open);
    tcase_add_test(tc, test_refused_before_compute);
    tcase_add_test(tc, test_nan_names_the_rank);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    pp_err err = {0};
    if (pp_comm_init(NULL, NULL, &comm, &err)) {
        fprintf(stderr, "test_exec: %s\n", err.msg);
        return 1;
    }
    int rc = pp_test_run(suite());
    pp_comm_free(comm);
    return rc;
}
