/*
 * api.c - the JSON API, see api.h.
 */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clients.h"
#include "costgrid.h"
#include "httpauth.h"
#include "input.h"
#include "log.h"
#include "store.h"

/* Fills req from h (the verb is set already); 0, or -1 with a refusal in
 * err (answered 400 with code bad_request). */
typedef int (*build_fn)(http_req_t *h, Clapper__Request *req, json_t *body, char *err,
                        size_t errlen);

typedef struct api_route {
  http_route_t http;
  int verb;
  build_fn build;
  bool body;       /* takes a JSON object body (optional fields) */
  bool raw_body;   /* the body is the verb's (a job file) */
} api_route_t;

/* ------------------------------------------------------------ fields */

/* Strict decimal u64 in [min, max]; 0 or -1 with err naming what. */
static int parse_u64(const char *what, const char *s, uint64_t min, uint64_t max, uint64_t *out,
                     char *err, size_t errlen) {
  char *end;
  errno = 0;
  unsigned long long v = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
  if (!s || *s < '0' || *s > '9' || errno || *end || v < min || v > max) {
    snprintf(err, errlen, "%s: expected a whole number from %" PRIu64 " to %" PRIu64 "%s%.40s%s",
             what, min, max, s ? " (got '" : "", s ? s : "", s ? "')" : "");
    return -1;
  }
  *out = v;
  return 0;
}

static int id_capture(http_req_t *h, size_t i, const char *what, uint64_t *id, char *err,
                      size_t errlen) {
  return parse_u64(what, http_capture(h, i), 1, INT64_MAX, id, err, errlen);
}

static bool query_flag(http_req_t *h, const char *key) {
  const char *v = http_query(h, key);
  return v && (!*v || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"));
}

/* limit and after (a number) from the query. */
static int paging(http_req_t *h, Clapper__Request *req, char *err, size_t errlen) {
  uint64_t v;
  const char *s = http_query(h, "limit");
  if (s) {
    if (parse_u64("limit", s, 1, 10000, &v, err, errlen) < 0)
      return -1;
    req->limit = (uint32_t)v;
  }
  s = http_query(h, "after");
  if (s) {
    if (parse_u64("after", s, 0, INT64_MAX, &v, err, errlen) < 0)
      return -1;
    req->after = v;
    req->all = true;
  }
  return 0;
}

/* A string member of body (NULL when absent); -1 when not a string. */
static int body_string(json_t *body, const char *key, char **out, char *err, size_t errlen) {
  json_t *v = body ? json_object_get(body, key) : NULL;
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_string(v)) {
    snprintf(err, errlen, "%s: expected a string", key);
    return -1;
  }
  *out = (char *)json_string_value(v);
  return 0;
}

/* The two captures "PROJECT", "EPISODE" into req->name "P/E" (kept in
 * *buf, freed by the caller). */
static void episode_name(http_req_t *h, Clapper__Request *req, char **buf) {
  *buf = xasprintf("%s/%s", http_capture(h, 0), http_capture(h, 1));
  req->name = *buf;
}

/* ------------------------------------------------------------ builders */

static int b_none(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)h, (void)req, (void)body, (void)err, (void)n;
  return 0;
}

static int b_jobs(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body;
  if (paging(h, req, err, n) < 0)
    return -1;
  const char *s;
  req->finished = query_flag(h, "all");
  req->mine = query_flag(h, "mine");
  if ((s = http_query(h, "state")))
    req->state = (char *)s;
  if ((s = http_query(h, "episode")))
    req->name = (char *)s;
  return 0;
}

static uint64_t ids_one[1]; /* the loop is single-threaded: one request is built at a time */

static int one_id(http_req_t *h, Clapper__Request *req, const char *what, char *err, size_t n) {
  if (id_capture(h, 0, what, &ids_one[0], err, n) < 0)
    return -1;
  req->ids = ids_one;
  req->n_ids = 1;
  return 0;
}

static int b_job(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body;
  return one_id(h, req, "job id", err, n);
}

static int b_tasks(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body;
  if (one_id(h, req, "job id", err, n) < 0 || paging(h, req, err, n) < 0)
    return -1;
  return 0;
}

static int b_task(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body;
  return one_id(h, req, "task id", err, n);
}

