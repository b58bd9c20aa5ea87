/*
 * pp_db.h -- pippy's SQLite database: schema, migrations, transactions and
 * typed store/load of what the commands produce.
 *
 * One SQLite file (default ./pippy.db, chosen by the tools) in WAL mode with
 * a busy timeout, so several pippy processes may read and write it at once.
 * The schema version lives in PRAGMA user_version and only ever moves
 * forward: pp_db_open applies the migrations this build knows, and refuses,
 * without touching the file, a database written by a newer pippy.
 *
 * Only this module speaks SQL. Callers pass and receive plain C values and
 * the row structs below; every failure is a -1 return with err set to one
 * line naming the database file ("pippy.db: storing model 'gpt2': ...").
 *
 *     pp_db *db = NULL;
 *     if (pp_db_open(path, &db, &err)) return -1;
 *     long long id;
 *     int rc = pp_db_model_put(db, "gpt2-tiny", "gpt2", hash, n_params, json, &id, &err);
 *     pp_db_close(db);
 *
 * Every write is one transaction, so an interrupted command leaves the
 * database as it was. A command that stores several things at once groups
 * them with pp_db_begin / pp_db_commit (rolling back on any error); the
 * put functions then join that transaction instead of committing alone.
 *
 * Hashes are SHA-256 digests as 64 lowercase hex digits (core/pp_hash.h);
 * anything else is refused.
 */
#ifndef PP_DB_H
#define PP_DB_H

#include "core/pp_err.h"
#include "core/pp_record.h"
#include "core/pp_trace.h"

/* The newest schema version this build knows (= number of migrations). */
#define PP_DB_SCHEMA_VERSION 5

/* Written into PRAGMA application_id by migration 1 ("PIPP"). */
#define PP_DB_APPLICATION_ID 0x50495050

typedef struct pp_db pp_db;

/* ---- Opening ------------------------------------------------------------ */

/* Opens the database at path for reading and writing, creating the file if
 * it does not exist, and brings its schema up to PP_DB_SCHEMA_VERSION.
 * Refuses, leaving the file byte for byte as it was: a file that is not an
 * SQLite database, an SQLite database that is not pippy's, and a database
 * whose schema is newer than this build's. Returns 0 and *out (close with
 * pp_db_close), or -1 with *out NULL and err set. */
int pp_db_open(const char *path, pp_db **out, pp_err *err);

/* Opens an existing database read-only: never creates, migrates or writes
 * it. Fails with "no database at PATH" when the file does not exist, and
 * refuses the same files pp_db_open refuses. An older schema is accepted;
 * the list/get functions then report tables it does not have yet as empty.
 * A caller who may not write the file or its folder reads a WAL database
 * with no -wal file beside it as immutable (no locks; no -wal or -shm file
 * created); with a -wal file there, through that log (see pp_db.c).
 * Returns 0 and *out, or -1 with *out NULL and err set. */
int pp_db_open_readonly(const char *path, pp_db **out, pp_err *err);

/* Closes db (NULL is fine). A transaction still open is rolled back. */
void pp_db_close(pp_db *db);

/* The schema version of the open database: PP_DB_SCHEMA_VERSION after
 * pp_db_open, possibly less after pp_db_open_readonly. */
int pp_db_schema_version(const pp_db *db);

/* The path the database was opened with (owned by db). */
const char *pp_db_path(const pp_db *db);

/* ---- Transactions ------------------------------------------------------- */

/* Starts a transaction (BEGIN IMMEDIATE: takes the write lock now, waiting
 * up to the busy timeout for other writers). Calls nest: an inner begin
 * opens a savepoint, and its commit or rollback affects only the writes made
 * since. Returns 0, or -1 with err set (nothing is then open). */
int pp_db_begin(pp_db *db, pp_err *err);

/* Commits the innermost open level: the whole transaction at the outermost
 * level, the savepoint otherwise. On failure that level is rolled back and
 * closed, and -1 is returned with err set. */
