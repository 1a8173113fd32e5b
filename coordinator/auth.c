/*
 * auth.c - the key registry, the ZAP handler and roles, see auth.h.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "httpauth.h"
#include "keys.h"
#include "log.h"
#include "query.h"
#include "store.h"
#include "workers.h"
#include "zwatch.h"

typedef struct principal {
  char *name, *role, *public_key, *added_by;
  int64_t added_us;
} principal_t;

struct auth {
  principal_t *p;
  size_t n, cap;
  keys_key_t server; /* the coordinator's pair */
  bool secure;
  void *zap;         /* REP on inproc://zeromq.zap.01 */
  zwatch_t *watch;
};

static const char *const roles[ROLE_COUNT] = {
    [ROLE_SUBMITTER] = "submitter", [ROLE_SUPERVISOR] = "supervisor",
    [ROLE_OPERATOR] = "operator",   [ROLE_AUDITOR] = "auditor",
    [ROLE_ADMIN] = "admin",         [ROLE_WORKER] = "worker"};

const char *auth_role_name(role_t r) { return (unsigned)r < ROLE_COUNT ? roles[r] : "?"; }

int auth_role_parse(const char *name) {
  for (int i = 0; name && i < ROLE_COUNT; i++)
    if (!strcmp(name, roles[i]))
      return i;
  return -1;
}

static auth_t *get(coord_t *c) {
  if (!c->auth)
    c->auth = xcalloc(1, sizeof(auth_t));
  return c->auth;
}

static const principal_t *by_name(const auth_t *a, const char *name) {
  for (size_t i = 0; a && i < a->n; i++)
    if (!strcmp(a->p[i].name, name))
      return &a->p[i];
  return NULL;
}

static const principal_t *by_key(const auth_t *a, const char *z85) {
  for (size_t i = 0; a && i < a->n; i++)
    if (!strcmp(a->p[i].public_key, z85))
      return &a->p[i];
  return NULL;
}

static void add_mem(auth_t *a, const char *name, const char *role, const char *key,
                    const char *by, int64_t at) {
  ARRAY_RESERVE(a->p, a->n, a->cap, 1);
  principal_t *p = &a->p[a->n++];
  p->name = xstrdup(name);
  p->role = xstrdup(role);
  p->public_key = xstrdup(key);
  p->added_by = xstrdup(by);
  p->added_us = at;
}

static void free_one(principal_t *p) {
  free(p->name);
  free(p->role);
  free(p->public_key);
  free(p->added_by);
}

int auth_load(coord_t *c, PGconn *conn, const char *admin_pub, char *err, size_t errlen) {
  auth_t *a = get(c);
  if (admin_pub) {
    keys_key_t k;
    if (keys_load(admin_pub, &k, err, errlen) < 0)
      return -1;
    const char *p[2] = {k.public_key, k.name};
    PGresult *r = PQexecParams(conn,
                               "INSERT INTO keys (public_key, name, role, added_by) "
                               "VALUES ($1, $2, 'admin', 'coordinator') ON CONFLICT DO NOTHING",
                               2, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
      snprintf(err, errlen, "registering the admin key %s: %s", admin_pub,
               PQresultErrorMessage(r));
    else if (!strcmp(PQcmdTuples(r), "1"))
      log_info("registered %s as an admin (from %s)", k.name, admin_pub);
    PQclear(r);
    keys_wipe(&k);
    if (!ok)
      return -1;
  }
  PGresult *r = pgconn_query_sync(conn,
                                  "SELECT name, role, public_key, added_by, "
                                  "(extract(epoch FROM added_at) * 1000000)::bigint FROM keys "
                                  "ORDER BY name",
                                  "loading the key registry", err, errlen);
  if (!r)
    return -1;
  for (int i = 0; i < PQntuples(r); i++)
    add_mem(a, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
            PQgetvalue(r, i, 3), strtoll(PQgetvalue(r, i, 4), NULL, 10));
  PQclear(r);
  return 0;
}

/* Receives one frame into buf (at most cap bytes, NUL added); its length
 * or -1; *more tells whether frames follow. */
static int recv_frame(void *sock, char *buf, size_t cap, int *more) {
  zmq_msg_t m;
  zmq_msg_init(&m);
  if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
    zmq_msg_close(&m);
    *more = 0;
    return -1;
  }
  size_t n = zmq_msg_size(&m);
  if (n >= cap)
    n = cap - 1;
  memcpy(buf, zmq_msg_data(&m), n);
  buf[n] = '\0';
  *more = zmq_msg_more(&m);
  int len = (int)zmq_msg_size(&m);
  zmq_msg_close(&m);
  return len;
}

