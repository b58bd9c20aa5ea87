/*
 * pp_gpuprof.c -- per-op GPU time from CUPTI activity records (see
 * pp_gpuprof.h): the backend's op hook pushes and pops an external
 * correlation id per op pass; CUPTI's buffer callbacks (on CUPTI's thread)
 * append kernel/memcpy/memset intervals and (correlation id -> external id)
 * pairs under a mutex; flush joins them by correlation id. CUDA and CUPTI
 * calls are checked by core/pp_cuda_check.h.
 */
#include "profiler/pp_gpuprof.h"

#include <stdlib.h>
#include <string.h>

#ifdef PP_HAVE_CUPTI

#include <cuda_runtime_api.h>
#include <cupti.h>
#include <pthread.h>

#include "core/pp_cuda_check.h"

#define BUF_BYTES (8u << 20)
#define EXT_KIND CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0

typedef struct span {
    uint32_t corr;
    uint64_t start, end;
} span;

typedef struct corr_pair {
    uint32_t corr;
    uint64_t ext;
} corr_pair;

struct pp_gpuprof {
    pp_backend *be;
    const pp_graph *g;
    double *op_s; /* [n_ops * PP_PASS__COUNT] */
    pp_gpuprof_stats st;
    span *sp;
    long long n_sp, cap_sp;
    corr_pair *cp;
    long long n_cp, cap_cp;
    int oom;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pp_gpuprof *g_active; /* CUPTI's callbacks carry no user data */

int pp_gpuprof_available(void) { return 1; }

static void CUPTIAPI buf_requested(uint8_t **buffer, size_t *size, size_t *max_records) {
    *size = BUF_BYTES;
    *buffer = aligned_alloc(8, BUF_BYTES);
    *max_records = 0;
}

static int push_span(pp_gpuprof *p, uint32_t corr, uint64_t start, uint64_t end) {
    p->st.records++;
    if (!start || !end || end < start) {
        p->st.zero_ts++;
        return 0;
    }
    if (p->n_sp == p->cap_sp) {
        long long cap = p->cap_sp ? 2 * p->cap_sp : 4096;
        span *n = realloc(p->sp, (size_t)cap * sizeof *n);
        if (!n) return -1;
        p->sp = n;
        p->cap_sp = cap;
    }
    p->sp[p->n_sp++] = (span){corr, start, end};
    double s = (double)start * 1e-9, e = (double)end * 1e-9;
    if (p->st.first_start_s == 0 || s < p->st.first_start_s) p->st.first_start_s = s;
    if (e > p->st.last_end_s) p->st.last_end_s = e;
    return 0;
}

static int push_corr(pp_gpuprof *p, uint32_t corr, uint64_t ext) {
    if (p->n_cp == p->cap_cp) {
        long long cap = p->cap_cp ? 2 * p->cap_cp : 4096;
        corr_pair *n = realloc(p->cp, (size_t)cap * sizeof *n);
        if (!n) return -1;
        p->cp = n;
        p->cap_cp = cap;
    }
    p->cp[p->n_cp++] = (corr_pair){corr, ext};
    return 0;
}

static void CUPTIAPI buf_completed(CUcontext ctx, uint32_t stream, uint8_t *buffer, size_t size, size_t valid) {
    pthread_mutex_lock(&g_mu);
    pp_gpuprof *p = g_active;
    CUpti_Activity *rec = NULL;
    while (p && valid > 0 && cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS) {
        int bad = 0;
        switch (rec->kind) {
        case CUPTI_ACTIVITY_KIND_KERNEL:
        case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
            const CUpti_ActivityKernel10 *k = (const CUpti_ActivityKernel10 *)rec;
            bad = push_span(p, k->correlationId, k->start, k->end);
            break;
        }
        case CUPTI_ACTIVITY_KIND_MEMCPY: {
            const CUpti_ActivityMemcpy6 *m = (const CUpti_ActivityMemcpy6 *)rec;
            bad = push_span(p, m->correlationId, m->start, m->end);
            break;
        }
        case CUPTI_ACTIVITY_KIND_MEMSET: {
            const CUpti_ActivityMemset4 *m = (const CUpti_ActivityMemset4 *)rec;
            bad = push_span(p, m->correlationId, m->start, m->end);
            break;
        }
        case CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION: {
            const CUpti_ActivityExternalCorrelation *x = (const CUpti_ActivityExternalCorrelation *)rec;
            if (x->externalKind == EXT_KIND) bad = push_corr(p, x->correlationId, x->externalId);
            break;
        }
        default: break;
        }
        if (bad) p->oom = 1;
    }
    size_t dropped = 0;
    if (p && cuptiActivityGetNumDroppedRecords(ctx, stream, &dropped) == CUPTI_SUCCESS) p->st.dropped += (long long)dropped;
    (void)size;
    pthread_mutex_unlock(&g_mu);
    free(buffer);
}

