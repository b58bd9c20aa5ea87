/*
 * pp_partition.c -- splitting a chain of units into S contiguous pipeline
 * stages (pp_partition.h has the cost model): the baselines uniform and
 * params, the exact dynamic programme, a GLPK MILP warm-started from it,
 * brute force for the tests, and the memory explanation.
 *
 * Notation: n units with times t[i], S stage positions with speed sp[s],
 * memory cap M[s], in-flight count f[s], link (alpha[s], beta[s]); the
 * memory of unit i at position s is mu[s][i] = param_bytes[i] (1 + k) +
 * act_bytes[i] f[s]. All memory comparisons use one relative tolerance
 * (mem_fits), so dp, brute, milp and evaluate agree on what fits.
 *
 * dp: F[s][j] = least bottleneck of units [0, j) on positions 0 .. s,
 *     F[s][j] = min_{i < j, [i, j) fits at s} max(F[s-1][i], time(s, i, j)),
 *     O(S n^2) with prefix sums (the inner loop walks i downwards and stops
 *     at the first i whose stage would not fit, memory being monotone).
 *     With no feasible partition, a first dp minimises the largest excess
 *     over a cap, a second the bottleneck with every cap raised by it.
 *
 * milp: binaries z[i][s] = 1 when unit i sits in a stage <= s (s < S-1;
 *     z[i][S-1] = 1, z[i][-1] = 0), continuous B, minimise B.
 *       z[i][s] <= z[i-1][s]          (the order of units is kept)
 *       z[i][s-1] <= z[i][s]          (monotone in s)
 *       z[i][s] >= z[i-1][s-1]        (stage(i) <= stage(i-1) + 1: with
 *                                      z[0][0] = 1 and z[n-1][S-2] = 0 every
 *                                      stage is non-empty)
 *     x[i][s] = z[i][s] - z[i][s-1] is "unit i in stage s", and
 *     y[i][s] = z[i-1][s] - z[i][s] is "the cut after stage s lies right
 *     before unit i" (exactly one i per s), so both stay linear expressions:
 *       sum_i x[i][s] t[i] / sp[s] + 2 alpha[s] + 2/beta[s] sum_i y[i][s] cut[i] <= B
 *       sum_i x[i][s] mu[s][i] <= M[s]
 *     The ordering rows are difference constraints (totally unimodular), so
 *     the LP relaxation is the convex hull of the partitions and only the
 *     time and memory rows make it fractional.
 *     Bounds: B <= warm bottleneck (the dp's, given as `warm`), B >= the
 *     cheap lower bounds (largest unit on the fastest device; total compute
 *     plus the least comm over the total speed). With B <= B_ub a greedy
 *     pass from each end fixes most z: stages 0 .. s can hold at most the
 *     prefix that greedy packing under the compute capacity (B_ub - least
 *     comm) sp[s] and M[s] reaches (exact for that relaxation since sums
 *     over intervals of non-negative weights are monotone), and likewise
 *     from the back; with the structural range of stage(i) this leaves a
 *     band of free z around the cuts. Only rows with free z are built.
 *     Times are divided by the warm bottleneck and memory rows by M[s], so
 *     coefficients are about 1. GLPK's preprocessor runs through the
 *     glp_npp API with names kept (glp_intopt's built-in presolver drops
 *     names and renumbers columns, so a warm start could not be mapped onto
 *     its problem); glp_intopt then branches and cuts on the preprocessed
 *     problem, the warm start going in through glp_ios_heur_sol at the
 *     first GLP_IHEUR. The best bound is read off the tree in the callback
 *     for the gap on a time limit. The result is recomputed exactly with
 *     pp_partition_evaluate and never worse than the warm start.
 *     With B_ub the dp's optimum the band is narrow (on random chains of up
 *     to 200 units x 16 stages it leaves 0 to ~10 of the n (S-1) z free),
 *     so GLPK proves the optimum in milliseconds; without a warm start the
 *     band comes from the memory caps only and GLPK's branch and bound does
 *     the work (seconds at 100 x 16, see bench/bench_partition.c).
 */
#include "planner/pp_partition.h"

#include <float.h>
#include <glpk.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MEM_RTOL 1e-9
#define GIB (1024.0 * 1024.0 * 1024.0)

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int mem_fits(double need, double cap) { return need <= cap + MEM_RTOL * fabs(cap); }

/* ---- the cost model ---- */

static double slot_speed(const pp_stage_slots *d, int s) { return d->speed ? d->speed[s] : 1.0; }
static double slot_inflight(const pp_stage_slots *d, int s) { return d->inflight ? d->inflight[s] : 1.0; }
static double slot_mem(const pp_stage_slots *d, int s) { return d->mem ? d->mem[s] : INFINITY; }
static double unit_param(const pp_chain *c, int i) { return c->param_bytes ? c->param_bytes[i] : 0.0; }
static double unit_act(const pp_chain *c, int i) { return c->act_bytes ? c->act_bytes[i] : 0.0; }
static double cut_at(const pp_chain *c, int i) { return c->cut_bytes ? c->cut_bytes[i] : 0.0; }

/* comm(s) when stage s ends right before unit `end` (0 for the last stage). */
static double comm_time(const pp_chain *c, const pp_stage_slots *d, int s, int end) {
    if (s >= d->S - 1) return 0.0;
    double a = d->alpha ? d->alpha[s] : 0.0;
    double b = d->beta ? d->beta[s] : 0.0;
    double bytes = end < c->n ? cut_at(c, end) : 0.0;
    return 2.0 * (a + (b > 0 ? bytes / b : 0.0));
}

/* Least comm(s) over the cuts stage s could end at. */
static double comm_min(const pp_chain *c, const pp_stage_slots *d, int s) {
    if (s >= d->S - 1) return 0.0;
    double m = INFINITY;
    for (int e = 1; e < c->n; e++) {
        double v = comm_time(c, d, s, e);
        if (v < m) m = v;
    }
    return isfinite(m) ? m : comm_time(c, d, s, c->n);
}

double pp_partition_stage_time(const pp_chain *c, const pp_stage_slots *d, int s, int lo, int hi) {
    double sum = 0;
    for (int i = lo; i < hi; i++)
        sum += c->t[i];
    return sum / slot_speed(d, s) + comm_time(c, d, s, hi);
}

