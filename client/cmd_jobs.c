/*
 * cmd_jobs.c - `clapper jobs [--all] [--state S[,S]] [--episode P/E]
 * [--mine] [--limit N] [--after ID]`: the jobs.
 *
 * Sends VERB_JOBS (limit: at most N jobs, 0 for the coordinator's default
 * of 100; after: the jobs after job ID, oldest first, a page at a time;
 * neither: the newest page).  The coordinator filters: the unfinished jobs
 * (waiting, queued, running, paused, held) unless --all (finished =
 * true) adds the succeeded, failed and canceled ones or --state names the
 * states to show; --episode P/E keeps one episode's jobs, --mine the jobs
 * submitted with the caller's key.  Prints {"jobs": [...]} as a table with
 * one row per job: ID NAME PROJECT/EPISODE SHOT KIND STATE PRI DONE/TOTAL
 * FAILED RUNNING, where DONE counts succeeded tasks, and a last column
 * REASON (why a job waits or cannot be placed) when any job has one.  A
 * last line says how to list the next page when there is one ("more":
 * true), or, on the newest page, how to list older jobs ("earlier": true).
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "states.h"

static struct {
  bool all, mine;
  char *state, *episode;
  cmd_page_t page;
} opt;

static const cfg_opt_t jobs_opts[] = {
    {"all", 'a', CFG_BOOL, NULL, "false", 0, 0, NULL,
     "finished jobs too (succeeded, failed, canceled), not only the unfinished", &opt.all},
    {"state", 's', CFG_STRING, NULL, NULL, 0, 0, "S[,S...]",
     "only jobs in these states (waiting, queued, running, paused, held, succeeded, failed, "
     "canceled)",
     &opt.state},
    {"episode", 'e', CFG_STRING, NULL, NULL, 0, 0, "P/E", "only the jobs of episode P/E",
     &opt.episode},
    {"mine", 'm', CFG_BOOL, NULL, "false", 0, 0, NULL,
     "only the jobs submitted with your key (--key)", &opt.mine},
    CMD_PAGE_OPTS(opt.page, "jobs"),
};

/* One row of the table: a job, with its reason when *with_reason. */
static void job_row(out_table_t *t, const json_t *job, void *with_reason) {
  table_add_fields(t, job, "job_id", "name", NULL);
  sbuf_t pe = {0};
  output_fill(&pe, job, "{project}/{episode}");
  table_add(t, pe.buf);
  sbuf_free(&pe);
  table_add_fields(t, job, "shot", "kind", NULL);
  table_add_state(t, output_string(job, "state"));
  table_add_fields(t, job, "priority", NULL);
  table_addf(t, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
             cmd_task_count(job, "succeeded"), json_integer_value(json_object_get(job, "ntasks")));
  table_addf(t, "%" JSON_INTEGER_FORMAT, cmd_task_count(job, "failed"));
  table_addf(t, "%" JSON_INTEGER_FORMAT, cmd_task_count(job, "running"));
  if (*(bool *)with_reason)
    table_add(t, output_string(job, "reason"));
}

/* The human view: one table row per job; the REASON column only when a
 * job has one (absent, null and "" are none). */
static void print_jobs(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {">ID",  "NAME",  "PROJECT/EPISODE", "SHOT",
                                    "KIND", "STATE", ">PRI",            ">DONE/TOTAL",
                                    ">FAILED", ">RUNNING", "REASON"};
  const json_t *jobs = json_object_get(doc, "jobs");
  bool reasons = output_any_string(jobs, "reason");
  output_table(out, ARRAY_SIZE(hdr) - (reasons ? 0 : 1), hdr, jobs, job_row, &reasons);
  cmd_page_hint(out, doc, "jobs");
  if (json_is_true(json_object_get(doc, "earlier"))) {
    fprintf(out, "older jobs: add --after 0 to list from the first\n");
    fflush(out);
  }
}

/* Checks --state: job state names separated by commas. */
static int check_states(cmd_ctx_t *ctx, const char *list) {
  for (const char *s = list;;) {
    size_t len = strcspn(s, ",");
    char name[32];
    snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), s);
    if (len >= sizeof name || job_state_parse(name) < 0)
      return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                      "invalid --state '%s': expected waiting, queued, running, paused, held, "
                      "succeeded, failed or canceled, comma-separated",
                      list);
    if (!s[len])
      return 0;
    s += len + 1;
  }
}

static int jobs_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  (void)argv;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_JOBS;
  if (cmd_page_request(ctx, &opt.page, &req) < 0)
    return CMD_EXIT_USAGE;
  if (opt.state && check_states(ctx, opt.state) != 0)
    return CMD_EXIT_USAGE;
  if (opt.episode && cmd_parse_episode(ctx, opt.episode) < 0)
    return CMD_EXIT_USAGE;
  if (opt.mine && !ctx->key)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "--mine needs your key (--key FILE or CLAPPER_KEY): jobs are yours by the "
                    "key they were submitted with");
  req.finished = opt.all;
  req.mine = opt.mine;
  req.state = opt.state ? opt.state : "";
  req.name = opt.episode ? opt.episode : "";
  return cmd_show(ctx, &req, print_jobs);
}

const struct cmd_entry cmd_jobs_entry = {
    .name = "jobs", CMD_OPTS(jobs_opts), .min_args = 0, .max_args = 0, .exec = jobs_exec,
    .usage = "[--all] [--state S[,S...]] [--episode P/E] [--mine] [--limit N] [--after ID] "
             "[options]",
    .help = "list the unfinished jobs (--all: finished too): the newest, or a page after a "
            "job id",
};
