/*
 * pp_graph.c -- the graph IR (see pp_graph.h): tensors and ops, shape
 * inference, per-op costs, validation, topological order and the range
 * queries the planner and simulator ask of a stage.
 *
 * Op kinds. Each kind is one section ("---- linear: ...") holding all core
 * knows of it: its shape inference (`<kind>_infer`), its costs
 * (`<kind>_costs`: FLOPs of F, I and W, what it keeps from F until I and from
 * I until W, private extras) and its entry (`<kind>_kind`: name, the two
 * functions, and the flags that pick its memory traffic: a W pass, weights
 * read in I, the loss). The table op_kinds, indexed by pp_op_kind, is what
 * the generic code walks: pp_op_infer checks indices and tensor kinds and
 * calls the kind's infer; pp_op_update_cost sums parameter bytes, calls the
 * kind's costs, then adds kept bytes and traffic by one formula. Adding an op
 * kind: its value in pp_op_kind (pp_graph.h), one section here, one row of
 * the table (and its kernels in the backends).
 *
 * Cost model. M = rows (batch x sequence), s = bytes per element of the
 * graph's dtype. Matrix products count 2 FLOPs per multiply-add. Elementwise
 * work is counted with fixed per-element constants (in each kind's section);
 * they only rank ops before a profile exists, after which measured times
 * replace them. What each kind keeps for its backward (attention's row
 * log-sum-exp, the LM head's probabilities) is said in its section.
 */
#include "core/pp_graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const dtype_names[] = {"f32", "bf16", "f16", "i32"};
static const int dtype_sizes[] = {4, 2, 2, 4};
static const char *const tensor_kind_names[] = {"parameter", "activation", "input", "label"};
static const char *const pass_names[] = {"F", "I", "W"};

const char *pp_dtype_name(pp_dtype t) { return (unsigned)t < PP_DTYPE__COUNT ? dtype_names[t] : "?"; }
int pp_dtype_size(pp_dtype t) { return (unsigned)t < PP_DTYPE__COUNT ? dtype_sizes[t] : 0; }
const char *pp_tensor_kind_name(pp_tensor_kind k) { return (unsigned)k <= PP_TENSOR_LABEL ? tensor_kind_names[k] : "?"; }
const char *pp_pass_name(pp_pass p) { return (unsigned)p < PP_PASS__COUNT ? pass_names[p] : "?"; }

int pp_dtype_parse(const char *s, pp_dtype *out) {
    for (int i = 0; i < PP_DTYPE__COUNT; i++) {
        if (!strcmp(s, dtype_names[i])) {
            *out = (pp_dtype)i;
            return 0;
        }
    }
    return -1;
}

void pp_graph_init(pp_graph *g, pp_dtype dtype) {
    memset(g, 0, sizeof *g);
    g->dtype = dtype;
}

