/*
 * rates.c - the rate card, see rates.h.
 */
#include "rates.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "money.h"
#include "store.h"

/* A rate may start this much before "now" (clock skew between the client
 * and the coordinator); further back would reprice work already done. */
#define RATE_PAST_SLACK_US (60LL * 1000000)

static const char *const kind_names[RATE_KIND_COUNT] = {"gpu_model", "default_gpu", "cpu"};

const char *rates_kind_name(rate_kind_t k) {
  return (unsigned)k < RATE_KIND_COUNT ? kind_names[k] : "?";
}

int rates_kind_parse(const char *name) {
  for (int i = 0; i < RATE_KIND_COUNT; i++)
    if (!strcmp(name, kind_names[i]))
      return i;
  return -1;
}

static bool same_key(const rate_t *r, rate_kind_t kind, const char *model) {
  return r->kind == kind && (kind != RATE_GPU_MODEL || !strcmp(r->gpu_model, model));
}

/* The rate in force for (kind, model) at t, or NULL. */
static const rate_t *in_force(const coord_t *c, rate_kind_t kind, const char *model, int64_t t) {
  const rate_t *best = NULL;
  for (size_t i = 0; i < c->nrates; i++) {
    const rate_t *r = &c->rates[i];
    if (same_key(r, kind, model) && r->from_us <= t && (!best || r->from_us >= best->from_us))
      best = r;
  }
  return best;
}

int64_t rates_gpu(const coord_t *c, const char *model, int64_t t) {
  const rate_t *r = in_force(c, RATE_GPU_MODEL, model ? model : "", t);
  if (!r)
    r = in_force(c, RATE_DEFAULT_GPU, NULL, t);
  return r ? r->micros_per_hour : 0;
}

int64_t rates_cpu(const coord_t *c, int64_t t) {
  const rate_t *r = in_force(c, RATE_CPU, NULL, t);
  return r ? r->micros_per_hour : 0;
}

int64_t rates_attempt(const coord_t *c, const attempt_t *a, int64_t t, char **models) {
  __int128 total = (__int128)rates_cpu(c, t) * a->cpus;
  sbuf_t m = {0};
  const worker_t *w = a->worker;
  for (uint32_t i = 0; i < w->ngpus && i < 64; i++) {
    if (!(a->gpu_mask & (1ull << i)))
      continue;
    total += rates_gpu(c, w->gpus[i].model, t);
    /* Each model once, in the order of the GPUs. */
    if (!m.buf || !strstr(m.buf, w->gpus[i].model)) {
      if (m.len)
        sbuf_putc(&m, ',');
      sbuf_puts(&m, w->gpus[i].model);
    }
  }
  if (models)
    *models = sbuf_steal(&m);
  else
    sbuf_free(&m);
  return total > INT64_MAX ? INT64_MAX : (int64_t)total;
}

static void add(coord_t *c, rate_kind_t kind, const char *model, int64_t micros, int64_t from,
                const char *set_by) {
  ARRAY_RESERVE(c->rates, c->nrates, c->caprates, 1);
  rate_t *r = &c->rates[c->nrates++];
  r->kind = (uint8_t)kind;
  r->gpu_model = kind == RATE_GPU_MODEL ? xstrdup(model) : NULL;
  r->micros_per_hour = micros;
  r->from_us = from;
  r->set_by = xstrdup(set_by);
}

int rates_load(coord_t *c, PGconn *conn, char *err, size_t errlen) {
  PGresult *r = pgconn_query_sync(conn,
                                  "SELECT kind, gpu_model, micros_per_hour, "
                                  "(extract(epoch FROM valid_from) * 1000000)::bigint, set_by "
                                  "FROM rates ORDER BY id",
                                  "loading the rate card", err, errlen);
  if (!r)
    return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    int kind = rates_kind_parse(PQgetvalue(r, i, 0));
    if (kind < 0)
      continue;
    add(c, (rate_kind_t)kind, PQgetvalue(r, i, 1), strtoll(PQgetvalue(r, i, 2), NULL, 10),
        strtoll(PQgetvalue(r, i, 3), NULL, 10), PQgetvalue(r, i, 4));
  }
  PQclear(r);
  return 0;
}

