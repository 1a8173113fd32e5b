/*
 * test_cost.c - pricing attempts and episode budgets, in memory only.
 *
 * Each scenario builds a coordinator by hand (no database, no sockets)
 * with a rate card from rates_add, runs attempts on workers and starts and
 * ends them as the worker protocol would (a start time, a wall time), then
 * reads the episode's books.  Covered: an attempt with 2 GPUs of a model
 * with its own rate and 4 CPUs at the CPU rate adds its rate to the
 * episode's running sums when it starts; cost_running at a later time is
 * wall x rate / 3.6e9 (compared with money_cost); its end adds exactly
 * money_cost(wall, rate) to the episode's spending and leaves the running
 * sums; a lost attempt without an exit is charged until it was recorded,
 * one never started costs nothing; a rate set for the future does not
 * price an attempt started before it.  Budgets: a budget below what was
 * spent holds the episode's waiting, queued and running jobs (ready tasks
 * held, reason "budget: ..."), new submissions too; an attempt ending past
 * the budget holds the rest; raising the budget or removing it releases
 * them; cost_budget_json's fields.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cost.h"
#include "dispatch.h"
#include "log.h"
#include "memcoord.h"
#include "model.h"
#include "money.h"
#include "rates.h"
#include "workers.h"

#define HOUR_US 3600000000LL
#define GPU_RATE 2500000    /* "Test GPU", per hour */
#define DEFAULT_GPU 1000000 /* any other GPU */
#define CPU_RATE 100000     /* per CPU and hour */

static void add_rate(coord_t *c, rate_kind_t kind, const char *model, int64_t micros,
                     int64_t from_us) {
  char err[200];
  const rate_t *r = rates_add(c, kind, model, micros, from_us, "admin", err, sizeof err);
  if (!r)
    fprintf(stderr, "rates_add: %s\n", err);
  CHECK(r != NULL);
}

/* The rate card, in force from 30 s ago (a rate may start up to a minute
 * in the past). */
static int64_t rate_card(coord_t *c) {
  int64_t from = util_wall_us() - 30000000;
  add_rate(c, RATE_GPU_MODEL, "Test GPU", GPU_RATE, from);
  add_rate(c, RATE_DEFAULT_GPU, NULL, DEFAULT_GPU, from);
  add_rate(c, RATE_CPU, NULL, CPU_RATE, from);
  return from;
}

/* a starts running at started_us, as a Started message would say. */
static void start(coord_t *c, attempt_t *a, int64_t started_us) {
  a->started_us = started_us;
  CHECK_INT(attempt_set_state(c, a, ATTEMPT_RUNNING), 0);
  cost_attempt_started(c, a);
  task_set_state(c, a->task, TASK_RUNNING);
}

/* a ends with a result that says it ran wall_us. */
static void finish(coord_t *c, attempt_t *a, uint64_t wall_us) {
  a->has_exit = true;
  a->wall_us = wall_us;
  memcoord_end(c, a, ATTEMPT_SUCCEEDED);
}

static bool sums_empty(const episode_t *ep) {
  return ep->running == 0 && ep->sum_rate == 0 && ep->sum_start_rate == 0;
}

/* ------------------------------------------------------------ pricing */

