#!/usr/bin/env bash
# The CLI's conventions through the real `clapper` and a real farm:
# clustered short options, `jobs` showing unfinished jobs by default (a
# running job is not hidden behind 101 finished ones) with --all, --state,
# --episode and --mine; submit's per-job state; the exit codes of wait (0,
# 1 failed, 1 canceled, 3 stranded, 124 timed out) and its ETA on a
# terminal; no raw JSON in `clapper job`; colours only on a terminal or
# with --color=always, never with NO_COLOR or in a pipe; the user's
# settings file and its precedence; identifiers with capitals (HOD/E1,
# SH010) through submit, jobs, takes and cost; the generated completion
# scripts and man page list every verb and option, and install.
. "$(dirname "$0")/lib.sh"

farm_up 1
ESC=$'\033'

# --- a long-running job, then 101 finished ones -------------------------
cat >"$T/long.json" <<'JSON'
{"project": "HOD", "episode": "E1",
 "jobs": [{"name": "long", "shot": "SH010", "kind": "render", "command": ["sleep", "900"]}]}
JSON
long=$(submit "$T/long.json")
wait_for 30 sh -c "clapper job $long --json | jq -e '.state == \"running\"' >/dev/null"

{
  printf '{"project": "p", "episode": "e", "jobs": ['
  for i in $(seq 101); do
    printf '{"name": "f%d", "command": ["true"]}%s' "$i" "$([ "$i" -lt 101 ] && echo ,)"
  done
  printf ']}\n'
} >"$T/many.json"
many=$(clapper submit --json "$T/many.json")
mapfile -t fids < <(jq -r '.jobs[].job_id' <<<"$many")
assert_eq "${#fids[@]}" 101 "101 jobs submitted"
clapper wait --max-wait-s 120 "${fids[@]}" >/dev/null 2>&1 || fail "the 101 short jobs did not succeed"

# The default view: the unfinished jobs, so the long one is there and none
# of the 101 finished ones.
doc=$(clapper jobs --json)
assert_eq "$(jq -c '[.jobs[].name]' <<<"$doc")" '["long"]' "jobs shows the unfinished job only"
assert_contains "$(clapper jobs)" "SH010" "the jobs table keeps the shot's capitals"
# --all: finished too; the newest 100 are the short jobs (which is how the
# running job used to disappear), and -n is honoured with -a, clustered.
assert_eq "$(clapper jobs --all --json | jq '[.jobs[] | select(.name == "long")] | length')" 0 \
  "the newest 100 of all jobs are finished ones"
assert_eq "$(clapper jobs --all --json | jq '.jobs | length')" 100 "jobs --all: a page of 100"
assert_eq "$(clapper jobs -an2 --json | jq -c '[.jobs[].name]')" '["f100","f101"]' "jobs -an2"
assert_eq "$(clapper jobs -a -n 2 --json | jq '.jobs | length')" 2 "jobs -a -n 2"
assert_eq "$(clapper jobs -n3 --all --json | jq '.jobs | length')" 3 "jobs -n3 --all"
assert_eq "$(clapper jobs --limit=1 --all --json | jq '.jobs | length')" 1 "jobs --limit=1"
assert_eq "$(clapper jobs --json -- 2>/dev/null | jq -c '[.jobs[].name]')" '["long"]' "jobs --"
clapper jobs -- -a >"$T/o" 2>"$T/e" && fail "an argument after -- was taken as an option"
assert_contains "$(cat "$T/e")" "too many arguments" "after --, -a is an argument"
clapper jobs -ax >"$T/o" 2>"$T/e" && fail "jobs -ax accepted"
assert_eq "$(cat "$T/e")" "clapper: unknown option -x (see clapper jobs --help)" "unknown clustered option"
clapper jobs -an >"$T/o" 2>"$T/e" && fail "jobs -an accepted"
assert_eq "$(cat "$T/e")" "clapper: option --limit needs a value" "missing value"
assert_contains "$(clapper jobs --help)" "finished jobs too" "the help of --all"

# Filters, done by the coordinator.
assert_eq "$(clapper jobs --state running --json | jq -c '[.jobs[].name]')" '["long"]' "--state running"
assert_eq "$(clapper jobs --state succeeded -n5 --json | jq -c '[.jobs[].state] | unique')" \
  '["succeeded"]' "--state succeeded"
assert_eq "$(clapper jobs --state succeeded,running -n 200 --json | jq '.jobs | length')" 102 \
  "--state with two states"
assert_eq "$(clapper jobs --all --episode HOD/E1 --json | jq -c '[.jobs[].name]')" '["long"]' \
  "--episode HOD/E1"
