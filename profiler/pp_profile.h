/*
 * pp_profile.h -- what `pippy profile` does with the pieces of the profiler:
 * group a graph's ops by signature, time every new signature in rounds
 * (pp_opprof_sample, pp_opprof_summarize_rounds), time a whole F + I + W
 * step and the optimizer step beside the sum of the op times, compare a
 * re-measured profile with the one stored before, and measure the links
 * between the ranks of a communicator (host links over MPI, GPU links over
 * NCCL) and the all-reduce; then print what was measured (text or JSON)
 * and hand the links part from the ranks under mpirun to the process that
 * started them (pp_profile_print.c); and the order one run takes these
 * steps in (pp_profile_run.c). Plain structs in and out: the caller loads
 * and stores the database (only tools/ and costs/ speak to db/).
 */
#ifndef PP_PROFILE_H
#define PP_PROFILE_H

#include <stdio.h>

#include "comm/pp_comm.h"
#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "core/pp_json.h"
#include "core/pp_zoo.h"
#include "kernels/pp_backend.h"
#include "profiler/pp_linkprof.h"
#include "profiler/pp_opprof.h"

/* Rounds pippy profile takes over the new ops (see pp_profile_rounds). */
#define PP_PROFILE_ROUNDS 6
/* Signature text per op, as pp_opprof_signature writes it. */
#define PP_PROFILE_SIG_MAX 512

/* Writes op i's signature to sig[i] and the first op with the same
 * signature to first[i] (i itself for the first of its kind), for every op
 * of g. Returns the number of distinct signatures. Pure. */
int pp_profile_distinct(const pp_graph *g, char (*sig)[PP_PROFILE_SIG_MAX], int *first);

/* Called after each op timed in a round: round (0-based) of rounds, done of
 * total op timings so far. */
typedef void (*pp_profile_progress)(void *ctx, int round, int rounds, int done, int total);

/* The round sampler: times F, I and W of every op i with todo[i] != 0 on
 * be, in `rounds` rounds over all of them (each round times every such op
 * once, so that an op's samples span the whole run and its spread shows how
 * the machine drifted meanwhile), and summarizes each op's samples with
 * pp_opprof_summarize_rounds(.., rounds, res, ..) into m[i], with the bytes
 * it keeps and the graph's parameter bytes. Each op first gets one probe
 * timing that sets its repetitions per round: as many as fill about 2 ms,
 * 2 to 64 (so a hiccup of the machine cannot move the median of a cheap
 * op); round 0 warms up twice, later rounds once. m[i] of the other ops is
 * left alone. progress (NULL: none) is called rounds times per op.
 * Returns 0, or -1 (err: rounds < 1, an op failed, out of memory; the m[i]
 * of todo ops are then unspecified). */
int pp_profile_rounds(const pp_graph *g, pp_backend *be, const int *todo, int rounds, double res,
                      pp_profile_progress progress, void *ctx, pp_op_measure *m, pp_err *err);

/* Sum over the ops of g of m[i]'s F + I + W medians, seconds. */
double pp_profile_ops_sum(const pp_graph *g, const pp_op_measure *m);

/* Most timed steps pp_profile_whole_step takes. */
#define PP_PROFILE_STEP_MAX_REPS 15

/* The whole-step check: builds an engine over all of g on be with cfg's
 * initial parameters (seed 1234), times whole F + I + W steps of one
 * microbatch (fresh token ids each step) after one untimed step, as many as
 * fill about 0.3 s, at least min_reps and at most PP_PROFILE_STEP_MAX_REPS,
 * and sets *whole_s to their median; then as many optimizer steps (gradient
 * norm, AdamW, zeroing) and sets *optim_per_param_s to their median over
 * the parameter count (0 for a graph without parameters). *reps (NULL: not
 * wanted) gets the number of timed steps. Returns 0, or -1 (err: min_reps
 * not in 1..PP_PROFILE_STEP_MAX_REPS, the engine or optimizer failed, out
 * of memory). */
int pp_profile_whole_step(const pp_model_config *cfg, const pp_graph *g, pp_backend *be, int min_reps, double *whole_s,
                          double *optim_per_param_s, int *reps, pp_err *err);

/* How a re-measured profile agrees with the one before (pp_profile_compare). */
typedef struct pp_profile_agreement {
    int agree;        /* passes whose medians lie within the spread */
    int total;        /* passes compared */
    int worst_op;     /* the farthest outside (index into the arrays), -1 when none is outside */
    int worst_pass;   /* 0 F, 1 I, 2 W */
    double worst_dev; /* its |median now - median before| over max(spread, res) */
} pp_profile_agreement;

