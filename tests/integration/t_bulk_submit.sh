#!/usr/bin/env bash
# Bulk changes never hold up dispatch.  While a small job runs, a job of
# 1,000,000 tasks (no worker can run it: it asks for a tag none has) is
# submitted, then canceled: the small job's tasks keep starting all along,
# a 6-task submit sent behind the big one is acknowledged at once, and no
# attempt is recorded lost (the "not started within the lease" clock runs
# from when an assignment is sent, not from the decision).  Ends with the
# fault suite's invariants on the small jobs and the big job's rows:
# canceled, with all of its tasks, each canceled.
#
# Reports: the ack time of the small submit behind the big one, the time
# to write the big submit and the cancel, and the longest gap between two
# starts of the small job's tasks during each.  The bounds (5 s) are loose
# for shared, loaded test machines (the coordinator still parses and makes
# a million tasks in memory on its loop: a fraction of a second unloaded);
# before bulk writes both figures were the whole write (18 s unloaded,
# over two minutes on a loaded machine).  CLAPPER_TEST_BULK_TASKS sets the
# size (default 1,000,000).
. "$(dirname "$0")/lib.sh"

TASKS=${CLAPPER_TEST_BULK_TASKS:-1000000}
# A short lease, so that attempts wrongly declared "not started within the
# lease" show (before, a batch of a million rows took 18 s to over two
# minutes); not so short that a loaded test machine makes the workers
# reconnect while the coordinator parses and makes a million tasks in
# memory (seconds there).
lease_ms=6000
farm_up 2 --worker-cpus 2 --coordinator-arg=--lease-ms=$lease_ms --coordinator-arg=--heartbeat-ms=250
ms_now() { date +%s%3N; }

cat >"$T/small.json" <<JSON
{"project": "bulk", "episode": "small",
 "jobs": [{"name": "steady", "frames": "1-600", "chunk": 1,
           "command": ["sh", "-c", "sleep 0.25"]}]}
JSON
cat >"$T/six.json" <<JSON
{"project": "bulk", "episode": "small",
 "jobs": [{"name": "six", "frames": "1-6", "chunk": 1, "command": ["true"]}]}
JSON
cat >"$T/big.json" <<JSON
{"project": "bulk", "episode": "big",
 "jobs": [{"name": "million", "frames": "1-$TASKS", "chunk": 1,
           "requires": {"tags": ["nowhere"]}, "command": ["true", "{frame_start}"]}]}
JSON

small=$(submit "$T/small.json")
flowing() { [ "$(sql "SELECT count(*) FROM tasks WHERE job_id = $small AND state = 'succeeded'")" -ge 8 ]; }
wait_for 60 flowing || fail "the small job's tasks did not start succeeding"

# last_start JOB: when the last of JOB's tasks started (ms since the epoch).
last_start() {
  sql "SELECT coalesce((extract(epoch FROM max(a.started_at)) * 1000)::bigint, 0)
       FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $1"
}
# longest_gap JOB FROM_MS TO_MS: the longest time in ms within [FROM, TO]
# during which no task of JOB started.  TO is brought back to JOB's last
# start: a job that ran out of tasks is not a stall.
longest_gap() {
  local to=$3 last
  last=$(last_start "$1")
  [ "$last" -lt "$to" ] && to=$last
  sql "SELECT coalesce((extract(epoch FROM max(gap)) * 1000)::bigint, 0) FROM (
         SELECT s - lag(s) OVER (ORDER BY s) AS gap FROM (
           SELECT a.started_at AS s FROM attempts a JOIN tasks t ON t.id = a.task_id
           WHERE t.job_id = $1
             AND a.started_at BETWEEN to_timestamp($2 / 1000.0) AND to_timestamp($to / 1000.0)
           UNION ALL SELECT to_timestamp($2 / 1000.0) UNION ALL SELECT to_timestamp($to / 1000.0)) x) y"
}
# started JOB FROM_MS TO_MS: JOB's attempts started in [FROM, TO].
started() {
  sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $1
       AND a.started_at BETWEEN to_timestamp($2 / 1000.0) AND to_timestamp($3 / 1000.0)"
}

