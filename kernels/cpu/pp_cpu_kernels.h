/*
 * pp_cpu_kernels.h -- the fp32 CPU kernels: one forward, one
 * backward-for-inputs (I) and one backward-for-weights (W) entry point per op
 * of the graph IR. docs/ops.md says exactly what each computes.
 *
 * Conventions (llm.c style): raw pointers, shapes as ints, row-major and
 * contiguous unless a stride says otherwise; M = B * T rows.
 * Every *_backward_input kernel ACCUMULATES into its input gradients
 * (dx += ...) and every *_backward_weight kernel ACCUMULATES into its
 * parameter gradients; callers zero them first. Optional pointers may be
 * NULL where marked. Kernels never allocate more than small scratch and
 * never fail; shapes are checked by the graph before any kernel runs.
 * GEMMs go through cblas (OpenBLAS); other loops use OpenMP where it pays.
 */
#ifndef PP_CPU_KERNELS_H
#define PP_CPU_KERNELS_H

#include <stdint.h>

/* Threads used by OpenBLAS and OpenMP (n >= 1; less is taken as 1). The OpenMP
 * setting belongs to the calling thread: call it from the thread that runs
 * the kernels. */
void pp_cpu_set_threads(int n);
int pp_cpu_get_threads(void);

/* ---- embedding ---- tokens [B*T]; out [M, D]; tab1 (positions) and tab2
 * (token type 0) may be NULL. */
void pp_cpu_embedding_forward(float *out, const int32_t *tokens, int B, int T, int D, const float *tab0,
                              const float *tab1, const float *tab2);
void pp_cpu_embedding_backward_weight(float *dtab0, float *dtab1, float *dtab2, const float *dout,
                                      const int32_t *tokens, int B, int T, int D);

/* ---- layernorm ---- x, out [M, D]; mean, rstd [M]; beta may be NULL. */
void pp_cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                              const float *beta, int M, int D, float eps);
void pp_cpu_layernorm_backward_input(float *dx, const float *dout, const float *x, const float *mean,
                                     const float *rstd, const float *gamma, int M, int D);
void pp_cpu_layernorm_backward_weight(float *dgamma, float *dbeta, const float *dout, const float *x,
                                      const float *mean, const float *rstd, int M, int D);

/* ---- rmsnorm ---- x, out [M, D]; rstd [M]. */
void pp_cpu_rmsnorm_forward(float *out, float *rstd, const float *x, const float *gamma, int M, int D, float eps);
void pp_cpu_rmsnorm_backward_input(float *dx, const float *dout, const float *x, const float *rstd,
                                   const float *gamma, int M, int D);
void pp_cpu_rmsnorm_backward_weight(float *dgamma, const float *dout, const float *x, const float *rstd, int M,
                                    int D);

/* ---- linear ---- x [M, K], w [N, K], b [N] (may be NULL), out [M, N]. */
void pp_cpu_linear_forward(float *out, const float *x, const float *w, const float *b, int M, int K, int N);
void pp_cpu_linear_backward_input(float *dx, const float *dout, const float *w, int M, int K, int N);
void pp_cpu_linear_backward_weight(float *dw, float *db, const float *dout, const float *x, int M, int K, int N);

/* ---- rope ---- qkv and out [B, T, (H + 2 Hkv) hd]; out may equal x (in place);
 * dx must not alias dout. */
void pp_cpu_rope_forward(float *out, const float *x, int B, int T, int H, int Hkv, int hd, float theta);
void pp_cpu_rope_backward_input(float *dx, const float *dout, int B, int T, int H, int Hkv, int hd, float theta);

/* ---- T5 relative position bias ----
 * bucket of relative position r = j - i (docs/ops.md); bias [H, T, S] from table [NB, H]. */
int pp_cpu_relpos_bucket(int r, int bidirectional, int num_buckets, int max_distance);
void pp_cpu_relpos_bias_forward(float *bias, const float *table, int H, int T, int S, int num_buckets,
                                int max_distance, int bidirectional);
/* dtable [NB, H] += buckets of dbias [H, T, S]. */
void pp_cpu_relpos_bias_backward(float *dtable, const float *dbias, int H, int T, int S, int num_buckets,
                                 int max_distance, int bidirectional);

