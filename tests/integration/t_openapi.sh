#!/usr/bin/env bash
# The OpenAPI description (docs/openapi.yaml) against a real coordinator:
#  - the document is OpenAPI 3.1.0 whose schemas are draft 2020-12 and
#    whose references resolve;
#  - its operations and the route tables of coordinator/*.c are the same
#    method+path pairs, both ways, and each documented operation is served
#    (not 404 "nothing is served", not 405) by the running server;
#  - every documented read of /api/v1, a few writes of each kind and the
#    errors (400, 401, 403 when tokens exist, 404, 409) are driven through
#    a real farm, and each answer's status is documented for its operation
#    and its body validates against the document's schema (python3-yaml,
#    python3-jsonschema; scripts/install-deps test);
#  - submitting twice with one Idempotency-Key makes one set of jobs;
#  - docs/examples/api_example.py (docs/api.md's Python example) runs
#    against the farm and does what the page says.
. "$(dirname "$0")/lib.sh"

python3 -c 'import yaml, jsonschema' 2>/dev/null ||
  fail "python3-yaml and python3-jsonschema are needed (scripts/install-deps test)"
SPEC="$CLAPPER_SOURCE_DIR/docs/openapi.yaml"
CHECK=(python3 "$CLAPPER_SOURCE_DIR/tests/tools/openapi_check.py" "$SPEC")
EXAMPLE="$CLAPPER_SOURCE_DIR/docs/examples/api_example.py"

"${CHECK[@]}" lint || fail "docs/openapi.yaml is not a sound OpenAPI 3.1 document"
"${CHECK[@]}" routes "$CLAPPER_SOURCE_DIR" >"$T/routes.out" ||
  fail "the route tables and docs/openapi.yaml differ"
log "$(tail -n1 "$T/routes.out")"

has_verb() { clapper --help | awk '/^  [a-z]/ { print $1 }' | grep -qx "$1"; }

# Identity: an admin API token when `clapper token` exists, else the
# development token the stand-in httpauth.c accepts.
export CLAPPER_HTTP_DEV_TOKEN="dev-$RANDOM$RANDOM$RANDOM"
farm_up 2 --worker-cpus 2
BASE=$(http_url)
[ -n "$BASE" ] || fail "the coordinator logged no HTTP address"
TOKENS=0
if has_verb token; then
  TOKENS=1
  CLAPPER_TOKEN=$(clapper token create openapi-admin --json | jq -r .secret)
else
  CLAPPER_TOKEN=$CLAPPER_HTTP_DEV_TOKEN
fi
export CLAPPER_TOKEN
[ -n "$CLAPPER_TOKEN" ] && [ "$CLAPPER_TOKEN" != null ] || fail "no API token"

"${CHECK[@]}" served "$BASE" "$CLAPPER_SOURCE_DIR" >"$T/served.out" ||
  fail "documented operations are not served"
log "$(tail -n1 "$T/served.out")"

# ------------------------------------------------------------ requests
N=0
OUT=""
COVERED="$T/covered"
: >"$COVERED"

# api [-t TOKEN] [-h HEADER] [-d JSON | -f FILE] METHOD PATH EXPECTED_STATUS:
# one request; the answer's status must be EXPECTED_STATUS and, with its
# content type, documented for the operation, and its body must validate
# against the document's schema.  The body is left in $OUT.
api() {
  local token=$CLAPPER_TOKEN data=() hdr=()
  while [ $# -gt 3 ]; do
    case $1 in
      -t) token=$2 ;;
      -h) hdr+=(-H "$2") ;;
      -d) data=(-H 'Content-Type: application/json' --data-binary "$2") ;;
      -f) data=(-H 'Content-Type: application/json' --data-binary "@$2") ;;
      *) fail "api: bad option $1" ;;
    esac
    shift 2
  done
  local method=$1 path=$2 want=$3
  N=$((N + 1))
  OUT="$T/answer-$N"
  local auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  local got
  got=$(curl -sS -o "$OUT" -w '%{http_code} %{content_type}' -X "$method" "${auth[@]}" \
    "${hdr[@]}" "${data[@]}" "$BASE$path") || fail "curl $method $path failed"
  local status=${got%% *} ctype=${got#* }
  [ "$status" = "$want" ] ||
    fail "$method $path: status $status, expected $want: $(head -c 400 "$OUT")"
  "${CHECK[@]}" validate "$method" "$path" "$status" "$OUT" "$ctype" ||
    fail "$method $path $status: the answer does not match docs/openapi.yaml: $(head -c 600 "$OUT")"
  echo "$method $path $status" >>"$COVERED"
}

