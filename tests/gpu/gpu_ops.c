/*
 * gpu_ops.c -- check (a) of issue 9: every op's F, I and W on the CUDA
 * backend against the CPU backend on the same inputs.
 *
 * For each preset given (default: gpt2-tiny bert-tiny llama-tiny t5-tiny,
 * which between them have every op kind and variant: embedding with 1-3
 * tables, layernorm with and without beta, rmsnorm, linear with and without
 * bias, RoPE, causal / bidirectional / cross attention, grouped-query heads,
 * the T5 relative position bias, gelu tanh and erf, relu, swiglu, add,
 * pooler, LM head), every op runs alone in a one-op engine on both
 * backends with the same random parameters, inputs and output gradients;
 * F's outputs (the loss for the LM head), I's input gradients and W's
 * parameter gradients are compared by relative error. Tolerance: 1e-2 for
 * the ops whose math goes through bf16 GEMMs (linear, attention, pooler,
 * LM head), 1e-4 for the fp32 ones. Then a whole F+I+W step of each preset
 * is compared the same way (loss and every parameter gradient; 5e-2, the
 * bf16 errors of many GEMMs compounded).
 *
 * Prints one line per op variant and a summary; exit 0 when all pass, 1
 * when one fails, 77 (SKIP) without a GPU. Usage: gpu_ops [PRESET...]
 */
#include "gpu_common.h"

#include "core/pp_err.h"

typedef struct side {
    float *out[PP_OP_MAX_IN + 4];
    long long n_out[PP_OP_MAX_IN + 4];
    int n_outs;
    float loss;
    float *din[PP_OP_MAX_IN];
    long long n_din[PP_OP_MAX_IN];
    int n_dins;
    float *dp[PP_OP_MAX_PARAM];
    long long n_dp[PP_OP_MAX_PARAM];
    int n_dps;
} side;

static void side_free(side *s) {
    for (int i = 0; i < s->n_outs; i++) free(s->out[i]);
    for (int i = 0; i < s->n_dins; i++) free(s->din[i]);
    for (int i = 0; i < s->n_dps; i++) free(s->dp[i]);
    memset(s, 0, sizeof *s);
}

static int uses_gemm(pp_op_kind k) {
    return k == PP_OP_LINEAR || k == PP_OP_ATTENTION || k == PP_OP_POOLER || k == PP_OP_LM_HEAD;
}

/* Runs op i alone on be with inputs from fixed seeds; fills s. */
static int run_one(const pp_graph *g, int i, pp_backend *be, side *s, pp_err *err) {
    memset(s, 0, sizeof *s);
    const pp_op *op = &g->ops[i];
    pp_engine *e;
    if (pp_engine_create(g, i, i + 1, be, &e, err)) return -1;
    int rc = -1;
    long long limit = op->n_param ? g->tensors[op->param[0]].shape[0] : 1;
    for (int k = 0; k < pp_engine_n_params(e); k++) {
        int t = pp_engine_param_tensor(e, k);
        if (gpu_fill(be, &g->tensors[t], pp_engine_param(e, t), 100 + (uint64_t)t, 0.5f, 0, 0)) goto done;
    }
    if (pp_engine_begin(e, 0, err)) goto done;
    for (int k = 0; k < pp_engine_n_inputs(e); k++) {
        int t = pp_engine_input_tensor(e, k);
        void *buf = pp_engine_buffer(e, 0, t, err);
        if (!buf) goto done;
        int labels = op->kind == PP_OP_LM_HEAD && g->tensors[t].dtype == PP_DTYPE_I32;
        if (gpu_fill(be, &g->tensors[t], buf, 1000 + (uint64_t)t, 1.0f, limit, labels)) goto done;
    }
    if (pp_engine_forward(e, 0, err)) goto done;
    s->loss = pp_engine_loss(e, 0);
    for (int k = 0; k < pp_engine_n_outputs(e); k++) {
        int t = pp_engine_output_tensor(e, k);
        long long n = pp_tensor_numel(&g->tensors[t]);
        s->out[s->n_outs] = gpu_download(be, pp_engine_output(e, 0, t), n);
        s->n_out[s->n_outs++] = n;
    }
    pp_engine_release_outputs(e, 0);
    for (int k = 0; k < pp_engine_n_outputs(e); k++) {
        int t = pp_engine_output_tensor(e, k);
        float *gb = pp_engine_output_grad(e, 0, t, err);
        if (!gb || gpu_fill(be, &g->tensors[t], gb, 5000 + (uint64_t)t, 1.0f, 0, 0)) goto done;
    }
    if (pp_engine_backward_input(e, 0, 1.0f, err)) goto done;
    for (int k = 0; k < pp_engine_n_inputs(e); k++) {
        int t = pp_engine_input_tensor(e, k);
        const float *gi = pp_engine_input_grad(e, 0, t);
        if (!gi || g->tensors[t].dtype == PP_DTYPE_I32) continue;
        long long n = pp_tensor_numel(&g->tensors[t]);
        s->din[s->n_dins] = gpu_download(be, gi, n);
        s->n_din[s->n_dins++] = n;
    }
    pp_engine_release_input_grads(e, 0);
    if (pp_engine_backward_weight(e, 0, err)) goto done;
    for (int k = 0; k < pp_engine_n_params(e) && k < PP_OP_MAX_PARAM; k++) {
        int t = pp_engine_param_tensor(e, k);
        long long n = pp_tensor_numel(&g->tensors[t]);
        s->dp[s->n_dps] = gpu_download(be, pp_engine_grad(e, t), n);
        s->n_dp[s->n_dps++] = n;
    }
    rc = 0;
done:
    pp_engine_free(e);
    return rc;
}

