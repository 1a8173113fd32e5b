#!/usr/bin/env bash
# Live events (GET /api/v1/events/stream) through a real farm: a watcher
# sees a take's approval within a second of `clapper approve` (the one
# timing bound of the issue); a watcher that disconnects and comes back
# with Last-Event-ID gets exactly the events it missed, in order, without
# duplicates, then live ones; a job's job.progress arrives with its final
# counts; the kinds and job filters keep what they should; bad filters and
# ids are refused 400, no identity 401, streams past --http-max-streams
# 503; a role without any write right (an auditor's API token) watches.
. "$(dirname "$0")/lib.sh"

WATCHERS=()
trap 'rc=$?; set +e; for p in "${WATCHERS[@]}"; do kill "$p" 2>/dev/null; done; (exit $rc); cleanup' EXIT

farm_up 2 --worker-cpus 2 --coordinator-arg=--http-max-streams=8
TOKEN=$(clapper token create t-sse --expires 1d --json | jq -r .secret) || fail "token create"
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || fail "token create printed no secret"
BASE=$(http_url)
[ -n "$BASE" ] || fail "the coordinator logged no HTTP address"
STREAM="$BASE/api/v1/events/stream"

# watch NAME QUERY [sse_watch.py options]: a watcher in the background,
# its events in $T/NAME.ev; waits until its stream started (status line).
watch() {
  local name=$1 query=$2
  shift 2
  python3 "$CLAPPER_SOURCE_DIR/tests/tools/sse_watch.py" "$STREAM$query" "$T/$name.ev" \
    --header "Authorization: Bearer ${WATCH_TOKEN:-$TOKEN}" "$@" &
  WATCHERS+=($!)
  eval "PID_$name=$!"
  wait_for 30 grep -q $'\tstatus\t' "$T/$name.ev" 2>/dev/null || fail "watcher $name did not start"
  assert_eq "$(awk -F'\t' '$2 == "status" {print substr($4, 1, 3)}' "$T/$name.ev")" 200 "watcher $name's status"
}
# has NAME AWK_CONDITION: a line of NAME's events matches.
has() { awk -F'\t' "$2 {found = 1} END {exit !found}" "$T/$1.ev"; }
# ids NAME: the ids of NAME's log events (not job.progress), one a line.
ids() { awk -F'\t' '$3 != "-" && $2 != "reset" {print $3}' "$T/$1.ev"; }
# db_ids AFTER: the log's positions after AFTER, one a line.
db_ids() { sql "SELECT seq FROM events WHERE seq > $1 ORDER BY seq"; }
code_of() { curl -s -o "$T/body" -w '%{http_code}' --max-time 5 "$@" || true; }
# same_ids NAME AFTER: NAME's log events are exactly the log after AFTER.
same_ids() { [ "$(ids "$1")" = "$(db_ids "$2")" ]; }
# start_of NAME: the position NAME's stream started after (its first comment).
start_of() { awk -F'\t' '$2 == "comment" && $4 ~ /^clapper events after / {print $4; exit}' "$T/$1.ev" | awk '{print $4}'; }

# ---------------------------------------------------------------- refusals
assert_eq "$(code_of "$STREAM")" 401 "no identity: 401"
assert_eq "$(code_of -H "Authorization: Bearer $TOKEN" "$STREAM?kinds=take%27")" 400 "a bad kind prefix"
assert_contains "$(cat "$T/body")" '"code":"bad_request"' "the API's error document"
assert_eq "$(code_of -H "Authorization: Bearer $TOKEN" "$STREAM?job=x")" 400 "a bad job id"
assert_eq "$(code_of -H "Authorization: Bearer $TOKEN" "$STREAM?episode=show/e1")" 400 \
  "no episode filter (refused, not ignored)"
assert_eq "$(code_of -H "Authorization: Bearer $TOKEN" -H 'Last-Event-ID: 1x' "$STREAM")" 400 \
  "a bad Last-Event-ID"

# ---------------------------------------------------------------- live
# The next job's id (ids are given in order), so that its watcher is
# there before it starts.
gen_id=$(( $(sql "SELECT coalesce(max(id), 0) FROM jobs") + 1 ))
watch all ""
watch takes "?kinds=take."
watch job "?job=$gen_id"
wait_for 10 bash -c "grep -q 'clapper events after' '$T/all.ev'" || fail "no greeting"
head0=$(start_of all)

