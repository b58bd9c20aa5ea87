/*
 * pp_db_profiles.c -- what was measured on a device (see pp_db.h): the
 * devices, op signatures and op profiles, links, and (schema 5) the
 * whole-step, optimizer and collective records.
 */
#include "db/pp_db_int.h"

#include <stdlib.h>

#include "core/pp_hash.h"

/* ---- Profiles: devices, op signatures, op profiles, links ------------------ */

/* Fails unless the device id names a stored device. Inside a transaction. */
static int device_exists(pp_db *db, long long device_id, const char *what, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT 1 FROM devices WHERE id = ?1", -1, &st, NULL), "storing %s", what);
    DB_CHECK(sqlite3_bind_int64(st, 1, device_id), "storing %s", what);
    DB_CHECK(sqlite3_step(st), "storing %s", what);
    if (rc != SQLITE_ROW)
        DB_FAIL(PP_ERR_INVALID, "storing %s: device %lld is not stored; store the device first", what, device_id);
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

void pp_db_device_rows_free(pp_db_device *rows, int n) {
    if (!rows) return;
    for (int i = 0; i < n; i++) free(rows[i].description_json);
    free(rows);
}

int pp_db_device_put(pp_db *db, const char *fingerprint, const char *description_json, long long *id,
                     pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    long long row_id = 0;
    if (!pp_sha256_hex_valid(fingerprint))
        DB_FAIL(PP_ERR_INVALID, "storing a device: fingerprint '%s' is not 64 lowercase hex digits",
                fingerprint ? fingerprint : "(null)");
    if (!description_json) DB_FAIL(PP_ERR_INVALID, "storing device %.12s: no description JSON", fingerprint);

    /* A device seen before keeps its id and takes the new description. */
    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    DB_CHECK(sqlite3_prepare_v2(db->h,
                                "INSERT INTO devices (fingerprint, description_json) VALUES (?1, ?2)\n"
                                "ON CONFLICT (fingerprint) DO UPDATE SET description_json = excluded.description_json\n"
                                "RETURNING id",
                                -1, &st, NULL),
             "storing device %.12s", fingerprint);
    DB_CHECK(sqlite3_bind_text(st, 1, fingerprint, -1, SQLITE_STATIC), "storing device %.12s", fingerprint);
    DB_CHECK(sqlite3_bind_text(st, 2, description_json, -1, SQLITE_STATIC), "storing device %.12s", fingerprint);
    DB_CHECK(sqlite3_step(st), "storing device %.12s", fingerprint);
    row_id = sqlite3_column_int64(st, 0);
    DB_CHECK(sqlite3_step(st), "storing device %.12s", fingerprint);
    sqlite3_finalize(st);
    st = NULL;
    began = 0;
    if (pp_db_commit(db, err)) goto cleanup;
    if (id) *id = row_id;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    if (began) pp_db_rollback(db, NULL);
    return ret;
}

static int device_fill(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    pp_db_device *d = row;
    d->id = sqlite3_column_int64(st, 0);
    col_hash(st, 1, d->fingerprint);
    col_copy(st, 3, d->created_at, sizeof d->created_at);
    return pp_dbi_col_dup(db, st, 2, &d->description_json, err);
}

static void device_clear(void *row) { free(((pp_db_device *)row)->description_json); }

int pp_db_devices_list(pp_db *db, pp_db_device **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < PROFILES_SINCE) return 0;
    return pp_dbi_rows_int(db, "SELECT id, fingerprint, description_json, created_at FROM devices ORDER BY id", NULL, 0,
                           sizeof **rows, device_fill, device_clear, (void **)rows, n, "listing devices", err);
}

/* The id of signature, stored with kind if new; refuses a known signature
 * stored with another kind. Inside a transaction. */
