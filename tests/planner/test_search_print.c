/*
 * test_search_print.c -- what `pippy plan` moved into the planner: the
 * search's text (planner/pp_search_print.h: progress, measured links and
 * costs, candidate table, table plan, ILP outcome, chosen plan) and JSON
 * document, read back; and from planner/pp_search.h the winner check
 * (pp_search_choose), the CSV table's name, the costs source, the plan for
 * a CSV table and the plan file written out, and the search run and shown
 * (pp_search_run), on gpt2-tiny and the local cluster.
 */
#include "planner/pp_search.h"
#include "planner/pp_search_print.h"

#include <check.h>

#include "core/pp_io.h"
#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZB_CSV PP_SHARED_DIR "/compat/pytorch-schedules/zb1p_2rank_2stagep_compute.csv"

/* What a print function writes, as a string (caller frees). */
typedef struct capture {
    char *buf;
    size_t len;
    FILE *f;
} capture;
static FILE *cap_open(capture *c) {
    memset(c, 0, sizeof *c);
    c->f = open_memstream(&c->buf, &c->len);
    ck_assert_ptr_nonnull(c->f);
    return c->f;
}
static char *cap_close(capture *c) {
    fclose(c->f);
    return c->buf;
}

static void load_tiny(pp_model_config *cfg, pp_cluster *cl) {
    pp_err err = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, cfg, &err) == 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/configs/clusters/local.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_cluster_load(path, cl, &err) == 0, "%s", err.msg);
}

static pp_candidate cand(int pp, int fits, const char *note) {
    pp_candidate k;
    memset(&k, 0, sizeof k);
    k.pp = pp, k.dp = 1, k.v = 1, k.m = 4, k.micro_batch = 2, k.fits = fits;
    k.schedule = PP_SCHEDULE_1F1B;
    k.iteration_s = 0.25, k.tokens_per_s = 1000, k.bubble = 0.125;
    k.peak_mem = 2.0 * 1024 * 1024 * 1024, k.mem_limit = 16.0 * 1024 * 1024 * 1024;
    snprintf(k.note, sizeof k.note, "%s", note);
    return k;
}

START_TEST(progress_lines) {
    capture c;
    FILE *f = cap_open(&c);
    pp_search_print_progress(f, 3, 5);
    pp_search_print_progress(f, 5, 5);
    char *s = cap_close(&c);
    ck_assert_str_eq(s, "\rsearching: 3/5 candidates\rsearching: 5/5 candidates\n");
    free(s);
}
END_TEST

START_TEST(comm_lines) {
    pp_comm_measured m;
    memset(&m, 0, sizeof m);
    capture c;
    pp_search_print_comm(cap_open(&c), &m, "x.db");
    char *s = cap_close(&c);
    ck_assert_str_eq(s, ""); /* nothing measured: nothing said */
    free(s);
    m.n_links = 3, m.link_alpha_s = 5e-6, m.link_beta_Bps = 12.5e9;
    pp_search_print_comm(cap_open(&c), &m, "x.db");
    s = cap_close(&c);
    ck_assert_str_eq(s, "links: measured in x.db (mean of 3): 5 us, 12.5 GB/s\n");
    free(s);
    m.allreduce_ranks = 4, m.allreduce_alpha_s = 2e-5, m.allreduce_beta_Bps = 1e10;
    pp_search_print_comm(cap_open(&c), &m, "x.db");
    s = cap_close(&c);
    ck_assert_ptr_nonnull(strstr(s, "\nall-reduce: measured over 4 ranks in x.db: 20 us + bytes / 10 GB/s\n"));
    free(s);
}
END_TEST