void pp_graph_free(pp_graph *g) {
    for (int i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    for (int i = 0; i < g->n_ops; i++) free(g->ops[i].name);
    for (int i = 0; i < g->n_blocks; i++) free(g->blocks[i]);
    free(g->tensors);
    free(g->ops);
    free(g->blocks);
    free(g->tensor_index.slots);
    free(g->op_index.slots);
    free(g->block_index.slots);
    memset(g, 0, sizeof *g);
}

/* ---- name index ----
 *
 * Open addressing with linear probing over a power-of-two table kept at
 * most half full; FNV-1a of the name. Slots point at the names the graph
 * owns, so the index copies nothing and is freed with the graph. */

static unsigned name_hash(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot holding name, or the empty slot where it would go (cap > 0). */
static pp_name_slot *index_slot(const pp_name_index *x, const char *name) {
    unsigned mask = (unsigned)x->cap - 1u, i = name_hash(name) & mask;
    while (x->slots[i].name && strcmp(x->slots[i].name, name) != 0) i = (i + 1u) & mask;
    return &x->slots[i];
}

/* Records name (a pointer the graph owns) at position idx, replacing the
 * position of an equal name. Returns 0, or -1 (out of memory). */
static int index_put(pp_name_index *x, const char *name, int idx, pp_err *err) {
    if (2LL * (x->n + 1) > x->cap) {
        int ncap = x->cap ? 2 * x->cap : 64;
        pp_name_slot *old = x->slots;
        int ocap = x->cap;
        pp_name_slot *slots = pp_calloc((unsigned long long)ncap, sizeof *slots, err);
        if (!slots) return -1;
        x->slots = slots;
        x->cap = ncap;
        for (int i = 0; i < ocap; i++)
            if (old[i].name) *index_slot(x, old[i].name) = old[i];
        free(old);
    }
    pp_name_slot *s = index_slot(x, name);
    if (!s->name) x->n++;
    s->name = name;
    s->idx = idx;
    return 0;
}

static const char *tensor_name_at(const pp_graph *g, int i) { return g->tensors[i].name; }
static const char *op_name_at(const pp_graph *g, int i) { return g->ops[i].name; }
static const char *block_name_at(const pp_graph *g, int i) { return g->blocks[i]; }

/* Brings x up to date with the n names at(g, 0 .. n-1) when it does not hold
 * exactly that many (arrays filled by other means than pp_graph_add_*). */
static int index_sync(const pp_graph *g, pp_name_index *x, int n, const char *(*at)(const pp_graph *, int),
                      pp_err *err) {
    if (x->n == n) return 0;
    free(x->slots);
    memset(x, 0, sizeof *x);
    for (int i = 0; i < n; i++)
        if (index_put(x, at(g, i), i, err)) return -1;
    return 0;
}

/* Position of name among the n names at(g, i): through the index when it
 * holds exactly those names, else by a linear search. */
static int find_name(const pp_graph *g, const pp_name_index *x, int n, const char *(*at)(const pp_graph *, int),
                     const char *name) {
    if (x->cap > 0 && x->n == n) {
        const pp_name_slot *s = index_slot(x, name);
        if (!s->name) return -1;
        if (s->idx >= 0 && s->idx < n && at(g, s->idx) == s->name) return s->idx;
        /* Moved (ops reordered in place): find the same name by its pointer. */
        for (int i = 0; i < n; i++)
            if (at(g, i) == s->name) return i;
    }
    for (int i = 0; i < n; i++)
        if (!strcmp(at(g, i), name)) return i;
    return -1;
}

long long pp_tensor_numel(const pp_tensor *t) {
    long long n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

long long pp_tensor_bytes(const pp_tensor *t) { return pp_tensor_numel(t) * pp_dtype_size(t->dtype); }

int pp_graph_find_tensor(const pp_graph *g, const char *name) {
    return find_name(g, &g->tensor_index, g->n_tensors, tensor_name_at, name);
}

int pp_graph_find_op(const pp_graph *g, const char *name) {
    return find_name(g, &g->op_index, g->n_ops, op_name_at, name);
}

int pp_graph_find_block(const pp_graph *g, const char *block) {
    return find_name(g, &g->block_index, g->n_blocks, block_name_at, block);
}

static void shape_str(int ndim, const long long *shape, char *buf, size_t n) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

int pp_graph_add_tensor(pp_graph *g, const char *name, pp_tensor_kind kind, pp_dtype dtype, int ndim,
                        const long long *shape, pp_err *err) {
    if (ndim < 0 || ndim > PP_MAX_DIMS)
        return pp_err_set(err, PP_ERR_INVALID, "tensor '%s': %d dimensions (at most %d)", name, ndim, PP_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return pp_err_set(err, PP_ERR_INVALID, "tensor '%s': dimension %d is %lld (must be positive)", name, i,
                              shape[i]);
    if (index_sync(g, &g->tensor_index, g->n_tensors, tensor_name_at, err)) return -1;
    if (pp_graph_find_tensor(g, name) >= 0)
        return pp_err_set(err, PP_ERR_INVALID, "tensor '%s' defined twice", name);
    if (pp_grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof *g->tensors, err)) return -1;
    pp_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = pp_strdup(name, err);
    if (!t->name) return -1;
    if (index_put(&g->tensor_index, t->name, g->n_tensors, err)) {
        free(t->name);
        t->name = NULL;
        return -1;
    }
    t->kind = kind;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->producer = -1;
    return g->n_tensors++;
}

int pp_graph_add_param(pp_graph *g, const char *name, int ndim, const long long *shape, pp_err *err) {
    return pp_graph_add_tensor(g, name, PP_TENSOR_PARAM, g->dtype, ndim, shape, err);
}

static int block_index(pp_graph *g, const char *block, pp_err *err) {
    if (g->n_blocks && !strcmp(g->blocks[g->n_blocks - 1], block)) return g->n_blocks - 1;
    if (index_sync(g, &g->block_index, g->n_blocks, block_name_at, err)) return -1;
    if (pp_graph_find_block(g, block) >= 0)
        return pp_err_set(err, PP_ERR_INVALID, "block '%s' is not contiguous: ops of block '%s' came in between", block,
                          g->blocks[g->n_blocks - 1]);
    if (pp_grow((void **)&g->blocks, &g->cap_blocks, g->n_blocks + 1, sizeof *g->blocks, err)) return -1;
    g->blocks[g->n_blocks] = pp_strdup(block, err);
    if (!g->blocks[g->n_blocks]) return -1;
    if (index_put(&g->block_index, g->blocks[g->n_blocks], g->n_blocks, err)) {
        free(g->blocks[g->n_blocks]);
        g->blocks[g->n_blocks] = NULL;
        return -1;
    }
    return g->n_blocks++;
}

/* ---- helpers the op kinds share ---- */

#define T_(i) (&g->tensors[i])

static int shape_err(pp_err *err, const pp_graph *g, const pp_op *op, int tensor, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int shape_err(pp_err *err, const pp_graph *g, const pp_op *op, int tensor, const char *fmt, ...) {
    char m[512], sh[96] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (tensor >= 0 && tensor < g->n_tensors) {
        shape_str(T_(tensor)->ndim, T_(tensor)->shape, sh, sizeof sh);
        return pp_err_set(err, PP_ERR_INVALID, "op '%s' (%s): tensor '%s' %s: %s", op->name, pp_op_kind_name(op->kind),
                          T_(tensor)->name, sh, m);
    }
    return pp_err_set(err, PP_ERR_INVALID, "op '%s' (%s): %s", op->name, pp_op_kind_name(op->kind), m);
}

static int want_counts(const pp_graph *g, const pp_op *op, int in_lo, int in_hi, int p_lo, int p_hi, pp_err *err) {
    if (op->n_in < in_lo || op->n_in > in_hi)
        return shape_err(err, g, op, -1, "takes %d to %d inputs, got %d", in_lo, in_hi, op->n_in);
    if (op->n_param < p_lo || op->n_param > p_hi)
        return shape_err(err, g, op, -1, "takes %d to %d parameters, got %d", p_lo, p_hi, op->n_param);
    return 0;
}

/* The output has the shape of x (shape-preserving kinds). */
static int shape_of(const pp_tensor *x, int *ndim, long long *shape) {
    *ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    return 0;
}

static void keep(pp_keep *list, int *n, int tensor, int grad) {
    list[*n].tensor = tensor;
    list[*n].grad = grad;
    (*n)++;
}

/* Keeps x for I; keeps x and the output's gradient for W (the kinds with a
 * W pass whose weight gradient needs both). */
static void keep_x(pp_op *op, int w_too) {
    keep(op->keep_f, &op->n_keep_f, op->in[0], 0);
    if (!w_too) return;
    keep(op->keep_w, &op->n_keep_w, op->in[0], 0);
    keep(op->keep_w, &op->n_keep_w, op->out[0], 1);
}

/* What a kind's costs function is given: the sizes of the op's first input
 * and its output. */
typedef struct op_sizes {
    const pp_tensor *x, *y; /* first input, output (NULL when none) */
    double nx, ny;          /* their elements */
    double rows;            /* nx over x's last dimension: M, batch x sequence */
    long long s;            /* bytes per element of the graph's dtype */
} op_sizes;

/* Memory traffic. The formula is the same for every kind (pp_op_update_cost):
 * F reads the inputs and parameters and writes the output; I (where the kind
 * has I FLOPs) reads the output gradient, what F kept and writes the input
 * gradients, plus the weights under OP_WEIGHTS_IN_I; W (under OP_W_PASS)
 * reads what I kept and updates the parameter gradients. Each kind states
 * its flags next to its costs. */
enum {
    OP_W_PASS = 1,       /* the kind has a W pass (weight gradients) */
    OP_WEIGHTS_IN_I = 2, /* I reads the weights (dx = dy W) */
    OP_LOSS = 4,         /* the output is the loss: I starts from it without a gradient buffer */
};

/* One op kind: its name, shape inference, costs and traffic flags.
 * infer: checks the counts and shapes of the op's inputs and parameters
 * (indices and tensor kinds are already checked; x is the first input or
 * NULL, *dtype is preset to the graph's dtype), writes the output's ndim,
 * shape and dtype; returns 0 or -1 through shape_err.
 * costs: FLOPs of F, I and W and the keep lists and private extras, into an
 * op whose cost was zeroed except param_bytes; the generic code adds the
 * kept bytes and the traffic (flags). */
typedef struct op_kind_def {
    const char *name;
    int (*infer)(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape, pp_dtype *dtype,
                 pp_err *err);
    void (*costs)(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c);
    unsigned flags;
} op_kind_def;

/* ---- embedding: tokens -> sum of table rows (token, position, type) ---- */

static int embedding_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                           pp_dtype *dtype, pp_err *err) {
    (void)dtype;
    if (want_counts(g, op, 1, 1, 1, 3, err)) return -1;
    if (x->ndim != 2 || x->dtype != PP_DTYPE_I32)
        return shape_err(err, g, op, op->in[0], "token ids must be i32 [batch, seq], got %s with %d dims",
                         pp_dtype_name(x->dtype), x->ndim);
    long long d = T_(op->param[0])->shape[1];
    for (int i = 0; i < op->n_param; i++) {
        const pp_tensor *p = T_(op->param[i]);
        if (p->ndim != 2 || p->shape[1] != d)
            return shape_err(err, g, op, op->param[i], "embedding tables must be [rows, %lld]", d);
    }
    if (op->n_param >= 2 && T_(op->param[1])->shape[0] < x->shape[1])
        return shape_err(err, g, op, op->param[1], "has %lld positions but the sequence is %lld long",
                         T_(op->param[1])->shape[0], x->shape[1]);
    *ndim = 3;
    shape[0] = x->shape[0];
    shape[1] = x->shape[1];
    shape[2] = d;
    return 0;
}

static void embedding_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    (void)g;
    /* F: gather and sum n tables; W: scatter-add the output gradient into each. */
    c->flops[PP_PASS_F] = sz->ny * (op->n_param - 1);
    c->flops[PP_PASS_W] = sz->ny * op->n_param;
    keep_x(op, 1);
}

static const op_kind_def embedding_kind = {"embedding", embedding_infer, embedding_costs, OP_W_PASS};

/* ---- layernorm and rmsnorm: over the last dimension, with gain (and bias) ---- */

static int norm_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int max_params, int *ndim,
                      long long *shape, pp_err *err) {
    if (want_counts(g, op, 1, 1, 1, max_params, err)) return -1;
    if (x->ndim < 1) return shape_err(err, g, op, op->in[0], "needs at least one dimension");
    long long d = x->shape[x->ndim - 1];
    for (int i = 0; i < op->n_param; i++) {
        const pp_tensor *p = T_(op->param[i]);
        if (p->ndim != 1 || p->shape[0] != d)
            return shape_err(err, g, op, op->param[i], "must be [%lld] to match the input's last dimension", d);
    }
    return shape_of(x, ndim, shape);
}

static int layernorm_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                           pp_dtype *dtype, pp_err *err) {
    (void)dtype;
    return norm_infer(g, op, x, 2, ndim, shape, err);
}

