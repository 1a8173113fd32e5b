/*
 * sse.c - live events over server-sent events, see sse.h.
 */
#include "sse.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clients.h"
#include "evchain.h"
#include "http.h"
#include "jsondoc.h"
#include "log.h"
#include "reads.h"
#include "states.h"

/* ------------------------------------------------------------ state */

typedef enum wstate { W_PENDING, W_LIVE, W_CLOSED } wstate_t;

typedef struct watcher {
  struct sse *sse;   /* NULL once sse_close let go of it */
  wstate_t state;
  void *req;         /* while pending: the request to answer */
  void *stream;      /* once live */
  sse_filter_t f;
  uint64_t last;     /* the last log position it was sent (or resumes after) */
  uint64_t head;     /* pending: the committed head at registration */
  creq_t r;          /* pending: its read's admission */
  sbuf_t held;       /* pending: live events of batches committed meanwhile */
  bool overflow;     /* pending: held grew past HTTP_STREAM_MAX_QUEUED */
  bool ending;       /* its stream is being ended */
} watcher_t;

/* A job's counts as of one batch. */
typedef struct snap {
  uint8_t state;
  uint32_t ntasks;
  uint32_t counts[TASK_STATE_COUNT];
} snap_t;

/* A job whose counts changed: the snapshot of the batch accumulating
 * (acc), of the batch in flight (fly), and the latest committed one not
 * sent yet (ready). */
typedef struct jprog {
  uint64_t job;
  size_t pos; /* in sse->progress */
  bool has_acc, has_fly, has_ready;
  uint64_t acc_seq, fly_seq;
  snap_t acc, fly, ready;
} jprog_t;

typedef struct sse {
  coord_t *c;
  sse_io_t io;
  int max_streams;
  watcher_t **w;
  size_t nw, capw;
  int iterating;     /* > 0 while a loop walks w: closed ones stay until it ends */
  bool compact;      /* some are closed */
  idmap_t jobs;      /* job id -> jprog_t* */
  jprog_t **progress;
  size_t nprogress, capprogress;
  uv_timer_t progress_timer, keepalive_timer;
  int closing;       /* 1 + timers closed: freed at 3 */
  sbuf_t buf;        /* the event being sent */
  uint64_t sent_events, dropped_watchers;
} sse_t;

/* ------------------------------------------------------------ filters */

int sse_filter_parse(sse_filter_t *f, const char *kinds, const char *job, char *err,
                     size_t errlen) {
  memset(f, 0, sizeof *f);
  if (kinds && *kinds) {
    const char *p = kinds;
    for (;;) {
      size_t n = strcspn(p, ",");
      if (n == 0)
        return util_fail(err, errlen, "kinds: an empty prefix (expected e.g. kinds=take.,job.state)");
      if (n > SSE_KIND_MAX)
        return util_fail(err, errlen, "kinds: a prefix longer than %d bytes", SSE_KIND_MAX);
      for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
          return util_fail(err, errlen,
                           "kinds: a prefix may hold letters, digits, '.', '_' and '-' only");
      }
      if (f->nkinds == SSE_MAX_KINDS)
        return util_fail(err, errlen, "kinds: at most %d prefixes", SSE_MAX_KINDS);
      memcpy(f->kinds[f->nkinds], p, n);
      f->kinds[f->nkinds][n] = '\0';
      f->nkinds++;
      if (!p[n])
        break;
      p += n + 1;
    }
  }
  if (job) {
    if (sse_parse_seq(job, &f->job) < 0 || f->job == 0)
      return util_fail(err, errlen, "job: expected a job id (a positive integer)");
  }
  return 0;
}

bool sse_filter_match(const sse_filter_t *f, const char *kind, uint64_t job_id) {
  if (f->job && f->job != job_id)
    return false;
  if (!f->nkinds)
    return true;
  for (size_t i = 0; i < f->nkinds; i++)
    if (!strncmp(kind, f->kinds[i], strlen(f->kinds[i])))
      return true;
  return false;
}

