#!/usr/bin/env bash
# End-to-end test of sample/cross-host: replication between two machines,
# simulated on this host, following the sample's README.
#
# The two machines: each half of the sample runs on a Docker network of its
# own, made here (the "master machine's LAN" and the "replicant machine's
# LAN"). Docker isolates two bridge networks from each other, so the only way
# between them is a published port: the master publishes PostgreSQL on this
# host's address on the replicant's network (what the replicant machine
# would know as the master machine's address), port 17777, not the default
# 7777; the replicant publishes its own on this host's address on the
# master's network, port 17776. The master sees the replicant's connections
# coming from its own network's gateway (Docker's NAT), not from the
# replicant container's address, which is the trap the README warns about.
# The shell's variables stand in for the edits of .env that the README asks
# for (same names); COMPOSE_OVERRIDE attaches each half to its network, and
# PGKEEPER_TLS_DIR keeps the certificates in this run's work folder.
#
# Checks, in order: `make certs ADDRESS=<master address>` on the master
# machine, ca.crt copied to the replicant machine; `make up` on both, with
# the mistake users make first, ALLOW_IP_RANGE set to the replicant
# container's own address: the replicant says the master refused it, naming
# the address the master saw, keeps retrying (several attempts, no container
# restart), and `make status` on the master names that address; with
# ALLOW_IP_RANGE fixed as the message says and `make up` again, the
# replicant clones and streams over TLS it verified (verify-full against the
# CA, by the address in REPLICATE_FROM), a row written on the master arrives,
# and a client without TLS is refused by the master (FORCE_SSL). The
# simulation is checked too: from the replicant's container the master's
# container address does not answer, the published port does. Then the
# restart with DESTROY_DATABASE_ON_RESTART=False (`make down`, a row written
# meanwhile, `make up`: no new copy, the row arrives); then the master
# machine is lost (its container killed) and `make promote` on the replicant
# machine makes a writable master with every row; last, the old master comes
# back as a replicant of it (REPLICATE_FROM, REPLICATE_PORT, ALLOW_REJOIN in
# its .env, `make up`) and receives a row written on the new master.
#
# A missing Docker daemon is a failure, not a skip. Every wait has a
# deadline. Needs ports 17777 and 17776 free on the two gateway addresses.
#
# Environment: E2E_KEEP=1 (leave the containers after a failure),
# E2E_SKIP_BUILD=1 (use the image already built).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
xh=$root/sample/cross-host
sample=$xh/master # for env_value
running=()
wait_poll=0.5
m_project=pgkeeper-xh-e2e-master
r_project=pgkeeper-xh-e2e-replicant
m_net=pgkeeper-xh-e2e-master-lan
r_net=pgkeeper-xh-e2e-replicant-lan
m_port=17777
r_port=17776

POSTGRES_USER=$(env_value POSTGRES_USER)
db=$(env_value POSTGRES_DBNAME)
db=${db%%,*}
[[ -n $POSTGRES_USER && -n $db ]] || fail "cannot read POSTGRES_USER / POSTGRES_DBNAME from $sample/.env"
POSTGRES_PASS="e2e-secret-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export PGPASSWORD=$POSTGRES_PASS PGCONNECT_TIMEOUT=3
# Nothing of the caller's shell reaches the halves but what we give them.
unset COMPOSE_PROJECT_NAME COMPOSE_FILE ALLOW_IP_RANGE REPLICATE_FROM REPLICATE_PORT ALLOW_REJOIN \
  PROMOTE_MASTER DESTROY_DATABASE_ON_RESTART FORCE_SSL PGKEEPER_TLS PGKEEPER_TLS_DIR \
  PUBLISH_ADDRESS PUBLISH_PORT COMPOSE_OVERRIDE PGSSLMODE PGSSLROOTCERT

