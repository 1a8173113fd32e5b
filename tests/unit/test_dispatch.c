/*
 * test_dispatch.c - the ready index and placement, in memory only.
 *
 * Each scenario builds a coordinator by hand (no database, no sockets):
 * workers with given resources, jobs from job files, then dispatch_run.
 * It checks resource fitting (cpus, memory, GPU count, per-GPU memory,
 * tags), the order of dispatch (priority first, then submission, then task
 * order), that no worker is overcommitted and no GPU is held twice, that a
 * job nobody can run does not block the ones behind it, round-robin over
 * workers, the release of resources when an attempt ends, and retry
 * back-off through the delayed heap and its timer.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "memcoord.h"
#include "dispatch.h"
#include "limit.h"
#include "log.h"
#include "model.h"
#include "store.h"
#include "workers.h"

static int popcount(uint64_t x) { return __builtin_popcountll(x); }

static void test_fits(void) {
  coord_t *c = memcoord_new();
  const uint64_t mb[] = {8000, 24000};
  worker_t *w = memcoord_worker(c, "w1", 4, 8000, 2, mb, "gpu,diffusion");
  char *t_gpu[] = {"gpu"}, *t_both[] = {"diffusion", "gpu"}, *t_other[] = {"gpu", "houdini"};
  uint64_t mask = 0;

  CHECK(dispatch_fits(w, &(jf_requires_t){.cpus = 4}, &mask));
  CHECK(!dispatch_fits(w, &(jf_requires_t){.cpus = 5}, &mask));
  CHECK(dispatch_fits(w, &(jf_requires_t){.cpus = 1, .memory_mb = 8000}, &mask));
  CHECK(!dispatch_fits(w, &(jf_requires_t){.cpus = 1, .memory_mb = 8001}, &mask));

  /* GPU count. */
  mask = 0;
  CHECK(dispatch_fits(w, &(jf_requires_t){.gpus = 2}, &mask));
  CHECK_INT(mask, 0x3);
  CHECK(!dispatch_fits(w, &(jf_requires_t){.gpus = 3}, &mask));
  mask = 0;
  CHECK(dispatch_fits(w, &(jf_requires_t){.gpus = 1}, &mask));
  CHECK_INT(popcount(mask), 1);

  /* Memory per GPU: only the big one qualifies. */
  mask = 0;
  CHECK(dispatch_fits(w, &(jf_requires_t){.gpus = 1, .gpu_memory_mb = 16000}, &mask));
  CHECK_INT(mask, 0x2);
  CHECK(dispatch_fits(w, &(jf_requires_t){.gpus = 1, .gpu_memory_mb = 24000}, &mask));
  CHECK(!dispatch_fits(w, &(jf_requires_t){.gpus = 1, .gpu_memory_mb = 24001}, &mask));
  CHECK(!dispatch_fits(w, &(jf_requires_t){.gpus = 2, .gpu_memory_mb = 16000}, &mask));
  /* The big GPU taken: the small one does not do. */
  w->gpu_busy = 0x2;
  CHECK(!dispatch_fits(w, &(jf_requires_t){.gpus = 1, .gpu_memory_mb = 16000}, &mask));
  mask = 0;
  CHECK(dispatch_fits(w, &(jf_requires_t){.gpus = 1}, &mask));
  CHECK_INT(mask, 0x1);
  CHECK(!dispatch_fits(w, &(jf_requires_t){.gpus = 2}, &mask));
  w->gpu_busy = 0;

  /* Tags: all required. */
  CHECK(dispatch_fits(w, &(jf_requires_t){.cpus = 1, .tags = t_gpu, .ntags = 1}, &mask));
  CHECK(dispatch_fits(w, &(jf_requires_t){.cpus = 1, .tags = t_both, .ntags = 2}, &mask));
  CHECK(!dispatch_fits(w, &(jf_requires_t){.cpus = 1, .tags = t_other, .ntags = 2}, &mask));
  worker_t *plain = memcoord_worker(c, "w2", 4, 8000, 0, NULL, NULL);
  CHECK(!dispatch_fits(plain, &(jf_requires_t){.cpus = 1, .tags = t_gpu, .ntags = 1}, &mask));
  CHECK(!dispatch_fits(plain, &(jf_requires_t){.gpus = 1}, &mask));

  /* Only connected, online workers take work. */
  w->state = WORKER_DRAINING;
  CHECK(!dispatch_fits(w, &(jf_requires_t){.cpus = 1}, &mask));
  w->state = WORKER_OFFLINE;
  CHECK(!dispatch_fits(w, &(jf_requires_t){.cpus = 1}, &mask));
  w->state = WORKER_ONLINE;
  w->identlen = 0;
  CHECK(!dispatch_fits(w, &(jf_requires_t){.cpus = 1}, &mask));

  /* dispatch_cpus: at least one CPU unless GPUs are asked for. */
  CHECK_INT(dispatch_cpus(&(jf_requires_t){.cpus = 0, .gpus = 0}), 1);
  CHECK_INT(dispatch_cpus(&(jf_requires_t){.cpus = 0, .gpus = 1}), 0);
  CHECK_INT(dispatch_cpus(&(jf_requires_t){.cpus = 3, .gpus = 0}), 3);
  CHECK_INT(dispatch_cpus(&(jf_requires_t){.cpus = 2, .gpus = 1}), 2);
  /* A worker with no CPU free still takes a cpus-0 GPU task, not a CPU one. */
  w->identlen = 2;
  w->cpus_free = 0;
  CHECK(dispatch_fits(w, &(jf_requires_t){.cpus = 0, .gpus = 1}, &mask));
  CHECK(!dispatch_fits(w, &(jf_requires_t){.cpus = 0, .gpus = 0}, &mask));
  memcoord_free(c);
}