int sse_parse_seq(const char *s, uint64_t *out) {
  if (!s || !*s || strlen(s) > 20)
    return -1;
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9')
      return -1;
  errno = 0;
  unsigned long long v = strtoull(s, NULL, 10);
  if (errno || v > INT64_MAX)
    return -1;
  *out = v;
  return 0;
}

/* ------------------------------------------------------------ formatting */

/* An SSE field line: name, value with CR and LF replaced (they would end
 * the field), newline. */
static void field(sbuf_t *out, const char *name, const char *value) {
  sbuf_puts(out, name);
  sbuf_puts(out, ": ");
  for (const char *p = value; *p; p++)
    sbuf_putc(out, *p == '\n' || *p == '\r' ? ' ' : *p);
  sbuf_putc(out, '\n');
}

void sse_format_event(const store_tapped_t *ev, sbuf_t *out, uint64_t *job_id) {
  json_t *details = json_loads(ev->details ? ev->details : "{}", 0, NULL);
  if (!json_is_object(details)) {
    json_decref(details);
    details = json_object();
  }
  uint64_t job = 0;
  const char *stype = ev->subject_type ? ev->subject_type : "";
  const char *sid = ev->subject_id ? ev->subject_id : "";
  if (!strcmp(stype, "job")) {
    if (sse_parse_seq(sid, &job) < 0)
      job = 0;
  } else {
    json_t *j = json_object_get(details, "job_id");
    if (json_is_integer(j) && json_integer_value(j) > 0)
      job = (uint64_t)json_integer_value(j);
  }
  *job_id = job;
  char at[40];
  util_iso8601(ev->at_us, at, sizeof at);
  const char *kind = ev->kind ? ev->kind : "";
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer((json_int_t)ev->seq));
  json_object_set_new(o, "kind", json_string(kind));
  json_object_set_new(o, "at", json_string(at));
  json_object_set_new(o, "actor", json_string(ev->actor ? ev->actor : ""));
  json_object_set_new(o, "subject_type", json_string(stype));
  json_object_set_new(o, "subject_id", json_string(sid));
  json_object_set_new(o, "details", details);
  field(out, "event", kind);
  sbuf_printf(out, "id: %" PRIu64 "\ndata: ", ev->seq);
  jsondoc_dump(o, 0, 0, out); /* compact: one line */
  sbuf_puts(out, "\n\n");
  json_decref(o);
}

static void format_progress(const jprog_t *p, sbuf_t *out) {
  sbuf_printf(out, "event: job.progress\ndata: {\"job_id\":%" PRIu64 ",\"state\":\"%s\","
              "\"ntasks\":%u,\"counts\":{", p->job, job_state_name((job_state_t)p->ready.state),
              p->ready.ntasks);
  for (int i = 0; i < TASK_STATE_COUNT; i++)
    sbuf_printf(out, "%s\"%s\":%u", i ? "," : "", task_state_name((task_state_t)i),
                p->ready.counts[i]);
  sbuf_puts(out, "}}\n\n");
}

/* ------------------------------------------------------------ watchers */

static void on_stream_closed(void *arg);

/* Ends w's stream (its on_close removes it). */
static void end_watcher(sse_t *s, watcher_t *w) {
  if (w->state != W_LIVE || w->ending)
    return;
  w->ending = true;
  s->io.end(w->stream);
}

/* Drops closed watchers from the list (not while a loop walks it). */
static void compact(sse_t *s) {
  if (s->iterating || !s->compact)
    return;
  size_t k = 0;
  for (size_t i = 0; i < s->nw; i++) {
    watcher_t *w = s->w[i];
    if (w->state == W_CLOSED) {
      sbuf_free(&w->held);
      free(w);
    } else {
      s->w[k++] = w;
    }
  }
  s->nw = k;
  s->compact = false;
  if (!s->nw) {
    uv_timer_stop(&s->keepalive_timer);
    /* Nobody to tell: forget the progress kept so far. */
    for (size_t i = 0; i < s->nprogress; i++) {
      idmap_del(&s->jobs, s->progress[i]->job);
      free(s->progress[i]);
    }
    s->nprogress = 0;
    uv_timer_stop(&s->progress_timer);
  }
}

