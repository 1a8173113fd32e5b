/*
 * costgrid.c - a cost report as cells, see costgrid.h.
 */
#include "costgrid.h"

#include <string.h>

#include "jsondoc.h"

static const char *const shot_keys[] = {"shot"};
static const char *const shot_hdr[] = {"SHOT"};
static const char *const job_keys[] = {"job_id", "job", "kind", "shot"};
static const char *const job_hdr[] = {"ID", "JOB", "KIND", "SHOT"};
static const char *const kind_keys[] = {"kind"};
static const char *const kind_hdr[] = {"KIND"};

static const costgrid_grouping_t groupings[] = {
    {"shot", "shots", 1, shot_keys, shot_hdr},
    {"job", "jobs", 4, job_keys, job_hdr},
    {"kind", "kinds", 1, kind_keys, kind_hdr},
};

const costgrid_figure_t costgrid_figures[COSTGRID_NFIGURES] = {
    {"attempts", "ATTEMPTS", COSTGRID_COUNT, false},   {"total_cost", "COST", COSTGRID_MONEY, true},
    {"failed_cost", "FAILED", COSTGRID_MONEY, false},  {"lost_cost", "LOST", COSTGRID_MONEY, false},
    {"gpu_hours", "GPU-HOURS", COSTGRID_HOURS, false}, {"cpu_hours", "CPU-HOURS", COSTGRID_HOURS, false},
    {"energy_kwh", "KWH", COSTGRID_HOURS, false},
};

const costgrid_grouping_t *costgrid_grouping(const char *by) {
  for (size_t i = 0; i < ARRAY_SIZE(groupings); i++)
    if (by && !strcmp(groupings[i].by, by))
      return &groupings[i];
  return NULL;
}

static void add(costgrid_t *g, char *cell) { ARRAY_PUSH(g->cells, g->ncells, g->cap, cell); }

void costgrid_free(costgrid_t *g) {
  for (size_t i = 0; i < g->ncells; i++)
    free(g->cells[i]);
  free(g->cells);
  memset(g, 0, sizeof *g);
}

/* The text of a label or figure (caller frees), NULL for null or missing. */
static char *cell_text(const json_t *v, costgrid_figure_type_t type) {
  if (!v || json_is_null(v))
    return NULL;
  if (type == COSTGRID_HOURS && json_is_number(v))
    return xasprintf("%.3f", json_number_value(v));
  if (json_is_string(v))
    return xstrdup(json_string_value(v));
  sbuf_t sb = {0};
  jsondoc_dump(v, 0, 0, &sb);
  return sbuf_steal(&sb);
}

/* One row: labels from obj (or "TOTAL" and empty labels when total), then
 * the figures of obj, attempts from attempts when it is not NULL. */
static void row(costgrid_t *g, const costgrid_grouping_t *gr, const json_t *obj, bool total,
                const char *attempts) {
  for (size_t k = 0; k < gr->nlabels; k++) {
    if (total)
      add(g, xstrdup(k ? "" : "TOTAL"));
    else
      add(g, cell_text(json_object_get(obj, gr->keys[k]), COSTGRID_COUNT));
  }
  for (size_t f = 0; f < COSTGRID_NFIGURES; f++) {
    if (f == 0 && attempts)
      add(g, xstrdup(attempts));
    else
      add(g, cell_text(json_object_get(obj, costgrid_figures[f].key), costgrid_figures[f].type));
  }
  g->nrows++;
}

void costgrid_build(costgrid_t *g, const costgrid_grouping_t *gr, const json_t *doc) {
  memset(g, 0, sizeof *g);
  g->ncols = gr->nlabels + COSTGRID_NFIGURES;
  json_int_t attempts = 0;
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(doc, gr->rows), i, r) {
    row(g, gr, r, false, NULL);
    attempts += json_integer_value(json_object_get(r, "attempts"));
  }
  const json_t *total_attempts = json_object_get(doc, "attempts");
  char *sum = json_is_integer(total_attempts)
                  ? xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(total_attempts))
                  : xasprintf("%" JSON_INTEGER_FORMAT, attempts);
  row(g, gr, doc, true, sum);
  free(sum);
}

void costgrid_csv_field(sbuf_t *out, const char *s) {
  if (!s)
    return;
  if (!strpbrk(s, ",\"\r\n")) {
    sbuf_puts(out, s);
    return;
  }
  sbuf_putc(out, '"');
  for (; *s; s++) {
    if (*s == '"')
      sbuf_putc(out, '"');
    sbuf_putc(out, *s);
  }
  sbuf_putc(out, '"');
}

void costgrid_csv(const costgrid_t *g, const costgrid_grouping_t *gr, sbuf_t *sb) {
  for (size_t c = 0; c < g->ncols; c++) {
    if (c)
      sbuf_putc(sb, ',');
    costgrid_csv_field(sb, c < gr->nlabels ? gr->keys[c] : costgrid_figures[c - gr->nlabels].key);
  }
  sbuf_puts(sb, "\r\n");
  for (size_t r = 0; r < g->nrows; r++) {
    for (size_t c = 0; c < g->ncols; c++) {
      if (c)
        sbuf_putc(sb, ',');
      costgrid_csv_field(sb, g->cells[r * g->ncols + c]);
    }
    sbuf_puts(sb, "\r\n");
  }
}
