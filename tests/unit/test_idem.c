/*
 * test_idem.c - the keyed submissions in progress: digests of job files,
 * records by (submitter, key), requests waiting on a record, and the
 * refusal of a key used for another file.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "clients.h"
#include "idem.h"
#include "model.h"

int main(void) {
  char d1[IDEM_DIGEST_HEX + 1], d2[IDEM_DIGEST_HEX + 1];
  /* BLAKE2b-256 of the empty string, as published. */
  idem_digest((const uint8_t *)"", 0, d1);
  CHECK_STR(d1, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  idem_digest((const uint8_t *)"{\"a\": 1}", 8, d1);
  idem_digest((const uint8_t *)"{\"a\": 2}", 8, d2);
  CHECK_INT((int)strlen(d1), IDEM_DIGEST_HEX);
  CHECK(strcmp(d1, d2) != 0);

  /* Records are per submitter and key. */
  coord_t c = {0};
  creq_t *r1 = calloc(1, sizeof *r1), *r2 = calloc(1, sizeof *r2), *r3 = calloc(1, sizeof *r3);
  CHECK(idem_find(&c, "alice", "k") == NULL);
  idem_rec_t *a = idem_add(&c, "alice", "k", d1, r1);
  idem_rec_t *b = idem_add(&c, "bob", "k", d2, r2);
  CHECK(idem_find(&c, "alice", "k") == a);
  CHECK(idem_find(&c, "bob", "k") == b);
  CHECK(idem_find(&c, "alice", "k2") == NULL);
  CHECK(idem_find(&c, "carol", "k") == NULL);
  CHECK_STR(a->digest, d1);
  idem_wait(a, r3);
  CHECK_INT(a->nwaiters, 2);
  CHECK(a->waiters[0] == r1 && a->waiters[1] == r3);
  CHECK_INT(b->nwaiters, 1);

  char err[600];
  idem_conflict(err, sizeof err, "alice", "nightly-1", "12,13");
  CHECK_STR(err, "the idempotency key 'nightly-1' was already used by alice for another "
                 "submission (jobs 12,13): a retry must send the same file; use a new key for a "
                 "new submission");
  idem_conflict(err, sizeof err, "alice", "nightly-1", NULL);
  CHECK_CONTAINS(err, "another submission (still being queued)");

  /* Shutdown frees the records and the requests waiting on them. */
  idem_free_all(&c);
  CHECK(c.idem == NULL);
  return check_report("idem");
}
