/*
 * template.c - checking and expanding "{name}" placeholders, see template.h.
 *
 * Every function walks the template with the same scanner, so whatever
 * template_check accepts, template_expand reads the same way.
 */
#include "template.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define NAME_QUOTE_MAX 64 /* longest placeholder text quoted in a message */
#define WIDTH_MAX 20      /* widest zero padding: an int64 has at most 20 characters */
#define JOB_NAME_MAX 64   /* longest NAME in {job:NAME:output_dir} */

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
    [TV_ATTEMPT_ID] = "attempt_id",
    [TV_FRAME] = "frame",
    [TV_JOB_OUTPUT_DIR] = "job:NAME:output_dir",
};

const char *template_var_name(template_var_t v) { return (unsigned)v < TV_COUNT ? names[v] : "?"; }

/* The placeholders whose values are numbers (they take a width). */
#define TV_NUMBERS                                                                                 \
  (TV_BIT(TV_JOB_ID) | TV_BIT(TV_TASK_ID) | TV_BIT(TV_ATTEMPT) | TV_BIT(TV_ATTEMPT_ID) |           \
   TV_BIT(TV_FRAME_START) | TV_BIT(TV_FRAME_END) | TV_BIT(TV_FRAME_STEP) | TV_BIT(TV_FRAME) |      \
   TV_BIT(TV_TAKE) | TV_BIT(TV_SEED))

/* What a token at the current position is. */
enum tok {
  TOK_END,         /* end of the template */
  TOK_TEXT,        /* literal bytes */
  TOK_PLACEHOLDER, /* "{name}" or "{name:spec}" with name made of [a-z_] */
};

typedef struct scan {
  const char *p;
  enum tok tok;
  const char *s;    /* TOK_TEXT: the bytes; TOK_PLACEHOLDER: the name */
  size_t n;
  const char *spec; /* TOK_PLACEHOLDER: after the ':', or NULL without one */
  size_t nspec;
  const char *raw;  /* the whole token as written */
  size_t nraw;
} scan_t;

/* The variable called name (n bytes), or -1. */
static int lookup(const char *name, size_t n) {
  for (int v = 0; v < TV_COUNT; v++)
    if (strlen(names[v]) == n && !memcmp(names[v], name, n))
      return v;
  return -1;
}

