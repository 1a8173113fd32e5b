/*
 * workers.h - the worker side of the coordinator: registry, protocol,
 * leases and outboxes.
 *
 * Workers are identified by name; their current ZeroMQ routing id maps to
 * them.  A Hello (first contact or reconnection) is reconciled with what
 * the coordinator believes the worker runs: results it holds are recorded,
 * live attempts it does not know are lost, attempts it runs that are no
 * longer live are canceled.  A worker silent for longer than the lease is
 * lost and its attempts are requeued.
 *
 * Everything the coordinator tells a worker (Welcome, Assign, Cancel,
 * ResultAck) waits in the worker's outbox until the batch holding the
 * decision committed; a store listener then sends it, grouped into one
 * message per kind.
 */
#ifndef CLAPPER_WORKERS_H
#define CLAPPER_WORKERS_H

#include <stdint.h>

#include "model.h"

/* Handles one message from a worker connection (env stays the caller's);
 * user is the CURVE public key (Z85) the connection authenticated ("" without
 * keys), checked against the registry on every message. */
void workers_on_message(coord_t *c, const uint8_t *ident, size_t identlen, const char *user,
                        envelope_t *env);

/* Registers with the store (coord_init): after every commit, the outbox
 * items that waited for it are sent. */
void workers_init(coord_t *c);

/* The key of worker name was removed from the registry: the worker is
 * lost now (its attempts are lost, retried by the usual rules) and gets no
 * more work; its connection is refused from its next message on. */
void workers_revoke(coord_t *c, const char *name, const char *why);

/* Queues an item for w, to be sent once the accumulating batch committed. */
void workers_queue(coord_t *c, worker_t *w, out_kind_t kind, uint64_t id);

/* a runs on w: w lists it and a holds its cpus, memory and GPUs there
 * (sets a->worker).  The one place resources are taken. */
void workers_attach(worker_t *w, attempt_t *a);

/* a ended: it leaves w's list and gives its resources back (a->worker
 * stays, for the records).  The one place resources are given back. */
void workers_detach(worker_t *w, attempt_t *a);

/* Declares lost the workers whose lease expired and the attempts that were
 * never started in time.  Called from a timer. */
void workers_check_leases(coord_t *c);

/* The worker named name, or NULL. */
worker_t *workers_find(coord_t *c, const char *name);

/* Adds a worker in state offline (from the database at start-up). */
worker_t *workers_add(coord_t *c, const char *name);

/* Moves w to `to`, logging an event and marking it dirty. */
void worker_set_state(coord_t *c, worker_t *w, worker_state_t to, const char *reason);

/* An operator drains (on) or undrains w: a drained worker finishes what
 * it runs and gets nothing new, also after it reconnects. */
void workers_drain(coord_t *c, worker_t *w, bool on, const char *actor);

/* {"workers": [...], "more", "next_after"} as the CLI's --json shows it:
 * a page of at most limit workers whose names sort after `after` (NULL:
 * from the first), in name order (query_name_page; caller frees). */
char *workers_json(coord_t *c, unsigned limit, const char *after);

/* One worker as an entry of workers_json (caller frees). */
char *workers_one_json(coord_t *c, worker_t *w);

/* Releases every worker. */
void workers_free_all(coord_t *c);

#endif
