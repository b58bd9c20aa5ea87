#!/usr/bin/env bash
# exec.sh -- the executor under mpirun.
#  1. Equality: every schedule (GPipe, 1F1B, interleaved v=2, looped BFS,
#     ZB-H1, ZB-H2, ZBV, DualPipeV, and PyTorch's tables in ../shared/compat)
#     on 2 and 4 ranks, and pp=2 x dp=2, for gpt2-tiny (tied embedding),
#     llama-tiny and t5-tiny (skip connections): loss, gradient norm and
#     every parameter after 3 steps equal one process (pp_mpi_exec_test);
#     a run with another seed must fail the same check.
#  2. pippy run --plan: starts mpirun itself, stores the run; a run stopped
#     after 3 of 6 steps and resumed from its checkpoint gives the same
#     losses as an uninterrupted run, bit for bit.
#  3. Failure: a rank killed with SIGKILL mid-run ends the run within the
#     timeout, non-zero, naming the rank that died and the one stopped
#     because of it; its last checkpoint resumes. A NaN
#     on one rank stops every rank with a message naming it. A launch that
#     does not match the plan, or another plan's checkpoint, is refused.
source "$(dirname "$0")/lib.bash"
command -v mpirun >/dev/null || fail "no mpirun (Debian package openmpi-bin)"
command -v sqlite3 >/dev/null || fail "no sqlite3 (Debian package sqlite3)"
cd "$T"
mpi=(mpirun --oversubscribe)
[[ $(id -u) -eq 0 ]] && mpi+=(--allow-run-as-root)

# 1. Equality.
for args in "-np 2" "-np 4" "-np 4 --dp"; do
  set -- $args
  run timeout 600 "${mpi[@]}" "$1" "$2" "$PIPPY_BIN/pp_mpi_exec_test" ${3:-}
  echo "$out" | grep -E "^(OK|FAIL)|configurations"
  expect_rc 0
  expect_out "0 failed"
  n=$(grep -c "^OK " <<<"$out")
  [ "$n" -ge 24 ] || fail "only $n configurations passed with $args"
  ok
  case "$args" in
    "-np 2") expect_out "OK   t5-tiny pytorch:zb1p_2rank_2stagep_comms.csv pp=2" ;;
    "-np 4") expect_out "OK   t5-tiny pytorch:dualpipev_4rank_10mb.csv pp=4" ;;
    *) expect_out "OK   t5-tiny dualpipev pp=2 dp=2" ;;
  esac
done
run timeout 300 "${mpi[@]}" -np 2 "$PIPPY_BIN/pp_mpi_exec_test" --control --only 1f1b
expect_rc 0
expect_out "3 configurations, 3 failed (control: all must fail)"

# 2. pippy run --plan, and resume bit for bit.
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --microbatches 4 --schedule 1f1b \
  --seq 32 -o plan.json --no-db
expect_rc 0
run timeout 120 "$PIPPY" run --plan plan.json --steps 6 --db run.db --trace trace.json
expect_rc 0
expect_out "running gpt2-tiny"
expect_out "step    6/6"
expect_out "run 1 stored in run.db (6 steps"
expect_out "rank 1 ("
[ -s trace.json ] || fail "no trace written"
ok
run "$PIPPY" check trace.json
expect_rc 0
run "$PIPPY" db runs --db run.db
expect_rc 0
expect_out "1f1b"
run timeout 120 "$PIPPY" run --plan plan.json --steps 6 --stop-after 3 --checkpoint ck --checkpoint-every 3 --db run.db
expect_rc 0
expect_out "checkpoint: step 3 in ck"
[ -f ck/latest ] && [ -f ck/stage-0.step-3.ckpt ] && [ -f ck/stage-1.step-3.ckpt ] || fail "checkpoint files missing: $(ls ck)"
ok
run timeout 120 "$PIPPY" run --plan plan.json --steps 6 --checkpoint ck --resume --db run.db
expect_rc 0
expect_out "resuming from ck at step 4"
q() { sqlite3 run.db "SELECT printf('%.17g', loss) FROM run_steps WHERE run_id = $1 AND step >= 3 ORDER BY step"; }
a=$(q 1)
b=$(q 3)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "resumed losses differ: uninterrupted [$a] resumed [$b]"
ok
[ "$(wc -l <<<"$a")" -eq 3 ] || fail "expected 3 resumed steps, got [$a]"
ok

