/*
 * pp_plan.c -- plan JSON reading, checking and writing (see pp_plan.h).
 *
 * Reading checks as it goes, while the JSON values (and so their line and
 * column) are at hand: the model config is read and hashed, its graph built,
 * and then every stage, schedule cell and tied parameter is checked against
 * that graph.
 */
#include "core/pp_plan.h"

#include "core/pp_hash.h"
#include "core/pp_io.h"
#include "core/pp_zoo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dtype_names[] = {"f32", "bf16", "f16"};

void pp_plan_free(pp_plan *p) {
    for (int i = 0; i < p->n_stages; i++) free(p->stages[i].devices);
    free(p->stages);
    for (int i = 0; i < p->n_tied; i++) {
        free(p->tied[i].param);
        free(p->tied[i].stages);
    }
    free(p->tied);
    free(p->prediction.peak_memory_bytes);
    pp_sched_free(&p->schedule);
    pp_cluster_free(&p->cluster);
    memset(p, 0, sizeof *p);
}

static int find_device(const pp_cluster *c, const char *name) {
    char buf[160];
    for (int d = 0; d < c->n_devices; d++) {
        pp_cluster_device_name(c, d, buf, sizeof buf);
        if (!strcmp(buf, name)) return d;
    }
    return -1;
}

static void free_tied(pp_plan_tied *t, int n) {
    for (int i = 0; i < n; i++) {
        free(t[i].param);
        free(t[i].stages);
    }
    free(t);
}

/* Tied parameters of a partition: parameters read by ops of two or more stages. */
static int derive_tied(const pp_plan *p, const pp_graph *g, pp_plan_tied **out, int *n_out, pp_err *err) {
    pp_plan_tied *list = NULL;
    int n = 0, cap = 0;
    int *where = pp_malloc((unsigned long long)(p->n_stages ? p->n_stages : 1) * sizeof *where, err);
    if (!where) return -1;
    for (int t = 0; t < g->n_tensors; t++) {
        if (g->tensors[t].kind != PP_TENSOR_PARAM) continue;
        int k = 0;
        for (int s = 0; s < p->n_stages; s++) {
            int used = 0;
            for (int i = p->stages[s].op_lo; i < p->stages[s].op_hi && !used; i++)
                for (int q = 0; q < g->ops[i].n_param; q++)
                    if (g->ops[i].param[q] == t) used = 1;
            if (used) where[k++] = s;
        }
        if (k < 2) continue;
        if (pp_grow((void **)&list, &cap, n + 1, sizeof *list, err)) goto fail;
        list[n].param = pp_strdup(g->tensors[t].name, err);
        list[n].stages = pp_malloc((unsigned long long)k * sizeof(int), err);
        list[n].n_stages = k;
        n++;
        if (!list[n - 1].param || !list[n - 1].stages) goto fail;
        memcpy(list[n - 1].stages, where, (size_t)k * sizeof(int));
    }
    free(where);
    *out = list;
    *n_out = n;
    return 0;
fail:
    free(where);
    free_tied(list, n);
    return -1;
}

int pp_plan_derive_tied(pp_plan *p, const pp_graph *g, pp_err *err) {
    pp_plan_tied *t;
    int n;
    if (derive_tied(p, g, &t, &n, err)) return -1;
    free_tied(p->tied, p->n_tied);
    p->tied = t;
    p->n_tied = n;
    return 0;
}

