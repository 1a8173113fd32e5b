/*
 * test_client_signoff.c - the sign-off verbs: takes, approve, reject,
 * request-changes, retake, audit and audit --verify.
 *
 * Their argument errors (nothing is sent), and against a fake coordinator
 * the request fields (name, shot, state, ids, note), the table, lines, CSV
 * (its TOTAL row equal to the reply's totals) and --json of canned
 * replies, the coordinator's refusals (forbidden, invalid_state,
 * not_found), and the exit status of an intact and of a broken event log.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clitest.h"
#include "fakecoord.h"

static void test_signoff_arguments(void) {
  const usage_case_t cases[] = {
      /* takes: every filter checked before anything is sent */
      {&cmd_takes_entry,
       {"takes", "--episode", "hod"},
       "invalid episode 'hod': expected PROJECT/EPISODE"},
      {&cmd_takes_entry, {"takes", "--episode", "hod/E 1"}, "invalid episode 'E 1' in 'hod/E 1'"},
      {&cmd_takes_entry,
       {"takes", "--shot", "Sh010!"},
       "invalid --shot 'Sh010!': expected [A-Za-z0-9][A-Za-z0-9_.-]{0,63}"},
      {&cmd_takes_entry, {"takes", "--shot", ""}, "invalid --shot ''"},
      {&cmd_takes_entry,
       {"takes", "--state", "done"},
       "invalid --state 'done': expected pending_review, approved, changes_requested or "
       "rejected"},
      {&cmd_takes_entry, {"takes", "--state=Approved"}, "invalid --state 'Approved'"},
      {&cmd_takes_entry,
       {"takes", "--job", "0"},
       "invalid --job '0': expected a positive integer"},
      {&cmd_takes_entry, {"takes", "--job", "12x"}, "invalid --job '12x'"},
      {&cmd_takes_entry, {"takes", "sh010"}, "takes: too many arguments"},
      {&cmd_takes_entry, {"takes", "--bogus"}, "unknown option --bogus"},
      /* approve, reject, request-changes, retake: one take id */
      {&cmd_approve_entry, {"approve"}, "approve: missing argument"},
      {&cmd_approve_entry, {"approve", "7", "8"}, "approve: too many arguments"},
      {&cmd_approve_entry,
       {"approve", "x7", "--note", "ok"},
       "invalid take id 'x7': expected a positive integer"},
      {&cmd_reject_entry, {"reject", "0"}, "invalid take id '0'"},
      {&cmd_request_changes_entry, {"request-changes", "1.5"}, "invalid take id '1.5'"},
      {&cmd_request_changes_entry,
       {"request-changes", "7", "8", "--note", "x"},
       "request-changes: too many arguments"},
      {&cmd_retake_entry, {"retake"}, "retake: missing argument"},
      {&cmd_retake_entry, {"retake", "99999999999999999999"}, "invalid take id"},
      {&cmd_retake_entry, {"retake", "7", "--note", "again"}, "unknown option --note"},
      /* audit */
      {&cmd_audit_entry, {"audit"}, "audit: --episode PROJECT/EPISODE is required"},
      {&cmd_audit_entry,
       {"audit", "--episode", "Hod!/e1"},
       "invalid project 'Hod!' in 'Hod!/e1'"},
      {&cmd_audit_entry,
       {"audit", "--episode", "hod/e1", "--csv", "--json"},
       "audit: --csv and --json cannot be combined"},
      {&cmd_audit_entry, {"audit", "--verify", "--csv"}, "audit: --verify has no CSV form"},
      {&cmd_audit_entry, {"audit", "--verify", "--episode", "hod"}, "invalid episode 'hod'"},
      {&cmd_audit_entry, {"audit", "--episode", "hod/e1", "sh010"}, "audit: too many arguments"},
      {&cmd_audit_entry, {"audit", "--verify", "--head"}, "audit: --verify --head needs the head"},
      {&cmd_audit_entry, {"audit", "--head", "--csv"}, "audit: --head takes no --episode or --csv"},
      {&cmd_audit_entry, {"audit", "--head", "12:ab"}, "audit: too many arguments"},
  };
  check_usage_cases(cases, ARRAY_SIZE(cases));

  /* --help is not an error, for every verb. */
  const struct cmd_entry *entries[] = {&cmd_takes_entry,   &cmd_approve_entry,
                                       &cmd_reject_entry,  &cmd_request_changes_entry,
                                       &cmd_retake_entry,  &cmd_audit_entry};
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  CHECK(saved >= 0 && devnull >= 0);
  dup2(devnull, STDOUT_FILENO); /* the help goes to stdout */
  for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
    const char *h[] = {entries[i]->name, "--help"};
    run_t r = run_cmd(entries[i], 2, h);
    CHECK_INT(r.status, 0);
    CHECK_STR(r.err, "");
    run_free(&r);
  }
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  close(devnull);
}

