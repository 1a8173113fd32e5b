/*
 * http.h - the coordinator's HTTP side: one server on the coordinator's
 * loop for the JSON API (api.c), sign-in (httpauth.c), live events
 * (sse.c) and Prometheus metrics (metrics.c).
 *
 * The HTTP parsing, TLS and connection handling are libmicrohttpd's, run
 * in its "external polling" mode: its epoll descriptor is watched by a
 * uv_poll and its timeouts by a uv_timer, so every request is handled on
 * the coordinator's one thread and nothing here ever blocks the loop.  A
 * request that needs the database (every API read goes through the read
 * pool, reads.h, like the CLI's) or a commit (every write is answered
 * once durable) is suspended in libmicrohttpd and resumed by its answer.
 *
 * Who decides what:
 *  - http.c owns connections, bodies (at most HTTP_MAX_BODY), the route
 *    table and the shape of errors, {"error": {"code", "message"}}, with
 *    a status that follows from the code (http_status_of);
 *  - httpauth.c says who a request acts for (an API token, or a browser
 *    session made from a single-use sign-in link) and checks the CSRF
 *    token of cookie sessions; the role a request has is looked up at
 *    each request, so a revoked token or a removed key stops at once;
 *  - what a role may do is the verb table's (verbs.h), as on the ZeroMQ
 *    side: an API route that maps to a verb runs through the same gate
 *    (clients_call) and the same handler, and gets the same document the
 *    CLI's --json prints.
 *
 * Lifetime: an http_req_t lives from its route's call until it is
 * answered (exactly once, by one of the http_reply* functions, or by
 * http_stream_end for a stream).  A client that goes away while its
 * request is suspended is noticed when the request is answered; the
 * answer is then dropped.
 */
#ifndef CLAPPER_HTTP_H
#define CLAPPER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct http http_t;
typedef struct http_req http_req_t;
typedef struct http_stream http_stream_t;

#define HTTP_MAX_BODY (JOBFILE_MAX_BYTES + 4096) /* a job file and then some */

/* How a request authenticated. */
typedef enum http_auth_kind {
  HTTP_AUTH_NONE = 0,
  HTTP_AUTH_SESSION, /* a browser session cookie (writes need the CSRF token) */
  HTTP_AUTH_TOKEN,   /* Authorization: Bearer <API token> */
} http_auth_kind_t;

/* Who a request acts for. */
typedef struct http_ident {
  http_auth_kind_t kind;
  char name[IDENT_MAX + 1]; /* the key name it acts for ("anonymous" without keys) */
  int role;                 /* role_t */
  uint64_t id;              /* the session's or the token's id */
} http_ident_t;

/* Settings (coordinator/main.c fills them). */
typedef struct http_settings {
  const char *bind;      /* "127.0.0.1:7712", "[::1]:7712", "0.0.0.0:7712"; "" or "none": off */
  const char *cert_file; /* PEM; with key_file: TLS */
  const char *key_file;
  const char *url;       /* the address people reach it at, for sign-in links; NULL: from bind */
  bool insecure;         /* allow a non-loopback bind without TLS */
} http_settings_t;

/* Checks settings without binding (the address, TLS files given in pairs,
 * a non-loopback address only with TLS or insecure): 0, or -1 with err. */
int http_check(const http_settings_t *s, char *err, size_t errlen) MUSTCHECK;

/* Opens the server (binding now: start-up only) as c->http, or does
 * nothing when settings say off.  0, or -1 with err. */
int http_open(coord_t *c, const http_settings_t *s, char *err, size_t errlen) MUSTCHECK;

/* Stops taking new requests (each is answered "unavailable") and ends
 * every stream: the coordinator is stopping.  Idempotent. */
void http_quiesce(coord_t *c);

/* Stops taking requests, answers every suspended one "unavailable", ends
 * streams, and frees the server.  Safe when http_open failed or never ran. */
void http_close(coord_t *c);

