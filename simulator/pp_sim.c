/*
 * pp_sim.c -- the discrete-event engine of pp_sim.h.
 *
 * Events are "rank r may go on at time t" in a binary heap ordered by time;
 * each rank has at most one event queued, so the heap holds at most n_ranks
 * entries. A rank runs
 * zero-time actions (sends, satisfied receives, idle cells) in place and
 * queues itself again at the end of each compute action or at the arrival of
 * what it waits for. A message's arrival is known when it is posted: only
 * its sending rank posts on a directed link, in that rank's program order,
 * so the link's FIFO order is the post order. It follows that the times the
 * simulation computes do not depend on the order in which ranks with equal
 * event times are run.
 *
 * Per (stage, microbatch) the engine keeps how many cross-rank inputs are
 * still unposted and when the last arrives, for the forward direction (from
 * producer stages) and the backward one (from consumer stages), plus which
 * passes are done. Memory is linear in ranks + stages x microbatches, time
 * linear in the actions (times log of the ranks for the heap).
 */
#include "simulator/pp_sim.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DONE_F = 1, DONE_I = 2, DONE_W = 4 };
enum { WAIT_NONE = 0, WAIT_FWD, WAIT_BWD, WAIT_LOCAL };

typedef struct heap_ent { /* 16 bytes: four to a cache line */
    double t;
    int rank;
} heap_ent;
typedef struct sim {
    const pp_sim_input *in;
    pp_sim_result *out;
    int R, S, M, explicit_comms;
    int *stage_rank;
    int *cons_off, *cons;      /* CSR: consumers of stage s (t > s) */
    int *src_off, *src;        /* CSR: sources of stage t (s < t) */
    int32_t *fwd_pend, *bwd_pend;
    double *fwd_arr, *bwd_arr;
    int32_t *fwd_from_r, *fwd_from_i, *bwd_from_r, *bwd_from_i; /* last-arriving sender, for the critical path */
    uint8_t *done;
    double *link_free;         /* [R * R] */
    int *pc;
    double *tnow;
    int *wait, *wait_key;      /* what a blocked rank waits for */
    int *cur_r, *cur_i;        /* what set the rank's time, for the critical path */
    double *act, *inflight_d;
    int *inflight;
    heap_ent *heap;
    int heap_n;
    /* critical path bookkeeping (want_critical_path) */
    double **a_start, **a_end;
    int **a_pr, **a_pi;
    int tl_cap_dummy;
    int *tl_cap;
} sim;

/* A binary min-heap on time. Equal times come out in an order fixed by the
 * sequence of operations, so runs are deterministic; and the results do not
 * depend on that order anyway (see the file comment). */
static void heap_push(sim *s, double t, int rank) {
    if (s->in->any_order) { /* a stack: O(1), and the results do not depend on the order */
        s->heap[s->heap_n++] = (heap_ent){t, rank};
        return;
    }
    /* The rank runs again soon: fetch its next action now. With a thousand
     * ranks taking turns, that load is otherwise a cache miss per action
     * (a third of the time at p = 1024, measured). */
    const pp_sched_rank *row = &s->in->sched->ranks[rank];
    if (s->pc[rank] < row->n) __builtin_prefetch(&row->acts[s->pc[rank]]);
    int i = s->heap_n++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (s->heap[p].t <= t) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = (heap_ent){t, rank};
}

/* Sift the last entry down from the root; with many equal times (pipelines
 * in lock step) it stops at once. */
static heap_ent heap_pop(sim *s) {
    if (s->in->any_order) return s->heap[--s->heap_n];
    heap_ent top = s->heap[0], last = s->heap[--s->heap_n];
    int i = 0, n = s->heap_n;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        c += (c + 1 < n && s->heap[c + 1].t < s->heap[c].t);
        if (last.t <= s->heap[c].t) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    s->heap[i] = last;
    return top;
}

/* Index of (stage, microbatch) in the per-pair arrays: stage-major, so a
 * rank's successive microbatches of one stage sit side by side. (Laying them
 * out by anti-diagonal m + stage was measured slower: the forward and the
 * backward waves run along opposite diagonals.) */
