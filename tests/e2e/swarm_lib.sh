# shellcheck shell=bash disable=SC2034,SC2154  # variables shared with the caller
# Helpers for tests that deploy sample/swarm (swarm_e2e.sh and
# ../faults/cluster_faults.sh --on swarm). Sourced after lib.sh. The caller
# sets stack (the stack's name) and roles (the labels its services need).
#
#   swarm_join    makes this machine a one-node swarm on 127.0.0.1 when it
#                 is in none (swarm_made=1), fails when it is in one but no
#                 manager, and adds each pgkeeper.<role>=true label this
#                 machine lacks (remembered in labels_added)
#   swarm_leave   removes those labels, and leaves the swarm it made
#   scid SERVICE  the running container of a service of the stack
#   xsql SERVICE TARGET SQL
#                 psql inside SERVICE's container, with the password from
#                 its secret file: TARGET local is the node itself, a port
#                 (5000, 5001) is HAProxy's
swarm_made=0
labels_added=()

swarm_join() {
  local r
  case $(docker info -f '{{.Swarm.LocalNodeState}}') in
    inactive)
      log "making this machine a one-node swarm on 127.0.0.1"
      docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null
      swarm_made=1 ;;
    active) [[ $(docker info -f '{{.Swarm.ControlAvailable}}') == true ]] ||
      fail "this machine is in a swarm but is no manager; run the test on a manager" ;;
    *) fail "this machine's swarm state is $(docker info -f '{{.Swarm.LocalNodeState}}')" ;;
  esac
  node_id=$(docker info -f '{{.Swarm.NodeID}}')
  for r in "${roles[@]}"; do
    if [[ $(docker node inspect -f "{{index .Spec.Labels \"pgkeeper.$r\"}}" "$node_id") != true ]]; then
      docker node update --label-add "pgkeeper.$r=true" "$node_id" >/dev/null
      labels_added+=("$r")
    fi
  done
}

swarm_leave() {
  local r
  for r in "${labels_added[@]}"; do docker node update --label-rm "pgkeeper.$r" "$node_id" >/dev/null 2>&1; done
  ((swarm_made == 0)) || docker swarm leave --force >/dev/null 2>&1
}

scid() { docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_$1" | head -n 1; }

xsql() {
  local id
  id=$(scid "$1") && [[ -n $id ]] || return 1
  if [[ $2 == local ]]; then
    docker exec -i "$id" sh -c 'PGPASSWORD=$(cat /run/secrets/postgres_pass) exec psql -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$POSTGRES_USER" "$POSTGRES_DBNAME" -c "$1"' sh "$3"
  else
    docker exec -i "$id" sh -c 'PGPASSWORD=$(cat /run/secrets/postgres_pass) exec psql -XAtq -v ON_ERROR_STOP=1 -h haproxy -p "$1" -U "$POSTGRES_USER" "$POSTGRES_DBNAME" -c "$2"' sh "$2" "$3"
  fi
}
