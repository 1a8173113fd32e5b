/*
 * httpauth.c - sign-in links, browser sessions and API tokens, see
 * httpauth.h.
 */
#include "httpauth.h"

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "jsondoc.h"
#include "log.h"
#include "store.h"

#define HASH_BYTES crypto_hash_sha256_BYTES
#define SECRET_BUF (HTTPAUTH_SECRET_CHARS + 1)
#define DEFAULT_LINK_TTL_MS 60000

/* A sign-in link not used yet: the hash of its secret, whom it signs in. */
typedef struct hlink {
  uint8_t hash[HASH_BYTES];
  char name[IDENT_MAX + 1];
  int role;
  uint64_t expires_mono;
} hlink_t;

/* A browser session: the cookie is "<id>.<secret>"; its secret's hash. */
typedef struct hsession {
  uint64_t id;
  uint8_t hash[HASH_BYTES];
  char csrf[SECRET_BUF]; /* shown to the session itself (GET /api/v1/session) */
  char name[IDENT_MAX + 1];
  int role;
  uint64_t expires_mono;
  int64_t expires_us;
} hsession_t;

/* An API token (a row of tokens): the hash of its whole text. */
typedef struct htoken {
  uint64_t id;
  char *name, *owner, *created_by;
  int role;
  uint8_t hash[HASH_BYTES];
  int64_t created_us, expires_us;
  int64_t revoked_us; /* 0: not revoked */
} htoken_t;

typedef struct httpauth {
  hlink_t *links;
  size_t nlinks, caplinks;
  hsession_t *sessions;
  size_t nsessions, capsessions;
  htoken_t *tokens; /* by id, ascending */
  size_t ntokens, captokens;
  uint64_t next_session_id, next_token_id;
} httpauth_t;

static httpauth_t *get(coord_t *c) {
  if (!c->httpauth) {
    c->httpauth = xcalloc(1, sizeof(httpauth_t));
    c->httpauth->next_session_id = c->httpauth->next_token_id = 1;
  }
  return c->httpauth;
}

/* ------------------------------------------------------------ parts */

bool httpauth_same(const void *a, size_t alen, const void *b, size_t blen) {
  if (alen != blen)
    return false;
  return alen == 0 || sodium_memcmp(a, b, alen) == 0;
}

int httpauth_parse_expiry(const char *text, int64_t *seconds, char *err, size_t errlen) {
  if (!text || !*text) {
    *seconds = HTTPAUTH_TOKEN_DEFAULT_S;
    return 0;
  }
  size_t n = strlen(text), digits = 0;
  while (digits < n && text[digits] >= '0' && text[digits] <= '9')
    digits++;
  static const struct {
    char unit;
    int64_t s;
  } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  int64_t mult = 0;
  for (size_t i = 0; digits + 1 == n && i < ARRAY_SIZE(units); i++)
    if (text[digits] == units[i].unit)
      mult = units[i].s;
  uint64_t v = 0;
  bool printable = true;
  for (size_t i = 0; i < n; i++)
    printable &= text[i] >= 0x20 && text[i] < 0x7f;
  if (!digits || digits > 9 || !mult) {
    snprintf(err, errlen,
             "expires: '%.40s' is not a duration (a number and s, m, h or d, "
             "e.g. 30d)",
             printable ? text : "?");
    return -1;
  }
  for (size_t i = 0; i < digits; i++)
    v = v * 10 + (uint64_t)(text[i] - '0');
  if (v == 0 || (int64_t)v * mult > HTTPAUTH_TOKEN_MAX_S) {
    snprintf(err, errlen, "expires: '%.40s' is not between 1s and 365d", text);
    return -1;
  }
  *seconds = (int64_t)v * mult;
  return 0;
}

static bool b64url_char(char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '_';
}

/* "<digits><sep><43 base64url characters>" at s: 0 with *id, or -1. */
static int parse_id_secret(const char *s, char sep, uint64_t *id) {
  size_t d = 0;
  while (s[d] >= '0' && s[d] <= '9')
    d++;
  if (!d || d > 19 || s[0] == '0' || s[d] != sep)
    return -1;
  char num[20];
  memcpy(num, s, d);
  num[d] = '\0';
  uint64_t v;
  if (util_parse_u64(num, 1, INT64_MAX, &v) < 0)
    return -1;
  const char *secret = s + d + 1;
  size_t k = 0;
  while (k <= HTTPAUTH_SECRET_CHARS && secret[k] && b64url_char(secret[k]))
    k++;
  if (k != HTTPAUTH_SECRET_CHARS || secret[k])
    return -1;
  *id = v;
  return 0;
}

