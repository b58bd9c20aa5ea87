/*
 * test_costs_store.c -- what `pippy profile` writes, through
 * costs/pp_costs_store.h, over a real SQLite database: the device row
 * (the same fingerprint keeps its id; an unopenable path leaves nothing
 * open), the stored op profiles visited once per signature (nothing
 * before a store, the stored medians after), every write of a run (only
 * the fresh ops; the whole and optimizer step with the check; the links
 * and the all-reduce only with two ranks or more and a measured beta),
 * the rollback of a failing transaction, and the link sizes' JSON array
 * that stays whole in a short buffer.
 */
#define _GNU_SOURCE
#include <check.h>

#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_json.h"
#include "core/pp_zoo.h"
#include "costs/pp_costs.h"
#include "costs/pp_costs_store.h"
#include "db/pp_db.h"

static const char *FP = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *DESC = "{\"kind\": \"cpu\", \"model\": \"Test CPU\"}";

static void tiny(pp_graph *g) {
    pp_err err = {0};
    pp_model_config cfg;
    char path[4096];
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, &cfg, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_zoo_build(&cfg, 2, 32, PP_DTYPE_F32, g, &err) == 0, "%s", err.msg);
}

static void tmp_db(char *path) {
    strcpy(path, "/tmp/pp_test_costs_store_XXXXXX.db");
    int fd = mkstemps(path, 3);
    ck_assert(fd >= 0);
    close(fd);
    unlink(path);
}

/* What pp_costs_stored_ops handed over: per op, called or not, and the F median. */
typedef struct seen {
    int calls, found, called[4096];
    double t0[4096];
} seen;

static void record(void *ctx, int i, const pp_op_measure *stored) {
    seen *s = ctx;
    s->calls++;
    s->called[i] = 1;
    s->found += stored != NULL;
    s->t0[i] = stored ? stored->t[0] : -1;
}

