/*
 * test_sched.c -- the schedule table and its CSV form (core/pp_sched.h):
 * PyTorch's three compat tables read, decoded and written back byte for
 * byte, both namings and their detection, the cell grammar and its error
 * messages, and tables built in code surviving a write and a read.
 */
#include "core/pp_io.h"
#include "core/pp_sched.h"

#include <check.h>

#include "tests/pp_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMPAT PP_SHARED_DIR "/compat/pytorch-schedules/"
#define ZB_COMPUTE COMPAT "zb1p_2rank_2stagep_compute.csv"
#define ZB_COMMS COMPAT "zb1p_2rank_2stagep_comms.csv"
#define DUALPIPEV COMPAT "dualpipev_4rank_10mb.csv"

/* Loads a file or fails the test with the error message. */
static void load(const char *path, pp_sched_naming naming, pp_sched *s, pp_sched_naming *found) {
    pp_err err = {0};
    int rc = pp_sched_load_csv(path, naming, s, found, &err);
    ck_assert_msg(rc == 0, "load %s: %s", path, err.msg);
}

/* Parses a string, expecting success. */
static void parse_ok(const char *text, pp_sched_naming naming, pp_sched *s, pp_sched_naming *found) {
    pp_err err = {0};
    int rc = pp_sched_parse_csv(text, strlen(text), "t.csv", naming, s, found, &err);
    ck_assert_msg(rc == 0, "parse '%s': %s", text, err.msg);
}

/* Parses a string, expecting failure with every one of the given
 * substrings (NULL-terminated list) in the message. */
static void parse_fails(const char *text, pp_sched_naming naming, const char *const *want) {
    pp_err err = {0};
    pp_sched s;
    memset(&s, 0x5a, sizeof s); /* *out must stay untouched on failure */
    pp_sched before = s;
    int rc = pp_sched_parse_csv(text, strlen(text), "bad.csv", naming, &s, NULL, &err);
    ck_assert_msg(rc == -1, "parse '%s' should fail", text);
    ck_assert_msg(memcmp(&s, &before, sizeof s) == 0, "parse '%s' touched *out on failure", text);
    for (int i = 0; want[i]; i++)
        ck_assert_msg(strstr(err.msg, want[i]) != NULL, "parse '%s': message \"%s\" lacks \"%s\"", text, err.msg,
                      want[i]);
}

/* Writes in a naming, expecting success; caller frees. */
static char *write_ok(const pp_sched *s, pp_sched_naming naming) {
    pp_err err = {0};
    char *out = NULL;
    size_t len = 0;
    int rc = pp_sched_write_csv(s, naming, &out, &len, &err);
    ck_assert_msg(rc == 0, "write: %s", err.msg);
    ck_assert_uint_eq(len, strlen(out));
    return out;
}

