#!/usr/bin/env bash
# A private PostgreSQL server for tests and development (see /work/shared/notes/services.md):
# its own data directory, loopback only, a free port, its Unix socket in its own directory, so it
# never touches a packaged cluster.
#
#   scripts/postgres.sh start [DIR]     installs postgresql if missing, creates the cluster in DIR
#                                       (a new temp dir by default) unless it is there already,
#                                       starts it and prints the URL of its database "grove"
#                                       (user grove, a random password) on stdout.
#   scripts/postgres.sh stop DIR        stops that server and removes DIR.
#   scripts/postgres.sh down DIR        stops that server, keeping DIR (start DIR brings it back
#                                       on the same port with the same data).
#   scripts/postgres.sh restart DIR     stops and starts that server (same port, same data).
#   scripts/postgres.sh createdb DIR NAME  creates database NAME (owned by grove) and prints its URL.
#   scripts/postgres.sh dropdb DIR NAME    drops database NAME.
#
# For speed, the server runs with fsync=off and synchronous_commit=off: a crash of the machine
# may lose a test's data, nothing else. The user grove may create databases, so each test makes
# its own and tests run in parallel.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

ensure_installed() {
  if ! ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "postgres.sh: installing postgresql" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      postgresql >/dev/null
  fi
  BIN="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runs a server binary as the owner of the cluster: initdb and postgres refuse to run as root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# psql as the cluster's superuser, over the Unix socket of DIR.
psql_super() {
  local dir="$1"
  shift
  # shellcheck disable=SC1091
  source "$dir/ports"
  as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$PG_PORT" -U postgres \
    -d postgres "$@"
}

url_of() {
  local dir="$1" db="$2"
  # shellcheck disable=SC1091
  source "$dir/ports"
  echo "postgresql://grove:$(cat "$dir/password")@127.0.0.1:$PG_PORT/$db"
}

start_server() {
  local dir="$1"
  # shellcheck disable=SC1091
  source "$dir/ports"
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $PG_PORT -k $dir/sock" start >/dev/null ||
    { tail -n 20 "$dir/server.log" >&2; die "server did not start (state in $dir)"; }
}

start() {
  ensure_installed
  local dir="${1:-}"
  [ -n "$dir" ] || dir="$(mktemp -d /tmp/grove-postgres.XXXXXX)"
  mkdir -p "$dir"
  if [ ! -f "$dir/ports" ]; then
    printf 'PG_PORT=%s\n' "$(free_port)" >"$dir/ports"
    head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$dir/password"
    chmod 600 "$dir/password"
    mkdir -p "$dir/sock"
    [ "$(id -u)" -ne 0 ] || chown postgres "$dir" "$dir/sock"
    local pwfile="$dir/superuser.pw"
    head -c 18 /dev/urandom | base64 >"$pwfile"
    chmod 600 "$pwfile"
    [ "$(id -u)" -ne 0 ] || chown postgres "$pwfile"
    # Loopback TCP needs a password (scram); the socket, private to DIR, trusts its owner.
    as_owner "$BIN/initdb" -D "$dir/data" -U postgres --pwfile="$pwfile" -E UTF8 \
      --locale=C --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; die "initdb failed (state in $dir)"; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
log_min_messages = warning
CONF
    start_server "$dir"
    psql_super "$dir" -c "CREATE ROLE grove LOGIN CREATEDB PASSWORD '$(cat "$dir/password")'" \
      -c "CREATE DATABASE grove OWNER grove" >/dev/null
  else
    start_server "$dir"
  fi
  # shellcheck disable=SC1091
  source "$dir/ports"
  echo "postgres.sh: server on 127.0.0.1:$PG_PORT, state in $dir" >&2
  url_of "$dir" grove
}

down() {
  local dir="${1:-}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] || die "usage: postgres.sh down DIR"
  ensure_installed
  as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

stop() {
  local dir="${1:-}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] || die "usage: postgres.sh stop DIR (the state dir of 'start')"
  down "$dir"
  # The postmaster's pid, should pg_ctl not have managed.
  if [ -f "$dir/data/postmaster.pid" ]; then
    kill "$(head -n1 "$dir/data/postmaster.pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

restart() {
  local dir="${1:-}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] || die "usage: postgres.sh restart DIR"
  down "$dir"
  start "$dir"
}

createdb() {
  local dir="${1:-}" name="${2:-}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] && [ -n "$name" ] || die "usage: postgres.sh createdb DIR NAME"
  ensure_installed
  psql_super "$dir" -c "CREATE DATABASE \"$name\" OWNER grove" >/dev/null
  url_of "$dir" "$name"
}

dropdb() {
  local dir="${1:-}" name="${2:-}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] && [ -n "$name" ] || die "usage: postgres.sh dropdb DIR NAME"
  ensure_installed
  psql_super "$dir" -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  down) shift; down "$@" ;;
  restart) shift; restart "$@" ;;
  createdb) shift; createdb "$@" ;;
  dropdb) shift; dropdb "$@" ;;
  *) die "usage: postgres.sh start [DIR] | stop DIR | down DIR | restart DIR |" \
       "createdb DIR NAME | dropdb DIR NAME" ;;
esac
