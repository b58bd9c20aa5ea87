/*
 * pp_costs.c -- measured costs for a cluster from the database (see
 * pp_costs.h). Read-only: this module never writes to the database.
 */
#include "costs/pp_costs.h"

#include "core/pp_hash.h"
#include "core/pp_json.h"
#include "db/pp_db.h"
#include "profiler/pp_opprof.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct pp_costs {
    char path[4096];
    pp_db *db;             /* NULL: nothing measured */
    pp_db_device *devs;
    int n_devs;
    char cpu_fp[65];
};

int pp_costs_open(const char *db_path, const char *cpu_fp, pp_costs **out, pp_err *err) {
    *out = NULL;
    pp_costs *c = pp_calloc(1, sizeof *c, err);
    if (!c) return -1;
    if (cpu_fp) snprintf(c->cpu_fp, sizeof c->cpu_fp, "%s", cpu_fp);
    struct stat st;
    if (db_path && stat(db_path, &st) == 0) {
        snprintf(c->path, sizeof c->path, "%s", db_path);
        if (pp_db_open_readonly(db_path, &c->db, err) || pp_db_devices_list(c->db, &c->devs, &c->n_devs, err)) {
            pp_costs_close(c);
            return -1;
        }
    }
    *out = c;
    return 0;
}

void pp_costs_close(pp_costs *c) {
    if (!c) return;
    pp_db_device_rows_free(c->devs, c->n_devs);
    pp_db_close(c->db);
    free(c);
}

/* The first token of s holding a digit, lowercased ("H100 SXM" -> "h100"). */
static void model_token(const char *s, char *tok, size_t n) {
    tok[0] = '\0';
    while (*s) {
        while (*s && !isalnum((unsigned char)*s)) s++;
        const char *b = s;
        int digit = 0;
        while (*s && isalnum((unsigned char)*s)) digit |= isdigit((unsigned char)*s++);
        size_t l = (size_t)(s - b);
        if (digit && l < n) {
            for (size_t i = 0; i < l; i++) tok[i] = (char)tolower((unsigned char)b[i]);
            tok[l] = '\0';
            return;
        }
    }
}

int pp_costs_model_matches(const char *spec_model, const char *device_name) {
    char want[64];
    model_token(spec_model ? spec_model : "", want, sizeof want);
    if (!want[0] || !device_name) return 0;
    const char *s = device_name;
    while (*s) {
        while (*s && !isalnum((unsigned char)*s)) s++;
        const char *b = s;
        while (*s && isalnum((unsigned char)*s)) s++;
        size_t l = (size_t)(s - b);
        if (l == strlen(want)) {
            size_t i = 0;
            while (i < l && tolower((unsigned char)b[i]) == want[i]) i++;
            if (i == l) return 1;
        }
    }
    return 0;
}

/* The "kind" and "model" of a stored device's description (empty when it
 * does not parse). */
static void describe(const pp_db_device *d, char *kind, char *model, size_t n) {
    kind[0] = model[0] = '\0';
    pp_json *root = NULL;
    pp_err e = {0};
    if (!d->description_json || pp_json_parse(d->description_json, strlen(d->description_json), "device", &root, &e))
        return;
    pp_json *k = root->type == PP_JSON_OBJECT ? pp_json_get(root, "kind") : NULL;
    pp_json *m = root->type == PP_JSON_OBJECT ? pp_json_get(root, "model") : NULL;
    if (k && k->type == PP_JSON_STRING) snprintf(kind, n, "%s", k->str);
    if (m && m->type == PP_JSON_STRING) snprintf(model, n, "%s", m->str);
    pp_json_free(root);
}

/* The cluster's one device model, or NULL when it mixes models (*type set). */
static const char *one_model(const pp_cluster *cl, pp_device_type *type) {
    *type = PP_DEVICE_CPU;
    if (!cl || !cl->n_devices) return "";
    *type = cl->devices[0].type;
    const char *m = cl->devices[0].model ? cl->devices[0].model : "";
    for (int i = 1; i < cl->n_devices; i++)
        if (cl->devices[i].type != *type || strcmp(cl->devices[i].model ? cl->devices[i].model : "", m)) return NULL;
    return m;
}

/* The stored device for a device type and model; -1 when none. */
static long long find_device(pp_costs *c, pp_device_type type, const char *model, char *desc, size_t n) {
    long long id = -1;
    for (int i = 0; i < c->n_devs; i++) {
        const pp_db_device *d = &c->devs[i];
        if (type == PP_DEVICE_CPU) {
            if (c->cpu_fp[0] && !strcmp(d->fingerprint, c->cpu_fp)) {
                id = d->id;
                snprintf(desc, n, "device %.12s", d->fingerprint);
            }
            continue;
        }
        char kind[64], name[256];
        describe(d, kind, name, sizeof name);
        if (!strcmp(kind, "cuda") && pp_costs_model_matches(model, name) && d->id > id) {
            id = d->id; /* the newest profile of that model */
            snprintf(desc, n, "%s, device %.12s", name, d->fingerprint);
        }
    }
    return id;
}

