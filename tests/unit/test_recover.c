/*
 * test_recover.c - rebuilding the coordinator's memory from PostgreSQL,
 * against a real private server.
 *
 * A first coordinator (memory, loop and writer connection as in
 * coordinator/main.c) runs a render job part way on worker w1 - two tasks
 * succeeded, one running on w1's second GPU, two ready - and a second job
 * to the end, so that the highest job, task and attempt ids belong to
 * finished work.  A second, fresh coordinator then calls recover_load and
 * must rebuild: the next ids (max + 1), the unfinished job with its state,
 * counts, spec and tasks (finished jobs stay out), the live attempt
 * attached to w1 with its CPUs, memory and GPU reserved, w1 offline (no
 * work for it) until its Hello, and the ready tasks in the dispatch index
 * (another online worker gets them, in order).  What the recovered
 * coordinator then writes must fit the rows (updates, not duplicate
 * inserts).  Last, a stored job whose spec no longer parses is skipped
 * without keeping the others from coming back.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "check.h"
#include "dispatch.h"
#include "log.h"
#include "migrate.h"
#include "model.h"
#include "recover.h"
#include "store.h"
#include "pgtest.h" /* after store.h: pgtest_flush */
#include "workers.h"

static uv_loop_t loop;
static PGconn *db; /* for checks */
static const char *conninfo;
static char output_root[] = "/tmp/clapper-test-recover-out";

static void on_fatal(void *arg, const char *error) {
  (void)arg;
  fprintf(stderr, "database connection broke: %s\n", error);
  CHECK(!"the writer connection stays up");
  exit(1);
}

static coord_t *coord_new(void) {
  coord_t *c = xcalloc(1, sizeof *c);
  coord_init(c, &loop);
  c->cfg.output_root = output_root;
  c->cfg.heartbeat_ms = 1000;
  c->cfg.lease_ms = 10000;
  char err[512];
  c->wdb = pgconn_open(&loop, conninfo, "writer", on_fatal, c, err, sizeof err);
  if (!c->wdb) {
    fprintf(stderr, "%s\n", err);
    exit(1);
  }
  return c;
}

/* Start-up as coordinator/main.c does it: the event log's chain continues
 * where the last life left it, then memory is rebuilt. */
static int life_start(coord_t *c, char *err, size_t errlen) {
  if (audit_start(c, pgconn_raw(c->wdb), err, errlen) < 0)
    return -1;
  return recover_load(c, pgconn_raw(c->wdb), err, errlen);
}

/* Shutdown and release as coordinator/main.c does it. */
static void coord_free(coord_t *c) {
  pgconn_close(&c->wdb);
  coord_close_timers(c);
  uv_run(&loop, UV_RUN_DEFAULT);
  coord_release(c);
  free(c);
}


/* An online worker as a Hello leaves it, recorded in the next batch. */
static worker_t *online_worker(coord_t *c, const char *name, uint32_t cpus, uint32_t ngpus) {
  worker_t *w = workers_add(c, name);
  w->hostname = xasprintf("host-%s", name);
  w->version = xstrdup("test");
  w->cpus = w->cpus_free = cpus;
  w->memory_mb = w->mem_free = 8000;
  w->ngpus = ngpus;
  w->gpus = xcalloc(ngpus ? ngpus : 1, sizeof *w->gpus);
  for (uint32_t i = 0; i < ngpus; i++) {
    w->gpus[i].index = i;
    w->gpus[i].uuid = xasprintf("GPU-%s-%u", name, i);
    w->gpus[i].model = xstrdup("NVIDIA Test");
    w->gpus[i].memory_mb = 16000;
  }
  w->tags = xcalloc(1, sizeof *w->tags);
  w->tags[w->ntags++] = xstrdup("gpu");
  w->identlen = strlen(name);
  memcpy(w->ident, name, w->identlen);
  w->last_seen_mono = util_mono_us();
  w->last_seen_us = util_wall_us();
  store_worker(c, w);
  worker_set_state(c, w, WORKER_ONLINE, "hello");
  return w;
}

