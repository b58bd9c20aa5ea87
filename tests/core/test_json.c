/*
 * test_json.c -- the strict JSON layer: positions and paths in errors,
 * refusal of duplicates, unknown fields, wrong types and out-of-range
 * numbers, escapes, broken UTF-8 and NUL refused at their position, and a
 * writer whose doubles read back bit for bit.
 */
#include <check.h>

#include "tests/pp_test.h"
#include <math.h>
#include <stdio.h>
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

/* len-byte text (it may hold NUL bytes). */
static void parse_bad_n(const char *text, size_t len, const char *want) {
    pp_json *v = NULL;
    pp_err err = {0};
    ck_assert_int_eq(pp_json_parse(text, len, "t.json", &v, &err), -1);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
}

/* Every string is well-formed UTF-8 without NUL: what is not is refused at
 * its line and column, in values and keys alike. */
START_TEST(test_utf8_and_nul) {
    /* The byte at line 2, column 14 (the 0xff after "ab"). */
    parse_bad("{\n  \"name\": \"ab\xff\"}", "t.json:2:14: invalid UTF-8 in string (byte 0xff)");
    parse_bad("{\"k\xc3\": 1}", "t.json:1:4: invalid UTF-8 in string (byte 0xc3)"); /* cut short by the quote */
    parse_bad("[\"\xe2\x82\"]", "t.json:1:3: invalid UTF-8");                     /* 3-byte form, 2 given */
    parse_bad_n("\"\xf0\x9f\x98", 4, "t.json:1:2: invalid UTF-8");                  /* cut short by the end */
    parse_bad("\"\x80\"", "t.json:1:2: invalid UTF-8 in string (byte 0x80)");        /* stray continuation */
    parse_bad("\"\xc0\xaf\"", "invalid UTF-8 in string (byte 0xc0)");              /* overlong '/' */
    parse_bad("\"\xc1\xbf\"", "invalid UTF-8 in string (byte 0xc1)");              /* overlong U+007F */
    parse_bad("\"\xe0\x80\xaf\"", "invalid UTF-8 in string (byte 0xe0)");          /* overlong, 3 bytes */
    parse_bad("\"\xf0\x8f\xbf\xbf\"", "invalid UTF-8 in string (byte 0xf0)");      /* overlong, 4 bytes */
    parse_bad("\"a\xed\xa0\x80\"", "t.json:1:3: invalid UTF-8 in string (byte 0xed)"); /* U+D800 encoded */
    parse_bad("\"\xed\xbf\xbf\"", "invalid UTF-8 in string (byte 0xed)");          /* U+DFFF encoded */
    parse_bad("\"\xf4\x90\x80\x80\"", "invalid UTF-8 in string (byte 0xf4)");      /* U+110000 */
    parse_bad("\"\xf5\x80\x80\x80\"", "invalid UTF-8 in string (byte 0xf5)");
    parse_bad("\"\xfe\"", "invalid UTF-8 in string (byte 0xfe)");
    parse_bad("\"\xe4\xb8\xad\xff\"", "t.json:1:3: invalid UTF-8");                /* after one good character */
    /* Escapes: NUL, and lone surrogates, at the backslash. */
    parse_bad("{\"name\": \"gpt2-\\u0000tiny\"}", "t.json:1:16: \\u0000 (NUL) is not allowed in strings");
    parse_bad("{\"a\\u0000\": 1}", "t.json:1:4: \\u0000 (NUL)");
    parse_bad("\"x\\udc00\"", "t.json:1:3: lone low surrogate");
    parse_bad("\"x\\ud800y\"", "t.json:1:3: lone high surrogate");
    parse_bad("\"x\\ud83d\\u0041\"", "t.json:1:3: bad low surrogate");
    /* A raw NUL byte is a control character. */
    parse_bad_n("\"a\0b\"", 5, "control character 0x00");
    /* No message echoes a broken byte. */
    parse_bad("[1 \xff]", "got byte 0xff");
    parse_bad("\"\\u12\xff" "4\"", "bad hex digit byte 0xff");

    /* Well-formed: the edges of each length, and columns count characters. */
    pp_json *v = parse_ok("{\"s\": \"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
                          "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\", \"\xc3\xa9\": \"\\u0001\", \"t\": 1}");
    pp_json *s = pp_json_get(v, "s");
    ck_assert_str_eq(s->str, "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
                             "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
    ck_assert_str_eq(pp_json_get(v, "\xc3\xa9")->str, "\x01");
    ck_assert_int_eq(pp_json_get(v, "t")->col, 40); /* 9 characters in s, each one column */
    pp_json_free(v);
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
    pp_jw_kstr(&w, "say \"hi\"\n", "tab\there \x01");
    pp_jw_key(&w, "v");
    pp_jw_arr_begin_inline(&w);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) pp_jw_num(&w, vals[i]);
    pp_jw_arr_end(&w);
    pp_jw_kint(&w, "i", -9007199254740993LL);
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

/* What the parser takes (200 nested arrays) is written back as it was; deeper than the writer's limit is an error, not broken text. */
START_TEST(test_writer_depth) {
    /* a[i] = [a[i + 1], i] for i < 199, a[199] = [1, 2]. */
    char text[2048];
    int n = 0;
    for (int i = 0; i < 200; i++) text[n++] = '[';
    n += snprintf(text + n, sizeof text - (size_t)n, "1, 2]");
    for (int i = 198; i >= 0; i--) n += snprintf(text + n, sizeof text - (size_t)n, ", %d]", i);
    pp_json *v = parse_ok(text), *x;
    pp_jw w;
    pp_jw_init(&w);
    for (int i = 0; i < 200; i++) {
        if (i < 199) pp_jw_arr_begin(&w);
        else pp_jw_arr_begin_inline(&w);
    }
    pp_jw_int(&w, 1);
    pp_jw_int(&w, 2);
    pp_jw_arr_end(&w);
    for (int i = 198; i >= 0; i--) {
        pp_jw_int(&w, i);
        pp_jw_arr_end(&w);
    }
    char *out;
    size_t len;
    pp_err err = {0};
    ck_assert_int_eq(pp_jw_finish(&w, &out, &len, &err), 0);
    pp_json *back = parse_ok(out);
    x = back;
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(x->type, PP_JSON_ARRAY);
        ck_assert_int_eq(x->n, 2);
        if (i == 199) break;
        ck_assert(x->items[1]->inum == i);
        x = x->items[0];
    }
    ck_assert(x->items[0]->inum == 1 && x->items[1]->inum == 2);
    pp_json_free(back);
    pp_json_free(v);
    free(out);

    pp_jw_init(&w);
    for (int i = 0; i < PP_JW_MAX_DEPTH + 10; i++) pp_jw_arr_begin(&w);
    for (int i = 0; i < PP_JW_MAX_DEPTH + 10; i++) pp_jw_arr_end(&w);
    out = NULL;
    ck_assert_int_eq(pp_jw_finish(&w, &out, &len, &err), -1);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(err.msg, "JSON nested deeper than 256 levels");
}
END_TEST

