/*
 * test_client_jobs.c - the clapper command's RPC and the verbs about jobs
 * and workers, against a fake coordinator.
 *
 * rpc_call is tried against an endpoint nobody binds (quick "unavailable")
 * and against the fake, also with a reply for another request id first,
 * which must be ignored.  submit, jobs, job, tasks, wait, the operator
 * verbs (cancel, pause, resume, retry, drain, undrain, episode weight) and
 * logs are checked the same way: the request fields the fake received,
 * the human and --json output of canned replies, the coordinator's
 * refusals, and logs -f following a canned sequence (two pieces, a retry,
 * SIGINT); a pseudo-terminal stands in for stderr where output depends on
 * one.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "clitest.h"
#include "fakecoord.h"
#include "input.h"
#include "rpc.h"

static void test_rpc_unavailable(void) {
  char dir[] = "/tmp/clapper-test-rpc-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char *ep = xasprintf("ipc://%s/nobody.sock", dir);
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_PING;
  Clapper__Reply *reply = NULL;
  cli_error_t err = {0};
  uint64_t t0 = util_mono_us();
  CHECK_INT(rpc_call(ep, &req, 300, &reply, &err), -1);
  uint64_t ms = (util_mono_us() - t0) / 1000;
  CHECK(ms >= 250 && ms < 3000);
  CHECK(reply == NULL);
  CHECK_STR(err.code, "unavailable");
  char *want = xasprintf("cannot reach the coordinator at %s: nothing accepted a connection "
                         "within 300 ms (is it running, and is this its client endpoint?)",
                         ep);
  CHECK_STR(err.message, want);
  free(want);

  /* The same through a verb, with the exact line and document. */
  check_run_error(&cmd_workers_entry, NULL,
                  ARGV("workers", "--coordinator", ep, "--timeout-ms", "200", "--json"), 1,
                  "within 200 ms", true, "unavailable");

  /* A malformed endpoint fails at once. */
  CHECK_INT(rpc_call("bogus://x", &req, 5000, &reply, &err), -1);
  CHECK_STR(err.code, "unavailable");
  CHECK_CONTAINS(err.message, "bogus://x");
  rm_rf(dir);
  free(ep);
}

static void test_rpc_roundtrip(void) {
  const char *jsons[] = {"{\"pong\": true}"};
  fake_t fk = {.nreq = 1, .jsons = jsons, .njsons = 1, .wrong_id_first = true};
  fake_start(&fk);
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_PING;
  Clapper__Reply *reply = NULL;
  cli_error_t err = {0};
  CHECK_INT(rpc_call(fk.endpoint, &req, 5000, &reply, &err), 0);
  CHECK(reply != NULL);
  if (reply) {
    CHECK_STR(reply->json, "{\"pong\": true}"); /* not the {"wrong": true} one */
    CHECK(reply->id == req.id);
  }
  rpc_reply_free(&reply);
  CHECK(reply == NULL);
  fake_stop(&fk);
  CHECK_INT(fk.served, 1);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_PING);

  /* Request ids differ from call to call. */
  uint64_t a = rpc_next_id(), b = rpc_next_id();
  CHECK(a != b && a != 0);

  /* ok == false becomes the error, code and message as sent. */
  fake_t fe = {.nreq = 1, .error_code = "not_found", .error_message = "job 99 not found"};
  fake_start(&fe);
  check_run_error(&cmd_job_entry, NULL, ARGV("job", "99", "--coordinator", fe.endpoint, "--json"),
                  1, "job 99 not found", true, "not_found");
  fake_stop(&fe);
  CHECK_INT(fe.verb[0], CLAPPER__VERB__VERB_JOB);
  CHECK_INT(fe.nids[0], 1);
  CHECK_INT(fe.id0[0], 99);
}