static int signature_id(pp_db *db, const char *signature, const char *kind, long long *out, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;
    DB_CHECK(sqlite3_prepare_v2(db->h, "SELECT id, kind FROM op_signatures WHERE signature = ?1", -1, &st, NULL),
             "storing op signature '%s'", signature);
    DB_CHECK(sqlite3_bind_text(st, 1, signature, -1, SQLITE_STATIC), "storing op signature '%s'", signature);
    DB_CHECK(sqlite3_step(st), "storing op signature '%s'", signature);
    if (rc == SQLITE_ROW) {
        if (strcmp(col_str(st, 1), kind) != 0)
            DB_FAIL(PP_ERR_INVALID,
                    "storing op signature '%s': already stored with kind '%s', not '%s'; refusing the "
                    "inconsistent profile",
                    signature, col_str(st, 1), kind);
        *out = sqlite3_column_int64(st, 0);
    } else {
        sqlite3_finalize(st);
        st = NULL;
        DB_CHECK(sqlite3_prepare_v2(db->h, "INSERT INTO op_signatures (signature, kind) VALUES (?1, ?2)", -1, &st,
                                    NULL),
                 "storing op signature '%s'", signature);
        DB_CHECK(sqlite3_bind_text(st, 1, signature, -1, SQLITE_STATIC), "storing op signature '%s'", signature);
        DB_CHECK(sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC), "storing op signature '%s'", signature);
        DB_CHECK(sqlite3_step(st), "storing op signature '%s'", signature);
        *out = sqlite3_last_insert_rowid(db->h);
    }
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}

int pp_db_op_profile_put(pp_db *db, long long device_id, const pp_db_op_profile *p, pp_err *err) {
    static const char pass[3] = {'F', 'I', 'W'};
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    long long sig_id = 0;
    if (!p) DB_FAIL(PP_ERR_INVALID, "storing an op profile: no profile");
    if (!fits(p->signature, sizeof p->signature) || !p->signature[0])
        DB_FAIL(PP_ERR_INVALID, "storing an op profile: the signature is empty or not terminated");
    const char *sig = p->signature;
    if (!fits(p->kind, sizeof p->kind) || !p->kind[0])
        DB_FAIL(PP_ERR_INVALID, "storing op profile '%s': the kind is empty or not terminated", sig);
    if (!strcmp(p->kind, "step") || !strcmp(p->kind, "optim") || !strcmp(p->kind, "allreduce"))
        DB_FAIL(PP_ERR_INVALID,
                "storing op profile '%s': kind '%s' is not an op; whole steps, the optimizer and collectives have "
                "tables of their own (pp_db_step_profile_put, pp_db_optim_profile_put, "
                "pp_db_collective_profile_put)",
                sig, p->kind);
    if (!fits(p->measured_at, sizeof p->measured_at))
        DB_FAIL(PP_ERR_INVALID, "storing op profile '%s': measured_at is not terminated", sig);
    for (int k = 0; k < 3; k++) {
        if (!nonneg_finite(p->m.t[k]) || !nonneg_finite(p->m.spread[k]) || p->m.samples[k] < 0)
            DB_FAIL(PP_ERR_INVALID,
                    "storing op profile '%s': %c time %g s, spread %g s, %d samples: each must be finite and >= 0",
                    sig, pass[k], p->m.t[k], p->m.spread[k], p->m.samples[k]);
    }
    if (p->m.param_bytes < 0 || p->m.keep_f_bytes < 0 || p->m.keep_w_bytes < 0 || p->m.workspace_bytes < 0)
        DB_FAIL(PP_ERR_INVALID, "storing op profile '%s': a byte count is negative", sig);

    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    if (device_exists(db, device_id, "an op profile", err) || signature_id(db, sig, p->kind, &sig_id, err))
        goto cleanup;
    DB_CHECK(sqlite3_prepare_v2(
                 db->h,
                 "INSERT INTO op_profiles (device_id, signature_id, f_s, i_s, w_s, f_spread, i_spread, w_spread, "
                 "f_samples, i_samples, w_samples, param_bytes, keep_f_bytes, keep_w_bytes, workspace_bytes, "
                 "measured_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                 "coalesce(nullif(?16, ''), " UTC_NOW_SQL "))\n"
                 "ON CONFLICT (device_id, signature_id) DO UPDATE SET f_s = excluded.f_s, i_s = excluded.i_s, "
                 "w_s = excluded.w_s, f_spread = excluded.f_spread, i_spread = excluded.i_spread, "
                 "w_spread = excluded.w_spread, f_samples = excluded.f_samples, i_samples = excluded.i_samples, "
                 "w_samples = excluded.w_samples, param_bytes = excluded.param_bytes, "
                 "keep_f_bytes = excluded.keep_f_bytes, keep_w_bytes = excluded.keep_w_bytes, "
                 "workspace_bytes = excluded.workspace_bytes, measured_at = excluded.measured_at",
                 -1, &st, NULL),
             "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_int64(st, 1, device_id), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_int64(st, 2, sig_id), "storing op profile '%s'", sig);
    for (int k = 0; k < 3; k++) {
        DB_CHECK(sqlite3_bind_double(st, 3 + k, p->m.t[k]), "storing op profile '%s'", sig);
        DB_CHECK(sqlite3_bind_double(st, 6 + k, p->m.spread[k]), "storing op profile '%s'", sig);
        DB_CHECK(sqlite3_bind_int(st, 9 + k, p->m.samples[k]), "storing op profile '%s'", sig);
    }
    DB_CHECK(sqlite3_bind_int64(st, 12, p->m.param_bytes), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_int64(st, 13, p->m.keep_f_bytes), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_int64(st, 14, p->m.keep_w_bytes), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_int64(st, 15, p->m.workspace_bytes), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_bind_text(st, 16, p->measured_at, -1, SQLITE_STATIC), "storing op profile '%s'", sig);
    DB_CHECK(sqlite3_step(st), "storing op profile '%s'", sig);
    sqlite3_finalize(st);
    st = NULL;
    began = 0;
    if (pp_db_commit(db, err)) goto cleanup;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    if (began) pp_db_rollback(db, NULL);
    return ret;
}

