#!/usr/bin/env bash
# Makes sure the local services runbookd needs are answering, starting any that are not.
# Idempotent and quiet when everything is already up; one line per service it starts.
#
#   RUNBOOKD_NEED_POSTGRES=1  also ensure PostgreSQL on 127.0.0.1:5432 (tests; the demo uses PGlite)
#   REDIS_URL                 default redis://127.0.0.1:6379
#   MOTO_PORT                 default 5000
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="$ROOT/.runbookd"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
MOTO_PORT="${MOTO_PORT:-5000}"
WAIT_SECONDS=30

fail() {
  echo "ensure-services: $*" >&2
  exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

# A probe that hangs (a firewalled port) must not hang the script with it.
bounded() {
  if have timeout; then timeout 5 "$@"; else "$@"; fi
}

# $1: seconds, rest: probe command. Returns 0 as soon as the probe succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while ((SECONDS < deadline)); do
    "$@" && return 0
    sleep 0.5
  done
  "$@"
}

http_ok() {
  if have curl; then
    curl -fsS -o /dev/null --max-time 3 "$1" 2>/dev/null
  else
    bounded node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$1" 2>/dev/null
  fi
}

is_local_host() {
  [[ "$1" == "127.0.0.1" || "$1" == "localhost" || "$1" == "::1" || "$1" == "[::1]" ]]
}

ensure_postgres() {
  [[ "${RUNBOOKD_NEED_POSTGRES:-}" == "1" ]] || return 0
  have pg_isready || fail "pg_isready not found; install the postgresql client (apt-get install postgresql) or unset RUNBOOKD_NEED_POSTGRES"
  pg_ready() { bounded pg_isready -q -h 127.0.0.1 -p 5432; }
  pg_ready && return 0

  have pg_ctlcluster || fail "PostgreSQL is not answering on 127.0.0.1:5432 and pg_ctlcluster is missing; start PostgreSQL yourself"
  [[ -d /etc/postgresql ]] || fail "PostgreSQL is not answering and no cluster is configured under /etc/postgresql"
  # Several installed majors is possible after an upgrade; the newest is the one to run.
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  [[ -n "$version" ]] || fail "PostgreSQL is not answering and /etc/postgresql holds no cluster"
  local out
  if ! out="$(pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>&1)"; then
    # "already running" with a failed probe means it is still starting; the wait below decides.
    [[ "$out" == *"already running"* ]] || fail "could not start PostgreSQL $version/main: $out"
  fi
  wait_for "$WAIT_SECONDS" pg_ready || fail "PostgreSQL $version/main started but is not accepting connections after ${WAIT_SECONDS}s"
  echo "started PostgreSQL $version/main on 127.0.0.1:5432"
}

ensure_redis() {
  have redis-cli || fail "redis-cli not found; install Redis (apt-get install redis-server)"
  # redis[s]://[[user]:password@]host[:port][/db]
  local rest="${REDIS_URL#*://}"
  rest="${rest%%/*}"
  local auth="" hostport="$rest"
  if [[ "$rest" == *@* ]]; then
    auth="${rest%@*}"
    hostport="${rest##*@}"
  fi
  local host="${hostport%:*}" port="${hostport##*:}"
  [[ "$hostport" == *:* ]] || port=6379
  local user="" password=""
  if [[ "$auth" == *:* ]]; then
    user="${auth%%:*}"
    password="${auth#*:}"
  else
    password="$auth"
  fi
  # Not `redis-cli -u`: for redis://:password@host it sends AUTH with an empty user name, which
  # Redis refuses, so a healthy password-protected server would look dead.
  local cli=(redis-cli --no-auth-warning -h "$host" -p "$port")
  [[ -n "$user" ]] && cli+=(--user "$user")
  [[ -n "$password" ]] && cli+=(-a "$password")
  [[ "$REDIS_URL" == rediss://* ]] && cli+=(--tls)
  redis_ready() { [[ "$(bounded "${cli[@]}" ping 2>/dev/null)" == "PONG" ]]; }
  redis_ready && return 0

  is_local_host "$host" || fail "nothing answers at $REDIS_URL, and it is not local, so it cannot be started here"
  [[ "$REDIS_URL" == redis://* ]] || fail "nothing answers at $REDIS_URL; a local TLS Redis (rediss://) is not started by this script"
  have redis-server || fail "nothing answers at $REDIS_URL and redis-server is not installed (apt-get install redis-server)"

  local args=(--daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no)
  # A password in REDIS_URL means clients will AUTH; a server without one would refuse that.
  [[ -n "$password" ]] && args+=(--requirepass "$password")
  local out
  out="$(redis-server "${args[@]}" 2>&1)" || fail "redis-server failed to start on port $port: $out"
  wait_for "$WAIT_SECONDS" redis_ready || fail "redis-server started on port $port but does not answer PING after ${WAIT_SECONDS}s"
  echo "started redis-server on 127.0.0.1:$port"
}

ensure_moto() {
  local url="http://127.0.0.1:$MOTO_PORT/moto-api/"
  moto_ready() { http_ok "$url"; }
  moto_ready && return 0

  if ! have moto_server; then
    local pip=""
    if have pip3; then pip=pip3; elif have pip; then pip=pip; elif have python3; then pip="python3 -m pip"; fi
    [[ -n "$pip" ]] || fail "moto_server is not installed and there is no pip to install it with; install Python 3 and run: pip install \"moto[server]\""
    local out
    if ! out="$($pip install --quiet --disable-pip-version-check --timeout 20 --retries 1 "moto[server]" 2>&1)"; then
      fail "moto_server is not installed and 'pip install \"moto[server]\"' failed (is PyPI reachable?):
$(echo "$out" | tail -n 5)
Alternatives: install moto where PyPI is reachable, run 'docker run -p $MOTO_PORT:5000 motoserver/moto', or point AWS_ENDPOINT_URL at a running moto."
    fi
    # pyenv installs new entry points as shims only after a rehash.
    have pyenv && pyenv rehash >/dev/null 2>&1
    have moto_server || fail "pip installed moto but moto_server is not on PATH (check pip's script directory)"
    echo "installed moto[server] with pip"
  fi

  mkdir -p "$STATE_DIR"
  local log="$STATE_DIR/moto.log"
  # setsid + nohup: the server must outlive this script and the terminal that ran it.
  setsid nohup moto_server -H 127.0.0.1 -p "$MOTO_PORT" >>"$log" 2>&1 </dev/null &
  local pid=$!
  local deadline=$((SECONDS + WAIT_SECONDS))
  until moto_ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      fail "moto_server exited while starting on port $MOTO_PORT; last lines of $log:
$(tail -n 5 "$log")"
    fi
    if ((SECONDS >= deadline)); then
      kill "$pid" 2>/dev/null
      fail "moto_server did not answer at $url within ${WAIT_SECONDS}s; see $log"
    fi
    sleep 0.5
  done
  echo "started moto_server on 127.0.0.1:$MOTO_PORT (pid $pid, log $log)"
}

ensure_postgres
ensure_redis
ensure_moto
