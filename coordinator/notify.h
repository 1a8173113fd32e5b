/*
 * notify.h - notifications: webhooks posted when something people wait
 * for happens (a take is ready for review, a job failed, an episode is
 * held by its budget, a worker was lost).
 *
 * Source.  Every event of the log reaches notify.c through the store's
 * tap (store_tap) once its batch committed, so nothing is announced that
 * the database might still refuse, and the announcement names the event
 * by its position in the log (events.seq).  The notification kinds and
 * the events they come from:
 *   take.ready    take.ready (review.c, when a take is recorded)
 *   job.failed    job.state with to = failed
 *   episode.held  episode.held (cost.c)
 *   worker.lost   worker.state with to = lost
 * --notify-events chooses among them (default: all four).
 *
 * Delivery.  Each event goes to every --notify URL as an HTTP POST of
 *   {"text": "<one line for people, Slack-compatible>",
 *    "event": {"id": seq, "kind": "job.failed", "log_kind": "job.state",
 *              "at": "2026-12-01T08:00:00.000000Z", "actor", "subject_type",
 *              "subject_id", "details": {...}}}
 * with the headers X-Clapper-Event (the kind), X-Clapper-Delivery (the
 * seq), X-Clapper-Timestamp (unix seconds, of this try) and
 * X-Clapper-Signature: "sha256=" HEX(HMAC-SHA256(secret, timestamp "."
 * body)).  The secret is the text of --notify-secret FILE (default
 * KEYS/notify.key with --keys) without its trailing blanks and newlines,
 * made there on first start (64 random hex digits, mode 0600).
 *
 * Who decides what:
 *  - libcurl's multi interface runs the requests on the coordinator's
 *    loop (a uv_poll per socket, a uv_timer for its timeouts; its
 *    threaded resolver, so no name lookup blocks the loop): at most
 *    NOTIFY_MAX_INFLIGHT at a time per webhook (one that hangs holds up
 *    no other), each within NOTIFY_TIMEOUT_MS (connect
 *    NOTIFY_CONNECT_TIMEOUT_MS), no redirects, the response discarded;
 *  - a 2xx answer delivers; a connection error, a timeout, a 5xx or a 429
 *    is tried again after notify_backoff_ms, at most NOTIFY_MAX_TRIES
 *    tries; any other answer (3xx, 4xx) is dropped with a warning;
 *  - the queue (waiting, in flight and waiting to be tried again) holds
 *    at most --notify-queue deliveries: one more is dropped and counted,
 *    with a rate-limited warning naming the count.  Nothing waits for a
 *    webhook: dispatch, commits and clients go on whatever the receivers
 *    do;
 *  - on stop (notify_stop) the deliveries waiting for another try are
 *    dropped; those in flight and new ones get NOTIFY_GRACE_MS from the
 *    stop, then whatever is left is dropped (logged).
 *
 * Logs name a webhook by scheme, host and port only: the path of a chat
 * webhook's URL is often its secret.
 */
#ifndef CLAPPER_NOTIFY_H
#define CLAPPER_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define NOTIFY_MAX_URLS 16
#define NOTIFY_MAX_INFLIGHT 8      /* requests in flight per webhook */
#define NOTIFY_TIMEOUT_MS 10000
#define NOTIFY_CONNECT_TIMEOUT_MS 5000
#define NOTIFY_MAX_TRIES 8
#define NOTIFY_BACKOFF_FIRST_MS 1000
#define NOTIFY_BACKOFF_MAX_MS 300000
#define NOTIFY_GRACE_MS 2000
#define NOTIFY_MAX_BODY 65536      /* a body; a bigger one is sent without the details */
#define NOTIFY_SECRET_MAX 4096     /* bytes of the secret file */
#define NOTIFY_DEFAULT_EVENTS "take.ready,job.failed,episode.held,worker.lost"

