/*
 * pp_cpu_kernels.c -- the fp32 CPU kernels other than attention and RoPE
 * (those live in pp_cpu_attention.c): threads, embedding, layernorm,
 * rmsnorm, linear, the elementwise ops, pooler, lm head with cross-entropy,
 * and the AdamW step. docs/ops.md is the contract for what each computes.
 *
 * GEMMs (linear, pooler, lm head) are single cblas_sgemm calls, threaded by
 * OpenBLAS. Row loops (norms, softmax of the lm head) and elementwise loops
 * are OpenMP loops over rows / elements; reductions over rows for weight
 * gradients (dgamma, dbeta, db, embedding tables) are OpenMP loops over
 * blocks of columns, each block summing every row in order, so results do
 * not depend on the thread count. Per-row statistics (mean, variance, sums
 * of softmax, losses) are accumulated in double. The lm head's softmax uses
 * pp_expf (vectorised, within 2 ulp of expf); gelu's tanh form uses pp_tanhf
 * (vectorised), its exact form libm's erff.
 */
#include "kernels/cpu/pp_cpu_kernels.h"

#include "kernels/cpu/pp_cpu_internal.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns per block in the column-blocked reductions over rows. */
#define PP_COLBLK 32
/* Fixed number of partial sums for deterministic reductions. */
#define PP_NPART 256

/* ------------------------------------------------------------------------ */
/* threads and shared helpers */

static int g_threads; /* 0 until pp_cpu_set_threads */

void pp_cpu_set_threads(int n) {
    if (n < 1) n = 1;
    g_threads = n;
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
}

int pp_cpu_get_threads(void) { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

int pp_blas_serial_begin(void) {
    if (omp_get_max_threads() <= 1) return 0;
    int n = openblas_get_num_threads();
    if (n > 1) openblas_set_num_threads(1);
    return n;
}

void pp_blas_serial_end(int token) {
    if (token > 1) openblas_set_num_threads(token);
}

void *pp_cpu_xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "pippy: cpu kernels: out of memory (%zu bytes of scratch)\n", bytes);
        abort();
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* embedding */

/* out [M, D] = tab0[tok] + tab1[t] + tab2[0]; tokens [M], M = B*T. */
void pp_cpu_embedding_forward(float *out, const int32_t *tokens, int B, int T, int D, const float *tab0,
                              const float *tab1, const float *tab2) {
    long M = (long)B * T;
#pragma omp parallel for schedule(static) if (M * D > PP_OMP_MIN_ELEMS)
    for (long r = 0; r < M; r++) {
        const float *e = tab0 + (long)tokens[r] * D;
        const float *p = tab1 ? tab1 + (long)(r % T) * D : NULL;
        float *o = out + r * D;
        for (int d = 0; d < D; d++) {
            float v = e[d];
            if (p) v += p[d];
            if (tab2) v += tab2[d];
            o[d] = v;
        }
    }
}

/* dtab0[tok] += dout; dtab1[t] += dout; dtab2[0] += dout. Parallel over
 * blocks of columns: tokens repeat, so rows cannot be split. */
void pp_cpu_embedding_backward_weight(float *dtab0, float *dtab1, float *dtab2, const float *dout,
                                      const int32_t *tokens, int B, int T, int D) {
    long M = (long)B * T;
#pragma omp parallel for schedule(static) if (M * D > PP_OMP_MIN_ELEMS)
    for (int d0 = 0; d0 < D; d0 += PP_COLBLK) {
        int d1 = d0 + PP_COLBLK < D ? d0 + PP_COLBLK : D;
        double acc2[PP_COLBLK] = {0};
        for (long r = 0; r < M; r++) {
            const float *g = dout + r * D;
            if (dtab0) {
                float *e = dtab0 + (long)tokens[r] * D;
#pragma omp simd
                for (int d = d0; d < d1; d++) e[d] += g[d];
            }
            if (dtab1) {
                float *p = dtab1 + (long)(r % T) * D;
#pragma omp simd
                for (int d = d0; d < d1; d++) p[d] += g[d];
            }
            if (dtab2)
#pragma omp simd
                for (int d = d0; d < d1; d++) acc2[d - d0] += g[d];
        }
        if (dtab2)
            for (int d = d0; d < d1; d++) dtab2[d] += (float)acc2[d - d0];
    }
}

