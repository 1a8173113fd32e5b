/*
 * cmd_audit.c - `clapper audit --episode P/E [--csv]` and `clapper audit
 * --verify`: what an episode's takes became, who decided, what each
 * outcome cost, and whether the event log is intact.
 *
 * The audit sends Request{VERB_AUDIT, name = "p/e"} and gets back
 * {"episode", "currency", "shots": [{"shot" (null: jobs without a shot),
 * "takes": {"generated", "approved", "rejected", "pending",
 * "changes_requested"}, "decisions": [{"take_id", "job", "kind", "state",
 * "decided_by", "decided_at", "note"}], "approved": [{"take_id", "job",
 * "kind", "machine_generated", "model", "model_version", "outputs":
 * [{"path", "sha256"}]}], "cost": {"approved", "rejected", "pending",
 * "changes_requested", "failed_attempts", "other", "total"}, "energy_kwh":
 * {the same keys}}], "totals": {"takes", "cost", "energy_kwh"}}; money is a
 * decimal string, kWh a JSON number.  The human view is one block per shot
 * and a TOTAL block:
 *
 *   audit of episode hod/e1
 *   shot sh010: 3 takes generated, 1 approved, 1 rejected, 1 pending, 0 changes requested
 *     take 7 approved by alice at 2026-11-26T04:10:10.123456Z: looks great
 *     approved take 7: machine-generated (wan-2.1 14b)
 *       sha256 9f86d0...  /farm/out/7/take.mp4
 *     cost USD: approved 1.000000, rejected 0.500000, pending ..., changes requested ...,
 *               failed attempts ..., other ..., total ...            (one line)
 *     energy kWh: approved 0.100, ..., total 0.300                   (one line)
 *   TOTAL: 5 takes generated, ...
 *     cost USD: ...
 *     energy kWh: ...
 *
 * --csv writes one RFC 4180 row per shot (CRLF line ends, a null shot as
 * an empty field) under a header row, and a last row whose first field is
 * TOTAL with the reply's totals: shot, the five take counts, the seven
 * costs and kwh_total (3 decimals, as `clapper cost` prints kWh).  --json
 * prints the reply as it is and cannot be combined with --csv.
 *
 * --head sends Request{VERB_AUDIT_HEAD} and prints the reply's "head",
 * "N:HASH" (the number of events in the chain and the last one's hash, in
 * hex), a line to keep away from the database; --json prints {"events",
 * "hash", "head", "keyed"}.
 *
 * --verify sends Request{VERB_AUDIT_VERIFY} (the whole log; --episode is
 * not needed; with --head N:HASH that head in name, which must be in the
 * log) and gets {"ok", "events", "first_broken" (null when intact),
 * "message", "keyed", "unkeyed", "legacy", "key"} back.  Intact: "event log: 1234 events, hash chain intact",
 * exit 0.  Broken: the error "event log: the chain breaks at event 57:
 * MESSAGE" with code "tampered", exit 1; with --json the reply is printed
 * as it is, and the exit status is still 1.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define AUDIT_USAGE                                                                          \
  "clapper audit --episode PROJECT/EPISODE [--csv] | clapper audit --verify [--head N:HASH] | " \
  "clapper audit --head"

static struct {
  char *episode;
  bool verify;
  bool head;
  bool csv;
} opt;

static const cfg_opt_t audit_opts[] = {
    {"episode", 0, CFG_STRING, NULL, NULL, 0, 0, "PROJECT/EPISODE",
     "the episode to audit (required without --verify)", &opt.episode},
    {"verify", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "check the event log's hash chain instead (the whole log)", &opt.verify},
    {"head", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "print the chain's head (N:HASH) to keep elsewhere; with --verify N:HASH, check that "
     "the log still holds that head (nothing after it was dropped)",
     &opt.head},
    {"csv", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "print RFC 4180 CSV, one row per shot and a TOTAL row", &opt.csv},
};

/* A figure of the reply: its JSON key and how it reads in a sentence. */
typedef struct figure {
  const char *key, *words;
} figure_t;

/* The take counts of a shot or of the totals (the key is the CSV header). */
static const figure_t counts[] = {
    {"generated", "generated"}, {"approved", "approved"}, {"rejected", "rejected"},
    {"pending", "pending"},     {"changes_requested", "changes requested"},
};

