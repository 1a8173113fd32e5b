#!/usr/bin/env python3
"""webhook_receiver.py - a local HTTP server for the notification tests.

It records every request it gets as one JSON line in --out:
  {"method", "path", "headers": {name: value}, "body": "<text>"}
and checks nothing itself (the test does).  Standard library only.

  --port N        listen on 127.0.0.1:N (0: any free port)
  --port-file F   write the port it listens on to F once listening
  --mode ok       answer 200 (default)
  --mode hang     accept, read the request, and never answer
  --status-seq L  answer the statuses of the comma list L first, in
                  order (e.g. 503,429), then as --mode says
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", choices=["ok", "hang"], default="ok")
    ap.add_argument("--status-seq", default="")
    args = ap.parse_args()
    seq = [int(s) for s in args.status_seq.split(",") if s.strip()]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            sys.stderr.write("receiver: " + (fmt % a) + "\n")

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n > 0 else b""
            rec = {"method": "POST", "path": self.path,
                   "headers": {k: v for k, v in self.headers.items()},
                   "body": body.decode("utf-8", "replace")}
            with lock:
                with open(args.out, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                status = seq.pop(0) if seq else 200
            if args.mode == "hang":
                time.sleep(3600)
                return
            reply = b"ok\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
