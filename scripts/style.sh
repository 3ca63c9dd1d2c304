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
#                (base/httpclient.h), nor calls a blocking function: blocking hiredis (only
#                redisAsync* is allowed), libc that sleeps, waits or reads files (sleep,
#                usleep, nanosleep, pthread_cond_wait/timedwait, pthread_join, fopen, fread,
#                fgets, getline, read, system, popen, ...), tg_read_file, tg_yaml_open,
#                tg_config_load, tg_dirlist, the families tg_redis_*, tg_httpc_*, tg_queue_*,
#                tg_audit_* (but for the loop-safe members LOOP_SAFE lists) and every tg_
#                function a gateway header declares with a redisContext. The loop's files:
#                every gateway/http/*.[ch], gateway/api/api_route.c (the API routes' loop
#                side), gateway/console/pages.c and console_auth.c,
#                gateway/approvals/button_context.c (the Mattermost gate's check), plus
#                TG_LOOP_DIRS (space-separated directories, for the rule's own test); a
#                function in them under a line `/* off the loop */` is exempt (the main
#                thread runs it). In
#                the files holding loop-side functions among pool-side ones (MARKED: the
#                route gates in api/, console/console.c, approvals/chat_message.c;
#                DIR/marked/*.c of TG_LOOP_DIRS), each function under a line `/* loop */` is
#                checked for blocking calls.
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
# Calls that block, by name: blocking hiredis (only redisAsync* is loop-safe), libc that sleeps,
# waits or reads files, and Tollgate's blocking helpers. The tg_ families are forbidden whole
# (tg_redis_*, tg_httpc_*, tg_queue_*, tg_audit_*) except the loop-safe members listed here;
# every tg_ function a gateway header declares with a redisContext is forbidden too.
BLOCKING_CALLS = re.compile(
    r'redis(?:Connect\w*|Command\w*|vCommand\w*|GetReply\w*|AppendCommand\w*|BufferRead'
    r'|BufferWrite|Reconnect|SetTimeout)'
    r'|sleep|usleep|nanosleep|pthread_cond_wait|pthread_cond_timedwait|pthread_join'
    r'|fopen|fdopen|freopen|fread|fgets|getline|getdelim|fscanf|read|pread|opendir|readdir'
    r'|system|popen'
    r'|tg_read_file|tg_yaml_open|tg_config_load|tg_dirlist'
    r'|tg_redis_\w+|tg_httpc_\w+|tg_queue_\w+|tg_audit_\w+')
LOOP_SAFE = {
    'tg_redis_addr_parse', 'tg_redis_addr_dispose', 'tg_redis_script_sha',  # pure
    'tg_queue_enqueue_args', 'tg_queue_key', 'tg_queue_pairs',  # build argv/key names
    'tg_queue_entry_dispose',
    'tg_audit_healthy', 'tg_audit_fail_closed',  # read an atomic / the config
    'tg_audit_field', 'tg_audit_canonical', 'tg_audit_chain_hash', 'tg_audit_index_key',
}
CALL = re.compile(r'(?<![\w.>])([A-Za-z_]\w*)\s*\(')
PROTO = re.compile(r'\b(tg_\w+)\s*\(([^;{]*)\)\s*;')
def redis_context_functions():
    """tg_ functions a gateway header declares with a redisContext: they block."""
    names = set()
    for h in glob.glob(root + '/*/*.h'):
        with open(h, encoding='utf-8') as f:
            text = re.sub(r'/\*.*?\*/', ' ', f.read(), flags=re.S)
        for m in PROTO.finditer(text):
            if 'redisContext' in m.group(2) or 'redisContext' in text[
                    text.rfind(';', 0, m.start()) + 1:m.start()]:
                names.add(m.group(1))
    return names
def blocking(name):
    if name in LOOP_SAFE or name.startswith('tg_redis_loop_'):
        return False
    return bool(BLOCKING_CALLS.fullmatch(name)) or name in REDIS_CONTEXT
def code_lines(text):
    """The text's lines with comments and string/char literals blanked (line numbers kept)."""
    text = re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                  lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text, flags=re.S)
    return text.split('\n')
def functions(lines, marker):
    """(first, last) line indexes of each function body under a line holding only marker:
    the body runs from the next line '{' to the next line '}' (Linux braces, clang-format)."""
    spans = []
    for i, line in enumerate(lines):
        if line.strip() != marker:
            continue
        try:
            first = lines.index('{', i)
            spans.append((first, lines.index('}', first)))
        except ValueError:
            pass
    return spans
def check_calls(path, whole):
    """Prints each blocking call in path's loop code: the whole file (minus functions marked
    /* off the loop */) when whole, else the functions marked /* loop */."""
    with open(path, encoding='utf-8') as f:
        raw = f.read().split('\n')
    code = code_lines('\n'.join(raw))
    if whole:
        spans, skip = [(0, len(code) - 1)], functions(raw, '/* off the loop */')
    else:
        spans, skip = functions(raw, '/* loop */'), []
    bad = 0
    for first, last in spans:
        for i in range(first, last + 1):
            if any(a <= i <= b for a, b in skip):
                continue
            for m in CALL.finditer(code[i]):
                if blocking(m.group(1)):
                    print('%s:%d: runs on the event loop, must not call blocking %s'
                          % (path, i + 1, m.group(1)))
                    bad += 1
    return bad
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
REDIS_CONTEXT = redis_context_functions()
files = sorted(glob.glob(root + '/http/*.[ch]')) + [
    root + '/api/api_route.c', root + '/console/pages.c', root + '/console/console_auth.c',
    root + '/approvals/button_context.c']
# Files that hold loop-side functions marked /* loop */ among pool-side ones.
marked = [root + '/api/chatops.c', root + '/api/chatops_slack.c',
          root + '/api/chatops_mattermost.c', root + '/api/deploy_api.c',
          root + '/console/console.c', root + '/approvals/chat_message.c']
for d in extra:
    files += sorted(glob.glob(d.rstrip('/') + '/*.[ch]'))
    marked += sorted(glob.glob(d.rstrip('/') + '/marked/*.c'))
bad = 0
for path in files:
    for n, inc in includes(path):
        chain = reaches(inc, set(), os.path.dirname(path))
        if chain:
            via = ' (via %s)' % ' -> '.join(chain[:-1]) if len(chain) > 1 else ''
            print('%s:%d: runs on the event loop, must not include %s%s: %s'
                  % (path, n, chain[-1], via, BLOCKING[chain[-1]]))
            bad += 1
    bad += check_calls(path, True)
for path in marked:
    bad += check_calls(path, False)
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
