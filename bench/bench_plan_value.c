/*
 * bench_plan_value.c -- what the planner's split is worth: for every preset
 * from gpt2-124m to llama2-70b and 4 to 64 stages (one per H100 of
 * configs/clusters/h100-8x8.json (8 hosts x 8 H100), 1F1B, 2 x stages microbatches of one
 * sequence), the bottleneck stage time and the simulated throughput of the
 * uniform split (Megatron-LM's default), the split balanced by parameters
 * (DeepSpeed's) and the planner's (the MILP, warm-started from the exact DP).
 * Costs: graph FLOPs at half the H100's peak; links from the cluster spec.
 *
 *   bench_plan_value [--time-limit S]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_cluster.h"
#include "core/pp_cost.h"
#include "core/pp_zoo.h"
#include "planner/pp_partition.h"
#include "planner/pp_schedgen.h"
#include "planner/pp_search.h"
#include "simulator/pp_pipeline.h"
#include "simulator/pp_sim.h"

static double simulate(const pp_graph *g, const pp_cost_profile *cost, const pp_cluster *cl, const pp_unit_chain *uc,
                       const int *ub, int S, int m, int seq) {
    pp_err err = {0};
    int bounds[65];
    for (int s = 0; s <= S; s++) bounds[s] = uc->unit_op[ub[s]];
    pp_pipeline_model pm;
    pp_sched sch;
    if (pp_pipeline_model_build(g, cost, S, bounds, &pm, &err) ||
        pp_schedule_generate(PP_SCHEDULE_1F1B, S, m, 1, &sch, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    double *al = calloc((size_t)S * S, sizeof(double)), *be = calloc((size_t)S * S, sizeof(double));
    for (int a = 0; a < S; a++)
        for (int b = 0; b < S; b++) {
            const pp_link_spec *l = pp_cluster_link(cl, a, b);
            al[(size_t)a * S + b] = l->alpha_s;
            be[(size_t)a * S + b] = l->beta_Bps;
        }
    pp_sim_input in;
    memset(&in, 0, sizeof in);
    pp_pipeline_sim_input(&pm, &in);
    in.sched = &sch;
    in.alpha = al;
    in.beta = be;
    in.dp = 1;
    in.samples_per_step = m;
    in.tokens_per_step = (double)m * seq;
    pp_sim_result r;
    if (pp_sim_run(&in, &r, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    double tps = r.tokens_per_s;
    pp_sim_result_free(&r);
    free(al);
    free(be);
    pp_sched_free(&sch);
    pp_pipeline_model_free(&pm);
    return tps;
}

int main(int argc, char **argv) {
    double tl = 10;
    if (argc == 3 && !strcmp(argv[1], "--time-limit")) tl = atof(argv[2]);
    const char *presets[] = {"gpt2-124m", "gpt2-355m", "gpt2-774m", "gpt2-1558m", "bert-base", "bert-large",
                             "t5-base",   "t5-large",  "llama2-7b", "llama2-13b", "llama2-70b"};
    pp_err err = {0};
    pp_cluster cl;
    char path[1024];
    snprintf(path, sizeof path, "%s/configs/clusters/h100-8x8.json", PP_SOURCE_DIR);
    if (pp_cluster_load(path, &cl, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("%-11s %3s | %10s %10s %10s | %11s %11s %11s | %6s %6s | %s\n", "model", "S", "uniform ms", "params ms",
           "planner ms", "uniform t/s", "params t/s", "planner t/s", "x unif", "x para", "milp status, solve s");
    for (size_t k = 0; k < sizeof presets / sizeof presets[0]; k++) {
        pp_model_config cfg;
        pp_graph g;
        snprintf(path, sizeof path, "%s/configs/models/%s.json", PP_SOURCE_DIR, presets[k]);
        int seq = 1024;
        if (pp_model_config_load(path, &cfg, &err)) return 1;
        if (seq > cfg.seq_len) seq = cfg.seq_len;
        if (pp_zoo_build(&cfg, 1, seq, PP_DTYPE_F32, &g, &err)) return 1;
        pp_cost_profile cost;
        pp_unit_chain uc;
        if (pp_cost_from_graph(&g, 0.5 * cl.devices[0].peak_flops, &cost, &err) ||
            pp_search_chain(&g, cost.t, 0, &uc, &err))
            return 1;
        for (int S = 4; S <= 64 && S <= g.n_blocks && S <= cl.n_devices; S *= 2) {
            double speed[64], mem[64], infl[64], al[64], be[64];
            int m = 2 * S;
            for (int s = 0; s < S; s++) {
                speed[s] = 1;
                mem[s] = 1e30; /* value, not fit: memory is not the question here */
                infl[s] = S - s;
                if (s + 1 < S) {
                    const pp_link_spec *l = pp_cluster_link(&cl, s, s + 1);
                    al[s] = l->alpha_s;
                    be[s] = l->beta_Bps;
                }
            }
            pp_stage_slots sl = {.S = S, .speed = speed, .mem = mem, .inflight = infl, .alpha = al, .beta = be,
                                 .state_per_param_byte = 3};
            pp_partition u, p, d, mi;
            if (pp_partition_uniform(&uc.chain, &sl, &u, &err) || pp_partition_by_params(&uc.chain, &sl, &p, &err) ||
                pp_partition_dp(&uc.chain, &sl, &d, &err) || pp_partition_milp(&uc.chain, &sl, &d, tl, &mi, &err)) {
                fprintf(stderr, "%s: %s\n", presets[k], err.msg);
                return 1;
            }
            double tu = simulate(&g, &cost, &cl, &uc, u.bounds, S, m, seq);
            double tp = simulate(&g, &cost, &cl, &uc, p.bounds, S, m, seq);
            double tm = simulate(&g, &cost, &cl, &uc, mi.bounds, S, m, seq);
            printf("%-11s %3d | %10.3f %10.3f %10.3f | %11.4g %11.4g %11.4g | %6.3f %6.3f | %s %.2f\n", presets[k], S,
                   u.bottleneck * 1e3, p.bottleneck * 1e3, mi.bottleneck * 1e3, tu, tp, tm, tm / tu, tm / tp, mi.status,
                   mi.solve_s);
            fflush(stdout);
            pp_partition_free(&u);
            pp_partition_free(&p);
            pp_partition_free(&d);
            pp_partition_free(&mi);
        }
        pp_search_chain_free(&uc);
        pp_cost_free(&cost);
        pp_graph_free(&g);
    }
    pp_cluster_free(&cl);
    return 0;
}