/* File bytes with "\r\n" turned into "\n" and exactly one final "\n". */
static char *normalized_file(const char *path) {
    pp_err err = {0};
    char *data = NULL;
    size_t len = 0;
    ck_assert_msg(pp_io_read_file(path, &data, &len, &err) == 0, "%s", err.msg);
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        if (!(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')) data[o++] = data[i];
    while (o > 0 && data[o - 1] == '\n') o--;
    char *out = malloc(o + 2);
    ck_assert_ptr_nonnull(out);
    memcpy(out, data, o);
    out[o] = '\n';
    out[o + 1] = '\0';
    free(data);
    return out;
}

static void assert_action(const pp_action *a, int type, int stage, int mb) {
    ck_assert_int_eq(a->type, type);
    ck_assert_int_eq(a->stage, stage);
    ck_assert_int_eq(a->mb, mb);
}

static void assert_sub(const pp_subaction *a, int type, int stage, int mb) {
    ck_assert_int_eq(a->type, type);
    ck_assert_int_eq(a->stage, stage);
    ck_assert_int_eq(a->mb, mb);
}

/* ---- the compat files ---- */

static const struct {
    const char *path;
    pp_sched_naming naming;
    int ranks, stages, mbs;
    pp_sched_form form;
} k_compat[] = {
    {ZB_COMPUTE, PP_NAMING_LEGACY, 2, 4, 8, PP_SCHED_COMPUTE_ONLY},
    {ZB_COMMS, PP_NAMING_LEGACY, 2, 4, 8, PP_SCHED_COMPUTE_COMMS},
    {DUALPIPEV, PP_NAMING_CURRENT, 4, 8, 10, PP_SCHED_COMPUTE_ONLY},
};

START_TEST(test_compat_detect_and_counts) {
    pp_sched s;
    pp_sched_naming found = PP_NAMING_AUTO;
    load(k_compat[_i].path, PP_NAMING_AUTO, &s, &found);
    ck_assert_int_eq(found, k_compat[_i].naming);
    ck_assert_int_eq(s.n_ranks, k_compat[_i].ranks);
    ck_assert_int_eq(pp_sched_n_stages(&s), k_compat[_i].stages);
    ck_assert_int_eq(pp_sched_n_microbatches(&s), k_compat[_i].mbs);
    ck_assert_int_eq(pp_sched_form_of(&s), k_compat[_i].form);
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_compat_write_back_identical) {
    pp_sched s;
    pp_sched_naming found = PP_NAMING_AUTO;
    load(k_compat[_i].path, PP_NAMING_AUTO, &s, &found);
    char *text = write_ok(&s, found);
    char *want = normalized_file(k_compat[_i].path);
    ck_assert_str_eq(text, want);
    free(text);
    free(want);
    pp_sched_free(&s);
}
END_TEST

/* Written in the other naming and read back with AUTO: the same table. */
START_TEST(test_compat_other_naming_round_trip) {
    pp_sched s, back;
    pp_sched_naming found = PP_NAMING_AUTO, found2 = PP_NAMING_AUTO;
    load(k_compat[_i].path, PP_NAMING_AUTO, &s, &found);
    pp_sched_naming other = found == PP_NAMING_LEGACY ? PP_NAMING_CURRENT : PP_NAMING_LEGACY;
    char *text = write_ok(&s, other);
    parse_ok(text, PP_NAMING_AUTO, &back, &found2);
    ck_assert_int_eq(found2, other);
    ck_assert(pp_sched_equal(&s, &back));
    /* And the explicit naming reads it the same way. */
    pp_sched back2;
    parse_ok(text, other, &back2, NULL);
    ck_assert(pp_sched_equal(&s, &back2));
    free(text);
    pp_sched_free(&s);
    pp_sched_free(&back);
    pp_sched_free(&back2);
}
END_TEST

START_TEST(test_compat_decode_zb1p) {
    pp_sched s;
    load(ZB_COMMS, PP_NAMING_AUTO, &s, NULL);
    /* rank 0: ...,2RECV_B0,2BW0,2SEND_B0,... -- legacy BW is the full backward */
    assert_action(&s.ranks[0].acts[0], PP_ACT_F, 0, 0);
    assert_action(&s.ranks[0].acts[1], PP_ACT_SEND_F, 0, 0);
    assert_action(&s.ranks[0].acts[2], PP_ACT_RECV_F, 2, 0);
    assert_action(&s.ranks[0].acts[10], PP_ACT_RECV_B, 2, 0);
    assert_action(&s.ranks[0].acts[11], PP_ACT_B, 2, 0);
    assert_action(&s.ranks[0].acts[12], PP_ACT_SEND_B, 2, 0);
    /* rank 1: ...,3B0,... -- legacy B is the backward for inputs; 3W0 */
    assert_action(&s.ranks[1].acts[9], PP_ACT_I, 3, 0);
    assert_action(&s.ranks[1].acts[17], PP_ACT_W, 3, 0);
    ck_assert_int_eq(s.ranks[0].n, 80);
    ck_assert_int_eq(s.ranks[1].n, 96);
    pp_sched_free(&s);

    load(ZB_COMPUTE, PP_NAMING_AUTO, &s, NULL);
    /* rank 0: 0F0,0F1,2F0,,2F1,2B0,2W0 */
    assert_action(&s.ranks[0].acts[3], PP_ACT_NONE, -1, -1);
    assert_action(&s.ranks[0].acts[5], PP_ACT_I, 2, 0);
    assert_action(&s.ranks[0].acts[6], PP_ACT_W, 2, 0);
    /* rank 1 starts with an idle step */
    assert_action(&s.ranks[1].acts[0], PP_ACT_NONE, -1, -1);
    assert_action(&s.ranks[1].acts[1], PP_ACT_F, 1, 0);
    ck_assert_int_eq(s.ranks[0].n, 49);
    ck_assert_int_eq(s.ranks[1].n, 49);
    pp_sched_free(&s);

    /* Read with the wrong naming, legacy 2B0 would silently become a full
     * backward; the explicit current naming refuses BW at least. */
    pp_err err = {0};
    ck_assert_int_eq(pp_sched_load_csv(ZB_COMMS, PP_NAMING_CURRENT, &s, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "zb1p_2rank_2stagep_comms.csv:1:12: cell '2BW0'"), "%s", err.msg);
}
END_TEST

START_TEST(test_compat_decode_dualpipev) {
    pp_sched s;
    load(DUALPIPEV, PP_NAMING_AUTO, &s, NULL);
    const pp_action *a = &s.ranks[0].acts[17]; /* (0F7;7B3)OVERLAP_F_B */
    ck_assert_int_eq(a->type, PP_ACT_OVERLAP_F_B);
    ck_assert_int_eq(a->stage, -1);
    ck_assert_int_eq(a->mb, -1);
    assert_sub(&a->sub[0], PP_ACT_F, 0, 7);
    assert_sub(&a->sub[1], PP_ACT_B, 7, 3);
    assert_action(&s.ranks[0].acts[7], PP_ACT_F, 7, 0);
    assert_action(&s.ranks[0].acts[8], PP_ACT_I, 7, 0);
    assert_action(&s.ranks[0].acts[9], PP_ACT_W, 7, 0);
    assert_action(&s.ranks[0].acts[23], PP_ACT_B, 7, 6);
    a = &s.ranks[3].acts[10]; /* (4F4;3B0)OVERLAP_F_B */
    assert_sub(&a->sub[0], PP_ACT_F, 4, 4);
    assert_sub(&a->sub[1], PP_ACT_B, 3, 0);
    ck_assert_int_eq(s.ranks[0].n, 38);
    ck_assert_int_eq(s.ranks[3].n, 33);
    pp_sched_free(&s);
}
END_TEST

/* ---- tables built in code ---- */

/* Every kind of action, a row of one idle step and an empty row. */
static void build_table(pp_sched *s, int with_overlap_i) {
    pp_err err = {0};
    ck_assert_int_eq(pp_sched_init(s, 5, &err), 0);
    pp_action r0[] = {
        pp_action_make(PP_ACT_F, 0, 0),      pp_action_make(PP_ACT_SEND_F, 0, 0),
        pp_action_make(PP_ACT_NONE, 3, 3),   pp_action_make(PP_ACT_RECV_B, 0, 0),
        pp_action_make(PP_ACT_I, 0, 0),      pp_action_make(PP_ACT_W, 0, 0),
        pp_action_make(PP_ACT_B, 2, 1),      pp_action_make(PP_ACT_ALLREDUCE, 0, -1),
        pp_action_make(PP_ACT_OPTIM, 0, -1), pp_action_make(PP_ACT_NONE, -1, -1),
    };
    for (size_t i = 0; i < sizeof r0 / sizeof r0[0]; i++) ck_assert_int_eq(pp_sched_push(s, 0, r0[i], &err), 0);
    pp_action r1[] = {
        pp_action_make(PP_ACT_UNSHARD, 1, -1),
        pp_action_make(PP_ACT_RECV_F, 1, 0),
        pp_action_overlap(1, 12, PP_ACT_B, 3, 123456789),
        pp_action_overlap(1, 0, PP_ACT_W, 1, 0),
        pp_action_make(PP_ACT_SEND_B, 1, 0),
        pp_action_make(PP_ACT_RESHARD, 1, -1),
    };
    for (size_t i = 0; i < sizeof r1 / sizeof r1[0]; i++) ck_assert_int_eq(pp_sched_push(s, 1, r1[i], &err), 0);
    if (with_overlap_i)
        ck_assert_int_eq(pp_sched_push(s, 1, pp_action_overlap(1, 1, PP_ACT_I, 1, 1), &err), 0);
    ck_assert_int_eq(pp_sched_push(s, 2, pp_action_make(PP_ACT_NONE, -1, -1), &err), 0);
    /* rank 3: no actions */
    ck_assert_int_eq(pp_sched_push(s, 4, pp_action_make(PP_ACT_F, 999999999, 7), &err), 0);
}

START_TEST(test_built_round_trip_current) {
    pp_sched s, back;
    pp_sched_naming found = PP_NAMING_AUTO;
    build_table(&s, 1);
    char *text = write_ok(&s, PP_NAMING_CURRENT);
    ck_assert_str_eq(text, "0F0,0SEND_F0,,0RECV_B0,0I0,0W0,2B1,0REDUCE_GRAD,0OPTIM,\n"
                           "1UNSHARD,1RECV_F0,(1F12;3B123456789)OVERLAP_F_B,(1F0;1W0)OVERLAP_F_B,1SEND_B0,"
                           "1RESHARD,(1F1;1I1)OVERLAP_F_B\n"
                           "\"\"\n"
                           "\n"
                           "999999999F7\n");
    parse_ok(text, PP_NAMING_AUTO, &back, &found);
    ck_assert_int_eq(found, PP_NAMING_CURRENT);
    ck_assert(pp_sched_equal(&s, &back));
    ck_assert_int_eq(back.ranks[2].n, 1);
    ck_assert_int_eq(back.ranks[3].n, 0);
    ck_assert_int_eq(pp_sched_n_stages(&back), 1000000000);
    ck_assert_int_eq(pp_sched_n_microbatches(&back), 123456790);
    free(text);
    pp_sched_free(&s);
    pp_sched_free(&back);
}
END_TEST

START_TEST(test_built_round_trip_legacy) {
    pp_sched s, back;
    pp_sched_naming found = PP_NAMING_AUTO;
    build_table(&s, 0);
    char *text = write_ok(&s, PP_NAMING_LEGACY);
    ck_assert_str_eq(text, "0F0,0SEND_F0,,0RECV_B0,0B0,0W0,2BW1,0REDUCE_GRAD,0OPTIM,\n"
                           "1UNSHARD,1RECV_F0,(1F12;3BW123456789)OVERLAP_F_B,(1F0;1W0)OVERLAP_F_B,1SEND_B0,"
                           "1RESHARD\n"
                           "\"\"\n"
                           "\n"
                           "999999999F7\n");
    parse_ok(text, PP_NAMING_AUTO, &back, &found);
    ck_assert_int_eq(found, PP_NAMING_LEGACY);
    ck_assert(pp_sched_equal(&s, &back));
    pp_sched_free(&back);
    parse_ok(text, PP_NAMING_LEGACY, &back, &found);
    ck_assert_int_eq(found, PP_NAMING_LEGACY);
    ck_assert(pp_sched_equal(&s, &back));
    free(text);
    pp_sched_free(&s);
    pp_sched_free(&back);
}
END_TEST

START_TEST(test_save_and_load) {
    pp_sched s, back;
    pp_err err = {0};
    char path[64];
    snprintf(path, sizeof path, "/tmp/pp_test_sched_%ld.csv", (long)getpid());
    build_table(&s, 1);
    ck_assert_msg(pp_sched_save_csv(&s, path, PP_NAMING_CURRENT, &err) == 0, "%s", err.msg);
    load(path, PP_NAMING_CURRENT, &back, NULL);
    ck_assert(pp_sched_equal(&s, &back));
    unlink(path);
    pp_sched_free(&back);
    ck_assert_int_eq(pp_sched_load_csv(path, PP_NAMING_AUTO, &back, NULL, &err), -1);
    ck_assert_int_eq(err.code, PP_ERR_IO);
    ck_assert_msg(strstr(err.msg, path), "%s", err.msg);
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_write_refusals) {
    pp_sched s;
    pp_err err = {0};
    char *out = NULL;
    size_t len = 0;
    build_table(&s, 1);
    /* An overlap whose backward is I has no faithful legacy cell. */
    ck_assert_int_eq(pp_sched_write_csv(&s, PP_NAMING_LEGACY, &out, &len, &err), -1);
    ck_assert_msg(strstr(err.msg, "legacy"), "%s", err.msg);
    ck_assert_int_eq(pp_sched_write_csv(&s, PP_NAMING_AUTO, &out, &len, &err), -1);
    pp_sched_free(&s);

    const pp_action bad[] = {
        pp_action_make(PP_ACT_F, 0, -1),         /* F needs a microbatch */
        pp_action_make(PP_ACT_F, -1, 0),         /* and a stage */
        pp_action_make(PP_ACT_W, 1000000000, 0), /* does not read back (10 digits) */
        pp_action_make(PP_ACT_OPTIM, 0, 3),      /* OPTIM has no microbatch */
        pp_action_overlap(0, 0, PP_ACT_F, 1, 0), /* second part must be a backward */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(pp_sched_init(&s, 2, &err), 0);
        ck_assert_int_eq(pp_sched_push(&s, 1, pp_action_make(PP_ACT_F, 0, 0), &err), 0);
        ck_assert_int_eq(pp_sched_push(&s, 1, bad[i], &err), 0);
        err.msg[0] = '\0';
        ck_assert_int_eq(pp_sched_write_csv(&s, PP_NAMING_CURRENT, &out, &len, &err), -1);
        ck_assert_msg(strstr(err.msg, "rank 1 action 1"), "case %zu: %s", i, err.msg);
        pp_sched_free(&s);
    }
}
END_TEST

START_TEST(test_table_ops) {
    pp_sched s, c;
    pp_err err = {0};
    build_table(&s, 1);
    ck_assert_int_eq(pp_sched_copy(&c, &s, &err), 0);
    ck_assert(pp_sched_equal(&s, &c));
    ck_assert_ptr_ne(c.ranks[0].acts, s.ranks[0].acts);
    c.ranks[1].acts[2].sub[1].mb = 4;
    ck_assert(!pp_sched_equal(&s, &c));
    c.ranks[1].acts[2].sub[1].mb = 123456789;
    ck_assert(pp_sched_equal(&s, &c));
    /* Fields an action does not use do not count. */
    c.ranks[0].acts[2].stage = 5;
    c.ranks[1].acts[2].stage = 9;
    ck_assert(pp_sched_equal(&s, &c));
    c.ranks[0].acts[0].mb = 1;
    ck_assert(!pp_sched_equal(&s, &c));
    c.ranks[0].acts[0].mb = 0;
    c.ranks[0].n--;
    ck_assert(!pp_sched_equal(&s, &c));
    pp_sched_free(&c);

    ck_assert_int_eq(pp_sched_push(&s, 5, pp_action_make(PP_ACT_F, 0, 0), &err), -1);
    ck_assert_msg(strstr(err.msg, "rank 5"), "%s", err.msg);
    ck_assert_int_eq(pp_sched_push(&s, -1, pp_action_make(PP_ACT_F, 0, 0), &err), -1);
    pp_action junk = pp_action_make(PP_ACT_F, 0, 0);
    junk.type = PP_ACT__COUNT;
    ck_assert_int_eq(pp_sched_push(&s, 0, junk, &err), -1);
    ck_assert_int_eq(pp_sched_init(&c, -1, &err), -1);
    pp_sched_free(&s);

    /* Overlap parts count for stages and microbatches; so does form. */
    ck_assert_int_eq(pp_sched_init(&s, 1, &err), 0);
    ck_assert_int_eq(pp_sched_n_stages(&s), 0);
    ck_assert_int_eq(pp_sched_n_microbatches(&s), 0);
    ck_assert_int_eq(pp_sched_push(&s, 0, pp_action_make(PP_ACT_F, 1, 1), &err), 0);
    ck_assert_int_eq(pp_sched_push(&s, 0, pp_action_overlap(2, 9, PP_ACT_B, 6, 0), &err), 0);
    ck_assert_int_eq(pp_sched_n_stages(&s), 7);
    ck_assert_int_eq(pp_sched_n_microbatches(&s), 10);
    ck_assert_int_eq(pp_sched_form_of(&s), PP_SCHED_COMPUTE_ONLY);
    ck_assert_int_eq(pp_sched_push(&s, 0, pp_action_make(PP_ACT_RECV_B, 1, 1), &err), 0);
    ck_assert_int_eq(pp_sched_form_of(&s), PP_SCHED_COMPUTE_COMMS);
    pp_sched_free(&s);
    pp_sched_free(&s); /* freeing twice is harmless */
}
END_TEST

/* ---- cells ---- */

START_TEST(test_cell_names) {
    ck_assert_str_eq(pp_act_type_name(PP_ACT_I, PP_NAMING_CURRENT), "I");
    ck_assert_str_eq(pp_act_type_name(PP_ACT_I, PP_NAMING_LEGACY), "B");
    ck_assert_str_eq(pp_act_type_name(PP_ACT_B, PP_NAMING_CURRENT), "B");
    ck_assert_str_eq(pp_act_type_name(PP_ACT_B, PP_NAMING_LEGACY), "BW");
    ck_assert_str_eq(pp_act_type_name(PP_ACT_W, PP_NAMING_LEGACY), "W");
    ck_assert_str_eq(pp_act_type_name(PP_ACT_ALLREDUCE, PP_NAMING_CURRENT), "REDUCE_GRAD");
    ck_assert_str_eq(pp_act_type_name(PP_ACT_RECV_B, PP_NAMING_LEGACY), "RECV_B");
    ck_assert_str_eq(pp_act_type_name(PP_ACT_NONE, PP_NAMING_CURRENT), "");
    ck_assert_str_eq(pp_act_type_name(PP_ACT__COUNT, PP_NAMING_CURRENT), "?");
}
END_TEST

START_TEST(test_cell_parse_and_format) {
    static const struct {
        const char *cell;
        pp_sched_naming naming;
        int type, stage, mb;
    } cases[] = {
        {"0F1", PP_NAMING_CURRENT, PP_ACT_F, 0, 1},
        {"2I1", PP_NAMING_CURRENT, PP_ACT_I, 2, 1},
        {"1W3", PP_NAMING_CURRENT, PP_ACT_W, 1, 3},
        {"7B6", PP_NAMING_CURRENT, PP_ACT_B, 7, 6},
        {"2B0", PP_NAMING_LEGACY, PP_ACT_I, 2, 0},
        {"2BW0", PP_NAMING_LEGACY, PP_ACT_B, 2, 0},
        {"2SEND_B2", PP_NAMING_CURRENT, PP_ACT_SEND_B, 2, 2},
        {"1RECV_F1", PP_NAMING_LEGACY, PP_ACT_RECV_F, 1, 1},
        {"10SEND_F20", PP_NAMING_CURRENT, PP_ACT_SEND_F, 10, 20},
        {"3RECV_B0", PP_NAMING_CURRENT, PP_ACT_RECV_B, 3, 0},
        {"0REDUCE_GRAD", PP_NAMING_CURRENT, PP_ACT_ALLREDUCE, 0, -1},
        {"4OPTIM", PP_NAMING_LEGACY, PP_ACT_OPTIM, 4, -1},
        {"1UNSHARD", PP_NAMING_CURRENT, PP_ACT_UNSHARD, 1, -1},
        {"1RESHARD", PP_NAMING_CURRENT, PP_ACT_RESHARD, 1, -1},
        {"", PP_NAMING_CURRENT, PP_ACT_NONE, -1, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pp_action a;
        pp_err err = {0};
        char buf[64];
        ck_assert_msg(pp_action_parse(cases[i].cell, cases[i].naming, &a, &err) == 0, "%s: %s", cases[i].cell,
                      err.msg);
        assert_action(&a, cases[i].type, cases[i].stage, cases[i].mb);
        pp_action_format(&a, cases[i].naming, buf, sizeof buf);
        ck_assert_str_eq(buf, cases[i].cell);
    }
    pp_action a;
    pp_err err = {0};
    char buf[64];
    ck_assert_int_eq(pp_action_parse("(0F7;7B3)OVERLAP_F_B", PP_NAMING_LEGACY, &a, &err), 0);
    ck_assert_int_eq(a.type, PP_ACT_OVERLAP_F_B);
    assert_sub(&a.sub[0], PP_ACT_F, 0, 7);
    assert_sub(&a.sub[1], PP_ACT_I, 7, 3); /* legacy B inside an overlap too */
    ck_assert_int_eq(pp_action_parse("( 1F2 ; 3BW4 )OVERLAP_F_B", PP_NAMING_LEGACY, &a, &err), 0);
    assert_sub(&a.sub[0], PP_ACT_F, 1, 2);
    assert_sub(&a.sub[1], PP_ACT_B, 3, 4);
    pp_action_format(&a, PP_NAMING_CURRENT, buf, sizeof buf);
    ck_assert_str_eq(buf, "(1F2;3B4)OVERLAP_F_B");
    pp_action_format(&a, PP_NAMING_LEGACY, buf, sizeof buf);
    ck_assert_str_eq(buf, "(1F2;3BW4)OVERLAP_F_B");
    ck_assert_int_eq(pp_action_parse("0F0", PP_NAMING_AUTO, &a, &err), -1);
}
END_TEST

START_TEST(test_cell_errors) {
    static const struct {
        const char *cell;
        pp_sched_naming naming;
        const char *why;
    } cases[] = {
        {"3Q0", PP_NAMING_CURRENT, "unknown action type at 'Q0'"},
        {"F0", PP_NAMING_CURRENT, "expected a stage number"},
        {"0F", PP_NAMING_CURRENT, "microbatch number after 'F'"},
        {"0F-1", PP_NAMING_CURRENT, "must not be negative"},
        {"-1F0", PP_NAMING_CURRENT, "stage number must not be negative"},
        {"0F0x", PP_NAMING_CURRENT, "unexpected text 'x' after '0F0'"},
        {"0F1234567890", PP_NAMING_CURRENT, "more than 9 digits"},
        {"1234567890F0", PP_NAMING_CURRENT, "more than 9 digits"},
        {"0F01", PP_NAMING_CURRENT, "leading zero"},
        {"0", PP_NAMING_CURRENT, "expected an action type"},
        {"0OPTIM1", PP_NAMING_CURRENT, "OPTIM takes no microbatch"},
        {"0REDUCE_GRADx", PP_NAMING_CURRENT, "unexpected text"},
        {"0BW1", PP_NAMING_CURRENT, "'BW' is the legacy name"},
        {"0I1", PP_NAMING_LEGACY, "'I' is not a type in the legacy naming"},
        {"(0F7;7B3)", PP_NAMING_CURRENT, "expected 'OVERLAP_F_B'"},
        {"(0F7;7B3)OVERLAP_F_BX", PP_NAMING_CURRENT, "expected 'OVERLAP_F_B'"},
        {"(0F7,7B3)OVERLAP_F_B", PP_NAMING_CURRENT, "separated by ';'"},
        {"(0F7;7B3;1F1)OVERLAP_F_B", PP_NAMING_CURRENT, "exactly two"},
        {"(0F7;7Q3)OVERLAP_F_B", PP_NAMING_CURRENT, "part '7Q3'"},
        {"(0F7;)OVERLAP_F_B", PP_NAMING_CURRENT, "empty action"},
        {"(7B3;0F7)OVERLAP_F_B", PP_NAMING_CURRENT, "needs a forward first"},
        {"(0F7;1F3)OVERLAP_F_B", PP_NAMING_CURRENT, "needs a backward second"},
        {"(0F7;7SEND_B3)OVERLAP_F_B", PP_NAMING_CURRENT, "needs a backward second"},
        {"((0F7;7B3)OVERLAP_F_B;1B1)OVERLAP_F_B", PP_NAMING_CURRENT, "expected 'OVERLAP_F_B'"},
        {"(0F7;7B3", PP_NAMING_CURRENT, "missing ')'"},
        {"0OVERLAP_F_B", PP_NAMING_CURRENT, "unknown action type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pp_action a;
        pp_err err = {0};
        ck_assert_msg(pp_action_parse(cases[i].cell, cases[i].naming, &a, &err) == -1, "'%s' should fail",
                      cases[i].cell);
        ck_assert_msg(strstr(err.msg, cases[i].why), "'%s': \"%s\" lacks \"%s\"", cases[i].cell, err.msg,
                      cases[i].why);
    }
}
END_TEST

/* ---- CSV text ---- */

START_TEST(test_csv_tolerance) {
    pp_sched s, want;
    pp_err err = {0};
    ck_assert_int_eq(pp_sched_init(&want, 4, &err), 0);
    ck_assert_int_eq(pp_sched_push(&want, 0, pp_action_make(PP_ACT_F, 0, 0), &err), 0);
    ck_assert_int_eq(pp_sched_push(&want, 0, pp_action_make(PP_ACT_NONE, -1, -1), &err), 0);
    ck_assert_int_eq(pp_sched_push(&want, 0, pp_action_overlap(0, 1, PP_ACT_B, 1, 0), &err), 0);
    /* rank 1: no actions */
    ck_assert_int_eq(pp_sched_push(&want, 2, pp_action_make(PP_ACT_F, 1, 0), &err), 0);
    ck_assert_int_eq(pp_sched_push(&want, 2, pp_action_make(PP_ACT_B, 1, 0), &err), 0);
    ck_assert_int_eq(pp_sched_push(&want, 3, pp_action_make(PP_ACT_NONE, -1, -1), &err), 0);
    static const char *const texts[] = {
        "0F0,,(0F1;1B0)OVERLAP_F_B\n\n1F0,1B0\n\"\"\n",
        "0F0,,(0F1;1B0)OVERLAP_F_B\r\n\r\n1F0,1B0\r\n\"\"",
        " 0F0 ,\t, \"(0F1;1B0)OVERLAP_F_B\" \n\n\"1F0\",1B0 \r\n \"\" \r\n",
        "\357\273\2770F0,\"\",(0F1; 1B0)OVERLAP_F_B\n\n1F0,1B0\n\"\"",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        pp_sched_naming found = PP_NAMING_AUTO;
        parse_ok(texts[i], PP_NAMING_AUTO, &s, &found);
        ck_assert_int_eq(found, PP_NAMING_CURRENT);
        ck_assert_msg(pp_sched_equal(&s, &want), "text %zu", i);
        pp_sched_free(&s);
    }
    /* A line of blanks is one idle step, like Python's csv module reads it. */
    parse_ok("0F0\n  \n", PP_NAMING_CURRENT, &s, NULL);
    ck_assert_int_eq(s.n_ranks, 2);
    ck_assert_int_eq(s.ranks[1].n, 1);
    ck_assert_int_eq(s.ranks[1].acts[0].type, PP_ACT_NONE);
    pp_sched_free(&s);
    /* A trailing empty line after the final newline is an empty last rank. */
    parse_ok("0F0\n\n", PP_NAMING_CURRENT, &s, NULL);
    ck_assert_int_eq(s.n_ranks, 2);
    ck_assert_int_eq(s.ranks[1].n, 0);
    pp_sched_free(&s);
    pp_sched_free(&want);
}
END_TEST

START_TEST(test_csv_detection) {
    pp_sched s;
    pp_sched_naming found;
    static const struct {
        const char *text;
        pp_sched_naming naming;
        int type_of_first_backward;
    } cases[] = {
        {"0F0,0B0,0W0\n", PP_NAMING_LEGACY, PP_ACT_I},               /* W but no I */
        {"0F0,0BW0\n", PP_NAMING_LEGACY, PP_ACT_B},                  /* BW */
        {"0F0,0I0,0W0\n", PP_NAMING_CURRENT, PP_ACT_I},              /* I and W */
        {"0F0,0B0\n", PP_NAMING_CURRENT, PP_ACT_B},                  /* neither */
        {"0F0\n1F0,1B0,(0F1;1BW1)OVERLAP_F_B\n", PP_NAMING_LEGACY, -1},  /* BW inside an overlap */
        {"0F0,0B0\n1F0,(0F1;1I1)OVERLAP_F_B,1W0\n", PP_NAMING_CURRENT, PP_ACT_B}, /* I inside an overlap */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        found = PP_NAMING_AUTO;
        parse_ok(cases[i].text, PP_NAMING_AUTO, &s, &found);
        ck_assert_msg(found == cases[i].naming, "case %zu: found %d", i, (int)found);
        if (cases[i].type_of_first_backward >= 0)
            ck_assert_int_eq(s.ranks[0].acts[1].type, cases[i].type_of_first_backward);
        pp_sched_free(&s);
    }
    /* An explicit naming is reported back as found. */
    parse_ok("0F0,0B0\n", PP_NAMING_LEGACY, &s, &found);
    ck_assert_int_eq(found, PP_NAMING_LEGACY);
    ck_assert_int_eq(s.ranks[0].acts[1].type, PP_ACT_I);
    pp_sched_free(&s);
}
END_TEST

START_TEST(test_csv_errors) {
    parse_fails("0F0,0F1\n1F0,1F1,3Q0\n", PP_NAMING_AUTO,
                (const char *const[]){"bad.csv:2:3: cell '3Q0': ", "unknown action type", NULL});
    parse_fails("F0\n", PP_NAMING_CURRENT, (const char *const[]){"bad.csv:1:1: cell 'F0': ", NULL});
    parse_fails("0F0\r\n\r\n2F0, 0F \r\n", PP_NAMING_AUTO, (const char *const[]){"bad.csv:3:2: cell '0F': ", NULL});
    parse_fails("0F0,0F-1", PP_NAMING_AUTO, (const char *const[]){"bad.csv:1:2: cell '0F-1': ", "negative", NULL});
    parse_fails("0F0,,,0F1x\n", PP_NAMING_AUTO, (const char *const[]){"bad.csv:1:4: cell '0F1x'", NULL});
    parse_fails("0F0,0F1234567890\n", PP_NAMING_AUTO,
                (const char *const[]){"bad.csv:1:2: cell '0F1234567890'", "9 digits", NULL});
    parse_fails("0F0,\"0F1\n", PP_NAMING_AUTO, (const char *const[]){"bad.csv:1:2: cell '\"0F1'", "closing", NULL});
    parse_fails("0F0,\"0F1\"x,0F2\n", PP_NAMING_AUTO, (const char *const[]){"bad.csv:1:2: ", "after the closing", NULL});
    parse_fails("0F0,\"0F\"\"1\"\n", PP_NAMING_AUTO, (const char *const[]){"bad.csv:1:2: ", NULL});
    parse_fails("0F0,0BW0\n", PP_NAMING_CURRENT, (const char *const[]){"bad.csv:1:2: cell '0BW0'", "legacy", NULL});
    parse_fails("0F0,0I0\n", PP_NAMING_LEGACY, (const char *const[]){"bad.csv:1:2: cell '0I0'", NULL});
    /* AUTO sees BW, reads legacy, and then I is wrong: say why legacy. */
    parse_fails("0F0,0BW0\n1F0,1I0,1W0\n", PP_NAMING_AUTO,
                (const char *const[]){"bad.csv:2:2: cell '1I0'", "detected from cell '0BW0' at 1:2", NULL});
    parse_fails("0F0,(0F1;1Q1)OVERLAP_F_B\n", PP_NAMING_AUTO,
                (const char *const[]){"bad.csv:1:2: cell '(0F1;1Q1)OVERLAP_F_B'", "part '1Q1'", NULL});
    static const char *const empties[] = {"", "\n", "\n\n\n", "\r\n"};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++)
        parse_fails(empties[i], PP_NAMING_AUTO, (const char *const[]){"bad.csv: no rows", NULL});
}
END_TEST

/* Text with a NUL inside: parse_fails uses strlen, so check it here. */
START_TEST(test_csv_nul_byte) {
    static const char text[] = "0F0,0F\0001\n";
    pp_err err = {0};
    pp_sched s;
    ck_assert_int_eq(pp_sched_parse_csv(text, sizeof text - 1, "nul.csv", PP_NAMING_AUTO, &s, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "nul.csv:1:2: cell '0F?1'"), "%s", err.msg);
    /* A stray carriage return shows as '?' in the message, not raw. */
    ck_assert_int_eq(pp_sched_parse_csv("0F0\r,0F1\n", 9, "cr.csv", PP_NAMING_AUTO, &s, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "cr.csv:1:1: cell '0F0?': unexpected text '?' after '0F0'"), "%s", err.msg);
}
END_TEST

static Suite *sched_suite(void) {
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("compat");
    int n_compat = (int)(sizeof k_compat / sizeof k_compat[0]);
    tcase_add_loop_test(tc, test_compat_detect_and_counts, 0, n_compat);
    tcase_add_loop_test(tc, test_compat_write_back_identical, 0, n_compat);
    tcase_add_loop_test(tc, test_compat_other_naming_round_trip, 0, n_compat);
    tcase_add_test(tc, test_compat_decode_zb1p);
    tcase_add_test(tc, test_compat_decode_dualpipev);
    suite_add_tcase(s, tc);

    tc = tcase_create("table");
    tcase_add_test(tc, test_built_round_trip_current);
    tcase_add_test(tc, test_built_round_trip_legacy);
    tcase_add_test(tc, test_save_and_load);
    tcase_add_test(tc, test_write_refusals);
    tcase_add_test(tc, test_table_ops);
    suite_add_tcase(s, tc);

    tc = tcase_create("cells");
    tcase_add_test(tc, test_cell_names);
    tcase_add_test(tc, test_cell_parse_and_format);
    tcase_add_test(tc, test_cell_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("csv");
    tcase_add_test(tc, test_csv_tolerance);
    tcase_add_test(tc, test_csv_detection);
    tcase_add_test(tc, test_csv_errors);
    tcase_add_test(tc, test_csv_nul_byte);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return pp_test_run(sched_suite());
}
