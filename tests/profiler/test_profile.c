/*
 * test_profile.c -- what `pippy profile` does, through profiler/pp_profile
 * on the CPU backend: ops grouped by signature; the round sampler times
 * only the ops asked for, in as many rounds as asked (samples a multiple of
 * the rounds, 2 to 64 per round), reports its progress and keeps the bytes
 * the graph predicts; the whole-step check on gpt2-tiny gives a step of the
 * size of the sum of its ops and a positive optimizer cost; the comparison
 * with a previous profile counts medians within and outside the spread on
 * constructed measurements; the links on a singleton communicator (no
 * pairs) and GPU links where no GPU is usable come back or fail cleanly; the JSON
 * object parses and holds the figures, the text holds the lines the
 * integration test reads, and the links part comes back whole through its
 * hand-over file (a cut one is refused).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/pp_test.h"

#include "core/pp_zoo.h"
#include "profiler/pp_gpulink.h"
#include "profiler/pp_profile.h"

static void tiny(pp_model_config *cfg, pp_graph *g, int seq) {
    char path[1024];
    pp_err err = {0};
    snprintf(path, sizeof path, "%s/configs/models/gpt2-tiny.json", PP_SOURCE_DIR);
    ck_assert_int_eq(pp_model_config_load(path, cfg, &err), 0);
    ck_assert_int_eq(pp_zoo_build(cfg, 1, seq, PP_DTYPE_F32, g, &err), 0);
}

START_TEST(test_distinct) {
    pp_model_config cfg;
    pp_graph g;
    tiny(&cfg, &g, 16);
    char(*sig)[PP_PROFILE_SIG_MAX] = calloc((size_t)g.n_ops, sizeof *sig);
    int *first = calloc((size_t)g.n_ops, sizeof(int));
    int uniq = pp_profile_distinct(&g, sig, first), firsts = 0;
    for (int i = 0; i < g.n_ops; i++) {
        char s[PP_PROFILE_SIG_MAX];
        pp_opprof_signature(&g, i, s, sizeof s);
        ck_assert_str_eq(sig[i], s);
        ck_assert_int_le(first[i], i);
        ck_assert_str_eq(sig[first[i]], sig[i]);
        for (int j = 0; j < first[i]; j++) ck_assert_str_ne(sig[j], sig[i]);
        firsts += first[i] == i;
    }
    ck_assert_int_eq(uniq, firsts);
    ck_assert_msg(uniq > 3 && uniq < g.n_ops / 2, "%d distinct of %d ops", uniq, g.n_ops);
    free(sig);
    free(first);
    pp_graph_free(&g);
}
END_TEST

typedef struct progress_log {
    int calls, last_done, last_total, max_round, rounds;
} progress_log;

static void log_progress(void *ctx, int round, int rounds, int done, int total) {
    progress_log *l = ctx;
    ck_assert_int_eq(done, l->last_done + 1);
    l->calls++;
    l->last_done = done;
    l->last_total = total;
    l->rounds = rounds;
    if (round > l->max_round) l->max_round = round;
}

START_TEST(test_rounds) {
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    pp_backend *be;
    tiny(&cfg, &g, 16);
    ck_assert_int_eq(pp_backend_open(PP_BACKEND_CPU, 1, &be, &err), 0);
    pp_op_measure *m = calloc((size_t)g.n_ops, sizeof *m);
    int *todo = calloc((size_t)g.n_ops, sizeof(int)), n_todo = 0;
    /* The first three ops (embedding, layernorm, a linear) and the last. */
    todo[0] = todo[1] = todo[2] = todo[g.n_ops - 1] = 1;
    for (int i = 0; i < g.n_ops; i++) {
        n_todo += todo[i];
        if (!todo[i]) m[i].t[0] = -7; /* must stay */
    }
    progress_log l = {0, 0, 0, -1, 0};
    double res = pp_opprof_timer_resolution();
    ck_assert_int_eq(pp_profile_rounds(&g, be, todo, 3, res, log_progress, &l, m, &err), 0);
    ck_assert_int_eq(l.calls, 3 * n_todo);
    ck_assert_int_eq(l.last_total, 3 * n_todo);
    ck_assert_int_eq(l.max_round, 2);
    ck_assert_int_eq(l.rounds, 3);
    for (int i = 0; i < g.n_ops; i++) {
        if (!todo[i]) {
            ck_assert(m[i].t[0] == -7 && m[i].samples[0] == 0);
            continue;
        }
        for (int p = 0; p < 3; p++) {
            ck_assert_msg(m[i].samples[p] % 3 == 0, "op %d pass %d: %d samples in 3 rounds", i, p, m[i].samples[p]);
            ck_assert_int_ge(m[i].samples[p], 3 * 2);
            ck_assert_int_le(m[i].samples[p], 3 * 64);
            ck_assert_msg(m[i].spread[p] >= res, "op %d pass %d: spread %g under the resolution %g", i, p,
                          m[i].spread[p], res);
        }
        ck_assert_msg(m[i].t[0] > 0, "op %d: F not timed", i);
        ck_assert_int_eq(m[i].keep_f_bytes, g.ops[i].cost.keep_f_bytes);
        ck_assert_int_eq(m[i].keep_w_bytes, g.ops[i].cost.keep_w_bytes);
        ck_assert_int_eq(m[i].param_bytes, g.ops[i].cost.param_bytes);
    }
    /* Nothing to do: nothing called; no rounds: refused. */
    int *none = calloc((size_t)g.n_ops, sizeof(int));
    l.calls = 0;
    ck_assert_int_eq(pp_profile_rounds(&g, be, none, 3, res, log_progress, &l, m, &err), 0);
    ck_assert_int_eq(l.calls, 0);
    ck_assert_int_eq(pp_profile_rounds(&g, be, todo, 0, res, NULL, NULL, m, &err), -1);
    ck_assert_int_eq(err.code, PP_ERR_INVALID);
    free(none);
    free(todo);
    free(m);
    pp_backend_close(be);
    pp_graph_free(&g);
}
END_TEST