int pp_plan_check(const pp_plan *p, const pp_graph *g, pp_err *err) {
    if (p->pp < 1 || p->dp < 1 || p->virtual_stages < 1)
        return pp_err_set(err, PP_ERR_INVALID, "plan: pp, dp and virtual_stages must be at least 1");
    if (p->n_stages != p->pp * p->virtual_stages)
        return pp_err_set(err, PP_ERR_INVALID, "plan: %d stages, but pp %d x virtual_stages %d = %d", p->n_stages, p->pp,
                          p->virtual_stages, p->pp * p->virtual_stages);
    if (p->global_batch != p->micro_batch * p->n_microbatches * p->dp)
        return pp_err_set(err, PP_ERR_INVALID,
                          "plan: global_batch %d != micro_batch %d x n_microbatches %d x dp %d", p->global_batch,
                          p->micro_batch, p->n_microbatches, p->dp);
    int expect = 0;
    int *per_rank = pp_calloc((unsigned long long)p->pp, sizeof(int), err);
    if (!per_rank) return -1;
    int rc = -1;
    for (int s = 0; s < p->n_stages; s++) {
        const pp_plan_stage *st = &p->stages[s];
        if (st->index != s) {
            pp_err_set(err, PP_ERR_INVALID, "plan: stage %d is listed as index %d (stages go in index order)", s, st->index);
            goto done;
        }
        if (st->op_lo != expect || st->op_hi <= st->op_lo || st->op_hi > g->n_ops) {
            pp_err_set(err, PP_ERR_INVALID,
                       "plan: stage %d holds ops [%d, %d), but stages must tile [0, %d) in order (expected it to start at %d)",
                       s, st->op_lo, st->op_hi, g->n_ops, expect);
            goto done;
        }
        expect = st->op_hi;
        if (st->rank < 0 || st->rank >= p->pp) {
            pp_err_set(err, PP_ERR_INVALID, "plan: stage %d is on rank %d, outside [0, %d)", s, st->rank, p->pp);
            goto done;
        }
        per_rank[st->rank]++;
        for (int d = 0; d < p->dp; d++) {
            if (st->devices[d] < 0 || st->devices[d] >= p->cluster.n_devices) {
                pp_err_set(err, PP_ERR_INVALID, "plan: stage %d replica %d has no device of the cluster", s, d);
                goto done;
            }
        }
    }
    if (expect != g->n_ops) {
        pp_err_set(err, PP_ERR_INVALID, "plan: stages end at op %d, but the graph has %d ops", expect, g->n_ops);
        goto done;
    }
    for (int r = 0; r < p->pp; r++) {
        if (per_rank[r] != p->virtual_stages) {
            pp_err_set(err, PP_ERR_INVALID, "plan: rank %d holds %d stages, expected virtual_stages = %d", r, per_rank[r],
                       p->virtual_stages);
            goto done;
        }
    }
    /* Each global rank on one device, distinct devices; stages on one rank agree. */
    for (int s = 0; s < p->n_stages; s++)
        for (int t = 0; t < s; t++)
            for (int d = 0; d < p->dp; d++)
                for (int e = 0; e < p->dp; e++) {
                    int same_rank = p->stages[s].rank == p->stages[t].rank && d == e;
                    int same_dev = p->stages[s].devices[d] == p->stages[t].devices[e];
                    if (same_rank != same_dev) {
                        pp_err_set(err, PP_ERR_INVALID,
                                   "plan: stages %d and %d %s (each rank and replica needs its own device, shared by its stages)",
                                   t, s, same_dev ? "share a device across ranks" : "of one rank sit on different devices");
                        goto done;
                    }
                }
    if (p->schedule.n_ranks != p->pp) {
        pp_err_set(err, PP_ERR_INVALID, "plan: the schedule has %d rows, but pp is %d", p->schedule.n_ranks, p->pp);
        goto done;
    }
    /* Every stage x microbatch of the plan has its passes, and the table runs. */
    if (pp_sched_check(&p->schedule, p->n_stages, p->n_microbatches, err)) {
        pp_err_wrap(err, "plan: field 'schedule.table'");
        goto done;
    }
    rc = 0;
done:
    free(per_rank);
    return rc;
}

/* Checks one schedule action against the stages of its rank. */
static int check_action(const pp_jr *r, const pp_json *cell, const pp_plan *p, int rank, const pp_action *a) {
    int stages[3], mbs[3], n = 0;
    if (a->type == PP_ACT_NONE) return 0;
    if (a->type == PP_ACT_OVERLAP_F_B) {
        for (int k = 0; k < 2; k++) {
            stages[n] = a->sub[k].stage;
            mbs[n++] = a->sub[k].mb;
        }
    } else {
        stages[n] = a->stage;
        mbs[n++] = a->mb;
    }
    for (int k = 0; k < n; k++) {
        if (stages[k] < 0 || stages[k] >= p->n_stages)
            return pp_json_error(r, cell, "stage %d does not exist (the plan has %d stages)", stages[k], p->n_stages);
        if (p->stages[stages[k]].rank != rank)
            return pp_json_error(r, cell, "stage %d is on rank %d, not on rank %d whose row this is", stages[k],
                                 p->stages[stages[k]].rank, rank);
        if (mbs[k] >= p->n_microbatches)
            return pp_json_error(r, cell, "microbatch %d is out of range (n_microbatches is %d)", mbs[k],
                                 p->n_microbatches);
    }
    return 0;
}