static inline size_t KEY(const sim *s, int st, int m) { return (size_t)st * (size_t)s->M + (size_t)m; }

static double xfer_bytes(const sim *s, int a, int b) { return s->in->xfer ? s->in->xfer[(size_t)a * s->S + b] : 0.0; }

/* Time for `bytes` on the directed link ra -> rb, FIFO after what it carries. */
static double send_msg(sim *s, int ra, int rb, double bytes, double t_post, int *ok) {
    size_t l = (size_t)ra * s->R + rb;
    double start = s->link_free[l] > t_post ? s->link_free[l] : t_post;
    double alpha = s->in->alpha ? s->in->alpha[l] : 0.0, beta = s->in->beta ? s->in->beta[l] : 0.0;
    double end = start + alpha + (beta > 0 ? bytes / beta : 0.0);
    s->link_free[l] = end;
    s->out->n_messages++;
    *ok = 1;
    if (s->in->want_trace) {
        pp_trace_event ev = {.rank = ra, .stream = PP_STREAM_SEND, .action = PP_ACT_SEND_F, .stage = -1, .mb = -1,
                             .start = start, .end = end, .bytes = (long long)bytes};
        if (pp_trace_add(&s->out->trace, ev, NULL)) *ok = 0;
        ev.rank = rb;
        ev.stream = PP_STREAM_RECV;
        ev.action = PP_ACT_RECV_F;
        if (pp_trace_add(&s->out->trace, ev, NULL)) *ok = 0;
    }
    return end;
}

static void wake(sim *s, int r, int want, int key, double arr) {
    if (s->wait[r] == want && s->wait_key[r] == key) {
        s->wait[r] = WAIT_NONE;
        heap_push(s, arr > s->tnow[r] ? arr : s->tnow[r], r);
    }
}

/* Posts stage st's forward output (fwd = 1) or input gradient (fwd = 0) of
 * microbatch m at time t from the action (r, idx). */
static int post(sim *s, int fwd, int st, int m, double t, int r, int idx) {
    int ra = s->stage_rank[st], ok = 1;
    /* Forward: to each consumer c of st, keyed (c, m); backward: to each
     * source p of st, keyed (p, m). */
    const int *peer = fwd ? s->cons : s->src;
    int lo = fwd ? s->cons_off[st] : s->src_off[st], hi = fwd ? s->cons_off[st + 1] : s->src_off[st + 1];
    int32_t *pend = fwd ? s->fwd_pend : s->bwd_pend;
    double *arrv = fwd ? s->fwd_arr : s->bwd_arr;
    int32_t *from_r = fwd ? s->fwd_from_r : s->bwd_from_r, *from_i = fwd ? s->fwd_from_i : s->bwd_from_i;
    for (int k = lo; k < hi; k++) {
        int q = peer[k], rq = s->stage_rank[q];
        if (rq == ra || rq < 0) continue;
        double arr = send_msg(s, ra, rq, fwd ? xfer_bytes(s, st, q) : xfer_bytes(s, q, st), t, &ok);
        size_t key = KEY(s, q, m);
        if (pend[key] <= 0) continue; /* posted twice: ignore the repeat */
        pend[key]--;
        if (arr >= arrv[key]) {
            arrv[key] = arr;
            if (from_r) {
                from_r[key] = r;
                from_i[key] = idx;
            }
        }
        if (pend[key] == 0) wake(s, rq, fwd ? WAIT_FWD : WAIT_BWD, (int)key, arrv[key]);
    }
    return ok ? 0 : -1;
}

/* Whether the inputs of (stage, m) in a direction are in: returns 1 and the
 * arrival time, or 0 (not all posted; the rank must wait). Same-rank
 * producers must be done. */
