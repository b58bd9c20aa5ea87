/*
 * pp_trace.c -- trace events and their Chrome trace JSON form (see
 * pp_trace.h).
 *
 * The JSON is written with pp_jw and read back with the strict pp_json
 * parser. Chrome and Perfetto look at "name", "cat", "ph", "pid", "tid",
 * "ts" and "dur"; pippy reads its events only from pid, tid and "args",
 * whose doubles (start_s, end_s) are written with the fewest digits that
 * read back to the same value, so a written trace reads back bit for bit.
 * ts/dur (microseconds) are derived for the viewers and not read back.
 *
 * Layout of the file:
 *
 *     {"traceEvents": [
 *        {"name": "process_name", "ph": "M", "pid": 0, "tid": 0, "args": {"name": "rank 0"}},
 *        {"name": "thread_name", "ph": "M", "pid": 0, "tid": 0, "args": {"name": "compute"}},
 *        {"name": "2F5", "cat": "compute", "ph": "X", "pid": 0, "tid": 0, "ts": 1500.0, "dur": 250.0,
 *         "args": {"stage": 2, "mb": 5, "action": "F", "bytes": 0, "start_s": 0.0015, "end_s": 0.00175}},
 *        ...],
 *      "displayTimeUnit": "ms"}
 *
 * One metadata pair per rank and per (rank, stream) that has events, in
 * rank then stream order, then the events in the trace's own order.
 */
#include "core/pp_trace.h"

#include "core/pp_io.h"
#include "core/pp_json.h"
#include "core/pp_sched.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pp_trace_init(pp_trace *t) { memset(t, 0, sizeof *t); }

void pp_trace_free(pp_trace *t) {
    if (!t) return;
    free(t->ev);
    memset(t, 0, sizeof *t);
}

int pp_trace_add(pp_trace *t, pp_trace_event e, pp_err *err) {
    if (t->n == INT_MAX) return pp_err_set(err, PP_ERR_INVALID, "trace: too many events");
    if (pp_grow((void **)&t->ev, &t->cap, t->n + 1, sizeof *t->ev, err)) return -1;
    t->ev[t->n++] = e;
    return 0;
}

/* Total order on doubles for sorting: NaN after every number. */
static int cmp_double(double a, double b) {
    int na = isnan(a), nb = isnan(b);
    if (na || nb) return na - nb;
    return (a > b) - (a < b);
}

static int cmp_int(long long a, long long b) { return (a > b) - (a < b); }

/* (rank, stream, start, end), then the remaining fields so that the order
 * does not depend on qsort. */
static int cmp_event(const void *pa, const void *pb) {
    const pp_trace_event *a = pa, *b = pb;
    int c;
    if ((c = cmp_int(a->rank, b->rank))) return c;
    if ((c = cmp_int(a->stream, b->stream))) return c;
    if ((c = cmp_double(a->start, b->start))) return c;
    if ((c = cmp_double(a->end, b->end))) return c;
    if ((c = cmp_int(a->stage, b->stage))) return c;
    if ((c = cmp_int(a->mb, b->mb))) return c;
    if ((c = cmp_int(a->action, b->action))) return c;
    return cmp_int(a->bytes, b->bytes);
}

void pp_trace_sort(pp_trace *t) {
    if (t->n > 1) qsort(t->ev, (size_t)t->n, sizeof *t->ev, cmp_event);
}

static const char *const k_stream_names[PP_STREAM__COUNT] = {
    [PP_STREAM_COMPUTE] = "compute",
    [PP_STREAM_SEND] = "send",
    [PP_STREAM_RECV] = "recv",
    [PP_STREAM_COLLECTIVE] = "collective",
};

const char *pp_stream_name(pp_stream s) {
    if ((int)s < 0 || s >= PP_STREAM__COUNT) return "?";
    return k_stream_names[s];
}

/* The "action" string of an event: the current-naming type name, "NONE"
 * for PP_ACT_NONE (whose CSV name is empty). */
static const char *action_name(int type) {
    return type == PP_ACT_NONE ? "NONE" : pp_act_type_name((pp_act_type)type, PP_NAMING_CURRENT);
}

/* Checks what the JSON form needs to read an event back. */
static int check_event(const pp_trace_event *e, int i, pp_err *err) {
    if (e->rank < 0) return pp_err_set(err, PP_ERR_INVALID, "trace event %d: negative rank %d", i, e->rank);
    if (e->stream < 0 || e->stream >= PP_STREAM__COUNT)
        return pp_err_set(err, PP_ERR_INVALID, "trace event %d: unknown stream %d", i, e->stream);
    if (e->action < 0 || e->action >= PP_ACT__COUNT)
        return pp_err_set(err, PP_ERR_INVALID, "trace event %d: unknown action type %d", i, e->action);
    if (e->stage < -1 || e->mb < -1)
        return pp_err_set(err, PP_ERR_INVALID, "trace event %d: stage %d / microbatch %d below -1", i, e->stage,
                          e->mb);
    if (!isfinite(e->start) || !isfinite(e->end) || e->end < e->start || !isfinite(e->start * 1e6) ||
        !isfinite((e->end - e->start) * 1e6))
        return pp_err_set(err, PP_ERR_INVALID, "trace event %d: times [%g, %g] are not finite with start <= end", i,
                          e->start, e->end);
    if (e->bytes < 0) return pp_err_set(err, PP_ERR_INVALID, "trace event %d: negative bytes %lld", i, e->bytes);
    return 0;
}

