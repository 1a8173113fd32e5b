/*
 * clients.c - client requests, see clients.h.
 */
#include "clients.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "auth.h"
#include "cost.h"
#include "dispatch.h"
#include "idem.h"
#include "input.h"
#include "jsondoc.h"
#include "limit.h"
#include "log.h"
#include "money.h"
#include "query.h"
#include "rates.h"
#include "reads.h"
#include "review.h"
#include "store.h"
#include "verbs.h"
#include "workers.h"

#define MAX_IDS 10000 /* job ids in one request */

static void send_reply(coord_t *c, creq_t *r, bool ok, const char *code, const char *message,
                       const char *json) {
  if (r->answer) {
    r->answer(c, r->answer_arg, ok, code, message, json);
    reads_release(c, r);
    free(r);
    return;
  }
  Clapper__Reply rep = CLAPPER__REPLY__INIT;
  rep.id = r->id;
  rep.ok = ok;
  rep.error_code = (char *)(code ? code : "");
  rep.error_message = (char *)(message ? message : "");
  rep.json = (char *)(json ? json : "");
  envelope_t env = CODEC_ENVELOPE(REPLY, reply, &rep);
  if (codec_send(c->csock, r->ident, r->identlen, &env) < 0)
    log_debug("reply to request %" PRIu64 " not sent: %s", r->id, zmq_strerror(errno));
  reads_release(c, r);
  free(r);
}

void clients_reply_ok(coord_t *c, creq_t *r, const char *json) {
  char *doc = jsondoc_versioned(json ? json : "{}");
  size_t len = strlen(doc);
  if (len > CLIENTS_MAX_REPLY) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "the answer is %zu bytes, more than the %d MiB a reply may hold; ask "
             "for less (--limit, filters)",
             len, CLIENTS_MAX_REPLY >> 20);
    log_warn("reply to request %" PRIu64 " refused: %s", r->id, msg);
    send_reply(c, r, false, "too_large", msg, NULL);
  } else {
    send_reply(c, r, true, NULL, NULL, doc);
  }
  free(doc);
}

void clients_reply_error(coord_t *c, creq_t *r, const char *code, const char *message) {
  send_reply(c, r, false, code, message, NULL);
}

void clients_reply_text(coord_t *c, creq_t *r, char *json) {
  clients_reply_ok(c, r, json);
  free(json);
}

bool clients_reply_failed(coord_t *c, creq_t *r, PGresult *const *res, size_t n,
                          const char *error) {
  if (!error && n >= 1 && res[0] && PQresultStatus(res[0]) == PGRES_TUPLES_OK)
    return false;
  if (reads_canceled(error)) {
    clients_reply_error(c, r, "timeout", error);
    return true;
  }
  log_error("query failed: %s", error ? error : "no result");
  clients_reply_error(c, r, "internal", "the database query failed; see the coordinator log");
  return true;
}

typedef struct pending_reply {
  creq_t *r;
  char *json;
} pending_reply_t;

static void reply_after_commit(coord_t *c, void *arg) {
  pending_reply_t *p = arg;
  const char *why = store_refused(c);
  if (why) {
    char msg[512];
    snprintf(msg, sizeof msg, "the database refused (part of) this change: %.400s", why);
    clients_reply_error(c, p->r, "internal", msg);
  } else {
    clients_reply_ok(c, p->r, p->json);
  }
  free(p->json);
  free(p);
}

void clients_reply_durable(coord_t *c, creq_t *r, json_t *doc) {
  pending_reply_t *p = xmalloc(sizeof *p);
  p->r = r;
  p->json = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  store_on_commit(c, reply_after_commit, p);
}

bool clients_split_episode(coord_t *c, creq_t *r, const char *name, char **project,
                           const char **episode) {
  const char *slash = strchr(name, '/');
  *project = slash ? xstrndup(name, (size_t)(slash - name)) : NULL;
  *episode = slash ? slash + 1 : NULL;
  if (*project && ident_valid(*project) && ident_valid(*episode))
    return true;
  char err[200];
  snprintf(err, sizeof err, "episode: '%.80s' is not PROJECT/EPISODE (two identifiers)", name);
  clients_reply_error(c, r, "bad_request", err);
  free(*project);
  *project = NULL;
  return false;
}

