#!/usr/bin/env bash
# Notifications (webhooks, docs/notifications.md) through a real farm and a
# local receiver (tests/tools/webhook_receiver.py, which only records):
#  1. take.ready (a generate job), job.failed, worker.lost and episode.held
#     arrive with the event's position in the log, a Slack-compatible text
#     and a valid X-Clapper-Signature under the secret made in
#     KEYS/notify.key (0600);
#     a 503 is tried again after the back-off and then delivered;
#  2. a receiver that is down and one that accepts and never answers do
#     not stall the farm: many small tasks all succeed, the log shows the
#     failed tries and the time-outs, and stopping drops what was left;
#  3. with --notify-queue 2 and a receiver that is down, deliveries beyond
#     the queue are dropped with the count in a warning.
. "$(dirname "$0")/lib.sh"

RECEIVER="$CLAPPER_SOURCE_DIR/tests/tools/webhook_receiver.py"
RECEIVERS=()
receiver_stop() {
  local p
  for p in "${RECEIVERS[@]}"; do kill "$p" 2>/dev/null || true; done
  RECEIVERS=()
}
notify_cleanup() {
  local rc=$?
  set +e
  receiver_stop
  (exit $rc)
  cleanup
}
trap notify_cleanup EXIT

# receiver NAME [options]: starts one, sets PORT.
receiver() {
  local name=$1
  shift
  python3 "$RECEIVER" --out "$T/$name.jsonl" --port-file "$T/$name.port" "$@" \
    2>"$T/$name.log" &
  RECEIVERS+=($!)
  wait_for 10 test -s "$T/$name.port" || fail "receiver $name did not start"
  PORT=$(cat "$T/$name.port")
}

# A port nobody listens on: bound by nobody once this python exits.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

COORD_LOG="$FARM/logs/coordinator.log"
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
log_from() { tail -n +"$(($1 + 1))" "$COORD_LOG"; }
log_lines() { wc -l <"$COORD_LOG"; }

# got FILE EVENT: how many requests FILE recorded for EVENT.
got() {
  [ -f "$1" ] || { echo 0; return; }
  jq -s --arg e "$2" '[.[] | select(.headers["X-Clapper-Event"] == $e)] | length' "$1"
}
at_least() { [ "$(got "$1" "$2")" -ge "$3" ]; }

# -------------------------------------------------------------- phase 1
receiver ok --status-seq 503
okport=$PORT
farm_up 1 --worker-cpus 2 --coordinator-arg=--lease-ms=2000 \
  --coordinator-arg=--notify=http://127.0.0.1:$okport/hook/secret-path
secret="$FARM/keys/notify.key"
[ -f "$secret" ] || fail "no notification secret was made at $secret"
assert_eq "$(stat -c %a "$secret")" 600 "mode of the notification secret"
assert_contains "$(cat "$COORD_LOG")" "webhook http://127.0.0.1:$okport: notified of" "the start names the webhook"
# (Its command line, written by `clapper local`, is the only line with it.)
grep -v "clapper starts:" "$COORD_LOG" | grep -q "secret-path" && fail "the coordinator's log shows the webhook's path"

cat >"$T/gen.json" <<JSON
{"project": "show", "episode": "ep01",
 "jobs": [{"name": "gen", "shot": "sh010", "kind": "generate", "takes": 2, "seed": 7,
           "command": ["sh", "-c", "echo take {take} > {output_dir}/clip.txt"],
           "outputs": ["{output_dir}/clip.txt"]},
          {"name": "broken", "command": ["sh", "-c", "exit 3"], "max_attempts": 1}]}
JSON
out=$(clapper submit --json "$T/gen.json")
gen=$(job_id_of "$out" 0)
broken=$(job_id_of "$out" 1)
clapper wait --max-wait-s 120 "$gen" >/dev/null 2>&1 || fail "the generate job did not succeed"
clapper wait --max-wait-s 120 "$broken" >/dev/null 2>&1 && fail "the broken job succeeded"
assert_eq "$(sql "SELECT count(*) FROM events WHERE kind = 'take.ready' AND subject_id = '$gen'")" 2 \
  "take.ready events in the log"

# worker.lost: a worker killed outright, lost after the lease.
start_worker doomed
doomed=${EXTRA_WORKERS[-1]}
kill -KILL "$doomed"

# episode.held: a budget that the work running overspends at once.
clapper rates set --per-cpu-hour 3600 >/dev/null || fail "rates set"
cat >"$T/costly.json" <<JSON
{"project": "show", "episode": "ep09",
 "jobs": [{"name": "costly", "frames": "1-4", "command": ["sh", "-c", "sleep 2"]}]}
JSON
costly=$(submit "$T/costly.json")
clapper budget set show/ep09 0.001 >/dev/null || fail "budget set"

