/*
 * pp_json.c -- a strict JSON parser that keeps positions and paths, typed
 * field readers that refuse unknown fields, and a small writer.
 *
 * The parser is a recursive descent over RFC 8259 with a depth limit; it
 * refuses duplicate keys, trailing text, control characters in strings,
 * bytes that are not UTF-8 (overlong forms, encoded surrogates, code points
 * above U+10FFFF, cut-short sequences), lone surrogate escapes and \u0000,
 * each at its line and column. Numbers keep an exact int64 when written as
 * integers.
 */
#include "core/pp_json.h"

#include "core/pp_io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PP_JSON_MAX_DEPTH 200

typedef struct parser {
    const char *s;
    size_t n, i;
    int line, col;
    const char *file;
    pp_err *err;
} parser;

static int perr(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(parser *p, const char *fmt, ...) {
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return pp_err_set(p->err, PP_ERR_PARSE, "%s:%d:%d: %s", p->file, p->line, p->col, m);
}

/* "'x'" for a printable ASCII character, "byte 0xNN" otherwise (so that no
 * message echoes a control byte or broken UTF-8). */
static const char *show_char(char c, char buf[16]) {
    unsigned char u = (unsigned char)c;
    if (u >= 0x20 && u < 0x7f) snprintf(buf, 16, "'%c'", c);
    else snprintf(buf, 16, "byte 0x%02x", u);
    return buf;
}

static void adv(parser *p) {
    if (p->i < p->n) {
        if (p->s[p->i] == '\n') {
            p->line++;
            p->col = 1;
        } else if (((unsigned char)p->s[p->i] & 0xC0) != 0x80) {
            p->col++;
        }
        p->i++;
    }
}

static void skip_ws(parser *p) {
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') adv(p);
        else break;
    }
}

static char *path_join_key(const char *base, const char *key, pp_err *err) {
    size_t n = strlen(base) + strlen(key) + 2;
    char *s = pp_malloc(n, err);
    if (s) snprintf(s, n, "%s%s%s", base, *base ? "." : "", key);
    return s;
}

static char *path_join_idx(const char *base, int idx, pp_err *err) {
    size_t n = strlen(base) + 24;
    char *s = pp_malloc(n, err);
    if (s) snprintf(s, n, "%s[%d]", base, idx);
    return s;
}

void pp_json_free(pp_json *v) {
    if (!v) return;
    for (int i = 0; i < v->n; i++) {
        pp_json_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->used);
    free(v->str);
    free(v->path);
    free(v);
}

