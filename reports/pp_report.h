/*
 * pp_report.h -- the prediction check as a page: "will this plan be as fast
 * as pippy says?" answered with the predicted and the measured step side by
 * side.
 *
 * pp_report_write takes plain structs -- the predicted and the measured
 * trace of one step, per-rank figures, per-stage compute times, the
 * predicted activation memory over the step, throughput series -- and
 * writes into a folder:
 *
 *   timeline.{png,svg}    predicted and measured step as Gantt charts, one
 *                         above the other on the same time axis, a row per
 *                         rank: F, I, W, B, comm and optimizer coloured alike
 *   throughput.{png,svg}  tokens/s against microbatch count per schedule:
 *                         predicted as lines, measured runs as points
 *   balance.{png,svg}     per-stage compute per microbatch, F and I+W,
 *                         predicted beside measured
 *   memory.{png,svg}      predicted memory per rank over the step, measured
 *                         peak per rank as a horizontal line
 *   *.dat, *.gp           the gnuplot data and scripts that drew them
 *   index.html            one self-contained page: PNGs as base64 data URIs,
 *                         SVGs inlined, a table of predicted against
 *                         measured figures with relative errors
 *
 * Charts are drawn by gnuplot (terminals pngcairo and svg) run as a child
 * process in the folder. Every file is written atomically: data, scripts
 * and the page through pp_io_write_atomic, charts by gnuplot to a temporary
 * name that is renamed once gnuplot has succeeded.
 *
 * Relative error convention (stated on the page): (measured - predicted) /
 * measured, pp_stats_rel_error (core/pp_stats.h), as in every command. +10% means the prediction was low by a tenth of the measured
 * value (the run was slower, or used more, than predicted); -10% that it
 * was high.
 */
#ifndef PP_REPORT_H
#define PP_REPORT_H

#include <stddef.h>

#include "core/pp_err.h"
#include "core/pp_trace.h"

/* What a Gantt bar shows; each has one colour in every chart. */
typedef enum pp_report_kind {
    PP_REPORT_F = 0,  /* forward */
    PP_REPORT_I,      /* backward for inputs */
    PP_REPORT_W,      /* backward for weights */
    PP_REPORT_B,      /* full backward (I + W), and overlapped F/B */
    PP_REPORT_COMM,   /* sends, receives (waits or transfers), all-reduces */
    PP_REPORT_OPTIM,  /* the optimizer step (with its gradient sync when measured) */
    PP_REPORT__KINDS
} pp_report_kind;

/* One point of a series: x and y in the series' own units. */
typedef struct pp_report_point {
    double x, y;
} pp_report_point;

/* A named series of points (a schedule's throughput, a rank's memory). */
typedef struct pp_report_series {
    const char *name;
    const pp_report_point *pts;
    int n;
} pp_report_series;

/* One side of the comparison: the prediction or the measurement. */
typedef struct pp_report_side {
    int present;               /* 0: no such side (no run) */
    double iteration_s;        /* the step's duration */
    double tokens_per_s;
    const double *busy_s;      /* [n_ranks]: compute + optimizer time in the step */
    const double *peak_bytes;  /* [n_ranks]: peak memory */
    const pp_trace *trace;     /* the step's events, times from 0; may be NULL */
    /* [2 x n_stages]: stage s's forward (2s) and backward I+W (2s+1) seconds
     * per microbatch; NaN where unknown; may be NULL */
    const double *stage_fb;
} pp_report_side;

typedef struct pp_report_input {
    /* The header. Strings may be NULL (shown as "-"). */
    const char *model, *plan_hash, *schedule, *cost_src, *link_src;
    int pp, dp, n_microbatches, micro_batch, seq_len, global_batch, n_stages, n_ranks;
    const int *stage_rank;     /* [n_stages]: the rank holding each stage; may be NULL */
    long long run_id;          /* 0: no measured run */
    const char *run_date;
    int run_step;              /* the measured step shown */
    const char *step_choice;   /* how it was chosen, e.g. "median of steps 1..3" */
    const char *note;          /* shown under the header when not NULL/empty */
    pp_report_side pred, meas;
    /* Predicted memory over the step: n_ranks series of (seconds, total
     * bytes: activations + parameters, gradients, optimizer state); may be
     * NULL. Each is held flat to pred.iteration_s. */
    const pp_report_series *pred_memory;
    /* Throughput against microbatch count (x = m, y = tokens/s): predicted
     * lines and measured points, one series per schedule; a measured series
     * takes the colour of the predicted one of the same name. */
    const pp_report_series *tput_pred;
    int n_tput_pred;
    const pp_report_series *tput_meas;
    int n_tput_meas;
    const char *gnuplot;       /* the gnuplot executable; NULL: "gnuplot" from PATH */
} pp_report_input;

/* Writes the report into dir (created if missing; files in it replaced).
 * Returns 0, or -1 with err: a missing gnuplot ("gnuplot not found ..."), a
 * gnuplot failure (its exit status and last message), I/O. */
int pp_report_write(const pp_report_input *in, const char *dir, pp_err *err);

/* ---- The pure parts (exposed for tests) --------------------------------- */

/* The step to show: among steps[] (step numbers) and seconds[] (n of
 * them), leaving out the first step (the smallest number) when there are
 * two or more, the one of median duration: sorted by seconds, the lower
 * middle (index (k - 1) / 2 of k), the smaller step number on ties. Returns
 * its index in the arrays, -1 when n < 1. */
int pp_report_median_step(const int *steps, const double *seconds, int n);

/* The Gantt kind of a trace event, or -1 for events not drawn (instants,
 * idle cells, FSDP bookkeeping). */
int pp_report_event_kind(const pp_trace_event *e);

/* Per-rank busy time (compute and optimizer events) of one step's events:
 * busy[n_ranks] is zeroed, then summed. Events of other ranks are ignored. */
void pp_report_busy(const pp_trace_event *ev, long long n, int n_ranks, double *busy);

/* Per-stage mean forward and backward (I + W) seconds per microbatch over
 * events of one or more steps: fb[2s] = sum F / count F, fb[2s+1] = (sum I +
 * sum W + sum B) / count F (a B counts as I + W); NaN for a stage with no
 * forward event. */
void pp_report_stage_means(const pp_trace_event *ev, long long n, int n_stages, double *fb);

/* Standard base64 (RFC 4648, with padding) of n bytes. Returns a malloc'ed
 * NUL-terminated string (length in *out_len when not NULL), or NULL (err). */
char *pp_report_base64(const void *data, size_t n, size_t *out_len, pp_err *err);

/* s with &, <, >, " and ' escaped for HTML text and attribute values
 * (NULL becomes "-"). Returns a malloc'ed string or NULL (err). */
char *pp_report_html_escape(const char *s, pp_err *err);

/* An SVG file made fit to inline in HTML: the XML declaration, DOCTYPE and
 * comments before the <svg> element dropped, the xmlns declarations removed
 * (HTML needs none, and the page names no http address), and every id
 * (id="X", url(#X), href="#X") prefixed with prefix so that several charts'
 * clip paths and gradients do not collide. Returns a malloc'ed string or
 * NULL (err: no <svg> element). */
char *pp_report_svg_inline(const char *svg, size_t len, const char *prefix, pp_err *err);

/* A duration unit for axis labels: "s", "ms" or "us" with its scale
 * (seconds x scale = value in the unit), chosen so that max_s reads as a
 * number between 1 and 1000 where possible. */
const char *pp_report_time_unit(double max_s, double *scale);

#endif /* PP_REPORT_H */
