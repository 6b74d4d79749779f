#!/usr/bin/env python3
"""pgkeeper against raw PostgreSQL doing the same work, in the same run.

Each figure runs pgkeeper and the raw PostgreSQL 15 tools (initdb, pg_ctl,
pg_basebackup, pg_promote, psql) with the same settings, on loopback, side
by side, several times, and prints the medians and their ratio. Absolute
times on a shared machine mean little; the ratio is the figure that holds.

usage: bench.py [--quick] [--runs N] [--out DIR] [--pgkeeper PATH] [--only N,N]

Figures (see docs/benchmarks.md): 1 master cold start, 2 replicant bootstrap
from an empty master, 3 the same from a loaded master (pgbench data) with the
disk's own copy rate, 4 replicant restart keeping its data, 5 promotion, 6
replication lag and TPS under pgbench load, 7 pgkeeper's own memory and CPU
idle and under load, 8 the HTTP API under wrk during load, 9 the Docker
sample (needs the image; skipped without it), 10 rejoin of an old master
after a promotion (pgkeeper's chosen path against raw pg_rewind and raw
pg_basebackup) at three data sizes, 11 master TPS with one synchronous
replicant against a raw synchronous pair, 12 TLS cost: master TPS and replay
lag with TLS on and off, pgkeeper and raw, 13 cluster failover: a three-node
pgkeeper cluster on etcd with its master killed, until another node takes a
write, against a raw standby promoted by hand, and the longest pause in a
client's writes during `pgkeeper switchover` against a manual switchover,
14 row propagation: a row committed on the master until the replicant
shows it, polled every 1 and 10 ms, against a raw pair with the settings of
the kartoza/postgis image.
"""
import re
import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
PASSWORD = "bench-password"
USER = "docker"
EXTENSIONS = ["postgis", "hstore", "postgis_topology", "postgis_raster", "pgrouting"]
POLL = 0.01  # seconds between condition checks, the same for both sides


_ports_given = set()
_ports_lock = threading.Lock()


def free_port():
    """A free TCP port on loopback, never the same one twice in a run (figure
    12 sets up its nodes in parallel threads, each asking for ports before
    anything listens on them)."""
    with _ports_lock:
        while True:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _ports_given:
                _ports_given.add(port)
                return port


def as_postgres():
    """preexec_fn: run a raw tool as the postgres user when we are root."""
    if os.geteuid() != 0:
        return None
    import pwd
    pw = pwd.getpwnam("postgres")

    def drop():
        os.setgid(pw.pw_gid)
        os.initgroups("postgres", pw.pw_gid)
        os.setuid(pw.pw_uid)
        # The checkout may lie where postgres may not enter (root's home);
        # initdb fails when it cannot return to its working directory.
        os.chdir("/")
    return drop


def postgres_env(**extra):
    """The environment of a raw server or client tool run by as_postgres(): ours
    plus extra, with HOME the postgres user's. libpq looks for a client
    certificate in ~/.postgresql, and under root's HOME (mode 0700) postgres
    may not even look: sslmode=require then fails, and the default, prefer,
    silently falls back to no TLS, so a raw replicant streamed in the clear
    while pgkeeper's (which gives postgres its own HOME) used TLS."""
    env = dict(os.environ, **extra)
    if os.geteuid() == 0:
        import pwd
        env["HOME"] = pwd.getpwnam("postgres").pw_dir
    return env


def chown_postgres(path):
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def psql(port, sql, host="127.0.0.1", db="postgres", check=False):
    env = dict(os.environ, PGPASSWORD=PASSWORD, PGCONNECT_TIMEOUT="2")
    r = subprocess.run([f"{PG_BIN}/psql", "-h", host, "-p", str(port), "-U", USER, "-d", db,
                        "-XAtq", "-c", sql], env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"psql {sql!r} on {port}: {r.stderr.strip()}")
    return r.stdout.strip() if r.returncode == 0 else None


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(POLL)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def streaming(port):
    return psql(port, "SELECT status FROM pg_stat_wal_receiver") == "streaming"


class Scratch:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="pgkeeper-bench-")
        os.chmod(self.path, 0o755)
        self.procs = []

    def dir(self, name):
        d = os.path.join(self.path, name)
        os.makedirs(d, exist_ok=True)
        chown_postgres(d)
        return d

    def spawn(self, argv, env=None, log=None, preexec=None):
        out = open(log or os.devnull, "ab")
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                             preexec_fn=preexec, start_new_session=True)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.path, ignore_errors=True)


# ---- pgkeeper side -----------------------------------------------------------

