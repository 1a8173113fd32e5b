/*
 * gendoc.c - the bash and zsh completion and the clapper(1) page, made at
 * build time from the verb table, see cmd_gendoc in cmd.h.
 *
 * Everything comes from the entries (name, usage, help, option table) and
 * cmd_common_opts, so that a new verb or option is completed and
 * documented without another edit.  Per option, completion offers its
 * --long and -s names; after an option that takes a FILE or DIR it
 * completes file names, after --color its three values, after --state of
 * jobs the job states, and otherwise nothing (the value is the user's);
 * arguments complete as file names (submit's job file), and `clapper
 * help` completes verbs.
 */
#include <errno.h>
#include <string.h>

#include "cmd.h"

/* Whether an option's value is a path (completed as file names). */
static bool takes_path(const cfg_opt_t *o) {
  return o->type != CFG_BOOL && o->metavar &&
         (!strcmp(o->metavar, "FILE") || !strcmp(o->metavar, "DIR"));
}

/* The options of e (its own, then the common ones) one by one: i from 0
 * while it returns non-NULL. */
static const cfg_opt_t *opt_at(const struct cmd_entry *e, size_t i) {
  if (i < e->nopts)
    return &e->opts[i];
  return i - e->nopts < CMD_NCOMMON ? &cmd_common_opts[i - e->nopts] : NULL;
}

/* ---------------------------------------------------------------- bash */

static void gen_bash(FILE *f, const struct cmd_entry *const *t, size_t n) {
  fprintf(f, "# bash completion for clapper(1), generated from its verb table by\n"
             "# `clapper __gendoc bash` at build time; do not edit.\n"
             "_clapper() {\n"
             "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
             "  local verbs=\"help");
  for (size_t i = 0; i < n; i++)
    fprintf(f, " %s", t[i]->name);
  fprintf(f, "\"\n  if [ \"$COMP_CWORD\" -le 1 ]; then\n"
             "    COMPREPLY=($(compgen -W \"$verbs\" -- \"$cur\"))\n    return\n  fi\n"
             "  local opts=\"--help --version\" values=\"\" paths=\"\"\n"
             "  case ${COMP_WORDS[1]} in\n");
  for (size_t i = 0; i < n; i++) {
    const struct cmd_entry *e = t[i];
    sbuf_t opts = {0}, values = {0}, paths = {0};
    const cfg_opt_t *o;
    for (size_t k = 0; (o = opt_at(e, k)); k++) {
      sbuf_printf(&opts, " --%s", o->name);
      if (o->short_name)
        sbuf_printf(&opts, " -%c", o->short_name);
      if (o->type == CFG_BOOL)
        continue;
      sbuf_t *into = takes_path(o) ? &paths : &values;
      sbuf_printf(into, " --%s", o->name);
      if (o->short_name)
        sbuf_printf(into, " -%c", o->short_name);
    }
    fprintf(f, "    %s) opts=\"--help --version%s\" values=\"%s \" paths=\"%s \" ;;\n", e->name,
            opts.buf ? opts.buf : "", values.buf ? values.buf : "", paths.buf ? paths.buf : "");
    sbuf_free(&opts);
    sbuf_free(&values);
    sbuf_free(&paths);
  }
  fprintf(f, "  esac\n"
             "  case \"${COMP_WORDS[1]} $prev\" in\n"
             "    \"jobs --state\" | \"jobs -s\")\n"
             "      COMPREPLY=($(compgen -W \"waiting queued running paused held succeeded "
             "failed canceled\" -- \"$cur\"))\n      return ;;\n"
             "    *\" --color\")\n"
             "      COMPREPLY=($(compgen -W \"auto always never\" -- \"$cur\"))\n"
             "      return ;;\n"
             "  esac\n"
             "  if [[ \"$paths\" == *\" $prev \"* ]]; then\n"
             "    COMPREPLY=($(compgen -f -- \"$cur\"))\n    return\n  fi\n"
             "  if [[ \"$values\" == *\" $prev \"* ]]; then\n"
             "    COMPREPLY=()\n    return\n  fi\n"
             "  if [[ \"$cur\" == -* ]]; then\n"
             "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
             "  elif [ \"${COMP_WORDS[1]}\" = help ]; then\n"
             "    COMPREPLY=($(compgen -W \"$verbs\" -- \"$cur\"))\n"
             "  else\n"
             "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
             "  fi\n"
             "}\n"
             "complete -F _clapper clapper\n");
}

/* ---------------------------------------------------------------- zsh */

/* Appends s for the inside of a single-quoted zsh word that _arguments
 * reads: ' closes and reopens the quotes, [ ] and : are escaped. */
static void zsh_text(sbuf_t *out, const char *s) {
  for (; s && *s; s++) {
    if (*s == '\'')
      sbuf_puts(out, "'\\''");
    else if (*s == '[' || *s == ']' || *s == ':')
      sbuf_printf(out, "\\%c", *s);
    else if (*s == '\n')
      sbuf_putc(out, ' ');
    else
      sbuf_putc(out, *s);
  }
}

