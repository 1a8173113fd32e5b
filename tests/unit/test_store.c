/*
 * test_store.c - group commit of the coordinator's state, against a real
 * private PostgreSQL, wired as coordinator/main.c wires it (a libuv loop,
 * the writer pgconn, a ROUTER socket for workers on an inproc endpoint
 * with one fake worker connected to it).
 *
 * Jobs are created and dispatched in memory, flushed, and once the batch
 * committed every row of jobs, tasks, attempts and workers is compared
 * with memory (states, task counts, ids, frames, takes, resources, times
 * to the microsecond), and the events are counted.  Also: commit actions
 * run after the commit (the rows are visible to another connection) and in
 * order; outbox items (Assign, ResultAck) reach the worker only after
 * their batch committed; changes made while a batch is in flight go into
 * the next one; results update rows and finish the job, which is then
 * released; an attempt created and ended within one batch is inserted
 * directly in its final state; a batch of 20,000 new tasks from several
 * submissions is one commit.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "check.h"
#include "dispatch.h"
#include "log.h"
#include "migrate.h"
#include "model.h"
#include "store.h"
#include "pgtest.h" /* after store.h: pgtest_flush */
#include "workers.h"

static uv_loop_t loop;
static coord_t coord, *c = &coord;
static PGconn *db; /* a second connection, for checks */
static void *zctx, *router, *dealer;
static char output_root[] = "/tmp/clapper-test-store-out";

static void on_fatal(void *arg, const char *error) {
  (void)arg;
  fprintf(stderr, "database connection broke: %s\n", error);
  CHECK(!"the writer connection stays up");
  exit(1);
}


/* ------------------------------------------------------------ the worker */

static worker_t *fake_worker(const char *name) {
  worker_t *w = workers_add(c, name);
  w->hostname = xstrdup("host-1");
  w->version = xstrdup("test");
  w->cpus = w->cpus_free = 4;
  w->memory_mb = w->mem_free = 16000;
  w->ngpus = 2;
  w->gpus = xcalloc(2, sizeof *w->gpus);
  const uint64_t mb[] = {24000, 48000};
  for (uint32_t i = 0; i < 2; i++) {
    w->gpus[i].index = i;
    w->gpus[i].uuid = xasprintf("GPU-%u", i);
    w->gpus[i].model = xstrdup("NVIDIA Test");
    w->gpus[i].memory_mb = mb[i];
  }
  w->tags = xcalloc(2, sizeof *w->tags);
  w->tags[w->ntags++] = xstrdup("gpu");
  w->tags[w->ntags++] = xstrdup("render");
  w->last_seen_mono = util_mono_us();
  w->last_seen_us = util_wall_us();
  /* Connect a DEALER and learn its routing id, as a Hello would. */
  zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "w1-conn", 7);
  zmq_connect(dealer, "inproc://test-store-workers");
  zmq_send(dealer, "hi", 2, 0);
  zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
  CHECK(zmq_poll(&it, 1, 2000) == 1);
  int n = zmq_recv(router, w->ident, sizeof w->ident, 0);
  CHECK_INT(n, 7);
  w->identlen = n > 0 ? (size_t)n : 0;
  char body[8];
  CHECK_INT(zmq_recv(router, body, sizeof body, 0), 2);
  store_worker(c, w);
  worker_set_state(c, w, WORKER_ONLINE, "hello");
  return w;
}

/* Receives what the worker got within ms (the first wait), into msgs. */
static size_t recv_msgs(envelope_t **msgs, size_t max, int ms) {
  size_t n = 0;
  zmq_pollitem_t it = {dealer, 0, ZMQ_POLLIN, 0};
  while (n < max && zmq_poll(&it, 1, n ? 50 : ms) == 1) {
    char err[256];
    envelope_t *env = NULL;
    int rc = codec_recv(dealer, NULL, NULL, NULL, CODEC_MAX_WORKER_MSG, &env, err, sizeof err);
    CHECK(rc == 1);
    if (rc != 1)
      break;
    msgs[n++] = env;
  }
  return n;
}

static void free_msgs(envelope_t **msgs, size_t n) {
  for (size_t i = 0; i < n; i++)
    codec_free(&msgs[i]);
}

/* The Task for attempt id among the Assigns of msgs, or NULL. */
static const Clapper__Task *assigned(envelope_t **msgs, size_t n, uint64_t id) {
  for (size_t i = 0; i < n; i++)
    if (msgs[i]->body_case == CLAPPER__ENVELOPE__BODY_ASSIGN)
      for (size_t k = 0; k < msgs[i]->assign->n_tasks; k++)
        if (msgs[i]->assign->tasks[k]->attempt_id == id)
          return msgs[i]->assign->tasks[k];
  return NULL;
}

