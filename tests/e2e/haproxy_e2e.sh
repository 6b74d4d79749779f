#!/usr/bin/env bash
# End-to-end test of the HAProxy sample (sample/haproxy) the way a user meets
# it: ./build.sh, `make up`, then psql from the host through HAProxy's
# published ports 127.0.0.1:5000 (writes) and :5001 (reads), and curl against
# each node's pgkeeper HTTP API on 127.0.0.1:8008 (master), :8009 and :8010
# (replicants).
#
# Checks, in order: a write through 5000 reaches the master; the API answers
# /primary, /replica and /read-only with the right codes on each node, and
# HAProxy's checks agree; reads through 5001 come from both replicants, and a
# row written through 5000 is read back through 5001; a replicant more than
# 16 MB behind is taken out of the reads until it catches up; then the master
# is stopped and `pgkeeper promote` is run in pg-replicant-1 with `docker
# exec`, and writes through 5000 reach the promoted node within a deadline,
# while HAProxy's container and configuration stay untouched; reads through
# 5001 still work; `make repoint-2` makes pg-replicant-2 follow the promoted
# node live (same container, no copy), and reads through 5001 reach it
# again; `make up` refuses to start the old master next to the promoted one; `make clean` leaves nothing
# of the test behind.
#
# Runs under its own compose project name, so it never touches the sample's
# own containers or volumes, but it needs the ports 5000, 5001, 7000 and
# 8008-8010 free. A missing Docker daemon is a failure, not a skip. Every wait
# has a deadline.
#
# Environment: E2E_PROJECT (compose project, default pgkeeper-haproxy-e2e),
# E2E_KEEP=1 (leave the containers running after a failure, for a look),
# E2E_SKIP_BUILD=1 (use the pgkeeper image already built).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sample=$root/sample/haproxy
write_port=5000
read_port=5001
stats_url='http://127.0.0.1:7000/;csv'
nodes=(pg-master pg-replicant-1 pg-replicant-2)
declare -A api_port=([pg-master]=8008 [pg-replicant-1]=8009 [pg-replicant-2]=8010)
# wait_until fails at once when one of these has exited (changed at the
# failover); cleanup prints the last log lines of those.
running=("${nodes[@]}" haproxy)
wait_poll=0.2
log_services=("${nodes[@]}" haproxy)
log_lines=60

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The sample's .env, but our own project and a unique password.
load_settings pgkeeper-haproxy-e2e REPLICANT_2_FROM MASTER_FROM MASTER_ALLOW_REJOIN
smake_vars=(DB="$db")
# The API's password for its state-changing endpoints (sample compose file).
export PGKEEPER_API_PASSWORD="api-$RANDOM$RANDOM$RANDOM$RANDOM"

# HTTP code of `POST PATH` on a node's API with user:password (curl reads
# them from stdin, so they are in no process list); no credentials when the
# third argument is empty.
api_post() {
  local creds=$3
  curl -s -o "$workdir/post.out" -w '%{http_code}' --max-time 30 -X POST -K - \
    "http://127.0.0.1:${api_port[$1]}$2" <<<"${creds:+user = \"$creds\"}" || true
}

ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(cid "$1")"; }

# `sql PORT SQL` (lib.sh) goes through one of HAProxy's ports. A fresh
# connection each time, so HAProxy chooses the server again for each call.

# psql inside a node's container, over its Unix socket (no HAProxy involved).
sql_in() {
  local s=$1
  shift
  docker exec -i "$(cid "$s")" psql -X -q -A -t -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$db" -c "$*"
}

# HTTP code of a request to a node's API, e.g. `code pg-master /primary`;
# a third argument is the method (GET by default).
code() {
  local method=(-X "${3:-GET}")
  [[ ${3:-GET} != HEAD ]] || method=(--head)
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "${method[@]}" \
    "http://127.0.0.1:${api_port[$1]}$2" || true
}
code_is() { [[ $(code "$1" "$2") == "$3" ]]; }
expect_code() {
  local got
  got=$(code "$1" "$2" "${4:-GET}")
  [[ $got == "$3" ]] || fail "${4:-GET} $2 on $1 (127.0.0.1:${api_port[$1]}) gave ${got:-no answer}; expected $3"
}

