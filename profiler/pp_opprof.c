/*
 * pp_opprof.c -- op profiling through the stage engine (see pp_opprof.h).
 * Wall-clock timing is the CPU backend's; the CUDA backend will bring its
 * events through the same pp_backend interface.
 */
#include "core/pp_stats.h"
#include "profiler/pp_opprof.h"

#include "kernels/pp_engine.h"
#include "kernels/pp_init.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pp_opprof_opts pp_opprof_defaults(void) {
    pp_opprof_opts o = {.warmup = 2, .min_reps = 5, .max_reps = 50, .stable = 0.02, .max_seconds = 2.0};
    return o;
}

static size_t shape_txt(const pp_tensor *t, char *buf, size_t n) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? "," : "", t->shape[i]);
    if (o < n) o += (size_t)snprintf(buf + o, n - o, "]");
    return o;
}

void pp_opprof_signature(const pp_graph *g, int i, char *buf, size_t n) {
    const pp_op *op = &g->ops[i];
    const pp_op_attrs *a = &op->a;
    size_t o = (size_t)snprintf(buf, n, "%s %s", pp_op_kind_name(op->kind), pp_dtype_name(g->dtype));
    switch (op->kind) {
    case PP_OP_ATTENTION:
        o += (size_t)snprintf(buf + o, n - o, " mask%d h%d kv%d hd%d rel%d", a->mask, a->n_head, a->n_kv_head,
                              a->head_dim, a->relpos_buckets);
        break;
    case PP_OP_ROPE: o += (size_t)snprintf(buf + o, n - o, " h%d kv%d hd%d", a->n_head, a->n_kv_head, a->head_dim); break;
    case PP_OP_GELU: o += (size_t)snprintf(buf + o, n - o, " tanh%d", a->gelu_tanh); break;
    default: break;
    }
    for (int k = 0; k < op->n_in && o < n; k++) {
        o += (size_t)snprintf(buf + o, n - o, " in");
        o += shape_txt(&g->tensors[op->in[k]], buf + o, n - o);
    }
    for (int k = 0; k < op->n_param && o < n; k++) {
        o += (size_t)snprintf(buf + o, n - o, " p");
        o += shape_txt(&g->tensors[op->param[k]], buf + o, n - o);
    }
    if (o < n) {
        o += (size_t)snprintf(buf + o, n - o, " out");
        shape_txt(&g->tensors[op->out[0]], buf + o, n - o);
    }
}

/* Fills a buffer of tensor t with fresh values: ids below `limit` for i32,
 * small normals otherwise. */
static void fill(const pp_tensor *t, void *data, uint64_t seed, long long limit) {
    long long n = pp_tensor_numel(t);
    if (t->dtype == PP_DTYPE_I32) {
        int32_t *d = data;
        for (long long i = 0; i < n; i++) d[i] = (int32_t)(pp_init_splitmix64(seed + (uint64_t)i) % (uint64_t)limit);
    } else {
        float *d = data;
        for (long long i = 0; i < n; i++) d[i] = (float)(0.1 * pp_init_normal(seed, (uint64_t)i));
    }
}

int pp_opprof_measure(const pp_graph *g, int op_i, pp_backend *be, const pp_opprof_opts *o, pp_op_measure *out,
                      pp_err *err) {
    memset(out, 0, sizeof *out);
    int cap = o->max_reps > 0 ? o->max_reps : 50, minr = o->min_reps > 0 ? o->min_reps : 5, n = 0, rc = -1;
    if (minr > cap) minr = cap;
    double *t[3] = {0}, *scratch = pp_malloc((unsigned long long)cap * sizeof(double), err);
    for (int p = 0; p < 3; p++) t[p] = pp_calloc((unsigned long long)cap, sizeof(double), err);
    if (!scratch || !t[0] || !t[1] || !t[2]) goto done;
    double t0 = pp_backend_now(), last = -1;
    if (pp_opprof_sample(g, op_i, be, o->warmup, minr, t, &n, &out->keep_f_bytes, &out->keep_w_bytes, err)) goto done;
    while (n < cap) {
        double med = pp_stats_median_copy(t[0], n, scratch) + pp_stats_median_copy(t[1], n, scratch) + pp_stats_median_copy(t[2], n, scratch);
        if ((last > 0 && fabs(med - last) <= o->stable * last) || pp_backend_now() - t0 > o->max_seconds) break;
        last = med;
        if (pp_opprof_sample(g, op_i, be, 0, 1, t, &n, &out->keep_f_bytes, &out->keep_w_bytes, err)) goto done;
    }
    pp_opprof_summarize(t, n, out);
    out->param_bytes = g->ops[op_i].cost.param_bytes;
    rc = 0;
done:
    free(scratch);
    for (int p = 0; p < 3; p++) free(t[p]);
    return rc;
}

/* fill() into backend memory: directly on a host backend, else through a
 * host buffer and an upload. Returns 0 or -1 (no memory). */
static int fill_be(pp_backend *be, const pp_tensor *t, void *dst, uint64_t seed, long long limit, pp_err *err) {
    if (pp_backend_is_host(be)) {
        fill(t, dst, seed, limit);
        return 0;
    }
    size_t bytes = (size_t)pp_tensor_bytes(t);
    void *h = pp_malloc(bytes ? bytes : 1, err);
    if (!h) return -1;
    fill(t, h, seed, limit);
    pp_backend_upload(be, dst, h, bytes);
    free(h);
    return 0;
}