# Rates, so that costs are not all zeros; a limit for the limits routes.
clapper rates set --per-cpu-hour 0.360001 >/dev/null
clapper rates set --default-gpu-hour 1.234567 >/dev/null

cat >"$T/gen.json" <<'JSON'
{"project": "show", "episode": "e1",
 "jobs": [{"name": "gen", "shot": "sh010", "kind": "generate", "takes": 3, "seed": 41,
           "command": ["sh", "-c", "echo take {take} > {output_dir}/clip.txt"],
           "outputs": ["{output_dir}/clip.txt"],
           "provenance": {"model": "wan-2.1", "model_version": "14b"}},
          {"name": "frames", "shot": "sh020", "frames": "1-4", "chunk": 2,
           "command": ["sh", "-c", "echo frames {frame_start}-{frame_end}"]},
          {"name": "broken", "shot": "sh020", "max_attempts": 1,
           "command": ["sh", "-c", "echo oops; exit 3"]}]}
JSON

# Submit, twice with one idempotency key: the same jobs.
api -h "Idempotency-Key: openapi-1" -f "$T/gen.json" POST /api/v1/jobs 200
first=$(jq -c '[.jobs[].job_id]' "$OUT")
gen=$(jq -r '.jobs[0].job_id' "$OUT")
frames=$(jq -r '.jobs[1].job_id' "$OUT")
broken=$(jq -r '.jobs[2].job_id' "$OUT")
api -h "Idempotency-Key: openapi-1" -f "$T/gen.json" POST /api/v1/jobs 200
assert_eq "$(jq -c '[.jobs[].job_id]' "$OUT")" "$first" "the same key's second submit"
assert_eq "$(sql "SELECT count(*) FROM jobs WHERE name = 'gen'")" 1 "jobs named gen"
api -h "Idempotency-Key: openapi-1" -d '{"project": "show", "episode": "e1", "jobs": [{"name": "other", "command": ["true"]}]}' POST /api/v1/jobs 409
assert_eq "$(jq -r .error.code "$OUT")" conflict "the key with another file"
assert_eq "$(sql "SELECT count(*) FROM jobs WHERE name = 'other'")" 0 "jobs named other"
clapper wait "$gen" "$frames" >/dev/null 2>&1 || fail "the jobs failed"
clapper wait "$broken" >/dev/null 2>&1 && fail "the broken job succeeded"

# The reads, each documented GET with and without its parameters.
api GET /api/v1/whoami 200
api GET /api/v1/jobs 200
api GET "/api/v1/jobs?all=1&episode=show/e1" 200
api GET "/api/v1/jobs?all=1&after=0&limit=1" 200
assert_eq "$(jq -r '.more, .next_after' "$OUT" | tr '\n' ' ')" "true $gen " "a page of one job"
api GET "/api/v1/jobs?state=failed&mine=1" 200
api GET "/api/v1/jobs/$frames" 200
api GET "/api/v1/jobs/$frames/tasks" 200
task=$(jq -r '.tasks[0].task_id' "$OUT")
api GET "/api/v1/jobs/$gen/tasks" 200
g1=$(jq -r '.tasks[0].task_id' "$OUT")
api GET "/api/v1/jobs/$gen/tasks?limit=1&after=$g1" 200
assert_eq "$(jq -r '.more, .next_after' "$OUT" | tr '\n' ' ')" "true $((g1 + 1)) " "a page of one task"
api GET "/api/v1/tasks/$task/attempts" 200
api GET "/api/v1/tasks/$task/logs" 200
api GET "/api/v1/tasks/$task/logs?attempt=1&offset=0" 200
btask=$(clapper tasks "$broken" --json | jq -r '.tasks[0].task_id')
api GET "/api/v1/tasks/$btask/logs" 200
assert_contains "$(jq -r .data "$OUT")" oops "the broken task's log"
api GET "/api/v1/takes?job=$gen" 200
t1=$(jq -r '.takes[0].take_id' "$OUT")
t2=$(jq -r '.takes[1].take_id' "$OUT")
t3=$(jq -r '.takes[2].take_id' "$OUT")
api GET "/api/v1/takes?episode=show/e1&shot=sh010&state=pending_review&limit=2&after=0" 200
api GET /api/v1/workers 200
api GET "/api/v1/workers?limit=1" 200
assert_eq "$(jq -r '.more, .next_after' "$OUT" | tr '\n' ' ')" "true local-1 " "a page of one worker"
api GET "/api/v1/workers?after=local-1" 200
api GET /api/v1/rates 200
api GET /api/v1/audit/head 200
head=$(jq -r .head "$OUT")
api GET /api/v1/audit/verify 200
api GET "/api/v1/audit/verify?head=$head" 200
assert_eq "$(jq -r .ok "$OUT")" true "the chain verified against its head"
api GET /api/v1/events 200
api GET "/api/v1/events?kind=job.&limit=2&after=0" 200

