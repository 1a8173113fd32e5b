#!/usr/bin/env bash
# Licence limits and pools through the real daemons: 20 tasks needing a
# limit of 3 never run more than 3 at once across two workers (and do reach
# 3); lowering a limit below what is in use lets the running tasks finish
# and starts none until fewer hold it, raising it starts more at once; the
# count holds across a coordinator killed and restarted; a pool keeps a
# job on its members (by name, and by tag for a worker that joins later);
# the job's waiting reason names the full limit or the pool; a submitter
# cannot set limits or pools (one line, nothing changed); bad names and
# counts, unknown limits and pools at submit, and removing what a job
# still needs are refused with one line.
. "$(dirname "$0")/lib.sh"

farm_up 2 --worker-cpus 4
log "farm up ($SECONDS s)"
keys="$T/keys"
mkdir -p "$keys"
cp "$FARM/keys/coordinator.pub" "$keys/"
for who in submitter operator; do
  clapper keygen "$who-1" --dir "$keys" >/dev/null
  clapper users add "$who-1" --role "$who" --public-key "$keys/$who-1.pub" >/dev/null ||
    fail "users add $who-1"
done
as() { local who=$1; shift; CLAPPER_KEY="$keys/$who.key" clapper "$@"; }
snapshot() {
  sql "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM jobs),
              (SELECT coalesce(string_agg(name || '=' || count, ',' ORDER BY name), '') FROM limits),
              (SELECT coalesce(string_agg(name || '=' || tags::text || workers::text, ',' ORDER BY name), '') FROM pools)"
}
# refused EXIT_STATUS TEXT WHO ARGS...: refused with that status and one
# line containing TEXT; nothing changed; the coordinator still answers.
refused() {
  local status=$1 text=$2 who=$3 before rc=0
  shift 3
  before=$(snapshot)
  as "$who" "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$status" ] || fail "$who '$*': exit $rc, expected $status: $(cat "$T/out" "$T/err")"
  [ "$(wc -l <"$T/err")" = 1 ] || fail "$who '$*': not one line: $(cat "$T/err")"
  assert_contains "$(cat "$T/err")" "$text" "$who '$*' refusal"
  assert_eq "$(snapshot)" "$before" "$who '$*' refused, changed nothing"
  clapper whoami >/dev/null || fail "the coordinator stopped answering after '$*'"
}

# ---------------------------------------------------------------- setting
refused 1 "operator or admin role" submitter-1 limit set lic 3
refused 1 "operator or admin role" submitter-1 pool set one worker:local-2
refused 2 "invalid limit name 'Bad name'" operator-1 limit set "Bad name" 3
refused 2 "invalid count '-1'" operator-1 limit set lic -1
refused 2 "invalid count '1000001'" operator-1 limit set lic 1000001
refused 2 "missing argument" operator-1 limit set lic
refused 2 "invalid member 'gpu'" operator-1 pool set one gpu
refused 1 "no such limit: nolic" operator-1 limit remove nolic

out=$(as operator-1 limit set lic 3) || fail "the operator could not set a limit"
assert_eq "$out" "limit lic: 3 (0 in use, 0 waiting)" "limit set output"
assert_eq "$(sql "SELECT count || ' ' || set_by FROM limits WHERE name = 'lic'")" "3 operator-1" "limit row"
assert_eq "$(sql "SELECT actor || ' ' || (details->>'count') FROM events WHERE kind = 'limit.set' AND subject_id = 'lic'")" \
  "operator-1 3" "limit.set event with its actor"
as submitter-1 limits --json | jq -e '.version == 1 and .limits[0].name == "lic" and .limits[0].count == 3' >/dev/null ||
  fail "a submitter cannot read limits: $(as submitter-1 limits --json)"
as operator-1 pool set one worker:local-2 >/dev/null || fail "the operator could not set a pool"
as operator-1 pool set tagged tag:special >/dev/null || fail "pool set tagged"

# A job file naming a limit or pool nobody defined: one line naming it.
cat >"$T/nolic.json" <<JSON
{"project": "lim", "episode": "e1",
 "jobs": [{"name": "x", "command": ["true"], "requires": {"limits": ["lic", "nolic"]}}]}
