/*
 * test_audit.c - the sign-off audit's SQL (coordinator/query.c SQL_AUDIT
 * over the views of sql/005_audit.sql) against a real private PostgreSQL.
 *
 * The audit used to be one statement of per-figure correlated subqueries;
 * that statement is kept below, verbatim but for its time (decided_at,
 * written by clapper_json_time since sql/016, as every document's time),
 * as the reference.  On an episode
 * with several shots (one of them the jobs without a shot, one with a job
 * and nothing else), generated takes in every review state, render takes,
 * a take whose attempt has no ledger row yet and one without an attempt,
 * failed, timed_out, lost and canceled attempts, and look-alikes in another
 * project (same episode and shot names) that must not leak in, the old and
 * the new statement give equal documents (parsed, jansson's json_equal);
 * so they do for an episode with jobs but no takes, for an episode with
 * nothing in it, and both give NULL for a missing episode.  Figures worked
 * out by hand (in the comments of the data) are checked too, so both being
 * wrong the same way would not pass; and the views themselves.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "migrate.h"
#include "pgtest.h"
#include "query.h"

/* ------------------------------------------------ the old audit, verbatim */

/* Ledger rows that made take tk: a generated take's attempt, a rendered
 * take's succeeded attempts. */
#define MADE_BY(tk)                                                                            \
  "((" tk ".kind = 'generate' AND lg.attempt_id = " tk ".attempt_id) OR (" tk ".kind = "       \
  "'render' AND lg.job_id = " tk ".job_id AND lg.state = 'succeeded'))"
#define KWH(x) "round(coalesce(" x ", 0) / 3600000000.0, 6)"
#define SAME_SHOT(a, b) a " IS NOT DISTINCT FROM " b
#define MONEY(x) "((" x ")::numeric / 1000000)::numeric(30,6)::text"

