/*
 * rawmsg.c - clapper-rawmsg, a test tool that sends crafted protocol
 * messages to a coordinator over a real ZeroMQ socket with a registered
 * CURVE key, the way an attacker holding a low-role key would: the fields
 * the real client and worker never send (invalid UTF-8, 16 MiB notes,
 * times of 2^63-1, forged wall times).
 *
 *   clapper-rawmsg client ENDPOINT KEY SERVER_PUB VERB [FIELD=VALUE...]
 *     sends one Request (VERB: its number) and prints "ok JSON" or
 *     "error CODE: MESSAGE"; exits 0 when a reply came.  Fields: note, name,
 *     kind, amount, by, shot, state, public_key, after_name, idempotency_key
 *     (text, \xHH escapes, or @N:C for N copies of the character C), at_us,
 *     value, offset, ids
 *     (comma-separated), repeat (send the request N times, print the last
 *     reply).  RAWMSG_WAIT_MS: how long to wait for a reply (20 s).
 *   clapper-rawmsg worker ENDPOINT KEY SERVER_PUB NAME SCENARIO
 *     hello-FIELD  a Hello with invalid UTF-8 in FIELD (hostname, version,
 *                  workdir, gpu-model, gpu-uuid); prints "welcome" or
 *                  "no welcome" (after 2 s)
 *     forge        a valid Hello (1 CPU), then for the first Assign: Started
 *                  at 2^63-1, and a Result with wall time, CPU time, start
 *                  and end of 2^63-1 and an error and output path that are
 *                  not UTF-8; prints "acked ATTEMPT" once acknowledged
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "codec.h"
#include "keys.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "clapper-rawmsg: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(2);
}

/* A text value: \xHH escapes decoded, or @N:C for N copies of C. */
static char *text_value(const char *v) {
  if (v[0] == '@') {
    char *end;
    unsigned long n = strtoul(v + 1, &end, 10);
    if (*end != ':' || !end[1])
      die("bad repeat value %s", v);
    char *s = xmalloc(n + 1);
    memset(s, end[1], n);
    s[n] = '\0';
    return s;
  }
  char *s = xmalloc(strlen(v) + 1), *o = s;
  for (const char *p = v; *p;) {
    if (p[0] == '\\' && p[1] == 'x' && p[2] && p[3]) {
      char hex[3] = {p[2], p[3], 0};
      *o++ = (char)strtoul(hex, NULL, 16);
      p += 4;
    } else {
      *o++ = *p++;
    }
  }
  *o = '\0';
  return s;
}

static void *open_socket(void *zctx, const char *endpoint, const char *key, const char *pub) {
  void *sock = zmq_socket(zctx, ZMQ_DEALER);
  int zero = 0;
  int64_t max = -1;
  zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max);
  char err[512];
  if (strcmp(key, "-") && keys_client(sock, key, pub, NULL, err, sizeof err) < 0)
    die("%s", err);
  if (zmq_connect(sock, endpoint) < 0)
    die("cannot connect to %s", endpoint);
  return sock;
}

static void send_env(void *sock, envelope_t *env) {
  size_t len;
  uint8_t *buf = codec_pack(env, &len);
  if (zmq_send(sock, buf, len, 0) < 0)
    die("send: %s", zmq_strerror(zmq_errno()));
  free(buf);
}

/* The next envelope within ms, or NULL. */
static envelope_t *recv_env(void *sock, int ms) {
  zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&it, 1, ms) <= 0)
    return NULL;
  zmq_msg_t m;
  zmq_msg_init(&m);
  if (zmq_msg_recv(&m, sock, 0) < 0)
    return NULL;
  char err[256];
  envelope_t *env =
      codec_unpack(zmq_msg_data(&m), zmq_msg_size(&m), CODEC_MAX_WORKER_MSG, err, sizeof err);
  zmq_msg_close(&m);
  if (!env)
    die("bad reply: %s", err);
  return env;
}

