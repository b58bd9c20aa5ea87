/*
 * pp_linkprof.c -- ping-pong and streaming between rank pairs, and the
 * alpha-beta fit, and which pairs to measure on many ranks (see
 * pp_linkprof.h).
 */
#include "core/pp_stats.h"
#include "profiler/pp_linkprof.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_PING = 101, TAG_STREAM = 102, TAG_ACK = 103, TAG_RESULT = 104 };

void pp_linkprof_opts_default(pp_linkprof_opts *o) {
    *o = (pp_linkprof_opts){
        .min_bytes = 8,
        .max_bytes = (size_t)64 << 20,
        .factor = 4,
        .warmup = 1,
        .min_reps = 3,
        .max_reps = 50,
        .rep_bytes = (size_t)256 << 20,
        .min_stream = 2,
        .max_stream = 64,
        .stream_bytes = (size_t)64 << 20,
        .sample_above = 8,
        .max_host_pairs = 256,
    };
}

static int check_opts(const pp_linkprof_opts *o, pp_err *err) {
    if (!o) return pp_err_set(err, PP_ERR_INVALID, "link profile: no options");
    if (o->min_bytes < 1 || o->max_bytes < o->min_bytes || o->max_bytes > PP_COMM_MAX_BYTES)
        return pp_err_set(err, PP_ERR_INVALID, "link profile: sizes %zu..%zu bytes: need 1 <= min <= max <= %zu",
                          o->min_bytes, o->max_bytes, PP_COMM_MAX_BYTES);
    if (o->factor < 2) return pp_err_set(err, PP_ERR_INVALID, "link profile: size factor %d is under 2", o->factor);
    if (o->warmup < 0 || o->min_reps < 1 || o->max_reps < o->min_reps)
        return pp_err_set(err, PP_ERR_INVALID, "link profile: warmup %d, repetitions %d..%d: need warmup >= 0 and 1 <= min <= max",
                          o->warmup, o->min_reps, o->max_reps);
    if (o->min_stream < 1 || o->max_stream < o->min_stream)
        return pp_err_set(err, PP_ERR_INVALID, "link profile: stream length %d..%d: need 1 <= min <= max",
                          o->min_stream, o->max_stream);
    if (o->sample_above < 0 || o->max_host_pairs < 0)
        return pp_err_set(err, PP_ERR_INVALID, "link profile: sample above %d ranks, %d host pairs: need >= 0",
                          o->sample_above, o->max_host_pairs);
    return 0;
}

int pp_linkprof_sizes(const pp_linkprof_opts *o, double *sizes, int *n, pp_err *err) {
    if (check_opts(o, err)) return -1;
    int k = 0;
    size_t s = o->min_bytes;
    for (;;) {
        if (k == PP_LINK_MAX_SIZES)
            return pp_err_set(err, PP_ERR_INVALID, "link profile: sizes %zu..%zu by x%d give more than %d sizes",
                              o->min_bytes, o->max_bytes, o->factor, PP_LINK_MAX_SIZES);
        sizes[k++] = (double)s;
        if (s > o->max_bytes / (size_t)o->factor) break;
        s *= (size_t)o->factor;
    }
    if (s != o->max_bytes) {
        if (k == PP_LINK_MAX_SIZES)
            return pp_err_set(err, PP_ERR_INVALID, "link profile: more than %d sizes", PP_LINK_MAX_SIZES);
        sizes[k++] = (double)o->max_bytes;
    }
    *n = k;
    return 0;
}

