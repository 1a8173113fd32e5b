#!/usr/bin/env bash
# The JSON API through a real farm with keys, one API token per role:
# every route of the /api/v1 table (coordinator/api.c) x every role is
# allowed or refused exactly as the same action through `clapper` is, and
# as the README's role matrix (made from the verb table) says; a refusal is
# 403 {"error": {"code": "forbidden"}} with the CLI's message and changes
# nothing; a submitter acting on another's job is refused as on the CLI;
# writes land in the event log with the person as actor; the same
# Idempotency-Key twice gives one job (another file under it: 409); and
# hostile input from a submitter (invalid UTF-8, a 2 MB note, absurd ids,
# unknown routes, bodies that are not JSON or too big, paths with `..` and
# NUL) is answered with a one-line error, changes nothing and leaves the
# coordinator up.
. "$(dirname "$0")/lib.sh"

farm_up 1 --worker-cpus 4
BASE=$(http_url)
[ -n "$BASE" ] || fail "the coordinator did not log its HTTP address"
keys="$T/keys"
mkdir -p "$keys"
cp "$FARM/keys/coordinator.pub" "$keys/"
roles=(submitter supervisor operator auditor admin)
declare -A TOK
for role in "${roles[@]}"; do
  clapper keygen "$role-1" --dir "$keys" >/dev/null
  clapper users add "$role-1" --role "$role" --public-key "$keys/$role-1.pub" >/dev/null ||
    fail "users add $role-1"
done
as() { local who=$1; shift; CLAPPER_KEY="$keys/$who.key" clapper "$@"; }
# Each person makes their own token (of their own role); auditors may not
# make tokens (the verb table), so the auditor signs in as in a browser:
# a link from `clapper web`, a session cookie, and its CSRF token on writes
# (so that what refuses a write is the role, not a missing CSRF token).
for role in "${roles[@]}"; do
  [ "$role" != auditor ] || continue
  TOK[$role]=$(as "$role-1" token create api --json | jq -r .secret) || fail "token create as $role-1"
  [ -n "${TOK[$role]}" ] && [ "${TOK[$role]}" != null ] || fail "no secret for $role-1's token"
done
as auditor-1 token create api >/dev/null 2>&1 && fail "an auditor made a token"
link=$(as auditor-1 web --print --json | jq -r .url) || fail "clapper web as auditor-1"
curl -sS -c "$T/auditor.jar" -o /dev/null "$link" || fail "signing in with $link"
csrf=$(curl -sS -b "$T/auditor.jar" "$BASE/api/v1/session" | jq -r .csrf)
[ -n "$csrf" ] && [ "$csrf" != null ] || fail "no CSRF token for the auditor's session"

# api ROLE METHOD PATH [curl arguments]: the status on stdout, the body in $T/body.
api() {
  local role=$1 method=$2 path=$3 auth
  shift 3
  if [ "$role" = auditor ]; then
    auth=(-b "$T/auditor.jar" -H "X-CSRF-Token: $csrf")
  else
    auth=(-H "Authorization: Bearer ${TOK[$role]}")
  fi
  curl -sS --path-as-is -o "$T/body" -w '%{http_code}' -X "$method" "${auth[@]}" "$@" "$BASE$path"
}
assert_eq "$(api auditor GET /api/v1/whoami)" 200 "whoami over HTTP"
assert_eq "$(jq -r '.name + " " + .role' "$T/body")" "auditor-1 auditor" "whoami over HTTP acts for the token's owner"

snapshot() {
  sql "SELECT (SELECT count(*) || '/' || coalesce(max(id), 0) FROM events), (SELECT count(*) FROM jobs),
              (SELECT count(*) FROM keys), (SELECT count(*) FROM rates),
              (SELECT string_agg(state, ',' ORDER BY id) FROM jobs),
              (SELECT string_agg(state || '/' || coalesce(decided_by, ''), ',' ORDER BY id) FROM takes),
              (SELECT string_agg(coalesce(budget_micros, -1)::text || '/' || weight, ',' ORDER BY id) FROM episodes),
              (SELECT string_agg(state || drained::text, ',' ORDER BY name) FROM workers),
              (SELECT string_agg(name || '=' || count, ',' ORDER BY name) FROM limits),
              (SELECT count(*) || '/' || count(revoked_at) FROM tokens),
              (SELECT count(*) FROM tasks)"
}
snapshot >/dev/null || fail "the snapshot query fails (the schema moved?)"

