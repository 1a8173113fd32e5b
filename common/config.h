/*
 * config.h - one table describes a program's settings.
 *
 * Each entry gives the flag name (also the key in a --config file), its
 * type, an environment variable, a default, a range and a help line.
 * Values come from, in increasing precedence: the default, the program's
 * default files (config_parse_files: the system's, then the user's), the
 * config file named by --config, the environment, and the command line.
 * --help is generated from the table.
 *
 * The command line is read with getopt_long, the GNU conventions: short
 * options cluster (-an2 is -a -n 2, -n3 is -n 3), a long option takes its
 * value as --opt=val or --opt val, a boolean is a bare flag (--all, -a) or
 * --all=false, "--" ends the options, and a negative number ("-7") is an
 * argument or a value, never options.  Long options must be spelled in full
 * (getopt_long's unambiguous prefixes are refused, so that a new option
 * never changes what an old command line means).
 *
 * Config files hold "name = value" lines; '#' starts a comment; a list
 * option may appear several times.
 */
#ifndef CLAPPER_CONFIG_H
#define CLAPPER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

typedef enum {
  CFG_STRING, /* dest: char ** (owned by the table; config_free releases) */
  CFG_INT,    /* dest: long long * */
  CFG_BOOL,   /* dest: bool *; a bare flag sets it, "=false" clears it */
  CFG_LIST,   /* dest: cfg_list_t *; repeatable, also comma-free values */
} cfg_type_t;

typedef struct cfg_list {
  char **items;
  size_t n;
} cfg_list_t;

typedef struct cfg_opt {
  const char *name;    /* "lease-ms": flag --lease-ms, file key lease-ms */
  char short_name;     /* 'f' for -f, or 0 */
  cfg_type_t type;
  const char *env;     /* "CLAPPER_DB", or NULL */
  const char *def;     /* default as text, or NULL for none */
  long long min, max;  /* CFG_INT range */
  const char *metavar; /* "MS" in "--lease-ms MS" */
  const char *help;
  void *dest;
} cfg_opt_t;

typedef struct cfg_result {
  char **pos; /* positional arguments, in order (pointers into argv) */
  int npos;
} cfg_result_t;

/* Parses settings as described above.  Positional arguments may appear
 * anywhere (and everything after "--" is positional); they are returned in
 * res (free res->pos with free()).  --help prints the generated help to
 * stdout and --version the version; both return 1 and the caller exits 0.
 * Returns 0 on success, or -1 with a one-line message in err naming the
 * offending flag, variable or file line. */
int config_parse(const cfg_opt_t *opts, size_t nopts, int argc, char **argv,
                 const char *prog, const char *usage, cfg_result_t *res, char *err,
                 size_t errlen) MUSTCHECK;

/* config_parse, reading first the files of the NULL-terminated list files
 * (lowest precedence first; a file that does not exist is skipped, one
 * that cannot be read or holds an unknown setting is an error naming
 * it), below --config.  file_keys (NULL-terminated; NULL: any) names the
 * settings those files may hold; any other is an unknown setting. */
int config_parse_files(const cfg_opt_t *opts, size_t nopts, int argc, char **argv,
                       const char *prog, const char *usage, const char *const *files,
                       const char *const *file_keys, cfg_result_t *res, char *err,
                       size_t errlen) MUSTCHECK;

/* Prints "usage" and one line per option. */
void config_help(FILE *out, const char *prog, const char *usage, const cfg_opt_t *opts,
                 size_t nopts);

/* Releases strings and lists the table's destinations hold. */
void config_free(const cfg_opt_t *opts, size_t nopts);

#endif
