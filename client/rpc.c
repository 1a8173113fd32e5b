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

/* What a call knows about its CURVE handshake. */
typedef struct handshake {
  const rpc_keys_t *keys; /* NULL: a plain connection */
  char name[IDENT_MAX + 1]; /* the key's name */
  void *ctx;                /* the call's ZeroMQ context */
  void *mon;                /* the monitor of the socket, or NULL */
  bool failed;              /* a handshake failed without a refusal */
  bool probed;              /* speaks_plain was asked */
  uint64_t deadline;        /* of the call (monotonic us) */
} handshake_t;

static void set_unavailable(cli_error_t *err, const char *endpoint, int timeout_ms,
                            const handshake_t *hs) {
  if (!hs->keys) {
    cli_error_set(err, "unavailable", "no reply from the coordinator at %s within %d ms",
                  endpoint, timeout_ms);
  } else if (hs->failed) {
    char *server = hs->keys->server_key ? xstrdup(hs->keys->server_key)
                                        : keys_default_server(hs->keys->key);
    cli_error_set(err, "unavailable",
                  "no reply from the coordinator at %s within %d ms (the CURVE handshake "
                  "failed: is %s the coordinator's public key?)",
                  endpoint, timeout_ms, server);
    free(server);
  } else {
    cli_error_set(err, "unavailable",
                  "no reply from the coordinator at %s within %d ms (is the key %s "
                  "registered? see clapper users)",
                  endpoint, timeout_ms, hs->keys->key);
  }
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

/* Reads the monitor's events.  Returns -1 with err when the handshake
 * tells that the call cannot succeed, else 0. */
static int check_handshake(handshake_t *hs, const char *endpoint, cli_error_t *err) {
  keys_event_t e;
  while (hs->mon && (e = keys_monitor_read(hs->mon, NULL)) != KEYS_EVENT_NONE) {
    switch (e) {
    case KEYS_EVENT_REFUSED:
      cli_error_set(err, "unauthenticated",
                    "the coordinator at %s refused the key %s (%s): it is not registered "
                    "there (see clapper users)",
                    endpoint, hs->keys->key, hs->name);
      return -1;
    case KEYS_EVENT_FAILED:
      hs->failed = true;
      if (hs->probed)
        break;
      hs->probed = true;
      {
        int left = remaining_ms(hs->deadline);
        if (!speaks_plain(hs->ctx, endpoint, left < 2000 ? left : 2000))
          break;
      }
      __attribute__((fallthrough));
    case KEYS_EVENT_MISMATCH:
      cli_error_set(err, "unavailable",
                    "the coordinator at %s does not use keys (it runs without --keys): "
                    "leave out --key and CLAPPER_KEY",
                    endpoint);
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
  handshake_t hs = {.keys = keys && keys->key ? keys : NULL};
  int rc = -1;
  *out = NULL;
  if (timeout_ms < 0)
    timeout_ms = 0;
  uint64_t deadline = util_mono_us() + (uint64_t)timeout_ms * 1000;
  hs.deadline = deadline;

  req->id = rpc_next_id();
  ctx = hs.ctx = zmq_ctx_new();
  if (!ctx) {
    cli_error_set(err, "unavailable", "cannot create a ZeroMQ context: %s",
                  zmq_strerror(errno));
    goto fail;
  }
  sock = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0;
  if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) < 0) {
    cli_error_set(err, "unavailable", "cannot create a ZeroMQ socket: %s",
                  zmq_strerror(errno));
    goto fail;
  }
  if (hs.keys) {
    char why[1024];
    if (keys_client(sock, hs.keys->key, hs.keys->server_key, hs.name, why, sizeof why) < 0) {
      cli_error_set(err, "invalid_key", "%s", why);
      goto fail;
    }
    hs.mon = keys_monitor_open(ctx, sock, why, sizeof why);
    if (!hs.mon) {
      cli_error_set(err, "unavailable", "%s", why);
      goto fail;
    }
  }
  if (zmq_connect(sock, endpoint) < 0) {
    cli_error_set(err, "unavailable", "cannot connect to the coordinator at %s: %s",
                  endpoint, zmq_strerror(errno));
    goto fail;
  }

  Clapper__Envelope msg = CLAPPER__ENVELOPE__INIT;
  msg.body_case = CLAPPER__ENVELOPE__BODY_REQUEST;
  msg.request = req;
  /* Say how long we wait, less a margin (a quarter, at most a second) so
   * that a read canceled at the coordinator's end is still answered in
   * time. */
  int wait = remaining_ms(deadline);
  int margin = wait / 4 < 1000 ? wait / 4 : 1000;
  req->timeout_ms = (uint32_t)(wait - margin > 0 ? wait - margin : 1);
  for (;;) {
    if (codec_send(sock, NULL, 0, &msg) == 0)
      break;
    if (errno != EAGAIN && errno != EINTR) {
      cli_error_set(err, "unavailable", "cannot send to the coordinator at %s: %s",
                    endpoint, zmq_strerror(errno));
      goto fail;
    }
    zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLOUT, 0}, {hs.mon, 0, ZMQ_POLLIN, 0}};
    int left = remaining_ms(deadline);
    if (interrupted()) {
      set_interrupted(err);
      goto fail;
    }
    if (left == 0 || (zmq_poll(items, hs.mon ? 2 : 1, left) < 0 && errno != EINTR)) {
      set_unavailable(err, endpoint, timeout_ms, &hs);
      goto fail;
    }
    if (check_handshake(&hs, endpoint, err) < 0)
      goto fail;
  }

  for (;;) {
    zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {hs.mon, 0, ZMQ_POLLIN, 0}};
    int left = remaining_ms(deadline);
    if (check_handshake(&hs, endpoint, err) < 0)
      goto fail;
    if (left == 0) {
      set_unavailable(err, endpoint, timeout_ms, &hs);
      goto fail;
    }
    if (interrupted()) {
      set_interrupted(err);
      goto fail;
    }
    int n = zmq_poll(items, hs.mon ? 2 : 1, left);
    if (n < 0 && errno != EINTR) {
      cli_error_set(err, "unavailable", "waiting for the coordinator at %s: %s", endpoint,
                    zmq_strerror(errno));
      goto fail;
    }
    if (n <= 0 || !(items[0].revents & ZMQ_POLLIN))
      continue;
    char why[256];
    int got = codec_recv(sock, NULL, NULL, NULL, CODEC_MAX_CLIENT_MSG, &env, why, sizeof why);
    if (got == 0)
      continue;
    if (got < 0) {
      cli_error_set(err, "protocol", "bad reply from the coordinator at %s: %s", endpoint,
                    why);
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
