/*
 * pp_cpu_backend.c -- the CPU backend: host memory, and the dispatch of each
 * (op kind, pass) of the graph IR to the fp32 kernels of pp_cpu_kernels.h.
 *
 * Where each op keeps its private data (pp_op_args.extra), sized as the
 * graph's keep_f_extra / keep_w_extra say:
 *   layernorm  [mean M | rstd M] f32      rmsnorm  [rstd M] f32
 *   attention  [lse B*H*T] f32            lm_head  [probs M*V] f32, dlogits after I
 *   pooler     [x0 B*D | y B*D] f32
 */
#include "kernels/pp_backend.h"
#include "kernels/cpu/pp_cpu_kernels.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);
char *openblas_get_config(void);

/* Freed blocks are kept and handed out again for the same size: a training
 * step allocates the same buffers every microbatch, and fresh large blocks
 * cost a page fault and a page clear per 4 KiB (a quarter of a gpt2-124m
 * step, measured). Blocks are zeroed on request; the cache holds at most
 * CACHE_MAX blocks and CACHE_BYTES bytes, dropping the oldest beyond that. */
#define CACHE_MAX 256
#define CACHE_BYTES (4LL << 30)

typedef struct cpu_impl {
    void *ptr[CACHE_MAX];
    size_t size[CACHE_MAX];
    int n;
    long long bytes;
} cpu_impl;

static void *cpu_alloc(pp_backend *be, size_t bytes, int zero) {
    cpu_impl *c = be->impl;
    if (!bytes) bytes = 1;
    for (int i = c->n - 1; i >= 0; i--) {
        if (c->size[i] != bytes) continue;
        void *p = c->ptr[i];
        c->bytes -= (long long)bytes;
        c->n--;
        memmove(&c->ptr[i], &c->ptr[i + 1], (size_t)(c->n - i) * sizeof c->ptr[0]);
        memmove(&c->size[i], &c->size[i + 1], (size_t)(c->n - i) * sizeof c->size[0]);
        if (zero) memset(p, 0, bytes);
        return p;
    }
    return zero ? calloc(1, bytes) : malloc(bytes);
}

static void cpu_free(pp_backend *be, void *p, size_t bytes) {
    cpu_impl *c = be->impl;
    if (!bytes) bytes = 1;
    while (c->n > 0 && (c->n == CACHE_MAX || c->bytes + (long long)bytes > CACHE_BYTES)) {
        free(c->ptr[0]);
        c->bytes -= (long long)c->size[0];
        c->n--;
        memmove(&c->ptr[0], &c->ptr[1], (size_t)c->n * sizeof c->ptr[0]);
        memmove(&c->size[0], &c->size[1], (size_t)c->n * sizeof c->size[0]);
    }
    if ((long long)bytes > CACHE_BYTES) {
        free(p);
        return;
    }
    c->ptr[c->n] = p;
    c->size[c->n] = bytes;
    c->n++;
    c->bytes += (long long)bytes;
}

static void cpu_trim(pp_backend *be) {
    cpu_impl *c = be->impl;
    for (int i = 0; i < c->n; i++) free(c->ptr[i]);
    c->n = 0;
    c->bytes = 0;
}

static void cpu_zero(pp_backend *be, void *p, size_t bytes) {
    (void)be;
    memset(p, 0, bytes);
}
static void cpu_copy(pp_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    memmove(dst, src, bytes);
}
static void cpu_sync(pp_backend *be) { (void)be; }
static void cpu_set_threads(pp_backend *be, int n) {
    (void)be;
    pp_cpu_set_threads(n);
}
static void cpu_close(pp_backend *be) {
    cpu_trim(be);
    free(be->impl);
    free(be);
}
static void cpu_adamw(pp_backend *be, float *p, const float *g, float *m, float *v, long n, float lr, float beta1,
                      float beta2, float eps, float weight_decay, int t, float grad_scale) {
    (void)be;
    pp_cpu_adamw(p, g, m, v, n, lr, beta1, beta2, eps, weight_decay, t, grad_scale);
}
static void cpu_event_record(pp_backend *be, pp_event *ev, int stream) {
    (void)be;
    (void)stream;
    ev->t = pp_backend_now();
    ev->handle = NULL;
}
static double cpu_event_elapsed(pp_backend *be, const pp_event *start, const pp_event *end) {
    (void)be;
    return end->t - start->t;
}
static double cpu_sumsq(pp_backend *be, const float *x, long n) {
    (void)be;
    return pp_cpu_sumsq(x, n);
}