int pp_linkprof_fit(const double *n, const double *t, int k, double *alpha, double *beta, double *residual) {
    if (!n || !t || !alpha || !beta || !residual || k < 2) return -1;
    int distinct = 0;
    for (int i = 0; i < k; i++) {
        if (!isfinite(n[i]) || n[i] < 0 || !isfinite(t[i]) || t[i] <= 0) return -1;
        if (n[i] != n[0]) distinct = 1;
    }
    if (!distinct) return -1;
    /* Rows (1/t_i, n_i/t_i), target 1: least squares by modified Gram-Schmidt. */
    double uu = 0;
    for (int i = 0; i < k; i++) uu += 1.0 / (t[i] * t[i]);
    double r11 = sqrt(uu), r12 = 0, c1 = 0;
    for (int i = 0; i < k; i++) {
        double q1 = 1.0 / t[i] / r11;
        r12 += q1 * (n[i] / t[i]);
        c1 += q1;
    }
    double ww = 0, vv = 0;
    for (int i = 0; i < k; i++) {
        double v = n[i] / t[i], w = v - r12 * (1.0 / t[i] / r11);
        ww += w * w;
        vv += v * v;
    }
    double r22 = sqrt(ww);
    if (!(r22 > 1e-12 * sqrt(vv))) return -1;
    double c2 = 0;
    for (int i = 0; i < k; i++) c2 += (n[i] / t[i] - r12 * (1.0 / t[i] / r11)) / r22;
    double b = c2 / r22, a = (c1 - r12 * b) / r11;
    if (a < 0) { /* refit through the origin: minimise sum (b v_i - 1)^2 */
        double sv = 0;
        for (int i = 0; i < k; i++) sv += n[i] / t[i];
        a = 0;
        b = sv / vv;
    }
    /* b must be positive and matter: flat times, up to rounding, are refused. */
    double nmax = 0, tmax = 0;
    for (int i = 0; i < k; i++)
        if (n[i] > nmax) nmax = n[i], tmax = t[i];
    if (!(b * nmax > 1e-9 * tmax) || !isfinite(a) || !isfinite(b)) return -1;
    double ss = 0;
    for (int i = 0; i < k; i++) {
        double r = (a + b * n[i] - t[i]) / t[i];
        ss += r * r;
    }
    *alpha = a;
    *beta = 1.0 / b;
    *residual = sqrt(ss / k);
    return 0;
}