START_TEST(costs_lines) {
    pp_model_config cfg;
    pp_cluster cl;
    load_tiny(&cfg, &cl);
    pp_search_opts o = {.cfg = &cfg, .cluster = &cl, .used_measured = 2, .used_estimated = 1};
    capture c, w;
    pp_search_print_costs(cap_open(&c), cap_open(&w), &o, "db: cpu x");
    char *s = cap_close(&c), *warn = cap_close(&w);
    ck_assert_str_eq(s, "costs: db: cpu x for 2 of 3 micro-batch sizes searched\n");
    ck_assert_ptr_nonnull(strstr(warn, "pippy plan: warning: no measured profile for 1 of 3 micro-batch sizes"));
    const char *why = cl.devices[0].peak_flops > 0 ? " (half the peak) (run" : " (assumed) (run";
    ck_assert_ptr_nonnull(strstr(warn, why));
    free(s);
    free(warn);
    /* A given rate: said as it is, with no note on where it comes from. */
    o.flops_per_s = 3e12, o.used_measured = 0;
    pp_search_print_costs(cap_open(&c), cap_open(&w), &o, "");
    s = cap_close(&c), warn = cap_close(&w);
    ck_assert_str_eq(s, "");
    ck_assert_ptr_nonnull(strstr(warn, "FLOPs at 3 TFLOP/s (run"));
    free(s);
    free(warn);
    pp_cluster_free(&cl);
}
END_TEST

START_TEST(candidate_table) {
    pp_model_config cfg;
    pp_cluster cl;
    load_tiny(&cfg, &cl);
    pp_search_opts o = {.cfg = &cfg, .cluster = &cl, .global_batch = 8, .seq = 32};
    pp_candidate k[3] = {cand(2, 1, ""), cand(1, 0, "too big"), cand(4, 0, "hidden")};
    capture c;
    pp_search_print_candidates(cap_open(&c), &o, k, 3, 2);
    char *s = cap_close(&c);
    char head[512];
    snprintf(head, sizeof head, "%s on %s (%d devices), global batch 8 x 32 tokens: 3 candidates\n\n", cfg.name,
             cl.name, cl.n_devices);
    ck_assert_int_eq(strncmp(s, head, strlen(head)), 0);
    ck_assert_ptr_nonnull(strstr(s, "   2    1 1f1b            1     4      2         0.25         1000   0.1250       2.00      16.00  \n"));
    ck_assert_ptr_nonnull(strstr(s, "      16.00  too big\n"));
    ck_assert_ptr_null(strstr(s, "hidden")); /* only the top 2 */
    int lines = 0;
    for (const char *p = s; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, 2 + 1 + 2); /* headline, blank, header, two rows */
    free(s);
    pp_cluster_free(&cl);
}
END_TEST

START_TEST(choose_refuses_what_does_not_fit) {
    pp_err err = {0};
    pp_plan plan;
    memset(&plan, 0, sizeof plan);
    pp_search_opts o = {0};
    ck_assert_int_eq(pp_search_choose(&o, NULL, 0, &plan, &err), -1);
    ck_assert_str_eq(err.msg, "no candidate fits in memory; the closest: pp 0, -, 0 microbatches: none");
    pp_candidate k = cand(3, 0, "stage 1 needs 9 GiB");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(pp_search_choose(&o, &k, 1, &plan, &err), -1);
    ck_assert_int_eq(err.code, PP_ERR_INVALID);
    ck_assert_str_eq(err.msg, "no candidate fits in memory; the closest: pp 3, 1f1b, 4 microbatches: stage 1 needs 9 GiB");
}
END_TEST

START_TEST(table_names) {
    char name[32];
    pp_search_table_name("/a/b/zb1p_2rank.csv", name, sizeof name);
    ck_assert_str_eq(name, "csv:zb1p_2rank");
    pp_search_table_name("plain", name, sizeof name);
    ck_assert_str_eq(name, "csv:plain");
    pp_search_table_name("d/.csv", name, sizeof name); /* nothing before the extension: kept */
    ck_assert_str_eq(name, "csv:.csv");
    pp_search_table_name("d/x.CSV", name, sizeof name);
    ck_assert_str_eq(name, "csv:x.CSV");
    pp_search_table_name("abcdefghijklmnopqrstuvwxyz0123456789.csv", name, sizeof name);
    ck_assert_str_eq(name, "csv:abcdefghijklmnopqrstuvwxyz0"); /* 27 of the base */
    char small[8];
    pp_search_table_name("abcdefgh.csv", small, sizeof small);
    ck_assert_str_eq(small, "csv:abc");
}
END_TEST

