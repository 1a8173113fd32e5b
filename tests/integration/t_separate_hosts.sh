#!/usr/bin/env bash
# A farm on three "hosts": the coordinator and PostgreSQL in one network
# namespace, two workers in two others, joined by veth links, so that the
# workers talk to the coordinator over real TCP from distinct addresses.
# A job runs on both workers; then one worker's link is cut while it runs
# tasks: its attempts become lost after the lease, the job still succeeds on
# the other worker, and when the link comes back the cut-off worker rejoins
# without its stale results counting twice.
#
#   namespace clapper-c-PID (coordinator, PostgreSQL, the clapper client)
#     lo   127.0.0.1, 10.77.0.1/32   <- the coordinator's worker endpoint
#     vc1  10.77.1.1/30  ==veth==  vw1 10.77.1.2/30  in clapper-w1-PID (host-1)
#     vc2  10.77.2.1/30  ==veth==  vw2 10.77.2.2/30  in clapper-w2-PID (host-2)
#
# Each worker reaches 10.77.0.1 through its own link (a host route), so its
# connections come from its own address, like a node on a routed farm
# network.  The clients' socket stays at the default tcp://127.0.0.1:7711
# inside the coordinator's namespace and `clapper` runs there through
# `ip netns exec`, as an operator would on the coordinator host; nothing is
# reachable from the root namespace.  PostgreSQL listens on a unix socket
# only; socket files live in the (shared) file system, so psql reaches it
# from anywhere.  Every namespace has its own ports, so the default ports
# cannot collide with a parallel test; namespace names carry $$.
#
# Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN); elsewhere it prints
# "SKIPPED: ..." and passes.
. "$(dirname "$0")/lib.sh"

skip() {
  echo "SKIPPED: cannot create network namespaces: $*"
  exit 0
}

NSC="clapper-c-$$"
NS1="clapper-w1-$$"
NS2="clapper-w2-$$"
NAMESPACES=()
PIDS=()
PG_STARTED=0

# alive PID: the process exists and is not a zombie.
alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${stat:0:1}" != Z ]
}

# stop_pid PID SIGNAL: signal one daemon this test started, give it 20 s to
# exit, then SIGKILL it.
stop_pid() {
  local pid=$1 sig=$2 i
  kill -s "$sig" "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || break
    sleep 0.2
  done
  if alive "$pid"; then
    log "pid $pid still runs 20 s after SIG$sig; killing it"
    kill -9 "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
}

# The test's own stdout and stderr: a trap may run inside a redirection.
exec {TEST_OUT}>&1 {TEST_ERR}>&2

