/*
 * pp_opprof.h -- op profiling: the time of the forward (F), backward for
 * inputs (I) and backward for weights (W) of each distinct op of a model on
 * a backend, and the bytes it keeps, measured once per op signature.
 *
 * An op is timed alone through the stage engine on the one-op range
 * [i, i + 1): fresh random inputs (valid token ids for embeddings and labels)
 * and output gradients every repetition, F, I and W timed separately, after
 * a warm-up, repeated until the median is stable (or a cap is reached).
 * Ops with the same signature (kind, the attributes that change the work,
 * shapes, dtype) share one measurement: every transformer block of one
 * shape is timed once.
 */
#ifndef PP_OPPROF_H
#define PP_OPPROF_H

#include <stddef.h>

#include "core/pp_cost.h"
#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "core/pp_record.h"
#include "kernels/pp_backend.h"

/* Canonical signature text of op i, e.g.
 * "linear f32 in[4,64,768] p[2304,768][2304] out[4,64,2304]". */
void pp_opprof_signature(const pp_graph *g, int op, char *buf, size_t n);

typedef struct pp_opprof_opts {
    int warmup;          /* untimed runs (default 2) */
    int min_reps;        /* at least (default 5) */
    int max_reps;        /* at most (default 50) */
    double stable;       /* stop when the median moved less than this, relatively, over the last reps (default 0.02) */
    double max_seconds;  /* per op and pass, roughly (default 2) */
} pp_opprof_opts;

pp_opprof_opts pp_opprof_defaults(void);

/* An op's measurement is a pp_op_measure (core/pp_record.h); its spread is
 * the one pp_opprof_summarize_rounds describes. */

/* Appends `reps` timed repetitions of op i (after `warmup` untimed ones)
 * to the sample arrays t[pass][*n .. *n + reps) and advances *n; the bytes
 * the op keeps after F and after I go to *keep_f, *keep_w. Used to measure
 * in rounds over all ops, so that each op's samples span the whole run and
 * its spread shows the machine's drift. Returns 0 or -1 (err). */
int pp_opprof_sample(const pp_graph *g, int op, pp_backend *be, int warmup, int reps, double *t[3], int *n,
                     long long *keep_f, long long *keep_w, pp_err *err);

/* The spread: how far the median of a repeat profile of the same op on the
 * same machine can land from this one. A profile takes its samples in
 * `rounds` rounds spread over the whole run (pippy profile: 6 rounds of 2
 * timings, every new op once per round), so that what the machine does
 * meanwhile (other jobs, frequency, caches) shows up between rounds. Per
 * pass, with m the median of all n samples:
 *
 *   w     = (p90 - p10) / 2 of all samples (nearest rank on 0..n-1): how
 *           much one timing scatters;
 *   d     = max over rounds k of |median(round k) - m|: how far the median
 *           of a short repeat measurement, taken at another moment of the
 *           run, landed from m (the machine's drift; a round's median is
 *           noisier than m, so d errs on the wide side);
 *   floor = the timer's resolution `res` (pp_opprof_timer_resolution),
 *           below which no two timings can be told apart (ops that do
 *           nearly nothing, e.g. W of an op without weights);
 *
 *   spread = max(w, d, floor).
 *
 * With pure noise d is about as large as w (normal noise of deviation
 * sigma, 6 rounds of 2: both about 1.12 sigma, the spread about 1.26 sigma;
 * two such profiles agree on 99% of passes, 98% by w alone), so the spread
 * stays near the percentile width; rounds that are alike give exactly it. A
 * load change between rounds widens the spread to cover the shift. Two profiles agree on a pass when |m_new - m_old| <=
 * max(spread_new, spread_old) (pippy profile --force prints how many do).
 * Round k holds samples [k n / rounds, (k + 1) n / rounds) of each pass;
 * rounds <= 1 (or more rounds than samples) leaves d out. */
void pp_opprof_summarize_rounds(double *t[3], int n, int rounds, double res, pp_op_measure *out);
/* pp_opprof_summarize_rounds with one round and no floor: the spread is w. */
void pp_opprof_summarize(double *t[3], int n, pp_op_measure *out);

/* The resolution of pp_backend_now as seen by a caller: the smallest
 * positive difference between consecutive readings (of a few hundred),
 * seconds. It includes the cost of reading the clock. */
double pp_opprof_timer_resolution(void);

/* Measures op i of g. Returns 0 or -1 (err). */
int pp_opprof_measure(const pp_graph *g, int op, pp_backend *be, const pp_opprof_opts *o, pp_op_measure *out,
                      pp_err *err);

/* A cost profile from per-op measurements (m[i] for op i). */
int pp_opprof_cost(const pp_graph *g, const pp_op_measure *m, const char *source, pp_cost_profile *out, pp_err *err);

#endif /* PP_OPPROF_H */
