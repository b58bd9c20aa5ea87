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

#include "core/pp_err.h"

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

/* Formats a count with thousands separators: 124439808 -> "124,439,808".
 * Returns buf (n >= 32). */
const char *pp_tool_fmt_count(long long v, char *buf, size_t n);

/* The measured cost profile of a graph on this machine, from the database
 * (pippy profile): returns 1 and fills *out and src (which profile) when
 * every op's signature is profiled for this device (fingerprint of a CPU
 * backend with `threads` threads), 0 when not (missing counts the ops
 * without a profile; *out untouched), -1 on error. A missing database is 0. */
struct pp_graph;
struct pp_cost_profile;
int pp_tool_measured_cost(const char *db_path, const struct pp_graph *g, int threads, struct pp_cost_profile *out,
                          char *src, size_t n, int *missing, pp_err *err);

/* The database key of a graph's whole-step record (pippy profile): "step "
 * and the first 16 hex digits of the SHA-256 of its ops' signatures, and
 * the op count; and that of the optimizer's per-parameter time. A measured
 * cost profile scales its op times by whole step / sum of ops when the
 * graph's record exists (the source says so), and takes the optimizer's
 * time per parameter when that exists. */
#define PP_TOOL_OPTIM_SIGNATURE "optim adamw f32 per-parameter"
void pp_tool_step_signature(const struct pp_graph *g, char *buf, size_t n);

/* The all-reduce measured over N ranks (pippy profile --ranks N): t(bytes) =
 * alpha + bytes / beta. pp_tool_measured_allreduce returns 1 with the
 * record of the most ranks (*n_ranks), 0 when none, -1 on error. */
#define PP_TOOL_ALLREDUCE_SIGNATURE "allreduce f32 over %d ranks"
int pp_tool_measured_allreduce(const char *db_path, int threads, int *n_ranks, double *alpha, double *beta,
                               pp_err *err);
/* The per-hop figures a ring all-reduce model needs to reproduce that
 * measurement for N ranks: 2 (N - 1) hop_alpha + 2 (N - 1) / N bytes /
 * hop_beta = alpha + bytes / beta. */
void pp_tool_allreduce_hops(int n_ranks, double alpha, double beta, double *hop_alpha, double *hop_beta);

/* The mean latency (s) and bandwidth (bytes/s) of the links measured on
 * this machine (pippy profile --ranks N), over *n links. Returns 1 when
 * there are some, 0 when none (or no database), -1 on error. */
int pp_tool_measured_links(const char *db_path, int threads, double *alpha, double *beta, int *n, pp_err *err);

/* The prediction of a plan, as `pippy sim --plan` makes it: op costs
 * measured on this machine when the database profiles every op (else the
 * graph's FLOPs at half the cluster's peak, or 1 TFLOP/s), links measured
 * on this machine when the cluster is of CPUs and some are stored (else
 * the cluster spec's). g is the plan's graph. want_trace / want_timeline
 * as in pp_sim_input. Fills *res (pp_sim_result_free it) and, when not
 * NULL, cost_src and link_src (n bytes each: which costs, which links), and
 * stage_t (3 x n_stages: each stage's F, I and W seconds per microbatch).
 * Returns 0 or -1 (err). */
struct pp_plan;
struct pp_sim_result;
int pp_tool_predict_plan(const struct pp_plan *p, const struct pp_graph *g, const char *db_path, int want_trace,
                         int want_timeline, struct pp_sim_result *res, char *cost_src, char *link_src, size_t n,
                         double *stage_t, pp_err *err);

/* Sorts v[0 .. n) ascending, in place. */
void pp_tool_sort(double *v, int n);
/* The median of v[0 .. n) (sorting v): the middle value, the mean of the
 * two middle ones for an even n; NAN when n is 0. */
double pp_tool_median(double *v, int n);

/* Finishes a JSON writer and prints the text on stdout. Returns 0 or -1. */
struct pp_jw;
int pp_tool_print_json(struct pp_jw *w, pp_err *err);

#endif /* PP_TOOL_COMMON_H */
