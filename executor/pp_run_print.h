/*
 * pp_run_print.h -- what a run says while and after it trains: the notes of
 * a pipelined run (pp_run.h) and its measured-beside-predicted summary, the
 * measured trace as a Chrome JSON file, how a launched run ended, and the steps, JSON document and
 * summary of a single-process run (pp_trainer.h). The printers write to the
 * FILE* given (stdout, or stderr when stdout carries JSON) and never fail;
 * the caller checks the stream.
 */
#ifndef PP_RUN_PRINT_H
#define PP_RUN_PRINT_H

#include <stdio.h>

#include "core/pp_json.h"
#include "core/pp_plan.h"
#include "core/pp_zoo.h"
#include "executor/pp_launch.h"
#include "executor/pp_run.h"
#include "executor/pp_trainer.h"

/* The note printer of a pipelined run: set o.on_note = pp_run_print_note
 * and o.ctx to one of these. Only a printer with print set writes (rank 0). */
typedef struct pp_run_printer {
    FILE *f;
    const pp_plan *plan;
    const char *hash;           /* the plan's hash (its first 12 digits are shown) */
    const char *checkpoint_dir; /* named by the resume and checkpoint lines */
    int total_steps;            /* the run's --steps */
    int log_every;              /* a step line every this many steps (and the first and last), >= 1 */
    int print;                  /* 0: say nothing */
    int first;                  /* set from the starting note */
} pp_run_printer;

/* A pp_run_opts.on_note callback: ctx is a pp_run_printer. One line per
 * note (resumed, starting, each log_every-th step, checkpoint, stopping),
 * flushed. */
void pp_run_print_note(void *ctx, const pp_run_note *n);

/* After the run: the measured step time (and predicted, when pred_s > 0),
 * then each of the n_ranks ranks' peak memory (beside pred_peak[i %
 * plan->pp] when pred_peak is not NULL and it is > 0) and busy share. */
void pp_run_print_summary(FILE *f, const pp_plan *plan, const pp_run_result *r, int n_ranks, double pred_s,
                          const double *pred_peak);

/* Writes the n measured events ev (all steps), sorted, as a Chrome JSON
 * trace to path. Returns 0, or -1 with err. */
int pp_run_save_trace(const char *path, const pp_run_event *ev, long long n, pp_err *err);

/* What became of a pipelined run that pp_launch_run (pp_launch.h) started
 * and that returned rc >= 0 with *res: "NAME: interrupted by SIG after N s"
 * or "NAME: the run failed after N s (exit E)..." on f; nothing when it
 * succeeded. */
void pp_run_print_launch_end(FILE *f, const char *name, int rc, const pp_launch_result *res);

/* A single-process step line: printed for step 1, the last and every
 * every-th step; flushed. */
void pp_train_print_step(FILE *f, int every, const pp_train_step *s);

/* The single-process run as one JSON object (model, options, data,
 * summary figures, step_results[] of steps[0..o->steps)) into w. Cannot
 * fail (pp_jw_finish reports). */
void pp_train_json(pp_jw *w, const char *model, const pp_train_opts *o, const pp_train_summary *sum,
                   const pp_train_step *steps);

/* Trains cfg as pp_train does, printing on tx first the "training MODEL:
 * ..." line, then the step lines (pp_train_print_step with every); with
 * json not NULL, writes the run's document into it after the last step
 * (pp_train_json). Returns 0 with *sum, or -1 with err set (what pp_train
 * refuses; out of memory), json then holding nothing to print (free it
 * with pp_jw_free). */
int pp_train_logged(const pp_model_config *cfg, const pp_train_opts *o, FILE *tx, int every, pp_jw *json,
                    pp_train_summary *sum, pp_err *err);

/* The single-process run's closing lines: data, parameters and memory, the
 * unigram entropy, and the first and last losses beside it. */
void pp_train_print_summary(FILE *f, const pp_train_opts *o, const pp_train_summary *sum);

#endif /* PP_RUN_PRINT_H */
