/*
 * test_verbs.c - the verb table (coordinator/verbs.c).
 *
 * Walks every verb of the protocol (the enum in proto/clapper.proto, as
 * protobuf-c describes it) and checks that each has exactly one row and
 * that no row names a verb the protocol does not have; checks the rows'
 * invariants (admins may do everything, auditors nothing that writes,
 * workers nothing, "own jobs" only for roles that are allowed at all);
 * checks the refusal messages; sends requests over real ZeroMQ sockets to
 * the coordinator's request path and checks that a verb without a row is
 * refused (for an admin, changing nothing), that a read is answered, and
 * that only a row marked so is served while stopping; and compares the
 * README's role matrix with the one the table makes.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "check.h"
#include "clients.h"
#include "log.h"
#include "model.h"
#include "store.h"
#include "verbs.h"

static const ProtobufCEnumDescriptor *verb_enum(void) { return &clapper__verb__descriptor; }

static void test_every_verb_has_one_row(void) {
  const ProtobufCEnumDescriptor *d = verb_enum();
  size_t n;
  const verb_spec_t *all = verbs_all(&n);
  CHECK(d->n_values > 25);
  for (unsigned i = 0; i < d->n_values; i++) {
    int verb = d->values[i].value;
    size_t rows = 0;
    for (size_t k = 0; k < n; k++)
      rows += all[k].verb == verb;
    if (verb == CLAPPER__VERB__VERB_UNSPECIFIED) {
      CHECK_INT(rows, 0); /* not a verb: refused like any verb without a row */
      continue;
    }
    if (rows != 1)
      fprintf(stderr, "verb %s has %zu rows in coordinator/verbs.c\n", d->values[i].name, rows);
    CHECK_INT(rows, 1);
    CHECK(verbs_find(verb) != NULL && verbs_find(verb)->verb == verb);
  }
  /* No row for a verb the protocol does not have. */
  for (size_t k = 0; k < n; k++)
    CHECK(protobuf_c_enum_descriptor_get_value(d, all[k].verb) != NULL);
  CHECK(verbs_find(CLAPPER__VERB__VERB_UNSPECIFIED) == NULL);
  CHECK(verbs_find(9999) == NULL);
  CHECK(verbs_find(-1) == NULL);
}

static void test_rows(void) {
  size_t n;
  const verb_spec_t *all = verbs_all(&n);
  for (size_t k = 0; k < n; k++) {
    const verb_spec_t *v = &all[k];
    CHECK(v->fn != NULL);
    CHECK(v->cli && *v->cli);
    CHECK(v->what && *v->what);
    CHECK(v->roles & ROLE_BIT(ROLE_ADMIN));     /* admins may do everything */
    CHECK(!(v->roles & ROLE_BIT(ROLE_WORKER))); /* workers use the other socket */
    CHECK((v->own & ~v->roles) == 0);           /* own jobs: a limit, not a grant */
    CHECK(!(v->own & ROLE_BIT(ROLE_ADMIN)));    /* admins act on every job */
    if (v->writes)
      CHECK(!(v->roles & ROLE_BIT(ROLE_AUDITOR))); /* auditors only read */
    if (v->while_stopping)
      CHECK(!v->writes); /* nothing new while stopping */
  }
  /* Spot checks of the matrix people rely on. */
  const verb_spec_t *submit = verbs_find(CLAPPER__VERB__VERB_SUBMIT);
  CHECK_INT(submit->roles, ROLE_BIT(ROLE_SUBMITTER) | ROLE_BIT(ROLE_ADMIN));
  const verb_spec_t *cancel = verbs_find(CLAPPER__VERB__VERB_CANCEL);
  CHECK_INT(cancel->own, ROLE_BIT(ROLE_SUBMITTER));
  CHECK(cancel->writes);
  CHECK_INT(verbs_find(CLAPPER__VERB__VERB_APPROVE)->roles,
            ROLE_BIT(ROLE_SUPERVISOR) | ROLE_BIT(ROLE_ADMIN));
  CHECK_INT(verbs_find(CLAPPER__VERB__VERB_USERS_LIST)->roles, ROLE_BIT(ROLE_ADMIN));
  CHECK(!verbs_find(CLAPPER__VERB__VERB_USERS_LIST)->writes);
  CHECK(verbs_find(CLAPPER__VERB__VERB_PING)->while_stopping);
}