static int inputs_ready(sim *s, int fwd, int st, int m, double *arr, int *local_missing) {
    size_t key = KEY(s, st, m);
    int r = s->stage_rank[st];
    *local_missing = 0;
    if (fwd) {
        for (int k = s->src_off[st]; k < s->src_off[st + 1]; k++) {
            int p = s->src[k];
            if (s->stage_rank[p] == r && !(s->done[KEY(s, p, m)] & DONE_F)) *local_missing = 1;
        }
        if (*local_missing) return 0;
        *arr = s->fwd_arr[key];
        return s->fwd_pend[key] == 0;
    }
    for (int k = s->cons_off[st]; k < s->cons_off[st + 1]; k++) {
        int c = s->cons[k];
        if (s->stage_rank[c] == r && !(s->done[KEY(s, c, m)] & DONE_I)) *local_missing = 1;
    }
    if (*local_missing) return 0;
    *arr = s->bwd_arr[key];
    return s->bwd_pend[key] == 0;
}

static void mem_event(sim *s, int r, double t, double delta_bytes, int delta_inflight) {
    pp_sim_result *o = s->out;
    s->act[r] += delta_bytes;
    s->inflight[r] += delta_inflight;
    if (s->act[r] > o->peak_act_bytes[r]) o->peak_act_bytes[r] = s->act[r];
    if (s->inflight[r] > o->peak_inflight[r]) o->peak_inflight[r] = s->inflight[r];
    if (s->in->want_timeline && delta_bytes != 0) {
        if (o->timeline_n[r] == s->tl_cap[r]) {
            int nc = s->tl_cap[r] ? 2 * s->tl_cap[r] : 64;
            pp_sim_point *p = realloc(o->timeline[r], (size_t)nc * sizeof *p);
            if (!p) return; /* the timeline is best effort; peaks stay exact */
            o->timeline[r] = p;
            s->tl_cap[r] = nc;
        }
        o->timeline[r][o->timeline_n[r]++] = (pp_sim_point){t, s->act[r]};
    }
}

/* A momentary high inside a pass: rank r holds `bytes` more than its
 * current activations for a moment. */
static void mem_peak(sim *s, int r, double bytes) {
    if (s->act[r] + bytes > s->out->peak_act_bytes[r]) s->out->peak_act_bytes[r] = s->act[r] + bytes;
}

static double stage_f(const sim *s, int st) { return s->in->t_f ? s->in->t_f[st] : 0; }
static double stage_i(const sim *s, int st) { return s->in->t_i ? s->in->t_i[st] : 0; }
static double stage_w(const sim *s, int st) { return s->in->t_w ? s->in->t_w[st] : 0; }
static double stage_af(const sim *s, int st) { return s->in->act_f ? s->in->act_f[st] : 0; }
static double stage_aw(const sim *s, int st) { return s->in->act_w ? s->in->act_w[st] : 0; }

static double ring_allreduce(int k, double bytes, double alpha, double beta) {
    if (k <= 1) return 0;
    return 2.0 * (k - 1) * alpha + (beta > 0 ? 2.0 * (k - 1) / k * bytes / beta : 0.0);
}

static void note(sim *s, int r, int idx, double start, double end) {
    if (!s->a_start) return;
    s->a_start[r][idx] = start;
    s->a_end[r][idx] = end;
    s->a_pr[r][idx] = s->cur_r[r];
    s->a_pi[r][idx] = s->cur_i[r];
    s->cur_r[r] = r;
    s->cur_i[r] = idx;
}

/* Raises rank r's time to an arrival, remembering who sent it. */
static void arrive(sim *s, int r, double arr, int fwd, size_t key) {
    if (arr > s->tnow[r]) {
        s->tnow[r] = arr;
        if (s->a_start) {
            s->cur_r[r] = fwd ? s->fwd_from_r[key] : s->bwd_from_r[key];
            s->cur_i[r] = fwd ? s->fwd_from_i[key] : s->bwd_from_i[key];
        }
    }
}

static int trace_compute(sim *s, int r, const pp_action *a, double start, double end) {
    if (!s->in->want_trace) return 0;
    pp_trace_event ev = {.rank = r, .stream = PP_STREAM_COMPUTE, .action = a->type, .stage = a->stage, .mb = a->mb,
                         .start = start, .end = end, .bytes = 0};
    if (a->type == PP_ACT_OVERLAP_F_B) {
        ev.stage = a->sub[0].stage;
        ev.mb = a->sub[0].mb;
    }
    return pp_trace_add(&s->out->trace, ev, NULL);
}