# HAProxy's own view: the status of server $2 in proxy $1 ("UP", "DOWN", ...).
haproxy_status() {
  curl -fsS --max-time 3 "$stats_url" |
    awk -F, -v px="$1" -v sv="$2" '$1 == px && $2 == sv { print $18 }'
}
haproxy_says() { [[ $(haproxy_status "$1" "$2") == "$3" ]]; }

writable_via_haproxy() { [[ $(sql $write_port 'SELECT pg_is_in_recovery()') == f ]]; }
reads_from_replicant() { [[ $(sql $read_port 'SELECT pg_is_in_recovery()') == t ]]; }
read_back() { [[ $(sql $read_port "SELECT note FROM e2e_haproxy WHERE id = $1") == "$2" ]]; }
# N connections through the read port all see row $1 with note $2.
read_back_n() {
  local i
  for ((i = 0; i < $3; i++)); do read_back "$1" "$2" || return 1; done
}

# At a failure, cleanup (lib.sh) shows HAProxy's view of the servers too.
show_state_at_failure() {
  curl -fsS --max-time 3 "$stats_url" 2>/dev/null |
    awk -F, '$2 != "FRONTEND" && $2 != "BACKEND" && NR > 1 { print "haproxy:", $1 "/" $2, $18, $37, $38 }' >&2
}

# --- preflight, leftovers, build and start ------------------------------------
preflight curl
start_run pgkeeper-haproxy-e2e
clear_leftovers $write_port $read_port 7000 "${api_port[@]}"
build_image

log "make up (project $COMPOSE_PROJECT_NAME; builds HAProxy's image too)"
u0=$SECONDS
smake up >"$workdir/up.log" 2>&1 || {
  tail -n 40 "$workdir/up.log" >&2
  fail "'make up' failed (last lines above)"
}
log "'make up' returned after $((SECONDS - u0))s"

wait_until "a write through 127.0.0.1:$write_port reaches a writable master" 180 writable_via_haproxy
sql $write_port "CREATE TABLE e2e_haproxy (id int PRIMARY KEY, note text);
                 INSERT INTO e2e_haproxy VALUES (1, 'before failover')" ||
  fail "cannot create a table through 127.0.0.1:$write_port"
[[ $(sql $write_port 'SELECT inet_server_addr()') == "$(ip_of pg-master)" ]] ||
  fail "port $write_port does not lead to pg-master"
log "ok: writes through $write_port land on pg-master, $((SECONDS - u0))s after 'make up'"

# --- the API and HAProxy's checks ----------------------------------------------
for s in pg-replicant-1 pg-replicant-2; do
  wait_until "$s streams (/replica gives 200)" 300 code_is "$s" /replica 200
done
expect_code pg-master /primary 200
expect_code pg-master /master 200
expect_code pg-master /read-write 200
expect_code pg-master /replica 503
expect_code pg-master /read-only 200
expect_code pg-master /primary 200 OPTIONS
expect_code pg-master /primary 200 HEAD
for s in pg-replicant-1 pg-replicant-2; do
  expect_code "$s" /primary 503
  expect_code "$s" /replica 200
  expect_code "$s" '/replica?lag=16MB' 200
  expect_code "$s" /read-only 200
  expect_code "$s" /primary 503 OPTIONS
done
log "ok: /primary, /replica and /read-only give the expected codes on every node"

wait_until "HAProxy marks pg-master UP for writes" 30 haproxy_says primary pg-master UP
for s in pg-replicant-1 pg-replicant-2; do
  wait_until "HAProxy marks $s DOWN for writes" 30 haproxy_says primary "$s" DOWN
  wait_until "HAProxy marks $s UP for reads" 30 haproxy_says replicas "$s" UP
done

# --- reads through 5001 ------------------------------------------------------------
wait_until "reads through 127.0.0.1:$read_port come from a replicant" 60 reads_from_replicant
sql $write_port "INSERT INTO e2e_haproxy VALUES (2, 'written through $write_port')" ||
  fail "insert through $write_port failed"
wait_until "the row written through $write_port is read back through $read_port" 60 \
  read_back_n 2 "written through $write_port" 4
