/*
 * test_notify.c - the parts of the webhooks that decide without a network
 * (notify.h): the signature against a known value (worked out with
 * Python's hmac module: HMAC-SHA256 over TIMESTAMP "." BODY), the back-off
 * schedule, the --notify-events list, which log events make which
 * notification, the origin logs name a webhook by (never its path), the
 * Slack escapes and the checks of the settings.  Deliveries themselves
 * run through a real farm in integration.notify.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "notify.h"

static void test_sign(void) {
  const char *key = "0123456789abcdef0123456789abcdef";
  const char *body = "{\"text\":\"hi\"}";
  char sig[NOTIFY_SIG_LEN + 1];
  notify_sign((const uint8_t *)key, strlen(key), 1700000000, body, strlen(body), sig);
  CHECK_STR(sig, "sha256=ac0ad1bf4146cca883572bbc9bfceade2f62e36ec39d359a9121178dfe0d026c");
  CHECK_INT(strlen(sig), NOTIFY_SIG_LEN);
  /* The timestamp, the body and the key each change it. */
  char other[NOTIFY_SIG_LEN + 1];
  notify_sign((const uint8_t *)key, strlen(key), 1700000001, body, strlen(body), other);
  CHECK(strcmp(sig, other) != 0);
  notify_sign((const uint8_t *)key, strlen(key), 1700000000, body, strlen(body) - 1, other);
  CHECK(strcmp(sig, other) != 0);
  notify_sign((const uint8_t *)key, strlen(key) - 1, 1700000000, body, strlen(body), other);
  CHECK(strcmp(sig, other) != 0);
}

static void test_backoff(void) {
  const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000,
                           300000};
  for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
    CHECK_INT(notify_backoff_ms(i + 1), want[i]);
  CHECK_INT(notify_backoff_ms(1000), NOTIFY_BACKOFF_MAX_MS);
  CHECK_INT(notify_backoff_ms(0), NOTIFY_BACKOFF_FIRST_MS);
  /* The tries a delivery gets wait 1+2+...+64 s in all: about two minutes. */
  uint64_t total = 0;
  for (unsigned t = 1; t < NOTIFY_MAX_TRIES; t++)
    total += notify_backoff_ms(t);
  CHECK_INT(total, 127000);
}

static void test_events(void) {
  unsigned m = 99;
  char err[256];
  CHECK_INT(notify_parse_events(NULL, &m, err, sizeof err), 0);
  CHECK_INT(m, 0xf);
  CHECK_INT(notify_parse_events(NOTIFY_DEFAULT_EVENTS, &m, err, sizeof err), 0);
  CHECK_INT(m, 0xf);
  CHECK_INT(notify_parse_events("take.ready", &m, err, sizeof err), 0);
  CHECK_INT(m, 1u << NOTIFY_TAKE_READY);
  CHECK_INT(notify_parse_events(" job.failed ,worker.lost,job.failed", &m, err, sizeof err), 0);
  CHECK_INT(m, (1u << NOTIFY_JOB_FAILED) | (1u << NOTIFY_WORKER_LOST));
  CHECK_INT(notify_parse_events("take.ready,bogus", &m, err, sizeof err), -1);
  CHECK_CONTAINS(err, "unknown event 'bogus'");
  CHECK_CONTAINS(err, "--notify-events");
  CHECK_INT(notify_parse_events("", &m, err, sizeof err), -1);
  CHECK_CONTAINS(err, "empty");
  CHECK_INT(notify_parse_events("take.ready,,job.failed", &m, err, sizeof err), -1);
  CHECK_INT(notify_parse_events("take.ready,", &m, err, sizeof err), -1);
  CHECK_INT(notify_parse_events("Take.Ready", &m, err, sizeof err), -1);
  CHECK_INT(notify_parse_events("take.readyx", &m, err, sizeof err), -1);
  CHECK_INT(notify_parse_events("take", &m, err, sizeof err), -1);
  for (int k = 0; k < NOTIFY_KIND_COUNT; k++) {
    CHECK_INT(notify_parse_events(notify_kind_name((notify_kind_t)k), &m, err, sizeof err), 0);
    CHECK_INT(m, 1u << k);
  }
}

