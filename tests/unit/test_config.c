/*
 * test_config.c - settings from one table: precedence default < --config
 * file < environment < command line for strings, integers, booleans and
 * lists (a higher source replaces a lower one's list; repeated flags and
 * file lines accumulate), the --name=value, --name value and -x forms,
 * positional arguments anywhere and after "--", one-line errors naming the
 * flag, variable or file:line, the generated --help and --version,
 * getopt_long's conventions (clustered short options -vn2, -l150, "--",
 * negative numbers as values), the default files of config_parse_files
 * (system < user < --config < environment < command line), and
 * config_free releasing everything (ASan checks for leaks).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "util.h"

static char dir[] = "/tmp/clapper-test-config-XXXXXX";

static char *config_path, *name;
static long long lease, offset;
static bool verbose, color;
static cfg_list_t coord, tags;

static const cfg_opt_t opts[] = {
    {"config", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE", "read settings from FILE",
     &config_path},
    {"name", 'n', CFG_STRING, "CLAPPER_TEST_NAME", "anon", 0, 0, "NAME", "who we are", &name},
    {"lease-ms", 'l', CFG_INT, "CLAPPER_TEST_LEASE", "10000", 100, 600000, "MS",
     "lease length", &lease},
    {"verbose", 'v', CFG_BOOL, "CLAPPER_TEST_VERBOSE", "false", 0, 0, NULL, "say more",
     &verbose},
    {"color", 0, CFG_BOOL, NULL, NULL, 0, 0, NULL, "paint", &color},
    {"coordinator", 'c', CFG_LIST, "CLAPPER_TEST_COORD", "tcp://default:1", 0, 0, "ENDPOINT",
     "where to connect", &coord},
    {"tags", 0, CFG_LIST, NULL, NULL, 0, 0, "TAG", "worker tags", &tags},
    {"offset", 0, CFG_INT, NULL, NULL, -5, 5, NULL, "a signed number", &offset},
};

static const char *const env_names[] = {"CLAPPER_TEST_NAME", "CLAPPER_TEST_LEASE",
                                        "CLAPPER_TEST_VERBOSE", "CLAPPER_TEST_COORD"};

static cfg_result_t res;
static char err[512];

/* Parses the NULL-terminated arguments after "prog", starting from a clean
 * table; returns config_parse's result. */
static int parse(const char *first, ...) {
  config_free(opts, ARRAY_SIZE(opts));
  free(res.pos);
  memset(&res, 0, sizeof res);
  lease = -1;
  offset = 77;
  verbose = color = false;
  char *argv[64];
  int argc = 0;
  argv[argc++] = "prog";
  va_list ap;
  va_start(ap, first);
  for (const char *a = first; a && argc < 63; a = va_arg(ap, const char *))
    argv[argc++] = (char *)a;
  va_end(ap);
  argv[argc] = NULL;
  strcpy(err, "");
  return config_parse(opts, ARRAY_SIZE(opts), argc, argv, "prog", "[options] FILE...", &res,
                      err, sizeof err);
}

static void check_list(const cfg_list_t *l, size_t n, ...) {
  CHECK_INT(l->n, n);
  va_list ap;
  va_start(ap, n);
  for (size_t i = 0; i < n; i++) {
    const char *want = va_arg(ap, const char *);
    if (i < l->n)
      CHECK_STR(l->items[i], want);
  }
  va_end(ap);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  if (fd < 0)
    return;
  CHECK_INT(util_write_all(fd, text, strlen(text)), 0);
  close(fd);
}

/* A failed parse: -1, one line containing every needle, nothing returned. */
static void check_error(int rc, const char *n1, const char *n2) {
  CHECK_INT(rc, -1);
  CHECK(err[0] != '\0');
  CHECK(strchr(err, '\n') == NULL);
  CHECK_CONTAINS(err, n1);
  if (n2)
    CHECK_CONTAINS(err, n2);
  CHECK(res.pos == NULL);
  CHECK_INT(res.npos, 0);
}

static void clear_env(void) {
  for (size_t i = 0; i < ARRAY_SIZE(env_names); i++)
    unsetenv(env_names[i]);
}

