/*
 * pp_exec.c -- the pipelined runtime (see pp_exec.h): stage engines per
 * rank, the schedule interpreter with its message routing, the step-level
 * reductions and the optimizer. Checkpoints are in pp_exec_ckpt.c.
 */
#include "executor/pp_exec_impl.h"

#include "core/pp_sched.h"
#include "kernels/pp_init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pp_exec_opts pp_exec_defaults(void) {
    pp_exec_opts o = {.seed = 1234, .hyper = pp_adamw_defaults(), .total_steps = 100, .threads = 1, .timeout_s = 30,
                      .lookahead = 4, .record = 1, .nan_rank = -1, .nan_step = -1};
    return o;
}

/* ---- small helpers ---- */

static int midx(const pp_exec *x, int mb, int c, int k) { return (mb * x->S + c) * x->K + k; }
static int gl_rank(const pp_exec *x, int stage) { return x->d * x->pp + x->stage_rank[stage]; }
static int is_local(const pp_exec *x, int stage) { return x->stage_rank[stage] == x->r; }
static size_t tbytes(const pp_exec *x, int t) { return (size_t)pp_tensor_bytes(&x->g->tensors[t]); }

static int add_event(pp_exec *x, int stream, int type, int stage, int mb, double start, double end, long long bytes,
                     pp_err *err) {
    if (!x->o.record) return 0;
    if (x->n_ev == x->cap_ev) {
        long long cap = x->cap_ev ? 2 * x->cap_ev : 1024;
        pp_run_event *n = realloc(x->ev, (size_t)cap * sizeof *n);
        if (!n) return pp_err_set(err, PP_ERR_NOMEM, "out of memory recording the trace");
        x->ev = n;
        x->cap_ev = cap;
    }
    pp_run_event *e = &x->ev[x->n_ev++];
    e->step = x->step_now;
    e->ev = (pp_trace_event){.rank = x->me, .stream = stream, .action = type, .stage = stage, .mb = mb,
                             .start = start - x->t0, .end = end - x->t0, .bytes = bytes};
    return 0;
}

/* Message buffers: those handed over between stages of this rank are
 * backend memory; those that travel over MPI are host memory from
 * pp_backend_alloc_host (the same thing on the CPU backend; pinned staging
 * buffers on a device backend, copied to and from the engine's buffers). */
static void msg_free(pp_exec *x, pp_exec_msg *m) {
    if (m->buf) pp_backend_free(x->be, m->buf, m->bytes);
    memset(m, 0, sizeof *m);
}

static void msg_free_host(pp_exec *x, pp_exec_msg *m) {
    if (m->buf) pp_backend_free_host(x->be, m->buf, m->bytes);
    memset(m, 0, sizeof *m);
}

/* Frees a message once its contents are used: host for one that came over MPI. */
static void msg_done(pp_exec *x, pp_exec_msg *m, int remote) {
    if (remote) msg_free_host(x, m);
    else msg_free(x, m);
}

/* Sums n floats of backend memory over comm: directly where backend memory
 * is host memory, else through a host staging buffer. */
static int allreduce_backend(pp_exec *x, pp_comm *comm, float *buf, long long n, pp_err *err) {
    if (pp_backend_is_host(x->be)) return pp_comm_allreduce_sum_f32(comm, buf, n, err);
    size_t bytes = (size_t)n * sizeof(float);
    float *h = pp_backend_alloc_host(x->be, bytes, err);
    if (!h) return -1;
    pp_backend_download(x->be, h, buf, bytes);
    int rc = pp_comm_allreduce_sum_f32(comm, h, n, err);
    if (!rc) pp_backend_upload(x->be, buf, h, bytes);
    pp_backend_free_host(x->be, h, bytes);
    return rc;
}

/* The clock once the backend's queued work is done: compute events of a
 * device backend end when the device is done (the CPU backend's sync is
 * free). */
static double now_synced(pp_exec *x) {
    pp_backend_sync(x->be);
    return pp_backend_now();
}

/* Prefixes err with this rank's name and what it was doing. */
static int fail_ctx(pp_exec *x, pp_err *err, const char *what) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    return pp_err_set(err, err->code ? err->code : PP_ERR_IO, "rank %d, step %d, %s: %s", x->me, x->step_now + 1, what,
                      msg);
}

static int wait_msg(pp_exec *x, pp_exec_msg *m, const char *what, pp_err *err) {
    if (!m->req) return 0;
    pp_comm_req *q = m->req;
    m->req = NULL;
    if (pp_comm_wait(q, x->o.timeout_s, err)) return fail_ctx(x, err, what);
    return 0;
}

/* ---- receives, posted ahead ---- */

static int post_recv_f(pp_exec *x, int c, int mb, pp_err *err) {
    const pp_exec_stage *st = &x->st[c];
    for (int k = 0; k < st->n_in; k++) {
        int src = st->in_src[k];
        if (src < 0 || is_local(x, src)) continue;
        pp_exec_msg *m = &x->mf[midx(x, mb, c, k)];
        if (m->buf) continue;
        m->bytes = tbytes(x, st->in_t[k]);
        if (!(m->buf = pp_backend_alloc_host(x->be, m->bytes, err))) return -1;
        int tag = 2 * midx(x, mb, c, k);
        if (pp_comm_irecv(x->world, m->buf, m->bytes, gl_rank(x, src), tag, &m->req, err)) return -1;
    }
    return 0;
}

