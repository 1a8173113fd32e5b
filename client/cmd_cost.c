/*
 * cmd_cost.c - `clapper cost --episode P/E [--by shot|job|kind] [--csv]
 * [--limit N] [--after ID]`: what an episode cost, per shot, job or kind.
 *
 * Sends Request{VERB_COST, name = "p/e", by, limit, after} and gets back
 * {"episode", "currency", "by", "total_cost", "failed_cost", "lost_cost",
 * "gpu_hours", "cpu_hours", "energy_kwh", "budget", "left"} with the rows
 * under "shots", "jobs" or "kinds": each has its labels (shot; job_id, job,
 * kind, shot; kind), "attempts" and the same figures.  Money is a decimal
 * string, hours and kWh are JSON numbers.
 *
 * The human view is a table, one row per group (a null shot reads "-")
 * and a TOTAL row with the reply's totals, then "budget: B USD, left: L"
 * when the episode has a budget.  --csv writes the same cells as RFC 4180
 * CSV (CRLF line ends, fields quoted where needed, null as an empty field)
 * with a header row and a last row whose first field is TOTAL; --json
 * prints the reply as it is and cannot be combined with --csv.  Hours and
 * kWh show 3 decimals in both the table and the CSV, so that the two
 * always agree; the TOTAL row's attempts are the reply's "attempts" when
 * it has one, else the sum of the rows'.
 *
 * By job the rows are a page: at most N jobs (1000 by default) after job
 * ID, in id order; the reply says "more" and "next_after", the totals
 * stay the whole episode's, and when more jobs remain a last line (on
 * stderr with --csv, so that the CSV stays whole) names the --after of the
 * next page.  --limit and --after are refused with another --by.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "costgrid.h"

#define COST_USAGE                                                                         \
  "clapper cost --episode PROJECT/EPISODE [--by shot|job|kind] [--csv] [--limit N] "     \
  "[--after ID]"

static struct {
  char *episode;
  char *by;
  bool csv;
  cmd_page_t page;
} opt;

static const cfg_opt_t cost_opts[] = {
    {"episode", 0, CFG_STRING, NULL, NULL, 0, 0, "PROJECT/EPISODE",
     "the episode to report on (required)", &opt.episode},
    {"by", 0, CFG_STRING, NULL, "shot", 0, 0, "shot|job|kind",
     "one row per shot, per job or per kind of job", &opt.by},
    {"csv", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "print RFC 4180 CSV with a header row and a TOTAL row", &opt.csv},
    CMD_PAGE_OPTS(opt.page, "jobs (with --by job)"),
};

/* ---------------------------------------------------------------- output */

static void print_table(FILE *out, const json_t *doc, const costgrid_grouping_t *gr,
                        const costgrid_t *g) {
  const char *currency = json_string_value(json_object_get(doc, "currency"));
  const char *hdr[COSTGRID_MAX_LABELS + COSTGRID_NFIGURES];
  char *owned[COSTGRID_NFIGURES];
  for (size_t k = 0; k < gr->nlabels; k++)
    hdr[k] = gr->headers[k];
  for (size_t f = 0; f < COSTGRID_NFIGURES; f++) {
    owned[f] = costgrid_figures[f].currency && currency ? xasprintf("%s (%s)", costgrid_figures[f].header, currency)
                                               : xstrdup(costgrid_figures[f].header);
    hdr[gr->nlabels + f] = owned[f];
  }
  out_table_t t;
  table_init(&t, g->ncols, hdr);
  for (size_t f = 0; f < COSTGRID_NFIGURES; f++)
    table_align_right(&t, gr->nlabels + f);
  for (size_t i = 0; i < g->ncells; i++)
    table_add(&t, g->cells[i]); /* NULL reads "-" */
  table_print(&t, out);
  table_free(&t);
  for (size_t f = 0; f < COSTGRID_NFIGURES; f++)
    free(owned[f]);

  const json_t *budget = json_object_get(doc, "budget");
  if (budget && !json_is_null(budget)) {
    sbuf_t line = {0};
    sbuf_puts(&line, "budget: ");
    output_money(budget, currency, &line);
    sbuf_puts(&line, ", left: ");
    output_json_text(json_object_get(doc, "left"), &line);
    output_line(out, line.buf);
    sbuf_free(&line);
  }
  fflush(out);
}

static void print_csv(FILE *out, const costgrid_grouping_t *gr, const costgrid_t *g) {
  sbuf_t sb = {0};
  costgrid_csv(g, gr, &sb);
  fwrite(sb.buf, 1, sb.len, out);
  fflush(out);
  sbuf_free(&sb);
}

static void print_cost(FILE *out, const json_t *doc) {
  const costgrid_grouping_t *gr = costgrid_grouping(opt.by); /* checked by cost_exec */
  costgrid_t g;
  costgrid_build(&g, gr, doc);
  if (opt.csv)
    print_csv(out, gr, &g);
  else
    print_table(out, doc, gr, &g);
  costgrid_free(&g);
  cmd_page_hint(opt.csv ? stderr : out, doc, "jobs");
}

static int cost_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  (void)argv;
  if (!opt.episode)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "cost: --episode PROJECT/EPISODE is required (usage: " COST_USAGE ")");
  if (cmd_parse_episode(ctx, opt.episode) < 0)
    return CMD_EXIT_USAGE;
  if (!costgrid_grouping(opt.by))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "invalid --by '%s': expected shot, job or kind",
                    opt.by);
  if (opt.csv && ctx->json)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "cost: --csv and --json cannot be combined (choose one)");
  if (strcmp(opt.by, "job") != 0 && (opt.page.limit || opt.page.after))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "cost: %s pages the jobs of --by job only",
                    opt.page.after ? "--after" : "--limit");
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_COST;
  if (cmd_page_request(ctx, &opt.page, &req) < 0)
    return CMD_EXIT_USAGE;
  req.all = false;
  req.name = opt.episode;
  req.by = opt.by;
  return cmd_show(ctx, &req, print_cost);
}

const struct cmd_entry cmd_cost_entry = {
    .name = "cost", CMD_OPTS(cost_opts), .min_args = 0, .max_args = 0, .exec = cost_exec,
    .usage = "--episode PROJECT/EPISODE [--by shot|job|kind] [--csv] [--limit N] [--after ID] "
             "[options]",
    .help = "what an episode cost per shot, job or kind (table, CSV or JSON)",
};