static void test_precedence(void) {
  char file[256], opt[300];
  snprintf(file, sizeof file, "%s/settings.conf", dir);
  write_file(file, "# settings\n"
                   "\n"
                   "  name = from-file   # trailing comment\n"
                   "lease-ms=2000\r\n"
                   "verbose = yes\n"
                   "coordinator = tcp://f1:1\n"
                   "\tcoordinator\t=\ttcp://f2:2\n"
                   "tags = gpu\n"
                   "offset = -3\n");

  /* Defaults only. */
  clear_env();
  CHECK_INT(parse(NULL), 0);
  CHECK_STR(name, "anon");
  CHECK_INT(lease, 10000);
  CHECK(!verbose);
  check_list(&coord, 1, "tcp://default:1");
  check_list(&tags, 0);
  CHECK_INT(offset, 77); /* no default: untouched */
  CHECK_INT(res.npos, 0);

  /* The file beats the defaults; repeated lines of a list accumulate and
   * replace the default list. */
  CHECK_INT(parse("--config", file, NULL), 0);
  CHECK_STR(name, "from-file");
  CHECK_INT(lease, 2000);
  CHECK(verbose);
  check_list(&coord, 2, "tcp://f1:1", "tcp://f2:2");
  check_list(&tags, 1, "gpu");
  CHECK_INT(offset, -3);
  CHECK_INT(res.npos, 0); /* the file name is not positional */
  snprintf(opt, sizeof opt, "--config=%s", file);
  CHECK_INT(parse(opt, NULL), 0);
  CHECK_STR(name, "from-file");
  check_list(&coord, 2, "tcp://f1:1", "tcp://f2:2");

  /* The environment beats the file; its list replaces the file's. */
  setenv("CLAPPER_TEST_NAME", "from-env", 1);
  setenv("CLAPPER_TEST_LEASE", "3000", 1);
  setenv("CLAPPER_TEST_VERBOSE", "0", 1);
  setenv("CLAPPER_TEST_COORD", "tcp://e1:1", 1);
  CHECK_INT(parse("--config", file, NULL), 0);
  CHECK_STR(name, "from-env");
  CHECK_INT(lease, 3000);
  CHECK(!verbose);
  check_list(&coord, 1, "tcp://e1:1");
  check_list(&tags, 1, "gpu"); /* no variable: the file's value stays */

  /* The command line beats everything, wherever --config stands; repeated
   * list flags accumulate and replace the environment's list. */
  CHECK_INT(parse("--name=from-cli", "-c", "tcp://c1:1", "--lease-ms", "4000", "-v",
                  "--coordinator=tcp://c2:2", "--config", file, "--tags", "cpu", NULL),
            0);
  CHECK_STR(name, "from-cli");
  CHECK_INT(lease, 4000);
  CHECK(verbose);
  check_list(&coord, 2, "tcp://c1:1", "tcp://c2:2");
  check_list(&tags, 1, "cpu");
  CHECK_INT(res.npos, 0);

  /* A boolean cleared on the command line against a true environment. */
  setenv("CLAPPER_TEST_VERBOSE", "on", 1);
  CHECK_INT(parse(NULL), 0);
  CHECK(verbose);
  CHECK_INT(parse("--verbose=false", NULL), 0);
  CHECK(!verbose);
  CHECK_INT(parse("--verbose=no", "--color", NULL), 0);
  CHECK(!verbose && color);
  CHECK_INT(parse("--color=off", "--color=1", NULL), 0); /* the last one wins */
  CHECK(color);

  /* An empty variable counts as unset. */
  setenv("CLAPPER_TEST_NAME", "", 1);
  setenv("CLAPPER_TEST_COORD", "", 1);
  CHECK_INT(parse("--config", file, NULL), 0);
  CHECK_STR(name, "from-file");
  check_list(&coord, 2, "tcp://f1:1", "tcp://f2:2");
  clear_env();

  /* Short forms, the last of a repeated scalar wins, a list value is
   * taken whole (no comma splitting). */
  CHECK_INT(parse("-n", "a", "-n", "b", "-l", "150", "-c", "x,y", "--offset", "-5", NULL), 0);
  CHECK_STR(name, "b");
  CHECK_INT(lease, 150);
  check_list(&coord, 1, "x,y");
  CHECK_INT(offset, -5); /* a negative number is a value, not a flag */
  CHECK_INT(parse("--offset=5", "--lease-ms=600000", "--name=", NULL), 0);
  CHECK_INT(offset, 5);
  CHECK_INT(lease, 600000);
  CHECK_STR(name, ""); /* an explicit empty value */
  CHECK_INT(parse("--name=a=b", NULL), 0);
  CHECK_STR(name, "a=b"); /* only the first '=' separates */

  /* Two config files: the later one wins for scalars, lists accumulate. */
  char file2[256];
  snprintf(file2, sizeof file2, "%s/second.conf", dir);
  write_file(file2, "name = second\ncoordinator = tcp://s:1\n");
  CHECK_INT(parse("--config", file, "--config", file2, NULL), 0);
  CHECK_STR(name, "second");
  check_list(&coord, 3, "tcp://f1:1", "tcp://f2:2", "tcp://s:1");
}

