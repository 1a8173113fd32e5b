#!/usr/bin/env bash
# PostgreSQL restarted under a running farm of `clapper local up`: the
# leader loses its database and exits (crash-only), the supervisor starts
# a coordinator again, the workers reconnect and the job finishes with
# every task succeeded once.  A standby waiting during the restart
# reconnects and is still there afterwards (waiting, or leading: it may
# win the lock before the restarted coordinator does), not exited.
. "$(dirname "$0")/lib.sh"

farm_up 2 --worker-cpus 2 --coordinator-arg=--lease-ms=4000 --coordinator-arg=--heartbeat-ms=250

cat >"$T/job.json" <<JSON
{"project": "demo", "episode": "e01",
 "jobs": [{"name": "through", "frames": "1-40",
           "command": ["sh", "-c", "echo {task_id} {attempt_id} >> $T/ran.log; sleep 0.3"]}]}
JSON
job=$(submit "$T/job.json")
some_done() { [ "$(sql "SELECT count(*) FROM tasks WHERE job_id = $job AND state = 'succeeded'")" -ge 6 ]; }
wait_for 60 some_done || fail "tasks did not start succeeding"

# A standby: the leader's own command line.
leader=$(pid_of coordinator)
start_standby
standby=$STANDBY

# Restart the farm's private cluster, as its owner (nobody when we are root).
pgdata=$(sed -n 's/^pgdata=//p' "$FARM/layout")
[ -n "$pgdata" ] || fail "no pgdata in $FARM/layout"
pg_ctl=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)/pg_ctl
as_owner=()
if [ "$(id -u)" = 0 ] && [ "$(stat -c %u "$pgdata")" != 0 ]; then
  as_owner=(setpriv --reuid="$(stat -c %u "$pgdata")" --regid="$(stat -c %g "$pgdata")" --clear-groups --)
fi
"${as_owner[@]}" "$pg_ctl" -D "$pgdata" -m fast -w -t 60 restart >"$T/pg_ctl.out" 2>&1 ||
  fail "pg_ctl restart failed: $(cat "$T/pg_ctl.out")"
log "PostgreSQL restarted"

wait_for 10 gone "$leader" || fail "the leader kept running without its database"
restarted() { grep -q "restart 1 in" "$FARM/logs/supervisor.log"; }
wait_for 10 restarted || fail "the supervisor did not restart the coordinator: $(tail -3 "$FARM/logs/supervisor.log")"
clapper wait --max-wait-s 120 "$job" >"$T/wait.out" 2>&1 || fail "job did not succeed after the restart: $(cat "$T/wait.out")"

# The standby lost its connection, reconnected and is still there.
grep -q "lost the database while standing by" "$T/standby.log" ||
  fail "the standby did not notice the restart: $(tail -5 "$T/standby.log")"
kill -0 "$standby" 2>/dev/null && ! gone "$standby" || fail "the standby exited: $(tail -5 "$T/standby.log")"
if grep -q "ready (heartbeat" "$T/standby.log"; then
  log "the standby took over"
else
  log "the standby is still waiting"
fi
# Whoever does not lead waits: the supervisor's coordinator runs too.
supervised=$(pid_of coordinator)
kill -0 "$supervised" 2>/dev/null || fail "the supervisor's coordinator does not run"

st=$(clapper local status --dir "$FARM" --json)
assert_eq "$(jq -r '.processes[] | select(.name == "supervisor") | .state' <<<"$st")" running "supervisor in status"
[ "$(jq .restarts.count <<<"$st")" -ge 1 ] || fail "status does not count the restart: $st"

assert_eq "$(sql "SELECT count(*) FROM tasks WHERE job_id = $job AND state = 'succeeded'")" 40 "tasks succeeded"
assert_sound "$job"
log "ok: $(wc -l <"$T/ran.log") runs for 40 tasks"