/* Dispatch order is attempt id order. */
static void test_order(void) {
  coord_t *c = memcoord_new();
  memcoord_worker(c, "w1", 64, 64000, 0, NULL, NULL);
  job_t *low = memcoord_submit1(c, "low", "\"frames\":\"1-3\",\"priority\":10");
  job_t *mid1 = memcoord_submit1(c, "mid-a", "\"frames\":\"1-2\",\"priority\":50");
  job_t *mid2 = memcoord_submit1(c, "mid-b", "\"frames\":\"1-2\",\"priority\":50");
  job_t *high = memcoord_submit1(c, "high", "\"frames\":\"1-3\",\"priority\":90");
  CHECK(low->id < mid1->id && mid1->id < mid2->id && mid2->id < high->id);
  dispatch_run(c);
  /* high (submitted last) first, then mid-a, mid-b (FIFO within a
   * priority), then low; within a job in task order. */
  job_t *order[] = {high, mid1, mid2, low};
  uint64_t expect = 1;
  for (int k = 0; k < 4; k++) {
    job_t *j = order[k];
    CHECK_INT(j->counts[TASK_DISPATCHED], j->ntasks);
    CHECK_INT(j->state, JOB_RUNNING);
    for (uint32_t i = 0; i < j->ntasks; i++) {
      CHECK(j->tasks[i].live != NULL);
      if (j->tasks[i].live)
        CHECK_INT(j->tasks[i].live->id, expect);
      expect++;
    }
  }
  CHECK_INT(c->next_attempt_id, 11);
  memcoord_free(c);

  /* The same with room for only some: the best job's tasks win. */
  c = memcoord_new();
  memcoord_worker(c, "w1", 3, 64000, 0, NULL, NULL);
  low = memcoord_submit1(c, "low", "\"frames\":\"1-4\",\"priority\":10");
  high = memcoord_submit1(c, "high", "\"frames\":\"1-2\",\"priority\":90");
  dispatch_run(c);
  CHECK_INT(high->counts[TASK_DISPATCHED], 2);
  CHECK_INT(low->counts[TASK_DISPATCHED], 1);
  CHECK_INT(low->counts[TASK_READY], 3);
  CHECK(low->tasks[0].live != NULL);
  CHECK(low->tasks[1].live == NULL);
  memcoord_free(c);
}

