/*
 * cmd_takes.c - `clapper takes [--episode P/E] [--shot S] [--state STATE]
 * [--job ID]`: the reviewable results of generate and render jobs
 * (a generate job makes one take per succeeded task, a render job one
 * take when all its tasks succeeded).
 *
 * Every filter is checked here before anything is sent: P/E as two
 * identifiers, S as an identifier, STATE one of pending_review, approved,
 * changes_requested or rejected, ID a positive integer.  Sends
 * Request{VERB_TAKES, name = "p/e" or "", shot, state, ids = [ID] with
 * --job} and gets {"takes": [{"take_id", "job_id", "job", "task_id",
 * "shot", "kind", "state", "seed", "take", "outputs": [{"path", "size",
 * "sha256"}], "provenance", "decided_by", "decided_at", "note",
 * "created_at"}]} back (docs/json.md).  The human view is a table, one row
 * per take:
 *
 *   ID  JOB         TAKE  SHOT    KIND      STATE           SEED  OUTPUT  DECIDED-BY  NOTE
 *
 * where ID is the take id (what approve, reject, request-changes and retake
 * name), JOB the job's name, TAKE the take number within the job ("-" for
 * the one take of a render job), OUTPUT the first output's path, null and
 * empty values read "-" and long notes are cut (--json has them whole).
 * No takes read "no takes".  --limit N and --after TAKE page the list
 * (100 takes by default); a last line names the --after of the next page.
 */
#include <string.h>

#include "cmd.h"

#define NOTE_COLUMN_MAX 40

static struct {
  char *episode, *shot, *state, *job;
  cmd_page_t page;
} opt;

static const cfg_opt_t takes_opts[] = {
    {"episode", 0, CFG_STRING, NULL, NULL, 0, 0, "PROJECT/EPISODE",
     "only the takes of this episode", &opt.episode},
    {"shot", 0, CFG_STRING, NULL, NULL, 0, 0, "SHOT", "only the takes of this shot", &opt.shot},
    {"state", 0, CFG_STRING, NULL, NULL, 0, 0, "STATE",
     "only takes in this review state: pending_review, approved, changes_requested or "
     "rejected",
     &opt.state},
    {"job", 0, CFG_STRING, NULL, NULL, 0, 0, "ID", "only the takes of this job", &opt.job},
    CMD_PAGE_OPTS(opt.page, "takes"),
};

static const char *const review_states[] = {"pending_review", "approved", "changes_requested",
                                            "rejected"};

static bool review_state_valid(const char *s) {
  for (size_t i = 0; i < ARRAY_SIZE(review_states); i++)
    if (!strcmp(s, review_states[i]))
      return true;
  return false;
}

/* One row of the table: a take (null and "" read "-"). */
static void take_row(out_table_t *t, const json_t *take, void *arg) {
  table_add_json(t, json_object_get(take, "take_id"));
  const json_t *job = json_object_get(take, "job");
  table_add_json(t, json_is_string(job) ? job : json_object_get(take, "job_id"));
  table_add_fields(t, take, "take", "shot", "kind", "state", "seed", NULL);
  const json_t *first = json_array_get(json_object_get(take, "outputs"), 0);
  table_add(t, output_string(first, "path"));
  table_add(t, output_string(take, "decided_by"));
  const char *note = output_string(take, "note");
  table_add_trunc(t, note ? note : "-", NOTE_COLUMN_MAX);
}

/* The human view: one table row per take. */
static void print_takes(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {">ID",   "JOB",    ">TAKE",      "SHOT", "KIND",
                                    "STATE", ">SEED", "OUTPUT", "DECIDED-BY", "NOTE"};
  const json_t *takes = json_object_get(doc, "takes");
  if (json_array_size(takes) == 0) {
    output_line(out, "no takes");
    fflush(out);
    return;
  }
  output_table(out, ARRAY_SIZE(hdr), hdr, takes, take_row, NULL);
  cmd_page_hint(out, doc, "takes");
}

static int takes_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  (void)argv;
  if (opt.episode && cmd_parse_episode(ctx, opt.episode) < 0)
    return CMD_EXIT_USAGE;
  if (opt.shot && !ident_valid(opt.shot))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "invalid --shot '%s': expected " IDENT_PATTERN, opt.shot);
  if (opt.state && !review_state_valid(opt.state))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "invalid --state '%s': expected pending_review, approved, "
                    "changes_requested or rejected",
                    opt.state);
  uint64_t job = 0;
  if (opt.job && cmd_parse_id(ctx, "--job", opt.job, &job) < 0)
    return CMD_EXIT_USAGE;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_TAKES;
  if (cmd_page_request(ctx, &opt.page, &req) < 0)
    return CMD_EXIT_USAGE;
  req.all = false;
  if (opt.episode)
    req.name = opt.episode;
  if (opt.shot)
    req.shot = opt.shot;
  if (opt.state)
    req.state = opt.state;
  if (opt.job) {
    req.n_ids = 1;
    req.ids = &job;
  }
  return cmd_show(ctx, &req, print_takes);
}

const struct cmd_entry cmd_takes_entry = {
    .name = "takes", CMD_OPTS(takes_opts), .min_args = 0, .max_args = 0, .exec = takes_exec,
    .usage = "[--episode PROJECT/EPISODE] [--shot SHOT] [--state STATE] [--job ID] "
             "[--limit N] [--after TAKE] [options]",
    .help = "list takes (reviewable results) and their review state",
};
