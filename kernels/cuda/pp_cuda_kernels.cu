/*
 * pp_cuda_kernels.cu -- the own CUDA kernels of the CUDA backend (everything
 * but the GEMMs, which go through cuBLAS): conversions to bf16, embedding,
 * norms, RoPE, the elementwise ops, the T5 bias, the attention softmax
 * passes around the cuBLAS score GEMMs, the LM head's softmax and
 * cross-entropy, AdamW and the sum of squares. pp_cuda_kernels.h documents
 * each launcher; docs/ops.md is the contract for the math, which follows
 * kernels/cpu/ step by step in fp32 (row statistics and losses in float or
 * double where the CPU uses double; weight-gradient sums over rows by
 * atomicAdd, so their order of rounding differs).
 *
 * Row kernels run one block of ROW_THREADS threads per row with block-wide
 * sums; elementwise kernels a grid-stride loop.
 */
#include "kernels/cuda/pp_cuda_kernels.h"

#include <cuda_bf16.h>
#include <math.h>

#define ROW_THREADS 256
#define EW_THREADS 256

static unsigned ew_blocks(long n) {
    long b = (n + EW_THREADS - 1) / EW_THREADS;
    if (b < 1) b = 1;
    if (b > 65535L * 8) b = 65535L * 8;
    return (unsigned)b;
}

template <typename F> __device__ F warp_sum(F v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block; every thread gets it. sh: 32 slots of shared memory. */
template <typename F> __device__ F block_sum(F v, F *sh) {
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    if (wid == 0) {
        F w = lane < nw ? sh[lane] : (F)0;
        w = warp_sum(w);
        if (lane == 0) sh[0] = w;
    }
    __syncthreads();
    return sh[0];
}

__device__ float block_max(float v, float *sh) {
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    if (wid == 0) {
        float w = lane < nw ? sh[lane] : -INFINITY;
        w = warp_max(w);
        if (lane == 0) sh[0] = w;
    }
    __syncthreads();
    return sh[0];
}

#define GRID_STRIDE(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long)gridDim.x * blockDim.x)

/* ------------------------------------------------------------------------ */
/* conversions and copies */

__global__ void k_to_bf16(__nv_bfloat16 *dst, long ld_dst, const float *src, long ld_src, long rows, long cols) {
    GRID_STRIDE(i, rows * cols) {
        long r = i / cols, c = i % cols;
        dst[r * ld_dst + c] = __float2bfloat16(src[r * ld_src + c]);
    }
}

extern "C" cudaError_t pp_cu_to_bf16(void *dst, long ld_dst, const float *src, long ld_src, long rows, long cols,
                                     cudaStream_t st) {
    if (rows > 0 && cols > 0)
        k_to_bf16<<<ew_blocks(rows * cols), EW_THREADS, 0, st>>>((__nv_bfloat16 *)dst, ld_dst, src, ld_src, rows, cols);
    return cudaGetLastError();
}

__global__ void k_fill_rows(float *out, long ld, const float *b, long rows, long n) {
    GRID_STRIDE(i, rows * n) out[(i / n) * ld + i % n] = b[i % n];
}

extern "C" cudaError_t pp_cu_fill_rows(float *out, long ld, const float *b, long rows, long n, cudaStream_t st) {
    if (rows > 0 && n > 0) k_fill_rows<<<ew_blocks(rows * n), EW_THREADS, 0, st>>>(out, ld, b, rows, n);
    return cudaGetLastError();
}

__global__ void k_copy_2d(float *dst, long ld_dst, const float *src, long ld_src, long rows, long cols) {
    GRID_STRIDE(i, rows * cols) dst[(i / cols) * ld_dst + i % cols] = src[(i / cols) * ld_src + i % cols];
}

extern "C" cudaError_t pp_cu_copy_2d(float *dst, long ld_dst, const float *src, long ld_src, long rows, long cols,
                                     cudaStream_t st) {
    if (rows > 0 && cols > 0) k_copy_2d<<<ew_blocks(rows * cols), EW_THREADS, 0, st>>>(dst, ld_dst, src, ld_src, rows, cols);
    return cudaGetLastError();
}

/* ------------------------------------------------------------------------ */
/* embedding */

__global__ void k_embedding_fwd(float *out, const int32_t *tok, long M, int T, int D, const float *tab0,
                                const float *tab1, const float *tab2) {
    GRID_STRIDE(i, M * D) {
        long r = i / D;
        int d = (int)(i % D);
        float v = tab0[(long)tok[r] * D + d];
        if (tab1) v += tab1[(r % T) * D + d];
        if (tab2) v += tab2[d];
        out[i] = v;
    }
}

extern "C" cudaError_t pp_cu_embedding_fwd(float *out, const int32_t *tok, int B, int T, int D, const float *tab0,
                                           const float *tab1, const float *tab2, cudaStream_t st) {
    long M = (long)B * T;
    if (M > 0 && D > 0) k_embedding_fwd<<<ew_blocks(M * D), EW_THREADS, 0, st>>>(out, tok, M, T, D, tab0, tab1, tab2);
    return cudaGetLastError();
}

__global__ void k_embedding_bwd_tok(float *dtab0, const float *dout, const int32_t *tok, long M, int D) {
    GRID_STRIDE(i, M * D) atomicAdd(&dtab0[(long)tok[i / D] * D + i % D], dout[i]);
}

/* dtab1[t, d] += sum over b of dout[b, t, d]: one thread per (t, d), no atomics. */
__global__ void k_embedding_bwd_pos(float *dtab1, const float *dout, int B, int T, int D) {
    GRID_STRIDE(i, (long)T * D) {
        float s = 0.0f;
        for (int b = 0; b < B; b++) s += dout[(long)b * T * D + i];
        dtab1[i] += s;
    }
}

extern "C" cudaError_t pp_cu_embedding_bwd(float *dtab0, float *dtab1, float *dtab2, const float *dout,
                                           const int32_t *tok, int B, int T, int D, cudaStream_t st) {
    long M = (long)B * T;
    if (M <= 0 || D <= 0) return cudaGetLastError();
    if (dtab0) k_embedding_bwd_tok<<<ew_blocks(M * D), EW_THREADS, 0, st>>>(dtab0, dout, tok, M, D);
    if (dtab1) k_embedding_bwd_pos<<<ew_blocks((long)T * D), EW_THREADS, 0, st>>>(dtab1, dout, B, T, D);
    if (dtab2) {
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return e;
        return pp_cu_colsum_acc(dtab2, dout, M, D, D, st);
    }
    return cudaGetLastError();
}

/* ------------------------------------------------------------------------ */
/* column sums: grid (column blocks of 32 x 8 threads, row chunks of 256) */

#define CS_ROWS 256

__global__ void k_colsum(float *acc, const float *a, long M, long N, long lda) {
    long n = (long)blockIdx.x * 32 + threadIdx.x;
    long r0 = (long)blockIdx.y * CS_ROWS;
    long r1 = r0 + CS_ROWS < M ? r0 + CS_ROWS : M;
    __shared__ float sh[8][33];
    float s = 0.0f;
    if (n < N)
        for (long r = r0 + threadIdx.y; r < r1; r += 8) s += a[r * lda + n];
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && n < N) {
        float t = 0.0f;
        for (int y = 0; y < 8; y++) t += sh[y][threadIdx.x];
        atomicAdd(&acc[n], t);
    }
}