/* The outcomes money and energy are split by (CSV header: cost_KEY). */
static const figure_t outcomes[] = {
    {"approved", "approved"},         {"rejected", "rejected"},
    {"pending", "pending"},           {"changes_requested", "changes requested"},
    {"failed_attempts", "failed attempts"}, {"other", "other"},
    {"total", "total"},
};

/* The text of a figure: an amount of energy (kwh) with 3 decimals, money
 * and counts as the reply has them; "-" when null or missing. */
static void figure_text(const json_t *v, bool kwh, sbuf_t *sb) {
  if (kwh && json_is_number(v))
    sbuf_printf(sb, "%.3f", json_number_value(v));
  else
    output_json_text(v, sb);
}

/* ---------------------------------------------------------------- human */

/* "LABEL: 3 takes generated, 1 approved, ..." for a shot or the totals. */
static void print_counts(FILE *out, const char *label, const json_t *takes) {
  sbuf_t line = {0};
  sbuf_printf(&line, "%s: ", label);
  for (size_t k = 0; k < ARRAY_SIZE(counts); k++) {
    const json_t *n = json_object_get(takes, counts[k].key);
    if (k)
      sbuf_puts(&line, ", ");
    output_json_text(n, &line);
    if (k == 0)
      sbuf_puts(&line, json_is_integer(n) && json_integer_value(n) == 1 ? " take" : " takes");
    sbuf_printf(&line, " %s", counts[k].words);
  }
  output_line(out, line.buf);
  sbuf_free(&line);
}

/* "  LABEL: approved V, rejected V, ..." from values, split by outcome:
 * money as the reply has it, or kWh (3 decimals). */
static void print_outcomes(FILE *out, const char *label, const json_t *values, bool kwh) {
  sbuf_t line = {0};
  sbuf_printf(&line, "  %s: ", label);
  for (size_t k = 0; k < ARRAY_SIZE(outcomes); k++) {
    sbuf_printf(&line, "%s%s ", k ? ", " : "", outcomes[k].words);
    figure_text(json_object_get(values, outcomes[k].key), kwh, &line);
  }
  output_line(out, line.buf);
  sbuf_free(&line);
}

/* "  cost USD: approved 1.000000, ..." and "  energy kWh: approved 0.100, ...". */
static void print_figures(FILE *out, const json_t *obj, const char *currency) {
  char *label = currency ? xasprintf("cost %s", currency) : xstrdup("cost");
  print_outcomes(out, label, json_object_get(obj, "cost"), false);
  free(label);
  print_outcomes(out, "energy kWh", json_object_get(obj, "energy_kwh"), true);
}

/* "  take 7 approved by alice at TIME: note". */
static void print_decision(FILE *out, const json_t *d) {
  sbuf_t line = {0};
  sbuf_puts(&line, "  ");
  cmd_review_decision(&line, d, true);
  output_line(out, line.buf);
  sbuf_free(&line);
}

/* "  approved take 7: machine-generated (wan-2.1 14b)" and its outputs. */
static void print_approved(FILE *out, const json_t *a) {
  sbuf_t line = {0};
  output_fill(&line, a, "  approved take {take_id}: ");
  if (json_is_true(json_object_get(a, "machine_generated"))) {
    const char *model = json_string_value(json_object_get(a, "model"));
    const char *version = json_string_value(json_object_get(a, "model_version"));
    sbuf_printf(&line, "machine-generated (%s", model && *model ? model : "model not recorded");
    if (model && *model && version && *version)
      sbuf_printf(&line, " %s", version);
    sbuf_putc(&line, ')');
  } else {
    const char *kind = json_string_value(json_object_get(a, "kind"));
    sbuf_puts(&line, kind && !strcmp(kind, "render") ? "rendered" : "not machine-generated");
  }
  output_line(out, line.buf);
  size_t i;
  json_t *o;
  json_array_foreach(json_object_get(a, "outputs"), i, o) {
    sbuf_reset(&line);
    const char *sha = json_string_value(json_object_get(o, "sha256"));
    sbuf_printf(&line, "    sha256 %s  ", sha && *sha ? sha : "-");
    output_json_text(json_object_get(o, "path"), &line);
    output_line(out, line.buf);
  }
  sbuf_free(&line);
}