static const char *const TAKES_JSON =
    "{\"takes\": ["
    "{\"take_id\": 7, \"job_id\": 12, \"job\": \"sh010-gen\", \"task_id\": 40, \"shot\": "
    "\"sh010\", \"kind\": \"generate\", \"state\": \"approved\", \"seed\": 1001, \"take\": 2, "
    "\"outputs\": [{\"path\": \"/farm/out/12/40/take.mp4\", \"size\": 1048576, \"sha256\": "
    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}, {\"path\": "
    "\"/farm/out/12/40/take.json\", \"size\": 12, \"sha256\": \"\"}], \"provenance\": "
    "{\"model\": \"wan-2.1\", \"model_version\": \"14b\", \"seed\": 1001}, \"decided_by\": "
    "\"alice\", \"decided_at\": \"2026-11-26T04:10:10.123456Z\", \"note\": \"looks great, the "
    "rain reads well against the neon sign\", \"created_at\": \"2026-11-26T04:00:00.000000Z\"},"
    "{\"take_id\": 8, \"job_id\": 12, \"job\": \"sh010-gen\", \"task_id\": 41, \"shot\": "
    "\"sh010\", \"kind\": \"generate\", \"state\": \"pending_review\", \"seed\": 1002, "
    "\"take\": 3, \"outputs\": [], \"provenance\": {}, \"decided_by\": null, \"decided_at\": "
    "null, \"note\": \"\", \"created_at\": \"2026-11-26T04:01:00.000000Z\"},"
    "{\"take_id\": 9, \"job_id\": 13, \"job\": \"final\", \"task_id\": null, \"shot\": null, "
    "\"kind\": \"render\", \"state\": \"rejected\", \"seed\": null, \"take\": null, "
    "\"outputs\": [{\"path\": \"/farm/out/13/1001.exr\", \"size\": 10, \"sha256\": \"ab\"}], "
    "\"provenance\": {\"job\": \"final\"}, \"decided_by\": \"bob\", \"decided_at\": "
    "\"2026-11-26T05:00:00.000000Z\", \"note\": \"line1\\nline2\", \"created_at\": "
    "\"2026-11-26T04:30:00.000000Z\"}]}";

static void test_takes(void) {
  const char *jsons[] = {TAKES_JSON, TAKES_JSON, TAKES_JSON, "{\"takes\": []}"};
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  /* The table: JOB is the name, OUTPUT the first path, null and "" read
   * "-", long notes are cut and line breaks cannot split a row. */
  const char *a0[] = {"takes"};
  run_t r = run_at(&cmd_takes_entry, fk.endpoint, 1, a0);
  check_ok(&r,
           "ID  JOB        TAKE  SHOT   KIND      STATE           SEED  OUTPUT                    "
           "DECIDED-BY  NOTE\n"
           " 7  sh010-gen     2  sh010  generate  approved        1001  /farm/out/12/40/take.mp4  "
           "alice       looks great, the rain reads well agai...\n"
           " 8  sh010-gen     3  sh010  generate  pending_review  1002  -                         "
           "-           -\n"
           " 9  final         -  -      render    rejected           -  /farm/out/13/1001.exr     "
           "bob         line1 line2\n");
  run_free(&r);
  /* Every filter goes into the request. */
  const char *a1[] = {"takes", "--episode", "hod/e1", "--shot", "sh010", "--state",
                      "approved", "--job", "12"};
  r = run_at(&cmd_takes_entry, fk.endpoint, 9, a1);
  CHECK_INT(r.status, 0);
  CHECK_INT(count_lines(r.out), 4);
  run_free(&r);
  /* --json: the reply as it is. */
  json_t *doc = run_json(&cmd_takes_entry, fk.endpoint,
                         ARGV("takes", "--json", "--state=pending_review"), 0, "");
  json_t *takes = json_object_get(doc, "takes");
  CHECK_INT(json_array_size(takes), 3);
  json_t *t0 = json_array_get(takes, 0);
  CHECK_INT(json_integer_value(json_object_get(t0, "take_id")), 7);
  CHECK_INT(json_integer_value(json_object_get(t0, "job_id")), 12);
  CHECK_STR(json_string_value(json_object_get(t0, "state")), "approved");
  CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(t0, "outputs"), 0),
                                              "sha256")),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  CHECK_STR(json_string_value(json_object_get(json_object_get(t0, "provenance"), "model")),
            "wan-2.1");
  json_t *t2 = json_array_get(takes, 2);
  CHECK(json_is_null(json_object_get(t2, "task_id")));
  CHECK(json_is_null(json_object_get(t2, "shot")));
  CHECK(json_is_null(json_object_get(t2, "seed")));
  CHECK(json_is_null(json_object_get(json_array_get(takes, 1), "decided_by")));
  json_decref(doc);
  /* No takes. */
  check_run_ok(&cmd_takes_entry, fk.endpoint, ARGV("takes", "--episode", "hod/e2"), "no takes\n");
  fake_stop(&fk);

  CHECK_INT(fk.served, 4);
  for (int i = 0; i < 4; i++)
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_TAKES);
  /* No filter: everything empty, no ids. */
  CHECK_STR(fk.name[0], "");
  CHECK_STR(fk.shot[0], "");
  CHECK_STR(fk.state[0], "");
  CHECK_INT(fk.nids[0], 0);
  /* All filters. */
  CHECK_STR(fk.name[1], "hod/e1");
  CHECK_STR(fk.shot[1], "sh010");
  CHECK_STR(fk.state[1], "approved");
  CHECK_INT(fk.nids[1], 1);
  CHECK_INT(fk.id0[1], 12);
  /* Options do not stick to the next run. */
  CHECK_STR(fk.name[2], "");
  CHECK_STR(fk.shot[2], "");
  CHECK_STR(fk.state[2], "pending_review");
  CHECK_INT(fk.nids[2], 0);
  CHECK_STR(fk.name[3], "hod/e2");
  CHECK_STR(fk.state[3], "");

  /* The coordinator's refusal. */
  fake_t fn = {.nreq = 1, .error_code = "not_found", .error_message = "no such job: 99"};
  fake_start(&fn);
  check_run_error(&cmd_takes_entry, fn.endpoint, ARGV("takes", "--job", "99", "--json"), 1,
                  "no such job: 99", true, "not_found");
  fake_stop(&fn);
}

