#!/usr/bin/env bash
# The main job: set up, build, and run pippy on a preset model.
# Today: `pippy model` on gpt2-124m (the graph, its parameters, FLOPs and
# activation memory per block, recorded in pippy.db); `pippy profile`
# timing gpt2-tiny's ops and the links between two MPI ranks on this host;
# `pippy plan` choosing a 2-stage pipeline from that profile and `pippy sim`
# predicting it; then `pippy run` training gpt2-tiny on one process. Later
# issues add pipelined runs and the report to close the loop.
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
"$bin/pippy" db
"$bin/pippy" run --model gpt2-tiny --steps 300 --log-every 50
