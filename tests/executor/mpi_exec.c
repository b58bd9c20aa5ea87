/*
 * mpi_exec.c -- the executor's equality check, run under mpirun by
 * tests/integration/exec.sh: for each configuration (model x schedule x
 * ranks), a plan is built in memory, run for 3 optimizer steps on the
 * ranks of this job, and every step's loss and every parameter after the
 * last step are compared on rank 0 with a single-process run of the same
 * model, data and seed (pp_train). One line per configuration:
 *
 *   OK   gpt2-tiny 1f1b pp=2 dp=1 v=1 m=4: loss 0.0e+00, grad norm 2.1e-08, params 1.5e-05 normwise,
 *        0.037 of the tolerance (52 tensors)
 *
 * (the worst relative error of a step's loss and of its gradient norm; the
 * worst normwise relative error of a parameter tensor, ||pipelined -
 * single||_2 / ||single||_2; the worst element against |a - b| <= 1e-5 +
 * 1e-5 |b|, see tensor_err). Exit 0 when every loss and norm is within 1e-5
 * relative and every element within its tolerance, 1 otherwise.
 * --control runs with another data seed than the reference, which must
 * fail (the check can tell a wrong run).
 *
 * Usage: pp_mpi_exec_test [--only SUBSTRING] [--dp 2] [--list]
 * With N ranks it runs every generated schedule with pp = N (dp = 1),
 * the PyTorch tables of ../shared/compat/pytorch-schedules whose rank
 * count is N, and with --dp 2 the schedules with pp = N / 2, dp = 2.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm/pp_comm.h"
#include "core/pp_plan.h"
#include "core/pp_sched.h"
#include "core/pp_zoo.h"
#include "executor/pp_exec.h"
#include "executor/pp_trainer.h"
#include "planner/pp_schedgen.h"
#include "tests/executor/plan_fixture.h"

#define STEPS 3
#define MICRO 2
#define SEQ 16
#define TOL 1e-5

typedef struct ref_run {
    char model[32];
    int global_batch;
    double loss[STEPS], norm[STEPS];
    float **params; /* by tensor index (NULL for non-parameters) */
    int n_tensors;
} ref_run;

static void ref_step(void *ctx, const pp_train_step *s) {
    ((ref_run *)ctx)->loss[s->step - 1] = s->loss;
    ((ref_run *)ctx)->norm[s->step - 1] = s->grad_norm;
}

static void ref_params(void *ctx, const pp_graph *g, pp_engine *e) {
    ref_run *r = ctx;
    r->n_tensors = g->n_tensors;
    r->params = calloc((size_t)g->n_tensors, sizeof *r->params);
    for (int i = 0; i < pp_engine_n_params(e); i++) {
        int t = pp_engine_param_tensor(e, i);
        size_t b = (size_t)pp_tensor_bytes(&g->tensors[t]);
        r->params[t] = malloc(b);
        memcpy(r->params[t], pp_engine_param(e, t), b);
    }
}

static void ref_free(ref_run *r) {
    for (int i = 0; r->params && i < r->n_tensors; i++) free(r->params[i]);
    free(r->params);
    memset(r, 0, sizeof *r);
}

/* How far a tensor is from the reference, as torch.testing.assert_close
 * measures it: the worst |a - b| / (ATOL + TOL |b|) over the elements (<= 1
 * passes): TOL = 1e-5 relative, and ATOL = 1e-5, assert_close's float32
 * default. Why an absolute part: AdamW divides each gradient by its own
 * running magnitude, so an element whose gradient is mostly cancellation
 * (attention's key bias, whose exact gradient is zero; sums over
 * microbatches of opposite signs) turns fp32 rounding into updates of up
 * to 1e-6..1e-5, and the order of those sums differs legitimately between
 * one process and a pipeline (a tied embedding's gradient summed per stage
 * and then across stages; data-parallel halves summed by the all-reduce;
 * W passes run in another order). A wrong run differs by the order of the
 * learning rate (3e-3), and scaling mistakes, which AdamW hides, show in the
 * gradient norm, compared per step. *norm_rel gets the normwise relative
 * error ||a - b||_2 / ||b||_2 for the report. */
#define ATOL 1e-5
static double tensor_err(const float *a, const float *b, long long n, double *norm_rel) {
    double worst = 0, num = 0, den = 0;
    for (long long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (isnan(d)) return *norm_rel = INFINITY;
        double e = d / (ATOL + TOL * fabs(b[i]));
        if (e > worst) worst = e;
        num += d * d;
        den += (double)b[i] * b[i];
    }
    *norm_rel = den > 0 ? sqrt(num / den) : sqrt(num);
    return worst;
}

