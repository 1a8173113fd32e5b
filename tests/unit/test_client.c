/*
 * test_client.c - the clapper command's pure pieces and its RPC.
 *
 * Tables, CSV fields and progress lines are compared byte for byte; each
 * verb is run through cmd_run with memory streams to check argument validation and
 * the one-line error (plus the --json error document); rpc_call is tried
 * against an endpoint nobody binds (quick "unavailable") and against a
 * small ROUTER in a thread that answers like the coordinator, also with a
 * reply for another request id first, which must be ignored.  The
 * operator verbs (cancel, pause, resume, retry, drain, undrain, episode
 * weight) and logs are checked the same way: the request fields the fake
 * received, the human and --json output of canned replies, and logs -f
 * following a canned sequence (two pieces, a retry, SIGINT); a pseudo-
 * terminal stands in for stderr where output depends on one.  The cost
 * verbs (rates, rates set, budget, cost) likewise: every argument error
 * found before anything is sent (forms, amounts, --from, P/E, --by), the
 * request fields (kind, name, amount, at_us, by), and the table, line,
 * CSV and --json output of canned replies; the CSV is parsed back and its
 * TOTAL row compared with the table's.  The sign-off verbs (takes,
 * approve, reject, request-changes, retake, audit, audit --verify) too:
 * their argument errors (nothing is sent), the request fields (name, shot,
 * state, ids, note), the table, lines, CSV (its TOTAL row equal to the
 * reply's totals) and --json of canned replies, the coordinator's
 * refusals (forbidden, invalid_state, not_found), and the exit status of
 * an intact and of a broken event log.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "cmd.h"
#include "codec.h"
#include "farm.h"
#include "keys.h"
#include "output.h"
#include "proc.h"
#include "rpc.h"

/* ---------------------------------------------------------------- helpers */

/* Output of one cmd_run. */
typedef struct run {
  int status;
  char *out, *err;
} run_t;

static run_t run_cmd(const struct cmd_entry *e, int argc, const char *const *argv) {
  run_t r = {0};
  size_t olen = 0, elen = 0;
  FILE *out = open_memstream(&r.out, &olen);
  FILE *err = open_memstream(&r.err, &elen);
  r.status = cmd_run(e, argc, (char **)argv, out, err);
  fclose(out);
  fclose(err);
  return r;
}

static void run_free(run_t *r) {
  free(r->out);
  free(r->err);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; s && *s; s++)
    n += *s == '\n';
  return n;
}

/* Checks that r failed with status, one "clapper: ..." line containing
 * needle on stderr, and (json) an error document with code on stdout. */
static void check_error(const run_t *r, int status, const char *needle, bool json,
                        const char *code) {
  CHECK_INT(r->status, status);
  CHECK_INT(count_lines(r->err), 1);
  CHECK(strncmp(r->err, "clapper: ", 9) == 0);
  CHECK_CONTAINS(r->err, needle);
  if (json) {
    json_error_t jerr;
    json_t *doc = json_loads(r->out, 0, &jerr);
    CHECK(doc != NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "error"), "code")), code);
    CHECK_CONTAINS(json_string_value(json_object_get(json_object_get(doc, "error"), "message")),
                   needle);
    json_decref(doc);
  } else {
    CHECK_STR(r->out, "");
  }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void rm_rf(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* ---------------------------------------------------------------- fake coordinator */

#define FAKE_MAX 32

/* A ROUTER in a thread that answers up to nreq requests: reply i carries
 * jsons[min(i, njsons-1)] (or an error when error_code is set); with
 * wrong_id_first every answer is preceded by one for another id. */
typedef struct fake {
  void *ctx, *sock;
  char endpoint[256];
  pthread_t thr;
  int nreq;
  const char *const *jsons;
  int njsons;
  const char *error_code, *error_message;
  bool wrong_id_first;
  /* what was received */
  int served;
  Clapper__Verb verb[FAKE_MAX];
  size_t nids[FAKE_MAX];
  uint64_t id0[FAKE_MAX];
  bool all[FAKE_MAX];
  uint32_t limit[FAKE_MAX];
  size_t body_len[FAKE_MAX];
  uint64_t ids[FAKE_MAX][4];
  char name[FAKE_MAX][128];
  char note[FAKE_MAX][128];
  uint64_t offset[FAKE_MAX];
  int64_t value[FAKE_MAX];
  char amount[FAKE_MAX][64];
  char kind[FAKE_MAX][32];
  int64_t at_us[FAKE_MAX];
  char by[FAKE_MAX][32];
  char shot[FAKE_MAX][64];
  char state[FAKE_MAX][32];
  char public_key[FAKE_MAX][48];
} fake_t;

static void *fake_main(void *arg) {
  fake_t *f = arg;
  while (f->served < f->nreq) {
    zmq_pollitem_t item = {f->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 10000) <= 0)
      break;
    uint8_t ident[CODEC_MAX_IDENT];
    size_t identlen = 0;
    envelope_t *env = NULL;
    char why[256];
    if (codec_recv(f->sock, ident, &identlen, NULL, CODEC_MAX_CLIENT_MSG, &env, why,
                   sizeof why) != 1)
      continue;
    int i = f->served++;
    Clapper__Request *req = env->request;
    if (i < FAKE_MAX && req) {
      f->verb[i] = req->verb;
      f->nids[i] = req->n_ids;
      f->id0[i] = req->n_ids ? req->ids[0] : 0;
      f->all[i] = req->all;
      f->limit[i] = req->limit;
      f->body_len[i] = req->body.len;
      for (size_t k = 0; k < req->n_ids && k < 4; k++)
        f->ids[i][k] = req->ids[k];
      snprintf(f->name[i], sizeof f->name[i], "%s", req->name ? req->name : "");
      snprintf(f->note[i], sizeof f->note[i], "%s", req->note ? req->note : "");
      f->offset[i] = req->offset;
      f->value[i] = req->value;
      snprintf(f->amount[i], sizeof f->amount[i], "%s", req->amount ? req->amount : "");
      snprintf(f->kind[i], sizeof f->kind[i], "%s", req->kind ? req->kind : "");
      f->at_us[i] = req->at_us;
      snprintf(f->by[i], sizeof f->by[i], "%s", req->by ? req->by : "");
      snprintf(f->shot[i], sizeof f->shot[i], "%s", req->shot ? req->shot : "");
      snprintf(f->state[i], sizeof f->state[i], "%s", req->state ? req->state : "");
      snprintf(f->public_key[i], sizeof f->public_key[i], "%s",
               req->public_key ? req->public_key : "");
    }
    Clapper__Reply reply = CLAPPER__REPLY__INIT;
    Clapper__Envelope out = CLAPPER__ENVELOPE__INIT;
    out.body_case = CLAPPER__ENVELOPE__BODY_REPLY;
    out.reply = &reply;
    if (f->wrong_id_first) {
      reply.id = req ? req->id + 1 : 0;
      reply.ok = 1;
      reply.json = "{\"wrong\": true}";
      if (codec_send(f->sock, ident, identlen, &out) < 0)
        fprintf(stderr, "fake: send failed: %s\n", zmq_strerror(errno));
    }
    reply.id = req ? req->id : 0;
    if (f->error_code) {
      reply.ok = 0;
      reply.error_code = (char *)f->error_code;
      reply.error_message = (char *)f->error_message;
      reply.json = "";
    } else {
      reply.ok = 1;
      reply.json = (char *)f->jsons[i < f->njsons ? i : f->njsons - 1];
    }
    if (codec_send(f->sock, ident, identlen, &out) < 0)
      fprintf(stderr, "fake: send failed: %s\n", zmq_strerror(errno));
    codec_free(&env);
  }
  return NULL;
}

static void fake_start(fake_t *f) {
  f->ctx = zmq_ctx_new();
  f->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
  int one = 1, zero = 0;
  zmq_setsockopt(f->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof zero);
  CHECK_INT(zmq_bind(f->sock, "tcp://127.0.0.1:*"), 0);
  size_t len = sizeof f->endpoint;
  zmq_getsockopt(f->sock, ZMQ_LAST_ENDPOINT, f->endpoint, &len);
  pthread_create(&f->thr, NULL, fake_main, f);
}

static void fake_stop(fake_t *f) {
  pthread_join(f->thr, NULL);
  zmq_close(f->sock);
  zmq_ctx_term(f->ctx);
}

/* ---------------------------------------------------------------- tests */

static void test_table(void) {
  const char *hdr[] = {"ID", "NAME", "STATE"};
  out_table_t t;
  table_init(&t, 3, hdr);
  table_align_right(&t, 0);
  table_add(&t, "7");
  table_add(&t, "sh0420-gen");
  table_add(&t, "running");
  table_addf(&t, "%d", 1234);
  table_add(&t, "x\ty\nz\033[2J");
  table_add(&t, NULL);
  sbuf_t sb = {0};
  table_render(&t, &sb);
  CHECK_STR(sb.buf, "  ID  NAME        STATE\n"
                    "   7  sh0420-gen  running\n"
                    "1234  x y z?[2J   -\n");
  table_free(&t);
  sbuf_free(&sb);

  /* An empty last column leaves no trailing blanks; an incomplete row is
   * padded; UTF-8 counts by code point. */
  const char *h2[] = {"A", "B"};
  table_init(&t, 2, h2);
  table_add(&t, "\xc3\xa9t\xc3\xa9");
  table_add(&t, "");
  table_add(&t, "b");
  table_render(&t, &sb);
  CHECK_STR(sb.buf, "A    B\n"
                    "\xc3\xa9t\xc3\xa9\n"
                    "b\n");
  table_free(&t);
  sbuf_free(&sb);

  table_init(&t, 1, h2);
  table_add_trunc(&t, "0123456789abcdef", 10);
  table_add_trunc(&t, "short", 10);
  table_render(&t, &sb);
  CHECK_STR(sb.buf, "A\n0123456...\nshort\n");
  table_free(&t);
  sbuf_free(&sb);
}

static void test_values(void) {
  sbuf_t sb = {0};
  json_t *doc = json_loads("{\"s\":\"x\",\"i\":12,\"r\":1.5,\"n\":null,\"a\":[1,\"b\"],"
                           "\"t\":\"2026-11-26T04:10:10.123456Z\"}",
                           0, NULL);
  const char *keys[] = {"s", "i", "r", "n", "a", "missing"};
  const char *want[] = {"x", "12", "1.5", "-", "[1,\"b\"]", "-"};
  for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
    sbuf_reset(&sb);
    output_json_text(json_object_get(doc, keys[i]), &sb);
    CHECK_STR(sb.buf, want[i]);
  }
  sbuf_reset(&sb);
  output_time(json_object_get(doc, "t"), &sb);
  CHECK_STR(sb.buf, "2026-11-26 04:10:10");
  json_decref(doc);

  sbuf_reset(&sb);
  output_progress(&sb, 120, 0, 3, 200, 10);
  CHECK_STR(sb.buf, "[######....] 120/200 succeeded, 0 failed, 3 running");
  sbuf_reset(&sb);
  output_progress(&sb, 0, 0, 0, 0, 4);
  CHECK_STR(sb.buf, "[....] 0/0 succeeded, 0 failed, 0 running");

  /* CSV fields: quoted only when they must be, quotes doubled, NULL empty;
   * records end in CRLF. */
  sbuf_reset(&sb);
  const char *fields[] = {"plain", NULL, "a,b", "say \"hi\"", "two\nlines", "cr\r", ""};
  for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
    if (i)
      sbuf_putc(&sb, ',');
    output_csv_field(&sb, fields[i]);
  }
  output_csv_end_line(&sb);
  CHECK_STR(sb.buf, "plain,,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",\r\n");
  sbuf_free(&sb);

  char mb[32];
  output_mb(512, mb, sizeof mb);
  CHECK_STR(mb, "512M");
  output_mb(16384, mb, sizeof mb);
  CHECK_STR(mb, "16.0G");

  /* Errors are one line even when the message is not. */
  cli_error_t e;
  cli_error_set(&e, "x", "two\nlines");
  CHECK_STR(e.message, "two lines");
}

