/*
 * zwatch.h - drive a ZeroMQ socket from a libuv loop.
 *
 * ZMQ_FD is edge-triggered and only says "look at ZMQ_EVENTS".  A zwatch
 * uses a uv_poll on it purely as a wake-up, checks ZMQ_EVENTS in a
 * uv_prepare (keeping a uv_idle running while messages wait, so the loop
 * does not block) and calls the owner's callback from a uv_check while the
 * socket is readable.  The callback should receive a bounded number of
 * messages with ZMQ_DONTWAIT; whatever is left is delivered on the next
 * loop iteration.  This is the pattern of flux-core's zwatcher.
 */
#ifndef CLAPPER_ZWATCH_H
#define CLAPPER_ZWATCH_H

#include <uv.h>

typedef struct zwatch zwatch_t;

/* Called while sock has messages waiting. */
typedef void (*zwatch_cb)(zwatch_t *w, void *sock, void *arg);

/* Starts watching sock (not owned).  Returns the watcher, or NULL with a
 * logged reason. */
zwatch_t *zwatch_start(uv_loop_t *loop, void *sock, zwatch_cb cb, void *arg);

/* Stops watching and releases the watcher once libuv has closed its
 * handles; sets *w to NULL.  Safe to call from the watcher's callback. */
void zwatch_stop(zwatch_t **w);

#endif