/* The op hook: id = op * PP_PASS__COUNT + pass + 1 while the pass runs. */
static void op_hook(void *ctx, const pp_graph *g, const pp_op *op, pp_pass pass, int end) {
    (void)ctx;
    if (!end) {
        cuptiActivityPushExternalCorrelationId(EXT_KIND, (uint64_t)(op - g->ops) * PP_PASS__COUNT + (uint64_t)pass + 1);
    } else {
        uint64_t last;
        cuptiActivityPopExternalCorrelationId(EXT_KIND, &last);
    }
}

static const CUpti_ActivityKind g_kinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMCPY,
                                             CUPTI_ACTIVITY_KIND_MEMSET, CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION};
#define N_KINDS ((int)(sizeof g_kinds / sizeof g_kinds[0]))

int pp_gpuprof_start(pp_backend *be, const pp_graph *g, pp_gpuprof **out, pp_err *err) {
    *out = NULL;
    if (!be || be->kind != PP_BACKEND_CUDA)
        return pp_err_set(err, PP_ERR_INVALID, "GPU op timing needs the CUDA backend, not '%s'", be ? be->vt->name : "?");
    pthread_mutex_lock(&g_mu);
    int busy = g_active != NULL;
    pthread_mutex_unlock(&g_mu);
    if (busy) return pp_err_set(err, PP_ERR_INVALID, "a GPU profiler is already running (CUPTI is process-wide)");
    int cupti = 0; /* 1 once CUPTI was asked to record: every kind is disabled again on failure */
    pp_gpuprof *p = pp_calloc(1, sizeof *p, err);
    if (!p) goto fail;
    p->be = be;
    p->g = g;
    p->op_s = pp_calloc((unsigned long long)(g->n_ops ? g->n_ops : 1) * PP_PASS__COUNT, sizeof *p->op_s, err);
    if (!p->op_s) goto fail;
    pp_backend_sync(be);
    cupti = 1;
    PP_CUPTI_CHECK(err, cuptiActivityRegisterCallbacks(buf_requested, buf_completed));
    for (int i = 0; i < N_KINDS; i++) PP_CUPTI_CHECK(err, cuptiActivityEnable(g_kinds[i]));
    pthread_mutex_lock(&g_mu);
    g_active = p;
    pthread_mutex_unlock(&g_mu);
    pp_backend_set_op_hook(be, op_hook, p);
    *out = p;
    return 0;
fail:
    if (cupti) {
        for (int i = 0; i < N_KINDS; i++) cuptiActivityDisable(g_kinds[i]);
        pp_err_wrap(err, "CUPTI refused activity recording");
    }
    if (p) free(p->op_s);
    free(p);
    return -1;
}

static int cmp_corr(const void *a, const void *b) {
    uint32_t x = ((const corr_pair *)a)->corr, y = ((const corr_pair *)b)->corr;
    return x < y ? -1 : x > y;
}

