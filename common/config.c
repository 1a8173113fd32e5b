/*
 * config.c - table-driven settings from defaults, file, environment and
 * flags, see config.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_ARGV };

static void list_clear(cfg_list_t *l) { util_strv_free(&l->items, &l->n); }

static void list_add(cfg_list_t *l, const char *v) {
  l->items = xreallocarray(l->items, l->n + 1, sizeof *l->items);
  l->items[l->n++] = xstrdup(v);
}

/* Stores value into opt's destination.  where names the source for errors.
 * For lists, *list_src tracks which source filled the list so that a
 * higher-precedence source replaces rather than extends it. */
static int set_value(const cfg_opt_t *o, const char *value, int src, int *list_src,
                     const char *where, char *err, size_t errlen) {
  switch (o->type) {
  case CFG_STRING: {
    char **d = o->dest;
    free(*d);
    *d = xstrdup(value);
    return 0;
  }
  case CFG_INT: {
    errno = 0;
    char *end = NULL;
    long long v = strtoll(value, &end, 10);
    if (errno || !end || end == value || *end)
      return util_fail(err, errlen, "%s: '%s' is not an integer", where, value);
    if (v < o->min || v > o->max)
      return util_fail(err, errlen, "%s: %lld is out of range [%lld, %lld]", where, v, o->min,
                       o->max);
    *(long long *)o->dest = v;
    return 0;
  }
  case CFG_BOOL: {
    bool *d = o->dest;
    if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes") ||
        !strcmp(value, "on"))
      *d = true;
    else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no") ||
             !strcmp(value, "off"))
      *d = false;
    else
      return util_fail(err, errlen, "%s: '%s' is not a boolean", where, value);
    return 0;
  }
  case CFG_LIST: {
    cfg_list_t *l = o->dest;
    if (*list_src != src) {
      list_clear(l);
      *list_src = src;
    }
    list_add(l, value);
    return 0;
  }
  }
  return util_fail(err, errlen, "%s: unknown option type", where);
}

static const cfg_opt_t *find(const cfg_opt_t *opts, size_t n, const char *name, size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
      return &opts[i];
  return NULL;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
    s[--n] = '\0';
  return s;
}

static int load_file(const cfg_opt_t *opts, size_t nopts, int *list_src, const char *path,
                     char *err, size_t errlen) {
  size_t len;
  char *text = util_read_file(path, 1 << 20, &len);
  if (!text)
    return util_fail(err, errlen, "--config %s: %s", path, strerror(errno));
  int rc = 0, lineno = 0;
  /* Not strtok: it would skip empty lines and so miscount line numbers. */
  for (char *line = text, *next; line && *line; line = next) {
    lineno++;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    char *hash = strchr(line, '#');
    if (hash)
      *hash = '\0';
    char *s = trim(line);
    if (!*s)
      continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      rc = util_fail(err, errlen, "%s:%d: expected 'name = value'", path, lineno);
      break;
    }
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    const cfg_opt_t *o = find(opts, nopts, key, strlen(key));
    if (!o || !strcmp(key, "config")) {
      rc = util_fail(err, errlen, "%s:%d: unknown setting '%s'", path, lineno, key);
      break;
    }
    char where[512];
    snprintf(where, sizeof where, "%s:%d: %s", path, lineno, key);
    if ((rc = set_value(o, val, SRC_FILE, &list_src[o - opts], where, err, errlen)) < 0)
      break;
  }
  free(text);
  return rc;
}

