/*
 * tool_common.c -- shared plumbing of the pippy-X commands (tool_common.h).
 */
#include "tools/tool_common.h"

#include "core/pp_io.h"

#include "core/pp_cost.h"
#include "core/pp_hash.h"
#include "core/pp_json.h"
#include "db/pp_db.h"
#include "kernels/pp_backend.h"
#include "profiler/pp_opprof.h"
#include "core/pp_plan.h"
#include "simulator/pp_pipeline.h"
#include "simulator/pp_sim.h"

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

/* "1234567" -> "1,234,567". buf holds at least 32 bytes. */
const char *pp_tool_fmt_count(long long v, char *buf, size_t n) {
    char digits[32];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    snprintf(digits, sizeof digits, "%llu", u);
    size_t len = strlen(digits), o = 0;
    if (v < 0 && o + 1 < n) buf[o++] = '-';
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 1 < n) buf[o++] = ',';
        if (o + 1 < n) buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

int pp_tool_print_json(struct pp_jw *w, pp_err *err) {
    char *text;
    size_t len;
    if (pp_jw_finish(w, &text, &len, err)) return -1;
    int bad = fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0;
    free(text);
    return bad ? pp_err_set(err, PP_ERR_IO, "stdout: write error") : 0;
}

/* Opens the database read-only and finds this machine's device in it (the
 * fingerprint of a CPU backend with `threads` threads). Returns 1 with *db
 * open (caller closes) and *dev, 0 when the file or the device is not
 * there (*db NULL), -1 on error. */
static int this_device(const char *db_path, int threads, pp_db **db, long long *dev, char fp[65], pp_err *err) {
    struct stat st;
    pp_backend *be = NULL;
    char desc[1024];
    *db = NULL;
    *dev = -1;
    if (stat(db_path, &st) != 0) return 0;
    if (pp_backend_open(PP_BACKEND_CPU, threads, &be, err)) return -1;
    pp_backend_describe(be, desc, sizeof desc);
    pp_backend_close(be);
    pp_sha256_hex(desc, strlen(desc), fp);
    if (pp_db_open_readonly(db_path, db, err)) return -1;
    pp_db_device *devs = NULL;
    int nd = 0;
    if (pp_db_devices_list(*db, &devs, &nd, err)) {
        pp_db_close(*db);
        *db = NULL;
        return -1;
    }
    for (int i = 0; i < nd; i++)
        if (!strcmp(devs[i].fingerprint, fp)) *dev = devs[i].id;
    pp_db_device_rows_free(devs, nd);
    if (*dev < 0) {
        pp_db_close(*db);
        *db = NULL;
        return 0;
    }
    return 1;
}