# Round robin: a few connections reach both replicants, and only them.
declare -A seen=()
for ((i = 0; i < 6; i++)); do
  out=$(sql $read_port "SELECT inet_server_addr(), pg_is_in_recovery()") || fail "a read through $read_port failed"
  [[ $out == *'|t' ]] || fail "a read through $read_port came from a node not in recovery: $out"
  seen[${out%|*}]=1
done
for s in pg-replicant-1 pg-replicant-2; do
  [[ -n ${seen[$(ip_of "$s")]:-} ]] || fail "6 reads through $read_port never reached $s (saw: ${!seen[*]})"
done
log "ok: reads through $read_port are spread over both replicants"

if out=$(sql $read_port "INSERT INTO e2e_haproxy VALUES (3, 'via reads')" 2>&1); then
  fail "a write through the read port $read_port succeeded"
fi
[[ $out == *"read-only transaction"* ]] || fail "a write through $read_port failed, but not as read-only: $out"

smake status >"$workdir/status.log" 2>&1 || {
  cat "$workdir/status.log" >&2
  fail "'make status' failed"
}
grep -Eq '^5000 +primary +pg-master +UP' "$workdir/status.log" || {
  cat "$workdir/status.log" >&2
  fail "'make status' does not show pg-master UP for writes"
}
log "ok: 'make status' shows the nodes and HAProxy's view"

# --- a replicant too far behind leaves the read pool ----------------------------
# Replay paused on pg-replicant-2 while about 40 MB of WAL is written: it
# stays connected, but /replica?lag=16MB fails, and reads go to pg-replicant-1.
sql_in pg-replicant-2 'SELECT pg_wal_replay_pause()' >/dev/null || fail "cannot pause replay on pg-replicant-2"
sql $write_port "CREATE TABLE e2e_bulk AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 150000) g" ||
  fail "bulk write through $write_port failed"
wait_until "pg-replicant-2, 16 MB behind, gives 503 to /replica?lag=16MB" 30 \
  code_is pg-replicant-2 '/replica?lag=16MB' 503
wait_until "HAProxy takes the lagging pg-replicant-2 out of the reads" 30 haproxy_says replicas pg-replicant-2 DOWN
# pg-replicant-1 replays the same 40 MB. On a slow machine it can itself be
# more than 16 MB behind for a moment, and leave the pool until it catches
# up; the bulk write has committed, so once caught up it stays in.
wait_until "pg-replicant-1 has replayed the bulk write (/replica?lag=16MB gives 200)" 60 \
  code_is pg-replicant-1 '/replica?lag=16MB' 200
wait_until "HAProxy keeps pg-replicant-1 in the reads" 30 haproxy_says replicas pg-replicant-1 UP
for ((i = 0; i < 4; i++)); do
  [[ $(sql $read_port 'SELECT inet_server_addr()') == "$(ip_of pg-replicant-1)" ]] ||
    fail "a read through $read_port did not go to pg-replicant-1 while pg-replicant-2 lags"
done
sql_in pg-replicant-2 'SELECT pg_wal_replay_resume()' >/dev/null || fail "cannot resume replay on pg-replicant-2"
wait_until "pg-replicant-2 has caught up and is back in the reads" 60 haproxy_says replicas pg-replicant-2 UP
log "ok: a replicant more than 16 MB behind is taken out of the reads, and put back once it catches up"

# --- the API's state-changing endpoints want the password -----------------------
[[ $(api_post pg-replicant-1 /promote '') == 401 ]] ||
  fail "POST /promote without credentials was not refused with 401: $(cat "$workdir/post.out")"
[[ $(api_post pg-replicant-1 /promote 'pgkeeper:wrong-password') == 401 ]] ||
  fail "POST /promote with a wrong password was not refused with 401"
[[ $(api_post pg-replicant-1 /reload "pgkeeper:$PGKEEPER_API_PASSWORD") == 200 ]] ||
  fail "POST /reload with the password did not answer 200: $(cat "$workdir/post.out")"
in_recovery=$(sql_in pg-replicant-1 'SELECT pg_is_in_recovery()')
[[ $in_recovery == t ]] || fail "pg-replicant-1 is no longer a replicant after the refused POSTs"
log "ok: POST /promote without or with a wrong password is refused (401); POST /reload with it: 200"