static void layernorm_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    (void)g;
    /* F: mean, variance, normalize, scale, shift ~8/elt; I ~11/elt; W: dgamma, dbeta ~4/elt. */
    c->flops[PP_PASS_F] = 8 * sz->nx;
    c->flops[PP_PASS_I] = 11 * sz->nx;
    c->flops[PP_PASS_W] = (op->n_param == 2 ? 4 : 2) * sz->nx;
    keep_x(op, 1);
    op->keep_f_extra = (long long)(2 * sz->rows) * 4; /* mean and 1/std, f32 */
    op->keep_w_extra = op->keep_f_extra;
}

static const op_kind_def layernorm_kind = {"layernorm", layernorm_infer, layernorm_costs, OP_W_PASS};

static int rmsnorm_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                         pp_dtype *dtype, pp_err *err) {
    (void)dtype;
    return norm_infer(g, op, x, 1, ndim, shape, err);
}

static void rmsnorm_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    (void)g;
    c->flops[PP_PASS_F] = 5 * sz->nx;
    c->flops[PP_PASS_I] = 8 * sz->nx;
    c->flops[PP_PASS_W] = 3 * sz->nx;
    keep_x(op, 1);
    op->keep_f_extra = (long long)sz->rows * 4; /* 1/rms, f32 */
    op->keep_w_extra = op->keep_f_extra;
}

static const op_kind_def rmsnorm_kind = {"rmsnorm", rmsnorm_infer, rmsnorm_costs, OP_W_PASS};

/* ---- linear: y = x W^T (+ b), W is [out, in] ---- */

static int linear_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                        pp_dtype *dtype, pp_err *err) {
    (void)dtype;
    if (want_counts(g, op, 1, 1, 1, 2, err)) return -1;
    const pp_tensor *w = T_(op->param[0]);
    if (x->ndim < 1) return shape_err(err, g, op, op->in[0], "needs at least one dimension");
    if (w->ndim != 2 || w->shape[1] != x->shape[x->ndim - 1])
        return shape_err(err, g, op, op->param[0], "weight must be [out, %lld] to match input '%s'",
                         x->shape[x->ndim - 1], x->name);
    if (op->n_param == 2 && (T_(op->param[1])->ndim != 1 || T_(op->param[1])->shape[0] != w->shape[0]))
        return shape_err(err, g, op, op->param[1], "bias must be [%lld]", w->shape[0]);
    shape_of(x, ndim, shape);
    shape[x->ndim - 1] = w->shape[0];
    return 0;
}

static void linear_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    const pp_tensor *w = T_(op->param[0]);
    double mnk = sz->rows * (double)w->shape[0] * (double)w->shape[1];
    double bias = op->n_param == 2 ? sz->ny : 0;
    c->flops[PP_PASS_F] = 2 * mnk + bias;
    c->flops[PP_PASS_I] = 2 * mnk;
    c->flops[PP_PASS_W] = 2 * mnk + bias;
    keep_x(op, 1);
}

static const op_kind_def linear_kind = {"linear", linear_infer, linear_costs, OP_W_PASS | OP_WEIGHTS_IN_I};

/* ---- rope: rotary embedding of the q and k parts of a fused qkv ---- */

static int rope_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                      pp_dtype *dtype, pp_err *err) {
    (void)dtype;
    if (want_counts(g, op, 1, 1, 0, 0, err)) return -1;
    const pp_op_attrs *a = &op->a;
    if (a->head_dim <= 0 || a->head_dim % 2 || a->n_head <= 0 || a->n_kv_head <= 0)
        return shape_err(err, g, op, -1, "needs an even head_dim and positive head counts");
    long long c = (long long)(a->n_head + 2 * a->n_kv_head) * a->head_dim;
    if (x->ndim != 3 || x->shape[2] != c)
        return shape_err(err, g, op, op->in[0], "must be [batch, seq, %lld] ((heads + 2 kv heads) x head_dim)", c);
    return shape_of(x, ndim, shape);
}

static void rope_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    (void)g;
    /* Rotation of q and k pairs: 6 FLOPs per pair, cos/sin recomputed. */
    double qk = sz->rows * (double)(op->a.n_head + op->a.n_kv_head) * op->a.head_dim;
    c->flops[PP_PASS_F] = 3 * qk;
    c->flops[PP_PASS_I] = 3 * qk;
}

static const op_kind_def rope_kind = {"rope", rope_infer, rope_costs, 0};

/* ---- attention: scaled dot-product; mask causal, bidirectional or cross ----
 *
 * The memory-efficient kind: F keeps its inputs, its output and the row
 * log-sum-exp, and I recomputes the scores, so I costs 2.5x the F matrix
 * work. A T5 relative position table is parameter 0. */

static int attention_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                           pp_dtype *dtype, pp_err *err) {
    (void)dtype;
    const pp_op_attrs *a = &op->a;
    int cross = a->mask == PP_ATTN_CROSS;
    if (want_counts(g, op, cross ? 2 : 1, cross ? 2 : 1, 0, 1, err)) return -1;
    if (a->n_head <= 0 || a->n_kv_head <= 0 || a->head_dim <= 0 || a->n_head % a->n_kv_head)
        return shape_err(err, g, op, -1, "n_head %d must be a positive multiple of n_kv_head %d", a->n_head,
                         a->n_kv_head);
    long long hq = (long long)a->n_head * a->head_dim, hkv = (long long)a->n_kv_head * a->head_dim;
    if (x->ndim != 3) return shape_err(err, g, op, op->in[0], "must be [batch, seq, features]");
    if (!cross) {
        if (x->shape[2] != hq + 2 * hkv)
            return shape_err(err, g, op, op->in[0], "fused qkv must have %lld features", hq + 2 * hkv);
    } else {
        const pp_tensor *kv = T_(op->in[1]);
        if (x->shape[2] != hq) return shape_err(err, g, op, op->in[0], "query must have %lld features", hq);
        if (kv->ndim != 3 || kv->shape[0] != x->shape[0] || kv->shape[2] != 2 * hkv)
            return shape_err(err, g, op, op->in[1], "fused kv must be [%lld, seq, %lld]", x->shape[0], 2 * hkv);
    }
    if (op->n_param == 1) {
        const pp_tensor *rb = T_(op->param[0]);
        if (rb->ndim != 2 || rb->shape[1] != a->n_head || rb->shape[0] != a->relpos_buckets)
            return shape_err(err, g, op, op->param[0], "relative position table must be [%d, %d]", a->relpos_buckets,
                             a->n_head);
    }
    *ndim = 3;
    shape[0] = x->shape[0];
    shape[1] = x->shape[1];
    shape[2] = hq;
    return 0;
}

static void attention_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    const pp_op_attrs *a = &op->a;
    double b = (double)sz->x->shape[0], t = (double)sz->x->shape[1];
    double sk = a->mask == PP_ATTN_CROSS ? (double)T_(op->in[1])->shape[1] : t;
    double pairs = a->mask == PP_ATTN_CAUSAL ? t * (t + 1) / 2 : t * sk;
    double bhp = b * a->n_head * pairs;
    /* F: QK^T and PV (2 each per head_dim), softmax ~5/score (+1 bias add).
     * I: recompute QK^T, dV, dP, dQ, dK (10 per head_dim), softmax backward ~8/score.
     * The relative position table's gradient is summed during I (it would
     * otherwise need the whole score gradient kept until W). */
    c->flops[PP_PASS_F] = 4 * bhp * a->head_dim + 5 * bhp + (op->n_param ? bhp : 0);
    c->flops[PP_PASS_I] = 10 * bhp * a->head_dim + 8 * bhp + (op->n_param ? bhp : 0);
    for (int i = 0; i < op->n_in; i++) keep(op->keep_f, &op->n_keep_f, op->in[i], 0);
    keep(op->keep_f, &op->n_keep_f, op->out[0], 0);
    op->keep_f_extra = (long long)(b * a->n_head * t) * 4; /* row log-sum-exp, f32 */
}

