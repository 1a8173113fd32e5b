/*
 * review.c - takes, review and approval gates, see review.h.
 */
#include "review.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "query.h"
#include "reads.h"
#include "store.h"
#include "verbs.h"

/* The jobs waiting for an approved take of one gate job. */
typedef struct waiters {
  job_t **jobs;
  size_t n, cap;
} waiters_t;

/* What the coordinator remembers of reviews between database reads. */
struct review {
  idmap_t waiters;  /* gate root -> waiters_t*: jobs waiting for its approval */
  idmap_t decided;  /* take ids decided since start -> state name (decisions are final) */
  idmap_t seeds;    /* gate root -> last seed given to a retake since start */
  idmap_t approved; /* gate root -> first output (owned) of its first approval since start */
};

void review_new(coord_t *c) { c->review = xcalloc(1, sizeof(review_t)); }

/* ------------------------------------------------------------ takes */

static const char SQL_TAKE_GENERATE[] =
    "INSERT INTO takes (job_id, task_id, attempt_id, kind, seed, take, outputs, provenance) "
    "SELECT j.id, $2, a.id, 'generate', $3, $4, a.outputs, "
    "j.provenance || jsonb_build_object('seed', $3::bigint, 'attempt', a.try_no, 'attempt_id', "
    "a.id, 'job', j.name, 'kind', j.kind, 'worker', a.worker) "
    "FROM attempts a JOIN jobs j ON j.id = $1::bigint WHERE a.id = $5::bigint";

static const char SQL_TAKE_RENDER[] =
    "INSERT INTO takes (job_id, kind, outputs, provenance) "
    "SELECT j.id, 'render', coalesce((SELECT jsonb_agg(x.o ORDER BY t.seq, x.n) FROM tasks t "
    "  JOIN attempts a ON a.task_id = t.id AND a.state = 'succeeded', "
    "  jsonb_array_elements(a.outputs) WITH ORDINALITY AS x(o, n) WHERE t.job_id = j.id), "
    "'[]'), j.provenance || jsonb_build_object('job', j.name, 'kind', j.kind) "
    "FROM jobs j WHERE j.id = $1::bigint";

/* Logs take.ready for the take of j (of its task t, or of the whole render
 * job when t is NULL) recorded in this batch: the take's id is the
 * database's, so the event names the job, its task and the take's number
 * (notifications, notify.h, announce it). */
static void take_ready_event(coord_t *c, job_t *j, const task_t *t) {
  json_t *d = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s?}", "job", (json_int_t)j->id, "job_name",
                        j->spec->name, "kind", job_kind_name(j->spec->kind), "project",
                        j->project, "episode", j->episode, "shot", j->spec->shot);
  if (t) {
    json_object_set_new(d, "task", json_integer((json_int_t)t->id));
    json_object_set_new(d, "seed", json_integer((json_int_t)t->spec.seed));
    if (t->spec.take)
      json_object_set_new(d, "take", json_integer((json_int_t)t->spec.take));
  }
  char sid[24];
  snprintf(sid, sizeof sid, "%" PRIu64, j->id);
  char *dj = json_dumps(d, JSON_COMPACT);
  store_event(c, "coordinator", "take.ready", "job", sid, dj);
  free(dj);
  json_decref(d);
}

void review_task_succeeded(coord_t *c, task_t *t, attempt_t *a) {
  char *p[5] = {xasprintf("%" PRIu64, t->job->id), xasprintf("%" PRIu64, t->id),
                xasprintf("%" PRId64, t->spec.seed),
                t->spec.take ? xasprintf("%" PRId64, t->spec.take) : NULL,
                xasprintf("%" PRIu64, a->id)};
  store_stmt(c, "SQL_TAKE_GENERATE", SQL_TAKE_GENERATE, 5, p);
  take_ready_event(c, t->job, t);
}

void review_job_succeeded(coord_t *c, job_t *j) {
  char *p[1] = {xasprintf("%" PRIu64, j->id)};
  store_stmt(c, "SQL_TAKE_RENDER", SQL_TAKE_RENDER, 1, p);
  take_ready_event(c, j, NULL);
}

/* ------------------------------------------------------------ gates */

