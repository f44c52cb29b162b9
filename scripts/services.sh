#!/usr/bin/env bash
# Local Redis and MongoDB-wire (FerretDB + SQLite) for development and tests.
#   scripts/services.sh start|stop|status|tools [--quiet]
# Idempotent: installs what is missing, starts what is not running, binds 127.0.0.1 only,
# keeps data and logs under .data/. MONGO_URL / REDIS_URL, when set, are used instead and
# nothing local is started for them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/.data"
redis_port=${VIGIL_LOCAL_REDIS_PORT:-6379}
mongo_port=${VIGIL_LOCAL_MONGO_PORT:-27017}
ferretdb_bin="$data/bin/ferretdb"
quiet=0
[[ "${2:-}" == "--quiet" || "${1:-}" == "--quiet" ]] && quiet=1

say() { [[ $quiet == 1 ]] || echo "$@"; }
fail() { echo "services: $*" >&2; exit 1; }

# Runs a noisy command, showing its output only if it fails.
quietly() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo -n "$@"; fi; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 name=$2 log=$3
  for _ in $(seq 1 100); do
    port_open "$port" && return 0
    sleep 0.1
  done
  [[ -f "$log" ]] && tail -20 "$log" >&2
  fail "$name did not start listening on 127.0.0.1:$port"
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ── Redis ────────────────────────────────────────────────────────────────────
ensure_redis_installed() {
  command -v redis-server >/dev/null && return 0
  say "installing redis-server (Debian package)…"
  quietly as_root apt-get update -qq || fail "apt-get update failed"
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools ||
    fail "apt-get install redis-server failed"
}

start_redis() {
  if [[ -n "${REDIS_URL:-}" ]]; then say "redis: using REDIS_URL=$REDIS_URL"; return; fi
  if port_open "$redis_port"; then
    # Something already answers there (ours from an earlier start, or a system one): BullMQ
    # needs noeviction either way.
    redis-cli -p "$redis_port" config set maxmemory-policy noeviction >/dev/null 2>&1 || true
    say "redis: running at redis://127.0.0.1:$redis_port/0"
    return
  fi
  ensure_redis_installed
  mkdir -p "$data/redis" "$data/logs" "$data/run"
  redis-server --bind 127.0.0.1 --port "$redis_port" --protected-mode yes \
    --daemonize yes --pidfile "$data/run/redis.pid" --logfile "$data/logs/redis.log" \
    --dir "$data/redis" --appendonly yes --save '' --maxmemory-policy noeviction \
    >/dev/null || fail "redis-server failed to start (see $data/logs/redis.log)"
  wait_port "$redis_port" redis "$data/logs/redis.log"
  say "redis: started at redis://127.0.0.1:$redis_port/0"
}

stop_redis() {
  [[ -n "${REDIS_URL:-}" ]] && return
  if pid_alive "$data/run/redis.pid"; then
    kill "$(cat "$data/run/redis.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do pid_alive "$data/run/redis.pid" || break; sleep 0.1; done
    say "redis: stopped"
  else
    say "redis: not running (not started by this project)"
  fi
}

# ── FerretDB (MongoDB wire protocol, SQLite storage) ────────────────────────
build_ferretdb() {
  [[ -x "$ferretdb_bin" ]] && return 0
  command -v go >/dev/null || fail "Go is needed once to build FerretDB (apt-get install golang, or set MONGO_URL)"
  say "building FerretDB v1.24.2 from the Go module proxy (once)…"
  mkdir -p "$data/bin"
  # CGO off: pure-Go SQLite, no C toolchain needed. go.sum pins every module; if the checksum
  # database is unreachable, retry once with GOSUMDB=off (go.sum still verifies the downloads).
  (cd "$root/scripts/ferretdb" && quietly env CGO_ENABLED=0 go build -o "$ferretdb_bin" .) ||
    (cd "$root/scripts/ferretdb" && quietly env CGO_ENABLED=0 GOSUMDB=off go build -o "$ferretdb_bin" .) ||
    fail "FerretDB build failed"
}

start_mongo() {
  if [[ -n "${MONGO_URL:-}" ]]; then say "mongo: using MONGO_URL=$MONGO_URL"; return; fi
  if port_open "$mongo_port"; then
    say "mongo: running at mongodb://127.0.0.1:$mongo_port/vigil"
    return
  fi
  build_ferretdb
  mkdir -p "$data/ferretdb" "$data/logs" "$data/run"
  nohup "$ferretdb_bin" --listen "127.0.0.1:$mongo_port" --dir "$data/ferretdb" \
    >>"$data/logs/ferretdb.log" 2>&1 </dev/null &
  echo $! >"$data/run/ferretdb.pid"
  wait_port "$mongo_port" ferretdb "$data/logs/ferretdb.log"
  say "mongo: started FerretDB at mongodb://127.0.0.1:$mongo_port/vigil"
}

stop_mongo() {
  [[ -n "${MONGO_URL:-}" ]] && return
  if pid_alive "$data/run/ferretdb.pid"; then
    kill "$(cat "$data/run/ferretdb.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do pid_alive "$data/run/ferretdb.pid" || break; sleep 0.1; done
    rm -f "$data/run/ferretdb.pid"
    say "mongo: stopped"
  else
    say "mongo: not running (not started by this project)"
  fi
}

status() {
  local rc=0
  if [[ -n "${REDIS_URL:-}" ]]; then echo "redis: external $REDIS_URL"
  elif port_open "$redis_port"; then echo "redis: up   redis://127.0.0.1:$redis_port/0"
  else echo "redis: down"; rc=1; fi
  if [[ -n "${MONGO_URL:-}" ]]; then echo "mongo: external $MONGO_URL"
  elif port_open "$mongo_port"; then echo "mongo: up   mongodb://127.0.0.1:$mongo_port/vigil"
  else echo "mongo: down"; rc=1; fi
  return $rc
}

case "${1:-}" in
  start) start_redis; start_mongo ;;
  # The binaries alone (fault tests start private, killable copies of both servers).
  tools) ensure_redis_installed; build_ferretdb ;;
  stop) stop_redis; stop_mongo ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status|tools [--quiet]" >&2; exit 2 ;;
esac
