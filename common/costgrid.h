/*
 * costgrid.h - a cost report as cells: the one layout that `clapper cost`
 * prints as a table or as CSV, and that the HTTP API serves as CSV
 * (GET /api/v1/episodes/P/E/cost?format=csv), so both give the same
 * figures.
 *
 * The report is the COST verb's document: {"currency", "attempts",
 * "total_cost", ..., "shots"|"jobs"|"kinds": [rows]}.  The cells are the
 * rows' labels and figures in row-major order, then a TOTAL row with the
 * document's totals; NULL where a value is null.  Hours and kWh carry 3
 * decimals, money its decimal string.
 */
#ifndef CLAPPER_COSTGRID_H
#define CLAPPER_COSTGRID_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* How a report groups its rows. */
typedef struct costgrid_grouping {
  const char *by;             /* "shot" */
  const char *rows;           /* the reply's key: "shots" */
  size_t nlabels;             /* label columns before the figures */
  const char *const *keys;    /* the labels' JSON keys = CSV header */
  const char *const *headers; /* the labels' table headers */
} costgrid_grouping_t;

/* The figures after the labels: JSON key (= CSV header), table header. */
typedef enum costgrid_figure_type { COSTGRID_COUNT, COSTGRID_MONEY, COSTGRID_HOURS } costgrid_figure_type_t;
typedef struct costgrid_figure {
  const char *key;
  const char *header;
  costgrid_figure_type_t type;
  bool currency; /* the header names the currency: "COST (USD)" */
} costgrid_figure_t;

extern const costgrid_figure_t costgrid_figures[];
#define COSTGRID_NFIGURES 7
#define COSTGRID_MAX_LABELS 4

/* The grouping of by ("shot", "job", "kind"), or NULL. */
const costgrid_grouping_t *costgrid_grouping(const char *by);

typedef struct costgrid {
  size_t ncols, nrows;
  size_t ncells; /* nrows * ncols once a row is complete */
  size_t cap;    /* room in cells */
  char **cells;
} costgrid_t;

void costgrid_build(costgrid_t *g, const costgrid_grouping_t *gr, const json_t *doc);
void costgrid_free(costgrid_t *g);

/* RFC 4180: a header row (the JSON keys), the rows, CRLF line ends, fields
 * quoted where needed, null as an empty field. */
void costgrid_csv(const costgrid_t *g, const costgrid_grouping_t *gr, sbuf_t *out);

/* One CSV field (quoted when it holds , " CR or LF; NULL: empty). */
void costgrid_csv_field(sbuf_t *out, const char *s);

#endif
