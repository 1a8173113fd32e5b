#!/usr/bin/env bash
# Cost you can audit: every ended attempt has exactly one ledger row priced
# by the rates in force when it started (exact integer arithmetic), failed
# and lost attempts are charged too, a coordinator restart never charges
# twice, the report's totals are the ledger's sums (table, CSV, JSON), a
# budget holds an episode and raising it releases it, and invalid amounts
# change nothing.
. "$(dirname "$0")/lib.sh"

farm_up 1 --worker-cpus 2 --worker-arg=--gpus=none --worker-arg=--tags=cpu \
  --coordinator-arg=--lease-ms=2000
gpu_inventory "$T/h100.json" "NVIDIA H100 80GB HBM3" 81559 2
gpu_inventory "$T/a10.json" "NVIDIA A10" 24000 2
start_worker gpu-h100 --gpu-inventory "$T/h100.json" --cpus 4 --tags h100
start_worker gpu-a10 --gpu-inventory "$T/a10.json" --cpus 4 --tags a10

clapper rates set --gpu-model "NVIDIA H100 80GB HBM3" --per-gpu-hour 3.6 >/dev/null
clapper rates set --gpu-model "NVIDIA A10" --per-gpu-hour 0.72 >/dev/null
clapper rates set --default-gpu-hour 1 >/dev/null
clapper rates set --per-cpu-hour 0.036 >/dev/null
rates=$(clapper rates --json)
assert_eq "$(jq -r .currency <<<"$rates")" USD "currency"
assert_eq "$(jq -r '[.rates[] | select(.in_force)] | length' <<<"$rates")" 4 "rates in force"
assert_eq "$(jq -r '.rates[] | select(.gpu_model == "NVIDIA A10") | .per_hour' <<<"$rates")" 0.720000 "A10 rate"

job() { # file name episode requires tasks command...
  local file=$1 name=$2 ep=$3 req=$4 frames=$5
  shift 5
  local cmd
  cmd=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
  cat >"$T/$file" <<JSON
{"project": "cost", "episode": "$ep",
 "jobs": [{"name": "$name", "shot": "sh010", "frames": "1-$frames", "requires": $req,
           "max_attempts": 1, "command": $cmd}]}
JSON
  submit "$T/$file"
}

h100=$(job h100.json on-h100 e1 '{"gpus": 1, "cpus": 1, "tags": ["h100"]}' 2 sleep 1.5)
a10=$(job a10.json on-a10 e1 '{"gpus": 2, "cpus": 2, "tags": ["a10"]}' 2 sleep 1.5)
failing=$(job fail.json failing e1 '{"cpus": 1, "tags": ["cpu"]}' 1 sh -c "sleep 1; exit 3")
clapper wait "$h100" "$a10" >/dev/null 2>&1 || fail "GPU jobs failed"
clapper wait "$failing" >/dev/null 2>&1 && fail "the failing job succeeded"

