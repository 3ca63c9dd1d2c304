# bench/lib.sh -- what every benchmark script starts with: log lines, a private temp dir, and
# every process it started stopped at exit (kept with BENCH_KEEP=1, or after a failure).
#
# usage (bash, set -euo pipefail, ROOT set):
#   . "$ROOT/bench/lib.sh"; bench_start NAME TOOL...   then start processes and PIDS+=("$!")
# bench_start checks the tools and build/tollgate, makes $TMP, and installs the exit trap.
# free_port prints a free loopback port; wait_for WHAT PID COMMAND... polls COMMAND until it
# succeeds (30 s at most), failing at once when PID died.

log() { printf '[%s %s] %s\n' "${BENCH_NAME:-bench}" "$(date +%T)" "$*" >&2; }
fail() { log "FAILED: $*"; BENCH_KEEP=1; exit 1; }

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit $rc
}

bench_start() { # NAME TOOL...
  BENCH_NAME=$1; shift
  local tool
  for tool in "$@"; do command -v "$tool" >/dev/null || fail "$tool is missing"; done
  [ -x "$ROOT/build/tollgate" ] || fail "build/tollgate not built: run make"
  TMP=$(mktemp -d "/tmp/tollgate-${BENCH_NAME%.sh}-bench.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # WHAT PID COMMAND...
  local what=$1 pid=$2 deadline=$((SECONDS + ${BENCH_WAIT_S:-30})); shift 2
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || fail "$what exited while starting (logs in $TMP)"
    [ $SECONDS -lt $deadline ] || fail "timed out waiting for $what"
    sleep 0.1
  done
}

bench_redis() { # a private redis-server without persistence: sets RPORT, R runs redis-cli on it
  RPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" --daemonize no \
    --protected-mode no >"$TMP/redis.log" 2>&1 &
  REDIS_PID=$!; PIDS+=("$REDIS_PID")
  wait_for redis-server "$REDIS_PID" redis-cli -p "$RPORT" ping
}
R() { redis-cli -p "$RPORT" "$@"; }

bench_audit_records() { # COUNT START_MS: bench/audit_gen.lua's records, in batches of 5,000
  local count=$1 t=$2 first n gen
  gen=$(R SCRIPT LOAD "$(cat "$ROOT/bench/audit_gen.lua")")
  for ((first = 1; first <= count; first += 5000)); do
    n=$(( count - first + 1 < 5000 ? count - first + 1 : 5000 ))
    t=$(R EVALSHA "$gen" 0 "$first" "$n" "$t" "$first")
  done
  [ "$(R XLEN tg:audit)" = "$count" ] || fail "generated $(R XLEN tg:audit) records, not $count"
}

bench_audit_hash_keys() { # free-text indexes under audit.c's hashed names (audit_hash_keys.py)
  R --scan --pattern 'tg:audit:idx:*' | python3 "$ROOT/bench/audit_hash_keys.py" tg: | R --pipe >/dev/null
}

bench_tollgate() { # EXTRA_YAML [VAR=value...]: tollgate (a private copy of build/tollgate: the
  # shared build/ may be rebuilt meanwhile) on a free port over the bench Redis, one worker, the
  # shipped policies and templates plus EXTRA_YAML, the environment plus the VAR=value pairs.
  # Sets PORT (unless set), URL, TG_PID; waits until it is ready.
  local extra=$1; shift
  PORT=${PORT:-$(free_port)}
  cp "$ROOT/build/tollgate" "$TMP/tollgate"
  cat >"$TMP/tollgate.yaml" <<YAML
listen:
  - address: 127.0.0.1:$PORT
redis:
  url: redis://127.0.0.1:$RPORT/0
webhooks:
  - name: default
    token: env:BENCH_WEBHOOK_TOKEN
workers: 1
policies: '$ROOT/policies'
templates: '$ROOT/templates'
$extra
YAML
  env BENCH_WEBHOOK_TOKEN="${WEBHOOK:-bench-webhook-$RANDOM$RANDOM}" TRIGGER_TOKEN=unused "$@" \
    "$TMP/tollgate" serve -c "$TMP/tollgate.yaml" >"$TMP/tollgate.log" 2>&1 &
  TG_PID=$!; PIDS+=("$TG_PID")
  URL=http://127.0.0.1:$PORT
  wait_for tollgate "$TG_PID" curl -sf "$URL/readyz"
}

bench_percentiles() { # reads times in seconds, one a line; prints "p50 p99 max" in ms (%.1f)
  sort -n | awk '{t[NR] = $1 * 1000} END {
    p99 = t[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
    printf "%.1f %.1f %.1f\n", t[int((NR + 1) / 2)], p99, t[NR] }'
}