extern "C" cudaError_t pp_cu_colsum_acc(float *acc, const float *a, long M, long N, long lda, cudaStream_t st) {
    if (M > 0 && N > 0) {
        dim3 grid((unsigned)((N + 31) / 32), (unsigned)((M + CS_ROWS - 1) / CS_ROWS)), block(32, 8);
        k_colsum<<<grid, block, 0, st>>>(acc, a, M, N, lda);
    }
    return cudaGetLastError();
}

/* ------------------------------------------------------------------------ */
/* norms */

__global__ void k_layernorm_fwd(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                                const float *beta, int D, float eps) {
    __shared__ float sh[32];
    long r = blockIdx.x;
    const float *xr = x + r * D;
    float *o = out + r * D;
    float s = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) s += xr[d];
    float m = block_sum(s, sh) / D;
    float v = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float t = xr[d] - m;
        v += t * t;
    }
    v = block_sum(v, sh) / D;
    float rs = (float)(1.0 / sqrt((double)v + (double)eps));
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float y = (xr[d] - m) * rs * gamma[d];
        o[d] = beta ? y + beta[d] : y;
    }
    if (threadIdx.x == 0) {
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = rs;
    }
}

extern "C" cudaError_t pp_cu_layernorm_fwd(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                                           const float *beta, int M, int D, float eps, cudaStream_t st) {
    if (M > 0 && D > 0) k_layernorm_fwd<<<M, ROW_THREADS, 0, st>>>(out, mean, rstd, x, gamma, beta, D, eps);
    return cudaGetLastError();
}

