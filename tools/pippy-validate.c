/*
 * pippy-validate.c -- `pippy validate`: is the simulator right on this host?
 * Profiles the model once, then for each configuration of a matrix
 * (schedule x microbatch count, pp as the cores allow) plans it (pippy plan,
 * which simulates it from the profile), runs it for real (pippy run --plan,
 * under mpirun), and at the end prints predicted against measured
 * iteration time and peak memory per rank, with the relative errors, their
 * median and maximum. Everything (profile, plans, runs with their traces)
 * is stored in the database, where `pippy report` finds it.
 *
 * The steps are the commands themselves, run as child processes: validate
 * measures exactly what a user's commands do.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/pp_plan.h"
#include "db/pp_db.h"
#include "executor/pp_launch.h"
#include "planner/pp_schedgen.h"
#include "reports/pp_validate.h"
#include "reports/pp_validate_cmd.h"
#include "simulator/pp_predict.h"
#include "tools/tool_common.h"

static const char *TOOL = "validate";

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy validate [options]\n\n"
            "Checks the simulator against measured runs on this host: profiles the\n"
            "model, then for every schedule x microbatch count plans the pipeline\n"
            "(predicted from the profile), runs it under MPI, and prints predicted\n"
            "against measured iteration time and peak memory per rank with the\n"
            "relative errors (median and max). All is stored in the database.\n\n"
            "  --model CONFIG       model (default gpt2-tiny)\n"
            "  --micro-batch N      sequences per microbatch (default 4)\n"
            "  --seq T              sequence length (default 64)\n"
            "  --pp N               pipeline ranks (default 2)\n"
            "  --schedules LIST     comma-separated (default gpipe,1f1b,interleaved,zbh1)\n"
            "  --microbatches LIST  microbatch counts (default p,2p,4p,8p)\n"
            "  --steps N            steps per run (default 8; the first is not timed)\n"
            "  -o, --output DIR     plans and traces go here (default validate/)\n"
            "  --db PATH            database (default $PIPPY_DB or ./pippy.db)\n"
            "  --json               the table and the summary as one JSON object on stdout\n"
            "                       (the progress goes to stderr)\n"
            "  -h, --help           this help\n");
}

/* Runs argv (a pippy command) with its stdout appended to `log`, through
 * the one launcher (executor/pp_launch.h); on failure, with tx, says
 * "PREFIX pippy WHAT failed (see LOG)" there. Returns its exit status, 127
 * when it could not start. */
static int spawn(char *const argv[], const char *log, FILE *tx, const char *prefix, const char *what) {
    pp_err err = {0};
    int rc = pp_launch_logged(argv, "pippy validate", log, &err);
    if (rc < 0) fprintf(stderr, "pippy validate: %s\n", err.msg);
    rc = rc < 0 ? 127 : rc;
    if (rc && tx) fprintf(tx, "%s pippy %s failed (see %s)\n", prefix, what, log);
    return rc;
}

/* The plan's one prediction (as pippy sim --plan, run and report make it)
 * and the run just stored, the newest of the plan, compared into r
 * (reports/pp_validate.h). Returns 0, or -1 with err. */
static int measure(const char *plan, const char *dbp, pp_validate_row *r, pp_err *err) {
    pp_plan p;
    pp_graph g;
    pp_prediction pr = {0};
    pp_db *db = NULL;
    pp_db_run run;
    pp_run_rank *rk = NULL;
    int found = 0, nrk = 0;
    char hash[65] = "";
    if (pp_plan_open(plan, &p, &g, hash, err)) return -1;
    int bad = pp_tool_predict(dbp, &p, &g, NULL, &pr, err) || pp_db_open_readonly(dbp, &db, err) || pp_db_run_latest_of_plan(db, hash, &run, &found, err);
    if (!bad && found && pp_db_run_ranks(db, run.id, &rk, &nrk, err)) nrk = 0;
    if (!bad)
        pp_validate_compare(r, found ? run.id : 0, pr.sim.iteration_s, run.iteration_s, run.predicted_iteration_s, rk,
                            nrk, pr.sim.peak_total_bytes, pr.sim.n_ranks);
    pp_graph_free(&g);
    free(rk);
    pp_db_close(db);
    pp_plan_free(&p);
    pp_prediction_free(&pr);
    return bad ? -1 : 0;
}