static const op_kind_def attention_kind = {"attention", attention_infer, attention_costs, 0};

/* ---- gelu and relu: elementwise activations ---- */

static int activation_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                            pp_dtype *dtype, pp_err *err) {
    (void)dtype;
    if (want_counts(g, op, 1, 1, 0, 0, err)) return -1;
    return shape_of(x, ndim, shape);
}

static void gelu_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    (void)g;
    c->flops[PP_PASS_F] = 10 * sz->nx;
    c->flops[PP_PASS_I] = 14 * sz->nx;
    keep_x(op, 0);
}

static const op_kind_def gelu_kind = {"gelu", activation_infer, gelu_costs, 0};

static void relu_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    (void)g;
    c->flops[PP_PASS_F] = sz->nx;
    c->flops[PP_PASS_I] = sz->nx;
    keep_x(op, 0);
}

static const op_kind_def relu_kind = {"relu", activation_infer, relu_costs, 0};

/* ---- swiglu: [.., 2F] -> silu(gate) * up, [.., F] ---- */

static int swiglu_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                        pp_dtype *dtype, pp_err *err) {
    (void)dtype;
    if (want_counts(g, op, 1, 1, 0, 0, err)) return -1;
    if (x->ndim < 1 || x->shape[x->ndim - 1] % 2)
        return shape_err(err, g, op, op->in[0], "last dimension must be even (gate and up halves)");
    shape_of(x, ndim, shape);
    shape[x->ndim - 1] /= 2;
    return 0;
}

static void swiglu_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    (void)g;
    c->flops[PP_PASS_F] = 5 * sz->ny;
    c->flops[PP_PASS_I] = 10 * sz->ny;
    keep_x(op, 0);
}

static const op_kind_def swiglu_kind = {"swiglu", swiglu_infer, swiglu_costs, 0};

/* ---- add: the residual add of two tensors of one shape ---- */

static int add_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                     pp_dtype *dtype, pp_err *err) {
    (void)dtype;
    if (want_counts(g, op, 2, 2, 0, 0, err)) return -1;
    const pp_tensor *y = T_(op->in[1]);
    int same = x->ndim == y->ndim;
    for (int i = 0; same && i < x->ndim; i++) same = x->shape[i] == y->shape[i];
    if (!same) {
        char a[96];
        shape_str(x->ndim, x->shape, a, sizeof a);
        return shape_err(err, g, op, op->in[1], "must have the shape of '%s' %s", x->name, a);
    }
    return shape_of(x, ndim, shape);
}

static void add_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    (void)g;
    (void)op;
    c->flops[PP_PASS_F] = sz->nx;
    c->flops[PP_PASS_I] = sz->nx; /* the gradient is accumulated into the residual stream */
}

static const op_kind_def add_kind = {"add", add_infer, add_costs, 0};

/* ---- pooler: BERT's tanh(x[:, 0] W^T + b) ---- */

static int pooler_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                        pp_dtype *dtype, pp_err *err) {
    (void)dtype;
    if (want_counts(g, op, 1, 1, 2, 2, err)) return -1;
    if (x->ndim != 3) return shape_err(err, g, op, op->in[0], "must be [batch, seq, d_model]");
    long long d = x->shape[2];
    const pp_tensor *w = T_(op->param[0]), *b = T_(op->param[1]);
    if (w->ndim != 2 || w->shape[0] != d || w->shape[1] != d)
        return shape_err(err, g, op, op->param[0], "must be [%lld, %lld]", d, d);
    if (b->ndim != 1 || b->shape[0] != d) return shape_err(err, g, op, op->param[1], "must be [%lld]", d);
    *ndim = 2;
    shape[0] = x->shape[0];
    shape[1] = d;
    return 0;
}

static void pooler_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    (void)g;
    double b = (double)sz->x->shape[0], d = (double)sz->x->shape[2];
    c->flops[PP_PASS_F] = 2 * b * d * d + b * d + 4 * b * d;
    c->flops[PP_PASS_I] = 2 * b * d * d + 2 * b * d;
    c->flops[PP_PASS_W] = 2 * b * d * d + b * d;
    op->keep_f_extra = (long long)(2 * b * d) * sz->s; /* first-token input and tanh output */
    op->keep_w_extra = op->keep_f_extra;               /* the same two, for W */
    keep(op->keep_w, &op->n_keep_w, op->out[0], 1);
}

static const op_kind_def pooler_kind = {"pooler", pooler_infer, pooler_costs, OP_W_PASS | OP_WEIGHTS_IN_I};

/* ---- lm_head: logits = scale * x W^T, then mean cross-entropy with labels ----
 *
 * Fused with the cross-entropy: F keeps x and the softmax probabilities
 * (f32), I turns them into the logit gradient in place and keeps it for W.
 * Its output is the loss, f32 [1]. */

static int lm_head_infer(const pp_graph *g, const pp_op *op, const pp_tensor *x, int *ndim, long long *shape,
                         pp_dtype *dtype, pp_err *err) {
    if (want_counts(g, op, 2, 2, 1, 1, err)) return -1;
    const pp_tensor *lab = T_(op->in[1]), *w = T_(op->param[0]);
    if (x->ndim != 3) return shape_err(err, g, op, op->in[0], "must be [batch, seq, d_model]");
    if (lab->ndim != 2 || lab->dtype != PP_DTYPE_I32 || lab->shape[0] != x->shape[0] || lab->shape[1] != x->shape[1])
        return shape_err(err, g, op, op->in[1], "labels must be i32 [%lld, %lld]", x->shape[0], x->shape[1]);
    if (w->ndim != 2 || w->shape[1] != x->shape[2])
        return shape_err(err, g, op, op->param[0], "must be [vocab, %lld]", x->shape[2]);
    *ndim = 1;
    shape[0] = 1;
    *dtype = PP_DTYPE_F32;
    return 0;
}

static void lm_head_costs(const pp_graph *g, pp_op *op, const op_sizes *sz, pp_op_cost *c) {
    /* F: logits (2MDV), softmax and loss ~5/logit, keeps the
     * probabilities; I turns them into the logit gradient in place (~2/logit)
     * and computes dx (2MDV); W computes dW (2MDV) from that gradient. */
    const pp_tensor *w = T_(op->param[0]);
    double v = (double)w->shape[0], d = (double)w->shape[1], rows = sz->rows;
    c->flops[PP_PASS_F] = 2 * rows * d * v + 5 * rows * v;
    c->flops[PP_PASS_I] = 2 * rows * d * v + 2 * rows * v;
    c->flops[PP_PASS_W] = 2 * rows * d * v;
    keep(op->keep_f, &op->n_keep_f, op->in[0], 0);
    keep(op->keep_f, &op->n_keep_f, op->in[1], 0);
    op->keep_f_extra = (long long)(rows * v) * 4; /* probabilities, f32 */
    keep(op->keep_w, &op->n_keep_w, op->in[0], 0);
    op->keep_w_extra = (long long)(rows * v) * 4; /* logit gradient, f32 (same buffer) */
}

static const op_kind_def lm_head_kind = {"lm_head", lm_head_infer, lm_head_costs,
                                         OP_W_PASS | OP_WEIGHTS_IN_I | OP_LOSS};

/* ---- the table of op kinds, and the generic code that walks it ---- */

static const op_kind_def *const op_kinds[PP_OP__COUNT] = {
    [PP_OP_EMBEDDING] = &embedding_kind, [PP_OP_LAYERNORM] = &layernorm_kind, [PP_OP_RMSNORM] = &rmsnorm_kind,
    [PP_OP_LINEAR] = &linear_kind,       [PP_OP_ROPE] = &rope_kind,           [PP_OP_ATTENTION] = &attention_kind,
    [PP_OP_GELU] = &gelu_kind,           [PP_OP_RELU] = &relu_kind,           [PP_OP_SWIGLU] = &swiglu_kind,
    [PP_OP_ADD] = &add_kind,             [PP_OP_POOLER] = &pooler_kind,       [PP_OP_LM_HEAD] = &lm_head_kind,
};

