/*
 * test_trace.c -- trace events and their Chrome trace JSON (core/pp_trace.h):
 * bit-exact round trips, the layout Perfetto sees (metadata names, "X"
 * events, microseconds), sorting, and the errors for malformed traces.
 */
#include "core/pp_json.h"
#include "core/pp_sched.h"
#include "core/pp_trace.h"

#include <check.h>

#include "tests/pp_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pp_trace_event ev(int rank, int stream, int action, int stage, int mb, double start, double end,
                         long long bytes) {
    pp_trace_event e = {.rank = rank, .stream = stream, .action = action, .stage = stage, .mb = mb,
                        .start = start, .end = end, .bytes = bytes};
    return e;
}

/* Events with awkward doubles and every stream. */
static void build_trace(pp_trace *t) {
    pp_err err = {0};
    pp_trace_init(t);
    const pp_trace_event evs[] = {
        ev(1, PP_STREAM_COMPUTE, PP_ACT_F, 2, 5, 0.1, 0.1 + 1.0 / 3.0, 0),
        ev(0, PP_STREAM_COMPUTE, PP_ACT_F, 0, 0, 0.0, 1e-9, 0),
        ev(0, PP_STREAM_SEND, PP_ACT_SEND_F, 0, 0, 1e-9, 2.000000000000001e-6, 1LL << 40),
        ev(1, PP_STREAM_RECV, PP_ACT_RECV_F, 2, 5, 0.05, 0.1, 123456789),
        ev(0, PP_STREAM_COMPUTE, PP_ACT_B, 0, 0, 0.3333333333333333, 0.7, 0),
        ev(0, PP_STREAM_COMPUTE, PP_ACT_I, 3, 7, 12345.678901234567, 12345.678901234568, 0),
        ev(0, PP_STREAM_COMPUTE, PP_ACT_W, 3, 7, 2.5, 2.5, 0),
        ev(3, PP_STREAM_COLLECTIVE, PP_ACT_ALLREDUCE, 1, -1, 9.87654321e-3, 1.2e-2, 4096),
        ev(3, PP_STREAM_COMPUTE, PP_ACT_OPTIM, 1, -1, -0.0, 5e-324, 0),
        ev(3, PP_STREAM_COMPUTE, PP_ACT_OVERLAP_F_B, -1, -1, 1.0, 2.0, 0),
        ev(3, PP_STREAM_COMPUTE, PP_ACT_NONE, -1, -1, 3.0, 3.0, 0),
    };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) ck_assert_int_eq(pp_trace_add(t, evs[i], &err), 0);
}