/* ------------------------------------------------------------ submit */

typedef struct submission {
  coord_t *c;
  creq_t *r;
  jobfile_t *jf;
  char *actor;
  idem_rec_t *idem; /* with an idempotency key: its record (r is its first waiter) */
} submission_t;

static void submit_checked(submission_t *s);
static void on_idem_lookup(void *arg, PGresult *const *res, size_t n, const char *error);

/* Refuses s: to its request, or with a key to every request waiting on
 * the key. */
static void submit_refuse(submission_t *s, const char *code, const char *message) {
  if (s->idem)
    idem_finish(s->c, s->idem, NULL, code, message);
  else
    clients_reply_error(s->c, s->r, code, message);
}

/* Answers a keyed submission once its rows committed: the same reply to
 * every request that waited on the key. */
typedef struct idem_reply {
  idem_rec_t *rec;
  char *json;
} idem_reply_t;

static void idem_after_commit(coord_t *c, void *arg) {
  idem_reply_t *p = arg;
  const char *why = store_refused(c);
  if (why) {
    char msg[512];
    snprintf(msg, sizeof msg, "the database refused (part of) this change: %.400s", why);
    idem_finish(c, p->rec, NULL, "internal", msg);
  } else {
    idem_finish(c, p->rec, p->json, NULL, NULL);
  }
  free(p->json);
  free(p);
}

/* clients_reply_failed for a submission's read: true when it failed
 * (everyone waiting was answered). */
static bool submit_failed(submission_t *s, PGresult *const *res, size_t n, const char *error) {
  if (!s->idem)
    return clients_reply_failed(s->c, s->r, res, n, error);
  if (!error && n >= 1 && res[0] && PQresultStatus(res[0]) == PGRES_TUPLES_OK)
    return false;
  if (reads_canceled(error)) {
    submit_refuse(s, "timeout", error);
    return true;
  }
  log_error("query failed: %s", error ? error : "no result");
  submit_refuse(s, "internal", "the database query failed; see the coordinator log");
  return true;
}

/* A frame-wise `after` by id names a job with frames that covers every
 * frame of the dependent job (the file's own were checked by the parser):
 * 0, or -1 with the refusal in err. */
static int check_frames_by_id(coord_t *c, const jobfile_t *jf, const dep_state_t *ext,
                              size_t next, char *err, size_t errlen) {
  for (size_t i = 0; i < jf->njobs; i++) {
    const jf_job_t *sp = &jf->jobs[i];
    for (size_t k = 0; k < sp->ndeps; k++) {
      const jf_dep_t *d = &sp->deps[k];
      if (!d->by_id || !d->frames)
        continue;
      const job_t *on = idmap_get(&c->jobs, d->job_id);
      bool frames = on && on->spec->has_frames;
      for (size_t e = 0; !on && e < next; e++)
        frames |= ext[e].id == d->job_id && ext[e].has_frames;
      if (!frames) {
        snprintf(err, errlen, "jobs[%zu].after[%zu].frames: job %" PRIu64 " has no frames", i,
                 d->pos, d->job_id);
        return -1;
      }
      if (!on || on->state == JOB_SUCCEEDED)
        continue; /* finished: nothing to wait for */
      jf_task_t *ts = xcalloc(on->ntasks ? on->ntasks : 1, sizeof *ts);
      for (uint32_t m = 0; m < on->ntasks; m++)
        ts[m] = on->tasks[m].spec;
      int64_t f = 0;
      bool ok = true;
      for (size_t m = 0; ok && m < sp->ntasks; m++)
        ok = jf_frames_covered(ts, on->ntasks, &sp->tasks[m], &f);
      free(ts);
      if (!ok) {
        snprintf(err, errlen,
                 "jobs[%zu].after[%zu].frames: frame %lld of this job is not a frame of job "
                 "%" PRIu64,
                 i, d->pos, (long long)f, d->job_id);
        return -1;
      }
    }
  }
  return 0;
}

