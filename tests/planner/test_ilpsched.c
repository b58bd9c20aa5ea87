/*
 * test_ilpsched.c -- the ILP schedule (planner/pp_ilpsched.h): under 1F1B's
 * memory and unequal stage costs it is at least as fast as every generated
 * schedule that fits the cap (1F1B, ZB-H1, ZB-H2, simulated here on their
 * own) and never slower than its warm start; its table is valid, free of
 * deadlock and, re-simulated here, within the cap and as fast as reported.
 * A loose cap brings it near the zero-bubble bound; a tight cap with no
 * W-side activations works; a cap below what any generated schedule needs
 * is an error that says which cap would fit; bad problems are refused.
 *
 * The makespans of 1F1B, ZB-H1, ZB-H2 and the ILP, GLPK's status, gap and
 * solve time are printed to stderr for each case. Each solve is limited to
 * a few seconds.
 */
#include "planner/pp_ilpsched.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "planner/pp_schedgen.h"
#include "simulator/pp_sim.h"
#include "tests/pp_test.h"

#define MAXP 8
#define TIME_LIMIT_S 10.0

typedef struct costs {
    int p, m;
    double tf[MAXP], ti[MAXP], tw[MAXP], af[MAXP], aw[MAXP];
    double comm, cap;
} costs;

static pp_ilpsched_problem problem_of(const costs *c) {
    pp_ilpsched_problem pr = {.p = c->p, .m = c->m, .t_f = c->tf, .t_i = c->ti, .t_w = c->tw,
                              .act_f = c->af, .act_w = c->aw, .comm_s = c->comm, .mem_cap = c->cap};
    return pr;
}

/* Simulates a table under the costs: makespan and the highest per-rank peak. */
static void simulate(const costs *c, const pp_sched *s, double *span, double *peak) {
    double alpha[MAXP * MAXP];
    for (int i = 0; i < c->p * c->p; i++) alpha[i] = c->comm;
    pp_sim_input in = {.sched = s, .n_stages = c->p, .t_f = c->tf, .t_i = c->ti, .t_w = c->tw,
                       .alpha = alpha, .act_f = c->af, .act_w = c->aw, .dp = 1};
    pp_sim_result res;
    pp_err err = {0};
    ck_assert_msg(pp_sim_run(&in, &res, &err) == 0, "simulate: %s", err.msg);
    *span = res.iteration_s;
    *peak = 0;
    for (int r = 0; r < c->p; r++)
        if (res.peak_act_bytes[r] > *peak) *peak = res.peak_act_bytes[r];
    pp_sim_result_free(&res);
}

typedef struct gen_fig {
    double span, peak;
    int fits;
} gen_fig;

/* A generated schedule as generated (1F1B with full backwards), simulated. */
static gen_fig gen_figure(const costs *c, pp_schedule_kind k) {
    pp_sched s;
    pp_err err = {0};
    ck_assert_msg(pp_schedule_generate(k, c->p, c->m, 1, &s, &err) == 0, "%s: %s", pp_schedule_name(k), err.msg);
    gen_fig g;
    simulate(c, &s, &g.span, &g.peak);
    g.fits = c->cap <= 0 || g.peak <= c->cap * (1 + 1e-9);
    pp_sched_free(&s);
    return g;
}

