/*
 * run_plan.c -- `pippy run --plan`: the launcher and the per-rank driver of
 * a pipelined run (the runtime itself is executor/pp_exec.h).
 *
 * Started alone, pippy run starts `mpirun -np <pp x dp>` on itself (unless
 * the plan has one rank) through the launcher (executor/pp_launch.h), which
 * passes a signal on to the ranks, escalates when they do not stop, and
 * names the rank that died and those stopped because of it. Under mpirun
 * or srun already, the ranks given are used. A rank that received SIGINT,
 * SIGTERM or SIGUSR1 stops with the others between steps: a checkpoint of
 * the steps done (with --checkpoint), the run stored as interrupted with
 * the message "interrupted by ...", exit 1.
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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comm/pp_comm.h"
#include "core/pp_plan.h"
#include "core/pp_json.h"
#include "core/pp_trace.h"
#include "core/pp_zoo.h"
#include "db/pp_db.h"
#include "executor/pp_exec.h"
#include "executor/pp_launch.h"
#include "executor/pp_run.h"
#include "core/pp_stats.h"
#include "simulator/pp_predict.h"
#include "tools/tool_common.h"

static const char *TOOL = "run";

/* Where the human text goes: stdout, or stderr under --json (stdout then
 * carries the one JSON object). */