int pp_gpuprof_flush(pp_gpuprof *p, pp_err *err) {
    pp_backend_sync(p->be);
    PP_CUDA_CHECK(err, cudaDeviceSynchronize());
    PP_CUPTI_CHECK(err, cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED));
    pthread_mutex_lock(&g_mu);
    int oom = p->oom;
    qsort(p->cp, (size_t)p->n_cp, sizeof *p->cp, cmp_corr);
    long long n_cells = (long long)p->g->n_ops * PP_PASS__COUNT;
    for (long long i = 0; i < p->n_sp; i++) {
        const span *s = &p->sp[i];
        corr_pair key = {s->corr, 0}, *hit = bsearch(&key, p->cp, (size_t)p->n_cp, sizeof key, cmp_corr);
        double dt = (double)(s->end - s->start) * 1e-9;
        if (hit && hit->ext >= 1 && (long long)hit->ext <= n_cells) {
            p->op_s[hit->ext - 1] += dt;
            p->st.op_s += dt;
        } else {
            p->st.other_s += dt;
        }
    }
    p->n_sp = 0;
    p->n_cp = 0; /* a pass's API records and its kernels arrive by the same flush */
    p->oom = 0;
    pthread_mutex_unlock(&g_mu);
    if (oom) return pp_err_set(err, PP_ERR_NOMEM, "out of memory keeping CUPTI records");
    return 0;
fail: /* nothing taken yet: the records stay for the next flush */
    return -1;
}

double pp_gpuprof_op_seconds(const pp_gpuprof *p, int op, pp_pass pass) {
    if (op < 0 || op >= p->g->n_ops || pass < 0 || pass >= PP_PASS__COUNT) return 0.0;
    return p->op_s[(long long)op * PP_PASS__COUNT + pass];
}

void pp_gpuprof_get_stats(const pp_gpuprof *p, pp_gpuprof_stats *out) { *out = p->st; }

void pp_gpuprof_reset(pp_gpuprof *p) {
    memset(p->op_s, 0, (size_t)p->g->n_ops * PP_PASS__COUNT * sizeof *p->op_s);
    long long dropped = p->st.dropped;
    memset(&p->st, 0, sizeof p->st);
    p->st.dropped = dropped;
}

void pp_gpuprof_stop(pp_gpuprof *p) {
    if (!p) return;
    pp_err err = {0};
    pp_gpuprof_flush(p, &err);
    pp_backend_set_op_hook(p->be, NULL, NULL);
    for (int i = 0; i < N_KINDS; i++) cuptiActivityDisable(g_kinds[i]);
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    pthread_mutex_lock(&g_mu);
    g_active = NULL;
    pthread_mutex_unlock(&g_mu);
    free(p->sp);
    free(p->cp);
    free(p->op_s);
    free(p);
}

#else /* no CUPTI in this build */

struct pp_gpuprof {
    int unused;
};

int pp_gpuprof_available(void) { return 0; }

int pp_gpuprof_start(pp_backend *be, const pp_graph *g, pp_gpuprof **out, pp_err *err) {
    (void)be;
    (void)g;
    *out = NULL;
    return pp_err_set(err, PP_ERR_UNSUPPORTED, "GPU op timing needs CUPTI, which is not part of this build");
}

int pp_gpuprof_flush(pp_gpuprof *p, pp_err *err) {
    (void)p;
    return pp_err_set(err, PP_ERR_UNSUPPORTED, "no CUPTI in this build");
}

double pp_gpuprof_op_seconds(const pp_gpuprof *p, int op, pp_pass pass) {
    (void)p;
    (void)op;
    (void)pass;
    return 0.0;
}

void pp_gpuprof_get_stats(const pp_gpuprof *p, pp_gpuprof_stats *out) {
    (void)p;
    memset(out, 0, sizeof *out);
}

void pp_gpuprof_reset(pp_gpuprof *p) { (void)p; }
void pp_gpuprof_stop(pp_gpuprof *p) { free(p); }

#endif
