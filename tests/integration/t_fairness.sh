#!/usr/bin/env bash
# Fair share: two episodes at one priority, 1,000 short tasks each, 8
# slots.  With equal weights the running split stays within one slot of
# even; with weights 3:1 it follows 3:1 within one slot.  Measured from the
# attempt records: after each dispatch, the attempts each episode held
# (dispatched, and not yet recorded as ended by the coordinator).
. "$(dirname "$0")/lib.sh"

farm_up 2 --worker-cpus 4

episode_job() { # episode name
  cat >"$T/$1.json" <<JSON
{"project": "fair", "episode": "$1",
 "jobs": [{"name": "$2", "frames": "1-1000", "command": ["sleep", "0.02"]}]}
JSON
  submit "$T/$1.json"
}

# split JOB_A JOB_B: for every dispatch while both jobs still had work and
# the farm was full, "held_by_a held_by_b".
split() {
  sql "WITH a AS (
         SELECT a.id, t.job_id AS job, a.dispatched_at AS d, a.recorded_at AS r
         FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id IN ($1, $2)),
       lim AS (SELECT least((SELECT max(d) FROM a WHERE job = $1),
                            (SELECT max(d) FROM a WHERE job = $2)) AS until)
       SELECT count(*) FILTER (WHERE y.job = $1) || ' ' || count(*) FILTER (WHERE y.job = $2)
       FROM a x JOIN a y ON y.d <= x.d AND (y.r IS NULL OR y.r > x.d), lim
       WHERE x.d < lim.until
       GROUP BY x.id HAVING count(*) = 8 ORDER BY x.id"
}

# run WEIGHT_A WEIGHT_B: both episodes queued while the workers are
# drained, then released together; prints the job ids.
run() {
  clapper episode weight "fair/$1-a" "$3" >/dev/null
  clapper episode weight "fair/$1-b" "$4" >/dev/null
  clapper drain local-1 >/dev/null
  clapper drain local-2 >/dev/null
  a=$(episode_job "$1-a" "$2-a")
  b=$(episode_job "$1-b" "$2-b")
  clapper undrain local-1 >/dev/null
  clapper undrain local-2 >/dev/null
  clapper wait --max-wait-s 300 "$a" "$b" >/dev/null 2>&1 || fail "jobs $a $b did not succeed"
  echo "$a $b"
}

read -r a b < <(run even job 1 1)
split "$a" "$b" >"$T/even.split"
n=$(wc -l <"$T/even.split")
[ "$n" -ge 500 ] || fail "only $n dispatches with a full farm and both episodes waiting"
awk '{ d = $1 - $2; if (d < -1 || d > 1) { print "split " $0; bad = 1 } } END { exit bad }' \
  "$T/even.split" || fail "equal weights: the split left even by more than one slot"
log "equal weights: $n dispatches, splits seen: $(sort | uniq -c <"$T/even.split" | tr -s ' \n' ' ')"

read -r a b < <(run weighted wjob 3 1)
split "$a" "$b" >"$T/weighted.split"
n=$(wc -l <"$T/weighted.split")
[ "$n" -ge 300 ] || fail "only $n dispatches with a full farm and both episodes waiting"
awk '{ if ($1 < 5 || $1 > 7) { print "split " $0; bad = 1 } } END { exit bad }' \
  "$T/weighted.split" || fail "weights 3:1: the split left 6:2 by more than one slot"
log "weights 3:1: $n dispatches, splits seen: $(sort | uniq -c <"$T/weighted.split" | tr -s ' \n' ' ')"

# The weights are remembered.
assert_eq "$(sql "SELECT weight FROM episodes WHERE name = 'weighted-a'")" 3 "stored weight"
log "ok"
