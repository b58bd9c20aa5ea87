/*
 * pp_ilpsched.c -- the ILP schedule of pp_ilpsched.h, solved with GLPK.
 *
 * The formulation follows the Zero Bubble paper (arXiv 2401.10241, section
 * 3.2), adapted to one stage per rank (stage r on rank r) and to pippy's
 * simulator, so that the ILP's times for an order are exactly what
 * pp_sim_run computes for the same table:
 *
 *   Passes. For every rank r and microbatch j there are three passes, F, I
 *   (backward for inputs) and W (backward for weights), of durations
 *   t_f[r], t_i[r], t_w[r]. Continuous columns: a start time S(r,j,k) per
 *   pass (k in F, I, W), the makespan C, and message arrival times.
 *
 *   Dependencies. I(r,j) after F(r,j) ends; W(r,j) after I(r,j) ends. F(r,j)
 *   needs the activation F(r-1,j) sends when it ends, I(r,j) the gradient
 *   I(r+1,j) sends (the last rank's I follows its own F only). A message
 *   takes comm_s on its directed link, which carries one message at a time
 *   in order (the simulator's FIFO links), so with an arrival column per
 *   message
 *       A_f(r,j) >= S(r-1,j,F) + t_f[r-1] + comm,   A_f(r,j) >= A_f(r,j-1) + comm,
 *       S(r,j,F) >= A_f(r,j),
 *   and the same for gradients (A_b(r,j) from I(r+1,j); S(r,j,I) >= A_b(r,j)).
 *
 *   One pass at a time per rank. The order of two passes a, b of a rank is a
 *   binary O (a before b) with the big-M disjunction
 *       S_b >= S_a + T_a - M (1 - O),   S_a >= S_b + T_b - M O.
 *   As the paper does, orders that lose nothing are fixed as plain
 *   precedences: each pass type keeps microbatch order on a rank (F(r,j)
 *   before F(r,j+1), same for I and W) and F(r,j) < I(r,j) < W(r,j). The only
 *   free pairs are then, for k < j, I(r,k) vs F(r,j), W(r,k) vs F(r,j) and
 *   W(r,k) vs I(r,j): 3 m (m - 1) / 2 binaries per rank, O = 1 when the
 *   earlier microbatch's pass comes first. What the chains imply is added as
 *   cuts: O is monotone in j and k (I(r,k+1) before F(r,j) puts I(r,k) before
 *   it too; I(r,k) before F(r,j) puts it before F(r,j+1)), and W(r,k) before
 *   F(r,j) puts I(r,k) before F(r,j) and W(r,k) before I(r,j).
 *
 *   Memory (the paper's Delta formulation). A rank's activation bytes grow
 *   by act_f at an F's start and drop by act_f - act_w at an I's end and by
 *   act_w at a W's end (the simulator's accounting); with act_w <= act_f
 *   the peaks come right after F starts. Before F(r,j) starts, the passes
 *   done are the j earlier F and the I(r,k), W(r,k) ordered before it:
 *       act_f (1 + j) - (act_f - act_w) sum_k O(I_k, F_j) - act_w sum_k O(W_k, F_j) <= mem_cap.
 *
 *   Objective: minimise C, C >= the end of every pass (the end of each
 *   rank's last W bounds the rest), C <= U, the makespan of the best
 *   schedule known before branching.
 *
 *   Strengthening (valid for every schedule with C <= U). A rank's passes
 *   that the chains put before a pass run between the rank's first F and
 *   that pass, and those after it between the pass and C: cuts
 *   S(a) >= S(r,0,F) + their work and C >= S(a) + T(a) + their work. With
 *   these and the precedences every start gets a window [earliest, U - least
 *   time to the end] (column bounds); each big-M is the least that the
 *   windows allow rather than U, and a pair whose windows admit one order
 *   only has its binary fixed.
 *
 * Warm start. 1F1B, ZB-H1 and ZB-H2 are generated for (p, m), their full
 * backwards B split into I then W (never slower, same peak), and simulated
 * with the problem's costs; of those whose peak activation bytes fit the cap
 * on every rank the fastest is the warm start (an error names the cap that
 * would fit when none does).
 *
 * Search. A local search over the orders (move one pass within the places
 * its chains allow; keep moves that stay within the cap, do not deadlock and
 * lower (makespan, sum of end times); restart from the best with a few
 * random moves when stuck), evaluated by an exact replica of the model's
 * timing, first improves the warm start for at most a quarter of the time
 * limit. Its result (or the warm start) is GLPK's first integer solution,
 * handed over with glp_ios_heur_sol at the first GLP_IHEUR, and its makespan
 * is U. Branch and bound (pseudocost branching, best-bound node selection)
 * then runs for the rest of the time limit; at each node whose LP solution
 * is fractional, the LP start times are read as an order (the next
 * eligible pass by LP start, within the cap), polished by a short local
 * search and handed to GLPK when faster than the incumbent. "optimal" means
 * GLPK proved that no order of the model is faster than the answer.
 *
 * The answer. The incumbent's order (the passes of each rank by start
 * time) becomes a compute-only table, which is validated, checked for
 * deadlock and re-simulated; unless it is strictly faster than the warm
 * start and fits the cap, the warm start is returned ("warm-start"; with
 * gap 0 when GLPK proved it optimal).
 */
#include "planner/pp_ilpsched.h"

#include <float.h>
#include <limits.h>
#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "planner/pp_schedgen.h"
#include "simulator/pp_sim.h"

enum { KF = 0, KI = 1, KW = 2 };

/* Largest model built: binaries over all ranks. */
#define ILP_MAX_BINARIES 50000
/* Share of the time limit the first local search may take. */
#define ILS_SHARE 0.25

typedef struct prob {
    int p, m;
    const double *tf, *ti, *tw;
    double *af, *aw;   /* [p], defaults filled in */
    double *alpha;     /* [p * p] */
    double comm, cap;  /* cap <= 0: none */
} prob;

static double dur(const prob *pb, int r, int k) { return k == KF ? pb->tf[r] : k == KI ? pb->ti[r] : pb->tw[r]; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- problem checks ---- */

static int finite_nonneg(const double *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]) || x[i] < 0) return 0;
    return 1;
}

