/*
 * audit.h - the event log's chain: its key, its head, its verification.
 *
 * The coordinator chains every event it writes (store_event, with the hash
 * of common/evchain.h), keyed with the audit key: KEYS/audit.key with
 * --keys, or the file --audit-key names; made on first start (mode 0600)
 * and never stored in the database.  Without either the chain is plain
 * SHA-256 (the coordinator says so at start): it then shows accidental
 * damage, not a rewrite by whoever can write the table.
 *
 * `clapper audit --head` answers the committed head ("N:HEX": the number
 * of events in the chain and the last one's hash) to be kept elsewhere;
 * `clapper audit --verify [--head N:HEX]` walks the whole log on the read pool
 * in pages and checks every hash (keyed ones with the key), every link,
 * the positions (nothing removed or moved), that no unkeyed event follows a
 * keyed one or sits where the key says the log was keyed, and that the
 * given head and the head this coordinator committed are in the log (a
 * dropped tail shows).
 */
#ifndef CLAPPER_AUDIT_H
#define CLAPPER_AUDIT_H

#include <libpq-fe.h>

#include "evchain.h"
#include "model.h"
#include "verbs.h"

/* Start-up, after migrations: loads or makes the audit key, reads the
 * log's head and starts the store's chain there.  0, or -1 with err. */
int audit_start(coord_t *c, PGconn *conn, char *err, size_t errlen) MUSTCHECK;

/* Verb handlers: the committed head; the verification (v->req->name: a
 * head "N:HEX" that must be in the log, or empty). */
void audit_head(coord_t *c, creq_t *r, const verb_call_t *v);
void audit_verify(coord_t *c, creq_t *r, const verb_call_t *v);

/* Parses a head "N:HEX" (HEX: 64 hex digits).  0, or -1. */
int audit_parse_head(const char *text, evchain_head_t *head);

#endif