static void test_arguments(void) {
  struct {
    const struct cmd_entry *e;
    const char *argv[6];
    int argc;
    const char *needle;
  } cases[] = {
      {&cmd_job_entry, {"job", "12x"}, 2, "invalid job id '12x'"},
      {&cmd_job_entry, {"job", "-1"}, 2, "invalid job id '-1'"},
      {&cmd_job_entry, {"job", "0"}, 2, "invalid job id '0'"},
      {&cmd_job_entry, {"job", "99999999999999999999"}, 2, "invalid job id"},
      {&cmd_tasks_entry, {"tasks", "1.5"}, 2, "invalid job id '1.5'"},
      {&cmd_wait_entry, {"wait", "3", "abc"}, 3, "invalid job id 'abc'"},
      {&cmd_job_entry, {"job"}, 1, "missing argument"},
      {&cmd_job_entry, {"job", "1", "2"}, 3, "too many arguments"},
      {&cmd_wait_entry, {"wait"}, 1, "missing argument"},
      {&cmd_submit_entry, {"submit"}, 1, "missing argument"},
      {&cmd_jobs_entry, {"jobs", "extra"}, 2, "too many arguments"},
      {&cmd_jobs_entry, {"jobs", "--limit", "x"}, 3, "--limit: 'x' is not an integer"},
      {&cmd_jobs_entry, {"jobs", "--frob"}, 2, "unknown option --frob"},
      {&cmd_jobs_entry, {"jobs", "--timeout-ms", "0"}, 3, "--timeout-ms"},
      {&cmd_wait_entry, {"wait", "1", "--max-wait-s", "-5"}, 4, "--max-wait-s"},
      {&cmd_local_entry, {"local", "sideways"}, 2, "unknown action 'sideways'"},
      {&cmd_local_entry, {"local", "up", "--workers", "x"}, 4, "--workers: 'x'"},
      {&cmd_cancel_entry, {"cancel", "12x"}, 2, "invalid job id '12x'"},
      {&cmd_cancel_entry, {"cancel"}, 1, "missing argument"},
      {&cmd_cancel_entry, {"cancel", "1", "--note"}, 3, "--note"},
      {&cmd_pause_entry, {"pause", "3", "0"}, 3, "invalid job id '0'"},
      {&cmd_resume_entry, {"resume"}, 1, "missing argument"},
      {&cmd_retry_entry, {"retry", "-4"}, 2, "invalid job id '-4'"},
      {&cmd_drain_entry, {"drain", "Local_1"}, 2, "invalid worker name 'Local_1'"},
      {&cmd_drain_entry, {"drain"}, 1, "missing argument"},
      {&cmd_drain_entry, {"drain", "a", "b"}, 3, "too many arguments"},
      {&cmd_undrain_entry, {"undrain", "-x-"}, 2, "invalid worker name '-x-'"},
      {&cmd_undrain_entry, {"undrain", ".w"}, 2, "invalid worker name '.w'"},
      {&cmd_logs_entry, {"logs", "t5"}, 2, "invalid task id 't5'"},
      {&cmd_logs_entry, {"logs"}, 1, "missing argument"},
      {&cmd_logs_entry, {"logs", "5", "--attempt", "-1"}, 4, "--attempt"},
      {&cmd_logs_entry, {"logs", "5", "--attempt", "x"}, 4, "--attempt: 'x'"},
      {&cmd_episode_entry, {"episode"}, 1, "missing argument"},
      {&cmd_episode_entry, {"episode", "budget", "hod/e1", "3"}, 4, "unknown action 'budget'"},
      {&cmd_episode_entry, {"episode", "weight", "hod/e1"}, 3, "episode weight: missing argument"},
      {&cmd_episode_entry, {"episode", "weight", "hod"}, 3, "missing argument"},
      {&cmd_episode_entry, {"episode", "weight", "hod", "3"}, 4,
       "invalid episode 'hod': expected PROJECT/EPISODE"},
      {&cmd_episode_entry, {"episode", "weight", "Hod/e1", "3"}, 4, "invalid project 'Hod'"},
      {&cmd_episode_entry, {"episode", "weight", "/e1", "3"}, 4, "invalid project ''"},
      {&cmd_episode_entry, {"episode", "weight", "hod/E 1", "3"}, 4, "invalid episode 'E 1'"},
      {&cmd_episode_entry, {"episode", "weight", "hod/", "3"}, 4, "invalid episode ''"},
      {&cmd_episode_entry, {"episode", "weight", "hod/e1/x", "3"}, 4, "invalid episode 'e1/x'"},
      {&cmd_episode_entry, {"episode", "weight", "hod/e1", "0"}, 4, "invalid weight '0'"},
      {&cmd_episode_entry, {"episode", "weight", "hod/e1", "1001"}, 4, "from 1 to 1000"},
      {&cmd_episode_entry, {"episode", "weight", "hod/e1", "-5"}, 4, "invalid weight '-5'"},
      {&cmd_episode_entry, {"episode", "weight", "hod/e1", "2.5"}, 4, "invalid weight '2.5'"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    run_t r = run_cmd(cases[i].e, cases[i].argc, cases[i].argv);
    check_error(&r, 2, cases[i].needle, false, NULL);
    run_free(&r);
  }
  /* With --json the error is also a document on stdout. */
  const char *argv[] = {"job", "12x", "--json"};
  run_t r = run_cmd(&cmd_job_entry, 3, argv);
  check_error(&r, 2, "invalid job id '12x'", true, "usage");
  run_free(&r);
  const char *argv1[] = {"logs", "5", "--follow", "--json"};
  r = run_cmd(&cmd_logs_entry, 4, argv1);
  check_error(&r, 2, "cannot be combined with --follow", true, "usage");
  run_free(&r);
  const char *argv1b[] = {"episode", "weight", "hod/e1", "x", "--json"};
  r = run_cmd(&cmd_episode_entry, 5, argv1b);
  check_error(&r, 2, "invalid weight 'x'", true, "usage");
  run_free(&r);
  const char *argv2[] = {"jobs", "--json", "--frob"};
  r = run_cmd(&cmd_jobs_entry, 3, argv2);
  check_error(&r, 2, "unknown option --frob", true, "usage");
  run_free(&r);

  /* --help is not an error (config_parse prints it on the real stdout). */
  const char *argv3[] = {"wait", "--help"};
  r = run_cmd(&cmd_wait_entry, 2, argv3);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  run_free(&r);
}

static void test_submit_local_checks(void) {
  char dir[] = "/tmp/clapper-test-submit-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char *bad = xasprintf("%s/bad.json", dir), *big = xasprintf("%s/big.json", dir);
  FILE *f = fopen(bad, "w");
  fputs("{\"project\": \"hod\", \"episode\": \"e1\", \"jobs\": [{\"name\": \"Bad Name\"}]}", f);
  fclose(f);
  f = fopen(big, "w");
  CHECK(f && ftruncate(fileno(f), (off_t)(16 << 20) + 1) == 0);
  fclose(f);

  /* A coordinator that must not hear anything. */
  fake_t fk = {.nreq = 0};
  fake_start(&fk);
  const char *a1[] = {"submit", bad, "--coordinator", fk.endpoint, "--json"};
  run_t r = run_cmd(&cmd_submit_entry, 5, a1);
  check_error(&r, 1, "jobs[0]", true, "invalid_job");
  run_free(&r);
  const char *a2[] = {"submit", big, "--coordinator", fk.endpoint};
  r = run_cmd(&cmd_submit_entry, 4, a2);
  check_error(&r, 1, "16 MiB", false, NULL);
  run_free(&r);
  const char *a3[] = {"submit", "/nonexistent/job.json", "--coordinator", fk.endpoint};
  r = run_cmd(&cmd_submit_entry, 4, a3);
  check_error(&r, 1, "cannot read /nonexistent/job.json", false, NULL);
  run_free(&r);
  fake_stop(&fk);
  CHECK_INT(fk.served, 0);

  /* --no-local-check leaves the verdict to the coordinator. */
  fake_t fc = {.nreq = 1, .error_code = "invalid_job", .error_message = "jobs[0].name: bad"};
  fake_start(&fc);
  const char *a4[] = {"submit", "--no-local-check", bad, "--coordinator", fc.endpoint};
  r = run_cmd(&cmd_submit_entry, 5, a4);
  check_error(&r, 1, "jobs[0].name: bad", false, NULL);
  run_free(&r);
  fake_stop(&fc);
  CHECK_INT(fc.served, 1);
  CHECK_INT(fc.verb[0], CLAPPER__VERB__VERB_SUBMIT);
  rm_rf(dir);
  free(bad);
  free(big);
}

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
  char *want = xasprintf("no reply from the coordinator at %s within 300 ms", ep);
  CHECK_STR(err.message, want);
  free(want);

  /* The same through a verb, with the exact line and document. */
  const char *argv[] = {"workers", "--coordinator", ep, "--timeout-ms", "200", "--json"};
  run_t r = run_cmd(&cmd_workers_entry, 6, argv);
  check_error(&r, 1, "within 200 ms", true, "unavailable");
  run_free(&r);

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
  const char *argv[] = {"job", "99", "--coordinator", fe.endpoint, "--json"};
  run_t r = run_cmd(&cmd_job_entry, 5, argv);
  check_error(&r, 1, "job 99 not found", true, "not_found");
  run_free(&r);
  fake_stop(&fe);
  CHECK_INT(fe.verb[0], CLAPPER__VERB__VERB_JOB);
  CHECK_INT(fe.nids[0], 1);
  CHECK_INT(fe.id0[0], 99);
}

static const char *const JOBS_JSON =
    "{\"jobs\": [{\"job_id\": 12, \"name\": \"sh0420-gen\", \"project\": \"hod\", "
    "\"episode\": \"s02e03\", \"shot\": \"sh0420\", \"kind\": \"generate\", \"state\": "
    "\"running\", \"priority\": 60, \"ntasks\": 4, \"tasks\": {\"waiting\": 0, \"ready\": 1, "
    "\"dispatched\": 0, \"running\": 1, \"succeeded\": 2, \"failed\": 0, \"canceled\": 0, "
    "\"held\": 0, \"paused\": 0}}, {\"job_id\": 3, \"name\": \"x\", \"project\": \"p\", "
    "\"episode\": \"e\", \"shot\": null, \"kind\": \"process\", \"state\": \"failed\", "
    "\"priority\": 50, \"ntasks\": 1, \"tasks\": {\"failed\": 1}}]}";

static void test_verbs_against_fake(void) {
  /* jobs: the request carries all and limit; the table shows the rows. */
  const char *jsons[] = {JOBS_JSON};
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
  const char *a2[] = {"jobs", "--json", "--coordinator", fk.endpoint};
  r = run_cmd(&cmd_jobs_entry, 4, a2);
  CHECK_INT(r.status, 0);
  json_t *doc = json_loads(r.out, 0, NULL);
  CHECK_INT(json_integer_value(json_object_get(json_array_get(json_object_get(doc, "jobs"), 0),
                                               "job_id")),
            12);
  json_decref(doc);
  run_free(&r);
  fake_stop(&fk);
  CHECK(fk.all[0] && fk.limit[0] == 5);
  CHECK(!fk.all[1] && fk.limit[1] == 0);

  /* wait: polls until every job is finished; a failed job means exit 1. */
  const char *wj[] = {
      "{\"jobs\": [{\"job_id\": 12, \"name\": \"a\", \"state\": \"running\", \"ntasks\": 2, "
      "\"tasks\": {\"succeeded\": 1, \"running\": 1}}]}",
      "{\"jobs\": [{\"job_id\": 12, \"name\": \"a\", \"state\": \"succeeded\", \"ntasks\": 2, "
      "\"tasks\": {\"succeeded\": 2}}]}"};
  fake_t fw = {.nreq = 2, .jsons = wj, .njsons = 2};
  fake_start(&fw);
  const char *a3[] = {"wait", "12", "--coordinator", fw.endpoint};
  r = run_cmd(&cmd_wait_entry, 4, a3);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.out, "job 12 a: succeeded (2/2 tasks succeeded)\n");
  CHECK_STR(r.err, ""); /* not a terminal: no bar */
  run_free(&r);
  fake_stop(&fw);
  CHECK_INT(fw.served, 2);
  CHECK(fw.all[0] && fw.nids[0] == 1 && fw.id0[0] == 12);

  fake_t ff = {.nreq = 1, .jsons = jsons, .njsons = 1};
  fake_start(&ff);
  const char *a4[] = {"wait", "3", "--coordinator", ff.endpoint, "--json"};
  r = run_cmd(&cmd_wait_entry, 5, a4);
  CHECK_INT(r.status, 1);
  CHECK_STR(r.err, "clapper: job 3 failed\n");
  doc = json_loads(r.out, 0, NULL); /* the jobs document, not an error */
  CHECK(json_is_array(json_object_get(doc, "jobs")));
  json_decref(doc);
  run_free(&r);
  fake_stop(&ff);

  /* wait for a job the coordinator does not list. */
  fake_t fn = {.nreq = 1, .jsons = jsons, .njsons = 1};
  fake_start(&fn);
  const char *a5[] = {"wait", "77", "--coordinator", fn.endpoint, "--json"};
  r = run_cmd(&cmd_wait_entry, 5, a5);
  check_error(&r, 1, "job 77 not found", true, "not_found");
  run_free(&r);
  fake_stop(&fn);

  /* --max-wait-s gives up. */
  const char *never[] = {"{\"jobs\": [{\"job_id\": 12, \"state\": \"running\", \"ntasks\": 1}]}"};
  fake_t fm = {.nreq = FAKE_MAX, .jsons = never, .njsons = 1};
  fake_start(&fm);
  const char *a6[] = {"wait", "12", "--max-wait-s", "1", "--coordinator", fm.endpoint};
  r = run_cmd(&cmd_wait_entry, 6, a6);
  check_error(&r, 1, "still unfinished after 1 s", false, NULL);
  run_free(&r);
  zmq_ctx_shutdown(fm.ctx); /* ends the fake's poll at once */
  fake_stop(&fm);

  /* job and tasks: human output. */
  const char *jj[] = {"{\"job_id\": 12, \"name\": \"sh0420-gen\", \"shot\": null, "
                      "\"command\": [\"gen\", \"{seed}\"]}",
                      "{\"tasks\": [{\"task_id\": 40, \"job_id\": 12, \"seq\": 0, \"state\": "
                      "\"succeeded\", \"attempts\": 1, \"worker\": \"w1\", \"exit_code\": 0, "
                      "\"frame_start\": 1001, \"frame_end\": 1008, \"take\": null, \"seed\": "
                      "null, \"started_at\": \"2026-01-02T03:04:05.000000Z\", \"wall_s\": 12.25, "
                      "\"error\": \"\"}]}"};
  fake_t fj = {.nreq = 2, .jsons = jj, .njsons = 2};
  fake_start(&fj);
  const char *a7[] = {"job", "12", "--coordinator", fj.endpoint};
  r = run_cmd(&cmd_job_entry, 4, a7);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.out, "job_id:  12\nname:    sh0420-gen\nshot:    -\n"
                   "command: [\"gen\",\"{seed}\"]\n");
  run_free(&r);
  const char *a8[] = {"tasks", "12", "--coordinator", fj.endpoint};
  r = run_cmd(&cmd_tasks_entry, 4, a8);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.out, "TASK  SEQ  STATE      ATTEMPTS  WORKER  EXIT  FRAMES     TAKE  SEED  "
                   "STARTED               WALL  ERROR\n"
                   "  40    0  succeeded         1  w1         0  1001-1008  -     -     "
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
                         "{\"job_id\": 13, \"name\": \"one\", \"tasks\": 1}]}"};
  fake_t fk = {.nreq = 1, .jsons = jsons, .njsons = 1};
  fake_start(&fk);
  const char *argv[] = {"submit", path, "--coordinator", fk.endpoint};
  run_t r = run_cmd(&cmd_submit_entry, 4, argv);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.out, "job 12 sh0420-gen: 4 tasks queued\njob 13 one: 1 task queued\n");
  CHECK_STR(r.err, "");
  run_free(&r);
  fake_stop(&fk);
  CHECK_INT(fk.served, 1);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_SUBMIT);
  CHECK_INT(fk.body_len[0], strlen(text));
  rm_rf(dir);
  free(path);
}

/* Runs e with argv and "--coordinator ENDPOINT" added. */
static run_t run_at(const struct cmd_entry *e, const char *endpoint, int argc,
                    const char *const *argv) {
  const char *full[16];
  CHECK(argc + 2 <= (int)ARRAY_SIZE(full));
  for (int i = 0; i < argc; i++)
    full[i] = argv[i];
  full[argc] = "--coordinator";
  full[argc + 1] = endpoint;
  return run_cmd(e, argc + 2, full);
}

/* Checks that r succeeded with exactly want on stdout and nothing on stderr. */
static void check_ok(const run_t *r, const char *want) {
  CHECK_INT(r->status, 0);
  CHECK_STR(r->out, want);
  CHECK_STR(r->err, "");
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

  const char *a0[] = {"cancel", "12", "13", "--note", "wrong seed"};
  run_t r = run_at(&cmd_cancel_entry, fk.endpoint, 5, a0);
  check_ok(&r, "job 12 sh0420-gen: canceled (3 running tasks are being stopped)\n"
               "job 13 one: canceled\n");
  run_free(&r);
  const char *a1[] = {"cancel", "14"};
  r = run_at(&cmd_cancel_entry, fk.endpoint, 2, a1);
  check_ok(&r, "job 14 b: canceled (1 running task is being stopped)\n");
  run_free(&r);
  const char *a2[] = {"pause", "12"};
  r = run_at(&cmd_pause_entry, fk.endpoint, 2, a2);
  check_ok(&r, "job 12 a: paused (2 running tasks finish, nothing new starts)\n");
  run_free(&r);
  const char *a3[] = {"pause", "13", "14"};
  r = run_at(&cmd_pause_entry, fk.endpoint, 3, a3);
  check_ok(&r, "job 13 b: paused (1 running task finishes, nothing new starts)\n"
               "job 14 c: paused (nothing new starts)\n");
  run_free(&r);
  const char *a4[] = {"resume", "12"};
  r = run_at(&cmd_resume_entry, fk.endpoint, 2, a4);
  check_ok(&r, "job 12 a: queued\n");
  run_free(&r);
  const char *a5[] = {"retry", "12", "15"};
  r = run_at(&cmd_retry_entry, fk.endpoint, 3, a5);
  check_ok(&r, "job 12 a: running again: 3 failed tasks requeued\n"
               "job 15 d: running again: 1 failed task requeued\n");
  run_free(&r);
  const char *a6[] = {"cancel", "--json", "12"};
  r = run_at(&cmd_cancel_entry, fk.endpoint, 3, a6);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  json_t *doc = json_loads(r.out, 0, NULL);
  json_t *job = json_array_get(json_object_get(doc, "jobs"), 0);
  CHECK_INT(json_integer_value(json_object_get(job, "job_id")), 12);
  CHECK_STR(json_string_value(json_object_get(job, "state")), "canceled");
  CHECK_INT(json_integer_value(json_object_get(json_object_get(job, "tasks"), "canceled")), 2);
  json_decref(doc);
  run_free(&r);
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
  const char *b0[] = {"cancel", "12"};
  r = run_at(&cmd_cancel_entry, fn.endpoint, 2, b0);
  check_error(&r, 1, "no such job: 12", false, NULL);
  run_free(&r);
  const char *b1[] = {"retry", "12", "--json"};
  r = run_at(&cmd_retry_entry, fn.endpoint, 3, b1);
  check_error(&r, 1, "no such job: 12", true, "not_found");
  run_free(&r);
  fake_stop(&fn);
  CHECK_INT(fn.verb[1], CLAPPER__VERB__VERB_RETRY);

  fake_t fi = {.nreq = 1,
               .error_code = "invalid_state",
               .error_message = "job 12 is succeeded: there is nothing to pause"};
  fake_start(&fi);
  const char *b2[] = {"pause", "12", "--json"};
  r = run_at(&cmd_pause_entry, fi.endpoint, 3, b2);
  check_error(&r, 1, "job 12 is succeeded: there is nothing to pause", true, "invalid_state");
  run_free(&r);
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
  const char *a0[] = {"drain", "local-1"};
  run_t r = run_at(&cmd_drain_entry, fk.endpoint, 2, a0);
  check_ok(&r, "worker local-1: draining (2 running attempts finish, nothing new starts)\n");
  run_free(&r);
  const char *a1[] = {"drain", "local-2"};
  r = run_at(&cmd_drain_entry, fk.endpoint, 2, a1);
  check_ok(&r, "worker local-2: draining (1 running attempt finishes, nothing new starts)\n");
  run_free(&r);
  const char *a2[] = {"drain", "local-3"};
  r = run_at(&cmd_drain_entry, fk.endpoint, 2, a2);
  check_ok(&r, "worker local-3: draining (nothing new starts)\n");
  run_free(&r);
  const char *a3[] = {"undrain", "local-1"};
  r = run_at(&cmd_undrain_entry, fk.endpoint, 2, a3);
  check_ok(&r, "worker local-1: online\n");
  run_free(&r);
  const char *a4[] = {"undrain", "local-1", "--json"};
  r = run_at(&cmd_undrain_entry, fk.endpoint, 3, a4);
  CHECK_INT(r.status, 0);
  json_t *doc = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "worker"), "state")),
            "online");
  json_decref(doc);
  run_free(&r);
  const char *a5[] = {"episode", "weight", "hod/s02e03", "3"};
  r = run_at(&cmd_episode_entry, fk.endpoint, 4, a5);
  check_ok(&r, "episode hod/s02e03: weight 3\n");
  run_free(&r);
  const char *a6[] = {"episode", "--json", "weight", "hod/s02e03", "1000"};
  r = run_at(&cmd_episode_entry, fk.endpoint, 5, a6);
  CHECK_INT(r.status, 0);
  doc = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(doc, "episode")), "hod/s02e03");
  CHECK_INT(json_integer_value(json_object_get(doc, "weight")), 1000);
  json_decref(doc);
  run_free(&r);
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
  const char *b0[] = {"drain", "local-9", "--json"};
  r = run_at(&cmd_drain_entry, fn.endpoint, 3, b0);
  check_error(&r, 1, "no such worker: local-9", true, "not_found");
  run_free(&r);
  fake_stop(&fn);
  CHECK_INT(fn.served, 1);
}