static int prob_init(prob *pb, const pp_ilpsched_problem *pr, pp_err *err) {
    memset(pb, 0, sizeof *pb);
    if (pr->p < 1) return pp_err_set(err, PP_ERR_INVALID, "ilpsched: need p >= 1 ranks, got p = %d", pr->p);
    if (pr->m < 1) return pp_err_set(err, PP_ERR_INVALID, "ilpsched: need m >= 1 microbatches, got m = %d", pr->m);
    if (!pr->t_f || !pr->t_i || !pr->t_w)
        return pp_err_set(err, PP_ERR_INVALID, "ilpsched: t_f, t_i and t_w are required");
    if (!finite_nonneg(pr->t_f, pr->p) || !finite_nonneg(pr->t_i, pr->p) || !finite_nonneg(pr->t_w, pr->p))
        return pp_err_set(err, PP_ERR_INVALID, "ilpsched: pass times must be finite and >= 0");
    if (!isfinite(pr->comm_s) || pr->comm_s < 0)
        return pp_err_set(err, PP_ERR_INVALID, "ilpsched: comm_s must be finite and >= 0, got %g", pr->comm_s);
    if (isnan(pr->mem_cap)) return pp_err_set(err, PP_ERR_INVALID, "ilpsched: mem_cap is NaN");
    if ((pr->act_f && !finite_nonneg(pr->act_f, pr->p)) || (pr->act_w && !finite_nonneg(pr->act_w, pr->p)))
        return pp_err_set(err, PP_ERR_INVALID, "ilpsched: activation bytes must be finite and >= 0");
    /* Binaries: p * 3 m (m - 1) / 2. */
    double nbin = (double)pr->p * 1.5 * (double)pr->m * (double)(pr->m - 1);
    if (nbin > ILP_MAX_BINARIES)
        return pp_err_set(err, PP_ERR_INVALID,
                          "ilpsched: p = %d, m = %d needs %.0f order binaries, more than the %d this ILP takes", pr->p,
                          pr->m, nbin, ILP_MAX_BINARIES);
    int p = pr->p;
    pb->af = pp_calloc((unsigned long long)p, sizeof *pb->af, err);
    pb->aw = pp_calloc((unsigned long long)p, sizeof *pb->aw, err);
    pb->alpha = pp_calloc((unsigned long long)p * (unsigned long long)p, sizeof *pb->alpha, err);
    if (!pb->af || !pb->aw || !pb->alpha) goto fail;
    for (int r = 0; r < p; r++) {
        pb->af[r] = pr->act_f ? pr->act_f[r] : 1.0;
        pb->aw[r] = pr->act_w ? pr->act_w[r] : 0.0;
        if (pb->aw[r] > pb->af[r]) {
            pp_err_set(err, PP_ERR_INVALID,
                       "ilpsched: rank %d keeps more bytes from I to W (act_w = %g) than from F to I (act_f = %g); "
                       "the memory model needs act_w <= act_f",
                       r, pb->aw[r], pb->af[r]);
            goto fail;
        }
    }
    for (int i = 0; i < p * p; i++) pb->alpha[i] = pr->comm_s;
    pb->p = p;
    pb->m = pr->m;
    pb->tf = pr->t_f;
    pb->ti = pr->t_i;
    pb->tw = pr->t_w;
    pb->comm = pr->comm_s;
    pb->cap = pr->mem_cap > 0 ? pr->mem_cap : 0;
    return 0;
fail:
    free(pb->af);
    free(pb->aw);
    free(pb->alpha);
    memset(pb, 0, sizeof *pb);
    return -1;
}

static void prob_free(prob *pb) {
    free(pb->af);
    free(pb->aw);
    free(pb->alpha);
    memset(pb, 0, sizeof *pb);
}

/* Whether a simulated peak fits the cap (with a relative tolerance). */
static int peak_fits(const prob *pb, const pp_sim_result *res) {
    if (pb->cap <= 0) return 1;
    for (int r = 0; r < pb->p; r++)
        if (res->peak_act_bytes[r] > pb->cap * (1 + 1e-9) + 1e-12) return 0;
    return 1;
}

static double peak_max(const prob *pb, const pp_sim_result *res) {
    double x = 0;
    for (int r = 0; r < pb->p; r++)
        if (res->peak_act_bytes[r] > x) x = res->peak_act_bytes[r];
    return x;
}

static int simulate(const prob *pb, const pp_sched *s, pp_sim_result *res, pp_err *err) {
    pp_sim_input in;
    memset(&in, 0, sizeof in);
    in.sched = s;
    in.n_stages = pb->p;
    in.t_f = pb->tf;
    in.t_i = pb->ti;
    in.t_w = pb->tw;
    in.alpha = pb->alpha;
    in.act_f = pb->af;
    in.act_w = pb->aw;
    in.dp = 1;
    return pp_sim_run(&in, res, err);
}

/* Copies a one-stage-per-rank table with every B split into I then W. */
static int split_b(const pp_sched *src, pp_sched *dst, pp_err *err) {
    if (pp_sched_init(dst, src->n_ranks, err)) return -1;
    for (int r = 0; r < src->n_ranks; r++)
        for (int i = 0; i < src->ranks[r].n; i++) {
            pp_action a = src->ranks[r].acts[i];
            int rc;
            if (a.type == PP_ACT_B) {
                rc = pp_sched_push(dst, r, pp_action_make(PP_ACT_I, a.stage, a.mb), err);
                if (!rc) rc = pp_sched_push(dst, r, pp_action_make(PP_ACT_W, a.stage, a.mb), err);
            } else {
                rc = pp_sched_push(dst, r, a, err);
            }
            if (rc) {
                pp_sched_free(dst);
                return -1;
            }
        }
    return 0;
}

/* Evaluates a table: valid (PyTorch's rules, every microbatch), deadlock-free,
 * then simulated: makespan, whether its peak fits the cap, the highest peak.
 * Returns 0, or -1 (err). */
static int eval_table(const prob *pb, const pp_sched *s, double *span, int *fits, double *peak, pp_err *err) {
    if (s->n_ranks != pb->p) return pp_err_set(err, PP_ERR_INVALID, "ilpsched: table has %d ranks", s->n_ranks);
    if (pp_sched_check(s, 0, pb->m, err)) return -1;
    pp_sim_result res;
    if (simulate(pb, s, &res, err)) {
        pp_sim_result_free(&res);
        return -1;
    }
    *span = res.iteration_s;
    *fits = peak_fits(pb, &res);
    if (peak) *peak = peak_max(pb, &res);
    pp_sim_result_free(&res);
    return 0;
}

static int pass_kind(int type) { return type == PP_ACT_F ? KF : type == PP_ACT_I ? KI : type == PP_ACT_W ? KW : -1; }

/* Index of pass (r, k, j) in per-pass arrays. */
static size_t pidx(const prob *pb, int r, int k, int j) {
    return ((size_t)r * 3 + (size_t)k) * (size_t)pb->m + (size_t)j;
}

/* ---- orders ----
 *
 * An order lists each rank's 3 m passes as codes k * m + j (k in F, I, W),
 * rank r's at ord[r * 3m ...]. Orders keep the chains (each pass type in
 * microbatch order, F(j) < I(j) < W(j)). */

static int code_k(const prob *pb, int code) { return code / pb->m; }
static int code_j(const prob *pb, int code) { return code % pb->m; }

static int order_to_sched(const prob *pb, const int *ord, pp_sched *out, pp_err *err) {
    static const int type_of[3] = {PP_ACT_F, PP_ACT_I, PP_ACT_W};
    int n = 3 * pb->m;
    if (pp_sched_init(out, pb->p, err)) return -1;
    for (int r = 0; r < pb->p; r++)
        for (int i = 0; i < n; i++) {
            int c = ord[r * n + i];
            if (pp_sched_push(out, r, pp_action_make(type_of[code_k(pb, c)], r, code_j(pb, c)), err)) {
                pp_sched_free(out);
                return -1;
            }
        }
    return 0;
}

/* The order of a table of F, I and W cells, stage r on rank r, every pass
 * once. Returns 0 or -1 (err). */