static void test_positional(void) {
  clear_env();
  CHECK_INT(parse("in1", "--name", "x", "in2", "-v", "-", "-7", "in3", NULL), 0);
  CHECK_INT(res.npos, 5);
  if (res.npos == 5) {
    CHECK_STR(res.pos[0], "in1");
    CHECK_STR(res.pos[1], "in2");
    CHECK_STR(res.pos[2], "-"); /* stdin, by convention */
    CHECK_STR(res.pos[3], "-7");
    CHECK_STR(res.pos[4], "in3");
  }
  CHECK_STR(name, "x");
  CHECK(verbose);

  /* Everything after "--" is positional, even flags and --config. */
  CHECK_INT(parse("a", "--", "--lease-ms", "5", "-v", "--config", "/nonexistent", "--",
                  "--bogus", NULL),
            0);
  CHECK_INT(res.npos, 8);
  const char *want[] = {"a", "--lease-ms", "5", "-v", "--config", "/nonexistent", "--",
                        "--bogus"};
  for (int i = 0; i < res.npos && i < 8; i++)
    CHECK_STR(res.pos[i], want[i]);
  CHECK_INT(lease, 10000);
  CHECK(!verbose);
  CHECK(res.pos && res.pos[res.npos] == NULL);

  CHECK_INT(parse("--", NULL), 0);
  CHECK_INT(res.npos, 0);
}

static void test_errors(void) {
  clear_env();
  char file[256];
  snprintf(file, sizeof file, "%s/bad.conf", dir);

  check_error(parse("--bogus", NULL), "--bogus", "prog --help");
  check_error(parse("--bogus=1", NULL), "--bogus", NULL);
  CHECK(strstr(err, "=1") == NULL);
  check_error(parse("-z", NULL), "-z", NULL);
  check_error(parse("in", "--name", NULL), "--name", "needs a value");
  check_error(parse("-n", NULL), "--name", "needs a value");
  check_error(parse("-c", NULL), "--coordinator", "needs a value");
  check_error(parse("--config", NULL), "--config", "needs a value");

  check_error(parse("--lease-ms=12abc", NULL), "--lease-ms", "'12abc' is not an integer");
  check_error(parse("--lease-ms", "", NULL), "--lease-ms", "not an integer");
  check_error(parse("--lease-ms", "1.5", NULL), "--lease-ms", "not an integer");
  check_error(parse("--lease-ms", "99999999999999999999", NULL), "--lease-ms",
              "not an integer");
  check_error(parse("--lease-ms=99", NULL), "--lease-ms", "99 is out of range [100, 600000]");
  check_error(parse("-l", "600001", NULL), "--lease-ms", "out of range");
  check_error(parse("--offset=-6", NULL), "--offset", "out of range [-5, 5]");

  check_error(parse("--verbose=maybe", NULL), "--verbose", "'maybe' is not a boolean");
  check_error(parse("--verbose=", NULL), "--verbose", "not a boolean");
  check_error(parse("--verbose=TRUE", NULL), "--verbose", "not a boolean");

  setenv("CLAPPER_TEST_LEASE", "soon", 1);
  check_error(parse(NULL), "environment CLAPPER_TEST_LEASE", "'soon' is not an integer");
  setenv("CLAPPER_TEST_LEASE", "50", 1);
  check_error(parse(NULL), "CLAPPER_TEST_LEASE", "out of range");
  /* The command line would win, but a bad variable is still an error. */
  check_error(parse("--lease-ms=500", NULL), "CLAPPER_TEST_LEASE", NULL);
  unsetenv("CLAPPER_TEST_LEASE");
  setenv("CLAPPER_TEST_VERBOSE", "sometimes", 1);
  check_error(parse(NULL), "CLAPPER_TEST_VERBOSE", "not a boolean");
  unsetenv("CLAPPER_TEST_VERBOSE");

  char where[300];
  write_file(file, "# fine\nname = x\n\nbogus = 1\n");
  check_error(parse("--config", file, NULL), "unknown setting 'bogus'", NULL);
  snprintf(where, sizeof where, "%s:4:", file);
  CHECK_CONTAINS(err, where);

  write_file(file, "name = x\njust a line\n");
  check_error(parse("--config", file, NULL), "expected 'name = value'", NULL);
  snprintf(where, sizeof where, "%s:2:", file);
  CHECK_CONTAINS(err, where);

  write_file(file, "lease-ms = 5\n");
  check_error(parse("--config", file, NULL), "out of range", NULL);
  snprintf(where, sizeof where, "%s:1: lease-ms", file);
  CHECK_CONTAINS(err, where);

  write_file(file, "verbose = perhaps\n");
  check_error(parse("--config", file, NULL), "not a boolean", NULL);
  snprintf(where, sizeof where, "%s:1: verbose", file);
  CHECK_CONTAINS(err, where);

  write_file(file, "config = /etc/other.conf\n"); /* no nesting */
  check_error(parse("--config", file, NULL), "unknown setting 'config'", NULL);

  snprintf(where, sizeof where, "%s/missing.conf", dir);
  check_error(parse("--config", where, NULL), "--config", where);
  CHECK_CONTAINS(err, "No such file");

  /* A file that is too large to be a config file. */
  char *big = xmalloc((1 << 20) + 2);
  memset(big, '#', (1 << 20) + 1);
  big[(1 << 20) + 1] = '\0';
  write_file(file, big);
  free(big);
  check_error(parse("--config", file, NULL), "--config", file);
}

