/*
 * pp_profile_run.c -- the order in which `pippy profile` takes the steps of
 * pp_profile.c (see "one run" in pp_profile.h): the device fields from the
 * backend, the per-op arrays of a pp_profile_result, which signatures are
 * reused from the stored profile and which measured again, the ops phase
 * (round sampler, op sum, whole-step check), the links phase on each rank
 * under MPI, and the progress bar. The caller reads and writes the
 * database (costs/pp_costs_store.h); nothing here speaks to it.
 */
#include "profiler/pp_profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_hash.h"

int pp_profile_describe(pp_backend_kind backend, int threads, pp_profile_result *o, pp_backend **keep, pp_err *err) {
    pp_backend *be = NULL;
    if (pp_backend_open(backend, threads, &be, err)) return -1;
    pp_backend_describe(be, o->desc, sizeof o->desc);
    pp_sha256_hex(o->desc, strlen(o->desc), o->fp);
    if (keep) *keep = be;
    else pp_backend_close(be);
    return 0;
}

int pp_profile_result_alloc(pp_profile_result *o, const pp_graph *g, pp_err *err) {
    unsigned long long n = (unsigned long long)g->n_ops;
    o->g = g;
    if (!(o->m = pp_calloc(n, sizeof *o->m, err)) || !(o->sig = pp_calloc(n, sizeof *o->sig, err)) ||
        !(o->fresh = pp_calloc(n, sizeof *o->fresh, err)) || !(o->had_prev = pp_calloc(n, sizeof(int), err)) ||
        !(o->prev = pp_calloc(n, sizeof *o->prev, err)) || !(o->first = pp_calloc(n, sizeof(int), err)))
        return -1;
    o->uniq = pp_profile_distinct(g, o->sig, o->first);
    return 0;
}

void pp_profile_result_free(pp_profile_result *o) {
    free(o->m);
    free(o->sig);
    free(o->fresh);
    free(o->had_prev);
    free(o->prev);
    free(o->first);
    free(o->links);
    o->m = o->prev = NULL;
    o->sig = NULL;
    o->fresh = o->had_prev = o->first = NULL;
    o->links = NULL;
}

void pp_profile_take_stored(pp_profile_result *o, int i, const pp_op_measure *stored, int force) {
    int found = stored != NULL;
    if (found) {
        if (force) o->prev[i] = *stored;
        else o->m[i] = *stored;
    }
    o->had_prev[i] = found && force; /* with --force: compared with what was stored before */
    o->fresh[i] = !found || force;
    o->measured += o->fresh[i];
    o->reused += !o->fresh[i];
}

void pp_profile_take_stored_cb(void *ctx, int i, const pp_op_measure *stored) {
    pp_profile_result *o = ctx;
    pp_profile_take_stored(o, i, stored, o->force);
}

int pp_profile_measure_ops(const pp_model_config *cfg, pp_backend *be, pp_profile_result *o,
                           pp_profile_progress progress, void *ctx, pp_err *err) {
    const pp_graph *g = o->g;
    double t_start = pp_backend_now();
    o->res = pp_opprof_timer_resolution();
    if (pp_profile_rounds(g, be, o->fresh, PP_PROFILE_ROUNDS, o->res, progress, ctx, o->m, err)) return -1;
    o->seconds = pp_backend_now() - t_start;
    for (int i = 0; i < g->n_ops; i++) o->m[i] = o->m[o->first[i]];
    o->sum = pp_profile_ops_sum(g, o->m);
    if (o->check && pp_profile_whole_step(cfg, g, be, 5, &o->whole, &o->optim, NULL, err)) return -1;
    return 0;
}

int pp_profile_links_phase(pp_comm *c, pp_backend_kind backend, int threads, pp_profile_result *o, pp_err *err) {
    pp_linkprof_opts lo;
    pp_linkprof_opts_default(&lo);
    if (pp_profile_links(c, backend, threads, &lo, &o->links, &o->n_links, o->ar, err)) return -1;
    o->ranks = pp_comm_size(c);
    o->sample_above = lo.sample_above;
    return 0;
}

void pp_profile_print_progress(FILE *f, double elapsed, int round, int rounds, int done, int total) {
    double eta = elapsed / done * (total - done);
    int bar = 30 * done / (total ? total : 1);
    fprintf(f, "\r[%.*s%*s] round %d/%d, %d/%d ops, %.0f s, ETA %.0f s ", bar, "==============================",
            30 - bar, "", round + 1, rounds, done, total, elapsed, eta);
    if (done == total) fprintf(f, "\n");
}

void pp_profile_progress_tty(void *ctx, int round, int rounds, int done, int total) {
    const pp_profile_tty *t = ctx;
    if (isatty(fileno(t->f))) pp_profile_print_progress(t->f, pp_backend_now() - t->t_start, round, rounds, done, total);
}
