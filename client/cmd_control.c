/*
 * cmd_control.c - `clapper cancel|pause|resume|retry ID... [--note TEXT]`:
 * the operator verbs on jobs.
 *
 * The four verbs differ only in the request's verb and in how the answer
 * reads, so they share this file: four entries, all cmd_exec_ask.  Each sends
 * Request{verb, ids = the jobs, note} and gets {"jobs": [{"job_id", "name",
 * "state", "tasks": {"ready": n, ...}, "retried": n}]} back ("retried" only
 * matters to retry).  The human view is one line per job:
 *
 *   job 12 sh0420-gen: canceled (3 running tasks are being stopped)
 *   job 12 sh0420-gen: paused (2 running tasks finish, nothing new starts)
 *   job 12 sh0420-gen: queued
 *   job 12 sh0420-gen: running again: 3 failed tasks requeued
 *
 * where "running" counts running and dispatched tasks.  Jobs that changed
 * with the named ones ("cascade": true) follow them: dependents canceled
 * in cascade, with their reason, and jobs a retry revived:
 *
 *   job 13 sh0420-comp: canceled with it: dependency job 12 was canceled by ana: wrong plate
 *   job 13 sh0420-comp: revived: queued
 *
 * The coordinator's
 * refusals (not_found, invalid_state) are printed as it words them.
 */
#include "cmd.h"

static char *opt_note; /* --note */

static const cfg_opt_t control_opts[] = {
    CMD_NOTE_OPT("why, recorded with the change (optional)", &opt_note),
};

static json_int_t live_tasks(const json_t *job) {
  return cmd_task_count(job, "running") + cmd_task_count(job, "dispatched");
}

static bool cascade(const json_t *job) { return json_is_true(json_object_get(job, "cascade")); }

static void cancel_tail(sbuf_t *line, const json_t *job) {
  output_json_text(json_object_get(job, "state"), line);
  if (cascade(job)) {
    sbuf_printf(line, " with it: ");
    output_json_text(json_object_get(job, "reason"), line);
  }
  cmd_running_note(line, live_tasks(job), "task is being stopped", "tasks are being stopped",
                   NULL);
}

static void pause_tail(sbuf_t *line, const json_t *job) {
  output_json_text(json_object_get(job, "state"), line);
  cmd_running_note(line, live_tasks(job), "task finishes, nothing new starts",
                   "tasks finish, nothing new starts", "nothing new starts");
}

static void resume_tail(sbuf_t *line, const json_t *job) {
  output_json_text(json_object_get(job, "state"), line);
}

static void retry_tail(sbuf_t *line, const json_t *job) {
  if (cascade(job)) {
    sbuf_printf(line, "revived: ");
    output_json_text(json_object_get(job, "state"), line);
    return;
  }
  json_int_t n = json_integer_value(json_object_get(job, "retried"));
  sbuf_printf(line, "running again: %" JSON_INTEGER_FORMAT " failed %s requeued", n,
              n == 1 ? "task" : "tasks");
}

static void print_cancel(FILE *out, const json_t *doc) { cmd_print_jobs(out, doc, cancel_tail); }
static void print_pause(FILE *out, const json_t *doc) { cmd_print_jobs(out, doc, pause_tail); }
static void print_resume(FILE *out, const json_t *doc) { cmd_print_jobs(out, doc, resume_tail); }
static void print_retry(FILE *out, const json_t *doc) { cmd_print_jobs(out, doc, retry_tail); }

/* cmd_cancel_entry, cmd_pause_entry, cmd_resume_entry and cmd_retry_entry:
 * Request{VERB_<VERB>, ids, note} shown with print_<verb>. */
#define CONTROL_ENTRY(verb, VERB, help_)                                                           \
  const struct cmd_entry cmd_##verb##_entry = {                                                    \
      .name = #verb, CMD_OPTS(control_opts), .min_args = 1, .max_args = -1, .exec = cmd_exec_ask,  \
      .ask = {CLAPPER__VERB__VERB_##VERB, "job id", &opt_note, print_##verb},                      \
      .usage = "[--note TEXT] [options] ID...",                                                    \
      .help = help_}

CONTROL_ENTRY(cancel, CANCEL,
              "cancel jobs and the jobs after them: stop their running tasks, start nothing more");
CONTROL_ENTRY(pause, PAUSE, "pause jobs: running tasks finish, nothing new starts");
CONTROL_ENTRY(resume, RESUME, "resume paused jobs");
CONTROL_ENTRY(retry, RETRY,
              "run the failed tasks of jobs again; the jobs canceled for them come back");