static void test_verbs_against_fake(void) {
  /* jobs: the request carries all and limit; the table shows the rows. */
  const char *jsons[] = {FAKE_JOBS_JSON};
  fake_t fk = {.nreq = 2, .jsons = jsons, .njsons = 1};
  fake_start(&fk);
  const char *a1[] = {"jobs", "--all", "--limit", "5", "--coordinator", fk.endpoint};
  run_t r = run_cmd(&cmd_jobs_entry, 6, a1);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  CHECK_STR(r.out,
            "ID  NAME        PROJECT/EPISODE  SHOT    KIND      STATE    PRI  DONE/TOTAL  "
            "FAILED  RUNNING\n"
            "12  sh0420-gen  hod/s02e03       sh0420  generate  running   60         2/4  "
            "     0        1\n"
            " 3  x           p/e              -       process   failed    50         0/1  "
            "     1        0\n");
  run_free(&r);
  /* --json prints the document. */
  json_t *doc = run_json(&cmd_jobs_entry, NULL,
                         ARGV("jobs", "--json", "--coordinator", fk.endpoint), 0, NULL);
  CHECK_INT(json_integer_value(json_object_get(json_array_get(json_object_get(doc, "jobs"), 0),
                                               "job_id")),
            12);
  json_decref(doc);
  fake_stop(&fk);
  /* --all: finished jobs too (not "from the first"), and -n is kept. */
  CHECK(!fk.all[0] && fk.finished[0] && fk.limit[0] == 5);
  CHECK(!fk.all[1] && !fk.finished[1] && fk.limit[1] == 0);

  /* Clustered short options and the filters reach the request. */
  fake_t fl = {.nreq = 3, .jsons = jsons, .njsons = 1};
  fake_start(&fl);
  run_t rf = run_cmd(&cmd_jobs_entry, 4,
                     (const char *[]){"jobs", "-an2", "--coordinator", fl.endpoint});
  CHECK_INT(rf.status, 0);
  run_free(&rf);
  rf = run_cmd(&cmd_jobs_entry, 7,
               (const char *[]){"jobs", "-n3", "--state=running,held", "--episode", "HOD/E1",
                                "--coordinator", fl.endpoint});
  CHECK_INT(rf.status, 0);
  run_free(&rf);
  rf = run_cmd(&cmd_jobs_entry, 6,
               (const char *[]){"jobs", "--after=7", "--", "--coordinator", fl.endpoint,
                                "--json"});
  CHECK_INT(rf.status, 2); /* after "--", options are arguments: too many */
  CHECK_CONTAINS(rf.err, "too many arguments");
  run_free(&rf);
  fake_stop(&fl);
  CHECK(fl.finished[0] && fl.limit[0] == 2);
  CHECK(!fl.finished[1] && fl.limit[1] == 3);
  CHECK_STR(fl.state[1], "running,held");
  CHECK_STR(fl.name[1], "HOD/E1");
  CHECK_INT(fl.served, 2);
  check_run_error(&cmd_jobs_entry, NULL, ARGV("jobs", "--state", "runing"), 2,
                  "invalid --state 'runing'", false, NULL);
  check_run_error(&cmd_jobs_entry, NULL, ARGV("jobs", "--state", "running,"), 2,
                  "invalid --state", false, NULL);
  check_run_error(&cmd_jobs_entry, NULL, ARGV("jobs", "--episode", "hod"), 2,
                  "expected PROJECT/EPISODE", false, NULL);
  check_run_error(&cmd_jobs_entry, NULL, ARGV("jobs", "--mine", "--key="), 2,
                  "--mine needs your key", false, NULL);

  /* workers: a page by name; the hint names the next page's --after. */
  const char *wk[] = {"{\"workers\": [{\"name\": \"w1\", \"hostname\": \"h1\", \"state\": "
                      "\"online\", \"cpus\": 4, \"memory_mb\": 8000, \"gpus\": [], \"tags\": [], "
                      "\"free\": {\"cpus\": 4, \"memory_mb\": 8000, \"gpus\": 0}, \"running\": 0}], "
                      "\"more\": true, \"next_after\": \"w1\"}"};
  fake_t fwk = {.nreq = 2, .jsons = wk, .njsons = 1};
  fake_start(&fwk);
  run_t rw = run_at(&cmd_workers_entry, fwk.endpoint, 3, (const char *[]){"workers", "--limit", "1"});
  CHECK_INT(rw.status, 0);
  CHECK_CONTAINS(rw.out, "\nw1 ");
  CHECK_CONTAINS(rw.out, "\nmore workers: add --after w1 for the next page\n");
  run_free(&rw);
  rw = run_at(&cmd_workers_entry, fwk.endpoint, 3, (const char *[]){"workers", "--after", "w1"});
  CHECK_INT(rw.status, 0);
  run_free(&rw);
  fake_stop(&fwk);
  CHECK_INT(fwk.limit[0], 1);
  CHECK_STR(fwk.after_name[0], "");
  CHECK_INT(fwk.limit[1], 0);
  CHECK_STR(fwk.after_name[1], "w1");
  rw = run_cmd(&cmd_workers_entry, 3, (const char *[]){"workers", "--after", "W 1"});
  CHECK_INT(rw.status, 2);
  CHECK_CONTAINS(rw.err, "invalid --after 'W 1': expected a name");
  run_free(&rw);

  /* wait: polls until every job is finished; a failed job means exit 1. */
  const char *wj[] = {
      "{\"jobs\": [{\"job_id\": 12, \"name\": \"a\", \"state\": \"running\", \"ntasks\": 2, "
      "\"tasks\": {\"succeeded\": 1, \"running\": 1}}]}",
      "{\"jobs\": [{\"job_id\": 12, \"name\": \"a\", \"state\": \"succeeded\", \"ntasks\": 2, "
      "\"tasks\": {\"succeeded\": 2}}]}"};
  fake_t fw = {.nreq = 2, .jsons = wj, .njsons = 2};
  fake_start(&fw);
  /* Not a terminal: no bar on stderr. */
  check_run_ok(&cmd_wait_entry, NULL, ARGV("wait", "12", "--coordinator", fw.endpoint),
               "job 12 a: succeeded (2/2 tasks succeeded)\n");
  fake_stop(&fw);
  CHECK_INT(fw.served, 2);
  CHECK(fw.all[0] && fw.nids[0] == 1 && fw.id0[0] == 12);

  fake_t ff = {.nreq = 1, .jsons = jsons, .njsons = 1};
  fake_start(&ff);
  doc = run_json(&cmd_wait_entry, NULL, ARGV("wait", "3", "--coordinator", ff.endpoint, "--json"),
                 1, "clapper: job 3 failed\n"); /* the jobs document, not an error */
  CHECK(json_is_array(json_object_get(doc, "jobs")));
  json_decref(doc);
  fake_stop(&ff);

  /* wait for a job the coordinator does not list. */
  fake_t fn = {.nreq = 1, .jsons = jsons, .njsons = 1};
  fake_start(&fn);
  check_run_error(&cmd_wait_entry, NULL, ARGV("wait", "77", "--coordinator", fn.endpoint, "--json"),
                  1, "job 77 not found", true, "not_found");
  fake_stop(&fn);

  /* --max-wait-s gives up. */
  const char *never[] = {"{\"jobs\": [{\"job_id\": 12, \"state\": \"running\", \"ntasks\": 1}]}"};
  fake_t fm = {.nreq = FAKE_MAX, .jsons = never, .njsons = 1};
  fake_start(&fm);
  check_run_error(&cmd_wait_entry, NULL,
                  ARGV("wait", "12", "--max-wait-s", "1", "--coordinator", fm.endpoint), 124,
                  "still unfinished after 1 s", false, NULL);
  zmq_ctx_shutdown(fm.ctx); /* ends the fake's poll at once */
  fake_stop(&fm);

  /* job and tasks: human output. */
  const char *jj[] = {"{\"job_id\": 12, \"name\": \"sh0420-gen\", \"shot\": null, "
                      "\"command\": [\"gen\", \"{seed}\"]}",
                      "{\"tasks\": [{\"task_id\": 40, \"job_id\": 12, \"seq\": 0, \"state\": "
                      "\"succeeded\", \"attempts\": 1, \"attempt\": 1, \"worker\": \"w1\", "
                      "\"exit_code\": 0, "
                      "\"frame_start\": 1001, \"frame_end\": 1008, \"take\": null, \"seed\": "
                      "null, \"started_at\": \"2026-01-02T03:04:05.000000Z\", \"wall_s\": 12.25, "
                      "\"error\": \"\"}]}"};
  fake_t fj = {.nreq = 2, .jsons = jj, .njsons = 2};
  fake_start(&fj);
  const char *a7[] = {"job", "12", "--coordinator", fj.endpoint};
  r = run_cmd(&cmd_job_entry, 4, a7);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.out, "job_id:  12\nname:    sh0420-gen\nshot:    -\n"
                   "command: gen {seed}\n");
  run_free(&r);
  const char *a8[] = {"tasks", "12", "--coordinator", fj.endpoint};
  r = run_cmd(&cmd_tasks_entry, 4, a8);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.out, "TASK  SEQ  STATE      ATTEMPT  WORKER  EXIT  FRAMES     TAKE  SEED  "
                   "STARTED               WALL  ERROR\n"
                   "  40    0  succeeded        1  w1         0  1001-1008  -     -     "
                   "2026-01-02 03:04:05  12.2s  -\n");
  run_free(&r);
  fake_stop(&fj);
  CHECK_INT(fj.verb[1], CLAPPER__VERB__VERB_TASKS);
}

