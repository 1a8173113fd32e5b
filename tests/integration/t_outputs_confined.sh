#!/usr/bin/env bash
# Outputs are confined and hashed safely; no process outlives its attempt.
#  - outputs outside output_dir (/etc/shadow, {output_dir}/../../x, a
#    symbolic link to a file outside), a FIFO, a directory and /dev/zero
#    fail their attempt with one line naming the output and why, in the
#    attempt's error and its log; nothing is recorded for them (no take, no
#    outputs on the attempt);
#  - an output flipped between a file and a FIFO by another process while
#    the worker checks it: the attempt ends at once, either with the hash
#    of the file or refused; meanwhile the worker keeps serving (another
#    job is canceled) and a canceled attempt never becomes succeeded;
#  - `setsid sleep 901 &` in a task is gone when the attempt ends, when it
#    exits and when it is canceled.
. "$(dirname "$0")/lib.sh"

farm_up 1

cat >"$T/bad.json" <<'JSON'
{"project": "conf", "episode": "e1",
 "jobs": [
  {"name": "shadow", "kind": "generate", "max_attempts": 1, "command": ["true"],
   "outputs": ["/etc/shadow"]},
  {"name": "dotdot", "kind": "generate", "max_attempts": 1, "command": ["true"],
   "outputs": ["{output_dir}/../../x"]},
  {"name": "link", "kind": "generate", "max_attempts": 1,
   "command": ["ln", "-s", "/etc/passwd", "{output_dir}/take"], "outputs": ["{output_dir}/take"]},
  {"name": "fifo", "kind": "generate", "max_attempts": 1,
   "command": ["mkfifo", "{output_dir}/take"], "outputs": ["{output_dir}/take"]},
  {"name": "dir", "kind": "generate", "max_attempts": 1,
   "command": ["mkdir", "{output_dir}/take"], "outputs": ["{output_dir}/take"]},
  {"name": "devzero", "kind": "generate", "max_attempts": 1, "command": ["true"],
   "outputs": ["/dev/zero"]},
  {"name": "good", "kind": "generate", "max_attempts": 1,
   "command": ["sh", "-c", "printf hello > {output_dir}/take"], "outputs": ["{output_dir}/take"]}
 ]}
JSON
reply=$(clapper submit --json "$T/bad.json")
first=$(job_id_of "$reply" 0)
last=$(job_id_of "$reply" 6)
jobs=$(jq -r '.jobs[].job_id' <<<"$reply" | tr '\n' ' ')
for j in $jobs; do
  clapper wait "$j" >/dev/null 2>&1 || true
done

expect_refused() { # JOB_INDEX OUTPUT WHY
  local j
  j=$(job_id_of "$reply" "$1")
  assert_eq "$(sql "SELECT state FROM jobs WHERE id = $j")" failed "state of job $j ($2)"
  local err
  err=$(sql "SELECT a.error FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $j")
  assert_contains "$err" "output refused: " "error of job $j"
  assert_contains "$err" "$3" "error of job $j"
  assert_eq "$(sql "SELECT a.outputs::text FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $j")" \
    "[]" "outputs recorded on the attempt of job $j"
  assert_eq "$(sql "SELECT count(*) FROM takes WHERE job_id = $j")" 0 "takes of job $j"
  local task
  task=$(clapper tasks "$j" --json | jq -r '.tasks[0].task_id')
  assert_contains "$(clapper logs "$task")" "clapper-worker: output refused: " "log of job $j"
}
expect_refused 0 /etc/shadow "/etc/shadow: outside the output directory"
expect_refused 1 "../../x" "'..' leaves the output directory"
expect_refused 2 take "a symbolic link"
expect_refused 3 take "a FIFO, not a regular file"
expect_refused 4 take "a directory, not a regular file"
expect_refused 5 /dev/zero "/dev/zero: outside the output directory"
assert_eq "$(sql "SELECT state FROM jobs WHERE id = $last")" succeeded "the good job"
assert_eq "$(sql "SELECT outputs->0->>'sha256' FROM takes WHERE job_id = $last")" \
  2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 "the good take's hash"
assert_eq "$(sql "SELECT count(*) FROM takes WHERE outputs::text LIKE '%shadow%' OR outputs::text LIKE '%/dev/zero%'")" \
  0 "takes naming a refused output"
