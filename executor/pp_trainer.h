/*
 * pp_trainer.h -- training on one process, without a plan: the whole model
 * is one stage, the global batch is accumulated over microbatches, then
 * gradients are clipped and AdamW steps. A pipelined run of the same model,
 * data and seed must reproduce these losses (the executor's contract).
 */
#ifndef PP_TRAINER_H
#define PP_TRAINER_H

#include <stdint.h>

#include "core/pp_err.h"
#include "core/pp_zoo.h"
#include "core/pp_graph.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_engine.h"
#include "kernels/pp_optim.h"

typedef struct pp_train_opts {
    int steps;
    int batch;          /* sequences per step (global batch) */
    int microbatches;   /* the batch is split into this many */
    int seq;
    int threads;
    pp_backend_kind backend; /* PP_BACKEND_CPU (0, the default) or PP_BACKEND_CUDA */
    uint64_t seed;      /* parameters and data order */
    const char *data_path; /* NULL: the default corpus */
    pp_adamw_hyper hyper;
    /* Called (when not NULL) after the last step with the trained graph
     * and engine, e.g. to read the final parameters. */
    void (*on_params)(void *ctx, const pp_graph *g, pp_engine *e);
    void *params_ctx;
} pp_train_opts;

typedef struct pp_train_step {
    int step, steps;     /* 1-based */
    double loss;         /* mean of the microbatch losses */
    double grad_norm;    /* before clipping */
    double lr;
    double seconds;      /* wall time of the step */
    double tokens_per_s;
} pp_train_step;

typedef struct pp_train_summary {
    char data_source[512];
    long long data_tokens;
    double unigram_entropy;  /* nats per token */
    long long params;
    double first_loss, final_loss; /* final: mean of the last min(10, steps) steps */
    long long peak_bytes;    /* backend memory peak */
    long long param_bytes, saved_bytes; /* what the graph predicts per microbatch */
} pp_train_summary;

/* Trains cfg for o->steps steps, calling on_step (may be NULL) after each.
 * Returns 0, or -1 with err set (bad options, data, memory). */
int pp_train(const pp_model_config *cfg, const pp_train_opts *o, void (*on_step)(void *ctx, const pp_train_step *s),
             void *ctx, pp_train_summary *sum, pp_err *err);

#endif /* PP_TRAINER_H */
