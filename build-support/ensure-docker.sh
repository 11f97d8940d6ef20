#!/usr/bin/env bash
# A Docker engine and a Python 3.11 base image for `./pants package` of the docker_image targets.
#
# Prints `export …` lines for eval:  eval "$(bash build-support/ensure-docker.sh)"
#   DOCKER_HOST        the engine to use (an existing one, or one started here)
#   BASE_IMAGE         python:3.11-slim-bookworm when present locally, else an offline-built Debian bookworm image
#   NFC_DOCKERD_PID    set only when this script started dockerd (stop it with: kill "$NFC_DOCKERD_PID")
# Needs root only when it has to install or start something. Registries are never contacted; the base
# image is built from Debian's package mirror with debootstrap.
set -euo pipefail

# Bump the suffix when the package list changes, so machines rebuild it.
BASE_TAG="netflix-clone/python-base:bookworm-3.11-r2"
STATE=/run/nfc-docker
log() { echo "ensure-docker: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

started_pid=""
if docker info >/dev/null 2>&1; then
  host="${DOCKER_HOST:-unix:///var/run/docker.sock}"
  log "using the running engine at $host"
elif [ -S "$STATE/docker.sock" ] && DOCKER_HOST="unix://$STATE/docker.sock" docker info >/dev/null 2>&1; then
  host="unix://$STATE/docker.sock"
  log "using the engine this script started earlier ($host)"
else
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io from Debian's mirror"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io containerd runc iptables >&2
  fi
  as_root mkdir -p "$STATE" /var/lib/nfc-docker
  log "starting dockerd (data in /var/lib/nfc-docker, log in $STATE/dockerd.log)"
  as_root sh -c "nohup dockerd --data-root /var/lib/nfc-docker --exec-root $STATE/exec \
    -H unix://$STATE/docker.sock --pidfile $STATE/dockerd.pid >$STATE/dockerd.log 2>&1 &"
  host="unix://$STATE/docker.sock"
  for _ in $(seq 1 60); do
    if DOCKER_HOST="$host" docker info >/dev/null 2>&1; then break; fi
    sleep 0.5
  done
  if ! DOCKER_HOST="$host" docker info >/dev/null 2>&1; then
    log "dockerd did not come up; last lines of its log:"
    tail -20 "$STATE/dockerd.log" >&2 || true
    exit 1
  fi
  started_pid="$(cat "$STATE/dockerd.pid")"
fi
export DOCKER_HOST="$host"

if docker image inspect python:3.11-slim-bookworm >/dev/null 2>&1; then
  base=python:3.11-slim-bookworm
elif docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  base="$BASE_TAG"
else
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
  fi
  rootfs="$(mktemp -d /tmp/nfc-rootfs.XXXXXX)"
  log "building $BASE_TAG with debootstrap (about a minute)"
  as_root debootstrap --variant=minbase --include=python3,ca-certificates,libgomp1 bookworm "$rootfs" \
    http://deb.debian.org/debian >&2
  as_root rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc "$rootfs"/usr/share/man "$rootfs"/usr/share/locale
  as_root tar --numeric-owner -C "$rootfs" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$BASE_TAG" >&2
  as_root rm -rf "$rootfs"
  base="$BASE_TAG"
fi
log "base image: $base"

echo "export DOCKER_HOST=$host"
echo "export BASE_IMAGE=$base"
if [ -n "$started_pid" ]; then echo "export NFC_DOCKERD_PID=$started_pid"; fi
