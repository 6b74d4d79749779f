#!/usr/bin/env bash
# End-to-end test of TLS between the nodes and towards clients, with the
# replication sample: ./build.sh, `make tls-certs` and `make up-tls` in
# sample/replication, psql from the host through the published ports
# 127.0.0.1:7777 (master) and :7776 (replicant), and tshark on the bridge
# of the project's Docker network.
#
# Checks, in order: `make tls-certs` makes a CA and per-node certificates
# that name the node; `make up-tls` (tls.yml: the node's own certificate,
# SSL_CA_FILE on both, FORCE_SSL=True) brings up a pair whose replicant
# streams, and the master's walsender for it is a TLS connection
# (pg_stat_ssl); a client with sslmode=disable is refused with "no
# encryption" on both ports; sslmode=verify-full with the CA works through
# 127.0.0.1 and localhost on both ports; the HTTP API answers over HTTPS
# with the node's certificate (verified by the CA) and not over HTTP; a row with a random marker is
# written on the master (over its Unix socket, so only replication carries it
# over the network) and reaches the replicant while tshark captures TCP port
# 5432 on the bridge: the capture holds replication packets between the two
# containers and not the marker. Then the negative control: the pair is
# removed and started again with PGKEEPER_TLS=False on both nodes, the same
# capture and row, and now the marker must be in the replication packets,
# which shows that the capture does see row text. Before that, rotation: a
# renewed certificate for pg-master replaces the mounted files, and
# `pgkeeper reload` makes the master serve it (its serial, read with openssl
# s_client) without a restart of postgres. Finally it prints the
# packets and the marker hits of both captures.
#
# Needs root (or another user tshark may capture as), tshark and openssl on
# the host. Runs under its own compose project name, so it never touches the
# sample's own containers or volumes, but it needs ports 7777 and 7776 free.
# Certificates and captures are kept in the run's work folder in /tmp, never
# in the checkout. A missing Docker daemon is a failure, not a skip. Every
# wait has a deadline.
#
# Environment: E2E_PROJECT (compose project, default pgkeeper-tls-e2e),
# E2E_KEEP=1 (leave the containers running after a failure, for a look),
# E2E_SKIP_BUILD=1 (use the image already built).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sample=$root/sample/replication
master_port=7777
replicant_port=7776
running=(pg-master pg-replicant)
wait_poll=0.5
log_services=(pg-master pg-replicant)
log_lines=60

# The sample's .env, but our own project and a unique password; none of the
# sample's TLS settings from the caller's shell. OpenSSL's own SSL_CERT_FILE
# (a CA bundle) may stay: the sample must not hand it to pgkeeper.
load_settings pgkeeper-tls-e2e PGKEEPER_SSL_CERT_FILE PGKEEPER_SSL_KEY_FILE PGKEEPER_SSL_CA_FILE \
  FORCE_SSL PGKEEPER_TLS PGKEEPER_TLS_DIR COMPOSE_FILE MASTER_FROM MASTER_ALLOW_REJOIN \
  PGSSLMODE PGSSLROOTCERT
tshark_pid=

