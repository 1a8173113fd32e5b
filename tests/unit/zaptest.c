/*
 * zaptest.c - the ZAP handler of the unit tests, see zaptest.h.
 */
#include "zaptest.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "check.h"

#define ZAP_FRAME_MAX 64

static void *zap_main(void *arg) {
  zap_t *z = arg;
  while (!z->stop) {
    zmq_pollitem_t it = {z->rep, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 50) <= 0)
      continue;
    /* version, request id, domain, address, identity, mechanism, key */
    char frames[8][ZAP_FRAME_MAX];
    size_t sizes[8] = {0};
    int n = 0, more = 1;
    while (more && n < 8) {
      int got = zmq_recv(z->rep, frames[n], sizeof frames[n], 0);
      if (got < 0)
        return NULL;
      sizes[n++] = (size_t)(got > ZAP_FRAME_MAX ? ZAP_FRAME_MAX : got);
      size_t ml = sizeof more;
      zmq_getsockopt(z->rep, ZMQ_RCVMORE, &more, &ml);
    }
    if (n >= 7 && sizes[6] == 32)
      zmq_z85_encode(z->client_key, (uint8_t *)frames[6], 32);
    snprintf(z->mechanism, sizeof z->mechanism, "%.*s", (int)sizes[5], frames[5]);
    const char *user = z->user ? z->user : "alice";
    zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(z->rep, frames[1], sizes[1], ZMQ_SNDMORE);
    zmq_send(z->rep, z->admit_after > 0 && z->served >= z->admit_after ? "200" : z->status, 3,
             ZMQ_SNDMORE);
    zmq_send(z->rep, "", 0, ZMQ_SNDMORE);
    zmq_send(z->rep, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(z->rep, "", 0, 0);
    z->served++;
  }
  return NULL;
}

void zap_start(zap_t *z, void *zctx) {
  int zero = 0;
  z->rep = zmq_socket(zctx, ZMQ_REP);
  zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof zero);
  CHECK_INT(zmq_bind(z->rep, "inproc://zeromq.zap.01"), 0);
  pthread_create(&z->thr, NULL, zap_main, z);
}

void zap_stop(zap_t *z) {
  z->stop = 1;
  pthread_join(z->thr, NULL);
  zmq_close(z->rep);
}
