/*
 * pp_cluster.c -- cluster spec reading, writing and expansion (see
 * pp_cluster.h). "auto" figures are resolved here from sysconf, the one
 * place core reads the machine it runs on.
 */
#include "core/pp_cluster.h"

#include "core/pp_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

void pp_cluster_free(pp_cluster *c) {
    for (int i = 0; i < c->n_specs; i++) free(c->specs[i].groups);
    free(c->specs);
    free(c->host_names);
    free(c->devices);
    memset(c, 0, sizeof *c);
}

static int local_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static double local_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && psz > 0 ? (double)pages * (double)psz : 0;
}

/* Reads a name field into buf. */
static int read_name(const pp_jr *r, pp_json *obj, const char *key, int required, char *buf, size_t n) {
    const char *s = NULL;
    if (pp_json_read_str(r, obj, key, required, &s)) return -1;
    if (!s) return 0;
    if (!*s || strlen(s) >= n) return pp_json_error(r, pp_json_get(obj, key), "must be 1 to %zu characters", n - 1);
    snprintf(buf, n, "%s", s);
    return 0;
}

static int read_link(const pp_jr *r, pp_json *links, const char *key, pp_link_spec *out) {
    pp_json *o;
    if (pp_json_read_typed(r, links, key, PP_JSON_OPTIONAL, PP_JSON_OBJECT, &o)) return -1;
    if (!o) return 0;
    double lat = 0, bw = 0;
    if (pp_json_read_num(r, o, "latency_us", PP_JSON_REQUIRED, 0, 1e9, &lat) ||
        pp_json_read_num(r, o, "bandwidth_gbit_s", PP_JSON_REQUIRED, 1e-6, 1e9, &bw) || pp_json_check_unknown(r, o))
        return -1;
    out->present = 1;
    out->latency_us = lat;
    out->bandwidth_gbit_s = bw;
    out->alpha_s = lat * 1e-6;
    out->beta_Bps = bw * 1e9 / 8;
    return 0;
}

/* "auto" or a number in [lo, hi]. */
static int read_auto_num(const pp_jr *r, pp_json *obj, const char *key, int required, double lo, double hi,
                         double *out, int *is_auto) {
    pp_json *v = pp_json_get(obj, key);
    *is_auto = 0;
    if (!v) return required ? pp_json_error(r, obj, "missing required field '%s'", key) : 0;
    if (v->type == PP_JSON_STRING) {
        if (strcmp(v->str, "auto") != 0) return pp_json_error(r, v, "expected a number or \"auto\", got \"%s\"", v->str);
        *is_auto = 1;
        return 0;
    }
    return pp_json_as_num(r, v, lo, hi, out);
}

static int read_group(const pp_jr *r, pp_json *o, pp_device_group *g) {
    static const char *const types[] = {"cpu", "gpu"};
    int type = 0;
    double count = 1, mem_gib = 0, tflops = 0;
    memset(g, 0, sizeof *g);
    g->speed = 1.0;
    if (pp_json_expect(r, o, PP_JSON_OBJECT) || pp_json_read_enum(r, o, "type", PP_JSON_REQUIRED, types, 2, &type) ||
        read_name(r, o, "model", PP_JSON_OPTIONAL, g->model, sizeof g->model) ||
        read_auto_num(r, o, "count", PP_JSON_OPTIONAL, 1, 1e6, &count, &g->count_auto) ||
        read_auto_num(r, o, "memory_gib", PP_JSON_REQUIRED, 1e-3, 1e7, &mem_gib, &g->memory_auto) ||
        pp_json_read_num(r, o, "peak_tflops", PP_JSON_OPTIONAL, 0, 1e7, &tflops) ||
        pp_json_read_num(r, o, "speed", PP_JSON_OPTIONAL, 1e-3, 1e3, &g->speed) || pp_json_check_unknown(r, o))
        return -1;
    pp_json *cv = pp_json_get(o, "count");
    if (cv && !g->count_auto && !cv->is_int) return pp_json_error(r, cv, "expected an integer in [1, 1000000]");
    g->type = (pp_device_type)type;
    if (!g->model[0]) snprintf(g->model, sizeof g->model, "%s", types[type]);
    g->count = g->count_auto ? local_cores() : (int)count;
    g->memory_bytes = g->memory_auto ? local_memory() / g->count : mem_gib * GIB;
    g->peak_flops = tflops * 1e12;
    g->memory_gib = mem_gib;
    g->peak_tflops = tflops;
    return 0;
}

/* The reader has bounded the total by PP_CLUSTER_MAX_DEVICES, so the sums
 * fit an int. */