/* A logs reply of attempt (0: none yet). */
static char *logs_reply(uint64_t attempt, uint64_t offset, const char *data, bool done) {
  if (!attempt)
    return xasprintf("{\"task_id\": 5, \"attempt_id\": null, \"attempt_state\": null, "
                     "\"offset\": 0, \"data\": \"\", \"done\": false, \"truncated\": false, "
                     "\"log_path\": null}");
  return xasprintf("{\"task_id\": 5, \"attempt_id\": %" PRIu64 ", \"attempt_state\": \"%s\", "
                   "\"offset\": %" PRIu64 ", \"data\": \"%s\", \"done\": %s, \"truncated\": "
                   "false, \"log_path\": null}",
                   attempt, done ? "succeeded" : "running", offset, data,
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
  const char *a0[] = {"logs", "5"};
  run_t r = run_at(&cmd_logs_entry, fk.endpoint, 2, a0);
  check_ok(&r, "hello\nworld\n");
  run_free(&r);
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
   * --attempt is the request's value. */
  char *js[] = {logs_reply(16, 6, "hello\\n", false), logs_reply(16, 13, "w\\u00f6rld\\n", true)};
  fake_t fj = {.nreq = 2, .jsons = (const char *const *)js, .njsons = 2};
  fake_start(&fj);
  const char *a1[] = {"logs", "5", "--json", "--attempt", "16"};
  r = run_at(&cmd_logs_entry, fj.endpoint, 5, a1);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  json_t *doc = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(doc, "data")), "hello\nw\xc3\xb6rld\n");
  CHECK_INT(json_integer_value(json_object_get(doc, "offset")), 13);
  CHECK_INT(json_integer_value(json_object_get(doc, "attempt_id")), 16);
  CHECK_INT(json_integer_value(json_object_get(doc, "task_id")), 5);
  CHECK(json_is_true(json_object_get(doc, "done")));
  CHECK(json_is_false(json_object_get(doc, "truncated")));
  json_decref(doc);
  run_free(&r);
  fake_stop(&fj);
  CHECK_INT(fj.served, 2);
  CHECK_INT(fj.value[0], 16);
  CHECK_INT(fj.value[1], 16);
  CHECK_INT(fj.offset[1], 6);
  free_replies(js, 2);

  /* No attempt yet: nothing on stdout, a note on stderr, exit 0; --json
   * prints the reply as it is. */
  char *none[] = {logs_reply(0, 0, "", false)};
  fake_t fz = {.nreq = 2, .jsons = (const char *const *)none, .njsons = 1};
  fake_start(&fz);
  r = run_at(&cmd_logs_entry, fz.endpoint, 2, a0);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.out, "");
  CHECK_STR(r.err, "clapper: task 5 has not started yet\n");
  run_free(&r);
  const char *a2[] = {"logs", "5", "--json"};
  r = run_at(&cmd_logs_entry, fz.endpoint, 3, a2);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  doc = json_loads(r.out, 0, NULL);
  CHECK(json_is_null(json_object_get(doc, "attempt_id")));
  json_decref(doc);
  run_free(&r);
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
  const char *a4[] = {"logs", "--follow", "5"};
  r = run_at(&cmd_logs_entry, fr.endpoint, 3, a4);
  check_ok(&r, "a\nb\n--- attempt 18 ---\nnew\n");
  run_free(&r);
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
  const char *b0[] = {"logs", "99"};
  r = run_at(&cmd_logs_entry, fn.endpoint, 2, b0);
  check_error(&r, 1, "no such task: 99", false, NULL);
  run_free(&r);
  const char *b1[] = {"logs", "99", "-f"};
  r = run_at(&cmd_logs_entry, fn.endpoint, 3, b1);
  check_error(&r, 1, "no such task: 99", false, NULL);
  run_free(&r);
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
  r = run_at(&cmd_logs_entry, ft.endpoint, 2, a0);
  check_ok(&r, "abc");
  run_free(&r);
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
  const char *a0[] = {"jobs"};
  run_t r = run_at(&cmd_jobs_entry, fk.endpoint, 1, a0);
  check_ok(&r, "ID  NAME  PROJECT/EPISODE  SHOT  KIND      STATE    PRI  DONE/TOTAL  FAILED  "
               "RUNNING  REASON\n"
               "12  big   hod/e1           -     generate  queued    50         0/1       0  "
               "      0  no connected worker has 4 GPUs with 80000 MB each\n"
               "13  ok    hod/e1           -     render    running   50         1/2       0  "
               "      1  -\n");
  run_free(&r);
  r = run_at(&cmd_jobs_entry, fk.endpoint, 1, a0);
  check_ok(&r, "ID  NAME  PROJECT/EPISODE  SHOT  KIND    STATE    PRI  DONE/TOTAL  FAILED  "
               "RUNNING\n"
               "13  ok    hod/e1           -     render  running   50         1/2       0  "
               "      1\n");
  run_free(&r);
  const char *a1[] = {"job", "12"};
  r = run_at(&cmd_job_entry, fk.endpoint, 2, a1);
  check_ok(&r, "job_id: 12\nname:   big\nstate:  queued\n"
               "reason: no connected worker has 4 GPUs with 80000 MB each\n");
  run_free(&r);
  const char *a2[] = {"job", "13"};
  r = run_at(&cmd_job_entry, fk.endpoint, 2, a2);
  check_ok(&r, "job_id: 13\nname:   ok\nstate:  running\n");
  run_free(&r);
  fake_stop(&fk);
  CHECK_INT(fk.served, 4);
}

static void test_local_pieces(void) {
  /* Shell and conninfo quoting. */
  sbuf_t sb = {0};
  farm_shell_quote(&sb, "host=/a b/it's");
  CHECK_STR(sb.buf, "'host=/a b/it'\\''s'");
  sbuf_reset(&sb);
  farm_conninfo_quote(&sb, "/tmp/x");
  CHECK_STR(sb.buf, "/tmp/x");
  sbuf_reset(&sb);
  farm_conninfo_quote(&sb, "/tmp/a b'c");
  CHECK_STR(sb.buf, "'/tmp/a b\\'c'");
  sbuf_free(&sb);
  char h1[17], h2[17];
  farm_hash("/root/.clapper/local", h1);
  farm_hash("/root/.clapper/local2", h2);
  CHECK_INT(strlen(h1), 16);
  CHECK(strcmp(h1, h2) != 0);

  /* cmdline matching: program by basename, needle as a whole argument. */
  const char cmd[] = "/opt/bin/clapper-worker\0--workdir\0/d/workers/local-1\0--cpus\0004";
  CHECK(proc_cmdline_matches(cmd, sizeof cmd, "clapper-worker", "/d/workers/local-1"));
  CHECK(!proc_cmdline_matches(cmd, sizeof cmd, "clapper-worker", "/d/workers/local-"));
  CHECK(!proc_cmdline_matches(cmd, sizeof cmd, "clapper-coordinator", "/d/workers/local-1"));
  CHECK(!proc_cmdline_matches(cmd, sizeof cmd, "clapper-worker", "/e/workers/local-1"));
  const char eq[] = "clapper-coordinator\0--output-root=/d/output";
  CHECK(proc_cmdline_matches(eq, sizeof eq, "clapper-coordinator", "/d/output"));
  const char title[] = "/usr/lib/postgresql/15/bin/postgres -D /d/pg";
  CHECK(proc_cmdline_matches(title, sizeof title, "postgres", "/d/pg"));
  CHECK(!proc_cmdline_matches("", 0, "postgres", "/d/pg"));

  /* Running programs. */
  char err[256];
  char *const t1[] = {"/bin/sh", "-c", "echo hello; exit 3", NULL};
  sbuf_t out = {0};
  proc_opts_t o = {.capture = &out, .out_fd = -1};
  CHECK_INT(proc_run(t1, &o, err, sizeof err), 3);
  CHECK_STR(out.buf, "hello\n");
  sbuf_free(&out);
  char *const t2[] = {"/nonexistent/prog", NULL};
  CHECK_INT(proc_spawn_daemon(t2, "/", "/dev/null", err, sizeof err), -1);
  CHECK_CONTAINS(err, "cannot execute /nonexistent/prog");
  char *found = proc_find_program("sh");
  CHECK(found && found[0] == '/');
  free(found);
  CHECK(proc_find_program("clapper-no-such-program") == NULL);

  /* A farm: nothing in an empty directory; a long path puts the sockets
   * under /tmp, and the layout is remembered. */
  char dir[] = "/tmp/clapper-test-farm-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  farm_t f;
  CHECK_INT(farm_open(&f, dir, false, err, sizeof err), 0);
  const char *a1[] = {"local", "status", "--dir", dir};
  run_t r = run_cmd(&cmd_local_entry, 4, a1);
  CHECK_INT(r.status, 3);
  CHECK_CONTAINS(r.out, "no clapper local farm");
  run_free(&r);
  const char *a2[] = {"local", "down", "--dir", dir};
  r = run_cmd(&cmd_local_entry, 4, a2);
  CHECK_INT(r.status, 0);
  run_free(&r);

  char *deep = xasprintf("%s/%s", dir, "a-directory-name-that-is-long-enough/"
                                       "to-push-the-socket-path-past-the-unix-limit");
  CHECK_INT(util_mkdir_p(deep, 0755), 0);
  CHECK_INT(farm_open(&f, deep, true, err, sizeof err), 1);
  char hash[17];
  farm_hash(f.dir, hash);
  char *want = xasprintf("/tmp/clapper-%s", hash);
  CHECK_STR(f.sockdir, want);
  CHECK(strlen(f.pgsock) <= FARM_SOCKDIR_MAX + 3);
  CHECK_CONTAINS(f.conninfo, "user=clapper dbname=clapper");
  CHECK_INT(farm_save(&f, err, sizeof err), 0);
  char *pgdata = xstrdup(f.pgdata), *pgroot = f.pgroot ? xstrdup(f.pgroot) : NULL;
  farm_free(&f);
  CHECK_INT(farm_open(&f, deep, false, err, sizeof err), 1);
  CHECK_STR(f.sockdir, want);
  CHECK_STR(f.pgdata, pgdata);
  if (geteuid() == 0) /* mkdtemp's 0700 keeps nobody out: the cluster moves */
    CHECK(f.pgroot != NULL && strncmp(f.pgdata, "/var/tmp/clapper-pg-", 20) == 0);
  farm_free(&f);
  rm_rf(want);
  if (pgroot)
    rm_rf(pgroot);
  rm_rf(dir);
  free(pgroot);
  free(pgdata);
  free(want);
  free(deep);
}

/* ---------------------------------------------------------------- cost verbs */

/* A usage error of rates, budget or cost, found before anything is sent. */
typedef struct usage_case {
  const struct cmd_entry *e;
  const char *argv[10];
  const char *needle;
} usage_case_t;

static int argv_len(const char *const *argv, int max) {
  int n = 0;
  while (n < max && argv[n])
    n++;
  return n;
}