__global__ void k_layernorm_bwd_in(float *dx, const float *dout, const float *x, const float *mean, const float *rstd,
                                   const float *gamma, int D) {
    __shared__ float sh[32];
    long r = blockIdx.x;
    const float *xr = x + r * D, *dy = dout + r * D;
    float *dxr = dx + r * D;
    float mf = mean[r], rf = rstd[r], sg = 0.0f, sgx = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float g = dy[d] * gamma[d], xh = (xr[d] - mf) * rf;
        sg += g;
        sgx += g * xh;
    }
    float mg = block_sum(sg, sh) / D;
    float mgx = block_sum(sgx, sh) / D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float g = dy[d] * gamma[d], xh = (xr[d] - mf) * rf;
        dxr[d] += rf * (g - mg - xh * mgx);
    }
}

extern "C" cudaError_t pp_cu_layernorm_bwd_in(float *dx, const float *dout, const float *x, const float *mean,
                                              const float *rstd, const float *gamma, int M, int D, cudaStream_t st) {
    if (M > 0 && D > 0) k_layernorm_bwd_in<<<M, ROW_THREADS, 0, st>>>(dx, dout, x, mean, rstd, gamma, D);
    return cudaGetLastError();
}

__global__ void k_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *gamma, int D, float eps) {
    __shared__ float sh[32];
    long r = blockIdx.x;
    const float *xr = x + r * D;
    float *o = out + r * D;
    float ss = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) ss += xr[d] * xr[d];
    ss = block_sum(ss, sh);
    float rf = (float)(1.0 / sqrt((double)ss / D + (double)eps));
    for (int d = threadIdx.x; d < D; d += blockDim.x) o[d] = xr[d] * rf * gamma[d];
    if (threadIdx.x == 0 && rstd) rstd[r] = rf;
}

extern "C" cudaError_t pp_cu_rmsnorm_fwd(float *out, float *rstd, const float *x, const float *gamma, int M, int D,
                                         float eps, cudaStream_t st) {
    if (M > 0 && D > 0) k_rmsnorm_fwd<<<M, ROW_THREADS, 0, st>>>(out, rstd, x, gamma, D, eps);
    return cudaGetLastError();
}

__global__ void k_rmsnorm_bwd_in(float *dx, const float *dout, const float *x, const float *rstd, const float *gamma,
                                 int D) {
    __shared__ float sh[32];
    long r = blockIdx.x;
    const float *xr = x + r * D, *dy = dout + r * D;
    float *dxr = dx + r * D;
    float rf = rstd[r], sgx = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) sgx += (dy[d] * gamma[d]) * (xr[d] * rf);
    float mgx = block_sum(sgx, sh) / D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) dxr[d] += rf * (dy[d] * gamma[d] - xr[d] * rf * mgx);
}

extern "C" cudaError_t pp_cu_rmsnorm_bwd_in(float *dx, const float *dout, const float *x, const float *rstd,
                                            const float *gamma, int M, int D, cudaStream_t st) {
    if (M > 0 && D > 0) k_rmsnorm_bwd_in<<<M, ROW_THREADS, 0, st>>>(dx, dout, x, rstd, gamma, D);
    return cudaGetLastError();
}

__global__ void k_norm_bwd_weight(float *dgamma, float *dbeta, const float *dout, const float *x, const float *mean,
                                  const float *rstd, long M, int D) {
    long d = (long)blockIdx.x * 32 + threadIdx.x;
    long r0 = (long)blockIdx.y * CS_ROWS;
    long r1 = r0 + CS_ROWS < M ? r0 + CS_ROWS : M;
    __shared__ float sg[8][33], sb[8][33];
    float ag = 0.0f, ab = 0.0f;
    if (d < D)
        for (long r = r0 + threadIdx.y; r < r1; r += 8) {
            float xh = mean ? (x[r * D + d] - mean[r]) * rstd[r] : x[r * D + d] * rstd[r];
            float g = dout[r * D + d];
            ag += g * xh;
            ab += g;
        }
    sg[threadIdx.y][threadIdx.x] = ag;
    sb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();
    if (threadIdx.y == 0 && d < D) {
        float tg = 0.0f, tb = 0.0f;
        for (int y = 0; y < 8; y++) {
            tg += sg[y][threadIdx.x];
            tb += sb[y][threadIdx.x];
        }
        atomicAdd(&dgamma[d], tg);
        if (dbeta) atomicAdd(&dbeta[d], tb);
    }
}

