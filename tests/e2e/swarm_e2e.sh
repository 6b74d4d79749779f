#!/usr/bin/env bash
# End-to-end test of sample/swarm: the failover cluster as a Docker Swarm
# stack (three pgkeeper nodes, three etcd members, HAProxy), deployed with
# the sample's Makefile on a one-node swarm.
#
# When this machine is in no swarm, the test makes it a one-node swarm on
# 127.0.0.1 and leaves it at the end; in a swarm already, it needs to be a
# manager, and deploys its own stack beside whatever runs. Labels it adds to
# this machine (pgkeeper.pg-1=true, ...) it removes again. The stack is
# deployed without publish.yml: no port is published; clients run inside
# the nodes' containers (psql to HAProxy over the overlay network).
#
# Checks, in order: `make up` deploys a stack whose nodes each have their
# own volume and in which one node leads and the others stream; a row
# written through HAProxy is on every node; `make kill-master`: a write
# through HAProxy is accepted again within a deadline (printed), another
# node leads, Swarm starts the killed node again and it rejoins as a
# replicant with the rows written since; the new master cut from etcd alone
# (`docker network disconnect` of the etcd network; clients still reach
# it) stops taking writes (printed: how long after the cut) before another
# node accepts one, and comes back by itself as a replicant; `make
# switchover TO=...` hands the role to the named node; no row acknowledged
# before any of this is missing at the end.
#
# Environment: E2E_PROJECT (the stack's name, default pgkeeper-swarm-e2e),
# E2E_KEEP=1 (leave the stack after a failure), E2E_SKIP_BUILD=1.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=swarm_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/swarm_lib.sh"
sample=$root/sample/swarm
stack=${E2E_PROJECT:-pgkeeper-swarm-e2e}
nodes=(pg-1 pg-2 pg-3)
roles=(pg-1 pg-2 pg-3 etcd-1 etcd-2 etcd-3)
running=()
wait_poll=0.2
smake_vars=(STACK="$stack" PUBLISH=)
export PGKEEPER_CLUSTER=e2e

now_ms() { echo $(($(date +%s%N) / 1000000)); }
cid() { scid "$1"; }
leader() { smake -s leader 2>/dev/null; }
has_leader() { [[ -n $(leader) ]]; }
healthy() { [[ $(docker inspect -f '{{.State.Health.Status}}' "$(cid "$1")" 2>/dev/null) == healthy ]]; }
all_healthy() {
  local s
  for s in "${nodes[@]}"; do healthy "$s" || return 1; done
}
# A write through HAProxy's port 5000, from inside the node $1.
writes_ok_from() { xsql "$1" 5000 "INSERT INTO e2e_swarm (note) VALUES ('probe')"; }
is_replicant_with() { [[ $(xsql "$1" local "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM e2e_swarm WHERE note = '$2')") == t ]]; }
other_than() {
  local s
  for s in "${nodes[@]}"; do [[ " $* " == *" $s "* ]] || { echo "$s"; return; }; done
}

