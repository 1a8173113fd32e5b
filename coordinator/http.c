/*
 * http.c - the HTTP server on the coordinator's loop, see http.h.
 *
 * libmicrohttpd runs without threads of its own (no
 * MHD_USE_INTERNAL_POLLING_THREAD): its epoll descriptor is a uv_poll, its
 * next timeout a uv_timer, and MHD_run does the work of both on the loop.
 * A request's access handler is called by MHD for the headers, for each
 * piece of the body, and once more when the body is complete; then the
 * route runs.  A route that answers at once has its answer queued on
 * return; one that answers later leaves the connection suspended
 * (MHD_suspend_connection), and its answer resumes it, after which MHD
 * calls the handler again and the answer is queued there: libmicrohttpd
 * only takes a response from inside its own callbacks.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "httpauth.h"
#include "log.h"
#include "metrics.h"

#define MAX_CAPTURES 4
#define MAX_ROUTE_TABLES 16
#define MAX_CONNECTIONS 1024
#define CONNECTION_TIMEOUT_S 60

typedef struct route_table {
  const http_route_t *routes;
  size_t n;
} route_table_t;

struct http {
  coord_t *c;
  struct MHD_Daemon *d;
  uv_poll_t poll;
  uv_timer_t timer;
  bool tls;
  bool closing;
  char *base_url;
  route_table_t tables[MAX_ROUTE_TABLES];
  size_t ntables;
  http_req_t *live; /* requests not completed, for shutdown */
  http_stream_t *streams;
  char *cert, *key; /* PEM texts for MHD (kept for its life) */
  int open_handles;  /* poll and timer, until their close callbacks ran */
};

struct http_req {
  http_t *srv;
  struct MHD_Connection *conn;
  char *method, *path;
  sbuf_t body;
  bool too_large;
  bool routed;     /* the route ran */
  bool in_route;   /* during the route's call: an answer is queued on return */
  bool suspended;  /* waiting for an answer made outside MHD's callbacks */
  bool queued;     /* the answer went to MHD */
  struct MHD_Response *resp;
  unsigned status;
  char *caps[MAX_CAPTURES];
  size_t ncaps;
  const http_route_t *route;
  http_ident_t ident;
  http_req_t *prev, *next;
};

struct http_stream {
  http_t *srv;
  struct MHD_Connection *conn;
  sbuf_t q;       /* bytes not yet taken by MHD */
  size_t off;     /* of q, taken */
  bool waiting;   /* the connection is suspended until there is more */
  bool ended;
  void (*on_close)(void *arg);
  void *arg;
  http_stream_t *prev, *next;
};

/* ------------------------------------------------------------ loop */

static void pump(http_t *s);

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  pump(p->data);
}

static void on_timer(uv_timer_t *t) { pump(t->data); }

/* Runs MHD for what is ready and sets the timer for its next timeout. */
static void pump(http_t *s) {
  if (!s->d)
    return;
  MHD_run(s->d);
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (MHD_get_timeout(s->d, &ms) == MHD_YES)
    uv_timer_start(&s->timer, on_timer, ms > 60000 ? 60000 : ms, 0);
  else
    uv_timer_stop(&s->timer);
}

/* Wakes MHD on the next loop iteration (after a resume from outside its
 * callbacks; its own wake-up pipe does so too, this is belt and braces). */
static void kick(http_t *s) {
  if (s->d && !s->closing)
    uv_timer_start(&s->timer, on_timer, 0, 0);
}

/* ------------------------------------------------------------ answers */

static void deliver(http_req_t *h) {
  if (h->in_route || !h->suspended)
    return; /* queued when the route returns, or by the handler's next call */
  h->suspended = false;
  MHD_resume_connection(h->conn);
  kick(h->srv);
}

static void set_answer(http_req_t *h, unsigned status, struct MHD_Response *resp) {
  if (h->resp || h->queued) {
    log_error("http: %s %s answered twice (a bug); the second answer is dropped", h->method,
              h->path);
    MHD_destroy_response(resp);
    return;
  }
  h->status = status;
  h->resp = resp;
  deliver(h);
}

