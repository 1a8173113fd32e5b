/*
 * test_zwatch.c - a ZeroMQ socket on a libuv loop despite the edge-triggered
 * ZMQ_FD: 20,000 messages sent in bursts by another thread, and 20,000
 * queued before the loop starts, all arrive although the callback reads at
 * most 100 per call (as the coordinator does); the loop does not spin once
 * the socket is drained; replies that arrive while the callback is sending
 * on the same socket (which changes ZMQ_EVENTS) are not lost; zwatch_stop
 * from inside the callback and from outside releases everything (ASan).
 * A 10 s watchdog fails any phase that stalls.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "check.h"
#include "util.h"
#include "zwatch.h"

#define TOTAL 20000
#define BUDGET 100
#define WATCHDOG_MS 10000

static void *zctx;

typedef struct phase {
  uv_loop_t loop;
  uv_timer_t watchdog;
  zwatch_t *w;
  void *sock;
  uint32_t expect;     /* next sequence number */
  uint32_t total;      /* stop after this many */
  uint32_t received;
  uint32_t out_of_order;
  uint32_t calls;
  uint32_t empty_calls; /* called, but nothing to receive */
  uint32_t max_per_call;
  uint32_t sent;        /* ping-pong: pings sent */
  uint32_t send_errors;
  bool timed_out;
  bool stop_in_cb;      /* stop the watcher as soon as the total is reached */
  bool stopped;
} phase_t;

/* Stops the watcher and the watchdog, once. */
static void finish(phase_t *p) {
  if (p->stopped)
    return;
  p->stopped = true;
  zwatch_stop(&p->w);
  CHECK(p->w == NULL);
  uv_close((uv_handle_t *)&p->watchdog, NULL);
}

static void on_watchdog(uv_timer_t *t) {
  phase_t *p = t->data;
  p->timed_out = true;
  fprintf(stderr, "watchdog: stalled after %u of %u messages\n", p->received, p->total);
  finish(p);
}

static void phase_init(phase_t *p, void *sock, uint32_t total) {
  memset(p, 0, sizeof *p);
  CHECK_INT(uv_loop_init(&p->loop), 0);
  uv_timer_init(&p->loop, &p->watchdog);
  p->watchdog.data = p;
  uv_timer_start(&p->watchdog, on_watchdog, WATCHDOG_MS, 0);
  p->sock = sock;
  p->total = total;
}

/* Runs the loop until every handle is closed, then closes the loop: a
 * watcher that leaked a handle would make uv_loop_close fail. */
static void phase_run(phase_t *p) {
  uv_run(&p->loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&p->loop), 0);
  CHECK(!p->timed_out);
}

/* Receives at most BUDGET sequence numbers, checking their order. */
static void on_readable(zwatch_t *w, void *sock, void *arg) {
  phase_t *p = arg;
  CHECK(w == p->w);
  CHECK(sock == p->sock);
  CHECK(!p->stopped);
  p->calls++;
  uint32_t n = 0;
  while (n < BUDGET) {
    uint32_t seq;
    int rc = zmq_recv(sock, &seq, sizeof seq, ZMQ_DONTWAIT);
    if (rc < 0) {
      CHECK_INT(zmq_errno(), EAGAIN);
      break;
    }
    CHECK_INT(rc, sizeof seq);
    n++;
    if (seq != p->expect)
      p->out_of_order++;
    p->expect = seq + 1;
    p->received++;
  }
  if (n == 0)
    p->empty_calls++;
  if (n > p->max_per_call)
    p->max_per_call = n;
  if (p->received >= p->total && p->stop_in_cb)
    finish(p);
}

typedef struct sender {
  const char *endpoint;
  uint32_t total;
  int done; /* set by the main thread once everything arrived */
} sender_t;

/* Sends total sequence numbers in bursts of 1..1000 with short pauses. */
static void *burst_sender(void *arg) {
  sender_t *s = arg;
  void *push = zmq_socket(zctx, ZMQ_PUSH);
  int zero = 0, tmo = 100;
  zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(push, ZMQ_SNDTIMEO, &tmo, sizeof tmo);
  if (zmq_connect(push, s->endpoint) < 0)
    return NULL;
  unsigned x = 2463534242u;
  uint32_t seq = 0;
  while (seq < s->total) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    uint32_t burst = 1 + x % 1000;
    for (uint32_t i = 0; i < burst && seq < s->total; i++, seq++)
      while (zmq_send(push, &seq, sizeof seq, 0) < 0) /* waits at the HWM */
        if (zmq_errno() != EAGAIN || __atomic_load_n(&s->done, __ATOMIC_ACQUIRE))
          goto out;
    struct timespec ts = {0, (long)(x % 500) * 1000};
    nanosleep(&ts, NULL);
  }
