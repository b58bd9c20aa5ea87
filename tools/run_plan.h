/*
 * run_plan.h -- `pippy run --plan` (run_plan.c): options, and the entry that
 * either launches mpirun or, on a rank, drives the executor.
 */
#ifndef PP_TOOLS_RUN_PLAN_H
#define PP_TOOLS_RUN_PLAN_H

#include "executor/pp_run_setup.h"

/* What the run is asked for (executor/pp_run_setup.h). */
typedef pp_run_request run_plan_opts;

/* argc/argv are passed on to the ranks when mpirun is started. Returns the
 * process exit code. */
int run_plan_main(int argc, char **argv, const run_plan_opts *ro);

#endif /* PP_TOOLS_RUN_PLAN_H */
