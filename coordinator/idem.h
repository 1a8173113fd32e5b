/*
 * idem.h - idempotent submit: the keyed submissions in progress.
 *
 * A submission may carry an idempotency key (Request.idempotency_key;
 * `clapper submit` always sends one).  The key is scoped to the submitter
 * (the name its key is registered under) and is written, with the digest
 * of the job file and the job's position in the submission, on the row of
 * every job the submission creates (sql/010_idempotency.sql): in the same
 * transaction as the jobs, so the database knows a key exactly when it
 * knows the jobs.  A retry with the same key and the same file is answered
 * with the jobs already created; with another file it is refused.
 *
 * The database alone cannot answer a retry that arrives while the first
 * submission is still being looked up or written, so the coordinator keeps
 * one record per (submitter, key) from the moment a keyed submission
 * arrives until its outcome is final: found in the database, committed, or
 * refused.  Requests with the same key that arrive meanwhile wait on the
 * record and get the first one's answer.  A request that finds no record
 * looks the key up through the read pool; that lookup cannot miss a
 * commit, because every submission with that key either committed before
 * the record was dropped (and the lookup starts after) or is the record's.
 *
 * The records hang off c->idem; each holds the requests waiting on it
 * (creq_t, released when answered).
 */
#ifndef CLAPPER_COORDINATOR_IDEM_H
#define CLAPPER_COORDINATOR_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct creq;

#define IDEM_DIGEST_HEX 64 /* BLAKE2b-256, in hex */

typedef struct idem_rec {
  struct idem_rec *next; /* on c->idem */
  char *actor, *key;     /* owned */
  char digest[IDEM_DIGEST_HEX + 1];
  struct creq **waiters; /* the first submission's request first */
  size_t nwaiters, capwaiters;
} idem_rec_t;

/* The digest of a job file: BLAKE2b-256 of its bytes, in lower-case hex,
 * into out (IDEM_DIGEST_HEX + 1 bytes). */
void idem_digest(const uint8_t *body, size_t len, char out[IDEM_DIGEST_HEX + 1]);

/* The record of (actor, key), or NULL. */
idem_rec_t *idem_find(coord_t *c, const char *actor, const char *key);

/* A new record of (actor, key) for a submission with digest, with r (the
 * submission's request) as its first waiter.  The caller checked that
 * none exists. */
idem_rec_t *idem_add(coord_t *c, const char *actor, const char *key, const char *digest,
                     struct creq *r);

/* Adds r to the requests waiting for rec's outcome. */
void idem_wait(idem_rec_t *rec, struct creq *r);

/* The outcome of rec: replies json (ok) or code and message (refused) to
 * every request waiting on it, unlinks rec from c->idem and frees it. */
void idem_finish(coord_t *c, idem_rec_t *rec, const char *json, const char *code,
                 const char *message);

/* The refusal of a key used before for another file, into err: "the
 * idempotency key 'K' was already used by NAME for another submission
 * (JOBS): ...".  jobs may be NULL (that submission is in progress). */
void idem_conflict(char *err, size_t errlen, const char *actor, const char *key, const char *jobs);

/* Frees every record and the requests waiting on them (shutdown). */
void idem_free_all(coord_t *c);

#endif
