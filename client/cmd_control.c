/*
 * cmd_control.c - `clapper cancel|pause|resume|retry ID... [--note TEXT]`:
 * the operator verbs on jobs (DESIGN.md §3).
 *
 * The four verbs differ only in the request's verb and in how the answer
 * reads, so they share this file: four entries, one exec.  Each sends
 * Request{verb, ids = the jobs, note} and gets {"jobs": [{"job_id", "name",
 * "state", "tasks": {"ready": n, ...}, "retried": n}]} back ("retried" only
 * matters to retry).  The human view is one line per job:
 *
 *   job 12 sh0420-gen: canceled (3 running tasks are being stopped)
 *   job 12 sh0420-gen: paused (2 running tasks finish, nothing new starts)
 *   job 12 sh0420-gen: queued
 *   job 12 sh0420-gen: running again: 3 failed tasks requeued
 *
 * where "running" counts running and dispatched tasks.  The coordinator's
 * refusals (not_found, invalid_state) are printed as it words them.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static struct {
  char *note;
} opt;

static const cfg_opt_t control_opts[] = {
    {"note", 0, CFG_STRING, NULL, NULL, 0, 0, "TEXT",
     "why, recorded with the change (optional)", &opt.note},
};

static json_int_t live_tasks(const json_t *job) {
  return cmd_task_count(job, "running") + cmd_task_count(job, "dispatched");
}

static void cancel_tail(sbuf_t *line, const json_t *job) {
  output_json_text(json_object_get(job, "state"), line);
  json_int_t n = live_tasks(job);
  if (n > 0)
    sbuf_printf(line, " (%" JSON_INTEGER_FORMAT " running %s being stopped)", n,
                n == 1 ? "task is" : "tasks are");
}

static void pause_tail(sbuf_t *line, const json_t *job) {
  output_json_text(json_object_get(job, "state"), line);
  json_int_t n = live_tasks(job);
  if (n > 0)
    sbuf_printf(line, " (%" JSON_INTEGER_FORMAT " running %s, nothing new starts)", n,
                n == 1 ? "task finishes" : "tasks finish");
  else
    sbuf_puts(line, " (nothing new starts)");
}

static void resume_tail(sbuf_t *line, const json_t *job) {
  output_json_text(json_object_get(job, "state"), line);
}

static void retry_tail(sbuf_t *line, const json_t *job) {
  json_int_t n = json_integer_value(json_object_get(job, "retried"));
  sbuf_printf(line, "running again: %" JSON_INTEGER_FORMAT " failed %s requeued", n,
              n == 1 ? "task" : "tasks");
}

static void print_cancel(FILE *out, const json_t *doc) { cmd_print_jobs(out, doc, cancel_tail); }
static void print_pause(FILE *out, const json_t *doc) { cmd_print_jobs(out, doc, pause_tail); }
static void print_resume(FILE *out, const json_t *doc) { cmd_print_jobs(out, doc, resume_tail); }
static void print_retry(FILE *out, const json_t *doc) { cmd_print_jobs(out, doc, retry_tail); }

static int control_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  static const struct {
    const char *name;
    Clapper__Verb verb;
    void (*human)(FILE *out, const json_t *doc);
  } verbs[] = {
      {"cancel", CLAPPER__VERB__VERB_CANCEL, print_cancel},
      {"pause", CLAPPER__VERB__VERB_PAUSE, print_pause},
      {"resume", CLAPPER__VERB__VERB_RESUME, print_resume},
      {"retry", CLAPPER__VERB__VERB_RETRY, print_retry},
  };
  size_t v = 0;
  while (v + 1 < ARRAY_SIZE(verbs) && strcmp(verbs[v].name, ctx->verb) != 0)
    v++;

  uint64_t *ids = xcalloc((size_t)argc, sizeof *ids);
  int status = CMD_EXIT_USAGE;
  for (int i = 0; i < argc; i++)
    if (cmd_parse_id(ctx, "job id", argv[i], &ids[i]) < 0)
      goto out;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = verbs[v].verb;
  req.n_ids = (size_t)argc;
  req.ids = ids;
  if (opt.note)
    req.note = opt.note;
  status = cmd_show(ctx, &req, verbs[v].human);
out:
  free(ids);
  return status;
}

const struct cmd_entry cmd_cancel_entry = {
    .name = "cancel",
    .usage = "[--note TEXT] [options] ID...",
    .help = "cancel jobs: stop their running tasks, start nothing more",
    .opts = control_opts,
    .nopts = ARRAY_SIZE(control_opts),
    .min_args = 1,
    .max_args = -1,
    .exec = control_exec,
};

const struct cmd_entry cmd_pause_entry = {
    .name = "pause",
    .usage = "[--note TEXT] [options] ID...",
    .help = "pause jobs: running tasks finish, nothing new starts",
    .opts = control_opts,
    .nopts = ARRAY_SIZE(control_opts),
    .min_args = 1,
    .max_args = -1,
    .exec = control_exec,
};

const struct cmd_entry cmd_resume_entry = {
    .name = "resume",
    .usage = "[--note TEXT] [options] ID...",
    .help = "resume paused jobs",
    .opts = control_opts,
    .nopts = ARRAY_SIZE(control_opts),
    .min_args = 1,
    .max_args = -1,
    .exec = control_exec,
};

const struct cmd_entry cmd_retry_entry = {
    .name = "retry",
    .usage = "[--note TEXT] [options] ID...",
    .help = "run the failed tasks of jobs again",
    .opts = control_opts,
    .nopts = ARRAY_SIZE(control_opts),
    .min_args = 1,
    .max_args = -1,
    .exec = control_exec,
};