/* Runs rank r from its current time until it must wait. Returns 0, or -1 (err). */
static int run_rank(sim *s, int r, pp_err *err) {
    const pp_sched_rank *row = &s->in->sched->ranks[r];
    pp_sim_result *o = s->out;
    while (s->pc[r] < row->n) {
        int idx = s->pc[r];
        const pp_action *a = &row->acts[idx];
        double t = s->tnow[r], arr;
        int miss;
        switch (a->type) {
        case PP_ACT_NONE:
        case PP_ACT_UNSHARD:
        case PP_ACT_RESHARD: s->pc[r]++; continue;
        case PP_ACT_SEND_F:
        case PP_ACT_SEND_B:
            note(s, r, idx, t, t);
            if (post(s, a->type == PP_ACT_SEND_F, a->stage, a->mb, t, r, idx)) goto nomem;
            s->pc[r]++;
            o->n_actions++;
            continue;
        case PP_ACT_RECV_F:
        case PP_ACT_RECV_B:
            /* Posting a receive does not block (PyTorch's runtime and pippy's
             * executor post receives ahead); the compute action that needs the
             * data waits for it. */
            note(s, r, idx, t, t);
            s->pc[r]++;
            o->n_actions++;
            continue;
        case PP_ACT_ALLREDUCE: {
            double b = s->in->param_bytes ? s->in->param_bytes[a->stage] : 0;
            double d = ring_allreduce(s->in->dp, b, s->in->dp_alpha, s->in->dp_beta);
            note(s, r, idx, t, t + d);
            s->tnow[r] = t + d;
            s->pc[r]++;
            o->n_actions++;
            continue;
        }
        case PP_ACT_OPTIM: {
            double d = s->in->optim_s ? s->in->optim_s[a->stage] : 0;
            note(s, r, idx, t, t + d);
            o->busy[r] += d;
            s->tnow[r] = t + d;
            s->pc[r]++;
            o->n_actions++;
            continue;
        }
        default: break;
        }
        /* Compute: F, I, W, B or an overlapped F and B. */
        pp_subaction parts[2];
        int np = 0;
        if (a->type == PP_ACT_OVERLAP_F_B) {
            parts[0] = a->sub[0];
            parts[1] = a->sub[1];
            np = 2;
        } else {
            parts[0] = (pp_subaction){a->type, a->stage, a->mb};
            np = 1;
        }
        /* Inputs: forward activations for F, output gradients for I and B,
         * this stage's I for W. */
        double ready = t;
        for (int k = 0; k < np; k++) {
            int ty = parts[k].type, st = parts[k].stage, m = parts[k].mb;
            size_t key = KEY(s, st, m);
            if (ty == PP_ACT_W) {
                if (!(s->done[key] & DONE_I)) {
                    s->wait[r] = WAIT_LOCAL;
                    s->wait_key[r] = (int)key;
                    return 0;
                }
                continue;
            }
            if ((ty == PP_ACT_I || ty == PP_ACT_B) && !(s->done[key] & DONE_F)) {
                /* A backward needs its own forward first (it runs on this rank). */
                s->wait[r] = WAIT_LOCAL;
                s->wait_key[r] = (int)key;
                return 0;
            }
            int fwd = ty == PP_ACT_F;
            if (!inputs_ready(s, fwd, st, m, &arr, &miss)) {
                s->wait[r] = miss ? WAIT_LOCAL : (fwd ? WAIT_FWD : WAIT_BWD);
                s->wait_key[r] = (int)key;
                return 0;
            }
            if (arr > ready) {
                ready = arr;
                arrive(s, r, arr, fwd, key);
            }
        }
        t = s->tnow[r];
        double end = t;
        for (int k = 0; k < np; k++) {
            int ty = parts[k].type, st = parts[k].stage, m = parts[k].mb;
            size_t key = KEY(s, st, m);
            double d = ty == PP_ACT_F ? stage_f(s, st)
                     : ty == PP_ACT_I ? stage_i(s, st)
                     : ty == PP_ACT_W ? stage_w(s, st)
                                      : stage_i(s, st) + stage_w(s, st);
            double t0 = end;
            end += d;
            double pf = s->in->peak_f ? s->in->peak_f[st] : 0, pi = s->in->peak_i ? s->in->peak_i[st] : 0;
            switch (ty) {
            case PP_ACT_F:
                mem_peak(s, r, pf);
                mem_event(s, r, t0, stage_af(s, st), 1);
                s->done[key] |= DONE_F;
                break;
            case PP_ACT_I:
                mem_peak(s, r, pi - stage_af(s, st));
                mem_event(s, r, end, stage_aw(s, st) - stage_af(s, st), 0);
                s->done[key] |= DONE_I;
                break;
            case PP_ACT_W:
                mem_event(s, r, end, -stage_aw(s, st), -1);
                s->done[key] |= DONE_W;
                break;
            default: /* B */
                mem_peak(s, r, pi - stage_af(s, st));
                mem_event(s, r, end, -stage_af(s, st), -1);
                s->done[key] |= DONE_I | DONE_W;
                break;
            }
            if (!s->explicit_comms && (ty == PP_ACT_F || ty == PP_ACT_I || ty == PP_ACT_B))
                if (post(s, ty == PP_ACT_F, st, m, end, r, idx)) goto nomem;
        }
        note(s, r, idx, t, end);
        if (trace_compute(s, r, a, t, end)) goto nomem;
        o->busy[r] += end - t;
        o->n_actions++;
        s->tnow[r] = end;
        s->pc[r]++;
        /* The rank's next event is at `end`; when no other event comes
         * earlier, it is the next event of the whole simulation, so go on
         * without a trip through the heap. */
        if (end > t && !s->in->any_order && s->heap_n > 0 && s->heap[0].t < end) {
            heap_push(s, end, r);
            return 0;
        }
    }
    return 0;
nomem:
    return pp_err_set(err, PP_ERR_NOMEM, "simulator: out of memory for the trace");
}

