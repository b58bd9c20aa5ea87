/*
 * pippy-report.c -- `pippy report`: the plan's prediction beside a measured
 * run of it, as a self-contained HTML page with gnuplot charts (reports/).
 *
 * This file only gathers the inputs: the plan and its prediction (exactly
 * as `pippy sim --plan` makes it), the run (the newest of this plan in the
 * database, or --run ID) and its step of median duration (or --step K), the
 * run's events, the predicted throughput of other schedules and microbatch
 * counts (the planner's search with pp, schedule and m fixed) and the
 * measured runs of the same model and shape; reports/pp_report.c draws and
 * writes everything.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/pp_cluster.h"
#include "core/pp_cost.h"
#include "core/pp_plan.h"
#include "core/pp_trace.h"
#include "core/pp_zoo.h"
#include "db/pp_db.h"
#include "planner/pp_schedgen.h"
#include "planner/pp_search.h"
#include "reports/pp_report.h"
#include "simulator/pp_sim.h"
#include "costs/pp_costs.h"
#include "simulator/pp_predict.h"
#include "tools/tool_common.h"

static const char *TOOL = "report";

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy report --plan plan.json -o DIR [--run ID] [--step K] [--chrome] [--db PATH]\n\n"
            "Sets the plan's prediction beside a measured run of it and writes DIR/index.html,\n"
            "a self-contained page (opens offline) with gnuplot charts -- the predicted and\n"
            "measured step as timelines, throughput against microbatch count per schedule,\n"
            "per-stage compute balance, memory per rank -- and a table of iteration time,\n"
            "throughput, bubble, busy time and peak memory, predicted against measured with\n"
            "the relative error. The charts are also written as PNG and SVG files in DIR.\n"
            "Without a run of the plan in the database the page shows the prediction only.\n\n"
            "  --plan FILE      the plan (required)\n"
            "  -o, --output DIR the report folder (required; created if missing)\n"
            "  --run ID         the measured run (default: the newest run of this plan)\n"
            "  --step K         the measured step shown (default: the step of median duration,\n"
            "                   leaving out the first)\n"
            "  --chrome         also write DIR/predicted-trace.json and DIR/measured-trace.json\n"
            "                   (Chrome trace JSON of the step shown; opens in Perfetto)\n"
            "  --db PATH        database (default $PIPPY_DB or ./pippy.db)\n"
            "  -h, --help       this help\n\n"
            "Needs gnuplot (Debian: gnuplot-nox); PIPPY_GNUPLOT names another executable.\n");
}

typedef struct measured_ctx {
    pp_costs *costs;
    const pp_cluster *cluster;
} measured_ctx;

static int measured_cost(void *ctx, const pp_graph *g, pp_cost_profile *out, pp_err *err) {
    measured_ctx *m = ctx;
    return pp_costs_graph(m->costs, m->cluster, g, out, NULL, err);
}

/* Everything owned here, freed in one place. */
typedef struct ctx {
    pp_plan plan;
    pp_graph g;
    int have_g;
    pp_sim_result sim;
    pp_db *db;
    pp_db_run_step *steps;
    int n_steps;
    pp_db_run_rank *ranks;
    int n_ranks_db;
    pp_db_run_event *ev_step, *ev_all;
    long long n_ev_step, n_ev_all;
    pp_db_run *runs;
    int n_runs;
    pp_trace pred_trace, meas_trace;
    pp_trace_event *tmp_ev;
    int *stage_rank;
    double *stage_t, *pred_fb, *meas_fb, *pred_peak, *meas_peak, *meas_busy;
    pp_report_point *mem_pts;
    pp_report_series *mem;
    pp_report_point *tp_pts, *tm_pts;
    pp_report_series tp[PP_SCHEDULE__COUNT], tm[PP_SCHEDULE__COUNT + 8];
    char tm_names[PP_SCHEDULE__COUNT + 8][32];
} ctx;

static void ctx_free(ctx *c) {
    pp_plan_free(&c->plan);
    if (c->have_g) pp_graph_free(&c->g);
    pp_sim_result_free(&c->sim);
    pp_db_close(c->db);
    free(c->steps);
    free(c->ranks);
    free(c->ev_step);
    free(c->ev_all);
    free(c->runs);
    pp_trace_free(&c->pred_trace);
    pp_trace_free(&c->meas_trace);
    free(c->tmp_ev);
    free(c->stage_rank);
    free(c->stage_t);
    free(c->pred_fb);
    free(c->meas_fb);
    free(c->pred_peak);
    free(c->meas_peak);
    free(c->meas_busy);
    free(c->mem_pts);
    free(c->mem);
    free(c->tp_pts);
    free(c->tm_pts);
}

