#!/usr/bin/env bash
# A worker whose workdir is on a small tmpfs that fills up while it runs
# tasks: it shows `degraded` with a reason naming its disk, takes no new
# work, the attempts that could not write end `lost` (not the tasks'
# failures), the job only it could run says so and `clapper wait` returns
# (exit 3); a worker added later runs the job; after space is freed the
# worker is online again and runs work; nothing is lost.  A worker whose
# workdir is removed is degraded as well.
. "$(dirname "$0")/lib.sh"

MNT="$T/workers/full"
mkdir -p "$MNT"
mount -t tmpfs -o size=8m clapper-test-tmpfs "$MNT" || fail "cannot mount a tmpfs (run as root)"
# Unmount before the farm's cleanup removes $T (lazily: the worker may
# still hold it open while it stops).
trap 'rc=$?; umount -l "$MNT" 2>/dev/null || true; (exit $rc); cleanup' EXIT

farm_up 0
start_worker full --cpus 2 --tags disk --min-free-mb 1

state_of() { clapper workers --json | jq -r --arg n "$1" '.workers[] | select(.name == $n) | .state'; }
reason_of() { clapper workers --json | jq -r --arg n "$1" '.workers[] | select(.name == $n) | .reason'; }

# Each task writes lines to its log (on the tmpfs) once $T/go exists;
# with the disk full its writes fail (ENOSPC) and it exits 1.
cat >"$T/job.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "writes", "frames": "1-6", "requires": {"cpus": 1, "tags": ["disk"]},
           "command": ["sh", "-c", "set -e; echo start {task_id}; while [ ! -e $T/go ]; do sleep 0.1; done; for i in \$(seq 200); do echo line \$i of task {task_id} .............................................................; done; echo end"]}]}
JSON
job=$(submit "$T/job.json")

busy() { [ "$(clapper job "$job" --json | jq .tasks.running)" = 2 ]; }
wait_for 30 busy || fail "the worker never ran two tasks"
# Fill the disk while its two tasks wait, then let them write.
dd if=/dev/zero of="$MNT/filler" bs=64k >/dev/null 2>&1 || true
filled=$EPOCHREALTIME
touch "$T/go"
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
log "filled $MNT: $(df -k "$MNT" | awk 'NR == 2 { print $4 }') KiB left"

degraded() { [ "$(state_of full)" = degraded ]; }
wait_for 20 degraded || fail "the worker with a full disk is not degraded: $(state_of full)"
log "degraded in clapper workers $(ms_since "$filled") ms after the disk filled"
reason=$(reason_of full)
assert_contains "$reason" "disk full" "reason of the degraded worker"
assert_contains "$reason" "$MNT" "the reason names the workdir"
clapper workers >"$T/workers.out"
assert_contains "$(cat "$T/workers.out")" "REASON" "workers table"
assert_contains "$(grep '^full ' "$T/workers.out")" "degraded" "workers table row"
assert_contains "$(grep '^full ' "$T/workers.out")" "disk full" "workers table row"

# The job only it could run says so, and `clapper wait` returns (exit 3).
set +e
clapper wait --max-wait-s 60 "$job" >"$T/wait.out" 2>"$T/wait.err"
rc=$?
set -e
assert_eq "$rc" 3 "clapper wait on a job no worker can run (stderr: $(cat "$T/wait.err"))"
log "clapper wait returned 3 $(ms_since "$filled") ms after the disk filled"
assert_contains "$(cat "$T/wait.err")" "cannot run: no worker can run it: full is degraded" "wait's message"
assert_contains "$(clapper job "$job" --json | jq -r .reason)" "no worker can run it" "job reason"
assert_contains "$(clapper jobs)" "no worker can run it" "jobs table"

# No attempt failed as the task's fault; those that could not write are lost.
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
                  WHERE t.job_id = $job AND a.state IN ('failed', 'timed_out')")" 0 \
  "attempts failed on the full disk"
assert_eq "$(sql "SELECT coalesce(max(failures), 0) FROM tasks WHERE job_id = $job")" 0 "task failures"
lost=$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
            WHERE t.job_id = $job AND a.state = 'lost' AND a.error LIKE '%disk is full%'")
log "attempts lost to the full disk: $lost"
assert_eq "$lost" 2 "attempts lost to the full disk ($(sql "SELECT state, error FROM attempts"))"
# Nothing new went to the degraded worker: no attempt dispatched to it stays live.
assert_eq "$(sql "SELECT count(*) FROM attempts WHERE worker = 'full' AND state IN ('dispatched', 'running')")" \
  0 "live attempts on the degraded worker"

# A worker added later runs the job.
start_worker spare --cpus 2 --tags disk
clapper wait --max-wait-s 120 "$job" >"$T/wait2.out" 2>&1 || fail "job did not succeed on the spare: $(cat "$T/wait2.out")"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
                  WHERE t.job_id = $job AND a.state = 'succeeded' AND a.worker = 'full'")" 0 \
  "tasks succeeded on the degraded worker after it filled"

# Free the space: the worker is online again by itself and takes work.
rm -f "$MNT/filler"
freed=$EPOCHREALTIME
wait_for 20 worker_online full || fail "the worker is not online after space was freed: $(state_of full) $(reason_of full)"
log "online again $(ms_since "$freed") ms after space was freed"
# Its journal could not take the lost results while the disk was full: it
# said so, claimed no durability, and wrote the journal again once it could.
wlog=$(cat "$FARM/logs/full.log")
assert_contains "$wlog" "results are not durable (No space left on device): sent, and kept in memory until acknowledged; no new work" "journal failure"
assert_contains "$wlog" "the journal is written again" "journal recovery"
assert_eq "$(reason_of full)" "" "reason once healthy"
clapper drain spare >/dev/null
cat >"$T/job2.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "after", "frames": "1-4", "requires": {"cpus": 1, "tags": ["disk"]},
           "command": ["sh", "-c", "echo again {task_id}"]}]}
JSON
job2=$(submit "$T/job2.json")
clapper wait --max-wait-s 60 "$job2" >"$T/wait3.out" 2>&1 || fail "job after recovery failed: $(cat "$T/wait3.out")"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
                  WHERE t.job_id = $job2 AND a.state = 'succeeded' AND a.worker = 'full'")" 4 \
  "tasks the recovered worker ran"
assert_contains "$(sql "SELECT string_agg(details::text, ' ') FROM events WHERE kind = 'worker.state' AND subject_id = 'full'")" \
  "degraded" "the worker's transitions are in the event log"

# A worker whose workdir is removed under it is degraded too.
start_worker gone --cpus 1 --tags elsewhere
rm -rf "$T/workers/gone"
gone_degraded() { [ "$(state_of gone)" = degraded ]; }
wait_for 20 gone_degraded || fail "a worker without its workdir is not degraded: $(state_of gone)"
assert_contains "$(reason_of gone)" "workdir $T/workers/gone is gone" "reason without a workdir"

assert_sound "$job" "$job2"
log "ok"
