#!/usr/bin/env bash
# Templates for real renderers: a 48-frame povray animation in chunks of 4
# (12 tasks) declares one output per frame with {frame:02} (povray pads to
# the digits of the final frame), all 48 checked and recorded; an encode-like
# job finds them through {job:render:output_dir}; an argument is repeated per
# frame of a stepped chunk; a chunk whose frame is missing fails naming it;
# {attempt} is the try number (1, then 2) and {attempt_id} the id; bad
# templates are refused at submit with one line and change nothing.
. "$(dirname "$0")/lib.sh"

command -v povray >/dev/null || fail "povray is not installed (make deps DEPS=test)"
farm_up 2

scene="$CLAPPER_SOURCE_DIR/deploy/examples/scene.pov"
cat >"$T/anim.json" <<JSON
{"project": "demo", "episode": "tmpl",
 "jobs": [
  {"name": "render", "shot": "sh010", "kind": "render", "frames": "1-48", "chunk": 4,
   "command": ["povray", "+I$scene", "+O{output_dir}/frame.png", "+KFI1", "+KFF48",
               "+SF{frame_start}", "+EF{frame_end}", "+W32", "+H24", "-D"],
   "outputs": ["{output_dir}/frame{frame:02}.png"], "timeout_s": 120},
  {"name": "encode", "shot": "sh010", "after": ["render"],
   "command": ["sh", "-c", "n=\$(ls \"\$1\"/frame*.png | wc -l); echo \$n >\"\$2/count.txt\"; [ \$n -eq 48 ]",
               "encode", "{job:render:output_dir}", "{output_dir}"],
   "outputs": ["count.txt"]},
  {"name": "stepped", "frames": "1-10x2", "chunk": 3,
   "command": ["sh", "-c", "for f; do echo {frame_start:03}-{frame_end:03} >\"\$f\"; done", "touch",
               "{output_dir}/f{frame:04}.txt"],
   "outputs": ["{output_dir}/f{frame:04}.txt"]},
  {"name": "flaky", "max_attempts": 3, "retry_backoff_s": 0,
   "command": ["sh", "-c", "echo try {attempt:02}; echo {attempt} {attempt_id} >>$T/tries.txt; [ -e $T/flag ] || { : >$T/flag; exit 1; }"]}
 ]}
JSON
out=$(clapper submit --json "$T/anim.json")
render=$(job_id_of "$out" 0)
encode=$(job_id_of "$out" 1)
stepped=$(job_id_of "$out" 2)
flaky=$(job_id_of "$out" 3)
clapper wait "$render" "$encode" "$stepped" "$flaky" >"$T/wait.out" 2>&1 ||
  fail "the jobs did not succeed: $(cat "$T/wait.out")"

# 12 tasks, 48 frames, each declared, checked and recorded on its task.
assert_eq "$(sql "SELECT count(*) FROM tasks WHERE job_id = $render")" 12 "render tasks"
rdir=$(sql "SELECT output_dir FROM jobs WHERE id = $render")
for f in $(seq -f '%02g' 1 48); do
  [ -s "$rdir/frame$f.png" ] || fail "frame $f was not rendered: $rdir/frame$f.png"