static void test_cost_arguments(void) {
  const usage_case_t cases[] = {
      /* rates: exactly one form */
      {&cmd_rates_entry, {"rates", "set"}, "rates set: give exactly one of: --gpu-model NAME"},
      {&cmd_rates_entry, {"rates", "set", "--from", "2026-12-01"}, "give exactly one of"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--default-gpu-hour", "2"},
       "rates set: give only one of: --gpu-model NAME with --per-gpu-hour AMOUNT, "
       "--default-gpu-hour AMOUNT, or --per-cpu-hour AMOUNT"},
      {&cmd_rates_entry,
       {"rates", "set", "--gpu-model", "X", "--per-gpu-hour", "1", "--per-cpu-hour", "1"},
       "give only one of"},
      {&cmd_rates_entry,
       {"rates", "set", "--gpu-model", "X"},
       "--gpu-model NAME and --per-gpu-hour AMOUNT go together"},
      {&cmd_rates_entry, {"rates", "set", "--per-gpu-hour", "1"}, "go together"},
      {&cmd_rates_entry,
       {"rates", "set", "--gpu-model", "", "--per-gpu-hour", "1"},
       "--gpu-model: expected the model as NVML names it"},
      {&cmd_rates_entry,
       {"rates", "set", "extra", "--per-cpu-hour", "1"},
       "rates set: too many arguments"},
      {&cmd_rates_entry, {"rates", "sideways"}, "rates: unknown action 'sideways' (expected set)"},
      {&cmd_rates_entry,
       {"rates", "--per-cpu-hour", "1"},
       "rates: --per-cpu-hour is an option of 'clapper rates set'"},
      {&cmd_rates_entry, {"rates", "--from", "2026-12-01"}, "--from is an option of"},
      /* rates: amounts, checked with money_parse, named by the flag */
      {&cmd_rates_entry,
       {"rates", "set", "--gpu-model", "NVIDIA H100 80GB HBM3", "--per-gpu-hour", "1.2345678"},
       "--per-gpu-hour: '1.2345678' has more than 6 decimals"},
      {&cmd_rates_entry, {"rates", "set", "--per-cpu-hour=-1"}, "--per-cpu-hour: '-1' is negative"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1e3"},
       "--per-cpu-hour: '1e3' has an exponent"},
      {&cmd_rates_entry,
       {"rates", "set", "--default-gpu-hour", "abc"},
       "--default-gpu-hour: 'abc' is not an amount"},
      {&cmd_rates_entry,
       {"rates", "set", "--default-gpu-hour", ""},
       "--default-gpu-hour: the amount is empty"},
      {&cmd_rates_entry, {"rates", "set", "--default-gpu-hour", "1,5"}, "'1,5' has a ','"},
      {&cmd_rates_entry,
       {"rates", "set", "--default-gpu-hour", ".5"},
       "'.5' has no digits before the '.'"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "99999999999999"},
       "--per-cpu-hour: '99999999999999' is more than 1000000000000"},
      /* rates: --from */
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "tomorrow"},
       "invalid --from 'tomorrow': expected an ISO 8601 time"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-12-01T25:00:00Z"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-02-29"},
       "invalid --from '2026-02-29'"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-12-01Z"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-12-01T00:00:00+1"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-12-01T00:00:00.1234567Z"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-12-01T00:00Z "},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "1969-12-31"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-1-1"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "1764547200"},
       "invalid --from"},
      /* budget */
      {&cmd_budget_entry, {"budget"}, "budget: missing action"},
      {&cmd_budget_entry,
       {"budget", "spend", "hod/e1"},
       "budget: unknown action 'spend' (expected set or show)"},
      {&cmd_budget_entry, {"budget", "set", "hod/e1"}, "budget set: missing argument"},
      {&cmd_budget_entry, {"budget", "show", "hod/e1", "3"}, "budget show: too many arguments"},
      {&cmd_budget_entry, {"budget", "set", "Hod/e1", "3"}, "invalid project 'Hod' in 'Hod/e1'"},
      {&cmd_budget_entry, {"budget", "set", "hod/E1", "3"}, "invalid episode 'E1' in 'hod/E1'"},
      {&cmd_budget_entry,
       {"budget", "show", "hod"},
       "invalid episode 'hod': expected PROJECT/EPISODE"},
      {&cmd_budget_entry,
       {"budget", "set", "hod/e1", "1.2345678"},
       "budget amount: '1.2345678' has more than 6 decimals"},
      {&cmd_budget_entry, {"budget", "set", "hod/e1", "-5"}, "budget amount: '-5' is negative"},
      {&cmd_budget_entry,
       {"budget", "set", "hod/e1", "1000000000000.5"},
       "is more than 1000000000000"},
      /* cost */
      {&cmd_cost_entry, {"cost"}, "cost: --episode PROJECT/EPISODE is required"},
      {&cmd_cost_entry,
       {"cost", "--episode", "hod"},
       "invalid episode 'hod': expected PROJECT/EPISODE"},
      {&cmd_cost_entry, {"cost", "--episode", "hod/-x"}, "invalid episode '-x' in 'hod/-x'"},
      {&cmd_cost_entry,
       {"cost", "--episode", "hod/e1", "--by", "take"},
       "invalid --by 'take': expected shot, job or kind"},
      {&cmd_cost_entry, {"cost", "--episode", "hod/e1", "--by", ""}, "invalid --by ''"},
      {&cmd_cost_entry,
       {"cost", "--episode", "hod/e1", "--csv", "--json"},
       "--csv and --json cannot be combined"},
      {&cmd_cost_entry, {"cost", "--episode", "hod/e1", "hod/e2"}, "cost: too many arguments"},
  };
  /* A coordinator that must not hear anything. */
  fake_t fk = {.nreq = 0};
  fake_start(&fk);
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    int n = argv_len(cases[i].argv, (int)ARRAY_SIZE(cases[i].argv) - 1);
    const char *full[ARRAY_SIZE(cases[i].argv) + 3];
    memcpy(full, cases[i].argv, (size_t)n * sizeof *full);
    full[n] = "--coordinator";
    full[n + 1] = fk.endpoint;
    bool has_json = false;
    for (int k = 0; k < n; k++)
      has_json |= !strcmp(full[k], "--json");
    run_t r;
    if (!has_json) {
      r = run_cmd(cases[i].e, n + 2, full);
      check_error(&r, 2, cases[i].needle, false, NULL);
      if (r.status != 2 || !strstr(r.err, cases[i].needle))
        fprintf(stderr, "  (case %zu: %s)\n", i, r.err);
      run_free(&r);
    }
    /* With --json, the same error as a document. */
    full[n + 2] = "--json";
    r = run_cmd(cases[i].e, n + 3, full);
    check_error(&r, 2, cases[i].needle, true, "usage");
    run_free(&r);
  }
  fake_stop(&fk);
  CHECK_INT(fk.served, 0);

  /* --help is not an error. */
  const char *h[] = {"rates", "--help"};
  run_t r = run_cmd(&cmd_rates_entry, 2, h);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  run_free(&r);
}

static const char *const RATES_JSON =
    "{\"currency\": \"USD\", \"rates\": ["
    "{\"kind\": \"gpu_model\", \"gpu_model\": \"NVIDIA H100 80GB HBM3\", \"per_hour\": "
    "\"2.500000\", \"valid_from\": \"2026-12-01T00:00:00.000000Z\", \"set_by\": \"alice\", "
    "\"in_force\": true}, "
    "{\"kind\": \"gpu_model\", \"gpu_model\": \"NVIDIA H100 80GB HBM3\", \"per_hour\": "
    "\"3.000000\", \"valid_from\": \"2027-01-01T00:00:00.000000Z\", \"set_by\": \"bob\", "
    "\"in_force\": false}, "
    "{\"kind\": \"default_gpu\", \"gpu_model\": null, \"per_hour\": \"2.000000\", "
    "\"valid_from\": \"2026-11-01T12:30:00.000000Z\", \"set_by\": \"alice\", \"in_force\": "
    "true}, "
    "{\"kind\": \"cpu\", \"gpu_model\": null, \"per_hour\": \"0.050000\", \"valid_from\": "
    "\"2026-11-01T12:30:00.000000Z\", \"set_by\": \"alice\", \"in_force\": true}]}";

static void test_rates(void) {
  const char *jsons[] = {
      RATES_JSON,
      "{\"currency\": \"USD\", \"rates\": []}",
      RATES_JSON,
      /* rates set, one per --from form */
      "{\"currency\": \"USD\", \"rate\": {\"kind\": \"gpu_model\", \"gpu_model\": \"NVIDIA H100 "
      "80GB HBM3\", \"per_hour\": \"2.500000\", \"valid_from\": \"2026-12-01T00:00:00.000000Z\", "
      "\"set_by\": \"alice\", \"in_force\": false}}",
      "{\"rate\": {\"kind\": \"default_gpu\", \"gpu_model\": null, \"per_hour\": \"2.000000\", "
      "\"valid_from\": \"2026-12-01T00:00:00.000000Z\", \"set_by\": \"alice\", \"in_force\": "
      "false, \"currency\": \"EUR\"}}",
      "{\"rate\": {\"kind\": \"cpu\", \"gpu_model\": null, \"per_hour\": \"0.050000\", "
      "\"valid_from\": \"2026-12-01T00:00:00.500000Z\", \"set_by\": \"alice\", \"in_force\": "
      "false}}",
      "{\"currency\": \"USD\", \"rate\": {\"kind\": \"cpu\", \"gpu_model\": null, \"per_hour\": "
      "\"0.050000\", \"valid_from\": \"2026-11-26T04:10:10.123456Z\", \"set_by\": \"alice\", "
      "\"in_force\": true}}",
      "{\"currency\": \"USD\", \"rate\": {\"kind\": \"cpu\", \"gpu_model\": null, \"per_hour\": "
      "\"0.050000\", \"valid_from\": \"2026-12-01T00:00:00.000000Z\", \"set_by\": \"alice\", "
      "\"in_force\": false}}",
  };
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  const char *a0[] = {"rates"};
  run_t r = run_at(&cmd_rates_entry, fk.endpoint, 1, a0);
  check_ok(&r, "  KIND         MODEL                  PER-HOUR (USD)  FROM (UTC)           SET-BY\n"
               "* gpu_model    NVIDIA H100 80GB HBM3        2.500000  2026-12-01 00:00:00  alice\n"
               "  gpu_model    NVIDIA H100 80GB HBM3        3.000000  2027-01-01 00:00:00  bob\n"
               "* default_gpu  -                            2.000000  2026-11-01 12:30:00  alice\n"
               "* cpu          -                            0.050000  2026-11-01 12:30:00  alice\n"
               "* in force now\n");
  run_free(&r);
  r = run_at(&cmd_rates_entry, fk.endpoint, 1, a0);
  check_ok(&r, "no rates set: every attempt costs 0\n");
  run_free(&r);
  const char *a1[] = {"rates", "--json"};
  r = run_at(&cmd_rates_entry, fk.endpoint, 2, a1);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  json_t *doc = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(doc, "currency")), "USD");
  json_t *rate0 = json_array_get(json_object_get(doc, "rates"), 0);
  CHECK_STR(json_string_value(json_object_get(rate0, "per_hour")), "2.500000");
  CHECK(json_is_true(json_object_get(rate0, "in_force")));
  CHECK_INT(json_array_size(json_object_get(doc, "rates")), 4);
  json_decref(doc);
  run_free(&r);

  const char *s0[] = {"rates",          "set", "--gpu-model", "NVIDIA H100 80GB HBM3",
                      "--per-gpu-hour", "2.5", "--from",      "2026-12-01T00:00:00Z"};
  r = run_at(&cmd_rates_entry, fk.endpoint, 8, s0);
  check_ok(&r, "rate set: gpu NVIDIA H100 80GB HBM3 2.500000 USD/hour from 2026-12-01T00:00:00Z\n");
  run_free(&r);
  const char *s1[] = {"rates", "set",    "--default-gpu-hour",
                      "2",     "--from", "2026-12-01T01:00:00+01:00"};
  r = run_at(&cmd_rates_entry, fk.endpoint, 6, s1);
  check_ok(&r, "rate set: default gpu 2.000000 EUR/hour from 2026-12-01T00:00:00Z\n");
  run_free(&r);
  const char *s2[] = {"rates", "set", "--per-cpu-hour", "0.05", "--from", "2026-12-01 00:00:00.5"};
  r = run_at(&cmd_rates_entry, fk.endpoint, 6, s2);
  check_ok(&r, "rate set: cpu 0.050000 per hour from 2026-12-01T00:00:00.500000Z\n");
  run_free(&r);
  const char *s3[] = {"rates", "set", "--per-cpu-hour", "0.05"};
  r = run_at(&cmd_rates_entry, fk.endpoint, 4, s3);
  check_ok(&r, "rate set: cpu 0.050000 USD/hour from 2026-11-26T04:10:10.123456Z\n");
  run_free(&r);
  const char *s4[] = {"rates", "set", "--per-cpu-hour=0.050000", "--from", "2026-12-01", "--json"};
  r = run_at(&cmd_rates_entry, fk.endpoint, 6, s4);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  doc = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "rate"), "kind")), "cpu");
  CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "rate"), "per_hour")),
            "0.050000");
  json_decref(doc);
  run_free(&r);
  fake_stop(&fk);

  CHECK_INT(fk.served, (int)ARRAY_SIZE(jsons));
  for (int i = 0; i < 3; i++) {
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_RATES);
    CHECK_STR(fk.kind[i], "");
    CHECK_STR(fk.amount[i], "");
  }
  const int64_t dec1 = 1796083200LL * 1000000; /* 2026-12-01T00:00:00Z */
  for (int i = 3; i < 8; i++)
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_RATES_SET);
  CHECK_STR(fk.kind[3], "gpu_model");
  CHECK_STR(fk.name[3], "NVIDIA H100 80GB HBM3");
  CHECK_STR(fk.amount[3], "2.5");
  CHECK_INT(fk.at_us[3], dec1);
  CHECK_STR(fk.kind[4], "default_gpu");
  CHECK_STR(fk.name[4], "");
  CHECK_STR(fk.amount[4], "2");
  CHECK_INT(fk.at_us[4], dec1); /* +01:00 */
  CHECK_STR(fk.kind[5], "cpu");
  CHECK_STR(fk.amount[5], "0.05");
  CHECK_INT(fk.at_us[5], dec1 + 500000); /* a space, no zone: UTC */
  CHECK_INT(fk.at_us[6], 0);             /* no --from: now */
  CHECK_STR(fk.amount[7], "0.050000");
  CHECK_INT(fk.at_us[7], dec1); /* a date alone: midnight UTC */

  /* The other --from forms, and the coordinator's refusal. */
  static const struct {
    const char *from;
    int64_t want;
  } froms[] = {
      {"2026-12-01 00:00", 1796083200LL * 1000000},
      {"2026-12-01T00:00Z", 1796083200LL * 1000000},
      {"2026-11-30T19:00:00-05:00", 1796083200LL * 1000000},
      {"2026-12-01T05:30:00+0530", 1796083200LL * 1000000},
      {"2028-02-29T23:59:59.000001z", 1835481599LL * 1000000 + 1},
      {"1970-01-01T00:00:01Z", 1000000},
  };
  fake_t ff = {.nreq = ARRAY_SIZE(froms),
               .error_code = "invalid_rate",
               .error_message = "from: a rate cannot start in the past"};
  fake_start(&ff);
  for (size_t i = 0; i < ARRAY_SIZE(froms); i++) {
    const char *a[] = {"rates", "set", "--per-cpu-hour", "1", "--from", froms[i].from};
    r = run_at(&cmd_rates_entry, ff.endpoint, 6, a);
    check_error(&r, 1, "from: a rate cannot start in the past", false, NULL);
    run_free(&r);
  }
  fake_stop(&ff);
  CHECK_INT(ff.served, (int)ARRAY_SIZE(froms));
  for (size_t i = 0; i < ARRAY_SIZE(froms); i++)
    CHECK_INT(ff.at_us[i], froms[i].want);
}

static void test_budget(void) {
  const char *jsons[] = {
      "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"budget\": \"100.000000\", \"spent\": "
      "\"12.300000\", \"running\": \"0.500000\", \"left\": \"87.200000\", \"held\": false}",
      "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"budget\": \"10.000000\", \"spent\": "
      "\"12.300000\", \"running\": \"0.500000\", \"left\": \"-2.300000\", \"held\": true}",
      "{\"episode\": \"hod/e2\", \"currency\": \"USD\", \"budget\": null, \"spent\": "
      "\"12.300000\", \"running\": \"0.000000\", \"left\": null, \"held\": false}",
      "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"budget\": \"100.000000\", \"spent\": "
      "\"12.300000\", \"running\": \"0.500000\", \"left\": \"87.200000\", \"held\": false}",
  };
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);
  const char *a0[] = {"budget", "set", "hod/e1", "100"};
  run_t r = run_at(&cmd_budget_entry, fk.endpoint, 4, a0);
  check_ok(&r, "episode hod/e1: budget 100.000000 USD, spent 12.300000, running 0.500000, "
               "left 87.200000\n");
  run_free(&r);
  const char *a1[] = {"budget", "show", "hod/e1"};
  r = run_at(&cmd_budget_entry, fk.endpoint, 3, a1);
  check_ok(&r, "episode hod/e1: budget 10.000000 USD, spent 12.300000, running 0.500000, "
               "left -2.300000 (held: over budget)\n");
  run_free(&r);
  const char *a2[] = {"budget", "show", "hod/e2"};
  r = run_at(&cmd_budget_entry, fk.endpoint, 3, a2);
  check_ok(&r, "episode hod/e2: no budget, spent 12.300000 USD, running 0.000000\n");
  run_free(&r);
  const char *a3[] = {"budget", "--json", "set", "hod/e1", "0.000001"};
  r = run_at(&cmd_budget_entry, fk.endpoint, 5, a3);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  json_t *doc = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(doc, "budget")), "100.000000");
  CHECK_STR(json_string_value(json_object_get(doc, "left")), "87.200000");
  CHECK(json_is_false(json_object_get(doc, "held")));
  json_decref(doc);
  run_free(&r);
  fake_stop(&fk);
  CHECK_INT(fk.served, 4);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_BUDGET_SET);
  CHECK_STR(fk.name[0], "hod/e1");
  CHECK_STR(fk.amount[0], "100");
  CHECK_INT(fk.verb[1], CLAPPER__VERB__VERB_BUDGET_SHOW);
  CHECK_STR(fk.name[1], "hod/e1");
  CHECK_STR(fk.amount[1], "");
  CHECK_STR(fk.name[2], "hod/e2");
  CHECK_INT(fk.verb[3], CLAPPER__VERB__VERB_BUDGET_SET);
  CHECK_STR(fk.amount[3], "0.000001");

  fake_t fn = {.nreq = 1, .error_code = "not_found", .error_message = "no such episode: hod/e9"};
  fake_start(&fn);
  const char *b0[] = {"budget", "show", "hod/e9", "--json"};
  r = run_at(&cmd_budget_entry, fn.endpoint, 4, b0);
  check_error(&r, 1, "no such episode: hod/e9", true, "not_found");
  run_free(&r);
  fake_stop(&fn);
}

/* Splits RFC 4180 text into records of fields (CRLF line ends, quoted
 * fields with doubled quotes).  Returns the number of records; fields[r][f]
 * are allocated (free with csv_free). */
