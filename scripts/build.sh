#!/usr/bin/env bash
# Configures and builds pippy. Usage: scripts/build.sh [BUILD_DIR] [cmake -D options...]
# BUILD_DIR defaults to build/. Extra arguments go to cmake, e.g.
#   scripts/build.sh build-asan -DPIPPY_SANITIZE=address,undefined
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
[ $# -gt 0 ] && shift
case $dir in /*) ;; *) dir=$root/$dir ;; esac
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$dir"
log=$dir/configure.log
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$log" 2>&1 || {
  cat "$log" >&2
  exit 1
}
grep '^-- pippy' "$log" || true
cmake --build "$dir" -j "$jobs"
