#!/usr/bin/env bash
# Failure handling and the operator's verbs, on real processes:
# timeouts kill the whole process group (also a child that ignores
# SIGTERM), retries back off 1 s then 2 s, cancel leaves no process behind,
# pause lets running tasks finish and starts nothing until resume, drain
# keeps new work off a worker, retry runs failed tasks again.
. "$(dirname "$0")/lib.sh"

farm_up 2 --worker-cpus 2 --worker-arg=--kill-grace-ms=1000

# A task that records its pid and its child's, the child ignoring SIGTERM.
cat >"$T/stubborn.sh" <<'SH'
echo $$ >"$1.sh.pid"
sh -c 'trap "" TERM; echo $$ >"$0.child.pid"; exec sleep 120' "$1" &
wait
SH
cat >"$T/timeout.json" <<JSON
{"project": "ops", "episode": "e1",
 "jobs": [{"name": "slow", "timeout_s": 1, "max_attempts": 1,
           "command": ["sh", "$T/stubborn.sh", "$T/to"]}]}
JSON
job=$(submit "$T/timeout.json")
clapper wait "$job" >/dev/null 2>&1 && fail "a timed-out job succeeded"
t=$(clapper tasks "$job" --json)
assert_eq "$(jq -r '.tasks[0].attempt_state' <<<"$t")" timed_out "attempt state after the timeout"
assert_contains "$(jq -r '.tasks[0].error' <<<"$t")" "timed out" "attempt error"
for p in "$T/to.sh.pid" "$T/to.child.pid"; do
  assert_gone "$p" "the timeout"
done

# Retries back off retry_backoff_s * 2^(n-1): 1 s, then 2 s.
cat >"$T/backoff.json" <<JSON
{"project": "ops", "episode": "e1",
 "jobs": [{"name": "flaky", "max_attempts": 3, "retry_backoff_s": 1, "command": ["false"]}]}
