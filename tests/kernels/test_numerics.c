/*
 * test_numerics.c -- the engine against PyTorch. For the tiny config of each
 * family, the loss and every parameter gradient of one F, I, W pass must
 * match the committed fixtures of scripts/gen_fixtures.py (PyTorch 1.13,
 * CPU, fp32, same weights, same batch) within a relative error of 1e-4 per
 * tensor; the init must reproduce PyTorch's copy of the weights bit for bit;
 * what the engine holds between passes must equal the graph's prediction;
 * and the model split into two stages must give the same gradients.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/pp_test.h"
#include "tests/kernels/fixture.h"

#include "core/pp_zoo.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_engine.h"
#include "kernels/pp_init.h"

static const char *families[] = {"gpt2-tiny", "llama-tiny", "bert-tiny", "t5-tiny"};

typedef struct setup {
    fixture fx;
    pp_model_config cfg;
    pp_graph g;
    pp_backend *be;
    int B, T;
} setup;

static void open_setup(setup *s, const char *preset) {
    char path[1024];
    pp_err err = {0};
    snprintf(path, sizeof path, "%s/tests/data/fixtures/%s.bin", PP_SOURCE_DIR, preset);
    ck_assert_msg(fx_load(path, &s->fx) == 0, "cannot read %s", path);
    snprintf(path, sizeof path, "%s/configs/models/%s.json", PP_SOURCE_DIR, preset);
    ck_assert_msg(pp_model_config_load(path, &s->cfg, &err) == 0, "%s", err.msg);
    s->B = *(int32_t *)fx_get(&s->fx, "meta.B")->data;
    s->T = *(int32_t *)fx_get(&s->fx, "meta.T")->data;
    ck_assert_int_eq(pp_zoo_build(&s->cfg, s->B, s->T, PP_DTYPE_F32, &s->g, &err), 0);
    ck_assert_int_eq(pp_backend_open(PP_BACKEND_CPU, 1, &s->be, &err), 0);
}

static void close_setup(setup *s) {
    pp_backend_close(s->be);
    pp_graph_free(&s->g);
    fx_free(&s->fx);
}

static void init_engine(setup *s, pp_engine *e) {
    for (int i = 0; i < pp_engine_n_params(e); i++) {
        int t = pp_engine_param_tensor(e, i);
        pp_init_param(&s->cfg, &s->g.tensors[t], 1234, pp_engine_param(e, t));
    }
}

/* Gives a stage its data inputs (tokens, labels, decoder tokens) for microbatch mb. */
static void feed(setup *s, pp_engine *e, int mb) {
    pp_err err = {0};
    for (int k = 0; k < pp_engine_n_inputs(e); k++) {
        int t = pp_engine_input_tensor(e, k);
        const pp_tensor *tt = &s->g.tensors[t];
        if (tt->kind == PP_TENSOR_ACTIVATION) continue;
        fx_entry *fe = fx_get(&s->fx, tt->name);
        ck_assert_msg(fe != NULL, "fixture lacks %s", tt->name);
        void *buf = pp_engine_buffer(e, mb, t, &err);
        ck_assert_msg(buf != NULL, "%s", err.msg);
        memcpy(buf, fe->data, (size_t)fe->numel * 4);
    }
}

