/*
 * pp_sched_check.c -- checking and lowering schedule tables (see the end of
 * pp_sched.h): stage placement, PyTorch's validation rules plus comms
 * consistency, a deadlock check that runs the execution model, and the
 * lowering of compute-only tables into compute_comms ones.
 *
 * Every check keeps one byte of flags per (stage, microbatch), so memory is
 * linear in stages * microbatches plus the ranks, and every pass is linear
 * in the number of actions.
 *
 * Validation runs in passes, so that each message names the first offending
 * cell of its kind:
 *   1. cells: known type, stage in [0, PP_SCHED_ID_MAX] (below S when S is
 *      given), a microbatch where one is needed, in that range and below m
 *      when m is given, OVERLAP_F_B = forward then backward; then a table
 *      whose S x M exceeds 4 x cells + 65536 is reported incomplete from
 *      its sorted forwards, so nothing below allocates more than the table
 *      could need;
 *   2. stage placement: compute cells (OVERLAP parts included) place the
 *      stages, then comm and step-level cells must name a stage of their own
 *      rank; every stage 0..S-1 must appear somewhere;
 *   3. (compute_comms) each comm cell: a neighbour exists and sits on another
 *      rank, no duplicates;
 *   4. (compute_comms) pairing: SEND_F(s,m) <-> RECV_F(s+1,m) and
 *      SEND_B(s,m) <-> RECV_B(s-1,m);
 *   5. completeness: per stage and microbatch an F and a backward (B, or I
 *      and W); every missing pass counted, the first 8 named;
 *   6. order, per rank in its order: F before I/B, I before W, no duplicate,
 *      not both B and I; (compute_comms) a compute action whose neighbour is
 *      on another rank comes after its RECV, a SEND after the action it sends.
 *      With 5 that implies PyTorch's counting rules.
 * pp_sched_check is validation and then the deadlock check.
 *
 * The deadlock check keeps a cursor per rank and a worklist of ranks that
 * may advance. A rank runs until its next action waits for something not
 * yet produced; it then records what it waits for. Every remote need has
 * exactly one consumer rank (the rank of the neighbouring stage), so an
 * action that produces something wakes at most one rank: O(actions) total.
 */
#include "core/pp_sched.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL_MAX 96

static int is_compute(int t) { return t == PP_ACT_F || t == PP_ACT_I || t == PP_ACT_W || t == PP_ACT_B; }

static int is_comm(int t) {
    return t == PP_ACT_SEND_F || t == PP_ACT_RECV_F || t == PP_ACT_SEND_B || t == PP_ACT_RECV_B;
}

static int is_step(int t) {
    return t == PP_ACT_ALLREDUCE || t == PP_ACT_OPTIM || t == PP_ACT_UNSHARD || t == PP_ACT_RESHARD;
}

static void cell_text(const pp_action *a, char *buf) { pp_action_format(a, PP_NAMING_CURRENT, buf, CELL_MAX); }

static const char *type_name(int t) { return pp_act_type_name((pp_act_type)t, PP_NAMING_CURRENT); }

