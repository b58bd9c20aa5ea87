/*
 * pp_report_sb.h -- a growable string, shared by the report's writer
 * (pp_report.c) and its SVG rewrite (pp_report_util.c). Internal to
 * reports/. A failed allocation sets `bad` and drops later appends; the
 * caller checks `bad` once at the end and frees `s`.
 */
#ifndef PP_REPORT_SB_H
#define PP_REPORT_SB_H

#include <stdlib.h>
#include <string.h>

typedef struct sb {
    char *s;
    size_t n, cap;
    int bad;
} sb;

static inline void sb_putn(sb *b, const char *s, size_t n) {
    if (b->bad) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->bad = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static inline void sb_puts(sb *b, const char *s) { sb_putn(b, s, strlen(s)); }

#endif /* PP_REPORT_SB_H */