static int client(void *sock, int argc, char **argv) {
  const char *wait_env = getenv("RAWMSG_WAIT_MS"); /* how long to wait for a reply */
  int wait_ms = wait_env ? atoi(wait_env) : 20000;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.id = 7;
  req.verb = (Clapper__Verb)atoi(argv[0]);
  uint64_t ids[64];
  long repeat = 1;
  for (int i = 1; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (!eq)
      die("expected FIELD=VALUE, got %s", argv[i]);
    *eq = '\0';
    const char *f = argv[i], *v = eq + 1;
    char **text = !strcmp(f, "note")              ? &req.note
                  : !strcmp(f, "name")            ? &req.name
                  : !strcmp(f, "kind")            ? &req.kind
                  : !strcmp(f, "amount")          ? &req.amount
                  : !strcmp(f, "by")              ? &req.by
                  : !strcmp(f, "shot")            ? &req.shot
                  : !strcmp(f, "state")           ? &req.state
                  : !strcmp(f, "public_key")      ? &req.public_key
                  : !strcmp(f, "after_name")      ? &req.after_name
                  : !strcmp(f, "idempotency_key") ? &req.idempotency_key
                                                  : NULL;
    if (text) {
      free(*text == protobuf_c_empty_string ? NULL : *text);
      *text = text_value(v);
    } else if (!strcmp(f, "at_us"))
      req.at_us = strtoll(v, NULL, 10);
    else if (!strcmp(f, "value"))
      req.value = strtoll(v, NULL, 10);
    else if (!strcmp(f, "offset"))
      req.offset = strtoull(v, NULL, 10);
    else if (!strcmp(f, "repeat"))
      repeat = strtol(v, NULL, 10);
    else if (!strcmp(f, "ids"))
      for (char *p = (char *)v; *p && req.n_ids < 64; p += *p == ',')
        ids[req.n_ids++] = strtoull(p, &p, 10);
    else
      die("unknown field %s", f);
  }
  req.ids = ids;
  for (long k = 0; k < repeat; k++) {
    envelope_t env = CODEC_ENVELOPE(REQUEST, request, &req);
    send_env(sock, &env);
  }
  envelope_t *rep = NULL;
  for (long k = 0; k < repeat; k++) {
    codec_free(&rep);
    rep = recv_env(sock, wait_ms);
    if (!rep || rep->body_case != CLAPPER__ENVELOPE__BODY_REPLY) {
      printf("no reply\n");
      return 1;
    }
  }
  if (rep->reply->ok)
    printf("ok %s\n", rep->reply->json);
  else
    printf("error %s: %s\n", rep->reply->error_code, rep->reply->error_message);
  codec_free(&rep);
  char *texts[] = {req.note, req.name,  req.kind,       req.amount,     req.by,
                   req.shot, req.state, req.public_key, req.after_name, req.idempotency_key};
  for (size_t i = 0; i < ARRAY_SIZE(texts); i++)
    if (texts[i] != protobuf_c_empty_string)
      free(texts[i]);
  return 0;
}

static Clapper__Hello hello_of(const char *name) {
  Clapper__Hello h = CLAPPER__HELLO__INIT;
  h.name = (char *)name;
  h.version = "rawmsg";
  h.hostname = "rawmsg-host";
  h.cpus = 1;
  h.memory_mb = 1000;
  return h;
}