extern "C" cudaError_t pp_cu_norm_bwd_weight(float *dgamma, float *dbeta, const float *dout, const float *x,
                                             const float *mean, const float *rstd, int M, int D, cudaStream_t st) {
    if (M > 0 && D > 0) {
        dim3 grid((unsigned)((D + 31) / 32), (unsigned)((M + CS_ROWS - 1) / CS_ROWS)), block(32, 8);
        k_norm_bwd_weight<<<grid, block, 0, st>>>(dgamma, dbeta, dout, x, mean, rstd, M, D);
    }
    return cudaGetLastError();
}

/* ------------------------------------------------------------------------ */
/* RoPE, half-split, on the q and k heads of a fused qkv; angles in double */

__global__ void k_rope(float *out, const float *x, int B, int T, int H, int Hkv, int hd, float theta, int backward) {
    int half = hd / 2, nrot = H + Hkv;
    long C = (long)(H + 2 * Hkv) * hd;
    long n = (long)B * T * nrot * half;
    GRID_STRIDE(e, n) {
        int i = (int)(e % half);
        long rest = e / half;
        int h = (int)(rest % nrot);
        long bt = rest / nrot;
        int t = (int)(bt % T);
        double freq = pow((double)theta, -2.0 * i / hd), a = (double)t * freq;
        float c = (float)cos(a), s = (float)sin(a);
        long base = bt * C + (long)h * hd;
        if (!backward) {
            float x1 = x[base + i], x2 = x[base + i + half];
            out[base + i] = x1 * c - x2 * s;
            out[base + i + half] = x2 * c + x1 * s;
        } else {
            float g1 = x[base + i], g2 = x[base + i + half];
            out[base + i] += g1 * c + g2 * s;
            out[base + i + half] += g2 * c - g1 * s;
        }
    }
}

/* The v heads: copied forward (when out != x), accumulated backward. */
__global__ void k_rope_v(float *out, const float *x, long rows, int H, int Hkv, int hd, int backward) {
    long C = (long)(H + 2 * Hkv) * hd, nv = (long)Hkv * hd, voff = (long)(H + Hkv) * hd;
    GRID_STRIDE(e, rows * nv) {
        long idx = (e / nv) * C + voff + e % nv;
        if (backward) out[idx] += x[idx];
        else out[idx] = x[idx];
    }
}

extern "C" cudaError_t pp_cu_rope_fwd(float *out, const float *x, int B, int T, int H, int Hkv, int hd, float theta,
                                      cudaStream_t st) {
    long n = (long)B * T * (H + Hkv) * (hd / 2);
    if (n > 0) k_rope<<<ew_blocks(n), EW_THREADS, 0, st>>>(out, x, B, T, H, Hkv, hd, theta, 0);
    if (out != x && (long)B * T * Hkv * hd > 0)
        k_rope_v<<<ew_blocks((long)B * T * Hkv * hd), EW_THREADS, 0, st>>>(out, x, (long)B * T, H, Hkv, hd, 0);
    return cudaGetLastError();
}

extern "C" cudaError_t pp_cu_rope_bwd(float *dx, const float *dout, int B, int T, int H, int Hkv, int hd, float theta,
                                      cudaStream_t st) {
    long n = (long)B * T * (H + Hkv) * (hd / 2);
    if (n > 0) k_rope<<<ew_blocks(n), EW_THREADS, 0, st>>>(dx, dout, B, T, H, Hkv, hd, theta, 1);
    if ((long)B * T * Hkv * hd > 0)
        k_rope_v<<<ew_blocks((long)B * T * Hkv * hd), EW_THREADS, 0, st>>>(dx, dout, (long)B * T, H, Hkv, hd, 1);
    return cudaGetLastError();
}

/* ------------------------------------------------------------------------ */
/* elementwise */

#define SQRT_2_OVER_PI 0.7978845608028654f
#define GELU_KAPPA 0.044715f
#define INV_SQRT_2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

__global__ void k_gelu_fwd(float *out, const float *x, long n, int tanh_approx) {
    GRID_STRIDE(i, n) {
        float xi = x[i];
        if (tanh_approx) out[i] = 0.5f * xi * (1.0f + tanhf(SQRT_2_OVER_PI * (xi + GELU_KAPPA * xi * xi * xi)));
        else out[i] = 0.5f * xi * (1.0f + erff(xi * INV_SQRT_2));
    }
}