static void put_utf8(char *out, size_t *o, unsigned cp) {
    if (cp < 0x80) {
        out[(*o)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int hex4(parser *p, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        if (p->i >= p->n) return perr(p, "unterminated \\u escape");
        char c = p->s[p->i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else {
            char b[16];
            return perr(p, "bad hex digit %s in \\u escape", show_char(c, b));
        }
        adv(p);
    }
    *out = v;
    return 0;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629) at s[i] with lead
 * byte >= 0x80: 2 to 4, or 0 when it is not one -- a stray continuation
 * byte, 0xC0/0xC1 or 0xF5..0xFF, an overlong form, a surrogate (U+D800 to
 * U+DFFF) encoded in UTF-8, a code point above U+10FFFF, or a sequence cut
 * short. */
static int utf8_len(const unsigned char *s, size_t i, size_t n) {
    unsigned char c = s[i];
    int len;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3;
    else if (c >= 0xF0 && c <= 0xF4) len = 4;
    else return 0;
    if (c == 0xE0) lo = 0xA0;      /* overlong below U+0800 */
    else if (c == 0xED) hi = 0x9F; /* surrogates */
    else if (c == 0xF0) lo = 0x90; /* overlong below U+10000 */
    else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    if (n - i < (size_t)len) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (int k = 2; k < len; k++)
        if ((s[i + k] & 0xC0) != 0x80) return 0;
    return len;
}

/* Parses a string at p->i (which is '"'); *out is malloc'ed. Refuses bytes
 * that are not UTF-8, lone surrogate escapes and \u0000 (every string in
 * pippy is a C string), each at its line and column. */
static int parse_string(parser *p, char **out) {
    adv(p); /* opening quote */
    size_t start = p->i;
    /* Escapes only shrink, so the raw length bounds the output. */
    size_t end = start;
    while (end < p->n && p->s[end] != '"') end += (p->s[end] == '\\') ? 2 : 1;
    char *buf = pp_malloc(end - start + 1, p->err);
    if (!buf) return -1;
    size_t o = 0;
    for (;;) {
        if (p->i >= p->n) {
            free(buf);
            return perr(p, "unterminated string");
        }
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            adv(p);
            break;
        }
        if (c < 0x20) {
            free(buf);
            return perr(p, "control character 0x%02x in string", c);
        }
        if (c >= 0x80) {
            int len = utf8_len((const unsigned char *)p->s, p->i, p->n);
            if (!len) {
                free(buf);
                return perr(p, "invalid UTF-8 in string (byte 0x%02x)", c);
            }
            for (int k = 0; k < len; k++) {
                buf[o++] = p->s[p->i];
                adv(p);
            }
            continue;
        }
        if (c != '\\') {
            buf[o++] = (char)c;
            adv(p);
            continue;
        }
        adv(p);
        if (p->i >= p->n) {
            free(buf);
            return perr(p, "unterminated escape");
        }
        char e = p->s[p->i];
        adv(p);
        switch (e) {
        case '"': buf[o++] = '"'; break;
        case '\\': buf[o++] = '\\'; break;
        case '/': buf[o++] = '/'; break;
        case 'b': buf[o++] = '\b'; break;
        case 'f': buf[o++] = '\f'; break;
        case 'n': buf[o++] = '\n'; break;
        case 'r': buf[o++] = '\r'; break;
        case 't': buf[o++] = '\t'; break;
        case 'u': {
            unsigned cp, lo = 0;
            int eline = p->line, ecol = p->col - 2; /* the backslash */
            const char *bad = NULL;
            if (hex4(p, &cp)) { free(buf); return -1; }
            if (cp == 0) {
                bad = "\\u0000 (NUL) is not allowed in strings";
            } else if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->i + 1 >= p->n || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') {
                    bad = "lone high surrogate in \\u escape";
                } else {
                    adv(p);
                    adv(p);
                    if (hex4(p, &lo)) { free(buf); return -1; }
                    if (lo < 0xDC00 || lo > 0xDFFF) bad = "bad low surrogate in \\u escape";
                    else cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                bad = "lone low surrogate in \\u escape";
            }
            if (bad) {
                free(buf);
                p->line = eline;
                p->col = ecol;
                return perr(p, "%s", bad);
            }
            put_utf8(buf, &o, cp);
            break;
        }
        default:
            free(buf);
            if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f) return perr(p, "unknown escape '\\%c'", e);
            return perr(p, "unknown escape: backslash before byte 0x%02x", (unsigned char)e);
        }
    }
    buf[o] = '\0';
    *out = buf;
    return 0;
}

static int parse_number(parser *p, pp_json *v) {
    size_t st = p->i;
    int is_int = 1;
    if (p->s[p->i] == '-') adv(p);
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') return perr(p, "bad number");
    if (p->s[p->i] == '0') {
        adv(p);
        if (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            return perr(p, "numbers must not have leading zeros");
    } else {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') adv(p);
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        is_int = 0;
        adv(p);
        if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') return perr(p, "digit expected after '.'");
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') adv(p);
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        is_int = 0;
        adv(p);
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) adv(p);
        if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') return perr(p, "digit expected in exponent");
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') adv(p);
    }
    char tmp[64];
    size_t len = p->i - st;
    char *txt = len < sizeof tmp ? tmp : pp_malloc(len + 1, p->err);
    if (!txt) return -1;
    memcpy(txt, p->s + st, len);
    txt[len] = '\0';
    v->type = PP_JSON_NUMBER;
    v->num = strtod(txt, NULL);
    if (is_int) {
        errno = 0;
        long long x = strtoll(txt, NULL, 10);
        if (errno == 0) {
            v->is_int = 1;
            v->inum = x;
        }
    }
    if (txt != tmp) free(txt);
    if (!isfinite(v->num)) return perr(p, "number out of the range of a double");
    return 0;
}

