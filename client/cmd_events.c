/*
 * cmd_events.c - `clapper events [--after N] [--kind PREFIX]`: the event
 * log, in its order.
 *
 * Sends Request{VERB_EVENTS, after, kind, limit} and gets {"events":
 * [{"id" (the event's position in the log), "kind", "at", "actor",
 * "subject_type", "subject_id", "details"}], "more", "next_after"}
 * (docs/json.md).  The human view is a table:
 *
 *   ID  AT  ACTOR  KIND  SUBJECT  DETAILS
 *
 * The same pages are GET /api/v1/events on the HTTP side, and the live
 * stream (GET /api/v1/events/stream) resumes from an ID of this list.
 */
#include <string.h>

#include "cmd.h"

#define DETAILS_COLUMN_MAX 60

static struct {
  char *kind;
  cmd_page_t page;
} opt;

static const cfg_opt_t events_opts[] = {
    {"kind", 0, CFG_STRING, NULL, NULL, 0, 0, "PREFIX",
     "only events whose kind starts with PREFIX (take., job.state, worker.)", &opt.kind},
    CMD_PAGE_OPTS(opt.page, "events"),
};

static void event_row(out_table_t *t, const json_t *e, void *arg) {
  (void)arg;
  table_add_json(t, json_object_get(e, "id"));
  table_add_time(t, json_object_get(e, "at"));
  table_add_fields(t, e, "actor", "kind", NULL);
  table_addf(t, "%s %s", output_string(e, "subject_type"), output_string(e, "subject_id"));
  char *details = json_dumps(json_object_get(e, "details"), JSON_COMPACT | JSON_SORT_KEYS);
  table_add_trunc(t, details ? details : "-", DETAILS_COLUMN_MAX);
  free(details);
}

static void print_events(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {">ID", "AT", "ACTOR", "KIND", "SUBJECT", "DETAILS"};
  const json_t *events = json_object_get(doc, "events");
  if (json_array_size(events) == 0) {
    output_line(out, "no events");
    fflush(out);
    return;
  }
  output_table(out, ARRAY_SIZE(hdr), hdr, events, event_row, NULL);
  cmd_page_hint(out, doc, "events");
}

static int events_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  (void)argv;
  if (opt.kind && strlen(opt.kind) > 64)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "--kind: at most 64 bytes");
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_EVENTS;
  if (cmd_page_request(ctx, &opt.page, &req) < 0)
    return CMD_EXIT_USAGE;
  if (opt.kind)
    req.kind = opt.kind;
  return cmd_show(ctx, &req, print_events);
}

const struct cmd_entry cmd_events_entry = {
    .name = "events", CMD_OPTS(events_opts), .min_args = 0, .max_args = 0, .exec = events_exec,
    .usage = "[--kind PREFIX] [--limit N] [--after ID] [options]",
    .help = "list the event log: who did what, when, oldest first",
};