/* Predicted throughput for each schedule at m = p, 2p, 4p, 8p: the search
 * with pp, schedule and microbatches fixed, this plan's micro-batch, dp
 * and sequence length. Points the search cannot make are left out. */
static int predict_throughput(ctx *c, const char *db_path, int *n_series, pp_err *err) {
    const pp_plan *p = &c->plan;
    pp_schedule_kind kinds[PP_SCHEDULE__COUNT];
    int nk = 0;
    const pp_schedule_kind base[4] = {PP_SCHEDULE_GPIPE, PP_SCHEDULE_1F1B, PP_SCHEDULE_INTERLEAVED, PP_SCHEDULE_ZBH1};
    for (int i = 0; i < 4; i++) kinds[nk++] = base[i];
    pp_schedule_kind own;
    if (pp_schedule_parse(p->schedule_name, &own, NULL) == 0) {
        int dup = 0;
        for (int i = 0; i < nk; i++) dup |= kinds[i] == own;
        if (!dup) kinds[nk++] = own;
    }
    const int mult[4] = {1, 2, 4, 8};
    c->tp_pts = pp_calloc((unsigned long long)nk * 4, sizeof *c->tp_pts, err);
    if (!c->tp_pts) return -1;
    measured_ctx mctx = {.cluster = &p->cluster};
    pp_comm_measured comm;
    if (pp_tool_costs_open(db_path, &mctx.costs, err) || pp_costs_comm(mctx.costs, &p->cluster, &comm, err)) {
        pp_costs_close(mctx.costs);
        return -1;
    }
    pp_search_opts o = {.cfg = &p->model, .cluster = &p->cluster, .seq = p->seq_len, .pp = p->pp, .time_limit_s = 30,
                        .comm = &comm, .measured_cost = measured_cost, .measured_ctx = &mctx};
    for (int i = 0; i < nk; i++) {
        pp_report_series *s = &c->tp[i];
        s->name = pp_schedule_name(kinds[i]);
        s->pts = c->tp_pts + 4 * i;
        for (int j = 0; j < 4; j++) {
            int m = mult[j] * p->pp;
            o.schedule = kinds[i];
            o.microbatches = m;
            o.global_batch = p->micro_batch * m * p->dp;
            o.v = kinds[i] == PP_SCHEDULE_INTERLEAVED && p->virtual_stages > 1 ? p->virtual_stages : 2;
            pp_candidate *cand = NULL;
            int n = 0;
            pp_err e = {0};
            if (pp_search(&o, &cand, &n, &e)) {
                PP_LOG_INFO("pippy report: throughput of %s at m = %d not predicted: %s", s->name, m, e.msg);
                continue;
            }
            int best = -1;
            for (int k = 0; k < n; k++) {
                if (cand[k].dp != p->dp || cand[k].micro_batch != p->micro_batch || cand[k].m != m) continue;
                if (best < 0 || (cand[k].fits && !cand[best].fits) ||
                    (cand[k].fits == cand[best].fits && cand[k].tokens_per_s > cand[best].tokens_per_s))
                    best = k;
            }
            if (best >= 0) c->tp_pts[4 * i + s->n++] = (pp_report_point){m, cand[best].tokens_per_s};
            pp_search_free(cand, n);
        }
    }
    pp_costs_close(mctx.costs);
    *n_series = nk;
    return 0;
}

/* Measured points: the median tokens/s per (schedule, m) over the stored
 * runs of this model with the same pp, dp, micro-batch and sequence length. */