/* A decision reply: {"take": {...}} with state, decider and note. */
static char *take_reply(int id, const char *state, const char *by, const char *note) {
  json_t *doc = json_pack("{s:{s:i,s:i,s:s,s:i,s:s,s:s,s:s,s:i,s:[],s:{},s:s?,s:s?,s:s,s:s}}",
                          "take", "take_id", id, "job_id", 12, "job", "sh010-gen", "task_id",
                          30 + id, "shot", "sh010", "kind", "generate", "state", state, "seed",
                          1000 + id, "outputs", "provenance", "decided_by", by,
                          "decided_at", by ? "2026-11-26T04:10:10.123456Z" : NULL, "note", note,
                          "created_at", "2026-11-26T04:00:00.000000Z");
  char *s = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return s;
}

static void test_review(void) {
  char *replies[] = {
      take_reply(7, "approved", "alice", "looks great"),
      take_reply(8, "rejected", "bob", ""),
      take_reply(9, "changes_requested", "alice", "more rain"),
      xstrdup("{\"jobs\": [{\"job_id\": 14, \"name\": \"sh0420-gen-r1\", \"tasks\": 1, "
              "\"seed\": 1004}], \"take\": {\"take_id\": 7, \"job_id\": 12, \"state\": "
              "\"rejected\"}}"),
      take_reply(10, "approved", "alice", "ok"),
      xstrdup("{\"jobs\": [{\"job_id\": 15, \"name\": \"sh0420-gen-r2\", \"tasks\": 1, "
              "\"seed\": 1005}], \"take\": {\"take_id\": 7, \"job_id\": 12, \"state\": "
              "\"rejected\"}}"),
  };
  const char *jsons[ARRAY_SIZE(replies)];
  for (size_t i = 0; i < ARRAY_SIZE(replies); i++)
    jsons[i] = replies[i];
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  check_run_ok(&cmd_approve_entry, fk.endpoint, ARGV("approve", "7", "--note", "looks great"),
               "take 7 approved by alice: looks great\n");
  check_run_ok(&cmd_reject_entry, fk.endpoint, ARGV("reject", "8"), "take 8 rejected by bob\n");
  check_run_ok(&cmd_request_changes_entry, fk.endpoint,
               ARGV("request-changes", "--note=more rain", "9"),
               "take 9 changes requested by alice: more rain\n");
  check_run_ok(&cmd_retake_entry, fk.endpoint, ARGV("retake", "7"),
               "take 7: retake queued as job 14 sh0420-gen-r1 (seed 1004)\n");
  /* --json: the reply as it is. */
  json_t *doc = run_json(&cmd_approve_entry, fk.endpoint,
                         ARGV("approve", "10", "--json", "--note", "ok"), 0, "");
  json_t *take = json_object_get(doc, "take");
  CHECK_INT(json_integer_value(json_object_get(take, "take_id")), 10);
  CHECK_STR(json_string_value(json_object_get(take, "state")), "approved");
  CHECK_STR(json_string_value(json_object_get(take, "decided_by")), "alice");
  CHECK_STR(json_string_value(json_object_get(take, "note")), "ok");
  json_decref(doc);
  doc = run_json(&cmd_retake_entry, fk.endpoint, ARGV("retake", "--json", "7"), 0, NULL);
  json_t *job = json_array_get(json_object_get(doc, "jobs"), 0);
  CHECK_INT(json_integer_value(json_object_get(job, "job_id")), 15);
  CHECK_STR(json_string_value(json_object_get(job, "name")), "sh0420-gen-r2");
  CHECK_INT(json_integer_value(json_object_get(job, "seed")), 1005);
  CHECK_INT(json_integer_value(json_object_get(json_object_get(doc, "take"), "take_id")), 7);
  json_decref(doc);
  fake_stop(&fk);
  for (size_t i = 0; i < ARRAY_SIZE(replies); i++)
    free(replies[i]);

  CHECK_INT(fk.served, 6);
  static const Clapper__Verb want_verb[] = {
      CLAPPER__VERB__VERB_APPROVE, CLAPPER__VERB__VERB_REJECT, CLAPPER__VERB__VERB_REQUEST_CHANGES,
      CLAPPER__VERB__VERB_RETAKE,  CLAPPER__VERB__VERB_APPROVE, CLAPPER__VERB__VERB_RETAKE};
  static const uint64_t want_id[] = {7, 8, 9, 7, 10, 7};
  static const char *const want_note[] = {"looks great", "", "more rain", "", "ok", ""};
  for (size_t i = 0; i < ARRAY_SIZE(want_verb); i++) {
    CHECK_INT(fk.verb[i], want_verb[i]);
    CHECK_INT(fk.nids[i], 1);
    CHECK_INT(fk.id0[i], want_id[i]);
    CHECK_STR(fk.note[i], want_note[i]);
  }

  /* The coordinator's refusals, as it words them. */
  static const struct {
    const struct cmd_entry *e;
    const char *verb, *code, *message;
  } refusals[] = {
      {&cmd_approve_entry, "approve", "forbidden",
       "approve: the role submitter may not review takes (supervisor or admin)"},
      {&cmd_reject_entry, "reject", "invalid_state",
       "take 7 was already rejected: decisions are final"},
      {&cmd_request_changes_entry, "request-changes", "not_found", "no such take: 70"},
      {&cmd_retake_entry, "retake", "not_found", "no such take: 70"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
    fake_t fe = {.nreq = 2, .error_code = refusals[i].code, .error_message = refusals[i].message};
    fake_start(&fe);
    check_run_error(refusals[i].e, fe.endpoint, ARGV(refusals[i].verb, "70"), 1,
                    refusals[i].message, false, NULL);
    check_run_error(refusals[i].e, fe.endpoint, ARGV(refusals[i].verb, "70", "--json"), 1,
                    refusals[i].message, true, refusals[i].code);
    fake_stop(&fe);
    CHECK_INT(fe.served, 2);
  }
}

static const char *const AUDIT_JSON =
    "{\"episode\": \"hod/e1\", \"currency\": \"USD\", \"shots\": ["
    "{\"shot\": \"sh010\", "
    "\"takes\": {\"generated\": 3, \"approved\": 1, \"rejected\": 1, \"pending\": 1, "
    "\"changes_requested\": 0}, "
    "\"decisions\": ["
    "{\"take_id\": 7, \"job\": \"sh010-gen\", \"kind\": \"generate\", \"state\": \"approved\", "
    "\"decided_by\": \"alice\", \"decided_at\": \"2026-11-26T04:10:10.123456Z\", \"note\": "
    "\"looks great\"}, "
    "{\"take_id\": 8, \"job\": \"sh010-gen\", \"kind\": \"generate\", \"state\": \"rejected\", "
    "\"decided_by\": \"bob\", \"decided_at\": \"2026-11-26T04:12:00.000000Z\", \"note\": \"\"}], "
    "\"approved\": ["
    "{\"take_id\": 7, \"job\": \"sh010-gen\", \"kind\": \"generate\", \"machine_generated\": "
    "true, \"model\": \"wan-2.1\", \"model_version\": \"14b\", \"outputs\": [{\"path\": "
    "\"/farm/out/12/40/take.mp4\", \"sha256\": "
    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}]}], "
    "\"cost\": {\"approved\": \"1.000000\", \"rejected\": \"1.000000\", \"pending\": "
    "\"1.000000\", \"changes_requested\": \"0.000000\", \"failed_attempts\": \"0.500000\", "
    "\"other\": \"0.000000\", \"total\": \"3.500000\"}, "
    "\"energy_kwh\": {\"approved\": 0.1, \"rejected\": 0.1, \"pending\": 0.1, "
    "\"changes_requested\": 0, \"failed_attempts\": 0.05, \"other\": 0, \"total\": 0.35}}, "
    "{\"shot\": null, "
    "\"takes\": {\"generated\": 1, \"approved\": 1, \"rejected\": 0, \"pending\": 0, "
    "\"changes_requested\": 0}, "
    "\"decisions\": [{\"take_id\": 9, \"job\": \"final\", \"kind\": \"render\", \"state\": "
    "\"approved\", \"decided_by\": \"alice\", \"decided_at\": \"2026-11-26T05:00:00.000000Z\", "
    "\"note\": \"ship it\"}], "
    "\"approved\": [{\"take_id\": 9, \"job\": \"final\", \"kind\": \"render\", "
    "\"machine_generated\": false, \"model\": null, \"model_version\": null, \"outputs\": ["
    "{\"path\": \"/farm/out/13/1001.exr\", \"sha256\": \"aa\"}, {\"path\": "
    "\"/farm/out/13/1002.exr\", \"sha256\": \"bb\"}]}], "
    "\"cost\": {\"approved\": \"2.000000\", \"rejected\": \"0.000000\", \"pending\": "
    "\"0.000000\", \"changes_requested\": \"0.000000\", \"failed_attempts\": \"0.000000\", "
    "\"other\": \"0.250000\", \"total\": \"2.250000\"}, "
    "\"energy_kwh\": {\"approved\": 0.2, \"rejected\": 0, \"pending\": 0, "
    "\"changes_requested\": 0, \"failed_attempts\": 0, \"other\": 0.0125, \"total\": 0.2125}}], "
    "\"totals\": {"
    "\"takes\": {\"generated\": 4, \"approved\": 2, \"rejected\": 1, \"pending\": 1, "
    "\"changes_requested\": 0}, "
    "\"cost\": {\"approved\": \"3.000000\", \"rejected\": \"1.000000\", \"pending\": "
    "\"1.000000\", \"changes_requested\": \"0.000000\", \"failed_attempts\": \"0.500000\", "
    "\"other\": \"0.250000\", \"total\": \"5.750000\"}, "
    "\"energy_kwh\": {\"approved\": 0.3, \"rejected\": 0.1, \"pending\": 0.1, "
    "\"changes_requested\": 0, \"failed_attempts\": 0.05, \"other\": 0.0125, \"total\": "
    "0.5625}}}";