/* Compares, for every i < n with had_before[i] != 0 and every pass p, the
 * median now[i].t[p] with before[i].t[p]: they agree when
 * |now - before| <= max(now[i].spread[p], before[i].spread[p]); a pass
 * timed 0 (or less) both times is left out. The worst disagreement is the
 * largest |now - before| / max(spread, res). total = 0 when nothing was
 * compared. Pure. */
void pp_profile_compare(int n, const pp_op_measure *now, const pp_op_measure *before, const int *had_before, double res,
                        pp_profile_agreement *out);

/* The links of the ranks of c and the all-reduce over all of them.
 * backend CPU: host links over MPI (pp_linkprof_run) and the all-reduce
 * (pp_linkprof_allreduce: ar[0] alpha s, ar[1] beta B/s, ar[2] residual);
 * backend CUDA: GPU links over NCCL (pp_gpulink_run; ar all 0). Collective.
 * On rank 0 *res is a malloc'd array of *n results (free it); elsewhere
 * NULL and 0. Returns 0 or -1 (err; a failure on one rank can leave the
 * others waiting: the caller should pp_comm_abort). */
int pp_profile_links(pp_comm *c, pp_backend_kind backend, int threads, const pp_linkprof_opts *o, pp_link_result **res,
                     int *n, double ar[3], pp_err *err);

/* What one `pippy profile` run measured, for printing. The ops part is
 * there when g is set, the links part when ranks >= 2. Arrays are borrowed
 * (the caller frees them), n_ops long for the ops part: sig, first (as
 * pp_profile_distinct writes them), fresh (measured now, else reused),
 * m (every op's measurement), had_prev and prev (with --force: the
 * measurement stored before, compared by pp_profile_compare). */
typedef struct pp_profile_result {
    char fp[65], desc[1024]; /* device fingerprint and description */
    const char *db_path;
    const pp_graph *g;
    const char *model;
    long long mb, seq;
    char (*sig)[PP_PROFILE_SIG_MAX];
    int *first, *fresh, *had_prev;
    pp_op_measure *m, *prev;
    int uniq, measured, reused; /* distinct signatures, of them measured, reused */
    int check;                  /* whole and optim were measured */
    int force;                  /* --force: stored measurements compared with, not reused */
    /* seconds measuring, the sum of the op medians, the whole step, the
     * optimizer step per parameter, the timer's resolution */
    double seconds, sum, whole, optim, res;
    int ranks, n_links, sample_above; /* links: the rank count, pairs measured, pp_linkprof_opts.sample_above */
    pp_link_result *links;
    double ar[3]; /* all-reduce alpha s, beta B/s, residual; beta 0: not measured */
} pp_profile_result;

/* Prints r as `pippy profile` does (the ops part, then the links part). */
void pp_profile_print_text(FILE *f, const pp_profile_result *r);

/* Writes r as one JSON object to w: "device" {fingerprint, description},
 * "db", "ops" (null without the ops part: model, micro_batch, seq, n_ops,
 * signatures, measured, reused, seconds, "profiles" per distinct signature
 * {signature, kind, ops, measured, f_s, i_s, w_s, spread_s [F, I, W]},
 * sum_s, "whole_step" {measured_s, sum_of_ops_s, ratio, optim_per_param_s}
 * or null, "comparison" {within_spread, compared, farthest_outside
 * {signature, pass, now_s, before_s, spread_s} or null} or null), and "links"
 * (null without the links part: ranks, pairs_measured, pairs_all, "pairs"
 * [{src, dst, src_host, dst_host, alpha_s, beta_Bps, residual}],
 * "allreduce" {alpha_s, beta_Bps, residual} or null). */
void pp_profile_write_json(pp_jw *w, const pp_profile_result *r);

/* pp_profile_write_json's object written to f, which name names in
 * errors ("stdout"), and flushed. Returns 0, or -1 (err: out of memory,
 * too deep nesting, or "NAME: write error"). */
int pp_profile_print_json(FILE *f, const char *name, const pp_profile_result *r, pp_err *err);

/* What rank 0 of the links phase hands on: with links_out the hand-over
 * file (pp_profile_links_save), else with json the JSON object on f
 * (pp_profile_print_json; name as there), else the text on f. Returns 0
 * or -1 (err). */
int pp_profile_links_report(FILE *f, const char *name, const pp_profile_result *r, int json, const char *links_out,
                            pp_err *err);

/* Creates an empty file for the links hand-over, pippy-links-XXXXXX in
 * $TMPDIR (or /tmp when unset or empty), and writes its path to path (n
 * bytes). The caller unlinks it. Returns 0, or -1 (err: "cannot create a
 * temporary file in DIR"). */
int pp_profile_links_tmpfile(char *path, size_t n, pp_err *err);

