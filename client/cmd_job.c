/*
 * cmd_job.c - `clapper job ID`: everything about one job.
 *
 * Sends VERB_JOB with ids = [ID]; the reply is the job object (the keys of
 * `clapper jobs` plus command, requires, outputs, provenance, output_dir,
 * max_attempts, timeout_s and retry_backoff_s), printed as "key: value"
 * lines or, with --json, as it is.
 */
#include "cmd.h"

static int job_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  uint64_t id;
  if (cmd_parse_id(ctx, "job id", argv[0], &id) < 0)
    return CMD_EXIT_USAGE;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_JOB;
  req.n_ids = 1;
  req.ids = &id;
  json_t *doc = cmd_request(ctx, &req);
  if (!doc)
    return CMD_EXIT_FAIL;
  if (ctx->json)
    cmd_print_json(ctx, doc);
  else
    output_kv(ctx->out, doc);
  json_decref(doc);
  return CMD_EXIT_OK;
}

const struct cmd_entry cmd_job_entry = {
    .name = "job",
    .usage = "[options] ID",
    .help = "show one job in detail",
    .opts = NULL,
    .nopts = 0,
    .min_args = 1,
    .max_args = 1,
    .exec = job_exec,
};
