/*
 * run_plan.h -- `pippy run --plan` (run_plan.c): the entry that, given the
 * request (executor/pp_run_setup.h), either launches mpirun or, on a rank,
 * drives the executor.
 */
#ifndef PP_TOOLS_RUN_PLAN_H
#define PP_TOOLS_RUN_PLAN_H

#include "executor/pp_run_setup.h"

/* argc/argv are passed on to the ranks when mpirun is started. Returns the
 * process exit code. */
int run_plan_main(int argc, char **argv, const pp_run_request *ro);

#endif /* PP_TOOLS_RUN_PLAN_H */