static const char OLD_SQL_AUDIT[] =
    "WITH ep AS (SELECT e.id FROM episodes e JOIN projects p ON p.id = e.project_id "
    "            WHERE p.name = $1 AND e.name = $2), "
    "je AS (SELECT j.id, j.name, j.kind, s.name AS shot FROM jobs j "
    "       LEFT JOIN shots s ON s.id = j.shot_id WHERE j.episode_id = (SELECT id FROM ep)), "
    "lg AS (SELECT l.*, je.shot FROM ledger l JOIN je ON je.id = l.job_id), "
    "tk AS (SELECT t.*, je.shot, je.name AS job FROM takes t JOIN je ON je.id = t.job_id), "
    "tc AS (SELECT tk.id, tk.state, tk.shot, "
    "       (SELECT coalesce(sum(lg.amount_micros), 0) FROM lg WHERE " MADE_BY("tk") ") AS amt, "
    "       (SELECT coalesce(sum(lg.energy_mj), 0) FROM lg WHERE " MADE_BY("tk") ") AS mj "
    "       FROM tk), "
    "per AS (SELECT sh.shot, "
    "  (SELECT count(*) FROM tk WHERE " SAME_SHOT("tk.shot", "sh.shot") ") AS n_gen, "
    "  (SELECT count(*) FROM tk WHERE " SAME_SHOT("tk.shot", "sh.shot") " AND tk.state = 'approved') AS n_app, "
    "  (SELECT count(*) FROM tk WHERE " SAME_SHOT("tk.shot", "sh.shot") " AND tk.state = 'rejected') AS n_rej, "
    "  (SELECT count(*) FROM tk WHERE " SAME_SHOT("tk.shot", "sh.shot") " AND tk.state = 'pending_review') AS n_pen, "
    "  (SELECT count(*) FROM tk WHERE " SAME_SHOT("tk.shot", "sh.shot") " AND tk.state = 'changes_requested') AS n_chg, "
    "  (SELECT coalesce(sum(amt), 0) FROM tc WHERE " SAME_SHOT("tc.shot", "sh.shot") " AND tc.state = 'approved') AS c_app, "
    "  (SELECT coalesce(sum(amt), 0) FROM tc WHERE " SAME_SHOT("tc.shot", "sh.shot") " AND tc.state = 'rejected') AS c_rej, "
    "  (SELECT coalesce(sum(amt), 0) FROM tc WHERE " SAME_SHOT("tc.shot", "sh.shot") " AND tc.state = 'pending_review') AS c_pen, "
    "  (SELECT coalesce(sum(amt), 0) FROM tc WHERE " SAME_SHOT("tc.shot", "sh.shot") " AND tc.state = 'changes_requested') AS c_chg, "
    "  (SELECT coalesce(sum(lg.amount_micros), 0) FROM lg WHERE " SAME_SHOT("lg.shot", "sh.shot") " AND lg.state IN ('failed', 'timed_out')) AS c_fail, "
    "  (SELECT coalesce(sum(lg.amount_micros), 0) FROM lg WHERE " SAME_SHOT("lg.shot", "sh.shot") ") AS c_all, "
    "  (SELECT coalesce(sum(mj), 0) FROM tc WHERE " SAME_SHOT("tc.shot", "sh.shot") " AND tc.state = 'approved') AS e_app, "
    "  (SELECT coalesce(sum(mj), 0) FROM tc WHERE " SAME_SHOT("tc.shot", "sh.shot") " AND tc.state = 'rejected') AS e_rej, "
    "  (SELECT coalesce(sum(mj), 0) FROM tc WHERE " SAME_SHOT("tc.shot", "sh.shot") " AND tc.state = 'pending_review') AS e_pen, "
    "  (SELECT coalesce(sum(mj), 0) FROM tc WHERE " SAME_SHOT("tc.shot", "sh.shot") " AND tc.state = 'changes_requested') AS e_chg, "
    "  (SELECT coalesce(sum(lg.energy_mj), 0) FROM lg WHERE " SAME_SHOT("lg.shot", "sh.shot") " AND lg.state IN ('failed', 'timed_out')) AS e_fail, "
    "  (SELECT coalesce(sum(lg.energy_mj), 0) FROM lg WHERE " SAME_SHOT("lg.shot", "sh.shot") ") AS e_all "
    "  FROM (SELECT DISTINCT shot FROM je) sh), "
    "tot AS (SELECT sum(n_gen) AS n_gen, sum(n_app) AS n_app, sum(n_rej) AS n_rej, "
    "  sum(n_pen) AS n_pen, sum(n_chg) AS n_chg, sum(c_app) AS c_app, sum(c_rej) AS c_rej, "
    "  sum(c_pen) AS c_pen, sum(c_chg) AS c_chg, sum(c_fail) AS c_fail, sum(c_all) AS c_all, "
    "  sum(e_app) AS e_app, sum(e_rej) AS e_rej, sum(e_pen) AS e_pen, sum(e_chg) AS e_chg, "
    "  sum(e_fail) AS e_fail, sum(e_all) AS e_all FROM per) "
    "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM ep) THEN NULL ELSE json_build_object("
    "'episode', $1 || '/' || $2, 'currency', $3::text, "
    "'shots', coalesce((SELECT json_agg(json_build_object('shot', x.shot, "
    "  'takes', json_build_object('generated', x.n_gen, 'approved', x.n_app, 'rejected', "
    "    x.n_rej, 'pending', x.n_pen, 'changes_requested', x.n_chg), "
    "  'decisions', coalesce((SELECT json_agg(json_build_object('take_id', tk.id, 'job', "
    "    tk.job, 'kind', tk.kind, 'state', tk.state, 'decided_by', tk.decided_by, "
    "    'decided_at', clapper_json_time(tk.decided_at), 'note', tk.note) "
    "    ORDER BY tk.decided_at, tk.id) "
    "    FROM tk WHERE " SAME_SHOT("tk.shot", "x.shot") " AND tk.decided_by IS NOT NULL), '[]'::json), "
    "  'approved', coalesce((SELECT json_agg(json_build_object('take_id', tk.id, 'job', tk.job, "
    "    'kind', tk.kind, 'machine_generated', tk.kind = 'generate', 'model', "
    "    tk.provenance->>'model', 'model_version', tk.provenance->>'model_version', 'outputs', "
    "    (SELECT coalesce(json_agg(json_build_object('path', o->>'path', 'sha256', "
    "     o->>'sha256')), '[]'::json) FROM jsonb_array_elements(tk.outputs) o)) ORDER BY tk.id) "
    "    FROM tk WHERE " SAME_SHOT("tk.shot", "x.shot") " AND tk.state = 'approved'), '[]'::json), "
    "  'cost', json_build_object('approved', " MONEY("x.c_app") ", 'rejected', "
    "    " MONEY("x.c_rej") ", 'pending', " MONEY("x.c_pen") ", 'changes_requested', "
    "    " MONEY("x.c_chg") ", 'failed_attempts', " MONEY("x.c_fail") ", 'other', "
    "    " MONEY("x.c_all - x.c_app - x.c_rej - x.c_pen - x.c_chg - x.c_fail") ", 'total', "
    "    " MONEY("x.c_all") "), "
    "  'energy_kwh', json_build_object('approved', " KWH("x.e_app") ", 'rejected', "
    "    " KWH("x.e_rej") ", 'pending', " KWH("x.e_pen") ", 'changes_requested', "
    "    " KWH("x.e_chg") ", 'failed_attempts', " KWH("x.e_fail") ", 'other', "
    "    " KWH("x.e_all - x.e_app - x.e_rej - x.e_pen - x.e_chg - x.e_fail") ", 'total', "
    "    " KWH("x.e_all") ")) ORDER BY x.shot NULLS FIRST) FROM per x), '[]'::json), "
    "'totals', json_build_object("
    "  'takes', json_build_object('generated', coalesce(t.n_gen, 0), 'approved', "
    "    coalesce(t.n_app, 0), 'rejected', coalesce(t.n_rej, 0), 'pending', "
    "    coalesce(t.n_pen, 0), 'changes_requested', coalesce(t.n_chg, 0)), "
    "  'cost', json_build_object('approved', " MONEY("coalesce(t.c_app, 0)") ", 'rejected', "
    "    " MONEY("coalesce(t.c_rej, 0)") ", 'pending', " MONEY("coalesce(t.c_pen, 0)")
    ", 'changes_requested', " MONEY("coalesce(t.c_chg, 0)") ", 'failed_attempts', "
    "    " MONEY("coalesce(t.c_fail, 0)") ", 'other', "
    "    " MONEY("coalesce(t.c_all - t.c_app - t.c_rej - t.c_pen - t.c_chg - t.c_fail, 0)")
    ", 'total', " MONEY("coalesce(t.c_all, 0)") "), "
    "  'energy_kwh', json_build_object('approved', " KWH("t.e_app") ", 'rejected', "
    "    " KWH("t.e_rej") ", 'pending', " KWH("t.e_pen") ", 'changes_requested', "
    "    " KWH("t.e_chg") ", 'failed_attempts', " KWH("t.e_fail") ", 'other', "
    "    " KWH("t.e_all - t.e_app - t.e_rej - t.e_pen - t.e_chg - t.e_fail") ", 'total', "
    "    " KWH("t.e_all") ")))::text END FROM tot t";

