/*
 * output.h - what the clapper command prints: aligned tables, key: value
 * blocks, CSV records, JSON documents, the progress bar of `clapper wait`,
 * and errors.
 *
 * Every cell is sanitised on the way in (control characters cannot reach
 * the terminal), and an error is always exactly one line on stderr, plus a
 * {"version": 1, "error": {"code", "message"}} document on stdout in --json
 * mode.
 */
#ifndef CLAPPER_CLIENT_OUTPUT_H
#define CLAPPER_CLIENT_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

/* Whether states are shown in colour (SGR sequences): set by cmd_run from
 * --color (auto: when stdout is a terminal and NO_COLOR is unset or
 * empty, https://no-color.org; always; never).  Off by default. */
extern bool output_color;

/* Appends text (NULL: the state's name) in the colour of state when
 * output_color: succeeded, approved and online green; failed, timed_out,
 * lost and offline red; canceled and rejected magenta; running and
 * dispatched cyan; waiting, held, paused, draining and the review states
 * yellow; others uncoloured.  output_line keeps these colour sequences
 * (only when output_color); any other control character is still
 * replaced. */
void output_state(sbuf_t *out, const char *state, const char *text);

/* The error a command reports: a machine-readable code ("unavailable",
 * "invalid_job", "not_found", "usage", ...) and a one-line message. */
typedef struct cli_error {
  char code[48];
  char message[1024];
} cli_error_t;

