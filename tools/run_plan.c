/*
 * run_plan.c -- `pippy run --plan`: the launcher and the per-rank driver of
 * a pipelined run (the runtime itself is executor/pp_exec.h).
 *
 * Started alone, pippy run starts `mpirun -np <pp x dp>` on itself (unless
 * the plan has one rank) in a process group of its own, with stdin from
 * /dev/null, and waits. Each rank writes <status>/rank-R.pid when it starts
 * (after its signal handlers are in place), rank-R.err with its message
 * when it fails, rank-R.sig when it receives SIGINT, SIGTERM or SIGUSR1
 * (the signal and its sender), and rank-R.done when it ends cleanly. When
 * mpirun ends badly, the launcher names each rank that died without a word
 * (killed by SIGKILL or crashed), and the ranks that mpirun then stopped
 * because of it. Under mpirun or srun already, the ranks given are used.
 *
 * Signals: SIGINT, SIGTERM or SIGHUP to the launcher is passed to every
 * rank as SIGUSR1 through mpirun (Open MPI forwards SIGUSR1 to the job; its
 * own handling of SIGTERM and SIGINT kills the job at once). A rank that
 * receives SIGINT, SIGTERM or SIGUSR1 notes it (a second SIGINT or SIGTERM
 * ends it at once); before each step the ranks agree whether any did, and
 * if so stop together: a checkpoint of the
 * steps done (with --checkpoint), the run stored as interrupted with the message
 * "interrupted by ...", exit 1. A second signal to the launcher, or a
 * grace of STOP_GRACE_S seconds, makes it send SIGTERM to mpirun, and
 * KILL_AFTER_S seconds later SIGKILL to mpirun and to the ranks on this
 * host, so every process is gone within 10 s.
 *
 * Rank 0 opens (and migrates) the database before the first step, so an
 * unusable one stops the run before any training, and at the end stores
 * the run in one transaction: steps, ranks (host, peak memory, busy time),
 * and every measured action. If storing fails, the run is written as JSON
 * beside the database (or in the current folder) and the path is printed.
 * The checkpoint folder is checked before the first step too
 * (pp_exec_ckpt_open): created if missing, writable, and not holding
 * another run's checkpoint unless --resume or --overwrite-checkpoint.
 */
#include "tools/run_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comm/pp_comm.h"
#include "core/pp_plan.h"
#include "core/pp_json.h"
#include "core/pp_trace.h"
#include "core/pp_zoo.h"
#include "db/pp_db.h"
#include "executor/pp_exec.h"
#include "core/pp_stats.h"
#include "tools/tool_common.h"

static const char *TOOL = "run";

/* Seconds the launcher gives the ranks to stop after their current step
 * once interrupted, then seconds between SIGTERM and SIGKILL. */
#define STOP_GRACE_S 6.0
#define KILL_AFTER_S 2.0

static void status_write(const char *dir, int rank, const char *what, const char *text) {
    if (!dir) return;
    char p[4096];
    snprintf(p, sizeof p, "%s/rank-%d.%s", dir, rank, what);
    pp_io_write_atomic(p, text, strlen(text), NULL);
}

static const char *sig_name(int sig) {
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
    case SIGKILL: return "SIGKILL";
    default: return "a signal";
    }
}

/* ---- signals on a rank ---- */

static volatile sig_atomic_t rank_sig;     /* the first SIGINT, SIGTERM or SIGUSR1 this rank received, or 0 */
static char sig_path[4200], sig_tmp[4240]; /* <status>/rank-R.sig and its temporary name; "" without a status folder */

/* Decimal v into b (async-signal-safe); returns the digits written. */
static size_t put_long(char *b, long v) {
    char t[24];
    size_t n = 0, k = 0;
    if (v < 0) {
        b[k++] = '-';
        v = -v;
    }
    do t[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof t);
    while (n) b[k++] = t[--n];
    return k;
}

/* Notes the first signal and leaves "<signal> <sender pid>" in rank-R.sig;
 * the ranks act on it between steps. A second SIGINT or SIGTERM ends the
 * rank at once, as if there were no handler. */