static int cmp_ll(const void *pa, const void *pb) {
    long long a = *(const long long *)pa, b = *(const long long *)pb;
    return cmp_int(a, b);
}

static void write_meta(pp_jw *w, const char *what, int pid, int tid, const char *name) {
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "name", what);
    pp_jw_kstr(w, "ph", "M");
    pp_jw_kint(w, "pid", pid);
    pp_jw_kint(w, "tid", tid);
    pp_jw_key(w, "args");
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "name", name);
    pp_jw_obj_end(w);
    pp_jw_obj_end(w);
}

static void write_event(pp_jw *w, const pp_trace_event *e) {
    char name[64];
    if (e->action == PP_ACT_NONE || e->action == PP_ACT_OVERLAP_F_B) {
        /* No cell of its own (NONE is empty, OVERLAP names two parts). */
        char st[16] = "", m[16] = "";
        if (e->stage >= 0) snprintf(st, sizeof st, "%d", e->stage);
        if (e->mb >= 0) snprintf(m, sizeof m, "%d", e->mb);
        snprintf(name, sizeof name, "%s%s%s", st, action_name(e->action), m);
    } else {
        pp_action a = pp_action_make((pp_act_type)e->action, e->stage, e->mb);
        pp_action_format(&a, PP_NAMING_CURRENT, name, sizeof name);
    }
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "name", name);
    pp_jw_kstr(w, "cat", pp_stream_name((pp_stream)e->stream));
    pp_jw_kstr(w, "ph", "X");
    pp_jw_kint(w, "pid", e->rank);
    pp_jw_kint(w, "tid", e->stream);
    pp_jw_knum(w, "ts", e->start * 1e6);
    pp_jw_knum(w, "dur", (e->end - e->start) * 1e6);
    pp_jw_key(w, "args");
    pp_jw_obj_begin(w);
    pp_jw_kint(w, "stage", e->stage);
    pp_jw_kint(w, "mb", e->mb);
    pp_jw_kstr(w, "action", action_name(e->action));
    pp_jw_kint(w, "bytes", e->bytes);
    pp_jw_knum(w, "start_s", e->start);
    pp_jw_knum(w, "end_s", e->end);
    pp_jw_obj_end(w);
    pp_jw_obj_end(w);
}

int pp_trace_write_chrome(const pp_trace *t, char **out, size_t *len, pp_err *err) {
    long long *keys = NULL;
    pp_jw w;
    int rc = -1;
    pp_jw_init(&w);
    for (int i = 0; i < t->n; i++)
        if (check_event(&t->ev[i], i, err)) goto done;
    /* (rank, stream) pairs present, sorted and unique, for the metadata. */
    keys = pp_malloc((unsigned long long)(t->n ? t->n : 1) * sizeof *keys, err);
    if (!keys) goto done;
    for (int i = 0; i < t->n; i++) keys[i] = (long long)t->ev[i].rank * PP_STREAM__COUNT + t->ev[i].stream;
    if (t->n > 1) qsort(keys, (size_t)t->n, sizeof *keys, cmp_ll);
    pp_jw_obj_begin(&w);
    pp_jw_key(&w, "traceEvents");
    pp_jw_arr_begin(&w);
    for (int i = 0; i < t->n; i++) {
        if (i && keys[i] == keys[i - 1]) continue;
        int rank = (int)(keys[i] / PP_STREAM__COUNT), stream = (int)(keys[i] % PP_STREAM__COUNT);
        if (i == 0 || keys[i - 1] / PP_STREAM__COUNT != rank) {
            char pname[32];
            snprintf(pname, sizeof pname, "rank %d", rank);
            write_meta(&w, "process_name", rank, 0, pname);
        }
        write_meta(&w, "thread_name", rank, stream, pp_stream_name((pp_stream)stream));
    }
    for (int i = 0; i < t->n; i++) write_event(&w, &t->ev[i]);
    pp_jw_arr_end(&w);
    pp_jw_kstr(&w, "displayTimeUnit", "ms");
    pp_jw_obj_end(&w);
    rc = pp_jw_finish(&w, out, len, err);
done:
    pp_jw_free(&w);
    free(keys);
    return rc;
}

int pp_trace_save_chrome(const pp_trace *t, const char *path, pp_err *err) {
    char *text = NULL;
    size_t len = 0;
    if (pp_trace_write_chrome(t, &text, &len, err)) return -1;
    int rc = pp_io_write_atomic(path, text, len, err);
    free(text);
    return rc;
}

