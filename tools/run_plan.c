/*
 * run_plan.c -- `pippy run --plan`: the launcher and the per-rank driver of
 * a pipelined run (the runtime itself is executor/pp_exec.h).
 *
 * Started alone, pippy run starts `mpirun -np <pp x dp>` on itself (unless
 * the plan has one rank) and waits. Each rank writes <status>/rank-R.pid
 * when it starts, rank-R.err with its message when it fails, and
 * rank-R.done when it ends cleanly; when mpirun ends badly, the launcher
 * names every rank that died without a word (killed or crashed) and prints
 * the messages of those that failed. Under mpirun or srun already, the
 * ranks given are used.
 *
 * Rank 0 prints each step, and at the end stores the run in the database in
 * one transaction: steps, ranks (host, peak memory, busy time), and every
 * measured action.
 */
#include "tools/run_plan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comm/pp_comm.h"
#include "core/pp_plan.h"
#include "core/pp_trace.h"
#include "core/pp_zoo.h"
#include "db/pp_db.h"
#include "executor/pp_exec.h"
#include "tools/tool_common.h"

static const char *TOOL = "run";

static void status_write(const char *dir, int rank, const char *what, const char *text) {
    if (!dir) return;
    char p[4096];
    snprintf(p, sizeof p, "%s/rank-%d.%s", dir, rank, what);
    pp_io_write_atomic(p, text, strlen(text), NULL);
}

/* Stores the run (rank 0). */
static int store_run(const run_plan_opts *ro, const pp_plan *plan, const char *hash, int first, int n_steps,
                     const pp_exec_step_result *res, const pp_exec_event *ev, long long n_ev,
                     const pp_exec_rank_info *ranks, int n_ranks, double median_s, pp_err *err) {
    pp_db *db = NULL;
    pp_db_run run;
    memset(&run, 0, sizeof run);
    snprintf(run.plan_hash, sizeof run.plan_hash, "%s", hash);
    snprintf(run.model, sizeof run.model, "%s", plan->model.name);
    snprintf(run.schedule, sizeof run.schedule, "%s", plan->schedule_name);
    snprintf(run.status, sizeof run.status, "ok");
    run.pp = plan->pp;
    run.dp = plan->dp;
    run.n_ranks = n_ranks;
    run.global_batch = plan->global_batch;
    run.micro_batch = plan->micro_batch;
    run.n_microbatches = plan->n_microbatches;
    run.seq_len = plan->seq_len;
    run.first_step = first;
    run.steps = n_steps;
    run.iteration_s = median_s;
    run.tokens_per_s = median_s > 0 ? (double)plan->global_batch * plan->seq_len / median_s : 0;
    run.predicted_iteration_s = plan->prediction.present ? plan->prediction.iteration_s : 0;
    run.final_loss = n_steps ? res[n_steps - 1].loss : NAN;
    pp_db_run_step *st = calloc((size_t)(n_steps ? n_steps : 1), sizeof *st);
    pp_db_run_rank *rk = calloc((size_t)n_ranks, sizeof *rk);
    pp_db_run_event *de = calloc((size_t)(n_ev ? n_ev : 1), sizeof *de);
    int rc = -1;
    if (!st || !rk || !de) {
        pp_err_set(err, PP_ERR_NOMEM, "out of memory storing the run");
        goto done;
    }
    for (int i = 0; i < n_steps; i++)
        st[i] = (pp_db_run_step){.step = res[i].step, .loss = res[i].loss, .grad_norm = res[i].grad_norm,
                                 .seconds = res[i].seconds};
    for (int i = 0; i < n_ranks; i++) {
        rk[i].rank = ranks[i].rank;
        snprintf(rk[i].host, sizeof rk[i].host, "%s", ranks[i].host);
        rk[i].peak_bytes = ranks[i].peak_bytes;
        rk[i].busy_s = ranks[i].busy_s;
    }
    for (long long i = 0; i < n_ev; i++) {
        de[i].step = ev[i].step;
        de[i].ev = ev[i].ev;
    }
    if (pp_db_open(ro->db_path, &db, err) || pp_db_run_put(db, &run, st, n_steps, rk, n_ranks, de, n_ev, err)) goto done;
    printf("run %lld stored in %s (%d steps, %lld measured actions)\n", run.id, ro->db_path, n_steps, n_ev);
    rc = 0;
done:
    pp_db_close(db);
    free(st);
    free(rk);
    free(de);
    return rc;
}