# The writes: decisions on takes, a retake, job control, drain, budget, limits.
api -d '{"note": "ship it"}' POST "/api/v1/takes/$t1/approve" 200
assert_eq "$(jq -r '.take.state, .take.note' "$OUT" | tr '\n' ' ')" "approved ship it " "approve"
api -d '{"note": "too dark"}' POST "/api/v1/takes/$t2/reject" 200
api POST "/api/v1/takes/$t3/request-changes" 200
api POST "/api/v1/takes/$t2/retake" 200
retake=$(jq -r '.jobs[0].job_id' "$OUT")
clapper wait "$retake" >/dev/null 2>&1 || fail "the retake failed"
cat >"$T/long.json" <<'JSON'
{"project": "show", "episode": "e2",
 "jobs": [{"name": "long", "frames": "1-2", "command": ["sleep", "60"]}]}
JSON
api -f "$T/long.json" POST /api/v1/jobs 200
long=$(jq -r '.jobs[0].job_id' "$OUT")
api POST "/api/v1/jobs/$long/pause" 200
api -d '{}' POST "/api/v1/jobs/$long/resume" 200
api -d '{"note": "not needed"}' POST "/api/v1/jobs/$long/cancel" 200
assert_contains "$(jq -r '.jobs[0].reason' "$OUT")" "not needed" "the cancel's note"
api POST "/api/v1/jobs/$broken/retry" 200
clapper wait "$broken" >/dev/null 2>&1 && fail "the broken job succeeded on retry"
api POST /api/v1/workers/local-1/drain 200
api POST /api/v1/workers/local-1/undrain 200
api -d '{"amount": "100.50"}' PUT /api/v1/episodes/show/e1/budget 200
api GET /api/v1/episodes/show/e1/budget 200
assert_eq "$(jq -r .budget "$OUT")" 100.500000 "the budget set over HTTP"
for by in shot job kind; do api GET "/api/v1/episodes/show/e1/cost?by=$by" 200; done
api GET "/api/v1/episodes/show/e1/cost?by=job&limit=1&after=0" 200
assert_eq "$(jq -r .more "$OUT")" true "a page of one cost row"
api GET /api/v1/episodes/show/e1/audit 200
api -d '{"count": 2}' PUT /api/v1/limits/houdini 200
api GET /api/v1/limits 200
assert_eq "$(jq -r '.limits[0].name, .limits[0].count' "$OUT" | tr '\n' ' ')" "houdini 2 " "limits"
api DELETE /api/v1/limits/houdini 200
api GET /api/v1/events 200
assert_eq "$(jq -r '[.events[] | select(.kind == "take.approved")][0].actor' "$OUT")" \
  "$(jq -r .name "$T/answer-$(grep -n '^GET /api/v1/whoami ' "$COVERED" | head -1 | cut -d: -f1)")" \
  "the approval's actor is the token's name"

