/*
 * pp_sched.h -- the schedule table: for each rank, the ordered list of
 * actions it performs in one training step.
 *
 * One representation serves every user: the schedule generators write it,
 * the simulator and the executor interpret it, and it is read from and
 * written to the CSV form of PyTorch's torch.distributed.pipelining (see
 * ../shared/compat/pytorch-schedules/README.md), so a table made here runs
 * there and the other way round.
 *
 * An action is {type, stage, microbatch}. In CSV a cell is
 * "{stage}{type}{microbatch}": "0F1", "2I1", "1W3", "2SEND_B2", "1RECV_F1".
 * An empty cell is an idle step (compute-only tables). The compound cell
 * "(0F7;7B3)OVERLAP_F_B" runs a forward and a backward of two stages
 * overlapped (DualPipeV). Step-level actions: "{stage}REDUCE_GRAD" is
 * PP_ACT_ALLREDUCE (PyTorch's name); "{stage}OPTIM" is pippy's own.
 *
 * Two namings of the backward pass exist:
 *
 *     meaning                     current   legacy (2024)
 *     backward for inputs only    I         B
 *     backward for weights only   W         W
 *     full backward (I + W)       B         BW
 *
 * In memory the current naming is used (PP_ACT_I, PP_ACT_W, PP_ACT_B). A
 * reader given PP_NAMING_AUTO calls a table legacy when it has a "BW" cell,
 * or "W" cells but no "I" cell (parts of OVERLAP cells count), and says
 * which naming it found. This never misreads a valid table: every W needs
 * an I (as many I as W), so a valid current table with W has an I, and the
 * legacy naming has no I at all. Only an invalid current table with W but
 * no I is taken for legacy (its B cells would then read as I).
 *
 *     pp_sched s;
 *     pp_sched_naming found;
 *     if (pp_sched_load_csv("zb.csv", PP_NAMING_AUTO, &s, &found, &err)) ...
 *     pp_sched_save_csv(&s, "out.csv", PP_NAMING_CURRENT, &err);
 *     pp_sched_free(&s);
 */
#ifndef PP_SCHED_H
#define PP_SCHED_H

#include <stddef.h>
#include <stdio.h>

#include "core/pp_err.h"
#include "core/pp_json.h"

typedef enum pp_act_type {
    PP_ACT_NONE = 0,    /* empty cell: an idle step */
    PP_ACT_F,           /* forward */
    PP_ACT_I,           /* backward for inputs only */
    PP_ACT_W,           /* backward for weights only */
    PP_ACT_B,           /* full backward (I then W) */
    PP_ACT_SEND_F,      /* send the stage's forward output of a microbatch */
    PP_ACT_RECV_F,      /* receive the stage's forward input */
    PP_ACT_SEND_B,      /* send the stage's input gradient */
    PP_ACT_RECV_B,      /* receive the stage's output gradient */
    PP_ACT_OVERLAP_F_B, /* a forward and a backward run overlapped (sub[0], sub[1]) */
    PP_ACT_ALLREDUCE,   /* step-level gradient all-reduce of a stage ("REDUCE_GRAD") */
    PP_ACT_OPTIM,       /* step-level optimizer step of a stage */
    PP_ACT_UNSHARD,     /* FSDP all-gather of a stage's parameters (read for compatibility) */
    PP_ACT_RESHARD,     /* FSDP free of the gathered parameters (read for compatibility) */
    PP_ACT__COUNT
} pp_act_type;

typedef enum pp_sched_naming {
    PP_NAMING_AUTO = 0, /* reading only: detect */
    PP_NAMING_CURRENT,
    PP_NAMING_LEGACY,
} pp_sched_naming;

typedef enum pp_sched_form {
    PP_SCHED_COMPUTE_ONLY = 0, /* computation only; a runtime adds the comms */
    PP_SCHED_COMPUTE_COMMS,    /* computation and sends/receives, no idle cells */
} pp_sched_form;

/* One part of an OVERLAP_F_B action. */
typedef struct pp_subaction {
    int type;   /* pp_act_type: F, I, W or B */
    int stage;
    int mb;
} pp_subaction;

typedef struct pp_action {
    int type;   /* pp_act_type */
    int stage;  /* -1 for PP_ACT_NONE */
    int mb;     /* microbatch; -1 when the action has none (NONE, OVERLAP, step-level) */
    pp_subaction sub[2]; /* PP_ACT_OVERLAP_F_B only: sub[0] forward, sub[1] backward */
} pp_action;