int config_parse(const cfg_opt_t *opts, size_t nopts, int argc, char **argv,
                 const char *prog, const char *usage, cfg_result_t *res, char *err,
                 size_t errlen) {
  int *list_src = xcalloc(nopts ? nopts : 1, sizeof *list_src);
  res->pos = xcalloc((size_t)argc + 1, sizeof *res->pos);
  res->npos = 0;
  int rc = -1;
  char where[256];

  for (size_t i = 0; i < nopts; i++)
    if (opts[i].def && set_value(&opts[i], opts[i].def, SRC_DEFAULT, &list_src[i],
                                 opts[i].name, err, errlen) < 0)
      goto out;

  /* --config first, so that the file sits below environment and flags. */
  const cfg_opt_t *cfg = find(opts, nopts, "config", 6);
  for (int i = 1; cfg && i < argc; i++) {
    if (!strcmp(argv[i], "--"))
      break;
    const char *path = NULL;
    if (!strcmp(argv[i], "--config") && i + 1 < argc)
      path = argv[i + 1];
    else if (!strncmp(argv[i], "--config=", 9))
      path = argv[i] + 9;
    if (path && load_file(opts, nopts, list_src, path, err, errlen) < 0)
      goto out;
  }

  for (size_t i = 0; i < nopts; i++) {
    const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
    if (v && *v) {
      snprintf(where, sizeof where, "environment %s", opts[i].env);
      if (set_value(&opts[i], v, SRC_ENV, &list_src[i], where, err, errlen) < 0)
        goto out;
    }
  }

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      while (++i < argc)
        res->pos[res->npos++] = argv[i];
      break;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      config_help(stdout, prog, usage, opts, nopts);
      rc = 1;
      goto out;
    }
    if (!strcmp(a, "--version")) {
      printf("%s %s\n", prog, CLAPPER_VERSION);
      rc = 1;
      goto out;
    }
    const cfg_opt_t *o = NULL;
    const char *value = NULL;
    if (a[0] == '-' && a[1] == '-' && a[2]) {
      const char *name = a + 2, *eq = strchr(name, '=');
      size_t len = eq ? (size_t)(eq - name) : strlen(name);
      o = find(opts, nopts, name, len);
      if (!o) {
        rc = util_fail(err, errlen, "unknown option --%.*s (see %s --help)", (int)len, name, prog);
        goto out;
      }
      if (eq)
        value = eq + 1;
    } else if (a[0] == '-' && a[1] && !a[2] && !(a[1] >= '0' && a[1] <= '9')) {
      for (size_t k = 0; k < nopts; k++)
        if (opts[k].short_name == a[1])
          o = &opts[k];
      if (!o) {
        rc = util_fail(err, errlen, "unknown option %s (see %s --help)", a, prog);
        goto out;
      }
    } else {
      res->pos[res->npos++] = argv[i];
      continue;
    }
    if (!value) {
      if (o->type == CFG_BOOL) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        rc = util_fail(err, errlen, "option --%s needs a value", o->name);
        goto out;
      }
    }
    if (!strcmp(o->name, "config"))
      continue; /* already loaded */
    snprintf(where, sizeof where, "--%s", o->name);
    if (set_value(o, value, SRC_ARGV, &list_src[o - opts], where, err, errlen) < 0)
      goto out;
  }
  rc = 0;
out:
  free(list_src);
  if (rc != 0) {
    free(res->pos);
    res->pos = NULL;
    res->npos = 0;
  }
  return rc;
}

void config_help(FILE *out, const char *prog, const char *usage, const cfg_opt_t *opts,
                 size_t nopts) {
  fprintf(out, "usage: %s %s\n\noptions:\n", prog, usage ? usage : "[options]");
  for (size_t i = 0; i < nopts; i++) {
    const cfg_opt_t *o = &opts[i];
    char flag[96];
    int n = 0;
    if (o->short_name)
      n = snprintf(flag, sizeof flag, "-%c, ", o->short_name);
    snprintf(flag + n, sizeof flag - (size_t)n, "--%s%s%s", o->name,
             o->type == CFG_BOOL ? "" : " ", o->type == CFG_BOOL ? "" : o->metavar ? o->metavar : "VALUE");
    fprintf(out, "  %-28s %s", flag, o->help ? o->help : "");
    if (o->def && o->type != CFG_BOOL)
      fprintf(out, " (default %s)", o->def);
    if (o->env)
      fprintf(out, " [env %s]", o->env);
    if (o->type == CFG_LIST)
      fprintf(out, " (repeatable)");
    fputc('\n', out);
  }
  fprintf(out, "  %-28s %s\n  %-28s %s\n", "-h, --help", "show this help",
          "--version", "show the version");
}

void config_free(const cfg_opt_t *opts, size_t nopts) {
  for (size_t i = 0; i < nopts; i++) {
    if (opts[i].type == CFG_STRING) {
      char **d = opts[i].dest;
      free(*d);
      *d = NULL;
    } else if (opts[i].type == CFG_LIST) {
      list_clear(opts[i].dest);
    }
  }
}
