/*
 * gpu_pipeline.c -- check (c) of issue 9: a multi-stage pipeline on ONE
 * GPU. The model is cut into P stages of about equal op counts, each an
 * engine on the same CUDA backend; a schedule table of pippy's generator
 * (1F1B, or ZBH1 with separate I and W) is run in this one process: the
 * rows are visited round robin and each row's next action runs as soon as
 * what it needs is done (the producer's F, the consumers' I), which is the
 * schedule's own order per row. Stage-to-stage tensors move as device
 * copies (pp_backend_copy), gradients of outputs read by several stages are
 * summed on the device (pp_backend_add). Every action is timed with CUDA
 * events and the run is written as a Chrome trace (one row per stage).
 *
 * Checked: the mean loss and every parameter gradient against the whole
 * model run as one engine over the same microbatches on the same GPU
 * (relative error <= 1e-4: same kernels, only the order of atomic sums
 * differs), and that the table ran without a dependency stall.
 *
 * Usage: gpu_pipeline [--model M] [--stages P] [--microbatches N]
 *                     [--micro-batch B] [--seq T] [--schedule 1f1b|zbh1] [--out DIR]
 * Exit 0 / 1 / 77 (SKIP without a GPU).
 */
#include "gpu_common.h"

#include "core/pp_trace.h"
#include "planner/pp_schedgen.h"

#define MAXS 16

typedef struct run {
    const pp_graph *g;
    const pp_model_config *cfg;
    pp_backend *be;
    int P, m;
    pp_engine *e[MAXS];
    int lo[MAXS], hi[MAXS];
    int *prod_stage;        /* [n_tensors]: stage producing it, -1 for data */
    void **fmsg;            /* [m * n_tensors]: forward tensor waiting for its consumers */
    int *fref;              /* [m * n_tensors]: consumers still to read it */
    float **bmsg;           /* [m * n_tensors]: summed gradient of a stage output */
    unsigned char *fdone, *idone, *wdone; /* [P * m] */
    int cons[MAXS][MAXS];   /* cons[s][c]: stage c reads an output of s */
    double loss;
} run;

static int feed(run *r, int s, int mb, pp_err *err) {
    const pp_graph *g = r->g;
    pp_engine *e = r->e[s];
    if (pp_engine_begin(e, mb, err)) return -1;
    for (int k = 0; k < pp_engine_n_inputs(e); k++) {
        int t = pp_engine_input_tensor(e, k);
        void *dst = pp_engine_buffer(e, mb, t, err);
        if (!dst) return -1;
        size_t bytes = (size_t)pp_tensor_bytes(&g->tensors[t]);
        if (r->prod_stage[t] < 0) {
            if (gpu_fill(r->be, &g->tensors[t], dst, 1000 + (uint64_t)mb * 97 + (uint64_t)t, 1.0f, r->cfg->vocab_size,
                         !strcmp(g->tensors[t].name, "labels")))
                return pp_err_set(err, PP_ERR_NOMEM, "no memory for the data");
            continue;
        }
        long idx = (long)mb * g->n_tensors + t;
        pp_backend_copy(r->be, dst, r->fmsg[idx], bytes);
        if (--r->fref[idx] == 0) {
            pp_backend_free(r->be, r->fmsg[idx], bytes);
            r->fmsg[idx] = NULL;
        }
    }
    return 0;
}

static int do_f(run *r, int s, int mb, pp_err *err) {
    const pp_graph *g = r->g;
    if (feed(r, s, mb, err) || pp_engine_forward(r->e[s], mb, err)) return -1;
    r->loss += pp_engine_loss(r->e[s], mb);
    for (int k = 0; k < pp_engine_n_outputs(r->e[s]); k++) {
        int t = pp_engine_output_tensor(r->e[s], k);
        long idx = (long)mb * g->n_tensors + t;
        size_t bytes = (size_t)pp_tensor_bytes(&g->tensors[t]);
        int n = 0;
        for (int c = s + 1; c < r->P; c++)
            for (int kk = 0; kk < pp_engine_n_inputs(r->e[c]); kk++) n += pp_engine_input_tensor(r->e[c], kk) == t;
        if (!(r->fmsg[idx] = pp_backend_alloc_uninit(r->be, bytes, err))) return -1;
        pp_backend_copy(r->be, r->fmsg[idx], pp_engine_output(r->e[s], mb, t), bytes);
        r->fref[idx] = n;
    }
    pp_engine_release_outputs(r->e[s], mb);
    return 0;
}

