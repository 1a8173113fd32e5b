/*
 * cmd_attempts.c - `clapper attempts TASK`: every run of one task.
 *
 * Sends Request{VERB_ATTEMPTS, ids = [TASK]} and gets {"task_id",
 * "job_id", "attempts": [{"attempt" (the try number: 1, 2, ...),
 * "attempt_id", "worker", "state", "dispatched_at", "started_at",
 * "ended_at", "exit_code", "term_signal", "wall_s", "error"}]}, first try
 * first (docs/json.md).  The human view is a table:
 *
 *   ATTEMPT  ID  WORKER  STATE  STARTED  ENDED  EXIT  WALL  ERROR
 *
 * ATTEMPT is what `clapper logs TASK --attempt N` takes, ID what
 * `--attempt-id ID` takes.  A task not run yet reads "task 5 has no
 * attempts yet".
 */
#include <inttypes.h>

#include "cmd.h"

#define ERROR_COLUMN_MAX 60

/* One row of the table: an attempt. */
static void attempt_row(out_table_t *t, const json_t *a, void *arg) {
  (void)arg;
  table_add_fields(t, a, "attempt", "attempt_id", "worker", "state", NULL);
  table_add_time(t, json_object_get(a, "started_at"));
  table_add_time(t, json_object_get(a, "ended_at"));
  const json_t *sig = json_object_get(a, "term_signal");
  if (json_is_integer(sig) && json_integer_value(sig) > 0)
    table_addf(t, "sig%" JSON_INTEGER_FORMAT, json_integer_value(sig));
  else
    table_add_fields(t, a, "exit_code", NULL);
  const json_t *wall = json_object_get(a, "wall_s");
  if (json_is_number(wall))
    table_addf(t, "%.1fs", json_number_value(wall));
  else
    table_add(t, "-");
  const char *error = output_string(a, "error");
  table_add_trunc(t, error ? error : "-", ERROR_COLUMN_MAX);
}

static void print_attempts(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {">ATTEMPT", ">ID",  "WORKER", "STATE", "STARTED",
                                    "ENDED",    ">EXIT", ">WALL", "ERROR"};
  const json_t *list = json_object_get(doc, "attempts");
  if (json_array_size(list) == 0) {
    char line[96];
    snprintf(line, sizeof line, "task %" JSON_INTEGER_FORMAT " has no attempts yet",
             json_integer_value(json_object_get(doc, "task_id")));
    output_line(out, line);
    fflush(out);
    return;
  }
  output_table(out, ARRAY_SIZE(hdr), hdr, list, attempt_row, NULL);
}

const struct cmd_entry cmd_attempts_entry = {
    .name = "attempts", .min_args = 1, .max_args = 1,
    .exec = cmd_exec_ask,
    .ask = {CLAPPER__VERB__VERB_ATTEMPTS, "task id", NULL, print_attempts},
    .usage = "[options] TASK",
    .help = "list the attempts of a task: try number, id, worker, state, times, exit code",
};