/* ------------------------------------------------------------ the data */

/* Project show: episode e1 (the audited one), e3 (jobs and ledger rows, no
 * takes), empty (nothing); project other: an e1 with a shot sh010 too.
 *
 * e1's jobs: 1 and 2 generate sh010, 3 render sh020, 4 process and
 * 5 generate without a shot, 6 generate and 7 render sh030, 8 process
 * sh040 (one attempt, still running: no ledger row).
 *
 * Ledger (attempt: state amount_micros energy_mj) and the takes it makes:
 *   job 1: 111 failed 1000001 1800000, 112 ok 2000000 3600000 -> take 1 approved
 *          121 timed_out 500000 360000, 122 ok 2500000 1800000 -> take 2 rejected
 *          131 ok 3000003 7200000 -> take 3 pending
 *          141 lost 700000 900000, 142 ok 1100000 1234567 -> take 4 changes requested
 *   job 2: 211 ok 4000000 10000000 -> take 5 approved; 221 canceled 123456 1799999
 *   job 3: 311 failed 300000 7200, 312/321/331 ok 1000000+1000000+1500000,
 *          energy 1000000+1000000+2000000 -> take 6 (render) approved
 *   job 4: 411 ok 600000 600, 421 failed 200000 3600
 *   job 5: 511 ok 800000 800000 -> take 7 pending
 *   job 6: 611 ok 900000 1800 -> take 8 rejected; 621 ok, no ledger row yet
 *          -> take 9 rejected; take 10 approved, no attempt
 *   job 7: 711 ok 50000 1800, 721 ok 60000 1800 -> take 11 (render) changes requested
 * So, per shot:
 *   NULL:  pending 1 (0.800000, 800000 mJ = 0.000222 kWh), failed 0.200000,
 *          other 0.600000 (411), total 1.600000; energy total 804200 mJ = 0.000223
 *   sh010: generated 5, approved 2 (6.000000; 13600000 mJ = 0.003778 kWh),
 *          rejected 1 (2.500000), pending 1 (3.000003; 0.002000), changes
 *          requested 1 (1.100000; 1234567 mJ = 0.000343), failed 1.500001
 *          (2160000 mJ = 0.000600), other 0.823456 (lost + canceled; 2699999 mJ
 *          = 0.000750), total 14.923460 (28694566 mJ = 0.007971)
 *   sh020: approved 1, 3.500000 (4000000 mJ = 0.001111), failed 0.300000,
 *          other 0, total 3.800000
 *   sh030: generated 4, approved 1 (0.000000), rejected 2 (0.900000;
 *          1800 mJ = 0.0000005 -> 0.000001), changes requested 1 (0.110000;
 *          3600 mJ = 0.000001), total 1.010000 (5400 mJ -> 0.000002)
 *   sh040: all zero, no decisions, nothing approved
 * Totals: generated 11 = approved 4 + rejected 3 + pending 2 + changes 2;
 * cost 21.333460 = approved 9.500000 + rejected 3.400000 + pending 3.800003
 * + changes 1.210000 + failed 2.000001 + other 1.423456. */
