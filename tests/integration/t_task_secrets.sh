#!/usr/bin/env bash
# Tasks cannot read secrets: a farm started as root runs its tasks as the
# unprivileged user clapper-task.  A task tries to read every key file of
# the farm (DIR/keys/*.key: the admin's, the coordinator's, each worker's),
# the worker's journal and other attempts' logs, PostgreSQL's data
# directory and its socket; every read fails, `clapper logs` shows no
# secret key, and the coordinator keeps serving.  Run as another user than
# root, the worker says at start that tasks can read its key.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
  log "not root: tasks run as the worker's user; checking the warning only"
  farm_up 1
  grep -q "tasks run as this worker's own user" "$FARM/logs/local-1.log" ||
    fail "a worker that is not root did not warn that tasks can read its key"
  log "ok (not root)"
  exit 0
fi

farm_up 1
id clapper-task >/dev/null 2>&1 || fail "clapper local up (as root) did not create user clapper-task"
grep -q "tasks run as user clapper-task" "$FARM/logs/local-1.log" ||
  fail "the worker does not say it runs tasks as clapper-task"
grep -q "can read" "$FARM/logs/local-1.log" && fail "the worker warns that tasks can read something"

pgdata=$(sed -n 's/^pgdata=//p' "$FARM/layout")
pgsock=$(sed -n 's/^pgsock=//p' "$FARM/layout")
work="$FARM/workers/local-1"
# Every secret the farm holds: the secret-key lines of every key file.
secrets=$(grep -h '^secret-key' "$FARM"/keys/*.key | sed 's/^secret-key = //')
[ "$(wc -l <<<"$secrets")" -ge 3 ] || fail "expected at least 3 key files in $FARM/keys"

# The names, listed here as root: the task cannot even list DIR/keys.
files=$(echo "$FARM"/keys/* "$work"/journal "$work"/logs/* "$pgdata"/PG_VERSION \
        "$pgdata"/postgresql.conf "$pgdata"/pg_hba.conf)
cat >"$T/thief.sh" <<SH
id -un
for f in $files; do
  if cat "\$f" 2>/dev/null; then echo "READ \$f"; else echo "denied \$f"; fi
done
ls $FARM/keys >/dev/null 2>&1 && echo "LISTED keys"
ls $pgsock >/dev/null 2>&1 && echo "LISTED pg socket dir"
psql "host=$pgsock user=clapper dbname=clapper" -X -A -t -c "select 'DB-OPEN'" 2>&1
grep -rh secret-key $FARM 2>/dev/null | head -n 3
echo done
SH
chmod 0644 "$T/thief.sh"

cat >"$T/thief.json" <<JSON
{"project": "sec", "episode": "e1",
 "jobs": [{"name": "thief", "command": ["sh", "$T/thief.sh"]}]}
JSON
job=$(submit "$T/thief.json")
clapper wait "$job" >/dev/null 2>&1 || fail "the thief task failed to run"
task=$(clapper tasks "$job" --json | jq -r '.tasks[0].task_id')
clapper logs "$task" >"$T/thief.out" || fail "clapper logs failed"

assert_eq "$(head -n1 "$T/thief.out")" clapper-task "the user the task ran as"
grep -q '^done$' "$T/thief.out" || fail "the task did not run to its end: $(cat "$T/thief.out")"
if grep -E '^(READ|LISTED)|DB-OPEN' "$T/thief.out"; then
  fail "the task read a secret"
fi
n_denied=$(grep -c '^denied ' "$T/thief.out")
[ "$n_denied" -ge 10 ] || fail "expected every read to be denied, got: $(cat "$T/thief.out")"
while IFS= read -r s; do
  [ -n "$s" ] || continue
  if grep -qF -- "$s" "$T/thief.out"; then
    fail "a secret key is in the task's log"
  fi
done <<<"$secrets"
# The coordinator keeps serving.
clapper jobs >/dev/null || fail "the coordinator stopped answering"

# The output directory is the task's: it can write its outputs.
cat >"$T/writer.json" <<JSON
{"project": "sec", "episode": "e1",
 "jobs": [{"name": "writer", "command": ["sh", "-c", "echo hi > {output_dir}/take.txt"],
           "outputs": ["{output_dir}/take.txt"]}]}
JSON
job=$(submit "$T/writer.json")
clapper wait "$job" >/dev/null 2>&1 || fail "a task as clapper-task could not write its output"
log "ok"