/* One _arguments spec per name of o. */
static void zsh_opt(sbuf_t *out, const cfg_opt_t *o, const char *verb) {
  const char *action = takes_path(o) ? "_files" : "";
  char values[160] = "";
  if (!strcmp(o->name, "color"))
    action = "(auto always never)";
  else if (!strcmp(verb, "jobs") && !strcmp(o->name, "state")) {
    snprintf(values, sizeof values,
             "_sequence compadd - waiting queued running paused held succeeded failed canceled");
    action = values;
  }
  for (int form = 0; form < 2; form++) {
    if (form == 1 && !o->short_name)
      break;
    sbuf_puts(out, " \\\n      '");
    if (form == 0)
      sbuf_printf(out, "--%s%s", o->name, o->type == CFG_BOOL ? "" : "=");
    else
      sbuf_printf(out, "-%c%s", o->short_name, o->type == CFG_BOOL ? "" : "+");
    sbuf_putc(out, '[');
    zsh_text(out, o->help);
    sbuf_putc(out, ']');
    if (o->type != CFG_BOOL) {
      sbuf_putc(out, ':');
      zsh_text(out, o->metavar ? o->metavar : "VALUE");
      sbuf_printf(out, ":%s", action);
    }
    sbuf_putc(out, '\'');
  }
}

static void gen_zsh(FILE *f, const struct cmd_entry *const *t, size_t n) {
  fprintf(f, "#compdef clapper\n"
             "# zsh completion for clapper(1), generated from its verb table by\n"
             "# `clapper __gendoc zsh` at build time; do not edit.\n"
             "_clapper() {\n"
             "  local -a verbs\n"
             "  verbs=(\n");
  for (size_t i = 0; i < n; i++) {
    sbuf_t d = {0};
    zsh_text(&d, t[i]->help);
    fprintf(f, "    '%s:%s'\n", t[i]->name, d.buf ? d.buf : "");
    sbuf_free(&d);
  }
  fprintf(f, "    'help:show the help of clapper or of a verb'\n"
             "  )\n"
             "  if (( CURRENT == 2 )); then\n"
             "    _describe -t verbs 'clapper verb' verbs\n"
             "    return\n"
             "  fi\n"
             "  local verb=$words[2]\n"
             "  shift words\n"
             "  (( CURRENT-- ))\n"
             "  case $verb in\n"
             "    help) _describe -t verbs 'clapper verb' verbs ;;\n");
  for (size_t i = 0; i < n; i++) {
    const struct cmd_entry *e = t[i];
    sbuf_t specs = {0};
    const cfg_opt_t *o;
    for (size_t k = 0; (o = opt_at(e, k)); k++)
      zsh_opt(&specs, o, e->name);
    fprintf(f, "    %s)\n      _arguments -s '--help[show the help of %s]' '--version[show the "
               "version]'%s \\\n"
               "        '*:argument:_files' ;;\n",
            e->name, e->name, specs.buf ? specs.buf : "");
    sbuf_free(&specs);
  }
  fprintf(f, "  esac\n}\n_clapper \"$@\"\n");
}

/* ---------------------------------------------------------------- man */

/* Appends s as roff text: backslashes and minus signs escaped, a line
 * that would start with a control character ('.' or ') guarded, each
 * newline of s a line break. */
static void roff(FILE *f, const char *s) {
  bool bol = true;
  for (; s && *s; s++) {
    if (bol && (*s == '.' || *s == '\''))
      fputs("\\&", f);
    bol = false;
    if (*s == '\\')
      fputs("\\e", f);
    else if (*s == '-')
      fputs("\\-", f);
    else if (*s == '\n') {
      fputs("\n.br\n", f);
      bol = true;
    } else
      fputc(*s, f);
  }
}

static void man_opt(FILE *f, const cfg_opt_t *o) {
  fputs(".TP\n.B ", f);
  if (o->short_name)
    fprintf(f, "\\-%c, ", o->short_name);
  fputs("\\-\\-", f);
  roff(f, o->name);
  if (o->type != CFG_BOOL) {
    fputs(" \\fI", f);
    roff(f, o->metavar ? o->metavar : "VALUE");
    fputs("\\fR", f);
  }
  fputc('\n', f);
  roff(f, o->help);
  if (o->def && o->type != CFG_BOOL) {
    fputs(" (default ", f);
    roff(f, o->def);
    fputc(')', f);
  }
  if (o->env) {
    fputs(" [env ", f);
    roff(f, o->env);
    fputc(']', f);
  }
  fputc('\n', f);
}

