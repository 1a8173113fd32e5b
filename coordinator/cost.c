/*
 * cost.c - pricing attempts, the ledger and budgets, see cost.h.
 */
#include "cost.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "money.h"
#include "rates.h"
#include "store.h"

#define BUDGET_CHECK_MS 1000

void cost_attempt_started(coord_t *c, attempt_t *a) {
  episode_t *ep = a->task->job->ep;
  if (!ep || a->run_rate || !a->started_us)
    return;
  a->run_rate = rates_attempt(c, a, a->started_us, NULL);
  ep->sum_rate += a->run_rate;
  ep->sum_start_rate += (__int128)a->started_us * a->run_rate;
  ep->running++;
}

int64_t cost_running(const episode_t *ep, int64_t now) {
  if (!ep->running)
    return 0;
  __int128 v = ((__int128)now * ep->sum_rate - ep->sum_start_rate) / ((__int128)3600 * 1000000);
  return v < 0 ? 0 : v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

void cost_attempt_ended(coord_t *c, attempt_t *a) {
  job_t *j = a->task->job;
  episode_t *ep = j->ep;
  if (ep && a->run_rate) {
    ep->sum_rate -= a->run_rate;
    ep->sum_start_rate -= (__int128)a->started_us * a->run_rate;
    ep->running--;
    a->run_rate = 0;
  }
  int64_t start = a->started_us;
  uint64_t wall = 0;
  if (a->has_exit)
    wall = a->wall_us;
  else if (start && a->recorded_us > start)
    wall = (uint64_t)(a->recorded_us - start); /* lost: until it was declared lost */
  char *models = NULL;
  int64_t at = start ? start : a->dispatched_us;
  int64_t rate = rates_attempt(c, a, at, &models);
  int64_t cpu_rate = rates_cpu(c, at) * (int64_t)a->cpus;
  int64_t amount = money_cost(wall, rate);
  store_ledger(c, a, wall, models, rate - cpu_rate, cpu_rate, amount);
  free(models);
  if (ep) {
    ep->spent_micros = amount > INT64_MAX - ep->spent_micros ? INT64_MAX
                                                             : ep->spent_micros + amount;
    cost_check(c, ep);
  }
}

void cost_check(coord_t *c, episode_t *ep) {
  bool over = false;
  int64_t total = 0;
  if (ep->budget_micros >= 0) {
    int64_t run = cost_running(ep, util_wall_us());
    total = run > INT64_MAX - ep->spent_micros ? INT64_MAX : ep->spent_micros + run;
    over = total >= ep->budget_micros;
  }
  if (over == ep->over_budget)
    return;
  ep->over_budget = over;
  char spent[32], budget[32];
  money_format(total, spent, sizeof spent);
  money_format(ep->budget_micros, budget, sizeof budget);
  char *reason = xasprintf("budget: episode %s has used %s of its %s %s", ep->key, spent,
                           budget, c->cfg.currency);
  log_info("%s: %s", over ? "holding" : "releasing", reason);
  json_t *d = json_pack("{s:s,s:s,s:b}", "spent", spent, "budget", budget, "held", over);
  char *dj = json_dumps(d, JSON_COMPACT);
  store_event(c, "coordinator", over ? "episode.held" : "episode.released", "episode", ep->key,
              dj);
  free(dj);
  json_decref(d);
  uint64_t key;
  void *val;
  /* Collect first: holding and releasing change job states, not the map. */
  for (size_t pos = 0; idmap_next(&c->jobs, &pos, &key, &val);) {
    job_t *j = val;
    if (j->ep != ep)
      continue;
    if (over)
      job_hold(c, j, reason);
    else
      job_release(c, j);
  }
  free(reason);
}

static const char SQL_BUDGET[] =
    "WITH p AS (INSERT INTO projects (name) VALUES ($1) "
    "           ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id) "
    "INSERT INTO episodes (project_id, name, budget_micros) SELECT p.id, $2, $3 FROM p "
    "ON CONFLICT (project_id, name) DO UPDATE SET budget_micros = EXCLUDED.budget_micros";

void cost_set_budget(coord_t *c, episode_t *ep, const char *project, const char *episode,
                     int64_t micros, const char *actor) {
  int64_t old = ep->budget_micros;
  ep->budget_micros = micros;
  char *p[3] = {xstrdup(project), xstrdup(episode),
                micros >= 0 ? xasprintf("%" PRId64, micros) : NULL};
  store_stmt(c, "SQL_BUDGET", SQL_BUDGET, 3, p);
  char was[32] = "", now[32] = "";
  if (old >= 0)
    money_format(old, was, sizeof was);
  if (micros >= 0)
    money_format(micros, now, sizeof now);
  json_t *d = json_pack("{s:s?,s:s?,s:s}", "from", old >= 0 ? was : NULL, "to",
                        micros >= 0 ? now : NULL, "currency", c->cfg.currency);
  char *dj = json_dumps(d, JSON_COMPACT);
  store_event(c, actor, "episode.budget", "episode", ep->key, dj);
  free(dj);
  json_decref(d);
  cost_check(c, ep);
}

json_t *cost_budget_json(const coord_t *c, const episode_t *ep) {
  char budget[32], spent[32], running[32], left[32];
  int64_t run = cost_running(ep, util_wall_us());
  money_format(ep->budget_micros, budget, sizeof budget);
  money_format(ep->spent_micros, spent, sizeof spent);
  money_format(run, running, sizeof running);
  money_format(ep->budget_micros - ep->spent_micros - run, left, sizeof left);
  bool has = ep->budget_micros >= 0;
  return json_pack("{s:s,s:s,s:s?,s:s,s:s,s:s?,s:b}", "episode", ep->key, "currency",
                   c->cfg.currency, "budget", has ? budget : NULL, "spent", spent, "running",
                   running, "left", has ? left : NULL, "held", ep->over_budget);
}

static void on_budget_timer(uv_timer_t *h) {
  coord_t *c = h->data;
  for (size_t i = 0; i < c->nepisodes; i++) {
    episode_t *ep = c->episodes[i];
    if (ep->budget_micros >= 0 && ep->running)
      cost_check(c, ep);
  }
}

void cost_start(coord_t *c) {
  uv_timer_start(&c->budget_timer, on_budget_timer, BUDGET_CHECK_MS, BUDGET_CHECK_MS);
}
