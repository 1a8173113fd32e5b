/*
 * test_auth.c - roles, the key registry and the ZAP handler.
 *
 * In memory first: without keys everyone is an admin; role names round
 * trip; auth_add refuses an invalid name, an unknown role, a key that is
 * not Z85, a name or a key registered twice, and queues nothing then;
 * auth_remove refuses an unknown user and the last admin; what is added
 * and removed shows in auth_list at once.  Then real CURVE over TCP, the
 * coordinator's side as coordinator/main.c sets it up (auth_start with
 * key pairs made by keys_generate in a temporary directory, ROUTERs made
 * CURVE servers by auth_server for the domains "clients" and "workers"),
 * with the libuv loop run in bounded steps so that the ZAP handler
 * answers: a registered client key connects and its messages carry its
 * public key as the User-Id, which the registry maps to its name; an open
 * connection of a key removed and replaced under the same name is
 * nobody's; an unregistered key, a worker key on the clients
 * socket and a client key on the workers socket are refused (the client's
 * monitor sees the refusal, and no message arrives); a removed user's
 * role is gone at once and its next connection is refused.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "auth.h"
#include "check.h"
#include "codec.h"
#include "keys.h"
#include "log.h"
#include "memcoord.h"
#include "model.h"
#include "store.h"

/* ------------------------------------------------------------ in memory */

static void test_roles(void) {
  for (int r = 0; r < ROLE_COUNT; r++)
    CHECK_INT(auth_role_parse(auth_role_name((role_t)r)), r);
  CHECK_STR(auth_role_name(ROLE_ADMIN), "admin");
  CHECK_STR(auth_role_name(ROLE_WORKER), "worker");
  CHECK_STR(auth_role_name(ROLE_COUNT), "?");
  CHECK_INT(auth_role_parse("root"), -1);
  CHECK_INT(auth_role_parse("Admin"), -1);
  CHECK_INT(auth_role_parse(""), -1);
  CHECK_INT(auth_role_parse(NULL), -1);
}

/* A fresh CURVE public key in Z85 (the secret is not needed). */
static void new_key(char pub[41]) {
  char sec[41];
  CHECK_INT(zmq_curve_keypair(pub, sec), 0);
}

static void test_endpoint_local(void) {
  const char *local[] = {"ipc:///tmp/x.sock", "inproc://x", "tcp://127.0.0.1:7710",
                         "tcp://127.1.2.3:1", "tcp://[::1]:7710", "tcp://localhost:7710",
                         "tcp://lo:7710"};
  const char *remote[] = {"tcp://*:7710", "tcp://0.0.0.0:7710", "tcp://10.0.0.1:7710",
                          "tcp://[::]:7710", "tcp://eth0:7710", "tcp://128.0.0.1:1",
                          "tcp://127.0.0.1", "tcp://:7710", "ws://127.0.0.1:7710",
                          "pgm://127.0.0.1;239.192.1.1:5555", "tcp://example.com:7710", "",
                          "tcp://[::1:7710"};
  for (size_t i = 0; i < ARRAY_SIZE(local); i++)
    CHECK_STR(auth_endpoint_local(local[i]) ? local[i] : "remote", local[i]);
  for (size_t i = 0; i < ARRAY_SIZE(remote); i++)
    CHECK_STR(auth_endpoint_local(remote[i]) ? "local" : remote[i], remote[i]);
  CHECK(!auth_endpoint_local(NULL));
}