static const char *const DATA[] = {
    "INSERT INTO projects (name) VALUES ('show'), ('other')",
    "INSERT INTO episodes (project_id, name) SELECT p.id, v.e FROM (VALUES ('show', 'e1'), "
    "('show', 'e3'), ('show', 'empty'), ('other', 'e1')) v(p, e) JOIN projects p ON p.name = v.p",
    "INSERT INTO shots (episode_id, name) SELECT e.id, v.s FROM (VALUES ('show', 'sh010'), "
    "('show', 'sh020'), ('show', 'sh030'), ('show', 'sh040'), ('other', 'sh010')) v(p, s) "
    "JOIN projects p ON p.name = v.p JOIN episodes e ON e.project_id = p.id AND e.name = 'e1'",
    "INSERT INTO workers (name, state, cpus, memory_mb) VALUES ('w1', 'online', 8, 32000)",
    "INSERT INTO jobs (id, episode_id, shot_id, name, kind, state, priority, max_attempts, "
    "max_lost, retry_backoff_s, timeout_s, requires, spec, output_dir, ntasks, submitted_by) "
    "SELECT v.id, e.id, s.id, v.name, v.kind, v.state, 50, 3, 3, 0, 0, '{}', '{}', '/out', "
    "v.n, 'alice' FROM (VALUES "
    "(1, 'show', 'e1', 'sh010', 'gen-a', 'generate', 'succeeded', 4), "
    "(2, 'show', 'e1', 'sh010', 'gen-a-retake', 'generate', 'failed', 2), "
    "(3, 'show', 'e1', 'sh020', 'render-b', 'render', 'succeeded', 3), "
    "(4, 'show', 'e1', NULL, 'prep', 'process', 'failed', 2), "
    "(5, 'show', 'e1', NULL, 'gen-loose', 'generate', 'succeeded', 1), "
    "(6, 'show', 'e1', 'sh030', 'gen-c', 'generate', 'succeeded', 3), "
    "(7, 'show', 'e1', 'sh030', 'render-c', 'render', 'succeeded', 2), "
    "(8, 'show', 'e1', 'sh040', 'slow', 'process', 'running', 1), "
    "(9, 'other', 'e1', 'sh010', 'gen-x', 'generate', 'succeeded', 1), "
    "(10, 'show', 'e3', NULL, 'conform', 'process', 'succeeded', 1)"
    ") v(id, p, e, shot, name, kind, state, n) "
    "JOIN projects p ON p.name = v.p JOIN episodes e ON e.project_id = p.id AND e.name = v.e "
    "LEFT JOIN shots s ON s.episode_id = e.id AND s.name = v.shot",
    "INSERT INTO tasks (id, job_id, seq, state) SELECT v.id, v.id / 10, v.id % 10 - 1, "
    "'succeeded' FROM unnest(ARRAY[11, 12, 13, 14, 21, 22, 31, 32, 33, 41, 42, 51, 61, 62, 63, "
    "71, 72, 81, 91, 101]) v(id)",
    "INSERT INTO attempts (id, task_id, worker, state, dispatched_at, ended_at) "
    "SELECT v.id, v.id / 10, 'w1', v.state, now(), "
    "CASE WHEN v.state <> 'running' THEN now() END FROM (VALUES "
    "(111, 'failed'), (112, 'succeeded'), (121, 'timed_out'), (122, 'succeeded'), "
    "(131, 'succeeded'), (141, 'lost'), (142, 'succeeded'), (211, 'succeeded'), "
    "(221, 'canceled'), (311, 'failed'), (312, 'succeeded'), (321, 'succeeded'), "
    "(331, 'succeeded'), (411, 'succeeded'), (421, 'failed'), (511, 'succeeded'), "
    "(611, 'succeeded'), (621, 'succeeded'), (711, 'succeeded'), (721, 'succeeded'), "
    "(811, 'running'), (911, 'succeeded'), (1011, 'failed'), (1012, 'succeeded')) v(id, state)",
    "INSERT INTO ledger (attempt_id, job_id, episode_id, state, ended_at, wall_us, gpus, cpus, "
    "gpu_micros_per_hour, cpu_micros_per_hour, amount_micros, energy_mj) "
    "SELECT a.id, t.job_id, j.episode_id, a.state, now(), 1000000, 1, 1, 0, 0, v.amount, v.mj "
    "FROM (VALUES (111, 1000001, 1800000), (112, 2000000, 3600000), (121, 500000, 360000), "
    "(122, 2500000, 1800000), (131, 3000003, 7200000), (141, 700000, 900000), "
    "(142, 1100000, 1234567), (211, 4000000, 10000000), (221, 123456, 1799999), "
    "(311, 300000, 7200), (312, 1000000, 1000000), (321, 1000000, 1000000), "
    "(331, 1500000, 2000000), (411, 600000, 600), (421, 200000, 3600), (511, 800000, 800000), "
    "(611, 900000, 1800), (711, 50000, 1800), (721, 60000, 1800), (911, 9999999, 9999999), "
    "(1011, 55, 55), (1012, 45, 45)) v(attempt, amount, mj) "
    "JOIN attempts a ON a.id = v.attempt JOIN tasks t ON t.id = a.task_id "
    "JOIN jobs j ON j.id = t.job_id",
    /* Takes 1..12 in this order; decisions at 10:00 (take 4), 11:00 (takes
     * 1 and 2: by id), 12:00 (5, 8), 13:00 (6, 9, 10), 14:00 (11, 12). */
    "INSERT INTO takes (job_id, task_id, attempt_id, kind, state, seed, take, outputs, "
    "provenance, decided_by, decided_at, note) SELECT v.job, v.task, v.attempt, v.kind, v.state, "
    "v.task, 1, v.outputs::jsonb, v.prov::jsonb, v.who, "
    "('2024-05-01 ' || v.at || ':00+00')::timestamptz, v.note FROM (VALUES "
    "(1, 11, 112, 'generate', 'approved', '[{\"path\": \"/out/1/a.png\", \"size\": 1, "
    "\"sha256\": \"aa\"}]', '{\"model\": \"wan\", \"model_version\": \"2.1\"}', 'sue', '11', ''), "
    "(1, 12, 122, 'generate', 'rejected', '[]', '{\"model\": \"wan\"}', 'bob', '11', 'too dark'), "
    "(1, 13, 131, 'generate', 'pending_review', '[]', '{}', NULL, NULL, ''), "
    "(1, 14, 142, 'generate', 'changes_requested', '[]', '{}', 'sue', '10', 'crop'), "
    "(2, 21, 211, 'generate', 'approved', '[{\"path\": \"/out/2/a.png\", \"sha256\": \"b1\"}, "
    "{\"path\": \"/out/2/b.png\", \"sha256\": \"b2\"}]', '{\"model\": \"wan\", "
    "\"model_version\": \"2.2\"}', 'sue', '12', 'ok'), "
    "(3, NULL, NULL, 'render', 'approved', '[{\"path\": \"/out/3/f1.exr\", \"sha256\": \"c1\"}]', "
    "'{}', 'ann', '13', ''), "
    "(5, 51, 511, 'generate', 'pending_review', '[]', '{}', NULL, NULL, ''), "
    "(6, 61, 611, 'generate', 'rejected', '[]', '{}', 'bob', '12', ''), "
    "(6, 62, 621, 'generate', 'rejected', '[]', '{}', 'bob', '13', ''), "
    "(6, 63, NULL, 'generate', 'approved', '[]', '{}', 'bob', '13', 'kept'), "
    "(7, NULL, NULL, 'render', 'changes_requested', '[]', '{}', 'ann', '14', 'grade'), "
    "(9, 91, 911, 'generate', 'approved', '[]', '{}', 'zed', '14', '')"
    ") v(job, task, attempt, kind, state, outputs, prov, who, at, note)",
};

