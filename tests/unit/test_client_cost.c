/*
 * test_client_cost.c - the cost verbs: rates, rates set, budget and cost.
 *
 * Every argument error is found before anything is sent (forms, amounts,
 * --from, P/E, --by); against a fake coordinator, the request fields
 * (kind, name, amount, at_us, by) and the table, line, CSV and --json
 * output of canned replies are checked, and the CSV is parsed back and its
 * TOTAL row compared with the table's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "clitest.h"
#include "fakecoord.h"

static void test_cost_arguments(void) {
  const usage_case_t cases[] = {
      /* rates: exactly one form */
      {&cmd_rates_entry, {"rates", "set"}, "rates set: give exactly one of: --gpu-model NAME"},
      {&cmd_rates_entry, {"rates", "set", "--from", "2026-12-01"}, "give exactly one of"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--default-gpu-hour", "2"},
       "rates set: give only one of: --gpu-model NAME with --per-gpu-hour AMOUNT, "
       "--default-gpu-hour AMOUNT, or --per-cpu-hour AMOUNT"},
      {&cmd_rates_entry,
       {"rates", "set", "--gpu-model", "X", "--per-gpu-hour", "1", "--per-cpu-hour", "1"},
       "give only one of"},
      {&cmd_rates_entry,
       {"rates", "set", "--gpu-model", "X"},
       "--gpu-model NAME and --per-gpu-hour AMOUNT go together"},
      {&cmd_rates_entry, {"rates", "set", "--per-gpu-hour", "1"}, "go together"},
      {&cmd_rates_entry,
       {"rates", "set", "--gpu-model", "", "--per-gpu-hour", "1"},
       "--gpu-model: expected the model as NVML names it"},
      {&cmd_rates_entry,
       {"rates", "set", "extra", "--per-cpu-hour", "1"},
       "rates set: too many arguments"},
      {&cmd_rates_entry, {"rates", "sideways"}, "rates: unknown action 'sideways' (expected set)"},
      {&cmd_rates_entry,
       {"rates", "--per-cpu-hour", "1"},
       "rates: --per-cpu-hour is an option of 'clapper rates set'"},
      {&cmd_rates_entry, {"rates", "--from", "2026-12-01"}, "--from is an option of"},
      /* rates: amounts, checked with money_parse, named by the flag */
      {&cmd_rates_entry,
       {"rates", "set", "--gpu-model", "NVIDIA H100 80GB HBM3", "--per-gpu-hour", "1.2345678"},
       "--per-gpu-hour: '1.2345678' has more than 6 decimals"},
      {&cmd_rates_entry, {"rates", "set", "--per-cpu-hour=-1"}, "--per-cpu-hour: '-1' is negative"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1e3"},
       "--per-cpu-hour: '1e3' has an exponent"},
      {&cmd_rates_entry,
       {"rates", "set", "--default-gpu-hour", "abc"},
       "--default-gpu-hour: 'abc' is not an amount"},
      {&cmd_rates_entry,
       {"rates", "set", "--default-gpu-hour", ""},
       "--default-gpu-hour: the amount is empty"},
      {&cmd_rates_entry, {"rates", "set", "--default-gpu-hour", "1,5"}, "'1,5' has a ','"},
      {&cmd_rates_entry,
       {"rates", "set", "--default-gpu-hour", ".5"},
       "'.5' has no digits before the '.'"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "99999999999999"},
       "--per-cpu-hour: '99999999999999' is more than 1000000000000"},
      /* rates: --from */
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "tomorrow"},
       "invalid --from 'tomorrow': expected an ISO 8601 time"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-12-01T25:00:00Z"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-02-29"},
       "invalid --from '2026-02-29'"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-12-01Z"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-12-01T00:00:00+1"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-12-01T00:00:00.1234567Z"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-12-01T00:00Z "},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "1969-12-31"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "2026-1-1"},
       "invalid --from"},
      {&cmd_rates_entry,
       {"rates", "set", "--per-cpu-hour", "1", "--from", "1764547200"},
       "invalid --from"},
      /* budget */
      {&cmd_budget_entry, {"budget"}, "budget: missing action"},
      {&cmd_budget_entry,
       {"budget", "spend", "hod/e1"},
       "budget: unknown action 'spend' (expected set or show)"},
      {&cmd_budget_entry, {"budget", "set", "hod/e1"}, "budget set: missing argument"},
      {&cmd_budget_entry, {"budget", "show", "hod/e1", "3"}, "budget show: too many arguments"},
      {&cmd_budget_entry, {"budget", "set", "Hod!/e1", "3"}, "invalid project 'Hod!' in 'Hod!/e1'"},
      {&cmd_budget_entry, {"budget", "set", "hod/E 1", "3"}, "invalid episode 'E 1' in 'hod/E 1'"},
      {&cmd_budget_entry,
       {"budget", "show", "hod"},
       "invalid episode 'hod': expected PROJECT/EPISODE"},
      {&cmd_budget_entry,
       {"budget", "set", "hod/e1", "1.2345678"},
       "budget amount: '1.2345678' has more than 6 decimals"},
      {&cmd_budget_entry, {"budget", "set", "hod/e1", "-5"}, "budget amount: '-5' is negative"},
      {&cmd_budget_entry,
       {"budget", "set", "hod/e1", "1000000000000.5"},
       "is more than 1000000000000"},
      /* cost */
      {&cmd_cost_entry, {"cost"}, "cost: --episode PROJECT/EPISODE is required"},
      {&cmd_cost_entry,
       {"cost", "--episode", "hod"},
       "invalid episode 'hod': expected PROJECT/EPISODE"},
      {&cmd_cost_entry, {"cost", "--episode", "hod/-x"}, "invalid episode '-x' in 'hod/-x'"},
      {&cmd_cost_entry,
       {"cost", "--episode", "hod/e1", "--by", "take"},
       "invalid --by 'take': expected shot, job or kind"},
      {&cmd_cost_entry, {"cost", "--episode", "hod/e1", "--by", ""}, "invalid --by ''"},
      {&cmd_cost_entry,
       {"cost", "--episode", "hod/e1", "--csv", "--json"},
       "--csv and --json cannot be combined"},
      {&cmd_cost_entry, {"cost", "--episode", "hod/e1", "hod/e2"}, "cost: too many arguments"},
      {&cmd_cost_entry,
       {"cost", "--episode", "hod/e1", "--limit", "5"},
       "cost: --limit pages the jobs of --by job only"},
      {&cmd_cost_entry,
       {"cost", "--episode", "hod/e1", "--by", "kind", "--after", "3"},
       "cost: --after pages the jobs of --by job only"},
      {&cmd_cost_entry,
       {"cost", "--episode", "hod/e1", "--by", "job", "--after", "x"},
       "invalid --after 'x': expected an id"},
  };
  /* A coordinator that must not hear anything. */
  fake_t fk = {.nreq = 0};
  fake_start(&fk);
  run_usage_cases(cases, ARRAY_SIZE(cases), fk.endpoint);
  fake_stop(&fk);
  CHECK_INT(fk.served, 0);

  /* --help is not an error. */
  const char *h[] = {"rates", "--help"};
  run_t r = run_cmd(&cmd_rates_entry, 2, h);
  CHECK_INT(r.status, 0);
  CHECK_STR(r.err, "");
  run_free(&r);
}

