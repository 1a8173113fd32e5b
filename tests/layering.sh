#!/bin/bash
# layering.sh OBJECTS - the coordinator's store calls nothing above it.
#
# OBJECTS: the clapper_coord object files (a ;-separated list, as CMake's
# $<TARGET_OBJECTS:...> gives it).  Every function store.c.o uses that a
# coordinator object defines must be pgconn's (the layer below it); a call
# into job, task, attempt, dispatch, review, workers, cost, clients or any
# other module means the store calls up, which store.h rules out: modules
# that act after a commit register with store_on_commit/store_listen.
set -euo pipefail
IFS=';' read -r -a objs <<<"$*"
store=
others=()
for o in "${objs[@]}"; do
  case "$o" in
    */store.c.o) store=$o ;;
    */pgconn.c.o) ;;
    *.o) others+=("$o") ;;
  esac
done
[ -n "$store" ] || { echo "layering: store.c.o not among the objects" >&2; exit 1; }
[ "${#others[@]}" -gt 5 ] || { echo "layering: too few coordinator objects" >&2; exit 1; }
used=$(nm -u "$store" | awk '{print $2}' | sort -u)
defined=$(nm --defined-only "${others[@]}" | awk 'NF == 3 && $2 ~ /^[TDRB]$/ {print $3}' | sort -u)
up=$(comm -12 <(echo "$used") <(echo "$defined"))
if [ -n "$up" ]; then
  echo "layering: store.c calls up into other coordinator modules:" >&2
  echo "$up" >&2
  exit 1
fi
# The check itself must be able to fail: pgconn and a module are both seen.
echo "$used" | grep -q '^pgconn_submit$' || { echo "layering: nm saw no pgconn_submit" >&2; exit 1; }
echo "$defined" | grep -q '^job_set_state$' || { echo "layering: nm saw no job_set_state" >&2; exit 1; }
echo "layering: store.c uses $(echo "$used" | wc -l) symbols, none of another coordinator module"