#define CSV_MAX_RECORDS 16
#define CSV_MAX_FIELDS 16
typedef struct csv {
  int nrec;
  int nfields[CSV_MAX_RECORDS];
  char *field[CSV_MAX_RECORDS][CSV_MAX_FIELDS];
  bool ok; /* well formed: every line ends in CRLF, quotes balanced */
} csv_t;

static void csv_parse(const char *s, csv_t *c) {
  memset(c, 0, sizeof *c);
  c->ok = true;
  while (*s && c->nrec < CSV_MAX_RECORDS) {
    int r = c->nrec++;
    for (;;) {
      sbuf_t f = {0};
      sbuf_puts(&f, "");
      if (*s == '"') {
        s++;
        for (;;) {
          if (!*s) {
            c->ok = false;
            break;
          }
          if (*s == '"' && s[1] == '"') {
            sbuf_putc(&f, '"');
            s += 2;
          } else if (*s == '"') {
            s++;
            break;
          } else {
            sbuf_putc(&f, *s++);
          }
        }
      } else {
        while (*s && *s != ',' && *s != '\r' && *s != '\n' && *s != '"')
          sbuf_putc(&f, *s++);
      }
      if (c->nfields[r] < CSV_MAX_FIELDS)
        c->field[r][c->nfields[r]++] = sbuf_steal(&f);
      else
        sbuf_free(&f);
      if (*s == ',') {
        s++;
        continue;
      }
      if (s[0] == '\r' && s[1] == '\n')
        s += 2;
      else
        c->ok = false;
      break;
    }
    if (!c->ok)
      break;
  }
}

static void csv_free(csv_t *c) {
  for (int r = 0; r < c->nrec; r++)
    for (int f = 0; f < c->nfields[r]; f++)
      free(c->field[r][f]);
}

/* The blank-separated words of the last line of a table (cells hold no
 * blanks here), at most max; returns how many. */
static int last_row_words(const char *table, char words[][32], int max) {
  const char *end = table + strlen(table);
  if (end > table && end[-1] == '\n')
    end--;
  const char *start = end;
  while (start > table && start[-1] != '\n')
    start--;
  int n = 0;
  for (const char *p = start; p < end && n < max;) {
    while (p < end && *p == ' ')
      p++;
    if (p >= end)
      break;
    size_t len = strcspn(p, " \n");
    if (p + len > end)
      len = (size_t)(end - p);
    snprintf(words[n++], 32, "%.*s", (int)len, p);
    p += len;
  }
  return n;
}

/* The line of text that starts with prefix (a copy), or NULL. */
static char *line_starting(const char *text, const char *prefix) {
  for (const char *p = text; p && *p;) {
    if (!strncmp(p, prefix, strlen(prefix)))
      return xstrndup(p, strcspn(p, "\n"));
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  return NULL;
}

static const char *const COST_SHOTS_JSON =
    "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"by\": \"shot\", \"attempts\": 6, "
    "\"total_cost\": \"12.345678\", \"failed_cost\": \"1.000000\", \"lost_cost\": \"0.250000\", \"gpu_hours\": "
    "1.5, \"cpu_hours\": 3.25, \"energy_kwh\": 0.012, \"budget\": \"100.000000\", \"left\": "
    "\"87.654322\", \"shots\": ["
    "{\"shot\": \"sh010\", \"attempts\": 4, \"total_cost\": \"10.000000\", \"failed_cost\": "
    "\"1.000000\", \"lost_cost\": \"0.000000\", \"gpu_hours\": 1.25, \"cpu_hours\": 2, "
    "\"energy_kwh\": 0.0104},"
    "{\"shot\": null, \"attempts\": 2, \"total_cost\": \"2.345678\", \"failed_cost\": "
    "\"0.000000\", \"lost_cost\": \"0.250000\", \"gpu_hours\": 0.25, \"cpu_hours\": 1.25, "
    "\"energy_kwh\": 0.0016}]}";

static const char *const COST_JOBS_JSON =
    "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"by\": \"job\", \"total_cost\": "
    "\"12.345678\", \"failed_cost\": \"1.000000\", \"lost_cost\": \"0.250000\", \"gpu_hours\": "
    "1.5, \"cpu_hours\": 3.25, \"energy_kwh\": 0.012, \"budget\": null, \"left\": null, "
    "\"jobs\": ["
    "{\"job_id\": 12, \"job\": \"sh010-gen\", \"kind\": \"generate\", \"shot\": \"sh010\", "
    "\"attempts\": 4, \"total_cost\": \"10.000000\", \"failed_cost\": \"1.000000\", "
    "\"lost_cost\": \"0.000000\", \"gpu_hours\": 1.25, \"cpu_hours\": 2, \"energy_kwh\": "
    "0.0104},"
    "{\"job_id\": 13, \"job\": \"odd,\\\"name\\\"\", \"kind\": \"render\", \"shot\": null, "
    "\"attempts\": 2, \"total_cost\": \"2.345678\", \"failed_cost\": \"0.000000\", "
    "\"lost_cost\": \"0.250000\", \"gpu_hours\": 0.25, \"cpu_hours\": 1.25, \"energy_kwh\": "
    "0.0016}]}";

static const char *const COST_KINDS_JSON =
    "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"by\": \"kind\", \"total_cost\": "
    "\"0.000000\", \"failed_cost\": \"0.000000\", \"lost_cost\": \"0.000000\", \"gpu_hours\": "
    "0, \"cpu_hours\": 0, \"energy_kwh\": 0, \"budget\": \"5.000000\", \"left\": \"5.000000\", "
    "\"kinds\": []}";

/* Checks that the CSV in out has a header, nrows rows and a TOTAL row
 * whose figures are those of the table's TOTAL row. */
static void check_csv_total(const char *csv_text, const char *table, int nlabels, int nrows,
                            const char *header) {
  csv_t c;
  csv_parse(csv_text, &c);
  CHECK(c.ok);
  CHECK_INT(c.nrec, nrows + 2);
  char *first = xstrndup(csv_text, strcspn(csv_text, "\r"));
  CHECK_STR(first, header);
  free(first);
  int last = c.nrec - 1;
  CHECK_INT(c.nfields[last], nlabels + 7);
  CHECK_STR(c.field[last][0], "TOTAL");
  for (int k = 1; k < nlabels; k++)
    CHECK_STR(c.field[last][k], "");
  char words[16][32];
  int n = last_row_words(table, words, 16);
  CHECK_INT(n, 8); /* TOTAL and the 7 figures */
  CHECK_STR(words[0], "TOTAL");
  for (int f = 0; f < 7 && f + 1 < n && nlabels + f < c.nfields[last]; f++)
    CHECK_STR(c.field[last][nlabels + f], words[f + 1]);
  csv_free(&c);
}

static void test_cost(void) {
  const char *jsons[] = {COST_SHOTS_JSON, COST_SHOTS_JSON, COST_SHOTS_JSON, COST_JOBS_JSON,
                         COST_JOBS_JSON,  COST_KINDS_JSON, COST_KINDS_JSON};
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  /* By shot: the table, the TOTAL row and the budget line. */
  const char *a0[] = {"cost", "--episode", "hod/e1"};
  run_t table = run_at(&cmd_cost_entry, fk.endpoint, 3, a0);
  check_ok(&table, "SHOT   ATTEMPTS  COST (USD)    FAILED      LOST  GPU-HOURS  CPU-HOURS    KWH\n"
                   "sh010         4   10.000000  1.000000  0.000000      1.250      2.000  0.010\n"
                   "-             2    2.345678  0.000000  0.250000      0.250      1.250  0.002\n"
                   "TOTAL         6   12.345678  1.000000  0.250000      1.500      3.250  0.012\n"
                   "budget: 100.000000 USD, left: 87.654322\n");
  /* --csv: the same figures; the TOTAL row equals the table's. */
  const char *a1[] = {"cost", "--episode", "hod/e1", "--csv"};
  run_t r = run_at(&cmd_cost_entry, fk.endpoint, 4, a1);
  check_ok(&r, "shot,attempts,total_cost,failed_cost,lost_cost,gpu_hours,cpu_hours,energy_kwh\r\n"
               "sh010,4,10.000000,1.000000,0.000000,1.250,2.000,0.010\r\n"
               ",2,2.345678,0.000000,0.250000,0.250,1.250,0.002\r\n"
               "TOTAL,6,12.345678,1.000000,0.250000,1.500,3.250,0.012\r\n");
  char *budget_table = line_starting(table.out, "TOTAL");
  CHECK(budget_table != NULL);
  free(budget_table);
  /* The table's last line is the budget: compare against its TOTAL row. */
  char *upto = xstrndup(table.out, (size_t)(strstr(table.out, "budget:") - table.out));
  check_csv_total(r.out, upto, 1, 2,
                  "shot,attempts,total_cost,failed_cost,lost_cost,gpu_hours,cpu_hours,"
                  "energy_kwh");
  free(upto);
  run_free(&r);
  run_free(&table);
  /* --json: the reply as it is, money as strings. */
  const char *a2[] = {"cost", "--episode", "hod/e1", "--json"};
  r = run_at(&cmd_cost_entry, fk.endpoint, 4, a2);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  json_t *doc = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(doc, "total_cost")), "12.345678");
  CHECK(json_is_real(json_object_get(doc, "gpu_hours")));
  CHECK_INT(json_array_size(json_object_get(doc, "shots")), 2);
  CHECK(json_is_null(json_object_get(json_array_get(json_object_get(doc, "shots"), 1), "shot")));
  json_decref(doc);
  run_free(&r);

  /* By job: labels job_id, job, kind, shot; a name that needs quoting. */
  const char *a3[] = {"cost", "--episode", "hod/e1", "--by", "job"};
  table = run_at(&cmd_cost_entry, fk.endpoint, 5, a3);
  check_ok(&table,
           "ID     JOB         KIND      SHOT   ATTEMPTS  COST (USD)    FAILED      LOST  "
           "GPU-HOURS  CPU-HOURS    KWH\n"
           "12     sh010-gen   generate  sh010         4   10.000000  1.000000  0.000000  "
           "    1.250      2.000  0.010\n"
           "13     odd,\"name\"  render    -             2    2.345678  0.000000  0.250000  "
           "    0.250      1.250  0.002\n"
           "TOTAL                                      6   12.345678  1.000000  0.250000  "
           "    1.500      3.250  0.012\n");
  const char *a4[] = {"cost", "--by=job", "--csv", "--episode", "hod/e1"};
  r = run_at(&cmd_cost_entry, fk.endpoint, 5, a4);
  check_ok(&r, "job_id,job,kind,shot,attempts,total_cost,failed_cost,lost_cost,gpu_hours,"
               "cpu_hours,energy_kwh\r\n"
               "12,sh010-gen,generate,sh010,4,10.000000,1.000000,0.000000,1.250,2.000,0.010\r\n"
               "13,\"odd,\"\"name\"\"\",render,,2,2.345678,0.000000,0.250000,0.250,1.250,0.002\r\n"
               "TOTAL,,,,6,12.345678,1.000000,0.250000,1.500,3.250,0.012\r\n");
  check_csv_total(r.out, table.out, 4, 2,
                  "job_id,job,kind,shot,attempts,total_cost,failed_cost,lost_cost,gpu_hours,"
                  "cpu_hours,energy_kwh");
  csv_t c;
  csv_parse(r.out, &c);
  CHECK(c.ok && c.nrec == 4);
  if (c.ok && c.nrec == 4) {
    CHECK_STR(c.field[2][1], "odd,\"name\""); /* quoted and read back whole */
    CHECK_STR(c.field[2][3], "");             /* a null shot */
  }
  csv_free(&c);
  run_free(&r);
  run_free(&table);

  /* By kind, no rows: header and TOTAL only; the budget line. */
  const char *a5[] = {"cost", "--episode", "hod/e1", "--by", "kind"};
  table = run_at(&cmd_cost_entry, fk.endpoint, 5, a5);
  check_ok(&table, "KIND   ATTEMPTS  COST (USD)    FAILED      LOST  GPU-HOURS  CPU-HOURS    KWH\n"
                   "TOTAL         0    0.000000  0.000000  0.000000      0.000      0.000  0.000\n"
                   "budget: 5.000000 USD, left: 5.000000\n");
  run_free(&table);
  const char *a6[] = {"cost", "--episode", "hod/e1", "--by", "kind", "--csv"};
  r = run_at(&cmd_cost_entry, fk.endpoint, 6, a6);
  check_ok(&r, "kind,attempts,total_cost,failed_cost,lost_cost,gpu_hours,cpu_hours,energy_kwh\r\n"
               "TOTAL,0,0.000000,0.000000,0.000000,0.000,0.000,0.000\r\n");
  run_free(&r);
  fake_stop(&fk);

  CHECK_INT(fk.served, (int)ARRAY_SIZE(jsons));
  static const char *const want_by[] = {"shot", "shot", "shot", "job", "job", "kind", "kind"};
  for (size_t i = 0; i < ARRAY_SIZE(want_by); i++) {
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_COST);
    CHECK_STR(fk.name[i], "hod/e1");
    CHECK_STR(fk.by[i], want_by[i]);
  }

  /* The coordinator's refusal, in every output mode. */
  fake_t fn = {.nreq = 3, .error_code = "not_found", .error_message = "no such episode: hod/e9"};
  fake_start(&fn);
  const char *b0[] = {"cost", "--episode", "hod/e9"};
  r = run_at(&cmd_cost_entry, fn.endpoint, 3, b0);
  check_error(&r, 1, "no such episode: hod/e9", false, NULL);
  run_free(&r);
  const char *b1[] = {"cost", "--episode", "hod/e9", "--csv"};
  r = run_at(&cmd_cost_entry, fn.endpoint, 4, b1);
  check_error(&r, 1, "no such episode: hod/e9", false, NULL);
  run_free(&r);
  const char *b2[] = {"cost", "--episode", "hod/e9", "--json"};
  r = run_at(&cmd_cost_entry, fn.endpoint, 4, b2);
  check_error(&r, 1, "no such episode: hod/e9", true, "not_found");
  run_free(&r);
  fake_stop(&fn);
  CHECK_INT(fn.served, 3);
}

/* ---------------------------------------------------------------- sign-off verbs */

/* Runs each usage case with and without --json against a fake that must
 * receive nothing: status 2, the one-line error, the usage document. */
static void check_usage_cases(const usage_case_t *cases, size_t ncases) {
  fake_t fk = {.nreq = 1, .jsons = (const char *const[]){"{}"}, .njsons = 1};
  fake_start(&fk);
  for (size_t i = 0; i < ncases; i++) {
    int n = argv_len(cases[i].argv, (int)ARRAY_SIZE(cases[i].argv) - 1);
    const char *full[ARRAY_SIZE(cases[i].argv) + 3];
    memcpy(full, cases[i].argv, (size_t)n * sizeof *full);
    full[n] = "--coordinator";
    full[n + 1] = fk.endpoint;
    bool has_json = false;
    for (int k = 0; k < n; k++)
      has_json |= !strcmp(full[k], "--json");
    run_t r;
    if (!has_json) {
      r = run_cmd(cases[i].e, n + 2, full);
      check_error(&r, 2, cases[i].needle, false, NULL);
      if (r.status != 2 || !strstr(r.err, cases[i].needle))
        fprintf(stderr, "  (case %zu: %s)\n", i, r.err);
      run_free(&r);
    }
    full[n + 2] = "--json";
    r = run_cmd(cases[i].e, n + 3, full);
    check_error(&r, 2, cases[i].needle, true, "usage");
    if (r.status != 2 || !strstr(r.err, cases[i].needle))
      fprintf(stderr, "  (case %zu with --json: %s)\n", i, r.err);
    run_free(&r);
  }
  /* Nothing was sent: the fake's one request is a ping of our own. */
  Clapper__Request ping = CLAPPER__REQUEST__INIT;
  ping.verb = CLAPPER__VERB__VERB_PING;
  cli_error_t err;
  json_t *doc = rpc_call_json(fk.endpoint, &ping, 5000, &err);
  CHECK(doc != NULL);
  json_decref(doc);
  fake_stop(&fk);
  CHECK_INT(fk.served, 1);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_PING);
}