static void test_capacity(void) {
  coord_t *c = memcoord_new();
  worker_t *w = memcoord_worker(c, "w1", 4, 10000, 0, NULL, NULL);
  job_t *j = memcoord_submit1(c, "many", "\"frames\":\"1-10\",\"requires\":{\"cpus\":1}");
  dispatch_run(c);
  CHECK_INT(w->nlive, 4);
  CHECK_INT(w->cpus_free, 0);
  CHECK_INT(j->counts[TASK_DISPATCHED], 4);
  memcoord_check_worker(w);
  dispatch_run(c); /* nothing left to give */
  CHECK_INT(w->nlive, 4);
  CHECK_INT(c->next_attempt_id, 5);
  memcoord_free(c);

  /* Bigger tasks: 4 cpus fit one 3-cpu task; memory limits too. */
  c = memcoord_new();
  w = memcoord_worker(c, "w1", 4, 10000, 0, NULL, NULL);
  j = memcoord_submit1(c, "big", "\"frames\":\"1-3\",\"requires\":{\"cpus\":3}");
  dispatch_run(c);
  CHECK_INT(w->nlive, 1);
  CHECK_INT(w->cpus_free, 1);
  CHECK_INT(j->counts[TASK_READY], 2);
  memcoord_free(c);

  c = memcoord_new();
  w = memcoord_worker(c, "w1", 16, 10000, 0, NULL, NULL);
  j = memcoord_submit1(c, "fat", "\"frames\":\"1-5\",\"requires\":{\"cpus\":1,\"memory_mb\":3000}");
  dispatch_run(c);
  CHECK_INT(w->nlive, 3);
  CHECK_INT(w->mem_free, 1000);
  memcoord_check_worker(w);
  memcoord_free(c);
}

static void test_gpus(void) {
  coord_t *c = memcoord_new();
  const uint64_t mb[] = {16000, 16000, 48000, 48000, 16000, 48000};
  worker_t *w = memcoord_worker(c, "w1", 64, 1000000, 6, mb, NULL);
  job_t *one = memcoord_submit1(c, "one", "\"takes\":6,\"requires\":{\"gpus\":1}");
  job_t *two = memcoord_submit1(c, "two", "\"takes\":4,\"requires\":{\"gpus\":2}");
  job_t *big = memcoord_submit1(c, "big", "\"takes\":4,\"requires\":{\"gpus\":1,\"gpu_memory_mb\":40000}");
  /* Rounds of dispatch and random ends; masks must stay disjoint. */
  unsigned x = 7;
  for (int round = 0; round < 40; round++) {
    dispatch_run(c);
    memcoord_check_worker(w);
    for (attempt_t *a = w->live; a; a = a->wnext)
      if (a->task->job == big)
        for (uint32_t i = 0; i < w->ngpus; i++)
          if (a->gpu_mask & (1ull << i))
            CHECK(w->gpus[i].memory_mb >= 40000);
    if (!w->live)
      break;
    /* End about half of the live attempts, successfully. */
    attempt_t *next;
    for (attempt_t *a = w->live; a; a = next) {
      next = a->wnext;
      x = x * 1103515245u + 12345u;
      if ((x >> 16) & 1)
        memcoord_end(c, a, ATTEMPT_SUCCEEDED);
    }
    memcoord_check_worker(w);
  }
  CHECK_INT(one->state, JOB_SUCCEEDED);
  CHECK_INT(two->state, JOB_SUCCEEDED);
  CHECK_INT(big->state, JOB_SUCCEEDED);
  CHECK_INT(w->gpu_busy, 0);
  CHECK_INT(w->cpus_free, 64);
  memcoord_free(c);
}

static void test_no_blocking(void) {
  coord_t *c = memcoord_new();
  worker_t *w = memcoord_worker(c, "w1", 8, 16000, 0, NULL, "linux");
  job_t *tagged = memcoord_submit1(c, "needs-houdini",
                          "\"priority\":90,\"requires\":{\"tags\":[\"houdini\"]}");
  job_t *huge = memcoord_submit1(c, "needs-32-cpus", "\"priority\":80,\"requires\":{\"cpus\":32}");
  job_t *gpu = memcoord_submit1(c, "needs-gpu", "\"priority\":70,\"requires\":{\"gpus\":1}");
  job_t *small = memcoord_submit1(c, "small", "\"priority\":10,\"frames\":\"1-2\"");
  dispatch_run(c);
  CHECK_INT(small->counts[TASK_DISPATCHED], 2);
  CHECK_INT(tagged->counts[TASK_READY], 1);
  CHECK_INT(huge->counts[TASK_READY], 1);
  CHECK_INT(gpu->counts[TASK_READY], 1);
  CHECK_INT(w->nlive, 2);
  /* They stay in the index: a worker that fits them gets them. */
  memcoord_worker(c, "w2", 64, 64000, 0, NULL, "houdini");
  dispatch_run(c);
  CHECK_INT(tagged->counts[TASK_DISPATCHED], 1);
  CHECK_INT(huge->counts[TASK_DISPATCHED], 1);
  CHECK_INT(gpu->counts[TASK_READY], 1);
  CHECK(tagged->tasks[0].live && !strcmp(tagged->tasks[0].live->worker->name, "w2"));
  memcoord_free(c);
}

