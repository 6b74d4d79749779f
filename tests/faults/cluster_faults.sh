#!/usr/bin/env bash
# The cluster-mode fault suite: sample/failover (three pgkeeper nodes in
# cluster mode, three etcd members, HAProxy) with each node's port also on
# 127.0.0.1 (cluster-ports.yml), the workload client writing through
# HAProxy's port 5000 and recording every acknowledged commit, the
# split-brain probe (pgkeeper-probe) writing to every node's own port every
# 50 ms, a fault under that load, and the checkers: check.py (what was
# acknowledged against what the master holds) and check_probe.py (no round
# in which two nodes took writes).
#
# usage: cluster_faults.sh [--on compose|swarm] [--rounds N] [FAULT...]
#   --on swarm: the same cluster as sample/swarm's stack on a one-node swarm
#   (made on 127.0.0.1 when the machine is in none, and left again; the
#   stack publishes no port): the clients run in containers on the stack's
#   overlay network, the checker reads rows with docker exec, a killed
#   container is started again by Swarm, and etcd is lost by scaling its
#   services to 0.
#   FAULT: kill-master-async, kill-master-sync (the master's container
#   killed; a replicant takes over by itself; `make start` brings the old
#   one back to rejoin), cut-master-from-etcd-async (the master's container
#   off the etcd network only, clients and replicants still reach it; it
#   must stop taking writes before another node takes any; healed once
#   another leads), etcd-member-lost-async (etcd's raft leader killed, then
#   started: nothing may fail over), etcd-all-lost-async (every etcd member
#   killed for 5 s after the master stopped taking writes, then started:
#   writes come back), switchover-async, switchover-sync (`make switchover`
#   under load: a short pause, nothing lost); default: all of them.
#   --rounds repeats each (default 1).
#
# Prints one table row per round: acknowledged writes, how many were lost,
# rounds of the probe in which two nodes took writes (must be 0), the
# longest time no write was acknowledged through HAProxy, the time from the
# fault until every node held the same rows, the failovers the fault caused,
# what the old master's rejoin report counted. Exits 1 when a round breaks a
# promise: two writable nodes in a probe round, a loss in strict
# synchronous mode or in a switchover, a rejoin count that is not the lost
# writes (plus at most those in flight). Environment as for the e2e tests
# (E2E_SKIP_BUILD=1, E2E_KEEP=1); FAULTS_WORKLOAD and FAULTS_PROBE: the
# clients (default build/tests/faults/pgkeeper-{workload,probe}).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
# shellcheck source-path=SCRIPTDIR source=history.sh
source "$(dirname "${BASH_SOURCE[0]}")/history.sh"
# shellcheck source-path=SCRIPTDIR source=../e2e/swarm_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/swarm_lib.sh"
here=$root/tests/faults
sample=$root/sample/failover
nodes=(pg-1 pg-2 pg-3)
members=(etcd-1 etcd-2 etcd-3)
declare -A port=([pg-1]=7781 [pg-2]=7782 [pg-3]=7783)
running=(haproxy)
wait_poll=0.2
log_services=(pg-1 pg-2 pg-3)
log_lines=40
workload=${FAULTS_WORKLOAD:-$root/build/tests/faults/pgkeeper-workload}
probe=${FAULTS_PROBE:-$root/build/tests/faults/pgkeeper-probe}
outdir=${FAULTS_OUT:-$root/build/cluster-faults}

all=(kill-master-async kill-master-sync cut-master-from-etcd-async etcd-member-lost-async
  etcd-all-lost-async switchover-async switchover-sync)
rounds=1
faults=()
on=compose
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --on) on=$2; shift 2; [[ $on == compose || $on == swarm ]] || { echo "--on compose or --on swarm" >&2; exit 2; } ;;
    *) [[ " ${all[*]} " == *" $1 "* ]] || { echo "usage: $0 [--rounds N] [FAULT...] (see the header)" >&2; exit 2; }
       faults+=("$1"); shift ;;
  esac
