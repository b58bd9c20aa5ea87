/*
 * pippy-profile.c -- `pippy profile`: time every distinct op of a model
 * (F, I and W, once per op signature on this device) and store the
 * profile in the database; signatures already profiled on this device are
 * reused unless --force. Everything measured is written in one transaction
 * at the end, so an interrupted run leaves the database as it was.
 * With --ranks N (N >= 2) it then measures the links between N MPI ranks
 * (ping-pong and streaming, 8 B to 64 MiB, alpha-beta fit; every ordered
 * pair up to 8 ranks, a sample of them above: see pp_linkprof.h), starting
 * mpirun itself when it is not already running under one. With --force it
 * says how many re-measured op medians agree with the stored ones within
 * their spread.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comm/pp_comm.h"
#include "profiler/pp_linkprof.h"

#include "core/pp_hash.h"
#include "core/pp_zoo.h"
#include "db/pp_db.h"
#include "kernels/pp_backend.h"
#include "kernels/pp_engine.h"
#include "kernels/pp_init.h"
#include "kernels/pp_optim.h"
#include "profiler/pp_opprof.h"
#ifdef PP_HAVE_NCCL
#include "comm/pp_nccl.h"
#include "kernels/cuda/pp_cuda_backend.h"
#include "profiler/pp_gpulink.h"
#endif
#include "core/pp_stats.h"
#include "costs/pp_costs.h"
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
            "  --db PATH            database (default $PIPPY_DB or ./pippy.db)\n"
            "  -h, --help           this help\n");
}

/* Times whole F + I + W steps of the model; median of reps, seconds. */
static int whole_step(const pp_model_config *cfg, const pp_graph *g, pp_backend *be, int reps, double *out,
                      double *optim_per_param, pp_err *err) {
    pp_engine *e;
    if (pp_engine_create(g, 0, g->n_ops, be, &e, err)) return -1;
    for (int i = 0; i < pp_engine_n_params(e); i++) {
        int t = pp_engine_param_tensor(e, i);
        size_t bytes = (size_t)pp_tensor_bytes(&g->tensors[t]);
        float *h = pp_malloc(bytes ? bytes : 1, err);
        if (!h) {
            pp_engine_free(e);
            return -1;
        }
        pp_init_param(cfg, &g->tensors[t], 1234, h);
        pp_backend_upload(be, pp_engine_param(e, t), h, bytes);
        free(h);
    }
    double ts[16];
    int rc = -1;
    for (int r = -1; r < reps; r++) {
        double tw = pp_backend_now();
        if (pp_engine_begin(e, 0, err)) goto done;
        for (int k = 0; k < pp_engine_n_inputs(e); k++) {
            int t = pp_engine_input_tensor(e, k);
            int32_t *buf = pp_engine_buffer(e, 0, t, err);
            long long n = pp_tensor_numel(&g->tensors[t]);
            int32_t *h = buf ? pp_malloc((unsigned long long)n * sizeof(int32_t) + 4, err) : NULL;
            if (!h) goto done;
            for (long long i = 0; i < n; i++) h[i] = (int32_t)(pp_init_splitmix64((uint64_t)(i + 31 * r + 7)) % 256);
            pp_backend_upload(be, buf, h, (size_t)n * sizeof(int32_t));
            free(h);
        }
        pp_backend_sync(be);
        double t0 = pp_backend_now();
        if (pp_engine_forward(e, 0, err) || pp_engine_backward(e, 0, 1.0f, err)) goto done;
        pp_backend_sync(be);
        if (r >= 0) ts[r] = pp_backend_now() - t0;
        if (r < 0) {
            /* As many steps as fill about 0.3 s, 5 to 15. */
            double one = pp_backend_now() - tw;
            int want = one > 0 ? (int)(0.3 / one) : 15;
            reps = want < reps ? reps : want > 15 ? 15 : want;
        }
    }
    pp_stats_sort(ts, reps);
    *out = ts[reps / 2];
    /* The step-level work the executor does per parameter: gradient norm,
     * AdamW, zeroing (median of reps, per parameter). */
    pp_optim opt;
    if (pp_optim_init(&opt, be, e, err)) goto done;
    pp_adamw_hyper h = pp_adamw_defaults();
    long long np;
    pp_engine_params_flat(e, &np);
    for (int r = -1; r < reps; r++) {
        double t0 = pp_backend_now();
        double norm = sqrt(pp_optim_sumsq(be, e));
        pp_optim_step(&opt, be, e, g, &h, 1e-9, pp_optim_clip_scale(&h, norm));
        pp_engine_zero_grads(e);
        pp_backend_sync(be);
        if (r >= 0) ts[r] = pp_backend_now() - t0;
    }
    pp_optim_free(&opt, be);
    pp_stats_sort(ts, reps);
    *optim_per_param = np > 0 ? ts[reps / 2] / (double)np : 0;
    rc = 0;
done:
    pp_engine_free(e);
    return rc;
}

