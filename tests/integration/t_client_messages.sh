#!/usr/bin/env bash
# What the client says when it gets no answer, and how it finds the
# leader among several endpoints:
#  - nobody listening: "cannot reach the coordinator at X";
#  - a key the coordinator does not know: "the coordinator at X refused
#    the key K";
#  - a stopped coordinator (SIGSTOP): "no reply within T ms" (the request
#    was not sent when it never answered the handshake; "(outcome
#    unknown)" when it stopped after the request arrived);
#  - a client that gives up while its submission is still being written:
#    the outcome is unknown, and the retry with the same key returns the
#    same job;
#  - CLAPPER_COORDINATOR=a,b with a dead or silent first endpoint, and
#    with a standby (on its own client endpoint) that takes over from the
#    killed leader: the clients follow it.
. "$(dirname "$0")/lib.sh"

farm_up 1 --worker-cpus 2
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
coordinator_log() { cat "$FARM/logs/coordinator.log"; }
expect_fail() { # FILE COMMAND...: the command fails with status 1, its stderr in FILE
  local out=$1 rc=0
  shift
  "$@" >"$out" 2>&1 || rc=$?
  assert_eq "$rc" 1 "exit status of $*"
  assert_eq "$(wc -l <"$out")" 1 "lines of the message of $*"
}
ep=$CLAPPER_COORDINATOR

# 1. Nobody listening.
dead=tcp://127.0.0.1:$(free_port)
expect_fail "$T/m1" clapper jobs --coordinator "$dead" --timeout-ms 1000
assert_eq "$(cat "$T/m1")" "clapper: cannot reach the coordinator at $dead: nothing accepted a \
connection within 1000 ms (is it running, and is this its client endpoint?)" "nobody listening"

# 2. A key the coordinator does not know: refused at once, naming the key.
clapper keygen stranger --dir "$T/keys" >/dev/null
t0=$(date +%s%N)
expect_fail "$T/m2" clapper jobs --key "$T/keys/stranger.key" --server-key "$FARM/keys/coordinator.pub"
assert_contains "$(cat "$T/m2")" "the coordinator at $ep refused the key $T/keys/stranger.key \
(stranger): it is not registered there" "an unknown key"
[ $((($(date +%s%N) - t0) / 1000000)) -lt 5000 ] || fail "the refusal took more than 5 s"

# 3. A stopped coordinator: the connection is accepted (by the kernel) and
# nothing more; the request was never sent.
coord=$(pid_of coordinator)
kill -STOP "$coord"
expect_fail "$T/m3" clapper jobs --timeout-ms 1500
kill -CONT "$coord"
assert_eq "$(cat "$T/m3")" "clapper: no reply within 1500 ms from the coordinator at $ep: it \
accepted the connection but did not answer the handshake (is it stopped or overloaded?); the \
request was not sent" "a stopped coordinator"
clapper jobs >/dev/null || fail "the coordinator does not serve after SIGCONT"

# 4. A coordinator stopped after the submission arrived: the outcome is
# unknown; after SIGCONT the same key returns the job, once.
python3 - "$T/big.json" <<'PY'
import json, sys
json.dump({"project": "demo", "episode": "e01",
           "jobs": [{"name": "big", "frames": "1-100000", "command": ["true"]}]},
          open(sys.argv[1], "w"))
PY
lines=$(coordinator_log | wc -l)
clapper submit --idempotency-key stopped-1 --timeout-ms 4000 "$T/big.json" >"$T/m4" 2>&1 &
first=$!
received() { coordinator_log | tail -n +"$((lines + 1))" | grep -q "with the idempotency key $1"; }
wait_for 60 received stopped-1 || fail "the coordinator did not get the submission"
kill -STOP "$coord"
rc=0
wait "$first" || rc=$?
kill -CONT "$coord"
assert_eq "$rc" 1 "exit status of the submit to a stopped coordinator"
assert_eq "$(cat "$T/m4")" "clapper: no reply within 4000 ms (outcome unknown): the coordinator \
at $ep got the request but did not answer in time; it may still carry it out; to find out, send \
it again with the same key: clapper submit --idempotency-key stopped-1 $T/big.json (it returns \
the jobs already created under that key, or creates them once)" "a coordinator stopped mid-submit"
out=$(clapper submit --json --timeout-ms 300000 --idempotency-key stopped-1 "$T/big.json") || fail "retry failed: $out"
big1=$(job_id_of "$out")
assert_eq "$(sql "SELECT count(*) FROM jobs WHERE idempotency_key = 'stopped-1'")" 1 "jobs with the key"

# 5. A client that gives up while its submission is still being written,
# and retries at once: the retry waits for the first and gets its job.
rc=0
clapper submit --idempotency-key impatient-1 --timeout-ms 1000 "$T/big.json" >"$T/m5" 2>&1 || rc=$?
if [ "$rc" = 0 ]; then
  log "the submission was answered within 1000 ms; its message is checked in step 4"