assert_eq "$(clapper jobs --all --episode hod/e1 --json | jq '.jobs | length')" 0 \
  "episodes are case-sensitive"
clapper jobs --state sleeping 2>"$T/e" && fail "--state sleeping accepted"
assert_contains "$(cat "$T/e")" "invalid --state 'sleeping'" "--state refusal"

# --mine: a submitter's own jobs.
keys="$T/keys"
mkdir -p "$keys"
cp "$FARM/keys/coordinator.pub" "$keys/"
clapper keygen Bob --dir "$keys" >/dev/null
clapper users add Bob --role submitter --public-key "$keys/Bob.pub" >/dev/null
cat >"$T/bob.json" <<'JSON'
{"project": "HOD", "episode": "E2", "jobs": [{"name": "bobs", "command": ["sleep", "900"]}]}
JSON
bob=$(job_id_of "$(clapper submit --json --key "$keys/Bob.key" "$T/bob.json")")
assert_eq "$(clapper jobs --mine --key "$keys/Bob.key" --json | jq -c '[.jobs[].job_id]')" "[$bob]" \
  "--mine as Bob"
assert_eq "$(clapper jobs --mine --all --json | jq "[.jobs[] | select(.job_id == $bob)] | length")" 0 \
  "--mine as the admin leaves Bob's job out"
assert_eq "$(clapper job "$bob" --json | jq -r .submitted_by)" Bob "the key name keeps its capital"
clapper cancel "$bob" >/dev/null

# --- submit prints each job's real state ---------------------------------
cat >"$T/after.json" <<JSON
{"project": "HOD", "episode": "E1",
 "jobs": [{"name": "comp", "shot": "SH010", "after": [$long], "command": ["true"]},
          {"name": "now", "command": ["sleep", "900"], "requires": {"tags": ["nowhere"]}}]}
JSON
out=$(clapper submit "$T/after.json")
assert_contains "$out" "comp: 1 task, waiting" "submit says the dependent job waits"
assert_contains "$(head -1 <<<"$out")" "waiting: after job $long" "submit says what it waits on"
clapper cancel $(sed -E 's/^job ([0-9]+).*/\1/' <<<"$out") >/dev/null
doc=$(clapper submit --json "$T/after.json")
assert_eq "$(jq -r '.jobs[0].state' <<<"$doc")" waiting "submit --json: state"
assert_eq "$(jq -r '.jobs[1].state' <<<"$doc")" queued "submit --json: the other job's state"
clapper cancel "$(job_id_of "$doc" 0)" "$(job_id_of "$doc" 1)" >/dev/null

# --- clapper job: no raw JSON --------------------------------------------
view=$(clapper job "$long")
grep -qE '^command: +sleep 900$' <<<"$view" || fail "the command as a shell reads it: $view"
case "$view" in *'{"'* | *'["'*) fail "clapper job prints JSON: $view" ;; esac
assert_contains "$view" "1 running" "task counts as text"
grep -q '^version:' <<<"$view" && fail "clapper job shows the document's version: $view"

# --- colours ---------------------------------------------------------------
plain=$(clapper jobs --state succeeded -n 3)
case "$plain" in *"$ESC"*) fail "piped output has escape codes" ;; esac
colored=$(clapper jobs --state succeeded -n 3 --color=always)
assert_contains "$colored" "${ESC}[32msucceeded${ESC}[0m" "--color=always paints succeeded green"
# The columns stay aligned: the same table without the escape codes.
assert_eq "$(sed "s/${ESC}\[[0-9]*m//g" <<<"$colored")" "$plain" "colours do not move columns"
tty=$(script -qec "clapper jobs --state succeeded -n 3" /dev/null)
assert_contains "$tty" "${ESC}[32m" "a terminal gets colours"
tty=$(NO_COLOR=1 script -qec "clapper jobs --state succeeded -n 3" /dev/null)
case "$tty" in *"$ESC["*) fail "NO_COLOR did not turn colours off" ;; esac
clapper jobs --color=sometimes 2>"$T/e" && fail "--color=sometimes accepted"
assert_contains "$(cat "$T/e")" "invalid --color 'sometimes'" "--color refusal"

# --- wait: exit codes and ETA --------------------------------------------
rc=0
clapper wait "${fids[0]}" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 0 "wait on a succeeded job"
cat >"$T/fail.json" <<'JSON'
{"project": "p", "episode": "e",
 "jobs": [{"name": "bad", "command": ["false"], "max_attempts": 1},
          {"name": "stuck", "command": ["false"], "max_attempts": 10, "retry_backoff_s": 0}]}