static int post_recv_b(pp_exec *x, int p, int mb, pp_err *err) {
    const pp_exec_stage *st = &x->st[p];
    for (int k = 0; k < st->n_out; k++)
        for (int j = 0; j < st->n_cons[k]; j++) {
            int c = st->cons[k][j].c, kk = st->cons[k][j].k;
            if (is_local(x, c)) continue;
            pp_exec_msg *m = &x->mb[midx(x, mb, c, kk)];
            if (m->buf) continue;
            m->bytes = tbytes(x, st->out_t[k]);
            if (!(m->buf = pp_backend_alloc_host(x->be, m->bytes, err))) return -1;
            int tag = 2 * midx(x, mb, c, kk) + 1;
            if (pp_comm_irecv(x->world, m->buf, m->bytes, gl_rank(x, c), tag, &m->req, err)) return -1;
        }
    return 0;
}

/* Posts the receives of one compute action (F part and backward part). */
static int post_for_action(pp_exec *x, const pp_action *a, pp_err *err) {
    switch (a->type) {
    case PP_ACT_F: case PP_ACT_RECV_F: return post_recv_f(x, a->stage, a->mb, err);
    case PP_ACT_I: case PP_ACT_B: case PP_ACT_RECV_B: return post_recv_b(x, a->stage, a->mb, err);
    case PP_ACT_OVERLAP_F_B:
        return post_recv_f(x, a->sub[0].stage, a->sub[0].mb, err) ||
                       (a->sub[1].type != PP_ACT_W && post_recv_b(x, a->sub[1].stage, a->sub[1].mb, err))
                   ? -1
                   : 0;
    default: return 0;
    }
}

/* ---- sends ---- */

static int send_copy(pp_exec *x, const void *src, size_t bytes, int peer, int tag, pp_err *err) {
    if (x->n_sends == x->cap_sends) {
        int cap = x->cap_sends ? 2 * x->cap_sends : 16;
        pp_exec_msg *n = realloc(x->sends, (size_t)cap * sizeof *n);
        if (!n) return pp_err_set(err, PP_ERR_NOMEM, "out of memory for pending sends");
        x->sends = n;
        x->cap_sends = cap;
    }
    pp_exec_msg *m = &x->sends[x->n_sends];
    memset(m, 0, sizeof *m);
    m->bytes = bytes;
    if (!(m->buf = pp_backend_alloc_host(x->be, bytes, err))) return -1;
    pp_backend_download(x->be, m->buf, src, bytes);
    double t = pp_backend_now();
    if (pp_comm_isend(x->world, m->buf, bytes, peer, tag, &m->req, err)) {
        msg_free_host(x, m);
        return -1;
    }
    x->n_sends++;
    return add_event(x, PP_STREAM_SEND, tag & 1 ? PP_ACT_SEND_B : PP_ACT_SEND_F, -1, -1, t, t, (long long)bytes, err);
}

/* Frees the sends that have completed (all of them, waiting, when wait_all). */
static int reap_sends(pp_exec *x, int wait_all, pp_err *err) {
    int j = 0;
    for (int i = 0; i < x->n_sends; i++) {
        pp_exec_msg *m = &x->sends[i];
        int done = wait_all ? 1 : pp_comm_test(m->req, err);
        if (done < 0) return fail_ctx(x, err, "a send");
        if (wait_all && wait_msg(x, m, "waiting for a send to be received", err)) return -1;
        if (done) {
            if (!wait_all) {
                pp_comm_wait(m->req, 0, err); /* completed: frees the request */
                m->req = NULL;
            }
            msg_free_host(x, m);
        } else {
            x->sends[j++] = *m;
        }
    }
    x->n_sends = j;
    return 0;
}

/* ---- compute actions ---- */