static FILE *tx;

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
                     double median_s, double predicted_s, long long *run_id, pp_err *err) {
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
    run.predicted_iteration_s = predicted_s;
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
        *run_id = run.id;
        fprintf(tx, "run %lld stored in %s (%d steps, %lld measured actions%s)\n", run.id, ro->db_path, n_steps, n_ev,
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

/* The run as one JSON object on stdout (--json): what was run, the measured
 * and predicted step time with the relative error (pp_stats_rel_error), the
 * steps, and each rank's measured and predicted peak memory. pred may be
 * NULL; run_id 0 when the run was not stored. Returns 0 or -1 (err). */
static int print_run_json(const pp_plan *plan, const char *hash, const char *status, int first, int n_steps,
                          const pp_exec_step_result *res, const pp_run_rank *ranks, int n_ranks, double med,
                          const pp_prediction *pred, long long run_id, pp_err *err) {
    double pred_s = pred ? pred->sim.iteration_s : NAN;
    pp_jw w;
    pp_jw_init(&w);
    pp_jw_obj_begin(&w);
    pp_jw_key(&w, "run"); if (run_id) pp_jw_int(&w, run_id); else pp_jw_null(&w);
    pp_jw_key(&w, "plan_hash"); pp_jw_str(&w, hash);
    pp_jw_key(&w, "model"); pp_jw_str(&w, plan->model.name);
    pp_jw_key(&w, "schedule"); pp_jw_str(&w, plan->schedule_name);
    pp_jw_key(&w, "status"); pp_jw_str(&w, status);
    pp_jw_key(&w, "pp"); pp_jw_int(&w, plan->pp);
    pp_jw_key(&w, "dp"); pp_jw_int(&w, plan->dp);
    pp_jw_key(&w, "first_step"); pp_jw_int(&w, first);
    pp_jw_key(&w, "steps"); pp_jw_int(&w, n_steps);
    pp_jw_key(&w, "iteration_s"); pp_jw_num(&w, med > 0 ? med : NAN);
    pp_jw_key(&w, "predicted_iteration_s"); pp_jw_num(&w, pred_s);
    pp_jw_key(&w, "rel_error"); pp_jw_num(&w, pp_stats_rel_error(med, pred_s));
    pp_jw_key(&w, "tokens_per_s"); pp_jw_num(&w, med > 0 ? (double)plan->global_batch * plan->seq_len / med : NAN);
    pp_jw_key(&w, "final_loss"); pp_jw_num(&w, n_steps ? res[n_steps - 1].loss : NAN);
    pp_jw_key(&w, "cost_source"); pp_jw_str(&w, pred ? pred->cost_source : "");
    pp_jw_key(&w, "step_results");
    pp_jw_arr_begin(&w);
    for (int i = 0; i < n_steps; i++) {
        pp_jw_obj_begin(&w);
        pp_jw_key(&w, "step"); pp_jw_int(&w, res[i].step);
        pp_jw_key(&w, "loss"); pp_jw_num(&w, res[i].loss);
        pp_jw_key(&w, "grad_norm"); pp_jw_num(&w, res[i].grad_norm);
        pp_jw_key(&w, "seconds"); pp_jw_num(&w, res[i].seconds);
        pp_jw_obj_end(&w);
    }
    pp_jw_arr_end(&w);
    pp_jw_key(&w, "ranks");
    pp_jw_arr_begin(&w);
    for (int i = 0; i < n_ranks; i++) {
        double pm = pred && pred->sim.peak_total_bytes ? pred->sim.peak_total_bytes[i % plan->pp] : NAN;
        pp_jw_obj_begin(&w);
        pp_jw_key(&w, "rank"); pp_jw_int(&w, ranks[i].rank);
        pp_jw_key(&w, "host"); pp_jw_str(&w, ranks[i].host);
        pp_jw_key(&w, "peak_bytes"); pp_jw_int(&w, ranks[i].peak_bytes);
        pp_jw_key(&w, "predicted_peak_bytes"); pp_jw_num(&w, pm);
        pp_jw_key(&w, "busy_s"); pp_jw_num(&w, ranks[i].busy_s);
        pp_jw_obj_end(&w);
    }
    pp_jw_arr_end(&w);
    pp_jw_obj_end(&w);
    return pp_tool_print_json(&w, err);
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

/* What the run loop says (executor/pp_run.h), printed by rank 0. */
typedef struct printer {
    const run_plan_opts *ro;
    const pp_plan *plan;
    const char *hash;
    int me, first;
} printer;

static void on_note(void *ctx, const pp_run_note *n) {
    printer *p = ctx;
    const run_plan_opts *ro = p->ro;
    const pp_plan *pl = p->plan;
    if (p->me != 0) return;
    switch (n->kind) {
    case PP_RUN_RESUMED: fprintf(tx, "resuming from %s at step %d\n", ro->checkpoint_dir, n->step + 1); break;
    case PP_RUN_STARTING:
        p->first = n->step;
        fprintf(tx, "running %s: plan %.12s, %s, pp %d x dp %d, %d stages, %d microbatches of %d x %d tokens, steps "
                    "%d..%d of %d\n",
                pl->model.name, p->hash, pl->schedule_name, pl->pp, pl->dp, pl->n_stages, pl->n_microbatches,
                pl->micro_batch, pl->seq_len, n->step + 1, n->last, ro->steps);
        break;
    case PP_RUN_STEP: {
        const pp_exec_step_result *r = n->result;
        int s = n->step;
        if ((s + 1) % ro->log_every == 0 || s == p->first || s + 1 == n->last)
            fprintf(tx, "step %4d/%d  loss %.6f  grad-norm %.4f  lr %.2e  %.0f tokens/s  %.1f ms\n", s + 1, ro->steps,
                    r->loss, r->grad_norm, r->lr, (double)pl->global_batch * pl->seq_len / r->seconds,
                    r->seconds * 1e3);
        break;
    }
    case PP_RUN_CHECKPOINT: fprintf(tx, "checkpoint: step %d in %s\n", n->step, ro->checkpoint_dir); break;
    case PP_RUN_STOPPING: fprintf(tx, "%s\n", n->message); break;
    }
    fflush(tx);
}

/* Rank 0 after the run: measured beside predicted, per rank too. */
static void print_summary(const pp_plan *plan, const pp_run_result *r, int n_ranks, const pp_prediction *pred) {
    double med = r->median_s, pred_s = pred ? pred->sim.iteration_s : 0;
    fprintf(tx, "\nmeasured: %.2f ms per step (median of %d%s), %.0f tokens/s", med * 1e3, r->median_of,
            r->first_left_out ? ", the first step left out" : "",
            med > 0 ? (double)plan->global_batch * plan->seq_len / med : 0);
    if (pred_s > 0) fprintf(tx, "; predicted %.2f ms (measured/predicted %.3f)", pred_s * 1e3, med / pred_s);
    fprintf(tx, "\n");
    for (int i = 0; i < n_ranks; i++) {
        const pp_run_rank *k = &r->ranks[i];
        char a[32];
        fprintf(tx, "rank %d (%s): peak memory %s bytes", i, k->host, pp_tool_fmt_count(k->peak_bytes, a, sizeof a));
        double pm = pred && pred->sim.peak_total_bytes ? pred->sim.peak_total_bytes[i % plan->pp] : 0;
        if (pm > 0) fprintf(tx, " (predicted %.0f, measured/predicted %.3f)", pm, k->peak_bytes / pm);
        fprintf(tx, ", busy %.1f%%\n", med > 0 && r->n_done ? 100 * k->busy_s / (med * r->n_done) : 0);
    }
}

/* The driver on each rank. */
static int rank_main(int *argc, char ***argv, const run_plan_opts *ro) {
    pp_err err = {0};
    pp_comm *c = NULL;
    if (pp_comm_init(argc, argv, &c, &err)) return pp_tool_fail(TOOL, &err);
    int me = pp_comm_rank(c), rc = 1, together = 0;
    tx = ro->json ? stderr : stdout;
    char host[128] = "", hash[65] = "";
    pp_comm_hostname(c, host, sizeof host, NULL);
    pp_launch_rank_begin(me, host);
    pp_plan plan;
    pp_graph g;
    int have_plan = 0, have_graph = 0, have_pred = 0;
    pp_exec *x = NULL;
    pp_db *db = NULL;
    pp_run_result r;
    pp_prediction pred;
    memset(&r, 0, sizeof r);
    memset(&pred, 0, sizeof pred);
    memset(&plan, 0, sizeof plan);
    if (pp_plan_load(ro->plan_path, &plan, &err)) goto fail;
    have_plan = 1;
    if (pp_zoo_build(&plan.model, plan.micro_batch, plan.seq_len, plan.dtype, &g, &err)) goto fail;
    have_graph = 1;
    if (pp_plan_hash(&plan, &g, hash, &err)) goto fail;
    /* The plan's one prediction, as pippy sim --plan and pippy report make
     * it, from what the database holds now (rank 0 prints and stores it). */
    if (me == 0 && ro->use_db) {
        pp_err pe = {0};
        have_pred = pp_tool_predict(ro->db_path, &plan, &g, NULL, &pred, &pe) == 0;
        if (!have_pred) fprintf(stderr, "pippy run: warning: no prediction: %s\n", pe.msg);
    }
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
    printer pr = {.ro = ro, .plan = &plan, .hash = hash, .me = me};
    pp_run_opts o;
    pp_run_opts_init(&o);
    o.steps = ro->steps;
    o.stop_after = ro->stop_after;
    o.checkpoint_dir = ro->checkpoint_dir;
    o.checkpoint_every = ro->checkpoint_every;
    o.ckpt_mode = ro->resume ? PP_EXEC_CKPT_RESUME : ro->overwrite_checkpoint ? PP_EXEC_CKPT_OVERWRITE : PP_EXEC_CKPT_NEW;
    o.plan_hash = hash;
    o.on_note = on_note;
    o.ctx = &pr;
    if (pp_run_plan(x, c, &o, &r, &err)) {
        together = r.together;
        goto fail;
    }
    int store_failed = 0;
    if (me == 0) {
        int n = pp_comm_size(c);
        const char *status = r.stop_sig ? "interrupted" : "ok";
        long long run_id = 0;
        print_summary(&plan, &r, n, have_pred ? &pred : NULL);
        if (ro->trace_path && save_trace(ro->trace_path, r.ev, r.n_ev, &err)) {
            fprintf(stderr, "pippy run: %s\n", err.msg);
            store_failed = 1;
        } else if (ro->trace_path) {
            fprintf(tx, "trace: %s (Chrome JSON)\n", ro->trace_path);
        }
        if (ro->use_db && store_run(db, ro, &plan, hash, status, r.stop_msg, r.first, r.n_done, r.steps, r.ev, r.n_ev,
                                    r.ranks, n, r.median_s, have_pred ? pred.sim.iteration_s : 0, &run_id, &err)) {
            fprintf(stderr, "pippy run: %s\n", err.msg);
            store_failed = 1;
        }
        if (ro->json && print_run_json(&plan, hash, status, r.first, r.n_done, r.steps, r.ranks, n, r.median_s,
                                       have_pred ? &pred : NULL, run_id, &err)) {
            fprintf(stderr, "pippy run: %s\n", err.msg);
            store_failed = 1;
        }
        fflush(tx);
        fflush(stderr);
    }
    if (r.stop_sig) {
        if (me == 0) fprintf(stderr, "pippy run: %s\n", r.stop_msg);
        pp_launch_rank_fail(r.stop_msg);
        /* Every rank leaves after rank 0 has stored the run: mpirun stops
         * the others as soon as one rank exits non-zero. */
        pp_comm_barrier(c, NULL);
        pp_launch_rank_done("interrupted\n");
        rc = 1;
        goto done;
    }
    if (store_failed) {
        pp_launch_rank_fail(err.msg);
        pp_comm_barrier(c, NULL);
        rc = 1;
        goto done;
    }
    pp_comm_barrier(c, NULL);
    pp_launch_rank_done("ok\n");
    rc = 0;
    goto done;
fail:
    if (!together || me == 0) fprintf(stderr, "pippy run: %s\n", err.msg);
    pp_launch_rank_fail(err.msg);
    if (!together) {
        fflush(tx);
        fflush(stderr);
        pp_comm_abort(c, 1);
    }
    pp_launch_rank_done("failed together\n");
    rc = 1;
done:
    pp_run_result_free(&r);
    pp_prediction_free(&pred);
    pp_db_close(db);
    pp_exec_free(x);
    if (have_graph) pp_graph_free(&g);
    if (have_plan) pp_plan_free(&plan);
    pp_comm_free(c);
    return rc;
}

/* ---- the launcher ---- */

/* mpirun -np N <this program> <args> (executor/pp_launch.h), then what
 * became of the run. */
static int launch(int argc, char **argv, int n_ranks, const run_plan_opts *ro) {
    char self[4096];
    pp_err err = {0};
    if (pp_launch_self(self, sizeof self, &err)) return pp_tool_fail(TOOL, &err);
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) return 1;
    args[0] = self;
    for (int i = 1; i < argc; i++) args[i] = argv[i];
    pp_launch_opts o;
    pp_launch_opts_init(&o, "pippy run");
    o.n_ranks = n_ranks;
    o.status_dir = ro->status_dir;
    pp_launch_result res;
    int rc = pp_launch_run(args, &o, &res, &err);
    free(args);
    if (rc < 0) return pp_tool_fail(TOOL, &err);
    if (res.signal)
        fprintf(stderr, "pippy run: interrupted by %s after %.0f s\n", pp_launch_signal_name(res.signal), res.seconds);
    else if (rc)
        fprintf(stderr, "pippy run: the run failed after %.0f s (exit %d)%s\n", res.seconds, res.exit_code,
                res.died ? "" : "; the failing rank's message is above");
    return rc;
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
