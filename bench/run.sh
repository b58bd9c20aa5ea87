#!/usr/bin/env bash
# bench/run.sh -- pippy against PyTorch 1.13 (Debian's python3-torch, CPU)
# in the same run: one training step (F + I + W of one microbatch) of
# gpt2-124m at micro-batch 4 x seq 64 and of a mid-size config
# (gpt2-355m), same shapes, same thread count, medians of REPS repetitions
# each, printed as pippy/PyTorch; the GFLOP/s of each GEMM shape against the
# single-core sgemm peak and the OpenBLAS kernel that ran; and the peak RSS
# of a training step against params + grads + AdamW state + kept activations.
#
#   bash bench/run.sh [BUILD_DIR]   (REPS=5 ROUNDS=3 THREADS=1 KERNELS="set detected"
#                                    MODELS="gpt2-124m gpt2-355m")
#
# The machine is shared and noisy: each figure is the median over ROUNDS
# rounds, pippy and PyTorch alternating, of the median of REPS steps.
#
# KERNELS: "set" keeps OPENBLAS_CORETYPE as the machine sets it; "detected"
# unsets it (and OPENBLAS_L2_SIZE) so OpenBLAS picks the CPU's own kernel.
# Each figure says which kernel it used.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
reps=${REPS:-5}
rounds=${ROUNDS:-3}
threads=${THREADS:-1}
kernels=${KERNELS:-set detected}
models=${MODELS:-gpt2-124m gpt2-355m}
bench="$build/bin/bench_step"
[ -x "$bench" ] || { echo "no $bench: build first (scripts/build.sh)" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "PyTorch is not installed (apt-get install python3-torch)" >&2; exit 1; }

val() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }
runenv() {
  if [ "$1" = detected ]; then shift; env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; else shift; "$@"; fi
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '\n%-10s %-11s %-7s %-11s %11s %11s %12s  %s\n' model kernel threads "rounds x reps" "pippy ms" "torch ms" "pippy/torch" "per round"
for k in $kernels; do
  for m in $models; do
    for t in $threads; do
      pms=() qms=() ratios=()
      for r in $(seq "$rounds"); do
        p=$(runenv "$k" "$bench" --model "$m" --micro-batch 4 --seq 64 --threads "$t" --reps "$reps")
        q=$(runenv "$k" /usr/bin/python3 "$root/bench/torch_step.py" --model "$m" --micro-batch 4 --seq 64 --threads "$t" --reps "$reps")
        pm=$(val step_ms "$(grep '^result step_ms' <<<"$p")")
        qm=$(val step_ms "$(grep '^result step_ms' <<<"$q")")
        pms+=("$pm") qms+=("$qm") ratios+=("$(awk -v a="$pm" -v b="$qm" 'BEGIN { printf "%.3f", a / b }')")
        kern=$(val kernel "$p")
      done
      pmed=$(printf '%s\n' "${pms[@]}" | median)
      qmed=$(printf '%s\n' "${qms[@]}" | median)
      printf '%-10s %-11s %-7s %-13s %11.1f %11.1f %12.3f  %s\n' "$m" "$kern" "$t" "${rounds}x$reps" "$pmed" "$qmed" \
        "$(awk -v a="$pmed" -v b="$qmed" 'BEGIN { print a / b }')" "${ratios[*]}"
    done
  done
done

echo
echo "GEMM shapes of gpt2-124m (micro-batch 4 x seq 64), one thread, against the single-core sgemm peak:"
for k in $kernels; do
  g=$(runenv "$k" "$bench" --model gpt2-124m --micro-batch 4 --seq 64 --threads 1 --reps 1 --gemm)
  echo "  kernel $(val kernel "$g"): peak (2048^3) $(val gemm_peak_2048 "$g") GFLOP/s"
  grep '^result gemm M=' <<<"$g" | sed 's/^result gemm /    /'
done

echo
echo "Memory: peak RSS of a training step (F, I, W, AdamW) of gpt2-124m, micro-batch 4 x seq 64:"
mem=$("$bench" --model gpt2-124m --micro-batch 4 --seq 64 --threads 1 --reps 2 --memory)
echo "  predicted (params + grads + AdamW m, v + kept activations) $(val predicted_bytes "$mem") bytes," \
  "peak RSS $(val rss_peak_bytes "$mem") bytes, ratio $(val rss_over_predicted "$mem")"
