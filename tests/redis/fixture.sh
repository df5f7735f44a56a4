#!/usr/bin/env bash
# CTest fixture for the shared test redis-server (see cmake/CachetDevelopment.cmake).
#   fixture.sh start <state-dir>   start a throwaway server, write its URL to <state-dir>/url
#   fixture.sh stop  <state-dir>   stop it and remove its data dir
# The state dir remembers the port, pid file and data dir, so `stop` finds the server even when
# `start` ran in another process, and a rerun after an interrupted run cleans up first.
set -euo pipefail

action=${1:?usage: fixture.sh start|stop <state-dir>}
state=${2:?usage: fixture.sh start|stop <state-dir>}

# Polls a condition every 50 ms for at most $1 seconds; the server's readiness is what we wait
# for, not a guessed delay.
wait_for() {
  local limit=$(($1 * 20)) i
  shift
  for ((i = 0; i < limit; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

answers_ping() { [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; }
pid_gone() { ! kill -0 "$1" 2>/dev/null; }

free_port() {
  # Binding port 0 lets the kernel pick a free port; a race with another process taking it before
  # redis-server binds is possible, so start() retries with a fresh port.
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop() {
  local port="" pid="" data=""
  port=$(cat "$state/port" 2>/dev/null || true)
  data=$(cat "$state/data" 2>/dev/null || true)
  if [ -n "$data" ] && [ -f "$data/redis.pid" ]; then pid=$(cat "$data/redis.pid"); fi
  if [ -n "$port" ]; then redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; fi
  if [ -n "$pid" ] && ! wait_for 10 pid_gone "$pid"; then
    echo "fixture: redis-server $pid ignored SHUTDOWN, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "$data" ]; then rm -rf -- "$data"; fi
  rm -f "$state/port" "$state/data" "$state/url"
  if [ -n "$port" ]; then echo "fixture: stopped redis-server on port $port"; fi
}

start() {
  mkdir -p "$state"
  stop  # a leftover from an interrupted run
  local data port attempt pid
  data=$(mktemp -d "${TMPDIR:-/tmp}/cachet-redis.XXXXXX")
  echo "$data" >"$state/data"
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    echo "$port" >"$state/port"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$data" --save "" --appendonly no \
      --daemonize yes --pidfile "$data/redis.pid" --logfile "$data/redis.log"
    if wait_for 10 answers_ping "$port"; then
      echo "redis://127.0.0.1:$port" >"$state/url"
      echo "fixture: redis-server answers on port $port (attempt $attempt)"
      return 0
    fi
    echo "fixture: redis-server did not answer on port $port; its log:" >&2
    cat "$data/redis.log" >&2 || true
    pid=$(cat "$data/redis.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$data/redis.pid"
  done
  echo "fixture: could not start redis-server" >&2
  stop
  return 1
}

case $action in
  start) start ;;
  stop) stop ;;
  *) echo "fixture.sh: unknown action '$action'" >&2; exit 2 ;;
esac