typedef struct pp_sched_rank {
    pp_action *acts;
    int n, cap;
} pp_sched_rank;

typedef struct pp_sched {
    int n_ranks;
    pp_sched_rank *ranks;   /* n_ranks rows */
} pp_sched;

/* Starts an empty table with n_ranks rows. Returns 0 or -1 (err set). */
int pp_sched_init(pp_sched *s, int n_ranks, pp_err *err);
void pp_sched_free(pp_sched *s);
/* Appends an action to a rank's row. Returns 0 or -1 (err set). */
int pp_sched_push(pp_sched *s, int rank, pp_action a, pp_err *err);
/* Deep copy. */
int pp_sched_copy(pp_sched *dst, const pp_sched *src, pp_err *err);
/* 1 when both tables hold the same actions in the same order. Fields an
 * action does not use are ignored: stage and mb of PP_ACT_NONE, and of
 * PP_ACT_OVERLAP_F_B beside its sub-actions. */
int pp_sched_equal(const pp_sched *a, const pp_sched *b);

/* The largest stage or microbatch index a table may hold: 9 digits, what
 * the CSV grammar reads. Checks refuse larger ones. */
#define PP_SCHED_ID_MAX 999999999

/* Counts derived from the table: stages = 1 + highest stage index (0 when
 * empty); microbatches = 1 + highest microbatch index. The parts of
 * OVERLAP_F_B actions count. An index of INT_MAX gives INT_MAX (no overflow). */
int pp_sched_n_stages(const pp_sched *s);
int pp_sched_n_microbatches(const pp_sched *s);
/* COMPUTE_COMMS when any SEND/RECV action is present. */
pp_sched_form pp_sched_form_of(const pp_sched *s);

/* Short action constructors. */
pp_action pp_action_make(pp_act_type type, int stage, int mb);
pp_action pp_action_overlap(int f_stage, int f_mb, pp_act_type b_type, int b_stage, int b_mb);

/* Name of a type in the given naming ("F", "I", "BW", "SEND_F", "REDUCE_GRAD", ...);
 * "" for PP_ACT_NONE, "?" for a value out of range. */
const char *pp_act_type_name(pp_act_type t, pp_sched_naming naming);

/* Formats one cell into buf (n >= 64). Empty string for PP_ACT_NONE.
 * naming must be CURRENT or LEGACY. Stage and mb are printed only when
 * >= 0; the action is not checked (pp_sched_write_csv checks). */
void pp_action_format(const pp_action *a, pp_sched_naming naming, char *buf, size_t n);

/* Parses one cell (without surrounding whitespace) in a known naming
 * (CURRENT or LEGACY). An empty cell is PP_ACT_NONE. Stage and microbatch
 * are 1 to 9 digits without sign or leading zeros; REDUCE_GRAD, OPTIM,
 * UNSHARD and RESHARD take no microbatch (mb = -1); an OVERLAP_F_B cell has
 * stage = mb = -1 and must hold a forward, then a backward (I, W or B).
 * Returns 0 or -1 with err describing what is wrong with the cell (the
 * caller adds the place). */
int pp_action_parse(const char *cell, pp_sched_naming naming, pp_action *out, pp_err *err);

/* Reads CSV text: one row per rank in rank order, one cell per action.
 * `file` names the text in errors, which give file, line (= rank + 1),
 * column (= cell number, 1-based) and the cell: "zb.csv:2:7: cell '3Q0': ...".
 * Line endings \n or \r\n; a final newline is optional. Spaces and tabs
 * around a cell are ignored and a cell may be wrapped in double quotes. An
 * empty line is a rank with no actions ("" is one idle step); text with no
 * cell at all is an error ("no rows"). *found (may be NULL) receives the
 * naming used. Returns 0 and a new table in *out (overwritten, not freed),
 * or -1 (err set, *out untouched). */
int pp_sched_parse_csv(const char *text, size_t len, const char *file, pp_sched_naming naming,
                       pp_sched *out, pp_sched_naming *found, pp_err *err);
int pp_sched_load_csv(const char *path, pp_sched_naming naming, pp_sched *out,
                      pp_sched_naming *found, pp_err *err);

