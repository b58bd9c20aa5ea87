#!/usr/bin/env bash
# plan.sh -- `pippy plan` end to end: a plan for gpt2-tiny on a 4-device
# cluster is written, checks out, simulates, and is stored; a manual split
# is only scheduled; a model that cannot fit is refused with the stage, the
# memory it needs and the memory it has.
source "$(dirname "$0")/lib.bash"
cd "$T"
cat >four.json <<'JSON'
{"name": "four", "hosts": [{"name": "h", "devices": [{"type": "gpu", "count": 4, "memory_gib": 16, "peak_tflops": 100}]}],
 "links": {"intra_host": {"latency_us": 5, "bandwidth_gbit_s": 100}}}
JSON
run "$PIPPY" plan --model gpt2-tiny --cluster four.json --batch 16 -o plan.json --top 5
expect_rc 0
expect_out "candidates"
expect_out "chosen: pp"
expect_out "plan written to plan.json"
expect_out "stored in"
expect_err "no measured profile for"
grep -Eq "split by milp \((optimal|feasible|time-limit)" <<<"$out" || fail "no MILP status: $out"
ok
run "$PIPPY" check plan.json
expect_rc 0
expect_out "ok: plan: gpt2-tiny"
run "$PIPPY" sim --plan plan.json
expect_rc 0
expect_out "iteration time"
run "$PIPPY" db plans
expect_rc 0
expect_out "gpt2-tiny-"

# Fixed shape and a manual split: blocks embed..h.1 | h.2..head.
run "$PIPPY" plan --model gpt2-tiny --cluster four.json --batch 8 --pp 2 --schedule 1f1b --microbatches 4 \
  --split-at h.2 -o manual.json --no-db
expect_rc 0
expect_out "split by manual (given"
grep -q '"first_op": "h.2.ln_1"' manual.json || fail "the manual split point is not where asked"
ok

# The ILP schedule: it orders the passes, its status is recorded, the plan still checks out.
run "$PIPPY" plan --model gpt2-tiny --cluster four.json --batch 16 --pp 4 --schedule 1f1b --microbatches 8 \
  --ilp-schedule 5 -o ilp.json --no-db
expect_rc 0
expect_out "ILP schedule:"
grep -q '"schedule_ilp"' ilp.json || fail "no ILP status in the plan"
ok
run "$PIPPY" check ilp.json
expect_rc 0
run "$PIPPY" plan --model gpt2-tiny --cluster four.json --batch 16 --pp 2 --schedule interleaved --microbatches 8 \
  --ilp-schedule 5 -o x.json --no-db
expect_rc 1
expect_err "one stage per rank"

# Cannot fit: llama2-70b on one 141 GiB device.
run "$PIPPY" plan --model llama2-70b --cluster h200-1 --batch 8 --seq 512 -o big.json --no-db
expect_rc 1
expect_err "no candidate fits in memory"
expect_err "GiB"
[ ! -e big.json ] || fail "a plan was written for a model that does not fit"
ok

# Usage errors.
run "$PIPPY" plan --model gpt2-tiny --cluster four.json -o x.json
expect_rc 2
expect_err "--batch"
run "$PIPPY" plan --model gpt2-tiny --cluster four.json --batch 8 --schedule 3f3b -o x.json
expect_rc 2
expect_err "3f3b"
run "$PIPPY" plan --model gpt2-tiny --cluster four.json --batch 8 --split-at h.9 -o x.json --no-db
expect_rc 1
expect_err "no block 'h.9'"
finish
