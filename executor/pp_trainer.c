/*
 * pp_trainer.c -- single-process training (see pp_trainer.h).
 */
#include "executor/pp_trainer.h"

#include "core/pp_graph.h"
#include "executor/pp_data.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_engine.h"
#include "kernels/pp_init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int pp_train(const pp_model_config *cfg, const pp_train_opts *o, void (*on_step)(void *ctx, const pp_train_step *s),
             void *ctx, pp_train_summary *sum, pp_err *err) {
    memset(sum, 0, sizeof *sum);
    if (o->steps < 1 || o->batch < 1 || o->microbatches < 1 || o->seq < 1)
        return pp_err_set(err, PP_ERR_INVALID, "steps, batch, microbatches and seq must be at least 1");
    if (o->batch % o->microbatches)
        return pp_err_set(err, PP_ERR_INVALID, "batch %d is not a multiple of microbatches %d", o->batch,
                          o->microbatches);
    int mb = o->batch / o->microbatches, rc = -1;
    pp_data data = {0};
    pp_graph g;
    pp_backend *be = NULL;
    pp_engine *e = NULL;
    pp_optim opt = {0};
    pp_graph_init(&g, PP_DTYPE_F32);
    if (pp_data_load(o->data_path, &data, err) || pp_data_check(&data, cfg, o->seq, err)) goto done;
    snprintf(sum->data_source, sizeof sum->data_source, "%s", data.source);
    sum->data_tokens = data.n;
    sum->unigram_entropy = pp_data_unigram_entropy(&data);
    if (pp_zoo_build(cfg, mb, o->seq, PP_DTYPE_F32, &g, err)) goto done;
    if (pp_backend_open(o->backend, o->threads, &be, err) || pp_engine_create(&g, 0, g.n_ops, be, &e, err))
        goto done;
    for (int i = 0; i < pp_engine_n_params(e); i++) {
        int t = pp_engine_param_tensor(e, i);
        size_t bytes = (size_t)pp_tensor_bytes(&g.tensors[t]);
        float *h = pp_backend_is_host(be) ? pp_engine_param(e, t) : pp_malloc(bytes ? bytes : 1, err);
        if (!h) goto done;
        pp_init_param(cfg, &g.tensors[t], o->seed, h);
        if (h != pp_engine_param(e, t)) {
            pp_backend_upload(be, pp_engine_param(e, t), h, bytes);
            free(h);
        }
    }
    if (pp_optim_init(&opt, be, e, err)) goto done;
    sum->params = pp_graph_param_count(&g);
    sum->param_bytes = pp_graph_range_param_bytes(&g, 0, g.n_ops);
    sum->saved_bytes = pp_graph_range_keep_bytes(&g, 0, g.n_ops, 0);
    int tok = pp_graph_find_tensor(&g, "tokens"), lab = pp_graph_find_tensor(&g, "labels"),
        dec = pp_graph_find_tensor(&g, "decoder_tokens");
    size_t n_in = (size_t)mb * o->seq;
    /* The data is made on the host and uploaded (a copy on the CPU backend). */
    int32_t *host_in = pp_malloc(3 * n_in * sizeof(int32_t), err);
    if (!host_in) goto done;
    int32_t *h_tok = host_in, *h_dec = host_in + n_in, *h_lab = host_in + 2 * n_in;
    double tail = 0;
    int tail_n = 0;
    for (int s = 0; s < o->steps; s++) {
        double t0 = pp_backend_now(), loss = 0;
        pp_engine_zero_grads(e);
        for (int j = 0; j < o->microbatches; j++) {
            long long sample0 = (long long)s * o->batch + (long long)j * mb;
            if (pp_engine_begin(e, j, err)) goto fail_step;
            int32_t *tk = pp_engine_buffer(e, j, tok, err), *lb = tk ? pp_engine_buffer(e, j, lab, err) : NULL;
            int32_t *dt = dec >= 0 && lb ? pp_engine_buffer(e, j, dec, err) : NULL;
            if (!tk || !lb || (dec >= 0 && !dt)) goto fail_step;
            pp_data_fill(&data, cfg, o->seed, sample0, mb, o->seq, h_tok, h_dec, h_lab);
            pp_backend_upload(be, tk, h_tok, n_in * sizeof(int32_t));
            pp_backend_upload(be, lb, h_lab, n_in * sizeof(int32_t));
            if (dt) pp_backend_upload(be, dt, h_dec, n_in * sizeof(int32_t));
            if (pp_engine_forward(e, j, err)) goto fail_step;
            loss += pp_engine_loss(e, j) / o->microbatches;
            if (pp_engine_backward(e, j, 1.0f / (float)o->microbatches, err)) goto fail_step;
        }
        double norm = sqrt(pp_optim_sumsq(be, e));
        double lr = pp_optim_lr(&o->hyper, s, o->steps);
        pp_optim_step(&opt, be, e, &g, &o->hyper, lr, pp_optim_clip_scale(&o->hyper, norm));
        double dt_s = pp_backend_now() - t0;
        if (!isfinite(loss)) {
            pp_err_set(err, PP_ERR_INVALID, "step %d: the loss is %g; stopping (try a lower --lr)", s + 1, loss);
            goto fail_step;
        }
        if (s == 0) sum->first_loss = loss;
        if (s >= o->steps - 10) {
            tail += loss;
            tail_n++;
        }
        pp_train_step st = {.step = s + 1, .steps = o->steps, .loss = loss, .grad_norm = norm, .lr = lr,
                            .seconds = dt_s, .tokens_per_s = (double)o->batch * o->seq / dt_s};
        if (on_step) on_step(ctx, &st);
    }
    sum->final_loss = tail / (tail_n ? tail_n : 1);
    if (o->on_params) o->on_params(o->params_ctx, &g, e);
    sum->peak_bytes = be->peak_bytes;
    rc = 0;
fail_step:
    free(host_in);
done:
    if (opt.m) pp_optim_free(&opt, be);
    pp_engine_free(e);
    pp_backend_close(be);
    pp_graph_free(&g);
    pp_data_free(&data);
    return rc;
}
