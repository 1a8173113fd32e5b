/*
 * sse.h - live events: GET /api/v1/events/stream, server-sent events.
 *
 * A watcher (a browser's EventSource, curl -N, a pipeline's script) gets,
 * as each batch commits:
 *
 *  - every event of the event log (store_tap), in the log's order:
 *      event: <kind>            job.state, take.approved, worker.state, ...
 *      id: <seq>                the event's position in the log
 *      data: {"id", "kind", "at", "actor", "subject_type", "subject_id",
 *             "details": {...}} on one line;
 *  - job.progress: a job's task counts, at most one per job per
 *    SSE_PROGRESS_MS, carrying the latest committed counts (no id: they
 *    are not in the log, so they never move a client's resume point):
 *      data: {"job_id", "state", "ntasks", "counts": {<task state>: n}};
 *  - ": keep-alive" every SSE_KEEPALIVE_MS, so that a dead client is
 *    noticed (its writes back up) and proxies keep the connection.
 *
 * Filters (query parameters): kinds=take.,job.state (prefixes of the kind,
 * job.progress included), job=ID (events whose subject is the job, or
 * whose details name it as job_id, and the job's progress).
 *
 * Resume: Last-Event-ID: N (or ?after=N) first sends the events after N
 * from the database (through the read pool, under the caller's limits),
 * then live ones, with no gap and no duplicate: the watcher is registered
 * before the read, the read covers (N, H] where H is the log's committed
 * head at registration, and the live events of batches that commit
 * meanwhile (all after H) are held for it until the read answered.  More
 * than SSE_RESUME_MAX events missed (or N after H: a client of another
 * database) sends "event: reset" with id H instead: the client reloads
 * what it shows and goes on from there.
 *
 * Who decides what: http.c owns the connection and its queue (a watcher
 * more than HTTP_STREAM_MAX_QUEUED behind is ended, never buffered
 * without bound); sse.c decides what each watcher is sent.  Every event
 * is formatted once, whatever the number of watchers, and the same bytes
 * go to every watcher whose filter takes it.  At most --http-max-streams
 * watchers (pending resumes included); more are refused with 503.  With
 * no watcher connected the tap and the progress hook return at once.
 */
#ifndef CLAPPER_SSE_H
#define CLAPPER_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "store.h"

#define SSE_MAX_STREAMS_DEFAULT 256
#define SSE_RESUME_MAX 10000     /* events a resume sends at most before "reset" */
#define SSE_PROGRESS_MS 250      /* job.progress: at most one per job per this */
#define SSE_KEEPALIVE_MS 15000   /* ": keep-alive" */
#define SSE_MAX_KINDS 16         /* prefixes in kinds= */
#define SSE_KIND_MAX 64          /* bytes of one prefix */

/* What a watcher asked for. */
typedef struct sse_filter {
  char kinds[SSE_MAX_KINDS][SSE_KIND_MAX + 1];
  size_t nkinds;  /* 0: every kind */
  uint64_t job;   /* 0: every job */
} sse_filter_t;

/* Parses kinds= and job= (each NULL when absent) into f.  0, or -1 with a
 * one-line reason in err. */
int sse_filter_parse(sse_filter_t *f, const char *kinds, const char *job, char *err,
                     size_t errlen);

/* Whether f takes an event of kind about job_id (0: no job). */
bool sse_filter_match(const sse_filter_t *f, const char *kind, uint64_t job_id);

/* Appends ev as one server-sent event ("event:", "id:", "data:", blank
 * line) to out; *job_id is the job it is about (subject "job", or its
 * details' job_id), 0 when none. */
void sse_format_event(const store_tapped_t *ev, sbuf_t *out, uint64_t *job_id);

/* Parses a resume point (Last-Event-ID, after=): decimal digits only.
 * 0, or -1 when it is not one. */
int sse_parse_seq(const char *s, uint64_t *out);

/* How sse.c reaches its watchers: http.c's streams in the coordinator;
 * a test's fakes in tests/unit/test_sse.c.  req is an http_req_t, stream
 * an http_stream_t. */
typedef struct sse_io {
  void *(*start)(void *req, void (*on_close)(void *arg), void *arg);
  int (*write)(void *stream, const char *data, size_t len);
  void (*end)(void *stream);
  void (*error)(void *req, const char *code, const char *message);
} sse_io_t;

/* Sets up live events on c (the tap, the commit listener, the timers):
 * io NULL for http.c's streams; max_streams watchers at most. */
void sse_init(coord_t *c, const sse_io_t *io, int max_streams);

/* sse_init with http.c's streams and c->cfg.http_max_streams, and the
 * route GET /api/v1/events/stream (any role). */
void sse_routes(coord_t *c);

/* A new watcher for request req of user (the name its reads count
 * against) with filter f; resume: send the events after `after` first.
 * Answers req: an error, or the stream. */
void sse_watch(coord_t *c, void *req, const char *user, const sse_filter_t *f, bool resume,
               uint64_t after);

/* j's task counts or state changed (job.c): cheap, and nothing at all
 * while no watcher is connected. */
void sse_job_changed(coord_t *c, const job_t *j);

/* Watchers connected (pending resumes included). */
size_t sse_watchers(const coord_t *c);

/* Ends every stream and closes the timers; the state goes once libuv
 * released them (coord_close_timers calls it).  Safe without sse_init. */
void sse_close(coord_t *c);

#endif