static int match_word(parser *p, const char *w) {
    size_t k = strlen(w);
    if (p->n - p->i < k || memcmp(p->s + p->i, w, k) != 0) return 0;
    for (size_t j = 0; j < k; j++) adv(p);
    return 1;
}

static int parse_value(parser *p, pp_json **out, const char *path, int depth);

static pp_json *new_value(parser *p, const char *path) {
    pp_json *v = pp_calloc(1, sizeof *v, p->err);
    if (!v) return NULL;
    v->line = p->line;
    v->col = p->col;
    v->path = pp_strdup(path, p->err);
    if (!v->path) {
        free(v);
        return NULL;
    }
    return v;
}

static int parse_array(parser *p, pp_json *v, int depth) {
    int cap = 0;
    v->type = PP_JSON_ARRAY;
    adv(p);
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == ']') {
        adv(p);
        return 0;
    }
    for (;;) {
        if (pp_grow((void **)&v->items, &cap, v->n + 1, sizeof *v->items, p->err)) return -1;
        char *cp = path_join_idx(v->path, v->n, p->err);
        if (!cp) return -1;
        skip_ws(p);
        int rc = parse_value(p, &v->items[v->n], cp, depth + 1);
        free(cp);
        if (rc) {
            pp_json_free(v->items[v->n]);
            v->items[v->n] = NULL;
            return -1;
        }
        v->n++;
        skip_ws(p);
        if (p->i >= p->n) return perr(p, "unterminated array (expected ',' or ']')");
        if (p->s[p->i] == ',') {
            adv(p);
            continue;
        }
        if (p->s[p->i] == ']') {
            adv(p);
            return 0;
        }
        char b[16];
        return perr(p, "expected ',' or ']' in array, got %s", show_char(p->s[p->i], b));
    }
}

static int parse_object(parser *p, pp_json *v, int depth) {
    int cap = 0, kcap = 0, ucap = 0;
    v->type = PP_JSON_OBJECT;
    adv(p);
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        adv(p);
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (p->i >= p->n || p->s[p->i] != '"') return perr(p, "expected a string key in object");
        if (pp_grow((void **)&v->items, &cap, v->n + 1, sizeof *v->items, p->err) ||
            pp_grow((void **)&v->keys, &kcap, v->n + 1, sizeof *v->keys, p->err) ||
            pp_grow((void **)&v->used, &ucap, v->n + 1, 1, p->err))
            return -1;
        int kline = p->line, kcol = p->col;
        char *key;
        if (parse_string(p, &key)) return -1;
        for (int k = 0; k < v->n; k++) {
            if (!strcmp(v->keys[k], key)) {
                p->line = kline;
                p->col = kcol;
                perr(p, "duplicate field '%s'", key);
                free(key);
                return -1;
            }
        }
        v->keys[v->n] = key;
        skip_ws(p);
        if (p->i >= p->n || p->s[p->i] != ':') {
            perr(p, "expected ':' after key '%s'", key);
            free(key);
            v->keys[v->n] = NULL;
            return -1;
        }
        adv(p);
        skip_ws(p);
        char *cp = path_join_key(v->path, key, p->err);
        if (!cp) {
            free(key);
            v->keys[v->n] = NULL;
            return -1;
        }
        int rc = parse_value(p, &v->items[v->n], cp, depth + 1);
        free(cp);
        if (rc) {
            pp_json_free(v->items[v->n]);
            v->items[v->n] = NULL;
            free(key);
            v->keys[v->n] = NULL;
            return -1;
        }
        v->n++;
        skip_ws(p);
        if (p->i >= p->n) return perr(p, "unterminated object (expected ',' or '}')");
        if (p->s[p->i] == ',') {
            adv(p);
            continue;
        }
        if (p->s[p->i] == '}') {
            adv(p);
            return 0;
        }
        char b[16];
        return perr(p, "expected ',' or '}' in object, got %s", show_char(p->s[p->i], b));
    }
}

