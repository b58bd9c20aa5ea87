/*
 * pp_check.c -- reading any pippy file by kind, for `pippy check` (see
 * pp_check.h). Each kind's own reader does the checking (a schedule CSV,
 * which has no reader of its own beyond the grammar, gets pp_sched_check:
 * complete and free of deadlock); this file only detects the kind and
 * summarises what was read.
 */
#include "core/pp_check.h"

#include "core/pp_cluster.h"
#include "core/pp_io.h"
#include "core/pp_json.h"
#include "core/pp_plan.h"
#include "core/pp_sched.h"
#include "core/pp_trace.h"
#include "core/pp_zoo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"auto", "model", "cluster", "plan", "schedule", "trace"};

const char *pp_file_kind_name(pp_file_kind k) { return (unsigned)k < PP_FILE__COUNT ? kind_names[k] : "?"; }

int pp_file_kind_parse(const char *s, pp_file_kind *out) {
    for (int i = 0; i < PP_FILE__COUNT; i++) {
        if (!strcmp(s, kind_names[i])) {
            *out = (pp_file_kind)i;
            return 0;
        }
    }
    return -1;
}

int pp_file_detect(const char *path, pp_file_kind *out, pp_err *err) {
    size_t n = strlen(path);
    if (n >= 4 && !strcmp(path + n - 4, ".csv")) {
        *out = PP_FILE_SCHEDULE;
        return 0;
    }
    pp_json *root = NULL;
    if (pp_json_parse_file(path, &root, err)) return -1;
    int rc = 0;
    if (root->type != PP_JSON_OBJECT)
        rc = pp_err_set(err, PP_ERR_INVALID, "%s: a JSON %s is none of pippy's files (model, cluster, plan, trace)", path,
                        pp_json_type_name(root->type) + (root->type == PP_JSON_ARRAY ? 3 : 2));
    else if (pp_json_get(root, "pippy_plan")) *out = PP_FILE_PLAN;
    else if (pp_json_get(root, "traceEvents")) *out = PP_FILE_TRACE;
    else if (pp_json_get(root, "hosts")) *out = PP_FILE_CLUSTER;
    else if (pp_json_get(root, "family")) *out = PP_FILE_MODEL;
    else
        rc = pp_err_set(err, PP_ERR_INVALID,
                        "%s: cannot tell what this is (a model config has \"family\", a cluster \"hosts\", a plan "
                        "\"pippy_plan\", a trace \"traceEvents\"); name it with --kind",
                        path);
    pp_json_free(root);
    return rc;
}

int pp_check_file(const char *path, pp_file_kind kind, char *summary, size_t n, pp_err *err) {
    if (kind == PP_FILE_AUTO && pp_file_detect(path, &kind, err)) return -1;
    switch (kind) {
    case PP_FILE_MODEL: {
        pp_model_config c;
        pp_graph g;
        if (pp_model_config_load(path, &c, err)) return -1;
        if (pp_zoo_build(&c, 1, c.seq_len, PP_DTYPE_F32, &g, err)) return pp_err_wrap(err, "%s", path);
        snprintf(summary, n, "model config: %s (%s), %lld parameters, %d ops in %d blocks", c.name,
                 pp_family_name(c.family), pp_graph_param_count(&g), g.n_ops, g.n_blocks);
        pp_graph_free(&g);
        return 0;
    }
    case PP_FILE_CLUSTER: {
        pp_cluster c;
        if (pp_cluster_load(path, &c, err)) return -1;
        snprintf(summary, n, "cluster spec: %s, %d host%s, %d device%s%s", c.name, c.n_hosts, c.n_hosts == 1 ? "" : "s",
                 c.n_devices, c.n_devices == 1 ? "" : "s",
                 c.intra_host.present || c.inter_host.present ? ", link figures given" : "");
        pp_cluster_free(&c);
        return 0;
    }
    case PP_FILE_PLAN: {
        pp_plan p;
        if (pp_plan_load(path, &p, err)) return -1;
        snprintf(summary, n, "plan: %s, pp %d x dp %d (%d stages), schedule %s, %d microbatches of %d x %d tokens",
                 p.model.name, p.pp, p.dp, p.n_stages, p.schedule_name, p.n_microbatches, p.micro_batch, p.seq_len);
        pp_plan_free(&p);
        return 0;
    }
    case PP_FILE_SCHEDULE: {
        pp_sched s;
        pp_sched_naming found;
        if (pp_sched_load_csv(path, PP_NAMING_AUTO, &s, &found, err)) return -1;
        if (pp_sched_check(&s, 0, 0, err)) {
            pp_sched_free(&s);
            return pp_err_wrap(err, "%s", path);
        }
        int acts = 0;
        for (int r = 0; r < s.n_ranks; r++) acts += s.ranks[r].n;
        snprintf(summary, n, "schedule: %d ranks, %d stages, %d microbatches, %d cells, %s, %s naming", s.n_ranks,
                 pp_sched_n_stages(&s), pp_sched_n_microbatches(&s), acts,
                 pp_sched_form_of(&s) == PP_SCHED_COMPUTE_COMMS ? "compute_comms" : "compute_only",
                 found == PP_NAMING_LEGACY ? "legacy" : "current");
        pp_sched_free(&s);
        return 0;
    }
    case PP_FILE_TRACE: {
        pp_trace t;
        if (pp_trace_load_chrome(path, &t, err)) return -1;
        int ranks = 0;
        double end = 0;
        for (int i = 0; i < t.n; i++) {
            if (t.ev[i].rank + 1 > ranks) ranks = t.ev[i].rank + 1;
            if (t.ev[i].end > end) end = t.ev[i].end;
        }
        snprintf(summary, n, "trace: %d events on %d ranks, %.6g s", t.n, ranks, end);
        pp_trace_free(&t);
        return 0;
    }
    default: return pp_err_set(err, PP_ERR_INVALID, "%s: unknown file kind", path);
    }
}
