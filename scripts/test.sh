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
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TG_FIXTURES="$PWD/tests/fixtures"
if [ "$what" = all ] || [ "$what" = unit ]; then
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
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/integration "$@" || rc=1
fi
# The worker, trigger, approval and audit paths once more against the ASan+UBSan build: a
# memory error there aborts the process and fails the test, and any report in a log fails
# the run. (Leak checking is off for the server: it exits without tearing h2o down.)
if [ "$what" = all ] && [ -x build/asan/tollgate ]; then
  echo "integration under ASan+UBSan (build/asan/tollgate):"
  rm -rf tests/log
  TG_BINARY=build/asan/tollgate ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    "$PYTHON" -m pytest -q -p no:cacheprovider tests/integration \
      -k "deliver or approvals or ops or audit or cases or lifecycle" "$@" || rc=1
  if grep -rlE "AddressSanitizer|LeakSanitizer|runtime error:" tests/log 2>/dev/null; then
    echo "sanitizer reports in the logs above"; rc=1
  fi
fi
exit $rc
