/*
 * fuzz_json.c -- pp_json_parse on any bytes; an accepted document holds
 * only well-formed UTF-8 strings and keys, and written back with pp_jw it
 * reads back as the same tree (types, keys in order, strings byte for
 * byte, integers exactly, doubles bit for bit).
 */
#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "core/pp_json.h"

static int scalars_only(const pp_json *v) {
    for (int i = 0; i < v->n; i++)
        if (v->items[i]->type == PP_JSON_ARRAY || v->items[i]->type == PP_JSON_OBJECT) return 0;
    return 1;
}

/* 1 when s is well-formed UTF-8 (RFC 3629), decoded here independently of
 * the parser: the code point of each sequence must need that many bytes
 * and lie outside the surrogates and below U+110000. */
static int utf8_ok(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s, cp, len, min;
        if (c < 0x80) { s++; continue; }
        if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
        else return 0;
        for (unsigned k = 1; k < len; k++) {
            if ((s[k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        s += len;
    }
    return 1;
}

static void strings_ok(const pp_json *v) {
    if (v->type == PP_JSON_STRING) FUZZ_CHECK(utf8_ok(v->str), "at '%s': a string that is not UTF-8", v->path);
    for (int i = 0; i < v->n; i++) {
        if (v->keys) FUZZ_CHECK(utf8_ok(v->keys[i]), "at '%s': key %d is not UTF-8", v->path, i);
        strings_ok(v->items[i]);
    }
}

static void write_value(pp_jw *w, const pp_json *v) {
    switch (v->type) {
    case PP_JSON_NULL: pp_jw_null(w); break;
    case PP_JSON_BOOL: pp_jw_bool(w, v->boolean); break;
    case PP_JSON_NUMBER:
        if (v->is_int) pp_jw_int(w, v->inum);
        else pp_jw_num(w, v->num);
        break;
    case PP_JSON_STRING: pp_jw_str(w, v->str); break;
    case PP_JSON_ARRAY:
        if (scalars_only(v)) pp_jw_arr_begin_inline(w);
        else pp_jw_arr_begin(w);
        for (int i = 0; i < v->n; i++) write_value(w, v->items[i]);
        pp_jw_arr_end(w);
        break;
    case PP_JSON_OBJECT:
        pp_jw_obj_begin(w);
        for (int i = 0; i < v->n; i++) {
            pp_jw_key(w, v->keys[i]);
            write_value(w, v->items[i]);
        }
        pp_jw_obj_end(w);
        break;
    }
}

static void same(const pp_json *a, const pp_json *b) {
    FUZZ_CHECK(a->type == b->type, "at '%s': type %d read back as %d", a->path, a->type, b->type);
    FUZZ_CHECK(!strcmp(a->path, b->path), "path '%s' read back as '%s'", a->path, b->path);
    switch (a->type) {
    case PP_JSON_BOOL: FUZZ_CHECK(a->boolean == b->boolean, "at '%s'", a->path); break;
    case PP_JSON_NUMBER:
        FUZZ_CHECK(a->is_int == b->is_int, "at '%s': is_int %d read back as %d", a->path, a->is_int, b->is_int);
        if (a->is_int) FUZZ_CHECK(a->inum == b->inum, "at '%s': %lld read back as %lld", a->path, a->inum, b->inum);
        else FUZZ_CHECK(!memcmp(&a->num, &b->num, sizeof a->num), "at '%s': %.17g read back as %.17g", a->path, a->num, b->num);
        break;
    case PP_JSON_STRING: FUZZ_CHECK(!strcmp(a->str, b->str), "at '%s': string changed", a->path); break;
    case PP_JSON_ARRAY:
    case PP_JSON_OBJECT:
        FUZZ_CHECK(a->n == b->n, "at '%s': %d items read back as %d", a->path, a->n, b->n);
        for (int i = 0; i < a->n; i++) {
            if (a->type == PP_JSON_OBJECT) FUZZ_CHECK(!strcmp(a->keys[i], b->keys[i]), "at '%s': key %d", a->path, i);
            same(a->items[i], b->items[i]);
        }
        break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pp_json *v = NULL, *back = NULL;
    pp_err err = {0};
    int rc = pp_json_parse((const char *)data, size, "fuzz.json", &v, &err);
    FUZZ_CHECK_RC(rc, err);
    if (rc) {
        FUZZ_CHECK(v == NULL, "a tree on failure");
        return 0;
    }
    strings_ok(v);
    pp_jw w;
    pp_jw_init(&w);
    write_value(&w, v);
    char *text = NULL;
    size_t len = 0;
    FUZZ_CHECK(pp_jw_finish(&w, &text, &len, &err) == 0, "writing back: %s", err.msg);
    FUZZ_CHECK(strlen(text) == len, "NUL in the written text");
    FUZZ_CHECK(pp_json_parse(text, len, "back.json", &back, &err) == 0, "reading back: %s\n%s", err.msg, text);
    same(v, back);
    pp_json_free(back);
    pp_json_free(v);
    free(text);
    return 0;
}