__global__ void k_gelu_bwd(float *dx, const float *dout, const float *x, long n, int tanh_approx) {
    GRID_STRIDE(i, n) {
        float xi = x[i];
        if (tanh_approx) {
            float x2 = xi * xi, t = tanhf(SQRT_2_OVER_PI * (xi + GELU_KAPPA * x2 * xi));
            float dr = (1.0f - t * t) * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_KAPPA * x2);
            dx[i] += dout[i] * (0.5f * (1.0f + t) + 0.5f * xi * dr);
        } else {
            float cdf = 0.5f * (1.0f + erff(xi * INV_SQRT_2)), pdf = expf(-0.5f * xi * xi) * INV_SQRT_2PI;
            dx[i] += dout[i] * (cdf + xi * pdf);
        }
    }
}

extern "C" cudaError_t pp_cu_gelu_fwd(float *out, const float *x, long n, int tanh_approx, cudaStream_t st) {
    if (n > 0) k_gelu_fwd<<<ew_blocks(n), EW_THREADS, 0, st>>>(out, x, n, tanh_approx);
    return cudaGetLastError();
}

extern "C" cudaError_t pp_cu_gelu_bwd(float *dx, const float *dout, const float *x, long n, int tanh_approx,
                                      cudaStream_t st) {
    if (n > 0) k_gelu_bwd<<<ew_blocks(n), EW_THREADS, 0, st>>>(dx, dout, x, n, tanh_approx);
    return cudaGetLastError();
}

__global__ void k_relu_fwd(float *out, const float *x, long n) { GRID_STRIDE(i, n) out[i] = x[i] > 0.0f ? x[i] : 0.0f; }
__global__ void k_relu_bwd(float *dx, const float *dout, const float *x, long n) {
    GRID_STRIDE(i, n) dx[i] += x[i] > 0.0f ? dout[i] : 0.0f;
}

extern "C" cudaError_t pp_cu_relu_fwd(float *out, const float *x, long n, cudaStream_t st) {
    if (n > 0) k_relu_fwd<<<ew_blocks(n), EW_THREADS, 0, st>>>(out, x, n);
    return cudaGetLastError();
}

extern "C" cudaError_t pp_cu_relu_bwd(float *dx, const float *dout, const float *x, long n, cudaStream_t st) {
    if (n > 0) k_relu_bwd<<<ew_blocks(n), EW_THREADS, 0, st>>>(dx, dout, x, n);
    return cudaGetLastError();
}

__global__ void k_swiglu_fwd(float *out, const float *x, long M, int F) {
    GRID_STRIDE(i, M * F) {
        long r = i / F;
        int f = (int)(i % F);
        float g = x[r * 2 * F + f], u = x[r * 2 * F + F + f];
        out[i] = g / (1.0f + expf(-g)) * u;
    }
}

__global__ void k_swiglu_bwd(float *dx, const float *dout, const float *x, long M, int F) {
    GRID_STRIDE(i, M * F) {
        long r = i / F;
        int f = (int)(i % F);
        float g = x[r * 2 * F + f], u = x[r * 2 * F + F + f], dy = dout[i];
        float s = 1.0f / (1.0f + expf(-g));
        dx[r * 2 * F + f] += dy * u * (s * (1.0f + g * (1.0f - s)));
        dx[r * 2 * F + F + f] += dy * (g * s);
    }
}

extern "C" cudaError_t pp_cu_swiglu_fwd(float *out, const float *x, int M, int F, cudaStream_t st) {
    if ((long)M * F > 0) k_swiglu_fwd<<<ew_blocks((long)M * F), EW_THREADS, 0, st>>>(out, x, M, F);
    return cudaGetLastError();
}

extern "C" cudaError_t pp_cu_swiglu_bwd(float *dx, const float *dout, const float *x, int M, int F, cudaStream_t st) {
    if ((long)M * F > 0) k_swiglu_bwd<<<ew_blocks((long)M * F), EW_THREADS, 0, st>>>(dx, dout, x, M, F);
    return cudaGetLastError();
}

__global__ void k_add(float *out, const float *a, const float *b, long n) { GRID_STRIDE(i, n) out[i] = a[i] + b[i]; }
__global__ void k_acc(float *da, const float *d, long n) { GRID_STRIDE(i, n) da[i] += d[i]; }
__global__ void k_tanh(float *x, long n) { GRID_STRIDE(i, n) x[i] = tanhf(x[i]); }
__global__ void k_tanh_bwd(float *dp, const float *dout, const float *y, long n) {
    GRID_STRIDE(i, n) dp[i] = dout[i] * (1.0f - y[i] * y[i]);
}