static void on_rank_signal(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (rank_sig) {
        if (sig != SIGUSR1) {
            signal(sig, SIG_DFL);
            raise(sig);
        }
        return;
    }
    rank_sig = sig;
    if (!sig_path[0]) return;
    int e = errno;
    char text[64];
    size_t k = put_long(text, sig);
    text[k++] = ' ';
    k += put_long(text + k, si ? (long)si->si_pid : 0);
    text[k++] = '\n';
    int fd = open(sig_tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, text, k);
        (void)w;
        close(fd);
        rename(sig_tmp, sig_path);
    }
    errno = e;
}

static void rank_signals(const char *sdir, int me) {
    if (sdir) {
        snprintf(sig_path, sizeof sig_path, "%s/rank-%d.sig", sdir, me);
        snprintf(sig_tmp, sizeof sig_tmp, "%s/.rank-%d.sig.tmp", sdir, me);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rank_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

/* ---- storing the run ---- */

/* The run as JSON, the fallback when the database refuses it (format in
 * docs/formats.md): into dir/pippy-run-<UTC time>-<pid>.json. Returns 0
 * with the path in out, or -1 with err. */
static int save_run_json(const char *dir, const char *db_path, const char *why, const pp_db_run *run,
                         const pp_db_run_step *st, int n_steps, const pp_run_rank *rk, int n_ranks,
                         const pp_run_event *de, long long n_ev, char *out, size_t n_out, pp_err *err) {
    pp_jw w;
    pp_jw_init(&w);
    pp_jw_obj_begin(&w);
    pp_jw_key(&w, "pippy_run");
    pp_jw_int(&w, 1);
    pp_jw_key(&w, "database");
    pp_jw_str(&w, db_path);
    pp_jw_key(&w, "database_error");
    pp_jw_str(&w, why);
    pp_jw_key(&w, "run");
    pp_jw_obj_begin(&w);
#define JS(k) (pp_jw_key(&w, #k), pp_jw_str(&w, run->k))
#define JI(k) (pp_jw_key(&w, #k), pp_jw_int(&w, run->k))
#define JN(k) (pp_jw_key(&w, #k), pp_jw_num(&w, run->k))
    JS(plan_hash), JS(model), JS(schedule), JS(status), JS(message);
    JI(pp), JI(dp), JI(n_ranks), JI(global_batch), JI(micro_batch), JI(n_microbatches), JI(seq_len);
    JI(first_step), JI(steps);
    JN(iteration_s), JN(tokens_per_s), JN(predicted_iteration_s), JN(final_loss);
#undef JS
#undef JI
#undef JN
    pp_jw_obj_end(&w);
    pp_jw_key(&w, "steps");
    pp_jw_arr_begin(&w);
    for (int i = 0; i < n_steps; i++) {
        pp_jw_arr_begin_inline(&w);
        pp_jw_int(&w, st[i].step);
        pp_jw_num(&w, st[i].loss);
        pp_jw_num(&w, st[i].grad_norm);
        pp_jw_num(&w, st[i].seconds);
        pp_jw_arr_end(&w);
    }
    pp_jw_arr_end(&w);
    pp_jw_key(&w, "ranks");
    pp_jw_arr_begin(&w);
    for (int i = 0; i < n_ranks; i++) {
        pp_jw_arr_begin_inline(&w);
        pp_jw_int(&w, rk[i].rank);
        pp_jw_str(&w, rk[i].host);
        pp_jw_int(&w, rk[i].peak_bytes);
        pp_jw_num(&w, rk[i].busy_s);
        pp_jw_arr_end(&w);
    }
    pp_jw_arr_end(&w);
    pp_jw_key(&w, "events");
    pp_jw_arr_begin(&w);
    for (long long i = 0; i < n_ev; i++) {
        const pp_trace_event *e = &de[i].ev;
        pp_jw_arr_begin_inline(&w);
        pp_jw_int(&w, de[i].step);
        pp_jw_int(&w, e->rank);
        pp_jw_int(&w, e->stream);
        pp_jw_int(&w, e->action);
        pp_jw_int(&w, e->stage);
        pp_jw_int(&w, e->mb);
        pp_jw_num(&w, e->start);
        pp_jw_num(&w, e->end);
        pp_jw_int(&w, e->bytes);
        pp_jw_arr_end(&w);
    }
    pp_jw_arr_end(&w);
    pp_jw_obj_end(&w);
    char *text = NULL;
    size_t len = 0;
    if (pp_jw_finish(&w, &text, &len, err)) return -1;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tmv));
    snprintf(out, n_out, "%s/pippy-run-%s-%ld.json", dir, stamp, (long)getpid());
    int rc = pp_io_write_atomic(out, text, len, err);
    free(text);
    return rc;
}

