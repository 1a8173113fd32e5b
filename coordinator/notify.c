/*
 * notify.c - webhooks from the event log, see notify.h.
 *
 * libcurl's multi interface on the loop, in its "socket action" form: it
 * says which sockets to watch (on_socket: a uv_poll each) and when to
 * call it back (on_curl_timer: one uv_timer); those call
 * curl_multi_socket_action, and finished transfers are collected with
 * curl_multi_info_read (check_done).  Deliveries wait in a heap by when
 * they are due (first come first for new ones; a retry is due after its
 * back-off), and at most NOTIFY_MAX_INFLIGHT are in libcurl's hands.
 */
#include "notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heap.h"
#include "keys.h"
#include "log.h"
#include "store.h"

#define NOTIFY_URL_MAX 2048
#define NOTIFY_RESPONSE_MAX 65536 /* bytes of an answer read (and thrown away) */

static const char *const kind_names[NOTIFY_KIND_COUNT] = {"take.ready", "job.failed",
                                                          "episode.held", "worker.lost"};

typedef struct hook {
  char *url;       /* as given */
  char *origin;    /* what logs say: scheme://host:port */
  heap_t waiting;  /* its delivery_t not in flight, by (due_ms, order) */
  size_t ninflight;
} hook_t;

/* One event for one webhook, until it is delivered or given up. */
typedef struct delivery {
  notify_t *n;
  uint64_t order;    /* ties between equal due times: first queued first */
  size_t hook;
  uint64_t seq;      /* the event's position in the log */
  notify_kind_t kind;
  char *body;        /* owned */
  size_t len;
  unsigned tries;    /* made so far */
  uint64_t due_ms;   /* loop time (uv_now) it may be tried at */
  size_t heap_pos;
  CURL *easy;        /* while in flight */
  struct curl_slist *headers;
  size_t got;        /* bytes of the answer seen */
  char error[CURL_ERROR_SIZE];
  struct delivery *prev, *next; /* the in-flight list */
} delivery_t;

/* A socket libcurl asked to watch. */
typedef struct sockctx {
  uv_poll_t poll;
  curl_socket_t fd;
  notify_t *n;
  struct sockctx *prev, *next;
} sockctx_t;

struct notify {
  coord_t *c;
  uv_loop_t *loop;
  hook_t *hooks;
  size_t nhooks;
  unsigned mask;          /* notify_kind_t bits */
  uint8_t *secret;
  size_t secretlen;
  size_t cap;             /* --notify-queue */
  CURLM *multi;
  uv_timer_t curl_timer;  /* libcurl's timeouts */
  uv_timer_t retry_timer; /* the next delivery waiting to be due */
  uv_timer_t grace_timer; /* the end of the grace after stop */
  size_t nwaiting;        /* over the hooks' heaps */
  delivery_t *inflight;
  size_t ninflight;
  sockctx_t *socks;
  uint64_t next_order;
  notify_stats_t st;
  uint64_t dropped_at_stop;
  bool stopping;          /* notify_stop ran: no more retries */
  bool closing;           /* notify_close waits for the queue to empty */
  bool closed;            /* handles closed: nothing more is taken */
  bool timers_closed;
};

/* ------------------------------------------------------------ parts */

const char *notify_kind_name(notify_kind_t k) {
  return (unsigned)k < NOTIFY_KIND_COUNT ? kind_names[k] : "?";
}

int notify_parse_events(const char *list, unsigned *mask, char *err, size_t errlen) {
  *mask = 0;
  if (!list)
    list = NOTIFY_DEFAULT_EVENTS;
  const char *p = list;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *s = p;
    while (len && (*s == ' ' || *s == '\t'))
      s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
      len--;
    if (!len)
      return util_fail(err, errlen, "--notify-events: an empty name in '%s' (known: %s)", list,
                       NOTIFY_DEFAULT_EVENTS);
    int k = -1;
    for (int i = 0; i < NOTIFY_KIND_COUNT; i++)
      if (strlen(kind_names[i]) == len && !strncmp(kind_names[i], s, len))
        k = i;
    if (k < 0)
      return util_fail(err, errlen, "--notify-events: unknown event '%.*s' (known: %s)",
                       (int)(len > 64 ? 64 : len), s, NOTIFY_DEFAULT_EVENTS);
    *mask |= 1u << k;
    if (!end)
      return 0;
    p = end + 1;
  }
}

