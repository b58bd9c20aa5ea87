/*
 * run_plan.h -- `pippy run --plan` (run_plan.c): options, and the entry that
 * either launches mpirun or, on a rank, drives the executor.
 */
#ifndef PP_TOOLS_RUN_PLAN_H
#define PP_TOOLS_RUN_PLAN_H

#include <stdint.h>

#include "core/pp_io.h"
#include "kernels/pp_optim.h"

typedef struct run_plan_opts {
    const char *plan_path;
    int steps;              /* total steps of the run (the learning-rate schedule's length) */
    int stop_after;         /* stop after this many steps of this invocation (0: run to the end) */
    uint64_t seed;
    const char *data_path;
    pp_adamw_hyper hyper;
    int threads;
    int backend;            /* pp_backend_kind */
    int log_every;
    double timeout_s;
    const char *checkpoint_dir;
    int checkpoint_every;
    int resume;
    int overwrite_checkpoint; /* a checkpoint already in checkpoint_dir may be replaced */
    const char *trace_path; /* measured trace as Chrome JSON, or NULL */
    const char *status_dir; /* where ranks leave pid/err/done files, or NULL (a temporary folder) */
    const char *db_path;
    int use_db;
    int json;               /* rank 0 prints the run as JSON on stdout, its text on stderr */
} run_plan_opts;

/* argc/argv are passed on to the ranks when mpirun is started. Returns the
 * process exit code. */
int run_plan_main(int argc, char **argv, const run_plan_opts *ro);

#endif /* PP_TOOLS_RUN_PLAN_H */