JSON
refused 1 "jobs[0].requires.limits[1]: no limit named 'nolic'" submitter-1 submit "$T/nolic.json"
cat >"$T/nopool.json" <<JSON
{"project": "lim", "episode": "e1", "jobs": [{"name": "x", "command": ["true"], "requires": {"pool": "nopool"}}]}
JSON
refused 1 "jobs[0].requires.pool: no pool named 'nopool'" submitter-1 submit "$T/nopool.json"
cat >"$T/badlic.json" <<JSON
{"project": "lim", "episode": "e1", "jobs": [{"name": "x", "command": ["true"], "requires": {"limits": ["lic", "lic"]}}]}
JSON
refused 1 "jobs[0].requires.limits[1]: 'lic' is listed twice" submitter-1 submit "$T/badlic.json"

# ---------------------------------------------------------------- sampling
# Live attempts of a job, sampled from the database every 20 ms into a
# file, by one psql session (a psql per sample takes longer than a task).
live_sql() {
  echo "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
        WHERE t.job_id IN ($1) AND a.state IN ('dispatched', 'running')"
}
sample_start() { # JOBS FILE
  local q
  q=$(live_sql "$1")
  : >"$2"
  touch "$T/sampling"
  # Off the test's output (ctest waits for whoever holds it), and gone
  # with the test when it fails.
  (while [ -f "$T/sampling" ] && kill -0 $$ 2>/dev/null; do
     echo "$q;"
     sleep 0.02
   done | psql "$CLAPPER_DB" -X -A -t -q >>"$2" 2>/dev/null) >/dev/null 2>&1 &
  SAMPLER=$!
  EXTRA_WORKERS+=("$SAMPLER")
}
sample_stop() { rm -f "$T/sampling"; wait "$SAMPLER" 2>/dev/null || true; }
max_of() { sort -n "$1" | tail -n1; }
live_is() { [ "$(sql "$(live_sql "$1")")" = "$2" ]; } # JOB N: N attempts of JOB are live
reason_is() { [ "$(clapper job "$1" --json | jq -r .reason)" = "$2" ]; }
reason_has() { clapper job "$1" --json | jq -r .reason | grep -qF "$2"; }
in_use_at_most() { [ "$(clapper limits --json | jq '.limits[0].in_use')" -le "$1" ]; }
# The most tasks that ran at once by their own start/end lines in FILE.
overlap() {
  awk '{ print $2, ($1 == "start" ? 1 : -1) }' "$1" | sort -k1,1n -k2,2n |
    awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}
