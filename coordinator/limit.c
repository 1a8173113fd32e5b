/*
 * limit.c - licence limits and pools of workers, see limit.h.
 */
#include "limit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"
#include "store.h"

/* An identifier, as util.h's ident_valid checks it. */
#define NAME_RULE IDENT_PATTERN

/* ------------------------------------------------------------ entries */

static limit_t *find_limit(const coord_t *c, const char *name) {
  for (size_t i = 0; i < c->nlimits; i++)
    if (!strcmp(c->limits[i]->name, name))
      return c->limits[i];
  return NULL;
}

static limit_t *get_limit(coord_t *c, const char *name) {
  limit_t *l = find_limit(c, name);
  if (!l) {
    l = xcalloc(1, sizeof *l);
    l->name = xstrdup(name);
    ARRAY_PUSH(c->limits, c->nlimits, c->caplimits, l);
  }
  return l;
}

static pool_t *find_pool(const coord_t *c, const char *name) {
  for (size_t i = 0; i < c->npools; i++)
    if (!strcmp(c->pools[i]->name, name))
      return c->pools[i];
  return NULL;
}

static pool_t *get_pool(coord_t *c, const char *name) {
  pool_t *p = find_pool(c, name);
  if (!p) {
    p = xcalloc(1, sizeof *p);
    p->name = xstrdup(name);
    ARRAY_PUSH(c->pools, c->npools, c->cappools, p);
  }
  return p;
}

static void free_strv(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static void pool_clear(pool_t *p) {
  free_strv(p->tags, p->ntags);
  free_strv(p->workers, p->nworkers);
  p->tags = p->workers = NULL;
  p->ntags = p->nworkers = 0;
  free(p->set_by);
  p->set_by = NULL;
  p->defined = false;
}

void limit_log_usage(const coord_t *c) {
  for (size_t i = 0; i < c->nlimits; i++) {
    const limit_t *l = c->limits[i];
    log_info("limit %s: %" PRIu32 "/%" PRIu32 " in use after recovery%s", l->name, l->in_use,
             l->count, l->defined ? "" : " (not defined)");
  }
}

void limit_free(coord_t *c) {
  for (size_t i = 0; i < c->nlimits; i++) {
    free(c->limits[i]->name);
    free(c->limits[i]->set_by);
    free(c->limits[i]);
  }
  free(c->limits);
  c->limits = NULL;
  c->nlimits = c->caplimits = 0;
  for (size_t i = 0; i < c->npools; i++) {
    pool_clear(c->pools[i]);
    free(c->pools[i]->name);
    free(c->pools[i]);
  }
  free(c->pools);
  c->pools = NULL;
  c->npools = c->cappools = 0;
}

limit_t *limit_define(coord_t *c, const char *name, uint32_t count) {
  limit_t *l = get_limit(c, name);
  l->defined = true;
  l->count = count;
  return l;
}

static char **strv_copy(char *const *v, size_t n) {
  char **out = xcalloc(n ? n : 1, sizeof *out);
  for (size_t i = 0; i < n; i++)
    out[i] = xstrdup(v[i]);
  return out;
}

pool_t *limit_define_pool(coord_t *c, const char *name, char *const *tags, size_t ntags,
                          char *const *workers, size_t nworkers) {
  pool_t *p = get_pool(c, name);
  char *who = p->set_by;
  p->set_by = NULL;
  pool_clear(p);
  p->set_by = who;
  p->tags = strv_copy(tags, ntags);
  p->ntags = ntags;
  p->workers = strv_copy(workers, nworkers);
  p->nworkers = nworkers;
  p->defined = true;
  return p;
}

static void set_by(char **who, int64_t *when, const char *actor, int64_t us) {
  free(*who);
  *who = xstrdup(actor);
  *when = us;
}

/* Splits a PostgreSQL text[] of identifiers as array_to_json writes it. */
static void json_strv(const char *text, char ***v, size_t *n) {
  json_t *a = json_loads(text, 0, NULL);
  size_t len = json_is_array(a) ? json_array_size(a) : 0;
  *v = xcalloc(len ? len : 1, sizeof **v);
  *n = 0;
  for (size_t i = 0; i < len; i++) {
    const char *s = json_string_value(json_array_get(a, i));
    if (s)
      (*v)[(*n)++] = xstrdup(s);
  }
  json_decref(a);
}

int limit_load(coord_t *c, PGconn *conn, char *err, size_t errlen) {
  PGresult *r = PQexec(conn, "SELECT name, count, set_by, "
                             "(extract(epoch FROM set_at) * 1000000)::bigint FROM limits");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    snprintf(err, errlen, "loading limits: %s", PQresultErrorMessage(r));
    PQclear(r);
    return -1;
  }
  for (int i = 0; i < PQntuples(r); i++) {
    limit_t *l = limit_define(c, PQgetvalue(r, i, 0),
                               (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10));
    set_by(&l->set_by, &l->set_us, PQgetvalue(r, i, 2), strtoll(PQgetvalue(r, i, 3), NULL, 10));
  }
  PQclear(r);
  r = PQexec(conn, "SELECT name, array_to_json(tags)::text, array_to_json(workers)::text, "
                   "set_by, (extract(epoch FROM set_at) * 1000000)::bigint FROM pools");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    snprintf(err, errlen, "loading pools: %s", PQresultErrorMessage(r));
    PQclear(r);
    return -1;
  }
  for (int i = 0; i < PQntuples(r); i++) {
    pool_t *p = get_pool(c, PQgetvalue(r, i, 0));
    json_strv(PQgetvalue(r, i, 1), &p->tags, &p->ntags);
    json_strv(PQgetvalue(r, i, 2), &p->workers, &p->nworkers);
    p->defined = true;
    set_by(&p->set_by, &p->set_us, PQgetvalue(r, i, 3), strtoll(PQgetvalue(r, i, 4), NULL, 10));
  }
  log_info("%zu limits, %d pools", c->nlimits, PQntuples(r));
  PQclear(r);
  return 0;
}