# Material: a generate job with takes to decide; a job that waits forever
# (it needs a limit of count 0) to pause and resume; a failed job to retry.
clapper limit set zero 0 >/dev/null || fail "limit set zero"
cat >"$T/gen.json" <<JSON
{"project": "show", "episode": "e1",
 "jobs": [{"name": "gen", "shot": "sh010", "kind": "generate", "takes": 50,
           "command": ["sh", "-c", "echo {seed} > {output_dir}/t.txt"], "outputs": ["{output_dir}/t.txt"]}]}
JSON
gen=$(job_id_of "$(as submitter-1 submit --json "$T/gen.json")")
clapper wait "$gen" >/dev/null 2>&1 || fail "generation failed"
mapfile -t takes < <(clapper takes --json --job "$gen" --limit 100 | jq -r '.takes[].take_id')
[ "${#takes[@]}" = 50 ] || fail "expected 50 takes, got ${#takes[@]}"
task=$(clapper tasks "$gen" --json | jq -r '.tasks[0].task_id')
cat >"$T/hold.json" <<JSON
{"project": "show", "episode": "e1",
 "jobs": [{"name": "hold", "command": ["true"], "requires": {"limits": ["zero"]}}]}
JSON
slow=$(job_id_of "$(as submitter-1 submit --json "$T/hold.json")")
cat >"$T/fail.json" <<JSON
{"project": "show", "episode": "e1",
 "jobs": [{"name": "fails", "command": ["false"], "max_attempts": 1}]}
JSON
failed=$(job_id_of "$(as submitter-1 submit --json "$T/fail.json")")
job_state() { clapper job "$1" --json | jq -r .state; }
is_state() { [ "$(job_state "$1")" = "$2" ]; }
wait_for 60 is_state "$failed" failed || fail "job $failed did not fail"
printf '%s' '{"project": "show", "episode": "e1", "jobs": [{"name": "x", "command": ["true"]}]}' >"$T/x.json"

# What the README's role matrix (tests/unit/test_verbs.c keeps it equal to
# coordinator/verbs.c) gives the clapper command NAME: the roles allowed,
# "own jobs" counted (the checks act on the submitter's own job).
matrix() {
  awk -F'|' -v n="\`$1\`" '
    /<!-- roles: made by/ { f = 1; next }
    /<!-- roles: end/ { f = 0 }
    f && $2 ~ /verbs/ { for (i = 3; i < NF; i++) { h[i] = $i; gsub(/ /, "", h[i]) } next }
    f && index($2, n) { for (i = 3; i < NF; i++) { c = $i; gsub(/ /, "", c); if (c != "") printf "%s ", h[i] } }
  ' "$CLAPPER_SOURCE_DIR/README.md"
}
[ "$(matrix submit)" = "submitter admin " ] || fail "cannot read the role matrix: submit -> '$(matrix submit)'"

# fill WORD: a placeholder made concrete in $FILLED (a fresh object where
# a verb uses one up; no subshell, so the take counter moves).
next_take=0
fill() {
  case "$1" in
    @GEN) FILLED=$gen ;;
    @HOLD) FILLED=$slow ;;
    @FAILED) FILLED=$failed ;;
    @TASK) FILLED=$task ;;
    @TAKE) [ $next_take -lt 49 ] || fail "out of takes"
           FILLED=${takes[$next_take]}; next_take=$((next_take + 1)) ;;
    @NEWJOB) FILLED=$(job_id_of "$(as submitter-1 submit --json "$T/hold.json")") ;;
    @FILE) FILLED=$T/x.json ;;
    *) FILLED=$1 ;;
  esac
}
fill_path() { # a path with placeholders as segments, into $FILLED
  local out="" seg segs
  IFS=/ read -ra segs <<<"${1#/}"
  for seg in "${segs[@]}"; do fill "$seg"; out+="/$FILLED"; done
  FILLED=$out
}

# settle LAST_JOB: jobs an allowed verb made (submit, retake) run to their
# end, and a retried job fails again, so the next snapshot is still.
settle() {
  local j
  for j in $(sql "SELECT id FROM jobs WHERE id > $1"); do
    clapper wait "$j" >/dev/null 2>&1 || fail "job $j (made by a verb) did not succeed"
  done
  wait_for 60 is_state "$failed" failed || fail "the retried job $failed did not fail again"
}

