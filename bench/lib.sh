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