static void print_audit(FILE *out, const json_t *doc) {
  const char *currency = json_string_value(json_object_get(doc, "currency"));
  sbuf_t line = {0};
  output_fill(&line, doc, "audit of episode {episode}");
  output_line(out, line.buf);
  size_t i, j;
  json_t *shot, *v;
  json_array_foreach(json_object_get(doc, "shots"), i, shot) {
    sbuf_reset(&line);
    output_fill(&line, shot, "shot {shot}");
    print_counts(out, line.buf, json_object_get(shot, "takes"));
    json_array_foreach(json_object_get(shot, "decisions"), j, v)
      print_decision(out, v);
    json_array_foreach(json_object_get(shot, "approved"), j, v)
      print_approved(out, v);
    print_figures(out, shot, currency);
  }
  const json_t *totals = json_object_get(doc, "totals");
  print_counts(out, "TOTAL", json_object_get(totals, "takes"));
  print_figures(out, totals, currency);
  sbuf_free(&line);
  fflush(out);
}

/* ---------------------------------------------------------------- CSV */

/* Appends ",TEXT" for a JSON value: nothing after the comma when null. */
static void csv_value(sbuf_t *sb, const json_t *v, bool kwh) {
  sbuf_putc(sb, ',');
  if (!v || json_is_null(v))
    return;
  sbuf_t text = {0};
  figure_text(v, kwh, &text);
  output_csv_field(sb, text.buf);
  sbuf_free(&text);
}

/* One row: the label (NULL: empty), then the figures of obj. */
static void csv_row(sbuf_t *sb, const char *label, const json_t *obj) {
  output_csv_field(sb, label);
  const json_t *takes = json_object_get(obj, "takes");
  for (size_t k = 0; k < ARRAY_SIZE(counts); k++)
    csv_value(sb, json_object_get(takes, counts[k].key), false);
  const json_t *cost = json_object_get(obj, "cost");
  for (size_t k = 0; k < ARRAY_SIZE(outcomes); k++)
    csv_value(sb, json_object_get(cost, outcomes[k].key), false);
  csv_value(sb, json_object_get(json_object_get(obj, "energy_kwh"), "total"), true);
  output_csv_end_line(sb);
}

static void print_audit_csv(FILE *out, const json_t *doc) {
  sbuf_t sb = {0};
  sbuf_puts(&sb, "shot");
  for (size_t k = 0; k < ARRAY_SIZE(counts); k++)
    sbuf_printf(&sb, ",%s", counts[k].key);
  for (size_t k = 0; k < ARRAY_SIZE(outcomes); k++)
    sbuf_printf(&sb, ",cost_%s", outcomes[k].key);
  sbuf_puts(&sb, ",kwh_total");
  output_csv_end_line(&sb);
  size_t i;
  json_t *shot;
  json_array_foreach(json_object_get(doc, "shots"), i, shot) {
    const json_t *label = json_object_get(shot, "shot");
    sbuf_t text = {0};
    if (label && !json_is_null(label))
      output_json_text(label, &text);
    csv_row(&sb, text.buf, shot);
    sbuf_free(&text);
  }
  csv_row(&sb, "TOTAL", json_object_get(doc, "totals"));
  fwrite(sb.buf, 1, sb.len, out);
  fflush(out);
  sbuf_free(&sb);
}

static void print_audit_any(FILE *out, const json_t *doc) {
  if (opt.csv)
    print_audit_csv(out, doc);
  else
    print_audit(out, doc);
}

/* ---------------------------------------------------------------- verify */

/* `clapper audit --head`: "N:HASH", a line to keep elsewhere. */
static bool print_head(cmd_ctx_t *ctx, json_t *doc) {
  const char *head = json_string_value(json_object_get(doc, "head"));
  if (!head)
    return false;
  fprintf(ctx->out, "%s\n", head);
  fflush(ctx->out);
  return true;
}

static int head_exec(cmd_ctx_t *ctx) {
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_AUDIT_HEAD;
  json_t *doc = cmd_request(ctx, &req);
  if (!doc)
    return CMD_EXIT_FAIL;
  int status = CMD_EXIT_OK;
  if (ctx->json)
    cmd_print_json(ctx, doc);
  else if (!print_head(ctx, doc))
    status = cmd_fail(ctx, CMD_EXIT_FAIL, "protocol", "event log: the coordinator's answer has no \"head\"");
  json_decref(doc);
  return status;
}

