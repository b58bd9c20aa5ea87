/*
 * pp_db_schema.c -- the schema of pippy's database as its history: the
 * ordered forward migrations, migration i taking a database from schema
 * version i to i + 1. pp_db.c runs them (one BEGIN IMMEDIATE transaction
 * each, with the PRAGMA user_version bump); this file holds only the SQL.
 */
#include "db/pp_db_int.h"

/* ---- Migrations ----------------------------------------------------------
 *
 * migrations[i] takes the schema from version i to version i + 1. The
 * runner executes it and sets PRAGMA user_version = i + 1 in the same
 * BEGIN IMMEDIATE transaction.
 *
 * To change the schema, APPEND a new script and raise PP_DB_SCHEMA_VERSION
 * in pp_db.h to the new array length (a static assert below keeps the two
 * in step). Never edit or reorder a migration that has been committed:
 * databases out there have already run it. A script must not contain
 * BEGIN/COMMIT or set user_version itself.
 */
static const char *const migrations[] = {
    /* 1: models and plans. */
    "CREATE TABLE models (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    name        TEXT    NOT NULL CHECK (length(name) > 0),\n"
    "    family      TEXT    NOT NULL CHECK (length(family) > 0),\n"
    "    hash        TEXT    NOT NULL UNIQUE\n"
    "                        CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),\n"
    "    n_params    INTEGER NOT NULL CHECK (n_params >= 0),\n"
    "    config_json TEXT    NOT NULL CHECK (json_valid(config_json)),\n"
    "    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "CREATE INDEX models_by_name ON models (name);\n"
    "CREATE TABLE plans (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    name        TEXT    NOT NULL CHECK (length(name) > 0),\n"
    "    plan_hash   TEXT    NOT NULL UNIQUE\n"
    "                        CHECK (length(plan_hash) = 64 AND plan_hash NOT GLOB '*[^0-9a-f]*'),\n"
    "    model_hash  TEXT    NOT NULL REFERENCES models (hash),\n"
    "    n_ranks     INTEGER NOT NULL CHECK (n_ranks >= 1),\n"
    "    schedule    TEXT    NOT NULL CHECK (length(schedule) > 0),\n"
    "    plan_json   TEXT    NOT NULL CHECK (json_valid(plan_json)),\n"
    "    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "CREATE INDEX plans_by_model ON plans (model_hash);\n"
    "CREATE INDEX plans_by_name ON plans (name);\n"
    "PRAGMA application_id = 1346981968;\n", /* PP_DB_APPLICATION_ID */
    /* 2: profiles -- devices, op signatures, op timings, links. */
    "CREATE TABLE devices (\n"
    "    id               INTEGER PRIMARY KEY,\n"
    "    fingerprint      TEXT    NOT NULL UNIQUE\n"
    "                             CHECK (length(fingerprint) = 64 AND fingerprint NOT GLOB '*[^0-9a-f]*'),\n"
    "    description_json TEXT    NOT NULL CHECK (json_valid(description_json)),\n"
    "    created_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "CREATE TABLE op_signatures (\n"
    "    id        INTEGER PRIMARY KEY,\n"
    "    signature TEXT    NOT NULL UNIQUE CHECK (length(signature) > 0),\n"
    "    kind      TEXT    NOT NULL CHECK (length(kind) > 0)\n"
    ") STRICT;\n"
    "CREATE INDEX op_signatures_by_kind ON op_signatures (kind);\n"
    "CREATE TABLE op_profiles (\n"
    "    id              INTEGER PRIMARY KEY,\n"
    "    device_id       INTEGER NOT NULL REFERENCES devices (id),\n"
    "    signature_id    INTEGER NOT NULL REFERENCES op_signatures (id),\n"
    "    f_s             REAL    NOT NULL CHECK (f_s >= 0),\n"
    "    i_s             REAL    NOT NULL CHECK (i_s >= 0),\n"
    "    w_s             REAL    NOT NULL CHECK (w_s >= 0),\n"
    "    f_spread        REAL    NOT NULL CHECK (f_spread >= 0),\n"
    "    i_spread        REAL    NOT NULL CHECK (i_spread >= 0),\n"
    "    w_spread        REAL    NOT NULL CHECK (w_spread >= 0),\n"
    "    f_samples       INTEGER NOT NULL CHECK (f_samples >= 0),\n"
    "    i_samples       INTEGER NOT NULL CHECK (i_samples >= 0),\n"
    "    w_samples       INTEGER NOT NULL CHECK (w_samples >= 0),\n"
    "    param_bytes     INTEGER NOT NULL CHECK (param_bytes >= 0),\n"
    "    keep_f_bytes    INTEGER NOT NULL CHECK (keep_f_bytes >= 0),\n"
    "    keep_w_bytes    INTEGER NOT NULL CHECK (keep_w_bytes >= 0),\n"
    "    workspace_bytes INTEGER NOT NULL CHECK (workspace_bytes >= 0),\n"
    "    measured_at     TEXT    NOT NULL CHECK (length(measured_at) > 0)\n"
    "                            DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),\n"
    "    UNIQUE (device_id, signature_id)\n"
    ") STRICT;\n"
    "CREATE INDEX op_profiles_by_signature ON op_profiles (signature_id);\n"
    "CREATE TABLE links (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    device_id   INTEGER NOT NULL REFERENCES devices (id),\n"
    "    src_rank    INTEGER NOT NULL CHECK (src_rank >= 0),\n"
    "    dst_rank    INTEGER NOT NULL CHECK (dst_rank >= 0),\n"
    "    src_host    TEXT    NOT NULL,\n"
    "    dst_host    TEXT    NOT NULL,\n"
    "    alpha_s     REAL    NOT NULL CHECK (alpha_s >= 0),\n"
    "    beta_Bps    REAL    NOT NULL CHECK (beta_Bps >= 0),\n"
    "    residual    REAL    NOT NULL CHECK (residual >= 0),\n"
    "    sizes_json  TEXT    NOT NULL CHECK (json_valid(sizes_json)),\n"
    "    measured_at TEXT    NOT NULL CHECK (length(measured_at) > 0)\n"
    "                        DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),\n"
    "    UNIQUE (device_id, src_rank, dst_rank, src_host, dst_host)\n"
    ") STRICT;\n",
    /* 3: measured training runs -- runs, their steps, ranks and trace events. */
    "CREATE TABLE runs (\n"
    "    id                    INTEGER PRIMARY KEY,\n"
    "    plan_hash             TEXT    NOT NULL\n"
    "                                  CHECK (length(plan_hash) = 64 AND plan_hash NOT GLOB '*[^0-9a-f]*'),\n"
    "    model                 TEXT    NOT NULL,\n"
    "    schedule              TEXT    NOT NULL,\n"
    "    pp                    INTEGER NOT NULL CHECK (pp >= 1),\n"
    "    dp                    INTEGER NOT NULL CHECK (dp >= 1),\n"
    "    n_ranks               INTEGER NOT NULL CHECK (n_ranks >= 1),\n"
    "    global_batch          INTEGER NOT NULL CHECK (global_batch >= 1),\n"
    "    micro_batch           INTEGER NOT NULL CHECK (micro_batch >= 1),\n"
    "    n_microbatches        INTEGER NOT NULL CHECK (n_microbatches >= 1),\n"
    "    seq_len               INTEGER NOT NULL CHECK (seq_len >= 1),\n"
    "    first_step            INTEGER NOT NULL CHECK (first_step >= 0),\n"
    "    steps                 INTEGER NOT NULL CHECK (steps >= 0),\n"
    "    status                TEXT    NOT NULL CHECK (status IN ('ok', 'failed')),\n"
    "    message               TEXT    NOT NULL DEFAULT '',\n"
    "    tokens_per_s          REAL    NOT NULL CHECK (tokens_per_s >= 0),\n"
    "    iteration_s           REAL    NOT NULL CHECK (iteration_s >= 0),\n"
    "    predicted_iteration_s REAL    CHECK (predicted_iteration_s > 0),\n" /* NULL: no prediction */
    "    final_loss            REAL,\n"                                      /* NULL: NaN or no step */
    "    created_at            TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "CREATE INDEX runs_by_plan ON runs (plan_hash);\n"
    "CREATE TABLE run_steps (\n"
    "    run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    step      INTEGER NOT NULL CHECK (step >= 0),\n"
    "    loss      REAL,\n"                                     /* NULL: NaN */
    "    grad_norm REAL    CHECK (grad_norm >= 0),\n"           /* NULL: NaN */
    "    seconds   REAL    NOT NULL CHECK (seconds >= 0),\n"
    "    PRIMARY KEY (run_id, step)\n"
    ") STRICT;\n"
    "CREATE TABLE run_ranks (\n"
    "    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    rank       INTEGER NOT NULL CHECK (rank >= 0),\n"
    "    host       TEXT    NOT NULL,\n"
    "    peak_bytes INTEGER NOT NULL CHECK (peak_bytes >= 0),\n"
    "    busy_s     REAL    NOT NULL CHECK (busy_s >= 0),\n"
    "    PRIMARY KEY (run_id, rank)\n"
    ") STRICT;\n"
    "CREATE TABLE run_events (\n"
    "    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "    step    INTEGER NOT NULL CHECK (step >= 0),\n"
    "    rank    INTEGER NOT NULL CHECK (rank >= 0),\n"
    "    stream  INTEGER NOT NULL CHECK (stream >= 0),\n"       /* pp_stream */
    "    action  INTEGER NOT NULL CHECK (action >= 0),\n"       /* pp_act_type */
    "    stage   INTEGER NOT NULL CHECK (stage >= -1),\n"
    "    mb      INTEGER NOT NULL CHECK (mb >= -1),\n"
    "    start_s REAL    NOT NULL,\n"
    "    end_s   REAL    NOT NULL CHECK (end_s >= start_s),\n"
    "    bytes   INTEGER NOT NULL CHECK (bytes >= 0)\n"
    ") STRICT;\n"
    "CREATE INDEX run_events_by_step ON run_events (run_id, step, rank);\n",
    /* 4: a run can be stored as interrupted (a signal stopped it). SQLite
     * cannot change a CHECK in place: the table is rebuilt, its rows copied
     * (the runner turns foreign keys off around migrations, so dropping the
     * old table cascades to nothing, and checks them before committing). */
    "CREATE TABLE runs_v4 (\n"
    "    id                    INTEGER PRIMARY KEY,\n"
    "    plan_hash             TEXT    NOT NULL\n"
    "                                  CHECK (length(plan_hash) = 64 AND plan_hash NOT GLOB '*[^0-9a-f]*'),\n"
    "    model                 TEXT    NOT NULL,\n"
    "    schedule              TEXT    NOT NULL,\n"
    "    pp                    INTEGER NOT NULL CHECK (pp >= 1),\n"
    "    dp                    INTEGER NOT NULL CHECK (dp >= 1),\n"
    "    n_ranks               INTEGER NOT NULL CHECK (n_ranks >= 1),\n"
    "    global_batch          INTEGER NOT NULL CHECK (global_batch >= 1),\n"
    "    micro_batch           INTEGER NOT NULL CHECK (micro_batch >= 1),\n"
    "    n_microbatches        INTEGER NOT NULL CHECK (n_microbatches >= 1),\n"
    "    seq_len               INTEGER NOT NULL CHECK (seq_len >= 1),\n"
    "    first_step            INTEGER NOT NULL CHECK (first_step >= 0),\n"
    "    steps                 INTEGER NOT NULL CHECK (steps >= 0),\n"
    "    status                TEXT    NOT NULL CHECK (status IN ('ok', 'failed', 'interrupted')),\n"
    "    message               TEXT    NOT NULL DEFAULT '',\n"
    "    tokens_per_s          REAL    NOT NULL CHECK (tokens_per_s >= 0),\n"
    "    iteration_s           REAL    NOT NULL CHECK (iteration_s >= 0),\n"
    "    predicted_iteration_s REAL    CHECK (predicted_iteration_s > 0),\n" /* NULL: no prediction */
    "    final_loss            REAL,\n"                                      /* NULL: NaN or no step */
    "    created_at            TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
    ") STRICT;\n"
    "INSERT INTO runs_v4 SELECT * FROM runs;\n"
    "DROP TABLE runs;\n"
    "ALTER TABLE runs_v4 RENAME TO runs;\n"
    "CREATE INDEX runs_by_plan ON runs (plan_hash);\n",
    /* 5: whole steps, the optimizer and collectives get tables of their own,
     * keyed by device; their pseudo-rows move out of op_profiles (and their
     * signatures out of op_signatures) in this same transaction. */
    "CREATE TABLE step_profiles (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    device_id   INTEGER NOT NULL REFERENCES devices (id),\n"
    "    graph_hash  TEXT    NOT NULL\n"
    "                        CHECK (length(graph_hash) = 16 AND graph_hash NOT GLOB '*[^0-9a-f]*'),\n"
    "    n_ops       INTEGER NOT NULL CHECK (n_ops >= 1),\n"
    "    whole_s     REAL    NOT NULL CHECK (whole_s >= 0),\n"
    "    sum_ops_s   REAL    NOT NULL CHECK (sum_ops_s >= 0),\n"
    "    samples     INTEGER NOT NULL CHECK (samples >= 0),\n"
    "    measured_at TEXT    NOT NULL CHECK (length(measured_at) > 0)\n"
    "                        DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),\n"
    "    UNIQUE (device_id, graph_hash, n_ops)\n"
    ") STRICT;\n"
    "CREATE TABLE optim_profiles (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    device_id   INTEGER NOT NULL REFERENCES devices (id),\n"
    "    optimizer   TEXT    NOT NULL CHECK (length(optimizer) > 0),\n"
    "    dtype       TEXT    NOT NULL CHECK (length(dtype) > 0),\n"
    "    s_per_param REAL    NOT NULL CHECK (s_per_param >= 0),\n"
    "    samples     INTEGER NOT NULL CHECK (samples >= 0),\n"
    "    measured_at TEXT    NOT NULL CHECK (length(measured_at) > 0)\n"
    "                        DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),\n"
    "    UNIQUE (device_id, optimizer, dtype)\n"
    ") STRICT;\n"
    "CREATE TABLE collective_profiles (\n"
    "    id          INTEGER PRIMARY KEY,\n"
    "    device_id   INTEGER NOT NULL REFERENCES devices (id),\n"
    "    op          TEXT    NOT NULL CHECK (length(op) > 0),\n"
    "    dtype       TEXT    NOT NULL CHECK (length(dtype) > 0),\n"
    "    n_ranks     INTEGER NOT NULL CHECK (n_ranks >= 2),\n"
    "    alpha_s     REAL    NOT NULL CHECK (alpha_s >= 0),\n"
    "    beta_Bps    REAL    NOT NULL CHECK (beta_Bps >= 0),\n"
    "    residual    REAL    NOT NULL CHECK (residual >= 0),\n"
    "    samples     INTEGER NOT NULL CHECK (samples >= 0),\n"
    "    measured_at TEXT    NOT NULL CHECK (length(measured_at) > 0)\n"
    "                        DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),\n"
    "    UNIQUE (device_id, op, dtype, n_ranks)\n"
    ") STRICT;\n"
    "INSERT INTO step_profiles (device_id, graph_hash, n_ops, whole_s, sum_ops_s, samples, measured_at)\n"
    "    SELECT device_id, graph_hash, n_ops, whole_s, sum_ops_s, samples, measured_at FROM (" V4_STEP_ROWS
    ") ORDER BY id;\n"
    "INSERT INTO optim_profiles (device_id, optimizer, dtype, s_per_param, samples, measured_at)\n"
    "    SELECT device_id, optimizer, dtype, s_per_param, samples, measured_at FROM (" V4_OPTIM_ROWS
    ") ORDER BY id;\n"
    "INSERT INTO collective_profiles (device_id, op, dtype, n_ranks, alpha_s, beta_Bps, residual, samples, "
    "measured_at)\n"
    "    SELECT device_id, op, dtype, n_ranks, alpha_s, beta_Bps, residual, samples, measured_at FROM ("
    V4_COLLECTIVE_ROWS ") ORDER BY id;\n"
    "DELETE FROM op_profiles WHERE id IN (SELECT p.id " V4_PSEUDO_FROM "WHERE " V4_IS_PSEUDO ");\n"
    "DELETE FROM op_signatures WHERE id IN (SELECT s.id FROM op_signatures s WHERE " V4_IS_PSEUDO ")\n"
    "    AND id NOT IN (SELECT signature_id FROM op_profiles);\n",
    /* Append migration 6 here. */
};

_Static_assert(sizeof migrations / sizeof migrations[0] == PP_DB_SCHEMA_VERSION,
               "PP_DB_SCHEMA_VERSION must equal the number of migrations");
_Static_assert(PP_DB_APPLICATION_ID == 1346981968, "migration 1 writes PP_DB_APPLICATION_ID");

const char *pp_dbi_migration(int v) {
    return v >= 0 && v < PP_DB_SCHEMA_VERSION ? migrations[v] : NULL;
}
