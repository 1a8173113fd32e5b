/*
 * test_keys.c - CURVE key files and the client side of CURVE.
 *
 * keys_generate and keys_load round trip (formats byte for byte, modes
 * 0600/0644, no temporary files left); an existing key is never
 * overwritten; bad files are refused with a message naming the file and
 * line (bad Z85, bad name, unknown or repeated settings, a secret that is
 * not the public key's, a secret key others may read); Z85 keys with '#'
 * and '=' load.  Then real CURVE handshakes over TCP: a DEALER set up by
 * keys_client exchanges messages with a ROUTER that is a CURVE server; a
 * ZAP handler that says no is seen by keys_monitor_read as a refused key
 * (and the handler received the client's public key); a server without
 * CURVE is a mechanism mismatch; and keys_client's own errors.  Last, the
 * real clapper-worker with --key: its Hello arrives over CURVE with the
 * key's name as the ZAP User-Id, a refused key is logged once, and bad key
 * settings are a one-line error with exit status 2.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "codec.h"
#include "keys.h"
#include "zaptest.h"

static char dir[] = "/tmp/clapper-test-keys-XXXXXX";

static char *slurp(const char *path) {
  size_t len;
  return util_read_file(path, 1 << 16, &len);
}

static void put(const char *path, const char *text, mode_t mode) {
  char err[256];
  CHECK_INT(util_write_atomic(path, text, strlen(text), mode, err, sizeof err), 0);
  CHECK_INT(chmod(path, mode), 0);
}

static int count_entries(const char *d) {
  DIR *dh = opendir(d);
  int n = 0;
  struct dirent *e;
  while (dh && (e = readdir(dh)))
    n += e->d_name[0] != '.';
  if (dh)
    closedir(dh);
  return n;
}

static int count_lines_of(const char *s) {
  int n = 0;
  for (; s && *s; s++)
    n += *s == '\n';
  return n;
}

static unsigned mode_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

static void test_round_trip(void) {
  char err[512];
  keys_key_t k, loaded, pub;
  CHECK_INT(keys_generate("alice", dir, &k, err, sizeof err), 0);
  CHECK_STR(k.name, "alice");
  CHECK_INT(strlen(k.public_key), 40);
  CHECK_INT(strlen(k.secret_key), 40);
  CHECK(keys_z85_valid(k.public_key) && keys_z85_valid(k.secret_key));

  char *kp = keys_path(dir, "alice", "key"), *pp = keys_path(dir, "alice", "pub");
  CHECK_INT(mode_of(kp), 0600);
  CHECK_INT(mode_of(pp), 0644);
  char *want = xasprintf("# clapper key pair of alice: keep this file secret\nname = alice\n"
                         "public-key = %s\nsecret-key = %s\n",
                         k.public_key, k.secret_key);
  char *text = slurp(kp);
  CHECK_STR(text, want);
  free(text);
  free(want);
  want = xasprintf("# clapper public key of alice\nname = alice\npublic-key = %s\n", k.public_key);
  text = slurp(pp);
  CHECK_STR(text, want);
  free(text);
  free(want);
  CHECK_INT(count_entries(dir), 2); /* no temporary files left */

  CHECK_INT(keys_load(kp, &loaded, err, sizeof err), 0);
  CHECK_STR(loaded.name, "alice");
  CHECK_STR(loaded.public_key, k.public_key);
  CHECK_STR(loaded.secret_key, k.secret_key);
  CHECK_INT(keys_load(pp, &pub, err, sizeof err), 0);
  CHECK_STR(pub.name, "alice");
  CHECK_STR(pub.public_key, k.public_key);
  CHECK_STR(pub.secret_key, "");
  keys_wipe(&loaded);
  CHECK_STR(loaded.secret_key, "");

  /* A .pub can be written again from the key alone. */
  CHECK_INT(unlink(pp), 0);
  CHECK_INT(keys_write_public(&k, dir, err, sizeof err), 0);
  CHECK_INT(keys_load(pp, &pub, err, sizeof err), 0);
  CHECK_STR(pub.public_key, k.public_key);
  CHECK_INT(mode_of(pp), 0644);

  /* Paths. */
  char *p = keys_path("/a/", "bob", "pub");
  CHECK_STR(p, "/a/bob.pub");
  free(p);
  p = keys_default_server("/etc/clapper/keys/local-1.key");
  CHECK_STR(p, "/etc/clapper/keys/coordinator.pub");
  free(p);
  p = keys_default_server("me.key");
  CHECK_STR(p, "coordinator.pub");
  free(p);
  p = keys_default_server("/me.key");
  CHECK_STR(p, "/coordinator.pub");
  free(p);
  keys_wipe(&k);
  free(kp);
  free(pp);
}