/* The backend's clock after its queued work is done (device backends run
 * asynchronously; on the CPU the sync is free). */
static double now_synced(pp_backend *be) {
    pp_backend_sync(be);
    return pp_backend_now();
}

int pp_opprof_sample(const pp_graph *g, int op_i, pp_backend *be, int warmup, int reps, double *t[3], int *n,
                     long long *keep_f, long long *keep_w, pp_err *err) {
    pp_engine *e;
    if (pp_engine_create(g, op_i, op_i + 1, be, &e, err)) return -1;
    const pp_op *op = &g->ops[op_i];
    int rc = -1;
    for (int k = 0; k < pp_engine_n_params(e); k++) {
        int tt = pp_engine_param_tensor(e, k);
        if (fill_be(be, &g->tensors[tt], pp_engine_param(e, tt), 99 + (uint64_t)tt, 0, err)) goto done;
    }
    long long limit = op->n_param ? g->tensors[op->param[0]].shape[0] : 1;
    for (int rep = -warmup; rep < reps; rep++) {
        uint64_t seed = 1000 + (uint64_t)(*n + rep + warmup) * 7919;
        if (pp_engine_begin(e, 0, err)) goto done;
        for (int k = 0; k < pp_engine_n_inputs(e); k++) {
            int tt = pp_engine_input_tensor(e, k);
            void *buf = pp_engine_buffer(e, 0, tt, err);
            if (!buf) goto done;
            if (fill_be(be, &g->tensors[tt], buf, seed + (uint64_t)k, limit, err)) goto done;
        }
        double t0 = now_synced(be);
        if (pp_engine_forward(e, 0, err)) goto done;
        double t1 = now_synced(be);
        *keep_f = pp_engine_held_bytes(e, 0);
        pp_engine_release_outputs(e, 0);
        for (int k = 0; k < pp_engine_n_outputs(e); k++) {
            int tt = pp_engine_output_tensor(e, k);
            float *gbuf = pp_engine_output_grad(e, 0, tt, err);
            if (!gbuf) goto done;
            if (fill_be(be, &g->tensors[tt], gbuf, seed + 77 + (uint64_t)k, 0, err)) goto done;
        }
        double t2 = now_synced(be);
        if (pp_engine_backward_input(e, 0, 1.0f, err)) goto done;
        double t3 = now_synced(be);
        *keep_w = pp_engine_held_bytes(e, 0);
        pp_engine_release_input_grads(e, 0);
        double t4 = now_synced(be);
        if (pp_engine_backward_weight(e, 0, err)) goto done;
        double t5 = now_synced(be);
        if (rep < 0) continue;
        t[0][*n] = t1 - t0;
        t[1][*n] = t3 - t2;
        t[2][*n] = t5 - t4;
        (*n)++;
    }
    rc = 0;
done:
    pp_engine_free(e);
    return rc;
}

void pp_opprof_summarize_rounds(double *t[3], int n, int rounds, double res, pp_op_measure *out) {
    if (n < 0) n = 0;
    if (rounds > n) rounds = 1;
    double *s = malloc((size_t)(n ? n : 1) * sizeof *s);
    for (int p = 0; p < 3; p++) {
        out->samples[p] = s ? n : 0; /* out of memory: nothing summarized */
        out->t[p] = out->spread[p] = 0;
        if (!n || !s) continue;
        double m = pp_stats_median_copy(t[p], n, s);
        int lo = (int)(0.1 * (n - 1) + 0.5), hi = (int)(0.9 * (n - 1) + 0.5);
        double spread = 0.5 * (s[hi] - s[lo]);
        for (int k = 0; rounds > 1 && k < rounds; k++) {
            int a = (int)((long long)k * n / rounds), b = (int)((long long)(k + 1) * n / rounds);
            double d = fabs(pp_stats_median_copy(t[p] + a, b - a, s) - m);
            if (d > spread) spread = d;
        }
        out->t[p] = m;
        out->spread[p] = spread > res ? spread : res;
    }
    free(s);
}

void pp_opprof_summarize(double *t[3], int n, pp_op_measure *out) { pp_opprof_summarize_rounds(t, n, 1, 0, out); }

double pp_opprof_timer_resolution(void) {
    double best = 0, prev = pp_backend_now();
    for (int i = 0; i < 500; i++) {
        double now = pp_backend_now(), d = now - prev;
        if (d > 0 && (best == 0 || d < best)) best = d;
        prev = now;
    }
    return best;
}

int pp_opprof_cost(const pp_graph *g, const pp_op_measure *m, const char *source, pp_cost_profile *out, pp_err *err) {
    if (pp_cost_from_graph(g, 1e12, out, err)) return -1;
    for (int i = 0; i < g->n_ops; i++) {
        for (int p = 0; p < 3; p++) {
            out->t[3 * i + p] = m[i].t[p];
            out->spread[3 * i + p] = m[i].spread[p];
            out->samples[3 * i + p] = m[i].samples[p];
        }
        out->keep_f[i] = m[i].keep_f_bytes;
        out->keep_w[i] = m[i].keep_w_bytes;
        out->workspace[i] = m[i].workspace_bytes;
    }
    out->device_flops = 0;
    snprintf(out->source, sizeof out->source, "%s", source);
    return 0;
}