/* The value of "to" in an event's details is `want`. */
static bool details_to(const char *details_json, const char *want) {
  json_t *d = json_loads(details_json ? details_json : "{}", 0, NULL);
  const char *to = json_string_value(json_object_get(d, "to"));
  bool yes = to && !strcmp(to, want);
  json_decref(d);
  return yes;
}

int notify_kind_of(const char *log_kind, const char *details_json) {
  if (!log_kind)
    return -1;
  if (!strcmp(log_kind, "take.ready"))
    return NOTIFY_TAKE_READY;
  if (!strcmp(log_kind, "episode.held"))
    return NOTIFY_EPISODE_HELD;
  if (!strcmp(log_kind, "job.state"))
    return details_to(details_json, "failed") ? NOTIFY_JOB_FAILED : -1;
  if (!strcmp(log_kind, "worker.state"))
    return details_to(details_json, "lost") ? NOTIFY_WORKER_LOST : -1;
  return -1;
}

uint64_t notify_backoff_ms(unsigned tries) {
  uint64_t ms = NOTIFY_BACKOFF_FIRST_MS;
  for (unsigned i = 1; i < tries && ms < NOTIFY_BACKOFF_MAX_MS; i++)
    ms *= 2;
  return ms < NOTIFY_BACKOFF_MAX_MS ? ms : NOTIFY_BACKOFF_MAX_MS;
}

void notify_sign(const uint8_t *key, size_t keylen, int64_t timestamp, const char *body,
                 size_t len, char out[NOTIFY_SIG_LEN + 1]) {
  crypto_auth_hmacsha256_state st;
  uint8_t mac[crypto_auth_hmacsha256_BYTES];
  char ts[24];
  int tslen = snprintf(ts, sizeof ts, "%" PRId64 ".", timestamp);
  crypto_auth_hmacsha256_init(&st, key, keylen);
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)ts, (size_t)tslen);
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, len);
  crypto_auth_hmacsha256_final(&st, mac);
  memcpy(out, "sha256=", 7);
  sodium_bin2hex(out + 7, 65, mac, sizeof mac);
  sodium_memzero(&st, sizeof st);
}

char *notify_url_origin(const char *url) {
  if (!url || strlen(url) > NOTIFY_URL_MAX)
    return NULL;
  for (const unsigned char *p = (const unsigned char *)url; *p; p++)
    if (*p <= ' ' || *p >= 0x7f)
      return NULL;
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
  if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK && *host &&
      (!strcmp(scheme, "http") || !strcmp(scheme, "https")))
    out = xasprintf("%s://%s:%s", scheme, host, port);
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return out;
}

char *notify_slack_escape(const char *text) {
  size_t n = 0;
  for (const char *p = text; *p; p++)
    n += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : 1;
  char *out = xmalloc(n + 1), *o = out;
  for (const char *p = text; *p; p++) {
    const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;
    if (rep) {
      memcpy(o, rep, strlen(rep));
      o += strlen(rep);
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

/* ------------------------------------------------------------ the secret */

/* Makes path with a new secret (64 random hex digits), mode 0600. */
static int make_secret(const char *path, uint8_t **key, size_t *len, char *err,
                       size_t errlen) {
  uint8_t raw[32];
  char hex[65];
  randombytes_buf(raw, sizeof raw);
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  sodium_memzero(raw, sizeof raw);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return util_fail(err, errlen, "cannot create the notification secret %s: %s", path,
                     strerror(errno));
  char line[66];
  memcpy(line, hex, 64);
  line[64] = '\n';
  bool ok = write(fd, line, 65) == 65 && fsync(fd) == 0;
  int e = errno;
  close(fd);
  sodium_memzero(line, sizeof line);
  if (!ok) {
    unlink(path);
    sodium_memzero(hex, sizeof hex);
    return util_fail(err, errlen, "cannot write the notification secret %s: %s", path,
                     strerror(e));
  }
  *key = xmalloc(64);
  memcpy(*key, hex, 64);
  *len = 64;
  sodium_memzero(hex, sizeof hex);
  return 0;
}

/* Loads the secret at path (its text without trailing blanks and
 * newlines), or makes it when there is no such file. */
static int load_secret(const char *path, uint8_t **key, size_t *len, bool *made, char *err,
                       size_t errlen) {
  *made = false;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    *made = true;
    return make_secret(path, key, len, err, errlen);
  }
  if (fd < 0)
    return util_fail(err, errlen, "cannot read the notification secret %s: %s", path,
                     strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return util_fail(err, errlen, "the notification secret %s is not a file", path);
  }
  if (st.st_mode & 077) {
    close(fd);
    return util_fail(err, errlen,
                     "the notification secret %s is readable by others (mode %03o): chmod 600 it",
                     path, (unsigned)(st.st_mode & 0777));
  }
  uint8_t *buf = xmalloc(NOTIFY_SECRET_MAX + 1);
  ssize_t got = read(fd, buf, NOTIFY_SECRET_MAX + 1);
  int e = errno;
  close(fd);
  if (got < 0 || got > NOTIFY_SECRET_MAX) {
    sodium_memzero(buf, NOTIFY_SECRET_MAX + 1);
    free(buf);
    return got < 0 ? util_fail(err, errlen, "cannot read the notification secret %s: %s", path,
                               strerror(e))
                   : util_fail(err, errlen, "the notification secret %s is longer than %d bytes",
                               path, NOTIFY_SECRET_MAX);
  }
  size_t n = (size_t)got;
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
               buf[n - 1] == '\t'))
    n--;
  if (n < 16) {
    sodium_memzero(buf, NOTIFY_SECRET_MAX + 1);
    free(buf);
    return util_fail(err, errlen,
                     "the notification secret %s is too short (at least 16 characters)", path);
  }
  *key = buf;
  *len = n;
  return 0;
}