#define SHAPE(t, i) ((int)g->tensors[t].shape[i])
#define LAST(t) ((int)g->tensors[t].shape[g->tensors[t].ndim - 1])
#define NUMEL(t) (pp_tensor_numel(&g->tensors[t]))

static int cpu_run_op(pp_backend *be, const pp_graph *g, const pp_op *op, pp_pass pass, pp_op_args *a, pp_err *err) {
    (void)be;
    if (g->dtype != PP_DTYPE_F32)
        return pp_err_set(err, PP_ERR_UNSUPPORTED, "op '%s': the CPU backend computes in f32, the graph is %s", op->name,
                          pp_dtype_name(g->dtype));
    float **in = (float **)a->in, **din = (float **)a->din, **p = (float **)a->param, **dp = (float **)a->dparam;
    float *out = a->out, *dout = a->dout, *extra = a->extra;
    int x = op->in[0];
    switch (op->kind) {
    case PP_OP_EMBEDDING: {
        int B = SHAPE(x, 0), T = SHAPE(x, 1), D = LAST(op->out[0]);
        const int32_t *tok = a->in[0];
        if (pass == PP_PASS_F)
            pp_cpu_embedding_forward(out, tok, B, T, D, p[0], op->n_param > 1 ? p[1] : NULL, op->n_param > 2 ? p[2] : NULL);
        else if (pass == PP_PASS_W)
            pp_cpu_embedding_backward_weight(dp[0], op->n_param > 1 ? dp[1] : NULL, op->n_param > 2 ? dp[2] : NULL, dout,
                                             tok, B, T, D);
        return 0;
    }
    case PP_OP_LAYERNORM: {
        int D = LAST(x), M = (int)(NUMEL(x) / D);
        float *mean = extra, *rstd = extra + M;
        if (pass == PP_PASS_F)
            pp_cpu_layernorm_forward(out, mean, rstd, in[0], p[0], op->n_param > 1 ? p[1] : NULL, M, D, (float)op->a.eps);
        else if (pass == PP_PASS_I)
            pp_cpu_layernorm_backward_input(din[0], dout, in[0], mean, rstd, p[0], M, D);
        else
            pp_cpu_layernorm_backward_weight(dp[0], op->n_param > 1 ? dp[1] : NULL, dout, in[0], mean, rstd, M, D);
        return 0;
    }
    case PP_OP_RMSNORM: {
        int D = LAST(x), M = (int)(NUMEL(x) / D);
        if (pass == PP_PASS_F) pp_cpu_rmsnorm_forward(out, extra, in[0], p[0], M, D, (float)op->a.eps);
        else if (pass == PP_PASS_I) pp_cpu_rmsnorm_backward_input(din[0], dout, in[0], extra, p[0], M, D);
        else pp_cpu_rmsnorm_backward_weight(dp[0], dout, in[0], extra, M, D);
        return 0;
    }
    case PP_OP_LINEAR: {
        int K = LAST(x), M = (int)(NUMEL(x) / K), N = SHAPE(op->param[0], 0);
        if (pass == PP_PASS_F) pp_cpu_linear_forward(out, in[0], p[0], op->n_param > 1 ? p[1] : NULL, M, K, N);
        else if (pass == PP_PASS_I) pp_cpu_linear_backward_input(din[0], dout, p[0], M, K, N);
        else pp_cpu_linear_backward_weight(dp[0], op->n_param > 1 ? dp[1] : NULL, dout, in[0], M, K, N);
        return 0;
    }
    case PP_OP_ROPE: {
        const pp_op_attrs *t = &op->a;
        if (pass == PP_PASS_F)
            pp_cpu_rope_forward(out, in[0], SHAPE(x, 0), SHAPE(x, 1), t->n_head, t->n_kv_head, t->head_dim,
                                (float)t->rope_theta);
        else if (pass == PP_PASS_I)
            pp_cpu_rope_backward_input(din[0], dout, SHAPE(x, 0), SHAPE(x, 1), t->n_head, t->n_kv_head, t->head_dim,
                                       (float)t->rope_theta);
        return 0;
    }
    case PP_OP_ATTENTION: {
        if (pass == PP_PASS_W) return 0;
        const pp_op_attrs *t = &op->a;
        int H = t->n_head, Hkv = t->n_kv_head, hd = t->head_dim;
        int B = SHAPE(x, 0), T = SHAPE(x, 1), cross = t->mask == PP_ATTN_CROSS;
        int S = cross ? SHAPE(op->in[1], 1) : T, causal = t->mask == PP_ATTN_CAUSAL;
        int q_stride = cross ? H * hd : (H + 2 * Hkv) * hd, kv_stride = cross ? 2 * Hkv * hd : q_stride;
        const float *q = in[0], *k = cross ? in[1] : in[0] + H * hd, *v = cross ? in[1] + Hkv * hd : in[0] + (H + Hkv) * hd;
        float *bias = NULL, *dbias = NULL;
        if (op->n_param) {
            bias = malloc((size_t)H * T * S * sizeof *bias);
            if (!bias) return pp_err_set(err, PP_ERR_NOMEM, "op '%s': no memory for the position bias", op->name);
            pp_cpu_relpos_bias_forward(bias, p[0], H, T, S, t->relpos_buckets, t->relpos_max_distance, !causal);
        }
        if (pass == PP_PASS_F) {
            pp_cpu_attention_forward(out, extra, q, k, v, q_stride, kv_stride, B, T, S, H, Hkv, hd, (float)t->scale,
                                     causal, bias);
        } else {
            float *dq = din[0], *dk = cross ? din[1] : din[0] + H * hd,
                  *dv = cross ? din[1] + Hkv * hd : din[0] + (H + Hkv) * hd;
            if (bias) {
                dbias = calloc((size_t)H * T * S, sizeof *dbias);
                if (!dbias) {
                    free(bias);
                    return pp_err_set(err, PP_ERR_NOMEM, "op '%s': no memory for the bias gradient", op->name);
                }
            }
            pp_cpu_attention_backward_input(dq, dk, dv, dbias, dout, a->out, extra, q, k, v, q_stride, kv_stride, B, T,
                                            S, H, Hkv, hd, (float)t->scale, causal, bias);
            if (dbias)
                pp_cpu_relpos_bias_backward(dp[0], dbias, H, T, S, t->relpos_buckets, t->relpos_max_distance, !causal);
        }
        free(bias);
        free(dbias);
        return 0;
    }
    case PP_OP_GELU:
        if (pass == PP_PASS_F) pp_cpu_gelu_forward(out, in[0], NUMEL(x), op->a.gelu_tanh);
        else if (pass == PP_PASS_I) pp_cpu_gelu_backward_input(din[0], dout, in[0], NUMEL(x), op->a.gelu_tanh);
        return 0;
    case PP_OP_RELU:
        if (pass == PP_PASS_F) pp_cpu_relu_forward(out, in[0], NUMEL(x));
        else if (pass == PP_PASS_I) pp_cpu_relu_backward_input(din[0], dout, in[0], NUMEL(x));
        return 0;
    case PP_OP_SWIGLU: {
        int F = LAST(op->out[0]), M = (int)(NUMEL(op->out[0]) / F);
        if (pass == PP_PASS_F) pp_cpu_swiglu_forward(out, in[0], M, F);
        else if (pass == PP_PASS_I) pp_cpu_swiglu_backward_input(din[0], dout, in[0], M, F);
        return 0;
    }
    case PP_OP_ADD:
        if (pass == PP_PASS_F) {
            pp_cpu_add_forward(out, in[0], in[1], NUMEL(x));
        } else if (pass == PP_PASS_I) {
            if (din[0]) pp_cpu_accumulate(din[0], dout, NUMEL(x));
            if (din[1]) pp_cpu_accumulate(din[1], dout, NUMEL(x));
        }
        return 0;
    case PP_OP_POOLER: {
        int B = SHAPE(x, 0), T = SHAPE(x, 1), D = SHAPE(x, 2);
        float *x0 = extra, *y = extra + (size_t)B * D;
        if (pass == PP_PASS_F) {
            pp_cpu_pooler_forward(out, in[0], p[0], p[1], B, T, D);
            for (int b = 0; b < B; b++) memcpy(x0 + (size_t)b * D, in[0] + (size_t)b * T * D, (size_t)D * sizeof(float));
            memcpy(y, out, (size_t)B * D * sizeof(float));
        } else if (pass == PP_PASS_I) {
            pp_cpu_pooler_backward_input(din[0], dout, y, p[0], B, T, D);
        } else {
            pp_cpu_pooler_backward_weight(dp[0], dp[1], dout, y, x0, B, 1, D);
        }
        return 0;
    }
    case PP_OP_LM_HEAD: {
        int D = LAST(x), M = (int)(NUMEL(x) / D), V = SHAPE(op->param[0], 0);
        const int32_t *labels = a->in[1];
        float scale = (float)op->a.scale;
        if (pass == PP_PASS_F) {
            int n_valid;
            a->loss = pp_cpu_lm_head_forward(extra, in[0], p[0], labels, M, D, V, scale, &n_valid);
            out[0] = a->loss;
        } else if (pass == PP_PASS_I) {
            int n_valid = 0;
            for (int i = 0; i < M; i++) n_valid += labels[i] >= 0;
            pp_cpu_lm_head_backward_input(din[0], extra, p[0], labels, M, D, V, scale, a->loss_grad, n_valid);
        } else {
            pp_cpu_lm_head_backward_weight(dp[0], extra, in[0], M, D, V, scale);
        }
        return 0;
    }
    default: break;
    }
    return pp_err_set(err, PP_ERR_UNSUPPORTED, "op '%s': the CPU backend has no kernel for %s", op->name,
                      pp_op_kind_name(op->kind));
}

