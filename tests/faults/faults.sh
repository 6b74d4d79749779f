#!/usr/bin/env bash
# The fault suite: the real image in the replication sample (pg-master,
# pg-replicant and pg-cascade, a replicant of pg-replicant), a workload that
# writes numbered rows over TCP and records every acknowledged commit
# (pgkeeper-workload), a fault injected under that load, and a checker
# (check.py) that compares what was acknowledged with what the surviving
# master holds, and the nodes with each other.
#
# usage: faults.sh [--rounds N] [FAULT...]
#   FAULT: kill-master-async, kill-master-sync (the master container killed
#   with docker kill, pg-replicant promoted with `pgkeeper promote`),
#   kill-master-slow-link-async (the same, with what the master sends
#   pg-replicant held to 1 Mbit/s, so that acknowledged writes are lost),
#   kill-postgres-async, kill-postgres-sync (SIGKILL to the master's
#   postmaster inside its container), restart-master-async/-sync (`docker
#   restart` of the master), partition-master-async/-sync (the master's
#   container off the network for 5 s, then back), promote-refused-async
#   (`pgkeeper promote` on the replicant while the master runs: it must
#   refuse), kill-replicant-mid-copy-async (the replicant's container
#   killed in the middle of its first copy, then started),
#   disk-full-replicant-async/-sync (pg-replicant's volume, a small tmpfs,
#   filled to the last byte for 5 s, then freed), recopy-kill-master-sync
#   (pg-replicant restarted to copy a strict master again, the master killed
#   and its volume dropped mid-copy, pg-replicant promoted on the data it
#   kept; issue 32); default: all of them.
#   --rounds repeats each (default 1).
#
# Prints one table row per round: acknowledged writes, how many were lost,
# what the promotion report said (bytes of known missing WAL, or "none lost"
# in strict mode), whether it under-reported, how long no write was
# acknowledged, the time until every node held the same rows, whether any
# node took a fresh copy, and, after a promotion, how many transactions the
# old master's rejoin report (make rejoin-master) counted. Exits 1 when a
# round breaks a promise: a loss in strict mode, a report that
# under-reports, a rejoin count that is not the lost writes (plus at most
# those in flight), a node that needed a person. Environment as for the e2e tests (E2E_SKIP_BUILD=1, E2E_KEEP=1),
# and FAULTS_WORKLOAD: the client (default build/tests/faults/pgkeeper-workload).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
# shellcheck source-path=SCRIPTDIR source=history.sh
source "$(dirname "${BASH_SOURCE[0]}")/history.sh"
here=$root/tests/faults
sample=$root/sample/replication
master_port=7777
replicant_port=7776
cascade_port=7775
running=(pg-master pg-replicant pg-cascade)
wait_poll=0.2
log_services=(pg-master pg-replicant pg-cascade)
log_lines=40
workload=${FAULTS_WORKLOAD:-$root/build/tests/faults/pgkeeper-workload}
# Each round's history, promotion report and verdict are kept here.
outdir=${FAULTS_OUT:-$root/build/faults}

rounds=1
faults=()
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    kill-master-async | kill-master-sync | kill-master-slow-link-async | kill-postgres-async | kill-postgres-sync | \
      restart-master-async | restart-master-sync | partition-master-async | \
      partition-master-sync | promote-refused-async | kill-replicant-mid-copy-async | \
      disk-full-replicant-async | disk-full-replicant-sync | recopy-kill-master-sync) faults+=("$1"); shift ;;
    *) echo "usage: $0 [--rounds N] [FAULT...] (see the header)" >&2; exit 2 ;;
  esac
