#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each one for
# SECONDS (default 20). Exits non-zero if any target crashes, printing the
# path of the crashing input. The seed corpus in fuzz/corpus/ is only read:
# each target fuzzes a copy in build-fuzz/corpus/<target>/ (kept between local
# runs, so longer runs build on earlier ones).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]    env: FUZZ_BUILD (default build-fuzz), JOBS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
# Readable stack traces in crash reports (llvm-14 from install-deps.sh --fuzz).
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" && -x /usr/lib/llvm-14/bin/llvm-symbolizer ]]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi

seconds="${1:-20}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(fuzz_envelope fuzz_queue_patch fuzz_api_request); fi
build="${FUZZ_BUILD:-build-fuzz}"
jobs="${JOBS:-2}"

if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DTREEFLOW_FUZZ=ON \
    -DTREEFLOW_TESTS=OFF -DTREEFLOW_EXAMPLES=OFF >/dev/null
fi
cmake --build "$build" --target "${targets[@]}" -j "$jobs"

failed=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t/"
  log="$build/logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  echo "== $t: ${seconds}s (corpus $corpus, log $log)"
  set +e
  # FUZZ_RUNS (CI): a fixed number of inputs from a fixed seed, so a run is
  # reproducible and a red CI means a regression, not a new random find.
  extra=()
  [[ -n "${FUZZ_RUNS:-}" ]] && extra=(-runs="$FUZZ_RUNS" -seed=1)
  "$build/fuzz/$t" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
  rc=$?
  set -e
  # The last status line (execs, coverage, corpus) and the final stats.
  grep -E '^#[0-9]+' "$log" | tail -n 1 || true
  grep -E 'stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
  if ((rc != 0)); then
    failed=1
    echo "!! $t FAILED (exit $rc); the end of $log:" >&2
    tail -n 40 "$log" >&2
    inputs=$(grep -oE 'Test unit written to .*' "$log" | sed 's/Test unit written to //' || true)
    echo "!! crashing input: ${inputs:-<none written>}" >&2
    echo "!! reproduce: $build/fuzz/$t ${inputs:-<input>}" >&2
  fi
done
exit "$failed"
