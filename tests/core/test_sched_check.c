/*
 * test_sched_check.c -- checking and lowering schedule tables
 * (core/pp_sched.h, pp_sched_check.c): stage placement, validation with its
 * messages, the deadlock check (cycles, missing sends, same-rank ordering,
 * scale), and lowering compute-only tables into compute_comms ones,
 * compared with PyTorch's own compute_comms table.
 */
#include "core/pp_sched.h"

#include <check.h>

#include "tests/pp_test.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define COMPAT PP_SHARED_DIR "/compat/pytorch-schedules/"
#define ZB_COMPUTE COMPAT "zb1p_2rank_2stagep_compute.csv"
#define ZB_COMMS COMPAT "zb1p_2rank_2stagep_comms.csv"
#define DUALPIPEV COMPAT "dualpipev_4rank_10mb.csv"

/* ---- helpers ---- */

static void load(const char *path, pp_sched *s) {
    pp_err err = {0};
    int rc = pp_sched_load_csv(path, PP_NAMING_AUTO, s, NULL, &err);
    ck_assert_msg(rc == 0, "load %s: %s", path, err.msg);
}

/* A table from CSV text in the current naming. */
static void parse(const char *text, pp_sched *s) {
    pp_err err = {0};
    int rc = pp_sched_parse_csv(text, strlen(text), "t.csv", PP_NAMING_CURRENT, s, NULL, &err);
    ck_assert_msg(rc == 0, "parse '%s': %s", text, err.msg);
}

static void valid(const pp_sched *s, int m, const char *what) {
    pp_err err = {0};
    int rc = pp_sched_validate(s, m, &err);
    ck_assert_msg(rc == 0, "%s: validate: %s", what, err.msg);
}

static void deadlock_free(const pp_sched *s, const char *what) {
    pp_err err = {0};
    int rc = pp_sched_check_deadlock(s, &err);
    ck_assert_msg(rc == 0, "%s: deadlock check: %s", what, err.msg);
}

/* Expects every one of want (NULL-terminated) in msg. */
static void has_all(const char *msg, const char *const *want, const char *what) {
    for (int i = 0; want[i]; i++)
        ck_assert_msg(strstr(msg, want[i]) != NULL, "%s: message \"%s\" lacks \"%s\"", what, msg, want[i]);
}

/* Validation of a CSV text (current naming) fails with every substring. */
static void invalid_text(const char *text, int m, const char *const *want) {
    pp_sched s;
    parse(text, &s);
    pp_err err = {0};
    int rc = pp_sched_validate(&s, m, &err);
    ck_assert_msg(rc == -1, "validate '%s' should fail", text);
    ck_assert_int_eq(err.code, PP_ERR_INVALID);
    has_all(err.msg, want, text);
    pp_sched_free(&s);
}

/* The deadlock check fails with every substring; returns nothing. */
static void deadlocks(const pp_sched *s, const char *const *want, const char *what) {
    pp_err err = {0};
    int rc = pp_sched_check_deadlock(s, &err);
    ck_assert_msg(rc == -1, "%s: should deadlock", what);
    has_all(err.msg, want, what);
    printf("  %s: %s\n", what, err.msg);
}

static char *csv_of(const pp_sched *s) {
    pp_err err = {0};
    char *out = NULL;
    size_t len = 0;
    ck_assert_msg(pp_sched_write_csv(s, PP_NAMING_CURRENT, &out, &len, &err) == 0, "write: %s", err.msg);
    return out;
}