static void test_attempt_cost(void) {
  coord_t *c = memcoord_new();
  int64_t from = rate_card(c);
  const uint64_t mb[] = {24000, 24000};
  worker_t *w = memcoord_worker(c, "w1", 8, 64000, 2, mb, NULL);
  job_t *j = memcoord_submit1(c, "gpu", "\"frames\":\"1-3\",\"requires\":{\"gpus\":2,\"cpus\":4}");
  episode_t *ep = j->ep;
  dispatch_run(c);
  attempt_t *a = j->tasks[0].live;
  CHECK(a && a->gpu_mask == 0x3 && a->cpus == 4);
  if (!a)
    exit(1);
  const int64_t rate = 2 * GPU_RATE + 4 * CPU_RATE;
  char *models = NULL;
  CHECK_INT(rates_attempt(c, a, util_wall_us(), &models), rate);
  CHECK_STR(models, "Test GPU");
  free(models);
  /* Before the card, nothing was priced. */
  CHECK_INT(rates_attempt(c, a, from - 1, NULL), 0);
  CHECK_INT(rates_gpu(c, "Other GPU", util_wall_us()), DEFAULT_GPU);

  /* Dispatched is not running: nothing counts yet. */
  cost_attempt_started(c, a);
  CHECK(sums_empty(ep));
  int64_t t0 = util_wall_us() - 10000000;
  start(c, a, t0);
  CHECK_INT(a->run_rate, rate);
  CHECK_INT(ep->running, 1);
  CHECK(ep->sum_rate == rate);
  CHECK(ep->sum_start_rate == (__int128)t0 * rate);
  cost_attempt_started(c, a); /* once only */
  CHECK_INT(ep->running, 1);
  CHECK(ep->sum_rate == rate);

  /* What it has cost so far, at later times. */
  CHECK_INT(cost_running(ep, t0), 0);
  CHECK_INT(cost_running(ep, t0 + 1000000), money_cost(1000000, rate));
  CHECK_INT(cost_running(ep, t0 + 1000000), 1500);
  CHECK_INT(cost_running(ep, t0 + 1800000000), money_cost(1800000000, rate));
  CHECK_INT(cost_running(ep, t0 + 1800000000), 2700000);
  CHECK_INT(cost_running(ep, t0 + HOUR_US), rate);
  /* Where the exact figure has a fraction, within one micro-unit. */
  int64_t diff = cost_running(ep, t0 + 1234567890) - money_cost(1234567890, rate);
  CHECK(diff >= -1 && diff <= 1);
  CHECK_INT(ep->spent_micros, 0);

  /* It ends: exactly its price is spent, and it runs no more. */
  finish(c, a, 1234567890);
  CHECK_INT(ep->spent_micros, money_cost(1234567890, rate));
  CHECK_INT(ep->spent_micros, 1851852);
  CHECK(sums_empty(ep));
  CHECK_INT(a->run_rate, 0);
  CHECK_INT(cost_running(ep, t0 + HOUR_US), 0);

  /* A lost attempt without an exit is charged until it was recorded. */
  dispatch_run(c);
  attempt_t *b = j->tasks[1].live;
  CHECK(b != NULL);
  if (!b)
    exit(1);
  start(c, b, util_wall_us() - 5000000);
  int64_t spent = ep->spent_micros;
  memcoord_end(c, b, ATTEMPT_LOST);
  CHECK(b->recorded_us - b->started_us >= 5000000);
  CHECK_INT(ep->spent_micros - spent, money_cost((uint64_t)(b->recorded_us - b->started_us), rate));
  CHECK(sums_empty(ep));
  /* One lost before it started costs nothing. */
  dispatch_run(c);
  attempt_t *never = w->live;
  CHECK(never != NULL && never != b && never->state == ATTEMPT_DISPATCHED);
  spent = ep->spent_micros;
  if (never)
    memcoord_end(c, never, ATTEMPT_LOST);
  CHECK_INT(ep->spent_micros, spent);
  CHECK(w->gpu_busy == 0);
  memcoord_free(c);
}

/* A rate takes effect from its time: attempts started before are priced
 * with the rate in force when they started. */
static void test_future_rate(void) {
  coord_t *c = memcoord_new();
  rate_card(c);
  int64_t later = util_wall_us() + HOUR_US;
  add_rate(c, RATE_CPU, NULL, 900000, later);
  CHECK_INT(rates_cpu(c, util_wall_us()), CPU_RATE);
  CHECK_INT(rates_cpu(c, later), 900000);
  const uint64_t mb[] = {24000, 24000};
  memcoord_worker(c, "w1", 8, 64000, 2, mb, NULL);
  job_t *j = memcoord_submit1(c, "gpu", "\"frames\":\"1-2\",\"requires\":{\"gpus\":2,\"cpus\":4}");
  episode_t *ep = j->ep;
  dispatch_run(c);
  attempt_t *a = j->tasks[0].live;
  if (!a)
    exit(1);
  start(c, a, util_wall_us());
  const int64_t before = 2 * GPU_RATE + 4 * CPU_RATE, after = 2 * GPU_RATE + 4 * 900000;
  CHECK_INT(a->run_rate, before);
  /* It ends after the new rate took effect: still the old rate. */
  finish(c, a, 2 * HOUR_US);
  CHECK_INT(ep->spent_micros, 2 * before);

  /* One that started once the new rate was in force pays it. */
  dispatch_run(c);
  attempt_t *b = j->tasks[1].live;
  if (!b)
    exit(1);
  start(c, b, later + 1000000);
  CHECK_INT(b->run_rate, after);
  finish(c, b, HOUR_US);
  CHECK_INT(ep->spent_micros, 2 * before + after);
  memcoord_free(c);
}

/* ------------------------------------------------------------ budgets */

