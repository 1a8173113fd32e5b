#!/usr/bin/env bash
# GPU packing: a worker with 4 GPUs runs four 1-GPU tasks at once, or two
# 2-GPU tasks, never sharing an index (asserted on the environment each task
# saw); gpu_memory_mb and tags keep tasks off workers that do not fit; a
# job no worker could ever run stays queued and says why.
. "$(dirname "$0")/lib.sh"

farm_up 1 --worker-arg=--gpus=none
gpu_inventory "$T/big.json" "NVIDIA H100 80GB HBM3" 81559 4
gpu_inventory "$T/small.json" "NVIDIA A10" 24000 2
start_worker gpu-a --gpu-inventory "$T/big.json" --cpus 8 --tags diffusion
start_worker gpu-b --gpu-inventory "$T/small.json" --cpus 8

w=$(clapper workers --json)
assert_eq "$(jq -r '.workers[] | select(.name == "gpu-a") | [.gpus[].model] | unique | .[0]' <<<"$w")" \
  "NVIDIA H100 80GB HBM3" "GPU model reported by gpu-a"
assert_eq "$(jq -r '.workers[] | select(.name == "gpu-a") | .gpus | length' <<<"$w")" 4 "GPUs of gpu-a"

# Each task writes one line: task id, the GPUs it saw (CUDA and NVIDIA
# variables), its start and end, its attempt.
cat >"$T/rec.sh" <<'SH'
s=$(date +%s.%N); sleep 2; e=$(date +%s.%N)
echo "$1 ${CUDA_VISIBLE_DEVICES:--} ${NVIDIA_VISIBLE_DEVICES:--} $s $e $CLAPPER_ATTEMPT_ID" >>"$2"
SH

job() { # name frames requires-json
  cat >"$T/$1.json" <<JSON
{"project": "gpu", "episode": "e1",
 "jobs": [{"name": "$1", "frames": "$2", "requires": $3,
           "command": ["sh", "$T/rec.sh", "{task_id}", "$T/$1.log"]}]}
JSON
  submit "$T/$1.json"
}

# check_packing LOG GPUS_PER_TASK MAX_CONCURRENT
check_packing() {
  awk -v per="$2" -v max="$3" '
    { id[NR] = $1; cuda[NR] = $2; nv[NR] = $3; s[NR] = $4; e[NR] = $5 }
    END {
      for (i = 1; i <= NR; i++) {
        if (cuda[i] != nv[i]) { print "task " id[i] ": CUDA " cuda[i] " but NVIDIA " nv[i]; bad = 1 }
        n = split(cuda[i], g, ",")
        if (n != per) { print "task " id[i] " saw " n " GPUs: " cuda[i]; bad = 1 }
        conc = 0 # tasks running when task i started (the most at once is at a start)
        for (j = 1; j <= NR; j++) {
          if (s[j] <= s[i] && s[i] < e[j])
            conc++
          if (j != i && s[j] < e[i] && s[i] < e[j]) {
            split(cuda[j], h, ",")
            for (a in g) for (b in h) if (g[a] == h[b]) {
              print "tasks " id[i] " and " id[j] " overlapped on GPU " g[a]; bad = 1 }
          }
        }
        if (conc > max) { print "task " id[i] " started with " conc " tasks running"; bad = 1 }
        if (conc > most) most = conc
      }
      if (most < max) { print "never more than " most " at once (expected " max ")"; bad = 1 }
      exit bad
    }' "$1" || fail "GPU packing in $1"
}

one=$(job one-gpu 1-8 '{"gpus": 1, "gpu_memory_mb": 40000}')
clapper wait "$one" >/dev/null 2>&1 || fail "one-gpu job failed"
check_packing "$T/one-gpu.log" 1 4
assert_eq "$(sql "SELECT DISTINCT a.worker FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $one")" \
  gpu-a "gpu_memory_mb 40000 keeps tasks on the 80 GB worker"

two=$(job two-gpu 1-4 '{"gpus": 2, "tags": ["diffusion"]}')
clapper wait "$two" >/dev/null 2>&1 || fail "two-gpu job failed"
check_packing "$T/two-gpu.log" 2 2
assert_eq "$(sql "SELECT DISTINCT a.worker FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = $two")" \
  gpu-a "the diffusion tag keeps tasks on gpu-a"
# The GPUs recorded for each attempt are the ones its task saw.
while read -r _ cuda _ _ _ attempt; do
  assert_eq "$(sql "SELECT array_to_string(gpus, ',') FROM attempts WHERE id = $attempt")" "$cuda" \
    "GPUs recorded for attempt $attempt"
done <"$T/two-gpu.log"

# CPU-only tasks on a GPU worker see no GPU at all.
cat >"$T/cpu.json" <<JSON
{"project": "gpu", "episode": "e1",
 "jobs": [{"name": "cpu", "frames": "1-4", "requires": {"cpus": 1, "tags": ["diffusion"]},
           "command": ["sh", "-c", "echo \"[\$CUDA_VISIBLE_DEVICES]\" >> $T/cpu.log"]}]}
JSON
cpu=$(submit "$T/cpu.json")
clapper wait "$cpu" >/dev/null 2>&1 || fail "cpu job failed"
assert_eq "$(sort -u "$T/cpu.log")" "[]" "CUDA_VISIBLE_DEVICES of a task without GPUs"

# Nobody has 8 GPUs: the job stays queued and says why.
never=$(job never 1-1 '{"gpus": 8}')
sleep 1
json=$(clapper job "$never" --json)
assert_eq "$(jq -r .state <<<"$json")" queued "state of a job no worker can run"
assert_contains "$(jq -r .reason <<<"$json")" "no connected worker has" "reason of a job no worker can run"
assert_contains "$(clapper job "$never")" "8 GPUs" "clapper job explains"
clapper wait --max-wait-s 2 "$never" >/dev/null 2>"$T/wait.err" && fail "waiting for it succeeded"
assert_contains "$(cat "$T/wait.err")" "job $never waits: no connected worker has" "clapper wait explains"
clapper cancel "$never" >/dev/null || fail "cancel failed"
log "ok"
