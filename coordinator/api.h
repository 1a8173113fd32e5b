/*
 * api.h - the JSON API, /api/v1: the CLI's verbs over HTTP.
 *
 * Each route is a row of a table that names the verb it asks and how the
 * request's path, query and body become the verb's Request; the request
 * is then checked like every ZeroMQ request (input_request) and run
 * through the same gate (clients_call: the verb table's roles, the
 * client's limit of unanswered requests, stopping) and the same handler,
 * so the answer is the document `clapper VERB --json` prints, and a
 * refusal the same one-line message.  Errors are {"error": {"code",
 * "message"}} with the status of the code (http_status_of).
 *
 * The actor of every change is the name the session or token acts for:
 * the event log shows the person, not "http".  Writes are answered once
 * durable, as on the CLI.  Two answers are made here rather than by a
 * verb: a cost report as CSV (?format=csv: the same cells as `clapper cost
 * --csv`) and a followed log (?follow=1: the log's bytes as text while
 * the attempt runs).
 */
#ifndef CLAPPER_API_H
#define CLAPPER_API_H

#include "http.h"
#include "model.h"

/* Registers the /api/v1 routes with the server (nothing when it is off). */
void api_routes(coord_t *c);

/* The route table (for the OpenAPI check in tests/unit/test_api.c). */
typedef struct api_route_info {
  const char *method, *pattern;
  int verb; /* Clapper__Verb */
} api_route_info_t;
const api_route_info_t *api_route_list(size_t *n);

#endif
