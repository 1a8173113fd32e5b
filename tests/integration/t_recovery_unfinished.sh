#!/usr/bin/env bash
# Recovery reads only the work that is not done: a restarted coordinator
# reads the task rows that did not succeed (of unfinished and failed jobs)
# and none of the finished history, through the partial index of 011;
# what it did not read it counts as succeeded, so a failed job can still
# be retried and a paused one resumed, each task succeeding once.
. "$(dirname "$0")/lib.sh"

farm_up 1 --worker-cpus 2

job_file() { # FILE NAME FRAMES COMMAND: one job
  cat >"$1" <<JSON
{"project": "rec", "episode": "e1",
 "jobs": [{"name": "$2", "frames": "$3", "max_attempts": 1, "retry_backoff_s": 0,
           "command": ["sh", "-c", "$4"]}]}
JSON
}
# History: a job of 200 tasks, done.
job_file "$T/a.json" history 1-200 "true"
a=$(submit "$T/a.json")
clapper wait --max-wait-s 120 "$a" >/dev/null || fail "the history job did not succeed"
# A failed job: frames 1 and 2 fail while $T/broken exists.
touch "$T/broken"
job_file "$T/b.json" broken 1-10 "[ {frame_start} -gt 2 ] || [ ! -e $T/broken ]"
b=$(submit "$T/b.json")
clapper wait --max-wait-s 60 "$b" >/dev/null 2>&1 && fail "the broken job succeeded"
assert_eq "$(clapper job "$b" --json | jq -r .state)" failed "state of the broken job"
# A paused job, part done.
job_file "$T/c.json" paused 1-40 "echo {frame_start} >> $T/c.log; sleep 0.2"
c=$(submit "$T/c.json")
some_done() { [ "$(sql "SELECT count(*) FROM tasks WHERE job_id = $c AND state = 'succeeded'")" -ge 5 ]; }
wait_for 60 some_done || fail "the paused job did not start"
clapper pause "$c" >/dev/null || fail "pause failed"
settled() { [ "$(clapper job "$c" --json | jq '.tasks.running + .tasks.dispatched')" = 0 ]; }
wait_for 30 settled || fail "the paused job's running tasks did not finish"

# What a restart must read: the tasks of b and c that did not succeed.
want=$(sql "SELECT count(*) FROM tasks WHERE job_id IN ($b, $c) AND state <> 'succeeded'")
c_done=$(sql "SELECT count(*) FROM tasks WHERE job_id = $c AND state = 'succeeded'")
[ "$want" -lt 40 ] || fail "nothing of the paused job succeeded before the restart"
coord=$(pid_of coordinator)
kill -TERM "$coord"
wait_for 20 gone "$coord" || fail "the coordinator did not stop"
restarted() { [ "$(pid_of coordinator)" != "$coord" ] && grep -q "(.* task rows read)" "$FARM/logs/coordinator.log" &&
  [ "$(grep -c "task rows read" "$FARM/logs/coordinator.log")" -ge 2 ]; }
wait_for 30 restarted || fail "the supervisor did not restart the coordinator"
line=$(grep "task rows read" "$FARM/logs/coordinator.log" | tail -n1)
log "$line"
assert_contains "$line" "recovered 2 unfinished jobs" "jobs recovered (the failed one and the paused one)"
assert_contains "$line" "($want task rows read)" "task rows read: only those that did not succeed"
assert_contains "$line" " ms;" "recovery time logged"

# Recovery's task query matches the partial index of 011 (sequential scans
# off: on a table this small the planner rightly prefers one; on millions
# of rows it picks the index by itself, see README's Performance).
sql "ANALYZE tasks; ANALYZE jobs" >/dev/null
plan=$(sql "SET enable_seqscan = off; EXPLAIN SELECT t.id FROM tasks t JOIN jobs j ON j.id = t.job_id
            WHERE (j.state NOT IN ('succeeded', 'failed', 'canceled') OR j.state = 'failed')
            AND t.state <> 'succeeded'")
assert_contains "$plan" "tasks_not_succeeded" "recovery's task scan uses the partial index"

# The model is whole: counts as before, the failed tasks retried, the
# paused job resumed.
bj=$(clapper job "$b" --json)
assert_eq "$(jq -c '[.tasks.succeeded, .tasks.failed]' <<<"$bj")" "[8,2]" "the failed job's counts after recovery"
cj=$(clapper job "$c" --json)
assert_eq "$(jq .tasks.succeeded <<<"$cj")" "$c_done" "the paused job's succeeded tasks after recovery"
rm "$T/broken"
clapper retry "$b" >/dev/null || fail "retry of the failed job refused"
clapper resume "$c" >/dev/null || fail "resume refused"
clapper wait --max-wait-s 120 "$b" "$c" >"$T/wait.out" 2>&1 || fail "jobs did not succeed: $(cat "$T/wait.out")"
assert_eq "$(sort -n "$T/c.log" | uniq -d | wc -l)" 0 "frames of the paused job run twice"
assert_eq "$(wc -l <"$T/c.log")" 40 "runs of the paused job"
assert_sound "$a" "$b" "$c"
log "ok"
