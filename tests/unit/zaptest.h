/*
 * zaptest.h - a ZAP handler for the unit tests that need a CURVE server to
 * admit or refuse keys (test_keys, the client's fake coordinator).
 *
 * It runs in a thread, bound to inproc://zeromq.zap.01 in the test's ZeroMQ
 * context, and answers every request with status (e.g. "400"), or "200"
 * and user as the User-Id once it has refused admit_after of them; it
 * records the client's public key (Z85) and mechanism.
 */
#ifndef CLAPPER_TEST_ZAPTEST_H
#define CLAPPER_TEST_ZAPTEST_H

#include <pthread.h>

typedef struct zap {
  const char *status; /* the answer: "400" refuses */
  const char *user;   /* the User-Id for status 200 (default "alice") */
  int admit_after;    /* > 0: status 200 from the request after this many */
  /* filled by the handler */
  void *rep;
  pthread_t thr;
  volatile int stop;
  char client_key[41];
  char mechanism[16];
  int served; /* requests answered */
} zap_t;

/* Binds z's REP socket in zctx (checked) and starts answering. */
void zap_start(zap_t *z, void *zctx);

/* Stops the handler and closes its socket; what it recorded stays in z. */
void zap_stop(zap_t *z);

#endif