declare -A covered
# check "METHOD PATTERN" NAME PREP -- CLI ARGS... -- CURL ARGS...
# PATTERN is the route's row in api.c; NAME is the clapper command in the
# role matrix; PREP runs (as admin, through clapper) before each attempt to
# put the object in the state the verb needs; CURL ARGS are the method, the
# path and a body.  For each role the CLI and then the API do the action.
check() {
  local route=$1 name=$2 prep=$3
  shift 3
  [ "$1" = -- ] || fail "check $route: expected --"
  shift
  local cli=() a
  while [ $# -gt 0 ] && [ "$1" != -- ]; do cli+=("$1"); shift; done
  shift
  local method=$1 path=$2
  shift 2
  covered[$route]=1
  local expect role before last_job cli_ok api_ok status args=() msg
  expect=$(matrix "$name")
  [ -n "$expect" ] || fail "$name is not in the README's role matrix"
  for role in "${roles[@]}"; do
    # The CLI first.
    [ -z "$prep" ] || eval "$prep" >/dev/null 2>&1 || true
    args=()
    for a in "${cli[@]}"; do fill "$a"; args+=("$FILLED"); done
    before=$(snapshot)
    last_job=$(sql "SELECT coalesce(max(id), 0) FROM jobs")
    if as "$role-1" "${args[@]}" >"$T/cli.out" 2>"$T/cli.err"; then
      cli_ok=1
      settle "$last_job"
    else
      cli_ok=0
      [ "$(wc -l <"$T/cli.err")" = 1 ] || fail "$role clapper ${args[*]}: not one line: $(cat "$T/cli.err")"
      assert_eq "$(snapshot)" "$before" "$role clapper ${args[*]} refused, changed nothing"
    fi
    case " $expect" in
      *" $role "*) [ $cli_ok = 1 ] || fail "$role may '${args[*]}' (role matrix) but clapper was refused: $(cat "$T/cli.err")" ;;
      *) [ $cli_ok = 0 ] || fail "$role may not '${args[*]}' (role matrix) but clapper did" ;;
    esac
    # Then the same over HTTP.
    [ -z "$prep" ] || eval "$prep" >/dev/null 2>&1 || true
    local p
    fill_path "$path"
    p=$FILLED
    before=$(snapshot)
    last_job=$(sql "SELECT coalesce(max(id), 0) FROM jobs")
    local last_event
    last_event=$(sql "SELECT coalesce(max(id), 0) FROM events")
    status=$(api "$role" "$method" "$p" "$@") || fail "$role $method $p: curl failed (is the coordinator up?)"
    case "$status" in
      2??) api_ok=1 ;;
      403) api_ok=0 ;;
      *) fail "$role $method $p: status $status: $(cat "$T/body")" ;;
    esac
    if [ $api_ok = 1 ]; then
      jq -e 'type == "object" and (has("error") | not)' "$T/body" >/dev/null ||
        fail "$role $method $p: 2xx but not a document: $(head -c 300 "$T/body")"
      settle "$last_job"
      if [ "$method" != GET ]; then
        # The write is in the log with the person as actor (SQL and the API's events agree).
        [ "$(sql "SELECT count(*) FROM events WHERE id > $last_event AND actor = '$role-1'")" -ge 1 ] ||
          fail "$role $method $p: no event with actor $role-1: $(sql "SELECT kind, actor FROM events WHERE id > $last_event")"
        [ "$(api admin GET "/api/v1/events?after=$last_event&limit=1000")" = 200 ] || fail "GET /api/v1/events: $(cat "$T/body")"
        jq -e --arg a "$role-1" '[.events[] | select(.actor == $a)] | length >= 1' "$T/body" >/dev/null ||
          fail "$role $method $p: GET /api/v1/events shows no event by $role-1: $(head -c 500 "$T/body")"
      fi
    else
      [ "$(wc -l <"$T/body")" -le 1 ] || fail "$role $method $p: refusal not one line: $(cat "$T/body")"
      assert_eq "$(jq -r .error.code "$T/body")" forbidden "$role $method $p: the refusal's code"
      msg=$(jq -r .error.message "$T/body")
      assert_contains "$msg" role "$role $method $p: the refusal names the role"
      # The CLI said the same (it may prefix it).
      assert_contains "$(cat "$T/cli.err")" "$msg" "$role $method $p: the API's refusal is the CLI's"
      assert_eq "$(snapshot)" "$before" "$role $method $p refused, changed nothing"
    fi
    [ $api_ok = $cli_ok ] || fail "$role $method $p: the API (status $status) and clapper (${cli[*]}: ok=$cli_ok) disagree"
  done
}

