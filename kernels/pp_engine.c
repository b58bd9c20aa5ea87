/*
 * pp_engine.c -- the stage engine (see pp_engine.h).
 *
 * Per stage, computed once: which tensors are inputs and outputs of the
 * range, the last op that reads each tensor, and the sets the graph says are
 * kept from F until I (keep_f) and from I until W (keep_w: activations and
 * output gradients). Per microbatch, a slot holds one buffer pointer per
 * graph tensor for activations and for gradients, and one private buffer per
 * op (statistics, lse, probabilities). Buffers are freed the moment the
 * graph says they are no longer needed, so what a slot holds between passes
 * is exactly the predicted set.
 */
#include "kernels/pp_engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { ST_FREE = 0, ST_BEGUN, ST_FORWARD, ST_BACKWARD_I };

typedef struct slot {
    int mb, state;
    void **act;          /* [n_tensors] */
    float **grad;        /* [n_tensors] */
    void **extra;        /* [n_ops in range] */
    unsigned char *pending; /* [n_tensors] bit 1: act waits to be sent; bit 2: grad waits */
    float loss;
} slot;

struct pp_engine {
    const pp_graph *g;
    pp_backend *be;
    int lo, hi;
    int *params;         /* distinct parameter tensors of the range */
    int n_params;
    long long *param_off; /* [n_tensors], -1 when not in stage */
    float *pdata, *gdata;
    long long n_floats;
    int *inputs, n_inputs, *outputs, n_outputs;
    int *last_use;       /* [n_tensors]: last op in range reading it, -1 if none */
    unsigned char *is_output, *is_input, *keep_f, *keep_w_act, *keep_w_grad;
    slot *slots;
    int n_slots;
    int has_head;
};

static size_t tbytes(const pp_engine *e, int t) { return (size_t)pp_tensor_bytes(&e->g->tensors[t]); }

static int has_w_pass(const pp_op *op) {
    switch (op->kind) {
    case PP_OP_EMBEDDING:
    case PP_OP_LAYERNORM:
    case PP_OP_RMSNORM:
    case PP_OP_LINEAR:
    case PP_OP_POOLER:
    case PP_OP_LM_HEAD: return 1;
    default: return 0;
    }
}

void pp_engine_free(pp_engine *e) {
    if (!e) return;
    for (int s = 0; s < e->n_slots; s++) {
        slot *sl = &e->slots[s];
        if (sl->state != ST_FREE) {
            for (int t = 0; t < e->g->n_tensors; t++) {
                pp_backend_free(e->be, sl->act[t], tbytes(e, t));
                pp_backend_free(e->be, sl->grad[t], tbytes(e, t));
            }
            for (int i = e->lo; i < e->hi; i++) {
                const pp_op *op = &e->g->ops[i];
                long long nb = op->keep_f_extra > op->keep_w_extra ? op->keep_f_extra : op->keep_w_extra;
                pp_backend_free(e->be, sl->extra[i - e->lo], (size_t)nb);
            }
        }
        free(sl->act);
        free(sl->grad);
        free(sl->extra);
        free(sl->pending);
    }
    free(e->slots);
    pp_backend_free(e->be, e->pdata, (size_t)e->n_floats * sizeof(float));
    pp_backend_free(e->be, e->gdata, (size_t)e->n_floats * sizeof(float));
    free(e->params);
    free(e->param_off);
    free(e->inputs);
    free(e->outputs);
    free(e->last_use);
    free(e->is_output);
    free(e->is_input);
    free(e->keep_f);
    free(e->keep_w_act);
    free(e->keep_w_grad);
    free(e);
}