/* Solves, checks what holds for every answer, prints the figures. */
static void solve_checked(const char *name, const costs *c, pp_ilpsched_result *out, gen_fig fig[3]) {
    static const pp_schedule_kind kinds[3] = {PP_SCHEDULE_1F1B, PP_SCHEDULE_ZBH1, PP_SCHEDULE_ZBH2};
    for (int i = 0; i < 3; i++) fig[i] = gen_figure(c, kinds[i]);
    pp_ilpsched_problem pr = problem_of(c);
    pp_err err = {0};
    int rc = pp_ilpsched_solve(&pr, TIME_LIMIT_S, out, &err);
    ck_assert_msg(rc == 0, "%s: %s", name, err.msg);
    fprintf(stderr,
            "ilpsched %-14s p=%d m=%d cap=%-4g | 1f1b %.4g%s  zbh1 %.4g%s  zbh2 %.4g%s | ILP %.4g  status %s  "
            "gap %.3g  solve %.2f s  (warm %s %.4g)\n",
            name, c->p, c->m, c->cap, fig[0].span, fig[0].fits ? "" : "*", fig[1].span, fig[1].fits ? "" : "*",
            fig[2].span, fig[2].fits ? "" : "*", out->makespan, out->status, out->gap, out->solve_s, out->warm_name,
            out->warm_makespan);

    /* The table: PyTorch's rules, no deadlock, one stage per rank, F/I/W only. */
    ck_assert_int_eq(out->sched.n_ranks, c->p);
    ck_assert_msg(pp_sched_validate(&out->sched, c->m, &err) == 0, "%s: validate: %s", name, err.msg);
    ck_assert_msg(pp_sched_check_deadlock(&out->sched, &err) == 0, "%s: deadlock: %s", name, err.msg);
    for (int r = 0; r < c->p; r++) {
        ck_assert_int_eq(out->sched.ranks[r].n, 3 * c->m);
        for (int i = 0; i < out->sched.ranks[r].n; i++) {
            const pp_action *a = &out->sched.ranks[r].acts[i];
            ck_assert_int_eq(a->stage, r);
            ck_assert(a->type == PP_ACT_F || a->type == PP_ACT_I || a->type == PP_ACT_W);
        }
    }
    /* Re-simulated here: the reported makespan, within the cap. */
    double span, peak;
    simulate(c, &out->sched, &span, &peak);
    ck_assert_msg(fabs(span - out->makespan) <= 1e-9 * span, "%s: simulated %g, reported %g", name, span,
                  out->makespan);
    if (c->cap > 0) ck_assert_msg(peak <= c->cap * (1 + 1e-9), "%s: peak %g over the cap %g", name, peak, c->cap);
    /* Never slower than the warm start or any generated schedule that fits. */
    ck_assert_msg(out->makespan <= out->warm_makespan * (1 + 1e-12), "%s: %g slower than the warm start %g", name,
                  out->makespan, out->warm_makespan);
    for (int i = 0; i < 3; i++)
        if (fig[i].fits)
            ck_assert_msg(out->makespan <= fig[i].span * (1 + 1e-12), "%s: %g slower than %s's %g", name,
                          out->makespan, pp_schedule_name(kinds[i]), fig[i].span);
    ck_assert(strcmp(out->status, "optimal") == 0 || strcmp(out->status, "feasible") == 0 ||
              strcmp(out->status, "time-limit") == 0 || strcmp(out->status, "warm-start") == 0);
    ck_assert(strcmp(out->warm_name, "1f1b") == 0 || strcmp(out->warm_name, "zbh1") == 0 ||
              strcmp(out->warm_name, "zbh2") == 0);
    ck_assert(out->solve_s >= 0); /* how long depends on the machine: status and gap say what was proved */
}

/* p = 4, m = 8, t_f = {1, 1.5, 1, 2}, t_i = t_f, t_w = t_f / 2, act_f = 1. */
static costs unequal(double cap, double act_w) {
    costs c = {.p = 4, .m = 8, .comm = 0.05, .cap = cap};
    static const double tf[4] = {1, 1.5, 1, 2};
    for (int r = 0; r < 4; r++) {
        c.tf[r] = c.ti[r] = tf[r];
        c.tw[r] = 0.5 * tf[r];
        c.af[r] = 1;
        c.aw[r] = act_w;
    }
    return c;
}

/* Every rank alike: F, I, W times, act_f = 1. */
static costs uniform(int p, int m, double f, double i, double w, double comm, double cap, double act_w) {
    costs c = {.p = p, .m = m, .comm = comm, .cap = cap};
    for (int r = 0; r < p; r++) {
        c.tf[r] = f;
        c.ti[r] = i;
        c.tw[r] = w;
        c.af[r] = 1;
        c.aw[r] = act_w;
    }
    return c;
}

/* Zero-bubble bound: rank r cannot start before microbatch 0's forwards
 * have crossed the ranks before it, then has all its work to do. */
static double zero_bubble_bound(const costs *c) {
    double lb = 0, lead = 0;
    for (int r = 0; r < c->p; r++) {
        double x = lead + c->m * (c->tf[r] + c->ti[r] + c->tw[r]);
        if (x > lb) lb = x;
        lead += c->tf[r] + c->comm;
    }
    return lb;
}