int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},       {"micro-batch", required_argument, 0, 'b'},
        {"seq", required_argument, 0, 'T'},         {"pp", required_argument, 0, 'p'},
        {"schedules", required_argument, 0, 'S'},   {"microbatches", required_argument, 0, 'M'},
        {"steps", required_argument, 0, 's'},       {"output", required_argument, 0, 'o'},
        {"db", required_argument, 0, 'D'},          {"json", no_argument, 0, 'J'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *model = "gpt2-tiny", *scheds = "gpipe,1f1b,interleaved,zbh1", *mlist = NULL, *outdir = "validate",
               *db_opt = NULL;
    long long mb = 4, seq = 64, pp = 2, steps = 8;
    int c, json = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'b': if (pp_tool_parse_int(TOOL, "--micro-batch", optarg, 1, 1 << 16, &mb)) return 2; break;
        case 'T': if (pp_tool_parse_int(TOOL, "--seq", optarg, 1, 1 << 20, &seq)) return 2; break;
        case 'p': if (pp_tool_parse_int(TOOL, "--pp", optarg, 1, 64, &pp)) return 2; break;
        case 'S': scheds = optarg; break;
        case 'M': mlist = optarg; break;
        case 's': if (pp_tool_parse_int(TOOL, "--steps", optarg, 2, 100000, &steps)) return 2; break;
        case 'o': outdir = optarg; break;
        case 'D': db_opt = optarg; break;
        case 'J': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: return pp_tool_usage_error(TOOL, "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return pp_tool_usage_error(TOOL, "unexpected argument '%s'", argv[optind]);
    const char *dbp = pp_tool_db_path(db_opt);
    /* The matrix. */
    pp_schedule_kind sk[32];
    const char *sn[32];
    int ns = 0, ms[PP_VALIDATE_MAX_M], nm = 0;
    pp_validate_list names;
    pp_validate_split(scheds, &names);
    for (int i = 0; i < names.n; i++) {
        pp_schedule_kind k;
        pp_err e = {0};
        if (pp_schedule_parse(names.item[i], &k, &e)) return pp_tool_usage_error(TOOL, "--schedules: %s", e.msg);
        if (ns == 32) return pp_tool_usage_error(TOOL, "--schedules: at most 32");
        sn[ns] = pp_schedule_name(k);
        sk[ns++] = k;
    }
    pp_err me = {0};
    if (pp_validate_counts(mlist, pp, ms, &nm, &me)) return pp_tool_usage_error(TOOL, "%s", me.msg);
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
        return pp_tool_usage_error(TOOL, "-o %s: cannot create: %s", outdir, strerror(errno));
    char pippy[4200];
    pp_err se = {0};
    if (pp_launch_sibling("pippy", pippy, sizeof pippy, &se)) return pp_tool_fail(TOOL, &se);
    pp_validate_cmds cmd;
    pp_validate_cmds_init(&cmd, pippy, outdir, model, mb, seq, pp, steps, dbp);

    FILE *tx = json ? stderr : stdout; /* the human text */
    fprintf(tx, "validate: %s, micro-batch %lld x seq %lld, pp %lld, %d schedules x %d microbatch counts; log in %s\n",
           model, mb, seq, pp, ns, nm, cmd.log);
    fprintf(tx, "profiling (ops and links)...\n");
    if (spawn(cmd.profile, cmd.log, stderr, "pippy validate:", "profile")) return 1;
    pp_validate_row *rows = pp_validate_rows_new(sn, ns, ms, nm);
    if (!rows) return 1;
    int nr = ns * nm, failed = 0;
    for (int i = 0; i < nr; i++) {
        pp_validate_row *r = &rows[i];
        pp_err e = {0};
        if (pp_schedule_check(sk[i / nm], (int)pp, r->m, 2, &e)) {
            fprintf(tx, "%-12s m=%-3d skipped: %s\n", r->sched, r->m, e.msg);
            continue;
        }
        pp_validate_cmds_config(&cmd, outdir, r->sched, r->m);
        pp_validate_print_planning(tx, r);
        if (spawn(cmd.plan, cmd.log, tx, "", "plan")) {
            failed++;
            continue;
        }
        pp_validate_print_running(tx);
        if (spawn(cmd.run, cmd.log, tx, "", "run")) {
            failed++;
            continue;
        }
        pp_err err = {0};
        int bad = measure(cmd.plan_path, dbp, r, &err);
        pp_validate_print_outcome(tx, r, bad ? err.msg : NULL);
        failed += bad || !r->ok;
    }
    pp_validate_stats st;
    pp_err je = {0};
    if (pp_validate_summarize(rows, nr, &st, &je)) {
        free(rows);
        return pp_tool_fail(TOOL, &je);
    }
    pp_validate_print(tx, rows, nr, &st, failed, cmd.log);
    if (json) {
        pp_jw w;
        pp_jw_init(&w);
        pp_validate_json(&w, model, mb, seq, pp, dbp, rows, nr, &st, failed);
        if (pp_tool_print_json(&w, &je)) {
            pp_tool_fail(TOOL, &je);
            failed++;
        }
    }
    fprintf(tx, "stored in %s; `pippy report --plan %s/plan-<schedule>-m<M>.json -o DIR` draws one\n", dbp, outdir);
    free(rows);
    return failed ? 1 : 0;
}