static void common_headers(struct MHD_Response *resp) {
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

void http_reply(http_req_t *h, int status, const char *content_type, const char *body,
                size_t len, const char *const *headers) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
  common_headers(resp);
  if (content_type)
    MHD_add_response_header(resp, "Content-Type", content_type);
  for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
    MHD_add_response_header(resp, headers[i], headers[i + 1]);
  set_answer(h, (unsigned)status, resp);
}

void http_reply_json(http_req_t *h, int status, const char *json) {
  size_t len = strlen(json);
  char *doc = xmalloc(len + 2);
  memcpy(doc, json, len);
  doc[len] = '\n';
  doc[len + 1] = '\0';
  http_reply(h, status, "application/json", doc, len + 1, NULL);
  free(doc);
}

int http_status_of(const char *code) {
  static const struct {
    const char *code;
    int status;
  } map[] = {
      {"bad_request", 400}, {"invalid_job", 400},  {"invalid_state", 409},
      {"unauthorized", 401}, {"forbidden", 403},   {"not_found", 404},
      {"method_not_allowed", 405}, {"conflict", 409}, {"too_large", 413},
      {"unsupported_media_type", 415}, {"busy", 429}, {"unavailable", 503},
      {"timeout", 504},
  };
  for (size_t i = 0; code && i < ARRAY_SIZE(map); i++)
    if (!strcmp(map[i].code, code))
      return map[i].status;
  return 500;
}

void http_reply_error(http_req_t *h, const char *code, const char *message) {
  json_t *doc = json_pack("{s:i,s:{s:s,s:s}}", "version", 1, "error", "code",
                          code ? code : "internal", "message", message ? message : "");
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  http_reply_json(h, http_status_of(code), text);
  free(text);
}

/* ------------------------------------------------------------ streams */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  http_stream_t *st = cls;
  size_t avail = st->q.len - st->off;
  if (avail) {
    size_t n = avail < max ? avail : max;
    memcpy(buf, st->q.buf + st->off, n);
    st->off += n;
    if (st->off == st->q.len) {
      st->q.len = 0;
      st->off = 0;
    }
    return (ssize_t)n;
  }
  if (st->ended || st->srv->closing)
    return MHD_CONTENT_READER_END_OF_STREAM;
  /* Nothing to send: off MHD's loop until http_stream_write has more. */
  st->waiting = true;
  MHD_suspend_connection(st->conn);
  return 0;
}

static void stream_free(void *cls) {
  http_stream_t *st = cls;
  http_t *s = st->srv;
  if (st->prev)
    st->prev->next = st->next;
  else
    s->streams = st->next;
  if (st->next)
    st->next->prev = st->prev;
  if (st->on_close)
    st->on_close(st->arg);
  sbuf_free(&st->q);
  free(st);
}

http_stream_t *http_stream_start(http_req_t *h, const char *content_type,
                                 void (*on_close)(void *arg), void *arg) {
  http_stream_t *st = xcalloc(1, sizeof *st);
  st->srv = h->srv;
  st->conn = h->conn;
  st->on_close = on_close;
  st->arg = arg;
  st->next = h->srv->streams;
  if (st->next)
    st->next->prev = st;
  h->srv->streams = st;
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, st, stream_free);
  common_headers(resp);
  MHD_add_response_header(resp, "Content-Type", content_type);
  MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  set_answer(h, 200, resp);
  return st;
}

static void stream_wake(http_stream_t *st) {
  if (!st->waiting)
    return;
  st->waiting = false;
  MHD_resume_connection(st->conn);
  kick(st->srv);
}

int http_stream_write(http_stream_t *st, const char *data, size_t len) {
  if (st->ended)
    return -1;
  if (st->q.len - st->off + len > HTTP_STREAM_MAX_QUEUED)
    return -1;
  sbuf_append(&st->q, data, len);
  stream_wake(st);
  return 0;
}

