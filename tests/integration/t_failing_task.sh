#!/usr/bin/env bash
# A failing command gives a failed task carrying its exit status; `clapper
# wait` exits non-zero; retries stop at max_attempts.
. "$(dirname "$0")/lib.sh"

farm_up 1

cat >"$T/fail.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "broken", "command": ["sh", "-c", "echo boom >&2; exit 3"], "max_attempts": 1},
          {"name": "flaky", "command": ["sh", "-c", "exit 7"], "max_attempts": 2, "retry_backoff_s": 1}]}
JSON
out=$(clapper submit --json "$T/fail.json")
broken=$(job_id_of "$out" 0)
flaky=$(job_id_of "$out" 1)

if clapper wait "$broken" "$flaky" >"$T/wait.out" 2>&1; then
  fail "clapper wait succeeded for failing jobs"
fi
assert_contains "$(cat "$T/wait.out")" "failed" "wait explains the failure"

tasks=$(clapper tasks "$broken" --json)
assert_eq "$(jq -r '.tasks[0].state' <<<"$tasks")" failed "broken task state"
assert_eq "$(jq -r '.tasks[0].exit_code' <<<"$tasks")" 3 "broken task exit status"
assert_eq "$(jq -r '.tasks[0].attempts' <<<"$tasks")" 1 "broken task attempts"
assert_eq "$(clapper job "$broken" --json | jq -r .state)" failed "broken job state"

tasks=$(clapper tasks "$flaky" --json)
assert_eq "$(jq -r '.tasks[0].state' <<<"$tasks")" failed "flaky task state"
assert_eq "$(jq -r '.tasks[0].exit_code' <<<"$tasks")" 7 "flaky task exit status"
assert_eq "$(jq -r '.tasks[0].attempts' <<<"$tasks")" 2 "flaky task attempts (max_attempts 2)"
# The second attempt waited for the back-off (1 s) after the first ended.
gap=$(sql "SELECT extract(epoch FROM max(dispatched_at) - min(ended_at)) >= 0.9 FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $flaky")
assert_eq "$gap" t "retry back-off"

# The stderr of the task is in its attempt's log on the worker.
grep -rq boom "$FARM"/workers/*/logs/ || fail "task output not in the attempt log"
log "ok"