static void finish_submit(submission_t *s, const dep_state_t *ext, size_t next) {
  coord_t *c = s->c;
  jobfile_t *jf = s->jf;
  char ferr[300];
  if (check_frames_by_id(c, jf, ext, next, ferr, sizeof ferr) < 0) {
    submit_refuse(s, "invalid_job", ferr);
    jobfile_free(&s->jf);
    free(s->actor);
    free(s);
    return;
  }
  json_t *jobs = json_array();
  for (size_t i = 0; i < jf->njobs; i++)
    json_array_append_new(jobs, json_pack("{s:I,s:s,s:I}", "job_id",
                                          (json_int_t)(c->next_job_id + i), "name",
                                          jf->jobs[i].name, "tasks",
                                          (json_int_t)jf->jobs[i].ntasks));
  uint64_t first;
  store_change_resume(c, s->r->change);
  size_t n = job_create_keyed(c, jf, s->actor, ext, next, s->idem ? s->idem->key : NULL,
                              s->idem ? s->idem->digest : NULL, &first);
  log_info("%s submitted %zu jobs (%" PRIu64 "..%" PRIu64 ")%s%s", s->actor, n, first,
           first + n - 1, s->idem ? " with the idempotency key " : "", s->idem ? s->idem->key : "");
  json_t *doc = json_pack("{s:o}", "jobs", jobs);
  if (s->idem) {
    /* The key went in with the job rows (job_create_keyed), committed
     * with them whichever writer writes them; the reply waits for that. */
    idem_reply_t *p = xmalloc(sizeof *p);
    p->rec = s->idem;
    p->json = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    store_on_commit(c, idem_after_commit, p);
  } else {
    clients_reply_durable(c, s->r, doc);
  }
  store_change_end(c);
  free(s->actor);
  free(s);
}

/* The database's answer about the jobs named by id. */
static void on_dep_states(void *arg, PGresult *const *res, size_t n, const char *error) {
  submission_t *s = arg;
  coord_t *c = s->c;
  if (submit_failed(s, res, n, error))
    goto drop;
  size_t next = (size_t)PQntuples(res[0]);
  dep_state_t *ext = xcalloc(next ? next : 1, sizeof *ext);
  for (size_t i = 0; i < next; i++) {
    ext[i].id = strtoull(PQgetvalue(res[0], (int)i, 0), NULL, 10);
    int st = job_state_parse(PQgetvalue(res[0], (int)i, 1));
    ext[i].state = st < 0 ? JOB_CANCELED : (job_state_t)st;
    ext[i].gate_root = strtoull(PQgetvalue(res[0], (int)i, 2), NULL, 10);
    ext[i].approved_output =
        PQgetisnull(res[0], (int)i, 3) ? NULL : PQgetvalue(res[0], (int)i, 3);
    ext[i].has_frames = PQgetvalue(res[0], (int)i, 4)[0] == 't';
  }
  /* Every id must exist (in memory, or in the database), and a job this
   * one runs after must be in memory unless it finished. */
  for (size_t i = 0; i < s->jf->njobs; i++) {
    const jf_job_t *sp = &s->jf->jobs[i];
    for (size_t k = 0; k < sp->ndeps; k++) {
      const jf_dep_t *d = &sp->deps[k];
      if (!d->by_id || idmap_get(&c->jobs, d->job_id))
        continue;
      const dep_state_t *found = NULL;
      for (size_t e = 0; e < next && !found; e++)
        if (ext[e].id == d->job_id)
          found = &ext[e];
      char err[300];
      if (!found)
        snprintf(err, sizeof err, "jobs[%zu].%s[%zu]: no job %" PRIu64, i,
                 jf_dep_field(d->kind), d->pos, d->job_id);
      else if (d->kind == JF_DEP_AFTER && !job_state_terminal(found->state))
        snprintf(err, sizeof err,
                 "jobs[%zu].after[%zu]: job %" PRIu64 " is %s in the database but not running "
                 "here (it just finished, or it could not be recovered: see the coordinator "
                 "log); submit again",
                 i, d->pos, d->job_id, job_state_name(found->state));
      else
        continue;
      submit_refuse(s, "invalid_job", err);
      free(ext);
      goto drop;
    }
  }
  finish_submit(s, ext, next);
  free(ext);
  return;
drop:
  jobfile_free(&s->jf);
  free(s->actor);
  free(s);
}