/* ------------------------------------------------------------ bodies */

/* "project/episode[/shot]" of a job in memory. */
static char *job_place(const job_t *j) {
  return j->spec->shot ? xasprintf("%s/%s/%s", j->project, j->episode, j->spec->shot)
                       : xasprintf("%s/%s", j->project, j->episode);
}

static const char *dstr(json_t *d, const char *key) {
  const char *s = json_string_value(json_object_get(d, key));
  return s ? s : "";
}

/* The line for people. */
static char *text_of(coord_t *c, notify_kind_t k, const store_tapped_t *ev, json_t *d) {
  switch (k) {
  case NOTIFY_TAKE_READY: {
    const char *shot = dstr(d, "shot");
    char *place = *shot ? xasprintf("%s/%s/%s", dstr(d, "project"), dstr(d, "episode"), shot)
                        : xasprintf("%s/%s", dstr(d, "project"), dstr(d, "episode"));
    json_t *take = json_object_get(d, "take");
    char *t;
    if (json_is_integer(take))
      t = xasprintf("take %" JSON_INTEGER_FORMAT " of %s (job %s %s) is ready for review",
                    json_integer_value(take), place, ev->subject_id, dstr(d, "job_name"));
    else
      t = xasprintf("a take of %s (job %s %s) is ready for review", place, ev->subject_id,
                    dstr(d, "job_name"));
    free(place);
    return t;
  }
  case NOTIFY_JOB_FAILED: {
    uint64_t id = strtoull(ev->subject_id, NULL, 10);
    const job_t *j = id ? idmap_get(&c->jobs, id) : NULL;
    const char *reason = dstr(d, "reason");
    char *t;
    if (j) {
      char *place = job_place(j);
      t = xasprintf("job %s %s of %s failed%s%s", ev->subject_id, j->spec->name, place,
                    *reason ? ": " : "", reason);
      free(place);
    } else {
      t = xasprintf("job %s failed%s%s", ev->subject_id, *reason ? ": " : "", reason);
    }
    return t;
  }
  case NOTIFY_EPISODE_HELD:
    return xasprintf("episode %s is held: it has used %s of its %s %s budget", ev->subject_id,
                     dstr(d, "spent"), dstr(d, "budget"), c->cfg.currency ? c->cfg.currency : "");
  case NOTIFY_WORKER_LOST: {
    const char *reason = dstr(d, "reason");
    return xasprintf("worker %s was lost%s%s", ev->subject_id, *reason ? ": " : "", reason);
  }
  default:
    return xstrdup(ev->kind);
  }
}