# Errors: each status documented, each body an error document.
api GET /api/v1/jobs/999999 404
assert_eq "$(jq -r .error.code "$OUT")" not_found "an unknown job"
api GET /api/v1/jobs/abc 400
api GET "/api/v1/jobs?limit=0" 400
api GET /api/v1/tasks/999999/attempts 404
api -d '[1' POST "/api/v1/takes/$t1/approve" 400
api -d '{"count": -1}' PUT /api/v1/limits/houdini 400
api -d '{"amount": 12}' PUT /api/v1/episodes/show/e1/budget 400
api -d '{"project": "show"}' POST /api/v1/jobs 400
api -t "" GET /api/v1/jobs 401
api -t "not-a-token" GET /api/v1/whoami 401
assert_eq "$(jq -r .error.code "$OUT")" unauthorized "a wrong token"
api POST "/api/v1/jobs/$gen/pause" 409
api DELETE /api/v1/limits/no-such-limit 404
api POST /api/v1/workers/no-such-worker/drain 404
if [ "$TOKENS" = 1 ]; then
  # A role refusal: an auditor's token reads, and may not act.
  auditor=$(clapper token create openapi-auditor --role auditor --json | jq -r .secret)
  api -t "$auditor" GET /api/v1/jobs 200
  api -t "$auditor" POST "/api/v1/jobs/$long/retry" 403
  assert_eq "$(jq -r .error.code "$OUT")" forbidden "an auditor's retry"
  api GET /api/v1/session 200
  assert_eq "$(jq -r .kind "$OUT")" token "the session of a token"
else
  log "no 'clapper token' yet: the 403 of a role refusal is not checked"
fi

if has_verb web; then
  # A browser's session: the link, the cookie, the CSRF token, sign-out.
  link=$(clapper web --print --json | jq -r .url)
  path=${link#"$BASE"}
  got=$(curl -sS -D "$T/signin.h" -o "$T/signin.out" -w '%{http_code} %{content_type}' "$link")
  assert_eq "${got%% *}" 303 "signing in with a link"
  "${CHECK[@]}" validate GET "$path" 303 "$T/signin.out" "${got#* }" ||
    fail "the sign-in's answer is not as documented"
  cookie=$(grep -i '^set-cookie:' "$T/signin.h" | sed 's/^[^:]*: *//; s/;.*//' | tr -d '\r')
  assert_contains "$cookie" "clapper_session=" "the session cookie"
  echo "GET /auth/signin 303" >>"$COVERED"
  api -t "" GET "$path" 401
  api -t "" -h "Cookie: $cookie" GET /api/v1/session 200
  csrf=$(jq -r .csrf "$OUT")
  assert_eq "$(jq -r .kind "$OUT")" session "the session of a cookie"
  api -t "" -h "Cookie: $cookie" GET /api/v1/jobs 200
  api -t "" -h "Cookie: $cookie" POST /api/v1/workers/local-2/drain 403
  assert_contains "$(jq -r .error.message "$OUT")" CSRF "a session's write without its CSRF token"
  api -t "" -h "Cookie: $cookie" POST /auth/signout 403
  api -t "" -h "Cookie: $cookie" -h "X-CSRF-Token: $csrf" POST /auth/signout 200
  api -t "" -h "Cookie: $cookie" GET /api/v1/session 401
  api POST /auth/signout 400
fi

# Every documented /api/v1 read answered 200 at least once above.
missing=$(python3 - "$SPEC" "$COVERED" <<'PY'
import re, sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
done = set()
for line in open(sys.argv[2]):
    m, path, status = line.split()
    if status.startswith("2"):
        done.add((m, path.split("?")[0]))
for template, item in spec["paths"].items():
    op = item.get("get")
    if not op or not template.startswith("/api/v1/") or op.get("x-clapper-source"):
        continue
    rx = re.compile("^" + re.sub(r"\\\{[^}/]*\\\}", "[^/]+", re.escape(template)) + "$")
    if not any(m == "GET" and rx.match(p) for m, p in done):
        print(template)
PY
)
[ -z "$missing" ] || fail "documented reads never checked here: $missing"

# ------------------------------------------------------------ formats
# A cost report as CSV and a followed log are answered by api.c itself
# (api.h): checked when served, as the document says.
got=$(curl -sS -o "$T/cost.csv" -w '%{http_code} %{content_type}' \
  -H "Authorization: Bearer $CLAPPER_TOKEN" "$BASE/api/v1/episodes/show/e1/cost?format=csv")
CSV=0
case $got in
  "200 text/csv"*)
    CSV=1
    "${CHECK[@]}" validate GET /api/v1/episodes/show/e1/cost 200 "$T/cost.csv" text/csv ||
      fail "the CSV cost report is not as documented"
    assert_eq "$(head -c 200 "$T/cost.csv" | head -n1 | cut -d, -f1)" \
      "$(clapper cost --episode show/e1 --csv 2>/dev/null | head -n1 | cut -d, -f1)" \
      "the CSV's first cell, as clapper cost --csv"
    ;;
  "200 application/json"*) log "cost?format=csv answers JSON: CSV not served yet (api.h says it is)" ;;
  *) fail "cost?format=csv: $got: $(head -c 300 "$T/cost.csv")" ;;
