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

static char *opt_note; /* --note */

static const cfg_opt_t review_opts[] = {
    CMD_NOTE_OPT("why, recorded with the decision (optional)", &opt_note),
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
  output_fill(out, take, "take {take_id}");
  sbuf_printf(out, " %s", state_words(json_string_value(json_object_get(take, "state"))));
  const char *by = output_string(take, "decided_by");
  if (by)
    sbuf_printf(out, " by %s", by);
  const char *at = with_time ? output_string(take, "decided_at") : NULL;
  if (at)
    sbuf_printf(out, " at %s", at);
  const char *note = output_string(take, "note");
  if (note)
    sbuf_printf(out, ": %s", note);
}

/* "take 7 approved by alice: looks great" from the reply's take (its
 * decided_at is the moment just now, so it is left out). */
static void print_decision(FILE *out, const json_t *doc) {
  sbuf_t line = {0};
  cmd_review_decision(&line, json_object_get(doc, "take"), false);
  output_line_done(out, &line);
}

/* "take 7: retake queued as job 14 sh0420-gen-r1 (seed 1004)" per job. */
static void print_retake(FILE *out, const json_t *doc) {
  const json_t *take = json_object_get(doc, "take");
  size_t i;
  json_t *job;
  json_array_foreach(json_object_get(doc, "jobs"), i, job) {
    sbuf_t line = {0};
    output_fill(&line, take, "take {take_id}");
    output_fill(&line, job, ": retake queued as job {job_id} {name}");
    const json_t *seed = json_object_get(job, "seed");
    if (seed && !json_is_null(seed))
      output_fill(&line, job, " (seed {seed})");
    output_line(out, line.buf);
    sbuf_free(&line);
  }
  fflush(out);
}

/* cmd_approve_entry, cmd_reject_entry and cmd_request_changes_entry:
 * Request{VERB_<VERB>, ids = [TAKE], note}, the reply read as one line. */
#define DECISION_ENTRY(entry, name_, VERB, help_)                                                  \
  const struct cmd_entry cmd_##entry##_entry = {                                                   \
      .name = name_, CMD_OPTS(review_opts), .min_args = 1, .max_args = 1, .exec = cmd_exec_ask,    \
      .ask = {CLAPPER__VERB__VERB_##VERB, "take id", &opt_note, print_decision},                   \
      .usage = "[--note TEXT] [options] TAKE",                                                     \
      .help = help_}

DECISION_ENTRY(approve, "approve", APPROVE, "approve a take (supervisor; final)");
DECISION_ENTRY(reject, "reject", REJECT, "reject a take (supervisor; final)");
DECISION_ENTRY(request_changes, "request-changes", REQUEST_CHANGES,
               "send a take back for changes (supervisor; final for this take)");

const struct cmd_entry cmd_retake_entry = {
    .name = "retake", .min_args = 1, .max_args = 1, .exec = cmd_exec_ask,
    .ask = {CLAPPER__VERB__VERB_RETAKE, "take id", NULL, print_retake},
    .usage = "[options] TAKE",
    .help = "queue a new take (next seed) for the job of a take",
};
