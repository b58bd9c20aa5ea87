/*
 * pp_predict.c -- from a layout, its costs and its cluster to the
 * simulator's input, and the prediction (see pp_predict.h for the rules).
 *
 * Every command that predicts comes through pp_predict: the rules for op
 * costs, device speed, links, the all-reduce and memory limits are written
 * here once, so the planner, `pippy sim`, `report`, `run` and `validate`
 * cannot disagree on a plan.
 */
#include "simulator/pp_predict.h"

#include "simulator/pp_pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pp_predict_input_init(pp_predict_input *in) {
    memset(in, 0, sizeof *in);
    in->dp = 1;
    in->link_alpha_s = -1;
}

void pp_predict_input_layout(pp_predict_input *in, const pp_sched *s, const pp_graph *g, int dp, int micro_batch,
                             int seq) {
    in->sched = s;
    in->g = g;
    in->dp = dp;
    in->samples_per_step = g ? (double)micro_batch * pp_sched_n_microbatches(s) * dp : 0;
    in->tokens_per_step = in->samples_per_step * (double)seq;
}

void pp_predict_input_whatif(pp_predict_input *in, double tflops, double link_us, double link_gbit) {
    in->flops_per_s = tflops > 0 ? tflops * 1e12 : 0;
    in->link_alpha_s = link_us >= 0 ? link_us * 1e-6 : -1;
    in->link_beta_Bps = link_gbit > 0 ? link_gbit * 1e9 / 8 : 0;
}

double pp_predict_rate(const pp_cluster *cl, double flops_per_s) {
    if (flops_per_s > 0) return flops_per_s;
    /* Half the peak is what dense transformer layers reach on a GPU. */
    if (cl && cl->n_devices && cl->devices[0].peak_flops > 0) return 0.5 * cl->devices[0].peak_flops;
    return 1e12;
}

double pp_predict_speed(const pp_cluster *cl, int dev) {
    if (!cl || dev < 0 || dev >= cl->n_devices || !(cl->devices[dev].speed > 0)) return 1;
    double base = cl->devices[0].speed > 0 ? cl->devices[0].speed : 1;
    return cl->devices[dev].speed / base;
}

static int what_if(const pp_predict_input *in) {
    return in->link_alpha_s >= 0 || in->link_beta_Bps > 0;
}

void pp_predict_link(const pp_predict_input *in, int a, int b, double *alpha, double *beta) {
    const pp_cluster *cl = in->cluster;
    const pp_comm_measured *m = in->comm;
    int known = cl && a >= 0 && b >= 0 && a < cl->n_devices && b < cl->n_devices;
    int same_host = known && cl->devices[a].host == cl->devices[b].host;
    *alpha = 0;
    *beta = 0;
    if (m && m->n_links > 0 && (!known || same_host || !cl->inter_host.present)) {
        *alpha = m->link_alpha_s;
        *beta = m->link_beta_Bps;
    } else if (known) {
        const pp_link_spec *ls = pp_cluster_link(cl, a, b);
        if (ls->present) {
            *alpha = ls->alpha_s;
            *beta = ls->beta_Bps;
        }
    }
    if (in->link_alpha_s >= 0) *alpha = in->link_alpha_s;
    if (in->link_beta_Bps > 0) *beta = in->link_beta_Bps;
}

void pp_predict_allreduce_hops(int n_ranks, double alpha, double beta, double *hop_alpha, double *hop_beta) {
    int k = n_ranks < 2 ? 2 : n_ranks;
    *hop_alpha = alpha / (2.0 * (k - 1));
    *hop_beta = beta * 2.0 * (k - 1) / k;
}

void pp_prediction_free(pp_prediction *p) {
    pp_sim_result_free(&p->sim);
    free(p->stage_t);
    free(p->mem_limit);
    memset(p, 0, sizeof *p);
}

/* Says which links the prediction used, for the tools to print. */
static void describe_links(const pp_predict_input *in, int measured_ar, pp_prediction *out) {
    const pp_comm_measured *m = in->comm;
    size_t n = sizeof out->link_source, l;
    const char *where = m && m->source[0] ? m->source : "the database";
    if (what_if(in))
        snprintf(out->link_source, n, "links: what-if figures for every pair of ranks");
    else if (m && m->n_links > 0)
        snprintf(out->link_source, n, "links: measured in %s (mean of %d): %.3g us, %.3g GB/s%s", where, m->n_links,
                 m->link_alpha_s * 1e6, m->link_beta_Bps / 1e9,
                 in->cluster && in->cluster->inter_host.present && in->cluster->n_hosts > 1
                     ? " within a host; the spec's between hosts"
                     : "");
    else if (in->cluster)
        snprintf(out->link_source, n, "links: the cluster spec's");
    else
        snprintf(out->link_source, n, "links: free (no cluster, nothing measured)");
    if (measured_ar) {
        l = strlen(out->link_source);
        snprintf(out->link_source + l, n - l, "; all-reduce measured over %d ranks: %.3g us + bytes / %.3g GB/s",
                 m->allreduce_ranks, m->allreduce_alpha_s * 1e6, m->allreduce_beta_Bps / 1e9);
    }
}