/* With --force: how many of the re-measured op medians (op signature and
 * pass, a pass timed 0 both times left out) lie within the spread of the
 * profile stored before, |new - old| <= max(spread new, spread old), and
 * the worst of those that do not. Nothing when no op had a profile. */
static void compare_previous(const pp_graph *g, const pp_op_measure *m, const pp_op_measure *prev,
                             const int *had_prev, double res) {
    static const char pass[3] = {'F', 'I', 'W'};
    int agree = 0, total = 0, worst_op = -1, worst_p = 0;
    double worst = 0;
    for (int i = 0; i < g->n_ops; i++) {
        if (!had_prev[i]) continue;
        for (int p = 0; p < 3; p++) {
            double mn = m[i].t[p], mo = prev[i].t[p];
            double s = m[i].spread[p] > prev[i].spread[p] ? m[i].spread[p] : prev[i].spread[p];
            if (mn <= 0 && mo <= 0) continue;
            total++;
            double dev = mn > mo ? mn - mo : mo - mn;
            if (dev <= s) {
                agree++;
            } else if (dev / (s > res ? s : res) > worst) {
                worst = dev / (s > res ? s : res);
                worst_op = i;
                worst_p = p;
            }
        }
    }
    if (!total) return;
    printf("stability: %d/%d op medians within the spread of the previous profile "
           "(|median new - median old| <= max(spread new, spread old))\n",
           agree, total);
    if (worst_op >= 0) {
        const pp_op_measure *w = &m[worst_op];
        const pp_op_measure *o = &prev[worst_op];
        double s = w->spread[worst_p] > o->spread[worst_p] ? w->spread[worst_p] : o->spread[worst_p];
        printf("  farthest outside: %s %c: %.4f ms now, %.4f ms before, spread %.4f ms\n",
               pp_op_kind_name(g->ops[worst_op].kind), pass[worst_p], w->t[worst_p] * 1e3, o->t[worst_p] * 1e3,
               s * 1e3);
    }
}

/* The link phase, on every rank under MPI: measure, and rank 0 stores. */
#ifdef PP_HAVE_NCCL
/* The GPU links: NCCL between the ranks' GPUs (pp_gpulink), over the same
 * pairs as the host benchmark would take; the results end on rank 0 (*res,
 * *n). Collective. Returns 0 or -1. */
static int gpu_links(pp_comm *c, const pp_linkprof_opts *o, int threads, pp_link_result **res, int *n,
                     pp_err *err) {
    int size = pp_comm_size(c), me = pp_comm_rank(c), rc = -1, np = 0, *pairs = NULL;
    char host[128] = "", (*hosts)[128] = pp_calloc((unsigned long long)size, 128, err);
    pp_backend *be = NULL;
    pp_nccl *nc = NULL;
    *res = NULL;
    *n = 0;
    if (!hosts || pp_comm_hostname(c, host, sizeof host, err) || pp_comm_allgather(c, host, 128, hosts, err)) goto done;
    if (pp_backend_open(PP_BACKEND_CUDA, threads, &be, err) ||
        pp_nccl_init(c, pp_cuda_backend_device(be), &nc, err) ||
        pp_linkprof_pairs(o, size, (const char (*)[128])hosts, &pairs, &np, err))
        goto done;
    if (me == 0 && !(*res = pp_calloc((unsigned long long)(np ? np : 1), sizeof **res, err))) goto done;
    for (int i = 0; i < np; i++) {
        pp_link_result r;
        memset(&r, 0, sizeof r);
        int src = pairs[2 * i], dst = pairs[2 * i + 1];
        if (pp_gpulink_measure(c, nc, be, src, dst, o, &r, err)) goto done;
        snprintf(r.src_host, sizeof r.src_host, "%s", hosts[src]);
        snprintf(r.dst_host, sizeof r.dst_host, "%s", hosts[dst]);
        if (src == 0 && me == 0) (*res)[i] = r;
        else if (me == src && pp_comm_send(c, &r, sizeof r, 0, i % 32768, err)) goto done;
        else if (me == 0 && pp_comm_recv(c, &(*res)[i], sizeof r, src, i % 32768, err)) goto done;
    }
    *n = me == 0 ? np : 0;
    rc = 0;
done:
    if (rc && me == 0) {
        free(*res);
        *res = NULL;
    }
    pp_nccl_free(nc);
    pp_backend_close(be);
    free(pairs);
    free(hosts);
    return rc;
}
#endif

