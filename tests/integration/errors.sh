#!/usr/bin/env bash
# errors.sh -- malformed inputs get a message naming the file, line, column
# and field, and a non-zero exit: a model config, a plan, a schedule CSV,
# a cluster spec and a trace.
source "$(dirname "$0")/lib.bash"
cd "$T"

# Model config: a string where a number belongs.
cat >bad-model.json <<'JSON'
{
  "name": "bad",
  "family": "gpt2",
  "vocab_size": 256,
  "n_positions": 64,
  "d_model": "sixty-four",
  "n_layer": 2,
  "n_head": 4,
  "d_ff": 256
}
JSON
run "$PIPPY" model bad-model.json
expect_rc 1
expect_err "bad-model.json:6:14: field 'd_model': expected an integer in [1, 1048576], got \"sixty-four\""
# ... and a field of another family.
sed 's/"d_model": "sixty-four"/"d_model": 64, "n_kv_head": 2/' bad-model.json >bad-model2.json
run "$PIPPY" check bad-model2.json
expect_rc 1
expect_err "field 'n_kv_head': does not apply to family 'gpt2'"

# Plan: a schedule cell naming a stage that lives on another rank.
sed 's/"0F1"/"1F1"/' "$PP_SOURCE_DIR/tests/data/plan-gpt2-tiny-pp2.json" >bad-plan.json
run "$PIPPY" check bad-plan.json
expect_rc 1
expect_err "bad-plan.json:70:15: field 'schedule.table[0][1]': stage 1 is on rank 1, not on rank 0 whose row this is"
# ... and an edited model config under an old hash.
sed 's/"n_layer": 4/"n_layer": 3/' "$PP_SOURCE_DIR/tests/data/plan-gpt2-tiny-pp2.json" >bad-plan2.json
run "$PIPPY" check bad-plan2.json
expect_rc 1
expect_err "field 'model.hash': does not match the model config"
# The good plan passes.
run "$PIPPY" check "$PP_SOURCE_DIR/tests/data/plan-gpt2-tiny-pp2.json"
expect_rc 0
expect_out "ok: plan: gpt2-tiny, pp 2 x dp 1 (2 stages), schedule gpipe"

# Schedule CSV: an unknown action type.
printf '0F0,0F1,0B0,0B1\n1F0,1Q1,1B0,1B1\n' >bad.csv
run "$PIPPY" check bad.csv
expect_rc 1
expect_err "bad.csv:2:2: cell '1Q1'"
# ... and a legacy table with a current-only cell.
printf '0F0,0BW0,0I1\n' >bad2.csv
run "$PIPPY" schedule show bad2.csv
expect_rc 1
expect_err "bad2.csv:1:3: cell '0I1'"

# Cluster spec: unknown device type.
printf '{"name": "c", "hosts": [{"name": "h", "devices": [{"type": "tpu", "memory_gib": 16}]}]}\n' >bad-cluster.json
run "$PIPPY" check bad-cluster.json
expect_rc 1
expect_err "bad-cluster.json:1:60: field 'hosts[0].devices[0].type': unknown value \"tpu\""

# JSON syntax error.
printf '{"name": "m",\n "family": gpt2}\n' >syntax.json
run "$PIPPY" model syntax.json
expect_rc 1
expect_err "syntax.json:2:12: unexpected character 'g'"

# A file that is not there.
run "$PIPPY" check nowhere.json
expect_rc 1
expect_err "nowhere.json: cannot open"
finish