static int g_control; /* --control: the pipelined run uses another seed */

typedef struct config {
    char model[32], sched[64];
    int pp, dp, v, m;
    char csv[256]; /* a PyTorch table, or "" */
} config;

/* Runs one configuration; 1 when it matched, 0 when not, -1 on error. */
static int run_one(pp_comm *c, const config *k, ref_run *ref, double *loss_err, double *norm_err, double *param_err,
                   double *elem_err, int *n_params, pp_err *err) {
    int me = pp_comm_rank(c);
    char path[4096];
    snprintf(path, sizeof path, "%s/configs/models/%s.json", PP_SOURCE_DIR, k->model);
    pp_model_config cfg;
    pp_graph g;
    pp_sched table;
    memset(&table, 0, sizeof table);
    if (pp_model_config_load(path, &cfg, err) || pp_zoo_build(&cfg, MICRO, SEQ, PP_DTYPE_F32, &g, err)) return -1;
    int rc = -1, gb = MICRO * k->m * k->dp;
    if (k->csv[0]) {
        if (pp_sched_load_csv(k->csv, PP_NAMING_AUTO, &table, NULL, err)) goto done;
    } else {
        pp_schedule_kind kind;
        if (pp_schedule_parse(k->sched, &kind, err) || pp_schedule_generate(kind, k->pp, k->m, k->v, &table, err))
            goto done;
    }
    /* The single-process reference, once per model and batch, on rank 0. */
    if (me == 0 && (strcmp(ref->model, k->model) || ref->global_batch != gb)) {
        ref_free(ref);
        snprintf(ref->model, sizeof ref->model, "%s", k->model);
        ref->global_batch = gb;
        pp_train_opts o = {.steps = STEPS, .batch = gb, .microbatches = gb / MICRO, .seq = SEQ, .threads = 1,
                           .seed = 1234, .hyper = pp_adamw_defaults(), .on_params = ref_params, .params_ctx = ref};
        o.hyper.warmup = 1;
        pp_train_summary sum;
        if (pp_train(&cfg, &o, ref_step, ref, &sum, err)) goto done;
    }
    pp_plan plan;
    if (pp_test_make_plan(&cfg, &g, &table, k->sched, k->pp, k->dp, MICRO, k->m, SEQ, &plan, err)) goto done;
    pp_exec_opts eo = pp_exec_defaults();
    eo.total_steps = STEPS;
    if (g_control) eo.seed = 1235;
    eo.hyper.warmup = 1;
    eo.timeout_s = 60;
    pp_exec *x = NULL;
    if (pp_exec_create(&plan, &g, c, &eo, &x, err)) {
        pp_plan_free(&plan);
        goto done;
    }
    *loss_err = 0;
    *param_err = 0;
    *norm_err = 0;
    *elem_err = 0;
    *n_params = 0;
    for (int s = 0; s < STEPS; s++) {
        pp_exec_step_result st;
        if (pp_exec_step(x, s, &st, err)) goto done_x;
        if (me == 0) {
            double e = fabs(st.loss - ref->loss[s]) / fabs(ref->loss[s]);
            if (!(e <= *loss_err)) *loss_err = e;
            e = fabs(st.grad_norm - ref->norm[s]) / fabs(ref->norm[s]);
            if (!(e <= *norm_err)) *norm_err = e;
        }
    }
    for (int t = 0; t < g.n_tensors; t++) {
        if (g.tensors[t].kind != PP_TENSOR_PARAM) continue;
        long long n = pp_tensor_numel(&g.tensors[t]);
        float *buf = me == 0 ? malloc((size_t)n * sizeof(float)) : NULL;
        if (pp_exec_gather_param(x, t, buf, err)) {
            free(buf);
            goto done_x;
        }
        if (me == 0) {
            double nr = INFINITY, e = ref->params[t] ? tensor_err(buf, ref->params[t], n, &nr) : INFINITY;
            if (!(nr <= *param_err)) *param_err = nr;
            if (!(e <= *elem_err)) *elem_err = e;
            if (getenv("PP_EXEC_DEBUG") && nr > 1e-7) {
                long long w = 0;
                for (long long i = 0; i < n; i++)
                    if (fabs(buf[i] - ref->params[t][i]) > fabs(buf[w] - ref->params[t][w])) w = i;
                fprintf(stderr, "  %s: normwise %.2e, elementwise %.2f, worst [%lld] %.9g vs %.9g\n", g.tensors[t].name, nr, e, w, buf[w],
                        ref->params[t][w]);
            }
            (*n_params)++;
        }
        free(buf);
    }
    rc = *loss_err <= TOL && *norm_err <= TOL && *elem_err <= 1;
done_x:
    pp_exec_free(x);
    pp_plan_free(&plan);
done:
    pp_sched_free(&table);
    pp_graph_free(&g);
    return rc;
}

