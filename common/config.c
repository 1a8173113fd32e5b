/*
 * config.c - table-driven settings from defaults, file, environment and
 * flags, see config.h.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where a value came from; a default file's source is SRC_FILE + its index,
 * so that a later file's list replaces an earlier one's. */
enum { SRC_DEFAULT, SRC_CONFIG = 1000, SRC_ENV, SRC_ARGV, SRC_FILE = 1 };

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

static int load_file(const cfg_opt_t *opts, size_t nopts, int *list_src, int src,
                     const char *path, const char *const *keys, char *err, size_t errlen) {
  size_t len;
  char *text = util_read_file(path, 1 << 20, &len);
  if (!text)
    return util_fail(err, errlen, "%s%s: %s", src == SRC_CONFIG ? "--config " : "", path,
                     strerror(errno));
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
    bool allowed = !keys;
    for (size_t k = 0; keys && keys[k] && !allowed; k++)
      allowed = !strcmp(keys[k], key);
    if (!o || !allowed || !strcmp(key, "config")) {
      rc = util_fail(err, errlen, "%s:%d: unknown setting '%s'", path, lineno, key);
      break;
    }
    char where[512];
    snprintf(where, sizeof where, "%s:%d: %s", path, lineno, key);
    if ((rc = set_value(o, val, src, &list_src[o - opts], where, err, errlen)) < 0)
      break;
  }
  free(text);
  return rc;
}

/* The arguments getopt_long sees: a copy of argv in which a negative
 * number ("-7", "-5") is masked with a leading \001 so that it reads as a
 * positional argument or an option's value, not as short options. */
static char **mask_numbers(int argc, char **argv) {
  char **v = xcalloc((size_t)argc + 1, sizeof *v);
  for (int i = 0; i < argc; i++)
    v[i] = i && argv[i][0] == '-' && argv[i][1] >= '0' && argv[i][1] <= '9'
               ? xasprintf("\001%s", argv[i])
               : argv[i];
  return v;
}

/* The original of s, an argument of the masked copy v of argv: the
 * masked ones are whole arguments, so their value is argv's. */
static const char *unmask(int argc, char **argv, char **v, const char *s) {
  if (!s || s[0] != '\001')
    return s;
  for (int i = 0; i < argc; i++)
    if (v[i] == s)
      return argv[i];
  return s + 1;
}

static void free_masked(int argc, char **argv, char **v) {
  for (int i = 0; i < argc; i++)
    if (v[i] != argv[i])
      free(v[i]);
  free(v);
}

/* An option given on the command line, in order. */
typedef struct given {
  const cfg_opt_t *o;
  const char *value; /* NULL: a bare boolean */
} given_t;

#define OPT_HELP 1000
#define OPT_VERSION 1001

/* Reads the command line with getopt_long: the options into given (in
 * order, *ngiven of them), the positional arguments into res.  Returns 0,
 * 1 for --help or --version (printed), or -1 with err set. */
