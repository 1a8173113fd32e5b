#!/usr/bin/env bash
# Output for programs (docs/json.md): every verb's --json document, on a
# small farm with jobs, tasks, takes (approved, rejected, changes
# requested), costs priced by rates, a budget, workers, an audit and users,
# carries "version": 1; every time in it is RFC 3339 UTC with 'Z' and six
# fraction digits, which Python 3.6's strptime parses; money is a decimal
# string with six decimals; no number has more than 6 fraction digits or
# an exponent (no float noise).  Error documents too.  The verbs come from
# `clapper --help`: a verb without a document here fails the test.
. "$(dirname "$0")/lib.sh"

farm_up 2 --worker-cpus 2
DOCS="$T/docs"
mkdir -p "$DOCS"
declare -A COVERED=()
ndocs=0
DOC=""

# doc VERB ARGS...: `clapper VERB ARGS --json`, which must succeed; the
# document is kept in $DOC (a file) for the checks at the end.
doc() {
  ndocs=$((ndocs + 1))
  DOC="$DOCS/$(printf %03d "$ndocs")-$1.json"
  clapper "$@" --json >"$DOC" 2>"$DOC.err" || fail "clapper $* --json failed: $(cat "$DOC.err")"
  COVERED[$1]=1
}
# doc_as WHO VERB ARGS...: doc with WHO's key.
doc_as() {
  local who=$1
  shift
  CLAPPER_KEY="$keys/$who.key" doc "$@"
}
# doc_error CODE VERB ARGS...: `clapper VERB ARGS --json`, which must fail
# with the error document CODE.
doc_error() {
  local code=$1
  shift
  ndocs=$((ndocs + 1))
  DOC="$DOCS/$(printf %03d "$ndocs")-error_$1.json"
  clapper "$@" --json >"$DOC" 2>"$DOC.err" && fail "clapper $* --json succeeded"
  assert_eq "$(jq -r .error.code "$DOC")" "$code" "error code of clapper $*"
}

# ------------------------------------------------------------ the farm
keys="$T/keys"
mkdir -p "$keys"
cp "$FARM/keys/coordinator.pub" "$keys/"
doc keygen sue --dir "$keys"
clapper keygen sam --dir "$keys" >/dev/null
clapper keygen eve --dir "$keys" >/dev/null
doc users add sue --role supervisor --public-key "$keys/sue.pub"
clapper users add sam --role submitter --public-key "$keys/sam.pub" >/dev/null
clapper users add eve --role auditor --public-key "$keys/eve.pub" >/dev/null
doc users list
doc users remove eve
doc_as sue whoami
doc web --print
doc token create ci --expires 30d
doc token list
doc token revoke ci

# Rates with six decimals, so that costs are not round numbers.
doc rates set --per-cpu-hour 0.360001
doc rates set --default-gpu-hour 1.234567
doc rates
doc budget set show/e1 100.5
doc episode weight show/e1 2

cat >"$T/gen.json" <<'JSON'
{"project": "show", "episode": "e1",
 "jobs": [{"name": "gen", "shot": "sh010", "kind": "generate", "takes": 3, "seed": 41,
           "command": ["sh", "-c", "sleep 0.2; echo take {take} > {output_dir}/clip.txt"],
           "outputs": ["{output_dir}/clip.txt"],
           "provenance": {"model": "wan-2.1", "model_version": "14b"}},
          {"name": "frames", "shot": "sh020", "frames": "1-4", "chunk": 2,
           "command": ["sh", "-c", "sleep 0.3; echo frames {frame_start}-{frame_end}"]},
          {"name": "broken", "shot": "sh020", "max_attempts": 1,
           "command": ["sh", "-c", "echo oops; exit 3"]}]}