/* A key and its value in one call write what the two calls write. */
START_TEST(test_writer_key_value) {
    pp_jw a, b;
    pp_err err = {0};
    char *ta, *tb;
    size_t la, lb;
    pp_jw_init(&a);
    pp_jw_init(&b);
    pp_jw_obj_begin(&a);
    pp_jw_kstr(&a, "s", "x\"y");
    pp_jw_kint(&a, "i", -3);
    pp_jw_knum(&a, "n", 0.25);
    pp_jw_kbool(&a, "b", 1);
    pp_jw_obj_end(&a);
    pp_jw_obj_begin(&b);
    pp_jw_key(&b, "s");
    pp_jw_str(&b, "x\"y");
    pp_jw_key(&b, "i");
    pp_jw_int(&b, -3);
    pp_jw_key(&b, "n");
    pp_jw_num(&b, 0.25);
    pp_jw_key(&b, "b");
    pp_jw_bool(&b, 1);
    pp_jw_obj_end(&b);
    ck_assert_int_eq(pp_jw_finish(&a, &ta, &la, &err), 0);
    ck_assert_int_eq(pp_jw_finish(&b, &tb, &lb, &err), 0);
    ck_assert_str_eq(ta, tb);
    ck_assert_ptr_nonnull(strstr(ta, "\"s\": \"x\\\"y\""));
    free(ta);
    free(tb);
}
END_TEST

/* pp_jw_write: the text to a stream, or the stream named in the error. */
START_TEST(test_writer_to_stream) {
    pp_jw w;
    pp_err err = {0};
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ck_assert_ptr_nonnull(f);
    pp_jw_init(&w);
    pp_jw_obj_begin(&w);
    pp_jw_kint(&w, "a", 1);
    pp_jw_obj_end(&w);
    ck_assert_int_eq(pp_jw_write(&w, f, "mem", &err), 0);
    fclose(f);
    ck_assert_str_eq(buf, "{\n  \"a\": 1\n}\n");
    free(buf);
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        pp_jw_init(&w);
        pp_jw_obj_begin(&w);
        pp_jw_obj_end(&w);
        ck_assert_int_eq(pp_jw_write(&w, full, "full", &err), -1);
        ck_assert_str_eq(err.msg, "full: write error");
        fclose(full);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_utf8_and_nul);
    tcase_add_test(tc, test_values_and_positions);
    tcase_add_test(tc, test_strict_readers);
    tcase_add_test(tc, test_writer_round_trip);
    tcase_add_test(tc, test_writer_depth);
    tcase_add_test(tc, test_writer_key_value);
    tcase_add_test(tc, test_writer_to_stream);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
