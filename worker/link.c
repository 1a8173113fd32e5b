/*
 * link.c - DEALER session with the coordinator: Hello/Welcome/Reset,
 * heartbeats, silence detection and retransmission timing, see link.h.
 */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "keys.h"
#include "log.h"
#include "zwatch.h"

#define RECV_BATCH 64

/* The session's state; link_set_state performs every transition. */
typedef enum link_state {
  LINK_HELLO = 0, /* a Hello must be sent (the last try failed or none yet) */
  LINK_WAIT,      /* Hello sent, no Welcome yet */
  LINK_READY,     /* welcomed: heartbeats flow */
  LINK_STATE_COUNT
} link_state_t;

static const char *const state_names[LINK_STATE_COUNT] = {"hello", "wait", "ready"};

struct link {
  uv_loop_t *loop;
  void *sock;
  zwatch_t *zw;
  uv_timer_t tick;  /* every heartbeat interval */
  uv_timer_t retry; /* Hello retries while it cannot be sent */
  uv_timer_t auth_retry; /* connecting again after a refused handshake */
  char **endpoints;      /* owned copies */
  size_t n_endpoints;
  int open_handles;
  link_callbacks_t cb;
  link_state_t state;
  uint32_t heartbeat_ms;
  uint64_t last_rx;    /* uv_now of the last message from the coordinator */
  uint64_t last_hello; /* uv_now of the last Hello sent */
  uint64_t last_full;  /* uv_now of the last Hello or retransmission: all results sent */
  bool started;
  /* Stale work (link.h): the latest Hello's id, the Welcome's lease, when
   * a message last went to the coordinator, and the coordinator's wall
   * clock (coord_us at util_mono_us coord_mono; coord_us 0: unknown). */
  uint64_t hello_id;
  unsigned unanswered; /* Hellos sent since the last Welcome taken */
  uint32_t lease_ms;
  uint64_t last_sent_mono;
  int64_t coord_us;
  uint64_t coord_mono;
  /* CURVE (NULL mon: a plain connection) */
  void *mon;            /* the socket's monitor */
  zwatch_t *mon_zw;
  keys_event_t last_event; /* the last handshake outcome logged */
  char key_name[IDENT_MAX + 1];
  char *key, *server_key; /* file names, for messages */
};

static void link_set_state(link_t *l, link_state_t to) {
  if (l->state != to)
    log_debug("link %s -> %s", state_names[l->state], state_names[to]);
  l->state = to;
}

static void on_retry(uv_timer_t *t);

static void try_hello(link_t *l) {
  link_set_state(l, LINK_HELLO);
  l->hello_id++; /* every Hello has its own id: an earlier one's Welcome is not its answer */
  if (l->cb.hello(l->cb.arg) == 0) {
    l->last_hello = l->last_full = uv_now(l->loop);
    l->unanswered++;
    link_set_state(l, LINK_WAIT);
    uv_timer_stop(&l->retry);
  } else if (!uv_is_active((uv_handle_t *)&l->retry)) {
    uv_timer_start(&l->retry, on_retry, LINK_HELLO_RETRY_MS, LINK_HELLO_RETRY_MS);
  }
}

static void on_retry(uv_timer_t *t) {
  link_t *l = t->data;
  if (l->state == LINK_HELLO)
    try_hello(l);
  else
    uv_timer_stop(&l->retry);
}

/* The longest the coordinator may go without a message from this worker
 * before the worker must assume it was declared lost: the lease less two
 * heartbeat intervals (at most a quarter of the lease: time for what the
 * worker does next to reach the coordinator), and never less than one and
 * a half heartbeat intervals (a heartbeat goes every interval); 0 before a
 * Welcome said the lease. */
static uint64_t stall_limit_us(const link_t *l) {
  uint64_t lease = (uint64_t)l->lease_ms * 1000, hb = (uint64_t)l->heartbeat_ms * 1000;
  uint64_t margin = 2 * hb < lease / 4 ? 2 * hb : lease / 4;
  return lease - margin > hb + hb / 2 ? lease - margin : hb + hb / 2;
}

/* Called first whenever the link runs: nothing sent to the coordinator for
 * longer than stall_limit_us means this process was stopped (SIGSTOP, a
 * frozen VM) or blocked, or cut off, long enough that the coordinator may
 * have declared it lost and given its work to others.  What waits in the
 * socket was sent before that and may be stale: a new Hello is sent, and
 * until its Welcome the worker starts nothing (link_welcomed is false).
 * Returns true then.  (While a Hello cannot be sent, it is retried
 * anyway.) */
