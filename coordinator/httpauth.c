/*
 * httpauth.c - a stand-in until API tokens and sign-in links land: only a
 * development token from the environment (CLAPPER_HTTP_DEV_TOKEN) is
 * accepted, acting as an admin named "anonymous".  Not for release.
 */
#include "httpauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int httpauth_identify(coord_t *c, const char *authorization, const char *session_cookie,
                      http_ident_t *out, char *err, size_t errlen) {
  (void)c;
  (void)session_cookie;
  const char *dev = getenv("CLAPPER_HTTP_DEV_TOKEN");
  if (dev && *dev && authorization && !strncmp(authorization, "Bearer ", 7) &&
      !strcmp(authorization + 7, dev)) {
    memset(out, 0, sizeof *out);
    out->kind = HTTP_AUTH_TOKEN;
    snprintf(out->name, sizeof out->name, "anonymous");
    out->role = ROLE_ADMIN;
    return 0;
  }
  snprintf(err, errlen, "sign in first: an API token (Authorization: Bearer) or a session");
  return -1;
}

bool httpauth_csrf_ok(coord_t *c, const http_ident_t *id, const char *header) {
  (void)c;
  (void)id;
  (void)header;
  return false;
}
