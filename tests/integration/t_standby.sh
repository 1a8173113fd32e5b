#!/usr/bin/env bash
# A standby that waited longer than the lease takes over from a killed
# leader: the workers' running attempts are kept (the reconnect grace runs
# from when the standby began to serve, not from its start), each task runs
# once, and nothing is recorded lost.  Reports the failover time: leader
# killed to the standby serving, and to its first dispatch (a job submitted
# the moment the leader dies, to the free slot each worker keeps).
. "$(dirname "$0")/lib.sh"

lease_ms=2000
farm_up 2 --worker-cpus 2 --coordinator-arg=--lease-ms=$lease_ms --coordinator-arg=--heartbeat-ms=250

cat >"$T/job.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "long", "frames": "1-2",
           "command": ["sh", "-c", "echo {task_id} {attempt_id} >> $T/ran.log; sleep 8"]}]}
JSON
job=$(submit "$T/job.json")
both_running() { [ "$(sql "SELECT count(*) FROM attempts WHERE state = 'running'")" = 2 ]; }
wait_for 60 both_running || fail "the two attempts did not start"

# The standby: the leader's own command line, so it binds the same
# endpoints once it holds the leader lock.
leader=$(pid_of coordinator)
start_standby
sleep $((2 * lease_ms / 1000 + 1)) # a standby normally waits far longer than the lease

cat >"$T/quick.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "quick", "command": ["sh", "-c", "echo quick >> $T/quick.log"]}]}
JSON
t0=$(date +%s%N)
kill -9 "$leader"
clapper submit --json "$T/quick.json" >"$T/quick.out" 2>&1 &
quick_pid=$!
serving() { grep -q "ready (heartbeat" "$T/standby.log"; }
wait_for 60 serving || fail "the standby did not take over: $(tail -5 "$T/standby.log")"
t1=$(date +%s%N)
log "failover: leader killed to standby serving in $(((t1 - t0) / 1000000)) ms"
wait "$quick_pid" || fail "the submit sent as the leader died failed: $(cat "$T/quick.out")"
quick=$(job_id_of "$(cat "$T/quick.out")")
first_dispatch() {
  first_us=$(sql "SELECT (extract(epoch FROM min(a.dispatched_at)) * 1000000)::bigint FROM attempts a
                  JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $quick")
  [ -n "$first_us" ]
}
wait_for 30 first_dispatch || fail "the quick job was not dispatched"
log "failover: leader killed to the new leader's first dispatch in $(((first_us - t0 / 1000) / 1000)) ms"

clapper wait --max-wait-s 60 "$job" >"$T/wait.out" 2>&1 || fail "job did not succeed: $(cat "$T/wait.out")"
t2=$(date +%s%N)
log "job done $(((t2 - t0) / 1000000)) ms after the kill"
assert_eq "$(sql "SELECT count(*) FROM attempts WHERE state = 'lost'")" 0 "attempts recorded lost"
assert_eq "$(sql "SELECT count(*) FROM attempts")" 3 "attempts in all (two long, one quick)"
assert_eq "$(wc -l <"$T/ran.log")" 2 "runs of the two tasks"
assert_eq "$(sql "SELECT count(*) FROM tasks WHERE job_id = $job AND state = 'succeeded'")" 2 "tasks succeeded"
clapper wait --max-wait-s 30 "$quick" >/dev/null || fail "the quick job did not succeed"
assert_sound "$job" "$quick"
log "ok"