int httpauth_token_parse(const char *text, uint64_t *id) {
  size_t p = strlen(HTTPAUTH_TOKEN_PREFIX);
  if (!text || strncmp(text, HTTPAUTH_TOKEN_PREFIX, p) != 0)
    return -1;
  return parse_id_secret(text + p, '_', id);
}

/* 32 random bytes as base64url text (SECRET_BUF bytes). */
static void new_secret(char out[SECRET_BUF]) {
  uint8_t bin[HTTPAUTH_SECRET_BYTES];
  randombytes_buf(bin, sizeof bin);
  sodium_bin2base64(out, SECRET_BUF, bin, sizeof bin, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(bin, sizeof bin);
}

static void hash_text(const char *text, uint8_t out[HASH_BYTES]) {
  crypto_hash_sha256(out, (const unsigned char *)text, strlen(text));
}

static const char *role_name(int role) { return auth_role_name((role_t)role); }

static void iso(int64_t us, char *buf, size_t len) { util_iso8601(us, buf, len); }

/* ------------------------------------------------------------ tokens in memory */

static htoken_t *token_by_id(httpauth_t *a, uint64_t id) {
  size_t lo = 0, hi = a ? a->ntokens : 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a->tokens[mid].id == id)
      return &a->tokens[mid];
    if (a->tokens[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

static bool token_live(const htoken_t *t, int64_t now) {
  return !t->revoked_us && t->expires_us > now;
}

static const char *token_state(const htoken_t *t, int64_t now) {
  return t->revoked_us ? "revoked" : t->expires_us <= now ? "expired" : "active";
}

/* Adds a token (ids come in ascending order: loaded sorted, then new). */
static htoken_t *token_add(httpauth_t *a, uint64_t id, const char *name, const char *owner,
                           int role, const uint8_t hash[HASH_BYTES], int64_t created_us,
                           int64_t expires_us, int64_t revoked_us, const char *created_by) {
  ARRAY_RESERVE(a->tokens, a->ntokens, a->captokens, 1);
  htoken_t *t = &a->tokens[a->ntokens++];
  *t = (htoken_t){.id = id,
                  .name = xstrdup(name),
                  .owner = xstrdup(owner),
                  .created_by = xstrdup(created_by),
                  .role = role,
                  .created_us = created_us,
                  .expires_us = expires_us,
                  .revoked_us = revoked_us};
  memcpy(t->hash, hash, HASH_BYTES);
  if (id >= a->next_token_id)
    a->next_token_id = id + 1;
  return t;
}

static json_t *token_json(const htoken_t *t, int64_t now) {
  char created[40], expires[40], revoked[40];
  iso(t->created_us, created, sizeof created);
  iso(t->expires_us, expires, sizeof expires);
  if (t->revoked_us)
    iso(t->revoked_us, revoked, sizeof revoked);
  return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:s}", "id", (json_int_t)t->id, "name",
                   t->name, "owner", t->owner, "role", role_name(t->role), "state",
                   token_state(t, now), "created_at", created, "expires_at", expires, "revoked_at",
                   t->revoked_us ? revoked : NULL, "created_by", t->created_by);
}

int httpauth_init(coord_t *c, PGconn *conn, char *err, size_t errlen) {
  httpauth_t *a = get(c);
  PGresult *r = pgconn_query_sync(
      conn,
      "SELECT id, name, owner, role, hash, (extract(epoch FROM created_at) * 1000000)::bigint, "
      "(extract(epoch FROM expires_at) * 1000000)::bigint, "
      "coalesce((extract(epoch FROM revoked_at) * 1000000)::bigint, 0), created_by "
      "FROM tokens ORDER BY id",
      "loading the API tokens", err, errlen);
  if (!r)
    return -1;
  int rc = 0;
  for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
    uint8_t hash[HASH_BYTES];
    size_t got = 0;
    const char *hex = PQgetvalue(r, i, 4);
    int role = auth_role_parse(PQgetvalue(r, i, 3));
    if (sodium_hex2bin(hash, sizeof hash, hex, strlen(hex), NULL, &got, NULL) != 0 ||
        got != sizeof hash || role < 0) {
      snprintf(err, errlen, "loading the API tokens: token %s has a malformed hash or role",
               PQgetvalue(r, i, 0));
      rc = -1;
      break;
    }
    token_add(a, strtoull(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
              role, hash, strtoll(PQgetvalue(r, i, 5), NULL, 10),
              strtoll(PQgetvalue(r, i, 6), NULL, 10), strtoll(PQgetvalue(r, i, 7), NULL, 10),
              PQgetvalue(r, i, 8));
  }
  PQclear(r);
  if (rc == 0 && a->ntokens)
    log_info("%zu API tokens loaded", a->ntokens);
  return rc;
}

void httpauth_free(coord_t *c) {
  httpauth_t *a = c->httpauth;
  if (!a)
    return;
  c->httpauth = NULL;
  for (size_t i = 0; i < a->ntokens; i++) {
    free(a->tokens[i].name);
    free(a->tokens[i].owner);
    free(a->tokens[i].created_by);
  }
  sodium_memzero(a->sessions, a->nsessions * sizeof *a->sessions);
  free(a->tokens);
  free(a->sessions);
  free(a->links);
  free(a);
}

/* ------------------------------------------------------------ links and sessions */

static void drop_expired(httpauth_t *a, uint64_t now) {
  for (size_t i = 0; i < a->nlinks;)
    if (a->links[i].expires_mono <= now)
      a->links[i] = a->links[--a->nlinks];
    else
      i++;
  for (size_t i = 0; i < a->nsessions;)
    if (a->sessions[i].expires_mono <= now)
      a->sessions[i] = a->sessions[--a->nsessions];
    else
      i++;
}

static hsession_t *session_by_id(httpauth_t *a, uint64_t id) {
  for (size_t i = 0; a && i < a->nsessions; i++)
    if (a->sessions[i].id == id)
      return &a->sessions[i];
  return NULL;
}

static void session_end(httpauth_t *a, hsession_t *s) {
  size_t i = (size_t)(s - a->sessions);
  sodium_memzero(s, sizeof *s);
  a->sessions[i] = a->sessions[--a->nsessions];
}

/* Whether name may still act with role: registered now with that role (or,
 * for a token, with admin), or nothing is registered (no --keys). */
static bool still_allowed(const coord_t *c, const char *name, int role, bool token) {
  if (!auth_secure(c))
    return true;
  int now = auth_role_of_name(c, name);
  return now >= 0 && now != ROLE_WORKER && (now == role || (token && now == ROLE_ADMIN));
}

static int link_ttl_ms(const coord_t *c) {
  return c->cfg.http_link_ttl_ms > 0 ? (int)c->cfg.http_link_ttl_ms : DEFAULT_LINK_TTL_MS;
}

void httpauth_web_link(coord_t *c, creq_t *r, const verb_call_t *v) {
  httpauth_t *a = get(c);
  const char *base = http_base_url(c);
  if (!base) {
    clients_reply_error(c, r, "unavailable",
                        "the coordinator's HTTP server is off (--bind-http none): there is "
                        "nothing to sign in to");
    return;
  }
  uint64_t now = util_mono_us();
  drop_expired(a, now);
  if (a->nlinks >= HTTPAUTH_LINKS_MAX) {
    clients_reply_error(c, r, "busy",
                        "too many sign-in links are waiting to be used; try again in a minute");
    return;
  }
  char secret[SECRET_BUF];
  new_secret(secret);
  int ttl = link_ttl_ms(c);
  hlink_t l = {.role = v->role, .expires_mono = now + (uint64_t)ttl * 1000};
  snprintf(l.name, sizeof l.name, "%s", v->actor);
  hash_text(secret, l.hash);
  ARRAY_PUSH(a->links, a->nlinks, a->caplinks, l);
  char expires[40];
  iso(util_wall_us() + (int64_t)ttl * 1000, expires, sizeof expires);
  char *url = xasprintf("%s/auth/signin?link=%s", base, secret);
  sodium_memzero(secret, sizeof secret);
  json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:I}", "url", url, "name", v->actor, "role",
                          role_name(v->role), "expires_at", expires, "ttl_ms", (json_int_t)ttl);
  log_info("%s (%s) asked for a sign-in link", v->actor, role_name(v->role));
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  clients_reply_ok(c, r, text);
  sodium_memzero(text, strlen(text));
  free(text);
  sodium_memzero(url, strlen(url));
  free(url);
}