static job_t *submit(coord_t *c, const char *json) {
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

static void succeed(coord_t *c, attempt_t *a) {
  a->has_exit = true;
  a->started_us = a->dispatched_us + 10;
  a->ended_us = a->started_us + 1000;
  CHECK_INT(attempt_set_state(c, a, ATTEMPT_SUCCEEDED), 0);
  task_attempt_ended(c, a->task, a);
}

static const char FINAL[] =
    "{\"project\":\"hod\",\"episode\":\"s02e03\",\"jobs\":["
    "{\"name\":\"sh010-final\",\"shot\":\"sh010\",\"kind\":\"render\",\"frames\":\"1-5\","
    "\"command\":[\"render\",\"{frame_start}\"],\"priority\":70,"
    "\"requires\":{\"gpus\":1,\"cpus\":1,\"memory_mb\":1000,\"tags\":[\"gpu\"]}}]}";
static const char QUICK[] =
    "{\"project\":\"hod\",\"episode\":\"s02e03\",\"jobs\":["
    "{\"name\":\"quick\",\"command\":[\"true\"]}]}";

/* What the first coordinator leaves behind, for comparison. */
static char final_output_dir[512];
static int64_t final_submitted_us, final_started_us, live_dispatched_us, live_started_us;

static int64_t w1_last_seen(void) {
  return pgtest_int(db, "SELECT (extract(epoch FROM last_seen) * 1000000)::bigint FROM workers "
                        "WHERE name = 'w1'");
}

static void first_life(void) {
  coord_t *c = coord_new();
  char err[512];
  int applied = migrate_apply(pgconn_raw(c->wdb), pgtest_sql_dir(), err, sizeof err);
  if (applied < 1) {
    fprintf(stderr, "%s\n", err);
    exit(1);
  }
  CHECK_INT(pgconn_start(c->wdb), 0);
  worker_t *w1 = online_worker(c, "w1", 4, 2);

  job_t *j = submit(c, FINAL); /* job 1, tasks 1-5 */
  dispatch_run(c);             /* tasks 1, 2 on GPUs 0, 1: attempts 1, 2 */
  CHECK(pgtest_flush(c, &loop));
  attempt_t *a1 = j->tasks[0].live, *a2 = j->tasks[1].live;
  CHECK(a1 && a2 && !j->tasks[2].live);
  if (!a1 || !a2)
    exit(1);
  CHECK_INT(a2->gpu_mask, 0x2);
  succeed(c, a1);
  dispatch_run(c); /* task 3 on GPU 0: attempt 3 */
  attempt_t *a3 = j->tasks[2].live;
  CHECK(a3 && a3->gpu_mask == 0x1);
  CHECK(pgtest_flush(c, &loop));

  job_t *quick = submit(c, QUICK); /* job 2, task 6 */
  dispatch_run(c);                 /* on w1's CPUs: attempt 4; no GPU left for job 1 */
  attempt_t *a4 = quick->tasks[0].live;
  CHECK(a4 != NULL);
  CHECK(j->tasks[3].live == NULL);
  CHECK(pgtest_flush(c, &loop));

  a2->started_us = util_wall_us();
  CHECK_INT(attempt_set_state(c, a2, ATTEMPT_RUNNING), 0);
  CHECK_INT(task_set_state(c, a2->task, TASK_RUNNING), 0);
  if (a3)
    succeed(c, a3);
  if (a4)
    succeed(c, a4);
  CHECK(pgtest_flush(c, &loop));

  CHECK_INT(j->counts[TASK_SUCCEEDED], 2);
  CHECK_INT(j->counts[TASK_RUNNING], 1);
  CHECK_INT(j->counts[TASK_READY], 2);
  CHECK_INT(w1->nlive, 1);
  CHECK_INT(pgtest_int(db, "SELECT max(id) FROM jobs"), 2);
  CHECK_INT(pgtest_int(db, "SELECT max(id) FROM tasks"), 6);
  CHECK_INT(pgtest_int(db, "SELECT max(id) FROM attempts"), 4);
  CHECK_STR(pgtest_value(db, "SELECT state FROM jobs WHERE id = 2"), "succeeded");
  CHECK_STR(pgtest_value(db, "SELECT state FROM attempts WHERE id = 2"), "running");
  /* Each attempt is its task's first try, and the task row says so. */
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM attempts WHERE try_no = 1"), 4);
  CHECK_INT(pgtest_int(db, "SELECT tries FROM tasks WHERE id = 2"), 1);
  CHECK_INT(pgtest_int(db, "SELECT tries FROM tasks WHERE id = 4"), 0);
  snprintf(final_output_dir, sizeof final_output_dir, "%s", j->output_dir);
  final_submitted_us = j->submitted_us;
  final_started_us = j->started_us;
  live_dispatched_us = a2->dispatched_us;
  live_started_us = a2->started_us;
  coord_free(c);
}

/* The Hello w1 sends when it reconnects, still running attempt 2. */
static void hello_w1(coord_t *c) {
  Clapper__Gpu g0 = CLAPPER__GPU__INIT, g1 = CLAPPER__GPU__INIT;
  g0.index = 0;
  g0.uuid = "GPU-w1-0";
  g0.model = "NVIDIA Test";
  g0.memory_mb = 16000;
  g1 = g0;
  g1.index = 1;
  g1.uuid = "GPU-w1-1";
  Clapper__Gpu *gpus[] = {&g0, &g1};
  char *tags[] = {"gpu"};
  uint64_t running[] = {2};
  Clapper__Hello h = CLAPPER__HELLO__INIT;
  h.name = "w1";
  h.hostname = "host-w1";
  h.version = "test";
  h.cpus = 4;
  h.memory_mb = 8000;
  h.n_gpus = 2;
  h.gpus = gpus;
  h.n_tags = 1;
  h.tags = tags;
  h.n_running = 1;
  h.running = running;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_HELLO;
  env.hello = &h;
  workers_on_message(c, (const uint8_t *)"w1-conn", 7, "", &env);
}

static void second_life(void) {
  coord_t *c = coord_new();
  char err[512] = "";
  int rc = life_start(c, err, sizeof err);
  if (rc < 0)
    fprintf(stderr, "recover_load: %s\n", err);
  CHECK_INT(rc, 0);
  CHECK_INT(pgconn_start(c->wdb), 0);

  /* Ids continue after the highest in the database. */
  CHECK_INT(c->next_job_id, 3);
  CHECK_INT(c->next_task_id, 7);
  CHECK_INT(c->next_attempt_id, 5);

  /* Only the unfinished job comes back, as it was. */
  CHECK_INT(c->jobs.len, 1);
  CHECK(idmap_get(&c->jobs, 2) == NULL);
  job_t *j = idmap_get(&c->jobs, 1);
  CHECK(j != NULL);
  if (!j)
    goto out;
  CHECK_INT(j->state, JOB_RUNNING);
  CHECK_INT(j->ntasks, 5);
  CHECK_INT(j->first_task_id, 1);
  CHECK_INT(j->counts[TASK_SUCCEEDED], 2);
  CHECK_INT(j->counts[TASK_RUNNING], 1);
  CHECK_INT(j->counts[TASK_READY], 2);
  CHECK_INT(j->counts[TASK_DISPATCHED], 0);
  CHECK_STR(j->spec->name, "sh010-final");
  CHECK_STR(j->spec->shot, "sh010");
  CHECK_STR(j->project, "hod");
  CHECK_STR(j->episode, "s02e03");
  CHECK_INT(j->spec->priority, 70);
  CHECK_INT(j->spec->req.gpus, 1);
  CHECK_INT(j->spec->req.memory_mb, 1000);
  CHECK_INT(j->spec->req.ntags, 1);
  CHECK_STR(j->output_dir, final_output_dir);
  CHECK_STR(j->submitted_by, "alice");
  CHECK_INT(j->submitted_us, final_submitted_us);
  CHECK_INT(j->started_us, final_started_us);
  /* Succeeded tasks are not read (their row's count says how many). */
  for (uint32_t k = 0; k < j->ntasks; k++) {
    bool read = k != 0 && k != 2;
    CHECK_INT(j->tasks[k].id, k + 1);
    CHECK_INT(j->tasks[k].seq, k);
    CHECK_INT(j->tasks[k].spec.frame_start, read ? k + 1 : 0);
    CHECK_INT(j->tasks[k].spec.frame_end, read ? k + 1 : 0);
    CHECK(j->tasks[k].job == j);
    CHECK(j->tasks[k].persisted);
  }
  CHECK_INT(j->tasks[0].state, TASK_SUCCEEDED);
  CHECK_INT(j->tasks[1].state, TASK_RUNNING);
  CHECK_INT(j->tasks[2].state, TASK_SUCCEEDED);
  CHECK_INT(j->tasks[3].state, TASK_READY);
  CHECK_INT(j->tasks[4].state, TASK_READY);
  /* The tries made so far: the next attempt of task 2 is its second. */
  CHECK_INT(j->tasks[1].tries, 1);
  CHECK_INT(j->tasks[3].tries, 0);

  /* The live attempt, on w1, holding what it held. */
  CHECK_INT(c->nworkers, 1);
  worker_t *w1 = workers_find(c, "w1");
  CHECK(w1 != NULL);
  if (!w1)
    goto out;
  CHECK_INT(c->attempts.len, 1);
  attempt_t *a = idmap_get(&c->attempts, 2);
  CHECK(a != NULL);
  if (!a)
    goto out;
  CHECK(a->worker == w1);
  CHECK(a->task == &j->tasks[1]);
  CHECK(j->tasks[1].live == a);
  CHECK_INT(a->state, ATTEMPT_RUNNING);
  CHECK_INT(a->cpus, 1);
  CHECK_INT(a->memory_mb, 1000);
  CHECK_INT(a->gpu_mask, 0x2);
  CHECK_INT(a->try_no, 1);
  CHECK_INT(a->dispatched_us, live_dispatched_us);
  CHECK_INT(a->started_us, live_started_us);
  CHECK(a->persisted);

  CHECK_INT(w1->state, WORKER_OFFLINE);
  CHECK_INT(w1->identlen, 0);
  CHECK_STR(w1->hostname, "host-w1");
  CHECK_INT(w1->cpus, 4);
  CHECK_INT(w1->memory_mb, 8000);
  CHECK_INT(w1->ngpus, 2);
  CHECK_INT(w1->gpus[1].memory_mb, 16000);
  CHECK_STR(w1->gpus[1].uuid, "GPU-w1-1");
  CHECK_INT(w1->ntags, 1);
  CHECK_STR(w1->ntags ? w1->tags[0] : "", "gpu");
  CHECK_INT(w1->nlive, 1);
  CHECK(w1->live == a);
  CHECK_INT(w1->cpus_free, 3);
  CHECK_INT(w1->mem_free, 7000);
  CHECK_INT(w1->gpu_busy, 0x2);
  /* When it was last seen is kept (clapper workers shows it). */
  CHECK(w1->last_seen_us > 0);
  CHECK_INT(w1->last_seen_us, w1_last_seen());

  /* w1 is offline: nothing goes to it. */
  dispatch_run(c);
  CHECK_INT(w1->nlive, 1);
  CHECK_INT(j->counts[TASK_READY], 2);
  CHECK_INT(c->next_attempt_id, 5);

  /* Another worker takes the ready tasks, in order: one GPU, task 4. */
  worker_t *w2 = online_worker(c, "w2", 8, 1);
  dispatch_run(c);
  CHECK_INT(w2->nlive, 1);
  CHECK_INT(j->tasks[3].state, TASK_DISPATCHED);
  CHECK(j->tasks[3].live && j->tasks[3].live->id == 5 && j->tasks[3].live->worker == w2);
  CHECK_INT(j->tasks[4].state, TASK_READY);

  /* w1 says hello with attempt 2 still running: it is back, keeps it, and
   * gets the last task on its free GPU. */
  hello_w1(c);
  CHECK_INT(w1->state, WORKER_ONLINE);
  CHECK(idmap_get(&c->attempts, 2) == a);
  CHECK_INT(a->state, ATTEMPT_RUNNING);
  CHECK_INT(w1->gpu_busy, 0x2);
  CHECK_INT(w1->cpus_free, 3);
  dispatch_run(c);
  CHECK(j->tasks[4].live && j->tasks[4].live->worker == w1);
  CHECK_INT(j->tasks[4].live ? j->tasks[4].live->gpu_mask : 0, 0x1);
  CHECK_INT(w1->gpu_busy, 0x3);
  CHECK_INT(w1->nlive, 2);

  /* What the recovered coordinator writes fits the rows it recovered. */
  CHECK(pgtest_flush(c, &loop));
  CHECK_STR(pgtest_value(db, "SELECT string_agg(name || ':' || state, ',' ORDER BY name) "
                             "FROM workers"),
            "w1:online,w2:online");
  CHECK_STR(pgtest_value(db, "SELECT string_agg(id || ':' || worker || ':' || state || ':' || "
                             "gpus::text, ',' ORDER BY id) FROM attempts WHERE state IN "
                             "('dispatched', 'running')"),
            "2:w1:running:{1},5:w2:dispatched:{0},6:w1:dispatched:{0}");
  CHECK_STR(pgtest_value(db, "SELECT task_counts->>'dispatched' || ' ' || "
                             "(task_counts->>'running') || ' ' || (task_counts->>'ready') "
                             "FROM jobs WHERE id = 1"),
            "2 1 0");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events WHERE kind = 'worker.state' AND "
                           "subject_id = 'w1' AND details->>'from' = 'offline' AND "
                           "details->>'to' = 'online'"),
            2);

  /* A third life finds the new attempts too, and what it writes at once
   * (its workers offline) keeps when they were last seen. */
  coord_free(c);
  int64_t seen = w1_last_seen();
  c = coord_new();
  rc = life_start(c, err, sizeof err);
  CHECK_INT(rc, 0);
  CHECK_INT(pgconn_start(c->wdb), 0);
  CHECK(pgtest_flush(c, &loop));
  CHECK_STR(pgtest_value(db, "SELECT state FROM workers WHERE name = 'w1'"), "offline");
  CHECK_INT(w1_last_seen(), seen);
  CHECK_INT(c->next_attempt_id, 7);
  CHECK_INT(c->attempts.len, 3);
  w1 = workers_find(c, "w1");
  w2 = workers_find(c, "w2");
  CHECK(w1 && w2);
  if (w1 && w2) {
    CHECK_INT(w1->gpu_busy, 0x3);
    CHECK_INT(w1->nlive, 2);
    CHECK_INT(w2->gpu_busy, 0x1);
    CHECK_INT(w2->cpus_free, 7);
  }
  j = idmap_get(&c->jobs, 1);
  CHECK(j && j->counts[TASK_DISPATCHED] == 2 && j->counts[TASK_READY] == 0);
