/*
 * bench_partition.c -- the GLPK partitioning MILP's solve time against the
 * size of the problem: n units x S stages for n in {25, 50, 100, 200} and
 * S in {4, 8, 16}, on chains with random unit times (0.5 .. 2), parameter,
 * activation and cut bytes, two device speeds, link costs and 1F1B
 * in-flight counts, under memory caps that bind (set below the largest
 * stage of the uncapped optimum until the optimum moves, keeping a
 * feasible partition). The MILP is warm-started from the exact dp, which
 * is also the peer: same answer, so the table prints milp/dp times, the
 * MILP's status and gap, and whether its bottleneck equals the dp's. A
 * second MILP runs cold (no warm start, so no upper bound and no band of
 * fixed variables) under a time limit, to show what the warm start buys.
 *
 *   bench_partition [--reps 3] [--limit 60] [--cold-limit 10] [--no-cold]
 *
 * Goal: 100 units x 16 stages with binding caps proven optimal in < 10 s.
 */
#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "planner/pp_partition.h"

#define NMAX 200
#define SMAX 16

static unsigned long long rs;
static double rnd(void) {
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct chain {
    double t[NMAX], pb[NMAX], ab[NMAX], cb[NMAX + 1];
    double speed[SMAX], mem[SMAX], infl[SMAX], alpha[SMAX], beta[SMAX];
    pp_chain c;
    pp_stage_slots d;
} chain;

static void die(const char *what, const pp_err *err) {
    fprintf(stderr, "bench_partition: %s: %s\n", what, err->msg);
    exit(1);
}

static double max_stage_mem(const chain *x, const pp_partition *p) {
    double m = 0;
    for (int s = 0; s < p->S; s++) {
        double v = pp_partition_stage_memory(&x->c, &x->d, s, p->bounds[s], p->bounds[s + 1]);
        if (v > m) m = v;
    }
    return m;
}

/* A chain of n units on S slots. Caps: the smallest factor f (of the
 * largest stage memory of the uncapped optimum) with a feasible partition
 * ("tight": little freedom left), or halfway from there to 1 ("mid"),
 * lowered until the caps move the optimum. Returns f; *binds says whether
 * the capped optimum is slower than the uncapped one. */
static double make_chain(chain *x, int n, int S, unsigned long long seed, int mid, int *binds) {
    rs = seed * 0x9E3779B97F4A7C15ULL + 7;
    for (int i = 0; i < n; i++) {
        x->t[i] = 0.5 + 1.5 * rnd();
        x->pb[i] = 2e8 * (0.2 + rnd());
        x->ab[i] = 1e8 * (0.2 + rnd());
    }
    for (int i = 0; i <= n; i++)
        x->cb[i] = 4e7 * (0.1 + rnd());
    for (int s = 0; s < S; s++) {
        x->speed[s] = s % 3 == 2 ? 0.5 : 1.0;
        x->infl[s] = S - s;
        x->alpha[s] = 2e-3 * rnd();
        x->beta[s] = 2e9 * (0.25 + rnd());
    }
    x->c = (pp_chain){.n = n, .t = x->t, .param_bytes = x->pb, .act_bytes = x->ab, .cut_bytes = x->cb};
    x->d = (pp_stage_slots){
        .S = S, .speed = x->speed, .inflight = x->infl, .alpha = x->alpha, .beta = x->beta, .state_per_param_byte = 3};
    pp_err err = {0};
    pp_partition free_p, capped;
    if (pp_partition_dp(&x->c, &x->d, &free_p, &err)) die("dp", &err);
    double top = max_stage_mem(x, &free_p), fmin = 0.30, f;
    x->d.mem = x->mem;
    for (;; fmin += 0.01) { /* the tightest cap that still fits */
        for (int s = 0; s < S; s++)
            x->mem[s] = top * fmin;
        if (pp_partition_dp(&x->c, &x->d, &capped, &err)) die("dp", &err);
        int ok = capped.feasible;
        pp_partition_free(&capped);
        if (ok || fmin >= 1.0) break;
    }
    for (f = mid ? (fmin + 1.0) / 2 : fmin;; f -= 0.01) {
        for (int s = 0; s < S; s++)
            x->mem[s] = top * f;
        if (pp_partition_dp(&x->c, &x->d, &capped, &err)) die("dp", &err);
        *binds = capped.feasible && capped.bottleneck > free_p.bottleneck * (1 + 1e-9);
        pp_partition_free(&capped);
        if (*binds || f <= fmin) break;
    }
    pp_partition_free(&free_p);
    return f;
}

int main(int argc, char **argv) {
    int reps = 3, cold = 1;
    double limit = 60, cold_limit = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
            limit = atof(argv[++i]);
        else if (!strcmp(argv[i], "--cold-limit") && i + 1 < argc)
            cold_limit = atof(argv[++i]);
        else if (!strcmp(argv[i], "--no-cold"))
            cold = 0;
        else {
            fprintf(stderr, "usage: bench_partition [--reps 3] [--limit 60] [--cold-limit 10] [--no-cold]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 15) reps = 3;
    static const int ns[] = {25, 50, 100, 200}, Ss[] = {4, 8, 16};
    static chain x;
    double goal_s = -1;
    char goal_status[16] = "";
    printf("MILP partitioning (GLPK %s), warm-started from the dp; median of %d; caps at f x the largest stage "
           "of the uncapped optimum\n",
           glp_version(), reps);
    printf("%5s %3s %-5s %5s %5s  %10s %10s %9s  %-10s %8s %6s", "units", "S", "caps", "f", "binds", "dp s", "milp s",
           "milp/dp", "status", "gap", "= dp");
    if (cold) printf("  | cold: %-10s %8s %8s", "status", "gap", "s");
    printf("\n");
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof Ss / sizeof Ss[0]; b++)
            for (int mid = 0; mid < 2; mid++) {
                int n = ns[a], S = Ss[b], binds;
                double f = make_chain(&x, n, S, 100 * (unsigned long long)n + (unsigned long long)S, mid, &binds);
                double tdp[16], tmi[16];
                pp_partition dp = {0}, mi = {0};
                pp_err err = {0};
                for (int r = 0; r < reps; r++) {
                    pp_partition_free(&dp);
                    pp_partition_free(&mi);
                    double t0 = now();
                    if (pp_partition_dp(&x.c, &x.d, &dp, &err)) die("dp", &err);
                    tdp[r] = now() - t0;
                    if (pp_partition_milp(&x.c, &x.d, &dp, limit, &mi, &err)) die("milp", &err);
                    tmi[r] = mi.solve_s;
                }
                qsort(tdp, (size_t)reps, sizeof *tdp, cmp_d);
                qsort(tmi, (size_t)reps, sizeof *tmi, cmp_d);
                double mdp = tdp[reps / 2], mmi = tmi[reps / 2];
                int same = fabs(mi.bottleneck - dp.bottleneck) <= 1e-6 * dp.bottleneck;
                printf("%5d %3d %-5s %5.2f %5s  %10.6f %10.6f %9.1f  %-10s %8.2g %6s", n, S, mid ? "mid" : "tight", f,
                       binds ? "yes" : "no", mdp, mmi, mdp > 0 ? mmi / mdp : 0.0, mi.status, mi.gap,
                       same ? "yes" : "NO");
                if (n == 100 && S == 16 && (mmi > goal_s || strcmp(mi.status, "optimal"))) /* the worse of both caps */
                    goal_s = mmi, snprintf(goal_status, sizeof goal_status, "%s", mi.status);
                if (cold) {
                    pp_partition co;
                    if (pp_partition_milp(&x.c, &x.d, NULL, cold_limit, &co, &err)) die("milp", &err);
                    printf("  |       %-10s %8.2g %8.3f", co.status, co.gap, co.solve_s);
                    pp_partition_free(&co);
                }
                printf("\n");
                fflush(stdout);
                pp_partition_free(&dp);
                pp_partition_free(&mi);
            }
    int met = goal_s >= 0 && goal_s < 10 && !strcmp(goal_status, "optimal");
    printf("goal: 100 units x 16 stages with binding caps proven optimal in < 10 s: %s (%s in %.4f s)\n",
           met ? "met" : "NOT met", goal_status, goal_s);
    glp_free_env();
    return met ? 0 : 1;
}
