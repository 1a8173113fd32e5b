#!/usr/bin/env bash
# Prometheus /metrics through a real farm: some jobs run (one fails, one
# needs a GPU, one waits for a tag no worker has), then an API token scrapes
# /metrics with curl.  The answer must pass `promtool check metrics` and its
# figures must match the CLI's: jobs by state (clapper jobs --all), tasks
# by state (the jobs' task counts), workers by state (clapper workers),
# spent per episode (clapper budget show, clapper cost), the event log's
# length (clapper audit --head), queue depth (clapper job's ready tasks),
# GPUs total and busy (clapper workers), results and dispatch latency (one
# per attempt, from the database), commit latency (one per batch).  Without
# a token the answer is 401; a GPU model with quotes in its name comes out
# escaped; when the database read fails (the jobs table locked past the
# scrape's timeout) the answer still comes, from memory.  See
# docs/metrics.md.
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || fail "promtool is not installed (scripts/install-deps test installs it)"

farm_up 1 --worker-cpus 2 --worker-arg=--gpus=none
URL=$(http_url)
[ -n "$URL" ] || fail "the coordinator serves no HTTP"
MODEL='NVIDIA "lab" A10'
jq -n --arg m "$MODEL" '[{index: 0, uuid: "GPU-m-0", model: $m, memory_mb: 24000},
                         {index: 1, uuid: "GPU-m-1", model: $m, memory_mb: 24000}]' >"$T/gpus.json"
start_worker gpu-1 --gpu-inventory "$T/gpus.json" --cpus 2 --tags gpu

clapper rates set --per-cpu-hour 3.6 >/dev/null
clapper rates set --default-gpu-hour 36 >/dev/null
clapper budget set m/e1 100 >/dev/null

job() { # file name episode frames fields command...
  local file=$1 name=$2 ep=$3 frames=$4 fields=$5
  shift 5
  local cmd
  cmd=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
  cat >"$T/$file" <<JSON
{"project": "m", "episode": "$ep",
 "jobs": [{"name": "$name", "frames": "1-$frames", "max_attempts": 1, $fields "command": $cmd}]}
JSON
  submit "$T/$file"
}

ok=$(job ok.json ok e1 4 '' sleep 0.3)
bad=$(job bad.json bad e1 1 '' sh -c 'exit 3')
gpu=$(job gpu.json gpu e2 1 '"requires": {"gpus": 1, "cpus": 1, "tags": ["gpu"]},' sleep 0.2)
clapper wait "$ok" "$gpu" >/dev/null 2>&1 || fail "jobs ok and gpu did not succeed"
clapper wait "$bad" >/dev/null 2>&1 && fail "the failing job succeeded"
# Ready tasks that no worker can take: the queue.
stuck=$(job stuck.json stuck e2 3 '"priority": 60, "requires": {"cpus": 1, "tags": ["nowhere"]},' true)
# A GPU held while we scrape.
hold=$(job hold.json hold e2 1 '"requires": {"gpus": 1, "cpus": 1, "tags": ["gpu"]},' sleep 600)
wait_for 30 sh -c "[ \"\$(clapper job $hold --json | jq .tasks.running)\" = 1 ]" || fail "the GPU job did not start"
wait_for 30 sh -c "[ \"\$(clapper job $stuck --json | jq .tasks.ready)\" = 3 ]" || fail "the stuck job's tasks are not ready"

# What Prometheus sends: an API token (a read-only role is enough).
TOKEN=$(clapper token create prometheus --role auditor --expires 1d --json | jq -r .secret)
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || fail "no token"

# Without a token: refused.
code=$(curl -s -o "$T/noauth.out" -w '%{http_code}' "$URL/metrics")
assert_eq "$code" 401 "/metrics without a token"

# scrape FILE: /metrics with the token into FILE; checks status and type.
scrape() {
  local code
  code=$(curl -s -D "$T/headers" -o "$1" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/metrics")
  assert_eq "$code" 200 "/metrics status"
  assert_eq "$(grep -i '^content-type:' "$T/headers" | tr -d '\r' | cut -d' ' -f2-)" \
    "text/plain; version=0.0.4; charset=utf-8" "/metrics content type"
}
# metric FILE SERIES: the value of one series ("name" or 'name{labels}').
# (The series goes through the environment: awk -v would undo its escapes.)
metric() { S=$2 awk 'substr($0, 1, length(ENVIRON["S"]) + 1) == ENVIRON["S"] " " { print $NF; found = 1 } END { exit !found }' "$1"; }

# Quiet now (nothing finishes while we look): the event log's head before
# and after the scrape must agree, else scrape again.
for try in 1 2 3 4 5; do
  h1=$(clapper audit --head --json | jq .events)
  scrape "$T/m.txt"
  h2=$(clapper audit --head --json | jq .events)
  [ "$h1" = "$h2" ] && break
  sleep 0.5
done
promtool check metrics <"$T/m.txt" || fail "promtool check metrics refused the answer (kept in $T/m.txt)"
assert_eq "$(metric "$T/m.txt" clapper_up)" 1 "clapper_up"
assert_eq "$(metric "$T/m.txt" clapper_metrics_db_ok)" 1 "the database read answered"
assert_eq "$(metric "$T/m.txt" clapper_event_log_length)" "$h1" "event log length = audit --head"

# Jobs by state, as clapper jobs --all counts them (every state).
jobs=$(clapper jobs --all --json --limit 10000)
for s in waiting queued running paused held succeeded failed canceled; do
  want=$(jq --arg s "$s" '[.jobs[] | select(.state == $s)] | length' <<<"$jobs")
  assert_eq "$(metric "$T/m.txt" "clapper_jobs{state=\"$s\"}")" "$want" "jobs $s"
done
assert_eq "$(metric "$T/m.txt" 'clapper_jobs{state="failed"}')" 1 "one failed job"
# Tasks by state: the sum of the jobs' task counts (clapper job ID --json).
for id in $(jq -r '.jobs[].job_id' <<<"$jobs"); do clapper job "$id" --json; done | jq -s . >"$T/jobs.json"
for s in waiting ready dispatched running succeeded failed canceled held paused; do
  want=$(jq --arg s "$s" '[.[].tasks[$s] // 0] | add' "$T/jobs.json")
  assert_eq "$(metric "$T/m.txt" "clapper_tasks{state=\"$s\"}")" "$want" "tasks $s"
done

# Queue depth: the stuck job's ready tasks, at its episode and priority.
assert_eq "$(metric "$T/m.txt" 'clapper_queue_depth{episode="m/e2",priority="60"}')" \
  "$(clapper job "$stuck" --json | jq .tasks.ready)" "queue depth of m/e2 at priority 60"

# Workers by state, as clapper workers shows them.
workers=$(clapper workers --json)
for s in offline online draining lost degraded; do
  want=$(jq --arg s "$s" '[.workers[] | select(.state == $s)] | length' <<<"$workers")
  assert_eq "$(metric "$T/m.txt" "clapper_workers{state=\"$s\"}")" "$want" "workers $s"
done
# GPUs per model (the quotes escaped), one busy with the held job.
series='clapper_gpus{model="NVIDIA \"lab\" A10"}'
assert_eq "$(metric "$T/m.txt" "$series")" \
  "$(jq --arg m "$MODEL" '[.workers[].gpus[] | select(.model == $m)] | length' <<<"$workers")" "GPUs of the model"
assert_eq "$(metric "$T/m.txt" 'clapper_gpus_busy{model="NVIDIA \"lab\" A10"}')" \
  "$(jq --arg m "$MODEL" '[.workers[].gpus[] | select(.model == $m and .busy)] | length' <<<"$workers")" "busy GPUs"