static int links_phase(int *argc, char ***argv, const char *db_path, int threads, pp_backend_kind backend) {
    pp_err err = {0};
    pp_comm *c = NULL;
    pp_link_result *res = NULL;
    int n = 0, bad;
    if (pp_comm_init(argc, argv, &c, &err)) return pp_tool_fail(TOOL, &err);
    pp_linkprof_opts o;
    pp_linkprof_opts_default(&o);
    if (backend == PP_BACKEND_CUDA) {
#ifdef PP_HAVE_NCCL
        bad = gpu_links(c, &o, threads, &res, &n, &err);
#else
        bad = pp_err_set(&err, PP_ERR_UNSUPPORTED, "GPU links need NCCL, which this build lacks");
#endif
    } else {
        bad = pp_linkprof_run(c, &o, NULL, 0, &res, &n, &err);
    }
    /* The all-reduce over all the ranks (tied and data-parallel gradients). */
    double ar_a = 0, ar_b = 0, ar_r = 0;
    if (!bad && backend == PP_BACKEND_CPU) bad = pp_linkprof_allreduce(c, &o, &ar_a, &ar_b, &ar_r, &err);
    if (bad) {
        pp_tool_fail(TOOL, &err);
        pp_comm_abort(c, 1);
        return 1;
    }
    int rc = 0;
    if (pp_comm_rank(c) == 0) {
        char desc[1024], fp[65];
        pp_backend *be = NULL;
        pp_db *db = NULL;
        long long dev;
        rc = 1;
        if (pp_backend_open(backend, threads, &be, &err)) goto out;
        pp_backend_describe(be, desc, sizeof desc);
        pp_sha256_hex(desc, strlen(desc), fp);
        if (pp_db_open(db_path, &db, &err) || pp_db_begin(db, &err) || pp_db_device_put(db, fp, desc, &dev, &err))
            goto out;
        printf("%-6s %-24s %12s %12s %10s\n", "link", "hosts", "alpha us", "beta GB/s", "residual");
        for (int i = 0; i < n; i++) {
            pp_db_link l;
            memset(&l, 0, sizeof l);
            l.src_rank = res[i].src;
            l.dst_rank = res[i].dst;
            snprintf(l.src_host, sizeof l.src_host, "%s", res[i].src_host);
            snprintf(l.dst_host, sizeof l.dst_host, "%s", res[i].dst_host);
            l.alpha_s = res[i].alpha_s;
            l.beta_Bps = res[i].beta_Bps;
            l.residual = res[i].residual;
            size_t o2 = (size_t)snprintf(l.sizes_json, sizeof l.sizes_json, "[");
            for (int k = 0; k < res[i].n_sizes && o2 < sizeof l.sizes_json - 16; k++)
                o2 += (size_t)snprintf(l.sizes_json + o2, sizeof l.sizes_json - o2, "%s%.0f", k ? "," : "",
                                       res[i].sizes[k]);
            snprintf(l.sizes_json + o2, sizeof l.sizes_json - o2, "]");
            if (pp_db_link_put(db, dev, &l, &err)) goto out;
            char hosts[300];
            snprintf(hosts, sizeof hosts, "%s -> %s", res[i].src_host, res[i].dst_host);
            printf("%d->%-3d %-24s %12.4f %12.3f %10.3f\n", res[i].src, res[i].dst, hosts, res[i].alpha_s * 1e6,
                   res[i].beta_Bps / 1e9, res[i].residual);
        }
        if (ar_b > 0) {
            pp_db_collective_profile p = {.op = PP_COSTS_ALLREDUCE, .dtype = PP_COSTS_DTYPE,
                                          .n_ranks = pp_comm_size(c), .alpha_s = ar_a, .beta_Bps = ar_b,
                                          .residual = ar_r, .samples = 1};
            if (pp_db_collective_profile_put(db, dev, &p, &err)) goto out;
            printf("all-reduce over %d ranks: %.2f us + bytes / %.3f GB/s (residual %.3f)\n", pp_comm_size(c),
                   ar_a * 1e6, ar_b / 1e9, ar_r);
        }
        if (pp_db_commit(db, &err)) goto out;
        int size = pp_comm_size(c), all = size * (size - 1);
        if (n < all)
            printf("measured %d of %d ordered rank pairs: a sample on more than %d ranks (ring neighbours both ways, "
                   "every host pair at least once)\n",
                   n, all, o.sample_above);
        else
            printf("measured %d of %d ordered rank pairs: all\n", n, all);
        printf("links stored in %s (device %.12s)\n", db_path, fp);
        rc = 0;
    out:
        if (rc) {
            pp_tool_fail(TOOL, &err);
            if (db) pp_db_rollback(db, NULL);
        }
        pp_db_close(db);
        pp_backend_close(be);
    }
    free(res);
    pp_comm_free(c);
    return rc;
}