extern "C" cudaError_t pp_cu_add_fwd(float *out, const float *a, const float *b, long n, cudaStream_t st) {
    if (n > 0) k_add<<<ew_blocks(n), EW_THREADS, 0, st>>>(out, a, b, n);
    return cudaGetLastError();
}

extern "C" cudaError_t pp_cu_accumulate(float *da, const float *dout, long n, cudaStream_t st) {
    if (n > 0) k_acc<<<ew_blocks(n), EW_THREADS, 0, st>>>(da, dout, n);
    return cudaGetLastError();
}

extern "C" cudaError_t pp_cu_tanh_inplace(float *x, long n, cudaStream_t st) {
    if (n > 0) k_tanh<<<ew_blocks(n), EW_THREADS, 0, st>>>(x, n);
    return cudaGetLastError();
}

extern "C" cudaError_t pp_cu_tanh_bwd(float *dpre, const float *dout, const float *y, long n, cudaStream_t st) {
    if (n > 0) k_tanh_bwd<<<ew_blocks(n), EW_THREADS, 0, st>>>(dpre, dout, y, n);
    return cudaGetLastError();
}

/* ------------------------------------------------------------------------ */
/* T5 relative position bias */

__global__ void k_relpos_fwd(float *bias, const float *table, const int *bk, int H, int T, int S) {
    GRID_STRIDE(e, (long)H * T * S) {
        int j = (int)(e % S);
        long hi = e / S;
        int i = (int)(hi % T), h = (int)(hi / T);
        bias[e] = table[(long)bk[j - i + T - 1] * H + h];
    }
}

/* One block per head: per-bucket sums in shared memory (NB floats). */
__global__ void k_relpos_bwd(float *dtable, const float *dbias, const int *bk, int H, int T, int S, int NB) {
    extern __shared__ float acc[];
    int h = blockIdx.x;
    for (int k = threadIdx.x; k < NB; k += blockDim.x) acc[k] = 0.0f;
    __syncthreads();
    const float *db = dbias + (long)h * T * S;
    for (long e = threadIdx.x; e < (long)T * S; e += blockDim.x) {
        int j = (int)(e % S), i = (int)(e / S);
        atomicAdd(&acc[bk[j - i + T - 1]], db[e]);
    }
    __syncthreads();
    for (int k = threadIdx.x; k < NB; k += blockDim.x) dtable[(long)k * H + h] += acc[k];
}

extern "C" cudaError_t pp_cu_relpos_bias_fwd(float *bias, const float *table, const int *bk, int H, int T, int S,
                                             cudaStream_t st) {
    if ((long)H * T * S > 0) k_relpos_fwd<<<ew_blocks((long)H * T * S), EW_THREADS, 0, st>>>(bias, table, bk, H, T, S);
    return cudaGetLastError();
}

extern "C" cudaError_t pp_cu_relpos_bias_bwd(float *dtable, const float *dbias, const int *bk, int H, int T, int S,
                                             int NB, cudaStream_t st) {
    if ((long)H * T * S > 0 && NB > 0)
        k_relpos_bwd<<<H, ROW_THREADS, (size_t)NB * sizeof(float), st>>>(dtable, dbias, bk, H, T, S, NB);
    return cudaGetLastError();
}

/* ------------------------------------------------------------------------ */
/* attention softmax passes: one block per (h, i) row of [H, T, S] */

__global__ void k_attn_softmax(__nv_bfloat16 *p16, float *lse, long lse_hstride, const float *s, const float *bias,
                               int T, int S, int causal) {
    __shared__ float sh[32];
    long row = blockIdx.x;
    int i = (int)(row % T), h = (int)(row / T);
    int nvalid = causal ? (i + 1 < S ? i + 1 : S) : S;
    const float *sr = s + row * S;
    const float *br = bias ? bias + row * S : NULL;
    __nv_bfloat16 *pr = p16 + row * S;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < nvalid; j += blockDim.x) mx = fmaxf(mx, sr[j] + (br ? br[j] : 0.0f));
    mx = block_max(mx, sh);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < nvalid; j += blockDim.x) sum += expf(sr[j] + (br ? br[j] : 0.0f) - mx);
    sum = block_sum(sum, sh);
    float inv = 1.0f / sum;
    for (int j = threadIdx.x; j < S; j += blockDim.x)
        pr[j] = __float2bfloat16(j < nvalid ? expf(sr[j] + (br ? br[j] : 0.0f) - mx) * inv : 0.0f);
    if (threadIdx.x == 0) lse[(long)h * lse_hstride + i] = mx + logf(sum);
}

