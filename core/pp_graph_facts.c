/*
 * pp_graph_facts.c -- a graph's per-block and per-range figures and their
 * JSON form (see pp_graph_facts.h), in one pass over the graph where the
 * per-row queries of pp_graph.h would scan it once per row.
 */
#include "core/pp_graph_facts.h"

#include <stdlib.h>
#include <string.h>

void pp_graph_facts_free(pp_graph_facts *fx) {
    free(fx->lo);
    free(fx->hi);
    free(fx->cut);
    free(fx->shared);
    free(fx->blocks_off);
    free(fx->blocks_of);
    memset(fx, 0, sizeof *fx);
}

/* The blocks of each shared parameter: counted, then filled, in op order;
 * last[t] is the block last listed for t, so a block is listed once per run
 * of its ops. */
static int param_blocks(const pp_graph *g, pp_graph_facts *fx, pp_err *err) {
    int rc = -1;
    int *last = pp_malloc((unsigned long long)(g->n_tensors + 1) * sizeof *last, err);
    int *fill = pp_calloc((unsigned long long)(g->n_tensors + 1), sizeof *fill, err);
    fx->blocks_off = pp_calloc((unsigned long long)(g->n_tensors + 1), sizeof *fx->blocks_off, err);
    if (!last || !fill || !fx->blocks_off) goto done;
    for (int pass = 0; pass < 2; pass++) {
        for (int t = 0; t < g->n_tensors; t++) last[t] = -1;
        for (int i = 0; i < g->n_ops; i++)
            for (int p = 0; p < g->ops[i].n_param; p++) {
                int t = g->ops[i].param[p];
                if (!fx->shared[t] || g->ops[i].block == last[t]) continue;
                last[t] = g->ops[i].block;
                if (pass == 0) fx->blocks_off[t + 1]++;
                else fx->blocks_of[fx->blocks_off[t] + fill[t]++] = last[t];
            }
        if (pass == 0) {
            for (int t = 0; t < g->n_tensors; t++) fx->blocks_off[t + 1] += fx->blocks_off[t];
            fx->blocks_of = pp_malloc((unsigned long long)(fx->blocks_off[g->n_tensors] + 1) * sizeof *fx->blocks_of, err);
            if (!fx->blocks_of) goto done;
        }
    }
    rc = 0;
done:
    free(last);
    free(fill);
    return rc;
}

int pp_graph_facts_get(const pp_graph *g, pp_graph_facts *fx, pp_err *err) {
    memset(fx, 0, sizeof *fx);
    fx->lo = pp_malloc((unsigned long long)(g->n_blocks + 1) * sizeof *fx->lo, err);
    fx->hi = pp_malloc((unsigned long long)(g->n_blocks + 1) * sizeof *fx->hi, err);
    fx->cut = pp_malloc((unsigned long long)(g->n_ops + 1) * sizeof *fx->cut, err);
    fx->shared = pp_malloc((unsigned long long)(g->n_tensors + 1), err);
    if (!fx->lo || !fx->hi || !fx->cut || !fx->shared || pp_graph_cut_bytes_all(g, fx->cut, err) ||
        pp_graph_shared_params(g, fx->shared, err) || param_blocks(g, fx, err))
        goto fail;
    pp_graph_block_ranges(g, fx->lo, fx->hi);
    return 0;
fail:
    pp_graph_facts_free(fx);
    return -1;
}

void pp_graph_facts_range(const pp_graph *g, const pp_graph_facts *fx, int lo, int hi, pp_graph_range_facts *out) {
    memset(out, 0, sizeof *out);
    out->params = pp_graph_range_param_count(g, lo, hi);
    out->param_bytes = pp_graph_range_param_bytes(g, lo, hi);
    for (int p = 0; p < PP_PASS__COUNT; p++) out->flops[p] = pp_graph_range_flops(g, lo, hi, (pp_pass)p);
    out->keep_f_bytes = pp_graph_range_keep_bytes(g, lo, hi, 0);
    out->keep_w_bytes = pp_graph_range_keep_bytes(g, lo, hi, 1);
    out->cut_bytes = hi >= 0 && hi <= g->n_ops ? fx->cut[hi] : 0;
    for (int k = lo < 0 ? 0 : lo; k < hi && k < g->n_ops; k++)
        for (int p = 0; p < g->ops[k].n_param; p++)
            if (fx->shared[g->ops[k].param[p]]) out->tied = 1;
}