double pp_partition_stage_memory(const pp_chain *c, const pp_stage_slots *d, int s, int lo, int hi) {
    double pb = 0, ab = 0;
    for (int i = lo; i < hi; i++) {
        pb += unit_param(c, i);
        ab += unit_act(c, i);
    }
    return pb * (1.0 + d->state_per_param_byte) + ab * slot_inflight(d, s);
}

void pp_partition_evaluate(const pp_chain *c, const pp_stage_slots *d, pp_partition *p) {
    double worst = 0;
    int ok = 1;
    for (int s = 0; s < p->S; s++) {
        int lo = p->bounds[s], hi = p->bounds[s + 1];
        double tm = pp_partition_stage_time(c, d, s, lo, hi);
        if (tm > worst) worst = tm;
        if (!mem_fits(pp_partition_stage_memory(c, d, s, lo, hi), slot_mem(d, s))) ok = 0;
    }
    p->bottleneck = worst;
    p->feasible = ok;
}

void pp_partition_free(pp_partition *p) {
    if (!p) return;
    free(p->bounds);
    p->bounds = NULL;
}

/* ---- shared helpers ---- */

static int check_inputs(const pp_chain *c, const pp_stage_slots *d, pp_err *err) {
    if (!c || !d || !c->t) return pp_err_set(err, PP_ERR_INVALID, "partition: no chain or no stage slots");
    if (c->n < 1) return pp_err_set(err, PP_ERR_INVALID, "partition: the chain has no units");
    if (d->S < 1) return pp_err_set(err, PP_ERR_INVALID, "partition: %d stages (need at least 1)", d->S);
    if (d->S > c->n)
        return pp_err_set(err, PP_ERR_INVALID, "partition: %d stages for %d units (every stage needs a unit)", d->S,
                          c->n);
    for (int i = 0; i < c->n; i++) {
        if (!(c->t[i] >= 0) || !isfinite(c->t[i]))
            return pp_err_set(err, PP_ERR_INVALID, "partition: unit %d has time %g", i, c->t[i]);
        if (!(unit_param(c, i) >= 0) || !(unit_act(c, i) >= 0) || !isfinite(unit_param(c, i)) ||
            !isfinite(unit_act(c, i)))
            return pp_err_set(err, PP_ERR_INVALID, "partition: unit %d has negative or non-finite bytes", i);
    }
    for (int i = 0; i <= c->n; i++)
        if (!(cut_at(c, i) >= 0) || !isfinite(cut_at(c, i)))
            return pp_err_set(err, PP_ERR_INVALID, "partition: cut %d has %g bytes", i, cut_at(c, i));
    for (int s = 0; s < d->S; s++) {
        if (!(slot_speed(d, s) > 0) || !isfinite(slot_speed(d, s)))
            return pp_err_set(err, PP_ERR_INVALID, "partition: stage %d has speed %g", s, slot_speed(d, s));
        if (!(slot_inflight(d, s) >= 0) || !isfinite(slot_inflight(d, s)))
            return pp_err_set(err, PP_ERR_INVALID, "partition: stage %d has %g microbatches in flight", s,
                              slot_inflight(d, s));
        if (!(slot_mem(d, s) >= 0))
            return pp_err_set(err, PP_ERR_INVALID, "partition: stage %d has memory %g", s, slot_mem(d, s));
    }
    for (int s = 0; s + 1 < d->S; s++) {
        double a = d->alpha ? d->alpha[s] : 0.0, b = d->beta ? d->beta[s] : 0.0;
        if (!(a >= 0) || !isfinite(a) || !(b >= 0) || isnan(b))
            return pp_err_set(err, PP_ERR_INVALID, "partition: link %d has alpha %g, beta %g", s, a, b);
    }
    if (!(d->state_per_param_byte >= 0) || !isfinite(d->state_per_param_byte))
        return pp_err_set(err, PP_ERR_INVALID, "partition: state_per_param_byte %g", d->state_per_param_byte);
    return 0;
}

static int part_init(pp_partition *out, int S, const char *method, pp_err *err) {
    memset(out, 0, sizeof *out);
    out->S = S;
    out->bounds = pp_calloc((unsigned long long)S + 1, sizeof(int), err);
    if (!out->bounds) return -1;
    snprintf(out->method, sizeof out->method, "%s", method);
    return 0;
}

static void set_status(pp_partition *p, const char *st) { snprintf(p->status, sizeof p->status, "%s", st); }

/* Prefix sums of t, parameter bytes (with optimizer state) and activation bytes. */
typedef struct prefix {
    double *T, *P, *A;
} prefix;

static int prefix_make(const pp_chain *c, const pp_stage_slots *d, prefix *px, pp_err *err) {
    int n = c->n;
    px->T = pp_calloc((unsigned long long)(3 * (n + 1)), sizeof(double), err);
    if (!px->T) return -1;
    px->P = px->T + (n + 1);
    px->A = px->P + (n + 1);
    for (int i = 0; i < n; i++) {
        px->T[i + 1] = px->T[i] + c->t[i];
        px->P[i + 1] = px->P[i] + unit_param(c, i) * (1.0 + d->state_per_param_byte);
        px->A[i + 1] = px->A[i] + unit_act(c, i);
    }
    return 0;
}

static void prefix_free(prefix *px) { free(px->T); }

static double px_time(const pp_chain *c, const pp_stage_slots *d, const prefix *px, int s, int lo, int hi) {
    return (px->T[hi] - px->T[lo]) / slot_speed(d, s) + comm_time(c, d, s, hi);
}

static double px_mem(const pp_stage_slots *d, const prefix *px, int s, int lo, int hi) {
    return (px->P[hi] - px->P[lo]) + (px->A[hi] - px->A[lo]) * slot_inflight(d, s);
}

