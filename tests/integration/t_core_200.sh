#!/usr/bin/env bash
# A 200-task job across 3 workers succeeds, each task exactly once, and the
# CLI reports it as a user would read it.
. "$(dirname "$0")/lib.sh"

farm_up 3 --worker-cpus 2

# Every task appends its id to one file: 200 distinct lines means each ran
# exactly once.
cat >"$T/job.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "frames", "shot": "sh010", "kind": "render",
           "frames": "1-200", "chunk": 1,
           "command": ["sh", "-c", "echo {task_id} {frame_start} >> $T/ran.log; sleep 0.02"]}]}
JSON
out=$(clapper submit --json "$T/job.json")
job=$(job_id_of "$out")
assert_eq "$(jq -r '.jobs[0].tasks' <<<"$out")" 200 "tasks in the submit reply"

clapper wait "$job" >"$T/wait.out" 2>&1 || fail "clapper wait $job failed: $(cat "$T/wait.out")"

assert_eq "$(wc -l <"$T/ran.log")" 200 "runs recorded"
assert_eq "$(cut -d' ' -f1 "$T/ran.log" | sort -u | wc -l)" 200 "distinct tasks run"
assert_eq "$(cut -d' ' -f2 "$T/ran.log" | sort -n | uniq | tr '\n' ' ' | wc -w)" 200 "distinct frames"

json=$(clapper job "$job" --json)
assert_eq "$(jq -r .state <<<"$json")" succeeded "job state"
assert_eq "$(jq -r .tasks.succeeded <<<"$json")" 200 "succeeded count"
assert_eq "$(jq -r .ntasks <<<"$json")" 200 "ntasks"
assert_eq "$(jq -r .project <<<"$json")/$(jq -r .episode <<<"$json")/$(jq -r .shot <<<"$json")" \
  demo/e01/sh010 "job location"

tasks=$(clapper tasks "$job" --json)
assert_eq "$(jq '.tasks | length' <<<"$tasks")" 200 "tasks listed"
assert_eq "$(jq '[.tasks[] | select(.state == "succeeded" and .attempts == 1 and .exit_code == 0)] | length' <<<"$tasks")" \
  200 "tasks succeeded on their first attempt"
assert_eq "$(jq -r '[.tasks[].worker] | unique | length' <<<"$tasks")" 3 "workers used"

# The database agrees: one attempt per task, all succeeded, none live.
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job AND a.state = 'succeeded'")" \
  200 "succeeded attempts in the database"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job")" \
  200 "attempts in the database"

# Human-readable output names the job and its state.
assert_contains "$(clapper jobs --all)" "succeeded" "jobs table (--all: finished jobs too)"
assert_contains "$(clapper job "$job")" "succeeded" "job view"
workers=$(clapper workers --json)
assert_eq "$(jq '[.workers[] | select(.state == "online")] | length' <<<"$workers")" 3 "online workers"
log "ok"
