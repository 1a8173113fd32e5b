# lib.sh - shared by the integration tests: a private farm per test.
#
# Each test sources this file, calls farm_up to start PostgreSQL, the
# coordinator and workers through `clapper local up`, drives the farm with
# the `clapper` command as a user would, and asserts on what it prints and
# on the database.  On exit the farm is stopped and every daemon log is
# checked for sanitizer reports.  KEEP=1 keeps the test directory.
set -euo pipefail

: "${CLAPPER_BIN_DIR:?run through ctest, or set CLAPPER_BIN_DIR to the build directory}"
: "${CLAPPER_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export PATH="$CLAPPER_BIN_DIR:$PATH"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

T=$(mktemp -d /tmp/clapper-test.XXXXXX)
# Run as root, workers run tasks as user clapper-task: tests' tasks may
# write their traces here (sticky, like /tmp; the farm below stays root's).
chmod 1777 "$T"
FARM="$T/farm"
TEST_NAME=$(basename "$0" .sh)

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }

fail() {
  log "FAIL: $*"
  exit 1
}

assert_eq() { # actual expected message
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

assert_contains() { # haystack needle message
  case "$1" in *"$2"*) ;; *) fail "$3: '$1' does not contain '$2'" ;; esac
}

# sql QUERY: one value per line, fields separated by '|'.
sql() { psql "$CLAPPER_DB" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }

sanitizer_check() {
  local bad=0 f
  for f in "$FARM"/logs/*.log "$T"/*.log; do
    [ -f "$f" ] || continue
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$f"; then
      log "sanitizer report in $f:"
      grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' "$f" | head -40 >&2
      bad=1
    fi
  done
  return $bad
}

EXTRA_WORKERS=()

cleanup() {
  local rc=$?
  local p
  for p in "${EXTRA_WORKERS[@]}"; do
    kill -INT "$p" 2>/dev/null || true
  done
  for p in "${EXTRA_WORKERS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ -d "$FARM" ]; then
    clapper local down --dir "$FARM" >/dev/null 2>&1 || true
  fi
  if ! sanitizer_check; then
    rc=1
  fi
  if [ $rc -ne 0 ] || [ "${KEEP:-0}" = 1 ]; then
    log "test directory kept: $T"
    for f in "$FARM"/logs/*.log; do
      [ -f "$f" ] || continue
      log "--- tail of $f"
      tail -n 15 "$f" >&2
    done
  else
    rm -rf "$T"
  fi
  exit $rc
}
trap cleanup EXIT

# farm_up N [extra `clapper local up` arguments]: start a farm, export its env.
farm_up() {
  local n=$1
  shift
  # The HTTP side on a free port (tests run side by side): http_url says which.
  clapper local up --dir "$FARM" --workers "$n" --coordinator-arg=--bind-http=127.0.0.1:0 "$@" \
    >"$T/up.out" 2>&1 || {
    cat "$T/up.out" >&2
    fail "clapper local up failed"
  }
  # shellcheck disable=SC1091
  . "$FARM/env"
  export CLAPPER_DB CLAPPER_COORDINATOR CLAPPER_KEY
}

# http_url: the farm's HTTP base URL, as its coordinator logged it.
http_url() {
  grep -o 'serving HTTP at [^ ]*' "$FARM/logs/coordinator.log" | tail -1 | awk '{print $4}'
}

# wait_for SECONDS COMMAND...: retry COMMAND until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# job_id_of SUBMIT_JSON [INDEX]: the job id of a `submit --json` reply.
job_id_of() { jq -r ".jobs[${2:-0}].job_id" <<<"$1"; }

# pid_of NAME: pid of a farm process from its pid file.
pid_of() { cat "$FARM/run/$1.pid"; }

# workers_endpoint: where the farm's coordinator takes workers.
workers_endpoint() {
  tr '\0' '\n' <"/proc/$(pid_of coordinator)/cmdline" | grep -A1 -x -- '--bind-workers' | tail -n1
}

# start_worker NAME [clapper-worker options]: one more worker on the farm,
# stopped at the end of the test; waits until the coordinator lists it.
start_worker() {
  local name=$1
  shift
  mkdir -p "$FARM/logs" "$T/workers/$name"
  # A secure farm admits a worker by its key: make one and register it.
  local keyargs=()
  if [ -n "${CLAPPER_KEY:-}" ]; then
    [ -f "$FARM/keys/$name.key" ] || clapper keygen "$name" --dir "$FARM/keys" >/dev/null
    clapper users list --json | jq -e --arg n "$name" '.users[] | select(.name == $n)' >/dev/null ||
      clapper users add "$name" --role worker --public-key "$FARM/keys/$name.pub" >/dev/null ||
      fail "cannot register the key of worker $name"
    keyargs=(--key "$FARM/keys/$name.key")
  fi
  clapper-worker --coordinator "$(workers_endpoint)" --name "$name" \
    --workdir "$T/workers/$name" "${keyargs[@]}" "$@" >>"$FARM/logs/$name.log" 2>&1 &
  EXTRA_WORKERS+=($!)
  disown $!
  wait_for 30 worker_online "$name" || fail "worker $name did not come online"
}

worker_online() {
  [ "$(clapper workers --json | jq -r --arg n "$1" '.workers[] | select(.name == $n) | .state')" = online ]
}

# gpu_inventory FILE MODEL MEMORY_MB COUNT: an inventory of COUNT GPUs.
gpu_inventory() {
  local i sep=""
  { printf '['
    for ((i = 0; i < $4; i++)); do
      printf '%s{"index": %d, "uuid": "GPU-%s-%d", "model": "%s", "memory_mb": %d}' \
        "$sep" "$i" "$(basename "$1")" "$i" "$2" "$3"
      sep=", "
    done
    printf ']\n'; } >"$1"
}

# submit FILE: submit a job file, print the first job id.
submit() { job_id_of "$(clapper submit --json "$1")" "${2:-0}"; }

# gone PID: the process no longer runs (absent, or a zombie not yet reaped).
gone() {
  [ -e "/proc/$1/stat" ] || return 0
  [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# assert_gone PIDFILE WHAT: the process in PIDFILE is gone within 5 s.
assert_gone() {
  local pid
  pid=$(cat "$1")
  wait_for 5 gone "$pid" || fail "process $pid ($1) survived $2"
}

# assert_sound JOB...: the fault suite's invariants, for the given jobs
# (all of them must have succeeded): every task has exactly one succeeded
# attempt; no attempt is left dispatched or running; every ended attempt
# of the whole farm has exactly one ledger row and no ledger row lacks its
# ended attempt; the event log's keyed chain verifies.
assert_sound() {
  local job ids n bad
  ids=$(IFS=,; echo "$*")
  for job in "$@"; do
    assert_eq "$(clapper job "$job" --json | jq -r .state)" succeeded "state of job $job"
  done
  n=$(sql "SELECT count(*) FROM tasks WHERE job_id IN ($ids)")
  bad=$(sql "SELECT count(*) FROM tasks t WHERE t.job_id IN ($ids) AND
             (SELECT count(*) FROM attempts a WHERE a.task_id = t.id AND a.state = 'succeeded') <> 1")
  assert_eq "$bad" 0 "tasks (of $n) without exactly one succeeded attempt"
  assert_eq "$(sql "SELECT count(*) FROM attempts WHERE state IN ('dispatched', 'running')")" 0 \
    "attempts left dispatched or running"
  assert_eq "$(sql "SELECT count(*) FROM attempts a WHERE a.ended_at IS NOT NULL AND
                    NOT EXISTS (SELECT 1 FROM ledger l WHERE l.attempt_id = a.id)")" 0 \
    "ended attempts without a ledger row"
  assert_eq "$(sql "SELECT count(*) FROM ledger l JOIN attempts a ON a.id = l.attempt_id
                    WHERE a.ended_at IS NULL OR a.state <> l.state")" 0 \
    "ledger rows whose attempt is not ended as they say"
  clapper audit --verify >"$T/verify.out" 2>&1 || fail "the event chain does not verify: $(cat "$T/verify.out")"
}

# start_standby [CLIENTS_EP WORKERS_EP]: a second coordinator started from
# the leader's own command line (so it binds the same endpoints once it
# holds the leader lock, or the ones given), its log $T/standby.log; sets
# STANDBY to its pid and waits until it stands by.
start_standby() {
  local cmd i
  mapfile -d '' cmd <"/proc/$(pid_of coordinator)/cmdline"
  if [ $# -eq 2 ]; then
    for i in "${!cmd[@]}"; do
      [ "${cmd[$i]}" = --bind-clients ] && cmd[$((i + 1))]=$1
      [ "${cmd[$i]}" = --bind-workers ] && cmd[$((i + 1))]=$2
    done
  fi
  "${cmd[@]}" >"$T/standby.log" 2>&1 &
  STANDBY=$!
  EXTRA_WORKERS+=("$STANDBY")
  wait_for 30 grep -q "standing by" "$T/standby.log" ||
    fail "the second coordinator did not stand by: $(tail -3 "$T/standby.log")"
}