/* The JSON body of event ev as notification k. */
static char *body_of(coord_t *c, notify_kind_t k, const store_tapped_t *ev, size_t *len) {
  json_t *details = json_loads(ev->details ? ev->details : "{}", 0, NULL);
  if (!json_is_object(details)) {
    json_decref(details);
    details = json_object();
  }
  char *line = text_of(c, k, ev, details);
  char *text = notify_slack_escape(line);
  free(line);
  char at[40];
  util_iso8601(ev->at_us, at, sizeof at);
  json_t *doc = json_pack("{s:s,s:{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:o}}", "text", text, "event",
                          "id", (json_int_t)ev->seq, "kind", notify_kind_name(k), "log_kind",
                          ev->kind, "at", at, "actor", ev->actor, "subject_type",
                          ev->subject_type, "subject_id", ev->subject_id, "details", details);
  free(text);
  char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  if (out && strlen(out) > NOTIFY_MAX_BODY) { /* details are small; this keeps them so */
    free(out);
    json_object_set_new(json_object_get(doc, "event"), "details", json_object());
    out = json_dumps(doc, JSON_COMPACT);
  }
  json_decref(doc);
  if (!out)
    out = xstrdup("{}");
  *len = strlen(out);
  return out;
}

/* ------------------------------------------------------------ the queue */

static bool delivery_less(const void *a, const void *b) {
  const delivery_t *x = a, *y = b;
  return x->due_ms != y->due_ms ? x->due_ms < y->due_ms : x->order < y->order;
}

static size_t *delivery_pos(void *e) { return &((delivery_t *)e)->heap_pos; }

static size_t queued(const notify_t *n) { return n->nwaiting + n->ninflight; }

static void delivery_free(delivery_t *d) {
  if (d->headers)
    curl_slist_free_all(d->headers);
  free(d->body);
  free(d);
}

static void inflight_unlink(notify_t *n, delivery_t *d) {
  if (d->prev)
    d->prev->next = d->next;
  else
    n->inflight = d->next;
  if (d->next)
    d->next->prev = d->prev;
  d->prev = d->next = NULL;
  n->ninflight--;
  n->hooks[d->hook].ninflight--;
}

static void start(notify_t *n, delivery_t *d);
static void do_close(notify_t *n);
static void on_retry(uv_timer_t *h);

/* Waits for its turn (hook h's heap). */
static void wait_turn(notify_t *n, delivery_t *d) {
  heap_push(&n->hooks[d->hook].waiting, d);
  n->nwaiting++;
}

/* Starts what is due (within NOTIFY_MAX_INFLIGHT per webhook, so that one
 * that hangs holds up no other) and sets the retry timer for the next. */
static void pump(notify_t *n) {
  if (n->closed)
    return;
  uint64_t now = uv_now(n->loop), next = UINT64_MAX;
  for (size_t h = 0; h < n->nhooks; h++) {
    hook_t *hk = &n->hooks[h];
    delivery_t *d;
    while (hk->ninflight < NOTIFY_MAX_INFLIGHT && (d = heap_top(&hk->waiting)) &&
           d->due_ms <= now) {
      heap_pop(&hk->waiting);
      n->nwaiting--;
      start(n, d);
    }
    d = heap_top(&hk->waiting);
    if (d && d->due_ms > now && d->due_ms < next)
      next = d->due_ms;
  }
  if (n->closed)
    return;
  if (next != UINT64_MAX)
    uv_timer_start(&n->retry_timer, on_retry, next - now, 0);
  else
    uv_timer_stop(&n->retry_timer);
}

static void on_retry(uv_timer_t *h) { pump(h->data); }

/* Queues body (taken) for hook h, or drops it when the queue is full. */
static void enqueue(notify_t *n, size_t h, uint64_t seq, notify_kind_t k, char *body,
                    size_t len) {
  static log_limit_t full = LOG_LIMIT_INIT("notification queue full", 10);
  if (queued(n) >= n->cap) {
    n->st.dropped++;
    log_warn_limited(&full,
                     "dropped event %" PRIu64 " (%s) for %s: %" PRIu64
                     " dropped since start (--notify-queue %zu)",
                     seq, notify_kind_name(k), n->hooks[h].origin, n->st.dropped, n->cap);
    free(body);
    return;
  }
  delivery_t *d = xcalloc(1, sizeof *d);
  d->n = n;
  d->order = n->next_order++;
  d->hook = h;
  d->seq = seq;
  d->kind = k;
  d->body = body;
  d->len = len;
  d->due_ms = uv_now(n->loop);
  d->heap_pos = HEAP_NONE;
  wait_turn(n, d);
}

