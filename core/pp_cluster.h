/*
 * pp_cluster.h -- the cluster spec: hosts, the devices on each, and the
 * links between them.
 *
 * A spec is a JSON file (configs/clusters/):
 *
 *   {
 *     "name": "4x8-h100",
 *     "hosts": [
 *       {"name": "node", "count": 4,
 *        "devices": [{"type": "gpu", "model": "H100 SXM 80GB", "count": 8,
 *                     "memory_gib": 80, "peak_tflops": 989, "speed": 1.0}]}
 *     ],
 *     "links": {
 *       "intra_host": {"latency_us": 3, "bandwidth_gbit_s": 3600},
 *       "inter_host": {"latency_us": 10, "bandwidth_gbit_s": 400}
 *     }
 *   }
 *
 * A host entry with "count" N > 1 stands for N identical hosts named
 * "<name>0" .. "<name>N-1". "count" and "memory_gib" of a device may be
 * "auto": this machine's online cores and its memory divided among them
 * (for configs/clusters/local.json). "speed" is a relative compute factor
 * for heterogeneous clusters (default 1). "links" and "peak_tflops" are
 * optional: without them the planner relies on a measured profile.
 *
 * In memory a spec is expanded: one pp_cluster_host per physical host and a
 * flat list of devices, each knowing its host, so rank r can be placed on
 * device r.
 */
#ifndef PP_CLUSTER_H
#define PP_CLUSTER_H

#include <stddef.h>

#include "core/pp_err.h"
#include "core/pp_json.h"

#define PP_CLUSTER_NAME_MAX 64
/* Most devices a spec may expand to (hosts x devices per host, summed over
 * the host entries); a spec beyond it is refused, naming the count field
 * that crosses it. */
#define PP_CLUSTER_MAX_DEVICES (1 << 20)

typedef enum pp_device_type {
    PP_DEVICE_CPU = 0,
    PP_DEVICE_GPU,
} pp_device_type;

typedef struct pp_link_spec {
    int present;        /* 0 when the spec gives no figure */
    double alpha_s;     /* latency, seconds */
    double beta_Bps;    /* bandwidth, bytes per second */
    double latency_us, bandwidth_gbit_s; /* as written */
} pp_link_spec;

/* One group of identical devices as written in the file. */
typedef struct pp_device_group {
    pp_device_type type;
    char model[PP_CLUSTER_NAME_MAX];
    int count;
    int count_auto;          /* "count": "auto" */
    double memory_bytes;     /* per device */
    int memory_auto;         /* "memory_gib": "auto" */
    double peak_flops;       /* per device, FLOP/s; 0 = unknown */
    double speed;            /* relative compute factor */
    double memory_gib, peak_tflops; /* as written */
} pp_device_group;

typedef struct pp_host_spec {
    char name[PP_CLUSTER_NAME_MAX];
    int count;               /* identical hosts this entry stands for */
    pp_device_group *groups;
    int n_groups;
} pp_host_spec;

/* One device after expansion. */
typedef struct pp_device {
    int host;                /* index into pp_cluster.host_names */
    int group;               /* index of its group within the host spec */
    int local_index;         /* index among its host's devices */
    pp_device_type type;
    const char *model;       /* borrowed from the group */
    double memory_bytes;
    double peak_flops;
    double speed;
} pp_device;

typedef struct pp_cluster {
    char name[PP_CLUSTER_NAME_MAX];
    pp_host_spec *specs;     /* as written */
    int n_specs;
    pp_link_spec intra_host, inter_host;
    /* expanded */
    char (*host_names)[PP_CLUSTER_NAME_MAX + 12];
    int n_hosts;
    pp_device *devices;
    int n_devices;
} pp_cluster;

void pp_cluster_free(pp_cluster *c);

/* Reads a spec from parsed JSON, text or a file, and expands it. Returns 0
 * and *out (free with pp_cluster_free), or -1 with err naming file, line,
 * column and field (*out untouched); more than PP_CLUSTER_MAX_DEVICES
 * devices in all is such an error. */
int pp_cluster_from_json(const pp_jr *r, pp_json *obj, pp_cluster *out);
int pp_cluster_parse(const char *text, size_t len, const char *file, pp_cluster *out, pp_err *err);
int pp_cluster_load(const char *path, pp_cluster *out, pp_err *err);

/* Writes the spec as written (compact form, "auto" kept). */
void pp_cluster_to_json(const pp_cluster *c, pp_jw *w);
int pp_cluster_write(const pp_cluster *c, char **out, size_t *len, pp_err *err);
int pp_cluster_save(const pp_cluster *c, const char *path, pp_err *err);

/* The link between two devices: intra_host when they share a host. */
const pp_link_spec *pp_cluster_link(const pp_cluster *c, int dev_a, int dev_b);

/* Name of a device, "node3:5". */
void pp_cluster_device_name(const pp_cluster *c, int dev, char *buf, size_t n);

#endif /* PP_CLUSTER_H */
