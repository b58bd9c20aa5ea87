/*
 * pp_costs_cb.h -- the measured costs as a callback: what a consumer that
 * takes "measured costs for a graph, else fall back on estimates" as a
 * function pointer (the planner's search, pp_search_opts.measured_cost)
 * is handed, so that it never sees the database. The context remembers the
 * source of the last measured profile it returned, for the tools to print.
 *
 *     pp_costs_cb_ctx m = {.costs = cs, .cluster = &cl};
 *     o.measured_cost = pp_costs_cb_graph;
 *     o.measured_ctx = &m;
 *     ... pp_search(&o, ...); printf("costs: %s\n", m.last);
 */
#ifndef PP_COSTS_CB_H
#define PP_COSTS_CB_H

#include "costs/pp_costs.h"

typedef struct pp_costs_cb_ctx {
    pp_costs *costs;          /* borrowed: the caller opens and closes it */
    const pp_cluster *cluster; /* whose devices' measurements to use */
    char last[256];           /* the source of the last measured profile returned ("" when none) */
} pp_costs_cb_ctx;

/* ctx is a pp_costs_cb_ctx. pp_costs_graph for g on ctx's cluster: returns
 * 1 with *out filled (the caller frees with pp_cost_free) and its source
 * copied to ctx->last, 0 when not every op of g is profiled there (*out
 * untouched), -1 with err on a database error. */
int pp_costs_cb_graph(void *ctx, const pp_graph *g, pp_cost_profile *out, pp_err *err);

#endif /* PP_COSTS_CB_H */
