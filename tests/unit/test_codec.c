/*
 * test_codec.c - the wire codec refuses what it must (empty, over the bound
 * before unpacking, malformed, another protocol version, no body), each with
 * a one-line reason, and carries envelopes intact through real ZeroMQ
 * ROUTER and DEALER sockets: identities, an Assign with several tasks,
 * multi-part messages that are refused and consumed, oversized frames,
 * nothing waiting, unknown peers on a ROUTER_MANDATORY socket, and the name
 * of every body.
 */
#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

#include "check.h"
#include "codec.h"

static void *zctx, *router, *dealer;
static const char dealer_id[] = "worker-7";

/* The reason is one line, not empty. */
static void check_reason(const char *err, const char *needle) {
  CHECK_CONTAINS(err, needle);
  CHECK(err[0] != '\0');
  CHECK(strchr(err, '\n') == NULL);
}

static bool wait_in(void *sock, int timeout_ms) {
  zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
  return zmq_poll(&it, 1, timeout_ms) == 1;
}

static uint8_t *pack_hello(size_t *len) {
  Clapper__Hello hello = CLAPPER__HELLO__INIT;
  hello.name = "w1";
  hello.cpus = 8;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_HELLO;
  env.hello = &hello;
  return codec_pack(&env, len);
}

/* Unknown fields, at the top and inside the body, are ignored (proto3);
 * field number 0 in an overlong tag, which protobuf-c would keep and pack
 * into bytes it cannot read (found by tests/fuzz/fuzz_codec.c), is refused
 * with the message named. */
static void test_unknown_fields(void) {
  char err[256];
  Clapper__Hello h = CLAPPER__HELLO__INIT;
  h.name = "w1";
  uint8_t body[64], msg[128];
  size_t blen = clapper__hello__pack(&h, body);
  CHECK(blen < 40);
  body[blen++] = 0x90; /* field 50, varint */
  body[blen++] = 0x03;
  body[blen++] = 0x05;
  size_t n = 0;
  msg[n++] = 0x08; /* version */
  msg[n++] = CLAPPER_PROTO_VERSION;
  msg[n++] = 0x52; /* field 10 (hello), length-delimited */
  msg[n++] = (uint8_t)blen;
  memcpy(msg + n, body, blen);
  n += blen;
  envelope_t *env = codec_unpack(msg, n, 1000, err, sizeof err);
  CHECK(env != NULL);
  if (env)
    CHECK_STR(env->hello->name, "w1");
  codec_free(&env);

  /* A field 99 on the envelope: ignored too. */
  msg[n] = 0x98; /* field 99, varint 1 */
  msg[n + 1] = 0x06;
  msg[n + 2] = 0x01;
  env = codec_unpack(msg, n + 3, 1000, err, sizeof err);
  CHECK(env != NULL);
  codec_free(&env);

  /* Field 0, length-delimited, its tag in two bytes: on the envelope... */
  msg[n] = 0x82;
  msg[n + 1] = 0x00;
  msg[n + 2] = 0x00;
  env = codec_unpack(msg, n + 3, 1000, err, sizeof err);
  CHECK(env == NULL);
  check_reason(err, "field number 0 in Envelope");
  codec_free(&env);

  /* ...and inside the body. */
  memcpy(body + blen - 3, "\x82\x00\x00", 3);
  memcpy(msg + 4, body, blen);
  env = codec_unpack(msg, n, 1000, err, sizeof err);
  CHECK(env == NULL);
  check_reason(err, "field number 0 in Hello");
  codec_free(&env);
}