wait_for 30 at_least "$T/ok.jsonl" take.ready 2 || fail "take.ready did not arrive: $(cat "$T/ok.jsonl" 2>/dev/null)"
wait_for 30 at_least "$T/ok.jsonl" job.failed 1 || fail "job.failed did not arrive"
wait_for 30 at_least "$T/ok.jsonl" worker.lost 1 || fail "worker.lost did not arrive"
wait_for 30 at_least "$T/ok.jsonl" episode.held 1 || fail "episode.held did not arrive"

# Every request: signed with the secret, naming its event by position.
python3 - "$secret" "$T/ok.jsonl" >"$T/check.out" 2>&1 <<'PY' || fail "requests do not check: $(cat "$T/check.out")"
import hashlib, hmac, json, sys
secret = open(sys.argv[1], "rb").read().rstrip()
n = 0
for line in open(sys.argv[2]):
    r = json.loads(line)
    h = {k.lower(): v for k, v in r["headers"].items()}
    ts, body = h["x-clapper-timestamp"], r["body"].encode()
    want = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(h["x-clapper-signature"], want), ("bad signature", r)
    bad = "sha256=" + hmac.new(secret, ts.encode() + b"." + body + b" ", hashlib.sha256).hexdigest()
    assert bad != h["x-clapper-signature"]
    assert h["content-type"] == "application/json", h
    assert r["path"] == "/hook/secret-path", r["path"]
    doc = json.loads(body)
    ev = doc["event"]
    assert ev["kind"] == h["x-clapper-event"], (ev, h)
    assert str(ev["id"]) == h["x-clapper-delivery"], (ev, h)
    assert ev["at"].endswith("Z") and "T" in ev["at"], ev
    assert isinstance(doc["text"], str) and doc["text"], doc
    n += 1
print(n, "requests signed and well formed")
PY
log "$(cat "$T/check.out")"

# The texts, and the events they name are the log's.
texts=$(jq -r '.body | fromjson | .text' "$T/ok.jsonl")
assert_contains "$texts" "take 1 of show/ep01/sh010 (job $gen gen) is ready for review" "take.ready text"
assert_contains "$texts" "take 2 of show/ep01/sh010 (job $gen gen) is ready for review" "take.ready text"
assert_contains "$texts" "job $broken broken of show/ep01 failed" "job.failed text"
assert_contains "$texts" "worker doomed was lost" "worker.lost text"
assert_contains "$texts" "episode show/ep09 is held: it has used " "episode.held text"
assert_contains "$texts" " of its 0.001000 USD budget" "episode.held text"
while read -r id kind stype sid; do
  assert_eq "$(sql "SELECT kind || ' ' || subject_type || ' ' || subject_id FROM events WHERE seq = $id")" \
    "$kind $stype $sid" "event $id as posted"
done < <(jq -r '.body | fromjson | .event | "\(.id) \(.log_kind) \(.subject_type) \(.subject_id)"' "$T/ok.jsonl" | sort -u)
# Each event as posted is the log's entry as `clapper events` lists it.
for id in $(jq -r '.body | fromjson | .event.id' "$T/ok.jsonl" | sort -u); do
  assert_eq "$(jq -cS --argjson id "$id" '.body | fromjson | .event | select(.id == $id) | del(.kind, .log_kind)' "$T/ok.jsonl" | head -1)" \
    "$(clapper events --json --after $((id - 1)) --limit 1 | jq -cS '.events[0] | del(.kind)')" "event $id against clapper events"
done
assert_eq "$(jq -r '.body | fromjson | .event | select(.kind == "take.ready") | .details.take' "$T/ok.jsonl" | sort -u | tr '\n' ' ')" \
  "1 2 " "take numbers in the details"
assert_eq "$(jq -r '.body | fromjson | .event | select(.kind == "job.failed") | .details.to' "$T/ok.jsonl" | sort -u)" \
  failed "job.failed details"

# The first request was answered 503: tried again after the back-off, so one
# delivery came twice and the log says why.
assert_eq "$(jq -r '.headers["X-Clapper-Delivery"]' "$T/ok.jsonl" | sort | uniq -d | wc -l)" 1 \
  "exactly one delivery was tried twice"
assert_contains "$(cat "$COORD_LOG")" "try 1 of 8 failed: HTTP 503; again in 1 s" "the retry is logged"
clapper audit --verify >"$T/verify.out" 2>&1 || fail "the event chain does not verify: $(cat "$T/verify.out")"

# Many small generated takes, announced to the receiver that answers (the
# time is for comparison with phase 2; nothing asserts speed).
cat >"$T/many.json" <<JSON
{"project": "show", "episode": "ep02",
 "jobs": [{"name": "many", "shot": "sh020", "kind": "generate", "takes": 60,
           "command": ["sh", "-c", "echo {take} > {output_dir}/c.txt"],
           "outputs": ["{output_dir}/c.txt"]}]}
