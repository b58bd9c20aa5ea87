/*
 * pippy-sim.c -- `pippy sim`: predict a pipeline step: iteration time,
 * throughput, bubble (both definitions), busy time, memory and in-flight
 * microbatches per rank, the critical path, and a Chrome trace.
 *
 * Three ways in: a plan (--plan), a what-if (--model --schedule --pp
 * --microbatches [--virtual] [--dp], stages split evenly by blocks), or a
 * schedule table (--schedule-csv, with --model for costs, else unit costs).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_cluster.h"
#include "core/pp_cost.h"
#include "core/pp_json.h"
#include "core/pp_plan.h"
#include "core/pp_sched.h"
#include "core/pp_trace.h"
#include "core/pp_zoo.h"
#include "planner/pp_schedgen.h"
#include "simulator/pp_pipeline.h"
#include "simulator/pp_sim.h"
#include "tools/tool_common.h"

static const char *TOOL = "sim";

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy sim --plan plan.json [options]\n"
            "       pippy sim --model CONFIG --schedule NAME --pp N --microbatches M [--virtual V] [--dp N] [options]\n"
            "       pippy sim --schedule-csv FILE [--model CONFIG] [options]\n\n"
            "Predicts one training step with the discrete-event simulator: iteration time,\n"
            "throughput, the bubble (idle / total and idle / ideal, per rank and overall),\n"
            "busy time, activation and total memory and in-flight microbatches per rank,\n"
            "and the critical path.\n\n"
            "  --plan FILE          a plan (its model, batch, stages, schedule, cluster)\n"
            "  --model CONFIG       a model config or preset (what-if and CSV modes)\n"
            "  --schedule NAME      gpipe, 1f1b, interleaved, looped-bfs, zbh1, zbh2, zbv, dualpipev\n"
            "  --pp N               pipeline ranks\n"
            "  --microbatches M     microbatches per step\n"
            "  --virtual V          stages per rank (interleaved, looped-bfs; default 2)\n"
            "  --dp N               data-parallel replicas (default 1)\n"
            "  --micro-batch B      sequences per microbatch (default 1)\n"
            "  --seq T              sequence length (default: the config's)\n"
            "  --schedule-csv FILE  a PyTorch schedule table (either naming)\n"
            "  --tflops X           device rate for FLOP-estimated costs (default: half the\n"
            "                       cluster's peak, else 1)\n"
            "  --link-us X          link latency in microseconds (default: the cluster's, else 0)\n"
            "  --link-gbit X        link bandwidth in Gbit/s (default: the cluster's, else infinite)\n"
            "  --trace FILE         write the predicted trace as Chrome trace JSON\n"
            "  --db PATH            where measured profiles are (default $PIPPY_DB or ./pippy.db);\n"
            "                       used when every op of the model is profiled on this machine\n"
            "                       and the devices are CPUs (else FLOP estimates, said so)\n"
            "  --json               machine-readable output, with each rank's memory over time\n"
            "  -h, --help           this help\n");
}

typedef struct opts {
    const char *plan, *model, *schedule, *csv, *trace, *db;
    long long pp, mbs, v, dp, mb, seq;
    double tflops, link_us, link_gbit;
    int json;
} opts;

static int parse_double(const char *opt, const char *s, double lo, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= lo)) {
        pp_tool_usage_error(TOOL, "%s: '%s' is not a number >= %g", opt, s, lo);
        return -1;
    }
    *out = v;
    return 0;
}

/* Everything the run needs, owned here so one cleanup frees it. */
typedef struct ctx {
    pp_model_config cfg;
    int have_model;
    pp_graph g;
    pp_cost_profile cost;
    pp_pipeline_model pm;
    pp_sched sched;
    pp_plan plan;
    int have_plan;
    int *bounds;
    double *alpha, *beta;
    double *unit;
} ctx;