/* ------------------------------------------------------------ dispatch */

void limit_job_new(coord_t *c, job_t *j) {
  const jf_requires_t *req = &j->spec->req;
  if (req->nlimits) {
    j->limits = xcalloc(req->nlimits, sizeof *j->limits);
    for (size_t i = 0; i < req->nlimits; i++)
      j->limits[i] = get_limit(c, req->limits[i]);
    j->nlimits = req->nlimits;
  }
  j->pool = req->pool ? get_pool(c, req->pool) : NULL;
}

const limit_t *limit_full(const job_t *j) {
  for (size_t i = 0; i < j->nlimits; i++) {
    const limit_t *l = j->limits[i];
    if (!l->defined || l->in_use >= l->count)
      return l;
  }
  return NULL;
}

void limit_usage(const job_t *j, int sign) {
  for (size_t i = 0; i < j->nlimits; i++) {
    limit_t *l = j->limits[i];
    if (sign > 0)
      l->in_use++;
    else if (l->in_use > 0)
      l->in_use--;
  }
}

bool limit_in_pool(const pool_t *p, const worker_t *w) {
  if (!p)
    return true;
  if (!p->defined)
    return false;
  for (size_t i = 0; i < p->nworkers; i++)
    if (!strcmp(p->workers[i], w->name))
      return true;
  for (size_t i = 0; i < p->ntags; i++)
    for (size_t k = 0; k < w->ntags; k++)
      if (!strcmp(p->tags[i], w->tags[k]))
        return true;
  return false;
}

void limit_reason(const limit_t *l, char *buf, size_t len) {
  if (!l->defined)
    snprintf(buf, len, "waiting for licence %s (not defined: clapper limit set %s N)", l->name,
             l->name);
  else
    snprintf(buf, len, "waiting for licence %s (%" PRIu32 "/%" PRIu32 " in use)", l->name,
             l->in_use, l->count);
}

int limit_check_jobfile(coord_t *c, const jobfile_t *jf, char *err, size_t errlen) {
  for (size_t i = 0; i < jf->njobs; i++) {
    const jf_requires_t *req = &jf->jobs[i].req;
    for (size_t k = 0; k < req->nlimits; k++) {
      const limit_t *l = find_limit(c, req->limits[k]);
      if (!l || !l->defined)
        return util_fail_line(err, errlen,
                              "jobs[%zu].requires.limits[%zu]: no limit named '%s' (clapper "
                              "limits lists them; an operator adds one with clapper limit set "
                              "%s N)",
                              i, k, req->limits[k], req->limits[k]);
    }
    if (req->pool) {
      const pool_t *p = find_pool(c, req->pool);
      if (!p || !p->defined)
        return util_fail_line(err, errlen,
                              "jobs[%zu].requires.pool: no pool named '%s' (clapper pools lists "
                              "them; an operator defines one with clapper pool set %s tag:T)",
                              i, req->pool, req->pool);
    }
  }
  return 0;
}