extern "C" cudaError_t pp_cu_attn_softmax(void *p16, float *lse, long lse_hstride, const float *s, const float *bias,
                                          int H, int T, int S, int causal, cudaStream_t st) {
    if ((long)H * T > 0 && S > 0)
        k_attn_softmax<<<(unsigned)((long)H * T), ROW_THREADS, 0, st>>>((__nv_bfloat16 *)p16, lse, lse_hstride, s,
                                                                        bias, T, S, causal);
    return cudaGetLastError();
}

__global__ void k_attn_recompute_p(float *s, __nv_bfloat16 *p16, const float *lse, long lse_hstride,
                                   const float *bias, int H, int T, int S, int causal) {
    GRID_STRIDE(e, (long)H * T * S) {
        int j = (int)(e % S);
        long row = e / S;
        int i = (int)(row % T), h = (int)(row / T);
        float p = 0.0f;
        if (!causal || j <= i) p = expf(s[e] + (bias ? bias[e] : 0.0f) - lse[(long)h * lse_hstride + i]);
        s[e] = p;
        p16[e] = __float2bfloat16(p);
    }
}

extern "C" cudaError_t pp_cu_attn_recompute_p(float *s, void *p16, const float *lse, long lse_hstride,
                                              const float *bias, int H, int T, int S, int causal, cudaStream_t st) {
    long n = (long)H * T * S;
    if (n > 0)
        k_attn_recompute_p<<<ew_blocks(n), EW_THREADS, 0, st>>>(s, (__nv_bfloat16 *)p16, lse, lse_hstride, bias, H, T,
                                                               S, causal);
    return cudaGetLastError();
}

__global__ void k_attn_ds(float *dp, __nv_bfloat16 *ds16, float *dbias, const float *p, const float *dout,
                          const float *out, int H, int T, int S, int hd) {
    __shared__ float sh[32];
    long row = blockIdx.x;
    int i = (int)(row % T), h = (int)(row / T);
    const float *dor = dout + ((long)i * H + h) * hd, *orow = out + ((long)i * H + h) * hd;
    float dd = 0.0f;
    for (int e = threadIdx.x; e < hd; e += blockDim.x) dd += dor[e] * orow[e];
    dd = block_sum(dd, sh);
    float *dpr = dp + row * S;
    const float *pr = p + row * S;
    for (int j = threadIdx.x; j < S; j += blockDim.x) {
        float ds = pr[j] * (dpr[j] - dd);
        dpr[j] = ds;
        ds16[row * S + j] = __float2bfloat16(ds);
        if (dbias) dbias[row * S + j] += ds;
    }
}

extern "C" cudaError_t pp_cu_attn_ds(float *dp, void *ds16, float *dbias, const float *p, const float *dout,
                                     const float *out, int H, int T, int S, int hd, cudaStream_t st) {
    if ((long)H * T > 0 && S > 0)
        k_attn_ds<<<(unsigned)((long)H * T), ROW_THREADS, 0, st>>>(dp, (__nv_bfloat16 *)ds16, dbias, p, dout, out, H,
                                                                   T, S, hd);
    return cudaGetLastError();
}

/* ------------------------------------------------------------------------ */
/* LM head: softmax and cross-entropy rows */

__global__ void k_lm_fwd_rows(float *probs, float *rowloss, const int32_t *labels, int V, float scale) {
    __shared__ float sh[32];
    long r = blockIdx.x;
    float *row = probs + r * V;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float z = row[j] * scale;
        row[j] = z;
        mx = fmaxf(mx, z);
    }
    mx = block_max(mx, sh); /* its barriers also order the writes above before the label read */
    int32_t lab = labels[r];
    int valid = lab >= 0 && lab < V;
    float lab_logit = valid ? row[lab] : 0.0f;
    __syncthreads();
    float s = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float e = expf(row[j] - mx);
        row[j] = e;
        s += e;
    }
    s = block_sum(s, sh);
    float inv = 1.0f / s;
    for (int j = threadIdx.x; j < V; j += blockDim.x) row[j] *= inv;
    if (threadIdx.x == 0) rowloss[r] = valid ? logf(s) + mx - lab_logit : 0.0f;
}

