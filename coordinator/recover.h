/*
 * recover.h - rebuilding the coordinator's memory from PostgreSQL at start.
 *
 * Loads the id counters, the known workers (offline until they say hello),
 * every unfinished or failed job with its tasks, and the live attempts
 * with the resources they hold.  Only the tasks that did not succeed are
 * read (an index of them, 011): the others are marked succeeded when the
 * job's row counts as many, so the time it takes follows the work still
 * to do, not the history.  It logs how many task rows it read and how
 * long it took.  Ready tasks go back to the ready index; live
 * attempts wait for their worker to reconnect and report them (or are
 * declared lost when it does not, see workers.c).
 */
#ifndef CLAPPER_RECOVER_H
#define CLAPPER_RECOVER_H

#include <libpq-fe.h>

#include "model.h"

/* Synchronous, start-up only.  Returns 0 or -1 with a reason in err. */
int recover_load(coord_t *c, PGconn *conn, char *err, size_t errlen) MUSTCHECK;

#endif