static void test_submit_roundtrip(void) {
  char dir[] = "/tmp/clapper-test-submit-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char *path = xasprintf("%s/job.json", dir);
  const char *text =
      "{\"project\": \"hod\", \"episode\": \"s02e03\", \"jobs\": [{\"name\": \"sh0420-gen\", "
      "\"shot\": \"sh0420\", \"kind\": \"generate\", \"command\": [\"gen-clip\", \"--seed\", "
      "\"{seed}\"], \"takes\": 4, \"seed\": 1000, \"requires\": {\"gpus\": 1}}]}";
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  const char *jsons[] = {"{\"jobs\": [{\"job_id\": 12, \"name\": \"sh0420-gen\", \"tasks\": 4}, "
                         "{\"job_id\": 13, \"name\": \"one\", \"tasks\": 1}]}",
                         "{\"jobs\": [{\"job_id\": 12, \"state\": \"queued\", \"reason\": \"\"}, "
                         "{\"job_id\": 13, \"state\": \"held\", \"reason\": \"budget of "
                         "hod/s02e03 spent\"}]}"};
  fake_t fk = {.nreq = 2, .jsons = jsons, .njsons = 2};
  fake_start(&fk);
  const char *argv[] = {"submit", path, "--coordinator", fk.endpoint};
  run_t r = run_cmd(&cmd_submit_entry, 4, argv);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.out, "job 12 sh0420-gen: 4 tasks, queued\n"
                   "job 13 one: 1 task, held: budget of hod/s02e03 spent\n");
  CHECK_STR(r.err, "");
  run_free(&r);
  fake_stop(&fk);
  CHECK_INT(fk.served, 2);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_SUBMIT);
  CHECK_INT(fk.verb[1], CLAPPER__VERB__VERB_JOBS); /* the states after the submission */
  CHECK_INT(fk.nids[1], 2);
  CHECK_INT(fk.body_len[0], strlen(text));
  /* Without --idempotency-key the client made one. */
  CHECK_INT(strlen(fk.idempotency_key[0]), CMD_SUBMIT_KEY_LEN);
  CHECK(!strncmp(fk.idempotency_key[0], "submit-", 7));

  /* With one, it is sent as given; a retry sends the same. */
  const char *once[] = {jsons[0], jsons[1], jsons[0], jsons[1]};
  fake_t fk2 = {.nreq = 4, .jsons = once, .njsons = 4};
  fake_start(&fk2);
  for (int i = 0; i < 2; i++)
    check_run_ok(&cmd_submit_entry, fk2.endpoint,
                 ARGV("submit", path, "--idempotency-key", "nightly-42"),
                 "job 12 sh0420-gen: 4 tasks, queued\n"
                 "job 13 one: 1 task, held: budget of hod/s02e03 spent\n");
  fake_stop(&fk2);
  CHECK_STR(fk2.idempotency_key[0], "nightly-42");
  CHECK_STR(fk2.idempotency_key[2], "nightly-42");

  /* Keys that cannot be used are refused before anything is sent. */
  check_run_error(&cmd_submit_entry, "ipc:///nonexistent/x.sock",
                  ARGV("submit", path, "--idempotency-key", ""), 2, "--idempotency-key: empty",
                  false, NULL);
  check_run_error(&cmd_submit_entry, "ipc:///nonexistent/x.sock",
                  ARGV("submit", path, "--idempotency-key", "a\tb"), 2,
                  "--idempotency-key: holds a control character (0x09 at byte 1)", false, NULL);
  char big[INPUT_IDEMPOTENCY_KEY_MAX + 2];
  memset(big, 'k', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  check_run_error(&cmd_submit_entry, "ipc:///nonexistent/x.sock",
                  ARGV("submit", path, "--idempotency-key", big), 2,
                  "--idempotency-key: 129 bytes, more than 128", false, NULL);

  /* The request left and no answer came: the outcome is unknown, and the
   * message gives the command that finds out. */
  fake_t mute = {.nreq = 0};
  fake_start(&mute);
  run_t r2 =
      run_at(&cmd_submit_entry, mute.endpoint, 5,
             (const char *[]){"submit", path, "--idempotency-key", "k-7", "--timeout-ms=300"});
  CHECK_INT(r2.status, 1);
  char *want = xasprintf("clapper: no reply within 300 ms (outcome unknown): the coordinator at "
                         "%s got the request but did not answer in time; it may still carry it "
                         "out; to find out, send it again with the same key: clapper submit "
                         "--idempotency-key k-7 %s (it returns the jobs already created under "
                         "that key, or creates them once)\n",
                         mute.endpoint, path);
  CHECK_STR(r2.err, want);
  free(want);
  run_free(&r2);
  fake_stop(&mute);
  rm_rf(dir);
  free(path);
}