static const char *const RATES_JSON =
    "{\"currency\": \"USD\", \"rates\": ["
    "{\"kind\": \"gpu_model\", \"gpu_model\": \"NVIDIA H100 80GB HBM3\", \"per_hour\": "
    "\"2.500000\", \"valid_from\": \"2026-12-01T00:00:00.000000Z\", \"set_by\": \"alice\", "
    "\"in_force\": true}, "
    "{\"kind\": \"gpu_model\", \"gpu_model\": \"NVIDIA H100 80GB HBM3\", \"per_hour\": "
    "\"3.000000\", \"valid_from\": \"2027-01-01T00:00:00.000000Z\", \"set_by\": \"bob\", "
    "\"in_force\": false}, "
    "{\"kind\": \"default_gpu\", \"gpu_model\": null, \"per_hour\": \"2.000000\", "
    "\"valid_from\": \"2026-11-01T12:30:00.000000Z\", \"set_by\": \"alice\", \"in_force\": "
    "true}, "
    "{\"kind\": \"cpu\", \"gpu_model\": null, \"per_hour\": \"0.050000\", \"valid_from\": "
    "\"2026-11-01T12:30:00.000000Z\", \"set_by\": \"alice\", \"in_force\": true}]}";

static void test_rates(void) {
  const char *jsons[] = {
      RATES_JSON,
      "{\"currency\": \"USD\", \"rates\": []}",
      RATES_JSON,
      /* rates set, one per --from form */
      "{\"currency\": \"USD\", \"rate\": {\"kind\": \"gpu_model\", \"gpu_model\": \"NVIDIA H100 "
      "80GB HBM3\", \"per_hour\": \"2.500000\", \"valid_from\": \"2026-12-01T00:00:00.000000Z\", "
      "\"set_by\": \"alice\", \"in_force\": false}}",
      "{\"rate\": {\"kind\": \"default_gpu\", \"gpu_model\": null, \"per_hour\": \"2.000000\", "
      "\"valid_from\": \"2026-12-01T00:00:00.000000Z\", \"set_by\": \"alice\", \"in_force\": "
      "false, \"currency\": \"EUR\"}}",
      "{\"rate\": {\"kind\": \"cpu\", \"gpu_model\": null, \"per_hour\": \"0.050000\", "
      "\"valid_from\": \"2026-12-01T00:00:00.500000Z\", \"set_by\": \"alice\", \"in_force\": "
      "false}}",
      "{\"currency\": \"USD\", \"rate\": {\"kind\": \"cpu\", \"gpu_model\": null, \"per_hour\": "
      "\"0.050000\", \"valid_from\": \"2026-11-26T04:10:10.123456Z\", \"set_by\": \"alice\", "
      "\"in_force\": true}}",
      "{\"currency\": \"USD\", \"rate\": {\"kind\": \"cpu\", \"gpu_model\": null, \"per_hour\": "
      "\"0.050000\", \"valid_from\": \"2026-12-01T00:00:00.000000Z\", \"set_by\": \"alice\", "
      "\"in_force\": false}}",
  };
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  const char *const *a0 = ARGV("rates");
  check_run_ok(&cmd_rates_entry, fk.endpoint, a0,
               "  KIND         MODEL                  PER-HOUR (USD)  FROM (UTC)           SET-BY\n"
               "* gpu_model    NVIDIA H100 80GB HBM3        2.500000  2026-12-01 00:00:00  alice\n"
               "  gpu_model    NVIDIA H100 80GB HBM3        3.000000  2027-01-01 00:00:00  bob\n"
               "* default_gpu  -                            2.000000  2026-11-01 12:30:00  alice\n"
               "* cpu          -                            0.050000  2026-11-01 12:30:00  alice\n"
               "* in force now\n");
  check_run_ok(&cmd_rates_entry, fk.endpoint, a0, "no rates set: every attempt costs 0\n");
  json_t *doc = run_json(&cmd_rates_entry, fk.endpoint, ARGV("rates", "--json"), 0, "");
  CHECK_STR(json_string_value(json_object_get(doc, "currency")), "USD");
  json_t *rate0 = json_array_get(json_object_get(doc, "rates"), 0);
  CHECK_STR(json_string_value(json_object_get(rate0, "per_hour")), "2.500000");
  CHECK(json_is_true(json_object_get(rate0, "in_force")));
  CHECK_INT(json_array_size(json_object_get(doc, "rates")), 4);
  json_decref(doc);

  check_run_ok(&cmd_rates_entry, fk.endpoint,
               ARGV("rates", "set", "--gpu-model", "NVIDIA H100 80GB HBM3", "--per-gpu-hour", "2.5",
                    "--from", "2026-12-01T00:00:00Z"),
               "rate set: gpu NVIDIA H100 80GB HBM3 2.500000 USD/hour from 2026-12-01T00:00:00Z\n");
  check_run_ok(
      &cmd_rates_entry, fk.endpoint,
      ARGV("rates", "set", "--default-gpu-hour", "2", "--from", "2026-12-01T01:00:00+01:00"),
      "rate set: default gpu 2.000000 EUR/hour from 2026-12-01T00:00:00Z\n");
  check_run_ok(&cmd_rates_entry, fk.endpoint,
               ARGV("rates", "set", "--per-cpu-hour", "0.05", "--from", "2026-12-01 00:00:00.5"),
               "rate set: cpu 0.050000 per hour from 2026-12-01T00:00:00.500000Z\n");
  check_run_ok(&cmd_rates_entry, fk.endpoint, ARGV("rates", "set", "--per-cpu-hour", "0.05"),
               "rate set: cpu 0.050000 USD/hour from 2026-11-26T04:10:10.123456Z\n");
  doc = run_json(&cmd_rates_entry, fk.endpoint,
                 ARGV("rates", "set", "--per-cpu-hour=0.050000", "--from", "2026-12-01", "--json"),
                 0, "");
  CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "rate"), "kind")), "cpu");
  CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "rate"), "per_hour")),
            "0.050000");
  json_decref(doc);
  fake_stop(&fk);

  CHECK_INT(fk.served, (int)ARRAY_SIZE(jsons));
  for (int i = 0; i < 3; i++) {
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_RATES);
    CHECK_STR(fk.kind[i], "");
    CHECK_STR(fk.amount[i], "");
  }
  const int64_t dec1 = 1796083200LL * 1000000; /* 2026-12-01T00:00:00Z */
  for (int i = 3; i < 8; i++)
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_RATES_SET);
  CHECK_STR(fk.kind[3], "gpu_model");
  CHECK_STR(fk.name[3], "NVIDIA H100 80GB HBM3");
  CHECK_STR(fk.amount[3], "2.5");
  CHECK_INT(fk.at_us[3], dec1);
  CHECK_STR(fk.kind[4], "default_gpu");
  CHECK_STR(fk.name[4], "");
  CHECK_STR(fk.amount[4], "2");
  CHECK_INT(fk.at_us[4], dec1); /* +01:00 */
  CHECK_STR(fk.kind[5], "cpu");
  CHECK_STR(fk.amount[5], "0.05");
  CHECK_INT(fk.at_us[5], dec1 + 500000); /* a space, no zone: UTC */
  CHECK_INT(fk.at_us[6], 0);             /* no --from: now */
  CHECK_STR(fk.amount[7], "0.050000");
  CHECK_INT(fk.at_us[7], dec1); /* a date alone: midnight UTC */

  /* The other --from forms, and the coordinator's refusal. */
  static const struct {
    const char *from;
    int64_t want;
  } froms[] = {
      {"2026-12-01 00:00", 1796083200LL * 1000000},
      {"2026-12-01T00:00Z", 1796083200LL * 1000000},
      {"2026-11-30T19:00:00-05:00", 1796083200LL * 1000000},
      {"2026-12-01T05:30:00+0530", 1796083200LL * 1000000},
      {"2028-02-29T23:59:59.000001z", 1835481599LL * 1000000 + 1},
      {"1970-01-01T00:00:01Z", 1000000},
  };
  fake_t ff = {.nreq = ARRAY_SIZE(froms),
               .error_code = "invalid_rate",
               .error_message = "from: a rate cannot start in the past"};
  fake_start(&ff);
  for (size_t i = 0; i < ARRAY_SIZE(froms); i++) {
    check_run_error(&cmd_rates_entry, ff.endpoint,
                    ARGV("rates", "set", "--per-cpu-hour", "1", "--from", froms[i].from), 1,
                    "from: a rate cannot start in the past", false, NULL);
  }
  fake_stop(&ff);
  CHECK_INT(ff.served, (int)ARRAY_SIZE(froms));
  for (size_t i = 0; i < ARRAY_SIZE(froms); i++)
    CHECK_INT(ff.at_us[i], froms[i].want);
}