static int run_forward(pp_exec *x, int c, int mb, pp_err *err) {
    pp_exec_stage *st = &x->st[c];
    char what[96];
    snprintf(what, sizeof what, "forward of stage %d microbatch %d", c, mb);
    if (post_recv_f(x, c, mb, err)) return fail_ctx(x, err, what);
    double tw = pp_backend_now();
    int waited = 0;
    for (int k = 0; k < st->n_in; k++) {
        pp_exec_msg *m = &x->mf[midx(x, mb, c, k)];
        if (m->req) {
            char w2[160];
            snprintf(w2, sizeof w2, "receiving the input of stage %d microbatch %d from rank %d", c, mb,
                     gl_rank(x, st->in_src[k]));
            if (wait_msg(x, m, w2, err)) return -1;
            waited = 1;
        }
    }
    if (waited && add_event(x, PP_STREAM_RECV, PP_ACT_RECV_F, c, mb, tw, pp_backend_now(), 0, err)) return -1;
    if (pp_engine_begin(st->e, mb, err)) return fail_ctx(x, err, what);
    int need_data = 0;
    for (int k = 0; k < st->n_in; k++) need_data |= st->in_src[k] < 0;
    if (need_data) {
        long long sample0 = (long long)x->step_now * x->plan->global_batch +
                            ((long long)x->d * x->m + mb) * x->plan->micro_batch;
        pp_data_fill(&x->data, &x->plan->model, x->o.seed, sample0, x->plan->micro_batch, x->plan->seq_len, x->tok,
                     x->dec, x->lab);
    }
    for (int k = 0; k < st->n_in; k++) {
        int t = st->in_t[k];
        void *dst = pp_engine_buffer(st->e, mb, t, err);
        if (!dst) return fail_ctx(x, err, what);
        if (st->in_src[k] < 0) {
            const int32_t *src = t == x->tok_t ? x->tok : t == x->lab_t ? x->lab : t == x->dec_t ? x->dec : NULL;
            if (!src) {
                pp_err_set(err, PP_ERR_INVALID, "input '%s' is not a data input", x->g->tensors[t].name);
                return fail_ctx(x, err, what);
            }
            pp_backend_upload(x->be, dst, src, tbytes(x, t));
            continue;
        }
        pp_exec_msg *m = &x->mf[midx(x, mb, c, k)];
        if (!m->buf) {
            pp_err_set(err, PP_ERR_INVALID, "input '%s' from stage %d has not been computed yet on this rank",
                       x->g->tensors[t].name, st->in_src[k]);
            return fail_ctx(x, err, what);
        }
        int remote = !is_local(x, st->in_src[k]);
        if (remote) pp_backend_upload(x->be, dst, m->buf, m->bytes);
        else pp_backend_copy(x->be, dst, m->buf, m->bytes);
        msg_done(x, m, remote);
    }
    double t0 = now_synced(x);
    if (pp_engine_forward(st->e, mb, err)) return fail_ctx(x, err, what);
    double t1 = now_synced(x);
    x->busy += t1 - t0;
    if (add_event(x, PP_STREAM_COMPUTE, PP_ACT_F, c, mb, t0, t1, 0, err)) return -1;
    if (st->has_loss) {
        double l = pp_engine_loss(st->e, mb);
        if (x->o.nan_rank == x->me && x->o.nan_step == x->step_now) l = NAN;
        x->loss_acc += l;
    }
    for (int k = 0; k < st->n_out; k++) {
        int t = st->out_t[k];
        const void *src = pp_engine_output(st->e, mb, t);
        for (int j = 0; j < st->n_cons[k]; j++) {
            int c2 = st->cons[k][j].c, kk = st->cons[k][j].k;
            if (is_local(x, c2)) {
                pp_exec_msg *m = &x->mf[midx(x, mb, c2, kk)];
                m->bytes = tbytes(x, t);
                if (!(m->buf = pp_backend_alloc_uninit(x->be, m->bytes, err))) return fail_ctx(x, err, what);
                pp_backend_copy(x->be, m->buf, src, m->bytes);
            } else if (send_copy(x, src, tbytes(x, t), gl_rank(x, c2), 2 * midx(x, mb, c2, kk), err)) {
                return fail_ctx(x, err, what);
            }
        }
    }
    pp_engine_release_outputs(st->e, mb);
    return 0;
}

static int run_backward(pp_exec *x, int p, int mb, int full, pp_err *err) {
    pp_exec_stage *st = &x->st[p];
    char what[96];
    snprintf(what, sizeof what, "backward of stage %d microbatch %d", p, mb);
    if (post_recv_b(x, p, mb, err)) return fail_ctx(x, err, what);
    double tw = pp_backend_now();
    int waited = 0;
    for (int k = 0; k < st->n_out; k++)
        for (int j = 0; j < st->n_cons[k]; j++) {
            int c = st->cons[k][j].c, kk = st->cons[k][j].k;
            pp_exec_msg *m = &x->mb[midx(x, mb, c, kk)];
            if (m->req) {
                char w2[160];
                snprintf(w2, sizeof w2, "receiving the output gradient of stage %d microbatch %d from rank %d", p, mb,
                         gl_rank(x, c));
                if (wait_msg(x, m, w2, err)) return -1;
                waited = 1;
            }
        }
    if (waited && add_event(x, PP_STREAM_RECV, PP_ACT_RECV_B, p, mb, tw, pp_backend_now(), 0, err)) return -1;
    for (int k = 0; k < st->n_out; k++)
        for (int j = 0; j < st->n_cons[k]; j++) {
            int c = st->cons[k][j].c, kk = st->cons[k][j].k;
            pp_exec_msg *m = &x->mb[midx(x, mb, c, kk)];
            if (!m->buf) {
                pp_err_set(err, PP_ERR_INVALID, "the gradient of '%s' from stage %d has not been computed yet on this rank",
                           x->g->tensors[st->out_t[k]].name, c);
                return fail_ctx(x, err, what);
            }
            int remote = !is_local(x, c);
            const float *gsrc = m->buf;
            float *staged = NULL; /* a device backend adds from backend memory */
            if (remote && !pp_backend_is_host(x->be)) {
                if (!(staged = pp_backend_alloc_uninit(x->be, m->bytes, err))) return fail_ctx(x, err, what);
                pp_backend_upload(x->be, staged, m->buf, m->bytes);
                gsrc = staged;
            }
            int rc = pp_engine_add_output_grad(st->e, mb, st->out_t[k], gsrc, err);
            pp_backend_free(x->be, staged, m->bytes);
            if (rc) return fail_ctx(x, err, what);
            msg_done(x, m, remote);
        }
    double t0 = now_synced(x);
    if (pp_engine_backward_input(st->e, mb, 1.0f / (float)(x->m * x->dp), err)) return fail_ctx(x, err, what);
    double t1 = now_synced(x);
    x->busy += t1 - t0;
    if (!full && add_event(x, PP_STREAM_COMPUTE, PP_ACT_I, p, mb, t0, t1, 0, err)) return -1;
    for (int k = 0; k < st->n_in; k++) {
        int src = st->in_src[k], t = st->in_t[k];
        if (src < 0) continue;
        const float *gsrc = pp_engine_input_grad(st->e, mb, t);
        if (!gsrc) {
            pp_err_set(err, PP_ERR_INVALID, "no gradient for input '%s'", x->g->tensors[t].name);
            return fail_ctx(x, err, what);
        }
        if (is_local(x, src)) {
            pp_exec_msg *m = &x->mb[midx(x, mb, p, k)];
            m->bytes = tbytes(x, t);
            if (!(m->buf = pp_backend_alloc_uninit(x->be, m->bytes, err))) return fail_ctx(x, err, what);
            pp_backend_copy(x->be, m->buf, gsrc, m->bytes);
        } else if (send_copy(x, gsrc, tbytes(x, t), gl_rank(x, src), 2 * midx(x, mb, p, k) + 1, err)) {
            return fail_ctx(x, err, what);
        }
    }
    pp_engine_release_input_grads(st->e, mb);
    if (full) {
        double t2 = now_synced(x);
        if (pp_engine_backward_weight(st->e, mb, err)) return fail_ctx(x, err, what);
        double t3 = now_synced(x);
        x->busy += t3 - t2;
        /* B is one event from the start of I to the end of W (its sends in between take microseconds). */
        if (add_event(x, PP_STREAM_COMPUTE, PP_ACT_B, p, mb, t0, t3, 0, err)) return -1;
    }
    return 0;
}

