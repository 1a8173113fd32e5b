/*
 * test_httpauth.c - the parts of coordinator/httpauth.c that stand alone:
 * a token's lifetime ("30d": units, bounds, junk), the text of an API
 * token (clp_<id>_<43 base64url characters>, every malformed variant
 * refused), the constant-time comparison, and identification refusing
 * what is not a credential (no header nor cookie, another scheme, a
 * malformed or unknown token, a forged cookie), never echoing a secret.
 * The flows through a real coordinator (links, sessions, tokens, CSRF,
 * revocation, removed keys) are tests/integration/t_http_auth.sh.
 */
#include <string.h>

#include "check.h"
#include "httpauth.h"
#include "log.h"
#include "memcoord.h"
#include "store.h"

static void test_expiry(void) {
  char err[200];
  int64_t s = -1;
  CHECK_INT(httpauth_parse_expiry(NULL, &s, err, sizeof err), 0);
  CHECK_INT(s, 90LL * 86400);
  CHECK_INT(httpauth_parse_expiry("", &s, err, sizeof err), 0);
  CHECK_INT(s, 90LL * 86400);
  const struct {
    const char *text;
    int64_t s;
  } ok[] = {{"1s", 1},          {"90s", 90},         {"15m", 900},         {"12h", 43200},
            {"30d", 2592000},   {"365d", 31536000},  {"8760h", 31536000}, {"525600m", 31536000},
            {"31536000s", 31536000}, {"007d", 7 * 86400}};
  for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
    s = -1;
    CHECK_INT(httpauth_parse_expiry(ok[i].text, &s, err, sizeof err), 0);
    CHECK_INT(s, ok[i].s);
  }
  const char *bad[] = {"0d", "0s", "366d", "8761h", "31536001s", "d", "30", "30 d", " 30d",
                       "30dd", "30D", "30w", "-1d", "+1d", "1.5d", "99999999999d",
                       "1000000000s", "30d\n", "x"};
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    err[0] = '\0';
    s = 42;
    CHECK_INT(httpauth_parse_expiry(bad[i], &s, err, sizeof err), -1);
    CHECK_INT(s, 42);
    CHECK_CONTAINS(err, "expires: ");
    CHECK(strchr(err, '\n') == NULL);
  }
  CHECK_INT(httpauth_parse_expiry("366d", &s, err, sizeof err), -1);
  CHECK_CONTAINS(err, "not between 1s and 365d");
  CHECK_INT(httpauth_parse_expiry("30w", &s, err, sizeof err), -1);
  CHECK_CONTAINS(err, "not a duration");
}

#define SECRET43 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234"

static void test_token_format(void) {
  CHECK_INT(strlen(SECRET43), HTTPAUTH_SECRET_CHARS);
  uint64_t id = 0;
  CHECK_INT(httpauth_token_parse("clp_12_" SECRET43, &id), 0);
  CHECK_INT(id, 12);
  CHECK_INT(httpauth_token_parse("clp_9223372036854775807_" SECRET43, &id), 0);
  CHECK(id == 9223372036854775807ULL);
  /* The secret may itself hold '_' and '-': only the first '_' after the
   * digits splits. */
  CHECK_INT(httpauth_token_parse("clp_3_" "___________________________________________", &id), 0);
  CHECK_INT(id, 3);
  const char *bad[] = {
      "",
      "clp_",
      "clp__" SECRET43,
      "clp_0_" SECRET43,                     /* ids start at 1 */
      "clp_012_" SECRET43,                   /* no leading zeros */
      "clp_9223372036854775808_" SECRET43,   /* past INT64_MAX */
      "clp_99999999999999999999_" SECRET43,  /* 20 digits */
      "clp_12" SECRET43,                     /* no separator */
      "clp_12-" SECRET43,
      "clp_12_" SECRET43 "a",                /* 44 characters */
      "clp_12_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123", /* 42 */
      "clp_12_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ+/01234", /* base64, not base64url */
      "clp_12_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123=",
      "CLP_12_" SECRET43,
      "clq_12_" SECRET43,
      " clp_12_" SECRET43,
      "clp_12_" SECRET43 " ",
      "clp_-12_" SECRET43,
      "clp_12_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123\n",
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    id = 77;
    if (httpauth_token_parse(bad[i], &id) != -1)
      fprintf(stderr, "accepted as a token: '%s'\n", bad[i]);
    CHECK_INT(httpauth_token_parse(bad[i], &id), -1);
    CHECK_INT(id, 77);
  }
  CHECK_INT(httpauth_token_parse(NULL, &id), -1);
}