JSON
job=$(submit "$T/backoff.json")
clapper wait "$job" >/dev/null 2>&1 && fail "a failing job succeeded"
gaps=$(sql "SELECT string_agg(round(extract(epoch FROM d - prev_end)::numeric, 1)::text, ' ' ORDER BY id)
            FROM (SELECT a.id, a.dispatched_at AS d, lag(a.ended_at) OVER (ORDER BY a.id) AS prev_end
                  FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job) x
            WHERE prev_end IS NOT NULL")
read -r g1 g2 <<<"$gaps"
awk -v a="$g1" -v b="$g2" 'BEGIN { exit !(a >= 1.0 && a < 1.9 && b >= 2.0 && b < 2.9) }' ||
  fail "back-off gaps were '$gaps' s, expected about 1 and 2"
assert_eq "$(clapper tasks "$job" --json | jq -r '.tasks[0].attempts')" 3 "attempts of the failing task"

# Cancel: the running tasks are stopped and nothing is left behind.
cat >"$T/cancel.json" <<JSON
{"project": "ops", "episode": "e1",
 "jobs": [{"name": "long", "frames": "1-6", "command": ["sh", "$T/stubborn.sh", "$T/c{frame_start}"]}]}
JSON
job=$(submit "$T/cancel.json")
wait_for 30 sh -c "ls $T/c*.child.pid 2>/dev/null | wc -l | grep -qx 4" || fail "tasks did not start"
out=$(clapper cancel "$job")
assert_contains "$out" "canceled" "cancel output"
wait_for 20 sh -c "[ \"\$(clapper job $job --json | jq '.tasks.running + .tasks.dispatched')\" = 0 ]" ||
  fail "canceled tasks did not stop"
json=$(clapper job "$job" --json)
assert_eq "$(jq -r .state <<<"$json")" canceled "canceled job state"
assert_eq "$(jq -r .tasks.canceled <<<"$json")" 6 "canceled tasks"
for p in "$T"/c*.pid; do
  assert_gone "$p" "cancel"
done
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job AND a.state = 'canceled'")" \
  4 "canceled attempts"
assert_eq "$(sql "SELECT count(*) FROM events WHERE kind = 'job.cancel' AND subject_id = '$job'")" 1 "cancel event"

# Pause: running tasks finish, nothing new starts; resume finishes the job.
cat >"$T/pause.json" <<JSON
{"project": "ops", "episode": "e1", "jobs": [{"name": "pausable", "frames": "1-8", "command": ["sleep", "1"]}]}
JSON
job=$(submit "$T/pause.json")
wait_for 20 sh -c "[ \"\$(clapper job $job --json | jq .tasks.running)\" -gt 0 ]" || fail "nothing started"
clapper pause "$job" >/dev/null || fail "pause failed"
paused_at=$(sql "SELECT now()")
sleep 2.5
json=$(clapper job "$job" --json)
assert_eq "$(jq -r .state <<<"$json")" paused "paused job state"
assert_eq "$(jq '.tasks.running + .tasks.dispatched' <<<"$json")" 0 "running tasks finished while paused"
[ "$(jq .tasks.paused <<<"$json")" -ge 4 ] || fail "paused tasks: $(jq .tasks <<<"$json")"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job AND a.dispatched_at > '$paused_at'")" \
  0 "attempts started while paused"
clapper resume "$job" >/dev/null || fail "resume failed"
clapper wait "$job" >/dev/null 2>&1 || fail "the resumed job did not succeed"

# Drain: a drained worker finishes what it runs and gets nothing new.
clapper drain local-1 >/dev/null || fail "drain failed"
assert_eq "$(clapper workers --json | jq -r '.workers[] | select(.name == "local-1") | .state')" draining "drained state"
cat >"$T/drain.json" <<JSON
{"project": "ops", "episode": "e1", "jobs": [{"name": "elsewhere", "frames": "1-6", "command": ["true"]}]}
JSON
job=$(submit "$T/drain.json")
clapper wait "$job" >/dev/null 2>&1 || fail "job failed while local-1 was drained"
assert_eq "$(sql "SELECT DISTINCT a.worker FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job")" \
  local-2 "workers used while local-1 was drained"
clapper undrain local-1 >/dev/null || fail "undrain failed"
assert_eq "$(clapper workers --json | jq -r '.workers[] | select(.name == "local-1") | .state')" online "undrained state"

# The workers list is paged by name: one per page, the hint names the next.
out=$(clapper workers --limit 1)
assert_eq "$(sed -n 2p <<<"$out" | awk '{ print $1 }')" local-1 "first page: local-1"
assert_eq "$(grep -c '^local-' <<<"$out")" 1 "one worker on a page of 1"
assert_eq "$(tail -n1 <<<"$out")" "more workers: add --after local-1 for the next page" "workers hint"
assert_eq "$(clapper workers --json --limit 1 --after local-1 | jq -c '[.workers[].name, .more, .next_after]')" \
  '["local-2",false,null]' "workers --after local-1"
assert_eq "$(clapper workers --json | jq -c '[.workers[].name, .more]')" '["local-1","local-2",false]' \
  "workers: the default page holds both"

# Retry: a failed task runs again once its cause is fixed.
cat >"$T/retry.json" <<JSON
{"project": "ops", "episode": "e1",
 "jobs": [{"name": "fixable", "max_attempts": 1, "command": ["test", "-e", "$T/fixed"]}]}
JSON
job=$(submit "$T/retry.json")
clapper wait "$job" >/dev/null 2>&1 && fail "the job succeeded before the fix"
touch "$T/fixed"
out=$(clapper retry --json "$job")
assert_eq "$(jq -r '.jobs[0].retried' <<<"$out")" 1 "tasks retried"
clapper wait "$job" >/dev/null 2>&1 || fail "the retried job did not succeed"
assert_eq "$(clapper tasks "$job" --json | jq -r '.tasks[0].attempts')" 2 "attempts after retry"
# Verbs refuse what the state does not allow, with one line.
clapper pause "$job" 2>"$T/err" && fail "a succeeded job was paused"
assert_contains "$(cat "$T/err")" "is succeeded" "pause refusal"
clapper cancel 999999 2>"$T/err" && fail "an unknown job was canceled"
assert_contains "$(cat "$T/err")" "no such job" "cancel of an unknown job"
log "ok"
