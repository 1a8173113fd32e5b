#!/bin/sh
# demo.sh BUILD_DIR: run the sample episode (deploy/examples/episode.json)
# on a local farm: real ffmpeg takes and real povray frames, then a summary.
# The farm lives in $CLAPPER_DEMO_DIR (default build/demo) and is stopped
# at the end; its outputs stay there.
set -eu
build=$(cd "${1:?usage: deploy/demo.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${CLAPPER_DEMO_DIR:-$here/build/demo}
PATH="$build:$PATH"
export PATH

clapper local down --dir "$dir" >/dev/null 2>&1 || true
rm -rf "$dir/output"
clapper local up --dir "$dir" --workers 2
trap 'clapper local down --dir "$dir" >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
. "$dir/env"

# What an hour costs here, so that the episode's report means something.
clapper rates set --default-gpu-hour 2.50 >/dev/null
clapper rates set --per-cpu-hour 0.05 >/dev/null
clapper budget set demo/s01e01 25 >/dev/null

sed "s#@EXAMPLES@#$here/deploy/examples#g" "$here/deploy/examples/episode.json" >"$dir/episode.json"
echo
echo "== submitting $dir/episode.json"
ids=$(clapper submit --json "$dir/episode.json" | jq -r '.jobs[].job_id' | tr '\n' ' ')
clapper jobs
echo
# The review: a supervisor looks at the generated takes and approves one;
# the gated render (after_approval) then runs on the approved take.
gen=$(echo "$ids" | cut -d' ' -f1)
echo "== waiting for the generated takes of job $gen"
clapper wait "$gen"
echo
echo "== review: the takes, then a supervisor approves the first one"
keys="$dir/review-keys"
if [ ! -f "$keys/sue.key" ]; then
  mkdir -p "$keys"
  cp "$dir/keys/coordinator.pub" "$keys/"
  clapper keygen sue --dir "$keys" >/dev/null
  clapper users add sue --role supervisor --public-key "$keys/sue.pub" >/dev/null
fi
clapper takes --episode demo/s01e01
take=$(clapper takes --json --job "$gen" | jq -r '.takes[0].take_id')
CLAPPER_KEY="$keys/sue.key" clapper approve "$take" --note "the calmest growth"
echo
echo "== waiting for jobs $ids"
# shellcheck disable=SC2086
clapper wait $ids
echo
clapper jobs --all   # finished jobs too (without --all: the unfinished ones)
for id in $ids; do
  echo
  echo "== tasks of job $id"
  clapper tasks "$id"
done
echo
echo "== output files"
find "$dir/output" -type f | sort | while read -r f; do
  printf '%10s  %s\n' "$(stat -c %s "$f")" "$f"
done
echo
echo "== workers"
clapper workers
echo
echo "== cost of the episode (by shot, then by job)"
clapper cost --episode demo/s01e01
echo
clapper cost --episode demo/s01e01 --by job
echo
echo "== sign-off audit of the episode"
clapper audit --episode demo/s01e01
clapper audit --verify
echo
echo "demo finished: outputs in $dir/output; the farm is stopped."