static void test_unpack(void) {
  char err[256];
  size_t len;
  uint8_t *buf = pack_hello(&len);
  CHECK(len > 4);

  /* The good one, with max exactly its size. */
  err[0] = '\0';
  envelope_t *env = codec_unpack(buf, len, len, err, sizeof err);
  CHECK(env != NULL);
  if (env) {
    CHECK_INT(env->version, CLAPPER_PROTO_VERSION);
    CHECK_INT(env->body_case, CLAPPER__ENVELOPE__BODY_HELLO);
    CHECK_STR(env->hello->name, "w1");
    CHECK_INT(env->hello->cpus, 8);
    CHECK_STR(codec_body_name(env), "hello");
  }
  codec_free(&env);
  CHECK(env == NULL);
  codec_free(&env); /* harmless twice */
  codec_free(NULL);

  /* One byte over the bound: refused before protobuf-c sees it. */
  env = codec_unpack(buf, len, len - 1, err, sizeof err);
  CHECK(env == NULL);
  check_reason(err, "exceeds the limit");
  char num[32];
  snprintf(num, sizeof num, "%zu bytes", len);
  CHECK_CONTAINS(err, num);
  snprintf(num, sizeof num, "limit of %zu", len - 1);
  CHECK_CONTAINS(err, num);
  free(buf);

  /* Empty. */
  const uint8_t one = 0x08;
  env = codec_unpack(&one, 0, 100, err, sizeof err);
  CHECK(env == NULL);
  check_reason(err, "empty");

  /* Malformed: a truncated varint, a sub-message longer than the buffer,
   * an invalid wire type. */
  const uint8_t trunc[] = {0x08, 0xff, 0xff};
  const uint8_t shortsub[] = {0x08, 0x01, 0x52, 0x20, 0x0a, 0x01, 'a'};
  const uint8_t badwire[] = {0x0f, 0x01, 0x02, 0x03};
  const struct {
    const uint8_t *p;
    size_t n;
  } bad[] = {{trunc, sizeof trunc}, {shortsub, sizeof shortsub}, {badwire, sizeof badwire}};
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    err[0] = '\0';
    env = codec_unpack(bad[i].p, bad[i].n, 1024, err, sizeof err);
    CHECK(env == NULL);
    check_reason(err, "malformed");
  }

  /* Protocol version 2 (packed around codec_pack, which forces 1) and an
   * envelope with no version at all. */
  Clapper__Drain drain = CLAPPER__DRAIN__INIT;
  drain.on = 1;
  envelope_t e2 = CLAPPER__ENVELOPE__INIT;
  e2.body_case = CLAPPER__ENVELOPE__BODY_DRAIN;
  e2.drain = &drain;
  e2.version = 2;
  uint8_t v2[64];
  size_t n2 = clapper__envelope__pack(&e2, v2);
  env = codec_unpack(v2, n2, 1024, err, sizeof err);
  CHECK(env == NULL);
  check_reason(err, "version 2");
  e2.version = 0;
  n2 = clapper__envelope__pack(&e2, v2);
  env = codec_unpack(v2, n2, 1024, err, sizeof err);
  CHECK(env == NULL);
  check_reason(err, "version 0");
  /* ... and the same with the right version is accepted. */
  e2.version = CLAPPER_PROTO_VERSION;
  n2 = clapper__envelope__pack(&e2, v2);
  env = codec_unpack(v2, n2, 1024, err, sizeof err);
  CHECK(env != NULL && env->drain->on);
  codec_free(&env);

  /* No body. */
  envelope_t empty = CLAPPER__ENVELOPE__INIT;
  buf = codec_pack(&empty, &len);
  CHECK_INT(empty.version, CLAPPER_PROTO_VERSION); /* codec_pack set it */
  CHECK(len > 0);
  env = codec_unpack(buf, len, 1024, err, sizeof err);
  CHECK(env == NULL);
  check_reason(err, "no body");
  free(buf);

  /* A tiny err buffer is not overrun. */
  char tiny[8];
  memset(tiny, 'x', sizeof tiny);
  env = codec_unpack(&one, 0, 100, tiny, sizeof tiny);
  CHECK(env == NULL);
  CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);
}

