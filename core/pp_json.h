/*
 * pp_json.h -- strict JSON for pippy's files: model configs, cluster specs,
 * plans and traces.
 *
 * Every value remembers where it stood in its file (line, column) and its
 * path from the root ("stages[2].ops[0]"), so an error can say exactly what
 * is wrong and where:
 *
 *     plan.json:14:17: field 'stages[1].rank': expected an integer in [0, 7], got 9
 *
 * Reading is strict. A reader takes the fields it knows with the
 * pp_json_read_* helpers, which mark them used, and then calls
 * pp_json_check_unknown(), which refuses any field nobody read. Wrong types
 * and out-of-range numbers are errors that state the expected type or range.
 *
 *     pp_json *root = NULL;
 *     if (pp_json_parse_file("m.json", &root, &err)) return -1;
 *     pp_jr r = {.file = "m.json", .err = &err};
 *     long long n_layer;
 *     if (pp_json_read_int(&r, root, "n_layer", PP_JSON_REQUIRED, 1, 1000, &n_layer) ||
 *         pp_json_check_unknown(&r, root)) { pp_json_free(root); return -1; }
 *
 * Writing goes through pp_jw, a small streaming writer that indents objects
 * and keeps arrays of scalars on one line; doubles are written with the
 * fewest digits that read back to the same value.
 */
#ifndef PP_JSON_H
#define PP_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "core/pp_err.h"

typedef enum pp_json_type {
    PP_JSON_NULL = 0,
    PP_JSON_BOOL,
    PP_JSON_NUMBER,
    PP_JSON_STRING,
    PP_JSON_ARRAY,
    PP_JSON_OBJECT,
} pp_json_type;

typedef struct pp_json pp_json;
struct pp_json {
    pp_json_type type;
    int line, col;          /* 1-based position of the value's first byte */
    char *path;             /* "a.b[3]"; "" for the root */
    int boolean;            /* PP_JSON_BOOL */
    double num;             /* PP_JSON_NUMBER */
    long long inum;         /* PP_JSON_NUMBER when is_int */
    int is_int;             /* written without fraction or exponent, fits int64 */
    char *str;              /* PP_JSON_STRING, NUL-terminated UTF-8 */
    int n;                  /* items in an array or object */
    pp_json **items;        /* array items, or object values */
    char **keys;            /* object keys, in file order */
    unsigned char *used;    /* object: key i was read */
};

/* Parses text (len bytes) into a tree; `file` names it in errors.
 * Returns 0 and *out (free with pp_json_free), or -1 with err set. */
int pp_json_parse(const char *text, size_t len, const char *file, pp_json **out, pp_err *err);
int pp_json_parse_file(const char *path, pp_json **out, pp_err *err);
void pp_json_free(pp_json *v);

/* Object member by key (NULL when absent); marks it used. */
pp_json *pp_json_get(pp_json *obj, const char *key);

const char *pp_json_type_name(pp_json_type t);

/* Context for strict reading. */
typedef struct pp_jr {
    const char *file;
    pp_err *err;
} pp_jr;

enum { PP_JSON_OPTIONAL = 0, PP_JSON_REQUIRED = 1 };

/* Sets r->err to "file:line:col: field 'path': <message>" and returns -1. */
int pp_json_error(const pp_jr *r, const pp_json *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Each read_* returns 0 when the field was read or is optional and absent
 * (then *out is left untouched, so callers preset defaults), -1 on error.
 * `obj` must be an object. */
int pp_json_read_int(const pp_jr *r, pp_json *obj, const char *key, int required,
                     long long lo, long long hi, long long *out);
int pp_json_read_i32(const pp_jr *r, pp_json *obj, const char *key, int required,
                     int lo, int hi, int *out);
int pp_json_read_num(const pp_jr *r, pp_json *obj, const char *key, int required,
                     double lo, double hi, double *out);
int pp_json_read_bool(const pp_jr *r, pp_json *obj, const char *key, int required, int *out);
/* *out borrows the tree's string. */
int pp_json_read_str(const pp_jr *r, pp_json *obj, const char *key, int required,
                     const char **out);
/* String that must be one of names[0..n-1]; *out is its index. */
int pp_json_read_enum(const pp_jr *r, pp_json *obj, const char *key, int required,
                      const char *const *names, int n, int *out);
/* Member of a given type (object or array); *out is NULL when optional and absent. */
int pp_json_read_typed(const pp_jr *r, pp_json *obj, const char *key, int required,
                       pp_json_type type, pp_json **out);
/* Checks that a value has the given type. */
int pp_json_expect(const pp_jr *r, const pp_json *v, pp_json_type type);
/* Integer value check for array items. */
int pp_json_as_int(const pp_jr *r, const pp_json *v, long long lo, long long hi, long long *out);
int pp_json_as_num(const pp_jr *r, const pp_json *v, double lo, double hi, double *out);
/* Refuses the first member of obj that no read_* / get touched. */
int pp_json_check_unknown(const pp_jr *r, const pp_json *obj);

/* Most nested containers the writer takes (the parser takes 200 levels
 * below the root, so whatever it read can be written back). */
#define PP_JW_MAX_DEPTH 256

/* Streaming writer. All calls are no-ops after an allocation failure or
 * nesting deeper than PP_JW_MAX_DEPTH, which pp_jw_finish reports. */
typedef struct pp_jw {
    char *buf;
    size_t len, cap;
    int depth;
    int count[PP_JW_MAX_DEPTH + 1]; /* values written at each depth */
    int inl[PP_JW_MAX_DEPTH + 1];   /* depth is an inline (one-line) container */
    int after_key;
    int oom;
    int too_deep;
} pp_jw;

void pp_jw_init(pp_jw *w);
void pp_jw_obj_begin(pp_jw *w);
void pp_jw_obj_end(pp_jw *w);
void pp_jw_arr_begin(pp_jw *w);          /* one item per line */
void pp_jw_arr_begin_inline(pp_jw *w);   /* all items on one line */
void pp_jw_arr_end(pp_jw *w);
void pp_jw_key(pp_jw *w, const char *key);
void pp_jw_str(pp_jw *w, const char *s);
void pp_jw_int(pp_jw *w, long long v);
void pp_jw_num(pp_jw *w, double v);      /* non-finite values are written as null */
void pp_jw_bool(pp_jw *w, int v);
void pp_jw_null(pp_jw *w);
/* A key and its value in one call: pp_jw_kstr(w, "name", s) is
 * pp_jw_key(w, "name") then pp_jw_str(w, s). */
void pp_jw_kstr(pp_jw *w, const char *key, const char *s);
void pp_jw_kint(pp_jw *w, const char *key, long long v);
void pp_jw_knum(pp_jw *w, const char *key, double v);
void pp_jw_kbool(pp_jw *w, const char *key, int v);
/* Returns 0 and the text in *out (NUL-terminated, caller frees; *len may be
 * NULL), or -1 on allocation failure or too deep nesting (err set, nothing
 * in *out). Resets w. */
int pp_jw_finish(pp_jw *w, char **out, size_t *len, pp_err *err);
/* Finishes w and writes its text to f; name names f in the error
 * ("stdout: write error"). w is left empty either way. Returns 0 or -1
 * (err). */
int pp_jw_write(pp_jw *w, FILE *f, const char *name, pp_err *err);
void pp_jw_free(pp_jw *w);

/* Shortest "%.Ng" rendering of v that reads back equal; buf holds >= 32 bytes. */
void pp_json_fmt_double(char *buf, size_t n, double v);

#endif /* PP_JSON_H */
