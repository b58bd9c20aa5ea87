#!/usr/bin/env bash
# db_readonly.sh -- `pippy db` reads a database its user may not write
# (a file of another user, chmod 0444, in a folder the user may or may not
# write), and reads it without writing: the file is byte for byte as it was
# and no -wal or -shm file is left beside it. A writer still connected,
# whose last transaction is in its write-ahead log only, is read through
# that log. `pippy db init` on such a file is refused and changes nothing.
#
# Needs: root (the tests run as root) and setpriv, runuser or su to become
# the user nobody; the sqlite3 shell for the connected writer.
source "$(dirname "$0")/lib.bash"
cd "$T"
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root to become another user"; exit 77; }
if command -v setpriv >/dev/null; then
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
elif command -v runuser >/dev/null; then
  as_nobody() { runuser -u nobody -- "$@"; }
else
  echo "skipped: no setpriv or runuser to become the user nobody"
  exit 77
fi
id nobody >/dev/null 2>&1 || { echo "skipped: no user nobody"; exit 77; }
as_nobody true 2>/dev/null || { echo "skipped: cannot run as nobody here"; exit 77; }

chmod 0755 "$T" # mktemp made it 0700: nobody must reach the database
mkdir d
DB=$T/d/pippy.db
"$PIPPY" model gpt2-tiny --db "$DB" >/dev/null
"$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --db "$DB" -o plan.json >/dev/null 2>&1
[ ! -e "$DB-wal" ] && [ ! -e "$DB-shm" ] || fail "a finished writer left -wal or -shm files"
ok
chmod 0444 "$DB"
state() { sha256sum "$DB" | cut -d' ' -f1; stat -c '%s %Y %a %U' "$DB"; ls -A d; }
before=$(state)

# Every listing, with the folder closed to nobody and then open to it.
for mode in 0755 0777; do
  chmod "$mode" d
  run as_nobody "$PIPPY" db --db "$DB"
  expect_rc 0
  expect_out "models: 1"
  expect_out "plans: 1"
  run as_nobody "$PIPPY" db --db "$DB" plans
  expect_rc 0
  expect_out "gpt2-tiny-"
  run as_nobody "$PIPPY" db --db "$DB" models
  expect_rc 0
  expect_out "gpt2-tiny"
  run as_nobody "$PIPPY" db --db "$DB" --json
  expect_rc 0
  expect_out '"models": 1'
  for what in profiles runs; do
    run as_nobody "$PIPPY" db --db "$DB" "$what"
    expect_rc 0
  done
  # Through PIPPY_DB and a relative path as well.
  run as_nobody env PIPPY_DB=d/pippy.db "$PIPPY" db plans
  expect_rc 0
  expect_out "plans: 1"
  [ "$(state)" = "$before" ] || fail "folder $mode: reading changed the database or left files: $(ls -A d)"
  ok
done

# Writing is refused, and nothing changes.
run as_nobody "$PIPPY" db init --db "$DB"
expect_rc 1
expect_err "$DB"
[ "$(state)" = "$before" ] || fail "a refused init changed the database: $(ls -A d)"
ok
chmod 0755 d

# A writer that is still connected, its last transaction committed to the
# write-ahead log only (no checkpoint): the reader sees that transaction.
if command -v sqlite3 >/dev/null; then
  chmod 0644 "$DB" # the owner's file, not nobody's
  mkfifo w.fifo
  sqlite3 -init /dev/null -batch "$DB" <w.fifo >w.out 2>&1 &
  writer=$!
  exec 3>w.fifo
  echo "PRAGMA wal_autocheckpoint = 0;
INSERT INTO models (name, family, hash, n_params, config_json)
  VALUES ('in-the-log', 'gpt2', '$(printf 'ab%.0s' {1..32})', 1, '{}');
SELECT 'committed';" >&3
  for _ in $(seq 100); do grep -q committed w.out 2>/dev/null && break; sleep 0.1; done
  grep -q committed w.out || fail "the writer did not commit: $(cat w.out)"
  [ -s "$DB-wal" ] || fail "the writer's transaction is not in a -wal file"
  ok
  run as_nobody "$PIPPY" db --db "$DB" models
  expect_rc 0
  expect_out "in-the-log"
  expect_out "models: 2"
  exec 3>&-
  wait "$writer"
else
  echo "skipped the connected-writer check: no sqlite3 shell"
fi
finish
