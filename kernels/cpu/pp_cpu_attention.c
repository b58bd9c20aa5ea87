/*
 * pp_cpu_attention.c -- the fp32 CPU kernels around attention: RoPE on a
 * fused qkv, the T5 relative position bias (bucket function, bias
 * materialisation and its table gradient), and multi-head attention
 * (causal / bidirectional self attention on a fused qkv, cross attention,
 * grouped-query heads, optional additive bias). docs/ops.md is the contract.
 *
 * Attention works on blocks of PP_ATT_BR query rows of one (batch, head):
 *   scores  sc [br, S'] = scale q_blk k^T (+ bias)      cblas_sgemm
 *   softmax in place (row max subtracted, sums in double), lse per row
 *   out_blk [br, hd] = p v                              cblas_sgemm
 * where S' = S, or i_last + 1 under the causal mask, so the masked part of
 * a causal block is never computed. Exponentials use pp_expf (vectorised,
 * within 2 ulp of expf), row sums are in double. Scratch is PP_ATT_BR x S
 * floats per thread (two such in the backward pass). The backward pass recomputes p
 * from q, k and lse and makes dv, dp, ds, dq, dk with four more GEMMs per
 * block.
 *
 * Parallelism: OpenMP over independent (batch, head, row block) tasks in the
 * forward pass; in the backward pass over (batch, kv head) -- a task owns
 * dk / dv of its kv head and dq of the query heads that read it -- or, when
 * dbias is wanted, over kv heads alone with the batch loop inside, so that
 * dbias (summed over the batch) has one writer. The GEMMs inside these
 * regions run with OpenBLAS switched to one thread (pp_blas_serial_begin).
 * Every task computes the same thing whatever the thread count, so results
 * are bitwise independent of it (threads set by pp_cpu_set_threads).
 */
#include "kernels/cpu/pp_cpu_kernels.h"

#include "kernels/cpu/pp_cpu_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Query rows per attention block. */
#define PP_ATT_BR 64
/* Frequencies per RoPE chunk (a head of hd > 2 * this is done in chunks). */
#define PP_ROPE_CHUNK 256

/* ------------------------------------------------------------------------ */
/* RoPE (half-split) on the q and k heads of a fused qkv [B, T, (H + 2 Hkv) hd] */

/* cos / sin of t * theta^(-2i/hd) for i in [i0, i1), in double, rounded to float. */
static void rope_angles(float *cs, float *sn, int t, int i0, int i1, int hd, float theta) {
    for (int i = i0; i < i1; i++) {
        double freq = pow((double)theta, -2.0 * i / hd);
        double a = (double)t * freq;
        cs[i - i0] = (float)cos(a);
        sn[i - i0] = (float)sin(a);
    }
}

/* out[:hd/2] = x1 c - x2 s, out[hd/2:] = x2 c + x1 s on q and k heads; v copied.
 * out may equal x. Parallel over positions t (angles computed once per t). */
void pp_cpu_rope_forward(float *out, const float *x, int B, int T, int H, int Hkv, int hd, float theta) {
    long C = (long)(H + 2 * Hkv) * hd;
    int half = hd / 2, nrot = H + Hkv;
    long nv = (long)Hkv * hd, voff = (long)nrot * hd;
#pragma omp parallel for schedule(static) if ((long)B * T * C > PP_OMP_MIN_ELEMS)
    for (int t = 0; t < T; t++) {
        float cs[PP_ROPE_CHUNK], sn[PP_ROPE_CHUNK];
        for (int i0 = 0; i0 < half; i0 += PP_ROPE_CHUNK) {
            int i1 = i0 + PP_ROPE_CHUNK < half ? i0 + PP_ROPE_CHUNK : half;
            rope_angles(cs, sn, t, i0, i1, hd, theta);
            for (int b = 0; b < B; b++) {
                long row = ((long)b * T + t) * C;
                for (int h = 0; h < nrot; h++) {
                    const float *xh = x + row + (long)h * hd;
                    float *oh = out + row + (long)h * hd;
                    for (int i = i0; i < i1; i++) {
                        float x1 = xh[i], x2 = xh[i + half], c = cs[i - i0], s = sn[i - i0];
                        oh[i] = x1 * c - x2 * s;
                        oh[i + half] = x2 * c + x1 * s;
                    }
                }
            }
        }
        if (out != x)
            for (int b = 0; b < B; b++) {
                long row = ((long)b * T + t) * C;
                memcpy(out + row + voff, x + row + voff, sizeof(float) * (size_t)nv);
            }
    }
}

/* The transpose: dx1 += dy1 c + dy2 s, dx2 += dy2 c - dy1 s; dv += dout_v.
 * dx must not alias dout. */