static int do_i(run *r, int s, int mb, pp_err *err) {
    const pp_graph *g = r->g;
    pp_engine *e = r->e[s];
    for (int k = 0; k < pp_engine_n_outputs(e); k++) {
        int t = pp_engine_output_tensor(e, k);
        long idx = (long)mb * g->n_tensors + t;
        if (!r->bmsg[idx]) return pp_err_set(err, PP_ERR_INVALID, "stage %d mb %d: no gradient for '%s'", s, mb,
                                             g->tensors[t].name);
        if (pp_engine_add_output_grad(e, mb, t, r->bmsg[idx], err)) return -1;
        pp_backend_free(r->be, r->bmsg[idx], (size_t)pp_tensor_bytes(&g->tensors[t]));
        r->bmsg[idx] = NULL;
    }
    if (pp_engine_backward_input(e, mb, 1.0f / (float)r->m, err)) return -1;
    for (int k = 0; k < pp_engine_n_inputs(e); k++) {
        int t = pp_engine_input_tensor(e, k);
        if (r->prod_stage[t] < 0) continue;
        const float *gi = pp_engine_input_grad(e, mb, t);
        if (!gi) continue;
        long idx = (long)mb * g->n_tensors + t;
        if (!r->bmsg[idx] && !(r->bmsg[idx] = pp_backend_alloc(r->be, (size_t)pp_tensor_bytes(&g->tensors[t]), err)))
            return -1;
        pp_backend_add(r->be, r->bmsg[idx], gi, pp_tensor_numel(&g->tensors[t]));
    }
    pp_engine_release_input_grads(e, mb);
    return 0;
}

/* 1 when action (type, s, mb) may run now. */
static int ready(const run *r, int type, int s, int mb) {
    int P = r->P, m = r->m;
    if (type == PP_ACT_F) {
        for (int p = 0; p < s; p++)
            if (r->cons[p][s] && !r->fdone[p * m + mb]) return 0;
        return 1;
    }
    if (type == PP_ACT_I || type == PP_ACT_B) {
        if (!r->fdone[s * m + mb]) return 0;
        for (int c = s + 1; c < P; c++)
            if (r->cons[s][c] && !r->idone[c * m + mb]) return 0;
        return 1;
    }
    if (type == PP_ACT_W) return r->idone[s * m + mb];
    return 1;
}