/* Trades link text for a new session: 0 with *out (and the cookie's value
 * in cookie), or -1 with err. */
static int signin(coord_t *c, const char *link, hsession_t **out, char cookie[64], char *err,
                  size_t errlen) {
  httpauth_t *a = get(c);
  uint64_t now = util_mono_us();
  drop_expired(a, now);
  const char *why = "the sign-in link is unknown, used or expired: ask for a new one with "
                    "clapper web";
  size_t len = link ? strlen(link) : 0;
  bool shaped = len == HTTPAUTH_SECRET_CHARS;
  for (size_t i = 0; shaped && i < len; i++)
    shaped = b64url_char(link[i]);
  if (!shaped)
    return snprintf(err, errlen, "%s", why), -1;
  uint8_t h[HASH_BYTES];
  hash_text(link, h);
  hlink_t *l = NULL;
  for (size_t i = 0; i < a->nlinks; i++)
    if (httpauth_same(a->links[i].hash, HASH_BYTES, h, HASH_BYTES))
      l = &a->links[i];
  if (!l)
    return snprintf(err, errlen, "%s", why), -1;
  hlink_t got = *l;
  *l = a->links[--a->nlinks]; /* single use, whatever follows */
  if (!still_allowed(c, got.name, got.role, false))
    return snprintf(err, errlen, "%s is no longer registered as %s", got.name, role_name(got.role)),
           -1;
  if (a->nsessions >= HTTPAUTH_SESSIONS_MAX)
    return snprintf(err, errlen, "too many browser sessions are open; try again later"), -1;
  hsession_t s = {.id = a->next_session_id++,
                  .role = got.role,
                  .expires_mono = now + (uint64_t)HTTPAUTH_SESSION_S * 1000000,
                  .expires_us = util_wall_us() + (int64_t)HTTPAUTH_SESSION_S * 1000000};
  snprintf(s.name, sizeof s.name, "%s", got.name);
  char secret[SECRET_BUF];
  new_secret(secret);
  new_secret(s.csrf);
  hash_text(secret, s.hash);
  snprintf(cookie, 64, "%" PRIu64 ".%s", s.id, secret);
  sodium_memzero(secret, sizeof secret);
  ARRAY_PUSH(a->sessions, a->nsessions, a->capsessions, s);
  *out = &a->sessions[a->nsessions - 1];
  log_info("%s (%s) signed in on the web: session %" PRIu64, s.name, role_name(s.role), s.id);
  return 0;
}

