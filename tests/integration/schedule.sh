#!/usr/bin/env bash
# schedule.sh -- PyTorch's three schedule tables read and written back
# identical (line endings aside); converting between the namings and back
# is lossless; a table written in the current naming reads back identical.
source "$(dirname "$0")/lib.bash"
S="${PP_SHARED_DIR:-$PP_SOURCE_DIR/../shared}/compat/pytorch-schedules"
[ -d "$S" ] || fail "no PyTorch schedule tables at $S"
for f in "$S"/*.csv; do
  name=$(basename "$f")
  run "$PIPPY" schedule convert "$f" -o "$T/$name"
  expect_rc 0
  cmp -s <(tr -d '\r' <"$f") "$T/$name" || fail "$name: written back differently"
  ok
  # other naming and back
  run "$PIPPY" schedule convert "$f" -o "$T/a.csv" --to current
  expect_rc 0
  run "$PIPPY" schedule convert "$T/a.csv" -o "$T/b.csv" --to legacy
  expect_rc 0
  run "$PIPPY" schedule convert "$T/b.csv" -o "$T/c.csv" --to current
  expect_rc 0
  cmp -s "$T/a.csv" "$T/c.csv" || fail "$name: current -> legacy -> current differs"
  ok
  run "$PIPPY" schedule convert "$T/c.csv" -o "$T/d.csv"
  expect_rc 0
  cmp -s "$T/c.csv" "$T/d.csv" || fail "$name: current naming not re-read identical"
  ok
done
run "$PIPPY" schedule show "$S/zb1p_2rank_2stagep_compute.csv"
expect_rc 0
expect_out "2 ranks, 4 stages, 8 microbatches, compute_only, legacy naming"
expect_out "rank 0: 49 cells: 1 idle 16 F 16 I 16 W"
run "$PIPPY" schedule show "$S/dualpipev_4rank_10mb.csv"
expect_out "4 ranks, 8 stages, 10 microbatches, compute_only, current naming"
expect_out "(0F7;7B3)OVERLAP_F_B"
run "$PIPPY" schedule show "$S/zb1p_2rank_2stagep_comms.csv"
expect_out "compute_comms, legacy naming"
run "$PIPPY" schedule convert "$S/dualpipev_4rank_10mb.csv"
expect_rc 2
expect_err "convert needs -o"

# check: PyTorch's tables are valid and free of deadlock; a swapped table is not.
for f in "$S"/*.csv; do
  run "$PIPPY" schedule check "$f"
  expect_rc 0
  expect_out "free of deadlock"
done
printf '0F0,0B0,0F1,0B1\n1F0,1F1,1B0,1B1\n' >"$T/dead.csv"
run "$PIPPY" schedule check "$T/dead.csv"
expect_rc 1
expect_err "deadlock: rank 0 at action 1 (0B0) waits for rank 1 (1B0); rank 1 at action 1 (1F1) waits for rank 0 (0F1)"
printf '0F0,0F0,0B0\n' >"$T/dup.csv"
run "$PIPPY" schedule check "$T/dup.csv"
expect_rc 1
expect_err "rank 0, action 1 (0F0)"

# generate: DualPipeV p=4 m=10 is PyTorch's own table; generated tables check out and lower.
run "$PIPPY" schedule generate dualpipev --pp 4 --microbatches 10 -o "$T/dpv.csv"
expect_rc 0
cmp -s <(tr -d '\r' <"$S/dualpipev_4rank_10mb.csv") "$T/dpv.csv" || fail "dualpipev p4 m10 differs from PyTorch's"
ok
for sch in gpipe 1f1b interleaved looped-bfs zbh1 zbh2 zbv dualpipev; do
  run "$PIPPY" schedule generate $sch --pp 4 --microbatches 8 --lower -o "$T/$sch.csv"
  expect_rc 0
  run "$PIPPY" schedule check "$T/$sch.csv"
  expect_rc 0
  run "$PIPPY" schedule show "$T/$sch.csv"
  expect_out "compute_comms"
done
run "$PIPPY" schedule generate interleaved --pp 4 --microbatches 6
expect_rc 1
expect_err "m = 4 or 8 would work"
finish