static int parse_value(parser *p, pp_json **out, const char *path, int depth) {
    *out = NULL;
    if (depth > PP_JSON_MAX_DEPTH) return perr(p, "nested deeper than %d levels", PP_JSON_MAX_DEPTH);
    skip_ws(p);
    if (p->i >= p->n) return perr(p, "unexpected end of input, expected a value");
    pp_json *v = new_value(p, path);
    if (!v) return -1;
    *out = v;
    char c = p->s[p->i];
    if (c == '{') return parse_object(p, v, depth);
    if (c == '[') return parse_array(p, v, depth);
    if (c == '"') {
        v->type = PP_JSON_STRING;
        return parse_string(p, &v->str);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
    if (match_word(p, "true")) {
        v->type = PP_JSON_BOOL;
        v->boolean = 1;
        return 0;
    }
    if (match_word(p, "false")) {
        v->type = PP_JSON_BOOL;
        return 0;
    }
    if (match_word(p, "null")) return 0;
    if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f) return perr(p, "unexpected character '%c'", c);
    return perr(p, "unexpected byte 0x%02x", (unsigned char)c);
}

int pp_json_parse(const char *text, size_t len, const char *file, pp_json **out, pp_err *err) {
    parser p = {.s = text, .n = len, .line = 1, .col = 1, .file = file ? file : "<json>", .err = err};
    pp_json *root = NULL;
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        p.i = 3; /* UTF-8 byte-order mark */
    if (parse_value(&p, &root, "", 0)) {
        pp_json_free(root);
        return -1;
    }
    skip_ws(&p);
    if (p.i < p.n) {
        pp_json_free(root);
        return perr(&p, "unexpected text after the end of the document");
    }
    *out = root;
    return 0;
}

int pp_json_parse_file(const char *path, pp_json **out, pp_err *err) {
    char *data;
    size_t len;
    if (pp_io_read_file(path, &data, &len, err)) return -1;
    int rc = pp_json_parse(data, len, path, out, err);
    free(data);
    return rc;
}

pp_json *pp_json_get(pp_json *obj, const char *key) {
    if (!obj || obj->type != PP_JSON_OBJECT) return NULL;
    for (int i = 0; i < obj->n; i++) {
        if (!strcmp(obj->keys[i], key)) {
            obj->used[i] = 1;
            return obj->items[i];
        }
    }
    return NULL;
}

const char *pp_json_type_name(pp_json_type t) {
    switch (t) {
    case PP_JSON_NULL: return "null";
    case PP_JSON_BOOL: return "a boolean";
    case PP_JSON_NUMBER: return "a number";
    case PP_JSON_STRING: return "a string";
    case PP_JSON_ARRAY: return "an array";
    case PP_JSON_OBJECT: return "an object";
    }
    return "?";
}