static int sched_to_order(const prob *pb, const pp_sched *s, int *ord, pp_err *err) {
    int n = 3 * pb->m;
    for (int r = 0; r < pb->p; r++) {
        if (s->ranks[r].n != n)
            return pp_err_set(err, PP_ERR_INVALID, "ilpsched: rank %d has %d actions, not 3 m = %d", r,
                              s->ranks[r].n, n);
        for (int i = 0; i < n; i++) {
            const pp_action *a = &s->ranks[r].acts[i];
            int k = pass_kind(a->type);
            if (k < 0 || a->stage != r || a->mb < 0 || a->mb >= pb->m)
                return pp_err_set(err, PP_ERR_INVALID, "ilpsched: rank %d action %d is not an F, I or W of stage %d",
                                  r, i, r);
            ord[r * n + i] = k * pb->m + a->mb;
        }
    }
    return 0;
}

/* Evaluates orders under the model's timing (each rank runs its passes in
 * order, as early as its inputs allow; messages over FIFO links), which is the
 * simulator's for the same table. */
typedef struct fast {
    const prob *pb;
    int p, m, n;           /* n = 3 m passes per rank */
    double *start;         /* [p * n] by pidx */
    double *arr_f, *arr_b; /* [p * m] arrival of microbatch j's activation / gradient at rank r */
    unsigned char *done;   /* [p * n] by pidx */
    int *pc;               /* [p] */
    double *tfree;         /* [p] */
} fast;

static void fast_free(fast *f) {
    free(f->start);
    free(f->arr_f);
    free(f->arr_b);
    free(f->done);
    free(f->pc);
    free(f->tfree);
    memset(f, 0, sizeof *f);
}

static int fast_init(fast *f, const prob *pb, pp_err *err) {
    memset(f, 0, sizeof *f);
    f->pb = pb;
    f->p = pb->p;
    f->m = pb->m;
    f->n = 3 * pb->m;
    unsigned long long np = (unsigned long long)f->p * (unsigned long long)f->n;
    unsigned long long pm = (unsigned long long)f->p * (unsigned long long)f->m;
    f->start = pp_calloc(np, sizeof *f->start, err);
    f->arr_f = pp_calloc(pm, sizeof *f->arr_f, err);
    f->arr_b = pp_calloc(pm, sizeof *f->arr_b, err);
    f->done = pp_calloc(np, 1, err);
    f->pc = pp_calloc((unsigned long long)f->p, sizeof *f->pc, err);
    f->tfree = pp_calloc((unsigned long long)f->p, sizeof *f->tfree, err);
    if (f->start && f->arr_f && f->arr_b && f->done && f->pc && f->tfree) return 0;
    fast_free(f);
    return -1;
}

/* Whether each rank's activation bytes stay within the cap (checked right
 * after each F starts, where the peaks are). */
static int order_fits(const prob *pb, const int *ord) {
    if (pb->cap <= 0) return 1;
    int n = 3 * pb->m;
    double lim = pb->cap * (1 + 1e-9) + 1e-12;
    for (int r = 0; r < pb->p; r++) {
        double mem = 0;
        for (int i = 0; i < n; i++) {
            int k = code_k(pb, ord[r * n + i]);
            mem += k == KF ? pb->af[r] : k == KI ? pb->aw[r] - pb->af[r] : -pb->aw[r];
            if (k == KF && mem > lim) return 0;
        }
    }
    return 1;
}

/* ASAP start times of an order into f->start. Returns 0 with *span (the
 * makespan) and *sum (the passes' end times summed), or -1 when the order
 * breaks a chain or deadlocks. The cap is not checked (order_fits). */
static int fast_eval(fast *f, const int *ord, double *span, double *sum) {
    const prob *pb = f->pb;
    int p = f->p, m = f->m, n = f->n;
    memset(f->done, 0, (size_t)p * (size_t)n);
    for (int r = 0; r < p; r++) f->pc[r] = 0, f->tfree[r] = 0;
    long left = (long)p * n;
    double sp = 0, sm = 0;
    for (int progress = 1; progress && left > 0;) {
        progress = 0;
        for (int r = 0; r < p; r++)
            while (f->pc[r] < n) {
                int c = ord[r * n + f->pc[r]], k = code_k(pb, c), j = code_j(pb, c);
                double ready = f->tfree[r];
                if (j > 0 && !f->done[pidx(pb, r, k, j - 1)]) return -1; /* chain */
                if (k == KF) {
                    if (r > 0) {
                        if (!f->done[pidx(pb, r - 1, KF, j)]) break;
                        if (f->arr_f[r * m + j] > ready) ready = f->arr_f[r * m + j];
                    }
                } else if (k == KI) {
                    if (!f->done[pidx(pb, r, KF, j)]) return -1;
                    if (r + 1 < p) {
                        if (!f->done[pidx(pb, r + 1, KI, j)]) break;
                        if (f->arr_b[r * m + j] > ready) ready = f->arr_b[r * m + j];
                    }
                } else if (!f->done[pidx(pb, r, KI, j)]) {
                    return -1;
                }
                double end = ready + dur(pb, r, k);
                f->start[pidx(pb, r, k, j)] = ready;
                f->done[pidx(pb, r, k, j)] = 1;
                f->tfree[r] = end;
                if (end > sp) sp = end;
                sm += end;
                if (k == KF && r + 1 < p) {
                    double t = j > 0 && f->arr_f[(r + 1) * m + j - 1] > end ? f->arr_f[(r + 1) * m + j - 1] : end;
                    f->arr_f[(r + 1) * m + j] = t + pb->comm;
                }
                if (k == KI && r > 0) {
                    double t = j > 0 && f->arr_b[(r - 1) * m + j - 1] > end ? f->arr_b[(r - 1) * m + j - 1] : end;
                    f->arr_b[(r - 1) * m + j] = t + pb->comm;
                }
                f->pc[r]++;
                left--;
                progress = 1;
            }
    }
    if (left > 0) return -1; /* deadlock */
    *span = sp;
    *sum = sm;
    return 0;
}

/* ---- local search on orders ----
 *
 * A move takes one pass of one rank to another place in the rank's row,
 * between the passes the chains keep around it. A move is kept when the
 * order stays within the cap and free of deadlock and makes (makespan, sum of
 * end times) lexicographically smaller. When no move has helped for a while
 * the search restarts from the best order with a few random moves (iterated
 * local search). Deterministic for a given budget of evaluations. */

typedef struct lsearch {
    fast *f;
    int *cur, *best;       /* [p * n] orders */
    int *pos;              /* [p * n] position of code c of rank r in cur */
    double cur_span, cur_sum, best_span, best_sum;
    unsigned long long rng;
    long tries;            /* moves tried */
} lsearch;

static unsigned long long ls_rand(lsearch *ls) {
    unsigned long long x = ls->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ls->rng = x;
    return x;
}

static void ls_positions(lsearch *ls, int r) {
    int n = ls->f->n;
    for (int i = 0; i < n; i++) ls->pos[r * n + ls->cur[r * n + i]] = i;
}