static void on_stream_closed(void *arg) {
  watcher_t *w = arg;
  sse_t *s = w->sse;
  if (!s) { /* sse_close let go of it */
    sbuf_free(&w->held);
    free(w);
    return;
  }
  w->state = W_CLOSED;
  w->stream = NULL;
  s->compact = true;
  compact(s);
}

/* Sends data to a live watcher; one that is too far behind is ended. */
static void send_to(sse_t *s, watcher_t *w, const char *data, size_t len) {
  if (w->state != W_LIVE || w->ending)
    return;
  if (s->io.write(w->stream, data, len) < 0) {
    static log_limit_t slow = LOG_LIMIT_INIT("slow event watchers ended", 10);
    log_warn_limited(&slow, "an event watcher is more than %u bytes behind: ending its stream",
                     (unsigned)HTTP_STREAM_MAX_QUEUED);
    s->dropped_watchers++;
    end_watcher(s, w);
  }
}

/* Holds data for a pending watcher (sent once its resume read answered). */
static void hold(watcher_t *w, const char *data, size_t len) {
  if (w->overflow)
    return;
  if (w->held.len + len > HTTP_STREAM_MAX_QUEUED) {
    w->overflow = true;
    sbuf_free(&w->held);
    return;
  }
  sbuf_append(&w->held, data, len);
}

/* The same bytes to every watcher whose filter takes (kind, job). */
static void fan_out(sse_t *s, const char *kind, uint64_t job, uint64_t seq, const char *data,
                    size_t len) {
  s->iterating++;
  for (size_t i = 0; i < s->nw; i++) {
    watcher_t *w = s->w[i];
    if (w->state == W_CLOSED || !sse_filter_match(&w->f, kind, job))
      continue;
    if (w->state == W_PENDING) {
      hold(w, data, len);
      continue;
    }
    if (seq && seq <= w->last)
      continue; /* sent by its resume already */
    send_to(s, w, data, len);
    if (seq)
      w->last = seq;
  }
  s->iterating--;
  compact(s);
}

/* ------------------------------------------------------------ the tap */

static void on_event(coord_t *c, const store_tapped_t *ev, void *arg) {
  sse_t *s = c->sse; /* not arg: NULL once sse_close ran */
  (void)arg;
  if (!s || !s->nw)
    return;
  sbuf_reset(&s->buf);
  uint64_t job = 0;
  sse_format_event(ev, &s->buf, &job);
  s->sent_events++;
  fan_out(s, ev->kind ? ev->kind : "", job, ev->seq, s->buf.buf, s->buf.len);
}

/* ------------------------------------------------------------ progress */

static void snapshot(const job_t *j, snap_t *out) {
  out->state = j->state;
  out->ntasks = j->ntasks;
  memcpy(out->counts, j->counts, sizeof out->counts);
}

void sse_job_changed(coord_t *c, const job_t *j) {
  sse_t *s = c->sse;
  if (!s || !s->nw)
    return;
  uint64_t seq = store_seq(c);
  jprog_t *p = idmap_get(&s->jobs, j->id);
  if (!p) {
    p = xcalloc(1, sizeof *p);
    p->job = j->id;
    p->pos = s->nprogress;
    idmap_put(&s->jobs, j->id, p);
    ARRAY_PUSH(s->progress, s->nprogress, s->capprogress, p);
  }
  if (p->has_acc && p->acc_seq != seq) {
    /* Its batch went out (one batch is in flight at a time, and one that
     * committed was taken by on_commit): it is the one in flight. */
    p->fly = p->acc;
    p->fly_seq = p->acc_seq;
    p->has_fly = true;
  }
  snapshot(j, &p->acc);
  p->acc_seq = seq;
  p->has_acc = true;
}

