/*
 * test_client_keys.c - keys and identity: keygen, users, whoami, the
 * client's CURVE connection and a local farm's keys.
 *
 * keygen's files and modes, users add/list/remove and whoami against a
 * fake coordinator (key file problems found before anything is sent, only
 * public keys on the wire), --key and CLAPPER_KEY against a fake CURVE
 * coordinator (a refused key, a plain coordinator, a wrong server key and
 * unusable key files each reported at once and in words), and the key
 * directory and env file of `clapper local`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "clitest.h"
#include "farm.h"
#include "fakecoord.h"
#include "keys.h"
#include "rpc.h"

static void test_keys_arguments(void) {
  const usage_case_t cases[] = {
      {&cmd_keygen_entry, {"keygen"}, "keygen: missing argument"},
      {&cmd_keygen_entry, {"keygen", "a", "b"}, "keygen: too many arguments"},
      {&cmd_keygen_entry, {"keygen", "Al/ice"}, "invalid key name 'Al/ice'"},
      {&cmd_keygen_entry, {"keygen", "../x"}, "invalid key name '../x'"},
      {&cmd_keygen_entry, {"keygen", "a", "--dir", ""}, "--dir: empty directory name"},
      {&cmd_users_entry, {"users"}, "users: missing action"},
      {&cmd_users_entry, {"users", "promote", "x"}, "users: unknown action 'promote'"},
      {&cmd_users_entry, {"users", "add"}, "users add: missing argument"},
      {&cmd_users_entry, {"users", "add", "a", "b"}, "users add: too many arguments"},
      {&cmd_users_entry, {"users", "add", "Al ice", "--role", "admin", "--public-key", "x.pub"},
       "invalid user name 'Al ice'"},
      {&cmd_users_entry, {"users", "add", "alice", "--public-key", "x.pub"},
       "users add: --role ROLE is required (one of submitter, supervisor, operator, auditor, "
       "admin, worker)"},
      {&cmd_users_entry, {"users", "add", "alice", "--role", "boss", "--public-key", "x.pub"},
       "users add: invalid role 'boss'"},
      {&cmd_users_entry, {"users", "add", "alice", "--role", "Admin", "--public-key", "x.pub"},
       "invalid role 'Admin'"},
      {&cmd_users_entry, {"users", "add", "alice", "--role", "admin"},
       "users add: --public-key FILE is required (the user makes it with clapper keygen alice)"},
      {&cmd_users_entry, {"users", "list", "x"}, "users list: too many arguments"},
      {&cmd_users_entry, {"users", "list", "--role", "admin"},
       "users list: --role is only for users add"},
      {&cmd_users_entry, {"users", "remove"}, "users remove: missing argument"},
      {&cmd_users_entry, {"users", "remove", "a", "b"}, "users remove: too many arguments"},
      {&cmd_users_entry, {"users", "remove", "bob smith"}, "invalid user name 'bob smith'"},
      {&cmd_users_entry, {"users", "remove", "bob", "--public-key", "b.pub"},
       "users remove: --public-key is only for users add"},
      {&cmd_users_entry, {"users", "remove", "bob", "--limit", "2"},
       "users remove: --limit is only for users list"},
      {&cmd_users_entry, {"users", "list", "--after", "Bad Name"},
       "invalid --after 'Bad Name': expected a name"},
      {&cmd_whoami_entry, {"whoami", "me"}, "whoami: too many arguments"},
      {&cmd_jobs_entry, {"jobs", "--key"}, "option --key needs a value"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    int argc = argv_len(cases[i].argv, 10);
    run_t r = run_cmd(cases[i].e, argc, cases[i].argv);
    check_error(&r, 2, cases[i].needle, false, NULL);
    run_free(&r);
  }
  check_run_error(&cmd_users_entry, NULL, ARGV("users", "add", "alice", "--role", "boss", "--json"),
                  2, "invalid role 'boss'", true, "usage");
}

static void test_keygen(void) {
  char dir[] = "/tmp/clapper-test-keygen-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char *sub = xasprintf("%s/new/keys", dir);
  const char *const *a0 = ARGV("keygen", "alice", "--dir", sub);
  run_t r = run_cmd(&cmd_keygen_entry, 4, a0);
  char *want = xasprintf("wrote %s/alice.key (secret: keep it to yourself; use it with --key "
                         "or CLAPPER_KEY)\n"
                         "wrote %s/alice.pub (for an admin: clapper users add alice --role "
                         "ROLE --public-key %s/alice.pub)\n",
                         sub, sub, sub);
  check_ok(&r, want);
  free(want);
  run_free(&r);
  struct stat st;
  CHECK_INT(stat(sub, &st), 0);
  CHECK_INT(st.st_mode & 0777, 0700);
  char *kp = xasprintf("%s/alice.key", sub), *pp = xasprintf("%s/alice.pub", sub);
  keys_key_t k, p;
  char err[512];
  CHECK_INT(keys_load(kp, &k, err, sizeof err), 0);
  CHECK_INT(keys_load(pp, &p, err, sizeof err), 0);
  CHECK_STR(p.public_key, k.public_key);
  CHECK_STR(k.name, "alice");

  /* Never over an existing key, and --json. */
  check_run_error(&cmd_keygen_entry, NULL, a0, 1, "alice.key already exists", false, NULL);
  char *after = util_read_file(kp, 4096, NULL);
  CHECK_CONTAINS(after, k.secret_key);
  free(after);
  const char *const *a1 = ARGV("keygen", "bob", "--dir", sub, "--json");
  json_t *doc = run_json(&cmd_keygen_entry, NULL, a1, 0, NULL);
  char *bpub = xasprintf("%s/bob.pub", sub), *bkey = xasprintf("%s/bob.key", sub);
  CHECK_STR(json_string_value(json_object_get(doc, "name")), "bob");
  CHECK_STR(json_string_value(json_object_get(doc, "key")), bkey);
  CHECK_STR(json_string_value(json_object_get(doc, "pub")), bpub);
  CHECK_INT(keys_load(bpub, &p, err, sizeof err), 0);
  CHECK_STR(json_string_value(json_object_get(doc, "public_key")), p.public_key);
  json_decref(doc);
  check_run_error(&cmd_keygen_entry, NULL, a1, 1, "bob.key already exists", true, "io");
  keys_wipe(&k);
  free(bpub);
  free(bkey);
  free(kp);
  free(pp);
  free(sub);
  rm_rf(dir);
}

