/*
 * cmd_episode.c - `clapper episode weight PROJECT/EPISODE W`: an episode's
 * share of the farm (within one priority, episodes share the farm in
 * proportion to their weight, default 1).
 *
 * "weight" is a sub-verb, the way `clapper local up` has one, so that more
 * episode settings can join it.  Both parts of PROJECT/EPISODE must be
 * identifiers and W an integer from 1 to 1000; anything else is a usage
 * error naming the bad part.  Sends Request{VERB_EPISODE_WEIGHT,
 * name = "p/e", value = W} and gets {"episode": "p/e", "weight": W} back,
 * shown as "episode p/e: weight 3".
 */
#include <string.h>

#include "cmd.h"

#define WEIGHT_MIN 1
#define WEIGHT_MAX 1000
#define WEIGHT_USAGE "clapper episode weight PROJECT/EPISODE W"

static void print_weight(FILE *out, const json_t *doc) {
  sbuf_t line = {0};
  output_fill(&line, doc, "episode {episode}: weight {weight}");
  output_line_done(out, &line);
}

static int weight_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  if (argc != 3)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "episode weight: %s (usage: " WEIGHT_USAGE ")",
                    argc < 3 ? "missing argument" : "too many arguments");
  if (cmd_parse_episode(ctx, argv[1]) < 0)
    return CMD_EXIT_USAGE;
  uint64_t w;
  if (util_parse_u64(argv[2], WEIGHT_MIN, WEIGHT_MAX, &w) < 0)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "invalid weight '%s': expected an integer from %d to %d", argv[2],
                    WEIGHT_MIN, WEIGHT_MAX);
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_EPISODE_WEIGHT;
  req.name = argv[1];
  req.value = (int64_t)w;
  return cmd_show(ctx, &req, print_weight);
}

static int episode_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  if (!strcmp(argv[0], "weight"))
    return weight_exec(ctx, argc, argv);
  return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                  "episode: unknown action '%s' (expected weight)", argv[0]);
}

const struct cmd_entry cmd_episode_entry = {
    .name = "episode", .min_args = 1, .max_args = 3, .exec = episode_exec,
    .usage = "weight PROJECT/EPISODE W [options]",
    .help = "set an episode's share of the farm (weight 1-1000, default 1)",
};
