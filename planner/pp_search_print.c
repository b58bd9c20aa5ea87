/*
 * pp_search_print.c -- the plan search's outcome as text and as JSON
 * (pp_search_print.h): what `pippy plan` prints, moved here from the tool so
 * that it can be tested and so that the tool only parses, loads, calls and
 * stores.
 */
#include "planner/pp_search_print.h"

#include <string.h>

#include "planner/pp_schedgen.h"
#include "simulator/pp_predict.h"

#define GIB (1024.0 * 1024 * 1024)

void pp_search_print_progress(void *ctx, int done, int total) {
    FILE *f = ctx;
    fprintf(f, "\rsearching: %d/%d candidates", done, total);
    if (done == total) fprintf(f, "\n");
}

void pp_search_print_comm(FILE *f, const pp_comm_measured *comm, const char *where) {
    if (comm->n_links)
        fprintf(f, "links: measured in %s (mean of %d): %.3g us, %.3g GB/s\n", where, comm->n_links,
                comm->link_alpha_s * 1e6, comm->link_beta_Bps / 1e9);
    if (comm->allreduce_ranks)
        fprintf(f, "all-reduce: measured over %d ranks in %s: %.3g us + bytes / %.3g GB/s\n", comm->allreduce_ranks,
                where, comm->allreduce_alpha_s * 1e6, comm->allreduce_beta_Bps / 1e9);
}

void pp_search_print_costs(FILE *f, FILE *warn, const pp_search_opts *o, const char *source) {
    const pp_cluster *cl = o->cluster;
    int total = o->used_measured + o->used_estimated;
    if (o->used_measured)
        fprintf(f, "costs: %s for %d of %d micro-batch sizes searched\n", source, o->used_measured, total);
    if (o->used_estimated)
        fprintf(warn,
                "pippy plan: warning: no measured profile for %d of %d micro-batch sizes; their op costs are the "
                "graph's FLOPs at %.3g TFLOP/s%s (run pippy profile --micro-batch N --seq T for measured costs)\n",
                o->used_estimated, total, pp_predict_rate(cl, o->flops_per_s) / 1e12,
                o->flops_per_s > 0 ? "" : (cl->n_devices && cl->devices[0].peak_flops > 0 ? " (half the peak)" : " (assumed)"));
}

void pp_search_print_candidates(FILE *f, const pp_search_opts *o, const pp_candidate *c, int n, int top) {
    fprintf(f, "%s on %s (%d devices), global batch %d x %d tokens: %d candidates\n\n", o->cfg->name, o->cluster->name,
            o->cluster->n_devices, o->global_batch, o->seq, n);
    fprintf(f, "%4s %4s %-12s %4s %5s %6s %12s %12s %8s %10s %10s  %s\n", "pp", "dp", "schedule", "v", "m", "mbs",
            "iter s", "tokens/s", "bubble", "peak GiB", "limit GiB", "");
    for (int i = 0; i < n && i < top; i++) {
        const pp_candidate *k = &c[i];
        fprintf(f, "%4d %4d %-12s %4d %5d %6d %12.5g %12.5g %8.4f %10.2f %10.2f  %s\n", k->pp, k->dp,
                pp_schedule_name((pp_schedule_kind)k->schedule), k->v, k->m, k->micro_batch, k->iteration_s,
                k->tokens_per_s, k->bubble, k->peak_mem / GIB, k->mem_limit / GIB, k->fits ? "" : k->note);
    }
}

void pp_search_print_table_plan(FILE *f, const char *csv, pp_sched_naming found, const pp_plan *plan,
                                const pp_search_opts *o, const char *source) {
    fprintf(f, "schedule %s (%s naming): %d ranks, %d stages, %d microbatches\n", csv,
            found == PP_NAMING_LEGACY ? "legacy" : "current", plan->pp, plan->n_stages, plan->n_microbatches);
    if (o->used_measured) fprintf(f, "costs: %s\n", source);
}

void pp_search_print_ilp(FILE *f, const pp_plan *plan, int searched) {
    const pp_plan_planner *p = &plan->planner;
    fprintf(f, "ILP schedule: %s (from %s, %.5g s -> %.5g s, gap %.3g, %.2f s)%s\n", p->ilp_status, p->ilp_warm,
            p->ilp_warm_makespan_s, p->ilp_makespan_s, p->ilp_gap, p->ilp_solve_s,
            strcmp(plan->schedule_name, pp_schedule_name((pp_schedule_kind)searched)) ? "; it replaces the schedule"
                                                                                       : "; the searched schedule stays");
}

