/*
 * test_metrics.c - the Prometheus exposition writer and what metrics_render
 * makes of a coordinator's memory, without a database or a server.
 *
 * Covered: label values escape backslash, double quote and newline (and
 * nothing else: an episode name, UTF-8 text); HELP text escapes backslash
 * and newline; a histogram's buckets are cumulative, a value equal to a
 * bound counts in that bound's bucket, one above the last only in +Inf,
 * which equals _count, and _sum is in seconds; the database's rows are
 * added by kind and state name (unknown ones refused), and the read's SQL
 * sums every task state; a task is stamped when it enters the ready index
 * (the start of its dispatch latency); a render of a
 * coordinator with a GPU worker, a dispatched job with ready tasks left
 * and a budget shows queue depth per episode and priority, workers by
 * state, GPUs total and busy per model, spent and remaining budget in
 * currency units with the currency as a label, results by outcome, the
 * dispatch latency of an Assign, HTTP requests by status; jobs and tasks
 * are left out (clapper_metrics_db_ok 0) when the read failed; and every
 * sample line of a render belongs to a family announced once by HELP and
 * TYPE before it, and promtool (when installed) accepts it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dispatch.h"
#include "memcoord.h"
#include "metrics.h"
#include "model.h"

static char *take(sbuf_t *b) { return sbuf_steal(b); }

static void test_escaping(void) {
  sbuf_t b = {0};
  const char *l[] = {"episode", "a\\b\"c\nd", "plain", "x/y é", NULL};
  metrics_sample(&b, "m", l, "1");
  char *s = take(&b);
  CHECK_STR(s, "m{episode=\"a\\\\b\\\"c\\nd\",plain=\"x/y é\"} 1\n");
  free(s);

  metrics_sample_u64(&b, "bare", NULL, 42);
  s = take(&b);
  CHECK_STR(s, "bare 42\n");
  free(s);

  metrics_family(&b, "m", "gauge", "a \\ b\nc \"q\"");
  s = take(&b);
  CHECK_STR(s, "# HELP m a \\\\ b\\nc \"q\"\n# TYPE m gauge\n");
  free(s);
}

static const metrics_bound_t BOUNDS[] = {{1000, "0.001"}, {500000, "0.5"}, {2000000, "2"}};

static void test_histogram(void) {
  metrics_hist_t h = {.bounds = BOUNDS, .nbounds = 3};
  metrics_hist_observe(&h, 0);       /* first bucket */
  metrics_hist_observe(&h, 1000);    /* equal to the bound: still the first */
  metrics_hist_observe(&h, 1001);    /* second */
  metrics_hist_observe(&h, 2000000); /* third */
  metrics_hist_observe(&h, 7500000); /* +Inf only */
  CHECK_INT(h.count, 5);
  CHECK_INT(h.counts[0], 2);
  CHECK_INT(h.counts[1], 1);
  CHECK_INT(h.counts[2], 1);
  CHECK_INT(h.counts[3], 1);
  sbuf_t b = {0};
  const char *l[] = {"k", "v", NULL};
  metrics_hist_write(&b, "lat_seconds", l, &h);
  char *s = take(&b);
  CHECK_STR(s, "lat_seconds_bucket{k=\"v\",le=\"0.001\"} 2\n"
               "lat_seconds_bucket{k=\"v\",le=\"0.5\"} 3\n"
               "lat_seconds_bucket{k=\"v\",le=\"2\"} 4\n"
               "lat_seconds_bucket{k=\"v\",le=\"+Inf\"} 5\n"
               "lat_seconds_sum{k=\"v\"} 9.502001\n"
               "lat_seconds_count{k=\"v\"} 5\n");
  free(s);

  metrics_hist_t e = {.bounds = BOUNDS, .nbounds = 3};
  metrics_hist_write(&b, "e", NULL, &e);
  s = take(&b);
  CHECK_STR(s, "e_bucket{le=\"0.001\"} 0\ne_bucket{le=\"0.5\"} 0\ne_bucket{le=\"2\"} 0\n"
               "e_bucket{le=\"+Inf\"} 0\ne_sum 0.000000\ne_count 0\n");
  free(s);
}

static void test_counts(void) {
  metrics_counts_t m = {0};
  CHECK_INT(metrics_counts_add(&m, "job", "succeeded", 3), 0);
  CHECK_INT(metrics_counts_add(&m, "job", "failed", 1), 0);
  CHECK_INT(metrics_counts_add(&m, "task", "ready", 7), 0);
  CHECK_INT(metrics_counts_add(&m, "task", "ready", 2), 0);
  CHECK_INT(metrics_counts_add(&m, "task", "bogus", 2), -1);
  CHECK_INT(metrics_counts_add(&m, "worker", "online", 2), -1);
  CHECK_INT(m.jobs[JOB_SUCCEEDED], 3);
  CHECK_INT(m.jobs[JOB_FAILED], 1);
  CHECK_INT(m.tasks[TASK_READY], 9);
  /* The read sums every task state (a state added later must be added
   * there too). */
  for (int i = 0; i < TASK_STATE_COUNT; i++) {
    char want[64];
    snprintf(want, sizeof want, "->>'%s')::bigint), 0) AS %s", task_state_name((task_state_t)i),
             task_state_name((task_state_t)i));
    CHECK_CONTAINS(METRICS_SQL_COUNTS, want);
  }
}