/* The places pass (k, j) of rank r may take: [lo, hi]. */
static void ls_range(const lsearch *ls, int r, int k, int j, int *lo, int *hi) {
    const prob *pb = ls->f->pb;
    int m = pb->m, n = ls->f->n;
    const int *pos = ls->pos + r * n;
    int a = -1, b = n;
    if (j > 0 && pos[k * m + j - 1] > a) a = pos[k * m + j - 1];
    if (k > 0 && pos[(k - 1) * m + j] > a) a = pos[(k - 1) * m + j];
    if (j + 1 < m && pos[k * m + j + 1] < b) b = pos[k * m + j + 1];
    if (k < 2 && pos[(k + 1) * m + j] < b) b = pos[(k + 1) * m + j];
    *lo = a + 1;
    *hi = b - 1;
}

static void ls_move(int *row, int from, int to) {
    int c = row[from];
    if (to > from) memmove(row + from, row + from + 1, (size_t)(to - from) * sizeof *row);
    else memmove(row + to + 1, row + to, (size_t)(from - to) * sizeof *row);
    row[to] = c;
}

static int ls_better(double s1, double u1, double s0, double u0) {
    double eps = 1e-9 * (s0 > 1 ? s0 : 1);
    return s1 < s0 - eps || (s1 <= s0 + eps && u1 < u0 - eps);
}

/* Tries one random move on cur; keeps it when it improves cur. Returns 1
 * when kept. */
static int ls_step(lsearch *ls, int random_walk) {
    fast *f = ls->f;
    const prob *pb = f->pb;
    ls->tries++;
    int n = f->n, r = (int)(ls_rand(ls) % (unsigned long long)f->p);
    int i = (int)(ls_rand(ls) % (unsigned long long)n);
    int *row = ls->cur + r * n;
    int k = code_k(pb, row[i]), j = code_j(pb, row[i]), lo, hi;
    ls_range(ls, r, k, j, &lo, &hi);
    if (hi <= lo) return 0;
    int t = lo + (int)(ls_rand(ls) % (unsigned long long)(hi - lo));
    if (t >= i) t++;
    if (t > hi) return 0;
    ls_move(row, i, t);
    double span, sum;
    int ok = order_fits(pb, ls->cur) && fast_eval(f, ls->cur, &span, &sum) == 0 &&
             (random_walk || ls_better(span, sum, ls->cur_span, ls->cur_sum));
    if (!ok) {
        ls_move(row, t, i);
        return 0;
    }
    ls->cur_span = span;
    ls->cur_sum = sum;
    ls_positions(ls, r);
    return 1;
}

/* Improves ord (valid, within the cap) for max_tries moves tried, until the
 * deadline or until its makespan reaches the lower bound lb; ord receives
 * the best order found. Returns 0 with *span, or
 * -1 (out of memory: ord unchanged). */
static int local_search(fast *f, int *ord, long max_tries, double deadline, double lb, double *span, pp_err *err) {
    size_t np = (size_t)f->p * (size_t)f->n;
    lsearch ls = {.f = f, .rng = 0x9E3779B97F4A7C15ULL};
    ls.cur = pp_calloc(np, sizeof *ls.cur, err);
    ls.best = pp_calloc(np, sizeof *ls.best, err);
    ls.pos = pp_calloc(np, sizeof *ls.pos, err);
    if (!ls.cur || !ls.best || !ls.pos) {
        free(ls.cur);
        free(ls.best);
        free(ls.pos);
        return -1;
    }
    memcpy(ls.cur, ord, np * sizeof *ord);
    memcpy(ls.best, ord, np * sizeof *ord);
    if (fast_eval(f, ord, &ls.cur_span, &ls.cur_sum)) ls.cur_span = ls.cur_sum = INFINITY;
    ls.best_span = ls.cur_span;
    ls.best_sum = ls.cur_sum;
    for (int r = 0; r < f->p; r++) ls_positions(&ls, r);
    long stall = 0, stall_max = 20 * (long)np;
    for (long it = 0; ls.tries < max_tries && ls.best_span > lb * (1 + 1e-9); it++) {
        if ((it & 255) == 0 && now_s() > deadline) break;
        if (ls_step(&ls, 0)) {
            stall = 0;
            if (ls_better(ls.cur_span, ls.cur_sum, ls.best_span, ls.best_sum)) {
                memcpy(ls.best, ls.cur, np * sizeof *ls.cur);
                ls.best_span = ls.cur_span;
                ls.best_sum = ls.cur_sum;
            }
        } else if (++stall > stall_max) {
            /* Kick: from the best order, a few random valid moves. */
            memcpy(ls.cur, ls.best, np * sizeof *ls.cur);
            ls.cur_span = ls.best_span;
            ls.cur_sum = ls.best_sum;
            for (int r = 0; r < f->p; r++) ls_positions(&ls, r);
            int kicks = 2 + (int)(ls_rand(&ls) % 4);
            for (int t = 0; t < 50 * kicks && kicks > 0 && ls.tries < max_tries; t++) kicks -= ls_step(&ls, 1);
            stall = 0;
        }
    }
    memcpy(ord, ls.best, np * sizeof *ord);
    *span = ls.best_span;
    free(ls.cur);
    free(ls.best);
    free(ls.pos);
    return 0;
}

/* ---- the warm start ---- */

typedef struct warm {
    pp_sched sched;   /* split table */
    double makespan;  /* simulated */
    char name[16];
    int *ord;         /* its order */
} warm;

static void warm_free(warm *w) {
    pp_sched_free(&w->sched);
    free(w->ord);
    memset(w, 0, sizeof *w);
}

static int pick_warm(const prob *pb, warm *out, pp_err *err) {
    static const pp_schedule_kind kinds[] = {PP_SCHEDULE_1F1B, PP_SCHEDULE_ZBH1, PP_SCHEDULE_ZBH2};
    enum { NK = (int)(sizeof kinds / sizeof kinds[0]) };
    double peaks[NK], spans[NK];
    int best = -1;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < NK; i++) {
        peaks[i] = spans[i] = -1;
        pp_sched gen, split;
        pp_err e2 = {0};
        if (pp_schedule_generate(kinds[i], pb->p, pb->m, 1, &gen, &e2)) continue; /* not admitted */
        int rc = split_b(&gen, &split, err);
        pp_sched_free(&gen);
        if (rc) goto fail;
        int fits = 0;
        if (eval_table(pb, &split, &spans[i], &fits, &peaks[i], err)) {
            pp_err_wrap(err, "ilpsched: %s", pp_schedule_name(kinds[i]));
            pp_sched_free(&split);
            goto fail;
        }
        if (fits && (best < 0 || spans[i] < spans[best])) {
            pp_sched_free(&out->sched);
            out->sched = split;
            best = i;
        } else {
            pp_sched_free(&split);
        }
    }
    if (best < 0) {
        char list[256] = "";
        double least = -1;
        int n = 0;
        for (int i = 0; i < NK; i++) {
            if (peaks[i] < 0) continue;
            n += snprintf(list + n, sizeof list - (size_t)n, "%s%s %g", n ? ", " : "", pp_schedule_name(kinds[i]),
                          peaks[i]);
            if (n >= (int)sizeof list) n = (int)sizeof list - 1;
            if (least < 0 || peaks[i] < least) least = peaks[i];
        }
        double one = 0;
        int r1 = 0;
        for (int r = 0; r < pb->p; r++)
            if (pb->af[r] > one) one = pb->af[r], r1 = r;
        if (pb->cap < one)
            return pp_err_set(err, PP_ERR_INVALID,
                              "ilpsched: mem_cap = %g bytes is below one microbatch's activations on rank %d "
                              "(act_f = %g), so no schedule fits (peaks of the generated schedules: %s); a cap of "
                              "%g would fit",
                              pb->cap, r1, one, list, least);
        return pp_err_set(err, PP_ERR_INVALID,
                          "ilpsched: mem_cap = %g bytes is below the peak activation bytes of every generated "
                          "schedule (%s); a cap of %g would fit",
                          pb->cap, list, least);
    }
    out->ord = pp_calloc((unsigned long long)pb->p * 3 * (unsigned long long)pb->m, sizeof *out->ord, err);
    if (!out->ord || sched_to_order(pb, &out->sched, out->ord, err)) goto fail;
    out->makespan = spans[best];
    snprintf(out->name, sizeof out->name, "%s", pp_schedule_name(kinds[best]));
    return 0;
