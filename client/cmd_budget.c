/*
 * cmd_budget.c - `clapper budget set PROJECT/EPISODE AMOUNT` and
 * `clapper budget show PROJECT/EPISODE`: an episode's budget (when spent +
 * running would pass it, the episode's tasks that have not started are
 * held; raising it releases them).
 *
 * PROJECT/EPISODE must be two identifiers and AMOUNT an amount money_parse
 * accepts; anything else is a usage error naming the bad part.  set sends
 * Request{VERB_BUDGET_SET, name = "p/e", amount as written}, show
 * Request{VERB_BUDGET_SHOW, name}; both get {"episode", "currency",
 * "budget" (null: none), "spent", "running", "left" (null: no budget),
 * "held"} back, amounts as decimal strings, shown as one line:
 *
 *   episode hod/e1: budget 100.000000 USD, spent 12.300000, running 0.500000, left 87.200000
 *   episode hod/e1: no budget, spent 12.300000 USD, running 0.500000
 *
 * with " (held: over budget)" at the end while the episode's tasks are held.
 */
#include <string.h>

#include "cmd.h"

#define SET_USAGE "clapper budget set PROJECT/EPISODE AMOUNT"
#define SHOW_USAGE "clapper budget show PROJECT/EPISODE"

static void print_budget(FILE *out, const json_t *doc) {
  const char *currency = json_string_value(json_object_get(doc, "currency"));
  const json_t *budget = json_object_get(doc, "budget");
  sbuf_t line = {0};
  output_fill(&line, doc, "episode {episode}");
  if (budget && !json_is_null(budget)) {
    sbuf_puts(&line, ": budget ");
    output_money(budget, currency, &line);
    output_fill(&line, doc, ", spent {spent}");
  } else {
    sbuf_puts(&line, ": no budget, spent ");
    output_money(json_object_get(doc, "spent"), currency, &line);
  }
  output_fill(&line, doc, ", running {running}");
  if (budget && !json_is_null(budget))
    output_fill(&line, doc, ", left {left}");
  if (json_is_true(json_object_get(doc, "held")))
    sbuf_puts(&line, " (held: over budget)");
  output_line_done(out, &line);
}

static int budget_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  if (argc < 1)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "budget: missing action (usage: " SET_USAGE " or " SHOW_USAGE ")");
  bool set = !strcmp(argv[0], "set");
  if (!set && strcmp(argv[0], "show"))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "budget: unknown action '%s' (expected set or show)", argv[0]);
  int want = set ? 3 : 2;
  if (argc != want)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "budget %s: %s (usage: %s)", argv[0],
                    argc < want ? "missing argument" : "too many arguments",
                    set ? SET_USAGE : SHOW_USAGE);
  if (cmd_parse_episode(ctx, argv[1]) < 0)
    return CMD_EXIT_USAGE;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.name = argv[1];
  if (set) {
    int64_t micros;
    if (cmd_parse_amount(ctx, "budget amount", argv[2], &micros) < 0)
      return CMD_EXIT_USAGE;
    req.verb = CLAPPER__VERB__VERB_BUDGET_SET;
    req.amount = argv[2];
  } else {
    req.verb = CLAPPER__VERB__VERB_BUDGET_SHOW;
  }
  return cmd_show(ctx, &req, print_budget);
}

const struct cmd_entry cmd_budget_entry = {
    /* any number of arguments: budget_exec words the errors */
    .name = "budget", .min_args = 0, .max_args = -1, .exec = budget_exec,
    .usage = "set PROJECT/EPISODE AMOUNT [options]\n"
             "   or: " SHOW_USAGE " [options]",
    .help = "set or show an episode's budget (tasks are held when it would be passed)",
};