static const char *wait_what(int w) {
    return w == WAIT_FWD ? "the forward input" : w == WAIT_BWD ? "the output gradient" : "an earlier action of its own";
}

void pp_sim_result_free(pp_sim_result *r) {
    free(r->busy);
    free(r->idle);
    free(r->end);
    free(r->bubble_total);
    free(r->bubble_ideal);
    free(r->peak_act_bytes);
    free(r->peak_total_bytes);
    free(r->peak_inflight);
    if (r->timeline)
        for (int i = 0; i < r->n_ranks; i++) free(r->timeline[i]);
    free(r->timeline);
    free(r->timeline_n);
    free(r->critical);
    pp_trace_free(&r->trace);
    memset(r, 0, sizeof *r);
}

static void sim_free(sim *s) {
    free(s->stage_rank);
    free(s->cons_off);
    free(s->cons);
    free(s->src_off);
    free(s->src);
    free(s->fwd_pend);
    free(s->bwd_pend);
    free(s->fwd_arr);
    free(s->bwd_arr);
    free(s->fwd_from_r);
    free(s->fwd_from_i);
    free(s->bwd_from_r);
    free(s->bwd_from_i);
    free(s->done);
    free(s->link_free);
    free(s->pc);
    free(s->tnow);
    free(s->wait);
    free(s->wait_key);
    free(s->cur_r);
    free(s->cur_i);
    free(s->act);
    free(s->inflight);
    free(s->heap);
    free(s->tl_cap);
    for (int r = 0; s->a_start && r < s->R; r++) {
        free(s->a_start[r]);
        free(s->a_end[r]);
        free(s->a_pr[r]);
        free(s->a_pi[r]);
    }
    free(s->a_start);
    free(s->a_end);
    free(s->a_pr);
    free(s->a_pi);
}

#define ALLOC(p, n)                                                                     \
    do {                                                                                \
        unsigned long long n_ = (unsigned long long)(n);                                \
        (p) = pp_calloc(n_ ? n_ : 1, sizeof *(p), err);                                 \
        if (!(p)) goto fail;                                                            \
    } while (0)