done
((${#faults[@]})) || faults=("${all[@]}")

export PGKEEPER_CLUSTER=faults
[[ -x $workload && -x $probe ]] || fail "no clients at $workload, $probe (build the project first: make build)"
if [[ $on == compose ]]; then
  load_settings pgkeeper-cluster-faults SYNCHRONOUS_REPLICANTS SYNCHRONOUS_MODE SYNCHRONOUS_COMMIT \
    PGKEEPER_LEASE_TTL PGKEEPER_FAILOVER_MAX_LAG PGKEEPER_API_PASSWORD
  export COMPOSE_FILE=docker-compose.yml:$here/cluster-ports.yml
  preflight python3
  start_run pgkeeper-cluster-faults
  trap stop_clients_then_cleanup EXIT
  clear_leftovers 5000 5001 7000 7781 7782 7783
  front=127.0.0.1:5000
  node_host() { echo "host=127.0.0.1 port=${port[$1]}"; }
else
  sample=$root/sample/swarm
  stack=${E2E_PROJECT:-pgkeeper-swarm-faults}
  roles=(pg-1 pg-2 pg-3 etcd-1 etcd-2 etcd-3)
  smake_vars=(STACK="$stack" PUBLISH=)
  outdir=${FAULTS_OUT:-$root/build/cluster-faults-swarm}
  running=()
  # The stack's own defaults; the passwords are its secrets (read per round).
  export POSTGRES_USER=docker POSTGRES_DBNAME=gis
  db=gis
  unset SYNCHRONOUS_REPLICANTS
  docker info >/dev/null 2>&1 || fail "no Docker daemon answers; this test needs one (.ci/run starts dockerd)"
  start_run pgkeeper-cluster-faults-swarm
  trap stop_clients_then_cleanup EXIT
  swarm_join
  smake clean >/dev/null 2>&1 || true  # an earlier, killed run
  front=haproxy:5000
  node_host() { echo "host=$1 port=5432"; }
  cid() { scid "$1"; }
  cleanup() {
    local rc=$?
    set +e
    if ((rc != 0)); then
      docker stack ps --no-trunc "$stack" 2>&1 | cut -c1-200 >&2
      show_state_at_failure
      if [[ ${E2E_KEEP:-0} == 1 ]]; then
        echo "e2e: E2E_KEEP=1: stack left running; remove it with: make -C $sample STACK=$stack clean" >&2
        exit "$rc"
      fi
    fi
    smake clean >/dev/null 2>&1
    swarm_leave
    rm -rf "$workdir"
    exit "$rc"
  }
fi
build_image

export PGUSER=$POSTGRES_USER PGDATABASE=$db  # for check.py's psql
rm -rf "$outdir"
mkdir -p "$outdir"
conninfo="host=${front%:*} port=${front#*:} user=$POSTGRES_USER dbname=$db target_session_attrs=read-write"
conninfo+=" connect_timeout=2 tcp_user_timeout=3000"
probe_conninfo() { echo "$(node_host "$1") user=$POSTGRES_USER dbname=$db connect_timeout=1 tcp_user_timeout=1000"; }
# psql on a node itself, and through HAProxy's port 5000.
node_sql() { if [[ $on == compose ]]; then sql "${port[$1]}" "$2"; else xsql "$1" local "$2"; fi; }
front_sql() {
  local s
  if [[ $on == compose ]]; then sql 5000 "$1"; return; fi
  for s in "${nodes[@]}"; do [[ -z $(cid "$s") ]] || { xsql "$s" 5000 "$1"; return; }; done
  return 1
}
# What check.py reads a node's rows through: its port, or its container.
check_target() { if [[ $on == compose ]]; then echo "${port[$1]}"; else echo "container:$(cid "$1")"; fi; }
# A client (the workload, the probe): on the host, or in a container on the
# stack's network; in the background either way, $! its process (a TERM to
# `docker run` reaches the client).
run_client() {
  local bin=$1 out=$2
  shift 2
  if [[ $on == compose ]]; then
    "$bin" "$@" >"$out" 2>&1 &
  else
    local args=() a
    for a in "$@"; do args+=("${a//$outdir//out}"); done
    docker run --rm -i --network "${stack}_db" -e PGPASSWORD -v "$(dirname "$bin"):/w:ro" -v "$outdir:/out" \
      --entrypoint "/w/$(basename "$bin")" "$image" "${args[@]}" >"$out" 2>&1 &
  fi
}
launch_workload() { run_client "$workload" "$workdir/$1.workload" "$conninfo" "$history" 3600; }

leader() { smake -s leader 2>/dev/null; }
# After a failure: what pgkeeper said on each node (the probe's refused
# writes fill postgres' part of the log).
show_state_at_failure() {
  local s
  for s in "${nodes[@]}"; do
    echo "e2e: --- pgkeeper's last lines on $s ---" >&2
    docker logs "$(cid "$s")" 2>&1 | grep -F 'pgkeeper[' | tail -n 25 | sed "s|${PGPASSWORD:-no-password}|<password>|g" >&2
  done
}
has_leader() { [[ -n $(leader) ]]; }
leader_other_than() { local l; l=$(leader) && [[ -n $l && $l != "$1" ]]; }
healthy_all() {
  local s
  for s in "${nodes[@]}"; do health_is "$s" healthy || return 1; done
}
rows_of() { node_sql "$1" 'SELECT count(*) || chr(32) || COALESCE(sum(id), 0) FROM ledger' 2>/dev/null; }
is_replicant() { [[ $(node_sql "$1" 'SELECT pg_is_in_recovery()' 2>/dev/null) == t ]]; }
nodes_agree() {
  local a s
  a=$(rows_of pg-1) && [[ -n $a ]] || return 1
  for s in pg-2 pg-3; do [[ $(rows_of "$s") == "$a" ]] || return 1; done
}
# Every container a service had (Swarm starts a new one after a kill).
all_cids() {
  if [[ $on == compose ]]; then cid "$1"; else
    docker ps -aq --filter "label=com.docker.swarm.service.name=${stack}_$1"
  fi
}
# Failovers so far: the "took the leader key" lines in every node's log.
takeovers() {
  local s n=0 id
  for s in "${nodes[@]}"; do
    for id in $(all_cids "$s"); do
      n=$((n + $(docker logs "$id" 2>&1 | grep -c 'cluster: failover: this node took the leader key' || true)))
    done
  done
  echo "$n"
}

# A fresh cluster; sync: SYNCHRONOUS_REPLICANTS=1, strict (only a
# synchronous replicant may take over, and commits wait for one).
fresh_cluster() {
  smake clean >/dev/null 2>&1 || true
  if [[ $1 == sync ]]; then export SYNCHRONOUS_REPLICANTS=1; else unset SYNCHRONOUS_REPLICANTS; fi
  smake up >"$workdir/up.log" 2>&1 || { tail -n 30 "$workdir/up.log" >&2; fail "'make up' failed"; }
  wait_until "a node holds the leader key" 180 has_leader
  wait_until "the three nodes are healthy" 300 healthy_all
  if [[ $on == swarm ]]; then
    PGPASSWORD=$(docker exec "$(cid "$(leader)")" cat /run/secrets/postgres_pass)
    export PGPASSWORD
  fi
  wait_until "writes go through HAProxy" 60 front_sql 'SELECT 1'
  front_sql 'CREATE TABLE probe_writes (round bigint, node int, at timestamptz DEFAULT now())' >/dev/null
}

start_probe() {
  probe_history=$outdir/$1.probe
  : >"$probe_history"
  run_client "$probe" "$workdir/$1.probe.out" "$probe_history" 3600 50 \
    "$(probe_conninfo pg-1)" "$(probe_conninfo pg-2)" "$(probe_conninfo pg-3)"
  probe_pid=$!
}
stop_probe() {
  kill -TERM "$probe_pid"
  wait "$probe_pid" || true
  probe_pid=
  probe_check=$(python3 "$here/check_probe.py" "$probe_history" --names pg-1,pg-2,pg-3) ||
    fail "$name: the probe checker failed"
  echo "$probe_check" >"$outdir/$name.probe.check"
  double=$(jq_field "$probe_check" double_writable_rounds)
}

# Everything a round starts with: a fresh cluster, the load, the probe.
begin_round() {
  fresh_cluster "$1"
  old=$(leader)
  takeovers_before=$(takeovers)
  start_load "$name"
  start_probe "$name"
}

# Everything a round ends with, once the fault is over: writes back, the
# probe's verdict, every node holding the same rows, the checker, the row.
# $1 mode, $2 the fault's time, $3 the rejoin column.
end_round() {
  local mode=$1 t_fault=$2 rejoined=$3 settle l others=() s
  ride_out "$t_fault"
  stop_probe
  wait_until "$name: every node holds the same rows" 180 nodes_agree
  settle=$(($(now_ms) - t_fault))
  l=$(leader)
  for s in "${nodes[@]}"; do [[ $s == "$l" ]] || others+=(--node "$(check_target "$s")"); done
  verdict --master "$(check_target "$l")" "${others[@]}"
  for s in "${nodes[@]}"; do docker logs "$(cid "$s")" >"$outdir/$name.$s.log" 2>&1 || true; done
  # HAProxy's messages carry no time of their own: Docker's are added.
  docker logs --timestamps "$(cid haproxy)" >"$outdir/$name.haproxy.log" 2>&1 || true
  local failovers=$(($(takeovers) - takeovers_before))
  row "$name" "$acked" "$lost" "$double" "$back ms" "$settle ms" "$failovers ($old -> $l)" "$rejoined"
  if ((double > 0)); then broken=1; fi
  # The old master's rejoin report counts the lost writes, plus at most the
  # writes in flight whose outcome the client never learned.
  if [[ $rejoined =~ ^([0-9]+)\ discarded ]]; then
    local discarded=${BASH_REMATCH[1]} unknown_lost
    unknown_lost=$(($(jq_field "$check" unknown) - $(jq_field "$check" unknown_survived)))
    if ((discarded < lost || discarded > lost + unknown_lost)); then broken=1; fi
  fi
  if [[ $mode == sync || $name == switchover-* ]] && ((lost > 0)); then broken=1; fi
  log "$name: $check; probe: $probe_check"
}

# Brings a stopped node back (make start) and sets rejoined: what its
# rejoin report counted, checked against the lost writes.
rejoin_node() {
  local s=$1 discarded unknown_lost
  if [[ $on == compose ]]; then
    smake start >>"$workdir/up.log" 2>&1 || { tail -n 20 "$workdir/up.log" >&2; fail "$name: 'make start' failed"; }
  fi
  wait_until "$name: $s is a replicant again" 180 is_replicant "$s"
  docker logs "$(cid "$s")" >"$outdir/$name.rejoin.log" 2>&1
  discarded=$(sed -n "s/.*discards this node's WAL after the fork point.*, with \([0-9]*\) committed transaction.*/\1/p" \
    "$outdir/$name.rejoin.log" | tail -n 1)
  rejoined="${discarded:-0} discarded"
}

table=()
broken=0
row() { table+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s |' "$@")"); }

kill_master() {
  local mode=$1 t_fault
  begin_round "$mode"
  t_fault=$(now_ms)
  docker kill "$(cid "$old")" >/dev/null  # Swarm starts a new container at once
  wait_until "$name: another node leads" 60 leader_other_than "$old"
  wait_until "$name: writes through HAProxy again" 60 acked_after_at_least "$t_fault" 1
  rejoin_node "$old"
  end_round "$mode" "$t_fault" "$rejoined"
}

# The master off the etcd network (project_dcs) only. It must stop taking
# writes (fencing) before another node takes the key; once another leads,
# the network comes back and the old master (restarted by Docker after its
# exit) rejoins.
cut_master_from_etcd() {
  local mode=$1 t_fault net id
  begin_round "$mode"
  id=$(cid "$old")
  net=${COMPOSE_PROJECT_NAME:-$stack}_dcs
  t_fault=$(now_ms)
  docker network disconnect "$net" "$id"
  wait_until "$name: another node leads" 60 leader_other_than "$old"
  wait_until "$name: writes through HAProxy again" 60 acked_after_at_least "$t_fault" 1
  # Compose restarts the fenced container without the network; Swarm
  # starts a new one with every network.
  [[ $on == swarm ]] || docker network connect "$net" "$id"
  wait_until "$name: $old is a replicant again" 180 is_replicant "$old"
  local discarded
  discarded=$(for i in $(all_cids "$old"); do docker logs "$i" 2>&1; done | sed -n "s/.*discards this node's WAL after the fork point.*, with \([0-9]*\) committed transaction.*/\1/p" | tail -n 1)
  end_round "$mode" "$t_fault" "${discarded:-0} discarded"
}

# etcd's raft leader member killed under load, then started again: a
# member is lost, the others keep a quorum; no node may fail over.
etcd_member_lost() {
  local mode=$1 t_fault member
  begin_round "$mode"
  member=$(etcd_raft_leader)
  [[ -n $member ]] || fail "$name: cannot tell etcd's raft leader"
  t_fault=$(now_ms)
  docker kill "$(cid "$member")" >/dev/null
  wait_until "$name: 500 writes after $member was killed" 60 acked_after_at_least "$t_fault" 500
  [[ $on == swarm ]] || docker start "$(cid "$member")" >/dev/null  # Swarm starts a new one
  wait_until "$name: $member is healthy again" 60 etcd_healthy "$member"
  end_round "$mode" "$t_fault" "($member killed)"
}
etcd_raft_leader() {
  local m id
  for m in "${members[@]}"; do
    id=$(cid "$m")
    # The member that answers is the leader when its own id is the leader's.
    if docker exec "$id" etcdctl --dial-timeout=1s endpoint status -w fields 2>/dev/null |
      awk '/"MemberID"/ { m = $3 } /"Leader"/ { l = $3 } END { exit !(m != "" && m == l) }'; then
      echo "$m"
      return
    fi
  done
}
etcd_healthy() { docker exec "$(cid "$1")" etcdctl --dial-timeout=1s endpoint health >/dev/null 2>&1; }

# Every etcd member killed: the master must stop taking writes (nobody can
# renew); 5 s later the members start again and writes must come back.
etcd_all_lost() {
  local mode=$1 t_fault m
  begin_round "$mode"
  t_fault=$(now_ms)
  if [[ $on == compose ]]; then
    for m in "${members[@]}"; do docker kill "$(cid "$m")" >/dev/null; done
  else  # killed, Swarm would start them again at once
    for m in "${members[@]}"; do docker service scale -d "${stack}_$m=0" >/dev/null; done
  fi
  wait_until "$name: writes stop" 30 write_failed_after "$t_fault"
  sleep 5  # the fault itself: 5 s more without etcd
  for m in "${members[@]}"; do
    if [[ $on == compose ]]; then docker start "$(cid "$m")" >/dev/null; else docker service scale -d "${stack}_$m=1" >/dev/null; fi
  done
  wait_until "$name: a node leads again" 120 has_leader
  wait_until "$name: the three nodes are healthy again" 180 healthy_all
  end_round "$mode" "$t_fault" "-"
}

switchover() {
  local mode=$1 t_fault out
  begin_round "$mode"
  t_fault=$(now_ms)
  out=$(smake -s switchover 2>&1) || { echo "$out" >&2; fail "$name: make switchover failed"; }
  echo "$out" >"$outdir/$name.report"
  log "$name: $out"
  wait_until "$name: the three nodes are healthy again" 180 healthy_all
  end_round "$mode" "$t_fault" "-"
}

for ((round = 1; round <= rounds; round++)); do
  for fault in "${faults[@]}"; do
    name=$fault-$round
    log "--- $name"
    case $fault in
      kill-master-*) kill_master "${fault##*-}" ;;
      cut-master-from-etcd-*) cut_master_from_etcd "${fault##*-}" ;;
      etcd-member-lost-*) etcd_member_lost "${fault##*-}" ;;
      etcd-all-lost-*) etcd_all_lost "${fault##*-}" ;;
      switchover-*) switchover "${fault##*-}" ;;
    esac
  done
done

echo
echo "| round | acknowledged | lost | probe rounds with two writable | no write acknowledged for | nodes agree after | failovers | rejoin |"
echo "|---|---:|---:|---:|---:|---:|---|---|"
printf '%s\n' "${table[@]}"
echo "(on $on; histories, probe records and verdicts: $outdir)"
((broken == 0)) || fail "a round broke a promise (table above)"
pass
