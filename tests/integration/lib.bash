# lib.bash -- shared helpers for the integration scripts (sourced, not run).
# Env: PIPPY_BIN, the directory holding the built pippy and pippy-* tools;
# PP_SOURCE_DIR, the source tree; PP_SHARED_DIR, ../shared beside it.
set -euo pipefail
: "${PIPPY_BIN:?PIPPY_BIN must name the directory with the built pippy executables}"
: "${PP_SOURCE_DIR:?PP_SOURCE_DIR must name the source tree}"
PIPPY="$PIPPY_BIN/pippy"
T=$(mktemp -d "${TMPDIR:-/tmp}/pp_it.XXXXXX")
trap 'rm -rf "$T"' EXIT
unset PIPPY_DB
export PIPPY_DB="$T/test.db"
checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }
# run CMD...: stdout in $out, stderr in $errout, exit status in $rc.
run() {
  set +e
  "$@" >"$T/.out" 2>"$T/.err"
  rc=$?
  set -e
  out=$(cat "$T/.out")
  errout=$(cat "$T/.err")
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "expected exit $1, got $rc: $errout"; ok; }
expect_out() { grep -qF -- "$1" <<<"$out" || fail "stdout lacks '$1': $out"; ok; }
expect_err() { grep -qF -- "$1" <<<"$errout" || fail "stderr lacks '$1': $errout"; ok; }
finish() { echo "$checks passed, 0 failed"; }
