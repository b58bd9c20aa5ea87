#!/usr/bin/env bash
# model.sh -- `pippy model` on every preset prints exactly the published
# parameter count; --json, --ops and --dot work; the model is recorded in
# the database once per config; bad arguments exit 2 with a message.
source "$(dirname "$0")/lib.bash"

declare -A published=(
  [gpt2-124m]=124,439,808 [gpt2-355m]=354,823,168 [gpt2-774m]=774,030,080 [gpt2-1558m]=1,557,611,200
  [llama2-7b]=6,738,415,616 [llama2-13b]=13,015,864,320 [llama2-70b]=68,976,648,192
  [bert-base]=109,482,240 [bert-large]=335,141,888 [t5-base]=222,903,552 [t5-large]=737,668,096
)
for m in "${!published[@]}"; do
  run "$PIPPY" model "$m" --seq 128
  expect_rc 0
  expect_out "model $m ("
  expect_out ": ${published[$m]} parameters"
  grep -qE "^total +[0-9]+ +${published[$m]} " <<<"$out" || fail "$m: total row lacks ${published[$m]}"
  ok
done

for m in gpt2-tiny llama-tiny bert-tiny t5-tiny; do
  run "$PIPPY" model "$m" --micro-batch 2 --json --no-db
  expect_rc 0
  expect_out "\"name\": \"$m\""
  expect_out "\"blocks\": ["
done

# The tied embedding is reported.
run "$PIPPY" model gpt2-124m
expect_out "wte.weight (38,597,376 elements): embed head"
# T5's encoder output crosses every decoder cut: decoder.0 sends residual + encoder output.
run "$PIPPY" model t5-tiny --no-db --micro-batch 1 --seq 64
grep -qE "^decoder\.0 .* 16\.00 KiB$" <<<"$out" || fail "t5-tiny decoder.0 should send 16 KiB: $out"
ok

# A file path works like a preset; --ops prints every op.
run "$PIPPY" model "$PP_SOURCE_DIR/configs/models/llama-tiny.json" --ops --no-db
expect_rc 0
expect_out "layers.0.self_attn.rope"
# --dot writes a Graphviz graph.
run "$PIPPY" model bert-tiny --dot "$T/g.dot" --no-db
expect_rc 0
grep -q "digraph pippy" "$T/g.dot" || fail "no dot output"
ok

# Recorded in the database, once per config hash.
run "$PIPPY" db
expect_rc 0
expect_out "gpt2-124m"
run "$PIPPY" db --json models
n=$(grep -c '"name": "gpt2-124m"' <<<"$out" || true)
[ "$n" -eq 1 ] || fail "gpt2-124m stored $n times"
ok

# Usage errors.
run "$PIPPY" model
expect_rc 2
expect_err "missing CONFIG"
run "$PIPPY" model gpt2-tiny --seq 0
expect_rc 2
expect_err "--seq: 0 is out of range"
run "$PIPPY" model gpt2-tiny --seq 65 --no-db
expect_rc 1
expect_err "exceeds its 64 positions"
run "$PIPPY" model no-such-model
expect_rc 1
expect_err "presets: bert-base"
run "$PIPPY" model gpt2-tiny --dtype f64
expect_rc 2
expect_err "--dtype: 'f64'"
run "$PIPPY" model --help
expect_rc 0
expect_out "usage: pippy model"
finish
