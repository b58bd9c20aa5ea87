/*
 * pp_costs_store.h -- the other direction of costs/: what `pippy profile`
 * measured, into the database (pp_costs.h reads it back). The device row
 * a profile is keyed by, the op profiles already stored for a graph's
 * signatures, and every write of one profile run: the new op profiles,
 * the whole step and the optimizer step, the links and the all-reduce.
 * Plain structs in (the profiler's results are copied into them by the
 * caller; costs/ includes no profiler header but the op signature's).
 */
#ifndef PP_COSTS_STORE_H
#define PP_COSTS_STORE_H

#include <stddef.h>

#include "core/pp_err.h"
#include "core/pp_graph.h"
#include "core/pp_record.h"
#include "db/pp_db.h"

/* One measured link as stored: src rank on src_host to dst rank on
 * dst_host, alpha_s + n / beta_Bps seconds for n bytes, the fit's residual,
 * and the n_sizes message sizes (bytes) it was measured at. Pointers are
 * borrowed. */
typedef struct pp_costs_link {
    int src, dst;
    const char *src_host, *dst_host;
    double alpha_s, beta_Bps, residual;
    int n_sizes;
    const double *sizes;
} pp_costs_link;

/* What one profile run stores. The ops part when g is set: m[i] of every
 * op i with fresh[i] != 0 (when measured > 0), and with check the whole
 * step (whole_s beside sum_s, of g) and the optimizer step per parameter
 * (optim_s). The links part when ranks >= 2: n_links links, and the
 * all-reduce over ranks ranks when ar[1] (beta) > 0 (ar: alpha s, beta
 * B/s, residual). Arrays are borrowed. */
typedef struct pp_costs_profile_in {
    const pp_graph *g;
    const int *fresh;
    const pp_op_measure *m;
    int measured, check;
    double whole_s, sum_s, optim_s;
    int ranks, n_links;
    const pp_costs_link *links;
    double ar[3];
} pp_costs_profile_in;

/* Opens (creating or migrating) the database at path and stores the device
 * of fingerprint fp and description desc (JSON), its id into *dev. On
 * success *db is open (close it with pp_db_close). Returns 0, or -1 (err;
 * *db NULL, nothing to close). */
int pp_costs_store_device(const char *path, const char *fp, const char *desc, pp_db **db, long long *dev,
                          pp_err *err);

/* Called by pp_costs_stored_ops for op i with what the database holds for
 * its signature (NULL: nothing), valid during the call only. */
typedef void (*pp_costs_stored_fn)(void *ctx, int i, const pp_op_measure *stored);

/* For every op i of g with first == NULL or first[i] == i (the first op of
 * its signature), in order: looks up the op profile stored for the device
 * dev under pp_opprof_signature(g, i) and calls fn(ctx, i, ...). Returns 0,
 * or -1 (err: a lookup failed; ops after it are not visited). */
int pp_costs_stored_ops(pp_db *db, long long dev, const pp_graph *g, const int *first, pp_costs_stored_fn fn,
                        void *ctx, pp_err *err);

/* Every database write of one profile run for device dev, in up to three
 * transactions (ops; whole and optimizer step; links and all-reduce), each
 * committed whole or rolled back. Returns 0, or -1 (err; the failing
 * transaction rolled back, earlier ones stay committed). */
int pp_costs_store_profile(pp_db *db, long long dev, const pp_costs_profile_in *in, pp_err *err);

/* The n message sizes as a JSON array of whole numbers ("[8,64,512]") into
 * buf (len >= 32 bytes): sizes are left out once fewer than 16 bytes
 * remain, so the text stays a whole array. */
void pp_costs_link_sizes_json(const double *sizes, int n, char *buf, size_t len);

#endif /* PP_COSTS_STORE_H */
