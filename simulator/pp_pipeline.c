/*
 * pp_pipeline.c -- from graph + costs + partition to simulator inputs
 * (see pp_pipeline.h).
 */
#include "simulator/pp_pipeline.h"

#include <stdlib.h>
#include <string.h>

void pp_pipeline_model_free(pp_pipeline_model *m) {
    free(m->t_f);
    free(m->t_i);
    free(m->t_w);
    free(m->xfer);
    free(m->act_f);
    free(m->act_w);
    free(m->peak_f);
    free(m->peak_i);
    free(m->optim_s);
    free(m->param_bytes);
    free(m->tied_n);
    free(m->tied_stages);
    free(m->tied_bytes);
    memset(m, 0, sizeof *m);
}

int pp_pipeline_split_even(const pp_graph *g, int n_stages, int *bounds, pp_err *err) {
    if (n_stages < 1) return pp_err_set(err, PP_ERR_INVALID, "need at least one stage");
    if (g->n_blocks < n_stages)
        return pp_err_set(err, PP_ERR_INVALID,
                          "%d stages need at least %d blocks, the model has %d (use fewer stages or split by op)",
                          n_stages, n_stages, g->n_blocks);
    for (int s = 0; s < n_stages; s++) {
        int b = (int)((long long)s * g->n_blocks / n_stages), lo, hi;
        pp_graph_block_range(g, b, &lo, &hi);
        bounds[s] = lo;
    }
    bounds[n_stages] = g->n_ops;
    return 0;
}

