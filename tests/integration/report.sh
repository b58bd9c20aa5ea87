#!/usr/bin/env bash
# report.sh -- `pippy report` end to end on gpt2-tiny (pp 2, 1F1B, 4
# microbatches): profile, plan, run 4 steps, then the report: a
# self-contained page (no http(s) address, every src a data URI), the four
# charts and the table, valid PNGs, Chrome traces `pippy check` accepts; the
# page with the prediction only when the plan has no run; and the errors
# (unknown run, a run of another plan, a missing plan, no gnuplot).
source "$(dirname "$0")/lib.bash"
cd "$T"
DB="$T/r.db"
command -v gnuplot >/dev/null || fail "gnuplot is not installed (scripts/setup.sh installs gnuplot-nox)"

run "$PIPPY" profile --model gpt2-tiny --micro-batch 2 --seq 32 --ranks 1 --db "$DB"
expect_rc 0
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --seq 32 --pp 2 --microbatches 4 --schedule 1f1b \
  --db "$DB" -o plan.json
expect_rc 0

# A plan without a run: the prediction only, exit 0, said so.
run "$PIPPY" report --plan plan.json -o pred --db "$DB"
expect_rc 0
expect_out "No run of this plan"
expect_out "report: pred/index.html"
[ -s pred/index.html ] || fail "no pred/index.html"
ok
grep -qF "none: prediction only" pred/index.html || fail "the page does not say it has no run"
ok

run timeout 300 "$PIPPY" run --plan plan.json --steps 4 --db "$DB"
expect_rc 0

run "$PIPPY" report --plan plan.json -o rep --chrome --db "$DB"
expect_rc 0
expect_out "report: rep/index.html"
expect_out "measured"
echo "$out"
h=rep/index.html
[ -s $h ] || fail "no $h"
ok
! grep -qE 'https?://' $h || fail "$h names an http(s) address: $(grep -oE 'https?://[^"]*' $h | head -3)"
ok
n_src=$(grep -o 'src="' $h | wc -l)
n_data=$(grep -o 'src="data:image/png;base64,' $h | wc -l)
[ "$n_src" -eq 4 ] && [ "$n_data" -eq 4 ] || fail "expected 4 src, all data URIs: $n_src src, $n_data data"
ok
[ "$(grep -o '<svg' $h | wc -l)" -eq 4 ] || fail "expected 4 inline SVGs"
ok
for t in "Step timeline: predicted and measured" "Throughput against microbatch count" \
  "Per-stage compute balance" "Memory per rank over the step" "Predicted against measured" \
  "relative error" "<table>" "rank 1 peak memory"; do
  grep -qF "$t" $h || fail "$h lacks '$t'"
  ok
done
grep -qF "(measured &minus; predicted) / measured" $h || fail "the error convention is not stated"
ok
for c in timeline throughput balance memory; do
  [ "$(head -c 8 rep/$c.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "rep/$c.png is not a PNG"
  ok
  [ "$(stat -c %s rep/$c.png)" -gt 10000 ] || fail "rep/$c.png is only $(stat -c %s rep/$c.png) bytes"
  ok
  grep -q '<svg' rep/$c.svg || fail "rep/$c.svg is not an SVG"
  ok
done
ls -A rep | grep -E '^\.|\.tmp' && fail "temporary files left in rep/"
ok
run "$PIPPY" check rep/measured-trace.json rep/predicted-trace.json
expect_rc 0
expect_out "rep/measured-trace.json: ok: trace"

# --run and --step by hand; --step must exist.
run "$PIPPY" report --plan plan.json --run 1 --step 2 -o rep2 --db "$DB"
expect_rc 0
expect_out "run 1, step 2"
run "$PIPPY" report --plan plan.json --run 1 --step 9 -o rep3 --db "$DB"
expect_rc 1
expect_err "run 1 has no step 9"

# Errors.
run "$PIPPY" report --plan plan.json --run 999 -o rep4 --db "$DB"
expect_rc 1
expect_err "no run 999"
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --seq 32 --pp 2 --microbatches 2 --schedule gpipe \
  --db "$DB" -o other.json
expect_rc 0
run "$PIPPY" report --plan other.json --run 1 -o rep5 --db "$DB"
expect_rc 1
hash1=$(sqlite3 "$DB" 'SELECT plan_hash FROM runs WHERE id = 1')
expect_err "run 1 is a run of plan $hash1, not of other.json (plan "
run "$PIPPY" report --plan nowhere.json -o rep6 --db "$DB"
expect_rc 1
expect_err "nowhere.json"
PIPPY_GNUPLOT=/nonexistent/gnuplot run "$PIPPY" report --plan plan.json -o rep7 --db "$DB"
expect_rc 1
expect_err "gnuplot not found"
run "$PIPPY" report --plan plan.json
expect_rc 2
expect_err "--plan and -o are required"
finish