JSON
doc=$(clapper submit --json "$T/fail.json")
bad=$(job_id_of "$doc" 0)
stuck=$(job_id_of "$doc" 1)
rc=0
clapper wait --max-wait-s 60 "$bad" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "wait on a failed job"
# The only worker failed it 3 times: no worker can run it any more.
rc=0
clapper wait --max-wait-s 60 "$stuck" >/dev/null 2>"$T/e" || rc=$?
assert_eq "$rc" 3 "wait on a stranded job ($(cat "$T/e"))"
clapper cancel "$stuck" >/dev/null
rc=0
clapper wait "$stuck" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "wait on a canceled job"
rc=0
clapper wait --max-wait-s 1 "$long" >/dev/null 2>"$T/e" || rc=$?
assert_eq "$rc" 124 "wait timed out"
assert_eq "$(cat "$T/e")" "clapper: jobs still unfinished after 1 s" "the timeout's message"
clapper wait --json --max-wait-s 1 "$long" >"$T/o" 2>/dev/null && fail "wait --json timed out with 0"
assert_eq "$(jq -r .error.code "$T/o")" timeout "wait --json: the timeout's code"
assert_contains "$(clapper wait --help)" "124 if --max-wait-s ran out" "wait --help documents 124"
cat >"$T/eta.json" <<'JSON'
{"project": "p", "episode": "e",
 "jobs": [{"name": "steps", "frames": "1-8", "chunk": 1, "command": ["sleep", "0.5"],
           "requires": {"cpus": 1}}]}
JSON
steps=$(submit "$T/eta.json")
script -qec "clapper wait --max-wait-s 60 $steps" /dev/null >"$T/eta.out" 2>&1 ||
  fail "wait on the steps failed: $(cat "$T/eta.out")"
grep -q "ETA ~[0-9]" "$T/eta.out" || fail "no ETA on the terminal: $(tr '\r' '\n' <"$T/eta.out" | tail -5)"
clapper wait "$steps" 2>&1 | grep -q ETA && fail "an ETA in a pipe"

# --- the user's settings file ----------------------------------------------
xdg="$T/xdg"
mkdir -p "$xdg/clapper"
printf 'coordinator = tcp://127.0.0.1:1\ntimeout-ms = 700\n' >"$xdg/clapper/config"
rc=0
env -u CLAPPER_COORDINATOR XDG_CONFIG_HOME="$xdg" clapper jobs >/dev/null 2>"$T/e" || rc=$?
assert_eq "$rc" 1 "the user's file names a dead coordinator"
assert_contains "$(cat "$T/e")" "127.0.0.1:1" "the endpoint from the user's file"
XDG_CONFIG_HOME="$xdg" clapper jobs >/dev/null || fail "the environment does not beat the user's file"
env -u CLAPPER_COORDINATOR XDG_CONFIG_HOME="$xdg" clapper jobs --coordinator "$CLAPPER_COORDINATOR" \
  >/dev/null || fail "the command line does not beat the user's file"
printf 'coordinator = %s\n' "$CLAPPER_COORDINATOR" >"$T/explicit.conf"
env -u CLAPPER_COORDINATOR XDG_CONFIG_HOME="$xdg" clapper jobs --config "$T/explicit.conf" \
  >/dev/null || fail "--config does not beat the user's file"
mkdir -p "$T/home/.config/clapper"
printf 'coordinator = %s\nkey = ~/Bob.key\n' "$CLAPPER_COORDINATOR" >"$T/home/.config/clapper/config"
cp "$keys/Bob.key" "$keys/coordinator.pub" "$T/home/"
assert_eq "$(env -u CLAPPER_COORDINATOR -u CLAPPER_KEY -u XDG_CONFIG_HOME HOME="$T/home" \
  clapper whoami)" "Bob (submitter)" "~/.config/clapper/config: coordinator and key"
printf 'limit = 5\n' >"$xdg/clapper/config"
XDG_CONFIG_HOME="$xdg" clapper jobs 2>"$T/e" && fail "a verb option in the user's file accepted"
assert_contains "$(cat "$T/e")" "$xdg/clapper/config:1: unknown setting 'limit'" "the file's refusal"

# --- capitals through takes and cost ---------------------------------------
cat >"$T/caps.json" <<'JSON'
{"project": "HOD", "episode": "E1",
 "jobs": [{"name": "Plate", "shot": "SH010", "kind": "render", "command": ["true"]}]}
JSON
caps=$(submit "$T/caps.json")
clapper wait --max-wait-s 60 "$caps" >/dev/null 2>&1 || fail "the HOD/E1 SH010 job failed"
assert_eq "$(clapper jobs --all --json --episode HOD/E1 | jq -r ".jobs[] | select(.job_id == $caps) | .shot")" \
  SH010 "jobs shows SH010"