/* Writes CSV text ("\n" line endings, one line per rank, every line ending
 * in "\n"; a row of one idle step is written ""); *out is malloc'ed (caller
 * frees). naming: CURRENT or LEGACY. Every action must read back equal, so
 * -1 is returned for a stage or microbatch outside [0, 999999999] where one
 * is needed, a microbatch on a step-level action, or an OVERLAP_F_B that is
 * not forward-then-backward. An OVERLAP_F_B whose backward is I cannot be
 * written in legacy naming: "(0F7;7B3)OVERLAP_F_B" reads as a full backward
 * in every reader that knows OVERLAP_F_B (current PyTorch); that returns -1. */
int pp_sched_write_csv(const pp_sched *s, pp_sched_naming naming, char **out, size_t *len, pp_err *err);
/* Writes the CSV atomically (temp file + rename). */
int pp_sched_save_csv(const pp_sched *s, const char *path, pp_sched_naming naming, pp_err *err);

/* ---- checking and lowering (pp_sched_check.c) ----
 *
 * Execution model (the executor's and the simulator's): each rank runs its
 * actions in order. Stage s sends its forward output to stage s + 1 and
 * receives its output gradient from s + 1 (PyTorch's convention); stages on
 * the same rank hand tensors over in memory. Sends never block. A receive
 * (an explicit RECV_F/RECV_B cell, or in a compute-only table the implicit
 * receive before a compute action whose input lives on another rank) waits
 * until the matching send has been posted. A compute action whose input is
 * produced on its own rank needs that action to have run earlier. */

/* The one check every reader of a schedule runs (pippy check, schedule
 * check, sim, plan, report and run, through pp_plan_check for plans):
 * pp_sched_validate with the given counts, then pp_sched_check_deadlock.
 * n_stages and n_microbatches are what the table must cover (a plan's
 * stages and microbatches); <= 0 takes the table's own count (1 + the
 * highest index: a bare CSV). Every stage x microbatch then needs its F and
 * either B or I and W, each once and in order, and the table must run to the
 * end. Work and memory are bounded by the table's size, whatever its
 * indices. Returns 0, or -1 with err naming what is missing ("schedule
 * incomplete (4 missing): stage 1 microbatch 3 has no forward (F); ..."),
 * the offending cell, or where the table waits ("deadlock: rank 0 at action
 * 1 (0B0) waits for rank 1 (1B0); ..."). */
int pp_sched_check(const pp_sched *s, int n_stages, int n_microbatches, pp_err *err);

/* stage_rank[s] for every stage of the table (n_stages entries, see
 * pp_sched_n_stages); -1 for a stage no cell names. Every cell with a stage
 * counts (OVERLAP parts, comms and step-level cells too). Fails if a stage
 * appears on two ranks, or a cell is malformed (unknown type, negative
 * stage or microbatch). */
int pp_sched_stage_ranks(const pp_sched *s, int *stage_rank, pp_err *err);

/* PyTorch's rules (../shared/compat/pytorch-schedules/README.md): each stage
 * on one rank only; per stage exactly one F per microbatch 0..m-1; per
 * stage and microbatch F before its I or B, I before W, either B or I + W;
 * as many I as W; B + (I + W) / 2 = m. OVERLAP_F_B parts count as their
 * own F and B (the backward part cannot need the forward part). Every stage
 * 0..S-1 must appear. In a compute_comms table every SEND has its RECV on
 * the neighbour's rank and the other way round, with no duplicates; a rank
 * sends and receives only for its own stages and never between two stages
 * it holds both of; a SEND comes after the action whose result it sends,
 * and a compute action whose neighbour is on another rank after its RECV.
 * Idle cells and step-level actions (REDUCE_GRAD, OPTIM, UNSHARD, RESHARD)
 * are allowed and not counted. n_microbatches <= 0 takes the table's own
 * count; otherwise every microbatch index must be below it. Indices above
 * PP_SCHED_ID_MAX are refused; memory stays linear in the number of cells
 * (a table too small for its stages x microbatches is reported incomplete
 * without allocating the grid). Errors name the rank, the 0-based position
 * and the cell (current naming):
 * "rank 1, action 7 (1W3): W before I of stage 1 microbatch 3"; missing
 * passes are all counted and the first 8 named, before any order error:
 * "schedule incomplete (2 missing): stage 1 microbatch 3 has no backward
 * (B or I+W); stage 0 microbatch 2 has I but no W". */
int pp_sched_validate(const pp_sched *s, int n_microbatches, pp_err *err);

