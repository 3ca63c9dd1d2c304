#!/bin/sh
# fuzz.sh -- run every libFuzzer target in build/fuzz for a bounded time.
#
# usage: scripts/fuzz.sh [SECONDS]   (per target; default 60)
# Seeds come from tests/fuzz/corpus/<target>/ (committed); what a run discovers goes to
# build/fuzz/corpus/<target>/ so the committed seeds stay small. A crash fails the run and
# leaves its reproducer in build/fuzz/.
set -u
cd "$(dirname "$0")/.."
secs=${1:-60}
passed=0 failed=0
for bin in build/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  work=build/fuzz/corpus/$name
  mkdir -p "$work"
  seeds=tests/fuzz/corpus/$name
  [ -d "$seeds" ] || seeds=
  echo "== $name (${secs}s)"
  if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
      -artifact_prefix=build/fuzz/"$name"- "$work" $seeds >build/fuzz/"$name".log 2>&1; then
    passed=$((passed + 1)); tail -1 build/fuzz/"$name".log
  else
    failed=$((failed + 1)); echo "FAILED: $name (see build/fuzz/$name.log)"; tail -30 build/fuzz/"$name".log
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
