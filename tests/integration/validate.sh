#!/usr/bin/env bash
# validate.sh -- `pippy validate` end to end on a small matrix (2 schedules x
# 2 microbatch counts, pp 2 under mpirun): every configuration is profiled,
# planned, simulated and run; the table has a row per configuration with a
# prediction and a measurement; the runs and plans are in the database; the
# predicted peak memory per rank is within 15% of the measured one (the
# engine's allocations are replayed exactly; message buffers are not).
# Times are not asserted: this machine is shared (bench figures are in the
# closing note, from `pippy validate` on a quiet machine).
source "$(dirname "$0")/lib.bash"
cd "$T"
run timeout 300 "$PIPPY" validate --model gpt2-tiny --micro-batch 2 --seq 32 --schedules 1f1b,zbh1 \
  --microbatches 2,4 --steps 3 -o val --db v.db
echo "$out" | tail -8
expect_rc 0
expect_out "4 configurations: |predicted - measured| / measured iteration time: median"
for s in "1f1b            2" "1f1b            4" "zbh1            2" "zbh1            4"; do
  expect_out "$s"
done
[ "$(sqlite3 v.db 'SELECT count(*) FROM runs')" = 4 ] || fail "expected 4 runs stored"
ok
[ "$(sqlite3 v.db 'SELECT count(*) FROM plans')" -ge 4 ] || fail "expected 4 plans stored"
ok
mem=$(sed -n 's/.*peak memory per rank: median [0-9.]*%, max \([0-9.]*\)%.*/\1/p' <<<"$out")
[ -n "$mem" ] || fail "no memory error in: $out"
awk -v m="$mem" 'BEGIN { exit !(m <= 15) }' || fail "predicted peak memory off by $mem% (> 15%)"
ok
[ -f val/plan-zbh1-m4.json ] || fail "no plan file"
ok
run "$PIPPY" validate --schedules nosuch -o val2 --db v.db
expect_rc 2
expect_err "nosuch"
finish
