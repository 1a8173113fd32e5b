/*
 * cmd_job.c - `clapper job ID`: everything about one job.
 *
 * Sends VERB_JOB with ids = [ID]; the reply is the job object (the keys of
 * `clapper jobs` plus command, requires, outputs, provenance, output_dir,
 * max_attempts, timeout_s and retry_backoff_s), printed as "key: value"
 * lines or, with --json, as it is.  The human view shows no JSON: the
 * command as a shell would read it (arguments quoted when they need it),
 * the task counts as "3 succeeded, 1 running", arrays as "a, b" and
 * objects as "key value, key value" (nested ones in parentheses).
 * "reason" (why the job waits or cannot be placed, "" when nothing holds
 * it) is left out when empty.
 */
#include <string.h>

#include "cmd.h"

/* Appends arg as one word a POSIX shell reads back: as it is when it holds
 * only safe characters, else between single quotes ('\'' for a quote). */
static void shell_word(sbuf_t *out, const char *arg) {
  static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                             "_-+=./:,@%{}";
  if (*arg && strspn(arg, safe) == strlen(arg)) {
    sbuf_puts(out, arg);
    return;
  }
  sbuf_putc(out, '\'');
  for (const char *p = arg; *p; p++)
    if (*p == '\'')
      sbuf_puts(out, "'\\''");
    else
      sbuf_putc(out, *p);
  sbuf_putc(out, '\'');
}

/* Appends the human text of v (see the header). */
static void human(sbuf_t *out, const json_t *v, bool nested) {
  size_t i;
  const char *key;
  json_t *x;
  if (json_is_array(v)) {
    if (!json_array_size(v))
      sbuf_puts(out, "none");
    json_array_foreach(v, i, x) {
      if (i)
        sbuf_puts(out, ", ");
      human(out, x, true);
    }
  } else if (json_is_object(v)) {
    if (!json_object_size(v))
      sbuf_puts(out, "none");
    if (nested && json_object_size(v))
      sbuf_putc(out, '(');
    i = 0;
    json_object_foreach((json_t *)v, key, x) {
      sbuf_printf(out, "%s%s ", i++ ? ", " : "", key);
      human(out, x, true);
    }
    if (nested && json_object_size(v))
      sbuf_putc(out, ')');
  } else {
    output_json_text(v, out);
  }
}

/* The value of one key of the job, for people. */
static void job_value(sbuf_t *out, const char *key, const json_t *v) {
  size_t i;
  const char *k;
  json_t *x;
  if (!strcmp(key, "command") && json_is_array(v)) {
    json_array_foreach(v, i, x) {
      if (i)
        sbuf_putc(out, ' ');
      if (json_is_string(x))
        shell_word(out, json_string_value(x));
      else
        human(out, x, true);
    }
  } else if (!strcmp(key, "tasks") && json_is_object(v)) {
    i = 0;
    json_object_foreach((json_t *)v, k, x) {
      if (i++)
        sbuf_puts(out, ", ");
      output_json_text(x, out);
      sbuf_putc(out, ' ');
      output_state(out, k, NULL);
    }
    if (!i)
      sbuf_puts(out, "none");
  } else if (!strcmp(key, "state") && json_is_string(v)) {
    output_state(out, json_string_value(v), NULL);
  } else {
    human(out, v, false);
  }
}

/* The human view: "key: value" lines, keys aligned, without an empty
 * reason or the document's version (a field for programs). */
static void print_job(FILE *out, const json_t *doc) {
  const char *key;
  json_t *v;
  size_t w = 0;
  json_object_foreach((json_t *)doc, key, v) {
    if (!strcmp(key, "version"))
      continue;
    if (output_width(key) > w)
      w = output_width(key);
  }
  json_object_foreach((json_t *)doc, key, v) {
    if (!strcmp(key, "version") ||
        (!strcmp(key, "reason") && json_is_string(v) && !json_string_length(v)))
      continue;
    sbuf_t line = {0};
    sbuf_printf(&line, "%s:%*s ", key, (int)(w - output_width(key)), "");
    job_value(&line, key, v);
    output_line(out, line.buf);
    sbuf_free(&line);
  }
  fflush(out);
}

const struct cmd_entry cmd_job_entry = {
    .name = "job", .min_args = 1, .max_args = 1, .exec = cmd_exec_ask,
    .ask = {CLAPPER__VERB__VERB_JOB, "job id", NULL, print_job},
    .usage = "[options] ID",
    .help = "show one job in detail",
};
