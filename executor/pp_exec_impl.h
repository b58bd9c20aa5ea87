/*
 * pp_exec_impl.h -- the executor's private state, shared by pp_exec.c (the
 * runtime) and pp_exec_ckpt.c (checkpoints). Not a public header.
 */
#ifndef PP_EXEC_IMPL_H
#define PP_EXEC_IMPL_H

#include "executor/pp_data.h"
#include "executor/pp_exec.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_engine.h"

/* Input k of consuming stage c. */
typedef struct pp_exec_edge {
    int c, k;
} pp_exec_edge;

/* A stage: its engine and optimizer when this rank holds it; for every
 * stage, its boundary: inputs (sorted by tensor, with the producing stage
 * or -1 for data) and outputs with the inputs that read them. */
typedef struct pp_exec_stage {
    int lo, hi, has_loss;
    pp_engine *e;
    pp_optim opt;
    int n_in, *in_t, *in_src;
    int n_out, *out_t, *n_cons;
    pp_exec_edge **cons;
} pp_exec_stage;

/* A message buffer (backend memory) and its pending request, if any. */
typedef struct pp_exec_msg {
    void *buf;
    size_t bytes;
    pp_comm_req *req;
} pp_exec_msg;

struct pp_exec {
    const pp_plan *plan;
    const pp_graph *g;
    pp_comm *world, *dp_comm;
    pp_exec_opts o;
    int me, world_n, r, d, pp, dp, S, m, K;
    int *stage_rank, *op_stage, *owner; /* owner[t]: first stage holding parameter t, -1 */
    pp_exec_stage *st;
    pp_backend *be;
    pp_data data;
    int tok_t, lab_t, dec_t;
    int32_t *tok, *lab, *dec;
    /* Messages by (microbatch, consuming stage, input): forward activations
     * and backward gradients, received or handed over on this rank. */
    pp_exec_msg *mf, *mb;
    pp_exec_msg *sends;
    int n_sends, cap_sends;
    int n_tied, *tied_tensor;
    pp_comm **tied_comm;
    int *bad;
    double t0, busy, loss_acc;
    int step_now, failed_together;
    int ckpt_step; /* step of the stage files in the checkpoint folder this run may replace: the ones it wrote
                    * last, resumed from, or was allowed to overwrite; -1: none */
    pp_run_event *ev;
    long long n_ev, cap_ev;
};

#endif /* PP_EXEC_IMPL_H */