int pp_db_commit(pp_db *db, pp_err *err);

/* Rolls back and closes the innermost open level. err may be NULL (the
 * usual case on an error path, so the first error is kept); a failure is
 * also logged. The level is closed either way. Returns 0 or -1. */
int pp_db_rollback(pp_db *db, pp_err *err);

/* ---- Models ------------------------------------------------------------- */

/* A stored model. Strings are owned by the row (pp_db_model_row_clear). */
typedef struct pp_db_model_row {
    long long id;
    char *name;          /* user-facing name, e.g. "gpt2-tiny" */
    char *family;        /* "gpt2", "llama", "bert", "t5", ... */
    char hash[65];       /* SHA-256 of the canonical config, hex */
    long long n_params;
    char *config_json;   /* the model config as stored */
    char *created_at;    /* UTC, "YYYY-MM-DDTHH:MM:SSZ" */
} pp_db_model_row;

/* Stores a model under its hash (an upsert): a new hash inserts a row; a
 * hash already stored keeps its row, id, config and creation time, and takes
 * the new name when it differs (the latest name wins). A stored hash whose
 * family or n_params differ from the arguments is refused as inconsistent.
 * config_json must be valid JSON. Writes *id (may be NULL). Runs in its own
 * transaction, or inside the caller's. Returns 0, or -1 with err set and the
 * database unchanged. */
int pp_db_model_put(pp_db *db, const char *name, const char *family, const char *hash,
                    long long n_params, const char *config_json, long long *id, pp_err *err);

/* Looks a model up by hash. Returns 0 with *found 1 and *row filled (clear
 * it with pp_db_model_row_clear), or 0 with *found 0 and *row zeroed, or -1
 * with err set. */
int pp_db_model_get_by_hash(pp_db *db, const char *hash, pp_db_model_row *row, int *found, pp_err *err);

/* All stored models in the order they were first stored. Returns 0 with
 * *rows (NULL when *n is 0; free with pp_db_model_rows_free) and *n, or -1
 * with err set and *rows NULL, *n 0. */
int pp_db_models_list(pp_db *db, pp_db_model_row **rows, int *n, pp_err *err);

/* Frees a row's strings and zeroes it. */
void pp_db_model_row_clear(pp_db_model_row *row);
/* Clears n rows and frees the array (NULL is fine). */
void pp_db_model_rows_free(pp_db_model_row *rows, int n);

/* ---- Plans -------------------------------------------------------------- */

/* A stored plan. Strings are owned by the row (pp_db_plan_row_clear). */
typedef struct pp_db_plan_row {
    long long id;
    char *name;           /* user-facing name, e.g. "gpt2-tiny-1f1b-4" */
    char plan_hash[65];   /* SHA-256 of the plan JSON, hex */
    char model_hash[65];  /* the model it splits (a stored model's hash) */
    int n_ranks;
    char *schedule;       /* schedule name: "1f1b", "gpipe", ... */
    char *plan_json;      /* the plan file as stored */
    char *created_at;     /* UTC, "YYYY-MM-DDTHH:MM:SSZ" */
} pp_db_plan_row;

/* Stores a plan under its hash, with the same upsert rule as models (a
 * stored plan_hash keeps its row and takes the new name; differing
 * model_hash, n_ranks or schedule is refused). The model must already be
 * stored (model_hash references models.hash): store the model first, in the
 * same pp_db_begin/commit group. plan_json must be valid JSON, n_ranks >= 1.
 * Writes *id (may be NULL). Returns 0, or -1 with err set and the database
 * unchanged. */
int pp_db_plan_put(pp_db *db, const char *name, const char *plan_hash, const char *model_hash,
                   int n_ranks, const char *schedule, const char *plan_json, long long *id, pp_err *err);

/* Looks a plan up by plan_hash; same contract as pp_db_model_get_by_hash. */
int pp_db_plan_get_by_hash(pp_db *db, const char *plan_hash, pp_db_plan_row *row, int *found, pp_err *err);

