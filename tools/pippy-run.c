/*
 * pippy-run.c -- `pippy run`: train for real. With --plan, the plan's
 * pipeline under MPI (run_plan.c: mpirun started when needed, checkpoints,
 * the run stored in the database). Without a plan, on one process: the
 * global batch accumulated over microbatches, loss and tokens/s per step,
 * and at the end the data's unigram entropy beside the loss; what it prints
 * is executor/pp_run_print.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_json.h"
#include "core/pp_zoo.h"
#include "executor/pp_run_print.h"
#include "tools/run_plan.h"
#include "tools/tool_common.h"

static const char *TOOL = "run";

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy run --plan PLAN.json [options]\n"
            "       pippy run --model CONFIG|PRESET [options]\n\n"
            "With --plan: runs the plan's pipeline for real, one process per rank\n"
            "(pp x dp): starts `mpirun -np pp*dp` on this host unless already under\n"
            "mpirun or srun. Every schedule of the plan runs as written; the result\n"
            "equals a single-process run of the same model, data and seed. Prints each\n"
            "step, then the measured step time beside the plan's prediction and each\n"
            "rank's peak memory, and stores the run (steps, ranks, every action's start\n"
            "and end) in the database. A rank that dies or meets a NaN stops every rank\n"
            "within --timeout seconds with a message naming it. The database and the\n"
            "checkpoint folder (created if missing, writable, holding no other run's\n"
            "checkpoint) are checked before step 1; a run the database refuses at the\n"
            "end is written to pippy-run-TIME-PID.json beside it (exit 1). SIGINT or\n"
            "SIGTERM stops every rank after its current step: a checkpoint of the steps\n"
            "done (with --checkpoint), the run stored as failed (interrupted), exit 1; a\n"
            "second signal stops them at once. Every file a checkpoint writes carries\n"
            "a SHA-256 that --resume verifies.\n\n"
            "  --plan FILE          a plan from `pippy plan`\n"
            "  --checkpoint DIR     write checkpoints here (per stage, atomic)\n"
            "  --checkpoint-every K every K steps (default 10) and at the end\n"
            "  --resume             continue from the checkpoint in DIR (bit for bit); an\n"
            "                       error when DIR holds none, saying what it holds\n"
            "  --overwrite-checkpoint  let this run replace a checkpoint already in DIR\n"
            "                       (without it or --resume, such a DIR is refused)\n"
            "  --stop-after K       stop after K steps of this invocation (the schedule\n"
            "                       of the learning rate still spans --steps)\n"
            "  --timeout S          longest wait for another rank (default 30)\n"
            "  --trace FILE         the measured trace as Chrome JSON (Perfetto)\n"
            "  --status-dir DIR     where ranks leave rank-R.pid/.err/.done files\n"
            "  --db PATH            database (default $PIPPY_DB or ./pippy.db)\n"
            "  --no-db              do not store the run\n\n"
            "Without --plan: trains the model on one process (CPU, fp32): each step\n"
            "accumulates the global batch over microbatches, clips the gradient norm\n"
            "and takes an AdamW step. Prints the loss and tokens/s of every step, then\n"
            "the unigram entropy of the data (the loss of a model that knows only\n"
            "token frequencies).\n\n"
            "  --model CONFIG       model config file or preset\n"
            "  --steps N            training steps (default 100)\n"
            "  --batch B            sequences per step (default 8)\n"
            "  --microbatches M     B is split into M microbatches (default 2)\n"
            "  --seq T              tokens per sequence (default: min(64, the config's seq_len))\n"
            "  --seed S             seed of the weights and the data order (default 1234)\n"
            "  --data FILE          text (one token per byte) or .u16/.u32 token file\n"
            "                       (default: /usr/share/common-licenses)\n"
            "  --lr X               peak learning rate (default 3e-3; cosine to a tenth)\n"
            "  --warmup N           warm-up steps (default 20)\n"
            "  --threads N          compute threads (default 1)\n"
            "  --backend cpu|cuda   where each rank computes (default cpu; cuda: the rank's\n"
            "                       GPU by its local rank, or $PIPPY_CUDA_DEVICE)\n"
            "  --log-every N        print every N-th step (default 1)\n"
            "  --json               the result as one JSON object on stdout (the per-step\n"
            "                       text goes to stderr)\n"
            "  -h, --help           this help\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"steps", required_argument, 0, 's'},
        {"batch", required_argument, 0, 'b'},   {"microbatches", required_argument, 0, 'M'},
        {"seq", required_argument, 0, 'T'},     {"seed", required_argument, 0, 'S'},
        {"data", required_argument, 0, 'd'},    {"lr", required_argument, 0, 'l'},
        {"warmup", required_argument, 0, 'w'},  {"threads", required_argument, 0, 't'},
        {"log-every", required_argument, 0, 'L'}, {"help", no_argument, 0, 'h'},
        {"json", no_argument, 0, 'J'},
        {"plan", required_argument, 0, 'P'},    {"checkpoint", required_argument, 0, 'c'},
        {"checkpoint-every", required_argument, 0, 'E'}, {"resume", no_argument, 0, 'R'},
        {"stop-after", required_argument, 0, 'A'}, {"timeout", required_argument, 0, 'O'},
        {"trace", required_argument, 0, 'X'},   {"status-dir", required_argument, 0, 'Z'},
        {"db", required_argument, 0, 'D'},      {"no-db", no_argument, 0, 'N'},
        {"backend", required_argument, 0, 'K'}, {"overwrite-checkpoint", no_argument, 0, 'W'},
        {0, 0, 0, 0},
    };
    pp_run_request ro = {.checkpoint_every = 10, .timeout_s = 30, .use_db = 1};
    const char *db_opt = NULL;
    long long ck_every = 10, stop_after = 0, timeout = 30;
    int steps_given = 0;
    const char *model = NULL;
    long long steps = 100, batch = 8, mbs = 2, seq = 0, seed = 1234, threads = 1, warmup = 20, every = 1;
    pp_train_opts o = {.hyper = pp_adamw_defaults()};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 's': if (pp_tool_parse_int(TOOL, "--steps", optarg, 1, 100000000, &steps)) return 2; steps_given = 1; break;
        case 'P': ro.plan_path = optarg; break;
        case 'c': ro.checkpoint_dir = optarg; break;
        case 'E': if (pp_tool_parse_int(TOOL, "--checkpoint-every", optarg, 1, 100000000, &ck_every)) return 2; break;
        case 'R': ro.resume = 1; break;
        case 'W': ro.overwrite_checkpoint = 1; break;
        case 'A': if (pp_tool_parse_int(TOOL, "--stop-after", optarg, 1, 100000000, &stop_after)) return 2; break;
        case 'O': if (pp_tool_parse_int(TOOL, "--timeout", optarg, 1, 86400, &timeout)) return 2; break;
        case 'X': ro.trace_path = optarg; break;
        case 'Z': ro.status_dir = optarg; break;
        case 'D': db_opt = optarg; break;
        case 'N': ro.use_db = 0; break;
        case 'K':
            if (!strcmp(optarg, "cpu")) o.backend = PP_BACKEND_CPU;
            else if (!strcmp(optarg, "cuda")) o.backend = PP_BACKEND_CUDA;
            else return pp_tool_usage_error(TOOL, "--backend: '%s' is not cpu or cuda", optarg);
            break;
        case 'b': if (pp_tool_parse_int(TOOL, "--batch", optarg, 1, 1 << 20, &batch)) return 2; break;
        case 'M': if (pp_tool_parse_int(TOOL, "--microbatches", optarg, 1, 1 << 20, &mbs)) return 2; break;
        case 'T': if (pp_tool_parse_int(TOOL, "--seq", optarg, 1, 1 << 22, &seq)) return 2; break;
        case 'S': if (pp_tool_parse_int(TOOL, "--seed", optarg, 0, 0x7fffffffffffffffLL, &seed)) return 2; break;
        case 'd': o.data_path = optarg; break;
        case 'l': {
            char *end;
            o.hyper.lr = strtod(optarg, &end);
            if (*end || !(o.hyper.lr > 0) || o.hyper.lr > 10)
                return pp_tool_usage_error(TOOL, "--lr: '%s' is not a learning rate in (0, 10]", optarg);
            o.hyper.min_lr = o.hyper.lr / 10;
            break;
        }
        case 'w': if (pp_tool_parse_int(TOOL, "--warmup", optarg, 0, 100000000, &warmup)) return 2; break;
        case 't': if (pp_tool_parse_int(TOOL, "--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'L': if (pp_tool_parse_int(TOOL, "--log-every", optarg, 1, 100000000, &every)) return 2; break;
        case 'J': ro.json = 1; break;
        case 'h': usage(stdout); return 0;
        default: return pp_tool_usage_error(TOOL, "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return pp_tool_usage_error(TOOL, "unexpected argument '%s'", argv[optind]);
    if (ro.plan_path) {
        if (model) return pp_tool_usage_error(TOOL, "--plan and --model do not go together (the plan names its model)");
        ro.steps = (int)(steps_given ? steps : 100);
        ro.stop_after = (int)stop_after;
        ro.seed = (uint64_t)seed;
        ro.data_path = o.data_path;
        ro.hyper = o.hyper;
        ro.hyper.warmup = (int)warmup;
        ro.threads = (int)threads;
        ro.backend = o.backend;
        ro.log_every = (int)every;
        ro.timeout_s = (double)timeout;
        ro.checkpoint_every = (int)ck_every;
        ro.db_path = pp_tool_db_path(db_opt);
        if (ro.resume && !ro.checkpoint_dir) return pp_tool_usage_error(TOOL, "--resume needs --checkpoint DIR");
        if (ro.overwrite_checkpoint && !ro.checkpoint_dir)
            return pp_tool_usage_error(TOOL, "--overwrite-checkpoint needs --checkpoint DIR");
        if (ro.overwrite_checkpoint && ro.resume)
            return pp_tool_usage_error(TOOL, "--resume and --overwrite-checkpoint do not go together (resuming "
                                             "already replaces the checkpoint it continues)");
        if (pp_tool_refuse_overwrite(TOOL, "--trace", ro.trace_path, "--plan", ro.plan_path, "--data", ro.data_path,
                                     "--db", ro.use_db ? ro.db_path : NULL, NULL))
            return 2;
        return run_plan_main(argc, argv, &ro);
    }
    if (ro.checkpoint_dir || ro.resume || ro.overwrite_checkpoint || stop_after || ro.trace_path)
        return pp_tool_usage_error(TOOL,
                                   "--checkpoint, --resume, --overwrite-checkpoint, --stop-after and --trace need --plan");
    if (!model) return pp_tool_usage_error(TOOL, "--plan or --model is required");
    pp_err err = {0};
    char path[4096];
    pp_model_config cfg;
    if (pp_tool_model_path(model, path, sizeof path, &err) || pp_model_config_load(path, &cfg, &err))
        return pp_tool_fail(TOOL, &err);
    if (batch % mbs)
        return pp_tool_usage_error(TOOL, "--batch %lld is not a multiple of --microbatches %lld", batch, mbs);
    o.steps = (int)steps;
    o.batch = (int)batch;
    o.microbatches = (int)mbs;
    o.seq = (int)(seq ? seq : (cfg.seq_len < 64 ? cfg.seq_len : 64));
    o.seed = (uint64_t)seed;
    o.threads = (int)threads;
    o.hyper.warmup = (int)warmup;
    FILE *tx = ro.json ? stderr : stdout; /* the human text */
    pp_train_summary sum;
    pp_jw w;
    pp_jw_init(&w);
    if (pp_train_logged(&cfg, &o, tx, (int)every, ro.json ? &w : NULL, &sum, &err) ||
        (ro.json && pp_tool_print_json(&w, &err))) {
        pp_jw_free(&w);
        return pp_tool_fail(TOOL, &err);
    }
    pp_train_print_summary(tx, &o, &sum);
    return 0;
}