#define AUDIT_CSV_HEADER                                                                           \
  "shot,generated,approved,rejected,pending,changes_requested,cost_approved,cost_rejected,"       \
  "cost_pending,cost_changes_requested,cost_failed_attempts,cost_other,cost_total,kwh_total"

static void test_audit(void) {
  const char *jsons[] = {AUDIT_JSON, AUDIT_JSON, AUDIT_JSON,
                         "{\"episode\": \"hod/e2\", \"currency\": \"USD\", \"shots\": [], "
                         "\"totals\": {\"takes\": {\"generated\": 0, \"approved\": 0, "
                         "\"rejected\": 0, \"pending\": 0, \"changes_requested\": 0}, "
                         "\"cost\": {\"approved\": \"0.000000\", \"rejected\": \"0.000000\", "
                         "\"pending\": \"0.000000\", \"changes_requested\": \"0.000000\", "
                         "\"failed_attempts\": \"0.000000\", \"other\": \"0.000000\", "
                         "\"total\": \"0.000000\"}, \"energy_kwh\": {\"approved\": 0, "
                         "\"rejected\": 0, \"pending\": 0, \"changes_requested\": 0, "
                         "\"failed_attempts\": 0, \"other\": 0, \"total\": 0}}}"};
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  const char *a0[] = {"audit", "--episode", "hod/e1"};
  run_t r = run_at(&cmd_audit_entry, fk.endpoint, 3, a0);
  check_ok(&r,
           "audit of episode hod/e1\n"
           "shot sh010: 3 takes generated, 1 approved, 1 rejected, 1 pending, 0 changes "
           "requested\n"
           "  take 7 approved by alice at 2026-11-26T04:10:10.123456Z: looks great\n"
           "  take 8 rejected by bob at 2026-11-26T04:12:00.000000Z\n"
           "  approved take 7: machine-generated (wan-2.1 14b)\n"
           "    sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  "
           "/farm/out/12/40/take.mp4\n"
           "  cost USD: approved 1.000000, rejected 1.000000, pending 1.000000, changes "
           "requested 0.000000, failed attempts 0.500000, other 0.000000, total 3.500000\n"
           "  energy kWh: approved 0.100, rejected 0.100, pending 0.100, changes requested "
           "0.000, failed attempts 0.050, other 0.000, total 0.350\n"
           "shot -: 1 take generated, 1 approved, 0 rejected, 0 pending, 0 changes requested\n"
           "  take 9 approved by alice at 2026-11-26T05:00:00.000000Z: ship it\n"
           "  approved take 9: rendered\n"
           "    sha256 aa  /farm/out/13/1001.exr\n"
           "    sha256 bb  /farm/out/13/1002.exr\n"
           "  cost USD: approved 2.000000, rejected 0.000000, pending 0.000000, changes "
           "requested 0.000000, failed attempts 0.000000, other 0.250000, total 2.250000\n"
           "  energy kWh: approved 0.200, rejected 0.000, pending 0.000, changes requested "
           "0.000, failed attempts 0.000, other 0.013, total 0.212\n"
           "TOTAL: 4 takes generated, 2 approved, 1 rejected, 1 pending, 0 changes requested\n"
           "  cost USD: approved 3.000000, rejected 1.000000, pending 1.000000, changes "
           "requested 0.000000, failed attempts 0.500000, other 0.250000, total 5.750000\n"
           "  energy kWh: approved 0.300, rejected 0.100, pending 0.100, changes requested "
           "0.000, failed attempts 0.050, other 0.013, total 0.562\n");
  run_free(&r);

  /* --csv: one row per shot, a TOTAL row equal to the reply's totals. */
  const char *a1[] = {"audit", "--csv", "--episode", "hod/e1"};
  r = run_at(&cmd_audit_entry, fk.endpoint, 4, a1);
  check_ok(&r, AUDIT_CSV_HEADER "\r\n"
               "sh010,3,1,1,1,0,1.000000,1.000000,1.000000,0.000000,0.500000,0.000000,3.500000,"
               "0.350\r\n"
               ",1,1,0,0,0,2.000000,0.000000,0.000000,0.000000,0.000000,0.250000,2.250000,"
               "0.212\r\n"
               "TOTAL,4,2,1,1,0,3.000000,1.000000,1.000000,0.000000,0.500000,0.250000,5.750000,"
               "0.562\r\n");
  csv_t c;
  csv_parse(r.out, &c);
  CHECK(c.ok);
  CHECK_INT(c.nrec, 4);
  json_t *reply = json_loads(AUDIT_JSON, 0, NULL);
  const json_t *totals = json_object_get(reply, "totals");
  if (c.ok && c.nrec == 4) {
    CHECK_INT(c.nfields[0], 14);
    CHECK_STR(c.field[0][0], "shot");
    CHECK_STR(c.field[0][13], "kwh_total");
    CHECK_STR(c.field[2][0], ""); /* a null shot */
    const int last = 3;
    CHECK_INT(c.nfields[last], 14);
    CHECK_STR(c.field[last][0], "TOTAL");
    /* The header names the figure; the TOTAL field is the reply's. */
    for (int f = 1; f < c.nfields[last] && f < 14; f++) {
      const char *h = c.field[0][f];
      char want[64];
      if (f <= 5) {
        snprintf(want, sizeof want, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(json_object_get(totals, "takes"), h)));
      } else if (!strncmp(h, "cost_", 5)) {
        snprintf(want, sizeof want, "%s",
                 json_string_value(json_object_get(json_object_get(totals, "cost"), h + 5)));
      } else {
        snprintf(want, sizeof want, "%.3f",
                 json_number_value(json_object_get(json_object_get(totals, "energy_kwh"),
                                                   "total")));
      }
      CHECK_STR(c.field[last][f], want);
    }
  }
  csv_free(&c);
  json_decref(reply);
  run_free(&r);

  /* --json: the reply as it is, money as strings. */
  json_t *doc = run_json(&cmd_audit_entry, fk.endpoint,
                         ARGV("audit", "--episode", "hod/e1", "--json"), 0, "");
  CHECK_STR(json_string_value(json_object_get(doc, "episode")), "hod/e1");
  json_t *s0 = json_array_get(json_object_get(doc, "shots"), 0);
  CHECK_STR(json_string_value(json_object_get(json_object_get(s0, "cost"), "total")), "3.500000");
  CHECK(json_is_true(
      json_object_get(json_array_get(json_object_get(s0, "approved"), 0), "machine_generated")));
  CHECK(json_is_null(json_object_get(json_array_get(json_object_get(doc, "shots"), 1), "shot")));
  CHECK_STR(json_string_value(json_object_get(
                json_object_get(json_object_get(doc, "totals"), "cost"), "total")),
            "5.750000");
  CHECK_INT(json_integer_value(json_object_get(
                json_object_get(json_object_get(doc, "totals"), "takes"), "generated")),
            4);
  json_decref(doc);

  /* An episode without takes: the TOTAL block only. */
  check_run_ok(&cmd_audit_entry, fk.endpoint, ARGV("audit", "--episode", "hod/e2"),
               "audit of episode hod/e2\n"
               "TOTAL: 0 takes generated, 0 approved, 0 rejected, 0 pending, 0 changes "
               "requested\n"
               "  cost USD: approved 0.000000, rejected 0.000000, pending 0.000000, changes "
               "requested 0.000000, failed attempts 0.000000, other 0.000000, total 0.000000\n"
               "  energy kWh: approved 0.000, rejected 0.000, pending 0.000, changes requested "
               "0.000, failed attempts 0.000, other 0.000, total 0.000\n");
  fake_stop(&fk);

  CHECK_INT(fk.served, 4);
  for (int i = 0; i < 4; i++) {
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_AUDIT);
    CHECK_STR(fk.name[i], i == 3 ? "hod/e2" : "hod/e1");
  }

  /* The coordinator's refusal, in every output mode. */
  fake_t fn = {.nreq = 3, .error_code = "forbidden",
               .error_message = "audit: the role submitter may not read audits"};
  fake_start(&fn);
  check_run_refused(&cmd_audit_entry, fn.endpoint, ARGV("audit", "--episode", "hod/e1"),
                    "may not read audits", "forbidden");
  fake_stop(&fn);
  CHECK_INT(fn.served, 3);
}

