/*
 * pippy-profile.c -- `pippy profile`: time every distinct op of a model and
 * store the profile in the database (signatures already profiled on this
 * device are reused unless --force); with --ranks N (N >= 2) then measure
 * the links between N MPI ranks, starting mpirun itself when not under one.
 * Measuring and printing are profiler/pp_profile's (see pp_profile.h), the
 * database's reads and writes costs/pp_costs_store's (every write at the
 * end, so an interrupted run leaves it as it was); this file parses argv,
 * copies the results into costs/' plain structs and starts the ranks,
 * which with --json hand their results back in a file (--links-out,
 * internal).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm/pp_comm.h"
#include "costs/pp_costs_store.h"
#include "db/pp_db.h"
#include "executor/pp_launch.h"
#include "profiler/pp_profile.h"
#include "tools/tool_common.h"

static const char *TOOL = "profile";

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy profile --model CONFIG [options]\n"
            "       pippy profile --only links [--ranks N] [options]\n\n"
            "Times the forward (F), backward-for-inputs (I) and backward-for-weights (W)\n"
            "pass of every distinct op of the model on this machine (each op signature\n"
            "once; signatures already in the database for this device are reused), and\n"
            "stores them with the bytes each op keeps. Then times one whole F+I+W step\n"
            "and prints it beside the sum of the per-op times.\n\n"
            "  --model CONFIG       model config or preset\n"
            "  --micro-batch N      sequences per microbatch (default 1)\n"
            "  --seq N              sequence length (default: the config's)\n"
            "  --threads N          compute threads (default 1)\n"
            "  --backend cpu|cuda   where the ops run (default cpu; cuda: GPU time, bf16 GEMMs,\n"
            "                       and the links between the ranks' GPUs over NCCL)\n"
            "  --ranks N            also measure the links between N ranks (default 2; 1: none):\n"
            "                       every ordered pair up to 8 ranks, above that the ring\n"
            "                       neighbours and every host pair; starts mpirun itself\n"
            "                       unless already under mpirun or srun\n"
            "  --only ops|links     measure only the ops, or only the links\n"
            "  --force              measure again what the database already holds, and print how\n"
            "                       many op medians lie within the spread of the stored profile\n"
            "  --no-check           skip the whole-step comparison\n"
            "  --json               one JSON object on stdout instead of the text\n"
            "  --db PATH            database (default $PIPPY_DB or ./pippy.db)\n"
            "  -h, --help           this help\n");
}

/* What o measured, into the database through costs/ (its plain structs).
 * Returns 0 or -1 (err). */
static int store(pp_db *db, long long dev, const pp_profile_result *o, pp_err *err) {
    pp_costs_link *l = calloc(o->n_links > 0 ? (size_t)o->n_links : 1, sizeof *l);
    if (!l) return pp_err_set(err, PP_ERR_NOMEM, "out of memory storing the profile");
    for (int i = 0; i < o->n_links; i++) {
        const pp_link_result *r = &o->links[i];
        l[i] = (pp_costs_link){r->src, r->dst, r->src_host, r->dst_host, r->alpha_s, r->beta_Bps, r->residual,
                               r->n_sizes, r->sizes};
    }
    pp_costs_profile_in in = {.g = o->g, .fresh = o->fresh, .m = o->m, .measured = o->measured, .check = o->check,
                              .whole_s = o->whole, .sum_s = o->sum, .optim_s = o->optim, .ranks = o->ranks,
                              .n_links = o->n_links, .links = l, .ar = {o->ar[0], o->ar[1], o->ar[2]}};
    int rc = pp_costs_store_profile(db, dev, &in, err);
    free(l);
    return rc;
}

/* The link phase, on every rank under MPI: measure, and rank 0 stores and
 * prints (text, JSON, or with links_out the dump for the starting process). */