int pp_predict(const pp_predict_input *in, pp_prediction *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    if (!in || !in->sched) return pp_err_set(err, PP_ERR_INVALID, "pp_predict: no schedule table");
    const pp_sched *sc = in->sched;
    const pp_cluster *cl = in->cluster;
    if (pp_sched_check(sc, 0, 0, err)) return -1;
    int S = pp_sched_n_stages(sc), R = sc->n_ranks, dp = in->dp > 1 ? in->dp : 1, rc = -1;
    pp_cost_profile est;
    pp_pipeline_model pm;
    memset(&est, 0, sizeof est);
    memset(&pm, 0, sizeof pm);
    int *srank = pp_calloc((unsigned long long)S, sizeof(int), err);
    int *dev = pp_calloc((unsigned long long)S * dp, sizeof(int), err);
    int *rank_dev = pp_calloc((unsigned long long)R, sizeof(int), err);
    int *bounds = pp_calloc((unsigned long long)S + 1, sizeof(int), err);
    double *alpha = pp_calloc((unsigned long long)R * R, sizeof(double), err);
    double *beta = pp_calloc((unsigned long long)R * R, sizeof(double), err);
    double *unit = pp_calloc((unsigned long long)S, sizeof(double), err);
    out->stage_t = pp_calloc(3ull * S, sizeof(double), err);
    out->mem_limit = pp_calloc((unsigned long long)R, sizeof(double), err);
    out->n_stages = S;
    out->n_ranks = R;
    if (!srank || !dev || !rank_dev || !bounds || !alpha || !beta || !unit || !out->stage_t || !out->mem_limit ||
        pp_sched_stage_ranks(sc, srank, err))
        goto done;

    /* Devices: the caller's placement, else replica d of rank r on d * R + r. */
    for (int s = 0; s < S; s++)
        for (int d = 0; d < dp; d++) {
            int v = in->stage_devices ? in->stage_devices[(size_t)s * dp + d] : d * R + srank[s];
            if (cl && (v < 0 || v >= cl->n_devices)) {
                pp_err_set(err, PP_ERR_INVALID, "stage %d (replica %d) is placed on device %d; cluster '%s' has %d", s,
                           d, v, cl->name, cl->n_devices);
                goto done;
            }
            dev[(size_t)s * dp + d] = cl ? v : -1;
        }
    for (int s = 0; s < S; s++) rank_dev[srank[s]] = dev[(size_t)s * dp];

    pp_sim_input si;
    memset(&si, 0, sizeof si);
    if (in->g) {
        const pp_graph *g = in->g;
        const pp_cost_profile *cost = in->cost;
        if (cost && cost->n_ops != g->n_ops) {
            pp_err_set(err, PP_ERR_INVALID, "the cost profile has %d ops, the graph %d", cost->n_ops, g->n_ops);
            goto done;
        }
        if (!cost) {
            if (pp_cost_from_graph(g, pp_predict_rate(cl, in->flops_per_s), &est, err)) goto done;
            cost = &est;
        }
        snprintf(out->cost_source, sizeof out->cost_source, "%s", cost->source);
        if (in->bounds) {
            if (in->bounds[0] != 0 || in->bounds[S] != g->n_ops) {
                pp_err_set(err, PP_ERR_INVALID, "the stages cover ops %d .. %d; the graph has ops 0 .. %d",
                           in->bounds[0], in->bounds[S], g->n_ops);
                goto done;
            }
            memcpy(bounds, in->bounds, (size_t)(S + 1) * sizeof(int));
        } else if (pp_pipeline_split_even(g, S, bounds, err)) {
            goto done;
        }
        if (pp_pipeline_model_build(g, cost, S, bounds, &pm, err)) goto done;
        /* Device speed: the slowest replica of a stage sets its pace. */
        for (int s = 0; s < S; s++) {
            double sp = 0;
            for (int d = 0; d < dp; d++) {
                double x = pp_predict_speed(cl, dev[(size_t)s * dp + d]);
                if (d == 0 || x < sp) sp = x;
            }
            pm.t_f[s] /= sp;
            pm.t_i[s] /= sp;
            pm.t_w[s] /= sp;
        }
        pp_pipeline_sim_input(&pm, &si);
    } else {
        for (int s = 0; s < S; s++) unit[s] = 1.0;
        si.n_stages = S;
        si.t_f = si.t_i = si.t_w = unit;
        snprintf(out->cost_source, sizeof out->cost_source,
                 "unit costs (F = I = W = 1 s per stage and microbatch; give a model for its costs)");
    }
    for (int s = 0; s < S; s++) {
        out->stage_t[3 * s] = si.t_f[s];
        out->stage_t[3 * s + 1] = si.t_i[s];
        out->stage_t[3 * s + 2] = si.t_w[s];
    }

    for (int a = 0; a < R; a++)
        for (int b = 0; b < R; b++)
            if (a != b) pp_predict_link(in, rank_dev[a], rank_dev[b], &alpha[(size_t)a * R + b], &beta[(size_t)a * R + b]);
    si.sched = sc;
    si.alpha = alpha;
    si.beta = beta;
    si.dp = dp;
    int measured_ar = in->comm && in->comm->allreduce_ranks >= 2 && in->comm->allreduce_beta_Bps > 0 && !what_if(in);
    if (measured_ar) {
        pp_predict_allreduce_hops(in->comm->allreduce_ranks, in->comm->allreduce_alpha_s, in->comm->allreduce_beta_Bps,
                                  &si.coll_alpha, &si.coll_beta);
        si.dp_alpha = si.coll_alpha;
        si.dp_beta = si.coll_beta;
    } else if (dp > 1) {
        /* A ring all-reduce goes at the pace of its slowest hop: the highest
         * latency and the lowest bandwidth between neighbouring replicas. */
        for (int s = 0; s < S; s++)
            for (int d = 0; d < dp; d++) {
                double a, b;
                pp_predict_link(in, dev[(size_t)s * dp + d], dev[(size_t)s * dp + (d + 1) % dp], &a, &b);
                if (a > si.dp_alpha) si.dp_alpha = a;
                if (b > 0 && (si.dp_beta == 0 || b < si.dp_beta)) si.dp_beta = b;
            }
    }
    describe_links(in, measured_ar, out);
    si.samples_per_step = in->samples_per_step;
    si.tokens_per_step = in->tokens_per_step;
    si.want_trace = in->want_trace;
    si.want_timeline = in->want_timeline;
    si.want_critical_path = in->want_critical_path;
    si.any_order = in->any_order;
    if (pp_sim_run(&si, &out->sim, err)) goto done;

    /* Memory: each rank against its device. */
    out->fits = 1;
    double worst = -1;
    for (int r = 0; r < R; r++) {
        int d = rank_dev[r];
        double lim = in->mem_cap > 0 ? in->mem_cap : cl && d >= 0 ? cl->devices[d].memory_bytes : 0;
        double peak = out->sim.peak_total_bytes[r], key = lim > 0 ? peak / lim : peak;
        out->mem_limit[r] = lim;
        if (lim > 0 && peak > lim) out->fits = 0;
        if (key > worst) {
            worst = key;
            out->worst_rank = r;
        }
    }
    rc = 0;
done:
    pp_pipeline_model_free(&pm);
    pp_cost_free(&est);
    free(srank);
    free(dev);
    free(rank_dev);
    free(bounds);
    free(alpha);
    free(beta);
    free(unit);
    return rc;
}

