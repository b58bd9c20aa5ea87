/*
 * pippy-plan.c -- `pippy plan`: the fastest pipeline for a model, a cluster
 * and a global batch that fits in memory. Searches pipeline degree,
 * data-parallel degree, schedule and microbatch count, partitions each
 * candidate and simulates it, prints the top candidates, proves the winner's
 * split optimal with the GLPK MILP, writes the plan atomically and stores it
 * in the database.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_cluster.h"
#include "core/pp_cost.h"
#include "core/pp_io.h"
#include "core/pp_json.h"
#include "core/pp_plan.h"
#include "core/pp_zoo.h"
#include "db/pp_db.h"
#include "planner/pp_schedgen.h"
#include "planner/pp_search.h"
#include "planner/pp_search_print.h"
#include "simulator/pp_predict.h"
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

typedef struct measured_ctx {
    pp_costs *costs;
    const pp_cluster *cluster;
    char last[256];
} measured_ctx;

/* Measured costs when every op of this micro-batch size is profiled on the
 * cluster's devices (costs/pp_costs.h). */
static int measured(void *ctx, const pp_graph *g, pp_cost_profile *out, pp_err *err) {
    measured_ctx *m = ctx;
    int got = pp_costs_graph(m->costs, m->cluster, g, out, NULL, err);
    if (got == 1) snprintf(m->last, sizeof m->last, "%s", out->source);
    return got;
}

static void progress(void *ctx, int done, int total) {
    (void)ctx;
    if (!isatty(2)) return;
    fprintf(stderr, "\rsearching: %d/%d candidates", done, total);
    if (done == total) fprintf(stderr, "\n");
}

/* A number > 0 times scale from a flag's argument: 0, or 1 when it is none. */
static int positive(const char *arg, double scale, double *out) {
    char *end;
    *out = strtod(arg, &end) * scale;
    return *end || !(*out > 0);
}

int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},      {"cluster", required_argument, 0, 'c'},
        {"batch", required_argument, 0, 'b'},      {"seq", required_argument, 0, 'T'},
        {"pp", required_argument, 0, 'p'},         {"dp", required_argument, 0, 'd'},         {"microbatches", required_argument, 0, 'M'},
        {"schedule", required_argument, 0, 's'},   {"virtual", required_argument, 0, 'v'},
        {"mem-cap", required_argument, 0, 'C'},    {"granularity", required_argument, 0, 'g'},
        {"split-at", required_argument, 0, 'S'},   {"tflops", required_argument, 0, 'f'},
        {"time-limit", required_argument, 0, 'L'}, {"top", required_argument, 0, 'k'},
        {"output", required_argument, 0, 'o'},     {"db", required_argument, 0, 'D'},
        {"no-db", no_argument, 0, 'N'},            {"no-store", no_argument, 0, 'n'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {"ilp-schedule", required_argument, 0, 'I'}, {"schedule-csv", required_argument, 0, 'X'},
        {0, 0, 0, 0},
    };
    const char *model = NULL, *cluster = NULL, *outp = NULL, *db_opt = NULL, *csv = NULL;
    long long batch = 0, seq = 0, pp = 0, dp = 0, mbs = 0, v = 2, top = 10;
    int no_db = 0, no_store = 0, json = 0, c;
    double ilp_s = 0;
    pp_search_opts o = {.schedule = -1, .time_limit_s = 30};
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
        case 's': {
            pp_schedule_kind k;
            pp_err e = {0};
            if (pp_schedule_parse(optarg, &k, &e)) return pp_tool_usage_error(TOOL, "--schedule: %s", e.msg);
            o.schedule = k;
            break;
        }
        case 'C':
            if (positive(optarg, 1024.0 * 1024.0 * 1024.0, &o.mem_cap))
                return pp_tool_usage_error(TOOL, "--mem-cap: '%s' is not GiB > 0", optarg);
            break;
        case 'g':
            if (!strcmp(optarg, "op")) o.granularity_op = 1;
            else if (strcmp(optarg, "block") != 0) return pp_tool_usage_error(TOOL, "--granularity: block or op");
            break;
        case 'S': o.split_at = optarg; break;
        case 'X': csv = optarg; break;
        case 'f':
            if (positive(optarg, 1e12, &o.flops_per_s)) return pp_tool_usage_error(TOOL, "--tflops: '%s' is not > 0", optarg);
            break;
        case 'L':
            if (positive(optarg, 1, &o.time_limit_s))
                return pp_tool_usage_error(TOOL, "--time-limit: '%s' is not > 0", optarg);
            break;
        case 'I':
            if (positive(optarg, 1, &ilp_s))
                return pp_tool_usage_error(TOOL, "--ilp-schedule: '%s' is not seconds > 0", optarg);
            break;
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
    long long stored_id = 0;
    char costs_used[256] = "";
    FILE *txt = json ? stderr : stdout; /* with --json, stdout holds the JSON alone */
    pp_err err = {0};
    char mpath[4096], cpath[4096];
    pp_model_config cfg;
    pp_cluster cl;
    pp_candidate *cands = NULL;
    int n = 0, rc = 1;
    pp_plan plan;
    memset(&plan, 0, sizeof plan);
    char *pjson = NULL, *cjson = NULL;
    pp_db *db = NULL;
    if (pp_tool_model_path(model, mpath, sizeof mpath, &err) || pp_model_config_load(mpath, &cfg, &err) ||
        pp_tool_cluster_path(cluster, cpath, sizeof cpath, &err) || pp_cluster_load(cpath, &cl, &err))
        return pp_tool_fail(TOOL, &err);
    if (pp_tool_refuse_overwrite(TOOL, "-o", outp, "--model", mpath, "--cluster", cpath, "--schedule-csv", csv,
                                 "--db", no_db ? NULL : pp_tool_db_path(db_opt), NULL)) {
        pp_cluster_free(&cl);
        return 2;
    }
    o.cfg = &cfg;
    o.cluster = &cl;
    o.global_batch = (int)batch;
    o.seq = (int)(seq ? seq : cfg.seq_len);
    o.pp = (int)pp;
    o.dp = (int)dp;
    o.microbatches = (int)mbs;
    o.v = (int)v;
    o.progress = progress;
    /* The database is opened (created or migrated) before any work: one that
     * cannot be used is an error now, not after the search with the plan
     * written and not stored. --no-store only reads it (when it exists);
     * --no-db opens none: no measured costs are read, nothing is stored. */
    const char *db_path = no_db ? NULL : pp_tool_db_path(db_opt);
    measured_ctx mctx = {.cluster = &cl};
    pp_comm_measured comm;
    memset(&comm, 0, sizeof comm);
    if (db_path && !no_store && pp_db_open(db_path, &db, &err)) goto fail;
    if (pp_tool_costs_open(db_path, &mctx.costs, &err)) goto fail;
    if (db_path && o.flops_per_s <= 0) {
        if (pp_costs_comm(mctx.costs, &cl, &comm, &err)) goto fail;
        pp_search_print_comm(txt, &comm, db_path);
        o.comm = &comm;
        o.measured_cost = measured;
        o.measured_ctx = &mctx;
    }
    if (csv) {
        /* A given table: no search. */
        pp_sched table;
        pp_sched_naming found;
        char name[32];
        if (pp_sched_load_csv(csv, PP_NAMING_AUTO, &table, &found, &err)) goto fail;
        pp_search_table_name(csv, name, sizeof name);
        int bad = pp_search_plan_from_table(&o, &table, name, &plan, &err);
        pp_sched_free(&table);
        if (bad) {
            pp_err_wrap(&err, "%s", csv);
            goto fail;
        }
        pp_search_print_table_plan(txt, csv, found, &plan, &o, mctx.last);
        goto write;
    }
    if (pp_search(&o, &cands, &n, &err)) goto fail;
    pp_search_print_costs(txt, stderr, &o, mctx.last);
    pp_search_print_candidates(txt, &o, cands, n, (int)top);
    if (pp_search_choose(&o, cands, n, &plan, &err)) goto fail;
    if (ilp_s > 0) {
        if (pp_search_ilp_schedule(&o, &plan, ilp_s, &err)) goto fail;
        pp_search_print_ilp(txt, &plan, cands[0].schedule);
    }
