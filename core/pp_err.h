/*
 * pp_err.h -- errors and logging shared by every pippy module.
 *
 * Library code never exits on bad input. A function that can fail returns an
 * int: 0 on success, -1 on failure, and fills the caller's pp_err with a code
 * and a one-line message that names the file, line, column and field involved
 * where there is one ("configs/m.json:4:15: field 'n_layer': ...").
 * A NULL pp_err is allowed; the message is then dropped.
 *
 *     pp_err err = {0};
 *     if (pp_zoo_config_load("m.json", &cfg, &err) != 0) {
 *         fprintf(stderr, "pippy: %s\n", err.msg);
 *         return 1;
 *     }
 */
#ifndef PP_ERR_H
#define PP_ERR_H

#include <stdarg.h>

typedef enum pp_status {
    PP_OK = 0,
    PP_ERR_IO,          /* a file could not be opened, read or written */
    PP_ERR_PARSE,       /* malformed text: JSON, CSV, a number */
    PP_ERR_INVALID,     /* well-formed but wrong: a field, a shape, a plan */
    PP_ERR_NOMEM,       /* allocation failed */
    PP_ERR_DB,          /* SQLite said no */
    PP_ERR_UNSUPPORTED, /* valid, but this build cannot do it */
} pp_status;

#define PP_ERR_MSG_MAX 1024

typedef struct pp_err {
    pp_status code;
    char msg[PP_ERR_MSG_MAX];
} pp_err;

/* Sets *err (when not NULL) and returns -1, so that callers can write
 * `return pp_err_set(err, PP_ERR_INVALID, "...", ...);`. */
int pp_err_set(pp_err *err, pp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int pp_err_setv(pp_err *err, pp_status code, const char *fmt, va_list ap);

/* Prepends "prefix: " to an error already set (adds context on the way up). */
int pp_err_wrap(pp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Name of a status code ("invalid", "io", ...). */
const char *pp_status_name(pp_status code);

/* Logging to stderr. The level comes from PIPPY_LOG (error, warn, info,
 * debug; default warn) unless pp_log_set_level was called. */
typedef enum pp_log_level {
    PP_LOG_ERROR = 0,
    PP_LOG_WARN,
    PP_LOG_INFO,
    PP_LOG_DEBUG,
} pp_log_level;

void pp_log_set_level(pp_log_level level);
pp_log_level pp_log_get_level(void);
void pp_log(pp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define PP_LOG_ERROR(...) pp_log(PP_LOG_ERROR, __VA_ARGS__)
#define PP_LOG_WARN(...)  pp_log(PP_LOG_WARN, __VA_ARGS__)
#define PP_LOG_INFO(...)  pp_log(PP_LOG_INFO, __VA_ARGS__)
#define PP_LOG_DEBUG(...) pp_log(PP_LOG_DEBUG, __VA_ARGS__)

/* Checked allocation helpers: return NULL and set err on failure. */
void *pp_malloc(unsigned long long n, pp_err *err);
void *pp_calloc(unsigned long long count, unsigned long long size, pp_err *err);
void *pp_realloc(void *p, unsigned long long n, pp_err *err);
char *pp_strdup(const char *s, pp_err *err);

/* Grows *items (of elem bytes each, *cap slots) to hold at least need slots.
 * Returns 0, or -1 with err set (the old array stays valid). */
int pp_grow(void **items, int *cap, int need, unsigned long elem, pp_err *err);

#endif /* PP_ERR_H */