START_TEST(test_whole_step) {
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    pp_backend *be;
    tiny(&cfg, &g, 64);
    ck_assert_int_eq(pp_backend_open(PP_BACKEND_CPU, 1, &be, &err), 0);
    int n = g.n_ops, *todo = calloc((size_t)n, sizeof(int));
    char(*sig)[PP_PROFILE_SIG_MAX] = calloc((size_t)n, sizeof *sig);
    int *first = calloc((size_t)n, sizeof(int));
    pp_op_measure *m = calloc((size_t)n, sizeof *m);
    pp_profile_distinct(&g, sig, first);
    for (int i = 0; i < n; i++) todo[i] = first[i] == i;
    ck_assert_int_eq(pp_profile_rounds(&g, be, todo, 2, 0, NULL, NULL, m, &err), 0);
    for (int i = 0; i < n; i++) m[i] = m[first[i]];
    double sum = pp_profile_ops_sum(&g, m), whole = 0, optim = 0;
    int reps = 0;
    ck_assert_int_eq(pp_profile_whole_step(&cfg, &g, be, 5, &whole, &optim, &reps, &err), 0);
    ck_assert_int_ge(reps, 5);
    ck_assert_int_le(reps, PP_PROFILE_STEP_MAX_REPS);
    ck_assert_msg(whole > 0 && optim > 0, "whole %g s, optimizer %g s per parameter", whole, optim);
    /* The ops alone are about the step (0.89 on gpt2-tiny when the machine is
     * quiet); the bounds leave room for a loaded machine, not for a step that
     * leaves out passes or times them twice. */
    ck_assert_msg(sum / whole > 0.3 && sum / whole < 3, "sum of ops %g s, whole step %g s", sum, whole);
    /* A step of 1.3e5 parameters: AdamW costs nanoseconds per parameter, far
     * less than the step. */
    ck_assert_msg(optim < 1e-6, "optimizer %g s per parameter", optim);
    ck_assert_int_eq(pp_profile_whole_step(&cfg, &g, be, 0, &whole, &optim, NULL, &err), -1);
    ck_assert_int_eq(err.code, PP_ERR_INVALID);
    ck_assert_int_eq(pp_profile_whole_step(&cfg, &g, be, PP_PROFILE_STEP_MAX_REPS + 1, &whole, &optim, NULL, &err),
                     -1);
    free(todo);
    free(sig);
    free(first);
    free(m);
    pp_backend_close(be);
    pp_graph_free(&g);
}
END_TEST

static pp_op_measure meas(double f, double i, double w, double sf, double si, double sw) {
    pp_op_measure m;
    memset(&m, 0, sizeof m);
    m.t[0] = f, m.t[1] = i, m.t[2] = w;
    m.spread[0] = sf, m.spread[1] = si, m.spread[2] = sw;
    return m;
}