write:
    pp_search_print_chosen(txt, &plan);
    pp_graph g;
    if (pp_zoo_build(&cfg, plan.micro_batch, plan.seq_len, plan.dtype, &g, &err)) goto fail;
    size_t plen;
    char phash[65];
    int bad = pp_plan_write(&plan, &g, &pjson, &plen, &err) || pp_plan_hash(&plan, &g, phash, &err) ||
              pp_io_write_atomic(outp, pjson, plen, &err) ||
              pp_search_costs_source(&o, &g, costs_used, sizeof costs_used, &err); /* what the prediction stands on */
    long long params = pp_graph_param_count(&g);
    pp_graph_free(&g);
    if (bad) goto fail;
    fprintf(txt, "plan written to %s\n", outp);
    if (db) {
        long long mid, pid = 0;
        char name[256];
        snprintf(name, sizeof name, "%s-%s-pp%d-dp%d", cfg.name, plan.schedule_name, plan.pp, plan.dp);
        if (pp_model_config_write(&cfg, &cjson, NULL, &err) || pp_db_begin(db, &err) ||
            pp_db_model_put(db, cfg.name, pp_family_name(cfg.family), plan.model_hash, params, cjson, &mid, &err) ||
            pp_db_plan_put(db, name, phash, plan.model_hash, plan.pp * plan.dp, plan.schedule_name, pjson, &pid, &err) ||
            pp_db_commit(db, &err)) {
            pp_db_rollback(db, NULL);
            goto fail;
        }
        stored_id = pid;
        fprintf(txt, "stored in %s as plan #%lld\n", db_path, pid);
    }
    if (json) {
        pp_jw w;
        pp_jw_init(&w);
        pp_search_write_json(&w, cands, n, (int)top, &plan, phash, outp, stored_id, costs_used);
        if (pp_tool_print_json(&w, &err)) goto fail;
    }
    rc = 0;
    goto done;
fail:
    pp_tool_fail(TOOL, &err);
done:
    pp_costs_close(mctx.costs);
    pp_db_close(db);
    free(pjson);
    free(cjson);
    pp_plan_free(&plan);
    pp_search_free(cands, n);
    pp_cluster_free(&cl);
    return rc;
}