/* Writes the measured trace (all steps) as Chrome JSON. */
static int save_trace(const char *path, const pp_exec_event *ev, long long n, pp_err *err) {
    pp_trace t;
    pp_trace_init(&t);
    int rc = 0;
    for (long long i = 0; i < n && !rc; i++) rc = pp_trace_add(&t, ev[i].ev, err);
    if (!rc) {
        pp_trace_sort(&t);
        rc = pp_trace_save_chrome(&t, path, err);
    }
    pp_trace_free(&t);
    return rc;
}

/* The driver on each rank. */
static int rank_main(int *argc, char ***argv, const run_plan_opts *ro) {
    pp_err err = {0};
    const char *sdir = getenv("PIPPY_RUN_STATUS");
    pp_comm *c = NULL;
    if (pp_comm_init(argc, argv, &c, &err)) return pp_tool_fail(TOOL, &err);
    int me = pp_comm_rank(c), rc = 1, together = 0;
    char host[128] = "", pidtxt[256];
    pp_comm_hostname(c, host, sizeof host, NULL);
    snprintf(pidtxt, sizeof pidtxt, "%ld %s\n", (long)getpid(), host);
    status_write(sdir, me, "pid", pidtxt);
    pp_plan plan;
    pp_graph g;
    int have_plan = 0, have_graph = 0, n_done = 0, first = 0;
    pp_exec *x = NULL;
    pp_exec_step_result *res = NULL;
    pp_exec_event *ev = NULL;
    pp_exec_rank_info *ranks = NULL;
    long long n_ev = 0;
    char hash[65] = "";
    memset(&plan, 0, sizeof plan);
    if (pp_plan_load(ro->plan_path, &plan, &err)) goto fail;
    have_plan = 1;
    if (pp_zoo_build(&plan.model, plan.micro_batch, plan.seq_len, plan.dtype, &g, &err)) goto fail;
    have_graph = 1;
    if (pp_plan_hash(&plan, &g, hash, &err)) goto fail;
    pp_exec_opts eo = pp_exec_defaults();
    eo.seed = ro->seed;
    eo.data_path = ro->data_path;
    eo.hyper = ro->hyper;
    eo.total_steps = ro->steps;
    eo.threads = ro->threads;
    eo.backend = (pp_backend_kind)ro->backend;
    eo.timeout_s = ro->timeout_s;
    const char *nan = getenv("PIPPY_INJECT_NAN"); /* testing: "RANK,STEP" (1-based step) */
    if (nan && sscanf(nan, "%d,%d", &eo.nan_rank, &eo.nan_step) == 2) eo.nan_step--;
    if (pp_exec_create(&plan, &g, c, &eo, &x, &err)) goto fail;
    if (ro->resume) {
        if (!ro->checkpoint_dir) {
            pp_err_set(&err, PP_ERR_INVALID, "--resume needs --checkpoint DIR");
            goto fail;
        }
        int done_steps;
        if (pp_exec_load(x, ro->checkpoint_dir, hash, &done_steps, &err)) goto fail;
        if (done_steps >= 0) first = done_steps;
        if (me == 0)
            printf(done_steps >= 0 ? "resuming from %s at step %d\n" : "no checkpoint in %s: starting at step 1\n",
                   ro->checkpoint_dir, first + 1);
    }
    int last = ro->stop_after > 0 && first + ro->stop_after < ro->steps ? first + ro->stop_after : ro->steps;
    if (me == 0) {
        printf("running %s: plan %.12s, %s, pp %d x dp %d, %d stages, %d microbatches of %d x %d tokens, steps %d..%d of %d\n",
               plan.model.name, hash, plan.schedule_name, plan.pp, plan.dp, plan.n_stages, plan.n_microbatches,
               plan.micro_batch, plan.seq_len, first + 1, last, ro->steps);
        fflush(stdout);
    }
    res = calloc((size_t)(last - first + 1), sizeof *res);
    if (!res) {
        pp_err_set(&err, PP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int s = first; s < last; s++) {
        if (pp_exec_step(x, s, &res[n_done], &err)) {
            together = pp_exec_failed_together(x);
            goto fail;
        }
        n_done++;
        const pp_exec_step_result *r = &res[n_done - 1];
        if (me == 0 && ((s + 1) % ro->log_every == 0 || s == first || s + 1 == last)) {
            printf("step %4d/%d  loss %.6f  grad-norm %.4f  lr %.2e  %.0f tokens/s  %.1f ms\n", s + 1, ro->steps,
                   r->loss, r->grad_norm, r->lr, (double)plan.global_batch * plan.seq_len / r->seconds,
                   r->seconds * 1e3);
            fflush(stdout);
        }
        if (ro->checkpoint_dir && ro->checkpoint_every > 0 && ((s + 1) % ro->checkpoint_every == 0 || s + 1 == last)) {
            if (pp_exec_save(x, ro->checkpoint_dir, s + 1, hash, &err)) goto fail;
            if (me == 0) printf("checkpoint: step %d in %s\n", s + 1, ro->checkpoint_dir);
        }
    }
    if (pp_exec_gather(x, &ev, &n_ev, &ranks, &err)) goto fail;
    if (me == 0) {
        /* The step time: the median of the steps after the first of this
         * invocation (the first pays page faults and cold caches), the
         * lower middle one on even counts; the only step when there is one. */
        int skip = n_done > 1 ? 1 : 0, nm = n_done - skip;
        double *sec = malloc((size_t)(n_done ? n_done : 1) * sizeof *sec);
        for (int i = 0; sec && i < nm; i++) sec[i] = res[skip + i].seconds;
        double med = 0;
        if (sec && nm) {
            pp_tool_sort(sec, nm);
            med = sec[(nm - 1) / 2];
        }
        free(sec);
        printf("\nmeasured: %.2f ms per step (median of %d%s), %.0f tokens/s", med * 1e3, nm,
               skip ? ", the first step left out" : "", med > 0 ? (double)plan.global_batch * plan.seq_len / med : 0);
        if (plan.prediction.present && plan.prediction.iteration_s > 0)
            printf("; predicted %.2f ms (measured/predicted %.3f)", plan.prediction.iteration_s * 1e3,
                   med / plan.prediction.iteration_s);
        printf("\n");
        int n = pp_comm_size(c);
        for (int i = 0; i < n; i++) {
            char a[32];
            printf("rank %d (%s): peak memory %s bytes", i, ranks[i].host, pp_tool_fmt_count(ranks[i].peak_bytes, a, sizeof a));
            int pr = i % plan.pp;
            if (plan.prediction.present && plan.prediction.peak_memory_bytes)
                printf(" (predicted %.0f, measured/predicted %.3f)", plan.prediction.peak_memory_bytes[pr],
                       ranks[i].peak_bytes / plan.prediction.peak_memory_bytes[pr]);
            printf(", busy %.1f%%\n", med > 0 && n_done ? 100 * ranks[i].busy_s / (med * n_done) : 0);
        }
        if (ro->trace_path && save_trace(ro->trace_path, ev, n_ev, &err)) goto fail;
        if (ro->trace_path) printf("trace: %s (Chrome JSON)\n", ro->trace_path);
        if (ro->use_db && store_run(ro, &plan, hash, first, n_done, res, ev, n_ev, ranks, n, med, &err)) goto fail;
    }
    status_write(sdir, me, "done", "ok\n");
    rc = 0;
    goto done;
fail:
    if (!together || me == 0) fprintf(stderr, "pippy run: %s\n", err.msg);
    status_write(sdir, me, "err", err.msg);
    if (!together) {
        fflush(stdout);
        fflush(stderr);
        pp_comm_abort(c, 1);
    }
    status_write(sdir, me, "done", "failed together\n");
    rc = 1;
done:
    free(res);
    free(ev);
    free(ranks);
    pp_exec_free(x);
    if (have_graph) pp_graph_free(&g);
    if (have_plan) pp_plan_free(&plan);
    pp_comm_free(c);
    return rc;
}

/* The launcher: mpirun -np N <this program> <args>, then the report. */
static int launch(int argc, char **argv, int n_ranks, const run_plan_opts *ro) {
    char self[4096], np[16], sdir[] = "/tmp/pippy-run.XXXXXX";
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return pp_tool_usage_error(TOOL, "cannot find this program to start it under mpirun");
    self[k] = '\0';
    const char *status = ro->status_dir;
    if (!status) {
        if (!mkdtemp(sdir)) return pp_tool_usage_error(TOOL, "cannot make a status folder: %s", strerror(errno));
        status = sdir;
    } else if (mkdir(status, 0755) != 0 && errno != EEXIST) {
        return pp_tool_usage_error(TOOL, "--status-dir %s: %s", status, strerror(errno));
    }
    snprintf(np, sizeof np, "%d", n_ranks);
    char **args = calloc((size_t)argc + 8, sizeof *args);
    if (!args) return 1;
    int a = 0;
    args[a++] = "mpirun";
    if (getuid() == 0) args[a++] = "--allow-run-as-root";
    args[a++] = "--oversubscribe";
    args[a++] = "-np";
    args[a++] = np;
    args[a++] = self;
    for (int i = 1; i < argc; i++) args[a++] = argv[i];
    args[a] = NULL;
    fflush(stdout);
    double t0 = (double)time(NULL);
    pid_t pid = fork();
    if (pid < 0) return pp_tool_usage_error(TOOL, "cannot start mpirun");
    if (pid == 0) {
        setenv("PIPPY_RUN_STATUS", status, 1);
        execvp("mpirun", args);
        fprintf(stderr, "pippy run: cannot run mpirun (install openmpi-bin)\n");
        _exit(127);
    }
    free(args);
    int st = 0;
    waitpid(pid, &st, 0);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    if (rc != 0) {
        /* Name every rank that died without a message. */
        int silent = 0;
        for (int r = 0; r < n_ranks; r++) {
            char p[4200], *text = NULL;
            size_t len;
            snprintf(p, sizeof p, "%s/rank-%d.err", status, r);
            if (access(p, F_OK) == 0) continue;
            snprintf(p, sizeof p, "%s/rank-%d.done", status, r);
            if (access(p, F_OK) == 0) continue;
            snprintf(p, sizeof p, "%s/rank-%d.pid", status, r);
            if (pp_io_read_file(p, &text, &len, NULL) == 0) {
                long rp = 0;
                char h[128] = "?";
                sscanf(text, "%ld %127s", &rp, h);
                free(text);
                fprintf(stderr, "pippy run: rank %d (pid %ld on %s) ended without a message: killed or crashed\n", r, rp,
                        h);
                silent++;
            }
        }
        fprintf(stderr, "pippy run: the run failed after %.0f s (exit %d)%s\n", (double)time(NULL) - t0, rc,
                silent ? "" : "; the failing rank's message is above");
    }
    if (!ro->status_dir) {
        for (int r = 0; r < n_ranks; r++) {
            static const char *ext[] = {"pid", "err", "done"};
            for (int e = 0; e < 3; e++) {
                char p[4200];
                snprintf(p, sizeof p, "%s/rank-%d.%s", status, r, ext[e]);
                unlink(p);
            }
        }
        rmdir(status);
    }
    return rc ? 1 : 0;
}

int run_plan_main(int argc, char **argv, const run_plan_opts *ro) {
    if (pp_comm_under_mpi()) return rank_main(&argc, &argv, ro);
    /* Not under mpirun: the plan decides how many ranks to start. */
    pp_plan plan;
    pp_err err = {0};
    if (pp_plan_load(ro->plan_path, &plan, &err)) return pp_tool_fail(TOOL, &err);
    int n = plan.pp * plan.dp;
    pp_plan_free(&plan);
    if (n == 1) return rank_main(&argc, &argv, ro);
    return launch(argc, argv, n, ro);
}
