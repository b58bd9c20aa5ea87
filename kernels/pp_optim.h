/*
 * pp_optim.h -- AdamW with global-norm gradient clipping over a stage's
 * parameters. The norm is global: a pipelined run sums pp_optim_sumsq over
 * all stages (through comm/) before calling pp_optim_step with the scale.
 * Weight decay applies to matrices (2-D parameters), not to norms or biases.
 */
#ifndef PP_OPTIM_H
#define PP_OPTIM_H

#include "core/pp_err.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_engine.h"

typedef struct pp_adamw_hyper {
    double lr;            /* peak learning rate */
    double min_lr;        /* after cosine decay */
    int warmup;           /* linear warm-up steps */
    double beta1, beta2, eps;
    double weight_decay;
    double clip;          /* max global gradient norm; 0 = no clipping */
} pp_adamw_hyper;

/* Defaults: lr 3e-3 -> 3e-4 cosine, warmup 20, betas (0.9, 0.95), eps 1e-8,
 * weight decay 0.1, clip 1.0. */
pp_adamw_hyper pp_adamw_defaults(void);

typedef struct pp_optim {
    float *m, *v;       /* first and second moments, flat like the engine's parameters */
    long long n;
    int step;           /* steps taken */
} pp_optim;

int pp_optim_init(pp_optim *o, pp_backend *be, pp_engine *e, pp_err *err);
void pp_optim_free(pp_optim *o, pp_backend *be);

/* Learning rate of step s (0-based) out of total. */
double pp_optim_lr(const pp_adamw_hyper *h, int s, int total);
/* Sum of squares of the stage's gradients. */
double pp_optim_sumsq(pp_backend *be, pp_engine *e);
/* The scale that clips a gradient of global norm `norm` to h->clip. */
float pp_optim_clip_scale(const pp_adamw_hyper *h, double norm);
/* One AdamW step of every parameter of the stage with learning rate lr. */
void pp_optim_step(pp_optim *o, pp_backend *be, pp_engine *e, const pp_graph *g, const pp_adamw_hyper *h, double lr,
                   float grad_scale);

#endif /* PP_OPTIM_H */
