#!/bin/sh
# image.sh -- build the container image tollgate:dev with podman, from Debian's packages only.
#
# usage: scripts/image.sh [build|ensure|probe|sources]
#   build   (`make image`) make the base images when absent, then podman build (layers cached)
#   ensure  build only when tollgate:dev is absent or was built from other sources
#   probe   exit 0 when podman can run a container here; else print why and exit 1 (fast)
#   sources print the digest of the files the image is built from (its label)
#
# Docker Hub is not reachable from these machines, so the Dockerfile's bases debian:bookworm
# and debian:bookworm-slim are made here: debootstrap a bookworm root from the machine's own
# Debian mirror and `podman import` it. With Docker Hub, the same Dockerfile runs unchanged:
#   docker build -f contrib/docker/Dockerfile -t tollgate .
set -eu
cd "$(dirname "$0")/.."
IMAGE=${TG_IMAGE:-tollgate:dev}
LABEL=org.tollgate.sources
work=build/image

# The build context's files that change the image (.dockerignore leaves the rest out).
sources() {
  find Makefile tollgate.yaml gateway policies templates scripts contrib/docker -type f \
    ! -name '*.pyc' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-32
}

# A root of one copied /bin/true and its libraries: enough to see podman create, start and
# reap a container, without any image or the network. Prints the options `podman run` and
# `podman build` need here: none where podman's defaults work; on a host with hybrid cgroups
# (crun refuses them) and limits it may not raise (no CAP_SYS_RESOURCE), runc and the
# host's own open-file limit.
probe() {
  command -v podman >/dev/null || { echo "podman is not installed (make image installs it)"; return 1; }
  root=$(mktemp -d)
  mkdir -p "$root/bin"; cp /bin/true "$root/bin/true"
  for lib in $(ldd /bin/true | grep -oE '/[^ ]+'); do
    mkdir -p "$root$(dirname "$lib")"; cp "$lib" "$root$lib"
  done
  nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
  why=""
  for opts in "" "--runtime runc --ulimit nofile=$nofile:$nofile --ulimit nproc=4096:4096"; do
    if out=$(timeout 60 podman run --rm --network host $opts --rootfs "$root" /bin/true 2>&1); then
      rm -rf "$root"; echo "$opts"; return 0
    fi
    why="$why${why:+; }$(echo "$out" | tail -n 1)"
  done
  rm -rf "$root"
  echo "podman cannot run a container here: $why"
  return 1
}

# debootstrap a minbase bookworm root with the host's apt sources, import it twice: as is
# (debian:bookworm) and without documentation (debian:bookworm-slim, as Docker's slim).
base_images() {
  podman image exists debian:bookworm && podman image exists debian:bookworm-slim && return 0
  mkdir -p "$work"
  root=$(mktemp -d "$PWD/$work/rootfs.XXXX")
  trap 'rm -rf "$root"' EXIT
  mirror=$(grep -h '^URIs' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 | awk '{print $2}')
  echo "image: debootstrap bookworm ${mirror:-(default mirror)} (a few minutes, once)" >&2
  debootstrap --variant=minbase bookworm "$root" ${mirror:+"$mirror"} >"$work/debootstrap.log" 2>&1 \
    || { echo "image: debootstrap failed, see $work/debootstrap.log" >&2; exit 1; }
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    rm -f "$root/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
  fi
  # A mirror that serves a dated snapshot has expired Release files: follow the host.
  if apt-config dump | grep -q '^Acquire::Check-Valid-Until "false"'; then
    echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99tollgate-snapshot"
  fi
  # Docker's official Debian images keep no apt caches or translations in their layers.
  printf '%s\n' 'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' >"$root/etc/apt/apt.conf.d/docker-clean"
  echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/log/*.log "$root"/var/log/apt/*
  import "$root" debian:bookworm
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/lintian/*' \
    'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
    >"$root/etc/dpkg/dpkg.cfg.d/docker"
  import "$root" debian:bookworm-slim
  rm -rf "$root"; trap - EXIT
}

import() {
  podman image exists "$2" && return 0
  tar -C "$1" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf - . \
    | podman import --change 'CMD ["bash"]' - "$2" >/dev/null
  echo "image: imported $2" >&2
}

build() {
  opts=$(probe) || { echo "image: $opts" >&2; exit 1; }
  base_images
  digest=$(sources)
  echo "image: podman build $IMAGE (sources $digest)" >&2
  podman build $opts --pull=never --format docker --label "$LABEL=$digest" \
    -f contrib/docker/Dockerfile -t "$IMAGE" .
  # The image it replaces and the build stage stay behind untagged, one pair per rebuild;
  # the cached apt layers carry no label and stay.
  podman image prune -f --filter "label=$LABEL" >/dev/null
  podman image inspect --format '{{.Size}}' "$IMAGE" \
    | awk -v i="$IMAGE" '{printf "image: %s is %.1f MB\n", i, $1 / 1e6}'
}

built_from() {
  podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true
}

case "${1:-build}" in
  build)   build ;;
  ensure)  [ "$(built_from)" = "$(sources)" ] || build ;;
  probe)   probe ;;
  sources) sources ;;
  *) echo "usage: $0 [build|ensure|probe|sources]" >&2; exit 2 ;;
esac
