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
exit $rc