static void zap_reply(void *sock, const char *id, size_t idlen, const char *code,
                      const char *text, const char *user) {
  zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
  zmq_send(sock, id, idlen, ZMQ_SNDMORE);
  zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
  zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
  zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
  zmq_send(sock, "", 0, 0);
}

/* A ZAP request: version, request id, domain, address, identity,
 * mechanism, credentials (for CURVE: the client's 32-byte public key). */
static void on_zap(zwatch_t *w, void *sock, void *arg) {
  coord_t *c = arg;
  (void)w;
  for (int budget = 0; budget < 64; budget++) {
    char frames[7][256];
    int lens[7] = {0};
    int more = 1, n = 0;
    while (more && n < 7) {
      lens[n] = recv_frame(sock, frames[n], sizeof frames[n], &more);
      if (lens[n] < 0)
        break;
      n++;
    }
    if (n == 0)
      return;
    while (more) { /* more frames than a CURVE request has */
      char skip[8];
      if (recv_frame(sock, skip, sizeof skip, &more) < 0)
        break;
    }
    size_t idlen = n > 1 ? (size_t)lens[1] : 0;
    if (idlen > sizeof frames[1] - 1)
      idlen = sizeof frames[1] - 1;
    const char *id = n > 1 ? frames[1] : "";
    if (n < 7 || strcmp(frames[0], "1.0") != 0 || strcmp(frames[5], "CURVE") != 0 ||
        lens[6] != 32) {
      zap_reply(sock, id, idlen, "400", "CURVE keys only", "");
      continue;
    }
    char z85[KEYS_Z85_LEN + 1];
    zmq_z85_encode(z85, (const uint8_t *)frames[6], 32);
    const principal_t *p = by_key(c->auth, z85);
    bool workers = !strcmp(frames[2], "workers");
    bool ok = p && (workers ? !strcmp(p->role, "worker") : strcmp(p->role, "worker") != 0);
    if (!ok) {
      static log_limit_t refused[2] = {LOG_LIMIT_INIT("refused client connections", 10),
                                       LOG_LIMIT_INIT("refused worker connections", 10)};
      log_warn_limited(&refused[workers], "refused a %s connection from %s: %s",
                       workers ? "worker" : "client", frames[3],
                       p ? "the key's role does not belong on this socket" : "unknown key");
      zap_reply(sock, id, idlen, "400", "key not admitted", "");
      continue;
    }
    /* The User-Id is the key itself: each message is checked against the
     * registry when it arrives (auth_role_of), so that removing a key ends
     * its open connections too. */
    zap_reply(sock, id, idlen, "200", "OK", p->public_key);
  }
}