/* ------------------------------------------------------------ identify */

static int unauthorized(char *err, size_t errlen, const char *msg) {
  static log_limit_t refused = LOG_LIMIT_INIT("refused HTTP credentials", 10);
  log_warn_limited(&refused, "HTTP request refused: %s", msg);
  snprintf(err, errlen, "%s", msg);
  return -1;
}

static int identify_token(coord_t *c, const char *text, http_ident_t *out, char *err,
                          size_t errlen) {
  uint64_t id;
  if (httpauth_token_parse(text, &id) < 0)
    return unauthorized(err, errlen,
                        "Authorization: not an API token (expected Bearer clp_ID_SECRET, "
                        "from clapper token create)");
  uint8_t h[HASH_BYTES];
  hash_text(text, h);
  htoken_t *t = token_by_id(c->httpauth, id);
  bool same = t && httpauth_same(t->hash, HASH_BYTES, h, HASH_BYTES);
  char msg[200];
  if (!same) {
    snprintf(msg, sizeof msg, "API token %" PRIu64 ": unknown or wrong", id);
    return unauthorized(err, errlen, msg);
  }
  if (t->revoked_us) {
    snprintf(msg, sizeof msg, "API token %" PRIu64 " (%s's %s) was revoked", id, t->owner, t->name);
    return unauthorized(err, errlen, msg);
  }
  if (t->expires_us <= util_wall_us()) {
    snprintf(msg, sizeof msg, "API token %" PRIu64 " (%s's %s) has expired", id, t->owner, t->name);
    return unauthorized(err, errlen, msg);
  }
  if (!still_allowed(c, t->owner, t->role, true)) {
    snprintf(msg, sizeof msg,
             "API token %" PRIu64 ": its owner %s is no longer registered "
             "with a role that may give %s",
             id, t->owner, role_name(t->role));
    return unauthorized(err, errlen, msg);
  }
  *out = (http_ident_t){.kind = HTTP_AUTH_TOKEN, .role = t->role, .id = t->id};
  snprintf(out->name, sizeof out->name, "%s", t->owner);
  return 0;
}

