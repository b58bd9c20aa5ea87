/*
 * pp_run_setup.c -- a run's request into the executor's options, and the
 * ranks' agreements at the start (rank 0's database) and the end (how each
 * rank leaves) of `pippy run --plan` (pp_run_setup.h).
 */
#include "executor/pp_run_setup.h"

#include <stdio.h>

#include "executor/pp_launch.h"

void pp_run_request_apply(const pp_run_request *rq, const char *plan_hash, const char *inject_nan, pp_exec_opts *eo,
                          pp_run_opts *o) {
    *eo = pp_exec_defaults();
    eo->seed = rq->seed;
    eo->data_path = rq->data_path;
    eo->hyper = rq->hyper;
    eo->total_steps = rq->steps;
    eo->threads = rq->threads;
    eo->backend = (pp_backend_kind)rq->backend;
    eo->timeout_s = rq->timeout_s;
    int nr, ns;
    if (inject_nan && sscanf(inject_nan, "%d,%d", &nr, &ns) == 2) {
        eo->nan_rank = nr;
        eo->nan_step = ns - 1;
    }
    pp_run_opts_init(o);
    o->steps = rq->steps;
    o->stop_after = rq->stop_after;
    o->checkpoint_dir = rq->checkpoint_dir;
    o->checkpoint_every = rq->checkpoint_every;
    o->ckpt_mode = rq->resume ? PP_EXEC_CKPT_RESUME
                   : rq->overwrite_checkpoint ? PP_EXEC_CKPT_OVERWRITE
                                              : PP_EXEC_CKPT_NEW;
    o->plan_hash = plan_hash;
}

int pp_run_agree_rank0(pp_comm *c, int rank0_failed, pp_status code, const char *others_msg, pp_err *err) {
    int me = pp_comm_rank(c);
    int bad[1] = {me == 0 && rank0_failed};
    pp_err e2 = {0};
    if (pp_comm_allreduce_max_i32(c, bad, 1, &e2)) {
        *err = e2;
        return -1;
    }
    if (!bad[0]) return 0;
    if (me != 0) pp_err_set(err, code, "%s", others_msg);
    return 1;
}

int pp_run_rank_end(pp_comm *c, const char *stop_msg, const char *failure) {
    if (stop_msg) {
        pp_launch_rank_fail(stop_msg);
        pp_comm_barrier(c, NULL);
        pp_launch_rank_done("interrupted\n");
        return 1;
    }
    if (failure) {
        pp_launch_rank_fail(failure);
        pp_comm_barrier(c, NULL);
        return 1;
    }
    pp_comm_barrier(c, NULL);
    pp_launch_rank_done("ok\n");
    return 0;
}