/* --coordinator a,b: the endpoints, and the one that answers. */
static void test_rpc_endpoints(void) {
  char *eps[RPC_MAX_ENDPOINTS];
  size_t n = 0;
  char err[512];
  CHECK_INT(
      rpc_endpoints_split("tcp://a:1,ipc:///x/y.sock", eps, RPC_MAX_ENDPOINTS, &n, err, sizeof err),
      0);
  CHECK_INT(n, 2);
  CHECK_STR(eps[0], "tcp://a:1");
  CHECK_STR(eps[1], "ipc:///x/y.sock");
  free(eps[0]);
  free(eps[1]);
  const char *bad[] = {"", ",", "tcp://a:1,", ",tcp://a:1", "tcp://a:1,,tcp://b:1"};
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    CHECK_INT(rpc_endpoints_split(bad[i], eps, RPC_MAX_ENDPOINTS, &n, err, sizeof err), -1);
    CHECK_INT(n, 0);
    CHECK_CONTAINS(err, "has an empty endpoint");
  }
  CHECK_INT(rpc_endpoints_split("a,b,c", eps, 2, &n, err, sizeof err), -1);
  CHECK_STR(err, "--coordinator: more than 2 endpoints in 'a,b,c'");
  CHECK_INT(n, 0);

  /* A dead endpoint first (a standby that does not lead binds nothing),
   * then the leader: the call is answered, soon. */
  char dir[] = "/tmp/clapper-test-rpc-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  const char *jsons[] = {"{\"pong\": true}"};
  fake_t fk = {.nreq = 2, .jsons = jsons, .njsons = 1};
  fake_start(&fk);
  char *list = xasprintf("ipc://%s/standby.sock,%s", dir, fk.endpoint);
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_PING;
  Clapper__Reply *reply = NULL;
  cli_error_t cerr = {0};
  uint64_t t0 = util_mono_us();
  CHECK_INT(rpc_call(list, &req, 5000, &reply, &cerr), 0);
  CHECK((util_mono_us() - t0) / 1000 < 2000);
  rpc_reply_free(&reply);
  free(list);
  list = xasprintf("%s,ipc://%s/standby.sock", fk.endpoint, dir);
  CHECK_INT(rpc_call(list, &req, 5000, &reply, &cerr), 0);
  rpc_reply_free(&reply);
  fake_stop(&fk);
  CHECK_INT(fk.served, 2);
  free(list);

  /* Nobody at either: one message naming both. */
  list = xasprintf("ipc://%s/a.sock,ipc://%s/b.sock", dir, dir);
  CHECK_INT(rpc_call(list, &req, 200, &reply, &cerr), -1);
  CHECK_STR(cerr.code, "unavailable");
  char *want = xasprintf("cannot reach the coordinator at ipc://%s/a.sock or ipc://%s/b.sock: "
                         "nothing accepted a connection within 200 ms (is one of them running "
                         "and leading? a standby accepts connections only once it leads)",
                         dir, dir);
  CHECK_STR(cerr.message, want);
  free(want);
  free(list);
  CHECK_INT(rpc_call("tcp://a:1,,tcp://b:1", &req, 200, &reply, &cerr), -1);
  CHECK_STR(cerr.code, "usage");

  /* A listener that accepts connections and never speaks (a stopped
   * process: the kernel accepts for it): the request was not sent, and
   * the message says so; with the leader listed too, the leader answers. */
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t salen = sizeof sa;
  CHECK_INT(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  CHECK_INT(listen(lfd, 8), 0);
  CHECK_INT(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
  char *silent = xasprintf("tcp://127.0.0.1:%d", ntohs(sa.sin_port));
  CHECK_INT(rpc_call(silent, &req, 300, &reply, &cerr), -1);
  CHECK_STR(cerr.code, "unavailable");
  want = xasprintf("no reply within 300 ms from the coordinator at %s: it accepted the "
                   "connection but did not answer the handshake (is it stopped or "
                   "overloaded?); the request was not sent",
                   silent);
  CHECK_STR(cerr.message, want);
  free(want);
  fake_t fl = {.nreq = 1, .jsons = jsons, .njsons = 1};
  fake_start(&fl);
  list = xasprintf("%s,%s", silent, fl.endpoint);
  CHECK_INT(rpc_call(list, &req, 5000, &reply, &cerr), 0);
  rpc_reply_free(&reply);
  fake_stop(&fl);
  CHECK_INT(fl.served, 1);
  free(list);
  free(silent);
  close(lfd);
  rm_rf(dir);
}

static void test_control_verbs(void) {
  const char *jsons[] = {
      /* cancel 12 13 */
      "{\"jobs\": [{\"job_id\": 12, \"name\": \"sh0420-gen\", \"state\": \"canceled\", "
      "\"tasks\": {\"ready\": 0, \"dispatched\": 1, \"running\": 2, \"canceled\": 5}}, "
      "{\"job_id\": 13, \"name\": \"one\", \"state\": \"canceled\", \"tasks\": {\"canceled\": "
      "1}}]}",
      /* cancel 14 */
      "{\"jobs\": [{\"job_id\": 14, \"name\": \"b\", \"state\": \"canceled\", \"tasks\": "
      "{\"running\": 1}}]}",
      /* pause 12 */
      "{\"jobs\": [{\"job_id\": 12, \"name\": \"a\", \"state\": \"paused\", \"tasks\": "
      "{\"running\": 2, \"paused\": 3}}]}",
      /* pause 13 */
      "{\"jobs\": [{\"job_id\": 13, \"name\": \"b\", \"state\": \"paused\", \"tasks\": "
      "{\"dispatched\": 1}}, {\"job_id\": 14, \"name\": \"c\", \"state\": \"paused\", "
      "\"tasks\": {\"paused\": 4}}]}",
      /* resume 12 */
      "{\"jobs\": [{\"job_id\": 12, \"name\": \"a\", \"state\": \"queued\", \"tasks\": "
      "{\"ready\": 5}}]}",
      /* retry 12 */
      "{\"jobs\": [{\"job_id\": 12, \"name\": \"a\", \"state\": \"running\", \"tasks\": "
      "{\"ready\": 3, \"succeeded\": 1}, \"retried\": 3}, {\"job_id\": 15, \"name\": \"d\", "
      "\"state\": \"queued\", \"tasks\": {\"ready\": 1}, \"retried\": 1}]}",
      /* cancel 12 --json */
      "{\"jobs\": [{\"job_id\": 12, \"name\": \"a\", \"state\": \"canceled\", \"tasks\": "
      "{\"canceled\": 2}}]}",
  };
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  check_run_ok(&cmd_cancel_entry, fk.endpoint, ARGV("cancel", "12", "13", "--note", "wrong seed"),
               "job 12 sh0420-gen: canceled (3 running tasks are being stopped)\n"
               "job 13 one: canceled\n");
  check_run_ok(&cmd_cancel_entry, fk.endpoint, ARGV("cancel", "14"),
               "job 14 b: canceled (1 running task is being stopped)\n");
  check_run_ok(&cmd_pause_entry, fk.endpoint, ARGV("pause", "12"),
               "job 12 a: paused (2 running tasks finish, nothing new starts)\n");
  check_run_ok(&cmd_pause_entry, fk.endpoint, ARGV("pause", "13", "14"),
               "job 13 b: paused (1 running task finishes, nothing new starts)\n"
               "job 14 c: paused (nothing new starts)\n");
  check_run_ok(&cmd_resume_entry, fk.endpoint, ARGV("resume", "12"), "job 12 a: queued\n");
  check_run_ok(&cmd_retry_entry, fk.endpoint, ARGV("retry", "12", "15"),
               "job 12 a: running again: 3 failed tasks requeued\n"
               "job 15 d: running again: 1 failed task requeued\n");
  json_t *doc = run_json(&cmd_cancel_entry, fk.endpoint, ARGV("cancel", "--json", "12"), 0, "");
  json_t *job = json_array_get(json_object_get(doc, "jobs"), 0);
  CHECK_INT(json_integer_value(json_object_get(job, "job_id")), 12);
  CHECK_STR(json_string_value(json_object_get(job, "state")), "canceled");
  CHECK_INT(json_integer_value(json_object_get(json_object_get(job, "tasks"), "canceled")), 2);
  json_decref(doc);
  fake_stop(&fk);

  CHECK_INT(fk.served, 7);
  static const Clapper__Verb want_verb[] = {
      CLAPPER__VERB__VERB_CANCEL, CLAPPER__VERB__VERB_CANCEL, CLAPPER__VERB__VERB_PAUSE,
      CLAPPER__VERB__VERB_PAUSE,  CLAPPER__VERB__VERB_RESUME, CLAPPER__VERB__VERB_RETRY,
      CLAPPER__VERB__VERB_CANCEL};
  static const size_t want_nids[] = {2, 1, 1, 2, 1, 2, 1};
  for (size_t i = 0; i < ARRAY_SIZE(want_verb); i++) {
    CHECK_INT(fk.verb[i], want_verb[i]);
    CHECK_INT(fk.nids[i], want_nids[i]);
  }
  CHECK_INT(fk.ids[0][0], 12);
  CHECK_INT(fk.ids[0][1], 13);
  CHECK_STR(fk.note[0], "wrong seed");
  CHECK_STR(fk.note[1], ""); /* --note does not stick to the next run */
  CHECK_INT(fk.ids[3][0], 13);
  CHECK_INT(fk.ids[3][1], 14);
  CHECK_INT(fk.ids[5][1], 15);

  /* The coordinator's refusals, as it words them. */
  fake_t fn = {.nreq = 2, .error_code = "not_found", .error_message = "no such job: 12"};
  fake_start(&fn);
  check_run_error(&cmd_cancel_entry, fn.endpoint, ARGV("cancel", "12"), 1, "no such job: 12", false,
                  NULL);
  check_run_error(&cmd_retry_entry, fn.endpoint, ARGV("retry", "12", "--json"), 1,
                  "no such job: 12", true, "not_found");
  fake_stop(&fn);
  CHECK_INT(fn.verb[1], CLAPPER__VERB__VERB_RETRY);

  fake_t fi = {.nreq = 1,
               .error_code = "invalid_state",
               .error_message = "job 12 is succeeded: there is nothing to pause"};
  fake_start(&fi);
  check_run_error(&cmd_pause_entry, fi.endpoint, ARGV("pause", "12", "--json"), 1,
                  "job 12 is succeeded: there is nothing to pause", true, "invalid_state");
  fake_stop(&fi);
}

static void test_drain_and_episode(void) {
  const char *jsons[] = {
      "{\"worker\": {\"name\": \"local-1\", \"hostname\": \"h\", \"state\": \"draining\", "
      "\"cpus\": 8, \"memory_mb\": 16384, \"gpus\": [], \"tags\": [], \"free\": {\"cpus\": 4, "
      "\"memory_mb\": 8192, \"gpus\": 0}, \"running\": 2, \"last_heartbeat\": null}}",
      "{\"worker\": {\"name\": \"local-2\", \"state\": \"draining\", \"running\": 1}}",
      "{\"worker\": {\"name\": \"local-3\", \"state\": \"draining\", \"running\": 0}}",
      ("{\"worker\": {\"name\": \"local-1\", \"hostname\": \"h\", \"state\": \"online\", "
       "\"running\": 2}}"),
      "{\"worker\": {\"name\": \"local-1\", \"state\": \"online\", \"running\": 0}}",
      "{\"episode\": \"hod/s02e03\", \"weight\": 3}",
      "{\"episode\": \"hod/s02e03\", \"weight\": 1000}",
  };
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);
  check_run_ok(&cmd_drain_entry, fk.endpoint, ARGV("drain", "local-1"),
               "worker local-1: draining (2 running attempts finish, nothing new starts)\n");
  check_run_ok(&cmd_drain_entry, fk.endpoint, ARGV("drain", "local-2"),
               "worker local-2: draining (1 running attempt finishes, nothing new starts)\n");
  check_run_ok(&cmd_drain_entry, fk.endpoint, ARGV("drain", "local-3"),
               "worker local-3: draining (nothing new starts)\n");
  check_run_ok(&cmd_undrain_entry, fk.endpoint, ARGV("undrain", "local-1"),
               "worker local-1: online\n");
  json_t *doc =
      run_json(&cmd_undrain_entry, fk.endpoint, ARGV("undrain", "local-1", "--json"), 0, NULL);
  CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "worker"), "state")),
            "online");
  json_decref(doc);
  check_run_ok(&cmd_episode_entry, fk.endpoint, ARGV("episode", "weight", "hod/s02e03", "3"),
               "episode hod/s02e03: weight 3\n");
  doc = run_json(&cmd_episode_entry, fk.endpoint,
                 ARGV("episode", "--json", "weight", "hod/s02e03", "1000"), 0, NULL);
  CHECK_STR(json_string_value(json_object_get(doc, "episode")), "hod/s02e03");
  CHECK_INT(json_integer_value(json_object_get(doc, "weight")), 1000);
  json_decref(doc);
  fake_stop(&fk);
  CHECK_INT(fk.served, 7);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_DRAIN);
  CHECK_STR(fk.name[0], "local-1");
  CHECK_INT(fk.nids[0], 0);
  CHECK_INT(fk.verb[3], CLAPPER__VERB__VERB_UNDRAIN);
  CHECK_STR(fk.name[3], "local-1");
  CHECK_INT(fk.verb[5], CLAPPER__VERB__VERB_EPISODE_WEIGHT);
  CHECK_STR(fk.name[5], "hod/s02e03");
  CHECK_INT(fk.value[5], 3);
  CHECK_INT(fk.value[6], 1000);

  fake_t fn = {.nreq = 1, .error_code = "not_found", .error_message = "no such worker: local-9"};
  fake_start(&fn);
  check_run_error(&cmd_drain_entry, fn.endpoint, ARGV("drain", "local-9", "--json"), 1,
                  "no such worker: local-9", true, "not_found");
  fake_stop(&fn);
  CHECK_INT(fn.served, 1);
}

