/*
 * test_states.c - state names parse back to their states, unknown names are
 * refused, and the transition tables of jobs, tasks and attempts equal the
 * list of allowed transitions written out below, pair by pair: every transition
 * not listed must be refused.  Also the terminal and live predicates.
 */
#include <stdbool.h>

#include "check.h"
#include "log.h"
#include "states.h"
#include "util.h"

/* The allowed transitions, "from>to".  Anything else is refused. */
static const char *const job_allowed[] = {
    "waiting>queued",   "waiting>canceled",  "waiting>paused",   "waiting>held",
    "queued>running",   "queued>paused",     "queued>held",      "queued>canceled",
    "queued>waiting",   "running>succeeded", "running>failed",   "running>canceled",
    "running>paused",   "running>held",      "paused>queued",    "paused>running",
    "paused>canceled",  "paused>succeeded",  "paused>failed",    "paused>waiting",
    "held>waiting",     "held>queued",
    "held>running",     "held>canceled",     "held>paused",      "held>succeeded",
    "held>failed",
    "failed>running", /* operator retry */
    "failed>canceled",
    "canceled>waiting", /* revived with the failed dependency it was canceled for */
};

static const char *const task_allowed[] = {
    "waiting>ready",       "waiting>canceled",    "waiting>held",     "waiting>paused",
    "ready>dispatched",    "ready>held",          "ready>paused",     "ready>canceled",
    "ready>waiting",       "dispatched>running",
    "dispatched>succeeded", /* a fast result before Started */
    "dispatched>failed",   "dispatched>ready", /* lost: requeued */
    "dispatched>canceled", "running>succeeded",   "running>failed",   "running>ready",
    "running>canceled",
    "dispatched>paused",   "running>paused", /* requeued while its job is paused */
    "dispatched>held",     "running>held",   /* ... or held over budget */
    "failed>ready", /* operator retry */
    "failed>paused",       "failed>held",
    "failed>canceled",     "held>ready",          "held>canceled",    "held>paused",
    "paused>ready",        "paused>canceled",     "paused>held",
    "canceled>waiting", /* its job revived */
};

static const char *const attempt_allowed[] = {
    "dispatched>running",  "dispatched>succeeded", "dispatched>failed",
    "dispatched>timed_out", "dispatched>lost",     "dispatched>canceled",
    "running>succeeded",   "running>failed",       "running>timed_out",
    "running>lost",        "running>canceled",
};

static bool listed(const char *const *list, size_t n, const char *from, const char *to) {
  char pair[64];
  snprintf(pair, sizeof pair, "%s>%s", from, to);
  for (size_t i = 0; i < n; i++)
    if (!strcmp(list[i], pair))
      return true;
  return false;
}

/* Every pair of the list names real states (so a typo cannot hide a row). */
static void check_list_names(const char *const *list, size_t n, int (*parse)(const char *)) {
  for (size_t i = 0; i < n; i++) {
    char from[32], to[32];
    const char *gt = strchr(list[i], '>');
    CHECK(gt != NULL);
    if (!gt)
      continue;
    snprintf(from, sizeof from, "%.*s", (int)(gt - list[i]), list[i]);
    snprintf(to, sizeof to, "%s", gt + 1);
    CHECK(parse(from) >= 0);
    CHECK(parse(to) >= 0);
  }
}

static void test_names(void) {
  const char *jobs[] = {"waiting", "queued",    "running", "paused",
                        "held",    "succeeded", "failed",  "canceled"};
  CHECK_INT(ARRAY_SIZE(jobs), JOB_STATE_COUNT);
  for (int s = 0; s < JOB_STATE_COUNT; s++) {
    CHECK_STR(job_state_name((job_state_t)s), jobs[s]);
    CHECK_INT(job_state_parse(job_state_name((job_state_t)s)), s);
  }
  const char *tasks[] = {"waiting", "ready",    "dispatched", "running", "succeeded",
                         "failed",  "canceled", "held",       "paused"};
  CHECK_INT(ARRAY_SIZE(tasks), TASK_STATE_COUNT);
  for (int s = 0; s < TASK_STATE_COUNT; s++) {
    CHECK_STR(task_state_name((task_state_t)s), tasks[s]);
    CHECK_INT(task_state_parse(task_state_name((task_state_t)s)), s);
  }
  const char *attempts[] = {"dispatched", "running", "succeeded", "failed",
                            "timed_out",  "lost",    "canceled"};
  CHECK_INT(ARRAY_SIZE(attempts), ATTEMPT_STATE_COUNT);
  for (int s = 0; s < ATTEMPT_STATE_COUNT; s++) {
    CHECK_STR(attempt_state_name((attempt_state_t)s), attempts[s]);
    CHECK_INT(attempt_state_parse(attempt_state_name((attempt_state_t)s)), s);
  }

  /* Out-of-range values have a printable name rather than crashing. */
  CHECK_STR(job_state_name(JOB_STATE_COUNT), "?");
  CHECK_STR(task_state_name((task_state_t)-1), "?");
  CHECK_STR(attempt_state_name(ATTEMPT_STATE_COUNT), "?");

  /* Unknown names: case, whitespace, prefixes, names of another entity. */
  const char *bad[] = {"", "READY", "Ready", "ready ", " ready", "read", "readyx",
                       "timed-out", "timedout", "?", "unknown"};
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    CHECK_INT(job_state_parse(bad[i]), -1);
    CHECK_INT(task_state_parse(bad[i]), -1);
    CHECK_INT(attempt_state_parse(bad[i]), -1);
  }
  CHECK_INT(job_state_parse("ready"), -1);       /* a task state only */
  CHECK_INT(job_state_parse("dispatched"), -1);  /* task and attempt only */
  CHECK_INT(task_state_parse("queued"), -1);     /* a job state only */
  CHECK_INT(task_state_parse("lost"), -1);       /* an attempt state only */
  CHECK_INT(attempt_state_parse("ready"), -1);
  CHECK_INT(attempt_state_parse("held"), -1);
  CHECK_INT(attempt_state_parse("timed_out"), ATTEMPT_TIMED_OUT);
}