static bool all_digits(const char *s, size_t n) {
  if (!n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

/* Advances to the next token.  A run of plain text is one token; "{{" and
 * "}}" are one-byte text tokens of a brace. */
static void next(scan_t *sc) {
  const char *p = sc->p;
  sc->raw = p;
  sc->spec = NULL;
  sc->nspec = 0;
  if (!*p) {
    sc->tok = TOK_END;
    sc->nraw = 0;
    return;
  }
  if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
    sc->tok = TOK_TEXT;
    sc->s = p;
    sc->n = 1;
    sc->p = p + 2;
    sc->nraw = 2;
    return;
  }
  if (p[0] == '{') {
    const char *q = p + 1;
    while ((*q >= 'a' && *q <= 'z') || *q == '_')
      q++;
    size_t n = (size_t)(q - p - 1);
    const char *end = NULL, *spec = NULL;
    if (n && *q == '}') {
      end = q;
    } else if (n && *q == ':') {
      const char *r = q + 1;
      while (*r && *r != '{' && *r != '}')
        r++;
      /* A known word, or a width after any word: a placeholder. */
      if (*r == '}' && (lookup(p + 1, n) >= 0 || all_digits(q + 1, (size_t)(r - q - 1)))) {
        end = r;
        spec = q + 1;
      }
    }
    if (end) {
      sc->tok = TOK_PLACEHOLDER;
      sc->s = p + 1;
      sc->n = n;
      sc->spec = spec;
      sc->nspec = spec ? (size_t)(end - spec) : 0;
      sc->p = end + 1;
      sc->nraw = (size_t)(end + 1 - p);
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
  sc->nraw = sc->n;
}

/* A {job:NAME:output_dir} token: sets *name and *n to NAME. */
static bool job_ref(const scan_t *sc, const char **name, size_t *n) {
  static const char field[] = ":output_dir";
  if (sc->tok != TOK_PLACEHOLDER || !sc->spec || sc->n != 3 || memcmp(sc->s, "job", 3) != 0)
    return false;
  size_t fl = sizeof field - 1;
  if (sc->nspec <= fl || memcmp(sc->spec + sc->nspec - fl, field, fl) != 0)
    return false;
  size_t k = sc->nspec - fl;
  if (k > JOB_NAME_MAX)
    return false;
  for (size_t i = 0; i < k; i++) {
    char ch = sc->spec[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              (i > 0 && (ch == '_' || ch == '.' || ch == '-'));
    if (!ok)
      return false;
  }
  *name = sc->spec;
  *n = k;
  return true;
}

/* The width of a number placeholder's spec "0N", or -1. */
static int width_of(const char *spec, size_t n) {
  if (n < 2 || spec[0] != '0' || spec[1] == '0' || !all_digits(spec, n) || n > 3)
    return -1;
  int w = 0;
  for (size_t i = 1; i < n; i++)
    w = w * 10 + (spec[i] - '0');
  return w <= WIDTH_MAX ? w : -1;
}

/* The variable of a placeholder token (TV_JOB_OUTPUT_DIR for a job
 * reference) and its width (0: none), or -1 with the reason in err. */
static int classify(const scan_t *sc, int *width, char *err, size_t errlen) {
  int cut = (int)(sc->nraw > NAME_QUOTE_MAX ? NAME_QUOTE_MAX : sc->nraw);
  const char *dots = sc->nraw > NAME_QUOTE_MAX ? "...}" : "";
  *width = 0;
  int v = lookup(sc->s, sc->n);
  if (v < 0)
    return util_fail(err, errlen, "unknown placeholder %.*s%s", cut, sc->raw, dots);
  if (!sc->spec)
    return v;
  const char *name;
  size_t nn;
  if (v == TV_JOB && job_ref(sc, &name, &nn))
    return TV_JOB_OUTPUT_DIR;
  if (v == TV_JOB && !all_digits(sc->spec, sc->nspec))
    return util_fail(err, errlen,
                     "placeholder %.*s%s: another job is named as {job:NAME:output_dir}, "
                     "NAME a job of the same file",
                     cut, sc->raw, dots);
  if (!(TV_NUMBERS & TV_BIT(v)))
    return util_fail(err, errlen, "placeholder %.*s%s: only numbers take a width, {%s} is text",
                     cut, sc->raw, dots, names[v]);
  *width = width_of(sc->spec, sc->nspec);
  if (*width < 0)
    return util_fail(err, errlen,
                     "placeholder %.*s%s: the only format is a zero-padded width from 1 to %d, "
                     "such as {%s:04}",
                     cut, sc->raw, dots, WIDTH_MAX, names[v]);
  return v;
}

/* Why a known placeholder may be missing from `allowed`. */
static const char *needs(int v) {
  switch (v) {
  case TV_FRAME_START:
  case TV_FRAME_END:
  case TV_FRAME_STEP:
  case TV_FRAME: return "is only available in a job with frames";
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
    int width;
    int v = classify(&sc, &width, err, errlen);
    if (v < 0)
      return -1;
    if (!(allowed & TV_BIT(v))) {
      int cut = (int)(sc.nraw > NAME_QUOTE_MAX ? NAME_QUOTE_MAX : sc.nraw);
      return util_fail(err, errlen, "placeholder %.*s%s %s", cut, sc.raw,
                       sc.nraw > NAME_QUOTE_MAX ? "...}" : "", needs(v));
    }
    seen |= TV_BIT(v);
  }
  if (used)
    *used = seen;
  return 0;
}

unsigned template_uses(const char *tmpl) {
  unsigned seen = 0;
  scan_t sc = {.p = tmpl ? tmpl : ""};
  for (next(&sc); sc.tok != TOK_END; next(&sc)) {
    int width;
    int v = sc.tok == TOK_PLACEHOLDER ? classify(&sc, &width, NULL, 0) : -1;
    if (v >= 0)
      seen |= TV_BIT(v);
  }
  return seen;
}

int template_job_refs(const char *tmpl, int (*fn)(void *arg, const char *name, size_t n),
                      void *arg) {
  scan_t sc = {.p = tmpl ? tmpl : ""};
  for (next(&sc); sc.tok != TOK_END; next(&sc)) {
    const char *name;
    size_t n;
    if (job_ref(&sc, &name, &n)) {
      int rc = fn(arg, name, n);
      if (rc)
        return rc;
    }
  }
  return 0;
}

/* Appends s with its braces doubled. */
static void put_escaped(sbuf_t *sb, const char *s) {
  for (; s && *s; s++) {
    if (*s == '{' || *s == '}')
      sbuf_append(sb, s, 1);
    sbuf_append(sb, s, 1);
  }
}

char *template_resolve_jobs(const char *tmpl,
                            const char *(*dir)(void *arg, const char *name, size_t n),
                            void *arg) {
  sbuf_t sb = {0};
  scan_t sc = {.p = tmpl ? tmpl : ""};
  for (next(&sc); sc.tok != TOK_END; next(&sc)) {
    const char *name;
    size_t n;
    if (job_ref(&sc, &name, &n))
      put_escaped(&sb, dir(arg, name, n));
    else
      sbuf_append(&sb, sc.raw, sc.nraw);
  }
  return sbuf_steal(&sb);
}

static void put_str(sbuf_t *sb, const char *s) {
  if (s)
    sbuf_puts(sb, s);
}

static void put_u64(sbuf_t *sb, uint64_t x, int width) {
  sbuf_printf(sb, "%0*" PRIu64, width, x);
}

static void put_i64(sbuf_t *sb, int64_t x, int width) {
  sbuf_printf(sb, "%0*" PRId64, width, x);
}

char *template_expand(const char *tmpl, const template_vals_t *vals) {
  static const template_vals_t none = {0};
  if (!vals)
    vals = &none;
  sbuf_t sb = {0};
  scan_t sc = {.p = tmpl ? tmpl : ""};
  for (next(&sc); sc.tok != TOK_END; next(&sc)) {
    int w = 0;
    int v = sc.tok == TOK_PLACEHOLDER ? classify(&sc, &w, NULL, 0) : -1;
    if (v < 0 || v == TV_JOB_OUTPUT_DIR) {
      /* Text, or an unknown or unresolved placeholder in an unchecked
       * template: as written. */
      if (sc.tok == TOK_PLACEHOLDER)
        sbuf_append(&sb, sc.raw, sc.nraw);
      else
        sbuf_append(&sb, sc.s, sc.n);
      continue;
    }
    switch ((template_var_t)v) {
    case TV_PROJECT: put_str(&sb, vals->project); break;
    case TV_EPISODE: put_str(&sb, vals->episode); break;
    case TV_SHOT: put_str(&sb, vals->shot); break;
    case TV_JOB: put_str(&sb, vals->job); break;
    case TV_JOB_ID: put_u64(&sb, vals->job_id, w); break;
    case TV_TASK_ID: put_u64(&sb, vals->task_id, w); break;
    case TV_ATTEMPT: put_u64(&sb, vals->attempt, w); break;
    case TV_ATTEMPT_ID: put_u64(&sb, vals->attempt_id, w); break;
    case TV_FRAME_START: put_i64(&sb, vals->frame_start, w); break;
    case TV_FRAME_END: put_i64(&sb, vals->frame_end, w); break;
    case TV_FRAME_STEP: put_i64(&sb, vals->frame_step, w); break;
    case TV_FRAME: put_i64(&sb, vals->frame, w); break;
    case TV_TAKE: put_i64(&sb, vals->take, w); break;
    case TV_SEED: put_i64(&sb, vals->seed, w); break;
    case TV_OUTPUT_DIR: put_str(&sb, vals->output_dir); break;
    case TV_APPROVED_OUTPUT: put_str(&sb, vals->approved_output); break;
    case TV_JOB_OUTPUT_DIR:
    case TV_COUNT: break;
    }
  }
  return sbuf_steal(&sb);
}