/* Fills err (code and printf-style message; newlines become spaces). */
void cli_error_set(cli_error_t *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints err as "clapper: MESSAGE" on errf and, when json is true, as
 * {"version": 1, "error": {"code": ..., "message": ...}} on outf. */
void output_error(FILE *outf, FILE *errf, bool json, const cli_error_t *err);

/* Prints s, sanitised like a table cell, and a newline. */
void output_line(FILE *f, const char *s);

/* Prints line as output_line does, releases it (sbuf_free) and flushes f:
 * the end of a one-line human view built in an sbuf_t. */
void output_line_done(FILE *f, sbuf_t *line);

/* Prints doc as indented JSON (two spaces, keys in document order) followed
 * by a newline, with "version" first when the document has none (the
 * documents the command builds itself) and reals without float noise
 * (jsondoc_dump, jsondoc.h). */
void output_json(FILE *f, const json_t *doc);

/* An aligned table: a header row and rows of text cells, columns separated
 * by two spaces, the last column not padded.  Numeric columns may be right
 * aligned.  Zero-initialise, table_init, add cells row by row (left to
 * right), render or print, then table_free; or let output_table do all of
 * that for a JSON array. */
typedef struct out_table {
  size_t ncols;
  size_t ncells;  /* cells added, headers included */
  size_t capcells; /* room in cells */
  char **cells;   /* row-major, owned */
  bool *right;    /* per column: right aligned */
} out_table_t;

/* Starts a table whose columns are the ncols headers.  A header that
 * starts with '>' names a right-aligned column (numbers); the '>' is not
 * shown. */
void table_init(out_table_t *t, size_t ncols, const char *const *headers);
/* Right-aligns column col (numbers). */
void table_align_right(out_table_t *t, size_t col);
/* Adds one cell (NULL shows as "-"); the text is copied and sanitised. */
void table_add(out_table_t *t, const char *cell);
void table_addf(out_table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a state's name, in its colour (output_state). */
void table_add_state(out_table_t *t, const char *state);
/* Adds a cell cut to at most max characters, ending in "..." when cut. */
void table_add_trunc(out_table_t *t, const char *cell, size_t max);
/* Adds the text of a JSON value (see output_json_text). */
void table_add_json(out_table_t *t, const json_t *v);
/* Adds one cell per key of the NULL-terminated list: the text of obj's
 * member key, as table_add_json gives it ("-" when it is missing). */
void table_add_fields(out_table_t *t, const json_t *obj, ...) __attribute__((sentinel));
/* Adds a time stamp as output_time formats it. */
void table_add_time(out_table_t *t, const json_t *v);
/* Appends the table to out; an incomplete last row is padded with "". */
void table_render(const out_table_t *t, sbuf_t *out);
void table_print(const out_table_t *t, FILE *f);
void table_free(out_table_t *t);

/* Prints the table of the ncols headers (as table_init takes them) with one
 * row per element of the JSON array rows, whose cells row(t, element, arg)
 * adds, to f. */
void output_table(FILE *f, size_t ncols, const char *const *headers, const json_t *rows,
                  void (*row)(out_table_t *t, const json_t *item, void *arg), void *arg);

/* The human text of a JSON value, appended to out: strings as they are,
 * integers in decimal, reals as jsondoc_real writes them, true/false, null
 * or missing as "-", arrays and objects as compact JSON. */
void output_json_text(const json_t *v, sbuf_t *out);

/* obj's member key when it is a string other than "", else NULL. */
const char *output_string(const json_t *obj, const char *key);

/* True when some object of the array items has output_string(key): a
 * table shows that column only then. */
bool output_any_string(const json_t *items, const char *key);

/* Appends tmpl with each "{key}" replaced by the text of obj's member key
 * (output_json_text: "-" when it is missing or null), e.g. "job {job_id}
 * {name}: " gives "job 12 sh0420-gen: ".  Every '{' opens a key. */
void output_fill(sbuf_t *out, const json_t *obj, const char *tmpl);

/* RFC 4180 CSV, built in an sbuf_t one record at a time: the caller puts a
 * ',' between fields, appends each with output_csv_field and ends the
 * record with output_csv_end_line.  Cells are not sanitised: CSV quoting
 * carries any text, line breaks included. */

/* Appends s as one CSV field: as it is, or between double quotes with each
 * quote doubled when it holds a comma, a double quote, CR or LF (RFC 4180
 * §2).  NULL is an empty field (nothing is appended). */
void output_csv_field(sbuf_t *out, const char *s);

/* Ends a CSV record with CRLF (RFC 4180 §2). */
void output_csv_end_line(sbuf_t *out);

/* Prints an object as "key: value" lines with the keys aligned, in
 * document order, values as output_json_text gives them; a document's
 * "version" (jsondoc.h) is for programs and is left out. */
void output_kv(FILE *f, const json_t *obj);

/* Display width of a UTF-8 string (code points, colour sequences not
 * counted; good enough for names). */
size_t output_width(const char *s);

/* Appends the one-line progress of `clapper wait` to out, e.g.
 * "[######........................] 120/600 succeeded, 0 failed, 3 running"
 * with a bar of width characters. */
void output_progress(sbuf_t *out, uint64_t succeeded, uint64_t failed, uint64_t running,
                     uint64_t total, unsigned width);

/* Appends a duration of s seconds, rounded: "42s", "3m05s", "2h10m". */
void output_duration(sbuf_t *out, double s);

/* Appends the estimate of `clapper wait` to its progress line: ", ETA
 * ~3m05s", the mean wall time of the ended attempts (wall_s / ended) times
 * the tasks left, over the tasks running now (at least 1); ", ETA: when a
 * task has finished" while no attempt has ended; nothing when none is
 * left. */
void output_eta(sbuf_t *out, double wall_s, uint64_t ended, uint64_t left, uint64_t running);

/* Formats an ISO-8601 time stamp for tables: "2026-11-26T04:10:10.123456Z"
 * becomes "2026-11-26 04:10:10"; anything else is copied as it is. */
void output_time(const json_t *v, sbuf_t *out);

/* Appends an amount of money from a reply (output_json_text) followed by
 * " CURRENCY" unless currency is NULL: "100.000000 USD". */
void output_money(const json_t *amount, const char *currency, sbuf_t *out);

/* Formats megabytes for tables: "512M", "15.6G". */
void output_mb(long long mb, char *buf, size_t len);

#endif
