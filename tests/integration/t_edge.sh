#!/usr/bin/env bash
# The edge: nothing a client or a worker sends crashes the coordinator or
# is kept unchecked.  Invalid UTF-8 and over-long text in every text field
# of every verb (through the CLI as the issue reproduced it, and as crafted
# requests), times of 2^63-1, a 10 MiB provenance key, bad Hello fields,
# and a worker key forging its figures (Started and Result at 2^63-1, a
# wall time of 2^63-1): each refusal is one line naming the field, changes
# nothing in the database, the coordinator keeps serving, forged figures
# are clamped to what the coordinator saw and priced from that, and a
# flood of refusals is a few log lines with a count.
. "$(dirname "$0")/lib.sh"

farm_up 1
keys="$T/keys"
mkdir -p "$keys"
cp "$FARM/keys/coordinator.pub" "$keys/"
for role in submitter supervisor operator; do
  clapper keygen "$role-1" --dir "$keys" >/dev/null
  clapper users add "$role-1" --role "$role" --public-key "$keys/$role-1.pub" >/dev/null ||
    fail "users add $role-1"
done
as() { local who=$1; shift; CLAPPER_KEY="$keys/$who.key" clapper "$@"; }
raw() { local who=$1; shift; clapper-rawmsg client "$CLAPPER_COORDINATOR" "$keys/$who.key" \
  "$FARM/keys/coordinator.pub" "$@"; }
cp "$CLAPPER_KEY" "$keys/admin.key"
chmod 600 "$keys/admin.key"
coord_pid=$(pid_of coordinator)

snapshot() {
  sql "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM jobs),
              (SELECT count(*) FROM keys), (SELECT count(*) FROM rates),
              (SELECT count(*) FROM ledger),
              (SELECT md5(string_agg(state || reason, ',' ORDER BY id)) FROM jobs),
              (SELECT string_agg(state, ',' ORDER BY id) FROM takes),
              (SELECT string_agg(coalesce(budget_micros, -1)::text || '/' || weight, ',' ORDER BY id) FROM episodes),
              (SELECT string_agg(name || state || drained::text, ',' ORDER BY name) FROM workers)"
}
serving() {
  kill -0 "$coord_pid" || fail "the coordinator exited"
  clapper jobs --json >/dev/null || fail "the coordinator does not answer"
}

# Material: a running job of submitter-1 and takes to review.
cat >"$T/gen.json" <<JSON
{"project": "show", "episode": "e1",
 "jobs": [{"name": "gen", "kind": "generate", "takes": 3,
           "command": ["sh", "-c", "echo {seed} > {output_dir}/t.txt"], "outputs": ["{output_dir}/t.txt"]}]}
JSON
gen=$(job_id_of "$(as submitter-1 submit --json "$T/gen.json")")
clapper wait "$gen" >/dev/null 2>&1 || fail "generation failed"
take=$(clapper takes --json --job "$gen" | jq -r '.takes[0].take_id')
cat >"$T/slow.json" <<JSON
{"project": "show", "episode": "e1", "jobs": [{"name": "slow", "command": ["sleep", "900"]}]}
JSON
slow=$(job_id_of "$(as submitter-1 submit --json "$T/slow.json")")
wait_for 30 sh -c "[ \"\$(clapper job --json $slow | jq -r .state)\" = running ]" ||
  fail "the slow job did not start"

# 1. What the issue reproduced, through the CLI.
before=$(snapshot)
refused() { # expected-message command...
  local want=$1 out
  shift
  out=$("$@" 2>&1) && fail "accepted: $*"
  assert_contains "$out" "$want" "refusal of $*"
  [ "$(printf '%s\n' "$out" | wc -l)" -le 2 ] || fail "more than one line: $out"
}
refused "note: not valid UTF-8 (byte 0xff at byte 0)" as submitter-1 cancel "$slow" --note $'\xff'
refused "note: not valid UTF-8" as submitter-1 pause "$slow" --note $'ok\xc3'
refused "note: not valid UTF-8" as supervisor-1 approve "$take" --note $'\xff'
refused "note: not valid UTF-8" as supervisor-1 reject "$take" --note $'\xed\xa0\x80'
refused "note: not valid UTF-8" as supervisor-1 request-changes "$take" --note $'\xc0\xaf'
refused "name: not valid UTF-8 (byte 0xff at byte 1)" \
  as operator-1 rates set --gpu-model $'H\xff100' --per-gpu-hour 1
refused "note: 100000 bytes, more than 4096" as submitter-1 cancel "$slow" --note "$(head -c 100000 /dev/zero | tr '\0' x)"
serving
assert_eq "$(snapshot)" "$before" "the database after the CLI refusals"

# A 16 MiB note (the CLI cannot pass one; a crafted request can).
out=$(raw submitter-1 7 ids="$slow" note=@16777216:x)
assert_eq "$out" "error bad_request: note: 16777216 bytes, more than 4096" "16 MiB note"
serving
assert_eq "$(snapshot)" "$before" "the database after the 16 MiB note"

