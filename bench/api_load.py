#!/usr/bin/env python3
"""bench/api_load.py - latency of JSON API requests, sequential and concurrent.

    api_load.py --base URL --token TOKEN --spec FILE [--requests N]
                [--clients C ...] [--json OUT]

FILE holds one endpoint a line: "LABEL<TAB>PATH[<TAB>PATH...]"; each
request takes the next path of its line in turn (so a label can spread
over shots or job ids).  For each number of clients (default 1 and 8),
each endpoint is asked N times in all (spread over the clients, each on
its own keep-alive connection), and its latency is the time from sending
the request to having read the whole answer.  Every answer must be 200
with a JSON body (checked by its first byte); anything else is counted as
an error and printed once.  Prints a table: endpoint, clients, requests,
p50, p99, max (ms) and requests per second; with --json also writes the
figures.  Standard library only.
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    # nearest-rank: the smallest value with at least q of the values at or below it
    k = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 1)) - 1))
    return sorted_values[k]


def run_endpoint(base, token, paths, total, clients):
    u = urllib.parse.urlsplit(base)
    lat = []
    errors = []
    lock = threading.Lock()
    counter = [0]

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)
        mine = []
        while True:
            with lock:
                i = counter[0]
                if i >= total:
                    break
                counter[0] += 1
            path = paths[i % len(paths)]
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Authorization": "Bearer " + token})
                r = conn.getresponse()
                body = r.read()
                dt = time.perf_counter() - t0
                if r.status != 200 or not body[:1] in (b"{", b"["):
                    with lock:
                        errors.append("%s: %d %s" % (path, r.status, body[:200]))
                    continue
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append("%s: %s" % (path, e))
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)
                continue
            mine.append(dt)
        conn.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    return lat, errors, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--warmup", type=int, default=5, help="requests per endpoint not counted")
    ap.add_argument("--json")
    a = ap.parse_args()
    endpoints = []
    with open(a.spec) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            label, *paths = line.split("\t")
            endpoints.append((label, paths))
    rows = []
    bad = 0
    print("%-34s %7s %8s %9s %9s %9s %8s" % ("endpoint", "clients", "requests", "p50 ms",
                                             "p99 ms", "max ms", "req/s"))
    for clients in a.clients:
        for label, paths in endpoints:
            run_endpoint(a.base, a.token, paths, a.warmup, 1)
            lat, errors, wall = run_endpoint(a.base, a.token, paths, a.requests, clients)
            if errors:
                bad += len(errors)
                print("  %s: %d errors, first: %s" % (label, len(errors), errors[0]),
                      file=sys.stderr)
            row = {"endpoint": label, "clients": clients, "requests": len(lat),
                   "errors": len(errors),
                   "p50_ms": percentile(lat, 0.50) * 1e3, "p99_ms": percentile(lat, 0.99) * 1e3,
                   "max_ms": (lat[-1] if lat else float("nan")) * 1e3,
                   "rps": len(lat) / wall if wall > 0 else 0.0}
            rows.append(row)
            print("%-34s %7d %8d %9.1f %9.1f %9.1f %8.0f" % (
                label, clients, row["requests"], row["p50_ms"], row["p99_ms"], row["max_ms"],
                row["rps"]), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
