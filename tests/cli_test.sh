#!/usr/bin/env bash
# End-to-end test of the `jetgrad` program: help, a one-epoch run and its files, resume equals an
# uninterrupted run, Ctrl-C keeps the run whole, check, and clear errors for bad input.
# Usage: tests/cli_test.sh <path to jetgrad>
set -uo pipefail
JETGRAD="${1:?usage: cli_test.sh <path to the jetgrad program>}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/jetgrad-cli.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
failures=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; failures=$((failures + 1)); }

# A tiny, fast run: 600 training / 200 test images, one hidden layer of 8, light curvature metrics.
TINY=(--hidden 8 --limit-train 600 --limit-test 200 --batch-size 50 --curvature-batch 64 --lanczos-steps 4
      --trace-samples 3 --flatness-steps 1)

# expect_error <name> <message fragment> <command...>: non-zero exit, one "jetgrad: error:" line, no crash.
expect_error() {
  local name="$1" fragment="$2"; shift 2
  local out status
  out="$("$@" 2>&1 >/dev/null)"; status=$?
  if [[ $status -ne 0 && $status -lt 128 && "$out" == "jetgrad: error:"*"$fragment"* && $(printf '%s\n' "$out" | wc -l) -eq 1 ]]; then
    pass "$name (exit $status: $out)"
  else
    fail "$name: exit $status, stderr: $out"
  fi
}

# --- help --------------------------------------------------------------------------------------------
for cmd in "" train compare curvature check; do
  if "$JETGRAD" $cmd --help | grep -q "Usage"; then pass "jetgrad $cmd --help"; else fail "jetgrad $cmd --help"; fi
done

# --- one epoch, the files and metrics.json keys ---------------------------------------------------------
if "$JETGRAD" train "${TINY[@]}" --epochs 1 --out "$WORK/one" >"$WORK/one.log" 2>&1; then
  pass "train 1 epoch"
else
  fail "train 1 epoch: $(cat "$WORK/one.log")"
fi
for f in metrics.json metrics.csv checkpoint.jgt config.json loss.svg accuracy.svg curvature.svg; do
  [[ -s "$WORK/one/$f" ]] && pass "writes $f" || fail "writes $f"
done
for key in '"config"' '"epochs"' '"epoch"' '"train_loss"' '"train_accuracy"' '"test_loss"' '"test_accuracy"' \
           '"grad_norm"' '"hessian_top_eigenvalue"' '"hessian_trace"' '"first_order_flatness"' '"seconds"'; do
  grep -q "$key" "$WORK/one/metrics.json" && pass "metrics.json has $key" || fail "metrics.json lacks $key"
done
if grep -q '"hessian_trace": null' "$WORK/one/metrics.json"; then fail "curvature metrics missing"; else pass "curvature metrics present"; fi
grep -q '<svg' "$WORK/one/loss.svg" && pass "loss.svg is SVG" || fail "loss.svg is not SVG"

# --- resume equals an uninterrupted run (every number but the seconds) ----------------------------------
# A constant learning rate: the default cosine schedule spans --epochs, which the resume changes.
"$JETGRAD" train "${TINY[@]}" --optimizer sam --schedule constant --epochs 3 --out "$WORK/full" >/dev/null 2>&1
"$JETGRAD" train "${TINY[@]}" --optimizer sam --schedule constant --epochs 1 --out "$WORK/part" >/dev/null 2>&1
"$JETGRAD" train --resume "$WORK/part" --epochs 3 >"$WORK/resume.log" 2>&1
if [[ -s "$WORK/full/metrics.csv" ]] && diff <(cut -d, -f1-9 "$WORK/full/metrics.csv") <(cut -d, -f1-9 "$WORK/part/metrics.csv") >/dev/null; then
  pass "resume gives the numbers of an uninterrupted run"
else
  fail "resume differs: $(diff <(cut -d, -f1-9 "$WORK/full/metrics.csv") <(cut -d, -f1-9 "$WORK/part/metrics.csv") 2>&1; cat "$WORK/resume.log")"
fi