/* A money string of cost_budget_json as micro-units (a sign allowed). */
static int64_t amount(const json_t *doc, const char *key) {
  const char *s = json_string_value(json_object_get(doc, key));
  CHECK(s != NULL);
  if (!s)
    return INT64_MIN;
  bool neg = *s == '-';
  int64_t v = 0;
  char err[100];
  CHECK_INT(money_parse(s + neg, &v, err, sizeof err), 0);
  return neg ? -v : v;
}

static bool has_prefix(const char *s, const char *p) { return s && !strncmp(s, p, strlen(p)); }

static void test_budget(void) {
  coord_t *c = memcoord_new();
  /* 1.000000 per CPU and hour, from 30 s ago */
  add_rate(c, RATE_CPU, NULL, 1000000, util_wall_us() - 30000000);
  worker_t *w = memcoord_worker(c, "w1", 1, 64000, 0, NULL, NULL);
  job_t *a = memcoord_submit1(c, "a", "\"frames\":\"1-3\"");
  episode_t *ep = a->ep;
  CHECK_INT(ep->budget_micros, -1);
  dispatch_run(c);
  attempt_t *first = a->tasks[0].live;
  if (!first)
    exit(1);
  start(c, first, util_wall_us());
  finish(c, first, HOUR_US);
  CHECK_INT(ep->spent_micros, 1000000);
  dispatch_run(c); /* a's second task: dispatched, not started */
  job_t *b = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"b\",\"command\":[\"true\"],\"frames\":\"1-2\"},"
                                "{\"name\":\"bb\",\"command\":[\"true\"],\"after\":[\"b\"]}]}");
  job_t *bb = idmap_get(&c->jobs, b->id + 1);
  job_t *other = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep2\",\"jobs\":["
                                    "{\"name\":\"o\",\"command\":[\"true\"]}]}");
  CHECK_INT(a->state, JOB_RUNNING);
  CHECK_INT(b->state, JOB_QUEUED);
  CHECK_INT(bb->state, JOB_WAITING);

  /* A budget below what was spent: the episode's work is held. */
  cost_set_budget(c, ep, "proj", "ep1", 500000, "alice");
  CHECK_INT(ep->budget_micros, 500000);
  CHECK(ep->over_budget);
  CHECK_INT(a->state, JOB_HELD);
  CHECK_INT(a->tasks[1].state, TASK_DISPATCHED); /* what runs finishes */
  CHECK_INT(a->tasks[2].state, TASK_HELD);
  CHECK_INT(b->state, JOB_HELD);
  CHECK(b->counts[TASK_HELD] == b->ntasks);
  CHECK_INT(bb->state, JOB_HELD);
  CHECK(has_prefix(a->reason, "budget:"));
  CHECK(has_prefix(b->reason, "budget:"));
  CHECK_CONTAINS(b->reason, "proj/ep1");
  CHECK_CONTAINS(b->reason, "USD");
  CHECK_INT(other->state, JOB_QUEUED); /* another episode */
  /* New work of the episode is held at once. */
  job_t *d = memcoord_submit1(c, "d", NULL);
  CHECK_INT(d->state, JOB_HELD);
  CHECK_INT(d->tasks[0].state, TASK_HELD);
  CHECK(has_prefix(d->reason, "budget:"));
  /* Nothing new starts: the CPU goes to the other episode. */
  memcoord_end(c, a->tasks[1].live, ATTEMPT_LOST);
  CHECK_INT(a->tasks[1].state, TASK_HELD);
  dispatch_run(c);
  CHECK_INT(other->counts[TASK_DISPATCHED], 1);
  CHECK_INT(w->nlive, 1);
  CHECK(w->live && w->live->task->job == other);
  memcoord_end(c, w->live, ATTEMPT_SUCCEEDED);

  json_t *doc = cost_budget_json(c, ep);
  CHECK_STR(json_string_value(json_object_get(doc, "episode")), "proj/ep1");
  CHECK_STR(json_string_value(json_object_get(doc, "currency")), "USD");
  CHECK_STR(json_string_value(json_object_get(doc, "budget")), "0.500000");
  CHECK_STR(json_string_value(json_object_get(doc, "spent")), "1.000000");
  CHECK_STR(json_string_value(json_object_get(doc, "running")), "0.000000");
  CHECK_STR(json_string_value(json_object_get(doc, "left")), "-0.500000");
  CHECK(json_is_true(json_object_get(doc, "held")));
  json_decref(doc);

  /* Exactly the spending is still over; a micro-unit more releases. */
  cost_set_budget(c, ep, "proj", "ep1", 1000000, "alice");
  CHECK(ep->over_budget);
  CHECK_INT(b->state, JOB_HELD);
  cost_set_budget(c, ep, "proj", "ep1", 1000001, "alice");
  CHECK(!ep->over_budget);
  CHECK_INT(a->state, JOB_RUNNING); /* it has a succeeded task */
  CHECK_INT(a->counts[TASK_READY], 2);
  CHECK_INT(b->state, JOB_QUEUED);
  CHECK(b->counts[TASK_READY] == b->ntasks);
  CHECK_INT(bb->state, JOB_WAITING);
  CHECK(bb->counts[TASK_WAITING] == bb->ntasks);
  CHECK_INT(d->state, JOB_QUEUED);
  CHECK_STR(b->reason, "");

  /* An attempt that ends past the budget holds the rest. */
  cost_set_budget(c, ep, "proj", "ep1", 1500000, "alice");
  CHECK(!ep->over_budget);
  dispatch_run(c);
  attempt_t *x = w->live;
  CHECK(x && x->task->job->ep == ep);
  if (!x)
    exit(1);
  job_t *xj = x->task->job;
  start(c, x, util_wall_us());
  finish(c, x, HOUR_US);
  CHECK_INT(ep->spent_micros, 2000000);
  CHECK(ep->over_budget);
  CHECK_INT(b->state, JOB_HELD);
  CHECK(xj->state == JOB_HELD || xj->state == JOB_SUCCEEDED);

  /* No budget: released; the JSON has no budget and nothing left. */
  cost_set_budget(c, ep, "proj", "ep1", -1, "alice");
  CHECK(!ep->over_budget);
  CHECK_INT(b->state, JOB_QUEUED);
  doc = cost_budget_json(c, ep);
  CHECK(json_is_null(json_object_get(doc, "budget")));
  CHECK(json_is_null(json_object_get(doc, "left")));
  CHECK_STR(json_string_value(json_object_get(doc, "spent")), "2.000000");
  CHECK(json_is_false(json_object_get(doc, "held")));
  json_decref(doc);

  /* With an attempt running for 20 s: running counts it, and left is
   * budget - spent - running. */
  cost_set_budget(c, ep, "proj", "ep1", 10000000, "alice");
  dispatch_run(c);
  attempt_t *r = w->live;
  if (!r)
    exit(1);
  start(c, r, util_wall_us() - 20000000);
  doc = cost_budget_json(c, ep);
  int64_t running = amount(doc, "running");
  CHECK(running >= 20000000LL * 1000000 / HOUR_US); /* 20 s at 1.0 an hour, or more */
  CHECK_INT(amount(doc, "left"), amount(doc, "budget") - amount(doc, "spent") - running);
  CHECK_INT(amount(doc, "budget"), 10000000);
  CHECK(json_is_false(json_object_get(doc, "held")));
  json_decref(doc);
  memcoord_free(c);
}