/* Lower bounds on the bottleneck of any partition (compute and least comm). */
static double cheap_lower_bound(const pp_chain *c, const pp_stage_slots *d) {
    double maxsp = 0, sumsp = 0, tmax = 0, tsum = 0, commw = 0, lb = 0;
    for (int s = 0; s < d->S; s++) {
        double sp = slot_speed(d, s), cm = comm_min(c, d, s);
        if (sp > maxsp) maxsp = sp;
        sumsp += sp;
        commw += cm * sp;
        if (cm > lb) lb = cm; /* every stage but the last pays at least its least comm */
    }
    for (int i = 0; i < c->n; i++) {
        tsum += c->t[i];
        if (c->t[i] > tmax) tmax = c->t[i];
    }
    /* unit i sits somewhere: at least min_s t[i]/sp[s] + comm_min(s) */
    for (int i = 0; i < c->n; i++) {
        double best = INFINITY;
        for (int s = 0; s < d->S; s++) {
            double v = c->t[i] / slot_speed(d, s) + comm_min(c, d, s);
            if (v < best) best = v;
        }
        if (best > lb) lb = best;
    }
    if (tmax / maxsp > lb) lb = tmax / maxsp;
    double avg = (tsum + commw) / sumsp; /* sum_s sp[s] time(s) >= sum t + sum_s sp[s] comm_min(s) */
    if (avg > lb) lb = avg;
    return lb;
}

/* ---- dynamic programme ---- */

/* Minimises max_s time(s) subject to memory(s) <= cap[s] + slack; fills
 * bounds and returns the optimum (INFINITY when nothing fits). */
static double dp_min_bottleneck(const pp_chain *c, const pp_stage_slots *d, const prefix *px, double slack, int *bounds,
                                pp_err *err, int *rc) {
    int n = c->n, S = d->S;
    double *F = pp_malloc(sizeof(double) * (size_t)S * (size_t)(n + 1), err);
    int *arg = pp_malloc(sizeof(int) * (size_t)S * (size_t)(n + 1), err);
    *rc = 0;
    if (!F || !arg) {
        free(F);
        free(arg);
        *rc = -1;
        return INFINITY;
    }
    for (int k = 0; k < S * (n + 1); k++)
        F[k] = INFINITY, arg[k] = -1;
#define IX(s, j) ((size_t)(s) * (size_t)(n + 1) + (size_t)(j))
    for (int s = 0; s < S; s++) {
        double cap = slot_mem(d, s) + slack;
        int jlo = s + 1, jhi = n - (S - 1 - s);
        for (int j = jlo; j <= jhi; j++) {
            if (s == 0) {
                if (mem_fits(px_mem(d, px, 0, 0, j), cap)) F[IX(0, j)] = px_time(c, d, px, 0, 0, j), arg[IX(0, j)] = 0;
                continue;
            }
            double best = INFINITY;
            int bi = -1;
            double cm = comm_time(c, d, s, j), sp = slot_speed(d, s);
            for (int i = j - 1; i >= s; i--) {
                if (!mem_fits(px_mem(d, px, s, i, j), cap)) break;
                double prev = F[IX(s - 1, i)];
                if (prev >= best) continue;
                double tm = (px->T[j] - px->T[i]) / sp + cm;
                double v = prev > tm ? prev : tm;
                if (v < best) best = v, bi = i;
                if (tm >= best) break; /* going further down only adds time */
            }
            F[IX(s, j)] = best;
            arg[IX(s, j)] = bi;
        }
    }
    double opt = F[IX(S - 1, n)];
    if (isfinite(opt)) {
        bounds[S] = n;
        for (int s = S - 1; s >= 0; s--)
            bounds[s] = arg[IX(s, bounds[s + 1])];
        bounds[0] = 0;
    }
#undef IX
    free(F);
    free(arg);
    return opt;
}

/* The least possible largest excess of a stage's memory over its cap. */
static double dp_min_excess(const pp_chain *c, const pp_stage_slots *d, const prefix *px, pp_err *err, int *rc) {
    int n = c->n, S = d->S;
    double *F = pp_malloc(sizeof(double) * (size_t)S * (size_t)(n + 1), err);
    *rc = 0;
    if (!F) {
        *rc = -1;
        return INFINITY;
    }
    for (int k = 0; k < S * (n + 1); k++)
        F[k] = INFINITY;
#define IX(s, j) ((size_t)(s) * (size_t)(n + 1) + (size_t)(j))
    for (int s = 0; s < S; s++) {
        int jlo = s + 1, jhi = n - (S - 1 - s);
        for (int j = jlo; j <= jhi; j++) {
            if (s == 0) {
                double ex = px_mem(d, px, 0, 0, j) - slot_mem(d, 0);
                F[IX(0, j)] = ex > 0 ? ex : 0;
                continue;
            }
            double best = INFINITY;
            for (int i = s; i < j; i++) {
                double ex = px_mem(d, px, s, i, j) - slot_mem(d, s);
                if (ex < 0) ex = 0;
                double v = F[IX(s - 1, i)] > ex ? F[IX(s - 1, i)] : ex;
                if (v < best) best = v;
            }
            F[IX(s, j)] = best;
        }
    }
    double opt = F[IX(S - 1, n)];
#undef IX
    free(F);
    return opt;
}

int pp_partition_dp(const pp_chain *c, const pp_stage_slots *d, pp_partition *out, pp_err *err) {
    double t0 = wall_now();
    if (out) memset(out, 0, sizeof *out);
    if (!out) return pp_err_set(err, PP_ERR_INVALID, "partition: no output");
    if (check_inputs(c, d, err)) return -1;
    if (part_init(out, d->S, "dp", err)) return -1;
    prefix px;
    if (prefix_make(c, d, &px, err)) goto fail;
    int rc;
    double opt = dp_min_bottleneck(c, d, &px, 0.0, out->bounds, err, &rc);
    if (rc) goto fail_px;
    if (!isfinite(opt)) {
        /* nothing fits: the partition with the least excess, then the least bottleneck */
        double ex = dp_min_excess(c, d, &px, err, &rc);
        if (rc) goto fail_px;
        opt = dp_min_bottleneck(c, d, &px, ex * (1 + 1e-9) + 1.0, out->bounds, err, &rc);
        if (rc) goto fail_px;
        if (!isfinite(opt)) { /* cannot happen: the raised caps admit the excess partition */
            pp_err_set(err, PP_ERR_INVALID, "partition: dp found no partition");
            goto fail_px;
        }
    }
    prefix_free(&px);
    pp_partition_evaluate(c, d, out);
    set_status(out, out->feasible ? "optimal" : "infeasible");
    out->lower_bound = out->bottleneck;
    out->gap = 0;
    out->solve_s = wall_now() - t0;
    return 0;
fail_px:
    prefix_free(&px);
fail:
    pp_partition_free(out);
    return -1;
}

