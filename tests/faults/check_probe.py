#!/usr/bin/env python3
"""Reads a split-brain probe history (pgkeeper-probe) and says whether two
nodes ever took writes at once.

usage: check_probe.py HISTORY [--names a,b,c]

Prints one JSON object: rounds probed, the rounds in which two or more nodes
accepted a write (each is two writable masters at the same instant; there
must be none), and each hand-over of writes from one node to another: the
old one's last accepted write, the new one's first, and the time between
(during which no node took writes).
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("history")
    ap.add_argument("--names", default="")
    args = ap.parse_args()
    names = args.names.split(",") if args.names else []

    def name(i):
        return names[i] if i < len(names) else str(i)

    rounds = {}
    with open(args.history) as f:
        for line in f:
            parts = line.split(" ", 5)
            if len(parts) < 5:
                continue
            r, start, end, node, kind = int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), parts[4].strip()
            rounds.setdefault(r, []).append((node, kind == "ok", start, end))

    double = []
    handovers = []
    writer, last_ok_end = None, None
    for r in sorted(rounds):
        oks = [(node, start, end) for node, ok, start, end in rounds[r] if ok]
        if len(oks) > 1:
            double.append({"round": r, "nodes": [name(n) for n, _, _ in oks], "at_ms": oks[0][1]})
        for node, start, end in oks:
            if writer is not None and node != writer:
                handovers.append({"from": name(writer), "to": name(node), "last_ok_ms": last_ok_end,
                                  "first_ok_ms": start, "gap_ms": start - last_ok_end})
            writer, last_ok_end = node, end
    result = {"rounds": len(rounds), "double_writable_rounds": len(double), "double": double[:10],
              "handovers": handovers}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
