#!/usr/bin/env bash
# profile.sh -- `pippy profile` end to end: a model profiled once and reused
# the second time, and measured again with --force, which says how many op
# medians agree with the stored ones; the whole-step comparison printed;
# links between two MPI ranks (both pairs) measured and stored; two
# profilers writing one database at once both succeed; a profiler killed
# with SIGKILL leaves a database that opens clean and holds none of its
# profile. --json prints the same figures as one JSON object.
source "$(dirname "$0")/lib.bash"
cd "$T"
DB="$T/p.db"

run "$PIPPY" profile --model gpt2-tiny --db "$DB" --ranks 1
expect_rc 0
expect_out "measured in"
expect_out "sum of ops / whole step ="
n1=$(sed -n 's/.*distinct signatures: \([0-9]*\) measured.*/\1/p' <<<"$out")
[ "${n1:-0}" -gt 5 ] || fail "too few signatures measured: $out"
ok
run "$PIPPY" profile --model gpt2-tiny --db "$DB" --ranks 1 --no-check
expect_rc 0
expect_out ": 0 measured in"
expect_out "$n1 reused"
run "$PIPPY" profile --model gpt2-tiny --db "$DB" --ranks 1 --no-check --force
expect_out ": $n1 measured in"
# --force compares the new medians with the stored ones: N of M (at least F
# of every signature) within max(spread new, spread old).
expect_out "(|median new - median old| <= max(spread new, spread old))"
agree=$(sed -n 's|^stability: \([0-9]*\)/\([0-9]*\) op medians within the spread of the previous profile.*|\1 \2|p' <<<"$out")
read -r na nm <<<"$agree"
[[ -n "${na:-}" && -n "${nm:-}" ]] || fail "no parseable stability line: $out"
[ "$nm" -ge "$n1" ] && [ "$nm" -le $((3 * n1)) ] || fail "stability counts $nm op medians for $n1 signatures: $out"
[ "$na" -gt 0 ] && [ "$na" -le "$nm" ] || fail "stability: $na of $nm agree: $out"
ok
# --json: one JSON object on stdout and nothing else, with what the text
# says: the device, every signature re-measured with its F/I/W medians, the
# whole step beside the sum of the ops, the comparison with the stored
# profile, both links and the all-reduce (measured under mpirun and handed
# back to this process).
run timeout 120 env TMPDIR="$T" "$PIPPY" profile --model gpt2-tiny --db "$DB" --ranks 2 --force --json
expect_rc 0
python3 -c '
import json, re, sys
n1 = int(sys.argv[1])
d = json.loads(sys.stdin.read())
assert re.fullmatch("[0-9a-f]{64}", d["device"]["fingerprint"]), d["device"]
o = d["ops"]
assert o["model"] == "gpt2-tiny" and o["measured"] == n1 and o["reused"] == 0, o
p = o["profiles"]
assert len(p) == o["signatures"] == n1 and all(x["measured"] and x["f_s"] > 0 for x in p), p
assert sum(x["ops"] for x in p) == o["n_ops"], p
s = sum(x["ops"] * (x["f_s"] + x["i_s"] + x["w_s"]) for x in p)
w = o["whole_step"]
assert abs(s - o["sum_s"]) <= 1e-9 * s and w["sum_of_ops_s"] == o["sum_s"], (s, o["sum_s"], w)
assert w["measured_s"] > 0 and abs(w["ratio"] - o["sum_s"] / w["measured_s"]) < 1e-9, w
c = o["comparison"]
assert n1 <= c["compared"] <= 3 * n1 and 0 < c["within_spread"] <= c["compared"], c
l = d["links"]
assert l["ranks"] == 2 and l["pairs_measured"] == l["pairs_all"] == 2, l
assert sorted((x["src"], x["dst"]) for x in l["pairs"]) == [(0, 1), (1, 0)], l
assert all(x["alpha_s"] >= 0 and x["beta_Bps"] > 0 for x in l["pairs"]), l
assert l["allreduce"]["beta_Bps"] > 0, l
' "$n1" <<<"$out" || fail "pippy profile --json: $out"
ok
run "$PIPPY" profile --model gpt2-tiny --db "$DB" --ranks 1 --no-check --json
expect_rc 0
python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
o = d["ops"]
assert o["measured"] == 0 and o["reused"] == o["signatures"], o
assert not any(x["measured"] for x in o["profiles"]), o
assert o["whole_step"] is None and o["comparison"] is None and d["links"] is None, d
' <<<"$out" || fail "pippy profile --json (all reused, no check, no links): $out"
ok
ls "$T"/pippy-links-* 2>/dev/null | grep -q . && fail "the links hand-over file was left behind"
ok

