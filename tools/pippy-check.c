/*
 * pippy-check.c -- `pippy check FILE...`: read and check any pippy file
 * (model config, cluster spec, plan, schedule CSV, trace) and say what it
 * holds, or exactly what is wrong with it and where.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/pp_check.h"
#include "core/pp_json.h"
#include "tools/tool_common.h"

static const char *TOOL = "check";

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy check [--kind KIND] [--json] FILE...\n\n"
            "Reads each file as pippy would and prints a one-line summary, or the\n"
            "first error with file, line, column and field. Exits 1 if any file fails.\n\n"
            "  --kind KIND   model, cluster, plan, schedule or trace (default: detect:\n"
            "                .csv is a schedule; JSON by its fields)\n"
            "  --json        one JSON array on stdout: per file its path, kind, ok, and\n"
            "                the summary or the error\n"
            "  -h, --help    this help\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"kind", required_argument, 0, 'k'},
                                         {"json", no_argument, 0, 'J'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    pp_file_kind kind = PP_FILE_AUTO;
    int c, json = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (pp_file_kind_parse(optarg, &kind))
                return pp_tool_usage_error(TOOL, "--kind: '%s' is not one of model, cluster, plan, schedule, trace", optarg);
            break;
        case 'J': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: return pp_tool_usage_error(TOOL, "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return pp_tool_usage_error(TOOL, "missing FILE");
    int failed = 0;
    pp_jw w;
    pp_jw_init(&w);
    pp_jw_arr_begin(&w);
    for (int i = optind; i < argc; i++) {
        char summary[512];
        pp_err err = {0}, e2 = {0};
        pp_file_kind k = kind;
        if (k == PP_FILE_AUTO && pp_file_detect(argv[i], &k, &e2)) k = PP_FILE_AUTO;
        int bad = pp_check_file(argv[i], kind, summary, sizeof summary, &err) != 0;
        failed |= bad;
        if (json) {
            pp_jw_obj_begin(&w);
            pp_jw_kstr(&w, "file", argv[i]);
            pp_jw_key(&w, "kind");
            if (k == PP_FILE_AUTO) pp_jw_null(&w);
            else pp_jw_str(&w, pp_file_kind_name(k));
            pp_jw_kbool(&w, "ok", !bad);
            pp_jw_key(&w, bad ? "error" : "summary");
            pp_jw_str(&w, bad ? err.msg : summary);
            pp_jw_obj_end(&w);
        } else if (bad) {
            pp_tool_fail(TOOL, &err);
        } else {
            printf("%s: ok: %s\n", argv[i], summary);
        }
    }
    pp_jw_arr_end(&w);
    if (json) {
        pp_err err = {0};
        if (pp_tool_print_json(&w, &err)) return pp_tool_fail(TOOL, &err);
    } else {
        pp_jw_free(&w);
    }
    return failed;
}