static void on_progress_timer(uv_timer_t *t);

/* After every committed batch: the snapshots of that batch (and before)
 * are committed, so they may be sent. */
static void on_commit(coord_t *c, uint64_t seq, void *arg) {
  sse_t *s = c->sse; /* not arg: NULL once sse_close ran */
  (void)arg;
  if (!s || !s->nprogress)
    return;
  bool any = false;
  for (size_t i = 0; i < s->nprogress; i++) {
    jprog_t *p = s->progress[i];
    if (p->has_fly && p->fly_seq <= seq) {
      p->ready = p->fly;
      p->has_ready = true;
      p->has_fly = false;
    }
    if (p->has_acc && p->acc_seq <= seq) {
      p->ready = p->acc;
      p->has_ready = true;
      p->has_acc = false;
    }
    any |= p->has_ready;
  }
  if (any && !uv_is_active((uv_handle_t *)&s->progress_timer))
    uv_timer_start(&s->progress_timer, on_progress_timer, SSE_PROGRESS_MS, SSE_PROGRESS_MS);
}

static void on_progress_timer(uv_timer_t *t) {
  sse_t *s = t->data;
  for (size_t i = 0; i < s->nprogress;) {
    jprog_t *p = s->progress[i];
    if (p->has_ready) {
      p->has_ready = false;
      sbuf_reset(&s->buf);
      format_progress(p, &s->buf);
      fan_out(s, "job.progress", p->job, 0, s->buf.buf, s->buf.len);
      if (!s->nprogress) /* the last watcher went */
        return;
    }
    if (!p->has_acc && !p->has_fly) {
      idmap_del(&s->jobs, p->job);
      s->progress[i] = s->progress[--s->nprogress];
      s->progress[i]->pos = i;
      free(p);
      continue;
    }
    i++;
  }
  if (!s->nprogress)
    uv_timer_stop(t);
}

static void on_keepalive(uv_timer_t *t) {
  sse_t *s = t->data;
  static const char ka[] = ": keep-alive\n\n";
  s->iterating++;
  for (size_t i = 0; i < s->nw; i++)
    send_to(s, s->w[i], ka, sizeof ka - 1);
  s->iterating--;
  compact(s);
}

/* ------------------------------------------------------------ watching */

/* The stream's first bytes: the reconnection delay asked of EventSource,
 * and the head it starts after (a comment). */
static void greet(sse_t *s, watcher_t *w, uint64_t head) {
  char hello[96];
  int n = snprintf(hello, sizeof hello, "retry: 2000\n: clapper events after %" PRIu64 "\n\n",
                   head);
  send_to(s, w, hello, (size_t)n);
}

/* A reset: the client reloads and goes on after head. */
static void send_reset(sse_t *s, watcher_t *w, uint64_t after, uint64_t head, const char *why) {
  sbuf_t b = {0};
  sbuf_printf(&b, "event: reset\nid: %" PRIu64 "\ndata: ", head);
  json_t *o = json_pack("{s:I,s:I,s:s}", "after", (json_int_t)after, "head", (json_int_t)head,
                        "reason", why);
  jsondoc_dump(o, 0, 0, &b);
  json_decref(o);
  sbuf_puts(&b, "\n\n");
  send_to(s, w, b.buf, b.len);
  sbuf_free(&b);
}

/* Starts w's stream; false (w closed) when that failed. */
static bool go_live(sse_t *s, watcher_t *w) {
  void *req = w->req;
  w->req = NULL;
  w->state = W_LIVE;
  s->iterating++; /* a client gone already may close it at once */
  void *stream = s->io.start(req, on_stream_closed, w);
  s->iterating--;
  if (w->state == W_CLOSED)
    return false;
  if (!stream) {
    w->state = W_CLOSED;
    s->compact = true;
    return false;
  }
  w->stream = stream;
  return true;
}

