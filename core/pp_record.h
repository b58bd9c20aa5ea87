/*
 * pp_record.h -- the measured records that pass between the modules that
 * measure (profiler/, executor/), the one that stores them (db/) and the
 * one that reads them back (costs/), each declared once here so that no
 * module copies one into a look-alike of its own field by field.
 *
 *   pp_op_measure  one op's measured costs (profiler -> db -> costs)
 *   pp_run_event   one measured trace event of a training step (executor -> db)
 *   pp_run_rank    one rank's figures over a run (executor -> db)
 *
 * Plain values only: no pointers, so a record copies with `=` and crosses a
 * process boundary (MPI gather) as bytes.
 */
#ifndef PP_RECORD_H
#define PP_RECORD_H

#include "core/pp_trace.h"

/* One op's measured costs per microbatch. Times and spreads are seconds,
 * indexed by pass: [0] F (forward), [1] I (input gradient), [2] W (weight
 * gradient); t is the median, spread how far the median of a repeat
 * profile can land (see profiler/pp_opprof.h), samples the number of
 * timings behind them. Bytes: the parameters, what F keeps for I, what I
 * keeps for W, the temporary workspace. */
typedef struct pp_op_measure {
    double t[3], spread[3];
    int samples[3];
    long long param_bytes, keep_f_bytes, keep_w_bytes, workspace_bytes;
} pp_op_measure;

/* One measured trace event and the training step it belongs to; ev's
 * times are seconds from the start its producer names (pp_exec.h: the
 * run's start barrier). */
typedef struct pp_run_event {
    int step;
    pp_trace_event ev;
} pp_run_event;

/* One rank of a run: its host (may be empty), peak memory in bytes and
 * compute time summed over the run in seconds. */
typedef struct pp_run_rank {
    int rank;
    char host[128];
    long long peak_bytes;
    double busy_s;
} pp_run_rank;

#endif /* PP_RECORD_H */
