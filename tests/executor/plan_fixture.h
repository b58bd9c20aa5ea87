/*
 * plan_fixture.h -- a plan built in memory for executor tests (the unit
 * test test_exec.c and the mpirun check mpi_exec.c).
 */
#ifndef PP_TEST_PLAN_FIXTURE_H
#define PP_TEST_PLAN_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_cluster.h"
#include "core/pp_plan.h"
#include "core/pp_sched.h"
#include "core/pp_zoo.h"

/* A plan for model cfg (graph g, built for micro x seq): the table (stages
 * placed as its cells say), pp x dp, stages of about equal op counts, on a
 * test cluster of pp x dp CPU devices, tied parameters derived. Returns 0
 * or -1 (err). */
static inline int pp_test_make_plan(const pp_model_config *cfg, const pp_graph *g, const pp_sched *table,
                                    const char *sched_name, int pp, int dp, int micro, int m, int seq, pp_plan *plan,
                                    pp_err *err) {
    memset(plan, 0, sizeof *plan);
    int S = pp_sched_n_stages(table);
    int *srank = calloc((size_t)S, sizeof(int));
    if (!srank || pp_sched_stage_ranks(table, srank, err)) {
        free(srank);
        return -1;
    }
    char cl[512];
    int n = snprintf(cl, sizeof cl,
                     "{\"name\": \"test\", \"hosts\": [{\"name\": \"localhost\", \"devices\": [{\"type\": \"cpu\", "
                     "\"model\": \"core\", \"count\": %d, \"memory_gib\": 4}]}]}",
                     pp * dp);
    if (pp_cluster_parse(cl, (size_t)n, "test-cluster", &plan->cluster, err)) {
        free(srank);
        return -1;
    }
    plan->version = PP_PLAN_VERSION;
    plan->model = *cfg;
    if (pp_model_config_hash(cfg, plan->model_hash, err)) goto fail;
    plan->micro_batch = micro;
    plan->n_microbatches = m;
    plan->seq_len = seq;
    plan->global_batch = micro * m * dp;
    plan->dtype = PP_DTYPE_F32;
    plan->pp = pp;
    plan->dp = dp;
    plan->virtual_stages = S / pp;
    plan->n_stages = S;
    plan->stages = calloc((size_t)S, sizeof *plan->stages);
    for (int s = 0; s < S; s++) {
        pp_plan_stage *st = &plan->stages[s];
        st->index = s;
        st->op_lo = (int)((long long)s * g->n_ops / S);
        st->op_hi = (int)((long long)(s + 1) * g->n_ops / S);
        st->rank = srank[s];
        st->devices = calloc((size_t)dp, sizeof(int));
        for (int d = 0; d < dp; d++) st->devices[d] = d * pp + st->rank;
    }
    snprintf(plan->schedule_name, sizeof plan->schedule_name, "%s", sched_name);
    if (pp_sched_copy(&plan->schedule, table, err) || pp_plan_derive_tied(plan, g, err) || pp_plan_check(plan, g, err))
        goto fail;
    free(srank);
    return 0;
fail:
    free(srank);
    pp_plan_free(plan);
    return -1;
}

#endif /* PP_TEST_PLAN_FIXTURE_H */