/* Reads one "X" event (an object whose "ph" was read already). Times are
 * bounded by PP_TRACE_TIME_MAX, so that what is read writes back (ts and
 * dur in microseconds stay finite). */
static int read_event(const pp_jr *r, pp_json *ev, pp_trace_event *e) {
    const char *names[PP_ACT__COUNT];
    for (int k = 0; k < PP_ACT__COUNT; k++) names[k] = action_name(k);
    const char *name = NULL;
    pp_json *args = NULL, *cat = NULL;
    double ts = 0, dur = 0;
    memset(e, 0, sizeof *e);
    if (pp_json_read_str(r, ev, "name", PP_JSON_REQUIRED, &name) ||
        pp_json_read_i32(r, ev, "pid", PP_JSON_REQUIRED, 0, INT_MAX, &e->rank) ||
        pp_json_read_i32(r, ev, "tid", PP_JSON_REQUIRED, 0, PP_STREAM__COUNT - 1, &e->stream) ||
        pp_json_read_num(r, ev, "ts", PP_JSON_REQUIRED, -DBL_MAX, DBL_MAX, &ts) ||
        pp_json_read_num(r, ev, "dur", PP_JSON_REQUIRED, 0, DBL_MAX, &dur))
        return -1;
    int cat_stream = 0;
    if (pp_json_read_enum(r, ev, "cat", PP_JSON_REQUIRED, k_stream_names, PP_STREAM__COUNT, &cat_stream)) return -1;
    cat = pp_json_get(ev, "cat");
    if (cat_stream != e->stream)
        return pp_json_error(r, cat, "\"%s\" does not match tid %d (\"%s\")", k_stream_names[cat_stream], e->stream,
                             k_stream_names[e->stream]);
    if (pp_json_read_typed(r, ev, "args", PP_JSON_REQUIRED, PP_JSON_OBJECT, &args) ||
        pp_json_read_i32(r, args, "stage", PP_JSON_REQUIRED, -1, INT_MAX, &e->stage) ||
        pp_json_read_i32(r, args, "mb", PP_JSON_REQUIRED, -1, INT_MAX, &e->mb) ||
        pp_json_read_enum(r, args, "action", PP_JSON_REQUIRED, names, PP_ACT__COUNT, &e->action) ||
        pp_json_read_int(r, args, "bytes", PP_JSON_REQUIRED, 0, LLONG_MAX, &e->bytes) ||
        pp_json_read_num(r, args, "start_s", PP_JSON_REQUIRED, -PP_TRACE_TIME_MAX, PP_TRACE_TIME_MAX, &e->start) ||
        pp_json_read_num(r, args, "end_s", PP_JSON_REQUIRED, e->start, PP_TRACE_TIME_MAX, &e->end) ||
        pp_json_check_unknown(r, args) || pp_json_check_unknown(r, ev))
        return -1;
    return 0;
}

int pp_trace_parse_chrome(const char *text, size_t len, const char *file, pp_trace *out, pp_err *err) {
    static const char *const units[] = {"ms", "ns"};
    pp_json *root = NULL, *evs = NULL;
    pp_trace t;
    pp_jr r = {.file = file ? file : "<trace>", .err = err};
    int rc = -1, unit = 0;
    pp_trace_init(&t);
    if (pp_json_parse(text, len, r.file, &root, err)) goto done;
    if (pp_json_expect(&r, root, PP_JSON_OBJECT) ||
        pp_json_read_typed(&r, root, "traceEvents", PP_JSON_REQUIRED, PP_JSON_ARRAY, &evs) ||
        pp_json_read_enum(&r, root, "displayTimeUnit", PP_JSON_OPTIONAL, units, 2, &unit) ||
        pp_json_check_unknown(&r, root))
        goto done;
    for (int i = 0; i < evs->n; i++) {
        pp_json *ev = evs->items[i];
        const char *ph = NULL;
        if (pp_json_expect(&r, ev, PP_JSON_OBJECT) || pp_json_read_str(&r, ev, "ph", PP_JSON_REQUIRED, &ph))
            goto done;
        if (!strcmp(ph, "M")) continue; /* process and thread names */
        if (strcmp(ph, "X")) {
            pp_json_error(&r, pp_json_get(ev, "ph"), "unsupported event phase \"%s\" (expected \"X\" or \"M\")", ph);
            goto done;
        }
        pp_trace_event e;
        if (read_event(&r, ev, &e) || pp_trace_add(&t, e, err)) goto done;
    }
    *out = t;
    pp_trace_init(&t);
    rc = 0;
done:
    pp_trace_free(&t);
    pp_json_free(root);
    return rc;
}

int pp_trace_load_chrome(const char *path, pp_trace *out, pp_err *err) {
    char *data = NULL;
    size_t len = 0;
    if (pp_io_read_file(path, &data, &len, err)) return -1;
    int rc = pp_trace_parse_chrome(data, len, path, out, err);
    free(data);
    return rc;
}
