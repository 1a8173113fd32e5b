/*
 * memcoord.c - a coordinator in memory for the module tests, see
 * memcoord.h.
 */
#include "memcoord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "workers.h"

static uv_loop_t loop;
static bool loop_ready;
static char output_root[] = "/tmp/clapper-test-memcoord-out";

uv_loop_t *memcoord_loop(void) {
  if (!loop_ready) {
    uv_loop_init(&loop);
    loop_ready = true;
  }
  return &loop;
}

coord_t *memcoord_new(void) {
  coord_t *c = xcalloc(1, sizeof *c);
  coord_init(c, memcoord_loop());
  c->cfg.output_root = output_root;
  c->cfg.currency = "USD";
  c->cfg.heartbeat_ms = 1000;
  c->cfg.lease_ms = 10000;
  c->cfg.log_cap_bytes = 1 << 20;
  return c;
}

void memcoord_free(coord_t *c) {
  coord_close_timers(c);
  uv_run(memcoord_loop(), UV_RUN_DEFAULT);
  coord_release(c);
  free(c);
}

worker_t *memcoord_worker(coord_t *c, const char *name, uint32_t cpus, uint64_t memory_mb,
                          uint32_t ngpus, const uint64_t *gpu_mb, const char *tags) {
  worker_t *w = workers_add(c, name);
  w->cpus = w->cpus_free = cpus;
  w->memory_mb = w->mem_free = memory_mb;
  w->ngpus = ngpus;
  w->gpus = xcalloc(ngpus ? ngpus : 1, sizeof *w->gpus);
  for (uint32_t i = 0; i < ngpus; i++) {
    w->gpus[i].index = i;
    w->gpus[i].uuid = xasprintf("GPU-%s-%u", name, i);
    w->gpus[i].model = xstrdup("Test GPU");
    w->gpus[i].memory_mb = gpu_mb[i];
  }
  w->tags = xcalloc(8, sizeof *w->tags);
  if (tags) {
    char *copy = xstrdup(tags), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && w->ntags < 8; t = strtok_r(NULL, ",", &save))
      w->tags[w->ntags++] = xstrdup(t);
    free(copy);
  }
  w->identlen = strlen(name);
  memcpy(w->ident, name, w->identlen);
  w->state = WORKER_ONLINE;
  w->last_seen_mono = util_mono_us();
  return w;
}

job_t *memcoord_submit(coord_t *c, const char *json) {
  return memcoord_submit_ext(c, json, NULL, 0);
}

job_t *memcoord_submit_ext(coord_t *c, const char *json, const dep_state_t *ext, size_t next) {
  char err[512];
  jobfile_t *jf = jobfile_parse(json, strlen(json), err, sizeof err);
  if (!jf) {
    fprintf(stderr, "job file refused: %s\n%s\n", err, json);
    CHECK(!"job file parses");
    exit(1);
  }
  uint64_t first;
  job_create_all(c, jf, "tester", ext, next, &first);
  return idmap_get(&c->jobs, first);
}

job_t *memcoord_submit1(coord_t *c, const char *name, const char *fields) {
  char json[4096];
  snprintf(json, sizeof json,
           "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":[{\"name\":\"%s\","
           "\"command\":[\"true\"]%s%s}]}",
           name, fields && *fields ? "," : "", fields ? fields : "");
  return memcoord_submit(c, json);
}

void memcoord_end(coord_t *c, attempt_t *a, attempt_state_t to) {
  CHECK_INT(attempt_set_state(c, a, to), 0);
  task_attempt_ended(c, a->task, a);
}

void memcoord_check_worker(const worker_t *w) {
  uint64_t seen = 0;
  uint32_t cpus = 0, n = 0;
  uint64_t mem = 0;
  for (const attempt_t *a = w->live; a; a = a->wnext) {
    CHECK((seen & a->gpu_mask) == 0);
    CHECK_INT(__builtin_popcountll(a->gpu_mask), a->task->job->spec->req.gpus);
    CHECK(a->worker == w);
    seen |= a->gpu_mask;
    cpus += a->cpus;
    mem += a->memory_mb;
    n++;
  }
  CHECK_INT(seen, w->gpu_busy);
  CHECK_INT(n, w->nlive);
  CHECK_INT(cpus + w->cpus_free, w->cpus);
  CHECK_INT(mem + w->mem_free, w->memory_mb);
  CHECK(cpus <= w->cpus);
}