static int run_weight(pp_exec *x, int s, int mb, pp_err *err) {
    double t0 = now_synced(x);
    if (pp_engine_backward_weight(x->st[s].e, mb, err)) {
        char what[96];
        snprintf(what, sizeof what, "weight gradient of stage %d microbatch %d", s, mb);
        return fail_ctx(x, err, what);
    }
    double t1 = now_synced(x);
    x->busy += t1 - t0;
    return add_event(x, PP_STREAM_COMPUTE, PP_ACT_W, s, mb, t0, t1, 0, err);
}

static int run_sub(pp_exec *x, int type, int s, int mb, pp_err *err) {
    switch (type) {
    case PP_ACT_F: return run_forward(x, s, mb, err);
    case PP_ACT_I: return run_backward(x, s, mb, 0, err);
    case PP_ACT_B: return run_backward(x, s, mb, 1, err);
    case PP_ACT_W: return run_weight(x, s, mb, err);
    default: return 0;
    }
}

/* ---- the step ---- */

static int is_compute(int type) {
    return type == PP_ACT_F || type == PP_ACT_I || type == PP_ACT_W || type == PP_ACT_B || type == PP_ACT_OVERLAP_F_B;
}

/* Sums the gradients of each tied parameter over the stages holding it. */
static int reduce_tied(pp_exec *x, pp_err *err) {
    for (int i = 0; i < x->n_tied; i++) {
        int t = x->tied_tensor[i];
        long long n = pp_tensor_numel(&x->g->tensors[t]);
        float *first = NULL;
        for (int s = 0; s < x->S; s++) {
            if (!x->st[s].e) continue;
            float *gr = pp_engine_grad(x->st[s].e, t);
            if (!gr) continue;
            if (!first) first = gr;
            else pp_backend_add(x->be, first, gr, n);
        }
        if (x->tied_comm[i] && first && allreduce_backend(x, x->tied_comm[i], first, n, err))
            return fail_ctx(x, err, "summing tied gradients");
        for (int s = 0; s < x->S; s++) {
            if (!x->st[s].e) continue;
            float *gr = pp_engine_grad(x->st[s].e, t);
            if (gr && gr != first) pp_backend_copy(x->be, gr, first, (size_t)n * sizeof(float));
        }
    }
    return 0;
}