# --- the big submit, and a small one behind it --------------------------------
t0=$(ms_now)
clapper submit --json --timeout-ms 600000 "$T/big.json" >"$T/big.out" 2>&1 &
bigpid=$!
sleep 2 # the big submission has reached the coordinator and is being written
t1=$(ms_now)
six=$(clapper submit --json --timeout-ms 600000 "$T/six.json" | jq -r '.jobs[0].job_id')
ack_ms=$(($(ms_now) - t1))
wait "$bigpid" || fail "the big submit failed: $(cat "$T/big.out")"
t2=$(ms_now)
big=$(jq -r '.jobs[0].job_id' "$T/big.out")
gap=$(longest_gap "$small" "$t0" "$t2")
n=$(started "$small" "$t0" "$t2")
log "big submit of $TASKS tasks acknowledged in $((t2 - t0)) ms; a 6-task submit sent behind it: $ack_ms ms"
log "during the big submit: $n tasks of the small job started, longest gap between starts $gap ms"
assert_eq "$(sql "SELECT count(*) FROM tasks WHERE job_id = $big")" "$TASKS" "tasks of the big job stored"
assert_eq "$(sql "SELECT state FROM jobs WHERE id = $big")" queued "the big job's state"
[ "$ack_ms" -lt 5000 ] || fail "the 6-task submit behind the big one took $ack_ms ms"
[ "$n" -gt 0 ] || fail "no task of the small job started during the big submit"
[ "$gap" -lt 5000 ] || fail "the small job's tasks stopped starting for $gap ms during the big submit"
assert_eq "$(sql "SELECT count(*) FROM events WHERE kind = 'job.submitted' AND subject_id = '$big'")" 1 \
  "job.submitted events of the big job"

# --- the cancel of the big job ---------------------------------------------------
# A fresh small job, in an episode of its own (a share of the workers from
# the start), flows during the cancel (the first may have ended).
sed 's/"steady"/"steady2"/; s/"small"/"other"/; s/1-600/1-400/' "$T/small.json" >"$T/small2.json"
small2=$(submit "$T/small2.json")
flowing2() { [ "$(sql "SELECT count(*) FROM tasks WHERE job_id = $small2 AND state = 'succeeded'")" -ge 4 ]; }
wait_for 60 flowing2 || fail "the second small job's tasks did not start succeeding"
t3=$(ms_now)
clapper cancel --json --timeout-ms 600000 "$big" >"$T/cancel.out" 2>&1 || fail "cancel failed: $(cat "$T/cancel.out")"
t4=$(ms_now)
sleep 1
gap=$(longest_gap "$small2" "$t3" "$t4")
n=$(started "$small2" "$t3" "$t4")
log "cancel of the big job acknowledged in $((t4 - t3)) ms; meanwhile $n tasks of a small job started, longest gap between starts $gap ms"
[ "$n" -gt 0 ] || [ $((t4 - t3)) -lt 1000 ] || fail "no task of the small job started during the cancel"
[ "$gap" -lt 5000 ] || fail "the small job's tasks stopped starting for $gap ms during the cancel"
assert_eq "$(sql "SELECT state FROM jobs WHERE id = $big")" canceled "the big job's state"
assert_eq "$(sql "SELECT count(*) FILTER (WHERE state = 'canceled') || '/' || count(*) FROM tasks WHERE job_id = $big")" \
  "$TASKS/$TASKS" "canceled tasks of the big job"

clapper wait --max-wait-s 180 "$small" "$six" "$small2" >"$T/wait.out" 2>&1 || fail "the small jobs did not succeed: $(cat "$T/wait.out")"
assert_eq "$(sql "SELECT count(*) FROM attempts WHERE state = 'lost'")" 0 "attempts recorded lost"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $big")" 0 \
  "attempts of the big job"
assert_sound "$small" "$six" "$small2"
log "ok"