static double worst(float **a, float **b, long long *n, int k) {
    double w = 0;
    for (int i = 0; i < k; i++) {
        double r = gpu_rel_err(a[i], b[i], n[i]);
        if (!(r <= w)) w = r;
    }
    return w;
}

/* Whole model F+I+W on a backend: loss and the flat gradient (host copy). */
static int run_model(const pp_model_config *cfg, const pp_graph *g, pp_backend *be, float *loss, float **grads,
                     long long *n, pp_err *err) {
    pp_engine *e;
    if (pp_engine_create(g, 0, g->n_ops, be, &e, err)) return -1;
    int rc = -1;
    (void)cfg;
    for (int k = 0; k < pp_engine_n_params(e); k++) {
        int t = pp_engine_param_tensor(e, k);
        if (gpu_fill(be, &g->tensors[t], pp_engine_param(e, t), 100 + (uint64_t)t, 0.1f, 0, 0)) goto done;
    }
    if (pp_engine_begin(e, 0, err)) goto done;
    for (int k = 0; k < pp_engine_n_inputs(e); k++) {
        int t = pp_engine_input_tensor(e, k);
        void *buf = pp_engine_buffer(e, 0, t, err);
        int labels = !strcmp(g->tensors[t].name, "labels");
        if (!buf || gpu_fill(be, &g->tensors[t], buf, 1000 + (uint64_t)t, 1.0f, cfg->vocab_size, labels)) goto done;
    }
    if (pp_engine_forward(e, 0, err) || pp_engine_backward(e, 0, 1.0f, err)) goto done;
    *loss = pp_engine_loss(e, 0);
    float *gflat = pp_engine_grads_flat(e, n);
    *grads = gpu_download(be, gflat, *n);
    rc = 0;
done:
    pp_engine_free(e);
    return rc;
}

