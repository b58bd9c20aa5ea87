/*
 * pp_predict_print.c -- the text and JSON forms of a prediction, as `pippy
 * sim` prints them (pp_predict_print.h). Printing only: every figure comes
 * from the prediction as pp_predict made it.
 */
#include "simulator/pp_predict_print.h"

void pp_prediction_print_text(FILE *f, const pp_prediction *p, const char *what, double tokens) {
    const pp_sim_result *r = &p->sim;
    fprintf(f, "%s\ncosts: %s\n%s\n\n", what, p->cost_source, p->link_source);
    fprintf(f, "iteration time   %.6g s\n", r->iteration_s);
    if (tokens > 0) fprintf(f, "throughput       %.6g samples/s, %.6g tokens/s\n", r->samples_per_s, r->tokens_per_s);
    fprintf(f, "bubble           %.4f of the total (idle / (ranks x iteration time))\n", r->bubble_total_all);
    fprintf(f, "                 %.4f of the ideal (idle / busy time)\n", r->bubble_ideal_all);
    fprintf(f, "actions          %lld, messages %lld\n\n", r->n_actions, r->n_messages);
    fprintf(f, "%5s %12s %12s %9s %9s %9s %14s %14s\n", "rank", "busy s", "idle s", "idle/tot", "idle/busy", "in-flight",
            "peak act B", "peak total B");
    for (int k = 0; k < r->n_ranks; k++)
        fprintf(f, "%5d %12.6g %12.6g %9.4f %9.4f %9d %14.0f %14.0f\n", k, r->busy[k], r->idle[k], r->bubble_total[k],
                r->bubble_ideal[k], r->peak_inflight[k], r->peak_act_bytes[k], r->peak_total_bytes[k]);
    if (r->n_critical) {
        fprintf(f, "\ncritical path: %d actions", r->n_critical);
        int ranks_seen = 0, last = -1;
        for (int i = 0; i < r->n_critical; i++)
            if (r->critical[i].rank != last) {
                ranks_seen++;
                last = r->critical[i].rank;
            }
        fprintf(f, ", %d rank changes, from t = %.6g to %.6g\n", ranks_seen - 1, r->critical[0].start,
                r->critical[r->n_critical - 1].end);
    }
}

void pp_prediction_write_json(pp_jw *w, const pp_prediction *p, const char *what, const pp_sched *s) {
    const pp_sim_result *r = &p->sim;
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "what", what);
    pp_jw_kstr(w, "costs", p->cost_source);
    pp_jw_kstr(w, "links", p->link_source);
    pp_jw_knum(w, "iteration_s", r->iteration_s);
    pp_jw_knum(w, "samples_per_s", r->samples_per_s);
    pp_jw_knum(w, "tokens_per_s", r->tokens_per_s);
    pp_jw_knum(w, "bubble_idle_over_total", r->bubble_total_all);
    pp_jw_knum(w, "bubble_idle_over_ideal", r->bubble_ideal_all);
    pp_jw_kint(w, "n_actions", r->n_actions);
    pp_jw_key(w, "ranks");
    pp_jw_arr_begin(w);
    for (int k = 0; k < r->n_ranks; k++) {
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "rank", k);
        pp_jw_knum(w, "busy_s", r->busy[k]);
        pp_jw_knum(w, "idle_s", r->idle[k]);
        pp_jw_knum(w, "bubble_idle_over_total", r->bubble_total[k]);
        pp_jw_knum(w, "bubble_idle_over_ideal", r->bubble_ideal[k]);
        pp_jw_kint(w, "peak_inflight", r->peak_inflight[k]);
        pp_jw_knum(w, "peak_activation_bytes", r->peak_act_bytes[k]);
        pp_jw_knum(w, "peak_total_bytes", r->peak_total_bytes[k]);
        if (r->timeline) {
            /* Activation bytes over time ([t, bytes] at each change); the total is
             * these plus the constant parameters, gradients and optimizer state. */
            pp_jw_knum(w, "static_bytes", r->peak_total_bytes[k] - r->peak_act_bytes[k]);
            pp_jw_key(w, "activation_timeline");
            pp_jw_arr_begin(w);
            for (int i = 0; i < r->timeline_n[k]; i++) {
                pp_jw_arr_begin_inline(w);
                pp_jw_num(w, r->timeline[k][i].t);
                pp_jw_num(w, r->timeline[k][i].bytes);
                pp_jw_arr_end(w);
            }
            pp_jw_arr_end(w);
        }
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_key(w, "critical_path");
    pp_jw_arr_begin(w);
    for (int i = 0; i < r->n_critical; i++) {
        char cell[96];
        const pp_sim_step *st = &r->critical[i];
        pp_action_format(&s->ranks[st->rank].acts[st->index], PP_NAMING_CURRENT, cell, sizeof cell);
        pp_jw_arr_begin_inline(w);
        pp_jw_int(w, st->rank);
        pp_jw_str(w, cell);
        pp_jw_num(w, st->start);
        pp_jw_num(w, st->end);
        pp_jw_arr_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_obj_end(w);
}

void pp_predict_describe_plan(char *buf, size_t n, const char *path, const pp_plan *plan) {
    snprintf(buf, n, "plan %s: %s, pp %d x dp %d, %d stages, schedule %s, %d microbatches", path, plan->model.name,
             plan->pp, plan->dp, plan->n_stages, plan->schedule_name, plan->n_microbatches);
}

void pp_predict_describe_table(char *buf, size_t n, const char *path, const pp_sched *s, int legacy) {
    snprintf(buf, n, "schedule %s: %d ranks, %d stages, %d microbatches (%s naming)", path, s->n_ranks,
             pp_sched_n_stages(s), pp_sched_n_microbatches(s), legacy ? "legacy" : "current");
}