static const pp_backend_vtable cpu_vtable = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .trim = cpu_trim,
    .zero = cpu_zero,
    .copy = cpu_copy,
    .run_op = cpu_run_op,
    .sync = cpu_sync,
    .set_threads = cpu_set_threads,
    .adamw = cpu_adamw,
    .sumsq = cpu_sumsq,
    .event_record = cpu_event_record,
    .event_elapsed = cpu_event_elapsed,
    .close = cpu_close,
};

int pp_cpu_backend_open(int threads, pp_backend **out, pp_err *err) {
    pp_backend *be = pp_calloc(1, sizeof *be, err);
    if (!be) return -1;
    be->impl = pp_calloc(1, sizeof(cpu_impl), err);
    if (!be->impl) {
        free(be);
        return -1;
    }
    be->vt = &cpu_vtable;
    be->kind = PP_BACKEND_CPU;
    be->threads = threads;
    pp_cpu_set_threads(threads);
    *out = be;
    return 0;
}

void pp_backend_describe(pp_backend *be, char *json, size_t n) {
    if (be->vt->describe) {
        be->vt->describe(be, json, n);
        return;
    }
    char model[256] = "unknown", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *c = strchr(line, ':');
        if (c) {
            c++;
            while (*c == ' ' || *c == '\t') c++;
            c[strcspn(c, "\n\"\\")] = '\0';
            snprintf(model, sizeof model, "%s", c);
        }
        break;
    }
    if (f) fclose(f);
    char cfg[256];
    snprintf(cfg, sizeof cfg, "%s", openblas_get_config());
    cfg[strcspn(cfg, "\"\\")] = '\0';
    snprintf(json, n,
             "{\"kind\": \"%s\", \"model\": \"%s\", \"cores\": %ld, \"threads\": %d, \"blas\": \"%s\", "
             "\"blas_kernel\": \"%s\", \"pippy\": \"0.1.0\"}",
             be->vt->name, model, sysconf(_SC_NPROCESSORS_ONLN), be->threads, cfg, openblas_get_corename());
}