/* Stores the run (rank 0) in db. When the database refuses it, writes the
 * run as JSON beside the database, else in the current folder, says where on
 * stderr and returns -1 with err saying so. */
static int store_run(pp_db *db, const run_plan_opts *ro, const pp_plan *plan, const char *hash, const char *status,
                     const char *message, int first, int n_steps, const pp_exec_step_result *res,
                     const pp_run_event *ev, long long n_ev, const pp_run_rank *ranks, int n_ranks,
                     double median_s, pp_err *err) {
    pp_db_run run;
    memset(&run, 0, sizeof run);
    snprintf(run.plan_hash, sizeof run.plan_hash, "%s", hash);
    snprintf(run.model, sizeof run.model, "%s", plan->model.name);
    snprintf(run.schedule, sizeof run.schedule, "%s", plan->schedule_name);
    snprintf(run.status, sizeof run.status, "%s", status);
    snprintf(run.message, sizeof run.message, "%s", message);
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
    const pp_run_rank *rk = ranks;
    const pp_run_event *de = ev;
    int rc = -1;
    if (!st) {
        pp_err_set(err, PP_ERR_NOMEM, "out of memory storing the run");
        goto done;
    }
    for (int i = 0; i < n_steps; i++)
        st[i] = (pp_db_run_step){.step = res[i].step, .loss = res[i].loss, .grad_norm = res[i].grad_norm,
                                 .seconds = res[i].seconds};
    if (pp_db_run_put(db, &run, st, n_steps, rk, n_ranks, de, n_ev, err) == 0) {
        printf("run %lld stored in %s (%d steps, %lld measured actions%s)\n", run.id, ro->db_path, n_steps, n_ev,
               strcmp(status, "ok") ? ", status interrupted" : "");
        rc = 0;
        goto done;
    }
    /* The database said no: keep the run in a file rather than lose it. */
    char why[PP_ERR_MSG_MAX], dir[4096], path[4200];
    snprintf(why, sizeof why, "%s", err->msg);
    snprintf(dir, sizeof dir, "%s", ro->db_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    pp_err e2 = {0};
    int saved = save_run_json(dir, ro->db_path, why, &run, st, n_steps, rk, n_ranks, de, n_ev, path, sizeof path, &e2) == 0;
    if (!saved && strcmp(dir, "."))
        saved = save_run_json(".", ro->db_path, why, &run, st, n_steps, rk, n_ranks, de, n_ev, path, sizeof path, &e2) == 0;
    if (saved)
        pp_err_set(err, PP_ERR_DB, "could not store the run in %s: %s; the run is saved in %s instead", ro->db_path,
                   why, path);
    else
        pp_err_set(err, PP_ERR_DB, "could not store the run in %s: %s; nor save it as a file: %s (the run is lost)",
                   ro->db_path, why, e2.msg);
done:
    free(st);
    return rc;
}

/* Writes the measured trace (all steps) as Chrome JSON. */
static int save_trace(const char *path, const pp_run_event *ev, long long n, pp_err *err) {
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

/* 1 when any rank has been signalled (collective): every rank then stops
 * at the same step. *sig: the signal; -1 on a communication failure. */
static int agree_stop(pp_comm *c, int *sig, pp_err *err) {
    int v[1] = {rank_sig};
    if (pp_comm_allreduce_max_i32(c, v, 1, err)) return -1;
    *sig = v[0];
    return v[0] != 0;
}

/* The driver on each rank. */
static int rank_main(int *argc, char ***argv, const run_plan_opts *ro) {
    pp_err err = {0};
    const char *sdir = getenv("PIPPY_RUN_STATUS");
    pp_comm *c = NULL;
    if (pp_comm_init(argc, argv, &c, &err)) return pp_tool_fail(TOOL, &err);
    int me = pp_comm_rank(c), rc = 1, together = 0, stop_sig = 0;
    rank_signals(sdir, me);
    char host[128] = "", pidtxt[256];
    pp_comm_hostname(c, host, sizeof host, NULL);
    snprintf(pidtxt, sizeof pidtxt, "%ld %s\n", (long)getpid(), host);
    status_write(sdir, me, "pid", pidtxt);
    pp_plan plan;
    pp_graph g;
    int have_plan = 0, have_graph = 0, n_done = 0, first = 0, saved_at = -1;
    pp_exec *x = NULL;
    pp_db *db = NULL;
    pp_exec_step_result *res = NULL;
    pp_run_event *ev = NULL;
    pp_run_rank *ranks = NULL;
    long long n_ev = 0;
    char hash[65] = "", stop_msg[256] = "";
    memset(&plan, 0, sizeof plan);
    if (pp_plan_load(ro->plan_path, &plan, &err)) goto fail;
    have_plan = 1;
    if (pp_zoo_build(&plan.model, plan.micro_batch, plan.seq_len, plan.dtype, &g, &err)) goto fail;
    have_graph = 1;
    if (pp_plan_hash(&plan, &g, hash, &err)) goto fail;
    /* The database, opened and migrated before any training: a run it
     * could not store is refused now, not after the last step. */
    if (ro->use_db) {
        int bad[1] = {me == 0 && pp_db_open(ro->db_path, &db, &err) != 0};
        pp_err e2 = {0};
        if (pp_comm_allreduce_max_i32(c, bad, 1, &e2)) {
            err = e2;
            goto fail;
        }
        if (bad[0]) {
            if (me != 0) pp_err_set(&err, PP_ERR_DB, "rank 0 could not open the database %s", ro->db_path);
            together = 1;
            goto fail;
        }
    }
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
    if (ro->resume && !ro->checkpoint_dir) {
        pp_err_set(&err, PP_ERR_INVALID, "--resume needs --checkpoint DIR");
        together = 1;
        goto fail;
    }
    if (ro->checkpoint_dir) {
        /* The checkpoint folder, checked before step 1: writable, and not
         * holding a checkpoint this run would destroy. */
        pp_exec_ckpt_mode mode = ro->resume ? PP_EXEC_CKPT_RESUME
                                 : ro->overwrite_checkpoint ? PP_EXEC_CKPT_OVERWRITE
                                                            : PP_EXEC_CKPT_NEW;
        int done_steps;
        if (pp_exec_ckpt_open(x, ro->checkpoint_dir, mode, hash, &done_steps, &err)) {
            together = pp_exec_failed_together(x);
            if (mode == PP_EXEC_CKPT_NEW && err.code == PP_ERR_INVALID) {
                size_t u = strlen(err.msg);
                snprintf(err.msg + u, sizeof err.msg - u,
                         "; --resume continues it, --overwrite-checkpoint replaces it, or choose another folder");
            }
            goto fail;
        }
        first = done_steps;
        saved_at = done_steps;
        if (me == 0 && ro->resume) printf("resuming from %s at step %d\n", ro->checkpoint_dir, first + 1);
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
        int stop = agree_stop(c, &stop_sig, &err);
        if (stop < 0) goto fail;
        if (stop) break;
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
            if (pp_exec_save(x, ro->checkpoint_dir, s + 1, hash, &err)) {
                together = pp_exec_failed_together(x);
                goto fail;
            }
            saved_at = s + 1;
            if (me == 0) printf("checkpoint: step %d in %s\n", s + 1, ro->checkpoint_dir);
        }
    }
    if (stop_sig) {
        /* SIGUSR1 comes from the launcher, which says what it received. */
        char why[64], *text = NULL, p[4200];
        size_t len;
        snprintf(why, sizeof why, "%s", sig_name(stop_sig));
        snprintf(p, sizeof p, "%s/launcher.sig", sdir ? sdir : ".");
        if (stop_sig == SIGUSR1 && sdir && pp_io_read_file(p, &text, &len, NULL) == 0)
            snprintf(why, sizeof why, "%.20s to pippy run", strtok(text, "\n") ? text : "a signal");
        free(text);
        snprintf(stop_msg, sizeof stop_msg, "interrupted by %s after %d step%s (steps %d..%d of %d)", why, n_done,
                 n_done == 1 ? "" : "s", first + 1, first + n_done, ro->steps);
        if (me == 0) {
            printf("%s\n", stop_msg);
            fflush(stdout);
        }
        /* Keep what was trained: a checkpoint of the steps done. */
        if (ro->checkpoint_dir && n_done > 0 && saved_at != first + n_done) {
            if (pp_exec_save(x, ro->checkpoint_dir, first + n_done, hash, &err)) {
                together = pp_exec_failed_together(x);
                goto fail;
            }
            if (me == 0) printf("checkpoint: step %d in %s\n", first + n_done, ro->checkpoint_dir);
        }
    }
    if (pp_exec_gather(x, &ev, &n_ev, &ranks, &err)) goto fail;
    int store_failed = 0;
    if (me == 0) {
        /* The step time: the median of the steps after the first of this
         * invocation (the first pays page faults and cold caches), the
         * lower middle one on even counts; the only step when there is one. */
        int skip = n_done > 1 ? 1 : 0, nm = n_done - skip;
        double *sec = malloc((size_t)(n_done ? n_done : 1) * sizeof *sec);
        for (int i = 0; sec && i < nm; i++) sec[i] = res[skip + i].seconds;
        double med = 0;
        if (sec && nm) {
            pp_stats_sort(sec, nm);
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
        if (ro->trace_path && save_trace(ro->trace_path, ev, n_ev, &err)) {
            fprintf(stderr, "pippy run: %s\n", err.msg);
            store_failed = 1;
        } else if (ro->trace_path) {
            printf("trace: %s (Chrome JSON)\n", ro->trace_path);
        }
        if (ro->use_db && store_run(db, ro, &plan, hash, stop_sig ? "interrupted" : "ok", stop_msg, first, n_done, res, ev,
                                    n_ev, ranks, n, med, &err)) {
            fprintf(stderr, "pippy run: %s\n", err.msg);
            store_failed = 1;
        }
        fflush(stdout);
        fflush(stderr);
    }
    if (stop_sig) {
        if (me == 0) fprintf(stderr, "pippy run: %s\n", stop_msg);
        status_write(sdir, me, "err", stop_msg);
        /* Every rank leaves after rank 0 has stored the run: mpirun stops
         * the others as soon as one rank exits non-zero. */
        pp_comm_barrier(c, NULL);
        status_write(sdir, me, "done", "interrupted\n");
        rc = 1;
        goto done;
    }
    if (store_failed) {
        status_write(sdir, me, "err", err.msg);
        pp_comm_barrier(c, NULL);
        rc = 1;
        goto done;
    }
    pp_comm_barrier(c, NULL);
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
    pp_db_close(db);
    free(res);
    free(ev);
    free(ranks);
    pp_exec_free(x);
    if (have_graph) pp_graph_free(&g);
    if (have_plan) pp_plan_free(&plan);
    pp_comm_free(c);
    return rc;
}

/* ---- the launcher ---- */

static volatile sig_atomic_t launch_sig, launch_sigs; /* the first signal the launcher got, and how many */

static void on_launch_signal(int sig) {
    if (!launch_sig) launch_sig = sig;
    launch_sigs++;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* What a rank left in the status folder. */
enum { RK_NONE, RK_SILENT, RK_SIGNALLED, RK_FAILED, RK_DONE };

typedef struct rank_state {
    int state;
    long pid, sender;
    int sig;
    char host[128];
} rank_state;

static void read_state(const char *status, int r, rank_state *s) {
    char p[4200], *text = NULL;
    size_t len;
    memset(s, 0, sizeof *s);
    snprintf(s->host, sizeof s->host, "?");
    snprintf(p, sizeof p, "%s/rank-%d.pid", status, r);
    if (pp_io_read_file(p, &text, &len, NULL) == 0) {
        sscanf(text, "%ld %127s", &s->pid, s->host);
        free(text);
        s->state = RK_SILENT;
    }
    snprintf(p, sizeof p, "%s/rank-%d.sig", status, r);
    if (pp_io_read_file(p, &text, &len, NULL) == 0) {
        if (sscanf(text, "%d %ld", &s->sig, &s->sender) == 2) s->state = RK_SIGNALLED;
        free(text);
    }
    snprintf(p, sizeof p, "%s/rank-%d.err", status, r);
    if (access(p, F_OK) == 0) s->state = RK_FAILED;
    snprintf(p, sizeof p, "%s/rank-%d.done", status, r);
    if (s->state != RK_FAILED && access(p, F_OK) == 0) s->state = RK_DONE;
}

/* "1", "0, 2 and 3" */
static void rank_list(const rank_state *st, int n, int state, char *buf, size_t len) {
    int count = 0, total = 0;
    for (int r = 0; r < n; r++) total += st[r].state == state;
    buf[0] = '\0';
    for (int r = 0; r < n; r++) {
        if (st[r].state != state) continue;
        size_t u = strlen(buf);
        count++;
        snprintf(buf + u, len - u, "%s%d", count == 1 ? "" : count == total ? " and " : ", ", r);
    }
}

/* After mpirun ended badly: which rank died, which failed, which were
 * stopped because of them. Returns how many died without a word. */
static int report_ranks(const char *status, int n_ranks, long mpirun_pid) {
    rank_state *st = calloc((size_t)n_ranks, sizeof *st);
    if (!st) return 0;
    int died = 0, failed = 0, stopped = 0;
    for (int r = 0; r < n_ranks; r++) {
        read_state(status, r, &st[r]);
        died += st[r].state == RK_SILENT;
        failed += st[r].state == RK_FAILED;
        stopped += st[r].state == RK_SIGNALLED;
    }
    for (int r = 0; r < n_ranks; r++)
        if (st[r].state == RK_SILENT)
            fprintf(stderr, "pippy run: rank %d (pid %ld on %s) died without a message: killed (SIGKILL) or crashed\n",
                    r, st[r].pid, st[r].host);
    if (stopped) {
        char who[512], cause[512];
        rank_list(st, n_ranks, RK_SIGNALLED, who, sizeof who);
        int first = -1;
        for (int r = 0; r < n_ranks && first < 0; r++)
            if (st[r].state == RK_SIGNALLED) first = r;
        const char *from = st[first].sender == mpirun_pid ? "mpirun" : "another process";
        if (died) {
            rank_list(st, n_ranks, RK_SILENT, cause, sizeof cause);
            fprintf(stderr, "pippy run: rank%s %s stopped (%s from %s) because rank%s %s died\n", stopped > 1 ? "s" : "",
                    who, sig_name(st[first].sig), from, died > 1 ? "s" : "", cause);
        } else if (failed) {
            rank_list(st, n_ranks, RK_FAILED, cause, sizeof cause);
            fprintf(stderr, "pippy run: rank%s %s stopped (%s from %s) because rank%s %s failed\n",
                    stopped > 1 ? "s" : "", who, sig_name(st[first].sig), from, failed > 1 ? "s" : "", cause);
        } else {
            fprintf(stderr, "pippy run: rank%s %s stopped by %s from %s (pid %ld)\n", stopped > 1 ? "s" : "", who,
                    sig_name(st[first].sig), from, st[first].sender);
        }
    }
    free(st);
    return died;
}

/* Sends sig to the ranks of this host (from their pid files). */
static void kill_local_ranks(const char *status, int n_ranks, int sig) {
    char here[256] = "";
    gethostname(here, sizeof here - 1);
    for (int r = 0; r < n_ranks; r++) {
        rank_state s;
        read_state(status, r, &s);
        if (s.pid > 1 && !strcmp(s.host, here)) kill((pid_t)s.pid, sig);
    }
}

/* 1 when every rank has written its pid file (its signal handlers are in place). */
static int all_started(const char *status, int n_ranks) {
    for (int r = 0; r < n_ranks; r++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/rank-%d.pid", status, r);
        if (access(p, F_OK) != 0) return 0;
    }
    return 1;
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
    /* A status folder used before: its old files would tell the wrong story. */
    char lsig[4200];
    snprintf(lsig, sizeof lsig, "%s/launcher.sig", status);
    unlink(lsig);
    for (int r = 0; r < n_ranks; r++) {
        static const char *ext[] = {"pid", "err", "done", "sig"};
        for (int e = 0; e < 4; e++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/rank-%d.%s", status, r, ext[e]);
            unlink(p);
        }
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
    /* SIGINT, SIGTERM and SIGHUP are the launcher's to pass on: mpirun runs
     * in a process group of its own, so a Ctrl-C at the terminal reaches
     * the launcher only, which stops the ranks after their current step. */
    struct sigaction sa, old_int, old_term, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_launch_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) return pp_tool_usage_error(TOOL, "cannot start mpirun");
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 0);
            close(fd);
        }
        setenv("PIPPY_RUN_STATUS", status, 1);
        execvp("mpirun", args);
        fprintf(stderr, "pippy run: cannot run mpirun (install openmpi-bin)\n");
        _exit(127);
    }
    setpgid(pid, pid);
    free(args);
    int st = 0, forwarded = 0, hard = 0, killed = 0;
    double t_sig = 0, t_hard = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) break;
        double t = now_s();
        if (launch_sig && !forwarded) {
            forwarded = 1;
            t_sig = t;
            if (all_started(status, n_ranks)) {
                fprintf(stderr, "pippy run: %s: asking every rank to stop after its current step\n",
                        sig_name(launch_sig));
                char p[4200], text[32];
                snprintf(p, sizeof p, "%s/launcher.sig", status);
                snprintf(text, sizeof text, "%s\n", sig_name(launch_sig));
                pp_io_write_atomic(p, text, strlen(text), NULL);
                kill(pid, SIGUSR1); /* Open MPI passes SIGUSR1 on to every rank */
            } else {
                fprintf(stderr, "pippy run: %s before every rank started: stopping mpirun\n", sig_name(launch_sig));
                kill(pid, SIGTERM);
                hard = 1;
                t_hard = t;
            }
        }
        if (forwarded && !hard && (launch_sigs > 1 || t - t_sig > STOP_GRACE_S)) {
            fprintf(stderr, "pippy run: %s: stopping mpirun and the ranks now\n",
                    launch_sigs > 1 ? "a second signal" : "the ranks did not stop in time");
            kill(pid, SIGTERM);
            hard = 1;
            t_hard = t;
        }
        if (hard && !killed && t - t_hard > KILL_AFTER_S) {
            kill(pid, SIGKILL);
            kill_local_ranks(status, n_ranks, SIGKILL);
            killed = 1;
        }
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    if (rc != 0 || launch_sig) {
        int silent = report_ranks(status, n_ranks, (long)pid);
        if (launch_sig)
            fprintf(stderr, "pippy run: interrupted by %s after %.0f s\n", sig_name(launch_sig), now_s() - t0);
        else
            fprintf(stderr, "pippy run: the run failed after %.0f s (exit %d)%s\n", now_s() - t0, rc,
                    silent ? "" : "; the failing rank's message is above");
    }
    if (!ro->status_dir) {
        for (int r = 0; r < n_ranks; r++) {
            static const char *ext[] = {"pid", "err", "done", "sig"};
            for (int e = 0; e < 4; e++) {
                char p[4200];
                snprintf(p, sizeof p, "%s/rank-%d.%s", status, r, ext[e]);
                unlink(p);
            }
        }
        unlink(lsig);
        rmdir(status);
    }
    return rc || launch_sig ? 1 : 0;
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
