/*
 * idem.c - idempotent submit: the keyed submissions in progress, see
 * idem.h.
 */
#include "idem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"

void idem_digest(const uint8_t *body, size_t len, char out[IDEM_DIGEST_HEX + 1]) {
  unsigned char h[IDEM_DIGEST_HEX / 2];
  crypto_generichash(h, sizeof h, body, len, NULL, 0);
  sodium_bin2hex(out, IDEM_DIGEST_HEX + 1, h, sizeof h);
}

idem_rec_t *idem_find(coord_t *c, const char *actor, const char *key) {
  for (idem_rec_t *r = c->idem; r; r = r->next)
    if (!strcmp(r->key, key) && !strcmp(r->actor, actor))
      return r;
  return NULL;
}

idem_rec_t *idem_add(coord_t *c, const char *actor, const char *key, const char *digest,
                     struct creq *r) {
  idem_rec_t *rec = xcalloc(1, sizeof *rec);
  rec->actor = xstrdup(actor);
  rec->key = xstrdup(key);
  snprintf(rec->digest, sizeof rec->digest, "%s", digest);
  idem_wait(rec, r);
  rec->next = c->idem;
  c->idem = rec;
  return rec;
}

void idem_wait(idem_rec_t *rec, struct creq *r) {
  ARRAY_PUSH(rec->waiters, rec->nwaiters, rec->capwaiters, r);
}

static void unlink_rec(coord_t *c, idem_rec_t *rec) {
  for (idem_rec_t **p = &c->idem; *p; p = &(*p)->next)
    if (*p == rec) {
      *p = rec->next;
      return;
    }
}

static void free_rec(idem_rec_t *rec) {
  free(rec->waiters);
  free(rec->actor);
  free(rec->key);
  free(rec);
}

void idem_finish(coord_t *c, idem_rec_t *rec, const char *json, const char *code,
                 const char *message) {
  unlink_rec(c, rec);
  for (size_t i = 0; i < rec->nwaiters; i++) {
    if (code)
      clients_reply_error(c, rec->waiters[i], code, message);
    else
      clients_reply_ok(c, rec->waiters[i], json);
  }
  free_rec(rec);
}

void idem_conflict(char *err, size_t errlen, const char *actor, const char *key, const char *jobs) {
  snprintf(err, errlen,
           "the idempotency key '%.128s' was already used by %.64s for another submission "
           "(%s%.200s): a retry must send the same file; use a new key for a new submission",
           key, actor, jobs ? "jobs " : "still being queued", jobs ? jobs : "");
}

void idem_free_all(coord_t *c) {
  while (c->idem) {
    idem_rec_t *rec = c->idem;
    c->idem = rec->next;
    for (size_t i = 0; i < rec->nwaiters; i++)
      free(rec->waiters[i]);
    free_rec(rec);
  }
}