static int identify_session(coord_t *c, const char *cookie, http_ident_t *out, char *err,
                            size_t errlen) {
  httpauth_t *a = c->httpauth;
  const char *why = "the browser session is unknown or has ended: sign in again with "
                    "clapper web";
  uint64_t id;
  if (parse_id_secret(cookie, '.', &id) < 0)
    return unauthorized(err, errlen, why);
  hsession_t *s = session_by_id(a, id);
  uint8_t h[HASH_BYTES];
  hash_text(strchr(cookie, '.') + 1, h);
  if (!s || !httpauth_same(s->hash, HASH_BYTES, h, HASH_BYTES))
    return unauthorized(err, errlen, why);
  if (s->expires_mono <= util_mono_us()) {
    session_end(a, s);
    return unauthorized(err, errlen, why);
  }
  if (!still_allowed(c, s->name, s->role, false)) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s is no longer registered as %s: the session has ended", s->name,
             role_name(s->role));
    session_end(a, s);
    return unauthorized(err, errlen, msg);
  }
  *out = (http_ident_t){.kind = HTTP_AUTH_SESSION, .role = s->role, .id = s->id};
  snprintf(out->name, sizeof out->name, "%s", s->name);
  return 0;
}

int httpauth_identify(coord_t *c, const char *authorization, const char *cookie, http_ident_t *out,
                      char *err, size_t errlen) {
  get(c);
  *out = (http_ident_t){.kind = HTTP_AUTH_NONE, .role = -1};
  if (authorization) {
    const char *p = authorization;
    while (*p == ' ')
      p++;
    if (strncasecmp(p, "Bearer ", 7) != 0)
      return unauthorized(err, errlen,
                          "Authorization: expected Bearer and an API token (clapper token "
                          "create)");
    p += 7;
    while (*p == ' ')
      p++;
    char text[128];
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
      n--;
    if (n >= sizeof text)
      return unauthorized(err, errlen, "Authorization: not an API token (too long)");
    memcpy(text, p, n);
    text[n] = '\0';
    int rc = identify_token(c, text, out, err, errlen);
    sodium_memzero(text, sizeof text);
    return rc;
  }
  if (cookie && *cookie)
    return identify_session(c, cookie, out, err, errlen);
  snprintf(err, errlen,
           "sign in first: clapper web prints a sign-in link for a browser; "
           "scripts send Authorization: Bearer TOKEN (clapper token create)");
  return -1;
}

bool httpauth_csrf_ok(coord_t *c, const http_ident_t *id, const char *header_value) {
  if (!id || id->kind == HTTP_AUTH_TOKEN)
    return true;
  if (id->kind != HTTP_AUTH_SESSION || !header_value)
    return false;
  const hsession_t *s = session_by_id(c->httpauth, id->id);
  return s && httpauth_same(s->csrf, strlen(s->csrf), header_value, strlen(header_value));
}

/* ------------------------------------------------------------ tokens: verbs */

static const char SQL_TOKEN_ADD[] =
    "INSERT INTO tokens (id, name, owner, role, hash, created_at, expires_at, created_by) "
    "VALUES ($1, $2, $3, $4, $5, clapper_ts($6), clapper_ts($7), $8)";
static const char SQL_TOKEN_REVOKE[] =
    "UPDATE tokens SET revoked_at = clapper_ts($2) WHERE id = $1 AND revoked_at IS NULL";

static void token_event(coord_t *c, const char *actor, const char *kind, const htoken_t *t,
                        const char *reason) {
  char expires[40];
  iso(t->expires_us, expires, sizeof expires);
  json_t *d = json_pack("{s:s,s:s,s:s,s:s}", "name", t->name, "owner", t->owner, "role",
                        role_name(t->role), "expires_at", expires);
  if (reason)
    json_object_set_new(d, "reason", json_string(reason));
  char *dj = json_dumps(d, JSON_COMPACT);
  char id[24];
  snprintf(id, sizeof id, "%" PRIu64, t->id);
  store_event(c, actor, kind, "token", id, dj);
  free(dj);
  json_decref(d);
}

