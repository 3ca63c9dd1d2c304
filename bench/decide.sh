#!/bin/sh
# decide.sh -- latency from the webhook POST to the downstream trigger (see bench/decide.py).
set -eu
cd "$(dirname "$0")/.."
exec "${PYTHON:-/usr/bin/python3}" bench/decide.py "$@"
