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
 *     from the coordinator for 3 heartbeat intervals (it may have
 *     restarted and forgotten us; a coordinator should therefore send
 *     something, e.g. an empty ResultAck, in answer to heartbeats).  A Hello
 *     that could not be sent is retried every 100 ms.
 *   - heartbeat: every heartbeat interval once a Welcome arrived.
 *   - retransmit: when welcomed, 5 heartbeat intervals after all
 *     unacknowledged results were last sent (by a Hello or an earlier
 *     retransmission).
 *   - message: every other message, and Welcome after the link adopted
 *     its heartbeat_ms.
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

/* True once a Welcome answered the latest Hello. */
bool link_welcomed(const link_t *l);

/* Closes the socket (linger 0) and releases the link once libuv has closed
 * its handles; sets *l to NULL.  Not to be called from a link callback. */
void link_close(link_t **l);

#endif