int pp_engine_create(const pp_graph *g, int lo, int hi, pp_backend *be, pp_engine **out, pp_err *err) {
    *out = NULL;
    if (lo < 0 || hi > g->n_ops || lo >= hi)
        return pp_err_set(err, PP_ERR_INVALID, "stage op range [%d, %d) is not inside the graph's %d ops", lo, hi,
                          g->n_ops);
    pp_engine *e = pp_calloc(1, sizeof *e, err);
    if (!e) return -1;
    e->g = g;
    e->be = be;
    e->lo = lo;
    e->hi = hi;
    int nt = g->n_tensors;
    unsigned long long ntu = (unsigned long long)(nt ? nt : 1);
    e->param_off = pp_malloc(ntu * sizeof *e->param_off, err);
    e->params = pp_malloc(ntu * sizeof *e->params, err);
    e->inputs = pp_malloc(ntu * sizeof *e->inputs, err);
    e->outputs = pp_malloc(ntu * sizeof *e->outputs, err);
    e->last_use = pp_malloc(ntu * sizeof *e->last_use, err);
    e->is_output = pp_calloc(ntu, 1, err);
    e->is_input = pp_calloc(ntu, 1, err);
    e->keep_f = pp_calloc(ntu, 1, err);
    e->keep_w_act = pp_calloc(ntu, 1, err);
    e->keep_w_grad = pp_calloc(ntu, 1, err);
    if (!e->param_off || !e->params || !e->inputs || !e->outputs || !e->last_use || !e->is_output || !e->is_input ||
        !e->keep_f || !e->keep_w_act || !e->keep_w_grad)
        goto fail;
    for (int t = 0; t < nt; t++) {
        e->param_off[t] = -1;
        e->last_use[t] = -1;
    }
    /* Parameters, last uses, keep sets. */
    for (int i = lo; i < hi; i++) {
        const pp_op *op = &g->ops[i];
        if (op->kind == PP_OP_LM_HEAD) e->has_head = 1;
        for (int k = 0; k < op->n_param; k++) {
            int t = op->param[k];
            if (e->param_off[t] >= 0) continue;
            e->param_off[t] = e->n_floats;
            e->n_floats += pp_tensor_numel(&g->tensors[t]);
            e->params[e->n_params++] = t;
        }
        for (int k = 0; k < op->n_in; k++) e->last_use[op->in[k]] = i;
        for (int k = 0; k < op->n_keep_f; k++) e->keep_f[op->keep_f[k].tensor] = 1;
        for (int k = 0; k < op->n_keep_w; k++) {
            if (op->keep_w[k].grad) e->keep_w_grad[op->keep_w[k].tensor] = 1;
            else e->keep_w_act[op->keep_w[k].tensor] = 1;
        }
    }
    /* Inputs: read in range, produced outside it (or graph inputs). Outputs:
     * produced in range, read after it. */
    for (int t = 0; t < nt; t++) {
        const pp_tensor *tt = &g->tensors[t];
        if (tt->kind == PP_TENSOR_PARAM) continue;
        if (e->last_use[t] >= 0 && (tt->producer < lo || tt->kind != PP_TENSOR_ACTIVATION)) {
            e->is_input[t] = 1;
            e->inputs[e->n_inputs++] = t;
        }
        if (tt->kind == PP_TENSOR_ACTIVATION && tt->producer >= lo && tt->producer < hi) {
            for (int i = hi; i < g->n_ops && !e->is_output[t]; i++)
                for (int k = 0; k < g->ops[i].n_in; k++)
                    if (g->ops[i].in[k] == t) e->is_output[t] = 1;
            if (e->is_output[t]) e->outputs[e->n_outputs++] = t;
        }
    }
    e->pdata = pp_backend_alloc(be, (size_t)(e->n_floats ? e->n_floats : 1) * sizeof(float), err);
    e->gdata = e->pdata ? pp_backend_alloc(be, (size_t)(e->n_floats ? e->n_floats : 1) * sizeof(float), err) : NULL;
    if (!e->gdata) goto fail;
    *out = e;
    return 0;
fail:
    pp_engine_free(e);
    return -1;
}

