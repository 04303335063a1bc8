#!/usr/bin/env bash
# A private RabbitMQ node for tests and development (see /work/shared/notes/services.md):
# loopback only, a free port, its own HOME (Erlang cookie), mnesia, log and config under one
# directory, so it never touches a system node in /var/lib/rabbitmq.
#
#   scripts/rabbitmq.sh start [DIR]   installs rabbitmq-server if missing, starts the node with
#                                     its state in DIR (a new temp dir by default) and prints
#                                     the AMQP URL on stdout (the state dir on stderr).
#   scripts/rabbitmq.sh stop DIR      stops that node and removes DIR.
#   scripts/rabbitmq.sh restart DIR   stops and starts that node (same port, same data).
#   scripts/rabbitmq.sh vhost DIR NAME adds a vhost to that node and prints its URL.
#   scripts/rabbitmq.sh vhost-pool DIR COUNT adds COUNT vhosts at once, for the tests to take
#                                     (listed in DIR/vhost-pool).
#   scripts/rabbitmq.sh user DIR NAME PASSWORD VHOST adds a user with all rights on VHOST.
#   scripts/rabbitmq.sh tls-url DIR [VHOST] prints the amqps:// URL of that node's TLS listener
#                                     (cacertfile=DIR/tls/ca.pem; VHOST defaults to "/").
#
# TLS: the node also listens for amqps:// on a second free port, with a test CA and a server
# certificate for localhost and 127.0.0.1 made by openssl in DIR/tls (ca.pem; server.pem and
# server.key; client.pem and client.key, a client certificate of the same CA). Client
# certificates are checked when sent but not required (fail_if_no_peer_cert = false).
#
# consumer_timeout: RabbitMQ 3.10 cancels a consumer whose delivery stays unacknowledged for
# 30 minutes. Grove acks a job only after the job finished, so a build longer than that would
# be redelivered. 3.10 has no per-queue x-consumer-timeout argument (it arrived in 3.12), so
# this node sets consumer_timeout in rabbitmq.conf to 24 h; operators should do the same (see
# docs/protocol.md, "Distributed mode").
set -euo pipefail

die() { echo "rabbitmq.sh: $*" >&2; exit 1; }