void pp_search_print_chosen(FILE *f, const pp_plan *plan) {
    fprintf(f, "\nchosen: pp %d x dp %d, %s, %d microbatches of %d; split by %s (%s, gap %.3g, %.3f s)\n", plan->pp,
            plan->dp, plan->schedule_name, plan->n_microbatches, plan->micro_batch, plan->planner.method,
            plan->planner.status, plan->planner.gap, plan->planner.solve_s);
    fprintf(f, "predicted: %.5g s per step, %.5g tokens/s, bubble %.4f\n", plan->prediction.iteration_s,
            plan->prediction.tokens_per_s, plan->prediction.bubble_fraction);
}

static void json_candidate(pp_jw *w, const pp_candidate *k) {
    pp_jw_obj_begin(w);
    pp_jw_kint(w, "pp", k->pp);
    pp_jw_kint(w, "dp", k->dp);
    pp_jw_kstr(w, "schedule", pp_schedule_name((pp_schedule_kind)k->schedule));
    pp_jw_kint(w, "virtual_stages", k->v);
    pp_jw_kint(w, "microbatches", k->m);
    pp_jw_kint(w, "micro_batch", k->micro_batch);
    pp_jw_knum(w, "iteration_s", k->iteration_s);
    pp_jw_knum(w, "tokens_per_s", k->tokens_per_s);
    pp_jw_knum(w, "bubble_fraction", k->bubble);
    pp_jw_knum(w, "peak_memory_bytes", k->peak_mem);
    pp_jw_knum(w, "memory_limit_bytes", k->mem_limit);
    pp_jw_kbool(w, "fits", k->fits);
    pp_jw_kstr(w, "note", k->note);
    pp_jw_obj_end(w);
}

void pp_search_write_json(pp_jw *w, const pp_candidate *c, int n, int top, const pp_plan *plan, const char *phash,
                          const char *outp, long long stored_id, const char *costs) {
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "plan_file", outp);
    pp_jw_kstr(w, "plan_hash", phash);
    pp_jw_key(w, "stored_plan_id");
    if (stored_id > 0) pp_jw_int(w, stored_id);
    else pp_jw_null(w);
    pp_jw_kstr(w, "costs", costs);
    pp_jw_key(w, "candidates");
    pp_jw_arr_begin(w);
    for (int i = 0; i < n && i < top; i++) json_candidate(w, &c[i]);
    pp_jw_arr_end(w);
    pp_jw_key(w, "chosen");
    pp_jw_obj_begin(w);
    pp_jw_kint(w, "pp", plan->pp);
    pp_jw_kint(w, "dp", plan->dp);
    pp_jw_kstr(w, "schedule", plan->schedule_name);
    pp_jw_kint(w, "microbatches", plan->n_microbatches);
    pp_jw_kint(w, "micro_batch", plan->micro_batch);
    pp_jw_kstr(w, "split_method", plan->planner.method);
    pp_jw_kstr(w, "split_status", plan->planner.status);
    pp_jw_knum(w, "split_gap", plan->planner.gap);
    pp_jw_obj_end(w);
    pp_jw_key(w, "prediction");
    pp_jw_obj_begin(w);
    pp_jw_knum(w, "iteration_s", plan->prediction.iteration_s);
    pp_jw_knum(w, "samples_per_s", plan->prediction.samples_per_s);
    pp_jw_knum(w, "tokens_per_s", plan->prediction.tokens_per_s);
    pp_jw_knum(w, "bubble_fraction", plan->prediction.bubble_fraction);
    pp_jw_key(w, "peak_memory_bytes");
    pp_jw_arr_begin_inline(w);
    for (int r = 0; r < plan->pp; r++) pp_jw_num(w, plan->prediction.peak_memory_bytes[r]);
    pp_jw_arr_end(w);
    pp_jw_obj_end(w);
    pp_jw_obj_end(w);
}

int pp_search_run(FILE *f, FILE *warn, const pp_search_opts *o, int top, double ilp_s, const char *source,
                  pp_candidate **cands, int *n, pp_plan *plan, pp_err *err) {
    if (pp_search(o, cands, n, err)) return -1;
    pp_search_print_costs(f, warn, o, source);
    pp_search_print_candidates(f, o, *cands, *n, top);
    if (pp_search_choose(o, *cands, *n, plan, err)) return -1;
    if (ilp_s > 0) {
        if (pp_search_ilp_schedule(o, plan, ilp_s, err)) return -1;
        pp_search_print_ilp(f, plan, (*cands)[0].schedule);
    }
    return 0;
}