note='{"note": "from the API test"}'
check "GET /api/v1/whoami" whoami "" -- whoami -- GET /api/v1/whoami
check "GET /api/v1/jobs" jobs "" -- jobs -- GET "/api/v1/jobs?episode=show/e1&limit=5"
check "GET /api/v1/jobs/{}" job "" -- job @GEN -- GET /api/v1/jobs/@GEN
check "GET /api/v1/jobs/{}/tasks" tasks "" -- tasks @GEN -- GET "/api/v1/jobs/@GEN/tasks?limit=3"
check "GET /api/v1/tasks/{}/attempts" attempts "" -- attempts @TASK -- GET /api/v1/tasks/@TASK/attempts
check "GET /api/v1/tasks/{}/logs" logs "" -- logs @TASK -- GET /api/v1/tasks/@TASK/logs
check "GET /api/v1/takes" takes "" -- takes --episode show/e1 -- GET "/api/v1/takes?episode=show/e1&shot=sh010"
check "GET /api/v1/workers" workers "" -- workers -- GET /api/v1/workers
check "GET /api/v1/episodes/{}/{}/cost" cost "" -- cost --episode show/e1 -- GET /api/v1/episodes/show/e1/cost
check "GET /api/v1/episodes/{}/{}/budget" "budget show" "" -- budget show show/e1 -- GET /api/v1/episodes/show/e1/budget
check "GET /api/v1/episodes/{}/{}/audit" audit "" -- audit --episode show/e1 -- GET /api/v1/episodes/show/e1/audit
check "GET /api/v1/audit/head" "audit --head" "" -- audit --head -- GET /api/v1/audit/head
check "GET /api/v1/audit/verify" "audit --verify" "" -- audit --verify -- GET /api/v1/audit/verify
check "GET /api/v1/events" events "" -- events -- GET "/api/v1/events?limit=10"
check "GET /api/v1/rates" rates "" -- rates -- GET /api/v1/rates
check "GET /api/v1/limits" limits "" -- limits -- GET /api/v1/limits
check "POST /api/v1/jobs" submit "" -- submit @FILE -- POST /api/v1/jobs --data-binary "@$T/x.json"
check "POST /api/v1/jobs/{}/pause" pause "clapper resume $slow" -- pause @HOLD -- POST /api/v1/jobs/@HOLD/pause -d "$note"
check "POST /api/v1/jobs/{}/resume" resume "clapper pause $slow" -- resume @HOLD -- POST /api/v1/jobs/@HOLD/resume -d "$note"
clapper resume "$slow" >/dev/null 2>&1 || true
check "POST /api/v1/jobs/{}/cancel" cancel "" -- cancel @NEWJOB -- POST /api/v1/jobs/@NEWJOB/cancel -d "$note"
check "POST /api/v1/jobs/{}/retry" retry "" -- retry @FAILED -- POST /api/v1/jobs/@FAILED/retry
check "PUT /api/v1/episodes/{}/{}/budget" "budget set" "" -- budget set show/e1 100 -- \
  PUT /api/v1/episodes/show/e1/budget -d '{"amount": "200.00"}'
check "POST /api/v1/takes/{}/approve" approve "" -- approve @TAKE -- POST /api/v1/takes/@TAKE/approve -d "$note"
check "POST /api/v1/takes/{}/reject" reject "" -- reject @TAKE -- POST /api/v1/takes/@TAKE/reject -d "$note"
check "POST /api/v1/takes/{}/request-changes" request-changes "" -- request-changes @TAKE -- \
  POST /api/v1/takes/@TAKE/request-changes -d "$note"
check "POST /api/v1/takes/{}/retake" retake "" -- retake @TAKE -- POST /api/v1/takes/@TAKE/retake
check "PUT /api/v1/limits/{}" "limit set" "clapper limit remove lic" -- limit set lic 5 -- \
  PUT /api/v1/limits/lic -d '{"count": 7}'
check "DELETE /api/v1/limits/{}" "limit remove" "clapper limit set lic 3" -- limit remove lic -- DELETE /api/v1/limits/lic
check "POST /api/v1/workers/{}/drain" drain "clapper undrain local-1" -- drain local-1 -- POST /api/v1/workers/local-1/drain
check "POST /api/v1/workers/{}/undrain" undrain "clapper drain local-1" -- undrain local-1 -- POST /api/v1/workers/local-1/undrain
clapper undrain local-1 >/dev/null 2>&1 || true