static void test_budget(void) {
  const char *jsons[] = {
      "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"budget\": \"100.000000\", \"spent\": "
      "\"12.300000\", \"running\": \"0.500000\", \"left\": \"87.200000\", \"held\": false}",
      "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"budget\": \"10.000000\", \"spent\": "
      "\"12.300000\", \"running\": \"0.500000\", \"left\": \"-2.300000\", \"held\": true}",
      "{\"episode\": \"hod/e2\", \"currency\": \"USD\", \"budget\": null, \"spent\": "
      "\"12.300000\", \"running\": \"0.000000\", \"left\": null, \"held\": false}",
      "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"budget\": \"100.000000\", \"spent\": "
      "\"12.300000\", \"running\": \"0.500000\", \"left\": \"87.200000\", \"held\": false}",
  };
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);
  check_run_ok(&cmd_budget_entry, fk.endpoint, ARGV("budget", "set", "hod/e1", "100"),
               "episode hod/e1: budget 100.000000 USD, spent 12.300000, running 0.500000, "
               "left 87.200000\n");
  check_run_ok(&cmd_budget_entry, fk.endpoint, ARGV("budget", "show", "hod/e1"),
               "episode hod/e1: budget 10.000000 USD, spent 12.300000, running 0.500000, "
               "left -2.300000 (held: over budget)\n");
  check_run_ok(&cmd_budget_entry, fk.endpoint, ARGV("budget", "show", "hod/e2"),
               "episode hod/e2: no budget, spent 12.300000 USD, running 0.000000\n");
  json_t *doc = run_json(&cmd_budget_entry, fk.endpoint,
                         ARGV("budget", "--json", "set", "hod/e1", "0.000001"), 0, "");
  CHECK_STR(json_string_value(json_object_get(doc, "budget")), "100.000000");
  CHECK_STR(json_string_value(json_object_get(doc, "left")), "87.200000");
  CHECK(json_is_false(json_object_get(doc, "held")));
  json_decref(doc);
  fake_stop(&fk);
  CHECK_INT(fk.served, 4);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_BUDGET_SET);
  CHECK_STR(fk.name[0], "hod/e1");
  CHECK_STR(fk.amount[0], "100");
  CHECK_INT(fk.verb[1], CLAPPER__VERB__VERB_BUDGET_SHOW);
  CHECK_STR(fk.name[1], "hod/e1");
  CHECK_STR(fk.amount[1], "");
  CHECK_STR(fk.name[2], "hod/e2");
  CHECK_INT(fk.verb[3], CLAPPER__VERB__VERB_BUDGET_SET);
  CHECK_STR(fk.amount[3], "0.000001");

  fake_t fn = {.nreq = 1, .error_code = "not_found", .error_message = "no such episode: hod/e9"};
  fake_start(&fn);
  check_run_error(&cmd_budget_entry, fn.endpoint, ARGV("budget", "show", "hod/e9", "--json"), 1,
                  "no such episode: hod/e9", true, "not_found");
  fake_stop(&fn);
}