/* The notification kinds, as bits of a filter. */
typedef enum notify_kind {
  NOTIFY_TAKE_READY = 0,
  NOTIFY_JOB_FAILED,
  NOTIFY_EPISODE_HELD,
  NOTIFY_WORKER_LOST,
  NOTIFY_KIND_COUNT
} notify_kind_t;

/* Settings (main.c fills them from its options). */
typedef struct notify_settings {
  const char *const *urls; /* --notify, in order */
  size_t nurls;
  const char *events;      /* --notify-events: a comma list; NULL: the default */
  const char *secret_file; /* --notify-secret; NULL: KEYS/notify.key with keys_dir */
  const char *keys_dir;    /* --keys, or NULL */
  long long queue;         /* --notify-queue */
} notify_settings_t;

/* Counters since start. */
typedef struct notify_stats {
  uint64_t sent;    /* delivered (answered 2xx) */
  uint64_t failed;  /* given up: refused (3xx, 4xx but 429) or out of tries */
  uint64_t dropped; /* never tried to the end: the queue was full, or the coordinator stopped */
  uint64_t retried; /* tries that failed and were tried again */
  uint64_t queued;  /* in the queue now (waiting, in flight, waiting to be tried again) */
} notify_stats_t;

/* Checks the settings without doing anything (the command line, before
 * the start connects anywhere): the URLs, the event names, that there is
 * a secret.  0, or -1 with a one-line err. */
int notify_check(const notify_settings_t *s, char *err, size_t errlen) MUSTCHECK;

/* Checks the settings, loads or makes the secret, and starts notifying
 * on c's loop as c->notify (registering with the store's tap).  With no
 * URL it does nothing.  Start-up only.  0, or -1 with a one-line err. */
int notify_open(coord_t *c, const notify_settings_t *s, char *err, size_t errlen) MUSTCHECK;

/* The coordinator stops: see above.  Safe without notify_open. */
void notify_stop(coord_t *c);

/* Closes every handle once nothing is left to deliver (or at once when
 * now is true): the loop ends without waiting for anything of notify's
 * afterwards.  Safe twice and without notify_open. */
void notify_close(coord_t *c, bool now);

/* Frees c->notify after its handles closed (after notify_close and a turn
 * of the loop).  Safe without notify_open. */
void notify_free(coord_t *c);

/* The counters (zeros without notify_open). */
void notify_stats(const coord_t *c, notify_stats_t *out);

/* ---- parts, for the unit tests */

/* Parses a comma list of notification kinds into a bit mask (bit k:
 * notify_kind_t k).  Blanks around names are ignored; an empty list, an
 * empty item or an unknown name is refused.  0, or -1 with err. */
int notify_parse_events(const char *list, unsigned *mask, char *err, size_t errlen);

/* The name of kind k ("take.ready"). */
const char *notify_kind_name(notify_kind_t k);

/* The notification an event of the log makes (kind, details JSON text),
 * or -1 for none. */
int notify_kind_of(const char *log_kind, const char *details_json);

/* The wait before try `tries` + 1 after `tries` (>= 1) failed tries:
 * NOTIFY_BACKOFF_FIRST_MS doubled each time, at most NOTIFY_BACKOFF_MAX_MS. */
uint64_t notify_backoff_ms(unsigned tries);

/* out = "sha256=" followed by the 64 hex digits of HMAC-SHA256(key,
 * TIMESTAMP "." body). */
#define NOTIFY_SIG_LEN (7 + 64)
void notify_sign(const uint8_t *key, size_t keylen, int64_t timestamp, const char *body,
                 size_t len, char out[NOTIFY_SIG_LEN + 1]);

/* "scheme://host:port" of url (what logs name), or NULL for a URL that is
 * not http:// or https:// with a host.  Free with free(). */
char *notify_url_origin(const char *url);

/* Escapes &, < and > for Slack's text formatting (free with free()). */
char *notify_slack_escape(const char *text);

#endif