/* All stored plans in the order they were first stored; same contract as
 * pp_db_models_list. */
int pp_db_plans_list(pp_db *db, pp_db_plan_row **rows, int *n, pp_err *err);

void pp_db_plan_row_clear(pp_db_plan_row *row);
void pp_db_plan_rows_free(pp_db_plan_row *rows, int n);

/* ---- Profiles: devices, op timings, links -------------------------------
 *
 * Schema version 2. A device is whatever one set of measurements was taken
 * on, keyed by a fingerprint (SHA-256 hex of its canonical description).
 * Op profiles are keyed by (device, op signature): the signature is the
 * canonical text of an op's kind, dtype and shapes, e.g.
 * "linear f32 x[4,64,768] w[2304,768] b", so every op of one shape is timed
 * once per device and reused by any model that has it. Links are keyed by
 * (device, src_rank, dst_rank, src_host, dst_host).
 *
 * On a read-only open of an older database (schema < 2), the get and list
 * functions below report nothing found and empty lists.
 */

/* A device as stored. description_json is owned (pp_db_device_rows_free). */
typedef struct pp_db_device {
    long long id;
    char fingerprint[65];   /* SHA-256 hex of the canonical description */
    char *description_json; /* CPU model or GPU name, cores, threads, BLAS and its
                             * kernel, library versions, ... */
    char created_at[32];    /* UTC, "YYYY-MM-DDTHH:MM:SSZ" */
} pp_db_device;

/* Stores a device under its fingerprint (an upsert): a new fingerprint
 * inserts a row; a stored one keeps its row, id and creation time and takes
 * the new description when it differs. fingerprint must be 64 lowercase hex
 * digits, description_json valid JSON. Writes *id (may be NULL). Runs in its
 * own transaction, or inside the caller's. Returns 0, or -1 with err set and
 * the database unchanged. */
int pp_db_device_put(pp_db *db, const char *fingerprint, const char *description_json, long long *id,
                     pp_err *err);

/* All stored devices in the order they were first stored; same contract as
 * pp_db_models_list (free with pp_db_device_rows_free). */
int pp_db_devices_list(pp_db *db, pp_db_device **rows, int *n, pp_err *err);
void pp_db_device_rows_free(pp_db_device *rows, int n);

/* One op's measured costs on one device: the profiler's measurement m
 * (core/pp_record.h: F, I, W medians, spreads and sample counts, bytes per
 * microbatch) under its signature and kind. All numbers must be finite and
 * >= 0. measured_at is UTC "YYYY-MM-DDTHH:MM:SSZ"; empty on put means now. */
typedef struct pp_db_op_profile {
    char signature[512]; /* canonical op signature (see above), not empty */
    char kind[32];       /* op kind, e.g. "linear", "attention"; not empty */
    pp_op_measure m;
    char measured_at[32];
    long long device_id; /* filled by get and list; put ignores it */
} pp_db_op_profile;

/* Stores p for the device (a stored device's id): inserts, or replaces the
 * times, bytes and measured_at of the profile already stored for
 * (device, signature), keeping its id. A signature seen for the first time
 * is stored with its kind; a known signature stored with another kind is
 * refused as inconsistent. Kinds "step", "optim" and "allreduce" are not
 * ops and are refused: they have tables of their own (below). Runs in its own transaction, or inside the
 * caller's. Returns 0, or -1 with err set and the database unchanged. */
int pp_db_op_profile_put(pp_db *db, long long device_id, const pp_db_op_profile *p, pp_err *err);

/* Looks up the profile of signature on the device. Returns 0 with *found 1
 * and *out filled, 0 with *found 0 and *out zeroed, or -1 with err set. */
int pp_db_op_profile_get(pp_db *db, long long device_id, const char *signature, pp_db_op_profile *out,
                         int *found, pp_err *err);