static void test_signoff_arguments(void) {
  const usage_case_t cases[] = {
      /* takes: every filter checked before anything is sent */
      {&cmd_takes_entry,
       {"takes", "--episode", "hod"},
       "invalid episode 'hod': expected PROJECT/EPISODE"},
      {&cmd_takes_entry, {"takes", "--episode", "hod/E1"}, "invalid episode 'E1' in 'hod/E1'"},
      {&cmd_takes_entry,
       {"takes", "--shot", "Sh010"},
       "invalid --shot 'Sh010': expected [a-z0-9][a-z0-9_.-]{0,63}"},
      {&cmd_takes_entry, {"takes", "--shot", ""}, "invalid --shot ''"},
      {&cmd_takes_entry,
       {"takes", "--state", "done"},
       "invalid --state 'done': expected pending_review, approved, changes_requested or "
       "rejected"},
      {&cmd_takes_entry, {"takes", "--state=Approved"}, "invalid --state 'Approved'"},
      {&cmd_takes_entry,
       {"takes", "--job", "0"},
       "invalid --job '0': expected a positive integer"},
      {&cmd_takes_entry, {"takes", "--job", "12x"}, "invalid --job '12x'"},
      {&cmd_takes_entry, {"takes", "sh010"}, "takes: too many arguments"},
      {&cmd_takes_entry, {"takes", "--bogus"}, "unknown option --bogus"},
      /* approve, reject, request-changes, retake: one take id */
      {&cmd_approve_entry, {"approve"}, "approve: missing argument"},
      {&cmd_approve_entry, {"approve", "7", "8"}, "approve: too many arguments"},
      {&cmd_approve_entry,
       {"approve", "x7", "--note", "ok"},
       "invalid take id 'x7': expected a positive integer"},
      {&cmd_reject_entry, {"reject", "0"}, "invalid take id '0'"},
      {&cmd_request_changes_entry, {"request-changes", "1.5"}, "invalid take id '1.5'"},
      {&cmd_request_changes_entry,
       {"request-changes", "7", "8", "--note", "x"},
       "request-changes: too many arguments"},
      {&cmd_retake_entry, {"retake"}, "retake: missing argument"},
      {&cmd_retake_entry, {"retake", "99999999999999999999"}, "invalid take id"},
      {&cmd_retake_entry, {"retake", "7", "--note", "again"}, "unknown option --note"},
      /* audit */
      {&cmd_audit_entry, {"audit"}, "audit: --episode PROJECT/EPISODE is required"},
      {&cmd_audit_entry,
       {"audit", "--episode", "Hod/e1"},
       "invalid project 'Hod' in 'Hod/e1'"},
      {&cmd_audit_entry,
       {"audit", "--episode", "hod/e1", "--csv", "--json"},
       "audit: --csv and --json cannot be combined"},
      {&cmd_audit_entry, {"audit", "--verify", "--csv"}, "audit: --verify has no CSV form"},
      {&cmd_audit_entry, {"audit", "--verify", "--episode", "hod"}, "invalid episode 'hod'"},
      {&cmd_audit_entry, {"audit", "--episode", "hod/e1", "sh010"}, "audit: too many arguments"},
  };
  check_usage_cases(cases, ARRAY_SIZE(cases));

  /* --help is not an error, for every verb. */
  const struct cmd_entry *entries[] = {&cmd_takes_entry,   &cmd_approve_entry,
                                       &cmd_reject_entry,  &cmd_request_changes_entry,
                                       &cmd_retake_entry,  &cmd_audit_entry};
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  CHECK(saved >= 0 && devnull >= 0);
  dup2(devnull, STDOUT_FILENO); /* the help goes to stdout */
  for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
    const char *h[] = {entries[i]->name, "--help"};
    run_t r = run_cmd(entries[i], 2, h);
    CHECK_INT(r.status, 0);
    CHECK_STR(r.err, "");
    run_free(&r);
  }
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  close(devnull);
}

static const char *const TAKES_JSON =
    "{\"takes\": ["
    "{\"take_id\": 7, \"job_id\": 12, \"job\": \"sh010-gen\", \"task_id\": 40, \"shot\": "
    "\"sh010\", \"kind\": \"generate\", \"state\": \"approved\", \"seed\": 1001, \"take\": 2, "
    "\"outputs\": [{\"path\": \"/farm/out/12/40/take.mp4\", \"size\": 1048576, \"sha256\": "
    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}, {\"path\": "
    "\"/farm/out/12/40/take.json\", \"size\": 12, \"sha256\": \"\"}], \"provenance\": "
    "{\"model\": \"wan-2.1\", \"model_version\": \"14b\", \"seed\": 1001}, \"decided_by\": "
    "\"alice\", \"decided_at\": \"2026-11-26T04:10:10.123456Z\", \"note\": \"looks great, the "
    "rain reads well against the neon sign\", \"created_at\": \"2026-11-26T04:00:00.000000Z\"},"
    "{\"take_id\": 8, \"job_id\": 12, \"job\": \"sh010-gen\", \"task_id\": 41, \"shot\": "
    "\"sh010\", \"kind\": \"generate\", \"state\": \"pending_review\", \"seed\": 1002, "
    "\"take\": 3, \"outputs\": [], \"provenance\": {}, \"decided_by\": null, \"decided_at\": "
    "null, \"note\": \"\", \"created_at\": \"2026-11-26T04:01:00.000000Z\"},"
    "{\"take_id\": 9, \"job_id\": 13, \"job\": \"final\", \"task_id\": null, \"shot\": null, "
    "\"kind\": \"render\", \"state\": \"rejected\", \"seed\": null, \"take\": null, "
    "\"outputs\": [{\"path\": \"/farm/out/13/1001.exr\", \"size\": 10, \"sha256\": \"ab\"}], "
    "\"provenance\": {\"job\": \"final\"}, \"decided_by\": \"bob\", \"decided_at\": "
    "\"2026-11-26T05:00:00.000000Z\", \"note\": \"line1\\nline2\", \"created_at\": "
    "\"2026-11-26T04:30:00.000000Z\"}]}";

static void test_takes(void) {
  const char *jsons[] = {TAKES_JSON, TAKES_JSON, TAKES_JSON, "{\"takes\": []}"};
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  /* The table: JOB is the name, OUTPUT the first path, null and "" read
   * "-", long notes are cut and line breaks cannot split a row. */
  const char *a0[] = {"takes"};
  run_t r = run_at(&cmd_takes_entry, fk.endpoint, 1, a0);
  check_ok(&r,
           "TAKE  JOB        SHOT   KIND      STATE           SEED  OUTPUT                    "
           "DECIDED-BY  NOTE\n"
           "   7  sh010-gen  sh010  generate  approved        1001  /farm/out/12/40/take.mp4  "
           "alice       looks great, the rain reads well agai...\n"
           "   8  sh010-gen  sh010  generate  pending_review  1002  -                         "
           "-           -\n"
           "   9  final      -      render    rejected           -  /farm/out/13/1001.exr     "
           "bob         line1 line2\n");
  run_free(&r);
  /* Every filter goes into the request. */
  const char *a1[] = {"takes", "--episode", "hod/e1", "--shot", "sh010", "--state",
                      "approved", "--job", "12"};
  r = run_at(&cmd_takes_entry, fk.endpoint, 9, a1);
  CHECK_INT(r.status, 0);
  CHECK_INT(count_lines(r.out), 4);
  run_free(&r);
  /* --json: the reply as it is. */
  const char *a2[] = {"takes", "--json", "--state=pending_review"};
  r = run_at(&cmd_takes_entry, fk.endpoint, 3, a2);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  json_t *doc = json_loads(r.out, 0, NULL);
  json_t *takes = json_object_get(doc, "takes");
  CHECK_INT(json_array_size(takes), 3);
  json_t *t0 = json_array_get(takes, 0);
  CHECK_INT(json_integer_value(json_object_get(t0, "take_id")), 7);
  CHECK_INT(json_integer_value(json_object_get(t0, "job_id")), 12);
  CHECK_STR(json_string_value(json_object_get(t0, "state")), "approved");
  CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(t0, "outputs"), 0),
                                              "sha256")),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  CHECK_STR(json_string_value(json_object_get(json_object_get(t0, "provenance"), "model")),
            "wan-2.1");
  json_t *t2 = json_array_get(takes, 2);
  CHECK(json_is_null(json_object_get(t2, "task_id")));
  CHECK(json_is_null(json_object_get(t2, "shot")));
  CHECK(json_is_null(json_object_get(t2, "seed")));
  CHECK(json_is_null(json_object_get(json_array_get(takes, 1), "decided_by")));
  json_decref(doc);
  run_free(&r);
  /* No takes. */
  const char *a3[] = {"takes", "--episode", "hod/e2"};
  r = run_at(&cmd_takes_entry, fk.endpoint, 3, a3);
  check_ok(&r, "no takes\n");
  run_free(&r);
  fake_stop(&fk);

  CHECK_INT(fk.served, 4);
  for (int i = 0; i < 4; i++)
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_TAKES);
  /* No filter: everything empty, no ids. */
  CHECK_STR(fk.name[0], "");
  CHECK_STR(fk.shot[0], "");
  CHECK_STR(fk.state[0], "");
  CHECK_INT(fk.nids[0], 0);
  /* All filters. */
  CHECK_STR(fk.name[1], "hod/e1");
  CHECK_STR(fk.shot[1], "sh010");
  CHECK_STR(fk.state[1], "approved");
  CHECK_INT(fk.nids[1], 1);
  CHECK_INT(fk.id0[1], 12);
  /* Options do not stick to the next run. */
  CHECK_STR(fk.name[2], "");
  CHECK_STR(fk.shot[2], "");
  CHECK_STR(fk.state[2], "pending_review");
  CHECK_INT(fk.nids[2], 0);
  CHECK_STR(fk.name[3], "hod/e2");
  CHECK_STR(fk.state[3], "");

  /* The coordinator's refusal. */
  fake_t fn = {.nreq = 1, .error_code = "not_found", .error_message = "no such job: 99"};
  fake_start(&fn);
  const char *b0[] = {"takes", "--job", "99", "--json"};
  r = run_at(&cmd_takes_entry, fn.endpoint, 4, b0);
  check_error(&r, 1, "no such job: 99", true, "not_found");
  run_free(&r);
  fake_stop(&fn);
}

/* A decision reply: {"take": {...}} with state, decider and note. */
static char *take_reply(int id, const char *state, const char *by, const char *note) {
  json_t *doc = json_pack("{s:{s:i,s:i,s:s,s:i,s:s,s:s,s:s,s:i,s:[],s:{},s:s?,s:s?,s:s,s:s}}",
                          "take", "take_id", id, "job_id", 12, "job", "sh010-gen", "task_id",
                          30 + id, "shot", "sh010", "kind", "generate", "state", state, "seed",
                          1000 + id, "outputs", "provenance", "decided_by", by,
                          "decided_at", by ? "2026-11-26T04:10:10.123456Z" : NULL, "note", note,
                          "created_at", "2026-11-26T04:00:00.000000Z");
  char *s = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return s;
}

static void test_review(void) {
  char *replies[] = {
      take_reply(7, "approved", "alice", "looks great"),
      take_reply(8, "rejected", "bob", ""),
      take_reply(9, "changes_requested", "alice", "more rain"),
      xstrdup("{\"jobs\": [{\"job_id\": 14, \"name\": \"sh0420-gen-r1\", \"tasks\": 1, "
              "\"seed\": 1004}], \"take\": {\"take_id\": 7, \"job_id\": 12, \"state\": "
              "\"rejected\"}}"),
      take_reply(10, "approved", "alice", "ok"),
      xstrdup("{\"jobs\": [{\"job_id\": 15, \"name\": \"sh0420-gen-r2\", \"tasks\": 1, "
              "\"seed\": 1005}], \"take\": {\"take_id\": 7, \"job_id\": 12, \"state\": "
              "\"rejected\"}}"),
  };
  const char *jsons[ARRAY_SIZE(replies)];
  for (size_t i = 0; i < ARRAY_SIZE(replies); i++)
    jsons[i] = replies[i];
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  const char *a0[] = {"approve", "7", "--note", "looks great"};
  run_t r = run_at(&cmd_approve_entry, fk.endpoint, 4, a0);
  check_ok(&r, "take 7 approved by alice: looks great\n");
  run_free(&r);
  const char *a1[] = {"reject", "8"};
  r = run_at(&cmd_reject_entry, fk.endpoint, 2, a1);
  check_ok(&r, "take 8 rejected by bob\n");
  run_free(&r);
  const char *a2[] = {"request-changes", "--note=more rain", "9"};
  r = run_at(&cmd_request_changes_entry, fk.endpoint, 3, a2);
  check_ok(&r, "take 9 changes requested by alice: more rain\n");
  run_free(&r);
  const char *a3[] = {"retake", "7"};
  r = run_at(&cmd_retake_entry, fk.endpoint, 2, a3);
  check_ok(&r, "take 7: retake queued as job 14 sh0420-gen-r1 (seed 1004)\n");
  run_free(&r);
  /* --json: the reply as it is. */
  const char *a4[] = {"approve", "10", "--json", "--note", "ok"};
  r = run_at(&cmd_approve_entry, fk.endpoint, 5, a4);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  json_t *doc = json_loads(r.out, 0, NULL);
  json_t *take = json_object_get(doc, "take");
  CHECK_INT(json_integer_value(json_object_get(take, "take_id")), 10);
  CHECK_STR(json_string_value(json_object_get(take, "state")), "approved");
  CHECK_STR(json_string_value(json_object_get(take, "decided_by")), "alice");
  CHECK_STR(json_string_value(json_object_get(take, "note")), "ok");
  json_decref(doc);
  run_free(&r);
  const char *a5[] = {"retake", "--json", "7"};
  r = run_at(&cmd_retake_entry, fk.endpoint, 3, a5);
  CHECK_INT(r.status, 0);
  doc = json_loads(r.out, 0, NULL);
  json_t *job = json_array_get(json_object_get(doc, "jobs"), 0);
  CHECK_INT(json_integer_value(json_object_get(job, "job_id")), 15);
  CHECK_STR(json_string_value(json_object_get(job, "name")), "sh0420-gen-r2");
  CHECK_INT(json_integer_value(json_object_get(job, "seed")), 1005);
  CHECK_INT(json_integer_value(json_object_get(json_object_get(doc, "take"), "take_id")), 7);
  json_decref(doc);
  run_free(&r);
  fake_stop(&fk);
  for (size_t i = 0; i < ARRAY_SIZE(replies); i++)
    free(replies[i]);

  CHECK_INT(fk.served, 6);
  static const Clapper__Verb want_verb[] = {
      CLAPPER__VERB__VERB_APPROVE, CLAPPER__VERB__VERB_REJECT, CLAPPER__VERB__VERB_REQUEST_CHANGES,
      CLAPPER__VERB__VERB_RETAKE,  CLAPPER__VERB__VERB_APPROVE, CLAPPER__VERB__VERB_RETAKE};
  static const uint64_t want_id[] = {7, 8, 9, 7, 10, 7};
  static const char *const want_note[] = {"looks great", "", "more rain", "", "ok", ""};
  for (size_t i = 0; i < ARRAY_SIZE(want_verb); i++) {
    CHECK_INT(fk.verb[i], want_verb[i]);
    CHECK_INT(fk.nids[i], 1);
    CHECK_INT(fk.id0[i], want_id[i]);
    CHECK_STR(fk.note[i], want_note[i]);
  }

  /* The coordinator's refusals, as it words them. */
  static const struct {
    const struct cmd_entry *e;
    const char *verb, *code, *message;
  } refusals[] = {
      {&cmd_approve_entry, "approve", "forbidden",
       "approve: the role submitter may not review takes (supervisor or admin)"},
      {&cmd_reject_entry, "reject", "invalid_state",
       "take 7 was already rejected: decisions are final"},
      {&cmd_request_changes_entry, "request-changes", "not_found", "no such take: 70"},
      {&cmd_retake_entry, "retake", "not_found", "no such take: 70"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
    fake_t fe = {.nreq = 2, .error_code = refusals[i].code, .error_message = refusals[i].message};
    fake_start(&fe);
    const char *b0[] = {refusals[i].verb, "70"};
    r = run_at(refusals[i].e, fe.endpoint, 2, b0);
    check_error(&r, 1, refusals[i].message, false, NULL);
    run_free(&r);
    const char *b1[] = {refusals[i].verb, "70", "--json"};
    r = run_at(refusals[i].e, fe.endpoint, 3, b1);
    check_error(&r, 1, refusals[i].message, true, refusals[i].code);
    run_free(&r);
    fake_stop(&fe);
    CHECK_INT(fe.served, 2);
  }
}

static const char *const AUDIT_JSON =
    "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"shots\": ["
    "{\"shot\": \"sh010\", "
    "\"takes\": {\"generated\": 3, \"approved\": 1, \"rejected\": 1, \"pending\": 1, "
    "\"changes_requested\": 0}, "
    "\"decisions\": ["
    "{\"take_id\": 7, \"job\": \"sh010-gen\", \"kind\": \"generate\", \"state\": \"approved\", "
    "\"decided_by\": \"alice\", \"decided_at\": \"2026-11-26T04:10:10.123456Z\", \"note\": "
    "\"looks great\"}, "
    "{\"take_id\": 8, \"job\": \"sh010-gen\", \"kind\": \"generate\", \"state\": \"rejected\", "
    "\"decided_by\": \"bob\", \"decided_at\": \"2026-11-26T04:12:00.000000Z\", \"note\": \"\"}], "
    "\"approved\": ["
    "{\"take_id\": 7, \"job\": \"sh010-gen\", \"kind\": \"generate\", \"machine_generated\": "
    "true, \"model\": \"wan-2.1\", \"model_version\": \"14b\", \"outputs\": [{\"path\": "
    "\"/farm/out/12/40/take.mp4\", \"sha256\": "
    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}]}], "
    "\"cost\": {\"approved\": \"1.000000\", \"rejected\": \"1.000000\", \"pending\": "
    "\"1.000000\", \"changes_requested\": \"0.000000\", \"failed_attempts\": \"0.500000\", "
    "\"other\": \"0.000000\", \"total\": \"3.500000\"}, "
    "\"energy_kwh\": {\"approved\": 0.1, \"rejected\": 0.1, \"pending\": 0.1, "
    "\"changes_requested\": 0, \"failed_attempts\": 0.05, \"other\": 0, \"total\": 0.35}}, "
    "{\"shot\": null, "
    "\"takes\": {\"generated\": 1, \"approved\": 1, \"rejected\": 0, \"pending\": 0, "
    "\"changes_requested\": 0}, "
    "\"decisions\": [{\"take_id\": 9, \"job\": \"final\", \"kind\": \"render\", \"state\": "
    "\"approved\", \"decided_by\": \"alice\", \"decided_at\": \"2026-11-26T05:00:00.000000Z\", "
    "\"note\": \"ship it\"}], "
    "\"approved\": [{\"take_id\": 9, \"job\": \"final\", \"kind\": \"render\", "
    "\"machine_generated\": false, \"model\": null, \"model_version\": null, \"outputs\": ["
    "{\"path\": \"/farm/out/13/1001.exr\", \"sha256\": \"aa\"}, {\"path\": "
    "\"/farm/out/13/1002.exr\", \"sha256\": \"bb\"}]}], "
    "\"cost\": {\"approved\": \"2.000000\", \"rejected\": \"0.000000\", \"pending\": "
    "\"0.000000\", \"changes_requested\": \"0.000000\", \"failed_attempts\": \"0.000000\", "
    "\"other\": \"0.250000\", \"total\": \"2.250000\"}, "
    "\"energy_kwh\": {\"approved\": 0.2, \"rejected\": 0, \"pending\": 0, "
    "\"changes_requested\": 0, \"failed_attempts\": 0, \"other\": 0.0125, \"total\": 0.2125}}], "
    "\"totals\": {"
    "\"takes\": {\"generated\": 4, \"approved\": 2, \"rejected\": 1, \"pending\": 1, "
    "\"changes_requested\": 0}, "
    "\"cost\": {\"approved\": \"3.000000\", \"rejected\": \"1.000000\", \"pending\": "
    "\"1.000000\", \"changes_requested\": \"0.000000\", \"failed_attempts\": \"0.500000\", "
    "\"other\": \"0.250000\", \"total\": \"5.750000\"}, "
    "\"energy_kwh\": {\"approved\": 0.3, \"rejected\": 0.1, \"pending\": 0.1, "
    "\"changes_requested\": 0, \"failed_attempts\": 0.05, \"other\": 0.0125, \"total\": "
    "0.5625}}}";

