/*
 * test_costs.c -- the costs module (costs/pp_costs.h) over a real SQLite
 * database written through db/: measurements are found for the cluster's
 * devices -- this CPU by fingerprint, a GPU by its model (a profile made on
 * one H100 serves a cluster of H100s, not one of A100s), nothing for a
 * cluster that mixes models -- every op must be profiled, op times are
 * scaled to the whole step when its record exists, and the links' mean and
 * the all-reduce over the most ranks come back as stored.
 */
#define _GNU_SOURCE
#include <check.h>

#include "tests/pp_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_cluster.h"
#include "core/pp_zoo.h"
#include "costs/pp_costs.h"
#include "db/pp_db.h"
#include "profiler/pp_opprof.h"

static const char *CPU_FP = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *GPU_FP = "2222222222222222222222222222222222222222222222222222222222222222";

static void tiny(pp_graph *g) {
    pp_err err = {0};
    pp_model_config cfg;
    char path[4096];
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_zoo_build(&cfg, 2, 32, PP_DTYPE_F32, g, &err) == 0, "%s", err.msg);
}

static void gpu_cluster(const char *model, const char *model2, pp_cluster *cl) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"name\": \"c\", \"hosts\": [{\"name\": \"h\", \"devices\": ["
             "{\"type\": \"gpu\", \"model\": \"%s\", \"count\": 2, \"memory_gib\": 80}%s%s%s]}]}",
             model, model2 ? ", {\"type\": \"gpu\", \"model\": \"" : "", model2 ? model2 : "",
             model2 ? "\", \"count\": 2, \"memory_gib\": 40}" : "");
    pp_err err = {0};
    ck_assert_msg(pp_cluster_parse(text, strlen(text), "c", cl, &err) == 0, "%s", err.msg);
}

/* A database with a CPU device profiled at 1 ms per pass and op, a GPU
 * ("NVIDIA H100 80GB HBM3") at 10 us, the GPU's whole step at 1.25 x the
 * sum of its ops, two GPU links and all-reduces over 2 and 4 ranks. */
static void make_db(const char *path, const pp_graph *g, int skip_last_gpu_op) {
    pp_err err = {0};
    pp_db *db;
    unlink(path);
    ck_assert_msg(pp_db_open(path, &db, &err) == 0, "%s", err.msg);
    long long cpu, gpu;
    ck_assert(pp_db_device_put(db, CPU_FP, "{\"kind\": \"cpu\", \"model\": \"Test CPU\"}", &cpu, &err) == 0);
    ck_assert(pp_db_device_put(db, GPU_FP, "{\"kind\": \"cuda\", \"model\": \"NVIDIA H100 80GB HBM3\"}", &gpu, &err) ==
              0);
    double sum = 0;
    for (int i = 0; i < g->n_ops; i++) {
        pp_db_op_profile p;
        memset(&p, 0, sizeof p);
        pp_opprof_signature(g, i, p.signature, sizeof p.signature);
        snprintf(p.kind, sizeof p.kind, "%s", pp_op_kind_name(g->ops[i].kind));
        for (int k = 0; k < 3; k++) {
            p.m.t[k] = 1e-3;
            p.m.samples[k] = 5;
        }
        int dup = 0;
        pp_db_op_profile have;
        ck_assert(pp_db_op_profile_get(db, cpu, p.signature, &have, &dup, &err) == 0);
        if (!dup) ck_assert_msg(pp_db_op_profile_put(db, cpu, &p, &err) == 0, "%s", err.msg);
        if (skip_last_gpu_op && i == g->n_ops - 1) continue;
        for (int k = 0; k < 3; k++) p.m.t[k] = 10e-6;
        ck_assert(pp_db_op_profile_get(db, gpu, p.signature, &have, &dup, &err) == 0);
        if (!dup) ck_assert(pp_db_op_profile_put(db, gpu, &p, &err) == 0);
        sum += 3 * 10e-6;
    }
    pp_db_step_profile st = {.n_ops = g->n_ops, .whole_s = 1.25 * sum, .sum_ops_s = sum};
    pp_costs_graph_hash(g, st.graph_hash);
    ck_assert_msg(pp_db_step_profile_put(db, gpu, &st, &err) == 0, "%s", err.msg);
    pp_db_optim_profile op = {.optimizer = PP_COSTS_OPTIMIZER, .dtype = PP_COSTS_DTYPE, .s_per_param = 2e-9};
    ck_assert_msg(pp_db_optim_profile_put(db, gpu, &op, &err) == 0, "%s", err.msg);
    for (int n = 2; n <= 4; n += 2) {
        pp_db_collective_profile ar = {.op = PP_COSTS_ALLREDUCE, .dtype = PP_COSTS_DTYPE, .n_ranks = n,
                                       .alpha_s = n * 1e-6, .beta_Bps = n * 1e9};
        ck_assert_msg(pp_db_collective_profile_put(db, gpu, &ar, &err) == 0, "%s", err.msg);
    }
    for (int l = 0; l < 2; l++) {
        pp_db_link k;
        memset(&k, 0, sizeof k);
        k.src_rank = l;
        k.dst_rank = 1 - l;
        snprintf(k.src_host, sizeof k.src_host, "h");
        snprintf(k.dst_host, sizeof k.dst_host, "h");
        k.alpha_s = (l + 1) * 1e-6;
        k.beta_Bps = (l + 1) * 100e9;
        snprintf(k.sizes_json, sizeof k.sizes_json, "[1024]");
        ck_assert_msg(pp_db_link_put(db, gpu, &k, &err) == 0, "%s", err.msg);
    }
    pp_db_close(db);
}