/* Runs parse with stdout redirected to a file and returns what it printed. */
static char *capture(int *rc, const char *a1, const char *a2) {
  char path[256];
  snprintf(path, sizeof path, "%s/stdout", dir);
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(saved >= 0 && fd >= 0);
  dup2(fd, STDOUT_FILENO);
  close(fd);
  *rc = parse(a1, a2, NULL);
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  char *text = util_read_file(path, 1 << 20, NULL);
  CHECK(text != NULL);
  return text;
}

/* Some line of text starts (after indentation) with flag followed by a
 * space or its end, and contains what. */
static void check_line(const char *text, const char *flag, const char *what) {
  size_t fl = strlen(flag);
  for (const char *p = text; *p;) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)n, p);
    const char *s = line + strspn(line, " ");
    if (!strncmp(s, flag, fl) && (s[fl] == ' ' || s[fl] == '\0')) {
      CHECK_CONTAINS(line, what);
      return;
    }
    p += n + (eol != NULL);
  }
  fprintf(stderr, "help has no line for %s\n", flag);
  CHECK(!"help line missing");
}

static void test_help(void) {
  clear_env();
  int rc;
  char *text = capture(&rc, "--help", NULL);
  CHECK_INT(rc, 1);
  CHECK(res.pos == NULL);
  CHECK_CONTAINS(text, "usage: prog [options] FILE...");
  check_line(text, "--config FILE", "read settings from FILE");
  check_line(text, "-n, --name NAME", "who we are");
  check_line(text, "-n, --name NAME", "(default anon)");
  check_line(text, "-n, --name NAME", "[env CLAPPER_TEST_NAME]");
  check_line(text, "-l, --lease-ms MS", "lease length");
  check_line(text, "-l, --lease-ms MS", "(default 10000)");
  check_line(text, "-l, --lease-ms MS", "[env CLAPPER_TEST_LEASE]");
  check_line(text, "-v, --verbose", "say more");
  check_line(text, "-v, --verbose", "[env CLAPPER_TEST_VERBOSE]");
  check_line(text, "--color", "paint");
  check_line(text, "-c, --coordinator ENDPOINT", "(default tcp://default:1)");
  check_line(text, "-c, --coordinator ENDPOINT", "[env CLAPPER_TEST_COORD]");
  check_line(text, "-c, --coordinator ENDPOINT", "(repeatable)");
  check_line(text, "--tags TAG", "(repeatable)");
  check_line(text, "--offset VALUE", "a signed number"); /* no metavar: VALUE */
  check_line(text, "-h, --help", "show this help");
  check_line(text, "--version", "show the version");
  /* One line per option (plus usage, blank, "options:", help, version). */
  int lines = 0;
  for (const char *p = text; *p; p++)
    lines += *p == '\n';
  CHECK_INT(lines, 3 + (int)ARRAY_SIZE(opts) + 2);
  free(text);

  /* -h, and --help after other flags and arguments, also before a bad one. */
  text = capture(&rc, "in", "-h");
  CHECK_INT(rc, 1);
  CHECK_CONTAINS(text, "usage: prog");
  free(text);
  text = capture(&rc, "--help", "--bogus");
  CHECK_INT(rc, 1);
  free(text);

  text = capture(&rc, "--version", NULL);
  CHECK_INT(rc, 1);
  CHECK(res.pos == NULL);
  CHECK(!strncmp(text, "prog ", 5));
#ifdef CLAPPER_VERSION
  char want[128];
  snprintf(want, sizeof want, "prog %s\n", CLAPPER_VERSION);
  CHECK_STR(text, want);
#endif
  free(text);

  /* config_help on its own, with no usage line given. */
  char path[256];
  snprintf(path, sizeof path, "%s/help", dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) {
    config_help(f, "tool", NULL, opts, 2);
    fclose(f);
    text = util_read_file(path, 1 << 16, NULL);
    CHECK_CONTAINS(text, "usage: tool [options]\n");
    CHECK_CONTAINS(text, "--name NAME");
    CHECK(text && strstr(text, "--lease-ms") == NULL);
    free(text);
  }
}

