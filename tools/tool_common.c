/*
 * tool_common.c -- shared plumbing of the pippy-X commands (tool_common.h).
 */
#include "core/pp_fmt.h"
#include "tools/tool_common.h"

#include "core/pp_io.h"

#include "core/pp_cost.h"
#include "costs/pp_costs.h"
#include "simulator/pp_predict.h"
#include "core/pp_hash.h"
#include "core/pp_json.h"
#include "kernels/pp_backend.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef PP_CONFIG_DIR
#define PP_CONFIG_DIR "configs"
#endif

const char *pp_tool_db_path(const char *opt) {
    if (opt && *opt) return opt;
    const char *env = getenv("PIPPY_DB");
    if (env && *env) return env;
    return "pippy.db";
}

const char *pp_tool_config_dir(void) {
    const char *env = getenv("PIPPY_CONFIGS");
    if (env && *env) return env;
    return PP_CONFIG_DIR;
}

static int lookup(const char *kind, const char *arg, char *buf, size_t n, pp_err *err) {
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        snprintf(buf, n, "%s", arg);
        return 0;
    }
    const char *dir = pp_tool_config_dir();
    snprintf(buf, n, "%s/%s/%s.json", dir, kind, arg);
    if (!strchr(arg, '/') && stat(buf, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    char list[1024] = "";
    size_t o = 0;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, kind);
    DIR *d = opendir(sub);
    if (d) {
        struct dirent *e;
        /* Sorted listing: collect, then sort by insertion. */
        char names[128][64];
        int k = 0;
        while ((e = readdir(d)) && k < 128) {
            size_t l = strlen(e->d_name);
            if (l > 5 && l < 64 && !strcmp(e->d_name + l - 5, ".json")) {
                snprintf(names[k], sizeof names[k], "%.*s", (int)(l - 5), e->d_name);
                k++;
            }
        }
        closedir(d);
        for (int i = 1; i < k; i++)
            for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
                char t[64];
                memcpy(t, names[j], 64);
                memcpy(names[j], names[j - 1], 64);
                memcpy(names[j - 1], t, 64);
            }
        for (int i = 0; i < k && o < sizeof list; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", names[i]);
    }
    return pp_err_set(err, PP_ERR_IO, "'%s' is neither a file nor a preset in %s (presets: %s)", arg, sub,
                      o ? list : "none found");
}

int pp_tool_model_path(const char *arg, char *buf, size_t n, pp_err *err) {
    return lookup("models", arg, buf, n, err);
}

int pp_tool_cluster_path(const char *arg, char *buf, size_t n, pp_err *err) {
    return lookup("clusters", arg, buf, n, err);
}

int pp_tool_fail(const char *tool, const pp_err *err) {
    fprintf(stderr, "pippy %s: %s\n", tool, err && err->msg[0] ? err->msg : "failed");
    return 1;
}

int pp_tool_usage_error(const char *tool, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pippy %s: ", tool);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see pippy %s --help)\n", tool);
    va_end(ap);
    return 2;
}

int pp_tool_refuse_overwrite(const char *tool, const char *oflag, const char *out, ...) {
    if (!out) return 0;
    va_list ap;
    va_start(ap, out);
    int rc = 0;
    for (const char *flag; !rc && (flag = va_arg(ap, const char *));) {
        const char *in = va_arg(ap, const char *);
        if (in && pp_io_same_file(out, in))
            rc = pp_tool_usage_error(tool, "%s %s is the same file as %s %s; refusing to overwrite an input", oflag,
                                     out, flag, in);
    }
    va_end(ap);
    return rc;
}

int pp_tool_parse_num(const char *tool, const char *opt, const char *s, double lo, int above, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || !(above ? v > lo : v >= lo)) {
        pp_tool_usage_error(tool, "%s: '%s' is not a number %s %g", opt, s, above ? ">" : ">=", lo);
        return -1;
    }
    *out = v;
    return 0;
}

int pp_tool_parse_int(const char *tool, const char *opt, const char *s, long long lo, long long hi,
                      long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) {
        pp_tool_usage_error(tool, "%s: '%s' is not an integer", opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        pp_tool_usage_error(tool, "%s: %lld is out of range [%lld, %lld]", opt, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int pp_tool_print_json(struct pp_jw *w, pp_err *err) { return pp_jw_write(w, stdout, "stdout", err); }

int pp_tool_cpu_fingerprint(int threads, char fp[65], pp_err *err) {
    pp_backend *be = NULL;
    char desc[1024];
    if (pp_backend_open(PP_BACKEND_CPU, threads, &be, err)) return -1;
    pp_backend_describe(be, desc, sizeof desc);
    pp_backend_close(be);
    pp_sha256_hex(desc, strlen(desc), fp);
    return 0;
}

int pp_tool_costs_open(const char *db_path, struct pp_costs **out, pp_err *err) {
    char fp[65];
    *out = NULL;
    if (pp_tool_cpu_fingerprint(1, fp, err)) return -1;
    return pp_costs_open(db_path, fp, out, err);
}

int pp_tool_costs_load(const char *db_path, const pp_cluster *cl, const pp_graph *g, int comm_too,
                       const char *warn_tool, pp_cost_profile *cost, int *measured, pp_comm_measured *comm,
                       pp_err *err) {
    pp_costs *cs = NULL;
    int missing = 0, got = 0;
    *measured = 0;
    memset(comm, 0, sizeof *comm);
    if (pp_tool_costs_open(db_path, &cs, err)) return -1;
    got = g ? pp_costs_graph(cs, cl, g, cost, &missing, err) : 0;
    if (got == 0 && warn_tool && missing && missing < g->n_ops)
        fprintf(stderr, "pippy %s: warning: the measured profile lacks %d of %d ops (run pippy profile with "
                        "this micro-batch and sequence); using FLOP estimates\n", warn_tool, missing, g->n_ops);
    if (got >= 0 && comm_too && pp_costs_comm(cs, cl, comm, err)) {
        if (got == 1) pp_cost_free(cost);
        got = -1;
    }
    pp_costs_close(cs);
    if (got < 0) return -1;
    *measured = got;
    return 0;
}

int pp_tool_predict(const char *db_path, const pp_plan *plan, const pp_graph *g, const pp_predict_input *in,
                    pp_prediction *out, pp_err *err) {
    pp_cost_profile cost;
    pp_comm_measured comm;
    pp_predict_input pi;
    int measured;
    memset(out, 0, sizeof *out);
    if (in) pi = *in;
    else pp_predict_input_init(&pi);
    if (pp_tool_costs_load(db_path, &plan->cluster, g, 1, NULL, &cost, &measured, &comm, err)) return -1;
    pi.cost = measured ? &cost : NULL;
    pi.comm = &comm;
    int rc = pp_predict_plan(plan, g, &pi, out, err);
    if (measured) pp_cost_free(&cost);
    return rc;
}