/* Sends what was held for w while its read ran (all after its head). */
static void release_held(sse_t *s, watcher_t *w) {
  if (w->overflow) {
    int64_t head = store_chain_head(s->c).seq;
    send_reset(s, w, w->last, head > 0 ? (uint64_t)head : 0,
               "too many events arrived while the missed ones were read");
    w->last = head > 0 ? (uint64_t)head : 0;
  } else if (w->held.len) {
    send_to(s, w, w->held.buf, w->held.len);
  }
  sbuf_free(&w->held);
  w->overflow = false;
}

/* The events (after, head] with the filters, and what they need. */
static const char SQL_MISSED[] =
    "SELECT seq, (extract(epoch FROM at) * 1000000)::bigint, actor, kind, subject_type, "
    "subject_id, details::text FROM events e WHERE seq > $1::bigint AND seq <= $2::bigint "
    "AND ($3::bigint IS NULL OR (subject_type = 'job' AND subject_id = $3::text) "
    "     OR details ->> 'job_id' = $3::text) "
    "AND ($4::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest($4::text[]) k "
    "     WHERE starts_with(e.kind, k))) "
    "ORDER BY seq";

static void on_missed(void *arg, PGresult *const *res, size_t n, const char *error) {
  watcher_t *w = arg;
  sse_t *s = w->sse;
  if (!s) { /* sse_close let go of it */
    sbuf_free(&w->held);
    free(w);
    return;
  }
  coord_t *c = s->c;
  reads_release(c, &w->r);
  if (error || n < 1 || PQresultStatus(res[0]) != PGRES_TUPLES_OK) {
    bool late = reads_canceled(error);
    log_warn("event stream resume read failed: %s", error ? error : "no result");
    s->io.error(w->req, late ? "timeout" : "internal",
                late ? error : "reading the missed events failed");
    w->req = NULL;
    w->state = W_CLOSED;
    s->compact = true;
    compact(s);
    return;
  }
  s->iterating++; /* w stays while this walks (an ended stream closes later) */
  if (!go_live(s, w)) {
    s->iterating--;
    compact(s);
    return;
  }
  greet(s, w, w->last);
  PGresult *r = res[0];
  sbuf_t b = {0};
  for (int i = 0, rows = PQntuples(r); i < rows && w->state == W_LIVE && !w->ending; i++) {
    char *details = evchain_canon_json(PQgetvalue(r, i, 6));
    store_tapped_t ev = {.seq = strtoull(PQgetvalue(r, i, 0), NULL, 10),
                         .at_us = strtoll(PQgetvalue(r, i, 1), NULL, 10),
                         .actor = PQgetvalue(r, i, 2),
                         .kind = PQgetvalue(r, i, 3),
                         .subject_type = PQgetvalue(r, i, 4),
                         .subject_id = PQgetvalue(r, i, 5),
                         .details = details};
    uint64_t job = 0;
    sbuf_reset(&b);
    sse_format_event(&ev, &b, &job);
    free(details);
    if (ev.seq <= w->last || !sse_filter_match(&w->f, ev.kind, job))
      continue;
    send_to(s, w, b.buf, b.len);
    w->last = ev.seq;
  }
  sbuf_free(&b);
  /* Everything up to the head is sent (what the filter takes of it). */
  if (w->last < w->head)
    w->last = w->head;
  if (w->state == W_LIVE && !w->ending)
    release_held(s, w);
  s->iterating--;
  compact(s);
}

