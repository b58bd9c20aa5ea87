/*
 * pippy-report.c -- `pippy report`: argv, then the inputs of the page --
 * the plan's prediction (as `pippy sim --plan`), the planner's throughput of
 * other schedules and microbatch counts, from the database the run shown and
 * the stored runs -- handed to reports/ (pp_report_make.c assembles the
 * page, pp_report.c writes it, pp_report_print.c prints), then the output.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/pp_plan.h"
#include "db/pp_db.h"
#include "planner/pp_schedgen.h"
#include "planner/pp_search.h"
#include "reports/pp_report_data.h"
#include "reports/pp_report_make.h"
#include "reports/pp_report_print.h"
#include "costs/pp_costs.h"
#include "costs/pp_costs_cb.h"
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
            "  --json           the predicted and measured figures as JSON on stdout\n"
            "  -h, --help       this help\n\n"
            "Needs gnuplot (Debian: gnuplot-nox); PIPPY_GNUPLOT names another executable.\n");
}

/* Everything owned here, freed in one place. */
typedef struct ctx {
    pp_plan plan;
    pp_graph g;
    int have_g, n_runs, n_steps, n_rank_rows;
    pp_prediction pr;                /* the plan's prediction */
    pp_report_parts parts;           /* what reports/ makes of it and of the run */
    pp_db *db;                       /* the database's rows and the same rows for reports/ */
    pp_db_run *runs;
    pp_report_run *rr;
    pp_db_run_step *steps;
    pp_run_event *ev;
    long long n_ev;
    pp_run_rank *ranks;
} ctx;

static void ctx_free(ctx *c) {
    pp_plan_free(&c->plan);
    if (c->have_g) pp_graph_free(&c->g);
    pp_prediction_free(&c->pr);
    pp_report_parts_free(&c->parts);
    void *owned[] = {c->runs, c->rr, c->steps, c->ev, c->ranks};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) free(owned[i]);
    pp_db_close(c->db);
}

/* ---- The prediction: the only calls into the simulator and the planner --- */

/* Predicted throughput for gpipe, 1f1b, interleaved, zbh1 and the plan's
 * own schedule at m = p, 2p, 4p, 8p (pp_search_throughput). Points the
 * search cannot make are left out. */
static int predict_throughput(ctx *c, const char *db_path, pp_err *err) {
    const pp_plan *p = &c->plan;
    pp_schedule_kind kinds[PP_SCHEDULE__COUNT] = {PP_SCHEDULE_GPIPE, PP_SCHEDULE_1F1B, PP_SCHEDULE_INTERLEAVED,
                                                  PP_SCHEDULE_ZBH1}, own;
    int nk = 4, dup = 0, ms[4] = {p->pp, 2 * p->pp, 4 * p->pp, 8 * p->pp};
    double t[PP_SCHEDULE__COUNT * 4];
    const char *names[PP_SCHEDULE__COUNT];
    if (pp_schedule_parse(p->schedule_name, &own, NULL) == 0) {
        for (int i = 0; i < nk; i++) dup |= kinds[i] == own;
        if (!dup) kinds[nk++] = own;
    }
    pp_costs_cb_ctx mctx = {.cluster = &p->cluster};
    pp_comm_measured comm;
    pp_search_opts o = {.cfg = &p->model, .cluster = &p->cluster, .seq = p->seq_len, .pp = p->pp, .time_limit_s = 30,
                        .comm = &comm, .measured_cost = pp_costs_cb_graph, .measured_ctx = &mctx};
    int rc = (pp_tool_costs_open(db_path, &mctx.costs, err) || pp_costs_comm(mctx.costs, &p->cluster, &comm, err) ||
              pp_search_throughput(&o, p, kinds, nk, ms, 4, t, err)) ? -1 : 0;
    for (int i = 0; i < nk; i++) names[i] = pp_schedule_name(kinds[i]);
    if (rc == 0) rc = pp_report_tput_table(&c->parts.tp, names, nk, ms, 4, t, err);
    pp_costs_close(mctx.costs);
    return rc;
}

/* Point j of rank k's activation timeline (ctx: the pp_sim_result). */
static pp_report_point timeline_at(const void *ctx, int k, int j) {
    const pp_sim_point *q = &((const pp_sim_result *)ctx)->timeline[k][j];
    return (pp_report_point){q->t, q->bytes};
}

/* The plan's one prediction (simulator/pp_predict.h) and what the page
 * draws of it (x->parts). */
static int predict(ctx *x, const char *db_path, pp_err *err) {
    const pp_plan *p = &x->plan;
    pp_predict_input pi;
    pp_predict_input_init(&pi);
    pi.want_trace = pi.want_timeline = pi.want_critical_path = 1;
    if (pp_tool_predict(db_path, p, &x->g, &pi, &x->pr, err)) return -1;
    const pp_sim_result *r = &x->pr.sim;
    pp_report_sim in = {.n_ranks = p->pp, .n_stages = p->n_stages, .iteration_s = r->iteration_s,
                        .tokens_per_s = r->tokens_per_s, .trace = &r->trace, .busy = r->busy, .end = r->end,
                        .peak_total_bytes = r->peak_total_bytes, .peak_act_bytes = r->peak_act_bytes,
                        .stage_t = x->pr.stage_t};
    return pp_report_parts_predict(&x->parts, &in, r->timeline_n, timeline_at, r, err);
}