esac

# The stream and the metrics, once their modules are in (docs/openapi.yaml
# names them with x-clapper-source): the status and content type as documented.
if grep -qs '"/api/v1/events/stream"' "$CLAPPER_SOURCE_DIR/coordinator/sse.c"; then
  curl -sS -N --max-time 3 -D "$T/stream.h" -o "$T/stream.out" \
    -H "Authorization: Bearer $CLAPPER_TOKEN" "$BASE/api/v1/events/stream?after=0" || true
  status=$(head -n1 "$T/stream.h" | awk '{print $2}')
  ctype=$(grep -i '^content-type:' "$T/stream.h" | sed 's/^[^:]*: *//' | tr -d '\r')
  "${CHECK[@]}" validate GET /api/v1/events/stream "$status" "$T/stream.out" "$ctype" ||
    fail "the event stream's answer is not as documented"
  grep -q '^event: job.submitted' "$T/stream.out" || fail "the stream from 0 has no job.submitted"
fi
if grep -qs '"/metrics"' "$CLAPPER_SOURCE_DIR/coordinator/metrics.c"; then
  api GET /metrics 200
fi

# ------------------------------------------------------------ the Python example
cat >"$T/ex.json" <<'JSON'
{"project": "show", "episode": "e3",
 "jobs": [{"name": "pick", "shot": "sh030", "kind": "generate", "takes": 2, "seed": 7,
           "command": ["sh", "-c", "echo take {take} > {output_dir}/clip.txt"],
           "outputs": ["{output_dir}/clip.txt"], "provenance": {"model": "toy"}}]}
JSON
CLAPPER_URL=$BASE python3 "$EXAMPLE" "$T/ex.json" --key ex-1 --note "from python" \
  >"$T/ex.out" 2>"$T/ex.err" || fail "api_example.py failed: $(cat "$T/ex.err")"
ex_job=$(awk '$1 == "job" { print $2 }' "$T/ex.out")
ex_take=$(awk '$1 == "approved" { print $2 }' "$T/ex.out")
[ -n "$ex_job" ] && [ -n "$ex_take" ] || fail "api_example.py printed: $(cat "$T/ex.out")"
assert_eq "$(awk '$1 == "job" { print $4 }' "$T/ex.out")" succeeded "the example's job"
assert_eq "$(awk '$1 == "take"' "$T/ex.out" | wc -l)" 2 "the example's takes"
assert_eq "$(sql "SELECT state || '|' || note FROM takes WHERE id = $ex_take")" \
  "approved|from python" "the take the example approved"
[ "$CSV" = 0 ] || grep -q '^pick\|,pick,' "$T/ex.out" || fail "the example's CSV: $(cat "$T/ex.out")"
# Again with the same key: the same job, no new one, the take decided already.
CLAPPER_URL=$BASE python3 "$EXAMPLE" "$T/ex.json" --key ex-1 --no-approve \
  >"$T/ex2.out" 2>"$T/ex2.err" || fail "api_example.py again failed: $(cat "$T/ex2.err")"
assert_eq "$(awk '$1 == "job" { print $2 }' "$T/ex2.out")" "$ex_job" "the same key, the same job"
assert_eq "$(sql "SELECT count(*) FROM jobs WHERE name = 'pick'")" 1 "jobs named pick"

log "$(wc -l <"$COVERED") answers validated against docs/openapi.yaml"
log "PASS"
