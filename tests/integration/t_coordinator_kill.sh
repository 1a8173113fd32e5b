#!/usr/bin/env bash
# The coordinator killed with SIGKILL mid-run and restarted: the job
# completes, no task recorded as succeeded runs again, and every task has
# exactly one succeeded attempt.  Results finished while the coordinator
# was away come from the workers' journals.
. "$(dirname "$0")/lib.sh"

farm_up 2 --worker-cpus 2

cat >"$T/job.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "many", "frames": "1-40",
           "command": ["sh", "-c", "echo {task_id} {attempt_id} >> $T/ran.log; sleep 0.4"]}]}
JSON
job=$(job_id_of "$(clapper submit --json "$T/job.json")")

some_done() { [ "$(sql "SELECT count(*) FROM tasks WHERE job_id = $job AND state = 'succeeded'")" -ge 8 ]; }
wait_for 60 some_done || fail "tasks did not start succeeding"
sql "SELECT id FROM tasks WHERE job_id = $job AND state = 'succeeded' ORDER BY id" >"$T/recorded"
kill -9 "$(pid_of coordinator)"
log "killed the coordinator with $(wc -l <"$T/recorded") tasks recorded as succeeded"
sleep 2 # tasks keep finishing; their results wait in the worker journals

clapper local up --dir "$FARM" >"$T/up2.out" 2>&1 || fail "restart failed: $(cat "$T/up2.out")"
clapper wait --max-wait-s 120 "$job" >"$T/wait.out" 2>&1 || fail "job did not succeed after restart: $(cat "$T/wait.out")"

while read -r id; do
  runs=$(awk -v id="$id" '$1 == id' "$T/ran.log" | wc -l)
  assert_eq "$runs" 1 "runs of task $id, recorded as succeeded before the kill"
done <"$T/recorded"
assert_eq "$(sql "SELECT count(*) FROM tasks t WHERE t.job_id = $job AND
                  (SELECT count(*) FROM attempts a WHERE a.task_id = t.id AND a.state = 'succeeded') = 1")" \
  40 "tasks with exactly one succeeded attempt"
assert_eq "$(sql "SELECT count(*) FROM attempts WHERE state IN ('dispatched', 'running')")" 0 "live attempts left"
assert_sound "$job"
grep -q "recovered 1 unfinished jobs" "$FARM/logs/coordinator.log" || fail "the coordinator did not recover the job"
log "ok: $(wc -l <"$T/ran.log") runs for 40 tasks"
