#!/usr/bin/env bash
# links.sh -- the link benchmark (profiler/pp_linkprof.h over comm/) under
# mpirun with 2 ranks: both ordered pairs (all of them, 2 of 2), 0->1 and
# 1->0, come back with a positive latency alpha, a positive bandwidth beta
# and a finite relative residual, and the run exits 0 within 120 s.
#
# Env: PIPPY_BIN, the directory holding the built executables.
# Needs: mpirun (Debian package openmpi-bin), timeout (coreutils).
source "$(dirname "$0")/lib.bash"
[[ -x "$PIPPY_BIN/pp_mpi_links_test" ]] || fail "no pp_mpi_links_test in $PIPPY_BIN"
command -v mpirun >/dev/null || fail "no mpirun (Debian package openmpi-bin)"

mpi_flags=(-np 2)
[[ $(id -u) -eq 0 ]] && mpi_flags+=(--allow-run-as-root)
mpirun --help 2>&1 | grep -q -- --oversubscribe && mpi_flags+=(--oversubscribe)

run timeout 120 mpirun "${mpi_flags[@]}" "$PIPPY_BIN/pp_mpi_links_test"
echo "$out"
[[ -n "$errout" ]] && echo "$errout" >&2
[[ $rc -ne 124 ]] || fail "the link benchmark ran past 120 s"
expect_rc 0
expect_out "ranks 2, under mpirun: yes"
expect_out "pairs measured: 2 of 2"

for pair in "0->1" "1->0"; do
  line=$(grep -F "link $pair host " <<<"$out") || fail "no result for pair $pair"
  ok
  awk -v pair="$pair" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      a = v["alpha_us"]; b = v["beta_GBps"]; r = v["residual"]
      if (a == "" || b == "" || r == "") { print "FAIL: " pair ": missing fields: " $0 > "/dev/stderr"; exit 1 }
      if (!(a + 0 > 0)) { print "FAIL: " pair ": alpha " a " us is not positive" > "/dev/stderr"; exit 1 }
      if (!(b + 0 > 0)) { print "FAIL: " pair ": beta " b " GB/s is not positive" > "/dev/stderr"; exit 1 }
      if (r ~ /nan|inf/ || !(r + 0 >= 0)) { print "FAIL: " pair ": residual " r " is not finite" > "/dev/stderr"; exit 1 }
  }' <<<"$line" || fail "bad figures for $pair: $line"
  ok
done
# The all-reduce benchmark: a positive latency and bandwidth, the same fit
# on every rank.
line=$(grep -F "allreduce alpha_us=" <<<"$out") || fail "no all-reduce result"
ok
awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if (!(v["alpha_us"] + 0 >= 0) || !(v["beta_GBps"] + 0 > 0) || v["same_on_all_ranks"] != "yes") exit 1
}' <<<"$line" || fail "bad all-reduce figures: $line"
ok
finish