static char *write_ok(const pp_trace *t) {
    pp_err err = {0};
    char *out = NULL;
    size_t len = 0;
    ck_assert_msg(pp_trace_write_chrome(t, &out, &len, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(len, strlen(out));
    return out;
}

/* Same events bit for bit (doubles compared by their bytes). */
static void assert_same(const pp_trace *a, const pp_trace *b) {
    ck_assert_int_eq(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const pp_trace_event *x = &a->ev[i], *y = &b->ev[i];
        ck_assert_int_eq(x->rank, y->rank);
        ck_assert_int_eq(x->stream, y->stream);
        ck_assert_int_eq(x->action, y->action);
        ck_assert_int_eq(x->stage, y->stage);
        ck_assert_int_eq(x->mb, y->mb);
        ck_assert_msg(memcmp(&x->start, &y->start, sizeof(double)) == 0, "event %d start %.17g vs %.17g", i,
                      x->start, y->start);
        ck_assert_msg(memcmp(&x->end, &y->end, sizeof(double)) == 0, "event %d end %.17g vs %.17g", i, x->end,
                      y->end);
        ck_assert_int_eq(x->bytes, y->bytes);
    }
}

START_TEST(test_round_trip) {
    pp_trace t, back;
    pp_err err = {0};
    build_trace(&t);
    char *text = write_ok(&t);
    ck_assert_msg(pp_trace_parse_chrome(text, strlen(text), "t.json", &back, &err) == 0, "%s", err.msg);
    assert_same(&t, &back);
    ck_assert(signbit(back.ev[8].start)); /* -0.0 stays negative zero */
    /* Writing what was read gives the same text. */
    char *again = write_ok(&back);
    ck_assert_str_eq(again, text);
    free(text);
    free(again);
    pp_trace_free(&back);
    pp_trace_free(&t);
}
END_TEST

START_TEST(test_empty_trace) {
    pp_trace t, back;
    pp_err err = {0};
    pp_trace_init(&t);
    char *text = write_ok(&t);
    ck_assert_msg(pp_trace_parse_chrome(text, strlen(text), "e.json", &back, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(back.n, 0);
    free(text);
    pp_trace_free(&back);
}
END_TEST

START_TEST(test_save_and_load) {
    pp_trace t, back;
    pp_err err = {0};
    char path[64];
    snprintf(path, sizeof path, "/tmp/pp_test_trace_%ld.json", (long)getpid());
    build_trace(&t);
    ck_assert_msg(pp_trace_save_chrome(&t, path, &err) == 0, "%s", err.msg);
    ck_assert_msg(pp_trace_load_chrome(path, &back, &err) == 0, "%s", err.msg);
    assert_same(&t, &back);
    unlink(path);
    pp_trace_free(&back);
    ck_assert_int_eq(pp_trace_load_chrome(path, &back, &err), -1);
    ck_assert_int_eq(err.code, PP_ERR_IO);
    pp_trace_free(&t);
}
END_TEST

/* What Chrome and Perfetto read: metadata names, X events, microseconds. */
START_TEST(test_chrome_layout) {
    pp_trace t;
    pp_err err = {0};
    pp_json *root = NULL;
    build_trace(&t);
    char *text = write_ok(&t);
    ck_assert_msg(pp_json_parse(text, strlen(text), "t.json", &root, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(pp_json_get(root, "displayTimeUnit")->str, "ms");
    pp_json *evs = pp_json_get(root, "traceEvents");
    ck_assert_int_eq(evs->type, PP_JSON_ARRAY);
    /* ranks 0, 1, 3; streams (0: compute, send), (1: compute, recv), (3: compute, collective) */
    static const struct {
        const char *name;
        int pid, tid;
        const char *arg;
    } meta[] = {
        {"process_name", 0, 0, "rank 0"}, {"thread_name", 0, 0, "compute"}, {"thread_name", 0, 1, "send"},
        {"process_name", 1, 0, "rank 1"}, {"thread_name", 1, 0, "compute"}, {"thread_name", 1, 2, "recv"},
        {"process_name", 3, 0, "rank 3"}, {"thread_name", 3, 0, "compute"}, {"thread_name", 3, 3, "collective"},
    };
    int n_meta = (int)(sizeof meta / sizeof meta[0]);
    ck_assert_int_eq(evs->n, n_meta + t.n);
    for (int i = 0; i < n_meta; i++) {
        pp_json *e = evs->items[i];
        ck_assert_str_eq(pp_json_get(e, "ph")->str, "M");
        ck_assert_str_eq(pp_json_get(e, "name")->str, meta[i].name);
        ck_assert_int_eq(pp_json_get(e, "pid")->inum, meta[i].pid);
        ck_assert_int_eq(pp_json_get(e, "tid")->inum, meta[i].tid);
        ck_assert_str_eq(pp_json_get(pp_json_get(e, "args"), "name")->str, meta[i].arg);
    }
    /* The first pippy event: rank 1, compute, 2F5 from 0.1 s for 1/3 s. */
    pp_json *x = evs->items[n_meta];
    ck_assert_str_eq(pp_json_get(x, "ph")->str, "X");
    ck_assert_str_eq(pp_json_get(x, "name")->str, "2F5");
    ck_assert_str_eq(pp_json_get(x, "cat")->str, "compute");
    ck_assert_int_eq(pp_json_get(x, "pid")->inum, 1);
    ck_assert_int_eq(pp_json_get(x, "tid")->inum, 0);
    ck_assert_double_eq_tol(pp_json_get(x, "ts")->num, 1e5, 1e-6);
    ck_assert_double_eq_tol(pp_json_get(x, "dur")->num, 1e6 / 3.0, 1e-6);
    pp_json *args = pp_json_get(x, "args");
    ck_assert_int_eq(pp_json_get(args, "stage")->inum, 2);
    ck_assert_int_eq(pp_json_get(args, "mb")->inum, 5);
    ck_assert_str_eq(pp_json_get(args, "action")->str, "F");
    ck_assert_int_eq(pp_json_get(args, "bytes")->inum, 0);
    /* Names use the current naming; step-level and odd actions too. */
    static const char *const names[] = {"2F5", "0F0", "0SEND_F0", "2RECV_F5", "0B0", "3I7",
                                        "3W7", "1REDUCE_GRAD", "1OPTIM", "OVERLAP_F_B", "NONE"};
    static const char *const actions[] = {"F", "F", "SEND_F", "RECV_F", "B", "I",
                                          "W", "REDUCE_GRAD", "OPTIM", "OVERLAP_F_B", "NONE"};
    for (int i = 0; i < t.n; i++) {
        pp_json *e = evs->items[n_meta + i];
        ck_assert_str_eq(pp_json_get(e, "name")->str, names[i]);
        ck_assert_str_eq(pp_json_get(pp_json_get(e, "args"), "action")->str, actions[i]);
        ck_assert_str_eq(pp_json_get(e, "cat")->str, pp_stream_name((pp_stream)t.ev[i].stream));
    }
    ck_assert_int_eq(pp_json_get(pp_json_get(evs->items[n_meta + 2], "args"), "bytes")->inum, 1LL << 40);
    pp_json_free(root);
    free(text);
    pp_trace_free(&t);
}
END_TEST

START_TEST(test_sort) {
    pp_trace t;
    build_trace(&t);
    pp_trace_sort(&t);
    for (int i = 1; i < t.n; i++) {
        const pp_trace_event *a = &t.ev[i - 1], *b = &t.ev[i];
        int ok = a->rank < b->rank ||
                 (a->rank == b->rank && (a->stream < b->stream ||
                                         (a->stream == b->stream && (a->start < b->start ||
                                                                     (a->start == b->start && a->end <= b->end)))));
        ck_assert_msg(ok, "events %d and %d out of order", i - 1, i);
    }
    ck_assert_int_eq(t.ev[0].rank, 0);
    ck_assert_int_eq(t.ev[0].action, PP_ACT_F);  /* rank 0 compute at 0.0 */
    ck_assert_int_eq(t.ev[1].action, PP_ACT_B);  /* then at 1/3 */
    ck_assert_int_eq(t.ev[2].action, PP_ACT_W);  /* 2.5 */
    ck_assert_int_eq(t.ev[3].action, PP_ACT_I);  /* 12345.67... */
    ck_assert_int_eq(t.ev[4].stream, PP_STREAM_SEND);
    ck_assert_int_eq(t.ev[t.n - 1].stream, PP_STREAM_COLLECTIVE);
    pp_trace_free(&t);
}
END_TEST

START_TEST(test_stream_names) {
    ck_assert_str_eq(pp_stream_name(PP_STREAM_COMPUTE), "compute");
    ck_assert_str_eq(pp_stream_name(PP_STREAM_SEND), "send");
    ck_assert_str_eq(pp_stream_name(PP_STREAM_RECV), "recv");
    ck_assert_str_eq(pp_stream_name(PP_STREAM_COLLECTIVE), "collective");
    ck_assert_str_eq(pp_stream_name(PP_STREAM__COUNT), "?");
}
END_TEST

START_TEST(test_write_refusals) {
    static const pp_trace_event bad[] = {
        {.rank = -1, .stream = 0, .action = PP_ACT_F, .start = 0, .end = 1},
        {.rank = 0, .stream = PP_STREAM__COUNT, .action = PP_ACT_F, .start = 0, .end = 1},
        {.rank = 0, .stream = 0, .action = PP_ACT__COUNT, .start = 0, .end = 1},
        {.rank = 0, .stream = 0, .action = PP_ACT_F, .start = 1, .end = 0},
        {.rank = 0, .stream = 0, .action = PP_ACT_F, .start = 0, .end = INFINITY},
        {.rank = 0, .stream = 0, .action = PP_ACT_F, .start = NAN, .end = 1},
        {.rank = 0, .stream = 0, .action = PP_ACT_F, .start = 0, .end = 1, .bytes = -1},
        {.rank = 0, .stream = 0, .action = PP_ACT_F, .stage = -2, .start = 0, .end = 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pp_trace t;
        pp_err err = {0};
        char *out = NULL;
        size_t len = 0;
        pp_trace_init(&t);
        ck_assert_int_eq(pp_trace_add(&t, ev(0, 0, PP_ACT_F, 0, 0, 0, 1, 0), &err), 0);
        ck_assert_int_eq(pp_trace_add(&t, bad[i], &err), 0);
        ck_assert_msg(pp_trace_write_chrome(&t, &out, &len, &err) == -1, "case %zu written", i);
        ck_assert_msg(strstr(err.msg, "trace event 1"), "case %zu: %s", i, err.msg);
        pp_trace_free(&t);
    }
}
END_TEST

/* Parses text expecting failure with all the given substrings. */
static void parse_fails(const char *text, const char *const *want) {
    pp_trace t;
    pp_err err = {0};
    memset(&t, 0x5a, sizeof t);
    pp_trace before = t;
    ck_assert_msg(pp_trace_parse_chrome(text, strlen(text), "bad.json", &t, &err) == -1, "accepted: %s", text);
    ck_assert_msg(memcmp(&t, &before, sizeof t) == 0, "*out touched on failure");
    for (int i = 0; want[i]; i++)
        ck_assert_msg(strstr(err.msg, want[i]), "message \"%s\" lacks \"%s\"", err.msg, want[i]);
}

#define META "{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 0, \"tid\": 0, \"args\": {\"name\": \"rank 0\"}},\n"
#define XHEAD "{\"name\": \"0F0\", \"cat\": \"compute\", \"ph\": \"X\", \"pid\": 0, \"tid\": 0, \"ts\": 0.0, \"dur\": 1.0, "
#define ARGS "\"args\": {\"stage\": 0, \"mb\": 0, \"action\": \"F\", \"bytes\": 0, \"start_s\": 0.0, \"end_s\": 1e-6}"

START_TEST(test_parse_errors) {
    /* The well-formed base reads. */
    {
        const char *ok = "{\"traceEvents\": [\n" META XHEAD ARGS "}\n], \"displayTimeUnit\": \"ms\"}";
        pp_trace t;
        pp_err err = {0};
        ck_assert_msg(pp_trace_parse_chrome(ok, strlen(ok), "ok.json", &t, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(t.n, 1);
        ck_assert(t.ev[0].end == 1e-6);
        pp_trace_free(&t);
    }
    /* An X event without args names its index. */
    parse_fails("{\"traceEvents\": [\n" META XHEAD "\"x\": 1}\n]}",
                (const char *const[]){"bad.json:3:1: field 'traceEvents[1]'", "missing required field 'args'",
                                      NULL});
    /* Unknown action name. */
    parse_fails("{\"traceEvents\": [\n" XHEAD
                "\"args\": {\"stage\": 0, \"mb\": 0, \"action\": \"Q\", \"bytes\": 0, \"start_s\": 0.0, "
                "\"end_s\": 1.0}}]}",
                (const char *const[]){"bad.json:2:", "field 'traceEvents[0].args.action'", "unknown value \"Q\"",
                                      NULL});
    /* Wrong types. */
    parse_fails("{\"traceEvents\": [\n" XHEAD
                "\"args\": {\"stage\": \"0\", \"mb\": 0, \"action\": \"F\", \"bytes\": 0, \"start_s\": 0.0, "
                "\"end_s\": 1.0}}]}",
                (const char *const[]){"field 'traceEvents[0].args.stage'", "expected an integer", NULL});
    parse_fails("{\"traceEvents\": [\n" XHEAD
                "\"args\": {\"stage\": 0, \"mb\": 0, \"action\": \"F\", \"bytes\": 0, \"start_s\": null, "
                "\"end_s\": 1.0}}]}",
                (const char *const[]){"field 'traceEvents[0].args.start_s'", "expected a number", NULL});
    parse_fails("{\"traceEvents\": [\n" XHEAD
                "\"args\": {\"stage\": 0, \"mb\": 0, \"action\": \"F\", \"bytes\": 0, \"start_s\": 2.0, "
                "\"end_s\": 1.0}}]}",
                (const char *const[]){"field 'traceEvents[0].args.end_s'", "out of range", NULL});
    parse_fails("{\"traceEvents\": [\n" XHEAD "\"args\": []}]}",
                (const char *const[]){"field 'traceEvents[0].args'", "expected an object", NULL});
    parse_fails("{\"traceEvents\": [\n" XHEAD
                "\"args\": {\"stage\": 0, \"mb\": -2, \"action\": \"F\", \"bytes\": 0, \"start_s\": 0.0, "
                "\"end_s\": 1.0}}]}",
                (const char *const[]){"field 'traceEvents[0].args.mb'", "out of range", NULL});
    /* Unknown fields, in args and in the event. */
    parse_fails("{\"traceEvents\": [\n" XHEAD
                "\"args\": {\"stage\": 0, \"mb\": 0, \"action\": \"F\", \"bytes\": 0, \"start_s\": 0.0, "
                "\"end_s\": 1.0, \"extra\": 1}}]}",
                (const char *const[]){"field 'traceEvents[0].args.extra'", "unknown field 'extra'", NULL});
    parse_fails("{\"traceEvents\": [\n" XHEAD ARGS ", \"sf\": 3}]}",
                (const char *const[]){"field 'traceEvents[0].sf'", "unknown field", NULL});
    /* cat and tid disagree; unknown stream; unsupported phase. */
    parse_fails("{\"traceEvents\": [\n{\"name\": \"0F0\", \"cat\": \"send\", \"ph\": \"X\", \"pid\": 0, \"tid\": 0, "
                "\"ts\": 0.0, \"dur\": 1.0, " ARGS "}]}",
                (const char *const[]){"field 'traceEvents[0].cat'", "does not match tid 0", NULL});
    parse_fails("{\"traceEvents\": [\n{\"name\": \"0F0\", \"cat\": \"compute\", \"ph\": \"X\", \"pid\": 0, "
                "\"tid\": 7, \"ts\": 0.0, \"dur\": 1.0, " ARGS "}]}",
                (const char *const[]){"field 'traceEvents[0].tid'", NULL});
    parse_fails("{\"traceEvents\": [\n{\"name\": \"a\", \"ph\": \"B\", \"pid\": 0, \"tid\": 0, \"ts\": 0}]}",
                (const char *const[]){"bad.json:2:", "field 'traceEvents[0].ph'", "\"B\"", NULL});
    parse_fails("{\"traceEvents\": [\n3]}", (const char *const[]){"bad.json:2:1: field 'traceEvents[0]'", NULL});
    /* The document itself. */
    parse_fails("[]", (const char *const[]){"bad.json:1:1", "expected an object", NULL});
    parse_fails("{\"events\": []}", (const char *const[]){"missing required field 'traceEvents'", NULL});
    parse_fails("{\"traceEvents\": [], \"displayTimeUnit\": \"s\"}",
                (const char *const[]){"field 'displayTimeUnit'", NULL});
    parse_fails("{\"traceEvents\": []}\n x", (const char *const[]){"bad.json:2:2", "unexpected text", NULL});
    parse_fails("", (const char *const[]){"bad.json:1:1", NULL});
}
END_TEST

static Suite *trace_suite(void) {
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("chrome");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_empty_trace);
    tcase_add_test(tc, test_save_and_load);
    tcase_add_test(tc, test_chrome_layout);
    tcase_add_test(tc, test_write_refusals);
    tcase_add_test(tc, test_parse_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("events");
    tcase_add_test(tc, test_sort);
    tcase_add_test(tc, test_stream_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return pp_test_run(trace_suite());
}