static int read_fixed_str(const pp_jr *r, pp_json *o, const char *key, int required, char *buf, size_t n) {
    const char *s = NULL;
    if (pp_json_read_str(r, o, key, required, &s)) return -1;
    if (!s) return 0;
    if (strlen(s) >= n) return pp_json_error(r, pp_json_get(o, key), "longer than %zu characters", n - 1);
    snprintf(buf, n, "%s", s);
    return 0;
}

static int read_plan(const pp_jr *r, pp_json *root, pp_plan *p) {
    pp_graph g;
    pp_graph_init(&g, PP_DTYPE_F32);
    int rc = -1;
    pp_json *model, *cfg, *cluster, *batch, *par, *stages, *sched, *table, *tied = NULL, *pred, *plnr;
    long long version;
    const char *hash;
    if (pp_json_expect(r, root, PP_JSON_OBJECT)) goto done;
    if (pp_json_read_int(r, root, "pippy_plan", PP_JSON_REQUIRED, 1, 1000000, &version)) goto done;
    if (version > PP_PLAN_VERSION) {
        pp_json_error(r, pp_json_get(root, "pippy_plan"),
                      "plan format version %lld is newer than this pippy reads (%d); use a newer pippy", version,
                      PP_PLAN_VERSION);
        goto done;
    }
    p->version = (int)version;

    /* model */
    if (pp_json_read_typed(r, root, "model", PP_JSON_REQUIRED, PP_JSON_OBJECT, &model) ||
        pp_json_read_str(r, model, "hash", PP_JSON_REQUIRED, &hash) ||
        pp_json_read_typed(r, model, "config", PP_JSON_REQUIRED, PP_JSON_OBJECT, &cfg) ||
        pp_model_config_from_json(r, cfg, &p->model) || pp_json_check_unknown(r, model))
        goto done;
    if (pp_model_config_hash(&p->model, p->model_hash, r->err)) goto done;
    if (strcmp(hash, p->model_hash) != 0) {
        pp_json_error(r, pp_json_get(model, "hash"),
                      "does not match the model config (which hashes to %.16s...): the config was edited after planning",
                      p->model_hash);
        goto done;
    }

    /* cluster */
    if (pp_json_read_typed(r, root, "cluster", PP_JSON_REQUIRED, PP_JSON_OBJECT, &cluster) ||
        pp_cluster_from_json(r, cluster, &p->cluster))
        goto done;

    /* batch */
    int dt = 0;
    if (pp_json_read_typed(r, root, "batch", PP_JSON_REQUIRED, PP_JSON_OBJECT, &batch) ||
        pp_json_read_i32(r, batch, "global_batch", PP_JSON_REQUIRED, 1, 1 << 30, &p->global_batch) ||
        pp_json_read_i32(r, batch, "micro_batch", PP_JSON_REQUIRED, 1, 1 << 20, &p->micro_batch) ||
        pp_json_read_i32(r, batch, "n_microbatches", PP_JSON_REQUIRED, 1, 1 << 20, &p->n_microbatches) ||
        pp_json_read_i32(r, batch, "seq_len", PP_JSON_REQUIRED, 1, 1 << 22, &p->seq_len) ||
        pp_json_read_enum(r, batch, "dtype", PP_JSON_REQUIRED, dtype_names, 3, &dt) || pp_json_check_unknown(r, batch))
        goto done;
    p->dtype = (pp_dtype)dt;

    /* parallel */
    if (pp_json_read_typed(r, root, "parallel", PP_JSON_REQUIRED, PP_JSON_OBJECT, &par) ||
        pp_json_read_i32(r, par, "pp", PP_JSON_REQUIRED, 1, 4096, &p->pp) ||
        pp_json_read_i32(r, par, "dp", PP_JSON_REQUIRED, 1, 1 << 20, &p->dp) ||
        pp_json_read_i32(r, par, "virtual_stages", PP_JSON_REQUIRED, 1, 256, &p->virtual_stages) ||
        pp_json_check_unknown(r, par))
        goto done;
    if (p->global_batch != p->micro_batch * p->n_microbatches * p->dp) {
        pp_json_error(r, pp_json_get(batch, "global_batch"), "%d != micro_batch %d x n_microbatches %d x dp %d",
                      p->global_batch, p->micro_batch, p->n_microbatches, p->dp);
        goto done;
    }
    if (p->pp * p->dp > p->cluster.n_devices) {
        pp_json_error(r, par, "pp %d x dp %d = %d ranks, but the cluster has %d devices", p->pp, p->dp, p->pp * p->dp,
                      p->cluster.n_devices);
        goto done;
    }

    /* the graph the stages refer to */
    if (pp_zoo_build(&p->model, p->micro_batch, p->seq_len, p->dtype, &g, r->err)) {
        pp_json_error(r, batch, "%s", r->err->msg);
        goto done;
    }

    /* stages */
    if (pp_json_read_typed(r, root, "stages", PP_JSON_REQUIRED, PP_JSON_ARRAY, &stages)) goto done;
    if (stages->n != p->pp * p->virtual_stages) {
        pp_json_error(r, stages, "has %d stages, but pp %d x virtual_stages %d = %d", stages->n, p->pp,
                      p->virtual_stages, p->pp * p->virtual_stages);
        goto done;
    }
    p->stages = pp_calloc((unsigned long long)stages->n, sizeof *p->stages, r->err);
    if (!p->stages) goto done;
    int expect = 0;
    for (int s = 0; s < stages->n; s++) {
        pp_json *o = stages->items[s], *ops, *devs;
        pp_plan_stage *st = &p->stages[s];
        const char *first, *last;
        long long lo, hi;
        p->n_stages = s + 1;
        if (pp_json_expect(r, o, PP_JSON_OBJECT) ||
            pp_json_read_i32(r, o, "index", PP_JSON_REQUIRED, s, s, &st->index) ||
            pp_json_read_typed(r, o, "ops", PP_JSON_REQUIRED, PP_JSON_ARRAY, &ops) ||
            pp_json_read_str(r, o, "first_op", PP_JSON_REQUIRED, &first) ||
            pp_json_read_str(r, o, "last_op", PP_JSON_REQUIRED, &last) ||
            pp_json_read_i32(r, o, "rank", PP_JSON_REQUIRED, 0, p->pp - 1, &st->rank) ||
            pp_json_read_typed(r, o, "devices", PP_JSON_REQUIRED, PP_JSON_ARRAY, &devs) || pp_json_check_unknown(r, o))
            goto done;
        if (ops->n != 2) {
            pp_json_error(r, ops, "expected [first, end) as two op indices, got %d values", ops->n);
            goto done;
        }
        if (pp_json_as_int(r, ops->items[0], 0, g.n_ops - 1, &lo) || pp_json_as_int(r, ops->items[1], 1, g.n_ops, &hi))
            goto done;
        if (lo != expect) {
            pp_json_error(r, ops->items[0], "stage %d starts at op %lld, but must start at op %d, where %s", s, lo, expect,
                          s ? "the previous stage ends" : "the graph starts");
            goto done;
        }
        if (hi <= lo) {
            pp_json_error(r, ops->items[1], "stage %d ends at op %lld, before it starts (op %lld)", s, hi, lo);
            goto done;
        }
        st->op_lo = (int)lo;
        st->op_hi = (int)hi;
        expect = (int)hi;
        if (strcmp(first, g.ops[lo].name) != 0) {
            pp_json_error(r, pp_json_get(o, "first_op"), "op %lld of the graph is '%s', not '%s'", lo, g.ops[lo].name, first);
            goto done;
        }
        if (strcmp(last, g.ops[hi - 1].name) != 0) {
            pp_json_error(r, pp_json_get(o, "last_op"), "op %lld of the graph is '%s', not '%s'", hi - 1,
                          g.ops[hi - 1].name, last);
            goto done;
        }
        if (devs->n != p->dp) {
            pp_json_error(r, devs, "lists %d devices, expected one per data-parallel replica (dp = %d)", devs->n, p->dp);
            goto done;
        }
        st->devices = pp_calloc((unsigned long long)p->dp, sizeof(int), r->err);
        if (!st->devices) goto done;
        for (int d = 0; d < devs->n; d++) {
            if (pp_json_expect(r, devs->items[d], PP_JSON_STRING)) goto done;
            st->devices[d] = find_device(&p->cluster, devs->items[d]->str);
            if (st->devices[d] < 0) {
                char a[160], b[160];
                pp_cluster_device_name(&p->cluster, 0, a, sizeof a);
                pp_cluster_device_name(&p->cluster, p->cluster.n_devices - 1, b, sizeof b);
                pp_json_error(r, devs->items[d], "no device '%s' in cluster '%s' (devices are %s .. %s)",
                              devs->items[d]->str, p->cluster.name, a, b);
                goto done;
            }
        }
    }
    if (expect != g.n_ops) {
        pp_json_error(r, stages, "stages end at op %d, but the model has %d ops (the last stage must end there)", expect,
                      g.n_ops);
        goto done;
    }

    /* schedule */
    if (pp_json_read_typed(r, root, "schedule", PP_JSON_REQUIRED, PP_JSON_OBJECT, &sched) ||
        read_fixed_str(r, sched, "name", PP_JSON_REQUIRED, p->schedule_name, sizeof p->schedule_name) ||
        pp_json_read_typed(r, sched, "table", PP_JSON_REQUIRED, PP_JSON_ARRAY, &table) || pp_json_check_unknown(r, sched))
        goto done;
    if (table->n != p->pp) {
        pp_json_error(r, table, "has %d rows, expected one per pipeline rank (pp = %d)", table->n, p->pp);
        goto done;
    }
    if (pp_sched_init(&p->schedule, p->pp, r->err)) goto done;
    for (int k = 0; k < table->n; k++) {
        pp_json *row = table->items[k];
        if (pp_json_expect(r, row, PP_JSON_ARRAY)) goto done;
        for (int j = 0; j < row->n; j++) {
            pp_action a;
            pp_err e = {0};
            if (pp_json_expect(r, row->items[j], PP_JSON_STRING)) goto done;
            if (pp_action_parse(row->items[j]->str, PP_NAMING_CURRENT, &a, &e)) {
                pp_json_error(r, row->items[j], "cell '%s': %s", row->items[j]->str, e.msg);
                goto done;
            }
            if (check_action(r, row->items[j], p, k, &a) || pp_sched_push(&p->schedule, k, a, r->err)) goto done;
        }
    }

    /* tied: optional; derived, and when given it must agree */
    if (pp_json_read_typed(r, root, "tied", PP_JSON_OPTIONAL, PP_JSON_ARRAY, &tied)) goto done;
    if (pp_plan_derive_tied(p, &g, r->err)) goto done;
    if (tied) {
        int ok = tied->n == p->n_tied;
        for (int i = 0; ok && i < tied->n; i++) {
            pp_json *o = tied->items[i], *st;
            const char *param;
            if (pp_json_expect(r, o, PP_JSON_OBJECT) || pp_json_read_str(r, o, "param", PP_JSON_REQUIRED, &param) ||
                pp_json_read_typed(r, o, "stages", PP_JSON_REQUIRED, PP_JSON_ARRAY, &st) || pp_json_check_unknown(r, o))
                goto done;
            ok = !strcmp(param, p->tied[i].param) && st->n == p->tied[i].n_stages;
            for (int k = 0; ok && k < st->n; k++)
                ok = st->items[k]->type == PP_JSON_NUMBER && st->items[k]->is_int &&
                     st->items[k]->inum == p->tied[i].stages[k];
        }
        if (!ok) {
            char want[512] = "";
            size_t o = 0;
            for (int i = 0; i < p->n_tied && o < sizeof want; i++)
                o += (size_t)snprintf(want + o, sizeof want - o, "%s%s on %d stages", i ? ", " : "", p->tied[i].param,
                                      p->tied[i].n_stages);
            pp_json_error(r, tied, "does not match the parameters these stages share (%s)", o ? want : "none");
            goto done;
        }
    }

    /* prediction and planner: optional */
    if (pp_json_read_typed(r, root, "prediction", PP_JSON_OPTIONAL, PP_JSON_OBJECT, &pred)) goto done;
    if (pred) {
        pp_plan_prediction *pr = &p->prediction;
        pp_json *mem;
        pr->present = 1;
        if (pp_json_read_num(r, pred, "iteration_s", PP_JSON_REQUIRED, 0, 1e12, &pr->iteration_s) ||
            pp_json_read_num(r, pred, "samples_per_s", PP_JSON_REQUIRED, 0, 1e15, &pr->samples_per_s) ||
            pp_json_read_num(r, pred, "tokens_per_s", PP_JSON_REQUIRED, 0, 1e18, &pr->tokens_per_s) ||
            pp_json_read_num(r, pred, "bubble_fraction", PP_JSON_REQUIRED, 0, 1, &pr->bubble_fraction) ||
            pp_json_read_typed(r, pred, "peak_memory_bytes", PP_JSON_REQUIRED, PP_JSON_ARRAY, &mem) ||
            pp_json_check_unknown(r, pred))
            goto done;
        if (mem->n != p->pp) {
            pp_json_error(r, mem, "has %d entries, expected one per pipeline rank (%d)", mem->n, p->pp);
            goto done;
        }
        pr->peak_memory_bytes = pp_calloc((unsigned long long)p->pp, sizeof(double), r->err);
        if (!pr->peak_memory_bytes) goto done;
        for (int k = 0; k < mem->n; k++)
            if (pp_json_as_num(r, mem->items[k], 0, 1e18, &pr->peak_memory_bytes[k])) goto done;
    }
    if (pp_json_read_typed(r, root, "planner", PP_JSON_OPTIONAL, PP_JSON_OBJECT, &plnr)) goto done;
    if (plnr) {
        pp_plan_planner *pl = &p->planner;
        pl->present = 1;
        if (read_fixed_str(r, plnr, "method", PP_JSON_REQUIRED, pl->method, sizeof pl->method) ||
            read_fixed_str(r, plnr, "status", PP_JSON_REQUIRED, pl->status, sizeof pl->status) ||
            pp_json_read_num(r, plnr, "gap", PP_JSON_OPTIONAL, 0, 1e300, &pl->gap) ||
            pp_json_read_num(r, plnr, "solve_s", PP_JSON_OPTIONAL, 0, 1e12, &pl->solve_s))
            goto done;
        pp_json *ilp;
        if (pp_json_read_typed(r, plnr, "schedule_ilp", PP_JSON_OPTIONAL, PP_JSON_OBJECT, &ilp)) goto done;
        if (ilp) {
            pl->ilp_present = 1;
            if (read_fixed_str(r, ilp, "status", PP_JSON_REQUIRED, pl->ilp_status, sizeof pl->ilp_status) ||
                read_fixed_str(r, ilp, "warm_start", PP_JSON_REQUIRED, pl->ilp_warm, sizeof pl->ilp_warm) ||
                pp_json_read_num(r, ilp, "gap", PP_JSON_OPTIONAL, 0, 1e300, &pl->ilp_gap) ||
                pp_json_read_num(r, ilp, "solve_s", PP_JSON_OPTIONAL, 0, 1e12, &pl->ilp_solve_s) ||
                pp_json_read_num(r, ilp, "makespan_s", PP_JSON_OPTIONAL, 0, 1e12, &pl->ilp_makespan_s) ||
                pp_json_read_num(r, ilp, "warm_makespan_s", PP_JSON_OPTIONAL, 0, 1e12, &pl->ilp_warm_makespan_s) ||
                pp_json_check_unknown(r, ilp))
                goto done;
        }
        if (pp_json_check_unknown(r, plnr)) goto done;
    }
    if (pp_json_check_unknown(r, root)) goto done;
    if (pp_plan_check(p, &g, r->err)) {
        pp_err_wrap(r->err, "%s", r->file);
        goto done;
    }
    rc = 0;
done:
    pp_graph_free(&g);
    return rc;
}

