#!/usr/bin/env bash
# The main job: set up, build, and run the whole loop of pippy on this host.
#   1. `pippy model` on a preset (gpt2-124m: the graph, its parameters, FLOPs
#      and activation memory per block, recorded in pippy.db), and a short
#      single-process training of gpt2-tiny (loss against the data's entropy);
#   2. the loop on gpt2-tiny with this host's CPUs: `pippy profile` (op times,
#      links between two MPI ranks), `pippy plan` (a 2-stage pipeline chosen
#      from that profile), `pippy sim` (the prediction), `pippy run --plan`
#      (the plan run for real on two MPI ranks, stored in pippy.db), and
#      `pippy report` (predicted against measured: charts and a table in one
#      HTML page); it prints where the report is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh" build
cd "$root"
bin=$root/build/bin
model=${PIPPY_DEMO_MODEL:-gpt2-124m}
"$bin/pippy" model "$model"
"$bin/pippy" run --model gpt2-tiny --steps 300 --log-every 100
start=$(date +%s)
echo
echo "== the loop: profile, plan, simulate, run, report (gpt2-tiny, 2 ranks) =="
"$bin/pippy" profile --model gpt2-tiny --micro-batch 4 --seq 64 --ranks 2
"$bin/pippy" plan --model gpt2-tiny --cluster local --batch 32 --seq 64 --pp 2 --microbatches 8 -o plan.json
"$bin/pippy" sim --plan plan.json --trace sim-trace.json
"$bin/pippy" run --plan plan.json --steps 30 --log-every 10 --trace run-trace.json
"$bin/pippy" report --plan plan.json -o report --chrome
"$bin/pippy" db
echo
echo "the loop took $(($(date +%s) - start)) s"
echo "report: $root/report/index.html"