static double rel_err(const float *g, const float *ref, long long n, double *ref_norm) {
    double d = 0, r = 0;
    for (long long i = 0; i < n; i++) {
        d += ((double)g[i] - ref[i]) * ((double)g[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    *ref_norm = sqrt(r);
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

START_TEST(test_matches_pytorch) {
    setup s;
    pp_err err = {0};
    open_setup(&s, families[_i]);
    pp_engine *e;
    ck_assert_int_eq(pp_engine_create(&s.g, 0, s.g.n_ops, s.be, &e, &err), 0);
    init_engine(&s, e);
    /* The init reproduces the reference's weights bit for bit. */
    int probes = 0;
    for (int i = 0; i < s.fx.n; i++) {
        if (strncmp(s.fx.e[i].name, "param.", 6)) continue;
        int t = pp_graph_find_tensor(&s.g, s.fx.e[i].name + 6);
        ck_assert_msg(t >= 0, "%s: no such parameter", s.fx.e[i].name);
        ck_assert_msg(memcmp(pp_engine_param(e, t), s.fx.e[i].data, (size_t)s.fx.e[i].numel * 4) == 0,
                      "%s: init differs from the reference", s.fx.e[i].name);
        probes++;
    }
    ck_assert_int_ge(probes, 3);

    /* The peaks inside the passes equal the graph's replay of the engine. */
    long long base = s.be->bytes_in_use, peaks[2];
    ck_assert_int_eq(pp_graph_range_pass_peaks(&s.g, 0, s.g.n_ops, peaks), 0);
    s.be->peak_bytes = base;
    ck_assert_int_eq(pp_engine_begin(e, 0, &err), 0);
    feed(&s, e, 0);
    ck_assert_msg(pp_engine_forward(e, 0, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.be->peak_bytes - base, peaks[0]);
    ck_assert_int_eq(pp_engine_held_bytes(e, 0), pp_graph_range_keep_bytes(&s.g, 0, s.g.n_ops, 0));
    s.be->peak_bytes = s.be->bytes_in_use;
    float loss = pp_engine_loss(e, 0), ref = *(float *)fx_get(&s.fx, "loss")->data;
    ck_assert_msg(fabs(loss - ref) <= 1e-5 * fabs(ref), "%s: loss %.7f, PyTorch %.7f", families[_i], loss, ref);
    ck_assert_msg(pp_engine_backward_input(e, 0, 1.0f, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.be->peak_bytes - base, peaks[1]);
    ck_assert_int_gt(peaks[1], pp_graph_range_keep_bytes(&s.g, 0, s.g.n_ops, 0));
    ck_assert_int_eq(pp_engine_held_bytes(e, 0), pp_graph_range_keep_bytes(&s.g, 0, s.g.n_ops, 1));
    ck_assert_msg(pp_engine_backward_weight(e, 0, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_engine_in_flight(e), 0);
    ck_assert_int_eq(s.be->bytes_in_use, base);

    int checked = 0;
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < pp_engine_n_params(e); i++) {
        int t = pp_engine_param_tensor(e, i);
        char name[300];
        snprintf(name, sizeof name, "grad.%s", s.g.tensors[t].name);
        fx_entry *fe = fx_get(&s.fx, name);
        ck_assert_msg(fe != NULL, "fixture lacks %s", name);
        ck_assert_int_eq(fe->numel, pp_tensor_numel(&s.g.tensors[t]));
        double rn, r = rel_err(pp_engine_grad(e, t), fe->data, fe->numel, &rn);
        if (rn == 0) ck_assert_msg(r <= 1e-7, "%s: %s should be zero, norm %g", families[_i], name, r);
        else ck_assert_msg(r <= 1e-4, "%s: %s relative error %.3g", families[_i], name, r);
        if (rn > 0 && r > worst) {
            worst = r;
            worst_name = s.g.tensors[t].name;
        }
        checked++;
    }
    fprintf(stderr, "%s: loss %.6f (PyTorch %.6f), %d gradients, worst relative error %.2e (%s)\n", families[_i],
            loss, ref, checked, worst, worst_name);
    pp_engine_free(e);
    close_setup(&s);
}
END_TEST

/* Two stages, cut in the middle block: the boundary tensors travel by hand,
 * and the gradients equal the single-stage ones exactly. */
START_TEST(test_two_stages_equal_one) {
    setup s;
    pp_err err = {0};
    open_setup(&s, families[_i]);
    pp_graph *g = &s.g;
    pp_engine *whole, *a, *b;
    int lo, hi;
    ck_assert_int_eq(pp_graph_block_range(g, g->n_blocks / 2, &lo, &hi), 0);
    ck_assert_int_eq(pp_engine_create(g, 0, g->n_ops, s.be, &whole, &err), 0);
    ck_assert_int_eq(pp_engine_create(g, 0, lo, s.be, &a, &err), 0);
    ck_assert_int_eq(pp_engine_create(g, lo, g->n_ops, s.be, &b, &err), 0);
    init_engine(&s, whole);
    init_engine(&s, a);
    init_engine(&s, b);
    ck_assert_int_eq(pp_engine_begin(whole, 7, &err), 0);
    feed(&s, whole, 7);
    ck_assert_int_eq(pp_engine_forward(whole, 7, &err), 0);
    float whole_loss = pp_engine_loss(whole, 7);
    ck_assert_int_eq(pp_engine_backward(whole, 7, 1.0f, &err), 0);

    long long pa[2], pb[2];
    ck_assert_int_eq(pp_graph_range_pass_peaks(g, 0, lo, pa), 0);
    ck_assert_int_eq(pp_graph_range_pass_peaks(g, lo, g->n_ops, pb), 0);
    ck_assert_int_eq(pp_engine_begin(a, 7, &err), 0);
    ck_assert_int_eq(pp_engine_begin(b, 7, &err), 0);
    long long base = s.be->bytes_in_use;
    s.be->peak_bytes = base;
    feed(&s, a, 7);
    ck_assert_int_eq(pp_engine_forward(a, 7, &err), 0);
    /* Stage a alone so far: its F peak, inputs to outputs. */
    ck_assert_int_eq(s.be->peak_bytes - base, pa[0]);
    pp_engine_free(a);
    ck_assert_int_eq(pp_engine_create(g, 0, lo, s.be, &a, &err), 0);
    init_engine(&s, a);
    ck_assert_int_eq(pp_engine_begin(a, 7, &err), 0);
    feed(&s, a, 7);
    feed(&s, b, 7);
    ck_assert_int_eq(pp_engine_forward(a, 7, &err), 0);
    ck_assert_int_gt(pp_engine_n_outputs(a), 0);
    for (int k = 0; k < pp_engine_n_outputs(a); k++) {
        int t = pp_engine_output_tensor(a, k);
        void *dst = pp_engine_buffer(b, 7, t, &err);
        ck_assert_msg(dst != NULL, "%s", err.msg);
        memcpy(dst, pp_engine_output(a, 7, t), (size_t)pp_tensor_bytes(&g->tensors[t]));
    }
    pp_engine_release_outputs(a, 7);
    ck_assert_int_eq(pp_engine_held_bytes(a, 7), pp_graph_range_keep_bytes(g, 0, lo, 0));
    ck_assert_msg(pp_engine_forward(b, 7, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pp_engine_held_bytes(b, 7), pp_graph_range_keep_bytes(g, lo, g->n_ops, 0));
    ck_assert_msg(pp_engine_loss(b, 7) == whole_loss, "split loss %.8f, whole %.8f", pp_engine_loss(b, 7), whole_loss);
    ck_assert_int_eq(pp_engine_backward_input(b, 7, 1.0f, &err), 0);
    ck_assert_int_eq(pp_engine_held_bytes(b, 7), pp_graph_range_keep_bytes(g, lo, g->n_ops, 1));
    for (int k = 0; k < pp_engine_n_outputs(a); k++) {
        int t = pp_engine_output_tensor(a, k);
        float *dst = pp_engine_output_grad(a, 7, t, &err);
        float *src = pp_engine_input_grad(b, 7, t);
        ck_assert_msg(dst && src, "boundary gradient of %s missing", g->tensors[t].name);
        memcpy(dst, src, (size_t)pp_tensor_bytes(&g->tensors[t]));
    }
    pp_engine_release_input_grads(b, 7);
    ck_assert_int_eq(pp_engine_backward_weight(b, 7, &err), 0);
    ck_assert_int_eq(pp_engine_backward_input(a, 7, 1.0f, &err), 0);
    ck_assert_int_eq(pp_engine_held_bytes(a, 7), pp_graph_range_keep_bytes(g, 0, lo, 1));
    ck_assert_int_eq(pp_engine_backward_weight(a, 7, &err), 0);

    /* Tied parameters are held by both stages: their gradients sum. */
    for (int i = 0; i < pp_engine_n_params(whole); i++) {
        int t = pp_engine_param_tensor(whole, i);
        long long n = pp_tensor_numel(&g->tensors[t]);
        float *ga = pp_engine_grad(a, t), *gb = pp_engine_grad(b, t), *gw = pp_engine_grad(whole, t);
        ck_assert(ga || gb);
        for (long long j = 0; j < n; j++) {
            float sum = (ga ? ga[j] : 0.0f) + (gb ? gb[j] : 0.0f);
            if (ga && gb) ck_assert_msg(fabsf(sum - gw[j]) <= 1e-6f * (1 + fabsf(gw[j])), "%s[%lld]", g->tensors[t].name, j);
            else ck_assert_msg(sum == gw[j], "%s[%lld]: %g vs %g", g->tensors[t].name, j, sum, gw[j]);
        }
    }
    pp_engine_free(whole);
    pp_engine_free(a);
    pp_engine_free(b);
    close_setup(&s);
}
END_TEST

/* Zero-bubble order: F0 F1 I0 I1 W1 W0 gives the gradients of F0 I0 W0 F1 I1 W1. */
START_TEST(test_deferred_w_equals_full_backward) {
    setup s;
    pp_err err = {0};
    open_setup(&s, families[_i]);
    pp_engine *x, *y;
    ck_assert_int_eq(pp_engine_create(&s.g, 0, s.g.n_ops, s.be, &x, &err), 0);
    ck_assert_int_eq(pp_engine_create(&s.g, 0, s.g.n_ops, s.be, &y, &err), 0);
    init_engine(&s, x);
    init_engine(&s, y);
    for (int mb = 0; mb < 2; mb++) {
        ck_assert_int_eq(pp_engine_begin(x, mb, &err), 0);
        feed(&s, x, mb);
        ck_assert_int_eq(pp_engine_forward(x, mb, &err), 0);
        ck_assert_int_eq(pp_engine_backward(x, mb, 0.5f, &err), 0);
    }
    for (int mb = 0; mb < 2; mb++) {
        ck_assert_int_eq(pp_engine_begin(y, mb, &err), 0);
        feed(&s, y, mb);
        ck_assert_int_eq(pp_engine_forward(y, mb, &err), 0);
    }
    ck_assert_int_eq(pp_engine_in_flight(y), 2);
    ck_assert_int_eq(pp_engine_backward_input(y, 0, 0.5f, &err), 0);
    ck_assert_int_eq(pp_engine_backward_input(y, 1, 0.5f, &err), 0);
    ck_assert_int_eq(pp_engine_backward_weight(y, 1, &err), 0);
    ck_assert_int_eq(pp_engine_backward_weight(y, 0, &err), 0);
    long long n;
    float *gx = pp_engine_grads_flat(x, &n), *gy = pp_engine_grads_flat(y, &n);
    for (long long j = 0; j < n; j++) ck_assert_msg(fabsf(gx[j] - gy[j]) <= 1e-6f * (1 + fabsf(gx[j])), "grad %lld", j);
    ck_assert_int_eq(pp_engine_forward(y, 0, &err), -1); /* not in flight any more */
    pp_engine_free(x);
    pp_engine_free(y);
    close_setup(&s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("numerics");
    TCase *tc = tcase_create("numerics");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_matches_pytorch, 0, 4);
    tcase_add_loop_test(tc, test_two_stages_equal_one, 0, 4);
    tcase_add_loop_test(tc, test_deferred_w_equals_full_backward, 0, 4);
    suite_add_tcase(s, tc);
    return pp_test_run(s);
}
