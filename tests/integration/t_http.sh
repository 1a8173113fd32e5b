#!/usr/bin/env bash
# The HTTP server itself, through a real farm: credentials required, the
# error shape and statuses (401, 404, 405, 413, 400), a submit and the
# job's documents equal to the CLI's, a cost report as CSV equal to
# `clapper cost --csv`, a followed log, a client that hangs up in the
# middle, TLS with a certificate, and the refusal of a non-loopback
# address without TLS.
. "$(dirname "$0")/lib.sh"

farm_up 1
URL=$(http_url)
[ -n "$URL" ] || fail "the coordinator did not log where it serves HTTP"
TOKEN=$(clapper token create t-http --expires 1d --json | jq -r .secret) || fail "token create"
[ -n "$TOKEN" ] || fail "token create printed nothing"
AUTH="Authorization: Bearer $TOKEN"

# status URL [curl args]: prints the status, the body to $T/body.
status() {
  local u=$1
  shift
  curl -s -o "$T/body" -w '%{http_code}' "$@" "$u"
}
error_code() { jq -r '.error.code' "$T/body"; }

# No credentials, bad credentials: 401 with the error document.
assert_eq "$(status "$URL/api/v1/jobs")" 401 "no credentials"
assert_eq "$(error_code)" unauthorized "no credentials: code"
assert_eq "$(status "$URL/api/v1/jobs" -H "Authorization: Bearer clp_1_nonsense")" 401 "a bad token"
assert_eq "$(jq -r '.error.message | length > 0' "$T/body")" true "a bad token: message"

# Routing: unknown paths 404, wrong methods 405 with Allow.
assert_eq "$(status "$URL/api/v1/nothing" -H "$AUTH")" 404 "unknown path"
assert_eq "$(error_code)" not_found "unknown path: code"
curl -s -D "$T/hdr" -o "$T/body" -X DELETE -H "$AUTH" "$URL/api/v1/jobs" >/dev/null
grep -qi '^HTTP/1.1 405' "$T/hdr" || fail "DELETE /api/v1/jobs: $(head -1 "$T/hdr")"
grep -qi '^Allow: GET, POST' "$T/hdr" || fail "405 without Allow: $(cat "$T/hdr")"
assert_eq "$(status "$URL/api/v1/jobs/abc" -H "$AUTH")" 400 "a job id that is not a number"
assert_contains "$(jq -r .error.message "$T/body")" "job id" "bad id: message names the field"
assert_eq "$(status "$URL/api/v1/jobs/1/cancel" -H "$AUTH" -d 'not json')" 400 "a body that is not JSON"
assert_eq "$(status "$URL/api/v1/jobs/1/cancel" -H "$AUTH" -d '{"note": 7}')" 400 "a note that is not a string"
# A body over the limit is refused before it is read.
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$T/big"
assert_eq "$(status "$URL/api/v1/jobs" -H "$AUTH" --data-binary @"$T/big")" 413 "a 17 MiB body"
assert_eq "$(error_code)" too_large "a 17 MiB body: code"

# A submit over HTTP: the job's documents are the CLI's.
cat >"$T/job.json" <<'JSON'
{"project": "show", "episode": "e1",
 "jobs": [{"name": "lines", "shot": "sh010",
           "command": ["sh", "-c", "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done"]}]}
JSON
assert_eq "$(status "$URL/api/v1/jobs" -H "$AUTH" --data-binary @"$T/job.json")" 200 "submit"
job=$(jq -r '.jobs[0].job_id' "$T/body")
[ "$job" -ge 1 ] || fail "submit: no job id in $(cat "$T/body")"
task=$(clapper tasks "$job" --json | jq -r '.tasks[0].task_id')
# Follow the log while it runs: every line arrives, and the stream ends.
timeout 30 curl -sN -H "$AUTH" "$URL/api/v1/tasks/$task/logs?follow=1" >"$T/follow" ||
  fail "the followed log did not end with the attempt"
assert_eq "$(grep -c '^line ' "$T/follow")" 6 "lines of the followed log"
clapper wait "$job" >/dev/null || fail "the job failed"
status "$URL/api/v1/jobs/$job" -H "$AUTH" >/dev/null
assert_eq "$(jq -S 'del(.version)' "$T/body")" "$(clapper job "$job" --json | jq -S 'del(.version)')" \
  "GET /api/v1/jobs/ID is clapper job --json"
