/*
 * bench_step.c -- time of one training step (F + I + W of one microbatch)
 * of a model on the CPU backend, the GFLOP/s of each GEMM shape the model
 * runs against the single-core sgemm peak, and the peak RSS of a full
 * training step (with AdamW) against what the graph predicts.
 *
 *   bench_step --model gpt2-124m --micro-batch 4 --seq 64 --threads 1 --reps 5
 *
 * Prints one "result" line per figure (key=value) for bench/run.sh, which
 * runs the PyTorch peer in the same run and prints the ratios.
 */
#define _DEFAULT_SOURCE
#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_zoo.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_engine.h"
#include "kernels/pp_init.h"
#include "kernels/pp_optim.h"

char *openblas_get_corename(void);
char *openblas_get_config(void);

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static long long rss_peak_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) v = atoll(line + 6);
    if (f) fclose(f);
    return v;
}

/* GFLOP/s of C[M,N] = A[M,K] B^T, median of reps. */
static double gemm_gflops(int M, int K, int N, int reps) {
    float *a = malloc((size_t)M * K * 4), *b = malloc((size_t)N * K * 4), *c = malloc((size_t)M * N * 4);
    for (long i = 0; i < (long)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (long i = 0; i < (long)N * K; i++) b[i] = (float)(i % 5) * 0.1f;
    double t[64];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
    for (int r = 0; r < reps; r++) {
        double t0 = pp_backend_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
        t[r] = pp_backend_now() - t0;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * M * K * (double)N / median(t, reps) / 1e9;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"micro-batch", required_argument, 0, 'b'},
        {"seq", required_argument, 0, 's'},   {"threads", required_argument, 0, 't'},
        {"reps", required_argument, 0, 'r'},  {"gemm", no_argument, 0, 'g'},
        {"memory", no_argument, 0, 'M'},      {0, 0, 0, 0},
    };
    const char *model = "gpt2-124m";
    int mb = 4, seq = 64, threads = 1, reps = 5, do_gemm = 0, do_mem = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'b': mb = atoi(optarg); break;
        case 's': seq = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'g': do_gemm = 1; break;
        case 'M': do_mem = 1; break;
        default: fprintf(stderr, "usage: bench_step [--model P] [--micro-batch N] [--seq N] [--threads N] [--reps N] [--gemm] [--memory]\n"); return 2;
        }
    }
    if (reps < 1 || reps > 64) reps = 5;
    pp_err err = {0};
    char path[1024];
    pp_model_config cfg;
    pp_graph g;
    snprintf(path, sizeof path, "%s/configs/models/%s.json", PP_SOURCE_DIR, model);
    if (pp_model_config_load(path, &cfg, &err) || pp_zoo_build(&cfg, mb, seq, PP_DTYPE_F32, &g, &err)) {
        fprintf(stderr, "bench_step: %s\n", err.msg);
        return 1;
    }
    pp_backend *be;
    pp_engine *e;
    if (pp_backend_open(PP_BACKEND_CPU, threads, &be, &err) || pp_engine_create(&g, 0, g.n_ops, be, &e, &err)) {
        fprintf(stderr, "bench_step: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < pp_engine_n_params(e); i++) {
        int t = pp_engine_param_tensor(e, i);
        pp_init_param(&cfg, &g.tensors[t], 1234, pp_engine_param(e, t));
    }
    int tok = pp_graph_find_tensor(&g, "tokens"), lab = pp_graph_find_tensor(&g, "labels"),
        dec = pp_graph_find_tensor(&g, "decoder_tokens");
    printf("result kernel=%s threads=%d model=%s micro_batch=%d seq=%d\n", openblas_get_corename(), threads, model, mb, seq);
    printf("info openblas_config=\"%s\"\n", openblas_get_config());
    double tf[64], ti[64], tw[64], tt[64];
    pp_optim opt = {0};
    pp_adamw_hyper h = pp_adamw_defaults();
    if (do_mem && pp_optim_init(&opt, be, e, &err)) {
        fprintf(stderr, "bench_step: %s\n", err.msg);
        return 1;
    }
    for (int r = -1; r < reps; r++) {
        pp_engine_zero_grads(e);
        if (pp_engine_begin(e, 0, &err)) break;
        int32_t *tk = pp_engine_buffer(e, 0, tok, &err), *lb = pp_engine_buffer(e, 0, lab, &err);
        int32_t *dt = dec >= 0 ? pp_engine_buffer(e, 0, dec, &err) : NULL;
        for (int i = 0; i < mb * seq; i++) {
            tk[i] = (int32_t)((i * 7919 + r + 1) % cfg.vocab_size);
            lb[i] = (int32_t)((i * 104729 + 3) % cfg.vocab_size);
            if (dt) dt[i] = tk[i];
        }
        double t0 = pp_backend_now();
        if (pp_engine_forward(e, 0, &err)) break;
        double t1 = pp_backend_now();
        if (pp_engine_backward_input(e, 0, 1.0f, &err)) break;
        double t2 = pp_backend_now();
        if (pp_engine_backward_weight(e, 0, &err)) break;
        double t3 = pp_backend_now();
        if (do_mem) pp_optim_step(&opt, be, e, &g, &h, 1e-4, 1.0f);
        if (r >= 0) {
            tf[r] = t1 - t0;
            ti[r] = t2 - t1;
            tw[r] = t3 - t2;
            tt[r] = t3 - t0;
        }
    }
    if (err.msg[0]) {
        fprintf(stderr, "bench_step: %s\n", err.msg);
        return 1;
    }
    double flops = 0;
    for (int p = 0; p < PP_PASS__COUNT; p++) flops += pp_graph_range_flops(&g, 0, g.n_ops, (pp_pass)p);
    double mt = median(tt, reps);
    printf("result step_ms=%.3f f_ms=%.3f i_ms=%.3f w_ms=%.3f gflops=%.2f reps=%d\n", mt * 1e3, median(tf, reps) * 1e3,
           median(ti, reps) * 1e3, median(tw, reps) * 1e3, flops / mt / 1e9, reps);
    if (do_mem) {
        long long P = pp_graph_range_param_bytes(&g, 0, g.n_ops);
        long long A = pp_graph_range_keep_bytes(&g, 0, g.n_ops, 0);
        long long pred = 4 * P + A; /* params, grads, AdamW m and v, kept activations */
        long long rss = rss_peak_kib() * 1024;
        printf("result predicted_bytes=%lld rss_peak_bytes=%lld rss_over_predicted=%.4f backend_peak_bytes=%lld\n", pred,
               rss, (double)rss / (double)pred, be->peak_bytes);
    }
    if (do_gemm) {
        double peak = gemm_gflops(2048, 2048, 2048, 3);
        printf("result gemm_peak_2048=%.2f\n", peak);
        /* Distinct GEMM shapes of the model's linear ops and LM head (forward form). */
        int seen[256][3], n_seen = 0;
        for (int i = 0; i < g.n_ops; i++) {
            const pp_op *op = &g.ops[i];
            if (op->kind != PP_OP_LINEAR && op->kind != PP_OP_LM_HEAD) continue;
            const pp_tensor *x = &g.tensors[op->in[0]], *w = &g.tensors[op->param[0]];
            int K = (int)x->shape[x->ndim - 1], M = (int)(pp_tensor_numel(x) / K), N = (int)w->shape[0], dup = 0;
            for (int k = 0; k < n_seen; k++) dup |= seen[k][0] == M && seen[k][1] == K && seen[k][2] == N;
            if (dup || n_seen == 256) continue;
            seen[n_seen][0] = M;
            seen[n_seen][1] = K;
            seen[n_seen][2] = N;
            n_seen++;
            double gf = gemm_gflops(M, K, N, 5);
            printf("result gemm M=%d K=%d N=%d op=%s gflops=%.2f of_peak=%.3f\n", M, K, N, op->name, gf, gf / peak);
        }
    }
    if (do_mem) pp_optim_free(&opt, be);
    pp_engine_free(e);
    pp_backend_close(be);
    pp_graph_free(&g);
    return 0;
}