static const char *const USER_JSON =
    "{\"user\": {\"name\": \"alice\", \"role\": \"submitter\", \"public_key\": "
    "\"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\", \"added_by\": \"root\", \"added_at\": "
    "\"2026-11-26T04:10:10.123456Z\"}}";

static void test_users(void) {
  char dir[] = "/tmp/clapper-test-users-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char err[512];
  keys_key_t alice;
  CHECK_INT(keys_generate("alice", dir, &alice, err, sizeof err), 0);
  char *apub = xasprintf("%s/alice.pub", dir), *akey = xasprintf("%s/alice.key", dir);

  /* Key file problems are found before anything is sent. */
  fake_t fz = {.nreq = 0};
  fake_start(&fz);
  const char *b0[] = {"users", "add", "bob", "--role", "admin", "--public-key", apub, "--json"};
  run_t r = run_at(&cmd_users_entry, fz.endpoint, 8, b0);
  char *want = xasprintf("%s is the key of 'alice', not of 'bob'", apub);
  check_error(&r, 1, want, true, "invalid_key");
  free(want);
  run_free(&r);
  check_run_error(
      &cmd_users_entry, fz.endpoint,
      ARGV("users", "add", "bob", "--role", "admin", "--public-key", "/nonexistent/bob.pub"), 1,
      "cannot read /nonexistent/bob.pub: No such file or directory", false, NULL);
  CHECK_INT(chmod(akey, 0640), 0);
  check_run_error(&cmd_users_entry, fz.endpoint,
                  ARGV("users", "add", "alice", "--role", "admin", "--public-key", akey), 1,
                  "is readable by others (mode 0640): chmod 600", false, NULL);
  CHECK_INT(chmod(akey, 0600), 0);
  fake_stop(&fz);
  CHECK_INT(fz.served, 0);

  const char *jsons[] = {
      USER_JSON,
      USER_JSON,
      "{\"users\": [{\"name\": \"root\", \"role\": \"admin\", \"public_key\": "
      "\"8Y$EUd*Rl4nCbPu=+v$bK3uNQk?v!L!TY:v2y-{l\", \"added_by\": \"coordinator\", "
      "\"added_at\": \"2026-11-26T06:22:19.628402Z\"}, {\"name\": \"local-1\", \"role\": "
      "\"worker\", \"public_key\": \"%gmmCxL8^Pidz-Q8VSPFDkBCD3&D27I{<mUIv!-!\", "
      "\"added_by\": \"root\", \"added_at\": \"2026-11-26T06:22:19.700000Z\"}], \"more\": true, "
      "\"next_after\": \"local-1\"}",
      "{\"users\": [], \"more\": false, \"next_after\": null}",
      USER_JSON,
      "{\"name\": \"alice\", \"role\": \"admin\", \"secure\": true}",
      "{\"name\": \"anonymous\", \"role\": \"admin\", \"secure\": false}",
      "{\"name\": \"alice\", \"role\": \"admin\", \"secure\": true}",
  };
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);
  /* add: a .key file works too, and only its public key is sent */
  check_run_ok(&cmd_users_entry, fk.endpoint,
               ARGV("users", "add", "alice", "--role", "submitter", "--public-key", apub),
               "user alice (submitter) added, public key "
               "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n");
  json_t *doc = run_json(
      &cmd_users_entry, fk.endpoint,
      ARGV("users", "--json", "add", "alice", "--role=worker", "--public-key", akey), 0, NULL);
  CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "user"), "added_by")),
            "root");
  json_decref(doc);
  const char *const *a2 = ARGV("users", "list");
  check_run_ok(&cmd_users_entry, fk.endpoint, a2,
               "NAME     ROLE    ADDED BY     ADDED AT             PUBLIC KEY\n"
               "root     admin   coordinator  2026-11-26 06:22:19  "
               "8Y$EUd*Rl4nCbPu=+v$bK3uNQk?v!L!TY:v2y-{l\n"
               "local-1  worker  root         2026-11-26 06:22:19  "
               "%gmmCxL8^Pidz-Q8VSPFDkBCD3&D27I{<mUIv!-!\n"
               "more users: add --after local-1 for the next page\n");
  check_run_ok(&cmd_users_entry, fk.endpoint,
               ARGV("users", "list", "--limit", "2", "--after", "local-1"),
               "NAME  ROLE  ADDED BY  ADDED AT  PUBLIC KEY\n");
  check_run_ok(&cmd_users_entry, fk.endpoint, ARGV("users", "remove", "alice"),
               "user alice (submitter) removed\n");
  const char *const *a4 = ARGV("whoami");
  check_run_ok(&cmd_whoami_entry, fk.endpoint, a4, "alice (admin)\n");
  check_run_ok(&cmd_whoami_entry, fk.endpoint, a4,
               "anonymous (admin; not authenticated: the coordinator runs without keys)\n");
  doc = run_json(&cmd_whoami_entry, fk.endpoint, ARGV("whoami", "--json"), 0, NULL);
  CHECK_STR(json_string_value(json_object_get(doc, "name")), "alice");
  CHECK_STR(json_string_value(json_object_get(doc, "role")), "admin");
  CHECK(json_is_true(json_object_get(doc, "secure")));
  json_decref(doc);
  fake_stop(&fk);
  CHECK_INT(fk.served, 8);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_USERS_ADD);
  CHECK_STR(fk.name[0], "alice");
  CHECK_STR(fk.kind[0], "submitter");
  CHECK_STR(fk.public_key[0], alice.public_key);
  CHECK_INT(fk.verb[1], CLAPPER__VERB__VERB_USERS_ADD);
  CHECK_STR(fk.kind[1], "worker");
  CHECK_STR(fk.public_key[1], alice.public_key); /* never the secret */
  CHECK_INT(fk.verb[2], CLAPPER__VERB__VERB_USERS_LIST);
  CHECK_STR(fk.name[2], "");
  CHECK_INT(fk.limit[2], 0);
  CHECK_STR(fk.after_name[2], "");
  CHECK_INT(fk.verb[3], CLAPPER__VERB__VERB_USERS_LIST);
  CHECK_INT(fk.limit[3], 2);
  CHECK_STR(fk.after_name[3], "local-1");
  CHECK_INT(fk.verb[4], CLAPPER__VERB__VERB_USERS_REMOVE);
  CHECK_STR(fk.name[4], "alice");
  CHECK_STR(fk.public_key[4], "");
  CHECK_INT(fk.verb[5], CLAPPER__VERB__VERB_WHOAMI);

  /* The coordinator's refusals, as it words them. */
  fake_t ff = {.nreq = 2, .error_code = "forbidden",
               .error_message = "managing users needs the admin role (you are submitter)"};
  fake_start(&ff);
  check_run_error(&cmd_users_entry, ff.endpoint, a2, 1, "managing users needs the admin role",
                  false, NULL);
  check_run_error(&cmd_users_entry, ff.endpoint, ARGV("users", "remove", "alice", "--json"), 1,
                  "needs the admin role", true, "forbidden");
  fake_stop(&ff);
  keys_wipe(&alice);
  free(apub);
  free(akey);
  rm_rf(dir);
}

