/*
 * pp_optim.c -- AdamW, clipping and the learning-rate schedule (pp_optim.h).
 */
#include "kernels/pp_optim.h"

#include <math.h>
#include <string.h>

pp_adamw_hyper pp_adamw_defaults(void) {
    pp_adamw_hyper h = {.lr = 3e-3, .min_lr = 3e-4, .warmup = 20, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8,
                        .weight_decay = 0.1, .clip = 1.0};
    return h;
}

int pp_optim_init(pp_optim *o, pp_backend *be, pp_engine *e, pp_err *err) {
    memset(o, 0, sizeof *o);
    pp_engine_params_flat(e, &o->n);
    size_t bytes = (size_t)(o->n ? o->n : 1) * sizeof(float);
    o->m = pp_backend_alloc(be, bytes, err);
    o->v = o->m ? pp_backend_alloc(be, bytes, err) : NULL;
    if (!o->v) {
        pp_backend_free(be, o->m, bytes);
        o->m = NULL;
        return -1;
    }
    return 0;
}

void pp_optim_free(pp_optim *o, pp_backend *be) {
    size_t bytes = (size_t)(o->n ? o->n : 1) * sizeof(float);
    pp_backend_free(be, o->m, bytes);
    pp_backend_free(be, o->v, bytes);
    memset(o, 0, sizeof *o);
}

double pp_optim_lr(const pp_adamw_hyper *h, int s, int total) {
    if (s < h->warmup) return h->lr * (double)(s + 1) / (double)h->warmup;
    if (total <= h->warmup + 1) return h->lr;
    double frac = (double)(s - h->warmup) / (double)(total - h->warmup - 1);
    if (frac > 1) frac = 1;
    return h->min_lr + 0.5 * (h->lr - h->min_lr) * (1 + cos(3.14159265358979323846 * frac));
}

double pp_optim_sumsq(pp_backend *be, pp_engine *e) {
    long long n;
    float *g = pp_engine_grads_flat(e, &n);
    return pp_backend_sumsq(be, g, (long)n);
}

float pp_optim_clip_scale(const pp_adamw_hyper *h, double norm) {
    if (h->clip <= 0 || norm <= h->clip || !(norm > 0)) return 1.0f;
    return (float)(h->clip / norm);
}

void pp_optim_step(pp_optim *o, pp_backend *be, pp_engine *e, const pp_graph *g, const pp_adamw_hyper *h, double lr,
                   float grad_scale) {
    o->step++;
    long long n;
    float *base = pp_engine_params_flat(e, &n);
    for (int i = 0; i < pp_engine_n_params(e); i++) {
        int t = pp_engine_param_tensor(e, i);
        float *p = pp_engine_param(e, t), *gr = pp_engine_grad(e, t);
        long long off = p - base, cnt = pp_tensor_numel(&g->tensors[t]);
        double wd = g->tensors[t].ndim >= 2 ? h->weight_decay : 0.0;
        pp_backend_adamw(be, p, gr, o->m + off, o->v + off, (long)cnt, (float)lr, (float)h->beta1, (float)h->beta2,
                         (float)h->eps, (float)wd, o->step, grad_scale);
    }
}
