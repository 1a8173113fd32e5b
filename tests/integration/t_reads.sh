#!/usr/bin/env bash
# Reads never stall the farm or each other.
#
# A job of 1,000,000 tasks (no worker runs it): `clapper job` answers from
# the counts kept on the job's row; `clapper tasks` comes a page at a time
# (keyset paging, replies far below 4 MiB) and walking pages leaves the
# coordinator's peak memory (VmHWM) where it was.  Then a client floods the
# coordinator with 100 reads that cannot finish (the tasks table is locked
# by another session): it gets at most 8 in flight and "busy" for the rest,
# its reads are canceled in PostgreSQL at their deadline (here the wait its
# clients announce, --timeout-ms 8000; the coordinator's own
# --read-timeout-ms is checked in tests/unit/test_reads.c), and meanwhile
# another client's `clapper jobs` and `clapper job` answer within a
# second.  Nothing is written by any of it, and the coordinator keeps
# serving.
. "$(dirname "$0")/lib.sh"

TASKS=${CLAPPER_TEST_READS_TASKS:-1000000}
# AddressSanitizer keeps freed memory in quarantine (256 MB by default),
# which would show as peak memory: keep it small so VmHWM measures what the
# coordinator holds.
export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=1"
farm_up 0
coord=$(pid_of coordinator)
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$coord/status"; }
ms_now() { date +%s%3N; }

# --- a job of a million tasks ------------------------------------------------
cat >"$T/big.json" <<JSON
{"project": "big", "episode": "e1",
 "jobs": [{"name": "million", "kind": "render", "frames": "1-$TASKS", "chunk": 1,
           "command": ["true", "{frame_start}"]}]}
JSON
t0=$(ms_now)
job=$(clapper submit --json --timeout-ms 600000 "$T/big.json" | jq -r '.jobs[0].job_id')
log "submitted job $job of $TASKS tasks in $(($(ms_now) - t0)) ms"
assert_eq "$(sql "SELECT count(*) FROM tasks WHERE job_id = $job")" "$TASKS" "tasks stored"

t0=$(ms_now)
doc=$(clapper job "$job" --json)
job_ms=$(($(ms_now) - t0))
log "clapper job $job (of $TASKS tasks) answered in $job_ms ms (the client's whole run)"
assert_eq "$(jq -r '.ntasks, .attempts, .wall_s, .tasks.ready' <<<"$doc" | tr '\n' ' ')" \
  "$TASKS 0 0 $TASKS " "job figures"

before=$(hwm_kb)
# The default page: 1000 tasks, the next page named.
t0=$(ms_now)
clapper tasks "$job" >"$T/page1.txt"
log "clapper tasks $job (first page, table) took $(($(ms_now) - t0)) ms"
assert_eq "$(($(wc -l <"$T/page1.txt") - 2))" 1000 "rows of the default page"
first=$(sql "SELECT min(id) FROM tasks WHERE job_id = $job")
assert_eq "$(tail -n1 "$T/page1.txt")" "more tasks: add --after $((first + 999)) for the next page" \
  "the last line names the next page"
# Big pages by --json: at most 10000 tasks, and fewer when that would pass
# about 3 MiB (the reply stays under 4 MiB); deep pages cost what shallow
# ones do.
page() { clapper tasks "$job" --json --limit "${2:-10000}" --after "$1" >"$T/page.json"; }
t0=$(ms_now)
page 0
n=$(jq -r '.tasks | length' "$T/page.json")
bytes=$(jq -c . "$T/page.json" | wc -c)
log "first page asked for 10000: $(($(ms_now) - t0)) ms, $n tasks, $bytes bytes of JSON"
one_page=$(hwm_kb)
[ "$n" -gt 5000 ] && [ "$n" -le 10000 ] || fail "a page of $n tasks"
[ "$bytes" -lt $((4 << 20)) ] || fail "a page of $bytes bytes is over 4 MiB"
assert_eq "$(jq -r '.more' "$T/page.json")" true "more after the first page"
assert_eq "$(jq -r '.next_after' "$T/page.json")" "$((first + n - 1))" "next_after"
assert_eq "$(jq -r '.tasks[-1].task_id' "$T/page.json")" "$((first + n - 1))" "the page's last task"
t0=$(ms_now)
page $((first + TASKS - 1001)) 1000
log "deep page of 1000 (after task $((first + TASKS - 1001))): $(($(ms_now) - t0)) ms"
assert_eq "$(jq -r '.tasks | length' "$T/page.json")" 1000 "the last page"
assert_eq "$(jq -r '.tasks[0].seq' "$T/page.json")" $((TASKS - 1000)) "keyset: the page starts after --after"
assert_eq "$(jq -r '.more, .next_after' "$T/page.json" | tr '\n' ' ')" "false null " \
  "nothing after the last page"