# --- failover: stop the master, promote pg-replicant-1 -------------------------
haproxy_id=$(cid haproxy)
haproxy_started=$(docker inspect -f '{{.State.StartedAt}}' "$haproxy_id")
cfg_sum=$(docker exec "$haproxy_id" md5sum /etc/haproxy/haproxy.cfg)

log "stopping pg-master"
f0=$SECONDS
f0ms=$(now_ms)
compose stop pg-master >"$workdir/stop.log" 2>&1 || fail "cannot stop pg-master"
running=(pg-replicant-1 pg-replicant-2 haproxy)
log "pg-master stopped in $((SECONDS - f0))s"
if out=$(sql $write_port 'SELECT 1' 2>&1); then
  fail "a query through $write_port still succeeds with the master stopped"
fi

log "docker exec pg-replicant-1 pgkeeper promote"
p0=$(now_ms)
docker exec "$(cid pg-replicant-1)" pgkeeper promote >"$workdir/promote.log" 2>&1 || {
  cat "$workdir/promote.log" >&2
  fail "'pgkeeper promote' failed in pg-replicant-1"
}
p1=$(now_ms)
log "pgkeeper promote returned after $((p1 - p0)) ms and said: $(tr '\n' ' ' <"$workdir/promote.log")"

wait_until "writes through 127.0.0.1:$write_port succeed again" 30 \
  sql $write_port "INSERT INTO e2e_haproxy VALUES (4, 'after failover')"
p2=$(now_ms)
log "writes through $write_port work again $((p2 - p1)) ms after the promotion returned ($((p2 - f0ms)) ms after 'stop' began)"
[[ $(sql $write_port 'SELECT inet_server_addr()') == "$(ip_of pg-replicant-1)" ]] ||
  fail "after the failover, port $write_port does not lead to pg-replicant-1"
[[ $(sql_in pg-replicant-1 "SELECT note FROM e2e_haproxy WHERE id = 4") == 'after failover' ]] ||
  fail "the row written through $write_port after the failover is not on pg-replicant-1"
[[ $(sql_in pg-replicant-1 "SELECT count(*) FROM e2e_haproxy WHERE id IN (1, 2)") == 2 ]] ||
  fail "pg-replicant-1 lost rows written before the failover"
log "ok: writes through $write_port land on the promoted pg-replicant-1"

expect_code pg-replicant-1 /primary 200
expect_code pg-replicant-1 /replica 503
expect_code pg-replicant-2 /primary 503
wait_until "HAProxy marks pg-replicant-1 UP for writes" 10 haproxy_says primary pg-replicant-1 UP