static int measured_throughput(ctx *c, int *n_series, pp_err *err) {
    const pp_plan *p = &c->plan;
    *n_series = 0;
    if (!c->runs || c->n_runs == 0) return 0;
    c->tm_pts = pp_calloc((unsigned long long)c->n_runs, sizeof *c->tm_pts, err);
    double *vals = pp_calloc((unsigned long long)c->n_runs, sizeof *vals, err);
    char *used = pp_calloc((unsigned long long)c->n_runs, 1, err);
    if (!c->tm_pts || !vals || !used) {
        free(vals);
        free(used);
        return -1;
    }
    int np = 0, ns = 0;
    for (int i = 0; i < c->n_runs; i++) {
        const pp_db_run *a = &c->runs[i];
        int match = strcmp(a->model, p->model.name) == 0 && a->pp == p->pp && a->dp == p->dp &&
                    a->micro_batch == p->micro_batch && a->seq_len == p->seq_len && !strcmp(a->status, "ok") &&
                    a->tokens_per_s > 0;
        if (!match) used[i] = 1;
    }
    for (int i = 0; i < c->n_runs; i++) {
        if (used[i]) continue;
        /* The series of this schedule. */
        int si = -1;
        for (int k = 0; k < ns; k++)
            if (!strcmp(c->tm_names[k], c->runs[i].schedule)) si = k;
        if (si < 0) {
            if (ns == (int)(sizeof c->tm / sizeof c->tm[0])) continue;
            si = ns++;
            snprintf(c->tm_names[si], sizeof c->tm_names[si], "%s", c->runs[i].schedule);
            c->tm[si].name = c->tm_names[si];
            c->tm[si].n = 0;
        }
    }
    /* Points grouped per series, in order of m. */
    for (int k = 0; k < ns; k++) {
        c->tm[k].pts = c->tm_pts + np;
        for (;;) {
            int m = -1;
            for (int i = 0; i < c->n_runs; i++)
                if (!used[i] && !strcmp(c->runs[i].schedule, c->tm_names[k]) && (m < 0 || c->runs[i].n_microbatches < m))
                    m = c->runs[i].n_microbatches;
            if (m < 0) break;
            int nv = 0;
            for (int i = 0; i < c->n_runs; i++)
                if (!used[i] && !strcmp(c->runs[i].schedule, c->tm_names[k]) && c->runs[i].n_microbatches == m) {
                    vals[nv++] = c->runs[i].tokens_per_s;
                    used[i] = 1;
                }
            double med = pp_tool_median(vals, nv);
            c->tm_pts[np++] = (pp_report_point){m, med};
            c->tm[k].n++;
        }
    }
    free(vals);
    free(used);
    *n_series = ns;
    return 0;
}

