/*
 * test_jsondoc.c - the rules of clapper's JSON documents (common/jsondoc.c,
 * sql/016_json_time.sql): jsondoc_versioned on PostgreSQL's and jansson's
 * texts, empty objects, white space and non-objects; jsondoc_real on the
 * hours, kWh and seconds the coordinator sends (0.040384 stays 0.040384),
 * tiny, huge, negative, integral and non-finite values, and the round trip
 * of every 6-decimal value in a range; jsondoc_dump against jansson's own
 * layout (JSON_INDENT(2), JSON_COMPACT) for documents without reals,
 * escapes, the version it adds and the one it keeps; and
 * clapper_json_time on a real private PostgreSQL in a session whose time
 * zone is not UTC: whole seconds, microseconds, years before 1000, NULL.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jsondoc.h"
#include "log.h"
#include "migrate.h"
#include "pgtest.h"

static void check_versioned(const char *in, const char *want) {
  char *out = jsondoc_versioned(in);
  CHECK_STR(out, want);
  free(out);
}

static void test_versioned(void) {
  check_versioned("{\"jobs\" : []}", "{\"version\":1,\"jobs\" : []}");
  check_versioned("{\"a\":1}", "{\"version\":1,\"a\":1}");
  check_versioned("{}", "{\"version\":1}");
  check_versioned("{ \n }", "{\"version\":1 \n }");
  check_versioned("  {\"a\":1}", "  {\"version\":1,\"a\":1}");
  check_versioned("[1,2]", "[1,2]");
  check_versioned("", "");
  /* The result is a JSON object whose first member is the version. */
  char *out = jsondoc_versioned("{\"episode\" : \"show/e1\", \"n\" : {\"x\" : 1}}");
  json_t *doc = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
  CHECK(doc != NULL);
  CHECK_INT(json_integer_value(json_object_get(doc, "version")), JSONDOC_VERSION);
  CHECK_STR(json_string_value(json_object_get(doc, "episode")), "show/e1");
  void *it = json_object_iter(doc);
  CHECK_STR(json_object_iter_key(it), "version");
  json_decref(doc);
  free(out);
}

static const char *real(double v) {
  static char buf[JSONDOC_REAL_MAX];
  jsondoc_real(v, buf, sizeof buf);
  return buf;
}

static void test_real(void) {
  CHECK_STR(real(0.040384), "0.040384");
  CHECK_STR(real(0.052), "0.052");
  CHECK_STR(real(0.000018), "0.000018");
  CHECK_STR(real(0.000001), "0.000001");
  CHECK_STR(real(12.345678), "12.345678");
  CHECK_STR(real(123456789.123456), "123456789.123456");
  CHECK_STR(real(0.465), "0.465");
  CHECK_STR(real(2.0), "2.0");
  CHECK_STR(real(0.0), "0.0");
  CHECK_STR(real(-0.0), "-0.0");
  CHECK_STR(real(-1.5), "-1.5");
  CHECK_STR(real(1e20), "100000000000000000000.0");
  CHECK_STR(real(0.1 + 0.2), "0.30000000000000004"); /* what the double is */
  CHECK_STR(real(1e-20), "1e-20");
  CHECK_STR(real(NAN), "null");
  CHECK_STR(real(INFINITY), "null");
  /* Cut to the caller's room, never overrun. */
  char small[4];
  jsondoc_real(12.345678, small, sizeof small);
  CHECK_STR(small, "12.");
  /* Every 6-decimal value parsed the way jansson parses it (strtod)
   * prints back as the same text, trailing zeros aside. */
  int bad = 0;
  for (long i = 0; i < 2000000; i += 97) {
    char text[32], want[32];
    snprintf(text, sizeof text, "%ld.%06ld", i / 1000000, i % 1000000);
    snprintf(want, sizeof want, "%s", text);
    size_t n = strlen(want);
    while (want[n - 1] == '0' && want[n - 2] != '.')
      want[--n] = '\0';
    if (strcmp(real(strtod(text, NULL)), want) != 0 && bad++ < 5)
      fprintf(stderr, "%s printed as %s\n", text, real(strtod(text, NULL)));
  }
  CHECK_INT(bad, 0);
}

static char *dump(const json_t *v, unsigned indent, int flags) {
  sbuf_t sb = {0};
  jsondoc_dump(v, indent, flags, &sb);
  return sbuf_steal(&sb);
}

