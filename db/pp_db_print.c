/*
 * pp_db_print.c -- the database's rows shown as text tables and JSON, and
 * the listings of `pippy db` (see pp_db_print.h). Reads through the typed
 * functions of pp_db.h only; no SQL here.
 */
#include "core/pp_fmt.h"
#include "db/pp_db_print.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_stats.h"

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

static void pad(FILE *f, int n) {
    for (; n > 0; n--) fputc(' ', f);
}

static void table_print(FILE *f, const table *t) {
    int w[MAX_COLS];
    for (int j = 0; j < t->ncol; j++) {
        w[j] = text_width(t->head[j]);
        for (int i = 0; i < t->nrow; i++) {
            int l = text_width(t->cells[i * t->ncol + j]);
            if (l > w[j]) w[j] = l;
        }
    }
    for (int i = -1; i < t->nrow; i++) {
        fputs("  ", f);
        for (int j = 0; j < t->ncol; j++) {
            const char *s = i < 0 ? t->head[j] : t->cells[i * t->ncol + j];
            int last = j == t->ncol - 1, fill = w[j] - text_width(s);
            if (t->right[j]) pad(f, fill);
            fputs(s, f);
            if (!t->right[j] && !last) pad(f, fill);
            if (!last) fputs("  ", f);
        }
        fputc('\n', f);
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

int pp_db_print_models(FILE *f, const pp_db_model_row *m, int nm, pp_err *err) {
    table t = {.ncol = 6, .head = {"ID", "NAME", "FAMILY", "PARAMS", "HASH", "CREATED"}, .right = {1, 0, 0, 1, 0, 0}};
    int ret = -1;
    fprintf(f, "models: %d\n", nm);
    for (int i = 0; i < nm; i++) {
        char id[32], params[48], hash[13];
        snprintf(id, sizeof id, "%lld", m[i].id);
        pp_fmt_count(m[i].n_params, params, sizeof params);
        short_hash(m[i].hash, hash);
        const char *vals[] = {id, m[i].name, m[i].family, params, hash, m[i].created_at};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (nm > 0) table_print(f, &t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

int pp_db_print_plans(FILE *f, const pp_db_plan_row *p, int np, const pp_db_model_row *m, int nm, pp_err *err) {
    table t = {.ncol = 7,
               .head = {"ID", "NAME", "MODEL", "RANKS", "SCHEDULE", "HASH", "CREATED"},
               .right = {1, 0, 0, 1, 0, 0, 0}};
    int ret = -1;
    fprintf(f, "plans: %d\n", np);
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
    if (np > 0) table_print(f, &t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

void pp_db_json_models(pp_jw *w, const pp_db_model_row *m, int nm) {
    pp_jw_key(w, "models");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nm; i++) {
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "id", m[i].id);
        pp_jw_kstr(w, "name", m[i].name);
        pp_jw_kstr(w, "family", m[i].family);
        pp_jw_kint(w, "n_params", m[i].n_params);
        pp_jw_kstr(w, "hash", m[i].hash);
        pp_jw_kstr(w, "created_at", m[i].created_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

void pp_db_json_plans(pp_jw *w, const pp_db_plan_row *p, int np, const pp_db_model_row *m, int nm) {
    pp_jw_key(w, "plans");
    pp_jw_arr_begin(w);
    for (int i = 0; i < np; i++) {
        const char *mname = model_name_for(m, nm, p[i].model_hash);
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "id", p[i].id);
        pp_jw_kstr(w, "name", p[i].name);
        pp_jw_kstr(w, "model_hash", p[i].model_hash);
        pp_jw_key(w, "model_name");
        if (mname) pp_jw_str(w, mname);
        else pp_jw_null(w);
        pp_jw_kint(w, "n_ranks", p[i].n_ranks);
        pp_jw_kstr(w, "schedule", p[i].schedule);
        pp_jw_kstr(w, "plan_hash", p[i].plan_hash);
        pp_jw_kstr(w, "created_at", p[i].created_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

/* ---- Profiles ---------------------------------------------------------------- */

void pp_db_print_profile_counts(FILE *f, int nd, int nop, int nl) {
    fprintf(f, "devices: %d\nop profiles: %d\nlinks: %d\n", nd, nop, nl);
}

static const char *device_fp_for(const pp_db_device *d, int nd, long long id) {
    for (int i = 0; i < nd; i++)
        if (d[i].id == id) return d[i].fingerprint;
    return "";
}

int pp_db_print_devices(FILE *f, const pp_db_device *d, int nd, pp_err *err) {
    table t = {.ncol = 4, .head = {"ID", "FINGERPRINT", "CREATED", "DESCRIPTION"}, .right = {1, 0, 0, 0}};
    int ret = -1;
    fprintf(f, "devices: %d\n", nd);
    for (int i = 0; i < nd; i++) {
        char id[32], fp[13];
        snprintf(id, sizeof id, "%lld", d[i].id);
        short_hash(d[i].fingerprint, fp);
        const char *vals[] = {id, fp, d[i].created_at, d[i].description_json};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (nd > 0) table_print(f, &t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

/* "123.4 ±5.6": a median and its spread, seconds shown as microseconds. */
static void fmt_us(double t, double spread, char *out, size_t n) {
    snprintf(out, n, "%.1f ±%.1f", t * 1e6, spread * 1e6);
}

int pp_db_print_op_profiles(FILE *f, const pp_db_op_profile *p, int np, pp_err *err) {
    table t = {.ncol = 7,
               .head = {"DEVICE", "SIGNATURE", "F µs", "I µs", "W µs", "SAMPLES F/I/W", "MEASURED"},
               .right = {1, 0, 1, 1, 1, 1, 0}};
    int ret = -1;
    fprintf(f, "op profiles: %d\n", np);
    for (int i = 0; i < np; i++) {
        char dev[32], fw[64], in[64], w[64], samples[48];
        snprintf(dev, sizeof dev, "%lld", p[i].device_id);
        fmt_us(p[i].m.t[0], p[i].m.spread[0], fw, sizeof fw);
        fmt_us(p[i].m.t[1], p[i].m.spread[1], in, sizeof in);
        fmt_us(p[i].m.t[2], p[i].m.spread[2], w, sizeof w);
        snprintf(samples, sizeof samples, "%d/%d/%d", p[i].m.samples[0], p[i].m.samples[1], p[i].m.samples[2]);
        const char *vals[] = {dev, p[i].signature, fw, in, w, samples, p[i].measured_at};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (np > 0) table_print(f, &t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

int pp_db_print_links(FILE *f, const pp_db_link *l, int nl, pp_err *err) {
    table t = {.ncol = 7,
               .head = {"DEVICE", "PAIR", "HOSTS", "ALPHA µs", "BETA GB/s", "RESIDUAL", "MEASURED"},
               .right = {1, 0, 0, 1, 1, 1, 0}};
    int ret = -1;
    fprintf(f, "links: %d\n", nl);
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
    if (nl > 0) table_print(f, &t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

int pp_db_print_measured(FILE *f, const pp_db_step_profile *sp, int ns, const pp_db_optim_profile *op, int no,
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
    char a[32], b[48], d[48], e[48], rs[48], g[32];
    fprintf(f, "step profiles: %d\n", ns);
    for (int i = 0; i < ns; i++) {
        snprintf(a, sizeof a, "%lld", sp[i].device_id);
        snprintf(b, sizeof b, "%d", sp[i].n_ops);
        snprintf(d, sizeof d, "%.1f", sp[i].whole_s * 1e6);
        snprintf(e, sizeof e, "%.1f", sp[i].sum_ops_s * 1e6);
        snprintf(g, sizeof g, "%d", sp[i].samples);
        const char *vals[] = {a, sp[i].graph_hash, b, d, e, g, sp[i].measured_at};
        if (table_add(&t, vals, err)) goto cleanup;
    }
    if (ns > 0) table_print(f, &t);
    fprintf(f, "\noptimizer profiles: %d\n", no);
    for (int i = 0; i < no; i++) {
        snprintf(a, sizeof a, "%lld", op[i].device_id);
        snprintf(d, sizeof d, "%.3f", op[i].s_per_param * 1e9);
        snprintf(g, sizeof g, "%d", op[i].samples);
        const char *vals[] = {a, op[i].optimizer, op[i].dtype, d, g, op[i].measured_at};
        if (table_add(&o, vals, err)) goto cleanup;
    }
    if (no > 0) table_print(f, &o);
    fprintf(f, "\ncollective profiles: %d\n", nc);
    for (int i = 0; i < nc; i++) {
        snprintf(a, sizeof a, "%lld", cp[i].device_id);
        snprintf(b, sizeof b, "%d", cp[i].n_ranks);
        snprintf(d, sizeof d, "%.2f", cp[i].alpha_s * 1e6);
        if (cp[i].beta_Bps > 0) snprintf(e, sizeof e, "%.3f", cp[i].beta_Bps / 1e9);
        else snprintf(e, sizeof e, "-");
        snprintf(rs, sizeof rs, "%.3g", cp[i].residual);
        snprintf(g, sizeof g, "%d", cp[i].samples);
        const char *vals[] = {a, cp[i].op, cp[i].dtype, b, d, e, rs, g, cp[i].measured_at};
        if (table_add(&c, vals, err)) goto cleanup;
    }
    if (nc > 0) table_print(f, &c);
    ret = 0;
cleanup:
    table_free(&t);
    table_free(&o);
    table_free(&c);
    return ret;
}

/* The device keys every profile row carries. */
static void json_device_keys(pp_jw *w, long long id, const pp_db_device *d, int nd) {
    pp_jw_kint(w, "device_id", id);
    pp_jw_kstr(w, "device_fingerprint", device_fp_for(d, nd, id));
}

void pp_db_json_measured(pp_jw *w, const pp_db_step_profile *sp, int ns, const pp_db_optim_profile *op, int no,
                        const pp_db_collective_profile *cp, int nc, const pp_db_device *d, int nd) {
    pp_jw_key(w, "step_profiles");
    pp_jw_arr_begin(w);
    for (int i = 0; i < ns; i++) {
        pp_jw_obj_begin(w);
        json_device_keys(w, sp[i].device_id, d, nd);
        pp_jw_kstr(w, "graph_hash", sp[i].graph_hash);
        pp_jw_kint(w, "n_ops", sp[i].n_ops);
        pp_jw_knum(w, "whole_s", sp[i].whole_s);
        pp_jw_knum(w, "sum_ops_s", sp[i].sum_ops_s);
        pp_jw_kint(w, "samples", sp[i].samples);
        pp_jw_kstr(w, "measured_at", sp[i].measured_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_key(w, "optim_profiles");
    pp_jw_arr_begin(w);
    for (int i = 0; i < no; i++) {
        pp_jw_obj_begin(w);
        json_device_keys(w, op[i].device_id, d, nd);
        pp_jw_kstr(w, "optimizer", op[i].optimizer);
        pp_jw_kstr(w, "dtype", op[i].dtype);
        pp_jw_knum(w, "s_per_param", op[i].s_per_param);
        pp_jw_kint(w, "samples", op[i].samples);
        pp_jw_kstr(w, "measured_at", op[i].measured_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_key(w, "collective_profiles");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nc; i++) {
        pp_jw_obj_begin(w);
        json_device_keys(w, cp[i].device_id, d, nd);
        pp_jw_kstr(w, "op", cp[i].op);
        pp_jw_kstr(w, "dtype", cp[i].dtype);
        pp_jw_kint(w, "n_ranks", cp[i].n_ranks);
        pp_jw_knum(w, "alpha_s", cp[i].alpha_s);
        pp_jw_knum(w, "beta_Bps", cp[i].beta_Bps);
        pp_jw_knum(w, "residual", cp[i].residual);
        pp_jw_kint(w, "samples", cp[i].samples);
        pp_jw_kstr(w, "measured_at", cp[i].measured_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

void pp_db_json_devices(pp_jw *w, const pp_db_device *d, int nd) {
    pp_jw_key(w, "devices");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nd; i++) {
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "id", d[i].id);
        pp_jw_kstr(w, "fingerprint", d[i].fingerprint);
        pp_jw_kstr(w, "description_json", d[i].description_json);
        pp_jw_kstr(w, "created_at", d[i].created_at);
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

void pp_db_json_op_profiles(pp_jw *w, const pp_db_op_profile *p, int np, const pp_db_device *d, int nd) {
    pp_jw_key(w, "op_profiles");
    pp_jw_arr_begin(w);
    for (int i = 0; i < np; i++) {
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "device_id", p[i].device_id);
        pp_jw_kstr(w, "device_fingerprint", device_fp_for(d, nd, p[i].device_id));
        pp_jw_kstr(w, "signature", p[i].signature);
        pp_jw_kstr(w, "kind", p[i].kind);
        json_triple_num(w, "t_s", p[i].m.t);
        json_triple_num(w, "spread_s", p[i].m.spread);
        pp_jw_key(w, "samples");
        pp_jw_arr_begin_inline(w);
        for (int k = 0; k < 3; k++) pp_jw_int(w, p[i].m.samples[k]);
        pp_jw_arr_end(w);
        pp_jw_kint(w, "param_bytes", p[i].m.param_bytes);
        pp_jw_kint(w, "keep_f_bytes", p[i].m.keep_f_bytes);
        pp_jw_kint(w, "keep_w_bytes", p[i].m.keep_w_bytes);
        pp_jw_kint(w, "workspace_bytes", p[i].m.workspace_bytes);
        pp_jw_kstr(w, "measured_at", p[i].measured_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

void pp_db_json_links(pp_jw *w, const pp_db_link *l, int nl, const pp_db_device *d, int nd) {
    pp_jw_key(w, "links");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nl; i++) {
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "device_id", l[i].device_id);
        pp_jw_kstr(w, "device_fingerprint", device_fp_for(d, nd, l[i].device_id));
        pp_jw_kint(w, "src_rank", l[i].src_rank);
        pp_jw_kint(w, "dst_rank", l[i].dst_rank);
        pp_jw_kstr(w, "src_host", l[i].src_host);
        pp_jw_kstr(w, "dst_host", l[i].dst_host);
        pp_jw_knum(w, "alpha_s", l[i].alpha_s);
        pp_jw_knum(w, "beta_Bps", l[i].beta_Bps);
        pp_jw_knum(w, "residual", l[i].residual);
        pp_jw_kstr(w, "sizes_json", l[i].sizes_json);
        pp_jw_kstr(w, "measured_at", l[i].measured_at);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
}

/* ---- Runs --------------------------------------------------------------------- */

/* The prediction's relative error by the project's one convention,
 * (measured - predicted) / measured (pp_stats_rel_error); NAN when the run
 * had no prediction. */
static double run_rel_error(const pp_db_run *r) {
    return r->predicted_iteration_s > 0 ? pp_stats_rel_error(r->iteration_s, r->predicted_iteration_s) : NAN;
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

int pp_db_print_runs(FILE *f, const pp_db_run *r, int nr, pp_err *err) {
    table t = {.ncol = 12,
               .head = {"ID", "CREATED", "MODEL", "SCHEDULE", "PP x DP", "STEPS", "TOKENS/S", "ITER S", "PRED S",
                        "PRED ERR", "FINAL LOSS", "STATUS"},
               .right = {1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0}};
    int ret = -1;
    fprintf(f, "runs: %d\n", nr);
    if (nr == 0) fprintf(f, "  (none stored yet; `pippy run` stores each run it makes)\n");
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
    if (nr > 0) table_print(f, &t);
    ret = 0;
cleanup:
    table_free(&t);
    return ret;
}

/* One run in full: its fields as "key  value" lines, then its steps and
 * ranks as tables and its event count. */
int pp_db_print_run(FILE *f, const pp_db_run *r, const pp_db_run_step *s, int ns, const pp_run_rank *k, int nk,
                          long long n_ev, pp_err *err) {
    char buf[96], steps[48];
    int ret = -1;
    fprintf(f, "run %lld: %s\n", r->id, r->status);
    fprintf(f, "  created      %s\n", r->created_at);
    fprintf(f, "  plan         %s\n", r->plan_hash);
    fprintf(f, "  model        %s\n", r->model[0] ? r->model : "-");
    fprintf(f, "  schedule     %s\n", r->schedule[0] ? r->schedule : "-");
    fprintf(f, "  parallel     pp %d x dp %d (%d ranks)\n", r->pp, r->dp, r->n_ranks);
    fprintf(f, "  batch        global %d, micro %d, %d microbatches, seq_len %d\n", r->global_batch, r->micro_batch,
           r->n_microbatches, r->seq_len);
    fmt_steps(r, steps, sizeof steps);
    fprintf(f, "  steps        %s\n", steps);
    fprintf(f, "  tokens/s     %.1f\n", r->tokens_per_s);
    fprintf(f, "  iteration    %.6f s (median step)\n", r->iteration_s);
    if (r->predicted_iteration_s > 0)
        fprintf(f, "  predicted    %.6f s (measured is %+.1f%% off)\n", r->predicted_iteration_s, run_rel_error(r) * 100);
    else
        fprintf(f, "  predicted    - (the plan had no prediction)\n");
    fmt_or_dash(r->final_loss, "%.6f", buf, sizeof buf);
    fprintf(f, "  final loss   %s\n", buf);
    if (r->message[0]) fprintf(f, "  message      %s\n", r->message);
    fprintf(f, "  events       %lld\n", n_ev);

    table ts = {.ncol = 4, .head = {"STEP", "LOSS", "GRAD NORM", "SECONDS"}, .right = {1, 1, 1, 1}};
    table tk = {.ncol = 5, .head = {"RANK", "HOST", "PEAK BYTES", "BUSY S", "BUSY %"}, .right = {1, 0, 1, 1, 1}};
    double total_s = 0;
    fprintf(f, "\nsteps: %d\n", ns);
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
    if (ns > 0) table_print(f, &ts);
    fprintf(f, "\nranks: %d\n", nk);
    for (int i = 0; i < nk; i++) {
        char rank[32], peak[48], busy[48], util[48];
        snprintf(rank, sizeof rank, "%d", k[i].rank);
        pp_fmt_count(k[i].peak_bytes, peak, sizeof peak);
        snprintf(busy, sizeof busy, "%.6f", k[i].busy_s);
        /* Busy share of the stored steps' wall time. */
        fmt_or_dash(total_s > 0 ? 100 * k[i].busy_s / total_s : NAN, "%.1f", util, sizeof util);
        const char *vals[] = {rank, k[i].host[0] ? k[i].host : "-", peak, busy, util};
        if (table_add(&tk, vals, err)) goto cleanup;
    }
    if (nk > 0) table_print(f, &tk);
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
    pp_jw_kint(w, "id", r->id);
    pp_jw_kstr(w, "created_at", r->created_at);
    pp_jw_kstr(w, "plan_hash", r->plan_hash);
    pp_jw_kstr(w, "model", r->model);
    pp_jw_kstr(w, "schedule", r->schedule);
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
    pp_jw_kstr(w, "status", r->status);
    pp_jw_kstr(w, "message", r->message);
    json_num_or_null(w, "tokens_per_s", r->tokens_per_s, 0);
    json_num_or_null(w, "iteration_s", r->iteration_s, 0);
    json_num_or_null(w, "predicted_iteration_s", r->predicted_iteration_s, 1);
    json_num_or_null(w, "relative_error", run_rel_error(r), 0);
    json_num_or_null(w, "final_loss", r->final_loss, 0);
    pp_jw_obj_end(w);
}

void pp_db_json_runs(pp_jw *w, const pp_db_run *r, int nr) {
    pp_jw_key(w, "runs");
    pp_jw_arr_begin(w);
    for (int i = 0; i < nr; i++) json_run(w, &r[i]);
    pp_jw_arr_end(w);
}

void pp_db_json_run(pp_jw *w, const pp_db_run *r, const pp_db_run_step *s, int ns, const pp_run_rank *k,
                            int nk, long long n_ev) {
    pp_jw_key(w, "run");
    json_run(w, r);
    pp_jw_key(w, "steps");
    pp_jw_arr_begin(w);
    for (int i = 0; i < ns; i++) {
        pp_jw_obj_begin(w);
        pp_jw_kint(w, "step", s[i].step);
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
        pp_jw_kint(w, "rank", k[i].rank);
        pp_jw_kstr(w, "host", k[i].host);
        pp_jw_kint(w, "peak_bytes", k[i].peak_bytes);
        json_num_or_null(w, "busy_s", k[i].busy_s, 0);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    pp_jw_kint(w, "event_count", n_ev);
}

/* ---- Listings ------------------------------------------------------------------ */

/* Which sections a view has. */
typedef struct sections {
    int models, plans, counts, profiles, runs, run_count, run;
} sections;

static sections sections_of(pp_db_view v) {
    sections s = {0};
    s.models = v == PP_DB_VIEW_ALL || v == PP_DB_VIEW_MODELS;
    s.plans = v == PP_DB_VIEW_ALL || v == PP_DB_VIEW_PLANS;
    s.counts = v == PP_DB_VIEW_ALL || v == PP_DB_VIEW_PROFILES;
    s.profiles = v == PP_DB_VIEW_PROFILES;
    s.runs = v == PP_DB_VIEW_RUNS;
    s.run_count = v == PP_DB_VIEW_ALL;
    s.run = v == PP_DB_VIEW_RUN;
    return s;
}

int pp_db_listing_load(pp_db *db, pp_db_view view, long long run_id, pp_db_listing *l, pp_err *err) {
    memset(l, 0, sizeof *l);
    l->view = view;
    snprintf(l->path, sizeof l->path, "%s", pp_db_path(db));
    l->version = pp_db_schema_version(db);
    sections s = sections_of(view);
    /* Plans show their model's name, so models are loaded for them too. */
    if ((s.models || s.plans) && pp_db_models_list(db, &l->models, &l->n_models, err)) return -1;
    if (s.plans && pp_db_plans_list(db, &l->plans, &l->n_plans, err)) return -1;
    if (s.profiles) {
        if (pp_db_devices_list(db, &l->devices, &l->n_devices, err) ||
            pp_db_op_profiles_list(db, 0, &l->op_profiles, &l->n_op_profiles, err) ||
            pp_db_links_list(db, 0, &l->links, &l->n_links, err) ||
            pp_db_step_profiles_list(db, 0, &l->steps, &l->n_steps, err) ||
            pp_db_optim_profiles_list(db, 0, &l->optims, &l->n_optims, err) ||
            pp_db_collective_profiles_list(db, 0, &l->colls, &l->n_colls, err))
            return -1;
    } else if (s.counts && pp_db_profile_counts(db, &l->n_devices, &l->n_op_profiles, &l->n_links, err)) {
        return -1;
    }
    if ((s.runs || s.run_count) && pp_db_runs_list(db, &l->runs, &l->n_runs, err)) return -1;
    if (s.run) {
        int found = 0;
        if (pp_db_run_get(db, run_id, &l->run, &found, err)) return -1;
        if (!found)
            return pp_err_set(err, PP_ERR_INVALID, "%s: no run %lld (`pippy db runs` lists the stored runs)", l->path,
                              run_id);
        if (pp_db_run_steps(db, run_id, &l->run_steps, &l->n_run_steps, err) ||
            pp_db_run_ranks(db, run_id, &l->run_ranks, &l->n_run_ranks, err) ||
            pp_db_run_event_count(db, run_id, &l->n_events, err))
            return -1;
    }
    return 0;
}

void pp_db_listing_free(pp_db_listing *l) {
    if (!l) return;
    pp_db_model_rows_free(l->models, l->n_models);
    pp_db_plan_rows_free(l->plans, l->n_plans);
    pp_db_device_rows_free(l->devices, l->devices ? l->n_devices : 0);
    pp_db_op_profiles_free(l->op_profiles);
    pp_db_links_free(l->links);
    free(l->steps);
    free(l->optims);
    free(l->colls);
    free(l->runs);
    free(l->run_steps);
    free(l->run_ranks);
    memset(l, 0, sizeof *l);
}

int pp_db_print_listing(FILE *f, const pp_db_listing *l, pp_err *err) {
    sections s = sections_of(l->view);
    if (l->version < PP_DB_SCHEMA_VERSION)
        fprintf(f, "%s: schema version %d (this pippy writes %d; `pippy db init` upgrades it)\n", l->path, l->version,
                PP_DB_SCHEMA_VERSION);
    else
        fprintf(f, "%s: schema version %d\n", l->path, l->version);
    if (s.models && (fputc('\n', f), pp_db_print_models(f, l->models, l->n_models, err))) return -1;
    if (s.plans && (fputc('\n', f), pp_db_print_plans(f, l->plans, l->n_plans, l->models, l->n_models, err)))
        return -1;
    if (s.profiles) {
        fputc('\n', f);
        if (pp_db_print_devices(f, l->devices, l->n_devices, err)) return -1;
        fputc('\n', f);
        if (pp_db_print_op_profiles(f, l->op_profiles, l->n_op_profiles, err)) return -1;
        fputc('\n', f);
        if (pp_db_print_links(f, l->links, l->n_links, err)) return -1;
        fputc('\n', f);
        if (pp_db_print_measured(f, l->steps, l->n_steps, l->optims, l->n_optims, l->colls, l->n_colls, err))
            return -1;
    } else if (s.counts) {
        fputc('\n', f);
        pp_db_print_profile_counts(f, l->n_devices, l->n_op_profiles, l->n_links);
    }
    if (s.run_count) fprintf(f, "runs: %d\n", l->n_runs);
    if (s.runs && (fputc('\n', f), pp_db_print_runs(f, l->runs, l->n_runs, err))) return -1;
    if (s.run && (fputc('\n', f), pp_db_print_run(f, &l->run, l->run_steps, l->n_run_steps, l->run_ranks,
                                                   l->n_run_ranks, l->n_events, err)))
        return -1;
    return 0;
}

static void json_count(pp_jw *w, const char *key, long long n) {
    pp_jw_key(w, key);
    pp_jw_int(w, n);
}

void pp_db_json_listing(pp_jw *w, const pp_db_listing *l) {
    sections s = sections_of(l->view);
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "database", l->path);
    json_count(w, "schema_version", l->version);
    json_count(w, "schema_version_supported", PP_DB_SCHEMA_VERSION);
    if (s.models || s.plans || s.counts || s.runs || s.run_count) {
        pp_jw_key(w, "counts");
        pp_jw_obj_begin(w);
        if (s.models) json_count(w, "models", l->n_models);
        if (s.plans) json_count(w, "plans", l->n_plans);
        if (s.counts) {
            json_count(w, "devices", l->n_devices);
            json_count(w, "op_profiles", l->n_op_profiles);
            json_count(w, "links", l->n_links);
        }
        if (s.runs || s.run_count) json_count(w, "runs", l->n_runs);
        pp_jw_obj_end(w);
    }
    if (s.models) pp_db_json_models(w, l->models, l->n_models);
    if (s.plans) pp_db_json_plans(w, l->plans, l->n_plans, l->models, l->n_models);
    if (s.profiles) {
        pp_db_json_devices(w, l->devices, l->n_devices);
        pp_db_json_op_profiles(w, l->op_profiles, l->n_op_profiles, l->devices, l->n_devices);
        pp_db_json_links(w, l->links, l->n_links, l->devices, l->n_devices);
        pp_db_json_measured(w, l->steps, l->n_steps, l->optims, l->n_optims, l->colls, l->n_colls, l->devices,
                            l->n_devices);
    }
    if (s.runs) pp_db_json_runs(w, l->runs, l->n_runs);
    if (s.run)
        pp_db_json_run(w, &l->run, l->run_steps, l->n_run_steps, l->run_ranks, l->n_run_ranks, l->n_events);
    pp_jw_obj_end(w);
}