void pp_cpu_rope_backward_input(float *dx, const float *dout, int B, int T, int H, int Hkv, int hd, float theta) {
    long C = (long)(H + 2 * Hkv) * hd;
    int half = hd / 2, nrot = H + Hkv;
    long nv = (long)Hkv * hd, voff = (long)nrot * hd;
#pragma omp parallel for schedule(static) if ((long)B * T * C > PP_OMP_MIN_ELEMS)
    for (int t = 0; t < T; t++) {
        float cs[PP_ROPE_CHUNK], sn[PP_ROPE_CHUNK];
        for (int i0 = 0; i0 < half; i0 += PP_ROPE_CHUNK) {
            int i1 = i0 + PP_ROPE_CHUNK < half ? i0 + PP_ROPE_CHUNK : half;
            rope_angles(cs, sn, t, i0, i1, hd, theta);
            for (int b = 0; b < B; b++) {
                long row = ((long)b * T + t) * C;
                for (int h = 0; h < nrot; h++) {
                    const float *gh = dout + row + (long)h * hd;
                    float *dh = dx + row + (long)h * hd;
                    for (int i = i0; i < i1; i++) {
                        float g1 = gh[i], g2 = gh[i + half], c = cs[i - i0], s = sn[i - i0];
                        dh[i] += g1 * c + g2 * s;
                        dh[i + half] += g2 * c - g1 * s;
                    }
                }
            }
        }
        for (int b = 0; b < B; b++) {
            long row = ((long)b * T + t) * C;
            for (long e = 0; e < nv; e++) dx[row + voff + e] += dout[row + voff + e];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* T5 relative position bias */

/* Bucket of relative position r = j - i, exactly docs/ops.md (double log,
 * truncation toward zero of a non-negative value). */
int pp_cpu_relpos_bucket(int r, int bidirectional, int num_buckets, int max_distance) {
    int nb = num_buckets, ret = 0, n;
    if (bidirectional) {
        nb = num_buckets / 2;
        if (r > 0) ret = nb;
        n = r < 0 ? -r : r;
    } else {
        n = r < 0 ? -r : 0;
    }
    int max_exact = nb / 2;
    if (n < max_exact) return ret + n;
    if (max_exact <= 0) return ret; /* degenerate table (num_buckets < 4 per direction) */
    double y = log((double)n / max_exact) / log((double)max_distance / max_exact) * (nb - max_exact);
    /* y >= 0 for a sane max_distance > max_exact; clamp anything else (inf, nan) */
    int big = !(y < (double)nb);
    int v = big ? nb - 1 : max_exact + (int)y;
    return ret + (v < nb - 1 ? v : nb - 1);
}

/* buckets of r = j - i for r in [-(T-1), S-1], indexed by r + T - 1 (caller frees). */
static int *relpos_buckets(int T, int S, int num_buckets, int max_distance, int bidirectional) {
    int n = T + S - 1;
    int *bk = pp_cpu_xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    for (int k = 0; k < n; k++) bk[k] = pp_cpu_relpos_bucket(k - (T - 1), bidirectional, num_buckets, max_distance);
    return bk;
}

/* bias [H, T, S] = table [NB, H] at [bucket(j - i), h]. */
void pp_cpu_relpos_bias_forward(float *bias, const float *table, int H, int T, int S, int num_buckets, int max_distance,
                                int bidirectional) {
    if (T <= 0 || S <= 0) return;
    int *bk = relpos_buckets(T, S, num_buckets, max_distance, bidirectional);
#pragma omp parallel for collapse(2) schedule(static) if ((long)H * T * S > PP_OMP_MIN_ELEMS)
    for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++) {
            float *row = bias + ((long)h * T + i) * S;
            const int *bi = bk + (T - 1 - i); /* bi[j] = bucket(j - i) */
            for (int j = 0; j < S; j++) row[j] = table[(long)bi[j] * H + h];
        }
    free(bk);
}

/* dtable [NB, H] at [bucket(j - i), h] += dbias [H, T, S]. Parallel over heads
 * (each owns column h of dtable); sums in double. */
void pp_cpu_relpos_bias_backward(float *dtable, const float *dbias, int H, int T, int S, int num_buckets,
                                 int max_distance, int bidirectional) {
    if (T <= 0 || S <= 0 || H <= 0) return;
    int *bk = relpos_buckets(T, S, num_buckets, max_distance, bidirectional);
    double *acc = pp_cpu_xmalloc(sizeof(double) * (size_t)H * (size_t)num_buckets);
    memset(acc, 0, sizeof(double) * (size_t)H * (size_t)num_buckets);
#pragma omp parallel for schedule(static) if ((long)H * T * S > PP_OMP_MIN_ELEMS)
    for (int h = 0; h < H; h++) {
        double *a = acc + (long)h * num_buckets;
        for (int i = 0; i < T; i++) {
            const float *row = dbias + ((long)h * T + i) * S;
            const int *bi = bk + (T - 1 - i);
            for (int j = 0; j < S; j++) a[bi[j]] += row[j];
        }
        for (int k = 0; k < num_buckets; k++) dtable[(long)k * H + h] += (float)a[k];
    }
    free(acc);
    free(bk);
}

/* ------------------------------------------------------------------------ */
/* attention */

/* Number of key columns a block of query rows [i0, i1) sees. */
static int att_cols(int i1, int S, int causal) { return causal ? (i1 < S ? i1 : S) : S; }

/* Scores of a block: sc [nr, ns] = scale q_blk [nr, hd] k [ns, hd]^T + bias rows. */
static void att_scores(float *sc, const float *qb, int q_stride, const float *kb, int kv_stride, int nr, int ns, int hd,
                       float scale, const float *biasb, int S) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, ns, hd, scale, qb, q_stride, kb, kv_stride, 0.0f, sc, ns);
    if (biasb)
        for (int r = 0; r < nr; r++) {
            float *row = sc + (long)r * ns;
            const float *br = biasb + (long)r * S;
#pragma omp simd
            for (int j = 0; j < ns; j++) row[j] += br[j];
        }
}