if [[ $(cid haproxy) != "$haproxy_id" ]] ||
  [[ $(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$haproxy_id") != "$haproxy_started 0" ]]; then
  fail "HAProxy's container was re-created or restarted during the failover"
fi
[[ $(docker exec "$haproxy_id" md5sum /etc/haproxy/haproxy.cfg) == "$cfg_sum" ]] ||
  fail "HAProxy's configuration changed during the failover"
log "ok: HAProxy kept running with the same configuration"

# No replicant streams now (pg-replicant-2's master is gone), so the reads go
# to HAProxy's read-only backend, whose first node that passes /read-only is
# the promoted one.
wait_until "reads through $read_port see the row written after the failover" 30 \
  read_back_n 4 'after failover' 3

# --- pg-replicant-2 follows the new master -----------------------------------
log "make repoint-2"
replicant_2_id=$(cid pg-replicant-2)
copies_before=$(docker logs "$replicant_2_id" 2>&1 | grep -c 'pg_basebackup' || true)
smake repoint-2 >"$workdir/repoint.log" 2>&1 || {
  cat "$workdir/repoint.log" >&2
  fail "'make repoint-2' failed"
}
grep -q 'now following pg-replicant-1:5432' "$workdir/repoint.log" || {
  cat "$workdir/repoint.log" >&2
  fail "'make repoint-2' did not say that pg-replicant-2 now follows pg-replicant-1"
}
[[ -z $(docker ps -q --filter "id=$(cid pg-master)") ]] || fail "'make repoint-2' started pg-master again"
[[ $(cid pg-replicant-2) == "$replicant_2_id" ]] || fail "'make repoint-2' re-created pg-replicant-2"
wait_until "pg-replicant-2 streams from pg-replicant-1 (/replica gives 200)" 300 \
  code_is pg-replicant-2 /replica 200
wait_until "HAProxy marks pg-replicant-2 UP for reads" 30 haproxy_says replicas pg-replicant-2 UP
wait_until "HAProxy marks pg-replicant-2 DOWN for writes" 30 \
  haproxy_says primary pg-replicant-2 DOWN
wait_until "reads through $read_port come from a replicant again" 30 reads_from_replicant
sql $write_port "INSERT INTO e2e_haproxy VALUES (5, 'after repoint')" || fail "insert after repoint failed"
wait_until "a new row is read back through $read_port from pg-replicant-2" 60 \
  read_back_n 5 'after repoint' 3
[[ $(sql $read_port 'SELECT inet_server_addr()') == "$(ip_of pg-replicant-2)" ]] ||
  fail "reads through $read_port do not come from pg-replicant-2"
copies_after=$(docker logs "$replicant_2_id" 2>&1 | grep -c 'pg_basebackup' || true)
[[ $copies_after == "$copies_before" ]] || fail "'make repoint-2' made pg-replicant-2 take a copy"
log "ok: after 'make repoint-2' (live, no copy) reads through $read_port come from pg-replicant-2"

# `make up` must not bring the old master back next to the promoted one.
if smake up >"$workdir/up2.log" 2>&1; then
  fail "'make up' after the failover succeeded; expected it to refuse"
fi
[[ -z $(docker ps -q --filter "id=$(cid pg-master)") ]] || fail "'make up' after the failover started pg-master"
grep -q 'pg-replicant-1 has been promoted' "$workdir/up2.log" || {
  cat "$workdir/up2.log" >&2
  fail "'make up' after the failover failed, but not for the expected reason"
}
log "ok: 'make up' after the failover refuses to start pg-master again"

# --- the old master comes back as a replicant of the new one -----------------
log "make rejoin-master"
smake rejoin-master >"$workdir/rejoin.log" 2>&1 || {
  cat "$workdir/rejoin.log" >&2
  fail "'make rejoin-master' failed"
}
running=("${nodes[@]}" haproxy)
wait_until "pg-master streams from pg-replicant-1 (/replica gives 200)" 300 \
  code_is pg-master /replica 200
master_log=$(docker logs "$(cid pg-master)" 2>&1)
grep -q 'decision: rejoin pg-replicant-1:5432 as a replicant (ALLOW_REJOIN=True)' <<<"$master_log" ||
  fail "pg-master's log has no rejoin decision"
# It was stopped cleanly by the failover, and both replicants had all it wrote.
grep -q 'rejoining pg-replicant-1:5432 discards nothing' <<<"$master_log" ||
  fail "pg-master's log does not report what the rejoin discards"
wait_until "HAProxy marks pg-master DOWN for writes" 30 haproxy_says primary pg-master DOWN
sql $write_port "INSERT INTO e2e_haproxy VALUES (6, 'after rejoin')" || fail "insert after rejoin failed"
wait_until "the row written after the rejoin reaches pg-master" 60 \
  eval '[[ $(sql_in pg-master "SELECT note FROM e2e_haproxy WHERE id = 6") == "after rejoin" ]]'
[[ $(sql_in pg-master "SELECT count(*) FROM e2e_haproxy WHERE id IN (1, 4, 5)") == 3 ]] ||
  fail "pg-master lacks rows written before or after the failover"
log "ok: 'make rejoin-master' brings pg-master back as a streaming replicant of pg-replicant-1"

# --- clean -------------------------------------------------------------------
smake clean >/dev/null 2>&1 || fail "'make clean' failed"
[[ -z $(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME") ]] ||
  fail "'make clean' left containers behind"
[[ -z $(project_volumes) ]] ||
  fail "'make clean' left volumes behind"
log "ok: make clean removes the containers and volumes"

pass
