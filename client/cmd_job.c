/*
 * cmd_job.c - `clapper job ID`: everything about one job.
 *
 * Sends VERB_JOB with ids = [ID]; the reply is the job object (the keys of
 * `clapper jobs` plus command, requires, outputs, provenance, output_dir,
 * max_attempts, timeout_s and retry_backoff_s), printed as "key: value"
 * lines or, with --json, as it is.  "reason" (why the job waits or cannot
 * be placed, "" when nothing holds it) is left out of the human view when
 * empty.
 */
#include <string.h>

#include "cmd.h"

/* The human view: output_kv, without an empty reason. */
static void print_job(FILE *out, const json_t *doc) {
  const json_t *reason = json_object_get(doc, "reason");
  if (!reason || (json_is_string(reason) && json_string_length(reason) > 0)) {
    output_kv(out, doc);
    return;
  }
  json_t *copy = json_copy((json_t *)doc);
  json_object_del(copy, "reason");
  output_kv(out, copy);
  json_decref(copy);
}

const struct cmd_entry cmd_job_entry = {
    .name = "job", .min_args = 1, .max_args = 1, .exec = cmd_exec_ask,
    .ask = {CLAPPER__VERB__VERB_JOB, "job id", NULL, print_job},
    .usage = "[options] ID",
    .help = "show one job in detail",
};
