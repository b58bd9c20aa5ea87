/*
 * pp_predict_case.h -- what `pippy sim` predicts, built and owned in one
 * place: a plan (--plan), or a model and a schedule table (a what-if's
 * generated table or a CSV file), with the line that names it, the step's
 * tokens, the measured op costs when found, and the prediction. The tool
 * resolves names (model presets), generates what-if tables (planner),
 * finds measured costs (costs module) and prints; the rest is here.
 *
 *     pp_predict_case x;
 *     pp_predict_case_init(&x);
 *     pp_predict_case_plan(&x, "plan.json", &err);            // or:
 *     pp_predict_case_model(&x, config_path, mb, seq, &err);  // optional
 *     pp_predict_case_csv(&x, "zb.csv", &err);                // or fill x.sched, x.what
 *     pp_predict_case_layout(&x, "zb.csv", dp, mb, x.seq, &err);
 *     ... x.in.cost, x.in.comm, pp_predict_input_whatif(&x.in, ...) ...
 *     pp_predict_case_run(&x, want_trace, want_timeline, &err);
 *     pp_predict_case_free(&x);                               // always
 */
#ifndef PP_PREDICT_CASE_H
#define PP_PREDICT_CASE_H

#include "core/pp_cost.h"
#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "core/pp_plan.h"
#include "core/pp_sched.h"
#include "core/pp_zoo.h"
#include "simulator/pp_predict.h"

typedef struct pp_predict_case {
    pp_model_config cfg;  /* the model (a plan's, or loaded) */
    int have_model;
    int seq;              /* the sequence length of g (what-if and CSV modes) */
    pp_graph g;           /* one microbatch of the model */
    pp_cost_profile cost; /* measured op costs for g, when the caller finds them */
    pp_sched sched;       /* the table predicted (a plan's own, copied) */
    pp_plan plan;
    int have_plan;
    pp_predict_input in;  /* layout set here; costs, links and what-if figures by the caller */
    pp_prediction pred;
    char what[512];       /* the line naming what was predicted */
    double tokens;        /* tokens per step (0: unknown, no throughput) */
} pp_predict_case;

/* An empty case (nothing to free yet, but pp_predict_case_free is safe). */
void pp_predict_case_init(pp_predict_case *c);

/* Frees everything the case holds; safe after any failure (once). */
void pp_predict_case_free(pp_predict_case *c);

/* A plan: loads it (pp_plan_open, no hash), copies its table into c->sched
 * and names it (pp_predict_describe_plan); tokens = global batch x
 * sequence. Returns 0, or -1 with err. */
int pp_predict_case_plan(pp_predict_case *c, const char *path, pp_err *err);

/* The model of a what-if or CSV mode: loads the config at config_path and
 * builds its f32 graph for micro_batch sequences of seq tokens (seq 0: the
 * config's; c->seq says which). Returns 0, or -1 with err. */
int pp_predict_case_model(pp_predict_case *c, const char *config_path, int micro_batch, int seq, pp_err *err);

/* A schedule table from a CSV file (either naming) into c->sched, named by
 * pp_predict_describe_table. Returns 0, or -1 with err. */
int pp_predict_case_csv(pp_predict_case *c, const char *path, pp_err *err);

/* Checks c->sched (pp_sched_check; err prefixed with csv_path when that is
 * not NULL) and lays it out (pp_predict_input_layout over the graph when
 * there is a model, else unit costs); tokens from the layout. Returns 0,
 * or -1 with err. */
int pp_predict_case_layout(pp_predict_case *c, const char *csv_path, int dp, int micro_batch, int seq, pp_err *err);

/* Predicts the case (pp_predict_plan for a plan, else pp_predict) into
 * c->pred, with the critical path, the trace when want_trace and each
 * rank's memory over time when want_timeline. Returns 0, or -1 with err. */
int pp_predict_case_run(pp_predict_case *c, int want_trace, int want_timeline, pp_err *err);

#endif /* PP_PREDICT_CASE_H */