static int fake_measured(void *ctx, const pp_graph *g, pp_cost_profile *out, pp_err *err) {
    int *answer = ctx;
    if (*answer < 0) return pp_err_set(err, PP_ERR_IO, "db gone");
    if (*answer == 0) return 0;
    if (pp_cost_from_graph(g, 1e12, out, err)) return -1;
    snprintf(out->source, sizeof out->source, "measured: test");
    return 1;
}

START_TEST(costs_source) {
    pp_model_config cfg;
    pp_cluster cl;
    load_tiny(&cfg, &cl);
    pp_err err = {0};
    pp_graph g;
    ck_assert_msg(pp_zoo_build(&cfg, 2, 32, PP_DTYPE_F32, &g, &err) == 0, "%s", err.msg);
    int answer = 1;
    pp_search_opts o = {.cfg = &cfg, .cluster = &cl, .flops_per_s = 2e12};
    char src[256];
    ck_assert_int_eq(pp_search_costs_source(&o, &g, src, sizeof src, &err), 0);
    ck_assert_str_eq(src, "graph FLOPs at 2e+12 FLOP/s"); /* no callback: the estimate */
    o.measured_cost = fake_measured, o.measured_ctx = &answer;
    ck_assert_int_eq(pp_search_costs_source(&o, &g, src, sizeof src, &err), 0);
    ck_assert_str_eq(src, "measured: test");
    answer = 0; /* not measured: the estimate */
    ck_assert_int_eq(pp_search_costs_source(&o, &g, src, sizeof src, &err), 0);
    ck_assert_str_eq(src, "graph FLOPs at 2e+12 FLOP/s");
    answer = -1;
    ck_assert_int_eq(pp_search_costs_source(&o, &g, src, sizeof src, &err), -1);
    ck_assert_str_eq(err.msg, "db gone");
    pp_graph_free(&g);
    pp_cluster_free(&cl);
}
END_TEST

