#!/usr/bin/env bash
# sim.sh -- `pippy sim` end to end: a what-if per schedule, the example
# plan, PyTorch's three tables (DualPipeV's overlapped actions included),
# the trace and JSON outputs, and refusals that say why.
source "$(dirname "$0")/lib.bash"
S="${PP_SHARED_DIR:-$PP_SOURCE_DIR/../shared}/compat/pytorch-schedules"

for sch in gpipe 1f1b zbh1 zbh2; do
  run "$PIPPY" sim --model gpt2-tiny --schedule $sch --pp 2 --microbatches 8 --tflops 1
  expect_rc 0
  expect_out "iteration time"
  expect_out "of the total (idle / (ranks x iteration time))"
  expect_out "of the ideal (idle / busy time)"
done
for sch in interleaved looped-bfs zbv dualpipev; do
  run "$PIPPY" sim --model gpt2-tiny --schedule $sch --pp 2 --microbatches 4 --tflops 1
  expect_rc 0
done

# 1F1B on 4 stages: closed-form bubble (p-1)/(m+p-1) = 3/11 with free links and equal stages is
# not expected from a real model (unequal stages), but the bubble must lie between 0 and 1.
run "$PIPPY" sim --model gpt2-124m --schedule 1f1b --pp 4 --microbatches 8 --json --trace "$T/t.json"
expect_rc 0
expect_out '"bubble_idle_over_total"'
expect_out '"activation_timeline"'
expect_out '"static_bytes"'
grep -q '"traceEvents"' "$T/t.json" || fail "no trace written"
ok
run "$PIPPY" check "$T/t.json"
expect_rc 0
expect_out "ok: trace:"

# The example plan.
run "$PIPPY" sim --plan "$PP_SOURCE_DIR/tests/data/plan-gpt2-tiny-pp2.json"
expect_rc 0
expect_out "plan $PP_SOURCE_DIR/tests/data/plan-gpt2-tiny-pp2.json: gpt2-tiny, pp 2 x dp 1"

# PyTorch's tables: unit costs, and the comms table simulates like the compute-only one.
run "$PIPPY" sim --schedule-csv "$S/zb1p_2rank_2stagep_compute.csv"
expect_rc 0
expect_out "iteration time   49 s"
run "$PIPPY" sim --schedule-csv "$S/zb1p_2rank_2stagep_comms.csv"
expect_rc 0
expect_out "iteration time   49 s"
run "$PIPPY" sim --schedule-csv "$S/dualpipev_4rank_10mb.csv" --json
expect_rc 0
expect_out '"iteration_s": 66.0'

# Refusals.
run "$PIPPY" sim --model gpt2-tiny --schedule interleaved --pp 4 --microbatches 6
expect_rc 1
expect_err "m = 4 or 8 would work"
run "$PIPPY" sim --model gpt2-tiny --schedule dualpipev --pp 4 --microbatches 4
expect_rc 1
expect_err "2p"
run "$PIPPY" sim --model gpt2-tiny --schedule 1f1b --pp 16 --microbatches 4
expect_rc 1
expect_err "16 stages need at least 16 blocks, the model has 6"
run "$PIPPY" sim --model gpt2-tiny --schedule 2f2b --pp 2 --microbatches 4
expect_rc 1
expect_err "2f2b"
printf '0F0,0B0,0F1,0B1\n1F0,1F1,1B0,1B1\n' >"$T/dead.csv"
run "$PIPPY" sim --schedule-csv "$T/dead.csv"
expect_rc 1
expect_err "deadlock"
run "$PIPPY" sim --pp 2
expect_rc 2
finish
