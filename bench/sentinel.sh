#!/usr/bin/env bash
# bench/sentinel.sh -- webhook latency while Sentinel questions are slow (issue 12): the event
# loops must never wait for a sentinel, so a failover behind three sentinels that never answer
# leaves the webhook p99 where a healthy Redis has it.
#
#   (A) baseline: Tollgate on redis://primary (healthy). h2post -r RATE (open loop: latency
#       from each request's due time, so a stalled loop is charged for every request it
#       delayed) POST /hooks/gitlab, unique deliveries -> p50, p99.
#   (B) Tollgate on redis-sentinel://silent1,silent2,silent3,sentinel/tgmaster: three ports
#       that take connections and never answer (each costs a question its whole 500 ms), then
#       a real sentinel. The same load; one third in, SENTINEL FAILOVER (the replica becomes
#       the primary) and CLIENT KILL TYPE normal on the old one; two thirds in, CLIENT KILL
#       TYPE normal on the new one. Each drop makes every loop ask Sentinel again (>= 1.5 s).
#       -> p50, p99, and how many answers were 202 / 503 (503: Redis not ready, answered at
#       once) / errors.
#   ratio = p99 (B) / p99 (A), both measured in this run.     -> target <= 2
#
# Before Sentinel questions moved off the loop (base/sentinel.c), each one blocked its loop
# for 1.5 s here, and (B)'s p99 was the blocked time. Own redis-servers, sentinel and tollgate
# on free loopback ports; everything is stopped at the end. Prints a Markdown table and writes
# it to build/bench/sentinel.md. Knobs: BENCH_RATE (500 req/s), BENCH_SECONDS (12),
# TOLLGATE_THREADS (0 = one loop per core), TOLLGATE (the binary, build/tollgate), BENCH_KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/bench
RATE=${BENCH_RATE:-500}
SECS=${BENCH_SECONDS:-12}
THREADS=${TOLLGATE_THREADS:-0}
TOKEN=bench-token-$RANDOM$RANDOM
PLACEHOLDER=@@BENCH_SEQUENCE@@

. "$ROOT/bench/lib.sh"
bench_start sentinel.sh redis-server redis-cli python3 curl cc awk
[ -f /usr/include/nghttp2/nghttp2.h ] || fail "libnghttp2-dev is missing: run scripts/deps.sh bench"

kv() { sed -n 's/^RESULT //p' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN {print (v <= t) ? "PASS" : "MISS"}'; }

mkdir -p "$OUT"
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$OUT/h2post" "$ROOT/bench/h2post.c" -lnghttp2
cp "${TOLLGATE:-$ROOT/build/tollgate}" "$TMP/tollgate" # a private copy: the shared build/ may be rebuilt meanwhile
PAYLOAD=$TMP/pipeline.json
python3 - "$ROOT/tests/fixtures/gitlab/webhooks/pipeline_event.json" "$PAYLOAD" "$PLACEHOLDER" <<'EOF'
import json, sys
src, dst, ph = sys.argv[1:4]
ev = json.load(open(src))
ev["bench"] = {"sequence": ph}
open(dst, "w").write(json.dumps(ev, separators=(",", ":")))
EOF
HDRS=(-H 'content-type: application/json' -H "x-gitlab-token: $TOKEN" -H 'x-gitlab-event: Pipeline Hook'
      -H 'x-gitlab-instance: https://gitlab.example.com' -H 'user-agent: GitLab/17.1.0')

# ---- Redis: a primary, its replica, a sentinel watching them ----
redis_start() { # NAME PORT [ARGS...]
  local name=$1 port=$2; shift 2
  mkdir -p "$TMP/$name"
  redis-server --port "$port" --bind 127.0.0.1 --protected-mode no --save '' --appendonly no \
    --dir "$TMP/$name" --daemonize no --logfile "$TMP/$name.log" "$@" &
  PIDS+=("$!")
  wait_for "$name" "$!" redis-cli -p "$port" ping
}
P_PORT=$(free_port) R_PORT=$(free_port) S_PORT=$(free_port)
redis_start primary "$P_PORT"
redis_start replica "$R_PORT" --replicaof 127.0.0.1 "$P_PORT"
cat >"$TMP/sentinel.conf" <<EOF
port $S_PORT
bind 127.0.0.1
protected-mode no
sentinel monitor tgmaster 127.0.0.1 $P_PORT 1
sentinel down-after-milliseconds tgmaster 1000
sentinel failover-timeout tgmaster 5000
EOF
redis-server "$TMP/sentinel.conf" --sentinel >"$TMP/sentinel.log" 2>&1 &
S_PID=$!; PIDS+=("$S_PID")
sentinel_primary() { redis-cli -p "$S_PORT" SENTINEL get-master-addr-by-name tgmaster | sed -n 2p; }
sentinel_knows_replica() { [ "$(redis-cli -p "$S_PORT" SENTINEL replicas tgmaster | grep -c "$R_PORT")" -gt 0 ]; }
sentinel_says() { [ "$(sentinel_primary 2>/dev/null)" = "$1" ]; }
wait_for "the sentinel to know the primary" "$S_PID" sentinel_says "$P_PORT"
wait_for "the sentinel to know the replica" "$S_PID" sentinel_knows_replica

# ---- three sentinels that never answer: listening sockets nobody accepts on ----
python3 -u - >"$TMP/silent.ports" <<'EOF' &
import signal, socket
socks = []
for _ in range(3):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4096); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
signal.pause()
EOF
PIDS+=("$!")
wait_for "the silent sentinels" "$!" test -s "$TMP/silent.ports"
read -r Q1 Q2 Q3 <"$TMP/silent.ports"