int auth_start(coord_t *c, char *err, size_t errlen) {
  auth_t *a = get(c);
  if (!c->cfg.keys_dir) {
    log_warn("no --keys: connections are not authenticated: every client acts as an admin "
             "and any process that reaches the workers socket gets tasks and their secret "
             "environment; give the coordinator keys on any shared network");
    return 0;
  }
  char *path = keys_path(c->cfg.keys_dir, KEYS_SERVER_NAME, "key");
  int rc = keys_load(path, &a->server, err, errlen);
  free(path);
  if (rc < 0)
    return -1;
  if (!a->server.secret_key[0]) {
    snprintf(err, errlen, "--keys %s: coordinator.key holds no secret key", c->cfg.keys_dir);
    return -1;
  }
  a->zap = zmq_socket(c->zctx, ZMQ_REP);
  int linger = 0;
  zmq_setsockopt(a->zap, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_bind(a->zap, "inproc://zeromq.zap.01") < 0) {
    snprintf(err, errlen, "cannot start the ZAP handler: %s", zmq_strerror(errno));
    return -1;
  }
  a->watch = zwatch_start(c->loop, a->zap, on_zap, c);
  a->secure = true;
  log_info("CURVE on, %zu keys registered", a->n);
  return a->watch ? 0 : -1;
}

bool auth_endpoint_local(const char *ep) {
  if (!ep)
    return false;
  if (!strncmp(ep, "ipc://", 6) || !strncmp(ep, "inproc://", 9))
    return true;
  if (strncmp(ep, "tcp://", 6) != 0)
    return false;
  const char *host = ep + 6, *colon = strrchr(host, ':');
  if (!colon || colon == host)
    return false;
  char h[64];
  size_t n = (size_t)(colon - host);
  if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
    host++;
    n -= 2;
  }
  if (n >= sizeof h)
    return false;
  memcpy(h, host, n);
  h[n] = '\0';
  struct in_addr v4;
  struct in6_addr v6;
  if (inet_pton(AF_INET, h, &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, h, &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6);
  return !strcmp(h, "localhost") || !strcmp(h, "lo");
}

bool auth_secure(const coord_t *c) { return c->auth && c->auth->secure; }

void auth_server(coord_t *c, void *sock, const char *domain) {
  auth_t *a = get(c);
  if (!a->secure)
    return;
  int one = 1;
  zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one);
  zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, a->server.secret_key, KEYS_Z85_LEN);
  zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain));
}

int auth_role_of(const coord_t *c, const char *key) {
  const auth_t *a = c->auth;
  if (!a || !a->secure)
    return ROLE_ADMIN;
  const principal_t *p = by_key(a, key ? key : "");
  return p ? auth_role_parse(p->role) : -1;
}

const char *auth_name_of(const coord_t *c, const char *key) {
  const auth_t *a = c->auth;
  if (!a || !a->secure)
    return "anonymous";
  const principal_t *p = by_key(a, key ? key : "");
  return p ? p->name : NULL;
}

int auth_role_of_name(const coord_t *c, const char *name) {
  const auth_t *a = c->auth;
  if (!a || !a->secure)
    return ROLE_ADMIN;
  const principal_t *p = by_name(a, name ? name : "");
  return p ? auth_role_parse(p->role) : -1;
}

static json_t *user_json(const principal_t *p) {
  char at[40];
  util_iso8601(p->added_us, at, sizeof at);
  return json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", p->name, "role", p->role, "public_key",
                   p->public_key, "added_by", p->added_by, "added_at", at);
}

static void user_event(coord_t *c, const char *actor, const char *kind, const principal_t *p) {
  json_t *d = json_pack("{s:s,s:s}", "role", p->role, "public_key", p->public_key);
  char *dj = json_dumps(d, JSON_COMPACT);
  store_event(c, actor, kind, "user", p->name, dj);
  free(dj);
  json_decref(d);
}

static const char SQL_KEY_ADD[] =
    "INSERT INTO keys (public_key, name, role, added_by, added_at) "
    "VALUES ($1, $2, $3, $4, clapper_ts($5))";
static const char SQL_KEY_REMOVE[] = "DELETE FROM keys WHERE name = $1";