static void test_allowed(void) {
  char err[256];
  size_t n;
  const verb_spec_t *all = verbs_all(&n);
  for (size_t k = 0; k < n; k++)
    for (int role = -1; role < ROLE_COUNT; role++) {
      bool want = role >= 0 && (all[k].roles & ROLE_BIT(role));
      err[0] = '\0';
      CHECK(verbs_allowed(&all[k], role, err, sizeof err) == want);
      if (!want) {
        CHECK_CONTAINS(err, all[k].what);
        CHECK_CONTAINS(err, "role (you are ");
        CHECK(strchr(err, '\n') == NULL);
      }
    }
  CHECK(!verbs_allowed(verbs_find(CLAPPER__VERB__VERB_USERS_ADD), ROLE_SUBMITTER, err, sizeof err));
  CHECK_STR(err, "managing users needs the admin role (you are submitter)");
  CHECK(!verbs_allowed(verbs_find(CLAPPER__VERB__VERB_CANCEL), ROLE_AUDITOR, err, sizeof err));
  CHECK_STR(err, "controlling jobs needs the submitter or operator or admin role (you are "
                 "auditor)");
  CHECK(!verbs_allowed(verbs_find(CLAPPER__VERB__VERB_JOBS), -1, err, sizeof err));
  CHECK_STR(err, "reading jobs needs the submitter or supervisor or operator or auditor or "
                 "admin role (you are not registered)");
}

/* ------------------------------------------------------------ over sockets */

static uv_loop_t loop;
static void *zctx, *router, *dealer;

/* Sends a request with verb from the client socket through the
 * coordinator's request path and returns the reply (caller frees). */
static envelope_t *ask(coord_t *c, int verb) {
  static uint64_t next_id = 1;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.id = next_id++;
  req.verb = (Clapper__Verb)verb;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_REQUEST;
  env.request = &req;
  CHECK(codec_send(dealer, NULL, 0, &env) == 0);
  zmq_pollitem_t in = {router, 0, ZMQ_POLLIN, 0};
  CHECK(zmq_poll(&in, 1, 2000) == 1);
  uint8_t ident[CODEC_MAX_IDENT];
  size_t identlen = 0;
  char user[CODEC_MAX_USER], err[256];
  envelope_t *got = NULL;
  CHECK(codec_recv(router, ident, &identlen, user, CODEC_MAX_CLIENT_MSG, &got, err, sizeof err) ==
        1);
  if (!got)
    return NULL;
  clients_on_message(c, ident, identlen, user, got);
  codec_free(&got);
  zmq_pollitem_t back = {dealer, 0, ZMQ_POLLIN, 0};
  CHECK(zmq_poll(&back, 1, 2000) == 1);
  envelope_t *reply = NULL;
  CHECK(codec_recv(dealer, NULL, NULL, NULL, CODEC_MAX_CLIENT_MSG, &reply, err, sizeof err) == 1);
  CHECK(reply && reply->body_case == CLAPPER__ENVELOPE__BODY_REPLY);
  if (reply && reply->body_case == CLAPPER__ENVELOPE__BODY_REPLY)
    CHECK_INT(reply->reply->id, req.id);
  return reply;
}

static void check_refused(coord_t *c, int verb, const char *code, const char *text) {
  envelope_t *rep = ask(c, verb);
  if (!rep || rep->body_case != CLAPPER__ENVELOPE__BODY_REPLY)
    return;
  CHECK(!rep->reply->ok);
  CHECK_STR(rep->reply->error_code, code);
  CHECK_CONTAINS(rep->reply->error_message, text);
  codec_free(&rep);
}

static void test_over_sockets(void) {
  uv_loop_init(&loop);
  coord_t *c = xcalloc(1, sizeof *c);
  coord_init(c, &loop);
  c->cfg.output_root = "/tmp/clapper-test-verbs";
  zctx = zmq_ctx_new();
  router = zmq_socket(zctx, ZMQ_ROUTER);
  dealer = zmq_socket(zctx, ZMQ_DEALER);
  CHECK(zmq_bind(router, "inproc://verbs") == 0);
  CHECK(zmq_connect(dealer, "inproc://verbs") == 0);
  c->csock = router;

  /* Without keys the caller is an admin: a verb the table has no row
   * for (as one added to the protocol and forgotten here would be) is
   * still refused, and nothing is written. */
  CHECK(store_idle(c));
  check_refused(c, 9999, "forbidden", "verb 9999: this coordinator has no such verb");
  check_refused(c, CLAPPER__VERB__VERB_UNSPECIFIED, "forbidden", "no such verb");
  CHECK(store_idle(c));

  /* A verb with a row is served: whoami from memory. */
  envelope_t *rep = ask(c, CLAPPER__VERB__VERB_WHOAMI);
  if (rep) {
    CHECK(rep->reply->ok);
    json_t *doc = json_loads(rep->reply->json, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(doc, "name")), "anonymous");
    CHECK_STR(json_string_value(json_object_get(doc, "role")), "admin");
    CHECK(json_is_false(json_object_get(doc, "secure")));
    json_decref(doc);
    codec_free(&rep);
  }

  /* Stopping: only rows marked while_stopping are served. */
  c->stopping = true;
  check_refused(c, CLAPPER__VERB__VERB_WHOAMI, "unavailable", "shutting down");
  check_refused(c, CLAPPER__VERB__VERB_SUBMIT, "unavailable", "shutting down");
  rep = ask(c, CLAPPER__VERB__VERB_PING);
  if (rep) {
    CHECK(rep->reply->ok);
    CHECK_CONTAINS(rep->reply->json, "\"version\"");
    codec_free(&rep);
  }
  check_refused(c, 4242, "forbidden", "no such verb");
  CHECK(store_idle(c));

  zmq_close(dealer);
  zmq_close(router);
  zmq_ctx_term(zctx);
  coord_close_timers(c);
  uv_run(&loop, UV_RUN_DEFAULT);
  coord_release(c);
  free(c);
  uv_loop_close(&loop);
}

