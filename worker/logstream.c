/*
 * logstream.c - attempts' logs to the coordinator while they run, see
 * logstream.h.
 *
 * Each followed attempt keeps an O_RDONLY descriptor on its log and the
 * offset up to which the log was sent.  A pass builds one Logs message:
 * it preads what the followed logs gained into one buffer of
 * LOGSTREAM_MSG_BYTES (the chunks point into it), sends the message, and
 * only then moves the offsets; a failed send moves nothing.
 */
#include "logstream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* What the protobuf framing of one chunk may add to its data (tags,
 * varints for the attempt id, offset and lengths), counted against the
 * message budget. */
#define CHUNK_OVERHEAD 40u

typedef struct stream {
  uint64_t id;
  char *path;
  int fd;                /* O_RDONLY | O_CLOEXEC */
  uint64_t offset;       /* bytes sent: where the next chunk starts */
  uint64_t pend;         /* bytes read into the message being built */
  uint64_t linger_until; /* uv_now after which an ended attempt's rest is dropped */
  bool ended;            /* the attempt ended: dropped once everything is sent */
  bool eof;              /* this pass reached the end of the file or the cap */
  bool capped;           /* it reached the cap (max_bytes): not sent whole */
  bool broken;           /* a read failed: dropped */
} stream_t;

struct logstream {
  uv_loop_t *loop;
  uint64_t max_bytes;
  logstream_send_cb send;
  void *arg;
  uv_timer_t tick;
  stream_t *s; /* followed attempts */
  size_t n, cap;
  size_t cursor;  /* the stream the next tick serves first */
  uint8_t *buf;   /* LOGSTREAM_MSG_BYTES while streams exist, else NULL */
  Clapper__LogChunk *chunks; /* of the message being built */
  size_t n_chunks, cap_chunks;
};

logstream_t *logstream_new(uv_loop_t *loop, uint64_t max_bytes, logstream_send_cb send,
                           void *arg) {
  logstream_t *ls = xcalloc(1, sizeof *ls);
  ls->loop = loop;
  ls->max_bytes = max_bytes;
  ls->send = send;
  ls->arg = arg;
  uv_timer_init(loop, &ls->tick);
  ls->tick.data = ls;
  return ls;
}

size_t logstream_count(const logstream_t *ls) { return ls->n; }

static stream_t *find(logstream_t *ls, uint64_t id) {
  for (size_t i = 0; i < ls->n; i++)
    if (ls->s[i].id == id)
      return &ls->s[i];
  return NULL;
}

static void stream_release(stream_t *st) {
  if (st->fd >= 0)
    close(st->fd);
  st->fd = -1;
  free(st->path);
  st->path = NULL;
}

/* ---------------------------------------------------------------- passes */

static void add_chunk(logstream_t *ls, uint64_t id, uint64_t offset, uint8_t *data, size_t len) {
  ARRAY_RESERVE(ls->chunks, ls->n_chunks, ls->cap_chunks, 1);
  Clapper__LogChunk *c = &ls->chunks[ls->n_chunks++];
  clapper__log_chunk__init(c);
  c->attempt_id = id;
  c->offset = offset;
  c->data.data = data;
  c->data.len = len;
}

/* Reads what st gained past offset + pend into the message being built:
 * one chunk, or with whole as many as fit.  *used counts the message's
 * bytes (data and framing); data goes to buf + *used.  Sets st->eof at the
 * end of the file or the cap, st->broken when a read fails.  Returns false
 * when the message is full. */
static bool take(logstream_t *ls, stream_t *st, size_t *used, bool whole) {
  do {
    uint64_t at = st->offset + st->pend;
    if (at >= ls->max_bytes) {
      st->eof = true;
      st->capped = true;
      return true;
    }
    if (*used + CHUNK_OVERHEAD >= LOGSTREAM_MSG_BYTES)
      return false;
    size_t want = LOGSTREAM_CHUNK_BYTES;
    if (want > ls->max_bytes - at)
      want = (size_t)(ls->max_bytes - at);
    if (want > LOGSTREAM_MSG_BYTES - *used - CHUNK_OVERHEAD)
      want = LOGSTREAM_MSG_BYTES - *used - CHUNK_OVERHEAD;
    ssize_t r;
    do
      r = pread(st->fd, ls->buf + *used, want, (off_t)at);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      log_warn("attempt %llu: reading %s: %s; its log is no longer streamed",
               (unsigned long long)st->id, st->path, strerror(errno));
      st->broken = true;
      return true;
    }
    if (r == 0) {
      st->eof = true;
      return true;
    }
    add_chunk(ls, st->id, at, ls->buf + *used, (size_t)r);
    *used += (size_t)r + CHUNK_OVERHEAD;
    st->pend += (uint64_t)r;
    if ((size_t)r < want) {
      st->eof = true; /* a regular file reads short only at its end */
      return true;
    }
  } while (whole);
  return true;
}

/* Builds one Logs message from the followed attempts (only the ended ones
 * with ended_only), serving them from ls->cursor on: one chunk per running
 * attempt, as many chunks as fit per ended one (or per attempt with
 * whole).  Sends it.  Returns 1 when a message went out (offsets moved),
 * 0 when there was nothing to send, -1 when the send failed (offsets
 * unchanged, eof flags cleared). */
