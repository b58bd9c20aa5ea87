#!/usr/bin/env bash
# predict_agree.sh -- one prediction per plan: for seven plans the planner's
# stored prediction, `pippy sim --plan` and `pippy report`'s predicted figures,
# for the five this host can run `pippy run`'s printed and stored prediction,
# and for two more `pippy validate`'s, are the same numbers (JSON, full precision; equal to
# 1e-12 relative). The plans cover one host and several hosts, mixed device
# speeds, dp > 1, tied weights (GPT-2), a skip connection (T5), measured and
# FLOP costs (with measured links and all-reduce), and a PyTorch CSV table.
source "$(dirname "$0")/lib.bash"
cd "$T"
S="${PP_SHARED_DIR:-$PP_SOURCE_DIR/../shared}/compat/pytorch-schedules"
DB="$T/agree.db"
command -v python3 >/dev/null || fail "python3 is needed to read the JSON outputs"

# Four CPU devices on this host (ranks share the cores), so that pp 2 x dp 2 runs here.
cat >four.json <<'JSON'
{"name": "four-cpus", "hosts": [{"name": "localhost", "devices": [{"type": "cpu", "model": "host cpu core", "count": 4, "memory_gib": 4}]}]}
JSON

# Measured costs for gpt2-tiny at micro-batch 2 x 32 tokens, and links and
# the all-reduce between 2 ranks (so the measured-communication rules are on
# the path too). t5-tiny and llama-tiny stay on FLOP estimates.
run timeout 300 "$PIPPY" profile --model gpt2-tiny --micro-batch 2 --seq 32 --ranks 2 --no-check --db "$DB"
expect_rc 0

# field FILE PATH: a number from a JSON file, by a Python subscript path.
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(repr(float(eval('d'+sys.argv[2]))))" "$1" "$2"; }
# same A B WHAT: equal to 1e-12 relative.
same() {
  python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if abs(a-b) <= 1e-12*max(abs(a),abs(b)) else 1)" "$1" "$2" \
    || fail "$3: $1 != $2"
  ok
}

# plan NAME ARGS...: plan, then check sim and report against the stored prediction.
check_plan() {
  local name=$1
  shift
  run "$PIPPY" plan "$@" -o "$name.json" --db "$DB" --no-store --json
  expect_rc 0
  printf '%s' "$out" >"$name.plan.out"
  local stored
  stored=$(field "$name.json" "['prediction']['iteration_s']")
  same "$stored" "$(field "$name.plan.out" "['prediction']['iteration_s']")" "$name: plan --json vs the plan file"
  run "$PIPPY" sim --plan "$name.json" --db "$DB" --json
  expect_rc 0
  printf '%s' "$out" >"$name.sim.out"
  same "$stored" "$(field "$name.sim.out" "['iteration_s']")" "$name: sim --plan vs the planner"
  same "$(field "$name.json" "['prediction']['tokens_per_s']")" "$(field "$name.sim.out" "['tokens_per_s']")" \
    "$name: tokens/s, sim vs planner"
  same "$(field "$name.json" "['prediction']['bubble_fraction']")" "$(field "$name.sim.out" "['bubble_idle_over_total']")" \
    "$name: bubble, sim vs planner"
  for r in $(python3 -c "import json; print(' '.join(str(i) for i in range(len(json.load(open('$name.json'))['prediction']['peak_memory_bytes']))))"); do
    same "$(field "$name.json" "['prediction']['peak_memory_bytes'][$r]")" "$(field "$name.sim.out" "['ranks'][$r]['peak_total_bytes']")" \
      "$name: rank $r peak memory, sim vs planner"
  done
  run "$PIPPY" report --plan "$name.json" -o "rep-$name" --db "$DB" --json
  expect_rc 0
  printf '%s' "$out" >"$name.report.out"
  same "$stored" "$(field "$name.report.out" "['predicted']['iteration_s']")" "$name: report vs the planner"
  same "$(field "$name.sim.out" "['tokens_per_s']")" "$(field "$name.report.out" "['predicted']['tokens_per_s']")" \
    "$name: tokens/s, report vs sim"
}

# run_plan NAME: run the plan (it runs on this host) and check the prediction
# pippy run prints and stores against the planner's.
run_plan() {
  local name=$1
  run timeout 300 "$PIPPY" run --plan "$name.json" --steps 3 --db "$DB" --json
  expect_rc 0
  printf '%s' "$out" >"$name.run.out"
  same "$(field "$name.json" "['prediction']['iteration_s']")" "$(field "$name.run.out" "['predicted_iteration_s']")" \
    "$name: run vs the planner"
  for r in $(python3 -c "import json; print(' '.join(str(i) for i in range(len(json.load(open('$name.run.out'))['ranks']))))"); do
    local pr
    pr=$(python3 -c "import json; d=json.load(open('$name.json')); print($r % len(d['prediction']['peak_memory_bytes']))")
    same "$(field "$name.json" "['prediction']['peak_memory_bytes'][$pr]")" "$(field "$name.run.out" "['ranks'][$r]['predicted_peak_bytes']")" \
      "$name: rank $r predicted peak memory, run vs planner"
  done
  run "$PIPPY" db run "$(field "$name.run.out" "['run']" | cut -d. -f1)" --db "$DB" --json
  expect_rc 0
  printf '%s' "$out" >"$name.db.out"
  same "$(field "$name.json" "['prediction']['iteration_s']")" "$(field "$name.db.out" "['run']['predicted_iteration_s']")" \
    "$name: the run's stored prediction vs the planner"
}