/* The kind's entry, or NULL for a value outside the enum. */
static const op_kind_def *op_kind(pp_op_kind k) { return (unsigned)k < PP_OP__COUNT ? op_kinds[k] : NULL; }

const char *pp_op_kind_name(pp_op_kind k) {
    const op_kind_def *d = op_kind(k);
    return d ? d->name : "?";
}

int pp_op_infer(const pp_graph *g, const pp_op *op, int *ndim, long long *shape, pp_dtype *dtype, pp_err *err) {
    for (int i = 0; i < op->n_in; i++) {
        if (op->in[i] < 0 || op->in[i] >= g->n_tensors)
            return shape_err(err, g, op, -1, "input %d refers to tensor #%d, which does not exist", i, op->in[i]);
        if (T_(op->in[i])->kind == PP_TENSOR_PARAM)
            return shape_err(err, g, op, op->in[i], "a parameter given as an input");
    }
    for (int i = 0; i < op->n_param; i++) {
        if (op->param[i] < 0 || op->param[i] >= g->n_tensors)
            return shape_err(err, g, op, -1, "parameter %d refers to tensor #%d, which does not exist", i, op->param[i]);
        if (T_(op->param[i])->kind != PP_TENSOR_PARAM)
            return shape_err(err, g, op, op->param[i], "given as a parameter but is a %s",
                             pp_tensor_kind_name(T_(op->param[i])->kind));
    }
    const pp_tensor *x = op->n_in > 0 ? T_(op->in[0]) : NULL;
    *dtype = g->dtype;
    const op_kind_def *k = op_kind(op->kind);
    if (!k) return shape_err(err, g, op, -1, "unknown op kind %d", (int)op->kind);
    return k->infer(g, op, x, ndim, shape, dtype, err);
}

static long long keep_list_bytes(const pp_graph *g, const pp_keep *list, int n) {
    long long b = 0;
    for (int i = 0; i < n; i++) b += pp_tensor_bytes(T_(list[i].tensor));
    return b;
}

void pp_op_update_cost(const pp_graph *g, pp_op *op) {
    pp_op_cost *c = &op->cost;
    memset(c, 0, sizeof *c);
    op->n_keep_f = op->n_keep_w = 0;
    op->keep_f_extra = op->keep_w_extra = 0;
    op_sizes sz;
    sz.x = op->n_in > 0 ? T_(op->in[0]) : NULL;
    sz.y = op->n_out > 0 ? T_(op->out[0]) : NULL;
    sz.s = pp_dtype_size(g->dtype);
    for (int i = 0; i < op->n_param; i++) c->param_bytes += pp_tensor_bytes(T_(op->param[i]));
    sz.nx = sz.x ? (double)pp_tensor_numel(sz.x) : 0;
    sz.ny = sz.y ? (double)pp_tensor_numel(sz.y) : 0;
    sz.rows = (sz.x && sz.x->ndim >= 1) ? sz.nx / (double)sz.x->shape[sz.x->ndim - 1] : 0;

    const op_kind_def *k = op_kind(op->kind);
    if (k) k->costs(g, op, &sz, c);
    unsigned flags = k ? k->flags : 0;
    c->keep_f_bytes = keep_list_bytes(g, op->keep_f, op->n_keep_f) + op->keep_f_extra;
    c->keep_w_bytes = keep_list_bytes(g, op->keep_w, op->n_keep_w) + op->keep_w_extra;

    /* Memory traffic (see OP_W_PASS above). */
    double in_b = 0, in_act_b = 0;
    for (int i = 0; i < op->n_in; i++) {
        in_b += (double)pp_tensor_bytes(T_(op->in[i]));
        if (T_(op->in[i])->dtype != PP_DTYPE_I32) in_act_b += (double)pp_tensor_bytes(T_(op->in[i]));
    }
    double out_b = sz.y ? (double)pp_tensor_bytes(sz.y) : 0;
    c->bytes[PP_PASS_F] = in_b + (double)c->param_bytes + out_b;
    if (c->flops[PP_PASS_I] > 0)
        c->bytes[PP_PASS_I] = out_b + (double)c->keep_f_bytes +
                              ((flags & OP_WEIGHTS_IN_I) ? (double)c->param_bytes : 0) + in_act_b;
    if (flags & OP_W_PASS) c->bytes[PP_PASS_W] = (double)c->keep_w_bytes + 2.0 * (double)c->param_bytes;
}

/* 1 when op's output is the loss (no gradient buffer for it in I). */
static int op_is_loss(const pp_op *op) {
    const op_kind_def *k = op_kind(op->kind);
    return k && (k->flags & OP_LOSS);
}

int pp_graph_add_op(pp_graph *g, pp_op_kind kind, const char *name, const char *block, const int *in, int n_in,
                    const int *param, int n_param, const pp_op_attrs *attrs, pp_err *err) {
    if (n_in < 0 || n_in > PP_OP_MAX_IN || n_param < 0 || n_param > PP_OP_MAX_PARAM)
        return pp_err_set(err, PP_ERR_INVALID, "op '%s': %d inputs and %d parameters (at most %d and %d)", name, n_in,
                          n_param, PP_OP_MAX_IN, PP_OP_MAX_PARAM);
    if (index_sync(g, &g->op_index, g->n_ops, op_name_at, err)) return -1;
    if (pp_graph_find_op(g, name) >= 0) return pp_err_set(err, PP_ERR_INVALID, "op '%s' defined twice", name);
    pp_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.n_in = n_in;
    op.n_param = n_param;
    for (int i = 0; i < n_in; i++) op.in[i] = in[i];
    for (int i = 0; i < n_param; i++) op.param[i] = param[i];
    if (attrs) op.a = *attrs;
    op.name = (char *)name; /* borrowed for messages during inference */
    int ndim;
    long long shape[PP_MAX_DIMS];
    pp_dtype dt;
    if (pp_op_infer(g, &op, &ndim, shape, &dt, err)) return -1;
    int blk = block_index(g, block, err);
    if (blk < 0) return -1;
    char oname[512];
    snprintf(oname, sizeof oname, "%s.out", name);
    int out = pp_graph_add_tensor(g, oname, PP_TENSOR_ACTIVATION, dt, ndim, shape, err);
    if (out < 0) return -1;
    if (pp_grow((void **)&g->ops, &g->cap_ops, g->n_ops + 1, sizeof *g->ops, err)) return -1;
    op.name = pp_strdup(name, err);
    if (!op.name) return -1;
    if (index_put(&g->op_index, op.name, g->n_ops, err)) {
        free(op.name);
        return -1;
    }
    op.block = blk;
    op.n_out = 1;
    op.out[0] = out;
    g->tensors[out].producer = g->n_ops;
    g->ops[g->n_ops] = op;
    pp_op_update_cost(g, &g->ops[g->n_ops]);
    g->n_ops++;
    return out;
}

/* ---- validation and order ---- */

/* producer[t] = the op writing tensor t, -1 if none, -2 if an index is bad. */
static int compute_producers(const pp_graph *g, int *producer, pp_err *err) {
    for (int t = 0; t < g->n_tensors; t++) producer[t] = -1;
    for (int i = 0; i < g->n_ops; i++) {
        const pp_op *op = &g->ops[i];
        for (int k = 0; k < op->n_out; k++) {
            int t = op->out[k];
            if (t < 0 || t >= g->n_tensors)
                return pp_err_set(err, PP_ERR_INVALID, "op '%s': output %d refers to tensor #%d, which does not exist",
                                  op->name, k, t);
            if (g->tensors[t].kind != PP_TENSOR_ACTIVATION)
                return pp_err_set(err, PP_ERR_INVALID, "op '%s' writes tensor '%s', which is a %s", op->name,
                                  g->tensors[t].name, pp_tensor_kind_name(g->tensors[t].kind));
            if (producer[t] >= 0)
                return pp_err_set(err, PP_ERR_INVALID, "tensor '%s' is written by two ops: '%s' and '%s'",
                                  g->tensors[t].name, g->ops[producer[t]].name, op->name);
            producer[t] = i;
        }
    }
    return 0;
}