void review_wait_for(coord_t *c, job_t *j, uint64_t root) {
  waiters_t *w = idmap_get(&c->review->waiters, root);
  if (!w) {
    w = xcalloc(1, sizeof *w);
    idmap_put(&c->review->waiters, root, w);
  }
  for (size_t i = 0; i < w->n; i++)
    if (w->jobs[i] == j)
      return;
  ARRAY_PUSH(w->jobs, w->n, w->cap, j);
}

void review_forget_job(coord_t *c, job_t *j) {
  for (size_t k = 0; k < j->ngates; k++) {
    uint64_t root = j->gates[k].root;
    waiters_t *w = j->gates[k].pending ? idmap_get(&c->review->waiters, root) : NULL;
    for (size_t i = 0; w && i < w->n; i++)
      if (w->jobs[i] == j) {
        w->jobs[i] = w->jobs[--w->n];
        break;
      }
    if (w && !w->n) {
      idmap_del(&c->review->waiters, root);
      free(w->jobs);
      free(w);
    }
  }
}

const char *review_approved_output(coord_t *c, uint64_t root) {
  return idmap_get(&c->review->approved, root);
}

void review_approved(coord_t *c, uint64_t root, const char *output) {
  /* Jobs submitted before this decision is durable must see it too. */
  if (!idmap_get(&c->review->approved, root))
    idmap_put(&c->review->approved, root, xstrdup(output ? output : ""));
  waiters_t *w = idmap_del(&c->review->waiters, root);
  if (!w)
    return;
  for (size_t i = 0; i < w->n; i++) {
    job_t *j = w->jobs[i];
    for (size_t k = 0; k < j->ngates; k++) {
      if (!j->gates[k].pending || j->gates[k].root != root)
        continue;
      j->gates[k].pending = false;
      if (k == 0 && !j->approved_output) {
        j->approved_output = xstrdup(output ? output : "");
        store_job(c, j);
      }
      if (j->gates_pending)
        j->gates_pending--;
    }
    job_gates_settled(c, j);
  }
  free(w->jobs);
  free(w);
}

/* Says on the jobs waiting for root why they still wait. */
static void gate_stuck(coord_t *c, uint64_t root, const char *why) {
  waiters_t *w = idmap_get(&c->review->waiters, root);
  for (size_t i = 0; w && i < w->n; i++) {
    job_t *j = w->jobs[i];
    if (strcmp(j->reason, why) != 0) {
      free(j->reason);
      j->reason = xstrdup(why);
      store_job(c, j);
    }
  }
}

void review_free(coord_t *c) {
  review_t *rv = c->review;
  if (!rv)
    return;
  c->review = NULL;
  uint64_t key;
  void *val;
  for (size_t pos = 0; idmap_next(&rv->waiters, &pos, &key, &val);) {
    waiters_t *w = val;
    free(w->jobs);
    free(w);
  }
  idmap_free(&rv->waiters);
  for (size_t pos = 0; idmap_next(&rv->approved, &pos, &key, &val);)
    free(val);
  idmap_free(&rv->approved);
  idmap_free(&rv->decided);
  idmap_free(&rv->seeds);
  free(rv);
}

/* ------------------------------------------------------------ decisions */

/* The take, its state, its gate root, its first output, and how many
 * other takes of its root (retakes included) are not rejected, and are
 * pending or approved. */
static const char SQL_TAKE_FOR_DECISION[] =
    "SELECT " TAKE_OBJ "::text, t.state, coalesce(j.gate_root, j.id), t.outputs->0->>'path', "
    "(SELECT count(*) FROM takes t2 JOIN jobs j2 ON j2.id = t2.job_id "
    " WHERE coalesce(j2.gate_root, j2.id) = coalesce(j.gate_root, j.id) "
    " AND t2.state <> 'rejected' AND t2.id <> t.id), "
    "(SELECT count(*) FROM takes t2 JOIN jobs j2 ON j2.id = t2.job_id "
    " WHERE coalesce(j2.gate_root, j2.id) = coalesce(j.gate_root, j.id) "
    " AND t2.state IN ('pending_review', 'approved') AND t2.id <> t.id)" TAKE_FROM
    " WHERE t.id = $1::bigint";

static const char SQL_DECIDE[] =
    "UPDATE takes SET state = $2, decided_by = $3, decided_at = clapper_ts($4), note = $5 "
    "WHERE id = $1::bigint AND state = 'pending_review'";