static void test_job_matrix(void) {
  check_list_names(job_allowed, ARRAY_SIZE(job_allowed), job_state_parse);
  int n_allowed = 0;
  for (int f = 0; f < JOB_STATE_COUNT; f++)
    for (int t = 0; t < JOB_STATE_COUNT; t++) {
      bool want = listed(job_allowed, ARRAY_SIZE(job_allowed),
                         job_state_name((job_state_t)f), job_state_name((job_state_t)t));
      bool got = job_state_allowed((job_state_t)f, (job_state_t)t);
      n_allowed += got;
      if (got != want)
        fprintf(stderr, "job %s -> %s: allowed %d, expected %d\n",
                job_state_name((job_state_t)f), job_state_name((job_state_t)t), got, want);
      CHECK(got == want);
    }
  CHECK_INT(n_allowed, ARRAY_SIZE(job_allowed));
  /* No state moves to itself, and out-of-range states are refused. */
  for (int s = 0; s < JOB_STATE_COUNT; s++)
    CHECK(!job_state_allowed((job_state_t)s, (job_state_t)s));
  CHECK(!job_state_allowed(JOB_STATE_COUNT, JOB_QUEUED));
  CHECK(!job_state_allowed(JOB_WAITING, JOB_STATE_COUNT));
  CHECK(!job_state_allowed((job_state_t)-1, JOB_QUEUED));
  CHECK(!job_state_allowed(JOB_WAITING, (job_state_t)31));
}

static void test_task_matrix(void) {
  check_list_names(task_allowed, ARRAY_SIZE(task_allowed), task_state_parse);
  int n_allowed = 0;
  for (int f = 0; f < TASK_STATE_COUNT; f++)
    for (int t = 0; t < TASK_STATE_COUNT; t++) {
      bool want = listed(task_allowed, ARRAY_SIZE(task_allowed),
                         task_state_name((task_state_t)f), task_state_name((task_state_t)t));
      bool got = task_state_allowed((task_state_t)f, (task_state_t)t);
      n_allowed += got;
      if (got != want)
        fprintf(stderr, "task %s -> %s: allowed %d, expected %d\n",
                task_state_name((task_state_t)f), task_state_name((task_state_t)t), got, want);
      CHECK(got == want);
    }
  CHECK_INT(n_allowed, ARRAY_SIZE(task_allowed));

  /* The cases the coordinator relies on, spelled out. */
  CHECK(task_state_allowed(TASK_READY, TASK_DISPATCHED));
  CHECK(task_state_allowed(TASK_DISPATCHED, TASK_SUCCEEDED));
  CHECK(task_state_allowed(TASK_FAILED, TASK_READY));
  CHECK(!task_state_allowed(TASK_SUCCEEDED, TASK_READY));
  CHECK(!task_state_allowed(TASK_READY, TASK_RUNNING)); /* never without an attempt */
  CHECK(!task_state_allowed(TASK_CANCELED, TASK_READY));
  CHECK(task_state_allowed(TASK_CANCELED, TASK_WAITING)); /* only through a revived job */
  for (int t = 0; t < TASK_STATE_COUNT; t++) {
    CHECK(!task_state_allowed(TASK_SUCCEEDED, (task_state_t)t));
    CHECK(t == TASK_WAITING || !task_state_allowed(TASK_CANCELED, (task_state_t)t));
    CHECK(!task_state_allowed((task_state_t)t, (task_state_t)t));
  }
  CHECK(!task_state_allowed(TASK_STATE_COUNT, TASK_READY));
  CHECK(!task_state_allowed(TASK_READY, TASK_STATE_COUNT));
  CHECK(!task_state_allowed((task_state_t)-1, TASK_READY));
}