int auth_add(coord_t *c, const char *name, const char *role, const char *public_key,
             const char *actor, json_t **doc, const char **code, char *err, size_t errlen) {
  auth_t *a = get(c);
  *code = "bad_request";
  if (!ident_valid(name))
    return snprintf(err, errlen, "name: '%.64s' is not an identifier", name), -1;
  if (auth_role_parse(role) < 0)
    return snprintf(err, errlen, "role: '%.32s' is not one of submitter, supervisor, operator, "
                                 "auditor, admin, worker", role), -1;
  if (!keys_z85_valid(public_key))
    return snprintf(err, errlen, "public key: not a CURVE public key (40 characters of Z85)"), -1;
  *code = "conflict";
  if (by_name(a, name))
    return snprintf(err, errlen, "user %s is registered already", name), -1;
  const principal_t *other = by_key(a, public_key);
  if (other)
    return snprintf(err, errlen, "that key is registered already, as %s", other->name), -1;
  int64_t now = util_wall_us();
  add_mem(a, name, role, public_key, actor, now);
  const principal_t *p = &a->p[a->n - 1];
  char *params[5] = {xstrdup(public_key), xstrdup(name), xstrdup(role), xstrdup(actor),
                     xasprintf("%" PRId64, now)};
  store_stmt(c, "SQL_KEY_ADD", SQL_KEY_ADD, 5, params);
  user_event(c, actor, "user.add", p);
  log_info("%s registered %s as %s", actor, name, role);
  *doc = json_pack("{s:o}", "user", user_json(p));
  return 0;
}

int auth_remove(coord_t *c, const char *name, const char *actor, json_t **doc,
                const char **code, char *err, size_t errlen) {
  auth_t *a = get(c);
  const principal_t *p = by_name(a, name);
  if (!p) {
    *code = "not_found";
    return snprintf(err, errlen, "no such user: %.64s", name), -1;
  }
  size_t admins = 0;
  for (size_t i = 0; i < a->n; i++)
    admins += !strcmp(a->p[i].role, "admin");
  if (!strcmp(p->role, "admin") && admins == 1) {
    *code = "conflict";
    return snprintf(err, errlen, "%s is the last admin: add another admin first", name), -1;
  }
  *doc = json_pack("{s:o}", "user", user_json(p));
  user_event(c, actor, "user.remove", p);
  char *params[1] = {xstrdup(name)};
  store_stmt(c, "SQL_KEY_REMOVE", SQL_KEY_REMOVE, 1, params);
  log_info("%s removed user %s", actor, name);
  bool worker = !strcmp(p->role, "worker");
  char *gone = xstrdup(p->name);
  size_t i = (size_t)(p - a->p);
  free_one(&a->p[i]);
  a->p[i] = a->p[--a->n];
  /* Its sessions end now: client requests are refused from the next one
   * on (looked up by key), a worker is lost at once. */
  if (worker && a->secure)
    workers_revoke(c, gone, "its key was removed from the registry");
  httpauth_key_removed(c, gone);
  free(gone);
  return 0;
}

json_t *auth_list(const coord_t *c) {
  json_t *arr = json_array();
  for (size_t i = 0; c->auth && i < c->auth->n; i++)
    json_array_append_new(arr, user_json(&c->auth->p[i]));
  return json_pack("{s:o}", "users", arr);
}

static json_t *user_item(const void *p) { return user_json(p); }

json_t *auth_list_page(const coord_t *c, unsigned limit, const char *after) {
  size_t n = c->auth ? c->auth->n : 0;
  query_named_t *items = xcalloc(n ? n : 1, sizeof *items);
  for (size_t i = 0; i < n; i++)
    items[i] = (query_named_t){c->auth->p[i].name, &c->auth->p[i]};
  json_t *doc = query_name_page("users", items, n, limit, after, user_item);
  free(items);
  return doc;
}

void auth_free(coord_t *c) {
  auth_t *a = c->auth;
  if (!a)
    return;
  c->auth = NULL;
  zwatch_stop(&a->watch);
  if (a->zap)
    zmq_close(a->zap);
  for (size_t i = 0; i < a->n; i++)
    free_one(&a->p[i]);
  free(a->p);
  keys_wipe(&a->server);
  free(a);
}
