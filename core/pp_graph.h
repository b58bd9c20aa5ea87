/*
 * pp_graph.h -- the graph IR: one representation of a transformer for the
 * model zoo, the planner, the simulator, the profiler and the executor.
 *
 * A graph is a DAG of ops over tensors, kept in a topological order. A
 * pipeline stage is a contiguous range [lo, hi) of that order. Every tensor
 * produced before a cut and consumed after it crosses the cut, which is how
 * skip connections (T5's encoder output) reach every later stage that reads
 * them. A parameter read by ops of two stages (GPT-2's tied token embedding)
 * is held by both stages and its gradients are summed before the optimizer.
 *
 * Shapes are concrete: a graph is built for one microbatch size B and one
 * sequence length T (pp_zoo_build), so every op knows its costs:
 *
 *   - FLOPs and bytes moved for the forward pass (F), the backward pass for
 *     inputs (I) and the backward pass for weights (W), indexed by pp_pass;
 *   - parameter bytes;
 *   - what it keeps from F until I (keep_f: tensors and private extras such
 *     as layernorm statistics), and what it keeps from I until W (keep_w:
 *     the saved inputs W needs and the gradient of its output).
 *
 * Saved tensors are shared between ops (attention keeps its output, the
 * projection after it keeps the same tensor as its input), so stage memory
 * is the union over the ops of a range: pp_graph_range_keep_bytes.
 *
 * Building by hand:
 *
 *     pp_graph g;
 *     pp_graph_init(&g, PP_DTYPE_F32);
 *     int x = pp_graph_add_tensor(&g, "x", PP_TENSOR_INPUT, PP_DTYPE_F32, 3, (long long[]){2, 8, 16}, err);
 *     int w = pp_graph_add_param(&g, "fc.weight", 2, (long long[]){32, 16}, err);
 *     int y = pp_graph_add_op(&g, PP_OP_LINEAR, "fc", "blk.0", (int[]){x}, 1, (int[]){w}, 1, NULL, err);
 *     // y is the op's first output tensor, shape [2, 8, 32], inferred
 *     pp_graph_validate(&g, err);
 *     pp_graph_free(&g);
 */
#ifndef PP_GRAPH_H
#define PP_GRAPH_H

#include <stdio.h>

#include "core/pp_err.h"

#define PP_MAX_DIMS 4
#define PP_OP_MAX_IN 3
#define PP_OP_MAX_OUT 1
#define PP_OP_MAX_PARAM 3
#define PP_OP_MAX_KEEP 4

typedef enum pp_dtype {
    PP_DTYPE_F32 = 0,
    PP_DTYPE_BF16,
    PP_DTYPE_F16,
    PP_DTYPE_I32, /* token ids and labels */
    PP_DTYPE__COUNT
} pp_dtype;

typedef enum pp_tensor_kind {
    PP_TENSOR_PARAM = 0,
    PP_TENSOR_ACTIVATION,
    PP_TENSOR_INPUT,
    PP_TENSOR_LABEL,
} pp_tensor_kind;

typedef enum pp_pass {
    PP_PASS_F = 0, /* forward */
    PP_PASS_I,     /* backward for inputs */
    PP_PASS_W,     /* backward for weights */
    PP_PASS__COUNT
} pp_pass;

typedef enum pp_op_kind {
    PP_OP_EMBEDDING = 0, /* tokens -> sum of table rows (token, position, type) */
    PP_OP_LAYERNORM,
    PP_OP_RMSNORM,
    PP_OP_LINEAR,        /* y = x W^T (+ b), W is [out, in] */
    PP_OP_ROPE,          /* rotary embedding of the q and k parts of a fused qkv */
    PP_OP_ATTENTION,     /* scaled dot-product attention; mask causal, bidirectional or cross */
    PP_OP_GELU,
    PP_OP_RELU,
    PP_OP_SWIGLU,        /* [.., 2F] -> silu(gate) * up, [.., F] */
    PP_OP_ADD,           /* residual add */
    PP_OP_POOLER,        /* BERT pooler: tanh(x[:, 0] W^T + b) */
    PP_OP_LM_HEAD,       /* logits = scale * x W^T, then mean cross-entropy with labels */
    PP_OP__COUNT
} pp_op_kind;

typedef enum pp_attn_mask {
    PP_ATTN_CAUSAL = 0,
    PP_ATTN_BIDIRECTIONAL,
    PP_ATTN_CROSS,
} pp_attn_mask;