/* ------------------------------------------------------------------------ */
/* layernorm */

/* x, out [M, D]; mean, rstd [M] (f32, may be NULL for inference). */
void pp_cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                              const float *beta, int M, int D, float eps) {
#pragma omp parallel for schedule(static) if ((long)M * D > PP_OMP_MIN_ELEMS)
    for (int r = 0; r < M; r++) {
        const float *xr = x + (long)r * D;
        float *o = out + (long)r * D;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int d = 0; d < D; d++) s += xr[d];
        double m = s / D;
        double v = 0.0;
#pragma omp simd reduction(+ : v)
        for (int d = 0; d < D; d++) {
            double t = xr[d] - m;
            v += t * t;
        }
        v /= D;
        float mf = (float)m, rf = (float)(1.0 / sqrt(v + (double)eps));
        if (beta) {
#pragma omp simd
            for (int d = 0; d < D; d++) o[d] = (xr[d] - mf) * rf * gamma[d] + beta[d];
        } else {
#pragma omp simd
            for (int d = 0; d < D; d++) o[d] = (xr[d] - mf) * rf * gamma[d];
        }
        if (mean) mean[r] = mf;
        if (rstd) rstd[r] = rf;
    }
}

/* dx [M, D] += rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dout * gamma. */
void pp_cpu_layernorm_backward_input(float *dx, const float *dout, const float *x, const float *mean, const float *rstd,
                                     const float *gamma, int M, int D) {
#pragma omp parallel for schedule(static) if ((long)M * D > PP_OMP_MIN_ELEMS)
    for (int r = 0; r < M; r++) {
        const float *xr = x + (long)r * D, *dy = dout + (long)r * D;
        float *dxr = dx + (long)r * D;
        float mf = mean[r], rf = rstd[r];
        double sg = 0.0, sgx = 0.0;
#pragma omp simd reduction(+ : sg, sgx)
        for (int d = 0; d < D; d++) {
            float g = dy[d] * gamma[d];
            float xh = (xr[d] - mf) * rf;
            sg += g;
            sgx += (double)g * xh;
        }
        float mg = (float)(sg / D), mgx = (float)(sgx / D);
#pragma omp simd
        for (int d = 0; d < D; d++) {
            float g = dy[d] * gamma[d];
            float xh = (xr[d] - mf) * rf;
            dxr[d] += rf * (g - mg - xh * mgx);
        }
    }
}

