/*
 * httpauth.h - who an HTTP request acts for: sign-in links, browser
 * sessions and API tokens.
 *
 * Identity stays the key registry (auth.h).  Nobody types a password:
 *
 *  - `clapper web` asks, over the authenticated ZeroMQ socket, for a
 *    single-use sign-in link (VERB_WEB_LINK), bound to the caller's key
 *    name and role and valid --http-link-ttl-ms (60 s).  The browser trades
 *    it (GET /auth/signin?link=SECRET) for a session cookie, clapper_session
 *    (HttpOnly, SameSite=Strict, Path=/, Secure under TLS, 12 h), and reads
 *    the session's CSRF token from GET /api/v1/session; a cookie session's
 *    writes carry it back in X-CSRF-Token (the core asks httpauth_csrf_ok).
 *    POST /auth/signout ends the session.  Links and sessions live in
 *    memory only: a restart signs everyone out.
 *  - Scripts use API tokens, `Authorization: Bearer clp_<id>_<secret>`,
 *    made with `clapper token create NAME [--role R] [--expires 30d]`
 *    (VERB_TOKEN_CREATE: shown once), listed and revoked with `clapper token
 *    list|revoke`.  A token acts for its owner (the key that made it) with
 *    a role no higher than the owner's: an admin may give any role but
 *    worker, anyone else only their own.  Tokens are rows of the tokens
 *    table (sql/017_http_auth.sql), written through store batches with an
 *    event naming the person, and loaded into memory at start, so checking
 *    a request never touches the database.
 *
 * Who decides what: this module says who a request acts for and whether a
 * cookie session's write carries its CSRF token; what that role may do is
 * the verb table's (verbs.h), applied by the HTTP core (http.c).  The role
 * is looked up at every request: a session or token whose key is no longer
 * registered (or registered with another role) is refused, and removing a
 * key (auth_remove, which calls httpauth_key_removed) ends its sessions and
 * revokes its tokens at once.  Without --keys nothing is registered and
 * every ZeroMQ client is the admin "anonymous": links and tokens are then
 * issued for "anonymous", but an HTTP request still needs a session or a
 * token (a browser is never an anonymous admin).
 *
 * Secrets: only hashes (SHA-256) of link, cookie and token secrets are
 * kept, in memory and in the database, and compared in constant time
 * (sodium_memcmp); each secret is 32 random bytes (randombytes_buf), sent
 * as 43 characters of unpadded base64url.  No secret reaches the log, the
 * event log or an error message; a token's text is shown once, in the
 * reply that created it.
 */
#ifndef CLAPPER_HTTPAUTH_H
#define CLAPPER_HTTPAUTH_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "model.h"
#include "verbs.h"

#define HTTPAUTH_COOKIE "clapper_session"
#define HTTPAUTH_CSRF_HEADER "X-CSRF-Token"
#define HTTPAUTH_SESSION_S (12 * 3600)            /* a browser session's life */
#define HTTPAUTH_TOKEN_DEFAULT_S (90LL * 86400)   /* a token's, when not said */
#define HTTPAUTH_TOKEN_MAX_S (365LL * 86400)
#define HTTPAUTH_TOKEN_PREFIX "clp_"
#define HTTPAUTH_SECRET_BYTES 32
#define HTTPAUTH_SECRET_CHARS 43 /* base64url, no padding, of 32 bytes */
#define HTTPAUTH_LINKS_MAX 1024      /* sign-in links not used nor expired */
#define HTTPAUTH_SESSIONS_MAX 10000  /* sessions not ended nor expired */
#define HTTPAUTH_TOKENS_PER_OWNER 100 /* tokens of one owner neither revoked nor expired */

/* Loads the tokens (start-up, synchronous, after migrations) as
 * c->httpauth.  0, or -1 with err. */
int httpauth_init(coord_t *c, PGconn *conn, char *err, size_t errlen) MUSTCHECK;

/* Releases links, sessions and tokens.  Safe when httpauth_init never ran. */
void httpauth_free(coord_t *c);

/* Registers GET /auth/signin (public), POST /auth/signout and GET
 * /api/v1/session with the HTTP core (http_add_routes). */
void httpauth_routes(coord_t *c);

/* Who a request acts for, from its Authorization header ("Bearer TOKEN";
 * when present it alone counts) or else its clapper_session cookie (either
 * may be NULL).  0 with *out filled, or -1 with a one-line reason in err
 * (the core answers 401 "unauthorized" with it); never names a secret. */
int httpauth_identify(coord_t *c, const char *authorization_header, const char *session_cookie,
                      http_ident_t *out, char *err, size_t errlen);

/* Whether a write by id may go ahead as far as CSRF goes: always for a
 * token, for a cookie session only when header_value (X-CSRF-Token) is its
 * CSRF token. */
bool httpauth_csrf_ok(coord_t *c, const http_ident_t *id, const char *header_value);

/* The key registered under name was removed: its sessions end and its
 * tokens are revoked (rows and an event each, in the batch accumulating),
 * at once.  Its unused sign-in links are dropped. */
void httpauth_key_removed(coord_t *c, const char *name);

/* Verb handlers (verbs.c). */
void httpauth_web_link(coord_t *c, creq_t *r, const verb_call_t *v);
void httpauth_token_create(coord_t *c, creq_t *r, const verb_call_t *v);
void httpauth_token_list(coord_t *c, creq_t *r, const verb_call_t *v);
void httpauth_token_revoke(coord_t *c, creq_t *r, const verb_call_t *v);

/* ------------------------------------------------------------ parts (tested alone) */

/* A token's lifetime: "" (90 days) or a positive integer and one unit, s m
 * h d ("30d", "12h"), at most 365 days.  0 with *seconds, or -1 with a
 * one-line reason in err. */
int httpauth_parse_expiry(const char *text, int64_t *seconds, char *err, size_t errlen)
    MUSTCHECK;

/* Splits an API token's text "clp_<id>_<43 base64url characters>": 0 with
 * *id, or -1 when it is not one (the secret is not looked at otherwise). */
int httpauth_token_parse(const char *text, uint64_t *id) MUSTCHECK;

/* Whether a and b (alen and blen bytes) are the same, in a time that
 * depends on the lengths only. */
bool httpauth_same(const void *a, size_t alen, const void *b, size_t blen);

#endif
