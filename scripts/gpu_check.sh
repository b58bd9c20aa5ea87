#!/usr/bin/env bash
# The GPU checks of issue 9 in one go, for a session with a GPU (one H200:
# well under 10 minutes). Builds pippy with the CUDA parts on in build-gpu/
# (or $PIPPY_GPU_BUILD), then runs:
#   (a) gpu_ops       every op's F, I and W on CUDA against the CPU backend
#                     (bf16 GEMM ops: rel <= 1e-2; fp32 ops: rel <= 1e-4),
#                     and whole tiny models (gpt2, bert, llama, t5)
#   (b) gpu_perf      CUPTI per-op time summed against the CUDA-event time
#                     of a gpt2-124m F+I+W step (within 5%), dropped records
#   (c) gpu_pipeline  gpt2-124m in 4 stages on one GPU under 1F1B and ZBH1,
#                     loss and gradients against one engine, Chrome traces
#   (d) gpu_perf      GEMM TFLOP/s against the measured cuBLAS bf16 peak
#   (e) gpu_perf + tests/gpu/torch_step.py: the gpt2-124m step against
#                     PyTorch on the same GPU (when torch with CUDA imports)
#   (f) the commands with --backend cuda: pippy run (one process, and a
#                     2-rank plan on the one GPU with checkpoints and a
#                     resume), pippy profile
#   and gpu_nccl (one rank: NCCL init over MPI, all-reduce, grouped
#   send/recv, split), then the `gpu`-labelled ctest suite and the unit
#   tests of the CUDA build. Prints a summary table; logs and traces go to
#   $OUT (or BUILD/gpu-check-out/). Exit status: 0 when every check passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-${PIPPY_GPU_BUILD:-$root/build-gpu}/gpu-check-out}
build=${PIPPY_GPU_BUILD:-$root/build-gpu}
mkdir -p "$out"
jobs=$(nproc 2>/dev/null || echo 4)
declare -a names results
record() { names+=("$1"); results+=("$2"); }

echo "== build ($build, CUDA on)"
t0=$(date +%s)
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPIPPY_CUDA=ON -DPIPPY_WERROR=ON \
         >"$out/configure.log" 2>&1 && cmake --build "$build" -j "$jobs" >"$out/build.log" 2>&1; }; then
  tail -30 "$out/configure.log" "$out/build.log"
  echo "build failed"; exit 1
fi
grep '^-- pippy' "$out/configure.log"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee "$out/gpu.txt"
bin=$build/bin
echo "build: $(( $(date +%s) - t0 )) s"

run() { # name log command...
  local name=$1 log=$2; shift 2
  echo; echo "== $name"
  "$@" 2>&1 | tee "$out/$log"
  local rc=${PIPESTATUS[0]}
  case $rc in 0) record "$name" ok ;; 77) record "$name" SKIP ;; *) record "$name" "FAIL (exit $rc)" ;; esac
}

run "(a) ops F/I/W vs CPU" ops.txt timeout 300 "$bin/gpu_ops"
run "(b,d,e) gpt2-124m step, CUPTI, GEMM" perf.txt timeout 300 "$bin/gpu_perf" --model gpt2-124m --micro-batch 4 --seq 1024 --out "$out"
run "(c) 1-GPU pipeline 1f1b" pipeline_1f1b.txt timeout 300 "$bin/gpu_pipeline" --model gpt2-124m --stages 4 \
  --microbatches 8 --micro-batch 2 --seq 512 --schedule 1f1b --out "$out"
run "(c) 1-GPU pipeline zbh1" pipeline_zbh1.txt timeout 300 "$bin/gpu_pipeline" --model gpt2-124m --stages 4 \
  --microbatches 8 --micro-batch 2 --seq 512 --schedule zbh1 --out "$out"
run "nccl (1 rank)" nccl.txt timeout 120 "$bin/gpu_nccl"
# The commands on the GPU: single-process training, a plan's two ranks on the
# one GPU (through the executor, host-staged MPI messages), checkpoints.
run "(f) pippy run --model --backend cuda" train_cuda.txt timeout 300 "$bin/pippy" run --model gpt2-tiny --steps 200 \
  --log-every 50 --backend cuda
( cd "$out" && "$bin/pippy" plan --model gpt2-tiny --cluster local --batch 16 --seq 64 --pp 2 --microbatches 8 \
    --schedule 1f1b -o plan-gpu.json --no-db >/dev/null 2>&1 )
run "(f) pippy run --plan --backend cuda" run_plan_cuda.txt timeout 300 "$bin/pippy" run --plan "$out/plan-gpu.json" \
  --steps 20 --backend cuda --checkpoint "$out/ck" --overwrite-checkpoint --checkpoint-every 10 --no-db --trace "$out/run-plan-cuda-trace.json"
run "(f) resume on the GPU" resume_cuda.txt timeout 300 "$bin/pippy" run --plan "$out/plan-gpu.json" --steps 30 \
  --backend cuda --checkpoint "$out/ck" --resume --no-db
run "(f) pippy profile --backend cuda" profile_cuda.txt timeout 300 "$bin/pippy" profile --model gpt2-tiny \
  --micro-batch 4 --seq 64 --ranks 1 --backend cuda --db "$out/gpu.db"

echo; echo "== (e) PyTorch on the same GPU"
step_ms=$(awk '$1 == "step_ms" {print $2}' "$out/gpu_perf.txt" 2>/dev/null)
timeout 300 python3 "$root/tests/gpu/torch_step.py" "$root/configs/models/gpt2-124m.json" 4 1024 ${step_ms:-} 2>&1 | tee "$out/torch.txt"
if grep -q '^SKIP' "$out/torch.txt"; then record "(e) vs PyTorch" "SKIP (no torch+CUDA)"
elif grep -q 'ratio' "$out/torch.txt"; then record "(e) vs PyTorch" "$(grep -o 'ratio.*' "$out/torch.txt")"
else record "(e) vs PyTorch" "FAIL (see torch.txt)"; fi

echo; echo "== ctest (unit + gpu) of the CUDA build"
(cd "$build" && timeout 900 ctest -L 'unit|gpu' --output-on-failure -j 4) 2>&1 | tee "$out/ctest.txt" | tail -15
if grep -q '100% tests passed' "$out/ctest.txt"; then record "ctest unit+gpu" ok; else record "ctest unit+gpu" FAIL; fi

echo; echo "== summary (outputs in $out)"
printf '%-40s %s\n' check result | tee "$out/summary.txt"
fail=0
for i in "${!names[@]}"; do
  printf '%-40s %s\n' "${names[$i]}" "${results[$i]}" | tee -a "$out/summary.txt"
  case ${results[$i]} in FAIL*) fail=1 ;; esac
done
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${gpus:-0}" -gt 0 ] && grep -q '^(a).*SKIP' "$out/summary.txt"; then
  echo "nvidia-smi lists $gpus GPU(s) but the checks skipped: the CUDA backend could not open one" | tee -a "$out/summary.txt"
  fail=1
fi
grep -h '^cupti: op time\|^gemm: measured\|^step F+I+W\|^pipeline: against\|^ratio\|^gpu_ops:' "$out"/*.txt | tee -a "$out/summary.txt"
exit $fail