/* dgamma [D] += sum_rows dout * xhat; dbeta [D] (may be NULL) += sum_rows dout. */
void pp_cpu_layernorm_backward_weight(float *dgamma, float *dbeta, const float *dout, const float *x, const float *mean,
                                      const float *rstd, int M, int D) {
#pragma omp parallel for schedule(static) if ((long)M * D > PP_OMP_MIN_ELEMS)
    for (int d0 = 0; d0 < D; d0 += PP_COLBLK) {
        int d1 = d0 + PP_COLBLK < D ? d0 + PP_COLBLK : D;
        double ag[PP_COLBLK] = {0}, ab[PP_COLBLK] = {0};
        for (int r = 0; r < M; r++) {
            const float *xr = x + (long)r * D, *dy = dout + (long)r * D;
            float mf = mean[r], rf = rstd[r];
#pragma omp simd
            for (int d = d0; d < d1; d++) {
                float xh = (xr[d] - mf) * rf;
                ag[d - d0] += dy[d] * xh;
                ab[d - d0] += dy[d];
            }
        }
        for (int d = d0; d < d1; d++) {
            dgamma[d] += (float)ag[d - d0];
            if (dbeta) dbeta[d] += (float)ab[d - d0];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* rmsnorm */

/* out [M, D] = x * rstd * gamma, rstd [M] = 1/sqrt(mean(x^2) + eps). */
void pp_cpu_rmsnorm_forward(float *out, float *rstd, const float *x, const float *gamma, int M, int D, float eps) {
#pragma omp parallel for schedule(static) if ((long)M * D > PP_OMP_MIN_ELEMS)
    for (int r = 0; r < M; r++) {
        const float *xr = x + (long)r * D;
        float *o = out + (long)r * D;
        double ss = 0.0;
#pragma omp simd reduction(+ : ss)
        for (int d = 0; d < D; d++) ss += (double)xr[d] * xr[d];
        float rf = (float)(1.0 / sqrt(ss / D + (double)eps));
#pragma omp simd
        for (int d = 0; d < D; d++) o[d] = xr[d] * rf * gamma[d];
        if (rstd) rstd[r] = rf;
    }
}

/* dx [M, D] += rstd * (g - xhat * mean(g * xhat)), g = dout * gamma, xhat = x * rstd. */
void pp_cpu_rmsnorm_backward_input(float *dx, const float *dout, const float *x, const float *rstd, const float *gamma,
                                   int M, int D) {
#pragma omp parallel for schedule(static) if ((long)M * D > PP_OMP_MIN_ELEMS)
    for (int r = 0; r < M; r++) {
        const float *xr = x + (long)r * D, *dy = dout + (long)r * D;
        float *dxr = dx + (long)r * D;
        float rf = rstd[r];
        double sgx = 0.0;
#pragma omp simd reduction(+ : sgx)
        for (int d = 0; d < D; d++) sgx += (double)(dy[d] * gamma[d]) * (xr[d] * rf);
        float mgx = (float)(sgx / D);
#pragma omp simd
        for (int d = 0; d < D; d++) dxr[d] += rf * (dy[d] * gamma[d] - xr[d] * rf * mgx);
    }
}

/* dgamma [D] += sum_rows dout * x * rstd. */
void pp_cpu_rmsnorm_backward_weight(float *dgamma, const float *dout, const float *x, const float *rstd, int M, int D) {
#pragma omp parallel for schedule(static) if ((long)M * D > PP_OMP_MIN_ELEMS)
    for (int d0 = 0; d0 < D; d0 += PP_COLBLK) {
        int d1 = d0 + PP_COLBLK < D ? d0 + PP_COLBLK : D;
        double ag[PP_COLBLK] = {0};
        for (int r = 0; r < M; r++) {
            const float *xr = x + (long)r * D, *dy = dout + (long)r * D;
            float rf = rstd[r];
#pragma omp simd
            for (int d = d0; d < d1; d++) ag[d - d0] += dy[d] * (xr[d] * rf);
        }
        for (int d = d0; d < d1; d++) dgamma[d] += (float)ag[d - d0];
    }
}

/* ------------------------------------------------------------------------ */
/* linear */

/* acc [N] += sum over the M rows of a [M, N] (row stride lda); deterministic. */
static void colsum_acc(float *acc, const float *a, int M, int N, long lda) {
#pragma omp parallel for schedule(static) if ((long)M * N > PP_OMP_MIN_ELEMS)
    for (int n0 = 0; n0 < N; n0 += PP_COLBLK) {
        int n1 = n0 + PP_COLBLK < N ? n0 + PP_COLBLK : N;
        double s[PP_COLBLK] = {0};
        for (int r = 0; r < M; r++) {
            const float *ar = a + (long)r * lda;
#pragma omp simd
            for (int n = n0; n < n1; n++) s[n - n0] += ar[n];
        }
        for (int n = n0; n < n1; n++) acc[n] += (float)s[n - n0];
    }
}

/* out [M, N] = x [M, K] w[N, K]^T + b [N]. */
void pp_cpu_linear_forward(float *out, const float *x, const float *w, const float *b, int M, int K, int N) {
    if (M <= 0 || N <= 0) return;
    float beta = 0.0f;
    if (b) {
#pragma omp parallel for schedule(static) if ((long)M * N > PP_OMP_MIN_ELEMS)
        for (int r = 0; r < M; r++) memcpy(out + (long)r * N, b, sizeof(float) * (size_t)N);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, beta, out, N);
}

/* dx [M, K] += dout [M, N] w [N, K]. */
void pp_cpu_linear_backward_input(float *dx, const float *dout, const float *w, int M, int K, int N) {
    if (M <= 0 || K <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dout, N, w, K, 1.0f, dx, K);
}

/* dw [N, K] += dout^T [N, M] x [M, K]; db [N] (may be NULL) += sum_rows dout. */
void pp_cpu_linear_backward_weight(float *dw, float *db, const float *dout, const float *x, int M, int K, int N) {
    if (N <= 0 || M <= 0) return;
    if (dw && K > 0) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dout, N, x, K, 1.0f, dw, K);
    if (db) colsum_acc(db, dout, M, N, N);
}

/* ------------------------------------------------------------------------ */
/* elementwise */

#define PP_SQRT_2_OVER_PI 0.7978845608028654f
#define PP_GELU_KAPPA 0.044715f
#define PP_INV_SQRT_2 0.70710678118654752f
#define PP_INV_SQRT_2PI 0.39894228040143268f

/* gelu: tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), exact
 * form 0.5 x (1 + erf(x / sqrt 2)). n elements. */
void pp_cpu_gelu_forward(float *out, const float *x, long n, int tanh_approx) {
    if (tanh_approx) {
#pragma omp parallel for simd schedule(static) if (n > PP_OMP_MIN_ELEMS)
        for (long i = 0; i < n; i++) {
            float xi = x[i];
            float cube = xi * xi * xi;
            float inner = PP_SQRT_2_OVER_PI * (xi + PP_GELU_KAPPA * cube);
            out[i] = 0.5f * xi * (1.0f + pp_tanhf(inner));
        }
    } else {
#pragma omp parallel for schedule(static) if (n > PP_OMP_MIN_ELEMS)
        for (long i = 0; i < n; i++) {
            float xi = x[i];
            out[i] = 0.5f * xi * (1.0f + erff(xi * PP_INV_SQRT_2));
        }
    }
}

void pp_cpu_gelu_backward_input(float *dx, const float *dout, const float *x, long n, int tanh_approx) {
    if (tanh_approx) {
#pragma omp parallel for simd schedule(static) if (n > PP_OMP_MIN_ELEMS)
        for (long i = 0; i < n; i++) {
            float xi = x[i], x2 = xi * xi, cube = x2 * xi;
            float t = pp_tanhf(PP_SQRT_2_OVER_PI * (xi + PP_GELU_KAPPA * cube));
            float dl = 0.5f * (1.0f + t);
            float dr = (1.0f - t * t) * PP_SQRT_2_OVER_PI * (1.0f + 3.0f * PP_GELU_KAPPA * x2);
            dx[i] += dout[i] * (dl + 0.5f * xi * dr);
        }
    } else {
#pragma omp parallel for schedule(static) if (n > PP_OMP_MIN_ELEMS)
        for (long i = 0; i < n; i++) {
            float xi = x[i];
            float cdf = 0.5f * (1.0f + erff(xi * PP_INV_SQRT_2));
            float pdf = expf(-0.5f * xi * xi) * PP_INV_SQRT_2PI;
            dx[i] += dout[i] * (cdf + xi * pdf);
        }
    }
}

void pp_cpu_relu_forward(float *out, const float *x, long n) {
#pragma omp parallel for simd schedule(static) if (n > PP_OMP_MIN_ELEMS)
    for (long i = 0; i < n; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* dx += dout where x > 0 (the gradient at 0 is 0). */
void pp_cpu_relu_backward_input(float *dx, const float *dout, const float *x, long n) {
#pragma omp parallel for simd schedule(static) if (n > PP_OMP_MIN_ELEMS)
    for (long i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dout[i] : 0.0f;
}

/* x [M, 2F] = [gate | up] -> out [M, F] = silu(gate) * up. */
void pp_cpu_swiglu_forward(float *out, const float *x, int M, int F) {
#pragma omp parallel for schedule(static) if ((long)M * F > PP_OMP_MIN_ELEMS)
    for (int r = 0; r < M; r++) {
        const float *g = x + (long)r * 2 * F, *u = g + F;
        float *o = out + (long)r * F;
        for (int f = 0; f < F; f++) o[f] = g[f] / (1.0f + expf(-g[f])) * u[f];
    }
}

/* dgate += dout * up * silu'(gate), dup += dout * silu(gate); dx [M, 2F]. */
void pp_cpu_swiglu_backward_input(float *dx, const float *dout, const float *x, int M, int F) {
#pragma omp parallel for schedule(static) if ((long)M * F > PP_OMP_MIN_ELEMS)
    for (int r = 0; r < M; r++) {
        const float *g = x + (long)r * 2 * F, *u = g + F, *dy = dout + (long)r * F;
        float *dg = dx + (long)r * 2 * F, *du = dg + F;
        for (int f = 0; f < F; f++) {
            float s = 1.0f / (1.0f + expf(-g[f]));
            float silu = g[f] * s;
            dg[f] += dy[f] * u[f] * (s * (1.0f + g[f] * (1.0f - s)));
            du[f] += dy[f] * silu;
        }
    }
}

void pp_cpu_add_forward(float *out, const float *a, const float *b, long n) {
#pragma omp parallel for simd schedule(static) if (n > PP_OMP_MIN_ELEMS)
    for (long i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void pp_cpu_accumulate(float *da, const float *dout, long n) {
#pragma omp parallel for simd schedule(static) if (n > PP_OMP_MIN_ELEMS)
    for (long i = 0; i < n; i++) da[i] += dout[i];
}

/* ------------------------------------------------------------------------ */
/* pooler: out [B, D] = tanh(x[:, 0] W^T + b); x [B, T, D], w [D, D], b [D] */

void pp_cpu_pooler_forward(float *out, const float *x, const float *w, const float *b, int B, int T, int D) {
    if (B <= 0 || D <= 0) return;
    float beta = 0.0f;
    if (b) {
        for (int r = 0; r < B; r++) memcpy(out + (long)r * D, b, sizeof(float) * (size_t)D);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, D, D, 1.0f, x, T * D, w, D, beta, out, D);
    long n = (long)B * D;
    for (long i = 0; i < n; i++) out[i] = tanhf(out[i]);
}

/* dpre [B, D] = dout * (1 - y^2) (scratch the caller frees). */
static float *pooler_dpre(const float *dout, const float *y, int B, int D) {
    long n = (long)B * D;
    float *dp = pp_cpu_xmalloc(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) dp[i] = dout[i] * (1.0f - y[i] * y[i]);
    return dp;
}

/* dx[b, 0] += dpre W (rows 0 of each sequence; other rows untouched). */
void pp_cpu_pooler_backward_input(float *dx, const float *dout, const float *y, const float *w, int B, int T, int D) {
    if (B <= 0 || D <= 0) return;
    float *dp = pooler_dpre(dout, y, B, D);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, D, 1.0f, dp, D, w, D, 1.0f, dx, T * D);
    free(dp);
}

/* dw [D, D] += dpre^T x[:, 0]; db [D] += sum_b dpre. */
void pp_cpu_pooler_backward_weight(float *dw, float *db, const float *dout, const float *y, const float *x, int B,
                                   int T, int D) {
    if (B <= 0 || D <= 0) return;
    float *dp = pooler_dpre(dout, y, B, D);
    if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, D, B, 1.0f, dp, D, x, T * D, 1.0f, dw, D);
    if (db) colsum_acc(db, dp, B, D, D);
    free(dp);
}

/* ------------------------------------------------------------------------ */
/* lm head with cross-entropy */

static int label_valid(int32_t l, int V) { return l >= 0 && l < V; }

/* probs [M, V] = (x [M, D] w [V, D]^T) scale, then in place p = softmax(row),
 * with loss = mean over valid rows of logsumexp - logit[label] (double).
 * Labels outside [0, V) (normally -1) are ignored. */
float pp_cpu_lm_head_forward(float *probs, const float *x, const float *w, const int32_t *labels, int M, int D, int V,
                             float scale, int *n_valid) {
    if (n_valid) *n_valid = 0;
    if (M <= 0 || V <= 0) return 0.0f;
    /* logits = (x W^T) scale, the scale applied in the row pass as PyTorch's
     * `(x @ w.t()) * scale` does */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, V, D, 1.0f, x, D, w, D, 0.0f, probs, V);

    /* Fixed partition of the rows into nch chunks, so the loss is the same
     * for every thread count. */
    double part[PP_NPART];
    int cnt[PP_NPART];
    int nch = M < PP_NPART ? M : PP_NPART;
#pragma omp parallel for schedule(dynamic, 1) if ((long)M * V > PP_OMP_MIN_ELEMS)
    for (int c = 0; c < nch; c++) {
        int r0 = (int)((long)c * M / nch), r1 = (int)((long)(c + 1) * M / nch);
        double loss = 0.0;
        int nv = 0;
        for (int r = r0; r < r1; r++) {
            float *row = probs + (long)r * V;
            float mx = -INFINITY;
            PP_OMP_SIMD_MAX(mx)
            for (int j = 0; j < V; j++) {
                float z = row[j] * scale;
                row[j] = z;
                mx = z > mx ? z : mx;
            }
            int32_t lab = labels[r];
            int valid = label_valid(lab, V);
            float lab_logit = valid ? row[lab] : 0.0f;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (int j = 0; j < V; j++) {
                float e = pp_expf(row[j] - mx);
                row[j] = e;
                s += e;
            }
            float inv = (float)(1.0 / s);
#pragma omp simd
            for (int j = 0; j < V; j++) row[j] *= inv;
            if (valid) {
                loss += log(s) + (double)mx - (double)lab_logit;
                nv++;
            }
        }
        part[c] = loss;
        cnt[c] = nv;
    }
    double loss = 0.0;
    int nv = 0;
    for (int c = 0; c < nch; c++) {
        loss += part[c];
        nv += cnt[c];
    }
    if (n_valid) *n_valid = nv;
    return nv > 0 ? (float)(loss / nv) : 0.0f;
}

/* probs [M, V] becomes dlogits = g (p - onehot(label)) / n_valid (0 on ignored
 * rows) in place; dx [M, D] += scale dlogits w [V, D]. */
void pp_cpu_lm_head_backward_input(float *dx, float *probs, const float *w, const int32_t *labels, int M, int D, int V,
                                   float scale, float g, int n_valid) {
    if (M <= 0 || V <= 0) return;
    float c = n_valid > 0 ? g / (float)n_valid : 0.0f;
#pragma omp parallel for schedule(static) if ((long)M * V > PP_OMP_MIN_ELEMS)
    for (int r = 0; r < M; r++) {
        float *row = probs + (long)r * V;
        int32_t lab = labels[r];
        if (n_valid > 0 && label_valid(lab, V)) {
#pragma omp simd
            for (int j = 0; j < V; j++) row[j] *= c;
            row[lab] -= c;
        } else {
            memset(row, 0, sizeof(float) * (size_t)V);
        }
    }
    if (dx && D > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, D, V, scale, probs, V, w, D, 1.0f, dx, D);
}

/* dw [V, D] += scale dlogits^T [V, M] x [M, D]. */
void pp_cpu_lm_head_backward_weight(float *dw, const float *dlogits, const float *x, int M, int D, int V, float scale) {
    if (M <= 0 || V <= 0 || D <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, D, M, scale, dlogits, V, x, D, 1.0f, dw, D);
}

/* ------------------------------------------------------------------------ */
/* optimizer */

/* AdamW in PyTorch's order (torch.optim.AdamW, single-tensor path):
 * p *= 1 - lr wd; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
 * p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps), g' = g grad_scale.
 * Scalars are formed in double and used as floats, as PyTorch does. */
void pp_cpu_adamw(float *p, const float *g, float *m, float *v, long n, float lr, float beta1, float beta2, float eps,
                  float weight_decay, int t, float grad_scale) {
    double bc1 = 1.0 - pow((double)beta1, t), bc2 = 1.0 - pow((double)beta2, t);
    float decay = (float)(1.0 - (double)lr * weight_decay);
    float step = (float)((double)lr / bc1);
    float bc2s = (float)sqrt(bc2);
    float omb1 = (float)(1.0 - (double)beta1), omb2 = (float)(1.0 - (double)beta2);
#pragma omp parallel for schedule(static) if (n > PP_OMP_MIN_ELEMS)
    for (long i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        float pi = p[i] * decay;
        float mi = beta1 * m[i] + omb1 * gi;
        float vi = beta2 * v[i] + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi + (-step * mi) / (sqrtf(vi) / bc2s + eps);
    }
}

/* sum x^2 in double over a fixed partition of at most PP_NPART chunks, so
 * the result does not depend on the thread count. */
double pp_cpu_sumsq(const float *x, long n) {
    if (n <= 0) return 0.0;
    double part[PP_NPART];
    long nch = n < 65536 ? 1 : (n / 65536 < PP_NPART ? n / 65536 : PP_NPART);
#pragma omp parallel for schedule(static) if (n > PP_OMP_MIN_ELEMS)
    for (long c = 0; c < nch; c++) {
        long i0 = c * n / nch, i1 = (c + 1) * n / nch;
        double s = 0.0;
        for (long i = i0; i < i1; i++) s += (double)x[i] * x[i];
        part[c] = s;
    }
    double s = 0.0;
    for (long c = 0; c < nch; c++) s += part[c];
    return s;
}