static int links_phase(int *argc, char ***argv, const char *db_path, int threads, pp_backend_kind backend, int json,
                       const char *links_out) {
    pp_err err = {0};
    pp_comm *c = NULL;
    pp_profile_result o = {.db_path = db_path};
    if (pp_comm_init(argc, argv, &c, &err)) return pp_tool_fail(TOOL, &err);
    if (pp_profile_links_phase(c, backend, threads, &o, &err)) {
        pp_tool_fail(TOOL, &err);
        pp_comm_abort(c, 1);
        return 1;
    }
    int rc = 0;
    if (pp_comm_rank(c) == 0) {
        pp_db *db = NULL;
        long long dev;
        rc = pp_profile_describe(backend, threads, &o, NULL, &err) ||
             pp_costs_store_device(db_path, o.fp, o.desc, &db, &dev, &err) || store(db, dev, &o, &err);
        pp_db_close(db);
        if (rc || pp_profile_links_report(stdout, "stdout", &o, json, links_out, &err)) rc = pp_tool_fail(TOOL, &err);
    }
    free(o.links);
    pp_comm_free(c);
    return rc;
}

/* Starts `mpirun -np ranks <this program> --only links ...` through the one
 * launcher (executor/pp_launch.h) and waits; with --json the ranks leave
 * what they measured in a temporary file, read into o. Returns the exit
 * status. */
static int links_spawned(int ranks, const char *db_path, int threads, pp_backend_kind backend, int json,
                         pp_profile_result *o) {
    char self[4096], th[16], path[4096] = "";
    pp_err err = {0};
    if (json && pp_profile_links_tmpfile(path, sizeof path, &err)) return pp_tool_usage_error(TOOL, "%s", err.msg);
    snprintf(th, sizeof th, "%d", threads);
    char *args[] = {self, "--only", "links", "--db", (char *)db_path, "--threads", th, "--backend",
                    backend == PP_BACKEND_CUDA ? "cuda" : "cpu", json ? "--links-out" : NULL, path, NULL};
    pp_launch_opts lo;
    pp_launch_opts_init(&lo, "pippy profile");
    lo.n_ranks = ranks;
    pp_launch_result res;
    int rc = pp_launch_self(self, sizeof self, &err) ? -1 : pp_launch_run(args, &lo, &res, &err);
    if (rc < 0) {
        rc = pp_tool_fail(TOOL, &err);
    } else {
        if (res.exit_code == 127) fprintf(stderr, "pippy profile: links not measured\n");
        rc = rc ? (res.exit_code ? res.exit_code : 1) : 0;
    }
    if (json && !rc && pp_profile_links_load(path, o, &err)) rc = pp_tool_fail(TOOL, &err);
    if (json) unlink(path);
    return rc;
}