# ---- one phase: a tollgate on URL under the load; $1 names it, $2 the URL, $3 the action ----
tollgate_start() { # NAME URL
  local port; port=$(free_port)
  cat >"$TMP/$1.yaml" <<EOF
listen:
  - address: 127.0.0.1:$port
redis:
  url: $2
webhooks:
  - name: bench
    token: env:TG_BENCH_TOKEN
    events: [Pipeline Hook]
limits:
  redis_timeout: 2s
threads: $THREADS
workers: 0
policies: '$ROOT/policies'
templates: '$ROOT/templates'
EOF
  TRIGGER_TOKEN=bench-unused TG_BENCH_TOKEN=$TOKEN "$TMP/tollgate" serve -c "$TMP/$1.yaml" 2>"$TMP/$1.log" &
  TG_PID=$!; PIDS+=("$TG_PID")
  TURL=http://127.0.0.1:$port
  wait_for "tollgate ($1) /readyz" "$TG_PID" curl -sf -o /dev/null "$TURL/readyz"
}
metric() { curl -sf "$TURL/metrics" | awk -v m="$1" 'index($0, m " ") == 1 {v = $2} END {print v + 0}'; }
load() { # NAME: h2post at RATE for SECS into $TMP/NAME.txt (non-2xx answers are expected in (B))
  "$OUT/h2post" -c 8 -m 16 -r "$RATE" -D "$SECS" -W 1 -d "$PAYLOAD" -p "$PLACEHOLDER" -k "$1-$$" \
    "${HDRS[@]}" "$TURL/hooks/gitlab" >"$TMP/$1.txt" || true
  cat "$TMP/$1.txt" >&2
  [ -n "$(kv "$TMP/$1.txt" p99_ms)" ] || fail "h2post gave no result for ($1)"
}

log "(A) baseline: redis://127.0.0.1:$P_PORT, $RATE req/s for $SECS s"
tollgate_start A "redis://127.0.0.1:$P_PORT/0"
load A
kill -TERM "$TG_PID"; wait "$TG_PID" || fail "tollgate (A) did not stop cleanly"

log "(B) three silent sentinels ($Q1 $Q2 $Q3) then the real one ($S_PORT); failovers during the load"
tollgate_start B "redis-sentinel://127.0.0.1:$Q1,127.0.0.1:$Q2,127.0.0.1:$Q3,127.0.0.1:$S_PORT/tgmaster/0"
RECONNECTS0=$(metric tollgate_redis_reconnects_total)
load B &
LOAD_PID=$!
sleep "$(awk -v s="$SECS" 'BEGIN {print s / 3}')"
log "(B) SENTINEL FAILOVER, then CLIENT KILL TYPE normal on the old primary"
redis-cli -p "$S_PORT" SENTINEL FAILOVER tgmaster >/dev/null || fail "SENTINEL FAILOVER refused"
wait_for "the sentinel to name the new primary" "$S_PID" sentinel_says "$R_PORT"
redis-cli -p "$P_PORT" CLIENT KILL TYPE normal >/dev/null # the old primary may keep clients a while
sleep "$(awk -v s="$SECS" 'BEGIN {print s / 3}')"
log "(B) CLIENT KILL TYPE normal on the new primary"
redis-cli -p "$R_PORT" CLIENT KILL TYPE normal >/dev/null
wait "$LOAD_PID"
RECONNECTS=$(( $(metric tollgate_redis_reconnects_total) - RECONNECTS0 ))
RESOLVES=$(grep -c '"event":"ready"' "$TMP/B.log" || true)
kill -TERM "$TG_PID"; wait "$TG_PID" || fail "tollgate (B) did not stop cleanly"
[ "$RECONNECTS" -gt 0 ] || fail "(B) no loop reconnected: no Sentinel question was forced"

A_P50=$(kv "$TMP/A.txt" p50_ms) A_P99=$(kv "$TMP/A.txt" p99_ms) A_2XX=$(kv "$TMP/A.txt" s2xx) A_DONE=$(kv "$TMP/A.txt" done)
B_P50=$(kv "$TMP/B.txt" p50_ms) B_P99=$(kv "$TMP/B.txt" p99_ms) B_MAX=$(kv "$TMP/B.txt" max_ms)
B_2XX=$(kv "$TMP/B.txt" s2xx) B_5XX=$(kv "$TMP/B.txt" s5xx) B_ERR=$(kv "$TMP/B.txt" errors) B_DONE=$(kv "$TMP/B.txt" done)
[ "$A_2XX" = "$A_DONE" ] || fail "(A) only $A_2XX of $A_DONE answers were 2xx on a healthy Redis"
R=$(ratio "$B_P99" "$A_P99")
{
  echo "### Sentinel benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "$(nproc) CPUs shared by the load generator, Redis, Sentinel and Tollgate ($THREADS = threads setting, workers 0)."
  echo "Open loop at $RATE req/s for $SECS s (1 s warm-up not counted), unique deliveries of the pipeline fixture."
  echo
  echo "| measurement | p50 | p99 | answers | ratio (p99 B / A) | target | result |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  echo "| (A) healthy Redis, redis:// | $A_P50 ms | $A_P99 ms | $A_DONE, all 202 | - | - | - |"
  echo "| (B) three silent sentinels + one real, SENTINEL FAILOVER and CLIENT KILL during the load ($RECONNECTS reconnects, $RESOLVES readiness lines) | $B_P50 ms | $B_P99 ms (max $B_MAX ms) | $B_DONE: $B_2XX 202, $B_5XX 503, $B_ERR errors | $R | ≤ 2 | $(verdict "$R" 2) |"
  echo
  echo "503s are the deliveries that arrived while a loop had no primary (asking Sentinel, then connecting): refused at once (GitLab counts a failure and retries), instead of waiting behind a blocked loop."
} | tee "$OUT/sentinel.md"
log "table saved to $OUT/sentinel.md"
