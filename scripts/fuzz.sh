#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ with clang and runs each for
# a while; prints per harness the executions and the crashes found.
#   scripts/fuzz.sh [SECONDS] [HARNESS...]
# SECONDS per harness (default 600); HARNESS among json, model, cluster,
# plan, schedule, trace (default all, one after the other). Installs clang
# when it is missing (scripts/setup.sh --fuzz). Build and corpora live in
# build-fuzzers/ (PIPPY_FUZZ_DIR moves it): bin/fuzz_<h>, corpus/<h>/ (the
# seeds from the repo's real files, plus what libFuzzer found; kept between
# runs), crashes/<h>/ (crash-*, leak-*, timeout-*, oom-* inputs). Replay one
# with `build-fuzzers/bin/fuzz_<h> FILE`. Exit status: 0 when no harness
# crashed, 1 when one did, 2 on bad usage or a failed build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
all=(json model cluster plan schedule trace)
secs=600
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  secs=$1
  shift
fi
[ "$secs" -ge 1 ] || { echo "fuzz: SECONDS must be at least 1" >&2; exit 2; }
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  [[ " ${all[*]} " == *" $h "* ]] || { echo "fuzz: unknown harness '$h' (one of: ${all[*]})" >&2; exit 2; }
done

bash "$root/scripts/setup.sh" --fuzz
dir=${PIPPY_FUZZ_DIR:-$root/build-fuzzers}
case $dir in /*) ;; *) dir=$root/$dir ;; esac
mkdir -p "$dir"
log=$dir/configure.log
if ! cmake -S "$root/tests/fuzz" -B "$dir" -DCMAKE_C_COMPILER=clang >"$log" 2>&1 ||
   ! cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" >>"$log" 2>&1; then
  cat "$log" >&2
  echo "fuzz: build failed (log: $log)" >&2
  exit 2
fi

shared=${PP_SHARED_DIR:-$root/../shared}
# seeds HARNESS: the repo's real files of that kind.
seeds() {
  case $1 in
    json) ls "$root"/configs/models/*.json "$root"/configs/clusters/*.json "$root"/tests/data/*.json \
             "$root"/tests/fuzz/seeds/plan/* "$root"/tests/fuzz/seeds/trace/* ;;
    model) ls "$root"/configs/models/*.json ;;
    cluster) ls "$root"/configs/clusters/*.json ;;
    plan) ls "$root"/tests/data/*.json "$root"/tests/fuzz/seeds/plan/* ;;
    schedule) ls "$root"/tests/fuzz/seeds/schedule/*; ls "$shared"/compat/pytorch-schedules/*.csv 2>/dev/null || true ;;
    trace) ls "$root"/tests/fuzz/seeds/trace/* ;;
  esac
  if [ -d "$root/tests/fuzz/regress/$1" ]; then ls -d "$root/tests/fuzz/regress/$1"/* 2>/dev/null || true; fi
}
dict() {
  case $1 in
    schedule) echo "$root/tests/fuzz/schedule.dict" ;;
    *) echo "$root/tests/fuzz/json.dict" ;;
  esac
}

crashed=0
summary=()
for h in "${harnesses[@]}"; do
  corpus=$dir/corpus/$h
  arts=$dir/crashes/$h
  mkdir -p "$corpus" "$arts"
  seeds "$h" | while read -r f; do cp -f "$f" "$corpus/seed-$(basename "$f")"; done
  ls "$arts" | sort >"$dir/.before"
  echo "fuzz: $h for ${secs} s ($(ls "$corpus" | wc -l) inputs in $corpus)"
  set +e
  "$dir/bin/fuzz_$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict="$(dict "$h")" -artifact_prefix="$arts/" "$corpus" >"$dir/$h.log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$h.log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$dir/$h.log" | tail -1 | tr -d '#')
  new=$(ls "$arts" | sort | comm -13 "$dir/.before" -)
  if [ "$rc" -ne 0 ] || [ -n "$new" ]; then
    crashed=1
    files=$(for f in $new; do printf '%s ' "$arts/$f"; done)
    line="$h: ${execs:-?} executions, crashes: $(wc -w <<<"$new") ${files:-(exit $rc, see $dir/$h.log)}"
    grep -m1 -E 'ERROR: |runtime error: |fuzz: .*check failed' "$dir/$h.log" | sed 's/^/    /' >&2 || true
  else
    line="$h: ${execs:-?} executions, crashes: 0"
  fi
  echo "$line"
  summary+=("$line")
done
echo "fuzz: summary (${secs} s per harness; logs in $dir/<harness>.log)"
printf '  %s\n' "${summary[@]}"
exit $crashed
