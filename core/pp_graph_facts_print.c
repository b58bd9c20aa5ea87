/*
 * pp_graph_facts_print.c -- the table `pippy model` prints (see "text" in
 * pp_graph_facts.h): a header naming the model, one row per block (or per
 * op) with its parameters, FLOPs of F, I and W, kept activation bytes and
 * the bytes a cut after it sends, the totals, and the parameters several
 * blocks share (numbers formatted by core/pp_fmt).
 */
#include <stdio.h>
#include <string.h>

#include "core/pp_fmt.h"
#include "core/pp_graph_facts.h"

/* Short names for the row formats (buffers of 64 bytes). */
static const char *count(long long v, char *buf) { return pp_fmt_count(v, buf, 64); }
static const char *si(double v, char *buf) { return pp_fmt_si(v, buf, 64); }
static const char *mem(long long v, char *buf) { return pp_fmt_bytes((double)v, buf, 64); }

void pp_graph_facts_print_text(FILE *out, const pp_graph *g, const pp_graph_facts *fx, const pp_model_config *cfg,
                               const char *hash, int mb, int seq, int by_op) {
    char a[64], b[64], c[64], d[64], e[64], f[64], h[64];
    long long total_params = pp_graph_param_count(g);
    fprintf(out, "model %s (%s): %s parameters, ", cfg->name, pp_family_name(cfg->family), count(total_params, a));
    if (cfg->family == PP_FAMILY_T5)
        fprintf(out, "%d encoder + %d decoder layers", cfg->n_layer, cfg->n_decoder_layer);
    else fprintf(out, "%d layers", cfg->n_layer);
    fprintf(out, ", d_model %d, %d heads", cfg->d_model, cfg->n_head);
    if (cfg->n_kv_head != cfg->n_head) fprintf(out, " (%d kv)", cfg->n_kv_head);
    fprintf(out, "\nmicro-batch %d x seq %d, %s; hash %.16s\n\n", mb, seq, pp_dtype_name(g->dtype), hash);
    fprintf(out, "%-28s %5s %15s %9s %9s %9s %11s %11s %11s\n", by_op ? "op" : "block", by_op ? "kind" : "ops",
            "params", "F FLOP", "I FLOP", "W FLOP", "keep F->I", "keep I->W", "cut sends");
    pp_graph_range_facts r;
    for (int i = 0; i < (by_op ? g->n_ops : g->n_blocks); i++) {
        int lo = by_op ? i : fx->lo[i], hi = by_op ? i + 1 : fx->hi[i];
        pp_graph_facts_range(g, fx, lo, hi, &r);
        char kind[16];
        if (by_op) snprintf(kind, sizeof kind, "%.5s", pp_op_kind_name(g->ops[i].kind));
        else snprintf(kind, sizeof kind, "%d", hi - lo);
        fprintf(out, "%-28s %5s %14s%s %9s %9s %9s %11s %11s %11s\n", by_op ? g->ops[i].name : g->blocks[i], kind,
                count(r.params, a), r.tied ? "*" : " ", si(r.flops[PP_PASS_F], b), si(r.flops[PP_PASS_I], c),
                si(r.flops[PP_PASS_W], d), mem(r.keep_f_bytes, e), mem(r.keep_w_bytes, f),
                hi < g->n_ops ? mem(r.cut_bytes, h) : "-");
    }
    pp_graph_facts_range(g, fx, 0, g->n_ops, &r);
    fprintf(out, "%-28s %5d %14s  %9s %9s %9s %11s %11s\n", "total", g->n_ops, count(total_params, a),
            si(r.flops[PP_PASS_F], b), si(r.flops[PP_PASS_I], c), si(r.flops[PP_PASS_W], d), mem(r.keep_f_bytes, e),
            mem(r.keep_w_bytes, f));
    int any = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        if (g->tensors[t].kind != PP_TENSOR_PARAM || !fx->shared[t]) continue;
        if (!any)
            fprintf(out, "\n* holds a parameter shared with another %s (held by each, counted once in the total):\n",
                    by_op ? "op's block" : "block");
        any = 1;
        fprintf(out, "  %s (%s elements):", g->tensors[t].name, count(pp_tensor_numel(&g->tensors[t]), a));
        for (int k = fx->blocks_off[t]; k < fx->blocks_off[t + 1]; k++)
            fprintf(out, " %s", g->blocks[fx->blocks_of[k]]);
        fprintf(out, "\n");
    }
}