void clients_submit(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  char err[512];
  if (req->body.len > JOBFILE_MAX_BYTES) {
    snprintf(err, sizeof err, "job file: %zu bytes, more than the limit of %zu", req->body.len,
             JOBFILE_MAX_BYTES);
    clients_reply_error(c, r, "invalid_job", err);
    return;
  }
  jobfile_t *jf = jobfile_parse((const char *)req->body.data, req->body.len, err, sizeof err);
  if (!jf) {
    clients_reply_error(c, r, "invalid_job", err);
    return;
  }
  if (limit_check_jobfile(c, jf, err, sizeof err) < 0) {
    clients_reply_error(c, r, "invalid_job", err);
    jobfile_free(&jf);
    return;
  }
  submission_t *s = xcalloc(1, sizeof *s);
  s->c = c;
  s->r = r;
  s->jf = jf;
  s->actor = xstrdup(v->actor);
  const char *key = req->idempotency_key;
  if (!key || !*key) {
    submit_checked(s);
    return;
  }
  /* With a key: a request already waiting on it, or the database, may
   * know the answer (idem.h). */
  char digest[IDEM_DIGEST_HEX + 1];
  idem_digest(req->body.data, req->body.len, digest);
  idem_rec_t *rec = idem_find(c, v->actor, key);
  if (rec) {
    if (strcmp(rec->digest, digest) != 0) {
      idem_conflict(err, sizeof err, v->actor, key, NULL);
      clients_reply_error(c, r, "conflict", err);
    } else {
      idem_wait(rec, r);
    }
    jobfile_free(&s->jf);
    free(s->actor);
    free(s);
    return;
  }
  s->idem = idem_add(c, v->actor, key, digest, r);
  char *p[2] = {xstrdup(v->actor), xstrdup(key)};
  pgq_t *q = pgq_new();
  pgq_add(q,
          "SELECT id, name, ntasks, submission_digest FROM jobs "
          "WHERE submitted_by = $1 AND idempotency_key = $2 ORDER BY submission_seq",
          2, p);
  reads_submit(c, r, q, on_idem_lookup, s);
}

/* The database's answer about a submission's key: the jobs it created
 * before, or none (then the submission goes on). */
static void on_idem_lookup(void *arg, PGresult *const *res, size_t n, const char *error) {
  submission_t *s = arg;
  if (submit_failed(s, res, n, error))
    goto drop;
  int rows = PQntuples(res[0]);
  if (rows == 0) {
    submit_checked(s);
    return;
  }
  sbuf_t ids = {0};
  json_t *jobs = json_array();
  for (int i = 0; i < rows; i++) {
    const char *id = PQgetvalue(res[0], i, 0);
    sbuf_printf(&ids, "%s%s", i ? "," : "", id);
    json_array_append_new(jobs,
                          json_pack("{s:I,s:s,s:I}", "job_id", (json_int_t)strtoll(id, NULL, 10),
                                    "name", PQgetvalue(res[0], i, 1), "tasks",
                                    (json_int_t)strtoll(PQgetvalue(res[0], i, 2), NULL, 10)));
  }
  if (strcmp(PQgetvalue(res[0], 0, 3), s->idem->digest) != 0) {
    char err[512];
    idem_conflict(err, sizeof err, s->actor, s->idem->key, ids.buf);
    idem_finish(s->c, s->idem, NULL, "conflict", err);
  } else {
    log_info("%s submitted again with the idempotency key %s: jobs %s already exist", s->actor,
             s->idem->key, ids.buf);
    json_t *doc = json_pack("{s:o}", "jobs", jobs);
    jobs = NULL;
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    idem_finish(s->c, s->idem, text, NULL, NULL);
    free(text);
  }
  json_decref(jobs);
  sbuf_free(&ids);
drop:
  jobfile_free(&s->jf);
  free(s->actor);
  free(s);
}