int main(int argc, char **argv) {
    static const char *defaults[] = {"gpt2-tiny", "bert-tiny", "llama-tiny", "t5-tiny"};
    pp_backend *gpu = gpu_open_or_skip("gpu_ops"), *cpu = NULL;
    pp_err err = {0};
    if (pp_backend_open(PP_BACKEND_CPU, 4, &cpu, &err)) {
        fprintf(stderr, "gpu_ops: %s\n", err.msg);
        return 1;
    }
    int n_presets = argc > 1 ? argc - 1 : 4, failures = 0, checked = 0;
    printf("%-11s %-38s %-5s %10s %10s %10s %8s  %s\n", "preset", "op (kind, variant)", "tol", "F", "I", "W", "ms(gpu)",
           "result");
    for (int pi = 0; pi < n_presets; pi++) {
        const char *name = argc > 1 ? argv[pi + 1] : defaults[pi];
        pp_model_config cfg;
        pp_graph g;
        if (gpu_load_preset(name, &cfg, &err) || pp_zoo_build(&cfg, 2, cfg.seq_len < 32 ? cfg.seq_len : 32,
                                                               PP_DTYPE_F32, &g, &err)) {
            fprintf(stderr, "gpu_ops: %s: %s\n", name, err.msg);
            return 1;
        }
        char seen[PP_OP__COUNT * 8][96];
        int n_seen = 0;
        for (int i = 0; i < g.n_ops; i++) {
            const pp_op *op = &g.ops[i];
            char variant[96];
            snprintf(variant, sizeof variant, "%s%s%s np%d m%d kv%s rel%d", pp_op_kind_name(op->kind),
                     op->kind == PP_OP_GELU ? (op->a.gelu_tanh ? " tanh" : " erf") : "", "", op->n_param, op->a.mask,
                     op->a.n_kv_head && op->a.n_kv_head < op->a.n_head ? "<h" : "=h", op->a.relpos_buckets);
            int dup = 0;
            for (int k = 0; k < n_seen && !dup; k++) dup = !strcmp(seen[k], variant);
            if (dup) continue;
            if (n_seen < (int)(sizeof seen / sizeof seen[0])) snprintf(seen[n_seen++], sizeof seen[0], "%s", variant);
            side a, b;
            double t0 = pp_backend_now();
            if (run_one(&g, i, gpu, &a, &err) || run_one(&g, i, cpu, &b, &err)) {
                printf("%-11s %-38s FAIL: %s\n", name, variant, err.msg);
                failures++;
                continue;
            }
            double ms = (pp_backend_now() - t0) * 1e3;
            double ef = op->kind == PP_OP_LM_HEAD ? fabs((double)a.loss - b.loss) / fmax(fabs((double)b.loss), 1e-30)
                                                  : worst(a.out, b.out, b.n_out, b.n_outs);
            double ei = worst(a.din, b.din, b.n_din, b.n_dins), ew = worst(a.dp, b.dp, b.n_dp, b.n_dps);
            double tol = uses_gemm(op->kind) ? 1e-2 : 1e-4;
            int ok = ef <= tol && ei <= tol && ew <= tol && a.n_outs == b.n_outs && a.n_dins == b.n_dins;
            failures += !ok;
            checked++;
            printf("%-11s %-38s %-5.0e %10.2e %10.2e %10.2e %8.2f  %s\n", name, variant, tol, ef, ei, ew, ms,
                   ok ? "ok" : "FAIL");
            side_free(&a);
            side_free(&b);
        }
        /* the whole model, one microbatch, F + I + W */
        float la = 0, lb = 0, *ga = NULL, *gb = NULL;
        long long na = 0, nb = 0;
        if (run_model(&cfg, &g, gpu, &la, &ga, &na, &err) || run_model(&cfg, &g, cpu, &lb, &gb, &nb, &err)) {
            printf("%-11s %-38s FAIL: %s\n", name, "whole model F+I+W", err.msg);
            failures++;
        } else {
            double el = fabs((double)la - lb) / fmax(fabs((double)lb), 1e-30), eg = gpu_rel_err(ga, gb, nb);
            int ok = el <= 5e-2 && eg <= 5e-2 && na == nb;
            failures += !ok;
            checked++;
            printf("%-11s %-38s %-5.0e %10.2e %10s %10.2e %8s  %s (loss gpu %.6f cpu %.6f)\n", name, "whole model F+I+W",
                   5e-2, el, "-", eg, "-", ok ? "ok" : "FAIL", la, lb);
        }
        free(ga);
        free(gb);
        pp_graph_free(&g);
    }
    printf("gpu_ops: %d checks, %d failed\n", checked, failures);
    pp_backend_close(cpu);
    pp_backend_close(gpu);
    return failures ? 1 : 0;
}
