/*
 * pp_schedgen.c -- the schedule generators of pp_schedgen.h.
 *
 * Every generator writes rank r's row on its own, in O(actions), into a row
 * allocated once with its final size (or an upper bound), so a table of
 * millions of actions takes a fraction of a second. Tables are compute-only
 * and have no idle cells: the runtime's receives do the waiting.
 *
 * Notation below: Fj, Ij, Wj, Bj are the actions of microbatch j on the
 * rank's (only) stage; p ranks, m microbatches, v stages per rank.
 *
 * gpipe        rank r (stage r): F0 .. F(m-1), B0 .. B(m-1) (PyTorch's
 *              ScheduleGPipe order).
 * 1f1b         rank r: w = min(p - r - 1, m) forwards F0 .. F(w-1); then
 *              m - w pairs F(w+k), Bk; then the cooldown B(m-w) .. B(m-1).
 * interleaved  Megatron-LM's interleaved 1F1B (forward_backward_pipelining_
 *              with_interleaving). Stage of local chunk c on rank r: c*p + r.
 *              n = v*m virtual microbatches; warmup w = min(2(p - r - 1) +
 *              (v - 1)p, n). Virtual microbatch k is microbatch
 *              (k / (p v)) p + k % p of chunk (k / p) % v for a forward and
 *              of chunk v - 1 - (k / p) % v for a backward. Row: forwards
 *              0 .. w-1; then n - w pairs (forward w + k, backward k); then
 *              backwards n - w .. n-1. Needs m % p == 0 (as Megatron does).
 * looped-bfs   PyTorch's ScheduleLoopedBFS: for each local stage in order
 *              (r, r + p, ...), F of microbatches 0 .. m-1; then for each
 *              local stage in reverse order, B of microbatches m-1 .. 0
 *              (PyTorch runs a stage's backwards in reverse microbatch
 *              order; its leading and post-warmup idle cells are left out).
 * zbh1         Zero Bubble H1 (arXiv 2401.10241). Rank r: w = min(p - r, m)
 *              forwards; then for k = 0 .. m-1 the cycle
 *                  Ik, W(k - r) if k >= r, F(w + k) if w + k < m;
 *              then the W not yet done, in order. W is delayed by r I's so
 *              that every rank holds min(p, m) microbatches at its peak
 *              (1F1B's peak on rank 0). With equal F, I, W times the only
 *              idle time of rank r is (p - 1 - r)(F + I - W) after its
 *              warm-up (rank 0: the paper's (p - 1)(F + I - W)).
 * zbh2         Zero Bubble H2. Rank r: w = min(2(p - r) - 1, m) forwards (the
 *              number that fits before the first I can arrive when F = I =
 *              W: rank 0 does 2p - 1); W delayed by d = min(2r, m - w) I's;
 *              then the cycle of zbh1 (Ik, W(k - d) if k >= d, F(w + k) if
 *              w + k < m) and the remaining W in order. Every rank then
 *              peaks at min(2p - 1, m) microbatches. For m >= 2p - 1 and
 *              equal F, I, W times no rank is ever idle between its first
 *              and its last action (a parallelogram: rank r starts at r F and
 *              ends at 3m + r F); in general rank 0's idle time is the
 *              paper's (p - 1)(F + I - 2W) when that is >= 0. (The cap
 *              d <= m - w only matters for m < 2p - 1: it lets the W fill
 *              the cool-down when there are too few microbatches to fill the
 *              pipe, and it never does worse than zbh1 there.)
 * zbv          PyTorch's ScheduleZBVZeroBubble (ZB-V, V placement: rank r
 *              holds stage r ("chunk 0") and 2p - 1 - r ("chunk 1")).
 *              n = max(2p - 1, m); rank r: 2(p - r) - 1 chunk-0 F; r pairs
 *              (chunk-1 F, chunk-0 F); p - r triples (chunk-1 F, I, W); then
 *              while chunk 1 lags chunk 0 or chunk 0 has F left: (chunk-0 F
 *              if any left), chunk-0 I, W, chunk-1 F, I, W; cool-down: r
 *              pairs (chunk-0 I, chunk-1 I), p - r pairs (chunk-0 I,
 *              chunk-0 W), then the chunk-1 W and the chunk-0 W left. Actions
 *              of microbatches >= m (the padding to 2p - 1) are dropped
 *              (PyTorch turns them into idle cells; it also starts rank r
 *              with r idle cells, left out here). Peak per rank, in
 *              stage-microbatches: min(2p - r - 1, m) + min(r + 1, m), which
 *              is 2p for m >= 2p - 1.
 * dualpipev    PyTorch's ScheduleDualPipeV (DeepSeek's DualPipeV), V
 *              placement, m >= 2p. Rank r with chunk-0 stage r and chunk-1
 *              stage 2p - 1 - r: (1) 2(p - r - 1) chunk-0 F; (2) r + 1 pairs
 *              (chunk-0 F, chunk-1 F); (3) p - r - 1 times chunk-1 I, the
 *              oldest pending W, chunk-1 F; (4) m - 2p + r + 1 times
 *              OVERLAP(chunk-0 F, chunk-1 B), OVERLAP(chunk-1 F, chunk-0 B),
 *              the very first of the last rank's pairs being plain chunk-0 F,
 *              chunk-1 B; (5) p - r - 1 times chunk-1 B, OVERLAP(chunk-1 F,
 *              chunk-0 B); (6) r + 1 times chunk-1 then chunk-0 backward,
 *              switching from B to I (W deferred) half way (before the
 *              chunk-1 one on odd ranks, after it on even ranks); (7)
 *              p - r - 1 times the oldest pending W, then a chunk-0
 *              backward; (8) the r + 1 pending W. Reproduces PyTorch's table
 *              exactly (dualpipev_4rank_10mb.csv for p = 4, m = 10). Peak:
 *              2p stage-microbatches, 2p + 1 on the last rank.
 */