static void test_round_robin(void) {
  coord_t *c = memcoord_new();
  worker_t *ws[3] = {memcoord_worker(c, "w1", 4, 16000, 0, NULL, NULL),
                     memcoord_worker(c, "w2", 4, 16000, 0, NULL, NULL),
                     memcoord_worker(c, "w3", 4, 16000, 0, NULL, NULL)};
  job_t *j = memcoord_submit1(c, "spread", "\"frames\":\"1-6\"");
  dispatch_run(c);
  for (int i = 0; i < 3; i++) {
    CHECK_INT(ws[i]->nlive, 2);
    memcoord_check_worker(ws[i]);
  }
  /* Consecutive tasks go to different workers. */
  for (uint32_t i = 1; i < j->ntasks; i++)
    CHECK(j->tasks[i].live && j->tasks[i - 1].live &&
          j->tasks[i].live->worker != j->tasks[i - 1].live->worker);
  memcoord_free(c);
}

static void test_release(void) {
  coord_t *c = memcoord_new();
  const uint64_t mb[] = {24000};
  worker_t *w = memcoord_worker(c, "w1", 2, 4000, 1, mb, NULL);
  job_t *j = memcoord_submit1(c, "three",
                     "\"frames\":\"1-3\",\"requires\":{\"cpus\":1,\"memory_mb\":2000}");
  job_t *g = memcoord_submit1(c, "gpu", "\"takes\":2,\"requires\":{\"gpus\":1,\"cpus\":0}");
  dispatch_run(c);
  CHECK_INT(w->nlive, 3); /* two CPU tasks and one GPU task */
  CHECK_INT(w->cpus_free, 0);
  CHECK_INT(w->mem_free, 0);
  CHECK_INT(w->gpu_busy, 1);
  CHECK_INT(j->counts[TASK_READY], 1);
  CHECK_INT(g->counts[TASK_READY], 1);

  attempt_t *a = j->tasks[0].live;
  c->dispatch_needed = false;
  memcoord_end(c, a, ATTEMPT_SUCCEEDED);
  CHECK(c->dispatch_needed);
  CHECK_INT(j->tasks[0].state, TASK_SUCCEEDED);
  CHECK(j->tasks[0].live == NULL);
  CHECK_INT(w->cpus_free, 1);
  CHECK_INT(w->mem_free, 2000);
  CHECK_INT(w->nlive, 2);
  dispatch_run(c);
  CHECK_INT(j->tasks[2].state, TASK_DISPATCHED);
  CHECK(j->tasks[2].live && j->tasks[2].live->worker == w);
  CHECK_INT(w->cpus_free, 0);

  memcoord_end(c, g->tasks[0].live, ATTEMPT_SUCCEEDED);
  CHECK_INT(w->gpu_busy, 0);
  dispatch_run(c);
  CHECK_INT(w->gpu_busy, 1);
  CHECK_INT(g->tasks[1].state, TASK_DISPATCHED);
  memcoord_check_worker(w);

  /* A lost attempt (not the task's fault) is requeued at once. */
  attempt_t *l = j->tasks[1].live;
  memcoord_end(c, l, ATTEMPT_LOST);
  CHECK_INT(j->tasks[1].state, TASK_READY);
  CHECK_INT(j->tasks[1].losses, 1);
  CHECK_INT(j->tasks[1].failures, 0);
  dispatch_run(c);
  CHECK_INT(j->tasks[1].state, TASK_DISPATCHED);
  memcoord_check_worker(w);
  memcoord_free(c);
}

/* Runs the loop until the task left the delayed heap, at most ms. */
static bool wait_undelayed(task_t *t, uint64_t ms) {
  uint64_t deadline = util_mono_us() + ms * 1000;
  while (t->delay_pos != HEAP_NONE && util_mono_us() < deadline)
    uv_run(memcoord_loop(), UV_RUN_ONCE);
  return t->delay_pos == HEAP_NONE;
}

