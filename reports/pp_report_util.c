/*
 * pp_report_util.c -- the pure parts of a report (see pp_report.h): the
 * choice of the measured step, what a trace event is drawn as, per-rank
 * busy time and per-stage means of measured events, base64, HTML escaping,
 * SVG inlining and axis units. No I/O here.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_sched.h"
#include "reports/pp_report.h"
#include "reports/pp_report_sb.h"

int pp_report_median_step(const int *steps, const double *seconds, int n) {
    if (n < 1) return -1;
    if (n == 1) return 0;
    int first = 0;
    for (int i = 1; i < n; i++)
        if (steps[i] < steps[first]) first = i;
    int *idx = malloc((size_t)n * sizeof *idx), k = 0;
    if (!idx) return first;
    for (int i = 0; i < n; i++)
        if (i != first) idx[k++] = i;
    /* Insertion sort by (seconds, step): n is a run's step count. */
    for (int i = 1; i < k; i++) {
        int v = idx[i], j = i - 1;
        while (j >= 0 && (seconds[idx[j]] > seconds[v] || (seconds[idx[j]] == seconds[v] && steps[idx[j]] > steps[v]))) {
            idx[j + 1] = idx[j];
            j--;
        }
        idx[j + 1] = v;
    }
    int pick = idx[(k - 1) / 2];
    free(idx);
    return pick;
}

int pp_report_event_kind(const pp_trace_event *e) {
    switch (e->action) {
    case PP_ACT_F: return PP_REPORT_F;
    case PP_ACT_I: return PP_REPORT_I;
    case PP_ACT_W: return PP_REPORT_W;
    case PP_ACT_B:
    case PP_ACT_OVERLAP_F_B: return PP_REPORT_B;
    case PP_ACT_OPTIM: return PP_REPORT_OPTIM;
    case PP_ACT_SEND_F:
    case PP_ACT_SEND_B:
    case PP_ACT_RECV_F:
    case PP_ACT_RECV_B:
    case PP_ACT_ALLREDUCE: return e->end > e->start ? PP_REPORT_COMM : -1;
    default: return -1;
    }
}

void pp_report_busy(const pp_trace_event *ev, long long n, int n_ranks, double *busy) {
    for (int r = 0; r < n_ranks; r++) busy[r] = 0;
    for (long long i = 0; i < n; i++) {
        int k = pp_report_event_kind(&ev[i]);
        if (k < 0 || k == PP_REPORT_COMM || ev[i].rank < 0 || ev[i].rank >= n_ranks) continue;
        busy[ev[i].rank] += ev[i].end - ev[i].start;
    }
}

void pp_report_stage_means(const pp_trace_event *ev, long long n, int n_stages, double *fb) {
    for (int s = 0; s < 2 * n_stages; s++) fb[s] = 0;
    long long *nf = calloc((size_t)(n_stages > 0 ? n_stages : 1), sizeof *nf);
    for (long long i = 0; i < n; i++) {
        const pp_trace_event *e = &ev[i];
        if (e->stream != PP_STREAM_COMPUTE || e->stage < 0 || e->stage >= n_stages) continue;
        double d = e->end - e->start;
        if (e->action == PP_ACT_F) {
            fb[2 * e->stage] += d;
            if (nf) nf[e->stage]++;
        } else if (e->action == PP_ACT_I || e->action == PP_ACT_W || e->action == PP_ACT_B) {
            fb[2 * e->stage + 1] += d;
        }
    }
    for (int s = 0; s < n_stages; s++) {
        if (!nf || nf[s] == 0) {
            fb[2 * s] = fb[2 * s + 1] = NAN;
            continue;
        }
        fb[2 * s] /= (double)nf[s];
        fb[2 * s + 1] /= (double)nf[s];
    }
    free(nf);
}

