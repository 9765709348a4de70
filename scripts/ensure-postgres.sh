#!/usr/bin/env bash
# Make a PostgreSQL server available for the history-store tests and print its URL.
#
# Idempotent: installs Debian's postgresql when it is missing (root only), starts the default
# cluster, creates the test role and database, and prints
#   postgresql+psycopg://arcpolicy:arcpolicy@127.0.0.1:PORT/arcpolicy_test
# on stdout (everything else goes to stderr). Prints nothing when it cannot provide a server,
# and the tests then start a throwaway server themselves (initdb + pg_ctl in a temp dir).
#
#   ensure-postgres.sh --started FILE   as above; when it starts the cluster, it writes "VERSION CLUSTER" to FILE
#   ensure-postgres.sh --stop FILE      stops the cluster FILE names (nothing when FILE is empty or missing)
# so `make test` stops the server it started, and leaves one that was already running alone.
set -euo pipefail
log() { echo "ensure-postgres: $*" >&2; }

started_file=""
case "${1:-}" in
  --started) started_file="${2:?--started FILE}" ;;
  --stop)
    if [ -s "${2:?--stop FILE}" ]; then
      read -r version cluster < "$2"
      log "stopping cluster $version/$cluster, which this run started"
      pg_ctlcluster "$version" "$cluster" stop >&2
    fi
    exit 0 ;;
esac

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed and this is not root: the tests will start their own server"
    exit 0
  fi
  log "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

if [ "$(id -u)" != 0 ] || ! command -v pg_lsclusters >/dev/null; then
  log "not root: the tests will start their own server"
  exit 0
fi

read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
if [ "$status" != online ]; then
  log "starting cluster $version/$cluster on port $port"
  pg_ctlcluster "$version" "$cluster" start >&2
  if [ -n "$started_file" ]; then echo "$version $cluster" > "$started_file"; fi
fi

as_postgres() { runuser -u postgres -- "$@"; }
for _ in $(seq 1 30); do
  as_postgres pg_isready -q -p "$port" && break
  sleep 0.5
done
as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 >&2 <<'SQL'
SELECT 'CREATE ROLE arcpolicy LOGIN CREATEDB PASSWORD ''arcpolicy'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'arcpolicy') \gexec
SELECT 'CREATE DATABASE arcpolicy_test OWNER arcpolicy'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'arcpolicy_test') \gexec
SQL
echo "postgresql+psycopg://arcpolicy:arcpolicy@127.0.0.1:${port}/arcpolicy_test"