static void test_curve_client(void) {
  char dir[] = "/tmp/clapper-test-curve-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char err[512];
  keys_key_t server, other;
  CHECK_INT(keys_generate("coordinator", dir, &server, err, sizeof err), 0);
  CHECK_INT(keys_generate("alice", dir, NULL, err, sizeof err), 0);
  char *odir = xasprintf("%s/other", dir);
  CHECK_INT(mkdir(odir, 0700), 0);
  CHECK_INT(keys_generate("coordinator", odir, &other, err, sizeof err), 0);
  char *akey = xasprintf("%s/alice.key", dir), *opub = xasprintf("%s/coordinator.pub", odir);
  const char *jsons[] = {"{\"name\": \"alice\", \"role\": \"admin\", \"secure\": true}",
                         FAKE_JOBS_JSON};

  /* --key (coordinator.pub found next to it), then CLAPPER_KEY. */
  fake_t fk = {.nreq = 3, .jsons = jsons, .njsons = 2};
  fake_start_curve(&fk, &server, NULL);
  check_run_ok(&cmd_whoami_entry, fk.endpoint, ARGV("whoami", "--key", akey), "alice (admin)\n");
  setenv("CLAPPER_KEY", akey, 1);
  const char *a1[] = {"jobs", "--json"};
  run_t r = run_at(&cmd_jobs_entry, fk.endpoint, 2, a1);
  CHECK_INT(r.status, 0);
  CHECK_CONTAINS(r.out, "sh0420-gen");
  run_free(&r);
  char *spub = xasprintf("%s/coordinator.pub", dir);
  setenv("CLAPPER_SERVER_KEY", spub, 1);
  r = run_at(&cmd_jobs_entry, fk.endpoint, 2, a1);
  CHECK_INT(r.status, 0);
  run_free(&r);
  unsetenv("CLAPPER_SERVER_KEY");
  fake_stop(&fk);
  CHECK_INT(fk.served, 3);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_WHOAMI);
  CHECK_INT(fk.verb[1], CLAPPER__VERB__VERB_JOBS);

  /* --key= turns CLAPPER_KEY off; with the key, a plain coordinator is a
   * mismatch reported at once. */
  fake_t fp = {.nreq = 1, .jsons = jsons, .njsons = 1};
  fake_start(&fp);
  check_run_ok(&cmd_whoami_entry, fp.endpoint, ARGV("whoami", "--key="), "alice (admin)\n");
  const char *a3[] = {"whoami", "--json"};
  uint64_t t0 = util_mono_us();
  r = run_at(&cmd_whoami_entry, fp.endpoint, 2, a3);
  char *want = xasprintf("the coordinator at %s does not use keys (it runs without --keys): "
                         "leave out --key and CLAPPER_KEY",
                         fp.endpoint);
  check_error(&r, 1, want, true, "unavailable");
  CHECK((util_mono_us() - t0) / 1000 < 5000);
  free(want);
  run_free(&r);
  unsetenv("CLAPPER_KEY");
  fake_stop(&fp);
  CHECK_INT(fp.served, 1);

  /* A key the coordinator's ZAP handler refuses: an error at once. */
  zap_t deny = {.status = "400"};
  fake_t fd = {.nreq = 0};
  fake_start_curve(&fd, &server, &deny);
  const char *a4[] = {"jobs", "--key", akey, "--json"};
  t0 = util_mono_us();
  r = run_at(&cmd_jobs_entry, fd.endpoint, 4, a4);
  want = xasprintf("the coordinator at %s refused the key %s (alice): it is not registered "
                   "there (see clapper users)",
                   fd.endpoint, akey);
  check_error(&r, 1, want, true, "unauthenticated");
  CHECK((util_mono_us() - t0) / 1000 < 5000);
  free(want);
  run_free(&r);
  fake_stop(&fd);
  CHECK(deny.served >= 1);

  /* A server key that is not the coordinator's: the handshake fails, and
   * the timeout says so. */
  fake_t fw = {.nreq = 0};
  fake_start_curve(&fw, &server, NULL);
  const char *a5[] = {"jobs", "--key", akey, "--server-key", opub, "--timeout-ms", "700"};
  r = run_at(&cmd_jobs_entry, fw.endpoint, 7, a5);
  want = xasprintf("no reply within 700 ms from the coordinator at %s: the CURVE handshake "
                   "failed (is %s the coordinator's public key?); the request was not sent",
                   fw.endpoint, opub);
  check_error(&r, 1, want, false, NULL);
  free(want);
  run_free(&r);
  /* No key for a coordinator that uses keys: said at once. */
  const char *a5b[] = {"jobs", "--key=", "--timeout-ms", "5000"};
  t0 = util_mono_us();
  r = run_at(&cmd_jobs_entry, fw.endpoint, 4, a5b);
  want = xasprintf("the coordinator at %s uses keys (it runs with --keys): give --key FILE "
                   "(your NAME.key) or set CLAPPER_KEY",
                   fw.endpoint);
  check_error(&r, 1, want, false, NULL);
  CHECK((util_mono_us() - t0) / 1000 < 4000);
  free(want);
  run_free(&r);
  fake_stop(&fw);

  /* Nobody there: that is what the message says, not the key. */
  char *ep = xasprintf("ipc://%s/nobody.sock", dir);
  const char *a6[] = {"workers", "--key", akey, "--timeout-ms", "200"};
  r = run_at(&cmd_workers_entry, ep, 5, a6);
  want = xasprintf("cannot reach the coordinator at %s: nothing accepted a connection within "
                   "200 ms (is it running, and is this its client endpoint?)",
                   ep);
  check_error(&r, 1, want, false, NULL);
  free(want);
  run_free(&r);

  /* Key files that cannot be used. */
  check_run_error(&cmd_workers_entry, ep, ARGV("workers", "--key", "/nonexistent/me.key", "--json"),
                  1, "cannot read /nonexistent/me.key", true, "invalid_key");
  char *apub = xasprintf("%s/alice.pub", dir);
  check_run_error(&cmd_workers_entry, ep, ARGV("workers", "--key", apub), 1,
                  "holds no secret key: give the alice.key file", false, NULL);
  char *okey = xasprintf("%s/coordinator.key", odir);
  CHECK_INT(unlink(opub), 0);
  const char *a9[] = {"workers", "--key", okey};
  r = run_at(&cmd_workers_entry, ep, 3, a9);
  check_error(&r, 1, "(the coordinator's public key, looked for next to", false, NULL);
  CHECK_CONTAINS(r.err, "--server-key FILE");
  run_free(&r);

  /* rpc_call_as directly: a NULL key is a plain call. */
  rpc_keys_t none = {0};
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_PING;
  Clapper__Reply *reply = NULL;
  cli_error_t cerr = {0};
  CHECK_INT(rpc_call_as(ep, &none, &req, 100, &reply, &cerr), -1);
  want = xasprintf("cannot reach the coordinator at %s: nothing accepted a connection within "
                   "100 ms (is it running, and is this its client endpoint?)",
                   ep);
  CHECK_STR(cerr.message, want);
  free(want);

  keys_wipe(&server);
  keys_wipe(&other);
  free(okey);
  free(apub);
  free(ep);
  free(spub);
  free(akey);
  free(opub);
  free(odir);
  rm_rf(dir);
}

