/*
 * pp_cuda_backend.c -- the CUDA backend: device memory with a block cache,
 * pinned host staging buffers, one compute stream, CUDA events, and the
 * dispatch of each (op kind, pass) of the graph IR to cuBLAS GEMMs and the
 * own kernels of pp_cuda_kernels.cu.
 *
 * Numerics: storage is fp32 as the engine allocates it (master weights,
 * gradients, activations, the op's kept data), every GEMM converts its
 * operands to bf16 in a scratch buffer and runs cublasGemmEx (or the strided
 * batched form for attention) with fp32 accumulation and an fp32 output;
 * everything else is fp32 (pp_cuda_kernels.cu). The kept data per op is the
 * CPU backend's (pp_cpu_backend.c), so the engine's memory accounting holds.
 *
 * Attention per sequence b: scores [H, T, S] = scale q k^T by batched bf16
 * GEMMs (one call per query head of a kv group, batched over kv groups,
 * so grouped-query heads need no copies), a softmax kernel (bias, causal
 * mask, lse), out = p v by batched GEMMs. I recomputes p from lse and makes
 * dp, ds, dq, dk, dv with four more batched GEMMs; the T5 bias gradient is
 * summed over the batch in scratch and gathered into its table.
 *
 * Every CUDA and cuBLAS call is checked: PP_CUDA_CHECK / PP_CUBLAS_CHECK
 * (core/pp_cuda_check.h) put the file, line, the call's text and the
 * library's message in pp_err and jump to the function's `fail` label, which
 * releases what the function took.
 * Entry points of the vtable that cannot return an error (alloc, copy, zero,
 * adamw, ...) keep the first failure ("sticky") and the next run_op returns
 * it; they never abort. Scratch buffers (bf16 operands, scores) grow on
 * demand and are not counted in bytes_in_use, like the CPU's scratch.
 */
#include "kernels/cuda/pp_cuda_backend.h"