/* ------------------------------------------------------------ rows vs memory */

static int64_t row_us(const char *table, const char *col, uint64_t id) {
  const char *v = pgtest_value(db, "SELECT (extract(epoch FROM %s) * 1000000)::bigint FROM %s "
                                   "WHERE id = %" PRIu64, col, table, id);
  return *v == '(' ? 0 : strtoll(v, NULL, 10);
}

static void check_job_row(const job_t *j) {
  uint64_t id = j->id;
  char where[256];
  snprintf(where, sizeof where, "%s/%s/%s", j->project, j->episode,
           j->spec->shot ? j->spec->shot : "-");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM jobs WHERE id = %" PRIu64, id), 1);
  CHECK_STR(pgtest_value(db, "SELECT state FROM jobs WHERE id = %" PRIu64, id),
            job_state_name((job_state_t)j->state));
  CHECK_STR(pgtest_value(db, "SELECT name FROM jobs WHERE id = %" PRIu64, id), j->spec->name);
  CHECK_STR(pgtest_value(db, "SELECT kind FROM jobs WHERE id = %" PRIu64, id),
            job_kind_name(j->spec->kind));
  CHECK_INT(pgtest_int(db, "SELECT ntasks FROM jobs WHERE id = %" PRIu64, id), j->ntasks);
  CHECK_INT(pgtest_int(db, "SELECT priority FROM jobs WHERE id = %" PRIu64, id),
            j->spec->priority);
  CHECK_STR(pgtest_value(db, "SELECT output_dir FROM jobs WHERE id = %" PRIu64, id),
            j->output_dir);
  CHECK_STR(pgtest_value(db, "SELECT submitted_by FROM jobs WHERE id = %" PRIu64, id),
            j->submitted_by);
  CHECK_STR(pgtest_value(db, "SELECT p.name || '/' || e.name || '/' || coalesce(s.name, '-') "
                             "FROM jobs j JOIN episodes e ON e.id = j.episode_id "
                             "JOIN projects p ON p.id = e.project_id "
                             "LEFT JOIN shots s ON s.id = j.shot_id WHERE j.id = %" PRIu64, id),
            where);
  CHECK_INT(row_us("jobs", "submitted_at", id), j->submitted_us);
  CHECK_INT(row_us("jobs", "started_at", id), j->started_us);
  CHECK_INT(row_us("jobs", "finished_at", id), j->finished_us);
  json_t *counts = json_loads(pgtest_value(db, "SELECT task_counts::text FROM jobs WHERE id = %"
                                               PRIu64, id), 0, NULL);
  CHECK(json_is_object(counts));
  for (int s = 0; s < TASK_STATE_COUNT; s++)
    CHECK_INT(json_integer_value(json_object_get(counts, task_state_name((task_state_t)s))),
              j->counts[s]);
  json_decref(counts);
}

/* Every task of j against its row, with one query. */
static void check_task_rows(const job_t *j) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT id, seq, state, failures, losses, seed, frame_start, frame_end, take "
           "FROM tasks WHERE job_id = %" PRIu64 " ORDER BY seq",
           j->id);
  PGresult *r = PQexec(db, sql);
  CHECK_INT(PQresultStatus(r), PGRES_TUPLES_OK);
  CHECK_INT(PQntuples(r), j->ntasks);
  for (int i = 0; i < PQntuples(r) && (uint32_t)i < j->ntasks; i++) {
    const task_t *t = &j->tasks[i];
#define COL(k) (PQgetisnull(r, i, k) ? -1 : strtoll(PQgetvalue(r, i, k), NULL, 10))
    CHECK_INT(COL(0), t->id);
    CHECK_INT(COL(1), t->seq);
    CHECK_STR(PQgetvalue(r, i, 2), task_state_name((task_state_t)t->state));
    CHECK_INT(COL(3), t->failures);
    CHECK_INT(COL(4), t->losses);
    CHECK_INT(COL(5), t->spec.seed);
    CHECK_INT(COL(6), j->spec->has_frames ? t->spec.frame_start : -1);
    CHECK_INT(COL(7), j->spec->has_frames ? t->spec.frame_end : -1);
    CHECK_INT(COL(8), t->spec.take ? t->spec.take : -1);
#undef COL
  }
  PQclear(r);
}

