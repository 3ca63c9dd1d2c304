#!/bin/sh
# test.sh -- run the unit tests (plain and under ASan+UBSan), then the integration tests.
#
# usage: scripts/test.sh [unit|integration] [pytest args...]
# Ends with a summary line so a run that tested nothing is visible.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
what=${1:-all}
[ $# -gt 0 ] && shift
passed=0 failed=0
# pytest's own closing line is folded into the run's total: "N passed, N failed" ends make test.
py_passed=0 py_failed=0
pytest_run() {
  out=$(mktemp)
  { "$PYTHON" -m pytest -q -rs -p no:cacheprovider "$@"; echo $? >"$out.rc"; } 2>&1 | tee "$out"
  st=$(cat "$out.rc")
  last=$(grep -E '[0-9]+ (passed|failed|errors?)' "$out" | tail -n 1)
  for word in passed failed error errors; do
    n=$(echo "$last" | grep -oE "[0-9]+ $word\b" | grep -oE '[0-9]+')
    case $word in passed) py_passed=$((py_passed + ${n:-0})) ;; *) py_failed=$((py_failed + ${n:-0})) ;; esac
  done
  rm -f "$out" "$out.rc"
  return "$st"
}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TG_FIXTURES="$PWD/tests/fixtures"
if [ "$what" = all ] || [ "$what" = unit ]; then
  if scripts/style.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: style"; fi
  for t in build/test/test_* build/asan/test_*; do
    [ -x "$t" ] || continue
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
  done
  echo "unit: $passed passed, $failed failed"
  [ "$passed" -gt 0 ] || { echo "unit: no unit tests ran"; exit 1; }
fi
rc=0
[ "$failed" = 0 ] || rc=1
if [ "$what" = all ] || [ "$what" = integration ]; then
  mkdir -p tests/log
  pytest_run tests/integration "$@" || rc=1
fi
# The fault-and-abuse suite's short form: counts and bounds only (no latency figures, no timing
# margins); `make chaos` runs the full form.
if [ "$what" = all ] || [ "$what" = integration ]; then
  echo "chaos, short form (tests/chaos/run.py --short):"
  "$PYTHON" tests/chaos/run.py --short || rc=1
fi
# The worker, trigger, approval, audit and console paths once more against the ASan+UBSan build: a
# memory error there aborts the process and fails the test, and any report in a log fails
# the run. (Leak checking is off for the server: it exits without tearing h2o down.)
if [ "$what" = all ] && [ -x build/asan/tollgate ]; then
  echo "integration under ASan+UBSan (build/asan/tollgate):"
  rm -rf tests/log
  saved_asan=$ASAN_OPTIONS
  export TG_BINARY=build/asan/tollgate ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
  pytest_run tests/integration -k "deliver or approvals or ops or audit or cases or events or lifecycle or console" "$@" || rc=1
  export ASAN_OPTIONS="$saved_asan"; unset TG_BINARY
  if grep -rlE "AddressSanitizer|LeakSanitizer|runtime error:" tests/log 2>/dev/null; then
    echo "sanitizer reports in the logs above"; rc=1
  fi
fi
[ "$rc" = 0 ] || [ $((failed + py_failed)) -gt 0 ] || py_failed=$((py_failed + 1))  # a run that stopped early
echo "$((passed + py_passed)) passed, $((failed + py_failed)) failed"
exit $rc
