# shellcheck shell=bash disable=SC2034,SC2120,SC2154  # variables shared with the caller
# Shared helpers of the end-to-end tests (replication_e2e.sh, haproxy_e2e.sh).
# Sourced, not run:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# right after `set -euo pipefail`; the helpers rely on those settings.
#
# Sourcing sets:
#   root      the repository's top folder
#   image     the pgkeeper image under test (pgkeeper/postgis:latest)
#   t0        $SECONDS at sourcing; log, fail and pass print the time since
#   compose   the compose command as an array: (docker compose), or else
#             (docker-compose)
#   smake_vars=()   see smake below
# and defines the functions below. It runs nothing else but
# `docker compose version`.
#
# The caller must set, before calling the functions that use them:
#   sample        the sample's folder, $root/sample/NAME (env_value, compose,
#                 smake, cleanup, clear_leftovers)
#   running       array: the services that must not have exited while
#                 wait_until waits; the caller may change it during the test
#   wait_poll     seconds between two tries of wait_until (e.g. 0.5)
#   log_services  array: the services whose last log lines cleanup prints
#                 after a failure
#   log_lines     how many of their last log lines it prints
#   smake_vars    (optional) array of extra VAR=value arguments for make
# and may define show_state_at_failure, called by cleanup after a failure
# between `compose ps` and the log lines (by default it prints nothing).
#
# Functions:
#   log MESSAGE / fail MESSAGE / pass   progress on stdout; FAIL on stderr and
#                 exit 1; the final PASS line
#   env_value VAR                the value of VAR in $sample/.env
#   load_settings PROJECT [VAR...]
#                 exports the settings the sample's compose file reads: the
#                 project name (E2E_PROJECT, or PROJECT), POSTGRES_USER and
#                 POSTGRES_DBNAME from $sample/.env, DESTROY_DATABASE_ON_RESTART
#                 =True, and a random POSTGRES_PASS that psql takes through
#                 PGPASSWORD; unsets the other settings and each VAR; sets db
#                 (the first database) and fails when user or database is
#                 missing
#   compose ARGS / smake ARGS    docker compose / make in $sample, our project
#   cid SERVICE                  container id of a service of our project
#                                (empty when there is none)
#   project_volumes              our project's volumes, one a line
#   sql PORT SQL                 psql through 127.0.0.1:PORT
#   wait_until DESCRIPTION SECONDS COMMAND...
#                 runs COMMAND until it succeeds; fails at the deadline, or at
#                 once when a service in running has exited
#   health_is SERVICE STATUS     Docker's health status of SERVICE is STATUS
#   preflight [TOOL...]          fails without Docker, psql, each TOOL or a
#                                working compose
#   start_run NAME               makes $workdir (/tmp/NAME.XXXXXX) and sets
#                                the traps: cleanup on exit, and INT and TERM
#                                exit 130 and 143
#   cleanup                      the EXIT trap: after a failure prints the
#                                project's state and the last log lines with
#                                the password masked (and with E2E_KEEP=1
#                                leaves the containers); then `make clean`
#                                and removes $workdir
#   clear_leftovers PORT...      `make clean` of an earlier, killed run; fails
#                                when a PORT is in use
#   build_image [--report-size]  ./build.sh into $image, or with
#                                E2E_SKIP_BUILD=1 checks that $image exists

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
image=pgkeeper/postgis:latest
t0=$SECONDS
smake_vars=()

log() { echo "e2e [$((SECONDS - t0))s]: $*"; }
fail() {
  echo "e2e [$((SECONDS - t0))s]: FAIL: $*" >&2
  exit 1
}
pass() { echo "e2e: PASS in $((SECONDS - t0))s"; }

# --- settings: the sample's .env, but our own project and a unique password --
env_value() { sed -n "s/^$1=//p" "$sample/.env" | tail -n 1; }

load_settings() {
  export COMPOSE_PROJECT_NAME=${E2E_PROJECT:-$1}
  shift
  # A missing .env is reported by the check below.
  POSTGRES_USER=$(env_value POSTGRES_USER) || true
  POSTGRES_DBNAME=$(env_value POSTGRES_DBNAME) || true
  export POSTGRES_USER POSTGRES_DBNAME
  export DESTROY_DATABASE_ON_RESTART=True
  # The demo password equals the demo user name, which legitimately appears in
  # logs; a random one can be searched for.
  POSTGRES_PASS="e2e-secret-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  export POSTGRES_PASS
  unset PROMOTE_MASTER ALLOW_IP_RANGE POSTGRES_MULTIPLE_EXTENSIONS POSTGRES_PASSWORD "$@"
  db=${POSTGRES_DBNAME%%,*}
  [[ -n $POSTGRES_USER && -n $db ]] || fail "cannot read POSTGRES_USER / POSTGRES_DBNAME from $sample/.env"

  # psql from the host reads the password from its environment, never argv.
  export PGPASSWORD=$POSTGRES_PASS PGCONNECT_TIMEOUT=3
}

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  compose=(docker-compose)
fi
compose() { (cd "$sample" && "${compose[@]}" "$@"); }
smake() { make -C "$sample" COMPOSE="${compose[*]}" "${smake_vars[@]}" "$@"; }

