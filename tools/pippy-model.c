/*
 * pippy-model.c -- `pippy model`: build a model's graph and show, per block,
 * its parameters, the FLOPs of F, I and W per microbatch, the activation
 * memory it keeps, and the bytes a pipeline cut after it would send.
 * The model is recorded in the database (one transaction) unless --no-db.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_graph.h"
#include "core/pp_graph_facts.h"
#include "core/pp_io.h"
#include "core/pp_json.h"
#include "core/pp_zoo.h"
#include "db/pp_db.h"
#include "tools/tool_common.h"

static const char *TOOL = "model";

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy model CONFIG|PRESET [options]\n\n"
            "Builds the model's graph for one microbatch and prints a table per block:\n"
            "parameters, FLOPs of the forward (F), backward-for-inputs (I) and\n"
            "backward-for-weights (W) passes, the activation bytes kept from F until I\n"
            "and from I until W, and the bytes a pipeline cut after the block sends.\n\n"
            "  CONFIG               a model config JSON file, or a preset name from\n"
            "                       configs/models/ (gpt2-124m, llama2-7b, t5-tiny, ...)\n"
            "  --seq N              sequence length (default: the config's seq_len)\n"
            "  --micro-batch N      sequences per microbatch (default 1)\n"
            "  --dtype f32|bf16|f16 activation and parameter type (default f32)\n"
            "  --ops                one row per op instead of per block\n"
            "  --json               machine-readable output on stdout\n"
            "  --dot FILE           write the graph for Graphviz ('-' for stdout)\n"
            "  --db PATH            database (default $PIPPY_DB or ./pippy.db)\n"
            "  --no-db              do not record the model in the database\n"
            "  -h, --help           this help\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"seq", required_argument, 0, 's'},   {"micro-batch", required_argument, 0, 'b'},
        {"dtype", required_argument, 0, 't'}, {"json", no_argument, 0, 'j'},
        {"dot", required_argument, 0, 'd'},   {"db", required_argument, 0, 'D'},
        {"no-db", no_argument, 0, 'N'},       {"ops", no_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    long long seq = 0, mb = 1;
    const char *dot = NULL, *db_opt = NULL;
    int json = 0, no_db = 0, by_op = 0;
    pp_dtype dtype = PP_DTYPE_F32;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': if (pp_tool_parse_int(TOOL, "--seq", optarg, 1, 1 << 22, &seq)) return 2; break;
        case 'b': if (pp_tool_parse_int(TOOL, "--micro-batch", optarg, 1, 1 << 20, &mb)) return 2; break;
        case 't':
            if (pp_dtype_parse(optarg, &dtype) || dtype == PP_DTYPE_I32)
                return pp_tool_usage_error(TOOL, "--dtype: '%s' is not one of f32, bf16, f16", optarg);
            break;
        case 'j': json = 1; break;
        case 'd': dot = optarg; break;
        case 'D': db_opt = optarg; break;
        case 'N': no_db = 1; break;
        case 'o': by_op = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            if (optopt) return pp_tool_usage_error(TOOL, "option -%c needs an argument or is unknown", optopt);
            return pp_tool_usage_error(TOOL, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return pp_tool_usage_error(TOOL, optind >= argc ? "missing CONFIG (a file or a preset name)"
                                                        : "expected one CONFIG, got %d arguments", argc - optind);
    pp_err err = {0};
    char path[4096];
    pp_model_config cfg;
    pp_graph g;
    if (pp_tool_model_path(argv[optind], path, sizeof path, &err) || pp_model_config_load(path, &cfg, &err))
        return pp_tool_fail(TOOL, &err);
    if (pp_tool_refuse_overwrite(TOOL, "--dot", dot, "CONFIG", path, "--db", no_db ? NULL : pp_tool_db_path(db_opt),
                                 NULL))
        return 2;
    if (!seq) seq = cfg.seq_len;
    if (pp_zoo_build(&cfg, (int)mb, (int)seq, dtype, &g, &err)) return pp_tool_fail(TOOL, &err);
    int rc = 1;
    char hash[65];
    pp_jw w;
    pp_jw_init(&w);
    char *cfg_json = NULL;
    if (pp_model_config_hash(&cfg, hash, &err) || pp_model_config_write(&cfg, &cfg_json, NULL, &err)) goto fail;
    if (dot) {
        /* Built in memory, then written like every output (pp_io_write_atomic). */
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        int bad = !f || pp_graph_write_dot(&g, f);
        if (f && fclose(f) != 0) bad = 1;
        if (bad) pp_err_set(&err, PP_ERR_NOMEM, "out of memory writing the graph for --dot");
        else bad = pp_io_write_atomic(dot, text, len, &err);
        free(text);
        if (bad) goto fail;
        if (!strcmp(dot, "-")) goto ok;
    }
    pp_graph_facts fx;
    if (pp_graph_facts_get(&g, &fx, &err)) goto fail;
    if (json) pp_graph_facts_json(&g, &fx, &cfg, hash, (int)mb, (int)seq, by_op, &w);
    else pp_graph_facts_print_text(stdout, &g, &fx, &cfg, hash, (int)mb, (int)seq, by_op);
    pp_graph_facts_free(&fx);
    if (json && pp_tool_print_json(&w, &err)) goto fail;
    if (!no_db) {
        pp_db *db = NULL;
        long long id;
        const char *dbp = pp_tool_db_path(db_opt);
        if (pp_db_open(dbp, &db, &err) ||
            pp_db_model_put(db, cfg.name, pp_family_name(cfg.family), hash, pp_graph_param_count(&g), cfg_json, &id,
                            &err)) {
            pp_db_close(db);
            goto fail;
        }
        pp_db_close(db);
        if (!json) printf("\nrecorded in %s as model #%lld\n", dbp, id);
    }
ok:
    rc = 0;
    goto done;
fail:
    pp_tool_fail(TOOL, &err);
done:
    pp_jw_free(&w);
    free(cfg_json);
    pp_graph_free(&g);
    return rc;
}
