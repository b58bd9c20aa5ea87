#!/usr/bin/env bash
# sched_complete.sh -- every reader of a schedule refuses a table that is
# incomplete or deadlocks, and says which (stage, microbatch, pass) is missing
# or where it waits: a plan with an empty table and one with 4 cells dropped
# (pippy check, sim, report, run), the same cells dropped from a bare CSV and
# a CSV that deadlocks (pippy check, schedule check, sim, plan), a one-cell
# table with huge indices (answered at once). PyTorch's tables, the test
# plan and every generated schedule still pass.
source "$(dirname "$0")/lib.bash"
S="${PP_SHARED_DIR:-$PP_SOURCE_DIR/../shared}/compat/pytorch-schedules"
[ -d "$S" ] || fail "no PyTorch schedule tables at $S"
P="$PP_SOURCE_DIR/tests/data/plan-gpt2-tiny-pp2.json"
M="$PP_SOURCE_DIR/configs/models/gpt2-tiny.json"
C="$PP_SOURCE_DIR/configs/clusters/local.json"
R0='["0F0", "0F1", "0F2", "0F3", "0B0", "0B1", "0B2", "0B3"]'
R1='["1F0", "1F1", "1F2", "1F3", "1B0", "1B1", "1B2", "1B3"]'
plan=$(cat "$P")
[[ $plan == *"$R0"* && $plan == *"$R1"* ]] || fail "$P: its GPipe rows changed; update this test"
# plan_with NAME ROW0 ROW1: the test plan with its two schedule rows replaced.
plan_with() {
  local t=${plan/"$R0"/"$2"}
  printf '%s\n' "${t/"$R1"/"$3"}" >"$T/$1"
}

# The plan as given, PyTorch's tables and generated schedules pass.
run "$PIPPY" check "$P"
expect_rc 0
for f in "$S"/*.csv; do
  run "$PIPPY" check "$f"
  expect_rc 0
  expect_out "ok: schedule:"
  run "$PIPPY" sim --schedule-csv "$f"
  expect_rc 0
done
for sch in gpipe 1f1b interleaved looped-bfs zbh1 zbh2 zbv dualpipev; do
  run "$PIPPY" schedule generate $sch --pp 4 --microbatches 8 -o "$T/$sch.csv"
  expect_rc 0
  run "$PIPPY" check "$T/$sch.csv"
  expect_rc 0
  run "$PIPPY" sim --schedule-csv "$T/$sch.csv"
  expect_rc 0
done

# A plan whose table is empty: nothing to predict, nothing to run.
plan_with empty.json '[]' '[]'
for cmd in "check" "sim --plan"; do
  run "$PIPPY" $cmd "$T/empty.json"
  expect_rc 1
  expect_err "empty.json: plan: field 'schedule.table': schedule incomplete: the table has no forward or backward"
  expect_err "2 stages x 4 microbatches need 8 forwards"
done

# A plan with 4 cells dropped (0B1, 1F3, 1B2, 1B3): each one named.
D0='["0F0", "0F1", "0F2", "0F3", "0B0", "0B2", "0B3"]'
D1='["1F0", "1F1", "1F2", "1B0", "1B1"]'
MISSING="schedule incomplete (4 missing): stage 0 microbatch 1 has no backward (B or I+W); stage 1 microbatch 2 has no backward (B or I+W); stage 1 microbatch 3 has no forward (F); stage 1 microbatch 3 has no backward (B or I+W)"
plan_with drop4.json "$D0" "$D1"
run "$PIPPY" check "$T/drop4.json"
expect_rc 1
expect_err "drop4.json: plan: field 'schedule.table': $MISSING"
run "$PIPPY" sim --plan "$T/drop4.json"
expect_rc 1
expect_err "$MISSING"
run "$PIPPY" report --plan "$T/drop4.json" -o "$T/rep"
expect_rc 1
expect_err "$MISSING"
[ ! -e "$T/rep" ] || fail "report wrote $T/rep for a plan it refused"
ok
run timeout 60 "$PIPPY" run --plan "$T/drop4.json" --steps 1
expect_rc 1
expect_err "$MISSING"

# A plan whose table deadlocks: rank 0 runs each backward right after its forward.
plan_with dead.json '["0F0", "0B0", "0F1", "0B1", "0F2", "0B2", "0F3", "0B3"]' "$R1"
for cmd in "check" "sim --plan"; do
  run "$PIPPY" $cmd "$T/dead.json"
  expect_rc 1
  expect_err "dead.json: plan: field 'schedule.table': deadlock: rank 0 at action 1 (0B0) waits for rank 1 (1B0); rank 1 at action 1 (1F1) waits for rank 0 (0F1)"
done

# The same cells dropped from a bare CSV: stages and microbatches come from the table.
printf '0F0,0F1,0F2,0F3,0B0,0B2,0B3\n1F0,1F1,1F2,1B0,1B1\n' >"$T/drop4.csv"
run "$PIPPY" check "$T/drop4.csv"
expect_rc 1
expect_err "drop4.csv: $MISSING"
run "$PIPPY" schedule check "$T/drop4.csv"
expect_rc 1
expect_err "drop4.csv: $MISSING"
run "$PIPPY" sim --schedule-csv "$T/drop4.csv"
expect_rc 1
expect_err "drop4.csv: $MISSING"
run "$PIPPY" plan --model "$M" --cluster "$C" --batch 8 --schedule-csv "$T/drop4.csv" -o "$T/p.json"
expect_rc 1
expect_err "drop4.csv: $MISSING"
[ ! -e "$T/p.json" ] || fail "pippy plan wrote a plan from an incomplete table"
ok

# A CSV that deadlocks: every reader names where it waits.
printf '0F0,0B0,0F1,0B1\n1F0,1F1,1B0,1B1\n' >"$T/dead.csv"
WAIT="dead.csv: deadlock: rank 0 at action 1 (0B0) waits for rank 1 (1B0); rank 1 at action 1 (1F1) waits for rank 0 (0F1)"
for cmd in "check" "schedule check" "sim --schedule-csv"; do
  run "$PIPPY" $cmd "$T/dead.csv"
  expect_rc 1
  expect_err "$WAIT"
done
# ... and one waiting for a pass no rank runs
printf '0F0,0B0,0F1,0B1\n1F0,1B0,1F1\n' >"$T/nob.csv"
run "$PIPPY" check "$T/nob.csv"
expect_rc 1
expect_err "nob.csv: schedule incomplete (1 missing): stage 1 microbatch 1 has no backward (B or I+W)"

# One cell with huge indices: an answer at once, no 910 GB grid.
for cell in 99989099F9099 99989999B99; do
  printf '%s\n' "$cell" >"$T/huge.csv"
  for cmd in "check" "schedule check"; do
    run timeout 10 "$PIPPY" $cmd "$T/huge.csv"
    expect_rc 1
    expect_err "huge.csv: schedule incomplete ("
    expect_err "stage 0 microbatch 0 has no forward (F)"
  done
done
finish
