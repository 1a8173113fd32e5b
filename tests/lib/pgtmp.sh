#!/usr/bin/env bash
# pgtmp.sh - a private, throw-away PostgreSQL for tests and benchmarks.
#
#   tests/lib/pgtmp.sh start DIR   initdb DIR/pg, start it on a unix socket in
#                                  DIR/sock, create database "clapper", print
#                                  the conninfo on stdout
#   tests/lib/pgtmp.sh stop DIR    stop it
#
# PostgreSQL refuses to run as root; as root the cluster belongs to "nobody".
set -euo pipefail

cmd=${1:?usage: pgtmp.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: pgtmp.sh start|stop DIR}")
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -x "$bindir/initdb" ] || { echo "pgtmp: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
start)
  mkdir -p "$dir/pg" "$dir/sock" "$dir/log"
  if [ "$(id -u)" = 0 ]; then chown nobody:nogroup "$dir/pg" "$dir/sock" "$dir/log"; fi
  as_pg "$bindir/initdb" -D "$dir/pg" -U clapper -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  cat >>"$dir/pg/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir/sock'
fsync = on
synchronous_commit = on
jit = off
max_connections = 50
shared_buffers = 128MB
CONF
  as_pg "$bindir/pg_ctl" -D "$dir/pg" -l "$dir/log/postgresql.log" -w -t 60 start >/dev/null \
    || { cat "$dir/log/postgresql.log" >&2; exit 1; }
  "$bindir/createdb" -h "$dir/sock" -U clapper clapper
  echo "host=$dir/sock user=clapper dbname=clapper"
  ;;
stop)
  [ -d "$dir/pg" ] && as_pg "$bindir/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true
  ;;
*)
  echo "usage: pgtmp.sh start|stop DIR" >&2; exit 2 ;;
esac