#define PROFILE_SELECT                                                                                        \
    "SELECT p.device_id, s.signature, s.kind, p.f_s, p.i_s, p.w_s, p.f_spread, p.i_spread, p.w_spread, "     \
    "p.f_samples, p.i_samples, p.w_samples, p.param_bytes, p.keep_f_bytes, p.keep_w_bytes, "                  \
    "p.workspace_bytes, p.measured_at FROM op_profiles p JOIN op_signatures s ON s.id = p.signature_id "

static int profile_fill(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    (void)db;
    (void)err;
    pp_db_op_profile *r = row;
    r->device_id = sqlite3_column_int64(st, 0);
    col_copy(st, 1, r->signature, sizeof r->signature);
    col_copy(st, 2, r->kind, sizeof r->kind);
    for (int k = 0; k < 3; k++) {
        r->m.t[k] = sqlite3_column_double(st, 3 + k);
        r->m.spread[k] = sqlite3_column_double(st, 6 + k);
        r->m.samples[k] = sqlite3_column_int(st, 9 + k);
    }
    r->m.param_bytes = sqlite3_column_int64(st, 12);
    r->m.keep_f_bytes = sqlite3_column_int64(st, 13);
    r->m.keep_w_bytes = sqlite3_column_int64(st, 14);
    r->m.workspace_bytes = sqlite3_column_int64(st, 15);
    col_copy(st, 16, r->measured_at, sizeof r->measured_at);
    return 0;
}

int pp_db_op_profile_get(pp_db *db, long long device_id, const char *signature, pp_db_op_profile *out,
                         int *found, pp_err *err) {
    int ret = -1;
    memset(out, 0, sizeof *out);
    *found = 0;
    if (!signature) DB_FAIL(PP_ERR_INVALID, "looking up an op profile: no signature");
    if (db->version < PROFILES_SINCE) return 0;
    char what[600];
    snprintf(what, sizeof what, "looking up op profile '%.512s'", signature);
    pp_dbi_bind b[2] = {DBI_INT(device_id), DBI_TEXT(signature)};
    ret = pp_dbi_row(db,
                     db->version < PSEUDO_TABLES_SINCE
                         ? PROFILE_SELECT "WHERE p.device_id = ?1 AND s.signature = ?2 AND NOT " V4_IS_PSEUDO
                         : PROFILE_SELECT "WHERE p.device_id = ?1 AND s.signature = ?2",
                     b, 2, sizeof *out, profile_fill, out, found, what, err);
cleanup:
    return ret;
}

int pp_db_op_profiles_list(pp_db *db, long long device_id, pp_db_op_profile **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < PROFILES_SINCE) return 0;
    pp_dbi_bind b = DBI_INT(device_id);
    return pp_dbi_rows_int(db,
                           db->version < PSEUDO_TABLES_SINCE
                               ? PROFILE_SELECT "WHERE (?1 <= 0 OR p.device_id = ?1) AND NOT " V4_IS_PSEUDO
                                                " ORDER BY p.device_id, p.id"
                               : PROFILE_SELECT "WHERE ?1 <= 0 OR p.device_id = ?1 ORDER BY p.device_id, p.id",
                           &b, 1, sizeof **rows, profile_fill, NULL, (void **)rows, n, "listing op profiles", err);
}

void pp_db_op_profiles_free(pp_db_op_profile *rows) { free(rows); }