/* Op attributes; each kind reads the ones it needs. */
typedef struct pp_op_attrs {
    int mask;           /* ATTENTION: pp_attn_mask */
    int n_head;         /* ATTENTION, ROPE */
    int n_kv_head;      /* ATTENTION, ROPE (grouped-query attention when < n_head) */
    int head_dim;       /* ATTENTION, ROPE */
    double scale;       /* ATTENTION: score scale (1/sqrt(head_dim), T5: 1); LM_HEAD: logit scale */
    int relpos_buckets; /* ATTENTION with a T5 relative position bias table (param[0]) */
    int relpos_max_distance;
    double eps;         /* LAYERNORM, RMSNORM */
    double rope_theta;  /* ROPE */
    int gelu_tanh;      /* GELU: 1 tanh approximation (GPT-2), 0 exact erf (BERT) */
} pp_op_attrs;

/* Something an op keeps for its backward: a tensor, or the gradient of one. */
typedef struct pp_keep {
    int tensor;
    int grad; /* 1: the gradient of `tensor` (same shape and dtype) */
} pp_keep;

typedef struct pp_op_cost {
    double flops[PP_PASS__COUNT];
    double bytes[PP_PASS__COUNT]; /* memory traffic estimate: bytes read + written */
    long long param_bytes;        /* bytes of the op's parameters */
    long long keep_f_bytes;       /* kept from F until I, this op alone */
    long long keep_w_bytes;       /* kept from I until W, this op alone */
} pp_op_cost;

typedef struct pp_tensor {
    char *name;
    pp_tensor_kind kind;
    pp_dtype dtype;
    int ndim;
    long long shape[PP_MAX_DIMS];
    int producer; /* op index, -1 for inputs, labels and parameters */
} pp_tensor;

typedef struct pp_op {
    char *name;    /* hierarchical, "h.3.attn.qkv" */
    int block;     /* index into pp_graph.blocks */
    pp_op_kind kind;
    int n_in, in[PP_OP_MAX_IN];         /* activations, inputs, labels */
    int n_out, out[PP_OP_MAX_OUT];
    int n_param, param[PP_OP_MAX_PARAM];
    pp_op_attrs a;
    int n_keep_f;
    pp_keep keep_f[PP_OP_MAX_KEEP];
    long long keep_f_extra; /* private bytes kept from F until I (statistics) */
    int n_keep_w;
    pp_keep keep_w[PP_OP_MAX_KEEP];
    long long keep_w_extra; /* private bytes kept from I until W */
    pp_op_cost cost;
} pp_op;

/* A hash index from names to positions (tensors, ops or blocks), kept by
 * the pp_graph_add_* functions so that finding a name and refusing a
 * duplicate take constant time. Internal: read it through
 * pp_graph_find_tensor, _op and _block. A slot holds the name pointer (owned
 * by the tensor, op or block) and its position; the lookup compares names,
 * so it stays right when ops are reordered (the position is checked and
 * searched for again then). */
typedef struct pp_name_slot {
    const char *name; /* NULL: empty */
    int idx;
} pp_name_slot;

typedef struct pp_name_index {
    pp_name_slot *slots;
    int cap; /* a power of two, or 0 */
    int n;   /* names held */
} pp_name_index;

typedef struct pp_graph {
    pp_dtype dtype;     /* activations and parameters */
    pp_tensor *tensors;
    int n_tensors, cap_tensors;
    pp_op *ops;         /* in topological order */
    int n_ops, cap_ops;
    char **blocks;      /* block labels in order of first appearance */
    int n_blocks, cap_blocks;
    pp_name_index tensor_index, op_index, block_index; /* names -> positions */
} pp_graph;

void pp_graph_init(pp_graph *g, pp_dtype dtype);
void pp_graph_free(pp_graph *g);

const char *pp_dtype_name(pp_dtype t);
int pp_dtype_size(pp_dtype t);
/* Parses "f32", "bf16", "f16", "i32". Returns 0 or -1. */
int pp_dtype_parse(const char *s, pp_dtype *out);
const char *pp_op_kind_name(pp_op_kind k);
const char *pp_tensor_kind_name(pp_tensor_kind k);
const char *pp_pass_name(pp_pass p);

/* Adds a tensor. Returns its index, or -1 (err set: duplicate name, bad shape). */
int pp_graph_add_tensor(pp_graph *g, const char *name, pp_tensor_kind kind, pp_dtype dtype, int ndim,
                        const long long *shape, pp_err *err);
/* Adds a parameter of the graph's dtype. */
int pp_graph_add_param(pp_graph *g, const char *name, int ndim, const long long *shape, pp_err *err);
/* Index of the tensor or op with that name, or -1. Constant time for a
 * graph built with the pp_graph_add_* functions (a linear search when the
 * arrays were filled by other means). */
int pp_graph_find_tensor(const pp_graph *g, const char *name);
int pp_graph_find_op(const pp_graph *g, const char *name);
/* Index of a block label, or -1. */
int pp_graph_find_block(const pp_graph *g, const char *block);