int pp_predict_plan(const pp_plan *plan, const pp_graph *g, const pp_predict_input *opts, pp_prediction *out,
                    pp_err *err) {
    memset(out, 0, sizeof *out);
    pp_predict_input in;
    if (opts) in = *opts;
    else pp_predict_input_init(&in);
    int S = plan->n_stages, dp = plan->dp > 1 ? plan->dp : 1, rc = -1;
    if (S < 1) return pp_err_set(err, PP_ERR_INVALID, "the plan has no stages");
    int *bounds = pp_calloc((unsigned long long)S + 1, sizeof(int), err);
    int *devs = pp_calloc((unsigned long long)S * dp, sizeof(int), err);
    if (!bounds || !devs) goto done;
    for (int s = 0; s < S; s++) {
        bounds[s] = plan->stages[s].op_lo;
        for (int d = 0; d < dp; d++) devs[(size_t)s * dp + d] = plan->stages[s].devices[d];
    }
    bounds[S] = g ? g->n_ops : plan->stages[S - 1].op_hi;
    if (!in.sched) in.sched = &plan->schedule;
    in.g = g;
    in.bounds = g ? bounds : NULL;
    in.dp = dp;
    in.stage_devices = devs;
    in.cluster = &plan->cluster;
    in.samples_per_step = plan->global_batch;
    in.tokens_per_step = (double)plan->global_batch * plan->seq_len;
    rc = pp_predict(&in, out, err);
done:
    free(bounds);
    free(devs);
    return rc;
}

int pp_prediction_to_plan(const pp_prediction *p, pp_plan *plan, pp_err *err) {
    double *peak = pp_calloc((unsigned long long)(p->n_ranks ? p->n_ranks : 1), sizeof(double), err);
    if (!peak) return -1;
    for (int r = 0; r < p->n_ranks; r++) peak[r] = p->sim.peak_total_bytes[r];
    free(plan->prediction.peak_memory_bytes);
    plan->prediction.present = 1;
    plan->prediction.iteration_s = p->sim.iteration_s;
    plan->prediction.samples_per_s = p->sim.samples_per_s;
    plan->prediction.tokens_per_s = p->sim.tokens_per_s;
    plan->prediction.bubble_fraction = p->sim.bubble_total_all;
    plan->prediction.peak_memory_bytes = peak;
    return 0;
}