/* getopt_long's conventions: clustered short options, a short option's
 * value joined to it, --opt=val, "--", bare booleans, and the refusals. */
static void test_getopt(void) {
  clear_env();
  /* -vn2: -v, then -n with the value "2" (the rest of the cluster). */
  CHECK_INT(parse("-vn2", NULL), 0);
  CHECK(verbose);
  CHECK_STR(name, "2");
  CHECK_INT(parse("-l150", "-nbob", NULL), 0);
  CHECK_INT(lease, 150);
  CHECK_STR(name, "bob");
  /* A cluster whose last option takes the next argument. */
  CHECK_INT(parse("-vl", "200", "in", NULL), 0);
  CHECK(verbose);
  CHECK_INT(lease, 200);
  CHECK_INT(res.npos, 1);
  CHECK_INT(parse("--lease-ms=300", "--name=x", "--verbose=false", NULL), 0);
  CHECK_INT(lease, 300);
  CHECK(!verbose);
  /* "--" ends the options; positionals keep their order around options. */
  CHECK_INT(parse("a", "-v", "b", "--", "-vn2", "--name=z", NULL), 0);
  CHECK_INT(res.npos, 4);
  if (res.npos == 4) {
    CHECK_STR(res.pos[0], "a");
    CHECK_STR(res.pos[1], "b");
    CHECK_STR(res.pos[2], "-vn2");
    CHECK_STR(res.pos[3], "--name=z");
  }
  CHECK_STR(name, "anon");
  /* A negative number is a value or an argument, even joined to nothing. */
  CHECK_INT(parse("-n", "-3", "-12", NULL), 0);
  CHECK_STR(name, "-3");
  CHECK_INT(res.npos, 1);
  /* Refusals: one line naming the option. */
  check_error(parse("-vz", NULL), "unknown option -z", "prog --help");
  check_error(parse("-vn", NULL), "--name", "needs a value");
  check_error(parse("--lease", "5", NULL), "unknown option --lease", NULL); /* no prefixes */
  check_error(parse("--co=x", NULL), "unknown option --co", NULL);
  check_error(parse("--help=yes", NULL), "--help", "takes no value");
  check_error(parse("-l", "abc", NULL), "--lease-ms", "not an integer");
  check_error(parse("-l15x", NULL), "--lease-ms", "'15x' is not an integer");
}