int pp_engine_n_params(const pp_engine *e) { return e->n_params; }
int pp_engine_param_tensor(const pp_engine *e, int i) { return e->params[i]; }
float *pp_engine_param(pp_engine *e, int t) {
    return t >= 0 && t < e->g->n_tensors && e->param_off[t] >= 0 ? e->pdata + e->param_off[t] : NULL;
}
float *pp_engine_grad(pp_engine *e, int t) {
    return t >= 0 && t < e->g->n_tensors && e->param_off[t] >= 0 ? e->gdata + e->param_off[t] : NULL;
}
float *pp_engine_params_flat(pp_engine *e, long long *n) {
    *n = e->n_floats;
    return e->pdata;
}
float *pp_engine_grads_flat(pp_engine *e, long long *n) {
    *n = e->n_floats;
    return e->gdata;
}
void pp_engine_zero_grads(pp_engine *e) { pp_backend_zero(e->be, e->gdata, (size_t)e->n_floats * sizeof(float)); }
int pp_engine_n_inputs(const pp_engine *e) { return e->n_inputs; }
int pp_engine_input_tensor(const pp_engine *e, int i) { return e->inputs[i]; }
int pp_engine_n_outputs(const pp_engine *e) { return e->n_outputs; }
int pp_engine_output_tensor(const pp_engine *e, int i) { return e->outputs[i]; }

static slot *find(const pp_engine *e, int mb) {
    for (int s = 0; s < e->n_slots; s++)
        if (e->slots[s].state != ST_FREE && e->slots[s].mb == mb) return &e->slots[s];
    return NULL;
}

int pp_engine_in_flight(const pp_engine *e) {
    int n = 0;
    for (int s = 0; s < e->n_slots; s++) n += e->slots[s].state != ST_FREE;
    return n;
}

int pp_engine_begin(pp_engine *e, int mb, pp_err *err) {
    if (find(e, mb)) return pp_err_set(err, PP_ERR_INVALID, "microbatch %d is already in flight", mb);
    slot *sl = NULL;
    for (int s = 0; s < e->n_slots && !sl; s++)
        if (e->slots[s].state == ST_FREE) sl = &e->slots[s];
    if (!sl) {
        int cap = e->n_slots;
        if (pp_grow((void **)&e->slots, &cap, e->n_slots + 1, sizeof *e->slots, err)) return -1;
        sl = &e->slots[e->n_slots];
        unsigned long long nt = (unsigned long long)(e->g->n_tensors ? e->g->n_tensors : 1);
        sl->act = pp_calloc(nt, sizeof *sl->act, err);
        sl->grad = pp_calloc(nt, sizeof *sl->grad, err);
        sl->pending = pp_calloc(nt, 1, err);
        sl->extra = pp_calloc((unsigned long long)(e->hi - e->lo), sizeof *sl->extra, err);
        if (!sl->act || !sl->grad || !sl->pending || !sl->extra) {
            free(sl->act);
            free(sl->grad);
            free(sl->pending);
            free(sl->extra);
            memset(sl, 0, sizeof *sl);
            return -1;
        }
        e->n_slots++;
    }
    sl->mb = mb;
    sl->state = ST_BEGUN;
    sl->loss = 0;
    return 0;
}

/* zero = 0 for op outputs, which their forward kernel writes whole. */
static void *alloc_act(pp_engine *e, slot *sl, int t, int zero, pp_err *err) {
    if (!sl->act[t])
        sl->act[t] = zero ? pp_backend_alloc(e->be, tbytes(e, t), err) : pp_backend_alloc_uninit(e->be, tbytes(e, t), err);
    return sl->act[t];
}

static float *alloc_grad(pp_engine *e, slot *sl, int t, pp_err *err) {
    if (!sl->grad[t]) sl->grad[t] = pp_backend_alloc(e->be, tbytes(e, t), err);
    return sl->grad[t];
}

static void free_act(pp_engine *e, slot *sl, int t) {
    pp_backend_free(e->be, sl->act[t], tbytes(e, t));
    sl->act[t] = NULL;
    sl->pending[t] &= (unsigned char)~1;
}

static void free_grad(pp_engine *e, slot *sl, int t) {
    pp_backend_free(e->be, sl->grad[t], tbytes(e, t));
    sl->grad[t] = NULL;
    sl->pending[t] &= (unsigned char)~2;
}

