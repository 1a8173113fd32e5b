/*
 * fuzz_codec.c - libFuzzer target: arbitrary bytes as a message off either
 * socket.
 *
 * codec_unpack must refuse or accept every input without a crash, a leak
 * or undefined behaviour, at both sockets' size limits; what it accepts
 * must pack again into bytes that unpack to the same body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size, size_t max) {
  char err[256];
  envelope_t *env = codec_unpack(data, size, max, err, sizeof err);
  if (!env) {
    if (!err[0] || memchr(err, '\n', strlen(err)))
      abort(); /* a refusal is one non-empty line */
    return;
  }
  const char *name = codec_body_name(env);
  size_t len = 0;
  uint8_t *again = codec_pack(env, &len);
  envelope_t *back = codec_unpack(again, len, (size_t)-1, err, sizeof err);
  if (!back || back->body_case != env->body_case || strcmp(codec_body_name(back), name))
    abort(); /* what was accepted must survive a round trip */
  size_t len2 = 0;
  uint8_t *twice = codec_pack(back, &len2);
  if (len2 != len || memcmp(twice, again, len))
    abort(); /* and packing is stable after one round */
  free(twice);
  free(again);
  codec_free(&back);
  codec_free(&env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size, CODEC_MAX_CLIENT_MSG);
  one(data, size, 64); /* the size check sits in front of the parser */
  return 0;
}