/* out [B, T, H hd], lse [B, H, T]; see the header for the q / k / v layouts. */
void pp_cpu_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int q_stride,
                              int kv_stride, int B, int T, int S, int H, int Hkv, int hd, float scale, int causal,
                              const float *bias) {
    if (B <= 0 || T <= 0 || H <= 0) return;
    int grp = H / Hkv, nblk = (T + PP_ATT_BR - 1) / PP_ATT_BR;
    long ntask = (long)B * H * nblk, out_stride = (long)H * hd;
    int tok = pp_blas_serial_begin();
#pragma omp parallel if (ntask > 1)
    {
        float *sc = pp_cpu_xmalloc(sizeof(float) * (size_t)PP_ATT_BR * (size_t)S);
#pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < ntask; task++) {
            int blk = (int)(task % nblk), h = (int)(task / nblk % H), b = (int)(task / nblk / H);
            int g = h / grp, i0 = blk * PP_ATT_BR;
            int i1 = i0 + PP_ATT_BR < T ? i0 + PP_ATT_BR : T, nr = i1 - i0;
            int ns = att_cols(i1, S, causal);
            const float *qb = q + ((long)b * T + i0) * q_stride + (long)h * hd;
            const float *kb = k + (long)b * S * kv_stride + (long)g * hd;
            const float *vb = v + (long)b * S * kv_stride + (long)g * hd;
            const float *biasb = bias ? bias + ((long)h * T + i0) * S : NULL;
            float *ob = out + ((long)b * T + i0) * out_stride + (long)h * hd;
            float *lb = lse ? lse + ((long)b * H + h) * T + i0 : NULL;

            att_scores(sc, qb, q_stride, kb, kv_stride, nr, ns, hd, scale, biasb, S);
            for (int r = 0; r < nr; r++) {
                float *row = sc + (long)r * ns;
                int nvalid = causal ? (i0 + r + 1 < ns ? i0 + r + 1 : ns) : ns; /* j <= i */
                float mx = row[0];
                PP_OMP_SIMD_MAX(mx)
                for (int j = 1; j < nvalid; j++) mx = row[j] > mx ? row[j] : mx;
                double s = 0.0;
#pragma omp simd reduction(+ : s)
                for (int j = 0; j < nvalid; j++) {
                    float e = pp_expf(row[j] - mx);
                    row[j] = e;
                    s += e;
                }
                float inv = (float)(1.0 / s);
#pragma omp simd
                for (int j = 0; j < nvalid; j++) row[j] *= inv;
                for (int j = nvalid; j < ns; j++) row[j] = 0.0f;
                if (lb) lb[r] = (float)((double)mx + log(s));
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hd, ns, 1.0f, sc, ns, vb, kv_stride, 0.0f, ob,
                        (int)out_stride);
        }
        free(sc);
    }
    pp_blas_serial_end(tok);
}

/* One (b, h) pair, all query blocks: accumulates dq (rows of head h), dk, dv
 * (rows of kv head g) and, when dbias_h is set, dbias [T, S] of head h.
 * p, dp: scratch [PP_ATT_BR, S]. */