static size_t extra_bytes(const pp_op *op) {
    return (size_t)(op->keep_f_extra > op->keep_w_extra ? op->keep_f_extra : op->keep_w_extra);
}

void *pp_engine_buffer(pp_engine *e, int mb, int t, pp_err *err) {
    slot *sl = find(e, mb);
    if (!sl || sl->state != ST_BEGUN) {
        pp_err_set(err, PP_ERR_INVALID, "microbatch %d is not waiting for its inputs", mb);
        return NULL;
    }
    if (t < 0 || t >= e->g->n_tensors || !e->is_input[t]) {
        pp_err_set(err, PP_ERR_INVALID, "tensor #%d (%s) is not an input of stage [%d, %d)", t,
                   t >= 0 && t < e->g->n_tensors ? e->g->tensors[t].name : "?", e->lo, e->hi);
        return NULL;
    }
    return alloc_act(e, sl, t, 1, err);
}

/* Fills the pointers of an op for a pass. */
static void op_args(pp_engine *e, slot *sl, const pp_op *op, int i, pp_op_args *a) {
    memset(a, 0, sizeof *a);
    for (int k = 0; k < op->n_in; k++) a->in[k] = sl->act[op->in[k]];
    a->out = sl->act[op->out[0]];
    for (int k = 0; k < op->n_param; k++) {
        a->param[k] = pp_engine_param(e, op->param[k]);
        a->dparam[k] = pp_engine_grad(e, op->param[k]);
    }
    for (int k = 0; k < op->n_in; k++) a->din[k] = sl->grad[op->in[k]];
    a->dout = sl->grad[op->out[0]];
    a->extra = sl->extra[i - e->lo];
}

/* Token ids index tables and labels index logits: out-of-range ids from a
 * caller are refused here rather than read out of bounds by a kernel. */
static int check_ids(pp_engine *e, slot *sl, int mb, pp_err *err) {
    const pp_graph *g = e->g;
    for (int i = e->lo; i < e->hi; i++) {
        const pp_op *op = &g->ops[i];
        int t, lo_ok;
        long long rows;
        if (op->kind == PP_OP_EMBEDDING) {
            t = op->in[0];
            rows = g->tensors[op->param[0]].shape[0];
            lo_ok = 0;
        } else if (op->kind == PP_OP_LM_HEAD) {
            t = op->in[1];
            rows = g->tensors[op->param[0]].shape[0];
            lo_ok = -1;
        } else {
            continue;
        }
        const int32_t *v = sl->act[t];
        if (!v || g->tensors[t].kind == PP_TENSOR_ACTIVATION) continue;
        long long n = pp_tensor_numel(&g->tensors[t]);
        int32_t *host = NULL; /* device memory: the ids are read from a host copy */
        if (!pp_backend_is_host(e->be)) {
            if (!(host = pp_malloc((unsigned long long)(n ? n : 1) * sizeof *host, err))) return -1;
            pp_backend_download(e->be, host, v, (size_t)n * sizeof *host);
            v = host;
        }
        for (long long k = 0; k < n; k++)
            if (v[k] < lo_ok || v[k] >= rows) {
                pp_err_set(err, PP_ERR_INVALID, "microbatch %d: %s[%lld] = %d is outside [%d, %lld) of op '%s'", mb,
                           g->tensors[t].name, k, (int)v[k], lo_ok, rows, op->name);
                free(host);
                return -1;
            }
        free(host);
    }
    return 0;
}

