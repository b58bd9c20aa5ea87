#!/usr/bin/env bash
# bench/exec_efficiency.sh -- is the pipeline's overlap real? On 2 ranks
# with one core each, the measured throughput of the best 1F1B plan against
# its ideal: single-process throughput x 2 x (1 - predicted bubble), both
# measured in the same run, rounds alternating (the machine is shared).
#
#   bash bench/exec_efficiency.sh [BUILD_DIR]
#     MODEL=gpt2-124m MB=1 SEQ=64 M=8 STEPS=4 ROUNDS=3
#
# 1. pippy profile: the model's ops at MB x SEQ on this machine (a private
#    database in a temporary folder);
# 2. pippy plan --pp 2 --schedule 1f1b: the split balanced on those costs,
#    and the predicted bubble (idle / (ranks x iteration), imbalance included);
# 3. per round: pippy run --model (one process, one thread, the same global
#    batch in M microbatches of MB) and pippy run --plan (2 ranks, one thread
#    each); each figure is the median step time of steps 2..STEPS (step 1
#    pays page faults), then the median over rounds.
# Prints tokens/s of both, the ideal, and measured/ideal (goal >= 0.95).
# The OpenBLAS kernel is the one OPENBLAS_CORETYPE selects (as set here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
model=${MODEL:-gpt2-124m}
mb=${MB:-1}
seq=${SEQ:-64}
m=${M:-8}
steps=${STEPS:-4}
rounds=${ROUNDS:-3}
pippy="$build/bin/pippy"
[ -x "$pippy" ] || { echo "no $pippy: build first (scripts/build.sh)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pp_eff.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
db="$tmp/bench.db"
batch=$((mb * m))
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Median step time (ms) of steps 2.. from pippy run's step lines.
step_ms() { awk '/^step /{ split($2, s, "/"); if (s[1] + 0 >= 2) print $(NF - 1) }' | median; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "model $model, global batch $batch = $m microbatches of $mb x $seq tokens, 1 thread per rank"
"$pippy" profile --model "$model" --micro-batch "$mb" --seq "$seq" --ranks 1 --no-check --db "$db" | tail -n 2
"$pippy" plan --model "$model" --cluster local --batch "$batch" --seq "$seq" --pp 2 --microbatches "$m" \
  --schedule 1f1b --db "$db" -o "$tmp/plan.json" --no-db | grep -E "chosen|predicted"
bubble=$(sed -n 's/.*"bubble_fraction": *\([0-9.eE+-]*\).*/\1/p' "$tmp/plan.json" | head -1)
[ -n "$bubble" ] || { echo "no predicted bubble in the plan" >&2; exit 1; }
tokens=$((batch * seq))
printf '\n%-6s %14s %14s %14s %10s\n' round "single tok/s" "pipeline tok/s" "ideal tok/s" "meas/ideal"
single=()
pipe=()
for r in $(seq 1 "$rounds"); do
  s=$("$pippy" run --model "$model" --batch "$batch" --microbatches "$m" --seq "$seq" --steps "$steps" | step_ms)
  p=$("$pippy" run --plan "$tmp/plan.json" --steps "$steps" --no-db | step_ms)
  single+=("$s")
  pipe+=("$p")
  awk -v s="$s" -v p="$p" -v b="$bubble" -v t="$tokens" -v r="$r" \
    'BEGIN { st = t / s * 1e3; pt = t / p * 1e3; id = st * 2 * (1 - b); printf "%-6s %14.0f %14.0f %14.0f %10.3f\n", r, st, pt, id, pt / id }'
done
s=$(printf '%s\n' "${single[@]}" | median)
p=$(printf '%s\n' "${pipe[@]}" | median)
awk -v s="$s" -v p="$p" -v b="$bubble" -v t="$tokens" \
  'BEGIN { st = t / s * 1e3; pt = t / p * 1e3; id = st * 2 * (1 - b);
           printf "%-6s %14.0f %14.0f %14.0f %10.3f\n", "median", st, pt, id, pt / id;
           printf "\nsingle process %.1f ms per step, pipeline %.1f ms, predicted bubble %.4f: measured / ideal = %.3f (goal >= 0.95)\n", s, p, b, pt / id }'
