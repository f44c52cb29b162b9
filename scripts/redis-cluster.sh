#!/usr/bin/env bash
# Distributed Redis on loopback, from Debian's redis-server, for development and tests.
#   scripts/redis-cluster.sh cluster  start|stop|status [--base PORT] [--quiet]
#   scripts/redis-cluster.sh sentinel start|stop|status [--base PORT] [--quiet]
# cluster:  3 masters + 3 replicas on ports BASE..BASE+5 (default 7100; cluster bus +10000),
#           created with `redis-cli --cluster create … --cluster-replicas 1`.
#           Gateway: REDIS_CLUSTER_NODES=127.0.0.1:7100,127.0.0.1:7101,127.0.0.1:7102
# sentinel: 1 master (BASE, default 7110) + 1 replica (BASE+1) + 3 sentinels (BASE+10..BASE+12).
#           Gateway: REDIS_SENTINELS=127.0.0.1:7120,127.0.0.1:7121,127.0.0.1:7122 REDIS_SENTINEL_MASTER=vigil
# Idempotent (running nodes are left alone), loopback only, quiet unless something fails; data,
# configs and logs under .data/redis-<mode>-<base>/. `stop` kills the nodes and removes that
# directory. Timeouts are short (1 s) so a killed master fails over within a few seconds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
action=${2:-}
shift 2 || true
base=""
quiet=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --base) base=${2:?--base needs a port}; shift 2 ;;
    --quiet) quiet=1; shift ;;
    *) echo "redis-cluster: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$mode" in
  cluster) base=${base:-7100} ;;
  sentinel) base=${base:-7110} ;;
  *) echo "usage: $0 cluster|sentinel start|stop|status [--base PORT] [--quiet]" >&2; exit 2 ;;
esac
[[ "$base" =~ ^[0-9]+$ ]] || { echo "redis-cluster: --base must be a port number" >&2; exit 2; }
dir="$root/.data/redis-$mode-$base"