# 2b. PyTorch's table with explicit sends and receives, planned from its CSV
#     and run through pippy run (its RECV cells post, the compute waits).
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 16 --seq 32 --no-db -o csvplan.json \
  --schedule-csv "$PP_SHARED_DIR/compat/pytorch-schedules/zb1p_2rank_2stagep_comms.csv"
expect_rc 0
expect_out "csv:zb1p_2rank_2stagep_comms, 8 microbatches of 2"
run timeout 120 "$PIPPY" run --plan csvplan.json --steps 3 --no-db
expect_rc 0
expect_out "step    3/3"
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 16 --pp 2 --no-db -o x.json \
  --schedule-csv "$PP_SHARED_DIR/compat/pytorch-schedules/zb1p_2rank_2stagep_comms.csv"
expect_rc 2
expect_err "--schedule-csv fixes ranks"

# 3a. A rank killed mid-run.
"$PIPPY" run --plan plan.json --steps 100000 --checkpoint ck2 --checkpoint-every 2 --status-dir st --timeout 20 \
  --no-db --log-every 1000 >k.out 2>k.err &
pk=$!
for _ in $(seq 1 300); do [ -f ck2/latest ] && [ -f st/rank-1.pid ] && break; sleep 0.1; done
[ -f ck2/latest ] || fail "no checkpoint after 30 s: $(cat k.err)"
ok
sleep 0.5
kill -9 "$(cut -d' ' -f1 st/rank-1.pid)"
t0=$(date +%s)
set +e
wait $pk
krc=$?
set -e
t1=$(date +%s)
[ "$krc" -ne 0 ] || fail "the run exited 0 after a rank was killed"
ok
[ $((t1 - t0)) -le 30 ] || fail "the run took $((t1 - t0)) s to end after a rank was killed (bound 30 s)"
ok
grep -q "rank 1" k.err || fail "the message does not name rank 1: $(cat k.err)"
ok
grep -q "rank 0 stopped (SIGTERM from mpirun) because rank 1 died" k.err ||
  fail "rank 0 is not reported as stopped because rank 1 died: $(cat k.err)"
ok
echo "killed rank 1: the run ended in $((t1 - t0)) s; stderr: $(grep -m2 'rank 1' k.err)"
done_steps=$(sed -n 's/^step \([0-9]*\)$/\1/p' ck2/latest)
run timeout 120 "$PIPPY" run --plan plan.json --steps 100000 --checkpoint ck2 --resume --stop-after 2 --no-db
expect_rc 0
expect_out "resuming from ck2 at step $((done_steps + 1))"

# 3b. A NaN on rank 1 at step 2.
PIPPY_INJECT_NAN=1,2 run timeout 120 "$PIPPY" run --plan plan.json --steps 4 --no-db
expect_rc 1
expect_err "rank 1, step 2: the loss is not finite"
grep -q "step    2/4" <<<"$out" && fail "step 2 was reported as done"
ok

# 3c. Launches that do not match: 3 ranks for a 2-rank plan; a config
#     whose hash is not the plan's; another plan's checkpoint.
run timeout 60 "${mpi[@]}" -np 3 "$PIPPY_BIN/pippy-run" --plan plan.json --steps 2 --no-db
[ "$rc" -ne 0 ] || fail "a 2-rank plan ran on 3 ranks"
ok
expect_err "the plan needs 2 ranks (pp 2 x dp 1), but this run has 3"
sed 's/"d_model": 32/"d_model": 48/' plan.json >bad.json
run timeout 60 "$PIPPY" run --plan bad.json --steps 2 --no-db
expect_rc 1
expect_err "bad.json"
"$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --microbatches 2 --schedule gpipe --seq 32 \
  -o other.json --no-db >/dev/null
run timeout 60 "$PIPPY" run --plan other.json --steps 6 --checkpoint ck --resume --no-db
expect_rc 1
expect_err "the checkpoint is of plan"
finish