# task.sh TRACE SECONDS: records its start and end in TRACE; after SECONDS
# it also waits while $T/hold exists, so a test decides when tasks end.
cat >"$T/task.sh" <<SH
echo "start \$(date +%s.%N)" >>"\$1"
sleep "\$2"
while [ -e "$T/hold" ]; do sleep 0.1; done
echo "end \$(date +%s.%N)" >>"\$1"
SH
attempts_of() { sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $1"; }

log "refusals checked ($SECONDS s)"
# ---------------------------------------------------------------- 20 tasks, limit 3
cat >"$T/twenty.json" <<JSON
{"project": "lim", "episode": "e1",
 "jobs": [{"name": "twenty", "frames": "1-20", "requires": {"limits": ["lic"]},
           "command": ["sh", "$T/task.sh", "$T/twenty.trace", "0.6"]}]}
JSON
job=$(job_id_of "$(as submitter-1 submit --json "$T/twenty.json")")
sample_start "$job" "$T/twenty.samples"
# While it runs: the limit is full and the job says so (checked below,
# after the count, which is what matters most).
wait_for 20 reason_has "$job" "waiting for licence lic (" ||
  fail "the waiting reason did not name the limit: $(clapper job "$job" --json | jq -r .reason)"
reason=$(clapper job "$job" --json | jq -r .reason)
human=$(clapper job "$job")
lim=$(clapper limits --json)
limits_table=$(clapper limits)
clapper wait --max-wait-s 60 "$job" >/dev/null || fail "the 20-task job did not succeed"
sample_stop
log "20 tasks, limit 3: $(wc -l <"$T/twenty.samples") samples, max $(max_of "$T/twenty.samples") live, $(overlap "$T/twenty.trace") at once by the tasks' own clocks"
assert_eq "$(max_of "$T/twenty.samples")" 3 "most live attempts at once under a limit of 3"
assert_eq "$reason" "waiting for licence lic (3/3 in use)" "the waiting reason"
assert_contains "$human" "waiting for licence lic (" "clapper job's waiting reason"
assert_eq "$(jq -r '.limits[0].in_use' <<<"$lim")" 3 "limits: in use while full"
jq -e '.limits[0].waiting > 0' <<<"$lim" >/dev/null || fail "limits: no waiting tasks: $lim"
assert_contains "$limits_table" "lic" "limits table"
[ "$(overlap "$T/twenty.trace")" -le 3 ] || fail "the tasks saw $(overlap "$T/twenty.trace") running at once"
assert_eq "$(sql "SELECT count(DISTINCT a.worker) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job")" \
  2 "workers the limited tasks ran on"
assert_eq "$(clapper job "$job" --json | jq -r .reason)" "" "no waiting reason once it succeeded"
assert_eq "$(clapper limits --json | jq '.limits[0].in_use')" 0 "nothing in use at the end"
done_jobs=("$job")

log "lowering and raising ($SECONDS s)"
# ---------------------------------------------------------------- lowering and raising
# Held tasks make it exact: 3 hold the limit; lowered to 1, the 3 go on
# and none starts; raised to 5, 2 more start at once and no more; lowered
# to 1 and released, the rest run one at a time.
touch "$T/hold"
cat >"$T/low.json" <<JSON
{"project": "lim", "episode": "e1",
 "jobs": [{"name": "low", "frames": "1-10", "requires": {"limits": ["lic"]},
           "command": ["sh", "$T/task.sh", "$T/low.trace", "0.2"]}]}
JSON
job=$(job_id_of "$(as submitter-1 submit --json "$T/low.json")")
sample_start "$job" "$T/low.samples"
wait_for 20 live_is "$job" 3 || fail "3 tasks did not start"
as operator-1 limit set lic 1 >/dev/null || fail "lowering the limit"
assert_eq "$(clapper limits --json | jq -c '.limits[0] | [.count, .in_use]')" "[1,3]" "lowered below what is in use"
sleep 1
assert_eq "$(attempts_of "$job")" 3 "attempts after lowering the limit below what is in use"
assert_eq "$(max_of "$T/low.samples")" 3 "most live attempts before raising"
wait_for 10 reason_is "$job" "waiting for licence lic (3/1 in use)" ||
  fail "the reason after lowering: $(clapper job "$job" --json | jq -r .reason)"
as operator-1 limit set lic 5 >/dev/null || fail "raising the limit"
wait_for 20 live_is "$job" 5 || fail "raising the limit to 5 did not start 2 more"
sleep 1
assert_eq "$(attempts_of "$job")" 5 "attempts after raising the limit to 5"
assert_eq "$(max_of "$T/low.samples")" 5 "most live attempts after raising the limit to 5"
as operator-1 limit set lic 1 >/dev/null || fail "lowering the limit again"
rm -f "$T/hold"
wait_for 20 in_use_at_most 1 || fail "the running tasks did not finish"
: >"$T/low.samples"
clapper wait --max-wait-s 60 "$job" >/dev/null || fail "the lowered job did not succeed"
sample_stop
assert_eq "$(max_of "$T/low.samples")" 1 "most live attempts once the limit was 1 again"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job AND a.state <> 'succeeded'")" \
  0 "attempts stopped by lowering the limit"
assert_eq "$(overlap "$T/low.trace")" 5 "most tasks running at once by their own clocks"
done_jobs+=("$job")

# ---------------------------------------------------------------- a coordinator restart
# Two tasks hold a limit of 2 when the coordinator is killed; the new one
# counts them from the database and starts no third while they run.
as operator-1 limit set lic 2 >/dev/null || fail "setting the limit to 2"
touch "$T/hold"
cat >"$T/restart.json" <<JSON
{"project": "lim", "episode": "e1",
 "jobs": [{"name": "restart", "frames": "1-6", "requires": {"limits": ["lic"]},
           "command": ["sh", "$T/task.sh", "$T/restart.trace", "0.2"]}]}
JSON
job=$(job_id_of "$(as submitter-1 submit --json "$T/restart.json")")
sample_start "$job" "$T/restart.samples"
wait_for 20 live_is "$job" 2 || fail "2 tasks did not start"
kill -9 "$(pid_of coordinator)"
clapper local up --dir "$FARM" >"$T/up2.out" 2>&1 || fail "restart failed: $(cat "$T/up2.out")"
grep -q "limit lic: 2/2 in use after recovery" "$FARM/logs/coordinator.log" ||
  fail "the restarted coordinator did not count the live attempts: $(grep 'limit lic' "$FARM/logs/coordinator.log")"
sleep 2
assert_eq "$(attempts_of "$job")" 2 "attempts after the restart while 2 hold the limit"
assert_eq "$(clapper limits --json | jq -c '.limits[0] | [.count, .in_use]')" "[2,2]" "in use after the restart"
rm -f "$T/hold"
clapper wait --max-wait-s 90 "$job" >/dev/null || fail "the job did not succeed after the restart"
sample_stop
log "restart: max $(max_of "$T/restart.samples") live in the database, $(overlap "$T/restart.trace") at once by the tasks"
assert_eq "$(max_of "$T/restart.samples")" 2 "most live attempts across the restart under a limit of 2"
assert_eq "$(overlap "$T/restart.trace")" 2 "most tasks running at once across the restart"
grep -q "recovered 1 unfinished jobs" "$FARM/logs/coordinator.log" || fail "the coordinator did not recover the job"
done_jobs+=("$job")

log "pools ($SECONDS s)"
# ---------------------------------------------------------------- pools
assert_eq "$(clapper workers --json | jq -c '[.workers[] | {(.name): .pools}] | add')" \
  '{"local-1":[],"local-2":["one"]}' "workers' pools"
assert_contains "$(clapper workers)" "POOLS" "workers table"
assert_eq "$(clapper pools --json | jq -c '[.pools[] | [.name, .members]]')" '[["one",["local-2"]],["tagged",[]]]' \
  "pools and their members"
cat >"$T/pool.json" <<JSON
{"project": "lim", "episode": "e1",
 "jobs": [{"name": "pooled", "frames": "1-6", "requires": {"pool": "one"},
           "command": ["sh", "$T/task.sh", "$T/pool.trace", "0.2"]}]}
JSON
touch "$T/hold"
job=$(job_id_of "$(as submitter-1 submit --json "$T/pool.json")")
wait_for 20 reason_is "$job" "waiting for a free worker in pool one" ||
  fail "the pool's waiting reason: $(clapper job "$job" --json | jq -r .reason)"
assert_eq "$(sql "$(live_sql "$job")")" 4 "live attempts of the pooled job (local-2 has 4 CPUs)"
refused 1 "pool one: job $job (running) still targets it" operator-1 pool remove one
rm -f "$T/hold"
clapper wait --max-wait-s 60 "$job" >/dev/null || fail "the pooled job did not succeed"
assert_eq "$(sql "SELECT string_agg(DISTINCT a.worker, ',') FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job")" \
  local-2 "workers of the pooled job"
done_jobs+=("$job")

# A pool by tag: nobody has the tag, so the job waits and says why; a
# worker with the tag joins and runs it.
cat >"$T/tagged.json" <<JSON
{"project": "lim", "episode": "e1",
 "jobs": [{"name": "tagged", "frames": "1-2", "requires": {"pool": "tagged"}, "command": ["true"]}]}
JSON
job=$(job_id_of "$(as submitter-1 submit --json "$T/tagged.json")")
wait_for 10 reason_is "$job" "no connected worker in pool tagged has 1 CPUs" ||
  fail "the tag pool's waiting reason: $(clapper job "$job" --json | jq -r .reason)"
start_worker tagged-1 --tags special --cpus 1
clapper wait --max-wait-s 30 "$job" >/dev/null || fail "the tag-pooled job did not succeed"
assert_eq "$(sql "SELECT string_agg(DISTINCT a.worker, ',') FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job")" \
  tagged-1 "worker of the tag-pooled job"
assert_eq "$(clapper pools --json | jq -c '.pools[] | select(.name == "tagged") | .members')" '["tagged-1"]' "tag pool members"
done_jobs+=("$job")

# ---------------------------------------------------------------- removing
# A failed job still requires the limit (retry would run it again).
cat >"$T/fail.json" <<JSON
{"project": "lim", "episode": "e1",
 "jobs": [{"name": "fails", "max_attempts": 1, "requires": {"limits": ["lic"]}, "command": ["false"]}]}
JSON
failed=$(job_id_of "$(as submitter-1 submit --json "$T/fail.json")")
clapper wait --max-wait-s 30 "$failed" >/dev/null 2>&1 && fail "a failing job succeeded"
refused 1 "limit lic: job $failed (failed) still requires it" operator-1 limit remove lic
clapper cancel "$failed" >/dev/null 2>&1 || true
out=$(as operator-1 limit set lic 0) || fail "setting the limit to 0"
assert_eq "$out" "limit lic: 0 (0 in use, 0 waiting)" "a limit of 0"
as operator-1 pool remove one >/dev/null || fail "removing a pool no job targets"
assert_eq "$(clapper pools --json | jq -c '[.pools[].name]')" '["tagged"]' "pools after removing one"
assert_eq "$(sql "SELECT count(*) FROM events WHERE kind IN ('limit.set', 'pool.set', 'pool.removed') AND actor = 'operator-1'")" \
  9 "limit and pool events by the operator"

assert_sound "${done_jobs[@]}"
log "ok ($SECONDS s)"