static void test_without_keys(void) {
  coord_t *c = memcoord_new();
  CHECK_INT(auth_role_of(c, "anyone"), ROLE_ADMIN);
  CHECK_INT(auth_role_of(c, ""), ROLE_ADMIN);
  CHECK_INT(auth_role_of(c, NULL), ROLE_ADMIN);
  char err[200] = "";
  CHECK_INT(auth_start(c, err, sizeof err), 0); /* no keys_dir: nothing to start */
  char key[41];
  new_key(key);
  json_t *doc = NULL;
  const char *code = NULL;
  CHECK_INT(auth_add(c, "alice", "submitter", key, "root", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  CHECK_INT(auth_role_of(c, "alice"), ROLE_ADMIN); /* nothing is authenticated */
  CHECK_INT(auth_role_of(c, "bob"), ROLE_ADMIN);
  auth_free(c);
  CHECK(c->auth == NULL);
  memcoord_free(c);
}

/* The name of user i of an auth_list document, or NULL. */
static const char *listed(const json_t *doc, size_t i) {
  return json_string_value(json_object_get(json_array_get(json_object_get(doc, "users"), i), "name"));
}

static size_t nlisted(const json_t *doc) { return json_array_size(json_object_get(doc, "users")); }

static void test_registry(void) {
  coord_t *c = memcoord_new();
  char k1[41], k2[41], k3[41], err[256];
  new_key(k1);
  new_key(k2);
  new_key(k3);
  json_t *doc = NULL;
  const char *code = NULL;
  CHECK(store_idle(c));

  /* Refusals: a one-line reason, nothing kept, nothing queued. */
  CHECK_INT(auth_add(c, "Not A Name", "submitter", k1, "root", &doc, &code, err, sizeof err), -1);
  CHECK_STR(code, "bad_request");
  CHECK_CONTAINS(err, "is not an identifier");
  CHECK_INT(auth_add(c, "alice", "root", k1, "root", &doc, &code, err, sizeof err), -1);
  CHECK_STR(code, "bad_request");
  CHECK_CONTAINS(err, "role: 'root' is not one of");
  CHECK_INT(auth_add(c, "alice", "submitter", "not-a-key", "root", &doc, &code, err, sizeof err), -1);
  CHECK_STR(code, "bad_request");
  CHECK_CONTAINS(err, "not a CURVE public key");
  char bad[41];
  memset(bad, ' ', 40); /* 40 characters, not Z85 */
  bad[40] = '\0';
  CHECK_INT(auth_add(c, "alice", "submitter", bad, "root", &doc, &code, err, sizeof err), -1);
  CHECK_STR(code, "bad_request");
  CHECK(doc == NULL);
  CHECK(strchr(err, '\n') == NULL);
  json_t *list = auth_list(c);
  CHECK_INT(nlisted(list), 0);
  json_decref(list);
  CHECK(store_idle(c));

  /* Added: in the reply, in the list, and queued for the database. */
  CHECK_INT(auth_add(c, "admin1", "admin", k1, "root", &doc, &code, err, sizeof err), 0);
  json_t *u = json_object_get(doc, "user");
  CHECK_STR(json_string_value(json_object_get(u, "name")), "admin1");
  CHECK_STR(json_string_value(json_object_get(u, "role")), "admin");
  CHECK_STR(json_string_value(json_object_get(u, "public_key")), k1);
  CHECK_STR(json_string_value(json_object_get(u, "added_by")), "root");
  CHECK(json_string_value(json_object_get(u, "added_at")) != NULL);
  json_decref(doc);
  doc = NULL;
  CHECK(!store_idle(c));

  /* The same name, or the same key, again: conflicts. */
  CHECK_INT(auth_add(c, "admin1", "submitter", k2, "root", &doc, &code, err, sizeof err), -1);
  CHECK_STR(code, "conflict");
  CHECK_STR(err, "user admin1 is registered already");
  CHECK_INT(auth_add(c, "bob", "submitter", k1, "root", &doc, &code, err, sizeof err), -1);
  CHECK_STR(code, "conflict");
  CHECK_STR(err, "that key is registered already, as admin1");
  CHECK(doc == NULL);

  /* The last admin stays; an unknown user is not found. */
  CHECK_INT(auth_remove(c, "admin1", "root", &doc, &code, err, sizeof err), -1);
  CHECK_STR(code, "conflict");
  CHECK_CONTAINS(err, "admin1 is the last admin");
  CHECK_INT(auth_remove(c, "ghost", "root", &doc, &code, err, sizeof err), -1);
  CHECK_STR(code, "not_found");
  CHECK_STR(err, "no such user: ghost");
  CHECK(doc == NULL);
  list = auth_list(c);
  CHECK_INT(nlisted(list), 1);
  json_decref(list);

  /* With another admin, the first may go; its key is free again. */
  CHECK_INT(auth_add(c, "admin2", "admin", k2, "admin1", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  CHECK_INT(auth_add(c, "alice", "submitter", k3, "admin1", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  doc = NULL;
  CHECK_INT(auth_remove(c, "admin1", "admin2", &doc, &code, err, sizeof err), 0);
  CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "user"), "name")), "admin1");
  json_decref(doc);
  list = auth_list(c);
  CHECK_INT(nlisted(list), 2);
  for (size_t i = 0; i < nlisted(list); i++)
    CHECK(strcmp(listed(list, i), "admin1") != 0);
  json_decref(list);
  CHECK_INT(auth_add(c, "carol", "operator", k1, "admin2", &doc, &code, err, sizeof err), 0);
  json_decref(doc);

  /* users list pages in name order: admin2, alice | carol. */
  list = auth_list_page(c, 2, NULL);
  CHECK_INT(nlisted(list), 2);
  CHECK_STR(listed(list, 0), "admin2");
  CHECK_STR(listed(list, 1), "alice");
  CHECK(json_is_true(json_object_get(list, "more")));
  CHECK_STR(json_string_value(json_object_get(list, "next_after")), "alice");
  json_decref(list);
  list = auth_list_page(c, 2, "alice");
  CHECK_INT(nlisted(list), 1);
  CHECK_STR(listed(list, 0), "carol");
  CHECK(json_is_false(json_object_get(list, "more")));
  CHECK(json_is_null(json_object_get(list, "next_after")));
  json_decref(list);
  auth_free(c);
  memcoord_free(c);
}

/* ------------------------------------------------------------ over CURVE */

static char dir[] = "/tmp/clapper-test-auth-XXXXXX";

/* A ROUTER for domain, a CURVE server as coordinator/main.c makes it,
 * bound to a free port; its endpoint in ep. */
static void *router(coord_t *c, const char *domain, char *ep, size_t eplen) {
  void *s = zmq_socket(c->zctx, ZMQ_ROUTER);
  int zero = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  auth_server(c, s, domain);
  CHECK_INT(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
  zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &eplen);
  return s;
}

typedef struct peer {
  void *sock, *mon;
} peer_t;

/* A DEALER with name's key pair connects to ep and sends one message (it
 * waits in the DEALER until the handshake succeeds). */
static peer_t dial(coord_t *c, const char *name, const char *ep) {
  peer_t p = {zmq_socket(c->zctx, ZMQ_DEALER), NULL};
  int zero = 0;
  zmq_setsockopt(p.sock, ZMQ_LINGER, &zero, sizeof zero);
  char *keyfile = keys_path(dir, name, "key"), *server = keys_path(dir, "coordinator", "pub");
  char err[512];
  int rc = keys_client(p.sock, keyfile, server, NULL, err, sizeof err);
  if (rc < 0)
    fprintf(stderr, "keys_client: %s\n", err);
  CHECK_INT(rc, 0);
  free(keyfile);
  free(server);
  p.mon = keys_monitor_open(c->zctx, p.sock, err, sizeof err);
  CHECK(p.mon != NULL);
  CHECK_INT(zmq_connect(p.sock, ep), 0);
  Clapper__Heartbeat hb = CLAPPER__HEARTBEAT__INIT;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_HEARTBEAT;
  env.heartbeat = &hb;
  CHECK_INT(codec_send(p.sock, NULL, 0, &env), 0);
  return p;
}

static void hang_up(peer_t *p) {
  keys_monitor_close(p->sock, &p->mon);
  zmq_close(p->sock);
  p->sock = NULL;
}

/* Runs the loop (where the ZAP handler answers) and polls r for up to ms;
 * returns true when a message arrived, its User-Id in user. */
static bool arrives(void *r, char *user, int ms) {
  uint64_t deadline = util_mono_us() + (uint64_t)ms * 1000;
  while (util_mono_us() < deadline) {
    uv_run(memcoord_loop(), UV_RUN_NOWAIT);
    zmq_pollitem_t it = {r, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 5) <= 0)
      continue;
    uint8_t ident[CODEC_MAX_IDENT];
    size_t identlen = 0;
    envelope_t *env = NULL;
    char err[200];
    int rc = codec_recv(r, ident, &identlen, user, CODEC_MAX_WORKER_MSG, &env, err, sizeof err);
    codec_free(&env);
    if (rc != 0)
      return true;
  }
  return false;
}

/* Runs the loop until p's monitor says the handshake was refused (at
 * most 5 s). */
static bool refused(peer_t *p) {
  uint64_t deadline = util_mono_us() + 5000000;
  while (util_mono_us() < deadline) {
    uv_run(memcoord_loop(), UV_RUN_NOWAIT);
    zmq_pollitem_t it = {p->mon, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 5) <= 0)
      continue;
    keys_event_t e;
    while ((e = keys_monitor_read(p->mon, NULL)) != KEYS_EVENT_NONE) {
      if (e == KEYS_EVENT_REFUSED)
        return true;
      if (e == KEYS_EVENT_OK)
        return false;
    }
  }
  return false;
}