/* The rest of a submission once its key (if any) is new: the jobs it
 * names by id, then the jobs. */
static void submit_checked(submission_t *s) {
  coord_t *c = s->c;
  jobfile_t *jf = s->jf;
  /* Jobs by id: finished ones are only in the database, and whether a
   * gate job has an approved take is only there too. */
  bool ask = false;
  for (size_t i = 0; i < jf->njobs; i++)
    for (size_t k = 0; k < jf->jobs[i].ndeps; k++) {
      const jf_dep_t *d = &jf->jobs[i].deps[k];
      ask |= d->by_id && (d->kind == JF_DEP_APPROVAL || !idmap_get(&c->jobs, d->job_id));
    }
  /* When asking, ask about every job by id: one in memory now may have
   * left it by the time the answer comes. */
  sbuf_t ids = {0};
  for (size_t i = 0; ask && i < jf->njobs; i++)
    for (size_t k = 0; k < jf->jobs[i].ndeps; k++)
      if (jf->jobs[i].deps[k].by_id)
        sbuf_printf(&ids, "%s%" PRIu64, ids.len ? "," : "", jf->jobs[i].deps[k].job_id);
  if (!ids.len) {
    sbuf_free(&ids);
    finish_submit(s, NULL, 0);
    return;
  }
  char *p[1] = {xasprintf("{%s}", ids.buf)};
  sbuf_free(&ids);
  pgq_t *q = pgq_new();
  pgq_add(q,
          "SELECT j.id, j.state, coalesce(j.gate_root, j.id), "
          "(SELECT t.outputs->0->>'path' FROM takes t JOIN jobs j2 ON j2.id = t.job_id "
          " WHERE coalesce(j2.gate_root, j2.id) = coalesce(j.gate_root, j.id) "
          " AND t.state = 'approved' ORDER BY t.decided_at, t.id LIMIT 1), "
          "j.spec ? 'frames' "
          "FROM jobs j WHERE j.id = ANY ($1::bigint[])",
          1, p);
  reads_submit(c, s->r, q, on_dep_states, s);
}

/* ------------------------------------------------------------ operator actions */

typedef struct control {
  coord_t *c;
  creq_t *r;
  job_action_t act;
  uint64_t *ids;
  size_t n;
} control_t;

/* Some ids are not in memory: finished, or not jobs at all. */
static void on_missing(void *arg, PGresult *const *res, size_t n, const char *error) {
  control_t *k = arg;
  char err[200];
  if (clients_reply_failed(k->c, k->r, res, n, error)) {
    /* replied */
  } else if (PQntuples(res[0]) > 0 && !PQgetisnull(res[0], 0, 1)) {
    snprintf(err, sizeof err, "job %s is %s: it has finished", PQgetvalue(res[0], 0, 0),
             PQgetvalue(res[0], 0, 1));
    clients_reply_error(k->c, k->r, "invalid_state", err);
  } else {
    snprintf(err, sizeof err, "no such job: %s", n >= 1 && PQntuples(res[0]) > 0 ? PQgetvalue(res[0], 0, 0) : "?");
    clients_reply_error(k->c, k->r, "not_found", err);
  }
  free(k->ids);
  free(k);
}

/* One job of an operator action's reply; cascade: changed because of a
 * job the request named. */
static json_t *control_entry(const job_t *j, uint32_t retried, bool cascade) {
  json_t *counts = json_object();
  for (int s = 0; s < TASK_STATE_COUNT; s++)
    json_object_set_new(counts, task_state_name((task_state_t)s), json_integer(j->counts[s]));
  return json_pack("{s:I,s:s,s:s,s:o,s:I,s:s,s:b}", "job_id", (json_int_t)j->id, "name",
                   j->spec->name, "state", job_state_name((job_state_t)j->state), "tasks",
                   counts, "retried", (json_int_t)retried, "reason", j->reason, "cascade",
                   cascade);
}

