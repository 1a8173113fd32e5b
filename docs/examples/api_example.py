#!/usr/bin/env python3
"""A pipeline step against clapper's HTTP API, with Python's standard
library only (urllib.request, json): it runs as is in a DCC's Python.

    CLAPPER_URL=http://127.0.0.1:7712 CLAPPER_TOKEN=clp_... \\
        python3 api_example.py JOBFILE [--key KEY] [--note TEXT] [--no-approve]

1. submits JOBFILE with an idempotency key (a retry with the same key
   gives the same jobs, never new ones: safe after a timeout);
2. waits for its jobs to finish;
3. lists their takes and approves the first one waiting for review, with
   a note;
4. prints the episode's cost report as CSV.

What it prints on standard output, one line each, for scripts:
    job ID NAME STATE          per job, once finished
    take ID STATE              per take
    approved ID                the take it approved
then the CSV.  Exit status 0 when every job succeeded, 1 otherwise.
docs/api.md walks through it; tests/integration/t_openapi.sh runs it.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

BASE = os.environ.get("CLAPPER_URL", "http://127.0.0.1:7712").rstrip("/")
TOKEN = os.environ["CLAPPER_TOKEN"]  # clapper token create NAME
FINISHED = {"succeeded", "failed", "canceled"}


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__("%d %s: %s" % (status, code, message))
        self.status, self.code = status, code


def call(method, path, body=None, headers=None, raw=False):
    """One request; the parsed document (or the text with raw=True).
    An error document becomes ApiError(status, code, message)."""
    data = None
    hdrs = {"Authorization": "Bearer " + TOKEN, "Accept": "application/json"}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            text = resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        try:
            err = json.load(e)["error"]
        except (ValueError, KeyError):
            err = {"code": "http", "message": e.reason}
        raise ApiError(e.code, err["code"], err["message"]) from None
    return text if raw else json.loads(text)


def pages(path, key, **query):
    """Every item of a paged list (limit/after, then next_after while more)."""
    query.setdefault("after", 0)
    while True:
        doc = call("GET", path + "?" + urllib.parse.urlencode(query))
        yield from doc[key]
        if not doc["more"]:
            return
        query["after"] = doc["next_after"]


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    jobfile, key, note, approve = argv[0], None, "approved from the pipeline", True
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a == "--key" and args:
            key = args.pop(0)
        elif a == "--note" and args:
            note = args.pop(0)
        elif a == "--no-approve":
            approve = False
        else:
            print("api_example.py: unknown argument %s" % a, file=sys.stderr)
            return 2
    with open(jobfile, "rb") as f:
        body = f.read()
    episode = json.loads(body)
    episode = "%s/%s" % (episode["project"], episode["episode"])

    # 1. Submit.  Keep the key with the work it stands for: sending the same
    # file with the same key again (after a timeout, a crash) is answered
    # with the jobs the first submission made.
    key = key or str(uuid.uuid4())
    submitted = call("POST", "/api/v1/jobs", body, {"Idempotency-Key": key})
    ids = [j["job_id"] for j in submitted["jobs"]]
    print("submitted %s with key %s" % (" ".join(map(str, ids)), key), file=sys.stderr)

    # 2. Wait: poll each job until it has finished (the event stream,
    # /api/v1/events/stream, tells the moment without polling).
    jobs = {}
    for job_id in ids:
        delay = 0.2
        while True:
            job = call("GET", "/api/v1/jobs/%d" % job_id)
            if job["state"] in FINISHED:
                break
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        jobs[job_id] = job
        print("job %d %s %s" % (job_id, job["name"], job["state"]))

    # 3. Takes of these jobs; approve the first one waiting for review.
    takes = [t for job_id in ids for t in pages("/api/v1/takes", "takes", job=job_id)]
    for t in takes:
        print("take %d %s" % (t["take_id"], t["state"]))
    pending = [t for t in takes if t["state"] == "pending_review"]
    if approve and pending:
        t = call("POST", "/api/v1/takes/%d/approve" % pending[0]["take_id"], {"note": note})
        print("approved %d" % t["take"]["take_id"])

    # 4. The episode's cost report, as CSV (the cells of `clapper cost --csv`).
    project, ep = episode.split("/", 1)
    path = "/api/v1/episodes/%s/%s/cost?format=csv&by=job" % (
        urllib.parse.quote(project, safe=""), urllib.parse.quote(ep, safe=""))
    sys.stdout.write(call("GET", path, raw=True))
    return 0 if all(j["state"] == "succeeded" for j in jobs.values()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ApiError as e:
        print("api_example.py: %s" % e, file=sys.stderr)
        sys.exit(1)