static void token_revoke(coord_t *c, htoken_t *t, const char *actor, const char *reason) {
  t->revoked_us = util_wall_us();
  char *p[2] = {xasprintf("%" PRIu64, t->id), xasprintf("%" PRId64, t->revoked_us)};
  store_stmt(c, "SQL_TOKEN_REVOKE", SQL_TOKEN_REVOKE, 2, p);
  token_event(c, actor, "token.revoke", t, reason);
  log_info("%s revoked API token %" PRIu64 " (%s's %s)%s%s", actor, t->id, t->owner, t->name,
           reason ? ": " : "", reason ? reason : "");
}

/* What waits for a new token's commit: the reply, or, should the database
 * refuse the row, the token's end in memory and an error. */
typedef struct created {
  creq_t *r;
  uint64_t id;
  char *json; /* holds the secret: wiped */
} created_t;

static void token_created(coord_t *c, void *arg) {
  created_t *k = arg;
  const char *why = store_refused(c);
  if (why) {
    htoken_t *t = token_by_id(c->httpauth, k->id);
    if (t && !t->revoked_us)
      t->revoked_us = util_wall_us(); /* never usable: it is not in the database */
    char msg[512];
    snprintf(msg, sizeof msg, "the database refused (part of) this change: %.400s", why);
    clients_reply_error(c, k->r, "internal", msg);
  } else {
    clients_reply_ok(c, k->r, k->json);
  }
  sodium_memzero(k->json, strlen(k->json));
  free(k->json);
  free(k);
}