static void check_attempt_row(const attempt_t *a) {
  uint64_t id = a->id;
  CHECK_INT(pgtest_int(db, "SELECT task_id FROM attempts WHERE id = %" PRIu64, id), a->task->id);
  CHECK_STR(pgtest_value(db, "SELECT worker FROM attempts WHERE id = %" PRIu64, id),
            a->worker->name);
  CHECK_STR(pgtest_value(db, "SELECT state FROM attempts WHERE id = %" PRIu64, id),
            attempt_state_name((attempt_state_t)a->state));
  CHECK_INT(pgtest_int(db, "SELECT cpus FROM attempts WHERE id = %" PRIu64, id), a->cpus);
  CHECK_INT(pgtest_int(db, "SELECT memory_mb FROM attempts WHERE id = %" PRIu64, id),
            a->memory_mb);
  char gpus[64] = "{";
  for (uint32_t i = 0; i < a->worker->ngpus; i++)
    if (a->gpu_mask & (1ull << i))
      snprintf(gpus + strlen(gpus), sizeof gpus - strlen(gpus), "%s%u",
               gpus[1] ? "," : "", a->worker->gpus[i].index);
  strcat(gpus, "}");
  CHECK_STR(pgtest_value(db, "SELECT gpus::text FROM attempts WHERE id = %" PRIu64, id), gpus);
  CHECK_INT(row_us("attempts", "dispatched_at", id), a->dispatched_us);
  CHECK_INT(row_us("attempts", "started_at", id), a->started_us);
  bool live = attempt_state_live((attempt_state_t)a->state);
  CHECK_INT(row_us("attempts", "ended_at", id), live ? 0 : a->ended_us);
  if (a->has_exit)
    CHECK_INT(pgtest_int(db, "SELECT exit_code FROM attempts WHERE id = %" PRIu64, id),
              a->exit_code);
  else
    CHECK_STR(pgtest_value(db, "SELECT exit_code FROM attempts WHERE id = %" PRIu64, id),
              "(null)");
}

static void check_worker_row(const worker_t *w) {
  const char *n = w->name;
  CHECK_STR(pgtest_value(db, "SELECT state FROM workers WHERE name = '%s'", n),
            worker_state_name((worker_state_t)w->state));
  CHECK_INT(pgtest_int(db, "SELECT cpus FROM workers WHERE name = '%s'", n), w->cpus);
  CHECK_INT(pgtest_int(db, "SELECT memory_mb FROM workers WHERE name = '%s'", n), w->memory_mb);
  CHECK_STR(pgtest_value(db, "SELECT hostname FROM workers WHERE name = '%s'", n), w->hostname);
  CHECK_INT(pgtest_int(db, "SELECT jsonb_array_length(gpus) FROM workers WHERE name = '%s'", n),
            w->ngpus);
  CHECK_INT(pgtest_int(db, "SELECT (gpus->1->>'memory_mb')::bigint FROM workers "
                           "WHERE name = '%s'", n),
            w->gpus[1].memory_mb);
  CHECK_STR(pgtest_value(db, "SELECT array_to_string(tags, ',') FROM workers WHERE name = '%s'",
                         n),
            "gpu,render");
}

/* Every job, task, attempt and worker in memory against its row. */
static void check_rows(void) {
  uint64_t key;
  void *val;
  for (size_t pos = 0; idmap_next(&c->jobs, &pos, &key, &val);) {
    job_t *j = val;
    check_job_row(j);
    check_task_rows(j);
  }
  for (size_t pos = 0; idmap_next(&c->attempts, &pos, &key, &val);)
    check_attempt_row(val);
  for (size_t i = 0; i < c->nworkers; i++)
    check_worker_row(c->workers[i]);
  /* No live attempt in the database that memory does not know. */
  size_t live = 0;
  for (size_t i = 0; i < c->nworkers; i++)
    live += c->workers[i]->nlive;
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM attempts WHERE state IN ('dispatched', "
                           "'running')"),
            live);
}

/* ------------------------------------------------------------ commit actions */

static int action_log[16];
static int nactions;
static long long attempts_seen_by_action1 = -1;

static void on_action(coord_t *cc, void *arg) {
  CHECK(cc == c);
  int k = (int)(intptr_t)arg;
  if (nactions < 16)
    action_log[nactions++] = k;
  if (k == 1)
    attempts_seen_by_action1 = pgtest_int(db, "SELECT count(*) FROM attempts");
}

/* ------------------------------------------------------------ the scenario */