START_TEST(test_unequal_under_1f1b_memory) {
    costs c = unequal(4, 0.5); /* the cap: 1F1B's rank-0 peak, p * act_f */
    pp_ilpsched_result out;
    gen_fig fig[3];
    solve_checked("unequal/1f1b", &c, &out, fig);
    /* 1F1B and ZB-H1 fit this cap, ZB-H2 does not. */
    ck_assert(fig[0].fits && fig[1].fits && !fig[2].fits);
    /* Faster than ZB-H1: the slowest rank (3) never idles once started, which
     * the zero-bubble bound (43.65) says is optimal, and GLPK proves it. */
    double lb = zero_bubble_bound(&c);
    ck_assert_msg(out.makespan < fig[1].span - 1e-9, "ILP %g vs ZB-H1 %g", out.makespan, fig[1].span);
    ck_assert_msg(fabs(out.makespan - lb) <= 1e-9 * lb, "ILP %g, bound %g", out.makespan, lb);
    ck_assert_str_eq(out.status, "optimal");
    ck_assert(out.gap == 0);
    ck_assert_str_eq(out.warm_name, "zbh1");
    ck_assert(fabs(out.warm_makespan - fig[1].span) <= 1e-9 * fig[1].span);
    pp_ilpsched_result_free(&out);
}
END_TEST

START_TEST(test_tight_cap_no_w_memory) {
    /* act_w = 0: an I frees all of its microbatch, so the cap of p act_f
     * leaves room to defer W further than ZB-H1 does. */
    costs c = unequal(4, 0);
    pp_ilpsched_result out;
    gen_fig fig[3];
    solve_checked("unequal/aw=0", &c, &out, fig);
    ck_assert(out.makespan < fig[1].span - 1e-9);
    pp_ilpsched_result_free(&out);

    /* Equal ranks with I slower than F: ZB-H1 idles (F + I - W per rank
     * behind); the ILP fills most of it (29.9 within the 10 s here, 29.6
     * proved optimal given longer). */
    c = uniform(4, 8, 1, 1.5, 0.5, 0.1, 4, 0);
    solve_checked("I=1.5F/aw=0", &c, &out, fig);
    ck_assert(fig[1].fits && !fig[2].fits);
    ck_assert_msg(out.makespan <= 0.99 * fig[1].span, "ILP %g vs ZB-H1 %g", out.makespan, fig[1].span);
    pp_ilpsched_result_free(&out);
}
END_TEST

START_TEST(test_loose_cap_near_zero_bubble) {
    /* A cap that every generated schedule fits: ZB-H2 reaches the bound on
     * these costs; the ILP keeps it. */
    costs c = unequal(100, 0.5);
    pp_ilpsched_result out;
    gen_fig fig[3];
    solve_checked("unequal/loose", &c, &out, fig);
    double lb = zero_bubble_bound(&c);
    for (int i = 0; i < 3; i++) ck_assert(fig[i].fits);
    ck_assert(out.makespan >= lb * (1 - 1e-9));
    ck_assert_msg(out.makespan <= lb * (1 + 1e-9), "ILP %g, bound %g", out.makespan, lb);
    pp_ilpsched_result_free(&out);

    /* No cap, I slower than F: ZB-H2 (29.1) idles; the ILP finds 28.6 and
     * proves it optimal (the simple bound, 27.3, ignores the cool-down). */
    c = uniform(4, 8, 1, 1.5, 0.5, 0.1, 0, 0.5);
    solve_checked("I=1.5F/no cap", &c, &out, fig);
    lb = zero_bubble_bound(&c);
    fprintf(stderr, "ilpsched I=1.5F/no cap: zero-bubble bound %.4g, ILP %.4g (+%.1f%%)\n", lb, out.makespan,
            100 * (out.makespan / lb - 1));
    ck_assert(out.makespan < fig[2].span - 1e-9);
    ck_assert_msg(out.makespan <= 1.05 * lb, "ILP %g, bound %g", out.makespan, lb);
    ck_assert_str_eq(out.status, "optimal");
    pp_ilpsched_result_free(&out);
}
END_TEST

START_TEST(test_equal_costs_small) {
    /* p = 2, m = 4, F = I = W = 1, no comm. ZB-H1 already reaches the
     * zero-bubble bound of 13 (rank 1 starts at 1 and never idles); GLPK
     * proves that nothing is faster. */
    costs c = uniform(2, 4, 1, 1, 1, 0, 2, 0.5);
    pp_ilpsched_result out;
    gen_fig fig[3];
    solve_checked("equal/2x4", &c, &out, fig);
    ck_assert(fabs(out.makespan - 13) < 1e-9);
    ck_assert_str_eq(out.status, "warm-start");
    ck_assert(out.gap == 0);
    pp_ilpsched_result_free(&out);

    c.cap = 0;
    solve_checked("equal/2x4/free", &c, &out, fig);
    ck_assert(fabs(out.makespan - 13) < 1e-9);
    pp_ilpsched_result_free(&out);
}
END_TEST