JSON
doc_as sam submit "$T/gen.json"
gen=$(jq -r '.jobs[0].job_id' "$DOC")
frames=$(jq -r '.jobs[1].job_id' "$DOC")
broken=$(jq -r '.jobs[2].job_id' "$DOC")
clapper wait "$gen" "$frames" >/dev/null 2>&1 || fail "the jobs failed"
clapper wait "$broken" >/dev/null 2>&1 && fail "the broken job succeeded"
doc wait "$gen" "$frames"
doc jobs
doc job "$frames"
doc tasks "$frames"
task=$(jq -r '.tasks[0].task_id' "$DOC")
doc logs "$task"
doc attempts "$task"

# Takes: one approved, one rejected, one sent back, and a retake.
doc takes --job "$gen"
t1=$(jq -r '.takes[0].take_id' "$DOC")
t2=$(jq -r '.takes[1].take_id' "$DOC")
t3=$(jq -r '.takes[2].take_id' "$DOC")
doc_as sue approve "$t1" --note "ship it"
doc_as sue reject "$t2" --note "too dark"
doc_as sue request-changes "$t3" --note "slower"
doc_as sue retake "$t2"
retake=$(jq -r '.jobs[0].job_id' "$DOC")
clapper wait "$retake" >/dev/null 2>&1 || fail "the retake failed"
doc takes --episode show/e1

# Job control on a job that runs long enough.
cat >"$T/long.json" <<'JSON'
{"project": "show", "episode": "e2",
 "jobs": [{"name": "long", "frames": "1-2", "command": ["sleep", "30"]}]}
JSON
long=$(submit "$T/long.json")
doc pause "$long"
doc resume "$long"
doc cancel "$long"
doc retry "$broken"
clapper wait "$broken" >/dev/null 2>&1 && fail "the broken job succeeded on retry"
doc drain local-1
doc undrain local-1
doc workers

doc budget show show/e1
# Licence limits and pools (`clapper limit set NAME N`, `clapper limits`,
# `clapper pool set NAME worker:W`, `clapper pools`).
has_verb() { clapper --help | awk '/^  [a-z]/ { print $1 }' | grep -qx "$1"; }
if has_verb limit; then doc limit set houdini 2; fi
if has_verb limits; then doc limits; fi
if has_verb pool; then doc pool set render worker:local-1; fi
if has_verb pools; then doc pools; fi
for by in shot job kind; do doc cost --episode show/e1 --by "$by"; done
doc audit --episode show/e1
doc audit --verify
doc audit --head
doc events --kind take.
doc local status --dir "$FARM"
doc local up --dir "$FARM"

# Error documents: from the coordinator and from the command itself.
doc_error not_found job 999999
doc_error usage jobs --no-such-option
doc_error not_found cost --episode show/nope

# What the documents say, checked before the farm goes.
assert_eq "$(jq -r '.rates[] | select(.kind == "cpu") | .per_hour' "$DOCS"/*-rates.json | sort -u)" \
  0.360001 "the CPU rate as set"
spent=$(jq -r .spent "$(ls "$DOCS"/*-budget.json | tail -n1)")
[[ $spent =~ ^[0-9]+\.[0-9]{6}$ ]] && [ "$spent" != 0.000000 ] || fail "budget spent: '$spent'"

doc local down --dir "$FARM"

# ------------------------------------------------------------ every verb covered
verbs=$(clapper --help | sed -n '/^verbs:/,/^$/p' | awk '/^  [a-z]/ { print $1 }')
[ "$(wc -w <<<"$verbs")" -ge 20 ] || fail "could not read the verbs of clapper --help: $verbs"
# Verbs that need a setup of their own, each with the reason, as
# ALLOWED[verb]="reason" (none today: every verb has its document above).
declare -A ALLOWED=()
for v in $verbs; do
  [ -n "${COVERED[$v]:-}" ] || [ -n "${ALLOWED[$v]:-}" ] ||
    fail "verb '$v' (clapper --help) has no --json document in this test: add it"
done
log "$ndocs documents of $(wc -w <<<"$verbs") verbs"