# Every row of the route table was checked.
mapfile -t table < <(grep -oE '"(GET|POST|PUT|DELETE)", +"/api/v1/[^"]*"' "$CLAPPER_SOURCE_DIR/coordinator/api.c" |
  sed -E 's/"([A-Z]+)", +"([^"]*)"/\1 \2/')
[ "${#table[@]}" -ge 25 ] || fail "read only ${#table[@]} routes from coordinator/api.c"
for r in "${table[@]}"; do
  [ -n "${covered[$r]:-}" ] || fail "the route '$r' of coordinator/api.c is not checked here"
done
log "checked ${#table[@]} routes x ${#roles[@]} roles"

# A submitter acting on another's job: refused as on the CLI, nothing changed.
other=$(job_id_of "$(clapper submit --json "$T/hold.json")")
before=$(snapshot)
as submitter-1 cancel "$other" 2>"$T/cli.err" && fail "a submitter canceled someone else's job"
for verb in cancel pause resume retry; do
  assert_eq "$(api submitter POST "/api/v1/jobs/$other/$verb")" 403 "a submitter's $verb of another's job"
  assert_eq "$(jq -r .error.code "$T/body")" forbidden "the code of another's $verb"
  assert_contains "$(jq -r .error.message "$T/body")" "own jobs" "the refusal of another's $verb"
done
assert_contains "$(cat "$T/cli.err")" "$(jq -r .error.message "$T/body")" "the API's own-jobs refusal is the CLI's"
assert_eq "$(snapshot)" "$before" "refused actions on another's job changed nothing"

# Idempotency: the same key and file twice is one job; another file under it, 409.
key="api-test-$RANDOM$RANDOM"
n_before=$(sql "SELECT count(*) FROM jobs")
last_job=$(sql "SELECT coalesce(max(id), 0) FROM jobs")
assert_eq "$(api submitter POST /api/v1/jobs -H "Idempotency-Key: $key" --data-binary "@$T/x.json")" 200 "first keyed submit"
first=$(jq -c '[.jobs[].job_id]' "$T/body")
assert_eq "$(api submitter POST /api/v1/jobs -H "Idempotency-Key: $key" --data-binary "@$T/x.json")" 200 "second keyed submit"
assert_eq "$(jq -c '[.jobs[].job_id]' "$T/body")" "$first" "the same key and file give the same job"
assert_eq "$(sql "SELECT count(*) FROM jobs")" "$((n_before + 1))" "the same key and file made one job"
assert_eq "$(as submitter-1 submit --json --idempotency-key "$key" "$T/x.json" | jq -c '[.jobs[].job_id]')" "$first" \
  "the CLI under the API's key returns the same job"
printf '%s' '{"project": "show", "episode": "e1", "jobs": [{"name": "y", "command": ["true"]}]}' >"$T/y.json"
before=$(snapshot)
assert_eq "$(api submitter POST /api/v1/jobs -H "Idempotency-Key: $key" --data-binary "@$T/y.json")" 409 \
  "another file under the same key"
assert_eq "$(jq -r .error.code "$T/body")" conflict "the code of a reused key"
as submitter-1 submit --idempotency-key "$key" "$T/y.json" 2>"$T/cli.err" >/dev/null && fail "the CLI reused a key for another file"
assert_contains "$(cat "$T/cli.err")" "$(jq -r .error.message "$T/body")" "the API's key conflict is the CLI's"
assert_eq "$(snapshot)" "$before" "a reused key changed nothing"
settle "$last_job"