static int expand(pp_cluster *c, pp_err *err) {
    int hosts = 0, devs = 0;
    for (int i = 0; i < c->n_specs; i++) {
        hosts += c->specs[i].count;
        int per = 0;
        for (int k = 0; k < c->specs[i].n_groups; k++) per += c->specs[i].groups[k].count;
        devs += per * c->specs[i].count;
    }
    c->host_names = pp_calloc((unsigned long long)hosts, sizeof *c->host_names, err);
    c->devices = pp_calloc((unsigned long long)devs, sizeof *c->devices, err);
    if (!c->host_names || !c->devices) return -1;
    int h = 0, d = 0;
    for (int i = 0; i < c->n_specs; i++) {
        const pp_host_spec *s = &c->specs[i];
        for (int k = 0; k < s->count; k++, h++) {
            if (s->count > 1) snprintf(c->host_names[h], sizeof c->host_names[h], "%s%d", s->name, k);
            else snprintf(c->host_names[h], sizeof c->host_names[h], "%s", s->name);
            int local = 0;
            for (int gi = 0; gi < s->n_groups; gi++) {
                const pp_device_group *g = &s->groups[gi];
                for (int j = 0; j < g->count; j++, d++) {
                    pp_device *dv = &c->devices[d];
                    dv->host = h;
                    dv->group = gi;
                    dv->local_index = local++;
                    dv->type = g->type;
                    dv->model = g->model;
                    dv->memory_bytes = g->memory_bytes;
                    dv->peak_flops = g->peak_flops;
                    dv->speed = g->speed;
                }
            }
        }
    }
    c->n_hosts = hosts;
    c->n_devices = devs;
    return 0;
}

int pp_cluster_from_json(const pp_jr *r, pp_json *obj, pp_cluster *out) {
    pp_cluster c;
    memset(&c, 0, sizeof c);
    pp_json *hosts, *links;
    if (pp_json_expect(r, obj, PP_JSON_OBJECT) || read_name(r, obj, "name", PP_JSON_REQUIRED, c.name, sizeof c.name) ||
        pp_json_read_typed(r, obj, "hosts", PP_JSON_REQUIRED, PP_JSON_ARRAY, &hosts) ||
        pp_json_read_typed(r, obj, "links", PP_JSON_OPTIONAL, PP_JSON_OBJECT, &links))
        goto fail;
    if (hosts->n == 0) {
        pp_json_error(r, hosts, "needs at least one host");
        goto fail;
    }
    if (links && (read_link(r, links, "intra_host", &c.intra_host) || read_link(r, links, "inter_host", &c.inter_host) ||
                  pp_json_check_unknown(r, links)))
        goto fail;
    c.specs = pp_calloc((unsigned long long)hosts->n, sizeof *c.specs, r->err);
    if (!c.specs) goto fail;
    long long total = 0; /* devices of the host entries read so far */
    for (int i = 0; i < hosts->n; i++) {
        pp_json *h = hosts->items[i], *devs;
        pp_host_spec *s = &c.specs[i];
        c.n_specs = i + 1;
        s->count = 1;
        if (pp_json_expect(r, h, PP_JSON_OBJECT) || read_name(r, h, "name", PP_JSON_REQUIRED, s->name, PP_CLUSTER_NAME_MAX) ||
            pp_json_read_i32(r, h, "count", PP_JSON_OPTIONAL, 1, 100000, &s->count) ||
            pp_json_read_typed(r, h, "devices", PP_JSON_REQUIRED, PP_JSON_ARRAY, &devs) || pp_json_check_unknown(r, h))
            goto fail;
        if (devs->n == 0) {
            pp_json_error(r, devs, "needs at least one device group");
            goto fail;
        }
        for (int k = 0; k < i; k++) {
            if (!strcmp(c.specs[k].name, s->name)) {
                pp_json_error(r, pp_json_get(h, "name"), "host name '%s' used twice", s->name);
                goto fail;
            }
        }
        s->groups = pp_calloc((unsigned long long)devs->n, sizeof *s->groups, r->err);
        if (!s->groups) goto fail;
        long long per = 0; /* devices per host */
        for (int k = 0; k < devs->n; k++) {
            s->n_groups = k + 1;
            if (read_group(r, devs->items[k], &s->groups[k])) goto fail;
            per += s->groups[k].count;
            if (per > PP_CLUSTER_MAX_DEVICES) {
                pp_json *cv = pp_json_get(devs->items[k], "count");
                pp_json_error(r, cv ? cv : devs->items[k],
                              "%lld devices on one host; a cluster spec may have at most %d devices", per,
                              PP_CLUSTER_MAX_DEVICES);
                goto fail;
            }
        }
        /* per <= 2^20 and count <= 100000: no overflow. */
        total += per * s->count;
        if (total > PP_CLUSTER_MAX_DEVICES) {
            pp_json *cv = pp_json_get(h, "count");
            char before[64] = "";
            if (i) snprintf(before, sizeof before, " (%lld with the host entries before)", total);
            pp_json_error(r, cv ? cv : devs,
                          "%d host%s x %lld device%s each = %lld device%s%s; a cluster spec may have at most %d devices",
                          s->count, s->count == 1 ? "" : "s", per, per == 1 ? "" : "s", per * s->count,
                          per * s->count == 1 ? "" : "s", before, PP_CLUSTER_MAX_DEVICES);
            goto fail;
        }
    }
    if (pp_json_check_unknown(r, obj) || expand(&c, r->err)) goto fail;
    *out = c;
    return 0;
fail:
    pp_cluster_free(&c);
    return -1;
}