static void test_backoff(void) {
  coord_t *c = memcoord_new();
  worker_t *w = memcoord_worker(c, "w1", 4, 16000, 0, NULL, NULL);
  job_t *j = memcoord_submit1(c, "flaky", "\"frames\":\"1-2\",\"retry_backoff_s\":5,\"max_attempts\":3");
  dispatch_run(c);
  CHECK_INT(w->nlive, 2);
  task_t *t0 = &j->tasks[0], *t1 = &j->tasks[1];

  uint64_t before = util_mono_us();
  memcoord_end(c, t0->live, ATTEMPT_FAILED);
  memcoord_end(c, t1->live, ATTEMPT_TIMED_OUT);
  CHECK_INT(t0->state, TASK_READY);
  CHECK_INT(t0->failures, 1);
  CHECK_INT(t1->failures, 1);
  CHECK(t0->delay_pos != HEAP_NONE);
  CHECK(t1->delay_pos != HEAP_NONE);
  CHECK(t0->not_before >= before + 5000000 && t0->not_before <= util_mono_us() + 5000000);
  CHECK(uv_is_active((uv_handle_t *)&c->delay_timer));
  CHECK_INT(w->nlive, 0);
  dispatch_run(c);
  CHECK_INT(w->nlive, 0); /* backing off: not dispatched before its time */
  CHECK_INT(j->counts[TASK_READY], 2);

  /* Its time has come (as the timer callback would say). */
  dispatch_task_ready(c, t0, 0);
  CHECK(t0->delay_pos == HEAP_NONE);
  dispatch_run(c);
  CHECK_INT(t0->state, TASK_DISPATCHED);
  CHECK_INT(t1->state, TASK_READY);
  CHECK_INT(w->nlive, 1);

  /* The timer path: due in 2 ms, the loop moves it to the ready FIFO. */
  dispatch_task_ready(c, t1, util_mono_us() + 2000);
  CHECK(t1->delay_pos != HEAP_NONE);
  CHECK(wait_undelayed(t1, 2000));
  CHECK(!uv_is_active((uv_handle_t *)&c->delay_timer));
  dispatch_run(c);
  CHECK_INT(t1->state, TASK_DISPATCHED);

  /* The second failure waits twice as long.  It is the job's third
   * failure on w1 (t0 twice, t1 once): w1 gets no more of this job, and
   * the job says why it waits. */
  before = util_mono_us();
  memcoord_end(c, t0->live, ATTEMPT_FAILED);
  CHECK_INT(t0->failures, 2);
  CHECK(t0->not_before >= before + 10000000 && t0->not_before <= util_mono_us() + 10000000);
  dispatch_task_ready(c, t0, 0);
  dispatch_run(c);
  CHECK_INT(t0->state, TASK_READY);
  CHECK(job_worker_excluded(j, w));
  CHECK_CONTAINS(j->reason, "failed it 3 times");
  /* Another worker takes it; its failure there is the task's third. */
  worker_t *w2 = memcoord_worker(c, "w2", 4, 16000, 0, NULL, NULL);
  dispatch_farm_changed(c);
  dispatch_run(c);
  CHECK_INT(t0->state, TASK_DISPATCHED);
  CHECK(t0->live && t0->live->worker == w2);
  CHECK_STR(j->reason, "");
  memcoord_end(c, t0->live, ATTEMPT_FAILED);
  CHECK_INT(t0->state, TASK_FAILED);
  CHECK(t0->delay_pos == HEAP_NONE);
  memcoord_end(c, t1->live, ATTEMPT_SUCCEEDED);
  CHECK_INT(j->state, JOB_FAILED);
  CHECK_INT(j->counts[TASK_FAILED], 1);
  CHECK_INT(j->counts[TASK_SUCCEEDED], 1);
  CHECK_INT(w->nlive, 0);
  CHECK_INT(w->cpus_free, 4);

  /* No back-off: a failed task is ready again at once. */
  job_t *k = memcoord_submit1(c, "eager", "\"retry_backoff_s\":0");
  dispatch_run(c);
  memcoord_end(c, k->tasks[0].live, ATTEMPT_FAILED);
  CHECK(k->tasks[0].delay_pos == HEAP_NONE);
  dispatch_run(c);
  CHECK_INT(k->tasks[0].state, TASK_DISPATCHED);
  memcoord_free(c);
}

/* Running attempts of jobs of episode key on w. */
static uint32_t held_by(const worker_t *w, const char *key) {
  uint32_t n = 0;
  for (const attempt_t *a = w->live; a; a = a->wnext)
    n += !strcmp(a->task->job->ep->key, key);
  return n;
}

