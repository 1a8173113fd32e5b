/*
 * pgconn.h - asynchronous PostgreSQL on the libuv loop.
 *
 * A pgconn is one libpq connection in non-blocking pipeline mode, watched
 * with a uv_poll on PQsocket.  Work is submitted as a pgq: a list of
 * parameterised statements sent back to back and closed by one Sync, so
 * they run as one implicit transaction that commits at the Sync.  The
 * completion callback runs once the Sync was answered: for a writing pgq
 * that means "durable".  pgqs on one connection run one after another, in
 * submission order.  Nothing here blocks after pgconn_open returns.
 */
#ifndef CLAPPER_PGCONN_H
#define CLAPPER_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "util.h"

typedef struct pgconn pgconn_t;
typedef struct pgq pgq_t;

/* Called when a pgq finished.  On success error is NULL and results[i] is
 * the result of statement i (owned by the pgq, valid during the call).  On
 * failure error holds the first error message and the transaction was
 * rolled back. */
typedef void (*pgconn_cb)(void *arg, PGresult *const *results, size_t n, const char *error);

/* Called when the connection itself broke; the owner decides what to do
 * (the coordinator exits and is restarted: crash-only). */
typedef void (*pgconn_fatal_cb)(void *arg, const char *error);

/* Connects synchronously (start-up only) and switches to non-blocking
 * pipeline mode.  Returns the connection or NULL with a reason in err. */
pgconn_t *pgconn_open(uv_loop_t *loop, const char *conninfo, const char *name,
                      pgconn_fatal_cb fatal, void *fatal_arg, char *err, size_t errlen);

/* The underlying connection, for synchronous use before the first
 * pgconn_submit (start-up: migrations, recovery). */
PGconn *pgconn_raw(pgconn_t *c);

/* Start-up only, on pgconn_raw(): runs sql, which returns rows, and
 * returns its result (caller PQclears it), or NULL with "WHAT: the
 * server's message" in err as one line. */
PGresult *pgconn_query_sync(PGconn *conn, const char *sql, const char *what, char *err,
                            size_t errlen) MUSTCHECK;

/* Switches to asynchronous mode and starts watching the socket.  Call
 * once, after start-up work on pgconn_raw() is done. */
int pgconn_start(pgconn_t *c);

/* A new, empty statement list; the caller owns it until pgconn_submit. */
pgq_t *pgq_new(void);
/* Appends a statement.  sql must outlive the pgq (a string literal); the
 * pgq takes ownership of params[0..nparams) (malloc'd, NULL = SQL NULL)
 * but not of the params array itself.  The parameters stay valid until
 * the pgq's callback returned (the store copies a failed batch's then). */
void pgq_add(pgq_t *q, const char *sql, int nparams, char **params);
/* Number of statements so far. */
size_t pgq_len(const pgq_t *q);
/* Like pgq_add, for a statement run often: it is prepared under `name` (a
 * string literal, unique per SQL text) the first time the connection
 * sees it and only executed afterwards. */
void pgq_add_prepared(pgq_t *q, const char *name, const char *sql, int nparams,
                      char **params);
void pgq_free(pgq_t **q);

/* Queues q (takes ownership) and runs it after those queued before. */
void pgconn_submit(pgconn_t *c, pgq_t *q, pgconn_cb cb, void *arg);

/* True when nothing is queued or in flight. */
bool pgconn_idle(const pgconn_t *c);

/* During a pgq's callback: the SQLSTATE of its error ("57014" for a
 * statement canceled by statement_timeout), "" when none. */
const char *pgconn_sqlstate(const pgconn_t *c);

/* Closes the connection once libuv released the poll handle; queued pgqs
 * are dropped without callbacks.  Sets *c to NULL. */
void pgconn_close(pgconn_t **c);

#endif
