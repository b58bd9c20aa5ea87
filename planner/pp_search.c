/*
 * pp_search.c -- the plan search and plan making (see pp_search.h).
 *
 * Per candidate (pp, dp, schedule, v, m): the stages' memory budget is the
 * device's memory (split among the rank's stages when it holds several),
 * the microbatches in flight are the schedule's closed form for the rank,
 * the exact DP picks the split points, and pp_predict -- the one path every
 * command predicts by -- predicts the step (with the true memory timeline,
 * which decides whether it fits).
 */
#include "planner/pp_search.h"

#include "planner/pp_ilpsched.h"

#include "core/pp_cost.h"
#include "core/pp_io.h"
#include "simulator/pp_pipeline.h"
#include "simulator/pp_predict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

void pp_search_chain_free(pp_unit_chain *c) {
    free(c->t);
    free(c->param_bytes);
    free(c->act_bytes);
    free(c->cut_bytes);
    free(c->unit_op);
    memset(c, 0, sizeof *c);
}

int pp_search_chain(const pp_graph *g, const double *op_time, int by_op, pp_unit_chain *c, pp_err *err) {
    memset(c, 0, sizeof *c);
    int n = by_op ? g->n_ops : g->n_blocks;
    unsigned long long un = (unsigned long long)n + 1;
    c->t = pp_calloc(un, sizeof(double), err);
    c->param_bytes = pp_calloc(un, sizeof(double), err);
    c->act_bytes = pp_calloc(un, sizeof(double), err);
    c->cut_bytes = pp_calloc(un, sizeof(double), err);
    c->unit_op = pp_calloc(un, sizeof(int), err);
    if (!c->t || !c->param_bytes || !c->act_bytes || !c->cut_bytes || !c->unit_op) {
        pp_search_chain_free(c);
        return -1;
    }
    /* Block ranges and cut bytes for the whole graph at once: one query per
     * unit would be quadratic in the layer count. */
    int *blo = pp_malloc(un * sizeof *blo, err), *bhi = pp_malloc(un * sizeof *bhi, err);
    long long *cut = pp_malloc(((unsigned long long)g->n_ops + 1) * sizeof *cut, err);
    if (!blo || !bhi || !cut || pp_graph_cut_bytes_all(g, cut, err)) {
        free(blo);
        free(bhi);
        free(cut);
        pp_search_chain_free(c);
        return -1;
    }
    if (!by_op) pp_graph_block_ranges(g, blo, bhi);
    for (int u = 0; u < n; u++) {
        int lo = u, hi = u + 1;
        if (!by_op && blo[u] >= 0) {
            lo = blo[u];
            hi = bhi[u];
        }
        c->unit_op[u] = lo;
        for (int i = lo; i < hi; i++) c->t[u] += op_time[3 * i] + op_time[3 * i + 1] + op_time[3 * i + 2];
        c->param_bytes[u] = (double)pp_graph_range_param_bytes(g, lo, hi);
        c->act_bytes[u] = (double)pp_graph_range_keep_bytes(g, lo, hi, 0);
        c->cut_bytes[u] = lo <= g->n_ops ? (double)cut[lo] : 0;
    }
    free(blo);
    free(bhi);
    free(cut);
    c->unit_op[n] = g->n_ops;
    c->chain = (pp_chain){.n = n, .t = c->t, .param_bytes = c->param_bytes, .act_bytes = c->act_bytes,
                          .cut_bytes = c->cut_bytes};
    return 0;
}

void pp_search_free(pp_candidate *c, int n) {
    for (int i = 0; i < n; i++) free(c[i].bounds);
    free(c);
}

/* A graph and its cost profile for one micro-batch size. */
typedef struct built {
    int micro_batch;
    pp_graph g;
    pp_cost_profile cost;
    pp_unit_chain chain;
} built;

static double device_mem(const pp_search_opts *o, int dev) {
    if (o->mem_cap > 0) return o->mem_cap;
    return o->cluster->devices[dev].memory_bytes;
}