# psql through 127.0.0.1:PORT (or HOST), verifying the node's certificate by
# our CA.
tls_sql() {
  local port=$1 host=$2
  shift 2
  psql -X -q -A -t -v ON_ERROR_STOP=1 \
    "host=$host port=$port user=$POSTGRES_USER dbname=$db sslmode=verify-full sslrootcert=$tls_dir/ca.crt" \
    -c "$*"
}
# psql inside a node's container, over its Unix socket, SQL on stdin: what it
# sends never crosses the Docker network.
sql_in() { docker exec -i "$(cid "$1")" psql -X -q -A -t -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$db"; }

tls_answers() { [[ $(tls_sql "$1" 127.0.0.1 'SELECT 1') == 1 ]]; }
plain_answers() { [[ $(sql "$1" 'SELECT 1') == 1 ]]; }
streaming_is() {
  [[ $(sql_in pg-master <<<"SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "$1" ]]
}
in_recovery() { [[ $(sql_in pg-replicant <<<'SELECT pg_is_in_recovery()') == t ]]; }
replicant_has_table() {
  [[ $(sql_in pg-replicant <<<"SELECT to_regclass('e2e_tls') IS NOT NULL") == t ]]
}
# The replicant has the marker's row, asked through the published port (TLS
# when $1 is tls): the query names the row by the marker's md5, so the
# marker itself never travels in a query or an answer.
replicant_has_marker() {
  local q="SELECT count(*) FROM e2e_tls WHERE md5(note) = '$marker_md5'"
  if [[ $1 == tls ]]; then
    [[ $(tls_sql $replicant_port 127.0.0.1 "$q") == 1 ]]
  else
    [[ $(sql $replicant_port "$q") == 1 ]]
  fi
}
ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(cid "$1")"; }
net_id_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.NetworkID}}{{end}}' "$(cid "$1")"; }
# Packets in a capture that match a display filter.
packets() { tshark -r "$1" -Y "$2" -T fields -e frame.number 2>/dev/null | wc -l; }
# The capture being written: the time of its newest packet (epoch seconds;
# empty while it holds none). tshark may complain about a packet cut short at
# the end of a file still being written; what precedes it is read.
newest_packet() { { tshark -r "$1" -T fields -e frame.time_epoch 2>/dev/null || true; } | tail -n 1; }
# A fresh connection to the master through its published port, which dumpcap
# sees on the bridge: packets that come after everything before them.
ping_master() {
  if [[ $1 == tls ]]; then tls_answers $master_port; else plain_answers $master_port; fi
}
# dumpcap hands packets over in blocks, so a capture stopped at once loses
# the last second or so. These wait for a packet of a connection made now:
# the capture is live (before the row), and holds everything up to time $3
# (after it).
capture_is_live() { ping_master "$2" && [[ -n $(newest_packet "$1") ]]; }
capture_has_caught_up() {
  local newest
  ping_master "$2" || return 1
  newest=$(newest_packet "$1")
  [[ -n $newest ]] && awk -v a="$newest" -v b="$3" 'BEGIN { exit !(a >= b) }'
}
# Occurrences of the marker in a file's raw bytes.
hits() { { grep -a -o -F -- "$marker" "$1" || true; } | wc -l; }

stop_tshark() {
  [[ -n $tshark_pid ]] || return 0
  kill -TERM "$tshark_pid" 2>/dev/null || true
  wait "$tshark_pid" 2>/dev/null || true
  tshark_pid=
}
# On a failure (lib.sh's cleanup calls this): no capture left running.
show_state_at_failure() {
  if [[ -n $tshark_pid ]]; then
    stop_tshark
    echo "e2e: --- tshark ---" >&2
    cat "$workdir"/*.tshark.log >&2 2>/dev/null || true
  fi
}

# capture_round NAME MODE: captures TCP port 5432 on the project's bridge
# while a row with a new marker goes from the master to the replicant (MODE
# tls: the replicant is asked over TLS). Sets round_packets (all packets),
# round_repl (those between the two containers), round_hits (the marker in
# the whole capture) and round_repl_hits (in the packets between the two).
capture_round() {
  local name=$1 mode=$2 net br master_ip replicant_ip pcap tlog deadline filter seen
  pcap=$workdir/$name.pcap
  tlog=$workdir/$name.tshark.log
  net=$(net_id_of pg-master)
  [[ -n $net && $(net_id_of pg-replicant) == "$net" ]] ||
    fail "cannot find the project's Docker network (master: '$net')"
  br=br-${net:0:12}
  ip link show "$br" >/dev/null 2>&1 || fail "no bridge interface $br for network ${net:0:12}"
  master_ip=$(ip_of pg-master)
  replicant_ip=$(ip_of pg-replicant)
  [[ -n $master_ip && -n $replicant_ip ]] || fail "cannot find the containers' addresses"

  # The table first, so that the marker's row is the only news of the round.
  sql_in pg-master <<<'CREATE TABLE IF NOT EXISTS e2e_tls (id serial, note text)' >/dev/null ||
    fail "cannot create the table on the master"
  wait_until "the replicant has the table ($name)" 60 replicant_has_table

  log "capturing tcp port 5432 on $br (master $master_ip, replicant $replicant_ip)"
  tshark -i "$br" -w "$pcap" -f 'tcp port 5432' >"$tlog" 2>&1 &
  tshark_pid=$!
  deadline=$((SECONDS + 30))
  until grep -q 'Capturing on' "$tlog" && [[ -s $pcap ]]; do
    kill -0 "$tshark_pid" 2>/dev/null || {
      tshark_pid=
      fail "tshark stopped before capturing: $(cat "$tlog")"
    }
    ((SECONDS < deadline)) || fail "tshark did not start capturing within 30s: $(cat "$tlog")"
    sleep 0.2
  done
  wait_until "tshark $tshark_pid has captured a first packet" 30 capture_is_live "$pcap" "$mode"

  marker="marker-$RANDOM$RANDOM-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')-$name"
  marker_md5=$(printf %s "$marker" | md5sum | cut -c1-32)
  sql_in pg-master <<<"INSERT INTO e2e_tls (note) VALUES ('$marker')" >/dev/null ||
    fail "cannot insert the marker's row on the master"
  wait_until "the replicant has the marker's row ($name)" 60 replicant_has_marker "$mode"
  seen=$(date +%s.%N)
  wait_until "the capture holds the packets up to then" 30 capture_has_caught_up "$pcap" "$mode" "$seen"
  stop_tshark
  log "tshark stopped"

  filter="tcp.port == 5432 && ip.addr == $master_ip && ip.addr == $replicant_ip"
  tshark -r "$pcap" -Y "$filter" -w "$workdir/$name-replication.pcap" 2>/dev/null ||
    fail "cannot read the capture $pcap"
  round_packets=$(packets "$pcap" 'tcp.port == 5432')
  round_repl=$(packets "$pcap" "$filter")
  round_hits=$(hits "$pcap")
  round_repl_hits=$(hits "$workdir/$name-replication.pcap")
  log "$name: $round_packets packets on port 5432, $round_repl between master and replicant;" \
    "marker hits: $round_hits in the capture, $round_repl_hits in replication packets"
  ((round_repl > 0)) ||
    fail "$name: the capture holds no packets between the master and the replicant; the check would prove nothing"
}

# --- preflight, leftovers, build ---------------------------------------------
preflight tshark openssl ip
start_run pgkeeper-tls-e2e
tls_dir=$workdir/tls
smake_vars=(PGKEEPER_TLS_DIR="$tls_dir")
clear_leftovers $master_port $replicant_port
build_image

# --- certificates --------------------------------------------------------------
smake tls-certs >"$workdir/tls-certs.log" 2>&1 || {
  cat "$workdir/tls-certs.log" >&2
  fail "'make tls-certs' failed"
}
for n in pg-master pg-replicant; do
  for f in ca.crt server.crt server.key; do
    [[ -s $tls_dir/$n/$f ]] || fail "'make tls-certs' did not make $n/$f"
  done
  openssl verify -CAfile "$tls_dir/ca.crt" "$tls_dir/$n/server.crt" >/dev/null ||
    fail "$n's certificate is not signed by the CA"
  san=$(openssl x509 -in "$tls_dir/$n/server.crt" -noout -ext subjectAltName)
  for name in "DNS:$n" DNS:localhost 'IP Address:127.0.0.1'; do
    [[ $san == *"$name"* ]] || fail "$n's certificate does not name $name: $san"
  done
done
log "ok: make tls-certs made a CA and certificates naming each node, localhost and 127.0.0.1"

# --- TLS forced, certificates of our CA ------------------------------------------
log "make up-tls (project $COMPOSE_PROJECT_NAME)"
u0=$SECONDS
smake up-tls || fail "'make up-tls' failed"
for s in pg-master pg-replicant; do
  docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(cid "$s")" |
    grep -qx 'SSL_CA_FILE=/etc/pgkeeper/tls/ca.crt' || fail "$s has no SSL_CA_FILE from tls.yml"
done
wait_until "the master answers over TLS (verify-full) on 127.0.0.1:$master_port" 180 tls_answers $master_port
wait_until "the replicant answers over TLS (verify-full) on 127.0.0.1:$replicant_port" 300 \
  tls_answers $replicant_port
wait_until "the replicant is a standby" 30 in_recovery
wait_until "the master has one streaming replicant" 60 streaming_is 1
log "the pair streams, $((SECONDS - u0))s after 'make up-tls'"

walsender=$(sql_in pg-master <<<"SELECT s.ssl, s.version, s.cipher, s.bits
    FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.state = 'streaming'")
[[ $walsender == t\|* ]] || fail "the master's walsender for the replicant does not use TLS: '$walsender'"
IFS='|' read -r _ tls_version tls_cipher tls_bits <<<"$walsender"
log "ok: the replicant streams over TLS: $tls_version, $tls_cipher ($tls_bits bits)"
conninfo=$(sql_in pg-replicant <<<'SELECT conninfo FROM pg_stat_wal_receiver')
[[ $conninfo == *sslmode=verify-full* ]] ||
  fail "the replicant's walreceiver does not verify the master (sslmode=verify-full): $conninfo"
grep -q 'is signed by SSL_CA_FILE' <(docker logs "$(cid pg-replicant)" 2>&1) ||
  fail "the replicant's log does not say it verified the master's certificate"
log "ok: the replicant verifies the master: walreceiver with sslmode=verify-full"

for port in $master_port $replicant_port; do
  if out=$(psql -X -A -t "host=127.0.0.1 port=$port user=$POSTGRES_USER dbname=$db sslmode=disable" \
    -c 'SELECT 1' 2>&1); then
    fail "a client without TLS got in on port $port; expected FORCE_SSL=True to refuse it"
  fi
  [[ $out == *"no encryption"* ]] ||
    fail "a client without TLS was refused on port $port, but not for 'no encryption': $out"
  for host in 127.0.0.1 localhost; do
    [[ $(tls_sql "$port" "$host" 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()') == t ]] ||
      fail "sslmode=verify-full through $host:$port did not give a TLS session"
  done
done
log "ok: sslmode=disable is refused with 'no encryption'; verify-full works through 127.0.0.1 and localhost"

# The API speaks HTTPS with the node's certificate (tls.yml), verified by our
# CA under the node's name, reached at its address on the project network.
for s in pg-master pg-replicant; do
  ip=$(ip_of "$s")
  out=$(curl -sS --max-time 5 --cacert "$tls_dir/ca.crt" --resolve "$s:8008:$ip" \
    "https://$s:8008/health" -o /dev/null -w '%{http_code}' 2>&1) || true
  [[ $out == 200 ]] || fail "$s's API over HTTPS (verified by the CA) gave '$out'; expected 200"
  out=$(curl -s --max-time 5 "http://$ip:8008/health" -o /dev/null -w '%{http_code}' 2>&1) || true
  [[ $out != 200 ]] || fail "$s's API still answers plain HTTP"
done
log "ok: the API answers over HTTPS with each node's certificate, and not over plain HTTP"

capture_round tls tls
tls_packets=$round_packets tls_repl=$round_repl tls_hits=$round_hits
((tls_hits == 0)) || fail "the marker is in the capture in the clear although every connection uses TLS"
log "ok: the marker's row crossed the network only encrypted"

# --- rotation: a renewed certificate, served without a restart ----------------------
# openssl s_client speaks PostgreSQL's TLS request; the serial names the pair.
served_serial() {
  openssl s_client -starttls postgres -connect "127.0.0.1:$master_port" </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null
}
old_serial=$(served_serial)
[[ -n $old_serial ]] || fail "cannot read the certificate the master serves"
started=$(sql_in pg-master <<<'SELECT pg_postmaster_start_time()')
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=pg-master \
  -keyout "$workdir/renewed.key" -out "$workdir/renewed.csr" 2>/dev/null
printf '%s\n' 'subjectAltName=DNS:pg-master,DNS:localhost,IP:127.0.0.1' >"$workdir/renewed.ext"
openssl x509 -req -in "$workdir/renewed.csr" -CA "$tls_dir/ca.crt" -CAkey "$tls_dir/ca.key" \
  -CAcreateserial -CAserial "$workdir/renewed.srl" -days 30 -extfile "$workdir/renewed.ext" \
  -out "$workdir/renewed.crt" 2>/dev/null
new_serial=$(openssl x509 -in "$workdir/renewed.crt" -noout -serial)
# As a secret is replaced: readable by everyone (postgres in the container
# too), the key first.
install -m 0444 "$workdir/renewed.key" "$tls_dir/pg-master/server.key"
install -m 0444 "$workdir/renewed.crt" "$tls_dir/pg-master/server.crt"
reload_out=$(docker exec "$(cid pg-master)" pgkeeper reload 2>&1) ||
  fail "'pgkeeper reload' failed: $reload_out"
[[ $(served_serial) == "$new_serial" ]] ||
  fail "after 'pgkeeper reload' the master serves $(served_serial), not the renewed $new_serial"
[[ $(sql_in pg-master <<<'SELECT pg_postmaster_start_time()') == "$started" ]] ||
  fail "postgres restarted for the new certificate"
wait_until "the master answers over TLS (verify-full) with the renewed certificate" 30 \
  tls_answers $master_port
log "ok: rotation: 'pgkeeper reload' loaded the renewed certificate ($old_serial -> $new_serial)" \
  "without a restart: $reload_out"

# --- negative control: no TLS at all ---------------------------------------------
log "make clean, then make up with PGKEEPER_TLS=False"
smake clean >/dev/null 2>&1 || fail "'make clean' failed"
[[ -z $(cid pg-master)$(cid pg-replicant) && -z $(project_volumes) ]] ||
  fail "'make clean' left containers or volumes behind"
# With OpenSSL's SSL_CERT_FILE in the shell, as many setups have it: pgkeeper
# would refuse it (no key, and not with PGKEEPER_TLS=False) if the sample
# passed it on.
PGKEEPER_TLS=False SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt smake up ||
  fail "'make up' with PGKEEPER_TLS=False failed"
wait_until "the master answers without TLS on 127.0.0.1:$master_port" 180 plain_answers $master_port
wait_until "the replicant answers without TLS on 127.0.0.1:$replicant_port" 300 \
  plain_answers $replicant_port
wait_until "the replicant is a standby" 30 in_recovery
wait_until "the master has one streaming replicant" 60 streaming_is 1
walsender=$(sql_in pg-master <<<"SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)")
[[ $walsender == f ]] || fail "with PGKEEPER_TLS=False the walsender's ssl is '$walsender'; expected f"
log "ok: with PGKEEPER_TLS=False the replicant streams in the clear"

capture_round plain plain
plain_packets=$round_packets plain_repl=$round_repl plain_hits=$round_hits
((round_repl_hits > 0)) ||
  fail "without TLS the marker is not in the replication packets; the capture cannot see row text, so the TLS check proves nothing"
log "ok: without TLS the capture shows the marker in the replication stream"

# --- what was measured ------------------------------------------------------------
log "measured: with TLS ($tls_version, $tls_cipher): $tls_packets packets on port 5432," \
  "$tls_repl of them replication, marker hits $tls_hits;" \
  "without TLS: $plain_packets packets, $plain_repl replication, marker hits $plain_hits"
smake clean >/dev/null 2>&1 || fail "'make clean' failed"
[[ -z $(project_volumes) ]] || fail "'make clean' left volumes behind"
pass