/* The take state each decision leads to (review_decision_t order). */
static const char *const decision_state[] = {[REVIEW_APPROVE] = "approved",
                                             [REVIEW_REJECT] = "rejected",
                                             [REVIEW_REQUEST_CHANGES] = "changes_requested"};

/* A request about one take, while its row is read. */
typedef struct take_ask {
  coord_t *c;
  creq_t *r;
  char *actor, *note;
  const char *state; /* a decision: decision_state[] */
  uint64_t take;
} take_ask_t;

static void take_ask_free(take_ask_t *d) {
  store_change_end(d->c);
  free(d->actor);
  free(d->note);
  free(d);
}

/* Reads the row of take v->req->ids[0] with sql (prepared as name, $1 the
 * take id) and hands it to cb with a take_ask_t; replies at once when the
 * request does not name one take. */
static void ask_take(coord_t *c, creq_t *r, const verb_call_t *v, const char *name,
                     const char *sql, pgconn_cb cb, const char *state) {
  uint64_t take = v->req->n_ids == 1 ? v->req->ids[0] : 0;
  if (!take || take > INT64_MAX) {
    clients_reply_error(c, r, "bad_request", "expected one take id");
    return;
  }
  take_ask_t *d = xcalloc(1, sizeof *d);
  d->c = c;
  d->r = r;
  d->actor = xstrdup(v->actor);
  d->state = state;
  d->note = xstrdup(v->req->note);
  d->take = take;
  char *p[1] = {xasprintf("%" PRIu64, take)};
  pgq_t *q = pgq_new();
  pgq_add_prepared(q, name, sql, 1, p);
  reads_submit(c, r, q, cb, d);
}

/* The take's row, or NULL after replying (the query failed, or there is
 * no such take). */
static PGresult *take_row(take_ask_t *d, PGresult *const *res, size_t n, const char *error) {
  store_change_resume(d->c, d->r->change); /* ended with the ask (take_ask_free) */
  if (clients_reply_failed(d->c, d->r, res, n, error))
    return NULL;
  if (PQntuples(res[0]) == 0) {
    char msg[64];
    snprintf(msg, sizeof msg, "no such take: %" PRIu64, d->take);
    clients_reply_error(d->c, d->r, "not_found", msg);
    return NULL;
  }
  return res[0];
}

static void on_take(void *arg, PGresult *const *res, size_t n, const char *error) {
  take_ask_t *d = arg;
  coord_t *c = d->c;
  char msg[200];
  if (!take_row(d, res, n, error))
    goto out;
  const char *state = PQgetvalue(res[0], 0, 1);
  const char *decided = idmap_get(&c->review->decided, d->take);
  if (strcmp(state, "pending_review") != 0 || decided) {
    snprintf(msg, sizeof msg, "take %" PRIu64 " was already %s: decisions are final", d->take,
             decided ? decided : state);
    clients_reply_error(c, d->r, "invalid_state", msg);
    goto out;
  }
  idmap_put(&c->review->decided, d->take, (void *)d->state);
  uint64_t root = strtoull(PQgetvalue(res[0], 0, 2), NULL, 10);
  int64_t now = util_wall_us();
  char *p[5] = {xasprintf("%" PRIu64, d->take), xstrdup(d->state), xstrdup(d->actor),
                xasprintf("%" PRId64, now), xstrdup(d->note)};
  store_stmt(c, "SQL_DECIDE", SQL_DECIDE, 5, p);
  json_t *take = json_loads(PQgetvalue(res[0], 0, 0), 0, NULL);
  char at[40];
  util_iso8601(now, at, sizeof at);
  json_object_set_new(take, "state", json_string(d->state));
  json_object_set_new(take, "decided_by", json_string(d->actor));
  json_object_set_new(take, "decided_at", json_string(at));
  json_object_set_new(take, "note", json_string(d->note));
  char sid[24];
  snprintf(sid, sizeof sid, "%" PRIu64, d->take);
  json_t *ev = json_pack("{s:s,s:O,s:O,s:s}", "state", d->state, "job_id",
                         json_object_get(take, "job_id"), "job", json_object_get(take, "job"),
                         "note", d->note);
  char *evj = json_dumps(ev, JSON_COMPACT);
  char kind[48];
  snprintf(kind, sizeof kind, "take.%s", d->state);
  store_event(c, d->actor, kind, "take", sid, evj);
  free(evj);
  json_decref(ev);
  log_info("take %" PRIu64 " %s by %s", d->take, d->state, d->actor);
  if (!strcmp(d->state, "approved")) {
    review_approved(c, root, PQgetisnull(res[0], 0, 3) ? "" : PQgetvalue(res[0], 0, 3));
  } else if (!strcmp(PQgetvalue(res[0], 0, 5), "0")) {
    /* Nothing of root is approved or still in review: say what it waits for. */
    if (!strcmp(d->state, "rejected") && !strcmp(PQgetvalue(res[0], 0, 4), "0"))
      snprintf(msg, sizeof msg,
               "every take of job %" PRIu64 " so far was rejected: waiting for a retake", root);
    else
      snprintf(msg, sizeof msg,
               "no take of job %" PRIu64 " is approved or in review (rejected or changes "
               "requested): waiting for a retake", root);
    gate_stuck(c, root, msg);
  }
  clients_reply_durable(c, d->r, json_pack("{s:o}", "take", take));
out:
  take_ask_free(d);
}