int pp_sim_run(const pp_sim_input *in, pp_sim_result *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    sim s;
    memset(&s, 0, sizeof s);
    s.in = in;
    s.out = out;
    const pp_sched *sc = in->sched;
    s.R = sc->n_ranks;
    s.S = in->n_stages;
    s.M = pp_sched_n_microbatches(sc);
    if (s.M < 1) s.M = 1;
    int R = s.R, S = s.S, M = s.M;
    if (R < 1) return pp_err_set(err, PP_ERR_INVALID, "simulator: the schedule has no ranks");
    if (pp_sched_n_stages(sc) > S)
        return pp_err_set(err, PP_ERR_INVALID, "simulator: the schedule uses %d stages, the costs cover %d",
                          pp_sched_n_stages(sc), S);
    out->n_ranks = R;
    ALLOC(out->busy, R);
    ALLOC(out->idle, R);
    ALLOC(out->end, R);
    ALLOC(out->bubble_total, R);
    ALLOC(out->bubble_ideal, R);
    ALLOC(out->peak_act_bytes, R);
    ALLOC(out->peak_total_bytes, R);
    ALLOC(out->peak_inflight, R);
    pp_trace_init(&out->trace);
    if (in->want_timeline) {
        ALLOC(out->timeline, R);
        ALLOC(out->timeline_n, R);
        ALLOC(s.tl_cap, R);
    }
    /* Where stages live. */
    ALLOC(s.stage_rank, S);
    for (int st = 0; st < S; st++) s.stage_rank[st] = -1;
    for (int r = 0; r < R; r++) {
        for (int j = 0; j < sc->ranks[r].n; j++) {
            const pp_action *a = &sc->ranks[r].acts[j];
            int st[2] = {a->stage, -1};
            if (a->type == PP_ACT_OVERLAP_F_B) {
                st[0] = a->sub[0].stage;
                st[1] = a->sub[1].stage;
            }
            if (a->type == PP_ACT_SEND_F || a->type == PP_ACT_SEND_B || a->type == PP_ACT_RECV_F ||
                a->type == PP_ACT_RECV_B)
                s.explicit_comms = 1;
            for (int k = 0; k < 2; k++) {
                if (st[k] < 0) continue;
                if (s.stage_rank[st[k]] >= 0 && s.stage_rank[st[k]] != r) {
                    pp_err_set(err, PP_ERR_INVALID, "simulator: stage %d appears on ranks %d and %d", st[k],
                               s.stage_rank[st[k]], r);
                    goto fail;
                }
                s.stage_rank[st[k]] = r;
            }
        }
    }
    /* Producer -> consumer stage pairs: neighbours, and skips with bytes. */
    ALLOC(s.cons_off, S + 1);
    ALLOC(s.src_off, S + 1);
    long long n_pairs = 0;
    for (int a = 0; a < S; a++)
        for (int b = a + 1; b < S; b++)
            if (b == a + 1 || xfer_bytes(&s, a, b) > 0) n_pairs++;
    ALLOC(s.cons, n_pairs);
    ALLOC(s.src, n_pairs);
    {
        long long k = 0;
        for (int a = 0; a < S; a++) {
            s.cons_off[a] = (int)k;
            for (int b = a + 1; b < S; b++)
                if (b == a + 1 || xfer_bytes(&s, a, b) > 0) s.cons[k++] = b;
        }
        s.cons_off[S] = (int)k;
        k = 0;
        for (int b = 0; b < S; b++) {
            s.src_off[b] = (int)k;
            for (int a = 0; a < b; a++)
                if (b == a + 1 || xfer_bytes(&s, a, b) > 0) s.src[k++] = a;
        }
        s.src_off[S] = (int)k;
    }
    size_t SM = (size_t)S * (size_t)M;
    ALLOC(s.fwd_pend, SM);
    ALLOC(s.bwd_pend, SM);
    ALLOC(s.fwd_arr, SM);
    ALLOC(s.bwd_arr, SM);
    ALLOC(s.done, SM);
    for (int st = 0; st < S; st++) {
        int nf = 0, nb = 0, r = s.stage_rank[st];
        for (int k = s.src_off[st]; k < s.src_off[st + 1]; k++)
            nf += s.stage_rank[s.src[k]] != r && s.stage_rank[s.src[k]] >= 0;
        for (int k = s.cons_off[st]; k < s.cons_off[st + 1]; k++)
            nb += s.stage_rank[s.cons[k]] != r && s.stage_rank[s.cons[k]] >= 0;
        for (int m = 0; m < M; m++) {
            s.fwd_pend[KEY(&s, st, m)] = nf;
            s.bwd_pend[KEY(&s, st, m)] = nb;
        }
    }
    ALLOC(s.link_free, (size_t)R * R);
    ALLOC(s.pc, R);
    ALLOC(s.tnow, R);
    ALLOC(s.wait, R);
    ALLOC(s.wait_key, R);
    ALLOC(s.cur_r, R);
    ALLOC(s.cur_i, R);
    ALLOC(s.act, R);
    ALLOC(s.inflight, R);
    ALLOC(s.heap, R);
    for (int r = 0; r < R; r++) s.cur_r[r] = s.cur_i[r] = -1;
    if (in->want_critical_path) {
        ALLOC(s.fwd_from_r, SM);
        ALLOC(s.fwd_from_i, SM);
        ALLOC(s.bwd_from_r, SM);
        ALLOC(s.bwd_from_i, SM);
        ALLOC(s.a_start, R);
        ALLOC(s.a_end, R);
        ALLOC(s.a_pr, R);
        ALLOC(s.a_pi, R);
        for (int r = 0; r < R; r++) {
            ALLOC(s.a_start[r], sc->ranks[r].n);
            ALLOC(s.a_end[r], sc->ranks[r].n);
            ALLOC(s.a_pr[r], sc->ranks[r].n);
            ALLOC(s.a_pi[r], sc->ranks[r].n);
        }
    }

    /* The event loop. */
    for (int r = 0; r < R; r++) heap_push(&s, 0.0, r);
    while (s.heap_n > 0) {
        heap_ent e = heap_pop(&s); /* the rank's time is already e.t, or arrive() raises it to that */
        if (run_rank(&s, e.rank, err)) goto fail;
    }
    for (int r = 0; r < R; r++) {
        if (s.pc[r] >= sc->ranks[r].n) continue;
        char cell[96], msg[900];
        size_t o = 0;
        o += (size_t)snprintf(msg + o, sizeof msg - o, "simulator: the schedule deadlocks:");
        for (int q = 0; q < R && o < sizeof msg; q++) {
            if (s.pc[q] >= sc->ranks[q].n) continue;
            pp_action_format(&sc->ranks[q].acts[s.pc[q]], PP_NAMING_CURRENT, cell, sizeof cell);
            o += (size_t)snprintf(msg + o, sizeof msg - o, " rank %d at action %d (%s) waits for %s;", q, s.pc[q], cell,
                                  wait_what(s.wait[q]));
        }
        pp_err_set(err, PP_ERR_INVALID, "%s (pp_sched_check_deadlock shows the cycle)", msg);
        goto fail;
    }

    /* Step-level work: tied gradients, data-parallel all-reduce, optimizer. */
    int has_step = 0;
    for (int r = 0; r < R; r++)
        for (int j = 0; j < sc->ranks[r].n; j++)
            if (sc->ranks[r].acts[j].type == PP_ACT_ALLREDUCE || sc->ranks[r].acts[j].type == PP_ACT_OPTIM) has_step = 1;
    for (int r = 0; r < R; r++) out->end[r] = s.tnow[r];
    double *fin = s.tnow;
    if (!has_step) {
        for (int g = 0, off = 0; g < in->n_tied; off += in->tied_n[g], g++) {
            double start = 0;
            int ranks[64], nr = 0;
            for (int k = 0; k < in->tied_n[g]; k++) {
                int r = s.stage_rank[in->tied_stages[off + k]], dup = 0;
                if (r < 0) continue;
                for (int q = 0; q < nr; q++) dup |= ranks[q] == r;
                if (!dup && nr < 64) ranks[nr++] = r;
            }
            for (int q = 0; q < nr; q++) start = fin[ranks[q]] > start ? fin[ranks[q]] : start;
            size_t l = nr > 1 ? (size_t)ranks[0] * R + ranks[1] : 0;
            double d = in->coll_beta > 0 ? ring_allreduce(nr, in->tied_bytes[g], in->coll_alpha, in->coll_beta)
                                         : ring_allreduce(nr, in->tied_bytes[g], in->alpha && nr > 1 ? in->alpha[l] : 0,
                                                          in->beta && nr > 1 ? in->beta[l] : 0);
            for (int q = 0; q < nr; q++) fin[ranks[q]] = start + d;
        }
        for (int r = 0; r < R; r++) {
            double pb = 0, opt = 0;
            for (int st = 0; st < S; st++) {
                if (s.stage_rank[st] != r) continue;
                pb += in->param_bytes ? in->param_bytes[st] : 0;
                opt += in->optim_s ? in->optim_s[st] : 0;
            }
            fin[r] += ring_allreduce(in->dp, pb, in->dp_alpha, in->dp_beta) + opt;
            out->busy[r] += opt;
        }
    }
    double T = 0, idle_sum = 0, busy_sum = 0;
    for (int r = 0; r < R; r++) T = fin[r] > T ? fin[r] : T;
    out->iteration_s = T;
    for (int r = 0; r < R; r++) {
        double pb = 0;
        for (int st = 0; st < S; st++)
            if (s.stage_rank[st] == r && in->param_bytes) pb += in->param_bytes[st];
        out->idle[r] = T - out->busy[r];
        out->bubble_total[r] = T > 0 ? out->idle[r] / T : 0;
        out->bubble_ideal[r] = out->busy[r] > 0 ? out->idle[r] / out->busy[r] : 0;
        out->peak_total_bytes[r] = out->peak_act_bytes[r] + pb * (1.0 + in->state_per_param_byte);
        idle_sum += out->idle[r];
        busy_sum += out->busy[r];
    }
    out->bubble_total_all = T > 0 ? idle_sum / (R * T) : 0;
    out->bubble_ideal_all = busy_sum > 0 ? idle_sum / busy_sum : 0;
    out->samples_per_s = T > 0 ? in->samples_per_step / T : 0;
    out->tokens_per_s = T > 0 ? in->tokens_per_step / T : 0;

    /* Critical path: from the action that ends last, follow what set each start. */
    if (in->want_critical_path) {
        int br = -1, bi = -1;
        double best = -1;
        for (int r = 0; r < R; r++)
            for (int j = sc->ranks[r].n - 1; j >= 0; j--)
                if (s.a_end[r][j] > best && sc->ranks[r].acts[j].type != PP_ACT_NONE) {
                    best = s.a_end[r][j];
                    br = r;
                    bi = j;
                    break;
                }
        int n = 0, cap = 0;
        pp_sim_step *path = NULL;
        while (br >= 0 && bi >= 0) {
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                pp_sim_step *p = realloc(path, (size_t)cap * sizeof *p);
                if (!p) {
                    free(path);
                    pp_err_set(err, PP_ERR_NOMEM, "simulator: out of memory for the critical path");
                    goto fail;
                }
                path = p;
            }
            path[n++] = (pp_sim_step){br, bi, s.a_start[br][bi], s.a_end[br][bi]};
            int pr = s.a_pr[br][bi], pi = s.a_pi[br][bi];
            br = pr;
            bi = pi;
        }
        for (int i = 0; i < n / 2; i++) {
            pp_sim_step t = path[i];
            path[i] = path[n - 1 - i];
            path[n - 1 - i] = t;
        }
        out->critical = path;
        out->n_critical = n;
    }
    sim_free(&s);
    return 0;
fail:
    sim_free(&s);
    pp_sim_result_free(out);
    return -1;
}
