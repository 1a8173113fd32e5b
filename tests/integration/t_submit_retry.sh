#!/usr/bin/env bash
# Idempotent submit.  The coordinator is killed (SIGKILL) while a submit of
# 300,000 tasks is being written; the client says the outcome is unknown
# and how to find out.  After the restart the same `clapper submit
# --idempotency-key K` is retried: exactly one job exists, a second retry
# returns the same job id, and the same key with another file is refused
# without touching the database.  A small job goes through the same
# pattern, runs, and the farm is sound.
. "$(dirname "$0")/lib.sh"

farm_up 1 --worker-cpus 2

python3 - "$T/big.json" <<'PY'
import json, sys
json.dump({"project": "demo", "episode": "e01",
           "jobs": [{"name": "big", "frames": "1-300000", "command": ["true"]}]},
          open(sys.argv[1], "w"))
PY
cat >"$T/small.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "small", "frames": "1-4",
           "command": ["sh", "-c", "echo {task_id} {attempt_id} >> $T/ran.log"]},
          {"name": "after", "after": ["small"], "frames": "1-2", "command": ["true"]}]}
JSON
cat >"$T/other.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "other", "command": ["true"]}]}
JSON
jobs_with_key() { sql "SELECT count(*) FROM jobs WHERE idempotency_key = '$1'"; }
coordinator_log() { cat "$FARM/logs/coordinator.log"; }

# 1. The coordinator killed while the big submission is being written.
key=nightly-2026-12-01-big
lines=$(coordinator_log | wc -l)
clapper submit --idempotency-key "$key" --timeout-ms 120000 "$T/big.json" >"$T/first.out" 2>&1 &
first=$!
received() { coordinator_log | tail -n +"$((lines + 1))" | grep -q "with the idempotency key $key"; }
wait_for 60 received || fail "the coordinator did not get the big submission"
kill -9 "$(pid_of coordinator)"
rc=0
wait "$first" || rc=$?
assert_eq "$rc" 1 "exit status of the submit whose coordinator was killed"
msg=$(cat "$T/first.out")
assert_contains "$msg" "(outcome unknown)" "the first client's message"
assert_contains "$msg" "clapper submit --idempotency-key $key $T/big.json" "the command that finds out"
committed=$(jobs_with_key "$key")
log "coordinator killed mid-submit; jobs with the key in the database then: $committed"
log "the first client said: $msg"

clapper local up --dir "$FARM" >"$T/up2.out" 2>&1 || fail "restart failed: $(cat "$T/up2.out")"
out=$(clapper submit --json --timeout-ms 300000 --idempotency-key "$key" "$T/big.json") || fail "retry failed: $out"
big=$(job_id_of "$out")
assert_eq "$(jobs_with_key "$key")" 1 "jobs with the key after the retry"
assert_eq "$(sql "SELECT ntasks FROM jobs WHERE idempotency_key = '$key'")" 300000 "tasks of the job"
assert_eq "$(sql "SELECT count(*) FROM tasks WHERE job_id = $big")" 300000 "task rows of the job"
out=$(clapper submit --json --timeout-ms 300000 --idempotency-key "$key" "$T/big.json") || fail "second retry failed: $out"
assert_eq "$(job_id_of "$out")" "$big" "job id of the second retry"
assert_eq "$(jq -r '.jobs[0].tasks' <<<"$out")" 300000 "tasks in the second retry's reply"
assert_eq "$(sql "SELECT count(*) FROM jobs WHERE name = 'big'")" 1 "big jobs in all"

# 2. The same key with another file: refused in one line, nothing written.
before=$(sql "SELECT count(*) FROM jobs")
rc=0
clapper submit --idempotency-key "$key" "$T/other.json" >"$T/conflict.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status of a reused key"
assert_eq "$(wc -l <"$T/conflict.out")" 1 "lines of the refusal"
assert_contains "$(cat "$T/conflict.out")" \
  "the idempotency key '$key' was already used by" "the refusal of a reused key"
assert_contains "$(cat "$T/conflict.out")" "jobs $big)" "the refusal names the jobs"
assert_eq "$(sql "SELECT count(*) FROM jobs")" "$before" "jobs after the refusal"
# The key belongs to the submitter: the same file and key are still one job.
clapper cancel --timeout-ms 300000 "$big" >/dev/null || fail "cancel of the big job"

# 3. The same pattern with a small submission of two jobs: the kill right
# after the request was received, then retries; the jobs run once.
key2=small-$$
lines=$(coordinator_log | wc -l)
clapper submit --idempotency-key "$key2" "$T/small.json" >"$T/small1.out" 2>&1 &
first=$!
received2() { coordinator_log | tail -n +"$((lines + 1))" | grep -q "with the idempotency key $key2"; }
wait_for 60 received2 || fail "the coordinator did not get the small submission"
kill -9 "$(pid_of coordinator)"
wait "$first" || log "first small submit: $(cat "$T/small1.out")"
clapper local up --dir "$FARM" >"$T/up3.out" 2>&1 || fail "restart failed: $(cat "$T/up3.out")"
out=$(clapper submit --json --idempotency-key "$key2" "$T/small.json") || fail "small retry failed: $out"
small=$(job_id_of "$out" 0)
after=$(job_id_of "$out" 1)
out=$(clapper submit --json --idempotency-key "$key2" "$T/small.json") || fail "small retry 2 failed: $out"
assert_eq "$(job_id_of "$out" 0) $(job_id_of "$out" 1)" "$small $after" "job ids of the second retry"
assert_eq "$(jobs_with_key "$key2")" 2 "jobs with the small key"
assert_eq "$(sql "SELECT string_agg(id::text, ' ' ORDER BY submission_seq) FROM jobs
                  WHERE idempotency_key = '$key2'")" "$small $after" "positions of the jobs"
clapper wait --max-wait-s 120 "$small" "$after" >"$T/wait.out" 2>&1 ||
  fail "the small jobs did not succeed: $(cat "$T/wait.out")"
assert_eq "$(wc -l <"$T/ran.log")" 4 "runs of the small job's tasks"
# Long after: the same answer, nothing runs again.
out=$(clapper submit --json --idempotency-key "$key2" "$T/small.json") || fail "late retry failed: $out"
assert_eq "$(job_id_of "$out" 0) $(job_id_of "$out" 1)" "$small $after" "job ids of a retry after the jobs finished"
sleep 1
assert_eq "$(wc -l <"$T/ran.log")" 4 "runs of the small job's tasks after the late retry"
assert_sound "$small" "$after"
log "ok: big job $big (300000 tasks, $committed committed at the kill), small jobs $small $after"
