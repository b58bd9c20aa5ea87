#!/usr/bin/env bash
# dispatch.sh -- `pippy X` runs pippy-X; every command answers --help with
# exit 0; an unknown command or option says so and exits non-zero.
source "$(dirname "$0")/lib.bash"
run "$PIPPY" --help
expect_rc 0
expect_out "usage: pippy <command>"
expect_out "model"
for exe in "$PIPPY_BIN"/pippy-*; do
  cmd=${exe##*/pippy-}
  run "$PIPPY" "$cmd" --help
  expect_rc 0
  expect_out "usage: pippy $cmd"
  run "$PIPPY" help "$cmd"
  expect_rc 0
  expect_out "usage: pippy $cmd"
  run "$exe" --no-such-option
  expect_rc 2
  expect_err "pippy $cmd:"
done
run "$PIPPY" frobnicate
expect_rc 127
expect_err "unknown command 'frobnicate'"
run "$PIPPY"
expect_rc 2
run "$PIPPY" --version
expect_rc 0
expect_out "pippy 0.1.0"
finish
