/*
 * audit.c - the event log's chain key, head and verification, see audit.h.
 */
#include "audit.h"

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "log.h"
#include "reads.h"
#include "store.h"

/* ------------------------------------------------------------ start */

/* The last event of the chain: the highest position, else (only rows of
 * before migration 006) the last legacy row, whose position is their
 * number. */
static const char SQL_HEAD[] =
    "SELECT coalesce(max(seq), count(*)), (SELECT encode(hash, 'hex') FROM events "
    "ORDER BY seq DESC NULLS LAST, id DESC LIMIT 1), "
    "EXISTS (SELECT 1 FROM events WHERE chain = 'hmac-sha256') FROM events";

int audit_start(coord_t *c, PGconn *conn, char *err, size_t errlen) {
  PGresult *r = pgconn_query_sync(conn, SQL_HEAD, "reading the event log's head", err, errlen);
  if (!r)
    return -1;
  evchain_head_t head = {.seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10)};
  int n =
      PQgetisnull(r, 0, 1) ? 0 : evchain_unhex(PQgetvalue(r, 0, 1), head.hash, sizeof head.hash);
  bool keyed = !strcmp(PQgetvalue(r, 0, 2), "t");
  PQclear(r);
  if (n < 0 || (head.seq > 0 && n != EVCHAIN_HASH_BYTES))
    return snprintf(err, errlen, "the event log's last hash is not a SHA-256"), -1;
  head.len = (size_t)n;
  char *path = c->cfg.audit_key  ? xstrdup(c->cfg.audit_key)
               : c->cfg.keys_dir ? keys_path(c->cfg.keys_dir, "audit", "key")
                                 : NULL;
  /* A keyed log goes on with its key only: a new key, or none, would
   * leave every later event unverifiable. */
  if (keyed && (!path || access(path, F_OK) != 0)) {
    if (!path)
      snprintf(err, errlen,
               "the event log is keyed with an audit key: start with the --keys "
               "directory that holds audit.key (or --audit-key FILE)");
    else
      snprintf(err, errlen,
               "the event log is keyed, but the audit key %s is missing: restore "
               "it from the backup (a new key could not check the log)",
               path);
    free(path);
    return -1;
  }
  if (!path) {
    log_warn("no audit key (--keys or --audit-key): the event log's chain is plain SHA-256, "
             "which whoever can write the database can recompute");
    store_chain_start(c, NULL, &head);
    return 0;
  }
  evchain_key_t key;
  bool created;
  int rc = evchain_key_load(path, head.seq + 1, &key, &created, err, errlen);
  if (rc == 0) {
    if (created)
      log_info("made the audit key %s: it keys the event log from event %" PRId64
               "; keep it with the database's backups",
               path, key.from_seq);
    store_chain_start(c, &key, &head);
    log_info("event log: %" PRId64 " events, chained with the audit key %s", head.seq, path);
  }
  sodium_memzero(&key, sizeof key);
  free(path);
  return rc;
}

int audit_parse_head(const char *text, evchain_head_t *head) {
  memset(head, 0, sizeof *head);
  const char *colon = text ? strchr(text, ':') : NULL;
  if (!colon || colon == text || colon - text > 18)
    return -1;
  for (const char *p = text; p < colon; p++)
    if (*p < '0' || *p > '9')
      return -1;
  head->seq = strtoll(text, NULL, 10);
  if (head->seq <= 0 ||
      evchain_unhex(colon + 1, head->hash, sizeof head->hash) != EVCHAIN_HASH_BYTES)
    return -1;
  head->len = EVCHAIN_HASH_BYTES;
  return 0;
}

static json_t *head_json(const evchain_head_t *h) {
  char hex[2 * EVCHAIN_HASH_BYTES + 1];
  evchain_hex(h->hash, h->len, hex);
  char *text = xasprintf("%" PRId64 ":%s", h->seq, hex);
  json_t *o = json_pack("{s:I,s:s,s:s}", "events", (json_int_t)h->seq, "hash", hex, "head", text);
  free(text);
  return o;
}

void audit_head(coord_t *c, creq_t *r, const verb_call_t *v) {
  (void)v;
  evchain_head_t h = store_chain_head(c);
  json_t *doc = head_json(&h);
  json_object_set_new(doc, "keyed", json_boolean(store_chain_key(c) != NULL));
  clients_reply_durable(c, r, doc);
}

/* ------------------------------------------------------------ verify */

#define PAGE "500"

/* Legacy rows (before 006) by id, then the coordinator's by position. */
#define VERIFY_COLUMNS                                                                             \
  "SELECT id, (extract(epoch FROM at) * 1000000)::bigint, actor, kind, subject_type, "             \
  "subject_id, details::text, encode(prev_hash, 'hex'), encode(hash, 'hex'), chain, seq "          \
  "FROM events "