fail:
    warm_free(out);
    return -1;
}

/* ---- the model ---- */

typedef struct model {
    int p, m, tri;        /* tri = m (m - 1) / 2 */
    int col_c, col_af, col_ab, col_x, n_cols;
} model;

/* Columns are 1-based. */
static int col_s(const model *md, int r, int k, int j) { return 1 + (r * 3 + k) * md->m + j; }
/* Arrival of F(r-1, j)'s activation at rank r, r >= 1. */
static int col_af(const model *md, int r, int j) { return md->col_af + (r - 1) * md->m + j; }
/* Arrival of I(r+1, j)'s gradient at rank r, r <= p - 2. */
static int col_ab(const model *md, int r, int j) { return md->col_ab + r * md->m + j; }
/* Order binary of kind q on rank r for microbatches k < j: q = 0 "I(k) before
 * F(j)", 1 "W(k) before F(j)", 2 "W(k) before I(j)". */
static int col_x(const model *md, int r, int q, int j, int k) {
    return md->col_x + (r * 3 + q) * md->tri + j * (j - 1) / 2 + k;
}
/* The passes a binary orders: the earlier microbatch's (k) and the later's (j). */
static const int x_first[3] = {KI, KW, KW};
static const int x_second[3] = {KF, KF, KI};

static void model_layout(model *md, int p, int m) {
    md->p = p;
    md->m = m;
    md->tri = m * (m - 1) / 2;
    md->col_c = 1 + 3 * p * m;
    md->col_af = md->col_c + 1;
    md->col_ab = md->col_af + (p - 1) * m;
    md->col_x = md->col_ab + (p - 1) * m;
    md->n_cols = md->col_x + 3 * p * md->tri - 1;
}

/* Adds the row lb <= sum val[i] x[ind[i]] (<= ub when ub is finite). */
static void add_row(glp_prob *lp, int n, const int *ind, const double *val, double lb, double ub) {
    int i = glp_add_rows(lp, 1);
    int ix[1 + 8];
    double vx[1 + 8];
    for (int t = 0; t < n; t++) {
        ix[1 + t] = ind[t];
        vx[1 + t] = val[t];
    }
    glp_set_mat_row(lp, i, n, ix, vx);
    if (isfinite(lb) && isfinite(ub))
        glp_set_row_bnds(lp, i, lb == ub ? GLP_FX : GLP_DB, lb, ub);
    else if (isfinite(lb))
        glp_set_row_bnds(lp, i, GLP_LO, lb, 0);
    else
        glp_set_row_bnds(lp, i, GLP_UP, 0, ub);
}

/* A fixed precedence: S_b >= S_a + lag. */
typedef struct edge {
    int a, b;
    double lag;
} edge;

/* Durations of the passes of rank r that must run before / after pass (k, j)
 * by the fixed chains (earlier F, I, W of the chains; later ones). */
static double fixed_before(const prob *pb, int r, int k, int j) {
    double f = pb->tf[r], i = pb->ti[r], w = pb->tw[r];
    return k == KF ? j * f : k == KI ? (j + 1) * f + j * i : (j + 1) * (f + i) + j * w;
}
static double fixed_after(const prob *pb, int r, int k, int j) {
    int m = pb->m;
    double f = pb->tf[r], i = pb->ti[r], w = pb->tw[r];
    return k == KF ? (m - 1 - j) * f + (m - j) * (i + w) : k == KI ? (m - 1 - j) * i + (m - j) * w : (m - 1 - j) * w;
}

/* The fixed precedences: chains per pass type, F < I < W per microbatch, and
 * the messages over FIFO links. Returns the count written to e (capacity
 * 11 p m is enough). */
static int fixed_edges(const model *md, const prob *pb, edge *e) {
    int p = md->p, m = md->m, n = 0;
    for (int r = 0; r < p; r++) {
        for (int k = 0; k < 3; k++)
            for (int j = 0; j + 1 < m; j++)
                e[n++] = (edge){col_s(md, r, k, j), col_s(md, r, k, j + 1), dur(pb, r, k)};
        for (int j = 0; j < m; j++) {
            e[n++] = (edge){col_s(md, r, KF, j), col_s(md, r, KI, j), pb->tf[r]};
            e[n++] = (edge){col_s(md, r, KI, j), col_s(md, r, KW, j), pb->ti[r]};
        }
        for (int j = 0; j < m; j++) {
            if (r >= 1) {
                e[n++] = (edge){col_s(md, r - 1, KF, j), col_af(md, r, j), pb->tf[r - 1] + pb->comm};
                if (j >= 1) e[n++] = (edge){col_af(md, r, j - 1), col_af(md, r, j), pb->comm};
                e[n++] = (edge){col_af(md, r, j), col_s(md, r, KF, j), 0};
            }
            if (r + 1 < p) {
                e[n++] = (edge){col_s(md, r + 1, KI, j), col_ab(md, r, j), pb->ti[r + 1] + pb->comm};
                if (j >= 1) e[n++] = (edge){col_ab(md, r, j - 1), col_ab(md, r, j), pb->comm};
                e[n++] = (edge){col_ab(md, r, j), col_s(md, r, KI, j), 0};
            }
        }
    }
    return n;
}

/* Time windows of the continuous columns (passes and arrivals): the earliest
 * start es[c] (longest fixed path from time 0, and a rank's passes after its
 * first F by the work fixed before them) and the least time q[c] from the
 * start to the end of the schedule (longest fixed path to the end, and the
 * work fixed after a pass). Any schedule with makespan C has es <= S <= C - q. */
static void windows(const model *md, const prob *pb, const edge *e, int ne, double *es, double *q) {
    int p = md->p, m = md->m, nc = md->col_x - 1;
    for (int c = 1; c <= nc; c++) es[c] = q[c] = 0;
    for (int r = 0; r < p; r++)
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < m; j++) q[col_s(md, r, k, j)] = dur(pb, r, k) + fixed_after(pb, r, k, j);
    for (int it = 0, changed = 1; changed && it <= nc + 1; it++) {
        changed = 0;
        for (int t = 0; t < ne; t++) {
            if (es[e[t].a] + e[t].lag > es[e[t].b]) es[e[t].b] = es[e[t].a] + e[t].lag, changed = 1;
            if (q[e[t].b] + e[t].lag > q[e[t].a]) q[e[t].a] = q[e[t].b] + e[t].lag, changed = 1;
        }
        for (int r = 0; r < p; r++) {
            double s0 = es[col_s(md, r, KF, 0)];
            for (int k = 1; k < 3; k++)
                for (int j = 0; j < m; j++) {
                    int c = col_s(md, r, k, j);
                    double x = s0 + fixed_before(pb, r, k, j);
                    if (x > es[c]) es[c] = x, changed = 1;
                }
        }
    }
}

