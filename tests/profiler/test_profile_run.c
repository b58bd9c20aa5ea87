/*
 * test_profile_run.c -- one run of `pippy profile` through
 * profiler/pp_profile_run.c and the stream and hand-over helpers of
 * pp_profile_print.c, on the CPU backend: the device fingerprint is the
 * SHA-256 of the description; the per-op arrays are allocated with the
 * signatures filled in and freed twice harmlessly; stored measurements are
 * taken, measured again or kept for comparison as --force says; the ops
 * phase on gpt2-tiny measures only the fresh signature, copies every op's
 * measurement from the first of its signature and sums them; the links
 * phase on one rank sets the rank count; the progress bar's frame (none
 * off a terminal); the JSON object on a stream (and a write error on a
 * full one); rank 0's report as text, JSON or the hand-over file; and the
 * hand-over file in $TMPDIR.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/pp_test.h"

#include "core/pp_hash.h"
#include "core/pp_json.h"
#include "core/pp_zoo.h"
#include "profiler/pp_profile.h"

static void tiny(pp_model_config *cfg, pp_graph *g) {
    char path[1024];
    pp_err err = {0};
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_msg(pp_model_config_load(path, cfg, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_zoo_build(cfg, 1, 8, PP_DTYPE_F32, g, &err) == 0, "%s", err.msg);
}

START_TEST(describe) {
    pp_err err = {0};
    pp_profile_result o;
    memset(&o, 0, sizeof o);
    pp_backend *be = NULL;
    ck_assert_msg(pp_profile_describe(PP_BACKEND_CPU, 1, &o, &be, &err) == 0, "%s", err.msg);
    ck_assert(be != NULL);
    pp_backend_close(be);
    ck_assert(strlen(o.desc) > 0);
    char fp[65];
    pp_sha256_hex(o.desc, strlen(o.desc), fp);
    ck_assert_str_eq(o.fp, fp);
    pp_profile_result o2;
    memset(&o2, 0, sizeof o2);
    ck_assert_int_eq(pp_profile_describe(PP_BACKEND_CPU, 1, &o2, NULL, &err), 0); /* closed again */
    ck_assert_str_eq(o2.fp, o.fp);
}
END_TEST

START_TEST(alloc_and_take) {
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    tiny(&cfg, &g);
    pp_profile_result o;
    memset(&o, 0, sizeof o);
    ck_assert_msg(pp_profile_result_alloc(&o, &g, &err) == 0, "%s", err.msg);
    ck_assert(o.g == &g);
    char(*sig)[PP_PROFILE_SIG_MAX] = calloc((size_t)g.n_ops, sizeof *sig);
    int *first = calloc((size_t)g.n_ops, sizeof *first);
    ck_assert_int_eq(o.uniq, pp_profile_distinct(&g, sig, first));
    ck_assert(o.uniq > 1 && o.uniq < g.n_ops);
    for (int i = 0; i < g.n_ops; i++) {
        ck_assert_str_eq(o.sig[i], sig[i]);
        ck_assert_int_eq(o.first[i], first[i]);
        ck_assert(o.fresh[i] == 0 && o.had_prev[i] == 0 && o.m[i].t[0] == 0);
    }
    free(sig);
    free(first);
    /* Nothing stored: measured. Stored without force: reused as it is.
     * Stored with force: measured again, the stored one kept to compare. */
    pp_op_measure st = {.t = {1e-3, 2e-3, 3e-3}, .samples = {6, 6, 6}};
    pp_profile_take_stored(&o, 0, NULL, 0);
    ck_assert(o.fresh[0] == 1 && o.had_prev[0] == 0);
    pp_profile_take_stored(&o, 1, &st, 0);
    ck_assert(o.fresh[1] == 0 && o.had_prev[1] == 0 && o.m[1].t[2] == 3e-3 && o.prev[1].t[2] == 0);
    pp_profile_take_stored(&o, 2, &st, 1);
    ck_assert(o.fresh[2] == 1 && o.had_prev[2] == 1 && o.m[2].t[2] == 0 && o.prev[2].t[2] == 3e-3);
    pp_profile_take_stored(&o, 3, NULL, 1);
    ck_assert(o.fresh[3] == 1 && o.had_prev[3] == 0);
    ck_assert_int_eq(o.measured, 3);
    ck_assert_int_eq(o.reused, 1);
    /* The callback form takes o's force. */
    o.force = 0;
    pp_profile_take_stored_cb(&o, 4, &st);
    ck_assert(o.fresh[4] == 0 && o.m[4].t[1] == 2e-3);
    o.force = 1;
    pp_profile_take_stored_cb(&o, 5, &st);
    ck_assert(o.fresh[5] == 1 && o.had_prev[5] == 1 && o.prev[5].t[1] == 2e-3);
    ck_assert_int_eq(o.measured, 4);
    ck_assert_int_eq(o.reused, 2);
    pp_profile_result_free(&o);
    ck_assert(o.m == NULL && o.sig == NULL && o.links == NULL);
    pp_profile_result_free(&o); /* twice: harmless */
    pp_graph_free(&g);
}
END_TEST