class Keeper:
    def __init__(self, scratch, binary, name, extra=None):
        self.scratch = scratch
        self.binary = binary
        self.port = free_port()
        self.api_port = free_port()
        base = self.base = scratch.dir(name)
        self.pgdata = os.path.join(base, "data")
        self.run_dir = os.path.join(base, "run")
        self.log = base + ".log"
        self.env = {"PATH": "/usr/bin:/bin", "PGDATA": self.pgdata, "PGPORT": str(self.port),
                    "PGKEEPER_API_PORT": str(self.api_port), "PGKEEPER_RUN_DIR": self.run_dir,
                    "PGKEEPER_LISTEN_ADDRESSES": "127.0.0.1", "ALLOW_IP_RANGE": "127.0.0.1/32",
                    "PGKEEPER_INITDB_DIR": os.path.join(base, "initdb.d"),
                    "POSTGRES_USER": USER, "POSTGRES_PASS": PASSWORD, "POSTGRES_DBNAME": "gis"}
        self.env.update(extra or {})
        self.proc = None

    def start(self):
        self.proc = self.scratch.spawn([self.binary, "run"], env=self.env, log=self.log)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)

    def discard(self):
        """Stops the node and deletes everything it wrote, so the name can be reused."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
        os.unlink(self.log)

    def run(self, *args):
        # As `docker exec` would have them: the variables that locate the node,
        # and in cluster mode the cluster's (`pgkeeper switchover` asks etcd).
        env = {k: self.env[k] for k in ("PATH", "PGDATA", "PGPORT", "PGKEEPER_RUN_DIR", "POSTGRES_USER",
                                        "ETCD_ENDPOINTS", "PGKEEPER_CLUSTER") if k in self.env}
        return subprocess.run([self.binary, *args], env=env, capture_output=True, text=True)


# ---- raw side ------------------------------------------------------------------

class Raw:
    """A PostgreSQL server run by hand with the settings pgkeeper writes."""

    INITDB_FLAGS = ["--data-checksums"]

    def __init__(self, scratch, name, tls=True, sslmode=None):
        self.scratch = scratch
        # tls: ssl = on with a self-signed pair, as pgkeeper serves by default,
        # or ssl = off as with PGKEEPER_TLS=False. sslmode: what a replicant asks
        # of its master (primary_conninfo, PGSSLMODE for pg_basebackup); None
        # leaves libpq's default, prefer, as a pgkeeper replicant does.
        self.tls = tls
        self.sslmode = sslmode
        self.port = free_port()
        base = self.base = scratch.dir(name)
        self.pgdata = os.path.join(base, "data")
        self.sock = scratch.dir(name + "-run")
        self.log = base + ".log"
        self.proc = None

    def conf(self, standby_of=None):
        lines = [f"listen_addresses = '127.0.0.1'", f"port = {self.port}",
                 f"unix_socket_directories = '{self.sock}'", "wal_level = replica",
                 "max_wal_senders = 10", "max_replication_slots = 10", "hot_standby = on",
                 "hot_standby_feedback = on", "wal_log_hints = on", "wal_keep_size = '512MB'",
                 "password_encryption = 'scram-sha-256'", "wal_receiver_status_interval = '2s'",
                 # TLS as pgkeeper serves it (a self-signed pair made at the first
                 # start), so TCP clients and the replicant stream over TLS on both
                 # sides (libpq's default sslmode=prefer).
                 f"ssl = {'on' if self.tls else 'off'}", "ssl_min_protocol_version = 'TLSv1.2'"]
        if self.tls and not os.path.exists(os.path.join(self.pgdata, "server.crt")):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
                            "-subj", "/CN=raw", "-keyout", os.path.join(self.pgdata, "server.key"),
                            "-out", os.path.join(self.pgdata, "server.crt")],
                           check=True, capture_output=True, preexec_fn=as_postgres())
            os.chmod(os.path.join(self.pgdata, "server.key"), 0o600)
        if standby_of:
            passfile = os.path.join(self.sock, "pgpass")
            with open(passfile, "w") as f:
                f.write(f"*:{standby_of.port}:*:{USER}:{PASSWORD}\n")
            os.chmod(passfile, 0o600)
            chown_postgres(passfile)
            sslmode = f" sslmode={self.sslmode}" if self.sslmode else ""
            lines.append(f"primary_conninfo = 'host=127.0.0.1 port={standby_of.port} user={USER} "
                         f"passfile={passfile}{sslmode}'")
        with open(os.path.join(self.pgdata, "postgresql.auto.conf"), "a") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.pgdata, "pg_hba.conf"), "w") as f:
            f.write("local all all peer map=m\nhost all all 127.0.0.1/32 scram-sha-256\n"
                    "host replication all 127.0.0.1/32 scram-sha-256\n")
        with open(os.path.join(self.pgdata, "pg_ident.conf"), "w") as f:
            f.write(f"m postgres {USER}\nm root {USER}\n")

    def add_conf(self, lines):
        """More settings, read at the next reload or start."""
        with open(os.path.join(self.pgdata, "postgresql.auto.conf"), "a") as f:
            f.write("\n".join(lines) + "\n")

    def initdb(self):
        pwfile = os.path.join(self.sock, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD)
        chown_postgres(pwfile)
        subprocess.run([f"{PG_BIN}/initdb", "-D", self.pgdata, "-U", USER, "--encoding=UTF8",
                        "--locale=C.UTF-8", *self.INITDB_FLAGS, "--auth-local=peer",
                        "--auth-host=scram-sha-256", f"--pwfile={pwfile}"],
                       check=True, capture_output=True, preexec_fn=as_postgres())
        os.unlink(pwfile)
        self.conf()

    def start(self):
        self.proc = self.scratch.spawn([f"{PG_BIN}/postgres", "-D", self.pgdata], env=postgres_env(),
                                       log=self.log, preexec=as_postgres())

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)

    def discard(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
        shutil.rmtree(self.sock, ignore_errors=True)
        os.unlink(self.log)

    def basebackup_from(self, master):
        env = postgres_env(PGPASSWORD=PASSWORD)
        if self.sslmode:
            env["PGSSLMODE"] = self.sslmode
        subprocess.run([f"{PG_BIN}/pg_basebackup", "-D", self.pgdata, "-h", "127.0.0.1",
                        "-p", str(master.port), "-U", USER, "-X", "stream", "-c", "fast", "-w"],
                       check=True, capture_output=True, env=env, preexec_fn=as_postgres())
        open(os.path.join(self.pgdata, "standby.signal"), "w").close()
        chown_postgres(os.path.join(self.pgdata, "standby.signal"))
        self.conf(standby_of=master)


class KartozaRaw(Raw):
    """A raw server set up the way the kartoza/postgis image sets up its own
    (its scripts env-data.sh and setup-conf.sh, with replication on): initdb
    without data checksums and with 32 MB WAL segments; shared_buffers 256MB,
    wal_buffers 1MB, longer checkpoints; neither wal_log_hints nor
    hot_standby_feedback. TLS as on the other raw servers."""

    INITDB_FLAGS = ["--wal-segsize=32"]
    SETTINGS = ["shared_buffers = 256MB", "work_mem = 16MB", "maintenance_work_mem = 128MB",
                "wal_buffers = 1MB", "random_page_cost = 2.0", "wal_keep_size = 20",
                "min_wal_size = 1024MB", "max_wal_size = 4GB", "checkpoint_timeout = 30min",
                "superuser_reserved_connections = 10"]

    def conf(self, standby_of=None):
        super().conf(standby_of)
        path = os.path.join(self.pgdata, "postgresql.auto.conf")
        with open(path) as f:
            lines = f.read().splitlines()
        ours = ("hot_standby_feedback", "wal_log_hints", "wal_receiver_status_interval",
                "wal_keep_size")
        with open(path, "w") as f:
            f.write("\n".join([line for line in lines if not line.startswith(ours)] +
                              self.SETTINGS) + "\n")


# ---- measuring helpers -----------------------------------------------------------

def timed(fn):
    """(seconds fn took, what it returned)."""
    start = time.monotonic()
    value = fn()
    return time.monotonic() - start, value


def side_by_side(keeper, raw, raw_first):
    """Runs both sides, in the order given, and returns (keeper's, raw's) results.
    Alternating the order from run to run keeps a warm-cache or order effect
    from always favouring the same side."""
    if raw_first:
        r = raw()
        return keeper(), r
    k = keeper()
    return k, raw()


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(round(q / 100 * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


def du_bytes(path):
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def proc_kb(pid, name, field):
    """A "Field:   N kB" line of /proc/PID/NAME, in kB (0 when absent)."""
    with open(f"/proc/{pid}/{name}") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kb(pid):
    return proc_kb(pid, "status", "VmRSS")


def pss_kb(pid):
    """Proportional set size: shared pages divided among the processes sharing them."""
    return proc_kb(pid, "smaps_rollup", "Pss")


def stat_fields(pid):
    """/proc/PID/stat's fields after the command name: state, ppid, ..."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid):
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid):
    """The PIDs whose parent is pid."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and int(stat_fields(entry)[1]) == pid:
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return found


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read().replace("\0", " ")
    except OSError:
        return ""


class Session:
    """One psql connection kept open, so sampling every 100 ms costs a query,
    not a new process and a login."""

    def __init__(self, port, db="postgres", sslmode=None):
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        if sslmode:
            env["PGSSLMODE"] = sslmode
        self.proc = subprocess.Popen(
            [f"{PG_BIN}/psql", "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-d", db, "-XAtq"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=env, bufsize=1)

    def query(self, sql):
        """The rows of sql's answer, as psql's unaligned lines (fields split by |)."""
        self.proc.stdin.write(sql + ";\n\\echo __end__\n")
        self.proc.stdin.flush()
        rows = []
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line == "__end__":
                return rows
            rows.append(line)
        raise RuntimeError("psql session ended")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class Usage:
    """pgkeeper's own CPU (% of one core) and peak RSS over a span, for some PIDs."""

    def __init__(self, pids):
        self.pids = pids
        self.start = {p: cpu_seconds(p) for p in pids}
        self.t0 = time.monotonic()
        self.peak_rss_kb = {p: rss_kb(p) for p in pids}

    def sample(self):
        for p in self.pids:
            self.peak_rss_kb[p] = max(self.peak_rss_kb[p], rss_kb(p))

    def result(self):
        span = time.monotonic() - self.t0
        return [{"rss_mb": rss_kb(p) / 1024, "peak_rss_mb": self.peak_rss_kb[p] / 1024,
                 "pss_mb": pss_kb(p) / 1024,
                 "cpu_percent": (cpu_seconds(p) - self.start[p]) / span * 100} for p in self.pids]


# ---- sessions kept open, through libpq ----------------------------------------------

class Libpq:
    """libpq itself, through ctypes, for sessions kept open: figure 5 writes on
    one opened before the promotion, figure 13's writer inserts a row every
    5 ms on one. A psql process per statement cannot do that, and no Python
    driver is installed (the benchmark brings in no package of its own).
    Only what the figures need: connect, run one statement, close."""

    _lib = None
    CONNECTION_OK = 0
    PGRES_COMMAND_OK, PGRES_TUPLES_OK = 1, 2

    @classmethod
    def lib(cls):
        if cls._lib is None:
            import ctypes
            import ctypes.util
            lib = ctypes.CDLL(ctypes.util.find_library("pq") or "libpq.so.5")
            for name, restype, argtypes in (
                    ("PQconnectdb", ctypes.c_void_p, [ctypes.c_char_p]),
                    ("PQstatus", ctypes.c_int, [ctypes.c_void_p]),
                    ("PQexec", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]),
                    ("PQresultStatus", ctypes.c_int, [ctypes.c_void_p]),
                    ("PQntuples", ctypes.c_int, [ctypes.c_void_p]),
                    ("PQclear", None, [ctypes.c_void_p]),
                    ("PQfinish", None, [ctypes.c_void_p])):
                fn = getattr(lib, name)
                fn.restype, fn.argtypes = restype, argtypes
            cls._lib = lib
        return cls._lib

    def __init__(self, conninfo):
        """Connects (libpq blocks until it is connected or has given up)."""
        self.pq = self.lib()
        self.conn = self.pq.PQconnectdb(conninfo.encode())
        self.ok = self.pq.PQstatus(self.conn) == self.CONNECTION_OK

    def command(self, sql):
        """Whether sql succeeded."""
        return self.rows(sql) is not None

    def rows(self, sql):
        """How many rows sql returned (0 for a command), None when it failed."""
        res = self.pq.PQexec(self.conn, sql.encode())
        status = self.pq.PQresultStatus(res)
        n = self.pq.PQntuples(res) if status in (self.PGRES_COMMAND_OK, self.PGRES_TUPLES_OK) else None
        self.pq.PQclear(res)
        return n

    def close(self):
        if self.conn:
            self.pq.PQfinish(self.conn)
            self.conn = None


def conninfo(ports, **extra):
    """A libpq connection string to gis on 127.0.0.1 at ports, more than one
    making it a multi-host string. connect_timeout 2 s is libpq's shortest."""
    params = {"host": ",".join("127.0.0.1" for _ in ports), "port": ",".join(map(str, ports)),
              "user": USER, "password": PASSWORD, "dbname": "gis", "connect_timeout": "2"}
    params.update(extra)
    return " ".join(f"{k}={v}" for k, v in params.items())


# ---- set-ups shared by the figures -------------------------------------------------

def writable(port, db="gis"):
    return psql(port, "CREATE TABLE IF NOT EXISTS bench_probe(x int); INSERT INTO bench_probe VALUES (1)",
                db=db) is not None


def keeper_master(scratch, binary, name="k-master", extra=None):
    k = Keeper(scratch, binary, name, extra)
    k.start()
    wait_until(lambda: writable(k.port), 120, "pgkeeper master to take a write")
    return k


def raw_master(scratch, name="r-master", tls=True, extensions=EXTENSIONS, steps=None, cls=Raw):
    """A raw master (of class cls) with the sample's database and extensions.
    steps, a dict: gets the seconds of "initdb" and of "objects" (the
    database and its extensions)."""
    r = cls(scratch, name, tls=tls)
    took, _ = timed(r.initdb)
    r.start()
    wait_until(lambda: psql(r.port, "SELECT 1") == "1", 60, "raw master")
    start = time.monotonic()
    psql(r.port, "CREATE DATABASE gis", check=True)
    for ext in extensions:
        psql(r.port, f"CREATE EXTENSION IF NOT EXISTS {ext} CASCADE", db="gis", check=True)
    if steps is not None:
        steps.update(initdb=took, objects=time.monotonic() - start)
    wait_until(lambda: writable(r.port), 30, "raw master to take a write")
    return r


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC")


