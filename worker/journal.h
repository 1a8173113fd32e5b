/*
 * journal.h - the worker's durable record of results until the coordinator
 * acknowledges them.
 *
 * A result is appended and fsync'd before it is sent; it stays "pending"
 * until a ResultAck names its attempt.  Pending results survive restarts
 * and are offered again in the next Hello.
 *
 * File format (<workdir>/journal): a sequence of records, little-endian,
 *   u32 length   number of payload bytes (the type byte is not counted)
 *   u32 crc32    zlib crc32 over the type byte followed by the payload
 *   u8  type     JOURNAL_RESULT: payload is a packed clapper.Result
 *                JOURNAL_ACK:    payload is the u64 attempt id
 * Replay stops at the first record that is short, too long, fails its CRC,
 * has an unknown type or does not unpack; that tail (a torn write or
 * corruption) is dropped.  Opening always rewrites the file compacted (only
 * the pending results, via a temporary file, fsync, rename and a directory
 * fsync); the file is compacted again when it grows past 1 MiB and is more
 * than half dead records.
 */
#ifndef CLAPPER_WORKER_JOURNAL_H
#define CLAPPER_WORKER_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clapper.pb-c.h"
#include "util.h"

enum { JOURNAL_RESULT = 1, JOURNAL_ACK = 2 };

#define JOURNAL_HEADER 9u                      /* length + crc + type */
#define JOURNAL_MAX_RECORD ((size_t)16 << 20)  /* one packed Result */
#define JOURNAL_COMPACT_AT ((uint64_t)1 << 20) /* 1 MiB */

typedef struct journal journal_t;

/* Opens (creating) the journal at path, replays it and compacts it.
 * Returns 0 with *out set (release with journal_close), or -1 with a
 * one-line reason in err and errno set. */
int journal_open(const char *path, journal_t **out, char *err, size_t errlen) MUSTCHECK;

/* Syncs outstanding ACK records, closes the file, frees every pending
 * result and the journal, and sets *j to NULL. */
void journal_close(journal_t **j);

/* Appends a RESULT record for each of results[0..n) with one write and one
 * fsync, then adds them to the pending set.  Takes ownership of every
 * result (protobuf-c allocated: free discipline clapper__result__free_unpacked)
 * in all cases.  A result whose attempt is already pending replaces nothing
 * and is freed.  Returns 0, or -1 with errno set when the records could not
 * be made durable (they are still pending in memory and the file is cut
 * back to its previous length). */
int journal_append(journal_t *j, Clapper__Result **results, size_t n) MUSTCHECK;

/* Records acknowledgements: each id that is pending gets an ACK record and
 * leaves the pending set (its result is freed).  ACK records are written
 * but not fsync'd (see journal_sync): losing one only causes a harmless
 * retransmission.  Returns the number of results removed, or -1 with errno
 * set on a write error (the results are removed from memory regardless). */
int journal_ack(journal_t *j, const uint64_t *ids, size_t n);

/* fsyncs ACK records written since the last sync.  0 or -1 with errno. */
int journal_sync(journal_t *j) MUSTCHECK;

/* Rewrites the file with only the pending results (tmp, fsync, rename,
 * directory fsync).  0, or -1 with errno set and the old file still in use. */
int journal_compact(journal_t *j) MUSTCHECK;

/* The pending results, oldest first.  Borrowed: valid until the next
 * journal_append, journal_ack or journal_close. */
Clapper__Result *const *journal_pending(const journal_t *j, size_t *n);
size_t journal_pending_count(const journal_t *j);

/* True when attempt_id is pending, or was acknowledged recently (the last
 * few thousand acknowledgements are remembered in memory). */
bool journal_known(const journal_t *j, uint64_t attempt_id);

/* Current length of the journal file in bytes. */
uint64_t journal_file_size(const journal_t *j);

#endif
