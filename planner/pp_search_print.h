/*
 * pp_search_print.h -- the plan search (pp_search.h) shown: the measured
 * links and costs a search stands on, the table of its top candidates, the
 * ILP schedule's outcome, the chosen plan and its prediction as text, and
 * the whole outcome as one JSON document (over core/pp_json's pp_jw). This
 * is what `pippy plan` prints; the text goes to the FILE* handed in (stdout,
 * or stderr when the JSON takes stdout).
 *
 *     pp_search_run(stdout, stderr, &o, 10, 0, "", &cands, &n, &plan, &err);
 *     pp_search_print_chosen(stdout, &plan);
 *     pp_jw w; pp_jw_init(&w);
 *     pp_search_write_json(&w, cands, n, 10, &plan, hash, "plan.json", id, costs);
 *
 * pp_search_run runs the search and prints as it goes. The print functions
 * cannot fail; what they write to f is not checked (the caller flushes and
 * checks f). The JSON writer cannot fail either (pp_jw_finish reports).
 */
#ifndef PP_SEARCH_PRINT_H
#define PP_SEARCH_PRINT_H

#include <stdio.h>

#include "core/pp_cost.h"
#include "core/pp_json.h"
#include "core/pp_plan.h"
#include "core/pp_sched.h"
#include "planner/pp_search.h"

/* A progress callback for pp_search_opts.progress, its ctx the FILE* to
 * write to (a terminal): "\rsearching: DONE/TOTAL candidates", and a newline
 * when done == total. */
void pp_search_print_progress(void *ctx, int done, int total);

/* The links and all-reduce measured in the database at `where`, one line
 * each ("links: measured in ...", "all-reduce: measured over ..."); nothing
 * for what was not measured. */
void pp_search_print_comm(FILE *f, const pp_comm_measured *comm, const char *where);

/* After pp_search: "costs: SOURCE for M of N micro-batch sizes searched" on
 * f when some sizes had measured costs (SOURCE: the last measured profile's
 * source), and on warn the warning that the others stand on FLOP estimates
 * (at pp_predict_rate's rate, saying where it comes from). */
void pp_search_print_costs(FILE *f, FILE *warn, const pp_search_opts *o, const char *source);

/* The search's headline (model, cluster, devices, global batch, tokens,
 * candidate count), a blank line and the first min(n, top) candidates as a
 * table: pp, dp, schedule, v, m, micro-batch, iteration time, tokens/s,
 * bubble, peak and limit GiB, and why a candidate does not fit. */
void pp_search_print_candidates(FILE *f, const pp_search_opts *o, const pp_candidate *c, int n, int top);

/* The plan made for a given table (pp_search_plan_from_table) from the CSV
 * file csv, read with naming `found`: its ranks, stages and microbatches,
 * then "costs: SOURCE" when measured costs were used. */
void pp_search_print_table_plan(FILE *f, const char *csv, pp_sched_naming found, const pp_plan *plan,
                                const pp_search_opts *o, const char *source);

/* The ILP schedule's outcome after pp_search_ilp_schedule: status, warm
 * start, makespans, gap, solve time, and whether it replaced `searched` (the
 * pp_schedule_kind the search chose). */
void pp_search_print_ilp(FILE *f, const pp_plan *plan, int searched);

/* The chosen plan (degrees, schedule, microbatches, how it was split) and
 * its prediction (step time, tokens/s, bubble), after a blank line. */
void pp_search_print_chosen(FILE *f, const pp_plan *plan);

/* The search run and shown, as `pippy plan` does it: pp_search, then on f
 * its costs lines (pp_search_print_costs; the estimate warning on warn;
 * source: the last measured profile's, read after the search) and the
 * candidate table (pp_search_print_candidates, top rows), the winner's plan
 * (pp_search_choose) and, when ilp_s > 0, the ILP schedule
 * (pp_search_ilp_schedule, ilp_s seconds) and its line. Returns 0 with
 * *cands (n of them), *plan, or -1 with err (nothing fits, a solver or
 * simulation error); the caller frees *cands with pp_search_free and *plan
 * with pp_plan_free either way. */
int pp_search_run(FILE *f, FILE *warn, const pp_search_opts *o, int top, double ilp_s, const char *source,
                  pp_candidate **cands, int *n, pp_plan *plan, pp_err *err);

/* The whole outcome as one JSON object written to w: plan_file (outp),
 * plan_hash, stored_plan_id (null when stored_id <= 0), costs, the first
 * min(n, top) candidates, the chosen plan and its prediction. */
void pp_search_write_json(pp_jw *w, const pp_candidate *c, int n, int top, const pp_plan *plan, const char *phash,
                          const char *outp, long long stored_id, const char *costs);

#endif /* PP_SEARCH_PRINT_H */
