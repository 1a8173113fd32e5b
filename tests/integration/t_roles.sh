#!/usr/bin/env bash
# Identity: an unknown key cannot connect, submit or register a worker;
# every verb x role combination is checked: the allowed ones succeed, the
# others fail with one line naming the role needed and change nothing.
. "$(dirname "$0")/lib.sh"

farm_up 1
keys="$T/keys"
mkdir -p "$keys"
cp "$FARM/keys/coordinator.pub" "$keys/"
roles=(submitter supervisor operator auditor admin)
for role in "${roles[@]}"; do
  clapper keygen "$role-1" --dir "$keys" >/dev/null
  clapper users add "$role-1" --role "$role" --public-key "$keys/$role-1.pub" >/dev/null ||
    fail "users add $role-1"
done
as() { local who=$1; shift; CLAPPER_KEY="$keys/$who.key" clapper "$@"; }
assert_eq "$(as auditor-1 whoami --json | jq -r '.name + " " + .role')" "auditor-1 auditor" "whoami"

snapshot() {
  sql "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM jobs),
              (SELECT count(*) FROM keys), (SELECT count(*) FROM rates),
              (SELECT string_agg(state, ',' ORDER BY id) FROM jobs),
              (SELECT string_agg(state, ',' ORDER BY id) FROM takes),
              (SELECT string_agg(coalesce(budget_micros, -1)::text || '/' || weight, ',' ORDER BY id) FROM episodes),
              (SELECT string_agg(state || drained::text, ',' ORDER BY name) FROM workers)"
}

# An unknown key: refused at the door, nothing written.
clapper keygen mallory --dir "$keys" >/dev/null
before=$(snapshot)
printf '%s' '{"project": "p", "episode": "e", "jobs": [{"name": "x", "command": ["true"]}]}' >"$T/x.json"
as mallory submit "$T/x.json" 2>"$T/err" && fail "an unregistered key submitted"
assert_contains "$(cat "$T/err")" "refused" "unknown key message"
as mallory jobs 2>/dev/null && fail "an unregistered key listed jobs"
assert_eq "$(snapshot)" "$before" "after the unknown key"
# ... and a worker with an unknown key does not get in.
clapper keygen intruder --dir "$keys" >/dev/null
clapper-worker --coordinator "$(workers_endpoint)" --name intruder --workdir "$T/intruder" \
  --key "$keys/intruder.key" >>"$FARM/logs/intruder.log" 2>&1 &
EXTRA_WORKERS+=($!)
disown $!
sleep 3
assert_eq "$(clapper workers --json | jq '[.workers[] | select(.name == "intruder")] | length')" 0 \
  "an unregistered worker is not listed"
grep -q "refused a worker connection" "$FARM/logs/coordinator.log" || fail "the coordinator did not log the refused worker"
# A client key is no good on the workers socket either (and vice versa).
clapper-worker --coordinator "$(workers_endpoint)" --name admin-1 --workdir "$T/imp" \
  --key "$keys/admin-1.key" >>"$FARM/logs/impostor.log" 2>&1 &
EXTRA_WORKERS+=($!)
disown $!
sleep 2
assert_eq "$(clapper workers --json | jq '[.workers[] | select(.name == "admin-1")] | length')" 0 \
  "a client key cannot register as a worker"

# Material for the verbs: jobs of the submitter, takes to decide.
cat >"$T/gen.json" <<JSON
{"project": "show", "episode": "e1",
 "jobs": [{"name": "gen", "kind": "generate", "takes": 24,
           "command": ["sh", "-c", "echo {seed} > {output_dir}/t.txt"], "outputs": ["{output_dir}/t.txt"]}]}
JSON
gen=$(job_id_of "$(as submitter-1 submit --json "$T/gen.json")")
clapper wait "$gen" >/dev/null 2>&1 || fail "generation failed"
mapfile -t takes < <(clapper takes --json --job "$gen" | jq -r '.takes[].take_id')
cat >"$T/slow.json" <<JSON
{"project": "show", "episode": "e1", "jobs": [{"name": "slow", "command": ["sleep", "900"]}]}
JSON
slow=$(job_id_of "$(as submitter-1 submit --json "$T/slow.json")")
next_take=0
new_user=0

# verb: the command to run (ROLE is the caller), the roles allowed.
run() { # role command...
  local role=$1
  shift
  # Placeholders filled per call.
  local args=() a
  for a in "$@"; do
    case "$a" in
      TAKE) a=${takes[$next_take]}; next_take=$((next_take + 1)) ;;
      NEWUSER) new_user=$((new_user + 1)); a="newbie$new_user"
               clapper keygen "$a" --dir "$keys" >/dev/null ;;
      NEWPUB) a="$keys/newbie$new_user.pub" ;;
    esac
    args+=("$a")
  done
  as "$role-1" "${args[@]}"
}