static void test_same(void) {
  CHECK(httpauth_same("abc", 3, "abc", 3));
  CHECK(!httpauth_same("abc", 3, "abd", 3));
  CHECK(!httpauth_same("abc", 3, "xbc", 3));
  CHECK(!httpauth_same("abc", 3, "abcd", 4)); /* a prefix is not the same */
  CHECK(!httpauth_same("abcd", 4, "abc", 3));
  CHECK(httpauth_same("", 0, "", 0));
  CHECK(!httpauth_same("", 0, "a", 1));
  unsigned char a[32], b[32];
  memset(a, 0x5a, sizeof a);
  memcpy(b, a, sizeof b);
  CHECK(httpauth_same(a, sizeof a, b, sizeof b));
  for (size_t i = 0; i < sizeof b; i++) { /* a difference anywhere counts */
    b[i] ^= 1;
    CHECK(!httpauth_same(a, sizeof a, b, sizeof b));
    b[i] ^= 1;
  }
}

/* identify refuses with err, leaving *out an identity of nobody. */
static void refused(coord_t *c, const char *authz, const char *cookie, const char *want) {
  http_ident_t id = {.kind = HTTP_AUTH_TOKEN, .role = 3};
  char err[300] = "";
  CHECK_INT(httpauth_identify(c, authz, cookie, &id, err, sizeof err), -1);
  CHECK_INT(id.kind, HTTP_AUTH_NONE);
  CHECK_STR(id.name, "");
  CHECK_CONTAINS(err, want);
  CHECK(strchr(err, '\n') == NULL);
  CHECK(strstr(err, "SECRETSECRET") == NULL); /* no secret echoed */
  CHECK(!httpauth_csrf_ok(c, &id, "x"));
}

static void test_identify_refusals(void) {
  coord_t *c = memcoord_new();
  refused(c, NULL, NULL, "sign in first");
  refused(c, NULL, "", "sign in first");
  refused(c, "Basic dXNlcjpwYXNz", NULL, "expected Bearer");
  refused(c, "Bearer", NULL, "expected Bearer");
  refused(c, "Bearer SECRETSECRET", NULL, "not an API token");
  refused(c, "Bearer clp_1_SECRETSECRET", NULL, "not an API token");
  refused(c, "bearer clp_5_" SECRET43, NULL, "API token 5: unknown or wrong");
  refused(c, "Bearer   clp_5_" SECRET43 "  ", NULL, "API token 5: unknown or wrong");
  /* The header counts alone: a cookie beside a bad header does not help. */
  refused(c, "Bearer nope", "1." SECRET43, "not an API token");
  refused(c, NULL, "1." SECRET43, "session is unknown or has ended");
  refused(c, NULL, "SECRETSECRET", "session is unknown or has ended");
  refused(c, NULL, "0." SECRET43, "session is unknown");
  refused(c, NULL, "1_" SECRET43, "session is unknown");
  char big[400];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  memcpy(big, "Bearer ", 7);
  refused(c, big, NULL, "too long");
  /* A token needs no CSRF token; nobody and sessions that do not exist do. */
  http_ident_t tok = {.kind = HTTP_AUTH_TOKEN, .id = 5};
  CHECK(httpauth_csrf_ok(c, &tok, NULL));
  http_ident_t ses = {.kind = HTTP_AUTH_SESSION, .id = 1};
  CHECK(!httpauth_csrf_ok(c, &ses, NULL));
  CHECK(!httpauth_csrf_ok(c, &ses, SECRET43));
  /* A key removed with nothing of it here changes nothing. */
  httpauth_key_removed(c, "alice");
  CHECK(store_idle(c));
  httpauth_free(c);
  httpauth_free(c); /* twice is safe */
  memcoord_free(c);
}

int main(void) {
  log_init("test_httpauth", LOG_LVL_ERROR);
  test_expiry();
  test_token_format();
  test_same();
  test_identify_refusals();
  return check_report("httpauth");
}