static const char JOBFILE[] =
    "{\"project\":\"hod\",\"episode\":\"s02e03\",\"jobs\":["
    "{\"name\":\"sh010-render\",\"shot\":\"sh010\",\"kind\":\"render\","
    "\"frames\":\"1001-1010\",\"chunk\":4,"
    "\"command\":[\"render\",\"{frame_start}\",\"{frame_end}\",\"{output_dir}\"],"
    "\"requires\":{\"cpus\":1,\"memory_mb\":1000},\"priority\":50},"
    "{\"name\":\"sh020-gen\",\"shot\":\"sh020\",\"kind\":\"generate\",\"takes\":2,\"seed\":100,"
    "\"command\":[\"gen\",\"--seed\",\"{seed}\",\"--out\",\"{output_dir}/take.mp4\"],"
    "\"requires\":{\"gpus\":1,\"cpus\":1,\"gpu_memory_mb\":20000,\"tags\":[\"gpu\"]},"
    "\"provenance\":{\"model\":\"wan-2.1\"},\"priority\":60}]}";

static const char QUICK[] =
    "{\"project\":\"hod\",\"episode\":\"s02e03\",\"jobs\":["
    "{\"name\":\"quick\",\"command\":[\"true\"]}]}";

static job_t *submit(const char *json) {
  char err[512];
  jobfile_t *jf = jobfile_parse(json, strlen(json), err, sizeof err);
  if (!jf) {
    fprintf(stderr, "job file refused: %s\n", err);
    exit(1);
  }
  uint64_t first;
  job_create_all(c, jf, "alice", NULL, 0, &first);
  return idmap_get(&c->jobs, first);
}

/* Records a result on a as workers.c's handle_result does. */
static void result(worker_t *w, attempt_t *a, attempt_state_t to, int exit_code,
                   const char *error) {
  a->has_exit = true;
  a->exit_code = exit_code;
  a->wall_us = 5000000;
  a->cpu_us = 4000000;
  a->max_rss_kb = 1234;
  a->started_us = a->dispatched_us + 1000;
  a->ended_us = a->started_us + 5000000;
  a->error = xstrdup(error);
  a->outputs_json = xstrdup("[{\"path\":\"/out/take.mp4\",\"size\":10,\"sha256\":\"ab\"}]");
  workers_queue(c, w, OUT_ACK, a->id);
  CHECK_INT(attempt_set_state(c, a, to), 0);
  task_attempt_ended(c, a->task, a);
}