def keeper_init_steps(log):
    """From a new pgkeeper master's log (pgkeeper's and postgres' lines carry
    times to the millisecond): "initdb", from the decision to initialise to
    the start of the private server on the new files (initdb and writing the
    configuration), and "objects", from that server accepting connections
    to the last database having its extensions (roles, databases,
    extensions), in seconds."""
    marks = {}
    with open(log, errors="replace") as f:
        for line in f:
            m = LOG_TIME.match(line)
            if not m:
                continue
            at = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%d %H:%M:%S")) + \
                int(m.group(1)[20:]) / 1000
            for key, text in (("decided", "decision: initialise a new master"),
                              ("started", "started postgres"),
                              ("ready", "database system is ready to accept connections"),
                              ("objects", " has extensions: ")):
                if text in line and (key == "objects" or key not in marks):
                    marks[key] = at
    if len(marks) < 4:
        raise RuntimeError(f"{log} does not show a master's initialisation step by step")
    return {"initdb": marks["started"] - marks["decided"], "objects": marks["objects"] - marks["ready"]}


def keeper_replicant(scratch, binary, master, extra=None, name="k-replicant"):
    """A pgkeeper replicant of master, started; returns once it streams."""
    env = {"REPLICATE_FROM": "127.0.0.1", "REPLICATE_PORT": str(master.port)}
    env.update(extra or {})
    k = Keeper(scratch, binary, name, env)
    k.start()
    wait_until(lambda: streaming(k.port), 600, "pgkeeper replicant to stream")
    return k


def raw_replicant(scratch, master, name="r-replicant", sslmode=None):
    """pg_basebackup of master (and of its class), started as a standby;
    returns once it streams."""
    r = type(master)(scratch, name, tls=master.tls, sslmode=sslmode)
    r.basebackup_from(master)
    r.start()
    wait_until(lambda: streaming(r.port), 600, "raw replicant to stream")
    return r