void http_stream_end(http_stream_t *st) {
  st->ended = true;
  stream_wake(st);
}

/* ------------------------------------------------------------ requests */

const char *http_method(const http_req_t *h) { return h->method; }
const http_route_t *http_route(const http_req_t *h) { return h->route; }
const char *http_path(const http_req_t *h) { return h->path; }
const char *http_capture(const http_req_t *h, size_t i) {
  return i < h->ncaps ? h->caps[i] : NULL;
}
const char *http_query(const http_req_t *h, const char *key) {
  return MHD_lookup_connection_value(h->conn, MHD_GET_ARGUMENT_KIND, key);
}
const char *http_header(const http_req_t *h, const char *name) {
  return MHD_lookup_connection_value(h->conn, MHD_HEADER_KIND, name);
}
const char *http_cookie(const http_req_t *h, const char *name) {
  return MHD_lookup_connection_value(h->conn, MHD_COOKIE_KIND, name);
}
const char *http_body(const http_req_t *h, size_t *len) {
  if (len)
    *len = h->body.len;
  return h->body.buf ? h->body.buf : "";
}
const http_ident_t *http_ident(const http_req_t *h) { return &h->ident; }
bool http_tls(const coord_t *c) { return c->http && c->http->tls; }
const char *http_base_url(const coord_t *c) { return c->http ? c->http->base_url : NULL; }

void http_add_routes(coord_t *c, const http_route_t *routes, size_t n) {
  http_t *s = c->http;
  if (!s)
    return;
  if (s->ntables == MAX_ROUTE_TABLES) {
    log_error("http: more than %d route tables; routes dropped (a bug)", MAX_ROUTE_TABLES);
    return;
  }
  s->tables[s->ntables++] = (route_table_t){routes, n};
}

/* Whether path matches pattern; the "{}" segments are captured into h. */
static bool match(http_req_t *h, const char *pattern, const char *path) {
  size_t ncaps = 0;
  char *caps[MAX_CAPTURES] = {0};
  const char *p = pattern, *u = path;
  while (*p && *u) {
    if (*p != '/' || *u != '/')
      goto no;
    p++;
    u++;
    const char *pe = strchrnul(p, '/'), *ue = strchrnul(u, '/');
    if (pe - p == 2 && !strncmp(p, "{}", 2)) {
      if (ue == u || ncaps == MAX_CAPTURES)
        goto no;
      caps[ncaps++] = xstrndup(u, (size_t)(ue - u));
    } else if (pe - p != ue - u || strncmp(p, u, (size_t)(pe - p)) != 0) {
      goto no;
    }
    p = pe;
    u = ue;
  }
  if (*p || (*u && strcmp(u, "/") != 0))
    goto no;
  for (size_t i = 0; i < h->ncaps; i++)
    free(h->caps[i]);
  memcpy(h->caps, caps, sizeof caps);
  h->ncaps = ncaps;
  return true;
no:
  for (size_t i = 0; i < ncaps; i++)
    free(caps[i]);
  return false;
}

/* Finds the route for h; *allowed gets the methods of routes whose path
 * matched when none had h's method. */
static const http_route_t *find_route(http_req_t *h, sbuf_t *allowed) {
  http_t *s = h->srv;
  for (size_t t = 0; t < s->ntables; t++)
    for (size_t i = 0; i < s->tables[t].n; i++) {
      const http_route_t *r = &s->tables[t].routes[i];
      if (!match(h, r->pattern, h->path))
        continue;
      bool head = !strcmp(h->method, "HEAD") && !strcmp(r->method, "GET");
      if (!strcmp(r->method, h->method) || head)
        return r;
      sbuf_printf(allowed, "%s%s", allowed->len ? ", " : "", r->method);
    }
  return NULL;
}