/* ------------------------------------------------------------ helpers */

/* The audit document sql gives for project/episode, NULL for SQL NULL. */
static char *audit(PGconn *db, const char *sql, const char *project, const char *episode) {
  const char *p[3] = {project, episode, "EUR"};
  PGresult *r = PQexecParams(db, sql, 3, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    fprintf(stderr, "audit %s/%s: %s", project, episode, PQresultErrorMessage(r));
    exit(1);
  }
  CHECK_INT(PQntuples(r), 1);
  char *out = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
  PQclear(r);
  return out;
}

/* The old and the new audit of project/episode are equal documents (or
 * both NULL), even as text; returns the new one (the caller frees it). */
static char *same_audit(PGconn *db, const char *project, const char *episode) {
  char *old = audit(db, OLD_SQL_AUDIT, project, episode);
  char *new = audit(db, SQL_AUDIT, project, episode);
  if (!old || !new) {
    CHECK(!old && !new);
  } else {
    json_error_t e;
    json_t *a = json_loads(old, 0, &e), *b = json_loads(new, 0, &e);
    CHECK(a != NULL && b != NULL);
    bool equal = a && b && json_equal(a, b);
    CHECK(equal);
    /* Not only equal: the same text, key order and layout included. */
    CHECK(!strcmp(old, new));
    if (!equal)
      fprintf(stderr, "%s/%s:\nold: %s\nnew: %s\n", project, episode, old, new);
    json_decref(a);
    json_decref(b);
  }
  free(old);
  return new;
}

