/*
 * pp_cost.c -- cost profiles estimated from the graph (see pp_cost.h).
 */
#include "core/pp_cost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pp_cost_free(pp_cost_profile *c) {
    free(c->t);
    free(c->spread);
    free(c->samples);
    free(c->keep_f);
    free(c->keep_w);
    free(c->param_bytes);
    free(c->workspace);
    free(c->alpha);
    free(c->beta);
    memset(c, 0, sizeof *c);
}

int pp_cost_from_graph(const pp_graph *g, double flops_per_s, pp_cost_profile *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    if (!(flops_per_s > 0)) return pp_err_set(err, PP_ERR_INVALID, "device rate must be positive");
    unsigned long long n = (unsigned long long)(g->n_ops ? g->n_ops : 1);
    out->n_ops = g->n_ops;
    out->t = pp_calloc(3 * n, sizeof(double), err);
    out->spread = pp_calloc(3 * n, sizeof(double), err);
    out->samples = pp_calloc(3 * n, sizeof(int), err);
    out->keep_f = pp_calloc(n, sizeof(long long), err);
    out->keep_w = pp_calloc(n, sizeof(long long), err);
    out->param_bytes = pp_calloc(n, sizeof(long long), err);
    out->workspace = pp_calloc(n, sizeof(long long), err);
    if (!out->t || !out->spread || !out->samples || !out->keep_f || !out->keep_w || !out->param_bytes ||
        !out->workspace) {
        pp_cost_free(out);
        return -1;
    }
    for (int i = 0; i < g->n_ops; i++) {
        const pp_op *op = &g->ops[i];
        for (int p = 0; p < PP_PASS__COUNT; p++) out->t[3 * i + p] = op->cost.flops[p] / flops_per_s;
        out->keep_f[i] = op->cost.keep_f_bytes;
        out->keep_w[i] = op->cost.keep_w_bytes;
        out->param_bytes[i] = op->cost.param_bytes;
    }
    out->device_flops = flops_per_s;
    snprintf(out->source, sizeof out->source, "graph FLOPs at %.4g FLOP/s", flops_per_s);
    return 0;
}

int pp_cost_set_links(pp_cost_profile *c, int n_ranks, double alpha, double beta, pp_err *err) {
    free(c->alpha);
    free(c->beta);
    c->alpha = c->beta = NULL;
    c->n_ranks = 0;
    if (n_ranks <= 0) return 0;
    unsigned long long nn = (unsigned long long)n_ranks * (unsigned long long)n_ranks;
    c->alpha = pp_malloc(nn * sizeof(double), err);
    c->beta = pp_malloc(nn * sizeof(double), err);
    if (!c->alpha || !c->beta) {
        free(c->alpha);
        free(c->beta);
        c->alpha = c->beta = NULL;
        return -1;
    }
    for (unsigned long long i = 0; i < nn; i++) {
        c->alpha[i] = alpha;
        c->beta[i] = beta;
    }
    c->n_ranks = n_ranks;
    return 0;
}

double pp_cost_range_time(const pp_cost_profile *c, int lo, int hi, pp_pass pass) {
    double s = 0;
    for (int i = lo; i < hi; i++) s += c->t[3 * i + pass];
    return s;
}
