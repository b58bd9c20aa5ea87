/*
 * pippy-check.c -- `pippy check FILE...`: read and check any pippy file
 * (model config, cluster spec, plan, schedule CSV, trace) and say what it
 * holds, or exactly what is wrong with it and where.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/pp_check.h"
#include "tools/tool_common.h"

static const char *TOOL = "check";

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy check [--kind KIND] FILE...\n\n"
            "Reads each file as pippy would and prints a one-line summary, or the\n"
            "first error with file, line, column and field. Exits 1 if any file fails.\n\n"
            "  --kind KIND   model, cluster, plan, schedule or trace (default: detect:\n"
            "                .csv is a schedule; JSON by its fields)\n"
            "  -h, --help    this help\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"kind", required_argument, 0, 'k'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    pp_file_kind kind = PP_FILE_AUTO;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (pp_file_kind_parse(optarg, &kind))
                return pp_tool_usage_error(TOOL, "--kind: '%s' is not one of model, cluster, plan, schedule, trace", optarg);
            break;
        case 'h': usage(stdout); return 0;
        default: return pp_tool_usage_error(TOOL, "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return pp_tool_usage_error(TOOL, "missing FILE");
    int failed = 0;
    for (int i = optind; i < argc; i++) {
        char summary[512];
        pp_err err = {0};
        if (pp_check_file(argv[i], kind, summary, sizeof summary, &err)) {
            pp_tool_fail(TOOL, &err);
            failed = 1;
        } else {
            printf("%s: ok: %s\n", argv[i], summary);
        }
    }
    return failed;
}