def pgbench(port, *args, sslmode=None):
    env = dict(os.environ, PGPASSWORD=PASSWORD)
    if sslmode:
        env["PGSSLMODE"] = sslmode
    out = subprocess.run([f"{PG_BIN}/pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", USER,
                          *args, "gis"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench {' '.join(args)}: {out.stderr.strip()[-500:]}")
    return out.stdout


def caught_up(master):
    """The master's only replicant has replayed everything the master wrote."""
    return psql(master.port, "SELECT count(*) FROM pg_stat_replication "
                "WHERE replay_lsn = pg_current_wal_lsn()") == "1"


# ---- figures ---------------------------------------------------------------------
# Each figure takes the run settings and returns a list of result rows; a row
# has a name, pgkeeper's runs, the raw side's runs (or None), a unit and a target.

class Settings:
    def __init__(self, args):
        self.binary = os.path.abspath(args.pgkeeper)
        self.quick = args.quick
        self.runs = 1 if args.quick else args.runs
        # Figures 2 and 4 take seconds per run but vary by more than the
        # difference they measure, so they get three times the runs.
        self.cheap_runs = 1 if args.quick else args.runs * 3
        self.idle_seconds = 5 if args.quick else 60
        self.scale = 2 if args.quick else 50          # figure 3: pgbench -i -s
        self.load_scale = 1 if args.quick else 10     # figure 6: pgbench -i -s
        self.load_seconds = 5 if args.quick else 30   # figure 6: pgbench -T
        self.wrk_seconds = 3 if args.quick else 20    # figure 8: wrk -d
        # figure 10: pgbench -i -s of the master, and runs per size (each run
        # builds three diverged pairs; five runs, since one run varies by 0.2 s)
        self.rejoin_scales = [1] if args.quick else [1, 10, 50]
        self.rejoin_runs = 1 if args.quick else args.runs
        # figure 12: pgbench -i -s and -T of each of the four TLS set-ups
        self.tls_scale = 1 if args.quick else 10
        self.tls_seconds = 4 if args.quick else 20
        # figure 14: samples per side and poll interval
        self.propagation_samples = 30 if args.quick else 300
        # figure 13: acknowledged writes (5 ms apart) before and after a switchover
        self.writes_around = 20 if args.quick else 100
        self.out = args.out


def row(name, keeper, raw, unit, target, better="lower", **extra):
    r = {"name": name, "unit": unit, "target": target, "better": better,
         "pgkeeper": summary(keeper), "raw": summary(raw) if raw else None}
    # A raw median of 0 (no lag at all in a short quick run) has no ratio.
    if raw and r["raw"]["median"] != 0:
        r["ratio"] = r["pgkeeper"]["median"] / r["raw"]["median"]
    r.update(extra)
    return r


def repeat(cfg, one_run, runs=None):
    """Runs one_run(raw_first) cfg.runs times (or runs), alternating the order of the sides."""
    keeper, raw = [], []
    for i in range(runs or cfg.runs):
        k, r = one_run(raw_first=i % 2 == 1)
        keeper.append(k)
        raw.append(r)
    return keeper, raw


def fig_master_cold_start(cfg):
    def one(raw_first):
        s = Scratch()
        try:
            def keeper():
                took, node = timed(lambda: keeper_master(s, cfg.binary))
                return dict(keeper_init_steps(node.log), total=took)

            def raw():
                steps = {}
                took, _ = timed(lambda: raw_master(s, steps=steps))
                return dict(steps, total=took)
            return side_by_side(keeper, raw, raw_first)
        finally:
            s.close()
    k, r = repeat(cfg, one)

    def split(runs, step):
        if step != "rest":
            return [run[step] for run in runs]
        return [run["total"] - run["initdb"] - run["objects"] for run in runs]
    return [row("1 master cold start", split(k, "total"), split(r, "total"), "s", "ratio <= 1.2"),
            row("1 of which initdb", split(k, "initdb"), split(r, "initdb"), "s", ""),
            row("1 of which database and extensions", split(k, "objects"), split(r, "objects"),
                "s", ""),
            row("1 of which the rest (starts, roles)", split(k, "rest"), split(r, "rest"), "s",
                "")]


def fig_replicant_bootstrap(cfg):
    s = Scratch()
    try:
        km, rm = keeper_master(s, cfg.binary), raw_master(s)

        def one(raw_first):
            def keeper():
                t, node = timed(lambda: keeper_replicant(s, cfg.binary, km))
                node.discard()
                return t

            def raw():
                t, node = timed(lambda: raw_replicant(s, rm))
                node.discard()
                return t
            return side_by_side(keeper, raw, raw_first)
        k, r = repeat(cfg, one, cfg.cheap_runs)
    finally:
        s.close()
    return [row("2 replicant bootstrap, empty master", k, r, "s", "ratio <= 1.2")]


def fig_loaded_bootstrap(cfg):
    s = Scratch()
    try:
        km, rm = keeper_master(s, cfg.binary), raw_master(s)
        for m in (km, rm):
            pgbench(m.port, "-i", "-q", "-s", str(cfg.scale))
            psql(m.port, "CHECKPOINT", check=True)
        disk = []

        def copy_rate():
            dest = os.path.join(s.path, "copy")
            start = time.monotonic()
            subprocess.run(["cp", "-a", rm.pgdata, dest], check=True)
            subprocess.run(["sync"], check=True)
            rate = du_bytes(dest) / (time.monotonic() - start) / 2**20
            shutil.rmtree(dest)
            return rate

        sizes = []

        def one(raw_first):
            def measure(make):
                t, node = timed(make)
                sizes.append(du_bytes(node.pgdata) / 2**20)
                node.discard()
                return sizes[-1] / t
            disk.append(copy_rate())
            return side_by_side(lambda: measure(lambda: keeper_replicant(s, cfg.binary, km)),
                                lambda: measure(lambda: raw_replicant(s, rm)), raw_first)
        k, r = repeat(cfg, one)
    finally:
        s.close()
    size_mb = statistics.median(sizes)
    return [row(f"3 replicant bootstrap, loaded master ({size_mb:.0f} MB copy)", k, r, "MB/s",
                "ratio >= 0.9", better="higher"),
            row("3 disk copy rate, cp -a + sync (the limit)", disk, None, "MB/s", "", better="higher")]


def fig_restart_keep(cfg):
    s = Scratch()
    try:
        k = keeper_replicant(s, cfg.binary, keeper_master(s, cfg.binary),
                             {"DESTROY_DATABASE_ON_RESTART": "False"})
        r = raw_replicant(s, raw_master(s))

        def restart(node, what):
            node.stop()
            start = time.monotonic()
            node.start()
            wait_until(lambda: streaming(node.port), 120, what)
            return time.monotonic() - start

        def one(raw_first):
            return side_by_side(lambda: restart(k, "pgkeeper replicant to resume"),
                                lambda: restart(r, "raw replicant to resume"), raw_first)
        keeper, raw = repeat(cfg, one, cfg.cheap_runs)
    finally:
        s.close()
    return [row("4 replicant restart, destroy False", keeper, raw, "s", "ratio <= 1.2")]


def first_write_after(port, command, what):
    """Seconds from running command (a promotion of the node at port) to the
    first INSERT acknowledged on a session to it that was open before, as an
    application reading from the replicant keeps one; retried every 1 ms
    once the command returned. A new psql per try would add its own start-up
    and login (about 45 ms here) to both sides alike and hide what differs."""
    session = Libpq(conninfo([port]))
    if not session.ok:
        raise RuntimeError(f"cannot open a session to {what} before promoting it")
    try:
        start = time.monotonic()
        command()
        while not session.command("INSERT INTO bench_probe VALUES (1)"):
            if time.monotonic() - start > 30:
                raise RuntimeError(f"{what} took no write within 30 s of the promotion")
            time.sleep(0.001)
        return time.monotonic() - start
    finally:
        session.close()


def fig_promotion(cfg):
    def one(raw_first):
        s = Scratch()
        try:
            km, rm = keeper_master(s, cfg.binary), raw_master(s)
            k = keeper_replicant(s, cfg.binary, km)
            r = raw_replicant(s, rm)
            # The master is lost: pgkeeper refuses to promote next to a
            # writable one, and its checks are part of what is timed.
            km.stop()
            rm.stop()

            def keeper():
                out = k.run("promote")
                if out.returncode != 0:
                    raise RuntimeError("pgkeeper promote: " + out.stdout + out.stderr)

            def raw():
                psql(r.port, "SELECT pg_promote(true, 60)", check=True)
            return side_by_side(lambda: first_write_after(k.port, keeper, "the pgkeeper node"),
                                lambda: first_write_after(r.port, raw, "the raw node"), raw_first)
        finally:
            s.close()
    k, r = repeat(cfg, one)
    return [row("5 promotion to first write", k, r, "s", "ratio < 0.7, < 0.1 s")]


def diverge(master, replicant, promote):
    """Loads nothing more; waits until replicant has all of master's WAL,
    promotes it, writes on both (the old master's write exists nowhere
    else) and stops the old master cleanly."""
    wait_until(lambda: caught_up(master), 600, "replicant to catch up")
    promote()
    wait_until(lambda: writable(replicant.port), 60, "promoted node to take a write")
    psql(master.port, "CREATE TABLE only_old AS SELECT g FROM generate_series(1, 1000) g",
         db="gis", check=True)
    psql(replicant.port, "CREATE TABLE only_new AS SELECT g FROM generate_series(1, 1000) g",
         db="gis", check=True)
    master.stop()


def keeper_rejoin(cfg, scale):
    """pgkeeper: the old master restarted with ALLOW_REJOIN=True until it
    streams from the promoted node; (seconds, path pgkeeper chose)."""
    s = Scratch()
    try:
        m = keeper_master(s, cfg.binary)
        pgbench(m.port, "-i", "-q", "-s", str(scale))
        r = keeper_replicant(s, cfg.binary, m, {"DESTROY_DATABASE_ON_RESTART": "False"})

        # The old master keeps running to take a write of its own (that is
        # the divergence), so the promotion has to be forced.
        def promote():
            out = r.run("promote", "--force")
            if out.returncode != 0:
                raise RuntimeError("pgkeeper promote: " + out.stdout + out.stderr)
        diverge(m, r, promote)
        m.env.update({"REPLICATE_FROM": "127.0.0.1", "REPLICATE_PORT": str(r.port),
                      "ALLOW_REJOIN": "True"})
        start = time.monotonic()
        m.start()
        wait_until(lambda: streaming(m.port), 600, "rejoined pgkeeper node to stream")
        seconds = time.monotonic() - start
        with open(m.log) as f:
            found = re.search(r"rejoined \S+ by (\w+)", f.read())
        return seconds, found.group(1) if found else "?"
    finally:
        s.close()


def raw_rejoin(cfg, scale, how):
    """The same by hand: pg_rewind (after a CHECKPOINT on the promoted node,
    as pg_rewind's documentation asks) or a new pg_basebackup, then start as
    a standby of the promoted node until it streams."""
    s = Scratch()
    try:
        m = raw_master(s)
        pgbench(m.port, "-i", "-q", "-s", str(scale))
        r = raw_replicant(s, m)
        diverge(m, r, lambda: psql(r.port, "SELECT pg_promote(true, 60)", check=True))
        start = time.monotonic()
        if how == "rewind":
            psql(r.port, "CHECKPOINT", check=True)
            subprocess.run([f"{PG_BIN}/pg_rewind", f"--target-pgdata={m.pgdata}",
                            f"--source-server=host=127.0.0.1 port={r.port} user={USER} dbname=postgres"],
                           check=True, capture_output=True, env=postgres_env(PGPASSWORD=PASSWORD),
                           preexec_fn=as_postgres())
            open(os.path.join(m.pgdata, "standby.signal"), "w").close()
            chown_postgres(os.path.join(m.pgdata, "standby.signal"))
            m.conf(standby_of=r)
        else:
            shutil.rmtree(m.pgdata)
            m.basebackup_from(r)
        m.start()
        wait_until(lambda: streaming(m.port), 600, f"raw node to stream after {how}")
        return time.monotonic() - start
    finally:
        s.close()


def fig_rejoin(cfg):
    rows = []
    for scale in cfg.rejoin_scales:
        keeper, paths, rewind, copy = [], [], [], []
        for i in range(cfg.rejoin_runs):
            sides = [lambda: keeper_rejoin(cfg, scale), lambda: raw_rejoin(cfg, scale, "rewind"),
                     lambda: raw_rejoin(cfg, scale, "basebackup")]
            order = [0, 1, 2] if i % 2 == 0 else [2, 1, 0]
            got = {j: sides[j]() for j in order}
            keeper.append(got[0][0])
            paths.append(got[0][1])
            rewind.append(got[1])
            copy.append(got[2])
        cheaper, name = (rewind, "pg_rewind") if statistics.median(rewind) <= statistics.median(copy) \
            else (copy, "pg_basebackup")
        rows.append(row(f"10 rejoin old master, pgbench -s {scale}", keeper, cheaper, "s",
                        "ratio <= 1.1", raw_side=name, path=",".join(sorted(set(paths))),
                        raw_rewind=statistics.median(rewind), raw_basebackup=statistics.median(copy)))
    return rows


LAG_SQL = ("SELECT COALESCE(EXTRACT(epoch FROM replay_lag) * 1000, 0), "
           "COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0) "
           "FROM pg_stat_replication LIMIT 1")


def load_run(cfg, master, usage_pids=(), wrk_url=None):
    """pgbench -c 8 against master for cfg.load_seconds while replay lag is
    sampled on the master every 100 ms. Returns TPS, the (t, lag ms, lag bytes)
    samples, pgkeeper's usage over the run and wrk's output, if asked for."""
    session = Session(master.port)
    samples, done = [], threading.Event()
    usage = Usage(list(usage_pids)) if usage_pids else None

    def sample():
        t0 = time.monotonic()
        tick = t0
        while not done.is_set():
            rows = session.query(LAG_SQL)
            if rows:
                ms, nbytes = rows[0].split("|")
                samples.append((time.monotonic() - t0, float(ms), float(nbytes)))
            if usage:
                usage.sample()
            tick += 0.1
            done.wait(max(0.0, tick - time.monotonic()))
    sampler = threading.Thread(target=sample)
    sampler.start()
    wrk = start_wrk(cfg, wrk_url) if wrk_url else None
    try:
        out = pgbench(master.port, "-n", "-c", "8", "-j", "2", "-T", str(cfg.load_seconds))
    finally:
        done.set()
        sampler.join()
        session.close()
    wrk_out = wrk.communicate(timeout=60)[0] if wrk else None
    tps = float(next(line for line in out.splitlines() if line.startswith("tps =")).split()[2])
    return {"tps": tps, "samples": samples, "usage": usage.result() if usage else None,
            "wrk": wrk_out}


def start_wrk(cfg, url):
    return subprocess.Popen(["wrk", "-t", "2", "-c", "16", "-d", f"{cfg.wrk_seconds}s", "--latency",
                             url], stdout=subprocess.PIPE, text=True)


class StaticHttp:
    """HAProxy answering every request itself with a fixed 200: the cheapest
    HTTP server at hand, as the reference for the API's latency. One thread,
    like pgkeeper's API."""

    def __init__(self, scratch):
        self.port = free_port()
        conf = os.path.join(scratch.path, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write("global\n  nbthread 1\n  maxconn 256\n"
                    "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n"
                    "  timeout server 5s\n"
                    f"frontend reference\n  bind 127.0.0.1:{self.port}\n"
                    "  http-request return status 200 content-type application/json "
                    "string \"{}\"\n")
        self.proc = scratch.spawn(["haproxy", "-db", "-f", conf], log=conf + ".log")
        wait_until(self.answers, 10, "the reference HTTP server")

    def answers(self):
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0


def parse_wrk(text):
    """Requests/s, p99 latency (ms) and non-2xx answers from `wrk --latency` output."""
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    rps, p99, bad = None, None, 0
    for line in text.splitlines():
        f = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(f[1])
        elif len(f) == 2 and f[0] == "99%":
            num = f[1].rstrip("usm")
            p99 = float(num) * units[f[1][len(num):]]
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            bad = int(f[-1])
    return rps, p99, bad


def write_series(path, samples):
    with open(path, "w") as f:
        f.write("# seconds\treplay_lag_ms\tlag_bytes\n")
        for t, ms, nbytes in samples:
            f.write(f"{t:.3f}\t{ms:.3f}\t{nbytes:.0f}\n")


def measure_load(cfg):
    """Loads a pgkeeper pair and a raw pair in turn (figures 6 and 7), then hits
    the pgkeeper replicant's API with wrk, idle and under the same load, and
    a fixed-reply HAProxy the same way for reference (figure 8)."""
    s = Scratch()
    try:
        km = keeper_master(s, cfg.binary)
        kr = keeper_replicant(s, cfg.binary, km)
        rm = raw_master(s)
        raw_replicant(s, rm)
        for master in (km, rm):
            pgbench(master.port, "-i", "-q", "-s", str(cfg.load_scale))
            psql(master.port, "CHECKPOINT", check=True)
            wait_until(lambda: caught_up(master), 120, "the replicant to catch up before the load")
        m = {"pgkeeper": [], "raw": [], "usage": [], "wrk": {}}
        for i in range(cfg.runs):
            k, r = side_by_side(lambda: load_run(cfg, km, usage_pids=(km.proc.pid, kr.proc.pid)),
                                lambda: load_run(cfg, rm), raw_first=i % 2 == 1)
            m["pgkeeper"].append(k)
            m["raw"].append(r)
            m["usage"].append(k["usage"])
            for master in (km, rm):
                wait_until(lambda: caught_up(master), 120, "the replicant to catch up between runs")
        urls = {"API /replica": f"http://127.0.0.1:{kr.api_port}/replica"}
        if shutil.which("haproxy"):
            urls["HAProxy fixed reply"] = f"http://127.0.0.1:{StaticHttp(s).port}/"
        for label, url in urls.items():
            m["wrk"][label + " idle"] = {"wrk": start_wrk(cfg, url).communicate(timeout=60)[0]}
            m["wrk"][label + " under load"] = load_run(cfg, km, wrk_url=url)
        return m
    finally:
        s.close()


def wrk_rows(label, run, target):
    rps, p99, bad = parse_wrk(run["wrk"] or "")
    if rps is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's output for {label}:\n" + (run["wrk"] or ""))
    if bad:
        raise RuntimeError(f"{label}: {bad} requests got an error status")
    extra = {"tps_during": run["tps"]} if "tps" in run else {}
    return [row(f"8 {label}, wrk -c 16", [rps], None, "req/s", "", better="higher", **extra),
            row(f"8 {label}, p99 latency", [p99], None, "ms", target)]


def footprint_rows(span, usages, rss_key, cpu_target):
    """Figure 7's rows from Usage.result() lists, one per run, of [master, replicant]."""
    rows = []
    for idx, node in ((0, "master"), (1, "replicant")):
        runs = [u[idx] for u in usages]
        rows.append(row(f"7 pgkeeper {node} {span}, RSS", [u[rss_key] for u in runs], None, "MB",
                        "< 10 MB", pss_mb=runs[-1]["pss_mb"]))
        rows.append(row(f"7 pgkeeper {node} {span}, CPU", [u["cpu_percent"] for u in runs], None,
                        "% core", cpu_target))
    return rows


def fig_lag_under_load(cfg):
    """Figures 6, 7 (under load) and 8."""
    m = measure_load(cfg)
    for side in ("pgkeeper", "raw"):
        write_series(os.path.join(cfg.out, f"lag-{side}.tsv"), m[side][-1]["samples"])

    def each(fn, scale=1.0):
        return ([fn(r) / scale for r in m["pgkeeper"]], [fn(r) / scale for r in m["raw"]])

    def lag(q, column):
        return lambda r: percentile([x[column] for x in r["samples"]] or [0], q)
    rows = [row("6 master TPS under pgbench -c 8", *each(lambda r: r["tps"]), "tps", "ratio >= 0.9",
                better="higher")]
    for q, label in ((50, "p50"), (99, "p99"), (100, "max")):
        rows.append(row(f"6 replay lag {label}", *each(lag(q, 1)), "ms", "ratio <= 1.1"))
    for q, label in ((50, "p50"), (99, "p99")):
        rows.append(row(f"6 byte lag {label}", *each(lag(q, 2), 1024), "kB", "ratio <= 1.1"))
    rows += footprint_rows("under load", m["usage"], "peak_rss_mb", "")
    for label, run in m["wrk"].items():
        rows += wrk_rows(label, run, "< 5 ms" if label.startswith("API") else "")
    return rows


def fig_footprint_idle(cfg):
    s = Scratch()
    try:
        km = keeper_master(s, cfg.binary)
        kr = keeper_replicant(s, cfg.binary, km)
        usage = Usage([km.proc.pid, kr.proc.pid])
        time.sleep(cfg.idle_seconds)  # the figure is idle behaviour over this span
        result = usage.result()
        # The replicant's promote-facts child, started ahead for a promotion.
        ready = [pid for pid in child_pids(kr.proc.pid) if "--when-asked" in cmdline(pid)]
        child = Usage(ready).result()
    finally:
        s.close()
    rows = footprint_rows(f"idle {cfg.idle_seconds} s", [result], "rss_mb", "< 1 %")
    if child:
        rows.append(row("7 replicant's promote-facts child kept ready, RSS", [child[0]["rss_mb"]],
                        None, "MB", "", pss_mb=child[0]["pss_mb"]))
    return rows


SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sample", "replication")
IMAGE = "pgkeeper/postgis:latest"


def container_skip_reason():
    if not shutil.which("docker"):
        return "no docker command"
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        return f"no image {IMAGE} (build it with ./build.sh)"
    for port in (7777, 7776):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return f"port {port} is in use (is the sample running?)"
    return None


def fig_containers(cfg):
    """The replication sample: `make up` until the replicant streams."""
    env = dict(os.environ, COMPOSE_PROJECT_NAME="pgkeeper-bench", POSTGRES_USER=USER,
               POSTGRES_PASS=PASSWORD, POSTGRES_DBNAME="gis", DESTROY_DATABASE_ON_RESTART="True")
    env.pop("PROMOTE_MASTER", None)
    env.pop("ALLOW_IP_RANGE", None)

    def make(target):
        out = subprocess.run(["make", "-s", "-C", SAMPLE, target], env=env, capture_output=True,
                             text=True)
        if out.returncode != 0:
            raise RuntimeError(f"make {target} in the sample: {out.stdout[-800:]}{out.stderr[-800:]}")

    times = []
    for _ in range(min(cfg.runs, 3)):
        make("clean")
        try:
            start = time.monotonic()
            make("up")
            wait_until(lambda: streaming(7776), 600, "the sample's replicant to stream")
            times.append(time.monotonic() - start)
        finally:
            make("clean")
    size = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", IMAGE],
                          capture_output=True, text=True, check=True).stdout.strip()
    return [row("9 sample make up to a streaming replicant", times, None, "s", ""),
            row("9 image size", [int(size) / 1e6], None, "MB", "")]


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": len(values), "values": list(values)}


def chart(out_dir):
    """Draws figure 6's lag over time with gnuplot, when it is installed."""
    png = os.path.join(out_dir, "lag.png")
    if not shutil.which("gnuplot"):
        print("gnuplot is not installed; no chart")
        return
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lag.gp")
    subprocess.run(["gnuplot", "-e", f"dir='{out_dir}'; out='{png}'", script], check=True)
    print(f"chart of figure 6 written to {png}")


def print_row(r):
    k = r["pgkeeper"]
    line = f"{r['name']:52} {k['median']:10.2f}"
    ratio = f"{r['ratio']:6.2f}" if "ratio" in r else f"{'-':>6}"
    line += f" {r['raw']['median']:10.2f} {ratio}" if r.get("raw") else f" {'':10} {'':6}"
    line += f"  {r['unit']:6} {r['target']:22} {k['min']:.2f}..{k['max']:.2f}"
    if "pss_mb" in r:
        line += f"  (PSS {r['pss_mb']:.1f} MB)"
    if "columns" in r:
        line += f"  (columns: {r['columns'][0]}, {r['columns'][1]})"
    if "stream_pgkeeper_on" in r:
        line += "  (replication streams: " + ", ".join(
            f"{k[7:].replace('_', ' TLS ')} {v}" for k, v in r.items() if k.startswith("stream_")) + ")"
    if "lost" in r:
        line += f"  (acknowledged writes lost: pgkeeper {r['lost']}, raw {r['lost_raw']})"
    if "path" in r:
        line += (f"  (pgkeeper chose {r['path']}; raw pg_rewind {r['raw_rewind']:.2f} s, "
                 f"pg_basebackup {r['raw_basebackup']:.2f} s)")
    print(line, flush=True)


def markdown(results):
    """results.json as the Markdown table docs/benchmarks.md carries."""
    def num(v):
        return "" if v is None else f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    lines = ["| figure | pgkeeper | raw | ratio | unit | target | pgkeeper min..max |",
             "|---|---:|---:|---:|---|---|---|"]
    for r in results["figures"]:
        if "skipped" in r:
            lines.append(f"| {r['name']} | skipped: {r['skipped']} | | | | | |")
            continue
        k, raw = r["pgkeeper"], r.get("raw")
        extra = f" (PSS {r['pss_mb']:.1f} MB)" if "pss_mb" in r else ""
        if "path" in r:
            extra = f" ({r['path']}; raw rewind {num(r['raw_rewind'])}, basebackup {num(r['raw_basebackup'])})"
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ""
        # Rows that compare something else than pgkeeper and raw (figure 12's
        # TLS on / off) say what each column holds.
        first, second = (f" ({c})" for c in r["columns"]) if "columns" in r else ("", "")
        if "lost" in r:  # figure 13's switchover: acknowledged writes missing afterwards
            first, second = f" ({r['lost']} lost)", f" ({r['lost_raw']} lost)"
        lines.append(f"| {r['name']} | {num(k['median'])}{extra}{first} "
                     f"| {num(raw['median']) + second if raw else ''} "
                     f"| {ratio} | {r['unit']} | {r['target']} | {num(k['min'])}..{num(k['max'])} |")
    return "\n".join(lines) + "\n"


def sync_replicants(port):
    return psql(port, "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')")


def fig_sync_tps(cfg):
    """Figure 11: master TPS under pgbench -c 8 with one synchronous replicant
    (SYNCHRONOUS_REPLICANTS=1, strict, synchronous_commit on), against a raw
    pair with synchronous_standby_names = 'ANY 1 (*)'."""
    s = Scratch()
    try:
        km = Keeper(s, cfg.binary, "k-master", {"SYNCHRONOUS_REPLICANTS": "1"})
        km.start()
        # Not `writable`: in strict mode a write waits until the replicant is there.
        wait_until(lambda: psql(km.port, "SELECT 1") == "1", 120, "pgkeeper master to answer")
        keeper_replicant(s, cfg.binary, km)
        rm = raw_master(s)
        raw_replicant(s, rm)
        rm.add_conf(["synchronous_standby_names = 'ANY 1 (*)'", "synchronous_commit = on"])
        psql(rm.port, "SELECT pg_reload_conf()", check=True)
        for master in (km, rm):
            wait_until(lambda: sync_replicants(master.port) == "1", 60, "a synchronous replicant")
            pgbench(master.port, "-i", "-q", "-s", str(cfg.load_scale))
            psql(master.port, "CHECKPOINT", check=True)
            wait_until(lambda: caught_up(master), 120, "the replicant to catch up before the load")

        def one(raw_first):
            return side_by_side(lambda: load_run(cfg, km)["tps"], lambda: load_run(cfg, rm)["tps"],
                                raw_first)
        k, r = repeat(cfg, one)
    finally:
        s.close()
    return [row("11 master TPS, one synchronous replicant, pgbench -c 8", k, r, "tps",
                "ratio >= 0.9", better="higher")]


# ---- figure 12: the cost of TLS -------------------------------------------------

class TlsPair:
    """A master and its streaming replicant, pgkeeper's or raw, with TLS on or
    off; sslmode is what the load's clients and the samplers ask for."""

    def __init__(self, side, tls, master, replicant):
        self.side, self.tls, self.master, self.replicant = side, tls, master, replicant
        self.sslmode = "require" if tls else "disable"
        self.label = f"{side}, TLS {'on' if tls else 'off'}"


def tls_pair(cfg, s, side, tls):
    """One of the four set-ups, streaming, loaded with pgbench -i and caught up.
    pgkeeper: TLS on (its default) or PGKEEPER_TLS=False on both nodes. Raw:
    ssl = on with a self-signed EC pair and the replicant's primary_conninfo
    with sslmode=require, or ssl = off and sslmode=disable. No extensions on
    either side: pgbench uses none, and they cost seconds of start-up."""
    tag = "on" if tls else "off"
    sslmode = "require" if tls else "disable"
    if side == "pgkeeper":
        extra = {"POSTGRES_MULTIPLE_EXTENSIONS": ""}
        if not tls:
            extra["PGKEEPER_TLS"] = "False"
        master = keeper_master(s, cfg.binary, f"k-tls-{tag}-master", extra)
        replicant = keeper_replicant(s, cfg.binary, master, extra, name=f"k-tls-{tag}-replicant")
    else:
        master = raw_master(s, f"r-tls-{tag}-master", tls=tls, extensions=[])
        replicant = raw_replicant(s, master, f"r-tls-{tag}-replicant", sslmode=sslmode)
    p = TlsPair(side, tls, master, replicant)
    # The replicant's stream must be what the set-up says it is, on both sides.
    p.stream_tls = psql(master.port, "SELECT CASE WHEN s.ssl THEN s.version || ' ' || s.cipher "
                        "ELSE 'none' END FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)",
                        check=True)
    if (p.stream_tls != "none") != tls:
        raise RuntimeError(f"{p.label}: the replicant streams with TLS {p.stream_tls!r}")
    pgbench(master.port, "-i", "-q", "-s", str(cfg.tls_scale), sslmode=sslmode)
    psql(master.port, "CHECKPOINT", check=True)
    wait_until(lambda: caught_up(master), 120, "the replicant to catch up before the load")
    return p


def tls_pairs(cfg, s):
    """The four set-ups, made side by side in four threads: making them is not
    what the figure measures, and one after another it took most of a quick
    run."""
    keys = [(side, tls) for tls in (True, False) for side in ("pgkeeper", "raw")]
    made = {}

    def make(key):
        try:
            made[key] = tls_pair(cfg, s, *key)
        except Exception as e:  # raised in the main thread below
            made[key] = e
    threads = [threading.Thread(target=make, args=(key,)) for key in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in keys:
        if isinstance(made[key], Exception):
            raise made[key]
    return made


# Replay lag as seen on the replicant: its last replayed commit's timestamp
# (the master's clock, the same machine) and its replay position; then the
# master's current position, for the bytes not yet replayed.
TLS_REPLICANT_SQL = ("SELECT EXTRACT(epoch FROM clock_timestamp()), "
                     "COALESCE(EXTRACT(epoch FROM pg_last_xact_replay_timestamp()), 0), "
                     "pg_last_wal_replay_lsn()")
TLS_MASTER_SQL = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{}')"
TLS_CLIENTS_SQL = ("SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a "
                   "JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'pgbench'")


def tls_load_run(cfg, pair):
    """pgbench -c 4 -j 2 -T cfg.tls_seconds over TCP against pair's master,
    its clients asking for pair.sslmode, while every 100 ms the replicant
    gives its replay lag (now minus its last replayed commit's timestamp) and
    position, and the master its position. Returns TPS and the (lag ms,
    lag bytes) samples."""
    msess = Session(pair.master.port, sslmode=pair.sslmode)
    rsess = Session(pair.replicant.port, sslmode=pair.sslmode)
    samples, clients, done = [], [], threading.Event()
    start_epoch = time.time()

    def sample():
        t0 = tick = time.monotonic()
        # Sampling stops with the load: a sample after the last commit would
        # count the idle time after it as lag.
        while not done.is_set() and time.monotonic() - t0 < cfg.tls_seconds - 0.1:
            now, replayed, lsn = rsess.query(TLS_REPLICANT_SQL)[0].split("|")
            nbytes = float(msess.query(TLS_MASTER_SQL.format(lsn))[0])
            # Until this run's first commit is replayed, the last one is from
            # before the run and its age is not lag.
            if float(replayed) >= start_epoch:
                samples.append(((float(now) - float(replayed)) * 1000, max(0.0, nbytes)))
            if not clients and time.monotonic() - t0 >= 1.0:
                clients.append(msess.query(TLS_CLIENTS_SQL)[0])
            tick += 0.1
            done.wait(max(0.0, tick - time.monotonic()))
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        out = pgbench(pair.master.port, "-n", "-c", "4", "-j", "2", "-T", str(cfg.tls_seconds),
                      sslmode=pair.sslmode)
    finally:
        done.set()
        sampler.join()
        msess.close()
        rsess.close()
    # Every pgbench connection must be what the set-up says, or the figure
    # compares something else.
    want = "4|4" if pair.tls else "0|4"
    if clients != [want]:
        raise RuntimeError(f"{pair.label}: pgbench connections with TLS|all: {clients}, expected {want}")
    if not samples:
        raise RuntimeError(f"{pair.label}: no replay lag sample during the load")
    tps = float(next(line for line in out.splitlines() if line.startswith("tps =")).split()[2])
    return {"tps": tps, "samples": samples}


def fig_tls_cost(cfg):
    """Figure 12: master TPS and replay lag under pgbench -c 4 with TLS on
    against off, pgkeeper and raw, the four set-ups in the same run. Each run
    loads all four in turn: the TLS-on pairs or the TLS-off pairs first every
    other two runs, and within them pgkeeper or raw first every other run."""
    s = Scratch()
    try:
        pairs = tls_pairs(cfg, s)
        runs = {key: [] for key in pairs}
        for i in range(cfg.runs):
            modes = (True, False) if (i // 2) % 2 == 0 else (False, True)
            for tls in modes:
                k, r = side_by_side(lambda: tls_load_run(cfg, pairs["pgkeeper", tls]),
                                    lambda: tls_load_run(cfg, pairs["raw", tls]), raw_first=i % 2 == 1)
                runs["pgkeeper", tls].append(k)
                runs["raw", tls].append(r)
                for side in ("pgkeeper", "raw"):
                    wait_until(lambda: caught_up(pairs[side, tls].master), 120,
                               "the replicant to catch up between runs")
        stream = {f"stream_{side}_{'on' if tls else 'off'}": pairs[side, tls].stream_tls
                  for tls in (True, False) for side in ("pgkeeper", "raw")}
    finally:
        s.close()

    def measures(key):
        """TPS, replay lag p50 and p95 (ms), byte lag p95 (kB): one list each, a value per run."""
        rs = runs[key]
        return [[r["tps"] for r in rs],
                [percentile([x[0] for x in r["samples"]], 50) for r in rs],
                [percentile([x[0] for x in r["samples"]], 95) for r in rs],
                [percentile([x[1] for x in r["samples"]], 95) / 1024 for r in rs]]

    names = [("master TPS, pgbench -c 4", "tps", "higher"), ("replay lag p50", "ms", "lower"),
             ("replay lag p95", "ms", "lower"), ("byte lag p95", "kB", "lower")]
    targets = ["ratio >= 0.9", "ratio <= 1.1", "ratio <= 1.1", "ratio <= 1.1"]
    rows = []
    # The headline: pgkeeper against raw with the same TLS; then the same with
    # TLS off, the control; then what TLS itself costs each side (on / off).
    for tls, tag in ((True, "TLS on"), (False, "TLS off")):
        for (name, unit, better), target, k, r in zip(names, targets, measures(("pgkeeper", tls)),
                                                      measures(("raw", tls))):
            rows.append(row(f"12 {tag}, {name}", k, r, unit, target, better=better,
                            **(stream if not rows else {})))
    for side in ("pgkeeper", "raw"):
        for (name, unit, better), on, off in zip(names, measures((side, True)),
                                                 measures((side, False))):
            rows.append(row(f"12 {side} TLS on/off, {name}", on, off, unit, "", better=better,
                            columns=("TLS on", "TLS off")))
    return rows


# ---- figure 13: cluster failover and switchover ----------------------------------

def try_write(port):
    """One new connection to port and one INSERT into bench_probe (which
    writable() made): whether it was acknowledged."""
    c = Libpq(conninfo([port]))
    try:
        return c.ok and c.command("INSERT INTO bench_probe VALUES (1)")
    finally:
        c.close()


class Writer:
    """A client that inserts one row every 5 ms (ids 1, 2, ...) into w through
    one multi-host connection string with target_session_attrs=read-write, so
    libpq goes to whichever listed server takes writes; after any error it
    drops the connection and connects again. Notes the time of every
    acknowledged insert."""

    PERIOD = 0.005

    def __init__(self, ports):
        self.conninfo = conninfo(ports, target_session_attrs="read-write")
        self.acked = []  # (monotonic seconds, id), in order
        self.done = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        conn, next_id, tick = None, 1, time.monotonic()
        try:
            while not self.done.is_set():
                failed = False
                if conn is None:
                    conn = Libpq(self.conninfo)
                    if not conn.ok:
                        conn.close()
                        conn, failed = None, True
                if conn is not None:
                    row_id, next_id = next_id, next_id + 1
                    if conn.command(f"INSERT INTO w VALUES ({row_id})"):
                        self.acked.append((time.monotonic(), row_id))
                    else:
                        conn.close()
                        conn, failed = None, True
                # Every 5 ms; never faster after falling behind, and after an
                # error 5 ms from now, so no server is hammered with logins.
                now = time.monotonic()
                tick = max(tick + self.PERIOD, now + (self.PERIOD if failed else 0))
                self.done.wait(tick - now)
        except Exception as e:  # raised by stop()
            self.error = e
        finally:
            if conn is not None:
                conn.close()

    def count(self):
        return len(self.acked)

    def stop(self):
        self.done.set()
        self.thread.join(timeout=30)
        if self.error:
            raise self.error

    def longest_gap(self):
        times = [t for t, _ in self.acked]
        return max(b - a for a, b in zip(times, times[1:]))

    def lost_on(self, port):
        """The acknowledged ids that port's w lacks."""
        present = psql(port, "SELECT id FROM w", db="gis", check=True).split()
        return sorted({i for _, i in self.acked} - {int(x) for x in present})


def write_around(cfg, writer, act):
    """cfg.writes_around acknowledged writes, act(), then as many again after
    it; returns what act returned."""
    wait_until(lambda: writer.count() >= cfg.writes_around, 30, "writes before the switchover")
    value = act()
    after = writer.count() + cfg.writes_around
    wait_until(lambda: writer.count() >= after, 60, "writes after the switchover")
    writer.stop()
    return value


class Etcd:
    """A one-member etcd on loopback with its data under the scratch dir, as
    the integration tests run it, with a 100 ms heartbeat and a 500 ms
    election timeout; read through its JSON gateway."""

    def __init__(self, scratch, name="etcd"):
        import urllib.request
        self.urllib = urllib.request
        self.port, peer_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        peer = f"http://127.0.0.1:{peer_port}"
        data = os.path.join(scratch.path, name)
        self.proc = scratch.spawn(["etcd", f"--name={name}", f"--data-dir={data}",
                                   f"--listen-client-urls={self.url}", f"--advertise-client-urls={self.url}",
                                   f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                                   f"--initial-cluster={name}={peer}", "--heartbeat-interval=100",
                                   "--election-timeout=500"], log=data + ".log")
        wait_until(lambda: self.values("/") is not None, 30, f"etcd to answer (log: {data}.log)")

    def values(self, key, prefix=False):
        """{key: value} of key, or of every key under it when prefix; None
        while etcd does not answer."""
        import base64
        if self.proc.poll() is not None:
            raise RuntimeError(f"etcd exited with code {self.proc.returncode}")
        b64 = lambda b: base64.b64encode(b).decode()
        body = {"key": b64(key.encode())}
        if prefix:  # the range [key, key with its last byte plus one)
            body["range_end"] = b64(key[:-1].encode() + bytes([ord(key[-1]) + 1]))
        req = self.urllib.Request(self.url + "/v3/kv/range", json.dumps(body).encode(),
                                  {"Content-Type": "application/json"})
        try:
            with self.urllib.urlopen(req, timeout=2) as answer:
                kvs = json.load(answer).get("kvs", [])
        except OSError:
            return None
        return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode()
                for kv in kvs}


CLUSTER = "bench"


def cluster_nodes(cfg, s, tag):
    """etcd and three pgkeeper nodes of one cluster on loopback, each with its
    own data dir, port and API port, no extensions, the default lease TTL
    (3 s). n1 starts first and takes the key; n2 and n3 are started together
    once it takes writes. Returns (etcd, [n1, n2, n3]) once n1 leads, all
    three are members, n2 and n3 stream from n1 and have replayed table w."""
    etcd = Etcd(s, f"etcd-{tag}")
    nodes = []
    for i in (1, 2, 3):
        k = Keeper(s, cfg.binary, f"k-{tag}-n{i}",
                   {"ETCD_ENDPOINTS": etcd.url, "PGKEEPER_CLUSTER": CLUSTER,
                    "PGKEEPER_NODE_NAME": f"n{i}", "POSTGRES_MULTIPLE_EXTENSIONS": ""})
        k.env["PGKEEPER_ADVERTISE_ADDRESS"] = f"127.0.0.1:{k.port}"
        k.name = f"n{i}"
        nodes.append(k)
    master = nodes[0]
    master.start()
    wait_until(lambda: writable(master.port), 120, "the first cluster node to take a write")
    for n in nodes[1:]:
        n.start()
    for n in nodes[1:]:
        wait_until(lambda: streaming(n.port), 600, f"cluster node {n.name} to stream")
    prefix = f"/pgkeeper/{CLUSTER}/"

    def up():
        leader = etcd.values(prefix + "leader") or {}
        members = etcd.values(prefix + "members/", prefix=True) or {}
        return leader.get(prefix + "leader") == "n1" and len(members) == 3
    wait_until(up, 60, "n1 to lead a cluster of three members")
    psql(master.port, "CREATE TABLE w (id int PRIMARY KEY)", db="gis", check=True)
    wait_until(lambda: psql(master.port, "SELECT count(*) FROM pg_stat_replication WHERE state = "
                            "'streaming' AND replay_lsn = pg_current_wal_lsn()") == "2", 60,
               "n2 and n3 to stream and replay everything n1 wrote")
    return etcd, nodes


def stop_nodes(nodes):
    """Stops every pgkeeper node still running, all at once (SIGTERM), and waits."""
    for n in nodes:
        if n.proc and n.proc.poll() is None:
            n.proc.send_signal(signal.SIGTERM)
    for n in nodes:
        if n.proc:
            try:
                n.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait()


def raw_pair(s, tag):
    """A raw primary (no extensions) and its streaming standby, table w
    replayed on both."""
    rm = raw_master(s, f"r-{tag}-primary", extensions=[])
    rr = raw_replicant(s, rm, f"r-{tag}-standby")
    psql(rm.port, "CREATE TABLE w (id int PRIMARY KEY)", db="gis", check=True)
    wait_until(lambda: caught_up(rm), 60, "the raw standby to replay table w")
    return rm, rr


def postmaster_pid(pgdata, parent):
    """The PID in pgdata's postmaster.pid, checked to be parent's child: only
    processes this benchmark started are ever signalled."""
    with open(os.path.join(pgdata, "postmaster.pid")) as f:
        pid = int(f.readline())
    ppid = int(stat_fields(pid)[1])
    if ppid != parent:
        raise RuntimeError(f"postmaster {pid} of {pgdata} is not a child of {parent}")
    return pid


def keeper_failover(cfg):
    """pgkeeper: the master's pgkeeper and its postmaster SIGKILLed together,
    as a machine or container dies; seconds until n2 or n3 takes a write."""
    s = Scratch()
    nodes = []
    try:
        _, nodes = cluster_nodes(cfg, s, "failover")
        master, others = nodes[0], nodes[1:]
        postmaster = postmaster_pid(master.pgdata, master.proc.pid)
        start = time.monotonic()
        os.kill(postmaster, signal.SIGKILL)
        os.kill(master.proc.pid, signal.SIGKILL)
        wait_until(lambda: any(try_write(n.port) for n in others), 60,
                   "n2 or n3 to take a write after the master was killed")
        seconds = time.monotonic() - start
        master.proc.wait(timeout=10)
        return seconds
    finally:
        stop_nodes(nodes)
        s.close()


def promote_raw(conn):
    """Promotes the raw standby conn is connected to the way pgkeeper promotes
    its own nodes: pg_promote without waiting inside it, then a look every
    POLL seconds whether it left recovery, and a pg_reload_conf() every
    100 ms meanwhile. PostgreSQL 15 takes a promote request that arrives just
    after the walreceiver lost its primary (both figure 13 cases) and then
    sleeps out wal_retrieve_retry_interval (5 s) before acting on it; a
    reload wakes that sleep and changes nothing else. A plain
    `SELECT pg_promote()` would add those 5 s in some runs and not in others."""
    if conn.rows("SELECT 1 WHERE pg_promote(wait => false)") != 1:
        raise RuntimeError("pg_promote on the raw standby failed")
    start = nudged = time.monotonic()
    while conn.rows("SELECT 1 WHERE pg_is_in_recovery()") != 0:
        now = time.monotonic()
        if now - start > 60:
            raise RuntimeError("the raw standby was still in recovery 60 s after pg_promote")
        if now - nudged >= 0.1:
            nudged = now
            conn.command("SELECT pg_reload_conf()")
        time.sleep(POLL)


def raw_failover(cfg):
    """Raw: the primary's postmaster SIGKILLed, then at once the promotion a
    person who already knows would run (promote_raw); seconds until the
    standby takes a write."""
    s = Scratch()
    try:
        rm, rr = raw_pair(s, "failover")
        conn = Libpq(conninfo([rr.port]))
        if not conn.ok:
            raise RuntimeError("cannot connect to the raw standby")
        try:
            start = time.monotonic()
            os.kill(rm.proc.pid, signal.SIGKILL)
            promote_raw(conn)
        finally:
            conn.close()
        wait_until(lambda: try_write(rr.port), 60, "the raw standby to take a write once promoted")
        seconds = time.monotonic() - start
        rm.proc.wait(timeout=10)
        return seconds
    finally:
        s.close()


SWITCHED = re.compile(r"switched over from (\S+) to (\S+) in")


def keeper_switchover(cfg):
    """pgkeeper: `pgkeeper switchover` (no --to: the best other node), run
    with n1's environment, while the writer inserts through all three
    nodes. Returns (longest pause between acknowledged writes, acknowledged
    writes missing on the new master)."""
    s = Scratch()
    nodes, writer = [], None
    try:
        _, nodes = cluster_nodes(cfg, s, "switchover")
        writer = Writer([n.port for n in nodes])

        def switchover():
            out = nodes[0].run("switchover")
            if out.returncode != 0 or not SWITCHED.search(out.stdout):
                raise RuntimeError(f"pgkeeper switchover (exit {out.returncode}): "
                                   f"{out.stdout}{out.stderr}")
            return SWITCHED.search(out.stdout).group(2)
        leader = write_around(cfg, writer, switchover)
        new_master = next(n for n in nodes if n.name == leader)
        # The old master's pgkeeper exits after handing over (code 4).
        code = nodes[0].proc.wait(timeout=30)
        if code != 4:
            raise RuntimeError(f"the old master's pgkeeper exited with {code}, expected 4")
        return writer.longest_gap(), len(writer.lost_on(new_master.port))
    finally:
        if writer:
            writer.done.set()
            writer.thread.join(timeout=30)
        stop_nodes(nodes)
        s.close()


def checkpoint_location(pgdata):
    """(cluster state, latest checkpoint location) as pg_controldata says."""
    out = subprocess.run([f"{PG_BIN}/pg_controldata", "-D", pgdata], capture_output=True, text=True,
                         check=True, env=postgres_env(LC_ALL="C"), preexec_fn=as_postgres()).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return fields["Database cluster state"].strip(), fields["Latest checkpoint location"].strip()


def raw_switchover(cfg):
    """Raw, by hand, with the same writer listing both servers: pg_ctl stop
    -m fast on the primary (not waiting in pg_ctl's 100 ms steps: the
    postmaster's exit is waited for), the standby waited for until it has
    replayed the primary's shutdown checkpoint (pg_controldata's latest
    checkpoint location), then promoted (promote_raw). The standby is
    watched and promoted on one connection opened beforehand."""
    s = Scratch()
    writer, conn = None, None
    try:
        rm, rr = raw_pair(s, "switchover")
        conn = Libpq(conninfo([rr.port]))
        if not conn.ok:
            raise RuntimeError("cannot connect to the raw standby")
        writer = Writer([rm.port, rr.port])

        def switchover():
            subprocess.run([f"{PG_BIN}/pg_ctl", "stop", "-D", rm.pgdata, "-m", "fast", "-W"],
                           check=True, capture_output=True, env=postgres_env(), preexec_fn=as_postgres())
            rm.proc.wait(timeout=60)
            state, final = checkpoint_location(rm.pgdata)
            if state != "shut down":
                raise RuntimeError(f"the raw primary's state after pg_ctl stop: {state}")
            # Replayed past the checkpoint record's start: the record itself.
            wait_until(lambda: conn.rows("SELECT 1 WHERE pg_wal_lsn_diff(pg_last_wal_replay_lsn(), "
                                         f"'{final}') > 0") == 1, 30,
                       f"the raw standby to replay the primary's shutdown checkpoint at {final}")
            promote_raw(conn)
        write_around(cfg, writer, switchover)
        return writer.longest_gap(), len(writer.lost_on(rr.port))
    finally:
        if writer:
            writer.done.set()
            writer.thread.join(timeout=30)
        if conn:
            conn.close()
        s.close()


def fig_cluster_failover(cfg):
    """Figure 13: a three-node pgkeeper cluster on one etcd against a raw
    primary and standby run by hand: the master killed until another node
    takes a write (pgkeeper detects the loss by its lease; raw is promoted
    at once, as by a person who already knows), and a planned switchover's
    longest pause between a client's acknowledged writes."""
    def one_failover(raw_first):
        return side_by_side(lambda: keeper_failover(cfg), lambda: raw_failover(cfg), raw_first)
    k, r = repeat(cfg, one_failover)
    rows = [row("13 master killed -> writable again", k, r, "s", "< 5 s")]

    def one_switchover(raw_first):
        return side_by_side(lambda: keeper_switchover(cfg), lambda: raw_switchover(cfg), raw_first)
    k, r = repeat(cfg, one_switchover)
    rows.append(row("13 switchover write pause", [gap for gap, _ in k], [gap for gap, _ in r], "s",
                    "< 1 s", lost=sum(lost for _, lost in k), lost_raw=sum(lost for _, lost in r)))
    return rows


# ---- figure 14: row propagation ------------------------------------------------


class Propagation:
    """Commit on a master to visible on its replicant, on sessions kept open
    to both: a row is INSERTed on the master and, from the moment its commit
    returns, the replicant is asked for it at once and then every poll ms."""

    def __init__(self, master, replicant, what):
        self.what = what
        psql(master.port, "CREATE TABLE propagation (id int PRIMARY KEY)", db="gis", check=True)
        wait_until(lambda: psql(replicant.port, "SELECT count(*) FROM propagation",
                                db="gis") == "0", 60, f"the table to reach {what}'s replicant")
        self.master = Libpq(conninfo([master.port]))
        self.replicant = Libpq(conninfo([replicant.port]))
        if not (self.master.ok and self.replicant.ok):
            raise RuntimeError(f"cannot open sessions to {what}'s pair")
        self.n = 0
        self.delays = {}

    def sample(self, poll_ms, keep=True):
        self.n += 1
        if not self.master.command(f"INSERT INTO propagation VALUES ({self.n})"):
            raise RuntimeError(f"{self.what}: the INSERT failed")
        committed = time.perf_counter()
        while self.replicant.rows(f"SELECT 1 FROM propagation WHERE id = {self.n}") != 1:
            if time.perf_counter() - committed > 30:
                raise RuntimeError(f"{self.what}: row {self.n} not on the replicant within 30 s")
            time.sleep(poll_ms / 1000)
        if keep:
            self.delays.setdefault(poll_ms, []).append((time.perf_counter() - committed) * 1000)

    def close(self):
        self.master.close()
        self.replicant.close()


def fig_propagation(cfg):
    """A pgkeeper pair against a raw pair set up as kartoza/postgis sets its
    own, both with the default extensions, sampled in turns (shuffled, a
    random 20-60 ms apart) so that the machine's other load falls on both."""
    s = Scratch()
    sides = []
    try:
        km = keeper_master(s, cfg.binary)
        sides.append(Propagation(km, keeper_replicant(s, cfg.binary, km), "pgkeeper"))
        rm = raw_master(s, cls=KartozaRaw)
        sides.append(Propagation(rm, raw_replicant(s, rm), "the raw kartoza-style"))
        for side in sides:  # warm both sessions and caches
            for _ in range(10):
                side.sample(1, keep=False)
        rng = random.Random(14)
        for _ in range(cfg.propagation_samples):
            turns = [(side, poll) for side in sides for poll in (1, 10)]
            rng.shuffle(turns)
            for side, poll in turns:
                time.sleep(rng.uniform(0.02, 0.06))
                side.sample(poll)
        k, r = sides
        return [row(f"14 row propagation, polled every {poll} ms", k.delays[poll], r.delays[poll],
                    "ms", "ratio <= 1 (kartoza's settings)", p90=percentile(k.delays[poll], 90),
                    p90_raw=percentile(r.delays[poll], 90))
                for poll in (1, 10)]
    finally:
        for side in sides:
            side.close()
        s.close()


FIGURES = {"1": fig_master_cold_start, "2": fig_replicant_bootstrap, "3": fig_loaded_bootstrap,
           "4": fig_restart_keep, "5": fig_promotion, "6": fig_lag_under_load,
           "7": fig_footprint_idle, "9": fig_containers, "10": fig_rejoin, "11": fig_sync_tps,
           "12": fig_tls_cost, "13": fig_cluster_failover, "14": fig_propagation}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="small data, one run of each, short load and idle spans")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default="bench/out", help="results.json, lag series and chart")
    ap.add_argument("--pgkeeper", default="build/pgkeeper")
    ap.add_argument("--only", default="", help="comma-separated figure numbers (6 includes 8)")
    ap.add_argument("--markdown", metavar="RESULTS_JSON",
                    help="print an earlier run's results as a Markdown table, and run nothing")
    args = ap.parse_args()
    if args.markdown:
        with open(args.markdown) as f:
            print(markdown(json.load(f)), end="")
        return 0
    cfg = Settings(args)
    os.makedirs(cfg.out, exist_ok=True)
    chosen = [f for f in args.only.split(",") if f] or list(FIGURES)
    results = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(),
               "runs": cfg.runs, "quick": cfg.quick, "figures": []}
    print(f"{'figure':52} {'pgkeeper':>10} {'raw':>10} {'ratio':>6}  {'unit':6} {'target':22} range")
    for key in chosen:
        if key == "9" and (reason := container_skip_reason()):
            print(f"9 containers: skipped, {reason}")
            results["figures"].append({"name": "9 containers", "skipped": reason})
            continue
        for r in FIGURES[key](cfg):
            print_row(r)
            results["figures"].append(r)
    path = os.path.join(cfg.out, "results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(cfg.out, "results.md"), "w") as f:
        f.write(markdown(results))
    print(f"results written to {path} and results.md")
    if "6" in chosen:
        chart(cfg.out)


if __name__ == "__main__":
    sys.exit(main())