/* The base URL people reach the server at ("http://127.0.0.1:7712"), or
 * NULL when it is off. */
const char *http_base_url(const coord_t *c);

/* ------------------------------------------------------------ routes */

/* A route's handler: answers h exactly once, now or later. */
typedef void (*http_route_fn)(coord_t *c, http_req_t *h);

enum {
  HTTP_ROUTE_PUBLIC = 1u << 0, /* needs no identity (the sign-in link) */
  HTTP_ROUTE_WRITES = 1u << 1, /* changes state: a cookie session needs the CSRF token */
};

/* A route: method ("GET", "POST", "PUT", "DELETE") and a path pattern in
 * which a segment "{}" matches one segment (an id, a name), captured in
 * order (http_capture).  Every non-public route needs an identity. */
typedef struct http_route {
  const char *method;
  const char *pattern; /* "/api/v1/jobs/{}/tasks" */
  http_route_fn fn;
  unsigned flags;
} http_route_t;

/* Adds n routes (the array must outlive the server; modules register at
 * start: api_routes, httpauth_routes, sse_routes, metrics_routes). */
void http_add_routes(coord_t *c, const http_route_t *routes, size_t n);

/* ------------------------------------------------------------ requests */

const char *http_method(const http_req_t *h);
/* The route that matched (an element of an array given to http_add_routes). */
const http_route_t *http_route(const http_req_t *h);
const char *http_path(const http_req_t *h);
/* The i-th "{}" segment of the route's pattern (URL-decoded), or NULL. */
const char *http_capture(const http_req_t *h, size_t i);
/* A query-string argument (URL-decoded), or NULL when absent. */
const char *http_query(const http_req_t *h, const char *key);
/* A request header (case-insensitive name), or NULL. */
const char *http_header(const http_req_t *h, const char *name);
/* A cookie's value, or NULL. */
const char *http_cookie(const http_req_t *h, const char *name);
/* The request body (NUL-terminated after len bytes; "" when none). */
const char *http_body(const http_req_t *h, size_t *len);
/* Who the request acts for (kind HTTP_AUTH_NONE on a public route without
 * credentials). */
const http_ident_t *http_ident(const http_req_t *h);
/* Whether the server runs TLS (cookies are then Secure). */
bool http_tls(const coord_t *c);

/* ------------------------------------------------------------ answers */

/* Answers with status, content type and body (copied); headers is NULL or
 * a NULL-terminated list of "Name", "value" pairs. */
void http_reply(http_req_t *h, int status, const char *content_type, const char *body,
                size_t len, const char *const *headers);
/* Answers 200..299 with a JSON document (text, copied). */
void http_reply_json(http_req_t *h, int status, const char *json);
/* Answers {"error": {"code", "message"}} with the status of code. */
void http_reply_error(http_req_t *h, const char *code, const char *message);
/* The HTTP status of an error code: bad_request, invalid_job 400;
 * unauthorized 401; forbidden 403; not_found 404; conflict 409;
 * too_large 413; busy 429; timeout 504; unavailable 503; else 500. */
int http_status_of(const char *code);

/* A response sent in pieces (server-sent events, a followed log): starts
 * the response now with status 200 and content_type; on_close(arg) runs
 * once when the stream ends (the client went away, http_stream_end, or
 * the server closes), after which s is gone. */
http_stream_t *http_stream_start(http_req_t *h, const char *content_type,
                                 void (*on_close)(void *arg), void *arg);
/* Queues len bytes (copied).  Returns 0, or -1 when the client is more
 * than HTTP_STREAM_MAX_QUEUED bytes behind (the caller ends the stream:
 * a slow watcher never holds the coordinator's memory). */
#define HTTP_STREAM_MAX_QUEUED (4u << 20)
int http_stream_write(http_stream_t *s, const char *data, size_t len);
/* Ends the stream (on_close runs). */
void http_stream_end(http_stream_t *s);

#endif
