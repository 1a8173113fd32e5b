/*
 * cmd.c - picking a verb, parsing its options and reporting its outcome,
 * see cmd.h.
 */
#include "cmd.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "money.h"
#include "rpc.h"

int cmd_fail(cmd_ctx_t *ctx, int status, const char *code, const char *fmt, ...) {
  char msg[sizeof ctx->error.message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cli_error_set(&ctx->error, code, "%s", msg);
  return status;
}

int cmd_parse_id(cmd_ctx_t *ctx, const char *what, const char *arg, uint64_t *id) {
  if (util_parse_u64(arg, 1, (uint64_t)INT64_MAX, id) == 0)
    return 0;
  cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "invalid %s '%s': expected a positive integer",
           what, arg);
  return -1;
}

int cmd_parse_episode(cmd_ctx_t *ctx, const char *pe) {
  const char *slash = strchr(pe, '/');
  if (!slash) {
    cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "invalid episode '%s': expected PROJECT/EPISODE", pe);
    return -1;
  }
  char project[IDENT_MAX + 2] = "";
  size_t plen = (size_t)(slash - pe);
  if (plen < sizeof project) {
    memcpy(project, pe, plen);
    project[plen] = '\0';
  }
  if (plen >= sizeof project || !ident_valid(project)) {
    cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
             "invalid project '%.*s' in '%s': expected " IDENT_PATTERN,
             (int)(plen > 80 ? 80 : plen), pe, pe);
    return -1;
  }
  if (!ident_valid(slash + 1)) {
    cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
             "invalid episode '%s' in '%s': expected " IDENT_PATTERN, slash + 1, pe);
    return -1;
  }
  return 0;
}

int cmd_parse_amount(cmd_ctx_t *ctx, const char *what, const char *arg, int64_t *micros) {
  char why[256];
  if (money_parse(arg, micros, why, sizeof why) == 0)
    return 0;
  cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "%s: %s", what, why);
  return -1;
}

void cmd_print_json(cmd_ctx_t *ctx, const json_t *doc) {
  output_json(ctx->out, doc);
  ctx->printed_doc = true;
}

json_t *cmd_request(cmd_ctx_t *ctx, Clapper__Request *req) {
  rpc_keys_t keys = {.key = ctx->key, .server_key = ctx->server_key};
  return rpc_call_json_as(ctx->coordinator, &keys, req, (int)ctx->timeout_ms, &ctx->error);
}

int cmd_show_doc(cmd_ctx_t *ctx, json_t *doc, void (*human)(FILE *out, const json_t *doc)) {
  if (ctx->json)
    cmd_print_json(ctx, doc);
  else
    human(ctx->out, doc);
  json_decref(doc);
  return CMD_EXIT_OK;
}

int cmd_show(cmd_ctx_t *ctx, Clapper__Request *req, void (*human)(FILE *out, const json_t *doc)) {
  json_t *doc = cmd_request(ctx, req);
  if (!doc)
    return CMD_EXIT_FAIL;
  return cmd_show_doc(ctx, doc, human);
}

int cmd_exec_ask(cmd_ctx_t *ctx, int argc, char **argv) {
  const cmd_ask_t *ask = &ctx->entry->ask;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  uint64_t *ids = NULL;
  int status = CMD_EXIT_USAGE;
  req.verb = ask->verb;
  if (ask->ids && argc > 0) {
    ids = xcalloc((size_t)argc, sizeof *ids);
    for (int i = 0; i < argc; i++)
      if (cmd_parse_id(ctx, ask->ids, argv[i], &ids[i]) < 0)
        goto out;
    req.n_ids = (size_t)argc;
    req.ids = ids;
  }
  if (ask->note && *ask->note)
    req.note = *ask->note;
  status = cmd_show(ctx, &req, ask->human);
out:
  free(ids);
  return status;
}

int cmd_page_request(cmd_ctx_t *ctx, const cmd_page_t *page, Clapper__Request *req) {
  req->limit = (uint32_t)page->limit;
  if (!page->after)
    return 0;
  uint64_t after;
  if (util_parse_u64(page->after, 0, (uint64_t)INT64_MAX, &after) < 0) {
    cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "invalid --after '%s': expected an id (0 or more)",
             page->after);
    return -1;
  }
  req->after = after;
  req->all = after == 0;
  return 0;
}

int cmd_page_request_name(cmd_ctx_t *ctx, const cmd_page_t *page, Clapper__Request *req) {
  req->limit = (uint32_t)page->limit;
  if (!page->after)
    return 0;
  if (!ident_valid(page->after)) {
    cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
             "invalid --after '%s': expected a name, " IDENT_PATTERN, page->after);
    return -1;
  }
  req->after_name = page->after;
  return 0;
}

