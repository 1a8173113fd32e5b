#!/usr/bin/env bash
# Frame-wise dependencies ({"job": ..., "frames": true} in `after`): a comp
# task starts once the render tasks covering its frames succeeded, before
# the render job ends, also across a coordinator restart; a failing render
# chunk cancels the comp (and what runs after it), and retrying the render
# brings them back, but never a job a person canceled; `cancel A B --note`
# lists every job it changed with the note as the cascaded reason; bad
# `after` objects are refused with one line and change nothing.
. "$(dirname "$0")/lib.sh"

farm_up 2 --worker-cpus 2

# The first start of each task of a job, and the end of the succeeded
# attempt of each render task meeting its frames, checked in SQL:
# no comp task started before the render tasks covering its frames ended.
early_starts() { # RENDER COMP: comp tasks that started too early
  sql "SELECT count(*) FROM tasks c WHERE c.job_id = $2 AND
         (SELECT min(a.started_at) FROM attempts a WHERE a.task_id = c.id) <
         (SELECT max(a.ended_at) FROM tasks r JOIN attempts a ON a.task_id = r.id AND a.state = 'succeeded'
          WHERE r.job_id = $1 AND r.frame_start <= c.frame_end AND r.frame_end >= c.frame_start)"
}
before_end() { # RENDER COMP: comp tasks that started before the render job ended
  sql "SELECT count(*) FROM tasks c WHERE c.job_id = $2 AND
         (SELECT min(a.started_at) FROM attempts a WHERE a.task_id = c.id) <
         (SELECT max(a.ended_at) FROM attempts a JOIN tasks r ON r.id = a.task_id WHERE r.job_id = $1)"
}

# --- 1. render 12 frames in chunks of 2, comp in chunks of 3 after it frame-wise;
# the coordinator is killed mid-way and restarted.
cat >"$T/rc.json" <<JSON
{"project": "fd", "episode": "e1",
 "jobs": [{"name": "render", "frames": "1-12", "chunk": 2,
           "command": ["sh", "-c", "sleep 1.5"]},
          {"name": "comp", "frames": "1-12", "chunk": 3, "after": [{"job": "render", "frames": true}],
           "command": ["sh", "-c", "sleep 0.2"]}]}
JSON
out=$(clapper submit --json "$T/rc.json")
render=$(job_id_of "$out" 0)
comp=$(job_id_of "$out" 1)
assert_eq "$(sql "SELECT kind FROM job_deps WHERE job_id = $comp")" after_frames "frame-wise dependency recorded"
# Not waiting as a whole: queued (or running already); its last chunk
# waits for the render's last chunk, of the second wave.
assert_contains "queued running" "$(clapper job "$comp" --json | jq -r .state)" "comp is not waiting as a whole"
[ "$(sql "SELECT count(*) FROM tasks WHERE job_id = $comp AND state = 'waiting'")" -ge 1 ] ||
  fail "no comp task waits for its frames"
some_render_done() { [ "$(sql "SELECT count(*) FROM tasks WHERE job_id = $render AND state = 'succeeded'")" -ge 2 ]; }
wait_for 30 some_render_done || fail "render tasks did not succeed"
kill -9 "$(pid_of coordinator)"
log "killed the coordinator with $(sql "SELECT count(*) FROM tasks WHERE job_id = $render AND state = 'succeeded'") render tasks succeeded"
sleep 1
clapper local up --dir "$FARM" >"$T/up2.out" 2>&1 || fail "restart failed: $(cat "$T/up2.out")"
clapper wait --max-wait-s 120 "$render" "$comp" >"$T/wait.out" 2>&1 ||
  fail "render and comp did not succeed: $(cat "$T/wait.out")"
assert_eq "$(early_starts "$render" "$comp")" 0 "comp tasks that started before the render tasks of their frames ended"
[ "$(before_end "$render" "$comp")" -ge 1 ] || fail "no comp task started before the render job ended"
log "comp tasks started before render ended: $(before_end "$render" "$comp") of 4"
assert_sound "$render" "$comp"

# --- 2. a failing render chunk cancels comp (frame-wise) and final (after comp);
# held was canceled by a person and stays canceled; retry brings the rest back.
cat >"$T/fail.json" <<JSON
{"project": "fd", "episode": "e1",
 "jobs": [{"name": "r2", "frames": "1-4", "chunk": 2, "max_attempts": 1,
           "command": ["sh", "-c", "if [ {frame_start} = 3 ] && [ ! -f $T/ok ]; then until [ -f $T/go ]; do sleep 0.1; done; exit 1; fi; sleep 0.2"]},
          {"name": "c2", "frames": "1-4", "after": [{"job": "r2", "frames": true}],
           "command": ["sh", "-c", "echo {frame_start} >> $T/c2.log"]},
          {"name": "final", "after": ["c2"], "command": ["true"]},
          {"name": "held", "after": ["r2"], "command": ["true"]}]}