void review_decide(coord_t *c, creq_t *r, const verb_call_t *v) {
  if (strlen(v->req->note) > 4096) {
    clients_reply_error(c, r, "bad_request", "note: at most 4096 characters");
    return;
  }
  ask_take(c, r, v, "SQL_TAKE_FOR_DECISION", SQL_TAKE_FOR_DECISION, on_take,
           decision_state[v->spec->arg]);
}

/* ------------------------------------------------------------ retakes */

static const char SQL_TAKE_FOR_RETAKE[] =
    "SELECT t.kind, coalesce(j.gate_root, j.id), p.name, e.name, j.spec::text, "
    TAKE_OBJ "::text, "
    "(SELECT max(tt.seed) FROM tasks tt JOIN jobs jj ON jj.id = tt.job_id "
    " WHERE coalesce(jj.gate_root, jj.id) = coalesce(j.gate_root, j.id)), "
    "(SELECT count(*) FROM jobs jj WHERE jj.gate_root = coalesce(j.gate_root, j.id)), "
    "(SELECT name FROM jobs WHERE id = coalesce(j.gate_root, j.id))" TAKE_FROM
    " JOIN episodes e ON e.id = j.episode_id JOIN projects p ON p.id = e.project_id "
    "WHERE t.id = $1::bigint";

static void on_retake(void *arg, PGresult *const *res, size_t n, const char *error) {
  take_ask_t *rt = arg;
  coord_t *c = rt->c;
  char msg[600];
  PGresult *r0 = take_row(rt, res, n, error);
  if (!r0)
    goto out;
  if (strcmp(PQgetvalue(r0, 0, 0), "generate") != 0) {
    snprintf(msg, sizeof msg, "take %" PRIu64 " was rendered: only generated takes have seeds "
             "to retake", rt->take);
    clients_reply_error(c, rt->r, "invalid_state", msg);
    goto out;
  }
  uint64_t root = strtoull(PQgetvalue(r0, 0, 1), NULL, 10);
  int64_t seed = strtoll(PQgetvalue(r0, 0, 6), NULL, 10) + 1;
  int64_t given = (int64_t)(intptr_t)idmap_get(&c->review->seeds, root);
  if (given >= seed)
    seed = given + 1;
  idmap_put(&c->review->seeds, root, (void *)(intptr_t)seed);
  long nth = strtol(PQgetvalue(r0, 0, 7), NULL, 10) + 1;
  /* The same job, one take, the next seed; it runs now (no gates). */
  json_t *spec = json_loads(PQgetvalue(r0, 0, 4), 0, NULL);
  char *name = xasprintf("%.56s-r%ld", PQgetvalue(r0, 0, 8), nth);
  json_object_set_new(spec, "name", json_string(name));
  json_object_set_new(spec, "takes", json_integer(1));
  json_object_set_new(spec, "seed", json_integer(seed));
  json_object_del(spec, "after");
  json_object_del(spec, "after_approval");
  json_object_del(spec, "frames");
  json_object_del(spec, "chunk");
  json_t *file = json_pack("{s:s,s:s,s:[o]}", "project", PQgetvalue(r0, 0, 2), "episode",
                           PQgetvalue(r0, 0, 3), "jobs", spec);
  char *text = json_dumps(file, JSON_COMPACT);
  json_decref(file);
  char err[512];
  jobfile_t *jf = jobfile_parse(text, strlen(text), err, sizeof err);
  free(text);
  if (!jf) {
    snprintf(msg, sizeof msg, "the job of take %" PRIu64 " cannot be retaken: %s", rt->take,
             err);
    clients_reply_error(c, rt->r, "invalid_state", msg);
    free(name);
    goto out;
  }
  uint64_t first;
  job_create_all(c, jf, rt->actor, NULL, 0, &first);
  job_t *j = idmap_get(&c->jobs, first);
  j->retake_of = rt->take;
  j->gate_root = root;
  char sid[24];
  snprintf(sid, sizeof sid, "%" PRIu64, rt->take);
  json_t *ev = json_pack("{s:I,s:s,s:I}", "job_id", (json_int_t)first, "name", name, "seed",
                         (json_int_t)seed);
  char *evj = json_dumps(ev, JSON_COMPACT);
  store_event(c, rt->actor, "take.retake", "take", sid, evj);
  free(evj);
  json_decref(ev);
  log_info("%s: retake of take %" PRIu64 " queued as job %" PRIu64 " %s (seed %" PRId64 ")",
           rt->actor, rt->take, first, name, seed);
  json_t *take = json_loads(PQgetvalue(r0, 0, 5), 0, NULL);
  clients_reply_durable(c, rt->r, json_pack("{s:[{s:I,s:s,s:I,s:I}],s:o}", "jobs", "job_id",
                                (json_int_t)first, "name", name, "tasks", (json_int_t)1, "seed",
                                (json_int_t)seed, "take", take));
  free(name);
out:
  take_ask_free(rt);
}

