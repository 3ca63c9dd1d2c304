#!/usr/bin/env bash
# bench/audit_retention.sh -- issue 15's retention benchmark: Redis memory stays flat while
# AUDIT_TOTAL (2,000,000) records are appended with a retention window of AUDIT_WINDOW
# (200,000) records, and the throughput of archive, verify and export.
#
#   1. own redis-server (no persistence). Records are appended in chunks of AUDIT_CHUNK
#      (100,000) by bench/audit_retention_gen.py in audit.c's layout with real SHA-256 chain
#      hashes and every index; record seq's time is T0 + seq ms, so the window of AUDIT_WINDOW
#      records is audit.retention = AUDIT_WINDOW ms.
#   2. after each chunk, `tollgate audit archive --now <the newest record's time>` (the
#      injected clock) moves everything older than the window into segments; then Redis'
#      used_memory (after MEMORY PURGE) and the stream length are read.
#   3. at the end `tollgate audit verify` (archive + Redis, one chain) and
#      `tollgate audit export --from-archive` are timed over the whole trail.
#
# Prints a Markdown table and writes it to build/bench/audit_retention.md. Needs `make`,
# redis-server, redis-cli, python3. Knobs: AUDIT_TOTAL, AUDIT_WINDOW, AUDIT_CHUNK, BENCH_KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/bench
TOTAL=${AUDIT_TOTAL:-2000000}
WINDOW=${AUDIT_WINDOW:-200000}
CHUNK=${AUDIT_CHUNK:-100000}

. "$ROOT/bench/lib.sh"
bench_start audit_retention.sh redis-server redis-cli python3

RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" --daemonize no \
  --protected-mode no >"$TMP/redis.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
R() { redis-cli -p "$RPORT" "$@"; }
mkdir "$TMP/archive"
cat >"$TMP/tollgate.yaml" <<YAML
listen:
  - address: 127.0.0.1:1
redis:
  url: redis://127.0.0.1:$RPORT/0
webhooks:
  - name: default
    token: env:BENCH_WEBHOOK_TOKEN
policies: '$ROOT/policies'
templates: '$ROOT/templates'
audit:
  retention: ${WINDOW}ms
  archive: '$TMP/archive'
YAML
export BENCH_WEBHOOK_TOKEN=bench-webhook-token-$RANDOM$RANDOM TRIGGER_TOKEN=unused GITLAB_API_TOKEN=unused
TG() { "$ROOT/build/tollgate" "$@" -c "$TMP/tollgate.yaml"; }
mem() { R MEMORY PURGE >/dev/null; R INFO memory | tr -d '\r' | sed -n 's/^used_memory:\(.*\)/\1/p'; }
now_ms() { date +%s%3N; }
iso() { python3 -c 'import sys,time; ms=int(sys.argv[1]); print(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms//1000)) + ".%03dZ" % (ms%1000))' "$1"; }

T0=$(( $(now_ms) - TOTAL - 1000 ))
PREV=0000000000000000000000000000000000000000000000000000000000000000
BASE=$(mem)
TABLE="| appended | in Redis (stream) | archived | used_memory | per record in Redis |\n|---:|---:|---:|---:|---:|\n"
GEN_MS=0; ARCH_MS=0; ARCHIVED=0
for ((first = 1; first <= TOTAL; first += CHUNK)); do
  n=$(( TOTAL - first + 1 < CHUNK ? TOTAL - first + 1 : CHUNK ))
  a=$(now_ms)
  python3 "$ROOT/bench/audit_retention_gen.py" "$first" "$n" "$PREV" "$T0" 1 "$TMP/state" | R --pipe >/dev/null
  PREV=$(cat "$TMP/state")
  b=$(now_ms)
  last=$(( first + n - 1 ))
  out=$(TG audit archive --batch 10000 --now "$(iso $(( T0 + last - 1 )))") || fail "archive: $out"
  c=$(now_ms)
  GEN_MS=$(( GEN_MS + b - a )); ARCH_MS=$(( ARCH_MS + c - b ))
  ARCHIVED=$(( ARCHIVED + $(echo "$out" | awk '{print $2}') ))
  len=$(R XLEN tg:audit); used=$(mem)
  TABLE+="| $last | $len | $ARCHIVED | $(( used / 1048576 )) MiB | $(( (used - BASE) / (len > 0 ? len : 1) )) B |\n"
  log "appended $last, Redis holds $len, archived $ARCHIVED, used_memory $used"
done
a=$(now_ms); vout=$(TG audit verify) || fail "verify: $vout"; b=$(now_ms)
TG audit export --from-archive >"$TMP/export.jsonl" || fail "export"; c=$(now_ms)
lines=$(wc -l <"$TMP/export.jsonl")
[ "$lines" = "$TOTAL" ] || fail "export gave $lines lines, not $TOTAL"
SIZE=$(du -sb "$TMP/archive" | awk '{print $1}')
rate() { python3 -c "print(int($1 * 1000 / max($2, 1)))"; }
mkdir -p "$OUT"
{
  printf "## Audit retention: %s records, window %s\n\n" "$TOTAL" "$WINDOW"
  printf "%b\n" "$TABLE"
  printf "| step | records | seconds | records/s |\n|---|---:|---:|---:|\n"
  printf "| archive (tollgate audit archive, batches of 10,000) | %s | %s | %s |\n" "$ARCHIVED" "$(( ARCH_MS / 1000 ))" "$(rate "$ARCHIVED" "$ARCH_MS")"
  printf "| verify (archive + Redis) | %s | %s | %s |\n" "$TOTAL" "$(( (b - a) / 1000 ))" "$(rate "$TOTAL" $(( b - a )))"
  printf "| export --from-archive | %s | %s | %s |\n" "$TOTAL" "$(( (c - b) / 1000 ))" "$(rate "$TOTAL" $(( c - b )))"
  printf "\nverify: %s\n\narchive on disk: %s bytes (%s B per record), %s segments\n" "$(echo "$vout" | head -1 | cut -c1-60)" \
    "$SIZE" "$(( SIZE / (ARCHIVED > 0 ? ARCHIVED : 1) ))" "$(ls "$TMP/archive" | wc -l)"
} | tee "$OUT/audit_retention.md"
