#!/bin/sh
# Runs the libFuzzer harnesses built by fuzz/build.sh, one at a time, each for a bounded time.
#   fuzz/run.sh SECONDS [NAME...]      (default: every harness in fuzz/harnesses)
# For each harness: first every reproducer in fuzz/regressions/NAME/ is replayed (a crash there fails at once),
# then the fuzzer runs for SECONDS over a working corpus (.build-fuzz/corpus/NAME, kept between runs, seeded
# from fuzz/corpus/NAME). Crashes, timeouts and out-of-memory inputs go to .build-fuzz/artifacts/NAME/.
# Prints one summary line per harness: executions, exec/s, cov (edges) and ft (features) reached.
# Environment: FUZZ_OUT (default .build-fuzz), FUZZ_FLAGS (extra libFuzzer flags).
set -u
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:?usage: fuzz/run.sh SECONDS [NAME...]}
shift
OUT=${FUZZ_OUT:-.build-fuzz}
NAMES=${*:-$(for h in fuzz/harnesses/*.swift; do basename "$h" .swift; done)}
# The Swift runtime's crash backtracer waits on a sanitized, crashing process: ASan and libFuzzer report instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:handle_abort=1}
status=0
summary=""
for name in $NAMES; do
  bin=$OUT/fuzz-$name
  [ -x "$bin" ] || { echo "fuzz: $bin is missing (run fuzz/build.sh)"; exit 2; }
  work=$OUT/corpus/$name
  art=$OUT/artifacts/$name
  mkdir -p "$work" "$art"
  log=$OUT/$name.log
  if [ -d "fuzz/regressions/$name" ] && [ -n "$(ls -A "fuzz/regressions/$name" 2>/dev/null)" ]; then
    if ! "$bin" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=30 "fuzz/regressions/$name"/* >"$log.regressions" 2>&1; then
      echo "fuzz: $name: a reproducer in fuzz/regressions/$name fails again:"; grep -E "ERROR|SUMMARY|Running|property|Fatal" "$log.regressions" | head -20
      status=1; continue
    fi
  fi
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_FLAGS:-} "$work" "fuzz/corpus/$name" >"$log" 2>&1
  rc=$?
  last=$(grep -E "^#[0-9]+" "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  line=$(printf "%-16s %4ss  execs %-9s exec/s %-6s cov %-6s ft %-6s" "$name" "$SECONDS_EACH" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}")
  if [ $rc -ne 0 ]; then
    line="$line  FAILED (exit $rc; log $log)"
    grep -E "ERROR|SUMMARY|property|Fatal|Test unit written" "$log" | head -10
    status=1
  fi
  echo "$line"
  summary="$summary$line
"
done
echo "---- fuzzing summary"
printf "%s" "$summary"
exit $status