/* Fair share: two episodes at one priority split 8 slots 4:4, with
 * weights 3:1 they split 6:2, and whenever a slot frees the split is kept
 * within one slot; a higher priority still goes first; GPUs count as the
 * dominant resource of a GPU episode. */
static void test_fair_share(void) {
  for (int weighted = 0; weighted < 2; weighted++) {
    coord_t *c = memcoord_new();
    worker_t *w = memcoord_worker(c, "w1", 8, 64000, 0, NULL, NULL);
    dispatch_farm_changed(c);
    if (weighted)
      dispatch_set_weight(c, dispatch_episode(c, "proj", "a"), 3);
    job_t *a = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"a\",\"jobs\":[{\"name\":\"x\","
                         "\"command\":[\"true\"],\"frames\":\"1-100\"}]}");
    job_t *b = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"b\",\"jobs\":[{\"name\":\"y\","
                         "\"command\":[\"true\"],\"frames\":\"1-100\"}]}");
    dispatch_run(c);
    uint32_t want_a = weighted ? 6 : 4;
    CHECK_INT(held_by(w, "proj/a"), want_a);
    CHECK_INT(held_by(w, "proj/b"), 8 - want_a);
    /* End attempts one at a time, oldest first, as results would come:
     * after each refill the split stays within one slot. */
    unsigned seed = 7;
    for (int round = 0; round < 60; round++) {
      attempt_t *victim = w->live;
      seed = seed * 1103515245u + 12345u;
      for (unsigned k = (seed >> 16) % 8; k && victim->wnext; k--)
        victim = victim->wnext;
      memcoord_end(c, victim, ATTEMPT_SUCCEEDED);
      dispatch_run(c);
      CHECK_INT(w->nlive, 8);
      int da = (int)held_by(w, "proj/a") - (int)want_a;
      if (da < -1 || da > 1) {
        CHECK(!"split left the weights by more than one slot");
        break;
      }
    }
    /* A higher priority outranks every share. */
    job_t *urgent = memcoord_submit1(c, "urgent", "\"priority\":90");
    memcoord_end(c, w->live, ATTEMPT_SUCCEEDED);
    dispatch_run(c);
    CHECK_INT(urgent->counts[TASK_DISPATCHED], 1);
    (void)a;
    (void)b;
    memcoord_free(c);
  }

  /* GPU episodes: the dominant share is their GPU share. */
  coord_t *c = memcoord_new();
  const uint64_t mb[] = {24000, 24000, 24000, 24000};
  worker_t *w = memcoord_worker(c, "g1", 64, 256000, 4, mb, NULL);
  dispatch_farm_changed(c);
  memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"gpu\",\"jobs\":[{\"name\":\"g\","
            "\"command\":[\"true\"],\"frames\":\"1-20\",\"requires\":{\"gpus\":1,\"cpus\":1}}]}");
  memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"cpu\",\"jobs\":[{\"name\":\"c\","
            "\"command\":[\"true\"],\"frames\":\"1-100\",\"requires\":{\"cpus\":4}}]}");
  dispatch_run(c);
  episode_t *eg = dispatch_episode(c, "proj", "gpu"), *ec = dispatch_episode(c, "proj", "cpu");
  CHECK_INT(eg->held_gpus, 4);
  CHECK_INT(ec->held_cpus, 60); /* the CPUs left: 64 - 4 */
  CHECK(eg->share > 0.99 && ec->share > 0.9);
  CHECK_INT(held_by(w, "proj/gpu") + held_by(w, "proj/cpu"), w->nlive);
  memcoord_free(c);
}

/* A job whose only capable worker is degraded or lost has no worker that
 * can run it: its reason says so (STATES_STRANDED) whether or not some
 * other worker has room; one offline (not back after a restart) may
 * still come; once the worker is online again the job runs. */