void pp_tool_step_signature(const pp_graph *g, char *buf, size_t n) {
    pp_sha256_ctx h;
    pp_sha256_init(&h);
    for (int i = 0; i < g->n_ops; i++) {
        char sig[512];
        pp_opprof_signature(g, i, sig, sizeof sig);
        pp_sha256_update(&h, sig, strlen(sig) + 1);
    }
    unsigned char d[32];
    pp_sha256_final(&h, d);
    char hex[17];
    for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    snprintf(buf, n, "step %s %d ops", hex, g->n_ops);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void pp_tool_sort(double *v, int n) {
    if (n > 1) qsort(v, (size_t)n, sizeof *v, cmp_double);
}

double pp_tool_median(double *v, int n) {
    if (n < 1) return NAN;
    pp_tool_sort(v, n);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int pp_tool_measured_cost(const char *db_path, const struct pp_graph *g, int threads, struct pp_cost_profile *out,
                          char *src, size_t n, int *missing, pp_err *err) {
    pp_db *db = NULL;
    pp_op_measure *m = NULL;
    char fp[65];
    long long dev;
    *missing = g->n_ops;
    int rc = this_device(db_path, threads, &db, &dev, fp, err);
    if (rc <= 0) return rc;
    rc = -1;
    m = pp_calloc((unsigned long long)(g->n_ops ? g->n_ops : 1), sizeof *m, err);
    if (!m) goto done;
    *missing = 0;
    for (int i = 0; i < g->n_ops; i++) {
        char sig[512];
        pp_db_op_profile p;
        int found = 0;
        pp_opprof_signature(g, i, sig, sizeof sig);
        if (pp_db_op_profile_get(db, dev, sig, &p, &found, err)) goto done;
        if (!found) {
            (*missing)++;
            continue;
        }
        for (int k = 0; k < 3; k++) {
            m[i].t[k] = p.t[k];
            m[i].spread[k] = p.spread[k];
            m[i].samples[k] = p.samples[k];
        }
        m[i].param_bytes = p.param_bytes;
        m[i].keep_f_bytes = p.keep_f_bytes;
        m[i].keep_w_bytes = p.keep_w_bytes;
        m[i].workspace_bytes = p.workspace_bytes;
    }
    if (*missing) {
        rc = 0;
        goto done;
    }
    char source[256], ssig[128];
    pp_db_op_profile st, op;
    int have_step = 0, have_optim = 0;
    pp_tool_step_signature(g, ssig, sizeof ssig);
    if (pp_db_op_profile_get(db, dev, ssig, &st, &have_step, err) ||
        pp_db_op_profile_get(db, dev, PP_TOOL_OPTIM_SIGNATURE, &op, &have_optim, err))
        goto done;
    double scale = have_step && st.t[0] > 0 && st.t[1] > 0 ? st.t[0] / st.t[1] : 1;
    if (have_step)
        snprintf(source, sizeof source, "measured profile in %s, device %.12s (%d ops, scaled x%.3f to the whole step)",
                 db_path, fp, g->n_ops, scale);
    else
        snprintf(source, sizeof source, "measured profile in %s, device %.12s (%d ops)", db_path, fp, g->n_ops);
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < 3; k++) {
            m[i].t[k] *= scale;
            m[i].spread[k] *= scale;
        }
    if (pp_opprof_cost(g, m, source, out, err)) goto done;
    out->optim_s_per_param = have_optim ? op.t[0] : 0;
    snprintf(src, n, "%s", source);
    rc = 1;
done:
    free(m);
    pp_db_close(db);
    return rc;
}

int pp_tool_measured_allreduce(const char *db_path, int threads, int *n_ranks, double *alpha, double *beta,
                               pp_err *err) {
    pp_db *db = NULL;
    char fp[65];
    long long dev;
    int rc = this_device(db_path, threads, &db, &dev, fp, err);
    if (rc <= 0) return rc;
    rc = 0;
    for (int n = 64; n >= 2 && !rc; n--) {
        char sig[64];
        pp_db_op_profile p;
        int found = 0;
        snprintf(sig, sizeof sig, PP_TOOL_ALLREDUCE_SIGNATURE, n);
        if (pp_db_op_profile_get(db, dev, sig, &p, &found, err)) {
            rc = -1;
            break;
        }
        if (found && p.t[1] > 0) {
            *n_ranks = n;
            *alpha = p.t[0];
            *beta = 1.0 / p.t[1];
            rc = 1;
        }
    }
    pp_db_close(db);
    return rc;
}

void pp_tool_allreduce_hops(int n_ranks, double alpha, double beta, double *hop_alpha, double *hop_beta) {
    int k = n_ranks < 2 ? 2 : n_ranks;
    *hop_alpha = alpha / (2.0 * (k - 1));
    *hop_beta = beta * 2.0 * (k - 1) / k;
}

int pp_tool_measured_links(const char *db_path, int threads, double *alpha, double *beta, int *n, pp_err *err) {
    pp_db *db = NULL;
    pp_db_link *links = NULL;
    char fp[65];
    long long dev;
    int nl = 0;
    *n = 0;
    int rc = this_device(db_path, threads, &db, &dev, fp, err);
    if (rc <= 0) return rc;
    rc = 0;
    if (pp_db_links_list(db, dev, &links, &nl, err)) {
        rc = -1;
        goto done;
    }
    double sa = 0, sb = 0;
    for (int i = 0; i < nl; i++) {
        sa += links[i].alpha_s;
        sb += links[i].beta_Bps;
    }
    if (nl) {
        *alpha = sa / nl;
        *beta = sb / nl;
        *n = nl;
        rc = 1;
    }
    pp_db_links_free(links);
done:
    pp_db_close(db);
    return rc;
}

int pp_tool_predict_plan(const pp_plan *p, const pp_graph *g, const char *db_path, int want_trace, int want_timeline,
                         pp_sim_result *res, char *cost_src, char *link_src, size_t n, double *stage_t,
                         pp_err *err) {
    memset(res, 0, sizeof *res);
    int S = p->n_stages, R = p->pp, rc = -1, missing = 0, cpu = p->cluster.n_devices == 0 ||
                                                            p->cluster.devices[0].type == PP_DEVICE_CPU;
    pp_cost_profile cost;
    pp_pipeline_model pm;
    memset(&cost, 0, sizeof cost);
    memset(&pm, 0, sizeof pm);
    int *bounds = pp_calloc((unsigned long long)S + 1, sizeof(int), err);
    double *alpha = pp_calloc((unsigned long long)R * R, sizeof(double), err);
    double *beta = pp_calloc((unsigned long long)R * R, sizeof(double), err);
    int *rank_dev = pp_calloc((unsigned long long)R, sizeof(int), err);
    if (!bounds || !alpha || !beta || !rank_dev) goto done;
    for (int s = 0; s < S; s++) {
        bounds[s] = p->stages[s].op_lo;
        rank_dev[p->stages[s].rank] = p->stages[s].devices[0];
    }
    bounds[S] = g->n_ops;
    char msrc[256] = "";
    int measured = cpu ? pp_tool_measured_cost(db_path, g, 1, &cost, msrc, sizeof msrc, &missing, err) : 0;
    if (measured < 0) goto done;
    if (!measured) {
        double rate = p->cluster.n_devices && p->cluster.devices[0].peak_flops > 0 ? 0.5 * p->cluster.devices[0].peak_flops
                                                                                 : 1e12;
        if (pp_cost_from_graph(g, rate, &cost, err)) goto done;
    }
    if (cost_src) snprintf(cost_src, n, "%s", cost.source);
    if (pp_pipeline_model_build(g, &cost, S, bounds, &pm, err)) goto done;
    for (int s = 0; stage_t && s < S; s++) {
        stage_t[3 * s] = pm.t_f[s];
        stage_t[3 * s + 1] = pm.t_i[s];
        stage_t[3 * s + 2] = pm.t_w[s];
    }
    double la = 0, lb = 0;
    int nl = 0, got = cpu ? pp_tool_measured_links(db_path, 1, &la, &lb, &nl, err) : 0;
    if (got < 0) goto done;
    for (int a = 0; a < R; a++)
        for (int b = 0; b < R; b++) {
            size_t l = (size_t)a * R + b;
            const pp_link_spec *ls = pp_cluster_link(&p->cluster, rank_dev[a], rank_dev[b]);
            if (got) {
                alpha[l] = la;
                beta[l] = lb;
            } else if (ls->present) {
                alpha[l] = ls->alpha_s;
                beta[l] = ls->beta_Bps;
            }
        }
    if (link_src) {
        if (got) snprintf(link_src, n, "links: measured in %s (mean of %d): %.3g us, %.3g GB/s", db_path, nl, la * 1e6, lb / 1e9);
        else snprintf(link_src, n, "links: the cluster spec's");
    }
    pp_sim_input in;
    memset(&in, 0, sizeof in);
    pp_pipeline_sim_input(&pm, &in);
    in.sched = &p->schedule;
    in.alpha = alpha;
    in.beta = beta;
    in.dp = p->dp;
    const pp_link_spec *dl = p->cluster.inter_host.present ? &p->cluster.inter_host : &p->cluster.intra_host;
    in.dp_alpha = got ? la : dl->present ? dl->alpha_s : 0;
    in.dp_beta = got ? lb : dl->present ? dl->beta_Bps : 0;
    int ar_n = 0;
    double ar_a = 0, ar_b = 0;
    int ar = cpu ? pp_tool_measured_allreduce(db_path, 1, &ar_n, &ar_a, &ar_b, err) : 0;
    if (ar < 0) goto done;
    if (ar) {
        pp_tool_allreduce_hops(ar_n, ar_a, ar_b, &in.coll_alpha, &in.coll_beta);
        in.dp_alpha = in.coll_alpha;
        in.dp_beta = in.coll_beta;
        if (link_src) {
            size_t l = strlen(link_src);
            snprintf(link_src + l, n - l, "; all-reduce measured over %d ranks: %.3g us + bytes / %.3g GB/s", ar_n,
                     ar_a * 1e6, ar_b / 1e9);
        }
    }
    in.samples_per_step = p->global_batch;
    in.tokens_per_step = (double)p->global_batch * p->seq_len;
    in.want_trace = want_trace;
    in.want_timeline = want_timeline;
    in.want_critical_path = 1;
    rc = pp_sim_run(&in, res, err);
done:
    pp_pipeline_model_free(&pm);
    pp_cost_free(&cost);
    free(bounds);
    free(alpha);
    free(beta);
    free(rank_dev);
    return rc;
}
