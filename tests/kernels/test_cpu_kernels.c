/*
 * test_cpu_kernels.c -- checks every fp32 CPU kernel (kernels/cpu/) against
 * naive double-precision references written here with plain loops:
 * forwards against the reference, backwards (I and W) against central
 * finite differences of the reference loss L = sum(out * dout) (or, for
 * sizes where differences would be slow, against analytic double gradients
 * that are themselves checked against differences on small sizes).
 * Tolerances are relative, about 1e-4 (f32 kernels vs double references).
 * Also: the T5 bucket function on known values, accumulation (a second
 * backward call doubles the gradient), and bitwise independence of the
 * thread count for attention, norms and reductions.
 */
#include "kernels/cpu/pp_cpu_internal.h"
#include "kernels/cpu/pp_cpu_kernels.h"
#include "tests/pp_test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* helpers */

static uint64_t rng_state = 0x1234567887654321ULL;

static void rng_seed(uint64_t s) { rng_state = s * 0x9e3779b97f4a7c15ULL + 1; }

/* uniform in [-1, 1) */
static double rng_u(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1.0p-53 * 2.0 - 1.0;
}

static float *zf(long n) {
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    ck_assert_ptr_nonnull(p);
    return p;
}

static double *zd(long n) {
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    ck_assert_ptr_nonnull(p);
    return p;
}

/* off + amp * U[-1, 1) */
static float *randf(long n, double off, double amp) {
    float *p = zf(n);
    for (long i = 0; i < n; i++) p[i] = (float)(off + amp * rng_u());
    return p;
}

static double *to_d(const float *x, long n) {
    double *p = zd(n);
    for (long i = 0; i < n; i++) p[i] = x[i];
    return p;
}

static float *dupf(const float *x, long n) {
    float *p = zf(n);
    memcpy(p, x, sizeof(float) * (size_t)n);
    return p;
}

/* max over i of |got - ref| / (|ref| + 1e-2 max|ref|) */
static double rel_err(const float *got, const double *ref, long n) {
    double mx = 0.0, worst = 0.0;
    for (long i = 0; i < n; i++) mx = fmax(mx, fabs(ref[i]));
    for (long i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]) / (fabs(ref[i]) + 1e-2 * mx + 1e-300);
        if (!(e <= worst)) worst = e; /* NaN propagates */
    }
    return worst;
}

#define TOL 1e-4

#define CHECK_CLOSE(got, ref, n, tol, what)                                                                            \
    do {                                                                                                               \
        double e_ = rel_err((got), (ref), (n));                                                                        \
        if (getenv("PP_TEST_VERBOSE")) printf("  %-44s max rel err %.3g\n", (what), e_);                               \
        ck_assert_msg(e_ <= (tol), "%s: max relative error %.3g > %.3g", (what), e_, (double)(tol));                   \
    } while (0)

typedef double (*loss_fn)(const void *ctx);

/* grad[i] = dL/dx[i] by central differences of the double loss f; x (a buffer
 * the context points at) is perturbed in place and restored. */
static void fd_grad(double *grad, double *x, long n, loss_fn f, const void *ctx) {
    for (long i = 0; i < n; i++) {
        double x0 = x[i], h = 1e-5 * (fabs(x0) > 1.0 ? fabs(x0) : 1.0);
        x[i] = x0 + h;
        double lp = f(ctx);
        x[i] = x0 - h;
        double lm = f(ctx);
        x[i] = x0;
        grad[i] = (lp - lm) / (2.0 * h);
    }
}