static void att_backward_bh(float *dq, float *dk, float *dv, float *dbias_h, const float *dout, const float *out,
                            const float *lse, const float *q, const float *k, const float *v, int q_stride,
                            int kv_stride, int b, int h, int g, int T, int S, int H, int hd, float scale, int causal,
                            const float *bias_h, float *p, float *dp) {
    long o_stride = (long)H * hd;
    const float *kb = k + (long)b * S * kv_stride + (long)g * hd;
    const float *vb = v + (long)b * S * kv_stride + (long)g * hd;
    float *dkb = dk + (long)b * S * kv_stride + (long)g * hd;
    float *dvb = dv + (long)b * S * kv_stride + (long)g * hd;
    const float *lbh = lse + ((long)b * H + h) * T;
    for (int i0 = 0; i0 < T; i0 += PP_ATT_BR) {
        int i1 = i0 + PP_ATT_BR < T ? i0 + PP_ATT_BR : T, nr = i1 - i0;
        int ns = att_cols(i1, S, causal);
        const float *qb = q + ((long)b * T + i0) * q_stride + (long)h * hd;
        float *dqb = dq + ((long)b * T + i0) * q_stride + (long)h * hd;
        const float *dob = dout + ((long)b * T + i0) * o_stride + (long)h * hd;
        const float *ob = out + ((long)b * T + i0) * o_stride + (long)h * hd;

        /* p [nr, ns] = exp(scale q k^T + bias - lse), 0 where masked */
        att_scores(p, qb, q_stride, kb, kv_stride, nr, ns, hd, scale, bias_h ? bias_h + (long)i0 * S : NULL, S);
        for (int r = 0; r < nr; r++) {
            float *row = p + (long)r * ns;
            int nvalid = causal ? (i0 + r + 1 < ns ? i0 + r + 1 : ns) : ns;
            float l = lbh[i0 + r];
#pragma omp simd
            for (int j = 0; j < nvalid; j++) row[j] = pp_expf(row[j] - l);
            for (int j = nvalid; j < ns; j++) row[j] = 0.0f;
        }
        /* dv [ns, hd] += p^T dout_blk */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ns, hd, nr, 1.0f, p, ns, dob, (int)o_stride, 1.0f, dvb,
                    kv_stride);
        /* dp [nr, ns] = dout_blk v^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, ns, hd, 1.0f, dob, (int)o_stride, vb, kv_stride, 0.0f,
                    dp, ns);
        /* ds = p (dp - rowsum(dout * out)), in place of dp; dbias += ds */
        for (int r = 0; r < nr; r++) {
            const float *dor = dob + (long)r * o_stride, *orow = ob + (long)r * o_stride;
            double dd = 0.0;
#pragma omp simd reduction(+ : dd)
            for (int e = 0; e < hd; e++) dd += (double)dor[e] * orow[e];
            float df = (float)dd;
            float *ds = dp + (long)r * ns;
            const float *pr = p + (long)r * ns;
#pragma omp simd
            for (int j = 0; j < ns; j++) ds[j] = pr[j] * (ds[j] - df);
            if (dbias_h) {
                float *dbr = dbias_h + (long)(i0 + r) * S;
#pragma omp simd
                for (int j = 0; j < ns; j++) dbr[j] += ds[j];
            }
        }
        /* dq_blk [nr, hd] += scale ds k; dk [ns, hd] += scale ds^T q_blk */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hd, ns, scale, dp, ns, kb, kv_stride, 1.0f, dqb,
                    q_stride);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ns, hd, nr, scale, dp, ns, qb, q_stride, 1.0f, dkb,
                    kv_stride);
    }
}

void pp_cpu_attention_backward_input(float *dq, float *dk, float *dv, float *dbias, const float *dout, const float *out,
                                     const float *lse, const float *q, const float *k, const float *v, int q_stride,
                                     int kv_stride, int B, int T, int S, int H, int Hkv, int hd, float scale,
                                     int causal, const float *bias) {
    if (B <= 0 || T <= 0 || H <= 0) return;
    int grp = H / Hkv;
    /* tasks: (b, g) without dbias; g alone (batch loop inside) with dbias */
    long ntask = dbias ? (long)Hkv : (long)B * Hkv;
    int tok = pp_blas_serial_begin();
#pragma omp parallel if (ntask > 1)
    {
        size_t blk = sizeof(float) * (size_t)PP_ATT_BR * (size_t)S;
        float *p = pp_cpu_xmalloc(blk), *dp = pp_cpu_xmalloc(blk);
#pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < ntask; task++) {
            int g = (int)(task % Hkv);
            int b0 = dbias ? 0 : (int)(task / Hkv), b1 = dbias ? B : b0 + 1;
            for (int b = b0; b < b1; b++)
                for (int h = g * grp; h < (g + 1) * grp; h++)
                    att_backward_bh(dq, dk, dv, dbias ? dbias + (long)h * T * S : NULL, dout, out, lse, q, k, v,
                                    q_stride, kv_stride, b, h, g, T, S, H, hd, scale, causal,
                                    bias ? bias + (long)h * T * S : NULL, p, dp);
        }
        free(p);
        free(dp);
    }
    pp_blas_serial_end(tok);
}
