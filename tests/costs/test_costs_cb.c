/*
 * test_costs_cb.c -- the measured costs behind a callback (costs/pp_costs_cb.h)
 * over a real SQLite database written through db/: a graph whose every op is
 * profiled on this CPU comes back measured and its source is remembered; a
 * graph of another shape, or no database at all, falls back (0) and leaves
 * the remembered source as it was.
 */
#define _GNU_SOURCE
#include <check.h>

#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_zoo.h"
#include "costs/pp_costs_cb.h"
#include "db/pp_db.h"
#include "profiler/pp_opprof.h"

static const char *CPU_FP = "1111111111111111111111111111111111111111111111111111111111111111";

static void tiny(int micro_batch, pp_graph *g) {
    pp_err err = {0};
    pp_model_config cfg;
    char path[4096];
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_zoo_build(&cfg, micro_batch, 32, PP_DTYPE_F32, g, &err) == 0, "%s", err.msg);
}

/* Every op of g profiled on the CPU CPU_FP at 1 ms per pass. */
static void make_db(const char *path, const pp_graph *g) {
    pp_err err = {0};
    pp_db *db;
    unlink(path);
    ck_assert_msg(pp_db_open(path, &db, &err) == 0, "%s", err.msg);
    long long cpu;
    ck_assert(pp_db_device_put(db, CPU_FP, "{\"kind\": \"cpu\", \"model\": \"Test CPU\"}", &cpu, &err) == 0);
    for (int i = 0; i < g->n_ops; i++) {
        pp_db_op_profile p, have;
        memset(&p, 0, sizeof p);
        pp_opprof_signature(g, i, p.signature, sizeof p.signature);
        snprintf(p.kind, sizeof p.kind, "%s", pp_op_kind_name(g->ops[i].kind));
        for (int k = 0; k < 3; k++) {
            p.m.t[k] = 1e-3;
            p.m.samples[k] = 5;
        }
        int dup = 0;
        ck_assert(pp_db_op_profile_get(db, cpu, p.signature, &have, &dup, &err) == 0);
        if (!dup) ck_assert_msg(pp_db_op_profile_put(db, cpu, &p, &err) == 0, "%s", err.msg);
    }
    pp_db_close(db);
}

START_TEST(measured_and_remembered) {
    pp_err err = {0};
    pp_graph g, other;
    tiny(2, &g);
    tiny(3, &other);
    char path[] = "/tmp/pp_test_costs_cb_XXXXXX.db";
    int fd = mkstemps(path, 3);
    ck_assert(fd >= 0);
    close(fd);
    make_db(path, &g);
    pp_costs_cb_ctx m = {.cluster = NULL};
    ck_assert_msg(pp_costs_open(path, CPU_FP, &m.costs, &err) == 0, "%s", err.msg);
    pp_cost_profile c;
    ck_assert_int_eq(pp_costs_cb_graph(&m, &g, &c, &err), 1);
    ck_assert_double_eq(c.t[0], 1e-3);
    ck_assert_str_ne(m.last, "");
    ck_assert_str_eq(m.last, c.source);
    pp_cost_free(&c);
    char before[256];
    snprintf(before, sizeof before, "%s", m.last);
    ck_assert_int_eq(pp_costs_cb_graph(&m, &other, &c, &err), 0); /* another micro-batch: not profiled */
    ck_assert_str_eq(m.last, before);
    pp_costs_close(m.costs);

    /* No database: nothing measured, nothing remembered. */
    pp_costs_cb_ctx none = {.cluster = NULL};
    ck_assert_msg(pp_costs_open(NULL, CPU_FP, &none.costs, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_costs_cb_graph(&none, &g, &c, &err), 0);
    ck_assert_str_eq(none.last, "");
    pp_costs_close(none.costs);
    unlink(path);
    pp_graph_free(&g);
    pp_graph_free(&other);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("costs_cb");
    TCase *t = tcase_create("core");
    tcase_add_test(t, measured_and_remembered);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return pp_test_run(suite()); }
