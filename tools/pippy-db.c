/*
 * pippy-db.c -- `pippy db`: what the database holds.
 *
 * Every other command stores its results (models, plans, device profiles
 * and links, measured runs, and later predictions) in one SQLite file; this
 * command is the window onto it. It opens the database read-only, so
 * looking never creates, migrates or changes the file, and prints the schema
 * version and the stored models and plans (with counts of the profiles and
 * runs), or the profiles themselves with `profiles`, the runs with `runs`,
 * one run's steps and ranks with `run ID`, as tables, or as JSON with --json.
 * `pippy db init` is the one writing form: it creates the database, or
 * brings an older one up to this pippy's schema.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_err.h"
#include "core/pp_json.h"
#include "db/pp_db.h"
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
            "               predicted) / predicted), final loss, status\n"
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

/* A text table: columns sized to their widest cell, two spaces apart. */
#define MAX_COLS 12
typedef struct table {
    int ncol, nrow;
    const char *head[MAX_COLS];
    int right[MAX_COLS]; /* right-align (numbers) */
    char **cells;        /* nrow * ncol, owned */
} table;

static int table_add(table *t, const char *const *vals, pp_err *err) {
    char **c = pp_realloc(t->cells, (unsigned long long)(t->nrow + 1) * (unsigned)t->ncol * sizeof *c, err);
    if (!c) return -1;
    t->cells = c;
    for (int j = 0; j < t->ncol; j++) c[t->nrow * t->ncol + j] = NULL;
    t->nrow++;
    for (int j = 0; j < t->ncol; j++) {
        c[(t->nrow - 1) * t->ncol + j] = pp_strdup(vals[j] ? vals[j] : "", err);
        if (!c[(t->nrow - 1) * t->ncol + j]) return -1;
    }
    return 0;
}

/* Display width of UTF-8 text: its characters, not its bytes ("µs"). */
static int text_width(const char *s) {
    int n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) n++;
    return n;
}

static void pad(int n) {
    for (; n > 0; n--) fputc(' ', stdout);
}

static void table_print(const table *t) {
    int w[MAX_COLS];
    for (int j = 0; j < t->ncol; j++) {
        w[j] = text_width(t->head[j]);
        for (int i = 0; i < t->nrow; i++) {
            int l = text_width(t->cells[i * t->ncol + j]);
            if (l > w[j]) w[j] = l;
        }
    }
    for (int i = -1; i < t->nrow; i++) {
        fputs("  ", stdout);
        for (int j = 0; j < t->ncol; j++) {
            const char *s = i < 0 ? t->head[j] : t->cells[i * t->ncol + j];
            int last = j == t->ncol - 1, fill = w[j] - text_width(s);
            if (t->right[j]) pad(fill);
            fputs(s, stdout);
            if (!t->right[j] && !last) pad(fill);
            if (!last) fputs("  ", stdout);
        }
        fputc('\n', stdout);
    }
}

static void table_free(table *t) {
    if (t->cells)
        for (int i = 0; i < t->nrow * t->ncol; i++) free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
}

/* First 12 hex digits: enough to tell stored things apart at a glance. */
static void short_hash(const char *h, char out[13]) { snprintf(out, 13, "%.12s", h); }

static const char *model_name_for(const pp_db_model_row *m, int nm, const char *hash) {
    for (int i = 0; i < nm; i++)
        if (!strcmp(m[i].hash, hash)) return m[i].name;
    return NULL;
}

