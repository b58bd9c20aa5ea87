/*
 * pp_run.c -- the per-rank loop of a pipelined run (pp_run.h): checkpoint
 * folder, steps, stopping together on a signal, checkpoints, gathering,
 * the step time.
 */
#include "executor/pp_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_stats.h"
#include "executor/pp_launch.h"

void pp_run_opts_init(pp_run_opts *o) {
    memset(o, 0, sizeof *o);
    o->steps = 1;
    o->ckpt_mode = PP_EXEC_CKPT_NEW;
    o->plan_hash = "";
}

void pp_run_result_free(pp_run_result *r) {
    free(r->steps);
    free(r->ev);
    free(r->ranks);
    memset(r, 0, sizeof *r);
}

static void note(const pp_run_opts *o, pp_run_note_kind kind, int step, int last, const pp_exec_step_result *res,
                 const char *msg) {
    if (!o->on_note) return;
    pp_run_note n = {.kind = kind, .step = step, .last = last, .result = res, .message = msg};
    o->on_note(o->ctx, &n);
}

/* 1 when any rank has been signalled (collective): every rank then stops
 * at the same step. *sig: the signal; -1 on a communication failure. */
static int agree_stop(pp_comm *c, int *sig, pp_err *err) {
    int v[1] = {pp_launch_rank_signal()};
    if (pp_comm_allreduce_max_i32(c, v, 1, err)) return -1;
    *sig = v[0];
    return v[0] != 0;
}

/* A checkpoint of steps_done steps; a failure sets r->together as the
 * executor says. */
static int save(pp_exec *x, const pp_run_opts *o, int steps_done, pp_run_result *r, pp_err *err) {
    if (pp_exec_save(x, o->checkpoint_dir, steps_done, o->plan_hash, err)) {
        r->together = pp_exec_failed_together(x);
        return -1;
    }
    note(o, PP_RUN_CHECKPOINT, steps_done, 0, NULL, NULL);
    return 0;
}

int pp_run_plan(pp_exec *x, pp_comm *c, const pp_run_opts *o, pp_run_result *r, pp_err *err) {
    memset(r, 0, sizeof *r);
    int saved_at = -1;
    if (o->checkpoint_dir) {
        /* Checked before step 1: writable, and not holding a checkpoint
         * this run would destroy. */
        int done_steps;
        if (pp_exec_ckpt_open(x, o->checkpoint_dir, o->ckpt_mode, o->plan_hash, &done_steps, err)) {
            r->together = pp_exec_failed_together(x);
            if (o->ckpt_mode == PP_EXEC_CKPT_NEW && err->code == PP_ERR_INVALID) {
                size_t u = strlen(err->msg);
                snprintf(err->msg + u, sizeof err->msg - u,
                         "; --resume continues it, --overwrite-checkpoint replaces it, or choose another folder");
            }
            return -1;
        }
        r->first = saved_at = done_steps;
        if (o->ckpt_mode == PP_EXEC_CKPT_RESUME) note(o, PP_RUN_RESUMED, r->first, 0, NULL, NULL);
    }
    int first = r->first;
    int last = o->stop_after > 0 && first + o->stop_after < o->steps ? first + o->stop_after : o->steps;
    note(o, PP_RUN_STARTING, first, last, NULL, NULL);
    r->steps = calloc((size_t)(last > first ? last - first : 1), sizeof *r->steps);
    if (!r->steps) return pp_err_set(err, PP_ERR_NOMEM, "out of memory");
    for (int s = first; s < last; s++) {
        int stop = agree_stop(c, &r->stop_sig, err);
        if (stop < 0) return -1;
        if (stop) break;
        if (pp_exec_step(x, s, &r->steps[r->n_done], err)) {
            r->together = pp_exec_failed_together(x);
            return -1;
        }
        r->n_done++;
        note(o, PP_RUN_STEP, s, last, &r->steps[r->n_done - 1], NULL);
        if (o->checkpoint_dir && ((o->checkpoint_every > 0 && (s + 1) % o->checkpoint_every == 0) || s + 1 == last)) {
            if (save(x, o, s + 1, r, err)) return -1;
            saved_at = s + 1;
        }
    }
    if (r->stop_sig) {
        /* SIGUSR1 comes from the launcher, which says what it received. */
        char why[128];
        pp_launch_rank_why(why, sizeof why);
        snprintf(r->stop_msg, sizeof r->stop_msg, "interrupted by %s after %d step%s (steps %d..%d of %d)", why,
                 r->n_done, r->n_done == 1 ? "" : "s", first + 1, first + r->n_done, o->steps);
        note(o, PP_RUN_STOPPING, first + r->n_done, last, NULL, r->stop_msg);
        /* Keep what was trained: a checkpoint of the steps done. */
        if (o->checkpoint_dir && r->n_done > 0 && saved_at != first + r->n_done &&
            save(x, o, first + r->n_done, r, err))
            return -1;
    }
    if (pp_exec_gather(x, &r->ev, &r->n_ev, &r->ranks, err)) return -1;
    /* The step time: the steps after the first of this invocation. */
    r->first_left_out = r->n_done > 1;
    r->median_of = r->n_done - r->first_left_out;
    if (r->median_of > 0) {
        double *sec = malloc((size_t)r->median_of * sizeof *sec);
        if (!sec) return pp_err_set(err, PP_ERR_NOMEM, "out of memory");
        for (int i = 0; i < r->median_of; i++) sec[i] = r->steps[r->first_left_out + i].seconds;
        r->median_s = pp_stats_median(sec, r->median_of);
        free(sec);
    }
    return 0;
}