# The master machine's settings (its .env, as the README has the user edit
# it); extra VAR=value words are added for one command.
on_master() {
  (
    export COMPOSE_PROJECT_NAME=$m_project POSTGRES_PASS PUBLISH_ADDRESS=$r_gw PUBLISH_PORT=$m_port \
      ALLOW_IP_RANGE=$m_allow PGKEEPER_TLS_DIR=$workdir/master-tls COMPOSE_OVERRIDE=$workdir/master-lan.yml
    while [[ $1 == *=* ]]; do export "${1?}"; shift; done
    make -s -C "$xh/master" COMPOSE="${compose[*]}" "$@"
  )
}
on_replicant() {
  (
    export COMPOSE_PROJECT_NAME=$r_project POSTGRES_PASS REPLICATE_FROM=$r_gw REPLICATE_PORT=$m_port \
      PUBLISH_ADDRESS=$m_gw PUBLISH_PORT=$r_port PGKEEPER_TLS_DIR=$workdir/replicant-tls \
      COMPOSE_OVERRIDE=$workdir/replicant-lan.yml
    while [[ $1 == *=* ]]; do export "${1?}"; shift; done
    make -s -C "$xh/replicant" COMPOSE="${compose[*]}" "$@"
  )
}
pcid() {
  docker ps -aq --filter "label=com.docker.compose.project=$1" \
    --filter "label=com.docker.compose.service=$2" | head -n 1
}
mcid() { pcid "$m_project" pg-master; }
rcid() { pcid "$r_project" pg-replicant; }

# psql from the host: to the master as the replicant machine reaches it,
# verifying its certificate by the CA and the address; to the replicant
# (self-signed) with TLS required.
msql() {
  psql -X -q -A -t -v ON_ERROR_STOP=1 \
    "host=$r_gw port=$m_port user=$POSTGRES_USER dbname=$db sslmode=verify-full sslrootcert=$workdir/master-tls/ca.crt" \
    -c "$*"
}
rsql() {
  psql -X -q -A -t -v ON_ERROR_STOP=1 \
    "host=$m_gw port=$r_port user=$POSTGRES_USER dbname=$db sslmode=require" -c "$*"
}
rlog() { docker logs "$(rcid)" 2>&1; }
# Whether the replicant's log holds TEXT. Not `rlog | grep -q`: grep -q
# stops reading at the first match, docker logs then dies of SIGPIPE, and
# pipefail turns a match into a failure.
rlog_has() {
  local text
  text=$(rlog)
  grep -qF -- "$1" <<<"$text"
}
mlog() { docker logs "$(mcid)" 2>&1; }
count() { grep -cF -- "$1" || true; }

# The replicant's walreceiver streams (pg_basebackup's own WAL stream during a
# copy is a walsender on the master too, so ask the replicant).
streaming() { [[ $(rsql "SELECT status FROM pg_stat_wal_receiver") == streaming ]]; }
# What the master says of the replicant's walsender.
walsender() {
  msql "SELECT $1 FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
        WHERE r.application_name NOT LIKE 'pgkeeper%'"
}
replicant_has() { [[ $(rsql "SELECT count(*) FROM e2e_xh WHERE note = '$1'") == 1 ]]; }
master_has() { [[ $(msql "SELECT count(*) FROM e2e_xh WHERE note = '$1'") == 1 ]]; }
writable() { [[ $(rsql 'SELECT pg_is_in_recovery()') == f ]]; }

cleanup() {
  local rc=$? id
  set +e
  if ((rc != 0)); then
    for id in "$(mcid)" "$(rcid)"; do
      [[ -n $id ]] || continue
      echo "e2e: --- last log lines of $(docker inspect -f '{{.Name}}' "$id") ---" >&2
      docker logs --tail 40 "$id" 2>&1 | sed "s/$POSTGRES_PASS/<password>/g" >&2
    done
    if [[ ${E2E_KEEP:-0} == 1 ]]; then
      echo "e2e: E2E_KEEP=1: containers left; remove them with docker rm -f and the networks $m_net $r_net" >&2
      exit "$rc"
    fi
  fi
  clear_halves
  rm -rf "$workdir"
  exit "$rc"
}

clear_halves() {
  local id
  for id in $(docker ps -aq --filter "label=com.docker.compose.project=$m_project") \
    $(docker ps -aq --filter "label=com.docker.compose.project=$r_project"); do
    docker rm -f "$id" >/dev/null 2>&1
  done
  for id in $(docker volume ls -q --filter "label=com.docker.compose.project=$m_project") \
    $(docker volume ls -q --filter "label=com.docker.compose.project=$r_project"); do
    docker volume rm "$id" >/dev/null 2>&1
  done
  docker network rm "$m_net" "$r_net" >/dev/null 2>&1 || true
}