int pp_db_link_put(pp_db *db, long long device_id, const pp_db_link *l, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    if (!l) DB_FAIL(PP_ERR_INVALID, "storing a link: no link");
    if (!fits(l->src_host, sizeof l->src_host) || !fits(l->dst_host, sizeof l->dst_host) ||
        !fits(l->sizes_json, sizeof l->sizes_json) || !fits(l->measured_at, sizeof l->measured_at))
        DB_FAIL(PP_ERR_INVALID, "storing link %d -> %d: a text field is not terminated", l->src_rank, l->dst_rank);
    if (l->src_rank < 0 || l->dst_rank < 0)
        DB_FAIL(PP_ERR_INVALID, "storing link %d -> %d: a rank is negative", l->src_rank, l->dst_rank);
    if (!nonneg_finite(l->alpha_s) || !nonneg_finite(l->beta_Bps) || !nonneg_finite(l->residual))
        DB_FAIL(PP_ERR_INVALID,
                "storing link %d -> %d: alpha %g s, beta %g B/s, residual %g: each must be finite and >= 0",
                l->src_rank, l->dst_rank, l->alpha_s, l->beta_Bps, l->residual);

    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    if (device_exists(db, device_id, "a link", err)) goto cleanup;
    DB_CHECK(sqlite3_prepare_v2(db->h,
                                "INSERT INTO links (device_id, src_rank, dst_rank, src_host, dst_host, alpha_s, "
                                "beta_Bps, residual, sizes_json, measured_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                                "?8, coalesce(nullif(?9, ''), '[]'), coalesce(nullif(?10, ''), " UTC_NOW_SQL "))\n"
                                "ON CONFLICT (device_id, src_rank, dst_rank, src_host, dst_host) DO UPDATE SET "
                                "alpha_s = excluded.alpha_s, beta_Bps = excluded.beta_Bps, "
                                "residual = excluded.residual, sizes_json = excluded.sizes_json, "
                                "measured_at = excluded.measured_at",
                                -1, &st, NULL),
             "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_int64(st, 1, device_id), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_int(st, 2, l->src_rank), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_int(st, 3, l->dst_rank), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_text(st, 4, l->src_host, -1, SQLITE_STATIC), "storing link %d -> %d", l->src_rank,
             l->dst_rank);
    DB_CHECK(sqlite3_bind_text(st, 5, l->dst_host, -1, SQLITE_STATIC), "storing link %d -> %d", l->src_rank,
             l->dst_rank);
    DB_CHECK(sqlite3_bind_double(st, 6, l->alpha_s), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_double(st, 7, l->beta_Bps), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_double(st, 8, l->residual), "storing link %d -> %d", l->src_rank, l->dst_rank);
    DB_CHECK(sqlite3_bind_text(st, 9, l->sizes_json, -1, SQLITE_STATIC), "storing link %d -> %d", l->src_rank,
             l->dst_rank);
    DB_CHECK(sqlite3_bind_text(st, 10, l->measured_at, -1, SQLITE_STATIC), "storing link %d -> %d", l->src_rank,
             l->dst_rank);
    DB_CHECK(sqlite3_step(st), "storing link %d -> %d", l->src_rank, l->dst_rank);
    sqlite3_finalize(st);
    st = NULL;
    began = 0;
    if (pp_db_commit(db, err)) goto cleanup;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    if (began) pp_db_rollback(db, NULL);
    return ret;
}

static int link_fill(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    (void)db;
    (void)err;
    pp_db_link *r = row;
    r->device_id = sqlite3_column_int64(st, 0);
    r->src_rank = sqlite3_column_int(st, 1);
    r->dst_rank = sqlite3_column_int(st, 2);
    col_copy(st, 3, r->src_host, sizeof r->src_host);
    col_copy(st, 4, r->dst_host, sizeof r->dst_host);
    r->alpha_s = sqlite3_column_double(st, 5);
    r->beta_Bps = sqlite3_column_double(st, 6);
    r->residual = sqlite3_column_double(st, 7);
    col_copy(st, 8, r->sizes_json, sizeof r->sizes_json);
    col_copy(st, 9, r->measured_at, sizeof r->measured_at);
    return 0;
}

int pp_db_links_list(pp_db *db, long long device_id, pp_db_link **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < PROFILES_SINCE) return 0;
    pp_dbi_bind b = DBI_INT(device_id);
    return pp_dbi_rows_int(db,
                           "SELECT device_id, src_rank, dst_rank, src_host, dst_host, alpha_s, beta_Bps, "
                           "residual, sizes_json, measured_at FROM links WHERE ?1 <= 0 OR device_id = ?1 "
                           "ORDER BY device_id, src_rank, dst_rank, src_host, dst_host",
                           &b, 1, sizeof **rows, link_fill, NULL, (void **)rows, n, "listing links", err);
}

