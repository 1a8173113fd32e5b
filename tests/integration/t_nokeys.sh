#!/usr/bin/env bash
# No keys is loud and local: without --keys the coordinator refuses, with
# one line and before touching the database, to bind a socket anywhere but
# loopback or ipc:// (on the command line or in a config file); by default
# it binds the workers socket to 127.0.0.1:7710 and serves; --insecure binds
# elsewhere, with a warning.  The daemons that bind 7710 run in a network
# namespace of their own (unshare -n), so no port of the host is used.
. "$(dirname "$0")/lib.sh"

PG=0
stop_pg() { [ "$PG" = 0 ] || bash "$CLAPPER_SOURCE_DIR/tests/lib/pgtmp.sh" stop "$T/pgdir" >/dev/null 2>&1 || true; }
trap 'rc=$?; stop_pg; (exit $rc); cleanup' EXIT
PG=1
DB=$(bash "$CLAPPER_SOURCE_DIR/tests/lib/pgtmp.sh" start "$T/pgdir") || fail "PostgreSQL did not start"
export CLAPPER_SQL_DIR="$CLAPPER_SOURCE_DIR/sql"
mkdir -p "$T/out"
tables() { psql "$DB" -X -A -t -q -v ON_ERROR_STOP=1 -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"; }

refused() { # what: run the coordinator with the rest of the arguments, expect a refusal
  local what=$1
  shift
  local rc=0
  timeout 20 clapper-coordinator --db "$DB" --output-root "$T/out" "$@" >"$T/refused.out" 2>"$T/refused.err" || rc=$?
  assert_eq "$rc" 2 "$what: exit status"
  assert_eq "$(wc -l <"$T/refused.err")" 1 "$what: one line ($(cat "$T/refused.err"))"
  assert_contains "$(cat "$T/refused.err")" "without --keys only loopback or ipc://" "$what: says why"
  assert_contains "$(cat "$T/refused.err")" "--insecure" "$what: says how"
  assert_eq "$(tables)" 0 "$what: the database was not touched"
}
refused "all interfaces" --bind-workers 'tcp://*:17710' --bind-clients "ipc://$T/c.sock"
refused "an address" --bind-workers tcp://0.0.0.0:17710 --bind-clients "ipc://$T/c.sock"
refused "clients" --bind-workers "ipc://$T/w.sock" --bind-clients 'tcp://*:17711'
printf 'bind-workers = tcp://*:17710\nbind-clients = ipc://%s/c.sock\n' "$T" >"$T/c.conf"
refused "a config file" --config "$T/c.conf"
assert_contains "$(clapper-coordinator --help)" "every client is an admin" "--help says what no keys means"

if ! unshare -n true 2>/dev/null; then
  log "no network namespaces here (unshare -n): the default and --insecure binds are not run"
  log "ok"
  exit 0
fi

# run_ns LOG ARGS...: a coordinator in a network namespace of its own.
run_ns() {
  local out=$1
  shift
  unshare -n bash -c 'ip link set lo up && exec "$@"' coord \
    clapper-coordinator --db "$DB" --output-root "$T/out" --bind-clients "ipc://$T/c.sock" \
    --lease-ms 2000 "$@" >"$out" 2>&1 &
  COORD=$!
  wait_for 60 grep -q " ready (heartbeat" "$out" || { cat "$out" >&2; fail "the coordinator did not start"; }
}
stop_ns() {
  kill -TERM "$COORD"
  wait "$COORD" || fail "the coordinator did not stop cleanly"
}

run_ns "$T/default.log"
assert_contains "$(cat "$T/default.log")" "workers socket bound to tcp://127.0.0.1:7710" "default workers bind"
doc=$(CLAPPER_COORDINATOR="ipc://$T/c.sock" CLAPPER_KEY= clapper whoami --json)
assert_eq "$(jq -r '.role + " " + (.secure | tostring)' <<<"$doc")" "admin false" "no keys: everyone is an admin"
stop_ns

run_ns "$T/insecure.log" --insecure --bind-workers tcp://0.0.0.0:7710
assert_contains "$(cat "$T/insecure.log")" "workers socket bound to tcp://0.0.0.0:7710" "--insecure binds"
assert_contains "$(cat "$T/insecure.log")" "warning: --bind-workers tcp://0.0.0.0:7710 without --keys" \
  "--insecure warns"
stop_ns
log "ok"