int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'}, {"micro-batch", required_argument, 0, 'b'},
        {"seq", required_argument, 0, 'T'},   {"threads", required_argument, 0, 't'},
        {"force", no_argument, 0, 'F'},       {"no-check", no_argument, 0, 'C'},
        {"db", required_argument, 0, 'D'},    {"help", no_argument, 0, 'h'},
        {"ranks", required_argument, 0, 'r'}, {"only", required_argument, 0, 'O'},
        {"backend", required_argument, 0, 'B'}, {"json", no_argument, 0, 'J'},
        {"links-out", required_argument, 0, 'L'}, {0, 0, 0, 0},
    };
    const char *model = NULL, *db_opt = NULL, *links_out = NULL;
    long long mb = 1, seq = 0, threads = 1, ranks = 2;
    int force = 0, check = 1, c, ops = 1, links = 1, json = 0;
    pp_backend_kind backend = PP_BACKEND_CPU;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'b': if (pp_tool_parse_int(TOOL, "--micro-batch", optarg, 1, 1 << 20, &mb)) return 2; break;
        case 'T': if (pp_tool_parse_int(TOOL, "--seq", optarg, 1, 1 << 22, &seq)) return 2; break;
        case 't': if (pp_tool_parse_int(TOOL, "--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'F': force = 1; break;
        case 'C': check = 0; break;
        case 'D': db_opt = optarg; break;
        case 'J': json = 1; break;
        case 'L': links_out = optarg; break;
        case 'r': if (pp_tool_parse_int(TOOL, "--ranks", optarg, 1, 4096, &ranks)) return 2; break;
        case 'O':
            if (!strcmp(optarg, "ops")) links = 0;
            else if (!strcmp(optarg, "links")) ops = 0;
            else return pp_tool_usage_error(TOOL, "--only: '%s' is not ops or links", optarg);
            break;
        case 'B':
            if (!strcmp(optarg, "cpu")) backend = PP_BACKEND_CPU;
            else if (!strcmp(optarg, "cuda")) backend = PP_BACKEND_CUDA;
            else return pp_tool_usage_error(TOOL, "--backend: '%s' is not cpu or cuda", optarg);
            break;
        case 'h': usage(stdout); return 0;
        default: return pp_tool_usage_error(TOOL, "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return pp_tool_usage_error(TOOL, "unexpected argument '%s'", argv[optind]);
    const char *dbp = pp_tool_db_path(db_opt);
    pp_err err = {0};
    if (!ops) {
        pp_profile_result o = {.db_path = dbp};
        if (pp_comm_under_mpi()) return links_phase(&argc, &argv, dbp, (int)threads, backend, json, links_out);
        if (ranks < 2) return pp_tool_usage_error(TOOL, "--only links needs --ranks of at least 2");
        int rc = links_spawned((int)ranks, dbp, (int)threads, backend, json, &o);
        if (!rc && json && pp_profile_print_json(stdout, "stdout", &o, &err)) rc = pp_tool_fail(TOOL, &err);
        free(o.links);
        return rc;
    }
    if (!model) return pp_tool_usage_error(TOOL, "--model is required");
    char path[4096];
    pp_model_config cfg;
    pp_graph g;
    if (pp_tool_model_path(model, path, sizeof path, &err) || pp_model_config_load(path, &cfg, &err))
        return pp_tool_fail(TOOL, &err);
    if (!seq) seq = cfg.seq_len;
    if (pp_zoo_build(&cfg, (int)mb, (int)seq, PP_DTYPE_F32, &g, &err)) return pp_tool_fail(TOOL, &err);
    pp_backend *be = NULL;
    pp_db *db = NULL;
    long long dev = 0;
    int rc = 1;
    pp_profile_result o = {.db_path = dbp, .model = cfg.name, .mb = mb, .seq = seq, .check = check, .force = force};
    if (pp_profile_describe(backend, (int)threads, &o, &be, &err) ||
        pp_costs_store_device(dbp, o.fp, o.desc, &db, &dev, &err) || pp_profile_result_alloc(&o, &g, &err) ||
        pp_costs_stored_ops(db, dev, &g, o.first, pp_profile_take_stored_cb, &o, &err))
        goto fail;
    pp_profile_tty tty = {stderr, pp_backend_now()};
    /* Op times measured before a failing whole-step check are kept. */
    pp_err merr = {0};
    int bad = pp_profile_measure_ops(&cfg, be, &o, pp_profile_progress_tty, &tty, &merr);
    if (bad && o.sum <= 0) o.measured = 0;
    if (bad) o.check = 0;
    if (store(db, dev, &o, &err)) goto fail;
    if (bad && (err = merr, 1)) goto fail;
    pp_db_close(db);
    db = NULL;
    if (!json) pp_profile_print_text(stdout, &o);
    rc = links && ranks >= 2 ? links_spawned((int)ranks, dbp, (int)threads, backend, json, &o) : 0;
    if (json && pp_profile_print_json(stdout, "stdout", &o, &err)) goto fail;
    goto done;
fail:
    rc = pp_tool_fail(TOOL, &err);
done:
    pp_profile_result_free(&o);
    pp_db_close(db);
    pp_backend_close(be);
    pp_graph_free(&g);
    return rc;
}