int pp_engine_forward(pp_engine *e, int mb, pp_err *err) {
    slot *sl = find(e, mb);
    if (!sl || sl->state != ST_BEGUN) return pp_err_set(err, PP_ERR_INVALID, "microbatch %d: forward without begin", mb);
    const pp_graph *g = e->g;
    for (int k = 0; k < e->n_inputs; k++)
        if (!sl->act[e->inputs[k]])
            return pp_err_set(err, PP_ERR_INVALID, "microbatch %d: stage input '%s' was not given", mb,
                              g->tensors[e->inputs[k]].name);
    if (check_ids(e, sl, mb, err)) return -1;
    for (int i = e->lo; i < e->hi; i++) {
        const pp_op *op = &g->ops[i];
        if (!alloc_act(e, sl, op->out[0], 0, err)) return -1;
        size_t xb = extra_bytes(op);
        if (xb && !(sl->extra[i - e->lo] = pp_backend_alloc_uninit(e->be, xb, err))) return -1;
        pp_op_args a;
        op_args(e, sl, op, i, &a);
        if (pp_backend_run_op(e->be, g, op, PP_PASS_F, &a, err)) return -1;
        if (op->kind == PP_OP_LM_HEAD) sl->loss = a.loss;
        /* Free what no later op of the stage reads and nothing keeps. */
        for (int k = 0; k < op->n_in; k++) {
            int t = op->in[k];
            if (e->last_use[t] == i && !e->keep_f[t] && !e->is_output[t] && sl->act[t]) free_act(e, sl, t);
        }
        int o = op->out[0];
        if (e->last_use[o] < 0 && !e->keep_f[o] && !e->is_output[o]) free_act(e, sl, o);
    }
    for (int k = 0; k < e->n_outputs; k++)
        if (!e->keep_f[e->outputs[k]]) sl->pending[e->outputs[k]] |= 1;
    sl->state = ST_FORWARD;
    return 0;
}

void *pp_engine_output(pp_engine *e, int mb, int t) {
    slot *sl = find(e, mb);
    if (!sl || t < 0 || t >= e->g->n_tensors || !e->is_output[t]) return NULL;
    return sl->act[t];
}

void pp_engine_release_outputs(pp_engine *e, int mb) {
    slot *sl = find(e, mb);
    if (!sl) return;
    for (int k = 0; k < e->n_outputs; k++) {
        int t = e->outputs[k];
        if (sl->pending[t] & 1) free_act(e, sl, t);
    }
}

float pp_engine_loss(const pp_engine *e, int mb) {
    slot *sl = find(e, mb);
    return sl ? sl->loss : 0;
}

float *pp_engine_output_grad(pp_engine *e, int mb, int t, pp_err *err) {
    slot *sl = find(e, mb);
    if (!sl || sl->state != ST_FORWARD) {
        pp_err_set(err, PP_ERR_INVALID, "microbatch %d has not run its forward pass", mb);
        return NULL;
    }
    if (t < 0 || t >= e->g->n_tensors || !e->is_output[t]) {
        pp_err_set(err, PP_ERR_INVALID, "tensor #%d is not an output of stage [%d, %d)", t, e->lo, e->hi);
        return NULL;
    }
    return alloc_grad(e, sl, t, err);
}

void pp_engine_add_f32(float *dst, const float *src, long long n) {
    for (long long i = 0; i < n; i++) dst[i] += src[i];
}

int pp_engine_add_output_grad(pp_engine *e, int mb, int t, const float *src, pp_err *err) {
    float *g = pp_engine_output_grad(e, mb, t, err);
    if (!g) return -1;
    pp_backend_add(e->be, g, src, pp_tensor_numel(&e->g->tensors[t]));
    return 0;
}

