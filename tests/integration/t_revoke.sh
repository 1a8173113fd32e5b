#!/usr/bin/env bash
# Revocation by key, at once, on connections that stay open.
#
# Client: a submitter's connection (one DEALER kept open by hold_client)
# works; its key is removed and the name registered again with another key;
# the same open connection is then refused (whoami and cancel of its own
# job), nothing changes in the database, and the new key works as the name.
# Worker: a worker runs tasks of a job; its key is removed; at once its live
# attempts are lost (retried elsewhere by the usual rules), it is listed as
# lost, and it gets no more work on its open connection, also after its name
# is registered again with another key.  The coordinator keeps serving.
. "$(dirname "$0")/lib.sh"

farm_up 1
[ -n "${CLAPPER_KEY:-}" ] || fail "the farm runs without keys"
keys="$T/keys"
mkdir -p "$keys"
cp "$FARM/keys/coordinator.pub" "$keys/"
clapper keygen sub-1 --dir "$keys" >/dev/null
mkdir -p "$keys/new"
cp "$FARM/keys/coordinator.pub" "$keys/new/"
clapper keygen sub-1 --dir "$keys/new" >/dev/null # the same name, another key
clapper users add sub-1 --role submitter --public-key "$keys/sub-1.pub" >/dev/null || fail "users add"

snapshot() {
  sql "SELECT (SELECT count(*) FROM events), (SELECT string_agg(id || state, ',' ORDER BY id) FROM jobs),
              (SELECT string_agg(state, ',' ORDER BY id) FROM tasks)"
}

# ---------------------------------------------------------------- a client
cat >"$T/slow.json" <<JSON
{"project": "show", "episode": "e1", "jobs": [{"name": "slow", "command": ["sleep", "900"]}]}
JSON
slow=$(job_id_of "$(CLAPPER_KEY="$keys/sub-1.key" clapper submit --json "$T/slow.json")")
mkfifo "$T/in"
"$CLAPPER_BIN_DIR/tests/hold_client" "$CLAPPER_COORDINATOR" "$keys/sub-1.key" "$keys/coordinator.pub" <"$T/in" \
  >"$T/hold.out" 2>&1 &
hold=$!
exec 3>"$T/in"
replies() { [ -f "$T/hold.out" ] && [ "$(wc -l <"$T/hold.out")" -ge "$1" ]; }
ask() { # N COMMAND: send COMMAND on the open connection, print reply N
  echo "$2" >&3
  wait_for 15 replies "$1" || fail "no reply to '$2' on the open connection"
  sed -n "$1p" "$T/hold.out"
}
r=$(ask 1 whoami)
assert_contains "$r" '"name":"sub-1"' "the open connection is sub-1"

clapper users remove sub-1 >/dev/null || fail "users remove sub-1"
clapper users add sub-1 --role submitter --public-key "$keys/new/sub-1.pub" >/dev/null ||
  fail "users add sub-1 with a new key"
before=$(snapshot)
r=$(ask 2 whoami)
assert_contains "$r" "error forbidden" "the removed key's open connection is refused"
assert_contains "$r" "not registered" "the refusal says why"
r=$(ask 3 "cancel $slow")
assert_contains "$r" "error forbidden" "the removed key cannot cancel on its open connection"
assert_eq "$(snapshot)" "$before" "refused requests changed nothing"
assert_eq "$(sql "SELECT state FROM jobs WHERE id = $slow")" running "the job still runs"
exec 3>&-
wait "$hold" || true
# The new key is sub-1 now (a new connection), and owns sub-1's job.
assert_eq "$(CLAPPER_KEY="$keys/new/sub-1.key" clapper whoami --json | jq -r .name)" sub-1 "new key"
CLAPPER_KEY="$keys/new/sub-1.key" clapper cancel "$slow" >/dev/null || fail "the new key cannot cancel"
log "client: a removed key's open connection is refused at once"

# ---------------------------------------------------------------- a worker
clapper drain local-1 >/dev/null
start_worker w-rev --cpus 2
cat >"$T/many.json" <<JSON
{"project": "show", "episode": "e1",
 "jobs": [{"name": "many", "frames": "1-12", "requires": {"cpus": 1, "memory_mb": 10},
           "command": ["sleep", "1"]}]}
JSON
many=$(submit "$T/many.json")
w_attempts() { sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id
                    WHERE t.job_id = $many AND a.worker = 'w-rev' $1"; }
busy() { [ "$(w_attempts "AND a.state = 'succeeded'")" -ge 1 ] &&
         [ "$(w_attempts "AND a.state IN ('dispatched', 'running')")" -ge 1 ]; }
wait_for 30 busy || fail "w-rev did not run the job"
clapper users remove w-rev >/dev/null || fail "users remove w-rev"
# At once (the reply is durable): nothing live on w-rev, the live ones lost.
assert_eq "$(w_attempts "AND a.state IN ('dispatched', 'running')")" 0 "live attempts of a removed key"
lost=$(w_attempts "AND a.state = 'lost'")
[ "$lost" -ge 1 ] || fail "no attempt of w-rev was lost"
assert_eq "$(clapper workers --json | jq -r '.workers[] | select(.name == "w-rev") | .state')" lost \
  "the removed worker is lost"
n=$(w_attempts "")
# Its name registered again, with another key: the old connection still
# gets nothing.
clapper keygen w-rev --dir "$keys/new" >/dev/null
clapper users add w-rev --role worker --public-key "$keys/new/w-rev.pub" >/dev/null ||
  fail "users add w-rev with a new key"
sleep 4
assert_eq "$(w_attempts "")" "$n" "attempts given to a removed key's open connection"
assert_eq "$(clapper workers --json | jq -r '.workers[] | select(.name == "w-rev") | .state')" lost \
  "the old connection did not come back"
grep -q "hello as 'w-rev' refused" "$FARM/logs/coordinator.log" ||
  fail "the coordinator did not log the refused hello"
# The lost attempts run again elsewhere; the job succeeds.
clapper undrain local-1 >/dev/null
clapper wait --max-wait-s 120 "$many" >/dev/null || fail "the job did not finish after the revocation"
assert_eq "$(sql "SELECT count(*) FROM tasks WHERE job_id = $many AND state = 'succeeded'")" 12 "all tasks"
assert_eq "$(w_attempts "")" "$n" "attempts of w-rev after the revocation"
clapper jobs >/dev/null || fail "the coordinator stopped serving"
log "worker: a removed key's attempts were lost ($lost) and it got no more work"
log "ok"