void pp_db_links_free(pp_db_link *rows) { free(rows); }

int pp_db_profile_counts(pp_db *db, int *devices, int *op_profiles, int *links, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, v[3] = {0, 0, 0};
    if (db->version >= PROFILES_SINCE) {
        DB_CHECK(sqlite3_prepare_v2(db->h,
                                    db->version < PSEUDO_TABLES_SINCE
                                        ? "SELECT (SELECT count(*) FROM devices), (SELECT count(*) " V4_PSEUDO_FROM
                                          "WHERE NOT " V4_IS_PSEUDO "), (SELECT count(*) FROM links)"
                                        : "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM op_profiles), "
                                          "(SELECT count(*) FROM links)",
                                    -1, &st, NULL),
                 "counting profiles");
        DB_CHECK(sqlite3_step(st), "counting profiles");
        if (rc != SQLITE_ROW) DB_FAIL(PP_ERR_DB, "counting profiles: no result");
        for (int i = 0; i < 3; i++) v[i] = sqlite3_column_int(st, i);
    }
    if (devices) *devices = v[0];
    if (op_profiles) *op_profiles = v[1];
    if (links) *links = v[2];
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    return ret;
}


/* ---- Whole steps, the optimizer, collectives ------------------------------ */

/* Runs sql (an INSERT ... ON CONFLICT of one device's record: ?1 the device,
 * ?2.. vals) after checking the device, in its own transaction or inside
 * the caller's. */
static int put_record(pp_db *db, long long device_id, const char *sql, const pp_dbi_bind *vals, int n,
                      const char *what, pp_err *err) {
    sqlite3_stmt *st = NULL;
    int rc, ret = -1, began = 0;
    if (pp_db_begin(db, err)) goto cleanup;
    began = 1;
    if (device_exists(db, device_id, what, err)) goto cleanup;
    DB_CHECK(sqlite3_prepare_v2(db->h, sql, -1, &st, NULL), "storing %s", what);
    DB_CHECK(sqlite3_bind_int64(st, 1, device_id), "storing %s", what);
    DB_CHECK(pp_dbi_bind_all(st, 2, vals, n), "storing %s", what);
    DB_CHECK(sqlite3_step(st), "storing %s", what);
    sqlite3_finalize(st);
    st = NULL;
    began = 0;
    if (pp_db_commit(db, err)) goto cleanup;
    ret = 0;
cleanup:
    sqlite3_finalize(st);
    if (began) pp_db_rollback(db, NULL);
    return ret;
}

/* A text field that must be terminated and not empty. */
static int text_ok(const char *buf, size_t size) { return fits(buf, size) && buf[0]; }

#define STEP_COLS "SELECT device_id, graph_hash, n_ops, whole_s, sum_ops_s, samples, measured_at "
#define STEP_FROM(tail) (db->version < PSEUDO_TABLES_SINCE ? STEP_COLS "FROM (" V4_STEP_ROWS ") " tail \
                                                            : STEP_COLS "FROM step_profiles " tail)

static int step_fill(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    (void)db;
    (void)err;
    pp_db_step_profile *r = row;
    r->device_id = sqlite3_column_int64(st, 0);
    col_copy(st, 1, r->graph_hash, sizeof r->graph_hash);
    r->n_ops = sqlite3_column_int(st, 2);
    r->whole_s = sqlite3_column_double(st, 3);
    r->sum_ops_s = sqlite3_column_double(st, 4);
    r->samples = sqlite3_column_int(st, 5);
    col_copy(st, 6, r->measured_at, sizeof r->measured_at);
    return 0;
}

