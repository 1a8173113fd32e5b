/*
 * evchain.h - the event log's hash chain: how one event's hash is made,
 * and the secret that keys it.
 *
 * Every event row carries prev_hash (the hash of the event before it in
 * the chain, empty for the first) and hash, computed by the coordinator
 * before the row is written (not by the database):
 *
 *   hash = HMAC-SHA-256(audit key, M)   chain 'hmac-sha256'
 *   hash = SHA-256(M)                   chain 'sha256' (no key at hand)
 *   M    = "clapper-event-v1" || u64 seq || i64 at_us || s actor || s kind
 *          || s subject_type || s subject_id || s details || s prev_hash
 *
 * where integers are 8 bytes big-endian, s x is a 4-byte big-endian length
 * and the bytes of x, seq is the event's position in the chain (1, 2, ...),
 * at_us its time in unix microseconds and details its JSON object in the
 * canonical form of evchain_canon_json.  Recomputing a keyed hash needs the
 * audit key, which is kept outside the database (KEYS/audit.key), so the
 * database's owner can change or drop rows but not make the chain agree.
 *
 * Rows written before the coordinator made the chain ('legacy', SQL
 * migration 004) carry SHA-256 over the text
 *   id US at_us US actor US kind US subject_type US subject_id US details
 *   US hex(prev_hash)              (US: the byte 0x1f; details as jsonb text)
 * and are checked the same way, in C; the first row after them chains to
 * the last of them, so a keyed row anchors everything before it.
 */
#ifndef CLAPPER_EVCHAIN_H
#define CLAPPER_EVCHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define EVCHAIN_HASH_BYTES 32
#define EVCHAIN_KEY_BYTES 32

/* The fields of one event as they are hashed. */
typedef struct evchain_event {
  int64_t seq, at_us;
  const char *actor, *kind, *subject_type, *subject_id;
  const char *details; /* canonical JSON text (evchain_canon_json) */
  const uint8_t *prev;
  size_t prevlen; /* 0 for the first event of the log */
} evchain_event_t;

/* The audit key: the secret, and the first position of the chain it keys
 * (events before it were written without it). */
typedef struct evchain_key {
  uint8_t secret[EVCHAIN_KEY_BYTES];
  int64_t from_seq;
} evchain_key_t;

/* A position in the chain: the event at seq (0: before the first) and
 * its hash (len 0 before the first). */
typedef struct evchain_head {
  int64_t seq;
  uint8_t hash[EVCHAIN_HASH_BYTES];
  size_t len;
} evchain_head_t;

/* The canonical text of a JSON document: parsed and written again compact,
 * with sorted keys and non-ASCII characters escaped, so that the text the
 * coordinator hashed and the text PostgreSQL gives back for the jsonb
 * column hash alike.  A text that does not parse is returned as it is.
 * The caller frees the result. */
char *evchain_canon_json(const char *json);

/* hash of e: HMAC-SHA-256 keyed with key, or SHA-256 when key is NULL. */
void evchain_hash(const evchain_key_t *key, const evchain_event_t *e,
                  uint8_t out[EVCHAIN_HASH_BYTES]);

/* hash of a legacy row (see above); details is the jsonb column's text. */
void evchain_legacy_hash(int64_t id, const evchain_event_t *e, uint8_t out[EVCHAIN_HASH_BYTES]);

/* Loads the audit key from path, a file of "name = value" lines (key: 64
 * hex digits; from: a position).  When path does not exist, makes a new
 * random key keying the chain from position next_seq and writes it there
 * first (mode 0600, created exclusively, synced), setting *created.
 * 0, or -1 with a one-line reason in err. */
int evchain_key_load(const char *path, int64_t next_seq, evchain_key_t *key, bool *created,
                     char *err, size_t errlen) MUSTCHECK;

/* Hex of n bytes into out (2n + 1 bytes). */
void evchain_hex(const uint8_t *data, size_t n, char *out);
/* Parses hex text into at most cap bytes; the number of bytes or -1. */
int evchain_unhex(const char *hex, uint8_t *out, size_t cap);

#endif
