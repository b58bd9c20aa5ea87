/*
 * pippy-plan.c -- `pippy plan`: the fastest pipeline for a model, a cluster
 * and a global batch that fits in memory. Parses the options, loads the
 * model, the cluster and what the database measured (costs/), runs the
 * search (planner/pp_search.h: candidates partitioned and simulated, the
 * winner's split proven by the GLPK MILP), prints it (pp_search_print.h),
 * writes the plan atomically and stores it in the database.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "costs/pp_costs_cb.h"
#include "db/pp_db.h"
#include "planner/pp_search.h"
#include "planner/pp_search_print.h"
#include "tools/tool_common.h"

static const char *TOOL = "plan";

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy plan --model CONFIG --cluster CLUSTER --batch B -o plan.json [options]\n\n"
            "Finds the pipeline with the best predicted throughput that fits in memory:\n"
            "pipeline degree (and data-parallel degree when there are more devices than\n"
            "stages), schedule and microbatch count are searched; each candidate is split\n"
            "by the exact DP under its schedule's memory and simulated. The winner's split\n"
            "is re-solved by the GLPK MILP, which proves it optimal (or reports the gap).\n\n"
            "  --model CONFIG       model config or preset\n"
            "  --cluster CLUSTER    cluster spec or preset (configs/clusters/)\n"
            "  --batch B            global batch in sequences\n"
            "  --seq T              sequence length (default: the config's)\n"
            "  --pp N               fix the pipeline degree\n"
            "  --dp N               fix the data-parallel degree (default: searched)\n"
            "  --microbatches M     fix the microbatch count\n"
            "  --schedule NAME      fix the schedule (gpipe, 1f1b, interleaved, zbh1, zbh2, zbv)\n"
            "  --schedule-csv FILE  run this table (PyTorch's CSV, either naming): its ranks,\n"
            "                       stage placement and microbatch count; the split is the\n"
            "                       exact DP (no search)\n"
            "  --virtual V          stages per rank for interleaved (default 2)\n"
            "  --mem-cap GIB        memory per device (default: the cluster's)\n"
            "  --granularity G      block (default) or op: where splits may fall\n"
            "  --split-at A,B       manual split points (block names); the planner only schedules\n"
            "  --tflops X           device rate for FLOP-estimated costs (default: half the\n"
            "                       cluster's peak, else 1)\n"
            "  --time-limit S       MILP time limit in seconds (default 30)\n"
            "  --top K              candidates to print (default 10)\n"
            "  --ilp-schedule S     then let the ILP (Zero Bubble formulation) order the F, I\n"
            "                       and W passes, for up to S seconds (one stage per rank,\n"
            "                       p x m <= 256); kept when faster, its status recorded\n"
            "  -o, --output FILE    the plan file (required)\n"
            "  --db PATH            database (default $PIPPY_DB or ./pippy.db)\n"
            "  --no-store           read measured costs from the database, but store nothing\n"
            "  --json               the candidates, the choice and its prediction as JSON on\n"
            "                       stdout (what is otherwise printed goes to stderr)\n"
            "  --no-db              use no database: read no measured costs, store nothing\n"
            "  -h, --help           this help\n");
}

/* flag's argument times scale into *out: 0 when > 0, else 2 after the usage error. */
int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},        {"cluster", required_argument, 0, 'c'},
        {"batch", required_argument, 0, 'b'},        {"seq", required_argument, 0, 'T'},
        {"pp", required_argument, 0, 'p'},           {"dp", required_argument, 0, 'd'},
        {"microbatches", required_argument, 0, 'M'}, {"schedule", required_argument, 0, 's'},
        {"virtual", required_argument, 0, 'v'},      {"mem-cap", required_argument, 0, 'C'},
        {"granularity", required_argument, 0, 'g'},  {"split-at", required_argument, 0, 'S'},
        {"tflops", required_argument, 0, 'f'},       {"time-limit", required_argument, 0, 'L'},
        {"top", required_argument, 0, 'k'},          {"output", required_argument, 0, 'o'},
        {"db", required_argument, 0, 'D'},           {"no-db", no_argument, 0, 'N'},
        {"no-store", no_argument, 0, 'n'},           {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},               {"ilp-schedule", required_argument, 0, 'I'},
        {"schedule-csv", required_argument, 0, 'X'}, {0, 0, 0, 0},
    };
    const char *model = NULL, *cluster = NULL, *outp = NULL, *db_opt = NULL, *csv = NULL;
    long long batch = 0, seq = 0, pp = 0, dp = 0, mbs = 0, v = 2, top = 10;
    int no_db = 0, no_store = 0, json = 0, c;
    double ilp_s = 0;
    pp_model_config cfg;
    pp_cluster cl;
    pp_search_opts o = {.cfg = &cfg, .cluster = &cl, .schedule = -1, .time_limit_s = 30, .progress_ctx = stderr,
                        .progress = isatty(2) ? pp_search_print_progress : NULL};
    pp_schedule_kind kind;
    pp_err err = {0};
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'c': cluster = optarg; break;
        case 'b': if (pp_tool_parse_int(TOOL, "--batch", optarg, 1, 1 << 30, &batch)) return 2; break;
        case 'T': if (pp_tool_parse_int(TOOL, "--seq", optarg, 1, 1 << 22, &seq)) return 2; break;
        case 'p': if (pp_tool_parse_int(TOOL, "--pp", optarg, 1, 4096, &pp)) return 2; break;
        case 'd': if (pp_tool_parse_int(TOOL, "--dp", optarg, 1, 1 << 20, &dp)) return 2; break;
        case 'M': if (pp_tool_parse_int(TOOL, "--microbatches", optarg, 1, 1 << 20, &mbs)) return 2; break;
        case 'v': if (pp_tool_parse_int(TOOL, "--virtual", optarg, 2, 64, &v)) return 2; break;
        case 'k': if (pp_tool_parse_int(TOOL, "--top", optarg, 1, 1000, &top)) return 2; break;
        case 's':
            if (pp_schedule_parse(optarg, &kind, &err)) return pp_tool_usage_error(TOOL, "--schedule: %s", err.msg);
            o.schedule = kind;
            break;
        case 'C': if (pp_tool_parse_num(TOOL, "--mem-cap", optarg, 0, 1, &o.mem_cap)) return 2; o.mem_cap *= 1 << 30; break;
        case 'f': if (pp_tool_parse_num(TOOL, "--tflops", optarg, 0, 1, &o.flops_per_s)) return 2; o.flops_per_s *= 1e12; break;
        case 'L': if (pp_tool_parse_num(TOOL, "--time-limit", optarg, 0, 1, &o.time_limit_s)) return 2; break;
        case 'I': if (pp_tool_parse_num(TOOL, "--ilp-schedule", optarg, 0, 1, &ilp_s)) return 2; break;
        case 'g':
            if (!strcmp(optarg, "op")) o.granularity_op = 1;
            else if (strcmp(optarg, "block") != 0) return pp_tool_usage_error(TOOL, "--granularity: block or op");
            break;
        case 'S': o.split_at = optarg; break;
        case 'X': csv = optarg; break;
        case 'o': outp = optarg; break;
        case 'D': db_opt = optarg; break;
        case 'N': no_db = 1; break;
        case 'n': no_store = 1; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: return pp_tool_usage_error(TOOL, "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return pp_tool_usage_error(TOOL, "unexpected argument '%s'", argv[optind]);
    if (!model || !cluster || !batch || !outp)
        return pp_tool_usage_error(TOOL, "--model, --cluster, --batch and -o are required");
    if (csv && (pp || dp || mbs || o.schedule >= 0 || o.split_at || ilp_s > 0))
        return pp_tool_usage_error(TOOL, "--schedule-csv fixes ranks, stages, microbatches and schedule: drop --pp, "
                                         "--dp, --microbatches, --schedule, --split-at and --ilp-schedule");
    FILE *txt = json ? stderr : stdout; /* with --json, stdout holds the JSON alone */
    char mpath[4096], cpath[4096], *cjson = NULL;
    pp_candidate *cands = NULL;
    int n = 0, rc = 1;
    pp_plan plan = {0};
    pp_search_plan_file pf = {0};
    pp_db *db = NULL;
    if (pp_tool_model_path(model, mpath, sizeof mpath, &err) || pp_model_config_load(mpath, &cfg, &err) ||
        pp_tool_cluster_path(cluster, cpath, sizeof cpath, &err) || pp_cluster_load(cpath, &cl, &err))
        return pp_tool_fail(TOOL, &err);
    const char *db_path = no_db ? NULL : pp_tool_db_path(db_opt);
    if (pp_tool_refuse_overwrite(TOOL, "-o", outp, "--model", mpath, "--cluster", cpath, "--schedule-csv", csv,
                                 "--db", db_path, NULL)) {
        pp_cluster_free(&cl);
        return 2;
    }
    o.global_batch = (int)batch, o.seq = (int)(seq ? seq : cfg.seq_len);
    o.pp = (int)pp, o.dp = (int)dp, o.microbatches = (int)mbs, o.v = (int)v;
    /* The database is opened (created or migrated) before any work, not after the search with the plan
     * written; --no-store only reads it (when it exists); --no-db opens none: nothing read or stored. */
    pp_costs_cb_ctx mctx = {.cluster = &cl};
    pp_comm_measured comm = {0};
    if (db_path && !no_store && pp_db_open(db_path, &db, &err)) goto fail;
    if (pp_tool_costs_open(db_path, &mctx.costs, &err)) goto fail;
    if (db_path && o.flops_per_s <= 0) {
        if (pp_costs_comm(mctx.costs, &cl, &comm, &err)) goto fail;
        pp_search_print_comm(txt, &comm, db_path);
        o.comm = &comm, o.measured_cost = pp_costs_cb_graph, o.measured_ctx = &mctx;
    }
    pp_sched_naming found;
    if (csv) { /* a given table: no search */
        if (pp_search_plan_from_csv(&o, csv, &plan, &found, &err)) goto fail;
        pp_search_print_table_plan(txt, csv, found, &plan, &o, mctx.last);
    } else if (pp_search_run(txt, stderr, &o, (int)top, ilp_s, mctx.last, &cands, &n, &plan, &err)) {
        goto fail;
    }
    pp_search_print_chosen(txt, &plan);
    if (pp_search_write_plan(&o, &plan, outp, &pf, &err)) goto fail;
    fprintf(txt, "plan written to %s\n", outp);
    long long mid, pid = 0;
    if (db) {
        if (pp_model_config_write(&cfg, &cjson, NULL, &err) || pp_db_begin(db, &err) ||
            pp_db_model_put(db, cfg.name, pp_family_name(cfg.family), plan.model_hash, pf.params, cjson, &mid, &err) ||
            pp_db_plan_put(db, pf.name, pf.hash, plan.model_hash, plan.pp * plan.dp, plan.schedule_name, pf.json, &pid,
                           &err) ||
            pp_db_commit(db, &err)) {
            pp_db_rollback(db, NULL);
            goto fail;
        }
        fprintf(txt, "stored in %s as plan #%lld\n", db_path, pid);
    }
    pp_jw w;
    pp_jw_init(&w);
    if (json) pp_search_write_json(&w, cands, n, (int)top, &plan, pf.hash, outp, pid, pf.costs);
    if (json && pp_tool_print_json(&w, &err)) goto fail;
    rc = 0;
fail:
    if (rc) pp_tool_fail(TOOL, &err);
    pp_costs_close(mctx.costs);
    pp_db_close(db);
    pp_search_plan_file_free(&pf);
    free(cjson);
    pp_plan_free(&plan);
    pp_search_free(cands, n);
    pp_cluster_free(&cl);
    return rc;
}
