#!/usr/bin/env bash
# json.sh -- --json on every command: each prints one JSON document on
# stdout (nothing else there) whose fields say what the text says, and its
# human text, where it has one, goes to stderr.
source "$(dirname "$0")/lib.bash"
cd "$T"
command -v python3 >/dev/null || fail "python3 is needed to read the JSON outputs"
# get PATH: a value of the JSON on stdout, by a Python subscript path.
get() { python3 -c "import json,sys; d=json.loads(sys.stdin.read()); p=sys.argv[1]; print(eval('d'+p if p[0]=='[' else p))" "$1" <<<"$out"; }
is() { [ "$(get "$1")" = "$2" ] || fail "$3: $1 is $(get "$1"), not $2: $out"; ok; }

# pippy model
run "$PIPPY" model gpt2-tiny --json
expect_rc 0
is "['model']['name']" gpt2-tiny "model"
# pippy check: every file, good and bad, with its kind
"$PIPPY" schedule generate 1f1b --pp 2 --microbatches 4 -o s.csv >/dev/null
printf 'not json' >bad.json
run "$PIPPY" check --json s.csv bad.json
expect_rc 1
is "[0]['ok']" True "check s.csv"
is "[0]['kind']" schedule "check s.csv"
is "[1]['ok']" False "check bad.json"
grep -q 'bad.json:1:1' <<<"$(get "[1]['error']")" || fail "check: the error does not name the file and place: $out"
ok
# pippy schedule show / check / generate
run "$PIPPY" schedule show s.csv --json
expect_rc 0
is "['ranks']" 2 "schedule show"
is "len(d['cells'][0])" 8 "schedule show: rank 0's cells"
run "$PIPPY" schedule check s.csv --json
expect_rc 0
is "['valid']" True "schedule check"
run "$PIPPY" schedule generate zbh1 --pp 2 --microbatches 4 -o z.csv --json
expect_rc 0
is "['output']" z.csv "schedule generate"
run "$PIPPY" schedule generate zbh1 --pp 2 --microbatches 4 --json
expect_rc 2
# pippy plan, sim, db
run "$PIPPY" plan --model gpt2-tiny --cluster local --batch 8 --pp 2 --microbatches 4 --schedule 1f1b -o p.json --json
expect_rc 0
pred=$(get "['prediction']['iteration_s']")
run "$PIPPY" sim --plan p.json --json
expect_rc 0
is "['iteration_s']" "$pred" "sim --plan"
# pippy run --plan: the JSON on stdout, the step text on stderr
run timeout 300 "$PIPPY" run --plan p.json --steps 3 --json
expect_rc 0
is "['predicted_iteration_s']" "$pred" "run --plan"
is "['steps']" 3 "run --plan"
is "len(d['ranks'])" 2 "run --plan"
expect_err "measured:"
id=$(get "['run']")
run "$PIPPY" db run "$id" --json
expect_rc 0
is "['run']['id']" "$id" "db run"
# pippy run --model
run timeout 300 "$PIPPY" run --model gpt2-tiny --steps 2 --batch 2 --microbatches 1 --seq 16 --json
expect_rc 0
is "len(d['step_results'])" 2 "run --model"
is "['model']" gpt2-tiny "run --model"
expect_err "training gpt2-tiny"
# pippy report
run "$PIPPY" report --plan p.json -o rep --json
expect_rc 0
is "['predicted']['iteration_s']" "$pred" "report"
finish