/* ---- baselines ---- */

int pp_partition_uniform(const pp_chain *c, const pp_stage_slots *d, pp_partition *out, pp_err *err) {
    double t0 = wall_now();
    if (out) memset(out, 0, sizeof *out);
    if (!out) return pp_err_set(err, PP_ERR_INVALID, "partition: no output");
    if (check_inputs(c, d, err)) return -1;
    if (part_init(out, d->S, "uniform", err)) return -1;
    int n = c->n, S = d->S, q = n / S, r = n % S;
    for (int s = 0; s <= S; s++)
        out->bounds[s] = s * q + (s < r ? s : r);
    pp_partition_evaluate(c, d, out);
    set_status(out, "heuristic");
    out->lower_bound = cheap_lower_bound(c, d);
    if (out->lower_bound > out->bottleneck) out->lower_bound = out->bottleneck;
    out->gap = out->bottleneck > 0 ? (out->bottleneck - out->lower_bound) / out->bottleneck : 0;
    out->solve_s = wall_now() - t0;
    return 0;
}

int pp_partition_by_params(const pp_chain *c, const pp_stage_slots *d, pp_partition *out, pp_err *err) {
    double t0 = wall_now();
    if (out) memset(out, 0, sizeof *out);
    if (!out) return pp_err_set(err, PP_ERR_INVALID, "partition: no output");
    if (check_inputs(c, d, err)) return -1;
    double total = 0;
    for (int i = 0; i < c->n; i++)
        total += unit_param(c, i);
    if (!(total > 0)) { /* no parameters to balance: equal unit counts */
        if (pp_partition_uniform(c, d, out, err)) return -1;
        snprintf(out->method, sizeof out->method, "params");
        out->solve_s = wall_now() - t0;
        return 0;
    }
    if (part_init(out, d->S, "params", err)) return -1;
    /* min-max parameter bytes: the bottleneck dp on a chain whose times are
     * the parameter bytes, on equal devices with free links and no caps */
    pp_chain pc = {.n = c->n, .t = c->param_bytes};
    pp_stage_slots ps = {.S = d->S};
    prefix px;
    if (prefix_make(&pc, &ps, &px, err)) goto fail;
    int rc;
    double opt = dp_min_bottleneck(&pc, &ps, &px, 0.0, out->bounds, err, &rc);
    prefix_free(&px);
    if (rc || !isfinite(opt)) goto fail;
    pp_partition_evaluate(c, d, out);
    set_status(out, "heuristic");
    out->lower_bound = cheap_lower_bound(c, d);
    if (out->lower_bound > out->bottleneck) out->lower_bound = out->bottleneck;
    out->gap = out->bottleneck > 0 ? (out->bottleneck - out->lower_bound) / out->bottleneck : 0;
    out->solve_s = wall_now() - t0;
    return 0;
fail:
    pp_partition_free(out);
    return -1;
}

/* ---- brute force ---- */

static double max_excess(const pp_chain *c, const pp_stage_slots *d, const int *b) {
    double w = 0;
    for (int s = 0; s < d->S; s++) {
        double ex = pp_partition_stage_memory(c, d, s, b[s], b[s + 1]) - slot_mem(d, s);
        if (ex > w) w = ex;
    }
    return w;
}

int pp_partition_brute(const pp_chain *c, const pp_stage_slots *d, pp_partition *out, pp_err *err) {
    double t0 = wall_now();
    if (out) memset(out, 0, sizeof *out);
    if (!out) return pp_err_set(err, PP_ERR_INVALID, "partition: no output");
    if (check_inputs(c, d, err)) return -1;
    if (c->n > 24) return pp_err_set(err, PP_ERR_INVALID, "partition: brute force needs n <= 24 (n = %d)", c->n);
    if (part_init(out, d->S, "brute", err)) return -1;
    int S = d->S, n = c->n;
    int cur[25], best[25];
    pp_partition tmp = {.S = S, .bounds = cur};
    for (int s = 0; s <= S; s++)
        cur[s] = s < S ? s : n;
    int have = 0, best_feas = 0;
    double best_t = INFINITY, best_ex = INFINITY;
    for (;;) {
        pp_partition_evaluate(c, d, &tmp);
        if (tmp.feasible) {
            if (!best_feas || tmp.bottleneck < best_t) {
                best_feas = 1, best_t = tmp.bottleneck, have = 1;
                memcpy(best, cur, sizeof(int) * (size_t)(S + 1));
            }
        } else if (!best_feas) {
            double ex = max_excess(c, d, cur);
            if (!have || ex < best_ex || (ex == best_ex && tmp.bottleneck < best_t)) {
                best_ex = ex, best_t = tmp.bottleneck, have = 1;
                memcpy(best, cur, sizeof(int) * (size_t)(S + 1));
            }
        }
        /* next combination of the cuts cur[1..S-1] in [1, n-1] */
        int k = S - 1;
        while (k >= 1 && cur[k] == n - (S - k))
            k--;
        if (k < 1) break;
        cur[k]++;
        for (int q = k + 1; q < S; q++)
            cur[q] = cur[q - 1] + 1;
    }
    memcpy(out->bounds, best, sizeof(int) * (size_t)(S + 1));
    pp_partition_evaluate(c, d, out);
    set_status(out, out->feasible ? "optimal" : "infeasible");
    out->lower_bound = out->bottleneck;
    out->solve_s = wall_now() - t0;
    return 0;
}

/* ---- explanation ---- */

