#!/usr/bin/env python3
"""The fault suite's checker: reads a workload history and compares it with
what the surviving nodes hold.

usage: check.py HISTORY --master NODE [--node NODE ...] [--report TEXT_FILE]
  NODE: a port on 127.0.0.1, or container:ID (psql inside that container)

Prints one JSON object: acknowledged writes, how many of them the master
lost (and their ids), how many writes of unknown outcome survived, whether
every node holds the same rows, and, given a promotion report, whether the
report's "may be lost" covered every lost write: a lost write must lie past
the WAL position the report says the old master was last heard at, or have
been acknowledged after that last message, else the report under-reported.
Rows are read with psql over 127.0.0.1 or inside a container (PGPASSWORD,
PGUSER and PGDATABASE in the environment).
"""
import argparse
import json
import os
import re
import subprocess
import sys


def lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def psql(port, sql):
    """psql on 127.0.0.1:port, or, for "container:ID", inside that container
    (the password passes through docker exec's environment, never argv)."""
    args = ["psql", "-h", "127.0.0.1", "-d", os.environ.get("PGDATABASE", "gis"), "-XAtq",
            "-v", "ON_ERROR_STOP=1", "-c", sql]
    if str(port).startswith("container:"):
        args = ["docker", "exec", "-i", "-e", "PGPASSWORD", "-e", "PGUSER", str(port)[len("container:"):]] + args
    else:
        args[3:3] = ["-p", str(port)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"psql on port {port}: {out.stderr.strip()}")
    return out.stdout


def read_history(path):
    ops = []
    with open(path) as f:
        for line in f:
            parts = line.split(" ", 3)
            if len(parts) < 3:
                continue
            ops.append({"at": int(parts[0]), "kind": parts[1], "id": int(parts[2]),
                        "rest": parts[3].strip() if len(parts) > 3 else ""})
    return ops


def parse_report(text):
    """The last-heard position and time a promotion report gives, if any."""
    m = re.search(r"last heard at (\d\d):(\d\d):(\d\d)\.(\d{3}) UTC .*?then at WAL ([0-9A-F]+/[0-9A-F]+)",
                  text)
    promoted = re.search(r"promoted at ([0-9A-F]+/[0-9A-F]+)", text)
    return {"promoted_at": lsn(promoted.group(1)) if promoted else None,
            "heard_lsn": lsn(m.group(5)) if m else None,
            "heard_hms_ms": (int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))) * 1000
            + int(m.group(4)) if m else None,
            "no_loss_claimed": "no acknowledged commit is lost" in text}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("history")
    ap.add_argument("--master", required=True)
    ap.add_argument("--node", action="append", default=[])
    ap.add_argument("--report")
    args = ap.parse_args()

    ops = read_history(args.history)
    acked = {o["id"]: o for o in ops if o["kind"] == "ok"}
    unknown = {o["id"] for o in ops if o["kind"] == "info"}
    present = {int(x) for x in psql(args.master, "SELECT id FROM ledger").split()}
    lost = sorted(i for i in acked if i not in present)
    result = {"acknowledged": len(acked), "refused": sum(o["kind"] == "fail" for o in ops),
              "unknown": len(unknown), "unknown_survived": len(unknown & present),
              "lost": len(lost), "lost_ids": lost[:20]}

    sums = {}
    for port in [args.master] + args.node:
        sums[port] = psql(port, "SELECT count(*) || ' ' || COALESCE(sum(id), 0) FROM ledger").strip()
    result["nodes_agree"] = len(set(sums.values())) == 1
    result["node_rows"] = sums

    if args.report:
        with open(args.report) as f:
            report = parse_report(f.read())
        # A lost write is within what the report names when its WAL lies
        # in the bytes it counts (from promoted_at up to the last-heard
        # position) or it was acknowledged after that last message. A write
        # acknowledged before the message yet past its position would mean
        # the report's record is wrong. A report that claims no loss covers
        # nothing.
        under = []
        for i in lost:
            op = acked[i]
            write_lsn = lsn(op["rest"].split()[0])
            if report["no_loss_claimed"]:
                under.append(i)
            elif report["heard_lsn"] is not None and write_lsn >= report["heard_lsn"] \
                    and op["at"] % 86_400_000 < report["heard_hms_ms"]:
                under.append(i)
        result["report_under_reported"] = len(under)
        result["report_claimed_no_loss"] = report["no_loss_claimed"]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
