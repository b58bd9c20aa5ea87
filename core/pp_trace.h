/*
 * pp_trace.h -- one trace format for predicted and measured runs.
 *
 * The simulator writes a trace of what it predicts, the executor a trace of
 * what it measured; both are the same list of events, stored in the database
 * and exported as Chrome trace JSON (opens in Perfetto and chrome://tracing).
 *
 * An event is {rank, stream, action, stage, microbatch, start, end, bytes}
 * with times in seconds from the start of the step (or run).
 *
 * Chrome trace mapping: one process per rank (pid = rank, named "rank N"),
 * one thread per stream (tid = stream, named "compute", "send", ...), one
 * complete event ("ph": "X") per pippy event with ts/dur in microseconds and
 * name "{stage}{action}{mb}" (e.g. "2F5"); the exact fields are kept in
 * "args" ({"stage", "mb", "action", "bytes", "start_s", "end_s"}) so that
 * reading the JSON back gives the same events bit for bit.
 */
#ifndef PP_TRACE_H
#define PP_TRACE_H

#include <stddef.h>

#include "core/pp_err.h"

typedef enum pp_stream {
    PP_STREAM_COMPUTE = 0,
    PP_STREAM_SEND,
    PP_STREAM_RECV,
    PP_STREAM_COLLECTIVE,
    PP_STREAM__COUNT
} pp_stream;

typedef struct pp_trace_event {
    int rank;
    int stream;      /* pp_stream */
    int action;      /* pp_act_type of core/pp_sched.h */
    int stage;       /* -1 when none */
    int mb;          /* -1 when none */
    double start, end; /* seconds */
    long long bytes; /* payload bytes for comms, 0 for compute */
} pp_trace_event;

typedef struct pp_trace {
    pp_trace_event *ev;
    int n, cap;
} pp_trace;

void pp_trace_init(pp_trace *t);
void pp_trace_free(pp_trace *t);
/* Appends an event. Returns 0 or -1 (err set). */
int pp_trace_add(pp_trace *t, pp_trace_event e, pp_err *err);
/* Sorts events by (rank, stream, start, end). */
void pp_trace_sort(pp_trace *t);

const char *pp_stream_name(pp_stream s);

/* Chrome trace JSON ({"traceEvents": [...], "displayTimeUnit": "ms"}).
 * *out is malloc'ed. Events keep the trace's order; args.action is the
 * current-naming type name ("NONE" for PP_ACT_NONE). Returns -1 for an
 * event that would not read back: negative rank, bytes, or stage/mb below
 * -1, unknown stream or action, times not finite or end < start. */
int pp_trace_write_chrome(const pp_trace *t, char **out, size_t *len, pp_err *err);
int pp_trace_save_chrome(const pp_trace *t, const char *path, pp_err *err);
/* Largest |start| and |end| of an event the reader takes, in seconds: far
 * beyond any run, and small enough that ts and dur in microseconds stay
 * finite, so that every trace read writes back. */
#define PP_TRACE_TIME_MAX 1e300

/* Reads what pp_trace_write_chrome wrote (metadata events are skipped;
 * an "X" event without pippy's args is an error naming its index; unknown
 * fields, names and phases, and times beyond PP_TRACE_TIME_MAX, are errors
 * with file:line:col and field path).
 * Returns 0 and a new trace in *out (overwritten, not freed), or -1 with
 * *out untouched. */
int pp_trace_load_chrome(const char *path, pp_trace *out, pp_err *err);
int pp_trace_parse_chrome(const char *text, size_t len, const char *file, pp_trace *out, pp_err *err);

#endif /* PP_TRACE_H */