cat >"$T/gen.json" <<JSON
{"project": "show", "episode": "e1",
 "jobs": [{"name": "gen", "shot": "sh010", "kind": "generate", "takes": 3, "seed": 7,
           "command": ["sh", "-c", "echo take {take} > {output_dir}/clip.txt"],
           "outputs": ["{output_dir}/clip.txt"]}]}
JSON
gen=$(submit "$T/gen.json")
assert_eq "$gen" "$gen_id" "the job's id, as foreseen"
clapper wait "$gen" >/dev/null 2>&1 || fail "the generate job failed"

# job.progress for the job, ending with every task succeeded.
wait_for 30 has job "\$2 == \"job.progress\" && \$4 ~ /\"succeeded\":3,/" ||
  fail "no job.progress with the job's final counts: $(cat "$T/job.ev")"
has job "\$2 == \"job.progress\" && \$4 ~ /^{\"job_id\":$gen,\"state\":\"succeeded\",\"ntasks\":3,\"counts\":{\"waiting\":0,/" ||
  fail "job.progress's document: $(grep job.progress "$T/job.ev" | head -1)"
assert_eq "$(awk -F'\t' '$2 == "job.progress" && $3 != "-"' "$T/job.ev")" "" "job.progress carries no id"
wait_for 30 has all "\$2 == \"job.state\" && \$4 ~ /\"subject_id\":\"$gen\"/ && \$4 ~ /\"to\":\"succeeded\"/" ||
  fail "no job.state succeeded for job $gen"

takes=$(clapper takes --json --job "$gen")
t1=$(jq -r '.takes[0].take_id' <<<"$takes")
t2=$(jq -r '.takes[1].take_id' <<<"$takes")

# The approval reaches the watcher within a second of the command.
t0=$(date +%s.%N)
clapper approve "$t1" --note "ship it" >/dev/null || fail "approve $t1"
wait_for 30 has all "\$2 == \"take.approved\"" || fail "take.approved never arrived"
line=$(awk -F'\t' '$2 == "take.approved"' "$T/all.ev" | head -1)
t_got=$(cut -f1 <<<"$line")
took=$(awk -v a="$t0" -v b="$t_got" 'BEGIN {printf "%.3f", b - a}')
log "take.approved arrived ${took} s after clapper approve started"
awk -v d="$took" 'BEGIN {exit !(d < 1.0)}' || fail "take.approved took $took s (more than 1 s)"
data=$(cut -f4 <<<"$line")
assert_eq "$(jq -r '[.kind, .subject_type, .subject_id, .details.job_id, .details.note] | map(tostring) | join(" ")' <<<"$data")" \
  "take.approved take $t1 $gen ship it" "the event's fields"
assert_eq "$(jq -r .id <<<"$data")" "$(cut -f3 <<<"$line")" "data.id is the id: line"
assert_eq "$(sql "SELECT kind || ' ' || actor FROM events WHERE seq = $(jq -r .id <<<"$data")")" \
  "take.approved $(jq -r .actor <<<"$data")" "the id is the event's position in the log"
assert_eq "$(jq -r .at <<<"$data" | grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z$')" 1 "at's format"

# The whole log since the watcher connected, in order, no duplicates.
wait_for 30 same_ids all "$head0" ||
  fail "the watcher's ids are not the log's: $(ids all | tr '\n' ' ') vs $(db_ids "$head0" | tr '\n' ' ')"
# The kinds filter: take events only; the job filter: that job's only.
wait_for 10 has takes "\$2 == \"take.approved\"" || fail "the take. watcher missed take.approved"
assert_eq "$(awk -F'\t' '$3 != "-" && $2 !~ /^take\./' "$T/takes.ev")" "" "kinds=take. keeps take events only"
assert_eq "$(awk -F'\t' '$2 == "job.progress"' "$T/takes.ev")" "" "kinds=take. keeps no job.progress"
has job "\$2 == \"take.approved\"" || fail "job=$gen has the take decision naming it (details.job_id)"
assert_eq "$(awk -F'\t' '$2 == "job.state" || $2 == "job.submitted"' "$T/job.ev" | grep -vc "\"subject_id\":\"$gen\"" || true)" 0 \
  "job=$gen keeps that job's events only"
# The same bytes for every watcher.
assert_eq "$(awk -F'\t' '$2 == "take.approved" {print $4}' "$T/takes.ev")" "$data" "same event, same data"