/* Builds the model for makespans up to ub. Returns 0 or -1 (out of memory). */
static int build_model(glp_prob *lp, const model *md, const prob *pb, double ub, pp_err *err) {
    int p = md->p, m = md->m, nc = md->col_x - 1;
    double tol = 1e-7 * (ub > 1 ? ub : 1);
    edge *e = pp_calloc(11ULL * (unsigned long long)p * (unsigned long long)m + 1, sizeof *e, err);
    double *es = pp_calloc((unsigned long long)nc + 1, sizeof *es, err);
    double *q = pp_calloc((unsigned long long)nc + 1, sizeof *q, err);
    int *ind = pp_calloc(2ULL * (unsigned long long)m + 2, sizeof *ind, err);
    double *val = pp_calloc(2ULL * (unsigned long long)m + 2, sizeof *val, err);
    if (!e || !es || !q || !ind || !val) {
        free(e);
        free(es);
        free(q);
        free(ind);
        free(val);
        return -1;
    }
    int ne = fixed_edges(md, pb, e);
    windows(md, pb, e, ne, es, q);
    double *ls = q; /* latest starts, in place of the tails */
    for (int c = 1; c <= nc; c++) ls[c] = ub - q[c];

    glp_set_obj_dir(lp, GLP_MIN);
    glp_add_cols(lp, md->n_cols);
    for (int c = 1; c <= nc; c++) {
        double lo = es[c] - tol, hi = ls[c] + tol;
        glp_set_col_bnds(lp, c, GLP_DB, lo > 0 ? lo : 0, hi > lo ? hi : lo);
    }
    glp_set_col_bnds(lp, md->col_c, GLP_DB, 0, ub + tol);
    for (int c = md->col_x; c <= md->n_cols; c++) glp_set_col_kind(lp, c, GLP_BV);
    glp_set_obj_coef(lp, md->col_c, 1);

    for (int t = 0; t < ne; t++) {
        int i2[2] = {e[t].b, e[t].a};
        double v2[2] = {1, -1};
        add_row(lp, 2, i2, v2, e[t].lag, INFINITY);
    }
    for (int r = 0; r < p; r++) {
        /* Work fixed before a pass follows the rank's first F; work fixed
         * after it precedes the end. */
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < m; j++) {
                int c = col_s(md, r, k, j);
                double v2[2] = {1, -1};
                if (k != KF) {
                    int i2[2] = {c, col_s(md, r, KF, 0)};
                    add_row(lp, 2, i2, v2, fixed_before(pb, r, k, j), INFINITY);
                }
                if (k != KW || j == m - 1) {
                    int i2[2] = {md->col_c, c};
                    add_row(lp, 2, i2, v2, dur(pb, r, k) + fixed_after(pb, r, k, j), INFINITY);
                }
            }
        /* Disjunctions of the free pairs, with big-M from the windows; a
         * pair whose windows allow one order only is fixed. */
        for (int qk = 0; qk < 3; qk++)
            for (int j = 1; j < m; j++)
                for (int k = 0; k < j; k++) {
                    int x = col_x(md, r, qk, j, k);
                    int a = col_s(md, r, x_first[qk], k), b = col_s(md, r, x_second[qk], j);
                    double da = dur(pb, r, x_first[qk]), db = dur(pb, r, x_second[qk]);
                    int a_first_ok = ls[b] + tol >= es[a] + da, b_first_ok = ls[a] + tol >= es[b] + db;
                    if (a_first_ok && !b_first_ok) glp_set_col_bnds(lp, x, GLP_FX, 1, 1);
                    if (!a_first_ok && b_first_ok) glp_set_col_bnds(lp, x, GLP_FX, 0, 0);
                    /* x = 1: S_b - S_a >= da, relaxed by M1 when x = 0. */
                    double m1 = da + ls[a] - es[b] + 2 * tol;
                    if (m1 > 0 && a_first_ok) {
                        int i1[3] = {b, a, x};
                        double v1[3] = {1, -1, -m1};
                        add_row(lp, 3, i1, v1, da - m1, INFINITY);
                    }
                    /* x = 0: S_a - S_b >= db, relaxed by M2 when x = 1. */
                    double m2 = db + ls[b] - es[a] + 2 * tol;
                    if (m2 > 0 && b_first_ok) {
                        int i1[3] = {a, b, x};
                        double v1[3] = {1, -1, m2};
                        add_row(lp, 3, i1, v1, db, INFINITY);
                    }
                }
        /* Implications of the chains. */
        for (int qk = 0; qk < 3; qk++)
            for (int j = 1; j < m; j++)
                for (int k = 0; k < j; k++) {
                    int x = col_x(md, r, qk, j, k);
                    double v2[2] = {1, -1};
                    if (k + 1 < j) { /* x(j, k) >= x(j, k + 1) */
                        int i2[2] = {x, col_x(md, r, qk, j, k + 1)};
                        add_row(lp, 2, i2, v2, 0, INFINITY);
                    }
                    if (j + 1 < m) { /* x(j + 1, k) >= x(j, k) */
                        int i2[2] = {col_x(md, r, qk, j + 1, k), x};
                        add_row(lp, 2, i2, v2, 0, INFINITY);
                    }
                }
        for (int j = 1; j < m; j++)
            for (int k = 0; k < j; k++) {
                double v2[2] = {1, -1};
                int wf = col_x(md, r, 1, j, k);
                int i1[2] = {col_x(md, r, 0, j, k), wf}; /* W_k < F_j  =>  I_k < F_j */
                add_row(lp, 2, i1, v2, 0, INFINITY);
                int i2[2] = {col_x(md, r, 2, j, k), wf}; /* W_k < F_j  =>  W_k < I_j */
                add_row(lp, 2, i2, v2, 0, INFINITY);
            }
        /* Memory before each F starts. */
        if (pb->cap > 0 && pb->af[r] > 0)
            for (int j = 1; j < m; j++) {
                double rhs = pb->cap * (1 + 1e-9) - pb->af[r] * (1 + j);
                if (rhs >= 0) continue; /* fits even with nothing freed */
                int n = 0;
                for (int k = 0; k < j; k++) {
                    ind[1 + n] = col_x(md, r, 0, j, k);
                    val[1 + n++] = -(pb->af[r] - pb->aw[r]);
                    if (pb->aw[r] > 0) {
                        ind[1 + n] = col_x(md, r, 1, j, k);
                        val[1 + n++] = -pb->aw[r];
                    }
                }
                int i = glp_add_rows(lp, 1);
                glp_set_mat_row(lp, i, n, ind, val);
                glp_set_row_bnds(lp, i, GLP_UP, 0, rhs);
            }
    }
    free(e);
    free(es);
    free(q);
    free(ind);
    free(val);
    return 0;
}