static void test_dump(void) {
  /* Without reals, the layout of jansson's own dumps. */
  const char *docs[] = {
      "{\"jobs\": [{\"job_id\": 1, \"name\": \"gen\", \"shot\": null, \"tasks\": {}, "
      "\"outputs\": [], \"ok\": true, \"bad\": false, \"note\": \"a \\\"b\\\" \\\\ "
      "\\n\\t\\u0001\\u001f "
      "\\u00e9\\u2028\"}], \"more\": false, \"next_after\": null, \"n\": -9223372036854775807}",
      "{}",
      "[]",
      "[[], {}, [1, [2, {\"a\": [3]}]]]",
  };
  for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
    json_error_t e;
    json_t *doc = json_loads(docs[i], 0, &e);
    CHECK(doc != NULL);
    size_t flags[] = {JSON_INDENT(2), JSON_COMPACT};
    unsigned indents[] = {2, 0};
    for (size_t k = 0; k < 2; k++) {
      char *want = json_dumps(doc, flags[k] | JSON_PRESERVE_ORDER);
      char *got = dump(doc, indents[k], 0);
      CHECK_STR(got, want);
      free(want);
      free(got);
    }
    json_decref(doc);
  }
  /* Reals without noise, in place. */
  json_t *doc =
      json_pack("{s:f,s:f,s:[f]}", "gpu_hours", 0.040384, "wall_s", 0.465, "kwh", 0.000018);
  char *got = dump(doc, 0, 0);
  CHECK_STR(got, "{\"gpu_hours\":0.040384,\"wall_s\":0.465,\"kwh\":[0.000018]}");
  free(got);
  /* The version, first, when asked for and missing; never twice, and only
   * at the top. */
  got = dump(doc, 2, JSONDOC_ADD_VERSION);
  CHECK_STR(got, "{\n  \"version\": 1,\n  \"gpu_hours\": 0.040384,\n  \"wall_s\": 0.465,\n"
                 "  \"kwh\": [\n    0.000018\n  ]\n}");
  free(got);
  json_decref(doc);
  doc = json_pack("{s:{s:i},s:i}", "error", "code", 1, "version", 7);
  got = dump(doc, 0, JSONDOC_ADD_VERSION);
  CHECK_STR(got, "{\"error\":{\"code\":1},\"version\":7}");
  free(got);
  json_decref(doc);
  doc = json_object();
  got = dump(doc, 2, JSONDOC_ADD_VERSION);
  CHECK_STR(got, "{\n  \"version\": 1\n}");
  free(got);
  json_decref(doc);
  doc = json_pack("[{}]");
  got = dump(doc, 0, JSONDOC_ADD_VERSION);
  CHECK_STR(got, "[{}]");
  free(got);
  json_decref(doc);
  got = dump(NULL, 2, 0);
  CHECK_STR(got, "null");
  free(got);
}

static void test_time_sql(PGconn *db) {
  /* The session's zone must not show: New York, 5 hours behind in January. */
  pgtest_exec(db, "SET TimeZone = 'America/New_York'");
  CHECK_STR(pgtest_value(db, "SELECT clapper_json_time('2026-01-02 03:04:05-05')"),
            "2026-01-02T08:04:05.000000Z");
  CHECK_STR(pgtest_value(db, "SELECT clapper_json_time('2026-11-30 20:45:28.12625+00')"),
            "2026-11-30T20:45:28.126250Z");
  CHECK_STR(pgtest_value(db, "SELECT clapper_json_time('2026-11-30 23:59:59.999999+00')"),
            "2026-11-30T23:59:59.999999Z");
  CHECK_STR(pgtest_value(db, "SELECT clapper_json_time('0999-01-01 00:00:00.5+00')"),
            "0999-01-01T00:00:00.500000Z");
  CHECK_STR(pgtest_value(db, "SELECT clapper_json_time(NULL)"), "(null)");
  /* In a document: a JSON string, null for NULL. */
  CHECK_STR(pgtest_value(db, "SELECT json_build_object('at', clapper_json_time("
                             "'2026-06-01 12:00:00.000001+02'), 'none', "
                             "clapper_json_time(NULL))::text"),
            "{\"at\" : \"2026-06-01T10:00:00.000001Z\", \"none\" : null}");
  /* The memory format (util_iso8601) is the same. */
  char at[40];
  util_iso8601(1764535528126250LL, at, sizeof at);
  CHECK_STR(pgtest_value(db, "SELECT clapper_json_time(clapper_ts(1764535528126250))"), at);
  /* The planner inlines it: the plan shows to_char, not the function. */
  CHECK_CONTAINS(pgtest_value(db, "EXPLAIN (VERBOSE, FORMAT JSON) SELECT clapper_json_time(t) FROM "
                                  "(VALUES (now())) v(t)"),
                 "to_char");
}

int main(void) {
  log_init("test_jsondoc", LOG_LVL_WARN);
  test_versioned();
  test_real();
  test_dump();
  pgtest_start();
  PGconn *db = pgtest_connect();
  char err[512] = "";
  if (migrate_apply(db, pgtest_sql_dir(), err, sizeof err) < 0) {
    fprintf(stderr, "migrate_apply: %s\n", err);
    return 1;
  }
  test_time_sql(db);
  PQfinish(db);
  pgtest_stop();
  return check_report("test_jsondoc");
}