START_TEST(test_equal_costs_proved) {
    /* p = 4, m = 6, F = I = W = 1, comm 0.1, 1F1B's memory: ZB-H1 is
     * optimal, and GLPK proves it well within the limit. */
    costs c = uniform(4, 6, 1, 1, 1, 0.1, 4, 0.25);
    pp_ilpsched_result out;
    gen_fig fig[3];
    solve_checked("equal/4x6", &c, &out, fig);
    ck_assert(fabs(out.makespan - fig[1].span) <= 1e-9 * fig[1].span);
    ck_assert_str_eq(out.status, "warm-start");
    ck_assert(out.gap == 0); /* proved, whatever the machine's speed */
    pp_ilpsched_result_free(&out);
}
END_TEST

START_TEST(test_time_limit) {
    /* p = 4, m = 8, F = I = W = 1, act_w = 0, cap p act_f: better than
     * ZB-H1 is found at once, the proof takes longer than the 3 s given. */
    costs c = uniform(4, 8, 1, 1, 1, 0.1, 4, 0);
    pp_ilpsched_problem pr = problem_of(&c);
    pp_ilpsched_result out;
    pp_err err = {0};
    gen_fig z = gen_figure(&c, PP_SCHEDULE_ZBH1), o = gen_figure(&c, PP_SCHEDULE_1F1B),
            h = gen_figure(&c, PP_SCHEDULE_ZBH2);
    ck_assert_msg(pp_ilpsched_solve(&pr, 3.0, &out, &err) == 0, "%s", err.msg);
    fprintf(stderr,
            "ilpsched %-14s p=%d m=%d cap=%-4g | 1f1b %.4g  zbh1 %.4g  zbh2 %.4g%s | ILP %.4g  status %s  gap %.3g  "
            "solve %.2f s  (warm %s %.4g)\n",
            "equal/aw=0/3s", c.p, c.m, c.cap, o.span, z.span, h.span, h.fits ? "" : "*", out.makespan, out.status,
            out.gap, out.solve_s, out.warm_name, out.warm_makespan);
    ck_assert(out.makespan < z.span - 1e-9);
    ck_assert_str_eq(out.status, "time-limit");
    ck_assert(out.gap > 0 && out.gap < 0.05); /* stopped by the limit, not proved; no bound on the seconds */
    double span, peak;
    simulate(&c, &out.sched, &span, &peak);
    ck_assert(fabs(span - out.makespan) <= 1e-9 * span && peak <= 4 + 1e-9);
    pp_ilpsched_result_free(&out);
}
END_TEST

START_TEST(test_small_shapes) {
    pp_ilpsched_result out;
    gen_fig fig[3];
    /* One rank: passes back to back. */
    costs c = {.p = 1, .m = 3, .cap = 1, .tf = {1}, .ti = {2}, .tw = {0.5}, .af = {1}, .aw = {0}};
    solve_checked("one-rank", &c, &out, fig);
    ck_assert(fabs(out.makespan - 10.5) < 1e-9);
    pp_ilpsched_result_free(&out);
    /* One microbatch: no order to choose; the forwards, the input backwards
     * and rank 0's W in a row, with 6 hops: 5.5 + 5.5 + 0.5 + 0.3. */
    c = unequal(4, 0.5);
    c.m = 1;
    solve_checked("one-mb", &c, &out, fig);
    ck_assert(fabs(out.makespan - 11.8) <= 1e-9);
    ck_assert_str_eq(out.status, "warm-start");
    pp_ilpsched_result_free(&out);
    /* Fewer microbatches than ranks. */
    c.m = 3;
    solve_checked("m<p", &c, &out, fig);
    pp_ilpsched_result_free(&out);
}
END_TEST

