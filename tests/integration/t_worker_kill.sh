#!/usr/bin/env bash
# A worker killed with SIGKILL mid-task: its attempts become lost once the
# lease expires, the tasks run again on the other worker, the job succeeds,
# and the killed worker's task processes did not survive it.
. "$(dirname "$0")/lib.sh"

farm_up 2 --worker-cpus 2 --coordinator-arg=--lease-ms=2000

cat >"$T/job.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "slow", "frames": "1-8",
           "command": ["sh", "-c", "echo {task_id} {attempt_id} >> $T/ran.log; sleep 3", "${T##*/}-a{attempt_id}"]}]}
JSON
job=$(job_id_of "$(clapper submit --json "$T/job.json")")

# Wait until local-1 runs something, then kill it.
busy() { [ "$(clapper workers --json | jq '.workers[] | select(.name == "local-1") | .running')" -gt 0 ]; }
wait_for 30 busy || fail "local-1 never ran a task"
wait_for 30 grep -q . "$T/ran.log" || fail "no task started"
victim=$(pid_of local-1)
running=$(sql "SELECT string_agg(a.id::text, ' ') FROM attempts a JOIN tasks t ON t.id = a.task_id
               WHERE t.job_id = $job AND a.worker = 'local-1' AND a.state IN ('dispatched', 'running')")
[ -n "$running" ] || fail "no live attempt recorded on local-1"
kill -9 "$victim"
log "killed local-1 (pid $victim) running attempts $running"

clapper wait --max-wait-s 120 "$job" >"$T/wait.out" 2>&1 || fail "job did not succeed: $(cat "$T/wait.out")"

for a in $running; do
  assert_eq "$(sql "SELECT state FROM attempts WHERE id = $a")" lost "attempt $a on the killed worker"
  assert_contains "$(sql "SELECT error FROM attempts WHERE id = $a")" "heartbeat" "reason of attempt $a"
  if pgrep -f "${T##*/}-a$a\$" >/dev/null; then
    fail "the task process of attempt $a survived its worker"
  fi
done
assert_eq "$(clapper workers --json | jq -r '.workers[] | select(.name == "local-1") | .state')" lost "killed worker state"

# Every task has exactly one succeeded attempt; the lost ones reran on local-2.
assert_eq "$(sql "SELECT count(*) FROM tasks t WHERE t.job_id = $job AND
                  (SELECT count(*) FROM attempts a WHERE a.task_id = t.id AND a.state = 'succeeded') = 1")" \
  8 "tasks with exactly one succeeded attempt"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job
                  AND a.state = 'succeeded' AND a.task_id IN (SELECT task_id FROM attempts WHERE state = 'lost')
                  AND a.worker <> 'local-2'")" 0 "lost tasks finished on the surviving worker"
assert_eq "$(clapper tasks "$job" --json | jq '[.tasks[] | select(.losses >= 1)] | length')" \
  "$(wc -w <<<"$running")" "tasks that counted a loss"
log "ok"
