#!/bin/sh
# bench/run.sh BUILD_DIR [N [clapper-bench options]]: clapper-bench against a fresh private
# PostgreSQL (fsync and synchronous_commit on, as in production).
set -eu
build=${1:?usage: bench/run.sh BUILD_DIR [N]}
n=${2:-100000}
shift $(( $# < 2 ? $# : 2 ))
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/clapper-bench.XXXXXX)
chmod 755 "$dir"
trap '"$here/tests/lib/pgtmp.sh" stop "$dir"; rm -rf "$dir"' EXIT
db=$("$here/tests/lib/pgtmp.sh" start "$dir")
"$build/clapper-bench" --db "$db" --tasks "$n" --workdir "$dir/bench" "$@"