/* The text at path (json #>> path, e.g. "{totals,cost,total}") of doc;
 * "(null)" for JSON null or no such path. */
static const char *at(PGconn *db, const char *doc, const char *path) {
  static char out[1024];
  const char *p[2] = {doc, path};
  PGresult *r = PQexecParams(db, "SELECT $1::json #>> $2::text[]", 2, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    fprintf(stderr, "at %s: %s", path, PQresultErrorMessage(r));
    exit(1);
  }
  snprintf(out, sizeof out, "%s", PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
  PQclear(r);
  return out;
}

/* The JSON type at path of doc (json_typeof). */
static const char *type_at(PGconn *db, const char *doc, const char *path) {
  static char out[32];
  const char *p[2] = {doc, path};
  PGresult *r = PQexecParams(db, "SELECT json_typeof($1::json #> $2::text[])", 2, NULL, p,
                             NULL, NULL, 0);
  snprintf(out, sizeof out, "%s",
           PQresultStatus(r) == PGRES_TUPLES_OK && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0)
                                                                         : "(null)");
  PQclear(r);
  return out;
}

/* ------------------------------------------------------------ tests */

static void test_episode(PGconn *db) {
  char *doc = same_audit(db, "show", "e1");
  CHECK(doc != NULL);
  if (!doc)
    return;
  CHECK_STR(at(db, doc, "{episode}"), "show/e1");
  CHECK_STR(at(db, doc, "{currency}"), "EUR");
  /* Shots in name order, the jobs without a shot first, sh040 (a job,
   * nothing else) included. */
  CHECK_STR(at(db, doc, "{shots,0,shot}"), "(null)");
  CHECK_STR(type_at(db, doc, "{shots,0}"), "object");
  CHECK_STR(at(db, doc, "{shots,1,shot}"), "sh010");
  CHECK_STR(at(db, doc, "{shots,2,shot}"), "sh020");
  CHECK_STR(at(db, doc, "{shots,3,shot}"), "sh030");
  CHECK_STR(at(db, doc, "{shots,4,shot}"), "sh040");
  CHECK_STR(at(db, doc, "{shots,5}"), "(null)");

  /* No shot. */
  CHECK_STR(at(db, doc, "{shots,0,takes}"),
            "{\"generated\" : 1, \"approved\" : 0, \"rejected\" : 0, \"pending\" : 1, "
            "\"changes_requested\" : 0}");
  CHECK_STR(at(db, doc, "{shots,0,cost,pending}"), "0.800000");
  CHECK_STR(at(db, doc, "{shots,0,cost,failed_attempts}"), "0.200000");
  CHECK_STR(at(db, doc, "{shots,0,cost,other}"), "0.600000");
  CHECK_STR(at(db, doc, "{shots,0,cost,total}"), "1.600000");
  CHECK_STR(at(db, doc, "{shots,0,energy_kwh,pending}"), "0.000222");
  CHECK_STR(at(db, doc, "{shots,0,energy_kwh,total}"), "0.000223");

  /* sh010: every review state, failed, timed-out, lost and canceled
   * attempts; the other project's sh010 stays out. */
  CHECK_STR(at(db, doc, "{shots,1,takes}"),
            "{\"generated\" : 5, \"approved\" : 2, \"rejected\" : 1, \"pending\" : 1, "
            "\"changes_requested\" : 1}");
  CHECK_STR(at(db, doc, "{shots,1,cost,approved}"), "6.000000");
  CHECK_STR(at(db, doc, "{shots,1,cost,rejected}"), "2.500000");
  CHECK_STR(at(db, doc, "{shots,1,cost,pending}"), "3.000003");
  CHECK_STR(at(db, doc, "{shots,1,cost,changes_requested}"), "1.100000");
  CHECK_STR(at(db, doc, "{shots,1,cost,failed_attempts}"), "1.500001");
  CHECK_STR(at(db, doc, "{shots,1,cost,other}"), "0.823456");
  CHECK_STR(at(db, doc, "{shots,1,cost,total}"), "14.923460");
  CHECK_STR(type_at(db, doc, "{shots,1,cost,total}"), "string");
  CHECK_STR(at(db, doc, "{shots,1,energy_kwh,approved}"), "0.003778");
  CHECK_STR(at(db, doc, "{shots,1,energy_kwh,pending}"), "0.002000");
  CHECK_STR(at(db, doc, "{shots,1,energy_kwh,changes_requested}"), "0.000343");
  CHECK_STR(at(db, doc, "{shots,1,energy_kwh,failed_attempts}"), "0.000600");
  CHECK_STR(at(db, doc, "{shots,1,energy_kwh,other}"), "0.000750");
  CHECK_STR(at(db, doc, "{shots,1,energy_kwh,total}"), "0.007971");
  CHECK_STR(type_at(db, doc, "{shots,1,energy_kwh,total}"), "number");
  /* Decisions by time, then take id; pending takes are not decisions. */
  CHECK_STR(at(db, doc, "{shots,1,decisions,0,take_id}"), "4");
  CHECK_STR(at(db, doc, "{shots,1,decisions,0,note}"), "crop");
  CHECK_STR(at(db, doc, "{shots,1,decisions,1,take_id}"), "1");
  CHECK_STR(at(db, doc, "{shots,1,decisions,2,take_id}"), "2");
  CHECK_STR(at(db, doc, "{shots,1,decisions,2,decided_by}"), "bob");
  CHECK_STR(at(db, doc, "{shots,1,decisions,2,job}"), "gen-a");
  CHECK_STR(at(db, doc, "{shots,1,decisions,3,take_id}"), "5");
  CHECK_STR(at(db, doc, "{shots,1,decisions,4}"), "(null)");
  CHECK_STR(at(db, doc, "{shots,1,approved,0,take_id}"), "1");
  CHECK_STR(at(db, doc, "{shots,1,approved,0,model_version}"), "2.1");
  CHECK_STR(at(db, doc, "{shots,1,approved,1,take_id}"), "5");
  CHECK_STR(at(db, doc, "{shots,1,approved,1,machine_generated}"), "true");
  CHECK_STR(at(db, doc, "{shots,1,approved,1,outputs,1,sha256}"), "b2");
  CHECK_STR(at(db, doc, "{shots,1,approved,2}"), "(null)");

  /* sh020: a render take costs its job's succeeded attempts. */
  CHECK_STR(at(db, doc, "{shots,2,cost,approved}"), "3.500000");
  CHECK_STR(at(db, doc, "{shots,2,cost,failed_attempts}"), "0.300000");
  CHECK_STR(at(db, doc, "{shots,2,cost,other}"), "0.000000");
  CHECK_STR(at(db, doc, "{shots,2,energy_kwh,approved}"), "0.001111");
  CHECK_STR(at(db, doc, "{shots,2,approved,0,machine_generated}"), "false");
  CHECK_STR(at(db, doc, "{shots,2,approved,0,model}"), "(null)");

  /* sh030: a take without a ledger row and one without an attempt cost 0;
   * each figure is rounded on its own. */
  CHECK_STR(at(db, doc, "{shots,3,takes,generated}"), "4");
  CHECK_STR(at(db, doc, "{shots,3,cost,approved}"), "0.000000");
  CHECK_STR(at(db, doc, "{shots,3,cost,rejected}"), "0.900000");
  CHECK_STR(at(db, doc, "{shots,3,cost,changes_requested}"), "0.110000");
  CHECK_STR(at(db, doc, "{shots,3,energy_kwh,rejected}"), "0.000001");
  CHECK_STR(at(db, doc, "{shots,3,energy_kwh,changes_requested}"), "0.000001");
  CHECK_STR(at(db, doc, "{shots,3,energy_kwh,total}"), "0.000002");

  /* sh040: zeros, empty lists. */
  CHECK_STR(at(db, doc, "{shots,4,takes,generated}"), "0");
  CHECK_STR(at(db, doc, "{shots,4,decisions}"), "[]");
  CHECK_STR(at(db, doc, "{shots,4,approved}"), "[]");
  CHECK_STR(at(db, doc, "{shots,4,cost,total}"), "0.000000");
  CHECK_STR(at(db, doc, "{shots,4,energy_kwh,total}"), "0.000000");

  /* Totals: the ledger's, split six ways. */
  CHECK_STR(at(db, doc, "{totals,takes}"),
            "{\"generated\" : 11, \"approved\" : 4, \"rejected\" : 3, \"pending\" : 2, "
            "\"changes_requested\" : 2}");
  CHECK_STR(at(db, doc, "{totals,cost,approved}"), "9.500000");
  CHECK_STR(at(db, doc, "{totals,cost,rejected}"), "3.400000");
  CHECK_STR(at(db, doc, "{totals,cost,pending}"), "3.800003");
  CHECK_STR(at(db, doc, "{totals,cost,changes_requested}"), "1.210000");
  CHECK_STR(at(db, doc, "{totals,cost,failed_attempts}"), "2.000001");
  CHECK_STR(at(db, doc, "{totals,cost,other}"), "1.423456");
  CHECK_STR(at(db, doc, "{totals,cost,total}"), "21.333460");
  CHECK_STR(at(db, doc, "{totals,energy_kwh,total}"),
            pgtest_value(db, "SELECT round(sum(energy_mj) / 3600000000.0, 6) FROM ledger l "
                             "JOIN episodes e ON e.id = l.episode_id WHERE e.name = 'e1' "
                             "AND e.project_id = (SELECT id FROM projects WHERE name = 'show')"));
  /* ... and equal the cost report's view. */
  CHECK_STR(at(db, doc, "{totals,cost,total}"),
            pgtest_value(db, "SELECT cost::numeric(30,6) FROM episode_cost WHERE project = "
                             "'show' AND episode = 'e1'"));
  free(doc);

  /* The other project's e1: only its own take. */
  doc = same_audit(db, "other", "e1");
  CHECK_STR(at(db, doc, "{totals,takes,generated}"), "1");
  CHECK_STR(at(db, doc, "{totals,cost,approved}"), "9.999999");
  CHECK_STR(at(db, doc, "{totals,energy_kwh,approved}"), "0.002778");
  free(doc);
}

