/*
 * pp_gpuprof.h -- per-op GPU time from CUPTI activity records.
 *
 * While a profiler is started on a CUDA backend, every op pass the backend
 * runs (pp_backend_run_op) pushes a CUPTI external correlation id naming
 * (op, pass) and pops it after, so every kernel, memcpy and memset that
 * pass launches -- its own kernels and cuBLAS's alike -- carries the id.
 * CUPTI delivers concurrent-kernel, memcpy, memset and external-correlation
 * records in buffers; pp_gpuprof_flush waits for the device, flushes CUPTI
 * and adds each record's device time (end - start) to its (op, pass).
 * Records with a zero or reversed time stamp are skipped and counted;
 * records CUPTI dropped (buffers full) are counted from
 * cuptiActivityGetNumDroppedRecords. Device time outside any op (the
 * optimizer, copies between stages) is summed apart.
 *
 *     pp_gpuprof *p;
 *     pp_gpuprof_start(be, g, &p, &err);
 *     ... run a step (warm-up first, so no allocation is timed) ...
 *     pp_gpuprof_flush(p, &err);      // end of each measured pass or step
 *     double s = pp_gpuprof_op_seconds(p, op, PP_PASS_F);
 *     pp_gpuprof_stop(p);
 *
 * CUPTI is process-wide: one profiler at a time. Built with PP_HAVE_CUPTI;
 * elsewhere pp_gpuprof_start returns -1 with PP_ERR_UNSUPPORTED.
 */
#ifndef PP_GPUPROF_H
#define PP_GPUPROF_H

#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "kernels/pp_backend.h"

typedef struct pp_gpuprof pp_gpuprof;

typedef struct pp_gpuprof_stats {
    double op_s;            /* device time attributed to ops, seconds */
    double other_s;         /* device time with no op id (optimizer, copies, ...) */
    long long records;      /* kernel, memcpy and memset records seen */
    long long zero_ts;      /* skipped: a zero or reversed time stamp */
    long long dropped;      /* CUPTI says it dropped these */
    double first_start_s, last_end_s; /* device clock span of the records (seconds, CUPTI clock) */
} pp_gpuprof_stats;

/* 1 when this build has CUPTI. */
int pp_gpuprof_available(void);

/* Starts profiling the ops of graph g run by be (a CUDA backend). Returns
 * 0, or -1 with err set: not a CUDA backend, no CUPTI in this build, a
 * profiler already running, or CUPTI refused (its message named). */
int pp_gpuprof_start(pp_backend *be, const pp_graph *g, pp_gpuprof **out, pp_err *err);

/* Waits for the backend's work, flushes CUPTI and attributes every record
 * delivered so far. Call at the end of each measured pass or step. */
int pp_gpuprof_flush(pp_gpuprof *p, pp_err *err);

/* Seconds of device time of op `op` in pass `pass` since the last reset. */
double pp_gpuprof_op_seconds(const pp_gpuprof *p, int op, pp_pass pass);
void pp_gpuprof_get_stats(const pp_gpuprof *p, pp_gpuprof_stats *out);
/* Zeroes the sums (not the dropped count's history in CUPTI). */
void pp_gpuprof_reset(pp_gpuprof *p);

/* Flushes, stops CUPTI's recording, removes the op hook and frees p. */
void pp_gpuprof_stop(pp_gpuprof *p);

#endif /* PP_GPUPROF_H */