ensure_installed() {
  if ! ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "rabbitmq.sh: installing rabbitmq-server" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      rabbitmq-server >/dev/null
  fi
  SBIN="$(ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin | sort -V | tail -n1)"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A test CA, a server certificate (CN localhost; SAN localhost, 127.0.0.1) and a client
# certificate in $1/tls; kept across restarts.
make_certs() {
  local tls="$1/tls"
  [ -f "$tls/client.pem" ] && return 0
  command -v openssl >/dev/null || die "openssl is needed for the TLS listener"
  mkdir -p "$tls"
  (
    cd "$tls"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Grove test CA" \
      -keyout ca.key -out ca.pem
    local who
    for who in server client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=${who/server/localhost}" \
        -keyout "$who.key" -out "$who.csr"
      if [ "$who" = server ]; then
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'
      else
        printf 'extendedKeyUsage=clientAuth\n'
      fi >"$who.ext"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$who.ext" -out "$who.pem"
    done
    chmod 644 ca.pem server.pem client.pem
  ) >"$1/log/openssl.log" 2>&1 || { cat "$1/log/openssl.log" >&2; die "cannot make test certificates"; }
}

# Exports the node's environment for the state directory $1 (ports read from $1/ports).
node_env() {
  local dir="$1"
  # shellcheck disable=SC1091
  source "$dir/ports"
  export HOME="$dir/home"
  export RABBITMQ_NODENAME="grove-$AMQP_PORT@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$AMQP_PORT"
  export RABBITMQ_DIST_PORT="$DIST_PORT"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
}

start() {
  ensure_installed
  local dir="${1:-}"
  [ -n "$dir" ] || dir="$(mktemp -d /tmp/grove-rabbitmq.XXXXXX)"
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  local amqp dist tls
  if [ -f "$dir/ports" ]; then
    # A restart of the same node: same ports, same data.
    # shellcheck disable=SC1091
    source "$dir/ports"
    amqp="$AMQP_PORT" dist="$DIST_PORT" tls="${TLS_PORT:-}"
    if [ -z "$tls" ]; then  # a node made before the TLS listener existed
      tls="$(free_port)"
      while [ "$tls" = "$amqp" ] || [ "$tls" = "$dist" ]; do tls="$(free_port)"; done
      printf 'TLS_PORT=%s\n' "$tls" >>"$dir/ports"
    fi
  else
    amqp="$(free_port)"
    dist="$(free_port)"
    while [ "$dist" = "$amqp" ]; do dist="$(free_port)"; done
    tls="$(free_port)"
    while [ "$tls" = "$amqp" ] || [ "$tls" = "$dist" ]; do tls="$(free_port)"; done
    printf 'AMQP_PORT=%s\nDIST_PORT=%s\nTLS_PORT=%s\n' "$amqp" "$dist" "$tls" >"$dir/ports"
  fi
  make_certs "$dir"
  # The cookie must be private to the node and readable only by its owner.
  [ -f "$dir/home/.erlang.cookie" ] || {
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/home/.erlang.cookie"
    chmod 400 "$dir/home/.erlang.cookie"
  }
  cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$amqp
listeners.ssl.default = 127.0.0.1:$tls
ssl_options.cacertfile = $dir/tls/ca.pem
ssl_options.certfile = $dir/tls/server.pem
ssl_options.keyfile = $dir/tls/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
loopback_users.guest = true
consumer_timeout = 86400000
log.file.level = warning
CONF
  echo '[].' >"$dir/enabled_plugins"
  node_env "$dir"
  setsid "$SBIN/rabbitmq-server" >"$dir/log/stdout.log" 2>&1 </dev/null &
  # The node is reachable once it registered its name with epmd (a small C program asked
  # here: each `rabbitmqctl ping` this loop ran before boots an Erlang VM, about a second of
  # CPU, several times per start on a loaded machine).
  local i node="${RABBITMQ_NODENAME%@*}"
  for i in $(seq 1 240); do
    if epmd -names 2>/dev/null | grep -q "^name $node at port "; then break; fi
    sleep 0.25
    [ "$i" -lt 240 ] || { tail -n 20 "$dir/log/stdout.log" >&2; die "node did not start (state in $dir)"; }
  done
  "$SBIN/rabbitmqctl" -q await_startup >/dev/null 2>&1 ||
    { tail -n 20 "$dir/log/stdout.log" >&2; die "node did not finish starting (state in $dir)"; }
  echo "rabbitmq.sh: node $RABBITMQ_NODENAME up, state in $dir" >&2
  echo "$dir" >"$dir/dir"
  echo "amqp://guest:guest@127.0.0.1:$amqp/%2f"
}

stop() {
  local dir="${1:-}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] || die "usage: rabbitmq.sh stop DIR (the state dir of 'start')"
  ensure_installed
  node_env "$dir"
  "$SBIN/rabbitmqctl" -q shutdown >/dev/null 2>&1 || {
    # Not answering: kill what its pid file names.
    [ -f "$RABBITMQ_PID_FILE" ] && kill "$(cat "$RABBITMQ_PID_FILE")" 2>/dev/null || true
  }
  rm -rf "$dir"
}

# A fresh vhost NAME on the node of DIR (guest may use it); prints its AMQP URL. Tests use one
# vhost each so that queues left by one test never feed the next.
# Stops the node of DIR and starts it again on the same port with its data (tests of a broker
# restart).
restart() {
  local dir="${1:-}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] || die "usage: rabbitmq.sh restart DIR"
  ensure_installed
  node_env "$dir"
  "$SBIN/rabbitmqctl" -q shutdown >/dev/null 2>&1 || true
  start "$dir"
}

vhost() {
  local dir="${1:-}" name="${2:-}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] && [ -n "$name" ] || die "usage: rabbitmq.sh vhost DIR NAME"
  ensure_installed
  node_env "$dir"
  "$SBIN/rabbitmqctl" -q add_vhost "$name" >/dev/null
  "$SBIN/rabbitmqctl" -q set_permissions -p "$name" guest '.*' '.*' '.*' >/dev/null
  echo "amqp://guest:guest@127.0.0.1:$AMQP_PORT/$name"
}

# COUNT fresh vhosts at once (guest may use them), listed as empty files in DIR/vhost-pool for
# the tests to take (tests/integration/amqp_harness.py takes one per test class, and falls back
# to `vhost` when the pool is empty). One rabbitmqctl call for all of them: each call boots an
# Erlang VM (about a second of CPU, and tens of seconds seen on a loaded machine), and `vhost`
# makes two.
vhost_pool() {
  local dir="${1:-}" count="${2:-}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] && [[ "$count" =~ ^[0-9]+$ ]] ||
    die "usage: rabbitmq.sh vhost-pool DIR COUNT"
  ensure_installed
  node_env "$dir"
  local prefix="p$$-$(date +%s)-"  # unique per call: several pools may be made for one node
  "$SBIN/rabbitmqctl" -q eval "[begin
      V = list_to_binary(\"$prefix\" ++ integer_to_list(I)),
      ok = rabbit_vhost:add(V, <<\"rabbitmq.sh\">>),
      ok = rabbit_auth_backend_internal:set_permissions(<<\"guest\">>, V, <<\".*\">>,
          <<\".*\">>, <<\".*\">>, <<\"rabbitmq.sh\">>)
    end || I <- lists:seq(1, $count)]." >/dev/null
  mkdir -p "$dir/vhost-pool"
  local i
  for i in $(seq 1 "$count"); do : >"$dir/vhost-pool/$prefix$i"; done
}

# A user of its own (tests that check a password never reaches a log need one that is not
# also the user name, as guest's is).
user() {
  local dir="${1:-}" name="${2:-}" password="${3:-}" vh="${4:-}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] && [ -n "$name" ] && [ -n "$password" ] && [ -n "$vh" ] ||
    die "usage: rabbitmq.sh user DIR NAME PASSWORD VHOST"
  ensure_installed
  node_env "$dir"
  "$SBIN/rabbitmqctl" -q add_user "$name" "$password" >/dev/null
  "$SBIN/rabbitmqctl" -q set_permissions -p "$vh" "$name" '.*' '.*' '.*' >/dev/null
}

tls_url() {
  local dir="${1:-}" vhost="${2:-%2f}"
  [ -n "$dir" ] && [ -f "$dir/ports" ] || die "usage: rabbitmq.sh tls-url DIR [VHOST]"
  # shellcheck disable=SC1091
  source "$dir/ports"
  [ -n "${TLS_PORT:-}" ] && [ -f "$dir/tls/ca.pem" ] ||
    die "the node of $dir has no TLS listener (started by an older rabbitmq.sh: restart it)"
  echo "amqps://guest:guest@127.0.0.1:$TLS_PORT/$vhost?cacertfile=$dir/tls/ca.pem"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  vhost) shift; vhost "$@" ;;
  vhost-pool) shift; vhost_pool "$@" ;;
  restart) shift; restart "$@" ;;
  user) shift; user "$@" ;;
  tls-url) shift; tls_url "$@" ;;
  *) die "usage: rabbitmq.sh start [DIR] | stop DIR | restart DIR | vhost DIR NAME |" \
       "vhost-pool DIR COUNT |" \
       "user DIR NAME PASSWORD VHOST | tls-url DIR [VHOST]" ;;
esac