/* The blank-separated words of the last line of a table (cells hold no
 * blanks here), at most max; returns how many. */
static int last_row_words(const char *table, char words[][32], int max) {
  const char *end = table + strlen(table);
  if (end > table && end[-1] == '\n')
    end--;
  const char *start = end;
  while (start > table && start[-1] != '\n')
    start--;
  int n = 0;
  for (const char *p = start; p < end && n < max;) {
    while (p < end && *p == ' ')
      p++;
    if (p >= end)
      break;
    size_t len = strcspn(p, " \n");
    if (p + len > end)
      len = (size_t)(end - p);
    snprintf(words[n++], 32, "%.*s", (int)len, p);
    p += len;
  }
  return n;
}

/* The line of text that starts with prefix (a copy), or NULL. */
static char *line_starting(const char *text, const char *prefix) {
  for (const char *p = text; p && *p;) {
    if (!strncmp(p, prefix, strlen(prefix)))
      return xstrndup(p, strcspn(p, "\n"));
    p = strchr(p, '\n');
    if (p)
      p++;
  }
  return NULL;
}

static const char *const COST_SHOTS_JSON =
    "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"by\": \"shot\", \"attempts\": 6, "
    "\"total_cost\": \"12.345678\", \"failed_cost\": \"1.000000\", \"lost_cost\": \"0.250000\", \"gpu_hours\": "
    "1.5, \"cpu_hours\": 3.25, \"energy_kwh\": 0.012, \"budget\": \"100.000000\", \"left\": "
    "\"87.654322\", \"shots\": ["
    "{\"shot\": \"sh010\", \"attempts\": 4, \"total_cost\": \"10.000000\", \"failed_cost\": "
    "\"1.000000\", \"lost_cost\": \"0.000000\", \"gpu_hours\": 1.25, \"cpu_hours\": 2, "
    "\"energy_kwh\": 0.0104},"
    "{\"shot\": null, \"attempts\": 2, \"total_cost\": \"2.345678\", \"failed_cost\": "
    "\"0.000000\", \"lost_cost\": \"0.250000\", \"gpu_hours\": 0.25, \"cpu_hours\": 1.25, "
    "\"energy_kwh\": 0.0016}]}";