/* The profiles of one device (device_id <= 0: of all devices), by device,
 * then in the order first stored. Returns 0 with *rows (NULL when *n is 0;
 * free with pp_db_op_profiles_free) and *n, or -1 with err set, *rows NULL
 * and *n 0. */
int pp_db_op_profiles_list(pp_db *db, long long device_id, pp_db_op_profile **rows, int *n, pp_err *err);
void pp_db_op_profiles_free(pp_db_op_profile *rows);

/* One measured link, from src_rank on src_host to dst_rank on dst_host:
 * sending n bytes takes alpha_s + n / beta_Bps seconds. alpha_s >= 0;
 * beta_Bps >= 0, 0 meaning unmeasurably fast (as pp_cost's beta); residual
 * >= 0 is the fit's error (relative RMS); sizes_json is a JSON array of the
 * message sizes measured, in bytes ("" on put means "[]"). Ranks >= 0;
 * hosts may be empty, not NULL. measured_at as in pp_db_op_profile. */
typedef struct pp_db_link {
    int src_rank, dst_rank;
    char src_host[128], dst_host[128];
    double alpha_s, beta_Bps, residual;
    char sizes_json[256];
    char measured_at[32];
    long long device_id; /* filled by list; put ignores it */
} pp_db_link;

/* Stores l for the device: inserts, or replaces the link already stored for
 * (device, src_rank, dst_rank, src_host, dst_host), keeping its id. Runs in
 * its own transaction, or inside the caller's. Returns 0, or -1 with err
 * set and the database unchanged. */
int pp_db_link_put(pp_db *db, long long device_id, const pp_db_link *l, pp_err *err);

/* The links of one device (device_id <= 0: of all), by device, then
 * src_rank, dst_rank, hosts. Same contract as pp_db_op_profiles_list (free
 * with pp_db_links_free). */
int pp_db_links_list(pp_db *db, long long device_id, pp_db_link **rows, int *n, pp_err *err);
void pp_db_links_free(pp_db_link *rows);

/* ---- Whole steps, the optimizer, collectives ------------------------------
 *
 * Schema version 5. Each is keyed by device and what was measured; a put
 * inserts or replaces (keeping the row's id) in its own transaction or
 * inside the caller's, refusing a value outside its contract with an error
 * naming the field; get returns 0 with *found 1 and *out filled, 0 with
 * *found 0 and *out zeroed, or -1 with err set; list returns one device's
 * rows (device_id <= 0: every device's) by device, then in the order first
 * stored, as *rows (NULL when *n is 0; free with free()) and *n, or -1 with
 * err set, *rows NULL and *n 0. measured_at as in pp_db_op_profile.
 *
 * Before version 5 these records were pseudo-rows of op_profiles, and
 * migration 5 moves them here. A read-only open of a version 2 to 4
 * database reads them from those pseudo-rows (and leaves them out of
 * pp_db_op_profiles_list and the op profile count), so an old database
 * reads the same before and after its migration.
 */

/* One whole training step of a graph measured on a device, beside the sum
 * of its ops measured alone: the cost profile scales the op times by
 * whole_s / sum_ops_s. graph_hash is the first 16 hex digits of the
 * SHA-256 of the graph's op signatures (costs/pp_costs.h
 * pp_costs_graph_hash) and n_ops >= 1 its op count; whole_s and sum_ops_s
 * (seconds, one microbatch's F+I+W) finite and >= 0; samples >= 0 the
 * timings behind whole_s. */
typedef struct pp_db_step_profile {
    char graph_hash[17];
    int n_ops;
    double whole_s, sum_ops_s;
    int samples;
    char measured_at[32];
    long long device_id; /* filled by get and list; put ignores it */
} pp_db_step_profile;

int pp_db_step_profile_put(pp_db *db, long long device_id, const pp_db_step_profile *s, pp_err *err);
int pp_db_step_profile_get(pp_db *db, long long device_id, const char *graph_hash, int n_ops,
                           pp_db_step_profile *out, int *found, pp_err *err);
int pp_db_step_profiles_list(pp_db *db, long long device_id, pp_db_step_profile **rows, int *n, pp_err *err);

