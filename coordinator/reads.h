/*
 * reads.h - the read side's connections, shared fairly among clients.
 *
 * Client questions are answered from PostgreSQL on a small pool of
 * connections of their own (--read-connections, default 4), separate from
 * the writer: a read never waits behind a batch of state changes, and a
 * batch never waits behind a read.  Three limits keep one client from
 * stalling the others:
 *
 *  - a client (a registered key; without keys, one connection) has at most
 *    --client-requests requests unanswered at a time (default 8); more are
 *    refused at once with "busy: ...", whatever the verb;
 *  - reads waiting for a connection are taken round robin across clients,
 *    and one client holds at most all but one of the connections, so
 *    another client's read starts within one read's deadline at worst;
 *  - every read runs under a deadline: the shorter of --read-timeout-ms
 *    (default 10 s) and the wait the client said it would give the reply
 *    (Request.timeout_ms, `clapper --timeout-ms`), less the time it queued.
 *    PostgreSQL cancels the statement past it (statement_timeout), the
 *    client is answered with code "timeout", and the connection serves the
 *    next read.  A client that stopped waiting has gone away as far as the
 *    coordinator can tell over ZeroMQ, so its read does not outlive it.
 *
 * Ownership: the pool and its client records are the coordinator's
 * (c->reads).  A pgq handed to reads_submit is the pool's; its callback
 * runs exactly once (also for a read whose deadline passed before it
 * started, with an error for which reads_canceled is true).
 */
#ifndef CLAPPER_READS_H
#define CLAPPER_READS_H

#include <stdbool.h>
#include <stddef.h>

#include "clients.h"
#include "model.h"
#include "pgconn.h"

/* Limits of the read side (coordinator/main.c fills them from its
 * settings). */
typedef struct reads_limits {
  int connections;      /* read connections, >= 1 */
  int client_requests;  /* unanswered requests per client, >= 1 */
  long long timeout_ms; /* a read's deadline, >= 1 */
} reads_limits_t;

/* Opens the pool's connections (synchronously: start-up only) as
 * c->reads.  Returns 0, or -1 with a reason in err. */
int reads_open(coord_t *c, uv_loop_t *loop, const char *conninfo, const reads_limits_t *lim,
               pgconn_fatal_cb fatal, char *err, size_t errlen) MUSTCHECK;

/* Starts the connections (pgconn_start).  0, or -1 (logged). */
int reads_start(coord_t *c) MUSTCHECK;

/* Closes the connections and frees the pool; reads still queued or
 * running are dropped without their callbacks (call once reads_idle, or
 * when giving up).  Safe when reads_open failed or never ran. */
void reads_close(coord_t *c);

/* True when no read is queued or running. */
bool reads_idle(const coord_t *c);

/* Counts request r against its client (user: the name its key is
 * registered under, "" without keys: then the client is its connection,
 * r->ident).  Returns true, or false with a one-line refusal in err when
 * the client has its limit of unanswered requests; r is then not counted
 * and the caller replies.  Without a pool (c->reads NULL) admits all. */
bool reads_admit(coord_t *c, creq_t *r, const char *user, char *err, size_t errlen);

/* r is answered: uncounts it (nothing when it was never admitted).
 * Called by the reply functions of clients.c. */
void reads_release(coord_t *c, const creq_t *r);

/* Runs q (takes ownership) for request r on a read connection when its
 * client's turn comes, under r's deadline, and then cb(arg, ...). */
void reads_submit(coord_t *c, const creq_t *r, pgq_t *q, pgconn_cb cb, void *arg);

/* True when error (a pgconn_cb error) says that the read ran past its
 * deadline and was canceled; the error is then the one-line message for
 * the client. */
bool reads_canceled(const char *error);

#endif