status "$URL/api/v1/jobs/$job/tasks" -H "$AUTH" >/dev/null
assert_eq "$(jq -S . "$T/body")" "$(clapper tasks "$job" --json | jq -S .)" \
  "GET /api/v1/jobs/ID/tasks is clapper tasks --json"
# The submit is in the event log with the token's owner as its actor.
status "$URL/api/v1/events?kind=job.submitted" -H "$AUTH" >/dev/null
assert_eq "$(jq -r --arg j "$job" '.events[] | select(.subject_id == $j) | .actor' "$T/body")" root \
  "the submit's actor"

# The cost report as CSV: the same bytes as clapper cost --csv.
for by in shot job kind; do
  assert_eq "$(status "$URL/api/v1/episodes/show/e1/cost?by=$by&format=csv" -H "$AUTH")" 200 "cost csv by $by"
  clapper cost --episode show/e1 --by "$by" --csv >"$T/cli.csv"
  cmp -s "$T/body" "$T/cli.csv" || fail "cost by $by: the API's CSV differs from clapper cost --csv:
$(diff "$T/body" "$T/cli.csv")"
done
assert_eq "$(status "$URL/api/v1/episodes/show/e1/cost?format=xml" -H "$AUTH")" 400 "an unknown format"

# A client that hangs up in the middle of a followed log and of a read:
# the coordinator carries on.
cat >"$T/slow.json" <<'JSON'
{"project": "show", "episode": "e1", "jobs": [{"name": "slow", "command": ["sleep", "30"]}]}
JSON
slow=$(submit "$T/slow.json")
stask=$(clapper tasks "$slow" --json | jq -r '.tasks[0].task_id')
# Paging from the first (after=0) of a job whose first task id is above 1.
status "$URL/api/v1/jobs/$slow/tasks?after=0&limit=1" -H "$AUTH" >/dev/null
assert_eq "$(jq -r '.tasks[0].task_id' "$T/body")" "$stask" "tasks?after=0: the first task"
for _ in 1 2 3 4 5; do
  timeout 0.5 curl -sN -H "$AUTH" "$URL/api/v1/tasks/$stask/logs?follow=1" >/dev/null || true
  timeout 0.05 curl -s -H "$AUTH" "$URL/api/v1/events?limit=10000" >/dev/null || true
done
assert_eq "$(status "$URL/api/v1/whoami" -H "$AUTH")" 200 "served after clients hung up"
clapper cancel "$slow" >/dev/null

# HEAD is GET without the body.
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -I -H "$AUTH" "$URL/api/v1/whoami")" 200 "HEAD"

# TLS: a farm with a certificate serves https only.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
  fail "openssl could not make a certificate"
clapper local down --dir "$FARM" >/dev/null
farm_up 1 --coordinator-arg="--http-cert=$T/cert.pem" --coordinator-arg="--http-key=$T/key.pem"
URL=$(http_url)
case "$URL" in https://*) ;; *) fail "with a certificate the URL is $URL" ;; esac
assert_eq "$(status "$URL/api/v1/whoami" -H "$AUTH" --cacert "$T/cert.pem")" 200 "whoami over TLS"
assert_eq "$(jq -r .name "$T/body")" root "whoami over TLS: name"
http_plain=${URL/https:/http:}
curl -s -m 5 -H "$AUTH" "$http_plain/api/v1/whoami" | grep -q '"root"' &&
  fail "the TLS port answered plain HTTP"

# A non-loopback address without TLS is refused before anything starts.
out=$(clapper-coordinator --db "dbname=none" --bind-http 0.0.0.0:0 2>&1) &&
  fail "the coordinator started on 0.0.0.0 without TLS"
assert_contains "$out" "not a loopback address" "non-loopback refusal"
out=$(clapper-coordinator --db "dbname=none" --bind-http 0.0.0.0:0 --http-cert "$T/cert.pem" 2>&1) &&
  fail "the coordinator started with a certificate and no key"
assert_contains "$out" "go together" "cert without key"

sanitizer_check
log "ok"