static void scenario(void) {
  worker_t *w = fake_worker("w1");
  job_t *render = submit(JOBFILE);
  job_t *gen = idmap_get(&c->jobs, render->id + 1);
  CHECK(render && gen);
  if (!render || !gen)
    return;
  CHECK_INT(render->id, 1);
  CHECK_INT(render->ntasks, 3);
  CHECK_INT(gen->ntasks, 2);

  /* Phase 1: dispatch, then the batch with its actions. */
  dispatch_run(c);
  attempt_t *g1 = gen->tasks[0].live, *g2 = gen->tasks[1].live;
  attempt_t *r1 = render->tasks[0].live, *r2 = render->tasks[1].live;
  CHECK(g1 && g2 && r1 && r2 && !render->tasks[2].live);
  if (!g1 || !g2 || !r1 || !r2)
    return;
  CHECK_INT(g1->id, 1);
  CHECK_INT(g1->gpu_mask, 0x1);
  CHECK_INT(g2->gpu_mask, 0x2);
  CHECK_INT(w->nout, 4);
  envelope_t *msgs[16];
  CHECK_INT(recv_msgs(msgs, 16, 50), 0); /* nothing before the commit */
  store_on_commit(c, on_action, (void *)1);
  store_on_commit(c, on_action, (void *)2);
  store_flush(c);
  CHECK(!store_idle(c));
  store_on_commit(c, on_action, (void *)3); /* belongs to the next batch */
  CHECK_INT(nactions, 0);
  CHECK_INT(recv_msgs(msgs, 16, 50), 0);
  uint64_t batches = store_stats(c).batches;
  CHECK(pgtest_flush(c, &loop));
  CHECK(store_stats(c).batches >= batches + 2);
  CHECK_INT(nactions, 3);
  CHECK_INT(action_log[0], 1);
  CHECK_INT(action_log[1], 2);
  CHECK_INT(action_log[2], 3);
  CHECK_INT(attempts_seen_by_action1, 4); /* committed before the action ran */
  CHECK_INT(w->nout, 0);
  size_t n = recv_msgs(msgs, 16, 1000);
  CHECK_INT(n, 1);
  CHECK(n && msgs[0]->body_case == CLAPPER__ENVELOPE__BODY_ASSIGN);
  const Clapper__Task *t = assigned(msgs, n, r1->id);
  CHECK(t != NULL);
  if (t) {
    CHECK_INT(t->n_argv, 4);
    CHECK_STR(t->argv[1], "1001");
    CHECK_STR(t->argv[2], "1004");
    CHECK_STR(t->argv[3], render->output_dir);
    CHECK_INT(t->task_id, render->tasks[0].id);
    CHECK_INT(t->n_gpus, 0);
  }
  t = assigned(msgs, n, g2->id);
  CHECK(t != NULL);
  if (t) {
    CHECK_STR(t->argv[2], "101");
    CHECK_INT(t->n_gpus, 1);
    CHECK_INT(t->n_gpus ? t->gpus[0] : 99, 1);
    CHECK_CONTAINS(t->output_dir, "/take-2");
  }
  CHECK(assigned(msgs, n, g1->id) && assigned(msgs, n, r2->id));
  free_msgs(msgs, n);

  check_rows();
  CHECK_STR(pgtest_value(db, "SELECT string_agg(name, ',' ORDER BY name) FROM shots"),
            "sh010,sh020");
  CHECK_STR(pgtest_value(db, "SELECT provenance->>'model' FROM jobs WHERE id = %" PRIu64,
                         gen->id),
            "wan-2.1");
  CHECK_STR(pgtest_value(db, "SELECT requires->>'gpu_memory_mb' FROM jobs WHERE id = %" PRIu64,
                         gen->id),
            "20000");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM tasks"), 5);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events WHERE kind = 'job.submitted'"), 2);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events WHERE kind = 'worker.state' AND "
                           "subject_id = 'w1' AND details->>'to' = 'online'"),
            1);
  CHECK_STR(pgtest_value(db, "SELECT actor FROM events WHERE kind = 'job.submitted' LIMIT 1"),
            "alice");

  /* Phase 2: one success, one failure (backs off), the freed CPU runs the
   * third render task; a change made while that batch is in flight goes
   * into the next one. */
  result(w, g1, ATTEMPT_SUCCEEDED, 0, "");
  result(w, r1, ATTEMPT_FAILED, 3, "exit status 3 \"quoted\", {braces} \\ backslash");
  CHECK_INT(render->tasks[0].state, TASK_READY);
  CHECK(render->tasks[0].delay_pos != HEAP_NONE);
  dispatch_run(c);
  attempt_t *r3 = render->tasks[2].live;
  CHECK(r3 != NULL);
  CHECK(render->tasks[0].live == NULL);
  uint64_t g1id = g1->id, r1id = r1->id;
  store_flush(c);
  r2->started_us = util_wall_us();
  CHECK_INT(attempt_set_state(c, r2, ATTEMPT_RUNNING), 0);
  CHECK_INT(task_set_state(c, r2->task, TASK_RUNNING), 0);
  CHECK(pgtest_flush(c, &loop));
  CHECK(idmap_get(&c->attempts, g1id) == NULL); /* ended attempts released */
  CHECK(idmap_get(&c->attempts, r1id) == NULL);
  check_rows();
  CHECK_STR(pgtest_value(db, "SELECT state FROM attempts WHERE id = %" PRIu64, g1id),
            "succeeded");
  CHECK_INT(pgtest_int(db, "SELECT wall_us FROM attempts WHERE id = %" PRIu64, g1id), 5000000);
  CHECK_INT(pgtest_int(db, "SELECT max_rss_kb FROM attempts WHERE id = %" PRIu64, g1id), 1234);
  CHECK_STR(pgtest_value(db, "SELECT outputs->0->>'sha256' FROM attempts WHERE id = %" PRIu64,
                         g1id),
            "ab");
  CHECK_STR(pgtest_value(db, "SELECT state || ' ' || exit_code FROM attempts WHERE id = %" PRIu64,
                         r1id),
            "failed 3");
  CHECK_STR(pgtest_value(db, "SELECT error FROM attempts WHERE id = %" PRIu64, r1id),
            "exit status 3 \"quoted\", {braces} \\ backslash");
  CHECK_STR(pgtest_value(db, "SELECT state || ' ' || failures FROM tasks WHERE id = %" PRIu64,
                         render->tasks[0].id),
            "ready 1");
  CHECK_STR(pgtest_value(db, "SELECT state FROM attempts WHERE id = %" PRIu64, r2->id),
            "running");
  n = recv_msgs(msgs, 16, 1000);
  CHECK(n >= 2);
  bool acked1 = false, acked3 = false;
  for (size_t i = 0; i < n; i++)
    if (msgs[i]->body_case == CLAPPER__ENVELOPE__BODY_RESULT_ACK)
      for (size_t k = 0; k < msgs[i]->result_ack->n_attempt_ids; k++) {
        acked1 |= msgs[i]->result_ack->attempt_ids[k] == g1id;
        acked3 |= msgs[i]->result_ack->attempt_ids[k] == r1id;
      }
  CHECK(acked1 && acked3);
  CHECK(assigned(msgs, n, r3->id) != NULL);
  free_msgs(msgs, n);

  /* Phase 3: the last take succeeds; the job succeeds, is written, and
   * released from memory after the commit. */
  uint64_t gen_id = gen->id;
  result(w, g2, ATTEMPT_SUCCEEDED, 0, "");
  CHECK_INT(gen->state, JOB_SUCCEEDED);
  int64_t gen_started = gen->started_us, gen_finished = gen->finished_us;
  CHECK(gen_started > 0 && gen_finished >= gen_started);
  CHECK(pgtest_flush(c, &loop));
  CHECK(idmap_get(&c->jobs, gen_id) == NULL);
  check_rows();
  CHECK_STR(pgtest_value(db, "SELECT state FROM jobs WHERE id = %" PRIu64, gen_id), "succeeded");
  CHECK_INT(row_us("jobs", "started_at", gen_id), gen_started);
  CHECK_INT(row_us("jobs", "finished_at", gen_id), gen_finished);
  CHECK_INT(pgtest_int(db, "SELECT (task_counts->>'succeeded')::int FROM jobs WHERE id = %" PRIu64,
                       gen_id),
            2);
  CHECK_STR(pgtest_value(db, "SELECT string_agg(state, ',') FROM tasks WHERE job_id = %" PRIu64,
                         gen_id),
            "succeeded,succeeded");
  free_msgs(msgs, recv_msgs(msgs, 16, 200));

  /* Phase 4: an attempt created and ended within one batch is inserted in
   * its final state (and no Assign goes out for it). */
  job_t *quick = submit(QUICK);
  uint64_t quick_id = quick->id, quick_task = quick->tasks[0].id;
  dispatch_run(c);
  attempt_t *q = quick->tasks[0].live;
  CHECK(q != NULL);
  if (!q)
    return;
  uint64_t qid = q->id;
  result(w, q, ATTEMPT_SUCCEEDED, 0, "");
  CHECK_INT(quick->state, JOB_SUCCEEDED);
  int64_t q_started = quick->started_us, q_finished = quick->finished_us;
  CHECK(pgtest_flush(c, &loop));
  CHECK(idmap_get(&c->jobs, quick_id) == NULL);
  CHECK(idmap_get(&c->attempts, qid) == NULL);
  CHECK_STR(pgtest_value(db, "SELECT state FROM attempts WHERE id = %" PRIu64, qid), "succeeded");
  CHECK_STR(pgtest_value(db, "SELECT ended_at IS NOT NULL FROM attempts WHERE id = %" PRIu64, qid),
            "t");
  CHECK_STR(pgtest_value(db, "SELECT state FROM tasks WHERE id = %" PRIu64, quick_task),
            "succeeded");
  CHECK_STR(pgtest_value(db, "SELECT state FROM jobs WHERE id = %" PRIu64, quick_id), "succeeded");
  CHECK_INT(row_us("jobs", "started_at", quick_id), q_started);
  CHECK_INT(row_us("jobs", "finished_at", quick_id), q_finished);
  n = recv_msgs(msgs, 16, 200);
  CHECK(assigned(msgs, n, qid) == NULL);
  free_msgs(msgs, n);
  check_rows();

  /* The event log: one line per decision. */
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events WHERE kind = 'job.submitted'"), 3);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events WHERE kind = 'job.state' AND "
                           "details->>'to' = 'running'"),
            3);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events WHERE kind = 'job.state' AND "
                           "details->>'to' = 'succeeded'"),
            2);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM attempts"), 6);

  /* Phase 5: a large batch - 20,000 tasks and submissions of two projects
   * and three shots (one shot twice, not in a row) - is one commit. */
  uint64_t before = store_stats(c).batches;
  job_t *big = submit("{\"project\":\"zed\",\"episode\":\"e1\",\"jobs\":["
                      "{\"name\":\"a\",\"shot\":\"s1\",\"command\":[\"true\"]},"
                      "{\"name\":\"b\",\"shot\":\"s2\",\"command\":[\"true\"]},"
                      "{\"name\":\"big\",\"shot\":\"s1\",\"frames\":\"1-20000\","
                      "\"command\":[\"true\"],\"requires\":{\"tags\":[\"nobody\"]}}]}");
  job_t *other = submit("{\"project\":\"hod\",\"episode\":\"s02e04\",\"jobs\":["
                        "{\"name\":\"c\",\"shot\":\"sh010\",\"command\":[\"true\"],"
                        "\"requires\":{\"tags\":[\"nobody\"]}}]}");
  big = idmap_get(&c->jobs, big->id + 2);
  CHECK(big && big->ntasks == 20000);
  CHECK(pgtest_flush(c, &loop));
  CHECK_INT(store_stats(c).batches, before + 1);
  if (big) {
    CHECK_INT(pgtest_int(db, "SELECT count(*) FROM tasks WHERE job_id = %" PRIu64, big->id),
              20000);
    CHECK_INT(pgtest_int(db, "SELECT frame_start FROM tasks WHERE id = %" PRIu64,
                         big->tasks[12345].id),
              12346);
    CHECK_STR(pgtest_value(db, "SELECT s.name FROM jobs j JOIN shots s ON s.id = j.shot_id "
                               "WHERE j.id = %" PRIu64, big->id),
              "s1");
  }
  CHECK_STR(pgtest_value(db, "SELECT p.name || '/' || e.name FROM jobs j "
                             "JOIN episodes e ON e.id = j.episode_id "
                             "JOIN projects p ON p.id = e.project_id WHERE j.id = %" PRIu64,
                         other->id),
            "hod/s02e04");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM shots s JOIN episodes e ON e.id = s.episode_id "
                           "WHERE e.name = 'e1'"),
            2);
  check_rows();

  /* Phase 6: a waiting job canceled while the job it runs after still
   * runs leaves memory once that is durable; the other job succeeding
   * later must not reach it (it is no longer among its dependents). */
  while (w->live) /* room on the worker */
    result(w, w->live, ATTEMPT_SUCCEEDED, 0, "");
  CHECK(pgtest_flush(c, &loop));
  free_msgs(msgs, recv_msgs(msgs, 16, 200));
  job_t *first = submit("{\"project\":\"hod\",\"episode\":\"s02e03\",\"jobs\":["
                        "{\"name\":\"first\",\"command\":[\"true\"]},"
                        "{\"name\":\"then\",\"command\":[\"true\"],\"after\":[\"first\"]}]}");
  job_t *then = idmap_get(&c->jobs, first->id + 1);
  uint64_t then_id = then->id;
  CHECK_INT(then->state, JOB_WAITING);
  CHECK_INT(first->ndependents, 1);
  char err[160];
  CHECK_INT(job_cancel(c, then, "alice", "not needed", err, sizeof err), 0);
  CHECK_INT(then->state, JOB_CANCELED);
  CHECK(pgtest_flush(c, &loop));
  CHECK(idmap_get(&c->jobs, then_id) == NULL);
  CHECK_INT(first->ndependents, 0);
  dispatch_run(c);
  attempt_t *fa = first->tasks[0].live;
  CHECK(fa != NULL);
  if (fa)
    result(w, fa, ATTEMPT_SUCCEEDED, 0, "");
  CHECK_INT(first->state, JOB_SUCCEEDED);
  CHECK(pgtest_flush(c, &loop));
  CHECK_STR(pgtest_value(db, "SELECT state FROM jobs WHERE id = %" PRIu64, then_id), "canceled");
  free_msgs(msgs, recv_msgs(msgs, 16, 200));
}