out:
  /* Keep the socket open until the receiver has everything. */
  while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE))
    usleep(1000);
  zmq_close(push);
  return NULL;
}

static void test_bursts_from_thread(void) {
  void *pull = zmq_socket(zctx, ZMQ_PULL);
  int zero = 0;
  zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
  CHECK_INT(zmq_bind(pull, "inproc://zwatch-bursts"), 0);
  phase_t p;
  phase_init(&p, pull, TOTAL);
  p.stop_in_cb = true;
  p.w = zwatch_start(&p.loop, pull, on_readable, &p);
  CHECK(p.w != NULL);

  sender_t s = {"inproc://zwatch-bursts", TOTAL, 0};
  pthread_t th;
  CHECK_INT(pthread_create(&th, NULL, burst_sender, &s), 0);
  phase_run(&p);
  __atomic_store_n(&s.done, 1, __ATOMIC_RELEASE);
  pthread_join(th, NULL);

  CHECK_INT(p.received, TOTAL);
  CHECK_INT(p.out_of_order, 0);
  CHECK_INT(p.empty_calls, 0);
  CHECK(p.max_per_call <= BUDGET);
  CHECK(p.calls >= TOTAL / BUDGET);
  zmq_close(pull);
}

/* Counts loop iterations while the socket is quiet, until the probe. */
static uint32_t quiet_iterations;
static uv_check_t quiet_counter;
static void on_count(uv_check_t *h) {
  (void)h;
  quiet_iterations++;
}
static void on_probe(uv_timer_t *t) {
  phase_t *p = t->data;
  uv_close((uv_handle_t *)&quiet_counter, NULL);
  uv_close((uv_handle_t *)t, NULL);
  finish(p);
}

static void test_queued_before_loop(void) {
  void *pull = zmq_socket(zctx, ZMQ_PULL);
  void *push = zmq_socket(zctx, ZMQ_PUSH);
  int zero = 0;
  zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(pull, ZMQ_RCVHWM, &zero, sizeof zero); /* no limit */
  zmq_setsockopt(push, ZMQ_SNDHWM, &zero, sizeof zero);
  CHECK_INT(zmq_bind(pull, "inproc://zwatch-queued"), 0);
  CHECK_INT(zmq_connect(push, "inproc://zwatch-queued"), 0);
  for (uint32_t seq = 0; seq < TOTAL; seq++)
    CHECK(zmq_send(push, &seq, sizeof seq, ZMQ_DONTWAIT) == sizeof seq);

  /* Everything is queued and the ZMQ_FD edge may already be gone: only the
   * ZMQ_EVENTS check keeps the loop going, BUDGET messages at a time. */
  phase_t p;
  phase_init(&p, pull, TOTAL);
  p.w = zwatch_start(&p.loop, pull, on_readable, &p);
  CHECK(p.w != NULL);
  /* Once drained, the loop must sleep: count iterations over 300 ms. */
  uv_check_init(&p.loop, &quiet_counter);
  uv_timer_t probe;
  uv_timer_init(&p.loop, &probe);
  probe.data = &p;
  while (p.received < TOTAL && !p.timed_out)
    uv_run(&p.loop, UV_RUN_ONCE);
  CHECK_INT(p.received, TOTAL);
  CHECK_INT(p.out_of_order, 0);
  CHECK_INT(p.empty_calls, 0);
  CHECK(p.max_per_call == BUDGET); /* the budget was hit, not the queue */
  CHECK(p.calls >= TOTAL / BUDGET);

  uint32_t calls = p.calls;
  quiet_iterations = 0;
  uv_check_start(&quiet_counter, on_count);
  uv_timer_start(&probe, on_probe, 300, 0);
  phase_run(&p);
  /* A loop kept awake by a forgotten idle handle runs thousands of times. */
  CHECK(quiet_iterations <= 10);
  if (quiet_iterations > 10)
    fprintf(stderr, "%u loop iterations while the socket was quiet\n", quiet_iterations);
  CHECK_INT(p.calls, calls); /* no callback without a message */
  zmq_close(push);
  zmq_close(pull);
}

/* Ping-pong: the watched DEALER sends a ping for every pong it receives,
 * from inside its callback; an echo thread answers each ping. */
#define PINGS 10000
#define WINDOW 64

static void *echo(void *arg) {
  void *router = arg;
  for (;;) {
    uint8_t id[256], body[16];
    int idn = zmq_recv(router, id, sizeof id, 0);
    if (idn < 0)
      break;
    int n = zmq_recv(router, body, sizeof body, 0);
    if (n < 0)
      break;
    if (n == 4 && !memcmp(body, "quit", 4))
      break;
    if (zmq_send(router, id, (size_t)idn, ZMQ_SNDMORE) < 0 ||
        zmq_send(router, body, (size_t)n, 0) < 0)
      break;
  }
  return NULL;
}