out:
  coord_free(c);
}

/* A stored job whose spec no longer parses is left alone, loudly; it must
 * not keep the coordinator (and every other job) from starting. */
static void unparseable_job(void) {
  pgtest_exec(db, "INSERT INTO jobs (id, episode_id, name, kind, state, priority, max_attempts, "
                  "max_lost, retry_backoff_s, timeout_s, requires, spec, output_dir, ntasks, "
                  "submitted_by) SELECT 100, id, 'broken', 'process', 'queued', 50, 3, 5, 10, "
                  "0, '{}', '{\"name\": \"broken\"}', '/tmp/out', 2, 'alice' FROM episodes");
  pgtest_exec(db, "INSERT INTO tasks (id, job_id, seq, state) VALUES (100, 100, 0, 'ready'), "
                  "(101, 100, 1, 'dispatched')");
  pgtest_exec(db, "INSERT INTO attempts (id, task_id, worker, state, dispatched_at) "
                  "VALUES (100, 101, 'w2', 'dispatched', now())");
  coord_t *c = coord_new();
  char err[512] = "";
  int rc = life_start(c, err, sizeof err);
  if (rc < 0)
    fprintf(stderr, "recover_load: %s\n", err);
  CHECK_INT(rc, 0);
  CHECK(idmap_get(&c->jobs, 100) == NULL);
  CHECK(idmap_get(&c->jobs, 1) != NULL);
  CHECK(idmap_get(&c->attempts, 100) == NULL);
  CHECK_INT(c->attempts.len, 3);
  CHECK_INT(c->next_job_id, 101);
  CHECK_INT(c->next_task_id, 102);
  CHECK_INT(c->next_attempt_id, 101);
  worker_t *w2 = workers_find(c, "w2");
  CHECK(w2 && w2->nlive == 1);
  coord_free(c);
}