/* Waits for one message on the ROUTER and receives it with codec_recv. */
static envelope_t *recv_router(uint8_t *ident, size_t *identlen, char *err, size_t errlen,
                               size_t max, int *rc) {
  envelope_t *env = NULL;
  CHECK(wait_in(router, 5000));
  *rc = codec_recv(router, ident, identlen, NULL, max, &env, err, errlen);
  return env;
}

/* An Assign with three tasks, each with argv, env, gpus and outputs, from
 * the DEALER to the ROUTER and back. */
static void test_roundtrip(void) {
  enum { NT = 3 };
  Clapper__Task tasks[NT];
  Clapper__Task *tp[NT];
  Clapper__EnvVar ev[NT][2];
  Clapper__EnvVar *evp[NT][2];
  char *argv[NT][3];
  char argbuf[NT][3][32];
  uint32_t gpus[NT][2];
  char *outputs[NT][1];
  char outbuf[NT][64];
  for (int i = 0; i < NT; i++) {
    Clapper__Task t = CLAPPER__TASK__INIT;
    tasks[i] = t;
    tp[i] = &tasks[i];
    tasks[i].attempt_id = 1000 + (uint64_t)i;
    tasks[i].task_id = 200 + (uint64_t)i;
    tasks[i].job_id = 7;
    for (int k = 0; k < 3; k++) {
      snprintf(argbuf[i][k], sizeof argbuf[i][k], k == 0 ? "render" : "arg-%d-%d", i, k);
      argv[i][k] = argbuf[i][k];
    }
    tasks[i].n_argv = 3;
    tasks[i].argv = argv[i];
    for (int k = 0; k < 2; k++) {
      Clapper__EnvVar e = CLAPPER__ENV_VAR__INIT;
      ev[i][k] = e;
      ev[i][k].name = k ? "SEED" : "CLAPPER_TASK";
      ev[i][k].value = k ? "1001" : "x=y z"; /* '=' and spaces survive */
      evp[i][k] = &ev[i][k];
    }
    tasks[i].n_env = 2;
    tasks[i].env = evp[i];
    gpus[i][0] = (uint32_t)i;
    gpus[i][1] = 7;
    tasks[i].n_gpus = 2;
    tasks[i].gpus = gpus[i];
    snprintf(outbuf[i], sizeof outbuf[i], "/out/%d/take.mp4", i);
    outputs[i][0] = outbuf[i];
    tasks[i].n_outputs = 1;
    tasks[i].outputs = outputs[i];
    tasks[i].output_dir = "/out";
    tasks[i].timeout_s = 1800;
    tasks[i].cpus = 4;
    tasks[i].memory_mb = (uint64_t)1 << 40;
  }
  Clapper__Assign assign = CLAPPER__ASSIGN__INIT;
  assign.n_tasks = NT;
  assign.tasks = tp;
  envelope_t out = CLAPPER__ENVELOPE__INIT;
  out.body_case = CLAPPER__ENVELOPE__BODY_ASSIGN;
  out.assign = &assign;

  /* DEALER -> ROUTER: the identity comes first, the envelope intact. */
  CHECK_INT(codec_send(dealer, NULL, 0, &out), 0);
  uint8_t ident[CODEC_MAX_IDENT];
  size_t identlen = 0;
  char err[256] = "";
  char user[CODEC_MAX_USER] = "stale";
  envelope_t *env = NULL;
  CHECK(wait_in(router, 5000));
  int rc = codec_recv(router, ident, &identlen, user, CODEC_MAX_WORKER_MSG, &env, err,
                      sizeof err);
  CHECK_INT(rc, 1);
  if (rc != 1)
    fprintf(stderr, "refused: %s\n", err);
  CHECK_STR(user, ""); /* no ZAP user on this socket */
  CHECK_INT(identlen, strlen(dealer_id));
  CHECK(memcmp(ident, dealer_id, strlen(dealer_id)) == 0);
  CHECK(env != NULL);
  if (env) {
    CHECK_STR(codec_body_name(env), "assign");
    CHECK_INT(env->version, CLAPPER_PROTO_VERSION);
    CHECK_INT(env->assign->n_tasks, NT);
    for (size_t i = 0; i < env->assign->n_tasks && i < NT; i++) {
      const Clapper__Task *t = env->assign->tasks[i];
      CHECK_INT(t->attempt_id, 1000 + i);
      CHECK_INT(t->task_id, 200 + i);
      CHECK_INT(t->job_id, 7);
      CHECK_INT(t->n_argv, 3);
      for (size_t k = 0; k < t->n_argv && k < 3; k++)
        CHECK_STR(t->argv[k], argbuf[i][k]);
      CHECK_INT(t->n_env, 2);
      if (t->n_env == 2) {
        CHECK_STR(t->env[0]->name, "CLAPPER_TASK");
        CHECK_STR(t->env[0]->value, "x=y z");
        CHECK_STR(t->env[1]->name, "SEED");
        CHECK_STR(t->env[1]->value, "1001");
      }
      CHECK_INT(t->n_gpus, 2);
      if (t->n_gpus == 2) {
        CHECK_INT(t->gpus[0], i);
        CHECK_INT(t->gpus[1], 7);
      }
      CHECK_INT(t->n_outputs, 1);
      if (t->n_outputs == 1)
        CHECK_STR(t->outputs[0], outbuf[i]);
      CHECK_STR(t->output_dir, "/out");
      CHECK_INT(t->timeout_s, 1800);
      CHECK_INT(t->cpus, 4);
      CHECK(t->memory_mb == (uint64_t)1 << 40);
    }
  }

  /* ROUTER -> DEALER with that identity: the same Assign comes back. */
  CHECK_INT(codec_send(router, ident, identlen, env), 0);
  codec_free(&env);
  CHECK(wait_in(dealer, 5000));
  rc = codec_recv(dealer, NULL, NULL, NULL, CODEC_MAX_WORKER_MSG, &env, err, sizeof err);
  CHECK_INT(rc, 1);
  CHECK(env && env->body_case == CLAPPER__ENVELOPE__BODY_ASSIGN);
  CHECK(env && env->assign->n_tasks == NT && env->assign->tasks[2]->attempt_id == 1002);
  CHECK(env && !strcmp(env->assign->tasks[1]->argv[2], "arg-1-2"));
  codec_free(&env);

  /* Nothing waits: 0 on both kinds of socket, *env NULL. */
  env = &out; /* must be overwritten */
  CHECK_INT(codec_recv(router, ident, &identlen, NULL, CODEC_MAX_WORKER_MSG, &env, err,
                       sizeof err),
            0);
  CHECK(env == NULL);
  env = &out;
  CHECK_INT(codec_recv(dealer, NULL, NULL, NULL, CODEC_MAX_WORKER_MSG, &env, err, sizeof err),
            0);
  CHECK(env == NULL);
}