cleanup() {
  local rc=$? s r
  set +e
  if ((rc != 0)); then
    echo "e2e: --- state at failure (stack $stack) ---" >&2
    docker stack ps --no-trunc "$stack" 2>&1 | cut -c1-220 >&2
    for s in "${nodes[@]}"; do
      echo "e2e: --- last log lines of $s ---" >&2
      docker service logs --raw --tail 40 "${stack}_$s" 2>&1 | sed "s|${secret:-no-secret}|<password>|g" >&2
    done
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

docker info >/dev/null 2>&1 || fail "no Docker daemon answers; this test needs one (.ci/run starts dockerd)"
command -v openssl >/dev/null || fail "openssl is not installed on the host (the Makefile makes the secrets with it)"
start_run swarm_e2e

swarm_join
smake clean >/dev/null 2>&1 || true   # an earlier, killed run

build_image
smake images >"$workdir/images.log" 2>&1 || { tail -n 30 "$workdir/images.log" >&2; fail "make images failed"; }
log "make up (stack $stack, without published ports)"
smake up >"$workdir/up.log" 2>&1 || { tail -n 30 "$workdir/up.log" >&2; fail "make up failed"; }
wait_until "a node holds the leader key" 180 has_leader
wait_until "the three nodes are healthy" 300 all_healthy
first=$(leader)
log "leader: $first"
volumes=$(docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | grep -c -- '-data$' || true)
((volumes == 6)) || fail "the stack has $volumes data volumes; expected one per node and etcd member (6)"
secret=$(docker exec "$(cid "$first")" cat /run/secrets/postgres_pass)

replicant=$(other_than "$first")
xsql "$replicant" 5000 "CREATE TABLE e2e_swarm (id serial PRIMARY KEY, note text NOT NULL)" >/dev/null
xsql "$replicant" 5000 "INSERT INTO e2e_swarm (note) SELECT 'before-' || g FROM generate_series(1, 100) g" >/dev/null
for s in "${nodes[@]}"; do
  wait_until "$s has the rows" 60 eval '[[ $(xsql '"$s"' local "SELECT count(*) FROM e2e_swarm WHERE note LIKE '"'before-%'"'") == 100 ]]'
done
[[ $(xsql "$replicant" 5001 'SELECT pg_is_in_recovery()') == t ]] || fail "HAProxy's port 5001 does not reach a replicant"

log "make kill-master"
t_kill=$(now_ms)
smake kill-master >"$workdir/kill.log" 2>&1 || { cat "$workdir/kill.log" >&2; fail "make kill-master failed"; }
wait_until "writes through HAProxy are accepted again" 60 writes_ok_from "$replicant"
log "measured: master killed -> writes accepted through HAProxy again in $(($(now_ms) - t_kill)) ms"
second=$(leader)
[[ -n $second && $second != "$first" ]] || fail "the leader after the kill is '$second' (was $first)"
xsql "$second" 5000 "INSERT INTO e2e_swarm (note) VALUES ('after-kill')" >/dev/null
wait_until "Swarm started $first again and it rejoined as a replicant" 180 is_replicant_with "$first" after-kill

log "$second (the master) cut from etcd, not from clients"
third=$(other_than "$first" "$second")
cut_id=$(cid "$second")
t_cut=$(now_ms)
docker network disconnect "${stack}_dcs" "$cut_id"
# A write to that very container (not to whatever task Swarm starts next).
local_write() {
  docker exec "$cut_id" sh -c 'PGPASSWORD=$(cat /run/secrets/postgres_pass) exec psql -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" "$POSTGRES_DBNAME" -c "$1"' \
    sh "INSERT INTO e2e_swarm (note) VALUES ('cut')"
}
fenced() { ! local_write >/dev/null 2>&1; }
wait_until "$second stops taking writes" 30 fenced
t_fenced=$(now_ms)
writes_elsewhere() { [[ $(leader) != "$second" ]] && writes_ok_from "$third"; }
wait_until "another node takes writes" 60 writes_elsewhere
t_other=$(now_ms)
log "measured: cut from etcd -> $second stopped taking writes in $((t_fenced - t_cut)) ms; another node ($(leader)) took writes $((t_other - t_cut)) ms after the cut"
((t_fenced < t_other)) || fail "$second took writes until after another node did"
third_leader=$(leader)
xsql "$third_leader" 5000 "INSERT INTO e2e_swarm (note) VALUES ('after-cut')" >/dev/null
wait_until "Swarm started $second again and it rejoined as a replicant" 180 is_replicant_with "$second" after-cut

# The node fenced a moment ago, a replicant again, takes the role back.
log "make switchover TO=$second"
smake switchover TO="$second" >"$workdir/switchover.log" 2>&1 || { cat "$workdir/switchover.log" >&2; fail "make switchover failed"; }
log "$(grep -F 'switched over' "$workdir/switchover.log" || tail -n 1 "$workdir/switchover.log")"
[[ $(leader) == "$second" ]] || fail "after the switchover the leader is '$(leader)', not $second"
master_takes_writes() {
  [[ $(xsql "$second" local "SELECT pg_is_in_recovery()") == f ]] &&
    xsql "$second" 5000 "INSERT INTO e2e_swarm (note) VALUES ('after-switchover')"
}
wait_until "writes through HAProxy reach $second" 30 master_takes_writes
n=$(xsql "$second" local "SELECT count(*) FROM e2e_swarm WHERE note LIKE 'before-%' OR note IN ('after-kill', 'after-cut')")
((n == 102)) || fail "the master holds $n of the 102 rows acknowledged before"
pass
