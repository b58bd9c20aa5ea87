#!/usr/bin/env bash
# Set up, build, and run every test (unit, integration; GPU tests skip with
# a message where no GPU is present).
#   scripts/test.sh              normal build in build/, all tests
#   scripts/test.sh --sanitize   AddressSanitizer + UBSan build in build-asan/, unit tests
#                                (CPU code only: the CUDA runtime and ASan's shadow memory do not mix,
#                                and host sanitizers cannot see device code)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
jobs=$(nproc 2>/dev/null || echo 2)
if [ "${1:-}" = "--sanitize" ]; then
  bash "$root/scripts/build.sh" build-asan -DPIPPY_SANITIZE=address,undefined -DPIPPY_WERROR=ON -DPIPPY_CUDA=OFF
  cd "$root/build-asan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest -L unit --output-on-failure -j "$jobs"
else
  bash "$root/scripts/build.sh" build -DPIPPY_WERROR=ON
  cd "$root/build"
  ctest --output-on-failure -j "$jobs"
fi
