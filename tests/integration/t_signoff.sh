#!/usr/bin/env bash
# Human sign-off: takes with their outputs' SHA-256 and provenance; only a
# supervisor may decide and the event names them; decisions are final; a
# gated render runs only after an approval, on the approved take's output;
# rejecting every take keeps it waiting; the audit's totals equal the cost
# report and the ledger; the event log refuses UPDATE and DELETE, and a row
# altered behind its back is caught by `audit --verify`.
. "$(dirname "$0")/lib.sh"

farm_up 2 --worker-cpus 2
keys="$T/keys"
mkdir -p "$keys"
cp "$FARM/keys/coordinator.pub" "$keys/"
for who in sue:supervisor sam:submitter; do
  name=${who%%:*} role=${who#*:}
  clapper keygen "$name" --dir "$keys" >/dev/null
  clapper users add "$name" --role "$role" --public-key "$keys/$name.pub" >/dev/null ||
    fail "users add $name"
done
as() { local who=$1; shift; CLAPPER_KEY="$keys/$who.key" clapper "$@"; }
clapper rates set --per-cpu-hour 0.36 >/dev/null

# Generated takes (the seed goes into the file) and a render gated on them.
cat >"$T/gen.json" <<JSON
{"project": "show", "episode": "e1",
 "jobs": [{"name": "gen", "shot": "sh010", "kind": "generate", "takes": 3, "seed": 41,
           "command": ["sh", "-c", "echo take {take} seed {seed} > {output_dir}/clip.txt"],
           "outputs": ["{output_dir}/clip.txt"],
           "provenance": {"model": "wan-2.1", "model_version": "14b", "prompt": "a calm sea"}},
          {"name": "final", "shot": "sh010", "kind": "render", "after_approval": ["gen"],
           "frames": "1-2", "command": ["sh", "-c", "cat {approved_output} > {output_dir}/f{frame_start}.txt"],
           "outputs": ["{output_dir}/f{frame_start}.txt"]}]}
JSON
out=$(as sam submit --json "$T/gen.json")
gen=$(job_id_of "$out" 0)
final=$(job_id_of "$out" 1)
clapper wait "$gen" >/dev/null 2>&1 || fail "generation failed"
takes=$(clapper takes --json --job "$gen")
assert_eq "$(jq '.takes | length' <<<"$takes")" 3 "takes of the generate job"
assert_eq "$(jq -r '[.takes[].state] | unique | .[]' <<<"$takes")" pending_review "takes wait for review"
assert_eq "$(jq -r '[.takes[].seed] | sort | map(tostring) | join(" ")' <<<"$takes")" "41 42 43" "seeds"
assert_eq "$(jq -r '.takes[0].provenance.model' <<<"$takes")" wan-2.1 "provenance on the take"
# Hashes on the takes are the files' SHA-256.
for i in 0 1 2; do
  path=$(jq -r ".takes[$i].outputs[0].path" <<<"$takes")
  assert_eq "$(jq -r ".takes[$i].outputs[0].sha256" <<<"$takes")" "$(sha256sum "$path" | cut -d' ' -f1)" "sha256 of $path"
  assert_eq "$(jq -r ".takes[$i].outputs[0].size" <<<"$takes")" "$(stat -c %s "$path")" "size of $path"
done
sleep 1
assert_eq "$(clapper job "$final" --json | jq -r .state)" waiting "the gated render waits"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $final")" 0 \
  "nothing of the gated render ran"

t1=$(jq -r '.takes[0].take_id' <<<"$takes")
t2=$(jq -r '.takes[1].take_id' <<<"$takes")
t3=$(jq -r '.takes[2].take_id' <<<"$takes")
# Rejecting every take keeps the render waiting, and says so.
as sue reject "$t1" --note "too dark" >/dev/null || fail "reject t1"
as sue request-changes "$t2" --note "slower" >/dev/null || fail "request-changes t2"
as sam approve "$t3" 2>"$T/err" && fail "a submitter approved a take"
assert_contains "$(cat "$T/err")" "supervisor" "refusal names the role needed"
assert_eq "$(sql "SELECT state FROM takes WHERE id = $t3")" pending_review "refused approval changed nothing"
as sue reject "$t3" >/dev/null || fail "reject t3"
as sue approve "$t3" 2>"$T/err" && fail "a decided take was decided again"
assert_contains "$(cat "$T/err")" "final" "decisions are final"
sleep 1
json=$(clapper job "$final" --json)
assert_eq "$(jq -r .state <<<"$json")" waiting "render waits with every take turned down"
assert_contains "$(jq -r .reason <<<"$json")" "rejected" "and says why"

# A retake (next seed); approving it releases the render on its output.
out=$(as sue retake "$t1" --json)
rj=$(jq -r '.jobs[0].job_id' <<<"$out")
assert_eq "$(jq -r '.jobs[0].seed' <<<"$out")" 44 "the retake's seed"
clapper wait "$rj" >/dev/null 2>&1 || fail "the retake failed"
t4=$(clapper takes --json --job "$rj" | jq -r '.takes[0].take_id')
approved=$(clapper takes --json --job "$rj" | jq -r '.takes[0].outputs[0].path')
as sue approve "$t4" --note "ship it" >/dev/null || fail "approve the retake"
assert_eq "$(sql "SELECT actor FROM events WHERE kind = 'take.approved' AND subject_id = '$t4'")" sue \
  "the approval event names the supervisor"
clapper wait "$final" >/dev/null 2>&1 || fail "the gated render did not run after the approval"
assert_eq "$(sql "SELECT min(a.started_at) > (SELECT decided_at FROM takes WHERE id = $t4)
                 FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $final")" t \
  "the render started after the approval"
for f in 1 2; do
  out_file=$(sql "SELECT output_dir FROM jobs WHERE id = $final")/f$f.txt
  assert_eq "$(cat "$out_file")" "take 1 seed 44" "frame $f rendered the approved take ($approved)"
done
render_take=$(clapper takes --json --job "$final")
assert_eq "$(jq '.takes | length' <<<"$render_take")" 1 "one take for the render"
assert_eq "$(jq '.takes[0].outputs | length' <<<"$render_take")" 2 "its outputs: every frame"

# The audit: who decided what, what was approved, and totals that equal
# the cost report and the ledger.
as sue approve "$(jq -r '.takes[0].take_id' <<<"$render_take")" >/dev/null
audit=$(clapper audit --episode show/e1 --json)
shot=$(jq '.shots[] | select(.shot == "sh010")' <<<"$audit")
assert_eq "$(jq -c .takes <<<"$shot")" '{"generated":5,"approved":2,"rejected":2,"pending":0,"changes_requested":1}' "takes per state"
assert_eq "$(jq -r '[.decisions[].decided_by] | unique | join(",")' <<<"$shot")" sue "deciders"
assert_eq "$(jq -r '.decisions[] | select(.take_id == '"$t1"') | .note' <<<"$shot")" "too dark" "notes"
gen_approved=$(jq '.approved[] | select(.take_id == '"$t4"')' <<<"$shot")
assert_eq "$(jq -r '.machine_generated, .model' <<<"$gen_approved" | tr '\n' ' ')" "true wan-2.1 " "machine-generated, model"
assert_eq "$(jq -r '.outputs[0].sha256' <<<"$gen_approved")" "$(sha256sum "$approved" | cut -d' ' -f1)" "approved output hash"
assert_eq "$(jq -r '.approved[] | select(.kind == "render") | .machine_generated' <<<"$shot")" false "the render is not machine-generated"
ledger=$(sql "SELECT (sum(amount_micros)::numeric / 1000000)::numeric(30,6) FROM ledger")
assert_eq "$(jq -r .totals.cost.total <<<"$audit")" "$ledger" "audit total = ledger"
assert_eq "$(clapper cost --episode show/e1 --json | jq -r .total_cost)" "$ledger" "cost report = ledger"
sum_parts=$(jq -r '.totals.cost | [.approved, .rejected, .pending, .changes_requested, .failed_attempts, .other] | map(tonumber * 1000000 | round) | add' <<<"$audit")
assert_eq "$sum_parts" "$(sql "SELECT sum(amount_micros) FROM ledger")" "the audit's parts add up"

# The event log: append-only, and tamper-evident.
assert_eq "$(clapper audit --verify --json | jq -r .ok)" true "chain intact"
sql "UPDATE events SET actor = 'mallory' WHERE kind = 'take.approved'" 2>/dev/null && fail "UPDATE on events worked"
sql "DELETE FROM events" 2>/dev/null && fail "DELETE on events worked"
victim=$(sql "SELECT id FROM events WHERE kind = 'take.approved' AND subject_id = '$t4'")
psql "$CLAPPER_DB" -X -q -v ON_ERROR_STOP=1 \
  -c "ALTER TABLE events DISABLE TRIGGER events_append_only" \
  -c "UPDATE events SET actor = 'mallory' WHERE id = $victim" \
  -c "ALTER TABLE events ENABLE TRIGGER events_append_only" || fail "could not tamper as the owner"
clapper audit --verify >"$T/verify.out" 2>"$T/verify.err" && fail "verify passed a tampered log"
assert_contains "$(cat "$T/verify.err")" "event $victim" "verify names the altered event"
log "ok"