preflight openssl
start_run cross_host_e2e
clear_halves
build_image

# --- the two simulated machines ----------------------------------------------
docker network create "$m_net" >/dev/null
docker network create "$r_net" >/dev/null
gateway() { docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "$1"; }
m_gw=$(gateway "$m_net")
r_gw=$(gateway "$r_net")
[[ -n $m_gw && -n $r_gw ]] || fail "no gateway addresses on $m_net / $r_net"
for port in "$m_port" "$r_port"; do
  [[ -z $(ss -Hltn "sport = :$port" 2>/dev/null) ]] || fail "port $port is already in use"
done
for side in master replicant; do
  net=$m_net
  [[ $side == replicant ]] && net=$r_net
  printf 'version: "2.4"\nnetworks:\n  default:\n    external: true\n    name: %s\n' "$net" \
    >"$workdir/$side-lan.yml"
done
log "master machine: network $m_net, reached at $r_gw:$m_port; replicant machine: network $r_net, reached at $m_gw:$r_port"

m_allow=
# --- README, "TLS across the network": the certificate names the address ---
on_master certs ADDRESS="$r_gw" >"$workdir/certs.log" 2>&1 || {
  cat "$workdir/certs.log" >&2
  fail "make certs failed"
}
mkdir -p "$workdir/replicant-tls"
cp "$workdir/master-tls/ca.crt" "$workdir/replicant-tls/ca.crt"

# --- the first try, with the replicant container's own address --------------
m_allow= # set below, once the replicant container has an address
on_replicant up >"$workdir/replicant-up.log" 2>&1 || {
  cat "$workdir/replicant-up.log" >&2
  fail "make up on the replicant machine failed"
}
grep -q "with TLS files" "$workdir/replicant-up.log" || fail "make up did not pick tls.yml: $(cat "$workdir/replicant-up.log")"
r_addr=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$r_net\").IPAddress}}" "$(rcid)")
m_allow=$r_addr/32
log "master: ALLOW_IP_RANGE=$m_allow (the replicant container's own address: the usual first mistake)"
on_master up >"$workdir/master-up.log" 2>&1 || {
  cat "$workdir/master-up.log" >&2
  fail "make up on the master machine failed"
}
# Not asked through the port yet: this host's own clients come in from the
# same gateway address as the replicant, so they are refused too for now.
master_healthy() { [[ $(docker inspect -f '{{.State.Health.Status}}' "$(mcid)") == healthy ]]; }
wait_until "the master is healthy" 120 master_healthy

expected="the master $r_gw:$m_port refused this node's replication connection (user $POSTGRES_USER): it sees this node's connections coming from $m_gw"
wait_until "the replicant says the master refused it, from $m_gw" 60 rlog_has "$expected"
wait_until "the replicant has tried three times" 60 eval '(( $(rlog | count "refused this node") >= 3 ))'
restarts=$(docker inspect -f '{{.RestartCount}} {{.State.Status}}' "$(rcid)")
[[ $restarts == "0 running" ]] || fail "the refused replicant should keep retrying in place, not restart: $restarts"
rlog_has "on the master, add $m_gw/32 to ALLOW_IP_RANGE" || fail "the replicant does not say what to add"
status=$(on_master status 2>&1) || fail "make status on the master failed: $status"
m_status=$status
grep -qF "connection from $m_gw (user $POSTGRES_USER" <<<"$status" ||
  fail "the master's status does not name $m_gw: $status"
grep -qF "ALLOW_IP_RANGE=$m_allow,$m_gw/32" <<<"$status" || fail "the master's status does not give the fix: $status"
status=$(on_replicant status 2>&1) || fail "make status on the replicant failed: $status"
grep -qF "coming from $m_gw" <<<"$status" || fail "the replicant's status does not say it was refused: $status"
log "refused as expected; both sides name $m_gw, $(rlog | count 'refused this node') attempts, no restart"
log "the replicant says: $(rlog | grep -F 'refused this node' | tail -n 1 | sed 's/^.*ERROR: *//')"
log "the master's status says: $(grep -F 'refused' <<<"$m_status" | head -n 1)"