char *pp_report_base64(const void *data, size_t n, size_t *out_len, pp_err *err) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    size_t m = 4 * ((n + 2) / 3);
    char *o = pp_malloc(m + 1, err);
    if (!o) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n) v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        o[j++] = A[(v >> 18) & 63];
        o[j++] = A[(v >> 12) & 63];
        o[j++] = i + 1 < n ? A[(v >> 6) & 63] : '=';
        o[j++] = i + 2 < n ? A[v & 63] : '=';
    }
    o[j] = 0;
    if (out_len) *out_len = j;
    return o;
}

char *pp_report_html_escape(const char *s, pp_err *err) {
    if (!s) s = "-";
    size_t n = 0;
    for (const char *c = s; *c; c++) n += *c == '&' ? 5 : *c == '<' || *c == '>' ? 4 : *c == '"' || *c == '\'' ? 6 : 1;
    char *o = pp_malloc(n + 1, err);
    if (!o) return NULL;
    char *w = o;
    for (const char *c = s; *c; c++) {
        const char *r = *c == '&' ? "&amp;" : *c == '<' ? "&lt;" : *c == '>' ? "&gt;" : *c == '"' ? "&quot;"
                        : *c == '\'' ? "&#39;" : NULL;
        if (r) {
            size_t l = strlen(r);
            memcpy(w, r, l);
            w += l;
        } else {
            *w++ = *c;
        }
    }
    *w = 0;
    return o;
}

static int starts(const char *p, const char *end, const char *lit) {
    size_t l = strlen(lit);
    return (size_t)(end - p) >= l && memcmp(p, lit, l) == 0;
}

char *pp_report_svg_inline(const char *svg, size_t len, const char *prefix, pp_err *err) {
    const char *end = svg + len, *p = NULL;
    for (const char *q = svg; q + 4 <= end; q++)
        if (starts(q, end, "<svg") && (q + 4 == end || q[4] == ' ' || q[4] == '>' || q[4] == '\n' || q[4] == '\t' ||
                                       q[4] == '\r')) {
            p = q;
            break;
        }
    if (!p) {
        pp_err_set(err, PP_ERR_PARSE, "no <svg> element in the SVG text");
        return NULL;
    }
    sb b = {0};
    size_t pl = strlen(prefix);
    while (p < end) {
        /* xmlns="..." and xmlns:x="..." (with the space before them) go. */
        if (*p == ' ' && (starts(p + 1, end, "xmlns=") || starts(p + 1, end, "xmlns:"))) {
            const char *q = p + 1;
            while (q < end && *q != '=') q++;
            if (q + 1 < end && (q[1] == '"' || q[1] == '\'')) {
                char quote = q[1];
                const char *r = memchr(q + 2, quote, (size_t)(end - q - 2));
                if (r) {
                    p = r + 1;
                    continue;
                }
            }
        }
        /* id="X" / id='X' */
        if ((p == svg || p[-1] == ' ' || p[-1] == '\n' || p[-1] == '\t') && starts(p, end, "id=") && p + 3 < end &&
            (p[3] == '"' || p[3] == '\'')) {
            sb_putn(&b, p, 4);
            sb_putn(&b, prefix, pl);
            p += 4;
            continue;
        }
        if (starts(p, end, "url(#")) {
            sb_putn(&b, p, 5);
            sb_putn(&b, prefix, pl);
            p += 5;
            continue;
        }
        if (starts(p, end, "href=\"#") || starts(p, end, "href='#")) {
            sb_putn(&b, p, 7);
            sb_putn(&b, prefix, pl);
            p += 7;
            continue;
        }
        sb_putn(&b, p, 1);
        p++;
    }
    if (b.bad || !b.s) {
        free(b.s);
        pp_err_set(err, PP_ERR_NOMEM, "out of memory inlining an SVG");
        return NULL;
    }
    return b.s;
}

const char *pp_report_time_unit(double max_s, double *scale) {
    if (!(max_s > 0) || !isfinite(max_s) || max_s >= 1.0) {
        *scale = 1.0;
        return "s";
    }
    if (max_s >= 1e-3) {
        *scale = 1e3;
        return "ms";
    }
    *scale = 1e6;
    return "us";
}
