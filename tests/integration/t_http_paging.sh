#!/usr/bin/env bash
# Paging a job of 100,000 tasks over HTTP: GET /api/v1/jobs/ID/tasks with
# limit and after, following next_after to the end, gives exactly the
# job's 100,000 task ids, in order, none twice, whatever the page size;
# a page size out of range is refused with one line.  The job never runs
# (its tasks need a licence of count 0), so the list holds still.
. "$(dirname "$0")/lib.sh"

farm_up 1
BASE=$(http_url)
[ -n "$BASE" ] || fail "the coordinator did not log its HTTP address"
TOKEN=$(clapper token create paging --role auditor --json | jq -r .secret) || fail "token create"
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || fail "no token secret"
get() { # PATH: the status on stdout, the body in $T/body
  curl -sS -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE$1"
}

N=100000
clapper limit set never 0 >/dev/null || fail "limit set never"
cat >"$T/big.json" <<JSON
{"project": "show", "episode": "e1",
 "jobs": [{"name": "big", "frames": "1-$N", "command": ["true", "{frame}"],
           "requires": {"limits": ["never"]}}]}
JSON
job=$(submit "$T/big.json")
assert_eq "$(sql "SELECT count(*) FROM tasks WHERE job_id = $job")" "$N" "task rows of the big job"
sql "SELECT id FROM tasks WHERE job_id = $job ORDER BY id" >"$T/expected"

# walk LIMIT: every page from the start, the ids in $T/got.LIMIT; prints the page count.
walk() {
  local limit=$1 after="" pages=0 status more next prev=""
  : >"$T/got.$limit"
  while :; do
    status=$(get "/api/v1/jobs/$job/tasks?limit=$limit${after:+&after=$after}")
    [ "$status" = 200 ] || fail "page $pages (limit $limit, after '$after'): status $status: $(head -c 300 "$T/body")"
    jq -r '.tasks[].task_id' "$T/body" >>"$T/got.$limit"
    local n last
    read -r n more next last < <(jq -r '[(.tasks | length), .more, (.next_after // "-"), (.tasks[-1].task_id // "-")] | @tsv' "$T/body")
    [ "$next" != - ] || next=""
    pages=$((pages + 1))
    [ "$n" -le "$limit" ] || fail "a page of limit $limit held $n tasks"
    [ "$more" = true ] || break
    [ "$n" -gt 0 ] || fail "page $pages (limit $limit) is empty but says more"
    [ -n "$next" ] || fail "page $pages (limit $limit) says more without next_after"
    assert_eq "$next" "$last" "next_after is the page's last id"
    [ "$next" != "$prev" ] || fail "next_after did not move ($next)"
    prev=$next after=$next
    [ $pages -lt $((N + 10)) ] || fail "paging does not end"
  done
  [ -z "$next" ] || fail "the last page (limit $limit) gives next_after $next"
  echo "$pages"
}

check_walk() {
  local limit=$1 pages
  pages=$(walk "$limit")
  assert_eq "$(wc -l <"$T/got.$limit")" "$N" "task ids through pages of $limit"
  assert_eq "$(sort -u "$T/got.$limit" | wc -l)" "$N" "distinct task ids through pages of $limit"
  sort -n -c "$T/got.$limit" 2>/dev/null || fail "pages of $limit are not in id order"
  cmp -s "$T/got.$limit" "$T/expected" || fail "pages of $limit are not the job's tasks: $(diff "$T/got.$limit" "$T/expected" | head -5)"
  log "limit $limit: $N tasks in $pages pages"
}
check_walk 1000
check_walk 10000
check_walk 777

# From the middle: after a task id, the tasks after it.
mid=$(sed -n 50000p "$T/expected")
assert_eq "$(get "/api/v1/jobs/$job/tasks?limit=3&after=$mid")" 200 "a page from the middle"
assert_eq "$(jq -c '[.tasks[].task_id]' "$T/body")" "$(sed -n 50001,50003p "$T/expected" | jq -sc .)" "the page after $mid"
last=$(tail -n1 "$T/expected")
assert_eq "$(get "/api/v1/jobs/$job/tasks?limit=5&after=$last")" 200 "the page after the last task"
assert_eq "$(jq -c '[(.tasks | length), .more]' "$T/body")" "[0,false]" "nothing after the last task"

# Out of range: one line, 400.
for q in "limit=0" "limit=10001" "limit=-5" "limit=abc" "after=-1" "after=1e3" "after=18446744073709551616"; do
  assert_eq "$(get "/api/v1/jobs/$job/tasks?$q")" 400 "tasks?$q"
  assert_eq "$(jq -r .error.code "$T/body")" bad_request "the code of tasks?$q"
  [ "$(wc -l <"$T/body")" -le 1 ] || fail "tasks?$q: not one line"
done
# The job never ran.
assert_eq "$(sql "SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $job")" 0 \
  "no task of the big job ran"
log "ok"
