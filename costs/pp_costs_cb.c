/*
 * pp_costs_cb.c -- pp_costs_graph behind a callback (pp_costs_cb.h), as the
 * planner's search takes measured costs.
 */
#include "costs/pp_costs_cb.h"

#include <stdio.h>

int pp_costs_cb_graph(void *ctx, const pp_graph *g, pp_cost_profile *out, pp_err *err) {
    pp_costs_cb_ctx *m = ctx;
    int got = pp_costs_graph(m->costs, m->cluster, g, out, NULL, err);
    if (got == 1) snprintf(m->last, sizeof m->last, "%s", out->source);
    return got;
}
