/*
 * pp_pipeline.h -- the pipeline model: turns a graph, its cost profile and a
 * partition into the per-stage inputs of the simulator (pp_sim.h): stage
 * times of F, I and W, the bytes each stage sends to each later stage
 * (skip connections included), kept activations, parameters, tied groups
 * and the links between the ranks.
 */
#ifndef PP_PIPELINE_H
#define PP_PIPELINE_H

#include "core/pp_cost.h"
#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "simulator/pp_sim.h"

typedef struct pp_pipeline_model {
    int n_stages;
    double *t_f, *t_i, *t_w;       /* [n_stages] */
    double *xfer;                  /* [n_stages * n_stages] */
    double *act_f, *act_w;         /* [n_stages] kept F -> I, I -> W per microbatch */
    double *peak_f, *peak_i;       /* [n_stages] peak bytes inside F and I (pp_graph_range_pass_peaks) */
    double *optim_s;               /* [n_stages] optimizer step (parameters x optim_s_per_param) */
    double *param_bytes;           /* [n_stages] */
    int n_tied;
    int *tied_n, *tied_stages;
    double *tied_bytes;
} pp_pipeline_model;

/* Stage s holds ops [bounds[s], bounds[s + 1]). Returns 0 or -1 (err). */
int pp_pipeline_model_build(const pp_graph *g, const pp_cost_profile *c, int n_stages, const int *bounds,
                            pp_pipeline_model *out, pp_err *err);
void pp_pipeline_model_free(pp_pipeline_model *m);

/* Splits the graph's blocks into n_stages contiguous groups of (nearly)
 * equal block counts; bounds gets n_stages + 1 op indices. Fails when there
 * are fewer blocks than stages. */
int pp_pipeline_split_even(const pp_graph *g, int n_stages, int *bounds, pp_err *err);

/* Fills a simulator input from the model (the caller sets the schedule,
 * links, dp and what it wants back). */
void pp_pipeline_sim_input(const pp_pipeline_model *m, pp_sim_input *in);

#endif /* PP_PIPELINE_H */
