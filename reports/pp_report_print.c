/*
 * pp_report_print.c -- `pippy report`'s summary lines and --json document
 * (pp_report_print.h), from the input the page was drawn from.
 */
#include "reports/pp_report_print.h"

#include "core/pp_stats.h"

void pp_report_print_summary(FILE *f, const pp_report_input *in, const char *outdir, int chrome) {
    int have_run = in->meas.present;
    if (in->note && in->note[0]) fprintf(f, "note: %s\n", in->note);
    if (have_run)
        fprintf(f, "predicted %.4g s per step, measured %.4g s (run %lld, step %d): error %+.1f%% ((measured - "
                "predicted) / measured)\n",
                in->pred.iteration_s, in->meas.iteration_s, in->run_id, in->run_step,
                100 * pp_stats_rel_error(in->meas.iteration_s, in->pred.iteration_s));
    else
        fprintf(f, "predicted %.4g s per step (no measured run)\n", in->pred.iteration_s);
    if (chrome) fprintf(f, "traces: %s/predicted-trace.json%s\n", outdir, have_run ? " and measured-trace.json" : "");
    fprintf(f, "report: %s/index.html\n", outdir);
}

/* One side's figures (--json). */
static void json_side(pp_jw *w, const char *key, const pp_report_side *f, int n_ranks) {
    pp_jw_key(w, key);
    if (!f->present) {
        pp_jw_null(w);
        return;
    }
    pp_jw_obj_begin(w);
    pp_jw_knum(w, "iteration_s", f->iteration_s);
    pp_jw_knum(w, "tokens_per_s", f->tokens_per_s);
    pp_jw_key(w, "busy_s");
    pp_jw_arr_begin_inline(w);
    for (int r = 0; r < n_ranks; r++) pp_jw_num(w, f->busy_s ? f->busy_s[r] : 0);
    pp_jw_arr_end(w);
    pp_jw_key(w, "peak_memory_bytes");
    pp_jw_arr_begin_inline(w);
    for (int r = 0; r < n_ranks; r++) pp_jw_num(w, f->peak_bytes ? f->peak_bytes[r] : 0);
    pp_jw_arr_end(w);
    pp_jw_obj_end(w);
}

void pp_report_write_json(pp_jw *w, const pp_report_input *in, const char *plan_path, const char *outdir, int chrome) {
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "plan", plan_path);
    pp_jw_kstr(w, "plan_hash", in->plan_hash);
    pp_jw_kstr(w, "costs", in->cost_src);
    pp_jw_kstr(w, "links", in->link_src);
    pp_jw_key(w, "run");
    if (in->meas.present) pp_jw_int(w, in->run_id);
    else pp_jw_null(w);
    pp_jw_key(w, "step");
    if (in->meas.present) pp_jw_int(w, in->run_step);
    else pp_jw_null(w);
    json_side(w, "predicted", &in->pred, in->n_ranks);
    json_side(w, "measured", &in->meas, in->n_ranks);
    pp_jw_key(w, "relative_error");
    if (in->meas.present) pp_jw_num(w, pp_stats_rel_error(in->meas.iteration_s, in->pred.iteration_s));
    else pp_jw_null(w);
    pp_jw_kstr(w, "note", in->note ? in->note : "");
    pp_jw_key(w, "report");
    char path[4096];
    snprintf(path, sizeof path, "%s/index.html", outdir);
    pp_jw_str(w, path);
    pp_jw_kbool(w, "chrome_traces", chrome);
    pp_jw_obj_end(w);
}
