/*
 * pp_exec.h -- the pipelined runtime: a plan run for real, one process per
 * rank, over comm/ (MPI).
 *
 * Rank g = d x pp + r is pipeline rank r of data-parallel replica d. It
 * builds one stage engine per stage the plan gives rank r, initialises
 * the parameters exactly as a single process would (pp_init_param is keyed
 * by tensor name and seed, so the copies of a tied parameter start equal),
 * and for each step interprets row r of the plan's schedule table:
 *
 *   F(s, m)    receive the inputs of stage s for microbatch m (from the
 *              stages that produce them, on this rank or another), fill the
 *              graph inputs (tokens, labels) from the data, run the
 *              forward pass, and send each output to every stage that reads
 *              it: the next stage and any later one (a skip connection,
 *              like T5's encoder output, goes straight to each consumer).
 *   I(s, m)    receive the gradient of each output (summed over its
 *              consumers), run the backward for inputs, send each input's
 *              gradient back to its producer.
 *   W(s, m)    backward for weights.  B(s, m) = I then W.
 *   OVERLAP_F_B  its forward part, then its backward part.
 *   RECV_F/RECV_B  post those receives if they are not posted yet; as in
 *              PyTorch's runtime (and the simulator), the compute action
 *              that needs the data waits for it, not the RECV cell.
 *   SEND_F/SEND_B, REDUCE_GRAD, OPTIM, UNSHARD, RESHARD: nothing (sends
 *              are posted as soon as their data exists; step-level work
 *              happens at the end of the step).
 *
 * Sends never block. Receives are posted ahead: before each action, the
 * receives of the next `lookahead` compute actions of the row are posted,
 * so messages land while this rank computes. A wait lasts at most
 * timeout_s: a peer that died or hangs turns into an error naming it,
 * never a hang. Every message has its own tag (direction, consuming stage,
 * input index, microbatch), so crossed messages cannot be confused.
 *
 * At the end of the step: the gradients of each tied parameter are summed
 * over the stages that hold it (on this rank, then across ranks), the
 * gradients of each stage are summed over the data-parallel replicas, the
 * global gradient norm (each tied parameter counted once) and the loss are
 * summed over all ranks, and AdamW steps every stage with the clip scale.
 * The per-microbatch loss gradient is 1 / (n_microbatches x dp), so the
 * step computes what a single process computes on the global batch.
 * A non-finite loss or gradient on any rank stops every rank with an error
 * naming that rank.
 *
 * Microbatch m of replica d in step k holds samples
 * k x global_batch + (d x n_microbatches + m) x micro_batch + [0, micro_batch)
 * of the data (pp_data.h), as the single-process trainer does.
 *
 * Checkpoints (pp_exec_ckpt_open / pp_exec_save / pp_exec_load): replica 0
 * writes one file per stage, "stage-S.step-K.ckpt" (parameters, AdamW
 * moments, the plan hash, a SHA-256 of the whole file), each atomically
 * (temp file, fsync, rename); when every stage file is down, rank 0 writes
 * "latest" (plan hash, step, its own SHA-256) the same way. A crash at any
 * point leaves the previous checkpoint whole. Resuming reads "latest",
 * verifies every checksum, refuses another plan or a damaged file (naming
 * it), and continues bit for bit. A save removes only stage files this
 * executor wrote, resumed from, or was allowed to overwrite.
 *
 *     pp_exec *x;
 *     if (pp_exec_create(&plan, &g, comm, &opts, &x, &err)) ...
 *     for (int k = 0; k < steps; k++) pp_exec_step(x, k, &st, &err);
 *     pp_exec_free(x);
 */
#ifndef PP_EXEC_H
#define PP_EXEC_H

#include <stdint.h>

#include "comm/pp_comm.h"
#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "core/pp_plan.h"
#include "core/pp_record.h"
#include "core/pp_trace.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_optim.h"

typedef struct pp_exec pp_exec;

typedef struct pp_exec_opts {
    uint64_t seed;          /* weights and data order (1234) */
    const char *data_path;  /* NULL: the default corpus (pp_data.h) */
    pp_adamw_hyper hyper;   /* pp_adamw_defaults() */
    int total_steps;        /* the length of the learning-rate schedule (100) */
    int threads;            /* compute threads of this rank (1) */
    pp_backend_kind backend; /* PP_BACKEND_CPU (default) or PP_BACKEND_CUDA (the GPU of the rank's local index) */
    double timeout_s;       /* longest wait for another rank (30) */
    int lookahead;          /* compute actions whose receives are posted ahead (4) */
    int record;             /* keep every action's start and end (1) */
    int nan_rank, nan_step; /* testing: rank nan_rank poisons its loss at step nan_step (-1: never) */
} pp_exec_opts;

pp_exec_opts pp_exec_defaults(void);

/* One step's results, the same on every rank. */
typedef struct pp_exec_step {
    int step;               /* 0-based */
    double loss;            /* mean over the global batch's microbatches */
    double grad_norm;       /* before clipping */
    double lr;
    double seconds;         /* this rank's wall time of the step */
} pp_exec_step_result;

