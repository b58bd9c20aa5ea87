/*
 * tool_common.h -- what every pippy-X command shares: where the database
 * and the presets are, and how an error is printed.
 *
 * Exit codes: 0 success, 1 failure (bad input, impossible request, I/O),
 * 2 bad usage (unknown option, missing argument).
 */
#ifndef PP_TOOL_COMMON_H
#define PP_TOOL_COMMON_H

#include <stddef.h>

#include "core/pp_fmt.h"
#include "core/pp_err.h"
#include "costs/pp_costs.h"

/* The database path: opt when given (--db), else $PIPPY_DB, else "pippy.db". */
const char *pp_tool_db_path(const char *opt);

/* The configs directory: $PIPPY_CONFIGS, else the source tree's configs/. */
const char *pp_tool_config_dir(void);

/* Resolves a model argument: an existing file path is used as is; otherwise
 * a preset name is looked up as <configs>/models/<name>.json. Writes the
 * path into buf. Returns 0, or -1 with err listing the presets. */
int pp_tool_model_path(const char *arg, char *buf, size_t n, pp_err *err);
/* Same for a cluster spec under <configs>/clusters/. */
int pp_tool_cluster_path(const char *arg, char *buf, size_t n, pp_err *err);

/* Prints "pippy <tool>: <message>" to stderr and returns 1. */
int pp_tool_fail(const char *tool, const pp_err *err);

/* Prints "pippy <tool>: <message>\n(see pippy <tool> --help)" and returns 2. */
int pp_tool_usage_error(const char *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Refuses to write an output over an input: out (given by option oflag) is
 * compared with each (flag, path) pair that follows, a NULL flag ending the
 * list; NULL paths are skipped. Returns 0 when out is none of them, else
 * prints a usage error naming both options and returns 2. */
int pp_tool_refuse_overwrite(const char *tool, const char *oflag, const char *out, ...);

/* Parses a whole decimal integer in [lo, hi] for option `opt`. Returns 0 or
 * prints a usage error and returns -1. */
int pp_tool_parse_int(const char *tool, const char *opt, const char *s, long long lo, long long hi,
                      long long *out);

/* Parses a whole, finite decimal number for option `opt`: at least lo, and
 * above lo when `above` (e.g. > 0). Returns 0 with *out, or prints a usage
 * error ("--tflops: 'x' is not a number > 0") and returns -1. */
int pp_tool_parse_num(const char *tool, const char *opt, const char *s, double lo, int above, double *out);

struct pp_graph;
/* The fingerprint of this machine's CPU backend with `threads` threads
 * (the key its measurements are stored under). Returns 0 or -1 (err). */
int pp_tool_cpu_fingerprint(int threads, char fp[65], pp_err *err);

/* Opens the costs view of a database (costs/pp_costs.h) for this machine's
 * CPU with one thread per rank. A missing file is no error: nothing is
 * measured. Returns 0 and *out (pp_costs_close), or -1 (err). */
struct pp_costs;
int pp_tool_costs_open(const char *db_path, struct pp_costs **out, pp_err *err);

/* What the database at db_path holds for graph g on cluster cl (NULL: this
 * machine), for a command about to call pp_predict: *measured 1 with *cost
 * filled (pp_cost_free) when every op of g is profiled there, else 0 (*cost
 * untouched: FLOP estimates) -- with warn_tool, a warning on stderr naming
 * the tool when the profile has some of g's ops but not all; g may be NULL.
 * With comm_too the measured links and all-reduce into *comm (zeroed
 * otherwise). A missing database is no error. Returns 0, or -1 with err and
 * nothing to free. */
struct pp_cluster;
struct pp_cost_profile;
struct pp_comm_measured;
int pp_tool_costs_load(const char *db_path, const struct pp_cluster *cl, const struct pp_graph *g, int comm_too,
                       const char *warn_tool, struct pp_cost_profile *cost, int *measured,
                       struct pp_comm_measured *comm, pp_err *err);

/* The plan's one prediction (simulator/pp_predict.h) from what the
 * database at db_path holds for the plan's cluster: measured op costs when
 * every op of g is profiled there (else FLOP estimates), measured links and
 * all-reduce. g is the plan's graph (NULL: unit costs); in gives what to
 * return and the what-if figures (NULL: the defaults); its cost and comm
 * are replaced. A missing database is no error. Returns 0 with *out
 * (pp_prediction_free), or -1 with err (free *out all the same). This is
 * what pippy report, run and validate predict a plan with. */
struct pp_plan;
struct pp_predict_input;
struct pp_prediction;
int pp_tool_predict(const char *db_path, const struct pp_plan *plan, const struct pp_graph *g,
                    const struct pp_predict_input *in, struct pp_prediction *out, pp_err *err);

/* Finishes a JSON writer and prints the text on stdout. Returns 0 or -1. */
struct pp_jw;
int pp_tool_print_json(struct pp_jw *w, pp_err *err);

#endif /* PP_TOOL_COMMON_H */