void pp_partition_explain_memory(const pp_chain *c, const pp_stage_slots *d, const pp_partition *p, char *buf,
                                 size_t n) {
    if (!buf || n == 0) return;
    if (!c || !d || !p || !p->bounds || p->S < 1) {
        snprintf(buf, n, "no partition to explain");
        return;
    }
    int worst = -1, over = 0;
    double key = -INFINITY;
    for (int s = 0; s < p->S; s++) {
        double need = pp_partition_stage_memory(c, d, s, p->bounds[s], p->bounds[s + 1]);
        double cap = slot_mem(d, s);
        int o = !mem_fits(need, cap);
        double k = o ? need - cap : need; /* over: the largest excess; else the largest need */
        if ((o && !over) || (o == over && k > key)) worst = s, key = k, over = o;
    }
    int s = worst, lo = p->bounds[s], hi = p->bounds[s + 1];
    double pb = 0, ab = 0;
    for (int i = lo; i < hi; i++)
        pb += unit_param(c, i), ab += unit_act(c, i);
    pb *= 1.0 + d->state_per_param_byte;
    double infl = slot_inflight(d, s);
    ab *= infl;
    double cap = slot_mem(d, s);
    char units[48], mb[64], capbuf[96];
    if (hi - lo == 1)
        snprintf(units, sizeof units, "unit %d", lo);
    else
        snprintf(units, sizeof units, "units %d..%d", lo, hi - 1);
    snprintf(mb, sizeof mb, "%g microbatch%s", infl, infl == 1.0 ? "" : "es");
    if (!isfinite(cap))
        snprintf(capbuf, sizeof capbuf, "and its device has no memory limit");
    else if (over)
        snprintf(capbuf, sizeof capbuf, "but its device has %.1f GiB", cap / GIB);
    else
        snprintf(capbuf, sizeof capbuf, "and fits its device's %.1f GiB", cap / GIB);
    snprintf(buf, n,
             "stage %d (%s) needs %.1f GiB (params %.1f GiB incl. optimizer state, activations %.1f GiB for %s in "
             "flight) %s",
             s, units, (pb + ab) / GIB, pb / GIB, ab / GIB, mb, capbuf);
}

/* ---- MILP ---- */

enum { Z_FREE = 0, Z_ZERO = 1, Z_ONE = 2 };

typedef struct milp_ctx {
    int n, S;
    unsigned char *state; /* [n * (S-1)] of z[i][s] */
    int *col;             /* [n * (S-1)]: column of a free z[i][s] in P */
    int ncols, colB;      /* columns of P */
    double *warm_x;       /* [1 + ncols] warm start in P's columns, or NULL */
    int warm_given;       /* handed to GLPK already */
    double best_bound;    /* best global bound seen on the tree (scaled) */
    glp_prob *P;
} milp_ctx;

static size_t zk(const milp_ctx *cx, int i, int s) { return (size_t)i * (size_t)(cx->S - 1) + (size_t)s; }

/* Records the tree's best bound; at the first GLP_IHEUR hands GLPK the warm
 * start, mapped from P's columns onto the solved problem's by name. */
static void milp_callback(glp_tree *tree, void *info) {
    milp_ctx *cx = info;
    int p = glp_ios_best_node(tree);
    if (p) {
        double b = glp_ios_node_bound(tree, p);
        if (b > cx->best_bound && b < DBL_MAX) cx->best_bound = b;
    }
    if (glp_ios_reason(tree) != GLP_IHEUR || cx->warm_given || !cx->warm_x) return;
    cx->warm_given = 1;
    glp_prob *Q = glp_ios_get_prob(tree);
    int nq = glp_get_num_cols(Q);
    double *x = calloc((size_t)nq + 1, sizeof(double));
    if (!x) return;
    for (int j = 1; j <= nq; j++) {
        const char *name = glp_get_col_name(Q, j);
        int k = name ? glp_find_col(cx->P, name) : 0;
        if (k <= 0) {
            free(x);
            return; /* a column that is not P's: no warm start */
        }
        x[j] = cx->warm_x[k];
    }
    glp_ios_heur_sol(tree, x); /* GLPK keeps it as the incumbent unless it has a better one */
    free(x);
}

/* A row under construction: dense coefficients over P's columns, the list
 * of touched columns and the constant part (fixed z and z[i][S-1] = 1). */
typedef struct rowacc {
    double *val;         /* [1 + ncols] */
    unsigned char *mark; /* [1 + ncols] */
    int *ind;            /* [1 + ncols] */
    int len;
    double cst;
    int *oind; /* [2 + ncols] output */
    double *oval;
} rowacc;

static void acc_add(rowacc *r, const milp_ctx *cx, int i, int s, double coef) {
    if (s < 0 || coef == 0.0) return;
    if (s >= cx->S - 1) {
        r->cst += coef;
        return;
    }
    size_t k = zk(cx, i, s);
    if (cx->state[k] == Z_ONE) {
        r->cst += coef;
    } else if (cx->state[k] == Z_FREE) {
        int j = cx->col[k];
        if (!r->mark[j]) r->mark[j] = 1, r->ind[++r->len] = j;
        r->val[j] += coef;
    }
}

/* Adds the row  sum(coef z) + cst + b_coef B  <= rhs  to P (or, with no
 * free term and no B, nothing); returns the number of free terms and
 * clears the accumulator. */
static int acc_emit_le(rowacc *r, glp_prob *P, int colB, double b_coef, double rhs) {
    int len = 0;
    for (int q = 1; q <= r->len; q++) {
        int j = r->ind[q];
        double v = r->val[j];
        r->val[j] = 0.0;
        r->mark[j] = 0;
        if (fabs(v) < 1e-13) continue;
        r->oind[++len] = j;
        r->oval[len] = v;
    }
    int nfree = len;
    if (b_coef != 0.0) r->oind[++len] = colB, r->oval[len] = b_coef;
    if (len > 0) {
        int row = glp_add_rows(P, 1);
        glp_set_row_bnds(P, row, GLP_UP, 0.0, rhs - r->cst);
        glp_set_mat_row(P, row, len, r->oind, r->oval);
    }
    r->len = 0;
    r->cst = 0.0;
    return nfree;
}

static void add_diff_row(glp_prob *P, int ja, int jb) { /* z_a - z_b <= 0 */
    int ind[3] = {0, ja, jb};
    double val[3] = {0, 1.0, -1.0};
    int row = glp_add_rows(P, 1);
    glp_set_row_bnds(P, row, GLP_UP, 0.0, 0.0);
    glp_set_mat_row(P, row, 2, ind, val);
}

/* Stage ranges [stmin[i], stmax[i]] of every unit, from the structure and,
 * under B <= b_ub, from greedy packing at both ends. Returns 0, or 1 when
 * the ranges are empty (no partition with bottleneck <= b_ub fits). */