START_TEST(test_compare) {
    pp_op_measure now[3], before[3];
    int had[3] = {1, 0, 1};
    /* op 0: F within the old spread (0.5 <= 0.6), I outside (0.4 > 0.1),
     * W timed 0 both times: left out. */
    now[0] = meas(10.5, 2.4, 0, 0.2, 0.1, 0);
    before[0] = meas(10, 2, 0, 0.6, 0.05, 0);
    /* op 1: no previous profile: left out, however far. */
    now[1] = meas(100, 100, 100, 0, 0, 0);
    before[1] = meas(1, 1, 1, 0, 0, 0);
    /* op 2: F equal, I within the new spread, W outside with no spread:
     * measured against the resolution 0.01, 0.5 / 0.01 = 50 (the worst). */
    now[2] = meas(3, 1.2, 0.5, 0, 0.3, 0);
    before[2] = meas(3, 1, 0, 0, 0.1, 0);
    pp_profile_agreement a;
    pp_profile_compare(3, now, before, had, 0.01, &a);
    ck_assert_int_eq(a.total, 5);
    ck_assert_int_eq(a.agree, 3);
    ck_assert_int_eq(a.worst_op, 2);
    ck_assert_int_eq(a.worst_pass, 2);
    ck_assert_double_eq_tol(a.worst_dev, 50, 1e-9);
    /* Everything within: no worst. */
    now[2].t[2] = 0;
    now[0].t[1] = 2;
    pp_profile_compare(3, now, before, had, 0.01, &a);
    ck_assert_int_eq(a.total, 4); /* W of op 2 now timed 0 both times */
    ck_assert_int_eq(a.agree, 4);
    ck_assert_int_eq(a.worst_op, -1);
    /* Nothing stored before: nothing compared. */
    int none[3] = {0, 0, 0};
    pp_profile_compare(3, now, before, none, 0.01, &a);
    ck_assert_int_eq(a.total, 0);
}
END_TEST

START_TEST(test_links) {
    pp_err err = {0};
    pp_comm *c = NULL;
    ck_assert_int_eq(pp_comm_init(NULL, NULL, &c, &err), 0);
    ck_assert_int_eq(pp_comm_size(c), 1);
    pp_linkprof_opts o;
    pp_linkprof_opts_default(&o);
    pp_link_result dummy, *res = &dummy; /* must be set */
    int n = -1;
    double ar[3] = {-1, -1, -1};
    /* One rank: no pairs to measure, and an all-reduce over one rank, which
     * copies nothing: its times barely grow with size, so the fit may be
     * refused (then the links are given back) or give some beta (the two
     * ranks' run is tests/integration/profile.sh's). */
    if (pp_profile_links(c, PP_BACKEND_CPU, 1, &o, &res, &n, ar, &err) == 0) {
        ck_assert_int_eq(n, 0);
        ck_assert_msg(ar[1] > 0, "all-reduce fitted with beta %g", ar[1]);
        free(res);
    } else {
        ck_assert(res == NULL && n == 0);
        ck_assert_msg(strstr(err.msg, "all-reduce") != NULL, "%s", err.msg);
    }
    /* GPU links: where no GPU opens, a clean failure naming the cause. */
    pp_backend *gpu = NULL;
    pp_err gerr = {0};
    int have_gpu = pp_backend_open(PP_BACKEND_CUDA, 1, &gpu, &gerr) == 0;
    pp_backend_close(gpu);
    res = &dummy;
    n = -1;
    int rc = pp_profile_links(c, PP_BACKEND_CUDA, 1, &o, &res, &n, ar, &err);
    if (have_gpu) {
        ck_assert_msg(rc == 0, "%s", err.msg);
        ck_assert_int_eq(n, 0);
        free(res);
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert(res == NULL && n == 0);
        ck_assert_msg(err.msg[0] != '\0', "no message");
        printf("GPU links: no GPU here, the error path checked: %s\n", err.msg);
    }
    ck_assert(ar[0] == 0 && ar[1] == 0 && ar[2] == 0);
    pp_comm_free(c);
}
END_TEST

static pp_json *member(pp_json *o, const char *key) {
    pp_json *v = pp_json_get(o, key);
    ck_assert_msg(v != NULL, "no \"%s\"", key);
    return v;
}

