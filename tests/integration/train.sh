#!/usr/bin/env bash
# train.sh -- `pippy run` without a plan trains gpt2-tiny on the default
# corpus: the loss falls well below the unigram entropy of the text (both
# printed), every family trains a few steps, and bad options are refused.
source "$(dirname "$0")/lib.bash"

run "$PIPPY" run --model gpt2-tiny --steps 300 --log-every 100
expect_rc 0
expect_out "step  300/300"
expect_out "unigram entropy of the data:"
entropy=$(sed -n 's/^unigram entropy of the data: \([0-9.]*\) nats.*/\1/p' <<<"$out")
final=$(sed -n 's/^loss: first step [0-9.]*, last [0-9]* steps \([0-9.]*\) nats.*/\1/p' <<<"$out")
[ -n "$entropy" ] && [ -n "$final" ] || fail "no entropy or final loss in: $out"
# "Well below": at least 15% under the unigram entropy.
awk -v f="$final" -v h="$entropy" 'BEGIN { exit !(f < 0.85 * h) }' || fail "final loss $final is not well below the unigram entropy $entropy"
ok
echo "gpt2-tiny: final loss $final nats vs unigram entropy $entropy nats"

# Same seed, same run: bit-identical losses.
run "$PIPPY" run --model llama-tiny --steps 5 --batch 4 --microbatches 2
expect_rc 0
first=$out
run "$PIPPY" run --model llama-tiny --steps 5 --batch 4 --microbatches 2
[ "$(grep '^step' <<<"$first" | sed 's/ *[0-9]* tokens.*//')" = "$(grep '^step' <<<"$out" | sed 's/ *[0-9]* tokens.*//')" ] ||
  fail "two runs with the same seed differ"
ok

# Every family trains: the loss after 30 steps is below the first step's.
for m in bert-tiny t5-tiny; do
  run "$PIPPY" run --model "$m" --steps 30 --log-every 100
  expect_rc 0
  first=$(sed -n 's/^loss: first step \([0-9.]*\),.*/\1/p' <<<"$out")
  final=$(sed -n 's/^loss: first step [0-9.]*, last [0-9]* steps \([0-9.]*\) nats.*/\1/p' <<<"$out")
  awk -v f="$final" -v s="$first" 'BEGIN { exit !(f < s) }' || fail "$m: loss $first -> $final did not fall"
  ok
done

# A user's text file and a token file.
printf 'the quick brown fox jumps over the lazy dog. %.0s' {1..200} >"$T/fox.txt"
run "$PIPPY" run --model gpt2-tiny --steps 3 --data "$T/fox.txt"
expect_rc 0
expect_out "data: $T/fox.txt"
printf '\x01\x00\x02\x01' >"$T/big.u16"   # tokens 1 and 258: 258 does not fit vocab 256
run "$PIPPY" run --model gpt2-tiny --steps 1 --data "$T/big.u16"
expect_rc 1
expect_err "token 258 does not fit model 'gpt2-tiny' (vocab_size 256)"

# Usage errors.
run "$PIPPY" run --steps 3
expect_rc 2
expect_err "--plan or --model is required"
run "$PIPPY" run --model gpt2-tiny --batch 5 --microbatches 2
expect_rc 2
expect_err "--batch 5 is not a multiple of --microbatches 2"
run "$PIPPY" run --model gpt2-tiny --seq 65
expect_rc 1
expect_err "exceeds its 64 positions"
run "$PIPPY" run --model gpt2-tiny --data "$T/nowhere.txt"
expect_rc 1
expect_err "nowhere.txt: cannot open"
finish
