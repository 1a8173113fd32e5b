/*
 * cmd_review.c - `clapper approve|reject|request-changes TAKE [--note
 * TEXT]` and `clapper retake TAKE`: a supervisor's decision on a take and
 * a new take for the same job (decisions are made by people with the
 * supervisor role and are final).
 *
 * The three decisions send Request{VERB_APPROVE, VERB_REJECT or
 * VERB_REQUEST_CHANGES, ids = [TAKE], note} and get {"take": {the take as
 * `clapper takes` shows it}} back, read as one line from the take's own
 * state, decider and note:
 *
 *   take 7 approved by alice: looks great
 *   take 8 rejected by bob
 *   take 9 changes requested by alice: more rain
 *
 * retake sends Request{VERB_RETAKE, ids = [TAKE]} and gets {"jobs":
 * [{"job_id", "name", "tasks", "seed"}], "take": {the original take}}
 * back, one line per queued job:
 *
 *   take 7: retake queued as job 14 sh0420-gen-r1 (seed 1004)
 *
 * TAKE must be a positive integer (a usage error otherwise).  The
 * coordinator's refusals are printed as it words them: "forbidden" (the
 * key's role may not decide), "invalid_state" ("take 7 was already
 * rejected: decisions are final"), "not_found".
 */
#include <string.h>

#include "cmd.h"

static struct {
  char *note;
} opt;

static const cfg_opt_t review_opts[] = {
    {"note", 0, CFG_STRING, NULL, NULL, 0, 0, "TEXT",
     "why, recorded with the decision (optional)", &opt.note},
};

/* How a review state reads in a sentence: "changes requested". */
static const char *state_words(const char *state) {
  if (!state)
    return "decided";
  if (!strcmp(state, "changes_requested"))
    return "changes requested";
  if (!strcmp(state, "pending_review"))
    return "pending review";
  return state;
}

void cmd_review_decision(sbuf_t *out, const json_t *take, bool with_time) {
  sbuf_puts(out, "take ");
  output_json_text(json_object_get(take, "take_id"), out);
  sbuf_printf(out, " %s", state_words(json_string_value(json_object_get(take, "state"))));
  const char *by = json_string_value(json_object_get(take, "decided_by"));
  if (by && *by)
    sbuf_printf(out, " by %s", by);
  const char *at = with_time ? json_string_value(json_object_get(take, "decided_at")) : NULL;
  if (at && *at)
    sbuf_printf(out, " at %s", at);
  const char *note = json_string_value(json_object_get(take, "note"));
  if (note && *note)
    sbuf_printf(out, ": %s", note);
}

/* "take 7 approved by alice: looks great" from the reply's take (its
 * decided_at is the moment just now, so it is left out). */
static void print_decision(FILE *out, const json_t *doc) {
  sbuf_t line = {0};
  cmd_review_decision(&line, json_object_get(doc, "take"), false);
  output_line(out, line.buf);
  sbuf_free(&line);
  fflush(out);
}

/* "take 7: retake queued as job 14 sh0420-gen-r1 (seed 1004)" per job. */
static void print_retake(FILE *out, const json_t *doc) {
  const json_t *take_id = json_object_get(json_object_get(doc, "take"), "take_id");
  size_t i;
  json_t *job;
  json_array_foreach(json_object_get(doc, "jobs"), i, job) {
    sbuf_t line = {0};
    sbuf_puts(&line, "take ");
    output_json_text(take_id, &line);
    sbuf_puts(&line, ": retake queued as job ");
    output_json_text(json_object_get(job, "job_id"), &line);
    sbuf_putc(&line, ' ');
    output_json_text(json_object_get(job, "name"), &line);
    const json_t *seed = json_object_get(job, "seed");
    if (seed && !json_is_null(seed)) {
      sbuf_puts(&line, " (seed ");
      output_json_text(seed, &line);
      sbuf_putc(&line, ')');
    }
    output_line(out, line.buf);
    sbuf_free(&line);
  }
  fflush(out);
}

static int review_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  static const struct {
    const char *name;
    Clapper__Verb verb;
    void (*human)(FILE *out, const json_t *doc);
  } verbs[] = {
      {"approve", CLAPPER__VERB__VERB_APPROVE, print_decision},
      {"reject", CLAPPER__VERB__VERB_REJECT, print_decision},
      {"request-changes", CLAPPER__VERB__VERB_REQUEST_CHANGES, print_decision},
      {"retake", CLAPPER__VERB__VERB_RETAKE, print_retake},
  };
  (void)argc;
  size_t v = 0;
  while (v + 1 < ARRAY_SIZE(verbs) && strcmp(verbs[v].name, ctx->verb) != 0)
    v++;
  uint64_t id;
  if (cmd_parse_id(ctx, "take id", argv[0], &id) < 0)
    return CMD_EXIT_USAGE;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = verbs[v].verb;
  req.n_ids = 1;
  req.ids = &id;
  if (verbs[v].verb != CLAPPER__VERB__VERB_RETAKE && opt.note)
    req.note = opt.note;
  return cmd_show(ctx, &req, verbs[v].human);
}

const struct cmd_entry cmd_approve_entry = {
    .name = "approve",
    .usage = "[--note TEXT] [options] TAKE",
    .help = "approve a take (supervisor; final)",
    .opts = review_opts,
    .nopts = ARRAY_SIZE(review_opts),
    .min_args = 1,
    .max_args = 1,
    .exec = review_exec,
};

const struct cmd_entry cmd_reject_entry = {
    .name = "reject",
    .usage = "[--note TEXT] [options] TAKE",
    .help = "reject a take (supervisor; final)",
    .opts = review_opts,
    .nopts = ARRAY_SIZE(review_opts),
    .min_args = 1,
    .max_args = 1,
    .exec = review_exec,
};

const struct cmd_entry cmd_request_changes_entry = {
    .name = "request-changes",
    .usage = "[--note TEXT] [options] TAKE",
    .help = "send a take back for changes (supervisor; final for this take)",
    .opts = review_opts,
    .nopts = ARRAY_SIZE(review_opts),
    .min_args = 1,
    .max_args = 1,
    .exec = review_exec,
};

const struct cmd_entry cmd_retake_entry = {
    .name = "retake",
    .usage = "[options] TAKE",
    .help = "queue a new take (next seed) for the job of a take",
    .opts = NULL,
    .nopts = 0,
    .min_args = 1,
    .max_args = 1,
    .exec = review_exec,
};