static void test_attempt_matrix(void) {
  check_list_names(attempt_allowed, ARRAY_SIZE(attempt_allowed), attempt_state_parse);
  int n_allowed = 0;
  for (int f = 0; f < ATTEMPT_STATE_COUNT; f++)
    for (int t = 0; t < ATTEMPT_STATE_COUNT; t++) {
      bool want = listed(attempt_allowed, ARRAY_SIZE(attempt_allowed),
                         attempt_state_name((attempt_state_t)f),
                         attempt_state_name((attempt_state_t)t));
      bool got = attempt_state_allowed((attempt_state_t)f, (attempt_state_t)t);
      n_allowed += got;
      if (got != want)
        fprintf(stderr, "attempt %s -> %s: allowed %d, expected %d\n",
                attempt_state_name((attempt_state_t)f), attempt_state_name((attempt_state_t)t),
                got, want);
      CHECK(got == want);
    }
  CHECK_INT(n_allowed, ARRAY_SIZE(attempt_allowed));

  /* A finished attempt never changes again; only live ones move. */
  for (int f = 0; f < ATTEMPT_STATE_COUNT; f++) {
    bool any = false;
    for (int t = 0; t < ATTEMPT_STATE_COUNT; t++)
      any |= attempt_state_allowed((attempt_state_t)f, (attempt_state_t)t);
    CHECK(any == attempt_state_live((attempt_state_t)f));
  }
  CHECK(!attempt_state_allowed(ATTEMPT_RUNNING, ATTEMPT_DISPATCHED));
  CHECK(!attempt_state_allowed(ATTEMPT_LOST, ATTEMPT_RUNNING));
  CHECK(!attempt_state_allowed(ATTEMPT_STATE_COUNT, ATTEMPT_RUNNING));
  CHECK(!attempt_state_allowed(ATTEMPT_DISPATCHED, ATTEMPT_STATE_COUNT));
}

static void test_predicates(void) {
  for (int s = 0; s < JOB_STATE_COUNT; s++)
    CHECK(job_state_terminal((job_state_t)s) ==
          (s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELED));
  for (int s = 0; s < TASK_STATE_COUNT; s++)
    CHECK(task_state_terminal((task_state_t)s) ==
          (s == TASK_SUCCEEDED || s == TASK_FAILED || s == TASK_CANCELED));
  for (int s = 0; s < ATTEMPT_STATE_COUNT; s++)
    CHECK(attempt_state_live((attempt_state_t)s) ==
          (s == ATTEMPT_DISPATCHED || s == ATTEMPT_RUNNING));
  /* Terminal jobs and tasks leave only through an operator retry of a
   * failure, and canceled ones only to wait again when revived with it. */
  for (int f = 0; f < JOB_STATE_COUNT; f++)
    for (int t = 0; t < JOB_STATE_COUNT; t++)
      if (job_state_terminal((job_state_t)f) && f != JOB_FAILED &&
          !(f == JOB_CANCELED && t == JOB_WAITING))
        CHECK(!job_state_allowed((job_state_t)f, (job_state_t)t));
  for (int f = 0; f < TASK_STATE_COUNT; f++)
    for (int t = 0; t < TASK_STATE_COUNT; t++)
      if (task_state_terminal((task_state_t)f) && f != TASK_FAILED &&
          !(f == TASK_CANCELED && t == TASK_WAITING))
        CHECK(!task_state_allowed((task_state_t)f, (task_state_t)t));
}

/* state_step: what the transition functions start with, for every pair of
 * every kind, agrees with the tables. */
static void test_step(void) {
  log_init("test_states", -1); /* refusals are logged as errors */
  for (int from = 0; from < JOB_STATE_COUNT; from++)
    for (int to = 0; to < JOB_STATE_COUNT; to++)
      CHECK_INT(state_step(STATE_JOB, 1, from, to),
                from == to ? 0 : job_state_allowed((job_state_t)from, (job_state_t)to) ? 1 : -1);
  for (int from = 0; from < TASK_STATE_COUNT; from++)
    for (int to = 0; to < TASK_STATE_COUNT; to++)
      CHECK_INT(state_step(STATE_TASK, 2, from, to),
                from == to ? 0 : task_state_allowed((task_state_t)from, (task_state_t)to) ? 1 : -1);
  for (int from = 0; from < ATTEMPT_STATE_COUNT; from++)
    for (int to = 0; to < ATTEMPT_STATE_COUNT; to++)
      CHECK_INT(state_step(STATE_ATTEMPT, 3, from, to),
                from == to ? 0
                : attempt_state_allowed((attempt_state_t)from, (attempt_state_t)to) ? 1
                                                                                    : -1);
  CHECK_INT(state_step(STATE_JOB, 4, JOB_SUCCEEDED, JOB_RUNNING), -1);
  CHECK_INT(state_step(STATE_TASK, 5, TASK_READY, TASK_DISPATCHED), 1);
  CHECK_INT(state_step(STATE_ATTEMPT, 6, ATTEMPT_LOST, ATTEMPT_RUNNING), -1);
  CHECK_STR(worker_state_name(WORKER_DRAINING), "draining");
  CHECK_STR(worker_state_name(WORKER_STATE_COUNT), "?");
}

int main(void) {
  test_names();
  test_step();
  test_job_matrix();
  test_task_matrix();
  test_attempt_matrix();
  test_predicates();
  return check_report("states");
}