static bool check_stall(link_t *l) {
  uint64_t limit = stall_limit_us(l);
  uint64_t silent = util_mono_us() - l->last_sent_mono;
  if (!l->started || l->state == LINK_HELLO || !limit || silent <= limit)
    return false;
  log_warn("nothing reached the coordinator for %llu ms (lease %u ms): this worker was stopped "
           "or cut off, and work sent meanwhile may have gone to others; dropping assignments "
           "until the coordinator answers a new Hello",
           (unsigned long long)(silent / 1000), l->lease_ms);
  try_hello(l);
  return true;
}

/* How long after a Hello that got no answer another is sent: the silence,
 * doubled for each further unanswered Hello up to the lease (check_stall
 * may send one sooner).  Only the
 * Welcome of the latest Hello counts, so a coordinator that takes longer
 * than the silence to answer (its commits are slow) must not be sent a
 * new Hello every time before its answer to the last one arrives. */
static uint64_t hello_again_ms(const link_t *l, uint64_t silence) {
  unsigned shift = l->unanswered > 1 ? l->unanswered - 1 : 0;
  uint64_t ms = silence << (shift < 4 ? shift : 4);
  if (l->lease_ms && ms > l->lease_ms)
    ms = l->lease_ms > silence ? l->lease_ms : silence;
  return ms;
}

/* How long the coordinator may say nothing before the worker says Hello
 * again: 3 heartbeat intervals, or half the lease if that is longer.  A
 * coordinator that restarted answers the next heartbeat with a Reset, so
 * this is only the backstop; and a Hello sent to a coordinator that is
 * merely busy (a million-task submit) costs the assignments already on
 * their way, which the Hello does not list. */
static uint64_t silence_ms(const link_t *l) {
  uint64_t ms = (uint64_t)LINK_SILENCE_BEATS * l->heartbeat_ms;
  return l->lease_ms / 2 > ms ? l->lease_ms / 2 : ms;
}

static void on_tick(uv_timer_t *t) {
  link_t *l = t->data;
  if (check_stall(l))
    return;
  uint64_t now = uv_now(l->loop);
  uint64_t silence = silence_ms(l);
  if (l->state != LINK_HELLO && now - l->last_rx >= silence &&
      now - l->last_hello >= hello_again_ms(l, silence)) {
    log_info("no word from the coordinator for %llu ms: saying Hello again",
             (unsigned long long)(now - l->last_rx));
    try_hello(l);
    return;
  }
  if (l->state != LINK_READY)
    return;
  l->cb.heartbeat(l->cb.arg);
  if (now - l->last_full >= (uint64_t)LINK_RETRANSMIT_BEATS * l->heartbeat_ms) {
    l->last_full = now;
    l->cb.retransmit(l->cb.arg);
  }
}

static void adopt_heartbeat(link_t *l, uint32_t ms) {
  if (ms == 0 || ms == l->heartbeat_ms)
    return;
  if (ms < 10)
    ms = 10;
  log_info("heartbeat every %u ms", ms);
  l->heartbeat_ms = ms;
  uv_timer_start(&l->tick, on_tick, ms, ms);
}

static void on_readable(zwatch_t *w, void *sock, void *arg) {
  (void)w;
  link_t *l = arg;
  char err[256];
  check_stall(l);
  for (int i = 0; i < RECV_BATCH; i++) {
    envelope_t *env = NULL;
    int rc = codec_recv(sock, NULL, NULL, NULL, CODEC_MAX_WORKER_MSG, &env, err, sizeof err);
    if (rc == 0)
      break;
    l->last_rx = uv_now(l->loop);
    if (rc < 0) {
      log_warn("refused a message from the coordinator: %s", err);
      continue;
    }
    log_debug("received %s", codec_body_name(env));
    switch (env->body_case) {
    case CLAPPER__ENVELOPE__BODY_WELCOME:
      if (env->welcome->hello_id && env->welcome->hello_id != l->hello_id) {
        /* It answers an earlier Hello; what followed it may be stale. */
        log_info("a Welcome for an earlier Hello ignored: waiting for the latest one's");
        codec_free(&env);
        break;
      }
      adopt_heartbeat(l, env->welcome->heartbeat_ms);
      l->lease_ms = env->welcome->lease_ms;
      /* A coordinator that does not say its clock (an older one) leaves
       * it unknown, not the previous leader's. */
      l->coord_us = env->welcome->now_us > 0 ? env->welcome->now_us : 0;
      l->coord_mono = util_mono_us();
      l->unanswered = 0;
      if (l->state != LINK_READY)
        log_info("welcomed by the coordinator");
      link_set_state(l, LINK_READY);
      l->cb.message(l->cb.arg, env);
      break;
    case CLAPPER__ENVELOPE__BODY_RESET:
      log_info("coordinator reset the session (%s): saying Hello again",
               env->reset->reason[0] ? env->reset->reason : "no reason given");
      codec_free(&env);
      try_hello(l);
      break;
    default:
      l->cb.message(l->cb.arg, env);
      break;
    }
  }
}