int main(int argc, char **argv) {
    const char *model = "gpt2-tiny", *outdir = NULL, *sched = "1f1b";
    int P = 4, m = 8, B = 2, T = 64;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--stages") && i + 1 < argc) P = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--microbatches") && i + 1 < argc) m = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--micro-batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seq") && i + 1 < argc) T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--schedule") && i + 1 < argc) sched = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) outdir = argv[++i];
        else {
            fprintf(stderr, "usage: gpu_pipeline [--model M] [--stages P] [--microbatches N] [--micro-batch B] "
                            "[--seq T] [--schedule 1f1b|zbh1] [--out DIR]\n");
            return 2;
        }
    }
    if (P < 2 || P > MAXS || m < 1) {
        fprintf(stderr, "gpu_pipeline: --stages in [2, %d], --microbatches >= 1\n", MAXS);
        return 2;
    }
    pp_backend *be = gpu_open_or_skip("gpu_pipeline");
    pp_err err = {0};
    pp_model_config cfg;
    pp_graph g;
    pp_schedule_kind kind;
    pp_sched table;
    if (gpu_load_preset(model, &cfg, &err) || pp_zoo_build(&cfg, B, T, PP_DTYPE_F32, &g, &err) ||
        pp_schedule_parse(sched, &kind, &err) || pp_schedule_generate(kind, P, m, 1, &table, &err)) {
        fprintf(stderr, "gpu_pipeline: %s\n", err.msg);
        return 1;
    }
    run r = {.g = &g, .cfg = &cfg, .be = be, .P = P, .m = m};
    long nt = g.n_tensors;
    r.prod_stage = calloc((size_t)nt, sizeof(int));
    r.fmsg = calloc((size_t)(m * nt), sizeof(void *));
    r.fref = calloc((size_t)(m * nt), sizeof(int));
    r.bmsg = calloc((size_t)(m * nt), sizeof(float *));
    r.fdone = calloc((size_t)(P * m), 1);
    r.idone = calloc((size_t)(P * m), 1);
    r.wdone = calloc((size_t)(P * m), 1);
    for (int s = 0; s < P; s++) {
        r.lo[s] = (int)((long)g.n_ops * s / P);
        r.hi[s] = (int)((long)g.n_ops * (s + 1) / P);
        if (pp_engine_create(&g, r.lo[s], r.hi[s], be, &r.e[s], &err)) {
            fprintf(stderr, "gpu_pipeline: stage %d: %s\n", s, err.msg);
            return 1;
        }
        for (int k = 0; k < pp_engine_n_params(r.e[s]); k++) {
            int t = pp_engine_param_tensor(r.e[s], k);
            gpu_fill(be, &g.tensors[t], pp_engine_param(r.e[s], t), 7 + (uint64_t)t, 0.1f, 0, 0);
        }
    }
    for (long t = 0; t < nt; t++) {
        int p = g.tensors[t].producer;
        r.prod_stage[t] = -1;
        for (int s = 0; s < P && p >= 0; s++)
            if (p >= r.lo[s] && p < r.hi[s]) r.prod_stage[t] = s;
    }
    for (int c = 0; c < P; c++)
        for (int k = 0; k < pp_engine_n_inputs(r.e[c]); k++) {
            int t = pp_engine_input_tensor(r.e[c], k);
            if (r.prod_stage[t] >= 0) r.cons[r.prod_stage[t]][c] = 1;
        }
    /* run the table */
    pp_trace tr;
    pp_trace_init(&tr);
    int *pos = calloc((size_t)P, sizeof(int)), left = 0, fail = 0;
    for (int q = 0; q < P; q++) left += table.ranks[q].n;
    pp_event t0ev, a0, a1;
    pp_backend_event_record(be, &t0ev, 0);
    double busy = 0;
    while (left > 0) {
        int progress = 0;
        for (int q = 0; q < P; q++) {
            while (pos[q] < table.ranks[q].n) {
                const pp_action *a = &table.ranks[q].acts[pos[q]];
                int type = a->type, s = a->stage, mb = a->mb;
                if (type != PP_ACT_F && type != PP_ACT_I && type != PP_ACT_W && type != PP_ACT_B) {
                    pos[q]++, left--, progress = 1; /* comms and idle cells: nothing to do on one GPU */
                    continue;
                }
                if (!ready(&r, type, s, mb)) break;
                pp_backend_event_record(be, &a0, 0);
                int rc = 0;
                if (type == PP_ACT_F) rc = do_f(&r, s, mb, &err);
                else if (type == PP_ACT_I || type == PP_ACT_B) rc = do_i(&r, s, mb, &err);
                if (!rc && (type == PP_ACT_W || type == PP_ACT_B)) rc = pp_engine_backward_weight(r.e[s], mb, &err);
                pp_backend_event_record(be, &a1, 0);
                if (rc) {
                    fprintf(stderr, "gpu_pipeline: stage %d mb %d %s: %s\n", s, mb, pp_act_type_name((pp_act_type)type, PP_NAMING_CURRENT), err.msg);
                    return 1;
                }
                if (type == PP_ACT_F) r.fdone[s * m + mb] = 1;
                if (type == PP_ACT_I || type == PP_ACT_B) r.idone[s * m + mb] = 1;
                if (type == PP_ACT_W || type == PP_ACT_B) r.wdone[s * m + mb] = 1;
                double st = pp_backend_event_elapsed(be, &t0ev, &a0), en = pp_backend_event_elapsed(be, &t0ev, &a1);
                busy += en - st;
                pp_trace_event ev = {.rank = s, .stream = PP_STREAM_COMPUTE, .action = type, .stage = s, .mb = mb,
                                     .start = st, .end = en, .bytes = 0};
                pp_trace_add(&tr, ev, &err);
                pos[q]++, left--, progress = 1;
            }
        }
        if (!progress) {
            fprintf(stderr, "gpu_pipeline: the table stalls (a dependency never met)\n");
            return 1;
        }
    }
    pp_backend_event_record(be, &a1, 0);
    double total = pp_backend_event_elapsed(be, &t0ev, &a1);
    double loss_pipe = r.loss / m;
    printf("pipeline: %s, %d stages on one GPU, %d microbatches of %dx%d, %s: %.2f ms, busy %.2f ms, "
           "loss %.6f\n",
           model, P, m, B, T, sched, total * 1e3, busy * 1e3, loss_pipe);
    if (outdir) {
        char path[2048];
        snprintf(path, sizeof path, "%s/pipeline_%s_trace.json", outdir, sched);
        pp_trace_sort(&tr);
        if (pp_trace_save_chrome(&tr, path, &err)) fprintf(stderr, "gpu_pipeline: %s\n", err.msg);
        else printf("pipeline: trace %s (%d events)\n", path, tr.n);
    }
    /* reference: the whole model, the same microbatches, one engine */
    pp_engine *w;
    if (pp_engine_create(&g, 0, g.n_ops, be, &w, &err)) return 1;
    for (int s = 0; s < P; s++)
        for (int k = 0; k < pp_engine_n_params(r.e[s]); k++) {
            int t = pp_engine_param_tensor(r.e[s], k);
            pp_backend_copy(be, pp_engine_param(w, t), pp_engine_param(r.e[s], t), (size_t)pp_tensor_bytes(&g.tensors[t]));
        }
    double loss_ref = 0;
    for (int mb = 0; mb < m; mb++) {
        if (pp_engine_begin(w, mb, &err)) return 1;
        for (int k = 0; k < pp_engine_n_inputs(w); k++) {
            int t = pp_engine_input_tensor(w, k);
            gpu_fill(be, &g.tensors[t], pp_engine_buffer(w, mb, t, &err), 1000 + (uint64_t)mb * 97 + (uint64_t)t, 1.0f,
                     cfg.vocab_size, !strcmp(g.tensors[t].name, "labels"));
        }
        if (pp_engine_forward(w, mb, &err) || pp_engine_backward(w, mb, 1.0f / (float)m, &err)) {
            fprintf(stderr, "gpu_pipeline: reference: %s\n", err.msg);
            return 1;
        }
        loss_ref += pp_engine_loss(w, mb);
    }
    loss_ref /= m;
    double worst = 0;
    const char *worst_name = "-";
    for (int k = 0; k < pp_engine_n_params(w); k++) {
        int t = pp_engine_param_tensor(w, k);
        long long n = pp_tensor_numel(&g.tensors[t]);
        float *ref = gpu_download(be, pp_engine_grad(w, t), n), *sum = calloc((size_t)n, sizeof(float));
        for (int s = 0; s < P; s++) {
            const float *gs = pp_engine_grad(r.e[s], t);
            if (!gs) continue;
            float *h = gpu_download(be, gs, n);
            for (long long i = 0; i < n; i++) sum[i] += h[i];
            free(h);
        }
        double e = gpu_rel_err(sum, ref, n);
        if (!(e <= worst)) worst = e, worst_name = g.tensors[t].name;
        free(ref);
        free(sum);
    }
    double el = fabs(loss_pipe - loss_ref) / fmax(fabs(loss_ref), 1e-30);
    int ok = el <= 1e-4 && worst <= 1e-4;
    fail |= !ok;
    printf("pipeline: against one engine: loss %.6f vs %.6f (rel %.1e), worst gradient rel %.1e (%s): %s\n", loss_pipe,
           loss_ref, el, worst, worst_name, ok ? "ok" : "FAIL");
    pp_engine_free(w);
    for (int s = 0; s < P; s++) pp_engine_free(r.e[s]);
    pp_trace_free(&tr);
    pp_sched_free(&table);
    pp_graph_free(&g);
    pp_backend_close(be);
    free(pos);
    free(r.prod_stage);
    free(r.fmsg);
    free(r.fref);
    free(r.bmsg);
    free(r.fdone);
    free(r.idone);
    free(r.wdone);
    return fail;
}
