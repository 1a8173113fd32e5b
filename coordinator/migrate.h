/*
 * migrate.h - the schema, applied by the coordinator at start.
 *
 * Migrations are the files NNN_name.sql of the SQL directory, applied in
 * order, each once, each in its own transaction together with its row in
 * schema_migrations.  Only the leader runs them (it holds the leader lock).
 */
#ifndef CLAPPER_MIGRATE_H
#define CLAPPER_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "util.h"

/* Applies the pending migrations of dir on conn (synchronously; start-up
 * only).  Returns the number applied, or -1 with a reason in err. */
int migrate_apply(PGconn *conn, const char *dir, char *err, size_t errlen) MUSTCHECK;

/* The SQL directory to use when none was configured: the installed one
 * next to the binary (../share/clapper/sql), the configured install
 * directory, or the source tree.  Caller frees. */
char *migrate_default_dir(void);

#endif