static const char *const COST_FAKE_JOBS_JSON =
    "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"by\": \"job\", \"total_cost\": "
    "\"12.345678\", \"failed_cost\": \"1.000000\", \"lost_cost\": \"0.250000\", \"gpu_hours\": "
    "1.5, \"cpu_hours\": 3.25, \"energy_kwh\": 0.012, \"budget\": null, \"left\": null, "
    "\"jobs\": ["
    "{\"job_id\": 12, \"job\": \"sh010-gen\", \"kind\": \"generate\", \"shot\": \"sh010\", "
    "\"attempts\": 4, \"total_cost\": \"10.000000\", \"failed_cost\": \"1.000000\", "
    "\"lost_cost\": \"0.000000\", \"gpu_hours\": 1.25, \"cpu_hours\": 2, \"energy_kwh\": "
    "0.0104},"
    "{\"job_id\": 13, \"job\": \"odd,\\\"name\\\"\", \"kind\": \"render\", \"shot\": null, "
    "\"attempts\": 2, \"total_cost\": \"2.345678\", \"failed_cost\": \"0.000000\", "
    "\"lost_cost\": \"0.250000\", \"gpu_hours\": 0.25, \"cpu_hours\": 1.25, \"energy_kwh\": "
    "0.0016}]}";

static const char *const COST_KINDS_JSON =
    "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"by\": \"kind\", \"total_cost\": "
    "\"0.000000\", \"failed_cost\": \"0.000000\", \"lost_cost\": \"0.000000\", \"gpu_hours\": "
    "0, \"cpu_hours\": 0, \"energy_kwh\": 0, \"budget\": \"5.000000\", \"left\": \"5.000000\", "
    "\"kinds\": []}";

