/*
 * test_json.c -- the strict JSON layer: positions and paths in errors,
 * refusal of duplicates, unknown fields, wrong types and out-of-range
 * numbers, escapes, and a writer whose doubles read back bit for bit.
 */
#include <check.h>

#include "tests/pp_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_json.h"

static pp_json *parse_ok(const char *text) {
    pp_json *v = NULL;
    pp_err err = {0};
    ck_assert_msg(pp_json_parse(text, strlen(text), "t.json", &v, &err) == 0, "%s", err.msg);
    return v;
}

static void parse_bad(const char *text, const char *want) {
    pp_json *v = NULL;
    pp_err err = {0};
    ck_assert_int_eq(pp_json_parse(text, strlen(text), "t.json", &v, &err), -1);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
}

START_TEST(test_syntax_errors) {
    parse_bad("{\"a\": 1,}", "t.json:1:9: expected a string key");
    parse_bad("{\"a\": 1 \"b\": 2}", "t.json:1:9: expected ',' or '}'");
    parse_bad("[1, 2", "unterminated array");
    parse_bad("{\"a\": 1, \"a\": 2}", "t.json:1:10: duplicate field 'a'");
    parse_bad("{\"a\": 01}", "leading zeros");
    parse_bad("{\"a\": tru}", "t.json:1:7: unexpected character 't'");
    parse_bad("{}\n x", "t.json:2:2: unexpected text after the end");
    parse_bad("\"\\ud800\"", "lone high surrogate");
    parse_bad("\"a\tb\"", "control character");
    parse_bad("[1, [2, }]", "t.json:1:9");
    parse_bad("{\"a\": {\"b\": x}}", "t.json:1:13");
    parse_bad("", "unexpected end of input");
}
END_TEST

START_TEST(test_values_and_positions) {
    pp_json *v = parse_ok("{\n  \"s\": \"h\\u00e9\\ud83d\\ude00\\n\",\n  \"a\": [1, -2.5e3, true, null],\n  \"big\": 12345678901234\n}");
    pp_json *s = pp_json_get(v, "s"), *a = pp_json_get(v, "a"), *big = pp_json_get(v, "big");
    ck_assert_str_eq(s->str, "h\xc3\xa9\xf0\x9f\x98\x80\n");
    ck_assert_int_eq(s->line, 2);
    ck_assert_int_eq(s->col, 8);
    ck_assert_int_eq(a->n, 4);
    ck_assert_str_eq(a->items[1]->path, "a[1]");
    ck_assert_int_eq(a->items[1]->is_int, 0);
    ck_assert(a->items[1]->num == -2500.0);
    ck_assert_int_eq(a->items[2]->type, PP_JSON_BOOL);
    ck_assert_int_eq(a->items[3]->type, PP_JSON_NULL);
    ck_assert(big->is_int && big->inum == 12345678901234LL);
    pp_json_free(v);
}
END_TEST

START_TEST(test_strict_readers) {
    pp_json *v = parse_ok("{\"n\": 5, \"x\": 1.5, \"name\": \"m\", \"kind\": \"b\", \"o\": {\"deep\": \"7\"}, \"extra\": 1}");
    pp_err err = {0};
    pp_jr r = {.file = "t.json", .err = &err};
    long long n;
    double x;
    int kind, missing = 42;
    const char *names[] = {"a", "b"};
    ck_assert_int_eq(pp_json_read_int(&r, v, "n", PP_JSON_REQUIRED, 0, 10, &n), 0);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(pp_json_read_int(&r, v, "n", PP_JSON_REQUIRED, 6, 10, &n), -1);
    ck_assert_str_eq(err.msg, "t.json:1:7: field 'n': 5 is out of range: expected an integer in [6, 10]");
    ck_assert_int_eq(pp_json_read_int(&r, v, "x", PP_JSON_REQUIRED, 0, 10, &n), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "field 'x': expected an integer in [0, 10], got 1.5"));
    ck_assert_int_eq(pp_json_read_num(&r, v, "x", PP_JSON_REQUIRED, 0, 10, &x), 0);
    ck_assert(x == 1.5);
    ck_assert_int_eq(pp_json_read_enum(&r, v, "kind", PP_JSON_REQUIRED, names, 2, &kind), 0);
    ck_assert_int_eq(kind, 1);
    ck_assert_int_eq(pp_json_read_i32(&r, v, "absent", PP_JSON_OPTIONAL, 0, 1, &missing), 0);
    ck_assert_int_eq(missing, 42);
    ck_assert_int_eq(pp_json_read_i32(&r, v, "absent", PP_JSON_REQUIRED, 0, 1, &missing), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing required field 'absent'"));
    pp_json *o;
    ck_assert_int_eq(pp_json_read_typed(&r, v, "o", PP_JSON_REQUIRED, PP_JSON_OBJECT, &o), 0);
    ck_assert_int_eq(pp_json_read_int(&r, o, "deep", PP_JSON_REQUIRED, 0, 9, &n), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "field 'o.deep': expected an integer in [0, 9], got \"7\""));
    const char *name;
    ck_assert_int_eq(pp_json_read_str(&r, v, "name", PP_JSON_REQUIRED, &name), 0);
    ck_assert_int_eq(pp_json_check_unknown(&r, v), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "field 'extra': unknown field 'extra'"));
    pp_json_free(v);
}
END_TEST

START_TEST(test_writer_round_trip) {
    const double vals[] = {0.1, 1.0 / 3.0, -0.0, 5e-324, 1e300, 123456789.0, 2.5e-7, 1e21};
    pp_jw w;
    pp_jw_init(&w);
    pp_jw_obj_begin(&w);
    pp_jw_key(&w, "say \"hi\"\n");
    pp_jw_str(&w, "tab\there \x01");
    pp_jw_key(&w, "v");
    pp_jw_arr_begin_inline(&w);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) pp_jw_num(&w, vals[i]);
    pp_jw_arr_end(&w);
    pp_jw_key(&w, "i");
    pp_jw_int(&w, -9007199254740993LL);
    pp_jw_key(&w, "empty");
    pp_jw_arr_begin(&w);
    pp_jw_arr_end(&w);
    pp_jw_obj_end(&w);
    char *text;
    size_t len;
    pp_err err = {0};
    ck_assert_int_eq(pp_jw_finish(&w, &text, &len, &err), 0);
    pp_json *v = parse_ok(text);
    ck_assert_str_eq(v->keys[0], "say \"hi\"\n");
    ck_assert_str_eq(v->items[0]->str, "tab\there \x01");
    pp_json *a = pp_json_get(v, "v");
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        ck_assert(memcmp(&a->items[i]->num, &vals[i], sizeof(double)) == 0);
        ck_assert_int_eq(a->items[i]->is_int, 0); /* 1.0 is written "1.0", not "1" */
    }
    ck_assert(pp_json_get(v, "i")->inum == -9007199254740993LL);
    ck_assert_int_eq(pp_json_get(v, "empty")->n, 0);
    pp_json_free(v);
    free(text);
}
END_TEST

int main(void) {
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_values_and_positions);
    tcase_add_test(tc, test_strict_readers);
    tcase_add_test(tc, test_writer_round_trip);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