/* The store's tap: every committed event. */
static void on_event(coord_t *c, const store_tapped_t *ev, void *arg) {
  (void)arg;
  notify_t *n = c->notify;
  if (!n)
    return;
  int k = notify_kind_of(ev->kind, ev->details);
  if (k < 0 || !(n->mask & (1u << k)))
    return;
  if (n->closed) {
    n->st.dropped += n->nhooks;
    n->dropped_at_stop += n->nhooks;
    return;
  }
  size_t len;
  char *body = body_of(c, (notify_kind_t)k, ev, &len);
  for (size_t h = 0; h < n->nhooks; h++)
    enqueue(n, h, ev->seq, (notify_kind_t)k,
            h + 1 < n->nhooks ? xstrdup(body) : body, len);
  pump(n);
}

/* ------------------------------------------------------------ libcurl */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *arg) {
  (void)ptr;
  delivery_t *d = arg;
  size_t bytes = size * nmemb;
  d->got += bytes;
  return d->got > NOTIFY_RESPONSE_MAX ? 0 : bytes; /* enough: the answer's status is known */
}

static struct curl_slist *add_header(struct curl_slist *l, bool *ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct curl_slist *add_header(struct curl_slist *l, bool *ok, const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  struct curl_slist *m = curl_slist_append(l, line);
  if (!m) {
    *ok = false;
    return l;
  }
  return m;
}

static void finish(notify_t *n, delivery_t *d, CURLcode rc, long status);

/* Hands d to libcurl: a try, signed now. */
static void start(notify_t *n, delivery_t *d) {
  d->tries++;
  d->got = 0;
  d->error[0] = '\0';
  if (d->headers) {
    curl_slist_free_all(d->headers);
    d->headers = NULL;
  }
  int64_t ts = util_wall_us() / 1000000;
  char sig[NOTIFY_SIG_LEN + 1];
  notify_sign(n->secret, n->secretlen, ts, d->body, d->len, sig);
  bool ok = true;
  struct curl_slist *hl = NULL;
  hl = add_header(hl, &ok, "Content-Type: application/json");
  hl = add_header(hl, &ok, "X-Clapper-Event: %s", notify_kind_name(d->kind));
  hl = add_header(hl, &ok, "X-Clapper-Delivery: %" PRIu64, d->seq);
  hl = add_header(hl, &ok, "X-Clapper-Timestamp: %" PRId64, ts);
  hl = add_header(hl, &ok, "X-Clapper-Signature: %s", sig);
  hl = add_header(hl, &ok, "Expect:"); /* no 100-continue round trip */
  d->headers = hl;
  CURL *e = ok ? curl_easy_init() : NULL;
  d->easy = e;
  d->prev = NULL;
  d->next = n->inflight;
  if (n->inflight)
    n->inflight->prev = d;
  n->inflight = d;
  n->ninflight++;
  n->hooks[d->hook].ninflight++;
  if (!e) {
    snprintf(d->error, sizeof d->error, "out of memory");
    finish(n, d, CURLE_OUT_OF_MEMORY, 0);
    return;
  }
  curl_easy_setopt(e, CURLOPT_URL, n->hooks[d->hook].url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)NOTIFY_TIMEOUT_MS);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)NOTIFY_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "clapper-coordinator/" CLAPPER_VERSION);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, d);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->error);
  curl_easy_setopt(e, CURLOPT_PRIVATE, d);
#if LIBCURL_VERSION_NUM >= 0x075700
  /* A transfer ended while its name is being resolved leaves the resolver
   * thread to finish alone, instead of waiting for it on the loop. */
  curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
  CURLMcode mc = curl_multi_add_handle(n->multi, e);
  if (mc != CURLM_OK) {
    snprintf(d->error, sizeof d->error, "%s", curl_multi_strerror(mc));
    finish(n, d, CURLE_FAILED_INIT, 0);
  }
}

/* Whether a failed try may go better later. */
static bool worth_retrying(CURLcode rc, long status) {
  if (rc == CURLE_OK)
    return status == 429 || status >= 500;
  return rc != CURLE_UNSUPPORTED_PROTOCOL && rc != CURLE_URL_MALFORMAT &&
         rc != CURLE_NOT_BUILT_IN;
}

/* A try of d ended (rc, the answer's status or 0): delivered, tried again
 * later, or given up. */