#include "core/pp_cuda_check.h"
#include "kernels/cpu/pp_cpu_kernels.h"
#include "kernels/cuda/pp_cuda_kernels.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* For entry points without an error return: keeps the first failure. */
#define PP_CUDA_STICKY(c, call)                                                                                        \
    do {                                                                                                               \
        cudaError_t e_ = (call);                                                                                       \
        if (e_ != cudaSuccess) sticky((c), __FILE__, __LINE__, #call, e_);                                             \
    } while (0)

#define CACHE_MAX 512
#define CACHE_BYTES (32LL << 30)
#define HOST_CACHE_BYTES (4LL << 30)
#define EV_RING 4096

enum { WS_A, WS_B, WS_Q16, WS_KV16, WS_DO16, WS_S, WS_P16, WS_DP, WS_DS16, WS_BIAS, WS_DBIAS, WS_BK, WS_SMALL, WS_N };

typedef struct block_cache {
    void *ptr[CACHE_MAX];
    size_t size[CACHE_MAX];
    int n;
    long long bytes, cap;
} block_cache;

typedef struct cuda_impl {
    int device;
    struct cudaDeviceProp prop;
    cudaStream_t stream;
    cublasHandle_t blas;
    block_cache dev, host;
    void *ws[WS_N];
    size_t ws_size[WS_N];
    cudaEvent_t ev[EV_RING];
    int ev_next;
    int failed;
    pp_err sticky;
} cuda_impl;

static void sticky(cuda_impl *c, const char *file, int line, const char *call, cudaError_t e) {
    if (c->failed) return;
    c->failed = 1;
    pp_err_set(&c->sticky, PP_ERR_IO, "%s:%d: %s failed: %s (%s)", file, line, call, cudaGetErrorString(e),
               cudaGetErrorName(e));
    PP_LOG_ERROR("cuda backend: %s", c->sticky.msg);
}

static cuda_impl *impl(pp_backend *be) { return be->impl; }

/* ---- memory ---- */

static void *cache_take(block_cache *bc, size_t bytes) {
    for (int i = bc->n - 1; i >= 0; i--) {
        if (bc->size[i] != bytes) continue;
        void *p = bc->ptr[i];
        bc->bytes -= (long long)bytes;
        bc->n--;
        memmove(&bc->ptr[i], &bc->ptr[i + 1], (size_t)(bc->n - i) * sizeof bc->ptr[0]);
        memmove(&bc->size[i], &bc->size[i + 1], (size_t)(bc->n - i) * sizeof bc->size[0]);
        return p;
    }
    return NULL;
}

/* Puts p in the cache, evicting the oldest blocks beyond the limits; returns
 * a block to release (the evicted ones are released by rel) or NULL. */
static void cache_put(block_cache *bc, void *p, size_t bytes, void (*rel)(void *)) {
    while (bc->n > 0 && (bc->n == CACHE_MAX || bc->bytes + (long long)bytes > bc->cap)) {
        rel(bc->ptr[0]);
        bc->bytes -= (long long)bc->size[0];
        bc->n--;
        memmove(&bc->ptr[0], &bc->ptr[1], (size_t)bc->n * sizeof bc->ptr[0]);
        memmove(&bc->size[0], &bc->size[1], (size_t)bc->n * sizeof bc->size[0]);
    }
    if ((long long)bytes > bc->cap) {
        rel(p);
        return;
    }
    bc->ptr[bc->n] = p;
    bc->size[bc->n] = bytes;
    bc->n++;
    bc->bytes += (long long)bytes;
}

static void cache_clear(block_cache *bc, void (*rel)(void *)) {
    for (int i = 0; i < bc->n; i++) rel(bc->ptr[i]);
    bc->n = 0;
    bc->bytes = 0;
}

static void rel_dev(void *p) { cudaFree(p); }
static void rel_host(void *p) { cudaFreeHost(p); }

static void cuda_trim(pp_backend *be) {
    cuda_impl *c = impl(be);
    cudaStreamSynchronize(c->stream);
    cache_clear(&c->dev, rel_dev);
    cache_clear(&c->host, rel_host);
}

static void *cuda_alloc(pp_backend *be, size_t bytes, int zero) {
    cuda_impl *c = impl(be);
    if (!bytes) bytes = 1;
    void *p = cache_take(&c->dev, bytes);
    if (!p && cudaMalloc(&p, bytes) != cudaSuccess) {
        cudaGetLastError(); /* clear the out-of-memory error, then retry with the cache returned */
        cudaStreamSynchronize(c->stream);
        cache_clear(&c->dev, rel_dev);
        if (cudaMalloc(&p, bytes) != cudaSuccess) {
            cudaGetLastError();
            return NULL;
        }
    }
    if (zero) PP_CUDA_STICKY(c, cudaMemsetAsync(p, 0, bytes, c->stream));
    return p;
}

/* Blocks return to the cache at once: every use of them is on the one
 * stream, so a later user is ordered after the work that read them. */
static void cuda_free(pp_backend *be, void *p, size_t bytes) {
    cuda_impl *c = impl(be);
    if (!bytes) bytes = 1;
    cache_put(&c->dev, p, bytes, rel_dev);
}

static void *cuda_alloc_host(pp_backend *be, size_t bytes) {
    cuda_impl *c = impl(be);
    if (!bytes) bytes = 1;
    void *p = cache_take(&c->host, bytes);
    if (!p && cudaMallocHost(&p, bytes) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    return p;
}

static void cuda_free_host(pp_backend *be, void *p, size_t bytes) {
    cuda_impl *c = impl(be);
    if (!bytes) bytes = 1;
    cache_put(&c->host, p, bytes, rel_host);
}

static void cuda_zero(pp_backend *be, void *p, size_t bytes) {
    cuda_impl *c = impl(be);
    PP_CUDA_STICKY(c, cudaMemsetAsync(p, 0, bytes, c->stream));
}

static void cuda_copy(pp_backend *be, void *dst, const void *src, size_t bytes) {
    cuda_impl *c = impl(be);
    PP_CUDA_STICKY(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, c->stream));
}

static void cuda_upload(pp_backend *be, void *dst, const void *src, size_t bytes) {
    cuda_impl *c = impl(be);
    PP_CUDA_STICKY(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    PP_CUDA_STICKY(c, cudaStreamSynchronize(c->stream));
}

static void cuda_download(pp_backend *be, void *dst, const void *src, size_t bytes) {
    cuda_impl *c = impl(be);
    PP_CUDA_STICKY(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    PP_CUDA_STICKY(c, cudaStreamSynchronize(c->stream));
}

static void cuda_add(pp_backend *be, float *dst, const float *src, long long n) {
    cuda_impl *c = impl(be);
    PP_CUDA_STICKY(c, pp_cu_accumulate(dst, src, (long)n, c->stream));
}

static void cuda_sync(pp_backend *be) {
    cuda_impl *c = impl(be);
    PP_CUDA_STICKY(c, cudaStreamSynchronize(c->stream));
}

static void cuda_set_threads(pp_backend *be, int n) {
    (void)be;
    (void)n;
}

/* A scratch buffer of at least `bytes` in slot k (contents undefined). */
static void *ws(cuda_impl *c, int k, size_t bytes, pp_err *err) {
    if (bytes < 256) bytes = 256;
    if (c->ws_size[k] >= bytes) return c->ws[k];
    if (c->ws[k]) {
        PP_CUDA_CHECK(err, cudaStreamSynchronize(c->stream));
        cudaFree(c->ws[k]);
        c->ws[k] = NULL;
        c->ws_size[k] = 0;
    }
    size_t grown = bytes + bytes / 4;
    cudaError_t e = cudaMalloc(&c->ws[k], grown);
    if (e != cudaSuccess) {
        cudaGetLastError();
        c->ws[k] = NULL;
        pp_err_set(err, PP_ERR_NOMEM, "%s:%d: cudaMalloc(%zu bytes of scratch) failed: %s", __FILE__, __LINE__, grown,
                   cudaGetErrorString(e));
        return NULL;
    }
    c->ws_size[k] = grown;
    return c->ws[k];
fail:
    return NULL;
}

/* ---- GEMMs ---- */

/* Row-major C [M, N] = alpha op(A) op(B) + beta C over bf16 operands; as
 * column-major that is C^T = op(B)^T op(A)^T, so A and B swap. */
static int gemm16(cuda_impl *c, int ta, int tb, int M, int N, int K, float alpha, const void *A, long lda,
                  long long sA, const void *B, long ldb, long long sB, float beta, float *C, long ldc, long long sC,
                  int batch, pp_err *err) {
    if (M <= 0 || N <= 0 || batch <= 0) return 0;
    if (K <= 0) {
        if (beta == 1.0f) return 0;
        return pp_err_set(err, PP_ERR_UNSUPPORTED, "cuda backend: a GEMM with K = 0 and beta != 1");
    }
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (batch == 1)
        PP_CUBLAS_CHECK(err, cublasGemmEx(c->blas, opb, opa, N, M, K, &alpha, B, CUDA_R_16BF, (int)ldb, A, CUDA_R_16BF,
                                          (int)lda, &beta, C, CUDA_R_32F, (int)ldc, CUBLAS_COMPUTE_32F,
                                          CUBLAS_GEMM_DEFAULT));
    else
        PP_CUBLAS_CHECK(err, cublasGemmStridedBatchedEx(c->blas, opb, opa, N, M, K, &alpha, B, CUDA_R_16BF, (int)ldb,
                                                        sB, A, CUDA_R_16BF, (int)lda, sA, &beta, C, CUDA_R_32F,
                                                        (int)ldc, sC, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return 0;
fail:
    return -1;
}

/* The same over fp32 operands (row strides lda, ldb): each is converted to
 * a dense bf16 copy in scratch first. */
static int gemm(cuda_impl *c, int ta, int tb, int M, int N, int K, float alpha, const float *A, long lda,
                const float *B, long ldb, float beta, float *C, long ldc, pp_err *err) {
    if (M <= 0 || N <= 0) return 0;
    if (K <= 0) return gemm16(c, ta, tb, M, N, K, alpha, NULL, 1, 0, NULL, 1, 0, beta, C, ldc, 0, 1, err);
    long ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    void *a16 = ws(c, WS_A, (size_t)ar * (size_t)ac * 2, err);
    void *b16 = a16 ? ws(c, WS_B, (size_t)br * (size_t)bc * 2, err) : NULL;
    if (!b16) return -1;
    PP_CUDA_CHECK(err, pp_cu_to_bf16(a16, ac, A, lda, ar, ac, c->stream));
    PP_CUDA_CHECK(err, pp_cu_to_bf16(b16, bc, B, ldb, br, bc, c->stream));
    return gemm16(c, ta, tb, M, N, K, alpha, a16, ac, 0, b16, bc, 0, beta, C, ldc, 0, 1, err);
fail:
    return -1;
}

/* ---- ops ---- */

#define SHAPE(t, i) ((int)g->tensors[t].shape[i])
#define LAST(t) ((int)g->tensors[t].shape[g->tensors[t].ndim - 1])
#define NUMEL(t) ((long)pp_tensor_numel(&g->tensors[t]))
#define BF(p, off) ((void *)((uint16_t *)(p) + (off)))

static int run_attention(cuda_impl *c, const pp_graph *g, const pp_op *op, pp_pass pass, pp_op_args *a, pp_err *err) {
    if (pass == PP_PASS_W) return 0;
    int *hb = NULL; /* the bias buckets on the host, until copied */
    cudaStream_t st = c->stream;
    const pp_op_attrs *t = &op->a;
    float **in = (float **)a->in, **din = (float **)a->din, **p = (float **)a->param, **dp = (float **)a->dparam;
    int x = op->in[0], H = t->n_head, Hkv = t->n_kv_head, hd = t->head_dim;
    int B = SHAPE(x, 0), T = SHAPE(x, 1), cross = t->mask == PP_ATTN_CROSS;
    int S = cross ? SHAPE(op->in[1], 1) : T, causal = t->mask == PP_ATTN_CAUSAL, grp = H / Hkv;
    long qs = cross ? (long)H * hd : (long)(H + 2 * Hkv) * hd, kvs = cross ? 2L * Hkv * hd : qs, os = (long)H * hd;
    float scale = (float)t->scale;
    if (B <= 0 || T <= 0 || S <= 0 || H <= 0) return 0;
    /* bf16 copies of q and k, v in their own layouts */
    void *q16 = ws(c, WS_Q16, (size_t)B * T * qs * 2, err);
    if (!q16) goto fail;
    PP_CUDA_CHECK(err, pp_cu_to_bf16(q16, qs, in[0], qs, (long)B * T, qs, st));
    void *kv16 = q16;
    if (cross) {
        if (!(kv16 = ws(c, WS_KV16, (size_t)B * S * kvs * 2, err))) goto fail;
        PP_CUDA_CHECK(err, pp_cu_to_bf16(kv16, kvs, in[1], kvs, (long)B * S, kvs, st));
    }
    long koff = cross ? 0 : (long)H * hd, voff = cross ? (long)Hkv * hd : (long)(H + Hkv) * hd;
    /* T5 bias [H, T, S] from the table, buckets computed on the host as the CPU does */
    float *bias = NULL, *dbias = NULL;
    int *bk = NULL;
    long hts = (long)H * T * S;
    if (op->n_param) {
        int nbk = T + S - 1;
        hb = malloc(sizeof(int) * (size_t)nbk);
        if (!hb) {
            pp_err_set(err, PP_ERR_NOMEM, "op '%s': no memory for the bias buckets", op->name);
            goto fail;
        }
        for (int k = 0; k < nbk; k++)
            hb[k] = pp_cpu_relpos_bucket(k - (T - 1), !causal, t->relpos_buckets, t->relpos_max_distance);
        bk = ws(c, WS_BK, sizeof(int) * (size_t)nbk, err);
        bias = bk ? ws(c, WS_BIAS, (size_t)hts * 4, err) : NULL;
        if (!bias) goto fail;
        PP_CUDA_CHECK(err, cudaMemcpyAsync(bk, hb, sizeof(int) * (size_t)nbk, cudaMemcpyHostToDevice, st));
        PP_CUDA_CHECK(err, cudaStreamSynchronize(st));
        free(hb);
        hb = NULL;
        PP_CUDA_CHECK(err, pp_cu_relpos_bias_fwd(bias, p[0], bk, H, T, S, st));
    }
    float *s32 = ws(c, WS_S, (size_t)hts * 4, err);
    void *p16 = s32 ? ws(c, WS_P16, (size_t)hts * 2, err) : NULL;
    if (!p16) goto fail;
    float *lse = a->extra;
    if (pass == PP_PASS_F) {
        float *out = a->out;
        for (int b = 0; b < B; b++) {
            for (int r = 0; r < grp; r++)
                if (gemm16(c, 0, 1, T, S, hd, scale, BF(q16, (long)b * T * qs + (long)r * hd), qs, (long long)grp * hd,
                           BF(kv16, (long)b * S * kvs + koff), kvs, hd, 0.0f, s32 + (long)r * T * S, S,
                           (long long)grp * T * S, Hkv, err))
                    goto fail;
            PP_CUDA_CHECK(err, pp_cu_attn_softmax(p16, lse + (long)b * H * T, T, s32, bias, H, T, S, causal, st));
            for (int r = 0; r < grp; r++)
                if (gemm16(c, 0, 0, T, hd, S, 1.0f, BF(p16, (long)r * T * S), S, (long long)grp * T * S,
                           BF(kv16, (long)b * S * kvs + voff), kvs, hd, 0.0f, out + (long)b * T * os + (long)r * hd, os,
                           (long long)grp * hd, Hkv, err))
                    goto fail;
        }
        return 0;
    }
    /* I */
    const float *dout = a->dout, *out = a->out;
    float *dq = din[0], *dk = cross ? din[1] : din[0] ? din[0] + koff : NULL;
    float *dv = cross ? (din[1] ? din[1] + Hkv * hd : NULL) : din[0] ? din[0] + voff : NULL;
    void *do16 = ws(c, WS_DO16, (size_t)B * T * os * 2, err);
    float *dp32 = do16 ? ws(c, WS_DP, (size_t)hts * 4, err) : NULL;
    void *ds16 = dp32 ? ws(c, WS_DS16, (size_t)hts * 2, err) : NULL;
    if (!ds16) goto fail;
    PP_CUDA_CHECK(err, pp_cu_to_bf16(do16, os, dout, os, (long)B * T, os, st));
    if (bias && dp[0]) {
        if (!(dbias = ws(c, WS_DBIAS, (size_t)hts * 4, err))) goto fail;
        PP_CUDA_CHECK(err, cudaMemsetAsync(dbias, 0, (size_t)hts * 4, st));
    }
    for (int b = 0; b < B; b++) {
        long qb = (long)b * T * qs, kb = (long)b * S * kvs, ob = (long)b * T * os;
        for (int r = 0; r < grp; r++)
            if (gemm16(c, 0, 1, T, S, hd, scale, BF(q16, qb + (long)r * hd), qs, (long long)grp * hd,
                       BF(kv16, kb + koff), kvs, hd, 0.0f, s32 + (long)r * T * S, S, (long long)grp * T * S, Hkv, err))
                goto fail;
        PP_CUDA_CHECK(err, pp_cu_attn_recompute_p(s32, p16, lse + (long)b * H * T, T, bias, H, T, S, causal, st));
        for (int r = 0; r < grp; r++)
            if (gemm16(c, 0, 1, T, S, hd, 1.0f, BF(do16, ob + (long)r * hd), os, (long long)grp * hd,
                       BF(kv16, kb + voff), kvs, hd, 0.0f, dp32 + (long)r * T * S, S, (long long)grp * T * S, Hkv, err))
                goto fail;
        PP_CUDA_CHECK(err, pp_cu_attn_ds(dp32, ds16, dbias, s32, dout + ob, out + ob, H, T, S, hd, st));
        for (int r = 0; r < grp; r++) {
            if (dq && gemm16(c, 0, 0, T, hd, S, scale, BF(ds16, (long)r * T * S), S, (long long)grp * T * S,
                             BF(kv16, kb + koff), kvs, hd, 1.0f, dq + qb + (long)r * hd, qs, (long long)grp * hd, Hkv,
                             err))
                goto fail;
            if (dk && gemm16(c, 1, 0, S, hd, T, scale, BF(ds16, (long)r * T * S), S, (long long)grp * T * S,
                             BF(q16, qb + (long)r * hd), qs, (long long)grp * hd, 1.0f, dk + kb, kvs, hd, Hkv, err))
                goto fail;
            if (dv && gemm16(c, 1, 0, S, hd, T, 1.0f, BF(p16, (long)r * T * S), S, (long long)grp * T * S,
                             BF(do16, ob + (long)r * hd), os, (long long)grp * hd, 1.0f, dv + kb, kvs, hd, Hkv, err))
                goto fail;
        }
    }
    if (dbias)
        PP_CUDA_CHECK(err, pp_cu_relpos_bias_bwd(dp[0], dbias, bk, H, T, S, t->relpos_buckets, st));
    return 0;
fail:
    free(hb);
    return -1;
}

static int cuda_run_op(pp_backend *be, const pp_graph *g, const pp_op *op, pp_pass pass, pp_op_args *a, pp_err *err) {
    cuda_impl *c = impl(be);
    if (c->failed) {
        pp_err_set(err, c->sticky.code, "op '%s': an earlier CUDA call failed: %s", op->name, c->sticky.msg);
        return -1;
    }
    if (g->dtype != PP_DTYPE_F32)
        return pp_err_set(err, PP_ERR_UNSUPPORTED,
                          "op '%s': the CUDA backend stores f32 (bf16 compute inside its GEMMs), the graph is %s",
                          op->name, pp_dtype_name(g->dtype));
    cudaStream_t st = c->stream;
    float **in = (float **)a->in, **din = (float **)a->din, **p = (float **)a->param, **dp = (float **)a->dparam;
    float *out = a->out, *dout = a->dout, *extra = a->extra;
    int x = op->in[0];
    switch (op->kind) {
    case PP_OP_EMBEDDING: {
        int B = SHAPE(x, 0), T = SHAPE(x, 1), D = LAST(op->out[0]);
        const int32_t *tok = a->in[0];
        if (pass == PP_PASS_F)
            PP_CUDA_CHECK(err, pp_cu_embedding_fwd(out, tok, B, T, D, p[0], op->n_param > 1 ? p[1] : NULL,
                                                   op->n_param > 2 ? p[2] : NULL, st));
        else if (pass == PP_PASS_W)
            PP_CUDA_CHECK(err, pp_cu_embedding_bwd(dp[0], op->n_param > 1 ? dp[1] : NULL, op->n_param > 2 ? dp[2] : NULL,
                                                   dout, tok, B, T, D, st));
        return 0;
    }
    case PP_OP_LAYERNORM: {
        int D = LAST(x), M = (int)(NUMEL(x) / D);
        float *mean = extra, *rstd = extra + M;
        if (pass == PP_PASS_F)
            PP_CUDA_CHECK(err, pp_cu_layernorm_fwd(out, mean, rstd, in[0], p[0], op->n_param > 1 ? p[1] : NULL, M, D,
                                                   (float)op->a.eps, st));
        else if (pass == PP_PASS_I)
            PP_CUDA_CHECK(err, pp_cu_layernorm_bwd_in(din[0], dout, in[0], mean, rstd, p[0], M, D, st));
        else
            PP_CUDA_CHECK(err, pp_cu_norm_bwd_weight(dp[0], op->n_param > 1 ? dp[1] : NULL, dout, in[0], mean, rstd, M,
                                                     D, st));
        return 0;
    }
    case PP_OP_RMSNORM: {
        int D = LAST(x), M = (int)(NUMEL(x) / D);
        if (pass == PP_PASS_F)
            PP_CUDA_CHECK(err, pp_cu_rmsnorm_fwd(out, extra, in[0], p[0], M, D, (float)op->a.eps, st));
        else if (pass == PP_PASS_I)
            PP_CUDA_CHECK(err, pp_cu_rmsnorm_bwd_in(din[0], dout, in[0], extra, p[0], M, D, st));
        else
            PP_CUDA_CHECK(err, pp_cu_norm_bwd_weight(dp[0], NULL, dout, in[0], NULL, extra, M, D, st));
        return 0;
    }
    case PP_OP_LINEAR: {
        int K = LAST(x), M = (int)(NUMEL(x) / K), N = SHAPE(op->param[0], 0);
        const float *bias = op->n_param > 1 ? p[1] : NULL;
        if (pass == PP_PASS_F) {
            if (bias) PP_CUDA_CHECK(err, pp_cu_fill_rows(out, N, bias, M, N, st));
            return gemm(c, 0, 1, M, N, K, 1.0f, in[0], K, p[0], K, bias ? 1.0f : 0.0f, out, N, err);
        }
        if (pass == PP_PASS_I) return din[0] ? gemm(c, 0, 0, M, K, N, 1.0f, dout, N, p[0], K, 1.0f, din[0], K, err) : 0;
        if (dp[0] && gemm(c, 1, 0, N, K, M, 1.0f, dout, N, in[0], K, 1.0f, dp[0], K, err)) return -1;
        if (op->n_param > 1 && dp[1]) PP_CUDA_CHECK(err, pp_cu_colsum_acc(dp[1], dout, M, N, N, st));
        return 0;
    }
    case PP_OP_ROPE: {
        const pp_op_attrs *t = &op->a;
        if (pass == PP_PASS_F)
            PP_CUDA_CHECK(err, pp_cu_rope_fwd(out, in[0], SHAPE(x, 0), SHAPE(x, 1), t->n_head, t->n_kv_head,
                                              t->head_dim, (float)t->rope_theta, st));
        else if (pass == PP_PASS_I)
            PP_CUDA_CHECK(err, pp_cu_rope_bwd(din[0], dout, SHAPE(x, 0), SHAPE(x, 1), t->n_head, t->n_kv_head,
                                              t->head_dim, (float)t->rope_theta, st));
        return 0;
    }
    case PP_OP_ATTENTION: return run_attention(c, g, op, pass, a, err);
    case PP_OP_GELU:
        if (pass == PP_PASS_F) PP_CUDA_CHECK(err, pp_cu_gelu_fwd(out, in[0], NUMEL(x), op->a.gelu_tanh, st));
        else if (pass == PP_PASS_I)
            PP_CUDA_CHECK(err, pp_cu_gelu_bwd(din[0], dout, in[0], NUMEL(x), op->a.gelu_tanh, st));
        return 0;
    case PP_OP_RELU:
        if (pass == PP_PASS_F) PP_CUDA_CHECK(err, pp_cu_relu_fwd(out, in[0], NUMEL(x), st));
        else if (pass == PP_PASS_I) PP_CUDA_CHECK(err, pp_cu_relu_bwd(din[0], dout, in[0], NUMEL(x), st));
        return 0;
    case PP_OP_SWIGLU: {
        int F = LAST(op->out[0]), M = (int)(NUMEL(op->out[0]) / F);
        if (pass == PP_PASS_F) PP_CUDA_CHECK(err, pp_cu_swiglu_fwd(out, in[0], M, F, st));
        else if (pass == PP_PASS_I) PP_CUDA_CHECK(err, pp_cu_swiglu_bwd(din[0], dout, in[0], M, F, st));
        return 0;
    }
    case PP_OP_ADD:
        if (pass == PP_PASS_F) {
            PP_CUDA_CHECK(err, pp_cu_add_fwd(out, in[0], in[1], NUMEL(x), st));
        } else if (pass == PP_PASS_I) {
            if (din[0]) PP_CUDA_CHECK(err, pp_cu_accumulate(din[0], dout, NUMEL(x), st));
            if (din[1]) PP_CUDA_CHECK(err, pp_cu_accumulate(din[1], dout, NUMEL(x), st));
        }
        return 0;
    case PP_OP_POOLER: {
        int B = SHAPE(x, 0), T = SHAPE(x, 1), D = SHAPE(x, 2);
        float *x0 = extra, *y = extra + (size_t)B * D;
        if (pass == PP_PASS_F) {
            const float *bias = op->n_param > 1 ? p[1] : NULL;
            if (bias) PP_CUDA_CHECK(err, pp_cu_fill_rows(out, D, bias, B, D, st));
            if (gemm(c, 0, 1, B, D, D, 1.0f, in[0], (long)T * D, p[0], D, bias ? 1.0f : 0.0f, out, D, err)) return -1;
            PP_CUDA_CHECK(err, pp_cu_tanh_inplace(out, (long)B * D, st));
            PP_CUDA_CHECK(err, pp_cu_copy_2d(x0, D, in[0], (long)T * D, B, D, st));
            PP_CUDA_CHECK(err, cudaMemcpyAsync(y, out, (size_t)B * D * sizeof(float), cudaMemcpyDeviceToDevice, st));
            return 0;
        }
        float *dpre = ws(c, WS_SMALL, (size_t)B * D * sizeof(float), err);
        if (!dpre) return -1;
        PP_CUDA_CHECK(err, pp_cu_tanh_bwd(dpre, dout, y, (long)B * D, st));
        if (pass == PP_PASS_I)
            return din[0] ? gemm(c, 0, 0, B, D, D, 1.0f, dpre, D, p[0], D, 1.0f, din[0], (long)T * D, err) : 0;
        if (dp[0] && gemm(c, 1, 0, D, D, B, 1.0f, dpre, D, x0, D, 1.0f, dp[0], D, err)) return -1;
        if (op->n_param > 1 && dp[1]) PP_CUDA_CHECK(err, pp_cu_colsum_acc(dp[1], dpre, B, D, D, st));
        return 0;
    }
    case PP_OP_LM_HEAD: {
        int D = LAST(x), M = (int)(NUMEL(x) / D), V = SHAPE(op->param[0], 0);
        const int32_t *labels = a->in[1];
        float scale = (float)op->a.scale;
        if (pass == PP_PASS_F) {
            float *rowloss = ws(c, WS_SMALL, (size_t)(M > 0 ? M : 1) * sizeof(float), err);
            if (!rowloss) return -1;
            if (gemm(c, 0, 1, M, V, D, 1.0f, in[0], D, p[0], D, 0.0f, extra, V, err)) return -1;
            PP_CUDA_CHECK(err, pp_cu_lm_fwd_rows(extra, rowloss, out, labels, M, V, scale, st));
            float loss = 0.0f;
            PP_CUDA_CHECK(err, cudaMemcpyAsync(&loss, out, sizeof loss, cudaMemcpyDeviceToHost, st));
            PP_CUDA_CHECK(err, cudaStreamSynchronize(st));
            a->loss = loss;
            return 0;
        }
        if (pass == PP_PASS_I) {
            int *count = ws(c, WS_SMALL, sizeof(int), err);
            if (!count) return -1;
            PP_CUDA_CHECK(err, pp_cu_lm_bwd_rows(extra, count, labels, M, V, a->loss_grad, st));
            return din[0] ? gemm(c, 0, 0, M, D, V, scale, extra, V, p[0], D, 1.0f, din[0], D, err) : 0;
        }
        return dp[0] ? gemm(c, 1, 0, V, D, M, scale, extra, V, in[0], D, 1.0f, dp[0], D, err) : 0;
    }
    default: break;
    }
    return pp_err_set(err, PP_ERR_UNSUPPORTED, "op '%s': the CUDA backend has no kernel for %s", op->name,
                      pp_op_kind_name(op->kind));
fail:
    return -1;
}

static int cuda_supports(pp_backend *be, pp_op_kind kind) {
    (void)be;
    switch (kind) {
    case PP_OP_EMBEDDING: case PP_OP_LAYERNORM: case PP_OP_RMSNORM: case PP_OP_LINEAR: case PP_OP_ROPE:
    case PP_OP_ATTENTION: case PP_OP_GELU: case PP_OP_RELU: case PP_OP_SWIGLU: case PP_OP_ADD: case PP_OP_POOLER:
    case PP_OP_LM_HEAD: return 1;
    default: return 0;
    }
}

/* ---- optimizer, norms, events ---- */

static void cuda_adamw(pp_backend *be, float *p, const float *g, float *m, float *v, long n, float lr, float beta1,
                       float beta2, float eps, float weight_decay, int t, float grad_scale) {
    cuda_impl *c = impl(be);
    /* the scalars exactly as pp_cpu_adamw forms them */
    double bc1 = 1.0 - pow((double)beta1, t), bc2 = 1.0 - pow((double)beta2, t);
    float decay = (float)(1.0 - (double)lr * weight_decay), step = (float)((double)lr / bc1);
    float bc2s = (float)sqrt(bc2);
    float omb1 = (float)(1.0 - (double)beta1), omb2 = (float)(1.0 - (double)beta2);
    PP_CUDA_STICKY(c, pp_cu_adamw(p, g, m, v, n, decay, step, bc2s, beta1, beta2, omb1, omb2, eps, grad_scale,
                                  c->stream));
}

static double cuda_sumsq(pp_backend *be, const float *x, long n) {
    cuda_impl *c = impl(be);
    pp_err err = {0};
    double *d = ws(c, WS_SMALL, sizeof(double), &err), h = 0.0;
    if (!d) {
        if (!c->failed) {
            c->failed = 1;
            c->sticky = err;
        }
        return NAN;
    }
    PP_CUDA_STICKY(c, pp_cu_sumsq(d, x, n, c->stream));
    PP_CUDA_STICKY(c, cudaMemcpyAsync(&h, d, sizeof h, cudaMemcpyDeviceToHost, c->stream));
    PP_CUDA_STICKY(c, cudaStreamSynchronize(c->stream));
    return c->failed ? NAN : h;
}

/* Events come from a ring of EV_RING cudaEvent_t made at open: an event
 * handle stays valid until EV_RING later records, ample for timing a pass. */
static void cuda_event_record(pp_backend *be, pp_event *ev, int stream) {
    cuda_impl *c = impl(be);
    (void)stream; /* one stream: every stream id is the compute stream */
    cudaEvent_t e = c->ev[c->ev_next];
    c->ev_next = (c->ev_next + 1) % EV_RING;
    PP_CUDA_STICKY(c, cudaEventRecord(e, c->stream));
    ev->handle = (void *)e;
    ev->t = pp_backend_now();
}

static double cuda_event_elapsed(pp_backend *be, const pp_event *start, const pp_event *end) {
    cuda_impl *c = impl(be);
    float ms = 0.0f;
    PP_CUDA_STICKY(c, cudaEventSynchronize((cudaEvent_t)end->handle));
    PP_CUDA_STICKY(c, cudaEventElapsedTime(&ms, (cudaEvent_t)start->handle, (cudaEvent_t)end->handle));
    return (double)ms * 1e-3;
}

static void cuda_describe(pp_backend *be, char *json, size_t n) {
    cuda_impl *c = impl(be);
    int drv = 0, rt = 0, blas = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    cublasGetVersion(c->blas, &blas);
    char name[256];
    snprintf(name, sizeof name, "%s", c->prop.name);
    name[strcspn(name, "\"\\")] = '\0';
    snprintf(json, n,
             "{\"kind\": \"cuda\", \"model\": \"%s\", \"cc\": \"%d.%d\", \"sms\": %d, \"memory_bytes\": %zu, "
             "\"driver\": %d, \"runtime\": %d, \"cublas\": %d, \"compute\": \"bf16 gemm, f32 storage\", "
             "\"pippy\": \"0.1.0\"}",
             name, c->prop.major, c->prop.minor, c->prop.multiProcessorCount, c->prop.totalGlobalMem, drv, rt, blas);
}

static void cuda_close(pp_backend *be) {
    cuda_impl *c = impl(be);
    if (c->stream) cudaStreamSynchronize(c->stream);
    cache_clear(&c->dev, rel_dev);
    cache_clear(&c->host, rel_host);
    for (int k = 0; k < WS_N; k++) cudaFree(c->ws[k]);
    for (int i = 0; i < EV_RING; i++)
        if (c->ev[i]) cudaEventDestroy(c->ev[i]);
    if (c->blas) cublasDestroy(c->blas);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
    free(be);
}

static const pp_backend_vtable cuda_vtable = {
    .name = "cuda",
    .alloc = cuda_alloc,
    .free = cuda_free,
    .trim = cuda_trim,
    .zero = cuda_zero,
    .copy = cuda_copy,
    .run_op = cuda_run_op,
    .sync = cuda_sync,
    .set_threads = cuda_set_threads,
    .adamw = cuda_adamw,
    .sumsq = cuda_sumsq,
    .event_record = cuda_event_record,
    .event_elapsed = cuda_event_elapsed,
    .close = cuda_close,
    .supports = cuda_supports,
    .upload = cuda_upload,
    .download = cuda_download,
    .add = cuda_add,
    .alloc_host = cuda_alloc_host,
    .free_host = cuda_free_host,
    .describe = cuda_describe,
};

/* Opening: the device is $PIPPY_CUDA_DEVICE, else this process's local rank
 * on its host (mpirun's OMPI_COMM_WORLD_LOCAL_RANK, srun's SLURM_LOCALID,
 * MPICH's MPI_LOCALRANKID) modulo the device count, else 0: one GPU per
 * rank when a host has as many GPUs as ranks, ranks sharing GPUs when not. */
static int open_device(cuda_impl *c, pp_err *err) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return pp_err_set(err, PP_ERR_UNSUPPORTED, "no CUDA device: cudaGetDeviceCount says %s (%s)",
                          cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (n < 1) return pp_err_set(err, PP_ERR_UNSUPPORTED, "no CUDA device: cudaGetDeviceCount says 0 devices");
    const char *env = getenv("PIPPY_CUDA_DEVICE");
    int dev = 0;
    static const char *const local_vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"};
    for (int i = 0; i < 3 && !(env && *env); i++) {
        const char *lr = getenv(local_vars[i]);
        if (lr && *lr) {
            long v = strtol(lr, NULL, 10);
            dev = v >= 0 ? (int)(v % n) : 0;
            break;
        }
    }
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end || v < 0 || v >= n)
            return pp_err_set(err, PP_ERR_INVALID, "PIPPY_CUDA_DEVICE=%s: not a device ordinal in [0, %d)", env, n);
        dev = (int)v;
    }
    c->device = dev;
    PP_CUDA_CHECK(err, cudaSetDevice(dev));
    PP_CUDA_CHECK(err, cudaGetDeviceProperties(&c->prop, dev));
    PP_CUDA_CHECK(err, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    PP_CUBLAS_CHECK(err, cublasCreate(&c->blas));
    PP_CUBLAS_CHECK(err, cublasSetStream(c->blas, c->stream));
    for (int i = 0; i < EV_RING; i++) PP_CUDA_CHECK(err, cudaEventCreate(&c->ev[i]));
    return 0;
fail: /* what was made so far is released by cuda_close, which the caller runs */
    return -1;
}

int pp_cuda_backend_open(int threads, pp_backend **out, pp_err *err) {
    *out = NULL;
    pp_backend *be = pp_calloc(1, sizeof *be, err);
    if (!be) return -1;
    cuda_impl *c = pp_calloc(1, sizeof *c, err);
    if (!c) {
        free(be);
        return -1;
    }
    c->dev.cap = CACHE_BYTES;
    c->host.cap = HOST_CACHE_BYTES;
    be->vt = &cuda_vtable;
    be->kind = PP_BACKEND_CUDA;
    be->threads = threads;
    be->impl = c;
    if (open_device(c, err)) {
        cuda_close(be);
        return -1;
    }
    *out = be;
    return 0;
}

void *pp_cuda_backend_stream(pp_backend *be) {
    return be && be->kind == PP_BACKEND_CUDA ? (void *)impl(be)->stream : NULL;
}

int pp_cuda_backend_device(const pp_backend *be) {
    return be && be->kind == PP_BACKEND_CUDA ? ((const cuda_impl *)be->impl)->device : -1;
}

int pp_cuda_backend_gemm(pp_backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha, const void *A,
                         const void *B, float beta, float *C, int bf16_inputs, pp_err *err) {
    if (!be || be->kind != PP_BACKEND_CUDA) return pp_err_set(err, PP_ERR_INVALID, "not a CUDA backend");
    cuda_impl *c = impl(be);
    long lda = trans_a ? M : K, ldb = trans_b ? K : N;
    if (bf16_inputs) return gemm16(c, trans_a, trans_b, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, N, 0, 1, err);
    return gemm(c, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, N, err);
}

int pp_cuda_backend_to_bf16(pp_backend *be, void *dst, const float *src, long n, pp_err *err) {
    if (!be || be->kind != PP_BACKEND_CUDA) return pp_err_set(err, PP_ERR_INVALID, "not a CUDA backend");
    PP_CUDA_CHECK(err, pp_cu_to_bf16(dst, n, src, n, 1, n, impl(be)->stream));
    return 0;
fail:
    return -1;
}
