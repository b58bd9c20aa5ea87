/*
 * pp_profile.c -- the steps of `pippy profile` over plain structs (see
 * pp_profile.h): signatures, the round sampler, the whole-step check, the
 * comparison with a previous profile, the links.
 */
#include "profiler/pp_profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_stats.h"
#include "kernels/pp_engine.h"
#include "kernels/pp_init.h"
#include "kernels/pp_optim.h"
#include "profiler/pp_gpulink.h"

int pp_profile_distinct(const pp_graph *g, char (*sig)[PP_PROFILE_SIG_MAX], int *first) {
    int uniq = 0;
    for (int i = 0; i < g->n_ops; i++) {
        pp_opprof_signature(g, i, sig[i], sizeof sig[i]);
        first[i] = i;
        for (int j = 0; j < i; j++)
            if (!strcmp(sig[j], sig[i])) {
                first[i] = j;
                break;
            }
        if (first[i] == i) uniq++;
    }
    return uniq;
}

int pp_profile_rounds(const pp_graph *g, pp_backend *be, const int *todo, int rounds, double res,
                      pp_profile_progress progress, void *ctx, pp_op_measure *m, pp_err *err) {
    if (rounds < 1) return pp_err_set(err, PP_ERR_INVALID, "profile rounds: %d, not at least 1", rounds);
    int n_todo = 0, done = 0, bad = 0;
    for (int i = 0; i < g->n_ops; i++) n_todo += todo[i] != 0;
    if (!n_todo) return 0;
    double **samples = pp_calloc((unsigned long long)g->n_ops * 3, sizeof(double *), err);
    int *ns = pp_calloc((unsigned long long)g->n_ops, sizeof(int), err);
    int *per_round = pp_calloc((unsigned long long)g->n_ops, sizeof(int), err);
    bad = !samples || !ns || !per_round;
    /* Repetitions per round from one probe timing. */
    for (int i = 0; i < g->n_ops && !bad; i++) {
        if (!todo[i]) continue;
        double one[3], *probe[3] = {&one[0], &one[1], &one[2]};
        int n1 = 0;
        long long kf, kw;
        if (pp_opprof_sample(g, i, be, 1, 1, probe, &n1, &kf, &kw, err)) {
            bad = 1;
            break;
        }
        double t_op = one[0] + one[1] + one[2];
        per_round[i] = t_op > 0 ? (int)(2e-3 / t_op) : 64;
        if (per_round[i] < 2) per_round[i] = 2;
        if (per_round[i] > 64) per_round[i] = 64;
        for (int p = 0; p < 3 && !bad; p++)
            bad = !(samples[3 * i + p] = pp_calloc((unsigned long long)rounds * per_round[i], sizeof(double), err));
    }
    for (int round = 0; round < rounds && !bad; round++) {
        for (int i = 0; i < g->n_ops && !bad; i++) {
            if (!todo[i]) continue;
            if (pp_opprof_sample(g, i, be, round == 0 ? 2 : 1, per_round[i], &samples[3 * i], &ns[i],
                                 &m[i].keep_f_bytes, &m[i].keep_w_bytes, err)) {
                bad = 1;
                break;
            }
            done++;
            if (progress) progress(ctx, round, rounds, done, n_todo * rounds);
        }
    }
    for (int i = 0; i < g->n_ops && !bad; i++) {
        if (!todo[i]) continue;
        pp_opprof_summarize_rounds(&samples[3 * i], ns[i], rounds, res, &m[i]);
        m[i].param_bytes = g->ops[i].cost.param_bytes;
    }
    for (int i = 0; samples && i < 3 * g->n_ops; i++) free(samples[i]);
    free(samples);
    free(ns);
    free(per_round);
    return bad ? -1 : 0;
}

double pp_profile_ops_sum(const pp_graph *g, const pp_op_measure *m) {
    double sum = 0;
    for (int i = 0; i < g->n_ops; i++) sum += m[i].t[0] + m[i].t[1] + m[i].t[2];
    return sum;
}

/* Uploads cfg's initial parameters (seed 1234) into the engine. */
static int init_params(const pp_model_config *cfg, const pp_graph *g, pp_backend *be, pp_engine *e, pp_err *err) {
    for (int i = 0; i < pp_engine_n_params(e); i++) {
        int t = pp_engine_param_tensor(e, i);
        size_t bytes = (size_t)pp_tensor_bytes(&g->tensors[t]);
        float *h = pp_malloc(bytes ? bytes : 1, err);
        if (!h) return -1;
        pp_init_param(cfg, &g->tensors[t], 1234, h);
        pp_backend_upload(be, pp_engine_param(e, t), h, bytes);
        free(h);
    }
    return 0;
}

