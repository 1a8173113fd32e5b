#!/usr/bin/env bash
# Priority: with one slot, a priority-90 job submitted after a priority-10
# job runs first.
. "$(dirname "$0")/lib.sh"

farm_up 1 --worker-cpus 1

mk() { # name priority seconds
  cat >"$T/$1.json" <<JSON
{"project": "p", "episode": "e1",
 "jobs": [{"name": "$1", "priority": $2,
           "command": ["sh", "-c", "echo $1 >> $T/order.log; sleep $3"]}]}
JSON
  submit "$T/$1.json"
}
blocker=$(mk blocker 50 1.5)
wait_for 20 grep -q blocker "$T/order.log" || fail "the blocker never started"
low=$(mk low 10 0)
high=$(mk high 90 0)
clapper wait "$blocker" "$low" "$high" >/dev/null 2>&1 || fail "jobs failed"
assert_eq "$(tr '\n' ' ' <"$T/order.log")" "blocker high low " "run order"
assert_eq "$(sql "SELECT (SELECT min(a.dispatched_at) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $high)
                 < (SELECT min(a.dispatched_at) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $low)")" \
  t "the priority-90 job was dispatched first"
log "ok"
