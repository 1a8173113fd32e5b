/*
 * link.h - the worker's session with the coordinator.
 *
 * One ZeroMQ DEALER socket is connected to every coordinator endpoint
 * (only the leader binds, so at most one is live).  ZMQ_IMMEDIATE is set:
 * nothing is queued for an endpoint that is not connected, and a send with
 * no live coordinator fails at once with EAGAIN (heartbeats are then
 * dropped; results are retransmitted later).  The socket reconnects every
 * 100-200 ms and is driven from libuv through zwatch.
 *
 * The link decides *when* to talk; the worker decides *what* to say,
 * through callbacks:
 *   - hello: at start, after a Reset, and when nothing at all has come
 *     from the coordinator for 3 heartbeat intervals or half the lease,
 *     whichever is longer (it may have
 *     restarted and forgotten us; a coordinator should therefore send
 *     something, e.g. an empty ResultAck, in answer to heartbeats); while
 *     Hellos go unanswered, each waits twice as long as the one before, up
 *     to about the lease (only the latest Hello's Welcome counts, see
 *     below); and when nothing went to the coordinator for nearly a lease
 *     (see "Stale work").  A Hello that could not be sent is retried every
 *     100 ms.
 *   - heartbeat: every heartbeat interval once a Welcome arrived.
 *   - retransmit: when welcomed, 5 heartbeat intervals after all
 *     unacknowledged results were last sent (by a Hello or an earlier
 *     retransmission).
 *   - message: every other message, and Welcome after the link adopted
 *     its heartbeat_ms.
 *
 * Stale work.  An assignment that waited (in the socket of a stopped
 * worker, or behind a Hello) may be one the coordinator has since declared
 * lost and given to another worker; running it would repeat its side
 * effects over the other run's.  The link decides when the worker may
 * start what it is assigned, the worker applies it to each Task:
 *   - Every Hello carries a new hello_id; only a Welcome echoing it (or 0,
 *     from an older coordinator) makes the link welcomed.  A Welcome for an
 *     earlier Hello is dropped.  Until welcomed the worker drops every
 *     Assign: it was sent before the coordinator read the Hello, which did
 *     not list it, so the coordinator has counted it lost already.
 *   - Whenever the link runs (a tick or a message), it first checks how
 *     long ago a message last went to the coordinator.  More than the
 *     Welcome's lease_ms less two heartbeat intervals or a quarter of the
 *     lease, whichever is less (never under 1.5 intervals), means the process
 *     was stopped, blocked or cut off long enough that the coordinator may
 *     have declared it lost: it says Hello again before reading
 *     anything, so what waited in the socket is dropped.  Attempts still
 *     running are listed in that Hello; the Welcome's cancel list stops
 *     those the coordinator gave away.
 *   - A Task's start_by_us is the coordinator's time past which it counts
 *     the attempt "not started within the lease".  The Welcome's now_us
 *     lets the link estimate the coordinator's clock on this host's
 *     monotonic clock (link_past_start_by); a Task past it is dropped and
 *     the coordinator's lease check ends the attempt.
 *
 * With a key the socket is a CURVE client (keys_client) and a monitor
 * watches its handshakes, so that a coordinator refusing the key (or not
 * using keys, or with another server key) is logged once per change
 * rather than looking like silence.  ZeroMQ gives up on an endpoint after
 * a refusal; the link connects again LINK_AUTH_RETRY_MS later, so that a
 * key registered after the worker started is taken up.
 */
#ifndef CLAPPER_WORKER_LINK_H
#define CLAPPER_WORKER_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "codec.h"

#define LINK_HELLO_RETRY_MS 100
#define LINK_SILENCE_BEATS 3
#define LINK_RETRANSMIT_BEATS 5
#define LINK_AUTH_RETRY_MS 2000
/* How far off the worker's wall clock may be from the coordinator's, when
 * the coordinator did not say its own (the coordinator allows the same). */
#define LINK_CLOCK_SKEW_US INT64_C(5000000)

typedef struct link link_t;

typedef struct link_callbacks {
  /* Build and send a Hello now with link_send; return its result. */
  int (*hello)(void *arg);
  /* Build and send a Heartbeat now. */
  void (*heartbeat)(void *arg);
  /* Resend every unacknowledged result. */
  void (*retransmit)(void *arg);
  /* A message from the coordinator other than Reset; the callee owns env
   * (codec_free).  The callee must not call link_close. */
  void (*message)(void *arg, envelope_t *env);
  void *arg;
} link_callbacks_t;

/* The worker's CURVE keys (borrowed): key is its NAME.key, server_key the
 * coordinator's public key file (NULL: coordinator.pub next to key). */
typedef struct link_keys {
  const char *key;
  const char *server_key;
} link_keys_t;

/* Creates the socket in zctx (not owned), makes it a CURVE client when
 * keys is not NULL, connects it to endpoints[0..n) and starts watching it.
 * Nothing is sent before link_start.  Returns the link, or NULL with a
 * one-line reason in err (a bad endpoint or key file, say). */
link_t *link_new(uv_loop_t *loop, void *zctx, char *const *endpoints, size_t n,
                 uint32_t heartbeat_ms, const link_keys_t *keys, const link_callbacks_t *cb,
                 char *err, size_t errlen);

/* Sends the first Hello and starts the heartbeat timer. */
void link_start(link_t *l);

/* Sends env (borrowed) to the coordinator without blocking.  Returns 0, or
 * -1 with errno (EAGAIN: no coordinator connected or the queue is full). */
int link_send(link_t *l, envelope_t *env) MUSTCHECK;

/* The heartbeat interval in force (the Welcome's, once one arrived). */
uint32_t link_heartbeat_ms(const link_t *l);

/* True once a Welcome answered the latest Hello.  While false, the worker
 * starts nothing it is assigned (see "Stale work" above). */
bool link_welcomed(const link_t *l);

/* The id the Hello being built must carry (hello callback). */
uint64_t link_hello_id(const link_t *l);

/* The coordinator's wall clock now, unix microseconds, as estimated from
 * the latest Welcome's now_us and this host's monotonic clock since; 0
 * when no Welcome said it. */
int64_t link_coordinator_now_us(const link_t *l);

/* True when an assignment with this start_by_us (Task field; 0: none) must
 * not start: the coordinator's clock (estimated, one heartbeat interval of
 * margin for the Welcome's transit) is past it, or, when the coordinator's
 * clock is unknown, this host's is past it by more than LINK_CLOCK_SKEW_US. */
bool link_past_start_by(const link_t *l, int64_t start_by_us);

/* Closes the socket (linger 0) and releases the link once libuv has closed
 * its handles; sets *l to NULL.  Not to be called from a link callback. */
void link_close(link_t **l);

#endif
