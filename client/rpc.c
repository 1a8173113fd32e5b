/*
 * rpc.c - one request to the coordinator and its reply, see rpc.h.
 */
#include "rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <zmq.h>

#include "codec.h"
#include "keys.h"

static uint64_t next_id;
static volatile sig_atomic_t *interrupt_flag;

void rpc_set_interrupt(volatile sig_atomic_t *flag) { interrupt_flag = flag; }

/* True when a signal handler asked the call in progress to give up. */
static bool interrupted(void) { return interrupt_flag && *interrupt_flag; }

static void set_interrupted(cli_error_t *err) {
  cli_error_set(err, "interrupted", "interrupted while waiting for the coordinator");
}

uint64_t rpc_next_id(void) {
  if (next_id == 0) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
      r = util_mono_us() ^ (uint64_t)util_wall_us();
    /* Leave room to count up without wrapping to 0. */
    next_id = (r >> 16) | 1;
  }
  return next_id++;
}

static int remaining_ms(uint64_t deadline_us) {
  uint64_t now = util_mono_us();
  if (now >= deadline_us)
    return 0;
  uint64_t ms = (deadline_us - now + 999) / 1000;
  return ms > (uint64_t)INT32_MAX ? INT32_MAX : (int)ms;
}

/* The endpoints of a call, and what its monitor said about them. */
typedef struct conn {
  char *list;                   /* the endpoints as given ("a,b") */
  char *eps[RPC_MAX_ENDPOINTS]; /* split (owned) */
  size_t neps;
  bool tcp;                           /* some connection was accepted */
  char ready[RPC_MAX_ENDPOINTS][256]; /* handshakes done and still open */
  size_t nready;
  char sent_to[256]; /* where the request went ("": not known yet) */
  bool sent;
  bool closed; /* every connection the request could
                  have gone out on has closed since */
} conn_t;

/* What a call knows about its handshakes. */
typedef struct handshake {
  const rpc_keys_t *keys; /* NULL: a plain connection */
  char name[IDENT_MAX + 1]; /* the key's name */
  void *ctx;                /* the call's ZeroMQ context */
  void *mon;                /* the monitor of the socket */
  bool failed;              /* a CURVE handshake failed without a refusal */
  char failed_at[256];      /* where */
  bool probed;              /* speaks_plain was asked */
  uint64_t deadline;        /* of the call (monotonic us) */
  conn_t *conn;
} handshake_t;

int rpc_endpoints_split(const char *list, char **eps, size_t max, size_t *n, char *err,
                        size_t errlen) {
  *n = 0;
  const char *p = list ? list : "";
  for (;;) {
    size_t len = strcspn(p, ",");
    if (len == 0)
      goto bad;
    if (*n == max) {
      snprintf(err, errlen, "--coordinator: more than %zu endpoints in '%.200s'", max, list);
      goto fail;
    }
    eps[(*n)++] = xstrndup(p, len);
    if (!p[len])
      return 0;
    p += len + 1;
  }
bad:
  snprintf(err, errlen,
           "--coordinator: '%.200s' has an empty endpoint (expected ENDPOINT[,ENDPOINT...], "
           "e.g. tcp://a:7711,tcp://b:7711)",
           list ? list : "");
fail:
  while (*n)
    free(eps[--*n]);
  return -1;
}

/* The endpoints as the messages name them: "tcp://a:1" or "tcp://a:1 or
 * tcp://b:1" (static). */
static const char *named(const conn_t *cn) {
  static char buf[1200];
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < cn->neps && used < sizeof buf; i++)
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
                             i == 0 ? "" : (i + 1 == cn->neps ? " or " : ", "), cn->eps[i]);
  return buf;
}

/* The call could not send its request before the time was up. */
static void set_not_sent(cli_error_t *err, int timeout_ms, const handshake_t *hs) {
  const conn_t *cn = hs->conn;
  if (hs->keys && hs->failed) {
    char *server = hs->keys->server_key ? xstrdup(hs->keys->server_key)
                                        : keys_default_server(hs->keys->key);
    cli_error_set(err, "unavailable",
                  "no reply within %d ms from the coordinator at %s: the CURVE handshake "
                  "failed (is %s the coordinator's public key?); the request was not sent",
                  timeout_ms, hs->failed_at[0] ? hs->failed_at : named(cn), server);
    free(server);
  } else if (cn->tcp) {
    cli_error_set(err, "unavailable",
                  "no reply within %d ms from the coordinator at %s: it accepted the "
                  "connection but did not answer the handshake (is it stopped or "
                  "overloaded?); the request was not sent",
                  timeout_ms, named(cn));
  } else {
    cli_error_set(err, "unavailable",
                  "cannot reach the coordinator at %s: nothing accepted a connection within "
                  "%d ms (%s)",
                  named(cn), timeout_ms,
                  cn->neps > 1 ? "is one of them running and leading? a standby accepts "
                                 "connections only once it leads"
                               : "is it running, and is this its client endpoint?");
  }
}