int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"plan", required_argument, 0, 'p'}, {"run", required_argument, 0, 'r'},  {"output", required_argument, 0, 'o'},
        {"chrome", no_argument, 0, 'c'},     {"db", required_argument, 0, 'D'},   {"step", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0},
    };
    const char *plan_path = NULL, *outdir = NULL, *db_opt = NULL;
    long long run_id = 0, step_opt = -1;
    int chrome = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
        switch (c) {
        case 'p': plan_path = optarg; break;
        case 'r': if (pp_tool_parse_int(TOOL, "--run", optarg, 1, (1LL << 62), &run_id)) return 2; break;
        case 's': if (pp_tool_parse_int(TOOL, "--step", optarg, 0, 1 << 30, &step_opt)) return 2; break;
        case 'o': outdir = optarg; break;
        case 'c': chrome = 1; break;
        case 'D': db_opt = optarg; break;
        case 'h': usage(stdout); return 0;
        default: return pp_tool_usage_error(TOOL, "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return pp_tool_usage_error(TOOL, "unexpected argument '%s'", argv[optind]);
    if (!plan_path || !outdir) return pp_tool_usage_error(TOOL, "--plan and -o are required");
    const char *db_path = pp_tool_db_path(db_opt);
    pp_err err = {0};
    ctx x;
    memset(&x, 0, sizeof x);
    pp_trace_init(&x.pred_trace);
    pp_trace_init(&x.meas_trace);
    int rc = 1;
    char hash[65], cost_src[512] = "", link_src[512] = "", note[1024] = "", choice[256] = "";
    pp_db_run run;
    memset(&run, 0, sizeof run);
    int have_run = 0, chosen_step = -1;
    double meas_iter = 0;

    /* The plan and its prediction. */
    pp_plan *p = &x.plan;
    if (pp_plan_load(plan_path, p, &err)) goto fail;
    if (pp_zoo_build(&p->model, p->micro_batch, p->seq_len, p->dtype, &x.g, &err)) goto fail;
    x.have_g = 1;
    if (pp_plan_hash(p, &x.g, hash, &err)) goto fail;
    int S = p->n_stages, R = p->pp;
    x.stage_t = pp_calloc((unsigned long long)3 * S, sizeof(double), &err);
    x.pred_fb = pp_calloc((unsigned long long)2 * S, sizeof(double), &err);
    x.meas_fb = pp_calloc((unsigned long long)2 * S, sizeof(double), &err);
    x.pred_peak = pp_calloc((unsigned long long)R, sizeof(double), &err);
    x.meas_peak = pp_calloc((unsigned long long)R, sizeof(double), &err);
    x.meas_busy = pp_calloc((unsigned long long)R, sizeof(double), &err);
    x.mem = pp_calloc((unsigned long long)R, sizeof *x.mem, &err);
    x.stage_rank = pp_calloc((unsigned long long)(S ? S : 1), sizeof(int), &err);
    if (!x.stage_rank || !x.stage_t || !x.pred_fb || !x.meas_fb || !x.pred_peak || !x.meas_peak || !x.meas_busy || !x.mem) goto fail;
    /* The plan's one prediction (simulator/pp_predict.h). */
    {
        pp_cost_profile cost;
        pp_comm_measured comm;
        int measured;
        if (pp_tool_load_costs(db_path, &p->cluster, &x.g, &cost, &measured, &comm, &err)) goto fail;
        pp_predict_input in;
        pp_predict_input_init(&in);
        in.cost = measured ? &cost : NULL;
        in.comm = &comm;
        in.want_trace = in.want_timeline = in.want_critical_path = 1;
        pp_prediction pred;
        int bad = pp_predict_plan(p, &x.g, &in, &pred, &err);
        if (measured) pp_cost_free(&cost);
        if (bad) {
            pp_prediction_free(&pred);
            goto fail;
        }
        x.sim = pred.sim; /* owned by x from here */
        memset(&pred.sim, 0, sizeof pred.sim);
        memcpy(x.stage_t, pred.stage_t, (size_t)3 * S * sizeof(double));
        snprintf(cost_src, sizeof cost_src, "%s", pred.cost_source);
        snprintf(link_src, sizeof link_src, "%s", pred.link_source);
        pp_prediction_free(&pred);
    }
    for (int s = 0; s < S; s++) {
        x.stage_rank[s] = p->stages[s].rank;
        x.pred_fb[2 * s] = x.stage_t[3 * s];
        x.pred_fb[2 * s + 1] = x.stage_t[3 * s + 1] + x.stage_t[3 * s + 2];
    }
    /* The predicted trace, plus each rank's optimizer step (busy time the
     * trace does not hold), placed to end with the rank's step. */
    for (int i = 0; i < x.sim.trace.n; i++)
        if (pp_trace_add(&x.pred_trace, x.sim.trace.ev[i], &err)) goto fail;
    for (int r = 0; r < R; r++) {
        double comp = 0;
        for (int i = 0; i < x.sim.trace.n; i++)
            if (x.sim.trace.ev[i].rank == r && x.sim.trace.ev[i].stream == PP_STREAM_COMPUTE)
                comp += x.sim.trace.ev[i].end - x.sim.trace.ev[i].start;
        double opt = x.sim.busy[r] - comp;
        if (opt > 1e-12) {
            double st = fmax(x.sim.end[r], x.sim.iteration_s - opt);
            pp_trace_event e = {.rank = r, .stream = PP_STREAM_COMPUTE, .action = PP_ACT_OPTIM, .stage = -1, .mb = -1,
                                .start = st, .end = st + opt};
            if (pp_trace_add(&x.pred_trace, e, &err)) goto fail;
        }
        x.pred_peak[r] = x.sim.peak_total_bytes[r];
    }
    /* Predicted memory over time: activations + static bytes. */
    long long npts = 0;
    for (int r = 0; r < R; r++) npts += x.sim.timeline_n ? x.sim.timeline_n[r] : 0;
    x.mem_pts = pp_calloc((unsigned long long)(npts ? npts : 1), sizeof *x.mem_pts, &err);
    if (!x.mem_pts) goto fail;
    for (long long r = 0, off = 0; r < R; r++) {
        double stat = x.sim.peak_total_bytes[r] - x.sim.peak_act_bytes[r];
        int n = x.sim.timeline_n ? x.sim.timeline_n[r] : 0;
        x.mem[r].pts = x.mem_pts + off;
        x.mem[r].n = n;
        for (int j = 0; j < n; j++) x.mem_pts[off + j] = (pp_report_point){x.sim.timeline[r][j].t, x.sim.timeline[r][j].bytes + stat};
        off += n;
    }

    /* The run. */
    struct stat stt;
    int have_db = stat(db_path, &stt) == 0;
    if (!have_db) {
        if (run_id) {
            pp_err_set(&err, PP_ERR_INVALID, "no run %lld: no database at %s", run_id, db_path);
            goto fail;
        }
        snprintf(note, sizeof note, "No database at %s, so no measured run: the page shows the prediction only "
                 "(measure one with: pippy run --plan %s).", db_path, plan_path);
    } else {
        if (pp_db_open_readonly(db_path, &x.db, &err)) goto fail;
        if (pp_db_runs_list(x.db, &x.runs, &x.n_runs, &err)) goto fail;
        if (run_id) {
            int found;
            if (pp_db_run_get(x.db, run_id, &run, &found, &err)) goto fail;
            if (!found) {
                pp_err_set(&err, PP_ERR_INVALID, "no run %lld in %s (pippy db runs lists them)", run_id, db_path);
                goto fail;
            }
            if (strcmp(run.plan_hash, hash) != 0) {
                pp_err_set(&err, PP_ERR_INVALID,
                           "run %lld is a run of plan %s, not of %s (plan %s); give that run's plan, or a run of this plan",
                           run_id, run.plan_hash, plan_path, hash);
                goto fail;
            }
            have_run = 1;
        } else {
            for (int i = 0; i < x.n_runs && !have_run; i++)
                if (!strcmp(x.runs[i].plan_hash, hash) && !strcmp(x.runs[i].status, "ok") && x.runs[i].steps > 0) {
                    run = x.runs[i];
                    have_run = 1;
                }
            if (!have_run)
                snprintf(note, sizeof note, "No run of this plan (%.12s) in %s: the page shows the prediction only "
                         "(measure one with: pippy run --plan %s --db %s).", hash, db_path, plan_path, db_path);
        }
    }
    if (have_run) {
        if (pp_db_run_steps(x.db, run.id, &x.steps, &x.n_steps, &err)) goto fail;
        if (x.n_steps == 0) {
            if (step_opt >= 0) {
                pp_err_set(&err, PP_ERR_INVALID, "run %lld has no step %lld: it finished no step", run.id, step_opt);
                goto fail;
            }
            snprintf(note, sizeof note, "Run %lld of this plan finished no step: the page shows the prediction only.", run.id);
            have_run = 0;
        }
    }
    if (have_run) {
        int idx = -1;
        if (step_opt >= 0) {
            for (int i = 0; i < x.n_steps; i++)
                if (x.steps[i].step == step_opt) idx = i;
            if (idx < 0) {
                pp_err_set(&err, PP_ERR_INVALID, "run %lld has no step %lld (its steps are %d..%d)", run.id, step_opt,
                           x.steps[0].step, x.steps[x.n_steps - 1].step);
                goto fail;
            }
            snprintf(choice, sizeof choice, "chosen with --step");
        } else {
            int *sn = pp_calloc((unsigned long long)x.n_steps, sizeof *sn, &err);
            double *sec = pp_calloc((unsigned long long)x.n_steps, sizeof *sec, &err);
            if (!sn || !sec) {
                free(sn);
                free(sec);
                goto fail;
            }
            for (int i = 0; i < x.n_steps; i++) {
                sn[i] = x.steps[i].step;
                sec[i] = x.steps[i].seconds;
            }
            idx = pp_report_median_step(sn, sec, x.n_steps);
            free(sn);
            free(sec);
            if (x.n_steps > 1)
                snprintf(choice, sizeof choice, "the median duration of steps %d..%d, the first left out",
                         x.steps[1].step, x.steps[x.n_steps - 1].step);
            else
                snprintf(choice, sizeof choice, "the run's only step");
        }
        chosen_step = x.steps[idx].step;
        meas_iter = x.steps[idx].seconds;
        if (pp_db_run_events(x.db, run.id, chosen_step, &x.ev_step, &x.n_ev_step, &err)) goto fail;
        double t0 = INFINITY;
        for (long long i = 0; i < x.n_ev_step; i++) t0 = fmin(t0, x.ev_step[i].ev.start);
        for (long long i = 0; i < x.n_ev_step; i++) {
            pp_trace_event e = x.ev_step[i].ev;
            e.start -= t0;
            e.end -= t0;
            if (pp_trace_add(&x.meas_trace, e, &err)) goto fail;
        }
        pp_report_busy(x.meas_trace.ev, x.meas_trace.n, R, x.meas_busy);
        /* Stage means over the steps after the first. */
        if (pp_db_run_events(x.db, run.id, -1, &x.ev_all, &x.n_ev_all, &err)) goto fail;
        x.tmp_ev = pp_calloc((unsigned long long)(x.n_ev_all ? x.n_ev_all : 1), sizeof *x.tmp_ev, &err);
        if (!x.tmp_ev) goto fail;
        long long nt = 0;
        int first = x.steps[0].step;
        for (long long i = 0; i < x.n_ev_all; i++)
            if (x.n_steps < 2 || x.ev_all[i].step != first) x.tmp_ev[nt++] = x.ev_all[i].ev;
        pp_report_stage_means(x.tmp_ev, nt, S, x.meas_fb);
        if (pp_db_run_ranks(x.db, run.id, &x.ranks, &x.n_ranks_db, &err)) goto fail;
        for (int r = 0; r < R; r++) x.meas_peak[r] = NAN;
        for (int i = 0; i < x.n_ranks_db; i++)
            if (x.ranks[i].rank >= 0 && x.ranks[i].rank < R) x.meas_peak[x.ranks[i].rank] = (double)x.ranks[i].peak_bytes;
        if (x.n_ev_step == 0 && !note[0])
            snprintf(note, sizeof note, "Run %lld stored no events for step %d: its timeline is empty.", run.id, chosen_step);
    }

    /* Throughput series. */
    int n_tp = 0, n_tm = 0;
    if (predict_throughput(&x, db_path, &n_tp, &err) || measured_throughput(&x, &n_tm, &err)) goto fail;

    pp_report_input in = {
        .model = p->model.name,
        .plan_hash = hash,
        .schedule = p->schedule_name,
        .cost_src = cost_src,
        .link_src = link_src,
        .pp = p->pp,
        .dp = p->dp,
        .n_microbatches = p->n_microbatches,
        .micro_batch = p->micro_batch,
        .seq_len = p->seq_len,
        .global_batch = p->global_batch,
        .n_stages = S,
        .n_ranks = R,
        .stage_rank = x.stage_rank,
        .run_id = have_run ? run.id : 0,
        .run_date = have_run ? run.created_at : NULL,
        .run_step = chosen_step,
        .step_choice = choice,
        .note = note,
        .pred = {.present = 1, .iteration_s = x.sim.iteration_s, .tokens_per_s = x.sim.tokens_per_s,
                 .busy_s = x.sim.busy, .peak_bytes = x.pred_peak, .trace = &x.pred_trace, .stage_fb = x.pred_fb},
        .meas = {.present = have_run, .iteration_s = meas_iter,
                 .tokens_per_s = meas_iter > 0 ? (double)p->global_batch * p->seq_len / meas_iter : 0,
                 .busy_s = x.meas_busy, .peak_bytes = x.meas_peak, .trace = &x.meas_trace, .stage_fb = x.meas_fb},
        .pred_memory = x.mem,
        .tput_pred = x.tp,
        .n_tput_pred = n_tp,
        .tput_meas = x.tm,
        .n_tput_meas = n_tm,
        .gnuplot = getenv("PIPPY_GNUPLOT"),
    };
    if (pp_report_write(&in, outdir, &err)) goto fail;
    if (chrome) {
        char path[4096];
        snprintf(path, sizeof path, "%s/predicted-trace.json", outdir);
        if (pp_trace_save_chrome(&x.sim.trace, path, &err)) goto fail;
        if (have_run) {
            snprintf(path, sizeof path, "%s/measured-trace.json", outdir);
            if (pp_trace_save_chrome(&x.meas_trace, path, &err)) goto fail;
        }
    }
    if (note[0]) printf("note: %s\n", note);
    if (have_run)
        printf("predicted %.4g s per step, measured %.4g s (run %lld, step %d): error %+.1f%% ((measured - predicted) / measured)\n",
               x.sim.iteration_s, meas_iter, run.id, chosen_step, 100 * pp_report_rel_err(x.sim.iteration_s, meas_iter));
    else
        printf("predicted %.4g s per step (no measured run)\n", x.sim.iteration_s);
    if (chrome) printf("traces: %s/predicted-trace.json%s\n", outdir, have_run ? " and measured-trace.json" : "");
    printf("report: %s/index.html\n", outdir);
    rc = 0;
    goto done;
fail:
    pp_tool_fail(TOOL, &err);
done:
    ctx_free(&x);
    return rc;
}