void cmd_page_hint(FILE *out, const json_t *doc, const char *what) {
  const json_t *next = json_object_get(doc, "next_after");
  if (!json_is_true(json_object_get(doc, "more")))
    return;
  if (json_is_integer(next))
    fprintf(out, "more %s: add --after %" JSON_INTEGER_FORMAT " for the next page\n", what,
            json_integer_value(next));
  else if (json_is_string(next))
    fprintf(out, "more %s: add --after %s for the next page\n", what, json_string_value(next));
  else
    return;
  fflush(out);
}

void cmd_running_note(sbuf_t *line, json_int_t n, const char *one, const char *many,
                      const char *none) {
  if (n > 0)
    sbuf_printf(line, " (%" JSON_INTEGER_FORMAT " running %s)", n, n == 1 ? one : many);
  else if (none)
    sbuf_printf(line, " (%s)", none);
}

json_int_t cmd_task_count(const json_t *job, const char *state) {
  return json_integer_value(json_object_get(json_object_get(job, "tasks"), state));
}

/* True when argv (before any "--") holds the flag --json, so that even a
 * usage error found while parsing is reported as JSON. */
static bool wants_json(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--"))
      break;
    if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "--json=true"))
      return true;
  }
  return false;
}

char *cmd_user_config_path(void) {
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  if (xdg && xdg[0] == '/')
    return xasprintf("%s/clapper/config", xdg);
  if (home && *home)
    return xasprintf("%s/.config/clapper/config", home);
  return NULL;
}

/* Replaces a leading "~/" of *path by $HOME/. */
static void home_path(char **path) {
  const char *home = getenv("HOME");
  if (!*path || strncmp(*path, "~/", 2) != 0 || !home || !*home)
    return;
  char *full = xasprintf("%s/%s", home, *path + 2);
  free(*path);
  *path = full;
}

/* Sets output_color from --color WHEN (see output.h). */
static int set_color(cmd_ctx_t *ctx, const char *when, FILE *out) {
  const char *no_color = getenv("NO_COLOR");
  if (!when || !strcmp(when, "auto"))
    output_color = isatty(fileno(out)) == 1 && !(no_color && *no_color);
  else if (!strcmp(when, "always"))
    output_color = true;
  else if (!strcmp(when, "never"))
    output_color = false;
  else {
    cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "invalid --color '%s': expected auto, always or never",
             when);
    return -1;
  }
  return 0;
}

