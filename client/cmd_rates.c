/*
 * cmd_rates.c - `clapper rates` and `clapper rates set ...`: the rate card,
 * what a GPU-hour and a CPU-hour cost from when on.
 *
 * `clapper rates` sends Request{VERB_RATES} and gets {"currency": "USD",
 * "rates": [{"kind", "gpu_model", "per_hour", "valid_from", "set_by",
 * "in_force"}]} back, shown as a table whose rates in force now carry a
 * '*' (as `git branch` marks the current branch):
 *
 *     KIND         MODEL                  PER-HOUR (USD)  FROM (UTC)           SET-BY
 *   * gpu_model    NVIDIA H100 80GB HBM3        2.500000  2026-12-01 00:00:00  alice
 *
 * `clapper rates set` takes exactly one of three forms:
 *
 *   --gpu-model NAME --per-gpu-hour AMOUNT   one GPU model, as NVML names it
 *   --default-gpu-hour AMOUNT                every other GPU model
 *   --per-cpu-hour AMOUNT                    one CPU
 *
 * each with an optional --from TIME (ISO 8601; UTC when no zone is given;
 * default now).  The amount is checked here with money_parse and sent as
 * the person wrote it in Request{VERB_RATES_SET, kind ("gpu_model",
 * "default_gpu", "cpu"), name (the model), amount, at_us (0: now)}.  The
 * reply {"rate": {...}} reads as one line:
 *
 *   rate set: gpu NVIDIA H100 80GB HBM3 2.500000 USD/hour from 2026-12-01T00:00:00Z
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define GPU_MODEL_MAX 256
#define SET_FORMS                                                                                  \
  "--gpu-model NAME with --per-gpu-hour AMOUNT, --default-gpu-hour AMOUNT, or "                    \
  "--per-cpu-hour AMOUNT"
#define FROM_FORMS                                                                                 \
  "expected an ISO 8601 time such as 2026-12-01T00:00:00Z, 2026-12-01T01:00:00+01:00, "            \
  "2026-12-01 00:00 (UTC) or 2026-12-01"

static struct {
  char *gpu_model, *per_gpu_hour, *default_gpu_hour, *per_cpu_hour, *from;
} opt;

static const cfg_opt_t rates_opts[] = {
    {"gpu-model", 0, CFG_STRING, NULL, NULL, 0, 0, "NAME",
     "set: the GPU model as NVML names it, e.g. \"NVIDIA H100 80GB HBM3\"", &opt.gpu_model},
    {"per-gpu-hour", 0, CFG_STRING, NULL, NULL, 0, 0, "AMOUNT",
     "set: what one GPU-hour of --gpu-model costs, e.g. 2.5", &opt.per_gpu_hour},
    {"default-gpu-hour", 0, CFG_STRING, NULL, NULL, 0, 0, "AMOUNT",
     "set: what one GPU-hour of a model without its own rate costs", &opt.default_gpu_hour},
    {"per-cpu-hour", 0, CFG_STRING, NULL, NULL, 0, 0, "AMOUNT", "set: what one CPU-hour costs",
     &opt.per_cpu_hour},
    {"from", 0, CFG_STRING, NULL, NULL, 0, 0, "TIME",
     "set: when the rate takes effect, ISO 8601 (UTC without a zone; default now)", &opt.from},
};

/* ---------------------------------------------------------------- times */

/* Reads exactly n digits at *p into *out and moves *p past them. */
static bool take_digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
  static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : dim[m - 1];
}

/* Parses an ISO 8601 time: YYYY-MM-DD, optionally followed by 'T' or ' ',
 * HH:MM, optionally :SS and a fraction of up to 6 digits, and optionally a
 * zone (Z, +HH:MM, +HHMM, +HH or the same with '-'); no zone means UTC and
 * no time midnight.  Returns 0 with *us set (unix microseconds, after
 * 1970-01-01T00:00:00Z), or -1. */
