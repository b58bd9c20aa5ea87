/*
 * pp_validate.h -- `pippy validate`'s verdict: for each configuration of
 * the matrix (schedule x microbatch count) the plan's prediction beside
 * the run that measured it, and over all of them the table, the median and
 * worst relative errors of iteration time and peak memory, as text and as
 * JSON. Plain inputs only: the tool runs the commands, loads the plan's
 * prediction and the stored run, and hands their numbers here.
 *
 *     pp_validate_row r = {0};                    // sched, m set by the caller
 *     pp_validate_compare(&r, run.id, pred_s, run.iteration_s, run.predicted_iteration_s,
 *                         ranks, n_ranks, pred_peak, n_pred);
 *     ...
 *     pp_validate_stats st;
 *     pp_validate_summarize(rows, nr, &st, &err);
 *     pp_validate_print(stdout, rows, nr, &st, failed, log_path);
 *
 * Relative errors are (measured - predicted) / measured (core/pp_stats.h).
 */
#ifndef PP_VALIDATE_H
#define PP_VALIDATE_H

#include <stdio.h>

#include "core/pp_json.h"
#include "core/pp_record.h"

/* One configuration. */
typedef struct pp_validate_row {
    char sched[32];    /* schedule name */
    int m;             /* microbatches */
    long long run_id;  /* the run of its plan, 0 when none was found */
    double pred_s, meas_s, err_t; /* err_t = (measured - predicted) / measured */
    double run_pred_s; /* what pippy run printed and stored as predicted */
    double mem_err;    /* worst |measured - predicted| / measured peak memory over ranks */
    int ok;            /* compared: a run and a prediction were found */
} pp_validate_row;

/* Fills r from the plan's prediction (pred_s; pred_peak[0..n_pred) the
 * predicted peak bytes per pipeline rank, rank k reads pred_peak[k % n_pred])
 * and its run (run_id 0: none found; meas_s, run_pred_s its stored measured
 * and predicted step time; rk[0..n_ranks) its ranks, none when n_ranks is
 * 0). Sets r->ok and returns 1 when there was a run with a prediction and a
 * measured time > 0, else 0 (r->ok 0; the fields found are still set). */
int pp_validate_compare(pp_validate_row *r, long long run_id, double pred_s, double meas_s, double run_pred_s,
                        const pp_run_rank *rk, int n_ranks, const double *pred_peak, int n_pred);

/* The start of a configuration's progress line, "SCHED m=M planning...",
 * and its middle, " running..."; each flushes f. */
void pp_validate_print_planning(FILE *f, const pp_validate_row *r);
void pp_validate_print_running(FILE *f);

/* The end of a configuration's progress line: " ERROR" when error is not
 * NULL, " no run or prediction found" when r is not ok, else its predicted
 * and measured time and their relative error; then a newline. */
void pp_validate_print_outcome(FILE *f, const pp_validate_row *r, const char *error);

/* Over the rows with ok set: how many (n), the median and maximum of
 * |err_t| (iteration) and of mem_err (memory); NaN medians when n is 0,
 * maxima 0. */
typedef struct pp_validate_stats {
    int n;
    double med_t, worst_t, med_m, worst_m;
} pp_validate_stats;

/* Returns 0 with *st, or -1 with err (out of memory). */
int pp_validate_summarize(const pp_validate_row *rows, int nr, pp_validate_stats *st, pp_err *err);

/* The closing text: a header and one line per compared row, the summary
 * line (when any was compared) and "N configurations failed (see LOG)"
 * when failed > 0. */
void pp_validate_print(FILE *f, const pp_validate_row *rows, int nr, const pp_validate_stats *st, int failed,
                       const char *log_path);

/* The JSON document of --json: model, micro_batch, seq_len, pp, database,
 * configurations[] (every row; figures null unless ok), the summary figures
 * (null when none compared) and failed. Cannot fail (pp_jw_finish reports). */
void pp_validate_json(pp_jw *w, const char *model, long long micro_batch, long long seq_len, long long pp,
                      const char *db_path, const pp_validate_row *rows, int nr, const pp_validate_stats *st,
                      int failed);

#endif /* PP_VALIDATE_H */