assert_eq "$(metric "$T/m.txt" 'clapper_gpus_busy{model="NVIDIA \"lab\" A10"}')" 1 "one GPU busy"

# Spent per episode: budget show and the cost report (ledger) agree.
for ep in e1 e2; do
  b=$(clapper budget show "m/$ep" --json)
  cur=$(jq -r .currency <<<"$b")
  got=$(metric "$T/m.txt" "clapper_episode_spent{episode=\"m/$ep\",currency=\"$cur\"}")
  assert_eq "$got" "$(jq -r .spent <<<"$b")" "spent of m/$ep = budget show"
  assert_eq "$got" "$(clapper cost --episode "m/$ep" --json | jq -r .total_cost)" "spent of m/$ep = clapper cost"
done
[ "$(metric "$T/m.txt" 'clapper_episode_spent{episode="m/e1",currency="USD"}')" != 0.000000 ] ||
  fail "nothing spent on m/e1"
assert_eq "$(metric "$T/m.txt" 'clapper_episode_budget{episode="m/e1",currency="USD"}')" 100.000000 "budget of m/e1"

# Results and dispatch latency: one per attempt (no coordinator restart
# here, every worker connected); commit latency: one per batch.
for s in succeeded failed; do
  assert_eq "$(metric "$T/m.txt" "clapper_results_total{result=\"$s\"}")" \
    "$(sql "SELECT count(*) FROM attempts WHERE state = '$s'")" "results $s"
done
assert_eq "$(metric "$T/m.txt" clapper_dispatch_latency_seconds_count)" \
  "$(sql "SELECT count(*) FROM attempts")" "dispatch latency: one per attempt"
assert_eq "$(metric "$T/m.txt" 'clapper_dispatch_latency_seconds_bucket{le="+Inf"}')" \
  "$(metric "$T/m.txt" clapper_dispatch_latency_seconds_count)" "+Inf bucket = count"
assert_eq "$(metric "$T/m.txt" clapper_commit_latency_seconds_count)" \
  "$(metric "$T/m.txt" clapper_store_batches_total)" "commit latency: one per batch"
[ "$(metric "$T/m.txt" clapper_commit_latency_seconds_count)" -gt 0 ] || fail "no commit observed"
[ "$(metric "$T/m.txt" 'clapper_http_requests_total{code="401"}')" -ge 1 ] || fail "the 401 was not counted"

# The read fails (the jobs table locked past the scrape's timeout, which
# Prometheus sends and the read's deadline follows): the answer still
# comes, valid, from memory, with clapper_metrics_db_ok 0 and no jobs or
# tasks.
PGAPPNAME=metrics-lock psql "$CLAPPER_DB" -X -q -c "BEGIN" -c "LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE" \
  -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
locker=$!
locked() { [ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE a.application_name = 'metrics-lock' AND l.granted AND l.mode = 'AccessExclusiveLock'")" -ge 1 ]; }
wait_for 30 locked || fail "could not lock the jobs table"
code=$(curl -s -o "$T/m2.txt" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -H "X-Prometheus-Scrape-Timeout-Seconds: 1" "$URL/metrics")
sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'metrics-lock'" >/dev/null
wait "$locker" 2>/dev/null || true
assert_eq "$code" 200 "/metrics while the read fails"
promtool check metrics <"$T/m2.txt" || fail "promtool check metrics refused the answer without the read"
assert_eq "$(metric "$T/m2.txt" clapper_metrics_db_ok)" 0 "the read failed"
grep -q '^clapper_jobs{' "$T/m2.txt" && fail "jobs by state without the read"
assert_eq "$(metric "$T/m2.txt" 'clapper_workers{state="online"}')" \
  "$(metric "$T/m.txt" 'clapper_workers{state="online"}')" "workers without the read"

clapper cancel "$hold" "$stuck" >/dev/null
log "ok"