# Hostile input from a submitter: a one-line error, nothing changed, still up.
coord_pid=$(pid_of coordinator)
hostile() { # expected-status method path [curl arguments]
  local want=$1 method=$2 path=$3
  shift 3
  local before status
  before=$(snapshot)
  status=$(api submitter "$method" "$path" "$@") || fail "$method $path: curl failed (is the coordinator up?)"
  case " $want " in *" $status "*) ;; *) fail "$method ${path:0:80}: status $status, expected $want: $(head -c 300 "$T/body")" ;; esac
  [ "$(wc -l <"$T/body")" -le 1 ] || fail "$method ${path:0:80}: the error is not one line: $(head -c 300 "$T/body")"
  jq -e '(.error.code | type == "string") and (.error.message | type == "string") and (.error.message | length > 0)' \
    "$T/body" >/dev/null || fail "$method ${path:0:80}: not an error document: $(head -c 300 "$T/body")"
  assert_eq "$(snapshot)" "$before" "$method ${path:0:80} changed nothing"
  kill -0 "$coord_pid" || fail "the coordinator died after $method ${path:0:80}"
  assert_eq "$(api submitter GET /api/v1/whoami)" 200 "the coordinator answers after $method ${path:0:80}"
}
# Invalid UTF-8 in a note (raw bytes, a lone surrogate, a NUL).
printf '{"note": "bad \xff\xfe bytes"}' >"$T/bad-utf8.json"
hostile 400 POST "/api/v1/jobs/$slow/pause" --data-binary "@$T/bad-utf8.json"
hostile 400 POST "/api/v1/jobs/$slow/pause" --data-binary '{"note": "half \ud800 a pair"}'
hostile 400 POST "/api/v1/jobs/$slow/pause" --data-binary '{"note": "a \u0000 NUL"}'
hostile 400 POST "/api/v1/jobs/$slow/pause" --data-binary '{"note": 42}'
# A 2 MB note.
{ printf '{"note": "'; head -c $((2 << 20)) /dev/zero | tr '\0' a; printf '"}'; } >"$T/big-note.json"
hostile 400 POST "/api/v1/jobs/$slow/pause" --data-binary "@$T/big-note.json"
# Absurd ids.
for id in 0 -1 18446744073709551616 1e3 0x10 " 1" 1.0 99999999999999999999999; do
  enc=$(jq -rn --arg s "$id" '$s | @uri')
  hostile "400 404" GET "/api/v1/jobs/$enc"
  hostile "400 404" POST "/api/v1/jobs/$enc/pause"
  hostile "400 404" GET "/api/v1/jobs/$enc/tasks?limit=2"
done
hostile 404 GET /api/v1/jobs/9223372036854775807
hostile 400 GET "/api/v1/jobs/$gen/tasks?limit=0"
hostile 400 GET "/api/v1/jobs/$gen/tasks?limit=-1"
hostile 400 GET "/api/v1/jobs/$gen/tasks?after=1e3"
# Unknown routes and methods.
hostile 404 GET /api/v1/nothing-here
hostile 404 POST "/api/v1/jobs/$slow/explode"
hostile "404 405" DELETE /api/v1/jobs
hostile "404 405" PATCH "/api/v1/jobs/$slow"
# Bodies that are not JSON objects.
hostile 400 POST "/api/v1/jobs/$slow/pause" --data-binary 'not json'
hostile 400 POST "/api/v1/jobs/$slow/pause" --data-binary '[1, 2]'
hostile 400 POST "/api/v1/jobs/$slow/pause" --data-binary '{"note": "a", "note": "b"}'
hostile 400 POST /api/v1/jobs --data-binary 'not a job file'
hostile 400 POST /api/v1/jobs --data-binary "$(printf '{"project": "p\xff", "episode": "e", "jobs": []}')"
# A body over the limit (16 MiB and some).
head -c $((17 << 20)) /dev/zero | tr '\0' ' ' >"$T/huge.json"
hostile 413 POST /api/v1/jobs --data-binary "@$T/huge.json"
hostile 413 POST "/api/v1/jobs/$slow/pause" --data-binary "@$T/huge.json"
# Paths with .. and NUL.
hostile "400 404" GET /api/v1/jobs/../workers
hostile "400 404" GET "/api/v1/jobs/..%2f..%2f..%2fetc%2fpasswd"
hostile "400 404" GET "/api/v1/jobs/$gen%00"
hostile "400 404" GET "/api/v1/jobs/%00"
hostile "400 404" GET "/api/v1/../../etc/passwd"
hostile "400 403 404" POST "/api/v1/takes/..%2f${takes[49]}/approve"
hostile "400 403 404" PUT "/api/v1/limits/lic%00x" -d '{"count": 1}'
hostile "400 404" GET "/api/v1/episodes/show/..%2fe1/cost"
hostile "400 404" GET "/api/v1/episodes/show%00/e1/audit"
kill -0 "$coord_pid" || fail "the coordinator is gone"
[ "$(pid_of coordinator)" = "$coord_pid" ] || fail "the coordinator restarted"
log "ok"