int pp_exec_step(pp_exec *x, int step, pp_exec_step_result *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    x->step_now = step;
    x->loss_acc = 0;
    double t_step = pp_backend_now();
    const pp_sched_rank *row = &x->plan->schedule.ranks[x->r];
    int posted = 0; /* actions of the row whose receives are posted */
    for (int i = 0; i < row->n; i++) {
        /* Receives of the next `lookahead` compute actions. */
        int ahead = 0;
        if (posted < i) posted = i;
        for (int j = i; j < row->n && ahead <= x->o.lookahead; j++) {
            if (!is_compute(row->acts[j].type)) continue;
            ahead++;
            if (j < posted) continue;
            if (post_for_action(x, &row->acts[j], err)) return fail_ctx(x, err, "posting receives");
            posted = j + 1;
        }
        const pp_action *a = &row->acts[i];
        int rc = 0;
        switch (a->type) {
        case PP_ACT_F: case PP_ACT_I: case PP_ACT_B: case PP_ACT_W: rc = run_sub(x, a->type, a->stage, a->mb, err); break;
        case PP_ACT_OVERLAP_F_B:
            rc = run_sub(x, a->sub[0].type, a->sub[0].stage, a->sub[0].mb, err) ||
                 run_sub(x, a->sub[1].type, a->sub[1].stage, a->sub[1].mb, err);
            break;
        case PP_ACT_RECV_F: case PP_ACT_RECV_B:
            /* Posted, not waited for (PyTorch's runtime does the same; the
             * compute action that needs the data waits). */
            if (post_for_action(x, a, err)) rc = fail_ctx(x, err, "posting a receive");
            break;
        default: break; /* sends are already posted; step-level work comes below */
        }
        if (rc) return -1;
        if (reap_sends(x, 0, err)) return -1;
    }
    if (reap_sends(x, 1, err)) return -1;
    /* Step-level: tied gradients, data-parallel gradients, norm, optimizer. */
    double tc = pp_backend_now();
    if (reduce_tied(x, err)) return -1;
    if (x->dp_comm)
        for (int s = 0; s < x->S; s++) {
            if (!x->st[s].e) continue;
            long long n;
            float *gr = pp_engine_grads_flat(x->st[s].e, &n);
            if (allreduce_backend(x, x->dp_comm, gr, n, err))
                return fail_ctx(x, err, "summing gradients over the data-parallel replicas");
        }
    double red[2] = {0, x->loss_acc / (double)(x->m * x->dp)};
    if (x->d == 0)
        for (int s = 0; s < x->S; s++) {
            pp_engine *e = x->st[s].e;
            if (!e) continue;
            for (int i = 0; i < pp_engine_n_params(e); i++) {
                int t = pp_engine_param_tensor(e, i);
                if (x->owner[t] != s) continue; /* a tied copy: counted at its first stage */
                red[0] += pp_backend_sumsq(x->be, pp_engine_grad(e, t), (long)pp_tensor_numel(&x->g->tensors[t]));
            }
        }
    int *bad = x->bad;
    memset(bad, 0, (size_t)x->world_n * sizeof *bad);
    bad[x->me] = !isfinite(red[1]) ? 1 : !isfinite(red[0]) ? 2 : 0;
    if (pp_comm_allreduce_sum_f64(x->world, red, 2, err) || pp_comm_allreduce_max_i32(x->world, bad, x->world_n, err))
        return fail_ctx(x, err, "summing the loss and the gradient norm");
    for (int i = 0; i < x->world_n; i++)
        if (bad[i] && (x->failed_together = 1))
            return pp_err_set(err, PP_ERR_INVALID, "rank %d, step %d: the %s not finite; stopping every rank (try a lower --lr)",
                              i, step + 1, bad[i] == 1 ? "loss is" : "gradients are");
    double norm = sqrt(red[0]), lr = pp_optim_lr(&x->o.hyper, step, x->o.total_steps);
    float scale = pp_optim_clip_scale(&x->o.hyper, norm);
    for (int s = 0; s < x->S; s++) {
        if (!x->st[s].e) continue;
        pp_optim_step(&x->st[s].opt, x->be, x->st[s].e, x->g, &x->o.hyper, lr, scale);
        pp_engine_zero_grads(x->st[s].e);
    }
    double te = now_synced(x);
    if (add_event(x, PP_STREAM_COLLECTIVE, PP_ACT_OPTIM, -1, -1, tc, te, 0, err)) return -1;
    out->step = step;
    out->loss = red[1];
    out->grad_norm = norm;
    out->lr = lr;
    out->seconds = te - t_step;
    return 0;
}

/* ---- building ---- */

static int build_stage(pp_exec *x, int s, pp_err *err) {
    const pp_graph *g = x->g;
    pp_exec_stage *st = &x->st[s];
    st->lo = x->plan->stages[s].op_lo;
    st->hi = x->plan->stages[s].op_hi;
    if (pp_engine_create(g, st->lo, st->hi, x->be, &st->e, err)) return -1;
    st->n_in = pp_engine_n_inputs(st->e);
    st->n_out = pp_engine_n_outputs(st->e);
    st->in_t = pp_calloc((unsigned long long)st->n_in + 1, sizeof(int), err);
    st->in_src = pp_calloc((unsigned long long)st->n_in + 1, sizeof(int), err);
    if (!st->in_t || !st->in_src) return -1;
    for (int k = 0; k < st->n_in; k++) {
        st->in_t[k] = pp_engine_input_tensor(st->e, k);
        int prod = g->tensors[st->in_t[k]].producer;
        st->in_src[k] = prod < 0 ? -1 : x->op_stage[prod];
    }
    for (int i = st->lo; i < st->hi; i++) st->has_loss |= g->ops[i].kind == PP_OP_LM_HEAD;
    for (int i = 0; i < pp_engine_n_params(st->e); i++) {
        int t = pp_engine_param_tensor(st->e, i);
        if (pp_backend_is_host(x->be)) {
            pp_init_param(&x->plan->model, &g->tensors[t], x->o.seed, pp_engine_param(st->e, t));
            continue;
        }
        /* a device backend: initialised on the host, then uploaded */
        size_t bytes = tbytes(x, t);
        float *h = pp_malloc(bytes ? bytes : 1, err);
        if (!h) return -1;
        pp_init_param(&x->plan->model, &g->tensors[t], x->o.seed, h);
        pp_backend_upload(x->be, pp_engine_param(st->e, t), h, bytes);
        free(h);
    }
    return pp_optim_init(&st->opt, x->be, st->e, err);
}

