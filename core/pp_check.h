/*
 * pp_check.h -- one entry point that reads and checks any pippy file: a
 * model config, a cluster spec, a plan, a schedule table (CSV) or a trace
 * (Chrome JSON). Used by `pippy check` and by tools that accept "any of
 * these".
 */
#ifndef PP_CHECK_H
#define PP_CHECK_H

#include <stddef.h>

#include "core/pp_err.h"

typedef enum pp_file_kind {
    PP_FILE_AUTO = 0,
    PP_FILE_MODEL,
    PP_FILE_CLUSTER,
    PP_FILE_PLAN,
    PP_FILE_SCHEDULE,
    PP_FILE_TRACE,
    PP_FILE__COUNT
} pp_file_kind;

const char *pp_file_kind_name(pp_file_kind k);
/* Parses "model", "cluster", "plan", "schedule", "trace" or "auto". */
int pp_file_kind_parse(const char *s, pp_file_kind *out);

/* Guesses the kind of a file: .csv is a schedule; a JSON object with
 * "pippy_plan" is a plan, with "traceEvents" a trace, with "hosts" a cluster,
 * with "family" a model config. Returns 0, or -1 with err set. */
int pp_file_detect(const char *path, pp_file_kind *out, pp_err *err);

/* Reads and checks a file of the given kind (PP_FILE_AUTO detects it) and
 * writes a one-line summary ("plan: gpt2-tiny, pp 2 x dp 1, ...") into
 * summary. A schedule (and a plan's table) must be complete and free of
 * deadlock (pp_sched_check). Returns 0, or -1 with err naming file, line,
 * column and field, or the missing cells or the wait. */
int pp_check_file(const char *path, pp_file_kind kind, char *summary, size_t n, pp_err *err);

#endif /* PP_CHECK_H */