static int worker(void *sock, const char *name, const char *scenario) {
  Clapper__Hello h = hello_of(name);
  Clapper__Gpu g = CLAPPER__GPU__INIT, *gp = &g;
  const char *bad = "bad\xff\xfe";
  if (!strncmp(scenario, "hello-", 6)) {
    const char *f = scenario + 6;
    if (!strcmp(f, "hostname"))
      h.hostname = (char *)bad;
    else if (!strcmp(f, "version"))
      h.version = (char *)bad;
    else if (!strcmp(f, "workdir"))
      h.workdir = (char *)bad;
    else if (!strcmp(f, "gpu-model") || !strcmp(f, "gpu-uuid")) {
      g.uuid = !strcmp(f, "gpu-uuid") ? (char *)bad : "GPU-1";
      g.model = !strcmp(f, "gpu-model") ? (char *)bad : "Test";
      g.memory_mb = 1000;
      h.n_gpus = 1;
      h.gpus = &gp;
    } else {
      die("unknown hello field %s", f);
    }
    envelope_t env = CODEC_ENVELOPE(HELLO, hello, &h);
    send_env(sock, &env);
    envelope_t *r = recv_env(sock, 2000);
    bool welcome = r && r->body_case == CLAPPER__ENVELOPE__BODY_WELCOME;
    printf("%s\n", welcome ? "welcome" : "no welcome");
    codec_free(&r);
    return 0;
  }
  if (strcmp(scenario, "forge"))
    die("unknown scenario %s", scenario);
  envelope_t env = CODEC_ENVELOPE(HELLO, hello, &h);
  send_env(sock, &env);
  uint64_t attempt = 0;
  for (int waited = 0; waited < 60 && !attempt; waited++) {
    envelope_t *r = recv_env(sock, 1000);
    if (r && r->body_case == CLAPPER__ENVELOPE__BODY_ASSIGN && r->assign->n_tasks)
      attempt = r->assign->tasks[0]->attempt_id;
    codec_free(&r);
    Clapper__Heartbeat hb = CLAPPER__HEARTBEAT__INIT;
    envelope_t e = CODEC_ENVELOPE(HEARTBEAT, heartbeat, &hb);
    if (!attempt)
      send_env(sock, &e);
  }
  if (!attempt) {
    printf("no assign\n");
    return 1;
  }
  Clapper__StartedAttempt sa = CLAPPER__STARTED_ATTEMPT__INIT, *sap = &sa;
  sa.attempt_id = attempt;
  sa.started_at_us = INT64_MAX;
  Clapper__Started st = CLAPPER__STARTED__INIT;
  st.n_attempts = 1;
  st.attempts = &sap;
  envelope_t e1 = CODEC_ENVELOPE(STARTED, started, &st);
  send_env(sock, &e1);
  Clapper__OutputFile of = CLAPPER__OUTPUT_FILE__INIT, *ofp = &of;
  of.path = "/out/\xff\xfe.exr";
  of.size = UINT64_MAX;
  of.sha256 = "zz\xff";
  Clapper__Result res = CLAPPER__RESULT__INIT, *resp = &res;
  res.attempt_id = attempt;
  res.outcome = CLAPPER__OUTCOME__OUTCOME_SUCCEEDED;
  res.started_at_us = INT64_MAX;
  res.ended_at_us = INT64_MAX;
  res.wall_us = (uint64_t)INT64_MAX;
  res.cpu_us = UINT64_MAX;
  res.max_rss_kb = UINT64_MAX;
  res.gpu_energy_mj = UINT64_MAX;
  res.error = "err\xff\x01";
  res.n_outputs = 1;
  res.outputs = &ofp;
  Clapper__Results rs = CLAPPER__RESULTS__INIT;
  rs.n_results = 1;
  rs.results = &resp;
  envelope_t e2 = CODEC_ENVELOPE(RESULTS, results, &rs);
  send_env(sock, &e2);
  for (int waited = 0; waited < 30; waited++) {
    envelope_t *r = recv_env(sock, 1000);
    bool acked = false;
    if (r && r->body_case == CLAPPER__ENVELOPE__BODY_RESULT_ACK)
      for (size_t i = 0; i < r->result_ack->n_attempt_ids; i++)
        acked |= r->result_ack->attempt_ids[i] == attempt;
    codec_free(&r);
    if (acked) {
      printf("acked %" PRIu64 "\n", attempt);
      return 0;
    }
  }
  printf("no ack\n");
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 6 || (strcmp(argv[1], "client") && strcmp(argv[1], "worker")))
    die("%s", "usage: clapper-rawmsg client|worker ENDPOINT KEY SERVER_PUB ...");
  void *zctx = zmq_ctx_new();
  void *sock = open_socket(zctx, argv[2], argv[3], argv[4]);
  int rc = !strcmp(argv[1], "client") ? client(sock, argc - 5, argv + 5)
           : argc > 6                 ? worker(sock, argv[5], argv[6])
                                      : 2;
  fflush(stdout);
  zmq_close(sock);
  zmq_ctx_term(zctx);
  return rc;
}