/* Inputs and outputs of every stage (also the stages of other ranks, whose
 * boundaries decide who sends what to whom): engines are built for local
 * stages only, so boundaries are derived from the graph here. */
static int derive_boundaries(pp_exec *x, pp_err *err) {
    const pp_graph *g = x->g;
    /* in lists for remote stages: activations produced before lo, read in range. */
    int *seen = pp_calloc((unsigned long long)g->n_tensors, sizeof(int), err);
    if (!seen) return -1;
    for (int s = 0; s < x->S; s++) {
        pp_exec_stage *st = &x->st[s];
        if (st->e) continue;
        st->lo = x->plan->stages[s].op_lo;
        st->hi = x->plan->stages[s].op_hi;
        memset(seen, 0, (size_t)g->n_tensors * sizeof(int));
        st->in_t = pp_calloc((unsigned long long)(st->hi - st->lo) * PP_OP_MAX_IN + 1, sizeof(int), err);
        st->in_src = pp_calloc((unsigned long long)(st->hi - st->lo) * PP_OP_MAX_IN + 1, sizeof(int), err);
        if (!st->in_t || !st->in_src) {
            free(seen);
            return -1;
        }
        for (int i = st->lo; i < st->hi; i++)
            for (int k = 0; k < g->ops[i].n_in; k++) {
                int t = g->ops[i].in[k], prod = g->tensors[t].producer;
                if (seen[t] || (prod >= st->lo && prod < st->hi)) continue;
                seen[t] = 1;
                st->in_t[st->n_in] = t;
                st->in_src[st->n_in++] = prod < 0 ? -1 : x->op_stage[prod];
            }
    }
    free(seen);
    /* The engine's input order is its own; remote stages use the order above.
     * Both sides of a message index it by the consumer's list, which only
     * the consumer's rank builds from its engine and the producer's rank
     * from the graph: make them agree by sorting every list by tensor. */
    for (int s = 0; s < x->S; s++) {
        pp_exec_stage *st = &x->st[s];
        for (int a = 1; a < st->n_in; a++)
            for (int b = a; b > 0 && st->in_t[b - 1] > st->in_t[b]; b--) {
                int t = st->in_t[b], u = st->in_src[b];
                st->in_t[b] = st->in_t[b - 1];
                st->in_src[b] = st->in_src[b - 1];
                st->in_t[b - 1] = t;
                st->in_src[b - 1] = u;
            }
        if (st->n_in > x->K) x->K = st->n_in;
    }
    /* Outputs and their consumers, from the consumers' input lists. */
    for (int s = 0; s < x->S; s++) {
        pp_exec_stage *st = &x->st[s];
        int cap = 0;
        for (int c = s + 1; c < x->S; c++)
            for (int k = 0; k < x->st[c].n_in; k++) cap += x->st[c].in_src[k] == s;
        st->n_out = 0;
        st->out_t = pp_calloc((unsigned long long)cap + 1, sizeof(int), err);
        st->n_cons = pp_calloc((unsigned long long)cap + 1, sizeof(int), err);
        st->cons = pp_calloc((unsigned long long)cap + 1, sizeof(pp_exec_edge *), err);
        if (!st->out_t || !st->n_cons || !st->cons) return -1;
        for (int c = s + 1; c < x->S; c++)
            for (int k = 0; k < x->st[c].n_in; k++) {
                if (x->st[c].in_src[k] != s) continue;
                int t = x->st[c].in_t[k], o = 0;
                while (o < st->n_out && st->out_t[o] != t) o++;
                if (o == st->n_out) {
                    st->out_t[st->n_out++] = t;
                    if (!(st->cons[o] = pp_calloc((unsigned long long)x->S, sizeof(pp_exec_edge), err))) return -1;
                }
                st->cons[o][st->n_cons[o]++] = (pp_exec_edge){.c = c, .k = k};
            }
    }
    return 0;
}

