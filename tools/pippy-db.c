/*
 * pippy-db.c -- `pippy db`: what the database holds.
 *
 * Every other command stores its results (models, plans, device profiles
 * and links, measured runs) in one SQLite file; this command is the window
 * onto it: argv, open the database (read-only, so looking never creates,
 * migrates or changes the file), load the view asked for and print it as
 * tables or, with --json, as JSON (db/pp_db_print.h does both). `pippy db
 * init` is the one writing form: it creates the database, or brings an
 * older one up to this pippy's schema.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_err.h"
#include "core/pp_json.h"
#include "db/pp_db.h"
#include "db/pp_db_print.h"
#include "tools/tool_common.h"

#define TOOL "db"

static void usage(FILE *f) {
    fprintf(f,
            "usage: pippy db [--db PATH] [--json] [models|plans|profiles|runs]\n"
            "       pippy db [--db PATH] [--json] run ID\n"
            "       pippy db [--db PATH] [--json] init\n"
            "\n"
            "Lists what the pippy database holds: its schema version, then the stored\n"
            "models and plans and how many device profiles, links and runs there are\n"
            "(or only the kind named). Listing opens the database read-only and never\n"
            "creates or changes it.\n"
            "\n"
            "  profiles     the profiled devices, their op timings (F, I, W medians\n"
            "               in microseconds with their spread, and sample counts),\n"
            "               their links (latency alpha, bandwidth beta, fit residual),\n"
            "               whole steps beside the sum of their ops, the optimizer's\n"
            "               time per parameter and the collectives' alpha and beta\n"
            "  runs         the measured training runs, newest first: model, schedule,\n"
            "               pp x dp, steps, tokens/s, median iteration time, the plan's\n"
            "               predicted iteration time and its error ((measured -\n"
            "               predicted) / measured), final loss, status\n"
            "  run ID       one run in full: its setup and outcome, its steps (loss,\n"
            "               grad norm, seconds), its ranks (host, peak memory, busy\n"
            "               time) and how many trace events were stored\n"
            "  init         create the database, or upgrade an older one to this\n"
            "               pippy's schema (version %d), and print its version\n"
            "\n"
            "options:\n"
            "  --db PATH    the database (default: $PIPPY_DB, else ./pippy.db)\n"
            "  --json       print JSON instead of tables\n"
            "  -h, --help   print this help and exit\n",
            PP_DB_SCHEMA_VERSION);
}

static int write_stdout(const char *s, size_t n, pp_err *err) {
    if (fwrite(s, 1, n, stdout) != n || fflush(stdout) != 0)
        return pp_err_set(err, PP_ERR_IO, "writing to standard output failed");
    return 0;
}

int main(int argc, char **argv) {
    const char *db_opt = NULL;
    int json = 0, have_what = 0, have_id = 0, only_args = 0;
    long long run_id = 0;
    pp_db_view view = PP_DB_VIEW_ALL;
    int init = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_args && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) {
                only_args = 1;
            } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                usage(stdout);
                return 0;
            } else if (!strcmp(a, "--json")) {
                json = 1;
            } else if (!strcmp(a, "--db")) {
                if (i + 1 >= argc) return pp_tool_usage_error(TOOL, "--db needs a path");
                db_opt = argv[++i];
                if (!*db_opt) return pp_tool_usage_error(TOOL, "--db needs a path, got an empty one");
            } else if (!strncmp(a, "--db=", 5)) {
                db_opt = a + 5;
                if (!*db_opt) return pp_tool_usage_error(TOOL, "--db needs a path, got an empty one");
            } else {
                return pp_tool_usage_error(TOOL, "unknown option '%s'", a);
            }
            continue;
        }
        if (have_what && view == PP_DB_VIEW_RUN && !have_id) {
            if (pp_tool_parse_int(TOOL, "run ID", a, 1, 9223372036854775807LL, &run_id)) return 2;
            have_id = 1;
            continue;
        }
        if (have_what) return pp_tool_usage_error(TOOL, "unexpected argument '%s'", a);
        if (!strcmp(a, "models")) view = PP_DB_VIEW_MODELS;
        else if (!strcmp(a, "plans")) view = PP_DB_VIEW_PLANS;
        else if (!strcmp(a, "profiles")) view = PP_DB_VIEW_PROFILES;
        else if (!strcmp(a, "runs")) view = PP_DB_VIEW_RUNS;
        else if (!strcmp(a, "run")) view = PP_DB_VIEW_RUN;
        else if (!strcmp(a, "init")) view = PP_DB_VIEW_VERSION, init = 1;
        else
            return pp_tool_usage_error(
                TOOL, "unknown argument '%s' (expected models, plans, profiles, runs, run or init)", a);
        have_what = 1;
    }
    if (view == PP_DB_VIEW_RUN && !have_id) return pp_tool_usage_error(TOOL, "run needs a run ID (see `pippy db runs`)");

    const char *path = pp_tool_db_path(db_opt);
    pp_err err = {0};
    pp_db *db = NULL;
    pp_db_listing l;
    memset(&l, 0, sizeof l);
    int status = 1;
    char *text = NULL;
    size_t text_len = 0;
    pp_jw w;
    pp_jw_init(&w);

    if (!init && access(path, F_OK) != 0 && errno == ENOENT) {
        pp_err_set(&err, PP_ERR_IO,
                   "no database at %s (commands that store results create it, as does `pippy db init`)", path);
        goto cleanup;
    }
    if (init ? pp_db_open(path, &db, &err) : pp_db_open_readonly(path, &db, &err)) goto cleanup;
    if (pp_db_listing_load(db, view, run_id, &l, &err)) goto cleanup;
    if (json) {
        pp_db_json_listing(&w, &l);
        if (pp_jw_finish(&w, &text, &text_len, &err) || write_stdout(text, text_len, &err)) goto cleanup;
    } else if (pp_db_print_listing(stdout, &l, &err) || write_stdout("", 0, &err)) {
        goto cleanup;
    }
    status = 0;
cleanup:
    if (status) pp_tool_fail(TOOL, &err);
    free(text);
    pp_jw_free(&w);
    pp_db_listing_free(&l);
    pp_db_close(db);
    return status;
}
