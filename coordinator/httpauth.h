/*
 * httpauth.h - who an HTTP request acts for: API tokens and browser
 * sessions, both bound to a name in the key registry (auth.h).
 *
 * The HTTP core (http.c) asks httpauth_identify for every request and
 * httpauth_csrf_ok for every change made with a session cookie.  The role
 * and the name are looked up at each request, so a revoked token or a
 * removed key stops at once.
 */
#ifndef CLAPPER_HTTPAUTH_H
#define CLAPPER_HTTPAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "model.h"

/* The browser session's cookie. */
#define HTTPAUTH_COOKIE "clapper_session"

/* From the Authorization header ("Bearer TOKEN") or the session cookie
 * (either may be NULL): 0 with *out filled, or -1 with a one-line reason
 * in err (the core answers 401 unless the route is public). */
int httpauth_identify(coord_t *c, const char *authorization, const char *session_cookie,
                      http_ident_t *out, char *err, size_t errlen);

/* Whether header (X-CSRF-Token, may be NULL) is the CSRF token of the
 * session id acts for. */
bool httpauth_csrf_ok(coord_t *c, const http_ident_t *id, const char *header);

#endif
