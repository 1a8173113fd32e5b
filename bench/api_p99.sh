#!/usr/bin/env bash
# bench/api_p99.sh BUILD_DIR [SHOTS [TAKES [REQUESTS]]]: the JSON API's
# latency on an episode of SHOTS shots x TAKES takes (default 500 x 10).
#
# Starts a private farm (`clapper local up`: PostgreSQL, the coordinator
# with its HTTP side on a free port, WORKERS workers of WORKER_CPUS CPUs;
# default 4 x 8), submits one generate job per shot with TAKES takes
# (`true`-like commands: each take is a real succeeded task with its
# attempt, ledger row and take), waits until every take exists, decides
# some takes through the API (approve take 1 and reject take 2 of every
# shot: the audit then has decisions; their latency is printed too), and
# then measures with bench/api_load.py, sequentially (1 client) and with
# CLIENTS (default 8) concurrent clients, REQUESTS requests per endpoint
# (default 300):
#   GET /api/v1/jobs?episode=P/E&all=1           (the newest page of the episode's jobs)
#   GET /api/v1/takes?episode=P/E&shot=S          (S spread over the shots)
#   GET /api/v1/episodes/P/E/cost
#   GET /api/v1/episodes/P/E/audit
#   GET /api/v1/jobs/ID                           (ID spread over the jobs)
# KEEP=1 keeps the farm's directory.  Numbers depend on the build (use a
# release build: cmake -DCMAKE_BUILD_TYPE=Release) and on the machine.
set -euo pipefail
build=$(cd "${1:?usage: bench/api_p99.sh BUILD_DIR [SHOTS [TAKES [REQUESTS]]]}" && pwd)
shots=${2:-500}
takes=${3:-10}
requests=${4:-300}
workers=${WORKERS:-4}
worker_cpus=${WORKER_CPUS:-8}
clients=${CLIENTS:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$build:$PATH"
dir=$(mktemp -d /tmp/clapper-bench-api.XXXXXX)
chmod 755 "$dir"
farm="$dir/farm"
cleanup() {
  clapper local down --dir "$farm" >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

say "farm: $workers workers x $worker_cpus CPUs ($build)"
clapper local up --dir "$farm" --workers "$workers" --worker-cpus "$worker_cpus" \
  --coordinator-arg=--bind-http=127.0.0.1:0 >"$dir/up.out" 2>&1 || { cat "$dir/up.out" >&2; exit 1; }
# shellcheck disable=SC1091
. "$farm/env"
export CLAPPER_DB CLAPPER_COORDINATOR CLAPPER_KEY
base=$(grep -o 'serving HTTP at [^ ]*' "$farm/logs/coordinator.log" | tail -1 | awk '{print $4}')
[ -n "$base" ] || { echo "the coordinator did not log its HTTP address" >&2; exit 1; }
token=$(clapper token create bench --json | jq -r .secret)
sql() { psql "$CLAPPER_DB" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
clapper rates set --per-cpu-hour 0.36 >/dev/null

project=show episode=ep01
python3 - "$shots" "$takes" "$project" "$episode" >"$dir/episode.json" <<'EOF'
import json, sys
shots, takes, project, episode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
jobs = [{"name": "sh%04d-gen" % s, "shot": "sh%04d" % s, "kind": "generate", "takes": takes,
         "seed": 1000 * s, "command": ["true", "{seed}"],
         "provenance": {"model": "wan-2.1", "prompt": "shot %d" % s}}
        for s in range(1, shots + 1)]
json.dump({"project": project, "episode": episode, "jobs": jobs}, sys.stdout)
EOF
t0=$SECONDS
say "submitting $shots jobs x $takes takes"
clapper submit --json "$dir/episode.json" >"$dir/submit.json"
want=$((shots * takes))
while :; do
  n=$(sql "SELECT count(*) FROM takes t JOIN jobs j ON j.id = t.job_id JOIN episodes e ON e.id = j.episode_id
           JOIN projects p ON p.id = e.project_id WHERE p.name = '$project' AND e.name = '$episode'")
  [ "$n" -lt "$want" ] || break
  [ $((SECONDS - t0)) -lt 3600 ] || { echo "only $n of $want takes after an hour" >&2; exit 1; }
  sleep 2
done
unfinished=$(sql "SELECT count(*) FROM jobs WHERE state <> 'succeeded'")
[ "$unfinished" = 0 ] || { echo "$unfinished jobs did not succeed" >&2; exit 1; }
say "$want takes from $want succeeded tasks in $((SECONDS - t0)) s"

# Decisions through the API: approve take 1, reject take 2 of every shot.
sql "SELECT t.id FROM takes t WHERE t.take = 1 ORDER BY t.id" >"$dir/approve"
sql "SELECT t.id FROM takes t WHERE t.take = 2 ORDER BY t.id" >"$dir/reject"
python3 - "$base" "$token" "$dir/approve" "$dir/reject" <<'EOF'
import http.client, sys, time, urllib.parse
base, token, approve, reject = sys.argv[1:5]
u = urllib.parse.urlsplit(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
for verb, f in (("approve", approve), ("reject", reject)):
    lat = []
    for take in open(f).read().split():
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/takes/%s/%s" % (take, verb), body=b'{"note": "bench"}',
                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        lat.append(time.perf_counter() - t0)
        if r.status != 200:
            sys.exit("POST %s %s: %d %s" % (take, verb, r.status, body[:200]))
    lat.sort()
    n = len(lat)
    print("%-34s %7d %8d %9.1f %9.1f %9.1f" % ("POST takes/ID/" + verb + " (durable)", 1, n,
          lat[(n + 1) // 2 - 1] * 1e3, lat[max(0, -(-99 * n // 100) - 1)] * 1e3, lat[-1] * 1e3))
EOF

# The endpoints: shots and job ids spread over the episode.
mapfile -t jobids < <(jq -r '.jobs[].job_id' "$dir/submit.json")
{
  printf 'GET jobs?episode\t/api/v1/jobs?episode=%s/%s&all=1\n' "$project" "$episode"
  printf 'GET takes?episode&shot'
  for ((s = 1; s <= shots; s += 7)); do printf '\t/api/v1/takes?episode=%s/%s&shot=sh%04d' "$project" "$episode" "$s"; done
  printf '\n'
  printf 'GET episodes/P/E/cost\t/api/v1/episodes/%s/%s/cost\n' "$project" "$episode"
  printf 'GET episodes/P/E/audit\t/api/v1/episodes/%s/%s/audit\n' "$project" "$episode"
  printf 'GET jobs/ID'
  for ((i = 0; i < ${#jobids[@]}; i += 7)); do printf '\t/api/v1/jobs/%s' "${jobids[$i]}"; done
  printf '\n'
} >"$dir/spec"
# What the answers hold (so the figures are for the whole episode).
curl -sS -H "Authorization: Bearer $token" "$base/api/v1/episodes/$project/$episode/audit" >"$dir/audit.json"
curl -sS -H "Authorization: Bearer $token" "$base/api/v1/episodes/$project/$episode/cost" >"$dir/cost.json"
say "audit answer $(wc -c <"$dir/audit.json") bytes, cost answer $(wc -c <"$dir/cost.json") bytes," \
  "jobs page $(curl -sS -H "Authorization: Bearer $token" "$base/api/v1/jobs?episode=$project/$episode&all=1" | jq '.jobs | length') jobs"
say "measuring: $requests requests per endpoint, 1 and $clients clients"
python3 "$here/bench/api_load.py" --base "$base" --token "$token" --spec "$dir/spec" \
  --requests "$requests" --clients 1 "$clients" --json "$dir/figures.json"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$(cat "$farm/run/coordinator.pid")/status" 2>/dev/null || echo '?')
say "coordinator peak RSS ${rss} kB"
