#!/usr/bin/env bash
# deploy/db-setup.sh: the schema's owner runs the migrations, the
# coordinator's role runs the farm with row rights only.  The coordinator,
# connected as that role, starts, runs a job on a worker and keys its event
# log; the same role cannot update, delete or truncate events, nor disable
# or drop their triggers (only the owner can), though it can append (which
# `audit --verify` then catches: it has no key).
. "$(dirname "$0")/lib.sh"

PG=0
stop_pg() { [ "$PG" = 0 ] || bash "$CLAPPER_SOURCE_DIR/tests/lib/pgtmp.sh" stop "$T/pgdir" >/dev/null 2>&1 || true; }
stop_all() {
  local p
  for p in ${WORKER:-} ${COORD:-}; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}
trap 'rc=$?; stop_all; stop_pg; (exit $rc); cleanup' EXIT
PG=1
DB=$(bash "$CLAPPER_SOURCE_DIR/tests/lib/pgtmp.sh" start "$T/pgdir") || fail "PostgreSQL did not start"
export CLAPPER_SQL_DIR="$CLAPPER_SOURCE_DIR/sql"

# pgtmp's superuser is named clapper: the coordinator's role gets another name.
bash "$CLAPPER_SOURCE_DIR/deploy/db-setup.sh" "$DB" -v owner=farm_owner -v coord=farm_coord \
  >"$T/setup.out" 2>&1 || { cat "$T/setup.out" >&2; fail "db-setup.sh failed"; }
as_owner_of() { psql "$DB" -X -A -t -q -c "SELECT tableowner FROM pg_tables WHERE tablename = '$1'"; }
assert_eq "$(as_owner_of events)" farm_owner "the schema's owner"
# Running it again (an upgrade) is harmless.
bash "$CLAPPER_SOURCE_DIR/deploy/db-setup.sh" "$DB" -v owner=farm_owner -v coord=farm_coord \
  >"$T/setup2.out" 2>&1 || { cat "$T/setup2.out" >&2; fail "db-setup.sh a second time failed"; }

CDB="$DB user=farm_coord"
export CLAPPER_COORDINATOR="ipc://$T/c.sock" CLAPPER_KEY=
mkdir -p "$T/out"
clapper-coordinator --db "$CDB" --output-root "$T/out" --bind-workers "ipc://$T/w.sock" \
  --bind-clients "$CLAPPER_COORDINATOR" --audit-key "$T/audit.key" >"$T/coordinator.log" 2>&1 &
COORD=$!
wait_for 60 clapper whoami >/dev/null 2>&1 || { cat "$T/coordinator.log" >&2; fail "the coordinator did not start as farm_coord"; }
clapper-worker --coordinator "ipc://$T/w.sock" --name w1 --workdir "$T/w1" --gpus none \
  >"$T/worker.log" 2>&1 &
WORKER=$!
wait_for 30 worker_online w1 || fail "the worker did not come online"
cat >"$T/job.json" <<JSON
{"project": "p", "episode": "e", "jobs": [{"name": "j", "frames": "1-2", "command": ["true"]}]}
JSON
job=$(submit "$T/job.json")
clapper wait --max-wait-s 60 "$job" >/dev/null || fail "the job did not succeed under farm_coord"
clapper audit --verify >/dev/null || fail "the event log does not verify"

as_coord() { psql "$CDB" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
before=$(psql "$DB" -X -A -t -q -c "SELECT count(*), max(seq) FROM events")
for stmt in "UPDATE events SET actor = 'mallory'" "DELETE FROM events" "TRUNCATE events" \
  "ALTER TABLE events DISABLE TRIGGER events_append_only" "DROP TRIGGER events_append_only ON events"; do
  out=$(as_coord "$stmt") && fail "farm_coord could: $stmt"
  case "$out" in *"permission denied"* | *"must be owner"*) ;; *) fail "$stmt: $out" ;; esac
done
assert_eq "$(psql "$DB" -X -A -t -q -c "SELECT count(*), max(seq) FROM events")" "$before" "events unchanged"
# It may append, but not a keyed event: verify catches the forgery.
n=$(psql "$DB" -X -A -t -q -c "SELECT max(seq) FROM events")
as_coord "INSERT INTO events (actor, kind, subject_type, subject_id, seq, chain, prev_hash, hash)
          SELECT 'mallory', 'take.approved', 'take', '1', $n + 1, 'hmac-sha256', hash, sha256('x')
          FROM events WHERE seq = $n" >/dev/null || fail "farm_coord cannot append"
clapper audit --verify 2>"$T/err" && fail "a forged event verified"
assert_contains "$(cat "$T/err")" "does not match its hash" "the forged event"
log "ok"
