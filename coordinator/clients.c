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

#include "log.h"
#include "query.h"
#include "store.h"
#include "workers.h"

static void send_reply(coord_t *c, creq_t *r, bool ok, const char *code, const char *message,
                       const char *json) {
  Clapper__Reply rep = CLAPPER__REPLY__INIT;
  rep.id = r->id;
  rep.ok = ok;
  rep.error_code = (char *)(code ? code : "");
  rep.error_message = (char *)(message ? message : "");
  rep.json = (char *)(json ? json : "");
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_REPLY;
  env.reply = &rep;
  if (codec_send(c->csock, r->ident, r->identlen, &env) < 0)
    log_debug("reply to request %" PRIu64 " not sent: %s", r->id, zmq_strerror(errno));
  free(r);
}

void clients_reply_ok(coord_t *c, creq_t *r, const char *json) {
  send_reply(c, r, true, NULL, NULL, json);
}

void clients_reply_error(coord_t *c, creq_t *r, const char *code, const char *message) {
  send_reply(c, r, false, code, message, NULL);
}

typedef struct pending_reply {
  creq_t *r;
  char *json;
} pending_reply_t;

static void reply_after_commit(coord_t *c, void *arg) {
  pending_reply_t *p = arg;
  clients_reply_ok(c, p->r, p->json);
  free(p->json);
  free(p);
}

static void submit(coord_t *c, creq_t *r, const char *user, const Clapper__Request *req) {
  char err[512];
  if (c->stopping) {
    clients_reply_error(c, r, "unavailable", "the coordinator is shutting down");
    return;
  }
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
  for (size_t i = 0; i < jf->njobs; i++) {
    const char *field = jf->jobs[i].nafter ? "after"
                        : jf->jobs[i].nafter_approval ? "after_approval"
                                                      : NULL;
    if (field) {
      snprintf(err, sizeof err, "jobs[%zu].%s: dependencies are not supported by this "
               "coordinator yet", i, field);
      jobfile_free(&jf);
      clients_reply_error(c, r, "invalid_job", err);
      return;
    }
  }
  const char *actor = user && *user ? user : "anonymous";
  /* Keep what the reply needs before the jobs take the file over. */
  json_t *jobs = json_array();
  for (size_t i = 0; i < jf->njobs; i++)
    json_array_append_new(jobs, json_pack("{s:I,s:s,s:I}", "job_id",
                                          (json_int_t)(c->next_job_id + i), "name",
                                          jf->jobs[i].name, "tasks",
                                          (json_int_t)jf->jobs[i].ntasks));
  uint64_t first;
  size_t n = job_create_all(c, jf, actor, &first);
  log_info("%s submitted %zu jobs (%" PRIu64 "..%" PRIu64 ")", actor, n, first,
           first + n - 1);
  json_t *doc = json_pack("{s:o}", "jobs", jobs);
  pending_reply_t *p = xmalloc(sizeof *p);
  p->r = r;
  p->json = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  store_on_commit(c, reply_after_commit, p);
}

static void handle(coord_t *c, creq_t *r, const char *user, const Clapper__Request *req) {
  switch (req->verb) {
  case CLAPPER__VERB__VERB_PING: {
    char json[128];
    snprintf(json, sizeof json, "{\"version\":\"%s\"}", CLAPPER_VERSION);
    clients_reply_ok(c, r, json);
    break;
  }
  case CLAPPER__VERB__VERB_SUBMIT:
    submit(c, r, user, req);
    break;
  case CLAPPER__VERB__VERB_JOBS:
    query_jobs(c, r, req);
    break;
  case CLAPPER__VERB__VERB_JOB:
    query_job(c, r, req);
    break;
  case CLAPPER__VERB__VERB_TASKS:
    query_tasks(c, r, req);
    break;
  case CLAPPER__VERB__VERB_WORKERS: {
    char *json = workers_json(c);
    clients_reply_ok(c, r, json);
    free(json);
    break;
  }
  default:
    clients_reply_error(c, r, "bad_request", "unknown request verb");
    break;
  }
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
  handle(c, r, user, env->request);
}