/* A logs reply of attempt (0: none yet); attempt ids from 16 on are the
 * tries 1, 2, ... */
static char *logs_reply(uint64_t attempt, uint64_t offset, const char *data, bool done) {
  if (!attempt)
    return xasprintf("{\"task_id\": 5, \"attempt_id\": null, \"attempt\": null, "
                     "\"attempt_state\": null, \"offset\": 0, \"data\": \"\", \"done\": false, "
                     "\"truncated\": false, \"log_path\": null}");
  return xasprintf("{\"task_id\": 5, \"attempt_id\": %" PRIu64 ", \"attempt\": %" PRIu64
                   ", \"attempt_state\": \"%s\", \"offset\": %" PRIu64 ", \"data\": \"%s\", "
                   "\"done\": %s, \"truncated\": false, \"log_path\": null}",
                   attempt, attempt - 15, done ? "succeeded" : "running", offset, data,
                   done ? "true" : "false");
}

static void free_replies(char **r, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(r[i]);
}

static pthread_t sigint_target;

/* Sends SIGINT to sigint_target after the number of ms in arg. */
static void *sigint_later(void *arg) {
  struct timespec ts = {0, (long)(intptr_t)arg * 1000000L};
  nanosleep(&ts, NULL);
  pthread_kill(sigint_target, SIGINT);
  return NULL;
}