static void ctx_free(ctx *c) {
    if (c->have_plan) pp_plan_free(&c->plan);
    pp_sched_free(&c->sched);
    pp_pipeline_model_free(&c->pm);
    pp_cost_free(&c->cost);
    pp_graph_free(&c->g);
    free(c->bounds);
    free(c->alpha);
    free(c->beta);
    free(c->unit);
}

/* Links between ranks: from explicit options, else the cluster's intra/inter
 * host figures by where each rank's device is, else free. */
static int set_links(ctx *c, const opts *o, const pp_cluster *cl, const int *rank_dev, int R, pp_err *err) {
    c->alpha = pp_calloc((unsigned long long)R * R, sizeof(double), err);
    c->beta = pp_calloc((unsigned long long)R * R, sizeof(double), err);
    if (!c->alpha || !c->beta) return -1;
    for (int a = 0; a < R; a++)
        for (int b = 0; b < R; b++) {
            size_t l = (size_t)a * R + b;
            if (cl && rank_dev) {
                const pp_link_spec *ls = pp_cluster_link(cl, rank_dev[a], rank_dev[b]);
                if (ls->present) {
                    c->alpha[l] = ls->alpha_s;
                    c->beta[l] = ls->beta_Bps;
                }
            }
            if (o->link_us >= 0) c->alpha[l] = o->link_us * 1e-6;
            if (o->link_gbit > 0) c->beta[l] = o->link_gbit * 1e9 / 8;
        }
    return 0;
}

static void print_text(const pp_sim_result *r, const char *what, const char *cost_src, double tokens) {
    printf("%s\ncosts: %s\n\n", what, cost_src);
    printf("iteration time   %.6g s\n", r->iteration_s);
    if (tokens > 0) printf("throughput       %.6g samples/s, %.6g tokens/s\n", r->samples_per_s, r->tokens_per_s);
    printf("bubble           %.4f of the total (idle / (ranks x iteration time))\n", r->bubble_total_all);
    printf("                 %.4f of the ideal (idle / busy time)\n", r->bubble_ideal_all);
    printf("actions          %lld, messages %lld\n\n", r->n_actions, r->n_messages);
    printf("%5s %12s %12s %9s %9s %9s %14s %14s\n", "rank", "busy s", "idle s", "idle/tot", "idle/busy", "in-flight",
           "peak act B", "peak total B");
    for (int k = 0; k < r->n_ranks; k++)
        printf("%5d %12.6g %12.6g %9.4f %9.4f %9d %14.0f %14.0f\n", k, r->busy[k], r->idle[k], r->bubble_total[k],
               r->bubble_ideal[k], r->peak_inflight[k], r->peak_act_bytes[k], r->peak_total_bytes[k]);
    if (r->n_critical) {
        printf("\ncritical path: %d actions", r->n_critical);
        int ranks_seen = 0, last = -1;
        for (int i = 0; i < r->n_critical; i++)
            if (r->critical[i].rank != last) {
                ranks_seen++;
                last = r->critical[i].rank;
            }
        printf(", %d rank changes, from t = %.6g to %.6g\n", ranks_seen - 1, r->critical[0].start,
               r->critical[r->n_critical - 1].end);
    }
}