/* The request went out and no reply came. */
static void set_no_reply(cli_error_t *err, int timeout_ms, const conn_t *cn) {
  const char *to = cn->sent_to[0] ? cn->sent_to : named(cn);
  if (cn->closed)
    cli_error_set(err, "no_reply",
                  "no reply (outcome unknown): the connection to the coordinator at %s "
                  "closed after the request was sent and before an answer came; the request "
                  "may or may not have been carried out",
                  to);
  else
    cli_error_set(err, "no_reply",
                  "no reply within %d ms (outcome unknown): the coordinator at %s got the "
                  "request but did not answer in time; it may still carry it out",
                  timeout_ms, to);
}

/* Whether the coordinator at endpoint runs without keys: a plain
 * connection completes its handshake within ms.  Asked when a CURVE
 * handshake failed without saying why: a coordinator without keys hangs
 * up on a CURVE client, which libzmq reports as a mechanism mismatch or,
 * when the hang-up arrives first, as a failure without detail (the same
 * as a wrong coordinator key, for which a plain handshake fails too). */
static bool speaks_plain(void *ctx, const char *endpoint, int ms) {
  char why[256];
  bool plain = false;
  void *sock = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0;
  if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) < 0)
    goto out;
  void *mon = keys_monitor_open(ctx, sock, why, sizeof why);
  if (!mon)
    goto out;
  uint64_t deadline = util_mono_us() + (uint64_t)ms * 1000;
  if (zmq_connect(sock, endpoint) == 0) {
    for (int left; !plain && (left = remaining_ms(deadline)) > 0 && !interrupted();) {
      zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&it, 1, left) <= 0)
        continue;
      keys_event_t e = keys_monitor_read(mon, NULL);
      if (e == KEYS_EVENT_OK)
        plain = true;
      else if (e == KEYS_EVENT_REFUSED || e == KEYS_EVENT_MISMATCH || e == KEYS_EVENT_FAILED)
        break; /* it wants keys (or something else is wrong): not plain */
    }
  }
  keys_monitor_close(sock, &mon);
out:
  if (sock)
    zmq_close(sock);
  return plain;
}

static void ready_add(conn_t *cn, const char *at) {
  for (size_t i = 0; i < cn->nready; i++)
    if (!strcmp(cn->ready[i], at))
      return;
  if (cn->nready < RPC_MAX_ENDPOINTS)
    snprintf(cn->ready[cn->nready++], sizeof cn->ready[0], "%s", at);
  /* Sent before this event was read: it went out on this connection. */
  if (cn->sent && !cn->sent_to[0])
    snprintf(cn->sent_to, sizeof cn->sent_to, "%s", at);
}

static void ready_drop(conn_t *cn, const char *at) {
  for (size_t i = 0; i < cn->nready; i++)
    if (!strcmp(cn->ready[i], at)) {
      memmove(cn->ready[i], cn->ready[i + 1], (cn->nready - i - 1) * sizeof cn->ready[0]);
      cn->nready--;
      if (cn->sent && (!strcmp(at, cn->sent_to) || cn->nready == 0))
        cn->closed = true;
      return;
    }
}

/* Reads the monitor's events.  Returns -1 with err when they tell that
 * the call cannot succeed, else 0. */
