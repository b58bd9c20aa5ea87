/*
 * pp_schedgen.h -- schedule generators: the compute-only tables of the
 * pipeline schedules people run, for a pipeline degree p (ranks), m
 * microbatches and, where the schedule has them, v stages per rank.
 *
 *   gpipe        fill-drain: all F, then all B (one stage per rank)
 *   1f1b         one forward one backward (PipeDream-flush / Megatron)
 *   interleaved  Megatron's interleaved 1F1B, v stages per rank, looped
 *                placement (stage s on rank s % p)
 *   looped-bfs   breadth-first looped schedule (all microbatches through a
 *                stage before the next local stage), v stages per rank
 *   zbh1         Zero Bubble H1 (arXiv 2401.10241): 1F1B's memory, backward
 *                split into I and W, W deferred to fill bubbles
 *   zbh2         Zero Bubble H2: more warm-up forwards (2p - 1 in flight
 *                on every rank) for a near-zero bubble
 *   zbv          ZB-V: V placement (rank r holds stages r and 2p - 1 - r),
 *                split backward
 *   dualpipev    DualPipeV: V placement with overlapped F and B
 *                (OVERLAP_F_B cells)
 *
 * Stages are numbered in model order; a table's cells use these numbers.
 */
#ifndef PP_SCHEDGEN_H
#define PP_SCHEDGEN_H

#include "core/pp_err.h"
#include "core/pp_sched.h"

typedef enum pp_schedule_kind {
    PP_SCHEDULE_GPIPE = 0,
    PP_SCHEDULE_1F1B,
    PP_SCHEDULE_INTERLEAVED,
    PP_SCHEDULE_LOOPED_BFS,
    PP_SCHEDULE_ZBH1,
    PP_SCHEDULE_ZBH2,
    PP_SCHEDULE_ZBV,
    PP_SCHEDULE_DUALPIPEV,
    PP_SCHEDULE__COUNT
} pp_schedule_kind;

/* "gpipe", "1f1b", "interleaved", "looped-bfs", "zbh1", "zbh2", "zbv", "dualpipev";
 * "?" for a value out of range. */
const char *pp_schedule_name(pp_schedule_kind k);
/* Returns 0 and *out, or -1 with err listing the names. Case, '-' and '_'
 * are ignored ("LoopedBFS", "looped_bfs"), and PyTorch's names
 * "Interleaved1F1B" and "ZBVZeroBubble" are accepted. */
int pp_schedule_parse(const char *name, pp_schedule_kind *out, pp_err *err);

/* Stages per rank: 1 (gpipe, 1f1b, zbh1, zbh2), v (interleaved,
 * looped-bfs), 2 (zbv, dualpipev); -1 for an unknown kind. */
int pp_schedule_stages_per_rank(pp_schedule_kind k, int v);
/* The rank holding stage s: looped s % p, or V (s < p ? s : 2p - 1 - s);
 * -1 when p < 1 or s is not in [0, p * stages per rank). */
int pp_schedule_stage_rank(pp_schedule_kind k, int p, int v, int s);

/* Whether (p, m, v) is admitted. Returns 0, or -1 with err saying why and
 * what would work ("interleaved needs m to be a multiple of p = 4 (...),
 * got m = 10; m = 8 or 12 would work"). v is ignored by schedules without
 * it (pass 1); zbv and dualpipev take v = 2 (or 1, leaving it implied);
 * interleaved needs v >= 2 and m % p == 0; dualpipev needs m >= 2p. */
int pp_schedule_check(pp_schedule_kind k, int p, int m, int v, pp_err *err);

/* Generates the compute-only table (p rows, no idle cells; the construction
 * of each schedule is spelled out at the top of pp_schedgen.c). Calls
 * pp_schedule_check first. Returns 0 and a new table in *out (overwritten,
 * not freed; pp_sched_free it), or -1 with err (*out untouched). O(p m v). */
int pp_schedule_generate(pp_schedule_kind k, int p, int m, int v, pp_sched *out, pp_err *err);

/* The peak number of microbatches rank `rank` holds activations for (F done,
 * W or B not yet; counted after each action, in stage-microbatches where a
 * rank has several stages), by the schedule's closed form, or -1 when
 * (p, m, v) is not admitted or rank is out of range:
 *   gpipe m;  1f1b min(p - r, m);  zbh1 min(p, m);  zbh2 min(2p - 1, m);
 *   interleaved min(2(p - r - 1) + (v - 1)p + 1, v m) (Megatron's);
 *   looped-bfs v m;  zbv min(2p - r - 1, m) + min(r + 1, m) (2p once
 *   m >= 2p - 1);  dualpipev 2p, and 2p + 1 on the last rank. */
int pp_schedule_peak_inflight(pp_schedule_kind k, int p, int m, int v, int rank);

#endif /* PP_SCHEDGEN_H */