# --- Ctrl-C: the run stays whole and resumable ---------------------------------------------------------------
"$JETGRAD" train "${TINY[@]}" --epochs 1000 --out "$WORK/int" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do [[ -s "$WORK/int/metrics.csv" ]] && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"; status=$?
epochs_done=$(($(wc -l <"$WORK/int/metrics.csv") - 1))
if [[ $status -eq 130 ]] && ! ls "$WORK/int" | grep -q '\.tmp\.' && [[ $epochs_done -ge 1 ]] &&
   "$JETGRAD" train --resume "$WORK/int" --epochs $((epochs_done + 1)) >/dev/null 2>&1 &&
   [[ $(($(wc -l <"$WORK/int/metrics.csv") - 1)) -eq $((epochs_done + 1)) ]]; then
  pass "Ctrl-C leaves a whole, resumable run (exit 130 after $epochs_done epochs)"
else
  fail "Ctrl-C: exit $status, files: $(ls "$WORK/int")"
fi

# --- curvature on the checkpoint ---------------------------------------------------------------------------------
if "$JETGRAD" curvature "$WORK/one" --lanczos-steps 5 --trace-samples 3 --density-steps 5 --flatness-steps 1 \
     --landscape 2d --landscape-points 5 >"$WORK/curv.log" 2>&1 &&
   [[ -s "$WORK/one/curvature.json" && -s "$WORK/one/landscape_2d.svg" && -s "$WORK/one/hessian_density.svg" ]]; then
  pass "curvature"
else
  fail "curvature: $(cat "$WORK/curv.log")"
fi

# --- check -------------------------------------------------------------------------------------------------------------
if "$JETGRAD" check --order 3 >"$WORK/check.log" 2>&1; then pass "check exits 0"; else fail "check: $(cat "$WORK/check.log")"; fi

# --- bad input -----------------------------------------------------------------------------------------------------------
expect_error "unknown flag" "--no-such-flag" "$JETGRAD" train --no-such-flag
expect_error "unknown command" "frobnicate" "$JETGRAD" frobnicate
expect_error "--hidden 0" "--hidden" "$JETGRAD" train --hidden 0 --out "$WORK/bad"
expect_error "cnn too deep" "--hidden" "$JETGRAD" train --model cnn --hidden 4,4,4,4,4,4 --out "$WORK/bad"
expect_error "missing data file" "no-such.csv" "$JETGRAD" train --data "$WORK/no-such.csv" --out "$WORK/bad"
printf 'not,a,number\n1,2,x\n' >"$WORK/bad.csv"
expect_error "corrupt CSV" "bad.csv" "$JETGRAD" train --data "$WORK/bad.csv" --out "$WORK/bad"
# IDX files: the shipped subset, its training images truncated.
SUBSET="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/data/fashion-mnist-subset"
mkdir -p "$WORK/badidx"
cp "$SUBSET"/*.gz "$WORK/badidx/"
head -c 5000 "$SUBSET/train-images-idx3-ubyte.gz" >"$WORK/badidx/train-images-idx3-ubyte.gz"
expect_error "truncated IDX file" "train-images" "$JETGRAD" train --data "$WORK/badidx" --out "$WORK/bad"
expect_error "IDX directory without the files" "train-" "$JETGRAD" train --data "$WORK" --out "$WORK/bad"
expect_error "checkpoint of another model" "another model" "$JETGRAD" curvature "$WORK/one/checkpoint.jgt" --hidden 16
cp "$WORK/one/checkpoint.jgt" "$WORK/corrupt.jgt"
printf 'garbage' | dd of="$WORK/corrupt.jgt" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_error "corrupt checkpoint" "corrupt.jgt" "$JETGRAD" curvature "$WORK/corrupt.jgt" --hidden 8
expect_error "resume of a non-run" "config.json" "$JETGRAD" train --resume "$WORK/nothing-here"
expect_error "resume with other flags" "--resume" "$JETGRAD" train --resume "$WORK/one" --lr 0.5
expect_error "overwrite a run" "--force" "$JETGRAD" train "${TINY[@]}" --epochs 1 --out "$WORK/one"

if [[ $failures -eq 0 ]]; then echo "cli_test: all passed"; else echo "cli_test: $failures failed"; exit 1; fi
