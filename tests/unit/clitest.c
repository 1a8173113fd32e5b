/*
 * clitest.c - running verbs and checking their output in the client's unit
 * tests, see clitest.h.
 */
#include "clitest.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "fakecoord.h"
#include "rpc.h"

void clitest_init(void) {
  unsetenv("CLAPPER_KEY");
  unsetenv("CLAPPER_SERVER_KEY");
}

run_t run_cmd(const struct cmd_entry *e, int argc, const char *const *argv) {
  run_t r = {0};
  size_t olen = 0, elen = 0;
  FILE *out = open_memstream(&r.out, &olen);
  FILE *err = open_memstream(&r.err, &elen);
  r.status = cmd_run(e, argc, (char **)argv, out, err);
  fclose(out);
  fclose(err);
  return r;
}

void run_free(run_t *r) {
  free(r->out);
  free(r->err);
}

int count_lines(const char *s) {
  int n = 0;
  for (; s && *s; s++)
    n += *s == '\n';
  return n;
}

void check_error(const run_t *r, int status, const char *needle, bool json, const char *code) {
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

void rm_rf(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

run_t run_at(const struct cmd_entry *e, const char *endpoint, int argc,
             const char *const *argv) {
  const char *full[16];
  CHECK(argc + 2 <= (int)ARRAY_SIZE(full));
  for (int i = 0; i < argc; i++)
    full[i] = argv[i];
  full[argc] = "--coordinator";
  full[argc + 1] = endpoint;
  return run_cmd(e, argc + 2, full);
}

void check_ok(const run_t *r, const char *want) {
  CHECK_INT(r->status, 0);
  CHECK_STR(r->out, want);
  CHECK_STR(r->err, "");
}

int argv_len(const char *const *argv, int max) {
  int n = 0;
  while (n < max && argv[n])
    n++;
  return n;
}

/* Runs e with argv and, unless endpoint is NULL, --coordinator endpoint. */
static run_t run_argv(const struct cmd_entry *e, const char *endpoint, const char *const *argv) {
  int argc = argv_len(argv, 16);
  return endpoint ? run_at(e, endpoint, argc, argv) : run_cmd(e, argc, argv);
}

void check_run_ok(const struct cmd_entry *e, const char *endpoint, const char *const *argv,
                  const char *want) {
  run_t r = run_argv(e, endpoint, argv);
  check_ok(&r, want);
  run_free(&r);
}

void check_run_error(const struct cmd_entry *e, const char *endpoint, const char *const *argv,
                     int status, const char *needle, bool json, const char *code) {
  run_t r = run_argv(e, endpoint, argv);
  check_error(&r, status, needle, json, code);
  run_free(&r);
}

json_t *run_json(const struct cmd_entry *e, const char *endpoint, const char *const *argv,
                 int status, const char *err) {
  run_t r = run_argv(e, endpoint, argv);
  CHECK_INT(r.status, status);
  if (err)
    CHECK_STR(r.err, err);
  json_t *doc = json_loads(r.out, 0, NULL);
  run_free(&r);
  return doc;
}

void check_run_refused(const struct cmd_entry *e, const char *endpoint, const char *const *argv,
                       const char *needle, const char *code) {
  const char *more[16];
  int n = argv_len(argv, (int)ARRAY_SIZE(more) - 2);
  memcpy(more, argv, (size_t)n * sizeof *more);
  more[n + 1] = NULL;
  check_run_error(e, endpoint, argv, 1, needle, false, NULL);
  more[n] = "--csv";
  check_run_error(e, endpoint, more, 1, needle, false, NULL);
  more[n] = "--json";
  check_run_error(e, endpoint, more, 1, needle, true, code);
}

void run_usage_cases(const usage_case_t *cases, size_t ncases, const char *endpoint) {
  for (size_t i = 0; i < ncases; i++) {
    int n = argv_len(cases[i].argv, (int)ARRAY_SIZE(cases[i].argv) - 1);
    const char *full[ARRAY_SIZE(cases[i].argv) + 3];
    memcpy(full, cases[i].argv, (size_t)n * sizeof *full);
    full[n] = "--coordinator";
    full[n + 1] = endpoint;
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
}

void check_usage_cases(const usage_case_t *cases, size_t ncases) {
  fake_t fk = {.nreq = 1, .jsons = (const char *const[]){"{}"}, .njsons = 1};
  fake_start(&fk);
  run_usage_cases(cases, ncases, fk.endpoint);
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

void csv_parse(const char *s, csv_t *c) {
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

void csv_free(csv_t *c) {
  for (int r = 0; r < c->nrec; r++)
    for (int f = 0; f < c->nfields[r]; f++)
      free(c->field[r][f]);
}