int pp_db_step_profile_put(pp_db *db, long long device_id, const pp_db_step_profile *s, pp_err *err) {
    int ret = -1;
    if (!s) DB_FAIL(PP_ERR_INVALID, "storing a step profile: no profile");
    if (!fits(s->graph_hash, sizeof s->graph_hash) || strlen(s->graph_hash) != 16 ||
        strspn(s->graph_hash, "0123456789abcdef") != 16)
        DB_FAIL(PP_ERR_INVALID, "storing a step profile: graph_hash is not 16 lowercase hex digits");
    const char *h = s->graph_hash;
    if (s->n_ops < 1) DB_FAIL(PP_ERR_INVALID, "storing step profile %s: n_ops %d is below 1", h, s->n_ops);
    if (!nonneg_finite(s->whole_s))
        DB_FAIL(PP_ERR_INVALID, "storing step profile %s (%d ops): whole_s %g must be finite and >= 0", h, s->n_ops,
                s->whole_s);
    if (!nonneg_finite(s->sum_ops_s))
        DB_FAIL(PP_ERR_INVALID, "storing step profile %s (%d ops): sum_ops_s %g must be finite and >= 0", h,
                s->n_ops, s->sum_ops_s);
    if (s->samples < 0)
        DB_FAIL(PP_ERR_INVALID, "storing step profile %s (%d ops): samples %d is negative", h, s->n_ops, s->samples);
    if (!fits(s->measured_at, sizeof s->measured_at))
        DB_FAIL(PP_ERR_INVALID, "storing step profile %s (%d ops): measured_at is not terminated", h, s->n_ops);
    char what[96];
    snprintf(what, sizeof what, "step profile %s (%d ops)", h, s->n_ops);
    pp_dbi_bind v[] = {DBI_TEXT(h), DBI_INT(s->n_ops), DBI_REAL(s->whole_s), DBI_REAL(s->sum_ops_s),
                       DBI_INT(s->samples), DBI_TEXT(s->measured_at)};
    ret = put_record(db, device_id,
                     "INSERT INTO step_profiles (device_id, graph_hash, n_ops, whole_s, sum_ops_s, samples, "
                     "measured_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, coalesce(nullif(?7, ''), " UTC_NOW_SQL "))\n"
                     "ON CONFLICT (device_id, graph_hash, n_ops) DO UPDATE SET whole_s = excluded.whole_s, "
                     "sum_ops_s = excluded.sum_ops_s, samples = excluded.samples, measured_at = excluded.measured_at",
                     v, (int)(sizeof v / sizeof v[0]), what, err);
cleanup:
    return ret;
}

int pp_db_step_profile_get(pp_db *db, long long device_id, const char *graph_hash, int n_ops,
                           pp_db_step_profile *out, int *found, pp_err *err) {
    int ret = -1;
    memset(out, 0, sizeof *out);
    *found = 0;
    if (!graph_hash) DB_FAIL(PP_ERR_INVALID, "looking up a step profile: no graph hash");
    if (db->version < PROFILES_SINCE) return 0;
    char what[96];
    snprintf(what, sizeof what, "looking up step profile %.16s (%d ops)", graph_hash, n_ops);
    pp_dbi_bind b[] = {DBI_INT(device_id), DBI_TEXT(graph_hash), DBI_INT(n_ops)};
    ret = pp_dbi_row(db, STEP_FROM("WHERE device_id = ?1 AND graph_hash = ?2 AND n_ops = ?3"), b, 3, sizeof *out,
                     step_fill, out, found, what, err);
cleanup:
    return ret;
}

int pp_db_step_profiles_list(pp_db *db, long long device_id, pp_db_step_profile **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < PROFILES_SINCE) return 0;
    pp_dbi_bind b = DBI_INT(device_id);
    return pp_dbi_rows_int(db, STEP_FROM("WHERE ?1 <= 0 OR device_id = ?1 ORDER BY device_id, id"), &b, 1,
                           sizeof **rows, step_fill, NULL, (void **)rows, n, "listing step profiles", err);
}

#define OPTIM_COLS "SELECT device_id, optimizer, dtype, s_per_param, samples, measured_at "
#define OPTIM_FROM(tail) (db->version < PSEUDO_TABLES_SINCE ? OPTIM_COLS "FROM (" V4_OPTIM_ROWS ") " tail \
                                                             : OPTIM_COLS "FROM optim_profiles " tail)

static int optim_fill(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    (void)db;
    (void)err;
    pp_db_optim_profile *r = row;
    r->device_id = sqlite3_column_int64(st, 0);
    col_copy(st, 1, r->optimizer, sizeof r->optimizer);
    col_copy(st, 2, r->dtype, sizeof r->dtype);
    r->s_per_param = sqlite3_column_double(st, 3);
    r->samples = sqlite3_column_int(st, 4);
    col_copy(st, 5, r->measured_at, sizeof r->measured_at);
    return 0;
}