int pp_plan_parse(const char *text, size_t len, const char *file, pp_plan *out, pp_err *err) {
    pp_json *root = NULL;
    memset(out, 0, sizeof *out);
    if (pp_json_parse(text, len, file, &root, err)) return -1;
    pp_jr r = {.file = file, .err = err};
    int rc = read_plan(&r, root, out);
    pp_json_free(root);
    if (rc) pp_plan_free(out);
    return rc;
}

int pp_plan_load(const char *path, pp_plan *out, pp_err *err) {
    char *text;
    size_t len;
    memset(out, 0, sizeof *out);
    if (pp_io_read_file(path, &text, &len, err)) return -1;
    int rc = pp_plan_parse(text, len, path, out, err);
    free(text);
    return rc;
}

/* The plan as JSON. content_only leaves out how long and how sure the
 * planner's search was (solve times, solver statuses and gaps, of the split
 * and of the ILP schedule): they change from run to run and host to host
 * while the plan stays the same, so they are no part of its identity
 * (pp_plan_hash). */
static int write_plan(const pp_plan *p, const pp_graph *g, int content_only, char **out, size_t *len, pp_err *err) {
    if (pp_plan_check(p, g, err)) return -1;
    char hash[65];
    if (pp_model_config_hash(&p->model, hash, err)) return -1;
    pp_jw w;
    pp_jw_init(&w);
    pp_jw_obj_begin(&w);
    pp_jw_kint(&w, "pippy_plan", PP_PLAN_VERSION);
    pp_jw_key(&w, "model");
    pp_jw_obj_begin(&w);
    pp_jw_kstr(&w, "hash", hash);
    pp_jw_key(&w, "config");
    pp_model_config_to_json(&p->model, &w);
    pp_jw_obj_end(&w);
    pp_jw_key(&w, "cluster");
    pp_cluster_to_json(&p->cluster, &w);
    pp_jw_key(&w, "batch");
    pp_jw_obj_begin(&w);
    pp_jw_kint(&w, "global_batch", p->global_batch);
    pp_jw_kint(&w, "micro_batch", p->micro_batch);
    pp_jw_kint(&w, "n_microbatches", p->n_microbatches);
    pp_jw_kint(&w, "seq_len", p->seq_len);
    pp_jw_kstr(&w, "dtype", pp_dtype_name(p->dtype));
    pp_jw_obj_end(&w);
    pp_jw_key(&w, "parallel");
    pp_jw_obj_begin(&w);
    pp_jw_kint(&w, "pp", p->pp);
    pp_jw_kint(&w, "dp", p->dp);
    pp_jw_kint(&w, "virtual_stages", p->virtual_stages);
    pp_jw_obj_end(&w);
    pp_jw_key(&w, "stages");
    pp_jw_arr_begin(&w);
    for (int s = 0; s < p->n_stages; s++) {
        const pp_plan_stage *st = &p->stages[s];
        char dev[160];
        pp_jw_obj_begin(&w);
        pp_jw_kint(&w, "index", st->index);
        pp_jw_key(&w, "ops");
        pp_jw_arr_begin_inline(&w);
        pp_jw_int(&w, st->op_lo);
        pp_jw_int(&w, st->op_hi);
        pp_jw_arr_end(&w);
        pp_jw_kstr(&w, "first_op", g->ops[st->op_lo].name);
        pp_jw_kstr(&w, "last_op", g->ops[st->op_hi - 1].name);
        pp_jw_kint(&w, "rank", st->rank);
        pp_jw_key(&w, "devices");
        pp_jw_arr_begin_inline(&w);
        for (int d = 0; d < p->dp; d++) {
            pp_cluster_device_name(&p->cluster, st->devices[d], dev, sizeof dev);
            pp_jw_str(&w, dev);
        }
        pp_jw_arr_end(&w);
        pp_jw_obj_end(&w);
    }
    pp_jw_arr_end(&w);
    pp_jw_key(&w, "schedule");
    pp_jw_obj_begin(&w);
    pp_jw_kstr(&w, "name", p->schedule_name);
    pp_jw_key(&w, "table");
    pp_jw_arr_begin(&w);
    for (int k = 0; k < p->schedule.n_ranks; k++) {
        const pp_sched_rank *row = &p->schedule.ranks[k];
        pp_jw_arr_begin_inline(&w);
        for (int j = 0; j < row->n; j++) {
            char cell[96];
            pp_action_format(&row->acts[j], PP_NAMING_CURRENT, cell, sizeof cell);
            pp_jw_str(&w, cell);
        }
        pp_jw_arr_end(&w);
    }
    pp_jw_arr_end(&w);
    pp_jw_obj_end(&w);
    pp_jw_key(&w, "tied");
    pp_jw_arr_begin(&w);
    for (int i = 0; i < p->n_tied; i++) {
        pp_jw_obj_begin(&w);
        pp_jw_kstr(&w, "param", p->tied[i].param);
        pp_jw_key(&w, "stages");
        pp_jw_arr_begin_inline(&w);
        for (int k = 0; k < p->tied[i].n_stages; k++) pp_jw_int(&w, p->tied[i].stages[k]);
        pp_jw_arr_end(&w);
        pp_jw_obj_end(&w);
    }
    pp_jw_arr_end(&w);
    if (p->prediction.present) {
        const pp_plan_prediction *pr = &p->prediction;
        pp_jw_key(&w, "prediction");
        pp_jw_obj_begin(&w);
        pp_jw_knum(&w, "iteration_s", pr->iteration_s);
        pp_jw_knum(&w, "samples_per_s", pr->samples_per_s);
        pp_jw_knum(&w, "tokens_per_s", pr->tokens_per_s);
        pp_jw_knum(&w, "bubble_fraction", pr->bubble_fraction);
        pp_jw_key(&w, "peak_memory_bytes");
        pp_jw_arr_begin_inline(&w);
        for (int k = 0; k < p->pp; k++) pp_jw_num(&w, pr->peak_memory_bytes ? pr->peak_memory_bytes[k] : 0);
        pp_jw_arr_end(&w);
        pp_jw_obj_end(&w);
    }
    if (p->planner.present) {
        pp_jw_key(&w, "planner");
        pp_jw_obj_begin(&w);
        pp_jw_kstr(&w, "method", p->planner.method);
        if (!content_only) {
            pp_jw_kstr(&w, "status", p->planner.status);
            pp_jw_knum(&w, "gap", p->planner.gap);
            pp_jw_knum(&w, "solve_s", p->planner.solve_s);
        }
        if (p->planner.ilp_present) {
            pp_jw_key(&w, "schedule_ilp");
            pp_jw_obj_begin(&w);
            if (!content_only) {
                pp_jw_kstr(&w, "status", p->planner.ilp_status);
            }
            pp_jw_kstr(&w, "warm_start", p->planner.ilp_warm);
            if (!content_only) {
                pp_jw_knum(&w, "gap", p->planner.ilp_gap);
                pp_jw_knum(&w, "solve_s", p->planner.ilp_solve_s);
            }
            pp_jw_knum(&w, "makespan_s", p->planner.ilp_makespan_s);
            pp_jw_knum(&w, "warm_makespan_s", p->planner.ilp_warm_makespan_s);
            pp_jw_obj_end(&w);
        }
        pp_jw_obj_end(&w);
    }
    pp_jw_obj_end(&w);
    return pp_jw_finish(&w, out, len, err);
}

int pp_plan_write(const pp_plan *p, const pp_graph *g, char **out, size_t *len, pp_err *err) {
    return write_plan(p, g, 0, out, len, err);
}

int pp_plan_save(const pp_plan *p, const pp_graph *g, const char *path, pp_err *err) {
    char *text;
    size_t len;
    if (pp_plan_write(p, g, &text, &len, err)) return -1;
    int rc = pp_io_write_atomic(path, text, len, err);
    free(text);
    return rc;
}

int pp_plan_hash(const pp_plan *p, const pp_graph *g, char hex[65], pp_err *err) {
    char *text;
    size_t len;
    if (write_plan(p, g, 1, &text, &len, err)) return -1;
    pp_sha256_hex(text, len, hex);
    free(text);
    return 0;
}

int pp_plan_open(const char *path, pp_plan *out, pp_graph *g, char hash[65], pp_err *err) {
    if (pp_plan_load(path, out, err)) return -1;
    if (pp_zoo_build(&out->model, out->micro_batch, out->seq_len, out->dtype, g, err)) {
        pp_plan_free(out);
        return -1;
    }
    if (hash && pp_plan_hash(out, g, hash, err)) {
        pp_graph_free(g);
        pp_plan_free(out);
        return -1;
    }
    return 0;
}