static void test_stranded(void) {
  coord_t *c = memcoord_new();
  worker_t *w1 = memcoord_worker(c, "w1", 4, 16000, 0, NULL, "disk");
  job_t *j = memcoord_submit1(c, "needs-disk", "\"frames\":\"1-2\",\"requires\":{\"tags\":[\"disk\"]}");
  w1->degraded = xstrdup("disk full: 0 bytes free");
  worker_set_state(c, w1, WORKER_DEGRADED, w1->degraded);
  dispatch_run(c); /* no room anywhere: the jobs are still looked at */
  CHECK_INT(j->counts[TASK_READY], 2);
  CHECK_INT(w1->nlive, 0);
  CHECK(!strncmp(j->reason, STATES_STRANDED ": ", strlen(STATES_STRANDED) + 2));
  CHECK_STR(j->reason, "no worker can run it: w1 is degraded (disk full: 0 bytes free)");
  /* Another worker with room that cannot run it changes nothing. */
  worker_t *w2 = memcoord_worker(c, "w2", 4, 16000, 0, NULL, NULL);
  dispatch_farm_changed(c);
  dispatch_run(c);
  CHECK_INT(w2->nlive, 0);
  CHECK_STR(j->reason, "no worker can run it: w1 is degraded (disk full: 0 bytes free)");
  /* Lost: still none. */
  worker_set_state(c, w1, WORKER_LOST, "no heartbeat");
  dispatch_run(c);
  CHECK_STR(j->reason, "no worker can run it: w1 is lost");
  /* Offline (the coordinator restarted, it may come back): it waits. */
  worker_set_state(c, w1, WORKER_OFFLINE, "the coordinator restarted");
  dispatch_run(c);
  CHECK(strncmp(j->reason, STATES_STRANDED, strlen(STATES_STRANDED)) != 0);
  CHECK_CONTAINS(j->reason, "no connected worker has");
  /* Once the reconnect grace is over, an offline worker counts as gone. */
  c->grace_over = true;
  dispatch_farm_changed(c);
  dispatch_run(c);
  CHECK_STR(j->reason,
            "no worker can run it: w1 is offline (not back since the coordinator started)");
  /* Healthy and online again: it runs. */
  free(w1->degraded);
  w1->degraded = NULL;
  worker_set_state(c, w1, WORKER_ONLINE, "hello");
  dispatch_run(c);
  CHECK_INT(j->counts[TASK_DISPATCHED], 2);
  CHECK_STR(j->reason, "");
  memcoord_check_worker(w1);
  memcoord_free(c);
}

/* Licence limits: never more live attempts of the jobs requiring a limit
 * than its count, over every worker; a full limit blocks only the jobs
 * requiring it, and its reason names it; lowered below what is in use,
 * nothing starts until enough ended; undefined, nothing starts. */
static void test_limits(void) {
  coord_t *c = memcoord_new();
  worker_t *w1 = memcoord_worker(c, "w1", 8, 16000, 0, NULL, NULL);
  worker_t *w2 = memcoord_worker(c, "w2", 8, 16000, 0, NULL, NULL);
  limit_t *lic = limit_define(c, "lic", 3);
  job_t *a = memcoord_submit1(c, "a", "\"frames\":\"1-10\",\"requires\":{\"limits\":[\"lic\"]}");
  job_t *b = memcoord_submit1(c, "b", "\"frames\":\"1-2\",\"requires\":{\"limits\":[\"lic\"]}");
  job_t *free_job = memcoord_submit1(c, "free", "\"frames\":\"1-4\"");
  dispatch_run(c);
  CHECK_INT(a->counts[TASK_DISPATCHED], 3);
  CHECK_INT(b->counts[TASK_DISPATCHED], 0);
  CHECK_INT(free_job->counts[TASK_DISPATCHED], 4); /* not held back by the limit */
  CHECK_INT(lic->in_use, 3);
  CHECK(w1->nlive > 0 && w2->nlive > 0);
  CHECK_STR(a->reason, "waiting for licence lic (3/3 in use)");
  CHECK_STR(b->reason, "waiting for licence lic (3/3 in use)");
  /* One ends: exactly one more starts. */
  memcoord_end(c, a->tasks[0].live, ATTEMPT_SUCCEEDED);
  CHECK_INT(lic->in_use, 2);
  dispatch_run(c);
  CHECK_INT(lic->in_use, 3);
  CHECK_INT(a->counts[TASK_DISPATCHED] + b->counts[TASK_DISPATCHED], 3);
  /* Lowered below what is in use: the live ones stay, none starts until
   * fewer than 1 hold it. */
  limit_define(c, "lic", 1);
  dispatch_run(c);
  CHECK_INT(lic->in_use, 3);
  CHECK_STR(a->reason, "waiting for licence lic (3/1 in use)");
  for (int ended = 0; ended < 2; ended++) {
    for (uint32_t i = 0; i < a->ntasks; i++)
      if (a->tasks[i].live) {
        memcoord_end(c, a->tasks[i].live, ATTEMPT_SUCCEEDED);
        break;
      }
    dispatch_run(c);
  }
  CHECK_INT(lic->in_use, 1);
  CHECK_INT(a->counts[TASK_DISPATCHED] + b->counts[TASK_DISPATCHED], 1);
  /* Raised: as many more start as it allows, across both workers. */
  limit_define(c, "lic", 5);
  dispatch_run(c);
  CHECK_INT(lic->in_use, 5);
  CHECK_INT(a->counts[TASK_DISPATCHED] + b->counts[TASK_DISPATCHED], 5);
  /* A job requiring two limits waits for the one that is full. */
  limit_t *karma = limit_define(c, "karma", 0);
  job_t *both = memcoord_submit1(c, "both", "\"requires\":{\"limits\":[\"lic\",\"karma\"]}");
  limit_define(c, "lic", 100);
  dispatch_run(c);
  CHECK_INT(both->counts[TASK_READY], 1);
  CHECK_STR(both->reason, "waiting for licence karma (0/0 in use)");
  limit_define(c, "karma", 1);
  dispatch_run(c);
  CHECK_INT(both->counts[TASK_DISPATCHED], 1);
  CHECK_INT(karma->in_use, 1);
  /* Lost and failed attempts give their unit back too. */
  uint32_t before = lic->in_use;
  memcoord_end(c, both->tasks[0].live, ATTEMPT_LOST);
  CHECK_INT(lic->in_use, before - 1);
  CHECK_INT(karma->in_use, 0);
  memcoord_check_worker(w1);
  memcoord_check_worker(w2);
  memcoord_free(c);
}