int pp_exec_create(const pp_plan *plan, const pp_graph *g, pp_comm *world, const pp_exec_opts *o, pp_exec **out,
                   pp_err *err) {
    *out = NULL;
    int n = pp_comm_size(world);
    if (n != plan->pp * plan->dp)
        return pp_err_set(err, PP_ERR_INVALID, "the plan needs %d ranks (pp %d x dp %d), but this run has %d",
                          plan->pp * plan->dp, plan->pp, plan->dp, n);
    if (plan->schedule.n_ranks != plan->pp)
        return pp_err_set(err, PP_ERR_INVALID, "the plan's schedule has %d rows for pp %d", plan->schedule.n_ranks,
                          plan->pp);
    pp_exec *x = pp_calloc(1, sizeof *x, err);
    if (!x) return -1;
    x->plan = plan;
    x->g = g;
    x->world = world;
    x->o = *o;
    x->ckpt_step = -1;
    if (x->o.timeout_s <= 0) x->o.timeout_s = 30;
    if (x->o.lookahead < 0) x->o.lookahead = 0;
    if (x->o.total_steps < 1) x->o.total_steps = 1;
    x->me = pp_comm_rank(world);
    x->world_n = n;
    x->pp = plan->pp;
    x->dp = plan->dp;
    x->r = x->me % plan->pp;
    x->d = x->me / plan->pp;
    x->S = plan->n_stages;
    x->m = plan->n_microbatches;
    x->tok_t = pp_graph_find_tensor(g, "tokens");
    x->lab_t = pp_graph_find_tensor(g, "labels");
    x->dec_t = pp_graph_find_tensor(g, "decoder_tokens");
    int rc = -1;
    char hash[65], *all = NULL;
    /* Every rank must run the same plan. */
    if (pp_plan_hash(plan, g, hash, err)) goto fail;
    if (!(all = pp_malloc((unsigned long long)n * 65, err)) || pp_comm_allgather(world, hash, 65, all, err)) goto fail;
    for (int i = 0; i < n; i++)
        if (memcmp(all + 65 * i, all, 65)) {
            pp_err_set(err, PP_ERR_INVALID, "rank %d loaded another plan than rank 0 (plan hash %.12s, rank 0 has %.12s)",
                       i, all + 65 * i, all);
            goto fail;
        }
    if (pp_sched_check(&plan->schedule, plan->n_stages, plan->n_microbatches, err)) goto fail;
    x->stage_rank = pp_calloc((unsigned long long)x->S, sizeof(int), err);
    x->op_stage = pp_calloc((unsigned long long)g->n_ops, sizeof(int), err);
    x->owner = pp_calloc((unsigned long long)g->n_tensors, sizeof(int), err);
    x->st = pp_calloc((unsigned long long)x->S, sizeof *x->st, err);
    x->bad = pp_calloc((unsigned long long)n, sizeof(int), err);
    if (!x->stage_rank || !x->op_stage || !x->owner || !x->st || !x->bad) goto fail;
    for (int t = 0; t < g->n_tensors; t++) x->owner[t] = -1;
    for (int s = 0; s < x->S; s++) {
        x->stage_rank[s] = plan->stages[s].rank;
        for (int i = plan->stages[s].op_lo; i < plan->stages[s].op_hi; i++) {
            x->op_stage[i] = s;
            for (int k = 0; k < g->ops[i].n_param; k++)
                if (x->owner[g->ops[i].param[k]] < 0) x->owner[g->ops[i].param[k]] = s;
        }
    }
    if (pp_data_load(o->data_path, &x->data, err) || pp_data_check(&x->data, &plan->model, plan->seq_len, err)) goto fail;
    size_t ntok = (size_t)plan->micro_batch * (size_t)plan->seq_len;
    x->tok = pp_calloc(ntok, sizeof(int32_t), err);
    x->lab = pp_calloc(ntok, sizeof(int32_t), err);
    x->dec = pp_calloc(ntok, sizeof(int32_t), err);
    if (!x->tok || !x->lab || !x->dec) goto fail;
    if (pp_backend_open(x->o.backend, x->o.threads, &x->be, err)) goto fail;
    for (int i = 0; i < g->n_ops; i++)
        if (!pp_backend_supports(x->be, g->ops[i].kind)) {
            pp_err_set(err, PP_ERR_UNSUPPORTED, "op '%s' (%s): the %s backend has no kernel for it", g->ops[i].name,
                       pp_op_kind_name(g->ops[i].kind), x->be->vt->name);
            goto fail;
        }
    for (int s = 0; s < x->S; s++)
        if (x->stage_rank[s] == x->r && build_stage(x, s, err)) goto fail;
    if (derive_boundaries(x, err)) goto fail;
    long long tags = 2LL * x->m * x->S * (x->K ? x->K : 1);
    if (tags - 1 > pp_comm_tag_max(world)) {
        pp_err_set(err, PP_ERR_INVALID, "%d microbatches x %d stages x %d inputs need %lld message tags; MPI allows %d",
                   x->m, x->S, x->K, tags, pp_comm_tag_max(world) + 1);
        goto fail;
    }
    long long nm = (long long)x->m * x->S * (x->K ? x->K : 1);
    x->mf = pp_calloc((unsigned long long)nm, sizeof *x->mf, err);
    x->mb = pp_calloc((unsigned long long)nm, sizeof *x->mb, err);
    if (!x->mf || !x->mb) goto fail;
    /* Sub-communicators: the replicas of this pipeline rank; the ranks
     * holding each tied parameter (within one replica). */
    if (plan->dp > 1 && pp_comm_split(world, x->r, x->d, &x->dp_comm, err)) goto fail;
    x->n_tied = plan->n_tied;
    x->tied_tensor = pp_calloc((unsigned long long)x->n_tied + 1, sizeof(int), err);
    x->tied_comm = pp_calloc((unsigned long long)x->n_tied + 1, sizeof(pp_comm *), err);
    if (!x->tied_tensor || !x->tied_comm) goto fail;
    for (int i = 0; i < x->n_tied; i++) {
        const pp_plan_tied *td = &plan->tied[i];
        x->tied_tensor[i] = pp_graph_find_tensor(g, td->param);
        if (x->tied_tensor[i] < 0) {
            pp_err_set(err, PP_ERR_INVALID, "tied parameter '%s' is not in the model", td->param);
            goto fail;
        }
        int member = 0, first_rank = -1, multi = 0;
        for (int j = 0; j < td->n_stages; j++) {
            int rk = x->stage_rank[td->stages[j]];
            member |= rk == x->r;
            if (first_rank < 0) first_rank = rk;
            multi |= rk != first_rank;
        }
        if (pp_comm_split(world, member && multi ? x->d : -1, x->r, &x->tied_comm[i], err)) goto fail;
    }
    if (pp_comm_barrier(world, err)) goto fail;
    x->t0 = pp_backend_now();
    x->be->peak_bytes = x->be->bytes_in_use;
    free(all);
    *out = x;
    return 0;
fail:
    free(all);
    pp_exec_free(x);
    return rc;
}