static int verify_exec(cmd_ctx_t *ctx, const char *head) {
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_AUDIT_VERIFY;
  req.name = (char *)(head ? head : "");
  json_t *doc = cmd_request(ctx, &req);
  if (!doc)
    return CMD_EXIT_FAIL;
  int status = CMD_EXIT_OK;
  const json_t *ok = json_object_get(doc, "ok");
  const json_t *events = json_object_get(doc, "events");
  if (ctx->json)
    cmd_print_json(ctx, doc);
  if (!json_is_boolean(ok)) {
    status = cmd_fail(ctx, CMD_EXIT_FAIL, "protocol",
                      "event log: the coordinator's answer has no \"ok\"");
  } else if (json_is_true(ok)) {
    if (!ctx->json) {
      json_int_t n = json_integer_value(events);
      fprintf(ctx->out, "event log: %" JSON_INTEGER_FORMAT " %s, hash chain intact", n,
              n == 1 ? "event" : "events");
      if (json_is_true(json_object_get(doc, "key")))
        fprintf(ctx->out, ", %" JSON_INTEGER_FORMAT " keyed with the audit key",
                json_integer_value(json_object_get(doc, "keyed")));
      if (head)
        fprintf(ctx->out, ", head %s in it", head);
      fputc('\n', ctx->out);
      fflush(ctx->out);
    }
  } else {
    const json_t *first = json_object_get(doc, "first_broken");
    const char *message = json_string_value(json_object_get(doc, "message"));
    sbuf_t where = {0};
    if (json_is_integer(first))
      sbuf_printf(&where, "breaks at event %" JSON_INTEGER_FORMAT, json_integer_value(first));
    else
      sbuf_puts(&where, "is broken");
    status = cmd_fail(ctx, CMD_EXIT_FAIL, "tampered", "event log: the chain %s%s%s", where.buf,
                      message && *message ? ": " : "", message ? message : "");
    sbuf_free(&where);
  }
  json_decref(doc);
  return status;
}

/* ---------------------------------------------------------------- exec */

static int audit_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  if (argc > 0 && !(opt.verify && opt.head))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "audit: too many arguments: '%s' (usage: " AUDIT_USAGE ")", argv[0]);
  if (opt.verify && opt.head && argc != 1)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "audit: --verify --head needs the head, N:HASH as `clapper audit --head` "
                    "printed it");
  if (opt.head && !opt.verify) {
    if (opt.csv || opt.episode)
      return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                      "audit: --head takes no --episode or --csv (usage: " AUDIT_USAGE ")");
    return head_exec(ctx);
  }
  if (opt.verify && opt.csv)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "audit: --verify has no CSV form (use --json for a document)");
  if (opt.csv && ctx->json)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "audit: --csv and --json cannot be combined (choose one)");
  if (opt.verify) {
    /* The chain covers the whole log; an episode named too must still be
     * well formed, so that a typo is not silently ignored. */
    if (opt.episode && cmd_parse_episode(ctx, opt.episode) < 0)
      return CMD_EXIT_USAGE;
    return verify_exec(ctx, opt.head ? argv[0] : NULL);
  }
  if (!opt.episode)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "audit: --episode PROJECT/EPISODE is required (usage: " AUDIT_USAGE ")");
  if (cmd_parse_episode(ctx, opt.episode) < 0)
    return CMD_EXIT_USAGE;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_AUDIT;
  req.name = opt.episode;
  return cmd_show(ctx, &req, print_audit_any);
}

const struct cmd_entry cmd_audit_entry = {
    .name = "audit", CMD_OPTS(audit_opts), .min_args = 0, .max_args = 1, .exec = audit_exec,
    .usage = "--episode PROJECT/EPISODE [--csv] [options]\n"
             "   or: clapper audit --verify [--head N:HASH] [options]\n"
             "   or: clapper audit --head [options]",
    .help = "an episode's takes, decisions and cost by outcome; --verify: the event log; "
            "--head: its head, to keep elsewhere",
};