/* Runs logs -f with argv, interrupted by SIGINT after ms. */
static run_t run_interrupted(const char *endpoint, int argc, const char *const *argv, int ms) {
  sigint_target = pthread_self();
  pthread_t thr;
  pthread_create(&thr, NULL, sigint_later, (void *)(intptr_t)ms);
  run_t r = run_at(&cmd_logs_entry, endpoint, argc, argv);
  pthread_join(thr, NULL);
  return r;
}

static void test_logs(void) {
  /* Without -f: reads on while data comes, keeping the attempt it saw. */
  char *once[] = {logs_reply(17, 6, "hello\\n", false), logs_reply(17, 12, "world\\n", false),
                  logs_reply(17, 12, "", false)};
  fake_t fk = {.nreq = 3, .jsons = (const char *const *)once, .njsons = 3};
  fake_start(&fk);
  const char *const *a0 = ARGV("logs", "5");
  check_run_ok(&cmd_logs_entry, fk.endpoint, a0, "hello\nworld\n");
  fake_stop(&fk);
  CHECK_INT(fk.served, 3);
  for (int i = 0; i < 3; i++) {
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_LOGS);
    CHECK_INT(fk.nids[i], 1);
    CHECK_INT(fk.id0[i], 5);
  }
  CHECK_INT(fk.offset[0], 0);
  CHECK_INT(fk.offset[1], 6);
  CHECK_INT(fk.offset[2], 12);
  CHECK_INT(fk.value[0], 0);
  CHECK_INT(fk.value[1], 17);
  CHECK_INT(fk.value[2], 17);
  free_replies(once, 3);

  /* --json: one document, the data of both reads joined; done stops it;
   * --attempt-id is the request's value. */
  char *js[] = {logs_reply(16, 6, "hello\\n", false), logs_reply(16, 13, "w\\u00f6rld\\n", true)};
  fake_t fj = {.nreq = 2, .jsons = (const char *const *)js, .njsons = 2};
  fake_start(&fj);
  json_t *doc =
      run_json(&cmd_logs_entry, fj.endpoint, ARGV("logs", "5", "--json", "--attempt-id", "16"), 0,
               "");
  CHECK_STR(json_string_value(json_object_get(doc, "data")), "hello\nw\xc3\xb6rld\n");
  CHECK_INT(json_integer_value(json_object_get(doc, "offset")), 13);
  CHECK_INT(json_integer_value(json_object_get(doc, "attempt_id")), 16);
  CHECK_INT(json_integer_value(json_object_get(doc, "task_id")), 5);
  CHECK(json_is_true(json_object_get(doc, "done")));
  CHECK(json_is_false(json_object_get(doc, "truncated")));
  json_decref(doc);
  fake_stop(&fj);
  CHECK_INT(fj.served, 2);
  CHECK_INT(fj.value[0], 16);
  CHECK_INT(fj.value[1], 16);
  CHECK_INT(fj.offset[1], 6);
  CHECK_INT(fj.try_no[0], 0);
  free_replies(js, 2);

  /* --attempt N: the Nth try, found by a first request with try_no = N,
   * then read by its id from the beginning. */
  char *tn[] = {logs_reply(17, 3, "abc", false), logs_reply(17, 3, "abc", false),
                logs_reply(17, 6, "def", true)};
  fake_t ft2 = {.nreq = 3, .jsons = (const char *const *)tn, .njsons = 3};
  fake_start(&ft2);
  check_run_ok(&cmd_logs_entry, ft2.endpoint, ARGV("logs", "5", "--attempt", "2"), "abcdef");
  fake_stop(&ft2);
  CHECK_INT(ft2.served, 3);
  CHECK_INT(ft2.try_no[0], 2);
  CHECK_INT(ft2.value[0], 0);
  CHECK_INT(ft2.try_no[1], 0);
  CHECK_INT(ft2.value[1], 17);
  CHECK_INT(ft2.offset[1], 0);
  CHECK_INT(ft2.offset[2], 3);
  free_replies(tn, 3);
  /* A try the task never made: the coordinator's word, exit 1. */
  fake_t fnt = {.nreq = 1, .error_code = "not_found", .error_message = "task 5 has no attempt 4"};
  fake_start(&fnt);
  check_run_error(&cmd_logs_entry, fnt.endpoint, ARGV("logs", "5", "--attempt", "4"), 1,
                  "task 5 has no attempt 4", false, NULL);
  fake_stop(&fnt);
  CHECK_INT(fnt.try_no[0], 4);
  /* Both ways of naming an attempt at once: a usage error. */
  check_run_error(&cmd_logs_entry, NULL, ARGV("logs", "5", "--attempt", "1", "--attempt-id", "9"),
                  2, "give one", false, NULL);

  /* No attempt yet: nothing on stdout, a note on stderr, exit 0; --json
   * prints the reply as it is. */
  char *none[] = {logs_reply(0, 0, "", false)};
  fake_t fz = {.nreq = 2, .jsons = (const char *const *)none, .njsons = 1};
  fake_start(&fz);
  run_t r = run_at(&cmd_logs_entry, fz.endpoint, 2, a0);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.out, "");
  CHECK_STR(r.err, "clapper: task 5 has not started yet\n");
  run_free(&r);
  doc = run_json(&cmd_logs_entry, fz.endpoint, ARGV("logs", "5", "--json"), 0, "");
  CHECK(json_is_null(json_object_get(doc, "attempt_id")));
  json_decref(doc);
  fake_stop(&fz);
  CHECK_INT(fz.served, 2);
  free_replies(none, 1);

  /* -f: waits for the attempt to start, prints the data in two pieces
   * and stops when it is done. */
  char *fol[] = {logs_reply(0, 0, "", false), logs_reply(17, 4, "one\\n", false),
                 logs_reply(17, 4, "", false), logs_reply(17, 8, "two\\n", true)};
  fake_t ff = {.nreq = 4, .jsons = (const char *const *)fol, .njsons = 4};
  fake_start(&ff);
  const char *a3[] = {"logs", "-f", "5"};
  uint64_t t0 = util_mono_us();
  r = run_at(&cmd_logs_entry, ff.endpoint, 3, a3);
  uint64_t ms = (util_mono_us() - t0) / 1000;
  check_ok(&r, "one\ntwo\n");
  run_free(&r);
  fake_stop(&ff);
  CHECK_INT(ff.served, 4);
  CHECK(ms >= 400 && ms < 5000); /* two naps: before the start, after the empty read */
  static const uint64_t want_off[] = {0, 0, 4, 4};
  for (int i = 0; i < 4; i++) {
    CHECK_INT(ff.offset[i], want_off[i]);
    CHECK_INT(ff.value[i], 0);
    CHECK_INT(ff.id0[i], 5);
  }
  free_replies(fol, 4);

  /* -f across a retry: the rest of attempt 17, a marker line, then
   * attempt 18 from its beginning. */
  char *ret[] = {logs_reply(17, 2, "a\\n", false), logs_reply(18, 4, "xx", false),
                 logs_reply(17, 3, "b", true), logs_reply(18, 4, "new\\n", true)};
  fake_t fr = {.nreq = 4, .jsons = (const char *const *)ret, .njsons = 4};
  fake_start(&fr);
  check_run_ok(&cmd_logs_entry, fr.endpoint, ARGV("logs", "--follow", "5"),
               "a\nb\n--- attempt 3 (id 18) ---\nnew\n");
  fake_stop(&fr);
  CHECK_INT(fr.served, 4);
  static const uint64_t ret_off[] = {0, 2, 2, 0};
  static const int64_t ret_val[] = {0, 0, 17, 0};
  for (int i = 0; i < 4; i++) {
    CHECK_INT(fr.offset[i], ret_off[i]);
    CHECK_INT(fr.value[i], ret_val[i]);
  }
  free_replies(ret, 4);

  /* A task the coordinator does not know. */
  fake_t fn = {.nreq = 2, .error_code = "not_found", .error_message = "no such task: 99"};
  fake_start(&fn);
  check_run_error(&cmd_logs_entry, fn.endpoint, ARGV("logs", "99"), 1, "no such task: 99", false,
                  NULL);
  check_run_error(&cmd_logs_entry, fn.endpoint, ARGV("logs", "99", "-f"), 1, "no such task: 99",
                  false, NULL);
  fake_stop(&fn);
  CHECK_INT(fn.id0[1], 99);

  /* A reply whose offset does not move on is refused, not looped on. */
  char *stuck[] = {logs_reply(17, 0, "abc", false)};
  fake_t fs = {.nreq = 1, .jsons = (const char *const *)stuck, .njsons = 1};
  fake_start(&fs);
  r = run_at(&cmd_logs_entry, fs.endpoint, 2, a0);
  CHECK_INT(r.status, 1);
  CHECK_CONTAINS(r.err, "makes no sense");
  run_free(&r);
  fake_stop(&fs);
  free_replies(stuck, 1);

  /* SIGINT ends -f quietly, between polls ... */
  char *live[] = {logs_reply(17, 3, "abc", false), logs_reply(17, 3, "", false)};
  fake_t fl = {.nreq = FAKE_MAX, .jsons = (const char *const *)live, .njsons = 2};
  fake_start(&fl);
  r = run_interrupted(fl.endpoint, 3, a3, 600);
  check_ok(&r, "abc");
  run_free(&r);
  zmq_ctx_shutdown(fl.ctx);
  fake_stop(&fl);
  CHECK(fl.served >= 2);
  free_replies(live, 2);
  /* ... and while it waits for a coordinator that does not answer. */
  char dir[] = "/tmp/clapper-test-logs-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char *ep = xasprintf("ipc://%s/nobody.sock", dir);
  const char *a5[] = {"logs", "-f", "5", "--timeout-ms", "20000"};
  t0 = util_mono_us();
  r = run_interrupted(ep, 5, a5, 300);
  ms = (util_mono_us() - t0) / 1000;
  check_ok(&r, "");
  CHECK(ms < 5000);
  run_free(&r);
  rm_rf(dir);
  free(ep);

  /* A truncated log: on a terminal, the last line on stderr says where
   * the whole log is; not on a pipe. */
  const char *trunc[] = {
      "{\"task_id\": 5, \"attempt_id\": 17, \"attempt_state\": \"failed\", \"offset\": 3, "
      "\"data\": \"abc\", \"done\": true, \"truncated\": true, \"log_path\": {\"worker\": "
      "\"local-1\", \"path\": \"/w/logs/17.log\"}}"};
  fake_t ft = {.nreq = 2, .jsons = trunc, .njsons = 1};
  fake_start(&ft);
  check_run_ok(&cmd_logs_entry, ft.endpoint, a0, "abc");
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0) {
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    CHECK(slave >= 0);
    char *out = NULL;
    size_t olen = 0;
    FILE *fo = open_memstream(&out, &olen);
    FILE *fe = fdopen(slave, "w");
    char *argv[] = {"logs", "5", "--coordinator", ft.endpoint, NULL};
    CHECK_INT(cmd_run(&cmd_logs_entry, 4, argv, fo, fe), 0);
    fflush(fe);
    fclose(fo);
    CHECK_STR(out, "abc\n"); /* the note starts on a line of its own */
    free(out);
    char buf[1024] = "";
    size_t got = 0;
    struct pollfd pfd = {master, POLLIN, 0};
    while (got + 1 < sizeof buf && poll(&pfd, 1, 1000) > 0) {
      ssize_t n = read(master, buf + got, sizeof buf - 1 - got);
      if (n <= 0)
        break;
      got += (size_t)n;
      buf[got] = '\0';
      if (strchr(buf, '\n'))
        break;
    }
    CHECK_CONTAINS(buf, "clapper: the coordinator kept only the first 3 bytes of the log of "
                        "attempt 17; the whole log is on worker local-1 at /w/logs/17.log");
    fclose(fe);
  } else {
    fprintf(stderr, "test_logs: no pseudo-terminal, truncation note not checked\n");
  }
  if (master >= 0)
    close(master);
  zmq_ctx_shutdown(ft.ctx); /* without a terminal it waits for a second request */
  fake_stop(&ft);
}