/* Lists w among the watchers (keep-alives start with the first). */
static void add_watcher(sse_t *s, watcher_t *w) {
  ARRAY_PUSH(s->w, s->nw, s->capw, w);
  if (!uv_is_active((uv_handle_t *)&s->keepalive_timer))
    uv_timer_start(&s->keepalive_timer, on_keepalive, SSE_KEEPALIVE_MS, SSE_KEEPALIVE_MS);
}

void sse_watch(coord_t *c, void *req, const char *user, const sse_filter_t *f, bool resume,
               uint64_t after) {
  sse_t *s = c->sse;
  if (!s) {
    http_reply_error(req, "unavailable", "live events are not set up");
    return;
  }
  if (s->nw >= (size_t)s->max_streams) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "%zu event streams are open (the limit, --http-max-streams); try again later",
             s->nw);
    s->io.error(req, "unavailable", msg);
    return;
  }
  watcher_t *w = xcalloc(1, sizeof *w);
  w->sse = s;
  w->f = *f;
  w->req = req;
  w->state = W_PENDING;
  evchain_head_t h = store_chain_head(c);
  w->head = h.seq > 0 ? (uint64_t)h.seq : 0;
  w->last = w->head;
  if (!resume || after == w->head) {
    add_watcher(s, w);
    s->iterating++;
    if (go_live(s, w))
      greet(s, w, w->head);
    s->iterating--;
    compact(s);
    return;
  }
  if (after > w->head || w->head - after > SSE_RESUME_MAX) {
    add_watcher(s, w);
    s->iterating++;
    if (go_live(s, w)) {
      greet(s, w, w->head);
      char why[128];
      if (after > w->head)
        snprintf(why, sizeof why, "event %" PRIu64 " is after the log's last (%" PRIu64 ")",
                 after, w->head);
      else
        snprintf(why, sizeof why, "more than %d events were missed", SSE_RESUME_MAX);
      send_reset(s, w, after, w->head, why);
    }
    s->iterating--;
    compact(s);
    return;
  }
  /* Resume: the missed events from the database, the live ones held
   * meanwhile. */
  char err[256];
  memcpy(w->r.ident, "sse", 3);
  w->r.identlen = 3;
  if (!reads_admit(c, &w->r, user, err, sizeof err)) {
    s->io.error(req, "busy", err + (strncmp(err, "busy: ", 6) ? 0 : 6));
    free(w);
    return;
  }
  w->last = after;
  add_watcher(s, w);
  pgq_t *q = pgq_new();
  char *p[4] = {xasprintf("%" PRIu64, after), xasprintf("%" PRIu64, w->head),
                f->job ? xasprintf("%" PRIu64, f->job) : NULL, NULL};
  if (f->nkinds) {
    sbuf_t a = {0};
    sbuf_putc(&a, '{');
    for (size_t i = 0; i < f->nkinds; i++)
      sbuf_printf(&a, "%s\"%s\"", i ? "," : "", f->kinds[i]); /* [A-Za-z0-9._-] only */
    sbuf_putc(&a, '}');
    p[3] = sbuf_steal(&a);
  }
  pgq_add_prepared(q, "SQL_SSE_MISSED", SQL_MISSED, 4, p);
  reads_submit(c, &w->r, q, on_missed, w);
}

size_t sse_watchers(const coord_t *c) { return c->sse ? c->sse->nw : 0; }

/* ------------------------------------------------------------ set-up */

void sse_init(coord_t *c, const sse_io_t *io, int max_streams) {
  if (c->sse)
    return;
  sse_t *s = xcalloc(1, sizeof *s);
  s->c = c;
  s->max_streams = max_streams > 0 ? max_streams : SSE_MAX_STREAMS_DEFAULT;
  if (io)
    s->io = *io;
  uv_timer_init(c->loop, &s->progress_timer);
  uv_timer_init(c->loop, &s->keepalive_timer);
  s->progress_timer.data = s->keepalive_timer.data = s;
  /* Neither keeps the loop alive: streams do, through http.c. */
  uv_unref((uv_handle_t *)&s->progress_timer);
  uv_unref((uv_handle_t *)&s->keepalive_timer);
  c->sse = s;
  store_tap(c, on_event, s);
  store_listen(c, on_commit, s);
}