JSON
t0=$(date +%s.%N)
many=$(submit "$T/many.json")
clapper wait --max-wait-s 300 "$many" >"$T/wait.out" 2>&1 || fail "the takes did not succeed: $(cat "$T/wait.out")"
log "phase 1: 60 takes with a receiver that answers in $(since "$t0") s"
wait_for 30 at_least "$T/ok.jsonl" take.ready 62 || fail "not every take.ready arrived: $(got "$T/ok.jsonl" take.ready)"

# An unknown event name: refused at start, in one line.
if clapper-coordinator --db "$CLAPPER_DB" --notify http://127.0.0.1:1/ --notify-secret "$secret" \
  --notify-events take.ready,job.exploded >"$T/refused.out" 2>&1; then
  fail "an unknown event name was accepted"
fi
assert_eq "$(wc -l <"$T/refused.out")" 1 "one line for an unknown event name"
assert_contains "$(cat "$T/refused.out")" "unknown event 'job.exploded'" "the unknown name is named"
t0=$(date +%s.%N)
clapper local down --dir "$FARM" >/dev/null 2>&1
log "phase 1: farm stopped in $(since "$t0") s"
receiver_stop

# -------------------------------------------------------------- phase 2
# The same takes, each announced to a receiver that is down and to one that
# never answers.
sed -i 's/ep02/ep03/' "$T/many.json"
receiver hang --mode hang
hangport=$PORT
downport=$(free_port)
before=$(log_lines)
farm_up 1 --worker-cpus 2 \
  --coordinator-arg=--notify=http://127.0.0.1:$downport/hook \
  --coordinator-arg=--notify=http://127.0.0.1:$hangport/hook
t0=$(date +%s.%N)
many=$(submit "$T/many.json")
clapper wait --max-wait-s 300 "$many" >"$T/wait.out" 2>&1 ||
  fail "the takes did not all succeed with a dead receiver: $(cat "$T/wait.out")"
log "phase 2: 60 takes with a receiver down and one hanging in $(since "$t0") s"
assert_eq "$(sql "SELECT count(*) FROM tasks WHERE job_id = $many AND state = 'succeeded'")" 60 "succeeded takes"
wait_for 30 grep -q "webhook http://127.0.0.1:$downport: event .* try 1 of 8 failed" "$COORD_LOG" ||
  fail "no failed try logged for the receiver that is down"
wait_for 30 grep -q "webhook http://127.0.0.1:$hangport: event .* try 1 of 8 failed: .*[Tt]ime" "$COORD_LOG" ||
  fail "no time-out logged for the receiver that never answers"
at_least "$T/hang.jsonl" take.ready 1 || fail "the hanging receiver got nothing"
log "phase 2: $(got "$T/hang.jsonl" take.ready) requests reached the hanging receiver"
# Clients are answered meanwhile.
clapper job "$many" --json >/dev/null || fail "the coordinator does not answer"
t0=$(date +%s.%N)
clapper local down --dir "$FARM" >/dev/null 2>&1
log "phase 2: farm stopped in $(since "$t0") s"
log_from "$before" >"$T/phase2.log"
grep -q "stopping: [0-9]* webhook deliveries not made were dropped" "$T/phase2.log" ||
  fail "stopping did not drop (and log) the deliveries left"
grep -q "stopped after" "$T/phase2.log" || fail "the coordinator did not stop by itself"
receiver_stop

# -------------------------------------------------------------- phase 3
downport=$(free_port)
before=$(log_lines)
farm_up 1 --worker-cpus 2 --coordinator-arg=--notify=http://127.0.0.1:$downport/hook \
  --coordinator-arg=--notify-queue=2
sed -i 's/"takes": 60/"takes": 20/; s/ep03/ep04/' "$T/many.json"
few=$(submit "$T/many.json")
clapper wait --max-wait-s 300 "$few" >/dev/null 2>&1 || fail "the takes did not succeed with a full queue"
# The first drop is written at once, the ones after it as a count when the
# 10 s interval is over.
grep -q "notification queue full: dropped event [0-9]* (take.ready) for http://127.0.0.1:$downport: 1 dropped since start (--notify-queue 2)" "$COORD_LOG" ||
  fail "no warning for the first dropped delivery"
counted() { grep -qE "notification queue full: [0-9]+ more in the last 10 s, the last: .*: 1[0-9] dropped since start" "$COORD_LOG"; }
wait_for 30 counted || fail "no count of the dropped deliveries"
log "phase 3: $(grep "notification queue full: [0-9]* more" "$COORD_LOG" | tail -1 | cut -d' ' -f4-)"
log "ok"