/* The figures of [lo, hi) as keys of the object w is in. */
static void json_range(pp_jw *w, const pp_graph *g, const pp_graph_facts *fx, int lo, int hi) {
    pp_graph_range_facts r;
    pp_graph_facts_range(g, fx, lo, hi, &r);
    pp_jw_kint(w, "params", r.params);
    pp_jw_kint(w, "param_bytes", r.param_bytes);
    pp_jw_key(w, "flops");
    pp_jw_obj_begin(w);
    for (int p = 0; p < PP_PASS__COUNT; p++) {
        pp_jw_key(w, pp_pass_name((pp_pass)p));
        pp_jw_num(w, r.flops[p]);
    }
    pp_jw_obj_end(w);
    pp_jw_kint(w, "keep_f_bytes", r.keep_f_bytes);
    pp_jw_kint(w, "keep_w_bytes", r.keep_w_bytes);
    pp_jw_kint(w, "cut_bytes", r.cut_bytes);
}

/* One op's entry of the "ops" array. */
static void json_op(pp_jw *w, const pp_graph *g, const pp_op *op) {
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "name", op->name);
    pp_jw_kstr(w, "kind", pp_op_kind_name(op->kind));
    pp_jw_kstr(w, "block", g->blocks[op->block]);
    pp_jw_key(w, "out_shape");
    pp_jw_arr_begin_inline(w);
    const pp_tensor *t = &g->tensors[op->out[0]];
    for (int k = 0; k < t->ndim; k++) pp_jw_int(w, t->shape[k]);
    pp_jw_arr_end(w);
    pp_jw_key(w, "params");
    pp_jw_arr_begin_inline(w);
    for (int k = 0; k < op->n_param; k++) pp_jw_str(w, g->tensors[op->param[k]].name);
    pp_jw_arr_end(w);
    pp_jw_key(w, "flops");
    pp_jw_arr_begin_inline(w);
    for (int p = 0; p < PP_PASS__COUNT; p++) pp_jw_num(w, op->cost.flops[p]);
    pp_jw_arr_end(w);
    pp_jw_key(w, "bytes");
    pp_jw_arr_begin_inline(w);
    for (int p = 0; p < PP_PASS__COUNT; p++) pp_jw_num(w, op->cost.bytes[p]);
    pp_jw_arr_end(w);
    pp_jw_kint(w, "param_bytes", op->cost.param_bytes);
    pp_jw_kint(w, "keep_f_bytes", op->cost.keep_f_bytes);
    pp_jw_kint(w, "keep_w_bytes", op->cost.keep_w_bytes);
    pp_jw_obj_end(w);
}

void pp_graph_facts_json(const pp_graph *g, const pp_graph_facts *fx, const pp_model_config *cfg, const char *hash,
                         int micro_batch, int seq, int by_op, pp_jw *w) {
    pp_jw_obj_begin(w);
    pp_jw_key(w, "model");
    pp_model_config_to_json(cfg, w);
    pp_jw_kstr(w, "hash", hash);
    pp_jw_kint(w, "micro_batch", micro_batch);
    pp_jw_kint(w, "seq_len", seq);
    pp_jw_kstr(w, "dtype", pp_dtype_name(g->dtype));
    pp_jw_kint(w, "n_ops", g->n_ops);
    pp_jw_key(w, "total");
    pp_jw_obj_begin(w);
    json_range(w, g, fx, 0, g->n_ops);
    pp_jw_obj_end(w);
    pp_jw_key(w, "blocks");
    pp_jw_arr_begin(w);
    for (int i = 0; i < g->n_blocks; i++) {
        pp_jw_obj_begin(w);
        pp_jw_kstr(w, "name", g->blocks[i]);
        pp_jw_kint(w, "first_op", fx->lo[i]);
        pp_jw_kint(w, "end_op", fx->hi[i]);
        json_range(w, g, fx, fx->lo[i], fx->hi[i]);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    if (by_op) {
        pp_jw_key(w, "ops");
        pp_jw_arr_begin(w);
        for (int i = 0; i < g->n_ops; i++) json_op(w, g, &g->ops[i]);
        pp_jw_arr_end(w);
    }
    pp_jw_key(w, "tied_params");
    pp_jw_arr_begin(w);
    for (int t = 0; t < g->n_tensors; t++) {
        if (g->tensors[t].kind != PP_TENSOR_PARAM || !fx->shared[t]) continue;
        pp_jw_obj_begin(w);
        pp_jw_kstr(w, "name", g->tensors[t].name);
        pp_jw_kint(w, "elements", pp_tensor_numel(&g->tensors[t]));
        pp_jw_key(w, "blocks");
        pp_jw_arr_begin_inline(w);
        for (int k = fx->blocks_off[t]; k < fx->blocks_off[t + 1]; k++) pp_jw_str(w, g->blocks[fx->blocks_of[k]]);
        pp_jw_arr_end(w);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_obj_end(w);
}