static int b_logs(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body;
  if (one_id(h, req, "task id", err, n) < 0)
    return -1;
  uint64_t v;
  const char *s;
  if ((s = http_query(h, "offset"))) {
    if (parse_u64("offset", s, 0, INT64_MAX, &v, err, n) < 0)
      return -1;
    req->offset = v;
  }
  if ((s = http_query(h, "attempt"))) {
    if (parse_u64("attempt", s, 1, UINT32_MAX, &v, err, n) < 0)
      return -1;
    req->try_no = (uint32_t)v;
  }
  if ((s = http_query(h, "attempt_id"))) {
    if (parse_u64("attempt_id", s, 1, INT64_MAX, &v, err, n) < 0)
      return -1;
    req->value = (int64_t)v;
  }
  if (req->try_no && req->value) {
    snprintf(err, n, "attempt and attempt_id: give one of them");
    return -1;
  }
  return 0;
}

/* A job action or a decision on a take: the id, and a note. */
static int b_noted(http_req_t *h, Clapper__Request *req, json_t *body, const char *what,
                   char *err, size_t n) {
  if (one_id(h, req, what, err, n) < 0)
    return -1;
  return body_string(body, "note", &req->note, err, n);
}

static int b_job_action(http_req_t *h, Clapper__Request *req, json_t *body, char *err,
                        size_t n) {
  return b_noted(h, req, body, "job id", err, n);
}

static int b_take_decision(http_req_t *h, Clapper__Request *req, json_t *body, char *err,
                           size_t n) {
  return b_noted(h, req, body, "take id", err, n);
}

static int b_take(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body;
  return one_id(h, req, "take id", err, n);
}

static int b_takes(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body;
  if (paging(h, req, err, n) < 0)
    return -1;
  const char *s;
  if ((s = http_query(h, "episode")))
    req->name = (char *)s;
  if ((s = http_query(h, "shot")))
    req->shot = (char *)s;
  if ((s = http_query(h, "state")))
    req->state = (char *)s;
  if ((s = http_query(h, "job"))) {
    if (parse_u64("job", s, 1, INT64_MAX, &ids_one[0], err, n) < 0)
      return -1;
    req->ids = ids_one;
    req->n_ids = 1;
  }
  return 0;
}

static int b_workers(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body;
  uint64_t v;
  const char *s = http_query(h, "limit");
  if (s) {
    if (parse_u64("limit", s, 1, 10000, &v, err, n) < 0)
      return -1;
    req->limit = (uint32_t)v;
  }
  if ((s = http_query(h, "after")))
    req->after_name = (char *)s;
  return 0;
}

static int b_worker(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body, (void)err, (void)n;
  req->name = (char *)http_capture(h, 0);
  return 0;
}

static int b_limit(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  req->name = (char *)http_capture(h, 0);
  if (req->verb != CLAPPER__VERB__VERB_LIMIT_SET)
    return 0;
  json_t *v = body ? json_object_get(body, "count") : NULL;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000) {
    snprintf(err, n, "count: expected a whole number from 0 to 1000000");
    return -1;
  }
  req->value = json_integer_value(v);
  return 0;
}

static int b_audit_verify(http_req_t *h, Clapper__Request *req, json_t *body, char *err,
                          size_t n) {
  (void)body, (void)err, (void)n;
  const char *s = http_query(h, "head");
  req->name = (char *)(s ? s : "");
  return 0;
}

static int b_events(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body;
  if (paging(h, req, err, n) < 0)
    return -1;
  const char *s = http_query(h, "kind");
  if (s)
    req->kind = (char *)s;
  return 0;
}

/* Episode routes keep "P/E" in a buffer freed after the call. */
static char *episode_buf;

static int b_episode(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body, (void)err, (void)n;
  episode_name(h, req, &episode_buf);
  return 0;
}

static int b_cost(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body;
  episode_name(h, req, &episode_buf);
  if (paging(h, req, err, n) < 0)
    return -1;
  const char *s = http_query(h, "by");
  req->by = (char *)(s ? s : "shot");
  return 0;
}

static int b_budget_set(http_req_t *h, Clapper__Request *req, json_t *body, char *err,
                        size_t n) {
  episode_name(h, req, &episode_buf);
  json_t *v = body ? json_object_get(body, "amount") : NULL;
  if (!json_is_string(v)) {
    snprintf(err, n, "amount: expected the budget as a decimal string, e.g. \"1200.00\"");
    return -1;
  }
  req->amount = (char *)json_string_value(v);
  return 0;
}

static int b_submit(http_req_t *h, Clapper__Request *req, json_t *body, char *err, size_t n) {
  (void)body, (void)err, (void)n;
  size_t len;
  const char *file = http_body(h, &len);
  req->body.data = (uint8_t *)file;
  req->body.len = len;
  const char *key = http_header(h, "Idempotency-Key");
  if (key)
    req->idempotency_key = (char *)key;
  return 0;
}

