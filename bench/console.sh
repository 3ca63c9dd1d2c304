#!/usr/bin/env bash
# bench/console.sh -- the console benchmark of issue 14: the server time of every API call each
# console page makes, over 1,000,000 audit records and 1,000 pending deployments, p99 < 100 ms.
#
#   1. own redis-server (no persistence) on a free port; CONSOLE_RECORDS (1,000,000) audit
#      records by bench/audit_gen.lua (shared with bench/audit.sh), their free-text indexes
#      renamed to audit.c's hashed names (bench/audit_hash_keys.py); CONSOLE_PENDING (1,000)
#      deployments waiting for approval and one console session (bench/console_gen.py), all in
#      the gateway's key layout.
#   2. own tollgate with the console on (sign-in is not exercised: the session is in Redis, its
#      cookie sent by curl like a browser sends it).
#   3. each call of each page BENCH_RUNS (100) times with curl (time_total: request to last
#      byte) -> p50 / p99 / max in ms. A page's calls are the ones console/app.js makes.
#
# Prints a Markdown table and writes it to build/bench/console.md. Needs `make`
# (build/tollgate), redis-server, redis-cli, curl, jq, python3. Knobs: CONSOLE_RECORDS,
# CONSOLE_PENDING, BENCH_RUNS, BENCH_KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/bench
RECORDS=${CONSOLE_RECORDS:-1000000}
PENDING=${CONSOLE_PENDING:-1000}
RUNS=${BENCH_RUNS:-100}
SID=$(python3 -c "import secrets; print(secrets.token_urlsafe(32))") # 43 characters, like a real id
CSRF=$(python3 -c "import secrets; print(secrets.token_urlsafe(32))")

. "$ROOT/bench/lib.sh"
bench_start console.sh redis-server redis-cli curl jq python3

# ---- Redis and the records ----
bench_redis

log "generating $RECORDS audit records and $PENDING pending deployments"
gen_start=$SECONDS
bench_audit_records "$RECORDS" $(( ($(date +%s) - 90 * 86400) * 1000 ))
bench_audit_hash_keys
python3 "$ROOT/bench/console_gen.py" "$PENDING" "$SID" "$CSRF" | R --pipe >/dev/null
[ "$(R ZCARD tg:pending)" = "$PENDING" ] || fail "generated $(R ZCARD tg:pending) pending, not $PENDING"
MEM=$(R INFO memory | awk -F: '/^used_memory:/ {printf "%.0f", $2 / 1048576}')
log "generated in $((SECONDS - gen_start)) s; Redis uses $MEM MiB"

# ---- Tollgate on it ----
PORT=$(free_port) # known before the config: public_url names it
bench_tollgate "gitlab: { url: 'http://127.0.0.1:9', api_token: env:GITLAB_API_TOKEN }
public_url: http://127.0.0.1:$PORT
console:
  oauth: { client_id: env:BENCH_OAUTH_ID, client_secret: env:BENCH_OAUTH_SECRET }
  allow_groups: [platform]" \
  BENCH_OAUTH_ID=bench BENCH_OAUTH_SECRET=bench-secret-$RANDOM GITLAB_API_TOKEN=unused-token
get() { curl -sS -H "Cookie: tollgate_session=$SID" "$URL$1"; }
uri() { jq -rn --arg v "$1" '$v|@uri'; }

[ "$(get /ui/session | jq -r .username)" = bench ] || fail "the session is not accepted: $(get /ui/session)"
list=$(get "/api/v1/deployments?status=pending")
[ "$(jq -r .total <<<"$list")" = "$PENDING" ] || fail "pending total: $(jq -c '{count,total}' <<<"$list")"
ID=$(jq -r '.deployments[0].id' <<<"$list")
mid=$(R XRANGE tg:audit "$((RECORDS / 2))-0" + COUNT 200 | awk '/"action":"received"/ && !n++')
P=$(jq -r .project <<<"$mid"); PIPE=$(jq -r .pipeline <<<"$mid")
n=$(get "/api/v1/audit?project=$(uri "$P")&pipeline=$PIPE&order=asc&limit=500" | jq '.records | length')
[ "$n" -ge 1 ] || fail "the generated pipeline $P #$PIPE has no records through the API"
CURSOR=$(get "/api/v1/audit?limit=50" | jq -r .next_cursor)

CALLS=( # page|call|path
  "all|session|/ui/session"
  "environments|every environment (200 rows, $PENDING pending)|/api/v1/environments"
  "pending|the list (100 of $PENDING)|/api/v1/deployments?status=pending"
  "pending|one deployment (per card shown)|/api/v1/deployments/$ID"
  "deployment|its timeline|/api/v1/audit?project=$(uri "$P")&pipeline=$PIPE&order=asc&limit=500"
  "audit|first page|/api/v1/audit?limit=50"
  "audit|next page|/api/v1/audit?limit=50&cursor=$CURSOR"
  "audit|filtered by project|/api/v1/audit?project=$(uri "$P")&limit=50"
  "audit|action + environment|/api/v1/audit?action=triggered&environment=production&limit=50"
  "audit|chain state (verify; placeholder hashes stop it at seq 1: not gated)|/api/v1/audit/verify"
)

mkdir -p "$OUT"
TABLE=$OUT/console.md
{
  echo "Console API calls over $RECORDS audit records and $PENDING pending deployments ($(nproc) cores,"
  echo "Redis $MEM MiB), $RUNS runs each, with a session cookie, curl time_total in ms:"
  echo
  echo "| page | call | p50 | p99 | max | bytes |"
  echo "| --- | --- | ---: | ---: | ---: | ---: |"
} >"$TABLE"
worst=0
for c in "${CALLS[@]}"; do
  page=${c%%|*} rest=${c#*|}; name=${rest%%|*} path=${rest#*|}
  code=$(curl -sS -o "$TMP/body" -w '%{http_code}' -H "Cookie: tollgate_session=$SID" "$URL$path")
  [ "$code" = 200 ] || fail "$name: HTTP $code $(head -c 300 "$TMP/body")"
  bytes=$(wc -c <"$TMP/body")
  for ((i = 0; i < RUNS; i++)); do
    curl -sS -o /dev/null -w '%{time_total}\n' -H "Cookie: tollgate_session=$SID" "$URL$path"
  done | bench_percentiles >"$TMP/p"
  read -r p50 p99 max <"$TMP/p"
  echo "| $page | $name | $p50 | $p99 | $max | $bytes |" >>"$TABLE"
  case $name in *"not gated"*) continue ;; esac
  worst=$(awk -v a="$worst" -v b="$p99" 'BEGIN {print (b > a ? b : a)}')
done
{
  echo
  echo "Worst p99 of the gated calls: $worst ms (target < 100 ms)."
} >>"$TABLE"
cat "$TABLE"
awk -v w="$worst" 'BEGIN {exit !(w < 100)}' || fail "a console call's p99 is over 100 ms"