/* "rank r, action i (cell): ..." */
__attribute__((format(printf, 5, 6))) static int place_err(pp_err *err, int r, int i, const pp_action *a,
                                                            const char *fmt, ...) {
    char what[PP_ERR_MSG_MAX], cell[CELL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    cell_text(a, cell);
    return pp_err_set(err, PP_ERR_INVALID, "rank %d, action %d (%s): %s", r, i, cell, what);
}

/* The compute parts of an action: itself, the two parts of an OVERLAP_F_B,
 * or none. Returns the count. */
static int compute_parts(const pp_action *a, pp_subaction out[2]) {
    if (a->type == PP_ACT_OVERLAP_F_B) {
        out[0] = a->sub[0];
        out[1] = a->sub[1];
        return 2;
    }
    if (is_compute(a->type)) {
        out[0] = (pp_subaction){.type = a->type, .stage = a->stage, .mb = a->mb};
        return 1;
    }
    return 0;
}

/* 1 when action a involves stage st (its own stage or an OVERLAP part's). */
static int involves_stage(const pp_action *a, int st) {
    if (a->type == PP_ACT_NONE) return 0;
    if (a->type == PP_ACT_OVERLAP_F_B) return a->sub[0].stage == st || a->sub[1].stage == st;
    return a->stage == st;
}

/* ---- pass 1: cells ---- */

/* One stage index: in [0, PP_SCHED_ID_MAX], and below n_st when n_st > 0. */
static int check_stage(const pp_action *a, int r, int i, int st, int n_st, pp_err *err) {
    if (st < 0) return place_err(err, r, i, a, "negative stage %d", st);
    if (st > PP_SCHED_ID_MAX) return place_err(err, r, i, a, "stage %d above %d", st, PP_SCHED_ID_MAX);
    if (n_st > 0 && st >= n_st) return place_err(err, r, i, a, "stage %d out of range [0, %d)", st, n_st);
    return 0;
}

/* One microbatch index, the same way against m. */
static int check_mb(const pp_action *a, int r, int i, int mb, int m, pp_err *err) {
    if (mb < 0) return place_err(err, r, i, a, "negative or missing microbatch %d", mb);
    if (mb > PP_SCHED_ID_MAX) return place_err(err, r, i, a, "microbatch %d above %d", mb, PP_SCHED_ID_MAX);
    if (m > 0 && mb >= m) return place_err(err, r, i, a, "microbatch %d out of range [0, %d)", mb, m);
    return 0;
}

/* Checks every cell on its own. n_st > 0 and m > 0 also bound the stages
 * and microbatches. */
static int check_cells(const pp_sched *s, int n_st, int m, pp_err *err) {
    if (s->n_ranks < 0 || (s->n_ranks > 0 && !s->ranks))
        return pp_err_set(err, PP_ERR_INVALID, "schedule: bad rank count %d", s->n_ranks);
    for (int r = 0; r < s->n_ranks; r++) {
        const pp_sched_rank *row = &s->ranks[r];
        if (row->n < 0 || (row->n > 0 && !row->acts))
            return pp_err_set(err, PP_ERR_INVALID, "schedule: rank %d has a bad action count %d", r, row->n);
        for (int i = 0; i < row->n; i++) {
            const pp_action *a = &row->acts[i];
            int t = a->type;
            if (t < 0 || t >= PP_ACT__COUNT)
                return pp_err_set(err, PP_ERR_INVALID, "rank %d, action %d: unknown action type %d", r, i, t);
            if (t == PP_ACT_NONE) continue;
            if (t == PP_ACT_OVERLAP_F_B) {
                int bt = a->sub[1].type;
                if (a->sub[0].type != PP_ACT_F || (bt != PP_ACT_I && bt != PP_ACT_W && bt != PP_ACT_B))
                    return place_err(err, r, i, a, "OVERLAP_F_B must hold a forward, then a backward (I, W or B)");
                for (int k = 0; k < 2; k++)
                    if (check_stage(a, r, i, a->sub[k].stage, n_st, err) || check_mb(a, r, i, a->sub[k].mb, m, err))
                        return -1;
                continue;
            }
            if (check_stage(a, r, i, a->stage, n_st, err)) return -1;
            if (is_step(t)) continue;
            if (check_mb(a, r, i, a->mb, m, err)) return -1;
        }
    }
    return 0;
}

/* ---- pass 2: stage placement ---- */

/* First action of rank r that involves stage st (-1 if none). */
static int first_on_rank(const pp_sched *s, int r, int st) {
    for (int i = 0; i < s->ranks[r].n; i++)
        if (involves_stage(&s->ranks[r].acts[i], st)) return i;
    return -1;
}

static int placement_err(const pp_sched *s, int r, int i, int st, int other, int is_comm_cell, pp_err *err) {
    char cell[CELL_MAX] = "?";
    int j = first_on_rank(s, other, st);
    if (j >= 0) cell_text(&s->ranks[other].acts[j], cell);
    if (is_comm_cell)
        return place_err(err, r, i, &s->ranks[r].acts[i],
                         "stage %d is on rank %d (action %d, %s); a rank sends and receives only for its own stages",
                         st, other, j, cell);
    return place_err(err, r, i, &s->ranks[r].acts[i],
                     "stage %d is also on rank %d (action %d, %s); a stage runs on one rank only", st, other, j, cell);
}

/* Fills sr[0..n_stages) (-1 for a stage no cell names). Cells checked. */
static int stage_ranks_impl(const pp_sched *s, int n_stages, int *sr, pp_err *err) {
    for (int st = 0; st < n_stages; st++) sr[st] = -1;
    /* Compute cells place the stages... */
    for (int r = 0; r < s->n_ranks; r++) {
        for (int i = 0; i < s->ranks[r].n; i++) {
            pp_subaction part[2];
            int np = compute_parts(&s->ranks[r].acts[i], part);
            for (int k = 0; k < np; k++) {
                int st = part[k].stage;
                if (sr[st] < 0) sr[st] = r;
                else if (sr[st] != r) return placement_err(s, r, i, st, sr[st], 0, err);
            }
        }
    }
    /* ...then comm and step-level cells must agree (or place a stage that
     * has no compute cell). */
    for (int r = 0; r < s->n_ranks; r++) {
        for (int i = 0; i < s->ranks[r].n; i++) {
            const pp_action *a = &s->ranks[r].acts[i];
            if (!is_comm(a->type) && !is_step(a->type)) continue;
            int st = a->stage;
            if (sr[st] < 0) sr[st] = r;
            else if (sr[st] != r) return placement_err(s, r, i, st, sr[st], is_comm(a->type), err);
        }
    }
    return 0;
}

int pp_sched_stage_ranks(const pp_sched *s, int *stage_rank, pp_err *err) {
    if (check_cells(s, 0, 0, err)) return -1;
    return stage_ranks_impl(s, pp_sched_n_stages(s), stage_rank, err);
}

/* ---- validation ---- */

enum {
    G_F = 1 << 0,
    G_I = 1 << 1,
    G_W = 1 << 2,
    G_B = 1 << 3,
    G_SF = 1 << 4, /* SEND_F */
    G_RF = 1 << 5, /* RECV_F */
    G_SB = 1 << 6, /* SEND_B */
    G_RB = 1 << 7, /* RECV_B */
};

typedef struct vctx {
    const pp_sched *s;
    int S, M;
    const int *sr;
    unsigned char *g; /* S * M flags */
    int comms;
} vctx;

static unsigned char *gat(const vctx *v, int st, int mb) { return &v->g[(size_t)st * (size_t)v->M + (size_t)mb]; }

static int comm_bit(int t) {
    switch (t) {
    case PP_ACT_SEND_F: return G_SF;
    case PP_ACT_RECV_F: return G_RF;
    case PP_ACT_SEND_B: return G_SB;
    default: return G_RB;
    }
}

/* Pass 3: a comm cell on its own (neighbour exists, on another rank), no
 * duplicates. Sets the comm flags. */
static int check_comm_cell(vctx *v, int r, int i, const pp_action *a, pp_err *err) {
    int t = a->type, st = a->stage, mb = a->mb, last = v->S - 1;
    int nb = (t == PP_ACT_SEND_F || t == PP_ACT_RECV_B) ? st + 1 : st - 1; /* the peer stage */
    if (t == PP_ACT_SEND_F && st == last)
        return place_err(err, r, i, a, "SEND_F from the last stage %d (it has no next stage)", st);
    if (t == PP_ACT_RECV_B && st == last)
        return place_err(err, r, i, a, "RECV_B of the last stage %d (it has no next stage)", st);
    if (t == PP_ACT_RECV_F && st == 0) return place_err(err, r, i, a, "RECV_F of stage 0 (it has no previous stage)");
    if (t == PP_ACT_SEND_B && st == 0) return place_err(err, r, i, a, "SEND_B from stage 0 (it has no previous stage)");
    if (v->sr[nb] == r)
        return place_err(err, r, i, a, "%s between stages %d and %d, both on rank %d (they hand over in memory)",
                         type_name(t), st, nb, r);
    unsigned char *g = gat(v, st, mb);
    int bit = comm_bit(t);
    if (*g & bit) return place_err(err, r, i, a, "duplicate %s of stage %d microbatch %d", type_name(t), st, mb);
    *g |= (unsigned char)bit;
    return 0;
}

/* Pass 4: the matching cell on the peer's rank exists. */
static int check_comm_pair(vctx *v, int r, int i, const pp_action *a, pp_err *err) {
    int t = a->type, st = a->stage, mb = a->mb;
    int nb, want;
    switch (t) {
    case PP_ACT_SEND_F: nb = st + 1, want = PP_ACT_RECV_F; break;
    case PP_ACT_RECV_F: nb = st - 1, want = PP_ACT_SEND_F; break;
    case PP_ACT_SEND_B: nb = st - 1, want = PP_ACT_RECV_B; break;
    default: nb = st + 1, want = PP_ACT_SEND_B; break;
    }
    if (*gat(v, nb, mb) & comm_bit(want)) return 0;
    return place_err(err, r, i, a, "no matching %d%s%d on rank %d", nb, type_name(want), mb, v->sr[nb]);
}

/* Pass 6: one compute part (type t of stage st, microbatch mb) in order. */
static int check_compute_order(vctx *v, int r, int i, const pp_action *a, int t, int st, int mb, pp_err *err) {
    unsigned char *g = gat(v, st, mb);
    const char *tn = type_name(t);
    switch (t) {
    case PP_ACT_F:
        if (*g & G_F) return place_err(err, r, i, a, "duplicate F of stage %d microbatch %d", st, mb);
        if (v->comms && st > 0 && v->sr[st - 1] != r && !(*g & G_RF))
            return place_err(err, r, i, a, "F of stage %d microbatch %d without an earlier %dRECV_F%d", st, mb, st,
                             mb);
        *g |= G_F;
        return 0;
    case PP_ACT_I:
    case PP_ACT_B:
        if (!(*g & G_F)) return place_err(err, r, i, a, "%s before F of stage %d microbatch %d", tn, st, mb);
        if (*g & (t == PP_ACT_I ? G_I : G_B))
            return place_err(err, r, i, a, "duplicate %s of stage %d microbatch %d", tn, st, mb);
        if (*g & (G_I | G_B))
            return place_err(err, r, i, a, "both B and I of stage %d microbatch %d (B already includes I and W)", st,
                             mb);
        if (v->comms && st < v->S - 1 && v->sr[st + 1] != r && !(*g & G_RB))
            return place_err(err, r, i, a, "%s of stage %d microbatch %d without an earlier %dRECV_B%d", tn, st, mb,
                             st, mb);
        *g |= (unsigned char)(t == PP_ACT_I ? G_I : G_B);
        return 0;
    default: /* W */
        if (*g & G_B)
            return place_err(err, r, i, a, "W of stage %d microbatch %d after its full backward B (which includes W)",
                             st, mb);
        if (!(*g & G_I)) return place_err(err, r, i, a, "W before I of stage %d microbatch %d", st, mb);
        if (*g & G_W) return place_err(err, r, i, a, "duplicate W of stage %d microbatch %d", st, mb);
        *g |= G_W;
        return 0;
    }
}

/* Pass 6: a comm cell in order (compute_comms): a SEND after what it sends. */
static int check_comm_order(vctx *v, int r, int i, const pp_action *a, pp_err *err) {
    unsigned char *g = gat(v, a->stage, a->mb);
    if (a->type == PP_ACT_SEND_F && !(*g & G_F))
        return place_err(err, r, i, a, "SEND_F before F of stage %d microbatch %d", a->stage, a->mb);
    if (a->type == PP_ACT_SEND_B && !(*g & (G_I | G_B)))
        return place_err(err, r, i, a, "SEND_B before the backward (I or B) of stage %d microbatch %d", a->stage,
                         a->mb);
    *g |= (unsigned char)comm_bit(a->type);
    return 0;
}

/* Pass 5: completeness, before the order, so that a table with dropped
 * cells says what is missing rather than what now comes too early. Every
 * stage and microbatch needs its F and either B or I and W; every missing
 * pass is counted and the first MISSING_SHOWN are named. */
#define MISSING_SHOWN 8

typedef struct missing_list {
    unsigned long long n;
    size_t o;
    char msg[PP_ERR_MSG_MAX / 2];
} missing_list;

static void missing_add(missing_list *l, int st, int mb, const char *what) {
    if (l->n++ >= MISSING_SHOWN || l->o >= sizeof l->msg) return;
    int k = snprintf(l->msg + l->o, sizeof l->msg - l->o, "%sstage %d microbatch %d has %s", l->n > 1 ? "; " : "", st,
                     mb, what);
    if (k > 0) l->o += (size_t)k;
}

static const char *missing_more(const missing_list *l) { return l->n > MISSING_SHOWN ? "; ..." : ""; }

static int check_complete(vctx *v, pp_err *err) {
    const pp_sched *s = v->s;
    for (int r = 0; r < s->n_ranks; r++) {
        for (int i = 0; i < s->ranks[r].n; i++) {
            pp_subaction part[2];
            int np = compute_parts(&s->ranks[r].acts[i], part);
            for (int k = 0; k < np; k++) {
                int t = part[k].type;
                *gat(v, part[k].stage, part[k].mb) |=
                    (unsigned char)(t == PP_ACT_F ? G_F : t == PP_ACT_I ? G_I : t == PP_ACT_W ? G_W : G_B);
            }
        }
    }
    missing_list l;
    memset(&l, 0, sizeof l);
    for (int st = 0; st < v->S; st++) {
        for (int mb = 0; mb < v->M; mb++) {
            unsigned char g = *gat(v, st, mb);
            if (!(g & G_F)) missing_add(&l, st, mb, "no forward (F)");
            if (g & G_B) continue;
            if (!(g & (G_I | G_W))) missing_add(&l, st, mb, "no backward (B or I+W)");
            else if (!(g & G_W)) missing_add(&l, st, mb, "I but no W");
            else if (!(g & G_I)) missing_add(&l, st, mb, "W but no I");
        }
    }
    memset(v->g, 0, (size_t)v->S * (size_t)v->M);
    if (!l.n) return 0;
    return pp_err_set(err, PP_ERR_INVALID, "schedule incomplete (%llu missing): %s%s", l.n, l.msg, missing_more(&l));
}

static int validate_passes(vctx *v, pp_err *err) {
    const pp_sched *s = v->s;
    if (v->comms) {
        for (int r = 0; r < s->n_ranks; r++)
            for (int i = 0; i < s->ranks[r].n; i++)
                if (is_comm(s->ranks[r].acts[i].type) && check_comm_cell(v, r, i, &s->ranks[r].acts[i], err))
                    return -1;
        for (int r = 0; r < s->n_ranks; r++)
            for (int i = 0; i < s->ranks[r].n; i++)
                if (is_comm(s->ranks[r].acts[i].type) && check_comm_pair(v, r, i, &s->ranks[r].acts[i], err))
                    return -1;
        memset(v->g, 0, (size_t)v->S * (size_t)v->M);
    }
    if (check_complete(v, err)) return -1;
    for (int r = 0; r < s->n_ranks; r++) {
        for (int i = 0; i < s->ranks[r].n; i++) {
            const pp_action *a = &s->ranks[r].acts[i];
            if (is_comm(a->type)) {
                if (check_comm_order(v, r, i, a, err)) return -1;
                continue;
            }
            pp_subaction part[2];
            int np = compute_parts(a, part);
            /* An OVERLAP_F_B's backward is checked first: its forward runs
             * at the same time, so it cannot be what the backward needs. */
            for (int k = np - 1; k >= 0; k--)
                if (check_compute_order(v, r, i, a, part[k].type, part[k].stage, part[k].mb, err)) return -1;
        }
    }
    return 0;
}

/* Counts the cells, the compute parts and the forwards (OVERLAP parts
 * included). */
static void count_cells(const pp_sched *s, unsigned long long *cells, unsigned long long *comps,
                        unsigned long long *fwds) {
    *cells = *comps = *fwds = 0;
    for (int r = 0; r < s->n_ranks; r++) {
        *cells += (unsigned long long)s->ranks[r].n;
        for (int i = 0; i < s->ranks[r].n; i++) {
            pp_subaction part[2];
            int np = compute_parts(&s->ranks[r].acts[i], part);
            *comps += (unsigned long long)np;
            for (int k = 0; k < np; k++) *fwds += part[k].type == PP_ACT_F;
        }
    }
}

/* The largest stages x microbatches grid a table of `cells` cells gets: a
 * complete table has a forward per entry, so a bigger grid means missing
 * forwards, which are then found without it. */
static int grid_fits(unsigned long long S, unsigned long long M, unsigned long long cells) {
    return S * M <= 4 * cells + 65536;
}

static int cmp_ull(const void *a, const void *b) {
    unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
    return x < y ? -1 : x > y;
}

/* A table too small for its S x M grid: names the first missing forwards
 * from the sorted positions st * M + mb of the forwards it has, in time and
 * memory linear in the table (times a log). */
static int report_missing_forwards(const pp_sched *s, int S, int M, unsigned long long fwds, pp_err *err) {
    unsigned long long need = (unsigned long long)S * (unsigned long long)M, n = 0, u = 0;
    unsigned long long *pos = pp_malloc((fwds ? fwds : 1) * sizeof *pos, err);
    if (!pos) return -1;
    for (int r = 0; r < s->n_ranks; r++) {
        for (int i = 0; i < s->ranks[r].n; i++) {
            pp_subaction part[2];
            int np = compute_parts(&s->ranks[r].acts[i], part);
            for (int k = 0; k < np; k++)
                if (part[k].type == PP_ACT_F)
                    pos[n++] = (unsigned long long)part[k].stage * (unsigned long long)M + (unsigned long long)part[k].mb;
        }
    }
    qsort(pos, (size_t)n, sizeof *pos, cmp_ull);
    for (unsigned long long j = 0; j < n; j++)
        if (!u || pos[j] != pos[u - 1]) pos[u++] = pos[j];
    missing_list l;
    memset(&l, 0, sizeof l);
    unsigned long long next = 0;
    for (unsigned long long j = 0; j <= u && l.n < MISSING_SHOWN; j++) {
        unsigned long long end = j < u ? pos[j] : need;
        for (; next < end && l.n < MISSING_SHOWN; next++)
            missing_add(&l, (int)(next / (unsigned long long)M), (int)(next % (unsigned long long)M), "no forward (F)");
        next = end + 1;
    }
    free(pos);
    return pp_err_set(err, PP_ERR_INVALID,
                      "schedule incomplete (%llu forwards missing): %d stages x %d microbatches need %llu forwards, "
                      "the table has %llu: %s%s",
                      need - u, S, M, need, u, l.msg, need - u > MISSING_SHOWN ? "; ..." : "");
}

static int validate_impl(const pp_sched *s, int n_stages, int n_microbatches, pp_err *err) {
    if (s->n_ranks <= 0) return pp_err_set(err, PP_ERR_INVALID, "schedule: no ranks");
    if (check_cells(s, n_stages > 0 ? n_stages : 0, n_microbatches > 0 ? n_microbatches : 0, err)) return -1;
    int S = n_stages > 0 ? n_stages : pp_sched_n_stages(s);
    int M = n_microbatches > 0 ? n_microbatches : pp_sched_n_microbatches(s);
    if (S <= 0) return pp_err_set(err, PP_ERR_INVALID, "schedule: no action names a stage");
    if (M <= 0) return pp_err_set(err, PP_ERR_INVALID, "schedule: no action names a microbatch");
    unsigned long long cells, comps, fwds, need = (unsigned long long)S * (unsigned long long)M;
    count_cells(s, &cells, &comps, &fwds);
    if (!comps)
        return pp_err_set(err, PP_ERR_INVALID,
                          "schedule incomplete: the table has no forward or backward (%d stages x %d microbatches "
                          "need %llu forwards F and as many backwards, B or I+W)",
                          S, M, need);
    /* A table far smaller than stages x microbatches misses forwards; say
     * which without allocating the grid (or the stage list) for it. */
    if (!grid_fits((unsigned long long)S, (unsigned long long)M, cells))
        return report_missing_forwards(s, S, M, fwds, err);
    int *sr = pp_malloc((unsigned long long)S * sizeof *sr, err);
    if (!sr) return -1;
    int rc = -1;
    unsigned char *g = NULL;
    if (stage_ranks_impl(s, S, sr, err)) goto done;
    for (int st = 0; st < S; st++)
        if (sr[st] < 0) {
            pp_err_set(err, PP_ERR_INVALID, "schedule: stage %d appears in no action (stages 0..%d)", st, S - 1);
            goto done;
        }
    g = pp_calloc(need, 1, err);
    if (!g) goto done;
    vctx v = {.s = s, .S = S, .M = M, .sr = sr, .g = g, .comms = pp_sched_form_of(s) == PP_SCHED_COMPUTE_COMMS};
    rc = validate_passes(&v, err);
done:
    free(g);
    free(sr);
    return rc;
}

int pp_sched_validate(const pp_sched *s, int n_microbatches, pp_err *err) {
    return validate_impl(s, 0, n_microbatches, err);
}

int pp_sched_check(const pp_sched *s, int n_stages, int n_microbatches, pp_err *err) {
    if (validate_impl(s, n_stages, n_microbatches, err)) return -1;
    return pp_sched_check_deadlock(s, err);
}

/* ---- deadlock check ---- */

enum { NEED_NONE = 0, NEED_F, NEED_I, NEED_SEND_F, NEED_SEND_B };
enum { D_F = 1, D_I = 2, D_SF = 4, D_SB = 8 };

typedef struct need {
    int kind, stage, mb;
} need;

typedef struct dctx {
    const pp_sched *s;
    int S, M, comms;
    int *sr;
    unsigned char *g;
    int *pc;
    need *blocked; /* per rank: what it waits for (kind NEED_NONE: not waiting) */
    int *stack, sp;
    unsigned char *queued;
} dctx;

static unsigned char *dat(const dctx *d, int st, int mb) { return &d->g[(size_t)st * (size_t)d->M + (size_t)mb]; }

static int need_bit(int kind) {
    switch (kind) {
    case NEED_F: return D_F;
    case NEED_I: return D_I;
    case NEED_SEND_F: return D_SF;
    default: return D_SB;
    }
}

static int need_met(const dctx *d, need n) {
    if (n.stage < 0 || n.stage >= d->S) return 0;
    return (*dat(d, n.stage, n.mb) & need_bit(n.kind)) != 0;
}

/* The rank that produces a need (-1: none). */
static int producer(const dctx *d, need n) { return n.stage < 0 || n.stage >= d->S ? -1 : d->sr[n.stage]; }

/* Needs of one compute part on rank r. */
static int part_needs(const dctx *d, int r, int t, int st, int mb, need *out) {
    int k = 0;
    if (t == PP_ACT_F) {
        /* Compute-only: an implicit receive (or the in-memory handover);
         * compute_comms: the explicit RECV_F covers a remote input. */
        if (st > 0 && (!d->comms || d->sr[st - 1] == r)) out[k++] = (need){NEED_F, st - 1, mb};
    } else if (t == PP_ACT_I || t == PP_ACT_B) {
        out[k++] = (need){NEED_F, st, mb};
        if (st < d->S - 1 && (!d->comms || d->sr[st + 1] == r)) out[k++] = (need){NEED_I, st + 1, mb};
    } else if (t == PP_ACT_W) {
        out[k++] = (need){NEED_I, st, mb};
    }
    return k;
}

/* All needs of an action (at most 4). */
static int action_needs(const dctx *d, int r, const pp_action *a, need *out) {
    switch (a->type) {
    case PP_ACT_SEND_F: out[0] = (need){NEED_F, a->stage, a->mb}; return 1;
    case PP_ACT_SEND_B: out[0] = (need){NEED_I, a->stage, a->mb}; return 1;
    case PP_ACT_RECV_F: out[0] = (need){NEED_SEND_F, a->stage - 1, a->mb}; return 1;
    case PP_ACT_RECV_B: out[0] = (need){NEED_SEND_B, a->stage + 1, a->mb}; return 1;
    default: break;
    }
    pp_subaction part[2];
    int np = compute_parts(a, part), k = 0;
    for (int p = 0; p < np; p++) k += part_needs(d, r, part[p].type, part[p].stage, part[p].mb, out + k);
    return k;
}

static void wake(dctx *d, int w, int kind, int st, int mb) {
    if (w < 0) return;
    need *b = &d->blocked[w];
    if (b->kind != kind || b->stage != st || b->mb != mb) return;
    b->kind = NEED_NONE;
    if (!d->queued[w]) {
        d->queued[w] = 1;
        d->stack[d->sp++] = w;
    }
}

static void apply_part(dctx *d, int t, int st, int mb) {
    if (t == PP_ACT_F) {
        *dat(d, st, mb) |= D_F;
        if (st + 1 < d->S) wake(d, d->sr[st + 1], NEED_F, st, mb);
    } else if (t == PP_ACT_I || t == PP_ACT_B) {
        *dat(d, st, mb) |= D_I;
        if (st > 0) wake(d, d->sr[st - 1], NEED_I, st, mb);
    }
}

static void apply_action(dctx *d, const pp_action *a) {
    switch (a->type) {
    case PP_ACT_SEND_F:
        *dat(d, a->stage, a->mb) |= D_SF;
        if (a->stage + 1 < d->S) wake(d, d->sr[a->stage + 1], NEED_SEND_F, a->stage, a->mb);
        return;
    case PP_ACT_SEND_B:
        *dat(d, a->stage, a->mb) |= D_SB;
        if (a->stage > 0) wake(d, d->sr[a->stage - 1], NEED_SEND_B, a->stage, a->mb);
        return;
    default: break;
    }
    pp_subaction part[2];
    int np = compute_parts(a, part);
    for (int p = 0; p < np; p++) apply_part(d, part[p].type, part[p].stage, part[p].mb);
}

/* 1 when action a produces need n. */
static int produces(const pp_action *a, need n) {
    if (n.kind == NEED_SEND_F) return a->type == PP_ACT_SEND_F && a->stage == n.stage && a->mb == n.mb;
    if (n.kind == NEED_SEND_B) return a->type == PP_ACT_SEND_B && a->stage == n.stage && a->mb == n.mb;
    pp_subaction part[2];
    int np = compute_parts(a, part);
    for (int p = 0; p < np; p++) {
        if (part[p].stage != n.stage || part[p].mb != n.mb) continue;
        if (n.kind == NEED_F && part[p].type == PP_ACT_F) return 1;
        if (n.kind == NEED_I && (part[p].type == PP_ACT_I || part[p].type == PP_ACT_B)) return 1;
    }
    return 0;
}

/* First action of rank r at or after position from that produces n (-1). */
static int find_producer(const dctx *d, int r, int from, need n) {
    if (r < 0) return -1;
    for (int i = from; i < d->s->ranks[r].n; i++)
        if (produces(&d->s->ranks[r].acts[i], n)) return i;
    return -1;
}

/* A need as cells: "0SEND_F1", "0F1", "1I0" (or "1I0 or 1B0" when the
 * producing rank has neither from its cursor on). */
static void need_text(const dctx *d, need n, char *buf, size_t cap) {
    switch (n.kind) {
    case NEED_F: snprintf(buf, cap, "%dF%d", n.stage, n.mb); return;
    case NEED_SEND_F: snprintf(buf, cap, "%dSEND_F%d", n.stage, n.mb); return;
    case NEED_SEND_B: snprintf(buf, cap, "%dSEND_B%d", n.stage, n.mb); return;
    default: break;
    }
    int q = producer(d, n);
    int j = q >= 0 ? find_producer(d, q, d->pc[q], n) : -1;
    if (j >= 0) {
        const pp_action *a = &d->s->ranks[q].acts[j];
        pp_subaction part[2];
        int np = compute_parts(a, part);
        for (int p = 0; p < np; p++)
            if (part[p].stage == n.stage && part[p].mb == n.mb && part[p].type != PP_ACT_F) {
                snprintf(buf, cap, "%d%s%d", n.stage, type_name(part[p].type), n.mb);
                return;
            }
    }
    snprintf(buf, cap, "%dI%d or %dB%d", n.stage, n.mb, n.stage, n.mb);
}

/* "rank r at action i (cell)" */
static void at_text(const dctx *d, int r, char *buf, size_t cap) {
    char cell[CELL_MAX];
    cell_text(&d->s->ranks[r].acts[d->pc[r]], cell);
    snprintf(buf, cap, "rank %d at action %d (%s)", r, d->pc[r], cell);
}

static const char *verb(need n) { return n.kind == NEED_SEND_F || n.kind == NEED_SEND_B ? "posts" : "runs"; }

/* Rank r waits for n, which it must produce itself or nobody produces. */
static int report_fatal(const dctx *d, int r, need n, pp_err *err) {
    char at[2 * CELL_MAX], what[2 * CELL_MAX];
    at_text(d, r, at, sizeof at);
    int q = producer(d, n);
    if (n.stage < 0 || n.stage >= d->S)
        return pp_err_set(err, PP_ERR_INVALID, "deadlock: %s waits for stage %d, which does not exist", at, n.stage);
    need_text(d, n, what, sizeof what);
    if (q < 0)
        return pp_err_set(err, PP_ERR_INVALID, "deadlock: %s waits for %s, but stage %d is on no rank", at, what,
                          n.stage);
    int j = find_producer(d, r, d->pc[r], n);
    if (j == d->pc[r])
        return pp_err_set(err, PP_ERR_INVALID, "deadlock: %s waits for %s, which runs in the same action", at, what);
    if (j > d->pc[r])
        return pp_err_set(err, PP_ERR_INVALID, "deadlock: %s waits for %s, which rank %d %s later (action %d)", at,
                          what, r, verb(n), j);
    return pp_err_set(err, PP_ERR_INVALID, "deadlock: %s waits for %s, which rank %d never %s", at, what, r, verb(n));
}

#define CYCLE_SHOWN 8

/* No rank can advance: follow "waits for rank q" from the first blocked
 * rank until a rank repeats (the cycle) or a rank is finished. */
static int report_stall(dctx *d, int *mark, int *path, pp_err *err) {
    const pp_sched *s = d->s;
    int cur = -1;
    for (int r = 0; r < s->n_ranks && cur < 0; r++)
        if (d->pc[r] < s->ranks[r].n) cur = r;
    int len = 0;
    char at[2 * CELL_MAX], what[2 * CELL_MAX];
    while (!mark[cur]) {
        mark[cur] = ++len;
        path[len - 1] = cur;
        int q = producer(d, d->blocked[cur]);
        if (d->pc[q] >= s->ranks[q].n) {
            at_text(d, cur, at, sizeof at);
            need_text(d, d->blocked[cur], what, sizeof what);
            return pp_err_set(err, PP_ERR_INVALID, "deadlock: %s waits for %s, which rank %d never %s", at, what, q,
                              verb(d->blocked[cur]));
        }
        cur = q;
    }
    int from = mark[cur] - 1, n_cycle = len - from;
    char msg[PP_ERR_MSG_MAX];
    size_t o = (size_t)snprintf(msg, sizeof msg, "deadlock:");
    for (int k = 0; k < n_cycle && k < CYCLE_SHOWN; k++) {
        int r = path[from + k];
        at_text(d, r, at, sizeof at);
        need_text(d, d->blocked[r], what, sizeof what);
        if (o < sizeof msg)
            o += (size_t)snprintf(msg + o, sizeof msg - o, "%s %s waits for rank %d (%s)", k ? ";" : "", at,
                                  producer(d, d->blocked[r]), what);
    }
    if (n_cycle > CYCLE_SHOWN && o < sizeof msg)
        snprintf(msg + o, sizeof msg - o, "; ... (%d ranks in the cycle)", n_cycle);
    return pp_err_set(err, PP_ERR_INVALID, "%s", msg);
}

static int run_deadlock(dctx *d, pp_err *err) {
    const pp_sched *s = d->s;
    for (int r = s->n_ranks - 1; r >= 0; r--) {
        d->stack[d->sp++] = r;
        d->queued[r] = 1;
    }
    while (d->sp > 0) {
        int r = d->stack[--d->sp];
        d->queued[r] = 0;
        const pp_sched_rank *row = &s->ranks[r];
        while (d->pc[r] < row->n) {
            const pp_action *a = &row->acts[d->pc[r]];
            need nd[4], remote = {NEED_NONE, 0, 0};
            int k = action_needs(d, r, a, nd);
            for (int j = 0; j < k; j++) {
                if (need_met(d, nd[j])) continue;
                int q = producer(d, nd[j]);
                if (q == r || q < 0) return report_fatal(d, r, nd[j], err);
                if (remote.kind == NEED_NONE) remote = nd[j];
            }
            if (remote.kind != NEED_NONE) {
                d->blocked[r] = remote;
                break;
            }
            apply_action(d, a);
            d->pc[r]++;
        }
    }
    for (int r = 0; r < s->n_ranks; r++)
        if (d->pc[r] < s->ranks[r].n) return -2; /* stalled */
    return 0;
}

int pp_sched_check_deadlock(const pp_sched *s, pp_err *err) {
    if (check_cells(s, 0, 0, err)) return -1;
    int R = s->n_ranks, S = pp_sched_n_stages(s), M = pp_sched_n_microbatches(s);
    if (R == 0 || S == 0) return 0;
    if (M <= 0) M = 1; /* only step-level actions */
    unsigned long long cells, comps, fwds;
    count_cells(s, &cells, &comps, &fwds);
    if (!grid_fits((unsigned long long)S, (unsigned long long)M, cells))
        return pp_err_set(err, PP_ERR_INVALID,
                          "schedule incomplete: stages up to %d and microbatches up to %d in a table of %llu cell%s "
                          "(%d x %d need %llu forwards, it has %llu); pp_sched_validate names the missing ones",
                          S - 1, M - 1, cells, cells == 1 ? "" : "s", S, M,
                          (unsigned long long)S * (unsigned long long)M, fwds);
    dctx d = {.s = s, .S = S, .M = M, .comms = pp_sched_form_of(s) == PP_SCHED_COMPUTE_COMMS};
    int rc = -1;
    int *mark = NULL, *path = NULL;
    d.sr = pp_malloc((unsigned long long)S * sizeof *d.sr, err);
    if (!d.sr || stage_ranks_impl(s, S, d.sr, err)) goto done;
    d.g = pp_calloc((unsigned long long)S * (unsigned long long)M, 1, err);
    d.pc = pp_calloc((unsigned long long)R, sizeof *d.pc, err);
    d.blocked = pp_calloc((unsigned long long)R, sizeof *d.blocked, err);
    d.stack = pp_malloc((unsigned long long)R * sizeof *d.stack, err);
    d.queued = pp_calloc((unsigned long long)R, 1, err);
    if (!d.g || !d.pc || !d.blocked || !d.stack || !d.queued) goto done;
    rc = run_deadlock(&d, err);
    if (rc == -2) {
        mark = pp_calloc((unsigned long long)R, sizeof *mark, err);
        path = pp_malloc((unsigned long long)R * sizeof *path, err);
        rc = (mark && path) ? report_stall(&d, mark, path, err) : -1;
    }
done:
    free(mark);
    free(path);
    free(d.sr);
    free(d.g);
    free(d.pc);
    free(d.blocked);
    free(d.stack);
    free(d.queued);
    return rc;
}

/* ---- lowering ---- */

/* The RECV (before) or SEND (after) a compute part needs on rank r; 0 when
 * none. sr[x] < 0 (a stage in no cell) counts as another rank. */
static int part_comm(const int *sr, int S, int r, int t, int st, int before, int *comm_stage) {
    *comm_stage = st;
    if (t == PP_ACT_F) {
        if (before) return st > 0 && sr[st - 1] != r ? PP_ACT_RECV_F : 0;
        return st < S - 1 && sr[st + 1] != r ? PP_ACT_SEND_F : 0;
    }
    if (t == PP_ACT_I || t == PP_ACT_B) {
        if (before) return st < S - 1 && sr[st + 1] != r ? PP_ACT_RECV_B : 0;
        return st > 0 && sr[st - 1] != r ? PP_ACT_SEND_B : 0;
    }
    return 0;
}

/* A comm action (pp_action_make, inlined: lowering writes millions). */
static pp_action comm_action(int type, int stage, int mb) {
    pp_action a = {.type = type, .stage = stage, .mb = mb};
    return a;
}

/* Writes rank r's lowered row into out (NULL: only counts). Returns the
 * number of actions. */
static long long lower_row(const pp_sched *c, const int *sr, int S, int r, pp_action *out) {
    long long n = 0;
    for (int i = 0; i < c->ranks[r].n; i++) {
        const pp_action *a = &c->ranks[r].acts[i];
        if (a->type == PP_ACT_NONE) continue;
        pp_subaction part[2];
        int np = compute_parts(a, part);
        for (int p = 0; p < np; p++) {
            int cs, t = part_comm(sr, S, r, part[p].type, part[p].stage, 1, &cs);
            if (t) {
                if (out) out[n] = comm_action(t, cs, part[p].mb);
                n++;
            }
        }
        if (out) out[n] = *a;
        n++;
        for (int p = 0; p < np; p++) {
            int cs, t = part_comm(sr, S, r, part[p].type, part[p].stage, 0, &cs);
            if (t) {
                if (out) out[n] = comm_action(t, cs, part[p].mb);
                n++;
            }
        }
    }
    return n;
}

int pp_sched_lower(const pp_sched *compute, pp_sched *out, pp_err *err) {
    if (check_cells(compute, 0, 0, err)) return -1;
    if (pp_sched_form_of(compute) == PP_SCHED_COMPUTE_COMMS) return pp_sched_copy(out, compute, err);
    int S = pp_sched_n_stages(compute);
    int *sr = NULL;
    unsigned long long cells, comps, fwds;
    count_cells(compute, &cells, &comps, &fwds);
    if (!grid_fits((unsigned long long)S, 1, cells))
        return pp_err_set(err, PP_ERR_INVALID, "schedule: stages up to %d in a table of %llu cell%s (most stages name "
                          "no cell)", S - 1, cells, cells == 1 ? "" : "s");
    if (S > 0) {
        sr = pp_malloc((unsigned long long)S * sizeof *sr, err);
        if (!sr) return -1;
        if (stage_ranks_impl(compute, S, sr, err)) {
            free(sr);
            return -1;
        }
    }
    pp_sched t;
    if (pp_sched_init(&t, compute->n_ranks, err)) {
        free(sr);
        return -1;
    }
    for (int r = 0; r < compute->n_ranks; r++) {
        long long n = lower_row(compute, sr, S, r, NULL);
        if (n > INT_MAX) {
            pp_err_set(err, PP_ERR_INVALID, "schedule: lowered rank %d would have %lld actions", r, n);
            goto fail;
        }
        if (n == 0) continue;
        t.ranks[r].acts = pp_malloc((unsigned long long)n * sizeof *t.ranks[r].acts, err);
        if (!t.ranks[r].acts) goto fail;
        lower_row(compute, sr, S, r, t.ranks[r].acts);
        t.ranks[r].n = t.ranks[r].cap = (int)n;
    }
    free(sr);
    *out = t;
    return 0;
fail:
    free(sr);
    pp_sched_free(&t);
    return -1;
}