static const char SQL_VERIFY_LEGACY[] =
    VERIFY_COLUMNS "WHERE seq IS NULL AND id > $1 ORDER BY id LIMIT " PAGE;
static const char SQL_VERIFY_CHAIN[] =
    VERIFY_COLUMNS "WHERE seq IS NOT NULL AND seq > $1 ORDER BY seq LIMIT " PAGE;
enum { V_ID, V_AT, V_ACTOR, V_KIND, V_STYPE, V_SID, V_DETAILS, V_PREV, V_HASH, V_CHAIN, V_SEQ };

typedef struct verify {
  coord_t *c;
  creq_t *r;
  bool have_key;
  evchain_key_t key;
  evchain_head_t want[2]; /* heads that must be in the log */
  const char *want_what[2];
  size_t nwant;
  bool legacy;   /* reading the legacy rows */
  int64_t after; /* the last id (legacy) or position read */
  int64_t pos;   /* events checked */
  uint8_t prev[EVCHAIN_HASH_BYTES];
  size_t prevlen;
  int64_t keyed, unkeyed, old; /* rows by chain */
  int64_t broken_id;           /* the first broken event, 0: none */
  char why[320];
} verify_t;

static void verify_next(verify_t *vf);

static void finish(verify_t *vf) {
  coord_t *c = vf->c;
  bool ok = !vf->broken_id && !vf->why[0];
  json_t *doc = json_pack("{s:b,s:I,s:I,s:I,s:I,s:b}", "ok", ok, "events", (json_int_t)vf->pos,
                          "keyed", (json_int_t)vf->keyed, "unkeyed", (json_int_t)vf->unkeyed,
                          "legacy", (json_int_t)vf->old, "key", vf->have_key);
  json_object_set_new(doc, "first_broken",
                      vf->broken_id ? json_integer(vf->broken_id) : json_null());
  if (ok) {
    json_object_set_new(
        doc, "message",
        json_string(vf->have_key ? "hash chain intact, keyed" : "hash chain intact"));
  } else {
    /* first_broken names the event; the message says what is wrong. */
    json_object_set_new(doc, "message", json_string(vf->why));
  }
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  clients_reply_text(c, vf->r, text);
  sodium_memzero(&vf->key, sizeof vf->key);
  free(vf);
}

