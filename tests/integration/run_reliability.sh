#!/usr/bin/env bash
# run_reliability.sh -- pippy run --plan against a hostile user (issue 13).
#  4. A checkpoint the run did not write is never deleted or overwritten:
#     --resume without 'latest' is an error saying what the folder holds; a
#     run into a folder holding another run's checkpoint is refused unless
#     --overwrite-checkpoint.
#  5. Every checkpoint file carries a SHA-256: 50 overwritten floats in a
#     stage file are found on --resume, the file named, the resume refused.
#  6. An unusable checkpoint folder is refused before step 1.
#  7. An unusable database is refused before step 1; a run the database
#     refuses at the end is written to a JSON file whose path is printed.
#  8. SIGTERM or SIGINT to the launcher stops mpirun and every rank within
#     10 s; the run is stored as interrupted, never ok; SIGINT
#     leaves a checkpoint of the steps done that resumes.
#  9. kill -9 of rank 1 on 4 ranks: the message names rank 1 as the one that
#     died and ranks 0, 2 and 3 as stopped because of it.
source "$(dirname "$0")/lib.bash"
command -v mpirun >/dev/null || fail "no mpirun (Debian package openmpi-bin)"
command -v sqlite3 >/dev/null || fail "no sqlite3 (Debian package sqlite3)"
command -v jq >/dev/null || fail "no jq (Debian package jq)"
cd "$T"
# Processes a failing check may leave behind (the launcher, mpirun, ranks).
pids_left=()
cleanup() {
  for p in "${pids_left[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
no_step() { grep -q "^step " <<<"$out" && fail "a step ran before the refusal: $out"; ok; }
sums() { (cd "$1" && md5sum -- * | sort); }

"$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --microbatches 4 --schedule 1f1b --seq 32 \
  -o plan.json --no-db >/dev/null 2>&1 || fail "pippy plan failed"
"$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --microbatches 2 --schedule gpipe --seq 32 \
  -o other.json --no-db >/dev/null 2>&1 || fail "pippy plan failed"
echo '{"name": "four", "hosts": [{"name": "localhost", "devices": [{"type": "cpu", "model": "cpu", "count": 4, "memory_gib": 8.0}]}]}' >four.json
"$PIPPY" plan --model gpt2-tiny --cluster four.json --batch 8 --pp 4 --microbatches 4 --schedule 1f1b --seq 32 \
  -o plan4.json --no-db >/dev/null 2>&1 || fail "pippy plan (pp 4) failed"

# start_run NAME ARGS...: the launcher in the background, $lp its pid; waits
# for its first step line, then $mp is mpirun's pid and $rp the ranks'.
start_run() {
  local name=$1
  shift
  "$PIPPY" run --plan plan.json --steps 100000 --status-dir "st-$name" --log-every 1 "$@" >"$name.out" 2>"$name.err" &
  lp=$!
  pids_left+=("$lp")
  for _ in $(seq 1 300); do grep -q "^step " "$name.out" && break; sleep 0.1; done
  grep -q "^step " "$name.out" || fail "no step after 30 s: $(cat "$name.err")"
  mp=$(pgrep -P "$lp" | head -1)
  rp=$(cut -d' ' -f1 "st-$name"/rank-*.pid | tr '\n' ' ')
  [ -n "$mp" ] && [ -n "$rp" ] || fail "cannot find mpirun or the ranks"
  pids_left+=("$mp" $rp)
}
# all_gone BOUND PIDS...: every pid gone within BOUND seconds.
all_gone() {
  local bound=$1 alive=""
  shift
  for _ in $(seq 1 $((bound * 10))); do
    alive=""
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive+=" $p"; done
    [ -z "$alive" ] && return 0
    sleep 0.1
  done
  fail "still running ${bound} s after the signal:$alive ($(ps -o pid,args -p "$(echo $alive | tr ' ' ,)" | tail -n +2))"
}
# PP_RR_ONLY=5 (or "4 8") runs only those items.
want() { [ -z "${PP_RR_ONLY:-}" ] || grep -qw "$1" <<<"$PP_RR_ONLY"; }

if want 4; then
# 4a. --resume with 'latest' missing: an error naming what is there; the
#     stage files stay as they were.
run timeout 120 "$PIPPY" run --plan plan.json --steps 6 --stop-after 2 --checkpoint ck --checkpoint-every 2 --no-db
expect_rc 0
rm ck/latest
before=$(sums ck)
run timeout 120 "$PIPPY" run --plan plan.json --steps 6 --checkpoint ck --resume --no-db
expect_rc 1
expect_err "ck: no checkpoint to resume (no 'latest'): the folder holds 2 stage files"
expect_err "stage-0.step-2.ckpt"
no_step
[ "$(sums ck)" = "$before" ] || fail "the stage files changed: $(ls -l ck)"
ok
# ... and a folder that does not exist.
run timeout 120 "$PIPPY" run --plan plan.json --steps 6 --checkpoint nothere --resume --no-db
expect_rc 1
expect_err "nothere: no checkpoint to resume: the folder does not exist"
[ ! -e nothere ] || fail "--resume created the folder it was to resume from"
ok

# 4b. Another run's checkpoint is not written over without
#     --overwrite-checkpoint.
run timeout 120 "$PIPPY" run --plan other.json --steps 6 --stop-after 2 --checkpoint ck2 --checkpoint-every 2 --no-db
expect_rc 0
before=$(sums ck2)
run timeout 120 "$PIPPY" run --plan plan.json --steps 4 --checkpoint ck2 --checkpoint-every 2 --no-db
expect_rc 1
expect_err "ck2 already holds a checkpoint this run did not write: latest (format 2, plan "
expect_err "--overwrite-checkpoint replaces it"
no_step
[ "$(sums ck2)" = "$before" ] || fail "another run's checkpoint changed: $(ls -l ck2)"
ok
run timeout 120 "$PIPPY" run --plan plan.json --steps 4 --checkpoint ck2 --checkpoint-every 2 --no-db --overwrite-checkpoint
expect_rc 0
expect_out "checkpoint: step 4 in ck2"
grep -q "^step 4$" ck2/latest || fail "ck2/latest is not this run's: $(cat ck2/latest)"
ok
[ "$(ls ck2 | sort | tr '\n' ' ')" = "latest stage-0.step-4.ckpt stage-1.step-4.ckpt " ] || fail "ck2 holds $(ls ck2)"
ok
run "$PIPPY" run --plan plan.json --checkpoint ck2 --resume --overwrite-checkpoint --no-db
expect_rc 2

fi
if want 5; then
# 5. 50 overwritten floats in a stage file: refused on resume, file named.
run timeout 120 "$PIPPY" run --plan plan.json --steps 6 --stop-after 2 --checkpoint ck3 --checkpoint-every 2 --no-db
expect_rc 0
python3 - ck3/stage-1.step-2.ckpt <<'EOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(128 + 4 * 300)
    f.write(struct.pack("<50f", *([0.25] * 50)))
EOF
run timeout 120 "$PIPPY" run --plan plan.json --steps 6 --checkpoint ck3 --resume --no-db
expect_rc 1
expect_err "ck3/stage-1.step-2.ckpt: checksum mismatch: the file is damaged"
no_step
# A changed 'latest' is found too.
run timeout 120 "$PIPPY" run --plan plan.json --steps 6 --stop-after 2 --checkpoint ck4 --checkpoint-every 2 --no-db
expect_rc 0
sed -i 's/^stages 2$/stages 2 /' ck4/latest
run timeout 120 "$PIPPY" run --plan plan.json --steps 6 --checkpoint ck4 --resume --no-db
expect_rc 1
expect_err "ck4/latest: checksum mismatch"
no_step

fi
if want 6; then
# 6. An unusable checkpoint folder, found before step 1.
echo "not a folder" >afile
run timeout 120 "$PIPPY" run --plan plan.json --steps 4 --checkpoint afile --checkpoint-every 2 --no-db
expect_rc 1
expect_err "afile: the checkpoint folder is not a folder"
no_step
run timeout 120 "$PIPPY" run --plan plan.json --steps 4 --checkpoint afile/sub --checkpoint-every 2 --no-db
expect_rc 1
expect_err "afile/sub: cannot use the checkpoint folder"
no_step
if [ "$(id -u)" -ne 0 ]; then
  mkdir ro && chmod 555 ro
  run timeout 120 "$PIPPY" run --plan plan.json --steps 4 --checkpoint ro --checkpoint-every 2 --no-db
  expect_rc 1
  expect_err "ro: cannot write in the checkpoint folder"
  no_step
else
  echo "running as root: the read-only folder case is left out (root writes anywhere)"
fi
fi
if want 7; then
# 7. An unusable database, found before step 1 ...
echo "garbage, not SQLite" >bad.db
run timeout 120 "$PIPPY" run --plan plan.json --steps 4 --db bad.db
expect_rc 1
expect_err "bad.db"
no_step
[ "$(cat bad.db)" = "garbage, not SQLite" ] || fail "bad.db was changed"
ok
run timeout 120 "$PIPPY" run --plan plan.json --steps 4 --db nodir/x.db
expect_rc 1
expect_err "nodir/x.db"
no_step
# ... and a database that refuses the run at the end: the run goes to a file.
"$PIPPY" db init --db trig.db >/dev/null
sqlite3 trig.db "CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
run timeout 120 "$PIPPY" run --plan plan.json --steps 3 --db trig.db
expect_rc 1
expect_out "step    3/3"
expect_err "could not store the run in trig.db"
expect_err "refused by the test"
f=$(sed -n 's/.*the run is saved in \(.*\) instead.*/\1/p' <<<"$errout")
[ -n "$f" ] && [ -f "$f" ] || fail "no run file named: $errout"
ok
[ "$(jq -r '.run.steps, (.steps | length), .run.status, (.ranks | length)' "$f" | tr '\n' ' ')" = "3 3 ok 2 " ] ||
  fail "the run file does not hold the run: $(head -c 600 "$f")"
ok
[ "$(jq '.events | length' "$f")" -gt 0 ] || fail "the run file has no events"
ok

fi
if want 8; then
# 8. SIGTERM (then SIGINT) to the launcher mid-run.
start_run term --db sig.db
kill -TERM "$lp"
all_gone 10 "$lp" "$mp" $rp
ok
set +e
wait "$lp"
lrc=$?
set -e
[ "$lrc" -ne 0 ] || fail "the interrupted launcher exited 0"
ok
grep -q "interrupted by SIGTERM" term.err || fail "no word of the interruption: $(cat term.err)"
ok
row=$(sqlite3 sig.db "SELECT status, message, steps > 0 FROM runs")
[ -n "$row" ] || fail "the interrupted run was not stored"
ok
case "$row" in
  ok\|*) fail "the interrupted run was stored as ok: $row" ;;
  "interrupted|interrupted by SIGTERM to pippy run after "*"|1") ok ;;
  *) fail "unexpected run row: $row" ;;