/* Checks that the CSV in out has a header, nrows rows and a TOTAL row
 * whose figures are those of the table's TOTAL row. */
static void check_csv_total(const char *csv_text, const char *table, int nlabels, int nrows,
                            const char *header) {
  csv_t c;
  csv_parse(csv_text, &c);
  CHECK(c.ok);
  CHECK_INT(c.nrec, nrows + 2);
  char *first = xstrndup(csv_text, strcspn(csv_text, "\r"));
  CHECK_STR(first, header);
  free(first);
  int last = c.nrec - 1;
  CHECK_INT(c.nfields[last], nlabels + 7);
  CHECK_STR(c.field[last][0], "TOTAL");
  for (int k = 1; k < nlabels; k++)
    CHECK_STR(c.field[last][k], "");
  char words[16][32];
  int n = last_row_words(table, words, 16);
  CHECK_INT(n, 8); /* TOTAL and the 7 figures */
  CHECK_STR(words[0], "TOTAL");
  for (int f = 0; f < 7 && f + 1 < n && nlabels + f < c.nfields[last]; f++)
    CHECK_STR(c.field[last][nlabels + f], words[f + 1]);
  csv_free(&c);
}

static void test_cost(void) {
  const char *jsons[] = {COST_SHOTS_JSON, COST_SHOTS_JSON, COST_SHOTS_JSON, COST_FAKE_JOBS_JSON,
                         COST_FAKE_JOBS_JSON,  COST_KINDS_JSON, COST_KINDS_JSON};
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  /* By shot: the table, the TOTAL row and the budget line. */
  const char *a0[] = {"cost", "--episode", "hod/e1"};
  run_t table = run_at(&cmd_cost_entry, fk.endpoint, 3, a0);
  check_ok(&table, "SHOT   ATTEMPTS  COST (USD)    FAILED      LOST  GPU-HOURS  CPU-HOURS    KWH\n"
                   "sh010         4   10.000000  1.000000  0.000000      1.250      2.000  0.010\n"
                   "-             2    2.345678  0.000000  0.250000      0.250      1.250  0.002\n"
                   "TOTAL         6   12.345678  1.000000  0.250000      1.500      3.250  0.012\n"
                   "budget: 100.000000 USD, left: 87.654322\n");
  /* --csv: the same figures; the TOTAL row equals the table's. */
  const char *a1[] = {"cost", "--episode", "hod/e1", "--csv"};
  run_t r = run_at(&cmd_cost_entry, fk.endpoint, 4, a1);
  check_ok(&r, "shot,attempts,total_cost,failed_cost,lost_cost,gpu_hours,cpu_hours,energy_kwh\r\n"
               "sh010,4,10.000000,1.000000,0.000000,1.250,2.000,0.010\r\n"
               ",2,2.345678,0.000000,0.250000,0.250,1.250,0.002\r\n"
               "TOTAL,6,12.345678,1.000000,0.250000,1.500,3.250,0.012\r\n");
  char *budget_table = line_starting(table.out, "TOTAL");
  CHECK(budget_table != NULL);
  free(budget_table);
  /* The table's last line is the budget: compare against its TOTAL row. */
  char *upto = xstrndup(table.out, (size_t)(strstr(table.out, "budget:") - table.out));
  check_csv_total(r.out, upto, 1, 2,
                  "shot,attempts,total_cost,failed_cost,lost_cost,gpu_hours,cpu_hours,"
                  "energy_kwh");
  free(upto);
  run_free(&r);
  run_free(&table);
  /* --json: the reply as it is, money as strings. */
  json_t *doc =
      run_json(&cmd_cost_entry, fk.endpoint, ARGV("cost", "--episode", "hod/e1", "--json"), 0, "");
  CHECK_STR(json_string_value(json_object_get(doc, "total_cost")), "12.345678");
  CHECK(json_is_real(json_object_get(doc, "gpu_hours")));
  CHECK_INT(json_array_size(json_object_get(doc, "shots")), 2);
  CHECK(json_is_null(json_object_get(json_array_get(json_object_get(doc, "shots"), 1), "shot")));
  json_decref(doc);

  /* By job: labels job_id, job, kind, shot; a name that needs quoting. */
  const char *a3[] = {"cost", "--episode", "hod/e1", "--by", "job"};
  table = run_at(&cmd_cost_entry, fk.endpoint, 5, a3);
  check_ok(&table,
           "ID     JOB         KIND      SHOT   ATTEMPTS  COST (USD)    FAILED      LOST  "
           "GPU-HOURS  CPU-HOURS    KWH\n"
           "12     sh010-gen   generate  sh010         4   10.000000  1.000000  0.000000  "
           "    1.250      2.000  0.010\n"
           "13     odd,\"name\"  render    -             2    2.345678  0.000000  0.250000  "
           "    0.250      1.250  0.002\n"
           "TOTAL                                      6   12.345678  1.000000  0.250000  "
           "    1.500      3.250  0.012\n");
  const char *a4[] = {"cost", "--by=job", "--csv", "--episode", "hod/e1"};
  r = run_at(&cmd_cost_entry, fk.endpoint, 5, a4);
  check_ok(&r, "job_id,job,kind,shot,attempts,total_cost,failed_cost,lost_cost,gpu_hours,"
               "cpu_hours,energy_kwh\r\n"
               "12,sh010-gen,generate,sh010,4,10.000000,1.000000,0.000000,1.250,2.000,0.010\r\n"
               "13,\"odd,\"\"name\"\"\",render,,2,2.345678,0.000000,0.250000,0.250,1.250,0.002\r\n"
               "TOTAL,,,,6,12.345678,1.000000,0.250000,1.500,3.250,0.012\r\n");
  check_csv_total(r.out, table.out, 4, 2,
                  "job_id,job,kind,shot,attempts,total_cost,failed_cost,lost_cost,gpu_hours,"
                  "cpu_hours,energy_kwh");
  csv_t c;
  csv_parse(r.out, &c);
  CHECK(c.ok && c.nrec == 4);
  if (c.ok && c.nrec == 4) {
    CHECK_STR(c.field[2][1], "odd,\"name\""); /* quoted and read back whole */
    CHECK_STR(c.field[2][3], "");             /* a null shot */
  }
  csv_free(&c);
  run_free(&r);
  run_free(&table);

  /* By kind, no rows: header and TOTAL only; the budget line. */
  const char *a5[] = {"cost", "--episode", "hod/e1", "--by", "kind"};
  table = run_at(&cmd_cost_entry, fk.endpoint, 5, a5);
  check_ok(&table, "KIND   ATTEMPTS  COST (USD)    FAILED      LOST  GPU-HOURS  CPU-HOURS    KWH\n"
                   "TOTAL         0    0.000000  0.000000  0.000000      0.000      0.000  0.000\n"
                   "budget: 5.000000 USD, left: 5.000000\n");
  run_free(&table);
  check_run_ok(&cmd_cost_entry, fk.endpoint,
               ARGV("cost", "--episode", "hod/e1", "--by", "kind", "--csv"),
               "kind,attempts,total_cost,failed_cost,lost_cost,gpu_hours,cpu_hours,energy_kwh\r\n"
               "TOTAL,0,0.000000,0.000000,0.000000,0.000,0.000,0.000\r\n");
  fake_stop(&fk);

  CHECK_INT(fk.served, (int)ARRAY_SIZE(jsons));
  static const char *const want_by[] = {"shot", "shot", "shot", "job", "job", "kind", "kind"};
  for (size_t i = 0; i < ARRAY_SIZE(want_by); i++) {
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_COST);
    CHECK_STR(fk.name[i], "hod/e1");
    CHECK_STR(fk.by[i], want_by[i]);
  }

  /* The coordinator's refusal, in every output mode. */
  fake_t fn = {.nreq = 3, .error_code = "not_found", .error_message = "no such episode: hod/e9"};
  fake_start(&fn);
  check_run_refused(&cmd_cost_entry, fn.endpoint, ARGV("cost", "--episode", "hod/e9"),
                    "no such episode: hod/e9", "not_found");
  fake_stop(&fn);
  CHECK_INT(fn.served, 3);
}

