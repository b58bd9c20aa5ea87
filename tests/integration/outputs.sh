#!/usr/bin/env bash
# outputs.sh -- what stands at an output path is respected, and a database
# that cannot be used is an error before any work (issue 13, items 2 and 3):
#   - a symbolic link is written through (its target replaced, the link
#     kept), a dangling one creates its target;
#   - a character device or a FIFO is written through, never replaced;
#   - a directory is refused; an existing file keeps its permissions;
#   - an output equal to an input (sim --trace = --plan, model --dot =
#     CONFIG, plan -o = --db, schedule convert -o = its input) is refused
#     and the input is unchanged;
#   - pippy plan on another program's database, a corrupt one, a newer
#     schema or a read-only file exits 1 naming it, writes no plan, and
#     --no-db opens no database at all.
source "$(dirname "$0")/lib.bash"
cd "$T"
gen() { run "$PIPPY" schedule generate 1f1b --pp 2 --microbatches 4 -o "$1"; }
"$PIPPY" schedule generate 1f1b --pp 2 --microbatches 4 -o expected.csv

# A symbolic link: the target is replaced, the link stays a link.
echo old >target.csv
ln -s target.csv link.csv
gen link.csv
expect_rc 0
[ -L link.csv ] || fail "the link link.csv was replaced by a regular file"
ok
cmp -s target.csv expected.csv || fail "the link's target does not hold the schedule"
ok
# A dangling link creates its target.
ln -s made.csv dangling.csv
gen dangling.csv
expect_rc 0
[ -L dangling.csv ] && cmp -s made.csv expected.csv || fail "a dangling link did not create its target"
ok

# An existing file keeps its permissions.
cp expected.csv private.csv
chmod 600 private.csv
gen private.csv
expect_rc 0
[ "$(stat -c %a private.csv)" = 600 ] || fail "private.csv changed mode to $(stat -c %a private.csv)"
ok

# A FIFO is written through: the reader gets the text, the FIFO stays.
mkfifo pipe
cat pipe >from-pipe &
reader=$!
gen pipe
expect_rc 0
wait "$reader"
[ -p pipe ] || fail "the FIFO was replaced"
ok
cmp -s from-pipe expected.csv || fail "the FIFO's reader did not get the schedule"
ok

# A character device (our own null and full devices, so that a regression
# cannot replace the real ones): written through, never replaced; a write
# error is reported.
if mknod null c 1 3 2>/dev/null && mknod full c 1 7 2>/dev/null; then
  gen null
  expect_rc 0
  [ -c null ] || fail "the device node 'null' was replaced by a regular file"
  ok
  run "$PIPPY" model gpt2-tiny --no-db --dot full
  expect_rc 1
  expect_err "full: write error: No space left on device"
  [ -c full ] || fail "the device node 'full' was replaced by a regular file"
  ok
else
  echo "skipped the device-node checks: mknod is not permitted here"
fi

# A directory is refused.
mkdir adir
gen adir
expect_rc 1
expect_err "adir: is a directory, not a regular file"
[ -d adir ] || fail "adir is gone"
ok

# An output that is an input is refused, and the input is unchanged.
"$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --no-db -o plan.json >/dev/null
cp plan.json plan.orig
run "$PIPPY" sim --plan plan.json --trace plan.json
expect_rc 2
expect_err "--trace plan.json is the same file as --plan plan.json"
cmp -s plan.json plan.orig || fail "pippy sim overwrote its plan"
ok
run "$PIPPY" run --plan plan.json --steps 1 --no-db --trace plan.json
expect_rc 2
expect_err "--trace plan.json is the same file as --plan plan.json"
cmp -s plan.json plan.orig || fail "pippy run overwrote its plan"
ok
ln -s plan.json plan-link.json
run "$PIPPY" sim --plan plan.json --trace plan-link.json
expect_rc 2
cmp -s plan.json plan.orig || fail "pippy sim overwrote its plan through a link"
ok
cp "$PP_SOURCE_DIR/configs/models/gpt2-tiny.json" model.json
run "$PIPPY" model model.json --no-db --dot model.json
expect_rc 2
expect_err "--dot model.json is the same file as CONFIG model.json"
cmp -s model.json "$PP_SOURCE_DIR/configs/models/gpt2-tiny.json" || fail "pippy model overwrote its config"
ok
"$PIPPY" db init --db keep.db >/dev/null
cp keep.db keep.orig
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --db keep.db -o keep.db
expect_rc 2
expect_err "-o keep.db is the same file as --db keep.db"
cmp -s keep.db keep.orig || fail "pippy plan overwrote its database"
ok
run "$PIPPY" schedule convert expected.csv -o expected.csv
expect_rc 2
expect_err "is the same file as"

# Databases pippy plan cannot use: exit 1 naming the file, no plan written;
# --no-db opens none of them.
sqlite3 other.db "CREATE TABLE foo(x); INSERT INTO foo VALUES (1);"
head -c 8192 /dev/urandom >corrupt.db
"$PIPPY" db init --db newer.db >/dev/null
sqlite3 newer.db "PRAGMA user_version = 999"
for d in other.db corrupt.db newer.db; do
  cp "$d" "$d.orig"
  rm -f p.json
  run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --db "$d" -o p.json
  expect_rc 1
  expect_err "pippy plan: $d:"
  [ ! -e p.json ] || fail "pippy plan wrote p.json although $d cannot be used"
  ok
  run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --db "$d" --no-db -o p.json
  expect_rc 0
  [ -s p.json ] || fail "pippy plan --no-db wrote no plan beside $d"
  ok
  cmp -s "$d" "$d.orig" || fail "$d changed"
  ok
done
# --no-store reads the database (an unusable one is still an error) and
# stores nothing.
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --db corrupt.db --no-store -o p.json
expect_rc 1
expect_err "pippy plan: corrupt.db:"
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --db keep.db --no-store -o ns.json
expect_rc 0
[ "$(sqlite3 keep.db 'SELECT count(*) FROM plans')" = 0 ] || fail "--no-store stored the plan"
ok
# A read-only database file, for a user who cannot write it.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
  chmod 0755 "$T"   # mktemp made it 0700: the other user must reach the database
  mkdir rodir
  "$PIPPY" db init --db rodir/ro.db >/dev/null
  chmod 0444 rodir/ro.db
  chmod 0777 rodir
  run as_nobody "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --db rodir/ro.db -o rodir/p.json
  expect_rc 1
  expect_err "rodir/ro.db: cannot be written"
  [ ! -e rodir/p.json ] || fail "pippy plan wrote its plan although the database is read-only"
  ok
else
  echo "skipped the read-only database check: needs root and setpriv to become another user"
fi
finish