/* Finds a cycle through op `start` in the dependency graph (op -> ops it
 * reads from) and describes it. Returns 1 and fills msg if one is found. */
static int find_cycle(const pp_graph *g, const int *producer, int start, char *msg, size_t n) {
    /* Iterative DFS with colors, recording the path. */
    int *color = calloc((size_t)g->n_ops, sizeof *color);
    int *stack = malloc((size_t)g->n_ops * sizeof *stack);
    int *edge = malloc((size_t)g->n_ops * sizeof *edge);
    int found = 0;
    if (!color || !stack || !edge) goto done;
    int sp = 0;
    stack[sp] = start;
    edge[sp] = 0;
    color[start] = 1;
    sp++;
    while (sp > 0 && !found) {
        int u = stack[sp - 1];
        const pp_op *op = &g->ops[u];
        if (edge[sp - 1] >= op->n_in) {
            color[u] = 2;
            sp--;
            continue;
        }
        int t = op->in[edge[sp - 1]++];
        int v = (t >= 0 && t < g->n_tensors) ? producer[t] : -1;
        if (v < 0) continue;
        if (color[v] == 1) {
            /* Cycle: stack[j] reads from stack[j + 1] for k <= j < sp - 1, where
             * stack[k] == v, and the top u reads from v. */
            int k = 0;
            while (stack[k] != v) k++;
            size_t o = (size_t)snprintf(msg, n, "cycle: ");
            for (int j = k; j < sp && o < n; j++) {
                const pp_op *oa = &g->ops[stack[j]];
                int from = j + 1 < sp ? stack[j + 1] : v;
                const char *via = "?";
                for (int q = 0; q < oa->n_in; q++) {
                    int tt = oa->in[q];
                    if (tt >= 0 && tt < g->n_tensors && producer[tt] == from) via = g->tensors[tt].name;
                }
                o += (size_t)snprintf(msg + o, n - o, "op '%s' reads '%s' from ", oa->name, via);
            }
            if (o < n) snprintf(msg + o, n - o, "op '%s'", g->ops[v].name);
            found = 1;
        } else if (color[v] == 0) {
            color[v] = 1;
            stack[sp] = v;
            edge[sp] = 0;
            sp++;
        }
    }
done:
    free(color);
    free(stack);
    free(edge);
    return found;
}

int pp_graph_validate(const pp_graph *g, pp_err *err) {
    int rc = -1;
    int *producer = pp_malloc((unsigned long long)(g->n_tensors ? g->n_tensors : 1) * sizeof *producer, err);
    /* seen[b]: block b has an op before the current one */
    unsigned char *seen = pp_calloc((unsigned long long)(g->n_blocks ? g->n_blocks : 1), 1, err);
    if (!producer || !seen) goto done;
    if (compute_producers(g, producer, err)) goto done;
    /* Dangling tensors and order. */
    for (int i = 0; i < g->n_ops; i++) {
        const pp_op *op = &g->ops[i];
        for (int k = 0; k < op->n_in; k++) {
            int t = op->in[k];
            if (t < 0 || t >= g->n_tensors) {
                pp_err_set(err, PP_ERR_INVALID, "op '%s': input %d refers to tensor #%d, which does not exist",
                           op->name, k, t);
                goto done;
            }
            const pp_tensor *tt = &g->tensors[t];
            if (tt->kind != PP_TENSOR_ACTIVATION) continue;
            if (producer[t] < 0) {
                pp_err_set(err, PP_ERR_INVALID, "op '%s' reads tensor '%s', which no op produces (dangling tensor)",
                           op->name, tt->name);
                goto done;
            }
            if (producer[t] >= i) {
                char msg[900];
                if (find_cycle(g, producer, i, msg, sizeof msg))
                    pp_err_set(err, PP_ERR_INVALID, "graph has a %s", msg);
                else
                    pp_err_set(err, PP_ERR_INVALID,
                               "ops are not in topological order: op '%s' reads tensor '%s' before op '%s' writes it",
                               op->name, tt->name, g->ops[producer[t]].name);
                goto done;
            }
        }
        if (op->block < 0 || op->block >= g->n_blocks) {
            pp_err_set(err, PP_ERR_INVALID, "op '%s' has no block", op->name);
            goto done;
        }
        /* An op of this block before op i - 1, which is of another block. */
        if (i > 0 && op->block != g->ops[i - 1].block && seen[op->block]) {
            pp_err_set(err, PP_ERR_INVALID, "block '%s' is not contiguous: op '%s' follows op '%s' of block '%s'",
                       g->blocks[op->block], op->name, g->ops[i - 1].name, g->blocks[g->ops[i - 1].block]);
            goto done;
        }
        seen[op->block] = 1;
    }
    /* Shapes. */
    for (int i = 0; i < g->n_ops; i++) {
        const pp_op *op = &g->ops[i];
        int ndim;
        long long shape[PP_MAX_DIMS];
        pp_dtype dt;
        if (pp_op_infer(g, op, &ndim, shape, &dt, err)) goto done;
        const pp_tensor *o = &g->tensors[op->out[0]];
        int same = o->ndim == ndim && o->dtype == dt;
        for (int k = 0; same && k < ndim; k++) same = o->shape[k] == shape[k];
        if (!same) {
            char want[96], have[96];
            shape_str(ndim, shape, want, sizeof want);
            shape_str(o->ndim, o->shape, have, sizeof have);
            pp_err_set(err, PP_ERR_INVALID,
                       "shape mismatch: op '%s' (%s) writes tensor '%s' as %s %s, but its inputs give %s %s", op->name,
                       pp_op_kind_name(op->kind), o->name, pp_dtype_name(o->dtype), have, pp_dtype_name(dt), want);
            goto done;
        }
    }
    rc = 0;
done:
    free(producer);
    free(seen);
    return rc;
}

/* Min-heap of op indices: the ready op that comes first in the given order
 * is placed next. */
