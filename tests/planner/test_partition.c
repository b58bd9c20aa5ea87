/*
 * test_partition.c -- the partitioners of planner/pp_partition.h: the cost
 * model by hand, uniform and params on a hand-made chain, the GLPK MILP
 * against the exact dp on 200+ random chains (10-120 units, 2-16 stages,
 * memory caps that bind on some, two device speeds, link costs), the MILP
 * also without a warm start and from a poor one, brute force against dp
 * and MILP on small chains, infeasible chains and their explanation, the
 * warm start under a near-zero time limit, and the edge cases S == n,
 * S == 1 and S > n.
 */
#include "planner/pp_partition.h"

#include <check.h>
#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pp_test.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define NMAX 128
#define SMAX 16

/* ---- random chains ---- */

static unsigned long long g_rs;
static void rseed(unsigned long long s) {
    g_rs = s * 0x9E3779B97F4A7C15ULL + 12345;
    for (int k = 0; k < 4; k++)
        g_rs = g_rs * 6364136223846793005ULL + 1442695040888963407ULL;
}
static double rnd(void) {
    g_rs = g_rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(g_rs >> 11) / 9007199254740992.0;
}
static int rint_in(int lo, int hi) { /* [lo, hi] */
    int v = lo + (int)(rnd() * (hi - lo + 1));
    return v > hi ? hi : v;
}

typedef struct inst {
    int n, S;
    double t[NMAX], pb[NMAX], ab[NMAX], cb[NMAX + 1];
    double speed[SMAX], mem[SMAX], infl[SMAX], alpha[SMAX], beta[SMAX];
    int caps, two_speeds, links;
    pp_chain c;
    pp_stage_slots d;
} inst;

static void inst_wire(inst *x) {
    x->c = (pp_chain){.n = x->n, .t = x->t, .param_bytes = x->pb, .act_bytes = x->ab, .cut_bytes = x->cb};
    x->d = (pp_stage_slots){.S = x->S,
                            .speed = x->speed,
                            .mem = x->caps ? x->mem : NULL,
                            .inflight = x->infl,
                            .alpha = x->links ? x->alpha : NULL,
                            .beta = x->links ? x->beta : NULL,
                            .state_per_param_byte = 3.0};
}

/* A random chain; memory caps (when drawn) are set from the memory of the
 * uncapped optimum: loose (every stage of it fits) or tight (its largest
 * stage does not), so that they bind on some chains. */