/* The optimizer step's time per parameter on a device (gradient norm,
 * update, zeroing): optimizer ("adamw") and dtype ("f32") not empty;
 * s_per_param finite and >= 0; samples >= 0. */
typedef struct pp_db_optim_profile {
    char optimizer[32];
    char dtype[16];
    double s_per_param;
    int samples;
    char measured_at[32];
    long long device_id; /* filled by get and list; put ignores it */
} pp_db_optim_profile;

int pp_db_optim_profile_put(pp_db *db, long long device_id, const pp_db_optim_profile *o, pp_err *err);
int pp_db_optim_profile_get(pp_db *db, long long device_id, const char *optimizer, const char *dtype,
                            pp_db_optim_profile *out, int *found, pp_err *err);
int pp_db_optim_profiles_list(pp_db *db, long long device_id, pp_db_optim_profile **rows, int *n, pp_err *err);

/* A collective over n_ranks ranks fitted on a device: n bytes take
 * alpha_s + n / beta_Bps seconds. op ("allreduce") and dtype ("f32") not
 * empty; n_ranks >= 2; alpha_s, beta_Bps and residual (the fit's relative
 * RMS error) finite and >= 0, beta_Bps 0 meaning not measured; samples >= 0. */
typedef struct pp_db_collective_profile {
    char op[32];
    char dtype[16];
    int n_ranks;
    double alpha_s, beta_Bps, residual;
    int samples;
    char measured_at[32];
    long long device_id; /* filled by get and list; put ignores it */
} pp_db_collective_profile;

int pp_db_collective_profile_put(pp_db *db, long long device_id, const pp_db_collective_profile *c, pp_err *err);
int pp_db_collective_profile_get(pp_db *db, long long device_id, const char *op, const char *dtype, int n_ranks,
                                 pp_db_collective_profile *out, int *found, pp_err *err);
int pp_db_collective_profiles_list(pp_db *db, long long device_id, pp_db_collective_profile **rows, int *n,
                                   pp_err *err);

/* How many devices, op profiles and links are stored (0 each on an older
 * schema). Any pointer may be NULL. Returns 0, or -1 with err set. */
int pp_db_profile_counts(pp_db *db, int *devices, int *op_profiles, int *links, pp_err *err);

/* ---- Runs: measured training runs ----------------------------------------
 *
 * Schema version 3. A run is one `pippy run` of a plan: its setup, outcome
 * and summary numbers (pp_db_run), the loss and time of each step, the peak
 * memory and busy time of each rank, and the measured trace events of each
 * step. Steps are numbered as the training saw them (0-based, absolute): a
 * run resumed at step 100 that ran 5 steps covers steps 100..104, with
 * first_step 100 and steps 5. Deleting a run (in SQL) deletes its steps,
 * ranks and events with it.
 *
 * A loss, grad norm or final loss may be NaN (a diverged step, or a run
 * that finished no step); NaN is stored as NULL and read back as NaN.
 *
 * On a read-only open of an older database (schema < 3), the functions
 * below report no runs, nothing found and empty lists.
 */

/* A stored run. The strings are fixed buffers and must be terminated. */
typedef struct pp_db_run {
    long long id;              /* set by pp_db_run_put */
    char plan_hash[65];        /* SHA-256 hex of the plan run (need not be a stored plan) */
    char model[64];            /* model name, may be empty */
    char schedule[32];         /* schedule name, may be empty */
    char status[16];           /* "ok", "failed" or "interrupted" (stopped by a signal) */
    char message[512];         /* why it failed; "" when ok */
    char created_at[32];       /* UTC "YYYY-MM-DDTHH:MM:SSZ"; empty on put means now, set by put */
    int pp, dp, n_ranks;       /* each >= 1 */
    int global_batch, micro_batch, n_microbatches, seq_len; /* each >= 1 */
    int first_step;            /* the step the run started at (a resumed run's > 0), >= 0 */
    int steps;                 /* steps started, >= 0 (a failed run's last may be incomplete) */
    double tokens_per_s;       /* measured throughput, finite, >= 0 */
    double iteration_s;        /* median step wall time in seconds, finite, >= 0 */
    double predicted_iteration_s; /* the plan's prediction; 0 when it had none */
    double final_loss;         /* loss of the last finished step; NaN when none */
} pp_db_run;