/* ------------------------------------------------------------ the table */

/* ------------------------------------------------------------ answers */

static void on_answer(coord_t *c, void *arg, bool ok, const char *code, const char *message,
                      const char *json) {
  (void)c;
  http_req_t *h = arg;
  if (ok)
    http_reply_json(h, 200, json && *json ? json : "{}");
  else
    http_reply_error(h, code, message);
}

static void api_handle(coord_t *c, http_req_t *h);

#define V(name) CLAPPER__VERB__VERB_##name
#define W HTTP_ROUTE_WRITES
#define R(m, p, verb, fn, fl, body_) {{m, p, api_handle, fl}, V(verb), fn, body_, false}

// clang-format off
static const api_route_t routes[] = {
    R("GET",  "/api/v1/whoami",                      WHOAMI,          b_none,          0, false),
    R("GET",  "/api/v1/jobs",                        JOBS,            b_jobs,          0, false),
    {{"POST", "/api/v1/jobs", api_handle, W},        V(SUBMIT),       b_submit,        false, true},
    R("GET",  "/api/v1/jobs/{}",                     JOB,             b_job,           0, false),
    R("GET",  "/api/v1/jobs/{}/tasks",               TASKS,           b_tasks,         0, false),
    R("POST", "/api/v1/jobs/{}/cancel",              CANCEL,          b_job_action,    W, true),
    R("POST", "/api/v1/jobs/{}/pause",               PAUSE,           b_job_action,    W, true),
    R("POST", "/api/v1/jobs/{}/resume",              RESUME,          b_job_action,    W, true),
    R("POST", "/api/v1/jobs/{}/retry",               RETRY,           b_job_action,    W, true),
    R("GET",  "/api/v1/tasks/{}/attempts",           ATTEMPTS,        b_task,          0, false),
    R("GET",  "/api/v1/tasks/{}/logs",               LOGS,            b_logs,          0, false),
    R("GET",  "/api/v1/takes",                       TAKES,           b_takes,         0, false),
    R("POST", "/api/v1/takes/{}/approve",            APPROVE,         b_take_decision, W, true),
    R("POST", "/api/v1/takes/{}/reject",             REJECT,          b_take_decision, W, true),
    R("POST", "/api/v1/takes/{}/request-changes",    REQUEST_CHANGES, b_take_decision, W, true),
    R("POST", "/api/v1/takes/{}/retake",             RETAKE,          b_take,          W, true),
    R("GET",  "/api/v1/workers",                     WORKERS,         b_workers,       0, false),
    R("POST", "/api/v1/workers/{}/drain",            DRAIN,           b_worker,        W, true),
    R("POST", "/api/v1/workers/{}/undrain",          UNDRAIN,         b_worker,        W, true),
    R("GET",  "/api/v1/episodes/{}/{}/cost",         COST,            b_cost,          0, false),
    R("GET",  "/api/v1/episodes/{}/{}/budget",       BUDGET_SHOW,     b_episode,       0, false),
    R("PUT",  "/api/v1/episodes/{}/{}/budget",       BUDGET_SET,      b_budget_set,    W, true),
    R("GET",  "/api/v1/episodes/{}/{}/audit",        AUDIT,           b_episode,       0, false),
    R("GET",  "/api/v1/audit/head",                  AUDIT_HEAD,      b_none,          0, false),
    R("GET",  "/api/v1/audit/verify",                AUDIT_VERIFY,    b_audit_verify,  0, false),
    R("GET",  "/api/v1/events",                      EVENTS,          b_events,        0, false),
    R("GET",  "/api/v1/rates",                       RATES,           b_none,          0, false),
    R("GET",  "/api/v1/limits",                      LIMITS,          b_none,          0, false),
    R("PUT",  "/api/v1/limits/{}",                   LIMIT_SET,       b_limit,         W, true),
    R("DELETE", "/api/v1/limits/{}",                 LIMIT_REMOVE,    b_limit,         W, false),
};
// clang-format on

static http_route_t http_table[ARRAY_SIZE(routes)];
static api_route_info_t info_table[ARRAY_SIZE(routes)];

/* ------------------------------------------------------------ CSV */

typedef struct csv_ctx {
  http_req_t *h;
  const costgrid_grouping_t *gr;
  char name[2 * IDENT_MAX + 16];
} csv_ctx_t;