check() { # allowed-roles command...
  local allowed=$1
  shift
  local role
  for role in "${roles[@]}"; do
    local before after last_job j
    before=$(snapshot)
    last_job=$(sql "SELECT coalesce(max(id), 0) FROM jobs")
    if run "$role" "$@" >"$T/out" 2>"$T/err"; then
      case " $allowed " in *" $role "*) ;; *) fail "$role may not '$*' but did: $(cat "$T/out")" ;; esac
      # A job the verb made (submit, retake) runs on: let it end, or the
      # next role's "changed nothing" snapshot would see it move.
      for j in $(sql "SELECT id FROM jobs WHERE id > $last_job"); do
        clapper wait "$j" >/dev/null 2>&1 || fail "$role '$*': job $j did not succeed"
      done
      if [ -n "${UNDO:-}" ]; then
        # shellcheck disable=SC2086
        clapper $UNDO >/dev/null || fail "undo '$UNDO' failed"
      fi
    else
      case " $allowed " in *" $role "*) fail "$role may '$*' but was refused: $(cat "$T/err")" ;; esac
      [ "$(wc -l <"$T/err")" = 1 ] || fail "$role '$*': not one line: $(cat "$T/err")"
      assert_contains "$(cat "$T/err")" "role" "$role '$*' refusal names the role"
      after=$(snapshot)
      assert_eq "$after" "$before" "$role '$*' refused, changed nothing"
    fi
  done
}

all="submitter supervisor operator auditor admin"
check "$all" jobs
check "$all" job "$gen"
check "$all" tasks "$gen"
check "$all" workers
check "$all" takes
check "$all" cost --episode show/e1
check "$all" rates
check "$all" budget show show/e1
check "$all" audit --episode show/e1
check "$all" audit --verify
check "$all" whoami
check "submitter admin" submit "$T/x.json"
UNDO="resume $slow" check "submitter operator admin" pause "$slow"
UNDO="undrain local-1" check "operator admin" drain local-1
UNDO="drain local-1" check "operator admin" undrain local-1
clapper undrain local-1 >/dev/null
check "operator admin" episode weight show/e1 2
check "operator admin" rates set --per-cpu-hour 0.01
check "supervisor admin" budget set show/e1 100
check "supervisor admin" approve TAKE
check "supervisor admin" reject TAKE
check "supervisor admin" request-changes TAKE
check "supervisor admin" retake TAKE
check "admin" users list
check "admin" users add NEWUSER --role auditor --public-key NEWPUB
# Submitters control their own jobs only.
slow2=$(job_id_of "$(clapper submit --json "$T/slow.json")")
before=$(snapshot)
as submitter-1 cancel "$slow2" 2>"$T/err" && fail "a submitter canceled someone else's job"
assert_contains "$(cat "$T/err")" "own jobs" "ownership refusal"
assert_eq "$(snapshot)" "$before" "refused cancel changed nothing"
as submitter-1 cancel "$slow" >/dev/null || fail "a submitter could not cancel their own job"
clapper cancel "$slow2" >/dev/null
# The actor is the key's name, never a name the client claims.
assert_eq "$(sql "SELECT submitted_by FROM jobs WHERE id = $gen")" submitter-1 "submitted_by"
assert_eq "$(sql "SELECT actor FROM events WHERE kind = 'job.cancel' AND subject_id = '$slow'")" submitter-1 "cancel actor"
# users list is paged by name: the pages walk the whole list in name order.
all_users=$(clapper users list --json | jq -c '[.users[].name]')
assert_eq "$(jq -c 'sort' <<<"$all_users")" "$all_users" "users list in name order"
first=$(jq -r '.[0]' <<<"$all_users")
second=$(jq -r '.[1]' <<<"$all_users")
assert_eq "$(clapper users list --json --limit 1 | jq -c '[.users[].name, .more, .next_after]')" \
  "[\"$first\",true,\"$first\"]" "users list --limit 1"
assert_eq "$(clapper users list --json --limit 1 --after "$first" | jq -r '.users[0].name')" \
  "$second" "users list --after"
assert_eq "$(clapper users list --limit 1 | tail -n1)" \
  "more users: add --after $first for the next page" "users list hint"
# A removed key stops working at once.
clapper users remove auditor-1 >/dev/null || fail "users remove"
as auditor-1 jobs 2>"$T/err" && fail "a removed key still works"
log "ok"