const cfg_opt_t cmd_common_opts[CMD_NCOMMON] = {
    {"coordinator", 0, CFG_STRING, "CLAPPER_COORDINATOR", CMD_DEFAULT_COORDINATOR, 0, 0,
     "ENDPOINT[,ENDPOINT...]",
     "the coordinator's client endpoint; with several (a leader and its standbys), the "
     "one that leads answers",
     NULL},
    {"key", 0, CFG_STRING, "CLAPPER_KEY", NULL, 0, 0, "FILE",
     "your key pair (NAME.key): talk to the coordinator over CURVE as NAME", NULL},
    {"server-key", 0, CFG_STRING, "CLAPPER_SERVER_KEY", NULL, 0, 0, "FILE",
     "the coordinator's public key (default: coordinator.pub next to --key)", NULL},
    {"json", 0, CFG_BOOL, NULL, "false", 0, 0, NULL, "print one JSON document", NULL},
    {"timeout-ms", 0, CFG_INT, NULL, CMD_DEFAULT_TIMEOUT_MS, 1, 3600000, "MS",
     "how long to wait for each reply of the coordinator", NULL},
    {"color", 0, CFG_STRING, NULL, "auto", 0, 0, "WHEN",
     "colour states: auto (when stdout is a terminal and NO_COLOR is not set), always or never",
     NULL},
    {"config", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE", "read options from FILE", NULL},
};

int cmd_run(const struct cmd_entry *e, int argc, char **argv, FILE *out, FILE *err) {
  cmd_ctx_t ctx = {.entry = e, .out = out, .err = err};
  char *color = NULL;
  cfg_opt_t common[CMD_NCOMMON];
  memcpy(common, cmd_common_opts, sizeof common);
  char *config_path = NULL;
  void *dests[CMD_NCOMMON] = {&ctx.coordinator, &ctx.key,   &ctx.server_key, &ctx.json,
                              &ctx.timeout_ms,  &color,     &config_path};
  for (size_t i = 0; i < CMD_NCOMMON; i++)
    common[i].dest = dests[i];
  size_t nopts = e->nopts + CMD_NCOMMON;
  cfg_opt_t *opts = xcalloc(nopts, sizeof *opts);
  if (e->nopts)
    memcpy(opts, e->opts, e->nopts * sizeof *opts);
  memcpy(opts + e->nopts, common, sizeof common);

  char *prog = xasprintf("clapper %s", e->name);
  char *usage = xasprintf("%s\n\n%s", e->usage, e->help);
  cfg_result_t res = {0};
  char perr[512];
  int status;
  char *user_file = cmd_user_config_path();
  const char *const files[] = {CMD_SYSTEM_CONFIG, user_file ? user_file : "", NULL};
  static const char *const file_keys[] = {"coordinator", "key", "server-key", "timeout-ms",
                                          "color", NULL};
  int prc = config_parse_files(opts, nopts, argc, argv, prog, usage, files, file_keys, &res, perr,
                               sizeof perr);
  free(user_file);
  if (prc == 1) {
    status = CMD_EXIT_OK;
    goto out;
  }
  if (prc < 0) {
    ctx.json = wants_json(argc, argv);
    status = cmd_fail(&ctx, CMD_EXIT_USAGE, "usage", "%s", perr);
    goto out;
  }
  if (res.npos < e->min_args || (e->max_args >= 0 && res.npos > e->max_args)) {
    status = cmd_fail(&ctx, CMD_EXIT_USAGE, "usage",
                      res.npos < e->min_args ? "%s: missing argument (usage: %s %s)"
                                             : "%s: too many arguments (usage: %s %s)",
                      e->name, prog, e->usage);
    goto out;
  }
  if (set_color(&ctx, color, out) < 0) {
    status = CMD_EXIT_USAGE;
    goto out;
  }
  /* A key file named from a config file may start with ~/ (the home). */
  home_path(&ctx.key);
  home_path(&ctx.server_key);
  /* --key= (empty) turns CLAPPER_KEY off for one command. */
  if (ctx.key && !ctx.key[0]) {
    free(ctx.key);
    ctx.key = NULL;
  }
  if (ctx.server_key && !ctx.server_key[0]) {
    free(ctx.server_key);
    ctx.server_key = NULL;
  }
  memset(&ctx.error, 0, sizeof ctx.error);
  /* A non-zero status without an error is a documented outcome, not a
   * failure to report (local status: 3 when nothing runs). */
  status = e->exec(&ctx, res.npos, res.pos);
out:
  if (status != CMD_EXIT_OK && (ctx.error.message[0] || ctx.error.code[0]))
    output_error(out, err, ctx.json && !ctx.printed_doc, &ctx.error);
  fflush(out);
  free(res.pos);
  free(usage);
  free(prog);
  config_free(opts, nopts);
  free(opts);
  return status;
}

static void print_help(FILE *f, const struct cmd_entry *const *table, size_t n) {
  fprintf(f, "usage: clapper VERB [options] [arguments]\n\n"
             "clapper submits and watches render and generation jobs on a clapper farm.\n\n"
             "verbs:\n");
  size_t w = 0;
  for (size_t i = 0; i < n; i++)
    if (strlen(table[i]->name) > w)
      w = strlen(table[i]->name);
  for (size_t i = 0; i < n; i++)
    fprintf(f, "  %-*s  %s\n", (int)w, table[i]->name, table[i]->help);
  fprintf(
      f,
      "\ncommon options (every verb):\n"
      "  --coordinator ENDPOINT[,ENDPOINT...]\n"
      "                          the coordinator's client endpoint "
      "(default " CMD_DEFAULT_COORDINATOR "); with several (a leader and its standbys) the one "
      "that leads answers [env CLAPPER_COORDINATOR]\n"
      "  --key FILE              your key pair (NAME.key, see clapper keygen): talk "
      "over CURVE as NAME [env CLAPPER_KEY]\n"
      "  --server-key FILE       the coordinator's public key (default: coordinator.pub "
      "next to --key) [env CLAPPER_SERVER_KEY]\n"
      "  --json                  print one JSON document (errors too)\n"
      "  --timeout-ms MS         how long to wait for each reply (default " CMD_DEFAULT_TIMEOUT_MS
      ")\n"
      "  --config FILE           read options from FILE\n"
      "  --color WHEN            colour states: auto (on a terminal, unless NO_COLOR is set), "
      "always or never\n"
      "\nSettings come from the command line, then the environment, then --config FILE, then\n"
      "$XDG_CONFIG_HOME/clapper/config (default ~/.config/clapper/config), then\n"
      CMD_SYSTEM_CONFIG ": \"name = value\" lines of coordinator, key, server-key,\n"
      "timeout-ms and color.\n"
      "\n'clapper VERB --help' shows the options of a verb.\n"
      "Exit status: 0 success, 1 failure, 2 usage error (wait: 1 a job failed or was canceled,\n"
      "3 stranded, 124 timed out).\n");
}

static const struct cmd_entry *find_verb(const struct cmd_entry *const *table, size_t n,
                                         const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(table[i]->name, name))
      return table[i];
  return NULL;
}