static void test_no_takes(PGconn *db) {
  /* Jobs and ledger rows, no takes: everything is "failed" or "other". */
  char *doc = same_audit(db, "show", "e3");
  CHECK(doc != NULL);
  CHECK_STR(at(db, doc, "{shots,0,shot}"), "(null)");
  CHECK_STR(at(db, doc, "{shots,0,decisions}"), "[]");
  CHECK_STR(at(db, doc, "{totals,takes,generated}"), "0");
  CHECK_STR(at(db, doc, "{totals,cost,failed_attempts}"), "0.000055");
  CHECK_STR(at(db, doc, "{totals,cost,other}"), "0.000045");
  CHECK_STR(at(db, doc, "{totals,cost,total}"), "0.000100");
  free(doc);
  /* Nothing at all: no shots, zero totals (kWh still numbers). */
  doc = same_audit(db, "show", "empty");
  CHECK(doc != NULL);
  CHECK_STR(at(db, doc, "{shots}"), "[]");
  CHECK_STR(at(db, doc, "{totals,takes,generated}"), "0");
  CHECK_STR(at(db, doc, "{totals,cost,total}"), "0.000000");
  CHECK_STR(at(db, doc, "{totals,cost,other}"), "0.000000");
  CHECK_STR(at(db, doc, "{totals,energy_kwh,other}"), "0.000000");
  CHECK_STR(type_at(db, doc, "{totals,energy_kwh,other}"), "number");
  free(doc);
  /* No such episode, or project: NULL from both. */
  doc = same_audit(db, "show", "nope");
  CHECK(doc == NULL);
  doc = same_audit(db, "nope", "e1");
  CHECK(doc == NULL);
}