static void send_heartbeat(void *sock, const void *id, size_t idlen, uint64_t running) {
  Clapper__Heartbeat hb = CLAPPER__HEARTBEAT__INIT;
  hb.n_running = 1;
  hb.running = &running;
  envelope_t e = CLAPPER__ENVELOPE__INIT;
  e.body_case = CLAPPER__ENVELOPE__BODY_HEARTBEAT;
  e.heartbeat = &hb;
  CHECK_INT(codec_send(sock, id, idlen, &e), 0);
}

static void check_heartbeat(envelope_t *env, uint64_t running) {
  CHECK(env != NULL);
  if (!env)
    return;
  CHECK_INT(env->body_case, CLAPPER__ENVELOPE__BODY_HEARTBEAT);
  if (env->body_case == CLAPPER__ENVELOPE__BODY_HEARTBEAT) {
    CHECK_INT(env->heartbeat->n_running, 1);
    if (env->heartbeat->n_running == 1)
      CHECK(env->heartbeat->running[0] == running);
  }
}

static void test_refusals(void) {
  uint8_t ident[CODEC_MAX_IDENT];
  size_t identlen = 0;
  char err[256];
  envelope_t *env = NULL;
  int rc;

  /* Two body frames, each a valid envelope: refused, both consumed, and
   * the next good message arrives as itself. */
  size_t len;
  uint8_t *buf = pack_hello(&len);
  CHECK_INT(zmq_send(dealer, buf, len, ZMQ_SNDMORE), (int)len);
  CHECK_INT(zmq_send(dealer, buf, len, 0), (int)len);
  send_heartbeat(dealer, NULL, 0, 41);
  err[0] = '\0';
  env = recv_router(ident, &identlen, err, sizeof err, CODEC_MAX_WORKER_MSG, &rc);
  CHECK_INT(rc, -1);
  CHECK(env == NULL);
  check_reason(err, "more than one body frame");
  CHECK_INT(identlen, strlen(dealer_id)); /* still known, to answer with an error */
  env = recv_router(ident, &identlen, err, sizeof err, CODEC_MAX_WORKER_MSG, &rc);
  CHECK_INT(rc, 1);
  check_heartbeat(env, 41);
  codec_free(&env);

  /* Three body frames. */
  CHECK_INT(zmq_send(dealer, buf, len, ZMQ_SNDMORE), (int)len);
  CHECK_INT(zmq_send(dealer, "x", 1, ZMQ_SNDMORE), 1);
  CHECK_INT(zmq_send(dealer, buf, len, 0), (int)len);
  send_heartbeat(dealer, NULL, 0, 42);
  env = recv_router(ident, &identlen, err, sizeof err, CODEC_MAX_WORKER_MSG, &rc);
  CHECK_INT(rc, -1);
  check_reason(err, "more than one body frame");
  env = recv_router(ident, &identlen, err, sizeof err, CODEC_MAX_WORKER_MSG, &rc);
  CHECK_INT(rc, 1);
  check_heartbeat(env, 42);
  codec_free(&env);

  /* The same on the DEALER side (no identity frame). */
  CHECK_INT(zmq_send(router, dealer_id, strlen(dealer_id), ZMQ_SNDMORE),
            (int)strlen(dealer_id));
  CHECK_INT(zmq_send(router, buf, len, ZMQ_SNDMORE), (int)len);
  CHECK_INT(zmq_send(router, buf, len, 0), (int)len);
  send_heartbeat(router, dealer_id, strlen(dealer_id), 43);
  CHECK(wait_in(dealer, 5000));
  rc = codec_recv(dealer, NULL, NULL, NULL, CODEC_MAX_WORKER_MSG, &env, err, sizeof err);
  CHECK_INT(rc, -1);
  CHECK(env == NULL);
  check_reason(err, "more than one body frame");
  CHECK(wait_in(dealer, 5000));
  rc = codec_recv(dealer, NULL, NULL, NULL, CODEC_MAX_WORKER_MSG, &env, err, sizeof err);
  CHECK_INT(rc, 1);
  check_heartbeat(env, 43);
  codec_free(&env);
  free(buf);

  /* Over the bound, sent raw: a valid envelope of about 5000 bytes against
   * a bound of 4096.  Refused; the next one arrives. */
  char *json = xmalloc(5001);
  memset(json, 'j', 5000);
  json[5000] = '\0';
  Clapper__Reply reply = CLAPPER__REPLY__INIT;
  reply.json = json;
  envelope_t big = CLAPPER__ENVELOPE__INIT;
  big.body_case = CLAPPER__ENVELOPE__BODY_REPLY;
  big.reply = &reply;
  buf = codec_pack(&big, &len);
  CHECK(len > 5000);
  CHECK_INT(zmq_send(dealer, buf, len, 0), (int)len);
  send_heartbeat(dealer, NULL, 0, 44);
  env = recv_router(ident, &identlen, err, sizeof err, 4096, &rc);
  CHECK_INT(rc, -1);
  CHECK(env == NULL);
  check_reason(err, "exceeds the limit of 4096");
  env = recv_router(ident, &identlen, err, sizeof err, 4096, &rc);
  CHECK_INT(rc, 1);
  check_heartbeat(env, 44);
  codec_free(&env);
  /* The same message under a large enough bound is fine. */
  CHECK_INT(zmq_send(dealer, buf, len, 0), (int)len);
  env = recv_router(ident, &identlen, err, sizeof err, len, &rc);
  CHECK_INT(rc, 1);
  CHECK(env && env->body_case == CLAPPER__ENVELOPE__BODY_REPLY &&
        strlen(env->reply->json) == 5000);
  codec_free(&env);
  free(buf);
  free(json);

  /* Garbage and an empty frame over the wire. */
  CHECK_INT(zmq_send(dealer, "\x0f\x01\x02", 3, 0), 3);
  env = recv_router(ident, &identlen, err, sizeof err, CODEC_MAX_WORKER_MSG, &rc);
  CHECK_INT(rc, -1);
  check_reason(err, "malformed");
  CHECK_INT(zmq_send(dealer, "", 0, 0), 0);
  env = recv_router(ident, &identlen, err, sizeof err, CODEC_MAX_WORKER_MSG, &rc);
  CHECK_INT(rc, -1);
  check_reason(err, "empty");

  /* Nothing left behind by any of the refusals. */
  CHECK(!wait_in(router, 50));
  CHECK_INT(codec_recv(router, ident, &identlen, NULL, CODEC_MAX_WORKER_MSG, &env, err,
                       sizeof err),
            0);

  /* An unknown peer on a ROUTER_MANDATORY socket. */
  Clapper__Drain drain = CLAPPER__DRAIN__INIT;
  envelope_t d = CLAPPER__ENVELOPE__INIT;
  d.body_case = CLAPPER__ENVELOPE__BODY_DRAIN;
  d.drain = &drain;
  errno = 0;
  CHECK_INT(codec_send(router, "nobody", 6, &d), -1);
  CHECK_INT(errno, EHOSTUNREACH);

  /* A socket that cannot receive: -1 with a reason, on both paths. */
  void *pub = zmq_socket(zctx, ZMQ_PUB);
  strcpy(err, "");
  CHECK_INT(codec_recv(pub, ident, &identlen, NULL, 1024, &env, err, sizeof err), -1);
  CHECK(env == NULL);
  CHECK(err[0] != '\0');
  strcpy(err, "");
  CHECK_INT(codec_recv(pub, NULL, NULL, NULL, 1024, &env, err, sizeof err), -1);
  CHECK(err[0] != '\0');
  zmq_close(pub);
}

