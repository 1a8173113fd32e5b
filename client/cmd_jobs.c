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

/* The job's reason, or NULL when it has none (absent, null or ""). */
static const char *job_reason(const json_t *job) {
  const char *reason = json_string_value(json_object_get(job, "reason"));
  return reason && *reason ? reason : NULL;
}

/* The human view: one table row per job. */
static void print_jobs(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {"ID",    "NAME", "PROJECT/EPISODE", "SHOT",
                                    "KIND",  "STATE", "PRI",            "DONE/TOTAL",
                                    "FAILED", "RUNNING", "REASON"};
  bool reasons = false;
  size_t i;
  json_t *job;
  json_array_foreach(json_object_get(doc, "jobs"), i, job) {
    if (job_reason(job))
      reasons = true;
  }
  out_table_t t;
  table_init(&t, ARRAY_SIZE(hdr) - (reasons ? 0 : 1), hdr);
  table_align_right(&t, 0);
  table_align_right(&t, 6);
  table_align_right(&t, 7);
  table_align_right(&t, 8);
  table_align_right(&t, 9);
  json_array_foreach(json_object_get(doc, "jobs"), i, job) {
    table_add_fields(&t, job, "job_id", "name", NULL);
    sbuf_t pe = {0};
    output_json_text(json_object_get(job, "project"), &pe);
    sbuf_putc(&pe, '/');
    output_json_text(json_object_get(job, "episode"), &pe);
    table_add(&t, pe.buf);
    sbuf_free(&pe);
    table_add_fields(&t, job, "shot", "kind", "state", "priority", NULL);
    table_addf(&t, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
               cmd_task_count(job, "succeeded"),
               json_integer_value(json_object_get(job, "ntasks")));
    table_addf(&t, "%" JSON_INTEGER_FORMAT, cmd_task_count(job, "failed"));
    table_addf(&t, "%" JSON_INTEGER_FORMAT, cmd_task_count(job, "running"));
    if (reasons)
      table_add(&t, job_reason(job));
  }
  table_print(&t, out);
  table_free(&t);
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
    .name = "jobs", .usage = "[--all] [--limit N] [options]", .min_args = 0, .max_args = 0,
    .help = "list the jobs in the queue (--all: finished ones too)",
    CMD_OPTS(jobs_opts), .exec = jobs_exec,
};