int pp_linkprof_pairs(const pp_linkprof_opts *o, int n_ranks, const char (*hosts)[128], int **pairs, int *n_pairs,
                      pp_err *err) {
    if (!pairs || !n_pairs) return pp_err_set(err, PP_ERR_INVALID, "link pairs: missing argument");
    *pairs = NULL;
    *n_pairs = 0;
    if (check_opts(o, err)) return -1;
    if (n_ranks < 1) return pp_err_set(err, PP_ERR_INVALID, "link pairs: %d ranks", n_ranks);
    if (n_ranks == 1) return 0;
    int n = n_ranks;
    if (o->sample_above == 0 || n <= o->sample_above) {
        int *p = pp_malloc((unsigned long long)n * (unsigned long long)(n - 1) * 2 * sizeof(int), err);
        if (!p) return -1;
        int k = 0;
        for (int s = 0; s < n; s++)
            for (int d = 0; d < n; d++)
                if (s != d) {
                    p[2 * k] = s;
                    p[2 * k + 1] = d;
                    k++;
                }
        *pairs = p;
        *n_pairs = k;
        return 0;
    }
    /* host[r]: the number of rank r's host, numbered by first rank; first[h]
     * that first rank. */
    int *host = pp_calloc((unsigned long long)n, sizeof(int), err);
    int *first = pp_calloc((unsigned long long)n, sizeof(int), err);
    int *p = pp_malloc(((unsigned long long)2 * n + (unsigned long long)o->max_host_pairs) * 2 * sizeof(int), err);
    unsigned char *joined = NULL;
    int n_hosts = 0, k = 0, rc = -1;
    if (!host || !first || !p) goto done;
    for (int r = 0; r < n; r++) {
        int h = 0;
        while (hosts && h < n_hosts && strncmp(hosts[first[h]], hosts[r], 128) != 0) h++;
        if (!hosts) h = 0;
        if (h == n_hosts) first[n_hosts++] = r;
        host[r] = h;
    }
    if (!(joined = pp_calloc((unsigned long long)n_hosts * (unsigned long long)n_hosts, 1, err))) goto done;
    for (int r = 0; r < n; r++) {
        int a = r, b = (r + 1) % n;
        for (int dir = 0; dir < 2; dir++) {
            int s = dir ? b : a, d = dir ? a : b, dup = 0;
            for (int j = 0; n == 2 && j < k; j++) dup |= p[2 * j] == s && p[2 * j + 1] == d;
            if (dup) continue;
            p[2 * k] = s;
            p[2 * k + 1] = d;
            k++;
            joined[(size_t)host[s] * (size_t)n_hosts + (size_t)host[d]] = 1;
        }
    }
    int extra = 0;
    for (int a = 0; a < n_hosts && extra < o->max_host_pairs; a++)
        for (int b = 0; b < n_hosts && extra < o->max_host_pairs; b++) {
            if (a == b || joined[(size_t)a * (size_t)n_hosts + (size_t)b]) continue;
            p[2 * k] = first[a];
            p[2 * k + 1] = first[b];
            k++;
            extra++;
        }
    *pairs = p;
    *n_pairs = k;
    p = NULL;
    rc = 0;
done:
    free(host);
    free(first);
    free(p);
    free(joined);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int clamp_count(size_t budget, size_t n, int lo, int hi) {
    size_t q = budget / (n ? n : 1);
    if (q < (size_t)lo) return lo;
    if (q > (size_t)hi) return hi;
    return (int)q;
}

/* One pair: src measures (and fills r), dst echoes. */
static int measure_pair(pp_comm *c, const pp_linkprof_opts *o, int src, int dst, char *buf,
                        pp_link_result *r, pp_err *err) {
    int me = pp_comm_rank(c);
    double sizes[PP_LINK_MAX_SIZES], samples[64];
    int ns = 0;
    if (pp_linkprof_sizes(o, sizes, &ns, err)) return -1;
    int max_reps = o->max_reps < 64 ? o->max_reps : 64;
    int min_reps = o->min_reps < max_reps ? o->min_reps : max_reps;
    char ack = 0;
    for (int si = 0; si < ns; si++) {
        size_t n = (size_t)sizes[si];
        int reps = clamp_count(o->rep_bytes, n, min_reps, max_reps);
        int k = clamp_count(o->stream_bytes, n, o->min_stream, o->max_stream);
        /* ping-pong */
        for (int i = 0; i < o->warmup + reps; i++) {
            if (me == src) {
                double t0 = now_s();
                if (pp_comm_send(c, buf, n, dst, TAG_PING, err) || pp_comm_recv(c, buf, n, dst, TAG_PING, err))
                    return -1;
                if (i >= o->warmup) samples[i - o->warmup] = 0.5 * (now_s() - t0);
            } else if (pp_comm_recv(c, buf, n, src, TAG_PING, err) || pp_comm_send(c, buf, n, src, TAG_PING, err)) {
                return -1;
            }
        }
        if (me == src) r->t_pingpong[si] = pp_stats_median(samples, reps);
        /* streaming */
        for (int i = 0; i < o->warmup + reps; i++) {
            if (me == src) {
                double t0 = now_s();
                for (int j = 0; j < k; j++)
                    if (pp_comm_send(c, buf, n, dst, TAG_STREAM, err)) return -1;
                if (pp_comm_recv(c, &ack, 0, dst, TAG_ACK, err)) return -1;
                if (i >= o->warmup) samples[i - o->warmup] = (now_s() - t0) / k;
            } else {
                for (int j = 0; j < k; j++)
                    if (pp_comm_recv(c, buf, n, src, TAG_STREAM, err)) return -1;
                if (pp_comm_send(c, &ack, 0, src, TAG_ACK, err)) return -1;
            }
        }
        if (me == src) {
            r->t_stream[si] = pp_stats_median(samples, reps);
            r->sizes[si] = sizes[si];
        }
    }
    if (me != src) return 0;
    r->n_sizes = ns;
    if (pp_linkprof_fit(r->sizes, r->t_pingpong, ns, &r->alpha_s, &r->beta_Bps, &r->residual))
        return pp_err_set(err, PP_ERR_INVALID,
                          "link profile %d -> %d: no alpha-beta fit: the ping-pong times (%.3g s at %.0f B .. %.3g s at %.0f B) do not grow with size",
                          src, dst, r->t_pingpong[0], r->sizes[0], r->t_pingpong[ns - 1], r->sizes[ns - 1]);
    return 0;
}

int pp_linkprof_run(pp_comm *c, const pp_linkprof_opts *o, const int *pairs, int n_pairs,
                    pp_link_result **out, int *n_out, pp_err *err) {
    if (!c || !out || !n_out) return pp_err_set(err, PP_ERR_INVALID, "link profile: missing argument");
    *out = NULL;
    *n_out = 0;
    if (check_opts(o, err)) return -1;
    int me = pp_comm_rank(c), size = pp_comm_size(c);
    int np = pairs ? n_pairs : 0;
    if (pairs && n_pairs < 0) return pp_err_set(err, PP_ERR_INVALID, "link profile: %d pairs", n_pairs);
    for (int i = 0; pairs && i < n_pairs; i++) {
        int s = pairs[2 * i], d = pairs[2 * i + 1];
        if (s < 0 || s >= size || d < 0 || d >= size || s == d)
            return pp_err_set(err, PP_ERR_INVALID, "link profile: pair %d -> %d is not two distinct ranks of 0..%d",
                              s, d, size - 1);
    }
    /* Host names of every rank, everywhere. */
    char(*hosts)[128] = pp_calloc((unsigned long long)size, 128, err);
    if (!hosts) return -1;
    char mine[128];
    pp_link_result *res = NULL;
    char *buf = NULL;
    int *chosen = NULL, rc = -1;
    memset(mine, 0, sizeof mine);
    if (pp_comm_hostname(c, mine, sizeof mine, err) || pp_comm_allgather(c, mine, sizeof mine, hosts, err))
        goto done;
    /* Every rank holds the same host names, so every rank chooses the same pairs. */
    if (!pairs) {
        if (pp_linkprof_pairs(o, size, (const char(*)[128])hosts, &chosen, &np, err)) goto done;
        pairs = chosen;
    }
    if (me == 0 && np > 0 && !(res = pp_calloc((unsigned long long)np, sizeof *res, err))) goto done;
    for (int p = 0; p < np; p++) {
        int s = pairs[2 * p], d = pairs[2 * p + 1];
        if (pp_comm_barrier(c, err)) goto done;
        if (me != s && me != d && me != 0) continue;
        pp_link_result r = {.src = s, .dst = d};
        memcpy(r.src_host, hosts[s], sizeof r.src_host);
        memcpy(r.dst_host, hosts[d], sizeof r.dst_host);
        if (me == s || me == d) {
            if (!buf && !(buf = pp_calloc(1, o->max_bytes, err))) goto done;
            if (measure_pair(c, o, s, d, buf, &r, err)) {
                pp_err_wrap(err, "link profile %d -> %d on rank %d", s, d, me);
                goto done;
            }
        }
        /* The result travels as bytes: every rank runs the same binary. */
        if (me == s && s != 0) {
            if (pp_comm_send(c, &r, sizeof r, 0, TAG_RESULT, err)) goto done;
        } else if (me == 0 && s != 0) {
            if (pp_comm_recv(c, &r, sizeof r, s, TAG_RESULT, err)) goto done;
        }
        if (me == 0) res[p] = r;
    }
    if (pp_comm_barrier(c, err)) goto done;
    if (me == 0) {
        *out = res;
        *n_out = np;
        res = NULL;
    }
    rc = 0;
done:
    free(res);
    free(buf);
    free(chosen);
    free(hosts);
    return rc;
}

int pp_linkprof_allreduce(pp_comm *c, const pp_linkprof_opts *o, double *alpha, double *beta, double *residual,
                          pp_err *err) {
    if (check_opts(o, err)) return -1;
    double sizes[PP_LINK_MAX_SIZES], times[PP_LINK_MAX_SIZES], samples[64], fit[3] = {0, 0, 0};
    int ns = 0, k = 0, rc = -1;
    if (pp_linkprof_sizes(o, sizes, &ns, err)) return -1;
    size_t maxb = (size_t)sizes[ns - 1];
    float *buf = pp_calloc(maxb / sizeof(float) + 1, sizeof(float), err);
    if (!buf) return -1;
    int max_reps = o->max_reps < 64 ? o->max_reps : 64;
    int min_reps = o->min_reps < max_reps ? o->min_reps : max_reps;
    for (int si = 0; si < ns; si++) {
        size_t n = (size_t)sizes[si];
        if (n < 4096) continue;
        int reps = clamp_count(o->rep_bytes, n, min_reps, max_reps);
        for (int i = 0; i < o->warmup + reps; i++) {
            if (pp_comm_barrier(c, err)) goto done;
            double t0 = now_s();
            if (pp_comm_allreduce_sum_f32(c, buf, (long long)(n / sizeof(float)), err)) goto done;
            if (i >= o->warmup) samples[i - o->warmup] = now_s() - t0;
        }
        sizes[k] = (double)(n / sizeof(float) * sizeof(float));
        times[k++] = pp_stats_median(samples, reps);
    }
    if (pp_comm_rank(c) == 0 && (k < 2 || pp_linkprof_fit(sizes, times, k, &fit[0], &fit[1], &fit[2])))
        fit[1] = -1; /* no fit: said below on every rank */
    if (pp_comm_bcast(c, fit, sizeof fit, 0, err)) goto done;
    if (fit[1] <= 0) {
        pp_err_set(err, PP_ERR_INVALID, "all-reduce profile: no alpha-beta fit over %d sizes (times do not grow with size)",
                   k);
        goto done;
    }
    *alpha = fit[0];
    *beta = fit[1];
    *residual = fit[2];
    rc = 0;
done:
    free(buf);
    return rc;
}