static void on_csv_answer(coord_t *c, void *arg, bool ok, const char *code, const char *message,
                          const char *json) {
  csv_ctx_t *x = arg;
  json_t *doc = ok ? json_loads(json, 0, NULL) : NULL;
  if (!ok || !doc) {
    on_answer(c, x->h, ok, ok ? "internal" : code, ok ? "the report could not be read" : message,
              NULL);
  } else {
    costgrid_t g;
    costgrid_build(&g, x->gr, doc);
    sbuf_t sb = {0};
    costgrid_csv(&g, x->gr, &sb);
    costgrid_free(&g);
    char disp[2 * IDENT_MAX + 80];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s-cost-by-%s.csv\"", x->name,
             x->gr->by);
    const char *hdr[] = {"Content-Disposition", disp, NULL};
    http_reply(x->h, 200, "text/csv; charset=utf-8; header=present", sb.buf ? sb.buf : "",
               sb.len, hdr);
    sbuf_free(&sb);
    json_decref(doc);
  }
  free(x);
}

/* ------------------------------------------------------------ a followed log */

#define FOLLOW_POLL_MS 500

/* GET /api/v1/tasks/ID/logs?follow=1: the log's bytes as text while the
 * attempt runs.  The first attempt the coordinator answers about (the
 * latest, or the one asked for) is followed until it ends; every poll is
 * the LOGS verb through the same gate, as the person (looked up again, so
 * a revoked token or removed key ends the stream). */
typedef struct follow {
  coord_t *c;
  http_req_t *h;     /* until the first answer: errors go there as usual */
  http_stream_t *st; /* from the first answer that holds the log */
  uv_timer_t timer;
  uint64_t task, attempt, offset;
  uint32_t try_no;
  char *authorization, *cookie;
  bool asking, closed, timer_closing;
} follow_t;

static void follow_free(uv_handle_t *hd) {
  follow_t *f = hd->data;
  free(f->authorization);
  free(f->cookie);
  free(f);
}

static void follow_release(follow_t *f) {
  if (f->asking || f->timer_closing)
    return;
  f->timer_closing = true;
  uv_close((uv_handle_t *)&f->timer, follow_free);
}

static void follow_ask(uv_timer_t *t);
static void follow_closed(void *arg);

static void follow_end(follow_t *f, const char *why) {
  if (f->h) { /* nothing sent yet */
    http_reply_error(f->h, "unauthorized", why ? why : "");
    f->h = NULL;
    f->closed = true;
    follow_release(f);
    return;
  }
  if (!f->closed) {
    if (why) {
      char line[400];
      snprintf(line, sizeof line, "\nclapper: %.380s\n", why);
      http_stream_write(f->st, line, strlen(line));
    }
    http_stream_end(f->st); /* on_close follows */
  }
}

static void follow_answer(coord_t *c, void *arg, bool ok, const char *code, const char *message,
                          const char *json) {
  follow_t *f = arg;
  f->asking = false;
  if (f->h) { /* the first answer */
    http_req_t *h = f->h;
    f->h = NULL;
    if (!ok) {
      on_answer(c, h, ok, code, message, json);
      f->closed = true;
      follow_release(f);
      return;
    }
    f->st = http_stream_start(h, "text/plain; charset=utf-8", follow_closed, f);
  }
  if (f->closed) {
    follow_release(f);
    return;
  }
  if (!ok) {
    follow_end(f, message);
    return;
  }
  json_t *doc = json_loads(json, 0, NULL);
  uint64_t attempt = (uint64_t)json_integer_value(json_object_get(doc, "attempt_id"));
  const char *data = json_string_value(json_object_get(doc, "data"));
  size_t len = data ? json_string_length(json_object_get(doc, "data")) : 0;
  bool done = json_is_true(json_object_get(doc, "done"));
  json_int_t next = json_integer_value(json_object_get(doc, "offset"));
  unsigned wait = FOLLOW_POLL_MS;
  if (attempt) {
    f->attempt = attempt;
    f->try_no = 0;
    if (len && http_stream_write(f->st, data, len) < 0) {
      json_decref(doc);
      follow_end(f, NULL);
      return;
    }
    if (next > 0)
      f->offset = (uint64_t)next;
    if (done) {
      json_decref(doc);
      follow_end(f, NULL);
      return;
    }
    if (len)
      wait = 0;
  }
  json_decref(doc);
  uv_timer_start(&f->timer, follow_ask, wait, 0);
}