void httpauth_token_create(coord_t *c, creq_t *r, const verb_call_t *v) {
  httpauth_t *a = get(c);
  const Clapper__Request *req = v->req;
  char err[300];
  const char *name = req->name ? req->name : "";
  if (!ident_valid(name) || util_all_digits(name)) {
    snprintf(err, sizeof err,
             "name: '%.64s' is not a token name (" IDENT_PATTERN
             ", not all digits: those read as a token id)",
             name);
    clients_reply_error(c, r, "bad_request", err);
    return;
  }
  int role = req->kind && *req->kind ? auth_role_parse(req->kind) : (int)v->role;
  if (role < 0 || role == ROLE_WORKER) {
    snprintf(err, sizeof err,
             "role: '%.32s' is not one of submitter, supervisor, operator, "
             "auditor, admin",
             req->kind);
    clients_reply_error(c, r, "bad_request", err);
    return;
  }
  if (v->role != ROLE_ADMIN && role != (int)v->role) {
    snprintf(err, sizeof err,
             "a token's role is at most its creator's: you are %s, so your "
             "tokens are %s (an admin gives other roles)",
             role_name(v->role), role_name(v->role));
    clients_reply_error(c, r, "forbidden", err);
    return;
  }
  int64_t secs;
  if (httpauth_parse_expiry(req->expires, &secs, err, sizeof err) < 0) {
    clients_reply_error(c, r, "bad_request", err);
    return;
  }
  int64_t now = util_wall_us();
  size_t live = 0;
  for (size_t i = 0; i < a->ntokens; i++) {
    const htoken_t *t = &a->tokens[i];
    if (strcmp(t->owner, v->actor) != 0)
      continue;
    if (!t->revoked_us && !strcmp(t->name, name)) {
      snprintf(err, sizeof err,
               "you have a token named %s already (id %" PRIu64 ", %s): "
               "revoke it first, or choose another name",
               name, t->id, token_state(t, now));
      clients_reply_error(c, r, "conflict", err);
      return;
    }
    live += token_live(t, now);
  }
  if (live >= HTTPAUTH_TOKENS_PER_OWNER) {
    snprintf(err, sizeof err,
             "you have %zu active tokens, the most one key may have: revoke "
             "some first",
             live);
    clients_reply_error(c, r, "conflict", err);
    return;
  }
  uint64_t id = a->next_token_id;
  char secret[SECRET_BUF];
  new_secret(secret);
  char *text = xasprintf(HTTPAUTH_TOKEN_PREFIX "%" PRIu64 "_%s", id, secret);
  sodium_memzero(secret, sizeof secret);
  uint8_t h[HASH_BYTES];
  hash_text(text, h);
  htoken_t *t = token_add(a, id, name, v->actor, role, h, now, now + secs * 1000000, 0, v->actor);
  char hex[HASH_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  char *p[8] = {xasprintf("%" PRIu64, id),
                xstrdup(name),
                xstrdup(v->actor),
                xstrdup(role_name(role)),
                xstrdup(hex),
                xasprintf("%" PRId64, now),
                xasprintf("%" PRId64, t->expires_us),
                xstrdup(v->actor)};
  store_stmt(c, "SQL_TOKEN_ADD", SQL_TOKEN_ADD, 8, p);
  token_event(c, v->actor, "token.create", t, NULL);
  log_info("%s created API token %" PRIu64 " (%s, %s, until %" PRId64 " s from now)", v->actor, id,
           name, role_name(role), secs);
  json_t *doc = json_pack("{s:o,s:s}", "token", token_json(t, now), "secret", text);
  created_t *k = xmalloc(sizeof *k);
  k->r = r;
  k->id = id;
  k->json = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  sodium_memzero(text, strlen(text));
  free(text);
  store_on_commit(c, token_created, k);
}

void httpauth_token_list(coord_t *c, creq_t *r, const verb_call_t *v) {
  httpauth_t *a = get(c);
  int64_t now = util_wall_us();
  json_t *arr = json_array();
  for (size_t i = 0; i < a->ntokens; i++)
    if (v->role == ROLE_ADMIN || !strcmp(a->tokens[i].owner, v->actor))
      json_array_append_new(arr, token_json(&a->tokens[i], now));
  clients_reply_durable(c, r, json_pack("{s:o}", "tokens", arr));
}

void httpauth_token_revoke(coord_t *c, creq_t *r, const verb_call_t *v) {
  httpauth_t *a = get(c);
  const Clapper__Request *req = v->req;
  bool admin = v->role == ROLE_ADMIN;
  char err[300];
  htoken_t *t = NULL;
  if (req->n_ids) {
    t = token_by_id(a, req->ids[0]);
    if (!t) {
      snprintf(err, sizeof err, "no such token: %" PRIu64, req->ids[0]);
      clients_reply_error(c, r, "not_found", err);
      return;
    }
    if (!admin && strcmp(t->owner, v->actor) != 0) {
      snprintf(err, sizeof err,
               "token %" PRIu64 " is %s's: only its owner or an admin "
               "revokes it",
               t->id, t->owner);
      clients_reply_error(c, r, "forbidden", err);
      return;
    }
  } else {
    const char *name = req->name ? req->name : "";
    if (!ident_valid(name)) {
      snprintf(err, sizeof err, "expected a token's name or id, not '%.64s'", name);
      clients_reply_error(c, r, "bad_request", err);
      return;
    }
    /* Yours first; an admin's name may also name one other owner's. */
    htoken_t *other = NULL;
    size_t others = 0;
    for (size_t i = 0; i < a->ntokens; i++) {
      htoken_t *k = &a->tokens[i];
      if (k->revoked_us || strcmp(k->name, name) != 0)
        continue;
      if (!strcmp(k->owner, v->actor))
        t = k;
      else if (admin)
        other = k, others++;
    }
    if (!t && others == 1)
      t = other;
    if (!t) {
      if (others > 1)
        snprintf(err, sizeof err,
                 "%zu owners have a token named %s: give its id (clapper "
                 "token list)",
                 others, name);
      else
        snprintf(err, sizeof err, "no token named %s that is not revoked", name);
      clients_reply_error(c, r, others > 1 ? "conflict" : "not_found", err);
      return;
    }
  }
  if (t->revoked_us) {
    snprintf(err, sizeof err, "token %" PRIu64 " (%s) is revoked already", t->id, t->name);
    clients_reply_error(c, r, "conflict", err);
    return;
  }
  token_revoke(c, t, v->actor, NULL);
  clients_reply_durable(c, r, json_pack("{s:o}", "token", token_json(t, util_wall_us())));
}

void httpauth_key_removed(coord_t *c, const char *name) {
  httpauth_t *a = c->httpauth;
  if (!a || !name)
    return;
  for (size_t i = 0; i < a->nsessions;)
    if (!strcmp(a->sessions[i].name, name))
      session_end(a, &a->sessions[i]);
    else
      i++;
  for (size_t i = 0; i < a->nlinks;)
    if (!strcmp(a->links[i].name, name))
      a->links[i] = a->links[--a->nlinks];
    else
      i++;
  for (size_t i = 0; i < a->ntokens; i++)
    if (!a->tokens[i].revoked_us && !strcmp(a->tokens[i].owner, name))
      token_revoke(c, &a->tokens[i], "coordinator", "its owner's key was removed");
}

/* ------------------------------------------------------------ routes */

static void cookie_header(coord_t *c, const char *value, int max_age, char *out, size_t len) {
  snprintf(out, len, HTTPAUTH_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", value,
           max_age, http_tls(c) ? "; Secure" : "");
}

static void route_signin(coord_t *c, http_req_t *h) {
  char err[300], cookie[64], set[200];
  hsession_t *s = NULL;
  if (signin(c, http_query(h, "link"), &s, cookie, err, sizeof err) < 0) {
    http_reply_error(h, "unauthorized", err);
    return;
  }
  cookie_header(c, cookie, HTTPAUTH_SESSION_S, set, sizeof set);
  sodium_memzero(cookie, sizeof cookie);
  const char *headers[] = {
      "Location",        "/",           "Set-Cookie", set, "Cache-Control", "no-store",
      "Referrer-Policy", "no-referrer", NULL};
  static const char body[] = "signed in; continue at /\n";
  http_reply(h, 303, "text/plain; charset=utf-8", body, sizeof body - 1, headers);
  sodium_memzero(set, sizeof set);
}

static void route_signout(coord_t *c, http_req_t *h) {
  const http_ident_t *id = http_ident(h);
  if (!id || id->kind != HTTP_AUTH_SESSION) {
    http_reply_error(h, "bad_request",
                     "an API token has no session to end: revoke it with clapper token revoke");
    return;
  }
  httpauth_t *a = get(c);
  hsession_t *s = session_by_id(a, id->id);
  if (s) {
    log_info("%s signed out of the web: session %" PRIu64, s->name, s->id);
    session_end(a, s);
  }
  char set[200];
  cookie_header(c, "", 0, set, sizeof set);
  const char *headers[] = {"Set-Cookie", set, "Cache-Control", "no-store", NULL};
  char *doc = jsondoc_versioned("{\"signed_out\":true}");
  http_reply(h, 200, "application/json", doc, strlen(doc), headers);
  free(doc);
}

static void route_session(coord_t *c, http_req_t *h) {
  const http_ident_t *id = http_ident(h);
  if (!id || id->kind == HTTP_AUTH_NONE) {
    http_reply_error(h, "unauthorized", "sign in first (clapper web)");
    return;
  }
  char expires[40] = "";
  json_t *doc = json_pack("{s:s,s:s,s:s}", "name", id->name, "role", role_name(id->role), "kind",
                          id->kind == HTTP_AUTH_SESSION ? "session" : "token");
  if (id->kind == HTTP_AUTH_SESSION) {
    const hsession_t *s = session_by_id(c->httpauth, id->id);
    if (s) {
      json_object_set_new(doc, "csrf", json_string(s->csrf));
      iso(s->expires_us, expires, sizeof expires);
    }
  } else {
    const htoken_t *t = token_by_id(c->httpauth, id->id);
    if (t) {
      json_object_set_new(doc, "token_id", json_integer((json_int_t)t->id));
      json_object_set_new(doc, "token_name", json_string(t->name));
      iso(t->expires_us, expires, sizeof expires);
    }
  }
  json_object_set_new(doc, "expires", expires[0] ? json_string(expires) : json_null());
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  char *v = jsondoc_versioned(text);
  const char *headers[] = {"Cache-Control", "no-store", NULL};
  http_reply(h, 200, "application/json", v, strlen(v), headers);
  sodium_memzero(text, strlen(text));
  sodium_memzero(v, strlen(v));
  free(text);
  free(v);
}

static const http_route_t routes[] = {
    {"GET", "/auth/signin", route_signin, HTTP_ROUTE_PUBLIC},
    {"POST", "/auth/signout", route_signout, HTTP_ROUTE_WRITES},
    {"GET", "/api/v1/session", route_session, 0},
};

void httpauth_routes(coord_t *c) {
  get(c);
  http_add_routes(c, routes, ARRAY_SIZE(routes));
}