/* Default files: the system's below the user's below --config. */
static void test_files(void) {
  clear_env();
  char sys[256], user[256], cfg[256];
  snprintf(sys, sizeof sys, "%s/system.conf", dir);
  snprintf(user, sizeof user, "%s/user.conf", dir);
  snprintf(cfg, sizeof cfg, "%s/explicit.conf", dir);
  write_file(sys, "name = sys\nlease-ms = 1000\ncoordinator = tcp://sys:1\nverbose = on\n");
  write_file(user, "name = user\ncoordinator = tcp://user:1\n");
  write_file(cfg, "name = explicit\n");
  const char *const files[] = {sys, user, NULL};
  char *argv[] = {"prog", "--config", cfg, NULL};
  for (int with_cfg = 0; with_cfg < 2; with_cfg++) {
    config_free(opts, ARRAY_SIZE(opts));
    free(res.pos);
    memset(&res, 0, sizeof res);
    CHECK_INT(config_parse_files(opts, ARRAY_SIZE(opts), with_cfg ? 3 : 1, argv, "prog", NULL,
                                 files, NULL, &res, err, sizeof err),
              0);
    CHECK_STR(name, with_cfg ? "explicit" : "user");
    CHECK_INT(lease, 1000); /* only the system file says */
    CHECK(verbose);
    check_list(&coord, 1, "tcp://user:1"); /* the user's list replaces the system's */
  }
  /* A missing default file is skipped; a bad one is an error naming it. */
  const char *const missing[] = {"/nonexistent/clapper.conf", user, NULL};
  config_free(opts, ARRAY_SIZE(opts));
  free(res.pos);
  memset(&res, 0, sizeof res);
  CHECK_INT(config_parse_files(opts, ARRAY_SIZE(opts), 1, argv, "prog", NULL, missing, NULL,
                               &res, err, sizeof err),
            0);
  CHECK_STR(name, "user");
  write_file(user, "bogus = 1\n");
  config_free(opts, ARRAY_SIZE(opts));
  free(res.pos);
  memset(&res, 0, sizeof res);
  CHECK_INT(config_parse_files(opts, ARRAY_SIZE(opts), 1, argv, "prog", NULL, files, NULL, &res,
                               err, sizeof err),
            -1);
  CHECK_CONTAINS(err, user);
  CHECK_CONTAINS(err, "unknown setting 'bogus'");
  /* The environment and the command line beat every file. */
  write_file(user, "name = user\n");
  setenv("CLAPPER_TEST_NAME", "env", 1);
  config_free(opts, ARRAY_SIZE(opts));
  free(res.pos);
  memset(&res, 0, sizeof res);
  CHECK_INT(config_parse_files(opts, ARRAY_SIZE(opts), 3, argv, "prog", NULL, files, NULL, &res,
                               err, sizeof err),
            0);
  CHECK_STR(name, "env");
  char *argv2[] = {"prog", "-ncli", NULL};
  config_free(opts, ARRAY_SIZE(opts));
  free(res.pos);
  memset(&res, 0, sizeof res);
  CHECK_INT(config_parse_files(opts, ARRAY_SIZE(opts), 2, argv2, "prog", NULL, files, NULL,
                               &res, err, sizeof err),
            0);
  CHECK_STR(name, "cli");
  /* file_keys: the default files may hold only the settings it names. */
  const char *const only_name[] = {"name", NULL};
  write_file(user, "name = user\nlease-ms = 2000\n");
  config_free(opts, ARRAY_SIZE(opts));
  free(res.pos);
  memset(&res, 0, sizeof res);
  CHECK_INT(config_parse_files(opts, ARRAY_SIZE(opts), 1, argv2, "prog", NULL, files, only_name,
                               &res, err, sizeof err),
            -1);
  CHECK_CONTAINS(err, "unknown setting 'lease-ms'");
  clear_env();
}

static void test_free(void) {
  clear_env();
  CHECK_INT(parse("-n", "x", "-c", "a", "-c", "b", "--tags", "t", "in", NULL), 0);
  config_free(opts, ARRAY_SIZE(opts));
  CHECK(name == NULL);
  CHECK(coord.items == NULL && coord.n == 0);
  CHECK(tags.items == NULL && tags.n == 0);
  config_free(opts, ARRAY_SIZE(opts)); /* twice is harmless */
  /* Values set before a failure are released by config_free too (ASan
   * reports a leak otherwise). */
  CHECK_INT(parse("-n", "y", "-c", "a", "--lease-ms=x", NULL), -1);
  config_free(opts, ARRAY_SIZE(opts));
  CHECK(name == NULL && coord.n == 0);
  free(res.pos);
  res.pos = NULL;
}

int main(void) {
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_precedence();
  test_positional();
  test_errors();
  test_help();
  test_getopt();
  test_files();
  test_free();
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK_INT(system(cmd), 0);
  return check_report("config");
}