json_t *limit_worker_pools(const coord_t *c, const worker_t *w) {
  json_t *a = json_array();
  for (size_t i = 0; i < c->npools; i++)
    if (c->pools[i]->defined && limit_in_pool(c->pools[i], w))
      json_array_append_new(a, json_string(c->pools[i]->name));
  return a;
}

/* ------------------------------------------------------------ reading */

static bool job_live(const job_t *j) { return j->state == JOB_QUEUED || j->state == JOB_RUNNING; }

/* Ready tasks of the unfinished jobs that require l (or target p). */
static json_int_t waiting(const coord_t *c, const limit_t *l, const pool_t *p) {
  json_int_t n = 0;
  uint64_t key;
  void *val;
  for (size_t pos = 0; idmap_next(&c->jobs, &pos, &key, &val);) {
    const job_t *j = val;
    if (!job_live(j))
      continue;
    bool needs = p && j->pool == p;
    for (size_t i = 0; i < j->nlimits && !needs; i++)
      needs = j->limits[i] == l;
    if (needs)
      n += j->counts[TASK_READY];
  }
  return n;
}

static json_t *time_or_null(int64_t us) {
  char t[40];
  if (!us)
    return json_null();
  util_iso8601(us, t, sizeof t);
  return json_string(t);
}

static json_t *limit_obj(const coord_t *c, const limit_t *l) {
  return json_pack("{s:s,s:I,s:I,s:I,s:s,s:o}", "name", l->name, "count", (json_int_t)l->count,
                   "in_use", (json_int_t)l->in_use, "waiting", waiting(c, l, NULL), "set_by",
                   l->set_by ? l->set_by : "", "set_at", time_or_null(l->set_us));
}

static json_t *strv_json(char *const *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

static json_t *pool_obj(const coord_t *c, const pool_t *p) {
  json_t *members = json_array();
  for (size_t i = 0; i < c->nworkers; i++)
    if (limit_in_pool(p, c->workers[i]))
      json_array_append_new(members, json_string(c->workers[i]->name));
  return json_pack("{s:s,s:o,s:o,s:o,s:I,s:s,s:o}", "name", p->name, "tags",
                   strv_json(p->tags, p->ntags), "workers", strv_json(p->workers, p->nworkers),
                   "members", members, "waiting", waiting(c, NULL, p), "set_by",
                   p->set_by ? p->set_by : "", "set_at", time_or_null(p->set_us));
}

static int by_limit_name(const void *a, const void *b) {
  return strcmp((*(limit_t *const *)a)->name, (*(limit_t *const *)b)->name);
}
static int by_pool_name(const void *a, const void *b) {
  return strcmp((*(pool_t *const *)a)->name, (*(pool_t *const *)b)->name);
}

void limit_list_verb(coord_t *c, creq_t *r, const verb_call_t *v) {
  (void)v;
  if (c->nlimits)
    qsort(c->limits, c->nlimits, sizeof *c->limits, by_limit_name);
  if (c->npools)
    qsort(c->pools, c->npools, sizeof *c->pools, by_pool_name);
  json_t *limits = json_array(), *pools = json_array();
  for (size_t i = 0; i < c->nlimits; i++)
    if (c->limits[i]->defined)
      json_array_append_new(limits, limit_obj(c, c->limits[i]));
  for (size_t i = 0; i < c->npools; i++)
    if (c->pools[i]->defined)
      json_array_append_new(pools, pool_obj(c, c->pools[i]));
  json_t *doc = json_pack("{s:i,s:o,s:o}", "version", 1, "limits", limits, "pools", pools);
  clients_reply_text(c, r, json_dumps(doc, JSON_COMPACT));
  json_decref(doc);
}

/* ------------------------------------------------------------ changing */

/* Checks a name given to a verb: 0, or -1 after a one-line refusal. */
static int check_name(coord_t *c, creq_t *r, const char *what, const char *name) {
  if (ident_valid(name))
    return 0;
  char err[200];
  snprintf(err, sizeof err, "%s name '%.64s' is not an identifier (" NAME_RULE ")", what, name);
  clients_reply_error(c, r, "bad_request", err);
  return -1;
}

/* The first job in memory (unfinished or failed) that requires l or targets
 * p, or NULL; *more gets how many others do. */
static const job_t *user_of(const coord_t *c, const limit_t *l, const pool_t *p, size_t *more) {
  const job_t *first = NULL;
  *more = 0;
  uint64_t key;
  void *val;
  for (size_t pos = 0; idmap_next(&c->jobs, &pos, &key, &val);) {
    const job_t *j = val;
    if (j->state == JOB_SUCCEEDED || j->state == JOB_CANCELED)
      continue;
    bool uses = p && j->pool == p;
    for (size_t i = 0; i < j->nlimits && !uses; i++)
      uses = j->limits[i] == l;
    if (!uses)
      continue;
    if (!first || j->id < first->id) {
      *more += first != NULL;
      first = j;
    } else {
      ++*more;
    }
  }
  return first;
}

/* Refuses to remove what a job still needs: true after the refusal. */
static bool still_used(coord_t *c, creq_t *r, const char *what, const char *name,
                       const limit_t *l, const pool_t *p, const char *instead) {
  size_t more;
  const job_t *j = user_of(c, l, p, &more);
  if (!j)
    return false;
  char err[300], others[48] = "";
  if (more)
    snprintf(others, sizeof others, " and %zu more", more);
  snprintf(err, sizeof err, "%s %s: job %" PRIu64 " (%s)%s still %s it; %s", what, name, j->id,
           job_state_name((job_state_t)j->state), others, l ? "requires" : "targets", instead);
  clients_reply_error(c, r, "invalid_state", err);
  return true;
}

static const char SQL_LIMIT_SET[] =
    "INSERT INTO limits (name, count, set_by, set_at) VALUES ($1, $2, $3, clapper_ts($4)) "
    "ON CONFLICT (name) DO UPDATE SET count = EXCLUDED.count, set_by = EXCLUDED.set_by, "
    "set_at = EXCLUDED.set_at";
static const char SQL_LIMIT_REMOVE[] = "DELETE FROM limits WHERE name = $1";
static const char SQL_POOL_SET[] =
    "INSERT INTO pools (name, tags, workers, set_by, set_at) "
    "SELECT $1, ARRAY(SELECT json_array_elements_text($2::json)), "
    "ARRAY(SELECT json_array_elements_text($3::json)), $4, clapper_ts($5) "
    "ON CONFLICT (name) DO UPDATE SET tags = EXCLUDED.tags, workers = EXCLUDED.workers, "
    "set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at";
static const char SQL_POOL_REMOVE[] = "DELETE FROM pools WHERE name = $1";

static void event(coord_t *c, const char *actor, const char *kind, const char *type,
                  const char *name, json_t *details) {
  char *dj = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS);
  store_event(c, actor, kind, type, name, dj);
  free(dj);
  json_decref(details);
}