/* The links part of r (device fingerprint and description, ranks, links,
 * all-reduce) into the file path (written atomically), in this build's
 * binary layout: how the ranks under mpirun hand what they measured to the
 * process that started them, on the same machine. Returns 0 or -1 (err). */
int pp_profile_links_save(const char *path, const pp_profile_result *r, pp_err *err);

/* Reads what pp_profile_links_save wrote into r's links part and device
 * fields; r->links is malloc'd (the caller frees it), the rest of r is left
 * alone. Returns 0, or -1 (err: the file cannot be read, or is not such a
 * file or not whole; r unchanged). */
int pp_profile_links_load(const char *path, pp_profile_result *r, pp_err *err);

/* ---- one run (pp_profile_run.c) ---- */

/* Opens the backend (threads compute threads) and writes its description
 * and the description's SHA-256 (the device fingerprint) to o->desc and
 * o->fp. With keep the open backend is handed over in *keep (the caller
 * closes it), else closed. Returns 0, or -1 (err: the backend did not open;
 * o untouched). */
int pp_profile_describe(pp_backend_kind backend, int threads, pp_profile_result *o, pp_backend **keep, pp_err *err);

/* Sets o->g = g and allocates o's per-op arrays (m, sig, fresh, had_prev,
 * prev, first: g->n_ops each, zeroed), then fills sig, first and uniq
 * (pp_profile_distinct). Returns 0, or -1 (err: out of memory; what was
 * allocated is freed by pp_profile_result_free). */
int pp_profile_result_alloc(pp_profile_result *o, const pp_graph *g, pp_err *err);

/* Frees o's per-op arrays and o->links and sets them NULL (a zeroed o is
 * fine; freeing twice is harmless). */
void pp_profile_result_free(pp_profile_result *o);

/* Records for the first op i of a signature what the database holds for
 * it: stored (NULL: nothing). Without force a stored measurement is taken
 * as m[i] and the op is reused; with force, or with nothing stored, it is
 * measured again (fresh[i] = 1), and with force a stored one goes to prev[i]
 * to be compared with (had_prev[i] = 1). Counts it in measured or reused. */
void pp_profile_take_stored(pp_profile_result *o, int i, const pp_op_measure *stored, int force);

/* pp_profile_take_stored(ctx, i, stored, ctx's force) in the form a reader
 * of stored profiles calls back (costs/pp_costs_store.h
 * pp_costs_stored_ops); ctx is the pp_profile_result. */
void pp_profile_take_stored_cb(void *ctx, int i, const pp_op_measure *stored);

/* The ops phase on be, once pp_profile_take_stored has marked the fresh
 * ops: the timer's resolution, the round sampler over the fresh ops
 * (PP_PROFILE_ROUNDS rounds; progress and ctx as pp_profile_rounds takes
 * them), the seconds it took, every op's measurement from the first of its
 * signature, the op sum, and with o->check the whole-step check (5 steps at
 * least) into o->whole and o->optim. Returns 0, or -1 (err; see
 * pp_profile_rounds and pp_profile_whole_step). */
int pp_profile_measure_ops(const pp_model_config *cfg, pp_backend *be, pp_profile_result *o,
                           pp_profile_progress progress, void *ctx, pp_err *err);

/* The links phase on every rank of c (collective): pp_profile_links with
 * the default pp_linkprof_opts, into o->links, o->n_links and o->ar (rank 0
 * only; o->links malloc'd, freed by pp_profile_result_free), and o->ranks
 * and o->sample_above. Returns 0, or -1 (err; the caller should
 * pp_comm_abort, as for pp_profile_links). */
int pp_profile_links_phase(pp_comm *c, pp_backend_kind backend, int threads, pp_profile_result *o, pp_err *err);

/* Writes to f one frame of the progress bar of the ops phase: "\r[===   ]
 * round R/ROUNDS, D/T ops, E s, ETA S s " (round is 0-based; the ETA
 * scales elapsed seconds by the ops left), and a newline once done ==
 * total. done must be at least 1. */
void pp_profile_print_progress(FILE *f, double elapsed, int round, int rounds, int done, int total);

/* Where pp_profile_progress_tty draws: the stream and the run's start
 * (pp_backend_now() seconds). */
typedef struct pp_profile_tty {
    FILE *f;
    double t_start;
} pp_profile_tty;

/* A pp_profile_progress (ctx: a pp_profile_tty): a frame of
 * pp_profile_print_progress on ctx's f, with the seconds since t_start,
 * when f is a terminal; nothing otherwise. */
void pp_profile_progress_tty(void *ctx, int round, int rounds, int done, int total);

#endif /* PP_PROFILE_H */