/* ---- The database ------------------------------------------------------- */

/* The stored runs (newest first), also as reports/ reads them. */
static int load_runs(ctx *x, pp_err *err) {
    if (pp_db_runs_list(x->db, &x->runs, &x->n_runs, err)) return -1;
    if (!(x->rr = pp_calloc((unsigned long long)(x->n_runs ? x->n_runs : 1), sizeof *x->rr, err))) return -1;
    for (int i = 0; i < x->n_runs; i++) {
        const pp_db_run *a = &x->runs[i];
        x->rr[i] = (pp_report_run){a->id, a->plan_hash, a->model, a->schedule, a->status, a->pp, a->dp, a->micro_batch,
                                   a->seq_len, a->n_microbatches, a->steps, a->tokens_per_s};
    }
    return 0;
}

/* Run `id`'s steps (also as reports/ reads them), every step's events and its ranks. */
static int load_run_rows(ctx *x, long long id, pp_err *err) {
    if (pp_db_run_steps(x->db, id, &x->steps, &x->n_steps, err) || pp_db_run_events(x->db, id, -1, &x->ev, &x->n_ev, err) ||
        pp_db_run_ranks(x->db, id, &x->ranks, &x->n_rank_rows, err))
        return -1;
    pp_report_parts *o = &x->parts;
    if (pp_report_parts_steps(o, x->n_steps, err)) return -1;
    for (int i = 0; i < x->n_steps; i++) o->step_no[i] = x->steps[i].step, o->step_s[i] = x->steps[i].seconds;
    return 0;
}

int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"plan", required_argument, 0, 'p'}, {"run", required_argument, 0, 'r'},  {"output", required_argument, 0, 'o'},
        {"chrome", no_argument, 0, 'c'},     {"db", required_argument, 0, 'D'},   {"step", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'}, {"json", no_argument, 0, 'j'},       {0, 0, 0, 0},
    };
    const char *plan_path = NULL, *outdir = NULL, *db_opt = NULL;
    long long run_id = 0, step_opt = -1;
    int chrome = 0, json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
        switch (c) {
        case 'p': plan_path = optarg; break;
        case 'r': if (pp_tool_parse_int(TOOL, "--run", optarg, 1, (1LL << 62), &run_id)) return 2; break;
        case 's': if (pp_tool_parse_int(TOOL, "--step", optarg, 0, 1 << 30, &step_opt)) return 2; break;
        case 'o': outdir = optarg; break;
        case 'c': chrome = 1; break;
        case 'D': db_opt = optarg; break;
        case 'j': json = 1; break;
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
    int rc = 1;
    char hash[65];
    pp_report_parts *o = &x.parts;

    /* The plan and its prediction (the throughput of other shapes comes last,
     * once the run's inputs are known to be good). */
    pp_plan *p = &x.plan;
    if (pp_plan_open(plan_path, p, &x.g, hash, &err)) goto fail;
    x.have_g = 1;
    if (predict(&x, db_path, &err)) goto fail;

    /* The run, the step shown and what the run stored of it. */
    struct stat stt;
    int have_db = stat(db_path, &stt) == 0;
    if (have_db && (pp_db_open_readonly(db_path, &x.db, &err) || load_runs(&x, &err))) goto fail;
    int k = pp_report_choose_run(x.rr, have_db ? x.n_runs : -1, hash, run_id, db_path, plan_path, o->note,
                                 sizeof o->note, &err);
    if (k < -1 || (k >= 0 && load_run_rows(&x, x.runs[k].id, &err))) goto fail;
    pp_report_run_data rd = {.ev = x.ev, .n_ev = x.n_ev, .ranks = x.ranks, .n_rank_rows = x.n_rank_rows,
                             .n_stages = p->n_stages, .n_ranks = p->pp};
    if (k >= 0 && pp_report_parts_measure(o, &rd, step_opt, x.runs[k].id, x.runs[k].created_at, &err)) goto fail;
    if (predict_throughput(&x, db_path, &err) || pp_report_parts_measured_tput(o, x.rr, x.n_runs, p, &err)) goto fail;

    pp_report_input in;
    if (pp_report_parts_input(o, p, hash, &in, &err)) goto fail;
    in.cost_src = x.pr.cost_source, in.link_src = x.pr.link_source, in.gnuplot = getenv("PIPPY_GNUPLOT");
    if (pp_report_write(&in, outdir, &err) || (chrome && pp_report_parts_chrome(o, outdir, &err))) goto fail;
    if (json) {
        pp_jw w;
        pp_jw_init(&w);
        pp_report_write_json(&w, &in, plan_path, outdir, chrome);
        if (pp_tool_print_json(&w, &err)) goto fail;
    } else {
        pp_report_print_summary(stdout, &in, outdir, chrome);
    }
    rc = 0;
    goto done;
fail:
    pp_tool_fail(TOOL, &err);
done:
    ctx_free(&x);
    return rc;
}