done
recorded=$(sql "SELECT count(DISTINCT o ->> 'path') FROM attempts a JOIN tasks t ON t.id = a.task_id,
                jsonb_array_elements(a.outputs) o WHERE t.job_id = $render AND a.state = 'succeeded'")
assert_eq "$recorded" 48 "frames recorded on the render's attempts"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id,
                  jsonb_array_elements(a.outputs) o WHERE t.job_id = $render AND t.frame_start = 5
                  AND o ->> 'path' LIKE '%/frame0_.png'")" 4 "chunk 5-8 declares four frames"

# The encode found the render's frames through {job:render:output_dir},
# resolved at submit into the spec it keeps.
edir=$(sql "SELECT output_dir FROM jobs WHERE id = $encode")
assert_eq "$(cat "$edir/count.txt")" 48 "frames the encode found"
spec=$(sql "SELECT spec -> 'command' ->> 4 FROM jobs WHERE id = $encode")
assert_eq "$spec" "$rdir" "stored spec holds the resolved directory"

# {frame:04} repeated an argument and an output per frame of a stepped chunk.
sdir=$(sql "SELECT output_dir FROM jobs WHERE id = $stepped")
assert_eq "$(cd "$sdir" && echo f*.txt)" "f0001.txt f0003.txt f0005.txt f0007.txt f0009.txt" \
  "stepped frames"
assert_eq "$(cat "$sdir/f0003.txt") $(cat "$sdir/f0009.txt")" "001-005 007-009" "padded chunk bounds"

# {attempt} is the try number, {attempt_id} the farm-wide id.
ids=$(sql "SELECT string_agg(a.id || ':' || a.try_no, ' ' ORDER BY a.id) FROM attempts a
           JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $flaky")
read -r a1 a2 <<<"$ids"
assert_eq "$(cat "$T/tries.txt" | tr '\n' ' ')" "1 ${a1%:1} 2 ${a2%:2} " "{attempt} {attempt_id} of two tries"
assert_eq "$ids" "${a1%:1}:1 ${a2%:2}:2" "try numbers stored"
assert_eq "$(sql "SELECT tries FROM tasks WHERE job_id = $flaky")" 2 "the task's tries"

# What people read: the try number in `tasks`, every try in `attempts`,
# `logs --attempt N` the Nth try and --attempt-id the id.
ftask=$(sql "SELECT id FROM tasks WHERE job_id = $flaky")
assert_eq "$(clapper tasks "$flaky" --json | jq -c '.tasks[0] | [.attempt, .attempts, .attempt_id]')" \
  "[2,2,${a2%:2}]" "tasks --json: attempt number, count and id"
clapper tasks "$flaky" >"$T/tasks.out"
assert_eq "$(awk 'NR == 1 { print $4 } NR == 2 { print $4 }' "$T/tasks.out" | tr '\n' ' ')" "ATTEMPT 2 " \
  "the tasks table's ATTEMPT column"
assert_eq "$(clapper attempts "$ftask" --json | jq -c '[.attempts[] | [.attempt, .attempt_id, .state, .exit_code]]')" \
  "[[1,${a1%:1},\"failed\",1],[2,${a2%:2},\"succeeded\",0]]" "attempts --json"
clapper attempts "$ftask" >"$T/attempts.out"
assert_eq "$(awk 'NR > 1 { print $1, $2, $4 }' "$T/attempts.out" | tr '\n' ' ')" \
  "1 ${a1%:1} failed 2 ${a2%:2} succeeded " "the attempts table"
assert_eq "$(clapper logs "$ftask" --attempt 1)" "try 01" "logs --attempt 1: the first try"
assert_eq "$(clapper logs "$ftask" --attempt 2)" "try 02" "logs --attempt 2"
assert_eq "$(clapper logs "$ftask" --attempt-id "${a1%:1}")" "try 01" "logs --attempt-id"
assert_eq "$(clapper logs "$ftask" --attempt 1 --json | jq -c '[.attempt, .attempt_id]')" \
  "[1,${a1%:1}]" "logs --json: try number and id"
if msg=$(clapper logs "$ftask" --attempt 3 2>&1); then fail "logs of a third try that never ran"; fi
assert_eq "$msg" "clapper: task $ftask has no attempt 3" "logs --attempt past the last try"

# A chunk whose frame is missing fails and names the missing file.
cat >"$T/missing.json" <<JSON
{"project": "demo", "episode": "tmpl",
 "jobs": [{"name": "holes", "frames": "1-4", "chunk": 4, "max_attempts": 1,
           "command": ["sh", "-c", "for f in 1 2 4; do : >\"\$0/frame0\$f.png\"; done", "{output_dir}"],
           "outputs": ["frame{frame:02}.png"]}]}
JSON
holes=$(submit "$T/missing.json")
if clapper wait "$holes" >/dev/null 2>&1; then fail "a chunk with a missing frame succeeded"; fi
err=$(clapper tasks "$holes" --json | jq -r '.tasks[0].error')
assert_contains "$err" "frame03.png" "the failed attempt names the missing frame"

# Refused at submit, one line each, nothing made; the coordinator serves on.
jobs_before=$(sql "SELECT count(*) FROM jobs")
refuse() { # JOBS_JSON EXPECTED
  printf '{"project": "demo", "episode": "tmpl", "jobs": [%s]}' "$1" >"$T/bad.json"
  local msg
  if msg=$(clapper submit --no-local-check "$T/bad.json" 2>&1); then fail "accepted: $1"; fi
  assert_eq "$(printf '%s\n' "$msg" | wc -l)" 1 "one line for $1"
  assert_contains "$msg" "$2" "refusal of $1"
}
refuse '{"name": "a", "frames": "1-4", "command": ["r", "{frame_end:4}"]}' \
  "jobs[0].command[1]: placeholder {frame_end:4}: the only format is a zero-padded width"
refuse '{"name": "a", "frames": "1-4", "command": ["r", "{frame:x}"]}' "placeholder {frame:x}"
refuse '{"name": "a", "command": ["r", "{shot:04}"]}' "only numbers take a width"
refuse '{"name": "a", "command": ["r", "{fram_start:04}"]}' "unknown placeholder {fram_start:04}"
refuse '{"name": "a", "command": ["r", "{frame:02}"]}' "is only available in a job with frames"
refuse '{"name": "a", "frames": "1-4", "command": ["r"], "env": {"F": "{frame}"}}' \
  "jobs[0].env.F: {frame} repeats an argument or an output once per frame"
refuse '{"name": "a", "command": ["r", "{job:nope:output_dir}"]}' \
  "jobs[0].command[1]: {job:nope:output_dir}: no job named 'nope' in this file"
refuse '{"name": "a", "command": ["r"], "outputs": ["{job:a:output_dir}/x"]}' "names the job itself"
refuse '{"name": "a", "command": ["r", "{job:a:take}"]}' "{job:NAME:output_dir}"
refuse '{"name": "a", "frames": "1-5000", "chunk": 5000, "command": ["r", "{frame}"]}' \
  "5001 arguments, more than 4096"
assert_eq "$(sql "SELECT count(*) FROM jobs")" "$jobs_before" "jobs after the refusals"
clapper jobs >/dev/null || fail "the coordinator stopped serving"

assert_sound "$render" "$encode" "$stepped" "$flaky"
log "ok"