static int parse_time(const char *s, int64_t *us) {
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  int64_t frac = 0, offset_s = 0;
  if (!take_digits(&p, 4, &y) || *p++ != '-' || !take_digits(&p, 2, &mo) || *p++ != '-' ||
      !take_digits(&p, 2, &d))
    return -1;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
    return -1;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (!take_digits(&p, 2, &h) || *p++ != ':' || !take_digits(&p, 2, &mi))
      return -1;
    if (*p == ':') {
      p++;
      if (!take_digits(&p, 2, &sec))
        return -1;
      if (*p == '.' || *p == ',') {
        p++;
        int n = 0;
        for (; *p >= '0' && *p <= '9'; p++, n++) {
          if (n == 6)
            return -1; /* finer than a microsecond */
          frac = frac * 10 + (*p - '0');
        }
        if (n == 0)
          return -1;
        for (; n < 6; n++)
          frac *= 10;
      }
    }
    if (h > 23 || mi > 59 || sec > 59)
      return -1;
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
      if (!take_digits(&p, 2, &oh))
        return -1;
      if (*p == ':') {
        p++;
        if (!take_digits(&p, 2, &om))
          return -1;
      } else if (*p) {
        if (!take_digits(&p, 2, &om))
          return -1;
      }
      if (oh > 23 || om > 59)
        return -1;
      offset_s = sign * (oh * 3600 + om * 60);
    }
  }
  if (*p)
    return -1;
  int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  if (t <= 0 && !(t == 0 && frac > 0))
    return -1; /* 0 would mean "now" on the wire */
  *us = t * 1000000 + frac;
  return 0;
}

/* Appends an ISO 8601 time from the reply, without a fraction that is all
 * zeros ("2026-12-01T00:00:00.000000Z" becomes "2026-12-01T00:00:00Z"). */
static void short_time(const json_t *v, sbuf_t *out) {
  const char *s = json_string_value(v);
  const char *dot = s ? strchr(s, '.') : NULL;
  if (dot && strspn(dot + 1, "0") == 6 && !strcmp(dot + 7, "Z")) {
    sbuf_append(out, s, (size_t)(dot - s));
    sbuf_putc(out, 'Z');
    return;
  }
  output_json_text(v, out);
}

/* ---------------------------------------------------------------- output */

/* One row of the table: a rate, marked '*' when in force. */
static void rate_row(out_table_t *t, const json_t *r, void *arg) {
  sbuf_t sb = {0};
  sbuf_puts(&sb, json_is_true(json_object_get(r, "in_force")) ? "* " : "  ");
  output_json_text(json_object_get(r, "kind"), &sb);
  table_add(t, sb.buf);
  sbuf_free(&sb);
  table_add_fields(t, r, "gpu_model", "per_hour", NULL);
  table_add_time(t, json_object_get(r, "valid_from"));
  table_add_fields(t, r, "set_by", NULL);
}

static void print_rates(FILE *out, const json_t *doc) {
  const char *currency = json_string_value(json_object_get(doc, "currency"));
  char per_hour[64];
  if (currency)
    snprintf(per_hour, sizeof per_hour, ">PER-HOUR (%s)", currency);
  else
    snprintf(per_hour, sizeof per_hour, ">PER-HOUR");
  const json_t *rates = json_object_get(doc, "rates");
  if (!json_array_size(rates)) {
    output_line(out, "no rates set: every attempt costs 0");
    fflush(out);
    return;
  }
  const char *const hdr[] = {"  KIND", "MODEL", per_hour, "FROM (UTC)", "SET-BY"};
  output_table(out, ARRAY_SIZE(hdr), hdr, rates, rate_row, NULL);
  output_line(out, "* in force now");
  fflush(out);
}

