/*
 * pippy-schedule.c -- `pippy schedule`: read a schedule table in PyTorch's
 * CSV form (either naming of the backward pass), show it per rank, and
 * write it back in the naming asked for.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_sched.h"
#include "planner/pp_schedgen.h"
#include "core/pp_json.h"
#include "tools/tool_common.h"

static const char *TOOL = "schedule";

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy schedule show FILE.csv [--naming auto|current|legacy]\n"
            "       pippy schedule convert FILE.csv -o OUT.csv [--to current|legacy]\n"
            "                                       [--naming auto|current|legacy]\n"
            "       pippy schedule check FILE.csv [--microbatches M]\n"
            "       pippy schedule generate NAME --pp P --microbatches M [--virtual V]\n"
            "                                    [-o OUT.csv] [--to current|legacy] [--lower]\n\n"
            "Reads a schedule table written by torch.distributed.pipelining (one row\n"
            "per rank, one cell per action: 0F1, 2I1, 1W3, 2SEND_B2, (0F7;7B3)OVERLAP_F_B).\n"
            "PyTorch names the backward passes two ways: current (I = inputs only,\n"
            "W = weights, B = both) and legacy (B = inputs only, W = weights, BW = both).\n\n"
            "  show       print the table's size, form and naming, and each rank's actions\n"
            "  convert    write the table to OUT.csv ('-' for stdout), atomically\n"
            "  check      PyTorch's validation rules and a deadlock check (the wait cycle\n"
            "             is printed when there is one)\n"
            "  generate   write a schedule pippy generates: gpipe, 1f1b, interleaved,\n"
            "             looped-bfs, zbh1, zbh2, zbv, dualpipev (default -o -: stdout);\n"
            "             --lower adds the sends and receives (compute_comms form)\n"
            "  --naming   how FILE names them (default auto: legacy when a cell is BW,\n"
            "             or W appears without I)\n"
            "  --to       the naming to write (default: the one FILE uses)\n"
            "  --json     show, check: the result as one JSON object on stdout (each\n"
            "             rank's cells with show); convert, generate: what was written\n"
            "             (needs -o FILE)\n"
            "  -h, --help this help\n");
}

/* pp_sched_write_json on stdout. Returns 0 or -1 (err). */
static int print_json(const pp_sched *s, const char *file, const char *output, pp_sched_naming naming, int checked,
                      const char *error, int cells, pp_err *err) {
    pp_jw w;
    pp_jw_init(&w);
    pp_sched_write_json(&w, s, file, output, naming, checked, error, cells);
    return pp_tool_print_json(&w, err);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"naming", required_argument, 0, 'n'},
                                         {"to", required_argument, 0, 't'},
                                         {"output", required_argument, 0, 'o'},
                                         {"pp", required_argument, 0, 'p'},
                                         {"microbatches", required_argument, 0, 'M'},
                                         {"virtual", required_argument, 0, 'v'},
                                         {"lower", no_argument, 0, 'L'},
                                         {"json", no_argument, 0, 'J'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    long long pp = 0, mbs = 0, v = 2;
    int lower = 0, json = 0;
    pp_sched_naming from = PP_NAMING_AUTO, to = PP_NAMING_AUTO;
    const char *out = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (pp_sched_naming_parse(optarg, 1, &from))
                return pp_tool_usage_error(TOOL, "--naming: '%s' is not auto, current or legacy", optarg);
            break;
        case 't':
            if (pp_sched_naming_parse(optarg, 0, &to))
                return pp_tool_usage_error(TOOL, "--to: '%s' is not current or legacy", optarg);
            break;
        case 'o': out = optarg; break;
        case 'p': if (pp_tool_parse_int(TOOL, "--pp", optarg, 1, 1 << 20, &pp)) return 2; break;
        case 'M': if (pp_tool_parse_int(TOOL, "--microbatches", optarg, 1, 1 << 24, &mbs)) return 2; break;
        case 'v': if (pp_tool_parse_int(TOOL, "--virtual", optarg, 1, 1024, &v)) return 2; break;
        case 'L': lower = 1; break;
        case 'J': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: return pp_tool_usage_error(TOOL, "unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return pp_tool_usage_error(TOOL, "expected a subcommand (show, convert, check, generate) and its argument");
    const char *sub = argv[optind], *path = argv[optind + 1];
    if (json && (!strcmp(sub, "generate") || !strcmp(sub, "convert")) && (!out || !strcmp(out, "-")))
        return pp_tool_usage_error(TOOL, "--json with %s needs -o FILE (stdout carries the JSON)", sub);
    if (!strcmp(sub, "generate")) {
        pp_err err = {0};
        pp_schedule_kind k;
        pp_sched s, l;
        if (!pp || !mbs) return pp_tool_usage_error(TOOL, "generate needs --pp and --microbatches");
        if (pp_schedule_parse(path, &k, &err) || pp_schedule_generate(k, (int)pp, (int)mbs, (int)v, &s, &err))
            return pp_tool_fail(TOOL, &err);
        int rc = 0;
        if (lower) {
            if (pp_sched_lower(&s, &l, &err)) rc = pp_tool_fail(TOOL, &err);
            pp_sched_free(&s);
            if (rc) return rc;
            s = l;
        }
        pp_sched_naming nm = to == PP_NAMING_AUTO ? PP_NAMING_CURRENT : to;
        if (pp_sched_save_csv(&s, out ? out : "-", nm, &err) ||
            (json && print_json(&s, NULL, out, nm, 0, NULL, 0, &err)))
            rc = pp_tool_fail(TOOL, &err);
        pp_sched_free(&s);
        return rc;
    }
    int convert = !strcmp(sub, "convert"), check = !strcmp(sub, "check");
    if (!convert && !check && strcmp(sub, "show") != 0)
        return pp_tool_usage_error(TOOL, "unknown subcommand '%s' (show, convert, check or generate)", sub);
    if (convert && !out) return pp_tool_usage_error(TOOL, "convert needs -o OUT.csv");
    if (pp_tool_refuse_overwrite(TOOL, "-o", out, "FILE.csv", path, NULL)) return 2;
    pp_err err = {0};
    pp_sched s;
    pp_sched_naming found;
    if (pp_sched_load_csv(path, from, &s, &found, &err)) return pp_tool_fail(TOOL, &err);
    int rc = 0;
    if (check && json) {
        int bad = pp_sched_check(&s, 0, (int)mbs, &err) != 0;
        pp_err je = {0};
        if (print_json(&s, path, NULL, found, 1, bad ? err.msg : NULL, 0, &je)) rc = pp_tool_fail(TOOL, &je);
        else rc = bad;
    } else if (check) {
        rc = pp_sched_check(&s, 0, (int)mbs, &err) != 0;
        if (rc) fprintf(stderr, "pippy schedule: %s: %s\n", path, err.msg);
        else pp_sched_print_valid(stdout, &s, path);
    } else if (convert) {
        pp_sched_naming nm = to == PP_NAMING_AUTO ? found : to;
        if (pp_sched_save_csv(&s, out, nm, &err) || (json && print_json(&s, path, out, nm, 0, NULL, 0, &err)))
            rc = pp_tool_fail(TOOL, &err);
    } else if (json) {
        if (print_json(&s, path, NULL, found, 0, NULL, 1, &err)) rc = pp_tool_fail(TOOL, &err);
    } else {
        pp_sched_print_text(stdout, &s, path, found);
    }
    pp_sched_free(&s);
    return rc;
}
