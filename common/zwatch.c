/*
 * zwatch.c - ZeroMQ socket readiness on a libuv loop, see zwatch.h.
 */
#include "zwatch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <zmq.h>

#include "log.h"
#include "util.h"

struct zwatch {
  uv_poll_t poll;
  uv_prepare_t prepare;
  uv_check_t check;
  uv_idle_t idle;
  void *sock;
  zwatch_cb cb;
  void *arg;
  int open_handles; /* freed when the last close callback ran */
  bool stopped;
};

static bool readable(zwatch_t *w) {
  int events = 0;
  size_t sz = sizeof events;
  if (zmq_getsockopt(w->sock, ZMQ_EVENTS, &events, &sz) < 0)
    return false;
  return (events & ZMQ_POLLIN) != 0;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)h;
  (void)status;
  (void)events; /* a wake-up only: uv_check does the work */
}

static void on_idle(uv_idle_t *h) { (void)h; }

static void on_prepare(uv_prepare_t *h) {
  zwatch_t *w = h->data;
  if (w->stopped)
    return;
  if (readable(w))
    uv_idle_start(&w->idle, on_idle);
  else
    uv_idle_stop(&w->idle);
}

static void on_check(uv_check_t *h) {
  zwatch_t *w = h->data;
  if (!w->stopped && readable(w))
    w->cb(w, w->sock, w->arg);
}

static void on_close(uv_handle_t *h) {
  zwatch_t *w = h->data;
  if (--w->open_handles == 0)
    free(w);
}

zwatch_t *zwatch_start(uv_loop_t *loop, void *sock, zwatch_cb cb, void *arg) {
  int fd;
  size_t sz = sizeof fd;
  if (zmq_getsockopt(sock, ZMQ_FD, &fd, &sz) < 0) {
    log_error("ZMQ_FD: %s", zmq_strerror(zmq_errno()));
    return NULL;
  }
  zwatch_t *w = xcalloc(1, sizeof *w);
  w->sock = sock;
  w->cb = cb;
  w->arg = arg;
  if (uv_poll_init(loop, &w->poll, fd) < 0) {
    log_error("uv_poll_init failed for fd %d", fd);
    free(w);
    return NULL;
  }
  uv_prepare_init(loop, &w->prepare);
  uv_check_init(loop, &w->check);
  uv_idle_init(loop, &w->idle);
  w->poll.data = w->prepare.data = w->check.data = w->idle.data = w;
  w->open_handles = 4;
  uv_poll_start(&w->poll, UV_READABLE, on_poll);
  uv_prepare_start(&w->prepare, on_prepare);
  uv_check_start(&w->check, on_check);
  return w;
}

void zwatch_stop(zwatch_t **wp) {
  zwatch_t *w = *wp;
  if (!w)
    return;
  *wp = NULL;
  w->stopped = true;
  uv_close((uv_handle_t *)&w->poll, on_close);
  uv_close((uv_handle_t *)&w->prepare, on_close);
  uv_close((uv_handle_t *)&w->check, on_close);
  uv_close((uv_handle_t *)&w->idle, on_close);
}
