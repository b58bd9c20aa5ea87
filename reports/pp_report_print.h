/*
 * pp_report_print.h -- what `pippy report` prints once the page is written:
 * the summary lines (a note, predicted against measured with the relative
 * error, where the traces and the page are) and the --json document (the
 * plan, the run and step shown, the predicted and the measured figures,
 * the relative error). Both read the pp_report_input the page was made
 * from, so they show exactly what the page shows.
 */
#ifndef PP_REPORT_PRINT_H
#define PP_REPORT_PRINT_H

#include <stdio.h>

#include "core/pp_json.h"
#include "reports/pp_report.h"

/* Prints the summary to f: "note: ..." when in->note is not empty; the
 * predicted and (when in->meas.present) measured step time of run
 * in->run_id, step in->run_step, with pp_stats_rel_error's error; the trace
 * files when chrome; "report: OUTDIR/index.html". Never fails (write errors
 * are f's). */
void pp_report_print_summary(FILE *f, const pp_report_input *in, const char *outdir, int chrome);

/* Writes the --json document into w: plan (plan_path), plan_hash, costs,
 * links, run and step (null without a measured side), predicted and
 * measured ({iteration_s, tokens_per_s, busy_s[], peak_memory_bytes[]} per
 * rank, or null), relative_error (or null), note, report
 * (OUTDIR/index.html) and chrome_traces. Errors (out of memory) surface at
 * pp_jw_finish. */
void pp_report_write_json(pp_jw *w, const pp_report_input *in, const char *plan_path, const char *outdir, int chrome);

#endif /* PP_REPORT_PRINT_H */