#include "planner/pp_schedgen.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_names[PP_SCHEDULE__COUNT] = {
    [PP_SCHEDULE_GPIPE] = "gpipe",
    [PP_SCHEDULE_1F1B] = "1f1b",
    [PP_SCHEDULE_INTERLEAVED] = "interleaved",
    [PP_SCHEDULE_LOOPED_BFS] = "looped-bfs",
    [PP_SCHEDULE_ZBH1] = "zbh1",
    [PP_SCHEDULE_ZBH2] = "zbh2",
    [PP_SCHEDULE_ZBV] = "zbv",
    [PP_SCHEDULE_DUALPIPEV] = "dualpipev",
};

#define PP_SCHEDULE_NAME_LIST "gpipe, 1f1b, interleaved, looped-bfs, zbh1, zbh2, zbv, dualpipev"

static int kind_ok(pp_schedule_kind k) { return (int)k >= 0 && k < PP_SCHEDULE__COUNT; }

const char *pp_schedule_name(pp_schedule_kind k) { return kind_ok(k) ? k_names[k] : "?"; }

/* Lower-cased name without '-' and '_' into buf; 0, or -1 when too long. */
static int squash(const char *s, char *buf, size_t n) {
    size_t o = 0;
    for (; *s; s++) {
        if (*s == '-' || *s == '_') continue;
        if (o + 1 >= n) return -1;
        char c = *s;
        buf[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    buf[o] = '\0';
    return 0;
}

int pp_schedule_parse(const char *name, pp_schedule_kind *out, pp_err *err) {
    /* Case and '-'/'_' are ignored; PyTorch's class names are accepted too. */
    static const struct {
        const char *alias;
        pp_schedule_kind k;
    } aliases[] = {
        {"interleaved1f1b", PP_SCHEDULE_INTERLEAVED},
        {"zbvzerobubble", PP_SCHEDULE_ZBV},
    };
    char want[64], have[64];
    if (!name || squash(name, want, sizeof want) != 0 || !want[0])
        return pp_err_set(err, PP_ERR_INVALID, "unknown schedule '%.64s'; known: " PP_SCHEDULE_NAME_LIST,
                          name ? name : "(null)");
    for (int k = 0; k < PP_SCHEDULE__COUNT; k++) {
        squash(k_names[k], have, sizeof have);
        if (strcmp(want, have) == 0) {
            *out = (pp_schedule_kind)k;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(want, aliases[i].alias) == 0) {
            *out = aliases[i].k;
            return 0;
        }
    }
    return pp_err_set(err, PP_ERR_INVALID, "unknown schedule '%.64s'; known: " PP_SCHEDULE_NAME_LIST, name);
}

int pp_schedule_stages_per_rank(pp_schedule_kind k, int v) {
    switch (k) {
    case PP_SCHEDULE_GPIPE:
    case PP_SCHEDULE_1F1B:
    case PP_SCHEDULE_ZBH1:
    case PP_SCHEDULE_ZBH2: return 1;
    case PP_SCHEDULE_INTERLEAVED:
    case PP_SCHEDULE_LOOPED_BFS: return v;
    case PP_SCHEDULE_ZBV:
    case PP_SCHEDULE_DUALPIPEV: return 2;
    default: return -1;
    }
}

static int is_v_shape(pp_schedule_kind k) { return k == PP_SCHEDULE_ZBV || k == PP_SCHEDULE_DUALPIPEV; }

int pp_schedule_stage_rank(pp_schedule_kind k, int p, int v, int s) {
    int spr = pp_schedule_stages_per_rank(k, v);
    if (p < 1 || spr < 1 || s < 0 || (long long)s >= (long long)p * spr) return -1;
    if (is_v_shape(k)) return s < p ? s : 2 * p - 1 - s;
    return s % p;
}

/* Actions a rank's row holds at most: F plus I and W (or B) per
 * stage-microbatch. */
static long long row_bound(pp_schedule_kind k, int m, int spr) {
    int split = k == PP_SCHEDULE_ZBH1 || k == PP_SCHEDULE_ZBH2 || k == PP_SCHEDULE_ZBV || k == PP_SCHEDULE_DUALPIPEV;
    return (long long)(split ? 3 : 2) * spr * m;
}

int pp_schedule_check(pp_schedule_kind k, int p, int m, int v, pp_err *err) {
    if (!kind_ok(k)) return pp_err_set(err, PP_ERR_INVALID, "unknown schedule kind %d", (int)k);
    const char *name = k_names[k];
    if (p < 1) return pp_err_set(err, PP_ERR_INVALID, "%s needs at least 1 rank (p >= 1), got p = %d", name, p);
    if (m < 1)
        return pp_err_set(err, PP_ERR_INVALID, "%s needs at least 1 microbatch (m >= 1), got m = %d", name, m);
    switch (k) {
    case PP_SCHEDULE_INTERLEAVED:
        if (v == 1)
            return pp_err_set(err, PP_ERR_INVALID,
                              "interleaved needs v >= 2 stages per rank, got v = 1; with one stage per rank "
                              "use 1f1b");
        if (v < 2)
            return pp_err_set(err, PP_ERR_INVALID, "interleaved needs v >= 2 stages per rank, got v = %d", v);
        if (m % p != 0) {
            long long lo = (long long)(m / p) * p, hi = lo + p;
            if (lo >= p)
                return pp_err_set(err, PP_ERR_INVALID,
                                  "interleaved needs m to be a multiple of p = %d (Megatron's interleaved 1F1B), "
                                  "got m = %d; m = %lld or %lld would work",
                                  p, m, lo, hi);
            return pp_err_set(err, PP_ERR_INVALID,
                              "interleaved needs m to be a multiple of p = %d (Megatron's interleaved 1F1B), "
                              "got m = %d; m = %lld would work",
                              p, m, hi);
        }
        break;
    case PP_SCHEDULE_LOOPED_BFS:
        if (v < 1)
            return pp_err_set(err, PP_ERR_INVALID, "looped-bfs needs v >= 1 stages per rank, got v = %d", v);
        break;
    case PP_SCHEDULE_ZBV:
    case PP_SCHEDULE_DUALPIPEV:
        if (v != 1 && v != 2)
            return pp_err_set(err, PP_ERR_INVALID,
                              "%s holds exactly 2 stages per rank (V placement: rank r holds stages r and "
                              "2p - 1 - r), got v = %d; pass v = 2 (or 1 to leave it implied)",
                              name, v);
        if (k == PP_SCHEDULE_DUALPIPEV && (long long)m < 2LL * p)
            return pp_err_set(err, PP_ERR_INVALID,
                              "dualpipev needs at least as many microbatches as stages, m >= 2p = %lld, got "
                              "m = %d; m = %lld or more would work (or use zbv, which takes any m)",
                              2LL * p, m, 2LL * p);
        break;
    default: break;
    }
    int spr = pp_schedule_stages_per_rank(k, v);
    if ((long long)p * spr > INT_MAX)
        return pp_err_set(err, PP_ERR_INVALID, "%s: p = %d ranks with %d stages each is too many stages", name, p,
                          spr);
    if (row_bound(k, m, spr) > INT_MAX)
        return pp_err_set(err, PP_ERR_INVALID,
                          "%s: m = %d microbatches on %d stage(s) per rank make too many actions for one rank", name,
                          m, spr);
    return 0;
}

/* ---- generators: each fills one rank's row ---- */

static inline void put(pp_sched_rank *row, int type, int stage, int mb) {
    row->acts[row->n++] = (pp_action){.type = type, .stage = stage, .mb = mb};
}

static void gen_gpipe(pp_sched_rank *row, int m, int r) {
    for (int j = 0; j < m; j++) put(row, PP_ACT_F, r, j);
    for (int j = 0; j < m; j++) put(row, PP_ACT_B, r, j);
}

static void gen_1f1b(pp_sched_rank *row, int p, int m, int r) {
    int w = p - r - 1 < m ? p - r - 1 : m;
    for (int j = 0; j < w; j++) put(row, PP_ACT_F, r, j);
    for (int k = 0; k < m - w; k++) {
        put(row, PP_ACT_F, r, w + k);
        put(row, PP_ACT_B, r, k);
    }
    for (int k = m - w; k < m; k++) put(row, PP_ACT_B, r, k);
}

/* Megatron's mapping of virtual microbatch k to stage and microbatch. */
static inline void il_put(pp_sched_rank *row, int p, int v, int r, int k, int fwd) {
    int c = (k / p) % v;
    if (!fwd) c = v - 1 - c;
    int mb = (k / (p * v)) * p + k % p;
    put(row, fwd ? PP_ACT_F : PP_ACT_B, c * p + r, mb);
}

static void gen_interleaved(pp_sched_rank *row, int p, int m, int v, int r) {
    int n = v * m;
    long long w0 = 2LL * (p - r - 1) + (long long)(v - 1) * p;
    int w = w0 < n ? (int)w0 : n;
    for (int k = 0; k < w; k++) il_put(row, p, v, r, k, 1);
    for (int k = 0; k < n - w; k++) {
        il_put(row, p, v, r, w + k, 1);
        il_put(row, p, v, r, k, 0);
    }
    for (int k = n - w; k < n; k++) il_put(row, p, v, r, k, 0);
}

static void gen_looped_bfs(pp_sched_rank *row, int p, int m, int v, int r) {
    for (int c = 0; c < v; c++)
        for (int j = 0; j < m; j++) put(row, PP_ACT_F, c * p + r, j);
    for (int c = v - 1; c >= 0; c--)
        for (int j = m - 1; j >= 0; j--) put(row, PP_ACT_B, c * p + r, j);
}

/* zbh1 and zbh2: w warm-up forwards, W delayed by d I's. */
static void gen_zb(pp_sched_rank *row, int m, int r, int w, int d) {
    for (int j = 0; j < w; j++) put(row, PP_ACT_F, r, j);
    int nw = 0;
    for (int k = 0; k < m; k++) {
        put(row, PP_ACT_I, r, k);
        if (k >= d) put(row, PP_ACT_W, r, nw++);
        if (w + k < m) put(row, PP_ACT_F, r, w + k);
    }
    while (nw < m) put(row, PP_ACT_W, r, nw++);
}

static void gen_zbh1(pp_sched_rank *row, int p, int m, int r) {
    int w = p - r < m ? p - r : m;
    gen_zb(row, m, r, w, r);
}

static void gen_zbh2(pp_sched_rank *row, int p, int m, int r) {
    long long w0 = 2LL * (p - r) - 1;
    int w = w0 < m ? (int)w0 : m;
    long long d0 = 2LL * r;
    int d = d0 < m - w ? (int)d0 : m - w;
    gen_zb(row, m, r, w, d);
}

/* Puts an action unless its microbatch is padding (>= m). */
static inline void put_lt(pp_sched_rank *row, int m, int type, int stage, int mb) {
    if (mb < m) put(row, type, stage, mb);
}

static void gen_zbv(pp_sched_rank *row, int p, int m, int r) {
    int n = 2 * p - 1 > m ? 2 * p - 1 : m;
    int c0 = r, c1 = 2 * p - 1 - r;
    int f0 = 0, f1 = 0, b0 = 0, b1 = 0;
    for (int i = 0; i < 2 * (p - r) - 1; i++) put_lt(row, m, PP_ACT_F, c0, f0++);
    for (int i = 0; i < r; i++) {
        put_lt(row, m, PP_ACT_F, c1, f1++);
        put_lt(row, m, PP_ACT_F, c0, f0++);
    }
    for (int i = 0; i < p - r; i++) {
        put_lt(row, m, PP_ACT_F, c1, f1++);
        put_lt(row, m, PP_ACT_I, c1, b1);
        put_lt(row, m, PP_ACT_W, c1, b1++);
    }
    while (f1 < f0 || f0 < n) {
        if (f0 < n) put_lt(row, m, PP_ACT_F, c0, f0++);
        put_lt(row, m, PP_ACT_I, c0, b0);
        put_lt(row, m, PP_ACT_W, c0, b0++);
        put_lt(row, m, PP_ACT_F, c1, f1++);
        put_lt(row, m, PP_ACT_I, c1, b1);
        put_lt(row, m, PP_ACT_W, c1, b1++);
    }
    int w0 = b0, w1 = b1;
    for (int i = 0; i < r; i++) {
        put_lt(row, m, PP_ACT_I, c0, b0++);
        put_lt(row, m, PP_ACT_I, c1, b1++);
    }
    for (int i = 0; i < p - r; i++) {
        put_lt(row, m, PP_ACT_I, c0, b0++);
        put_lt(row, m, PP_ACT_W, c0, w0++);
    }
    while (w1 < b1) put_lt(row, m, PP_ACT_W, c1, w1++);
    while (w0 < b0) put_lt(row, m, PP_ACT_W, c0, w0++);
}

/* DualPipeV's per-rank state: microbatch counters of its two stages and the
 * FIFO of deferred W (stage, microbatch). */
typedef struct dpv_state {
    pp_sched_rank *row;
    int stage[2];
    int nf[2], nb[2]; /* next F, next backward (I or B) microbatch per chunk */
    int *wq;          /* pairs (chunk, mb) */
    int wq_head, wq_tail;
} dpv_state;

static void dpv_f(dpv_state *st, int c) { put(st->row, PP_ACT_F, st->stage[c], st->nf[c]++); }

/* A backward of chunk c: B, or I with its W queued. */
static void dpv_b(dpv_state *st, int c, int split) {
    int mb = st->nb[c]++;
    put(st->row, split ? PP_ACT_I : PP_ACT_B, st->stage[c], mb);
    if (split) {
        st->wq[2 * st->wq_tail] = c;
        st->wq[2 * st->wq_tail + 1] = mb;
        st->wq_tail++;
    }
}

static void dpv_w(dpv_state *st) {
    if (st->wq_head == st->wq_tail) return;
    int c = st->wq[2 * st->wq_head], mb = st->wq[2 * st->wq_head + 1];
    st->wq_head++;
    put(st->row, PP_ACT_W, st->stage[c], mb);
}

/* OVERLAP(F of chunk fc, B of chunk 1 - fc). */
static void dpv_overlap(dpv_state *st, int fc) {
    int bc = 1 - fc;
    st->row->acts[st->row->n++] =
        pp_action_overlap(st->stage[fc], st->nf[fc]++, PP_ACT_B, st->stage[bc], st->nb[bc]++);
}

static void gen_dualpipev(pp_sched_rank *row, int p, int m, int r, int *wq) {
    dpv_state st = {.row = row, .stage = {r, 2 * p - 1 - r}, .wq = wq};
    for (int i = 0; i < 2 * (p - r - 1); i++) dpv_f(&st, 0);      /* 1: F0 */
    for (int i = 0; i < r + 1; i++) dpv_f(&st, 0), dpv_f(&st, 1); /* 2: F0 F1 */
    for (int i = 0; i < p - r - 1; i++) {                          /* 3: I1 W F1 */
        dpv_b(&st, 1, 1);
        dpv_w(&st);
        dpv_f(&st, 1);
    }
    for (int i = 0; i < m - 2 * p + r + 1; i++) { /* 4: (F0;B1) (F1;B0) */
        if (i == 0 && r == p - 1) {
            dpv_f(&st, 0);
            dpv_b(&st, 1, 0);
        } else {
            dpv_overlap(&st, 0);
        }
        dpv_overlap(&st, 1);
    }
    for (int i = 0; i < p - r - 1; i++) { /* 5: B1 (F1;B0) */
        dpv_b(&st, 1, 0);
        dpv_overlap(&st, 1);
    }
    int zb = 0, n6 = r + 1; /* 6: B1 B0, split from the middle on */
    for (int i = 0; i < n6; i++) {
        if (i == n6 / 2 && r % 2 == 1) zb = 1;
        dpv_b(&st, 1, zb);
        if (i == n6 / 2 && r % 2 == 0) zb = 1;
        dpv_b(&st, 0, zb);
    }
    for (int i = 0; i < p - r - 1; i++) { /* 7: W B0 */
        dpv_w(&st);
        dpv_b(&st, 0, zb);
    }
    for (int i = 0; i < r + 1; i++) dpv_w(&st); /* 8: W */
}

int pp_schedule_generate(pp_schedule_kind k, int p, int m, int v, pp_sched *out, pp_err *err) {
    if (pp_schedule_check(k, p, m, v, err)) return -1;
    int spr = pp_schedule_stages_per_rank(k, v);
    int cap = (int)row_bound(k, m, spr);
    pp_sched s;
    if (pp_sched_init(&s, p, err)) return -1;
    int *wq = NULL;
    if (k == PP_SCHEDULE_DUALPIPEV) {
        wq = pp_malloc(2ULL * 2 * (unsigned long long)m * sizeof *wq, err);
        if (!wq) goto fail;
    }
    for (int r = 0; r < p; r++) {
        pp_sched_rank *row = &s.ranks[r];
        row->acts = pp_malloc((unsigned long long)cap * sizeof *row->acts, err);
        if (!row->acts) goto fail;
        row->cap = cap;
        row->n = 0;
        switch (k) {
        case PP_SCHEDULE_GPIPE: gen_gpipe(row, m, r); break;
        case PP_SCHEDULE_1F1B: gen_1f1b(row, p, m, r); break;
        case PP_SCHEDULE_INTERLEAVED: gen_interleaved(row, p, m, v, r); break;
        case PP_SCHEDULE_LOOPED_BFS: gen_looped_bfs(row, p, m, v, r); break;
        case PP_SCHEDULE_ZBH1: gen_zbh1(row, p, m, r); break;
        case PP_SCHEDULE_ZBH2: gen_zbh2(row, p, m, r); break;
        case PP_SCHEDULE_ZBV: gen_zbv(row, p, m, r); break;
        case PP_SCHEDULE_DUALPIPEV: gen_dualpipev(row, p, m, r, wq); break;
        default: break;
        }
    }
    free(wq);
    *out = s;
    return 0;
fail:
    free(wq);
    pp_sched_free(&s);
    return -1;
}

int pp_schedule_peak_inflight(pp_schedule_kind k, int p, int m, int v, int rank) {
    if (pp_schedule_check(k, p, m, v, NULL) || rank < 0 || rank >= p) return -1;
    long long r = rank, P = p, M = m, V = v, x;
    switch (k) {
    case PP_SCHEDULE_GPIPE: x = M; break;
    case PP_SCHEDULE_1F1B: x = P - r < M ? P - r : M; break;
    case PP_SCHEDULE_INTERLEAVED: {
        long long w = 2 * (P - r - 1) + (V - 1) * P + 1;
        x = w < V * M ? w : V * M;
        break;
    }
    case PP_SCHEDULE_LOOPED_BFS: x = V * M; break;
    case PP_SCHEDULE_ZBH1: x = P < M ? P : M; break;
    case PP_SCHEDULE_ZBH2: x = 2 * P - 1 < M ? 2 * P - 1 : M; break;
    case PP_SCHEDULE_ZBV: x = (2 * P - r - 1 < M ? 2 * P - r - 1 : M) + (r + 1 < M ? r + 1 : M); break;
    case PP_SCHEDULE_DUALPIPEV: x = r == P - 1 ? 2 * P + 1 : 2 * P; break;
    default: return -1;
    }
    return x > INT_MAX ? -1 : (int)x;
}