# Runs on every exit, before lib.sh's cleanup (sanitizer check, test dir).
teardown() {
  local rc=$? i
  set +e
  exec 1>&"$TEST_OUT" 2>&"$TEST_ERR"
  # Workers first (SIGINT: stop at once, task process groups killed), then
  # the coordinator (SIGTERM), in reverse order of start.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    case "${PIDS[$i]}" in
    coordinator:*) stop_pid "${PIDS[$i]#*:}" TERM ;;
    *) stop_pid "${PIDS[$i]#*:}" INT ;;
    esac
  done
  [ "$PG_STARTED" = 1 ] && bash "$CLAPPER_SOURCE_DIR/tests/lib/pgtmp.sh" stop "$T/pg"
  # Deleting a namespace destroys its veth ends (and so their peers) once no
  # process is left in it.
  for ns in "${NAMESPACES[@]}"; do
    ip netns pids "$ns" 2>/dev/null | while read -r p; do
      log "process $p ($(cat /proc/"$p"/comm 2>/dev/null)) still in $ns; killing it"
      kill -9 "$p" 2>/dev/null
    done
    ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
  done
  if [ "$rc" != 0 ]; then
    for f in "$T"/*.log "$T"/pg/log/*.log; do
      [ -f "$f" ] || continue
      log "--- tail of $f"
      tail -n 15 "$f" >&2
    done
  fi
  (exit "$rc")
  cleanup
}
trap teardown EXIT
# A signal exits through the EXIT trap too (after the command in progress).
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ network
[ "$(id -u)" = 0 ] || skip "not root (needs CAP_NET_ADMIN and CAP_SYS_ADMIN)"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
command -v ss >/dev/null || skip "ss (iproute2) is not installed"
for ns in "$NSC" "$NS1" "$NS2"; do
  if ! err=$(ip netns add "$ns" 2>&1); then
    ip netns del "$ns" >/dev/null 2>&1 || true
    skip "ip netns add $ns: $err"
  fi
  NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
done
# Both ends are created in namespaces, never in the root namespace, so the
# short interface names cannot collide with another run.
ip -n "$NSC" link add vc1 type veth peer name vw1 netns "$NS1"
ip -n "$NSC" link add vc2 type veth peer name vw2 netns "$NS2"
ip -n "$NSC" addr add 10.77.0.1/32 dev lo
ip -n "$NSC" addr add 10.77.1.1/30 dev vc1
ip -n "$NSC" addr add 10.77.2.1/30 dev vc2
ip -n "$NSC" link set vc1 up
ip -n "$NSC" link set vc2 up
ip -n "$NS1" addr add 10.77.1.2/30 dev vw1
ip -n "$NS1" link set vw1 up
ip -n "$NS1" route add 10.77.0.1/32 via 10.77.1.1
ip -n "$NS2" addr add 10.77.2.2/30 dev vw2
ip -n "$NS2" link set vw2 up
ip -n "$NS2" route add 10.77.0.1/32 via 10.77.2.1

# ----------------------------------------------------------------- the farm
PG_STARTED=1
CLAPPER_DB=$(ip netns exec "$NSC" bash "$CLAPPER_SOURCE_DIR/tests/lib/pgtmp.sh" start "$T/pg") ||
  fail "PostgreSQL did not start"
CLAPPER_COORDINATOR=tcp://127.0.0.1:7711
export CLAPPER_DB CLAPPER_COORDINATOR
export CLAPPER_SQL_DIR="$CLAPPER_SOURCE_DIR/sql"

# `ip netns exec` execs the command (no fork), so $! is the daemon itself.
ip netns exec "$NSC" clapper-coordinator --db "$CLAPPER_DB" --lease-ms 2000 \
  --bind-workers tcp://10.77.0.1:7710 --bind-clients tcp://127.0.0.1:7711 --insecure \
  --output-root "$T/output" >"$T/coordinator.log" 2>&1 &
PIDS+=("coordinator:$!")
for n in 1 2; do
  ns=$NS1
  [ $n = 2 ] && ns=$NS2
  ip netns exec "$ns" clapper-worker --coordinator tcp://10.77.0.1:7710 --name "host-$n" \
    --gpus none --cpus 2 --memory-mb 2048 --workdir "$T/host-$n" >"$T/worker-$n.log" 2>&1 &
  PIDS+=("worker:$!")
done

clapper() { ip netns exec "$NSC" "$CLAPPER_BIN_DIR/clapper" "$@"; }
worker_field() { # NAME FIELD
  clapper workers --json 2>/dev/null | jq -r --arg n "$1" ".workers[] | select(.name == \$n) | .$2"
}
online() { [ "$(worker_field host-1 state)" = online ] && [ "$(worker_field host-2 state)" = online ]; }
wait_for 60 online || fail "the workers did not come online: $(clapper workers 2>&1)"
log "both workers online"

# The coordinator sees one established TCP connection on its worker port from
# each worker's own address.
peers() {
  ip netns exec "$NSC" ss -tnH state established '( sport = :7710 )' |
    awk '{ sub(/:[0-9]+$/, "", $4); print $4 }' | sort -u | tr '\n' ' '
}
assert_eq "$(peers)" "10.77.1.2 10.77.2.2 " "peer addresses of the coordinator's worker connections"

# ------------------------------------------------- a job across both hosts
cat >"$T/spread.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "spread", "frames": "1-8",
           "command": ["sh", "-c", "echo {task_id} >> $T/spread.ran; sleep 1"]}]}
JSON
job=$(job_id_of "$(clapper submit --json "$T/spread.json")")
clapper wait --max-wait-s 120 "$job" >"$T/wait1.out" 2>&1 || fail "job $job did not succeed: $(cat "$T/wait1.out")"
per_worker=$(sql "SELECT a.worker || '=' || count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
                  WHERE t.job_id = $job AND a.state = 'succeeded' GROUP BY a.worker ORDER BY a.worker")
log "succeeded attempts per worker: $(tr '\n' ' ' <<<"$per_worker")"
assert_eq "$(sql "SELECT count(DISTINCT a.worker) FROM attempts a JOIN tasks t ON t.id = a.task_id
                  WHERE t.job_id = $job AND a.state = 'succeeded'")" 2 "workers that ran job $job"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
                  WHERE t.job_id = $job AND a.state = 'succeeded'")" 8 "succeeded attempts of job $job"
assert_eq "$(wc -l <"$T/spread.ran")" 8 "task runs of job $job"

# ------------------------------------------------ cut host-1 off mid-task
cat >"$T/cut.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "cut", "frames": "1-8",
           "command": ["sh", "-c", "echo {task_id} {attempt_id} >> $T/cut.ran; sleep 3"]}]}
JSON
job=$(job_id_of "$(clapper submit --json "$T/cut.json")")
live_on_1() {
  sql "SELECT string_agg(a.id::text, ' ' ORDER BY a.id) FROM attempts a JOIN tasks t ON t.id = a.task_id
       WHERE t.job_id = $job AND a.worker = 'host-1' AND a.state = 'running'"
}
has_live_on_1() { [ -n "$(live_on_1)" ]; }
wait_for 30 has_live_on_1 || fail "host-1 never ran a task of job $job"
ip -n "$NS1" link set vw1 down
cut_at=$SECONDS
running=$(live_on_1)
[ -n "$running" ] || fail "host-1's attempts ended before the cut"
log "cut host-1's link while it ran attempts $running"

clapper wait --max-wait-s 120 "$job" >"$T/wait2.out" 2>&1 || fail "job $job did not succeed: $(cat "$T/wait2.out")"
log "job $job succeeded $((SECONDS - cut_at)) s after the cut"

for a in $running; do
  assert_eq "$(sql "SELECT state FROM attempts WHERE id = $a")" lost "attempt $a on the cut-off worker"
  assert_contains "$(sql "SELECT error FROM attempts WHERE id = $a")" heartbeat "reason of attempt $a"
done
assert_eq "$(worker_field host-1 state)" lost "state of the cut-off worker"
assert_eq "$(worker_field host-2 state)" online "state of the other worker"
assert_eq "$(sql "SELECT count(*) FROM tasks t WHERE t.job_id = $job AND
                  (SELECT count(*) FROM attempts a WHERE a.task_id = t.id AND a.state = 'succeeded') = 1")" \
  8 "tasks of job $job with exactly one succeeded attempt"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job
                  AND a.state = 'succeeded' AND a.task_id IN (SELECT task_id FROM attempts WHERE state = 'lost')
                  AND a.worker <> 'host-2'")" 0 "lost tasks finished on the other worker"
# (The coordinator's TCP connection from 10.77.1.2 still looks established:
# a cut cable sends no FIN or RST.  Only the lease notices the silence.)

# ----------------------------------------- the link comes back: host-1 rejoins
# Its cut-off attempts finished behind the partition and wait in its journal;
# the coordinator fences them by attempt id, so nothing changes state twice.
ip -n "$NS1" link set vw1 up
ip -n "$NS1" route replace 10.77.0.1/32 via 10.77.1.1
wait_for 60 online || fail "host-1 did not rejoin: $(clapper workers 2>&1)"
both_peers() { [ "$(peers)" = "10.77.1.2 10.77.2.2 " ]; }
wait_for 30 both_peers || fail "host-1's connection did not come back: $(peers)"
for a in $running; do
  assert_eq "$(sql "SELECT state FROM attempts WHERE id = $a")" lost "attempt $a after host-1 rejoined"
done
assert_eq "$(clapper job "$job" --json | jq -r .state)" succeeded "job $job after host-1 rejoined"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
                  WHERE t.job_id = $job AND a.state = 'succeeded'")" 8 "succeeded attempts of job $job after the rejoin"
log "ok"
