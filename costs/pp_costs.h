/*
 * pp_costs.h -- what a database knows of a cluster's costs: between the
 * database (where `pippy profile` stored its measurements) and the
 * commands that predict. Given a database, the cluster and a graph, it
 * returns the measured cost profile and the measured links and all-reduce,
 * for every command alike; what it cannot find, the prediction estimates
 * (simulator/pp_predict.h says how).
 *
 * Measurements are looked up for the devices the cluster has:
 *   - CPUs: this machine's device (the fingerprint of its CPU backend,
 *     which the caller computes: costs/ does not open backends);
 *   - GPUs: a profiled GPU of the same model (a CUDA device whose name
 *     holds the spec's model, "H100 SXM 80GB" matching "NVIDIA H100 80GB
 *     HBM3" by its first token with a digit, "h100"), so a profile made on
 *     one H100 serves a cluster of H100s;
 *   - no cluster: this machine.
 * A cluster that mixes device models gets no measured op costs (one profile
 * cannot stand for both); it still gets measured links of its first model.
 *
 *     pp_costs *cs;
 *     pp_costs_open("pippy.db", cpu_fp, &cs, &err);   // a missing file: nothing measured
 *     pp_costs_graph(cs, cluster, g, &cost, &missing, &err);   // 1 measured, 0 not
 *     pp_costs_comm(cs, cluster, &comm, &err);
 *     pp_costs_close(cs);
 */
#ifndef PP_COSTS_H
#define PP_COSTS_H

#include <stddef.h>

#include "core/pp_cluster.h"
#include "core/pp_cost.h"
#include "core/pp_err.h"
#include "core/pp_graph.h"

typedef struct pp_costs pp_costs;

/* The database keys of what pippy profile measures besides ops: the
 * optimizer (optim_profiles: PP_COSTS_OPTIMIZER, PP_COSTS_DTYPE) and the
 * all-reduce over N ranks (collective_profiles: PP_COSTS_ALLREDUCE,
 * PP_COSTS_DTYPE, N). */
#define PP_COSTS_OPTIMIZER "adamw"
#define PP_COSTS_ALLREDUCE "allreduce"
#define PP_COSTS_DTYPE "f32"

/* Opens the database read-only for lookups. db_path NULL, or a file that
 * does not exist: a view with nothing measured (not an error). cpu_fp is
 * the 64-hex fingerprint CPUs are looked up under (NULL: no CPU
 * measurements). Returns 0 and *out (pp_costs_close), or -1 with err (a file
 * that is not a usable database). */
int pp_costs_open(const char *db_path, const char *cpu_fp, pp_costs **out, pp_err *err);
void pp_costs_close(pp_costs *c);

/* The stored device whose measurements stand for the cluster's devices (see
 * above): returns 1 with *device_id and desc (the device's name and
 * fingerprint, n bytes), 0 when there is none, -1 on error. */
int pp_costs_device(pp_costs *c, const pp_cluster *cl, long long *device_id, char *desc, size_t n, pp_err *err);

/* The measured cost profile of g on the cluster's devices: returns 1 and
 * fills *out (pp_cost_free) when every op's signature is profiled there
 * (op times scaled by whole step / sum of ops when the graph's whole-step
 * record exists, the optimizer's time per parameter when stored; `source`
 * says which), 0 when not (*missing counts the ops without a profile, *out
 * untouched), -1 on error. missing may be NULL. */
int pp_costs_graph(pp_costs *c, const pp_cluster *cl, const pp_graph *g, pp_cost_profile *out, int *missing,
                   pp_err *err);

/* The measured links (their mean) and the all-reduce over the most ranks
 * on the cluster's devices. Fills *out (zeroed: nothing measured). Returns
 * 0 or -1 (err). */
int pp_costs_comm(pp_costs *c, const pp_cluster *cl, pp_comm_measured *out, pp_err *err);

/* The database key of a graph's whole-step record (step_profiles, with the
 * op count): the first 16 hex digits of the SHA-256 of its ops' signatures. */
void pp_costs_graph_hash(const pp_graph *g, char out[17]);

/* Whether a CUDA device name holds a cluster spec's GPU model (see above). */
int pp_costs_model_matches(const char *spec_model, const char *device_name);

#endif /* PP_COSTS_H */