/* A measured action is a pp_run_event (core/pp_record.h): the step it
 * belongs to and the event, times in seconds from the run's start (a
 * barrier shared by all ranks), rank the global rank. */

/* Builds this rank's part of the plan. Collective over `world`, which must
 * have pp x dp ranks; g is the plan's model graph (built for micro_batch x
 * seq_len) and must outlive the executor. Refuses, before any compute, a
 * launch that does not match the plan (rank count, ranks loading different
 * plans), a schedule that fails pp_sched_check (incomplete, out of order, or deadlocking), and tags
 * MPI cannot carry. Returns 0, or -1 with err. */
int pp_exec_create(const pp_plan *plan, const pp_graph *g, pp_comm *world, const pp_exec_opts *o, pp_exec **out,
                   pp_err *err);
void pp_exec_free(pp_exec *x);

/* Runs training step `step` (0-based; it selects the data and the learning
 * rate). Collective. Returns 0, or -1 with err (the message names the rank
 * that failed when another rank's failure is the cause). */
int pp_exec_step(pp_exec *x, int step, pp_exec_step_result *out, pp_err *err);

/* What pp_exec_ckpt_open may find in the checkpoint folder. */
typedef enum pp_exec_ckpt_mode {
    PP_EXEC_CKPT_NEW,       /* the folder must hold no checkpoint ("latest" or stage files) */
    PP_EXEC_CKPT_RESUME,    /* load the folder's checkpoint; refuse a folder without a usable one */
    PP_EXEC_CKPT_OVERWRITE, /* a checkpoint already there may be replaced by this run's saves */
} pp_exec_ckpt_mode;

/* Before the first step of a run that checkpoints into dir. On every rank
 * that writes checkpoints (replica 0): creates dir if missing (not with
 * RESUME: a missing dir is refused) and checks that it is a folder in which
 * files can be created, by creating and removing a probe file. Then NEW
 * refuses a dir holding a checkpoint (code PP_ERR_INVALID, the files
 * named); RESUME loads the checkpoint as pp_exec_load does and refuses a
 * dir without one, saying what it holds; OVERWRITE lets this run's first
 * save remove the stage files of the step "latest" names. Collective: every
 * rank gets the same verdict and the failing rank's message, and
 * pp_exec_failed_together then says 1. *steps_done: the steps the loaded
 * checkpoint holds (RESUME), else 0. Returns 0, or -1 with err. */
int pp_exec_ckpt_open(pp_exec *x, const char *dir, pp_exec_ckpt_mode mode, const char *plan_hash, int *steps_done,
                      pp_err *err);

/* Checkpoint of the state after `steps_done` steps into dir (created if
 * missing), then removes the stage files of the checkpoint this one
 * replaces (the one this executor last wrote or loaded; see
 * pp_exec_ckpt_open), never others. Collective; a failure on any rank is
 * every rank's (pp_exec_failed_together says 1). Returns 0 or -1 with err. */
int pp_exec_save(pp_exec *x, const char *dir, int steps_done, const char *plan_hash, pp_err *err);
/* Loads the checkpoint in dir. *steps_done = the steps it holds, or -1
 * with nothing loaded when dir has no "latest". Refuses another plan's
 * checkpoint, an older format (1, without checksums) and any file whose
 * SHA-256 does not match its contents, naming the file. Collective: every
 * rank gets the failing rank's message (pp_exec_failed_together then says
 * 1). After a failure the state of this rank's stages is unspecified: the
 * executor must not step again. Returns 0 or -1 with err. */
int pp_exec_load(pp_exec *x, const char *dir, const char *plan_hash, int *steps_done, pp_err *err);

/* Parameter `tensor` of the model (as held by replica 0) into out
 * (numel floats) on rank 0; out may be NULL elsewhere. Collective. */
int pp_exec_gather_param(pp_exec *x, int tensor, float *out, pp_err *err);

/* This rank: the global rank, the peak bytes its backend held, the compute
 * time summed over the steps run, and the recorded events. */
int pp_exec_rank(const pp_exec *x);
long long pp_exec_peak_bytes(const pp_exec *x);
double pp_exec_busy_s(const pp_exec *x);
const pp_run_event *pp_exec_events(const pp_exec *x, long long *n);

/* 1 after pp_exec_step failed on every rank alike (a non-finite loss or
 * gradient, known to all through the step's reduction), or after a
 * checkpoint function failed (every rank knows it): every rank may then
 * exit normally; after any other failure the caller should pp_comm_abort,
 * since other ranks may be waiting on this one. */
int pp_exec_failed_together(const pp_exec *x);

/* Per-rank figures gathered on rank 0 are pp_run_rank (core/pp_record.h). */

/* Gathers every rank's events and figures on rank 0: *ev (n_ev events,
 * ordered by rank, then as recorded) and *ranks (world size entries),
 * malloc'd (caller frees); NULL and 0 elsewhere. Collective. */
int pp_exec_gather(pp_exec *x, pp_run_event **ev, long long *n_ev, pp_run_rank **ranks, pp_err *err);

#endif /* PP_EXEC_H */
