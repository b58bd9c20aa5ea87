/*
 * pp_run_setup.h -- what `pippy run --plan` asks of a run (pp_run_request),
 * turned into the executor's and the step loop's options on each rank, and
 * the ranks' agreement on a step only rank 0 takes (opening the database).
 *
 *     pp_exec_opts eo; pp_run_opts o;
 *     pp_run_request_apply(&rq, hash, getenv("PIPPY_INJECT_NAN"), &eo, &o);
 *     int bad = pp_run_agree_rank0(c, rank0_failed, PP_ERR_DB, "rank 0 could not ...", &err);
 *     ...
 *     return pp_run_rank_end(c, r.stop_sig ? r.stop_msg : NULL, failed ? err.msg : NULL);
 */
#ifndef PP_RUN_SETUP_H
#define PP_RUN_SETUP_H

#include <stdint.h>

#include "comm/pp_comm.h"
#include "core/pp_err.h"
#include "executor/pp_exec.h"
#include "executor/pp_run.h"
#include "kernels/pp_optim.h"

typedef struct pp_run_request {
    const char *plan_path;
    int steps;              /* total steps of the run (the learning-rate schedule's length) */
    int stop_after;         /* stop after this many steps of this invocation (0: run to the end) */
    uint64_t seed;
    const char *data_path;
    pp_adamw_hyper hyper;
    int threads;
    int backend;            /* pp_backend_kind */
    int log_every;
    double timeout_s;
    const char *checkpoint_dir;
    int checkpoint_every;
    int resume;
    int overwrite_checkpoint; /* a checkpoint already in checkpoint_dir may be replaced */
    const char *trace_path; /* measured trace as Chrome JSON, or NULL */
    const char *status_dir; /* where ranks leave pid/err/done files, or NULL (a temporary folder) */
    const char *db_path;
    int use_db;
    int json;               /* rank 0 prints the run as JSON on stdout, its text on stderr */
} pp_run_request;

/* Fills *eo (from pp_exec_defaults) and *o (from pp_run_opts_init) with
 * rq's seed, data, hyper-parameters, steps, threads, backend, timeout,
 * stop_after, checkpoint folder, interval and mode (resume, else
 * overwrite, else new), and plan_hash (what checkpoints are tied to; kept,
 * not copied). inject_nan (testing, may be NULL): "RANK,STEP"
 * with a 1-based step sets eo->nan_rank and the 0-based eo->nan_step;
 * anything else is ignored. o->on_note and ctx are left to the
 * caller. Cannot fail. */
void pp_run_request_apply(const pp_run_request *rq, const char *plan_hash, const char *inject_nan, pp_exec_opts *eo,
                          pp_run_opts *o);

/* Collective: shares rank 0's outcome of a step only rank 0 takes
 * (rank0_failed, ignored on the other ranks). Returns 0 when rank 0
 * succeeded; 1 when it failed, with err set on the other ranks to
 * (code, others_msg) and left as it is on rank 0 (which holds its own
 * reason); -1 when the ranks could not agree, with err. */
int pp_run_agree_rank0(pp_comm *c, int rank0_failed, pp_status code, const char *others_msg, pp_err *err);

/* Collective: how a rank leaves a run that did not fail together. stop_msg
 * (not NULL: a signal stopped the run) is left as the rank's failure, then
 * every rank waits for the others and says "interrupted"; else failure
 * (not NULL: rank 0's closing work failed) is left as the failure after
 * the wait; else after the wait the rank says "ok". Rank 0 has stored the
 * run before anyone leaves (mpirun stops the others as soon as one rank
 * exits non-zero). Returns the exit status: 1, 1 or 0. */
int pp_run_rank_end(pp_comm *c, const char *stop_msg, const char *failure);

#endif /* PP_RUN_SETUP_H */
