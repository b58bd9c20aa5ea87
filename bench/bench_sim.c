/*
 * bench_sim.c -- the simulator's speed: 1F1B for growing p x m up to
 * p = 1024, m = 4096 (and other schedules at a middle size), with the time
 * to generate the table and to simulate it, actions simulated per second,
 * and the peak resident memory, so linearity in p x m can be read off.
 * The peer is the physical limit of the machine: the same actions walked
 * once by a loop that only sums their stage numbers (memory bandwidth).
 * Each 1F1B size runs in time order (the event heap) and in any order (a
 * stack; the results are identical, see pp_sim.c).
 *
 *   bench_sim [--max-p 1024] [--max-m 4096] [--reps 3]
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "planner/pp_schedgen.h"
#include "simulator/pp_sim.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long long rss_peak_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) v = atoll(line + 6);
    if (f) fclose(f);
    return v;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(pp_schedule_kind k, int p, int m, int v, int reps, int any_order) {
    pp_err err = {0};
    pp_sched s;
    double t0 = now();
    if (pp_schedule_generate(k, p, m, v, &s, &err)) {
        fprintf(stderr, "bench_sim: %s\n", err.msg);
        exit(1);
    }
    double gen = now() - t0;
    int S = pp_sched_n_stages(&s);
    double *c = malloc(sizeof(double) * (size_t)S);
    for (int j = 0; j < S; j++) c[j] = 1.0;
    pp_sim_input in = {.sched = &s, .n_stages = S, .t_f = c, .t_i = c, .t_w = c, .dp = 1, .any_order = any_order};
    double times[16], bubble = 0;
    long long n = 0;
    for (int r = 0; r < reps; r++) {
        pp_sim_result res;
        t0 = now();
        if (pp_sim_run(&in, &res, &err)) {
            fprintf(stderr, "bench_sim: %s\n", err.msg);
            exit(1);
        }
        times[r] = now() - t0;
        n = res.n_actions;
        bubble = res.bubble_total_all;
        pp_sim_result_free(&res);
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_d);
    double med = times[reps / 2];
    /* The limit: one pass over the same actions. */
    t0 = now();
    long long sum = 0;
    for (int r = 0; r < s.n_ranks; r++)
        for (int j = 0; j < s.ranks[r].n; j++) sum += s.ranks[r].acts[j].stage;
    double walk = now() - t0;
    long long rss = rss_peak_kib();
    printf("%-5s %-11s p %5d m %5d  actions %10lld  generate %8.3f s  simulate %8.3f s  %7.2f M actions/s  "
           "walk/simulate %.3f  %6.1f ns/action  peak RSS %8.1f MiB (%5.1f B/action)  bubble %.6f  [%lld]\n",
           any_order ? "any" : "time", pp_schedule_name(k), p, m, n, gen, med, n / med / 1e6, walk / med, med / n * 1e9, rss / 1024.0,
           rss * 1024.0 / n, bubble, sum % 7);
    fflush(stdout);
    free(c);
    pp_sched_free(&s);
}

int main(int argc, char **argv) {
    int max_p = 1024, max_m = 4096, reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--max-p")) max_p = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-m")) max_m = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    }
    if (reps < 1 || reps > 16) reps = 3;
    /* Time order (the heap) and any order (a stack): the same results. */
    for (int any = 0; any < 2; any++)
        for (int p = 64, m = 256; p <= max_p && m <= max_m; p *= 2, m *= 2) run(PP_SCHEDULE_1F1B, p, m, 1, reps, any);
    pp_schedule_kind others[] = {PP_SCHEDULE_GPIPE, PP_SCHEDULE_INTERLEAVED, PP_SCHEDULE_ZBH1, PP_SCHEDULE_ZBH2,
                                 PP_SCHEDULE_ZBV, PP_SCHEDULE_DUALPIPEV};
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) run(others[k], 64, 256, 2, reps, 0);
    return 0;
}
