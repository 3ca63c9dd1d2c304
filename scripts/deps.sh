#!/bin/sh
# deps.sh -- install the Debian packages Tollgate needs, and only those missing.
#
# usage: scripts/deps.sh [build|test|bench]   (each set includes the previous ones)
# Runs apt-get only when something is missing, so it is cheap to call before every build.
set -eu
build="build-essential pkg-config libh2o-evloop-dev libhiredis-dev libjansson-dev
  libcurl4-openssl-dev libyaml-dev libyajl-dev libssl-dev"
run="redis-server redis-tools curl openssl"
test="python3 python3-pytest python3-yaml nghttp2-client clang libfuzzer-14-dev libclang-rt-14-dev"
bench="wrk webhook procps libnghttp2-dev time jq"
case "${1:-test}" in
  build) want="$build" ;;
  run)   want="$build $run" ;;
  test)  want="$build $run $test" ;;
  bench) want="$build $run $test $bench" ;;
  *) echo "usage: $0 [build|run|test|bench]" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then
  echo "deps: not root; run: sudo apt-get install -y$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