static int milp_band(const pp_chain *c, const pp_stage_slots *d, const prefix *px, double b_ub, int *stmin,
                     int *stmax) {
    int n = c->n, S = d->S;
    for (int i = 0; i < n; i++) {
        stmin[i] = S - n + i > 0 ? S - n + i : 0;
        stmax[i] = i < S - 1 ? i : S - 1;
    }
    /* from the front: stages 0 .. s end at most at a */
    int a = 0;
    for (int s = 0; s < S - 1; s++) {
        double cap = (b_ub - comm_min(c, d, s)) * slot_speed(d, s);
        cap += 1e-9 * fabs(cap) + 1e-300;
        int b = a;
        while (b < n && px->T[b + 1] - px->T[a] <= cap && mem_fits(px_mem(d, px, s, a, b + 1), slot_mem(d, s)))
            b++;
        for (int i = b; i < n; i++)
            if (stmin[i] < s + 1) stmin[i] = s + 1;
        a = b;
    }
    /* from the back: stages s .. S-1 start at least at e */
    int e = n;
    for (int s = S - 1; s > 0; s--) {
        double cap = (b_ub - comm_min(c, d, s)) * slot_speed(d, s);
        cap += 1e-9 * fabs(cap) + 1e-300;
        int b = e;
        while (b > 0 && px->T[e] - px->T[b - 1] <= cap && mem_fits(px_mem(d, px, s, b - 1, e), slot_mem(d, s)))
            b--;
        for (int i = 0; i < b; i++)
            if (stmax[i] > s - 1) stmax[i] = s - 1;
        e = b;
    }
    /* stage(i-1) <= stage(i) <= stage(i-1) + 1 */
    for (int i = 1; i < n; i++) {
        if (stmin[i] < stmin[i - 1]) stmin[i] = stmin[i - 1];
        if (stmax[i] > stmax[i - 1] + 1) stmax[i] = stmax[i - 1] + 1;
    }
    for (int i = n - 2; i >= 0; i--) {
        if (stmax[i] > stmax[i + 1]) stmax[i] = stmax[i + 1];
        if (stmin[i] < stmin[i + 1] - 1) stmin[i] = stmin[i + 1] - 1;
    }
    for (int i = 0; i < n; i++)
        if (stmin[i] > stmax[i]) return 1;
    return 0;
}

/* Bounds from a stage-of-unit vector; 0 when it is a valid partition. */
static int bounds_from_stages(const int *stage, int n, int S, int *bounds) {
    if (stage[0] != 0 || stage[n - 1] != S - 1) return -1;
    for (int i = 1; i < n; i++)
        if (stage[i] < stage[i - 1] || stage[i] > stage[i - 1] + 1) return -1;
    bounds[0] = 0;
    bounds[S] = n;
    for (int i = 1; i < n; i++)
        if (stage[i] != stage[i - 1]) bounds[stage[i]] = i;
    return 0;
}

static int warm_valid(const pp_partition *w, int n, int S) {
    if (!w || !w->bounds || w->S != S || w->bounds[0] != 0 || w->bounds[S] != n) return 0;
    for (int s = 0; s < S; s++)
        if (w->bounds[s + 1] <= w->bounds[s]) return 0;
    return 1;
}

static void finish_gap(pp_partition *out) {
    if (out->lower_bound > out->bottleneck) out->lower_bound = out->bottleneck;
    out->gap = out->bottleneck > 0 ? (out->bottleneck - out->lower_bound) / out->bottleneck : 0.0;
    if (out->gap < 0) out->gap = 0;
}