/* Line r of a CSV text (malloc'ed). */
static char *csv_line(const char *csv, int r) {
    const char *p = csv;
    for (int i = 0; i < r; i++) {
        p = strchr(p, '\n');
        ck_assert_ptr_nonnull(p);
        p++;
    }
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char *out = malloc(n + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

static int is_comm(int t) {
    return t == PP_ACT_SEND_F || t == PP_ACT_RECV_F || t == PP_ACT_SEND_B || t == PP_ACT_RECV_B;
}

/* The non-comm, non-idle actions of a row are the same, in the same order. */
static void same_compute(const pp_sched *a, const pp_sched *b) {
    ck_assert_int_eq(a->n_ranks, b->n_ranks);
    for (int r = 0; r < a->n_ranks; r++) {
        int i = 0, j = 0;
        const pp_sched_rank *x = &a->ranks[r], *y = &b->ranks[r];
        for (;;) {
            while (i < x->n && (x->acts[i].type == PP_ACT_NONE || is_comm(x->acts[i].type))) i++;
            while (j < y->n && (y->acts[j].type == PP_ACT_NONE || is_comm(y->acts[j].type))) j++;
            if (i >= x->n || j >= y->n) break;
            pp_sched one, two;
            ck_assert_int_eq(pp_sched_init(&one, 1, NULL), 0);
            ck_assert_int_eq(pp_sched_init(&two, 1, NULL), 0);
            ck_assert_int_eq(pp_sched_push(&one, 0, x->acts[i], NULL), 0);
            ck_assert_int_eq(pp_sched_push(&two, 0, y->acts[j], NULL), 0);
            ck_assert_msg(pp_sched_equal(&one, &two), "rank %d: compute action %d / %d differ", r, i, j);
            pp_sched_free(&one);
            pp_sched_free(&two);
            i++, j++;
        }
        ck_assert_msg(i >= x->n && j >= y->n, "rank %d: compute actions differ in number", r);
    }
}

/* counts[r][type] of a table */
static void count_types(const pp_sched *s, int counts[][PP_ACT__COUNT]) {
    for (int r = 0; r < s->n_ranks; r++) {
        memset(counts[r], 0, sizeof counts[r]);
        for (int i = 0; i < s->ranks[r].n; i++) counts[r][s->ranks[r].acts[i].type]++;
    }
}

/* 1F1B with stage r on rank r: warmup min(p-r-1, m) forwards, then
 * forward/backward pairs, then the remaining backwards. */
static void build_1f1b(pp_sched *s, int p, int m) {
    ck_assert_int_eq(pp_sched_init(s, p, NULL), 0);
    for (int r = 0; r < p; r++) {
        int w = p - r - 1 < m ? p - r - 1 : m, f = 0, b = 0;
        for (int i = 0; i < w; i++) ck_assert_int_eq(pp_sched_push(s, r, pp_action_make(PP_ACT_F, r, f++), NULL), 0);
        while (f < m) {
            ck_assert_int_eq(pp_sched_push(s, r, pp_action_make(PP_ACT_F, r, f++), NULL), 0);
            ck_assert_int_eq(pp_sched_push(s, r, pp_action_make(PP_ACT_B, r, b++), NULL), 0);
        }
        while (b < m) ck_assert_int_eq(pp_sched_push(s, r, pp_action_make(PP_ACT_B, r, b++), NULL), 0);
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- PyTorch's tables ---- */

START_TEST(test_compat_valid_and_deadlock_free) {
    static const struct {
        const char *path;
        int m;
    } files[] = {{ZB_COMPUTE, 8}, {ZB_COMMS, 8}, {DUALPIPEV, 10}};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        pp_sched s;
        load(files[k].path, &s);
        valid(&s, 0, files[k].path);
        valid(&s, files[k].m, files[k].path);
        deadlock_free(&s, files[k].path);
        pp_sched_free(&s);
    }
}
END_TEST

START_TEST(test_stage_ranks) {
    pp_sched s;
    pp_err err = {0};
    load(ZB_COMPUTE, &s);
    ck_assert_int_eq(pp_sched_n_stages(&s), 4);
    int sr[8];
    ck_assert_msg(pp_sched_stage_ranks(&s, sr, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(sr[0], 0);
    ck_assert_int_eq(sr[1], 1);
    ck_assert_int_eq(sr[2], 0);
    ck_assert_int_eq(sr[3], 1);
    pp_sched_free(&s);

    load(DUALPIPEV, &s); /* V: rank r holds r and 7 - r */
    ck_assert_int_eq(pp_sched_n_stages(&s), 8);
    ck_assert_msg(pp_sched_stage_ranks(&s, sr, &err) == 0, "%s", err.msg);
    for (int st = 0; st < 8; st++) ck_assert_int_eq(sr[st], st < 4 ? st : 7 - st);
    pp_sched_free(&s);

    /* OVERLAP parts and step-level cells place stages too. */
    parse("0F0,(0F1;2B0)OVERLAP_F_B\n1F0,1B0,3OPTIM", &s);
    ck_assert_int_eq(pp_sched_n_stages(&s), 4);
    ck_assert_msg(pp_sched_stage_ranks(&s, sr, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(sr[0], 0);
    ck_assert_int_eq(sr[1], 1);
    ck_assert_int_eq(sr[2], 0);
    ck_assert_int_eq(sr[3], 1);
    pp_sched_free(&s);

    parse("0F0,0B0\n1F0,0B1", &s);
    ck_assert_int_eq(pp_sched_stage_ranks(&s, sr, &err), -1);
    has_all(err.msg, (const char *[]){"rank 1, action 1 (0B1)", "stage 0 is also on rank 0 (action 0, 0F0)", NULL},
            "stage on two ranks");
    pp_sched_free(&s);
}
END_TEST

/* ---- validation errors ---- */

START_TEST(test_validate_compute_rules) {
    invalid_text("0F0,0F0,0B0", 0,
                 (const char *[]){"rank 0, action 1 (0F0)", "duplicate F of stage 0 microbatch 0", NULL});
    invalid_text("0F0,0I0,0F1,0I1,0W1", 0,
                 (const char *[]){"schedule incomplete (1 missing): stage 0 microbatch 0 has I but no W", NULL});
    invalid_text("0F0,0B0\n1F0,1W0,1I0", 0,
                 (const char *[]){"rank 1, action 1 (1W0): W before I of stage 1 microbatch 0", NULL});
    invalid_text("0I0,0F0,0W0", 0, (const char *[]){"rank 0, action 0 (0I0): I before F of stage 0", NULL});
    invalid_text("0F0,0B0,0I0,0W0", 0,
                 (const char *[]){"rank 0, action 2 (0I0)", "both B and I of stage 0 microbatch 0", NULL});
    invalid_text("0F0,0F1,0B1", 0,
                 (const char *[]){"schedule incomplete (1 missing): stage 0 microbatch 0 has no backward (B or I+W)",
                                  NULL});
    invalid_text("0F0,0B0\n1F0,1B0\n0F1,0B1", 0,
                 (const char *[]){"rank 2, action 0 (0F1)", "stage 0 is also on rank 0", NULL});
    invalid_text("0F0,0B0\n2F0,2B0", 0, (const char *[]){"stage 1 appears in no action", NULL});
    invalid_text("0F0,0B0\n1F1,1B1", 0,
                 (const char *[]){"schedule incomplete (4 missing): stage 0 microbatch 1 has no forward (F); stage 0 "
                                  "microbatch 1 has no backward (B or I+W); stage 1 microbatch 0 has no forward (F); "
                                  "stage 1 microbatch 0 has no backward (B or I+W)",
                                  NULL});
    /* the backward of an OVERLAP_F_B cannot use its own forward */
    invalid_text("(0F0;0B0)OVERLAP_F_B", 0,
                 (const char *[]){"rank 0, action 0 ((0F0;0B0)OVERLAP_F_B): B before F of stage 0", NULL});
    /* idle cells and step-level actions are allowed */
    pp_sched s;
    parse("0F0,,0I0,0W0,0REDUCE_GRAD,0OPTIM", &s);
    valid(&s, 1, "step-level");
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_validate_microbatch_range) {
    pp_sched s;
    load(ZB_COMPUTE, &s);
    pp_err err = {0};
    ck_assert_int_eq(pp_sched_validate(&s, 4, &err), -1);
    has_all(err.msg, (const char *[]){"rank 0, action 19 (0F4)", "microbatch 4 out of range [0, 4)", NULL}, "m=4");
    ck_assert_int_eq(pp_sched_validate(&s, 9, &err), -1);
    has_all(err.msg,
            (const char *[]){"schedule incomplete (8 missing): stage 0 microbatch 8 has no forward (F); stage 0 "
                             "microbatch 8 has no backward (B or I+W); stage 1 microbatch 8",
                             NULL},
            "m=9");
    pp_sched_free(&s);
    invalid_text("0F0,0B0,0F5,0B5", 2, (const char *[]){"rank 0, action 2 (0F5)", "out of range [0, 2)", NULL});
}
END_TEST

/* 2 ranks, 2 stages, 2 microbatches: a correct compute_comms table. */
#define GOOD_R0 "0F0,0SEND_F0,0F1,0SEND_F1,0RECV_B0,0B0,0RECV_B1,0B1"
#define GOOD_R1 "1RECV_F0,1F0,1RECV_F1,1F1,1B0,1SEND_B0,1B1,1SEND_B1"

START_TEST(test_validate_comms_rules) {
    pp_sched s;
    parse(GOOD_R0 "\n" GOOD_R1, &s);
    valid(&s, 2, "good comms");
    deadlock_free(&s, "good comms");
    pp_sched_free(&s);

    /* SEND without RECV, and RECV without SEND */
    invalid_text(GOOD_R0 "\n1RECV_F0,1F0,1F1,1B0,1SEND_B0,1B1,1SEND_B1", 0,
                 (const char *[]){"rank 0, action 3 (0SEND_F1): no matching 1RECV_F1 on rank 1", NULL});
    invalid_text(GOOD_R0 "\n1RECV_F0,1F0,1RECV_F1,1F1,1B0,1SEND_B0,1B1", 0,
                 (const char *[]){"rank 0, action 6 (0RECV_B1): no matching 1SEND_B1 on rank 1", NULL});
    /* duplicates */
    invalid_text(GOOD_R0 ",0SEND_F1\n" GOOD_R1, 0,
                 (const char *[]){"rank 0, action 8 (0SEND_F1): duplicate SEND_F of stage 0 microbatch 1", NULL});
    /* a comm cell for a stage of another rank */
    invalid_text(GOOD_R0 ",1SEND_B1\n1RECV_F0,1F0,1RECV_F1,1F1,1B0,1SEND_B0,1B1", 0,
                 (const char *[]){"rank 0, action 8 (1SEND_B1): stage 1 is on rank 1",
                                  "only for its own stages", NULL});
    /* comms between stages of the same rank */
    invalid_text("0F0,0SEND_F0,1RECV_F0,1F0,1B0,1SEND_B0,0RECV_B0,0B0", 0,
                 (const char *[]){"rank 0, action 1 (0SEND_F0): SEND_F between stages 0 and 1, both on rank 0", NULL});
    /* no neighbour */
    invalid_text("0F0,0SEND_F0,0B0", 0, (const char *[]){"SEND_F from the last stage 0", NULL});
    /* SEND before the action it sends; compute before its RECV */
    invalid_text("0SEND_F0,0F0,0SEND_F1,0F1,0RECV_B0,0B0,0RECV_B1,0B1\n" GOOD_R1, 0,
                 (const char *[]){"rank 0, action 0 (0SEND_F0): SEND_F before F of stage 0 microbatch 0", NULL});
    invalid_text(GOOD_R0 "\n1F0,1RECV_F0,1RECV_F1,1F1,1B0,1SEND_B0,1B1,1SEND_B1", 0,
                 (const char *[]){"rank 1, action 0 (1F0): F of stage 1 microbatch 0 without an earlier 1RECV_F0",
                                  NULL});
    invalid_text("0F0,0SEND_F0,0F1,0SEND_F1,0B0,0RECV_B0,0RECV_B1,0B1\n" GOOD_R1, 0,
                 (const char *[]){"rank 0, action 4 (0B0): B of stage 0 microbatch 0 without an earlier 0RECV_B0",
                                  NULL});
}
END_TEST

/* ---- lowering ---- */

START_TEST(test_lower_zb1p) {
    pp_sched c, l, again;
    pp_err err = {0};
    load(ZB_COMPUTE, &c);
    ck_assert_int_eq(pp_sched_form_of(&c), PP_SCHED_COMPUTE_ONLY);
    ck_assert_msg(pp_sched_lower(&c, &l, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_sched_form_of(&l), PP_SCHED_COMPUTE_COMMS);
    valid(&l, 8, "lowered zb1p");
    deadlock_free(&l, "lowered zb1p");
    same_compute(&c, &l);

    /* Looped placement (0,2 | 1,3): every stage boundary crosses ranks, so
     * per microbatch stages 0,1,2 send F and 1,2,3 receive it, stages 1,2,3
     * send B and 0,1,2 receive it: 6 comms per rank per microbatch. */
    int n[2][PP_ACT__COUNT];
    count_types(&l, n);
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(n[r][PP_ACT_NONE], 0);
        ck_assert_int_eq(n[r][PP_ACT_F], 16);
        ck_assert_int_eq(n[r][PP_ACT_I], 16);
        ck_assert_int_eq(n[r][PP_ACT_W], 16);
        ck_assert_int_eq(n[r][PP_ACT_B], 0);
    }
    ck_assert_int_eq(n[0][PP_ACT_SEND_F], 16); /* stages 0 and 2 */
    ck_assert_int_eq(n[0][PP_ACT_RECV_F], 8);  /* stage 2 */
    ck_assert_int_eq(n[0][PP_ACT_SEND_B], 8);  /* stage 2 */
    ck_assert_int_eq(n[0][PP_ACT_RECV_B], 16); /* stages 0 and 2 */
    ck_assert_int_eq(n[1][PP_ACT_SEND_F], 8);  /* stage 1 */
    ck_assert_int_eq(n[1][PP_ACT_RECV_F], 16); /* stages 1 and 3 */
    ck_assert_int_eq(n[1][PP_ACT_SEND_B], 16); /* stages 1 and 3 */
    ck_assert_int_eq(n[1][PP_ACT_RECV_B], 8);  /* stage 1 */
    ck_assert_int_eq(l.ranks[0].n, 48 + 48);
    ck_assert_int_eq(l.ranks[1].n, 48 + 48);

    /* Each comm sits right beside its compute action. */
    for (int r = 0; r < 2; r++) {
        const pp_sched_rank *row = &l.ranks[r];
        for (int i = 0; i < row->n; i++) {
            const pp_action *a = &row->acts[i];
            if (a->type == PP_ACT_RECV_F || a->type == PP_ACT_RECV_B) {
                ck_assert_int_lt(i + 1, row->n);
                const pp_action *b = &row->acts[i + 1];
                ck_assert_int_eq(b->type, a->type == PP_ACT_RECV_F ? PP_ACT_F : PP_ACT_I);
                ck_assert_int_eq(b->stage, a->stage);
                ck_assert_int_eq(b->mb, a->mb);
            } else if (a->type == PP_ACT_SEND_F || a->type == PP_ACT_SEND_B) {
                ck_assert_int_gt(i, 0);
                const pp_action *b = &row->acts[i - 1];
                ck_assert_int_eq(b->type, a->type == PP_ACT_SEND_F ? PP_ACT_F : PP_ACT_I);
                ck_assert_int_eq(b->stage, a->stage);
                ck_assert_int_eq(b->mb, a->mb);
            }
        }
    }
    char *csv = csv_of(&l);
    char *r0 = csv_line(csv, 0), *r1 = csv_line(csv, 1);
    ck_assert_msg(strncmp(r0, "0F0,0SEND_F0,0F1,0SEND_F1,2RECV_F0,2F0,2SEND_F0,2RECV_F1,2F1,2SEND_F1,"
                              "2RECV_B0,2I0,2SEND_B0,2W0,0F2,0SEND_F2,",
                          strlen("0F0,0SEND_F0,0F1,0SEND_F1,2RECV_F0,2F0,2SEND_F0,2RECV_F1,2F1,2SEND_F1,"
                                 "2RECV_B0,2I0,2SEND_B0,2W0,0F2,0SEND_F2,")) == 0,
                  "rank 0: %s", r0);
    ck_assert_msg(strncmp(r1, "1RECV_F0,1F0,1SEND_F0,1RECV_F1,1F1,1SEND_F1,3RECV_F0,3F0,3I0,3SEND_B0,",
                          strlen("1RECV_F0,1F0,1SEND_F0,1RECV_F1,1F1,1SEND_F1,3RECV_F0,3F0,3I0,3SEND_B0,")) == 0,
                  "rank 1: %s", r1);
    free(r0);
    free(r1);
    free(csv);

    /* A table with comms is copied. */
    ck_assert_msg(pp_sched_lower(&l, &again, &err) == 0, "%s", err.msg);
    ck_assert(pp_sched_equal(&l, &again));
    pp_sched_free(&again);
    pp_sched_free(&l);
    pp_sched_free(&c);
}
END_TEST

/* Our lowering of the zb1p compute table against PyTorch's zb1p compute_comms
 * table: not equal (PyTorch's comms table comes from a different compute
 * order, uses full backwards on rank 0 and posts receives early), but the
 * same sends and receives per rank. The differences are printed. */
START_TEST(test_lower_vs_pytorch_comms) {
    pp_sched c, l, pt;
    pp_err err = {0};
    load(ZB_COMPUTE, &c);
    load(ZB_COMMS, &pt);
    ck_assert_msg(pp_sched_lower(&c, &l, &err) == 0, "%s", err.msg);
    ck_assert(!pp_sched_equal(&l, &pt));
    int nl[2][PP_ACT__COUNT], np[2][PP_ACT__COUNT];
    count_types(&l, nl);
    count_types(&pt, np);
    for (int r = 0; r < 2; r++) {
        printf("  rank %d: ours %d actions, PyTorch %d;", r, l.ranks[r].n, pt.ranks[r].n);
        for (int t = PP_ACT_F; t <= PP_ACT_RECV_B; t++)
            printf(" %s %d/%d", pp_act_type_name((pp_act_type)t, PP_NAMING_CURRENT), nl[r][t], np[r][t]);
        printf("\n");
        /* the same comms, as a set: every comm of one table is in the other */
        for (int t = PP_ACT_SEND_F; t <= PP_ACT_RECV_B; t++) ck_assert_int_eq(nl[r][t], np[r][t]);
        for (int i = 0; i < l.ranks[r].n; i++) {
            const pp_action *a = &l.ranks[r].acts[i];
            if (!is_comm(a->type)) continue;
            int found = 0;
            for (int j = 0; j < pt.ranks[r].n && !found; j++) {
                const pp_action *b = &pt.ranks[r].acts[j];
                found = b->type == a->type && b->stage == a->stage && b->mb == a->mb;
            }
            char cell[96];
            pp_action_format(a, PP_NAMING_CURRENT, cell, sizeof cell);
            ck_assert_msg(found, "rank %d: %s not in PyTorch's table", r, cell);
        }
        /* PyTorch merged each I directly followed by its W into one full
         * backward B (all of rank 0's, none of rank 1's); otherwise the
         * compute order is the same. */
        pp_sched mine, theirs;
        ck_assert_int_eq(pp_sched_init(&mine, 1, NULL), 0);
        ck_assert_int_eq(pp_sched_init(&theirs, 1, NULL), 0);
        int merged = 0;
        for (int i = 0; i < c.ranks[r].n; i++) {
            pp_action a = c.ranks[r].acts[i];
            if (a.type == PP_ACT_NONE) continue;
            const pp_action *nx = i + 1 < c.ranks[r].n ? &c.ranks[r].acts[i + 1] : NULL;
            if (a.type == PP_ACT_I && nx && nx->type == PP_ACT_W && nx->stage == a.stage && nx->mb == a.mb) {
                a.type = PP_ACT_B;
                i++;
                merged++;
            }
            ck_assert_int_eq(pp_sched_push(&mine, 0, a, NULL), 0);
        }
        for (int j = 0; j < pt.ranks[r].n; j++)
            if (!is_comm(pt.ranks[r].acts[j].type))
                ck_assert_int_eq(pp_sched_push(&theirs, 0, pt.ranks[r].acts[j], NULL), 0);
        ck_assert_msg(pp_sched_equal(&mine, &theirs), "rank %d: compute order differs beyond merged I+W", r);
        ck_assert_int_eq(merged, r == 0 ? 16 : 0);
        pp_sched_free(&mine);
        pp_sched_free(&theirs);
        /* receives PyTorch posts before some compute action that comes
         * between them and their consumer */
        int early = 0;
        for (int j = 0; j + 1 < pt.ranks[r].n; j++) {
            const pp_action *a = &pt.ranks[r].acts[j];
            if (a->type != PP_ACT_RECV_F && a->type != PP_ACT_RECV_B) continue;
            const pp_action *b = &pt.ranks[r].acts[j + 1];
            if (!(b->stage == a->stage && b->mb == a->mb &&
                  (b->type == (a->type == PP_ACT_RECV_F ? PP_ACT_F : PP_ACT_I) || b->type == PP_ACT_B)))
                early++;
        }
        printf("  rank %d: PyTorch posts %d of its receives ahead of other actions\n", r, early);
    }
    pp_sched_free(&pt);
    pp_sched_free(&l);
    pp_sched_free(&c);
}
END_TEST

START_TEST(test_lower_dualpipev) {
    pp_sched c, l;
    pp_err err = {0};
    load(DUALPIPEV, &c);
    ck_assert_msg(pp_sched_lower(&c, &l, &err) == 0, "%s", err.msg);
    valid(&l, 10, "lowered dualpipev");
    deadlock_free(&l, "lowered dualpipev");
    same_compute(&c, &l);
    char *csv = csv_of(&l);
    char *r0 = csv_line(csv, 0), *r1 = csv_line(csv, 1), *r3 = csv_line(csv, 3);
    /* stage 0 has no RECV_F and stage 7 no RECV_B; both send */
    ck_assert_msg(strstr(r0, ",(0F7;7B3)OVERLAP_F_B,0SEND_F7,7SEND_B3,") != NULL, "rank 0: %s", r0);
    /* both halves receive before and send after */
    ck_assert_msg(strstr(r1, ",1RECV_F6,6RECV_B2,(1F6;6B2)OVERLAP_F_B,1SEND_F6,6SEND_B2,") != NULL, "rank 1: %s", r1);
    /* stages 3 and 4 share rank 3: no comms between them */
    ck_assert_msg(strstr(r3, "3SEND_F") == NULL && strstr(r3, "4RECV_F") == NULL && strstr(r3, "4SEND_B") == NULL &&
                      strstr(r3, "3RECV_B") == NULL,
                  "rank 3: %s", r3);
    ck_assert_msg(strstr(r3, ",3RECV_F4,3F4,4RECV_B0,4B0,(4F4;3B0)OVERLAP_F_B,4SEND_F4,3SEND_B0,") != NULL,
                  "rank 3: %s", r3);
    free(r0);
    free(r1);
    free(r3);
    free(csv);
    pp_sched_free(&l);
    pp_sched_free(&c);
}
END_TEST

/* ---- deadlocks ---- */

#define DL_COMPUTE "0F0,0B0,0F1,0B1\n1F0,1F1,1B0,1B1"

START_TEST(test_deadlock_cycle) {
    pp_sched s, l;
    pp_err err = {0};
    parse(DL_COMPUTE, &s);
    valid(&s, 2, "deadlocking table");
    deadlocks(&s,
              (const char *[]){"deadlock: rank 0 at action 1 (0B0) waits for rank 1 (1B0)",
                               "rank 1 at action 1 (1F1) waits for rank 0 (0F1)", NULL},
              "compute-only cycle");
    ck_assert_msg(pp_sched_lower(&s, &l, &err) == 0, "%s", err.msg);
    valid(&l, 2, "lowered deadlocking table");
    deadlocks(&l,
              (const char *[]){"deadlock: rank 0 at action 2 (0RECV_B0) waits for rank 1 (1SEND_B0)",
                               "rank 1 at action 2 (1RECV_F1) waits for rank 0 (0SEND_F1)", NULL},
              "lowered cycle");
    pp_sched_free(&l);
    pp_sched_free(&s);

    /* Found from rank 0, which waits for rank 1; the cycle is ranks 1 and 2
     * and rank 0 is not part of it. */
    parse("0F0,0B0,0F1,0B1\n1F0,1B0,1F1,1B1\n2F0,2F1,2B0,2B1", &s);
    valid(&s, 2, "three ranks");
    deadlocks(&s,
              (const char *[]){"deadlock: rank 1 at action 1 (1B0) waits for rank 2 (2B0); "
                               "rank 2 at action 1 (2F1) waits for rank 1 (1F1)",
                               NULL},
              "three ranks");
    {
        pp_err e2 = {0};
        ck_assert_int_eq(pp_sched_check_deadlock(&s, &e2), -1);
        ck_assert_msg(strstr(e2.msg, "rank 0 at") == NULL, "rank 0 is not in the cycle: %s", e2.msg);
    }
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_deadlock_same_rank_order) {
    /* V placement: rank 0 holds stages 0 and 3, rank 1 holds 1 and 2.
     * Rank 1 runs 2F0 before 1F0, which produces its input in memory. */
    pp_sched s;
    parse("0F0,3F0,3B0,0B0\n2F0,1F0,2B0,1B0", &s);
    valid(&s, 1, "same-rank order");
    deadlocks(&s, (const char *[]){"rank 1 at action 0 (2F0) waits for 1F0, which rank 1 runs later (action 1)", NULL},
              "same-rank order");
    pp_sched_free(&s);
    /* the backward side: 1B0 before 2B0 on rank 1 */
    parse("0F0,3F0,3B0,0B0\n1F0,2F0,1B0,2B0", &s);
    valid(&s, 1, "same-rank order (backward)");
    deadlocks(&s,
              (const char *[]){"rank 1 at action 2 (1B0) waits for 2B0, which rank 1 runs later (action 3)", NULL},
              "same-rank order (backward)");
    pp_sched_free(&s);
    /* the correct order runs */
    parse("0F0,3F0,3B0,0B0\n1F0,2F0,2B0,1B0", &s);
    deadlock_free(&s, "V order");
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_deadlock_missing_send) {
    pp_sched s;
    parse("0F0,0SEND_F0,0RECV_B0,0B0\n1RECV_F0,1F0,1B0", &s);
    pp_err err = {0};
    ck_assert_int_eq(pp_sched_validate(&s, 0, &err), -1);
    has_all(err.msg, (const char *[]){"rank 0, action 2 (0RECV_B0): no matching 1SEND_B0 on rank 1", NULL}, "missing");
    deadlocks(&s, (const char *[]){"rank 0 at action 2 (0RECV_B0) waits for 1SEND_B0, which rank 1 never posts", NULL},
              "missing send");
    pp_sched_free(&s);
    /* compute-only: the producing action is missing on a finished rank */
    parse("0F0,0B0\n1F0", &s);
    deadlocks(&s, (const char *[]){"rank 0 at action 1 (0B0) waits for 1I0 or 1B0, which rank 1 never runs", NULL},
              "missing backward");
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_deadlock_scale) {
    const int p = 256, m = 1024;
    pp_sched s, l;
    pp_err err = {0};
    build_1f1b(&s, p, m);
    double t0 = now_s();
    valid(&s, m, "1F1B");
    double t1 = now_s();
    int rc = pp_sched_check_deadlock(&s, &err);
    double t2 = now_s();
    ck_assert_msg(rc == 0, "1F1B p=%d m=%d: %s", p, m, err.msg);
    ck_assert_msg(pp_sched_lower(&s, &l, &err) == 0, "%s", err.msg);
    double t3 = now_s();
    rc = pp_sched_check_deadlock(&l, &err);
    double t4 = now_s();
    ck_assert_msg(rc == 0, "lowered 1F1B: %s", err.msg);
    valid(&l, m, "lowered 1F1B");
    printf("  1F1B p=%d m=%d (%d actions): validate %.3f s, deadlock check %.3f s, lowered (%d actions on rank 1) "
           "deadlock check %.3f s\n",
           p, m, 2 * p * m, t1 - t0, t2 - t1, l.ranks[1].n, t4 - t3);
    pp_sched_free(&l);

    /* Rank p/2 runs its first backward one forward too early: rank p/2 + 1
     * still needs that forward before its own first backward. */
    int r = p / 2, w = p - r - 1;
    pp_action *a = s.ranks[r].acts, b0 = a[w + 1];
    ck_assert_int_eq(b0.type, PP_ACT_B);
    a[w + 1] = a[w];
    a[w] = a[w - 1];
    a[w - 1] = b0;
    valid(&s, m, "1F1B early backward");
    char want[160];
    snprintf(want, sizeof want,
             "deadlock: rank %d at action %d (%dB0) waits for rank %d (%dB0); rank %d at action %d (%dF%d) waits for "
             "rank %d (%dF%d)",
             r, w - 1, r, r + 1, r + 1, r + 1, w - 1, r + 1, w - 1, r, r, w - 1);
    deadlocks(&s, (const char *[]){want, NULL}, "1F1B early backward");
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_bad_cells) {
    pp_sched s, out;
    pp_err err = {0};
    int sr[2];
    ck_assert_int_eq(pp_sched_init(&s, 1, NULL), 0);
    ck_assert_int_eq(pp_sched_push(&s, 0, pp_action_make(PP_ACT_F, 0, -1), NULL), 0);
    ck_assert_int_eq(pp_sched_validate(&s, 0, &err), -1);
    has_all(err.msg, (const char *[]){"rank 0, action 0", "microbatch -1", NULL}, "negative mb");
    ck_assert_int_eq(pp_sched_check_deadlock(&s, &err), -1);
    ck_assert_int_eq(pp_sched_lower(&s, &out, &err), -1);
    pp_sched_free(&s);

    ck_assert_int_eq(pp_sched_init(&s, 1, NULL), 0);
    ck_assert_int_eq(pp_sched_push(&s, 0, pp_action_make(PP_ACT_F, -2, 0), NULL), 0);
    ck_assert_int_eq(pp_sched_stage_ranks(&s, sr, &err), -1);
    has_all(err.msg, (const char *[]){"negative stage -2", NULL}, "negative stage");
    pp_sched_free(&s);

    /* an empty table: nothing to run, nothing valid */
    ck_assert_int_eq(pp_sched_init(&s, 2, NULL), 0);
    ck_assert_int_eq(pp_sched_check_deadlock(&s, &err), 0);
    ck_assert_int_eq(pp_sched_validate(&s, 0, &err), -1);
    ck_assert_int_eq(pp_sched_lower(&s, &out, &err), 0);
    ck_assert_int_eq(out.n_ranks, 2);
    pp_sched_free(&out);
    pp_sched_free(&s);
}
END_TEST

/* ---- the one check every reader runs ---- */

/* pp_sched_check(s, S, m) fails with every substring of want. */
static void check_fails(const pp_sched *s, int S, int m, const char *const *want, const char *what) {
    pp_err err = {0};
    ck_assert_msg(pp_sched_check(s, S, m, &err) == -1, "%s: pp_sched_check should fail", what);
    ck_assert_int_eq(err.code, PP_ERR_INVALID);
    has_all(err.msg, want, what);
    printf("  %s: %s\n", what, err.msg);
}

static void check_ok(const pp_sched *s, int S, int m, const char *what) {
    pp_err err = {0};
    int rc = pp_sched_check(s, S, m, &err);
    ck_assert_msg(rc == 0, "%s: pp_sched_check: %s", what, err.msg);
}

START_TEST(test_check_incomplete) {
    pp_sched s;
    /* a plan's empty table: 2 stages x 4 microbatches, nothing to run */
    ck_assert_int_eq(pp_sched_init(&s, 2, NULL), 0);
    check_fails(&s, 2, 4,
                (const char *[]){"schedule incomplete: the table has no forward or backward",
                                 "2 stages x 4 microbatches need 8 forwards", NULL},
                "empty table");
    pp_sched_free(&s);

    /* GPipe p=2 m=4 with 4 cells dropped (0B1, 1F3, 1B2, 1B3): all named,
     * whether the counts come from a plan or from the table */
    parse("0F0,0F1,0F2,0F3,0B0,0B2,0B3\n1F0,1F1,1F2,1B0,1B1", &s);
    const char *dropped[] = {"schedule incomplete (4 missing): stage 0 microbatch 1 has no backward (B or I+W); "
                             "stage 1 microbatch 2 has no backward (B or I+W); stage 1 microbatch 3 has no forward "
                             "(F); stage 1 microbatch 3 has no backward (B or I+W)",
                             NULL};
    check_fails(&s, 2, 4, dropped, "4 cells dropped (plan)");
    check_fails(&s, 0, 0, dropped, "4 cells dropped (CSV)");
    pp_sched_free(&s);

    /* the last microbatch dropped everywhere: only a plan's count shows it */
    parse("0F0,0F1,0F2,0B0,0B1,0B2\n1F0,1F1,1F2,1B0,1B1,1B2", &s);
    check_ok(&s, 0, 0, "3 microbatches");
    check_fails(&s, 2, 4,
                (const char *[]){"schedule incomplete (4 missing): stage 0 microbatch 3 has no forward (F)", NULL},
                "plan of 4 microbatches");
    /* ... or a plan's last stage */
    check_fails(&s, 3, 3, (const char *[]){"schedule: stage 2 appears in no action (stages 0..2)", NULL}, "3 stages");
    /* a stage or microbatch beyond a plan's counts */
    check_fails(&s, 1, 3, (const char *[]){"rank 1, action 0 (1F0): stage 1 out of range [0, 1)", NULL}, "1 stage");
    check_fails(&s, 2, 2, (const char *[]){"rank 0, action 2 (0F2): microbatch 2 out of range [0, 2)", NULL}, "m=2");
    pp_sched_free(&s);

    /* I without W and W without I; a duplicate; many missing (counted, 8 named) */
    parse("0F0,0I0,0F1,0W1,0F2,0B2", &s);
    check_fails(&s, 0, 0,
                (const char *[]){"schedule incomplete (2 missing): stage 0 microbatch 0 has I but no W; stage 0 "
                                 "microbatch 1 has W but no I",
                                 NULL},
                "I without W");
    pp_sched_free(&s);
    parse("0F0,0B0,0B0", &s);
    check_fails(&s, 1, 1, (const char *[]){"rank 0, action 2 (0B0): duplicate B of stage 0 microbatch 0", NULL},
                "duplicate");
    pp_sched_free(&s);
    parse("0F0", &s);
    check_fails(&s, 1, 20,
                (const char *[]){"schedule incomplete (39 missing): stage 0 microbatch 0 has no backward (B or I+W); "
                                 "stage 0 microbatch 1 has no forward (F)",
                                 "; ...", NULL},
                "39 missing");
    pp_sched_free(&s);

    /* a deadlocking table is refused by the same call, with its wait cycle */
    parse(DL_COMPUTE, &s);
    check_fails(&s, 2, 2,
                (const char *[]){"deadlock: rank 0 at action 1 (0B0) waits for rank 1 (1B0); rank 1 at action 1 (1F1) "
                                 "waits for rank 0 (0F1)",
                                 NULL},
                "deadlock");
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_check_valid_tables) {
    static const struct {
        const char *path;
        int S, m;
    } files[] = {{ZB_COMPUTE, 4, 8}, {ZB_COMMS, 4, 8}, {DUALPIPEV, 8, 10}};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        pp_sched s, l;
        pp_err err = {0};
        load(files[k].path, &s);
        check_ok(&s, 0, 0, files[k].path);
        check_ok(&s, files[k].S, files[k].m, files[k].path);
        ck_assert_msg(pp_sched_lower(&s, &l, &err) == 0, "%s", err.msg);
        check_ok(&l, files[k].S, files[k].m, files[k].path);
        pp_sched_free(&l);
        pp_sched_free(&s);
    }
    pp_sched s;
    build_1f1b(&s, 4, 8);
    check_ok(&s, 4, 8, "1F1B");
    pp_sched_free(&s);
    parse("0F0,,0I0,0W0,0REDUCE_GRAD,0OPTIM", &s);
    check_ok(&s, 1, 1, "step-level");
    pp_sched_free(&s);
}
END_TEST

/* ---- tables nobody validated: huge indices ---- */

/* Current virtual size of this process in bytes (0 if unknown). */
static unsigned long long vm_size(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024ULL;
}

typedef struct hostile_result {
    int rc[4];
    pp_err err[4];
} hostile_result;

/* Runs validate, the deadlock check, pp_sched_check and lowering on s. */
static void run_checks(const pp_sched *s, hostile_result *h) {
    memset(h, 0, sizeof *h);
    pp_sched out;
    h->rc[0] = pp_sched_validate(s, 0, &h->err[0]);
    h->rc[1] = pp_sched_check_deadlock(s, &h->err[1]);
    h->rc[2] = pp_sched_check(s, 0, 0, &h->err[2]);
    h->rc[3] = pp_sched_lower(s, &out, &h->err[3]);
    if (h->rc[3] == 0) pp_sched_free(&out);
}

/* One cell with a huge stage or microbatch: every check answers at once
 * with an error, within 256 MiB more address space (the old deadlock check
 * asked for 910 GB, or looped over 10^8 stages). */
START_TEST(test_hostile_indices) {
    static const struct {
        const char *csv;
        const char *want; /* in the validate and pp_sched_check messages */
        int lowers;       /* a compute_comms table is copied, not lowered */
    } tables[] = {
        {"99989099F9099", "99989100 stages x 9100 microbatches need 909900810000 forwards, the table has 1", 0},
        {"99989999B99", "99990000 stages x 100 microbatches need 9999000000 forwards, the table has 0", 0},
        {"999999999F999999999", "stage 0 microbatch 0 has no forward (F)", 0},
        {"0F0,0B0\n999999999RECV_B5", "stage 0 microbatch 1 has no forward (F)", 1},
    };
    const char *const names[4] = {"validate", "deadlock", "check", "lower"};
    for (size_t k = 0; k < sizeof tables / sizeof tables[0]; k++) {
        pp_sched s;
        parse(tables[k].csv, &s);
        hostile_result h;
        struct rlimit old;
        int limited = 0;
        unsigned long long vm = vm_size();
        if (vm && getrlimit(RLIMIT_AS, &old) == 0) {
            struct rlimit lim = old;
            lim.rlim_cur = (rlim_t)(vm + (256ULL << 20));
            if (old.rlim_cur == RLIM_INFINITY || lim.rlim_cur < old.rlim_cur)
                limited = setrlimit(RLIMIT_AS, &lim) == 0;
        }
        double t0 = now_s();
        run_checks(&s, &h);
        double dt = now_s() - t0;
        if (limited) setrlimit(RLIMIT_AS, &old);
        printf("  %s: %.4f s%s\n", tables[k].csv, dt, limited ? " (address space limited)" : "");
        ck_assert_msg(h.rc[3] == (tables[k].lowers ? 0 : -1), "%s: lower: %d", tables[k].csv, h.rc[3]);
        for (int c = 0; c < (tables[k].lowers ? 3 : 4); c++) {
            ck_assert_msg(h.rc[c] == -1, "%s: %s should fail", tables[k].csv, names[c]);
            ck_assert_msg(h.err[c].code == PP_ERR_INVALID, "%s: %s: %s", tables[k].csv, names[c], h.err[c].msg);
            ck_assert_msg(strstr(h.err[c].msg, "incomplete") || c == 3, "%s: %s: %s", tables[k].csv, names[c],
                          h.err[c].msg);
            printf("    %s: %s\n", names[c], h.err[c].msg);
        }
        has_all(h.err[0].msg, (const char *[]){tables[k].want, NULL}, "validate");
        has_all(h.err[2].msg, (const char *[]){tables[k].want, NULL}, "check");
        ck_assert_msg(dt < 1.0, "%s: %.3f s", tables[k].csv, dt);
        pp_sched_free(&s);
    }

    /* Indices no CSV can hold, from code: refused, and no overflow in
     * 1 + the highest index. */
    pp_sched s;
    ck_assert_int_eq(pp_sched_init(&s, 1, NULL), 0);
    ck_assert_int_eq(pp_sched_push(&s, 0, pp_action_make(PP_ACT_F, INT_MAX, INT_MAX), NULL), 0);
    ck_assert_int_eq(pp_sched_n_stages(&s), INT_MAX);
    ck_assert_int_eq(pp_sched_n_microbatches(&s), INT_MAX);
    hostile_result h;
    run_checks(&s, &h);
    for (int c = 0; c < 4; c++) {
        ck_assert_int_eq(h.rc[c], -1);
        has_all(h.err[c].msg, (const char *[]){"rank 0, action 0", "stage 2147483647 above 999999999", NULL}, names[c]);
    }
    pp_sched_free(&s);

    /* A plan's counts that its table cannot cover: no grid of 10^18. */
    parse("0F0,0B0", &s);
    check_fails(&s, 1000000000, 1000000000,
                (const char *[]){"need 1000000000000000000 forwards, the table has 1",
                                 "stage 0 microbatch 1 has no forward (F); stage 0 microbatch 2", NULL},
                "huge plan counts");
    pp_sched_free(&s);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("sched_check");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_compat_valid_and_deadlock_free);
    tcase_add_test(tc, test_stage_ranks);
    tcase_add_test(tc, test_validate_compute_rules);
    tcase_add_test(tc, test_validate_microbatch_range);
    tcase_add_test(tc, test_validate_comms_rules);
    tcase_add_test(tc, test_lower_zb1p);
    tcase_add_test(tc, test_lower_vs_pytorch_comms);
    tcase_add_test(tc, test_lower_dualpipev);
    tcase_add_test(tc, test_deadlock_cycle);
    tcase_add_test(tc, test_deadlock_same_rank_order);
    tcase_add_test(tc, test_deadlock_missing_send);
    tcase_add_test(tc, test_deadlock_scale);
    tcase_add_test(tc, test_bad_cells);
    tcase_add_test(tc, test_check_incomplete);
    tcase_add_test(tc, test_check_valid_tables);
    tcase_add_test(tc, test_hostile_indices);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    Suite *s = suite();
    return pp_test_run(s);
}