static void gen_man(FILE *f, const struct cmd_entry *const *t, size_t n) {
  fprintf(f, ".\\\" clapper(1), generated from the verb table by `clapper __gendoc man`.\n"
             ".TH CLAPPER 1 \"\" \"clapper %s\" \"User Commands\"\n"
             ".SH NAME\nclapper \\- submit and watch render and generation jobs on a clapper "
             "farm\n"
             ".SH SYNOPSIS\n.B clapper\n.I VERB\n[\\fIoptions\\fR] [\\fIarguments\\fR]\n.br\n"
             ".B clapper help\n[\\fIVERB\\fR]\n"
             ".SH DESCRIPTION\n"
             "\\fBclapper\\fR talks to the coordinator of a clapper farm: it submits job files, "
             "lists and controls jobs, tasks and workers, reviews takes and reports cost.\n"
             "Options follow the GNU conventions: short options cluster (\\fB\\-an2\\fR is "
             "\\fB\\-a \\-n 2\\fR), a long option takes its value as \\fB\\-\\-opt=val\\fR or "
             "\\fB\\-\\-opt val\\fR, and \\fB\\-\\-\\fR ends the options.\n"
             "Identifiers (project, episode, shot, job and worker names) match "
             "[A\\-Za\\-z0\\-9][A\\-Za\\-z0\\-9_.\\-]{0,63}, keep their case and are "
             "case\\-sensitive: SH010 and sh010 are two shots.\n"
             ".SH VERBS\n",
          CLAPPER_VERSION);
  for (size_t i = 0; i < n; i++) {
    const struct cmd_entry *e = t[i];
    fputs(".SS \"", f);
    roff(f, e->name);
    fputs("\"\n.B clapper ", f);
    roff(f, e->name);
    fputc(' ', f);
    roff(f, e->usage);
    fputs("\n.PP\n", f);
    roff(f, e->help);
    fputc('\n', f);
    for (size_t k = 0; k < e->nopts; k++)
      man_opt(f, &e->opts[k]);
  }
  fputs(".SH COMMON OPTIONS\nEvery verb takes these, before or after the verb.\n", f);
  for (size_t k = 0; k < CMD_NCOMMON; k++)
    man_opt(f, &cmd_common_opts[k]);
  fputs(".TP\n.B \\-h, \\-\\-help\nshow the help of the verb\n"
        ".TP\n.B \\-\\-version\nshow the version\n", f);
  fprintf(f,
          ".SH FILES\n"
          ".TP\n.I $XDG_CONFIG_HOME/clapper/config\n"
          "(default \\fI~/.config/clapper/config\\fR) the user's settings\n"
          ".TP\n.I %s\nthe system's settings\n"
          ".PP\nBoth hold \\(lqname = value\\(rq lines (\\(oq#\\(cq starts a comment) of "
          "\\fBcoordinator\\fR, \\fBkey\\fR, \\fBserver\\-key\\fR, \\fBtimeout\\-ms\\fR and "
          "\\fBcolor\\fR; a key path may start with \\fI~/\\fR.\n"
          "A setting is taken from the command line, else the environment, else "
          "\\fB\\-\\-config\\fR \\fIFILE\\fR, else the user's file, else the system's file, "
          "else the default.\n"
          ".SH ENVIRONMENT\n"
          ".TP\n.B CLAPPER_COORDINATOR\nthe coordinator's client endpoints (\\-\\-coordinator)\n"
          ".TP\n.B CLAPPER_KEY\nyour key pair (\\-\\-key)\n"
          ".TP\n.B CLAPPER_SERVER_KEY\nthe coordinator's public key (\\-\\-server\\-key)\n"
          ".TP\n.B NO_COLOR\nwhen set and not empty, no colours (as \\-\\-color=never) "
          "unless \\-\\-color=always\n"
          ".TP\n.B XDG_CONFIG_HOME\nwhere the user's settings file is\n"
          ".SH EXIT STATUS\n"
          "0 success, 1 failure, 2 usage error.\n"
          "\\fBclapper wait\\fR: 0 every job succeeded, 1 a job failed or was canceled, "
          "3 no worker can run an unfinished job (stranded), 124 \\-\\-max\\-wait\\-s ran "
          "out.\n\\fBclapper local status\\fR: 3 when nothing runs.\n"
          ".SH SEE ALSO\nclapper\\-coordinator, clapper\\-worker; the documentation in the "
          "source tree (README.md, docs/).\n",
          CMD_SYSTEM_CONFIG);
}

int cmd_gendoc(const struct cmd_entry *const *table, size_t n, const char *format,
               const char *path) {
  void (*gen)(FILE *, const struct cmd_entry *const *, size_t) =
      !strcmp(format, "bash") ? gen_bash
      : !strcmp(format, "zsh") ? gen_zsh
      : !strcmp(format, "man") ? gen_man
                               : NULL;
  if (!gen) {
    fprintf(stderr, "clapper: __gendoc: unknown format '%s' (bash, zsh or man)\n", format);
    return CMD_EXIT_USAGE;
  }
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "clapper: __gendoc: cannot write %s: %s\n", path, strerror(errno));
    return CMD_EXIT_FAIL;
  }
  gen(f, table, n);
  if (fclose(f) != 0) {
    fprintf(stderr, "clapper: __gendoc: cannot write %s: %s\n", path, strerror(errno));
    return CMD_EXIT_FAIL;
  }
  return CMD_EXIT_OK;
}