# Nothing to compare with on a first profile.
run "$PIPPY" profile --model gpt2-tiny --seq 32 --db "$DB" --ranks 1 --no-check
expect_rc 0
grep -q "^stability:" <<<"$out" && fail "stability printed without a previous profile: $out"
ok

# pippy sim and pippy plan use the measured profile when every op has one.
run "$PIPPY" sim --model gpt2-tiny --schedule 1f1b --pp 2 --microbatches 4 --db "$DB"
expect_rc 0
expect_out "costs: measured profile in $DB"
run "$PIPPY" sim --model gpt2-tiny --schedule 1f1b --pp 2 --microbatches 4 --micro-batch 3 --db "$DB"
expect_out "costs: graph FLOPs"
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 4 --pp 2 --microbatches 4 --schedule 1f1b --db "$DB" \
  -o plan.json --no-store
expect_rc 0
expect_out "costs: measured profile in $DB"

# Links between two ranks (mpirun started by pippy itself).
run timeout 120 "$PIPPY" profile --only links --ranks 2 --db "$DB"
expect_rc 0
expect_out "0->1"
expect_out "1->0"
expect_out "measured 2 of 2 ordered rank pairs: all"
expect_out "links stored"
expect_out "all-reduce over 2 ranks:"
run "$PIPPY" db profiles --db "$DB"
expect_rc 0
expect_out "links: 2"
# ... and sim and plan take the measured links.
run "$PIPPY" sim --model gpt2-tiny --schedule 1f1b --pp 2 --microbatches 4 --db "$DB"
expect_out "links: measured in $DB (mean of 2)"
expect_out "all-reduce measured over 2 ranks"
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 4 --pp 2 --microbatches 4 --schedule 1f1b --db "$DB" \
  -o plan2.json --no-store
expect_out "links: measured in $DB (mean of 2)"

# Two profilers into one database at once.
"$PIPPY" profile --model llama-tiny --db "$DB" --ranks 1 --no-check >a.out 2>&1 &
pa=$!
"$PIPPY" profile --model bert-tiny --db "$DB" --ranks 1 --no-check >b.out 2>&1 &
pb=$!
wait $pa || fail "first concurrent profiler failed: $(cat a.out)"
wait $pb || fail "second concurrent profiler failed: $(cat b.out)"
ok
run "$PIPPY" profile --model llama-tiny --db "$DB" --ranks 1 --no-check
expect_out ": 0 measured in"
run "$PIPPY" profile --model bert-tiny --db "$DB" --ranks 1 --no-check
expect_out ": 0 measured in"

# Killed mid-run (gpt2-124m takes seconds to measure): nothing of it is
# stored, the database opens clean.
before=$("$PIPPY" db profiles --db "$DB" --json | grep -c '"signature"' || true)
"$PIPPY" profile --model gpt2-124m --seq 128 --db "$DB" --ranks 1 --force >k.out 2>&1 &
pk=$!
sleep 1.5
kill -9 $pk 2>/dev/null || true
wait $pk 2>/dev/null || true
run "$PIPPY" db profiles --db "$DB" --json
expect_rc 0
after=$(grep -c '"signature"' <<<"$out" || true)
[ "$before" = "$after" ] || fail "a killed profiler left $((after - before)) profiles behind"
ok
grep -q "stored in" k.out && fail "the profiler finished before it was killed; the test proves nothing"
ok

run "$PIPPY" profile --ranks 1
expect_rc 2
expect_err "--model is required"
finish
