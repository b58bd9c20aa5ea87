#!/usr/bin/env bash
# readers.sh -- hostile input to the JSON readers is refused with exit 1 and
# its position, not a crash: a cluster spec whose hosts x devices overflows
# an int (alone, and inside a plan given to check, sim and run), names with
# bytes that are not UTF-8 or with \u0000, and model configs too large to
# count.
source "$(dirname "$0")/lib.bash"
cd "$T"

# Cluster spec: 65536 hosts x 65537 devices.
printf '{"name":"big","hosts":[{"name":"h","count":65536,"devices":[{"type":"gpu","model":"x","count":65537,"memory_gib":80}]}]}\n' >big.json
run "$PIPPY" check --kind cluster big.json
expect_rc 1
expect_err "big.json:1:44: field 'hosts[0].count': 65536 hosts x 65537 devices each = 4295032832 devices; a cluster spec may have at most 1048576 devices"
# ... at the bound it is read.
printf '{"name":"edge","hosts":[{"name":"h","count":1024,"devices":[{"type":"gpu","count":1024,"memory_gib":80}]}]}\n' >edge.json
run "$PIPPY" check edge.json
expect_rc 0
expect_out "cluster spec: edge, 1024 hosts, 1048576 devices"

# The same spec inside a plan: check, sim --plan and run --plan refuse it.
sed -e 's/"name": "localhost",/"name": "localhost", "count": 65536,/' -e 's/"count": 2,/"count": 65537,/' \
  "$PP_SOURCE_DIR/tests/data/plan-gpt2-tiny-pp2.json" >big-plan.json
want="big-plan.json:24:39: field 'cluster.hosts[0].count': 65536 hosts x 65537 devices each"
run "$PIPPY" check big-plan.json
expect_rc 1
expect_err "$want"
run "$PIPPY" sim --plan big-plan.json
expect_rc 1
expect_err "$want"
run timeout 60 "$PIPPY" run --plan big-plan.json --steps 1
expect_rc 1
expect_err "$want"

# A model name with a 0xff byte, and one with \u0000 (which cut it short).
sed 's/"gpt2-tiny"/"gpt2-\xfftiny"/' "$PP_SOURCE_DIR/configs/models/gpt2-tiny.json" >ff.json
run "$PIPPY" check ff.json
expect_rc 1
expect_err "ff.json:2:17: invalid UTF-8 in string (byte 0xff)"
sed 's/"gpt2-tiny"/"gpt2-\\u0000tiny"/' "$PP_SOURCE_DIR/configs/models/gpt2-tiny.json" >nul.json
run "$PIPPY" model nul.json
expect_rc 1
expect_err "nul.json:2:17: \\u0000 (NUL) is not allowed in strings"
# ... nothing of either reached the database.
if [ -e "$PIPPY_DB" ]; then
  run sqlite3 "$PIPPY_DB" "SELECT count(*) FROM models"
  [ "$out" = "0" ] || fail "a refused model was stored: $out"
  ok
fi
# An overlong '/' (0xc0 0xaf) in a cluster's host name, and an encoded
# surrogate (0xed 0xa0 0x80) in a device model.
printf '{"name":"c","hosts":[{"name":"a\xc0\xafb","devices":[{"type":"cpu","memory_gib":1}]}]}\n' >overlong.json
run "$PIPPY" check overlong.json
expect_rc 1
expect_err "overlong.json:1:32: invalid UTF-8 in string (byte 0xc0)"
printf '{"name":"c","hosts":[{"name":"a","devices":[{"type":"cpu","model":"\xed\xa0\x80","memory_gib":1}]}]}\n' >surr.json
run "$PIPPY" check surr.json
expect_rc 1
expect_err "surr.json:1:68: invalid UTF-8 in string (byte 0xed)"
# Model configs the builder cannot count: a head_dim derived beyond its
# range (it would not read back), and more parameters than an int64 holds
# (printed negative before).
printf '{"name":"wide","family":"gpt2","vocab_size":10000000,"d_model":1048576,"n_layer":1,"n_head":1,"d_ff":4194304,"n_positions":4194304}\n' >wide.json
run "$PIPPY" check wide.json
expect_rc 1
expect_err "wide.json:1:93: field 'n_head': d_model 1048576 / n_head 1 = head_dim 1048576, above 65536"
printf '{"name":"huge","family":"llama","vocab_size":10000000,"d_model":1048576,"n_layer":10000,"n_head":4096,"n_kv_head":4096,"head_dim":65536,"d_ff":4194304,"seq_len":4194304}\n' >huge.json
run "$PIPPY" check huge.json
expect_rc 1
expect_err "huge.json:1:1: model 'huge': up to 2.83e+19 parameters, more than pippy counts exactly"
# Well-formed UTF-8 is kept as written.
sed 's/"gpt2-tiny"/"gpt2-\xc3\xa9t\xc3\xa9"/' "$PP_SOURCE_DIR/configs/models/gpt2-tiny.json" >utf8.json
run "$PIPPY" check utf8.json
expect_rc 0
expect_out "model config: gpt2-$(printf '\xc3\xa9t\xc3\xa9') (gpt2)"
finish
