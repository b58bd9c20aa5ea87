#!/usr/bin/env bash
# model_scale.sh -- `pippy model` at the documented maximum of 10,000 layers
# (n_layer, and n_decoder_layer for T5) builds the graph and prints it, as a
# table, as JSON, per op and in Graphviz form, each within a generous
# `timeout 30` (linear work: about a second on a laptop; a name lookup or
# a per-block query that scans the whole graph makes it minutes). The
# figures are checked against the closed forms of the family: the op and
# block counts, the parameter count, and the bytes a cut after a block
# sends.
source "$(dirname "$0")/lib.bash"
command -v timeout >/dev/null || { echo "skipped: no timeout(1) (coreutils)"; exit 77; }
cd "$T"

N=10000
# GPT-2 with D = 32, F = 128, V = 256, 64 positions. Per layer 10 ops, and
# the parameters of ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc and
# mlp.c_proj; the embedding (wte, wpe) and the head (ln_f, the tied lm_head)
# add 3 ops and 2 blocks.
cat >gpt2-big.json <<EOF
{"name": "gpt2-big", "family": "gpt2", "vocab_size": 256, "n_positions": 64, "d_model": 32,
 "n_layer": $N, "n_head": 4, "d_ff": 128, "seq_len": 64}
EOF
D=32 F=128 V=256 P=64
per_layer=$((2 * D + 3 * D * D + 3 * D + D * D + D + 2 * D + F * D + F + D * F + D))
params=$((V * D + P * D + N * per_layer + 2 * D))

run timeout 30 "$PIPPY" model gpt2-big.json
expect_rc 0
expect_out "model gpt2-big (gpt2): "
expect_out "$N layers"
grep -qE "^total +$((10 * N + 3)) " <<<"$out" || fail "total row lacks $((10 * N + 3)) ops: $(tail -n 3 <<<"$out")"
ok
# The last layer's row: 10 ops, and a cut after it sends the residual
# stream, 1 x 64 x 32 f32 = 8 KiB.
grep -qE "^h\.$((N - 1)) +10 .* 8\.00 KiB$" <<<"$out" || fail "no row for h.$((N - 1)) sending 8 KiB: $(grep "^h\.$((N - 1)) " <<<"$out")"
ok
expect_out "wte.weight (8,192 elements): embed head"

run timeout 30 "$PIPPY" model gpt2-big.json --json --no-db
expect_rc 0
cat >"$T/want.sql" <<EOF
SELECT json_extract(j, '\$.n_ops') = $((10 * N + 3))
   AND json_array_length(json_extract(j, '\$.blocks')) = $((N + 2))
   AND json_extract(j, '\$.total.params') = $params
   AND json_extract(j, '\$.blocks[$N].name') = 'h.$((N - 1))'
   AND json_extract(j, '\$.blocks[$N].first_op') = $((10 * N - 9))
   AND json_extract(j, '\$.blocks[$N].end_op') = $((10 * N + 1))
   AND json_extract(j, '\$.blocks[$N].cut_bytes') = 8192
   AND json_extract(j, '\$.tied_params[0].name') = 'wte.weight'
FROM (SELECT CAST(readfile('$T/.out') AS TEXT) AS j);
EOF
if command -v sqlite3 >/dev/null; then
  [ "$(sqlite3 -init /dev/null -batch :memory: <"$T/want.sql")" = 1 ] ||
    fail "--json at $N layers: counts, parameters or the last block are wrong"
  ok
fi

run timeout 30 "$PIPPY" model gpt2-big.json --ops --no-db
expect_rc 0
expect_out "h.$((N - 1)).mlp.c_proj"
run timeout 30 "$PIPPY" model gpt2-big.json --no-db --dot big.dot
expect_rc 0
[ "$(grep -c '^  subgraph cluster_' big.dot)" -eq $((N + 2)) ] || fail "--dot: expected $((N + 2)) clusters"
ok

# T5 at the maximum of both stacks: 20,000 blocks with the encoder output
# read by every decoder layer (a skip connection across 10,000 cuts).
cat >t5-big.json <<EOF
{"name": "t5-big", "family": "t5", "vocab_size": 256, "d_model": 32, "n_layer": $N, "n_decoder_layer": $N,
 "n_head": 4, "d_ff": 64, "seq_len": 16}
EOF
run timeout 30 "$PIPPY" model t5-big.json --no-db
expect_rc 0
expect_out "$N encoder + $N decoder layers"
# A cut inside the decoder sends the residual and the encoder output: 2 x 1 x 16 x 32 f32.
grep -qE "^decoder\.$((N / 2)) .* 4\.00 KiB$" <<<"$out" || fail "decoder.$((N / 2)) should send 4 KiB"
ok
finish
