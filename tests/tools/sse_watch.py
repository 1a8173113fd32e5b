#!/usr/bin/env python3
"""sse_watch.py - a watcher of the coordinator's event stream, for the tests.

usage: sse_watch.py URL OUT [--header 'Name: value']... [--seconds S]

Connects to URL (http://host:port/api/v1/events/stream?...), and writes to
OUT one line per server-sent event as it arrives, flushed at once:

    <unix time received>\t<event>\t<id or ->\t<data>

The first line is "<time>\tstatus\t-\t<HTTP status> <content type, or the
body when not 200>".
Comments (keep-alives) are written as "<time>\tcomment\t-\t<text>".  The
last line is "<time>\teof\t-\t<why>" when the stream ends.  Standard
library only.
"""
import http.client
import sys
import time
import urllib.parse


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    url, out_path = args[0], args[1]
    headers = {"Accept": "text/event-stream"}
    seconds = 600.0
    i = 2
    while i < len(args):
        if args[i] == "--header" and i + 1 < len(args):
            name, _, value = args[i + 1].partition(":")
            headers[name.strip()] = value.strip()
            i += 2
        elif args[i] == "--seconds" and i + 1 < len(args):
            seconds = float(args[i + 1])
            i += 2
        else:
            print("sse_watch.py: unexpected argument %r" % args[i], file=sys.stderr)
            return 2
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=seconds)
    path = u.path + ("?" + u.query if u.query else "")
    with open(out_path, "w", encoding="utf-8") as out:
        def emit(kind, eid, data):
            out.write("%.6f\t%s\t%s\t%s\n" % (time.time(), kind, eid, data))
            out.flush()

        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
        except OSError as e:
            emit("status", "-", "0 " + str(e))
            return 1
        if resp.status != 200:
            emit("status", "-", "%d %s" % (resp.status,
                                           resp.read().decode("utf-8", "replace").strip()))
            return 1
        emit("status", "-", "200 " + resp.getheader("Content-Type", ""))
        kind, eid, data = "message", "-", []
        why = "end of stream"
        try:
            while True:
                raw = resp.readline()
                if not raw:
                    break
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line:
                    if data:
                        emit(kind, eid, "\n".join(data))
                    kind, eid, data = "message", "-", []
                elif line.startswith(":"):
                    emit("comment", "-", line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    if value.startswith(" "):
                        value = value[1:]
                    if name == "event":
                        kind = value
                    elif name == "id":
                        eid = value
                    elif name == "data":
                        data.append(value)
        except OSError as e:
            why = str(e) or type(e).__name__
        emit("eof", "-", why)
    return 0


if __name__ == "__main__":
    sys.exit(main())