/* A job of four tasks written directly: its row says how many succeeded. */
static void insert_job(uint64_t id, const char *state, const char *counts,
                       const char *const tstates[4]) {
  char sql[1024];
  snprintf(sql, sizeof sql,
           "INSERT INTO jobs (id, episode_id, name, kind, state, priority, max_attempts, "
           "max_lost, retry_backoff_s, timeout_s, requires, spec, output_dir, ntasks, "
           "task_counts, submitted_by) SELECT %llu, id, 'j%llu', 'render', '%s', 50, 3, 5, 0, "
           "0, '{}', '{\"name\": \"j%llu\", \"command\": [\"true\"]}', '/tmp/out', 4, "
           "'%s', 'alice' FROM episodes LIMIT 1",
           (unsigned long long)id, (unsigned long long)id, state, (unsigned long long)id,
           counts);
  pgtest_exec(db, sql);
  for (int k = 0; k < 4; k++) {
    snprintf(sql, sizeof sql,
             "INSERT INTO tasks (id, job_id, seq, state, frame_start, frame_end) "
             "VALUES (%llu, %llu, %d, '%s', %d, %d)",
             (unsigned long long)id + (unsigned long long)k, (unsigned long long)id, k,
             tstates[k], k + 1, k + 1);
    pgtest_exec(db, sql);
  }
}