/* Split points named by block labels ("h.3,h.7": stages start at those blocks). */
static int manual_bounds(const pp_graph *g, const char *spec, int **bounds, int *S, pp_err *err) {
    int cap = 8, n = 1;
    int *b = pp_malloc((unsigned long long)cap * sizeof(int), err);
    if (!b) return -1;
    b[0] = 0;
    const char *p = spec;
    while (*p) {
        char name[128];
        size_t k = strcspn(p, ",");
        if (k == 0 || k >= sizeof name) {
            free(b);
            return pp_err_set(err, PP_ERR_INVALID, "--split-at: empty or overlong block name in '%s'", spec);
        }
        memcpy(name, p, k);
        name[k] = '\0';
        int blk = pp_graph_find_block(g, name), lo, hi;
        if (blk < 0 || pp_graph_block_range(g, blk, &lo, &hi)) {
            free(b);
            return pp_err_set(err, PP_ERR_INVALID, "--split-at: no block '%s' in the model (blocks are %s .. %s)", name,
                              g->blocks[0], g->blocks[g->n_blocks - 1]);
        }
        if (lo <= b[n - 1]) {
            free(b);
            return pp_err_set(err, PP_ERR_INVALID, "--split-at: '%s' does not come after the previous split point",
                              name);
        }
        if (pp_grow((void **)&b, &cap, n + 2, sizeof(int), err)) return -1;
        b[n++] = lo;
        p += k;
        if (*p == ',') p++;
    }
    b[n] = g->n_ops;
    *bounds = b;
    *S = n;
    return 0;
}

/* The prediction's inputs every candidate of this search shares: the
 * graph and costs of its micro-batch size, the cluster, what was measured. */
static void base_input(const pp_search_opts *o, const built *b, pp_predict_input *in) {
    pp_predict_input_init(in);
    in->g = &b->g;
    in->cost = &b->cost;
    in->cluster = o->cluster;
    in->comm = o->comm;
    in->flops_per_s = o->flops_per_s;
    in->mem_cap = o->mem_cap;
    in->samples_per_step = o->global_batch;
    in->tokens_per_step = (double)o->global_batch * o->seq;
}

/* Predicts a candidate: schedule `kind` generated for (pp, m, v), stages
 * split at bounds, dp replicas placed as the planner places them. The
 * generated table goes to *sched_out when not NULL. */
static int predict(const pp_search_opts *o, const built *b, int kind, int pp, int dp, int v, int m, const int *bounds,
                   int any_order, pp_prediction *res, pp_sched *sched_out, pp_err *err) {
    pp_sched s;
    memset(res, 0, sizeof *res);
    if (pp_schedule_generate((pp_schedule_kind)kind, pp, m, v, &s, err)) return -1;
    pp_predict_input in;
    base_input(o, b, &in);
    in.sched = &s;
    in.bounds = bounds;
    in.dp = dp;
    in.any_order = any_order;
    int rc = pp_predict(&in, res, err);
    if (rc == 0 && sched_out) *sched_out = s;
    else pp_sched_free(&s);
    return rc;
}

/* Memory budget and in-flight counts of each stage position for the DP. */
static void slots_for(const pp_search_opts *o, int kind, int pp, int v, int m, int S, double *speed, double *mem,
                      double *inflight, double *alpha, double *beta) {
    int per = pp_schedule_stages_per_rank((pp_schedule_kind)kind, v);
    pp_predict_input li; /* links and speeds by the prediction's rules */
    pp_predict_input_init(&li);
    li.cluster = o->cluster;
    li.comm = o->comm;
    for (int s = 0; s < S; s++) {
        int r = pp_schedule_stage_rank((pp_schedule_kind)kind, pp, v, s);
        speed[s] = pp_predict_speed(o->cluster, r);
        mem[s] = device_mem(o, r) / per;
        int pk = pp_schedule_peak_inflight((pp_schedule_kind)kind, pp, m, v, r);
        inflight[s] = pk > 0 ? (double)pk / per : m;
        if (s + 1 < S) {
            int r2 = pp_schedule_stage_rank((pp_schedule_kind)kind, pp, v, s + 1);
            alpha[s] = beta[s] = 0;
            if (r != r2) pp_predict_link(&li, r, r2, &alpha[s], &beta[s]);
        }
    }
}

static int cmp_cand(const void *a, const void *b) {
    const pp_candidate *x = a, *y = b;
    if (x->fits != y->fits) return y->fits - x->fits;
    if (x->fits) return x->samples_per_s < y->samples_per_s ? 1 : x->samples_per_s > y->samples_per_s ? -1 : 0;
    double ox = x->peak_mem / (x->mem_limit > 0 ? x->mem_limit : 1), oy = y->peak_mem / (y->mem_limit > 0 ? y->mem_limit : 1);
    return ox > oy ? 1 : ox < oy ? -1 : 0;
}

/* The op costs of g the search works with: what the measured-cost callback
 * finds (returns 1), else the graph's FLOPs at the default rate rule
 * (pp_predict_rate; returns 0). -1 with err on failure. Free *cp with
 * pp_cost_free when it returns 0 or 1. */
static int search_costs(const pp_search_opts *o, const pp_graph *g, pp_cost_profile *cp, pp_err *err) {
    int got = o->measured_cost ? o->measured_cost(o->measured_ctx, g, cp, err) : 0;
    if (got < 0 || (!got && pp_cost_from_graph(g, pp_predict_rate(o->cluster, o->flops_per_s), cp, err))) return -1;
    return got;
}