#define AUDIT_CSV_HEADER                                                                           \
  "shot,generated,approved,rejected,pending,changes_requested,cost_approved,cost_rejected,"       \
  "cost_pending,cost_changes_requested,cost_failed_attempts,cost_other,cost_total,kwh_total"

static void test_audit(void) {
  const char *jsons[] = {AUDIT_JSON, AUDIT_JSON, AUDIT_JSON,
                         "{\"episode\": \"hod/e2\", \"currency\": \"USD\", \"shots\": [], "
                         "\"totals\": {\"takes\": {\"generated\": 0, \"approved\": 0, "
                         "\"rejected\": 0, \"pending\": 0, \"changes_requested\": 0}, "
                         "\"cost\": {\"approved\": \"0.000000\", \"rejected\": \"0.000000\", "
                         "\"pending\": \"0.000000\", \"changes_requested\": \"0.000000\", "
                         "\"failed_attempts\": \"0.000000\", \"other\": \"0.000000\", "
                         "\"total\": \"0.000000\"}, \"energy_kwh\": {\"approved\": 0, "
                         "\"rejected\": 0, \"pending\": 0, \"changes_requested\": 0, "
                         "\"failed_attempts\": 0, \"other\": 0, \"total\": 0}}}"};
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  const char *a0[] = {"audit", "--episode", "hod/e1"};
  run_t r = run_at(&cmd_audit_entry, fk.endpoint, 3, a0);
  check_ok(&r,
           "audit of episode hod/e1\n"
           "shot sh010: 3 takes generated, 1 approved, 1 rejected, 1 pending, 0 changes "
           "requested\n"
           "  take 7 approved by alice at 2026-11-26T04:10:10.123456Z: looks great\n"
           "  take 8 rejected by bob at 2026-11-26T04:12:00.000000Z\n"
           "  approved take 7: machine-generated (wan-2.1 14b)\n"
           "    sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  "
           "/farm/out/12/40/take.mp4\n"
           "  cost USD: approved 1.000000, rejected 1.000000, pending 1.000000, changes "
           "requested 0.000000, failed attempts 0.500000, other 0.000000, total 3.500000\n"
           "  energy kWh: approved 0.100, rejected 0.100, pending 0.100, changes requested "
           "0.000, failed attempts 0.050, other 0.000, total 0.350\n"
           "shot -: 1 take generated, 1 approved, 0 rejected, 0 pending, 0 changes requested\n"
           "  take 9 approved by alice at 2026-11-26T05:00:00.000000Z: ship it\n"
           "  approved take 9: rendered\n"
           "    sha256 aa  /farm/out/13/1001.exr\n"
           "    sha256 bb  /farm/out/13/1002.exr\n"
           "  cost USD: approved 2.000000, rejected 0.000000, pending 0.000000, changes "
           "requested 0.000000, failed attempts 0.000000, other 0.250000, total 2.250000\n"
           "  energy kWh: approved 0.200, rejected 0.000, pending 0.000, changes requested "
           "0.000, failed attempts 0.000, other 0.013, total 0.212\n"
           "TOTAL: 4 takes generated, 2 approved, 1 rejected, 1 pending, 0 changes requested\n"
           "  cost USD: approved 3.000000, rejected 1.000000, pending 1.000000, changes "
           "requested 0.000000, failed attempts 0.500000, other 0.250000, total 5.750000\n"
           "  energy kWh: approved 0.300, rejected 0.100, pending 0.100, changes requested "
           "0.000, failed attempts 0.050, other 0.013, total 0.562\n");
  run_free(&r);

  /* --csv: one row per shot, a TOTAL row equal to the reply's totals. */
  const char *a1[] = {"audit", "--csv", "--episode", "hod/e1"};
  r = run_at(&cmd_audit_entry, fk.endpoint, 4, a1);
  check_ok(&r, AUDIT_CSV_HEADER "\r\n"
               "sh010,3,1,1,1,0,1.000000,1.000000,1.000000,0.000000,0.500000,0.000000,3.500000,"
               "0.350\r\n"
               ",1,1,0,0,0,2.000000,0.000000,0.000000,0.000000,0.000000,0.250000,2.250000,"
               "0.212\r\n"
               "TOTAL,4,2,1,1,0,3.000000,1.000000,1.000000,0.000000,0.500000,0.250000,5.750000,"
               "0.562\r\n");
  csv_t c;
  csv_parse(r.out, &c);
  CHECK(c.ok);
  CHECK_INT(c.nrec, 4);
  json_t *reply = json_loads(AUDIT_JSON, 0, NULL);
  const json_t *totals = json_object_get(reply, "totals");
  if (c.ok && c.nrec == 4) {
    CHECK_INT(c.nfields[0], 14);
    CHECK_STR(c.field[0][0], "shot");
    CHECK_STR(c.field[0][13], "kwh_total");
    CHECK_STR(c.field[2][0], ""); /* a null shot */
    const int last = 3;
    CHECK_INT(c.nfields[last], 14);
    CHECK_STR(c.field[last][0], "TOTAL");
    /* The header names the figure; the TOTAL field is the reply's. */
    for (int f = 1; f < c.nfields[last] && f < 14; f++) {
      const char *h = c.field[0][f];
      char want[64];
      if (f <= 5) {
        snprintf(want, sizeof want, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(json_object_get(totals, "takes"), h)));
      } else if (!strncmp(h, "cost_", 5)) {
        snprintf(want, sizeof want, "%s",
                 json_string_value(json_object_get(json_object_get(totals, "cost"), h + 5)));
      } else {
        snprintf(want, sizeof want, "%.3f",
                 json_number_value(json_object_get(json_object_get(totals, "energy_kwh"),
                                                   "total")));
      }
      CHECK_STR(c.field[last][f], want);
    }
  }
  csv_free(&c);
  json_decref(reply);
  run_free(&r);

  /* --json: the reply as it is, money as strings. */
  const char *a2[] = {"audit", "--episode", "hod/e1", "--json"};
  r = run_at(&cmd_audit_entry, fk.endpoint, 4, a2);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  json_t *doc = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(doc, "episode")), "hod/e1");
  json_t *s0 = json_array_get(json_object_get(doc, "shots"), 0);
  CHECK_STR(json_string_value(json_object_get(json_object_get(s0, "cost"), "total")), "3.500000");
  CHECK(json_is_true(
      json_object_get(json_array_get(json_object_get(s0, "approved"), 0), "machine_generated")));
  CHECK(json_is_null(json_object_get(json_array_get(json_object_get(doc, "shots"), 1), "shot")));
  CHECK_STR(json_string_value(json_object_get(
                json_object_get(json_object_get(doc, "totals"), "cost"), "total")),
            "5.750000");
  CHECK_INT(json_integer_value(json_object_get(
                json_object_get(json_object_get(doc, "totals"), "takes"), "generated")),
            4);
  json_decref(doc);
  run_free(&r);

  /* An episode without takes: the TOTAL block only. */
  const char *a3[] = {"audit", "--episode", "hod/e2"};
  r = run_at(&cmd_audit_entry, fk.endpoint, 3, a3);
  check_ok(&r, "audit of episode hod/e2\n"
               "TOTAL: 0 takes generated, 0 approved, 0 rejected, 0 pending, 0 changes "
               "requested\n"
               "  cost USD: approved 0.000000, rejected 0.000000, pending 0.000000, changes "
               "requested 0.000000, failed attempts 0.000000, other 0.000000, total 0.000000\n"
               "  energy kWh: approved 0.000, rejected 0.000, pending 0.000, changes requested "
               "0.000, failed attempts 0.000, other 0.000, total 0.000\n");
  run_free(&r);
  fake_stop(&fk);

  CHECK_INT(fk.served, 4);
  for (int i = 0; i < 4; i++) {
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_AUDIT);
    CHECK_STR(fk.name[i], i == 3 ? "hod/e2" : "hod/e1");
  }

  /* The coordinator's refusal, in every output mode. */
  fake_t fn = {.nreq = 3, .error_code = "forbidden",
               .error_message = "audit: the role submitter may not read audits"};
  fake_start(&fn);
  const char *b0[] = {"audit", "--episode", "hod/e1"};
  r = run_at(&cmd_audit_entry, fn.endpoint, 3, b0);
  check_error(&r, 1, "may not read audits", false, NULL);
  run_free(&r);
  const char *b1[] = {"audit", "--episode", "hod/e1", "--csv"};
  r = run_at(&cmd_audit_entry, fn.endpoint, 4, b1);
  check_error(&r, 1, "may not read audits", false, NULL);
  run_free(&r);
  const char *b2[] = {"audit", "--episode", "hod/e1", "--json"};
  r = run_at(&cmd_audit_entry, fn.endpoint, 4, b2);
  check_error(&r, 1, "may not read audits", true, "forbidden");
  run_free(&r);
  fake_stop(&fn);
  CHECK_INT(fn.served, 3);
}

static void test_audit_verify(void) {
  const char *ok = "{\"ok\": true, \"events\": 1234, \"first_broken\": null, \"message\": "
                   "\"hash chain intact\"}";
  const char *broken = "{\"ok\": false, \"events\": 1234, \"first_broken\": 57, \"message\": "
                       "\"its hash does not match its content\"}";
  const char *jsons[] = {ok, broken, ok, broken, "{\"ok\": true, \"events\": 1}",
                         "{\"events\": 3}"};
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  const char *a0[] = {"audit", "--verify"};
  run_t r = run_at(&cmd_audit_entry, fk.endpoint, 2, a0);
  check_ok(&r, "event log: 1234 events, hash chain intact\n");
  run_free(&r);
  /* Broken: exit 1, one line naming the first broken event. */
  r = run_at(&cmd_audit_entry, fk.endpoint, 2, a0);
  check_error(&r, 1,
              "event log: the chain breaks at event 57: its hash does not match its content",
              false, NULL);
  CHECK_STR(r.err, "clapper: event log: the chain breaks at event 57: its hash does not match "
                   "its content\n");
  run_free(&r);
  /* --json: the document either way; the exit status says whether it is intact. */
  const char *a1[] = {"audit", "--verify", "--json"};
  r = run_at(&cmd_audit_entry, fk.endpoint, 3, a1);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  json_t *doc = json_loads(r.out, 0, NULL);
  CHECK(json_is_true(json_object_get(doc, "ok")));
  CHECK_INT(json_integer_value(json_object_get(doc, "events")), 1234);
  CHECK(json_is_null(json_object_get(doc, "first_broken")));
  json_decref(doc);
  run_free(&r);
  r = run_at(&cmd_audit_entry, fk.endpoint, 3, a1);
  CHECK_INT(r.status, 1);
  CHECK_INT(count_lines(r.err), 1);
  CHECK_CONTAINS(r.err, "the chain breaks at event 57");
  doc = json_loads(r.out, 0, NULL);
  CHECK(doc != NULL);
  CHECK(json_is_false(json_object_get(doc, "ok")));
  CHECK_INT(json_integer_value(json_object_get(doc, "first_broken")), 57);
  CHECK(json_object_get(doc, "error") == NULL); /* one document: the reply */
  json_decref(doc);
  run_free(&r);
  /* One event; --episode may be named too (the chain is the whole log). */
  const char *a2[] = {"audit", "--verify", "--episode", "hod/e1"};
  r = run_at(&cmd_audit_entry, fk.endpoint, 4, a2);
  check_ok(&r, "event log: 1 event, hash chain intact\n");
  run_free(&r);
  /* An answer without "ok" is not taken for intact. */
  r = run_at(&cmd_audit_entry, fk.endpoint, 2, a0);
  check_error(&r, 1, "has no \"ok\"", false, NULL);
  run_free(&r);
  fake_stop(&fk);

  CHECK_INT(fk.served, (int)ARRAY_SIZE(jsons));
  for (size_t i = 0; i < ARRAY_SIZE(jsons); i++) {
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_AUDIT_VERIFY);
    CHECK_STR(fk.name[i], "");
    CHECK_INT(fk.nids[i], 0);
  }

  fake_t fn = {.nreq = 1, .error_code = "forbidden",
               .error_message = "audit: the role submitter may not read audits"};
  fake_start(&fn);
  const char *b0[] = {"audit", "--verify", "--json"};
  r = run_at(&cmd_audit_entry, fn.endpoint, 3, b0);
  check_error(&r, 1, "may not read audits", true, "forbidden");
  run_free(&r);
  fake_stop(&fn);
}