static void test_audit_verify(void) {
  const char *ok = "{\"ok\": true, \"events\": 1234, \"first_broken\": null, \"message\": "
                   "\"hash chain intact\"}";
  const char *broken = "{\"ok\": false, \"events\": 1234, \"first_broken\": 57, \"message\": "
                       "\"its hash does not match its content\"}";
  const char *jsons[] = {ok, broken, ok, broken, "{\"ok\": true, \"events\": 1}",
                         "{\"events\": 3}"};
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);

  const char *const *a0 = ARGV("audit", "--verify");
  check_run_ok(&cmd_audit_entry, fk.endpoint, a0, "event log: 1234 events, hash chain intact\n");
  /* Broken: exit 1, one line naming the first broken event. */
  run_t r = run_at(&cmd_audit_entry, fk.endpoint, 2, a0);
  check_error(&r, 1,
              "event log: the chain breaks at event 57: its hash does not match its content",
              false, NULL);
  CHECK_STR(r.err, "clapper: event log: the chain breaks at event 57: its hash does not match "
                   "its content\n");
  run_free(&r);
  /* --json: the document either way; the exit status says whether it is intact. */
  const char *const *a1 = ARGV("audit", "--verify", "--json");
  json_t *doc = run_json(&cmd_audit_entry, fk.endpoint, a1, 0, "");
  CHECK(json_is_true(json_object_get(doc, "ok")));
  CHECK_INT(json_integer_value(json_object_get(doc, "events")), 1234);
  CHECK(json_is_null(json_object_get(doc, "first_broken")));
  json_decref(doc);
  r = run_at(&cmd_audit_entry, fk.endpoint, 3, a1);
  CHECK_INT(r.status, 1);
  CHECK_INT(count_lines(r.err), 1);
  CHECK_CONTAINS(r.err, "the chain breaks at event 57");
  doc = json_loads(r.out, 0, NULL);
  CHECK(doc != NULL);
  CHECK(json_is_false(json_object_get(doc, "ok")));
  CHECK_INT(json_integer_value(json_object_get(doc, "first_broken")), 57);
  CHECK(json_object_get(doc, "error") == NULL); /* one document: the reply */
  json_decref(doc);
  run_free(&r);
  /* One event; --episode may be named too (the chain is the whole log). */
  check_run_ok(&cmd_audit_entry, fk.endpoint, ARGV("audit", "--verify", "--episode", "hod/e1"),
               "event log: 1 event, hash chain intact\n");
  /* An answer without "ok" is not taken for intact. */
  check_run_error(&cmd_audit_entry, fk.endpoint, a0, 1, "has no \"ok\"", false, NULL);
  fake_stop(&fk);

  CHECK_INT(fk.served, (int)ARRAY_SIZE(jsons));
  for (size_t i = 0; i < ARRAY_SIZE(jsons); i++) {
    CHECK_INT(fk.verb[i], CLAPPER__VERB__VERB_AUDIT_VERIFY);
    CHECK_STR(fk.name[i], "");
    CHECK_INT(fk.nids[i], 0);
  }

  fake_t fn = {.nreq = 1, .error_code = "forbidden",
               .error_message = "audit: the role submitter may not read audits"};
  fake_start(&fn);
  check_run_error(&cmd_audit_entry, fn.endpoint, ARGV("audit", "--verify", "--json"), 1,
                  "may not read audits", true, "forbidden");
  fake_stop(&fn);
}