int pp_engine_backward_input(pp_engine *e, int mb, float loss_grad, pp_err *err) {
    slot *sl = find(e, mb);
    if (!sl || sl->state != ST_FORWARD)
        return pp_err_set(err, PP_ERR_INVALID, "microbatch %d: backward before forward", mb);
    const pp_graph *g = e->g;
    for (int k = 0; k < e->n_outputs; k++)
        if (!sl->grad[e->outputs[k]])
            return pp_err_set(err, PP_ERR_INVALID, "microbatch %d: the gradient of stage output '%s' was not given", mb,
                              g->tensors[e->outputs[k]].name);
    for (int i = e->hi - 1; i >= e->lo; i--) {
        const pp_op *op = &g->ops[i];
        int o = op->out[0];
        if (op->kind != PP_OP_LM_HEAD && !alloc_grad(e, sl, o, err)) return -1;
        for (int k = 0; k < op->n_in; k++) {
            int t = op->in[k];
            if (g->tensors[t].kind == PP_TENSOR_ACTIVATION && !alloc_grad(e, sl, t, err)) return -1;
        }
        pp_op_args a;
        op_args(e, sl, op, i, &a);
        a.loss_grad = loss_grad;
        if (pp_backend_run_op(e->be, g, op, PP_PASS_I, &a, err)) return -1;
        /* The output's gradient is complete and used; keep it only for W. */
        if (sl->grad[o] && !e->keep_w_grad[o]) free_grad(e, sl, o);
        if (!op->keep_w_extra && sl->extra[i - e->lo]) {
            pp_backend_free(e->be, sl->extra[i - e->lo], extra_bytes(op));
            sl->extra[i - e->lo] = NULL;
        }
    }
    /* Activations only F needed go now; input gradients wait to be sent. */
    for (int t = 0; t < g->n_tensors; t++) {
        if (sl->act[t] && !e->keep_w_act[t] && !(sl->pending[t] & 1)) free_act(e, sl, t);
        if (sl->grad[t] && e->is_input[t]) sl->pending[t] |= 2;
    }
    sl->state = ST_BACKWARD_I;
    return 0;
}

float *pp_engine_input_grad(pp_engine *e, int mb, int t) {
    slot *sl = find(e, mb);
    if (!sl || t < 0 || t >= e->g->n_tensors || !e->is_input[t]) return NULL;
    return sl->grad[t];
}

void pp_engine_release_input_grads(pp_engine *e, int mb) {
    slot *sl = find(e, mb);
    if (!sl) return;
    for (int k = 0; k < e->n_inputs; k++) {
        int t = e->inputs[k];
        if (sl->pending[t] & 2) free_grad(e, sl, t);
    }
}

int pp_engine_backward_weight(pp_engine *e, int mb, pp_err *err) {
    slot *sl = find(e, mb);
    if (!sl || sl->state != ST_BACKWARD_I)
        return pp_err_set(err, PP_ERR_INVALID, "microbatch %d: W before I", mb);
    const pp_graph *g = e->g;
    for (int i = e->lo; i < e->hi; i++) {
        const pp_op *op = &g->ops[i];
        if (!has_w_pass(op)) continue;
        pp_op_args a;
        op_args(e, sl, op, i, &a);
        if (pp_backend_run_op(e->be, g, op, PP_PASS_W, &a, err)) return -1;
    }
    /* The microbatch ends: everything goes, including outputs and input
     * gradients not yet released (callers send them before W). */
    for (int t = 0; t < g->n_tensors; t++) {
        if (sl->act[t]) free_act(e, sl, t);
        if (sl->grad[t]) free_grad(e, sl, t);
    }
    for (int i = e->lo; i < e->hi; i++) {
        pp_backend_free(e->be, sl->extra[i - e->lo], extra_bytes(&g->ops[i]));
        sl->extra[i - e->lo] = NULL;
    }
    sl->state = ST_FREE;
    return 0;
}

int pp_engine_backward(pp_engine *e, int mb, float loss_grad, pp_err *err) {
    if (pp_engine_backward_input(e, mb, loss_grad, err)) return -1;
    return pp_engine_backward_weight(e, mb, err);
}

long long pp_engine_held_bytes(const pp_engine *e, int mb) {
    slot *sl = find(e, mb);
    if (!sl) return -1;
    long long b = 0;
    for (int t = 0; t < e->g->n_tensors; t++) {
        if (sl->act[t] && !(sl->pending[t] & 1)) b += (long long)tbytes(e, t);
        if (sl->grad[t] && !(sl->pending[t] & 2)) b += (long long)tbytes(e, t);
    }
    for (int i = e->lo; i < e->hi; i++) {
        if (!sl->extra[i - e->lo]) continue;
        b += (long long)extra_bytes(&e->g->ops[i]);
    }
    return b;
}