void limit_set_verb(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  if (check_name(c, r, "limit", req->name) < 0)
    return;
  if (req->value < 0 || req->value > LIMITS_MAX_COUNT) {
    char err[120];
    snprintf(err, sizeof err, "count: %" PRId64 " is not in [0, %d]", req->value,
             LIMITS_MAX_COUNT);
    clients_reply_error(c, r, "bad_request", err);
    return;
  }
  limit_t *l = find_limit(c, req->name);
  json_t *before = l && l->defined ? json_integer(l->count) : json_null();
  l = limit_define(c, req->name, (uint32_t)req->value);
  int64_t now = util_wall_us();
  set_by(&l->set_by, &l->set_us, v->actor, now);
  char *p[4] = {xstrdup(l->name), xasprintf("%" PRIu32, l->count), xstrdup(v->actor),
                xasprintf("%" PRId64, now)};
  store_stmt(c, "SQL_LIMIT_SET", SQL_LIMIT_SET, 4, p);
  event(c, v->actor, "limit.set", "limit", l->name,
        json_pack("{s:I,s:o}", "count", (json_int_t)l->count, "previous", before));
  log_info("%s set limit %s to %" PRIu32 " (%" PRIu32 " in use)", v->actor, l->name, l->count,
           l->in_use);
  c->dispatch_needed = true; /* a raised count lets waiting tasks start */
  clients_reply_durable(c, r, json_pack("{s:i,s:o}", "version", 1, "limit", limit_obj(c, l)));
}