# 1. One host, measured costs, tied weights (GPT-2's embedding and head).
check_plan tied --model gpt2-tiny --cluster local --batch 8 --seq 32 --pp 2 --microbatches 4 --schedule 1f1b
run_plan tied
# pippy run predicts the plan itself (pp_predict) rather than echo the file:
# a plan whose written prediction was changed still runs with the true one.
python3 -c "
import json; d=json.load(open('tied.json')); d['prediction']['iteration_s']=1.0
json.dump(d, open('edited.json','w'))"
run timeout 300 "$PIPPY" run --plan edited.json --steps 2 --db "$DB" --json
expect_rc 0
printf '%s' "$out" >edited.run.out
same "$(field tied.json "['prediction']['iteration_s']")" "$(field edited.run.out "['predicted_iteration_s']")" \
  "a plan with an edited prediction: run vs the planner's"
grep -q "measured profile in $DB" tied.sim.out || fail "tied: not on measured costs: $(cat tied.sim.out)"
grep -q "links: measured in $DB" tied.sim.out || fail "tied: not on measured links"
grep -q "all-reduce measured over 2 ranks" tied.sim.out || fail "tied: not on the measured all-reduce"
ok
# 2. A skip connection (T5's encoder output reaches every decoder stage), FLOP costs.
check_plan skip --model t5-tiny --cluster local --batch 8 --seq 32 --pp 2 --microbatches 4 --schedule zbh1
run_plan skip
grep -q "graph FLOPs" skip.sim.out || fail "skip: expected FLOP costs"
ok
# 3. dp > 1 on one host: pp 2 x dp 2 on four CPU devices, measured costs.
check_plan dp --model gpt2-tiny --cluster four.json --batch 16 --seq 32 --pp 2 --dp 2 --microbatches 4 --schedule gpipe
[ "$(python3 -c "import json; print(json.load(open('dp.json'))['parallel']['dp'])")" = 2 ] || fail "dp: the plan is not dp 2"
ok
run_plan dp
# 4. A PyTorch CSV table (ZB1P, 2 ranks x 2 stages each).
check_plan csv --model gpt2-tiny --cluster local --batch 8 --seq 32 --schedule-csv "$S/zb1p_2rank_2stagep_compute.csv"
run_plan csv
# 5. Several hosts with mixed device speeds (H100 and A100 at 0.32), FLOP costs.
check_plan mixed --model gpt2-124m --cluster mixed-a100-h100 --batch 32 --pp 8
# 6. Several hosts and dp > 1: pp 2 x dp 16 over four hosts of eight H100s.
check_plan hosts --model gpt2-124m --cluster h100-4x8 --batch 64 --pp 2
[ "$(python3 -c "import json; print(json.load(open('hosts.json'))['parallel']['dp'])")" -gt 1 ] || fail "hosts: dp is 1"
ok
# 7. An interleaved LLaMA on the CPUs, FLOP costs.
check_plan llama --model llama-tiny --cluster local --batch 8 --seq 32 --pp 2 --microbatches 4 --schedule interleaved
run_plan llama

# 8. pippy validate: its predictions are those of pippy plan and pippy sim for
# the plans it makes, and of the runs it stores (measured costs: the profile
# above is reused).
run timeout 600 "$PIPPY" validate --model gpt2-tiny --micro-batch 2 --seq 32 --pp 2 --schedules 1f1b,zbh1 \
  --microbatches 4 --steps 3 -o val --db "$DB" --json
expect_rc 0
printf '%s' "$out" >validate.out
for i in 0 1; do
  sched=$(python3 -c "import json; print(json.load(open('validate.out'))['configurations'][$i]['schedule'])")
  vplan=val/plan-$sched-m4.json
  [ -f "$vplan" ] || fail "validate: no plan $vplan"
  same "$(field "$vplan" "['prediction']['iteration_s']")" "$(field validate.out "['configurations'][$i]['predicted_iteration_s']")" \
    "validate $sched: validate vs the planner"
  same "$(field validate.out "['configurations'][$i]['run_predicted_iteration_s']")" \
    "$(field validate.out "['configurations'][$i]['predicted_iteration_s']")" "validate $sched: the run's vs validate's"
  run "$PIPPY" sim --plan "$vplan" --db "$DB" --json
  expect_rc 0
  printf '%s' "$out" >"val-$sched.sim.out"
  same "$(field "val-$sched.sim.out" "['iteration_s']")" "$(field validate.out "['configurations'][$i]['predicted_iteration_s']")" \
    "validate $sched: validate vs sim --plan"
done

finish