static bool broken(verify_t *vf, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool broken(verify_t *vf, int64_t id, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(vf->why, sizeof vf->why, fmt, ap);
  va_end(ap);
  vf->broken_id = id;
  return false;
}

/* Checks row i of res; false once the chain is broken. */
static bool check_row(verify_t *vf, const PGresult *res, int i) {
  int64_t id = strtoll(PQgetvalue(res, i, V_ID), NULL, 10);
  const char *chain = PQgetvalue(res, i, V_CHAIN);
  int64_t seq = PQgetisnull(res, i, V_SEQ) ? 0 : strtoll(PQgetvalue(res, i, V_SEQ), NULL, 10);
  vf->pos++;
  uint8_t prev[EVCHAIN_HASH_BYTES], stored[EVCHAIN_HASH_BYTES], want[EVCHAIN_HASH_BYTES];
  int prevlen = evchain_unhex(PQgetvalue(res, i, V_PREV), prev, sizeof prev);
  if (evchain_unhex(PQgetvalue(res, i, V_HASH), stored, sizeof stored) != EVCHAIN_HASH_BYTES ||
      prevlen < 0)
    return broken(vf, id, "its hash is not 32 bytes");
  bool is_legacy = !strcmp(chain, "legacy"), is_keyed = !strcmp(chain, "hmac-sha256");
  if (is_legacy != vf->legacy)
    return broken(vf, id, "its chain '%s' does not belong there", chain);
  if (!is_legacy && seq != vf->pos)
    return broken(vf, id,
                  "it is at position %" PRId64 ", expected %" PRId64
                  " (events were removed, added or moved)",
                  seq, vf->pos);
  if (!is_legacy && !is_keyed && strcmp(chain, "sha256") != 0)
    return broken(vf, id, "unknown chain '%s'", chain);
  if (is_keyed && !vf->have_key)
    return broken(vf, id, "it is keyed and this coordinator has no audit key to check it");
  if (is_keyed && !vf->keyed && seq != vf->key.from_seq)
    return broken(vf, id,
                  "the first keyed event is at position %" PRId64
                  ", but the audit key keys the log from %" PRId64
                  " (events were removed or added)",
                  seq, vf->key.from_seq);
  if (!is_keyed && (vf->keyed || (vf->have_key && vf->pos >= vf->key.from_seq)))
    return broken(vf, id,
                  "it is not keyed where the log is keyed: the chain was recomputed "
                  "without the audit key");
  if ((size_t)prevlen != vf->prevlen || memcmp(prev, vf->prev, vf->prevlen) != 0)
    return broken(vf, id,
                  "it does not follow the event before it (one was changed, removed "
                  "or added)");
  char *details = is_legacy ? xstrdup(PQgetvalue(res, i, V_DETAILS))
                            : evchain_canon_json(PQgetvalue(res, i, V_DETAILS));
  evchain_event_t e = {.seq = vf->pos,
                       .at_us = strtoll(PQgetvalue(res, i, V_AT), NULL, 10),
                       .actor = PQgetvalue(res, i, V_ACTOR),
                       .kind = PQgetvalue(res, i, V_KIND),
                       .subject_type = PQgetvalue(res, i, V_STYPE),
                       .subject_id = PQgetvalue(res, i, V_SID),
                       .details = details,
                       .prev = prev,
                       .prevlen = (size_t)prevlen};
  if (is_legacy)
    evchain_legacy_hash(id, &e, want);
  else
    evchain_hash(is_keyed ? &vf->key : NULL, &e, want);
  free(details);
  if (sodium_memcmp(want, stored, sizeof want) != 0)
    return broken(vf, id, "its content does not match its hash");
  is_legacy ? vf->old++ : is_keyed ? vf->keyed++ : vf->unkeyed++;
  memcpy(vf->prev, stored, sizeof stored);
  vf->prevlen = sizeof stored;
  for (size_t k = 0; k < vf->nwant; k++)
    if (vf->want[k].seq == vf->pos && memcmp(vf->want[k].hash, stored, sizeof stored) != 0)
      return broken(vf, id,
                    "%s is not in the log: the event at position %" PRId64 " has another hash",
                    vf->want_what[k], vf->pos);
  return true;
}

/* After the last row: the heads must have been reached. */
static void check_end(verify_t *vf) {
  for (size_t k = 0; k < vf->nwant; k++)
    if (vf->want[k].seq > vf->pos) {
      snprintf(vf->why, sizeof vf->why,
               "the log ends at event %" PRId64 " of the chain, before %s (event %" PRId64
               "): its last events were removed",
               vf->pos, vf->want_what[k], vf->want[k].seq);
      return;
    }
  if (vf->have_key && vf->pos < vf->key.from_seq - 1)
    snprintf(vf->why, sizeof vf->why,
             "the log ends at event %" PRId64 " of the chain, but it had %" PRId64
             " when the audit key was made: events were removed",
             vf->pos, vf->key.from_seq - 1);
}

static void on_page(void *arg, PGresult *const *res, size_t n, const char *error) {
  verify_t *vf = arg;
  if (clients_reply_failed(vf->c, vf->r, res, n, error)) {
    sodium_memzero(&vf->key, sizeof vf->key);
    free(vf);
    return;
  }
  int rows = PQntuples(res[0]);
  for (int i = 0; i < rows; i++)
    if (!check_row(vf, res[0], i)) {
      finish(vf);
      return;
    }
  if (rows > 0) {
    vf->after = strtoll(PQgetvalue(res[0], rows - 1, vf->legacy ? V_ID : V_SEQ), NULL, 10);
  } else if (vf->legacy) {
    vf->legacy = false;
    vf->after = 0;
  } else {
    check_end(vf);
    finish(vf);
    return;
  }
  verify_next(vf);
}

static void verify_next(verify_t *vf) {
  pgq_t *q = pgq_new();
  char *p[1] = {xasprintf("%" PRId64, vf->after)};
  if (vf->legacy)
    pgq_add_prepared(q, "SQL_VERIFY_LEGACY", SQL_VERIFY_LEGACY, 1, p);
  else
    pgq_add_prepared(q, "SQL_VERIFY_CHAIN", SQL_VERIFY_CHAIN, 1, p);
  /* Each page runs under a deadline of its own (a long log takes many):
   * not the request's, which would cut a long verify short. */
  reads_submit(vf->c, NULL, q, on_page, vf);
}

void audit_verify(coord_t *c, creq_t *r, const verb_call_t *v) {
  evchain_head_t given;
  const char *name = v->req->name;
  if (name && *name && audit_parse_head(name, &given) < 0) {
    clients_reply_error(c, r, "bad_request",
                        "head: expected N:HASH as `clapper audit --head` prints it "
                        "(a count, a colon and 64 hex digits)");
    return;
  }
  verify_t *vf = xcalloc(1, sizeof *vf);
  vf->c = c;
  vf->r = r;
  vf->legacy = true;
  const evchain_key_t *key = store_chain_key(c);
  if (key) {
    vf->key = *key;
    vf->have_key = true;
  }
  /* What this coordinator committed must be there too. */
  evchain_head_t mine = store_chain_head(c);
  if (mine.seq > 0) {
    vf->want[vf->nwant] = mine;
    vf->want_what[vf->nwant++] = "the head this coordinator committed";
  }
  if (name && *name) {
    vf->want[vf->nwant] = given;
    vf->want_what[vf->nwant++] = "the given head";
  }
  verify_next(vf);
}