static int check_events(handshake_t *hs, cli_error_t *err) {
  conn_t *cn = hs->conn;
  keys_event_t e;
  int raw;
  char at[256];
  while (hs->mon &&
         (e = keys_monitor_read_at(hs->mon, NULL, &raw, at, sizeof at)) != KEYS_EVENT_NONE) {
    const char *where = at[0] ? at : named(cn);
    switch (e) {
    case KEYS_EVENT_OK:
      ready_add(cn, where);
      break;
    case KEYS_EVENT_OTHER:
      if (raw == ZMQ_EVENT_CONNECTED)
        cn->tcp = true;
      else if (raw == ZMQ_EVENT_DISCONNECTED)
        ready_drop(cn, where);
      break;
    case KEYS_EVENT_REFUSED:
      cli_error_set(err, "unauthenticated",
                    "the coordinator at %s refused the key %s (%s): it is not registered "
                    "there (see clapper users)",
                    where, hs->keys ? hs->keys->key : "?", hs->name);
      return -1;
    case KEYS_EVENT_FAILED:
      if (!hs->keys)
        break;
      hs->failed = true;
      snprintf(hs->failed_at, sizeof hs->failed_at, "%s", where);
      if (hs->probed)
        break;
      hs->probed = true;
      {
        int left = remaining_ms(hs->deadline);
        if (!speaks_plain(hs->ctx, where, left < 2000 ? left : 2000))
          break;
      }
      __attribute__((fallthrough));
    case KEYS_EVENT_MISMATCH:
      if (!hs->keys) {
        cli_error_set(err, "unavailable",
                      "the coordinator at %s uses keys (it runs with --keys): give --key FILE "
                      "(your NAME.key) or set CLAPPER_KEY",
                      where);
        return -1;
      }
      cli_error_set(err, "unavailable",
                    "the coordinator at %s does not use keys (it runs without --keys): "
                    "leave out --key and CLAPPER_KEY",
                    where);
      return -1;
    default:
      break;
    }
  }
  return 0;
}

int rpc_call(const char *endpoint, Clapper__Request *req, int timeout_ms,
             Clapper__Reply **out, cli_error_t *err) {
  return rpc_call_as(endpoint, NULL, req, timeout_ms, out, err);
}

int rpc_call_as(const char *endpoint, const rpc_keys_t *keys, Clapper__Request *req,
                int timeout_ms, Clapper__Reply **out, cli_error_t *err) {
  void *ctx = NULL, *sock = NULL;
  envelope_t *env = NULL;
  conn_t cn = {.list = (char *)endpoint};
  handshake_t hs = {.keys = keys && keys->key ? keys : NULL, .conn = &cn};
  int rc = -1;
  *out = NULL;
  if (timeout_ms < 0)
    timeout_ms = 0;
  uint64_t deadline = util_mono_us() + (uint64_t)timeout_ms * 1000;
  hs.deadline = deadline;

  char why[1024];
  if (rpc_endpoints_split(endpoint, cn.eps, RPC_MAX_ENDPOINTS, &cn.neps, why, sizeof why) < 0) {
    cli_error_set(err, "usage", "%s", why);
    goto fail;
  }
  req->id = rpc_next_id();
  ctx = hs.ctx = zmq_ctx_new();
  if (!ctx) {
    cli_error_set(err, "unavailable", "cannot create a ZeroMQ context: %s",
                  zmq_strerror(errno));
    goto fail;
  }
  sock = zmq_socket(ctx, ZMQ_DEALER);
  /* IMMEDIATE: the request is queued only on a connection whose handshake
   * is done, so it goes to the endpoint that accepted (the leader: a
   * standby does not bind), and a request never queued is known not to
   * have been sent. */
  int zero = 0, one = 1;
  if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
      zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof one) < 0) {
    cli_error_set(err, "unavailable", "cannot create a ZeroMQ socket: %s",
                  zmq_strerror(errno));
    goto fail;
  }
  if (hs.keys &&
      keys_client(sock, hs.keys->key, hs.keys->server_key, hs.name, why, sizeof why) < 0) {
    cli_error_set(err, "invalid_key", "%s", why);
    goto fail;
  }
  hs.mon = keys_monitor_open_with(ctx, sock, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED, why,
                                  sizeof why);
  if (!hs.mon) {
    cli_error_set(err, "unavailable", "%s", why);
    goto fail;
  }
  for (size_t i = 0; i < cn.neps; i++)
    if (zmq_connect(sock, cn.eps[i]) < 0) {
      cli_error_set(err, "unavailable", "cannot connect to the coordinator at %s: %s", cn.eps[i],
                    zmq_strerror(errno));
      goto fail;
    }

  Clapper__Envelope msg = CLAPPER__ENVELOPE__INIT;
  msg.body_case = CLAPPER__ENVELOPE__BODY_REQUEST;
  msg.request = req;
  for (;;) {
    /* Say how long we wait, less a margin (a quarter, at most a second)
     * so that a read canceled at the coordinator's end is still answered
     * in time. */
    int wait = remaining_ms(deadline);
    int margin = wait / 4 < 1000 ? wait / 4 : 1000;
    req->timeout_ms = (uint32_t)(wait - margin > 0 ? wait - margin : 1);
    if (check_events(&hs, err) < 0)
      goto fail;
    if (codec_send(sock, NULL, 0, &msg) == 0)
      break;
    if (errno != EAGAIN && errno != EINTR) {
      cli_error_set(err, "unavailable", "cannot send to the coordinator at %s: %s", named(&cn),
                    zmq_strerror(errno));
      goto fail;
    }
    zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLOUT, 0}, {hs.mon, 0, ZMQ_POLLIN, 0}};
    int left = remaining_ms(deadline);
    if (interrupted()) {
      set_interrupted(err);
      goto fail;
    }
    if (left == 0 || (zmq_poll(items, 2, left) < 0 && errno != EINTR)) {
      if (check_events(&hs, err) < 0)
        goto fail;
      set_not_sent(err, timeout_ms, &hs);
      goto fail;
    }
  }
  /* The request is on a connection whose handshake is done; read the
   * events that say which before naming it. */
  (void)check_events(&hs, err);
  cn.sent = true;
  if (cn.nready == 1)
    snprintf(cn.sent_to, sizeof cn.sent_to, "%s", cn.ready[0]);

  for (;;) {
    zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {hs.mon, 0, ZMQ_POLLIN, 0}};
    int left = remaining_ms(deadline);
    if (check_events(&hs, err) < 0)
      goto fail;
    if (cn.closed || left == 0) {
      set_no_reply(err, timeout_ms, &cn);
      goto fail;
    }
    if (interrupted()) {
      set_interrupted(err);
      goto fail;
    }
    int n = zmq_poll(items, 2, left);
    if (n < 0 && errno != EINTR) {
      cli_error_set(err, "unavailable", "waiting for the coordinator at %s: %s", named(&cn),
                    zmq_strerror(errno));
      goto fail;
    }
    if (n <= 0 || !(items[0].revents & ZMQ_POLLIN))
      continue;
    int got = codec_recv(sock, NULL, NULL, NULL, CODEC_MAX_CLIENT_MSG, &env, why, sizeof why);
    if (got == 0)
      continue;
    if (got < 0) {
      cli_error_set(err, "protocol", "bad reply from the coordinator at %s: %s",
                    cn.sent_to[0] ? cn.sent_to : named(&cn), why);
      goto fail;
    }
    if (env->body_case != CLAPPER__ENVELOPE__BODY_REPLY || !env->reply ||
        env->reply->id != req->id) {
      codec_free(&env); /* a stray message, or a late answer to someone else */
      continue;
    }
    break;
  }

  Clapper__Reply *reply = env->reply;
  if (!reply->ok) {
    cli_error_set(err, reply->error_code && *reply->error_code ? reply->error_code : "error",
                  "%s",
                  reply->error_message && *reply->error_message
                      ? reply->error_message
                      : "the coordinator refused the request without a reason");
    goto fail;
  }
  /* Detach the reply from its envelope so that it can be freed alone. */
  env->reply = NULL;
  env->body_case = CLAPPER__ENVELOPE__BODY__NOT_SET;
  *out = reply;
  rc = 0;
