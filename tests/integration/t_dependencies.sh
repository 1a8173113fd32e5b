#!/usr/bin/env bash
# Dependencies: every task of B starts after the last task of A ends; a job
# may also run after an existing job id; A failing cancels B (and what runs
# after B); a cycle is refused at submit.
. "$(dirname "$0")/lib.sh"

farm_up 2 --worker-cpus 2

cat >"$T/ab.json" <<JSON
{"project": "deps", "episode": "e1",
 "jobs": [{"name": "b", "after": ["a"], "frames": "1-4", "command": ["sleep", "0.2"]},
          {"name": "a", "frames": "1-3", "command": ["sleep", "2"]}]}
JSON
out=$(clapper submit --json "$T/ab.json")
b=$(job_id_of "$out" 0)
a=$(job_id_of "$out" 1)
assert_eq "$(clapper job "$b" --json | jq -r .state)" waiting "B waits for A"
clapper wait "$a" "$b" >/dev/null 2>&1 || fail "A and B did not succeed"
assert_eq "$(sql "SELECT (SELECT min(a.started_at) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $b)
                 >= (SELECT max(a.ended_at) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $a)")" \
  t "B's first task started after A's last task ended"
assert_eq "$(sql "SELECT depends_on FROM job_deps WHERE job_id = $b")" "$a" "dependency recorded"
# B was queued only once A had succeeded (the event log orders it).
assert_eq "$(sql "SELECT (SELECT min(id) FROM events WHERE subject_id = '$b' AND kind = 'job.state' AND details->>'from' = 'waiting')
                 > (SELECT min(id) FROM events WHERE subject_id = '$a' AND kind = 'job.state' AND details->>'to' = 'succeeded')")" \
  t "B left waiting after A succeeded"

# After an existing job, by id.
cat >"$T/c.json" <<JSON
{"project": "deps", "episode": "e1", "jobs": [{"name": "c", "after": [$a], "command": ["true"]}]}
JSON
c=$(submit "$T/c.json")
clapper wait "$c" >/dev/null 2>&1 || fail "a job after a finished job did not run"

# A fails: B is canceled, and so is D after B, with the reason.
cat >"$T/fail.json" <<JSON
{"project": "deps", "episode": "e1",
 "jobs": [{"name": "fa", "command": ["sh", "-c", "sleep 0.3; exit 1"], "max_attempts": 1},
          {"name": "fb", "after": ["fa"], "command": ["true"]},
          {"name": "fd", "after": ["fb"], "command": ["true"]}]}
JSON
out=$(clapper submit --json "$T/fail.json")
fa=$(job_id_of "$out" 0)
fb=$(job_id_of "$out" 1)
fd=$(job_id_of "$out" 2)
clapper wait "$fa" "$fb" "$fd" >/dev/null 2>&1 && fail "wait succeeded although A failed"
assert_eq "$(clapper job "$fa" --json | jq -r .state)" failed "A state"
json=$(clapper job "$fb" --json)
assert_eq "$(jq -r .state <<<"$json")" canceled "B state"
assert_contains "$(jq -r .reason <<<"$json")" "dependency job $fa failed" "B's reason"
assert_eq "$(jq -r .tasks.canceled <<<"$json")" 1 "B's task canceled"
assert_eq "$(clapper job "$fd" --json | jq -r .reason)" "dependency job $fb was canceled" "D's reason"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id IN ($fb, $fd)")" \
  0 "nothing of B or D ran"

# After a job that already failed: canceled at once.
cat >"$T/late.json" <<JSON
{"project": "deps", "episode": "e1", "jobs": [{"name": "late", "after": [$fa], "command": ["true"]}]}
JSON
late=$(submit "$T/late.json")
assert_eq "$(clapper job "$late" --json | jq -r .state)" canceled "a job after a failed job"

# Cycles and unknown names are refused, by the client and the coordinator.
cat >"$T/cycle.json" <<JSON
{"project": "deps", "episode": "e1",
 "jobs": [{"name": "x", "after": ["y"], "command": ["true"]},
          {"name": "y", "after": ["x"], "command": ["true"]}]}
JSON
before=$(sql "SELECT count(*) FROM jobs")
for extra in "" --no-local-check; do
  clapper submit $extra "$T/cycle.json" 2>"$T/err" && fail "a cycle was accepted ($extra)"
  assert_contains "$(cat "$T/err")" "dependency cycle" "cycle message ($extra)"
done
printf '%s' '{"project": "deps", "episode": "e1", "jobs": [{"name": "z", "after": ["nope"], "command": ["true"]}]}' >"$T/unknown.json"
clapper submit "$T/unknown.json" 2>"$T/err" && fail "an unknown name was accepted"
assert_contains "$(cat "$T/err")" "jobs[0].after[0]" "unknown name message"
printf '%s' '{"project": "deps", "episode": "e1", "jobs": [{"name": "z", "after": [999999], "command": ["true"]}]}' >"$T/noid.json"
clapper submit "$T/noid.json" 2>"$T/err" && fail "an unknown job id was accepted"
assert_contains "$(cat "$T/err")" "no job 999999" "unknown id message"
assert_eq "$(sql "SELECT count(*) FROM jobs")" "$before" "jobs after refused submissions"
log "ok"