/* A CSV table planned, its outcome printed, the plan file written. */
START_TEST(csv_plan_written_and_printed) {
    pp_model_config cfg;
    pp_cluster cl;
    load_tiny(&cfg, &cl);
    pp_err err = {0};
    pp_search_opts o = {.cfg = &cfg, .cluster = &cl, .global_batch = 8, .seq = (int)cfg.seq_len,
                        .schedule = -1, .time_limit_s = 5};
    pp_plan plan;
    memset(&plan, 0, sizeof plan);
    pp_sched_naming found;
    ck_assert_msg(pp_search_plan_from_csv(&o, ZB_CSV, &plan, &found, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(plan.pp, 2);
    ck_assert_str_eq(plan.schedule_name, "csv:zb1p_2rank_2stagep_compute");

    capture c;
    pp_search_print_table_plan(cap_open(&c), ZB_CSV, found, &plan, &o, "unused");
    char *s = cap_close(&c);
    char want[1024];
    snprintf(want, sizeof want, "schedule %s (%s naming): 2 ranks, %d stages, %d microbatches\n", ZB_CSV,
             found == PP_NAMING_LEGACY ? "legacy" : "current", plan.n_stages, plan.n_microbatches);
    ck_assert_str_eq(s, want); /* no measured costs: no costs line */
    free(s);
    pp_search_print_chosen(cap_open(&c), &plan);
    s = cap_close(&c);
    ck_assert_int_eq(strncmp(s, "\nchosen: pp 2 x dp 1, csv:zb1p_2rank_2stagep_compute, ", 53), 0);
    ck_assert_ptr_nonnull(strstr(s, "\npredicted: "));
    free(s);

    char dir[] = "/tmp/pp_search_print_XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/plan.json", dir);
    pp_search_plan_file pf;
    ck_assert_msg(pp_search_write_plan(&o, &plan, path, &pf, &err) == 0, "%s", err.msg);
    ck_assert_int_eq((int)strlen(pf.hash), 64);
    ck_assert_int_gt(pf.params, 0);
    ck_assert_str_eq(pf.name, "gpt2-tiny-csv:zb1p_2rank_2stagep_compute-pp2-dp1");
    ck_assert_int_eq(strncmp(pf.costs, "graph FLOPs at ", 15), 0);
    char *text;
    size_t len;
    ck_assert_msg(pp_io_read_file(path, &text, &len, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(len, pf.len);
    ck_assert_int_eq(memcmp(text, pf.json, len), 0);
    free(text);
    pp_search_plan_file_free(&pf);
    ck_assert_ptr_null(pf.json);
    unlink(path);
    rmdir(dir);
    /* A directory that is not there: the error, nothing left to free. */
    ck_assert_int_eq(pp_search_write_plan(&o, &plan, "/nonexistent-dir/p.json", &pf, &err), -1);
    pp_search_plan_file_free(&pf);
    pp_plan_free(&plan);

    /* A batch the table's microbatches do not divide: the error names the file. */
    o.global_batch = 7;
    memset(&plan, 0, sizeof plan);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(pp_search_plan_from_csv(&o, ZB_CSV, &plan, &found, &err), -1);
    ck_assert_int_eq(strncmp(err.msg, ZB_CSV ": ", strlen(ZB_CSV) + 2), 0);
    pp_plan_free(&plan);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(pp_search_plan_from_csv(&o, "/nonexistent.csv", &plan, &found, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent.csv"));
    pp_plan_free(&plan);
    pp_cluster_free(&cl);
}
END_TEST

START_TEST(ilp_line) {
    pp_plan plan;
    memset(&plan, 0, sizeof plan);
    snprintf(plan.schedule_name, sizeof plan.schedule_name, "1f1b");
    snprintf(plan.planner.ilp_status, sizeof plan.planner.ilp_status, "optimal");
    snprintf(plan.planner.ilp_warm, sizeof plan.planner.ilp_warm, "1f1b");
    plan.planner.ilp_warm_makespan_s = 2, plan.planner.ilp_makespan_s = 1.5, plan.planner.ilp_solve_s = 0.25;
    capture c;
    pp_search_print_ilp(cap_open(&c), &plan, PP_SCHEDULE_1F1B);
    char *s = cap_close(&c);
    ck_assert_str_eq(s, "ILP schedule: optimal (from 1f1b, 2 s -> 1.5 s, gap 0, 0.25 s); the searched schedule stays\n");
    free(s);
    snprintf(plan.schedule_name, sizeof plan.schedule_name, "ilp");
    pp_search_print_ilp(cap_open(&c), &plan, PP_SCHEDULE_1F1B);
    s = cap_close(&c);
    ck_assert_ptr_nonnull(strstr(s, "; it replaces the schedule\n"));
    free(s);
}
END_TEST

START_TEST(json_document) {
    pp_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.pp = 2, plan.dp = 1, plan.n_microbatches = 4, plan.micro_batch = 2;
    snprintf(plan.schedule_name, sizeof plan.schedule_name, "1f1b");
    double peaks[2] = {1e9, 2e9};
    plan.prediction.peak_memory_bytes = peaks;
    plan.prediction.iteration_s = 0.5;
    pp_candidate k[3] = {cand(2, 1, ""), cand(1, 0, "too big"), cand(4, 0, "x")};
    for (int stored = 0; stored <= 7; stored += 7) {
        pp_jw w;
        pp_jw_init(&w);
        pp_search_write_json(&w, k, 3, 2, &plan, "abc", "p.json", stored, "graph FLOPs");
        char *text;
        size_t len;
        pp_err err = {0};
        ck_assert_int_eq(pp_jw_finish(&w, &text, &len, &err), 0);
        pp_json *doc;
        ck_assert_msg(pp_json_parse(text, len, "doc", &doc, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(pp_json_get(doc, "plan_file")->str, "p.json");
        ck_assert_str_eq(pp_json_get(doc, "plan_hash")->str, "abc");
        pp_json *id = pp_json_get(doc, "stored_plan_id");
        if (stored) ck_assert_int_eq(id->inum, 7);
        else ck_assert_int_eq(id->type, PP_JSON_NULL);
        pp_json *cands = pp_json_get(doc, "candidates");
        ck_assert_int_eq(cands->n, 2);
        ck_assert_int_eq(pp_json_get(cands->items[1], "fits")->boolean, 0);
        ck_assert_str_eq(pp_json_get(cands->items[1], "note")->str, "too big");
        ck_assert_str_eq(pp_json_get(cands->items[0], "schedule")->str, "1f1b");
        ck_assert_str_eq(pp_json_get(pp_json_get(doc, "chosen"), "schedule")->str, "1f1b");
        pp_json *pred = pp_json_get(doc, "prediction");
        ck_assert_double_eq(pp_json_get(pred, "iteration_s")->num, 0.5);
        pp_json *peak = pp_json_get(pred, "peak_memory_bytes");
        ck_assert_int_eq(peak->n, 2);
        ck_assert_double_eq(peak->items[1]->num, 2e9);
        pp_json_free(doc);
        free(text);
    }
}
END_TEST

/* The search run and shown: the table, the winner, the ILP line; and when
 * nothing fits, the table and then the refusal. */
START_TEST(search_run_prints_and_chooses) {
    pp_model_config cfg;
    pp_cluster cl;
    load_tiny(&cfg, &cl);
    pp_err err = {0};
    pp_search_opts o = {.cfg = &cfg, .cluster = &cl, .global_batch = 8, .seq = (int)cfg.seq_len, .pp = 2,
                        .microbatches = 4, .schedule = PP_SCHEDULE_1F1B, .time_limit_s = 5};
    pp_candidate *cands = NULL;
    int n = 0;
    pp_plan plan;
    memset(&plan, 0, sizeof plan);
    capture c, w;
    int rc = pp_search_run(cap_open(&c), cap_open(&w), &o, 10, 5, "", &cands, &n, &plan, &err);
    char *s = cap_close(&c), *warn = cap_close(&w);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(plan.pp, 2);
    ck_assert_int_eq(plan.n_microbatches, 4);
    ck_assert_ptr_nonnull(strstr(s, " candidates\n\n  pp   dp schedule"));
    ck_assert_ptr_nonnull(strstr(s, "\nILP schedule: "));
    ck_assert_ptr_nonnull(strstr(warn, "no measured profile for"));
    free(s);
    free(warn);
    pp_plan_free(&plan);
    pp_search_free(cands, n);

    o.mem_cap = 1024; /* bytes: nothing fits */
    memset(&plan, 0, sizeof plan);
    cands = NULL, n = 0;
    rc = pp_search_run(cap_open(&c), cap_open(&w), &o, 10, 0, "", &cands, &n, &plan, &err);
    s = cap_close(&c), warn = cap_close(&w);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no candidate fits in memory; the closest: pp 2, 1f1b, 4 microbatches: "));
    ck_assert_ptr_nonnull(strstr(s, " candidates\n\n"));
    ck_assert_ptr_null(strstr(s, "ILP schedule"));
    free(s);
    free(warn);
    pp_plan_free(&plan);
    pp_search_free(cands, n);
    pp_cluster_free(&cl);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("search_print");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, progress_lines);
    tcase_add_test(t, comm_lines);
    tcase_add_test(t, costs_lines);
    tcase_add_test(t, candidate_table);
    tcase_add_test(t, choose_refuses_what_does_not_fit);
    tcase_add_test(t, table_names);
    tcase_add_test(t, costs_source);
    tcase_add_test(t, csv_plan_written_and_printed);
    tcase_add_test(t, ilp_line);
    tcase_add_test(t, json_document);
    tcase_add_test(t, search_run_prints_and_chooses);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return pp_test_run(suite()); }
