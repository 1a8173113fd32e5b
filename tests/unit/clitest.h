/*
 * clitest.h - running the clapper command's verbs in the client's unit
 * tests and checking what they print.
 *
 * A verb runs through cmd_run with memory streams for stdout and stderr;
 * the checks compare its exit status, its output and its one-line error
 * (plus the {"error": ...} document with --json).  Usage cases run a verb
 * with arguments it must refuse before sending anything.  csv_parse reads
 * back the RFC 4180 CSV that cost and audit write.
 */
#ifndef CLAPPER_TEST_CLITEST_H
#define CLAPPER_TEST_CLITEST_H

#include <stdbool.h>
#include <stddef.h>

#include "cmd.h"

/* What one cmd_run printed (both owned; release with run_free). */
typedef struct run {
  int status;
  char *out, *err;
} run_t;

/* Makes the environment the tests expect: no CLAPPER_KEY or
 * CLAPPER_SERVER_KEY from a farm's env file. */
void clitest_init(void);

/* Runs e with argv (argv[0] the verb's name) and returns what it printed. */
run_t run_cmd(const struct cmd_entry *e, int argc, const char *const *argv);

/* Runs e with argv and "--coordinator ENDPOINT" added (at most 14
 * arguments: checked). */
run_t run_at(const struct cmd_entry *e, const char *endpoint, int argc,
             const char *const *argv);

void run_free(run_t *r);

/* The number of '\n' in s (0 for NULL). */
int count_lines(const char *s);

/* Checks that r failed with status, one "clapper: ..." line containing
 * needle on stderr, and (json) an error document with code on stdout
 * (else nothing on stdout). */
void check_error(const run_t *r, int status, const char *needle, bool json, const char *code);

/* Checks that r succeeded with exactly want on stdout and nothing on stderr. */
void check_ok(const run_t *r, const char *want);

/* An argument vector for the two checks below: ARGV("jobs", "--all") is
 * {"jobs", "--all", NULL}. */
#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Runs e with argv (argv[0] the verb's name, NULL after the last) and,
 * unless endpoint is NULL, "--coordinator ENDPOINT" as run_at does; then
 * check_ok(want). */
void check_run_ok(const struct cmd_entry *e, const char *endpoint, const char *const *argv,
                  const char *want);

/* Runs e as check_run_ok does; then check_error(status, needle, json, code). */
void check_run_error(const struct cmd_entry *e, const char *endpoint, const char *const *argv,
                     int status, const char *needle, bool json, const char *code);

/* Removes path and everything below it. */
void rm_rf(const char *path);

/* Runs e as check_run_ok does and checks that it exited with status and,
 * unless err is NULL, printed exactly err on stderr.  Returns what it
 * printed on stdout parsed as JSON (NULL when that is not JSON; the caller
 * owns it). */
json_t *run_json(const struct cmd_entry *e, const char *endpoint, const char *const *argv,
                 int status, const char *err);

/* The coordinator's refusal in every output mode of a verb that has a
 * --csv: runs e with argv, with argv and --csv, and with argv and --json
 * (check_run_error with status 1), the last also checking code. */
void check_run_refused(const struct cmd_entry *e, const char *endpoint, const char *const *argv,
                       const char *needle, const char *code);

/* A usage error found before anything is sent: the verb, its arguments
 * (argv[0] its name, NULL after the last) and what the error line says. */
typedef struct usage_case {
  const struct cmd_entry *e;
  const char *argv[10];
  const char *needle;
} usage_case_t;

/* The number of arguments before the first NULL, at most max. */
int argv_len(const char *const *argv, int max);

/* Runs each usage case with "--coordinator ENDPOINT", without --json
 * (unless the case has it) and with: status 2, the one-line error, the
 * usage document.  Whether anything reached endpoint is the caller's to
 * check. */
void run_usage_cases(const usage_case_t *cases, size_t ncases, const char *endpoint);

/* run_usage_cases against a fake coordinator that must receive nothing,
 * proved with a ping of its own afterwards. */
void check_usage_cases(const usage_case_t *cases, size_t ncases);

/* RFC 4180 text split into records of fields (CRLF line ends, quoted
 * fields with doubled quotes). */
#define CSV_MAX_RECORDS 16
#define CSV_MAX_FIELDS 16
typedef struct csv {
  int nrec;
  int nfields[CSV_MAX_RECORDS];
  char *field[CSV_MAX_RECORDS][CSV_MAX_FIELDS]; /* owned */
  bool ok; /* well formed: every line ends in CRLF, quotes balanced */
} csv_t;

/* Splits s into c (at most CSV_MAX_RECORDS records of CSV_MAX_FIELDS
 * fields); release with csv_free. */
void csv_parse(const char *s, csv_t *c);
void csv_free(csv_t *c);

#endif