static void test_reasons(void) {
  const char *jsons[] = {
      "{\"jobs\": [{\"job_id\": 12, \"name\": \"big\", \"project\": \"hod\", \"episode\": "
      "\"e1\", \"shot\": null, \"kind\": \"generate\", \"state\": \"queued\", \"priority\": 50, "
      "\"ntasks\": 1, \"tasks\": {\"ready\": 1}, \"reason\": \"no connected worker has 4 GPUs "
      "with 80000 MB each\"}, {\"job_id\": 13, \"name\": \"ok\", \"project\": \"hod\", "
      "\"episode\": \"e1\", \"shot\": null, \"kind\": \"render\", \"state\": \"running\", "
      "\"priority\": 50, \"ntasks\": 2, \"tasks\": {\"running\": 1, \"succeeded\": 1}, "
      "\"reason\": \"\"}]}",
      "{\"jobs\": [{\"job_id\": 13, \"name\": \"ok\", \"project\": \"hod\", \"episode\": "
      "\"e1\", \"shot\": null, \"kind\": \"render\", \"state\": \"running\", \"priority\": 50, "
      "\"ntasks\": 2, \"tasks\": {\"running\": 1, \"succeeded\": 1}, \"reason\": \"\"}]}",
      ("{\"job_id\": 12, \"name\": \"big\", \"state\": \"queued\", \"reason\": \"no connected "
       "worker has 4 GPUs with 80000 MB each\"}"),
      "{\"job_id\": 13, \"name\": \"ok\", \"state\": \"running\", \"reason\": \"\"}",
  };
  fake_t fk = {.nreq = 4, .jsons = jsons, .njsons = 4};
  fake_start(&fk);
  const char *const *a0 = ARGV("jobs");
  check_run_ok(&cmd_jobs_entry, fk.endpoint, a0,
               "ID  NAME  PROJECT/EPISODE  SHOT  KIND      STATE    PRI  DONE/TOTAL  FAILED  "
               "RUNNING  REASON\n"
               "12  big   hod/e1           -     generate  queued    50         0/1       0  "
               "      0  no connected worker has 4 GPUs with 80000 MB each\n"
               "13  ok    hod/e1           -     render    running   50         1/2       0  "
               "      1  -\n");
  check_run_ok(&cmd_jobs_entry, fk.endpoint, a0,
               "ID  NAME  PROJECT/EPISODE  SHOT  KIND    STATE    PRI  DONE/TOTAL  FAILED  "
               "RUNNING\n"
               "13  ok    hod/e1           -     render  running   50         1/2       0  "
               "      1\n");
  check_run_ok(&cmd_job_entry, fk.endpoint, ARGV("job", "12"),
               "job_id: 12\nname:   big\nstate:  queued\n"
               "reason: no connected worker has 4 GPUs with 80000 MB each\n");
  check_run_ok(&cmd_job_entry, fk.endpoint, ARGV("job", "13"),
               "job_id: 13\nname:   ok\nstate:  running\n");
  fake_stop(&fk);
  CHECK_INT(fk.served, 4);
}

int main(void) {
  clitest_init();
  test_rpc_unavailable();
  test_rpc_roundtrip();
  test_verbs_against_fake();
  test_submit_roundtrip();
  test_rpc_endpoints();
  test_control_verbs();
  test_drain_and_episode();
  test_logs();
  test_reasons();
  return check_report("test_client_jobs");
}