/* ---------------------------------------------------------------- keys, users, whoami */

/* A ZAP handler that refuses every key (status 400), in the fake's
 * context, until stop is set. */
typedef struct zap_deny {
  void *rep;
  pthread_t thr;
  volatile int stop;
  int served;
} zap_deny_t;

static void *zap_deny_main(void *arg) {
  zap_deny_t *z = arg;
  while (!z->stop) {
    zmq_pollitem_t it = {z->rep, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 50) <= 0)
      continue;
    char frames[8][64];
    size_t sizes[8] = {0};
    int n = 0, more = 1;
    while (more && n < 8) {
      int got = zmq_recv(z->rep, frames[n], sizeof frames[n], 0);
      if (got < 0)
        return NULL;
      sizes[n++] = (size_t)(got > 64 ? 64 : got);
      size_t ml = sizeof more;
      zmq_getsockopt(z->rep, ZMQ_RCVMORE, &more, &ml);
    }
    zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(z->rep, frames[1], sizes[1], ZMQ_SNDMORE);
    zmq_send(z->rep, "400", 3, ZMQ_SNDMORE);
    zmq_send(z->rep, "no such key", 11, ZMQ_SNDMORE);
    zmq_send(z->rep, "", 0, ZMQ_SNDMORE);
    zmq_send(z->rep, "", 0, 0);
    z->served++;
  }
  return NULL;
}

/* fake_start with the ROUTER a CURVE server using server's secret key;
 * with deny, a ZAP handler in the fake's context refuses every key. */
static void fake_start_curve(fake_t *f, const keys_key_t *server, zap_deny_t *deny) {
  f->ctx = zmq_ctx_new();
  if (deny) {
    int zero = 0;
    deny->rep = zmq_socket(f->ctx, ZMQ_REP);
    zmq_setsockopt(deny->rep, ZMQ_LINGER, &zero, sizeof zero);
    CHECK_INT(zmq_bind(deny->rep, "inproc://zeromq.zap.01"), 0);
    pthread_create(&deny->thr, NULL, zap_deny_main, deny);
  }
  f->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
  int one = 1, zero = 0;
  zmq_setsockopt(f->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof zero);
  CHECK_INT(zmq_setsockopt(f->sock, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
  CHECK_INT(zmq_setsockopt(f->sock, ZMQ_CURVE_SECRETKEY, server->secret_key, 41), 0);
  CHECK_INT(zmq_bind(f->sock, "tcp://127.0.0.1:*"), 0);
  size_t len = sizeof f->endpoint;
  zmq_getsockopt(f->sock, ZMQ_LAST_ENDPOINT, f->endpoint, &len);
  pthread_create(&f->thr, NULL, fake_main, f);
}

static void fake_stop_curve(fake_t *f, zap_deny_t *deny) {
  pthread_join(f->thr, NULL);
  zmq_close(f->sock);
  if (deny) {
    deny->stop = 1;
    pthread_join(deny->thr, NULL);
    zmq_close(deny->rep);
  }
  zmq_ctx_term(f->ctx);
}

static void test_keys_arguments(void) {
  const usage_case_t cases[] = {
      {&cmd_keygen_entry, {"keygen"}, "keygen: missing argument"},
      {&cmd_keygen_entry, {"keygen", "a", "b"}, "keygen: too many arguments"},
      {&cmd_keygen_entry, {"keygen", "Alice"}, "invalid key name 'Alice'"},
      {&cmd_keygen_entry, {"keygen", "../x"}, "invalid key name '../x'"},
      {&cmd_keygen_entry, {"keygen", "a", "--dir", ""}, "--dir: empty directory name"},
      {&cmd_users_entry, {"users"}, "users: missing action"},
      {&cmd_users_entry, {"users", "promote", "x"}, "users: unknown action 'promote'"},
      {&cmd_users_entry, {"users", "add"}, "users add: missing argument"},
      {&cmd_users_entry, {"users", "add", "a", "b"}, "users add: too many arguments"},
      {&cmd_users_entry, {"users", "add", "Alice", "--role", "admin", "--public-key", "x.pub"},
       "invalid user name 'Alice'"},
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
      {&cmd_whoami_entry, {"whoami", "me"}, "whoami: too many arguments"},
      {&cmd_jobs_entry, {"jobs", "--key"}, "option --key needs a value"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    int argc = argv_len(cases[i].argv, 10);
    run_t r = run_cmd(cases[i].e, argc, cases[i].argv);
    check_error(&r, 2, cases[i].needle, false, NULL);
    run_free(&r);
  }
  const char *a[] = {"users", "add", "alice", "--role", "boss", "--json"};
  run_t r = run_cmd(&cmd_users_entry, 6, a);
  check_error(&r, 2, "invalid role 'boss'", true, "usage");
  run_free(&r);
}

static void test_keygen(void) {
  char dir[] = "/tmp/clapper-test-keygen-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char *sub = xasprintf("%s/new/keys", dir);
  const char *a0[] = {"keygen", "alice", "--dir", sub};
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
  r = run_cmd(&cmd_keygen_entry, 4, a0);
  check_error(&r, 1, "alice.key already exists", false, NULL);
  run_free(&r);
  char *after = util_read_file(kp, 4096, NULL);
  CHECK_CONTAINS(after, k.secret_key);
  free(after);
  const char *a1[] = {"keygen", "bob", "--dir", sub, "--json"};
  r = run_cmd(&cmd_keygen_entry, 5, a1);
  CHECK_INT(r.status, 0);
  json_t *doc = json_loads(r.out, 0, NULL);
  char *bpub = xasprintf("%s/bob.pub", sub), *bkey = xasprintf("%s/bob.key", sub);
  CHECK_STR(json_string_value(json_object_get(doc, "name")), "bob");
  CHECK_STR(json_string_value(json_object_get(doc, "key")), bkey);
  CHECK_STR(json_string_value(json_object_get(doc, "pub")), bpub);
  CHECK_INT(keys_load(bpub, &p, err, sizeof err), 0);
  CHECK_STR(json_string_value(json_object_get(doc, "public_key")), p.public_key);
  json_decref(doc);
  run_free(&r);
  r = run_cmd(&cmd_keygen_entry, 5, a1);
  check_error(&r, 1, "bob.key already exists", true, "io");
  run_free(&r);
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
  const char *b1[] = {"users", "add", "bob", "--role", "admin", "--public-key",
                      "/nonexistent/bob.pub"};
  r = run_at(&cmd_users_entry, fz.endpoint, 7, b1);
  check_error(&r, 1, "cannot read /nonexistent/bob.pub: No such file or directory", false,
              NULL);
  run_free(&r);
  CHECK_INT(chmod(akey, 0640), 0);
  const char *b2[] = {"users", "add", "alice", "--role", "admin", "--public-key", akey};
  r = run_at(&cmd_users_entry, fz.endpoint, 7, b2);
  check_error(&r, 1, "is readable by others (mode 0640): chmod 600", false, NULL);
  run_free(&r);
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
      "\"added_by\": \"root\", \"added_at\": \"2026-11-26T06:22:19.700000Z\"}]}",
      "{\"users\": []}",
      USER_JSON,
      "{\"name\": \"alice\", \"role\": \"admin\", \"secure\": true}",
      "{\"name\": \"anonymous\", \"role\": \"admin\", \"secure\": false}",
      "{\"name\": \"alice\", \"role\": \"admin\", \"secure\": true}",
  };
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);
  /* add: a .key file works too, and only its public key is sent */
  const char *a0[] = {"users", "add", "alice", "--role", "submitter", "--public-key", apub};
  r = run_at(&cmd_users_entry, fk.endpoint, 7, a0);
  check_ok(&r, "user alice (submitter) added, public key "
               "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n");
  run_free(&r);
  const char *a1[] = {"users", "--json", "add", "alice", "--role=worker", "--public-key", akey};
  r = run_at(&cmd_users_entry, fk.endpoint, 7, a1);
  CHECK_INT(r.status, 0);
  json_t *doc = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "user"), "added_by")),
            "root");
  json_decref(doc);
  run_free(&r);
  const char *a2[] = {"users", "list"};
  r = run_at(&cmd_users_entry, fk.endpoint, 2, a2);
  check_ok(&r, "NAME     ROLE    ADDED BY     ADDED AT             PUBLIC KEY\n"
               "root     admin   coordinator  2026-11-26 06:22:19  "
               "8Y$EUd*Rl4nCbPu=+v$bK3uNQk?v!L!TY:v2y-{l\n"
               "local-1  worker  root         2026-11-26 06:22:19  "
               "%gmmCxL8^Pidz-Q8VSPFDkBCD3&D27I{<mUIv!-!\n");
  run_free(&r);
  r = run_at(&cmd_users_entry, fk.endpoint, 2, a2);
  check_ok(&r, "NAME  ROLE  ADDED BY  ADDED AT  PUBLIC KEY\n");
  run_free(&r);
  const char *a3[] = {"users", "remove", "alice"};
  r = run_at(&cmd_users_entry, fk.endpoint, 3, a3);
  check_ok(&r, "user alice (submitter) removed\n");
  run_free(&r);
  const char *a4[] = {"whoami"};
  r = run_at(&cmd_whoami_entry, fk.endpoint, 1, a4);
  check_ok(&r, "alice (admin)\n");
  run_free(&r);
  r = run_at(&cmd_whoami_entry, fk.endpoint, 1, a4);
  check_ok(&r, "anonymous (admin; not authenticated: the coordinator runs without keys)\n");
  run_free(&r);
  const char *a5[] = {"whoami", "--json"};
  r = run_at(&cmd_whoami_entry, fk.endpoint, 2, a5);
  CHECK_INT(r.status, 0);
  doc = json_loads(r.out, 0, NULL);
  CHECK_STR(json_string_value(json_object_get(doc, "name")), "alice");
  CHECK_STR(json_string_value(json_object_get(doc, "role")), "admin");
  CHECK(json_is_true(json_object_get(doc, "secure")));
  json_decref(doc);
  run_free(&r);
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
  CHECK_INT(fk.verb[4], CLAPPER__VERB__VERB_USERS_REMOVE);
  CHECK_STR(fk.name[4], "alice");
  CHECK_STR(fk.public_key[4], "");
  CHECK_INT(fk.verb[5], CLAPPER__VERB__VERB_WHOAMI);

  /* The coordinator's refusals, as it words them. */
  fake_t ff = {.nreq = 2, .error_code = "forbidden",
               .error_message = "managing users needs the admin role (you are submitter)"};
  fake_start(&ff);
  r = run_at(&cmd_users_entry, ff.endpoint, 2, a2);
  check_error(&r, 1, "managing users needs the admin role", false, NULL);
  run_free(&r);
  const char *a6[] = {"users", "remove", "alice", "--json"};
  r = run_at(&cmd_users_entry, ff.endpoint, 4, a6);
  check_error(&r, 1, "needs the admin role", true, "forbidden");
  run_free(&r);
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
                         JOBS_JSON};

  /* --key (coordinator.pub found next to it), then CLAPPER_KEY. */
  fake_t fk = {.nreq = 3, .jsons = jsons, .njsons = 2};
  fake_start_curve(&fk, &server, NULL);
  const char *a0[] = {"whoami", "--key", akey};
  run_t r = run_at(&cmd_whoami_entry, fk.endpoint, 3, a0);
  check_ok(&r, "alice (admin)\n");
  run_free(&r);
  setenv("CLAPPER_KEY", akey, 1);
  const char *a1[] = {"jobs", "--json"};
  r = run_at(&cmd_jobs_entry, fk.endpoint, 2, a1);
  CHECK_INT(r.status, 0);
  CHECK_CONTAINS(r.out, "sh0420-gen");
  run_free(&r);
  char *spub = xasprintf("%s/coordinator.pub", dir);
  setenv("CLAPPER_SERVER_KEY", spub, 1);
  r = run_at(&cmd_jobs_entry, fk.endpoint, 2, a1);
  CHECK_INT(r.status, 0);
  run_free(&r);
  unsetenv("CLAPPER_SERVER_KEY");
  fake_stop_curve(&fk, NULL);
  CHECK_INT(fk.served, 3);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_WHOAMI);
  CHECK_INT(fk.verb[1], CLAPPER__VERB__VERB_JOBS);

  /* --key= turns CLAPPER_KEY off; with the key, a plain coordinator is a
   * mismatch reported at once. */
  fake_t fp = {.nreq = 1, .jsons = jsons, .njsons = 1};
  fake_start(&fp);
  const char *a2[] = {"whoami", "--key="};
  r = run_at(&cmd_whoami_entry, fp.endpoint, 2, a2);
  check_ok(&r, "alice (admin)\n");
  run_free(&r);
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
  zap_deny_t deny = {0};
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
  fake_stop_curve(&fd, &deny);
  CHECK(deny.served >= 1);

  /* A server key that is not the coordinator's: the handshake fails, and
   * the timeout says so. */
  fake_t fw = {.nreq = 0};
  fake_start_curve(&fw, &server, NULL);
  const char *a5[] = {"jobs", "--key", akey, "--server-key", opub, "--timeout-ms", "700"};
  r = run_at(&cmd_jobs_entry, fw.endpoint, 7, a5);
  want = xasprintf("no reply from the coordinator at %s within 700 ms (the CURVE handshake "
                   "failed: is %s the coordinator's public key?)",
                   fw.endpoint, opub);
  check_error(&r, 1, want, false, NULL);
  free(want);
  run_free(&r);
  fake_stop_curve(&fw, NULL);

  /* Nobody there: the timeout names the key. */
  char *ep = xasprintf("ipc://%s/nobody.sock", dir);
  const char *a6[] = {"workers", "--key", akey, "--timeout-ms", "200"};
  r = run_at(&cmd_workers_entry, ep, 5, a6);
  want = xasprintf("no reply from the coordinator at %s within 200 ms (is the key %s "
                   "registered? see clapper users)",
                   ep, akey);
  check_error(&r, 1, want, false, NULL);
  free(want);
  run_free(&r);

  /* Key files that cannot be used. */
  const char *a7[] = {"workers", "--key", "/nonexistent/me.key", "--json"};
  r = run_at(&cmd_workers_entry, ep, 4, a7);
  check_error(&r, 1, "cannot read /nonexistent/me.key", true, "invalid_key");
  run_free(&r);
  char *apub = xasprintf("%s/alice.pub", dir);
  const char *a8[] = {"workers", "--key", apub};
  r = run_at(&cmd_workers_entry, ep, 3, a8);
  check_error(&r, 1, "holds no secret key: give the alice.key file", false, NULL);
  run_free(&r);
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
  want = xasprintf("no reply from the coordinator at %s within 100 ms", ep);
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
  /* A farm's env file may have been sourced: these tests choose their keys. */
  unsetenv("CLAPPER_KEY");
  unsetenv("CLAPPER_SERVER_KEY");
  test_table();
  test_values();
  test_arguments();
  test_submit_local_checks();
  test_rpc_unavailable();
  test_rpc_roundtrip();
  test_verbs_against_fake();
  test_submit_roundtrip();
  test_control_verbs();
  test_drain_and_episode();
  test_logs();
  test_reasons();
  test_local_pieces();
  test_cost_arguments();
  test_rates();
  test_budget();
  test_cost();
  test_signoff_arguments();
  test_takes();
  test_review();
  test_audit();
  test_audit_verify();
  test_keys_arguments();
  test_keygen();
  test_users();
  test_curve_client();
  test_local_keys();
  return check_report("test_client");
}
