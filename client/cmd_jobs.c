/*
 * cmd_jobs.c - `clapper jobs [--all] [--limit N]`: the job queue.
 *
 * Sends VERB_JOBS (all: include finished jobs; limit: at most N jobs, 0 for
 * the coordinator's default) and prints {"jobs": [...]} as a table with one
 * row per job: ID NAME PROJECT/EPISODE SHOT KIND STATE PRI DONE/TOTAL
 * FAILED RUNNING, where DONE counts succeeded tasks, and a last column
 * REASON (why a job waits or cannot be placed) when any job has one.
 */
#include <stdlib.h>

#include "cmd.h"

static struct {
  bool all;
  long long limit;
} opt;

static const cfg_opt_t jobs_opts[] = {
    {"all", 'a', CFG_BOOL, NULL, "false", 0, 0, NULL, "include finished jobs", &opt.all},
    {"limit", 'n', CFG_INT, NULL, "0", 0, 1000000, "N",
     "show at most N jobs (0: the coordinator's default)", &opt.limit},
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
  bool reasons = false;
  size_t i;
  json_t *job;
  json_array_foreach(jobs, i, job) {
    if (output_string(job, "reason"))
      reasons = true;
  }
  output_table(out, ARRAY_SIZE(hdr) - (reasons ? 0 : 1), hdr, jobs, job_row, &reasons);
}

static int jobs_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  (void)argv;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_JOBS;
  req.all = opt.all;
  req.limit = (uint32_t)opt.limit;
  return cmd_show(ctx, &req, print_jobs);
}

const struct cmd_entry cmd_jobs_entry = {
    .name = "jobs", CMD_OPTS(jobs_opts), .min_args = 0, .max_args = 0, .exec = jobs_exec,
    .usage = "[--all] [--limit N] [options]",
    .help = "list the jobs in the queue (--all: finished ones too)",
};
