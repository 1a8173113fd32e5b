#!/usr/bin/env bash
# The event log's chain against its database's owner.
#
# A secure farm keys the chain with KEYS/audit.key (made at first start,
# mode 0600); `audit --verify` says it is intact and keyed, `audit --head`
# prints N:HASH, the hash of event N.  Then, as the owner of the database
# (who can disable the append-only trigger), each attack on a copy of the
# log, restored after each:
#  - change an actor and recompute the chain as plain SHA-256 (the format is
#    public, the key is not): caught, "recomputed without the audit key";
#  - change an actor and recompute it with a guessed key: caught, "does not
#    match its hash";
#  - change an actor and nothing else: caught at that event;
#  - (control) recompute with the real key: every hash agrees, and only the
#    head the running coordinator committed shows it: the key is the
#    protection, so it never goes near the database;
#  - drop the last events: caught at once against the head the running
#    coordinator committed; after a restart the shorter chain is a valid
#    prefix, and the head kept from before catches it (--verify --head).
. "$(dirname "$0")/lib.sh"

farm_up 1
key="$FARM/keys/audit.key"
[ -f "$key" ] || fail "no audit key at $key"
assert_eq "$(stat -c %a "$key")" 600 "the audit key's mode"
grep -q "made the audit key" "$FARM/logs/coordinator.log" || fail "the coordinator did not say it made the key"
assert_eq "$(sql "SELECT count(*) FROM events WHERE chain <> 'hmac-sha256'")" 0 "every event is keyed"

cat >"$T/jobs.json" <<JSON
{"project": "show", "episode": "e1",
 "jobs": [{"name": "ok", "frames": "1-3", "command": ["true"]},
          {"name": "slow", "command": ["sleep", "900"]}]}
JSON
doc=$(clapper submit --json "$T/jobs.json")
clapper wait "$(job_id_of "$doc" 0)" >/dev/null || fail "the job failed"
clapper cancel "$(job_id_of "$doc" 1)" --note "not needed" >/dev/null
wait_for 10 test "$(sql "SELECT state FROM jobs WHERE id = $(job_id_of "$doc" 1)")" = canceled ||
  fail "the job was not canceled"
sleep 1

out=$(clapper audit --verify) || fail "verify failed on an untouched log: $out"
assert_contains "$out" "hash chain intact" "intact"
assert_contains "$out" "keyed with the audit key" "keyed"
head=$(clapper audit --head)
[[ $head =~ ^[0-9]+:[0-9a-f]{64}$ ]] || fail "audit --head printed '$head'"
n=${head%%:*}
assert_eq "$(sql "SELECT encode(hash, 'hex') FROM events WHERE seq = $n")" "${head#*:}" "the head is event $n's hash"
clapper audit --verify --head "$head" >/dev/null || fail "verify --head failed on an untouched log"
clapper audit --verify --head "12:nothex" 2>"$T/err" && fail "a malformed head was taken"
assert_eq "$(wc -l <"$T/err")" 1 "a malformed head: one line"
assert_contains "$(cat "$T/err")" "N:HASH" "a malformed head: says what is expected"
assert_eq "$(clapper audit --head --json | jq -r '.keyed')" true "audit --head --json"

# The owner's tools.
owner() { psql "$CLAPPER_DB" -X -q -v ON_ERROR_STOP=1 "$@" >/dev/null; }
sql "CREATE TABLE events_copy AS SELECT * FROM events" >/dev/null
restore() {
  owner -c "ALTER TABLE events DISABLE TRIGGER events_append_only" -c "DELETE FROM events" \
    -c "INSERT INTO events OVERRIDING SYSTEM VALUE SELECT * FROM events_copy" \
    -c "ALTER TABLE events ENABLE TRIGGER events_append_only"
  clapper audit --verify >/dev/null || fail "the restored log does not verify"
}
victim=$(sql "SELECT id FROM events WHERE kind = 'job.cancel'")
[ -n "$victim" ] || fail "no job.cancel event"
change_actor() {
  owner -c "ALTER TABLE events DISABLE TRIGGER events_append_only" \
    -c "UPDATE events SET actor = 'mallory' WHERE id = $victim" \
    -c "ALTER TABLE events ENABLE TRIGGER events_append_only"
}
rechain() { "$CLAPPER_BIN_DIR/tests/rechain" "$CLAPPER_DB" "$@" >/dev/null || fail "rechain $*"; }
caught() { # what expected-text
  clapper audit --verify >"$T/out" 2>"$T/err" && fail "$1: verify said intact: $(cat "$T/out")"
  assert_eq "$(wc -l <"$T/err")" 1 "$1: one line"
  assert_contains "$(cat "$T/err")" "$2" "$1"
  log "$1: $(cat "$T/err")"
}

change_actor
rechain sha256
assert_eq "$(sql "SELECT count(*) FROM events WHERE chain = 'sha256'")" "$n" "the attacker rechained every event"
caught "recomputed as plain SHA-256" "recomputed without the audit key"
restore

change_actor
rechain hmac "$T/guessed.key"
caught "recomputed with a guessed key" "does not match its hash"
restore

change_actor
caught "an actor changed" "event $victim"
restore

change_actor
rechain hmac "$key"
caught "recomputed with the real key (control)" "the head this coordinator committed"
log "control: with the audit key itself only the head the coordinator holds shows the rewrite (keep the key off the database host)"
restore

# A dropped tail: caught at once against what this coordinator committed...
owner -c "ALTER TABLE events DISABLE TRIGGER events_append_only" \
  -c "DELETE FROM events WHERE seq > $n - 3" \
  -c "ALTER TABLE events ENABLE TRIGGER events_append_only"
caught "the last 3 events dropped" "its last events were removed"
# ... and after a restart, by the head kept elsewhere.
clapper local down --dir "$FARM" >/dev/null 2>&1
farm_up 1
wait_for 30 worker_online local-1 || fail "the worker did not come back"
clapper audit --verify >/dev/null || fail "after the restart the shorter chain should be a valid prefix"
clapper audit --verify --head "$head" >"$T/out" 2>"$T/err" && fail "--head did not catch the dropped tail"
assert_contains "$(cat "$T/err")" "the given head" "--head names the head"
log "dropped tail after a restart: $(cat "$T/err")"
log "ok"