static int pass(logstream_t *ls, bool ended_only, bool whole) {
  size_t used = 0;
  ls->n_chunks = 0;
  for (size_t k = 0; k < ls->n; k++) {
    size_t i = (ls->cursor + k) % ls->n;
    stream_t *st = &ls->s[i];
    if (st->eof || st->broken || (ended_only && !st->ended))
      continue;
    if (!take(ls, st, &used, whole || st->ended)) {
      ls->cursor = i; /* served first next time */
      break;
    }
  }
  if (!ls->n_chunks)
    return 0;
  Clapper__LogChunk **ptrs = xcalloc(ls->n_chunks, sizeof *ptrs);
  for (size_t i = 0; i < ls->n_chunks; i++)
    ptrs[i] = &ls->chunks[i];
  Clapper__Logs body = CLAPPER__LOGS__INIT;
  body.n_chunks = ls->n_chunks;
  body.chunks = ptrs;
  envelope_t env = CODEC_ENVELOPE(LOGS, logs, &body);
  int rc = ls->send(ls->arg, &env);
  free(ptrs);
  ls->n_chunks = 0;
  for (size_t i = 0; i < ls->n; i++) {
    stream_t *st = &ls->s[i];
    if (rc == 0)
      st->offset += st->pend;
    else
      st->eof = false; /* not sent: not done */
    st->pend = 0;
  }
  return rc == 0 ? 1 : -1;
}

/* Stops following attempts that are done with: unreadable, at the cap,
 * ended with everything sent, or ended LOGSTREAM_LINGER_MS ago.  Stops the
 * timer and frees the buffer when none is left. */
static void sweep(logstream_t *ls) {
  uint64_t now = uv_now(ls->loop);
  size_t k = 0;
  for (size_t i = 0; i < ls->n; i++) {
    stream_t *st = &ls->s[i];
    struct stat sb;
    if (st->broken) {
      /* logged when the read failed */
    } else if (st->offset >= ls->max_bytes) {
      if (fstat(st->fd, &sb) == 0 && (uint64_t)sb.st_size > ls->max_bytes)
        log_info("attempt %llu: streamed the first %llu bytes of its log "
                 "(--log-stream-max-bytes); the rest stays in %s",
                 (unsigned long long)st->id, (unsigned long long)ls->max_bytes, st->path);
    } else if (st->ended && st->eof) {
      log_debug("attempt %llu: log streamed, %llu bytes", (unsigned long long)st->id,
                (unsigned long long)st->offset);
    } else if (st->ended && now >= st->linger_until) {
      log_warn("attempt %llu: only %llu bytes of its log were streamed (no coordinator); "
               "the rest stays in %s",
               (unsigned long long)st->id, (unsigned long long)st->offset, st->path);
    } else {
      ls->s[k++] = *st;
      continue;
    }
    stream_release(st);
  }
  ls->n = k;
  if (ls->n == 0) {
    uv_timer_stop(&ls->tick);
    free(ls->buf);
    ls->buf = NULL;
    ls->cursor = 0;
  }
}

static void on_tick(uv_timer_t *t) {
  logstream_t *ls = t->data;
  for (size_t i = 0; i < ls->n; i++)
    ls->s[i].eof = false;
  if (pass(ls, false, false) < 0)
    log_debug("Logs not sent; retried next tick");
  sweep(ls);
}

/* ---------------------------------------------------------------- interface */

int logstream_add(logstream_t *ls, uint64_t attempt_id, const char *path) {
  if (ls->max_bytes == 0 || find(ls, attempt_id))
    return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int saved = errno;
    log_warn("attempt %llu: cannot open %s (%s); its log is not streamed",
             (unsigned long long)attempt_id, path, strerror(saved));
    errno = saved;
    return -1;
  }
  ARRAY_RESERVE(ls->s, ls->n, ls->cap, 1);
  stream_t *st = &ls->s[ls->n++];
  memset(st, 0, sizeof *st);
  st->id = attempt_id;
  st->path = xstrdup(path);
  st->fd = fd;
  if (!ls->buf)
    ls->buf = xmalloc(LOGSTREAM_MSG_BYTES);
  if (!uv_is_active((uv_handle_t *)&ls->tick))
    uv_timer_start(&ls->tick, on_tick, LOGSTREAM_TICK_MS, LOGSTREAM_TICK_MS);
  return 0;
}

void logstream_finish(logstream_t *ls, const uint64_t *ids, size_t n, bool *whole) {
  bool any = false;
  if (whole)
    memset(whole, 0, n * sizeof *whole);
  for (size_t i = 0; i < n; i++) {
    stream_t *st = find(ls, ids[i]);
    if (!st || st->ended)
      continue;
    st->ended = true;
    st->linger_until = uv_now(ls->loop) + LOGSTREAM_LINGER_MS;
    any = true;
  }
  if (!any)
    return;
  for (size_t i = 0; i < ls->n; i++)
    ls->s[i].eof = false;
  int rc;
  do
    rc = pass(ls, true, true);
  while (rc == 1);
  if (rc < 0)
    log_debug("the rest of the ended attempts' logs is retried by the ticks");
  for (size_t i = 0; whole && rc == 0 && i < n; i++) {
    const stream_t *st = find(ls, ids[i]);
    whole[i] = st && st->ended && st->eof && !st->capped && !st->broken;
  }
  sweep(ls);
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void logstream_close(logstream_t **lsp) {
  logstream_t *ls = *lsp;
  if (!ls)
    return;
  *lsp = NULL;
  for (size_t i = 0; i < ls->n; i++)
    stream_release(&ls->s[i]);
  free(ls->s);
  free(ls->buf);
  free(ls->chunks);
  ls->s = NULL;
  ls->buf = NULL;
  ls->chunks = NULL;
  ls->n = ls->cap = ls->n_chunks = ls->cap_chunks = 0;
  uv_timer_stop(&ls->tick);
  uv_close((uv_handle_t *)&ls->tick, on_closed);
}