START_TEST(device) {
    char path[64];
    tmp_db(path);
    pp_err err = {0};
    pp_db *db = NULL;
    long long dev = 0, again = 0;
    ck_assert_msg(pp_costs_store_device(path, FP, DESC, &db, &dev, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(db);
    ck_assert(dev > 0);
    pp_db_close(db);
    ck_assert_int_eq(pp_costs_store_device(path, FP, DESC, &db, &again, &err), 0);
    ck_assert(again == dev);
    pp_db_close(db);
    db = (pp_db *)1;
    ck_assert_int_eq(pp_costs_store_device("/nonexistent-dir/x/pippy.db", FP, DESC, &db, &dev, &err), -1);
    ck_assert_ptr_null(db);
    ck_assert_str_ne(err.msg, "");
    unlink(path);
}
END_TEST

START_TEST(store_and_read_back) {
    char path[64];
    tmp_db(path);
    pp_err err = {0};
    pp_graph g;
    tiny(&g);
    ck_assert(g.n_ops >= 3 && g.n_ops <= 4096);
    pp_db *db = NULL;
    long long dev = 0;
    ck_assert_msg(pp_costs_store_device(path, FP, DESC, &db, &dev, &err) == 0, "%s", err.msg);

    /* Nothing stored yet: every op visited (first NULL), none found. */
    seen *s = calloc(1, sizeof *s);
    ck_assert_int_eq(pp_costs_stored_ops(db, dev, &g, NULL, record, s, &err), 0);
    ck_assert_int_eq(s->calls, g.n_ops);
    ck_assert_int_eq(s->found, 0);

    /* Only op 0 fresh; the check; two ranks, one link, the all-reduce. */
    int *fresh = calloc((size_t)g.n_ops, sizeof *fresh);
    pp_op_measure *m = calloc((size_t)g.n_ops, sizeof *m);
    fresh[0] = 1;
    for (int k = 0; k < 3; k++) m[0].t[k] = 2e-3, m[0].samples[k] = 5;
    double sizes[] = {8, 64};
    pp_costs_link l = {0, 1, "a", "b", 1e-6, 1e9, 0.01, 2, sizes};
    pp_costs_profile_in in = {.g = &g, .fresh = fresh, .m = m, .measured = 1, .check = 1, .whole_s = 0.5,
                              .sum_s = 0.4, .optim_s = 3e-9, .ranks = 2, .n_links = 1, .links = &l,
                              .ar = {2e-6, 5e8, 0.02}};
    ck_assert_msg(pp_costs_store_profile(db, dev, &in, &err) == 0, "%s", err.msg);

    /* Op 0's signature found with its median; with first, only the ops it names are visited. */
    int *first = calloc((size_t)g.n_ops, sizeof *first);
    for (int i = 0; i < g.n_ops; i++) first[i] = i < 2 ? i : 0;
    memset(s, 0, sizeof *s);
    ck_assert_int_eq(pp_costs_stored_ops(db, dev, &g, first, record, s, &err), 0);
    ck_assert_int_eq(s->calls, 2);
    ck_assert(s->called[0] && s->called[1] && !s->called[2]);
    ck_assert_double_eq(s->t0[0], 2e-3);
    int n_profiles = 0, n_links = 0, n_dev = 0;
    ck_assert_int_eq(pp_db_profile_counts(db, &n_dev, &n_profiles, &n_links, &err), 0);
    ck_assert_int_eq(n_profiles, 1);
    ck_assert_int_eq(n_links, 1);

    pp_db_step_profile sp;
    char hash[17];
    int found = 0;
    pp_costs_graph_hash(&g, hash);
    ck_assert_int_eq(pp_db_step_profile_get(db, dev, hash, g.n_ops, &sp, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert_double_eq(sp.whole_s, 0.5);
    ck_assert_double_eq(sp.sum_ops_s, 0.4);
    pp_db_optim_profile op;
    ck_assert_int_eq(pp_db_optim_profile_get(db, dev, PP_COSTS_OPTIMIZER, PP_COSTS_DTYPE, &op, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert_double_eq(op.s_per_param, 3e-9);
    pp_db_link *rows = NULL;
    int n = 0;
    ck_assert_int_eq(pp_db_links_list(db, dev, &rows, &n, &err), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(rows[0].src_host, "a");
    ck_assert_str_eq(rows[0].dst_host, "b");
    ck_assert_int_eq(rows[0].dst_rank, 1);
    ck_assert_double_eq(rows[0].beta_Bps, 1e9);
    ck_assert_str_eq(rows[0].sizes_json, "[8,64]");
    pp_db_links_free(rows);
    pp_db_collective_profile cp;
    ck_assert_int_eq(pp_db_collective_profile_get(db, dev, PP_COSTS_ALLREDUCE, PP_COSTS_DTYPE, 2, &cp, &found, &err),
                     0);
    ck_assert_int_eq(found, 1);
    ck_assert_double_eq(cp.beta_Bps, 5e8);

    /* One rank: no links part; three ranks without beta: no all-reduce. */
    pp_costs_profile_in one = {.ranks = 1, .n_links = 1, .links = &l};
    l.dst = 2;
    ck_assert_int_eq(pp_costs_store_profile(db, dev, &one, &err), 0);
    ck_assert_int_eq(pp_db_profile_counts(db, &n_dev, &n_profiles, &n_links, &err), 0);
    ck_assert_int_eq(n_links, 1);
    pp_costs_profile_in three = {.ranks = 3, .n_links = 1, .links = &l};
    ck_assert_int_eq(pp_costs_store_profile(db, dev, &three, &err), 0);
    ck_assert_int_eq(pp_db_collective_profile_get(db, dev, PP_COSTS_ALLREDUCE, PP_COSTS_DTYPE, 3, &cp, &found, &err),
                     0);
    ck_assert_int_eq(found, 0);

    /* A link the database refuses: the links transaction rolled back whole. */
    pp_costs_link bad[2] = {{0, 3, "a", "b", 1e-6, 1e9, 0.01, 0, sizes}, {0, 4, "a", "b", -1, 1e9, 0.01, 0, sizes}};
    pp_costs_profile_in fail = {.ranks = 2, .n_links = 2, .links = bad};
    ck_assert_int_eq(pp_costs_store_profile(db, dev, &fail, &err), -1);
    ck_assert_str_ne(err.msg, "");
    ck_assert_int_eq(pp_db_profile_counts(db, &n_dev, &n_profiles, &n_links, &err), 0);
    ck_assert_int_eq(n_links, 2);

    pp_db_close(db);
    unlink(path);
    free(s);
    free(fresh);
    free(m);
    free(first);
    pp_graph_free(&g);
}
END_TEST

START_TEST(sizes_json) {
    char buf[256];
    double sizes[16] = {0};
    pp_costs_link_sizes_json(sizes, 0, buf, sizeof buf);
    ck_assert_str_eq(buf, "[]");
    sizes[0] = 8;
    sizes[1] = 64;
    sizes[2] = 67108864;
    pp_costs_link_sizes_json(sizes, 3, buf, sizeof buf);
    ck_assert_str_eq(buf, "[8,64,67108864]");
    /* A short buffer: sizes left out, the array still closed. */
    for (int k = 0; k < 16; k++) sizes[k] = 1e9 + k;
    char small[40];
    pp_costs_link_sizes_json(sizes, 16, small, sizeof small);
    ck_assert_str_eq(small, "[1000000000,1000000001,1000000002]");
    pp_json *root = NULL;
    pp_err err = {0};
    ck_assert_int_eq(pp_json_parse(small, strlen(small), "sizes", &root, &err), 0);
    ck_assert_int_eq(root->n, 3);
    pp_json_free(root);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("costs_store");
    TCase *t = tcase_create("core");
    tcase_add_test(t, device);
    tcase_add_test(t, store_and_read_back);
    tcase_add_test(t, sizes_json);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return pp_test_run(suite()); }
