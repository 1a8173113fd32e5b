/*
 * template.c - checking and expanding "{name}" placeholders, see template.h.
 *
 * Both functions walk the template with the same scanner, so whatever
 * template_check accepts, template_expand reads the same way.
 */
#include "template.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define NAME_QUOTE_MAX 64 /* longest placeholder name quoted in a message */

static const char *const names[TV_COUNT] = {
    [TV_PROJECT] = "project",
    [TV_EPISODE] = "episode",
    [TV_SHOT] = "shot",
    [TV_JOB] = "job",
    [TV_JOB_ID] = "job_id",
    [TV_TASK_ID] = "task_id",
    [TV_ATTEMPT] = "attempt",
    [TV_FRAME_START] = "frame_start",
    [TV_FRAME_END] = "frame_end",
    [TV_FRAME_STEP] = "frame_step",
    [TV_TAKE] = "take",
    [TV_SEED] = "seed",
    [TV_OUTPUT_DIR] = "output_dir",
    [TV_APPROVED_OUTPUT] = "approved_output",
};

const char *template_var_name(template_var_t v) { return (unsigned)v < TV_COUNT ? names[v] : "?"; }

/* What a token at the current position is. */
enum tok {
  TOK_END,         /* end of the template */
  TOK_TEXT,        /* literal bytes */
  TOK_PLACEHOLDER, /* "{name}" with name made of [a-z_] */
};

typedef struct scan {
  const char *p;
  enum tok tok;
  const char *s; /* TOK_TEXT: the bytes; TOK_PLACEHOLDER: the name */
  size_t n;
} scan_t;

/* Advances to the next token.  A run of plain text is one token; "{{" and
 * "}}" are one-byte text tokens of a brace. */
static void next(scan_t *sc) {
  const char *p = sc->p;
  if (!*p) {
    sc->tok = TOK_END;
    return;
  }
  if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
    sc->tok = TOK_TEXT;
    sc->s = p;
    sc->n = 1;
    sc->p = p + 2;
    return;
  }
  if (p[0] == '{') {
    const char *q = p + 1;
    while ((*q >= 'a' && *q <= 'z') || *q == '_')
      q++;
    if (q > p + 1 && *q == '}') {
      sc->tok = TOK_PLACEHOLDER;
      sc->s = p + 1;
      sc->n = (size_t)(q - p - 1);
      sc->p = q + 1;
      return;
    }
  }
  /* Literal text up to the next brace; a lone brace is literal. */
  const char *q = p + 1;
  while (*q && *q != '{' && *q != '}')
    q++;
  sc->tok = TOK_TEXT;
  sc->s = p;
  sc->n = (size_t)(q - p);
  sc->p = q;
}

/* The variable called name (n bytes), or -1. */
static int lookup(const char *name, size_t n) {
  for (int v = 0; v < TV_COUNT; v++)
    if (strlen(names[v]) == n && !memcmp(names[v], name, n))
      return v;
  return -1;
}

/* Why a known placeholder may be missing from `allowed`. */
static const char *needs(int v) {
  switch (v) {
  case TV_FRAME_START:
  case TV_FRAME_END:
  case TV_FRAME_STEP: return "is only available in a job with frames";
  case TV_TAKE: return "is only available in a job with takes";
  case TV_APPROVED_OUTPUT: return "is only available in a job with after_approval";
  default: return "is not available here";
  }
}

int template_check(const char *tmpl, unsigned allowed, unsigned *used, char *err, size_t errlen) {
  unsigned seen = 0;
  scan_t sc = {.p = tmpl ? tmpl : ""};
  for (next(&sc); sc.tok != TOK_END; next(&sc)) {
    if (sc.tok != TOK_PLACEHOLDER)
      continue;
    int v = lookup(sc.s, sc.n);
    if (v < 0)
      return util_fail(err, errlen, "unknown placeholder {%.*s%s}",
                       (int)(sc.n > NAME_QUOTE_MAX ? NAME_QUOTE_MAX : sc.n), sc.s,
                       sc.n > NAME_QUOTE_MAX ? "..." : "");
    if (!(allowed & TV_BIT(v)))
      return util_fail(err, errlen, "placeholder {%s} %s", names[v], needs(v));
    seen |= TV_BIT(v);
  }
  if (used)
    *used = seen;
  return 0;
}

static void put_str(sbuf_t *sb, const char *s) {
  if (s)
    sbuf_puts(sb, s);
}

char *template_expand(const char *tmpl, const template_vals_t *vals) {
  static const template_vals_t none = {0};
  if (!vals)
    vals = &none;
  sbuf_t sb = {0};
  scan_t sc = {.p = tmpl ? tmpl : ""};
  for (next(&sc); sc.tok != TOK_END; next(&sc)) {
    int v = sc.tok == TOK_PLACEHOLDER ? lookup(sc.s, sc.n) : -1;
    if (v < 0) {
      /* Text, or an unknown placeholder in an unchecked template: as is. */
      if (sc.tok == TOK_PLACEHOLDER)
        sbuf_printf(&sb, "{%.*s}", (int)sc.n, sc.s);
      else
        sbuf_append(&sb, sc.s, sc.n);
      continue;
    }
    switch ((template_var_t)v) {
    case TV_PROJECT: put_str(&sb, vals->project); break;
    case TV_EPISODE: put_str(&sb, vals->episode); break;
    case TV_SHOT: put_str(&sb, vals->shot); break;
    case TV_JOB: put_str(&sb, vals->job); break;
    case TV_JOB_ID: sbuf_printf(&sb, "%" PRIu64, vals->job_id); break;
    case TV_TASK_ID: sbuf_printf(&sb, "%" PRIu64, vals->task_id); break;
    case TV_ATTEMPT: sbuf_printf(&sb, "%" PRIu64, vals->attempt); break;
    case TV_FRAME_START: sbuf_printf(&sb, "%" PRId64, vals->frame_start); break;
    case TV_FRAME_END: sbuf_printf(&sb, "%" PRId64, vals->frame_end); break;
    case TV_FRAME_STEP: sbuf_printf(&sb, "%" PRId64, vals->frame_step); break;
    case TV_TAKE: sbuf_printf(&sb, "%" PRId64, vals->take); break;
    case TV_SEED: sbuf_printf(&sb, "%" PRId64, vals->seed); break;
    case TV_OUTPUT_DIR: put_str(&sb, vals->output_dir); break;
    case TV_APPROVED_OUTPUT: put_str(&sb, vals->approved_output); break;
    case TV_COUNT: break;
    }
  }
  return sbuf_steal(&sb);
}