static void run_route(http_req_t *h) {
  coord_t *c = h->srv->c;
  if (h->too_large) {
    char msg[160];
    snprintf(msg, sizeof msg, "the request body is larger than %d bytes", (int)HTTP_MAX_BODY);
    http_reply_error(h, "too_large", msg);
    return;
  }
  sbuf_t allowed = {0};
  const http_route_t *r = find_route(h, &allowed);
  if (!r) {
    if (allowed.len) {
      char msg[300];
      snprintf(msg, sizeof msg, "%.16s is not served on %.100s (allowed: %.60s)", h->method,
               h->path, allowed.buf);
      json_t *doc = json_pack("{s:i,s:{s:s,s:s}}", "version", 1, "error", "code",
                              "method_not_allowed", "message", msg);
      char *text = json_dumps(doc, JSON_COMPACT);
      json_decref(doc);
      const char *hdr[] = {"Allow", allowed.buf, NULL};
      http_reply(h, 405, "application/json", text, strlen(text), hdr);
      free(text);
    } else {
      char msg[200];
      snprintf(msg, sizeof msg, "nothing is served at %.120s", h->path);
      http_reply_error(h, "not_found", msg);
    }
    sbuf_free(&allowed);
    return;
  }
  sbuf_free(&allowed);
  h->route = r;
  char err[256] = "";
  if (httpauth_identify(c, http_header(h, "Authorization"), http_cookie(h, HTTPAUTH_COOKIE),
                        &h->ident, err, sizeof err) < 0) {
    memset(&h->ident, 0, sizeof h->ident);
    if (!(r->flags & HTTP_ROUTE_PUBLIC)) {
      http_reply_error(h, "unauthorized", err);
      return;
    }
  }
  if ((r->flags & HTTP_ROUTE_WRITES) && h->ident.kind == HTTP_AUTH_SESSION &&
      !httpauth_csrf_ok(c, &h->ident, http_header(h, "X-CSRF-Token"))) {
    http_reply_error(h, "forbidden",
                     "a browser session's change needs its CSRF token in the X-CSRF-Token "
                     "header (GET /api/v1/session gives it)");
    return;
  }
  r->fn(c, h);
}

static void req_free(http_req_t *h) {
  http_t *s = h->srv;
  if (h->prev)
    h->prev->next = h->next;
  else if (s->live == h)
    s->live = h->next;
  if (h->next)
    h->next->prev = h->prev;
  if (h->resp)
    MHD_destroy_response(h->resp);
  for (size_t i = 0; i < h->ncaps; i++)
    free(h->caps[i]);
  sbuf_free(&h->body);
  free(h->method);
  free(h->path);
  free(h);
}

static enum MHD_Result queue_answer(http_req_t *h) {
  struct MHD_Response *resp = h->resp;
  h->resp = NULL;
  h->queued = true;
  metrics_observe_http(h->srv->c, (int)h->status);
  enum MHD_Result rc = MHD_queue_response(h->conn, h->status, resp);
  MHD_destroy_response(resp);
  return rc;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Percent-decoding of the path and the query (libmicrohttpd's, but %00 is
 * kept as the three characters: a decoded NUL would cut the C string, so
 * "/api/v1/jobs/1%00" would read as job 1). */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *conn, char *str) {
  (void)cls, (void)conn;
  char *w = str;
  for (const char *r = str; *r;) {
    int hi, lo;
    if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) {
      *w++ = (char)(hi << 4 | lo);
      r += 3;
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
  return (size_t)(w - str);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
  (void)version;
  http_t *s = cls;
  http_req_t *h = *con_cls;
  if (!h) {
    h = xcalloc(1, sizeof *h);
    h->srv = s;
    h->conn = conn;
    h->method = xstrdup(method);
    h->path = xstrdup(url);
    h->next = s->live;
    if (h->next)
      h->next->prev = h;
    s->live = h;
    *con_cls = h;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > HTTP_MAX_BODY) {
      h->too_large = true;
      h->routed = true;
      run_route(h); /* answers at once, without reading the body */
      return queue_answer(h);
    }
    return MHD_YES;
  }
  if (h->resp && !h->queued) {
    *upload_data_size = 0;
    return queue_answer(h);
  }
  if (*upload_data_size) {
    if (!h->too_large && h->body.len + *upload_data_size <= HTTP_MAX_BODY)
      sbuf_append(&h->body, upload_data, *upload_data_size);
    else
      h->too_large = true;
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (h->routed)
    return MHD_YES;
  h->routed = true;
  if (s->closing) {
    http_reply_error(h, "unavailable", "the coordinator is shutting down");
    return queue_answer(h);
  }
  h->in_route = true;
  run_route(h);
  h->in_route = false;
  if (h->resp)
    return queue_answer(h);
  h->suspended = true;
  MHD_suspend_connection(conn);
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)conn;
  (void)toe;
  http_req_t *h = *con_cls;
  if (h)
    req_free(h);
  *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  static log_limit_t limit = LOG_LIMIT_INIT("HTTP library messages", 10);
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = '\0';
  log_warn_limited(&limit, "http: %s", msg);
}

