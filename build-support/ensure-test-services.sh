#!/usr/bin/env bash
# Makes sure the servers the test suite talks to are up on loopback: PostgreSQL on 127.0.0.1:5432 with
# trust auth for the `postgres` role, Redis on 127.0.0.1:6379. Installs them from Debian's packages
# when absent (needs root), starts them when stopped, and waits until they answer. Also installs the
# tools some tests run (valgrind, objdump).
set -euo pipefail

log() { printf 'ensure-test-services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

apt_updated=0
apt_install() {
  [[ "$(id -u)" == 0 ]] || die "$* is missing and installing it needs root (apt-get install $*)."
  if [[ "${apt_updated}" == 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == "PONG" ]]; }

wait_for() {
  local what="$1" check="$2" i
  for i in $(seq 1 60); do
    "${check}" && return 0
    sleep 0.5
  done
  die "${what} did not come up within 30 s."
}

ensure_postgres() {
  if ! command -v pg_isready >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing PostgreSQL"
    apt_install postgresql postgresql-client
  fi
  if ! pg_ready; then
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    local hba="/etc/postgresql/${version}/main/pg_hba.conf"
    # Tests connect as `postgres` over loopback without a password, as on the CI service container.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "${hba}"; then
      sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "${hba}"
    fi
    log "starting PostgreSQL ${version}"
    pg_ctlcluster --skip-systemctl-redirect "${version}" main start || true
  fi
  wait_for PostgreSQL pg_ready
  psql -h 127.0.0.1 -U postgres -d postgres -Atc 'SELECT 1' >/dev/null ||
    die "PostgreSQL answers but refuses user postgres over 127.0.0.1 without a password (pg_hba.conf)."
}

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing Redis"
    apt_install redis-server
  fi
  if ! redis_ready; then
    log "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
  fi
  wait_for Redis redis_ready
}

ensure_tools() {
  # valgrind: the instruction-count benchmark and its tests; objdump (binutils): the check that
  # hnswlib was built without AVX-512.
  local missing=()
  command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
  command -v objdump >/dev/null 2>&1 || missing+=(binutils)
  if (( ${#missing[@]} )); then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

ensure_postgres
ensure_redis
ensure_tools
log "PostgreSQL and Redis are up on 127.0.0.1; valgrind and objdump are installed"