# 2. Every text field of every verb, as crafted requests: invalid UTF-8 and
# one byte over the cap, each refused naming the field.
fields=(note name amount kind by shot state public_key after_name idempotency_key)
for verb in $(seq 1 "$(grep -c "^  VERB_[A-Z_]* = [1-9]" "$CLAPPER_SOURCE_DIR/proto/clapper.proto")"); do
  for f in "${fields[@]}"; do
    cap=256
    [ "$f" = note ] && cap=4096
    [ "$f" = idempotency_key ] && cap=128
    out=$(raw admin "$verb" ids=1 "$f=ok\\xff")
    assert_eq "$out" "error bad_request: $f: not valid UTF-8 (byte 0xff at byte 2)" "verb $verb, $f, UTF-8"
    out=$(raw admin "$verb" ids=1 "$f=@$((cap + 1)):a")
    assert_eq "$out" "error bad_request: $f: $((cap + 1)) bytes, more than $cap" "verb $verb, $f, length"
  done
done
serving
assert_eq "$(snapshot)" "$before" "the database after every field of every verb"

# 3. Times: a rate from 2^63-1 us (it killed the coordinator through
# "interval out of range"), and before 1970.
out=$(raw operator-1 16 kind=cpu amount=1 at_us=9223372036854775807)
assert_contains "$out" "error bad_request: at_us: 9223372036854775807 is not a time" "rate at 2^63-1"
out=$(raw operator-1 16 kind=cpu amount=1 at_us=-5)
assert_contains "$out" "error bad_request: at_us: -5 is not a time" "rate before 1970"
out=$(raw admin 3 ids=9223372036854775808)
assert_contains "$out" "error bad_request: ids[0]: 9223372036854775808 is more than" "id past int64"
serving
assert_eq "$(snapshot)" "$before" "the database after the extreme times"
# A rate at the end of the range is fine.
out=$(raw operator-1 16 kind=cpu amount=3600 at_us=253402300799999999)
assert_contains "$out" "ok " "rate at 9999-12-31"
serving

# 4. A job file with a 10 MiB provenance key.
python3 - "$T/prov.json" <<'PY'
import json, sys
json.dump({"project": "show", "episode": "e1",
           "jobs": [{"name": "p", "command": ["true"], "provenance": {"k" * (10 << 20): "v"}}]},
          open(sys.argv[1], "w"))
PY
before=$(snapshot)
refused "a key of 10485760 bytes, more than 64" as submitter-1 submit "$T/prov.json"
serving
assert_eq "$(snapshot)" "$before" "the database after the provenance key"

# 5. Worker messages: a Hello with invalid UTF-8 in any field is refused.
clapper keygen raw-1 --dir "$keys" >/dev/null
clapper users add raw-1 --role worker --public-key "$keys/raw-1.pub" >/dev/null || fail "users add raw-1"
rawworker() { clapper-rawmsg worker "$(workers_endpoint)" "$keys/raw-1.key" \
  "$FARM/keys/coordinator.pub" raw-1 "$1"; }
before=$(snapshot)
for f in hostname version workdir gpu-model gpu-uuid; do
  assert_eq "$(rawworker "hello-$f")" "no welcome" "a Hello with a bad $f"
done
grep -q "hello refused: hostname: not valid UTF-8" "$FARM/logs/coordinator.log" ||
  fail "the refused Hello is not logged with its field"
serving
assert_eq "$(snapshot)" "$before" "the database after the bad Hellos"

