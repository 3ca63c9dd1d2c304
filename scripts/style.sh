#!/bin/sh
# style.sh -- the mechanical style rules of the C tree; `make test` runs it, `make format` fixes
# what it can.
#
# usage: scripts/style.sh [check|fix|loop|curl [FILE...]]
#   formatting   clang-format (.clang-format) leaves every file as it is
#   width        no line is longer than 100 characters (clang-format cannot break every one)
#   loop         code that runs on an event loop never blocks: no file on the loop includes,
#                directly or through gateway headers, the blocking Redis helpers
#                (base/redisconn.h), libcurl (<curl/curl.h>) or its wrapper
#                (base/httpclient.h), nor calls blocking hiredis (redisConnect*, redisCommand*,
#                redisGetReply, ...: only redisAsync* is allowed). The loop's files: every
#                gateway/http/*.[ch], gateway/api/api_route.c (the API routes' loop side),
#                plus TG_LOOP_DIRS (space-separated directories, for the rule's own test).
#                `scripts/style.sh loop` runs this rule alone.
#   commas       no statements chained with the comma operator (`return refuse(...), -1;`,
#                `a = x, b = y;`): scripts/commas.py over clang's AST, in every file of
#                COMMA_CHECKED; without clang, a regex finds the `return f(...), -1;` form
#   layering     gateway/decide/ includes only base/ and decide/ headers (it decides; the I/O
#                that feeds it lives in deliver/ and cmd/)
#   libcurl      only gateway/base/httpclient.c includes <curl/curl.h>: every HTTP client call
#                goes through base/httpclient.h (one set-up of timeouts, protocols, TLS, and
#                curl_global_init called once, by tg_httpc_global_init).
#                `scripts/style.sh curl [FILE...]` runs this rule alone (on FILEs: its test)
# Exit 0 when every rule holds; otherwise each fault is printed as file:line: rule.
set -u
cd "$(dirname "$0")/.."
# The comma rule holds in every C file of gateway/.
COMMA_CHECKED="gateway/*/*.c"

# loop_rule: prints each fault as file:line: rule; exit 1 when there is one.
loop_rule() {
  python3 - gateway ${TG_LOOP_DIRS:-} <<'PY'
import glob, os, re, sys
root, extra = sys.argv[1], sys.argv[2:]
BLOCKING = {
    'base/redisconn.h': 'blocking Redis helpers (use http/redis_loop.h)',
    'curl/curl.h': 'libcurl blocks (pool or worker threads only)',
    'base/httpclient.h': 'the libcurl wrapper blocks (pool or worker threads only)',
}
CALL = re.compile(r'\b(redis(?:Connect\w*|Command\w*|vCommand\w*|GetReply\w*|AppendCommand\w*'
                  r'|BufferRead|BufferWrite|Reconnect|SetTimeout))\s*\(')
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
def includes(path):
    try:
        with open(path, encoding='utf-8') as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if m:
                    yield n, m.group(1)
    except OSError:
        return
def reaches(header, seen, here):
    """The chain of headers from header (included from directory here) to a blocking one."""
    if header in BLOCKING:
        return [header]
    local = os.path.join(here, header)
    path = local if os.path.exists(local) else os.path.join(root, header)
    if path in seen:
        return None
    seen.add(path)
    for _, inc in includes(path):
        chain = reaches(inc, seen, os.path.dirname(path))
        if chain:
            return [header] + chain
    return None
files = sorted(glob.glob(root + '/http/*.[ch]')) + [root + '/api/api_route.c']
for d in extra:
    files += sorted(glob.glob(d.rstrip('/') + '/*.[ch]'))
bad = 0
for path in files:
    for n, inc in includes(path):
        chain = reaches(inc, set(), os.path.dirname(path))
        if chain:
            via = ' (via %s)' % ' -> '.join(chain[:-1]) if len(chain) > 1 else ''
            print('%s:%d: runs on the event loop, must not include %s%s: %s'
                  % (path, n, chain[-1], via, BLOCKING[chain[-1]]))
            bad += 1
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            code = line.split('//')[0]
            m = CALL.search(code)
            if m and not code.lstrip().startswith(('*', '/*')):
                print('%s:%d: runs on the event loop, must not call blocking hiredis %s '
                      '(use http/redis_loop.h)' % (path, n, m.group(1)))
                bad += 1
sys.exit(1 if bad else 0)
PY
}

# curl_rule FILES: prints each libcurl include outside base/httpclient.c as file:line: rule.
curl_rule() {
  ! grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]curl/' $1 /dev/null |
    grep -v '^gateway/base/httpclient\.c:' |
    sed 's|$|: only gateway/base/httpclient.c includes libcurl (use base/httpclient.h)|' | grep .
}

if [ "${1:-check}" = curl ]; then
  shift
  curl_rule "${*:-$(ls gateway/*/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] 2>/dev/null)}" &&
    echo "style: libcurl only in gateway/base/httpclient.c"
  exit $?
fi
if [ "${1:-check}" = loop ]; then
  loop_rule && echo "style: event-loop files include no blocking helper"
  exit $?
fi
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
curl_rule "$files" || rc=1
comma_files=$(ls $COMMA_CHECKED 2>/dev/null)
if command -v clang >/dev/null 2>&1; then
  scripts/commas.py $(pkg-config --cflags libh2o-evloop hiredis jansson libcurl yaml-0.1 yajl \
    libzstd 2>/dev/null) -Igateway $comma_files || rc=1
elif grep -nE 'return [^;]*\), *-?[0-9A-Za-z_]+;' $comma_files; then
  echo "style: statements chained with a comma (above)"
  rc=1
fi
loop_rule || rc=1
[ $rc = 0 ] && echo "style: $(echo $files | wc -w) files formatted, every line within 100 characters, no comma-chained statements in $(echo $comma_files | wc -w) files, libcurl only in base/httpclient.c, event-loop files include no blocking helper"
exit $rc