/* The line of s that starts with prefix (up to its end), or "" (static). */
static const char *line_of(const char *s, const char *prefix) {
  static char buf[512];
  buf[0] = 0;
  for (const char *p = s; p && *p;) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (!strncmp(p, prefix, strlen(prefix)) && n < sizeof buf) {
      memcpy(buf, p, n);
      buf[n] = 0;
      return buf;
    }
    p = e ? e + 1 : NULL;
  }
  return buf;
}

/* Every sample's family was announced (HELP then TYPE) before it, and no
 * family twice. */
static void check_structure(const char *s) {
  char fams[128][96];
  size_t nf = 0;
  char *copy = xstrdup(s), *save = NULL;
  for (char *ln = strtok_r(copy, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
    char name[96];
    if (!strncmp(ln, "# HELP ", 7)) {
      CHECK(sscanf(ln + 7, "%95s", name) == 1);
      for (size_t i = 0; i < nf; i++)
        CHECK(strcmp(fams[i], name) != 0);
      CHECK(nf < 128);
      if (nf < 128)
        snprintf(fams[nf++], sizeof fams[0], "%s", name);
      continue;
    }
    if (!strncmp(ln, "# TYPE ", 7)) {
      CHECK(sscanf(ln + 7, "%95s", name) == 1);
      CHECK(nf && !strcmp(fams[nf - 1], name));
      continue;
    }
    size_t n = strcspn(ln, "{ ");
    CHECK(n > 0 && n < sizeof name);
    memcpy(name, ln, n);
    name[n] = 0;
    bool found = false;
    for (size_t i = 0; i < nf && !found; i++) {
      size_t k = strlen(fams[i]);
      found =
          !strcmp(fams[i], name) || (!strncmp(name, fams[i], k) &&
                                     (!strcmp(name + k, "_bucket") || !strcmp(name + k, "_sum") ||
                                      !strcmp(name + k, "_count")));
    }
    if (!found)
      fprintf(stderr, "sample of no family: %s\n", ln);
    CHECK(found);
    CHECK(strchr(ln, ' ') != NULL); /* a value */
  }
  free(copy);
}

/* promtool check metrics on s, when promtool is installed (scripts/
 * install-deps test installs it; the integration test needs it). */
static void check_promtool(const char *s) {
  if (system("command -v promtool >/dev/null 2>&1") != 0) {
    fprintf(stderr, "test_metrics: promtool not installed, its check skipped here\n");
    return;
  }
  FILE *p = popen("promtool check metrics >&2", "w");
  CHECK(p != NULL);
  if (!p)
    return;
  fputs(s, p);
  CHECK_INT(pclose(p), 0);
}

static void test_render(void) {
  coord_t *c = memcoord_new();
  const uint64_t mb[] = {24000, 24000};
  worker_t *w = memcoord_worker(c, "w1", 8, 64000, 2, mb, NULL);
  worker_t *off = memcoord_worker(c, "w2", 8, 64000, 2, mb, NULL);
  off->state = WORKER_LOST; /* its GPUs do not count */
  job_t *j = memcoord_submit1(c, "gpu",
                              "\"frames\":\"1-3\",\"priority\":70,"
                              "\"requires\":{\"gpus\":1,\"cpus\":1}");
  (void)w;
  dispatch_run(c);
  /* Both GPUs of w1 are held, the third task waits. */
  CHECK(j->tasks[0].live && j->tasks[1].live && !j->tasks[2].live);
  /* Each task was stamped when it entered the ready index (the start of
   * its dispatch latency). */
  for (int i = 0; i < 3; i++)
    CHECK(j->tasks[i].not_before > 0 && j->tasks[i].not_before <= util_mono_us());
  j->ep->budget_micros = 5000000;
  j->ep->spent_micros = 1250000;

  /* An Assign sent 2 s after its task became ready. */
  attempt_t *a = j->tasks[0].live;
  a->task->not_before = util_mono_us() - 2000000;
  metrics_observe_assign(c, a);
  metrics_observe_result(c, ATTEMPT_SUCCEEDED);
  metrics_observe_result(c, ATTEMPT_FAILED);
  metrics_observe_result(c, ATTEMPT_FAILED);
  metrics_observe_result(c, -1);
  metrics_observe_http(c, 200);
  metrics_observe_http(c, 200);
  metrics_observe_http(c, 401);

  metrics_counts_t db = {.ok = true};
  CHECK_INT(metrics_counts_add(&db, "job", "running", 1), 0);
  CHECK_INT(metrics_counts_add(&db, "task", "dispatched", 2), 0);
  char *s = metrics_render(c, &db, util_wall_us());
  check_structure(s);
  check_promtool(s);
  CHECK_STR(line_of(s, "clapper_up"), "clapper_up 1");
  CHECK_STR(line_of(s, "clapper_metrics_db_ok"), "clapper_metrics_db_ok 1");
  CHECK_STR(line_of(s, "clapper_jobs{state=\"running\"}"), "clapper_jobs{state=\"running\"} 1");
  CHECK_STR(line_of(s, "clapper_jobs{state=\"failed\"}"), "clapper_jobs{state=\"failed\"} 0");
  CHECK_STR(line_of(s, "clapper_tasks{state=\"dispatched\"}"),
            "clapper_tasks{state=\"dispatched\"} 2");
  CHECK_STR(line_of(s, "clapper_queue_depth{"),
            "clapper_queue_depth{episode=\"proj/ep1\",priority=\"70\"} 1");
  CHECK_STR(line_of(s, "clapper_workers{state=\"online\"}"), "clapper_workers{state=\"online\"} 1");
  CHECK_STR(line_of(s, "clapper_workers{state=\"lost\"}"), "clapper_workers{state=\"lost\"} 1");
  CHECK_STR(line_of(s, "clapper_gpus{"), "clapper_gpus{model=\"Test GPU\"} 2");
  CHECK_STR(line_of(s, "clapper_gpus_busy{"), "clapper_gpus_busy{model=\"Test GPU\"} 2");
  CHECK_STR(line_of(s, "clapper_episode_spent{"),
            "clapper_episode_spent{episode=\"proj/ep1\",currency=\"USD\"} 1.250000");
  CHECK_STR(line_of(s, "clapper_episode_budget{"),
            "clapper_episode_budget{episode=\"proj/ep1\",currency=\"USD\"} 5.000000");
  /* Nothing runs yet (dispatched only): remaining is budget - spent. */
  CHECK_STR(line_of(s, "clapper_episode_budget_remaining{"),
            "clapper_episode_budget_remaining{episode=\"proj/ep1\",currency=\"USD\"} 3.750000");
  CHECK_STR(line_of(s, "clapper_results_total{result=\"failed\"}"),
            "clapper_results_total{result=\"failed\"} 2");
  CHECK_STR(line_of(s, "clapper_results_total{result=\"ignored\"}"),
            "clapper_results_total{result=\"ignored\"} 1");
  CHECK_STR(line_of(s, "clapper_http_requests_total{code=\"200\"}"),
            "clapper_http_requests_total{code=\"200\"} 2");
  CHECK_STR(line_of(s, "clapper_http_requests_total{code=\"401\"}"),
            "clapper_http_requests_total{code=\"401\"} 1");
  CHECK_STR(line_of(s, "clapper_dispatch_latency_seconds_bucket{le=\"1\"}"),
            "clapper_dispatch_latency_seconds_bucket{le=\"1\"} 0");
  CHECK_STR(line_of(s, "clapper_dispatch_latency_seconds_bucket{le=\"2.5\"}"),
            "clapper_dispatch_latency_seconds_bucket{le=\"2.5\"} 1");
  CHECK_STR(line_of(s, "clapper_dispatch_latency_seconds_count"),
            "clapper_dispatch_latency_seconds_count 1");
  CHECK_CONTAINS(s, "# TYPE clapper_commit_latency_seconds histogram\n");
  CHECK_CONTAINS(s, "clapper_commit_latency_seconds_bucket{le=\"+Inf\"} 0\n");
  CHECK_CONTAINS(s, "clapper_event_log_length ");
  CHECK_CONTAINS(s, "clapper_build_info{version=\"");
  free(s);

  /* The read failed: no jobs or tasks, the rest as before. */
  metrics_counts_t none = {0};
  s = metrics_render(c, &none, util_wall_us());
  check_structure(s);
  CHECK_STR(line_of(s, "clapper_metrics_db_ok"), "clapper_metrics_db_ok 0");
  CHECK(!strstr(s, "clapper_jobs{") && !strstr(s, "# TYPE clapper_jobs "));
  CHECK(!strstr(s, "clapper_tasks{") && !strstr(s, "# TYPE clapper_tasks "));
  CHECK_CONTAINS(s, "clapper_workers{state=\"online\"} 1\n");
  free(s);
  memcoord_free(c);
}

int main(void) {
  test_escaping();
  test_histogram();
  test_counts();
  test_render();
  return check_report("test_metrics");
}