void clients_control(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  job_action_t act = (job_action_t)v->spec->arg;
  char err[256];
  bool own_only = (v->spec->own & ROLE_BIT(v->role)) != 0;
  if (!req->n_ids || req->n_ids > MAX_IDS) {
    clients_reply_error(c, r, "bad_request", "expected 1 to 10000 job ids");
    return;
  }
  /* All or nothing: check every job before changing any. */
  for (size_t i = 0; i < req->n_ids; i++) {
    job_t *j = idmap_get(&c->jobs, req->ids[i]);
    if (!j) {
      control_t *k = xcalloc(1, sizeof *k);
      k->c = c;
      k->r = r;
      char *p[1] = {xasprintf("%" PRIu64, req->ids[i] > INT64_MAX ? 0 : req->ids[i])};
      pgq_t *q = pgq_new();
      pgq_add(q,
              "SELECT $1::bigint, (SELECT state FROM jobs WHERE id = $1::bigint)", 1, p);
      reads_submit(c, r, q, on_missing, k);
      return;
    }
    if (own_only && strcmp(j->submitted_by, v->actor) != 0) {
      snprintf(err, sizeof err, "job %" PRIu64 " is %s's: submitters control their own jobs",
               j->id, j->submitted_by);
      clients_reply_error(c, r, "forbidden", err);
      return;
    }
    if (job_check(j, act, err, sizeof err) < 0) {
      clients_reply_error(c, r, "invalid_state", err);
      return;
    }
  }
  const char *actor = v->actor;
  json_t *jobs = json_array();
  job_changes_begin();
  for (size_t i = 0; i < req->n_ids; i++) {
    job_t *j = idmap_get(&c->jobs, req->ids[i]);
    uint32_t retried = 0;
    int rc = 0;
    switch (act) {
    case JOB_ACT_CANCEL:
      rc = job_cancel(c, j, actor, req->note, err, sizeof err);
      break;
    case JOB_ACT_PAUSE:
      rc = job_pause(c, j, actor, err, sizeof err);
      break;
    case JOB_ACT_RESUME:
      rc = job_resume(c, j, actor, err, sizeof err);
      break;
    case JOB_ACT_RETRY:
      rc = job_retry(c, j, actor, &retried, err, sizeof err);
      break;
    }
    if (rc < 0) /* a job listed twice, changed by the first mention */
      continue;
    json_array_append_new(jobs, control_entry(j, retried, false));
  }
  /* And the jobs that changed with them: dependents canceled in cascade,
   * jobs revived with a retried one (job.h), unless listed already (a job
   * named after the one it depends on changed with that one). */
  size_t nch;
  job_t **ch = job_changes_end(&nch);
  for (size_t i = 0; i < nch; i++) {
    bool listed = false;
    for (size_t k = 0; k < json_array_size(jobs) && !listed; k++)
      listed = (uint64_t)json_integer_value(json_object_get(json_array_get(jobs, k), "job_id")) ==
               ch[i]->id;
    if (!listed)
      json_array_append_new(jobs, control_entry(ch[i], 0, true));
  }
  free(ch);
  clients_reply_durable(c, r, json_pack("{s:o}", "jobs", jobs));
}

void clients_drain(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  char err[160];
  worker_t *w = ident_valid(req->name) ? workers_find(c, req->name) : NULL;
  if (!w) {
    snprintf(err, sizeof err, "no such worker: %.64s", req->name);
    clients_reply_error(c, r, "not_found", err);
    return;
  }
  workers_drain(c, w, v->spec->arg != 0, v->actor);
  char *json = workers_one_json(c, w);
  json_t *doc = json_loads(json, 0, NULL);
  free(json);
  clients_reply_durable(c, r, doc);
}

