/*
 * test_client_cli.c - the clapper command's pure pieces and what it checks
 * before it talks to anyone.
 *
 * Tables, JSON values, CSV fields and progress lines are compared byte for
 * byte; every verb is run through cmd_run with memory streams to check its
 * argument validation and the one-line error (plus the --json error
 * document); submit's local check of the job file must refuse a bad or
 * oversized file without sending anything; and the pieces of `clapper
 * local` (quoting, cmdline matching, running programs, the farm layout)
 * work without a farm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clitest.h"
#include "farm.h"
#include "fakecoord.h"
#include "output.h"
#include "proc.h"

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

/* Colours: only with output_color; the table's columns ignore them; a
 * colour sequence from the data never reaches a cell; output_line keeps
 * ours only while colours are on.  And the ETA of wait. */
static void test_colors(void) {
  out_table_t t;
  sbuf_t sb = {0};
  const char *h[] = {"STATE", "N"};
  for (int on = 0; on < 2; on++) {
    output_color = on;
    table_init(&t, 2, h);
    table_add_state(&t, "succeeded");
    table_add(&t, "1");
    table_add_state(&t, "failed");
    table_add(&t, "\033[31mred");
    table_add_state(&t, "queued");
    table_add(&t, "3");
    table_render(&t, &sb);
    CHECK_STR(sb.buf, on ? "STATE      N\n"
                           "\033[32msucceeded\033[0m  1\n"
                           "\033[31mfailed\033[0m     ?[31mred\n"
                           "queued     3\n"
                         : "STATE      N\n"
                           "succeeded  1\n"
                           "failed     ?[31mred\n"
                           "queued     3\n");
    table_free(&t);
    sbuf_free(&sb);
  }
  output_state(&sb, "running", "busy");
  CHECK_STR(sb.buf, "\033[36mbusy\033[0m");
  sbuf_free(&sb);
  CHECK_INT(output_width("\033[32mok\033[0m"), 2);
  output_color = false;
  output_state(&sb, "running", NULL);
  CHECK_STR(sb.buf, "running");
  sbuf_free(&sb);

  output_eta(&sb, 100.0, 10, 30, 3); /* 10 s a task, 30 left, 3 at once */
  CHECK_STR(sb.buf, ", ETA ~1m40s");
  sbuf_free(&sb);
  output_eta(&sb, 0, 0, 5, 1);
  CHECK_STR(sb.buf, ", ETA: when a task has finished");
  sbuf_free(&sb);
  output_eta(&sb, 10.0, 1, 0, 0);
  CHECK_STR(sb.buf ? sb.buf : "", "");
  sbuf_free(&sb);
  output_duration(&sb, 7325);
  CHECK_STR(sb.buf, "2h02m");
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
      {&cmd_jobs_entry, {"jobs", "-an"}, 2, "option --limit needs a value"},
      {&cmd_jobs_entry, {"jobs", "-az"}, 2, "unknown option -z"},
      {&cmd_jobs_entry, {"jobs", "-n3x"}, 2, "--limit: '3x' is not an integer"},
      {&cmd_jobs_entry, {"jobs", "--lim", "3"}, 3, "unknown option --lim"},
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
      {&cmd_drain_entry, {"drain", "Local 1"}, 2, "invalid worker name 'Local 1'"},
      {&cmd_drain_entry, {"drain"}, 1, "missing argument"},
      {&cmd_drain_entry, {"drain", "a", "b"}, 3, "too many arguments"},
      {&cmd_undrain_entry, {"undrain", "--", "-x-"}, 3, "invalid worker name '-x-'"},
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
      {&cmd_episode_entry, {"episode", "weight", "Hod!/e1", "3"}, 4, "invalid project 'Hod!'"},
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
  check_run_error(&cmd_job_entry, NULL, ARGV("job", "12x", "--json"), 2, "invalid job id '12x'",
                  true, "usage");
  check_run_error(&cmd_logs_entry, NULL, ARGV("logs", "5", "--follow", "--json"), 2,
                  "cannot be combined with --follow", true, "usage");
  check_run_error(&cmd_episode_entry, NULL, ARGV("episode", "weight", "hod/e1", "x", "--json"), 2,
                  "invalid weight 'x'", true, "usage");
  check_run_error(&cmd_jobs_entry, NULL, ARGV("jobs", "--json", "--frob"), 2,
                  "unknown option --frob", true, "usage");

  /* --help is not an error (config_parse prints it on the real stdout). */
  const char *argv3[] = {"wait", "--help"};
  run_t r = run_cmd(&cmd_wait_entry, 2, argv3);
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
  check_run_error(&cmd_submit_entry, NULL,
                  ARGV("submit", bad, "--coordinator", fk.endpoint, "--json"), 1, "jobs[0]", true,
                  "invalid_job");
  check_run_error(&cmd_submit_entry, NULL, ARGV("submit", big, "--coordinator", fk.endpoint), 1,
                  "16 MiB", false, NULL);
  check_run_error(&cmd_submit_entry, NULL,
                  ARGV("submit", "/nonexistent/job.json", "--coordinator", fk.endpoint), 1,
                  "cannot read /nonexistent/job.json", false, NULL);
  fake_stop(&fk);
  CHECK_INT(fk.served, 0);

  /* --no-local-check leaves the verdict to the coordinator. */
  fake_t fc = {.nreq = 1, .error_code = "invalid_job", .error_message = "jobs[0].name: bad"};
  fake_start(&fc);
  check_run_error(&cmd_submit_entry, NULL,
                  ARGV("submit", "--no-local-check", bad, "--coordinator", fc.endpoint), 1,
                  "jobs[0].name: bad", false, NULL);
  fake_stop(&fc);
  CHECK_INT(fc.served, 1);
  CHECK_INT(fc.verb[0], CLAPPER__VERB__VERB_SUBMIT);
  rm_rf(dir);
  free(bad);
  free(big);
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

int main(void) {
  clitest_init();
  test_table();
  test_colors();
  test_values();
  test_arguments();
  test_submit_local_checks();
  test_local_pieces();
  return check_report("test_client_cli");
}
