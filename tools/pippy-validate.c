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
#include <sys/wait.h>
#include <unistd.h>

#include "core/pp_plan.h"
#include "db/pp_db.h"
#include "planner/pp_schedgen.h"
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
            "  -h, --help           this help\n");
}

/* Runs argv (a pippy command) with its stdout appended to `log` (when not
 * NULL); returns its exit status. */
static int spawn(char *const argv[], const char *log) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 127;
    if (pid == 0) {
        if (log) {
            FILE *f = freopen(log, "a", stdout);
            if (!f) _exit(127);
        }
        execv(argv[0], argv);
        fprintf(stderr, "pippy validate: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0) return 127;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

typedef struct row {
    char sched[32];
    int m;
    long long run_id;
    double pred_s, meas_s, err_t;
    double mem_err; /* worst |pred - meas| / meas over ranks */
    int ok;
} row;

int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},       {"micro-batch", required_argument, 0, 'b'},
        {"seq", required_argument, 0, 'T'},         {"pp", required_argument, 0, 'p'},
        {"schedules", required_argument, 0, 'S'},   {"microbatches", required_argument, 0, 'M'},
        {"steps", required_argument, 0, 's'},       {"output", required_argument, 0, 'o'},
        {"db", required_argument, 0, 'D'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *model = "gpt2-tiny", *scheds = "gpipe,1f1b,interleaved,zbh1", *mlist = NULL, *outdir = "validate",
               *db_opt = NULL;
    long long mb = 4, seq = 64, pp = 2, steps = 8;
    int c;
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
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return pp_tool_usage_error(TOOL, "cannot find this program's folder");
    self[k] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    snprintf(pippy, sizeof pippy, "%s/pippy", self);
    snprintf(log, sizeof log, "%s/validate.log", outdir);
    char mbs[32], seqs[32], pps[32], stepss[32];
    snprintf(mbs, sizeof mbs, "%lld", mb);
    snprintf(seqs, sizeof seqs, "%lld", seq);
    snprintf(pps, sizeof pps, "%lld", pp);
    snprintf(stepss, sizeof stepss, "%lld", steps);

    printf("validate: %s, micro-batch %lld x seq %lld, pp %lld, %d schedules x %d microbatch counts; log in %s\n",
           model, mb, seq, pp, ns, nm, log);
    printf("profiling (ops and links)...\n");
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
                printf("%-12s m=%-3d skipped: %s\n", r->sched, r->m, e.msg);
                continue;
            }
            char plan[4300], batch[32], mstr[32];
            snprintf(plan, sizeof plan, "%s/plan-%s-m%d.json", outdir, r->sched, r->m);
            snprintf(batch, sizeof batch, "%lld", mb * r->m);
            snprintf(mstr, sizeof mstr, "%d", r->m);
            char *pl[] = {pippy, "plan", "--model", (char *)model, "--cluster", "local", "--batch", batch, "--seq", seqs,
                          "--pp", pps, "--microbatches", mstr, "--schedule", r->sched, "--db", (char *)dbp, "-o", plan,
                          NULL};
            printf("%-12s m=%-3d planning...", r->sched, r->m);
            fflush(stdout);
            if (spawn(pl, log)) {
                printf(" pippy plan failed (see %s)\n", log);
                failed++;
                continue;
            }
            printf(" running...");
            fflush(stdout);
            char *rn[] = {pippy, "run", "--plan", plan, "--steps", stepss, "--db", (char *)dbp, "--log-every", "1000", NULL};
            if (spawn(rn, log)) {
                printf(" pippy run failed (see %s)\n", log);
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
                printf(" %s\n", err.msg);
                failed++;
                continue;
            }
            char hash[65] = "";
            pp_graph g;
            if (pp_zoo_build(&p.model, p.micro_batch, p.seq_len, p.dtype, &g, &err) == 0) {
                pp_plan_hash(&p, &g, hash, &err);
                pp_graph_free(&g);
            }
            if (pp_db_open_readonly(dbp, &db, &err) || pp_db_runs_list(db, &runs, &n, &err)) {
                printf(" %s\n", err.msg);
                failed++;
                pp_db_close(db);
                pp_plan_free(&p);
                continue;
            }
            for (int i = 0; i < n; i++)
                if (!strcmp(runs[i].plan_hash, hash)) {
                    r->run_id = runs[i].id;
                    r->meas_s = runs[i].iteration_s;
                    r->pred_s = runs[i].predicted_iteration_s;
                    break;
                }
            if (r->run_id && pp_db_run_ranks(db, r->run_id, &rk, &nrk, &err) == 0) {
                for (int q = 0; q < nrk; q++) {
                    double pm = p.prediction.present && p.prediction.peak_memory_bytes
                                    ? p.prediction.peak_memory_bytes[rk[q].rank % p.pp]
                                    : 0;
                    double me = rk[q].peak_bytes > 0 ? fabs(pm - (double)rk[q].peak_bytes) / (double)rk[q].peak_bytes : NAN;
                    if (!(me <= r->mem_err)) r->mem_err = me;
                }
            }
            free(rk);
            free(runs);
            pp_db_close(db);
            pp_plan_free(&p);
            if (!r->run_id || !(r->pred_s > 0) || !(r->meas_s > 0)) {
                printf(" no run or prediction found\n");
                failed++;
                continue;
            }
            r->err_t = (r->pred_s - r->meas_s) / r->meas_s;
            r->ok = 1;
            printf(" predicted %.3f ms, measured %.3f ms: %+.1f%%\n", r->pred_s * 1e3, r->meas_s * 1e3, 100 * r->err_t);
        }
    printf("\n%-12s %4s %6s %14s %14s %9s %11s\n", "schedule", "m", "run", "predicted ms", "measured ms", "error",
           "memory err");
    double *et = calloc((size_t)(nr + 1), sizeof *et), *em = calloc((size_t)(nr + 1), sizeof *em);
    int ne = 0;
    double worst_t = 0, worst_m = 0;
    for (int i = 0; i < nr; i++) {
        row *r = &rows[i];
        if (!r->ok) continue;
        printf("%-12s %4d %6lld %14.3f %14.3f %+8.1f%% %10.1f%%\n", r->sched, r->m, r->run_id, r->pred_s * 1e3,
               r->meas_s * 1e3, 100 * r->err_t, 100 * r->mem_err);
        et[ne] = fabs(r->err_t);
        em[ne++] = r->mem_err;
        if (fabs(r->err_t) > worst_t) worst_t = fabs(r->err_t);
        if (r->mem_err > worst_m) worst_m = r->mem_err;
    }
    if (ne)
        printf("\n%d configurations: |predicted - measured| / measured iteration time: median %.1f%%, max %.1f%%; "
               "peak memory per rank: median %.1f%%, max %.1f%%\n",
               ne, 100 * pp_stats_median(et, ne), 100 * worst_t, 100 * pp_stats_median(em, ne), 100 * worst_m);
    if (failed) printf("%d configurations failed (see %s)\n", failed, log);
    printf("stored in %s; `pippy report --plan %s/plan-<schedule>-m<M>.json -o DIR` draws one\n", dbp, outdir);
    free(et);
    free(em);
    free(rows);
    return failed ? 1 : 0;
}