/* A job waiting on a dependency when the budget holds it: the dependency
 * succeeds meanwhile (what was running finishes), and the release lets it
 * run. */
static void test_budget_waiting(void) {
  coord_t *c = memcoord_new();
  worker_t *w = memcoord_worker(c, "w1", 4, 64000, 0, NULL, NULL);
  job_t *x = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"render\",\"command\":[\"true\"]},"
                                "{\"name\":\"encode\",\"command\":[\"true\"],"
                                "\"after\":[\"render\"]}]}");
  job_t *y = idmap_get(&c->jobs, x->id + 1);
  episode_t *ep = x->ep;
  dispatch_run(c);
  attempt_t *a = x->tasks[0].live;
  if (!a)
    exit(1);
  ep->spent_micros = 5000000; /* as recovery loads it */
  cost_set_budget(c, ep, "proj", "ep1", 1000000, "alice");
  CHECK_INT(x->state, JOB_HELD);
  CHECK_INT(y->state, JOB_HELD);
  memcoord_end(c, a, ATTEMPT_SUCCEEDED);
  CHECK_INT(x->state, JOB_SUCCEEDED);
  CHECK_INT(y->state, JOB_HELD);
  cost_set_budget(c, ep, "proj", "ep1", 100000000, "alice");
  CHECK_INT(y->state, JOB_QUEUED);
  CHECK(y->counts[TASK_READY] == y->ntasks);
  dispatch_run(c);
  CHECK_INT(y->counts[TASK_DISPATCHED], 1);
  CHECK_INT(w->nlive, 1);
  memcoord_free(c);
}

int main(void) {
  log_init("test_cost", LOG_LVL_ERROR);
  test_attempt_cost();
  test_future_rate();
  test_budget();
  test_budget_waiting();
  CHECK_INT(uv_loop_close(memcoord_loop()), 0);
  return check_report("test_cost");
}
