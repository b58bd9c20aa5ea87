/*
 * pp_costs_store.c -- what `pippy profile` measured, into the database
 * (see pp_costs_store.h): the device, the stored op profiles a run reuses,
 * and every write of a run, all at its end, so an interrupted run leaves
 * the database as it was.
 */
#include "costs/pp_costs_store.h"

#include <stdio.h>
#include <string.h>

#include "costs/pp_costs.h"
#include "profiler/pp_opprof.h"

int pp_costs_store_device(const char *path, const char *fp, const char *desc, pp_db **db, long long *dev,
                          pp_err *err) {
    *db = NULL;
    if (pp_db_open(path, db, err)) return -1;
    if (pp_db_device_put(*db, fp, desc, dev, err)) {
        pp_db_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

int pp_costs_stored_ops(pp_db *db, long long dev, const pp_graph *g, const int *first, pp_costs_stored_fn fn,
                        void *ctx, pp_err *err) {
    for (int i = 0; i < g->n_ops; i++) {
        pp_db_op_profile p;
        char sig[sizeof p.signature];
        int found = 0;
        if (first && first[i] != i) continue;
        pp_opprof_signature(g, i, sig, sizeof sig);
        if (pp_db_op_profile_get(db, dev, sig, &p, &found, err)) return -1;
        fn(ctx, i, found ? &p.m : NULL);
    }
    return 0;
}

void pp_costs_link_sizes_json(const double *sizes, int n, char *buf, size_t len) {
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int k = 0; k < n && o < len - 16; k++) o += (size_t)snprintf(buf + o, len - o, "%s%.0f", k ? "," : "", sizes[k]);
    snprintf(buf + o, len - o, "]");
}

int pp_costs_store_profile(pp_db *db, long long dev, const pp_costs_profile_in *in, pp_err *err) {
    const pp_graph *g = in->g;
    if (g && in->measured) {
        if (pp_db_begin(db, err)) return -1;
        for (int i = 0; i < g->n_ops; i++) {
            if (!in->fresh[i]) continue;
            pp_db_op_profile p = {.m = in->m[i]};
            pp_opprof_signature(g, i, p.signature, sizeof p.signature);
            snprintf(p.kind, sizeof p.kind, "%s", pp_op_kind_name(g->ops[i].kind));
            if (pp_db_op_profile_put(db, dev, &p, err)) goto fail;
        }
        if (pp_db_commit(db, err)) goto fail;
    }
    if (g && in->check) {
        /* Both stored: plans of this graph scale the op times to the whole
         * step (what running ops back to back costs beyond each op alone),
         * and any plan on this device costs its optimizer step. */
        pp_db_step_profile sp = {.n_ops = g->n_ops, .whole_s = in->whole_s, .sum_ops_s = in->sum_s, .samples = 5};
        pp_db_optim_profile op = {.optimizer = PP_COSTS_OPTIMIZER, .dtype = PP_COSTS_DTYPE, .s_per_param = in->optim_s,
                                  .samples = 5};
        pp_costs_graph_hash(g, sp.graph_hash);
        if (pp_db_begin(db, err)) return -1;
        if (pp_db_step_profile_put(db, dev, &sp, err) || pp_db_optim_profile_put(db, dev, &op, err) ||
            pp_db_commit(db, err))
            goto fail;
    }
    if (in->ranks >= 2) {
        if (pp_db_begin(db, err)) return -1;
        for (int i = 0; i < in->n_links; i++) {
            const pp_costs_link *r = &in->links[i];
            pp_db_link l = {.src_rank = r->src, .dst_rank = r->dst, .alpha_s = r->alpha_s, .beta_Bps = r->beta_Bps,
                            .residual = r->residual};
            snprintf(l.src_host, sizeof l.src_host, "%s", r->src_host);
            snprintf(l.dst_host, sizeof l.dst_host, "%s", r->dst_host);
            pp_costs_link_sizes_json(r->sizes, r->n_sizes, l.sizes_json, sizeof l.sizes_json);
            if (pp_db_link_put(db, dev, &l, err)) goto fail;
        }
        if (in->ar[1] > 0) {
            pp_db_collective_profile cp = {.op = PP_COSTS_ALLREDUCE, .dtype = PP_COSTS_DTYPE, .n_ranks = in->ranks,
                                           .alpha_s = in->ar[0], .beta_Bps = in->ar[1], .residual = in->ar[2],
                                           .samples = 1};
            if (pp_db_collective_profile_put(db, dev, &cp, err)) goto fail;
        }
        if (pp_db_commit(db, err)) goto fail;
    }
    return 0;
fail:
    pp_db_rollback(db, NULL);
    return -1;
}
