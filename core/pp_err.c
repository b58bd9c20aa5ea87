/*
 * pp_err.c -- error records, checked allocation and stderr logging.
 *
 * Every module reports failure through pp_err (see pp_err.h); nothing here
 * exits or aborts, so tools decide how to present an error and with which
 * exit code.
 */
#include "core/pp_err.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pp_err_setv(pp_err *err, pp_status code, const char *fmt, va_list ap) {
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return -1;
}

int pp_err_set(pp_err *err, pp_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pp_err_setv(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int pp_err_wrap(pp_err *err, const char *fmt, ...) {
    if (!err) return -1;
    char prefix[PP_ERR_MSG_MAX], old[PP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t pl = strlen(prefix), ol = strlen(old), cap = sizeof err->msg - 1;
    if (pl > cap) pl = cap;
    memcpy(err->msg, prefix, pl);
    size_t o = pl;
    if (o + 2 <= cap) {
        memcpy(err->msg + o, ": ", 2);
        o += 2;
    }
    if (ol > cap - o) ol = cap - o;
    memcpy(err->msg + o, old, ol);
    err->msg[o + ol] = '\0';
    if (err->code == PP_OK) err->code = PP_ERR_INVALID;
    return -1;
}

const char *pp_status_name(pp_status code) {
    switch (code) {
    case PP_OK: return "ok";
    case PP_ERR_IO: return "io";
    case PP_ERR_PARSE: return "parse";
    case PP_ERR_INVALID: return "invalid";
    case PP_ERR_NOMEM: return "nomem";
    case PP_ERR_DB: return "db";
    case PP_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown";
}

static int g_level = -1;

void pp_log_set_level(pp_log_level level) { g_level = (int)level; }

pp_log_level pp_log_get_level(void) {
    if (g_level < 0) {
        const char *s = getenv("PIPPY_LOG");
        g_level = PP_LOG_WARN;
        if (s) {
            if (!strcmp(s, "error")) g_level = PP_LOG_ERROR;
            else if (!strcmp(s, "warn")) g_level = PP_LOG_WARN;
            else if (!strcmp(s, "info")) g_level = PP_LOG_INFO;
            else if (!strcmp(s, "debug")) g_level = PP_LOG_DEBUG;
        }
    }
    return (pp_log_level)g_level;
}

void pp_log(pp_log_level level, const char *fmt, ...) {
    static const char *names[] = {"error", "warning", "info", "debug"};
    if ((int)level > (int)pp_log_get_level()) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pippy: %s: ", names[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void *pp_malloc(unsigned long long n, pp_err *err) {
    void *p = malloc(n ? (size_t)n : 1);
    if (!p) pp_err_set(err, PP_ERR_NOMEM, "out of memory (%llu bytes)", n);
    return p;
}

void *pp_calloc(unsigned long long count, unsigned long long size, pp_err *err) {
    void *p = calloc(count ? (size_t)count : 1, size ? (size_t)size : 1);
    if (!p) pp_err_set(err, PP_ERR_NOMEM, "out of memory (%llu x %llu bytes)", count, size);
    return p;
}

void *pp_realloc(void *p, unsigned long long n, pp_err *err) {
    void *q = realloc(p, n ? (size_t)n : 1);
    if (!q) pp_err_set(err, PP_ERR_NOMEM, "out of memory (%llu bytes)", n);
    return q;
}

char *pp_strdup(const char *s, pp_err *err) {
    size_t n = strlen(s) + 1;
    char *p = pp_malloc(n, err);
    if (p) memcpy(p, s, n);
    return p;
}

int pp_grow(void **items, int *cap, int need, unsigned long elem, pp_err *err) {
    if (need <= *cap) return 0;
    int ncap = *cap ? *cap : 8;
    while (ncap < need) ncap = ncap > INT_MAX / 2 ? INT_MAX : ncap * 2; /* no overflow past 2^30 items */
    void *p = pp_realloc(*items, (unsigned long long)ncap * elem, err);
    if (!p) return -1;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
    *items = p;
    *cap = ncap;
    return 0;
}
