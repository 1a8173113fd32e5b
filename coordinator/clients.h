/*
 * clients.h - requests from `clapper` clients on the clients socket.
 *
 * Every request is looked up in the verb table (verbs.h), refused unless
 * its row allows the caller's role (looked up now, so a removed key stops
 * at once), and handed to the row's handler.  Submissions are validated
 * (common/jobfile.c), turned into jobs in memory and answered once the
 * batch holding them committed.  Reads go to PostgreSQL on the read pool
 * (reads.c, query.c), so a client only ever sees what is durable; the
 * worker list comes from memory, since it is the coordinator's live view
 * of the farm.  The handlers of the verbs served here are below.
 */
#ifndef CLAPPER_CLIENTS_H
#define CLAPPER_CLIENTS_H

#include "model.h"

/* Where to send a reply: the client's routing id and its request id. */
typedef struct creq {
  uint8_t ident[CODEC_MAX_IDENT];
  size_t identlen;
  uint64_t id;
  uint64_t change; /* the store's change for what it queues (store.h) */
  uint32_t wait_ms;       /* how long the client waits for the reply (0: not said) */
  uint64_t client;        /* its client (reads.c), 0 until admitted */
  uint64_t deadline_mono; /* when a read for it is canceled (reads.c) */
  long long deadline_ms;  /* that deadline's length */
  /* Asked from inside the coordinator (the HTTP API, api.c): the answer
   * goes to answer(answer_arg, ...) instead of the socket; json is the
   * reply document when ok, else code and message say why. */
  void (*answer)(coord_t *c, void *arg, bool ok, const char *code, const char *message,
                 const char *json);
  void *answer_arg;
} creq_t;

typedef struct verb_call verb_call_t;

/* Handles one message from a client (env stays the caller's); user is
 * the CURVE public key (Z85) its connection authenticated ("" without
 * keys), looked up in the registry for this request. */
void clients_on_message(coord_t *c, const uint8_t *ident, size_t identlen, const char *user,
                        envelope_t *env);

/* Runs req for r as actor with role (-1: not registered) through the verb
 * table's gate (the one every request passes: stopping, the client's
 * limit of unanswered requests, the role) and the verb's handler; client
 * names the caller for reads_admit.  Answers r exactly once.  The ZeroMQ
 * side (clients_on_message) and the HTTP API (api.c) both call it. */
void clients_call(coord_t *c, creq_t *r, const char *actor, int role, const char *client,
                  const Clapper__Request *req);

/* The largest reply document: lists are paged below it (query.h), and
 * anything larger is answered with a "too_large" error instead. */
#define CLIENTS_MAX_REPLY (4 << 20)

/* Replies and releases r.  json is the reply document (copied), a JSON
 * object: every reply leaves with "version" first (jsondoc_versioned,
 * jsondoc.h), so no handler adds it.  One over CLIENTS_MAX_REPLY bytes is
 * replaced by a "too_large" error. */
void clients_reply_ok(coord_t *c, creq_t *r, const char *json);
/* Replies with doc (takes the reference) once the batch now accumulating
 * committed, so that what the client is told is durable; releases r. */
struct json_t;
void clients_reply_durable(coord_t *c, creq_t *r, struct json_t *doc);

/* Splits "project/episode" into two identifiers (*project allocated, the
 * caller frees it; *episode points into name).  When name is not that,
 * replies with an error (releasing r) and returns false. */
bool clients_split_episode(coord_t *c, creq_t *r, const char *name, char **project,
                           const char **episode);

/* Replies with an error and releases r. */
void clients_reply_error(coord_t *c, creq_t *r, const char *code, const char *message);

/* Replies with json (a document the caller allocated; freed here) and
 * releases r. */
void clients_reply_text(coord_t *c, creq_t *r, char *json);

/* For the completion callback of a read (pgconn_cb's res, n, error): when
 * the query failed or returned no rows set, logs why, replies "internal",
 * releases r and returns true; else returns false and does nothing. */
bool clients_reply_failed(coord_t *c, creq_t *r, PGresult *const *res, size_t n,
                          const char *error);

/* Verb handlers (verbs.c). */
void clients_ping(coord_t *c, creq_t *r, const verb_call_t *v);
void clients_whoami(coord_t *c, creq_t *r, const verb_call_t *v);
/* Validates and queues the job file in v->req->body. */
void clients_submit(coord_t *c, creq_t *r, const verb_call_t *v);
/* cancel, pause, resume or retry (v->spec->arg: a job_action_t) the jobs
 * v->req->ids, all or none; roles in v->spec->own act on their own jobs
 * only. */
void clients_control(coord_t *c, creq_t *r, const verb_call_t *v);
void clients_workers(coord_t *c, creq_t *r, const verb_call_t *v);
/* Drains (v->spec->arg 1) or undrains (0) worker v->req->name. */
void clients_drain(coord_t *c, creq_t *r, const verb_call_t *v);
void clients_episode_weight(coord_t *c, creq_t *r, const verb_call_t *v);
void clients_rates(coord_t *c, creq_t *r, const verb_call_t *v);
void clients_rates_set(coord_t *c, creq_t *r, const verb_call_t *v);
/* Sets (v->spec->arg 1) or shows (0) the budget of episode v->req->name. */
void clients_budget(coord_t *c, creq_t *r, const verb_call_t *v);
void clients_users_add(coord_t *c, creq_t *r, const verb_call_t *v);
void clients_users_list(coord_t *c, creq_t *r, const verb_call_t *v);
void clients_users_remove(coord_t *c, creq_t *r, const verb_call_t *v);

#endif