JSON
out=$(clapper submit --json "$T/fail.json")
r2=$(job_id_of "$out" 0)
c2=$(job_id_of "$out" 1)
final=$(job_id_of "$out" 2)
held=$(job_id_of "$out" 3)
clapper cancel "$held" --note "not this one" >/dev/null || fail "cancel of held refused"
c2_two() { [ "$(sql "SELECT count(*) FROM tasks WHERE job_id = $c2 AND state = 'succeeded'")" = 2 ]; }
wait_for 30 c2_two || fail "comp frames 1 and 2 did not run while r2 ran"
touch "$T/go" # now chunk 3-4 fails
clapper wait --max-wait-s 60 "$r2" >/dev/null 2>&1 && fail "r2 succeeded although chunk 3-4 fails"
wait_for 10 sh -c "[ \"\$(clapper job $final --json | jq -r .state)\" = canceled ]" || fail "final not canceled"
assert_eq "$(clapper job "$r2" --json | jq -r .state)" failed "r2 state"
json=$(clapper job "$c2" --json)
assert_eq "$(jq -r .state <<<"$json")" canceled "c2 state"
assert_eq "$(jq -r .reason <<<"$json")" "dependency job $r2 failed" "c2 reason"
assert_eq "$(jq -r .tasks.succeeded <<<"$json")" 2 "c2 frames 1 and 2 ran before r2 failed"
assert_eq "$(clapper job "$final" --json | jq -r .reason)" "dependency job $c2 was canceled" "final reason"
assert_eq "$(sql "SELECT canceled_by FROM jobs WHERE id = $final")" "$c2" "final remembers why"
assert_eq "$(sql "SELECT canceled_by IS NULL FROM jobs WHERE id = $held")" t "held was canceled by a person"

# retry of a job canceled for its dependency: one line pointing at the failed job.
sql "SELECT id, state, reason FROM jobs ORDER BY id" >"$T/before"
msg=$(clapper retry "$final" 2>&1) && fail "retry of a canceled dependent accepted"
assert_contains "$msg" "retry job $r2" "retry of final says what to retry"
msg=$(clapper resume "$c2" 2>&1) && fail "resume of a canceled dependent accepted"
assert_contains "$msg" "retry job $r2" "resume of c2 says what to retry"

# The coordinator restarts in between: the chain comes back from the database.
kill -TERM "$(pid_of coordinator)"
assert_gone "$FARM/run/coordinator.pid" "SIGTERM"
clapper local up --dir "$FARM" >"$T/up3.out" 2>&1 || fail "restart failed: $(cat "$T/up3.out")"
sql "SELECT id, state, reason FROM jobs ORDER BY id" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "refused verbs or the restart changed jobs: $(diff "$T/before" "$T/after")"

touch "$T/ok"
out=$(clapper retry "$r2" --json) || fail "retry of r2 refused"
jq -c '.jobs[] | {job_id, state, cascade}' <<<"$out" >&2
assert_eq "$(jq -r '[.jobs[].job_id] | sort | map(tostring) | join(",")' <<<"$out")" "$r2,$c2,$final" "retry lists r2 and the jobs it revived"
assert_eq "$(jq -r --argjson id "$c2" '.jobs[] | select(.job_id == $id) | .cascade' <<<"$out")" true "c2 changed with r2"
clapper wait --max-wait-s 60 "$r2" "$c2" "$final" >"$T/wait2.out" 2>&1 ||
  fail "the revived chain did not succeed: $(cat "$T/wait2.out")"
assert_eq "$(sort -n "$T/c2.log" | tr '\n' ' ')" "1 2 3 4 " "each comp frame ran once"
assert_eq "$(clapper job "$held" --json | jq -r .state)" canceled "the job a person canceled stays canceled"
assert_eq "$(sql "SELECT count(*) FROM events WHERE kind = 'job.revive' AND subject_id IN ('$c2', '$final')")" 2 "revivals logged"
assert_sound "$r2" "$c2" "$final"

# --- 3. cancel A B --note: every job it changed, with the note.
cat >"$T/cancel.json" <<JSON
{"project": "fd", "episode": "e1",
 "jobs": [{"name": "ca", "command": ["sleep", "30"]},
          {"name": "cb", "after": ["ca"], "command": ["true"]},
          {"name": "cc", "after": ["cb"], "command": ["true"]}]}