START_TEST(model_names_match_by_their_number) {
    ck_assert(pp_costs_model_matches("H100 SXM 80GB", "NVIDIA H100 80GB HBM3"));
    ck_assert(pp_costs_model_matches("h100", "NVIDIA H100 PCIe"));
    ck_assert(!pp_costs_model_matches("A100 SXM 40GB", "NVIDIA H100 80GB HBM3"));
    ck_assert(!pp_costs_model_matches("H100", "NVIDIA H1000"));
    ck_assert(!pp_costs_model_matches("GPU", "NVIDIA H100"));  /* no token with a digit: no claim */
    ck_assert(!pp_costs_model_matches("H200", NULL));
}
END_TEST

START_TEST(gpu_profile_serves_its_model) {
    pp_err err = {0};
    pp_graph g;
    tiny(&g);
    char path[] = "/tmp/pp_test_costs_XXXXXX.db";
    int fd = mkstemps(path, 3);
    ck_assert(fd >= 0);
    close(fd);
    make_db(path, &g, 0);
    pp_costs *cs;
    ck_assert_msg(pp_costs_open(path, CPU_FP, &cs, &err) == 0, "%s", err.msg);
    pp_cluster h100, a100, mixed;
    gpu_cluster("H100 SXM 80GB", NULL, &h100);
    gpu_cluster("A100 SXM 40GB", NULL, &a100);
    gpu_cluster("H100 SXM 80GB", "A100 SXM 40GB", &mixed);
    pp_cost_profile c;
    int missing = -1;
    ck_assert_int_eq(pp_costs_graph(cs, &h100, &g, &c, &missing, &err), 1);
    ck_assert_int_eq(missing, 0);
    for (int i = 0; i < g.n_ops; i++)
        for (int k = 0; k < 3; k++) ck_assert_double_eq_tol(c.t[3 * i + k], 1.25 * 10e-6, 1e-15);
    ck_assert(strstr(c.source, "H100") != NULL && strstr(c.source, "x1.250") != NULL);
    ck_assert_double_eq(c.optim_s_per_param, 2e-9); /* the GPU's optimizer, not the CPU's (none) */
    pp_cost_free(&c);
    ck_assert_int_eq(pp_costs_graph(cs, &a100, &g, &c, &missing, &err), 0);
    ck_assert_int_eq(pp_costs_graph(cs, &mixed, &g, &c, &missing, &err), 0);
    /* No cluster: this machine's CPU, unscaled (no step record for it). */
    ck_assert_int_eq(pp_costs_graph(cs, NULL, &g, &c, &missing, &err), 1);
    ck_assert_double_eq(c.t[0], 1e-3);
    pp_cost_free(&c);
    pp_comm_measured m;
    ck_assert(pp_costs_comm(cs, &h100, &m, &err) == 0);
    ck_assert_int_eq(m.n_links, 2);
    ck_assert_double_eq_tol(m.link_alpha_s, 1.5e-6, 1e-18);
    ck_assert_double_eq_tol(m.link_beta_Bps, 150e9, 1);
    ck_assert_int_eq(m.allreduce_ranks, 4); /* the most ranks measured */
    ck_assert_double_eq_tol(m.allreduce_alpha_s, 4e-6, 1e-18);
    ck_assert_double_eq_tol(m.allreduce_beta_Bps, 4e9, 1);
    ck_assert(pp_costs_comm(cs, &a100, &m, &err) == 0);
    ck_assert(m.n_links == 0 && m.allreduce_ranks == 0);
    ck_assert(pp_costs_comm(cs, NULL, &m, &err) == 0); /* the CPU measured no links */
    ck_assert_int_eq(m.n_links, 0);
    pp_costs_close(cs);
    /* One op unprofiled on the GPU: no measured profile, the gap counted. */
    make_db(path, &g, 1);
    ck_assert(pp_costs_open(path, CPU_FP, &cs, &err) == 0);
    ck_assert_int_eq(pp_costs_graph(cs, &h100, &g, &c, &missing, &err), 0);
    ck_assert_int_eq(missing, 1);
    pp_costs_close(cs);
    /* Another machine's CPU finds nothing; no database is nothing measured. */
    ck_assert(pp_costs_open(path, GPU_FP, &cs, &err) == 0);
    ck_assert_int_eq(pp_costs_graph(cs, NULL, &g, &c, &missing, &err), 0);
    pp_costs_close(cs);
    unlink(path);
    ck_assert(pp_costs_open(path, CPU_FP, &cs, &err) == 0);
    ck_assert_int_eq(pp_costs_graph(cs, &h100, &g, &c, &missing, &err), 0);
    ck_assert(pp_costs_comm(cs, &h100, &m, &err) == 0 && m.n_links == 0);
    pp_costs_close(cs);
    ck_assert(access(path, F_OK) != 0); /* and none is created */
    pp_cluster_free(&h100);
    pp_cluster_free(&a100);
    pp_cluster_free(&mixed);
    pp_graph_free(&g);
}
END_TEST

START_TEST(unusable_database_is_an_error) {
    pp_err err = {0};
    char path[] = "/tmp/pp_test_costs_XXXXXX.db";
    int fd = mkstemps(path, 3);
    ck_assert(fd >= 0);
    ck_assert(write(fd, "not a database, not at all; this is text", 41) == 41);
    close(fd);
    pp_costs *cs = NULL;
    ck_assert_int_eq(pp_costs_open(path, CPU_FP, &cs, &err), -1);
    ck_assert(cs == NULL);
    ck_assert(err.msg[0] != '\0');
    unlink(path);
}
END_TEST

static Suite *costs_suite(void) {
    Suite *s = suite_create("costs");
    TCase *tc = tcase_create("lookup");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, model_names_match_by_their_number);
    tcase_add_test(tc, gpu_profile_serves_its_model);
    tcase_add_test(tc, unusable_database_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return pp_test_run(costs_suite());
}