static void test_views(PGconn *db) {
  /* take_cost: what made each take. */
  CHECK_STR(pgtest_value(db, "SELECT attempts || ' ' || cost_micros || ' ' || energy_mj "
                             "FROM take_cost WHERE take_id = 6"),
            "3 3500000 4000000");
  CHECK_STR(pgtest_value(db, "SELECT attempts || ' ' || cost_micros || ' ' || energy_mj "
                             "FROM take_cost WHERE take_id = 4"),
            "1 1100000 1234567");
  CHECK_STR(pgtest_value(db, "SELECT attempts || ' ' || cost_micros FROM take_cost "
                             "WHERE take_id = 10"),
            "0 0");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM take_cost"), 12);
  /* shot_audit: one row per shot with jobs; totals equal shot_cost's. */
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM shot_audit a JOIN episodes e ON "
                           "e.id = a.episode_id WHERE a.project = 'show' AND a.episode = 'e1'"),
            5);
  CHECK_STR(pgtest_value(db, "SELECT jobs || ' ' || takes || ' ' || other_cost_micros || ' ' "
                             "|| failed_energy_mj FROM shot_audit WHERE project = 'show' "
                             "AND episode = 'e1' AND shot = 'sh010'"),
            "2 5 823456 2160000");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM shot_audit a FULL JOIN shot_cost c ON "
                           "c.episode_id = a.episode_id AND c.shot IS NOT DISTINCT FROM a.shot "
                           "WHERE a.cost_micros IS DISTINCT FROM c.cost_micros OR "
                           "a.failed_cost_micros IS DISTINCT FROM c.failed_cost_micros"),
            0);
}

int main(void) {
  log_init("test_audit", LOG_LVL_WARN);
  pgtest_start();
  PGconn *db = pgtest_connect();
  char err[512] = "";
  int n = migrate_apply(db, pgtest_sql_dir(), err, sizeof err);
  if (n < 0) {
    fprintf(stderr, "migrate_apply: %s\n", err);
    return 1;
  }
  for (size_t i = 0; i < sizeof DATA / sizeof DATA[0]; i++)
    pgtest_exec(db, DATA[i]);
  test_episode(db);
  test_no_takes(db);
  test_views(db);
  PQfinish(db);
  pgtest_stop();
  return check_report("test_audit");
}
