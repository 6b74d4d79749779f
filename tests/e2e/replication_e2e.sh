#!/usr/bin/env bash
# End-to-end test of the real image and the replication sample, the way a
# user meets them: ./build.sh, `make up` in sample/replication, then psql from
# the host through the published ports 127.0.0.1:7777 (master) and :7776
# (replicant), and 7775 for pg-cascade once `make cascade` starts it.
#
# Checks, in order: both nodes come up and report healthy; a table made on the
# master reaches the replicant; a write on the replicant is refused as
# read-only; `make cascade` starts a replicant of the replicant that clones
# and streams from it through its own slot there, and every node's
# `pgkeeper status` shows its part of the tree; a replicant recreated with
# DESTROY_DATABASE_ON_RESTART=False resumes streaming, and the cascaded node
# follows it through the restart; `make down` then `make up` keeps the data;
# `make promote` stops the master and turns the replicant into a writable
# master that kept the data, logging what it checked and a promotion report
# that `pgkeeper status` shows too; `make rejoin-master` brings the old
# master back as a replicant of the promoted node; no password shows in
# `docker logs`, in
# any process's argv or in a world-readable file; `make clean` leaves
# nothing of the test behind.
#
# Runs under its own compose project name, so it never touches the sample's
# own containers or volumes, but it needs ports 7777, 7776 and 7775 free. A
# missing Docker daemon is a failure, not a skip. Every wait has a deadline.
#
# Environment: E2E_PROJECT (compose project, default pgkeeper-e2e),
# E2E_KEEP=1 (leave the containers running after a failure, for a look),
# E2E_SKIP_BUILD=1 (use the image already built).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sample=$root/sample/replication
master_port=7777
replicant_port=7776
cascade_port=7775
running=(pg-master pg-replicant)
wait_poll=0.5
log_services=(pg-master pg-replicant pg-cascade)
log_lines=80

# The sample's .env, but our own project and a unique password.
load_settings pgkeeper-e2e

answers() { [[ $(sql "$1" 'SELECT 1') == 1 ]]; }
in_recovery_is() { [[ $(sql "$1" 'SELECT pg_is_in_recovery()') == "$2" ]]; }
has_row() { [[ $(sql "$1" "SELECT note FROM e2e_sync WHERE id = $2") == "$3" ]]; }
replicant_has_row() { has_row $replicant_port "$@"; }
cascade_has_row() { has_row $cascade_port "$@"; }
# pgkeeper status, as the user runs it inside a container.
node_status() { docker exec "$(cid "$1")" pgkeeper status; }
status_has() { node_status "$1" | grep -E -- "$2" >/dev/null; }