# Each row: rates of the models it ran on, and amount = wall x rate exactly.
check=$(sql "SELECT count(*),
                    count(*) FILTER (WHERE amount_micros = round(wall_us::numeric *
                                     (gpu_micros_per_hour + cpu_micros_per_hour) / 3600000000)),
                    count(*) FILTER (WHERE wall_us BETWEEN 900000 AND 4000000)
             FROM ledger")
assert_eq "$check" "5|5|5" "ledger rows priced exactly (rows|exact|plausible duration)"
assert_eq "$(sql "SELECT DISTINCT gpu_model || ' ' || gpu_micros_per_hour || ' ' || cpu_micros_per_hour FROM ledger WHERE job_id = $h100")" \
  "NVIDIA H100 80GB HBM3 3600000 36000" "H100 rows: one GPU at 3.6/h, one CPU at 0.036/h"
assert_eq "$(sql "SELECT DISTINCT gpu_model || ' ' || gpu_micros_per_hour || ' ' || cpu_micros_per_hour FROM ledger WHERE job_id = $a10")" \
  "NVIDIA A10 1440000 72000" "A10 rows: two GPUs at 0.72/h, two CPUs"
assert_eq "$(sql "SELECT state || ' ' || (amount_micros > 0) FROM ledger WHERE job_id = $failing")" "failed true" \
  "the failed attempt is charged"
assert_eq "$(sql "SELECT count(*) = count(DISTINCT attempt_id) FROM ledger")" t "one row per attempt"

# The report is the ledger: JSON, table and CSV agree with its sums.
total=$(sql "SELECT (sum(amount_micros)::numeric / 1000000)::numeric(30,6) FROM ledger")
failed=$(sql "SELECT (sum(amount_micros)::numeric / 1000000)::numeric(30,6) FROM ledger WHERE state IN ('failed', 'timed_out')")
rep=$(clapper cost --episode cost/e1 --json)
assert_eq "$(jq -r .total_cost <<<"$rep")" "$total" "report total"
assert_eq "$(jq -r .failed_cost <<<"$rep")" "$failed" "report failed cost"
assert_eq "$(jq -r '.shots[0].total_cost' <<<"$rep")" "$total" "shot total"
gpu_h=$(sql "SELECT round(sum(wall_us::numeric * gpus) / 3600e6, 6) FROM ledger")
assert_eq "$(jq -r .gpu_hours <<<"$rep")" "$(awk -v x="$gpu_h" 'BEGIN { print x + 0 }')" "GPU hours"
clapper cost --episode cost/e1 --by job --csv | tr -d '\r' >"$T/cost.csv"
col=$(head -n1 "$T/cost.csv" | tr ',' '\n' | grep -nx total_cost | cut -d: -f1)
[ -n "$col" ] || fail "no total_cost column in the CSV header"
assert_eq "$(awk -F, -v c="$col" '$1 == "TOTAL" { print $c }' "$T/cost.csv")" "$total" "CSV TOTAL"
assert_eq "$(grep -c . "$T/cost.csv")" 5 "CSV lines (header, 3 jobs, TOTAL)"
sum_rows=$(awk -F, -v c="$col" 'NR > 1 && $1 != "TOTAL" { s += $c * 1000000 } END { printf "%.0f", s }' "$T/cost.csv")
assert_eq "$sum_rows" "$(sql "SELECT sum(amount_micros) FROM ledger")" "CSV rows add up to the ledger"
assert_contains "$(clapper cost --episode cost/e1)" "$total" "table shows the total"
# By job the rows are paged by job id; the totals stay the episode's.
p1=$(clapper cost --episode cost/e1 --by job --json --limit 2)
assert_eq "$(jq -c '[.jobs[].job_id, .more, .next_after, .total_cost]' <<<"$p1")" \
  "[$h100,$a10,true,$a10,\"$total\"]" "cost --by job --limit 2"
p2=$(clapper cost --episode cost/e1 --by job --json --limit 2 --after "$a10")
assert_eq "$(jq -c '[.jobs[].job_id, .more, .next_after, .total_cost]' <<<"$p2")" \
  "[$failing,false,null,\"$total\"]" "cost --by job --after"
assert_eq "$(clapper cost --episode cost/e1 --by job --limit 2 | tail -n1)" \
  "more jobs: add --after $a10 for the next page" "cost --by job hint"

# A rate change between two jobs prices each by its own start.
one=$(job r1.json before e1 '{"cpus": 1, "tags": ["cpu"]}' 1 sleep 0.5)
clapper wait "$one" >/dev/null 2>&1 || fail "job before the rate change failed"
clapper rates set --per-cpu-hour 0.072 >/dev/null
two=$(job r2.json after e1 '{"cpus": 1, "tags": ["cpu"]}' 1 sleep 0.5)
clapper wait "$two" >/dev/null 2>&1 || fail "job after the rate change failed"
assert_eq "$(sql "SELECT cpu_micros_per_hour FROM ledger WHERE job_id = $one")" 36000 "rate of the earlier job"
assert_eq "$(sql "SELECT cpu_micros_per_hour FROM ledger WHERE job_id = $two")" 72000 "rate of the later job"
assert_eq "$(sql "SELECT count(*) FROM events WHERE kind = 'rate.set'")" 5 "rate changes in the event log"

# A lost attempt is charged once, until it was declared lost.
start_worker victim --cpus 1 --tags victim --gpus none
lost=$(job lost.json lost e1 '{"cpus": 1, "tags": ["victim"]}' 1 sleep 30)
wait_for 20 sh -c "[ \"\$(clapper job $lost --json | jq .tasks.running)\" = 1 ]" || fail "the victim's task did not start"
sleep 1
pkill -KILL -f -- "--name victim" || fail "could not kill the victim worker"
lost_charged() { [ "$(sql "SELECT count(*) FROM ledger WHERE job_id = $lost AND state = 'lost'")" = 1 ]; }
wait_for 20 lost_charged || fail "the lost attempt was not charged"
assert_eq "$(sql "SELECT wall_us BETWEEN 1000000 AND 8000000 AND amount_micros > 0 FROM ledger WHERE job_id = $lost AND state = 'lost'")" \
  t "lost attempt charged until declared lost"
clapper cancel "$lost" >/dev/null

# The coordinator killed while results are in flight: no second charge.
many=$(job many.json many e1 '{"cpus": 1}' 16 sleep 0.3)
some_charged() { [ "$(sql "SELECT count(*) FROM ledger WHERE job_id = $many")" -ge 3 ]; }
wait_for 30 some_charged || fail "no charges"
kill -9 "$(pid_of coordinator)"
sleep 2
clapper local up --dir "$FARM" >/dev/null 2>&1 || fail "restart failed"
clapper wait --max-wait-s 120 "$many" >/dev/null 2>&1 || fail "job did not finish after the restart"
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $many AND a.state NOT IN ('dispatched', 'running')")" \
  "$(sql "SELECT count(*) FROM ledger WHERE job_id = $many")" "ledger rows = ended attempts after the restart"
assert_eq "$(sql "SELECT count(*) FROM ledger WHERE job_id = $many AND state = 'succeeded'")" 16 "one charge per success"

# Budget: about half the work fits; the episode holds, running tasks finish,
# nothing new starts; raising the budget completes it.  8 tasks of 2 s on
# 2 CPUs at 0.072/h per CPU: 40 micro-units each; the budget pays for ~4.
clapper budget set cost/e2 0.00016 >/dev/null
big=$(job big.json big e2 '{"cpus": 1, "tags": ["cpu"]}' 8 sleep 2)
wait_for 60 sh -c "[ \"\$(clapper job $big --json | jq -r .state)\" = held ]" || fail "the episode was not held"
wait_for 30 sh -c "[ \"\$(clapper job $big --json | jq '.tasks.running + .tasks.dispatched')\" = 0 ]" ||
  fail "running tasks did not finish"
done_at_hold=$(clapper job "$big" --json | jq .tasks.succeeded)
[ "$done_at_hold" -ge 2 ] && [ "$done_at_hold" -le 6 ] || fail "$done_at_hold tasks done when held"
assert_contains "$(clapper job "$big" --json | jq -r .reason)" "budget" "held reason"
b=$(clapper budget show cost/e2 --json)
assert_eq "$(jq -r .held <<<"$b")" true "budget show: held"
sleep 3
assert_eq "$(clapper job "$big" --json | jq .tasks.succeeded)" "$done_at_hold" "nothing new ran while held"
clapper budget set cost/e2 1 >/dev/null
clapper wait --max-wait-s 60 "$big" >/dev/null 2>&1 || fail "raising the budget did not complete the episode"
assert_eq "$(sql "SELECT count(*) FROM events WHERE kind = 'episode.budget'")" 2 "budget changes in the event log"
rep=$(clapper cost --episode cost/e2 --json)
assert_eq "$(jq -r .budget <<<"$rep")" 1.000000 "budget in the report"
assert_eq "$(jq -r .left <<<"$rep")" "$(sql "SELECT ((1000000 - sum(amount_micros))::numeric / 1000000)::numeric(30,6) FROM ledger l JOIN episodes e ON e.id = l.episode_id WHERE e.name = 'e2'")" \
  "what is left"

# Invalid amounts are refused with one line and change nothing.
before=$(sql "SELECT (SELECT count(*) FROM rates), (SELECT count(*) FROM events), (SELECT budget_micros FROM episodes WHERE name = 'e2')")
for bad in -1 abc 1.2345678 99999999999999999999 1e3 ""; do
  clapper rates set --per-cpu-hour "$bad" 2>"$T/err" && fail "rate '$bad' accepted"
  [ "$(wc -l <"$T/err")" = 1 ] || fail "rate '$bad': not one line: $(cat "$T/err")"
  clapper budget set cost/e2 "$bad" 2>"$T/err" && fail "budget '$bad' accepted"
  assert_contains "$(cat "$T/err")" "clapper:" "budget '$bad' message"
done
assert_eq "$(sql "SELECT (SELECT count(*) FROM rates), (SELECT count(*) FROM events), (SELECT budget_micros FROM episodes WHERE name = 'e2')")" \
  "$before" "rates, events and budget after refused amounts"
log "ok"