static int print_json(const pp_sim_result *r, const char *what, const char *cost_src, const pp_sched *s, pp_err *err) {
    pp_jw w;
    pp_jw_init(&w);
    pp_jw_obj_begin(&w);
    pp_jw_key(&w, "what");
    pp_jw_str(&w, what);
    pp_jw_key(&w, "costs");
    pp_jw_str(&w, cost_src);
    pp_jw_key(&w, "iteration_s");
    pp_jw_num(&w, r->iteration_s);
    pp_jw_key(&w, "samples_per_s");
    pp_jw_num(&w, r->samples_per_s);
    pp_jw_key(&w, "tokens_per_s");
    pp_jw_num(&w, r->tokens_per_s);
    pp_jw_key(&w, "bubble_idle_over_total");
    pp_jw_num(&w, r->bubble_total_all);
    pp_jw_key(&w, "bubble_idle_over_ideal");
    pp_jw_num(&w, r->bubble_ideal_all);
    pp_jw_key(&w, "n_actions");
    pp_jw_int(&w, r->n_actions);
    pp_jw_key(&w, "ranks");
    pp_jw_arr_begin(&w);
    for (int k = 0; k < r->n_ranks; k++) {
        pp_jw_obj_begin(&w);
        pp_jw_key(&w, "rank");
        pp_jw_int(&w, k);
        pp_jw_key(&w, "busy_s");
        pp_jw_num(&w, r->busy[k]);
        pp_jw_key(&w, "idle_s");
        pp_jw_num(&w, r->idle[k]);
        pp_jw_key(&w, "bubble_idle_over_total");
        pp_jw_num(&w, r->bubble_total[k]);
        pp_jw_key(&w, "bubble_idle_over_ideal");
        pp_jw_num(&w, r->bubble_ideal[k]);
        pp_jw_key(&w, "peak_inflight");
        pp_jw_int(&w, r->peak_inflight[k]);
        pp_jw_key(&w, "peak_activation_bytes");
        pp_jw_num(&w, r->peak_act_bytes[k]);
        pp_jw_key(&w, "peak_total_bytes");
        pp_jw_num(&w, r->peak_total_bytes[k]);
        if (r->timeline) {
            /* Activation bytes over time ([t, bytes] at each change); the total is
             * these plus the constant parameters, gradients and optimizer state. */
            pp_jw_key(&w, "static_bytes");
            pp_jw_num(&w, r->peak_total_bytes[k] - r->peak_act_bytes[k]);
            pp_jw_key(&w, "activation_timeline");
            pp_jw_arr_begin(&w);
            for (int i = 0; i < r->timeline_n[k]; i++) {
                pp_jw_arr_begin_inline(&w);
                pp_jw_num(&w, r->timeline[k][i].t);
                pp_jw_num(&w, r->timeline[k][i].bytes);
                pp_jw_arr_end(&w);
            }
            pp_jw_arr_end(&w);
        }
        pp_jw_obj_end(&w);
    }
    pp_jw_arr_end(&w);
    pp_jw_key(&w, "critical_path");
    pp_jw_arr_begin(&w);
    for (int i = 0; i < r->n_critical; i++) {
        char cell[96];
        const pp_sim_step *st = &r->critical[i];
        pp_action_format(&s->ranks[st->rank].acts[st->index], PP_NAMING_CURRENT, cell, sizeof cell);
        pp_jw_arr_begin_inline(&w);
        pp_jw_int(&w, st->rank);
        pp_jw_str(&w, cell);
        pp_jw_num(&w, st->start);
        pp_jw_num(&w, st->end);
        pp_jw_arr_end(&w);
    }
    pp_jw_arr_end(&w);
    pp_jw_obj_end(&w);
    return pp_tool_print_json(&w, err);
}