static double dot_sum(const double *a, const double *b, long n) {
    double s = 0.0;
    for (long i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* second = 2 * first (accumulation check), up to float rounding of the
 * second sum (relative to the array's largest element) */
static void check_doubled(const float *first, const float *second, long n, const char *what) {
    double mx = 0.0;
    for (long i = 0; i < n; i++) mx = fmax(mx, fabs(2.0 * first[i]));
    for (long i = 0; i < n; i++) {
        double want = 2.0 * first[i];
        ck_assert_msg(fabs(second[i] - want) <= 1e-6 * (fabs(want) + mx) + 1e-30,
                      "%s: element %ld: %g after two calls, %g after one", what, i, (double)second[i],
                      (double)first[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* threads */

START_TEST(test_threads) {
    int n0 = pp_cpu_get_threads();
    ck_assert_int_ge(n0, 1);
    pp_cpu_set_threads(2);
    ck_assert_int_eq(pp_cpu_get_threads(), 2);
    pp_cpu_set_threads(0); /* clamps to 1 */
    ck_assert_int_eq(pp_cpu_get_threads(), 1);
    pp_cpu_set_threads(n0);
    ck_assert_int_eq(pp_cpu_get_threads(), n0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* the softmax exponential (pp_cpu_internal.h) */

START_TEST(test_expf) {
    /* within 2^-22 relative of exp over [-87, 88] (2^20 points) and near 0 */
    double worst = 0.0;
    for (long i = 0; i <= (1L << 20); i++) {
        float x = (float)(-87.0 + 175.0 * (double)i / (double)(1L << 20));
        float y = (float)ldexp((double)(i - (1L << 19)), -40);
        double rx = exp((double)x), ry = exp((double)y);
        worst = fmax(worst, fabs((double)pp_expf(x) - rx) / rx);
        worst = fmax(worst, fabs((double)pp_expf(y) - ry) / ry);
    }
    ck_assert_msg(worst < 0x1.0p-22, "pp_expf: relative error %g", worst);
    ck_assert(pp_expf(0.0f) == 1.0f);
    ck_assert(pp_expf(-1000.0f) >= 0.0f && pp_expf(-1000.0f) < 1.2e-38f);
    ck_assert(isnan(pp_expf(NAN)));
    ck_assert(isnan(pp_expf(-INFINITY)));
    /* vectorised and scalar calls agree */
    float v[37], w[37];
    for (int i = 0; i < 37; i++) v[i] = -0.37f * i;
#pragma omp simd
    for (int i = 0; i < 37; i++) w[i] = pp_expf(v[i]);
    for (int i = 0; i < 37; i++) ck_assert(w[i] == pp_expf(v[i]));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* embedding */

static void check_embedding(int ntab) {
    int B = 2, T = 3, D = 70, V = 7, P = 5, NT = 2;
    long M = (long)B * T;
    int32_t tokens[6] = {3, 0, 3, 6, 3, 1}; /* repeats */
    float *t0 = randf((long)V * D, 0, 1), *t1 = ntab > 1 ? randf((long)P * D, 0, 1) : NULL,
          *t2 = ntab > 2 ? randf((long)NT * D, 0, 1) : NULL;
    float *out = zf(M * D);
    pp_cpu_embedding_forward(out, tokens, B, T, D, t0, t1, t2);
    double *ref = zd(M * D);
    for (long r = 0; r < M; r++)
        for (int d = 0; d < D; d++)
            ref[r * D + d] =
                (double)t0[(long)tokens[r] * D + d] + (t1 ? t1[(r % T) * D + d] : 0.0) + (t2 ? t2[d] : 0.0);
    CHECK_CLOSE(out, ref, M * D, 1e-5, "embedding forward");

    float *dout = randf(M * D, 0, 1);
    float *d0 = zf((long)V * D), *d1 = zf((long)P * D), *d2 = zf((long)NT * D);
    pp_cpu_embedding_backward_weight(d0, t1 ? d1 : NULL, t2 ? d2 : NULL, dout, tokens, B, T, D);
    double *r0 = zd((long)V * D), *r1 = zd((long)P * D), *r2 = zd((long)NT * D);
    for (long r = 0; r < M; r++)
        for (int d = 0; d < D; d++) {
            r0[(long)tokens[r] * D + d] += dout[r * D + d];
            if (t1) r1[(r % T) * D + d] += dout[r * D + d];
            if (t2) r2[d] += dout[r * D + d];
        }
    CHECK_CLOSE(d0, r0, (long)V * D, 1e-5, "embedding dtab0");
    CHECK_CLOSE(d1, r1, (long)P * D, 1e-5, "embedding dtab1");
    CHECK_CLOSE(d2, r2, (long)NT * D, 1e-5, "embedding dtab2");
    /* rows of tab1 past T and rows of tab2 past 0 get nothing */
    for (long i = (long)T * D; i < (long)P * D; i++) ck_assert(d1[i] == 0.0f);
    for (long i = D; i < (long)NT * D; i++) ck_assert(d2[i] == 0.0f);

    /* accumulation */
    float *a0 = dupf(d0, (long)V * D), *a1 = dupf(d1, (long)P * D), *a2 = dupf(d2, (long)NT * D);
    pp_cpu_embedding_backward_weight(d0, t1 ? d1 : NULL, t2 ? d2 : NULL, dout, tokens, B, T, D);
    check_doubled(a0, d0, (long)V * D, "embedding dtab0 x2");
    check_doubled(a1, d1, (long)P * D, "embedding dtab1 x2");
    check_doubled(a2, d2, (long)NT * D, "embedding dtab2 x2");

    free(t0), free(t1), free(t2), free(out), free(ref), free(dout), free(d0), free(d1), free(d2);
    free(r0), free(r1), free(r2), free(a0), free(a1), free(a2);
}

START_TEST(test_embedding) {
    rng_seed(1);
    check_embedding(1);
    check_embedding(2);
    check_embedding(3);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* layernorm and rmsnorm */

typedef struct {
    int M, D, rms;
    double eps;
    double *x, *g, *b, *dout;
} norm_ctx;

static void norm_ref(const norm_ctx *c, double *out, double *mean, double *rstd) {
    for (int r = 0; r < c->M; r++) {
        const double *x = c->x + (long)r * c->D;
        double m = 0.0, v = 0.0;
        if (!c->rms) {
            for (int d = 0; d < c->D; d++) m += x[d];
            m /= c->D;
        }
        for (int d = 0; d < c->D; d++) v += (x[d] - m) * (x[d] - m);
        v /= c->D;
        double rs = 1.0 / sqrt(v + c->eps);
        for (int d = 0; d < c->D; d++) out[(long)r * c->D + d] = (x[d] - m) * rs * c->g[d] + (c->b ? c->b[d] : 0.0);
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = rs;
    }
}

static double norm_loss(const void *p) {
    const norm_ctx *c = p;
    long n = (long)c->M * c->D;
    double *out = zd(n);
    norm_ref(c, out, NULL, NULL);
    double L = dot_sum(out, c->dout, n);
    free(out);
    return L;
}

/* layernorm (rms = 0, with or without beta) or rmsnorm (rms = 1). */
static void check_norm(int rms, int with_beta) {
    int M = 7, D = 70;
    long n = (long)M * D;
    float eps = 1e-5f;
    float *x = randf(n, 0.3, 1), *g = randf(D, 1, 0.5), *b = with_beta ? randf(D, 0, 0.5) : NULL;
    float *dout = randf(n, 0, 1), *out = zf(n), *mean = zf(M), *rstd = zf(M);
    if (rms)
        pp_cpu_rmsnorm_forward(out, rstd, x, g, M, D, eps);
    else
        pp_cpu_layernorm_forward(out, mean, rstd, x, g, b, M, D, eps);

    norm_ctx c = {M, D, rms, eps, to_d(x, n), to_d(g, D), b ? to_d(b, D) : NULL, to_d(dout, n)};
    double *rout = zd(n), *rmean = zd(M), *rrstd = zd(M);
    norm_ref(&c, rout, rmean, rrstd);
    CHECK_CLOSE(out, rout, n, TOL, rms ? "rmsnorm out" : "layernorm out");
    if (!rms) CHECK_CLOSE(mean, rmean, M, TOL, "layernorm mean");
    CHECK_CLOSE(rstd, rrstd, M, TOL, "norm rstd");

    float *dx = zf(n), *dg = zf(D), *db = zf(D);
    double *fx = zd(n), *fg = zd(D), *fb = zd(D);
    if (rms) {
        pp_cpu_rmsnorm_backward_input(dx, dout, x, rstd, g, M, D);
        pp_cpu_rmsnorm_backward_weight(dg, dout, x, rstd, M, D);
    } else {
        pp_cpu_layernorm_backward_input(dx, dout, x, mean, rstd, g, M, D);
        pp_cpu_layernorm_backward_weight(dg, b ? db : NULL, dout, x, mean, rstd, M, D);
    }
    fd_grad(fx, c.x, n, norm_loss, &c);
    fd_grad(fg, c.g, D, norm_loss, &c);
    CHECK_CLOSE(dx, fx, n, TOL, "norm dx");
    CHECK_CLOSE(dg, fg, D, TOL, "norm dgamma");
    if (b) {
        fd_grad(fb, c.b, D, norm_loss, &c);
        CHECK_CLOSE(db, fb, D, TOL, "layernorm dbeta");
    } else {
        for (int d = 0; d < D; d++) ck_assert(db[d] == 0.0f);
    }

    /* accumulation */
    float *a = dupf(dx, n), *ag = dupf(dg, D), *ab = dupf(db, D);
    if (rms) {
        pp_cpu_rmsnorm_backward_input(dx, dout, x, rstd, g, M, D);
        pp_cpu_rmsnorm_backward_weight(dg, dout, x, rstd, M, D);
    } else {
        pp_cpu_layernorm_backward_input(dx, dout, x, mean, rstd, g, M, D);
        pp_cpu_layernorm_backward_weight(dg, b ? db : NULL, dout, x, mean, rstd, M, D);
    }
    check_doubled(a, dx, n, "norm dx x2");
    check_doubled(ag, dg, D, "norm dgamma x2");
    check_doubled(ab, db, D, "norm dbeta x2");

    free(x), free(g), free(b), free(dout), free(out), free(mean), free(rstd);
    free(c.x), free(c.g), free(c.b), free(c.dout), free(rout), free(rmean), free(rrstd);
    free(dx), free(dg), free(db), free(fx), free(fg), free(fb), free(a), free(ag), free(ab);
}

START_TEST(test_layernorm) {
    rng_seed(2);
    check_norm(0, 1);
    check_norm(0, 0);
}
END_TEST

START_TEST(test_rmsnorm) {
    rng_seed(3);
    check_norm(1, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* linear */

typedef struct {
    int M, K, N;
    double *x, *w, *b, *dout;
} lin_ctx;

static void lin_ref(const lin_ctx *c, double *out) {
    for (int r = 0; r < c->M; r++)
        for (int n = 0; n < c->N; n++) {
            double s = c->b ? c->b[n] : 0.0;
            for (int k = 0; k < c->K; k++) s += c->x[(long)r * c->K + k] * c->w[(long)n * c->K + k];
            out[(long)r * c->N + n] = s;
        }
}

static double lin_loss(const void *p) {
    const lin_ctx *c = p;
    long n = (long)c->M * c->N;
    double *out = zd(n);
    lin_ref(c, out);
    double L = dot_sum(out, c->dout, n);
    free(out);
    return L;
}

static void check_linear(int with_bias) {
    int M = 7, K = 13, N = 5;
    float *x = randf((long)M * K, 0, 1), *w = randf((long)N * K, 0, 0.5), *b = with_bias ? randf(N, 0, 1) : NULL;
    float *dout = randf((long)M * N, 0, 1), *out = zf((long)M * N);
    pp_cpu_linear_forward(out, x, w, b, M, K, N);
    lin_ctx c = {M, K, N, to_d(x, (long)M * K), to_d(w, (long)N * K), b ? to_d(b, N) : NULL, to_d(dout, (long)M * N)};
    double *rout = zd((long)M * N);
    lin_ref(&c, rout);
    CHECK_CLOSE(out, rout, (long)M * N, TOL, "linear out");

    float *dx = zf((long)M * K), *dw = zf((long)N * K), *db = zf(N);
    pp_cpu_linear_backward_input(dx, dout, w, M, K, N);
    pp_cpu_linear_backward_weight(dw, b ? db : NULL, dout, x, M, K, N);
    double *fx = zd((long)M * K), *fw = zd((long)N * K), *fb = zd(N);
    fd_grad(fx, c.x, (long)M * K, lin_loss, &c);
    fd_grad(fw, c.w, (long)N * K, lin_loss, &c);
    CHECK_CLOSE(dx, fx, (long)M * K, TOL, "linear dx");
    CHECK_CLOSE(dw, fw, (long)N * K, TOL, "linear dw");
    if (b) {
        fd_grad(fb, c.b, N, lin_loss, &c);
        CHECK_CLOSE(db, fb, N, TOL, "linear db");
    }

    float *ax = dupf(dx, (long)M * K), *aw = dupf(dw, (long)N * K), *ab = dupf(db, N);
    pp_cpu_linear_backward_input(dx, dout, w, M, K, N);
    pp_cpu_linear_backward_weight(dw, b ? db : NULL, dout, x, M, K, N);
    check_doubled(ax, dx, (long)M * K, "linear dx x2");
    check_doubled(aw, dw, (long)N * K, "linear dw x2");
    check_doubled(ab, db, N, "linear db x2");

    free(x), free(w), free(b), free(dout), free(out), free(c.x), free(c.w), free(c.b), free(c.dout), free(rout);
    free(dx), free(dw), free(db), free(fx), free(fw), free(fb), free(ax), free(aw), free(ab);
}

START_TEST(test_linear) {
    rng_seed(4);
    check_linear(1);
    check_linear(0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* rope */

typedef struct {
    int B, T, H, Hkv, hd;
    double theta;
    double *x, *dout;
} rope_ctx;

static void rope_ref(const rope_ctx *c, double *out) {
    int C = (c->H + 2 * c->Hkv) * c->hd, half = c->hd / 2;
    memcpy(out, c->x, sizeof(double) * (size_t)c->B * c->T * C);
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < c->T; t++)
            for (int h = 0; h < c->H + c->Hkv; h++) {
                const double *x = c->x + ((long)b * c->T + t) * C + (long)h * c->hd;
                double *o = out + ((long)b * c->T + t) * C + (long)h * c->hd;
                for (int i = 0; i < half; i++) {
                    double a = t * pow(c->theta, -2.0 * i / c->hd);
                    double cs = (float)cos(a), sn = (float)sin(a); /* double, rounded to float */
                    o[i] = x[i] * cs - x[i + half] * sn;
                    o[i + half] = x[i + half] * cs + x[i] * sn;
                }
            }
}

static double rope_loss(const void *p) {
    const rope_ctx *c = p;
    long n = (long)c->B * c->T * (c->H + 2 * c->Hkv) * c->hd;
    double *out = zd(n);
    rope_ref(c, out);
    double L = dot_sum(out, c->dout, n);
    free(out);
    return L;
}

static void check_rope(int B, int T, int H, int Hkv, int hd, float theta, int grads) {
    long n = (long)B * T * (H + 2 * Hkv) * hd;
    float *x = randf(n, 0, 1), *dout = randf(n, 0, 1), *out = zf(n);
    pp_cpu_rope_forward(out, x, B, T, H, Hkv, hd, theta);
    rope_ctx c = {B, T, H, Hkv, hd, theta, to_d(x, n), to_d(dout, n)};
    double *ref = zd(n);
    rope_ref(&c, ref);
    CHECK_CLOSE(out, ref, n, 1e-5, "rope forward");
    /* in place gives the same bits */
    float *inp = dupf(x, n);
    pp_cpu_rope_forward(inp, inp, B, T, H, Hkv, hd, theta);
    ck_assert(memcmp(inp, out, sizeof(float) * (size_t)n) == 0);
    if (grads) {
        float *dx = zf(n);
        double *fx = zd(n);
        pp_cpu_rope_backward_input(dx, dout, B, T, H, Hkv, hd, theta);
        fd_grad(fx, c.x, n, rope_loss, &c);
        CHECK_CLOSE(dx, fx, n, TOL, "rope dx");
        float *a = dupf(dx, n);
        pp_cpu_rope_backward_input(dx, dout, B, T, H, Hkv, hd, theta);
        check_doubled(a, dx, n, "rope dx x2");
        free(dx), free(fx), free(a);
    }
    free(x), free(dout), free(out), free(c.x), free(c.dout), free(ref), free(inp);
}

START_TEST(test_rope) {
    rng_seed(5);
    check_rope(2, 7, 4, 2, 8, 10000.0f, 1);
    check_rope(1, 3, 2, 2, 16, 100.0f, 1);
    check_rope(1, 3, 1, 1, 520, 10000.0f, 0); /* hd / 2 > one chunk of angles */
}
END_TEST

/* ------------------------------------------------------------------------ */
/* T5 relative position buckets */

/* docs/ops.md's bucket, transcribed independently of the kernel */
static int bucket_ref(int r, int bidirectional, int NB, int MD) {
    int ret = 0, nb = NB, n;
    if (bidirectional) {
        nb = NB / 2;
        if (r > 0) ret = nb;
        n = abs(r);
    } else {
        n = r < 0 ? -r : 0;
    }
    int me = nb / 2;
    if (n < me) return ret + n;
    int v = me + (int)(log((double)n / me) / log((double)MD / me) * (nb - me));
    return ret + (v < nb - 1 ? v : nb - 1);
}

START_TEST(test_relpos_bucket) {
    /* known values (bidirectional / causal, NB = 32, MD = 128), from
     * scripts/gen_fixtures.py's t5_bucket */
    static const int bi[][2] = {{0, 0},   {1, 17},    {-1, 1},    {-200, 15}, {200, 31}, {7, 23},
                                {-7, 7},  {8, 24},    {-8, 8},    {16, 26},   {-16, 10}, {-32, 12},
                                {64, 30}, {-127, 15}, {-128, 15}, {1000, 31}};
    static const int ca[][2] = {{0, 0},    {5, 0},    {-5, 5},    {-15, 15},  {-16, 16},  {-20, 17},
                                {-32, 21}, {-64, 26}, {-100, 30}, {-127, 31}, {-128, 31}, {-1000, 31}};
    for (size_t i = 0; i < sizeof bi / sizeof bi[0]; i++)
        ck_assert_msg(pp_cpu_relpos_bucket(bi[i][0], 1, 32, 128) == bi[i][1], "bidirectional bucket(%d) = %d, want %d",
                      bi[i][0], pp_cpu_relpos_bucket(bi[i][0], 1, 32, 128), bi[i][1]);
    for (size_t i = 0; i < sizeof ca / sizeof ca[0]; i++)
        ck_assert_msg(pp_cpu_relpos_bucket(ca[i][0], 0, 32, 128) == ca[i][1], "causal bucket(%d) = %d, want %d",
                      ca[i][0], pp_cpu_relpos_bucket(ca[i][0], 0, 32, 128), ca[i][1]);
    /* a sweep against the transcription, several tables */
    static const int cfg[][2] = {{32, 128}, {8, 16}, {16, 64}, {64, 256}};
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++)
        for (int bid = 0; bid < 2; bid++)
            for (int r = -600; r <= 600; r++) {
                int got = pp_cpu_relpos_bucket(r, bid, cfg[k][0], cfg[k][1]);
                ck_assert_int_eq(got, bucket_ref(r, bid, cfg[k][0], cfg[k][1]));
                ck_assert(got >= 0 && got < cfg[k][0]);
            }
}
END_TEST

START_TEST(test_relpos_bias) {
    rng_seed(6);
    int H = 3, T = 9, S = 11, NB = 8, MD = 16;
    for (int bid = 0; bid < 2; bid++) {
        float *table = randf((long)NB * H, 0, 1), *bias = zf((long)H * T * S), *dbias = randf((long)H * T * S, 0, 1);
        pp_cpu_relpos_bias_forward(bias, table, H, T, S, NB, MD, bid);
        double *rb = zd((long)H * T * S), *rd = zd((long)NB * H);
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++)
                for (int j = 0; j < S; j++) {
                    int k = bucket_ref(j - i, bid, NB, MD);
                    rb[((long)h * T + i) * S + j] = table[k * H + h];
                    rd[k * H + h] += dbias[((long)h * T + i) * S + j];
                }
        CHECK_CLOSE(bias, rb, (long)H * T * S, 0.0, "relpos bias");
        float *dt = zf((long)NB * H);
        pp_cpu_relpos_bias_backward(dt, dbias, H, T, S, NB, MD, bid);
        CHECK_CLOSE(dt, rd, (long)NB * H, 1e-6, "relpos dtable");
        float *a = dupf(dt, (long)NB * H);
        pp_cpu_relpos_bias_backward(dt, dbias, H, T, S, NB, MD, bid);
        check_doubled(a, dt, (long)NB * H, "relpos dtable x2");
        free(table), free(bias), free(dbias), free(rb), free(rd), free(dt), free(a);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* attention */

typedef struct {
    int B, T, S, H, Hkv, hd, qs, kvs, causal;
    double scale;
    const double *q, *k, *v; /* views into the buffers below */
    double *qbuf, *kvbuf;    /* self: qbuf is the fused qkv, kvbuf NULL */
    double *bias;            /* [H, T, S] or NULL */
    double *table;           /* [NB, H] or NULL: bias from the T5 table */
    int NB, MD, bidir;
    double *dout; /* [B, T, H hd] */
} att_ctx;

static double att_bias(const att_ctx *c, int h, int i, int j) {
    if (c->table) return c->table[(long)bucket_ref(j - i, c->bidir, c->NB, c->MD) * c->H + h];
    if (c->bias) return c->bias[((long)h * c->T + i) * c->S + j];
    return 0.0;
}

/* p[j] (0 where masked) of row (b, h, i); returns lse */
static double att_row_p(const att_ctx *c, int b, int h, int i, double *p) {
    int g = h / (c->H / c->Hkv);
    const double *q = c->q + ((long)b * c->T + i) * c->qs + (long)h * c->hd;
    double mx = -INFINITY;
    for (int j = 0; j < c->S; j++) {
        if (c->causal && j > i) continue;
        const double *k = c->k + ((long)b * c->S + j) * c->kvs + (long)g * c->hd;
        double s = 0.0;
        for (int e = 0; e < c->hd; e++) s += q[e] * k[e];
        p[j] = c->scale * s + att_bias(c, h, i, j);
        mx = fmax(mx, p[j]);
    }
    double sum = 0.0;
    for (int j = 0; j < c->S; j++)
        if (!(c->causal && j > i)) sum += exp(p[j] - mx);
    double lse = mx + log(sum);
    for (int j = 0; j < c->S; j++) p[j] = (c->causal && j > i) ? 0.0 : exp(p[j] - lse);
    return lse;
}

static void att_ref(const att_ctx *c, double *out, double *lse) {
    double *p = zd(c->S);
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->H; h++) {
            int g = h / (c->H / c->Hkv);
            for (int i = 0; i < c->T; i++) {
                double l = att_row_p(c, b, h, i, p);
                if (lse) lse[((long)b * c->H + h) * c->T + i] = l;
                double *o = out + ((long)b * c->T + i) * c->H * c->hd + (long)h * c->hd;
                for (int e = 0; e < c->hd; e++) {
                    double s = 0.0;
                    for (int j = 0; j < c->S; j++)
                        s += p[j] * c->v[((long)b * c->S + j) * c->kvs + (long)g * c->hd + e];
                    o[e] = s;
                }
            }
        }
    free(p);
}

static double att_loss(const void *pc) {
    const att_ctx *c = pc;
    long n = (long)c->B * c->T * c->H * c->hd;
    double *out = zd(n);
    att_ref(c, out, NULL);
    double L = dot_sum(out, c->dout, n);
    free(out);
    return L;
}

/* Analytic double gradients: dq, dk, dv point into gradient buffers laid out
 * like q, k, v; dbias [H, T, S] (may be NULL). */
static void att_ref_backward(const att_ctx *c, double *dq, double *dk, double *dv, double *dbias) {
    double *p = zd(c->S), *ds = zd(c->S);
    int hd = c->hd;
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->H; h++) {
            int g = h / (c->H / c->Hkv);
            for (int i = 0; i < c->T; i++) {
                att_row_p(c, b, h, i, p);
                const double *dout = c->dout + ((long)b * c->T + i) * c->H * hd + (long)h * hd;
                const double *q = c->q + ((long)b * c->T + i) * c->qs + (long)h * hd;
                double D = 0.0;
                for (int j = 0; j < c->S; j++) {
                    const double *v = c->v + ((long)b * c->S + j) * c->kvs + (long)g * hd;
                    double dp = 0.0;
                    for (int e = 0; e < hd; e++) dp += dout[e] * v[e];
                    ds[j] = dp;
                    D += p[j] * dp;
                }
                for (int j = 0; j < c->S; j++) {
                    long kv = ((long)b * c->S + j) * c->kvs + (long)g * hd;
                    double d = p[j] * (ds[j] - D);
                    for (int e = 0; e < hd; e++) {
                        dv[kv + e] += p[j] * dout[e];
                        dq[((long)b * c->T + i) * c->qs + (long)h * hd + e] += c->scale * d * c->k[kv + e];
                        dk[kv + e] += c->scale * d * q[e];
                    }
                    if (dbias) dbias[((long)h * c->T + i) * c->S + j] += d;
                }
            }
        }
    free(p), free(ds);
}

enum { BIAS_NONE, BIAS_FREE, BIAS_TABLE };

typedef struct {
    int B, T, S, H, Hkv, hd, causal, cross, bias_mode, use_fd;
} att_case;

static void run_att_case(att_case a, const char *name) {
    int B = a.B, T = a.T, H = a.H, Hkv = a.Hkv, hd = a.hd, S = a.cross ? a.S : a.T;
    int NB = 8, MD = 16, bidir = !a.causal;
    int qs, kvs;
    long nq, nkv;
    if (a.cross) {
        qs = H * hd, kvs = 2 * Hkv * hd;
        nq = (long)B * T * qs, nkv = (long)B * S * kvs;
    } else {
        qs = kvs = (H + 2 * Hkv) * hd;
        nq = (long)B * T * qs, nkv = 0;
    }
    long no = (long)B * T * H * hd, nb = (long)H * T * S, nl = (long)B * H * T;
    float scale = a.bias_mode == BIAS_TABLE ? 1.0f : (float)(1.0 / sqrt((double)hd));
    float amp = a.bias_mode == BIAS_TABLE ? 0.5f : 1.0f;
    float *qbuf = randf(nq, 0, amp), *kvbuf = a.cross ? randf(nkv, 0, amp) : NULL;
    const float *q = qbuf, *k = a.cross ? kvbuf : qbuf + H * hd,
                *v = a.cross ? kvbuf + Hkv * hd : qbuf + (H + Hkv) * hd;
    float *table = a.bias_mode == BIAS_TABLE ? randf((long)NB * H, 0, 1) : NULL;
    float *bias = a.bias_mode == BIAS_FREE ? randf(nb, 0, 1) : a.bias_mode == BIAS_TABLE ? zf(nb) : NULL;
    if (table) pp_cpu_relpos_bias_forward(bias, table, H, T, S, NB, MD, bidir);
    float *dout = randf(no, 0, 1), *out = zf(no), *lse = zf(nl);

    pp_cpu_attention_forward(out, lse, q, k, v, qs, kvs, B, T, S, H, Hkv, hd, scale, a.causal, bias);

    att_ctx c = {0};
    c.B = B, c.T = T, c.S = S, c.H = H, c.Hkv = Hkv, c.hd = hd, c.qs = qs, c.kvs = kvs, c.causal = a.causal;
    c.scale = scale, c.NB = NB, c.MD = MD, c.bidir = bidir;
    c.qbuf = to_d(qbuf, nq), c.kvbuf = a.cross ? to_d(kvbuf, nkv) : NULL;
    c.q = c.qbuf, c.k = a.cross ? c.kvbuf : c.qbuf + H * hd,
    c.v = a.cross ? c.kvbuf + Hkv * hd : c.qbuf + (H + Hkv) * hd;
    c.bias = a.bias_mode == BIAS_FREE ? to_d(bias, nb) : NULL;
    c.table = table ? to_d(table, (long)NB * H) : NULL;
    c.dout = to_d(dout, no);
    double *rout = zd(no), *rlse = zd(nl);
    att_ref(&c, rout, rlse);
    char what[160];
    snprintf(what, sizeof what, "%s: out", name);
    CHECK_CLOSE(out, rout, no, TOL, what);
    snprintf(what, sizeof what, "%s: lse", name);
    CHECK_CLOSE(lse, rlse, nl, TOL, what);

    /* kernel gradients (fused buffers, like q / k / v) */
    float *dqbuf = zf(nq), *dkvbuf = a.cross ? zf(nkv) : NULL;
    float *dq = dqbuf, *dk = a.cross ? dkvbuf : dqbuf + H * hd,
          *dv = a.cross ? dkvbuf + Hkv * hd : dqbuf + (H + Hkv) * hd;
    float *dbias = a.bias_mode != BIAS_NONE ? zf(nb) : NULL, *dtable = zf((long)NB * H);
    pp_cpu_attention_backward_input(dq, dk, dv, dbias, dout, out, lse, q, k, v, qs, kvs, B, T, S, H, Hkv, hd, scale,
                                    a.causal, bias);
    if (table) pp_cpu_relpos_bias_backward(dtable, dbias, H, T, S, NB, MD, bidir);

    /* reference gradients */
    double *gq = zd(nq), *gkv = zd(nkv), *gb = zd(nb), *gt = zd((long)NB * H);
    if (a.use_fd) {
        fd_grad(gq, c.qbuf, nq, att_loss, &c);
        if (a.cross) fd_grad(gkv, c.kvbuf, nkv, att_loss, &c);
        if (c.bias) fd_grad(gb, c.bias, nb, att_loss, &c);
        if (c.table) fd_grad(gt, c.table, (long)NB * H, att_loss, &c);
        /* the analytic reference agrees with the differences */
        double *aq = zd(nq), *akv = zd(nkv), *ab = zd(nb);
        double *adq = aq, *adk = a.cross ? akv : aq + H * hd, *adv = a.cross ? akv + Hkv * hd : aq + (H + Hkv) * hd;
        att_ref_backward(&c, adq, adk, adv, ab);
        for (long i = 0; i < nq; i++) ck_assert_msg(fabs(aq[i] - gq[i]) < 1e-6, "%s: analytic dq/dqkv", name);
        for (long i = 0; i < nkv; i++) ck_assert_msg(fabs(akv[i] - gkv[i]) < 1e-6, "%s: analytic dkv", name);
        if (c.bias)
            for (long i = 0; i < nb; i++) ck_assert_msg(fabs(ab[i] - gb[i]) < 1e-6, "%s: analytic dbias", name);
        free(aq), free(akv), free(ab);
    } else {
        double *gdq = gq, *gdk = a.cross ? gkv : gq + H * hd, *gdv = a.cross ? gkv + Hkv * hd : gq + (H + Hkv) * hd;
        att_ref_backward(&c, gdq, gdk, gdv, a.bias_mode != BIAS_NONE ? gb : NULL);
        if (c.table)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < T; i++)
                    for (int j = 0; j < S; j++)
                        gt[(long)bucket_ref(j - i, bidir, NB, MD) * H + h] += gb[((long)h * T + i) * S + j];
    }
    snprintf(what, sizeof what, "%s: %s", name, a.cross ? "dq" : "dqkv");
    CHECK_CLOSE(dqbuf, gq, nq, TOL, what);
    if (a.cross) {
        snprintf(what, sizeof what, "%s: dkv", name);
        CHECK_CLOSE(dkvbuf, gkv, nkv, TOL, what);
    }
    if (a.bias_mode == BIAS_FREE || (a.bias_mode == BIAS_TABLE && !a.use_fd)) {
        snprintf(what, sizeof what, "%s: dbias", name);
        CHECK_CLOSE(dbias, gb, nb, TOL, what);
    }
    if (table) {
        snprintf(what, sizeof what, "%s: dtable", name);
        CHECK_CLOSE(dtable, gt, (long)NB * H, TOL, what);
    }

    /* accumulation */
    float *aq = dupf(dqbuf, nq), *akv = a.cross ? dupf(dkvbuf, nkv) : NULL, *ab = dbias ? dupf(dbias, nb) : NULL;
    pp_cpu_attention_backward_input(dq, dk, dv, dbias, dout, out, lse, q, k, v, qs, kvs, B, T, S, H, Hkv, hd, scale,
                                    a.causal, bias);
    check_doubled(aq, dqbuf, nq, "attention dq x2");
    if (a.cross) check_doubled(akv, dkvbuf, nkv, "attention dkv x2");
    if (dbias) check_doubled(ab, dbias, nb, "attention dbias x2");

    free(qbuf), free(kvbuf), free(table), free(bias), free(dout), free(out), free(lse);
    free(c.qbuf), free(c.kvbuf), free(c.bias), free(c.table), free(c.dout), free(rout), free(rlse);
    free(dqbuf), free(dkvbuf), free(dbias), free(dtable), free(gq), free(gkv), free(gb), free(gt);
    free(aq), free(akv), free(ab);
}

START_TEST(test_attention_small) {
    rng_seed(7);
    /* B, T, S, H, Hkv, hd, causal, cross, bias, fd */
    run_att_case((att_case){2, 5, 0, 4, 2, 8, 1, 0, BIAS_NONE, 1}, "causal gqa");
    run_att_case((att_case){2, 5, 0, 4, 2, 8, 0, 0, BIAS_NONE, 1}, "bidirectional gqa");
    run_att_case((att_case){2, 5, 7, 4, 2, 8, 0, 1, BIAS_NONE, 1}, "cross gqa");
    run_att_case((att_case){2, 4, 6, 4, 4, 8, 0, 1, BIAS_NONE, 1}, "cross mha");
    run_att_case((att_case){2, 5, 0, 4, 2, 8, 1, 0, BIAS_FREE, 1}, "causal gqa + bias");
    run_att_case((att_case){2, 5, 0, 4, 2, 8, 0, 0, BIAS_FREE, 1}, "bidirectional gqa + bias");
    run_att_case((att_case){1, 12, 0, 2, 2, 8, 1, 0, BIAS_TABLE, 1}, "causal relpos table");
    run_att_case((att_case){1, 12, 0, 2, 2, 8, 0, 0, BIAS_TABLE, 1}, "bidirectional relpos table");
}
END_TEST

/* sizes past one block of query rows, against the analytic reference */
START_TEST(test_attention_blocks) {
    rng_seed(8);
    run_att_case((att_case){2, 70, 0, 4, 2, 16, 1, 0, BIAS_NONE, 0}, "causal T=70");
    run_att_case((att_case){2, 70, 0, 4, 2, 16, 0, 0, BIAS_NONE, 0}, "bidirectional T=70");
    run_att_case((att_case){2, 70, 90, 4, 2, 16, 0, 1, BIAS_NONE, 0}, "cross T=70 S=90");
    run_att_case((att_case){2, 130, 0, 4, 2, 8, 1, 0, BIAS_FREE, 0}, "causal T=130 + bias");
    run_att_case((att_case){2, 70, 0, 3, 3, 8, 0, 0, BIAS_TABLE, 0}, "bidirectional T=70 relpos");
    run_att_case((att_case){1, 70, 0, 3, 3, 8, 1, 0, BIAS_TABLE, 0}, "causal T=70 relpos");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* elementwise */

typedef struct {
    int op;   /* 0 gelu tanh, 1 gelu erf, 2 relu, 3 swiglu */
    int M, F; /* elementwise: n = M * F */
    double *x, *dout;
} ew_ctx;

static void ew_ref(const ew_ctx *c, double *out) {
    long n = (long)c->M * c->F;
    if (c->op == 3) {
        for (int r = 0; r < c->M; r++)
            for (int f = 0; f < c->F; f++) {
                double g = c->x[(long)r * 2 * c->F + f], u = c->x[(long)r * 2 * c->F + c->F + f];
                out[(long)r * c->F + f] = g / (1.0 + exp(-g)) * u;
            }
        return;
    }
    for (long i = 0; i < n; i++) {
        double x = c->x[i];
        if (c->op == 0)
            out[i] = 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
        else if (c->op == 1)
            out[i] = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
        else
            out[i] = x > 0 ? x : 0.0;
    }
}

static double ew_loss(const void *p) {
    const ew_ctx *c = p;
    long n = (long)c->M * c->F;
    double *out = zd(n);
    ew_ref(c, out);
    double L = dot_sum(out, c->dout, n);
    free(out);
    return L;
}

static void check_ew(int op) {
    int M = 6, F = 37;
    long n = (long)M * F, nx = op == 3 ? 2 * n : n;
    float *x = randf(nx, 0, 3), *dout = randf(n, 0, 1), *out = zf(n), *dx = zf(nx);
    for (long i = 0; i < nx; i++)
        if (fabsf(x[i]) < 1e-3f) x[i] = 0.5f; /* keep relu's kink away from the differences */
    if (op <= 1) {
        pp_cpu_gelu_forward(out, x, n, op == 0);
        pp_cpu_gelu_backward_input(dx, dout, x, n, op == 0);
    } else if (op == 2) {
        pp_cpu_relu_forward(out, x, n);
        pp_cpu_relu_backward_input(dx, dout, x, n);
    } else {
        pp_cpu_swiglu_forward(out, x, M, F);
        pp_cpu_swiglu_backward_input(dx, dout, x, M, F);
    }
    ew_ctx c = {op, M, F, to_d(x, nx), to_d(dout, n)};
    double *ref = zd(n), *fx = zd(nx);
    ew_ref(&c, ref);
    static const char *names[] = {"gelu tanh", "gelu erf", "relu", "swiglu"};
    CHECK_CLOSE(out, ref, n, 1e-5, names[op]);
    fd_grad(fx, c.x, nx, ew_loss, &c);
    CHECK_CLOSE(dx, fx, nx, TOL, names[op]);
    float *a = dupf(dx, nx);
    if (op <= 1)
        pp_cpu_gelu_backward_input(dx, dout, x, n, op == 0);
    else if (op == 2)
        pp_cpu_relu_backward_input(dx, dout, x, n);
    else
        pp_cpu_swiglu_backward_input(dx, dout, x, M, F);
    check_doubled(a, dx, nx, names[op]);
    free(x), free(dout), free(out), free(dx), free(c.x), free(c.dout), free(ref), free(fx), free(a);
}

START_TEST(test_gelu) {
    rng_seed(9);
    check_ew(0);
    check_ew(1);
    /* large n takes the OpenMP path; same values as element by element */
    long n = 100003;
    float *x = randf(n, 0, 4), *o = zf(n), *o1 = zf(n);
    pp_cpu_gelu_forward(o, x, n, 1);
    for (long i = 0; i < n; i += 997) pp_cpu_gelu_forward(o1 + i, x + i, 1, 1);
    for (long i = 0; i < n; i += 997) ck_assert(o[i] == o1[i]);
    free(x), free(o), free(o1);
}
END_TEST

START_TEST(test_relu) {
    rng_seed(10);
    check_ew(2);
    float x[3] = {0.0f, -1.0f, 2.0f}, dout[3] = {1.0f, 1.0f, 1.0f}, dx[3] = {0}, out[3];
    pp_cpu_relu_forward(out, x, 3);
    pp_cpu_relu_backward_input(dx, dout, x, 3);
    ck_assert(out[0] == 0.0f && out[1] == 0.0f && out[2] == 2.0f);
    ck_assert(dx[0] == 0.0f && dx[1] == 0.0f && dx[2] == 1.0f); /* gradient at 0 is 0 */
}
END_TEST

START_TEST(test_swiglu) {
    rng_seed(11);
    check_ew(3);
}
END_TEST

START_TEST(test_add_accumulate) {
    rng_seed(12);
    long n = 70001; /* past the OpenMP threshold */
    float *a = randf(n, 0, 1), *b = randf(n, 0, 1), *out = zf(n), *acc = randf(n, 0, 1), *acc0 = zf(n);
    memcpy(acc0, acc, sizeof(float) * (size_t)n);
    pp_cpu_add_forward(out, a, b, n);
    for (long i = 0; i < n; i++) ck_assert(out[i] == a[i] + b[i]);
    pp_cpu_accumulate(acc, a, n);
    pp_cpu_accumulate(acc, b, n);
    for (long i = 0; i < n; i++) ck_assert(acc[i] == (acc0[i] + a[i]) + b[i]);
    free(a), free(b), free(out), free(acc), free(acc0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* pooler */

typedef struct {
    int B, T, D;
    double *x, *w, *b, *dout;
} pool_ctx;

static void pool_ref(const pool_ctx *c, double *y) {
    for (int b = 0; b < c->B; b++)
        for (int n = 0; n < c->D; n++) {
            double s = c->b[n];
            for (int d = 0; d < c->D; d++) s += c->x[(long)b * c->T * c->D + d] * c->w[(long)n * c->D + d];
            y[(long)b * c->D + n] = tanh(s);
        }
}

static double pool_loss(const void *p) {
    const pool_ctx *c = p;
    double *y = zd((long)c->B * c->D);
    pool_ref(c, y);
    double L = dot_sum(y, c->dout, (long)c->B * c->D);
    free(y);
    return L;
}

START_TEST(test_pooler) {
    rng_seed(13);
    int B = 3, T = 4, D = 6;
    long nx = (long)B * T * D;
    float *x = randf(nx, 0, 1), *w = randf((long)D * D, 0, 0.5), *b = randf(D, 0, 0.5),
          *dout = randf((long)B * D, 0, 1);
    float *y = zf((long)B * D);
    pp_cpu_pooler_forward(y, x, w, b, B, T, D);
    pool_ctx c = {B, T, D, to_d(x, nx), to_d(w, (long)D * D), to_d(b, D), to_d(dout, (long)B * D)};
    double *ry = zd((long)B * D);
    pool_ref(&c, ry);
    CHECK_CLOSE(y, ry, (long)B * D, TOL, "pooler out");

    float *dx0 = randf(nx, 0, 1), *dx = dupf(dx0, nx), *dw = zf((long)D * D), *db = zf(D);
    pp_cpu_pooler_backward_input(dx, dout, y, w, B, T, D);
    pp_cpu_pooler_backward_weight(dw, db, dout, y, x, B, T, D);
    double *fx = zd(nx), *fw = zd((long)D * D), *fb = zd(D);
    fd_grad(fx, c.x, nx, pool_loss, &c);
    fd_grad(fw, c.w, (long)D * D, pool_loss, &c);
    fd_grad(fb, c.b, D, pool_loss, &c);
    float *gx = zf(nx);
    for (long i = 0; i < nx; i++) gx[i] = dx[i] - dx0[i];
    for (long i = 0; i < nx; i++)
        if ((i / D) % T != 0) ck_assert(dx[i] == dx0[i]); /* rows other than 0 untouched */
    CHECK_CLOSE(gx, fx, nx, 1e-3, "pooler dx");           /* (dx0 + g) - dx0 loses a few bits */
    CHECK_CLOSE(dw, fw, (long)D * D, TOL, "pooler dw");
    CHECK_CLOSE(db, fb, D, TOL, "pooler db");

    float *aw = dupf(dw, (long)D * D), *ab = dupf(db, D);
    pp_cpu_pooler_backward_weight(dw, db, dout, y, x, B, T, D);
    check_doubled(aw, dw, (long)D * D, "pooler dw x2");
    check_doubled(ab, db, D, "pooler db x2");

    free(x), free(w), free(b), free(dout), free(y), free(c.x), free(c.w), free(c.b), free(c.dout), free(ry);
    free(dx0), free(dx), free(dw), free(db), free(fx), free(fw), free(fb), free(gx), free(aw), free(ab);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* lm head */

typedef struct {
    int M, D, V;
    double scale, g;
    double *x, *w;
    const int32_t *labels;
} lm_ctx;

/* mean loss over valid rows (probs [M, V] when not NULL); *nv their count */
static double lm_ref(const lm_ctx *c, double *probs, int *nv) {
    double loss = 0.0;
    int n = 0;
    double *l = zd(c->V);
    for (int r = 0; r < c->M; r++) {
        double mx = -INFINITY, s = 0.0;
        for (int j = 0; j < c->V; j++) {
            double z = 0.0;
            for (int d = 0; d < c->D; d++) z += c->x[(long)r * c->D + d] * c->w[(long)j * c->D + d];
            l[j] = c->scale * z;
            mx = fmax(mx, l[j]);
        }
        for (int j = 0; j < c->V; j++) s += exp(l[j] - mx);
        double lse = mx + log(s);
        if (probs)
            for (int j = 0; j < c->V; j++) probs[(long)r * c->V + j] = exp(l[j] - lse);
        if (c->labels[r] >= 0) {
            loss += lse - l[c->labels[r]];
            n++;
        }
    }
    free(l);
    if (nv) *nv = n;
    return n ? loss / n : 0.0;
}

static double lm_loss(const void *p) {
    const lm_ctx *c = p;
    return c->g * lm_ref(c, NULL, NULL);
}

START_TEST(test_lm_head) {
    rng_seed(14);
    int M = 6, D = 8, V = 11;
    float scale = 0.5f, g = 0.5f;
    int32_t labels[6] = {3, -1, 10, 0, -1, 3};
    float *x = randf((long)M * D, 0, 1), *w = randf((long)V * D, 0, 1), *probs = zf((long)M * V);
    int nv = -1;
    float loss = pp_cpu_lm_head_forward(probs, x, w, labels, M, D, V, scale, &nv);
    lm_ctx c = {M, D, V, scale, g, to_d(x, (long)M * D), to_d(w, (long)V * D), labels};
    double *rp = zd((long)M * V);
    int rnv;
    double rloss = lm_ref(&c, rp, &rnv);
    ck_assert_int_eq(nv, 4);
    ck_assert_int_eq(rnv, 4);
    ck_assert_msg(fabs(loss - rloss) <= 1e-5 * fabs(rloss), "lm loss %g vs %g", (double)loss, rloss);
    CHECK_CLOSE(probs, rp, (long)M * V, TOL, "lm probs");

    float *dx = zf((long)M * D), *dw = zf((long)V * D);
    pp_cpu_lm_head_backward_input(dx, probs, w, labels, M, D, V, scale, g, nv);
    pp_cpu_lm_head_backward_weight(dw, probs, x, M, D, V, scale);
    double *fx = zd((long)M * D), *fw = zd((long)V * D);
    fd_grad(fx, c.x, (long)M * D, lm_loss, &c);
    fd_grad(fw, c.w, (long)V * D, lm_loss, &c);
    CHECK_CLOSE(dx, fx, (long)M * D, TOL, "lm dx");
    CHECK_CLOSE(dw, fw, (long)V * D, TOL, "lm dw");
    for (int j = 0; j < V; j++) ck_assert(probs[1 * V + j] == 0.0f && probs[4 * V + j] == 0.0f); /* ignored rows */
    for (int d = 0; d < D; d++) ck_assert(dx[1 * D + d] == 0.0f && dx[4 * D + d] == 0.0f);

    float *aw = dupf(dw, (long)V * D);
    pp_cpu_lm_head_backward_weight(dw, probs, x, M, D, V, scale);
    check_doubled(aw, dw, (long)V * D, "lm dw x2");

    /* every label ignored: loss 0, n_valid 0, no gradient */
    int32_t none[6] = {-1, -1, -1, -1, -1, -1};
    float *dx2 = zf((long)M * D);
    loss = pp_cpu_lm_head_forward(probs, x, w, none, M, D, V, scale, &nv);
    ck_assert(loss == 0.0f);
    ck_assert_int_eq(nv, 0);
    pp_cpu_lm_head_backward_input(dx2, probs, w, none, M, D, V, scale, g, nv);
    for (long i = 0; i < (long)M * D; i++) ck_assert(dx2[i] == 0.0f);

    free(x), free(w), free(probs), free(c.x), free(c.w), free(rp), free(dx), free(dw), free(fx), free(fw), free(aw),
        free(dx2);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* optimizer */

START_TEST(test_adamw) {
    rng_seed(15);
    long n = 37;
    float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.1f, gs = 0.5f;
    float *p = randf(n, 0, 1), *m = zf(n), *v = zf(n);
    double *rp = to_d(p, n), *rm = zd(n), *rv = zd(n);
    for (int t = 1; t <= 3; t++) {
        float *g = randf(n, 0, 1);
        pp_cpu_adamw(p, g, m, v, n, lr, b1, b2, eps, wd, t, gs);
        double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
        for (long i = 0; i < n; i++) {
            double gi = (double)g[i] * gs;
            rp[i] *= 1.0 - (double)lr * wd;
            rm[i] = b1 * rm[i] + (1.0 - b1) * gi;
            rv[i] = b2 * rv[i] + (1.0 - b2) * gi * gi;
            rp[i] -= lr / bc1 * rm[i] / (sqrt(rv[i]) / sqrt(bc2) + eps);
        }
        CHECK_CLOSE(p, rp, n, 1e-5, "adamw p");
        CHECK_CLOSE(m, rm, n, 1e-5, "adamw m");
        CHECK_CLOSE(v, rv, n, 1e-5, "adamw v");
        free(g);
    }
    free(p), free(m), free(v), free(rp), free(rm), free(rv);
}
END_TEST

START_TEST(test_sumsq) {
    rng_seed(16);
    static const long sizes[] = {1, 5, 65535, 65537, 1000003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        long n = sizes[k];
        float *x = randf(n, 0, 2);
        double ref = 0.0;
        for (long i = 0; i < n; i++) ref += (double)x[i] * x[i];
        double got = pp_cpu_sumsq(x, n);
        ck_assert_msg(fabs(got - ref) <= 1e-12 * ref, "sumsq n=%ld: %.17g vs %.17g", n, got, ref);
        free(x);
    }
    ck_assert(pp_cpu_sumsq(NULL, 0) == 0.0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* results do not depend on the thread count */

START_TEST(test_thread_count_independent) {
    rng_seed(17);
    int n0 = pp_cpu_get_threads();
    int B = 2, T = 100, H = 4, Hkv = 2, hd = 16, C = (H + 2 * Hkv) * hd, M = B * T, D = 200;
    long nq = (long)M * C, no = (long)M * H * hd, nb = (long)H * T * T;
    float *qkv = randf(nq, 0, 1), *dout = randf(no, 0, 1), *bias = randf(nb, 0, 1), *x = randf((long)M * D, 0, 1);
    float *g = randf(D, 1, 0.5), *dy = randf((long)M * D, 0, 1);
    float *out[2], *lse[2], *dqkv[2], *dbias[2], *ln[2], *dx[2], *dg[2], *mean = zf(M), *rstd = zf(M);
    double ss[2];
    for (int k = 0; k < 2; k++) {
        pp_cpu_set_threads(k == 0 ? 1 : 3);
        out[k] = zf(no), lse[k] = zf((long)B * H * T), dqkv[k] = zf(nq), dbias[k] = zf(nb);
        ln[k] = zf((long)M * D), dx[k] = zf((long)M * D), dg[k] = zf(D);
        for (int withb = 0; withb < 2; withb++) {
            pp_cpu_attention_forward(out[k], lse[k], qkv, qkv + H * hd, qkv + (H + Hkv) * hd, C, C, B, T, T, H, Hkv, hd,
                                     0.25f, 1, withb ? bias : NULL);
            pp_cpu_attention_backward_input(
                dqkv[k], dqkv[k] + H * hd, dqkv[k] + (H + Hkv) * hd, withb ? dbias[k] : NULL, dout, out[k], lse[k], qkv,
                qkv + H * hd, qkv + (H + Hkv) * hd, C, C, B, T, T, H, Hkv, hd, 0.25f, 1, withb ? bias : NULL);
        }
        pp_cpu_layernorm_forward(ln[k], mean, rstd, x, g, NULL, M, D, 1e-5f);
        pp_cpu_layernorm_backward_input(dx[k], dy, x, mean, rstd, g, M, D);
        pp_cpu_layernorm_backward_weight(dg[k], NULL, dy, x, mean, rstd, M, D);
        ss[k] = pp_cpu_sumsq(x, (long)M * D);
    }
    pp_cpu_set_threads(n0);
    ck_assert(memcmp(out[0], out[1], sizeof(float) * (size_t)no) == 0);
    ck_assert(memcmp(lse[0], lse[1], sizeof(float) * (size_t)B * H * T) == 0);
    ck_assert(memcmp(dqkv[0], dqkv[1], sizeof(float) * (size_t)nq) == 0);
    ck_assert(memcmp(dbias[0], dbias[1], sizeof(float) * (size_t)nb) == 0);
    ck_assert(memcmp(ln[0], ln[1], sizeof(float) * (size_t)M * D) == 0);
    ck_assert(memcmp(dx[0], dx[1], sizeof(float) * (size_t)M * D) == 0);
    ck_assert(memcmp(dg[0], dg[1], sizeof(float) * (size_t)D) == 0);
    ck_assert(ss[0] == ss[1]);
    for (int k = 0; k < 2; k++)
        free(out[k]), free(lse[k]), free(dqkv[k]), free(dbias[k]), free(ln[k]), free(dx[k]), free(dg[k]);
    free(qkv), free(dout), free(bias), free(x), free(g), free(dy), free(mean), free(rstd);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *cpu_kernels_suite(void) {
    Suite *s = suite_create("cpu_kernels");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 300); /* the finite differences are slow under sanitizers */
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_expf);
    tcase_add_test(tc, test_embedding);
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_rmsnorm);
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_rope);
    tcase_add_test(tc, test_relpos_bucket);
    tcase_add_test(tc, test_relpos_bias);
    tcase_add_test(tc, test_attention_small);
    tcase_add_test(tc, test_attention_blocks);
    tcase_add_test(tc, test_gelu);
    tcase_add_test(tc, test_relu);
    tcase_add_test(tc, test_swiglu);
    tcase_add_test(tc, test_add_accumulate);
    tcase_add_test(tc, test_pooler);
    tcase_add_test(tc, test_lm_head);
    tcase_add_test(tc, test_adamw);
    tcase_add_test(tc, test_sumsq);
    tcase_add_test(tc, test_thread_count_independent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    Suite *suite = cpu_kernels_suite();
    return pp_test_run(suite);
}