/* ZeroMQ gave up on the endpoints after a refused handshake: connect
 * them again (only the leader binds, so no live connection is cut). */
static void on_auth_retry(uv_timer_t *t) {
  link_t *l = t->data;
  for (size_t i = 0; i < l->n_endpoints; i++) {
    zmq_disconnect(l->sock, l->endpoints[i]);
    if (zmq_connect(l->sock, l->endpoints[i]) < 0)
      log_warn("cannot connect to %s again: %s", l->endpoints[i], zmq_strerror(zmq_errno()));
  }
}

/* Logs what the handshakes say, once per change of outcome, and has the
 * link connect again after ZeroMQ gave up. */
static void on_monitor(zwatch_t *w, void *mon, void *arg) {
  (void)w;
  link_t *l = arg;
  for (int i = 0; i < RECV_BATCH; i++) {
    bool gave_up = false;
    keys_event_t e = keys_monitor_read(mon, &gave_up);
    if (e == KEYS_EVENT_NONE)
      break;
    if (gave_up && !uv_is_active((uv_handle_t *)&l->auth_retry))
      uv_timer_start(&l->auth_retry, on_auth_retry, LINK_AUTH_RETRY_MS, 0);
    if (e == KEYS_EVENT_OTHER || e == l->last_event)
      continue;
    switch (e) {
    case KEYS_EVENT_OK:
      log_info("CURVE handshake with the coordinator done: this worker is %s", l->key_name);
      break;
    case KEYS_EVENT_REFUSED: {
      size_t n = strlen(l->key);
      bool dotkey = n > 4 && !strcmp(l->key + n - 4, ".key");
      log_warn("the coordinator refuses the key %s (%s): register it with `clapper users add "
               "%s --role worker --public-key %.*s.pub`",
               l->key, l->key_name, l->key_name, (int)(dotkey ? n - 4 : n), l->key);
      break;
    }
    case KEYS_EVENT_MISMATCH:
      log_warn("the coordinator does not use keys (it runs without --keys): leave out --key");
      break;
    default:
      log_warn("CURVE handshake with the coordinator failed: is %s its public key?",
               l->server_key);
      break;
    }
    l->last_event = e;
  }
}

static int setopt_int(void *sock, int opt, int v, const char *name, char *err, size_t errlen) {
  if (zmq_setsockopt(sock, opt, &v, sizeof v) == 0)
    return 0;
  snprintf(err, errlen, "zmq_setsockopt %s: %s", name, zmq_strerror(zmq_errno()));
  return -1;
}

