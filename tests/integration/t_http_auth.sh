#!/usr/bin/env bash
# Identity over HTTP (docs/api-auth.md), through a real farm with keys:
# a sign-in link from `clapper web` trades once for a session cookie
# (HttpOnly, SameSite=Strict, Path=/, 12 h) that works on /api/v1/session;
# the same link again, an unknown one and an expired one (--http-link-ttl-ms
# 500) are refused 401 without a cookie; a cookie session's write without
# (or with a wrong) X-CSRF-Token is refused 403 and changes nothing, with it
# goes through; an API token works (no CSRF token needed), and `token
# revoke` refuses it from the next request; a submitter cannot make an
# operator token, nobody a worker token; an expired token is refused;
# removing a key (`users remove`) refuses its token and its browser
# session at once and revokes the token's row; `token list` and the
# database show no secret (only SHA-256 hashes), nor do the event log and
# the coordinator's log; a restart signs browsers out and keeps tokens.
. "$(dirname "$0")/lib.sh"

farm_up 1
BASE=$(http_url)
[[ $BASE == http://127.0.0.1:* ]] || fail "no HTTP URL in the coordinator log: '$BASE'"
ADMIN=$(clapper whoami --json | jq -r .name)

keys="$T/keys"
mkdir -p "$keys"
cp "$FARM/keys/coordinator.pub" "$keys/"
for who in sam:submitter opal:operator; do
  clapper keygen "${who%%:*}" --dir "$keys" >/dev/null
  clapper users add "${who%%:*}" --role "${who##*:}" --public-key "$keys/${who%%:*}.pub" >/dev/null
done
# as WHO ARGS...: clapper with WHO's key.
as() {
  local who=$1
  shift
  CLAPPER_KEY="$keys/$who.key" clapper "$@"
}

# http METHOD PATH [curl args...]: the status code; the body in $T/body,
# the response headers in $T/headers.
http() {
  local m=$1 p=$2
  shift 2
  curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$m" "$@" "$BASE$p"
}
header() { grep -i "^$1:" "$T/headers" | cut -d' ' -f2- | tr -d '\r'; }
err_code() { jq -r .error.code "$T/body"; }
SECRETS=()

# ------------------------------------------------------------ no credentials
assert_eq "$(http GET /api/v1/session)" 401 "no credentials"
assert_eq "$(err_code)" unauthorized "the error of no credentials"
assert_eq "$(http GET /api/v1/jobs -H 'Authorization: Basic c2FtOnB3')" 401 "a password"

# ------------------------------------------------------------ sign in with a link
as sam web --print --json >"$T/link.json"
url=$(jq -r .url "$T/link.json")
[[ $url == "$BASE/auth/signin?link="* ]] || fail "the sign-in link: $url"
assert_eq "$(jq -r '.name + " " + .role + " " + (.ttl_ms | tostring)' "$T/link.json")" \
  "sam submitter 60000" "whom the link signs in"
SECRETS+=("${url##*link=}")
as sam web --print >"$T/link.txt"
assert_eq "$(head -n1 "$T/link.txt" | cut -d= -f1)" "$BASE/auth/signin?link" "human: the link first"
assert_contains "$(sed -n 2p "$T/link.txt")" "signs in sam (submitter) once" "human: whom"

code=$(curl -s -o /dev/null -D "$T/headers" -c "$T/sam.jar" -w '%{http_code}' "$url")
assert_eq "$code" 303 "trading the link"
assert_eq "$(header Location)" / "the redirect"
cookie=$(header Set-Cookie)
for part in "clapper_session=" "; Path=/" "; Max-Age=43200" "; HttpOnly" "; SameSite=Strict"; do
  assert_contains "$cookie" "$part" "the session cookie"
done
case "$cookie" in *Secure*) fail "a Secure cookie without TLS: $cookie" ;; esac
SECRETS+=("$(sed 's/^clapper_session=[0-9]*\.\([^;]*\);.*/\1/' <<<"$cookie")")

assert_eq "$(http GET /api/v1/session -b "$T/sam.jar")" 200 "the session"
assert_eq "$(jq -r '[.version, .name, .role, .kind] | join(" ")' "$T/body")" \
  "1 sam submitter session" "who the session is"
csrf=$(jq -r .csrf "$T/body")
[[ $csrf =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "the CSRF token: '$csrf'"
[[ $(jq -r .expires "$T/body") =~ ^[0-9]{4}-.*Z$ ]] || fail "the session's expiry: $(cat "$T/body")"
assert_eq "$(http GET /api/v1/whoami -b "$T/sam.jar")" 200 "a read with the session"

# The same link again, and a made-up one: refused, no cookie, nothing new.
for bad in "$url" "$BASE/auth/signin?link=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
  "$BASE/auth/signin?link=x" "$BASE/auth/signin"; do
  code=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$bad")
  assert_eq "$code" 401 "the link ${bad#"$BASE"} (used or unknown)"
  assert_eq "$(err_code)" unauthorized "its error"
  [ -z "$(header Set-Cookie)" ] || fail "a refused link set a cookie: $(header Set-Cookie)"
done
assert_contains "$(jq -r .error.message "$T/body")" "clapper web" "the refusal says what to do"

# ------------------------------------------------------------ CSRF
cat >"$T/sleep.json" <<'JSON'
{"project": "auth", "episode": "e1", "jobs": [
  {"name": "long", "command": ["sleep", "300"]},
  {"name": "long2", "command": ["sleep", "300"]}]}
JSON
sub=$(as sam submit --json "$T/sleep.json")
job=$(job_id_of "$sub" 0)
job2=$(job_id_of "$sub" 1)
state() { clapper job "$1" --json | jq -r .state; }
before=$(state "$job")
nev=$(sql "SELECT count(*) FROM events")
assert_eq "$(http POST "/api/v1/jobs/$job/cancel" -b "$T/sam.jar")" 403 "a session's write without CSRF"
assert_eq "$(err_code)" forbidden "its error"
assert_contains "$(jq -r .error.message "$T/body")" X-CSRF-Token "the refusal names the header"
assert_eq "$(http POST "/api/v1/jobs/$job/cancel" -b "$T/sam.jar" -H "X-CSRF-Token: ${csrf}x")" 403 \
  "a wrong CSRF token"
assert_eq "$(http POST "/api/v1/jobs/$job/cancel" -b "$T/sam.jar" -H "X-CSRF-Token: ")" 403 \
  "an empty CSRF token"
assert_eq "$(http POST /auth/signout -b "$T/sam.jar")" 403 "signing out without CSRF"
assert_eq "$(state "$job")" "$before" "the job after refused cancels"
assert_eq "$(sql "SELECT count(*) FROM events")" "$nev" "events after refused writes"
assert_eq "$(http POST "/api/v1/jobs/$job/cancel" -b "$T/sam.jar" -H "X-CSRF-Token: $csrf")" 200 \
  "a session's write with its CSRF token"
wait_for 30 bash -c "[ \"\$(clapper job $job --json | jq -r .state)\" = canceled ]" ||
  fail "the job was not canceled: $(state "$job")"
assert_eq "$(sql "SELECT actor FROM events WHERE kind = 'job.cancel' AND subject_id = '$job'" | sort -u)" \
  sam "the cancel's actor"

# ------------------------------------------------------------ API tokens
as sam token create ci --expires 30d --json >"$T/tok.json"
tok=$(jq -r .secret "$T/tok.json")
tid=$(jq -r .token.id "$T/tok.json")
[[ $tok =~ ^clp_${tid}_[A-Za-z0-9_-]{43}$ ]] || fail "the token's text: $tok"
SECRETS+=("$tok")
assert_eq "$(jq -r '[.token.name, .token.owner, .token.role, .token.state] | join(" ")' "$T/tok.json")" \
  "ci sam submitter active" "the token"
as sam token create human >"$T/tok.txt"
assert_contains "$(head -n1 "$T/tok.txt")" "(submitter) for sam" "human create"
human_tok=$(sed -n 2p "$T/tok.txt")
[[ $human_tok =~ ^clp_[0-9]+_[A-Za-z0-9_-]{43}$ ]] || fail "human create: the secret alone on line 2"
SECRETS+=("$human_tok")
AUTH=(-H "Authorization: Bearer $tok")
assert_eq "$(http GET /api/v1/session "${AUTH[@]}")" 200 "the token's identity"
assert_eq "$(jq -r '[.name, .role, .kind, (.csrf // "none")] | join(" ")' "$T/body")" \
  "sam submitter token none" "who the token is"
# A token needs no CSRF token: scripts are not browsers.
assert_eq "$(http POST "/api/v1/jobs/$job2/pause" "${AUTH[@]}")" 200 "a token's write"
# The role is the verb table's: a submitter's token cannot drain.
assert_eq "$(http POST /api/v1/workers/local-1/drain "${AUTH[@]}")" 403 "a submitter token drains"
# Same name twice: refused while the first is not revoked.
as sam token create ci --json >"$T/dup.json" 2>/dev/null && fail "a second token named ci"
assert_eq "$(jq -r .error.code "$T/dup.json")" conflict "a second token named ci"

# Roles: at most the creator's.
ntok=$(sql "SELECT count(*) FROM tokens")
as sam token create op --role operator --json >"$T/esc.json" 2>/dev/null &&
  fail "a submitter made an operator token"
assert_eq "$(jq -r .error.code "$T/esc.json")" forbidden "a submitter's operator token"
clapper token create w --role worker --json >"$T/w.json" 2>/dev/null && fail "a worker token"
assert_eq "$(jq -r .error.code "$T/w.json")" bad_request "a worker token"
as sam token create x --expires 366d --json >"$T/x.json" 2>/dev/null && fail "a token for 366 days"
assert_eq "$(jq -r .error.code "$T/x.json")" bad_request "366 days"
assert_eq "$(sql "SELECT count(*) FROM tokens")" "$ntok" "tokens after refusals"
clapper token create opsbot --role operator --json >"$T/ops.json"
ops=$(jq -r .secret "$T/ops.json")
SECRETS+=("$ops")
assert_eq "$(http GET /api/v1/session -H "Authorization: Bearer $ops")" 200 "an admin's operator token"
assert_eq "$(jq -r '.name + " " + .role' "$T/body")" "$ADMIN operator" "it acts for the admin as operator"

# Revoked: refused from the next request on.
as sam token revoke ci >"$T/rev.txt"
assert_contains "$(cat "$T/rev.txt")" "token $tid ci of sam revoked" "human revoke"
assert_eq "$(http GET /api/v1/session "${AUTH[@]}")" 401 "a revoked token"
assert_contains "$(jq -r .error.message "$T/body")" "revoked" "why"
assert_eq "$(sql "SELECT revoked_at IS NOT NULL FROM tokens WHERE id = $tid")" t "the revoked row"
# Another's token: not a submitter's to revoke; an admin revokes by id.
opsid=$(jq -r .token.id "$T/ops.json")
as sam token revoke "$opsid" --json >"$T/r2.json" 2>/dev/null && fail "sam revoked the admin's token"
assert_eq "$(jq -r .error.code "$T/r2.json")" forbidden "revoking another's token"
# Expired: refused.
exp=$(as sam token create short --expires 1s --json | jq -r .secret)
SECRETS+=("$exp")
sleep 1.5
assert_eq "$(http GET /api/v1/session -H "Authorization: Bearer $exp")" 401 "an expired token"
assert_contains "$(jq -r .error.message "$T/body")" "expired" "why"

# ------------------------------------------------------------ a removed key
late=$(as sam token create late --json | jq -r .secret)
SECRETS+=("$late")
as sam web --print --json | jq -r .url >"$T/url2"
curl -s -o /dev/null -c "$T/sam2.jar" "$(cat "$T/url2")"
assert_eq "$(http GET /api/v1/session -H "Authorization: Bearer $late")" 200 "sam's token"
assert_eq "$(http GET /api/v1/session -b "$T/sam2.jar")" 200 "sam's session"
unused=$(as sam web --print --json | jq -r .url)
clapper users remove sam >/dev/null
assert_eq "$(http GET /api/v1/session -H "Authorization: Bearer $late")" 401 "a removed key's token"
assert_eq "$(http GET /api/v1/session -b "$T/sam2.jar")" 401 "a removed key's session"
assert_eq "$(http GET /api/v1/session -b "$T/sam.jar")" 401 "a removed key's first session"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$unused")" 401 "a removed key's unused link"
assert_eq "$(sql "SELECT count(*) FROM tokens WHERE owner = 'sam' AND revoked_at IS NULL")" 0 \
  "sam's tokens, revoked"
assert_eq "$(sql "SELECT DISTINCT actor FROM events WHERE kind = 'token.revoke'
                  AND details->>'reason' = 'its owner''s key was removed'")" coordinator \
  "the revocations' actor"
# Registered again under the old name: the old token stays revoked.
clapper users add sam --role submitter --public-key "$keys/sam.pub" >/dev/null
assert_eq "$(http GET /api/v1/session -H "Authorization: Bearer $late")" 401 "the old token after re-adding"

# ------------------------------------------------------------ no secret shown again
clapper token list --json >"$T/list.json"
clapper token list >"$T/list.txt"
as opal token list --json >"$T/opal.json"
assert_eq "$(jq '.tokens | length' "$T/opal.json")" 0 "an operator sees only their own"
[ "$(jq '.tokens | length' "$T/list.json")" -ge 6 ] || fail "the admin sees every token: $(cat "$T/list.json")"
assert_eq "$(jq -r '[.tokens[] | keys[]] | unique | join(",")' "$T/list.json")" \
  "created_at,created_by,expires_at,id,name,owner,revoked_at,role,state" "a listed token's fields"
sql "SELECT * FROM tokens" >"$T/rows"
sql "SELECT details FROM events" >"$T/events"
for s in "${SECRETS[@]}"; do
  for f in "$T/list.json" "$T/list.txt" "$T/rows" "$T/events" "$FARM/logs/coordinator.log"; do
    if grep -qF -- "$s" "$f"; then fail "a secret in $f"; fi
  done
done
grep -q clp_ "$T/list.txt" "$T/list.json" "$T/rows" && fail "a token's text in a list or a row"
# The database has the SHA-256 of each token's text, and nothing else of it.
assert_eq "$(sql "SELECT hash FROM tokens WHERE id = $tid")" \
  "$(printf %s "$tok" | sha256sum | cut -d' ' -f1)" "the stored hash"
assert_eq "$(sql "SELECT count(*) FROM tokens WHERE hash !~ '^[0-9a-f]{64}$'")" 0 "hashes only"

# ------------------------------------------------------------ signing out
signin() { # WHO JAR: a session for WHO in JAR
  curl -s -o /dev/null -c "$2" "$(as "$1" web --print --json | jq -r .url)"
}
signin opal "$T/opal.jar"
signin opal "$T/opal2.jar"
assert_eq "$(http GET /api/v1/session -b "$T/opal2.jar")" 200 "opal's second session"
c2=$(jq -r .csrf "$T/body")
assert_eq "$(http POST /auth/signout -b "$T/opal2.jar" -H "X-CSRF-Token: $c2")" 200 "signing out"
assert_contains "$(header Set-Cookie)" "Max-Age=0" "the cookie cleared"
assert_eq "$(http GET /api/v1/session -b "$T/opal2.jar")" 401 "a session signed out"
assert_eq "$(http GET /api/v1/session -b "$T/opal.jar")" 200 "the other session stays"
assert_eq "$(http POST /auth/signout -H "Authorization: Bearer $ops")" 400 "a token signs out"

# ------------------------------------------------------------ a restart, short links
clapper local down --dir "$FARM" >/dev/null
farm_up 1 --coordinator-arg=--http-link-ttl-ms=500
BASE=$(http_url)
assert_eq "$(http GET /api/v1/session -b "$T/opal.jar")" 401 "a session after a restart"
assert_eq "$(http GET /api/v1/session -H "Authorization: Bearer $ops")" 200 "a token after a restart"
assert_eq "$(http GET /api/v1/session -H "Authorization: Bearer $tok")" 401 \
  "a revoked token after a restart"
short=$(as opal web --print --json)
assert_eq "$(jq -r .ttl_ms <<<"$short")" 500 "the link's ttl"
sleep 1
assert_eq "$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$(jq -r .url <<<"$short")")" 401 \
  "an expired link"
[ -z "$(header Set-Cookie)" ] || fail "an expired link set a cookie"
assert_contains "$(jq -r .error.message "$T/body")" "expired" "why"
log "ok"