# Fails if the password is in any process's argv or in a world-readable file
# inside SERVICE's container (which must be running).
no_password_inside() {
  local s=$1 found
  # The password travels on stdin into a private file, so that this check
  # puts it in no argv.
  found=$(docker exec -i "$(cid "$s")" sh -c '
      umask 077
      needle=$(mktemp)
      trap "rm -f $needle" EXIT
      cat >"$needle"
      for p in /proc/[0-9]*; do
        tr "\0" " " <"$p/cmdline" 2>/dev/null | grep -qFf "$needle" && echo "argv of $p"
      done
      { find / -xdev -path /usr -prune -o -type f -perm -o=r -print0
        find /var/lib/postgresql -xdev -type f -perm -o=r -print0
      } 2>/dev/null | xargs -0 -r grep -lFf "$needle" 2>/dev/null
      true' <<<"$POSTGRES_PASS") || fail "cannot look for the password inside $s"
  [[ -z $found ]] || fail "the password is readable inside $s: $found"
}


# --- preflight, leftovers, build and start ------------------------------------
preflight
start_run pgkeeper-e2e
clear_leftovers $master_port $replicant_port $cascade_port
build_image --report-size
# One version number: CMakeLists.txt's, in the image's label and --version.
want_version=$(sed -n 's/^project(pgkeeper VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
label=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$image")
said=$(docker run --rm --entrypoint /usr/local/bin/pgkeeper "$image" --version)
[[ $label == "$want_version" && $said == "pgkeeper $want_version" ]] ||
  fail "version: CMakeLists.txt says $want_version, the image label '$label', --version '$said'"
log "ok: version $want_version in CMakeLists.txt, the image label and --version"

log "make up (project $COMPOSE_PROJECT_NAME)"
u0=$SECONDS
smake up || fail "'make up' failed"

wait_until "the master answers on 127.0.0.1:$master_port" 180 answers $master_port
wait_until "the master is not in recovery" 30 in_recovery_is $master_port f
wait_until "the replicant answers on 127.0.0.1:$replicant_port" 300 answers $replicant_port
wait_until "the replicant is a standby" 30 in_recovery_is $replicant_port t
log "both nodes answer, $((SECONDS - u0))s after 'make up'"
wait_until "Docker reports the master healthy" 60 health_is pg-master healthy
wait_until "Docker reports the replicant healthy" 60 health_is pg-replicant healthy

# --- the image's extensions --------------------------------------------------
for ext in postgis postgis_topology postgis_raster hstore pgrouting; do
  [[ $(sql $master_port "SELECT count(*) FROM pg_extension WHERE extname = '$ext'") == 1 ]] ||
    fail "extension $ext is not created in database $db on the master"
done
sql $master_port "SELECT PostGIS_Full_Version()" >/dev/null ||
  fail "PostGIS does not work on the master"
log "ok: postgis, postgis_topology, postgis_raster, hstore and pgrouting are in $db"

# --- sync from master to replicant ---------------------------------------------
sql $master_port "CREATE TABLE e2e_sync (id int PRIMARY KEY, note text,
                    geom geometry(Point, 4326));
                  INSERT INTO e2e_sync VALUES (1, 'from master', ST_SetSRID(ST_MakePoint(4.9, 52.4), 4326))" ||
  fail "cannot create a table on the master"
wait_until "the master's new table and row reach the replicant" 60 \
  replicant_has_row 1 'from master'
[[ $(sql $replicant_port "SELECT ST_AsText(geom) FROM e2e_sync WHERE id = 1") == 'POINT(4.9 52.4)' ]] ||
  fail "the replicant's copy of the geometry differs"

# --- the replicant is read-only ----------------------------------------------
if out=$(sql $replicant_port "INSERT INTO e2e_sync VALUES (2, 'on replicant')" 2>&1); then
  fail "a write on the replicant succeeded; expected it to be refused"
fi
[[ $out == *"read-only transaction"* ]] ||
  fail "a write on the replicant failed, but not as read-only: $out"
log "ok: a write on the replicant is refused as read-only"

# --- cascading: a replicant of the replicant ------------------------------------
log "make cascade"
smake cascade || fail "'make cascade' failed"
running=(pg-master pg-replicant pg-cascade)
wait_until "pg-cascade answers on 127.0.0.1:$cascade_port" 300 answers $cascade_port
wait_until "pg-cascade is a standby" 30 in_recovery_is $cascade_port t
wait_until "pg-cascade has the replicant's rows" 60 cascade_has_row 1 'from master'
sql $master_port "INSERT INTO e2e_sync VALUES (10, 'two hops')" || fail "insert on the master failed"
wait_until "a new master row reaches pg-cascade through pg-replicant" 60 cascade_has_row 10 'two hops'
[[ $(sql $master_port "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pg_cascade'") == 0 ]] ||
  fail "pg-cascade has a slot on the master; expected it on pg-replicant only"
wait_until "pg-replicant's status shows pg-cascade streaming through slot pg_cascade" 60 \
  status_has pg-replicant '^  pg_cascade +active'
status_has pg-replicant '^master +pg-master(:5432)? \(streaming\)' ||
  fail "pg-replicant's status does not name pg-master as its upstream: $(node_status pg-replicant)"
status_has pg-replicant '^replicants +1$' ||
  fail "pg-replicant's status does not list its one downstream: $(node_status pg-replicant)"
status_has pg-cascade '^master +pg-replicant(:5432)? \(streaming\)' ||
  fail "pg-cascade's status does not name pg-replicant as its upstream: $(node_status pg-cascade)"
status_has pg-master '^replicants +1$' ||
  fail "the master's status should list only pg-replicant: $(node_status pg-master)"
wait_until "Docker reports pg-cascade healthy" 60 health_is pg-cascade healthy
log "ok: pg-cascade streams from pg-replicant with its slot there; the tree reads from every node"

# --- a replicant that keeps its data across a restart -------------------------
log "recreating the replicant with DESTROY_DATABASE_ON_RESTART=False"
before=$(cid pg-replicant)
DESTROY_DATABASE_ON_RESTART=False smake up || fail "'make up' with DESTROY_DATABASE_ON_RESTART=False failed"
[[ $(cid pg-replicant) != "$before" ]] || fail "changing DESTROY_DATABASE_ON_RESTART did not recreate the replicant"
wait_until "the replicant answers again" 180 answers $replicant_port
wait_until "the replicant is a standby again" 30 in_recovery_is $replicant_port t
sql $master_port "INSERT INTO e2e_sync VALUES (2, 'after restart')" || fail "insert on the master failed"
wait_until "a new row reaches the restarted replicant" 60 replicant_has_row 2 'after restart'
wait_until "the row reaches pg-cascade after its upstream restarted" 120 cascade_has_row 2 'after restart'
docker logs "$(cid pg-cascade)" >"$workdir/pg-cascade.log" 2>&1

# --- make down keeps the data ----------------------------------------------------
running=(pg-master pg-replicant)
smake down || fail "'make down' failed"
[[ -z $(cid pg-master)$(cid pg-replicant)$(cid pg-cascade) ]] || fail "'make down' left containers behind"
[[ $(project_volumes | wc -l) == 3 ]] ||
  fail "'make down' removed data volumes; expected it to keep all three"
smake up || fail "'make up' after 'make down' failed"
wait_until "the master answers after down and up" 180 answers $master_port
[[ $(sql $master_port "SELECT count(*) FROM e2e_sync") == 3 ]] ||
  fail "the master lost rows across 'make down' and 'make up'"
wait_until "the replicant answers after down and up" 300 answers $replicant_port
wait_until "the replicant is a standby after down and up" 30 in_recovery_is $replicant_port t
wait_until "the replicant has the rows after down and up" 60 replicant_has_row 2 'after restart'
log "ok: data kept across 'make down' and 'make up'"

# Logs of the replicant as a standby; its container is replaced below.
old_replicant=$(cid pg-replicant)
docker logs "$old_replicant" >"$workdir/replicant-standby.log" 2>&1

# The master is stopped by the promotion; look inside it while it runs.
no_password_inside pg-master

# --- promotion -------------------------------------------------------------
log "make promote (stops pg-master; PROMOTE_MASTER=True DESTROY_DATABASE_ON_RESTART=False)"
running=(pg-replicant)
smake promote || fail "'make promote' failed"
[[ $(docker inspect -f '{{.State.Status}}' "$(cid pg-master)") == exited ]] ||
  fail "'make promote' did not stop pg-master"
new_replicant=$(cid pg-replicant)
[[ -n $new_replicant && $new_replicant != "$old_replicant" ]] ||
  fail "'make promote' did not recreate the replicant's container"
docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$new_replicant" |
  grep -qx 'PROMOTE_MASTER=True' || fail "the new replicant container lacks PROMOTE_MASTER=True"

wait_until "the promoted node answers" 180 answers $replicant_port
wait_until "the promoted node has left recovery" 120 in_recovery_is $replicant_port f
[[ $(sql $replicant_port "SELECT note FROM e2e_sync WHERE id = 1") == 'from master' ]] ||
  fail "the promoted node lost the row it had replicated"
sql $replicant_port "INSERT INTO e2e_sync VALUES (3, 'on promoted')" >/dev/null ||
  fail "a write on the promoted node failed"
[[ $(sql $replicant_port "SELECT count(*) FROM e2e_sync") == 4 ]] ||
  fail "the promoted node does not hold rows 1, 2, 3 and 10"
log "ok: the promoted node kept the data and accepts writes"
docker logs "$(cid pg-replicant)" >"$workdir/promoted.log" 2>&1
grep -q 'checked before promoting: the old master pg-master:5432 does not answer' "$workdir/promoted.log" ||
  fail "the promoted node's log does not say what it checked before promoting"
grep -q 'promotion report: promoted at 0/' "$workdir/promoted.log" ||
  fail "the promoted node's log has no promotion report"
status_has pg-replicant '^promotion +promoted at 0/' ||
  fail "pgkeeper status on the promoted node does not show the report: $(node_status pg-replicant)"
log "ok: the promotion was checked and reported: $(node_status pg-replicant | sed -n 's/^promotion *//p')"
wait_until "Docker reports the promoted node healthy" 60 health_is pg-replicant healthy

# --- the old master back, as a replicant of the promoted node ----------------
log "make rejoin-master"
smake rejoin-master || fail "'make rejoin-master' failed"
running=(pg-master pg-replicant)
wait_until "the old master answers again" 180 answers $master_port
wait_until "the old master is now a standby" 60 in_recovery_is $master_port t
wait_until "the old master has the promoted node's row" 60 has_row $master_port 3 'on promoted'
docker logs "$(cid pg-master)" >"$workdir/rejoined.log" 2>&1
grep -q 'rejoined pg-replicant:5432 by ' "$workdir/rejoined.log" ||
  fail "the old master's log does not say how it rejoined pg-replicant"
log "ok: $(grep -o 'rejoined pg-replicant:5432 by [a-z]* in [0-9]* ms' "$workdir/rejoined.log" | tail -n 1)"

# --- secrets -------------------------------------------------------------------
for s in pg-master pg-replicant; do
  docker logs "$(cid "$s")" >"$workdir/$s.log" 2>&1
done
for f in "$workdir"/pg-master.log "$workdir"/pg-replicant.log "$workdir"/replicant-standby.log \
  "$workdir"/pg-cascade.log; do
  [[ -s $f ]] || fail "$(basename "$f") is empty; expected pgkeeper's log"
  if grep -qF -- "$POSTGRES_PASS" "$f"; then
    fail "the password appears in docker logs ($(basename "$f"))"
  fi
done
log "ok: no password in docker logs"

# Containers' processes are the host's too; take a snapshot first so that
# the search itself is not in it. Then look again from inside each container.
ps -eww -o pid=,args= >"$workdir/ps.txt"
if grep -F -- "$POSTGRES_PASS" "$workdir/ps.txt" >&2; then
  fail "the password appears in a process's command line (ps on the host)"
fi
no_password_inside pg-replicant
log "ok: no password in argv or world-readable files"

# --- down and clean ----------------------------------------------------------
smake down || fail "'make down' failed"
smake clean || fail "'make clean' failed"
[[ -z $(project_volumes) ]] ||
  fail "'make clean' left volumes behind"
log "ok: make clean removes the volumes"

pass