/* By job, a page: the request carries limit and after, the table ends
 * with the next page's --after (on stderr with --csv). */
static void test_cost_pages(void) {
  static const char *const page =
      "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"by\": \"job\", \"attempts\": 6, "
      "\"total_cost\": \"1.000000\", \"failed_cost\": \"0.000000\", \"lost_cost\": "
      "\"0.000000\", \"gpu_hours\": 0, \"cpu_hours\": 1, \"energy_kwh\": 0, \"budget\": null, "
      "\"left\": null, \"more\": true, \"next_after\": 12, \"jobs\": [{\"job_id\": 12, \"job\": "
      "\"a\", \"kind\": \"render\", \"shot\": null, \"attempts\": 1, \"total_cost\": "
      "\"0.500000\", \"failed_cost\": \"0.000000\", \"lost_cost\": \"0.000000\", "
      "\"gpu_hours\": 0, \"cpu_hours\": 0.5, \"energy_kwh\": 0}]}";
  const char *jsons[] = {page};
  fake_t fk = {.nreq = 2, .jsons = jsons, .njsons = 1};
  fake_start(&fk);
  run_t r = run_at(&cmd_cost_entry, fk.endpoint, 9,
                   (const char *[]){"cost", "--episode", "hod/e1", "--by", "job", "--limit", "1",
                                    "--after", "11"});
  CHECK_INT(r.status, 0);
  CHECK_CONTAINS(r.out, "\nTOTAL ");
  CHECK_CONTAINS(r.out, "\nmore jobs: add --after 12 for the next page\n");
  run_free(&r);
  r = run_at(&cmd_cost_entry, fk.endpoint, 6,
             (const char *[]){"cost", "--episode", "hod/e1", "--by", "job", "--csv"});
  CHECK_INT(r.status, 0);
  CHECK(strstr(r.out, "more jobs") == NULL); /* the CSV stays CSV */
  run_free(&r);
  fake_stop(&fk);
  CHECK_INT(fk.served, 2);
  CHECK_INT(fk.limit[0], 1);
  CHECK_INT(fk.after[0], 11);
  CHECK(!fk.all[0]);
  CHECK_INT(fk.limit[1], 0);
  CHECK_INT(fk.after[1], 0);
}

int main(void) {
  clitest_init();
  test_cost_arguments();
  test_cost_pages();
  test_rates();
  test_budget();
  test_cost();
  return check_report("test_client_cost");
}
