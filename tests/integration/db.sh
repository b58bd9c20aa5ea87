#!/usr/bin/env bash
# db.sh -- `pippy db` end to end: help and usage errors, a missing database
# (reported, not created), `init`, listing as tables and as JSON, measured
# runs (`runs`, `run ID`, an unknown run), --db and PIPPY_DB, and refusal
# of a non-SQLite file and of a newer-schema database,
# both left byte for byte as they were. Rows are written with the sqlite3
# command-line shell, standing in for the commands that store them, and the
# --json output is read with SQLite's JSON functions in that same shell.
#
# Env: PIPPY_BIN, the directory holding the built pippy and pippy-* tools.
# Needs: the sqlite3 command-line shell (Debian package sqlite3), sha256sum.
set -euo pipefail

: "${PIPPY_BIN:?PIPPY_BIN must name the directory with the built pippy executables}"
PIPPY="$PIPPY_BIN/pippy"
[[ -x "$PIPPY" && -x "$PIPPY_BIN/pippy-db" ]] || { echo "FAIL: no pippy or pippy-db in $PIPPY_BIN" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "FAIL: no sqlite3 command-line shell (Debian package sqlite3)" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/pp_db_sh.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
unset PIPPY_DB

checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }

# run CMD...: stdout in $out, stderr in $errout, exit status in $rc.
run() {
    set +e
    "$@" >"$T/.out" 2>"$T/.err"
    rc=$?
    set -e
    out=$(cat "$T/.out")
    errout=$(cat "$T/.err")
}
expect_rc() { [[ $rc -eq $1 ]] || fail "$2: exit $rc, expected $1
--- stdout
$out
--- stderr
$errout"; ok; }
has() { [[ "$1" == *"$2"* ]] || fail "$3: expected '$2' in:
$1"; ok; }
lacks() { [[ "$1" != *"$2"* ]] || fail "$3: did not expect '$2' in:
$1"; ok; }
fingerprint() { sha256sum "$1" | cut -d' ' -f1; stat -c '%s %y %i' "$1"; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# sql ARGS...: the sqlite3 shell, ignoring any ~/.sqliterc, stopping at the
# first error (and then exiting non-zero).
sql() { sqlite3 -init /dev/null -batch -bail "$@"; }
# The last run's stdout as j, for the sqlite3 shell to read with its JSON
# functions (json_extract fails on, and json_valid rejects, what is not JSON).
J="(SELECT CAST(readfile('${T//\'/\'\'}/.out') AS TEXT) AS j)"
# jval PATH: the value at the JSON path PATH (e.g. '$.counts.models') in the
# last run's stdout, as SQLite's json_extract gives it; fails unless that
# stdout is valid JSON.
jval() {
    sql :memory: "SELECT json_extract(j, '$1') FROM $J" ||
        fail "json_extract($1) of:
$out"
}
# jcheck WHAT COND: COND, an SQL expression over j (the last run's stdout),
# must be true; j must be valid JSON.
jcheck() {
    local r
    r=$(sql :memory: "SELECT json_valid(j) AND ($2) FROM $J" 2>&1) || true
    [[ "$r" == 1 ]] || fail "$1: expected $2 ($r) in:
$out"
    ok
}

# ---- help and usage -------------------------------------------------------
run "$PIPPY" db --help
expect_rc 0 "pippy db --help"
has "$out" "usage: pippy db" "help"
has "$out" "--json" "help"
has "$out" "runs" "help"
has "$out" "run ID" "help"
run "$PIPPY_BIN/pippy-db" -h
expect_rc 0 "pippy-db -h"
has "$out" "usage: pippy db" "pippy-db -h"

run "$PIPPY" db --frobnicate
expect_rc 2 "unknown option"
has "$errout" "unknown option '--frobnicate'" "unknown option"
run "$PIPPY" db tables
expect_rc 2 "unknown argument"
has "$errout" "'tables'" "unknown argument"
run "$PIPPY" db --db
expect_rc 2 "--db without a path"
run "$PIPPY" db models plans
expect_rc 2 "two listings"
run "$PIPPY" db run
expect_rc 2 "run without an ID"
has "$errout" "run needs a run ID" "run without an ID"
run "$PIPPY" db run abc
expect_rc 2 "run with a non-numeric ID"
has "$errout" "'abc' is not an integer" "run with a non-numeric ID"
run "$PIPPY" db run 1 2
expect_rc 2 "run with two IDs"

# ---- a missing database is reported, never created -------------------------
run "$PIPPY" db --db "$T/none.db"
expect_rc 1 "missing --db"
has "$errout" "no database at $T/none.db" "missing --db"
[[ ! -e "$T/none.db" ]] || fail "listing created $T/none.db"; ok
run "$PIPPY" db
expect_rc 1 "missing ./pippy.db"
has "$errout" "no database at pippy.db" "missing default"
[[ ! -e pippy.db ]] || fail "listing created ./pippy.db"; ok
PIPPY_DB="$T/env-none.db" run "$PIPPY" db --json
expect_rc 1 "missing \$PIPPY_DB"
has "$errout" "no database at $T/env-none.db" "missing env"
[[ -z "$out" ]] || fail "a failed --json run printed to stdout: $out"; ok

# ---- init creates the database at the newest schema -------------------------
DB="$T/p.db"
run "$PIPPY" db --db "$DB" init
expect_rc 0 "init"
has "$out" "schema version" "init"
run "$PIPPY" db --db "$DB" --json
expect_rc 0 "json after init"
jcheck "json after init" "json_type(j, '$.schema_version_supported') = 'integer'"
SUPPORTED=$(jval '$.schema_version_supported')
[[ "$SUPPORTED" =~ ^[0-9]+$ && "$SUPPORTED" -ge 1 ]] || fail "schema_version_supported '$SUPPORTED'"; ok
schema=$(sql "$DB" "PRAGMA user_version; PRAGMA journal_mode;
    SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('models', 'plans');") ||
    fail "reading $DB after init"
[[ "$schema" == "$SUPPORTED"$'\nwal\n2' ]] || fail "schema after init: user_version, journal_mode, tables:
$schema"
ok
run "$PIPPY" db --db "$DB" init
expect_rc 0 "init again"

run "$PIPPY" db --db "$DB"
expect_rc 0 "empty listing"
has "$out" "schema version $SUPPORTED" "empty listing"
has "$out" "models: 0" "empty listing"
has "$out" "plans: 0" "empty listing"
has "$out" "op profiles: 0" "empty listing"
has "$out" "links: 0" "empty listing"
has "$out" "runs: 0" "empty listing"

# `profiles` on an empty database: zero counts, as text and as JSON.
run "$PIPPY" db --db "$DB" profiles
expect_rc 0 "empty profiles"
has "$out" "devices: 0" "empty profiles"
has "$out" "op profiles: 0" "empty profiles"
has "$out" "links: 0" "empty profiles"
lacks "$out" "models:" "empty profiles"
run "$PIPPY" db --db "$DB" --json profiles
expect_rc 0 "empty profiles json"
jcheck "empty profiles json" "json_extract(j, '$.counts.devices') = 0 AND json_extract(j, '$.counts.op_profiles') = 0
    AND json_extract(j, '$.counts.links') = 0 AND json_array_length(j, '$.op_profiles') = 0
    AND json_array_length(j, '$.links') = 0"

# `runs` on an empty database says there are none; an unknown run is an error.
run "$PIPPY" db --db "$DB" runs
expect_rc 0 "empty runs"
has "$out" "runs: 0" "empty runs"
has "$out" "none stored yet" "empty runs"
lacks "$out" "models:" "empty runs"
run "$PIPPY" db --db "$DB" --json runs
expect_rc 0 "empty runs json"
jcheck "empty runs json" "json_extract(j, '$.counts.runs') = 0 AND json_array_length(j, '$.runs') = 0
    AND (SELECT count(*) FROM json_each(j, '$.counts')) = 1"
for args in "run 42" "--json run 42"; do
    # shellcheck disable=SC2086
    run "$PIPPY" db --db "$DB" $args
    expect_rc 1 "unknown run ($args)"
    has "$errout" "no run 42" "unknown run ($args)"
    [[ -z "$out" ]] || fail "unknown run ($args) printed to stdout: $out"; ok
done

# Two runs written behind pippy's back: one resumed with a prediction, steps,
# ranks and events; one failed without a prediction or a finished step.
RDB="$T/runs.db"
cp "$DB" "$RDB"
RUN_PLAN=$(sha run-plan)
sql "$RDB" "PRAGMA foreign_keys = ON;
INSERT INTO runs (plan_hash, model, schedule, pp, dp, n_ranks, global_batch, micro_batch, n_microbatches, seq_len,
    first_step, steps, status, message, tokens_per_s, iteration_s, predicted_iteration_s, final_loss)
    VALUES ('$RUN_PLAN', 'gpt2-tiny', '1f1b', 2, 1, 2, 8, 2, 4, 64, 10, 2, 'ok', '', 4096.5, 0.25, 0.2, 3.125);
INSERT INTO run_steps (run_id, step, loss, grad_norm, seconds) VALUES (1, 10, 3.5, 1.25, 0.3), (1, 11, 3.125, NULL, 0.25);
INSERT INTO run_ranks (run_id, rank, host, peak_bytes, busy_s) VALUES (1, 0, 'node0', 123456789, 0.275),
    (1, 1, 'node1', 98765432, 0.11);
INSERT INTO run_events (run_id, step, rank, stream, action, stage, mb, start_s, end_s, bytes)
    VALUES (1, 10, 0, 0, 1, 0, 0, 0.0, 0.01, 0), (1, 10, 1, 0, 1, 1, 0, 0.01, 0.02, 0),
    (1, 11, 0, 1, 5, 0, 0, 0.01, 0.011, 4096);
INSERT INTO runs (plan_hash, model, schedule, pp, dp, n_ranks, global_batch, micro_batch, n_microbatches, seq_len,
    first_step, steps, status, message, tokens_per_s, iteration_s, predicted_iteration_s, final_loss)
    VALUES ('$RUN_PLAN', 'gpt2-tiny', 'gpipe', 1, 2, 2, 8, 4, 1, 64, 0, 1, 'failed', 'rank 1: out of memory',
    0, 0, NULL, NULL);" || fail "writing runs into $RDB"
run "$PIPPY" db --db "$RDB"
expect_rc 0 "listing with runs"
has "$out" "runs: 2" "listing counts runs"
run "$PIPPY" db --db "$RDB" runs
expect_rc 0 "runs"
has "$out" "runs: 2" "runs"
# Newest first: the failed run (id 2) before run 1.
[[ "$(printf '%s
' "$out" | grep -nE '^ +2 ' | cut -d: -f1)" -lt "$(printf '%s
' "$out" | grep -nE '^ +1 ' | cut -d: -f1)" ]] ||
    fail "runs are not newest first:
$out"
ok
run1=$(printf '%s
' "$out" | grep -E '^ +1 ')
has "$run1" "gpt2-tiny" "run 1 model"
has "$run1" "2 x 1" "run 1 pp x dp"
has "$run1" "2 from 10" "run 1 steps of a resumed run"
has "$run1" "4096.5" "run 1 tokens/s"
has "$run1" "0.2500" "run 1 iteration"
has "$run1" "0.2000" "run 1 predicted"
has "$run1" "+20.0%" "run 1 prediction error ((measured - predicted) / measured)"
has "$run1" "3.1250" "run 1 final loss"
has "$run1" " ok" "run 1 status"
run2=$(printf '%s
' "$out" | grep -E '^ +2 ')
has "$run2" "failed" "run 2 status"
lacks "$run2" "%" "run 2 has no prediction error"
run "$PIPPY" db --db "$RDB" --json runs
expect_rc 0 "runs json"
jcheck "runs json" "json_extract(j, '$.counts.runs') = 2 AND json_extract(j, '$.runs[0].id') = 2
    AND json_extract(j, '$.runs[1].id') = 1 AND json_extract(j, '$.runs[1].plan_hash') = '$RUN_PLAN'
    AND json_extract(j, '$.runs[1].first_step') = 10 AND json_extract(j, '$.runs[1].steps') = 2
    AND json_extract(j, '$.runs[1].predicted_iteration_s') = 0.2
    AND abs(json_extract(j, '$.runs[1].relative_error') - 0.2) < 1e-12
    AND json_extract(j, '$.runs[1].final_loss') = 3.125
    AND json_type(j, '$.runs[0].predicted_iteration_s') = 'null'
    AND json_type(j, '$.runs[0].relative_error') = 'null' AND json_type(j, '$.runs[0].final_loss') = 'null'
    AND json_extract(j, '$.runs[0].message') = 'rank 1: out of memory'"
run "$PIPPY" db --db "$RDB" run 1
expect_rc 0 "run 1"
has "$out" "run 1: ok" "run 1"
has "$out" "$RUN_PLAN" "run 1 plan"
has "$out" "pp 2 x dp 1 (2 ranks)" "run 1 parallel"
has "$out" "seq_len 64" "run 1 batch"
has "$out" "events       3" "run 1 event count"
has "$out" "steps: 2" "run 1 steps"
has "$out" "ranks: 2" "run 1 ranks"
has "$out" "123,456,789" "run 1 peak bytes"
has "$out" "node1" "run 1 host"
step11=$(printf '%s
' "$out" | grep -E '^ +11 ')
has "$step11" "3.125000" "step 11 loss"
has "$step11" " - " "step 11 has no grad norm"
# Busy share: 0.275 s of the steps' 0.55 s.
rank0=$(printf '%s
' "$out" | grep -E '^ +0 +node0')
has "$rank0" "50.0" "rank 0 busy share"
run "$PIPPY" db --db "$RDB" run 2
expect_rc 0 "run 2"
has "$out" "run 2: failed" "run 2"
has "$out" "message      rank 1: out of memory" "run 2 message"
has "$out" "the plan had no prediction" "run 2 prediction"
has "$out" "steps: 0" "run 2 steps"
run "$PIPPY" db --db "$RDB" --json run 1
expect_rc 0 "run 1 json"
jcheck "run 1 json" "json_extract(j, '$.run.id') = 1 AND json_extract(j, '$.event_count') = 3
    AND json_array_length(j, '$.steps') = 2 AND json_extract(j, '$.steps[0].step') = 10
    AND json_extract(j, '$.steps[1].loss') = 3.125 AND json_type(j, '$.steps[1].grad_norm') = 'null'
    AND json_array_length(j, '$.ranks') = 2 AND json_extract(j, '$.ranks[0].peak_bytes') = 123456789
    AND json_extract(j, '$.ranks[1].host') = 'node1'"
rm -f "$RDB"*

# One device, op profile and link written behind pippy's back show up.
PDB="$T/prof.db"
cp "$DB" "$PDB"
sql "$PDB" "INSERT INTO devices (fingerprint, description_json) VALUES ('$(sha box)', '{\"cpu\": \"test\"}');
INSERT INTO op_signatures (signature, kind) VALUES ('linear f32 x[4,64,768] w[2304,768] b', 'linear');
INSERT INTO op_profiles (device_id, signature_id, f_s, i_s, w_s, f_spread, i_spread, w_spread, f_samples,
    i_samples, w_samples, param_bytes, keep_f_bytes, keep_w_bytes, workspace_bytes)
    VALUES (1, 1, 0.00123, 0.0011, 0.0009, 0.00001, 0.00002, 0.00003, 20, 21, 22, 1, 2, 3, 0);
INSERT INTO links (device_id, src_rank, dst_rank, src_host, dst_host, alpha_s, beta_Bps, residual, sizes_json)
    VALUES (1, 0, 1, 'h0', 'h1', 0.000012, 1.2e10, 0.01, '[1024]');" || fail "writing profiles into $PDB"
run "$PIPPY" db --db "$PDB" profiles
expect_rc 0 "profiles"
has "$out" "op profiles: 1" "profiles"
has "$out" "linear f32 x[4,64,768] w[2304,768] b" "profile signature"
has "$out" "1230.0 ±10.0" "F median and spread in µs"
has "$out" "20/21/22" "samples"
has "$out" "0 -> 1" "link pair"
has "$out" "12.000" "link beta in GB/s"
run "$PIPPY" db --db "$PDB"
expect_rc 0 "listing with profiles"
has "$out" "op profiles: 1" "listing counts profiles"
has "$out" "links: 1" "listing counts links"
rm -f "$PDB"*

# ---- rows written behind pippy's back show up -----------------------------
GPT2_HASH=$(sha gpt2-tiny)
LLAMA_HASH=$(sha llama-7b)
PLAN_HASH=$(sha plan)
sql "$DB" "BEGIN;
INSERT INTO models (name, family, hash, n_params, config_json)
    VALUES ('gpt2-tiny', 'gpt2', '$GPT2_HASH', 1234567, '{\"n_layer\": 2}');
INSERT INTO models (name, family, hash, n_params, config_json)
    VALUES ('llama-7b', 'llama', '$LLAMA_HASH', 6738415616, '{\"n_layer\": 32}');
INSERT INTO plans (name, plan_hash, model_hash, n_ranks, schedule, plan_json)
    VALUES ('tiny-1f1b-2', '$PLAN_HASH', '$GPT2_HASH', 2, '1f1b', '{\"version\": 1}');
COMMIT;" || fail "writing rows into $DB"
before=$(fingerprint "$DB")

run "$PIPPY" db --db "$DB"
expect_rc 0 "listing"
has "$out" "models: 2" "listing"
has "$out" "plans: 1" "listing"
has "$out" "gpt2-tiny" "listing"
has "$out" "llama-7b" "listing"
has "$out" "1,234,567" "thousands separators"
has "$out" "6,738,415,616" "thousands separators"
has "$out" "${GPT2_HASH:0:12}" "short hash"
lacks "$out" "$GPT2_HASH" "short hash"
has "$out" "tiny-1f1b-2" "plan row"
has "$out" "1f1b" "plan schedule"
has "$out" "${PLAN_HASH:0:12}" "plan hash"
# The plan row names its model.
plan_line=$(printf '%s\n' "$out" | grep 'tiny-1f1b-2')
has "$plan_line" "gpt2-tiny" "plan's model"

run "$PIPPY" db --db "$DB" models
expect_rc 0 "models only"
has "$out" "models: 2" "models only"
lacks "$out" "plans:" "models only"
run "$PIPPY" db --db="$DB" plans
expect_rc 0 "plans only"
has "$out" "plans: 1" "plans only"
lacks "$out" "models:" "plans only"

run "$PIPPY" db --db "$DB" --json
expect_rc 0 "json"
jcheck "json schema version" "json_extract(j, '$.schema_version') = json_extract(j, '$.schema_version_supported')
    AND json_extract(j, '$.schema_version_supported') >= 1"
jcheck "json counts" "(SELECT count(*) FROM json_each(j, '$.counts')) = 6 AND json_extract(j, '$.counts.runs') = 0
    AND json_extract(j, '$.counts.models') = 2 AND json_extract(j, '$.counts.plans') = 1
    AND json_extract(j, '$.counts.op_profiles') = 0 AND json_extract(j, '$.counts.links') = 0"
# model NAME: that model's row in the listing.
model() { printf "(SELECT value FROM json_each(j, '\$.models') WHERE json_extract(value, '\$.name') = '%s')" "$1"; }
jcheck "json gpt2-tiny" "json_extract($(model gpt2-tiny), '$.n_params') = 1234567
    AND json_extract($(model gpt2-tiny), '$.family') = 'gpt2'
    AND json_extract($(model gpt2-tiny), '$.hash') = '$GPT2_HASH'
    AND json_type($(model gpt2-tiny), '$.created_at') = 'text'
    AND length(json_extract($(model gpt2-tiny), '$.created_at')) = 20"
jcheck "json llama-7b" "json_extract($(model llama-7b), '$.n_params') = 6738415616"
jcheck "json plan" "json_extract(j, '$.plans[0].name') = 'tiny-1f1b-2'
    AND json_extract(j, '$.plans[0].n_ranks') = 2
    AND json_extract(j, '$.plans[0].schedule') = '1f1b'
    AND json_extract(j, '$.plans[0].model_name') = 'gpt2-tiny'
    AND json_extract(j, '$.plans[0].plan_hash') = '$PLAN_HASH'"
run "$PIPPY" db --db "$DB" --json plans
expect_rc 0 "json plans"
jcheck "json plans only" "json_type(j, '$.models') IS NULL
    AND (SELECT count(*) FROM json_each(j, '$.counts')) = 1 AND json_extract(j, '$.counts.plans') = 1"

# --db, else PIPPY_DB, else ./pippy.db.
PIPPY_DB="$DB" run "$PIPPY" db
expect_rc 0 "PIPPY_DB"
has "$out" "models: 2" "PIPPY_DB"
PIPPY_DB="$T/none.db" run "$PIPPY" db --db "$DB"
expect_rc 0 "--db over PIPPY_DB"
has "$out" "models: 2" "--db over PIPPY_DB"
cp "$DB" "$T/pippy.db"
run "$PIPPY" db models
expect_rc 0 "./pippy.db"
has "$out" "models: 2" "./pippy.db"
rm -f "$T"/pippy.db*

# Listing never writes the database file.
after=$(fingerprint "$DB")
[[ "$before" == "$after" ]] || fail "listing changed $DB: $before -> $after"; ok

# An older database (here an empty file, schema version 0) is listed as it
# is: listing does not migrate it, only init does.
OLD="$T/old.db"
: >"$OLD"
run "$PIPPY" db --db "$OLD"
expect_rc 0 "old database"
has "$out" "schema version 0" "old database"
has "$out" "models: 0" "old database"
has "$out" "runs: 0" "old database"
run "$PIPPY" db --db "$OLD" runs
expect_rc 0 "old database runs"
has "$out" "runs: 0" "old database runs"
run "$PIPPY" db --db "$OLD" run 1
expect_rc 1 "old database run 1"
has "$errout" "no run 1" "old database run 1"
[[ ! -s "$OLD" ]] || fail "listing migrated $OLD"; ok
run "$PIPPY" db --db "$OLD" init
expect_rc 0 "init old database"
run "$PIPPY" db --db "$OLD" --json
has "$out" "\"schema_version\": $SUPPORTED" "init migrated the old database"

# ---- files pippy must refuse and leave alone --------------------------------
NOTDB="$T/notes.txt"
for i in $(seq 1 30); do echo "line $i: not a database"; done >"$NOTDB"
before=$(fingerprint "$NOTDB")
for args in "" "init"; do
    # shellcheck disable=SC2086
    run "$PIPPY" db --db "$NOTDB" $args
    expect_rc 1 "non-database ($args)"
    has "$errout" "$NOTDB" "non-database names the file"
    has "$errout" "not an SQLite database" "non-database"
done
[[ "$(fingerprint "$NOTDB")" == "$before" ]] || fail "$NOTDB was changed"; ok

NEWER="$T/newer.db"
sql "$NEWER" "CREATE TABLE future (x INTEGER); INSERT INTO future VALUES (42); PRAGMA user_version = 7;" ||
    fail "writing $NEWER"
before=$(fingerprint "$NEWER")
sleep 0.05
for args in "" "--json" "init" "models"; do
    # shellcheck disable=SC2086
    run "$PIPPY" db --db "$NEWER" $args
    expect_rc 1 "newer schema ($args)"
    has "$errout" "$NEWER: schema version 7 is newer than this pippy understands ($SUPPORTED); use a newer pippy" \
        "newer schema ($args)"
done
[[ "$(fingerprint "$NEWER")" == "$before" ]] || fail "$NEWER was changed"; ok
[[ ! -e "$NEWER-wal" && ! -e "$NEWER-shm" && ! -e "$NEWER-journal" ]] || fail "side files appeared beside $NEWER"; ok
newer=$(sql "$NEWER" "PRAGMA user_version; SELECT x FROM future;") || fail "reading $NEWER"
[[ "$newer" == $'7\n42' ]] || fail "$NEWER content changed: $newer"
ok

echo "db.sh: $checks checks passed"
