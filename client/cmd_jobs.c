/*
 * cmd_jobs.c - `clapper jobs [--limit N] [--after ID | --all]`: the jobs.
 *
 * Sends VERB_JOBS (limit: at most N jobs, 0 for the coordinator's default
 * of 100; after: the jobs after job ID, oldest first, a page at a time;
 * all: the same from the first job; neither: the newest page) and prints
 * {"jobs": [...]} as a table with one
 * row per job: ID NAME PROJECT/EPISODE SHOT KIND STATE PRI DONE/TOTAL
 * FAILED RUNNING, where DONE counts succeeded tasks, and a last column
 * REASON (why a job waits or cannot be placed) when any job has one.  A
 * last line says how to list the next page when there is one ("more":
 * true), or, on the newest page, how to list older jobs ("earlier": true).
 */
#include <stdlib.h>

#include "cmd.h"

static struct {
  bool all;
  cmd_page_t page;
} opt;

static const cfg_opt_t jobs_opts[] = {
    {"all", 'a', CFG_BOOL, NULL, "false", 0, 0, NULL,
     "list from the first job, a page at a time (as --after 0)", &opt.all},
    CMD_PAGE_OPTS(opt.page, "jobs"),
};

/* One row of the table: a job, with its reason when *with_reason. */
static void job_row(out_table_t *t, const json_t *job, void *with_reason) {
  table_add_fields(t, job, "job_id", "name", NULL);
  sbuf_t pe = {0};
  output_fill(&pe, job, "{project}/{episode}");
  table_add(t, pe.buf);
  sbuf_free(&pe);
  table_add_fields(t, job, "shot", "kind", "state", "priority", NULL);
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

static int jobs_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  (void)argv;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_JOBS;
  if (cmd_page_request(ctx, &opt.page, &req) < 0)
    return CMD_EXIT_USAGE;
  req.all = req.all || opt.all;
  return cmd_show(ctx, &req, print_jobs);
}

const struct cmd_entry cmd_jobs_entry = {
    .name = "jobs", CMD_OPTS(jobs_opts), .min_args = 0, .max_args = 0, .exec = jobs_exec,
    .usage = "[--limit N] [--after ID | --all] [options]",
    .help = "list the jobs: the newest, or a page after a job id",
};