/* How many arguments from argv[i] on are common options given before the
 * verb ("clapper --json jobs"): --json, or --coordinator, --key,
 * --server-key, --timeout-ms, --config or --color with a value (joined by '=' or as
 * the next argument). */
static int leading_common(int argc, char **argv, int i) {
  static const char *const with_value[] = {"coordinator", "key", "server-key", "timeout-ms",
                                           "config", "color"};
  int start = i;
  while (i < argc && !strncmp(argv[i], "--", 2) && argv[i][2]) {
    const char *a = argv[i] + 2;
    size_t len = strcspn(a, "=");
    if (len == 4 && !strncmp(a, "json", 4)) {
      i++;
      continue;
    }
    bool known = false;
    for (size_t k = 0; k < ARRAY_SIZE(with_value); k++)
      if (strlen(with_value[k]) == len && !strncmp(a, with_value[k], len))
        known = true;
    if (!known)
      break;
    i += a[len] == '=' ? 1 : 2;
  }
  return (i < argc ? i : argc) - start;
}

int cmd_dispatch(const struct cmd_entry *const *table, size_t n, int argc, char **argv) {
  int lead = argc > 1 ? leading_common(argc, argv, 1) : 0;
  if (lead > 0 && 1 + lead < argc && argv[1 + lead][0] != '-') {
    /* Move the verb to the front: clapper VERB <leading options> <rest>. */
    char **moved = xcalloc((size_t)argc + 1, sizeof *moved);
    moved[0] = argv[0];
    moved[1] = argv[1 + lead];
    memcpy(moved + 2, argv + 1, (size_t)lead * sizeof *moved);
    memcpy(moved + 2 + lead, argv + 2 + lead, (size_t)(argc - 2 - lead) * sizeof *moved);
    int status = cmd_dispatch(table, n, argc, moved);
    free(moved);
    return status;
  }
  if (argc < 2) {
    print_help(stderr, table, n);
    return CMD_EXIT_USAGE;
  }
  const char *verb = argv[1];
  if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
    print_help(stdout, table, n);
    return CMD_EXIT_OK;
  }
  if (!strcmp(verb, "__gendoc")) /* the build makes completion and man page with it */
    return argc == 4 ? cmd_gendoc(table, n, argv[2], argv[3]) : CMD_EXIT_USAGE;
  if (!strcmp(verb, "--version")) {
    printf("clapper %s\n", CLAPPER_VERSION);
    return CMD_EXIT_OK;
  }
  if (!strcmp(verb, "help")) {
    if (argc < 3) {
      print_help(stdout, table, n);
      return CMD_EXIT_OK;
    }
    const struct cmd_entry *e = find_verb(table, n, argv[2]);
    if (e) {
      char *hargv[] = {argv[2], "--help", NULL};
      return cmd_run(e, 2, hargv, stdout, stderr);
    }
    verb = argv[2];
  } else {
    const struct cmd_entry *e = find_verb(table, n, verb);
    if (e)
      return cmd_run(e, argc - 1, argv + 1, stdout, stderr);
  }
  cli_error_t err;
  if (verb[0] == '-')
    cli_error_set(&err, "usage", "expected a verb, not the option %s (see clapper --help)",
                  verb);
  else
    cli_error_set(&err, "usage", "unknown verb '%s' (see clapper --help)", verb);
  output_error(stdout, stderr, wants_json(argc, argv), &err);
  return CMD_EXIT_USAGE;
}

void cmd_print_jobs(FILE *out, const json_t *doc, void (*tail)(sbuf_t *line, const json_t *job)) {
  size_t i;
  json_t *job;
  json_array_foreach(json_object_get(doc, "jobs"), i, job) {
    sbuf_t line = {0};
    output_fill(&line, job, "job {job_id} {name}: ");
    tail(&line, job);
    output_line(out, line.buf);
    sbuf_free(&line);
  }
  fflush(out);
}
