#!/usr/bin/env bash
# End-to-end test of sample/failover: three pgkeeper nodes in cluster mode,
# a three-member etcd and HAProxy, driven through the sample's Makefile.
#
# Checks, in order: `make up` brings up a cluster in which exactly one node
# took the leader key and initialised it and the two others copied it; a row
# written through HAProxy's port 5000 is read back through 5001 and is on
# every node; `make kill-master` kills the master's container, and a write
# through 5000 is accepted again within a deadline (the time is printed:
# it is the figure users feel); the new leader is one of the two others,
# the third follows it (its status names the new leader) without a copy;
# every row acknowledged before the kill is on the new master (the kill came
# after the replicants had them); `make start` brings the killed node back
# as a replicant of the new master, and it receives a row written after;
# `make switchover TO=<it>` hands the master's role back to it, and a write
# through 5000 lands on it.
#
# Runs under its own compose project name; needs the ports 5000, 5001 and
# 7000 free. A missing Docker daemon is a failure, not a skip. Every wait
# has a deadline.
#
# Environment: E2E_PROJECT (default pgkeeper-failover-e2e), E2E_KEEP=1 (leave
# the containers after a failure), E2E_SKIP_BUILD=1 (use the pgkeeper image
# already built).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sample=$root/sample/failover
nodes=(pg-1 pg-2 pg-3)
running=(etcd-1 etcd-2 etcd-3 haproxy)
wait_poll=0.2
log_services=("${nodes[@]}")
log_lines=50

now_ms() { echo $(($(date +%s%N) / 1000000)); }

load_settings pgkeeper-failover-e2e PGKEEPER_API_PASSWORD
export PGKEEPER_CLUSTER=e2e

leader() { smake -s leader 2>/dev/null; }
has_leader() { [[ -n $(leader) ]]; }
healthy_all() {
  local s
  for s in "$@"; do health_is "$s" healthy || return 1; done
}
count_on() { docker exec "$(cid "$1")" psql -XAtq -U "$POSTGRES_USER" -d "$db" -c "$2"; }
writes_ok() { sql 5000 "INSERT INTO e2e_failover (note) VALUES ('probe')" >/dev/null 2>&1; }

preflight
start_run failover_e2e
clear_leftovers 5000 5001 7000
build_image

log "make up (three etcd members, three nodes, HAProxy)"
smake up >"$workdir/up.log" 2>&1 || {
  tail -n 40 "$workdir/up.log" >&2
  fail "make up failed"
}
wait_until "a node holds the leader key" 120 has_leader
wait_until "the three nodes are healthy" 300 healthy_all "${nodes[@]}"
first=$(leader)
log "leader: $first"
bootstraps=0
for s in "${nodes[@]}"; do
  # Each may decide to bootstrap; only the one that won the key initialises.
  if docker logs "$(cid "$s")" 2>&1 | grep -F "cluster: initialised;" >/dev/null; then
    bootstraps=$((bootstraps + 1))
  fi
done
((bootstraps == 1)) || fail "$bootstraps nodes initialised a cluster; exactly one must"

wait_until "writes go through HAProxy's port 5000" 60 sql 5000 'SELECT 1'
sql 5000 "CREATE TABLE e2e_failover (id serial PRIMARY KEY, note text NOT NULL)" >/dev/null
sql 5000 "INSERT INTO e2e_failover (note) SELECT 'before-' || g FROM generate_series(1, 100) g" >/dev/null
wait_until "reads through 5001 see the rows" 60 eval '[[ $(sql 5001 "SELECT count(*) FROM e2e_failover") == 100 ]]'
for s in "${nodes[@]}"; do
  wait_until "$s has the rows" 60 eval '[[ $(count_on '"$s"' "SELECT count(*) FROM e2e_failover") == 100 ]]'
done

log "make kill-master"
t_kill=$(now_ms)
smake kill-master >"$workdir/kill.log" 2>&1 || {
  cat "$workdir/kill.log" >&2
  fail "make kill-master failed"
}
wait_until "writes through 5000 are accepted again" 60 writes_ok
t_back=$(now_ms)
second=$(leader)
[[ -n $second && $second != "$first" ]] || fail "the leader after the kill is '$second' (was $first)"
log "measured: master killed -> writes accepted through HAProxy again in $((t_back - t_kill)) ms; new leader $second"
[[ $(count_on "$second" "SELECT count(*) FROM e2e_failover WHERE note LIKE 'before-%'") == 100 ]] ||
  fail "the new master lacks rows acknowledged before the kill"
third=
for s in "${nodes[@]}"; do [[ $s == "$first" || $s == "$second" ]] || third=$s; done
status_has_leader() { docker exec "$(cid "$third")" pgkeeper status | grep -F "cluster     leader $second" >/dev/null; }
wait_until "$third follows the new leader $second" 60 status_has_leader
# Its first copy at start is expected; a second one is not.
copies=$(docker logs "$(cid "$third")" 2>&1 | grep -cF "cloning " || true)
((copies <= 1)) || fail "$third took $copies copies; following the new master must not take one"

log "make start (the killed node comes back)"
smake start >"$workdir/start.log" 2>&1 || {
  tail -n 20 "$workdir/start.log" >&2
  fail "make start failed"
}
sql 5000 "INSERT INTO e2e_failover (note) VALUES ('after-return')" >/dev/null
wait_until "$first has rejoined and has the row written after" 120 \
  eval '[[ $(count_on '"$first"' "SELECT count(*) FROM e2e_failover WHERE note = '"'after-return'"'") == 1 ]]'
[[ $(count_on "$first" 'SELECT pg_is_in_recovery()') == t ]] || fail "$first came back writable"
[[ $(leader) == "$second" ]] || fail "the leader changed when $first came back"
log "$first rejoined: $(docker logs "$(cid "$first")" 2>&1 | grep -F 'decision:' | tail -n 1 | sed 's/^.*decision: //')"

log "make switchover TO=$first"
smake switchover TO="$first" >"$workdir/switchover.log" 2>&1 || {
  cat "$workdir/switchover.log" >&2
  fail "make switchover failed"
}
log "$(cat "$workdir/switchover.log")"
[[ $(leader) == "$first" ]] || fail "after the switchover the leader is '$(leader)', not $first"
first_takes_writes() {
  [[ $(count_on "$first" 'SELECT pg_is_in_recovery()') == f ]] &&
    sql 5000 "INSERT INTO e2e_failover (note) VALUES ('after-switchover')"
}
wait_until "writes through 5000 reach $first" 30 first_takes_writes
total=$(sql 5000 "SELECT count(*) FROM e2e_failover WHERE note <> 'probe'")
[[ $total -ge 102 ]] || fail "after the switchover the master holds $total of the 102 rows written"
pass