int pp_db_optim_profile_put(pp_db *db, long long device_id, const pp_db_optim_profile *o, pp_err *err) {
    int ret = -1;
    if (!o) DB_FAIL(PP_ERR_INVALID, "storing an optimizer profile: no profile");
    if (!text_ok(o->optimizer, sizeof o->optimizer))
        DB_FAIL(PP_ERR_INVALID, "storing an optimizer profile: optimizer is empty or not terminated");
    if (!text_ok(o->dtype, sizeof o->dtype))
        DB_FAIL(PP_ERR_INVALID, "storing optimizer profile '%s': dtype is empty or not terminated", o->optimizer);
    if (!nonneg_finite(o->s_per_param))
        DB_FAIL(PP_ERR_INVALID, "storing optimizer profile '%s' %s: s_per_param %g must be finite and >= 0",
                o->optimizer, o->dtype, o->s_per_param);
    if (o->samples < 0)
        DB_FAIL(PP_ERR_INVALID, "storing optimizer profile '%s' %s: samples %d is negative", o->optimizer, o->dtype,
                o->samples);
    if (!fits(o->measured_at, sizeof o->measured_at))
        DB_FAIL(PP_ERR_INVALID, "storing optimizer profile '%s' %s: measured_at is not terminated", o->optimizer,
                o->dtype);
    char what[96];
    snprintf(what, sizeof what, "optimizer profile '%s' %s", o->optimizer, o->dtype);
    pp_dbi_bind v[] = {DBI_TEXT(o->optimizer), DBI_TEXT(o->dtype), DBI_REAL(o->s_per_param), DBI_INT(o->samples),
                       DBI_TEXT(o->measured_at)};
    ret = put_record(db, device_id,
                     "INSERT INTO optim_profiles (device_id, optimizer, dtype, s_per_param, samples, measured_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, coalesce(nullif(?6, ''), " UTC_NOW_SQL "))\n"
                     "ON CONFLICT (device_id, optimizer, dtype) DO UPDATE SET s_per_param = excluded.s_per_param, "
                     "samples = excluded.samples, measured_at = excluded.measured_at",
                     v, (int)(sizeof v / sizeof v[0]), what, err);
cleanup:
    return ret;
}

int pp_db_optim_profile_get(pp_db *db, long long device_id, const char *optimizer, const char *dtype,
                            pp_db_optim_profile *out, int *found, pp_err *err) {
    int ret = -1;
    memset(out, 0, sizeof *out);
    *found = 0;
    if (!optimizer || !dtype) DB_FAIL(PP_ERR_INVALID, "looking up an optimizer profile: no optimizer or dtype");
    if (db->version < PROFILES_SINCE) return 0;
    char what[128];
    snprintf(what, sizeof what, "looking up optimizer profile '%.32s' %.16s", optimizer, dtype);
    pp_dbi_bind b[] = {DBI_INT(device_id), DBI_TEXT(optimizer), DBI_TEXT(dtype)};
    ret = pp_dbi_row(db, OPTIM_FROM("WHERE device_id = ?1 AND optimizer = ?2 AND dtype = ?3"), b, 3, sizeof *out,
                     optim_fill, out, found, what, err);
cleanup:
    return ret;
}

int pp_db_optim_profiles_list(pp_db *db, long long device_id, pp_db_optim_profile **rows, int *n, pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < PROFILES_SINCE) return 0;
    pp_dbi_bind b = DBI_INT(device_id);
    return pp_dbi_rows_int(db, OPTIM_FROM("WHERE ?1 <= 0 OR device_id = ?1 ORDER BY device_id, id"), &b, 1,
                           sizeof **rows, optim_fill, NULL, (void **)rows, n, "listing optimizer profiles", err);
}

#define COLL_COLS "SELECT device_id, op, dtype, n_ranks, alpha_s, beta_Bps, residual, samples, measured_at "
#define COLL_FROM(tail) (db->version < PSEUDO_TABLES_SINCE ? COLL_COLS "FROM (" V4_COLLECTIVE_ROWS ") " tail \
                                                            : COLL_COLS "FROM collective_profiles " tail)

static int coll_fill(const pp_db *db, sqlite3_stmt *st, void *row, pp_err *err) {
    (void)db;
    (void)err;
    pp_db_collective_profile *r = row;
    r->device_id = sqlite3_column_int64(st, 0);
    col_copy(st, 1, r->op, sizeof r->op);
    col_copy(st, 2, r->dtype, sizeof r->dtype);
    r->n_ranks = sqlite3_column_int(st, 3);
    r->alpha_s = sqlite3_column_double(st, 4);
    r->beta_Bps = sqlite3_column_double(st, 5);
    r->residual = sqlite3_column_double(st, 6);
    r->samples = sqlite3_column_int(st, 7);
    col_copy(st, 8, r->measured_at, sizeof r->measured_at);
    return 0;
}