assert_eq "$(clapper takes --episode HOD/E1 --shot SH010 --json | jq -r '[.takes[].shot] | unique | .[]')" \
  SH010 "takes shows SH010"
assert_contains "$(clapper cost --episode HOD/E1)" "SH010" "cost shows SH010"
assert_eq "$(sql "SELECT name FROM shots WHERE name = 'SH010'")" SH010 "the database keeps SH010"

# --- completion and man page: every verb and option, installed -------------
share="$CLAPPER_BIN_DIR/share"
verbs=$(clapper --help | sed -n '/^verbs:/,/^$/p' | awk 'NF && !/^verbs:/ {print $1}')
[ "$(wc -l <<<"$verbs")" -ge 20 ] || fail "clapper --help lists too few verbs: $verbs"
bash -n "$share/clapper.bash" || fail "the bash completion does not parse"
man -l "$share/clapper.1" >"$T/man.txt" 2>"$T/man.err" || fail "man -l: $(cat "$T/man.err")"
[ -s "$T/man.err" ] && fail "man -l warns: $(cat "$T/man.err")"
for v in $verbs; do
  grep -q "^    $v) opts=" "$share/clapper.bash" || fail "bash completion lacks the verb $v"
  grep -q "^    '$v:" "$share/_clapper" || fail "zsh completion lacks the verb $v"
  grep -q "^    $v)$" "$share/_clapper" || fail "zsh completion has no case for $v"
  grep -q "^   $v\$" "$T/man.txt" || fail "the man page has no section for $v"
  # Every option of the verb's --help.
  for o in $(clapper "$v" --help | grep -oE '^  (-[a-z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
    [ "$o" = --help ] && continue
    sed -n "/^    $v) opts=/p" "$share/clapper.bash" | grep -q -- " $o " ||
      sed -n "/^    $v) opts=/p" "$share/clapper.bash" | grep -q -- " $o\"" ||
      fail "bash completion of $v lacks $o"
    sed -n "/^    $v)$/,/;;/p" "$share/_clapper" | grep -q -- "'$o[=[]" ||
      fail "zsh completion of $v lacks $o"
    grep -q -- "$o" "$T/man.txt" || fail "the man page lacks $o"
  done
done
# The completion works: bash offers the verbs and a verb's options.
got=$(bash -c ". '$share/clapper.bash'; COMP_WORDS=(clapper jo); COMP_CWORD=1; _clapper; echo \"\${COMPREPLY[*]}\"")
assert_eq "$got" "jobs job" "bash completes verbs"
got=$(bash -c ". '$share/clapper.bash'; COMP_WORDS=(clapper jobs --st); COMP_CWORD=2; _clapper; echo \"\${COMPREPLY[*]}\"")
assert_eq "$got" "--state" "bash completes a verb's option"
got=$(bash -c ". '$share/clapper.bash'; COMP_WORDS=(clapper jobs --state ru); COMP_CWORD=3; _clapper; echo \"\${COMPREPLY[*]}\"")
assert_eq "$got" "running" "bash completes job states"
if command -v zsh >/dev/null; then
  zsh -n "$share/_clapper" || fail "the zsh completion does not parse"
fi

# cmake --install puts everything under the prefix; make install passes
# PREFIX (~ expanded) to the build and to the install.
cmake --install "$CLAPPER_BIN_DIR" --prefix "$T/prefix" >"$T/install.out" 2>&1 ||
  fail "cmake --install: $(tail -5 "$T/install.out")"
for f in bin/clapper bin/clapper-coordinator bin/clapper-worker share/bash-completion/completions/clapper \
  share/zsh/site-functions/_clapper share/man/man1/clapper.1 share/clapper/sql/015_ident_case.sql; do
  [ -f "$T/prefix/$f" ] || fail "cmake --install did not install $f"
done
"$T/prefix/bin/clapper" --version >/dev/null || fail "the installed clapper does not run"
MANPATH="$T/prefix/share/man" man -w clapper >/dev/null 2>&1 || fail "man does not find the installed page"
dry=$(make -n -C "$CLAPPER_SOURCE_DIR" install PREFIX="~/.clapper-prefix" BUILD="$T/b")
assert_contains "$dry" "-DCMAKE_INSTALL_PREFIX=$HOME/.clapper-prefix" "make install configures PREFIX"
assert_contains "$dry" "cmake --install $T/b/release --prefix $HOME/.clapper-prefix" "make install installs to PREFIX"

# The coordinator kept serving through all of it.
clapper jobs >/dev/null || fail "the coordinator does not answer"
clapper cancel "$long" >/dev/null
log "ok"