/* One step of a run: step in [first_step, first_step + steps). loss may be
 * NaN; grad_norm NaN or >= 0; seconds (its wall time) finite and >= 0. */
typedef struct pp_db_run_step {
    int step;
    double loss, grad_norm, seconds;
} pp_db_run_step;

/* A run's ranks are pp_run_rank (core/pp_record.h): rank in [0, n_ranks),
 * host may be empty, peak_bytes >= 0 its peak memory, busy_s (compute time
 * summed over the run) finite and >= 0.
 *
 * Its measured trace events are pp_run_event (core/pp_record.h): step in
 * [first_step, first_step + steps); ev.rank in [0, n_ranks), ev.stream a
 * pp_stream, ev.action a pp_act_type, stage and mb >= -1, start and end
 * finite with end >= start (seconds, stored as given), bytes >= 0. */

/* Stores a run with its n_steps steps, n_ranks ranks and n_ev events in one
 * transaction: its own, or a savepoint inside the caller's pp_db_begin. A
 * step or rank given twice, or any value outside its contract above, is
 * refused with an error naming the field (and the index of the step, rank
 * or event); predicted_iteration_s must be finite and >= 0 (0: no
 * prediction, stored as NULL); status "failed" needs a message. The arrays
 * may be NULL when their count is 0. Sets run->id and run->created_at.
 * Returns 0, or -1 with err set and the database unchanged (run->id then 0). */
int pp_db_run_put(pp_db *db, pp_db_run *run, const pp_db_run_step *steps, int n_steps,
                  const pp_run_rank *ranks, int n_ranks, const pp_run_event *ev, long long n_ev,
                  pp_err *err);

/* All stored runs, newest first. Returns 0 with *rows (NULL when *n is 0;
 * free with free()) and *n, or -1 with err set, *rows NULL and *n 0. */
int pp_db_runs_list(pp_db *db, pp_db_run **rows, int *n, pp_err *err);

/* Looks a run up by id. Returns 0 with *found 1 and *run filled, 0 with
 * *found 0 and *run zeroed, or -1 with err set. */
int pp_db_run_get(pp_db *db, long long id, pp_db_run *run, int *found, pp_err *err);

/* The newest stored run (highest id) of the plan with plan_hash. Returns 0
 * with *found 1 and *run filled, 0 with *found 0 and *run zeroed (none),
 * or -1 with err set. */
int pp_db_run_latest_of_plan(pp_db *db, const char *plan_hash, pp_db_run *run, int *found, pp_err *err);

/* The steps of run id, by step. An unknown id has none. Returns 0 with
 * *rows (NULL when *n is 0; free with free()) and *n, or -1 with err set,
 * *rows NULL and *n 0. */
int pp_db_run_steps(pp_db *db, long long id, pp_db_run_step **rows, int *n, pp_err *err);

/* The ranks of run id, by rank; same contract as pp_db_run_steps. */
int pp_db_run_ranks(pp_db *db, long long id, pp_run_rank **rows, int *n, pp_err *err);

/* The events of run id at one step (step < 0: of all steps, by step), ordered
 * by rank, stream, start, end, then the order stored; same contract as
 * pp_db_run_steps. */
int pp_db_run_events(pp_db *db, long long id, int step, pp_run_event **rows, long long *n, pp_err *err);

/* How many events run id has (0 for an unknown id or an older schema), without
 * loading them. Returns 0, or -1 with err set. */
int pp_db_run_event_count(pp_db *db, long long id, long long *n, pp_err *err);

#endif /* PP_DB_H */
