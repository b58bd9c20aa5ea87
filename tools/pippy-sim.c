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
#include "core/pp_json.h"
#include "core/pp_trace.h"
#include "planner/pp_schedgen.h"
#include "simulator/pp_predict_case.h"
#include "simulator/pp_predict_print.h"
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
        case 'f': if (pp_tool_parse_num(TOOL, "--tflops", optarg, 0, 1, &o.tflops)) return 2; break;
        case 'a': if (pp_tool_parse_num(TOOL, "--link-us", optarg, 0, 0, &o.link_us)) return 2; break;
        case 'B': if (pp_tool_parse_num(TOOL, "--link-gbit", optarg, 0, 1, &o.link_gbit)) return 2; break;
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
    pp_predict_case x;
    pp_predict_case_init(&x);
    int rc = 1;
    if (o.plan) {
        if (pp_predict_case_plan(&x, o.plan, &err)) goto fail;
    } else {
        if (o.model) {
            char path[4096];
            if (pp_tool_model_path(o.model, path, sizeof path, &err) ||
                pp_predict_case_model(&x, path, (int)o.mb, (int)o.seq, &err))
                goto fail;
            o.seq = x.seq;
        }
        if (o.csv) {
            if (pp_predict_case_csv(&x, o.csv, &err)) goto fail;
        } else {
            pp_schedule_kind k;
            if (!x.have_model || !o.pp || !o.mbs) {
                rc = pp_tool_usage_error(TOOL, !x.have_model ? "--schedule needs --model (or use --schedule-csv)"
                                                             : "--schedule needs --pp and --microbatches");
                goto done;
            }
            if (pp_schedule_parse(o.schedule, &k, &err) ||
                pp_schedule_generate(k, (int)o.pp, (int)o.mbs, (int)o.v, &x.sched, &err))
                goto fail;
            snprintf(x.what, sizeof x.what, "what-if: %s, schedule %s, pp %lld x dp %lld, v %d, %lld microbatches of %lld x %lld",
                     x.cfg.name, pp_schedule_name(k), o.pp, o.dp, pp_schedule_stages_per_rank(k, (int)o.v), o.mbs,
                     o.mb, o.seq);
        }
        if (pp_predict_case_layout(&x, o.csv, (int)o.dp, (int)o.mb, (int)o.seq, &err)) goto fail;
    }
    /* Costs measured on the cluster's devices (this machine's without a
     * cluster), unless --tflops asks for FLOP estimates; then the one
     * prediction path. */
    const pp_cluster *cluster = x.have_plan ? &x.plan.cluster : NULL;
    int measured = 0;
    pp_comm_measured comm;
    if (pp_tool_costs_load(pp_tool_db_path(o.db), cluster, x.have_model && o.tflops <= 0 ? &x.g : NULL,
                           o.link_us < 0 && o.link_gbit <= 0, TOOL, &x.cost, &measured, &comm, &err))
        goto fail;
    x.in.cost = measured ? &x.cost : NULL;
    x.in.comm = &comm;
    pp_predict_input_whatif(&x.in, o.tflops, o.link_us, o.link_gbit);
    if (pp_predict_case_run(&x, o.trace != NULL, o.json, &err)) goto fail;
    if (o.trace && pp_trace_save_chrome(&x.pred.sim.trace, o.trace, &err)) goto fail;
    if (o.json) {
        pp_jw w;
        pp_jw_init(&w);
        pp_prediction_write_json(&w, &x.pred, x.what, &x.sched);
        if (pp_tool_print_json(&w, &err)) goto fail;
    } else {
        pp_prediction_print_text(stdout, &x.pred, x.what, x.tokens);
        if (o.trace) printf("\ntrace written to %s (open in Perfetto)\n", o.trace);
    }
    rc = 0;
    goto done;
fail:
    rc = pp_tool_fail(TOOL, &err);
done:
    pp_predict_case_free(&x);
    return rc;
}