JSON
out=$(clapper submit --json "$T/cancel.json")
ca=$(job_id_of "$out" 0)
cb=$(job_id_of "$out" 1)
cc=$(job_id_of "$out" 2)
human=$(clapper cancel "$ca" "$cb" --note "wrong plate") || fail "cancel refused"
printf '%s\n' "$human" >&2
for j in "$ca" "$cb" "$cc"; do
  assert_contains "$human" "job $j " "cancel lists job $j"
  assert_eq "$(clapper job "$j" --json | jq -r .state)" canceled "job $j canceled"
done
assert_contains "$human" "dependency job $cb was canceled by" "cc's line names why"
assert_contains "$(clapper job "$cb" --json | jq -r .reason)" "was canceled by" "cb's reason names who"
assert_contains "$(clapper job "$cb" --json | jq -r .reason)" ": wrong plate" "cb's reason carries the note"
assert_contains "$(clapper job "$cc" --json | jq -r .reason)" ": wrong plate" "cc's reason carries the note"
assert_eq "$(sql "SELECT details->>'note' FROM events WHERE kind = 'job.cancel' AND subject_id = '$cc'")" "wrong plate" "cc's cancel event"

# --- 4. refusals: one line naming the field, nothing changes.
cat >"$T/noframes.json" <<JSON
{"project": "fd", "episode": "e1", "jobs": [{"name": "plain", "command": ["true"]}]}
JSON
plain=$(submit "$T/noframes.json")
clapper wait "$plain" >/dev/null 2>&1 || fail "plain did not succeed"
sql "SELECT count(*) FROM jobs" >"$T/njobs"
refuse() { # JOBS_JSON EXPECTED
  printf '{"project": "fd", "episode": "e1", "jobs": %s}\n' "$1" >"$T/bad.json"
  local msg
  msg=$(clapper submit "$T/bad.json" 2>&1) && fail "accepted: $1"
  assert_contains "$msg" "$2" "refusal of $1"
  assert_eq "$(printf '%s\n' "$msg" | wc -l)" 1 "one line for $1"
}
R='{"name": "r", "frames": "1-10", "command": ["true"]}'
refuse "[$R, {\"name\": \"c\", \"frames\": \"1-10\", \"after\": [{\"job\": \"nope\", \"frames\": true}], \"command\": [\"true\"]}]" \
  "jobs[1].after[0]: no job named 'nope' in this file"
refuse "[$R, {\"name\": \"c\", \"after\": [{\"job\": \"r\", \"frames\": true}], \"command\": [\"true\"]}]" \
  "jobs[1].after[0].frames: this job has no frames"
refuse "[{\"name\": \"r\", \"command\": [\"true\"]}, {\"name\": \"c\", \"frames\": \"1-3\", \"after\": [{\"job\": \"r\", \"frames\": true}], \"command\": [\"true\"]}]" \
  "jobs[1].after[0].frames: job 'r' has no frames"
refuse "[$R, {\"name\": \"c\", \"frames\": \"1-3\", \"after\": [{\"job\": \"r\", \"frames\": \"yes\"}], \"command\": [\"true\"]}]" \
  "jobs[1].after[0].frames: must be true or false"
refuse "[$R, {\"name\": \"c\", \"frames\": \"1-3\", \"after\": [{\"job\": \"r\", \"frame\": true}], \"command\": [\"true\"]}]" \
  "jobs[1].after[0].frame: unknown field"
refuse "[$R, {\"name\": \"c\", \"frames\": \"1-3\", \"after\": [{\"frames\": true}], \"command\": [\"true\"]}]" \
  "jobs[1].after[0].job: required"
refuse "[$R, {\"name\": \"c\", \"frames\": \"5-12\", \"after\": [{\"job\": \"r\", \"frames\": true}], \"command\": [\"true\"]}]" \
  "jobs[1].after[0].frames: frame 11 of this job is not a frame of job 'r'"
refuse "[{\"name\": \"c\", \"frames\": \"1-3\", \"after\": [{\"job\": $plain, \"frames\": true}], \"command\": [\"true\"]}]" \
  "jobs[0].after[0].frames: job $plain has no frames"
refuse "[{\"name\": \"c\", \"frames\": \"1-3\", \"after\": [{\"job\": 999999, \"frames\": true}], \"command\": [\"true\"]}]" \
  "jobs[0].after[0]: no job 999999"
assert_eq "$(sql "SELECT count(*) FROM jobs")" "$(cat "$T/njobs")" "refused submissions made no job"
clapper jobs >/dev/null || fail "the coordinator stopped serving"
log "ok"