/* Appends an op in the block `block`, infers the shape of its output, creates
 * the output tensor (named after the op, "<op>.out") and fills the costs.
 * attrs may be NULL. Returns the output tensor's index, or -1 with err naming
 * the op and the offending tensor. */
int pp_graph_add_op(pp_graph *g, pp_op_kind kind, const char *name, const char *block, const int *in, int n_in,
                    const int *param, int n_param, const pp_op_attrs *attrs, pp_err *err);

/* Shape inference for an op from its inputs and parameters: writes the
 * output's ndim, shape and dtype. Returns 0 or -1 (err names op and tensor). */
int pp_op_infer(const pp_graph *g, const pp_op *op, int *ndim, long long *shape, pp_dtype *dtype, pp_err *err);

/* Recomputes an op's costs and keep lists from its shapes. */
void pp_op_update_cost(const pp_graph *g, pp_op *op);

/* Checks the graph: every tensor index in range; every activation read is
 * produced by exactly one op (else "dangling tensor"); ops are in
 * topological order (else the cycle, or the op read before it is written);
 * every op's shapes agree with inference. Errors name the op and tensor. */
int pp_graph_validate(const pp_graph *g, pp_err *err);

/* Reorders ops into a topological order (stable: keeps the given order where
 * it already is one). Fails on a cycle, naming the ops and tensors on it. */
int pp_graph_toposort(pp_graph *g, pp_err *err);

long long pp_tensor_numel(const pp_tensor *t);
long long pp_tensor_bytes(const pp_tensor *t);

/* Number of distinct parameter elements / bytes in the whole graph. */
long long pp_graph_param_count(const pp_graph *g);

/* Queries over the op range [lo, hi) (a stage). */
long long pp_graph_range_param_count(const pp_graph *g, int lo, int hi);
long long pp_graph_range_param_bytes(const pp_graph *g, int lo, int hi);
double pp_graph_range_flops(const pp_graph *g, int lo, int hi, pp_pass pass);
/* Union of what ops in [lo, hi) keep from F until I (keep_w = 0) or from I
 * until W (keep_w = 1), counting a shared tensor once, plus private extras. */
long long pp_graph_range_keep_bytes(const pp_graph *g, int lo, int hi, int keep_w);
/* Bytes of activations produced before op `cut` and read at or after it:
 * what a pipeline cut between op cut-1 and op cut must send forward (and
 * receive as gradients backward). 0 for cut <= 0 or cut >= n_ops. */
/* The peak bytes one microbatch holds while the stage engine
 * (kernels/pp_engine.h) runs ops [lo, hi) over it, by replaying the engine's
 * allocation rules on the graph: peak[0] during F, counting from the stage's
 * inputs (given by the caller) through the outputs it hands on; peak[1]
 * during I, counting from what F keeps plus the output gradients given
 * through the input gradients it hands back. (W allocates nothing.) The
 * kept figures between passes are pp_graph_range_keep_bytes; these add what
 * lives only inside a pass: outputs, op scratch, the gradient frontier. The
 * engine's tests check both against what it allocates. Returns 0 or -1
 * (out of memory). */
int pp_graph_range_pass_peaks(const pp_graph *g, int lo, int hi, long long peak[2]);

long long pp_graph_cut_bytes(const pp_graph *g, int cut);
/* pp_graph_cut_bytes for every cut at once, in one pass over the graph:
 * cut[c] for c = 0 .. n_ops (the caller's array, n_ops + 1 entries).
 * Returns 0, or -1 (out of memory; err set). */
int pp_graph_cut_bytes_all(const pp_graph *g, long long *cut, pp_err *err);
/* Op range [*lo, *hi) of a block. Returns 0, or -1 if no such block. */
int pp_graph_block_range(const pp_graph *g, int block, int *lo, int *hi);
/* pp_graph_block_range for every block at once, in one pass: lo[b], hi[b]
 * for b = 0 .. n_blocks - 1 (the caller's arrays); a block without ops gets
 * lo = hi = -1. */
void pp_graph_block_ranges(const pp_graph *g, int *lo, int *hi);
/* 1 when the parameter is read by ops of more than one block. */
int pp_graph_param_is_shared(const pp_graph *g, int tensor);
/* pp_graph_param_is_shared for every tensor at once, in one pass:
 * shared[t] for t = 0 .. n_tensors - 1 (the caller's array). Returns 0, or
 * -1 (out of memory; err set). */
int pp_graph_shared_params(const pp_graph *g, unsigned char *shared, pp_err *err);

/* Writes the graph in Graphviz dot form (one cluster per block). */
int pp_graph_write_dot(const pp_graph *g, FILE *f);

#endif /* PP_GRAPH_H */