static const char SQL_RATE_INSERT[] =
    "INSERT INTO rates (kind, gpu_model, micros_per_hour, valid_from, set_by) "
    "VALUES ($1, $2, $3, clapper_ts($4), $5)";

const rate_t *rates_add(coord_t *c, rate_kind_t kind, const char *gpu_model,
                        int64_t micros_per_hour, int64_t from_us, const char *actor, char *err,
                        size_t errlen) {
  int64_t now = util_wall_us();
  if (kind == RATE_GPU_MODEL && (!gpu_model || !*gpu_model || strlen(gpu_model) > 256)) {
    snprintf(err, errlen, "gpu model: expected the model as NVML names it (1 to 256 characters)");
    return NULL;
  }
  if (micros_per_hour < 0 || micros_per_hour > MONEY_MAX) {
    snprintf(err, errlen, "amount: out of range");
    return NULL;
  }
  if (!from_us)
    from_us = now;
  if (from_us < now - RATE_PAST_SLACK_US) {
    snprintf(err, errlen,
             "from: a rate cannot start in the past (it would reprice work already done)");
    return NULL;
  }
  add(c, kind, gpu_model, micros_per_hour, from_us, actor);
  const rate_t *r = &c->rates[c->nrates - 1];
  char *p[5] = {xstrdup(rates_kind_name(kind)), kind == RATE_GPU_MODEL ? xstrdup(gpu_model) : NULL,
                xasprintf("%" PRId64, micros_per_hour), xasprintf("%" PRId64, from_us),
                xstrdup(actor)};
  store_stmt(c, "SQL_RATE_INSERT", SQL_RATE_INSERT, 5, p);
  json_t *d = rates_json_one(c, r);
  char *dj = json_dumps(d, JSON_COMPACT);
  store_event(c, actor, "rate.set", "rate", rates_kind_name(kind), dj);
  free(dj);
  json_decref(d);
  log_info("%s set the %s rate%s%s to %" PRId64 " micro-units per hour", actor,
           rates_kind_name(kind), kind == RATE_GPU_MODEL ? " of " : "",
           kind == RATE_GPU_MODEL ? gpu_model : "", micros_per_hour);
  return r;
}

json_t *rates_json_one(const coord_t *c, const rate_t *r) {
  char amount[32], from[40];
  money_format(r->micros_per_hour, amount, sizeof amount);
  util_iso8601(r->from_us, from, sizeof from);
  const rate_t *now = in_force(c, (rate_kind_t)r->kind, r->gpu_model, util_wall_us());
  return json_pack("{s:s,s:s?,s:s,s:s,s:s,s:b}", "kind", rates_kind_name((rate_kind_t)r->kind),
                   "gpu_model", r->gpu_model, "per_hour", amount, "valid_from", from, "set_by",
                   r->set_by, "in_force", now == r);
}

static int by_key(const void *a, const void *b) {
  const rate_t *x = *(const rate_t *const *)a, *y = *(const rate_t *const *)b;
  if (x->kind != y->kind)
    return x->kind - y->kind;
  int m = strcmp(x->gpu_model ? x->gpu_model : "", y->gpu_model ? y->gpu_model : "");
  if (m)
    return m;
  return x->from_us < y->from_us ? -1 : x->from_us > y->from_us;
}

char *rates_json(const coord_t *c) {
  const rate_t **sorted = xcalloc(c->nrates ? c->nrates : 1, sizeof *sorted);
  for (size_t i = 0; i < c->nrates; i++)
    sorted[i] = &c->rates[i];
  qsort(sorted, c->nrates, sizeof *sorted, by_key);
  json_t *arr = json_array();
  for (size_t i = 0; i < c->nrates; i++)
    json_array_append_new(arr, rates_json_one(c, sorted[i]));
  free(sorted);
  json_t *doc = json_pack("{s:s,s:o}", "currency", c->cfg.currency, "rates", arr);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return text;
}

void rates_free(coord_t *c) {
  for (size_t i = 0; i < c->nrates; i++) {
    free(c->rates[i].gpu_model);
    free(c->rates[i].set_by);
  }
  free(c->rates);
  c->rates = NULL;
  c->nrates = 0;
}
