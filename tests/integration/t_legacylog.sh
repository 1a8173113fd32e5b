#!/usr/bin/env bash
# An event log from before migration 006 (chained by the old SQL trigger,
# plain SHA-256) under a coordinator that keys the chain.
#
# A database at migration 005 gets events from the old trigger; the
# coordinator (no --keys, --audit-key FILE) applies 006, makes the key and
# verifies the log: the old rows as legacy, in id order, with the old
# formula.  Once a keyed event follows them, the owner rewriting a legacy
# row and recomputing the old chain (clapper_event_hash is still there) is
# caught where the first keyed event no longer follows; without a keyed
# event after them, legacy rows are only as safe as they ever were.  A
# keyed log does not start without its key file, nor with a new one.
. "$(dirname "$0")/lib.sh"

PG=0
stop_pg() { [ "$PG" = 0 ] || bash "$CLAPPER_SOURCE_DIR/tests/lib/pgtmp.sh" stop "$T/pgdir" >/dev/null 2>&1 || true; }
stop_coord() { [ -z "${COORD:-}" ] || { kill -TERM "$COORD" 2>/dev/null; wait "$COORD" || true; COORD=; }; }
trap 'rc=$?; stop_coord; stop_pg; (exit $rc); cleanup' EXIT
PG=1
DB=$(bash "$CLAPPER_SOURCE_DIR/tests/lib/pgtmp.sh" start "$T/pgdir") || fail "PostgreSQL did not start"
db() { psql "$DB" -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }

# The schema as migrations 001-005 left it, with their bookkeeping.
db -c "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now())"
for f in "$CLAPPER_SOURCE_DIR"/sql/00[1-5]_*.sql; do
  name=$(basename "$f")
  db -1 -f "$f" -c "INSERT INTO schema_migrations (version, name) VALUES (${name:0:3}, '$name')" \
    >/dev/null || fail "applying $name"
done
for i in 1 2 3 4 5; do
  db -c "INSERT INTO events (actor, kind, subject_type, subject_id, details)
         VALUES ('alice', 'old.event', 'job', '$i', '{\"n\": $i, \"b\": [1, \"x\"]}')"
done
assert_eq "$(db -c "SELECT count(*) FROM events WHERE hash IS NOT NULL")" 5 "the old trigger chained"

CLAPPER_COORDINATOR="ipc://$T/c.sock"
export CLAPPER_COORDINATOR CLAPPER_KEY=
start_coord() {
  clapper-coordinator --db "$DB" --sql-dir "$CLAPPER_SOURCE_DIR/sql" --output-root "$T/out" \
    --bind-workers "ipc://$T/w.sock" --bind-clients "$CLAPPER_COORDINATOR" \
    --audit-key "$T/audit.key" >>"$T/coordinator.log" 2>&1 &
  COORD=$!
  wait_for 60 clapper whoami >/dev/null 2>&1 || fail "the coordinator did not start"
}
start_coord
assert_eq "$(stat -c %a "$T/audit.key")" 600 "the audit key's mode"
grep -q "keys the event log from event 6" "$T/coordinator.log" || fail "the key does not start after the legacy rows"
assert_eq "$(db -c "SELECT count(*) FROM events WHERE chain = 'legacy' AND seq IS NULL")" 5 "legacy rows"
doc=$(clapper audit --verify --json) || fail "the migrated log does not verify: $doc"
assert_eq "$(jq -r '[.events, .legacy, .keyed] | map(tostring) | join(" ")' <<<"$doc")" "5 5 0" "legacy verified"

# A legacy row rewritten with the old chain recomputed, before any keyed
# event: not caught (the old guarantee, no more).
owner_rewrite() { # rewrite event 3's actor and recompute the legacy chain as 004 did
  db -c "ALTER TABLE events DISABLE TRIGGER events_append_only" \
     -c "UPDATE events SET actor = '$1' WHERE subject_id = '3' AND chain = 'legacy'" \
     -c "DO \$\$ DECLARE r record; prev bytea := '\\x'::bytea; BEGIN
           FOR r IN SELECT * FROM events WHERE chain = 'legacy' ORDER BY id LOOP
             UPDATE events SET prev_hash = prev, hash = clapper_event_hash(r.id, r.at, r.actor,
               r.kind, r.subject_type, r.subject_id, r.details, prev)
               WHERE id = r.id RETURNING hash INTO prev;
           END LOOP; END \$\$" \
     -c "ALTER TABLE events ENABLE TRIGGER events_append_only"
}
stop_coord
owner_rewrite mallory
start_coord
clapper audit --verify >/dev/null || fail "a recomputed legacy chain without keyed events after it"
log "legacy rows alone: a recomputed old chain verifies (as before 006)"
owner_rewrite alice # back as it was
stop_coord
start_coord

# A keyed event after them anchors them.
clapper rates set --per-cpu-hour 0.01 >/dev/null || fail "rates set"
wait_for 10 test "$(db -c "SELECT count(*) FROM events WHERE chain = 'hmac-sha256'")" -ge 1 ||
  fail "no keyed event"
assert_eq "$(db -c "SELECT min(seq) FROM events WHERE chain = 'hmac-sha256'")" 6 "the first keyed event"
doc=$(clapper audit --verify --json) || fail "legacy + keyed does not verify: $doc"
assert_eq "$(jq -r '.legacy' <<<"$doc")" 5 "legacy rows verified"
stop_coord
owner_rewrite mallory
start_coord
clapper audit --verify >"$T/out" 2>"$T/err" && fail "a rewritten legacy row under a keyed event verified"
assert_contains "$(cat "$T/err")" "does not follow the event before it" "the keyed event anchors"
log "anchored: $(cat "$T/err")"

# A keyed log does not start without its key, nor with a new one.
stop_coord
for keyarg in "" "--audit-key=$T/lost.key"; do
  rc=0
  # shellcheck disable=SC2086
  timeout 30 clapper-coordinator --db "$DB" --sql-dir "$CLAPPER_SOURCE_DIR/sql" --output-root "$T/out" \
    --bind-workers "ipc://$T/w.sock" --bind-clients "$CLAPPER_COORDINATOR" $keyarg \
    >"$T/nokey.log" 2>&1 || rc=$?
  assert_eq "$rc" 1 "a keyed log without its key ($keyarg): exit status"
  assert_contains "$(cat "$T/nokey.log")" "the event log is keyed" "a keyed log without its key ($keyarg)"
done
[ ! -e "$T/lost.key" ] || fail "a new key was made for a keyed log"
log "ok"