int pp_db_collective_profile_put(pp_db *db, long long device_id, const pp_db_collective_profile *c, pp_err *err) {
    int ret = -1;
    if (!c) DB_FAIL(PP_ERR_INVALID, "storing a collective profile: no profile");
    if (!text_ok(c->op, sizeof c->op))
        DB_FAIL(PP_ERR_INVALID, "storing a collective profile: op is empty or not terminated");
    if (!text_ok(c->dtype, sizeof c->dtype))
        DB_FAIL(PP_ERR_INVALID, "storing collective profile '%s': dtype is empty or not terminated", c->op);
    if (c->n_ranks < 2)
        DB_FAIL(PP_ERR_INVALID, "storing collective profile '%s' %s: n_ranks %d is below 2", c->op, c->dtype,
                c->n_ranks);
    const struct {
        const char *name;
        double v;
    } nums[] = {{"alpha_s", c->alpha_s}, {"beta_Bps", c->beta_Bps}, {"residual", c->residual}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (!nonneg_finite(nums[i].v))
            DB_FAIL(PP_ERR_INVALID, "storing collective profile '%s' %s over %d ranks: %s %g must be finite and >= 0",
                    c->op, c->dtype, c->n_ranks, nums[i].name, nums[i].v);
    if (c->samples < 0)
        DB_FAIL(PP_ERR_INVALID, "storing collective profile '%s' %s over %d ranks: samples %d is negative", c->op,
                c->dtype, c->n_ranks, c->samples);
    if (!fits(c->measured_at, sizeof c->measured_at))
        DB_FAIL(PP_ERR_INVALID, "storing collective profile '%s' %s over %d ranks: measured_at is not terminated",
                c->op, c->dtype, c->n_ranks);
    char what[128];
    snprintf(what, sizeof what, "collective profile '%s' %s over %d ranks", c->op, c->dtype, c->n_ranks);
    pp_dbi_bind v[] = {DBI_TEXT(c->op),       DBI_TEXT(c->dtype),    DBI_INT(c->n_ranks),
                       DBI_REAL(c->alpha_s),  DBI_REAL(c->beta_Bps), DBI_REAL(c->residual),
                       DBI_INT(c->samples),   DBI_TEXT(c->measured_at)};
    ret = put_record(db, device_id,
                     "INSERT INTO collective_profiles (device_id, op, dtype, n_ranks, alpha_s, beta_Bps, residual, "
                     "samples, measured_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                     "coalesce(nullif(?9, ''), " UTC_NOW_SQL "))\n"
                     "ON CONFLICT (device_id, op, dtype, n_ranks) DO UPDATE SET alpha_s = excluded.alpha_s, "
                     "beta_Bps = excluded.beta_Bps, residual = excluded.residual, samples = excluded.samples, "
                     "measured_at = excluded.measured_at",
                     v, (int)(sizeof v / sizeof v[0]), what, err);
cleanup:
    return ret;
}

int pp_db_collective_profile_get(pp_db *db, long long device_id, const char *op, const char *dtype, int n_ranks,
                                 pp_db_collective_profile *out, int *found, pp_err *err) {
    int ret = -1;
    memset(out, 0, sizeof *out);
    *found = 0;
    if (!op || !dtype) DB_FAIL(PP_ERR_INVALID, "looking up a collective profile: no op or dtype");
    if (db->version < PROFILES_SINCE) return 0;
    char what[128];
    snprintf(what, sizeof what, "looking up collective profile '%.32s' %.16s over %d ranks", op, dtype, n_ranks);
    pp_dbi_bind b[] = {DBI_INT(device_id), DBI_TEXT(op), DBI_TEXT(dtype), DBI_INT(n_ranks)};
    ret = pp_dbi_row(db, COLL_FROM("WHERE device_id = ?1 AND op = ?2 AND dtype = ?3 AND n_ranks = ?4"), b, 4,
                     sizeof *out, coll_fill, out, found, what, err);
cleanup:
    return ret;
}

int pp_db_collective_profiles_list(pp_db *db, long long device_id, pp_db_collective_profile **rows, int *n,
                                   pp_err *err) {
    *rows = NULL;
    *n = 0;
    if (db->version < PROFILES_SINCE) return 0;
    pp_dbi_bind b = DBI_INT(device_id);
    return pp_dbi_rows_int(db, COLL_FROM("WHERE ?1 <= 0 OR device_id = ?1 ORDER BY device_id, id"), &b, 1,
                           sizeof **rows, coll_fill, NULL, (void **)rows, n, "listing collective profiles", err);
}