static void inst_random(inst *x, unsigned long long seed, int nlo, int nhi, int slo, int shi) {
    memset(x, 0, sizeof *x);
    rseed(seed);
    x->n = rint_in(nlo, nhi);
    x->S = rint_in(slo, shi);
    if (x->S > x->n) x->S = x->n;
    for (int i = 0; i < x->n; i++) {
        x->t[i] = 0.5 + 1.5 * rnd();
        x->pb[i] = 2e8 * (0.2 + rnd());
        x->ab[i] = 1e8 * (0.2 + rnd());
    }
    for (int i = 0; i <= x->n; i++)
        x->cb[i] = 4e7 * (0.1 + rnd());
    x->two_speeds = rnd() < 0.4;
    x->links = rnd() < 0.5;
    for (int s = 0; s < x->S; s++) {
        x->speed[s] = x->two_speeds && rnd() < 0.5 ? 0.5 : 1.0;
        x->infl[s] = x->S - s; /* 1F1B */
        x->alpha[s] = 2e-3 * rnd();
        x->beta[s] = 2e9 * (0.25 + rnd());
    }
    double u = rnd();
    x->caps = 0;
    inst_wire(x);
    if (u < 0.3) return;
    pp_partition p;
    pp_err err = {0};
    ck_assert_msg(pp_partition_dp(&x->c, &x->d, &p, &err) == 0, "%s", err.msg);
    double mmax = 0;
    for (int s = 0; s < x->S; s++) {
        double m = pp_partition_stage_memory(&x->c, &x->d, s, p.bounds[s], p.bounds[s + 1]);
        if (m > mmax) mmax = m;
    }
    pp_partition_free(&p);
    double f = u < 0.55 ? 1.05 + 0.5 * rnd() : 0.80 + 0.19 * rnd();
    for (int s = 0; s < x->S; s++)
        x->mem[s] = mmax * f * (x->two_speeds && x->speed[s] < 1 ? 0.8 : 1.0);
    x->caps = 1;
    inst_wire(x);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void check_partition(const inst *x, const pp_partition *p, const char *what) {
    ck_assert_ptr_nonnull(p->bounds);
    ck_assert_int_eq(p->S, x->S);
    ck_assert_int_eq(p->bounds[0], 0);
    ck_assert_int_eq(p->bounds[x->S], x->n);
    for (int s = 0; s < x->S; s++)
        ck_assert_msg(p->bounds[s] < p->bounds[s + 1], "%s: stage %d empty", what, s);
    pp_partition q = {.S = p->S, .bounds = p->bounds};
    pp_partition_evaluate(&x->c, &x->d, &q);
    ck_assert_msg(fabs(q.bottleneck - p->bottleneck) <= 1e-12 * q.bottleneck, "%s: bottleneck %g, evaluates to %g",
                  what, p->bottleneck, q.bottleneck);
    ck_assert_int_eq(q.feasible, p->feasible);
}

static int rel_eq(double a, double b, double tol) { return fabs(a - b) <= tol * fmax(fabs(a), fabs(b)); }

/* ---- the cost model by hand ---- */

START_TEST(test_cost_model) {
    double t[4] = {1, 2, 3, 4}, pb[4] = {10, 20, 30, 40}, ab[4] = {1, 2, 3, 4}, cb[5] = {0, 1e9, 2e9, 3e9, 0};
    double speed[2] = {1, 0.5}, infl[2] = {2, 1}, alpha[1] = {0.1}, beta[1] = {1e9}, mem[2] = {200, 1000};
    pp_chain c = {.n = 4, .t = t, .param_bytes = pb, .act_bytes = ab, .cut_bytes = cb};
    pp_stage_slots d = {
        .S = 2, .speed = speed, .mem = mem, .inflight = infl, .alpha = alpha, .beta = beta, .state_per_param_byte = 3};
    /* stage 0 = units 0..1: 3 s + 2 (0.1 + 2e9 / 1e9) = 7.2 s; stage 1 = units 2..3 at half speed: 14 s */
    ck_assert_double_eq_tol(pp_partition_stage_time(&c, &d, 0, 0, 2), 7.2, 1e-12);
    ck_assert_double_eq_tol(pp_partition_stage_time(&c, &d, 1, 2, 4), 14.0, 1e-12);
    /* memory: params x 4 + activations x in-flight */
    ck_assert_double_eq_tol(pp_partition_stage_memory(&c, &d, 0, 0, 2), 30 * 4 + 3 * 2, 1e-12);
    ck_assert_double_eq_tol(pp_partition_stage_memory(&c, &d, 1, 2, 4), 70 * 4 + 7 * 1, 1e-12);
    int b[3] = {0, 2, 4};
    pp_partition p = {.S = 2, .bounds = b};
    pp_partition_evaluate(&c, &d, &p);
    ck_assert_double_eq_tol(p.bottleneck, 14.0, 1e-12);
    ck_assert_int_eq(p.feasible, 1);
    mem[0] = 125; /* stage 0 needs 126 */
    pp_partition_evaluate(&c, &d, &p);
    ck_assert_int_eq(p.feasible, 0);
    /* the dp on it: every split by hand */
    mem[0] = 1e9;
    pp_err err = {0};
    pp_partition q;
    ck_assert_int_eq(pp_partition_dp(&c, &d, &q, &err), 0);
    /* cuts 1: max(1 + 2.2, 18) = 18; 2: max(7.2, 14) = 14; 3: max(6 + 6.2, 8) = 12.2 */
    ck_assert_int_eq(q.bounds[1], 3);
    ck_assert_double_eq_tol(q.bottleneck, 12.2, 1e-12);
    ck_assert_str_eq(q.status, "optimal");
    ck_assert_str_eq(q.method, "dp");
    pp_partition_free(&q);
}
END_TEST

/* ---- (4) uniform and params on a hand-made chain ---- */

START_TEST(test_uniform_and_params) {
    double t[10], pb[10] = {8, 1, 1, 1, 1, 1, 1, 1, 1, 8}, ab[10];
    for (int i = 0; i < 10; i++)
        t[i] = 1, ab[i] = 1;
    double mem[3] = {100, 100, 100};
    pp_chain c = {.n = 10, .t = t, .param_bytes = pb, .act_bytes = ab};
    pp_stage_slots d = {.S = 3, .mem = mem, .state_per_param_byte = 3};
    pp_err err = {0};
    pp_partition u, p;
    ck_assert_int_eq(pp_partition_uniform(&c, &d, &u, &err), 0);
    int want_u[4] = {0, 4, 7, 10}; /* 10 = 4 + 3 + 3: the first n % S stages get one more */
    for (int s = 0; s <= 3; s++)
        ck_assert_int_eq(u.bounds[s], want_u[s]);
    ck_assert_str_eq(u.method, "uniform");
    ck_assert_str_eq(u.status, "heuristic");
    ck_assert_double_eq_tol(u.bottleneck, 4.0, 1e-12);
    ck_assert_int_eq(u.feasible, 1);
    ck_assert(u.lower_bound <= u.bottleneck && u.lower_bound >= 10.0 / 3 - 1e-12);

    ck_assert_int_eq(pp_partition_by_params(&c, &d, &p, &err), 0);
    int want_p[4] = {0, 1, 9, 10}; /* the only split with at most 8 parameter bytes per stage */
    for (int s = 0; s <= 3; s++)
        ck_assert_int_eq(p.bounds[s], want_p[s]);
    ck_assert_str_eq(p.method, "params");
    ck_assert_str_eq(p.status, "heuristic");
    ck_assert_double_eq_tol(p.bottleneck, 8.0, 1e-12);
    ck_assert_int_eq(p.feasible, 1);

    /* a cap the middle stage of params breaks (8 x 4 + 8 = 40 > 39) but uniform's stages keep */
    mem[1] = 39;
    pp_partition_free(&u);
    pp_partition_free(&p);
    ck_assert_int_eq(pp_partition_by_params(&c, &d, &p, &err), 0);
    ck_assert_int_eq(p.feasible, 0);
    ck_assert_int_eq(pp_partition_uniform(&c, &d, &u, &err), 0);
    ck_assert_int_eq(u.feasible, 1);
    /* and one uniform's first stage breaks ((8 + 3) x 4 + 4 = 48 > 47) */
    mem[1] = 100;
    mem[0] = 47;
    pp_partition_free(&u);
    ck_assert_int_eq(pp_partition_uniform(&c, &d, &u, &err), 0);
    ck_assert_int_eq(u.feasible, 0);
    ck_assert_str_eq(u.status, "heuristic");
    pp_partition_free(&u);
    pp_partition_free(&p);

    /* no parameters at all: params falls back to equal counts */
    pp_chain c0 = {.n = 10, .t = t};
    ck_assert_int_eq(pp_partition_by_params(&c0, &d, &p, &err), 0);
    for (int s = 0; s <= 3; s++)
        ck_assert_int_eq(p.bounds[s], want_u[s]);
    ck_assert_str_eq(p.method, "params");
    pp_partition_free(&p);
}
END_TEST

/* ---- (1) MILP == dp on random chains ---- */

#define N_RANDOM 210

START_TEST(test_milp_matches_dp) {
    static double times[N_RANDOM];
    int binding = 0, big = 0, two = 0, links = 0;
    for (int k = 0; k < N_RANDOM; k++) {
        inst x;
        if (k % 10 == 0)
            inst_random(&x, 1000 + k, 120, 120, 16, 16); /* the largest size of the issue */
        else
            inst_random(&x, 1000 + k, 10, 120, 2, 16);
        big += x.n == 120 && x.S == 16;
        two += x.two_speeds;
        links += x.links;
        pp_err err = {0};
        pp_partition dp, milp;
        ck_assert_msg(pp_partition_dp(&x.c, &x.d, &dp, &err) == 0, "k=%d: %s", k, err.msg);
        check_partition(&x, &dp, "dp");
        if (x.caps) { /* does the cap change the optimum? */
            pp_stage_slots free_mem = x.d;
            free_mem.mem = NULL;
            pp_partition un;
            ck_assert_int_eq(pp_partition_dp(&x.c, &free_mem, &un, &err), 0);
            if (!dp.feasible || dp.bottleneck > un.bottleneck * (1 + 1e-9)) binding++;
            ck_assert(dp.bottleneck >= un.bottleneck * (1 - 1e-12) || !dp.feasible);
            pp_partition_free(&un);
        }
        ck_assert_msg(pp_partition_milp(&x.c, &x.d, &dp, 60, &milp, &err) == 0, "k=%d: %s", k, err.msg);
        check_partition(&x, &milp, "milp");
        ck_assert_str_eq(milp.method, "milp");
        ck_assert_msg(!strcmp(milp.status, dp.status), "k=%d n=%d S=%d: milp %s, dp %s", k, x.n, x.S, milp.status,
                      dp.status);
        ck_assert_msg(rel_eq(milp.bottleneck, dp.bottleneck, 1e-6), "k=%d n=%d S=%d: milp %.12g, dp %.12g", k, x.n, x.S,
                      milp.bottleneck, dp.bottleneck);
        if (dp.feasible) {
            ck_assert_str_eq(milp.status, "optimal");
            ck_assert_int_eq(milp.feasible, 1);
            ck_assert_double_eq_tol(milp.gap, 0, 1e-9);
            ck_assert(rel_eq(milp.lower_bound, milp.bottleneck, 1e-9));
        }
        times[k] = milp.solve_s;
        pp_partition_free(&dp);
        pp_partition_free(&milp);
    }
    qsort(times, N_RANDOM, sizeof times[0], cmp_d);
    fprintf(stderr, "partition: MILP (warm-started from dp) on %d random chains: median %.3f ms, max %.3f ms\n",
            N_RANDOM, 1e3 * times[N_RANDOM / 2], 1e3 * times[N_RANDOM - 1]);
    fprintf(stderr,
            "partition: %d chains of 120 units x 16 stages, %d with binding caps, %d with two speeds, %d with links\n",
            big, binding, two, links);
    ck_assert_int_ge(big, 20);
    ck_assert_int_ge(binding, 20);
    ck_assert_int_ge(two, 40);
    ck_assert_int_ge(links, 40);
    ck_assert(times[N_RANDOM - 1] < 60.0);
}
END_TEST

/* The MILP on its own: no warm start, and a poor (uniform) one. */
#define N_COLD 80

START_TEST(test_milp_cold_and_poor_warm) {
    static double tcold[N_COLD], twarm[N_COLD];
    int solved_better = 0;
    for (int k = 0; k < N_COLD; k++) {
        inst x;
        inst_random(&x, 5000 + k, 10, 64, 2, 10);
        pp_err err = {0};
        pp_partition dp, cold, uni, warm;
        ck_assert_int_eq(pp_partition_dp(&x.c, &x.d, &dp, &err), 0);
        ck_assert_msg(pp_partition_milp(&x.c, &x.d, NULL, 60, &cold, &err) == 0, "k=%d: %s", k, err.msg);
        check_partition(&x, &cold, "cold milp");
        ck_assert_msg(!strcmp(cold.status, dp.status), "k=%d: cold %s, dp %s", k, cold.status, dp.status);
        if (dp.feasible)
            ck_assert_msg(rel_eq(cold.bottleneck, dp.bottleneck, 1e-6), "k=%d n=%d S=%d: cold %.12g, dp %.12g", k, x.n,
                          x.S, cold.bottleneck, dp.bottleneck);
        ck_assert_int_eq(pp_partition_uniform(&x.c, &x.d, &uni, &err), 0);
        ck_assert_int_eq(pp_partition_milp(&x.c, &x.d, &uni, 60, &warm, &err), 0);
        check_partition(&x, &warm, "milp from uniform");
        ck_assert_str_eq(warm.status, dp.status);
        if (dp.feasible) {
            ck_assert_msg(rel_eq(warm.bottleneck, dp.bottleneck, 1e-6), "k=%d: from uniform %.12g, dp %.12g", k,
                          warm.bottleneck, dp.bottleneck);
            if (uni.feasible && uni.bottleneck > dp.bottleneck * (1 + 1e-6)) solved_better++;
        }
        tcold[k] = cold.solve_s;
        twarm[k] = warm.solve_s;
        pp_partition_free(&dp);
        pp_partition_free(&cold);
        pp_partition_free(&uni);
        pp_partition_free(&warm);
    }
    qsort(tcold, N_COLD, sizeof tcold[0], cmp_d);
    qsort(twarm, N_COLD, sizeof twarm[0], cmp_d);
    fprintf(stderr,
            "partition: MILP on %d chains of 10-64 units x 2-10 stages: cold median %.3f ms, max %.3f ms; "
            "from uniform median %.3f ms, max %.3f ms\n",
            N_COLD, 1e3 * tcold[N_COLD / 2], 1e3 * tcold[N_COLD - 1], 1e3 * twarm[N_COLD / 2], 1e3 * twarm[N_COLD - 1]);
    ck_assert_int_ge(solved_better, 10); /* the MILP improved on a feasible warm start */
}
END_TEST

/* ---- (2) brute force == dp == milp on small chains ---- */

static double max_excess(const inst *x, const pp_partition *p) {
    double w = 0;
    for (int s = 0; s < x->S; s++) {
        double ex = pp_partition_stage_memory(&x->c, &x->d, s, p->bounds[s], p->bounds[s + 1]) - x->mem[s];
        if (ex > w) w = ex;
    }
    return w;
}

START_TEST(test_brute_force) {
    int infeasible = 0, capped = 0, two = 0;
    for (int k = 0; k < 150; k++) {
        inst x;
        inst_random(&x, 9000 + k, 2, 12, 1, 4);
        if (!x.caps) { /* always caps here: tight ones from the average stage */
            double tot = 0;
            for (int i = 0; i < x.n; i++)
                tot += x.pb[i] * 4 + x.ab[i] * x.S;
            for (int s = 0; s < x.S; s++)
                x.mem[s] = tot / x.S * (0.7 + 0.8 * rnd());
            x.caps = 1;
            inst_wire(&x);
        }
        capped++;
        two += x.two_speeds;
        pp_err err = {0};
        pp_partition br, dp, mw, mc;
        ck_assert_int_eq(pp_partition_brute(&x.c, &x.d, &br, &err), 0);
        ck_assert_int_eq(pp_partition_dp(&x.c, &x.d, &dp, &err), 0);
        ck_assert_int_eq(pp_partition_milp(&x.c, &x.d, &dp, 30, &mw, &err), 0);
        ck_assert_int_eq(pp_partition_milp(&x.c, &x.d, NULL, 30, &mc, &err), 0);
        check_partition(&x, &br, "brute");
        check_partition(&x, &mc, "cold milp");
        ck_assert_str_eq(br.method, "brute");
        ck_assert_msg(!strcmp(br.status, dp.status) && !strcmp(br.status, mw.status) && !strcmp(br.status, mc.status),
                      "k=%d: brute %s dp %s milp %s cold %s", k, br.status, dp.status, mw.status, mc.status);
        if (br.feasible) {
            ck_assert_msg(rel_eq(br.bottleneck, dp.bottleneck, 1e-9), "k=%d: brute %.12g dp %.12g", k, br.bottleneck,
                          dp.bottleneck);
            ck_assert(rel_eq(br.bottleneck, mw.bottleneck, 1e-6));
            ck_assert_msg(rel_eq(br.bottleneck, mc.bottleneck, 1e-6), "k=%d: brute %.12g cold milp %.12g", k,
                          br.bottleneck, mc.bottleneck);
        } else {
            infeasible++;
            /* both keep the partition with the least excess over a cap */
            double eb = max_excess(&x, &br), ed = max_excess(&x, &dp);
            ck_assert_msg(fabs(eb - ed) <= 1e-6 * eb + 2, "k=%d: excess brute %g dp %g", k, eb, ed);
        }
        pp_partition_free(&br);
        pp_partition_free(&dp);
        pp_partition_free(&mw);
        pp_partition_free(&mc);
    }
    ck_assert_int_ge(capped, 100);
    ck_assert_int_ge(two, 30);
    ck_assert_int_ge(infeasible, 3);
    ck_assert_int_le(infeasible, 100);
}
END_TEST

/* ---- (3) infeasible chains and the explanation ---- */

START_TEST(test_infeasible) {
    double t[6] = {1, 1, 1, 1, 1, 1};
    double pb[6] = {1 * GIB, 1 * GIB, 20 * GIB, 1 * GIB, 1 * GIB, 1 * GIB}; /* unit 2: 80 GiB with AdamW state */
    double ab[6] = {0.5 * GIB, 0.5 * GIB, 0.5 * GIB, 0.5 * GIB, 0.5 * GIB, 0.5 * GIB};
    double mem[3] = {40 * GIB, 40 * GIB, 40 * GIB}, infl[3] = {3, 2, 1};
    pp_chain c = {.n = 6, .t = t, .param_bytes = pb, .act_bytes = ab};
    pp_stage_slots d = {.S = 3, .mem = mem, .inflight = infl, .state_per_param_byte = 3};
    pp_err err = {0};
    pp_partition dp, milp;
    ck_assert_int_eq(pp_partition_dp(&c, &d, &dp, &err), 0);
    ck_assert_int_eq(dp.feasible, 0);
    ck_assert_str_eq(dp.status, "infeasible");
    ck_assert_ptr_nonnull(dp.bounds);
    char msg[512];
    pp_partition_explain_memory(&c, &d, &dp, msg, sizeof msg);
    fprintf(stderr, "partition: %s\n", msg);
    /* the stage holding unit 2 */
    int s2 = 0;
    while (dp.bounds[s2 + 1] <= 2)
        s2++;
    char want[256];
    snprintf(want, sizeof want, "stage %d (", s2);
    ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
    /* its bytes: params 4 x its parameter bytes, activations x in-flight */
    double p = 0, a = 0;
    for (int i = dp.bounds[s2]; i < dp.bounds[s2 + 1]; i++)
        p += pb[i] * 4, a += ab[i] * infl[s2];
    snprintf(want, sizeof want, "needs %.1f GiB (params %.1f GiB incl. optimizer state, activations %.1f GiB",
             (p + a) / GIB, p / GIB, a / GIB);
    ck_assert_msg(strstr(msg, want) != NULL, "%s\nwant: %s", msg, want);
    snprintf(want, sizeof want, "for %g microbatch", infl[s2]);
    ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
    ck_assert_msg(strstr(msg, "but its device has 40.0 GiB") != NULL, "%s", msg);
    /* the least excess: unit 2 alone on stage 1 (81 GiB; on stage 0 it would share with units 0..1 and on
     * the last with units 3..5), then the least bottleneck */
    ck_assert_int_eq(s2, 1);
    ck_assert_int_eq(dp.bounds[1], 2);
    ck_assert_int_eq(dp.bounds[2], 3);
    ck_assert_msg(strstr(msg, "stage 1 (unit 2) needs 81.0 GiB") != NULL, "%s", msg);
    ck_assert_int_eq(pp_partition_milp(&c, &d, &dp, 10, &milp, &err), 0);
    ck_assert_str_eq(milp.status, "infeasible");
    ck_assert_int_eq(milp.feasible, 0);
    pp_partition_free(&milp);
    ck_assert_int_eq(pp_partition_milp(&c, &d, NULL, 10, &milp, &err), 0);
    ck_assert_str_eq(milp.status, "infeasible");
    ck_assert_int_eq(milp.feasible, 0);
    ck_assert_ptr_nonnull(milp.bounds);
    pp_partition_free(&milp);

    /* every stage fits: the largest one is named */
    for (int s = 0; s < 3; s++)
        mem[s] = 200 * GIB;
    pp_partition_free(&dp);
    ck_assert_int_eq(pp_partition_dp(&c, &d, &dp, &err), 0);
    ck_assert_int_eq(dp.feasible, 1);
    pp_partition_explain_memory(&c, &d, &dp, msg, sizeof msg);
    ck_assert_msg(strstr(msg, "fits its device's 200.0 GiB") != NULL, "%s", msg);
    int worst = 0;
    double wm = 0;
    for (int s = 0; s < 3; s++) {
        double m = pp_partition_stage_memory(&c, &d, s, dp.bounds[s], dp.bounds[s + 1]);
        if (m > wm) wm = m, worst = s;
    }
    snprintf(want, sizeof want, "stage %d (", worst);
    ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
    /* a tiny buffer is cut, not overrun */
    char tiny[8];
    pp_partition_explain_memory(&c, &d, &dp, tiny, sizeof tiny);
    ck_assert_int_eq((int)strlen(tiny), 7);
    pp_partition_free(&dp);
}
END_TEST

/* ---- (5) the warm start under a near-zero time limit ---- */

START_TEST(test_warm_start_time_limit) {
    int limited = 0;
    double gap_max = 0, gain_max = 0;
    for (int k = 0; k < 6; k++) {
        inst x;
        inst_random(&x, 7000 + k, 120, 120, 16, 16);
        x.caps = 0; /* so that uniform is a feasible (and poor) warm start */
        inst_wire(&x);
        pp_err err = {0};
        pp_partition uni, dp, m1, m2;
        ck_assert_int_eq(pp_partition_uniform(&x.c, &x.d, &uni, &err), 0);
        ck_assert_int_eq(pp_partition_dp(&x.c, &x.d, &dp, &err), 0);
        ck_assert_int_eq(pp_partition_milp(&x.c, &x.d, &uni, 1e-3, &m1, &err), 0);
        check_partition(&x, &m1, "milp, 1 ms");
        ck_assert_int_eq(m1.feasible, 1);
        ck_assert(m1.bottleneck <= uni.bottleneck);
        ck_assert(m1.bottleneck >= dp.bottleneck * (1 - 1e-9));
        ck_assert(m1.lower_bound > 0 && m1.lower_bound <= m1.bottleneck);
        ck_assert(m1.lower_bound <= dp.bottleneck * (1 + 1e-9)); /* a valid bound */
        ck_assert(m1.gap >= 0 && m1.gap < 1);
        ck_assert(m1.solve_s < 1.0);
        if (strcmp(m1.status, "optimal")) {
            limited++;
            ck_assert_str_eq(m1.status, "time-limit");
            ck_assert(m1.gap > 0);
        }
        if (m1.gap > gap_max) gap_max = m1.gap;
        if (1 - m1.bottleneck / uni.bottleneck > gain_max) gain_max = 1 - m1.bottleneck / uni.bottleneck;
        /* from the dp with no time to spare: the dp's partition, optimal */
        ck_assert_int_eq(pp_partition_milp(&x.c, &x.d, &dp, 1e-3, &m2, &err), 0);
        ck_assert(rel_eq(m2.bottleneck, dp.bottleneck, 1e-9));
        ck_assert(m2.bottleneck <= dp.bottleneck);
        pp_partition_free(&uni);
        pp_partition_free(&dp);
        pp_partition_free(&m1);
        pp_partition_free(&m2);
    }
    fprintf(stderr,
            "partition: MILP from uniform with 1 ms on 120 x 16: %d of 6 stopped by the time limit, gap up to %.3f, "
            "up to %.1f%% faster than uniform\n",
            limited, gap_max, 100 * gain_max);
    ck_assert_int_ge(limited, 3);
}
END_TEST

/* ---- (6) edge cases ---- */

START_TEST(test_edges) {
    inst x;
    inst_random(&x, 42, 7, 7, 7, 7);
    x.caps = 0;
    inst_wire(&x);
    ck_assert_int_eq(x.S, 7);
    pp_err err = {0};
    pp_partition p[5];
    int (*fn[4])(const pp_chain *, const pp_stage_slots *, pp_partition *,
                 pp_err *) = {pp_partition_uniform, pp_partition_by_params, pp_partition_dp, pp_partition_brute};
    /* S == n: one unit per stage, whatever the method */
    for (int m = 0; m < 4; m++)
        ck_assert_int_eq(fn[m](&x.c, &x.d, &p[m], &err), 0);
    ck_assert_int_eq(pp_partition_milp(&x.c, &x.d, NULL, 10, &p[4], &err), 0);
    for (int m = 0; m < 5; m++) {
        for (int s = 0; s <= 7; s++)
            ck_assert_int_eq(p[m].bounds[s], s);
        ck_assert(rel_eq(p[m].bottleneck, p[0].bottleneck, 1e-12));
    }
    ck_assert_str_eq(p[4].status, "optimal");
    for (int m = 0; m < 5; m++)
        pp_partition_free(&p[m]);

    /* S == 1: everything on one stage, no comm */
    x.S = 1;
    inst_wire(&x);
    double sum = 0;
    for (int i = 0; i < x.n; i++)
        sum += x.t[i];
    for (int m = 0; m < 4; m++)
        ck_assert_int_eq(fn[m](&x.c, &x.d, &p[m], &err), 0);
    ck_assert_int_eq(pp_partition_milp(&x.c, &x.d, &p[2], 10, &p[4], &err), 0);
    for (int m = 0; m < 5; m++) {
        ck_assert_int_eq(p[m].bounds[0], 0);
        ck_assert_int_eq(p[m].bounds[1], x.n);
        ck_assert_double_eq_tol(p[m].bottleneck, sum / x.speed[0], 1e-12);
    }
    ck_assert_str_eq(p[4].status, "optimal");
    for (int m = 0; m < 5; m++)
        pp_partition_free(&p[m]);

    /* S > n: an error, and nothing to free */
    x.S = 8;
    inst_wire(&x);
    for (int m = 0; m < 4; m++) {
        err = (pp_err){0};
        ck_assert_int_eq(fn[m](&x.c, &x.d, &p[m], &err), -1);
        ck_assert_int_eq(err.code, PP_ERR_INVALID);
        ck_assert_ptr_null(p[m].bounds);
        pp_partition_free(&p[m]);
    }
    err = (pp_err){0};
    ck_assert_int_eq(pp_partition_milp(&x.c, &x.d, NULL, 10, &p[4], &err), -1);
    ck_assert_msg(strstr(err.msg, "8 stages for 7 units") != NULL, "%s", err.msg);
    ck_assert_ptr_null(p[4].bounds);

    /* a warm start of the wrong shape, brute force beyond 24 units */
    x.S = 3;
    inst_wire(&x);
    int wb[3] = {0, 3, 7};
    pp_partition bad = {.S = 2, .bounds = wb};
    ck_assert_int_eq(pp_partition_milp(&x.c, &x.d, &bad, 10, &p[4], &err), -1);
    inst y;
    inst_random(&y, 43, 30, 30, 3, 3);
    ck_assert_int_eq(pp_partition_brute(&y.c, &y.d, &p[3], &err), -1);
    /* negative times are refused */
    x.t[2] = -1;
    ck_assert_int_eq(pp_partition_dp(&x.c, &x.d, &p[2], &err), -1);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("partition");
    TCase *tc = tcase_create("partition");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_cost_model);
    tcase_add_test(tc, test_uniform_and_params);
    tcase_add_test(tc, test_milp_matches_dp);
    tcase_add_test(tc, test_milp_cold_and_poor_warm);
    tcase_add_test(tc, test_brute_force);
    tcase_add_test(tc, test_infeasible);
    tcase_add_test(tc, test_warm_start_time_limit);
    tcase_add_test(tc, test_edges);
    suite_add_tcase(s, tc);
    return s;
}

static void free_glpk(void) { glp_free_env(); }

int main(void) {
    atexit(free_glpk); /* GLPK's environment, for the leak checkers */
    return pp_test_run(suite());
}