static void test_body_names(void) {
  static const struct {
    Clapper__Envelope__BodyCase c;
    const char *name;
  } cases[] = {
      {CLAPPER__ENVELOPE__BODY_HELLO, "hello"},
      {CLAPPER__ENVELOPE__BODY_WELCOME, "welcome"},
      {CLAPPER__ENVELOPE__BODY_RESET, "reset"},
      {CLAPPER__ENVELOPE__BODY_HEARTBEAT, "heartbeat"},
      {CLAPPER__ENVELOPE__BODY_ASSIGN, "assign"},
      {CLAPPER__ENVELOPE__BODY_STARTED, "started"},
      {CLAPPER__ENVELOPE__BODY_RESULTS, "results"},
      {CLAPPER__ENVELOPE__BODY_RESULT_ACK, "result_ack"},
      {CLAPPER__ENVELOPE__BODY_CANCEL, "cancel"},
      {CLAPPER__ENVELOPE__BODY_DRAIN, "drain"},
      {CLAPPER__ENVELOPE__BODY_REQUEST, "request"},
      {CLAPPER__ENVELOPE__BODY_REPLY, "reply"},
  };
  Clapper__Hello hello = CLAPPER__HELLO__INIT;
  Clapper__Welcome welcome = CLAPPER__WELCOME__INIT;
  Clapper__Reset reset = CLAPPER__RESET__INIT;
  Clapper__Heartbeat heartbeat = CLAPPER__HEARTBEAT__INIT;
  Clapper__Assign assign = CLAPPER__ASSIGN__INIT;
  Clapper__Started started = CLAPPER__STARTED__INIT;
  Clapper__Results results = CLAPPER__RESULTS__INIT;
  Clapper__ResultAck ack = CLAPPER__RESULT_ACK__INIT;
  Clapper__Cancel cancel = CLAPPER__CANCEL__INIT;
  Clapper__Drain drain = CLAPPER__DRAIN__INIT;
  Clapper__Request request = CLAPPER__REQUEST__INIT;
  Clapper__Reply reply = CLAPPER__REPLY__INIT;
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    envelope_t e = CLAPPER__ENVELOPE__INIT;
    e.body_case = cases[i].c;
    switch (cases[i].c) {
    case CLAPPER__ENVELOPE__BODY_HELLO: e.hello = &hello; break;
    case CLAPPER__ENVELOPE__BODY_WELCOME: e.welcome = &welcome; break;
    case CLAPPER__ENVELOPE__BODY_RESET: e.reset = &reset; break;
    case CLAPPER__ENVELOPE__BODY_HEARTBEAT: e.heartbeat = &heartbeat; break;
    case CLAPPER__ENVELOPE__BODY_ASSIGN: e.assign = &assign; break;
    case CLAPPER__ENVELOPE__BODY_STARTED: e.started = &started; break;
    case CLAPPER__ENVELOPE__BODY_RESULTS: e.results = &results; break;
    case CLAPPER__ENVELOPE__BODY_RESULT_ACK: e.result_ack = &ack; break;
    case CLAPPER__ENVELOPE__BODY_CANCEL: e.cancel = &cancel; break;
    case CLAPPER__ENVELOPE__BODY_DRAIN: e.drain = &drain; break;
    case CLAPPER__ENVELOPE__BODY_REQUEST: e.request = &request; break;
    case CLAPPER__ENVELOPE__BODY_REPLY: e.reply = &reply; break;
    default: break;
    }
    CHECK_STR(codec_body_name(&e), cases[i].name);
    /* Even an empty body of each kind travels: a body is present. */
    size_t len;
    uint8_t *buf = codec_pack(&e, &len);
    char err[256] = "";
    envelope_t *back = codec_unpack(buf, len, len, err, sizeof err);
    CHECK(back != NULL);
    if (!back)
      fprintf(stderr, "%s refused: %s\n", cases[i].name, err);
    else
      CHECK_STR(codec_body_name(back), cases[i].name);
    codec_free(&back);
    free(buf);
  }
  envelope_t none = CLAPPER__ENVELOPE__INIT;
  CHECK_STR(codec_body_name(&none), "unknown");
}

int main(void) {
  test_unpack();
  test_unknown_fields();
  test_body_names();

  zctx = zmq_ctx_new();
  router = zmq_socket(zctx, ZMQ_ROUTER);
  dealer = zmq_socket(zctx, ZMQ_DEALER);
  int one = 1, zero = 0;
  CHECK_INT(zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one), 0);
  CHECK_INT(zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero), 0);
  CHECK_INT(zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero), 0);
  CHECK_INT(zmq_setsockopt(dealer, ZMQ_ROUTING_ID, dealer_id, strlen(dealer_id)), 0);
  CHECK_INT(zmq_bind(router, "inproc://codec"), 0);
  CHECK_INT(zmq_connect(dealer, "inproc://codec"), 0);

  test_roundtrip();
  test_refusals();

  zmq_close(dealer);
  zmq_close(router);
  zmq_ctx_term(zctx);
  return check_report("codec");
}
