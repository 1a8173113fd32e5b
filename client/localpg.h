/*
 * localpg.h - the private PostgreSQL of a `clapper local` farm.
 *
 * The cluster (farm.h decides where) listens on a unix socket only
 * (listen_addresses = ''), trusts local connections, has a database and a
 * superuser both named "clapper", and runs with jit = off.  As root every
 * PostgreSQL program runs as nobody, since PostgreSQL refuses root.  The
 * server's output goes to DIR/logs/postgresql.log.
 */
#ifndef CLAPPER_CLIENT_LOCALPG_H
#define CLAPPER_CLIENT_LOCALPG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "farm.h"

/* The directory of the PostgreSQL server programs: $CLAPPER_PG_BINDIR, the
 * highest version in /usr/lib/postgresql/N/bin, or that of pg_ctl in
 * $PATH.  Returns it (caller frees) or NULL with err. */
char *localpg_bindir(char *err, size_t errlen);

/* True when the cluster was initialised (PGDATA/PG_VERSION exists). */
bool localpg_exists(const farm_t *f);

/* Runs initdb and appends the farm's settings to postgresql.conf.
 * Returns 0 or -1 with err (initdb's output is in the log). */
int localpg_init(const farm_t *f, const char *bindir, char *err, size_t errlen) MUSTCHECK;

/* Starts the server and waits (pg_ctl -w, at most 60 s) until it accepts
 * connections; 0 or -1 with err. */
int localpg_start(const farm_t *f, const char *bindir, char *err, size_t errlen) MUSTCHECK;

/* Creates the database "clapper" unless it exists; 0 or -1 with err. */
int localpg_createdb(const farm_t *f, const char *bindir, char *err, size_t errlen) MUSTCHECK;

/* Returns the postmaster's pid when it runs on this farm's cluster, else 0. */
pid_t localpg_pid(const farm_t *f);

/* Stops the server (pg_ctl stop -m fast) when it runs; 0 or -1 with err. */
int localpg_stop(const farm_t *f, const char *bindir, char *err, size_t errlen) MUSTCHECK;

/* The server's log, DIR/logs/postgresql.log (caller frees). */
char *localpg_logfile(const farm_t *f);

#endif
