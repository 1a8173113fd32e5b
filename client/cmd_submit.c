/*
 * cmd_submit.c - `clapper submit FILE|-`: validate a job file locally and
 * send it to the coordinator, which queues it in one transaction.
 *
 * The file is read whole (at most JOBFILE_MAX_BYTES), checked with
 * jobfile_parse so that mistakes are found before anything is sent, and
 * sent as the body of a VERB_SUBMIT request.  --no-local-check skips the
 * local check (to exercise the coordinator's, which always runs).  The reply is
 * {"jobs": [{"job_id", "name", "tasks"}]}.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "jobfile.h"

static struct {
  bool no_local_check;
} opt;

static const cfg_opt_t submit_opts[] = {
    {"no-local-check", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "send the file without checking it here first (the coordinator checks it anyway)",
     &opt.no_local_check},
};

static void queued_tail(sbuf_t *line, const json_t *job) {
  output_json_text(json_object_get(job, "tasks"), line);
  json_int_t ntasks = json_integer_value(json_object_get(job, "tasks"));
  sbuf_puts(line, ntasks == 1 ? " task queued" : " tasks queued");
}

/* The human view: "job 12 comp-v3: 8 tasks queued" per job. */
static void print_queued(FILE *out, const json_t *doc) { cmd_print_jobs(out, doc, queued_tail); }

static int submit_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  const char *path = argv[0];
  bool from_stdin = !strcmp(path, "-");
  const char *shown = from_stdin ? "standard input" : path;
  size_t len = 0;
  char *text = NULL;
  jobfile_t *jf = NULL;
  int status = CMD_EXIT_FAIL;
  (void)argc;

  text = from_stdin ? util_read_fd(STDIN_FILENO, JOBFILE_MAX_BYTES, &len)
                    : util_read_file(path, JOBFILE_MAX_BYTES, &len);
  if (!text) {
    if (errno == EFBIG)
      cmd_fail(ctx, CMD_EXIT_FAIL, "invalid_job",
               "%s: a job file may hold at most %zu bytes (16 MiB); split the submission",
               shown, JOBFILE_MAX_BYTES);
    else
      cmd_fail(ctx, CMD_EXIT_FAIL, "io", "cannot read %s: %s", shown, strerror(errno));
    goto out;
  }

  if (!opt.no_local_check) {
    char why[1024];
    jf = jobfile_parse(text, len, why, sizeof why);
    if (!jf) {
      cmd_fail(ctx, CMD_EXIT_FAIL, "invalid_job", "%s", why);
      goto out;
    }
  }

  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_SUBMIT;
  req.body.data = (uint8_t *)text;
  req.body.len = len;
  status = cmd_show(ctx, &req, print_queued);
out:
  jobfile_free(&jf);
  free(text);
  return status;
}

const struct cmd_entry cmd_submit_entry = {
    .name = "submit", CMD_OPTS(submit_opts), .min_args = 1, .max_args = 1, .exec = submit_exec,
    .usage = "[--no-local-check] [options] FILE|-",
    .help = "submit a job file (- reads standard input)",
};