static void test_kind_of(void) {
  CHECK_INT(notify_kind_of("take.ready", "{\"job\":7}"), NOTIFY_TAKE_READY);
  CHECK_INT(notify_kind_of("episode.held", "{}"), NOTIFY_EPISODE_HELD);
  CHECK_INT(notify_kind_of("episode.released", "{}"), -1);
  CHECK_INT(notify_kind_of("job.state", "{\"from\":\"running\",\"reason\":\"\",\"to\":\"failed\"}"),
            NOTIFY_JOB_FAILED);
  CHECK_INT(notify_kind_of("job.state", "{\"from\":\"running\",\"to\":\"succeeded\"}"), -1);
  CHECK_INT(notify_kind_of("job.state", "{\"from\":\"failed\",\"to\":\"queued\"}"), -1);
  CHECK_INT(notify_kind_of("worker.state", "{\"from\":\"online\",\"to\":\"lost\"}"),
            NOTIFY_WORKER_LOST);
  CHECK_INT(notify_kind_of("worker.state", "{\"from\":\"lost\",\"to\":\"online\"}"), -1);
  CHECK_INT(notify_kind_of("job.cancel", "{\"to\":\"failed\"}"), -1);
  CHECK_INT(notify_kind_of("job.state", "not json"), -1);
  CHECK_INT(notify_kind_of("job.state", "{\"to\":1}"), -1);
  CHECK_INT(notify_kind_of("job.state", NULL), -1);
  CHECK_INT(notify_kind_of(NULL, "{}"), -1);
}

static void test_origin(void) {
  char *o = notify_url_origin("http://127.0.0.1:8080/hook/secret?x=1");
  CHECK_STR(o, "http://127.0.0.1:8080");
  free(o);
  o = notify_url_origin("https://hooks.example.com/services/T0/B0/XXXX");
  CHECK_STR(o, "https://hooks.example.com:443");
  free(o);
  o = notify_url_origin("http://user:pw@example.com/x");
  CHECK_STR(o, "http://example.com:80");
  free(o);
  const char *bad[] = {"ftp://example.com/", "file:///etc/passwd", "http://", "example.com/x",
                       "http://exa mple.com/", "http://example.com/\n", "", "gopher://x/",
                       "javascript:alert(1)"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    o = notify_url_origin(bad[i]);
    if (o)
      fprintf(stderr, "accepted %s as %s\n", bad[i], o);
    CHECK(o == NULL);
    free(o);
  }
  char *longurl = malloc(3000);
  memcpy(longurl, "http://x/", 9);
  memset(longurl + 9, 'a', 2990);
  longurl[2999] = '\0';
  CHECK(notify_url_origin(longurl) == NULL);
  free(longurl);
}

static void test_escape(void) {
  char *e = notify_slack_escape("job 7 <gen> failed: a && b > c");
  CHECK_STR(e, "job 7 &lt;gen&gt; failed: a &amp;&amp; b &gt; c");
  free(e);
  e = notify_slack_escape("");
  CHECK_STR(e, "");
  free(e);
}

static void test_check(void) {
  char err[256];
  const char *urls[] = {"http://127.0.0.1:9/hook", "https://example.com/x"};
  notify_settings_t s = {.urls = urls, .nurls = 2, .secret_file = "/tmp/x", .queue = 10};
  CHECK_INT(notify_check(&s, err, sizeof err), 0);
  s.nurls = 0;
  s.secret_file = NULL;
  CHECK_INT(notify_check(&s, err, sizeof err), 0); /* nothing to notify: nothing to check */
  s.nurls = 2;
  CHECK_INT(notify_check(&s, err, sizeof err), -1);
  CHECK_CONTAINS(err, "--notify-secret");
  s.keys_dir = "/etc/clapper/keys";
  CHECK_INT(notify_check(&s, err, sizeof err), 0);
  s.events = "take.ready,nope";
  CHECK_INT(notify_check(&s, err, sizeof err), -1);
  CHECK_CONTAINS(err, "'nope'");
  s.events = NULL;
  s.queue = 0;
  CHECK_INT(notify_check(&s, err, sizeof err), -1);
  s.queue = 1;
  const char *bad[] = {"http://127.0.0.1:9/hook", "ftp://example.com/"};
  s.urls = bad;
  CHECK_INT(notify_check(&s, err, sizeof err), -1);
  CHECK_CONTAINS(err, "ftp://example.com/");
  CHECK(strchr(err, '\n') == NULL);
}

int main(void) {
  test_sign();
  test_backoff();
  test_events();
  test_kind_of();
  test_origin();
  test_escape();
  test_check();
  return check_report("notify");
}
