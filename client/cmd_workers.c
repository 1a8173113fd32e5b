/*
 * cmd_workers.c - `clapper workers [--limit N] [--after NAME]`: the worker
 * nodes the coordinator knows.
 *
 * Sends VERB_WORKERS (limit: at most N workers, 0 for the coordinator's
 * default of 1000; after_name: the workers named after NAME) and prints
 * {"workers": [...], "more", "next_after"} as a table, in name order:
 * NAME HOST STATE CPUS MEMORY GPUS FREE (cpus/memory/gpus) RUNNING TAGS
 * POOLS (the pools it is a member of, `clapper pools`) HEARTBEAT, and REASON (why a degraded worker takes no work) when some
 * worker has one.  When more workers remain, a last line names the --after
 * of the next page.
 */
#include <stdlib.h>

#include "cmd.h"
#include "rpc.h"

/* One row of the table: a worker. */
static void worker_row(out_table_t *t, const json_t *w, void *with_reason) {
  char mem[32], freemem[32];
  table_add_fields(t, w, "name", "hostname", NULL);
  table_add_state(t, output_string(w, "state"));
  table_add_fields(t, w, "cpus", NULL);
  output_mb(json_integer_value(json_object_get(w, "memory_mb")), mem, sizeof mem);
  table_add(t, mem);
  table_addf(t, "%zu", json_array_size(json_object_get(w, "gpus")));
  const json_t *fr = json_object_get(w, "free");
  output_mb(json_integer_value(json_object_get(fr, "memory_mb")), freemem, sizeof freemem);
  table_addf(t, "%" JSON_INTEGER_FORMAT "c/%s/%" JSON_INTEGER_FORMAT "g",
             json_integer_value(json_object_get(fr, "cpus")), freemem,
             json_integer_value(json_object_get(fr, "gpus")));
  table_add_fields(t, w, "running", NULL);
  static const char *const lists[] = {"tags", "pools"};
  for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
    sbuf_t sb = {0};
    size_t k;
    json_t *tag;
    json_array_foreach(json_object_get(w, lists[l]), k, tag) {
      if (k)
        sbuf_putc(&sb, ',');
      output_json_text(tag, &sb);
    }
    table_add(t, sb.len ? sb.buf : "-");
    sbuf_free(&sb);
  }
  table_add_time(t, json_object_get(w, "last_heartbeat"));
  if (*(bool *)with_reason)
    table_add(t, output_string(w, "reason"));
}

void cmd_workers_table(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {"NAME",  "HOST", "STATE",    ">CPUS", ">MEMORY",
                                    ">GPUS", "FREE", ">RUNNING", "TAGS", "POOLS", "HEARTBEAT",
                                    "REASON"};
  const json_t *workers = json_object_get(doc, "workers");
  bool reasons = output_any_string(workers, "reason");
  output_table(out, ARRAY_SIZE(hdr) - (reasons ? 0 : 1), hdr, workers, worker_row, &reasons);
  cmd_page_hint(out, doc, "workers");
}

static struct {
  cmd_page_t page;
} opt;

static const cfg_opt_t workers_opts[] = {
    CMD_PAGE_NAME_OPTS(opt.page, "workers"),
};

static int workers_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  (void)argv;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_WORKERS;
  if (cmd_page_request_name(ctx, &opt.page, &req) < 0)
    return CMD_EXIT_USAGE;
  return cmd_show(ctx, &req, cmd_workers_table);
}

const struct cmd_entry cmd_workers_entry = {
    .name = "workers", CMD_OPTS(workers_opts), .min_args = 0, .max_args = 0,
    .exec = workers_exec,
    .usage = "[--limit N] [--after NAME] [options]",
    .help = "list the worker nodes, their resources and what they run",
};