static void finish(notify_t *n, delivery_t *d, CURLcode rc, long status) {
  /* One of each per webhook, so that a busy one hides no other's. */
  static log_limit_t retries[NOTIFY_MAX_URLS] = {
      [0 ... NOTIFY_MAX_URLS - 1] = LOG_LIMIT_INIT("failed webhook tries", 10)};
  static log_limit_t gaveups[NOTIFY_MAX_URLS] = {
      [0 ... NOTIFY_MAX_URLS - 1] = LOG_LIMIT_INIT("webhook deliveries given up", 10)};
  log_limit_t *retry = &retries[d->hook], *gaveup = &gaveups[d->hook];
  if (d->easy) {
    curl_multi_remove_handle(n->multi, d->easy);
    curl_easy_cleanup(d->easy);
    d->easy = NULL;
  }
  inflight_unlink(n, d);
  /* An answer we stopped reading (too long) still said its status. */
  if (rc == CURLE_WRITE_ERROR && d->got > NOTIFY_RESPONSE_MAX && status)
    rc = CURLE_OK;
  const char *origin = n->hooks[d->hook].origin;
  const char *kind = notify_kind_name(d->kind);
  if (rc == CURLE_OK && status >= 200 && status < 300) {
    n->st.sent++;
    log_debug("webhook %s: event %" PRIu64 " (%s) delivered (HTTP %ld, try %u)", origin, d->seq,
              kind, status, d->tries);
    delivery_free(d);
    return;
  }
  char why[CURL_ERROR_SIZE + 64];
  if (rc == CURLE_OK)
    snprintf(why, sizeof why, "HTTP %ld", status);
  else
    snprintf(why, sizeof why, "%s", d->error[0] ? d->error : curl_easy_strerror(rc));
  if (!worth_retrying(rc, status)) {
    n->st.failed++;
    log_warn_limited(gaveup, "webhook %s: event %" PRIu64 " (%s) refused: %s; dropped%s",
                     origin, d->seq, kind, why,
                     rc == CURLE_OK && status < 400 ? " (redirects are not followed)" : "");
    delivery_free(d);
    return;
  }
  if (n->stopping) {
    n->st.dropped++;
    n->dropped_at_stop++;
    delivery_free(d);
    return;
  }
  if (d->tries >= NOTIFY_MAX_TRIES) {
    n->st.failed++;
    log_warn_limited(gaveup, "webhook %s: event %" PRIu64 " (%s) dropped after %u tries: %s",
                     origin, d->seq, kind, d->tries, why);
    delivery_free(d);
    return;
  }
  uint64_t wait = notify_backoff_ms(d->tries);
  n->st.retried++;
  log_warn_limited(retry,
                   "webhook %s: event %" PRIu64 " (%s) try %u of %d failed: %s; again in %" PRIu64
                   " s",
                   origin, d->seq, kind, d->tries, NOTIFY_MAX_TRIES, why, (wait + 999) / 1000);
  d->due_ms = uv_now(n->loop) + wait;
  wait_turn(n, d);
}

/* Collects the transfers libcurl finished, then starts what is due. */
static void check_done(notify_t *n) {
  CURLMsg *m;
  int left;
  while (n->multi && (m = curl_multi_info_read(n->multi, &left))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    CURL *e = m->easy_handle;
    CURLcode rc = m->data.result;
    delivery_t *d = NULL;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&d);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (d)
      finish(n, d, rc, status);
  }
  pump(n);
  if (n->closing && !queued(n))
    do_close(n);
}

static void on_sock_closed(uv_handle_t *h) { free(h->data); }

static void sock_close(notify_t *n, sockctx_t *sc) {
  if (sc->prev)
    sc->prev->next = sc->next;
  else
    n->socks = sc->next;
  if (sc->next)
    sc->next->prev = sc->prev;
  uv_poll_stop(&sc->poll);
  uv_close((uv_handle_t *)&sc->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sockctx_t *sc = h->data;
  notify_t *n = sc->n;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  int running;
  curl_multi_socket_action(n->multi, sc->fd, flags, &running);
  check_done(n);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)e;
  notify_t *n = userp;
  sockctx_t *sc = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (sc) {
      curl_multi_assign(n->multi, s, NULL);
      sock_close(n, sc);
    }
    return 0;
  }
  if (!sc) {
    sc = xcalloc(1, sizeof *sc);
    sc->n = n;
    sc->fd = s;
    if (uv_poll_init_socket(n->loop, &sc->poll, s) != 0) {
      free(sc);
      return -1;
    }
    sc->poll.data = sc;
    sc->next = n->socks;
    if (n->socks)
      n->socks->prev = sc;
    n->socks = sc;
    curl_multi_assign(n->multi, s, sc);
  }
  int ev = ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
  uv_poll_start(&sc->poll, ev, on_poll);
  return 0;
}