: "$first"

# ---- a file-to-FIFO flip while the worker checks the output.
cat >"$T/flip.json" <<'JSON'
{"project": "conf", "episode": "e1",
 "jobs": [{"name": "flip", "max_attempts": 1, "command": ["sleep", "1.5"],
           "outputs": ["{output_dir}/take"]}]}
JSON
cat >"$T/slow.json" <<'JSON'
{"project": "conf", "episode": "e1",
 "jobs": [{"name": "slow", "max_attempts": 1, "command": ["sleep", "60"]}]}
JSON
flip=$(submit "$T/flip.json")
dir=$(sql "SELECT output_dir FROM jobs WHERE id = $flip")
wait_for 20 test -d "$dir" || fail "the flip job's output directory did not appear"
( while :; do
    rm -f "$dir/take.tmp"; mkfifo "$dir/take.tmp"; mv -f "$dir/take.tmp" "$dir/take"
    printf file >"$dir/take.tmp"; mv -f "$dir/take.tmp" "$dir/take"
  done ) >/dev/null 2>&1 &
flipper=$!
slow=$(submit "$T/slow.json")
wait_for 20 sh -c "[ \"\$(clapper tasks $slow --json | jq -r '.tasks[0].state')\" = running ]" ||
  fail "the slow job did not start"
start=$SECONDS
clapper cancel "$slow" >/dev/null || fail "cancel failed while an output flips"
clapper wait "$flip" >/dev/null 2>&1 || true
clapper wait "$slow" >/dev/null 2>&1 || true
kill "$flipper" 2>/dev/null || true
wait "$flipper" 2>/dev/null || true
[ $((SECONDS - start)) -lt 20 ] || fail "the flip held the worker for $((SECONDS - start)) s"
assert_eq "$(sql "SELECT state FROM jobs WHERE id = $slow")" canceled "the slow job, canceled during the flip"
state=$(sql "SELECT state FROM jobs WHERE id = $flip")
log "the flipped output's job: $state"
case "$state" in
  succeeded)
    assert_eq "$(sql "SELECT a.outputs->0->>'sha256' FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $flip")" \
      "$(printf file | sha256sum | cut -d' ' -f1)" "hash of the flipped output" ;;
  failed)
    assert_contains "$(sql "SELECT a.error FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $flip")" \
      "take" "error of the flip job" ;;
  *) fail "the flip job ended $state" ;;
esac

# ---- processes that leave with setsid.
cat >"$T/escape.json" <<'JSON'
{"project": "conf", "episode": "e1",
 "jobs": [{"name": "escape", "max_attempts": 1,
           "command": ["sh", "-c", "setsid sleep 901 & echo $! > {output_dir}/s.pid; sleep 0.3; exit 0"]},
          {"name": "escape-cancel", "max_attempts": 1,
           "command": ["sh", "-c", "setsid sleep 902 & echo $! > {output_dir}/s.pid; exec sleep 60"]}]}
JSON
reply=$(clapper submit --json "$T/escape.json")
esc=$(job_id_of "$reply" 0)
escc=$(job_id_of "$reply" 1)
clapper wait "$esc" >/dev/null 2>&1 || fail "the escape job failed"
d=$(sql "SELECT output_dir FROM jobs WHERE id = $esc")
[ -s "$d/s.pid" ] || fail "the escape job wrote no pid"
assert_gone "$d/s.pid" "the attempt that started it (setsid sleep 901)"
pgrep -f 'sleep 901' && fail "a sleep 901 survives"
d=$(sql "SELECT output_dir FROM jobs WHERE id = $escc")
wait_for 20 test -s "$d/s.pid" || fail "the escape-cancel job did not start"
clapper cancel "$escc" >/dev/null
clapper wait "$escc" >/dev/null 2>&1 || true
assert_eq "$(sql "SELECT state FROM jobs WHERE id = $escc")" canceled "the escape-cancel job"
assert_gone "$d/s.pid" "the canceled attempt that started it (setsid sleep 902)"
pgrep -f 'sleep 902' && fail "a sleep 902 survives the cancel"
clapper jobs >/dev/null || fail "the coordinator stopped answering"
log "ok"