say() { [[ $quiet == 1 ]] || echo "$@"; }
fail() { echo "redis-cluster: $*" >&2; [[ -d "$dir" ]] && tail -n 20 "$dir"/*.log >&2 2>/dev/null; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ping() { [[ $(redis-cli -p "$1" ping 2>/dev/null) == PONG ]]; }
wait_until() { # <tries of 100 ms> <command…>
  local tries=$1; shift
  for _ in $(seq 1 "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}
command -v redis-server >/dev/null || fail "redis-server is not installed (scripts/services.sh start installs it)"

# One redis-server, daemonized, with its pid/log/data in $dir/<port>.
start_node() {
  local port=$1; shift
  ping "$port" && return 0
  port_open "$port" && fail "port $port is taken by something that is not Redis"
  mkdir -p "$dir/$port"
  redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes --daemonize yes \
    --pidfile "$dir/$port.pid" --logfile "$dir/$port.log" --dir "$dir/$port" \
    --save '' --appendonly yes --maxmemory-policy noeviction "$@" >/dev/null ||
    fail "redis-server on $port did not start"
  wait_until 50 ping "$port" || fail "redis-server on $port does not answer"
}

stop_all() {
  local pid
  for pidfile in "$dir"/*.pid; do
    [[ -f "$pidfile" ]] || continue
    pid=$(cat "$pidfile")
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

cluster_ok() { redis-cli -p "$base" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

start_cluster() {
  local ports=() p
  for i in 0 1 2 3 4 5; do ports+=($((base + i))); done
  for p in "${ports[@]}"; do
    start_node "$p" --cluster-enabled yes --cluster-config-file "$dir/nodes-$p.conf" \
      --cluster-node-timeout 1000 --appendfsync everysec
  done
  if ! cluster_ok; then
    local known
    known=$(redis-cli -p "$base" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')
    if [[ "$known" == 1 ]]; then
      local addrs=()
      for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
      redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
        fail "redis-cli --cluster create failed (see $dir/create.log)"
    fi
    wait_until 100 cluster_ok || fail "cluster did not reach cluster_state:ok"
  fi
  # Every replica attached, so a master can fail over as soon as tests start.
  wait_until 100 cluster_replicas_attached || fail "replicas did not attach"
  say "redis cluster: ok at REDIS_CLUSTER_NODES=127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
}

cluster_replicas_attached() {
  [[ $(redis-cli -p "$base" cluster nodes | grep -c 'slave.*connected') -ge 3 ]]
}

sentinel_ports() { echo $((base + 10)) $((base + 11)) $((base + 12)); }

# The master the sentinels agree on now ("host port"), or nothing before they run.
current_master() {
  local p out
  for p in $(sentinel_ports); do
    out=$(redis-cli -p "$p" sentinel get-master-addr-by-name vigil 2>/dev/null | paste -sd' ')
    [[ "$out" =~ ^[0-9.]+\ [0-9]+$ ]] && echo "$out" && return 0
  done
  return 0
}

start_sentinel() {
  local master=$base replica=$((base + 1)) p known
  # A node restarted after a failover must come back as a replica of the promoted one: started
  # as a master, it would take writes until the sentinels noticed (seconds).
  known=$(current_master || true)
  # Sentinels that still name a node that is down as master are mid-failover: wait for the result.
  for _ in $(seq 1 100); do
    [[ -n "$known" ]] && ! ping "${known#* }" || break
    sleep 0.1
    known=$(current_master || true)
  done
  if [[ -n "$known" && "$known" != "127.0.0.1 $master" ]]; then
    start_node "$master" --appendfsync everysec --replicaof $known
  else
    start_node "$master" --appendfsync everysec
  fi
  if [[ -n "$known" && "$known" != "127.0.0.1 $replica" ]]; then
    start_node "$replica" --appendfsync everysec --replicaof $known
  elif [[ -z "$known" ]]; then
    start_node "$replica" --appendfsync everysec --replicaof 127.0.0.1 "$master"
  else
    start_node "$replica" --appendfsync everysec
  fi
  for p in $(sentinel_ports); do
    ping "$p" && continue
    mkdir -p "$dir/$p"
    # Sentinel rewrites its config file, so each has its own.
    cat >"$dir/sentinel-$p.conf" <<EOF
bind 127.0.0.1
port $p
daemonize yes
pidfile $dir/$p.pid
logfile $dir/$p.log
dir $dir/$p
sentinel monitor vigil 127.0.0.1 $master 2
sentinel down-after-milliseconds vigil 1000
sentinel failover-timeout vigil 5000
sentinel parallel-syncs vigil 1
EOF
    redis-server "$dir/sentinel-$p.conf" --sentinel >/dev/null || fail "sentinel on $p did not start"
    wait_until 50 ping "$p" || fail "sentinel on $p does not answer"
  done
  wait_until 100 sentinel_ready || fail "sentinels did not see the master and its replica"
  say "redis sentinel: ok at REDIS_SENTINELS=$(sentinel_ports | sed 's/\([0-9]*\)/127.0.0.1:\1/g; s/ /,/g') REDIS_SENTINEL_MASTER=vigil"
}

# Every sentinel knows the master, the replica and the other two sentinels.
sentinel_ready() {
  local p
  for p in $(sentinel_ports); do
    redis-cli -p "$p" sentinel master vigil 2>/dev/null | tr '\n' ' ' | grep -q 'num-slaves 1 .*num-other-sentinels 2' || return 1
  done
}

case "$action" in
  start) if [[ $mode == cluster ]]; then start_cluster; else start_sentinel; fi ;;
  stop) stop_all; say "redis $mode at $base: stopped" ;;
  status)
    if [[ $mode == cluster ]]; then cluster_ok && redis-cli -p "$base" cluster nodes || { echo "not running"; exit 1; }
    else redis-cli -p $((base + 10)) sentinel master vigil 2>/dev/null | paste - - || { echo "not running"; exit 1; }; fi ;;
  *) echo "usage: $0 cluster|sentinel start|stop|status [--base PORT] [--quiet]" >&2; exit 2 ;;
esac