START_TEST(test_print) {
    pp_model_config cfg;
    pp_graph g;
    pp_err err = {0};
    tiny(&cfg, &g, 16);
    int n = g.n_ops;
    pp_profile_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.fp, sizeof r.fp, "%064d", 7);
    snprintf(r.desc, sizeof r.desc, "{\"kind\": \"cpu\"}");
    r.db_path = "x.db";
    r.g = &g;
    r.model = cfg.name;
    r.mb = 1;
    r.seq = 16;
    r.sig = calloc((size_t)n, sizeof *r.sig);
    r.first = calloc((size_t)n, sizeof(int));
    r.fresh = calloc((size_t)n, sizeof(int));
    r.had_prev = calloc((size_t)n, sizeof(int));
    r.m = calloc((size_t)n, sizeof *r.m);
    r.prev = calloc((size_t)n, sizeof *r.prev);
    r.uniq = pp_profile_distinct(&g, r.sig, r.first);
    for (int i = 0; i < n; i++) r.m[i] = meas(1e-3, 2e-3, 3e-3, 1e-5, 1e-5, 1e-5);
    r.fresh[0] = r.had_prev[0] = 1; /* op 0 re-measured: F agrees, I and W do not */
    r.prev[0] = meas(1e-3, 1e-3, 1e-3, 1e-5, 1e-5, 1e-5);
    r.measured = 1;
    r.reused = r.uniq - 1;
    r.sum = pp_profile_ops_sum(&g, r.m);
    r.check = 1;
    r.whole = 2 * r.sum;
    r.optim = 4e-9;
    r.ranks = 2;
    r.n_links = 2;
    pp_link_result links[2];
    memset(links, 0, sizeof links);
    links[0].dst = links[1].src = 1;
    links[0].alpha_s = 2e-6;
    links[0].beta_Bps = 5e9;
    r.links = links;
    r.ar[1] = 1e9;
    ck_assert_double_eq_tol(r.sum, n * 6e-3, 1e-12);
    pp_jw w;
    pp_jw_init(&w);
    pp_profile_write_json(&w, &r);
    char *text;
    size_t len;
    ck_assert_int_eq(pp_jw_finish(&w, &text, &len, &err), 0);
    pp_json *root;
    ck_assert_msg(pp_json_parse(text, len, "json", &root, &err) == 0, "%s\n%s", err.msg, text);
    ck_assert_str_eq(member(member(root, "device"), "fingerprint")->str, r.fp);
    pp_json *ops = member(root, "ops");
    ck_assert_int_eq(member(ops, "measured")->inum, 1);
    ck_assert_int_eq(member(ops, "reused")->inum, r.uniq - 1);
    pp_json *prof = member(ops, "profiles");
    ck_assert_int_eq(prof->n, r.uniq);
    ck_assert_double_eq_tol(member(prof->items[0], "i_s")->num, 2e-3, 1e-15);
    ck_assert(member(prof->items[0], "measured")->boolean == 1);
    ck_assert(member(prof->items[1], "measured")->boolean == 0);
    long long count = 0;
    for (int k = 0; k < prof->n; k++) count += member(prof->items[k], "ops")->inum;
    ck_assert_int_eq(count, n);
    ck_assert_double_eq_tol(member(member(ops, "whole_step"), "ratio")->num, 0.5, 1e-12);
    pp_json *cmp = member(ops, "comparison");
    ck_assert_int_eq(member(cmp, "within_spread")->inum, 1);
    ck_assert_int_eq(member(cmp, "compared")->inum, 3);
    ck_assert_str_eq(member(member(cmp, "farthest_outside"), "pass")->str, "W");
    pp_json *lk = member(root, "links");
    ck_assert_int_eq(member(lk, "pairs")->n, 2);
    ck_assert_double_eq_tol(member(member(lk, "pairs")->items[0], "beta_Bps")->num, 5e9, 1);
    ck_assert_int_eq(member(member(lk, "allreduce"), "beta_Bps")->type, PP_JSON_NUMBER);
    pp_json_free(root);
    free(text);
    /* The text: the lines tests/integration/profile.sh reads. */
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    pp_profile_print_text(f, &r);
    fclose(f);
    ck_assert_msg(strstr(buf, "distinct signatures: 1 measured in") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "stability: 1/3 op medians within the spread") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "sum of ops / whole step = 0.500") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "measured 2 of 2 ordered rank pairs: all") != NULL, "%s", buf);
    free(buf);
    /* The links part handed through a file and back; a cut file refused. */
    char path[] = "/tmp/test_profile_links_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_msg(pp_profile_links_save(path, &r, &err) == 0, "%s", err.msg);
    pp_profile_result back;
    memset(&back, 0, sizeof back);
    ck_assert_msg(pp_profile_links_load(path, &back, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(back.fp, r.fp);
    ck_assert_str_eq(back.desc, r.desc);
    ck_assert_int_eq(back.ranks, 2);
    ck_assert_int_eq(back.n_links, 2);
    ck_assert(back.g == NULL && back.ar[1] == 1e9);
    ck_assert(memcmp(back.links, links, sizeof links) == 0);
    free(back.links);
    ck_assert_int_eq(truncate(path, 100), 0);
    memset(&back, 0, sizeof back);
    ck_assert_int_eq(pp_profile_links_load(path, &back, &err), -1);
    ck_assert_msg(strstr(err.msg, "not the links") != NULL, "%s", err.msg);
    ck_assert(back.links == NULL && back.ranks == 0);
    unlink(path);
    ck_assert_int_eq(pp_profile_links_load(path, &back, &err), -1);
    free(r.sig);
    free(r.first);
    free(r.fresh);
    free(r.had_prev);
    free(r.m);
    free(r.prev);
    pp_graph_free(&g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("profile");
    TCase *tc = tcase_create("profile");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_distinct);
    tcase_add_test(tc, test_rounds);
    tcase_add_test(tc, test_whole_step);
    tcase_add_test(tc, test_compare);
    tcase_add_test(tc, test_links);
    tcase_add_test(tc, test_print);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