static void test_no_overwrite(void) {
  char err[512];
  char *kp = keys_path(dir, "alice", "key"), *pp = keys_path(dir, "alice", "pub");
  char *before = slurp(kp), *before_pub = slurp(pp);
  CHECK_INT(keys_generate("alice", dir, NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "alice.key already exists");
  CHECK_CONTAINS(err, "never overwritten");
  char *after = slurp(kp), *after_pub = slurp(pp);
  CHECK_STR(after, before);
  CHECK_STR(after_pub, before_pub);
  free(after);
  free(after_pub);

  /* A .pub alone also blocks the name (someone else's key, say). */
  CHECK_INT(unlink(kp), 0);
  CHECK_INT(keys_generate("alice", dir, NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "alice.pub already exists");
  CHECK(access(kp, F_OK) < 0);
  put(kp, before, 0600);

  /* keys_write_public refuses too. */
  keys_key_t k;
  CHECK_INT(keys_load(kp, &k, err, sizeof err), 0);
  CHECK_INT(keys_write_public(&k, dir, err, sizeof err), -1);
  CHECK_CONTAINS(err, "already exists");
  keys_wipe(&k);

  /* Bad names and directories. */
  CHECK_INT(keys_generate("Al ice", dir, NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "invalid key name 'Al ice'");
  CHECK_INT(keys_generate("../x", dir, NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "invalid key name");
  CHECK_INT(keys_generate("bob", "/nonexistent/dir", NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "/nonexistent/dir/bob.key");
  CHECK_INT(count_entries(dir), 2);
  free(before);
  free(before_pub);
  free(kp);
  free(pp);
}

/* Checks that keys_load refuses text (written with mode) with a message
 * containing needle. */
static void refused(const char *text, mode_t mode, const char *needle) {
  char *path = xasprintf("%s/bad.key", dir);
  put(path, text, mode);
  keys_key_t k;
  char err[512] = "";
  CHECK_INT(keys_load(path, &k, err, sizeof err), -1);
  CHECK_CONTAINS(err, path);
  CHECK_CONTAINS(err, needle);
  CHECK_STR(k.secret_key, "");
  unlink(path);
  free(path);
}

static void test_refused(void) {
  char pub[41], sec[41], pub2[41], sec2[41];
  CHECK_INT(zmq_curve_keypair(pub, sec), 0);
  CHECK_INT(zmq_curve_keypair(pub2, sec2), 0);
  char *t;

  refused("name = bob\npublic-key = abc\n", 0644, ":2: public-key is not a CURVE key");
  t = xasprintf("name = bob\npublic-key = %.39s\n", pub);
  refused(t, 0644, "expected 40 characters of Z85");
  free(t);
  t = xasprintf("name = bob\npublic-key = %.39s~\n", pub); /* '~' is not Z85 */
  refused(t, 0644, "public-key is not a CURVE key");
  free(t);
  t = xasprintf("name = bob\npublic-key = %.39s \"\n", pub);
  refused(t, 0644, "public-key is not a CURVE key");
  free(t);
  t = xasprintf("name = bob\npublic-key = %s\nsecret-key = %.30s\n", pub, sec);
  refused(t, 0600, ":3: secret-key is not a CURVE key");
  free(t);
  t = xasprintf("name = Bob!\npublic-key = %s\n", pub);
  refused(t, 0644, ":1: invalid name 'Bob!'");
  free(t);
  t = xasprintf("name = bob smith\npublic-key = %s\n", pub);
  refused(t, 0644, "invalid name 'bob smith'");
  free(t);
  t = xasprintf("public-key = %s\n", pub);
  refused(t, 0644, "not a clapper key file (no name line)");
  free(t);
  refused("name = bob\n", 0644, "no public-key line");
  refused("", 0644, "not a clapper key file");
  t = xasprintf("name = bob\npublic-key = %s\nrole = admin\n", pub);
  refused(t, 0644, ":3: unknown setting 'role'");
  free(t);
  t = xasprintf("name = bob\nname = eve\npublic-key = %s\n", pub);
  refused(t, 0644, ":2: name is given twice");
  free(t);
  t = xasprintf("public-key = %s\nname bob\n", pub);
  refused(t, 0644, ":2: expected 'name = value'");
  free(t);
  /* A secret that does not belong to the public key. */
  t = xasprintf("name = bob\npublic-key = %s\nsecret-key = %s\n", pub, sec2);
  refused(t, 0600, "the public key does not belong to the secret key");
  free(t);
  /* A secret others may read. */
  t = xasprintf("name = bob\npublic-key = %s\nsecret-key = %s\n", pub, sec);
  refused(t, 0644, "is readable by others (mode 0644): chmod 600 ");
  refused(t, 0640, "is readable by others (mode 0640)");
  refused(t, 0620, "(mode 0620): chmod 600");
  free(t);

  char err[512];
  keys_key_t k;
  CHECK_INT(keys_load("/nonexistent/x.key", &k, err, sizeof err), -1);
  CHECK_STR(err, "cannot read /nonexistent/x.key: No such file or directory");
  CHECK_INT(keys_load(dir, &k, err, sizeof err), -1);
  CHECK_CONTAINS(err, "is not a regular file");
  char *big = xasprintf("%s/big.pub", dir);
  FILE *f = fopen(big, "w");
  for (int i = 0; i < 1000; i++)
    fputs("# padding padding\n", f);
  fclose(f);
  CHECK_INT(keys_load(big, &k, err, sizeof err), -1);
  CHECK_CONTAINS(err, "too large");
  unlink(big);
  free(big);

  /* Comments, blank lines, spaces and CRLF are fine; Z85 may hold '#' and
   * '=', which must not be taken for a comment or a separator. */
  int tries = 0;
  do {
    CHECK_INT(zmq_curve_keypair(pub, sec), 0);
  } while ((!strchr(pub, '#') || !strchr(sec, '=')) && ++tries < 100000);
  CHECK(strchr(pub, '#') && strchr(sec, '='));
  char *path = xasprintf("%s/odd.key", dir);
  t = xasprintf("# a comment\r\n\n  name=odd \r\n\tpublic-key   =  %s\nsecret-key=%s", pub, sec);
  put(path, t, 0600);
  CHECK_INT(keys_load(path, &k, err, sizeof err), 0);
  CHECK_STR(k.name, "odd");
  CHECK_STR(k.public_key, pub);
  CHECK_STR(k.secret_key, sec);
  keys_wipe(&k);
  unlink(path);
  free(path);
  free(t);
  CHECK(!keys_z85_valid(NULL));
  CHECK(!keys_z85_valid(""));
}

/* ---------------------------------------------------------------- CURVE */

/* Waits for the first event other than KEYS_EVENT_OTHER on mon. */
static keys_event_t wait_event(void *mon, int ms) {
  for (int waited = 0; waited < ms; waited += 20) {
    zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 20) > 0) {
      keys_event_t e = keys_monitor_read(mon, NULL);
      if (e != KEYS_EVENT_OTHER && e != KEYS_EVENT_NONE)
        return e;
    }
  }
  return KEYS_EVENT_NONE;
}

static void *curve_router(void *ctx, const keys_key_t *server, char *endpoint, size_t len) {
  void *r = zmq_socket(ctx, ZMQ_ROUTER);
  int one = 1, zero = 0;
  zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof zero);
  if (server) {
    CHECK_INT(zmq_setsockopt(r, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    CHECK_INT(zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, server->secret_key, 41), 0);
  }
  CHECK_INT(zmq_bind(r, "tcp://127.0.0.1:*"), 0);
  zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, endpoint, &len);
  return r;
}

static void test_curve(void) {
  char err[512];
  keys_key_t server;
  CHECK_INT(keys_generate("coordinator", dir, &server, err, sizeof err), 0);
  char *alice = keys_path(dir, "alice", "key");
  keys_key_t a;
  CHECK_INT(keys_load(alice, &a, err, sizeof err), 0);

  /* A CURVE server and a client set up by keys_client talk. */
  void *ctx = zmq_ctx_new();
  char ep[256];
  void *r = curve_router(ctx, &server, ep, sizeof ep);
  void *d = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
  char name[IDENT_MAX + 1] = "";
  CHECK_INT(keys_client(d, alice, NULL, name, err, sizeof err), 0); /* coordinator.pub next to it */
  CHECK_STR(name, "alice");
  void *mon = keys_monitor_open(ctx, d, err, sizeof err);
  CHECK(mon != NULL);
  CHECK_INT(zmq_connect(d, ep), 0);
  CHECK_INT(zmq_send(d, "hello", 5, 0), 5);
  zmq_pollitem_t it = {r, 0, ZMQ_POLLIN, 0};
  CHECK_INT(zmq_poll(&it, 1, 5000), 1);
  char id[256], body[64];
  int idl = zmq_recv(r, id, sizeof id, ZMQ_DONTWAIT);
  CHECK(idl > 0);
  int bl = zmq_recv(r, body, sizeof body, ZMQ_DONTWAIT);
  CHECK_INT(bl, 5);
  CHECK(bl == 5 && memcmp(body, "hello", 5) == 0);
  zmq_send(r, id, (size_t)idl, ZMQ_SNDMORE);
  zmq_send(r, "back", 4, 0);
  zmq_pollitem_t id_it = {d, 0, ZMQ_POLLIN, 0};
  CHECK_INT(zmq_poll(&id_it, 1, 5000), 1);
  CHECK_INT(zmq_recv(d, body, sizeof body, ZMQ_DONTWAIT), 4);
  CHECK_INT(wait_event(mon, 2000), KEYS_EVENT_OK);
  keys_monitor_close(d, &mon);
  CHECK(mon == NULL);
  zmq_close(d);
  zmq_close(r);

  /* A ZAP handler that refuses: the client sees its key refused, the
   * handler saw the client's public key, the server gets nothing. */
  zap_t z = {.status = "400"};
  zap_start(&z, ctx);
  r = curve_router(ctx, &server, ep, sizeof ep);
  d = zmq_socket(ctx, ZMQ_DEALER);
  zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
  char *spub = keys_path(dir, "coordinator", "pub");
  CHECK_INT(keys_client(d, alice, spub, NULL, err, sizeof err), 0);
  mon = keys_monitor_open(ctx, d, err, sizeof err);
  CHECK_INT(zmq_connect(d, ep), 0);
  zmq_send(d, "hello", 5, ZMQ_DONTWAIT);
  CHECK_INT(wait_event(mon, 5000), KEYS_EVENT_REFUSED);
  it = (zmq_pollitem_t){r, 0, ZMQ_POLLIN, 0};
  CHECK_INT(zmq_poll(&it, 1, 100), 0);
  keys_monitor_close(d, &mon);
  zmq_close(d);
  zmq_close(r);
  zap_stop(&z);
  CHECK(z.served >= 1);
  CHECK_STR(z.mechanism, "CURVE");
  CHECK_STR(z.client_key, a.public_key);

  /* A server without CURVE: a mechanism mismatch. */
  r = curve_router(ctx, NULL, ep, sizeof ep);
  d = zmq_socket(ctx, ZMQ_DEALER);
  zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
  CHECK_INT(keys_client(d, alice, spub, NULL, err, sizeof err), 0);
  mon = keys_monitor_open(ctx, d, err, sizeof err);
  CHECK_INT(zmq_connect(d, ep), 0);
  CHECK_INT(wait_event(mon, 5000), KEYS_EVENT_MISMATCH);
  keys_monitor_close(d, &mon);
  zmq_close(d);
  zmq_close(r);

  /* keys_client's own errors. */
  d = zmq_socket(ctx, ZMQ_DEALER);
  char *apub = keys_path(dir, "alice", "pub");
  CHECK_INT(keys_client(d, apub, spub, NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "holds no secret key: give the alice.key file");
  CHECK_INT(keys_client(d, "/nonexistent/alice.key", spub, NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "cannot read /nonexistent/alice.key");
  char *sub = xasprintf("%s/sub", dir);
  CHECK_INT(mkdir(sub, 0700), 0);
  CHECK_INT(keys_generate("bob", sub, NULL, err, sizeof err), 0);
  char *bob = keys_path(sub, "bob", "key");
  CHECK_INT(keys_client(d, bob, NULL, NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "sub/coordinator.pub");
  CHECK_CONTAINS(err, "--server-key");
  CHECK_INT(keys_client(d, bob, "/nonexistent/c.pub", NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "cannot read /nonexistent/c.pub");
  CHECK(strstr(err, "--server-key") == NULL);
  zmq_close(d);
  zmq_ctx_term(ctx);

  keys_wipe(&a);
  keys_wipe(&server);
  free(bob);
  free(sub);
  free(apub);
  free(spub);
  free(alice);
}

/* ---------------------------------------------------------------- worker */

static char *worker_bin(void) {
  const char *bindir = getenv("CLAPPER_BIN_DIR");
  char *bin = xasprintf("%s/clapper-worker", bindir ? bindir : ".");
  if (access(bin, X_OK) < 0) {
    free(bin);
    return NULL;
  }
  return bin;
}

/* Starts clapper-worker with args (NULL-terminated) and its output in log. */
static pid_t start_worker(const char *bin, const char *log, const char *const *args) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE *f = freopen(log, "a", stderr);
    (void)f;
    dup2(2, 1);
    const char *argv[32] = {bin};
    int n = 1;
    for (; args[n - 1] && n < 31; n++)
      argv[n] = args[n - 1];
    argv[n] = NULL;
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  return pid;
}

/* Runs clapper-worker with args to its end; returns its exit status and
 * its output in *out (caller frees). */
static int run_worker(const char *bin, const char *const *args, char **out) {
  char *log = xasprintf("%s/run.log", dir);
  unlink(log);
  pid_t pid = start_worker(bin, log, args);
  int st = 0;
  waitpid(pid, &st, 0);
  *out = util_read_file(log, 1 << 16, NULL);
  unlink(log);
  free(log);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void stop_worker(pid_t pid) {
  kill(pid, SIGINT);
  int st;
  waitpid(pid, &st, 0);
}

static void test_worker(void) {
  char *bin = worker_bin();
  if (!bin) {
    fprintf(stderr, "test_keys: clapper-worker not built; worker checks skipped\n");
    return;
  }
  char err[512];
  CHECK_INT(keys_generate("wk-1", dir, NULL, err, sizeof err), 0);
  keys_key_t server;
  char *skey = keys_path(dir, "coordinator", "key");
  CHECK_INT(keys_load(skey, &server, err, sizeof err), 0);
  char *wkey = keys_path(dir, "wk-1", "key"), *wpub = keys_path(dir, "wk-1", "pub");
  char *wd = xasprintf("%s/wd", dir), *log = xasprintf("%s/worker.log", dir);

  /* Refused at first: logged once, and tried again every
   * LINK_AUTH_RETRY_MS (ZeroMQ itself gives up on an endpoint that refused
   * a key), so that registering the key later is enough: then the Hello
   * arrives with the key's name as User-Id. */
  void *ctx = zmq_ctx_new();
  zap_t z = {.status = "400", .user = "wk-1", .admit_after = 3};
  zap_start(&z, ctx);
  char ep[256];
  void *r = curve_router(ctx, &server, ep, sizeof ep);
  const char *a0[] = {"--key", wkey, "--coordinator", ep, "--workdir", wd, "--gpus", "none",
                      NULL};
  pid_t pid = start_worker(bin, log, a0);
  envelope_t *env = NULL;
  char user[CODEC_MAX_USER] = "";
  for (int waited = 0; !env && waited < 20000; waited += 50) {
    zmq_pollitem_t it = {r, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 50) > 0) {
      uint8_t id[CODEC_MAX_IDENT];
      size_t idl;
      if (codec_recv(r, id, &idl, user, CODEC_MAX_WORKER_MSG, &env, err, sizeof err) != 1)
        env = NULL;
    }
  }
  CHECK(env && env->body_case == CLAPPER__ENVELOPE__BODY_HELLO);
  if (env && env->hello)
    CHECK_STR(env->hello->name, "wk-1"); /* the name comes from the key */
  CHECK_STR(user, "wk-1");
  CHECK_STR(z.mechanism, "CURVE");
  CHECK(z.served >= 4);
  codec_free(&env);
  stop_worker(pid);
  zmq_close(r);
  zap_stop(&z);
  zmq_ctx_term(ctx);
  char *text = util_read_file(log, 1 << 16, NULL);
  char *want = xasprintf("the coordinator refuses the key %s (wk-1): register it with `clapper "
                         "users add wk-1 --role worker --public-key %s`",
                         wkey, wpub);
  CHECK_CONTAINS(text, want);
  const char *first = text ? strstr(text, "refuses the key") : NULL;
  CHECK(first && !strstr(first + 1, "refuses the key"));
  CHECK_CONTAINS(first, "CURVE handshake with the coordinator done: this worker is wk-1");
  CHECK(text && !strstr(text, "Sanitizer") && !strstr(text, "runtime error"));
  free(want);
  free(text);

  /* Bad settings: one line, exit status 2. */
  char *out = NULL;
  const char *b0[] = {"--key", wpub, "--workdir", wd, NULL};
  CHECK_INT(run_worker(bin, b0, &out), 2);
  want = xasprintf("clapper-worker: --key: %s holds no secret key: give the wk-1.key file, not "
                   "the public one\n",
                   wpub);
  CHECK_STR(out, want);
  free(want);
  free(out);
  const char *b1[] = {"--key", wkey, "--name", "wk-2", "--workdir", wd, NULL};
  CHECK_INT(run_worker(bin, b1, &out), 2);
  CHECK_CONTAINS(out, "--name wk-2 differs from the name of the key");
  free(out);
  const char *b2[] = {"--server-key", wpub, "--workdir", wd, NULL};
  CHECK_INT(run_worker(bin, b2, &out), 2);
  CHECK_STR(out, "clapper-worker: --server-key needs --key (this worker's key pair)\n");
  free(out);
  const char *b3[] = {"--key", wkey, "--server-key", "/nonexistent/c.pub", "--workdir", wd,
                      NULL};
  CHECK_INT(run_worker(bin, b3, &out), 2);
  CHECK_STR(out, "clapper-worker: --server-key: cannot read /nonexistent/c.pub: No such file "
                 "or directory\n");
  free(out);
  CHECK_INT(chmod(wkey, 0644), 0);
  const char *b4[] = {"--key", wkey, "--workdir", wd, NULL};
  CHECK_INT(run_worker(bin, b4, &out), 2);
  CHECK_CONTAINS(out, "is readable by others (mode 0644): chmod 600");
  CHECK_INT(count_lines_of(out), 1);
  free(out);

  keys_wipe(&server);
  free(skey);
  free(wkey);
  free(wpub);
  free(wd);
  free(log);
  free(bin);
}

static int rm_entry(const char *path) {
  DIR *dh = opendir(path);
  if (!dh)
    return unlink(path);
  struct dirent *e;
  while ((e = readdir(dh))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    char *p = xasprintf("%s/%s", path, e->d_name);
    rm_entry(p);
    free(p);
  }
  closedir(dh);
  return rmdir(path);
}

int main(void) {
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_round_trip();
  test_no_overwrite();
  test_refused();
  test_curve();
  test_worker();
  rm_entry(dir);
  return check_report("test_keys");
}
