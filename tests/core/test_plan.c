/*
 * test_plan.c -- cluster specs and plans: expansion of host counts and
 * "auto", round trips of both formats, the golden plan file, and the checks
 * a plan must pass when loaded (each with the message naming the field).
 */
#include <check.h>

#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_cluster.h"
#include "core/pp_hash.h"
#include "core/pp_io.h"
#include "core/pp_plan.h"
#include "core/pp_zoo.h"

#define CLUSTER_TWO_CPUS \
    "{\"name\": \"two\", \"hosts\": [{\"name\": \"localhost\", \"devices\": [{\"type\": \"cpu\", \"count\": 2, \"memory_gib\": 8}]}]}"

START_TEST(test_cluster_expand_and_round_trip) {
    char path[1024];
    pp_cluster c, d;
    pp_err err = {0};
    snprintf(path, sizeof path, "%s/configs/clusters/h100-4x8.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_cluster_load(path, &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.n_hosts, 4);
    ck_assert_int_eq(c.n_devices, 32);
    char name[160];
    pp_cluster_device_name(&c, 13, name, sizeof name);
    ck_assert_str_eq(name, "node1:5");
    ck_assert(c.devices[0].memory_bytes == 80.0 * 1024 * 1024 * 1024);
    ck_assert(pp_cluster_link(&c, 0, 7) == &c.intra_host);
    ck_assert(pp_cluster_link(&c, 7, 8) == &c.inter_host);
    ck_assert(c.inter_host.beta_Bps == 400e9 / 8);
    ck_assert(c.intra_host.alpha_s == 3e-6);
    char *t1, *t2;
    size_t l1, l2;
    ck_assert_int_eq(pp_cluster_write(&c, &t1, &l1, &err), 0);
    ck_assert_msg(pp_cluster_parse(t1, l1, "mem", &d, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_cluster_write(&d, &t2, &l2, &err), 0);
    ck_assert_str_eq(t1, t2);
    ck_assert_int_eq(d.n_devices, 32);
    free(t1);
    free(t2);
    pp_cluster_free(&c);
    pp_cluster_free(&d);

    /* local.json: "auto" is this machine's cores and memory. */
    snprintf(path, sizeof path, "%s/configs/clusters/local.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_cluster_load(path, &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(c.n_devices, (int)sysconf(_SC_NPROCESSORS_ONLN));
    double total = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    ck_assert(c.devices[0].memory_bytes * c.n_devices > 0.99 * total);
    ck_assert_int_eq(pp_cluster_write(&c, &t1, &l1, &err), 0);
    ck_assert_ptr_nonnull(strstr(t1, "\"count\": \"auto\""));
    free(t1);
    pp_cluster_free(&c);
}
END_TEST

static void cluster_bad(const char *text, const char *want) {
    pp_cluster c;
    pp_err err = {0};
    ck_assert_int_eq(pp_cluster_parse(text, strlen(text), "c.json", &c, &err), -1);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
}

START_TEST(test_cluster_errors) {
    cluster_bad("{\"name\": \"x\", \"hosts\": []}", "field 'hosts': needs at least one host");
    cluster_bad("{\"name\": \"x\", \"hosts\": [{\"name\": \"a\", \"devices\": [{\"type\": \"tpu\", \"memory_gib\": 1}]}]}",
                "field 'hosts[0].devices[0].type': unknown value \"tpu\"");
    cluster_bad("{\"name\": \"x\", \"hosts\": [{\"name\": \"a\", \"devices\": [{\"type\": \"gpu\", \"memory_gib\": \"lots\"}]}]}",
                "expected a number or \"auto\"");
    cluster_bad("{\"name\": \"x\", \"hosts\": [{\"name\": \"a\", \"devices\": [{\"type\": \"gpu\", \"memory_gib\": 8, \"count\": 2.5}]}]}",
                "field 'hosts[0].devices[0].count'");
    cluster_bad("{\"name\": \"x\", \"hosts\": [{\"name\": \"a\", \"devices\": [{\"type\": \"gpu\", \"memory_gib\": 8}]}],"
                " \"links\": {\"inter_host\": {\"latency_us\": 1}}}",
                "field 'links.inter_host': missing required field 'bandwidth_gbit_s'");
    cluster_bad("{\"name\": \"x\", \"hosts\": [{\"name\": \"a\", \"devices\": [{\"type\": \"gpu\", \"memory_gib\": 8}]},"
                " {\"name\": \"a\", \"devices\": [{\"type\": \"gpu\", \"memory_gib\": 8}]}]}",
                "host name 'a' used twice");
}
END_TEST

/* gpt2-tiny on two CPU ranks, GPipe over 4 microbatches, split before h.2. */
static void make_plan(pp_plan *p, pp_graph *g) {
    pp_err err = {0};
    char path[1024];
    memset(p, 0, sizeof *p);
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, &p->model, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_cluster_parse(CLUSTER_TWO_CPUS, strlen(CLUSTER_TWO_CPUS), "c", &p->cluster, &err), 0);
    p->version = PP_PLAN_VERSION;
    p->micro_batch = 2;
    p->n_microbatches = 4;
    p->global_batch = 8;
    p->seq_len = 64;
    p->dtype = PP_DTYPE_F32;
    p->pp = 2;
    p->dp = 1;
    p->virtual_stages = 1;
    ck_assert_int_eq(pp_zoo_build(&p->model, p->micro_batch, p->seq_len, p->dtype, g, &err), 0);
    int lo, hi;
    ck_assert_int_eq(pp_graph_block_range(g, pp_graph_find_block(g, "h.2"), &lo, &hi), 0);
    p->n_stages = 2;
    p->stages = calloc(2, sizeof *p->stages);
    for (int s = 0; s < 2; s++) {
        p->stages[s].index = s;
        p->stages[s].rank = s;
        p->stages[s].devices = calloc(1, sizeof(int));
        p->stages[s].devices[0] = s;
    }
    p->stages[0].op_lo = 0;
    p->stages[0].op_hi = lo;
    p->stages[1].op_lo = lo;
    p->stages[1].op_hi = g->n_ops;
    snprintf(p->schedule_name, sizeof p->schedule_name, "gpipe");
    ck_assert_int_eq(pp_sched_init(&p->schedule, 2, &err), 0);
    for (int r = 0; r < 2; r++) {
        for (int m = 0; m < 4; m++) pp_sched_push(&p->schedule, r, pp_action_make(PP_ACT_F, r, m), &err);
        for (int m = 0; m < 4; m++) pp_sched_push(&p->schedule, r, pp_action_make(PP_ACT_B, r, m), &err);
    }
    ck_assert_int_eq(pp_plan_derive_tied(p, g, &err), 0);
    p->planner.present = 1;
    snprintf(p->planner.method, sizeof p->planner.method, "manual");
    snprintf(p->planner.status, sizeof p->planner.status, "given");
}

START_TEST(test_plan_round_trip_and_golden) {
    pp_plan p, q;
    pp_graph g;
    pp_err err = {0};
    make_plan(&p, &g);
    ck_assert_int_eq(p.n_tied, 1);
    ck_assert_str_eq(p.tied[0].param, "wte.weight");
    char *t1, *t2;
    size_t l1, l2;
    ck_assert_msg(pp_plan_write(&p, &g, &t1, &l1, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_plan_parse(t1, l1, "plan.json", &q, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(q.n_stages, 2);
    ck_assert_int_eq(q.stages[1].op_lo, p.stages[1].op_lo);
    ck_assert(pp_sched_equal(&p.schedule, &q.schedule));
    ck_assert_int_eq(pp_plan_write(&q, &g, &t2, &l2, &err), 0);
    ck_assert_str_eq(t1, t2);

    /* The committed example plan is exactly what the writer produces. */
    char path[1024], *golden;
    size_t gl;
    snprintf(path, sizeof path, "%s/tests/data/plan-gpt2-tiny-pp2.json", PP_SOURCE_DIR);
    if (getenv("PP_UPDATE_GOLDEN")) ck_assert_int_eq(pp_io_write_atomic(path, t1, l1, &err), 0);
    ck_assert_msg(pp_io_read_file(path, &golden, &gl, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(golden, t1);
    char h1[65], h2[65];
    ck_assert_int_eq(pp_plan_hash(&p, &g, h1, &err), 0);
    ck_assert_int_eq(pp_plan_hash(&q, &g, h2, &err), 0);
    ck_assert_str_eq(h1, h2);
    free(golden);
    free(t1);
    free(t2);
    pp_plan_free(&p);
    pp_plan_free(&q);
    pp_graph_free(&g);
}
END_TEST

/* The plan hash is the plan's content: how long and how sure the planner's
 * search was (solve times, solver statuses and gaps) differs between two
 * runs of `pippy plan` on the same inputs and is left out; everything
 * else counts. */
START_TEST(test_plan_hash_is_content) {
    pp_plan p;
    pp_graph g;
    pp_err err = {0};
    char h0[65], h[65];
    make_plan(&p, &g);
    ck_assert_int_eq(pp_plan_hash(&p, &g, h0, &err), 0);
    ck_assert(pp_sha256_hex_valid(h0));
    /* The split's solve time, status and gap. */
    p.planner.solve_s = 12.5;
    ck_assert_int_eq(pp_plan_hash(&p, &g, h, &err), 0);
    ck_assert_str_eq(h, h0);
    snprintf(p.planner.status, sizeof p.planner.status, "feasible");
    p.planner.gap = 0.01;
    ck_assert_int_eq(pp_plan_hash(&p, &g, h, &err), 0);
    ck_assert_str_eq(h, h0);
    /* ... still written to the file, which is not the hashed text. */
    char *text;
    size_t len;
    ck_assert_int_eq(pp_plan_write(&p, &g, &text, &len, &err), 0);
    ck_assert_ptr_nonnull(strstr(text, "\"solve_s\": 12.5"));
    ck_assert_ptr_nonnull(strstr(text, "\"status\": \"feasible\""));
    char whole[65];
    pp_sha256_hex(text, len, whole);
    ck_assert_str_ne(whole, h0);
    free(text);
    /* The ILP schedule: its warm start and makespans count, its solve
     * time, status and gap do not. */
    p.planner.ilp_present = 1;
    snprintf(p.planner.ilp_status, sizeof p.planner.ilp_status, "optimal");
    snprintf(p.planner.ilp_warm, sizeof p.planner.ilp_warm, "gpipe");
    p.planner.ilp_makespan_s = 0.5;
    p.planner.ilp_warm_makespan_s = 0.6;
    char hi[65];
    ck_assert_int_eq(pp_plan_hash(&p, &g, hi, &err), 0);
    ck_assert_str_ne(hi, h0);
    p.planner.ilp_solve_s = 29.9;
    p.planner.ilp_gap = 0.2;
    snprintf(p.planner.ilp_status, sizeof p.planner.ilp_status, "time-limit");
    ck_assert_int_eq(pp_plan_hash(&p, &g, h, &err), 0);
    ck_assert_str_eq(h, hi);
    p.planner.ilp_makespan_s = 0.55;
    ck_assert_int_eq(pp_plan_hash(&p, &g, h, &err), 0);
    ck_assert_str_ne(h, hi);
    p.planner.ilp_present = 0;
    /* Content: the method, the prediction, the schedule. */
    snprintf(p.planner.method, sizeof p.planner.method, "dp");
    ck_assert_int_eq(pp_plan_hash(&p, &g, h, &err), 0);
    ck_assert_str_ne(h, h0);
    snprintf(p.planner.method, sizeof p.planner.method, "manual");
    ck_assert_int_eq(pp_plan_hash(&p, &g, h, &err), 0);
    ck_assert_str_eq(h, h0);
    p.prediction = (pp_plan_prediction){.present = 1, .iteration_s = 0.25}; /* peak memory written as 0 */
    ck_assert_int_eq(pp_plan_hash(&p, &g, h, &err), 0);
    ck_assert_str_ne(h, h0);
    p.prediction.present = 0;
    pp_action a = p.schedule.ranks[1].acts[0];
    p.schedule.ranks[1].acts[0] = p.schedule.ranks[1].acts[1];
    p.schedule.ranks[1].acts[1] = a; /* 1F1 before 1F0 */
    ck_assert_int_eq(pp_plan_hash(&p, &g, h, &err), 0);
    ck_assert_str_ne(h, h0);
    pp_plan_free(&p);
    pp_graph_free(&g);

    /* The committed example plan (solve_s 0, status "given") loads, and its
     * hash is the one this rule gives it. */
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/plan-gpt2-tiny-pp2.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_plan_load(path, &p, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_zoo_build(&p.model, p.micro_batch, p.seq_len, p.dtype, &g, &err), 0);
    ck_assert_int_eq(pp_plan_hash(&p, &g, h, &err), 0);
    ck_assert_str_eq(h, h0);
    pp_plan_free(&p);
    pp_graph_free(&g);
}
END_TEST

/* Loads the golden plan with one substring replaced and expects an error. */
static void plan_bad(const char *from, const char *to, const char *want) {
    char path[1024], *text;
    size_t len;
    pp_err err = {0};
    snprintf(path, sizeof path, "%s/tests/data/plan-gpt2-tiny-pp2.json", PP_SOURCE_DIR);
    ck_assert_int_eq(pp_io_read_file(path, &text, &len, &err), 0);
    char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "fixture lacks '%s'", from);
    size_t nl = len - strlen(from) + strlen(to) + 1;
    char *mod = malloc(nl);
    snprintf(mod, nl, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    pp_plan p;
    ck_assert_int_eq(pp_plan_parse(mod, strlen(mod), "plan.json", &p, &err), -1);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    free(mod);
    free(text);
}

START_TEST(test_plan_errors) {
    plan_bad("\"pippy_plan\": 1", "\"pippy_plan\": 2", "plan format version 2 is newer than this pippy reads (1)");
    plan_bad("\"n_layer\": 4", "\"n_layer\": 5", "field 'model.hash': does not match the model config");
    plan_bad("\"global_batch\": 8", "\"global_batch\": 9", "field 'batch.global_batch': 9 != micro_batch 2 x n_microbatches 4 x dp 1");
    plan_bad("\"first_op\": \"h.2.ln_1\"", "\"first_op\": \"h.1.ln_1\"", "field 'stages[1].first_op': op 21 of the graph is 'h.2.ln_1', not 'h.1.ln_1'");
    plan_bad("\"ops\": [21, 43]", "\"ops\": [22, 43]", "field 'stages[1].ops[0]': stage 1 starts at op 22, but must start at op 21");
    plan_bad("\"devices\": [\"localhost:1\"]", "\"devices\": [\"localhost:7\"]", "no device 'localhost:7' in cluster 'two'");
    plan_bad("\"devices\": [\"localhost:1\"]", "\"devices\": [\"localhost:0\"]", "share a device across ranks");
    plan_bad("\"0F1\"", "\"1F1\"", "field 'schedule.table[0][1]': stage 1 is on rank 1, not on rank 0");
    plan_bad("\"0F1\"", "\"0F9\"", "microbatch 9 is out of range (n_microbatches is 4)");
    plan_bad("\"0F1\"", "\"0X1\"", "field 'schedule.table[0][1]': cell '0X1'");
    plan_bad("\"rank\": 1", "\"rank\": 1, \"color\": \"red\"", "field 'stages[1].color': unknown field 'color'");
    plan_bad("\"micro_batch\": 2", "\"micro_batch\": \"2\"", "field 'batch.micro_batch': expected an integer");
    plan_bad("\"stages\": [0, 1]", "\"stages\": [0]", "field 'tied': does not match the parameters these stages share (wte.weight on 2 stages)");
}
END_TEST

int main(void) {
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, test_cluster_expand_and_round_trip);
    tcase_add_test(tc, test_cluster_errors);
    tcase_add_test(tc, test_plan_round_trip_and_golden);
    tcase_add_test(tc, test_plan_hash_is_content);
    tcase_add_test(tc, test_plan_errors);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