__global__ void k_lm_loss_mean(float *loss_out, const float *rowloss, const int32_t *labels, int M, int V) {
    __shared__ double sh[32];
    double s = 0.0, c = 0.0;
    for (int r = threadIdx.x; r < M; r += blockDim.x) {
        int valid = labels[r] >= 0 && labels[r] < V;
        if (valid) {
            s += rowloss[r];
            c += 1.0;
        }
    }
    s = block_sum(s, sh);
    c = block_sum(c, sh);
    if (threadIdx.x == 0) loss_out[0] = c > 0 ? (float)(s / c) : 0.0f;
}

extern "C" cudaError_t pp_cu_lm_fwd_rows(float *probs, float *rowloss, float *loss_out, const int32_t *labels, int M,
                                         int V, float scale, cudaStream_t st) {
    if (M <= 0 || V <= 0) return cudaGetLastError();
    k_lm_fwd_rows<<<M, 1024, 0, st>>>(probs, rowloss, labels, V, scale);
    k_lm_loss_mean<<<1, 1024, 0, st>>>(loss_out, rowloss, labels, M, V);
    return cudaGetLastError();
}

__global__ void k_count_valid(int *count, const int32_t *labels, int M, int V) {
    __shared__ float sh[32];
    float c = 0.0f;
    for (int r = threadIdx.x; r < M; r += blockDim.x) c += labels[r] >= 0 && labels[r] < V;
    c = block_sum(c, sh);
    if (threadIdx.x == 0) *count = (int)c;
}

__global__ void k_lm_bwd_rows(float *probs, const int *count, const int32_t *labels, long M, int V, float g) {
    int nv = *count;
    float c = nv > 0 ? g / (float)nv : 0.0f;
    GRID_STRIDE(e, M * V) {
        long r = e / V;
        int j = (int)(e % V), lab = labels[r];
        if (nv > 0 && lab >= 0 && lab < V) probs[e] = probs[e] * c - (j == lab ? c : 0.0f);
        else probs[e] = 0.0f;
    }
}

extern "C" cudaError_t pp_cu_lm_bwd_rows(float *probs, int *count, const int32_t *labels, int M, int V, float g,
                                         cudaStream_t st) {
    if (M <= 0 || V <= 0) return cudaGetLastError();
    k_count_valid<<<1, 1024, 0, st>>>(count, labels, M, V);
    k_lm_bwd_rows<<<ew_blocks((long)M * V), EW_THREADS, 0, st>>>(probs, count, labels, M, V, g);
    return cudaGetLastError();
}

/* ------------------------------------------------------------------------ */
/* optimizer and norms */

__global__ void k_adamw(float *p, const float *g, float *m, float *v, long n, float decay, float step, float bc2s,
                        float beta1, float beta2, float omb1, float omb2, float eps, float grad_scale) {
    GRID_STRIDE(i, n) {
        float gi = g[i] * grad_scale, pi = p[i] * decay;
        float mi = beta1 * m[i] + omb1 * gi, vi = beta2 * v[i] + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi + (-step * mi) / (sqrtf(vi) / bc2s + eps);
    }
}

extern "C" cudaError_t pp_cu_adamw(float *p, const float *g, float *m, float *v, long n, float decay, float step,
                                   float bc2s, float beta1, float beta2, float omb1, float omb2, float eps,
                                   float grad_scale, cudaStream_t st) {
    if (n > 0)
        k_adamw<<<ew_blocks(n), EW_THREADS, 0, st>>>(p, g, m, v, n, decay, step, bc2s, beta1, beta2, omb1, omb2, eps,
                                                    grad_scale);
    return cudaGetLastError();
}

__global__ void k_sumsq(double *out, const float *x, long n) {
    __shared__ double sh[32];
    double s = 0.0;
    GRID_STRIDE(i, n) s += (double)x[i] * x[i];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) atomicAdd(out, s);
}

extern "C" cudaError_t pp_cu_sumsq(double *out, const float *x, long n, cudaStream_t st) {
    cudaError_t e = cudaMemsetAsync(out, 0, sizeof(double), st);
    if (e != cudaSuccess) return e;
    if (n > 0) {
        unsigned b = ew_blocks(n);
        if (b > 1024) b = 1024;
        k_sumsq<<<b, EW_THREADS, 0, st>>>(out, x, n);
    }
    return cudaGetLastError();
}
