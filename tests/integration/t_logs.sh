#!/usr/bin/env bash
# Logs: `clapper logs TASK -f` shows a task's lines while it still runs and
# stops when it ends; `clapper logs TASK` prints the whole log afterwards;
# the coordinator keeps at most its cap per attempt and says so.
. "$(dirname "$0")/lib.sh"

farm_up 1 --coordinator-arg=--log-cap-bytes=20000

cat >"$T/ticker.json" <<JSON
{"project": "logs", "episode": "e1",
 "jobs": [{"name": "ticker",
           "command": ["sh", "-c", "for i in 1 2 3 4 5 6; do echo tick \$i; echo warn \$i >&2; sleep 0.5; done; echo été ✓"]}]}
JSON
job=$(submit "$T/ticker.json")
task=$(clapper tasks "$job" --json | jq -r '.tasks[0].task_id')
clapper logs "$task" -f >"$T/follow.out" 2>"$T/follow.err" &
follower=$!

# The first lines show up while the task is still running.
wait_for 20 grep -q "tick 2" "$T/follow.out" || fail "no log lines while the task runs: $(cat "$T/follow.out" "$T/follow.err")"
assert_eq "$(clapper tasks "$job" --json | jq -r '.tasks[0].state')" running "task state when tick 2 was shown"
grep -q "tick 6" "$T/follow.out" && fail "the whole log was there before the task ended"

wait "$follower" || fail "clapper logs -f exited with $?"
clapper wait "$job" >/dev/null 2>&1 || fail "the ticker failed"
for i in 1 2 3 4 5 6; do
  grep -qx "tick $i" "$T/follow.out" || fail "tick $i missing from the followed log"
  grep -qx "warn $i" "$T/follow.out" || fail "stderr line warn $i missing"
done
grep -qx "été ✓" "$T/follow.out" || fail "UTF-8 text mangled: $(tail -n1 "$T/follow.out")"
clapper logs "$task" >"$T/all.out" || fail "clapper logs failed"
cmp -s "$T/all.out" "$T/follow.out" || fail "the followed log and the log differ"
# It is the attempt's log file on the worker, byte for byte.
attempt=$(clapper tasks "$job" --json | jq -r '.tasks[0].attempt_id')
cmp -s "$T/all.out" "$FARM/workers/local-1/logs/$attempt.log" || fail "stored log differs from the worker's file"

# A chatty task: the database keeps the first 20000 bytes, and says so.
cat >"$T/chatty.json" <<JSON
{"project": "logs", "episode": "e1",
 "jobs": [{"name": "chatty", "command": ["sh", "-c", "seq 1 20000"]}]}
JSON
job=$(submit "$T/chatty.json")
clapper wait "$job" >/dev/null 2>&1 || fail "the chatty task failed"
task=$(clapper tasks "$job" --json | jq -r '.tasks[0].task_id')
json=$(clapper logs "$task" --json)
assert_eq "$(jq -r .truncated <<<"$json")" true "truncated flag"
assert_eq "$(jq -r .data <<<"$json" | head -c 20000 | wc -c)" 20000 "bytes kept"
assert_eq "$(jq -r '.data | length' <<<"$json")" 20000 "characters returned"
assert_eq "$(sql "SELECT sum(length(data)) FROM attempt_logs l JOIN attempts a ON a.id = l.attempt_id JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job")" \
  20000 "bytes stored"
assert_eq "$(jq -r .log_path.worker <<<"$json")" local-1 "where the whole log is"
assert_contains "$(jq -r .log_path.path <<<"$json")" "/logs/" "path of the whole log"

# A task that has not started yet.
clapper drain local-1 >/dev/null
job=$(submit "$T/chatty.json")
task=$(clapper tasks "$job" --json | jq -r '.tasks[0].task_id')
clapper logs "$task" >"$T/none.out" 2>"$T/none.err" || fail "logs of a waiting task failed"
assert_contains "$(cat "$T/none.err")" "has not started yet" "logs of a waiting task"
clapper cancel "$job" >/dev/null
clapper logs 999999 2>"$T/err" && fail "logs of an unknown task"
assert_contains "$(cat "$T/err")" "no such task" "logs of an unknown task"
log "ok"