static void print_rate_set(FILE *out, const json_t *doc) {
  const json_t *r = json_object_get(doc, "rate");
  const char *kind = json_string_value(json_object_get(r, "kind"));
  /* The reply's currency, at the top or in the rate. */
  const char *currency = json_string_value(json_object_get(doc, "currency"));
  if (!currency)
    currency = json_string_value(json_object_get(r, "currency"));
  sbuf_t line = {0};
  sbuf_puts(&line, "rate set: ");
  if (kind && !strcmp(kind, "gpu_model"))
    output_fill(&line, r, "gpu {gpu_model}");
  else if (kind && !strcmp(kind, "default_gpu"))
    sbuf_puts(&line, "default gpu");
  else
    output_fill(&line, r, "{kind}");
  output_fill(&line, r, " {per_hour}");
  if (currency)
    sbuf_printf(&line, " %s/hour from ", currency);
  else
    sbuf_puts(&line, " per hour from ");
  short_time(json_object_get(r, "valid_from"), &line);
  output_line_done(out, &line);
}

/* ---------------------------------------------------------------- verbs */

/* The first set-only option given, or NULL. */
static const char *set_option_given(void) {
  if (opt.gpu_model)
    return "--gpu-model";
  if (opt.per_gpu_hour)
    return "--per-gpu-hour";
  if (opt.default_gpu_hour)
    return "--default-gpu-hour";
  if (opt.per_cpu_hour)
    return "--per-cpu-hour";
  if (opt.from)
    return "--from";
  return NULL;
}

static int set_exec(cmd_ctx_t *ctx, int argc) {
  if (argc > 1)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "rates set: too many arguments (the rate is given with " SET_FORMS ")");
  int forms = (opt.gpu_model || opt.per_gpu_hour) + !!opt.default_gpu_hour + !!opt.per_cpu_hour;
  if (forms != 1)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "rates set: give %s one of: " SET_FORMS,
                    forms ? "only" : "exactly");
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_RATES_SET;
  const char *flag;
  if (opt.gpu_model || opt.per_gpu_hour) {
    if (!opt.gpu_model || !opt.per_gpu_hour)
      return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                      "rates set: --gpu-model NAME and --per-gpu-hour AMOUNT go together");
    size_t len = strlen(opt.gpu_model);
    bool printable = true;
    for (const unsigned char *p = (const unsigned char *)opt.gpu_model; *p; p++)
      if (*p < 0x20 || *p == 0x7f)
        printable = false;
    if (!len || len > GPU_MODEL_MAX || !printable)
      return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                      "--gpu-model: expected the model as NVML names it (1 to %d printable "
                      "characters)",
                      GPU_MODEL_MAX);
    req.kind = "gpu_model";
    req.name = opt.gpu_model;
    req.amount = opt.per_gpu_hour;
    flag = "--per-gpu-hour";
  } else if (opt.default_gpu_hour) {
    req.kind = "default_gpu";
    req.amount = opt.default_gpu_hour;
    flag = "--default-gpu-hour";
  } else {
    req.kind = "cpu";
    req.amount = opt.per_cpu_hour;
    flag = "--per-cpu-hour";
  }
  int64_t micros;
  if (cmd_parse_amount(ctx, flag, req.amount, &micros) < 0)
    return CMD_EXIT_USAGE;
  if (opt.from && parse_time(opt.from, &req.at_us) < 0)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "invalid --from '%s': " FROM_FORMS, opt.from);
  return cmd_show(ctx, &req, print_rate_set);
}

static int rates_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  if (argc > 0 && !strcmp(argv[0], "set"))
    return set_exec(ctx, argc);
  if (argc > 0)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "rates: unknown action '%s' (expected set)",
                    argv[0]);
  const char *flag = set_option_given();
  if (flag)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "rates: %s is an option of 'clapper rates set' (see clapper rates --help)",
                    flag);
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_RATES;
  return cmd_show(ctx, &req, print_rates);
}

const struct cmd_entry cmd_rates_entry = {
    /* any number of arguments: rates_exec words the errors */
    .name = "rates", CMD_OPTS(rates_opts), .min_args = 0, .max_args = -1, .exec = rates_exec,
    .usage = "[options]\n"
             "   or: clapper rates set --gpu-model NAME --per-gpu-hour AMOUNT [--from TIME]\n"
             "   or: clapper rates set --default-gpu-hour AMOUNT [--from TIME]\n"
             "   or: clapper rates set --per-cpu-hour AMOUNT [--from TIME]",
    .help = "show the rate card (the rates in force marked '*'), or set a rate",
};