/* Recovery reads the tasks that did not succeed: a failed job comes back
 * with its failed task (retry runs it), the rest counted succeeded from
 * the row; a row that disagrees with the tasks makes it read them all,
 * and a task row missing then stops the start. */
static void only_unfinished(void) {
  static const char *const running[4] = {"succeeded", "ready", "succeeded", "failed"};
  static const char *const failed[4] = {"succeeded", "succeeded", "failed", "succeeded"};
  insert_job(200, "running", "{\"succeeded\": 2, \"ready\": 1, \"failed\": 1}", running);
  insert_job(300, "failed", "{\"succeeded\": 3, \"failed\": 1}", failed);
  coord_t *c = coord_new();
  char err[512] = "";
  CHECK_INT(life_start(c, err, sizeof err), 0);
  job_t *j = idmap_get(&c->jobs, 200), *f = idmap_get(&c->jobs, 300);
  CHECK(j && f);
  if (!j || !f)
    goto out;
  CHECK_INT(j->counts[TASK_SUCCEEDED], 2);
  CHECK_INT(j->counts[TASK_READY], 1);
  CHECK_INT(j->counts[TASK_FAILED], 1);
  CHECK_INT(j->tasks[0].state, TASK_SUCCEEDED);
  CHECK_INT(j->tasks[0].spec.frame_start, 0); /* not read */
  CHECK_INT(j->tasks[1].spec.frame_start, 2);
  CHECK_INT(f->state, JOB_FAILED);
  CHECK_INT(f->counts[TASK_SUCCEEDED], 3);
  CHECK_INT(f->counts[TASK_FAILED], 1);
  CHECK_INT(f->tasks[2].state, TASK_FAILED);
  uint32_t retried = 0;
  CHECK_INT(job_retry(c, f, "alice", &retried, err, sizeof err), 0);
  CHECK_INT(retried, 1);
  CHECK_INT(f->tasks[2].state, TASK_READY);
  CHECK_INT(f->state, JOB_RUNNING);
  coord_free(c);

  /* The row of 200 counts one succeeded task too few: all are read. */
  pgtest_exec(db, "UPDATE jobs SET task_counts = '{\"succeeded\": 1}' WHERE id = 200");
  c = coord_new();
  CHECK_INT(life_start(c, err, sizeof err), 0);
  j = idmap_get(&c->jobs, 200);
  CHECK(j && j->counts[TASK_SUCCEEDED] == 2 && j->counts[TASK_READY] == 1);
  CHECK(j && j->tasks[0].spec.frame_start == 1 && j->tasks[2].state == TASK_SUCCEEDED);
  coord_free(c);

  /* And a task row gone: the start is refused. */
  pgtest_exec(db, "DELETE FROM tasks WHERE id = 202");
  c = coord_new();
  CHECK_INT(life_start(c, err, sizeof err), -1);
  CHECK_STR(err, "job 200 is missing task 2; refusing to start");
  j = NULL;
out:
  coord_free(c);
}