done
((${#faults[@]})) || faults=(kill-master-async kill-master-sync kill-master-slow-link-async kill-postgres-async kill-postgres-sync
  restart-master-async restart-master-sync partition-master-async partition-master-sync
  promote-refused-async kill-replicant-mid-copy-async disk-full-replicant-async disk-full-replicant-sync
  recopy-kill-master-sync)

load_settings pgkeeper-faults SYNCHRONOUS_REPLICANTS SYNCHRONOUS_MODE SYNCHRONOUS_COMMIT \
  PGKEEPER_CLONE_MAX_RATE
export DESTROY_DATABASE_ON_RESTART=False
[[ -x $workload ]] || fail "no workload client at $workload (build the project first: make build)"
preflight python3
start_run pgkeeper-faults
trap stop_clients_then_cleanup EXIT
clear_leftovers $master_port $replicant_port $cascade_port
build_image

export PGUSER=$POSTGRES_USER PGDATABASE=$db  # for check.py's psql
rm -rf "$outdir"
mkdir -p "$outdir"
conninfo="host=127.0.0.1,127.0.0.1 port=$master_port,$replicant_port user=$POSTGRES_USER dbname=$db"
# A write to a master cut off by the network fails within 3 s instead of
# hanging on TCP retransmissions.
conninfo+=" target_session_attrs=read-write connect_timeout=2 tcp_user_timeout=3000"
answers() { [[ $(sql "$1" 'SELECT 1' 2>/dev/null) == 1 ]]; }
streams() { [[ $(sql "$1" 'SELECT status FROM pg_stat_wal_receiver' 2>/dev/null) == streaming ]]; }
has_file() { docker exec "$(cid "$1")" test -s "/var/lib/postgresql/data/$2"; }
copies() { docker logs "$(cid "$1")" 2>&1 | grep -c 'base backup completed' || true; }
# Completed copies on both replicants so far.
copies_total() { echo $(($(copies pg-replicant) + $(copies pg-cascade))); }
rows_of() { sql "$1" 'SELECT count(*) || chr(32) || COALESCE(sum(id), 0) FROM ledger' 2>/dev/null; }
same_rows() { local a; a=$(rows_of "$1") && [[ -n $a && $a == "$(rows_of "$2")" ]]; }
tree_agrees() {
  same_rows $master_port $replicant_port || return 1
  [[ -z $(docker ps -q --filter "id=$(cid pg-cascade)" 2>/dev/null) || -z $(cid pg-cascade) ]] ||
    same_rows $master_port $cascade_port
}
# copied_at_least SERVICE PERCENT: its clone has come that far.
copied_at_least() {
  local pct
  pct=$(docker exec "$(cid "$1")" pgkeeper status --json 2>/dev/null |
    python3 -c 'import json,sys; c=json.load(sys.stdin)["clone"]; print(int(c["percent"]) if c["active"] else -1)') || return 1
  ((pct >= $2))
}

# Only a fresh master; sync: SYNCHRONOUS_REPLICANTS=1, strict (its commits
# wait until a replicant streams).
fresh_master() {
  smake clean >/dev/null 2>&1 || true
  if [[ $1 == sync ]]; then export SYNCHRONOUS_REPLICANTS=1; else unset SYNCHRONOUS_REPLICANTS; fi
  running=(pg-master)
  compose up -d pg-master >"$workdir/up.log" 2>&1 || { cat "$workdir/up.log" >&2; fail "cannot start pg-master"; }
  wait_until "pg-master answers" 180 answers $master_port
}

# A fresh three-node tree; sync: SYNCHRONOUS_REPLICANTS=1, strict.
fresh_tree() {
  smake clean >/dev/null 2>&1 || true
  if [[ $1 == sync ]]; then export SYNCHRONOUS_REPLICANTS=1; else unset SYNCHRONOUS_REPLICANTS; fi
  running=(pg-master pg-replicant pg-cascade)
  smake up >"$workdir/up.log" 2>&1 || { cat "$workdir/up.log" >&2; fail "'make up' failed"; }
  smake cascade >>"$workdir/up.log" 2>&1 || { cat "$workdir/up.log" >&2; fail "'make cascade' failed"; }
  wait_until "pg-replicant streams" 300 streams $replicant_port
  wait_until "pg-cascade streams" 300 streams $cascade_port
}

table=()
broken=0
row() { table+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$@")"); }

# Holds what the master sends pg-replicant to $1 (a tc rate: 1mbit), as a
# thin link to another site would: an htb class on the master's side for
# pg-replicant's address only (clients are not slowed). This kernel has no
# netem for a plain delay. Gone with the master's network namespace when
# its container is killed.
slow_link_to_replicant() {
  local pid ip
  pid=$(docker inspect -f '{{.State.Pid}}' "$(cid pg-master)")
  ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(cid pg-replicant)")
  nsenter -t "$pid" -n tc qdisc add dev eth0 root handle 1: htb default 10 r2q 1000
  nsenter -t "$pid" -n tc class add dev eth0 parent 1: classid 1:10 htb rate 10gbit
  nsenter -t "$pid" -n tc class add dev eth0 parent 1: classid 1:20 htb rate "$1"
  nsenter -t "$pid" -n tc filter add dev eth0 protocol ip parent 1:0 prio 1 u32 \
    match ip dst "$ip/32" flowid 1:20
}

# The master container killed under load; pg-replicant promoted live. With
# a third argument, what the master sends pg-replicant goes through a link
# of that rate (slow_link_to_replicant) for the last 1000 writes before the
# kill, so asynchronous commits are lost.
kill_master() {
  local mode=$1 name=$2 link=${3:-} t_fault report_file out check lost acked says under back settle copy
  fresh_tree "$mode"
  local copies_before
  copies_before=$(copies_total)
  start_load "$name"
  # What a promotion report rests on: the replicant learns its master's
  # replicants within seconds of streaming, and what the master last said.
  wait_until "$name: pg-replicant knows its master's replicants" 60 has_file pg-replicant pgkeeper.peers
  wait_until "$name: pg-replicant keeps what its master last said" 60 has_file pg-replicant pgkeeper.heard
  if [[ -n $link ]]; then
    slow_link_to_replicant "$link"
    wait_until "$name: 1000 writes since the link slowed" 60 acked_after_at_least "$(now_ms)" 1000
  fi
  t_fault=$(now_ms)
  docker kill "$(cid pg-master)" >/dev/null
  running=(pg-replicant pg-cascade)
  report_file=$outdir/$name.report
  out=$(docker exec "$(cid pg-replicant)" pgkeeper promote 2>&1) || {
    echo "$out" >&2
    fail "$name: pgkeeper promote failed"
  }
  echo "$out" >"$report_file"
  after_promotion "$t_fault" "$report_file"
  copy=$(( $(copies_total) - copies_before ))
  # The old master back as a replicant of the new one (make rejoin-master):
  # its report counts the transactions only it had, which must be the lost
  # writes, plus at most the writes in flight whose outcome was unknown.
  rejoin_old_master "$name"
  local unknown_lost=$(( $(jq_field "$check" unknown) - $(jq_field "$check" unknown_survived) ))
  row "$name" "$acked" "$lost" "$says" "$under" "$back ms" "$settle ms" "$copy" \
    "$discarded (of $lost lost + $unknown_lost unknown)"
  if ((under > 0)) || [[ $mode == sync && $lost != 0 ]] || ((copy > 0)) ||
    ((discarded < lost || discarded > lost + unknown_lost)); then broken=1; fi
  log "$name: $check; the rejoin report counted $discarded transactions"
}

# After pg-replicant's promotion at ms $1 with the report in file $2: the
# load rides it out, pg-cascade catches up, and the checker compares. Sets
# the caller's settle, check, acked, lost, back (as verdict and ride_out do),
# under (writes the report under-reported) and says (report_says).
after_promotion() {
  ride_out "$1"
  wait_until "$name: pg-cascade holds the promoted node's rows" 120 same_rows $replicant_port $cascade_port
  settle=$(( $(now_ms) - $1 ))
  verdict --master $replicant_port --node $cascade_port --report "$2"
  under=$(jq_field "$check" report_under_reported)
  says=$(report_says "$2")
}

# What the promotion report in file $1 said, for the table: bytes of WAL
# known missing, when the master was last heard, or "none lost (strict)".
report_says() {
  local says heard
  says=$(sed -n 's/.*then at WAL [^:]*: \([0-9]* bytes\?\) of WAL it had never reached.*/\1 missing/p;
                 s/.*this node has all of that WAL.*/nothing known missing/p' "$1" | head -1)
  heard=$(sed -n 's/.*(\([^)]*\) before the promotion).*/\1/p' "$1" | head -1)
  [[ -z $heard ]] || says+=", master last heard $heard before"
  grep -q 'no acknowledged commit is lost' "$1" && says="none lost (strict)"
  echo "${says:-?}"
}

# Sets discarded: the committed transactions the old master's rejoin report
# counted (0 when it discarded nothing).
rejoin_old_master() {
  local name=$1
  smake rejoin-master >>"$workdir/up.log" 2>&1 || { cat "$workdir/up.log" >&2; fail "$name: 'make rejoin-master' failed"; }
  running=(pg-master pg-replicant pg-cascade)
  wait_until "$name: the old master streams from pg-replicant" 300 streams $master_port
  docker logs "$(cid pg-master)" >"$outdir/$name.rejoin.log" 2>&1
  discarded=$(sed -n "s/.*discards this node's WAL after the fork point.*, with \([0-9]*\) committed transaction.*/\1/p" \
    "$outdir/$name.rejoin.log" | tail -n 1)
  discarded=${discarded:-0}
}

# After a fault the master survives: writes come back, the replicants
# stream again and every node holds the master's rows; then the row.
finish_in_place() {
  local mode=$1 name=$2 t_fault=$3 copies_before=$4 said=$5 check acked lost back settle copy
  ride_out "$t_fault"
  wait_until "$name: pg-replicant streams again" 120 streams $replicant_port
  wait_until "$name: every node holds the master's rows" 120 tree_agrees
  settle=$(( $(now_ms) - t_fault ))
  local nodes=(--node $replicant_port)
  [[ -z $(cid pg-cascade) ]] || nodes+=(--node $cascade_port)
  verdict --master $master_port "${nodes[@]}"
  copy=$(( $(copies_total) - copies_before ))
  row "$name" "$acked" "$lost" "$said" "-" "$back ms" "$settle ms" "$copy" "-"
  if [[ $lost != 0 ]] || ((copy > 0)); then broken=1; fi
  log "$name: $check"
}

# SIGKILL to the master's postmaster under load: pgkeeper restarts it in place.
kill_postgres() {
  local mode=$1 name=$2 t_fault pid copies_before
  fresh_tree "$mode"
  copies_before=$(copies_total)
  start_load "$name"
  pid=$(docker exec "$(cid pg-master)" head -n 1 /var/lib/postgresql/data/postmaster.pid)
  t_fault=$(now_ms)
  # The image has no kill(1); the shell's builtin does it, by PID.
  docker exec "$(cid pg-master)" sh -c 'kill -KILL "$1"' sh "$pid"
  # Backends outlive their postmaster for a moment and may still commit.
  wait_until "$name: a write fails as postgres dies" 30 write_failed_after "$t_fault"
  finish_in_place "$mode" "$name" "$t_fault" "$copies_before" "(no promotion)"
}

# The replicant's container killed in the middle of its first copy of a
# loaded master (the copy slowed to 20 MB/s to have a middle), then started
# again: the master never notices, the replicant copies again and streams.
kill_replicant_mid_copy() {
  local mode=$1 name=$2 t_fault id
  fresh_master "$mode"
  sql $master_port "CREATE TABLE filler AS SELECT g, repeat('x', 500) AS pad
                    FROM generate_series(1, 300000) g" >/dev/null || fail "$name: cannot load the master"
  start_load "$name"
  PGKEEPER_CLONE_MAX_RATE=20M compose up -d --no-deps pg-replicant >"$workdir/up.log" 2>&1 ||
    { cat "$workdir/up.log" >&2; fail "$name: cannot start pg-replicant"; }
  running=(pg-master)
  wait_until "$name: pg-replicant has copied a fifth of the master" 120 copied_at_least pg-replicant 20
  id=$(cid pg-replicant)
  t_fault=$(now_ms)
  docker kill "$id" >/dev/null
  docker start "$id" >/dev/null
  running=(pg-master pg-replicant)
  wait_until "$name: pg-replicant streams after its second copy" 300 streams $replicant_port
  # One copy is this fault's price; finish_in_place counts the ones beyond it.
  finish_in_place "$mode" "$name" "$t_fault" 1 "(no promotion)"
}

# Issue 32: a strict pair (SYNCHRONOUS_REPLICANTS=1) whose replicant copies
# the master again. pg-replicant is restarted under load with DESTROY_DATABASE_ON_RESTART=True (the request's
# default; the suite exports False) and its copy throttled to 2 MB/s; its
# old data stays in $PGDATA while the copy is built in .pgkeeper-new. The
# copy's WAL stream (pg_basebackup -X stream, application_name
# pgkeeper_clone) reports its flush position as each 16 MB segment
# completes; a master that asked for 'ANY 1 (*)' counted it in the quorum,
# and one that names its replicants (pgkeeper's) must not. A session with
# synchronous_commit=local (a batch job, say) writes 4 MB of WAL a second,
# so that segments complete while the copy runs: the workload's one-row
# commits, which would otherwise wait for a segment they cannot fill, would
# then be released by the copy alone if it counted. Once the copy has confirmed 4 segments
# written since it began, the master is killed and its volume dropped (its
# disk is lost): the copy fails, and what it had confirmed is gone with it.
# pgkeeper then keeps retrying the copy and waits for the master forever
# (clone.cc: WaitForMaster), with postgres down, and a live `pgkeeper
# promote` is not answered while it does (requests are served only once it
# supervises postgres); so the round does what the README says for a lost
# master: it recreates pg-replicant with PROMOTE_MASTER=True and
# DESTROY_DATABASE_ON_RESTART=False, which promotes the old data it kept
# (the incomplete copy is discarded). Every acknowledged write must be on
# it: in strict mode any loss breaks the promise.
# pg-cascade stays: it streams from pg-replicant, so it never counts for
# the master's quorum and holds nothing pg-replicant lacked, but once
# pg-replicant is promoted (keeping the strict setting) its commits need a
# replicant, which pg-cascade becomes, as in kill-master-sync.
recopy_kill_master() {
  local mode=$1 name=$2 t_copy t_fault start_lsn walgen_pid vol report_file check acked lost
  local says under back settle copy cascade_copies during state
  fresh_tree "$mode"
  # About 160 MB of rows: at 2 MB/s the copy takes over a minute.
  sql $master_port "CREATE TABLE filler AS SELECT g, repeat('x', 500) AS pad
                    FROM generate_series(1, 300000) g" >/dev/null || fail "$name: cannot load the master"
  cascade_copies=$(copies pg-cascade)
  start_load "$name"
  # What the promotion report rests on, as in kill_master.
  wait_until "$name: pg-replicant knows its master's replicants" 60 has_file pg-replicant pgkeeper.peers
  wait_until "$name: pg-replicant keeps what its master last said" 60 has_file pg-replicant pgkeeper.heard
  DESTROY_DATABASE_ON_RESTART=True PGKEEPER_CLONE_MAX_RATE=2M \
    compose up -d --no-deps --force-recreate pg-replicant >"$workdir/up.log" 2>&1 ||
    { cat "$workdir/up.log" >&2; fail "$name: cannot restart pg-replicant"; }
  # The old pg-replicant has stopped: from now on only the copy can confirm
  # a commit.
  t_copy=$(now_ms)
  start_lsn=$(sql $master_port 'SELECT pg_current_wal_lsn()') || fail "$name: the master does not answer"
  psql -X -q -h 127.0.0.1 -p $master_port -U "$POSTGRES_USER" -d "$db" -v ON_ERROR_STOP=1 \
    >"$workdir/$name.walgen" 2>&1 <<'SQL' &
SET synchronous_commit = local;
DO $$
BEGIN
  LOOP
    PERFORM pg_logical_emit_message(true, 'pgkeeper-faults', repeat('x', 1048576));
    COMMIT;
    PERFORM pg_sleep(0.25);  -- 4 MB/s: a segment every 4 s
  END LOOP;
END $$;
SQL
  walgen_pid=$!
  wait_until "$name: pg-replicant copies the master again" 120 copied_at_least pg-replicant 1
  wait_until "$name: the copy confirmed 4 WAL segments written since it began" 120 \
    clone_flushed_since "$start_lsn" $((4 * 16 * 1024 * 1024))
  state=$(sql $master_port "SELECT sync_state || ', flushed ' || flush_lsn FROM pg_stat_replication
                            WHERE application_name = 'pgkeeper_clone' AND state = 'streaming'")
  during=$(oks_after "$t_copy")
  log "$name: on the master, pgkeeper_clone is $state; $during writes acknowledged since the copy began"
  copied_at_least pg-replicant 0 || fail "$name: the copy ended before the fault (slow it further)"
  t_fault=$(now_ms)
  docker kill "$(cid pg-master)" >/dev/null
  running=(pg-replicant pg-cascade)
  kill -TERM "$walgen_pid" 2>/dev/null || true  # if its connection outlived the master
  wait "$walgen_pid" || true
  docker rm -f "$(cid pg-master)" >/dev/null
  vol=$(docker volume ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
    --filter label=com.docker.compose.volume=pg-master-data)
  [[ -n $vol ]] || fail "$name: no volume pg-master-data in project $COMPOSE_PROJECT_NAME"
  docker volume rm "$vol" >/dev/null
  wait_until "$name: pg-replicant's copy fails" 60 clone_failed pg-replicant
  log "$name: pg-replicant says: $(docker exec "$(cid pg-replicant)" pgkeeper status | sed -n 's/^phase *//p')"
  PROMOTE_MASTER=True DESTROY_DATABASE_ON_RESTART=False \
    compose up -d --no-deps --force-recreate pg-replicant >"$workdir/up.log" 2>&1 ||
    { cat "$workdir/up.log" >&2; fail "$name: cannot recreate pg-replicant to promote it"; }
  wait_until "$name: pg-replicant is promoted" 180 has_file pg-replicant pgkeeper.promotion
  docker logs "$(cid pg-replicant)" >"$outdir/$name.replicant.log" 2>&1
  grep -q "decision: promote this replicant's own data" "$outdir/$name.replicant.log" ||
    fail "$name: pg-replicant was not promoted on its own data"
  report_file=$outdir/$name.report
  docker exec "$(cid pg-replicant)" cat /var/lib/postgresql/data/pgkeeper.promotion >"$report_file"
  after_promotion "$t_fault" "$report_file"
  # pg-replicant's copy never completes (the container promoted is a new
  # one, its log starts with the promotion); pg-cascade must not copy.
  copy=$(( $(copies pg-cascade) - cascade_copies + $(copies pg-replicant) ))
  row "$name" "$acked" "$lost" "$says" "$under" "$back ms" "$settle ms" "$copy" "- (its volume is gone)"
  if ((under > 0)) || [[ $mode == sync && $lost != 0 ]] || ((copy > 0)); then broken=1; fi
  log "$name: $check; $during writes were acknowledged during the copy"
}
# clone_flushed_since LSN BYTES: the master has the copy's word that it
# flushed WAL that far past LSN (its WAL stream, not its data stream,
# which is a walsender of the same name in state 'backup').
clone_flushed_since() {
  [[ $(sql $master_port "SELECT pg_wal_lsn_diff(flush_lsn, '$1') >= $2 FROM pg_stat_replication
                         WHERE application_name = 'pgkeeper_clone' AND state = 'streaming'") == t ]]
}
# (grep -c reads the whole log: grep -q would stop docker logs with SIGPIPE,
# which pipefail reports as a failure.)
clone_failed() { (($(docker logs "$(cid "$1")" 2>&1 | grep -c 'clone attempt [0-9]* failed' || true) > 0)); }

# `docker restart` of the master under load: pgkeeper stops postgres
# cleanly, the container starts again, the replicants reconnect.
restart_master() {
  local mode=$1 name=$2 t_fault check lost acked back settle copy copies_before
  fresh_tree "$mode"
  copies_before=$(copies_total)
  start_load "$name"
  running=(pg-replicant pg-cascade)
  t_fault=$(now_ms)
  docker restart -t 30 "$(cid pg-master)" >/dev/null
  finish_in_place "$mode" "$name" "$t_fault" "$copies_before" "(no promotion)"
}

# The master cut from the others for 5 s (its container leaves the
# project's network, clients' published port included), then healed.
partition_master() {
  local mode=$1 name=$2 t_fault net id ip copies_before
  fresh_tree "$mode"
  copies_before=$(copies_total)
  start_load "$name"
  id=$(cid pg-master)
  net=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' "$id")
  ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$id")
  t_fault=$(now_ms)
  docker network disconnect "$net" "$id"
  wait_until "$name: a write fails while the master is cut off" 30 write_failed_after "$t_fault"
  sleep 5  # the partition itself: 5 s more without the master
  # Back with its address, if Docker allows it, so that connections resume.
  docker network connect --alias pg-master --ip "$ip" "$net" "$id" 2>/dev/null ||
    docker network connect --alias pg-master "$net" "$id"
  finish_in_place "$mode" "$name" "$t_fault" "$copies_before" "(no promotion)"
}

# pg-replicant's volume is a 400 MB tmpfs (small-disk.yml); a file written
# into it until no byte is left (as a runaway log would) fills it under
# load, and is removed 5 s after pgkeeper has said the disk is full. The
# replicant must say so with what to do, then go on by itself without a
# copy; the master loses nothing (in strict mode its commits wait).
disk_full_replicant() {
  local mode=$1 name=$2 t_fault copies_before id said
  export COMPOSE_FILE=docker-compose.yml:$here/small-disk.yml
  fresh_tree "$mode"
  copies_before=$(copies_total)
  start_load "$name"
  id=$(cid pg-replicant)
  t_fault=$(now_ms)
  docker exec "$id" dd if=/dev/zero of=/var/lib/postgresql/filler bs=1M >/dev/null 2>&1 || true
  wait_until "$name: pg-replicant says its disk is full" 120 says_disk_full "$id"
  said=$(docker exec "$id" pgkeeper status | sed -n 's/^phase *disk-full: //p')
  echo "$said" >"$outdir/$name.report"
  log "$name: pg-replicant says: $said"
  sleep 5  # the fault itself: 5 s more with a full disk
  docker exec "$id" rm -f /var/lib/postgresql/filler
  finish_in_place "$mode" "$name" "$t_fault" "$copies_before" "(no promotion)"
  unset COMPOSE_FILE
}
says_disk_full() { docker exec "$1" pgkeeper status 2>/dev/null | grep -q '^phase *disk-full: '; }

# `pgkeeper promote` on the replicant while the master still runs: it must
# refuse, and nothing may change.
promote_refused() {
  local mode=$1 name=$2 t_fault copies_before said
  fresh_tree "$mode"
  copies_before=$(copies_total)
  start_load "$name"
  t_fault=$(now_ms)
  if said=$(docker exec "$(cid pg-replicant)" pgkeeper promote 2>&1); then
    fail "$name: pgkeeper promote succeeded next to a writable master: $said"
  fi
  [[ $said == *"still up and accepts writes"* ]] || fail "$name: refused, but not for the master: $said"
  echo "$said" >"$outdir/$name.report"
  [[ $(sql $replicant_port 'SELECT pg_is_in_recovery()') == t ]] || fail "$name: the replicant left recovery"
  finish_in_place "$mode" "$name" "$t_fault" "$copies_before" "refused, as it must"
}


for ((round = 1; round <= rounds; round++)); do
  for fault in "${faults[@]}"; do
    name=$fault-$round
    log "--- $name"
    case $fault in
      kill-master-async) kill_master async "$name" ;;
      kill-master-sync) kill_master sync "$name" ;;
      kill-master-slow-link-async) kill_master async "$name" 1mbit ;;
      kill-postgres-async) kill_postgres async "$name" ;;
      kill-postgres-sync) kill_postgres sync "$name" ;;
      restart-master-*) restart_master "${fault##*-}" "$name" ;;
      partition-master-*) partition_master "${fault##*-}" "$name" ;;
      promote-refused-*) promote_refused "${fault##*-}" "$name" ;;
      kill-replicant-mid-copy-*) kill_replicant_mid_copy "${fault##*-}" "$name" ;;
      disk-full-replicant-*) disk_full_replicant "${fault##*-}" "$name" ;;
      recopy-kill-master-sync) recopy_kill_master sync "$name" ;;
    esac
  done
done

echo
echo "| round | acknowledged | lost | promotion report said | under-reported | no write acknowledged for | nodes agree after | copies | rejoin report counted |"
echo "|---|---:|---:|---|---:|---:|---:|---:|---|"
printf '%s\n' "${table[@]}"
echo "(histories, reports and verdicts: $outdir)"
((broken == 0)) || fail "a round broke a promise (table above)"
pass