# ---------------------------------------------------------------- resume
kill "$PID_all"
wait "$PID_all" 2>/dev/null || true
last=$(ids all | tail -1)
# Missed: a second job, a rejection, a drain.
cat >"$T/more.json" <<JSON
{"project": "show", "episode": "e1", "jobs": [{"name": "more", "frames": "1-4", "command": ["true"]}]}
JSON
more=$(submit "$T/more.json")
clapper wait "$more" >/dev/null 2>&1 || fail "job $more failed"
clapper reject "$t2" --note "no" >/dev/null || fail "reject $t2"
w1=$(clapper workers --json | jq -r '.workers[0].name')
clapper drain "$w1" >/dev/null || fail "drain $w1"
missed=$(db_ids "$last")
[ "$(wc -l <<<"$missed")" -ge 4 ] || fail "too few events to miss: $missed"
watch back "" --header "Last-Event-ID: $last"
wait_for 30 same_ids back "$last" ||
  fail "the resume sent $(ids back | tr '\n' ' '), the log after $last holds $(tr '\n' ' ' <<<"$missed")"
# Then live, once each.
clapper undrain "$w1" >/dev/null || fail "undrain $w1"
wait_for 30 has back "\$2 == \"worker.undrain\"" || fail "no live event after the resume"
assert_eq "$(ids back | tr '\n' ' ')" "$(db_ids "$last" | tr '\n' ' ')" "resumed, then live: the log, in order, once each"
assert_eq "$(ids back | sort -n | uniq -d)" "" "no duplicates"
# The job filter held while another job ran: job $gen's events and
# progress only.
assert_eq "$(awk -F'\t' -v g="$gen" '$3 != "-" && index($4, "\"subject_type\":\"job\",\"subject_id\":\"" g "\"") == 0 && $4 !~ ("\"job_id\":" g "[,}]")' "$T/job.ev")" "" \
  "job=$gen keeps that job's events only"
assert_eq "$(awk -F'\t' -v g="$gen" '$2 == "job.progress" && index($4, "{\"job_id\":" g ",") != 1' "$T/job.ev")" "" \
  "job=$gen keeps that job's progress only"
# after= works as well, and Last-Event-ID wins over it.
watch after "?after=$last&kinds=take."
wait_for 30 has after "\$2 == \"take.rejected\"" || fail "after= resumed nothing"
assert_eq "$(ids after | tr '\n' ' ')" "$(sql "SELECT seq FROM events WHERE seq > $last AND kind LIKE 'take.%' ORDER BY seq" | tr '\n' ' ')" \
  "after= with a kinds filter"

# ---------------------------------------------------------------- roles
# A role without any write right watches: an API token with the auditor's
# role (auditors make no tokens themselves: an admin makes it for them).
aud_token=$(clapper token create aud-watch --role auditor --json | jq -r .secret) ||
  fail "token create --role auditor"
[ -n "$aud_token" ] && [ "$aud_token" != null ] || fail "token create printed no secret"
assert_eq "$(code_of -X POST -H "Authorization: Bearer $aud_token" "$BASE/api/v1/workers/$w1/drain")" 403 \
  "the auditor's token writes nothing"
WATCH_TOKEN=$aud_token watch aud "?kinds=worker."
clapper drain "$w1" >/dev/null || fail "drain $w1 again"
wait_for 30 has aud "\$2 == \"worker.drain\" && \$4 ~ /\"subject_id\":\"$w1\"/" ||
  fail "the auditor's stream got no worker.drain"
# ---------------------------------------------------------------- limits
# takes, job, back, after, aud: 5 open; 3 more reach the limit of 8 and
# the next is refused.
opened=0
for i in 1 2 3 4 5 6; do
  curl -sN --max-time 600 -D "$T/fill$i.head" -o "$T/fill$i.body" \
    -H "Authorization: Bearer $TOKEN" "$STREAM?kinds=none." &
  WATCHERS+=($!)
  wait_for 30 grep -q '^HTTP/' "$T/fill$i.head" 2>/dev/null || fail "watcher fill$i did not start"
  st=$(head -1 "$T/fill$i.head" | awk '{print $2}')
  [ "$st" = 200 ] || break
  opened=$((opened + 1))
done
assert_eq "$st" 503 "past --http-max-streams: 503"
assert_eq "$opened" 3 "streams opened up to the limit"
wait_for 10 grep -q http-max-streams "$T/fill$i.body" || fail "the refusal names the limit: $(cat "$T/fill$i.body")"

log "ok"
