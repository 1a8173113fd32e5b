/*
 * fakecoord.c - the fake coordinator of the client's unit tests, see
 * fakecoord.h.
 */
#include "fakecoord.h"

#include <errno.h>
#include <stdio.h>
#include <zmq.h>

#include "check.h"
#include "codec.h"

static void *fake_main(void *arg) {
  fake_t *f = arg;
  while (f->served < f->nreq) {
    zmq_pollitem_t item = {f->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 10000) <= 0)
      break;
    uint8_t ident[CODEC_MAX_IDENT];
    size_t identlen = 0;
    envelope_t *env = NULL;
    char why[256];
    if (codec_recv(f->sock, ident, &identlen, NULL, CODEC_MAX_CLIENT_MSG, &env, why,
                   sizeof why) != 1)
      continue;
    int i = f->served++;
    Clapper__Request *req = env->request;
    if (i < FAKE_MAX && req) {
      f->verb[i] = req->verb;
      f->nids[i] = req->n_ids;
      f->id0[i] = req->n_ids ? req->ids[0] : 0;
      f->all[i] = req->all;
      f->finished[i] = req->finished;
      f->mine[i] = req->mine;
      f->limit[i] = req->limit;
      f->after[i] = req->after;
      snprintf(f->after_name[i], sizeof f->after_name[i], "%s",
               req->after_name ? req->after_name : "");
      snprintf(f->idempotency_key[i], sizeof f->idempotency_key[i], "%s",
               req->idempotency_key ? req->idempotency_key : "");
      f->body_len[i] = req->body.len;
      for (size_t k = 0; k < req->n_ids && k < 4; k++)
        f->ids[i][k] = req->ids[k];
      snprintf(f->name[i], sizeof f->name[i], "%s", req->name ? req->name : "");
      snprintf(f->note[i], sizeof f->note[i], "%s", req->note ? req->note : "");
      f->offset[i] = req->offset;
      f->value[i] = req->value;
      f->try_no[i] = req->try_no;
      snprintf(f->amount[i], sizeof f->amount[i], "%s", req->amount ? req->amount : "");
      snprintf(f->kind[i], sizeof f->kind[i], "%s", req->kind ? req->kind : "");
      f->at_us[i] = req->at_us;
      snprintf(f->by[i], sizeof f->by[i], "%s", req->by ? req->by : "");
      snprintf(f->shot[i], sizeof f->shot[i], "%s", req->shot ? req->shot : "");
      snprintf(f->state[i], sizeof f->state[i], "%s", req->state ? req->state : "");
      snprintf(f->public_key[i], sizeof f->public_key[i], "%s",
               req->public_key ? req->public_key : "");
    }
    Clapper__Reply reply = CLAPPER__REPLY__INIT;
    Clapper__Envelope out = CLAPPER__ENVELOPE__INIT;
    out.body_case = CLAPPER__ENVELOPE__BODY_REPLY;
    out.reply = &reply;
    if (f->wrong_id_first) {
      reply.id = req ? req->id + 1 : 0;
      reply.ok = 1;
      reply.json = "{\"wrong\": true}";
      if (codec_send(f->sock, ident, identlen, &out) < 0)
        fprintf(stderr, "fake: send failed: %s\n", zmq_strerror(errno));
    }
    reply.id = req ? req->id : 0;
    if (f->error_code) {
      reply.ok = 0;
      reply.error_code = (char *)f->error_code;
      reply.error_message = (char *)f->error_message;
      reply.json = "";
    } else {
      reply.ok = 1;
      reply.json = (char *)f->jsons[i < f->njsons ? i : f->njsons - 1];
    }
    if (codec_send(f->sock, ident, identlen, &out) < 0)
      fprintf(stderr, "fake: send failed: %s\n", zmq_strerror(errno));
    codec_free(&env);
  }
  return NULL;
}

/* Binds f's ROUTER in f->ctx, a CURVE server with server's secret key
 * unless server is NULL, and starts the thread that answers. */
static void fake_bind(fake_t *f, const keys_key_t *server) {
  f->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
  int one = 1, zero = 0;
  zmq_setsockopt(f->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof zero);
  if (server) {
    CHECK_INT(zmq_setsockopt(f->sock, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    CHECK_INT(zmq_setsockopt(f->sock, ZMQ_CURVE_SECRETKEY, server->secret_key, 41), 0);
  }
  CHECK_INT(zmq_bind(f->sock, "tcp://127.0.0.1:*"), 0);
  size_t len = sizeof f->endpoint;
  zmq_getsockopt(f->sock, ZMQ_LAST_ENDPOINT, f->endpoint, &len);
  pthread_create(&f->thr, NULL, fake_main, f);
}

void fake_start(fake_t *f) {
  f->ctx = zmq_ctx_new();
  fake_bind(f, NULL);
}

void fake_start_curve(fake_t *f, const keys_key_t *server, zap_t *zap) {
  f->ctx = zmq_ctx_new();
  f->zap = zap;
  if (zap)
    zap_start(zap, f->ctx);
  fake_bind(f, server);
}

void fake_stop(fake_t *f) {
  pthread_join(f->thr, NULL);
  zmq_close(f->sock);
  if (f->zap)
    zap_stop(f->zap);
  zmq_ctx_term(f->ctx);
}