# --- fixed as the message says ---------------------------------------------
m_allow=$m_allow,$m_gw/32
on_master up >"$workdir/master-up2.log" 2>&1 || {
  cat "$workdir/master-up2.log" >&2
  fail "make up (fixed ALLOW_IP_RANGE) failed"
}
wait_until "the replicant streams from the master" 120 streaming
rlog_has "replicating with sslmode=verify-full" || fail "the replicant did not verify the master's certificate"
[[ $(walsender s.ssl) == t ]] || fail "the walsender's connection is not TLS: $(walsender 's.ssl, r.*')"
[[ $(walsender 'host(r.client_addr)') == "$m_gw" ]] || fail "the master should see the replicant as $m_gw"
status=$(on_master status 2>&1) || fail "make status on the master failed: $status"
grep -qE "^  pg_replicant +$m_gw +streaming" <<<"$status" || fail "the master's status lacks the replicant: $status"
msql "CREATE TABLE e2e_xh (id serial PRIMARY KEY, note text NOT NULL)" >/dev/null
msql "INSERT INTO e2e_xh (note) VALUES ('first')" >/dev/null
wait_until "the first row reaches the replicant" 30 replicant_has first
if out=$(psql -X -A -t "host=$r_gw port=$m_port user=$POSTGRES_USER dbname=$db sslmode=disable" -c 'SELECT 1' 2>&1); then
  fail "a client without TLS got in with FORCE_SSL: $out"
fi
grep -q "no encryption" <<<"$out" || fail "refused without TLS, but not by pg_hba: $out"
m_addr=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$m_net\").IPAddress}}" "$(mcid)")
if docker exec "$(rcid)" pg_isready -q -h "$m_addr" -p 5432 -t 2; then
  fail "the replicant's container reaches the master's container directly ($m_addr): not two machines"
fi
docker exec "$(rcid)" pg_isready -q -h "$r_gw" -p "$m_port" -t 5 ||
  fail "the replicant's container cannot reach the published port $r_gw:$m_port"
log "streaming over verified TLS; the master's container $m_addr does not answer, the published port $r_gw:$m_port does"

# --- a restart that keeps the data (DESTROY_DATABASE_ON_RESTART=False) -------
on_replicant down >/dev/null 2>&1 || fail "make down on the replicant failed"
msql "INSERT INTO e2e_xh (note) VALUES ('while-down')" >/dev/null
on_replicant up >/dev/null 2>&1 || fail "make up on the replicant (again) failed"
wait_until "the replicant streams again" 90 streaming
wait_until "the row written while it was down arrives" 30 replicant_has while-down
rlog_has "decision: resume streaming" || fail "the restart did not resume: $(rlog | grep decision)"
(($(rlog | count "cloning") == 0)) || fail "the restart took a new copy"
log "restart kept the data and resumed"

# --- the master machine is lost; promotion on the replicant machine ----------
msql "INSERT INTO e2e_xh (note) VALUES ('last-before-loss')" >/dev/null
wait_until "the last row reaches the replicant" 30 replicant_has last-before-loss
docker kill "$(mcid)" >/dev/null
t_promote=$SECONDS
out=$(on_replicant promote 2>&1) || fail "make promote failed: $out"
wait_until "the replicant is writable" 30 writable
rsql "INSERT INTO e2e_xh (note) VALUES ('on-new-master')" >/dev/null
[[ $(rsql "SELECT count(*) FROM e2e_xh") == 4 ]] || fail "the new master lacks rows: $(rsql 'SELECT note FROM e2e_xh')"
log "promoted in $((SECONDS - t_promote))s with every row: $out"

# --- the old master comes back as a replicant of the new one -----------------
on_master REPLICATE_FROM="$m_gw" REPLICATE_PORT="$r_port" ALLOW_REJOIN=True up \
  >"$workdir/rejoin.log" 2>&1 || {
  cat "$workdir/rejoin.log" >&2
  fail "make up (rejoin) on the master machine failed"
}
wait_until "the old master follows the new one" 120 master_has on-new-master
[[ $(msql 'SELECT pg_is_in_recovery()') == t ]] || fail "the old master is writable"
log "the old master rejoined: $(mlog | grep -F 'decision:' | tail -n 1)"
pass
