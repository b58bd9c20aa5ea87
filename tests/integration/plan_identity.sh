#!/usr/bin/env bash
# plan_identity.sh -- a plan's identity is its content: `pippy plan` run
# twice on the same inputs writes plans that differ at most in how long
# (and how surely) the search ran, and stores them as one row of the
# database, under one hash. The stored row, `pippy db plans` and the runs
# of a plan all go by that hash. Also with the ILP schedule, whose solve
# time differs from run to run as well.
source "$(dirname "$0")/lib.bash"
cd "$T"
command -v sqlite3 >/dev/null || { echo "skipped: no sqlite3 command-line shell (Debian package sqlite3)"; exit 77; }

plan_twice() {
  local tag=$1
  shift
  run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 "$@" -o "$tag-a.json"
  expect_rc 0
  expect_out "stored in $PIPPY_DB as plan #"
  local first=${out##*as plan #}
  run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 "$@" -o "$tag-b.json"
  expect_rc 0
  local second=${out##*as plan #}
  [ "$first" = "$second" ] || fail "$tag: the same plan stored twice, as #$first and #$second"
  ok
  # Whatever the two files differ in is only the planner's solve times
  # (and, for a time-limited solver, its status and gap).
  diff "$tag-a.json" "$tag-b.json" | grep '^[<>]' | grep -vE '"(solve_s|status|gap)": ' &&
    fail "$tag: the two plans differ in more than the planner's timings"
  ok
}

plan_twice split
[ "$(sqlite3 "$PIPPY_DB" 'SELECT count(*) FROM plans')" -eq 1 ] || fail "two rows for one plan"
ok
run "$PIPPY" db plans
expect_rc 0
expect_out "plans: 1"

# The row is stored under the plan's hash (what runs and checkpoints name).
run "$PIPPY" db --json plans
expect_rc 0
hash=$(sqlite3 :memory: "SELECT json_extract(CAST(readfile('$T/.out') AS TEXT), '\$.plans[0].plan_hash')")
[ ${#hash} -eq 64 ] || fail "no plan hash in: $out"
ok

# With the ILP ordering the passes: its solve time is left out as well.
plan_twice ilp --schedule 1f1b --microbatches 4 --ilp-schedule 10
[ "$(sqlite3 "$PIPPY_DB" 'SELECT count(*) FROM plans')" -eq 2 ] || fail "the ILP plan was not stored once"
ok
grep -q '"schedule_ilp"' ilp-a.json || fail "no ILP schedule in the plan"
ok
finish