int pp_cluster_parse(const char *text, size_t len, const char *file, pp_cluster *out, pp_err *err) {
    pp_json *root = NULL;
    if (pp_json_parse(text, len, file, &root, err)) return -1;
    pp_jr r = {.file = file, .err = err};
    int rc = pp_cluster_from_json(&r, root, out);
    pp_json_free(root);
    return rc;
}

int pp_cluster_load(const char *path, pp_cluster *out, pp_err *err) {
    char *text;
    size_t len;
    if (pp_io_read_file(path, &text, &len, err)) return -1;
    int rc = pp_cluster_parse(text, len, path, out, err);
    free(text);
    return rc;
}

static void write_link(pp_jw *w, const char *key, const pp_link_spec *l) {
    if (!l->present) return;
    pp_jw_key(w, key);
    pp_jw_obj_begin(w);
    pp_jw_knum(w, "latency_us", l->latency_us);
    pp_jw_knum(w, "bandwidth_gbit_s", l->bandwidth_gbit_s);
    pp_jw_obj_end(w);
}

void pp_cluster_to_json(const pp_cluster *c, pp_jw *w) {
    pp_jw_obj_begin(w);
    pp_jw_kstr(w, "name", c->name);
    pp_jw_key(w, "hosts");
    pp_jw_arr_begin(w);
    for (int i = 0; i < c->n_specs; i++) {
        const pp_host_spec *s = &c->specs[i];
        pp_jw_obj_begin(w);
        pp_jw_kstr(w, "name", s->name);
        if (s->count != 1) {
            pp_jw_kint(w, "count", s->count);
        }
        pp_jw_key(w, "devices");
        pp_jw_arr_begin(w);
        for (int k = 0; k < s->n_groups; k++) {
            const pp_device_group *g = &s->groups[k];
            pp_jw_obj_begin(w);
            pp_jw_kstr(w, "type", g->type == PP_DEVICE_GPU ? "gpu" : "cpu");
            pp_jw_kstr(w, "model", g->model);
            pp_jw_key(w, "count");
            if (g->count_auto) pp_jw_str(w, "auto");
            else pp_jw_int(w, g->count);
            pp_jw_key(w, "memory_gib");
            if (g->memory_auto) pp_jw_str(w, "auto");
            else pp_jw_num(w, g->memory_gib);
            if (g->peak_tflops > 0) {
                pp_jw_knum(w, "peak_tflops", g->peak_tflops);
            }
            pp_jw_knum(w, "speed", g->speed);
            pp_jw_obj_end(w);
        }
        pp_jw_arr_end(w);
        pp_jw_obj_end(w);
    }
    pp_jw_arr_end(w);
    if (c->intra_host.present || c->inter_host.present) {
        pp_jw_key(w, "links");
        pp_jw_obj_begin(w);
        write_link(w, "intra_host", &c->intra_host);
        write_link(w, "inter_host", &c->inter_host);
        pp_jw_obj_end(w);
    }
    pp_jw_obj_end(w);
}

int pp_cluster_write(const pp_cluster *c, char **out, size_t *len, pp_err *err) {
    pp_jw w;
    pp_jw_init(&w);
    pp_cluster_to_json(c, &w);
    return pp_jw_finish(&w, out, len, err);
}

int pp_cluster_save(const pp_cluster *c, const char *path, pp_err *err) {
    char *text;
    size_t len;
    if (pp_cluster_write(c, &text, &len, err)) return -1;
    int rc = pp_io_write_atomic(path, text, len, err);
    free(text);
    return rc;
}

const pp_link_spec *pp_cluster_link(const pp_cluster *c, int a, int b) {
    return c->devices[a].host == c->devices[b].host ? &c->intra_host : &c->inter_host;
}

void pp_cluster_device_name(const pp_cluster *c, int dev, char *buf, size_t n) {
    if (dev < 0 || dev >= c->n_devices) {
        snprintf(buf, n, "?");
        return;
    }
    snprintf(buf, n, "%s:%d", c->host_names[c->devices[dev].host], c->devices[dev].local_index);
}
