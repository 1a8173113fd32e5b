/*
 * cmd_tasks.c - `clapper tasks ID`: the tasks of one job.
 *
 * Sends VERB_TASKS with ids = [ID], limit and after (--limit N, --after
 * TASK: a page of at most N tasks after task TASK, 1000 by default) and
 * prints {"tasks": [...]} as a table:
 * TASK SEQ STATE ATTEMPT WORKER EXIT FRAMES TAKE SEED STARTED WALL ERROR,
 * and, when more tasks remain, a last line naming the --after of the next
 * page.  ATTEMPT is the try number of the task's latest attempt (1, 2,
 * ...; `clapper attempts TASK` lists them all), TAKE the take number within
 * the job.  Absent values (null) show as "-"; long errors are cut in the
 * table and complete in --json.
 */
#include "cmd.h"

#define ERROR_COLUMN_MAX 60

static struct {
  cmd_page_t page;
} opt;

static const cfg_opt_t tasks_opts[] = {
    CMD_PAGE_OPTS(opt.page, "tasks"),
};

/* "1001-1008", "1001" for a single frame, "-" without frames. */
static void add_frames(out_table_t *t, const json_t *task) {
  const json_t *fs = json_object_get(task, "frame_start");
  const json_t *fe = json_object_get(task, "frame_end");
  if (!json_is_integer(fs)) {
    table_add(t, "-");
    return;
  }
  json_int_t a = json_integer_value(fs), b = json_is_integer(fe) ? json_integer_value(fe) : a;
  if (a == b)
    table_addf(t, "%" JSON_INTEGER_FORMAT, a);
  else
    table_addf(t, "%" JSON_INTEGER_FORMAT "-%" JSON_INTEGER_FORMAT, a, b);
}

/* One row of the table: a task. */
static void task_row(out_table_t *t, const json_t *task, void *arg) {
  table_add_fields(t, task, "task_id", "seq", "state", "attempt", "worker", "exit_code", NULL);
  add_frames(t, task);
  table_add_fields(t, task, "take", "seed", NULL);
  table_add_time(t, json_object_get(task, "started_at"));
  sbuf_t sb = {0};
  const json_t *wall = json_object_get(task, "wall_s");
  if (json_is_number(wall))
    sbuf_printf(&sb, "%.1fs", json_number_value(wall));
  else
    output_json_text(wall, &sb);
  table_add(t, sb.buf);
  sbuf_free(&sb);
  const char *error = output_string(task, "error");
  table_add_trunc(t, error ? error : "-", ERROR_COLUMN_MAX);
}

/* The human view: one table row per task. */
static void print_tasks(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {">TASK",  ">SEQ", "STATE", ">ATTEMPT", "WORKER", ">EXIT",
                                    "FRAMES", "TAKE", "SEED",  "STARTED",   ">WALL", "ERROR"};
  output_table(out, ARRAY_SIZE(hdr), hdr, json_object_get(doc, "tasks"), task_row, NULL);
  cmd_page_hint(out, doc, "tasks");
}

static int tasks_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  uint64_t job;
  if (cmd_parse_id(ctx, "job id", argv[0], &job) < 0)
    return CMD_EXIT_USAGE;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_TASKS;
  req.n_ids = 1;
  req.ids = &job;
  if (cmd_page_request(ctx, &opt.page, &req) < 0)
    return CMD_EXIT_USAGE;
  req.all = false;
  return cmd_show(ctx, &req, print_tasks);
}

const struct cmd_entry cmd_tasks_entry = {
    .name = "tasks", CMD_OPTS(tasks_opts), .min_args = 1, .max_args = 1, .exec = tasks_exec,
    .usage = "[--limit N] [--after TASK] [options] ID",
    .help = "list the tasks of a job, a page at a time",
};
