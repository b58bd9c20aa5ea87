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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pp_json.h"
#include "core/pp_plan.h"
#include "db/pp_db.h"
#include "executor/pp_launch.h"
#include "planner/pp_schedgen.h"
#include "simulator/pp_predict.h"
#include "core/pp_stats.h"
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

/* Runs argv (a pippy command) with its stdout appended to `log` (when not
 * NULL), through the one launcher (executor/pp_launch.h); returns its exit
 * status, 127 when it could not start. */
static int spawn(char *const argv[], const char *log) {
    pp_launch_opts o;
    pp_launch_opts_init(&o, "pippy validate");
    o.log_path = log;
    pp_launch_result res;
    pp_err err = {0};
    int rc = pp_launch_run(argv, &o, &res, &err);
    if (rc < 0) fprintf(stderr, "pippy validate: %s\n", err.msg);
    return rc < 0 ? 127 : res.exit_code;
}

typedef struct row {
    char sched[32];
    int m;
    long long run_id;
    double pred_s, meas_s, err_t; /* err_t = (measured - predicted) / measured */
    double run_pred_s;            /* what pippy run printed and stored as predicted */
    double mem_err; /* worst |measured - predicted| / measured over ranks */
    int ok;
} row;

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
    char sl[32][32];
    int ns = 0, ms[16], nm = 0;
    {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", scheds);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            pp_schedule_kind k;
            pp_err e = {0};
            if (pp_schedule_parse(t, &k, &e)) return pp_tool_usage_error(TOOL, "--schedules: %s", e.msg);
            if (ns == 32) return pp_tool_usage_error(TOOL, "--schedules: at most 32");
            snprintf(sl[ns++], sizeof sl[0], "%s", pp_schedule_name(k));
        }
        if (mlist) {
            snprintf(buf, sizeof buf, "%s", mlist);
            for (char *t = strtok(buf, ","); t && nm < 16; t = strtok(NULL, ",")) {
                long long v;
                if (pp_tool_parse_int(TOOL, "--microbatches", t, 1, 4096, &v)) return 2;
                ms[nm++] = (int)v;
            }
        } else {
            for (int k = 1; k <= 8; k *= 2) ms[nm++] = (int)(k * pp);
        }
    }
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
        return pp_tool_usage_error(TOOL, "-o %s: cannot create: %s", outdir, strerror(errno));
    char self[4096], pippy[4200], log[4200];
    pp_err se = {0};
    if (pp_launch_self(self, sizeof self, &se)) return pp_tool_fail(TOOL, &se);
    char *slash = strrchr(self, '/');
    *slash = '\0';
    snprintf(pippy, sizeof pippy, "%s/pippy", self);
    snprintf(log, sizeof log, "%s/validate.log", outdir);
    char mbs[32], seqs[32], pps[32], stepss[32];
    snprintf(mbs, sizeof mbs, "%lld", mb);
    snprintf(seqs, sizeof seqs, "%lld", seq);
    snprintf(pps, sizeof pps, "%lld", pp);
    snprintf(stepss, sizeof stepss, "%lld", steps);

    FILE *tx = json ? stderr : stdout; /* the human text */
    fprintf(tx, "validate: %s, micro-batch %lld x seq %lld, pp %lld, %d schedules x %d microbatch counts; log in %s\n",
           model, mb, seq, pp, ns, nm, log);
    fprintf(tx, "profiling (ops and links)...\n");
    char *prof[] = {pippy, "profile", "--model", (char *)model, "--micro-batch", mbs, "--seq", seqs, "--ranks", pps,
                    "--db", (char *)dbp, NULL};
    if (spawn(prof, log)) {
        fprintf(stderr, "pippy validate: pippy profile failed (see %s)\n", log);
        return 1;
    }
    row *rows = calloc((size_t)(ns * nm), sizeof *rows);
    if (!rows) return 1;
    int nr = 0, failed = 0;
    for (int si = 0; si < ns; si++)
        for (int mi = 0; mi < nm; mi++) {
            row *r = &rows[nr++];
            snprintf(r->sched, sizeof r->sched, "%s", sl[si]);
            r->m = ms[mi];
            pp_schedule_kind kind;
            pp_err e = {0};
            pp_schedule_parse(r->sched, &kind, NULL);
            if (pp_schedule_check(kind, (int)pp, r->m, 2, &e)) {
                fprintf(tx, "%-12s m=%-3d skipped: %s\n", r->sched, r->m, e.msg);
                continue;
            }
            char plan[4300], batch[32], mstr[32];
            snprintf(plan, sizeof plan, "%s/plan-%s-m%d.json", outdir, r->sched, r->m);
            snprintf(batch, sizeof batch, "%lld", mb * r->m);
            snprintf(mstr, sizeof mstr, "%d", r->m);
            char *pl[] = {pippy, "plan", "--model", (char *)model, "--cluster", "local", "--batch", batch, "--seq", seqs,
                          "--pp", pps, "--microbatches", mstr, "--schedule", r->sched, "--db", (char *)dbp, "-o", plan,
                          NULL};
            fprintf(tx, "%-12s m=%-3d planning...", r->sched, r->m);
            fflush(tx);
            if (spawn(pl, log)) {
                fprintf(tx, " pippy plan failed (see %s)\n", log);
                failed++;
                continue;
            }
            fprintf(tx, " running...");
            fflush(tx);
            char *rn[] = {pippy, "run", "--plan", plan, "--steps", stepss, "--db", (char *)dbp, "--log-every", "1000", NULL};
            if (spawn(rn, log)) {
                fprintf(tx, " pippy run failed (see %s)\n", log);
                failed++;
                continue;
            }
            /* The run just stored: the newest of this plan. */
            pp_err err = {0};
            pp_plan p;
            pp_db *db = NULL;
            pp_db_run *runs = NULL;
            pp_run_rank *rk = NULL;
            int n = 0, nrk = 0;
            if (pp_plan_load(plan, &p, &err)) {
                fprintf(tx, " %s\n", err.msg);
                failed++;
                continue;
            }
            /* The plan's one prediction (as pippy sim --plan, run and
             * report make it) and the run just stored: the newest of the plan. */
            char hash[65] = "";
            pp_graph g;
            pp_prediction pr;
            memset(&pr, 0, sizeof pr);
            int have_g = pp_zoo_build(&p.model, p.micro_batch, p.seq_len, p.dtype, &g, &err) == 0;
            int bad = !have_g || pp_plan_hash(&p, &g, hash, &err) || pp_tool_predict(dbp, &p, &g, NULL, &pr, &err) ||
                      pp_db_open_readonly(dbp, &db, &err) || pp_db_runs_list(db, &runs, &n, &err);
            if (have_g) pp_graph_free(&g);
            if (bad) {
                fprintf(tx, " %s\n", err.msg);
                failed++;
                pp_prediction_free(&pr);
                pp_db_close(db);
                pp_plan_free(&p);
                continue;
            }
            r->pred_s = pr.sim.iteration_s;
            for (int i = 0; i < n; i++)
                if (!strcmp(runs[i].plan_hash, hash)) {
                    r->run_id = runs[i].id;
                    r->meas_s = runs[i].iteration_s;
                    r->run_pred_s = runs[i].predicted_iteration_s;
                    break;
                }
            if (r->run_id && pp_db_run_ranks(db, r->run_id, &rk, &nrk, &err) == 0) {
                for (int q = 0; q < nrk; q++) {
                    double pm = pr.sim.peak_total_bytes[rk[q].rank % pr.sim.n_ranks];
                    double me = fabs(pp_stats_rel_error((double)rk[q].peak_bytes, pm));
                    if (!(me <= r->mem_err)) r->mem_err = me;
                }
            }
            free(rk);
            free(runs);
            pp_db_close(db);
            pp_plan_free(&p);
            pp_prediction_free(&pr);
            if (!r->run_id || !(r->pred_s > 0) || !(r->meas_s > 0)) {
                fprintf(tx, " no run or prediction found\n");
                failed++;
                continue;
            }
            r->err_t = pp_stats_rel_error(r->meas_s, r->pred_s);
            r->ok = 1;
            fprintf(tx, " predicted %.3f ms, measured %.3f ms: %+.1f%%\n", r->pred_s * 1e3, r->meas_s * 1e3, 100 * r->err_t);
        }
    fprintf(tx, "\n%-12s %4s %6s %14s %14s %9s %11s\n", "schedule", "m", "run", "predicted ms", "measured ms", "error",
           "memory err");
    double *et = calloc((size_t)(nr + 1), sizeof *et), *em = calloc((size_t)(nr + 1), sizeof *em);
    int ne = 0;
    double worst_t = 0, worst_m = 0;
    for (int i = 0; i < nr; i++) {
        row *r = &rows[i];
        if (!r->ok) continue;
        fprintf(tx, "%-12s %4d %6lld %14.3f %14.3f %+8.1f%% %10.1f%%\n", r->sched, r->m, r->run_id, r->pred_s * 1e3,
               r->meas_s * 1e3, 100 * r->err_t, 100 * r->mem_err);
        et[ne] = fabs(r->err_t);
        em[ne++] = r->mem_err;
        if (fabs(r->err_t) > worst_t) worst_t = fabs(r->err_t);
        if (r->mem_err > worst_m) worst_m = r->mem_err;
    }
    double med_t = ne ? pp_stats_median(et, ne) : NAN, med_m = ne ? pp_stats_median(em, ne) : NAN;
    if (ne)
        fprintf(tx, "\n%d configurations: |predicted - measured| / measured iteration time: median %.1f%%, max %.1f%%; "
               "peak memory per rank: median %.1f%%, max %.1f%%\n",
               ne, 100 * med_t, 100 * worst_t, 100 * med_m, 100 * worst_m);
    if (failed) fprintf(tx, "%d configurations failed (see %s)\n", failed, log);
    if (json) {
        pp_jw w;
        pp_err je = {0};
        pp_jw_init(&w);
        pp_jw_obj_begin(&w);
        pp_jw_key(&w, "model"); pp_jw_str(&w, model);
        pp_jw_key(&w, "micro_batch"); pp_jw_int(&w, mb);
        pp_jw_key(&w, "seq_len"); pp_jw_int(&w, seq);
        pp_jw_key(&w, "pp"); pp_jw_int(&w, pp);
        pp_jw_key(&w, "database"); pp_jw_str(&w, dbp);
        pp_jw_key(&w, "configurations");
        pp_jw_arr_begin(&w);
        for (int i = 0; i < nr; i++) {
            const row *r = &rows[i];
            pp_jw_obj_begin(&w);
            pp_jw_key(&w, "schedule"); pp_jw_str(&w, r->sched);
            pp_jw_key(&w, "microbatches"); pp_jw_int(&w, r->m);
            pp_jw_key(&w, "ok"); pp_jw_bool(&w, r->ok);
            pp_jw_key(&w, "run"); if (r->run_id) pp_jw_int(&w, r->run_id); else pp_jw_null(&w);
            pp_jw_key(&w, "predicted_iteration_s"); pp_jw_num(&w, r->ok ? r->pred_s : NAN);
            pp_jw_key(&w, "run_predicted_iteration_s"); pp_jw_num(&w, r->ok ? r->run_pred_s : NAN);
            pp_jw_key(&w, "measured_iteration_s"); pp_jw_num(&w, r->ok ? r->meas_s : NAN);
            pp_jw_key(&w, "rel_error"); pp_jw_num(&w, r->ok ? r->err_t : NAN);
            pp_jw_key(&w, "memory_rel_error_max"); pp_jw_num(&w, r->ok ? r->mem_err : NAN);
            pp_jw_obj_end(&w);
        }
        pp_jw_arr_end(&w);
        pp_jw_key(&w, "iteration_abs_error_median"); pp_jw_num(&w, ne ? med_t : NAN);
        pp_jw_key(&w, "iteration_abs_error_max"); pp_jw_num(&w, ne ? worst_t : NAN);
        pp_jw_key(&w, "memory_error_median"); pp_jw_num(&w, ne ? med_m : NAN);
        pp_jw_key(&w, "memory_error_max"); pp_jw_num(&w, ne ? worst_m : NAN);
        pp_jw_key(&w, "failed"); pp_jw_int(&w, failed);
        pp_jw_obj_end(&w);
        if (pp_tool_print_json(&w, &je)) {
            pp_tool_fail(TOOL, &je);
            failed++;
        }
    }
    fprintf(tx, "stored in %s; `pippy report --plan %s/plan-<schedule>-m<M>.json -o DIR` draws one\n", dbp, outdir);
    free(et);
    free(em);
    free(rows);
    return failed ? 1 : 0;
}