/* Runs the execution model with zero durations, in time linear in the
 * number of actions and memory linear in stages * microbatches. Readiness:
 * RECV_F(s,m) needs SEND_F(s-1,m) posted, RECV_B(s,m) needs SEND_B(s+1,m);
 * SEND_F(s,m) needs F(s,m) run, SEND_B(s,m) its I or B; W needs its I;
 * I and B need their F; in a compute-only table F(s,m) needs F(s-1,m) and
 * I/B(s,m) need the I or B of (s+1,m) (an implicit receive when the
 * neighbour is on another rank); in a compute_comms table only a neighbour
 * on the same rank is needed that way (the explicit RECV covers the rest).
 * OVERLAP_F_B needs what both parts need. The table should be valid
 * (pp_sched_validate); cells are checked, stages placed (pp_sched_stage_ranks),
 * and a table whose indices span more stages x microbatches than its cells
 * could cover (more than 4 x cells + 65536) is refused as incomplete rather
 * than given a grid of that size.
 * Returns 0 when every rank finishes; else -1 with the reason in err: the
 * wait cycle, with each rank's position, cell and what it needs,
 * "deadlock: rank 0 at action 5 (0RECV_B0) waits for rank 1 (1SEND_B0);
 * rank 1 at action 3 (1RECV_F1) waits for rank 0 (0SEND_F1)"
 * (at most 8 ranks shown), or a rank that waits for something never produced,
 * "deadlock: rank 1 at action 3 (1RECV_F1) waits for 0SEND_F1, which rank 0
 * never posts", or for its own later action,
 * "deadlock: rank 1 at action 0 (2F0) waits for 1F0, which rank 1 runs later
 * (action 1)". */
int pp_sched_check_deadlock(const pp_sched *s, pp_err *err);

/* Lowers a compute-only table into a compute_comms one: RECV_F before each
 * F whose input comes from another rank, SEND_F after each F whose output
 * goes to another rank, RECV_B before each I or B whose output gradient comes
 * from another rank, SEND_B after each I or B whose input gradient goes to
 * another rank (an OVERLAP_F_B gets both halves' comms around it). Idle cells
 * are dropped. A table that already has comms is copied. Receives come
 * right before their action and sends right after it (PyTorch's lowering
 * posts some receives earlier); in the execution model the lowered table
 * deadlocks exactly when the compute-only one does. Fails on a malformed
 * cell, a stage on two ranks, or stage indices beyond what the table's cells
 * could place (more than 4 x cells + 65536 stages); *out is written only on
 * success. */
int pp_sched_lower(const pp_sched *compute, pp_sched *out, pp_err *err);

/* ---- printing (pp_sched_print.c) ---- */

/* Reads a naming's name: "current", "legacy", and with allow_auto "auto".
 * Returns 0 with *out set, or -1 for any other text (*out untouched; the
 * caller words the error). */
int pp_sched_naming_parse(const char *s, int allow_auto, pp_sched_naming *out);

/* Appends to w the table as one JSON object: "file" and "output" (each
 * left out when NULL: where the table came from or went), "ranks",
 * "stages", "microbatches", "form" (compute_only or compute_comms) and
 * "naming" (legacy or current, from naming); with checked, "valid" (error
 * == NULL) and "error" (the message or null); with cells, "cells": each
 * rank's cells in current naming. Errors (nesting) are the writer's,
 * reported by pp_jw_finish. */
void pp_sched_write_json(pp_jw *w, const pp_sched *s, const char *file, const char *output, pp_sched_naming naming,
                         int checked, const char *error, int cells);

/* Prints to f what `pippy schedule show` shows: "PATH: R ranks, S stages,
 * M microbatches, FORM, NAMING naming", then per rank its cell count, the
 * count of each action type present ("idle" for empty cells), and its
 * cells in current naming ("_" for an idle one). naming is the one the
 * table was read in. Every action's type must be a pp_act_type. */
void pp_sched_print_text(FILE *f, const pp_sched *s, const char *path, pp_sched_naming naming);

/* Prints to f the line `pippy schedule check` prints for a table that
 * passed pp_sched_check: "PATH: valid (R ranks, S stages, M microbatches)
 * and free of deadlock". Checks nothing itself. */
void pp_sched_print_valid(FILE *f, const pp_sched *s, const char *path);

#endif /* PP_SCHED_H */