# Walks of 5 pages from the start and to the end, each page following the
# last: nothing skipped, nothing twice.  (A walk through all of a million
# tasks is 100 pages; CLAPPER_TEST_READS_WALK=all does it.)
walk() { # FROM PAGES: walks PAGES pages after task FROM; sets seen and next (the next --after, or none)
  local after=$1 left=$2 expect
  seen=0
  while [ "$left" -gt 0 ]; do
    page "$after"
    expect=$((after < first ? 0 : after - first + 1))
    [ "$(jq -r '.tasks[0].seq' "$T/page.json")" = "$expect" ] || fail "page after $after starts at the wrong task"
    seen=$((seen + $(jq -r '.tasks | length' "$T/page.json")))
    left=$((left - 1))
    [ "$(jq -r '.more' "$T/page.json")" = true ] || { after=none; break; }
    after=$(jq -r '.next_after' "$T/page.json")
  done
  next=$after
}
pages=5
[ "${CLAPPER_TEST_READS_WALK:-}" = all ] && pages=1000
t0=$(ms_now)
walk 0 "$pages"
log "walked $seen tasks from the first in $pages pages or fewer in $(($(ms_now) - t0)) ms"
[ "$seen" -gt $((pages * 5000 < TASKS ? pages * 5000 : TASKS - 1)) ] || fail "the walk saw $seen tasks"
if [ "$next" != none ]; then
  assert_eq "$next" "$((first + seen - 1))" "the walk's next page"
fi
if [ "$TASKS" -gt 200000 ]; then
  t0=$(ms_now)
  walk $((first + TASKS - 1 - 40000)) 10
  log "walked the last $seen tasks in $(($(ms_now) - t0)) ms"
  assert_eq "$seen $next" "40000 none" "the walk to the last task"
fi
after_hwm=$(hwm_kb)
log "coordinator VmHWM: $before kB after the submission, $one_page kB after one page of" \
  "$n tasks, $after_hwm kB after the walks"
[ $((one_page - before)) -lt $((64 * 1024)) ] ||
  fail "one page raised the coordinator's peak memory by $((one_page - before)) kB"
[ $((after_hwm - one_page)) -lt $((16 * 1024)) ] ||
  fail "walking every page raised the coordinator's peak memory by $((after_hwm - one_page)) kB"
# A page never holds more than the server's maximum.
clapper tasks "$job" --limit 10001 2>"$T/err" && fail "--limit over 10000 accepted"
clapper tasks "$job" --after x 2>"$T/err" && fail "--after x accepted"
assert_contains "$(cat "$T/err")" "invalid --after 'x'" "--after refusal"

# Jobs and takes page the same way.
printf '{"project": "big", "episode": "e2", "jobs": [%s]}\n' \
  "$(for i in $(seq 5); do printf '{"name": "j%d", "command": ["true"]}%s' "$i" "$([ "$i" -lt 5 ] && echo ,)"; done)" \
  >"$T/five.json"
clapper submit "$T/five.json" >/dev/null
# (--all: finished jobs too; these may have finished already.)
assert_eq "$(clapper jobs --all --json --limit 2 --after "$job" | jq -c '[.jobs[].name, .more]')" \
  '["j1","j2",true]' "jobs --after"
assert_eq "$(clapper jobs -a --json --limit 2 | jq -c '[.jobs[].name, .earlier]')" \
  '["j4","j5",true]' "the newest jobs"
assert_contains "$(clapper jobs -an2)" "older jobs: add --after 0" "jobs hint"
assert_eq "$(clapper jobs --json --all --after 0 --limit 1 | jq -c '[.jobs[].job_id, .next_after]')" \
  "[$job,$job]" "jobs --after 0 pages from the first"
assert_eq "$(clapper takes --json --limit 3 | jq -c '[.takes, .more]')" '[[],false]' "takes page"