static int calls;
static void count_progress(void *ctx, int round, int rounds, int done, int total) {
    (void)round;
    (void)done;
    (void)total;
    ck_assert_int_eq(rounds, PP_PROFILE_ROUNDS);
    ck_assert_int_eq(*(int *)ctx, 42);
    calls++;
}

START_TEST(measure_ops) {
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    tiny(&cfg, &g);
    pp_profile_result o;
    memset(&o, 0, sizeof o);
    ck_assert_msg(pp_profile_result_alloc(&o, &g, &err) == 0, "%s", err.msg);
    /* Every signature stored but the last op's: only that one is timed. */
    pp_op_measure st = {.t = {1e-3, 2e-3, 3e-3}, .samples = {6, 6, 6}};
    int last = o.first[g.n_ops - 1];
    for (int i = 0; i < g.n_ops; i++)
        if (o.first[i] == i) pp_profile_take_stored(&o, i, i == last ? NULL : &st, 0);
    ck_assert_int_eq(o.measured, 1);
    pp_backend *be = NULL;
    ck_assert_msg(pp_backend_open(PP_BACKEND_CPU, 1, &be, &err) == 0, "%s", err.msg);
    int ctx = 42;
    calls = 0;
    ck_assert_msg(pp_profile_measure_ops(&cfg, be, &o, count_progress, &ctx, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(calls, PP_PROFILE_ROUNDS);
    ck_assert(o.res > 0 && o.seconds > 0);
    ck_assert(o.whole == 0 && o.optim == 0); /* o.check not set */
    ck_assert(o.m[last].t[0] > 0 && o.m[last].t[0] != 1e-3);
    for (int i = 0; i < g.n_ops; i++) ck_assert(memcmp(&o.m[i], &o.m[o.first[i]], sizeof o.m[i]) == 0);
    ck_assert_double_eq(o.sum, pp_profile_ops_sum(&g, o.m));
    pp_backend_close(be);
    pp_profile_result_free(&o);
    pp_graph_free(&g);
}
END_TEST

START_TEST(links_phase_one_rank) {
    pp_err err = {0};
    pp_comm *c = NULL;
    ck_assert_int_eq(pp_comm_init(NULL, NULL, &c, &err), 0);
    pp_profile_result o;
    memset(&o, 0, sizeof o);
    pp_linkprof_opts lo;
    pp_linkprof_opts_default(&lo);
    /* One rank: no pairs; the all-reduce fit may be refused (see test_profile). */
    if (pp_profile_links_phase(c, PP_BACKEND_CPU, 1, &o, &err) == 0) {
        ck_assert_int_eq(o.ranks, 1);
        ck_assert_int_eq(o.n_links, 0);
        ck_assert_int_eq(o.sample_above, lo.sample_above);
    } else {
        ck_assert_msg(strstr(err.msg, "all-reduce") != NULL, "%s", err.msg);
    }
    pp_profile_result_free(&o);
    pp_comm_free(c);
}
END_TEST

START_TEST(progress_frame) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pp_profile_print_progress(f, 10, 0, 6, 15, 60);
    fclose(f);
    ck_assert_str_eq(buf, "\r[=======                       ] round 1/6, 15/60 ops, 10 s, ETA 30 s ");
    free(buf);
    f = open_memstream(&buf, &len);
    pp_profile_print_progress(f, 20, 5, 6, 60, 60);
    fclose(f);
    ck_assert_str_eq(buf, "\r[==============================] round 6/6, 60/60 ops, 20 s, ETA 0 s \n");
    free(buf);
    /* Not a terminal: the tty form draws nothing. */
    f = open_memstream(&buf, &len);
    pp_profile_tty tty = {f, 0};
    pp_profile_progress_tty(&tty, 0, 6, 15, 60);
    fclose(f);
    ck_assert_uint_eq(len, 0);
    free(buf);
}
END_TEST

START_TEST(json_stream) {
    pp_profile_result o;
    memset(&o, 0, sizeof o);
    snprintf(o.fp, sizeof o.fp, "abc");
    o.db_path = "x.db";
    pp_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_msg(pp_profile_print_json(f, "mem", &o, &err) == 0, "%s", err.msg);
    fclose(f);
    pp_json *root = NULL;
    ck_assert_msg(pp_json_parse(buf, len, "out", &root, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(pp_json_get(root, "db")->str, "x.db");
    ck_assert_int_eq(pp_json_get(root, "ops")->type, PP_JSON_NULL);
    pp_json_free(root);
    free(buf);
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        ck_assert_int_eq(pp_profile_print_json(full, "full", &o, &err), -1);
        ck_assert_str_eq(err.msg, "full: write error");
        fclose(full);
    }
}
END_TEST

START_TEST(links_report) {
    pp_link_result links[1];
    memset(links, 0, sizeof links);
    links[0].src = 0;
    links[0].dst = 1;
    links[0].beta_Bps = 5e9;
    pp_profile_result o;
    memset(&o, 0, sizeof o);
    snprintf(o.fp, sizeof o.fp, "abc");
    o.db_path = "x.db";
    o.ranks = 2;
    o.n_links = 1;
    o.links = links;
    pp_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    /* Text, then JSON, on the stream. */
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(pp_profile_links_report(f, "mem", &o, 0, NULL, &err), 0);
    fclose(f);
    ck_assert_msg(strstr(buf, "measured 1 of 2 ordered rank pairs") != NULL, "%s", buf);
    ck_assert(buf[0] != '{');
    free(buf);
    f = open_memstream(&buf, &len);
    ck_assert_int_eq(pp_profile_links_report(f, "mem", &o, 1, NULL, &err), 0);
    fclose(f);
    ck_assert_msg(buf[0] == '{' && strstr(buf, "\"pairs_measured\": 1") != NULL, "%s", buf);
    free(buf);
    /* The hand-over file: nothing on the stream, the file reads back. */
    char path[] = "/tmp/test_profile_run_links_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    f = open_memstream(&buf, &len);
    ck_assert_msg(pp_profile_links_report(f, "mem", &o, 1, path, &err) == 0, "%s", err.msg);
    fclose(f);
    ck_assert_int_eq(len, 0);
    free(buf);
    pp_profile_result back;
    memset(&back, 0, sizeof back);
    ck_assert_msg(pp_profile_links_load(path, &back, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(back.n_links, 1);
    ck_assert(back.links[0].beta_Bps == 5e9);
    free(back.links);
    unlink(path);
}
END_TEST

START_TEST(links_tmpfile) {
    char dir[] = "/tmp/test_profile_run_XXXXXX";
    ck_assert(mkdtemp(dir) != NULL);
    setenv("TMPDIR", dir, 1);
    char path[4096];
    pp_err err = {0};
    ck_assert_msg(pp_profile_links_tmpfile(path, sizeof path, &err) == 0, "%s", err.msg);
    ck_assert(strncmp(path, dir, strlen(dir)) == 0 && strstr(path, "/pippy-links-") != NULL);
    struct stat st;
    ck_assert(stat(path, &st) == 0 && st.st_size == 0);
    unlink(path);
    rmdir(dir);
    ck_assert_int_eq(pp_profile_links_tmpfile(path, sizeof path, &err), -1); /* the directory is gone */
    char want[128];
    snprintf(want, sizeof want, "cannot create a temporary file in %s", dir);
    ck_assert_str_eq(err.msg, want);
    setenv("TMPDIR", "", 1); /* empty: /tmp */
    ck_assert_msg(pp_profile_links_tmpfile(path, sizeof path, &err) == 0, "%s", err.msg);
    ck_assert(strncmp(path, "/tmp/pippy-links-", 17) == 0);
    unlink(path);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("profile_run");
    TCase *tc = tcase_create("run");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, describe);
    tcase_add_test(tc, alloc_and_take);
    tcase_add_test(tc, measure_ops);
    tcase_add_test(tc, links_phase_one_rank);
    tcase_add_test(tc, progress_frame);
    tcase_add_test(tc, json_stream);
    tcase_add_test(tc, links_report);
    tcase_add_test(tc, links_tmpfile);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pp_test_run(suite()); }