fail:
  codec_free(&env);
  keys_monitor_close(sock, &hs.mon);
  if (sock)
    zmq_close(sock);
  if (ctx)
    zmq_ctx_term(ctx);
  for (size_t i = 0; i < cn.neps; i++)
    free(cn.eps[i]);
  return rc;
}

json_t *rpc_call_json(const char *endpoint, Clapper__Request *req, int timeout_ms,
                      cli_error_t *err) {
  return rpc_call_json_as(endpoint, NULL, req, timeout_ms, err);
}

json_t *rpc_call_json_as(const char *endpoint, const rpc_keys_t *keys, Clapper__Request *req,
                         int timeout_ms, cli_error_t *err) {
  Clapper__Reply *reply = NULL;
  if (rpc_call_as(endpoint, keys, req, timeout_ms, &reply, err) < 0)
    return NULL;
  json_error_t jerr;
  const char *text = reply->json ? reply->json : "";
  json_t *doc = json_loads(text, 0, &jerr);
  if (!doc || !json_is_object(doc)) {
    cli_error_set(err, "protocol", "the coordinator at %s sent a reply that is not a JSON "
                  "object: %s", endpoint, doc ? "wrong type" : jerr.text);
    json_decref(doc);
    doc = NULL;
  }
  rpc_reply_free(&reply);
  return doc;
}

void rpc_reply_free(Clapper__Reply **reply) {
  if (reply && *reply) {
    clapper__reply__free_unpacked(*reply, NULL);
    *reply = NULL;
  }
}
