#!/usr/bin/env python3
"""pgkeeper against raw PostgreSQL doing the same work, in the same run.

Each figure runs pgkeeper and the raw PostgreSQL 15 tools (initdb, pg_ctl,
pg_basebackup, pg_promote, psql) with the same settings, on loopback, side
by side, several times, and prints the medians and their ratio. Absolute
times on a shared machine mean little; the ratio is the figure that holds.

usage: bench.py [--quick] [--runs N] [--json FILE] [--pgkeeper PATH]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
PASSWORD = "bench-password"
USER = "docker"
EXTENSIONS = ["postgis", "hstore", "postgis_topology", "postgis_raster", "pgrouting"]
POLL = 0.01  # seconds between condition checks, the same for both sides


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    return drop


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
        base = scratch.dir(name)
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

    def run(self, *args):
        env = {k: self.env[k] for k in ("PATH", "PGDATA", "PGPORT", "PGKEEPER_RUN_DIR", "POSTGRES_USER")}
        return subprocess.run([self.binary, *args], env=env, capture_output=True, text=True)


# ---- raw side ------------------------------------------------------------------

class Raw:
    """A PostgreSQL server run by hand with the settings pgkeeper writes."""

    def __init__(self, scratch, name):
        self.scratch = scratch
        self.port = free_port()
        base = scratch.dir(name)
        self.pgdata = os.path.join(base, "data")
        self.sock = scratch.dir(name + "-run")
        self.log = base + ".log"
        self.proc = None

    def conf(self, standby_of=None):
        lines = [f"listen_addresses = '127.0.0.1'", f"port = {self.port}",
                 f"unix_socket_directories = '{self.sock}'", "wal_level = replica",
                 "max_wal_senders = 10", "hot_standby = on", "wal_keep_size = '512MB'",
                 "password_encryption = 'scram-sha-256'"]
        if standby_of:
            passfile = os.path.join(self.sock, "pgpass")
            with open(passfile, "w") as f:
                f.write(f"*:{standby_of.port}:*:{USER}:{PASSWORD}\n")
            os.chmod(passfile, 0o600)
            chown_postgres(passfile)
            lines.append(f"primary_conninfo = 'host=127.0.0.1 port={standby_of.port} user={USER} "
                         f"passfile={passfile}'")
        with open(os.path.join(self.pgdata, "postgresql.auto.conf"), "a") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.pgdata, "pg_hba.conf"), "w") as f:
            f.write("local all all peer map=m\nhost all all 127.0.0.1/32 scram-sha-256\n"
                    "host replication all 127.0.0.1/32 scram-sha-256\n")
        with open(os.path.join(self.pgdata, "pg_ident.conf"), "w") as f:
            f.write(f"m postgres {USER}\nm root {USER}\n")

    def initdb(self):
        pwfile = os.path.join(self.sock, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD)
        chown_postgres(pwfile)
        subprocess.run([f"{PG_BIN}/initdb", "-D", self.pgdata, "-U", USER, "--encoding=UTF8",
                        "--locale=C.UTF-8", "--data-checksums", "--auth-local=peer",
                        "--auth-host=scram-sha-256", f"--pwfile={pwfile}"],
                       check=True, capture_output=True, preexec_fn=as_postgres())
        os.unlink(pwfile)
        self.conf()

    def start(self):
        self.proc = self.scratch.spawn([f"{PG_BIN}/postgres", "-D", self.pgdata], log=self.log,
                                       preexec=as_postgres())

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)

    def basebackup_from(self, master):
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        subprocess.run([f"{PG_BIN}/pg_basebackup", "-D", self.pgdata, "-h", "127.0.0.1",
                        "-p", str(master.port), "-U", USER, "-X", "stream", "-c", "fast", "-w"],
                       check=True, capture_output=True, env=env, preexec_fn=as_postgres())
        open(os.path.join(self.pgdata, "standby.signal"), "w").close()
        chown_postgres(os.path.join(self.pgdata, "standby.signal"))
        self.conf(standby_of=master)


# ---- figures -----------------------------------------------------------------------

def timed(fn):
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def writable(port, db="gis"):
    return psql(port, "CREATE TABLE IF NOT EXISTS bench_probe(x int); INSERT INTO bench_probe VALUES (1)",
                db=db) is not None


def keeper_master(scratch, binary, name="k-master"):
    k = Keeper(scratch, binary, name)
    k.start()
    wait_until(lambda: writable(k.port), 120, "pgkeeper master to take a write")
    return k


def raw_master(scratch, name="r-master"):
    r = Raw(scratch, name)
    r.initdb()
    r.start()
    wait_until(lambda: psql(r.port, "SELECT 1") == "1", 60, "raw master")
    psql(r.port, "CREATE DATABASE gis", check=True)
    for ext in EXTENSIONS:
        psql(r.port, f"CREATE EXTENSION IF NOT EXISTS {ext} CASCADE", db="gis", check=True)
    wait_until(lambda: writable(r.port), 30, "raw master to take a write")
    return r


def keeper_replicant(scratch, binary, master, extra=None):
    """A pgkeeper replicant of master, started; returns once it streams."""
    env = {"REPLICATE_FROM": "127.0.0.1", "REPLICATE_PORT": str(master.port)}
    env.update(extra or {})
    k = Keeper(scratch, binary, "k-replicant", env)
    k.start()
    wait_until(lambda: streaming(k.port), 120, "pgkeeper replicant to stream")
    return k


def raw_replicant(scratch, master):
    """pg_basebackup of master, started as a standby; returns once it streams."""
    r = Raw(scratch, "r-replicant")
    r.basebackup_from(master)
    r.start()
    wait_until(lambda: streaming(r.port), 120, "raw replicant to stream")
    return r


def fig_master_cold_start(binary):
    s = Scratch()
    try:
        return timed(lambda: keeper_master(s, binary)), timed(lambda: raw_master(s))
    finally:
        s.close()


def fig_replicant_bootstrap(binary):
    s = Scratch()
    try:
        km = keeper_master(s, binary)
        rm = raw_master(s)

        return (timed(lambda: keeper_replicant(s, binary, km)),
                timed(lambda: raw_replicant(s, rm)))
    finally:
        s.close()


def fig_restart_keep(binary):
    s = Scratch()
    try:
        k = keeper_replicant(s, binary, keeper_master(s, binary),
                             {"DESTROY_DATABASE_ON_RESTART": "False"})
        k.stop()
        r = raw_replicant(s, raw_master(s))
        r.stop()

        def keeper():
            k.start()
            wait_until(lambda: streaming(k.port), 120, "pgkeeper replicant to resume")

        def raw():
            r.start()
            wait_until(lambda: streaming(r.port), 120, "raw replicant to resume")
        return timed(keeper), timed(raw)
    finally:
        s.close()


def fig_promotion(binary):
    s = Scratch()
    try:
        k = keeper_replicant(s, binary, keeper_master(s, binary))
        r = raw_replicant(s, raw_master(s))

        def keeper():
            out = k.run("promote")
            if out.returncode != 0:
                raise RuntimeError("pgkeeper promote: " + out.stdout + out.stderr)
            wait_until(lambda: writable(k.port), 30, "promoted pgkeeper node to take a write")

        def raw():
            psql(r.port, "SELECT pg_promote(true, 60)", check=True)
            wait_until(lambda: writable(r.port), 30, "promoted raw node to take a write")
        return timed(keeper), timed(raw)
    finally:
        s.close()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fig_footprint(binary, seconds):
    """pgkeeper's own RSS (MB) and CPU (% of a core) on an idle streaming pair."""
    s = Scratch()
    try:
        km = keeper_master(s, binary)
        k = keeper_replicant(s, binary, km)
        result = {}
        for name, node in (("master", km), ("replicant", k)):
            c0, t0 = cpu_seconds(node.proc.pid), time.monotonic()
            result[name] = (c0, t0)
        time.sleep(seconds)  # the figure is idle behaviour over this span
        out = {}
        for name, node in (("master", km), ("replicant", k)):
            c0, t0 = result[name]
            cpu = (cpu_seconds(node.proc.pid) - c0) / (time.monotonic() - t0) * 100
            out[name] = {"rss_mb": rss_kb(node.proc.pid) / 1024, "cpu_percent": cpu}
        return out
    finally:
        s.close()


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": len(values)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one run of each, short idle span")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", default="bench/results.json")
    ap.add_argument("--pgkeeper", default="build/pgkeeper")
    args = ap.parse_args()
    runs = 1 if args.quick else args.runs
    binary = os.path.abspath(args.pgkeeper)
    figures = [("1 master cold start (s)", fig_master_cold_start, 1.2),
               ("2 replicant bootstrap, empty master (s)", fig_replicant_bootstrap, 1.2),
               ("4 replicant restart, destroy False (s)", fig_restart_keep, 1.2),
               ("5 promotion to first write (s)", fig_promotion, 1.5)]
    results = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(),
               "runs": runs, "figures": []}
    print(f"{'figure':44} {'pgkeeper':>10} {'raw':>10} {'ratio':>7}  target  range (pgkeeper)")
    for name, fn, target in figures:
        keeper, raw = [], []
        for _ in range(runs):
            k, r = fn(binary)
            keeper.append(k)
            raw.append(r)
        ks, rs = summary(keeper), summary(raw)
        ratio = ks["median"] / rs["median"]
        print(f"{name:44} {ks['median']:10.3f} {rs['median']:10.3f} {ratio:7.2f}  <={target:<5} "
              f"{ks['min']:.3f}..{ks['max']:.3f}", flush=True)
        results["figures"].append({"name": name, "pgkeeper": ks, "raw": rs, "ratio": ratio,
                                   "target_ratio": target})
    idle = 5 if args.quick else 60
    fp = fig_footprint(binary, idle)
    for node, v in fp.items():
        print(f"{'7 footprint idle ' + str(idle) + ' s, ' + node:44} {v['rss_mb']:8.1f} MB "
              f"{v['cpu_percent']:8.2f} % CPU  (targets: <10 MB, <1 %)", flush=True)
    results["footprint_idle"] = fp
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"results written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
