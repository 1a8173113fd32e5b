#!/usr/bin/env bash
# bench/sse_watchers.sh BUILD_DIR [TASKS [WATCHERS [ROUNDS]]]: does a crowd of
# live-event watchers slow dispatch?
#
# Runs clapper-bench (a real coordinator with its HTTP side, 50 simulated
# workers x 32 slots whose tasks end at once, a fresh database per run on a
# private PostgreSQL with fsync on, as bench/run.sh) on TASKS tasks (default
# 50,000) in jobs of 100 tasks, so that every job adds its job.submitted and
# job.state events and its job.progress, ROUNDS times (default 2) each
# without watchers and with WATCHERS (default 50) unfiltered watchers
# (curl -N, each reading everything) connected before the first submit,
# alternating.  Prints clapper-bench's line for every run (with the
# coordinator's CPU seconds) with what the watchers received and the CPU
# seconds the watchers (curl) used on this host, then the median tasks/s
# of each setting.
set -euo pipefail

# The --ready-cmd of clapper-bench: __watch N URL DIR makes an API token
# (clapper token create, on the coordinator's clients socket in
# DIR/bench), connects N watchers with it (left running; their pids in
# DIR/pids) and returns once all are streaming.
if [ "${1:-}" = __watch ]; then
  n=$2 url=$3 wdir=$4
  token=$("$CLAPPER_BIN/clapper" --coordinator "ipc://$wdir/bench/clients.sock" \
    token create "bench-$$" --json | jq -r .secret)
  [ -n "$token" ] && [ "$token" != null ] || { echo "sse_watchers: no API token" >&2; exit 1; }
  for ((i = 0; i < n; i++)); do
    # (its CPU seconds, user and system, into w$i.cpu when it ends)
    setsid /usr/bin/time -f '%U %S' -o "$wdir/w$i.cpu" curl -sN -D "$wdir/w$i.head" \
      -o "$wdir/w$i.out" -H "Authorization: Bearer $token" "$url/api/v1/events/stream" \
      </dev/null >/dev/null 2>&1 &
    echo $! >>"$wdir/pids"
  done
  for ((i = 0; i < n; i++)); do
    for _ in $(seq 600); do grep -q '^HTTP/1.1 200' "$wdir/w$i.head" 2>/dev/null && break; sleep 0.1; done
    grep -q '^HTTP/1.1 200' "$wdir/w$i.head" 2>/dev/null || { echo "watcher $i did not connect" >&2; exit 1; }
  done
  exit 0
fi

build=$(cd "${1:?usage: bench/sse_watchers.sh BUILD_DIR [TASKS [WATCHERS [ROUNDS]]]}" && pwd)
tasks=${2:-50000}
nwatch=${3:-50}
rounds=${4:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
self="$here/bench/sse_watchers.sh"
dir=$(mktemp -d /tmp/clapper-bench-sse.XXXXXX)
chmod 755 "$dir"
stop_watchers() {
  local p
  [ -f "$1/pids" ] || return 0
  while read -r p; do kill "$p" 2>/dev/null || true; done <"$1/pids"
  rm -f "$1/pids"
}
finish() {
  local w
  for w in "$dir"/run*; do [ -d "$w" ] && stop_watchers "$w"; done
  "$here/tests/lib/pgtmp.sh" stop "$dir"
  rm -rf "$dir"
}
trap finish EXIT
db=$("$here/tests/lib/pgtmp.sh" start "$dir")
sock=$(sed 's/.*host=\([^ ]*\).*/\1/' <<<"$db")
export CLAPPER_BIN="$build"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run() { # run N_WATCHERS NAME
  local n=$1 name=$2
  local w="$dir/$name"
  mkdir -p "$w"
  psql -X -q -h "$sock" -U clapper -d clapper -c "CREATE DATABASE $name" >/dev/null
  local port ready=() line
  port=$(free_port)
  [ "$n" -gt 0 ] && ready=(--ready-cmd "'$self' __watch $n http://127.0.0.1:$port '$w'")
  line=$("$build/clapper-bench" --db "host=$sock user=clapper dbname=$name" --tasks "$tasks" \
    --batch 100 --workdir "$w/bench" --http "127.0.0.1:$port" "${ready[@]}") || {
    tail -n 20 "$w/bench/coordinator.log" >&2
    exit 1
  }
  sleep 0.5 # the last job.progress
  stop_watchers "$w"
  local events=0 progress=0 bytes=0 i
  # What the watchers (curl) cost on this host, beside the coordinator.
  for ((i = 0; i < n; i++)); do
    for _ in $(seq 50); do [ -s "$w/w$i.cpu" ] && break; sleep 0.1; done
  done
  local wcpu
  wcpu=$({ cat "$w"/w*.cpu 2>/dev/null || true; } | awk '/^[0-9.]+ [0-9.]+$/ {t += $1 + $2} END {printf "%.2f", t}')
  for ((i = 0; i < n; i++)); do
    events=$((events + $(grep -c '^id: ' "$w/w$i.out" || true)))
    progress=$((progress + $(grep -c '^event: job.progress' "$w/w$i.out" || true)))
    bytes=$((bytes + $(stat -c %s "$w/w$i.out")))
  done
  echo "watchers=$n $line events_received=$events job_progress_received=$progress bytes_received=$bytes watchers_cpu_s=$wcpu" |
    tee -a "$dir/results"
  rm -rf "$w/bench/output"
}

echo "sse_watchers: $tasks tasks in jobs of 100, $(nproc) CPUs here, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < rounds; r++)); do
  run 0 "run${r}_none"
  run "$nwatch" "run${r}_watched"
done
for n in 0 "$nwatch"; do
  grep "^watchers=$n " "$dir/results" | grep -o '"tasks_per_s": *[0-9.]*' | grep -o '[0-9.]*$' |
    sort -n | awk -v n="$n" '{v[NR] = $1; all = all " " $1} END {
      printf "with %d watchers: median %.1f tasks/s (runs:%s)\n", n, v[int((NR + 1) / 2)], all }'
done
