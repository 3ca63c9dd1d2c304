#!/bin/sh
# style.sh -- the mechanical style rules of the C tree; `make test` runs it, `make format` fixes
# what it can.
#
# usage: scripts/style.sh [check|fix]
#   formatting   clang-format (.clang-format) leaves every file as it is
#   width        no line is longer than 100 characters (clang-format cannot break every one)
#   commas       no statements chained with the comma operator (`return refuse(...), -1;`,
#                `a = x, b = y;`): scripts/commas.py over clang's AST, in the folders of
#                COMMA_CHECKED; without clang, a regex finds the `return f(...), -1;` form
#   layering     gateway/decide/ includes only base/ and decide/ headers (it decides; the I/O
#                that feeds it lives in deliver/ and cmd/)
# Exit 0 when every rule holds; otherwise each fault is printed as file:line: rule.
set -u
cd "$(dirname "$0")/.."
# The folders (and single files) the comma rule holds in so far; the rest of gateway/ joins
# as it is cleaned up, until this is simply gateway/*/*.c.
COMMA_CHECKED="gateway/decide/*.c gateway/audit/*.c gateway/api/*.c gateway/cmd/audit_cmd.c
  gateway/cmd/check.c gateway/cmd/cli.c gateway/cmd/eval_cmd.c gateway/cmd/main.c
  gateway/cmd/replay_cmd.c gateway/cmd/report_cmd.c gateway/cmd/serve.c"
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
if grep -nE '#include "' gateway/decide/*.[ch] | grep -vE '#include "(base|decide)/'; then
  echo "style: gateway/decide/ includes a header outside base/ and decide/ (above)"
  rc=1
fi
comma_files=$(ls $COMMA_CHECKED 2>/dev/null)
if command -v clang >/dev/null 2>&1; then
  scripts/commas.py $(pkg-config --cflags libh2o-evloop hiredis jansson libcurl yaml-0.1 yajl \
    libzstd 2>/dev/null) -Igateway $comma_files || rc=1
elif grep -nE 'return [^;]*\), *-?[0-9A-Za-z_]+;' $comma_files; then
  echo "style: statements chained with a comma (above)"
  rc=1
fi
[ $rc = 0 ] && echo "style: $(echo $files | wc -w) files formatted, every line within 100 characters, no comma-chained statements in $(echo $comma_files | wc -w) files"
exit $rc