START_TEST(test_impossible_cap) {
    pp_ilpsched_result out;
    pp_err err = {0};
    /* Below one microbatch. */
    costs c = unequal(0.5, 0.5);
    pp_ilpsched_problem pr = problem_of(&c);
    ck_assert_int_eq(pp_ilpsched_solve(&pr, TIME_LIMIT_S, &out, &err), -1);
    ck_assert_int_eq(err.code, PP_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "one microbatch") && strstr(err.msg, "a cap of 4 would fit"), "%s", err.msg);
    ck_assert_ptr_null(out.sched.ranks);
    /* Below every generated schedule's peak (1F1B's is 4 on rank 0). */
    c.cap = 3;
    pr = problem_of(&c);
    ck_assert_int_eq(pp_ilpsched_solve(&pr, TIME_LIMIT_S, &out, &err), -1);
    ck_assert_msg(strstr(err.msg, "1f1b 4") && strstr(err.msg, "a cap of 4 would fit"), "%s", err.msg);
}
END_TEST

START_TEST(test_bad_problems) {
    pp_ilpsched_result out;
    pp_err err = {0};
    costs c = unequal(4, 0.5);
    pp_ilpsched_problem pr = problem_of(&c);
    pr.p = 0;
    ck_assert_int_eq(pp_ilpsched_solve(&pr, 1, &out, &err), -1);
    ck_assert_msg(strstr(err.msg, "p >= 1"), "%s", err.msg);
    pr = problem_of(&c);
    pr.m = 0;
    ck_assert_int_eq(pp_ilpsched_solve(&pr, 1, &out, &err), -1);
    pr = problem_of(&c);
    pr.t_i = NULL;
    ck_assert_int_eq(pp_ilpsched_solve(&pr, 1, &out, &err), -1);
    c.tw[2] = -1;
    pr = problem_of(&c);
    ck_assert_int_eq(pp_ilpsched_solve(&pr, 1, &out, &err), -1);
    c = unequal(4, 2); /* act_w > act_f */
    pr = problem_of(&c);
    ck_assert_int_eq(pp_ilpsched_solve(&pr, 1, &out, &err), -1);
    ck_assert_msg(strstr(err.msg, "act_w <= act_f"), "%s", err.msg);
    c = unequal(4, 0.5);
    pr = problem_of(&c);
    ck_assert_int_eq(pp_ilpsched_solve(&pr, 0, &out, &err), -1);
    ck_assert_int_eq(pp_ilpsched_solve(&pr, NAN, &out, &err), -1);
    c.comm = -1;
    pr = problem_of(&c);
    ck_assert_int_eq(pp_ilpsched_solve(&pr, 1, &out, &err), -1);
    pr = problem_of(&c);
    pr.m = 1000;
    pr.comm_s = 0;
    ck_assert_int_eq(pp_ilpsched_solve(&pr, 1, &out, &err), -1);
    ck_assert_msg(strstr(err.msg, "binaries"), "%s", err.msg);
    ck_assert_int_eq(pp_ilpsched_solve(NULL, 1, &out, &err), -1);
    pp_ilpsched_result_free(NULL);
}
END_TEST

START_TEST(test_default_activations) {
    /* act_f = act_w = NULL: 1 and 0 bytes; cap 4 = 1F1B's. */
    costs c = unequal(4, 0);
    pp_ilpsched_problem pr = problem_of(&c);
    pr.act_f = pr.act_w = NULL;
    pp_ilpsched_result out;
    pp_err err = {0};
    ck_assert_msg(pp_ilpsched_solve(&pr, 2, &out, &err) == 0, "%s", err.msg);
    double span, peak;
    simulate(&c, &out.sched, &span, &peak); /* c.af = 1, c.aw = 0: the same defaults */
    ck_assert(peak <= 4 + 1e-9);
    ck_assert(fabs(span - out.makespan) <= 1e-9 * span);
    ck_assert(out.makespan <= out.warm_makespan);
    pp_ilpsched_result_free(&out);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ilpsched");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bad_problems);
    tcase_add_test(tc, test_impossible_cap);
    tcase_add_test(tc, test_small_shapes);
    tcase_add_test(tc, test_equal_costs_small);
    tcase_add_test(tc, test_equal_costs_proved);
    tcase_add_test(tc, test_unequal_under_1f1b_memory);
    tcase_add_test(tc, test_tight_cap_no_w_memory);
    tcase_add_test(tc, test_loose_cap_near_zero_bubble);
    tcase_add_test(tc, test_time_limit);
    tcase_add_test(tc, test_default_activations);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