link_t *link_new(uv_loop_t *loop, void *zctx, char *const *endpoints, size_t n,
                 uint32_t heartbeat_ms, const link_keys_t *keys, const link_callbacks_t *cb,
                 char *err, size_t errlen) {
  void *mon = NULL;
  char key_name[IDENT_MAX + 1] = "";
  void *sock = zmq_socket(zctx, ZMQ_DEALER);
  if (!sock) {
    snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    return NULL;
  }
  int64_t maxmsg = (int64_t)CODEC_MAX_WORKER_MSG;
  int hb = heartbeat_ms > 0 ? (int)heartbeat_ms : 1000;
  if (setopt_int(sock, ZMQ_LINGER, 0, "ZMQ_LINGER", err, errlen) < 0 ||
      setopt_int(sock, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE", err, errlen) < 0 ||
      setopt_int(sock, ZMQ_RECONNECT_IVL, 100, "ZMQ_RECONNECT_IVL", err, errlen) < 0 ||
      setopt_int(sock, ZMQ_RECONNECT_IVL_MAX, 200, "ZMQ_RECONNECT_IVL_MAX", err, errlen) < 0 ||
      setopt_int(sock, ZMQ_HEARTBEAT_IVL, hb, "ZMQ_HEARTBEAT_IVL", err, errlen) < 0 ||
      setopt_int(sock, ZMQ_HEARTBEAT_TIMEOUT, 3 * hb, "ZMQ_HEARTBEAT_TIMEOUT", err, errlen) < 0)
    goto fail;
  if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0) {
    snprintf(err, errlen, "zmq_setsockopt ZMQ_MAXMSGSIZE: %s", zmq_strerror(zmq_errno()));
    goto fail;
  }
  if (keys && keys->key) {
    char why[1024];
    if (keys_client(sock, keys->key, keys->server_key, key_name, why, sizeof why) < 0) {
      snprintf(err, errlen, "--key: %s", why);
      goto fail;
    }
    /* Before connecting, so that no handshake goes unseen. */
    mon = keys_monitor_open(zctx, sock, err, errlen);
    if (!mon)
      goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    if (zmq_connect(sock, endpoints[i]) < 0) {
      snprintf(err, errlen, "--coordinator %s: %s", endpoints[i], zmq_strerror(zmq_errno()));
      goto fail;
    }
  }
  link_t *l = xcalloc(1, sizeof *l);
  l->loop = loop;
  l->sock = sock;
  l->cb = *cb;
  l->heartbeat_ms = (uint32_t)hb;
  l->zw = zwatch_start(loop, sock, on_readable, l);
  if (!l->zw) {
    snprintf(err, errlen, "cannot watch the coordinator socket");
    free(l);
    goto fail;
  }
  if (mon) {
    l->mon = mon;
    l->mon_zw = zwatch_start(loop, mon, on_monitor, l);
    snprintf(l->key_name, sizeof l->key_name, "%s", key_name);
    l->key = xstrdup(keys->key);
    l->server_key = keys->server_key ? xstrdup(keys->server_key) : keys_default_server(keys->key);
  }
  uv_timer_init(loop, &l->tick);
  uv_timer_init(loop, &l->retry);
  uv_timer_init(loop, &l->auth_retry);
  l->tick.data = l->retry.data = l->auth_retry.data = l;
  l->open_handles = 3;
  l->endpoints = xcalloc(n ? n : 1, sizeof *l->endpoints);
  for (size_t i = 0; i < n; i++)
    l->endpoints[i] = xstrdup(endpoints[i]);
  l->n_endpoints = n;
  return l;
fail:
  keys_monitor_close(sock, &mon);
  zmq_close(sock);
  return NULL;
}

void link_start(link_t *l) {
  if (l->started)
    return;
  l->started = true;
  l->last_rx = uv_now(l->loop);
  l->last_sent_mono = util_mono_us();
  /* Ids differ across restarts of the worker too. */
  l->hello_id = (uint64_t)util_wall_us();
  uv_timer_start(&l->tick, on_tick, l->heartbeat_ms, l->heartbeat_ms);
  try_hello(l);
}

int link_send(link_t *l, envelope_t *env) {
  if (codec_send(l->sock, NULL, 0, env) == 0) {
    l->last_sent_mono = util_mono_us();
    log_debug("sent %s", codec_body_name(env));
    return 0;
  }
  int saved = errno;
  if (saved == EAGAIN)
    log_debug("%s not sent: no coordinator connected", codec_body_name(env));
  else
    log_warn("%s not sent: %s", codec_body_name(env), zmq_strerror(saved));
  errno = saved;
  return -1;
}

uint32_t link_heartbeat_ms(const link_t *l) { return l->heartbeat_ms; }

bool link_welcomed(const link_t *l) { return l->state == LINK_READY; }

uint64_t link_hello_id(const link_t *l) { return l->hello_id; }

int64_t link_coordinator_now_us(const link_t *l) {
  if (!l->coord_us)
    return 0;
  return l->coord_us + (int64_t)((util_mono_us() - l->coord_mono));
}

bool link_past_start_by(const link_t *l, int64_t start_by_us) {
  if (start_by_us <= 0)
    return false;
  int64_t now = link_coordinator_now_us(l);
  if (now)
    return now + (int64_t)link_heartbeat_ms(l) * 1000 > start_by_us;
  return util_wall_us() > start_by_us + LINK_CLOCK_SKEW_US;
}

static void on_closed(uv_handle_t *h) {
  link_t *l = h->data;
  if (--l->open_handles == 0) {
    util_strv_free(&l->endpoints, &l->n_endpoints);
    free(l->key);
    free(l->server_key);
    free(l);
  }
}

void link_close(link_t **lp) {
  link_t *l = *lp;
  if (!l)
    return;
  *lp = NULL;
  zwatch_stop(&l->zw);
  zwatch_stop(&l->mon_zw);
  keys_monitor_close(l->sock, &l->mon);
  zmq_close(l->sock);
  l->sock = NULL;
  uv_close((uv_handle_t *)&l->tick, on_closed);
  uv_close((uv_handle_t *)&l->retry, on_closed);
  uv_close((uv_handle_t *)&l->auth_retry, on_closed);
}