static void test_local_keys(void) {
  char *user = farm_user();
  CHECK(ident_valid(user));
  CHECK(strcmp(user, "coordinator") != 0 && strncmp(user, "local-", 6) != 0);
  free(user);

  char dir[] = "/tmp/clapper-test-farmkeys-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  farm_t f;
  char err[512];
  CHECK_INT(farm_open(&f, dir, true, err, sizeof err), 1);
  char *keys = xasprintf("%s/keys", f.dir);
  CHECK_STR(f.keysdir, keys);
  struct stat st;
  CHECK_INT(stat(keys, &st), 0);
  CHECK_INT(st.st_mode & 0777, 0700);
  char *key = xasprintf("%s/me.key", keys);
  CHECK_INT(farm_write_env(&f, key, err, sizeof err), 0);
  char *envpath = xasprintf("%s/env", f.dir);
  char *text = util_read_file(envpath, 4096, NULL);
  char *line = xasprintf("\nexport CLAPPER_KEY='%s'\n", key);
  CHECK_CONTAINS(text, line);
  CHECK_CONTAINS(text, "export CLAPPER_COORDINATOR=");
  free(text);
  CHECK_INT(farm_write_env(&f, NULL, err, sizeof err), 0);
  text = util_read_file(envpath, 4096, NULL);
  CHECK(text && !strstr(text, "CLAPPER_KEY"));
  free(text);
  if (f.pgroot)
    rm_rf(f.pgroot);
  if (strncmp(f.sockdir, "/tmp/clapper-", 13) == 0)
    rm_rf(f.sockdir);
  farm_free(&f);
  free(line);
  free(envpath);
  free(key);
  free(keys);
  rm_rf(dir);
}

int main(void) {
  clitest_init();
  test_keys_arguments();
  test_keygen();
  test_users();
  test_curve_client();
  test_local_keys();
  return check_report("test_client_keys");
}