static void follow_ask(uv_timer_t *t) {
  follow_t *f = t->data;
  coord_t *c = f->c;
  if (f->closed)
    return;
  http_ident_t id;
  char err[256];
  if (httpauth_identify(c, f->authorization, f->cookie, &id, err, sizeof err) < 0) {
    follow_end(f, err);
    return;
  }
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_LOGS;
  req.ids = &f->task;
  req.n_ids = 1;
  req.offset = f->offset;
  req.value = (int64_t)f->attempt;
  req.try_no = f->attempt ? 0 : f->try_no;
  char client[IDENT_MAX + 8];
  snprintf(client, sizeof client, "http:%s", id.name);
  creq_t *r = xcalloc(1, sizeof *r);
  r->answer = follow_answer;
  r->answer_arg = f;
  f->asking = true;
  clients_call(c, r, id.name, id.role, client, &req);
}

static void follow_closed(void *arg) {
  follow_t *f = arg;
  f->closed = true;
  uv_timer_stop(&f->timer);
  follow_release(f);
}

static void follow_start(coord_t *c, http_req_t *h, const Clapper__Request *req) {
  follow_t *f = xcalloc(1, sizeof *f);
  f->c = c;
  f->task = req->ids[0];
  f->offset = req->offset;
  f->attempt = (uint64_t)req->value;
  f->try_no = req->try_no;
  const char *a = http_header(h, "Authorization"), *k = http_cookie(h, HTTPAUTH_COOKIE);
  f->authorization = a ? xstrdup(a) : NULL;
  f->cookie = k ? xstrdup(k) : NULL;
  uv_timer_init(c->loop, &f->timer);
  f->timer.data = f;
  f->h = h;
  follow_ask(&f->timer);
}

static void api_handle(coord_t *c, http_req_t *h) {
  const http_route_t *hr = http_route(h);
  size_t i = (size_t)(hr - http_table);
  if (hr < http_table || i >= ARRAY_SIZE(routes)) {
    http_reply_error(h, "internal", "no API route for this request (a bug)");
    return;
  }
  const api_route_t *ar = &routes[i];
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = (Clapper__Verb)ar->verb;
  json_t *body = NULL;
  char err[300];
  size_t len;
  const char *text = http_body(h, &len);
  if (ar->body && len) {
    json_error_t je;
    body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(body)) {
      snprintf(err, sizeof err, "the request body: expected a JSON object%s%.200s",
               body ? "" : ": ", body ? "" : je.text);
      json_decref(body);
      http_reply_error(h, "bad_request", err);
      return;
    }
  }
  episode_buf = NULL;
  if (ar->build(h, &req, body, err, sizeof err) < 0 || input_request(&req, err, sizeof err) < 0) {
    http_reply_error(h, "bad_request", err);
  } else {
    const http_ident_t *id = http_ident(h);
    char client[IDENT_MAX + 8];
    snprintf(client, sizeof client, "http:%s", id->name);
    creq_t *r = xcalloc(1, sizeof *r);
    r->answer = on_answer;
    r->answer_arg = h;
    const char *format = http_query(h, "format");
    if (req.verb == CLAPPER__VERB__VERB_COST && format && strcmp(format, "json") != 0) {
      const costgrid_grouping_t *gr = costgrid_grouping(req.by);
      if (strcmp(format, "csv") != 0 || !gr) {
        free(r);
        http_reply_error(h, "bad_request",
                         gr ? "format: expected csv or json" : "by: expected shot, job or kind");
        goto out;
      }
      csv_ctx_t *x = xcalloc(1, sizeof *x);
      x->h = h;
      x->gr = gr;
      snprintf(x->name, sizeof x->name, "%s-%s", http_capture(h, 0), http_capture(h, 1));
      r->answer = on_csv_answer;
      r->answer_arg = x;
    } else if (req.verb == CLAPPER__VERB__VERB_LOGS && query_flag(h, "follow")) {
      free(r);
      follow_start(c, h, &req);
      goto out;
    }
    r->change = store_change_begin(c);
    clients_call(c, r, id->name, id->role, client, &req);
    store_change_end(c);
  }
out:
  free(episode_buf);
  episode_buf = NULL;
  json_decref(body);
}

void api_routes(coord_t *c) {
  for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
    http_table[i] = routes[i].http;
    info_table[i] = (api_route_info_t){routes[i].http.method, routes[i].http.pattern,
                                       routes[i].verb};
  }
  http_add_routes(c, http_table, ARRAY_SIZE(http_table));
}

const api_route_info_t *api_route_list(size_t *n) {
  for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
    info_table[i] = (api_route_info_t){routes[i].http.method, routes[i].http.pattern,
                                       routes[i].verb};
  *n = ARRAY_SIZE(routes);
  return info_table;
}