void limit_remove_verb(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  if (check_name(c, r, "limit", req->name) < 0)
    return;
  limit_t *l = find_limit(c, req->name);
  if (!l || !l->defined) {
    char err[120];
    snprintf(err, sizeof err, "no such limit: %s", req->name);
    clients_reply_error(c, r, "not_found", err);
    return;
  }
  if (still_used(c, r, "limit", l->name, l, NULL,
                 "set its count to 0 to start no more of its tasks"))
    return;
  json_t *before = json_integer(l->count);
  l->defined = false;
  l->count = 0;
  char *p[1] = {xstrdup(l->name)};
  store_stmt(c, "SQL_LIMIT_REMOVE", SQL_LIMIT_REMOVE, 1, p);
  event(c, v->actor, "limit.removed", "limit", l->name, json_pack("{s:o}", "previous", before));
  log_info("%s removed limit %s", v->actor, l->name);
  clients_reply_durable(c, r, json_pack("{s:i,s:s}", "version", 1, "removed", l->name));
}

/* Parses "tag:T" and "worker:W" members into tags and workers (JSON
 * arrays): 0, or -1 after a one-line refusal. */
static int parse_members(coord_t *c, creq_t *r, const Clapper__Request *req, json_t *tags,
                         json_t *workers) {
  char err[300];
  if (!req->n_members) {
    clients_reply_error(c, r, "bad_request",
                        "members: give at least one, tag:TAG or worker:NAME");
    return -1;
  }
  for (size_t i = 0; i < req->n_members; i++) {
    const char *m = req->members[i];
    json_t *into = NULL;
    const char *id = NULL;
    if (!strncmp(m, "tag:", 4))
      into = tags, id = m + 4;
    else if (!strncmp(m, "worker:", 7))
      into = workers, id = m + 7;
    if (!into || !ident_valid(id)) {
      snprintf(err, sizeof err,
               "member '%.64s': expected tag:TAG or worker:NAME, TAG and NAME identifiers "
               "(" NAME_RULE ")",
               m);
      clients_reply_error(c, r, "bad_request", err);
      return -1;
    }
    bool dup = false;
    size_t k;
    json_t *e;
    json_array_foreach(into, k, e) dup |= !strcmp(json_string_value(e), id);
    if (!dup)
      json_array_append_new(into, json_string(id));
  }
  return 0;
}

static char **strv_of(json_t *a) {
  char **v = xcalloc(json_array_size(a) + 1, sizeof *v);
  for (size_t i = 0; i < json_array_size(a); i++)
    v[i] = (char *)json_string_value(json_array_get(a, i));
  return v;
}

void limit_pool_set_verb(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  if (check_name(c, r, "pool", req->name) < 0)
    return;
  json_t *tags = json_array(), *workers = json_array();
  if (parse_members(c, r, req, tags, workers) < 0) {
    json_decref(tags);
    json_decref(workers);
    return;
  }
  char **tv = strv_of(tags), **wv = strv_of(workers);
  pool_t *p = limit_define_pool(c, req->name, tv, json_array_size(tags), wv,
                                json_array_size(workers));
  free(tv);
  free(wv);
  int64_t now = util_wall_us();
  set_by(&p->set_by, &p->set_us, v->actor, now);
  char *params[5] = {xstrdup(p->name), json_dumps(tags, JSON_COMPACT),
                     json_dumps(workers, JSON_COMPACT), xstrdup(v->actor),
                     xasprintf("%" PRId64, now)};
  store_stmt(c, "SQL_POOL_SET", SQL_POOL_SET, 5, params);
  event(c, v->actor, "pool.set", "pool", p->name,
        json_pack("{s:o,s:o}", "tags", tags, "workers", workers));
  log_info("%s set pool %s (%zu tags, %zu workers by name)", v->actor, p->name, p->ntags,
           p->nworkers);
  dispatch_farm_changed(c); /* who may run what changed: re-check waiting jobs */
  clients_reply_durable(c, r, json_pack("{s:i,s:o}", "version", 1, "pool", pool_obj(c, p)));
}

void limit_pool_remove_verb(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  if (check_name(c, r, "pool", req->name) < 0)
    return;
  pool_t *p = find_pool(c, req->name);
  if (!p || !p->defined) {
    char err[120];
    snprintf(err, sizeof err, "no such pool: %s", req->name);
    clients_reply_error(c, r, "not_found", err);
    return;
  }
  if (still_used(c, r, "pool", p->name, NULL, p, "cancel it or let it finish first"))
    return;
  pool_clear(p);
  char *params[1] = {xstrdup(p->name)};
  store_stmt(c, "SQL_POOL_REMOVE", SQL_POOL_REMOVE, 1, params);
  event(c, v->actor, "pool.removed", "pool", p->name, json_object());
  log_info("%s removed pool %s", v->actor, p->name);
  dispatch_farm_changed(c);
  clients_reply_durable(c, r, json_pack("{s:i,s:s}", "version", 1, "removed", p->name));
}
