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
 * the run (db/pp_db_run_file.h: in one transaction, else as a JSON file
 * beside the database). The checkpoint folder is checked before the first
 * step too (pp_exec_ckpt_open). What rank 0 prints is executor/pp_run_print.h.
 */
#include "tools/run_plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/pp_comm.h"
#include "core/pp_plan.h"
#include "core/pp_json.h"
#include "db/pp_db.h"
#include "db/pp_db_run_file.h"
#include "executor/pp_launch.h"
#include "executor/pp_run_print.h"
#include "simulator/pp_predict.h"
#include "tools/tool_common.h"

static const char *TOOL = "run";

/* A failure of rank 0's closing work, said on stderr; returns 1. */
static int say(const pp_err *e) {
    fprintf(stderr, "pippy run: %s\n", e->msg);
    return 1;
}

/* Rank 0's record of the run (db/pp_db_run_file.h): *st gets the steps
 * (free with free()). Returns 0, or -1 with err (out of memory). */
static int make_record(const pp_plan *plan, const char *hash, const char *status, const pp_run_result *r,
                       int n_ranks, double predicted_s, pp_db_run *run, pp_db_run_step **st, pp_err *err) {
    int n = r->n_done;
    pp_db_run_init_from(run, hash, plan->model.name, plan->schedule_name, status, r->stop_msg, plan->pp, plan->dp,
                        n_ranks, plan->global_batch, plan->micro_batch, plan->n_microbatches, plan->seq_len,
                        r->first, n, r->median_s, predicted_s, n ? r->steps[n - 1].loss : NAN);
    *st = calloc((size_t)(n ? n : 1), sizeof **st);
    if (!*st) return pp_err_set(err, PP_ERR_NOMEM, "out of memory storing the run");
    for (int i = 0; i < n; i++)
        (*st)[i] = (pp_db_run_step){.step = r->steps[i].step, .loss = r->steps[i].loss,
                                    .grad_norm = r->steps[i].grad_norm, .seconds = r->steps[i].seconds};
    return 0;
}

/* The driver on each rank. */
static int rank_main(int *argc, char ***argv, const pp_run_request *ro) {
    pp_err err = {0};
    pp_comm *c = NULL;
    if (pp_comm_init(argc, argv, &c, &err)) return pp_tool_fail(TOOL, &err);
    int me = pp_comm_rank(c), rc = 1, together = 0;
    FILE *tx = ro->json ? stderr : stdout; /* the human text; under --json stdout carries the one object */
    char host[128] = "", hash[65] = "";
    pp_comm_hostname(c, host, sizeof host, NULL);
    pp_launch_rank_begin(me, host);
    pp_plan plan = {0};
    pp_graph g;
    int have_plan = 0, have_graph = 0, have_pred = 0;
    pp_exec *x = NULL;
    pp_db *db = NULL;
    pp_run_result r = {0};
    pp_prediction pred = {0};
    if (pp_plan_open(ro->plan_path, &plan, &g, hash, &err)) goto fail;
    have_plan = have_graph = 1;
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
        char why[4200];
        snprintf(why, sizeof why, "rank 0 could not open the database %s", ro->db_path);
        int agreed = pp_run_agree_rank0(c, me == 0 && pp_db_open(ro->db_path, &db, &err) != 0, PP_ERR_DB, why, &err);
        together = agreed == 1;
        if (agreed) goto fail;
    }
    pp_exec_opts eo;
    pp_run_opts o;
    pp_run_request_apply(ro, hash, getenv("PIPPY_INJECT_NAN"), &eo, &o); /* testing: "RANK,STEP" (1-based) */
    if (pp_exec_create(&plan, &g, c, &eo, &x, &err)) goto fail;
    pp_run_printer pr = {.f = tx, .plan = &plan, .hash = hash, .checkpoint_dir = ro->checkpoint_dir,
                         .total_steps = ro->steps, .log_every = ro->log_every, .print = me == 0};
    o.on_note = pp_run_print_note;
    o.ctx = &pr;
    int ran = pp_run_plan(x, c, &o, &r, &err);
    together = r.together; /* after a failure: every rank got the failing rank's message */
    if (ran) goto fail;
    int store_failed = 0;
    if (me == 0) {
        int n = pp_comm_size(c);
        const char *status = r.stop_sig ? "interrupted" : "ok";
        long long run_id = 0;
        pp_run_print_summary(tx, &plan, &r, n, have_pred ? pred.sim.iteration_s : 0,
                             have_pred ? pred.sim.peak_total_bytes : NULL);
        if (ro->trace_path && pp_run_save_trace(ro->trace_path, r.ev, r.n_ev, &err)) store_failed = say(&err);
        else if (ro->trace_path) fprintf(tx, "trace: %s (Chrome JSON)\n", ro->trace_path);
        pp_db_run run;
        pp_db_run_step *st = NULL;
        if (make_record(&plan, hash, status, &r, n, have_pred ? pred.sim.iteration_s : 0, &run, &st, &err)) {
            store_failed = say(&err);
        } else {
            if (ro->use_db && pp_db_run_put_or_save(db, ro->db_path, &run, st, r.n_done, r.ranks, n, r.ev, r.n_ev,
                                                    &err)) {
                store_failed = say(&err);
            } else if (ro->use_db) {
                run_id = run.id;
                fprintf(tx, "run %lld stored in %s (%d steps, %lld measured actions%s)\n", run.id, ro->db_path,
                        r.n_done, r.n_ev, strcmp(status, "ok") ? ", status interrupted" : "");
            }
            if (ro->json) {
                pp_jw w;
                pp_jw_init(&w);
                pp_db_json_run_result(&w, &run, run_id, st, r.n_done, r.ranks, n,
                                      have_pred ? pred.cost_source : NULL, pred.sim.iteration_s,
                                      have_pred ? pred.sim.peak_total_bytes : NULL);
                if (pp_tool_print_json(&w, &err)) store_failed = say(&err);
            }
        }
        free(st);
        fflush(tx);
        fflush(stderr);
    }
    if (r.stop_sig && me == 0) fprintf(stderr, "pippy run: %s\n", r.stop_msg);
    rc = pp_run_rank_end(c, r.stop_sig ? r.stop_msg : NULL, store_failed ? err.msg : NULL);
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
static int launch(int argc, char **argv, int n_ranks, const pp_run_request *ro) {
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
    pp_run_print_launch_end(stderr, "pippy run", rc, &res);
    return rc;
}

int run_plan_main(int argc, char **argv, const pp_run_request *ro) {
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