/* Bulk writes a crash interrupted (store.h): a submit whose job.submitted
 * was never logged is deleted with its tasks and dependencies; a cancel
 * whose job's row says canceled cancels its tasks that had not started;
 * bulk_pending is empty afterwards. */
static void interrupted_bulk(void) {
  pgtest_exec(db, "INSERT INTO jobs (id, episode_id, name, kind, state, priority, max_attempts, "
                  "max_lost, retry_backoff_s, timeout_s, requires, spec, output_dir, ntasks, "
                  "submitted_by) SELECT v.id, e.id, v.name, 'process', v.state, 50, 3, 5, 10, 0, "
                  "'{}', '{\"name\": \"x\"}', '/tmp/out', 3, 'alice' FROM episodes e, "
                  "(VALUES (400, 'half', 'queued'), (401, 'big', 'canceled')) v(id, name, state) "
                  "WHERE e.id = (SELECT min(id) FROM episodes)");
  pgtest_exec(db, "INSERT INTO job_deps (job_id, depends_on, kind) VALUES (400, 1, 'after')");
  pgtest_exec(db, "INSERT INTO tasks (id, job_id, seq, state) VALUES (400, 400, 0, 'ready'), "
                  "(401, 400, 1, 'ready'), (402, 400, 2, 'waiting'), (410, 401, 0, 'ready'), "
                  "(411, 401, 1, 'held'), (412, 401, 2, 'succeeded')");
  pgtest_exec(db, "INSERT INTO bulk_pending (job_id, kind) "
                  "VALUES (400, 'submit'), (401, 'cancel')");
  coord_t *c = coord_new();
  char err[512] = "";
  int rc = life_start(c, err, sizeof err);
  if (rc < 0)
    fprintf(stderr, "recover_load: %s\n", err);
  CHECK_INT(rc, 0);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM jobs WHERE id = 400"), 0);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM tasks WHERE job_id = 400"), 0);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM job_deps WHERE job_id = 400"), 0);
  CHECK(idmap_get(&c->jobs, 400) == NULL);
  CHECK_STR(pgtest_value(db, "SELECT string_agg(id || ':' || state, ',' ORDER BY id) FROM tasks "
                             "WHERE job_id = 401"),
            "410:canceled,411:canceled,412:succeeded");
  CHECK(idmap_get(&c->jobs, 401) == NULL); /* canceled: not loaded */
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM bulk_pending"), 0);
  CHECK(idmap_get(&c->jobs, 1) != NULL);
  coord_free(c);
}

int main(void) {
  /* Sends fail harmlessly here (no worker socket): keep those warnings out. */
  log_init("test_recover", LOG_LVL_ERROR);
  conninfo = pgtest_start();
  db = pgtest_connect();
  uv_loop_init(&loop);
  first_life();
  second_life();
  unparseable_job();
  interrupted_bulk();
  only_unfinished();
  CHECK_INT(uv_loop_close(&loop), 0);
  PQfinish(db);
  pgtest_stop();
  return check_report("test_recover");
}
