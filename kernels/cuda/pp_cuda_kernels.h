/*
 * pp_cuda_kernels.h -- the CUDA kernels of the CUDA backend, as plain C
 * launchers: pp_cuda_kernels.cu (compiled by nvcc) defines them, the
 * backend dispatch (pp_cuda_backend.c, compiled as C) calls them. Every
 * launcher enqueues its kernels on `st` and returns cudaGetLastError(), so
 * the caller checks it with the call's text (PP_CUDA_CHECK).
 *
 * The math is docs/ops.md and equals the CPU kernels (kernels/cpu/): fp32
 * storage, fp32 arithmetic; GEMMs are not here (cuBLAS, bf16 operands, in
 * the backend). bf16 buffers are passed as `void *` (C has no bf16 type).
 * Conventions as pp_cpu_kernels.h: row-major, M = B*T rows, *_bwd_* kernels
 * ACCUMULATE into their gradients. Reductions over rows (weight gradients)
 * use atomicAdd, so their rounding order may differ from the CPU's.
 */
#ifndef PP_CUDA_KERNELS_H
#define PP_CUDA_KERNELS_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dst [rows, cols] bf16 (row stride ld_dst) = src [rows, cols] f32 (row stride ld_src). */
cudaError_t pp_cu_to_bf16(void *dst, long ld_dst, const float *src, long ld_src, long rows, long cols, cudaStream_t st);
/* out [rows, n] = b [n] on every row (row stride ld). */
cudaError_t pp_cu_fill_rows(float *out, long ld, const float *b, long rows, long n, cudaStream_t st);
/* dst [rows, cols] (stride ld_dst) = src (stride ld_src), f32. */
cudaError_t pp_cu_copy_2d(float *dst, long ld_dst, const float *src, long ld_src, long rows, long cols, cudaStream_t st);

cudaError_t pp_cu_embedding_fwd(float *out, const int32_t *tok, int B, int T, int D, const float *tab0,
                                const float *tab1, const float *tab2, cudaStream_t st);
cudaError_t pp_cu_embedding_bwd(float *dtab0, float *dtab1, float *dtab2, const float *dout, const int32_t *tok, int B,
                                int T, int D, cudaStream_t st);

/* acc [N] += sum over the M rows of a (row stride lda). */
cudaError_t pp_cu_colsum_acc(float *acc, const float *a, long M, long N, long lda, cudaStream_t st);

cudaError_t pp_cu_layernorm_fwd(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                                const float *beta, int M, int D, float eps, cudaStream_t st);
cudaError_t pp_cu_layernorm_bwd_in(float *dx, const float *dout, const float *x, const float *mean, const float *rstd,
                                   const float *gamma, int M, int D, cudaStream_t st);
cudaError_t pp_cu_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *gamma, int M, int D, float eps,
                              cudaStream_t st);
cudaError_t pp_cu_rmsnorm_bwd_in(float *dx, const float *dout, const float *x, const float *rstd, const float *gamma,
                                 int M, int D, cudaStream_t st);
/* Both norms' W pass: dgamma += sum_rows dout * xhat, xhat = (x - mean) rstd
 * (mean NULL: rmsnorm's x rstd); dbeta (may be NULL) += sum_rows dout. */
cudaError_t pp_cu_norm_bwd_weight(float *dgamma, float *dbeta, const float *dout, const float *x, const float *mean,
                                  const float *rstd, int M, int D, cudaStream_t st);

cudaError_t pp_cu_rope_fwd(float *out, const float *x, int B, int T, int H, int Hkv, int hd, float theta,
                           cudaStream_t st);
cudaError_t pp_cu_rope_bwd(float *dx, const float *dout, int B, int T, int H, int Hkv, int hd, float theta,
                           cudaStream_t st);