/* --head prints the head as a line to keep; --verify --head H sends H. */
static void test_audit_head(void) {
  const char *head = "{\"events\": 9, \"hash\": \"ab\", \"head\": \"9:ab\", \"keyed\": true}";
  const char *ok = "{\"ok\": true, \"events\": 9, \"first_broken\": null, \"message\": "
                   "\"hash chain intact, keyed\", \"key\": true, \"keyed\": 9}";
  const char *gone = "{\"ok\": false, \"events\": 6, \"first_broken\": null, \"message\": "
                     "\"the log ends at event 6 of the chain, before the given head (event 9): "
                     "its last events were removed\"}";
  const char *jsons[] = {head, ok, gone};
  fake_t fk = {.nreq = ARRAY_SIZE(jsons), .jsons = jsons, .njsons = ARRAY_SIZE(jsons)};
  fake_start(&fk);
  check_run_ok(&cmd_audit_entry, fk.endpoint, ARGV("audit", "--head"), "9:ab\n");
  check_run_ok(&cmd_audit_entry, fk.endpoint, ARGV("audit", "--verify", "--head", "9:ab"),
               "event log: 9 events, hash chain intact, 9 keyed with the audit key, head 9:ab in "
               "it\n");
  check_run_error(&cmd_audit_entry, fk.endpoint, ARGV("audit", "--verify", "--head", "9:ab"), 1,
                  "the chain is broken: the log ends at event 6", false, "tampered");
  fake_stop(&fk);
  CHECK_INT(fk.served, 3);
  CHECK_INT(fk.verb[0], CLAPPER__VERB__VERB_AUDIT_HEAD);
  CHECK_INT(fk.verb[1], CLAPPER__VERB__VERB_AUDIT_VERIFY);
  CHECK_STR(fk.name[1], "9:ab");
  CHECK_STR(fk.name[2], "9:ab");
}

int main(void) {
  clitest_init();
  test_audit_head();
  test_signoff_arguments();
  test_takes();
  test_review();
  test_audit();
  test_audit_verify();
  return check_report("test_client_signoff");
}