/* Pools: a job targeting a pool runs only on its members, by name or by
 * tag; with every member busy its reason names the pool. */
static void test_pools(void) {
  coord_t *c = memcoord_new();
  worker_t *w1 = memcoord_worker(c, "w1", 2, 16000, 0, NULL, NULL);
  worker_t *w2 = memcoord_worker(c, "w2", 2, 16000, 0, NULL, NULL);
  worker_t *w3 = memcoord_worker(c, "w3", 2, 16000, 0, NULL, "fast");
  char *names[] = {"w2"}, *tags[] = {"fast"};
  pool_t *one = limit_define_pool(c, "one", NULL, 0, names, 1);
  limit_define_pool(c, "quick", tags, 1, NULL, 0);
  CHECK(!limit_in_pool(one, w1) && limit_in_pool(one, w2) && !limit_in_pool(one, w3));
  CHECK(limit_in_pool(NULL, w1));
  job_t *p = memcoord_submit1(c, "p", "\"frames\":\"1-4\",\"requires\":{\"pool\":\"one\"}");
  job_t *q = memcoord_submit1(c, "q", "\"frames\":\"1-3\",\"requires\":{\"pool\":\"quick\"}");
  dispatch_run(c);
  CHECK_INT(p->counts[TASK_DISPATCHED], 2);
  CHECK_INT(q->counts[TASK_DISPATCHED], 2);
  CHECK_INT(w1->nlive, 0);
  CHECK_INT(w2->nlive, 2);
  CHECK_INT(w3->nlive, 2);
  CHECK_STR(p->reason, "waiting for a free worker in pool one");
  CHECK_STR(q->reason, "waiting for a free worker in pool quick");
  /* A pool with no member that could run it: the reason says so. */
  limit_define_pool(c, "empty", tags, 0, names, 0);
  job_t *e = memcoord_submit1(c, "e", "\"requires\":{\"pool\":\"empty\"}");
  dispatch_run(c);
  CHECK_INT(e->counts[TASK_READY], 1);
  CHECK_STR(e->reason, "no connected worker in pool empty has 1 CPUs");
  json_t *pools = limit_worker_pools(c, w3);
  CHECK_INT(json_array_size(pools), 1);
  CHECK_STR(json_string_value(json_array_get(pools, 0)), "quick");
  json_decref(pools);
  memcoord_free(c);
}

int main(void) {
  log_init("test_dispatch", LOG_LVL_WARN);
  test_fits();
  test_order();
  test_capacity();
  test_gpus();
  test_no_blocking();
  test_round_robin();
  test_release();
  test_backoff();
  test_fair_share();
  test_stranded();
  test_limits();
  test_pools();
  CHECK_INT(uv_loop_close(memcoord_loop()), 0);
  return check_report("test_dispatch");
}
