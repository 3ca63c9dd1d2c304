#!/bin/sh
# run.sh -- `make run`: the gateway on localhost with the shipped config.
#
# Starts a private redis-server (AOF everysec, data and socket under ./var) when the config
# names no Redis, then `tollgate serve`, prints the URL and a ready curl, and stops both on
# Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
config=${1:-tollgate.yaml}
export GITLAB_WEBHOOK_TOKEN="${GITLAB_WEBHOOK_TOKEN:-example-webhook-token}"
export GITLAB_API_TOKEN="${GITLAB_API_TOKEN:-example-api-token}"
export TRIGGER_TOKEN="${TRIGGER_TOKEN:-example-trigger-token}"  # the shipped template's
mkdir -p var
redis_pid="" tg_pid=""
cleanup() {
  trap - INT TERM EXIT
  [ -n "$tg_pid" ] && kill -TERM "$tg_pid" 2>/dev/null && wait "$tg_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill -TERM "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  echo "run: stopped"
}
trap cleanup INT TERM EXIT
build/tollgate check -c "$config" >/dev/null || exit 2
set --
if [ -z "$(build/tollgate check -c "$config" --get redis.url)" ]; then
  sock="$PWD/var/redis.sock"
  # its own session: Ctrl-C reaches Tollgate, and Redis is stopped after it, by the trap
  setsid redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$PWD/var" \
    --appendonly yes --appendfsync everysec --save '' --daemonize no >var/redis.log 2>&1 &
  redis_pid=$!
  i=0; until [ -S "$sock" ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
  [ -S "$sock" ] || { echo "run: redis-server did not start, see var/redis.log"; exit 1; }
  echo "run: private Redis at unix://$sock (log var/redis.log)"
  set -- --redis "unix://$sock"
fi
build/tollgate serve -c "$config" "$@" &
tg_pid=$!
addr=$(build/tollgate check -c "$config" --get listen)
i=0; until curl -sf "http://$addr/readyz" >/dev/null 2>&1 || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
cat <<EOT

Tollgate is serving on http://$addr  (health: /healthz, readiness: /readyz, metrics: /metrics)
Post the sample pipeline event:

  curl -i http://$addr/hooks/gitlab \\
    -H 'Content-Type: application/json' -H 'X-Gitlab-Event: Pipeline Hook' \\
    -H 'X-Gitlab-Token: $GITLAB_WEBHOOK_TOKEN' \\
    --data-binary @tests/fixtures/gitlab/webhooks/pipeline_event.json

Ctrl-C stops Tollgate and its Redis.
EOT
wait "$tg_pid"