/* ------------------------------------------------------------ refused rows */

static char refusals[4][256]; /* what store_refused said to each change's action */
static int refusal_actions;

static void on_refusal_action(coord_t *cc, void *arg) {
  const char *why = store_refused(cc);
  snprintf(refusals[(intptr_t)arg], sizeof refusals[0], "%s", why ? why : "-");
  refusal_actions++;
}

/* A batch PostgreSQL refuses (text that is not UTF-8 got past the edge):
 * the rows it refuses are found, everything else commits, every action
 * runs, and those of the refused changes learn why. */
static void refused_rows(void) {
  job_t *ja = submit(QUICK), *jb = submit(QUICK), *jc = submit(QUICK);
  uint64_t a_id = ja->id, b_id = jb->id, c_id = jc->id;
  CHECK(pgtest_flush(c, &loop));
  const char *a_state = job_state_name((job_state_t)ja->state);
  int64_t events = pgtest_int(db, "SELECT count(*) FROM events");
  char err[160];

  /* Change 0: canceled with a note that is not UTF-8. */
  store_change_begin(c);
  CHECK_INT(job_cancel(c, ja, "alice", "bad \xff note", err, sizeof err), 0);
  store_on_commit(c, on_refusal_action, (void *)0);
  store_change_end(c);
  /* Change 1: an unrelated cancel. */
  store_change_begin(c);
  CHECK_INT(job_cancel(c, jb, "bob", "fine", err, sizeof err), 0);
  store_on_commit(c, on_refusal_action, (void *)1);
  store_change_end(c);
  /* 40 events of no change around one bad event of change 2: cleaned,
   * not refused (a dropped event would break the chain). */
  for (int i = 0; i < 20; i++) /* text with commas, quotes and backslashes */
    store_event(c, "coordinator", "test.ok", "job", "1,\"2\"\\",
                "{\"a\":\"x,\\\"y\\\"}\\\\\"}");
  store_change_begin(c);
  store_event(c, "mallory\xff", "test.bad", "job", "1", NULL);
  store_on_commit(c, on_refusal_action, (void *)2);
  store_change_end(c);
  for (int i = 0; i < 20; i++)
    store_event(c, "coordinator", "test.ok", "job", "1", NULL);
  /* An action of no change; a new job in the same batch. */
  store_on_commit(c, on_refusal_action, (void *)3);
  job_t *jd = submit(QUICK);
  uint64_t d_id = jd->id;

  refusal_actions = 0;
  CHECK(pgtest_flush(c, &loop));
  CHECK_INT(refusal_actions, 4);
  CHECK_CONTAINS(refusals[0], "invalid byte sequence for encoding \"UTF8\"");
  CHECK_STR(refusals[1], "-");
  CHECK_STR(refusals[2], "-");
  CHECK_STR(refusals[3], "-");
  /* The refused job row kept its state; the rest committed. */
  CHECK_STR(pgtest_value(db, "SELECT state FROM jobs WHERE id = %" PRIu64, a_id), a_state);
  CHECK_STR(pgtest_value(db, "SELECT state || ': ' || reason FROM jobs WHERE id = %" PRIu64,
                         b_id),
            "canceled: canceled by bob: fine");
  CHECK_STR(pgtest_value(db, "SELECT state FROM jobs WHERE id = %" PRIu64, c_id), "queued");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM jobs WHERE id = %" PRIu64, d_id), 1);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events WHERE kind = 'test.ok'"), 40);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events WHERE kind = 'test.ok' AND "
                           "subject_id = '1,\"2\"\\' AND details->>'a' = 'x,\"y\"}\\'"),
            20);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events WHERE kind = 'test.bad' AND "
                           "actor = 'mallory?'"),
            1);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events WHERE kind = 'job.cancel' AND "
                           "subject_id = '%" PRIu64 "'", b_id),
            1);
  CHECK(pgtest_int(db, "SELECT count(*) FROM events") >= events + 40 + 2);
  /* The store goes on: the next batch commits as usual. */
  job_t *je = submit(QUICK);
  uint64_t e_id = je->id;
  store_on_commit(c, on_refusal_action, (void *)3);
  refusal_actions = 0;
  CHECK(pgtest_flush(c, &loop));
  CHECK_INT(refusal_actions, 1);
  CHECK_STR(refusals[3], "-");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM jobs WHERE id = %" PRIu64, e_id), 1);
}

