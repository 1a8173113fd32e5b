/*
 * verbs.h - the table of client verbs: one row per verb of the protocol.
 *
 * A row says everything the coordinator decides about a verb before its
 * handler runs: which handler (with an argument, for handlers that serve
 * several verbs), which roles may use it and which of those only on their
 * own jobs, whether it changes state, and whether it is still served while
 * the coordinator stops.  clients.c looks the verb up, refuses what the
 * row does not allow, and calls the handler; a verb without a row is
 * refused for every role.  Adding a verb is one row here and one handler
 * (plus the client's command): nothing else decides about it.
 *
 * In the spirit of redis's command table and flux-core's message-handler
 * specs: declarative, checked by a unit test that walks every verb of the
 * protocol (tests/unit/test_verbs.c), which also checks the README's role
 * matrix against it.
 */
#ifndef CLAPPER_VERBS_H
#define CLAPPER_VERBS_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "clients.h"

/* What a handler is called with (valid during the call only). */
struct verb_call {
  const struct verb_spec *spec;
  const Clapper__Request *req;
  const char *actor; /* the authenticated name; "anonymous" without keys */
  role_t role;       /* the actor's role now */
};

/* A verb handler: answers r exactly once (now or later), with
 * clients_reply_* or clients_reply_durable. */
typedef void (*verb_fn)(coord_t *c, creq_t *r, const verb_call_t *v);

typedef struct verb_spec {
  int verb;        /* Clapper__Verb */
  const char *cli; /* the clapper commands that send it, e.g. "jobs, wait" */
  verb_fn fn;
  int arg;             /* for a handler serving several verbs (its enum) */
  unsigned roles;      /* ROLE_BIT()s of the roles allowed */
  unsigned own;        /* of those, the ones limited to their own jobs */
  const char *what;    /* what a refusal says is refused ("submitting jobs") */
  bool writes;         /* changes state: events, rows, the farm */
  bool while_stopping; /* still served while the coordinator stops */
} verb_spec_t;

/* The row of verb, or NULL when the table has none. */
const verb_spec_t *verbs_find(int verb);

/* The whole table (*n rows), in protocol order. */
const verb_spec_t *verbs_all(size_t *n);

/* Whether role (-1: not registered) may use spec; when not, a one-line
 * reason naming the roles that may in err. */
bool verbs_allowed(const verb_spec_t *spec, int role, char *err, size_t errlen);

#endif
