# bench/lib.sh -- what every benchmark script starts with: log lines, a private temp dir, and
# every process it started stopped at exit (kept with BENCH_KEEP=1, or after a failure).
#
# usage (bash, set -euo pipefail, ROOT set):
#   . "$ROOT/bench/lib.sh"; bench_start NAME TOOL...   then start processes and PIDS+=("$!")
# bench_start checks the tools and build/tollgate, makes $TMP, and installs the exit trap.

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