static int print_models_text(const pp_db_model_row *m, int nm, pp_err *err) {
    table t = {.ncol = 6, .head = {"ID", "NAME", "FAMILY", "PARAMS", "HASH", "CREATED"}, .right = {1, 0, 0, 1, 0, 0}};
    int ret = -1;
    printf("models: %d\n", nm);
    for (int i = 0; i < nm; i++) {
        char id[32], params[48], hash[13];
        snprintf(id, sizeof id, "%lld", m[i].id);
        pp_tool_fmt_count(m[i].n_params, params, sizeof params);
        short_hash(m[i].hash, hash);
        const char *vals[] = {id, m[i].name, m[i].family, params, hash, m[i].created_at};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (nm > 0) table_print(&t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

static int print_plans_text(const pp_db_plan_row *p, int np, const pp_db_model_row *m, int nm, pp_err *err) {
    table t = {.ncol = 7,
               .head = {"ID", "NAME", "MODEL", "RANKS", "SCHEDULE", "HASH", "CREATED"},
               .right = {1, 0, 0, 1, 0, 0, 0}};
    int ret = -1;
    printf("plans: %d\n", np);
    for (int i = 0; i < np; i++) {
        char id[32], ranks[16], hash[13], model[13];
        snprintf(id, sizeof id, "%lld", p[i].id);
        snprintf(ranks, sizeof ranks, "%d", p[i].n_ranks);
        short_hash(p[i].plan_hash, hash);
        short_hash(p[i].model_hash, model);
        const char *mname = model_name_for(m, nm, p[i].model_hash);
        const char *vals[] = {id, p[i].name, mname ? mname : model, ranks, p[i].schedule, hash, p[i].created_at};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (np > 0) table_print(&t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

static void json_models(pp_jw *w, const pp_db_model_row *m, int nm) {
    pp_jw_key(w, "models");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nm; i++) {
        pp_jw_obj_begin(w);
        pp_jw_key(w, "id");
        pp_jw_int(w, m[i].id);
        pp_jw_key(w, "name");
        pp_jw_str(w, m[i].name);
        pp_jw_key(w, "family");
        pp_jw_str(w, m[i].family);
        pp_jw_key(w, "n_params");
        pp_jw_int(w, m[i].n_params);
        pp_jw_key(w, "hash");
        pp_jw_str(w, m[i].hash);
        pp_jw_key(w, "created_at");
        pp_jw_str(w, m[i].created_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

static void json_plans(pp_jw *w, const pp_db_plan_row *p, int np, const pp_db_model_row *m, int nm) {
    pp_jw_key(w, "plans");
    pp_jw_arr_begin(w);
    for (int i = 0; i < np; i++) {
        const char *mname = model_name_for(m, nm, p[i].model_hash);
        pp_jw_obj_begin(w);
        pp_jw_key(w, "id");
        pp_jw_int(w, p[i].id);
        pp_jw_key(w, "name");
        pp_jw_str(w, p[i].name);
        pp_jw_key(w, "model_hash");
        pp_jw_str(w, p[i].model_hash);
        pp_jw_key(w, "model_name");
        if (mname) pp_jw_str(w, mname);
        else pp_jw_null(w);
        pp_jw_key(w, "n_ranks");
        pp_jw_int(w, p[i].n_ranks);
        pp_jw_key(w, "schedule");
        pp_jw_str(w, p[i].schedule);
        pp_jw_key(w, "plan_hash");
        pp_jw_str(w, p[i].plan_hash);
        pp_jw_key(w, "created_at");
        pp_jw_str(w, p[i].created_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

/* ---- Profiles ---------------------------------------------------------------- */

static void print_profile_counts(int nd, int nop, int nl) {
    printf("devices: %d\nop profiles: %d\nlinks: %d\n", nd, nop, nl);
}

static const char *device_fp_for(const pp_db_device *d, int nd, long long id) {
    for (int i = 0; i < nd; i++)
        if (d[i].id == id) return d[i].fingerprint;
    return "";
}

static int print_devices_text(const pp_db_device *d, int nd, pp_err *err) {
    table t = {.ncol = 4, .head = {"ID", "FINGERPRINT", "CREATED", "DESCRIPTION"}, .right = {1, 0, 0, 0}};
    int ret = -1;
    printf("devices: %d\n", nd);
    for (int i = 0; i < nd; i++) {
        char id[32], fp[13];
        snprintf(id, sizeof id, "%lld", d[i].id);
        short_hash(d[i].fingerprint, fp);
        const char *vals[] = {id, fp, d[i].created_at, d[i].description_json};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (nd > 0) table_print(&t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

/* "123.4 ±5.6": a median and its spread, seconds shown as microseconds. */
static void fmt_us(double t, double spread, char *out, size_t n) {
    snprintf(out, n, "%.1f ±%.1f", t * 1e6, spread * 1e6);
}

static int print_op_profiles_text(const pp_db_op_profile *p, int np, pp_err *err) {
    table t = {.ncol = 7,
               .head = {"DEVICE", "SIGNATURE", "F µs", "I µs", "W µs", "SAMPLES F/I/W", "MEASURED"},
               .right = {1, 0, 1, 1, 1, 1, 0}};
    int ret = -1;
    printf("op profiles: %d\n", np);
    for (int i = 0; i < np; i++) {
        char dev[32], f[64], in[64], w[64], samples[48];
        snprintf(dev, sizeof dev, "%lld", p[i].device_id);
        fmt_us(p[i].m.t[0], p[i].m.spread[0], f, sizeof f);
        fmt_us(p[i].m.t[1], p[i].m.spread[1], in, sizeof in);
        fmt_us(p[i].m.t[2], p[i].m.spread[2], w, sizeof w);
        snprintf(samples, sizeof samples, "%d/%d/%d", p[i].m.samples[0], p[i].m.samples[1], p[i].m.samples[2]);
        const char *vals[] = {dev, p[i].signature, f, in, w, samples, p[i].measured_at};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (np > 0) table_print(&t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

static int print_links_text(const pp_db_link *l, int nl, pp_err *err) {
    table t = {.ncol = 7,
               .head = {"DEVICE", "PAIR", "HOSTS", "ALPHA µs", "BETA GB/s", "RESIDUAL", "MEASURED"},
               .right = {1, 0, 0, 1, 1, 1, 0}};
    int ret = -1;
    printf("links: %d\n", nl);
    for (int i = 0; i < nl; i++) {
        char dev[32], pair[48], hosts[300], alpha[48], beta[48], resid[48];
        snprintf(dev, sizeof dev, "%lld", l[i].device_id);
        snprintf(pair, sizeof pair, "%d -> %d", l[i].src_rank, l[i].dst_rank);
        snprintf(hosts, sizeof hosts, "%s -> %s", l[i].src_host[0] ? l[i].src_host : "-",
                 l[i].dst_host[0] ? l[i].dst_host : "-");
        snprintf(alpha, sizeof alpha, "%.2f", l[i].alpha_s * 1e6);
        if (l[i].beta_Bps > 0) snprintf(beta, sizeof beta, "%.3f", l[i].beta_Bps / 1e9);
        else snprintf(beta, sizeof beta, "inf");
        snprintf(resid, sizeof resid, "%.3g", l[i].residual);
        const char *vals[] = {dev, pair, hosts, alpha, beta, resid, l[i].measured_at};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (nl > 0) table_print(&t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

static int print_pseudo_text(const pp_db_step_profile *sp, int ns, const pp_db_optim_profile *op, int no,
                             const pp_db_collective_profile *cp, int nc, pp_err *err) {
    table t = {.ncol = 7,
               .head = {"DEVICE", "GRAPH", "OPS", "WHOLE µs", "SUM OF OPS µs", "SAMPLES", "MEASURED"},
               .right = {1, 0, 1, 1, 1, 1, 0}};
    table o = {.ncol = 6,
               .head = {"DEVICE", "OPTIMIZER", "DTYPE", "ns/PARAM", "SAMPLES", "MEASURED"},
               .right = {1, 0, 0, 1, 1, 0}};
    table c = {.ncol = 9,
               .head = {"DEVICE", "OP", "DTYPE", "RANKS", "ALPHA µs", "BETA GB/s", "RESIDUAL", "SAMPLES", "MEASURED"},
               .right = {1, 0, 0, 1, 1, 1, 1, 1, 0}};
    int ret = -1;
    char a[32], b[48], d[48], e[48], f[48], g[32];
    printf("step profiles: %d\n", ns);
    for (int i = 0; i < ns; i++) {
        snprintf(a, sizeof a, "%lld", sp[i].device_id);
        snprintf(b, sizeof b, "%d", sp[i].n_ops);
        snprintf(d, sizeof d, "%.1f", sp[i].whole_s * 1e6);
        snprintf(e, sizeof e, "%.1f", sp[i].sum_ops_s * 1e6);
        snprintf(g, sizeof g, "%d", sp[i].samples);
        const char *vals[] = {a, sp[i].graph_hash, b, d, e, g, sp[i].measured_at};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (ns > 0) table_print(&t);
    printf("\noptimizer profiles: %d\n", no);
    for (int i = 0; i < no; i++) {
        snprintf(a, sizeof a, "%lld", op[i].device_id);
        snprintf(d, sizeof d, "%.3f", op[i].s_per_param * 1e9);
        snprintf(g, sizeof g, "%d", op[i].samples);
        const char *vals[] = {a, op[i].optimizer, op[i].dtype, d, g, op[i].measured_at};
        if (table_add(&o, vals, err)) goto cleanup;
    }
    if (no > 0) table_print(&o);
    printf("\ncollective profiles: %d\n", nc);
    for (int i = 0; i < nc; i++) {
        snprintf(a, sizeof a, "%lld", cp[i].device_id);
        snprintf(b, sizeof b, "%d", cp[i].n_ranks);
        snprintf(d, sizeof d, "%.2f", cp[i].alpha_s * 1e6);
        if (cp[i].beta_Bps > 0) snprintf(e, sizeof e, "%.3f", cp[i].beta_Bps / 1e9);
        else snprintf(e, sizeof e, "-");
        snprintf(f, sizeof f, "%.3g", cp[i].residual);
        snprintf(g, sizeof g, "%d", cp[i].samples);
        const char *vals[] = {a, cp[i].op, cp[i].dtype, b, d, e, f, g, cp[i].measured_at};
        if (table_add(&c, vals, err)) goto cleanup;
    }
    if (nc > 0) table_print(&c);
    ret = 0;
cleanup:
    table_free(&t);
    table_free(&o);
    table_free(&c);
    return ret;
}

/* The device keys every profile row carries. */
static void json_device_keys(pp_jw *w, long long id, const pp_db_device *d, int nd) {
    pp_jw_key(w, "device_id");
    pp_jw_int(w, id);
    pp_jw_key(w, "device_fingerprint");
    pp_jw_str(w, device_fp_for(d, nd, id));
}

static void json_pseudo(pp_jw *w, const pp_db_step_profile *sp, int ns, const pp_db_optim_profile *op, int no,
                        const pp_db_collective_profile *cp, int nc, const pp_db_device *d, int nd) {
    pp_jw_key(w, "step_profiles");
    pp_jw_arr_begin(w);
    for (int i = 0; i < ns; i++) {
        pp_jw_obj_begin(w);
        json_device_keys(w, sp[i].device_id, d, nd);
        pp_jw_key(w, "graph_hash");
        pp_jw_str(w, sp[i].graph_hash);
        pp_jw_key(w, "n_ops");
        pp_jw_int(w, sp[i].n_ops);
        pp_jw_key(w, "whole_s");
        pp_jw_num(w, sp[i].whole_s);
        pp_jw_key(w, "sum_ops_s");
        pp_jw_num(w, sp[i].sum_ops_s);
        pp_jw_key(w, "samples");
        pp_jw_int(w, sp[i].samples);
        pp_jw_key(w, "measured_at");
        pp_jw_str(w, sp[i].measured_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_key(w, "optim_profiles");
    pp_jw_arr_begin(w);
    for (int i = 0; i < no; i++) {
        pp_jw_obj_begin(w);
        json_device_keys(w, op[i].device_id, d, nd);
        pp_jw_key(w, "optimizer");
        pp_jw_str(w, op[i].optimizer);
        pp_jw_key(w, "dtype");
        pp_jw_str(w, op[i].dtype);
        pp_jw_key(w, "s_per_param");
        pp_jw_num(w, op[i].s_per_param);
        pp_jw_key(w, "samples");
        pp_jw_int(w, op[i].samples);
        pp_jw_key(w, "measured_at");
        pp_jw_str(w, op[i].measured_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_key(w, "collective_profiles");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nc; i++) {
        pp_jw_obj_begin(w);
        json_device_keys(w, cp[i].device_id, d, nd);
        pp_jw_key(w, "op");
        pp_jw_str(w, cp[i].op);
        pp_jw_key(w, "dtype");
        pp_jw_str(w, cp[i].dtype);
        pp_jw_key(w, "n_ranks");
        pp_jw_int(w, cp[i].n_ranks);
        pp_jw_key(w, "alpha_s");
        pp_jw_num(w, cp[i].alpha_s);
        pp_jw_key(w, "beta_Bps");
        pp_jw_num(w, cp[i].beta_Bps);
        pp_jw_key(w, "residual");
        pp_jw_num(w, cp[i].residual);
        pp_jw_key(w, "samples");
        pp_jw_int(w, cp[i].samples);
        pp_jw_key(w, "measured_at");
        pp_jw_str(w, cp[i].measured_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

static void json_devices(pp_jw *w, const pp_db_device *d, int nd) {
    pp_jw_key(w, "devices");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nd; i++) {
        pp_jw_obj_begin(w);
        pp_jw_key(w, "id");
        pp_jw_int(w, d[i].id);
        pp_jw_key(w, "fingerprint");
        pp_jw_str(w, d[i].fingerprint);
        pp_jw_key(w, "description_json");
        pp_jw_str(w, d[i].description_json);
        pp_jw_key(w, "created_at");
        pp_jw_str(w, d[i].created_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

static void json_triple_num(pp_jw *w, const char *key, const double v[3]) {
    pp_jw_key(w, key);
    pp_jw_arr_begin_inline(w);
    for (int k = 0; k < 3; k++) pp_jw_num(w, v[k]);
    pp_jw_arr_end(w);
}

static void json_op_profiles(pp_jw *w, const pp_db_op_profile *p, int np, const pp_db_device *d, int nd) {
    pp_jw_key(w, "op_profiles");
    pp_jw_arr_begin(w);
    for (int i = 0; i < np; i++) {
        pp_jw_obj_begin(w);
        pp_jw_key(w, "device_id");
        pp_jw_int(w, p[i].device_id);
        pp_jw_key(w, "device_fingerprint");
        pp_jw_str(w, device_fp_for(d, nd, p[i].device_id));
        pp_jw_key(w, "signature");
        pp_jw_str(w, p[i].signature);
        pp_jw_key(w, "kind");
        pp_jw_str(w, p[i].kind);
        json_triple_num(w, "t_s", p[i].m.t);
        json_triple_num(w, "spread_s", p[i].m.spread);
        pp_jw_key(w, "samples");
        pp_jw_arr_begin_inline(w);
        for (int k = 0; k < 3; k++) pp_jw_int(w, p[i].m.samples[k]);
        pp_jw_arr_end(w);
        pp_jw_key(w, "param_bytes");
        pp_jw_int(w, p[i].m.param_bytes);
        pp_jw_key(w, "keep_f_bytes");
        pp_jw_int(w, p[i].m.keep_f_bytes);
        pp_jw_key(w, "keep_w_bytes");
        pp_jw_int(w, p[i].m.keep_w_bytes);
        pp_jw_key(w, "workspace_bytes");
        pp_jw_int(w, p[i].m.workspace_bytes);
        pp_jw_key(w, "measured_at");
        pp_jw_str(w, p[i].measured_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

static void json_links(pp_jw *w, const pp_db_link *l, int nl, const pp_db_device *d, int nd) {
    pp_jw_key(w, "links");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nl; i++) {
        pp_jw_obj_begin(w);
        pp_jw_key(w, "device_id");
        pp_jw_int(w, l[i].device_id);
        pp_jw_key(w, "device_fingerprint");
        pp_jw_str(w, device_fp_for(d, nd, l[i].device_id));
        pp_jw_key(w, "src_rank");
        pp_jw_int(w, l[i].src_rank);
        pp_jw_key(w, "dst_rank");
        pp_jw_int(w, l[i].dst_rank);
        pp_jw_key(w, "src_host");
        pp_jw_str(w, l[i].src_host);
        pp_jw_key(w, "dst_host");
        pp_jw_str(w, l[i].dst_host);
        pp_jw_key(w, "alpha_s");
        pp_jw_num(w, l[i].alpha_s);
        pp_jw_key(w, "beta_Bps");
        pp_jw_num(w, l[i].beta_Bps);
        pp_jw_key(w, "residual");
        pp_jw_num(w, l[i].residual);
        pp_jw_key(w, "sizes_json");
        pp_jw_str(w, l[i].sizes_json);
        pp_jw_key(w, "measured_at");
        pp_jw_str(w, l[i].measured_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

/* ---- Runs --------------------------------------------------------------------- */

/* The prediction's relative error, (measured - predicted) / predicted;
 * NAN when the run had no prediction. */
static double run_rel_error(const pp_db_run *r) {
    return r->predicted_iteration_s > 0 ? (r->iteration_s - r->predicted_iteration_s) / r->predicted_iteration_s
                                        : NAN;
}

/* v with the given printf format, or "-" when v is not finite. */
static void fmt_or_dash(double v, const char *fmt, char *out, size_t n) {
    if (isfinite(v)) snprintf(out, n, fmt, v);
    else snprintf(out, n, "-");
}

static void fmt_steps(const pp_db_run *r, char *out, size_t n) {
    if (r->first_step > 0) snprintf(out, n, "%d from %d", r->steps, r->first_step);
    else snprintf(out, n, "%d", r->steps);
}

static int print_runs_text(const pp_db_run *r, int nr, pp_err *err) {
    table t = {.ncol = 12,
               .head = {"ID", "CREATED", "MODEL", "SCHEDULE", "PP x DP", "STEPS", "TOKENS/S", "ITER S", "PRED S",
                        "PRED ERR", "FINAL LOSS", "STATUS"},
               .right = {1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0}};
    int ret = -1;
    printf("runs: %d\n", nr);
    if (nr == 0) printf("  (none stored yet; `pippy run` stores each run it makes)\n");
    for (int i = 0; i < nr; i++) {
        char id[32], par[32], steps[48], tps[48], it[48], pred[48], rel[48], loss[48];
        snprintf(id, sizeof id, "%lld", r[i].id);
        snprintf(par, sizeof par, "%d x %d", r[i].pp, r[i].dp);
        fmt_steps(&r[i], steps, sizeof steps);
        snprintf(tps, sizeof tps, "%.1f", r[i].tokens_per_s);
        snprintf(it, sizeof it, "%.4f", r[i].iteration_s);
        fmt_or_dash(r[i].predicted_iteration_s > 0 ? r[i].predicted_iteration_s : NAN, "%.4f", pred, sizeof pred);
        fmt_or_dash(run_rel_error(&r[i]) * 100, "%+.1f%%", rel, sizeof rel);
        fmt_or_dash(r[i].final_loss, "%.4f", loss, sizeof loss);
        const char *model = r[i].model[0] ? r[i].model : "-", *sched = r[i].schedule[0] ? r[i].schedule : "-";
        const char *vals[] = {id, r[i].created_at, model, sched, par, steps, tps, it, pred, rel, loss, r[i].status};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (nr > 0) table_print(&t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

/* One run in full: its fields as "key  value" lines, then its steps and
 * ranks as tables and its event count. */
static int print_run_text(const pp_db_run *r, const pp_db_run_step *s, int ns, const pp_run_rank *k, int nk,
                          long long n_ev, pp_err *err) {
    char buf[96], steps[48];
    int ret = -1;
    printf("run %lld: %s\n", r->id, r->status);
    printf("  created      %s\n", r->created_at);
    printf("  plan         %s\n", r->plan_hash);
    printf("  model        %s\n", r->model[0] ? r->model : "-");
    printf("  schedule     %s\n", r->schedule[0] ? r->schedule : "-");
    printf("  parallel     pp %d x dp %d (%d ranks)\n", r->pp, r->dp, r->n_ranks);
    printf("  batch        global %d, micro %d, %d microbatches, seq_len %d\n", r->global_batch, r->micro_batch,
           r->n_microbatches, r->seq_len);
    fmt_steps(r, steps, sizeof steps);
    printf("  steps        %s\n", steps);
    printf("  tokens/s     %.1f\n", r->tokens_per_s);
    printf("  iteration    %.6f s (median step)\n", r->iteration_s);
    if (r->predicted_iteration_s > 0)
        printf("  predicted    %.6f s (measured is %+.1f%% off)\n", r->predicted_iteration_s, run_rel_error(r) * 100);
    else
        printf("  predicted    - (the plan had no prediction)\n");
    fmt_or_dash(r->final_loss, "%.6f", buf, sizeof buf);
    printf("  final loss   %s\n", buf);
    if (r->message[0]) printf("  message      %s\n", r->message);
    printf("  events       %lld\n", n_ev);

    table ts = {.ncol = 4, .head = {"STEP", "LOSS", "GRAD NORM", "SECONDS"}, .right = {1, 1, 1, 1}};
    table tk = {.ncol = 5, .head = {"RANK", "HOST", "PEAK BYTES", "BUSY S", "BUSY %"}, .right = {1, 0, 1, 1, 1}};
    double total_s = 0;
    printf("\nsteps: %d\n", ns);
    for (int i = 0; i < ns; i++) {
        char step[32], loss[48], gn[48], sec[48];
        snprintf(step, sizeof step, "%d", s[i].step);
        fmt_or_dash(s[i].loss, "%.6f", loss, sizeof loss);
        fmt_or_dash(s[i].grad_norm, "%.4f", gn, sizeof gn);
        snprintf(sec, sizeof sec, "%.6f", s[i].seconds);
        total_s += s[i].seconds;
        const char *vals[] = {step, loss, gn, sec};
        if (table_add(&ts, vals, err)) goto cleanup;
    }
    if (ns > 0) table_print(&ts);
    printf("\nranks: %d\n", nk);
    for (int i = 0; i < nk; i++) {
        char rank[32], peak[48], busy[48], util[48];
        snprintf(rank, sizeof rank, "%d", k[i].rank);
        pp_tool_fmt_count(k[i].peak_bytes, peak, sizeof peak);
        snprintf(busy, sizeof busy, "%.6f", k[i].busy_s);
        /* Busy share of the stored steps' wall time. */
        fmt_or_dash(total_s > 0 ? 100 * k[i].busy_s / total_s : NAN, "%.1f", util, sizeof util);
        const char *vals[] = {rank, k[i].host[0] ? k[i].host : "-", peak, busy, util};
        if (table_add(&tk, vals, err)) goto cleanup;
    }
    if (nk > 0) table_print(&tk);
    ret = 0;
cleanup:
    table_free(&ts);
    table_free(&tk);
    return ret;
}

/* A number, or null when it is not finite (NaN loss) or, with zero_null,
 * when it is 0 (no prediction). */
static void json_num_or_null(pp_jw *w, const char *key, double v, int zero_null) {
    pp_jw_key(w, key);
    if (!isfinite(v) || (zero_null && v == 0)) pp_jw_null(w);
    else pp_jw_num(w, v);
}

static void json_run(pp_jw *w, const pp_db_run *r) {
    pp_jw_obj_begin(w);
    pp_jw_key(w, "id");
    pp_jw_int(w, r->id);
    pp_jw_key(w, "created_at");
    pp_jw_str(w, r->created_at);
    pp_jw_key(w, "plan_hash");
    pp_jw_str(w, r->plan_hash);
    pp_jw_key(w, "model");
    pp_jw_str(w, r->model);
    pp_jw_key(w, "schedule");
    pp_jw_str(w, r->schedule);
    const struct {
        const char *k;
        int v;
    } ints[] = {{"pp", r->pp},
                {"dp", r->dp},
                {"n_ranks", r->n_ranks},
                {"global_batch", r->global_batch},
                {"micro_batch", r->micro_batch},
                {"n_microbatches", r->n_microbatches},
                {"seq_len", r->seq_len},
                {"first_step", r->first_step},
                {"steps", r->steps}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        pp_jw_key(w, ints[i].k);
        pp_jw_int(w, ints[i].v);
    }
    pp_jw_key(w, "status");
    pp_jw_str(w, r->status);
    pp_jw_key(w, "message");
    pp_jw_str(w, r->message);
    json_num_or_null(w, "tokens_per_s", r->tokens_per_s, 0);
    json_num_or_null(w, "iteration_s", r->iteration_s, 0);
    json_num_or_null(w, "predicted_iteration_s", r->predicted_iteration_s, 1);
    json_num_or_null(w, "relative_error", run_rel_error(r), 0);
    json_num_or_null(w, "final_loss", r->final_loss, 0);
    pp_jw_obj_end(w);
}

static void json_runs(pp_jw *w, const pp_db_run *r, int nr) {
    pp_jw_key(w, "runs");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nr; i++) json_run(w, &r[i]);
    pp_jw_arr_end(w);
}

static void json_run_detail(pp_jw *w, const pp_db_run *r, const pp_db_run_step *s, int ns, const pp_run_rank *k,
                            int nk, long long n_ev) {
    pp_jw_key(w, "run");
    json_run(w, r);
    pp_jw_key(w, "steps");
    pp_jw_arr_begin(w);
    for (int i = 0; i < ns; i++) {
        pp_jw_obj_begin(w);
        pp_jw_key(w, "step");
        pp_jw_int(w, s[i].step);
        json_num_or_null(w, "loss", s[i].loss, 0);
        json_num_or_null(w, "grad_norm", s[i].grad_norm, 0);
        json_num_or_null(w, "seconds", s[i].seconds, 0);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_key(w, "ranks");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nk; i++) {
        pp_jw_obj_begin(w);
        pp_jw_key(w, "rank");
        pp_jw_int(w, k[i].rank);
        pp_jw_key(w, "host");
        pp_jw_str(w, k[i].host);
        pp_jw_key(w, "peak_bytes");
        pp_jw_int(w, k[i].peak_bytes);
        json_num_or_null(w, "busy_s", k[i].busy_s, 0);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_key(w, "event_count");
    pp_jw_int(w, n_ev);
}

static int write_stdout(const char *s, size_t n, pp_err *err) {
    if (fwrite(s, 1, n, stdout) != n || fflush(stdout) != 0)
        return pp_err_set(err, PP_ERR_IO, "writing to standard output failed");
    return 0;
}

enum what { WHAT_ALL, WHAT_MODELS, WHAT_PLANS, WHAT_PROFILES, WHAT_RUNS, WHAT_RUN, WHAT_INIT };

int main(int argc, char **argv) {
    const char *db_opt = NULL;
    int json = 0, have_what = 0, have_id = 0, only_args = 0;
    long long run_id = 0;
    enum what what = WHAT_ALL;
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
        if (have_what && what == WHAT_RUN && !have_id) {
            if (pp_tool_parse_int(TOOL, "run ID", a, 1, 9223372036854775807LL, &run_id)) return 2;
            have_id = 1;
            continue;
        }
        if (have_what) return pp_tool_usage_error(TOOL, "unexpected argument '%s'", a);
        if (!strcmp(a, "models")) what = WHAT_MODELS;
        else if (!strcmp(a, "plans")) what = WHAT_PLANS;
        else if (!strcmp(a, "profiles")) what = WHAT_PROFILES;
        else if (!strcmp(a, "runs")) what = WHAT_RUNS;
        else if (!strcmp(a, "run")) what = WHAT_RUN;
        else if (!strcmp(a, "init")) what = WHAT_INIT;
        else
            return pp_tool_usage_error(
                TOOL, "unknown argument '%s' (expected models, plans, profiles, runs, run or init)", a);
        have_what = 1;
    }
    if (what == WHAT_RUN && !have_id) return pp_tool_usage_error(TOOL, "run needs a run ID (see `pippy db runs`)");

    const char *path = pp_tool_db_path(db_opt);
    pp_err err = {0};
    pp_db *db = NULL;
    pp_db_model_row *models = NULL;
    pp_db_plan_row *plans = NULL;
    pp_db_device *devices = NULL;
    pp_db_op_profile *profiles = NULL;
    pp_db_link *links = NULL;
    pp_db_step_profile *steps = NULL;
    pp_db_optim_profile *optims = NULL;
    pp_db_collective_profile *colls = NULL;
    int nsp = 0, nop5 = 0, ncp = 0;
    pp_db_run *runs = NULL, run = {0};
    pp_db_run_step *run_steps = NULL;
    pp_run_rank *run_ranks = NULL;
    long long n_ev = 0;
    int nm = 0, np = 0, nd = 0, nop = 0, nl = 0, nr = 0, nrs = 0, nrk = 0, status = 1, version = 0;
    char *text = NULL;
    size_t text_len = 0;
    pp_jw w;
    pp_jw_init(&w);

    if (what != WHAT_INIT && access(path, F_OK) != 0 && errno == ENOENT) {
        pp_err_set(&err, PP_ERR_IO,
                   "no database at %s (commands that store results create it, as does `pippy db init`)", path);
        goto cleanup;
    }
    if (what == WHAT_INIT ? pp_db_open(path, &db, &err) : pp_db_open_readonly(path, &db, &err)) goto cleanup;
    version = pp_db_schema_version(db);
    int want_models = what == WHAT_ALL || what == WHAT_MODELS;
    int want_plans = what == WHAT_ALL || what == WHAT_PLANS;
    /* Plans show their model's name, so models are loaded for them too. */
    if ((want_models || want_plans) && pp_db_models_list(db, &models, &nm, &err)) goto cleanup;
    if (want_plans && pp_db_plans_list(db, &plans, &np, &err)) goto cleanup;
    int want_counts = what == WHAT_ALL || what == WHAT_PROFILES;
    int want_profiles = what == WHAT_PROFILES;
    if (want_profiles) {
        if (pp_db_devices_list(db, &devices, &nd, &err) || pp_db_op_profiles_list(db, 0, &profiles, &nop, &err) ||
            pp_db_links_list(db, 0, &links, &nl, &err) || pp_db_step_profiles_list(db, 0, &steps, &nsp, &err) ||
            pp_db_optim_profiles_list(db, 0, &optims, &nop5, &err) ||
            pp_db_collective_profiles_list(db, 0, &colls, &ncp, &err))
            goto cleanup;
    } else if (want_counts && pp_db_profile_counts(db, &nd, &nop, &nl, &err)) {
        goto cleanup;
    }
    int want_runs = what == WHAT_RUNS, want_run_count = what == WHAT_ALL;
    if ((want_runs || want_run_count) && pp_db_runs_list(db, &runs, &nr, &err)) goto cleanup;
    if (what == WHAT_RUN) {
        int found = 0;
        if (pp_db_run_get(db, run_id, &run, &found, &err)) goto cleanup;
        if (!found) {
            pp_err_set(&err, PP_ERR_INVALID, "%s: no run %lld (`pippy db runs` lists the stored runs)", path, run_id);
            goto cleanup;
        }
        if (pp_db_run_steps(db, run_id, &run_steps, &nrs, &err) ||
            pp_db_run_ranks(db, run_id, &run_ranks, &nrk, &err) || pp_db_run_event_count(db, run_id, &n_ev, &err))
            goto cleanup;
    }

    if (json) {
        pp_jw_obj_begin(&w);
        pp_jw_key(&w, "database");
        pp_jw_str(&w, path);
        pp_jw_key(&w, "schema_version");
        pp_jw_int(&w, version);
        pp_jw_key(&w, "schema_version_supported");
        pp_jw_int(&w, PP_DB_SCHEMA_VERSION);
        if (want_models || want_plans || want_counts || want_runs || want_run_count) {
            pp_jw_key(&w, "counts");
            pp_jw_obj_begin(&w);
            if (want_models) {
                pp_jw_key(&w, "models");
                pp_jw_int(&w, nm);
            }
            if (want_plans) {
                pp_jw_key(&w, "plans");
                pp_jw_int(&w, np);
            }
            if (want_counts) {
                pp_jw_key(&w, "devices");
                pp_jw_int(&w, nd);
                pp_jw_key(&w, "op_profiles");
                pp_jw_int(&w, nop);
                pp_jw_key(&w, "links");
                pp_jw_int(&w, nl);
            }
            if (want_runs || want_run_count) {
                pp_jw_key(&w, "runs");
                pp_jw_int(&w, nr);
            }
            pp_jw_obj_end(&w);
        }
        if (want_models) json_models(&w, models, nm);
        if (want_plans) json_plans(&w, plans, np, models, nm);
        if (want_profiles) {
            json_devices(&w, devices, nd);
            json_op_profiles(&w, profiles, nop, devices, nd);
            json_links(&w, links, nl, devices, nd);
            json_pseudo(&w, steps, nsp, optims, nop5, colls, ncp, devices, nd);
        }
        if (want_runs) json_runs(&w, runs, nr);
        if (what == WHAT_RUN) json_run_detail(&w, &run, run_steps, nrs, run_ranks, nrk, n_ev);
        pp_jw_obj_end(&w);
        if (pp_jw_finish(&w, &text, &text_len, &err) || write_stdout(text, text_len, &err)) goto cleanup;
    } else {
        if (version < PP_DB_SCHEMA_VERSION)
            printf("%s: schema version %d (this pippy writes %d; `pippy db init` upgrades it)\n", path, version,
                   PP_DB_SCHEMA_VERSION);
        else
            printf("%s: schema version %d\n", path, version);
        if (want_models) {
            printf("\n");
            if (print_models_text(models, nm, &err)) goto cleanup;
        }
        if (want_plans) {
            printf("\n");
            if (print_plans_text(plans, np, models, nm, &err)) goto cleanup;
        }
        if (want_profiles) {
            printf("\n");
            if (print_devices_text(devices, nd, &err)) goto cleanup;
            printf("\n");
            if (print_op_profiles_text(profiles, nop, &err)) goto cleanup;
            printf("\n");
            if (print_links_text(links, nl, &err)) goto cleanup;
            printf("\n");
            if (print_pseudo_text(steps, nsp, optims, nop5, colls, ncp, &err)) goto cleanup;
        } else if (want_counts) {
            printf("\n");
            print_profile_counts(nd, nop, nl);
        }
        if (want_run_count) printf("runs: %d\n", nr);
        if (want_runs) {
            printf("\n");
            if (print_runs_text(runs, nr, &err)) goto cleanup;
        }
        if (what == WHAT_RUN) {
            printf("\n");
            if (print_run_text(&run, run_steps, nrs, run_ranks, nrk, n_ev, &err)) goto cleanup;
        }
        if (write_stdout("", 0, &err)) goto cleanup;
    }
    status = 0;
cleanup:
    if (status) pp_tool_fail(TOOL, &err);
    free(text);
    pp_jw_free(&w);
    pp_db_model_rows_free(models, nm);
    pp_db_plan_rows_free(plans, np);
    pp_db_device_rows_free(devices, nd);
    pp_db_op_profiles_free(profiles);
    pp_db_links_free(links);
    free(steps);
    free(optims);
    free(colls);
    free(runs);
    free(run_steps);
    free(run_ranks);
    pp_db_close(db);
    return status;
}