/* Fresh token ids for step r into every input of the engine. */
static int upload_inputs(const pp_graph *g, pp_backend *be, pp_engine *e, int r, pp_err *err) {
    for (int k = 0; k < pp_engine_n_inputs(e); k++) {
        int t = pp_engine_input_tensor(e, k);
        int32_t *buf = pp_engine_buffer(e, 0, t, err);
        long long n = pp_tensor_numel(&g->tensors[t]);
        int32_t *h = buf ? pp_malloc((unsigned long long)n * sizeof(int32_t) + 4, err) : NULL;
        if (!h) return -1;
        for (long long i = 0; i < n; i++) h[i] = (int32_t)(pp_init_splitmix64((uint64_t)(i + 31 * r + 7)) % 256);
        pp_backend_upload(be, buf, h, (size_t)n * sizeof(int32_t));
        free(h);
    }
    return 0;
}

int pp_profile_whole_step(const pp_model_config *cfg, const pp_graph *g, pp_backend *be, int min_reps, double *whole_s,
                          double *optim_per_param_s, int *reps_out, pp_err *err) {
    if (min_reps < 1 || min_reps > PP_PROFILE_STEP_MAX_REPS)
        return pp_err_set(err, PP_ERR_INVALID, "whole step: %d repetitions, not 1 to %d", min_reps,
                          PP_PROFILE_STEP_MAX_REPS);
    pp_engine *e;
    if (pp_engine_create(g, 0, g->n_ops, be, &e, err)) return -1;
    double ts[PP_PROFILE_STEP_MAX_REPS];
    int rc = -1, reps = min_reps;
    if (init_params(cfg, g, be, e, err)) goto done;
    for (int r = -1; r < reps; r++) {
        double tw = pp_backend_now();
        if (pp_engine_begin(e, 0, err) || upload_inputs(g, be, e, r, err)) goto done;
        pp_backend_sync(be);
        double t0 = pp_backend_now();
        if (pp_engine_forward(e, 0, err) || pp_engine_backward(e, 0, 1.0f, err)) goto done;
        pp_backend_sync(be);
        if (r >= 0) ts[r] = pp_backend_now() - t0;
        if (r < 0) {
            /* As many steps as fill about 0.3 s, min_reps to the most. */
            double one = pp_backend_now() - tw;
            int want = one > 0 ? (int)(0.3 / one) : PP_PROFILE_STEP_MAX_REPS;
            reps = want < reps ? reps : want > PP_PROFILE_STEP_MAX_REPS ? PP_PROFILE_STEP_MAX_REPS : want;
        }
    }
    *whole_s = pp_stats_median(ts, reps);
    /* The step-level work the executor does per parameter: gradient norm,
     * AdamW, zeroing (median of reps, per parameter). */
    pp_optim opt;
    if (pp_optim_init(&opt, be, e, err)) goto done;
    pp_adamw_hyper h = pp_adamw_defaults();
    long long np;
    pp_engine_params_flat(e, &np);
    for (int r = -1; r < reps; r++) {
        double t0 = pp_backend_now();
        double norm = sqrt(pp_optim_sumsq(be, e));
        pp_optim_step(&opt, be, e, g, &h, 1e-9, pp_optim_clip_scale(&h, norm));
        pp_engine_zero_grads(e);
        pp_backend_sync(be);
        if (r >= 0) ts[r] = pp_backend_now() - t0;
    }
    pp_optim_free(&opt, be);
    *optim_per_param_s = np > 0 ? pp_stats_median(ts, reps) / (double)np : 0;
    if (reps_out) *reps_out = reps;
    rc = 0;
done:
    pp_engine_free(e);
    return rc;
}

void pp_profile_compare(int n, const pp_op_measure *now, const pp_op_measure *before, const int *had_before, double res,
                        pp_profile_agreement *out) {
    memset(out, 0, sizeof *out);
    out->worst_op = -1;
    for (int i = 0; i < n; i++) {
        if (!had_before[i]) continue;
        for (int p = 0; p < 3; p++) {
            double mn = now[i].t[p], mo = before[i].t[p];
            double s = now[i].spread[p] > before[i].spread[p] ? now[i].spread[p] : before[i].spread[p];
            if (mn <= 0 && mo <= 0) continue;
            out->total++;
            double dev = mn > mo ? mn - mo : mo - mn;
            if (dev <= s) {
                out->agree++;
            } else if (dev / (s > res ? s : res) > out->worst_dev) {
                out->worst_dev = dev / (s > res ? s : res);
                out->worst_op = i;
                out->worst_pass = p;
            }
        }
    }
}

int pp_profile_links(pp_comm *c, pp_backend_kind backend, int threads, const pp_linkprof_opts *o, pp_link_result **res,
                     int *n, double ar[3], pp_err *err) {
    ar[0] = ar[1] = ar[2] = 0;
    if (backend == PP_BACKEND_CUDA) return pp_gpulink_run(c, o, threads, res, n, err);
    if (pp_linkprof_run(c, o, NULL, 0, res, n, err)) return -1;
    /* The all-reduce over all the ranks (tied and data-parallel gradients). */
    if (pp_linkprof_allreduce(c, o, &ar[0], &ar[1], &ar[2], err)) {
        free(*res);
        *res = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}