void review_retake(coord_t *c, creq_t *r, const verb_call_t *v) {
  ask_take(c, r, v, "SQL_TAKE_FOR_RETAKE", SQL_TAKE_FOR_RETAKE, on_retake, NULL);
}

/* ------------------------------------------------------------ listing */

/* $1 limit, $2 after, $3 episode "p/e", $4 shot, $5 state, $6 job (each
 * NULL: any).  A page (query.h). */
static const char SQL_TAKES[] =
    "WITH page AS (SELECT t.id, " TAKE_OBJ " AS o" TAKE_FROM
    " JOIN episodes e ON e.id = j.episode_id JOIN projects p ON p.id = e.project_id "
    "WHERE t.id > $2::bigint AND ($3::text IS NULL OR p.name || '/' || e.name = $3) "
    "AND ($4::text IS NULL OR s.name = $4) AND ($5::text IS NULL OR t.state = $5) "
    "AND ($6::bigint IS NULL OR t.job_id = $6::bigint) ORDER BY t.id LIMIT $1::int + 1), "
    PAGE_KEPT("$1") PAGE_DOC("takes");

void review_list(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  static const char *const states[] = {"pending_review", "approved", "changes_requested",
                                       "rejected"};
  bool state_ok = !*req->state;
  for (size_t i = 0; i < ARRAY_SIZE(states); i++)
    state_ok |= !strcmp(req->state, states[i]);
  if (!state_ok || (*req->shot && !ident_valid(req->shot)) || req->n_ids > 1 ||
      strlen(req->name) > 2 * IDENT_MAX + 1) {
    clients_reply_error(c, r, "bad_request",
                        !state_ok ? "state: expected pending_review, approved, "
                                    "changes_requested or rejected"
                                  : "expected --episode P/E, --shot S and one --job ID at most");
    return;
  }
  char *p[6] = {xasprintf("%u", query_page_limit(req, QUERY_TAKES_DEFAULT)),
                xasprintf("%" PRIu64, req->after > INT64_MAX ? INT64_MAX : req->after),
                *req->name ? xstrdup(req->name) : NULL, *req->shot ? xstrdup(req->shot) : NULL,
                *req->state ? xstrdup(req->state) : NULL,
                req->n_ids ? xasprintf("%" PRIu64, req->ids[0] > INT64_MAX ? 0 : req->ids[0])
                           : NULL};
  query_document(c, r, "SQL_TAKES", SQL_TAKES, 6, p, NULL);
}