int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"plan", required_argument, 0, 'P'},        {"model", required_argument, 0, 'm'},
        {"schedule", required_argument, 0, 's'},    {"pp", required_argument, 0, 'p'},
        {"microbatches", required_argument, 0, 'M'}, {"virtual", required_argument, 0, 'v'},
        {"dp", required_argument, 0, 'd'},          {"micro-batch", required_argument, 0, 'b'},
        {"seq", required_argument, 0, 'T'},         {"schedule-csv", required_argument, 0, 'c'},
        {"tflops", required_argument, 0, 'f'},      {"link-us", required_argument, 0, 'a'},
        {"link-gbit", required_argument, 0, 'B'},   {"trace", required_argument, 0, 't'},
        {"json", no_argument, 0, 'j'},              {"help", no_argument, 0, 'h'},
        {"db", required_argument, 0, 'D'},
        {0, 0, 0, 0},
    };
    opts o = {.pp = 0, .mbs = 0, .v = 2, .dp = 1, .mb = 1, .seq = 0, .tflops = 0, .link_us = -1, .link_gbit = 0};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'P': o.plan = optarg; break;
        case 'm': o.model = optarg; break;
        case 's': o.schedule = optarg; break;
        case 'p': if (pp_tool_parse_int(TOOL, "--pp", optarg, 1, 1 << 20, &o.pp)) return 2; break;
        case 'M': if (pp_tool_parse_int(TOOL, "--microbatches", optarg, 1, 1 << 24, &o.mbs)) return 2; break;
        case 'v': if (pp_tool_parse_int(TOOL, "--virtual", optarg, 1, 1024, &o.v)) return 2; break;
        case 'd': if (pp_tool_parse_int(TOOL, "--dp", optarg, 1, 1 << 20, &o.dp)) return 2; break;
        case 'b': if (pp_tool_parse_int(TOOL, "--micro-batch", optarg, 1, 1 << 20, &o.mb)) return 2; break;
        case 'T': if (pp_tool_parse_int(TOOL, "--seq", optarg, 1, 1 << 22, &o.seq)) return 2; break;
        case 'c': o.csv = optarg; break;
        case 'f': if (parse_double("--tflops", optarg, 1e-9, &o.tflops)) return 2; break;
        case 'a': if (parse_double("--link-us", optarg, 0, &o.link_us)) return 2; break;
        case 'B': if (parse_double("--link-gbit", optarg, 1e-9, &o.link_gbit)) return 2; break;
        case 't': o.trace = optarg; break;
        case 'j': o.json = 1; break;
        case 'D': o.db = optarg; break;
        case 'h': usage(stdout); return 0;
        default: return pp_tool_usage_error(TOOL, "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return pp_tool_usage_error(TOOL, "unexpected argument '%s'", argv[optind]);
    int modes = !!o.plan + !!o.csv + (!o.plan && !o.csv && o.schedule);
    if (modes != 1)
        return pp_tool_usage_error(TOOL, "give one of --plan, --schedule-csv, or --model with --schedule");
    if (pp_tool_refuse_overwrite(TOOL, "--trace", o.trace, "--plan", o.plan, "--schedule-csv", o.csv, "--model",
                                 o.model, "--db", pp_tool_db_path(o.db), NULL))
        return 2;
    pp_err err = {0};
    ctx x;
    memset(&x, 0, sizeof x);
    pp_graph_init(&x.g, PP_DTYPE_F32);
    int rc = 1, R = 0, S = 0, dp = (int)o.dp, *rank_dev = NULL;
    const pp_cluster *cluster = NULL;
    char what[512] = "";
    double samples = 0, tokens = 0;
    pp_sim_input in;
    memset(&in, 0, sizeof in);
    pp_sim_result res;
    memset(&res, 0, sizeof res);

    if (o.plan) {
        if (pp_plan_load(o.plan, &x.plan, &err)) goto fail;
        x.have_plan = 1;
        x.cfg = x.plan.model;
        x.have_model = 1;
        if (pp_zoo_build(&x.cfg, x.plan.micro_batch, x.plan.seq_len, x.plan.dtype, &x.g, &err)) goto fail;
        if (pp_sched_copy(&x.sched, &x.plan.schedule, &err)) goto fail;
        S = x.plan.n_stages;
        x.bounds = pp_calloc((unsigned long long)S + 1, sizeof(int), &err);
        if (!x.bounds) goto fail;
        for (int s = 0; s < S; s++) x.bounds[s] = x.plan.stages[s].op_lo;
        x.bounds[S] = x.g.n_ops;
        dp = x.plan.dp;
        cluster = &x.plan.cluster;
        samples = (double)x.plan.global_batch;
        tokens = samples * x.plan.seq_len;
        snprintf(what, sizeof what, "plan %s: %s, pp %d x dp %d, %d stages, schedule %s, %d microbatches", o.plan,
                 x.cfg.name, x.plan.pp, x.plan.dp, S, x.plan.schedule_name, x.plan.n_microbatches);
    } else {
        if (o.model) {
            char path[4096];
            if (pp_tool_model_path(o.model, path, sizeof path, &err) || pp_model_config_load(path, &x.cfg, &err))
                goto fail;
            x.have_model = 1;
            if (!o.seq) o.seq = x.cfg.seq_len;
            if (pp_zoo_build(&x.cfg, (int)o.mb, (int)o.seq, PP_DTYPE_F32, &x.g, &err)) goto fail;
        }
        if (o.csv) {
            pp_sched_naming found;
            if (pp_sched_load_csv(o.csv, PP_NAMING_AUTO, &x.sched, &found, &err)) goto fail;
            snprintf(what, sizeof what, "schedule %s: %d ranks, %d stages, %d microbatches (%s naming)", o.csv,
                     x.sched.n_ranks, pp_sched_n_stages(&x.sched), pp_sched_n_microbatches(&x.sched),
                     found == PP_NAMING_LEGACY ? "legacy" : "current");
        } else {
            pp_schedule_kind k;
            if (!x.have_model) {
                pp_tool_usage_error(TOOL, "--schedule needs --model (or use --schedule-csv)");
                rc = 2;
                goto done;
            }
            if (!o.pp || !o.mbs) {
                pp_tool_usage_error(TOOL, "--schedule needs --pp and --microbatches");
                rc = 2;
                goto done;
            }
            if (pp_schedule_parse(o.schedule, &k, &err) ||
                pp_schedule_generate(k, (int)o.pp, (int)o.mbs, (int)o.v, &x.sched, &err))
                goto fail;
            snprintf(what, sizeof what, "what-if: %s, schedule %s, pp %lld x dp %lld, v %d, %lld microbatches of %lld x %lld",
                     x.cfg.name, pp_schedule_name(k), o.pp, o.dp, pp_schedule_stages_per_rank(k, (int)o.v), o.mbs,
                     o.mb, o.seq);
        }
        if (pp_sched_check(&x.sched, 0, 0, &err)) {
            if (o.csv) pp_err_wrap(&err, "%s", o.csv);
            goto fail;
        }
        S = pp_sched_n_stages(&x.sched);
        if (x.have_model) {
            x.bounds = pp_calloc((unsigned long long)S + 1, sizeof(int), &err);
            if (!x.bounds || pp_pipeline_split_even(&x.g, S, x.bounds, &err)) goto fail;
            samples = (double)o.mb * pp_sched_n_microbatches(&x.sched) * dp;
            tokens = samples * (double)o.seq;
        }
    }
    R = x.sched.n_ranks;
    if (x.have_plan) {
        rank_dev = pp_calloc((unsigned long long)R, sizeof(int), &err);
        if (!rank_dev) goto fail;
        for (int s = 0; s < S; s++) rank_dev[x.plan.stages[s].rank] = x.plan.stages[s].devices[0];
    }
    const char *cost_src;
    int measured = 0, missing = 0;
    char linksrc[512] = "";
    char msrc[256] = "";
    if (x.have_model && o.tflops <= 0 && (!cluster || (cluster->n_devices && cluster->devices[0].type == PP_DEVICE_CPU))) {
        measured = pp_tool_measured_cost(pp_tool_db_path(o.db), &x.g, 1, &x.cost, msrc, sizeof msrc, &missing, &err);
        if (measured < 0) goto fail;
    }
    if (measured) {
        if (pp_pipeline_model_build(&x.g, &x.cost, S, x.bounds, &x.pm, &err)) goto fail;
        pp_pipeline_sim_input(&x.pm, &in);
        cost_src = x.cost.source;
    } else if (x.have_model) {
        if (missing && missing < x.g.n_ops)
            fprintf(stderr, "pippy sim: warning: the measured profile lacks %d of %d ops (run pippy profile with "
                            "this micro-batch and sequence); using FLOP estimates\n", missing, x.g.n_ops);
        double rate = o.tflops > 0 ? o.tflops * 1e12 : 0;
        if (rate == 0 && cluster && cluster->n_devices && cluster->devices[0].peak_flops > 0)
            rate = 0.5 * cluster->devices[0].peak_flops; /* as pippy plan: half the peak is what dense layers reach */
        if (rate == 0) rate = 1e12;
        if (pp_cost_from_graph(&x.g, rate, &x.cost, &err) ||
            pp_pipeline_model_build(&x.g, &x.cost, S, x.bounds, &x.pm, &err))
            goto fail;
        pp_pipeline_sim_input(&x.pm, &in);
        cost_src = x.cost.source;
    } else {
        x.unit = pp_calloc((unsigned long long)S, sizeof(double), &err);
        if (!x.unit) goto fail;
        for (int s = 0; s < S; s++) x.unit[s] = 1.0;
        in.n_stages = S;
        in.t_f = in.t_i = in.t_w = x.unit;
        cost_src = "unit costs (F = I = W = 1 s per stage and microbatch; give --model for a model's)";
    }
    if (o.link_us < 0 && o.link_gbit <= 0 && (!cluster || (cluster->n_devices && cluster->devices[0].type == PP_DEVICE_CPU))) {
        double la, lb;
        int nl, got = pp_tool_measured_links(pp_tool_db_path(o.db), 1, &la, &lb, &nl, &err);
        if (got < 0) goto fail;
        if (got) {
            /* Measured links stand for every pair of ranks on this machine. */
            o.link_us = la * 1e6;
            o.link_gbit = lb * 8 / 1e9;
            snprintf(linksrc, sizeof linksrc, "links: measured in %s (mean of %d): %.3g us, %.3g GB/s",
                     pp_tool_db_path(o.db), nl, la * 1e6, lb / 1e9);
        }
    }
    if (set_links(&x, &o, cluster, rank_dev, R, &err)) goto fail;
    in.sched = &x.sched;
    in.alpha = x.alpha;
    in.beta = x.beta;
    in.dp = dp;
    if (dp > 1 && cluster && cluster->inter_host.present) {
        in.dp_alpha = cluster->inter_host.alpha_s;
        in.dp_beta = cluster->inter_host.beta_Bps;
    } else if (dp > 1) {
        in.dp_alpha = o.link_us >= 0 ? o.link_us * 1e-6 : 0;
        in.dp_beta = o.link_gbit > 0 ? o.link_gbit * 1e9 / 8 : 0;
    }
    if (linksrc[0]) {
        /* Links measured on this machine: so may the all-reduce be. */
        int ar_n;
        double ar_a, ar_b;
        int got = pp_tool_measured_allreduce(pp_tool_db_path(o.db), 1, &ar_n, &ar_a, &ar_b, &err);
        if (got < 0) goto fail;
        if (got) {
            pp_tool_allreduce_hops(ar_n, ar_a, ar_b, &in.coll_alpha, &in.coll_beta);
            if (!(dp > 1 && cluster && cluster->inter_host.present)) {
                in.dp_alpha = in.coll_alpha;
                in.dp_beta = in.coll_beta;
            }
            size_t l = strlen(linksrc);
            snprintf(linksrc + l, sizeof linksrc - l, "; all-reduce measured over %d ranks: %.3g us + bytes / %.3g GB/s",
                     ar_n, ar_a * 1e6, ar_b / 1e9);
        }
    }
    in.samples_per_step = samples;
    in.tokens_per_step = tokens;
    in.want_trace = o.trace != NULL;
    in.want_critical_path = 1;
    in.want_timeline = o.json;
    if (pp_sim_run(&in, &res, &err)) goto fail;
    if (o.trace && pp_trace_save_chrome(&res.trace, o.trace, &err)) goto fail;
    if (o.json) {
        if (print_json(&res, what, cost_src, &x.sched, &err)) goto fail;
    } else {
        print_text(&res, what, cost_src, tokens);
        if (linksrc[0]) printf("%s\n", linksrc);
        if (o.trace) printf("\ntrace written to %s (open in Perfetto)\n", o.trace);
    }
    rc = 0;
    goto done;
fail:
    pp_tool_fail(TOOL, &err);
    rc = 1;
done:
    pp_sim_result_free(&res);
    free(rank_dev);
    ctx_free(&x);
    return rc;
}