static void heap_push(int *h, int *n, int v) {
    int i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static int heap_pop(int *h, int *n) {
    int top = h[0], v = h[--(*n)], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = v;
    return top;
}

int pp_graph_toposort(pp_graph *g, pp_err *err) {
    int n = g->n_ops, rc = -1;
    unsigned long long un = (unsigned long long)(n ? n : 1);
    int *producer = pp_malloc((unsigned long long)(g->n_tensors ? g->n_tensors : 1) * sizeof *producer, err);
    int *placed = pp_calloc(un, sizeof *placed, err);
    int *order = pp_malloc(un * sizeof *order, err);
    int *newidx = pp_malloc(un * sizeof *newidx, err);
    pp_op *ops = pp_malloc(un * sizeof *ops, err);
    /* Kahn's algorithm: waiting[i] inputs of op i whose producer is not
     * placed yet; readers[first[p] .. first[p + 1]) the ops reading op p's
     * outputs (once per input); heap the ops ready to place. */
    int *waiting = pp_calloc(un, sizeof *waiting, err);
    int *first = pp_calloc(un + 1, sizeof *first, err);
    int *readers = pp_malloc(un * PP_OP_MAX_IN * sizeof *readers, err);
    int *heap = pp_malloc(un * sizeof *heap, err);
    if (!producer || !placed || !order || !newidx || !ops || !waiting || !first || !readers || !heap) goto done;
    if (compute_producers(g, producer, err)) goto done;
    for (int i = 0; i < n; i++) {
        const pp_op *op = &g->ops[i];
        for (int q = 0; q < op->n_in; q++) {
            int t = op->in[q];
            if (t < 0 || t >= g->n_tensors) {
                pp_err_set(err, PP_ERR_INVALID, "op '%s': input refers to tensor #%d, which does not exist", op->name,
                           t);
                goto done;
            }
            if (producer[t] >= 0) {
                waiting[i]++;
                first[producer[t] + 1]++;
            }
        }
    }
    for (int p = 0; p < n; p++) first[p + 1] += first[p];
    for (int i = 0; i < n; i++) {
        const pp_op *op = &g->ops[i];
        for (int q = 0; q < op->n_in; q++)
            if (producer[op->in[q]] >= 0) readers[first[producer[op->in[q]]]++] = i;
    }
    for (int p = n; p > 0; p--) first[p] = first[p - 1]; /* placing moved each start to the next one's */
    first[0] = 0;
    int k = 0, nh = 0;
    for (int i = 0; i < n; i++)
        if (!waiting[i]) heap_push(heap, &nh, i);
    while (nh > 0) {
        int i = heap_pop(heap, &nh);
        placed[i] = 1;
        order[k++] = i;
        for (int j = first[i]; j < first[i + 1]; j++)
            if (--waiting[readers[j]] == 0) heap_push(heap, &nh, readers[j]);
    }
    if (k < n) {
        char msg[900] = "cycle";
        for (int i = 0; i < n; i++)
            if (!placed[i] && find_cycle(g, producer, i, msg, sizeof msg)) break;
        pp_err_set(err, PP_ERR_INVALID, "graph has a %s", msg);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        ops[i] = g->ops[order[i]];
        newidx[order[i]] = i;
    }
    memcpy(g->ops, ops, (size_t)n * sizeof *ops);
    for (int t = 0; t < g->n_tensors; t++)
        g->tensors[t].producer = producer[t] >= 0 ? newidx[producer[t]] : -1;
    if (g->op_index.cap > 0)
        for (int i = 0; i < n; i++) {
            pp_name_slot *sl = index_slot(&g->op_index, g->ops[i].name);
            if (sl->name == g->ops[i].name) sl->idx = i;
        }
    rc = 0;
done:
    free(producer);
    free(placed);
    free(order);
    free(newidx);
    free(ops);
    free(waiting);
    free(first);
    free(readers);
    free(heap);
    return rc;
}

/* ---- queries ---- */

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Sorts v[0 .. n) and moves its distinct values to the front; returns how
 * many there are. */
static int sort_unique(long long *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_ll);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!m || v[i] != v[m - 1]) v[m++] = v[i];
    return m;
}

/* Elements (or bytes) of the distinct parameters of [lo, hi), -1 when out
 * of memory. Costs O(k log k) for the k parameter uses of the range, not
 * O(tensors), so per-block queries over a whole model stay linear. */
static long long range_params(const pp_graph *g, int lo, int hi, int bytes) {
    long long n = 0, total = 0;
    for (int i = lo; i < hi; i++) n += g->ops[i].n_param;
    long long *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) return -1;
    int k = 0;
    for (int i = lo; i < hi; i++)
        for (int p = 0; p < g->ops[i].n_param; p++) v[k++] = g->ops[i].param[p];
    k = sort_unique(v, k);
    for (int j = 0; j < k; j++)
        total += bytes ? pp_tensor_bytes(&g->tensors[v[j]]) : pp_tensor_numel(&g->tensors[v[j]]);
    free(v);
    return total;
}

long long pp_graph_param_count(const pp_graph *g) { return range_params(g, 0, g->n_ops, 0); }
long long pp_graph_range_param_count(const pp_graph *g, int lo, int hi) { return range_params(g, lo, hi, 0); }
long long pp_graph_range_param_bytes(const pp_graph *g, int lo, int hi) { return range_params(g, lo, hi, 1); }

double pp_graph_range_flops(const pp_graph *g, int lo, int hi, pp_pass pass) {
    double f = 0;
    for (int i = lo; i < hi; i++) f += g->ops[i].cost.flops[pass];
    return f;
}

long long pp_graph_range_keep_bytes(const pp_graph *g, int lo, int hi, int keep_w) {
    /* Entries 2 t + 1 (the gradient of t) or 2 t (t itself), each counted once. */
    long long n = 0, total = 0;
    for (int i = lo; i < hi; i++) n += keep_w ? g->ops[i].n_keep_w : g->ops[i].n_keep_f;
    long long *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) return -1;
    int m = 0;
    for (int i = lo; i < hi; i++) {
        const pp_op *op = &g->ops[i];
        const pp_keep *list = keep_w ? op->keep_w : op->keep_f;
        int nk = keep_w ? op->n_keep_w : op->n_keep_f;
        for (int k = 0; k < nk; k++) v[m++] = 2LL * list[k].tensor + (list[k].grad ? 1 : 0);
        total += keep_w ? op->keep_w_extra : op->keep_f_extra;
    }
    m = sort_unique(v, m);
    for (int j = 0; j < m; j++) total += pp_tensor_bytes(&g->tensors[v[j] / 2]);
    free(v);
    return total;
}

int pp_graph_range_pass_peaks(const pp_graph *g, int lo, int hi, long long peak[2]) {
    int nt = g->n_tensors ? g->n_tensors : 1;
    int *last_use = malloc((size_t)nt * sizeof *last_use);
    /* last_read[t]: the last op of the whole graph reading t (-1: none) */
    int *last_read = malloc((size_t)nt * sizeof *last_read);
    /* per tensor: 1 keep_f, 2 keep_w_act, 4 keep_w_grad, 8 input, 16 output,
     * 32 activation allocated, 64 gradient allocated */
    unsigned char *f = calloc((size_t)nt, 1);
    if (!last_use || !last_read || !f) {
        free(last_use);
        free(last_read);
        free(f);
        return -1;
    }
    for (int t = 0; t < g->n_tensors; t++) last_use[t] = last_read[t] = -1;
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < g->ops[i].n_in; k++) last_read[g->ops[i].in[k]] = i;
    for (int i = lo; i < hi; i++) {
        const pp_op *op = &g->ops[i];
        for (int k = 0; k < op->n_in; k++) last_use[op->in[k]] = i;
        for (int k = 0; k < op->n_keep_f; k++) f[op->keep_f[k].tensor] |= 1;
        for (int k = 0; k < op->n_keep_w; k++) f[op->keep_w[k].tensor] |= op->keep_w[k].grad ? 4 : 2;
    }
    long long held = 0, pk = 0;
#define PP_TB(t) pp_tensor_bytes(&g->tensors[t])
#define PP_XB(op) ((op)->keep_f_extra > (op)->keep_w_extra ? (op)->keep_f_extra : (op)->keep_w_extra)
    for (int t = 0; t < g->n_tensors; t++) {
        const pp_tensor *tt = &g->tensors[t];
        if (tt->kind == PP_TENSOR_PARAM) continue;
        if (last_use[t] >= 0 && (tt->producer < lo || tt->kind != PP_TENSOR_ACTIVATION)) {
            f[t] |= 8 | 32;
            held += PP_TB(t);
        }
        /* An output: read by an op at or after hi. */
        if (tt->kind == PP_TENSOR_ACTIVATION && tt->producer >= lo && tt->producer < hi && last_read[t] >= hi)
            f[t] |= 16;
    }
    pk = held;
    /* F */
    for (int i = lo; i < hi; i++) {
        const pp_op *op = &g->ops[i];
        int o = op->out[0];
        f[o] |= 32;
        held += PP_TB(o) + PP_XB(op);
        if (held > pk) pk = held;
        for (int k = 0; k < op->n_in; k++) {
            int t = op->in[k];
            if (last_use[t] == i && !(f[t] & (1 | 16)) && (f[t] & 32)) {
                f[t] &= (unsigned char)~32;
                held -= PP_TB(t);
            }
        }
        if (last_use[o] < 0 && !(f[o] & (1 | 16))) {
            f[o] &= (unsigned char)~32;
            held -= PP_TB(o);
        }
    }
    peak[0] = pk;
    /* The outputs are handed on and released (unless kept); the caller gives
     * the outputs' gradients. */
    for (int t = 0; t < g->n_tensors; t++)
        if ((f[t] & 16) && (f[t] & 32) && !(f[t] & 1)) {
            f[t] &= (unsigned char)~32;
            held -= PP_TB(t);
        }
    for (int t = 0; t < g->n_tensors; t++)
        if (f[t] & 16) {
            f[t] |= 64;
            held += PP_TB(t);
        }
    pk = held;
    /* I */
    for (int i = hi - 1; i >= lo; i--) {
        const pp_op *op = &g->ops[i];
        int o = op->out[0];
        if (!op_is_loss(op) && !(f[o] & 64)) {
            f[o] |= 64;
            held += PP_TB(o);
        }
        for (int k = 0; k < op->n_in; k++) {
            int t = op->in[k];
            if (g->tensors[t].kind == PP_TENSOR_ACTIVATION && !(f[t] & 64)) {
                f[t] |= 64;
                held += PP_TB(t);
            }
        }
        if (held > pk) pk = held;
        if ((f[o] & 64) && !(f[o] & 4)) {
            f[o] &= (unsigned char)~64;
            held -= PP_TB(o);
        }
        if (!op->keep_w_extra) held -= PP_XB(op);
    }
    peak[1] = pk;
