#!/usr/bin/env bash
# --log-retention: an attempt log the coordinator has whole is marked
# stored (mode 0400), kept until the age is over, then deleted; a log the
# coordinator does not have whole (cut by --log-stream-max-bytes) is kept
# past the age; `clapper logs` still shows the deleted logs from the
# database; a bad value is refused.
. "$(dirname "$0")/lib.sh"

farm_up 0
start_worker keep --cpus 2 --tags keep --log-retention 10s
start_worker cut --cpus 2 --tags cut --log-retention 1s --log-stream-max-bytes 8

cat >"$T/job.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "kept", "frames": "1-3", "requires": {"tags": ["keep"]},
           "command": ["sh", "-c", "echo hello from task {task_id}"]},
          {"name": "cut", "frames": "1-2", "requires": {"tags": ["cut"]},
           "command": ["sh", "-c", "echo a long line that is not streamed whole {task_id}"]}]}
JSON
out=$(clapper submit --json "$T/job.json")
job=$(job_id_of "$out" 0)
cut=$(job_id_of "$out" 1)
clapper wait --max-wait-s 60 "$job" "$cut" >"$T/wait.out" 2>&1 || fail "jobs failed: $(cat "$T/wait.out")"
done_at=$SECONDS

logs_of() { # WORKER JOB: the attempt log files of JOB on WORKER that exist
  local a
  for a in $(sql "SELECT a.id FROM attempts a JOIN tasks t ON t.id = a.task_id
                  WHERE t.job_id = $2 AND a.worker = '$1'"); do
    [ -f "$T/workers/$1/logs/$a.log" ] && echo "$T/workers/$1/logs/$a.log"
  done
  return 0
}
stored() { [ "$(stat -c %a "$1")" = 400 ]; }
all_stored() { local f; for f in $(logs_of keep "$job"); do stored "$f" || return 1; done; }

# Before the age is over: every log is there, marked stored once acknowledged.
assert_eq "$(logs_of keep "$job" | wc -l)" 3 "logs kept before the age is over"
wait_for 5 all_stored || fail "logs not marked stored: $(stat -c '%n %a' $(logs_of keep "$job"))"
[ $((SECONDS - done_at)) -lt 8 ] || fail "the checks before the age took too long to mean anything"
assert_eq "$(logs_of keep "$job" | wc -l)" 3 "logs kept before the age is over (again)"

# After it, they are deleted; the database still has them.
none_left() { [ "$(logs_of keep "$job" | wc -l)" = 0 ]; }
wait_for 30 none_left || fail "stored logs older than the age were not deleted: $(logs_of keep "$job")"
task=$(clapper tasks "$job" --json | jq -r '.tasks[0].task_id')
assert_contains "$(clapper logs "$task")" "hello from task $task" "the log from the database"
assert_contains "$(cat "$FARM/logs/keep.log")" "log retention: deleted" "the worker says what it deleted"

# Logs the coordinator has only in part stay, though older than their age.
assert_eq "$(logs_of cut "$cut" | wc -l)" 2 "logs the database does not have whole"
for f in $(logs_of cut "$cut"); do
  stored "$f" && fail "$f is marked stored though cut at 8 bytes"
done

# A value that is not an age or a size is refused at start.
if clapper-worker --log-retention 7x --workdir "$T/bad" >"$T/bad.out" 2>&1; then
  fail "--log-retention 7x was accepted"
fi
assert_contains "$(cat "$T/bad.out")" "--log-retention: '7x' has no unit" "refusal"

assert_sound "$job" "$cut"
log "ok"