int pp_json_error(const pp_jr *r, const pp_json *v, const char *fmt, ...) {
    char m[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    const char *file = r && r->file ? r->file : "<json>";
    pp_err *err = r ? r->err : NULL;
    if (!v) return pp_err_set(err, PP_ERR_INVALID, "%s: %s", file, m);
    if (v->path && *v->path)
        return pp_err_set(err, PP_ERR_INVALID, "%s:%d:%d: field '%s': %s", file, v->line, v->col, v->path, m);
    return pp_err_set(err, PP_ERR_INVALID, "%s:%d:%d: %s", file, v->line, v->col, m);
}

/* Describes a value for "got ..." in messages. */
static void describe(const pp_json *v, char *buf, size_t n) {
    switch (v->type) {
    case PP_JSON_NUMBER:
        if (v->is_int) snprintf(buf, n, "%lld", v->inum);
        else pp_json_fmt_double(buf, n, v->num);
        break;
    case PP_JSON_STRING: {
        /* At most 40 bytes, not cutting a UTF-8 sequence. */
        size_t len = strlen(v->str), cut = len > 40 ? 40 : len;
        while (cut < len && cut > 0 && ((unsigned char)v->str[cut] & 0xC0) == 0x80) cut--;
        snprintf(buf, n, "\"%.*s%s\"", (int)cut, v->str, cut < len ? "..." : "");
        break;
    }
    case PP_JSON_BOOL: snprintf(buf, n, "%s", v->boolean ? "true" : "false"); break;
    default: snprintf(buf, n, "%s", pp_json_type_name(v->type)); break;
    }
}

static int member(const pp_jr *r, pp_json *obj, const char *key, int required, pp_json **out) {
    *out = pp_json_get(obj, key);
    if (!*out && required) {
        if (obj && obj->path && *obj->path)
            return pp_json_error(r, obj, "missing required field '%s'", key);
        return pp_json_error(r, obj, "missing required field '%s'", key);
    }
    return 0;
}

int pp_json_expect(const pp_jr *r, const pp_json *v, pp_json_type type) {
    if (v->type == type) return 0;
    char got[64];
    describe(v, got, sizeof got);
    return pp_json_error(r, v, "expected %s, got %s", pp_json_type_name(type), got);
}

int pp_json_as_int(const pp_jr *r, const pp_json *v, long long lo, long long hi, long long *out) {
    char got[64];
    describe(v, got, sizeof got);
    if (v->type != PP_JSON_NUMBER || !v->is_int)
        return pp_json_error(r, v, "expected an integer in [%lld, %lld], got %s", lo, hi, got);
    if (v->inum < lo || v->inum > hi)
        return pp_json_error(r, v, "%lld is out of range: expected an integer in [%lld, %lld]", v->inum, lo, hi);
    *out = v->inum;
    return 0;
}

int pp_json_as_num(const pp_jr *r, const pp_json *v, double lo, double hi, double *out) {
    char got[64], a[32], b[32];
    describe(v, got, sizeof got);
    pp_json_fmt_double(a, sizeof a, lo);
    pp_json_fmt_double(b, sizeof b, hi);
    if (v->type != PP_JSON_NUMBER) return pp_json_error(r, v, "expected a number in [%s, %s], got %s", a, b, got);
    if (v->num < lo || v->num > hi)
        return pp_json_error(r, v, "%s is out of range: expected a number in [%s, %s]", got, a, b);
    *out = v->num;
    return 0;
}

int pp_json_read_int(const pp_jr *r, pp_json *obj, const char *key, int required, long long lo, long long hi,
                     long long *out) {
    pp_json *v;
    if (member(r, obj, key, required, &v)) return -1;
    if (!v) return 0;
    return pp_json_as_int(r, v, lo, hi, out);
}

int pp_json_read_i32(const pp_jr *r, pp_json *obj, const char *key, int required, int lo, int hi, int *out) {
    long long x;
    pp_json *v;
    if (member(r, obj, key, required, &v)) return -1;
    if (!v) return 0;
    if (pp_json_as_int(r, v, lo, hi, &x)) return -1;
    *out = (int)x;
    return 0;
}

int pp_json_read_num(const pp_jr *r, pp_json *obj, const char *key, int required, double lo, double hi,
                     double *out) {
    pp_json *v;
    if (member(r, obj, key, required, &v)) return -1;
    if (!v) return 0;
    return pp_json_as_num(r, v, lo, hi, out);
}

int pp_json_read_bool(const pp_jr *r, pp_json *obj, const char *key, int required, int *out) {
    pp_json *v;
    if (member(r, obj, key, required, &v)) return -1;
    if (!v) return 0;
    if (pp_json_expect(r, v, PP_JSON_BOOL)) return -1;
    *out = v->boolean;
    return 0;
}

int pp_json_read_str(const pp_jr *r, pp_json *obj, const char *key, int required, const char **out) {
    pp_json *v;
    if (member(r, obj, key, required, &v)) return -1;
    if (!v) return 0;
    if (pp_json_expect(r, v, PP_JSON_STRING)) return -1;
    *out = v->str;
    return 0;
}

int pp_json_read_enum(const pp_jr *r, pp_json *obj, const char *key, int required, const char *const *names, int n,
                      int *out) {
    pp_json *v;
    if (member(r, obj, key, required, &v)) return -1;
    if (!v) return 0;
    char list[512] = "";
    size_t o = 0;
    for (int i = 0; i < n && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"", i ? ", " : "", names[i]);
    if (v->type != PP_JSON_STRING) {
        char got[64];
        describe(v, got, sizeof got);
        return pp_json_error(r, v, "expected one of %s, got %s", list, got);
    }
    for (int i = 0; i < n; i++) {
        if (!strcmp(v->str, names[i])) {
            *out = i;
            return 0;
        }
    }
    return pp_json_error(r, v, "unknown value \"%s\": expected one of %s", v->str, list);
}

int pp_json_read_typed(const pp_jr *r, pp_json *obj, const char *key, int required, pp_json_type type,
                       pp_json **out) {
    pp_json *v;
    *out = NULL;
    if (member(r, obj, key, required, &v)) return -1;
    if (!v) return 0;
    if (pp_json_expect(r, v, type)) return -1;
    *out = v;
    return 0;
}

int pp_json_check_unknown(const pp_jr *r, const pp_json *obj) {
    if (!obj || obj->type != PP_JSON_OBJECT) return 0;
    for (int i = 0; i < obj->n; i++) {
        if (obj->used[i]) continue;
        char known[400] = "";
        size_t o = 0;
        for (int k = 0; k < obj->n && o < sizeof known; k++)
            if (obj->used[k]) o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", o ? ", " : "", obj->keys[k]);
        return pp_json_error(r, obj->items[i], "unknown field '%s'%s%s%s", obj->keys[i],
                             o ? " (fields read here: " : "", known, o ? ")" : "");
    }
    return 0;
}

/* ---- writer ---- */

void pp_jw_init(pp_jw *w) { memset(w, 0, sizeof *w); }

void pp_jw_free(pp_jw *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static void put(pp_jw *w, const char *s, size_t n) {
    if (w->oom || w->too_deep) return;
    if (w->len + n + 1 > w->cap) {
        size_t nc = w->cap ? w->cap : 4096;
        while (w->len + n + 1 > nc) nc *= 2;
        char *p = realloc(w->buf, nc);
        if (!p) {
            w->oom = 1;
            return;
        }
        w->buf = p;
        w->cap = nc;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void puts_(pp_jw *w, const char *s) { put(w, s, strlen(s)); }

static void newline_indent(pp_jw *w, int depth) {
    put(w, "\n", 1);
    for (int i = 0; i < depth; i++) put(w, "  ", 2);
}

/* Separator and indentation before a value or key at the current depth. */
static void before_item(pp_jw *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == 0) return;
    int d = w->depth;
    if (w->count[d]++) put(w, ",", 1);
    if (w->inl[d]) {
        if (w->count[d] > 1) put(w, " ", 1);
    } else {
        newline_indent(w, d);
    }
}

static void open_(pp_jw *w, const char *c, int inl) {
    if (w->too_deep || w->depth >= PP_JW_MAX_DEPTH) {
        w->too_deep = 1; /* from now on nothing is written; pp_jw_finish refuses */
        return;
    }
    before_item(w);
    puts_(w, c);
    w->depth++;
    w->count[w->depth] = 0;
    w->inl[w->depth] = inl || (w->depth > 1 && w->inl[w->depth - 1]);
}

static void close_(pp_jw *w, const char *c) {
    if (w->too_deep) return;
    int d = w->depth;
    if (!w->inl[d] && w->count[d]) newline_indent(w, d - 1);
    if (w->depth > 0) w->depth--;
    puts_(w, c);
}

void pp_jw_obj_begin(pp_jw *w) { open_(w, "{", 0); }
void pp_jw_obj_end(pp_jw *w) { close_(w, "}"); }
void pp_jw_arr_begin(pp_jw *w) { open_(w, "[", 0); }
void pp_jw_arr_begin_inline(pp_jw *w) { open_(w, "[", 1); }
void pp_jw_arr_end(pp_jw *w) { close_(w, "]"); }

static void put_escaped(pp_jw *w, const char *s) {
    put(w, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char tmp[8];
        switch (*c) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        case '\b': put(w, "\\b", 2); break;
        case '\f': put(w, "\\f", 2); break;
        default:
            if (*c < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", *c);
                puts_(w, tmp);
            } else {
                put(w, (const char *)c, 1);
            }
        }
    }
    put(w, "\"", 1);
}

void pp_jw_key(pp_jw *w, const char *key) {
    before_item(w);
    put_escaped(w, key);
    put(w, ": ", 2);
    w->after_key = 1;
}

void pp_jw_str(pp_jw *w, const char *s) {
    before_item(w);
    if (s) put_escaped(w, s);
    else puts_(w, "null");
}

void pp_jw_int(pp_jw *w, long long v) {
    char tmp[32];
    before_item(w);
    snprintf(tmp, sizeof tmp, "%lld", v);
    puts_(w, tmp);
}

void pp_json_fmt_double(char *buf, size_t n, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
}

void pp_jw_num(pp_jw *w, double v) {
    char tmp[40];
    before_item(w);
    if (!isfinite(v)) {
        puts_(w, "null");
        return;
    }
    pp_json_fmt_double(tmp, sizeof tmp, v);
    /* Keep it a float on re-read when it prints like an integer. */
    if (!strpbrk(tmp, ".eEn")) strcat(tmp, ".0");
    puts_(w, tmp);
}

void pp_jw_bool(pp_jw *w, int v) {
    before_item(w);
    puts_(w, v ? "true" : "false");
}

void pp_jw_null(pp_jw *w) {
    before_item(w);
    puts_(w, "null");
}

void pp_jw_kstr(pp_jw *w, const char *key, const char *s) {
    pp_jw_key(w, key);
    pp_jw_str(w, s);
}

void pp_jw_kint(pp_jw *w, const char *key, long long v) {
    pp_jw_key(w, key);
    pp_jw_int(w, v);
}

void pp_jw_knum(pp_jw *w, const char *key, double v) {
    pp_jw_key(w, key);
    pp_jw_num(w, v);
}

void pp_jw_kbool(pp_jw *w, const char *key, int v) {
    pp_jw_key(w, key);
    pp_jw_bool(w, v);
}

int pp_jw_finish(pp_jw *w, char **out, size_t *len, pp_err *err) {
    put(w, "\n", 1);
    if (w->oom) {
        pp_jw_free(w);
        return pp_err_set(err, PP_ERR_NOMEM, "out of memory writing JSON");
    }
    if (w->too_deep) {
        pp_jw_free(w);
        return pp_err_set(err, PP_ERR_INVALID, "JSON nested deeper than %d levels", PP_JW_MAX_DEPTH);
    }
    *out = w->buf;
    if (len) *len = w->len;
    memset(w, 0, sizeof *w);
    return 0;
}

int pp_jw_write(pp_jw *w, FILE *f, const char *name, pp_err *err) {
    char *text;
    size_t len;
    if (pp_jw_finish(w, &text, &len, err)) return -1;
    int bad = fwrite(text, 1, len, f) != len || fflush(f) != 0;
    free(text);
    return bad ? pp_err_set(err, PP_ERR_IO, "%s: write error", name) : 0;
}