#undef PP_TB
#undef PP_XB
    free(last_use);
    free(last_read);
    free(f);
    return 0;
}

long long pp_graph_cut_bytes(const pp_graph *g, int cut) {
    if (cut <= 0 || cut >= g->n_ops) return 0;
    unsigned char *seen = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1);
    long long total = 0;
    if (!seen) return -1;
    for (int i = cut; i < g->n_ops; i++) {
        const pp_op *op = &g->ops[i];
        for (int k = 0; k < op->n_in; k++) {
            int t = op->in[k];
            const pp_tensor *tt = &g->tensors[t];
            if (tt->kind != PP_TENSOR_ACTIVATION || seen[t]) continue;
            if (tt->producer >= 0 && tt->producer < cut) {
                seen[t] = 1;
                total += pp_tensor_bytes(tt);
            }
        }
    }
    free(seen);
    return total;
}

int pp_graph_cut_bytes_all(const pp_graph *g, long long *cut, pp_err *err) {
    int n = g->n_ops;
    int *last = pp_malloc((unsigned long long)(g->n_tensors ? g->n_tensors : 1) * sizeof *last, err);
    if (!last) return -1;
    for (int t = 0; t < g->n_tensors; t++) last[t] = -1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->ops[i].n_in; k++) last[g->ops[i].in[k]] = i;
    /* An activation produced by op p and last read by op r > p crosses the
     * cuts p + 1 .. r: added at p + 1, taken off at r + 1, then summed. */
    for (int c = 0; c <= n; c++) cut[c] = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        const pp_tensor *tt = &g->tensors[t];
        int p = tt->producer, r = last[t];
        if (tt->kind != PP_TENSOR_ACTIVATION || p < 0 || r <= p) continue;
        long long b = pp_tensor_bytes(tt);
        cut[p + 1] += b;
        cut[r + 1] -= b;
    }
    for (int c = 1; c <= n; c++) cut[c] += cut[c - 1];
    cut[0] = 0;
    cut[n] = 0;
    free(last);
    return 0;
}

void pp_graph_block_ranges(const pp_graph *g, int *lo, int *hi) {
    for (int b = 0; b < g->n_blocks; b++) lo[b] = hi[b] = -1;
    for (int i = 0; i < g->n_ops; i++) {
        int b = g->ops[i].block;
        if (b < 0 || b >= g->n_blocks) continue;
        if (lo[b] < 0) lo[b] = i;
        hi[b] = i + 1;
    }
}

int pp_graph_block_range(const pp_graph *g, int block, int *lo, int *hi) {
    int a = -1, b = -1;
    for (int i = 0; i < g->n_ops; i++) {
        if (g->ops[i].block != block) continue;
        if (a < 0) a = i;
        b = i + 1;
    }
    if (a < 0) return -1;
    *lo = a;
    *hi = b;
    return 0;
}

int pp_graph_param_is_shared(const pp_graph *g, int tensor) {
    int block = -1;
    for (int i = 0; i < g->n_ops; i++) {
        const pp_op *op = &g->ops[i];
        for (int k = 0; k < op->n_param; k++) {
            if (op->param[k] != tensor) continue;
            if (block >= 0 && block != op->block) return 1;
            block = op->block;
        }
    }
    return 0;
}

int pp_graph_shared_params(const pp_graph *g, unsigned char *shared, pp_err *err) {
    /* first[t]: the block of the first op reading parameter t, -1 before */
    int *first = pp_malloc((unsigned long long)(g->n_tensors ? g->n_tensors : 1) * sizeof *first, err);
    if (!first) return -1;
    for (int t = 0; t < g->n_tensors; t++) {
        first[t] = -1;
        shared[t] = 0;
    }
    for (int i = 0; i < g->n_ops; i++) {
        const pp_op *op = &g->ops[i];
        for (int k = 0; k < op->n_param; k++) {
            int t = op->param[k];
            if (first[t] < 0) first[t] = op->block;
            else if (first[t] != op->block) shared[t] = 1;
        }
    }
    free(first);
    return 0;
}

static void dot_escape(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
}

int pp_graph_write_dot(const pp_graph *g, FILE *f) {
    fprintf(f, "digraph pippy {\n  rankdir=TB;\n  node [shape=box, fontsize=10];\n  edge [fontsize=8];\n");
    /* The ops of each block in order, by[start[b] .. start[b + 1]), so the
     * clusters are written in one pass over the ops (a stable counting sort:
     * start[b + 2] counts block b, the prefix sums make start[b + 1] where
     * block b begins, and placing its ops moves start[b + 1] to its end). */
    int nb = g->n_blocks;
    int *start = calloc((size_t)nb + 2, sizeof *start);
    int *by = malloc((size_t)(g->n_ops ? g->n_ops : 1) * sizeof *by);
    if (!start || !by) {
        free(start);
        free(by);
        return -1;
    }
    for (int i = 0; i < g->n_ops; i++)
        if (g->ops[i].block >= 0 && g->ops[i].block < nb) start[g->ops[i].block + 2]++;
    for (int b = 0; b < nb; b++) start[b + 2] += start[b + 1];
    for (int i = 0; i < g->n_ops; i++)
        if (g->ops[i].block >= 0 && g->ops[i].block < nb) by[start[g->ops[i].block + 1]++] = i;
    for (int b = 0; b < nb; b++) {
        fprintf(f, "  subgraph cluster_%d {\n    label=\"", b);
        dot_escape(f, g->blocks[b]);
        fprintf(f, "\";\n");
        for (int j = start[b]; j < start[b + 1]; j++) {
            int i = by[j];
            fprintf(f, "    op%d [label=\"", i);
            dot_escape(f, g->ops[i].name);
            fprintf(f, "\\n%s\"];\n", pp_op_kind_name(g->ops[i].kind));
        }
        fprintf(f, "  }\n");
    }
    for (int t = 0; t < g->n_tensors; t++) {
        const pp_tensor *tt = &g->tensors[t];
        if (tt->kind == PP_TENSOR_INPUT || tt->kind == PP_TENSOR_LABEL) {
            fprintf(f, "  t%d [shape=ellipse, label=\"", t);
            dot_escape(f, tt->name);
            fprintf(f, "\"];\n");
        }
    }
    for (int i = 0; i < g->n_ops; i++) {
        const pp_op *op = &g->ops[i];
        for (int k = 0; k < op->n_in; k++) {
            const pp_tensor *tt = &g->tensors[op->in[k]];
            char sh[96];
            shape_str(tt->ndim, tt->shape, sh, sizeof sh);
            if (tt->kind == PP_TENSOR_ACTIVATION && tt->producer >= 0)
                fprintf(f, "  op%d -> op%d [label=\"%s\"];\n", tt->producer, i, sh);
            else
                fprintf(f, "  t%d -> op%d [label=\"%s\"];\n", op->in[k], i, sh);
        }
    }
    fprintf(f, "}\n");
    free(start);
    free(by);
    return ferror(f) ? -1 : 0;
}
