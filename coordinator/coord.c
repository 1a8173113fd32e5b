/*
 * coord.c - setting up and releasing the coordinator's memory, shared by
 * the daemon and the tests that drive its modules.
 */
#include <stdlib.h>

#include "dispatch.h"
#include "idem.h"
#include "model.h"
#include "rates.h"
#include "limit.h"
#include "metrics.h"
#include "review.h"
#include "sse.h"
#include "store.h"
#include "workers.h"

void coord_init(coord_t *c, uv_loop_t *loop) {
  c->loop = loop;
  c->ready_mono = util_mono_us(); /* main.c sets it again when it leads */
  c->next_job_id = c->next_task_id = c->next_attempt_id = 1;
  c->farm_version = 1; /* jobs start at 0: never checked */
  /* The store first: the others register with it. */
  c->store = store_new(c);
  c->dispatch = dispatch_new(c);
  review_new(c);
  workers_init(c);
  metrics_new(c);
  uv_timer_init(loop, &c->delay_timer);
  c->delay_timer.data = c;
  uv_timer_init(loop, &c->budget_timer);
  c->budget_timer.data = c;
  uv_timer_init(loop, &c->bulk_timer);
  c->bulk_timer.data = c;
}

void coord_close_timers(coord_t *c) {
  sse_close(c);
  if (!uv_is_closing((uv_handle_t *)&c->delay_timer))
    uv_close((uv_handle_t *)&c->delay_timer, NULL);
  if (!uv_is_closing((uv_handle_t *)&c->budget_timer))
    uv_close((uv_handle_t *)&c->budget_timer, NULL);
  if (!uv_is_closing((uv_handle_t *)&c->bulk_timer))
    uv_close((uv_handle_t *)&c->bulk_timer, NULL);
}

void coord_release(coord_t *c) {
  uint64_t key;
  void *val;
  for (size_t pos = 0; idmap_next(&c->attempts, &pos, &key, &val);)
    attempt_free(val);
  idmap_free(&c->attempts);
  /* Before the jobs: the heaps write into the jobs and tasks they hold. */
  dispatch_free(c);
  for (size_t pos = 0; idmap_next(&c->jobs, &pos, &key, &val);)
    job_free(val);
  idmap_free(&c->jobs);
  workers_free_all(c);
  rates_free(c);
  limit_free(c);
  review_free(c);
  idem_free_all(c);
  metrics_free(c);
  store_free(&c->store);
}