static const char SQL_EPISODE_WEIGHT[] =
    "WITH p AS (INSERT INTO projects (name) VALUES ($1) "
    "           ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id) "
    "INSERT INTO episodes (project_id, name, weight) SELECT p.id, $2, $3 FROM p "
    "ON CONFLICT (project_id, name) DO UPDATE SET weight = EXCLUDED.weight";

void clients_episode_weight(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  char err[200];
  char *project;
  const char *episode;
  if (!clients_split_episode(c, r, req->name, &project, &episode))
    return;
  if (req->value < 1 || req->value > 1000) {
    snprintf(err, sizeof err, "weight: %" PRId64 " is not in [1, 1000]", req->value);
    clients_reply_error(c, r, "bad_request", err);
    free(project);
    return;
  }
  episode_t *ep = dispatch_episode(c, project, episode);
  dispatch_set_weight(c, ep, (uint32_t)req->value);
  char *p[3] = {xstrdup(project), xstrdup(episode), xasprintf("%" PRId64, req->value)};
  store_stmt(c, "SQL_EPISODE_WEIGHT", SQL_EPISODE_WEIGHT, 3, p);
  json_t *d = json_pack("{s:I}", "weight", (json_int_t)req->value);
  char *dj = json_dumps(d, JSON_COMPACT);
  store_event(c, v->actor, "episode.weight", "episode", ep->key, dj);
  free(dj);
  json_decref(d);
  clients_reply_durable(c, r, json_pack("{s:s,s:I}", "episode", ep->key, "weight",
                                     (json_int_t)req->value));
  free(project);
}


void clients_rates(coord_t *c, creq_t *r, const verb_call_t *v) {
  (void)v;
  clients_reply_text(c, r, rates_json(c));
}

void clients_rates_set(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  char err[256], merr[200];
  int kind = rates_kind_parse(req->kind);
  int64_t micros;
  if (kind < 0) {
    clients_reply_error(c, r, "bad_request", "kind: expected gpu_model, default_gpu or cpu");
    return;
  }
  if (money_parse(req->amount, &micros, merr, sizeof merr) < 0) {
    snprintf(err, sizeof err, "amount: %s", merr);
    clients_reply_error(c, r, "bad_request", err);
    return;
  }
  const rate_t *rt = rates_add(c, (rate_kind_t)kind, req->name, micros, req->at_us,
                               v->actor, err, sizeof err);
  if (!rt) {
    clients_reply_error(c, r, "bad_request", err);
    return;
  }
  clients_reply_durable(c, r, json_pack("{s:s,s:o}", "currency", c->cfg.currency, "rate",
                                     rates_json_one(c, rt)));
}

void clients_budget(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  char *project;
  const char *episode;
  if (!clients_split_episode(c, r, req->name, &project, &episode))
    return;
  episode_t *ep = dispatch_episode(c, project, episode);
  if (v->spec->arg) {
    char err[256], merr[200];
    int64_t micros;
    if (money_parse(req->amount, &micros, merr, sizeof merr) < 0) {
      snprintf(err, sizeof err, "amount: %s", merr);
      clients_reply_error(c, r, "bad_request", err);
      free(project);
      return;
    }
    cost_set_budget(c, ep, project, episode, micros, v->actor);
  }
  clients_reply_durable(c, r, cost_budget_json(c, ep));
  free(project);
}

/* The after_name of a list keyed by name: NULL when not given. */
static const char *after_name(const Clapper__Request *req) {
  return req->after_name && *req->after_name ? req->after_name : NULL;
}

void clients_users_list(coord_t *c, creq_t *r, const verb_call_t *v) {
  clients_reply_durable(c, r,
                        auth_list_page(c, query_page_limit(v->req, QUERY_USERS_DEFAULT),
                                       after_name(v->req)));
}

void clients_users_add(coord_t *c, creq_t *r, const verb_call_t *v) {
  json_t *doc = NULL;
  const char *code = "bad_request";
  char err[256];
  if (auth_add(c, v->req->name, v->req->kind, v->req->public_key, v->actor, &doc, &code, err,
               sizeof err) < 0)
    clients_reply_error(c, r, code, err);
  else
    clients_reply_durable(c, r, doc);
}

