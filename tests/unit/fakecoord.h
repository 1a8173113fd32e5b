/*
 * fakecoord.h - a fake coordinator for the client's unit tests.
 *
 * A ROUTER in a thread answers the clapper command's requests with canned
 * replies (or one canned error) and records what each request carried, so
 * that a test can run a verb against it and then check both the output and
 * the request.  fake_start_curve makes it a CURVE server, optionally with a
 * ZAP handler (zaptest.h).
 */
#ifndef CLAPPER_TEST_FAKECOORD_H
#define CLAPPER_TEST_FAKECOORD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clapper.pb-c.h"
#include "keys.h"
#include "zaptest.h"

#define FAKE_MAX 32

/* A {"jobs": [...]} reply: job 12 sh0420-gen (hod/s02e03, running, 2 of
 * 4 tasks succeeded) and job 3 x (p/e, failed). */
#define FAKE_JOBS_JSON                                                                             \
  "{\"jobs\": [{\"job_id\": 12, \"name\": \"sh0420-gen\", \"project\": \"hod\", "                  \
  "\"episode\": \"s02e03\", \"shot\": \"sh0420\", \"kind\": \"generate\", \"state\": "             \
  "\"running\", \"priority\": 60, \"ntasks\": 4, \"tasks\": {\"waiting\": 0, \"ready\": 1, "       \
  "\"dispatched\": 0, \"running\": 1, \"succeeded\": 2, \"failed\": 0, \"canceled\": 0, "          \
  "\"held\": 0, \"paused\": 0}}, {\"job_id\": 3, \"name\": \"x\", \"project\": \"p\", "            \
  "\"episode\": \"e\", \"shot\": null, \"kind\": \"process\", \"state\": \"failed\", "             \
  "\"priority\": 50, \"ntasks\": 1, \"tasks\": {\"failed\": 1}}]}"

/* A ROUTER in a thread that answers up to nreq requests: reply i carries
 * jsons[min(i, njsons-1)] (or an error when error_code is set); with
 * wrong_id_first every answer is preceded by one for another id.  The test
 * sets the fields above "what was received"; the fake fills the rest. */
typedef struct fake {
  void *ctx, *sock;
  char endpoint[256];
  pthread_t thr;
  zap_t *zap; /* set by fake_start_curve */
  int nreq;
  const char *const *jsons;
  int njsons;
  const char *error_code, *error_message;
  bool wrong_id_first;
  /* what was received */
  int served;
  Clapper__Verb verb[FAKE_MAX];
  size_t nids[FAKE_MAX];
  uint64_t id0[FAKE_MAX];
  bool all[FAKE_MAX];
  bool finished[FAKE_MAX], mine[FAKE_MAX];
  uint32_t limit[FAKE_MAX];
  size_t body_len[FAKE_MAX];
  uint64_t ids[FAKE_MAX][4];
  char name[FAKE_MAX][128];
  char note[FAKE_MAX][128];
  uint64_t offset[FAKE_MAX];
  int64_t value[FAKE_MAX];
  char amount[FAKE_MAX][64];
  char kind[FAKE_MAX][32];
  int64_t at_us[FAKE_MAX];
  char by[FAKE_MAX][32];
  char shot[FAKE_MAX][64];
  char state[FAKE_MAX][32];
  char public_key[FAKE_MAX][48];
  uint64_t after[FAKE_MAX];
  char after_name[FAKE_MAX][72];
  char idempotency_key[FAKE_MAX][136];
  uint32_t try_no[FAKE_MAX];
} fake_t;

/* Binds f's ROUTER to a free TCP port on 127.0.0.1 (its address in
 * f->endpoint) and starts answering.  Checks that the bind worked. */
void fake_start(fake_t *f);

/* fake_start with the ROUTER a CURVE server using server's secret key;
 * with zap (which must outlive the fake), that ZAP handler runs in the
 * fake's context (zap_start) and decides on every key. */
void fake_start_curve(fake_t *f, const keys_key_t *server, zap_t *zap);

/* Waits until the fake has answered its nreq requests (or waited 10 s for
 * one; zmq_ctx_shutdown(f->ctx) ends that wait at once), then closes it
 * and stops its ZAP handler.  What it received stays in f. */
void fake_stop(fake_t *f);

#endif