int pp_pipeline_model_build(const pp_graph *g, const pp_cost_profile *c, int S, const int *bounds,
                            pp_pipeline_model *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    if (S < 1 || bounds[0] != 0 || bounds[S] != g->n_ops)
        return pp_err_set(err, PP_ERR_INVALID, "stages must cover ops [0, %d)", g->n_ops);
    for (int s = 0; s < S; s++)
        if (bounds[s + 1] <= bounds[s]) return pp_err_set(err, PP_ERR_INVALID, "stage %d is empty", s);
    if (c->n_ops != g->n_ops)
        return pp_err_set(err, PP_ERR_INVALID, "the cost profile covers %d ops, the graph has %d", c->n_ops, g->n_ops);
    unsigned long long us = (unsigned long long)S;
    out->n_stages = S;
    out->t_f = pp_calloc(us, sizeof(double), err);
    out->t_i = pp_calloc(us, sizeof(double), err);
    out->t_w = pp_calloc(us, sizeof(double), err);
    out->act_f = pp_calloc(us, sizeof(double), err);
    out->act_w = pp_calloc(us, sizeof(double), err);
    out->param_bytes = pp_calloc(us, sizeof(double), err);
    out->peak_f = pp_calloc(us, sizeof(double), err);
    out->peak_i = pp_calloc(us, sizeof(double), err);
    out->optim_s = pp_calloc(us, sizeof(double), err);
    out->xfer = pp_calloc(us * us, sizeof(double), err);
    int *stage_of = pp_calloc((unsigned long long)(g->n_ops ? g->n_ops : 1), sizeof(int), err);
    int *seen = pp_calloc((unsigned long long)(g->n_tensors ? g->n_tensors : 1) * us, sizeof(int), err);
    if (!out->t_f || !out->t_i || !out->t_w || !out->act_f || !out->act_w || !out->param_bytes || !out->xfer ||
        !out->peak_f || !out->peak_i || !out->optim_s || !stage_of || !seen)
        goto fail;
    for (int s = 0; s < S; s++) {
        int lo = bounds[s], hi = bounds[s + 1];
        for (int i = lo; i < hi; i++) stage_of[i] = s;
        out->t_f[s] = pp_cost_range_time(c, lo, hi, PP_PASS_F);
        out->t_i[s] = pp_cost_range_time(c, lo, hi, PP_PASS_I);
        out->t_w[s] = pp_cost_range_time(c, lo, hi, PP_PASS_W);
        out->act_f[s] = (double)pp_graph_range_keep_bytes(g, lo, hi, 0);
        out->act_w[s] = (double)pp_graph_range_keep_bytes(g, lo, hi, 1);
        out->param_bytes[s] = (double)pp_graph_range_param_bytes(g, lo, hi);
        long long pk[2];
        if (pp_graph_range_pass_peaks(g, lo, hi, pk)) {
            pp_err_set(err, PP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        out->peak_f[s] = (double)pk[0];
        out->peak_i[s] = (double)pk[1];
        out->optim_s[s] = c->optim_s_per_param * (double)pp_graph_range_param_count(g, lo, hi);
    }
    /* Activations from their producer's stage to each later consuming stage, once per pair. */
    for (int i = 0; i < g->n_ops; i++) {
        const pp_op *op = &g->ops[i];
        int t = stage_of[i];
        for (int k = 0; k < op->n_in; k++) {
            int x = op->in[k];
            const pp_tensor *tt = &g->tensors[x];
            if (tt->kind != PP_TENSOR_ACTIVATION || tt->producer < 0) continue;
            int s = stage_of[tt->producer];
            if (s >= t || seen[(size_t)x * S + t]) continue;
            seen[(size_t)x * S + t] = 1;
            out->xfer[(size_t)s * S + t] += (double)pp_tensor_bytes(tt);
        }
    }
    /* Parameters read by more than one stage. */
    for (int x = 0; x < g->n_tensors; x++) {
        if (g->tensors[x].kind != PP_TENSOR_PARAM) continue;
        int first = -1, n = 0, list[256];
        for (int i = 0; i < g->n_ops; i++)
            for (int k = 0; k < g->ops[i].n_param; k++)
                if (g->ops[i].param[k] == x) {
                    int s = stage_of[i], dup = 0;
                    for (int q = 0; q < n; q++) dup |= list[q] == s;
                    if (!dup && n < 256) list[n++] = s;
                    if (first < 0) first = s;
                }
        if (n < 2) continue;
        int *tn = realloc(out->tied_n, (size_t)(out->n_tied + 1) * sizeof(int));
        if (!tn) goto nomem;
        out->tied_n = tn;
        double *tb = realloc(out->tied_bytes, (size_t)(out->n_tied + 1) * sizeof(double));
        if (!tb) goto nomem;
        out->tied_bytes = tb;
        int total = 0;
        for (int q = 0; q < out->n_tied; q++) total += out->tied_n[q];
        int *ts = realloc(out->tied_stages, (size_t)(total + n) * sizeof(int));
        if (!ts) goto nomem;
        out->tied_stages = ts;
        memcpy(ts + total, list, (size_t)n * sizeof(int));
        out->tied_n[out->n_tied] = n;
        out->tied_bytes[out->n_tied] = (double)pp_tensor_bytes(&g->tensors[x]);
        out->n_tied++;
    }
    free(stage_of);
    free(seen);
    return 0;
nomem:
    pp_err_set(err, PP_ERR_NOMEM, "out of memory building the pipeline model");
fail:
    free(stage_of);
    free(seen);
    pp_pipeline_model_free(out);
    return -1;
}

void pp_pipeline_sim_input(const pp_pipeline_model *m, pp_sim_input *in) {
    in->n_stages = m->n_stages;
    in->t_f = m->t_f;
    in->t_i = m->t_i;
    in->t_w = m->t_w;
    in->xfer = m->xfer;
    in->act_f = m->act_f;
    in->act_w = m->act_w;
    in->peak_f = m->peak_f;
    in->peak_i = m->peak_i;
    in->optim_s = m->optim_s;
    in->param_bytes = m->param_bytes;
    in->state_per_param_byte = 3; /* fp32 gradients and AdamW's two moments */
    in->n_tied = m->n_tied;
    in->tied_n = m->tied_n;
    in->tied_stages = m->tied_stages;
    in->tied_bytes = m->tied_bytes;
}