static int scan_argv(const cfg_opt_t *opts, size_t nopts, int argc, char **argv,
                     const char *prog, const char *usage, given_t *given, size_t *ngiven,
                     cfg_result_t *res, char *err, size_t errlen) {
  struct option *lopts = xcalloc(nopts + 3, sizeof *lopts);
  sbuf_t shorts = {0};
  sbuf_puts(&shorts, "-:h"); /* in order; ':' reports a missing value */
  for (size_t i = 0; i < nopts; i++) {
    const cfg_opt_t *o = &opts[i];
    lopts[i] = (struct option){o->name, o->type == CFG_BOOL ? optional_argument : required_argument,
                               NULL, 256 + (int)i};
    if (o->short_name)
      sbuf_printf(&shorts, "%c%s", o->short_name, o->type == CFG_BOOL ? "" : ":");
  }
  lopts[nopts] = (struct option){"help", no_argument, NULL, OPT_HELP};
  lopts[nopts + 1] = (struct option){"version", no_argument, NULL, OPT_VERSION};
  char **v = mask_numbers(argc, argv);
  int rc = 0, c, li;
  optind = 0; /* start afresh: a program parses more than once (tests, verbs) */
  opterr = 0;
  *ngiven = 0;
  while (rc == 0 && (li = -1, c = getopt_long(argc, v, shorts.buf, lopts, &li)) != -1) {
    if (c == 1) { /* a positional argument */
      res->pos[res->npos++] = argv[optind - 1];
      continue;
    }
    /* getopt_long takes an unambiguous prefix (--lim for --limit): refuse
     * it, so that a new option never changes what an old command means. */
    const char *arg = v[optind - (optarg && optarg == v[optind - 1] && li >= 0 ? 2 : 1)];
    if (li >= 0 && arg[0] == '-' && arg[1] == '-' &&
        strncmp(arg + 2, lopts[li].name, strlen(lopts[li].name)) != 0) {
      size_t len = strcspn(arg + 2, "=");
      rc = util_fail(err, errlen, "unknown option --%.*s (see %s --help)", (int)len, arg + 2,
                     prog);
      break;
    }
    if (c == '?') {
      if (optopt > 0 && optopt < 256)
        rc = util_fail(err, errlen, "unknown option -%c (see %s --help)", optopt, prog);
      else if (optopt >= 256 && optopt < 256 + (int)nopts)
        rc = util_fail(err, errlen, "option --%s takes no value", opts[optopt - 256].name);
      else if (optopt == OPT_HELP || optopt == OPT_VERSION)
        rc = util_fail(err, errlen, "option --%s takes no value",
                       optopt == OPT_HELP ? "help" : "version");
      else
        rc = util_fail(err, errlen, "unknown option --%.*s (see %s --help)",
                       (int)strcspn(arg + 2, "="), arg + 2, prog);
      break;
    }
    if (c == ':') {
      const cfg_opt_t *o = NULL;
      if (optopt >= 256 && optopt < 256 + (int)nopts)
        o = &opts[optopt - 256];
      for (size_t k = 0; !o && k < nopts; k++)
        if (opts[k].short_name && opts[k].short_name == optopt)
          o = &opts[k];
      rc = util_fail(err, errlen, "option --%s needs a value", o ? o->name : "?");
      break;
    }
    if (c == 'h' || c == OPT_HELP) {
      config_help(stdout, prog, usage, opts, nopts);
      rc = 1;
      break;
    }
    if (c == OPT_VERSION) {
      printf("%s %s\n", prog, CLAPPER_VERSION);
      rc = 1;
      break;
    }
    const cfg_opt_t *o = NULL;
    if (c >= 256 && c < 256 + (int)nopts)
      o = &opts[c - 256];
    for (size_t k = 0; !o && k < nopts; k++)
      if (opts[k].short_name && opts[k].short_name == c)
        o = &opts[k];
    if (!o) {
      rc = util_fail(err, errlen, "unknown option -%c (see %s --help)", c, prog);
      break;
    }
    given[(*ngiven)++] = (given_t){o, unmask(argc, argv, v, optarg)};
  }
  if (rc == 0)
    while (optind < argc) /* after "--" */
      res->pos[res->npos++] = argv[optind++];
  free_masked(argc, argv, v);
  sbuf_free(&shorts);
  free(lopts);
  return rc;
}

int config_parse(const cfg_opt_t *opts, size_t nopts, int argc, char **argv,
                 const char *prog, const char *usage, cfg_result_t *res, char *err,
                 size_t errlen) {
  return config_parse_files(opts, nopts, argc, argv, prog, usage, NULL, NULL, res, err, errlen);
}

int config_parse_files(const cfg_opt_t *opts, size_t nopts, int argc, char **argv,
                       const char *prog, const char *usage, const char *const *files,
                       const char *const *file_keys, cfg_result_t *res, char *err,
                       size_t errlen) {
  int *list_src = xcalloc(nopts ? nopts : 1, sizeof *list_src);
  given_t *given = xcalloc((size_t)argc + 1, sizeof *given);
  size_t ngiven = 0;
  res->pos = xcalloc((size_t)argc + 1, sizeof *res->pos);
  res->npos = 0;
  char where[256];

  int rc = scan_argv(opts, nopts, argc, argv, prog, usage, given, &ngiven, res, err, errlen);
  if (rc != 0)
    goto out;
  rc = -1;
  for (size_t i = 0; i < nopts; i++)
    if (opts[i].def && set_value(&opts[i], opts[i].def, SRC_DEFAULT, &list_src[i],
                                 opts[i].name, err, errlen) < 0)
      goto out;

  /* The default files (the system's, then the user's), each only when it
   * exists; then --config, so that the files sit below environment and
   * flags. */
  for (size_t f = 0; files && files[f]; f++)
    if (files[f][0] && access(files[f], F_OK) == 0 &&
        load_file(opts, nopts, list_src, SRC_FILE + (int)f, files[f], file_keys, err,
                  errlen) < 0)
      goto out;
  for (size_t g = 0; g < ngiven; g++)
    if (!strcmp(given[g].o->name, "config") && given[g].value &&
        load_file(opts, nopts, list_src, SRC_CONFIG, given[g].value, NULL, err, errlen) < 0)
      goto out;

  for (size_t i = 0; i < nopts; i++) {
    const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
    if (v && *v) {
      snprintf(where, sizeof where, "environment %s", opts[i].env);
      if (set_value(&opts[i], v, SRC_ENV, &list_src[i], where, err, errlen) < 0)
        goto out;
    }
  }

  for (size_t g = 0; g < ngiven; g++) {
    const cfg_opt_t *o = given[g].o;
    if (!strcmp(o->name, "config"))
      continue; /* already loaded */
    snprintf(where, sizeof where, "--%s", o->name);
    if (set_value(o, given[g].value ? given[g].value : "true", SRC_ARGV, &list_src[o - opts],
                  where, err, errlen) < 0)
      goto out;
  }
  rc = 0;
out:
  free(given);
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
