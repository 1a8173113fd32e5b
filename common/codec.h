/*
 * codec.h - the one place where clapper messages are packed and unpacked.
 *
 * A message is one ZeroMQ frame holding one packed clapper.Envelope; on a
 * ROUTER socket it is preceded by the peer's routing-id frame.  Every
 * receive path checks the size against a bound *before* protobuf-c sees
 * the bytes, checks the protocol version and that a body is present, and
 * returns either an envelope the caller owns or a one-line reason.
 */
#ifndef CLAPPER_CODEC_H
#define CLAPPER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "clapper.pb-c.h"
#include "util.h"

#define CLAPPER_PROTO_VERSION 1u

/* Bounds on one packed envelope.  Client requests may carry a job file of
 * up to 16 MiB; worker messages are much smaller but batch many tasks. */
#define CODEC_MAX_CLIENT_MSG ((size_t)17 << 20)
#define CODEC_MAX_WORKER_MSG ((size_t)32 << 20)
#define CODEC_MAX_IDENT 255
#define CODEC_MAX_USER 128

typedef Clapper__Envelope envelope_t;

/* An envelope to send, holding body (borrowed) as its CASE body; CASE and
 * member are the body's names as protobuf-c spells them:
 *   envelope_t env = CODEC_ENVELOPE(LOGS, logs, &body);
 * codec_pack and codec_send set the version. */
#define CODEC_ENVELOPE(CASE, member, body)                                                         \
  ((envelope_t){.base = PROTOBUF_C_MESSAGE_INIT(&clapper__envelope__descriptor),                   \
                .body_case = CLAPPER__ENVELOPE__BODY_##CASE,                                       \
                .member = (body)})

/* Unpacks len bytes.  Refuses an empty message, one larger than max (before
 * unpacking), malformed bytes, another protocol version, an envelope
 * without a body and a field numbered 0 at any depth (which protobuf-c
 * would otherwise keep and pack into bytes it cannot read back).  Returns the envelope (release with codec_free) or NULL
 * with a one-line reason in err. */
envelope_t *codec_unpack(const void *data, size_t len, size_t max, char *err,
                         size_t errlen) MUSTCHECK;

/* Releases an envelope from codec_unpack/codec_recv and sets *env to NULL. */
void codec_free(envelope_t **env);

/* Packs env, setting env->version, into a new buffer the caller frees. */
uint8_t *codec_pack(envelope_t *env, size_t *len);

/* Sends env without blocking; when ident is not NULL a routing-id frame of
 * identlen bytes goes first (ROUTER sockets).  Returns 0, or -1 with errno
 * from zmq_send (EAGAIN at the high-water mark, EHOSTUNREACH for a peer that
 * is gone on a ROUTER_MANDATORY socket). */
int codec_send(void *sock, const void *ident, size_t identlen, envelope_t *env) MUSTCHECK;

/* Receives one message without blocking.  With ident != NULL (ROUTER) the
 * routing id is copied to ident (CODEC_MAX_IDENT bytes) and its length to
 * *identlen; with user != NULL the ZAP user id of the peer, if any, is
 * copied there (CODEC_MAX_USER bytes, "" when none).
 * Returns 1 with *env set (caller owns it), 0 when nothing is waiting, or -1
 * when a message was consumed but refused (reason in err; *env NULL). */
int codec_recv(void *sock, uint8_t *ident, size_t *identlen, char *user, size_t max,
               envelope_t **env, char *err, size_t errlen) MUSTCHECK;

/* A short name for the envelope's body ("hello", "assign", ...). */
const char *codec_body_name(const envelope_t *env);

#endif
