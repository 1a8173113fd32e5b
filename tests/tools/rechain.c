/*
 * rechain.c - the attacker of the event log's chain, for the integration
 * tests: the database's owner who changed rows and now makes the chain
 * agree again, knowing the format (common/evchain.h) but not the secret.
 *
 *   rechain CONNINFO sha256            every chained row becomes plain
 *                                      SHA-256 (chain 'sha256'), recomputed
 *   rechain CONNINFO hmac KEYFILE      every chained row is HMAC'd again
 *                                      with the key in KEYFILE (a guess, or
 *                                      the real one: then nothing shows)
 *
 * Rows are recomputed in position order from the first chained row on,
 * each linked to the one before (the first to its stored prev_hash), with
 * the append-only trigger disabled for the while, as only the owner can.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evchain.h"

static PGresult *run(PGconn *db, const char *sql, int n, const char *const *p) {
  PGresult *r = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    fprintf(stderr, "rechain: %s: %s", sql, PQresultErrorMessage(r));
    exit(1);
  }
  return r;
}

int main(int argc, char **argv) {
  bool keyed = argc == 4 && !strcmp(argv[2], "hmac");
  if (!(argc == 3 && !strcmp(argv[2], "sha256")) && !keyed) {
    fprintf(stderr, "usage: rechain CONNINFO sha256 | rechain CONNINFO hmac KEYFILE\n");
    return 2;
  }
  evchain_key_t key;
  bool created;
  char err[512];
  if (keyed && evchain_key_load(argv[3], 1, &key, &created, err, sizeof err) < 0) {
    fprintf(stderr, "rechain: %s\n", err);
    return 1;
  }
  PGconn *db = PQconnectdb(argv[1]);
  if (PQstatus(db) != CONNECTION_OK) {
    fprintf(stderr, "rechain: %s", PQerrorMessage(db));
    return 1;
  }
  PQclear(run(db, "BEGIN", 0, NULL));
  PQclear(run(db, "ALTER TABLE events DISABLE TRIGGER events_append_only", 0, NULL));
  PGresult *rows = run(db,
                       "SELECT id, seq, (extract(epoch FROM at) * 1000000)::bigint, actor, kind, "
                       "subject_type, subject_id, details::text, encode(prev_hash, 'hex') "
                       "FROM events WHERE seq IS NOT NULL ORDER BY seq",
                       0, NULL);
  uint8_t prev[EVCHAIN_HASH_BYTES], hash[EVCHAIN_HASH_BYTES];
  size_t prevlen = 0;
  for (int i = 0; i < PQntuples(rows); i++) {
    if (i == 0) {
      int n = evchain_unhex(PQgetvalue(rows, 0, 8), prev, sizeof prev);
      prevlen = n > 0 ? (size_t)n : 0;
    }
    char *details = evchain_canon_json(PQgetvalue(rows, i, 7));
    evchain_event_t e = {.seq = strtoll(PQgetvalue(rows, i, 1), NULL, 10),
                         .at_us = strtoll(PQgetvalue(rows, i, 2), NULL, 10),
                         .actor = PQgetvalue(rows, i, 3),
                         .kind = PQgetvalue(rows, i, 4),
                         .subject_type = PQgetvalue(rows, i, 5),
                         .subject_id = PQgetvalue(rows, i, 6),
                         .details = details,
                         .prev = prev,
                         .prevlen = prevlen};
    evchain_hash(keyed ? &key : NULL, &e, hash);
    free(details);
    char ph[2 * EVCHAIN_HASH_BYTES + 3] = "\\x", hh[2 * EVCHAIN_HASH_BYTES + 3] = "\\x";
    evchain_hex(prev, prevlen, ph + 2);
    evchain_hex(hash, sizeof hash, hh + 2);
    const char *p[4] = {PQgetvalue(rows, i, 0), keyed ? "hmac-sha256" : "sha256", ph, hh};
    PQclear(run(db,
                "UPDATE events SET chain = $2, prev_hash = $3::bytea, hash = $4::bytea "
                "WHERE id = $1",
                4, p));
    memcpy(prev, hash, sizeof hash);
    prevlen = sizeof hash;
  }
  printf("rechained %d events\n", PQntuples(rows));
  PQclear(rows);
  PQclear(run(db, "ALTER TABLE events ENABLE TRIGGER events_append_only", 0, NULL));
  PQclear(run(db, "COMMIT", 0, NULL));
  PQfinish(db);
  return 0;
}