int pp_costs_device(pp_costs *c, const pp_cluster *cl, long long *device_id, char *desc, size_t n, pp_err *err) {
    (void)err;
    *device_id = -1;
    if (n) desc[0] = '\0';
    if (!c->db) return 0;
    pp_device_type type;
    const char *model = one_model(cl, &type);
    if (!model && cl) { /* mixed: the first device's model stands for the links */
        type = cl->devices[0].type;
        model = cl->devices[0].model ? cl->devices[0].model : "";
    }
    char d[320] = "";
    *device_id = find_device(c, type, model, d, sizeof d);
    if (*device_id < 0) return 0;
    snprintf(desc, n, "%s", d);
    return 1;
}

void pp_costs_graph_hash(const pp_graph *g, char out[17]) {
    pp_sha256_ctx h;
    pp_sha256_init(&h);
    for (int i = 0; i < g->n_ops; i++) {
        char sig[512];
        pp_opprof_signature(g, i, sig, sizeof sig);
        pp_sha256_update(&h, sig, strlen(sig) + 1);
    }
    unsigned char d[32];
    pp_sha256_final(&h, d);
    for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int pp_costs_graph(pp_costs *c, const pp_cluster *cl, const pp_graph *g, pp_cost_profile *out, int *missing,
                   pp_err *err) {
    int miss = g->n_ops, rc = -1;
    if (missing) *missing = miss;
    pp_device_type type;
    if (!c->db || (cl && !one_model(cl, &type))) return 0;
    long long dev;
    char desc[512];
    int got = pp_costs_device(c, cl, &dev, desc, sizeof desc, err);
    if (got <= 0) return got;
    pp_op_measure *m = pp_calloc((unsigned long long)(g->n_ops ? g->n_ops : 1), sizeof *m, err);
    if (!m) return -1;
    miss = 0;
    for (int i = 0; i < g->n_ops; i++) {
        char sig[512];
        pp_db_op_profile p;
        int found = 0;
        pp_opprof_signature(g, i, sig, sizeof sig);
        if (pp_db_op_profile_get(c->db, dev, sig, &p, &found, err)) goto done;
        if (!found) {
            miss++;
            continue;
        }
        m[i] = p.m;
    }
    if (missing) *missing = miss;
    if (miss) {
        rc = 0;
        goto done;
    }
    char source[256], gh[17];
    pp_db_step_profile st;
    pp_db_optim_profile op;
    int have_step = 0, have_optim = 0;
    pp_costs_graph_hash(g, gh);
    if (pp_db_step_profile_get(c->db, dev, gh, g->n_ops, &st, &have_step, err) ||
        pp_db_optim_profile_get(c->db, dev, PP_COSTS_OPTIMIZER, PP_COSTS_DTYPE, &op, &have_optim, err))
        goto done;
    double scale = have_step && st.whole_s > 0 && st.sum_ops_s > 0 ? st.whole_s / st.sum_ops_s : 1;
    if (have_step)
        snprintf(source, sizeof source, "measured profile in %.100s, %.80s (%d ops, scaled x%.3f to the whole step)",
                 c->path, desc, g->n_ops, scale);
    else
        snprintf(source, sizeof source, "measured profile in %.100s, %.100s (%d ops)", c->path, desc, g->n_ops);
    for (int i = 0; i < g->n_ops; i++)
        for (int k = 0; k < 3; k++) {
            m[i].t[k] *= scale;
            m[i].spread[k] *= scale;
        }
    if (pp_opprof_cost(g, m, source, out, err)) goto done;
    out->optim_s_per_param = have_optim ? op.s_per_param : 0;
    rc = 1;
done:
    free(m);
    return rc;
}

int pp_costs_comm(pp_costs *c, const pp_cluster *cl, pp_comm_measured *out, pp_err *err) {
    memset(out, 0, sizeof *out);
    long long dev;
    char desc[512];
    int got = pp_costs_device(c, cl, &dev, desc, sizeof desc, err);
    if (got <= 0) return got;
    pp_db_link *links = NULL;
    int nl = 0;
    if (pp_db_links_list(c->db, dev, &links, &nl, err)) return -1;
    double sa = 0, sb = 0;
    for (int i = 0; i < nl; i++) {
        sa += links[i].alpha_s;
        sb += links[i].beta_Bps;
    }
    pp_db_links_free(links);
    if (nl) {
        out->n_links = nl;
        out->link_alpha_s = sa / nl;
        out->link_beta_Bps = sb / nl;
    }
    /* The all-reduce over the most ranks (up to 64) with a measured beta. */
    pp_db_collective_profile *coll = NULL;
    int nc = 0;
    if (pp_db_collective_profiles_list(c->db, dev, &coll, &nc, err)) return -1;
    for (int i = 0; i < nc; i++) {
        const pp_db_collective_profile *p = &coll[i];
        if (strcmp(p->op, PP_COSTS_ALLREDUCE) || strcmp(p->dtype, PP_COSTS_DTYPE) || p->n_ranks > 64 ||
            !(p->beta_Bps > 0) || p->n_ranks <= out->allreduce_ranks)
            continue;
        out->allreduce_ranks = p->n_ranks;
        out->allreduce_alpha_s = p->alpha_s;
        out->allreduce_beta_Bps = p->beta_Bps;
    }
    free(coll);
    if (out->n_links || out->allreduce_ranks) snprintf(out->source, sizeof out->source, "%.200s", c->path);
    return 0;
}