/* ------------------------------------------------------------ README */

#define MATRIX_BEGIN "<!-- roles: made by tests/unit/test_verbs.c from coordinator/verbs.c -->"
#define MATRIX_END "<!-- roles: end -->"

/* The role matrix the table makes: one line per set of (roles, own),
 * in table order, the verbs as the clapper commands that send them. */
static char *matrix(void) {
  static const role_t cols[] = {ROLE_SUBMITTER, ROLE_SUPERVISOR, ROLE_OPERATOR, ROLE_AUDITOR,
                                ROLE_ADMIN};
  size_t n;
  const verb_spec_t *all = verbs_all(&n);
  sbuf_t b = {0};
  sbuf_puts(&b, "| verbs |");
  for (size_t i = 0; i < ARRAY_SIZE(cols); i++)
    sbuf_printf(&b, " %s |", auth_role_name(cols[i]));
  sbuf_puts(&b, "\n|---|");
  for (size_t i = 0; i < ARRAY_SIZE(cols); i++)
    sbuf_puts(&b, "---|");
  sbuf_putc(&b, '\n');
  bool *done = xcalloc(n, sizeof *done);
  for (size_t k = 0; k < n; k++) {
    if (done[k])
      continue;
    sbuf_putc(&b, '|');
    const char *sep = " ";
    for (size_t m = k; m < n; m++) {
      if (all[m].roles != all[k].roles || all[m].own != all[k].own)
        continue;
      done[m] = true;
      /* cli lists commands separated by ", " */
      char *copy = xstrdup(all[m].cli), *save = NULL;
      for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
          t++;
        sbuf_printf(&b, "%s`%s`", sep, t);
        sep = " ";
      }
      free(copy);
    }
    sbuf_puts(&b, " |");
    for (size_t i = 0; i < ARRAY_SIZE(cols); i++) {
      unsigned bit = ROLE_BIT(cols[i]);
      sbuf_puts(&b, !(all[k].roles & bit) ? " |" : (all[k].own & bit) ? " own jobs |" : " ✓ |");
    }
    sbuf_putc(&b, '\n');
  }
  free(done);
  return sbuf_steal(&b);
}

static void test_readme_matrix(void) {
  const char *src = getenv("CLAPPER_SOURCE_DIR");
  char *path = xasprintf("%s/README.md", src ? src : ".");
  char *text = util_read_file(path, 1 << 20, NULL);
  CHECK(text != NULL);
  char *want = matrix();
  if (text) {
    char *begin = strstr(text, MATRIX_BEGIN), *end = strstr(text, MATRIX_END);
    CHECK(begin && end && begin < end);
    if (begin && end && begin < end) {
      /* The README's lines between the markers, indentation dropped. */
      sbuf_t got = {0};
      char *p = strchr(begin, '\n');
      while (p && p < end) {
        p++;
        char *eol = strchr(p, '\n');
        if (!eol || eol > end)
          break;
        char *q = p;
        while (*q == ' ')
          q++;
        if (q < eol) {
          sbuf_append(&got, q, (size_t)(eol - q));
          sbuf_putc(&got, '\n');
        }
        p = eol;
      }
      if (!got.buf || strcmp(got.buf, want) != 0)
        fprintf(stderr,
                "README.md's role matrix differs from coordinator/verbs.c; it should "
                "read:\n%s",
                want);
      CHECK_STR(got.buf ? got.buf : "", want);
      sbuf_free(&got);
    }
  }
  free(want);
  free(text);
  free(path);
}

int main(void) {
  log_init("test_verbs", LOG_LVL_WARN);
  test_every_verb_has_one_row();
  test_rows();
  test_allowed();
  test_over_sockets();
  test_readme_matrix();
  return check_report("verbs");
}