/* name's connection to ep is admitted and its message carries its public
 * key (User-Id), which the registry maps to name. */
static void check_admitted(coord_t *c, void *r, const char *ep, const char *name) {
  peer_t p = dial(c, name, ep);
  char user[CODEC_MAX_USER] = "";
  CHECK(arrives(r, user, 5000));
  CHECK_INT((int)strlen(user), KEYS_Z85_LEN);
  const char *who = auth_name_of(c, user);
  CHECK_STR(who ? who : "(none)", name);
  hang_up(&p);
}

/* An open connection outlives its key in ZeroMQ, not in the registry:
 * alice's connection, once admitted, is nobody's after her key is removed,
 * also when the name alice is registered again with another key. */
static void check_open_connection(coord_t *c, void *r, const char *ep, const char *bob_key) {
  peer_t p = dial(c, "alice", ep);
  char user[CODEC_MAX_USER] = "";
  CHECK(arrives(r, user, 5000));
  CHECK_INT(auth_role_of(c, user), ROLE_SUBMITTER);
  json_t *doc = NULL;
  const char *code;
  char err[256];
  CHECK_INT(auth_remove(c, "alice", "root", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  CHECK_INT(auth_add(c, "alice", "operator", bob_key, "root", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  CHECK_INT(codec_send(p.sock, NULL, 0,
                       &(envelope_t){.base = PROTOBUF_C_MESSAGE_INIT(&clapper__envelope__descriptor),
                                     .body_case = CLAPPER__ENVELOPE__BODY_HEARTBEAT,
                                     .heartbeat = &(Clapper__Heartbeat)CLAPPER__HEARTBEAT__INIT}),
            0);
  user[0] = '\0';
  CHECK(arrives(r, user, 5000)); /* the same connection, still open in ZeroMQ */
  CHECK_INT(auth_role_of(c, user), -1);
  CHECK(auth_name_of(c, user) == NULL);
  hang_up(&p);
  CHECK_INT(auth_remove(c, "alice", "root", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
}

/* name's connection to ep is refused and nothing reaches r. */
static void check_refused(coord_t *c, void *r, const char *ep, const char *name) {
  peer_t p = dial(c, name, ep);
  CHECK(refused(&p));
  char user[CODEC_MAX_USER] = "";
  CHECK(!arrives(r, user, 500));
  hang_up(&p);
}

static void remove_dir(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  if (d)
    closedir(d);
  rmdir(dir);
}

static void test_curve(void) {
  if (!mkdtemp(dir)) {
    CHECK(!"mkdtemp");
    return;
  }
  char err[512];
  keys_key_t k[4];
  const char *names[4] = {"coordinator", "alice", "bob", "w1"};
  for (int i = 0; i < 4; i++) {
    int rc = keys_generate(names[i], dir, &k[i], err, sizeof err);
    if (rc < 0)
      fprintf(stderr, "keys_generate: %s\n", err);
    CHECK_INT(rc, 0);
  }
  coord_t *c = memcoord_new();
  c->cfg.keys_dir = dir;
  c->zctx = zmq_ctx_new();
  json_t *doc = NULL;
  const char *code;
  CHECK_INT(auth_add(c, "alice", "submitter", k[1].public_key, "root", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  CHECK_INT(auth_add(c, "w1", "worker", k[3].public_key, "root", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  int rc = auth_start(c, err, sizeof err);
  if (rc < 0)
    fprintf(stderr, "auth_start: %s\n", err);
  CHECK_INT(rc, 0);

  /* With keys, roles are the registry's, by key; names are not keys. */
  CHECK(auth_secure(c));
  CHECK_INT(auth_role_of(c, k[1].public_key), ROLE_SUBMITTER);
  CHECK_INT(auth_role_of(c, k[3].public_key), ROLE_WORKER);
  CHECK_STR(auth_name_of(c, k[3].public_key), "w1");
  CHECK_INT(auth_role_of(c, k[2].public_key), -1);
  CHECK(auth_name_of(c, k[2].public_key) == NULL);
  CHECK_INT(auth_role_of(c, "alice"), -1);
  CHECK_INT(auth_role_of(c, ""), -1);
  CHECK_INT(auth_role_of(c, NULL), -1);

  char cep[256], wep[256];
  void *clients = router(c, "clients", cep, sizeof cep);
  void *workers = router(c, "workers", wep, sizeof wep);
  check_admitted(c, clients, cep, "alice");
  check_admitted(c, workers, wep, "w1");
  check_refused(c, clients, cep, "bob");     /* not registered */
  check_refused(c, clients, cep, "w1");      /* a worker key on the clients socket */
  check_refused(c, workers, wep, "alice");   /* a client key on the workers socket */

  check_open_connection(c, clients, cep, k[2].public_key);
  /* Removed: no role at once, and no new connection. */
  CHECK_INT(auth_add(c, "alice", "submitter", k[1].public_key, "root", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  CHECK_INT(auth_remove(c, "alice", "root", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  CHECK_INT(auth_role_of(c, k[1].public_key), -1);
  check_refused(c, clients, cep, "alice");

  zmq_close(clients);
  zmq_close(workers);
  auth_free(c);
  uv_run(memcoord_loop(), UV_RUN_NOWAIT); /* the ZAP watcher's handles close */
  zmq_ctx_term(c->zctx);
  c->zctx = NULL;
  for (int i = 0; i < 4; i++)
    keys_wipe(&k[i]);
  memcoord_free(c);
  remove_dir();
}

int main(void) {
  /* Refused connections are logged as warnings: keep them out. */
  log_init("test_auth", LOG_LVL_ERROR);
  test_roles();
  test_endpoint_local();
  test_without_keys();
  test_registry();
  test_curve();
  CHECK_INT(uv_loop_close(memcoord_loop()), 0);
  return check_report("test_auth");
}