static built *get_built(built **cache, int *n_cache, const pp_search_opts *o, int mb, pp_err *err) {
    for (int i = 0; i < *n_cache; i++)
        if ((*cache)[i].micro_batch == mb) return &(*cache)[i];
    built *nb = realloc(*cache, (size_t)(*n_cache + 1) * sizeof **cache);
    if (!nb) {
        pp_err_set(err, PP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    *cache = nb;
    built *b = &nb[*n_cache];
    memset(b, 0, sizeof *b);
    b->micro_batch = mb;
    if (pp_zoo_build(o->cfg, mb, o->seq, PP_DTYPE_F32, &b->g, err)) return NULL;
    int got = search_costs(o, &b->g, &b->cost, err);
    if (got < 0) {
        pp_graph_free(&b->g);
        return NULL;
    }
    /* Counters only (the options are the caller's to read afterwards). */
    if (got) ((pp_search_opts *)o)->used_measured++;
    else ((pp_search_opts *)o)->used_estimated++;
    if (pp_search_chain(&b->g, b->cost.t, o->granularity_op, &b->chain, err)) {
        pp_graph_free(&b->g);
        pp_cost_free(&b->cost);
        return NULL;
    }
    (*n_cache)++;
    return b;
}

static void free_cache(built *cache, int n) {
    for (int i = 0; i < n; i++) {
        pp_search_chain_free(&cache[i].chain);
        pp_cost_free(&cache[i].cost);
        pp_graph_free(&cache[i].g);
    }
    free(cache);
}

int pp_search(const pp_search_opts *o, pp_candidate **out, int *n_out, pp_err *err) {
    *out = NULL;
    *n_out = 0;
    const pp_cluster *cl = o->cluster;
    int n_dev = cl->n_devices, v = o->v > 0 ? o->v : 2;
    if (o->global_batch < 1) return pp_err_set(err, PP_ERR_INVALID, "the global batch must be at least 1");
    int pps[16], n_pp = 0;
    if (o->pp) {
        if (o->pp > n_dev)
            return pp_err_set(err, PP_ERR_INVALID, "pp %d needs %d devices, cluster '%s' has %d", o->pp, o->pp, cl->name,
                              n_dev);
        pps[n_pp++] = o->pp;
    } else {
        for (int p = 1; p <= n_dev && n_pp < 16; p *= 2) pps[n_pp++] = p;
    }
    int kinds[8], n_k = 0;
    if (o->schedule >= 0) kinds[n_k++] = o->schedule;
    else {
        const int all[] = {PP_SCHEDULE_GPIPE, PP_SCHEDULE_1F1B, PP_SCHEDULE_INTERLEAVED, PP_SCHEDULE_ZBH1,
                           PP_SCHEDULE_ZBH2, PP_SCHEDULE_ZBV};
        for (int i = 0; i < 6; i++) kinds[n_k++] = all[i];
    }
    /* Enumerate (pp, dp, kind, m) first, to know the total for progress. */
    typedef struct job {
        int pp, dp, kind, m;
    } job;
    job *jobs = NULL;
    int n_jobs = 0, cap_jobs = 0;
    for (int a = 0; a < n_pp; a++) {
        int p = pps[a];
        for (int dp = 1; dp * p <= n_dev; dp *= 2) {
            if (o->global_batch % dp || (o->dp && dp != o->dp)) continue;
            if (!o->dp && dp * 2 * p <= n_dev && !o->pp && dp * 2 <= o->global_batch && o->global_batch % (dp * 2) == 0)
                continue; /* use the devices: take the largest dp */
            int per_replica = o->global_batch / dp;
            for (int k = 0; k < n_k; k++) {
                int ms[8], n_m = 0;
                if (o->microbatches) ms[n_m++] = o->microbatches;
                else
                    for (int m = p == 1 ? 1 : p; m <= per_replica && n_m < 5; m *= 2) ms[n_m++] = m;
                for (int j = 0; j < n_m; j++) {
                    int m = ms[j];
                    if (per_replica % m) continue;
                    if (pp_schedule_check((pp_schedule_kind)kinds[k], p, m, v, NULL)) continue;
                    if (pp_grow((void **)&jobs, &cap_jobs, n_jobs + 1, sizeof *jobs, err)) {
                        free(jobs);
                        return -1;
                    }
                    jobs[n_jobs++] = (job){p, dp, kinds[k], m};
                }
            }
        }
    }
    if (n_jobs == 0) {
        free(jobs);
        return pp_err_set(err, PP_ERR_INVALID,
                          "no pipeline shape fits a global batch of %d on %d devices with the schedules asked for "
                          "(the batch must divide into microbatches of at least one sequence)",
                          o->global_batch, n_dev);
    }
    pp_candidate *cands = pp_calloc((unsigned long long)n_jobs, sizeof *cands, err);
    built *cache = NULL;
    int n_cache = 0, n_c = 0, rc = -1;
    if (!cands) goto done;
    for (int jx = 0; jx < n_jobs; jx++) {
        if (o->progress) o->progress(o->progress_ctx, jx, n_jobs);
        const job *jb = &jobs[jx];
        int kv = jb->kind == PP_SCHEDULE_INTERLEAVED || jb->kind == PP_SCHEDULE_LOOPED_BFS ? v : 2;
        int per = pp_schedule_stages_per_rank((pp_schedule_kind)jb->kind, kv), S = jb->pp * per;
        int mb = o->global_batch / (jb->dp * jb->m);
        built *b = get_built(&cache, &n_cache, o, mb, err);
        if (!b) goto done;
        pp_candidate *c = &cands[n_c];
        memset(c, 0, sizeof *c);
        *c = (pp_candidate){.pp = jb->pp, .dp = jb->dp, .v = per, .m = jb->m, .micro_batch = mb, .schedule = jb->kind,
                            .n_stages = S};
        c->bounds = pp_calloc((unsigned long long)S + 1, sizeof(int), err);
        if (!c->bounds) goto done;
        n_c++;
        if (o->split_at) {
            int *mbnd = NULL, mS = 0;
            if (manual_bounds(&b->g, o->split_at, &mbnd, &mS, err)) goto done;
            if (mS != S) {
                free(mbnd);
                snprintf(c->note, sizeof c->note, "--split-at gives %d stages, this shape needs %d", mS, S);
                continue;
            }
            memcpy(c->bounds, mbnd, (size_t)(S + 1) * sizeof(int));
            free(mbnd);
        } else {
            if (b->chain.chain.n < S) {
                snprintf(c->note, sizeof c->note, "%d stages but only %d %s", S, b->chain.chain.n,
                         o->granularity_op ? "ops" : "blocks");
                continue;
            }
            double speed[512], mem[512], infl[512], al[512], be[512];
            if (S > 512) {
                snprintf(c->note, sizeof c->note, "more than 512 stages");
                continue;
            }
            slots_for(o, jb->kind, jb->pp, kv, jb->m, S, speed, mem, infl, al, be);
            pp_stage_slots sl = {.S = S, .speed = speed, .mem = mem, .inflight = infl, .alpha = al, .beta = be,
                                 .state_per_param_byte = 3};
            pp_partition part;
            if (pp_partition_dp(&b->chain.chain, &sl, &part, err)) goto done;
            for (int s = 0; s <= S; s++) c->bounds[s] = b->chain.unit_op[part.bounds[s]];
            c->bottleneck = part.bottleneck;
            if (!part.feasible) pp_partition_explain_memory(&b->chain.chain, &sl, &part, c->note, sizeof c->note);
            pp_partition_free(&part);
        }
        pp_prediction res;
        if (predict(o, b, jb->kind, jb->pp, jb->dp, kv, jb->m, c->bounds, 1, &res, NULL, err)) {
            pp_prediction_free(&res);
            goto done;
        }
        c->iteration_s = res.sim.iteration_s;
        c->samples_per_s = res.sim.samples_per_s;
        c->tokens_per_s = res.sim.tokens_per_s;
        c->bubble = res.sim.bubble_total_all;
        c->fits = res.fits;
        c->worst_rank = res.worst_rank;
        c->peak_mem = res.sim.peak_total_bytes[res.worst_rank];
        c->mem_limit = res.mem_limit[res.worst_rank];
        if (!c->fits && !c->note[0])
            snprintf(c->note, sizeof c->note, "rank %d needs %.2f GiB, its device has %.2f GiB", c->worst_rank,
                     c->peak_mem / GIB, c->mem_limit / GIB);
        pp_prediction_free(&res);
    }
    if (o->progress) o->progress(o->progress_ctx, n_jobs, n_jobs);
    qsort(cands, (size_t)n_c, sizeof *cands, cmp_cand);
    *out = cands;
    *n_out = n_c;
    cands = NULL;
    rc = 0;
done:
    if (cands) pp_search_free(cands, n_c);
    free_cache(cache, n_cache);
    free(jobs);
    return rc;
}

int pp_search_make_plan(const pp_search_opts *o, const pp_candidate *c, pp_plan *plan, pp_err *err) {
    memset(plan, 0, sizeof *plan);
    built *cache = NULL;
    int n_cache = 0, rc = -1, S = c->n_stages, kv = c->schedule == PP_SCHEDULE_INTERLEAVED ? c->v : 2;
    built *b = get_built(&cache, &n_cache, o, c->micro_batch, err);
    pp_partition dp_part, milp;
    memset(&dp_part, 0, sizeof dp_part);
    memset(&milp, 0, sizeof milp);
    char *ctext = NULL;
    if (!b) goto done;
    plan->version = PP_PLAN_VERSION;
    plan->model = *o->cfg;
    if (pp_model_config_hash(o->cfg, plan->model_hash, err)) goto done;
    size_t clen;
    if (pp_cluster_write(o->cluster, &ctext, &clen, err) || pp_cluster_parse(ctext, clen, "cluster", &plan->cluster, err))
        goto done;
    plan->global_batch = o->global_batch;
    plan->micro_batch = c->micro_batch;
    plan->n_microbatches = c->m;
    plan->seq_len = o->seq;
    plan->dtype = PP_DTYPE_F32;
    plan->pp = c->pp;
    plan->dp = c->dp;
    plan->virtual_stages = c->v;
    plan->stages = pp_calloc((unsigned long long)S, sizeof *plan->stages, err);
    if (!plan->stages) goto done;
    plan->n_stages = S;
    /* The partition: the candidate's (DP or manual), re-solved by the MILP. */
    snprintf(plan->planner.method, sizeof plan->planner.method, "%s", o->split_at ? "manual" : "milp");
    snprintf(plan->planner.status, sizeof plan->planner.status, "%s", o->split_at ? "given" : "heuristic");
    const int *ob = c->bounds;
    int *unit_b = NULL;
    if (!o->split_at) {
        double speed[512], mem[512], infl[512], al[512], be[512];
        slots_for(o, c->schedule, c->pp, kv, c->m, S, speed, mem, infl, al, be);
        pp_stage_slots sl = {.S = S, .speed = speed, .mem = mem, .inflight = infl, .alpha = al, .beta = be,
                             .state_per_param_byte = 3};
        if (pp_partition_dp(&b->chain.chain, &sl, &dp_part, err) ||
            pp_partition_milp(&b->chain.chain, &sl, &dp_part, o->time_limit_s > 0 ? o->time_limit_s : 30, &milp, err))
            goto done;
        snprintf(plan->planner.status, sizeof plan->planner.status, "%s", milp.status);
        plan->planner.gap = milp.gap;
        plan->planner.solve_s = milp.solve_s;
        unit_b = milp.bounds;
    }
    for (int s = 0; s < S; s++) {
        pp_plan_stage *st = &plan->stages[s];
        st->index = s;
        st->op_lo = unit_b ? b->chain.unit_op[unit_b[s]] : ob[s];
        st->op_hi = unit_b ? b->chain.unit_op[unit_b[s + 1]] : ob[s + 1];
        st->rank = pp_schedule_stage_rank((pp_schedule_kind)c->schedule, c->pp, kv, s);
        st->devices = pp_calloc((unsigned long long)c->dp, sizeof(int), err);
        if (!st->devices) goto done;
        for (int d = 0; d < c->dp; d++) st->devices[d] = d * c->pp + st->rank;
    }
    snprintf(plan->schedule_name, sizeof plan->schedule_name, "%s", pp_schedule_name((pp_schedule_kind)c->schedule));
    int fb[513];
    for (int s = 0; s < S; s++) fb[s] = plan->stages[s].op_lo;
    fb[S] = b->g.n_ops;
    pp_prediction res;
    int bad = predict(o, b, c->schedule, c->pp, c->dp, kv, c->m, fb, 0, &res, &plan->schedule, err) ||
              pp_prediction_to_plan(&res, plan, err);
    pp_prediction_free(&res);
    if (bad) goto done;
    plan->planner.present = 1;
    if (pp_plan_derive_tied(plan, &b->g, err) || pp_plan_check(plan, &b->g, err)) goto done;
    rc = 0;
done:
    free(ctext);
    pp_partition_free(&dp_part);
    pp_partition_free(&milp);
    free_cache(cache, n_cache);
    if (rc) pp_plan_free(plan);
    return rc;
}

int pp_search_ilp_schedule(const pp_search_opts *o, pp_plan *plan, double time_limit_s, pp_err *err) {
    int p = plan->pp, m = plan->n_microbatches, S = plan->n_stages, rc = -1;
    if (plan->virtual_stages != 1)
        return pp_err_set(err, PP_ERR_UNSUPPORTED, "the ILP schedule orders one stage per rank; this plan has %d",
                          plan->virtual_stages);
    if ((long long)p * m > 256)
        return pp_err_set(err, PP_ERR_UNSUPPORTED, "the ILP schedule is for small p x m (here %d x %d = %d > 256)", p, m,
                          p * m);
    built *cache = NULL;
    int n_cache = 0;
    pp_pipeline_model pm;
    memset(&pm, 0, sizeof pm);
    pp_ilpsched_result res;
    memset(&res, 0, sizeof res);
    int bounds[513];
    built *b = get_built(&cache, &n_cache, o, plan->micro_batch, err);
    if (!b) goto done;
    for (int s = 0; s < S; s++) bounds[s] = plan->stages[s].op_lo;
    bounds[S] = b->g.n_ops;
    if (pp_pipeline_model_build(&b->g, &b->cost, S, bounds, &pm, err)) goto done;
    double comm = 0, cap = -1;
    pp_predict_input li;
    base_input(o, b, &li);
    for (int s = 0; s < S; s++) {
        int dev = plan->stages[s].devices[0];
        double sp = pp_predict_speed(o->cluster, dev);
        pm.t_f[s] /= sp;
        pm.t_i[s] /= sp;
        pm.t_w[s] /= sp;
        double room = device_mem(o, dev) - pm.param_bytes[s] * 4;
        if (cap < 0 || room < cap) cap = room;
        if (s + 1 < S && plan->stages[s + 1].devices[0] != dev) {
            double la, lb;
            pp_predict_link(&li, dev, plan->stages[s + 1].devices[0], &la, &lb);
            double hop = la + (lb > 0 ? pm.xfer[(size_t)s * S + s + 1] / lb : 0);
            if (hop > comm) comm = hop;
        }
    }
    if (cap <= 0) {
        pp_err_set(err, PP_ERR_INVALID, "the ILP schedule: no activation memory is left beside the parameters");
        goto done;
    }
    /* The ILP's memory rows need what I keeps for W to be no more than what
     * F keeps for I; where the graph keeps more after I (the output gradients
     * W needs), count the larger figure from F on: conservative for the cap. */
    for (int s = 0; s < S; s++)
        if (pm.act_w[s] > pm.act_f[s]) pm.act_f[s] = pm.act_w[s];
    pp_ilpsched_problem pr = {.p = p, .m = m, .t_f = pm.t_f, .t_i = pm.t_i, .t_w = pm.t_w, .act_f = pm.act_f,
                              .act_w = pm.act_w, .comm_s = comm, .mem_cap = cap};
    if (pp_ilpsched_solve(&pr, time_limit_s, &res, err)) goto done;
    pp_plan_planner *pl = &plan->planner;
    pl->ilp_present = 1;
    snprintf(pl->ilp_status, sizeof pl->ilp_status, "%s", res.status);
    snprintf(pl->ilp_warm, sizeof pl->ilp_warm, "%s", res.warm_name);
    pl->ilp_gap = res.gap;
    pl->ilp_solve_s = res.solve_s;
    pl->ilp_makespan_s = res.makespan;
    pl->ilp_warm_makespan_s = res.warm_makespan;
    if (res.makespan < plan->prediction.iteration_s) {
        /* The ILP's order (or the better generated schedule it started from)
         * replaces the plan's schedule when the full model (links, skip
         * connections, data parallelism) predicts it faster too. */
        pp_prediction sr;
        li.sched = &res.sched;
        if (pp_predict_plan(plan, &b->g, &li, &sr, err)) {
            pp_prediction_free(&sr);
            goto done;
        }
        if (sr.sim.iteration_s >= plan->prediction.iteration_s) {
            pp_prediction_free(&sr);
            rc = 0;
            goto done;
        }
        pp_sched_free(&plan->schedule);
        plan->schedule = res.sched;
        memset(&res.sched, 0, sizeof res.sched);
        snprintf(plan->schedule_name, sizeof plan->schedule_name, "%s",
                 strcmp(res.status, "warm-start") ? "ilp" : res.warm_name);
        int bad = pp_prediction_to_plan(&sr, plan, err);
        pp_prediction_free(&sr);
        if (bad) goto done;
    }
    rc = 0;
done:
    pp_ilpsched_result_free(&res);
    pp_pipeline_model_free(&pm);
    free_cache(cache, n_cache);
    return rc;
}

int pp_search_plan_from_table(const pp_search_opts *o, const pp_sched *table, const char *name, pp_plan *plan,
                              pp_err *err) {
    memset(plan, 0, sizeof *plan);
    if (pp_sched_check(table, 0, 0, err)) return -1;
    int S = pp_sched_n_stages(table), pp = table->n_ranks, m = pp_sched_n_microbatches(table), rc = -1;
    if (m < 1 || o->global_batch % m)
        return pp_err_set(err, PP_ERR_INVALID, "the table has %d microbatches; the global batch %d is not a multiple of it",
                          m, o->global_batch);
    if (pp > o->cluster->n_devices)
        return pp_err_set(err, PP_ERR_INVALID, "the table has %d ranks; the cluster has %d devices", pp,
                          o->cluster->n_devices);
    int mb = o->global_batch / m;
    built *cache = NULL;
    int n_cache = 0;
    pp_partition part;
    memset(&part, 0, sizeof part);
    char *ctext = NULL;
    int *srank = pp_calloc((unsigned long long)S, sizeof(int), err), *per = pp_calloc((unsigned long long)pp, sizeof(int), err);
    double *speed = pp_calloc((unsigned long long)S, sizeof(double), err), *mem = pp_calloc((unsigned long long)S, sizeof(double), err),
           *infl = pp_calloc((unsigned long long)S, sizeof(double), err), *al = pp_calloc((unsigned long long)S, sizeof(double), err),
           *be = pp_calloc((unsigned long long)S, sizeof(double), err);
    built *b = NULL;
    if (!srank || !per || !speed || !mem || !infl || !al || !be || pp_sched_stage_ranks(table, srank, err)) goto done;
    if (!(b = get_built(&cache, &n_cache, o, mb, err))) goto done;
    for (int s = 0; s < S; s++) per[srank[s]]++;
    pp_predict_input li;
    base_input(o, b, &li);
    for (int s = 0; s < S; s++) {
        int r = srank[s];
        speed[s] = pp_predict_speed(o->cluster, r);
        mem[s] = device_mem(o, r) / per[r];
        infl[s] = (double)m / per[r];
        if (s + 1 < S && r != srank[s + 1]) pp_predict_link(&li, r, srank[s + 1], &al[s], &be[s]);
    }
    pp_stage_slots sl = {.S = S, .speed = speed, .mem = mem, .inflight = infl, .alpha = al, .beta = be,
                         .state_per_param_byte = 3};
    if (pp_partition_dp(&b->chain.chain, &sl, &part, err)) goto done;
    if (!part.feasible) {
        pp_err_set(err, PP_ERR_INVALID, "no split of %s into %d stages fits in memory with %d microbatches in flight",
                   o->cfg->name, S, m);
        goto done;
    }
    plan->version = PP_PLAN_VERSION;
    plan->model = *o->cfg;
    size_t clen;
    if (pp_model_config_hash(o->cfg, plan->model_hash, err) || pp_cluster_write(o->cluster, &ctext, &clen, err) ||
        pp_cluster_parse(ctext, clen, "cluster", &plan->cluster, err))
        goto done;
    plan->global_batch = o->global_batch;
    plan->micro_batch = mb;
    plan->n_microbatches = m;
    plan->seq_len = o->seq;
    plan->dtype = PP_DTYPE_F32;
    plan->pp = pp;
    plan->dp = 1;
    plan->virtual_stages = S / pp;
    if (S % pp) {
        pp_err_set(err, PP_ERR_INVALID, "the table's %d stages are not the same number on each of its %d ranks", S, pp);
        goto done;
    }
    if (!(plan->stages = pp_calloc((unsigned long long)S, sizeof *plan->stages, err))) goto done;
    plan->n_stages = S;
    snprintf(plan->planner.method, sizeof plan->planner.method, "dp");
    snprintf(plan->planner.status, sizeof plan->planner.status, "%s", part.status);
    plan->planner.gap = part.gap;
    plan->planner.solve_s = part.solve_s;
    plan->planner.present = 1;
    for (int s = 0; s < S; s++) {
        pp_plan_stage *st = &plan->stages[s];
        st->index = s;
        st->op_lo = b->chain.unit_op[part.bounds[s]];
        st->op_hi = b->chain.unit_op[part.bounds[s + 1]];
        st->rank = srank[s];
        if (!(st->devices = pp_calloc(1, sizeof(int), err))) goto done;
        st->devices[0] = st->rank;
    }
    snprintf(plan->schedule_name, sizeof plan->schedule_name, "%s", name);
    if (pp_sched_copy(&plan->schedule, table, err)) goto done;
    pp_prediction res;
    int bad = pp_predict_plan(plan, &b->g, &li, &res, err) || pp_prediction_to_plan(&res, plan, err);
    pp_prediction_free(&res);
    if (bad) goto done;
    if (pp_plan_derive_tied(plan, &b->g, err) || pp_plan_check(plan, &b->g, err)) goto done;
    rc = 0;
done:
    free(ctext);
    free(srank);
    free(per);
    free(speed);
    free(mem);
    free(infl);
    free(al);
    free(be);
    pp_partition_free(&part);
    free_cache(cache, n_cache);
    if (rc) pp_plan_free(plan);
    return rc;
}

int pp_search_choose(const pp_search_opts *o, const pp_candidate *c, int n, pp_plan *plan, pp_err *err) {
    if (n == 0 || !c[0].fits)
        return pp_err_set(err, PP_ERR_INVALID, "no candidate fits in memory; the closest: pp %d, %s, %d microbatches: %s",
                          n ? c[0].pp : 0, n ? pp_schedule_name((pp_schedule_kind)c[0].schedule) : "-", n ? c[0].m : 0,
                          n ? c[0].note : "none");
    return pp_search_make_plan(o, &c[0], plan, err);
}

void pp_search_table_name(const char *path, char *name, size_t n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    if (bl > 4 && !strcmp(base + bl - 4, ".csv")) bl -= 4;
    snprintf(name, n, "csv:%.*s", (int)(bl < 27 ? bl : 27), base);
}

int pp_search_costs_source(const pp_search_opts *o, const pp_graph *g, char *out, size_t n, pp_err *err) {
    pp_cost_profile cp;
    if (search_costs(o, g, &cp, err) < 0) return -1;
    snprintf(out, n, "%s", cp.source);
    pp_cost_free(&cp);
    return 0;
}

int pp_search_plan_from_csv(const pp_search_opts *o, const char *path, pp_plan *plan, pp_sched_naming *found,
                            pp_err *err) {
    pp_sched table;
    char name[32];
    if (pp_sched_load_csv(path, PP_NAMING_AUTO, &table, found, err)) return -1;
    pp_search_table_name(path, name, sizeof name);
    int bad = pp_search_plan_from_table(o, &table, name, plan, err);
    pp_sched_free(&table);
    if (bad) pp_err_wrap(err, "%s", path);
    return bad ? -1 : 0;
}

int pp_search_write_plan(const pp_search_opts *o, const pp_plan *plan, const char *path, pp_search_plan_file *f,
                         pp_err *err) {
    pp_graph g;
    memset(f, 0, sizeof *f);
    if (pp_zoo_build(o->cfg, plan->micro_batch, plan->seq_len, plan->dtype, &g, err)) return -1;
    int bad = pp_plan_write(plan, &g, &f->json, &f->len, err) || pp_plan_hash(plan, &g, f->hash, err) ||
              pp_io_write_atomic(path, f->json, f->len, err) ||
              pp_search_costs_source(o, &g, f->costs, sizeof f->costs, err);
    f->params = pp_graph_param_count(&g);
    snprintf(f->name, sizeof f->name, "%s-%s-pp%d-dp%d", o->cfg->name, plan->schedule_name, plan->pp, plan->dp);
    pp_graph_free(&g);
    return bad ? -1 : 0;
}

void pp_search_plan_file_free(pp_search_plan_file *f) {
    free(f->json);
    memset(f, 0, sizeof *f);
}

/* The best tokens/s among o's candidates at plan's dp and micro-batch and
 * o's count; -1 when none. */
static double best_point(const pp_search_opts *o, const pp_plan *p) {
    pp_candidate *cand = NULL;
    int n = 0, best = -1;
    pp_err e = {0};
    if (pp_search(o, &cand, &n, &e)) {
        PP_LOG_INFO("throughput of %s at m = %d not predicted: %s", pp_schedule_name(o->schedule), o->microbatches,
                    e.msg);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        if (cand[k].dp != p->dp || cand[k].micro_batch != p->micro_batch || cand[k].m != o->microbatches) continue;
        if (best < 0 || (cand[k].fits && !cand[best].fits) ||
            (cand[k].fits == cand[best].fits && cand[k].tokens_per_s > cand[best].tokens_per_s))
            best = k;
    }
    double t = best >= 0 ? cand[best].tokens_per_s : -1;
    pp_search_free(cand, n);
    return t;
}

int pp_search_throughput(const pp_search_opts *o, const pp_plan *plan, const pp_schedule_kind *kinds, int nk,
                         const int *ms, int nm, double *out, pp_err *err) {
    (void)err;
    pp_search_opts q = *o;
    for (int i = 0; i < nk; i++)
        for (int j = 0; j < nm; j++) {
            q.schedule = kinds[i];
            q.microbatches = ms[j];
            q.global_batch = plan->micro_batch * ms[j] * plan->dp;
            q.v = kinds[i] == PP_SCHEDULE_INTERLEAVED && plan->virtual_stages > 1 ? plan->virtual_stages : 2;
            out[i * nm + j] = best_point(&q, plan);
        }
    return 0;
}