static void on_timer_closed(uv_handle_t *h) {
  sse_t *s = h->data;
  if (++s->closing < 3)
    return;
  sbuf_free(&s->buf);
  free(s->w);
  for (size_t i = 0; i < s->nprogress; i++)
    free(s->progress[i]);
  free(s->progress);
  idmap_free(&s->jobs);
  free(s);
}

void sse_close(coord_t *c) {
  sse_t *s = c->sse;
  if (!s)
    return;
  /* Streams end (their on_close frees them once detached), pending
   * resumes are freed by their read's answer (or with the pool). */
  s->iterating++;
  for (size_t i = 0; i < s->nw; i++) {
    watcher_t *w = s->w[i];
    if (w->state == W_LIVE && !w->ending) {
      w->ending = true;
      w->sse = NULL;
      s->io.end(w->stream);
    } else if (w->state == W_CLOSED) {
      sbuf_free(&w->held);
      free(w);
    } else {
      w->sse = NULL; /* pending: on_missed frees it */
    }
  }
  s->nw = 0;
  s->iterating--;
  /* The store may tap again before it goes: nothing to send then. */
  s->closing = 1;
  c->sse = NULL;
  uv_close((uv_handle_t *)&s->progress_timer, on_timer_closed);
  uv_close((uv_handle_t *)&s->keepalive_timer, on_timer_closed);
}

/* ------------------------------------------------------------ the route */

static void *hio_start(void *req, void (*on_close)(void *arg), void *arg) {
  return http_stream_start(req, "text/event-stream", on_close, arg);
}
static int hio_write(void *stream, const char *data, size_t len) {
  return http_stream_write(stream, data, len);
}
static void hio_end(void *stream) { http_stream_end(stream); }
static void hio_error(void *req, const char *code, const char *message) {
  http_reply_error(req, code, message);
}
static const sse_io_t http_io = {hio_start, hio_write, hio_end, hio_error};

/* GET /api/v1/events/stream[?kinds=P,P][&job=ID][&after=N], Last-Event-ID. */
static void on_stream(coord_t *c, http_req_t *h) {
  char err[160];
  sse_filter_t f;
  if (http_query(h, "episode")) {
    http_reply_error(h, "bad_request",
                     "episode: the event stream has no episode filter; filter with job= or "
                     "kinds=");
    return;
  }
  if (sse_filter_parse(&f, http_query(h, "kinds"), http_query(h, "job"), err, sizeof err) < 0) {
    http_reply_error(h, "bad_request", err);
    return;
  }
  /* A reconnecting EventSource sends Last-Event-ID; it wins over the
   * after= of the URL it was first given. */
  const char *last = http_header(h, "Last-Event-ID");
  const char *from = last && *last ? last : http_query(h, "after");
  uint64_t after = 0;
  if (from && sse_parse_seq(from, &after) < 0) {
    http_reply_error(h, "bad_request",
                     last && *last ? "Last-Event-ID: expected an event id (a non-negative integer)"
                                   : "after: expected an event id (a non-negative integer)");
    return;
  }
  const http_ident_t *who = http_ident(h);
  if (who && who->kind != HTTP_AUTH_NONE && who->role == ROLE_WORKER) {
    http_reply_error(h, "forbidden", "a worker's key does not watch events");
    return;
  }
  sse_watch(c, h, who && who->name[0] ? who->name : "anonymous", &f, from != NULL, after);
}

static const http_route_t routes[] = {
    {"GET", "/api/v1/events/stream", on_stream, 0},
};

void sse_routes(coord_t *c) {
  sse_init(c, &http_io, (int)c->cfg.http_max_streams);
  http_add_routes(c, routes, ARRAY_SIZE(routes));
}