/* ---- attention ----
 * q: row b*T + i of query heads starts at q + (b*T + i) * q_stride (head h at + h*hd);
 * k, v: row b*S + j starts at k + (b*S + j) * kv_stride (kv head g at + g*hd).
 * Self attention passes the fused qkv with q = qkv, k = qkv + H*hd,
 * v = qkv + (H + Hkv)*hd and q_stride = kv_stride = (H + 2 Hkv) hd, S = T.
 * out [B, T, H*hd]; lse [B, H, T]; bias [H, T, S] or NULL; causal masks j > i.
 * backward_input accumulates into dq, dk, dv (same layouts/strides as q, k, v)
 * and, when dbias is not NULL, into dbias [H, T, S] (summed over the batch). */
void pp_cpu_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int q_stride,
                              int kv_stride, int B, int T, int S, int H, int Hkv, int hd, float scale, int causal,
                              const float *bias);
void pp_cpu_attention_backward_input(float *dq, float *dk, float *dv, float *dbias, const float *dout,
                                     const float *out, const float *lse, const float *q, const float *k,
                                     const float *v, int q_stride, int kv_stride, int B, int T, int S, int H,
                                     int Hkv, int hd, float scale, int causal, const float *bias);

/* ---- elementwise ---- n elements. */
void pp_cpu_gelu_forward(float *out, const float *x, long n, int tanh_approx);
void pp_cpu_gelu_backward_input(float *dx, const float *dout, const float *x, long n, int tanh_approx);
void pp_cpu_relu_forward(float *out, const float *x, long n);
void pp_cpu_relu_backward_input(float *dx, const float *dout, const float *x, long n);
/* x [M, 2F] -> out [M, F] */
void pp_cpu_swiglu_forward(float *out, const float *x, int M, int F);
void pp_cpu_swiglu_backward_input(float *dx, const float *dout, const float *x, int M, int F);
void pp_cpu_add_forward(float *out, const float *a, const float *b, long n);
/* da += dout (call once per input) */
void pp_cpu_accumulate(float *da, const float *dout, long n);

/* ---- pooler ---- x [B, T, D] (reads row 0 of each sequence); out [B, D] = tanh(x0 W^T + b). */
void pp_cpu_pooler_forward(float *out, const float *x, const float *w, const float *b, int B, int T, int D);
/* dx (rows 0 of each sequence) += ..., given dout [B, D] and the forward output y [B, D]. */
void pp_cpu_pooler_backward_input(float *dx, const float *dout, const float *y, const float *w, int B, int T, int D);
void pp_cpu_pooler_backward_weight(float *dw, float *db, const float *dout, const float *y, const float *x, int B,
                                   int T, int D);

/* ---- lm head with cross-entropy ----
 * x [M, D], w [V, D], labels [M] (-1 = ignored; so is any label outside [0, V));
 * probs [M, V] scratch kept for I.
 * Returns the mean loss over valid rows (0 when none); *n_valid gets their count. */
float pp_cpu_lm_head_forward(float *probs, const float *x, const float *w, const int32_t *labels, int M, int D,
                             int V, float scale, int *n_valid);
/* Turns probs into dlogits in place (dlogits = g (p - onehot) / n_valid, 0 on ignored rows)
 * and accumulates dx += scale * dlogits W. */
void pp_cpu_lm_head_backward_input(float *dx, float *probs, const float *w, const int32_t *labels, int M, int D,
                                   int V, float scale, float g, int n_valid);
/* dw += scale * dlogits^T x (dlogits is what backward_input left in probs). */
void pp_cpu_lm_head_backward_weight(float *dw, const float *dlogits, const float *x, int M, int D, int V, float scale);

/* ---- optimizer ---- AdamW step t (1-based) over n elements, decoupled decay. */
void pp_cpu_adamw(float *p, const float *g, float *m, float *v, long n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int t, float grad_scale);
/* Sum of squares in double. */
double pp_cpu_sumsq(const float *x, long n);

#endif /* PP_CPU_KERNELS_H */