int pp_partition_milp(const pp_chain *c, const pp_stage_slots *d, const pp_partition *warm, double time_limit_s,
                      pp_partition *out, pp_err *err) {
    double t0 = wall_now();
    if (out) memset(out, 0, sizeof *out);
    if (!out) return pp_err_set(err, PP_ERR_INVALID, "partition: no output");
    if (check_inputs(c, d, err)) return -1;
    int n = c->n, S = d->S;
    if (warm && !warm_valid(warm, n, S))
        return pp_err_set(err, PP_ERR_INVALID,
                          "partition: the warm start is not a partition of %d units into %d stages", n, S);
    if (part_init(out, S, "milp", err)) return -1;
    double deadline = time_limit_s > 0 ? t0 + time_limit_s : INFINITY;

    /* the warm start, evaluated here */
    int *wb = NULL;
    double wbot = INFINITY;
    int warm_ok = 0;
    if (warm) {
        pp_partition w = {.S = S, .bounds = warm->bounds};
        pp_partition_evaluate(c, d, &w);
        wb = warm->bounds;
        wbot = w.bottleneck;
        warm_ok = w.feasible;
    }
    double lb0 = cheap_lower_bound(c, d);
    int rc = -1;
    prefix px = {0};
    milp_ctx cx = {.n = n, .S = S};
    rowacc ra = {0};
    int *stmin = NULL, *stmax = NULL, *stage = NULL;
    glp_prob *P = NULL, *Q = NULL;
    glp_prep *prep = NULL;
    const char *status = NULL; /* set once decided */
    int use_sol = 0;           /* the GLPK solution is in `stage` */
    double bound = lb0;        /* proven lower bound so far */

    if (warm_ok && (S == 1 || lb0 >= wbot * (1 - 1e-9))) { /* the bounds already prove the warm start optimal */
        status = "optimal";
        bound = wbot;
        goto assemble;
    }
    if (prefix_make(c, d, &px, err)) goto done;
    stmin = pp_malloc(sizeof(int) * (size_t)n * 3, err);
    if (!stmin) goto done;
    stmax = stmin + n;
    stage = stmax + n;
    double b_ub = warm_ok ? wbot * (1 + 1e-9) : INFINITY;
    if (milp_band(c, d, &px, b_ub, stmin, stmax)) {
        /* empty band: with a warm start this is rounding (it lies in the band); without, nothing fits */
        status = warm_ok ? "feasible" : "infeasible";
        goto assemble;
    }
    if (S == 1) {
        status = warm ? (warm_ok ? "optimal" : "infeasible") : NULL;
        for (int i = 0; i < n; i++)
            stage[i] = 0;
        use_sol = 1;
        goto assemble_sol;
    }

    /* columns: the free z, then B */
    size_t nz = (size_t)n * (size_t)(S - 1);
    cx.state = pp_malloc(nz, err);
    cx.col = pp_calloc(nz, sizeof(int), err);
    if (!cx.state || !cx.col) goto done;
    int ncols = 0;
    for (int i = 0; i < n; i++)
        for (int s = 0; s < S - 1; s++) {
            size_t k = zk(&cx, i, s);
            if (s < stmin[i])
                cx.state[k] = Z_ZERO;
            else if (s >= stmax[i])
                cx.state[k] = Z_ONE;
            else
                cx.state[k] = Z_FREE, cx.col[k] = ++ncols;
        }
    cx.colB = ++ncols;
    cx.ncols = ncols;
    double tscale = warm_ok ? wbot : (lb0 > 0 ? lb0 : 1.0);

    P = glp_create_prob();
    cx.P = P;
    glp_set_obj_dir(P, GLP_MIN);
    glp_add_cols(P, ncols);
    for (int i = 0; i < n; i++)
        for (int s = 0; s < S - 1; s++) {
            size_t k = zk(&cx, i, s);
            if (cx.state[k] != Z_FREE) continue;
            char name[32];
            snprintf(name, sizeof name, "z%d_%d", i, s);
            glp_set_col_name(P, cx.col[k], name);
            glp_set_col_kind(P, cx.col[k], GLP_BV);
        }
    glp_set_col_name(P, cx.colB, "B");
    glp_set_obj_coef(P, cx.colB, 1.0);
    glp_create_index(P);

    /* ordering rows between free z (the band has settled every other pair) */
    for (int i = 0; i < n; i++)
        for (int s = 0; s < S - 1; s++) {
            size_t k = zk(&cx, i, s);
            if (cx.state[k] != Z_FREE) continue;
            if (i > 0 && cx.state[zk(&cx, i - 1, s)] == Z_FREE) add_diff_row(P, cx.col[k], cx.col[zk(&cx, i - 1, s)]);
            if (s > 0 && cx.state[zk(&cx, i, s - 1)] == Z_FREE) add_diff_row(P, cx.col[zk(&cx, i, s - 1)], cx.col[k]);
            if (i > 0 && s > 0 && cx.state[zk(&cx, i - 1, s - 1)] == Z_FREE)
                add_diff_row(P, cx.col[zk(&cx, i - 1, s - 1)], cx.col[k]);
        }

    ra.val = pp_calloc((size_t)ncols + 1, sizeof(double), err);
    ra.mark = pp_calloc((size_t)ncols + 1, 1, err);
    ra.ind = pp_calloc((size_t)ncols + 2, sizeof(int), err);
    ra.oind = pp_calloc((size_t)ncols + 2, sizeof(int), err);
    ra.oval = pp_calloc((size_t)ncols + 2, sizeof(double), err);
    if (!ra.val || !ra.mark || !ra.ind || !ra.oind || !ra.oval) goto done;

    double lbB = lb0 / tscale, ubB = warm_ok ? b_ub / tscale : DBL_MAX;
    int band_empty = 0;
    for (int s = 0; s < S; s++) {
        /* time(s) - B <= 0 */
        double g = 1.0 / (slot_speed(d, s) * tscale);
        for (int i = 0; i < n; i++) {
            acc_add(&ra, &cx, i, s, c->t[i] * g);
            acc_add(&ra, &cx, i, s - 1, -c->t[i] * g);
        }
        if (s < S - 1) {
            double al = d->alpha ? d->alpha[s] : 0.0, be = d->beta ? d->beta[s] : 0.0;
            ra.cst += 2.0 * al / tscale;
            if (be > 0)
                for (int i = 1; i < n; i++) {
                    double cb = 2.0 * cut_at(c, i) / (be * tscale);
                    acc_add(&ra, &cx, i - 1, s, cb);
                    acc_add(&ra, &cx, i, s, -cb);
                }
        }
        double cst = ra.cst;
        if (acc_emit_le(&ra, P, cx.colB, -1.0, 0.0) == 0 && cst > lbB) lbB = cst;
        /* memory(s) <= M[s], unless the units the band allows at s fit anyway */
        double cap = slot_mem(d, s);
        if (!isfinite(cap)) continue;
        double most = 0;
        for (int i = 0; i < n; i++)
            if (stmin[i] <= s && s <= stmax[i]) most += px_mem(d, &px, s, i, i + 1);
        if (mem_fits(most, cap)) continue;
        double ms = cap > 0 ? cap : 1.0;
        for (int i = 0; i < n; i++) {
            double mu = px_mem(d, &px, s, i, i + 1) / ms;
            acc_add(&ra, &cx, i, s, mu);
            acc_add(&ra, &cx, i, s - 1, -mu);
        }
        cst = ra.cst;
        double rhs = (cap + MEM_RTOL * fabs(cap)) / ms;
        if (acc_emit_le(&ra, P, cx.colB, 0.0, rhs) == 0 && cst > rhs) band_empty = 1;
    }
    if (band_empty || (warm_ok && lbB >= ubB)) {
        status = warm_ok ? "optimal" : "infeasible";
        if (warm_ok) bound = wbot;
        goto assemble;
    }
    glp_set_col_bnds(P, cx.colB, warm_ok ? GLP_DB : GLP_LO, lbB, ubB);
    if (lbB * tscale > bound) bound = lbB * tscale;

    if (ncols == 1) { /* the band leaves one partition: nothing for GLPK to choose */
        for (int i = 0; i < n; i++)
            stage[i] = stmin[i];
        use_sol = 1;
        status = NULL; /* optimal or infeasible, by its memory */
        bound = INFINITY;
        goto assemble_sol;
    }

    /* the warm start in P's columns */
    if (warm_ok) {
        cx.warm_x = pp_calloc((size_t)ncols + 1, sizeof(double), err);
        if (!cx.warm_x) goto done;
        int s = 0, ok = 1;
        for (int i = 0; i < n; i++) {
            while (i >= wb[s + 1])
                s++;
            for (int q = 0; q < S - 1; q++) {
                size_t k = zk(&cx, i, q);
                double z = s <= q ? 1.0 : 0.0;
                if (cx.state[k] == Z_FREE)
                    cx.warm_x[cx.col[k]] = z;
                else if ((cx.state[k] == Z_ONE) != (z == 1.0))
                    ok = 0;
            }
        }
        cx.warm_x[cx.colB] = wbot / tscale;
        if (!ok) free(cx.warm_x), cx.warm_x = NULL;
    }

    /* GLPK's preprocessor (names kept), the root LP, branch and cut */
    int term = glp_term_out(GLP_OFF);
    prep = glp_npp_alloc_wksp();
    glp_npp_load_prob(prep, P, GLP_MIP, GLP_ON);
    int pre = glp_npp_preprocess1(prep, GLP_ON);
    int glp_ret = -1, mip_st = GLP_UNDEF;
    glp_prob *solved = NULL;
    if (pre == GLP_ENOPFS) {
        mip_st = GLP_NOFEAS;
    } else {
        Q = glp_create_prob();
        glp_npp_build_prob(prep, Q);
        if (glp_get_num_cols(Q) == 0 || glp_get_num_rows(Q) == 0) {
            /* nothing left for the branch and cut: solve P itself */
            glp_npp_free_wksp(prep), prep = NULL;
            glp_delete_prob(Q), Q = NULL;
        }
        solved = Q ? Q : P;
        double left = deadline - wall_now();
        if (left <= 0) {
            glp_ret = GLP_ETMLIM;
        } else {
            int tm = isfinite(left) ? (left * 1000 < INT_MAX ? (int)(left * 1000) + 1 : INT_MAX) : INT_MAX;
            glp_smcp sm;
            glp_init_smcp(&sm);
            sm.msg_lev = GLP_MSG_OFF;
            sm.tm_lim = tm;
            int lr = glp_simplex(solved, &sm);
            int ls = glp_get_status(solved);
            if (lr == GLP_ETMLIM) {
                glp_ret = GLP_ETMLIM;
            } else if (lr != 0) {
                glp_ret = lr;
            } else if (ls == GLP_NOFEAS) {
                mip_st = GLP_NOFEAS;
            } else if (ls == GLP_OPT) {
                double rootb = glp_get_obj_val(solved);
                if (rootb > cx.best_bound) cx.best_bound = rootb;
                left = deadline - wall_now();
                if (left <= 0) {
                    glp_ret = GLP_ETMLIM;
                } else {
                    glp_iocp io;
                    glp_init_iocp(&io);
                    io.msg_lev = GLP_MSG_OFF;
                    io.presolve = GLP_OFF; /* done above, through glp_npp */
                    io.tm_lim = isfinite(left) ? (left * 1000 < INT_MAX ? (int)(left * 1000) + 1 : INT_MAX) : INT_MAX;
                    io.br_tech = GLP_BR_PCH; /* pseudo-costs */
                    io.bt_tech = GLP_BT_BLB; /* best local bound: raises the global bound fastest */
                    io.cb_func = milp_callback;
                    io.cb_info = &cx;
                    glp_ret = glp_intopt(solved, &io);
                    mip_st = glp_mip_status(solved);
                }
            } else {
                glp_ret = GLP_EFAIL;
            }
        }
        if (mip_st == GLP_OPT || mip_st == GLP_FEAS) {
            if (Q) {
                glp_npp_postprocess(prep, Q);
                glp_npp_obtain_sol(prep, P);
            }
            for (int i = 0; i < n; i++) {
                stage[i] = S - 1;
                for (int s = 0; s < S - 1; s++) {
                    size_t k = zk(&cx, i, s);
                    int z = cx.state[k] == Z_ONE || (cx.state[k] == Z_FREE && glp_mip_col_val(P, cx.col[k]) > 0.5);
                    if (z) {
                        stage[i] = s;
                        break;
                    }
                }
            }
            use_sol = 1;
        }
    }
    glp_term_out(term);
    if (cx.best_bound > 0 && cx.best_bound * tscale > bound) bound = cx.best_bound * tscale;
    if (mip_st == GLP_OPT)
        status = "optimal";
    else if (mip_st == GLP_NOFEAS)
        status = warm_ok ? "feasible" : "infeasible"; /* with a warm start in the model: numerics */
    else if (glp_ret == GLP_ETMLIM)
        status = "time-limit";
    else
        status = "feasible";

assemble_sol:
    if (use_sol && bounds_from_stages(stage, n, S, out->bounds) == 0) {
        pp_partition_evaluate(c, d, out);
        if (warm_ok && (!out->feasible || out->bottleneck >= wbot))
            use_sol = 0; /* only a strictly better one replaces the warm start */
        if (!warm_ok && !out->feasible) use_sol = 0;
    } else {
        use_sol = 0;
    }
assemble:
    if (!use_sol) {
        if (warm) {
            memcpy(out->bounds, wb, sizeof(int) * (size_t)(S + 1));
        } else {
            /* no warm start and no solution: the dp's partition (its least-excess one when nothing fits) */
            pp_partition dp;
            if (pp_partition_dp(c, d, &dp, err)) goto done;
            memcpy(out->bounds, dp.bounds, sizeof(int) * (size_t)(S + 1));
            pp_partition_free(&dp);
        }
        pp_partition_evaluate(c, d, out);
    }
    if (!status) status = out->feasible ? "optimal" : "infeasible";
    if (!out->feasible) status = "infeasible";
    set_status(out, status);
    if (!strcmp(status, "optimal"))
        out->lower_bound = out->bottleneck;
    else if (!strcmp(status, "infeasible"))
        out->lower_bound = out->bottleneck;
    else
        out->lower_bound = bound;
    finish_gap(out);
    rc = 0;
done:
    if (prep) glp_npp_free_wksp(prep);
    if (Q) glp_delete_prob(Q);
    if (P) glp_delete_prob(P);
    free(cx.state);
    free(cx.col);
    free(cx.warm_x);
    free(ra.val);
    free(ra.mark);
    free(ra.ind);
    free(ra.oind);
    free(ra.oval);
    free(stmin);
    prefix_free(&px);
    if (rc) pp_partition_free(out);
    out->solve_s = wall_now() - t0;
    return rc;
}
