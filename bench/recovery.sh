#!/usr/bin/env bash
# bench/recovery.sh BUILD_DIR [HISTORY]: how long a coordinator takes to
# recover (start to "ready") with 10,000 and 1,000,000 unfinished tasks,
# without history and with HISTORY (default 5,000,000) succeeded tasks in
# finished jobs, on a fresh private PostgreSQL (tests/lib/pgtmp.sh).
#
# The rows are written with SQL (submitting millions of tasks through a
# coordinator would take most of an hour); each case starts the
# coordinator twice and prints the "recovered ... in N ms" line of each
# start and the wall time from its start to its "ready" line.
set -euo pipefail
build=$(cd "${1:?usage: bench/recovery.sh BUILD_DIR [HISTORY]}" && pwd)
history=${2:-5000000}
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/clapper-bench.XXXXXX)
chmod 755 "$dir"
trap '"$here/tests/lib/pgtmp.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
db=$("$here/tests/lib/pgtmp.sh" start "$dir")
coord="$build/clapper-coordinator"
sql() { psql "$db" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }

"$coord" --db "$db" --sql-dir "$here/sql" --output-root "$dir/out" --migrate-only \
  >"$dir/migrate.log" 2>&1 || { cat "$dir/migrate.log" >&2; exit 1; }
sql "INSERT INTO projects (name) VALUES ('bench');
     INSERT INTO episodes (project_id, name) SELECT id, 'e' FROM projects"

next_job=1
next_task=1
# add_job STATE TASK_STATE N: one job of N tasks, all in TASK_STATE.
add_job() {
  local state=$1 tstate=$2 n=$3 j=$next_job first=$next_task
  sql "INSERT INTO jobs (id, episode_id, name, kind, state, priority, max_attempts, max_lost,
         retry_backoff_s, timeout_s, requires, spec, output_dir, ntasks, task_counts, submitted_by)
       SELECT $j, e.id, 'j$j', 'render', '$state', 50, 3, 3, 0, 0, '{}',
         '{\"name\": \"j$j\", \"command\": [\"true\"], \"frames\": \"1\"}', '$dir/out/j$j', $n,
         jsonb_build_object('$tstate', $n), 'bench' FROM episodes e;
       INSERT INTO tasks (id, job_id, seq, state, frame_start, frame_end, frame_step)
       SELECT $first + g, $j, g, '$tstate', g + 1, g + 1, 1 FROM generate_series(0, $n - 1) g"
  next_job=$((j + 1))
  next_task=$((first + n))
}

# measure LABEL: two starts of the coordinator, each to "ready" and stopped.
measure() {
  sql "VACUUM ANALYZE" >/dev/null
  local unfinished total
  unfinished=$(sql "SELECT count(*) FROM tasks WHERE state <> 'succeeded'")
  total=$(sql "SELECT count(*) FROM tasks")
  for run in 1 2; do
    local log="$dir/coord.log" t0 t1 pid
    : >"$log"
    t0=$(date +%s%N)
    "$coord" --db "$db" --sql-dir "$here/sql" --output-root "$dir/out" \
      --bind-workers "ipc://$dir/w.sock" --bind-clients "ipc://$dir/c.sock" >"$log" 2>&1 &
    pid=$!
    until grep -q " ready (heartbeat" "$log"; do
      kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
      sleep 0.02
    done
    t1=$(date +%s%N)
    kill -TERM "$pid"
    wait "$pid" || true
    printf '%-34s unfinished %9s of %9s tasks  run %s: start to ready %6d ms | %s\n' "$1" \
      "$unfinished" "$total" "$run" $(((t1 - t0) / 1000000)) \
      "$(grep -o 'recovered .* in [0-9]* ms' "$log")"
  done
}

add_job queued ready 10000
measure "10k unfinished, no history"
add_job queued ready 990000
measure "1M unfinished, no history"
# History: the 990k job succeeded, and more finished jobs of 1M tasks.
sql "UPDATE tasks SET state = 'succeeded' WHERE job_id = 2;
     UPDATE jobs SET state = 'succeeded', task_counts = '{\"succeeded\": 990000}' WHERE id = 2"
left=$((history - 990000))
while [ "$left" -gt 0 ]; do
  n=$((left < 1000000 ? left : 1000000))
  add_job succeeded succeeded "$n"
  left=$((left - n))
done
measure "10k unfinished, history"
add_job queued ready 990000
measure "1M unfinished, history"