/* The longest fixed path through a pass (earliest start plus least time to
 * the end), over all passes: a lower bound on the makespan. -1 when out of
 * memory. */
static double model_lower_bound(const model *md, const prob *pb) {
    int nc = md->col_x - 1;
    edge *e = calloc((size_t)11 * (size_t)md->p * (size_t)md->m + 1, sizeof *e);
    double *es = calloc((size_t)nc + 1, sizeof *es), *q = calloc((size_t)nc + 1, sizeof *q);
    double lb = -1;
    if (e && es && q) {
        windows(md, pb, e, fixed_edges(md, pb, e), es, q);
        lb = 0;
        for (int c = 1; c <= nc; c++)
            if (es[c] + q[c] > lb) lb = es[c] + q[c];
    }
    free(e);
    free(es);
    free(q);
    return lb;
}

/* ---- solutions and GLPK ---- */

/* An order as a column vector x[1..n_cols]: its ASAP start times (f->start,
 * from fast_eval of that order), arrivals, C and the order binaries. */
static void solution_vector(const model *md, const fast *f, const int *ord, int *pos, double *x) {
    const prob *pb = f->pb;
    int p = md->p, m = md->m, n = 3 * m;
    for (int r = 0; r < p; r++)
        for (int i = 0; i < n; i++) pos[r * n + ord[r * n + i]] = i;
    for (int r = 0; r < p; r++)
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < m; j++) x[col_s(md, r, k, j)] = f->start[pidx(pb, r, k, j)];
    double c = 0;
    for (int r = 0; r < p; r++)
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < m; j++) {
                double e = f->start[pidx(pb, r, k, j)] + dur(pb, r, k);
                if (e > c) c = e;
            }
    x[md->col_c] = c;
    for (int r = 1; r < p; r++) {
        double prev = -INFINITY;
        for (int j = 0; j < m; j++) {
            double t = f->start[pidx(pb, r - 1, KF, j)] + pb->tf[r - 1];
            if (prev > t) t = prev;
            x[col_af(md, r, j)] = prev = t + pb->comm;
        }
    }
    for (int r = 0; r + 1 < p; r++) {
        double prev = -INFINITY;
        for (int j = 0; j < m; j++) {
            double t = f->start[pidx(pb, r + 1, KI, j)] + pb->ti[r + 1];
            if (prev > t) t = prev;
            x[col_ab(md, r, j)] = prev = t + pb->comm;
        }
    }
    for (int r = 0; r < p; r++)
        for (int q = 0; q < 3; q++)
            for (int j = 1; j < m; j++)
                for (int k = 0; k < j; k++)
                    x[col_x(md, r, q, j, k)] = pos[r * n + x_first[q] * m + k] < pos[r * n + x_second[q] * m + j];
}

/* The order of each rank's passes by key[] (a time per pass column),
 * repaired to keep the chains and the cap: step by step, of the next F, I
 * and W of the chains the eligible one with the least key runs (ties: I,
 * then F, then W); F(j) is eligible when its bytes fit, I(j) after F(j),
 * W(j) after I(j). From an integer solution of the model this is its order;
 * from a fractional one, a rounding. Returns 0, or -1 when a rank gets stuck
 * (a cap below one microbatch). */
static int order_from_keys(const prob *pb, const model *md, const double *key, int *ord) {
    static const int pref[3] = {KI, KF, KW};
    int m = pb->m, n = 3 * m;
    for (int r = 0; r < pb->p; r++) {
        int nx[3] = {0, 0, 0};
        double mem = 0, lim = pb->cap * (1 + 1e-9) + 1e-12;
        for (int step = 0; step < n; step++) {
            int best = -1;
            double bk = 0;
            for (int t = 0; t < 3; t++) {
                int k = pref[t], j = nx[k];
                if (j >= m) continue;
                int ok = k == KF ? (pb->cap <= 0 || mem + pb->af[r] <= lim) : k == KI ? nx[KF] > j : nx[KI] > j;
                double kv = key[col_s(md, r, k, j)];
                if (ok && (best < 0 || kv < bk)) best = k, bk = kv;
            }
            if (best < 0) return -1;
            ord[r * n + step] = best * m + nx[best];
            nx[best]++;
            mem += best == KF ? pb->af[r] : best == KI ? pb->aw[r] - pb->af[r] : -pb->aw[r];
        }
    }
    return 0;
}

/* What the GLPK callback works with. */
typedef struct search {
    const prob *pb;
    const model *md;
    fast *f;
    int *ord, *pos;        /* scratch */
    double *key, *x;       /* scratch */
    const double *first_x; /* the first incumbent (warm start or better) */
    int first_given;
    double best;           /* makespan of the best solution handed to GLPK */
    double lb;             /* lower bound on the makespan (windows) */
    long polish_tries;     /* local-search budget per rounding */
    double gap;            /* last relative gap GLPK reported (-1: none) */
    long rounds, found;
} search;

/* The LP-guided heuristic: the node's LP start times read as an order
 * (order_from_keys), polished by a short local search, handed to GLPK when
 * it beats the incumbent. */
static void lp_heuristic(glp_tree *tree, search *sc) {
    const model *md = sc->md;
    glp_prob *lp = glp_ios_get_prob(tree);
    for (int c = 1; c < md->col_x; c++) sc->key[c] = glp_get_col_prim(lp, c);
    sc->rounds++;
    if (order_from_keys(sc->pb, md, sc->key, sc->ord)) return;
    double span, sum;
    if (fast_eval(sc->f, sc->ord, &span, &sum)) return;
    if (sc->polish_tries > 0 && local_search(sc->f, sc->ord, sc->polish_tries, INFINITY, sc->lb, &span, NULL)) return;
    if (!(span < sc->best * (1 - 1e-9)) || fast_eval(sc->f, sc->ord, &span, &sum)) return;
    solution_vector(md, sc->f, sc->ord, sc->pos, sc->x);
    if (glp_ios_heur_sol(tree, sc->x) == 0) {
        sc->best = span;
        sc->found++;
    }
}

static void ilp_callback(glp_tree *tree, void *info) {
    search *sc = info;
    if (glp_ios_reason(tree) == GLP_IHEUR) {
        if (!sc->first_given) {
            sc->first_given = 1;
            glp_ios_heur_sol(tree, sc->first_x);
        }
        lp_heuristic(tree, sc);
    }
    double g = glp_ios_mip_gap(tree);
    if (g < DBL_MAX) sc->gap = g;
}

/* Searches for an order faster than the warm start: local search from the
 * warm start, then GLPK's branch and bound on the model, started from the
 * best order so far. *got = 1 and the order in best_ord when one was found;
 * status and gap as for the result. Returns 0, or -1 (out of memory). */