/* Starts `mpirun -np ranks <this program> --only links ...` and waits. */
static int spawn_links(int ranks, const char *db_path, int threads, pp_backend_kind backend) {
    char self[4096], np[16], th[16];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return pp_tool_usage_error(TOOL, "cannot find this program to start it under mpirun");
    self[k] = '\0';
    snprintf(np, sizeof np, "%d", ranks);
    snprintf(th, sizeof th, "%d", threads);
    char *args[] = {"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", np, self, "--only", "links",
                    "--db", (char *)db_path, "--threads", th, "--backend",
                    backend == PP_BACKEND_CUDA ? "cuda" : "cpu", NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return pp_tool_usage_error(TOOL, "cannot start mpirun");
    if (pid == 0) {
        execvp("mpirun", args);
        fprintf(stderr, "pippy profile: cannot run mpirun (install openmpi-bin): links not measured\n");
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0) return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},   {"micro-batch", required_argument, 0, 'b'},
        {"seq", required_argument, 0, 'T'},     {"threads", required_argument, 0, 't'},
        {"force", no_argument, 0, 'F'},         {"no-check", no_argument, 0, 'C'},
        {"db", required_argument, 0, 'D'},      {"help", no_argument, 0, 'h'},
        {"ranks", required_argument, 0, 'r'},   {"only", required_argument, 0, 'O'},
        {"backend", required_argument, 0, 'B'},
        {0, 0, 0, 0},
    };
    const char *model = NULL, *db_opt = NULL;
    long long mb = 1, seq = 0, threads = 1, ranks = 2;
    int force = 0, check = 1, c, ops = 1, links = 1;
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
    if (!ops) {
        if (pp_comm_under_mpi()) return links_phase(&argc, &argv, dbp, (int)threads, backend);
        if (ranks < 2) return pp_tool_usage_error(TOOL, "--only links needs --ranks of at least 2");
        return spawn_links((int)ranks, dbp, (int)threads, backend);
    }
    if (!model) return pp_tool_usage_error(TOOL, "--model is required");
    pp_err err = {0};
    char path[4096], desc[1024], fp[65];
    pp_model_config cfg;
    pp_graph g;
    if (pp_tool_model_path(model, path, sizeof path, &err) || pp_model_config_load(path, &cfg, &err))
        return pp_tool_fail(TOOL, &err);
    if (!seq) seq = cfg.seq_len;
    if (pp_zoo_build(&cfg, (int)mb, (int)seq, PP_DTYPE_F32, &g, &err)) return pp_tool_fail(TOOL, &err);
    pp_backend *be = NULL;
    pp_db *db = NULL;
    pp_op_measure *m = NULL;
    char (*sig)[512] = NULL;
    pp_op_measure *prev = NULL; /* with --force: what was stored before, to compare */
    int *fresh = NULL, *had_prev = NULL, rc = 1;
    long long dev = 0;
    if (pp_backend_open(backend, (int)threads, &be, &err)) goto fail;
    pp_backend_describe(be, desc, sizeof desc);
    pp_sha256_hex(desc, strlen(desc), fp);
    if (pp_db_open(pp_tool_db_path(db_opt), &db, &err) || pp_db_device_put(db, fp, desc, &dev, &err)) goto fail;
    printf("device %.12s: %s\n", fp, desc);
    m = pp_calloc((unsigned long long)g.n_ops, sizeof *m, &err);
    sig = pp_calloc((unsigned long long)g.n_ops, sizeof *sig, &err);
    fresh = pp_calloc((unsigned long long)g.n_ops, sizeof *fresh, &err);
    had_prev = pp_calloc((unsigned long long)g.n_ops, sizeof *had_prev, &err);
    prev = pp_calloc((unsigned long long)g.n_ops, sizeof *prev, &err);
    if (!m || !sig || !fresh || !had_prev || !prev) goto fail;
    int uniq = 0, measured = 0, reused = 0, n_new = 0;
    int *first = pp_calloc((unsigned long long)g.n_ops, sizeof(int), &err);
    if (!first) goto fail;
    for (int i = 0; i < g.n_ops; i++) {
        pp_opprof_signature(&g, i, sig[i], sizeof sig[i]);
        first[i] = i;
        for (int j = 0; j < i; j++)
            if (!strcmp(sig[j], sig[i])) {
                first[i] = j;
                break;
            }
        if (first[i] != i) continue;
        uniq++;
        pp_db_op_profile p;
        int found = 0;
        if (pp_db_op_profile_get(db, dev, sig[i], &p, &found, &err)) {
            free(first);
            goto fail;
        }
        if (found && force) {
            prev[i] = p.m;
            had_prev[i] = 1;
        }
        if (found && !force) {
            m[i] = p.m;
            reused++;
        } else {
            fresh[i] = 1;
            n_new++;
        }
    }
    /* Rounds over all the new ops, so that each op's samples span the whole
     * run and its spread shows how the machine drifted meanwhile (see
     * pp_opprof_summarize_rounds). */
    double t_start = pp_backend_now(), res = pp_opprof_timer_resolution();
    /* Repetitions per round: 2, or as many as fill about 2 ms for an op
     * that takes microseconds (up to 64), so that a momentary hiccup of the
     * machine cannot move the median of a cheap op. */
    const int rounds = 6;
    double **samples = pp_calloc((unsigned long long)g.n_ops * 3, sizeof(double *), &err);
    int *ns = pp_calloc((unsigned long long)g.n_ops, sizeof(int), &err);
    int *per_round = pp_calloc((unsigned long long)g.n_ops, sizeof(int), &err);
    if (!samples || !ns || !per_round) {
        free(samples);
        free(ns);
        free(per_round);
        free(first);
        goto fail;
    }
    int bad = 0;
    for (int i = 0; i < g.n_ops && !bad; i++) {
        if (!fresh[i]) continue;
        double one[3], *probe[3] = {&one[0], &one[1], &one[2]};
        int n1 = 0;
        long long kf, kw;
        if (pp_opprof_sample(&g, i, be, 1, 1, probe, &n1, &kf, &kw, &err)) {
            bad = 1;
            break;
        }
        double t_op = one[0] + one[1] + one[2];
        per_round[i] = t_op > 0 ? (int)(2e-3 / t_op) : 64;
        if (per_round[i] < 2) per_round[i] = 2;
        if (per_round[i] > 64) per_round[i] = 64;
        for (int p = 0; p < 3 && !bad; p++)
            bad = !(samples[3 * i + p] = pp_calloc((unsigned long long)rounds * per_round[i], sizeof(double), &err));
    }
    for (int round = 0; round < rounds && !bad; round++) {
        for (int i = 0; i < g.n_ops && !bad; i++) {
            if (!fresh[i]) continue;
            if (pp_opprof_sample(&g, i, be, round == 0 ? 2 : 1, per_round[i], &samples[3 * i], &ns[i], &m[i].keep_f_bytes,
                                 &m[i].keep_w_bytes, &err)) {
                bad = 1;
                break;
            }
            measured++;
            if (isatty(2)) {
                int total = n_new * rounds;
                double el = pp_backend_now() - t_start, eta = el / measured * (total - measured);
                int bar = 30 * measured / (total ? total : 1);
                fprintf(stderr, "\r[%.*s%*s] round %d/%d, %d/%d ops, %.0f s, ETA %.0f s ", bar,
                        "==============================", 30 - bar, "", round + 1, rounds, measured, total, el, eta);
                if (measured == total) fprintf(stderr, "\n");
            }
        }
    }
    for (int i = 0; i < g.n_ops && !bad; i++) {
        if (!fresh[i]) continue;
        pp_opprof_summarize_rounds(&samples[3 * i], ns[i], rounds, res, &m[i]);
        m[i].param_bytes = g.ops[i].cost.param_bytes;
    }
    for (int i = 0; i < 3 * g.n_ops; i++) free(samples[i]);
    free(samples);
    free(ns);
    free(per_round);
    measured /= rounds;
    if (bad) {
        free(first);
        goto fail;
    }
    for (int i = 0; i < g.n_ops; i++) m[i] = m[first[i]];
    free(first);
    /* Everything new in one transaction. */
    if (measured) {
        if (pp_db_begin(db, &err)) goto fail;
        for (int i = 0; i < g.n_ops; i++) {
            if (!fresh[i]) continue;
            pp_db_op_profile p;
            memset(&p, 0, sizeof p);
            snprintf(p.signature, sizeof p.signature, "%s", sig[i]);
            snprintf(p.kind, sizeof p.kind, "%s", pp_op_kind_name(g.ops[i].kind));
            p.m = m[i];
            if (pp_db_op_profile_put(db, dev, &p, &err)) {
                pp_db_rollback(db, NULL);
                goto fail;
            }
        }
        if (pp_db_commit(db, &err)) goto fail;
    }
    double sum = 0;
    for (int i = 0; i < g.n_ops; i++) sum += m[i].t[0] + m[i].t[1] + m[i].t[2];
    printf("%s, micro-batch %lld x seq %lld: %d ops, %d distinct signatures: %d measured in %.2f s, %d reused\n",
           cfg.name, mb, seq, g.n_ops, uniq, measured, pp_backend_now() - t_start, reused);
    printf("sum of per-op F+I+W times for one microbatch: %.4f ms\n", sum * 1e3);
    compare_previous(&g, m, prev, had_prev, res);
    if (check) {
        double whole, optim;
        if (whole_step(&cfg, &g, be, 5, &whole, &optim, &err)) goto fail;
        printf("whole F+I+W step (median of 5 to 15): %.4f ms; sum of ops / whole step = %.3f\n", whole * 1e3, sum / whole);
        printf("optimizer step (norm, AdamW, zeroing): %.3f ns per parameter\n", optim * 1e9);
        /* Both stored: plans of this graph scale the op times to the whole
         * step (what running ops back to back costs beyond each op alone),
         * and any plan on this device costs its optimizer step. */
        pp_db_step_profile p = {.n_ops = g.n_ops, .whole_s = whole, .sum_ops_s = sum, .samples = 5};
        pp_db_optim_profile o = {.optimizer = PP_COSTS_OPTIMIZER, .dtype = PP_COSTS_DTYPE, .s_per_param = optim,
                                 .samples = 5};
        if (pp_db_begin(db, &err)) goto fail;
        pp_costs_graph_hash(&g, p.graph_hash);
        if (pp_db_step_profile_put(db, dev, &p, &err)) {
            pp_db_rollback(db, NULL);
            goto fail;
        }
        if (pp_db_optim_profile_put(db, dev, &o, &err) || pp_db_commit(db, &err)) {
            pp_db_rollback(db, NULL);
            goto fail;
        }
    }
    printf("stored in %s (device %.12s)\n", pp_tool_db_path(db_opt), fp);
    rc = 0;
    if (links && ranks >= 2) {
        pp_db_close(db);
        db = NULL;
        rc = spawn_links((int)ranks, dbp, (int)threads, backend);
    }
    goto done;
fail:
    pp_tool_fail(TOOL, &err);
done:
    free(m);
    free(sig);
    free(fresh);
    free(had_prev);
    free(prev);
    pp_db_close(db);
    pp_backend_close(be);
    pp_graph_free(&g);
    return rc;
}
