#!/usr/bin/env bash
# Installs the Debian packages pippy needs, only those missing, and says
# which. Idempotent; run as root (or with sudo available) on Debian 12.
#   scripts/setup.sh          what building and testing need
#   scripts/setup.sh --fuzz   that and clang (libFuzzer), for scripts/fuzz.sh
set -euo pipefail

PACKAGES=(
  cmake gcc make pkg-config          # build
  libsqlite3-dev sqlite3             # db/ (the sqlite3 shell for tests)
  check                              # unit tests
  libopenblas-dev                    # kernels/ (CPU GEMMs)
  libopenmpi-dev openmpi-bin         # comm/ (MPI)
  libglpk-dev                        # planner/ (MILP)
  gnuplot-nox                        # reports/ (charts)
  python3                            # tests/integration (reads the commands' JSON)
)
if [ "${1:-}" = "--fuzz" ]; then
  PACKAGES+=(clang libclang-rt-14-dev) # tests/fuzz: clang 14, libFuzzer and the sanitizer runtimes
fi
# With a CUDA toolkit, nvcc compiles the host side of kernels/cuda/ with g++.
if [ -x /usr/local/cuda/bin/nvcc ] || command -v nvcc >/dev/null 2>&1; then
  PACKAGES+=(g++)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: need root to install ${missing[*]} (run as root or install sudo)" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: installed ${missing[*]}"