static int run_ilp(const prob *pb, const warm *w, double time_limit_s, int *best_ord, int *got, char *status,
                   size_t status_n, double *gap, pp_err *err) {
    *got = 0;
    *gap = -1;
    snprintf(status, status_n, "feasible");
    double t0 = now_s(), deadline = t0 + time_limit_s;
    model md;
    model_layout(&md, pb->p, pb->m);
    size_t np = (size_t)pb->p * 3 * (size_t)pb->m;
    fast f;
    if (fast_init(&f, pb, err)) return -1;
    double *x0 = pp_calloc((unsigned long long)md.n_cols + 1, sizeof *x0, err);
    double *x = pp_calloc((unsigned long long)md.n_cols + 1, sizeof *x, err);
    double *key = pp_calloc((unsigned long long)md.n_cols + 1, sizeof *key, err);
    int *ord = pp_calloc(np, sizeof *ord, err), *pos = pp_calloc(np, sizeof *pos, err);
    glp_prob *lp = NULL;
    int res = -1;
    if (!x0 || !x || !key || !ord || !pos) goto done;

    /* Local search from the warm start. */
    memcpy(best_ord, w->ord, np * sizeof *ord);
    double span, sum;
    if (fast_eval(&f, best_ord, &span, &sum)) {
        pp_err_set(err, PP_ERR_INVALID, "ilpsched: the warm start's order does not run");
        goto done;
    }
    double ub = w->makespan > span ? w->makespan : span;
    double lb = model_lower_bound(&md, pb);
    if (lb < 0) {
        pp_err_set(err, PP_ERR_NOMEM, "ilpsched: out of memory");
        goto done;
    }
    if (local_search(&f, best_ord, 1000L * (long)np, t0 + ILS_SHARE * time_limit_s, lb, &span, err)) goto done;
    if (span < w->makespan * (1 - 1e-9)) {
        *got = 1;
        ub = span;
    } else {
        memcpy(best_ord, w->ord, np * sizeof *ord);
    }
    if (fast_eval(&f, best_ord, &span, &sum)) goto done;
    solution_vector(&md, &f, best_ord, pos, x0);
    if (x0[md.col_c] > ub) ub = x0[md.col_c];

    /* Branch and bound. */
    lp = glp_create_prob();
    if (build_model(lp, &md, pb, ub, err)) goto done;
    glp_smcp sp;
    glp_init_smcp(&sp);
    sp.msg_lev = GLP_MSG_OFF;
    sp.presolve = GLP_OFF;
    double left_ms = (deadline - now_s()) * 1000.0;
    sp.tm_lim = left_ms > INT_MAX ? INT_MAX : left_ms < 1 ? 1 : (int)left_ms;
    int rc_mip = -1;
    search sc = {.pb = pb, .md = &md, .f = &f, .ord = ord, .pos = pos, .key = key, .x = x, .first_x = x0,
                 .best = x0[md.col_c], .polish_tries = 3L * (long)np, .lb = lb, .gap = -1};
    if (glp_simplex(lp, &sp) == 0 && glp_get_status(lp) == GLP_OPT) {
        left_ms = (deadline - now_s()) * 1000.0;
        if (left_ms >= 1) {
            glp_iocp ip;
            glp_init_iocp(&ip);
            ip.msg_lev = GLP_MSG_OFF;
            ip.presolve = GLP_OFF;
            ip.tm_lim = left_ms > INT_MAX ? INT_MAX : (int)left_ms;
            ip.br_tech = GLP_BR_PCH;
            ip.bt_tech = GLP_BT_BLB;
            ip.cb_func = ilp_callback;
            ip.cb_info = &sc;
            ip.mip_gap = 0;
            rc_mip = glp_intopt(lp, &ip);
        }
    }
    int mst = rc_mip < 0 ? GLP_UNDEF : glp_mip_status(lp);
    if (mst == GLP_OPT) *gap = 0;
    else if (sc.gap >= 0) *gap = sc.gap;
    if (mst == GLP_OPT) snprintf(status, status_n, "optimal");
    else if (rc_mip == GLP_ETMLIM || now_s() >= deadline) snprintf(status, status_n, "time-limit");
    if ((mst == GLP_OPT || mst == GLP_FEAS) && glp_mip_obj_val(lp) < w->makespan * (1 - 1e-9)) {
        for (int c = 1; c < md.col_x; c++) key[c] = glp_mip_col_val(lp, c);
        if (order_from_keys(pb, &md, key, ord) == 0 && fast_eval(&f, ord, &span, &sum) == 0 && order_fits(pb, ord)) {
            memcpy(best_ord, ord, np * sizeof *ord);
            *got = 1;
        }
    }
    res = 0;
done:
    if (lp) glp_delete_prob(lp);
    fast_free(&f);
    free(x0);
    free(x);
    free(key);
    free(ord);
    free(pos);
    return res;
}

/* ---- the entry point ---- */

int pp_ilpsched_solve(const pp_ilpsched_problem *pr, double time_limit_s, pp_ilpsched_result *out, pp_err *err) {
    if (!out) return pp_err_set(err, PP_ERR_INVALID, "ilpsched: no result to fill");
    memset(out, 0, sizeof *out);
    if (!pr) return pp_err_set(err, PP_ERR_INVALID, "ilpsched: no problem given");
    if (!(time_limit_s > 0) || !isfinite(time_limit_s))
        return pp_err_set(err, PP_ERR_INVALID, "ilpsched: the time limit must be > 0 seconds, got %g", time_limit_s);
    double t0 = now_s();
    prob pb;
    if (prob_init(&pb, pr, err)) return -1;
    warm w;
    if (pick_warm(&pb, &w, err)) {
        prob_free(&pb);
        return -1;
    }
    out->warm_makespan = w.makespan;
    snprintf(out->warm_name, sizeof out->warm_name, "%s", w.name);

    int *ord = pp_calloc((unsigned long long)pb.p * 3 * (unsigned long long)pb.m, sizeof *ord, err);
    int got = 0;
    char status[16];
    double gap = -1;
    if (!ord || run_ilp(&pb, &w, time_limit_s, ord, &got, status, sizeof status, &gap, err)) {
        free(ord);
        warm_free(&w);
        prob_free(&pb);
        return -1;
    }
    /* The answer, checked as any table would be. */
    pp_sched cand;
    memset(&cand, 0, sizeof cand);
    double span = 0;
    int use = 0;
    if (got) {
        pp_err e2 = {0};
        int fits = 0;
        if (order_to_sched(&pb, ord, &cand, &e2) == 0 && eval_table(&pb, &cand, &span, &fits, NULL, &e2) == 0 &&
            fits && span < w.makespan * (1 - 1e-9))
            use = 1;
        else if (e2.msg[0])
            PP_LOG_WARN("ilpsched: the ILP's table was rejected: %s", e2.msg);
    }
    if (use) {
        out->sched = cand;
        out->makespan = span;
        snprintf(out->status, sizeof out->status, "%s", status);
    } else {
        pp_sched_free(&cand);
        out->sched = w.sched;
        memset(&w.sched, 0, sizeof w.sched);
        out->makespan = w.makespan;
        snprintf(out->status, sizeof out->status, "warm-start");
    }
    out->gap = gap;
    free(ord);
    warm_free(&w);
    prob_free(&pb);
    out->solve_s = now_s() - t0;
    return 0;
}

void pp_ilpsched_result_free(pp_ilpsched_result *r) {
    if (!r) return;
    pp_sched_free(&r->sched);
    memset(r, 0, sizeof *r);
}