/* ------------------------------------------------------------ start, stop */

static char *read_pem(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  sbuf_t sb = {0};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0 && sb.len < (1u << 20))
    sbuf_append(&sb, buf, n);
  fclose(f);
  if (!sb.len) {
    snprintf(err, errlen, "%s: empty", path);
    sbuf_free(&sb);
    return NULL;
  }
  return sbuf_steal(&sb);
}

/* "HOST:PORT" or "[V6]:PORT" into addr; 0, or -1 with err. */
static int parse_bind(const char *bind, struct sockaddr_storage *addr, char *host, size_t hostlen,
                      char *err, size_t errlen) {
  const char *colon = strrchr(bind, ':');
  if (!colon || colon == bind) {
    snprintf(err, errlen, "--bind-http: '%.100s' is not HOST:PORT", bind);
    return -1;
  }
  size_t n = (size_t)(colon - bind);
  const char *h = bind;
  if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
    h++;
    n -= 2;
  }
  if (n >= hostlen) {
    snprintf(err, errlen, "--bind-http: the host of '%.100s' is too long", bind);
    return -1;
  }
  memcpy(host, h, n);
  host[n] = '\0';
  char *end;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (errno || *end || end == colon + 1 || port > 65535) {
    snprintf(err, errlen, "--bind-http: '%.40s' is not a port (0-65535)", colon + 1);
    return -1;
  }
  memset(addr, 0, sizeof *addr);
  struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
  if (!strcmp(host, "localhost"))
    snprintf(host, hostlen, "127.0.0.1");
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
  } else {
    snprintf(err, errlen, "--bind-http: '%.64s' is not an IPv4 or IPv6 address", host);
    return -1;
  }
  return 0;
}

int http_check(const http_settings_t *set, char *err, size_t errlen) {
  if (!set->bind || !*set->bind || !strcmp(set->bind, "none"))
    return 0;
  struct sockaddr_storage addr;
  char host[128];
  if (parse_bind(set->bind, &addr, host, sizeof host, err, errlen) < 0)
    return -1;
  bool tls = set->cert_file || set->key_file;
  if (tls && !(set->cert_file && set->key_file)) {
    snprintf(err, errlen, "--http-cert and --http-key go together (TLS needs both)");
    return -1;
  }
  char ep[200];
  snprintf(ep, sizeof ep, "tcp://%s", set->bind);
  if (!tls && !set->insecure && !auth_endpoint_local(ep)) {
    snprintf(err, errlen,
             "--bind-http %.100s is not a loopback address: give --http-cert and --http-key "
             "(TLS), or --http-insecure to serve sessions and tokens in clear text",
             set->bind);
    return -1;
  }
  return 0;
}

