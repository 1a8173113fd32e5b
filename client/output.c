/*
 * output.c - tables, key: value blocks, CSV, JSON, the progress bar and
 * errors of the clapper command, see output.h.
 */
#include "output.h"

#include "costgrid.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "jsondoc.h"

bool output_color;

/* The length of the colour sequence at s ("\033[31m", "\033[0m": ESC [
 * one or two digits m), or 0 when s does not start with one. */
static size_t sgr_len(const char *s) {
  if (s[0] != '\033' || s[1] != '[' || s[2] < '0' || s[2] > '9')
    return 0;
  size_t n = 3;
  if (s[n] >= '0' && s[n] <= '9')
    n++;
  return s[n] == 'm' ? n + 1 : 0;
}

/* Copies s, replacing newlines and tabs by spaces and other control
 * characters (and DEL) by '?', so that neither a table nor an error line
 * can move the cursor or span several lines.  With colours when
 * keep_colors and output_color: a colour sequence (sgr_len) stays, which
 * changes the colour of text and nothing else. */
static char *sanitise_colors(const char *s, bool keep_colors) {
  char *out = xstrdup(s);
  for (unsigned char *p = (unsigned char *)out; *p; p++) {
    size_t keep = keep_colors && output_color ? sgr_len((char *)p) : 0;
    if (keep)
      p += keep - 1;
    else if (*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
    else if (*p < 0x20 || *p == 0x7f)
      *p = '?';
  }
  return out;
}

static char *sanitise(const char *s) { return sanitise_colors(s, false); }

/* The colour of a state's name: green done, red failed, magenta canceled
 * or rejected, cyan at work, yellow held back; NULL for the others. */
static const char *state_color(const char *state) {
  static const struct {
    const char *state, *sgr;
  } colors[] = {
      {"succeeded", "32"}, {"approved", "32"},  {"online", "32"},         {"failed", "31"},
      {"timed_out", "31"}, {"lost", "31"},      {"offline", "31"},        {"canceled", "35"},
      {"rejected", "35"},  {"running", "36"},   {"dispatched", "36"},     {"waiting", "33"},
      {"held", "33"},      {"paused", "33"},    {"draining", "33"},       {"pending_review", "33"},
      {"changes_requested", "33"}, {"degraded", "33"},
  };
  for (size_t i = 0; state && i < ARRAY_SIZE(colors); i++)
    if (!strcmp(state, colors[i].state))
      return colors[i].sgr;
  return NULL;
}

void output_state(sbuf_t *out, const char *state, const char *text) {
  const char *sgr = output_color ? state_color(state) : NULL;
  if (sgr)
    sbuf_printf(out, "\033[%sm", sgr);
  sbuf_puts(out, text ? text : state ? state : "-");
  if (sgr)
    sbuf_puts(out, "\033[0m");
}

void cli_error_set(cli_error_t *err, const char *code, const char *fmt, ...) {
  snprintf(err->code, sizeof err->code, "%s", code);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  for (char *p = err->message; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
}

void output_error(FILE *outf, FILE *errf, bool json, const cli_error_t *err) {
  char *msg = sanitise(err->message[0] ? err->message : "unknown error");
  fprintf(errf, "clapper: %s\n", msg);
  fflush(errf);
  if (json) {
    json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code",
                            err->code[0] ? err->code : "error", "message",
                            err->message[0] ? err->message : "unknown error");
    if (doc) {
      output_json(outf, doc);
      json_decref(doc);
    }
  }
  free(msg);
}

void output_line(FILE *f, const char *s) {
  char *clean = sanitise_colors(s ? s : "", true);
  fprintf(f, "%s\n", clean);
  free(clean);
}

void output_line_done(FILE *f, sbuf_t *line) {
  output_line(f, line->buf);
  sbuf_free(line);
  fflush(f);
}

void output_json(FILE *f, const json_t *doc) {
  sbuf_t sb = {0};
  jsondoc_dump(doc, 2, JSONDOC_ADD_VERSION, &sb);
  sbuf_putc(&sb, '\n');
  fwrite(sb.buf, 1, sb.len, f);
  sbuf_free(&sb);
  fflush(f);
}

/* ---------------------------------------------------------------- tables */

void table_init(out_table_t *t, size_t ncols, const char *const *headers) {
  memset(t, 0, sizeof *t);
  t->ncols = ncols;
  t->right = xcalloc(ncols, sizeof *t->right);
  for (size_t i = 0; i < ncols; i++) {
    const char *h = headers[i];
    if (h[0] == '>') {
      t->right[i] = true;
      h++;
    }
    table_add(t, h);
  }
}

void table_align_right(out_table_t *t, size_t col) {
  if (col < t->ncols)
    t->right[col] = true;
}

static void add_owned(out_table_t *t, char *cell) {
  ARRAY_PUSH(t->cells, t->ncells, t->capcells, cell);
}

void table_add(out_table_t *t, const char *cell) {
  add_owned(t, sanitise(cell ? cell : "-"));
}

void table_addf(out_table_t *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    s = NULL;
  va_end(ap);
  table_add(t, s ? s : "?");
  free(s);
}

void table_add_state(out_table_t *t, const char *state) {
  char *clean = sanitise(state ? state : "-");
  sbuf_t sb = {0};
  output_state(&sb, clean, NULL);
  add_owned(t, sbuf_steal(&sb));
  free(clean);
}

void table_add_trunc(out_table_t *t, const char *cell, size_t max) {
  if (!cell || max < 4 || output_width(cell) <= max) {
    table_add(t, cell);
    return;
  }
  /* Cut after max - 3 code points, never inside a UTF-8 sequence. */
  size_t points = 0, i = 0;
  for (; cell[i]; i++) {
    if (((unsigned char)cell[i] & 0xc0) != 0x80) {
      if (points == max - 3)
        break;
      points++;
    }
  }
  char *cut = xmalloc(i + 4);
  memcpy(cut, cell, i);
  memcpy(cut + i, "...", 4);
  add_owned(t, sanitise(cut));
  free(cut);
}

void table_add_json(out_table_t *t, const json_t *v) {
  sbuf_t sb = {0};
  output_json_text(v, &sb);
  table_add(t, sb.buf ? sb.buf : "");
  sbuf_free(&sb);
}

void table_add_fields(out_table_t *t, const json_t *obj, ...) {
  va_list ap;
  va_start(ap, obj);
  for (const char *key; (key = va_arg(ap, const char *));)
    table_add_json(t, json_object_get(obj, key));
  va_end(ap);
}

void table_add_time(out_table_t *t, const json_t *v) {
  sbuf_t sb = {0};
  output_time(v, &sb);
  table_add(t, sb.buf);
  sbuf_free(&sb);
}

size_t output_width(const char *s) {
  size_t n = 0;
  while (*s) {
    size_t sgr = sgr_len(s);
    if (sgr) {
      s += sgr;
      continue;
    }
    if (((unsigned char)*s & 0xc0) != 0x80)
      n++;
    s++;
  }
  return n;
}

static void pad(sbuf_t *out, size_t n) {
  while (n--)
    sbuf_putc(out, ' ');
}

void table_render(const out_table_t *t, sbuf_t *out) {
  if (!t->ncols)
    return;
  size_t nrows = (t->ncells + t->ncols - 1) / t->ncols;
  size_t *w = xcalloc(t->ncols, sizeof *w);
  for (size_t i = 0; i < t->ncells; i++) {
    size_t cw = output_width(t->cells[i]);
    if (cw > w[i % t->ncols])
      w[i % t->ncols] = cw;
  }
  for (size_t r = 0; r < nrows; r++) {
    size_t line_start = out->len;
    for (size_t c = 0; c < t->ncols; c++) {
      size_t i = r * t->ncols + c;
      const char *cell = i < t->ncells ? t->cells[i] : "";
      size_t cw = output_width(cell);
      if (c)
        sbuf_puts(out, "  ");
      if (t->right[c])
        pad(out, w[c] - cw);
      sbuf_puts(out, cell);
      if (!t->right[c] && c + 1 < t->ncols)
        pad(out, w[c] - cw);
    }
    /* No trailing blanks (an empty last column leaves some). */
    while (out->len > line_start && out->buf[out->len - 1] == ' ')
      out->buf[--out->len] = '\0';
    sbuf_putc(out, '\n');
  }
  free(w);
}

void table_print(const out_table_t *t, FILE *f) {
  sbuf_t sb = {0};
  table_render(t, &sb);
  if (sb.len)
    fwrite(sb.buf, 1, sb.len, f);
  fflush(f);
  sbuf_free(&sb);
}

void table_free(out_table_t *t) {
  for (size_t i = 0; i < t->ncells; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t->right);
  memset(t, 0, sizeof *t);
}

void output_table(FILE *f, size_t ncols, const char *const *headers, const json_t *rows,
                  void (*row)(out_table_t *t, const json_t *item, void *arg), void *arg) {
  out_table_t t;
  table_init(&t, ncols, headers);
  size_t i;
  json_t *item;
  json_array_foreach(rows, i, item)
    row(&t, item, arg);
  table_print(&t, f);
  table_free(&t);
}

/* ---------------------------------------------------------------- values */

void output_json_text(const json_t *v, sbuf_t *out) {
  if (!v || json_is_null(v)) {
    sbuf_puts(out, "-");
    return;
  }
  if (json_is_string(v))
    sbuf_append(out, json_string_value(v), json_string_length(v));
  else /* numbers as jsondoc prints them, arrays and objects compact */
    jsondoc_dump(v, 0, 0, out);
}

const char *output_string(const json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s && *s ? s : NULL;
}

bool output_any_string(const json_t *items, const char *key) {
  size_t i;
  json_t *v;
  json_array_foreach(items, i, v) {
    if (output_string(v, key))
      return true;
  }
  return false;
}

void output_fill(sbuf_t *out, const json_t *obj, const char *tmpl) {
  const char *p = tmpl, *open, *close;
  while ((open = strchr(p, '{')) && (close = strchr(open, '}'))) {
    sbuf_append(out, p, (size_t)(open - p));
    char *key = xstrndup(open + 1, (size_t)(close - open - 1));
    output_json_text(json_object_get(obj, key), out);
    free(key);
    p = close + 1;
  }
  sbuf_puts(out, p);
}

void output_csv_field(sbuf_t *out, const char *s) { costgrid_csv_field(out, s); }

void output_csv_end_line(sbuf_t *out) { sbuf_puts(out, "\r\n"); }

void output_kv(FILE *f, const json_t *obj) {
  const char *key;
  json_t *v;
  size_t w = 0;
  json_object_foreach((json_t *)obj, key, v) {
    if (!strcmp(key, "version"))
      continue;
    size_t kw = output_width(key);
    if (kw > w)
      w = kw;
  }
  sbuf_t sb = {0};
  json_object_foreach((json_t *)obj, key, v) {
    if (!strcmp(key, "version"))
      continue;
    sbuf_reset(&sb);
    output_json_text(v, &sb);
    char *k = sanitise(key), *val = sanitise(sb.buf ? sb.buf : "");
    fprintf(f, "%s:%*s %s\n", k, (int)(w - output_width(key)), "", val);
    free(k);
    free(val);
  }
  sbuf_free(&sb);
  fflush(f);
}

void output_progress(sbuf_t *out, uint64_t succeeded, uint64_t failed, uint64_t running,
                     uint64_t total, unsigned width) {
  uint64_t fill = total ? (succeeded >= total ? width : succeeded * width / total) : 0;
  sbuf_putc(out, '[');
  for (unsigned i = 0; i < width; i++)
    sbuf_putc(out, i < fill ? '#' : '.');
  sbuf_printf(out, "] %" PRIu64 "/%" PRIu64 " succeeded, %" PRIu64 " failed, %" PRIu64
                   " running",
              succeeded, total, failed, running);
}

void output_duration(sbuf_t *out, double s) {
  long long n = s < 0 ? 0 : s > 3.6e8 ? 360000000LL : (long long)(s + 0.5);
  if (n >= 3600)
    sbuf_printf(out, "%lldh%02lldm", n / 3600, n / 60 % 60);
  else if (n >= 60)
    sbuf_printf(out, "%lldm%02llds", n / 60, n % 60);
  else
    sbuf_printf(out, "%llds", n);
}

void output_eta(sbuf_t *out, double wall_s, uint64_t ended, uint64_t left, uint64_t running) {
  if (!left)
    return;
  if (!ended) {
    sbuf_puts(out, ", ETA: when a task has finished");
    return;
  }
  sbuf_puts(out, ", ETA ~");
  output_duration(out, wall_s / (double)ended * (double)left / (double)(running ? running : 1));
}

void output_time(const json_t *v, sbuf_t *out) {
  const char *s = json_string_value(v);
  /* "YYYY-MM-DDTHH:MM:SS..." */
  if (s && strlen(s) >= 19 && s[10] == 'T') {
    sbuf_append(out, s, 10);
    sbuf_putc(out, ' ');
    sbuf_append(out, s + 11, 8);
    return;
  }
  output_json_text(v, out);
}

void output_money(const json_t *amount, const char *currency, sbuf_t *out) {
  output_json_text(amount, out);
  if (currency)
    sbuf_printf(out, " %s", currency);
}

void output_mb(long long mb, char *buf, size_t len) {
  if (mb < 1024)
    snprintf(buf, len, "%lldM", mb);
  else if (mb < 1024LL * 1024)
    snprintf(buf, len, "%.1fG", (double)mb / 1024.0);
  else
    snprintf(buf, len, "%.1fT", (double)mb / (1024.0 * 1024.0));
}
