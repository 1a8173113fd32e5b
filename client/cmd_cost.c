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

/* How a report groups its rows. */
typedef struct grouping {
  const char *by;             /* "shot" */
  const char *rows;           /* the reply's key: "shots" */
  size_t nlabels;             /* label columns before the figures */
  const char *const *keys;    /* the labels' JSON keys = CSV header */
  const char *const *headers; /* the labels' table headers */
} grouping_t;

static const char *const shot_keys[] = {"shot"};
static const char *const shot_hdr[] = {"SHOT"};
static const char *const job_keys[] = {"job_id", "job", "kind", "shot"};
static const char *const job_hdr[] = {"ID", "JOB", "KIND", "SHOT"};
static const char *const kind_keys[] = {"kind"};
static const char *const kind_hdr[] = {"KIND"};

static const grouping_t groupings[] = {
    {"shot", "shots", 1, shot_keys, shot_hdr},
    {"job", "jobs", 4, job_keys, job_hdr},
    {"kind", "kinds", 1, kind_keys, kind_hdr},
};

/* The figures after the labels: JSON key (= CSV header), table header. */
enum figure_type { FIG_COUNT, FIG_MONEY, FIG_HOURS };
static const struct {
  const char *key;
  const char *header;
  enum figure_type type;
  bool currency; /* the header names the currency: "COST (USD)" */
} figures[] = {
    {"attempts", "ATTEMPTS", FIG_COUNT, false},   {"total_cost", "COST", FIG_MONEY, true},
    {"failed_cost", "FAILED", FIG_MONEY, false},  {"lost_cost", "LOST", FIG_MONEY, false},
    {"gpu_hours", "GPU-HOURS", FIG_HOURS, false}, {"cpu_hours", "CPU-HOURS", FIG_HOURS, false},
    {"energy_kwh", "KWH", FIG_HOURS, false},
};
#define NFIGURES ARRAY_SIZE(figures)

static const grouping_t *find_grouping(const char *by) {
  for (size_t i = 0; i < ARRAY_SIZE(groupings); i++)
    if (by && !strcmp(groupings[i].by, by))
      return &groupings[i];
  return NULL;
}

/* ---------------------------------------------------------------- cells */

/* The report as text cells, row-major, NULL where the value is null: the
 * rows of the groups, then the TOTAL row.  The table and the CSV both
 * print these cells, so they show the same figures. */
typedef struct grid {
  size_t ncols, nrows;
  size_t ncells; /* nrows * ncols once a row is complete */
  size_t cap;    /* room in cells */
  char **cells;
} grid_t;

static void grid_add(grid_t *g, char *cell) { ARRAY_PUSH(g->cells, g->ncells, g->cap, cell); }

static void grid_free(grid_t *g) {
  for (size_t i = 0; i < g->ncells; i++)
    free(g->cells[i]);
  free(g->cells);
  memset(g, 0, sizeof *g);
}

/* The text of a label or figure of the reply (caller frees), NULL for null
 * or missing. */
static char *cell_text(const json_t *v, enum figure_type type) {
  if (!v || json_is_null(v))
    return NULL;
  if (type == FIG_HOURS && json_is_number(v))
    return xasprintf("%.3f", json_number_value(v));
  sbuf_t sb = {0};
  output_json_text(v, &sb);
  return sbuf_steal(&sb);
}

/* Adds one row: labels from obj (or "TOTAL" and empty labels when total),
 * then the figures of obj, attempts from attempts when it is not NULL. */
static void grid_row(grid_t *g, const grouping_t *gr, const json_t *obj, bool total,
                     const char *attempts) {
  for (size_t k = 0; k < gr->nlabels; k++) {
    if (total)
      grid_add(g, xstrdup(k ? "" : "TOTAL"));
    else
      grid_add(g, cell_text(json_object_get(obj, gr->keys[k]), FIG_COUNT));
  }
  for (size_t f = 0; f < NFIGURES; f++) {
    if (f == 0 && attempts)
      grid_add(g, xstrdup(attempts));
    else
      grid_add(g, cell_text(json_object_get(obj, figures[f].key), figures[f].type));
  }
  g->nrows++;
}

static void grid_build(grid_t *g, const grouping_t *gr, const json_t *doc) {
  memset(g, 0, sizeof *g);
  g->ncols = gr->nlabels + NFIGURES;
  json_int_t attempts = 0;
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(doc, gr->rows), i, row) {
    grid_row(g, gr, row, false, NULL);
    attempts += json_integer_value(json_object_get(row, "attempts"));
  }
  const json_t *total_attempts = json_object_get(doc, "attempts");
  char *sum = json_is_integer(total_attempts)
                  ? xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(total_attempts))
                  : xasprintf("%" JSON_INTEGER_FORMAT, attempts);
  grid_row(g, gr, doc, true, sum);
  free(sum);
}

/* ---------------------------------------------------------------- output */

static void print_table(FILE *out, const json_t *doc, const grouping_t *gr, const grid_t *g) {
  const char *currency = json_string_value(json_object_get(doc, "currency"));
  const char *hdr[ARRAY_SIZE(job_keys) + NFIGURES]; /* the most labels: by job */
  char *owned[NFIGURES];
  for (size_t k = 0; k < gr->nlabels; k++)
    hdr[k] = gr->headers[k];
  for (size_t f = 0; f < NFIGURES; f++) {
    owned[f] = figures[f].currency && currency ? xasprintf("%s (%s)", figures[f].header, currency)
                                               : xstrdup(figures[f].header);
    hdr[gr->nlabels + f] = owned[f];
  }
  out_table_t t;
  table_init(&t, g->ncols, hdr);
  for (size_t f = 0; f < NFIGURES; f++)
    table_align_right(&t, gr->nlabels + f);
  for (size_t i = 0; i < g->ncells; i++)
    table_add(&t, g->cells[i]); /* NULL reads "-" */
  table_print(&t, out);
  table_free(&t);
  for (size_t f = 0; f < NFIGURES; f++)
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

static void print_csv(FILE *out, const grouping_t *gr, const grid_t *g) {
  sbuf_t sb = {0};
  for (size_t c = 0; c < g->ncols; c++) {
    if (c)
      sbuf_putc(&sb, ',');
    output_csv_field(&sb, c < gr->nlabels ? gr->keys[c] : figures[c - gr->nlabels].key);
  }
  output_csv_end_line(&sb);
  for (size_t r = 0; r < g->nrows; r++) {
    for (size_t c = 0; c < g->ncols; c++) {
      if (c)
        sbuf_putc(&sb, ',');
      output_csv_field(&sb, g->cells[r * g->ncols + c]);
    }
    output_csv_end_line(&sb);
  }
  fwrite(sb.buf, 1, sb.len, out);
  fflush(out);
  sbuf_free(&sb);
}

static void print_cost(FILE *out, const json_t *doc) {
  const grouping_t *gr = find_grouping(opt.by); /* checked by cost_exec */
  grid_t g;
  grid_build(&g, gr, doc);
  if (opt.csv)
    print_csv(out, gr, &g);
  else
    print_table(out, doc, gr, &g);
  grid_free(&g);
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
  if (!find_grouping(opt.by))
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
