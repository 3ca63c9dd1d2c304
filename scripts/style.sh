#!/bin/sh
# style.sh -- the mechanical style rules of the C tree; `make test` runs it, `make format` fixes
# what it can.
#
# usage: scripts/style.sh [check|fix]
#   formatting   clang-format (.clang-format) leaves every file as it is
#   width        no line is longer than 100 characters (clang-format cannot break every one)
# Exit 0 when every rule holds; otherwise each fault is printed as file:line: rule.
set -u
cd "$(dirname "$0")/.."
files=$(ls gateway/*/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] 2>/dev/null)
if [ "${1:-check}" = fix ]; then
  clang-format -i $files
  exit 0
fi
rc=0
if ! clang-format --dry-run --Werror $files 2>/tmp/style.$$; then
  grep -E '^[^ ].*: (error|warning):' /tmp/style.$$ | sed 's/: error: .*/: not formatted (make format)/' | sort -u | head -50
  rc=1
fi
rm -f /tmp/style.$$
# Characters, not bytes: the drawings in comments use box-drawing characters.
python3 - $files <<'PY' || rc=1
import sys
bad = 0
for path in sys.argv[1:]:
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            if len(line.rstrip('\n')) > 100:
                print('%s:%d: longer than 100 characters' % (path, n))
                bad += 1
sys.exit(1 if bad else 0)
PY
[ $rc = 0 ] && echo "style: $(echo $files | wc -w) files formatted, every line within 100 characters"
exit $rc
