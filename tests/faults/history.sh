# shellcheck shell=bash disable=SC2034,SC2154  # variables shared with the caller
# The fault suites' shared helpers (faults.sh, cluster_faults.sh): the
# workload client's history (one line per write: <ms> ok|fail|info <id> ...)
# and what it says. Sourced after ../e2e/lib.sh. The caller sets workload
# (the client), conninfo (where it writes), outdir and workdir; start_load
# sets history and load_pid; ride_out and verdict use name (the round) and
# here (this folder).

now_ms() { date +%s%3N; }

oks() { grep -c ' ok ' "$history" || true; }
oks_after() { awk -v t="$1" '$1 >= t && $2 == "ok"' "$history" | wc -l; }
first_ok_after() { awk -v t="$1" '$1 >= t && $2 == "ok" { print $1; exit }' "$history"; }
# When the fault first cost a write: the first refused or unknown one after
# t (t itself when none was).
first_break_after() { awk -v t="$1" '$1 >= t && $2 != "ok" { b = $1; exit } END { print (b ? b : t) }' "$history"; }
# How long no write was acknowledged because of the fault at $1: the
# longest wait between one acknowledgement and the next, from the last one
# before the fault on; writes may fail meanwhile, or just wait (a
# synchronous master whose replicant cannot confirm).
writes_back_after() {
  awk -v t="$1" '$2 != "ok" { next }
                 $1 < t { last = $1; next }
                 last && $1 - last > m { m = $1 - last }
                 { last = $1 }
                 END { print m + 0 }' "$history"
}

# For wait_until, which runs a command again and again.
acked_at_least() { (($(oks) >= $1)); }
acked_after_at_least() { (($(oks_after "$1") >= $2)); }
write_failed_after() { awk -v t="$1" '$1 >= t && $2 != "ok" { f = 1; exit } END { exit !f }' "$history"; }

# start_load NAME: the workload writing $conninfo's way, its history in
# $outdir/NAME.history; a caller may define launch_workload NAME (which
# must leave the client's process in $!) to run it elsewhere.
start_load() {
  history=$outdir/$1.history
  : >"$history"
  if declare -F launch_workload >/dev/null; then
    launch_workload "$1"
  else
    "$workload" "$conninfo" "$history" 3600 >"$workdir/$1.workload" 2>&1 &
  fi
  load_pid=$!
  wait_until "the workload has 200 acknowledged writes" 60 acked_at_least 200
}

stop_load() {
  kill -TERM "$load_pid"
  wait "$load_pid" || true
  load_pid=
}

# The EXIT trap: the clients a failed round left running are stopped (by
# PID), then lib.sh's cleanup runs with the script's exit status.
stop_clients_then_cleanup() {
  local rc=$? pid
  set +e
  for pid in ${load_pid:-} ${probe_pid:-}; do kill -TERM "$pid" 2>/dev/null || true; done
  (exit "$rc")
  cleanup
}

# Called once the fault at $1 is over (healed, or taken effect): waits for
# 200 writes acknowledged after now and after the first write the fault
# cost, sets back (how long no write was acknowledged), and stops the load.
# From now on, because a fault that only makes writes wait (strict mode)
# costs none, and 200 writes may well have been acknowledged between its
# injection and its effect.
ride_out() {
  local from now_t
  now_t=$(now_ms)
  from=$(first_break_after "$1")
  ((from > now_t)) || from=$now_t
  wait_until "$name: 200 writes after the fault" 120 acked_after_at_least "$from" 200
  back=$(writes_back_after "$1")
  stop_load
}

# Runs check.py on the round's history with ARGS, keeps its verdict in
# $outdir and sets check, acked and lost.
verdict() {
  check=$(python3 "$here/check.py" "$history" "$@") || fail "$name: the checker failed"
  echo "$check" >"$outdir/$name.check"
  acked=$(jq_field "$check" acknowledged)
  lost=$(jq_field "$check" lost)
}

jq_field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"; }