cudaError_t pp_cu_gelu_fwd(float *out, const float *x, long n, int tanh_approx, cudaStream_t st);
cudaError_t pp_cu_gelu_bwd(float *dx, const float *dout, const float *x, long n, int tanh_approx, cudaStream_t st);
cudaError_t pp_cu_relu_fwd(float *out, const float *x, long n, cudaStream_t st);
cudaError_t pp_cu_relu_bwd(float *dx, const float *dout, const float *x, long n, cudaStream_t st);
cudaError_t pp_cu_swiglu_fwd(float *out, const float *x, int M, int F, cudaStream_t st);
cudaError_t pp_cu_swiglu_bwd(float *dx, const float *dout, const float *x, int M, int F, cudaStream_t st);
cudaError_t pp_cu_add_fwd(float *out, const float *a, const float *b, long n, cudaStream_t st);
/* da += dout */
cudaError_t pp_cu_accumulate(float *da, const float *dout, long n, cudaStream_t st);
/* x = tanh(x) */
cudaError_t pp_cu_tanh_inplace(float *x, long n, cudaStream_t st);
/* dpre = dout * (1 - y^2) */
cudaError_t pp_cu_tanh_bwd(float *dpre, const float *dout, const float *y, long n, cudaStream_t st);

/* T5 bias [H, T, S] = table [NB, H] at [bk[j - i + T - 1], h]; bk: device ints [T + S - 1]. */
cudaError_t pp_cu_relpos_bias_fwd(float *bias, const float *table, const int *bk, int H, int T, int S, cudaStream_t st);
/* dtable [NB, H] += dbias [H, T, S] gathered by bucket. */
cudaError_t pp_cu_relpos_bias_bwd(float *dtable, const float *dbias, const int *bk, int H, int T, int S, int NB,
                                  cudaStream_t st);

/* Attention softmax of one sequence: s [H, T, S] holds scale q k^T; adds
 * bias [H, T, S] (may be NULL), masks j > i when causal, writes
 * p = softmax_j as bf16 into p16 (same layout; masked entries 0) and
 * lse [H, T] for row (h, i) at lse[h * lse_hstride + i]. */
cudaError_t pp_cu_attn_softmax(void *p16, float *lse, long lse_hstride, const float *s, const float *bias, int H,
                               int T, int S, int causal, cudaStream_t st);
/* Backward: s [H, T, S] holds scale q k^T; becomes p = exp(s + bias - lse)
 * in place (0 where masked), also written as bf16 into p16. */
cudaError_t pp_cu_attn_recompute_p(float *s, void *p16, const float *lse, long lse_hstride, const float *bias, int H,
                                   int T, int S, int causal, cudaStream_t st);
/* dp [H, T, S] (= dout v^T) becomes ds = p (dp - D_i) in place, D_i =
 * rowsum(dout_i * out_i) of head h (dout, out: [T, H hd] of this sequence);
 * written as bf16 into ds16; dbias [H, T, S] (may be NULL) += ds. */
cudaError_t pp_cu_attn_ds(float *dp, void *ds16, float *dbias, const float *p, const float *dout, const float *out,
                          int H, int T, int S, int hd, cudaStream_t st);

/* LM head forward rows: logits [M, V] (x W^T, unscaled) become probs in
 * place (scaled by `scale`, softmax); rowloss[r] = logsumexp - logit[label]
 * (0 on ignored rows: label outside [0, V)); then loss_out[0] = the mean
 * over valid rows (0 when none). rowloss: device scratch [M]. */
cudaError_t pp_cu_lm_fwd_rows(float *probs, float *rowloss, float *loss_out, const int32_t *labels, int M, int V,
                              float scale, cudaStream_t st);
/* probs [M, V] become dlogits = g (p - onehot) / n_valid (0 on ignored
 * rows); n_valid is counted on the device into *count (device int). */
cudaError_t pp_cu_lm_bwd_rows(float *probs, int *count, const int32_t *labels, int M, int V, float g, cudaStream_t st);

/* AdamW over n floats; the step's scalars come formed on the host like the CPU's. */
cudaError_t pp_cu_adamw(float *p, const float *g, float *m, float *v, long n, float decay, float step, float bc2s,
                        float beta1, float beta2, float omb1, float omb2, float eps, float grad_scale, cudaStream_t st);
/* *out (device double, zeroed first) = sum x^2. */
cudaError_t pp_cu_sumsq(double *out, const float *x, long n, cudaStream_t st);

#ifdef __cplusplus
}
#endif

#endif /* PP_CUDA_KERNELS_H */
