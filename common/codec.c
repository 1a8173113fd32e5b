/*
 * codec.c - bounded pack/unpack of clapper envelopes, see codec.h.
 */
#include "codec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Finds an unknown field numbered 0 in m or a message inside it, putting
 * the message's name in *where.  Protobuf has no field 0, but protobuf-c
 * keeps one whose tag is spelled in more than one byte as an unknown field
 * and would pack it into bytes it then refuses to read (found by
 * tests/fuzz/fuzz_codec.c).  Other unknown fields follow proto3's rule:
 * kept and ignored. */
static bool field_zero(const ProtobufCMessage *m, unsigned depth, const char **where) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < m->n_unknown_fields; i++) {
    if (m->unknown_fields[i].tag == 0) {
      *where = d->short_name;
      return true;
    }
  }
  if (depth > 16)
    return false; /* the schema nests four deep; protobuf-c bounds recursion */
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
      continue;
    const char *base = (const char *)m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)(base + f->quantifier_offset);
      ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)(base + f->offset);
      for (size_t k = 0; k < n; k++)
        if (items[k] && field_zero(items[k], depth + 1, where))
          return true;
      continue;
    }
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)(base + f->quantifier_offset) != f->id)
      continue; /* another member of the oneof is set */
    const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
    if (sub && field_zero(sub, depth + 1, where))
      return true;
  }
  return false;
}

envelope_t *codec_unpack(const void *data, size_t len, size_t max, char *err,
                         size_t errlen) {
  if (len == 0) {
    snprintf(err, errlen, "empty message");
    return NULL;
  }
  if (len > max) {
    snprintf(err, errlen, "message of %zu bytes exceeds the limit of %zu", len, max);
    return NULL;
  }
  envelope_t *env = clapper__envelope__unpack(NULL, len, data);
  if (!env) {
    snprintf(err, errlen, "malformed message (%zu bytes)", len);
    return NULL;
  }
  if (env->version != CLAPPER_PROTO_VERSION) {
    snprintf(err, errlen, "protocol version %u is not supported (this side speaks %u)",
             env->version, CLAPPER_PROTO_VERSION);
    clapper__envelope__free_unpacked(env, NULL);
    return NULL;
  }
  if (env->body_case == CLAPPER__ENVELOPE__BODY__NOT_SET) {
    snprintf(err, errlen, "message has no body");
    clapper__envelope__free_unpacked(env, NULL);
    return NULL;
  }
  const char *where = NULL;
  if (field_zero(&env->base, 0, &where)) {
    snprintf(err, errlen, "malformed message (%zu bytes): field number 0 in %s", len, where);
    clapper__envelope__free_unpacked(env, NULL);
    return NULL;
  }
  return env;
}

void codec_free(envelope_t **env) {
  if (env && *env) {
    clapper__envelope__free_unpacked(*env, NULL);
    *env = NULL;
  }
}

uint8_t *codec_pack(envelope_t *env, size_t *len) {
  env->version = CLAPPER_PROTO_VERSION;
  size_t n = clapper__envelope__get_packed_size(env);
  uint8_t *buf = xmalloc(n ? n : 1);
  *len = clapper__envelope__pack(env, buf);
  return buf;
}

static void free_packed(void *data, void *hint) {
  (void)hint;
  free(data);
}

int codec_send(void *sock, const void *ident, size_t identlen, envelope_t *env) {
  size_t len;
  uint8_t *buf = codec_pack(env, &len);
  if (ident && zmq_send(sock, ident, identlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
    int saved = errno;
    free(buf);
    errno = saved;
    return -1;
  }
  zmq_msg_t msg;
  /* zmq takes the buffer without copying and frees it when sent. */
  if (zmq_msg_init_data(&msg, buf, len, free_packed, NULL) < 0) {
    int saved = errno;
    free(buf);
    errno = saved;
    return -1;
  }
  if (zmq_msg_send(&msg, sock, ZMQ_DONTWAIT) < 0) {
    int saved = errno;
    zmq_msg_close(&msg);
    errno = saved;
    return -1;
  }
  return 0;
}

/* Discards the remaining frames of a multi-part message. */
static void drain_more(void *sock) {
  int more = 0;
  size_t sz = sizeof more;
  while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&m);
      return;
    }
    zmq_msg_close(&m);
  }
}

int codec_recv(void *sock, uint8_t *ident, size_t *identlen, char *user, size_t max,
               envelope_t **env, char *err, size_t errlen) {
  *env = NULL;
  if (user)
    user[0] = '\0';
  if (ident) {
    zmq_msg_t id;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, sock, ZMQ_DONTWAIT) < 0) {
      int saved = errno;
      zmq_msg_close(&id);
      if (saved == EAGAIN)
        return 0;
      snprintf(err, errlen, "receive failed: %s", zmq_strerror(saved));
      return -1;
    }
    size_t n = zmq_msg_size(&id);
    if (n > CODEC_MAX_IDENT)
      n = CODEC_MAX_IDENT;
    memcpy(ident, zmq_msg_data(&id), n);
    *identlen = n;
    int more = zmq_msg_more(&id);
    zmq_msg_close(&id);
    if (!more) {
      snprintf(err, errlen, "message without a body frame");
      return -1;
    }
  }
  zmq_msg_t body;
  zmq_msg_init(&body);
  if (zmq_msg_recv(&body, sock, ZMQ_DONTWAIT) < 0) {
    int saved = errno;
    zmq_msg_close(&body);
    if (!ident && saved == EAGAIN)
      return 0;
    snprintf(err, errlen, "receive failed: %s", zmq_strerror(saved));
    return -1;
  }
  if (user) {
    const char *uid = zmq_msg_gets(&body, "User-Id");
    if (uid)
      snprintf(user, CODEC_MAX_USER, "%s", uid);
  }
  int more = zmq_msg_more(&body);
  if (more) {
    drain_more(sock);
    zmq_msg_close(&body);
    snprintf(err, errlen, "message has more than one body frame");
    return -1;
  }
  *env = codec_unpack(zmq_msg_data(&body), zmq_msg_size(&body), max, err, errlen);
  zmq_msg_close(&body);
  return *env ? 1 : -1;
}

const char *codec_body_name(const envelope_t *env) {
  switch (env->body_case) {
  case CLAPPER__ENVELOPE__BODY_HELLO: return "hello";
  case CLAPPER__ENVELOPE__BODY_WELCOME: return "welcome";
  case CLAPPER__ENVELOPE__BODY_RESET: return "reset";
  case CLAPPER__ENVELOPE__BODY_HEARTBEAT: return "heartbeat";
  case CLAPPER__ENVELOPE__BODY_ASSIGN: return "assign";
  case CLAPPER__ENVELOPE__BODY_STARTED: return "started";
  case CLAPPER__ENVELOPE__BODY_RESULTS: return "results";
  case CLAPPER__ENVELOPE__BODY_RESULT_ACK: return "result_ack";
  case CLAPPER__ENVELOPE__BODY_CANCEL: return "cancel";
  case CLAPPER__ENVELOPE__BODY_DRAIN: return "drain";
  case CLAPPER__ENVELOPE__BODY_LOGS: return "logs";
  case CLAPPER__ENVELOPE__BODY_REQUEST: return "request";
  case CLAPPER__ENVELOPE__BODY_REPLY: return "reply";
  default: return "unknown";
  }
}
