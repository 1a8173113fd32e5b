/*
 * cmd_drain.c - `clapper drain|undrain WORKER`: let a worker finish what it
 * runs and take no more work, or take work again.
 *
 * The two verbs share this file: two entries, one exec that reads the
 * request's verb and the human view from the entry.  The worker name
 * is checked locally (an identifier).  Sends Request{VERB_DRAIN or
 * VERB_UNDRAIN, name} and gets {"worker": {...}} back, the worker as one
 * entry of `clapper workers --json` shows it.  The human view is one line:
 *
 *   worker local-1: draining (2 running attempts finish, nothing new starts)
 *   worker local-1: online
 */
#include <string.h>

#include "cmd.h"

static void worker_line(FILE *out, const json_t *doc, bool drain) {
  const json_t *w = json_object_get(doc, "worker");
  sbuf_t line = {0};
  output_fill(&line, w, "worker {name}: {state}");
  const char *state = json_string_value(json_object_get(w, "state"));
  if (drain && state && !strcmp(state, "draining"))
    cmd_running_note(&line, json_integer_value(json_object_get(w, "running")),
                     "attempt finishes, nothing new starts",
                     "attempts finish, nothing new starts", "nothing new starts");
  output_line_done(out, &line);
}

static void print_drain(FILE *out, const json_t *doc) { worker_line(out, doc, true); }
static void print_undrain(FILE *out, const json_t *doc) { worker_line(out, doc, false); }

/* Both verbs: Request{the entry's ask.verb, name = WORKER}, shown with its
 * ask.human. */
static int drain_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  if (!ident_valid(argv[0]))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "invalid worker name '%s': expected " IDENT_PATTERN, argv[0]);
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = ctx->entry->ask.verb;
  req.name = argv[0];
  return cmd_show(ctx, &req, ctx->entry->ask.human);
}

const struct cmd_entry cmd_drain_entry = {
    .name = "drain", .min_args = 1, .max_args = 1, .exec = drain_exec,
    .ask = {.verb = CLAPPER__VERB__VERB_DRAIN, .human = print_drain},
    .usage = "[options] WORKER",
    .help = "let a worker finish its running tasks and take no new ones",
};

const struct cmd_entry cmd_undrain_entry = {
    .name = "undrain", .min_args = 1, .max_args = 1, .exec = drain_exec,
    .ask = {.verb = CLAPPER__VERB__VERB_UNDRAIN, .human = print_undrain},
    .usage = "[options] WORKER",
    .help = "let a drained worker take work again",
};