esac
echo "SIGTERM: $row"
start_run int --no-db --checkpoint ck8 --checkpoint-every 1000
kill -INT "$lp"
all_gone 10 "$lp" "$mp" $rp
ok
k=$(sed -n 's/^step \([0-9]*\)$/\1/p' ck8/latest)
[ -n "$k" ] && [ "$k" -ge 1 ] || fail "no checkpoint of the steps done: $(ls ck8; cat int.out)"
ok
run timeout 120 "$PIPPY" run --plan plan.json --steps 100000 --checkpoint ck8 --resume --stop-after 1 --no-db
expect_rc 0
expect_out "resuming from ck8 at step $((k + 1))"

fi
if want 9; then
# 9. kill -9 of rank 1 on 4 ranks: rank 1 died, the others stopped because of it.
"$PIPPY" run --plan plan4.json --steps 100000 --status-dir st9 --timeout 20 --no-db --log-every 1 >k.out 2>k.err &
lp=$!
pids_left+=("$lp")
for _ in $(seq 1 300); do grep -q "^step " k.out && [ -f st9/rank-1.pid ] && break; sleep 0.1; done
grep -q "^step " k.out || fail "no step after 30 s: $(cat k.err)"
pids_left+=($(cut -d' ' -f1 st9/rank-*.pid))
r1=$(cut -d' ' -f1 st9/rank-1.pid)
kill -9 "$r1"
set +e
wait "$lp"
krc=$?
set -e
[ "$krc" -ne 0 ] || fail "the run exited 0 after rank 1 was killed"
ok
expect_k() { grep -qF -- "$1" k.err || fail "stderr lacks '$1': $(cat k.err)"; ok; }
grep -E "rank [023] \(pid [0-9]+ on .*\) (died|ended) without a message" k.err && fail "a stopped rank is reported as dead"
ok
expect_k "ranks 0, 2 and 3 stopped (SIGTERM from mpirun) because rank 1 died"
expect_k "rank 1 (pid $r1 on "
expect_k "died without a message: killed (SIGKILL) or crashed"
echo "killed rank 1 of 4: $(grep -m2 'pippy run: rank' k.err | tr '\n' ' ')"
fi
finish