# --- a client that floods the coordinator with reads that cannot finish ------
keys="$T/keys"
mkdir -p "$keys"
cp "$FARM/keys/coordinator.pub" "$keys/"
clapper keygen mallory --dir "$keys" >/dev/null
clapper users add mallory --role submitter --public-key "$keys/mallory.pub" >/dev/null
snapshot() {
  sql "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM jobs),
              (SELECT string_agg(state || task_counts::text, ',' ORDER BY id) FROM jobs),
              (SELECT count(*) FROM attempts)"
}
before=$(snapshot)
# Another session holds the tasks table: every read of it waits.
psql "$CLAPPER_DB" -X -q -c "BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE;
  SELECT pg_sleep(60); COMMIT;" >/dev/null 2>"$T/lock.err" &
lock=$!
locked() {
  [ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    WHERE c.relname = 'tasks' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
}
wait_for 5 locked || fail "the tasks table was not locked"
mkdir -p "$T/flood"
t0=$(ms_now)
flood=()
for i in $(seq 100); do
  CLAPPER_KEY="$keys/mallory.key" clapper tasks "$job" --limit 5 --timeout-ms 8000 \
    >"$T/flood/$i.out" 2>"$T/flood/$i.err" &
  flood+=($!)
done
# The flooding client holds read connections, its reads waiting for the lock.
blocked() {
  [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%FROM tasks t1, %'
    AND wait_event_type = 'Lock'")" -ge 1 ]
}
wait_for 30 blocked || fail "no flooding read reached PostgreSQL"
# Meanwhile another client is answered at once.
for q in "jobs" "job $job" "workers"; do
  s=$(ms_now)
  # shellcheck disable=SC2086
  clapper $q --json >/dev/null || fail "clapper $q failed during the flood"
  took=$(($(ms_now) - s))
  log "clapper $q during the flood: $took ms"
  [ "$took" -lt 1000 ] || fail "clapper $q took $took ms during the flood"
done
# The flooding client's own reads are canceled at the deadline, not when
# the lock goes: the 100 end while the lock is still held.
wait "${flood[@]}" 2>/dev/null || true
flood_ms=$(($(ms_now) - t0))
count_files() { (grep -l "$1" "${@:2}" || true) | wc -l; }
busy=$(count_files "busy: 8 requests of yours are in flight" "$T"/flood/*.err)
canceled=$(count_files "read canceled: it ran past its deadline of" "$T"/flood/*.err)
answered=$(count_files "TASK" "$T"/flood/*.out)
log "flood of 100: $busy busy, $canceled canceled at the deadline, $answered answered, all ended after $flood_ms ms"
# (On a loaded machine a client may give up before its busy or canceled
# answer arrives; the coordinator answers all of them.)
[ "$busy" -ge 50 ] || fail "only $busy of 100 flooding reads were refused as busy"
[ "$canceled" -ge 1 ] || fail "no flooding read was canceled at its deadline"
[ "$answered" = 0 ] || fail "$answered flooding reads of the locked table were answered"
[ "$((busy + canceled))" -ge 90 ] || fail "only $((busy + canceled)) of 100 flooding reads got an answer"
kill -0 "$lock" 2>/dev/null || fail "the lock ended before the flood did: nothing was measured"
# A client that stops waiting: its read is canceled when its wait runs out.
s=$(ms_now)
CLAPPER_KEY="$keys/mallory.key" clapper tasks "$job" --timeout-ms 1500 2>"$T/short.err" &&
  fail "a read of the locked table succeeded"
log "a read with --timeout-ms 1500 ended after $(($(ms_now) - s)) ms: $(cat "$T/short.err")"
assert_contains "$(cat "$T/short.err")" "read canceled" "canceled within the client's wait"
sleep 0.5
assert_eq "$(sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%FROM tasks t1, %'
  AND state = 'active' AND pid <> pg_backend_pid()")" 0 "no canceled read still runs in PostgreSQL"
sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%'
  AND pid <> pg_backend_pid()" >/dev/null
wait "$lock" 2>/dev/null && fail "the locking session was not canceled"
# Afterwards every connection serves again, for everyone.
assert_eq "$(CLAPPER_KEY="$keys/mallory.key" clapper tasks "$job" --json --limit 3 |
  jq '.tasks | length')" 3 "the flooding client is served again"
assert_eq "$(clapper tasks "$job" --json --limit 3 --after $((first + 2)) | jq -c '[.tasks[].seq]')" \
  "[3,4,5]" "reads work after the flood"
assert_eq "$(snapshot)" "$before" "the flood changed nothing"
grep -q "read canceled" "$FARM/logs/coordinator.log" || fail "the coordinator did not log the cancellations"
clapper local status --dir "$FARM" >/dev/null || fail "the farm is not serving"
log "ok"
