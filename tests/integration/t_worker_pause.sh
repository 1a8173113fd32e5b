#!/usr/bin/env bash
# A worker stopped (SIGSTOP) past the lease while it holds an assignment it
# has not started (waiting in its socket) and an attempt whose process runs
# on: the coordinator declares both lost, they run again on another worker
# and succeed; after SIGCONT the worker starts nothing stale (a side-effect
# file, one line per run of each task, shows no run started after the
# reruns were recorded), the attempt that ran through the stop is stopped,
# and the worker comes back online and takes new work.
. "$(dirname "$0")/lib.sh"

lease_ms=4000
farm_up 1 --worker-cpus 2 --coordinator-arg=--lease-ms=$lease_ms --coordinator-arg=--heartbeat-ms=250
side=$T/side.log

# Each run appends "TASK ATTEMPT start" (and "... end" when it finishes) to
# the side-effect file; the first run of the long task sleeps for a minute,
# a rerun for a second.  $0 of each shell names its attempt.
cat >"$T/long.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "long", "frames": "1",
           "command": ["sh", "-c", "echo {task_id} {attempt_id} start >> $side; if mkdir $T/first 2>/dev/null; then sleep 60; else sleep 1; fi; echo {task_id} {attempt_id} end >> $side", "${T##*/}-a{attempt_id}"]}]}
JSON
cat >"$T/short.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "short", "frames": "1",
           "command": ["sh", "-c", "echo {task_id} {attempt_id} start >> $side; echo {task_id} {attempt_id} end >> $side", "${T##*/}-a{attempt_id}"]}]}
JSON

# attempt_of JOB STATE WORKER: the id of JOB's attempt in STATE on WORKER.
attempt_of() {
  sql "SELECT a.id FROM attempts a JOIN tasks t ON t.id = a.task_id
       WHERE t.job_id = $1 AND a.state = '$2' AND a.worker = '$3' ORDER BY a.id LIMIT 1"
}
has_attempt() { [ -n "$(attempt_of "$@")" ]; }
task_of() { sql "SELECT id FROM tasks WHERE job_id = $1"; }
# lines TASK WORD: how many runs of TASK wrote WORD to the side-effect file.
lines() { awk -v t="$1" -v w="$2" '$1 == t && $3 == w' "$side" | wc -l; }
worker_state() { clapper workers --json | jq -r --arg n "$1" '.workers[] | select(.name == $n) | .state'; }
is_lost() { [ "$(worker_state "$1")" = lost ]; }

long=$(submit "$T/long.json")
wait_for 60 has_attempt "$long" running local-1 || fail "the long task did not start on local-1"
run_a=$(attempt_of "$long" running local-1)
w1=$(pid_of local-1)
kill -STOP "$w1"
t_stop=$(date +%s%N)
log "stopped local-1 (pid $w1) running attempt $run_a"

# While the coordinator still counts local-1 online, it assigns the short
# task to it: the Assign waits in the stopped worker's socket.
short=$(submit "$T/short.json")
wait_for 10 has_attempt "$short" dispatched local-1 ||
  fail "the short task was not assigned to the stopped local-1 within the lease"
waiting_a=$(attempt_of "$short" dispatched local-1)
log "assigned attempt $waiting_a to the stopped local-1"

# Another worker takes the work once local-1's lease is over.
start_worker spare --cpus 2
wait_for 30 is_lost local-1 || fail "the coordinator did not declare local-1 lost"
clapper wait --max-wait-s 60 "$long" "$short" >"$T/wait.out" 2>&1 ||
  fail "the reruns did not succeed: $(cat "$T/wait.out")"
reran=$(wc -l <"$side")
log "reruns succeeded on spare; local-1 stopped for $((($(date +%s%N) - t_stop) / 1000000)) ms"
assert_eq "$(sql "SELECT state FROM attempts WHERE id = $run_a")" lost "the running attempt on local-1"
assert_eq "$(sql "SELECT state FROM attempts WHERE id = $waiting_a")" lost "the waiting attempt on local-1"

kill -CONT "$w1"
log "continued local-1"
wait_for 30 worker_online local-1 || fail "local-1 did not come back online: $(worker_state local-1)"
# The attempt that ran through the stop is stopped (the coordinator
# canceled it in its Welcome); give a stale start time to show.
wait_for 10 bash -c "! pgrep -f '${T##*/}-a$run_a\$' >/dev/null" ||
  fail "the process of attempt $run_a, given away during the stop, still runs"
sleep 2

ta=$(task_of "$long")
tb=$(task_of "$short")
log "side-effect file: $(tr '\n' ';' <"$side")"
assert_eq "$(wc -l <"$side")" "$reran" "side-effect lines after the worker continued (none stale)"
assert_eq "$(lines "$tb" start)" 1 "runs started of the short task"
assert_eq "$(lines "$tb" end)" 1 "runs ended of the short task"
assert_eq "$(lines "$ta" start)" 2 "runs started of the long task (the one stopped, the rerun)"
assert_eq "$(lines "$ta" end)" 1 "runs ended of the long task (the rerun only)"
assert_eq "$(awk -v a="$waiting_a" '$2 == a' "$side" | wc -l)" 0 "lines of the attempt that waited on local-1"
# A stale start can be killed (by the Welcome's cancel) before its first
# line: the worker's own log says whether it started at all.
if grep -q "attempt $waiting_a: started " "$FARM/logs/local-1.log"; then
  fail "local-1 started attempt $waiting_a, which waited in its socket while it was stopped"
fi
assert_eq "$(awk -v a="$run_a" '$3 == "end" && $2 == a' "$side" | wc -l)" 0 "end of the attempt stopped on local-1"

# local-1 takes new work: the spare is drained, a new job runs on local-1.
clapper drain spare >/dev/null || fail "cannot drain spare"
cat >"$T/after.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "after", "frames": "1-4",
           "command": ["sh", "-c", "echo {task_id} {attempt_id} start >> $side"]}]}
JSON
after=$(submit "$T/after.json")
clapper wait --max-wait-s 60 "$after" >"$T/wait.out" 2>&1 ||
  fail "the job after the pause did not succeed: $(cat "$T/wait.out")"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
                  WHERE t.job_id = $after AND a.state = 'succeeded' AND a.worker = 'local-1'")" 4 \
  "tasks of the new job run by local-1"
assert_eq "$(worker_state local-1)" online "local-1 after the new job"
assert_sound "$long" "$short" "$after"
log "ok"