int http_open(coord_t *c, const http_settings_t *set, char *err, size_t errlen) {
  if (!set->bind || !*set->bind || !strcmp(set->bind, "none"))
    return 0;
  if (http_check(set, err, errlen) < 0)
    return -1;
  struct sockaddr_storage addr;
  char host[128];
  if (parse_bind(set->bind, &addr, host, sizeof host, err, errlen) < 0)
    return -1;
  bool tls = set->cert_file || set->key_file;
  http_t *s = xcalloc(1, sizeof *s);
  s->c = c;
  s->tls = tls;
  if (tls) {
    s->cert = read_pem(set->cert_file, err, errlen);
    s->key = s->cert ? read_pem(set->key_file, err, errlen) : NULL;
    if (!s->key) {
      free(s->cert);
      free(s);
      return -1;
    }
  }
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (tls)
    flags |= MHD_USE_TLS;
  if (addr.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  struct MHD_OptionItem opts[] = {
      {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
      {MHD_OPTION_SOCK_ADDR, 0, &addr},
      {MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS, NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, NULL},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
      {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_keep_nul, NULL},
      {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->cert},
      {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->key},
      {MHD_OPTION_END, 0, NULL},
  };
  s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, opts,
                          MHD_OPTION_END);
  if (!s->d) {
    snprintf(err, errlen, "cannot serve HTTP on %.100s%s (in use? see the log above)", set->bind,
             tls ? " with TLS" : "");
    free(s->cert);
    free(s->key);
    free(s);
    return -1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
  const union MHD_DaemonInfo *pinfo = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  unsigned port = pinfo ? pinfo->port : 0;
  if (set->url && *set->url) {
    s->base_url = xstrdup(set->url);
    size_t n = strlen(s->base_url);
    while (n > 1 && s->base_url[n - 1] == '/')
      s->base_url[--n] = '\0';
  } else {
    const char *shown = host;
    char name[256];
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::")) {
      shown = gethostname(name, sizeof name) == 0 ? name : "localhost";
      name[sizeof name - 1] = '\0';
    }
    bool v6 = strchr(shown, ':') != NULL;
    s->base_url = xasprintf("%s://%s%s%s:%u", tls ? "https" : "http", v6 ? "[" : "", shown,
                            v6 ? "]" : "", port);
  }
  c->http = s;
  uv_poll_init(c->loop, &s->poll, info->epoll_fd);
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  uv_timer_init(c->loop, &s->timer);
  s->timer.data = s;
  log_info("serving HTTP at %s (%s)", s->base_url, tls ? "TLS" : "no TLS");
  return 0;
}

void http_quiesce(coord_t *c) {
  http_t *s = c->http;
  if (!s || s->closing)
    return;
  s->closing = true;
  for (http_stream_t *st = s->streams; st; st = st->next) {
    st->ended = true;
    if (st->waiting) {
      st->waiting = false;
      MHD_resume_connection(st->conn);
    }
  }
  pump(s);
}

static void on_closed(uv_handle_t *hd) {
  http_t *s = hd->data;
  if (--s->open_handles == 0) {
    free(s->base_url);
    free(s->cert);
    free(s->key);
    free(s);
  }
}

void http_close(coord_t *c) {
  http_t *s = c->http;
  if (!s)
    return;
  http_quiesce(c);
  /* MHD must not stop with suspended connections: answer what waits. */
  for (http_req_t *h = s->live; h; h = h->next)
    if (h->suspended && !h->resp) {
      struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"",
                                                                  MHD_RESPMEM_PERSISTENT);
      h->status = 503;
      h->resp = resp;
      h->suspended = false;
      MHD_resume_connection(h->conn);
    }
  MHD_run(s->d);
  MHD_stop_daemon(s->d); /* completes every request: req_free, stream_free */
  s->d = NULL;
  c->http = NULL;
  s->open_handles = 2;
  uv_close((uv_handle_t *)&s->poll, on_closed);
  uv_close((uv_handle_t *)&s->timer, on_closed);
}
