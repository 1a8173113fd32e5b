/*
 * cmd_whoami.c - `clapper whoami`: who the coordinator takes this client
 * for.
 *
 * Sends Request{VERB_WHOAMI} (as --key / CLAPPER_KEY, when given) and gets
 * {"name", "role", "secure"} back: the name and role the coordinator
 * authenticated, and whether it authenticates at all.  Human output, one
 * line:
 *
 *   alice (admin)
 *   anonymous (admin; not authenticated: the coordinator runs without keys)
 */
#include "cmd.h"

static void print_whoami(FILE *out, const json_t *doc) {
  sbuf_t line = {0};
  output_fill(&line, doc, "{name} ({role}");
  if (!json_is_true(json_object_get(doc, "secure")))
    sbuf_puts(&line, "; not authenticated: the coordinator runs without keys");
  sbuf_puts(&line, ")");
  output_line_done(out, &line);
}

const struct cmd_entry cmd_whoami_entry = {
    .name = "whoami", .min_args = 0, .max_args = 0, .exec = cmd_exec_ask,
    .ask = {CLAPPER__VERB__VERB_WHOAMI, NULL, NULL, print_whoami},
    .usage = "[options]",
    .help = "show the name and role the coordinator knows this client by",
};