static void on_pong(zwatch_t *w, void *sock, void *arg) {
  phase_t *p = arg;
  (void)w;
  p->calls++;
  uint32_t n = 0;
  while (n < BUDGET) {
    uint32_t seq;
    int rc = zmq_recv(sock, &seq, sizeof seq, ZMQ_DONTWAIT);
    if (rc < 0)
      break;
    n++;
    if (seq != p->expect)
      p->out_of_order++;
    p->expect = seq + 1;
    p->received++;
    if (p->sent < p->total) {
      /* Sending processes the socket's commands and may swallow the edge
       * that announced the next pong. */
      if (zmq_send(sock, &p->sent, sizeof p->sent, ZMQ_DONTWAIT) == sizeof p->sent)
        p->sent++;
      else
        p->send_errors++;
    }
  }
  if (n == 0)
    p->empty_calls++;
  if (p->received >= p->total)
    finish(p); /* from inside the callback */
}

static void test_send_inside_callback(void) {
  void *router = zmq_socket(zctx, ZMQ_ROUTER);
  void *dealer = zmq_socket(zctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
  CHECK_INT(zmq_bind(router, "inproc://zwatch-echo"), 0);
  CHECK_INT(zmq_connect(dealer, "inproc://zwatch-echo"), 0);
  pthread_t th;
  CHECK_INT(pthread_create(&th, NULL, echo, router), 0);

  phase_t p;
  phase_init(&p, dealer, PINGS);
  p.w = zwatch_start(&p.loop, dealer, on_pong, &p);
  CHECK(p.w != NULL);
  for (; p.sent < WINDOW; p.sent++)
    CHECK(zmq_send(dealer, &p.sent, sizeof p.sent, 0) == sizeof p.sent);
  phase_run(&p);
  CHECK_INT(p.received, PINGS);
  CHECK_INT(p.sent, PINGS);
  CHECK_INT(p.send_errors, 0);
  CHECK_INT(p.out_of_order, 0);
  CHECK_INT(p.empty_calls, 0);

  CHECK_INT(zmq_send(dealer, "quit", 4, 0), 4);
  pthread_join(th, NULL);
  zmq_close(dealer);
  zmq_close(router);
}

/* Stopping: inside the first callback with messages still waiting (the
 * callback is not called again), and outside before anything arrived. */
static void on_stop_at_once(zwatch_t *w, void *sock, void *arg) {
  phase_t *p = arg;
  (void)sock;
  CHECK(w == p->w);
  p->calls++;
  finish(p);
}

static void test_stop(void) {
  void *pull = zmq_socket(zctx, ZMQ_PULL);
  void *push = zmq_socket(zctx, ZMQ_PUSH);
  int zero = 0;
  zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
  CHECK_INT(zmq_bind(pull, "inproc://zwatch-stop"), 0);
  CHECK_INT(zmq_connect(push, "inproc://zwatch-stop"), 0);
  for (uint32_t seq = 0; seq < 10; seq++)
    CHECK(zmq_send(push, &seq, sizeof seq, 0) == sizeof seq);

  phase_t p;
  phase_init(&p, pull, 10);
  p.w = zwatch_start(&p.loop, pull, on_stop_at_once, &p);
  CHECK(p.w != NULL);
  phase_run(&p);
  CHECK_INT(p.calls, 1);
  /* The messages are still there for whoever watches next. */
  uint32_t seq = 99;
  CHECK_INT(zmq_recv(pull, &seq, sizeof seq, ZMQ_DONTWAIT), sizeof seq);
  CHECK_INT(seq, 0);

  /* A second watcher on the same socket, stopped from outside before the
   * loop ever ran; then a NULL watcher is a no-op. */
  phase_init(&p, pull, 10);
  p.w = zwatch_start(&p.loop, pull, on_stop_at_once, &p);
  CHECK(p.w != NULL);
  finish(&p);
  zwatch_stop(&p.w);
  phase_run(&p);
  CHECK_INT(p.calls, 0);

  /* A third one drains the rest and stops itself. */
  phase_init(&p, pull, 9);
  p.expect = 1;
  p.stop_in_cb = true;
  p.w = zwatch_start(&p.loop, pull, on_readable, &p);
  CHECK(p.w != NULL);
  phase_run(&p);
  CHECK_INT(p.received, 9);
  CHECK_INT(p.out_of_order, 0);
  zmq_close(push);
  zmq_close(pull);
}

int main(void) {
  zctx = zmq_ctx_new();
  uint64_t t0 = util_mono_us();
  test_bursts_from_thread();
  test_queued_before_loop();
  test_send_inside_callback();
  test_stop();
  fprintf(stderr, "zwatch: %.2f s\n", (double)(util_mono_us() - t0) / 1e6);
  zmq_ctx_term(zctx);
  return check_report("zwatch");
}
