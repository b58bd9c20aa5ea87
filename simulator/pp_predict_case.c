/*
 * pp_predict_case.c -- building and predicting what `pippy sim` is asked
 * for: a plan, or a model with a schedule table (pp_predict_case.h).
 */
#include "simulator/pp_predict_case.h"

#include <string.h>

#include "simulator/pp_predict_print.h"

void pp_predict_case_init(pp_predict_case *c) {
    memset(c, 0, sizeof *c);
    pp_graph_init(&c->g, PP_DTYPE_F32);
    pp_predict_input_init(&c->in);
}

void pp_predict_case_free(pp_predict_case *c) {
    if (c->have_plan) pp_plan_free(&c->plan);
    pp_prediction_free(&c->pred);
    pp_sched_free(&c->sched);
    pp_cost_free(&c->cost);
    pp_graph_free(&c->g);
}

int pp_predict_case_plan(pp_predict_case *c, const char *path, pp_err *err) {
    if (pp_plan_open(path, &c->plan, &c->g, NULL, err)) return -1;
    c->have_plan = c->have_model = 1;
    c->cfg = c->plan.model;
    if (pp_sched_copy(&c->sched, &c->plan.schedule, err)) return -1;
    c->tokens = (double)c->plan.global_batch * c->plan.seq_len;
    pp_predict_describe_plan(c->what, sizeof c->what, path, &c->plan);
    return 0;
}

int pp_predict_case_model(pp_predict_case *c, const char *config_path, int micro_batch, int seq, pp_err *err) {
    if (pp_model_config_load(config_path, &c->cfg, err)) return -1;
    c->have_model = 1;
    c->seq = seq ? seq : c->cfg.seq_len;
    return pp_zoo_build(&c->cfg, micro_batch, c->seq, PP_DTYPE_F32, &c->g, err);
}

int pp_predict_case_csv(pp_predict_case *c, const char *path, pp_err *err) {
    pp_sched_naming found;
    if (pp_sched_load_csv(path, PP_NAMING_AUTO, &c->sched, &found, err)) return -1;
    pp_predict_describe_table(c->what, sizeof c->what, path, &c->sched, found == PP_NAMING_LEGACY);
    return 0;
}

int pp_predict_case_layout(pp_predict_case *c, const char *csv_path, int dp, int micro_batch, int seq, pp_err *err) {
    if (pp_sched_check(&c->sched, 0, 0, err)) {
        if (csv_path) pp_err_wrap(err, "%s", csv_path);
        return -1;
    }
    pp_predict_input_layout(&c->in, &c->sched, c->have_model ? &c->g : NULL, dp, micro_batch, seq);
    c->tokens = c->in.tokens_per_step;
    return 0;
}

int pp_predict_case_run(pp_predict_case *c, int want_trace, int want_timeline, pp_err *err) {
    c->in.want_trace = want_trace;
    c->in.want_critical_path = 1;
    c->in.want_timeline = want_timeline;
    if (c->have_plan) return pp_predict_plan(&c->plan, &c->g, &c->in, &c->pred, err);
    return pp_predict(&c->in, &c->pred, err);
}
