/*
 * pp_predict_print.h -- a prediction (simulator/pp_predict.h) as `pippy
 * sim` shows it: the text summary (iteration time, throughput, both
 * bubbles, a row per rank, the critical path) and the JSON document (the
 * same figures, each rank's activation memory over time when the
 * prediction has a timeline, and the critical path's actions) -- and the
 * one line that names what was predicted (a plan, a schedule table).
 */
#ifndef PP_PREDICT_PRINT_H
#define PP_PREDICT_PRINT_H

#include <stddef.h>
#include <stdio.h>

#include "core/pp_json.h"
#include "core/pp_sched.h"
#include "simulator/pp_predict.h"

/* Prints p as text to f: `what` (one line naming what was predicted), the
 * cost and link sources, then the figures; the throughput line only when
 * tokens (per step) > 0. Never fails (write errors are f's). */
void pp_prediction_print_text(FILE *f, const pp_prediction *p, const char *what, double tokens);

/* Writes p as one JSON object into w: what, costs, links, the step's
 * figures, one object per rank (with static_bytes and activation_timeline
 * when p->sim has a timeline) and the critical path as [rank, action,
 * start, end], each action named from s, the table that was predicted.
 * Errors (out of memory) surface at pp_jw_finish. */
void pp_prediction_write_json(pp_jw *w, const pp_prediction *p, const char *what, const pp_sched *s);

/* Writes into buf[n] the line naming a plan's prediction: "plan PATH:
 * MODEL, pp P x dp D, S stages, schedule NAME, M microbatches". */
void pp_predict_describe_plan(char *buf, size_t n, const char *path, const pp_plan *plan);

/* Writes into buf[n] the line naming a schedule table's prediction:
 * "schedule PATH: R ranks, S stages, M microbatches (legacy|current
 * naming)"; legacy says which naming the file used. */
void pp_predict_describe_table(char *buf, size_t n, const char *path, const pp_sched *s, int legacy);

#endif /* PP_PREDICT_PRINT_H */