static void on_curl_timeout(uv_timer_t *h) {
  notify_t *n = h->data;
  int running;
  curl_multi_socket_action(n->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(n);
}

static int on_curl_timer(CURLM *m, long ms, void *userp) {
  (void)m;
  notify_t *n = userp;
  if (n->timers_closed)
    return 0;
  if (ms < 0)
    uv_timer_stop(&n->curl_timer);
  else
    uv_timer_start(&n->curl_timer, on_curl_timeout, (uint64_t)ms, 0);
  return 0;
}

/* ------------------------------------------------------------ life */

/* Gives up everything left, ends libcurl and closes the handles. */
static void do_close(notify_t *n) {
  if (n->closed)
    return;
  n->closed = true;
  while (n->inflight) {
    delivery_t *d = n->inflight;
    if (d->easy) {
      curl_multi_remove_handle(n->multi, d->easy);
      curl_easy_cleanup(d->easy);
      d->easy = NULL;
    }
    inflight_unlink(n, d);
    n->st.dropped++;
    n->dropped_at_stop++;
    delivery_free(d);
  }
  for (size_t h = 0; h < n->nhooks; h++) {
    delivery_t *d;
    while ((d = heap_pop(&n->hooks[h].waiting))) {
      n->nwaiting--;
      n->st.dropped++;
      n->dropped_at_stop++;
      delivery_free(d);
    }
  }
  curl_multi_cleanup(n->multi); /* its cached connections: their sockets are removed */
  n->multi = NULL;
  while (n->socks)
    sock_close(n, n->socks);
  n->timers_closed = true;
  uv_close((uv_handle_t *)&n->curl_timer, NULL);
  uv_close((uv_handle_t *)&n->retry_timer, NULL);
  uv_close((uv_handle_t *)&n->grace_timer, NULL);
  if (n->dropped_at_stop)
    log_warn("stopping: %" PRIu64 " webhook deliveries not made were dropped", n->dropped_at_stop);
  log_info("webhooks: %" PRIu64 " delivered, %" PRIu64 " given up, %" PRIu64 " dropped",
           n->st.sent, n->st.failed, n->st.dropped);
}

static void on_grace(uv_timer_t *h) {
  notify_t *n = h->data;
  if (queued(n))
    log_warn("stopping: %zu webhook deliveries still unfinished after %d ms", queued(n),
             NOTIFY_GRACE_MS);
  do_close(n);
}

void notify_stop(coord_t *c) {
  notify_t *n = c->notify;
  if (!n || n->stopping || n->closed)
    return;
  n->stopping = true;
  /* What waits for another try is not tried again. */
  for (size_t h = 0; h < n->nhooks; h++) {
    heap_t keep;
    heap_init(&keep, delivery_less, delivery_pos);
    delivery_t *d;
    while ((d = heap_pop(&n->hooks[h].waiting))) {
      if (d->tries) {
        n->nwaiting--;
        n->st.dropped++;
        n->dropped_at_stop++;
        delivery_free(d);
      } else {
        heap_push(&keep, d);
      }
    }
    heap_free(&n->hooks[h].waiting);
    n->hooks[h].waiting = keep;
  }
  uv_timer_start(&n->grace_timer, on_grace, NOTIFY_GRACE_MS, 0);
  pump(n);
}

void notify_close(coord_t *c, bool now) {
  notify_t *n = c->notify;
  if (!n || n->closed)
    return;
  notify_stop(c);
  if (now || !queued(n))
    do_close(n);
  else
    n->closing = true; /* check_done or the grace timer closes */
}

void notify_free(coord_t *c) {
  notify_t *n = c->notify;
  if (!n)
    return;
  notify_close(c, true);
  c->notify = NULL;
  for (size_t i = 0; i < n->nhooks; i++) {
    heap_free(&n->hooks[i].waiting);
    free(n->hooks[i].url);
    free(n->hooks[i].origin);
  }
  free(n->hooks);
  if (n->secret) {
    sodium_memzero(n->secret, n->secretlen);
    free(n->secret);
  }
  free(n);
  curl_global_cleanup();
}

void notify_stats(const coord_t *c, notify_stats_t *out) {
  const notify_t *n = c->notify;
  memset(out, 0, sizeof *out);
  if (!n)
    return;
  *out = n->st;
  out->queued = queued(n);
}

int notify_check(const notify_settings_t *s, char *err, size_t errlen) {
  if (!s->nurls)
    return 0;
  if (s->nurls > NOTIFY_MAX_URLS)
    return util_fail(err, errlen, "--notify: at most %d webhooks", NOTIFY_MAX_URLS);
  unsigned mask;
  if (notify_parse_events(s->events, &mask, err, errlen) < 0)
    return -1;
  if (s->queue < 1)
    return util_fail(err, errlen, "--notify-queue: at least 1");
  for (size_t i = 0; i < s->nurls; i++) {
    char *origin = notify_url_origin(s->urls[i]);
    if (!origin)
      return util_fail_line(err, errlen, "--notify: '%.80s' is not an http:// or https:// URL",
                            s->urls[i]);
    free(origin);
  }
  if (!s->secret_file && !s->keys_dir)
    return util_fail(err, errlen,
                     "--notify needs --notify-secret FILE (the key of the webhooks' signatures, "
                     "made there on first start) or --keys DIR (then DIR/notify.key)");
  return 0;
}

int notify_open(coord_t *c, const notify_settings_t *s, char *err, size_t errlen) {
  if (!s->nurls)
    return 0;
  unsigned mask;
  if (notify_check(s, err, errlen) < 0 || notify_parse_events(s->events, &mask, err, errlen) < 0)
    return -1;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
    return util_fail(err, errlen, "libcurl did not initialise");
  const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
  if (!(vi->features & CURL_VERSION_ASYNCHDNS)) {
    curl_global_cleanup();
    return util_fail(err, errlen,
                     "--notify: this libcurl (%s) resolves names synchronously, which would "
                     "hold the coordinator's loop",
                     vi->version);
  }
  notify_t *n = xcalloc(1, sizeof *n);
  c->notify = n;
  n->c = c;
  n->loop = c->loop;
  n->mask = mask;
  n->cap = (size_t)s->queue;
  n->hooks = xcalloc(s->nurls, sizeof *n->hooks);
  n->closed = true; /* until the handles exist: notify_free closes nothing */
  int rc = -1;
  char *path = NULL;
  for (size_t i = 0; i < s->nurls; i++) {
    char *origin = notify_url_origin(s->urls[i]);
    heap_init(&n->hooks[n->nhooks].waiting, delivery_less, delivery_pos);
    n->hooks[n->nhooks].url = xstrdup(s->urls[i]);
    n->hooks[n->nhooks++].origin = origin;
  }
  if (s->secret_file)
    path = xstrdup(s->secret_file);
  else if (s->keys_dir)
    path = keys_path(s->keys_dir, "notify", "key");
  if (sodium_init() < 0) {
    util_fail(err, errlen, "libsodium did not initialise");
    goto out;
  }
  bool made;
  if (load_secret(path, &n->secret, &n->secretlen, &made, err, errlen) < 0)
    goto out;
  if (made)
    log_info("made the notification secret %s: give it to the webhooks' receivers to check "
             "X-Clapper-Signature", path);
  n->multi = curl_multi_init();
  if (!n->multi) {
    util_fail(err, errlen, "libcurl: cannot make a multi handle");
    goto out;
  }
  curl_multi_setopt(n->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(n->multi, CURLMOPT_SOCKETDATA, n);
  curl_multi_setopt(n->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(n->multi, CURLMOPT_TIMERDATA, n);
  curl_multi_setopt(n->multi, CURLMOPT_MAXCONNECTS, (long)(NOTIFY_MAX_INFLIGHT * n->nhooks));
  uv_timer_init(n->loop, &n->curl_timer);
  uv_timer_init(n->loop, &n->retry_timer);
  uv_timer_init(n->loop, &n->grace_timer);
  n->curl_timer.data = n->retry_timer.data = n->grace_timer.data = n;
  n->closed = false;
  store_tap(c, on_event, NULL);
  char events[128] = "";
  for (int k = 0; k < NOTIFY_KIND_COUNT; k++)
    if (mask & (1u << k))
      snprintf(events + strlen(events), sizeof events - strlen(events), "%s%s",
               *events ? "," : "", kind_names[k]);
  for (size_t i = 0; i < n->nhooks; i++)
    log_info("webhook %s: notified of %s (signed with %s)", n->hooks[i].origin, events, path);
  rc = 0;
out:
  free(path);
  if (rc < 0) {
    if (n->multi)
      curl_multi_cleanup(n->multi);
    n->multi = NULL;
    notify_free(c);
  }
  return rc;
}