void pp_exec_free(pp_exec *x) {
    if (!x) return;
    for (int i = 0; i < x->n_sends; i++) {
        if (x->sends[i].req) pp_comm_wait(x->sends[i].req, 1, NULL);
        x->sends[i].req = NULL;
        msg_free_host(x, &x->sends[i]);
    }
    free(x->sends);
    long long nm = (long long)x->m * x->S * (x->K ? x->K : 1);
    for (long long i = 0; x->mf && x->mb && i < nm; i++) {
        if (x->mf[i].req) pp_comm_wait(x->mf[i].req, 0.001, NULL);
        if (x->mb[i].req) pp_comm_wait(x->mb[i].req, 0.001, NULL);
        x->mf[i].req = x->mb[i].req = NULL;
        /* message (mb, c, k): forward from stage in_src[k] of c, backward from c */
        int c = (int)(i / (x->K ? x->K : 1) % x->S), k = (int)(i % (x->K ? x->K : 1));
        int src = k < x->st[c].n_in ? x->st[c].in_src[k] : -1;
        msg_done(x, &x->mf[i], src >= 0 && !is_local(x, src));
        msg_done(x, &x->mb[i], !is_local(x, c));
    }
    free(x->mf);
    free(x->mb);
    for (int s = 0; x->st && s < x->S; s++) {
        pp_exec_stage *st = &x->st[s];
        if (st->opt.m) pp_optim_free(&st->opt, x->be);
        pp_engine_free(st->e);
        free(st->in_t);
        free(st->in_src);
        for (int k = 0; st->cons && k < st->n_out; k++) free(st->cons[k]);
        free(st->cons);
        free(st->n_cons);
        free(st->out_t);
    }
    free(x->st);
    for (int i = 0; x->tied_comm && i < x->n_tied; i++) pp_comm_free(x->tied_comm[i]);
    free(x->tied_comm);
    free(x->tied_tensor);
    pp_comm_free(x->dp_comm);
    pp_backend_close(x->be);
    pp_data_free(&x->data);
    free(x->tok);
    free(x->lab);
    free(x->dec);
    free(x->stage_rank);
    free(x->op_stage);
    free(x->owner);
    free(x->bad);
    free(x->ev);
    free(x);
}

int pp_exec_gather_param(pp_exec *x, int t, float *out, pp_err *err) {
    if (t < 0 || t >= x->g->n_tensors || x->owner[t] < 0)
        return pp_err_set(err, PP_ERR_INVALID, "tensor #%d is not a parameter of the model", t);
    int s = x->owner[t], holder = x->stage_rank[s]; /* replica 0: global rank = pipeline rank */
    size_t bytes = tbytes(x, t);
    if (x->me == holder) {
        const float *p = pp_engine_param(x->st[s].e, t);
        if (x->me == 0) {
            pp_backend_download(x->be, out, p, bytes);
        } else if (pp_backend_is_host(x->be)) {
            if (pp_comm_send(x->world, p, bytes, 0, 0, err)) return -1;
        } else {
            float *h = pp_backend_alloc_host(x->be, bytes, err);
            if (!h) return -1;
            pp_backend_download(x->be, h, p, bytes);
            int rc = pp_comm_send(x->world, h, bytes, 0, 0, err);
            pp_backend_free_host(x->be, h, bytes);
            if (rc) return -1;
        }
    } else if (x->me == 0 && pp_comm_recv(x->world, out, bytes, holder, 0, err)) {
        return -1;
    }
    return 0;
}

int pp_exec_rank(const pp_exec *x) { return x->me; }
long long pp_exec_peak_bytes(const pp_exec *x) { return x->be->peak_bytes; }
double pp_exec_busy_s(const pp_exec *x) { return x->busy; }
const pp_run_event *pp_exec_events(const pp_exec *x, long long *n) {
    *n = x->n_ev;
    return x->ev;
}

int pp_exec_failed_together(const pp_exec *x) { return x->failed_together; }

int pp_exec_gather(pp_exec *x, pp_run_event **ev, long long *n_ev, pp_run_rank **ranks, pp_err *err) {
    *ev = NULL;
    *n_ev = 0;
    *ranks = NULL;
    pp_run_rank me = {.rank = x->me, .peak_bytes = x->be->peak_bytes, .busy_s = x->busy};
    if (pp_comm_hostname(x->world, me.host, sizeof me.host, err)) return -1;
    void *all = NULL, *info = NULL;
    size_t n_all = 0, n_info = 0;
    if (pp_comm_gather_bytes(x->world, x->ev, (size_t)x->n_ev * sizeof *x->ev, &all, &n_all, err) ||
        pp_comm_gather_bytes(x->world, &me, sizeof me, &info, &n_info, err)) {
        free(all);
        return -1;
    }
    *ev = all;
    *n_ev = (long long)(n_all / sizeof(pp_run_event));
    *ranks = info;
    return 0;
}