int main(void) {
  log_init("test_store", LOG_LVL_WARN);
  const char *conninfo = pgtest_start();
  db = pgtest_connect();

  uv_loop_init(&loop);
  coord_init(c, &loop);
  c->cfg.output_root = output_root;
  c->cfg.heartbeat_ms = 1000;
  c->cfg.lease_ms = 10000;
  char err[512];
  c->wdb = pgconn_open(&loop, conninfo, "writer", on_fatal, c, err, sizeof err);
  if (!c->wdb) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  int applied = migrate_apply(pgconn_raw(c->wdb), pgtest_sql_dir(), err, sizeof err);
  CHECK(applied >= 1);
  if (applied < 1) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  CHECK_INT(pgconn_start(c->wdb), 0);

  zctx = zmq_ctx_new();
  router = zmq_socket(zctx, ZMQ_ROUTER);
  dealer = zmq_socket(zctx, ZMQ_DEALER);
  int one = 1, zero = 0;
  zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
  CHECK_INT(zmq_bind(router, "inproc://test-store-workers"), 0);
  c->wsock = router;

  scenario();
  refused_rows();

  /* Shutdown as coordinator/main.c does it. */
  pgconn_close(&c->wdb);
  coord_close_timers(c);
  uv_run(&loop, UV_RUN_DEFAULT);
  zmq_close(dealer);
  zmq_close(router);
  zmq_ctx_term(zctx);
  coord_release(c);
  CHECK_INT(uv_loop_close(&loop), 0);
  PQfinish(db);
  pgtest_stop();
  return check_report("test_store");
}