# 6. A worker key forging its figures: Started and Result at 2^63-1, a
# wall time of 2^63-1 (it charged 128 million per attempt).  The real
# worker is drained so the task goes to the forger; the CPU rate is 1 per
# second from now on.
clapper rates set --per-cpu-hour 3600 >/dev/null || fail "rates set"
clapper drain local-1 >/dev/null || fail "drain"
cat >"$T/forged.json" <<JSON
{"project": "show", "episode": "e2", "jobs": [{"name": "forged", "command": ["true"]}]}
JSON
forged=$(job_id_of "$(as submitter-1 submit --json "$T/forged.json")")
t0=$(date +%s)
out=$(rawworker forge)
t1=$(date +%s)
assert_contains "$out" "acked " "the forged result"
attempt=${out#acked }
serving
seen=$((t1 - t0 + 1))
read -r wall amount started_ok ended_ok err path < <(sql "
  SELECT l.wall_us, l.amount_micros,
         a.started_at BETWEEN a.dispatched_at - interval '5 s' AND now() + interval '5 s',
         a.ended_at BETWEEN a.started_at AND now() + interval '5 s',
         a.error, a.outputs->0->>'path'
  FROM ledger l JOIN attempts a ON a.id = l.attempt_id WHERE l.attempt_id = $attempt" | tr '|' ' ')
[ -n "$wall" ] || fail "no ledger row for the forged attempt"
log "forged attempt $attempt: wall time $wall us recorded, $amount micros charged (the coordinator saw at most $seen s)"
[ "$wall" -le $((seen * 1000000)) ] || fail "wall time $wall us recorded; the coordinator saw at most $seen s"
[ "$amount" -le $((seen * 1000000)) ] || fail "charged $amount micros for at most $seen s at 1 per second"
assert_eq "$started_ok" t "the forged start time is within what the coordinator saw"
assert_eq "$ended_ok" t "the forged end time is within what the coordinator saw"
assert_eq "$err" "err??" "the error text is cleaned"
assert_eq "$path" "/out/??.exr" "the output path is cleaned"
clapper undrain local-1 >/dev/null

# 7. A flood of refusals is a few lines with a count, not one line each.
lines_before=$(grep -c "refused client requests" "$FARM/logs/coordinator.log" || true)
out=$(raw submitter-1 7 ids="$slow" "note=\\xff" repeat=500)
assert_contains "$out" "error bad_request: note: not valid UTF-8" "the last of the flood"
sleep 11
serving
clapper jobs >/dev/null
lines=$(( $(grep -c "refused client requests" "$FARM/logs/coordinator.log") - lines_before ))
[ "$lines" -le 3 ] || fail "$lines log lines for 500 refused requests"
# (the clamped result came within 10 s of the clamped start: its line is
# the last of a count)
grep -q "worker figures clamped: .*worker raw-1: attempt $attempt: beyond what the coordinator saw (.*): wall_us 9223372036854775807 -> " \
  "$FARM/logs/coordinator.log" || fail "the clamped figures are not logged"
grep -qE "refused client requests: [0-9]+ more in the last [0-9]+ s, the last: submitter-1: note: not valid UTF-8" \
  "$FARM/logs/coordinator.log" || fail "no count line for the flood"

# ... and so is a flood of handshakes with a key nobody registered (each
# process retries its refused handshake for a second).
clapper keygen mallory --dir "$keys" >/dev/null
zap_before=$(grep -c "refused client connections" "$FARM/logs/coordinator.log" || true)
for _ in $(seq 20); do
  RAWMSG_WAIT_MS=1000 raw mallory 30 >/dev/null 2>&1 &
done
wait
sleep 11
clapper jobs >/dev/null || fail "the coordinator does not answer after the handshake flood"
zap_lines=$(( $(grep -c "refused client connections" "$FARM/logs/coordinator.log") - zap_before ))
[ "$zap_lines" -ge 1 ] && [ "$zap_lines" -le 3 ] || fail "$zap_lines log lines for the refused handshakes"
grep -qE "refused client connections: [0-9]+ more in the last [0-9]+ s, the last: refused a client connection from .*: unknown key" \
  "$FARM/logs/coordinator.log" || fail "no count line for the refused handshakes"
log "refused handshakes: $(grep -oE "refused client connections: [0-9]+ more in the last [0-9]+ s" "$FARM/logs/coordinator.log" | tail -1) ($zap_lines lines)"

# Still the same coordinator, and the slow job is still the submitter's to cancel.
assert_eq "$(pid_of coordinator)" "$coord_pid" "the coordinator never restarted"
as submitter-1 cancel "$slow" --note "done: caf$(printf '\xc3\xa9')" >/dev/null || fail "a valid cancel"
assert_eq "$(sql "SELECT reason FROM jobs WHERE id = $slow")" "canceled by submitter-1: done: café" "the valid note"
# 8. A batch PostgreSQL refuses for a reason no edge check can know (a
# constraint added here): the client of the refused change gets an error,
# an unrelated change sent at the same time commits, and the coordinator
# keeps serving.
sql "ALTER TABLE jobs ADD CONSTRAINT test_refuse CHECK (reason NOT LIKE '%refuse-me%')"
j1=$(job_id_of "$(as submitter-1 submit --json "$T/slow.json")")
j2=$(job_id_of "$(as submitter-1 submit --json "$T/slow.json")")
( as submitter-1 cancel "$j1" --note refuse-me >"$T/c1.out" 2>&1; echo $? >"$T/c1.rc" ) &
( as submitter-1 pause "$j2" --note fine >"$T/c2.out" 2>&1; echo $? >"$T/c2.rc" ) &
wait
[ "$(cat "$T/c1.rc")" != 0 ] || fail "the refused cancel was answered ok"
assert_contains "$(cat "$T/c1.out")" "the database refused (part of) this change" "the refused cancel's answer"
assert_eq "$(cat "$T/c2.rc")" 0 "the unrelated pause: $(cat "$T/c2.out")"
assert_eq "$(sql "SELECT state FROM jobs WHERE id = $j2")" paused "the unrelated pause committed"
[ "$(sql "SELECT state FROM jobs WHERE id = $j1")" != canceled ] || fail "the refused row was stored"
grep -q "trying it again row by row" "$FARM/logs/coordinator.log" || fail "no replay in the log"
serving
assert_eq "$(pid_of coordinator)" "$coord_pid" "the coordinator never restarted"
sql "ALTER TABLE jobs DROP CONSTRAINT test_refuse"
as submitter-1 cancel "$j2" >/dev/null || fail "cancel after the refusal"
log "ok"