# Container id of a service of our project (empty when there is none).
cid() {
  docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
    --filter "label=com.docker.compose.service=$1" | head -n 1
}
project_volumes() { docker volume ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"; }

# psql through a published port on the host. A fresh connection each time.
sql() {
  local port=$1
  shift
  psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$POSTGRES_USER" -d "$db" \
    -c "$*"
}

# wait_until DESCRIPTION SECONDS COMMAND...: runs COMMAND until it succeeds.
# Fails at the deadline, or at once when a container of ours that should be
# running (one of the services in running) has exited.
wait_until() {
  local what=$1 limit=$2
  shift 2
  local deadline=$((SECONDS + limit)) s id state
  log "waiting (up to ${limit}s) until $what"
  until "$@" >/dev/null 2>&1; do
    for s in "${running[@]}"; do
      id=$(cid "$s")
      [[ -n $id ]] || continue
      state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id" 2>/dev/null || true)
      if [[ $state == exited* || $state == dead* ]]; then
        fail "$s stopped ($state) while waiting until $what"
      fi
    done
    ((SECONDS < deadline)) || fail "timed out after ${limit}s waiting until $what"
    sleep "$wait_poll"
  done
  log "ok: $what"
}

health_is() { [[ $(docker inspect -f '{{.State.Health.Status}}' "$(cid "$1")") == "$2" ]]; }

# --- cleanup: only this project's containers, network and volumes -----------
# More of the state at a failure; a test may define its own.
show_state_at_failure() { :; }

cleanup() {
  local rc=$? s id
  set +e
  if ((rc != 0)); then
    echo "e2e: --- state at failure (project $COMPOSE_PROJECT_NAME) ---" >&2
    compose ps >&2
    show_state_at_failure
    for s in "${log_services[@]}"; do
      id=$(cid "$s")
      [[ -n $id ]] || continue
      echo "e2e: --- last log lines of $s ---" >&2
      docker logs --tail "$log_lines" "$id" 2>&1 | sed "s/$POSTGRES_PASS/<password>/g" >&2
    done
    if [[ ${E2E_KEEP:-0} == 1 ]]; then
      echo "e2e: E2E_KEEP=1: containers left running; remove them with:" >&2
      echo "  COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT_NAME make -C $sample clean" >&2
      exit "$rc"
    fi
  fi
  smake clean >/dev/null 2>&1
  rm -rf "$workdir"
  exit "$rc"
}

# --- preflight --------------------------------------------------------------
# preflight [TOOL...]: Docker, psql, each TOOL on the host, and compose.
preflight() {
  local tool
  docker info >/dev/null 2>&1 ||
    fail "no Docker daemon answers; this test needs one (.ci/run starts dockerd)"
  command -v psql >/dev/null || fail "psql is not installed on the host (postgresql-client-15)"
  for tool in "$@"; do
    command -v "$tool" >/dev/null || fail "$tool is not installed on the host"
  done
  "${compose[@]}" version >/dev/null 2>&1 || fail "neither 'docker compose' nor 'docker-compose' works"
}

# start_run NAME: the work folder /tmp/NAME.XXXXXX, and the traps.
start_run() {
  workdir=$(mktemp -d "/tmp/$1.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# clear_leftovers PORT...: leftovers of an earlier, killed run of this test,
# and the ports it needs must be free.
clear_leftovers() {
  local port
  smake clean >/dev/null 2>&1 || true
  for port in "$@"; do
    if [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; then
      fail "port $port is already in use (is the sample running? 'make -C ${sample#"$root"/} down')"
    fi
  done
}

# --- build -------------------------------------------------------------------
# build_image [--report-size]: ./build.sh (logging the image's size in bytes
# with --report-size), or with E2E_SKIP_BUILD=1 the image already built.
build_image() {
  local b0
  if [[ ${E2E_SKIP_BUILD:-0} == 1 ]]; then
    docker image inspect "$image" >/dev/null 2>&1 || fail "E2E_SKIP_BUILD=1 but $image is missing"
    log "using the existing $image"
  else
    log "building the image with ./build.sh"
    b0=$SECONDS
    "$root/build.sh" >"$workdir/build.log" 2>&1 || {
      tail -n 60 "$workdir/build.log" >&2
      fail "./build.sh failed (last lines above)"
    }
    if [[ ${1:-} == --report-size ]]; then
      log "image built in $((SECONDS - b0))s, $(docker image inspect -f '{{.Size}}' "$image") bytes"
    else
      log "image built in $((SECONDS - b0))s"
    fi
  fi
}