# ------------------------------------------------------------ the rules
TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$'
MONEY_RE='^-?[0-9]+\.[0-9]{6}$'
# broken FILE...: prints "FILE: RULE: VALUE" for each way a document
# breaks the rules (nothing when all keep them), and the times they hold
# to $T/times.  One jq and one python3 for all the files.
broken() {
  jq -r --arg t "$TIME_RE" --arg m "$MONEY_RE" '
    [ (if .version == 1 then empty else "version: \(.version)" end),
      # Every string that starts like a date is a time in the one format.
      (.. | strings | select(test("^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]")) | select(test($t) | not)
       | "time: \(.)"),
      # Every member named like a time is one (or null).
      (paths(scalars) as $p | select($p[-1] | tostring |
         test("(_at|^started|^ended|^last_heartbeat|^valid_from|^from|^until)$"))
       | getpath($p) | select((type != "string") or (test($t) | not)) | "time_field: \(.)"),
      # Money: decimal strings with six decimals (the members named so,
      # and everything in a "cost" object).
      (paths(scalars) as $p | select(($p[-1] | tostring |
         test("(_cost|^cost|^budget|^left|^spent|^per_hour|^amount)$"))
         or ($p | map(tostring) | index("cost")) != null)
       | getpath($p) | select(. != null) | select((type != "string") or (test($m) | not))
       | "money: \(.)") ]
    | .[] | "\(input_filename): \(.)"' "$@"
  jq -r --arg t "$TIME_RE" '.. | strings | select(test($t))' "$@" >>"$T/times"
  # No number in the raw text with float noise or an exponent; Python
  # before 3.11 (the DCCs') parses every time with one format.
  python3 - "$@" <<'PY'
import datetime, json, re, sys
strings = re.compile(r'"(?:[^"\\]|\\.)*"')
for path in sys.argv[1:]:
    text = open(path).read()
    json.loads(text)
    for s in re.findall(r'"(\d{4}-\d\d-\d\dT[^"]*)"', text):
        try:
            datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ')
        except ValueError:
            print('%s: strptime: %s' % (path, s))
    for m in re.finditer(r'-?\d+(?:\.(\d+))?(?:[eE][-+]?\d+)?', strings.sub('""', text)):
        if (m.group(1) and len(m.group(1)) > 6) or 'e' in m.group(0).lower():
            print('%s: number: %s' % (path, m.group(0)))
PY
}

# The rules catch what they are meant to catch.
cat >"$T/bad.json" <<'JSON'
{"submitted_at": "2026-11-30T20:45:28.12625+00:00", "started_at": "2026-11-30T20:45:28Z",
 "gpu_hours": 0.040384000000000003, "energy_kwh": 1.8e-05, "total_cost": 1.5,
 "cost": {"total": 2}}
JSON
assert_eq "$(broken "$T/bad.json" | cut -d: -f2 | sort | uniq -c | awk '{ print $2 "=" $1 }' | paste -sd' ')" \
  "money=2 number=2 strptime=2 time=2 time_field=2 version=1" "the rules on a bad document"

: >"$T/times"
bad=$(broken "$DOCS"/*.json)
[ -z "$bad" ] || fail "documents break the rules: $bad"
[ "$(wc -l <"$T/times")" -ge 20 ] || fail "too few times seen: $(wc -l <"$T/times")"
# The audit's cost objects are money; hours and kWh are numbers, written
# as decimals.
assert_eq "$(jq -r '.totals.cost | [.[] | type] | unique | join(",")' "$DOCS"/*-audit.json | head -n1)" \
  string "audit cost is strings"
assert_eq "$(jq -r '[.gpu_hours, .cpu_hours, .energy_kwh, .shots[]?.cpu_hours] | map(type)
                  | unique | join(",")' "$DOCS"/*-cost.json | sort -u)" number "cost hours are numbers"
grep -Eq '"cpu_hours": 0\.[0-9]{1,6},?$' "$DOCS"/*-cost.json ||
  fail "cpu hours as decimals: $(grep cpu_hours "$DOCS"/*-cost.json)"
log "ok: $(wc -l <"$T/times") times in $ndocs documents"
