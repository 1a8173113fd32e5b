#!/usr/bin/env bash
# Invalid job files are refused with one line naming the offending field,
# by the client and by the coordinator itself, and nothing is written.
. "$(dirname "$0")/lib.sh"

farm_up 1

snapshot() {
  sql "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM episodes),
              (SELECT count(*) FROM shots), (SELECT count(*) FROM jobs),
              (SELECT count(*) FROM tasks), (SELECT count(*) FROM attempts),
              (SELECT count(*) FROM events)"
}

# name | expected start of the message | job file
cases=(
  "not-json|job file: invalid JSON|{\"project\": "
  "not-object|job file: must be a JSON object|[1, 2]"
  "no-project|project: |{\"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"command\": [\"true\"]}]}"
  "bad-project|project: |{\"project\": \"Bad Name\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"command\": [\"true\"]}]}"
  "no-episode|episode: |{\"project\": \"p\", \"jobs\": [{\"name\": \"a\", \"command\": [\"true\"]}]}"
  "no-jobs|jobs: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": []}"
  "unknown-top|color: |{\"project\": \"p\", \"episode\": \"e\", \"color\": 1, \"jobs\": [{\"name\": \"a\", \"command\": [\"true\"]}]}"
  "no-name|jobs[0].name: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"command\": [\"true\"]}]}"
  "dup-name|jobs[1].name: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"command\": [\"true\"]}, {\"name\": \"a\", \"command\": [\"true\"]}]}"
  "bad-kind|jobs[0].kind: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"kind\": \"paint\", \"command\": [\"true\"]}]}"
  "no-command|jobs[0].command: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\"}]}"
  "bad-frames|jobs[0].frames: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"frames\": \"1-x\", \"command\": [\"true\"]}]}"
  "reversed-frames|jobs[0].frames: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"frames\": \"10-1\", \"command\": [\"true\"]}]}"
  "bad-chunk|jobs[0].chunk: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"frames\": \"1-10\", \"chunk\": 0, \"command\": [\"true\"]}]}"
  "bad-gpus|jobs[0].requires.gpus: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"requires\": {\"gpus\": -1}, \"command\": [\"true\"]}]}"
  "bad-tag|jobs[0].requires.tags[0]: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"requires\": {\"tags\": [\"GPU!\"]}, \"command\": [\"true\"]}]}"
  "bad-priority|jobs[0].priority: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"priority\": 101, \"command\": [\"true\"]}]}"
  "unknown-field|jobs[0].framez: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"framez\": \"1-2\", \"command\": [\"true\"]}]}"
  "bad-placeholder|jobs[0].command[1]: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"frames\": \"1-2\", \"command\": [\"echo\", \"{fram_start}\"]}]}"
  "take-without-takes|jobs[0].outputs[0]: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"command\": [\"true\"], \"outputs\": [\"{output_dir}/{take}.mp4\"]}]}"
  "too-many-tasks|jobs[0]|{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"frames\": \"1-1000001\", \"command\": [\"true\"]}]}"
  "bad-max-attempts|jobs[0].max_attempts: |{\"project\": \"p\", \"episode\": \"e\", \"jobs\": [{\"name\": \"a\", \"max_attempts\": 0, \"command\": [\"true\"]}]}"
)

before=$(snapshot)
i=0
for c in "${cases[@]}"; do
  name=${c%%|*}
  rest=${c#*|}
  want=${rest%%|*}
  body=${rest#*|}
  printf '%s' "$body" >"$T/$name.json"
  for mode in client coordinator; do
    extra=()
    [ $mode = coordinator ] && extra=(--no-local-check)
    if clapper submit "${extra[@]}" "$T/$name.json" >"$T/out" 2>"$T/err"; then
      fail "$name ($mode): accepted"
    fi
    [ "$(wc -l <"$T/err")" = 1 ] || fail "$name ($mode): expected one line on stderr, got: $(cat "$T/err")"
    assert_contains "$(cat "$T/err")" "clapper: $want" "$name ($mode)"
    # --json: the error object, with the code and the same message.
    clapper submit --json "${extra[@]}" "$T/$name.json" >"$T/out" 2>/dev/null && fail "$name ($mode, --json): accepted"
    assert_eq "$(jq -r .error.code "$T/out")" invalid_job "$name ($mode): error code"
    assert_contains "$(jq -r .error.message "$T/out")" "$want" "$name ($mode): json message"
  done
  i=$((i + 1))
done
[ $i -ge 10 ] || fail "only $i cases"

# A file over the 16 MiB limit is refused before anything else.
head -c $((16 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$T/huge.json"
clapper submit "$T/huge.json" 2>"$T/err" && fail "oversized file accepted"
assert_contains "$(cat "$T/err")" "16" "oversized file message"

after=$(snapshot)
assert_eq "$after" "$before" "database rows after $i refused submissions"

# And a valid file is still accepted afterwards.
printf '%s' '{"project": "p", "episode": "e", "jobs": [{"name": "ok", "command": ["true"]}]}' >"$T/ok.json"
job=$(job_id_of "$(clapper submit --json "$T/ok.json")")
clapper wait "$job" >/dev/null 2>&1 || fail "valid job did not succeed"
log "ok: $i invalid job files refused by client and coordinator"