void clients_users_remove(coord_t *c, creq_t *r, const verb_call_t *v) {
  json_t *doc = NULL;
  const char *code = "bad_request";
  char err[256];
  if (auth_remove(c, v->req->name, v->actor, &doc, &code, err, sizeof err) < 0)
    clients_reply_error(c, r, code, err);
  else
    clients_reply_durable(c, r, doc);
}

void clients_ping(coord_t *c, creq_t *r, const verb_call_t *v) {
  (void)v;
  char json[128];
  snprintf(json, sizeof json, "{\"version\":\"%s\"}", CLAPPER_VERSION);
  clients_reply_ok(c, r, json);
}

void clients_workers(coord_t *c, creq_t *r, const verb_call_t *v) {
  clients_reply_text(c, r, workers_json(c, query_page_limit(v->req, QUERY_WORKERS_DEFAULT),
                                        after_name(v->req)));
}

void clients_whoami(coord_t *c, creq_t *r, const verb_call_t *v) {
  json_t *d = json_pack("{s:s,s:s,s:b}", "name", v->actor, "role", auth_role_name(v->role),
                        "secure", c->cfg.keys_dir != NULL);
  clients_reply_text(c, r, json_dumps(d, JSON_COMPACT));
  json_decref(d);
}

void clients_call(coord_t *c, creq_t *r, const char *actor, int role, const char *client,
                  const Clapper__Request *req) {
  char err[256];
  const verb_spec_t *spec = verbs_find((int)req->verb);
  if (!spec) {
    snprintf(err, sizeof err, "verb %d: this coordinator has no such verb; refused",
             (int)req->verb);
    clients_reply_error(c, r, "forbidden", err);
    return;
  }
  if (c->stopping && !spec->while_stopping) {
    clients_reply_error(c, r, "unavailable", "the coordinator is shutting down");
    return;
  }
  if (role >= 0 && !reads_admit(c, r, client, err, sizeof err)) {
    clients_reply_error(c, r, "busy", err);
    return;
  }
  if (!verbs_allowed(spec, role, err, sizeof err)) {
    clients_reply_error(c, r, "forbidden", err);
    return;
  }
  verb_call_t v = {.spec = spec, .req = req, .actor = actor, .role = (role_t)role};
  spec->fn(c, r, &v);
}

/* The ZeroMQ side's caller: its role and name now, by the key this
 * connection authenticated, so a key removed from the registry (or
 * replaced under its name) stops at once, also on a connection opened
 * before.  The name is copied: a handler may change the registry. */
static void handle(coord_t *c, creq_t *r, const char *user, const Clapper__Request *req) {
  int role = auth_role_of(c, user);
  char actor[IDENT_MAX + 1];
  const char *name = auth_name_of(c, user);
  snprintf(actor, sizeof actor, "%s", name ? name : "anonymous");
  clients_call(c, r, actor, role, user, req);
}

void clients_on_message(coord_t *c, const uint8_t *ident, size_t identlen, const char *user,
                        envelope_t *env) {
  creq_t *r = xcalloc(1, sizeof *r);
  memcpy(r->ident, ident, identlen);
  r->identlen = identlen;
  if (env->body_case != CLAPPER__ENVELOPE__BODY_REQUEST) {
    clients_reply_error(c, r, "bad_request", "expected a request");
    return;
  }
  r->id = env->request->id;
  r->wait_ms = env->request->timeout_ms;
  /* Every field is checked before any handler sees it: what is refused
   * here changes nothing (see input.h). */
  char err[256];
  if (input_request(env->request, err, sizeof err) < 0) {
    static log_limit_t refused = LOG_LIMIT_INIT("refused client requests", 10);
    const char *name = auth_name_of(c, user);
    log_warn_limited(&refused, "%s: %s", name ? name : "anonymous", err);
    clients_reply_error(c, r, "bad_request", err);
    return;
  }
  r->change = store_change_begin(c);
  handle(c, r, user, env->request);
  store_change_end(c);
}