int main(int argc, char **argv) {
    pp_err err = {0};
    pp_comm *c;
    if (pp_comm_init(&argc, &argv, &c, &err)) {
        fprintf(stderr, "mpi_exec: %s\n", err.msg);
        return 2;
    }
    const char *only = NULL;
    int with_dp = 0, list = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--dp")) with_dp = 1;
        else if (!strcmp(argv[i], "--list")) list = 1;
        else if (!strcmp(argv[i], "--control")) g_control = 1;
    }
    int N = pp_comm_size(c), me = pp_comm_rank(c);
    static const char *models[] = {"gpt2-tiny", "llama-tiny", "t5-tiny"};
    static const struct { const char *name; int v; } scheds[] = {
        {"gpipe", 1}, {"1f1b", 1}, {"interleaved", 2}, {"looped-bfs", 2},
        {"zbh1", 1},  {"zbh2", 1}, {"zbv", 2},         {"dualpipev", 2},
    };
    config cfgs[128];
    int nc = 0;
    for (int mi = 0; mi < 3; mi++) {
        int pp = with_dp ? N / 2 : N, dp = with_dp ? 2 : 1;
        for (int si = 0; si < 8; si++) {
            config *k = &cfgs[nc++];
            memset(k, 0, sizeof *k);
            snprintf(k->model, sizeof k->model, "%s", models[mi]);
            snprintf(k->sched, sizeof k->sched, "%s", scheds[si].name);
            k->pp = pp;
            k->dp = dp;
            k->v = scheds[si].v;
            k->m = 2 * pp;
        }
        if (with_dp) continue;
        static const struct { const char *file; int ranks, m; } tables[] = {
            {"zb1p_2rank_2stagep_compute.csv", 2, 8},
            {"zb1p_2rank_2stagep_comms.csv", 2, 8},
            {"dualpipev_4rank_10mb.csv", 4, 10},
        };
        for (int ti = 0; ti < 3; ti++) {
            if (tables[ti].ranks != N) continue;
            config *k = &cfgs[nc++];
            memset(k, 0, sizeof *k);
            snprintf(k->model, sizeof k->model, "%s", models[mi]);
            snprintf(k->sched, sizeof k->sched, "pytorch:%s", tables[ti].file);
            snprintf(k->csv, sizeof k->csv, "%s/compat/pytorch-schedules/%s", PP_SHARED_DIR, tables[ti].file);
            k->pp = N;
            k->dp = 1;
            k->v = 0;
            k->m = tables[ti].m;
        }
    }
    int bad = 0, ran = 0;
    ref_run ref;
    memset(&ref, 0, sizeof ref);
    for (int i = 0; i < nc; i++) {
        config *k = &cfgs[i];
        char label[160];
        snprintf(label, sizeof label, "%s %s pp=%d dp=%d v=%d m=%d", k->model, k->sched, k->pp, k->dp, k->v, k->m);
        if (only && !strstr(label, only)) continue;
        if (list) {
            if (me == 0) printf("%s\n", label);
            continue;
        }
        double le = 0, ne = 0, pe = 0, ee = 0;
        int np = 0;
        int r = run_one(c, k, &ref, &le, &ne, &pe, &ee, &np, &err);
        ran++;
        if (r < 0) {
            fprintf(stderr, "ERROR %s: %s\n", label, err.msg);
            pp_comm_abort(c, 1);
        }
        if (me == 0) {
            printf("%-4s %s: loss %.1e, grad norm %.1e, params %.1e normwise, %.3f of the tolerance (%d tensors)\n",
                   r ? "OK" : "FAIL", label, le, ne, pe, ee, np);
            fflush(stdout);
        }
        bad += !r;
    }
    if (me == 0 && !list) printf("%d configurations, %d failed%s\n", ran, bad, g_control ? " (control: all must fail)" : "");
    ref_free(&ref);
    pp_comm_free(c);
    if (g_control) return me == 0 && bad != ran ? 1 : 0;
    return bad ? 1 : 0;
}
