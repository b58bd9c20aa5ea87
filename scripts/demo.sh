#!/usr/bin/env bash
# The main job: set up, build, and run pippy on a preset model.
# Today: `pippy model` on gpt2-124m (the graph, its parameters, FLOPs and
# activation memory per block, recorded in pippy.db); `pippy profile`
# timing gpt2-tiny's ops and the links between two MPI ranks on this host;
# `pippy plan` choosing a 2-stage pipeline from that profile and `pippy sim`
# predicting it; `pippy run --plan` running that plan for real on two MPI
# ranks (measured beside predicted, stored in pippy.db); then `pippy run`
# training gpt2-tiny on one process. The report comes with a later issue.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh" build
cd "$root"
bin=$root/build/bin
model=${PIPPY_DEMO_MODEL:-gpt2-124m}
"$bin/pippy" model "$model"
"$bin/pippy" profile --model gpt2-tiny --ranks 2
"$bin/pippy" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --microbatches 8 -o plan.json
"$bin/pippy" sim --plan plan.json --trace sim-trace.json
"$bin/pippy" run --plan plan.json --steps 30 --log-every 10 --trace run-trace.json
"$bin/pippy" db
"$bin/pippy" run --model gpt2-tiny --steps 300 --log-every 50