else
  assert_contains "$(cat "$T/m5")" "clapper: no reply within 1000 ms (outcome unknown)" "an impatient client"
fi
out=$(clapper submit --json --timeout-ms 300000 --idempotency-key impatient-1 "$T/big.json") || fail "retry failed: $out"
big2=$(job_id_of "$out")
out=$(clapper submit --json --timeout-ms 300000 --idempotency-key impatient-1 "$T/big.json") || fail "retry 2 failed: $out"
assert_eq "$(job_id_of "$out")" "$big2" "job id of the second retry"
assert_eq "$(sql "SELECT count(*) FROM jobs WHERE idempotency_key = 'impatient-1'")" 1 "jobs with the key"
assert_eq "$(sql "SELECT count(*) FROM jobs WHERE name = 'big'")" 2 "big jobs in all"
clapper cancel --timeout-ms 300000 "$big1" "$big2" >/dev/null || fail "cancel of the big jobs"

# 6. Several endpoints: a dead one and a silent one (accepts, never
# speaks) before the coordinator.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True); time.sleep(600)' >"$T/silent.port" &
EXTRA_WORKERS+=($!)
wait_for 10 test -s "$T/silent.port" || fail "the silent listener did not start"
silent=tcp://127.0.0.1:$(cat "$T/silent.port")
for list in "$dead,$ep" "$silent,$ep" "$dead,$silent,$ep"; do
  t0=$(date +%s%N)
  CLAPPER_COORDINATOR=$list clapper jobs --json >"$T/jobs.out" 2>&1 || fail "jobs via $list: $(cat "$T/jobs.out")"
  log "CLAPPER_COORDINATOR=$list: answered in $((($(date +%s%N) - t0) / 1000000)) ms"
done
expect_fail "$T/m6" env CLAPPER_COORDINATOR="$dead,$silent" clapper jobs --timeout-ms 800
assert_eq "$(cat "$T/m6")" "clapper: no reply within 800 ms from the coordinator at $dead or \
$silent: it accepted the connection but did not answer the handshake (is it stopped or \
overloaded?); the request was not sent" "a dead and a silent endpoint"

# 7. A standby with endpoints of its own, listed first: it binds nothing
# until it leads, so the leader answers; once the leader is killed the
# standby takes over and the same CLAPPER_COORDINATOR reaches it, and a
# worker given both workers endpoints (--coordinator a,b) follows it too.
standby_ep=tcp://127.0.0.1:$(free_port)
standby_workers=ipc://$T/standby-workers.sock
leader_workers=$(workers_endpoint)
start_standby "$standby_ep" "$standby_workers"
export CLAPPER_COORDINATOR="$standby_ep,$ep"
start_worker both --cpus 2 --coordinator "$standby_workers,$leader_workers"
cat >"$T/small.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "small", "frames": "1-3", "command": ["sh", "-c", "echo {task_id} >> $T/ran.log"]}]}
JSON
out=$(clapper submit --json --idempotency-key small-1 "$T/small.json") || fail "submit via a,b: $out"
small=$(job_id_of "$out")
clapper wait --max-wait-s 60 "$small" >/dev/null || fail "the small job did not succeed"
t0=$(date +%s%N)
kill -9 "$coord"
serving() { grep -q "ready (heartbeat" "$T/standby.log"; }
wait_for 60 serving || fail "the standby did not take over: $(tail -5 "$T/standby.log")"
clapper jobs --json >"$T/jobs.out" 2>&1 || fail "jobs after the takeover: $(cat "$T/jobs.out")"
log "leader killed to the first answer through the standby: $((($(date +%s%N) - t0) / 1000000)) ms"
wait_for 30 worker_online both || fail "the worker with both endpoints did not reach the standby"
log "leader killed to the worker online at the standby: $((($(date +%s%N) - t0) / 1000000)) ms"
out=$(clapper submit --json --idempotency-key small-1 "$T/small.json") || fail "retry via the standby: $out"
assert_eq "$(job_id_of "$out")" "$small" "the standby answers a retry with the same job"
out=$(clapper submit --json --idempotency-key small-2 "$T/small.json") || fail "submit via the standby: $out"
small2=$(job_id_of "$out")
clapper wait --max-wait-s 60 "$small2" >"$T/wait.out" 2>&1 || fail "job after the takeover: $(cat "$T/wait.out")"
assert_eq "$(sql "SELECT DISTINCT a.worker FROM attempts a JOIN tasks t ON t.id = a.task_id
                  WHERE t.job_id = $small2")" both \
  "the worker that ran the job after the takeover"
assert_eq "$(wc -l <"$T/ran.log")" 6 "runs of the small jobs' tasks"
assert_sound "$small" "$small2"
log "ok"
