/*
 * test_jobfile.c - job file parsing and validation (common/jobfile.c):
 * every error path names its field, defaults, task expansion, limits,
 * placeholders and dependency checks.  Runs under AddressSanitizer, so a
 * leak on any path fails the test.
 *
 * JSON in this file is written with single quotes, turned into double
 * quotes before parsing.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "input.h"
#include "jobfile.h"
#include "template.h"

static char err[1024];

/* s with every ' turned into " (caller frees). */
static char *dq(const char *s) {
  char *t = xstrdup(s);
  for (char *p = t; *p; p++)
    if (*p == '\'')
      *p = '"';
  return t;
}

static jobfile_t *parse(const char *sq) {
  char *text = dq(sq);
  err[0] = '\0';
  jobfile_t *jf = jobfile_parse(text, strlen(text), err, sizeof err);
  free(text);
  return jf;
}

/* jobfile_parse(text) must fail with a one-line message starting with
 * prefix.  raw: text is used as is, without quote conversion. */
static void refused(int line, const char *text, size_t len, const char *prefix) {
  err[0] = '\0';
  jobfile_t *jf = jobfile_parse(text, len, err, sizeof err);
  check_count++;
  if (jf || strncmp(err, prefix, strlen(prefix)) != 0 || strchr(err, '\n')) {
    check_failures++;
    fprintf(stderr, "%s:%d: got %s \"%s\", expected an error starting \"%s\"\n", __FILE__, line,
            jf ? "a job file and" : "error", err, prefix);
  }
  jobfile_free(&jf);
}
static void refused_sq(int line, const char *sq, const char *prefix) {
  char *text = dq(sq);
  refused(line, text, strlen(text), prefix);
  free(text);
}
#define REFUSED(sq, prefix) refused_sq(__LINE__, sq, prefix)

/* A file with one job named a running "run", plus extra members. */
#define JOB(extra) "{'project':'p','episode':'e','jobs':[{'name':'a','command':['run']" extra "}]}"
/* A file with one job made of exactly these members. */
#define JOBN(members) "{'project':'p','episode':'e','jobs':[{" members "}]}"
/* A file with these jobs. */
#define JOBS(jobs) "{'project':'p','episode':'e','jobs':[" jobs "]}"

static void test_design_example(void) {
  jobfile_t *jf =
      parse("{'project': 'hod', 'episode': 's02e03', 'jobs': ["
            " { 'name': 'sh0420-gen', 'shot': 'sh0420', 'kind': 'generate',"
            "   'command': ['gen-clip', '--seed', '{seed}', '--out', '{output_dir}/take.mp4'],"
            "   'takes': 4, 'seed': 1000,"
            "   'requires': { 'gpus': 1, 'gpu_memory_mb': 24000, 'tags': ['diffusion'] },"
            "   'outputs': ['{output_dir}/take.mp4'],"
            "   'provenance': { 'prompt': 'a cat', 'model': 'wan-2.1', 'model_version': '14b' },"
            "   'priority': 60, 'timeout_s': 1800, 'max_attempts': 3 },"
            " { 'name': 'sh0420-final', 'shot': 'sh0420', 'kind': 'render',"
            "   'after_approval': ['sh0420-gen'],"
            "   'frames': '1001-1096', 'chunk': 8,"
            "   'command': ['render', '{approved_output}', '{frame_start}', '{frame_end}', "
            "'{output_dir}'],"
            "   'requires': { 'gpus': 1 } }"
            "]}");
  CHECK(jf != NULL);
  if (!jf) {
    fprintf(stderr, "  error: %s\n", err);
    return;
  }
  CHECK_STR(jf->project, "hod");
  CHECK_STR(jf->episode, "s02e03");
  CHECK_INT(jf->njobs, 2);
  CHECK_INT(jf->ntasks, 4 + 12);

  jf_job_t *g = &jf->jobs[0];
  CHECK_STR(g->name, "sh0420-gen");
  CHECK_STR(g->shot, "sh0420");
  CHECK_INT(g->kind, JOB_KIND_GENERATE);
  CHECK_INT(g->ncommand, 5);
  CHECK_STR(g->command[0], "gen-clip");
  CHECK_STR(g->command[4], "{output_dir}/take.mp4");
  CHECK_INT(g->noutputs, 1);
  CHECK_STR(g->outputs[0], "{output_dir}/take.mp4");
  CHECK_INT(g->req.gpus, 1);
  CHECK_INT(g->req.gpu_memory_mb, 24000);
  CHECK_INT(g->req.cpus, 1);
  CHECK_INT(g->req.memory_mb, 0);
  CHECK_INT(g->req.ntags, 1);
  CHECK_STR(g->req.tags[0], "diffusion");
  CHECK_STR(g->provenance_json,
            "{\"model\":\"wan-2.1\",\"model_version\":\"14b\",\"prompt\":\"a cat\"}");
  CHECK_INT(g->priority, 60);
  CHECK_INT(g->timeout_s, 1800);
  CHECK_INT(g->max_attempts, 3);
  CHECK_INT(g->seed, 1000);
  CHECK_INT(g->placeholders, TV_BIT(TV_SEED) | TV_BIT(TV_OUTPUT_DIR));
  CHECK_INT(g->ndeps, 0);
  CHECK(!g->gated);
  CHECK_INT(g->ntasks, 4);
  CHECK(g->has_takes);
  CHECK(!g->has_frames);
  for (size_t t = 0; t < g->ntasks && t < 4; t++) {
    CHECK_INT(g->tasks[t].take, (int64_t)t + 1);
    CHECK_INT(g->tasks[t].seed, 1000 + (int64_t)t);
    CHECK_INT(g->tasks[t].frame_start, 0);
    CHECK_INT(g->tasks[t].frame_end, 0);
    CHECK_INT(g->tasks[t].frame_step, 1);
  }
  CHECK(g->spec_json && g->spec_json[0] == '{');
  CHECK_CONTAINS(g->spec_json, "\"command\":[\"gen-clip\",\"--seed\",\"{seed}\"");
  CHECK_CONTAINS(g->spec_json, "\"kind\":\"generate\",\"max_attempts\":3,\"name\":");
  CHECK(strchr(g->spec_json, ' ') == NULL || strstr(g->spec_json, "a cat") != NULL);

  jf_job_t *r = &jf->jobs[1];
  CHECK_STR(r->name, "sh0420-final");
  CHECK_INT(r->kind, JOB_KIND_RENDER);
  CHECK_INT(r->ndeps, 1);
  CHECK(r->gated);
  CHECK_INT(r->deps[0].kind, JF_DEP_APPROVAL);
  CHECK(!r->deps[0].by_id);
  CHECK_INT(r->deps[0].index, 0); /* sh0420-gen */
  CHECK_INT(r->placeholders, TV_BIT(TV_APPROVED_OUTPUT) | TV_BIT(TV_FRAME_START) |
                                 TV_BIT(TV_FRAME_END) | TV_BIT(TV_OUTPUT_DIR));
  CHECK_INT(r->ntasks, 12);
  CHECK(r->has_frames);
  CHECK(!r->has_takes);
  CHECK_INT(r->tasks[0].frame_start, 1001);
  CHECK_INT(r->tasks[0].frame_end, 1008);
  CHECK_INT(r->tasks[0].frame_step, 1);
  CHECK_INT(r->tasks[0].take, 0);
  CHECK_INT(r->tasks[0].seed, 0);
  CHECK_INT(r->tasks[11].frame_start, 1089);
  CHECK_INT(r->tasks[11].frame_end, 1096);
  /* Defaults of the second job. */
  CHECK_INT(r->priority, 50);
  CHECK_INT(r->timeout_s, 0);
  CHECK_INT(r->max_attempts, 3);
  CHECK_INT(r->max_lost, 5);
  CHECK_INT(r->retry_backoff_s, 10);
  CHECK_STR(r->provenance_json, "{}");
  CHECK_INT(r->req.gpus, 1);
  CHECK_INT(r->req.cpus, 1);
  CHECK_INT(r->req.ntags, 0);

  /* Expanding a parsed command for one task. */
  template_vals_t v = {.project = jf->project,
                       .episode = jf->episode,
                       .shot = r->shot,
                       .job = r->name,
                       .job_id = 13,
                       .task_id = 99,
                       .attempt = 1,
                       .frame_start = r->tasks[1].frame_start,
                       .frame_end = r->tasks[1].frame_end,
                       .frame_step = r->tasks[1].frame_step,
                       .seed = r->tasks[1].seed,
                       .output_dir = "/o",
                       .approved_output = "/a/take.mp4"};
  char *s = template_expand(r->command[2], &v);
  CHECK_STR(s, "1009");
  free(s);
  s = template_expand(r->command[1], &v);
  CHECK_STR(s, "/a/take.mp4");
  free(s);

  jobfile_free(&jf);
  CHECK(jf == NULL);
  jobfile_free(&jf); /* harmless on NULL */
  jobfile_free(NULL);
}

static void test_defaults(void) {
  jobfile_t *jf = parse(JOB(""));
  CHECK(jf != NULL);
  if (!jf)
    return;
  jf_job_t *j = &jf->jobs[0];
  CHECK_STR(j->name, "a");
  CHECK(j->shot == NULL);
  CHECK_INT(j->kind, JOB_KIND_PROCESS);
  CHECK_INT(j->ncommand, 1);
  CHECK_STR(j->command[0], "run");
  CHECK_INT(j->noutputs, 0);
  CHECK_INT(j->nenv, 0);
  CHECK_STR(j->provenance_json, "{}");
  CHECK_INT(j->req.gpus, 0);
  CHECK_INT(j->req.gpu_memory_mb, 0);
  CHECK_INT(j->req.cpus, 1);
  CHECK_INT(j->req.memory_mb, 0);
  CHECK_INT(j->req.ntags, 0);
  CHECK_INT(j->priority, 50);
  CHECK_INT(j->timeout_s, 0);
  CHECK_INT(j->max_attempts, 3);
  CHECK_INT(j->max_lost, 5);
  CHECK_INT(j->retry_backoff_s, 10);
  CHECK_INT(j->seed, 0);
  CHECK_INT(j->placeholders, 0);
  CHECK_INT(j->ndeps, 0);
  CHECK(!j->gated);
  CHECK_INT(j->ntasks, 1);
  CHECK(!j->has_frames);
  CHECK(!j->has_takes);
  CHECK_INT(j->tasks[0].frame_start, 0);
  CHECK_INT(j->tasks[0].frame_end, 0);
  CHECK_INT(j->tasks[0].frame_step, 1);
  CHECK_INT(j->tasks[0].take, 0);
  CHECK_INT(j->tasks[0].seed, 0);
  CHECK_STR(j->spec_json, "{\"command\":[\"run\"],\"name\":\"a\"}");
  CHECK_INT(jf->ntasks, 1);
  jobfile_free(&jf);

  /* Explicit values at the edges of their ranges. */
  jf = parse(JOB(",'kind':'process','priority':0,'timeout_s':31536000,'max_attempts':100,"
                 "'max_lost':0,'retry_backoff_s':86400,'seed':-9223372036854775808,"
                 "'requires':{'gpus':64,'gpu_memory_mb':16777216,'cpus':0,"
                 "'memory_mb':1099511627776,'tags':[]},'outputs':[],'env':{},"
                 "'provenance':{},'after':[],'after_approval':[]"));
  CHECK(jf != NULL);
  if (!jf) {
    fprintf(stderr, "  error: %s\n", err);
    return;
  }
  j = &jf->jobs[0];
  CHECK_INT(j->priority, 0);
  CHECK_INT(j->timeout_s, 31536000);
  CHECK_INT(j->max_attempts, 100);
  CHECK_INT(j->max_lost, 0);
  CHECK_INT(j->retry_backoff_s, 86400);
  CHECK(j->seed == INT64_MIN);
  CHECK(j->tasks[0].seed == INT64_MIN);
  CHECK_INT(j->req.gpus, 64);
  CHECK_INT(j->req.gpu_memory_mb, 16777216);
  CHECK_INT(j->req.cpus, 0);
  CHECK(j->req.memory_mb == (uint64_t)1 << 40);
  CHECK_STR(j->provenance_json, "{}");
  jobfile_free(&jf);

  CHECK_STR(job_kind_name(JOB_KIND_GENERATE), "generate");
  CHECK_STR(job_kind_name(JOB_KIND_RENDER), "render");
  CHECK_STR(job_kind_name(JOB_KIND_PROCESS), "process");
  CHECK_STR(job_kind_name((job_kind_t)7), "?");
  CHECK_INT(job_kind_parse("render"), JOB_KIND_RENDER);
  CHECK_INT(job_kind_parse("Render"), -1);
  CHECK_INT(job_kind_parse(NULL), -1);
}

static void test_tasks(void) {
  /* Stepped frames: 1-100x2 is 50 frames, chunks of 10. */
  jobfile_t *jf = parse(JOB(",'frames':'1-100x2','chunk':10,'seed':77"));
  CHECK(jf != NULL);
  if (jf) {
    jf_job_t *j = &jf->jobs[0];
    CHECK_INT(j->ntasks, 5);
    CHECK_INT(j->tasks[0].frame_start, 1);
    CHECK_INT(j->tasks[0].frame_end, 19);
    CHECK_INT(j->tasks[0].frame_step, 2);
    CHECK_INT(j->tasks[4].frame_start, 81);
    CHECK_INT(j->tasks[4].frame_end, 99);
    CHECK_INT(j->tasks[4].frame_step, 2);
    CHECK_INT(j->tasks[4].take, 0);
    CHECK_INT(j->tasks[4].seed, 77);
    jobfile_free(&jf);
  }
  /* Lists: a chunk never spans two items. */
  jf = parse(JOB(",'frames':'10-20,1,5','chunk':4"));
  CHECK(jf != NULL);
  if (jf) {
    jf_job_t *j = &jf->jobs[0];
    CHECK_INT(j->ntasks, 5);
    CHECK_INT(j->tasks[0].frame_start, 1);
    CHECK_INT(j->tasks[1].frame_start, 5);
    CHECK_INT(j->tasks[2].frame_start, 10);
    CHECK_INT(j->tasks[2].frame_end, 13);
    CHECK_INT(j->tasks[4].frame_start, 18);
    CHECK_INT(j->tasks[4].frame_end, 20);
    jobfile_free(&jf);
  }
  /* Default chunk is 1 frame per task. */
  jf = parse(JOB(",'frames':'1-3'"));
  CHECK(jf != NULL);
  if (jf) {
    CHECK_INT(jf->jobs[0].ntasks, 3);
    CHECK_INT(jf->jobs[0].tasks[2].frame_start, 3);
    CHECK_INT(jf->jobs[0].tasks[2].frame_end, 3);
    jobfile_free(&jf);
  }
  /* A huge chunk is one task per item, and a huge range is fine with it. */
  jf = parse(JOB(",'frames':'0-999999999','chunk':9223372036854775807"));
  CHECK(jf != NULL);
  if (jf) {
    CHECK_INT(jf->jobs[0].ntasks, 1);
    CHECK(jf->jobs[0].has_frames); /* even with a single task */
    CHECK_INT(jf->jobs[0].tasks[0].frame_end, 999999999);
    jobfile_free(&jf);
  }
  /* Takes: seeds count up from the job seed, negative included. */
  jf = parse(JOB(",'takes':3,'seed':-1"));
  CHECK(jf != NULL);
  if (jf) {
    jf_job_t *j = &jf->jobs[0];
    CHECK_INT(j->ntasks, 3);
    CHECK_INT(j->tasks[0].take, 1);
    CHECK_INT(j->tasks[0].seed, -1);
    CHECK_INT(j->tasks[1].seed, 0);
    CHECK_INT(j->tasks[2].take, 3);
    CHECK_INT(j->tasks[2].seed, 1);
    CHECK_INT(j->tasks[2].frame_step, 1);
    jobfile_free(&jf);
  }
  /* takes 1 and the last seed that leaves room for the takes. */
  jf = parse(JOB(",'takes':10000,'seed':9223372036854765808"));
  CHECK(jf != NULL);
  if (jf) {
    CHECK_INT(jf->jobs[0].ntasks, 10000);
    CHECK(jf->jobs[0].tasks[9999].seed == INT64_MAX);
    jobfile_free(&jf);
  }
  jf = parse(JOB(",'takes':1,'seed':9223372036854775807"));
  CHECK(jf != NULL);
  if (jf) {
    CHECK_INT(jf->jobs[0].ntasks, 1);
    CHECK(jf->jobs[0].has_takes); /* even with a single take */
    CHECK_INT(jf->jobs[0].tasks[0].take, 1);
  }
  jobfile_free(&jf);
}

static void test_deps(void) {
  /* Forward and backward names, numeric ids as strings and integers. */
  jobfile_t *jf = parse(JOBS("{'name':'a','command':['x'],'after':['b','12',34,'0007']},"
                             "{'name':'b','command':['x']},"
                             "{'name':'c','command':['{approved_output}'],"
                             "'after':['a'],'after_approval':['b',5]}"));
  CHECK(jf != NULL);
  if (!jf) {
    fprintf(stderr, "  error: %s\n", err);
    return;
  }
  /* Typed: a job of the file by index, or an existing job by id. */
  const jf_dep_t *d = jf->jobs[0].deps;
  CHECK_INT(jf->jobs[0].ndeps, 4);
  CHECK(!jf->jobs[0].gated);
  CHECK(!d[0].by_id && d[0].index == 1 && d[0].kind == JF_DEP_AFTER && d[0].pos == 0);
  CHECK(d[1].by_id && d[1].job_id == 12 && d[1].kind == JF_DEP_AFTER && d[1].pos == 1);
  CHECK(d[2].by_id && d[2].job_id == 34 && d[2].pos == 2);
  CHECK(d[3].by_id && d[3].job_id == 7 && d[3].pos == 3);
  d = jf->jobs[2].deps;
  CHECK_INT(jf->jobs[2].ndeps, 3);
  CHECK(jf->jobs[2].gated);
  CHECK(!d[0].by_id && d[0].index == 0 && d[0].kind == JF_DEP_AFTER && d[0].pos == 0);
  CHECK(!d[1].by_id && d[1].index == 1 && d[1].kind == JF_DEP_APPROVAL && d[1].pos == 0);
  CHECK(d[2].by_id && d[2].job_id == 5 && d[2].kind == JF_DEP_APPROVAL && d[2].pos == 1);
  CHECK_STR(jf_dep_field(d[1].kind), "after_approval");
  CHECK_STR(jf_dep_field(d[0].kind), "after");
  CHECK_INT(jf->jobs[2].placeholders, TV_BIT(TV_APPROVED_OUTPUT));
  jobfile_free(&jf);

  /* A stored job: its dependencies were resolved at submit; names that are
   * not in the text are fine, nothing is kept, {approved_output} stays
   * allowed.  Their form is still checked. */
  static const char stored[] =
      "{\"project\":\"p\",\"episode\":\"e\",\"jobs\":[{\"name\":\"c\",\"command\":"
      "[\"{approved_output}\"],\"after\":[\"gone\",3],\"after_approval\":[\"b\"]}]}";
  jf = jobfile_parse_flags(stored, strlen(stored), JOBFILE_STORED, err, sizeof err);
  CHECK(jf != NULL);
  if (jf) {
    CHECK_INT(jf->jobs[0].ndeps, 0);
    CHECK(jf->jobs[0].deps == NULL);
    CHECK(jf->jobs[0].gated);
  }
  jobfile_free(&jf);
  CHECK(jobfile_parse(stored, strlen(stored), err, sizeof err) == NULL);
  CHECK_STR(err, "jobs[0].after[0]: no job named 'gone' in this file");
  static const char stored_bad[] =
      "{\"project\":\"p\",\"episode\":\"e\",\"jobs\":[{\"name\":\"c\",\"command\":"
      "[\"x\"],\"after\":[0]}]}";
  CHECK(jobfile_parse_flags(stored_bad, strlen(stored_bad), JOBFILE_STORED, err, sizeof err) ==
        NULL);
  CHECK_STR(err, "jobs[0].after[0]: 0 is not a job id (ids start at 1)");

  /* A diamond is not a cycle. */
  jf = parse(JOBS("{'name':'a','command':['x']},"
                  "{'name':'b','command':['x'],'after':['a']},"
                  "{'name':'c','command':['x'],'after':['a']},"
                  "{'name':'d','command':['x'],'after':['b','c'],'after_approval':['a']}"));
  CHECK(jf != NULL);
  jobfile_free(&jf);

  /* Cycles. */
  jf = parse(JOBS("{'name':'sh01-a','command':['x'],'after':['sh01-b']},"
                  "{'name':'sh01-b','command':['x'],'after':['sh01-a']}"));
  CHECK(jf == NULL);
  CHECK_STR(err, "jobs[1].after: dependency cycle sh01-a -> sh01-b -> sh01-a");
  jf = parse(JOBS("{'name':'a','command':['x']},"
                  "{'name':'b','command':['x'],'after':['c']},"
                  "{'name':'c','command':['x'],'after':['a','d']},"
                  "{'name':'d','command':['x'],'after_approval':['b']}"));
  CHECK(jf == NULL);
  CHECK_STR(err, "jobs[3].after_approval: dependency cycle b -> c -> d -> b");

  /* A long chain (deep search, no recursion) without and with a cycle. */
  sbuf_t sb = {0};
  sbuf_puts(&sb, "{\"project\":\"p\",\"episode\":\"e\",\"jobs\":[");
  for (int i = 0; i < 5000; i++)
    sbuf_printf(&sb, "%s{\"name\":\"j%d\",\"command\":[\"x\"],\"after\":[\"j%d\"]}", i ? "," : "",
                i, i + 1);
  sbuf_puts(&sb, ",{\"name\":\"j5000\",\"command\":[\"x\"]}]}");
  err[0] = '\0';
  jf = jobfile_parse(sb.buf, sb.len, err, sizeof err);
  CHECK(jf != NULL);
  if (jf)
    CHECK_INT(jf->njobs, 5001);
  jobfile_free(&jf);
  /* Close the loop: j5000 after j0. */
  sbuf_reset(&sb);
  sbuf_puts(&sb, "{\"project\":\"p\",\"episode\":\"e\",\"jobs\":[");
  for (int i = 0; i < 5000; i++)
    sbuf_printf(&sb, "%s{\"name\":\"j%d\",\"command\":[\"x\"],\"after\":[\"j%d\"]}", i ? "," : "",
                i, i + 1);
  sbuf_puts(&sb, ",{\"name\":\"j5000\",\"command\":[\"x\"],\"after\":[\"j0\"]}]}");
  refused(__LINE__, sb.buf, sb.len, "jobs[5000].after: dependency cycle j0 -> j1 -> j2 -> ");
  sbuf_free(&sb);
}

static void test_placeholders(void) {
  jobfile_t *jf =
      parse(JOB(",'takes':2,'outputs':['{output_dir}/{take}.png'],"
                "'env':{'SEED':'{seed}','JSON':'{{\\'a\\': 1}}','LIT':'{\\'b\\': [1]}'},"
                "'provenance':{'note':'{not_a_placeholder}'}"));
  CHECK(jf != NULL);
  if (!jf) {
    fprintf(stderr, "  error: %s\n", err);
    return;
  }
  jf_job_t *j = &jf->jobs[0];
  CHECK_INT(j->placeholders, TV_BIT(TV_OUTPUT_DIR) | TV_BIT(TV_TAKE) | TV_BIT(TV_SEED));
  CHECK_INT(j->nenv, 3);
  CHECK_STR(j->env[0].name, "SEED");
  CHECK_STR(j->env[0].value, "{seed}");
  CHECK_STR(j->env[1].name, "JSON");
  CHECK_STR(j->env[1].value, "{{\"a\": 1}}");
  CHECK_STR(j->env[2].value, "{\"b\": [1]}");
  CHECK_STR(j->provenance_json, "{\"note\":\"{not_a_placeholder}\"}");
  template_vals_t v = {.seed = 5, .take = 2, .output_dir = "/o"};
  char *s = template_expand(j->env[1].value, &v);
  CHECK_STR(s, "{\"a\": 1}");
  free(s);
  s = template_expand(j->outputs[0], &v);
  CHECK_STR(s, "/o/2.png");
  free(s);
  jobfile_free(&jf);

  /* Literal JSON and shell text as command arguments. */
  jf = parse(JOB(",'shot':'s1','outputs':['out.json'],"
                 "'env':{'A_1':'x'},'frames':'1-2'}, {'name':'b','command':['jq',"
                 "'{\\'a\\': 1}','${HOME}','{frame_step}','{job}','{job_id}','{task_id}',"
                 "'{attempt}','{project}','{episode}','{shot}'],'frames':'3'"));
  CHECK(jf != NULL);
  if (jf) {
    CHECK_INT(jf->jobs[0].placeholders, 0);
    CHECK_INT(jf->jobs[1].placeholders,
              TV_BIT(TV_FRAME_STEP) | TV_BIT(TV_JOB) | TV_BIT(TV_JOB_ID) | TV_BIT(TV_TASK_ID) |
                  TV_BIT(TV_ATTEMPT) | TV_BIT(TV_PROJECT) | TV_BIT(TV_EPISODE) | TV_BIT(TV_SHOT));
    CHECK_STR(jf->jobs[1].command[1], "{\"a\": 1}");
    jobfile_free(&jf);
  } else {
    fprintf(stderr, "  error: %s\n", err);
  }

  REFUSED(JOB(",'frames':'1-2'}, {'name':'b','command':['x','y','z','{fram_start}']"),
          "jobs[1].command[3]: unknown placeholder {fram_start}");
  REFUSED(JOB(",'outputs':['{take}.png']"),
          "jobs[0].outputs[0]: placeholder {take} is only available in a job with takes");
  REFUSED(JOB(",'takes':2,'outputs':['a','{frame_end}.png']"),
          "jobs[0].outputs[1]: placeholder {frame_end} is only available in a job with frames");
  REFUSED(JOB(",'env':{'X':'{frame_start}'}"),
          "jobs[0].env.X: placeholder {frame_start} is only available in a job with frames");
  REFUSED(JOB(",'env':{'X':'{whatever}'}"), "jobs[0].env.X: unknown placeholder {whatever}");
  REFUSED(JOBN("'name':'a','command':['{approved_output}'],'after':['7']"),
          "jobs[0].command[0]: placeholder {approved_output} is only available in a job with "
          "after_approval");
  REFUSED(JOBN("'name':'a','command':['{approved_output}'],'after_approval':[]"),
          "jobs[0].command[0]: placeholder {approved_output}");
}

/* Padded widths, {frame} and {job:NAME:output_dir} in a job file. */
static void test_new_placeholders(void) {
  jobfile_t *jf = parse(JOBS("{'name':'render','command':['r','{frame_start:04}'],"
                             "'frames':'1-100x2','chunk':4,'outputs':['f{frame:04}.exr']},"
                             "{'name':'encode','command':['enc','{job:render:output_dir}/f%04d.exr',"
                             "'{attempt}','{attempt_id}'],'after':['render'],"
                             "'env':{'SRC':'{job:render:output_dir}'}}"));
  CHECK(jf != NULL);
  if (!jf) {
    fprintf(stderr, "  error: %s\n", err);
    return;
  }
  CHECK_INT(jf->jobs[0].placeholders, TV_BIT(TV_FRAME_START) | TV_BIT(TV_FRAME));
  CHECK_INT(jf->jobs[1].placeholders,
            TV_BIT(TV_JOB_OUTPUT_DIR) | TV_BIT(TV_ATTEMPT) | TV_BIT(TV_ATTEMPT_ID));
  /* The parser keeps the reference; the coordinator resolves it at submit. */
  CHECK_STR(jf->jobs[1].command[1], "{job:render:output_dir}/f%04d.exr");
  CHECK_INT(jf->jobs[0].ntasks, 13);
  jobfile_free(&jf);

  REFUSED(JOB(",'frames':'1-8','env':{'F':'{frame:04}'}"),
          "jobs[0].env.F: {frame} repeats an argument or an output once per frame, an env value "
          "cannot be repeated (use {frame_start} and {frame_end})");
  REFUSED(JOB(",'outputs':['f{frame}.png']"),
          "jobs[0].outputs[0]: placeholder {frame} is only available in a job with frames");
  REFUSED(JOB(",'takes':2,'outputs':['f{take:3}.png']"),
          "jobs[0].outputs[0]: placeholder {take:3}: the only format is a zero-padded width");
  REFUSED(JOBS("{'name':'a','command':['x','{job:b:output_dir}']},"
               "{'name':'c','command':['x']}"),
          "jobs[0].command[1]: {job:b:output_dir}: no job named 'b' in this file");
  REFUSED(JOBS("{'name':'a','command':['x']},"
               "{'name':'c','command':['x'],'env':{'D':'{job:A:output_dir}'}}"),
          "jobs[1].env.D: {job:A:output_dir}: no job named 'A' in this file");
  REFUSED(JOB(",'outputs':['{job:a:output_dir}/x']"),
          "jobs[0].outputs[0]: {job:a:output_dir} names the job itself, use {output_dir}");
  /* A later job may be named: names are resolved once the file is read. */
  jf = parse(JOBS("{'name':'a','command':['x','{job:b:output_dir}']},{'name':'b','command':['y']}"));
  CHECK(jf != NULL);
  jobfile_free(&jf);

  /* Repetition stays within 4096 arguments and outputs per task. */
  jf = parse(JOBN("'name':'a','frames':'1-4095','chunk':4095,'command':['r','{frame}']"));
  CHECK(jf != NULL);
  jobfile_free(&jf);
  REFUSED(JOBN("'name':'a','frames':'1-4096','chunk':4096,'command':['r','{frame}']"),
          "jobs[0].command: {frame} repeats 1 arguments for each of up to 4096 frames of a chunk: "
          "4097 arguments, more than 4096 (make chunk smaller)");
  REFUSED(JOB(",'frames':'1-5000','chunk':2500,'outputs':['a{frame}','b{frame}']"),
          "jobs[0].outputs: {frame} repeats 2 outputs for each of up to 2500 frames of a chunk: "
          "5000 outputs, more than 4096");
  jf = parse(JOB(",'frames':'1-100000x100','chunk':2000,'outputs':['a{frame}','b{frame}']"));
  CHECK(jf != NULL); /* 1000 frames in the one chunk: 2000 outputs */
  jobfile_free(&jf);
}

static void test_limits(void) {
  sbuf_t sb = {0};
  /* 10,000 jobs are fine, 10,001 are not. */
  sbuf_puts(&sb, "{\"project\":\"p\",\"episode\":\"e\",\"jobs\":[");
  for (int i = 0; i < 10000; i++)
    sbuf_printf(&sb, "%s{\"name\":\"job%d\",\"command\":[\"x\"]}", i ? "," : "", i);
  size_t keep = sb.len;
  sbuf_puts(&sb, "]}");
  err[0] = '\0';
  jobfile_t *jf = jobfile_parse(sb.buf, sb.len, err, sizeof err);
  CHECK(jf != NULL);
  if (jf) {
    CHECK_INT(jf->njobs, 10000);
    CHECK_INT(jf->ntasks, 10000);
    CHECK_STR(jf->jobs[9999].name, "job9999");
  }
  jobfile_free(&jf);
  sb.len = keep;
  sbuf_puts(&sb, ",{\"name\":\"job10000\",\"command\":[\"x\"]}]}");
  refused(__LINE__, sb.buf, sb.len, "jobs: 10001 jobs, more than 10000");

  /* Exactly 1,000,000 tasks are fine. */
  jf = parse(JOB(",'frames':'0-999999'"));
  CHECK(jf != NULL);
  if (jf) {
    CHECK_INT(jf->ntasks, 1000000);
    CHECK_INT(jf->jobs[0].tasks[999999].frame_start, 999999);
  }
  jobfile_free(&jf);
  /* One more is not; nor is a range of a billion frames (checked before
   * anything is allocated). */
  REFUSED(JOB(",'frames':'0-1000000'"),
          "jobs[0]: the submission would have 1000001 tasks, more than 1000000");
  REFUSED(JOB(",'frames':'0-999999999'"),
          "jobs[0]: the submission would have 1000000000 tasks, more than 1000000");
  /* The job that crosses the limit is named. */
  REFUSED(JOBS("{'name':'a','command':['x'],'frames':'0-333332'},"
               "{'name':'b','command':['x'],'frames':'0-333332'},"
               "{'name':'c','command':['x'],'frames':'0-333332'},"
               "{'name':'d','command':['x'],'takes':9}"),
          "jobs[3]: the submission would have 1000008 tasks, more than 1000000");

  /* 4096 arguments of 64 KiB are fine... */
  sbuf_reset(&sb);
  sbuf_puts(&sb, "{\"project\":\"p\",\"episode\":\"e\",\"jobs\":[{\"name\":\"a\",\"command\":[");
  for (int i = 0; i < 4096; i++)
    sbuf_printf(&sb, "%s\"a%d\"", i ? "," : "", i);
  keep = sb.len;
  sbuf_puts(&sb, "]}]}");
  err[0] = '\0';
  jf = jobfile_parse(sb.buf, sb.len, err, sizeof err);
  CHECK(jf != NULL);
  if (jf)
    CHECK_INT(jf->jobs[0].ncommand, 4096);
  jobfile_free(&jf);
  /* ...4097 are not. */
  sb.len = keep;
  sbuf_puts(&sb, ",\"b\"]}]}");
  refused(__LINE__, sb.buf, sb.len, "jobs[0].command: 4097 entries, more than 4096");

  /* Argument, output and env values of 64 KiB + 1. */
  char *big = xmalloc(JOBFILE_MAX_ARG + 2);
  memset(big, 'v', JOBFILE_MAX_ARG + 1);
  big[JOBFILE_MAX_ARG] = '\0';
  char *ok = xasprintf(JOB(",'outputs':['%s'],'env':{'E':'%s'}"), big, big);
  jf = parse(ok);
  CHECK(jf != NULL);
  jobfile_free(&jf);
  free(ok);
  big[JOBFILE_MAX_ARG] = 'v';
  big[JOBFILE_MAX_ARG + 1] = '\0';
  char *t = xasprintf(JOBN("'name':'a','command':['x','%s']"), big);
  refused_sq(__LINE__, t, "jobs[0].command[1]: 65537 bytes, more than 65536");
  free(t);
  t = xasprintf(JOB(",'outputs':['%s']"), big);
  refused_sq(__LINE__, t, "jobs[0].outputs[0]: 65537 bytes, more than 65536");
  free(t);
  t = xasprintf(JOB(",'env':{'E':'%s'}"), big);
  refused_sq(__LINE__, t, "jobs[0].env.E: 65537 bytes, more than 65536");
  free(t);
  free(big);

  /* Provenance: keys of 64 bytes, values of 16 KiB, 64 KiB in all. */
  char key[66], *val = xmalloc(INPUT_PROV_VALUE_MAX + 2);
  memset(key, 'k', 64);
  key[64] = '\0';
  memset(val, 'v', INPUT_PROV_VALUE_MAX);
  val[INPUT_PROV_VALUE_MAX] = '\0';
  t = xasprintf(JOB(",'provenance':{'%s':'%s','b':'%s','c':'%s'}"), key, val, val, val);
  jf = parse(t); /* 3 x 16 KiB + 66 bytes */
  CHECK(jf != NULL);
  jobfile_free(&jf);
  free(t);
  t = xasprintf(JOB(",'provenance':{'a':'%s','b':'%s','c':'%s','d':'%s'}"), val, val, val, val);
  refused_sq(__LINE__, t, "jobs[0].provenance: more than 65536 bytes of keys and values");
  free(t);
  strcat(key, "k");
  key[64] = '\0';
  char *want = xasprintf("jobs[0].provenance.%s...: a key of 65 bytes, more than 64", key);
  key[64] = 'k';
  t = xasprintf(JOB(",'provenance':{'%s':'v'}"), key);
  refused_sq(__LINE__, t, want);
  free(t);
  val[INPUT_PROV_VALUE_MAX] = 'v';
  val[INPUT_PROV_VALUE_MAX + 1] = '\0';
  t = xasprintf(JOB(",'provenance':{'p':'%s'}"), val);
  refused_sq(__LINE__, t, "jobs[0].provenance.p: 16385 bytes, more than 16384");
  free(t);
  free(val);
  /* A 10 MiB key (the attack) is refused. */
  char *huge_key = xmalloc((10u << 20) + 1);
  memset(huge_key, 'k', 10u << 20);
  huge_key[10u << 20] = '\0';
  t = xasprintf(JOB(",'provenance':{'%s':'v'}"), huge_key);
  free(want);
  key[64] = '\0';
  want = xasprintf("jobs[0].provenance.%s...: a key of 10485760 bytes, more than 64", key);
  refused_sq(__LINE__, t, want);
  free(want);
  free(t);
  free(huge_key);
  /* Control characters in a key; a NUL escaped in a value is not JSON
   * jansson accepts. */
  refused_sq(__LINE__, JOB(",'provenance':{'a\\tb':'v'}"), "jobs[0].provenance.a");
  refused_sq(__LINE__, JOB(",'provenance':{'a':'x\\u0000y'}"), "job file: invalid JSON");

  /* Text over 16 MiB is refused before parsing (it is not even valid JSON). */
  char *huge = xmalloc(JOBFILE_MAX_BYTES + 1);
  memset(huge, ' ', JOBFILE_MAX_BYTES + 1);
  refused(__LINE__, huge, JOBFILE_MAX_BYTES + 1, "job file: 16777217 bytes, more than");
  free(huge);
  /* 65 tags. */
  sbuf_reset(&sb);
  sbuf_puts(&sb, JOB(",'requires':{'tags':["));
  sb.len -= strlen("}]}");
  sb.buf[sb.len] = '\0';
  for (int i = 0; i < 65; i++)
    sbuf_printf(&sb, "%s't%d'", i ? "," : "", i);
  sbuf_puts(&sb, "]}}]}");
  refused_sq(__LINE__, sb.buf, "jobs[0].requires.tags: must be an array of at most 64 identifiers");
  sbuf_free(&sb);
}

/* requires.limits (licences) and requires.pool. */
static void test_licences(void) {
  jobfile_t *jf = parse(JOB(",'requires':{'limits':['houdini','karma'],'pool':'gpu-a'}"));
  CHECK(jf != NULL);
  if (jf) {
    CHECK_INT(jf->jobs[0].req.nlimits, 2);
    CHECK_STR(jf->jobs[0].req.limits[0], "houdini");
    CHECK_STR(jf->jobs[0].req.limits[1], "karma");
    CHECK_STR(jf->jobs[0].req.pool, "gpu-a");
  }
  jobfile_free(&jf);
  jf = parse(JOB(""));
  CHECK(jf && jf->jobs[0].req.nlimits == 0 && jf->jobs[0].req.pool == NULL);
  jobfile_free(&jf);
  REFUSED(JOB(",'requires':{'limits':'houdini'}"),
          "jobs[0].requires.limits: must be an array of at most 16 identifiers");
  REFUSED(JOB(",'requires':{'limits':['a','b','c','d','e','f','g','h','i','j','k','l','m','n',"
              "'o','p','q']}"),
          "jobs[0].requires.limits: must be an array of at most 16 identifiers");
  REFUSED(JOB(",'requires':{'limits':['ok','no way']}"),
          "jobs[0].requires.limits[1]: must be an identifier");
  REFUSED(JOB(",'requires':{'limits':[3]}"), "jobs[0].requires.limits[0]: must be an identifier");
  REFUSED(JOB(",'requires':{'limits':['a','a']}"),
          "jobs[0].requires.limits[1]: 'a' is listed twice");
  REFUSED(JOB(",'requires':{'pool':['a']}"), "jobs[0].requires.pool: must be an identifier");
  REFUSED(JOB(",'requires':{'pool':''}"), "jobs[0].requires.pool: must be an identifier");
  REFUSED(JOB(",'requires':{'licences':['a']}"), "jobs[0].requires.licences: unknown field");
}

static void test_errors(void) {
  /* The file as a whole. */
  refused(__LINE__, "not json", 8,
          "job file: invalid JSON at line 1, column 3: invalid token near");
  REFUSED("{\n  'project': }", "job file: invalid JSON at line 2, column 14: ");
  REFUSED("", "job file: invalid JSON at line ");
  REFUSED("[1]", "job file: must be a JSON object");
  REFUSED("42", "job file: must be a JSON object");
  REFUSED("'str'", "job file: must be a JSON object");
  REFUSED("null", "job file: must be a JSON object");
  REFUSED("{'project':'p','project':'q','episode':'e','jobs':[]}", "job file: invalid JSON at");
  REFUSED(JOB(",'priority':1,'priority':2"), "job file: invalid JSON at line 1");
  REFUSED("{'project':'p','episode':'e','jobs':[]} trailing", "job file: invalid JSON");
  REFUSED(JOB(",'seed':99999999999999999999"), "job file: invalid JSON");
  refused(__LINE__, "{\"a\x01\":1}", 8, "job file: invalid JSON");
  {
    char *text = dq("{'project':'p','episode':'e','jobs':[]}");
    refused(__LINE__, text, 5, "job file: invalid JSON"); /* cut short */
    free(text);
  }

  /* Top-level fields. */
  REFUSED("{'project':'p','episode':'e','jobs':[{'name':'a','command':['x']}],'colour':1}",
          "colour: unknown field");
  REFUSED("{'jbos':[]}", "jbos: unknown field");
  REFUSED("{'bad\\nkey':1}", "bad key: unknown field");
  REFUSED("{}", "project: required");
  REFUSED("{'episode':'e','jobs':[]}", "project: required");
  REFUSED("{'project':'Hod!','episode':'e','jobs':[]}",
          "project: 'Hod!' is not an identifier ([A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 "
          "characters)");
  REFUSED("{'project':'HOD','episode':'E1','jobs':[]}", "jobs: must hold at least one job");
  REFUSED("{'project':5,'episode':'e','jobs':[]}", "project: must be a string");
  REFUSED("{'project':'','episode':'e','jobs':[]}", "project: '' is not an identifier");
  REFUSED("{'project':'p','jobs':[]}", "episode: required");
  REFUSED("{'project':'p','episode':'-e','jobs':[]}", "episode: '-e' is not an identifier");
  REFUSED("{'project':'p','episode':'e'}", "jobs: required");
  REFUSED("{'project':'p','episode':'e','jobs':{}}", "jobs: must be an array of job objects");
  REFUSED("{'project':'p','episode':'e','jobs':[]}", "jobs: must hold at least one job");
  REFUSED("{'project':'p','episode':'e','jobs':[1]}", "jobs[0]: must be an object");
  REFUSED(JOBS("{'name':'a','command':['x']},[]"), "jobs[1]: must be an object");

  /* Job fields. */
  REFUSED(JOB(",'colour':'red'"), "jobs[0].colour: unknown field");
  REFUSED(JOB(",'Priority':1"), "jobs[0].Priority: unknown field");
  REFUSED(JOBN("'command':['x']"), "jobs[0].name: required");
  REFUSED(JOBN("'name':'A b','command':['x']"), "jobs[0].name: 'A b' is not an identifier");
  REFUSED(JOBN("'name':null,'command':['x']"), "jobs[0].name: must be a string");
  REFUSED(JOBN("'name':'123','command':['x']"), "jobs[0].name: '123' is all digits");
  REFUSED(JOBS("{'name':'a','command':['x']},{'name':'b','command':['x']},"
               "{'name':'a','command':['x']}"),
          "jobs[2].name: 'a' is already the name of jobs[0]");
  REFUSED(JOB(",'shot':'SH 01'"), "jobs[0].shot: 'SH 01' is not an identifier");
  REFUSED(JOB(",'shot':null"), "jobs[0].shot: must be a string");
  REFUSED(JOB(",'kind':'draw'"), "jobs[0].kind: must be one of generate, render, process");
  REFUSED(JOB(",'kind':1"), "jobs[0].kind: must be one of");
  REFUSED(JOBN("'name':'a'"), "jobs[0].command: required");
  REFUSED(JOBN("'name':'a','command':[]"), "jobs[0].command: must be a non-empty array of strings");
  REFUSED(JOBN("'name':'a','command':'run x'"), "jobs[0].command: must be a non-empty array");
  REFUSED(JOBN("'name':'a','command':[1]"), "jobs[0].command[0]: must be a string");
  REFUSED(JOBN("'name':'a','command':['x',null]"), "jobs[0].command[1]: must be a string");
  REFUSED(JOBN("'name':'a','command':['']"), "jobs[0].command[0]: the program must not be empty");
  REFUSED(JOB(",'outputs':'x'"), "jobs[0].outputs: must be an array of strings");
  REFUSED(JOB(",'outputs':['a',2]"), "jobs[0].outputs[1]: must be a string");
  REFUSED(JOB(",'outputs':['']"), "jobs[0].outputs[0]: must not be empty");
  REFUSED(JOB(",'env':['A']"), "jobs[0].env: must be an object");
  REFUSED(JOB(",'env':{'path':'x'}"), "jobs[0].env: 'path' is not a variable name");
  REFUSED(JOB(",'env':{'1A':'x'}"), "jobs[0].env: '1A' is not a variable name");
  REFUSED(JOB(",'env':{'A-B':'x'}"), "jobs[0].env: 'A-B' is not a variable name");
  REFUSED(JOB(",'env':{'':'x'}"), "jobs[0].env: '' is not a variable name");
  REFUSED(JOB(",'env':{'A':1}"), "jobs[0].env.A: must be a string");
  {
    char name[130];
    memset(name, 'A', 129);
    name[129] = '\0';
    char *t = xasprintf(JOB(",'env':{'%s':'x'}"), name);
    refused_sq(__LINE__, t, "jobs[0].env: 'AAAA");
    name[128] = '\0';
    free(t);
    t = xasprintf(JOB(",'env':{'%s':'x'}"), name);
    jobfile_t *jf = parse(t);
    CHECK(jf != NULL);
    jobfile_free(&jf);
    free(t);
  }
  REFUSED(JOB(",'provenance':'x'"), "jobs[0].provenance: must be an object of strings");
  REFUSED(JOB(",'provenance':{'model':1}"), "jobs[0].provenance.model: must be a string");
  REFUSED(JOB(",'provenance':{'a':'x','b':{'c':'d'}}"), "jobs[0].provenance.b: must be a string");
  REFUSED(JOB(",'requires':[]"), "jobs[0].requires: must be an object");
  REFUSED(JOB(",'requires':{'vram':1}"), "jobs[0].requires.vram: unknown field");
  REFUSED(JOB(",'requires':{'gpus':65}"), "jobs[0].requires.gpus: must be an integer in [0, 64]");
  REFUSED(JOB(",'requires':{'gpus':-1}"), "jobs[0].requires.gpus: must be an integer in [0, 64]");
  REFUSED(JOB(",'requires':{'gpus':1.0}"), "jobs[0].requires.gpus: must be an integer in [0, 64]");
  REFUSED(JOB(",'requires':{'gpus':'1'}"), "jobs[0].requires.gpus: must be an integer in [0, 64]");
  REFUSED(JOB(",'requires':{'gpus':true}"), "jobs[0].requires.gpus: must be an integer in [0, 64]");
  REFUSED(JOB(",'requires':{'gpus':null}"), "jobs[0].requires.gpus: must be an integer in [0, 64]");
  REFUSED(JOB(",'requires':{'gpu_memory_mb':16777217}"),
          "jobs[0].requires.gpu_memory_mb: must be an integer in [0, 16777216]");
  REFUSED(JOB(",'requires':{'cpus':4097}"),
          "jobs[0].requires.cpus: must be an integer in [0, 4096]");
  REFUSED(JOB(",'requires':{'memory_mb':1099511627777}"),
          "jobs[0].requires.memory_mb: must be an integer in [0, 1099511627776]");
  REFUSED(JOB(",'requires':{'tags':'gpu'}"), "jobs[0].requires.tags: must be an array");
  REFUSED(JOB(",'requires':{'tags':['ok','GPU!']}"),
          "jobs[0].requires.tags[1]: must be an identifier");
  REFUSED(JOB(",'requires':{'tags':[1]}"), "jobs[0].requires.tags[0]: must be an identifier");
  REFUSED(JOB(",'requires':{'tags':['a','b','a']}"),
          "jobs[0].requires.tags[2]: 'a' is listed twice");
  REFUSED(JOB(",'frames':1"), "jobs[0].frames: must be a string");
  REFUSED(JOB(",'frames':'1-x'"),
          "jobs[0].frames: '1-x' is not a frame range (expected e.g. 1-100, 1-100x2, 1,5,10-20)");
  REFUSED(JOB(",'frames':'5,5'"), "jobs[0].frames: frame 5 is listed twice");
  REFUSED(JOB(",'frames':'10-1'"), "jobs[0].frames: range 10-1 is reversed");
  REFUSED(JOB(",'frames':''"), "jobs[0].frames: the frame range is empty");
  REFUSED(JOB(",'frames':'1\\n2'"), "jobs[0].frames: '1 2' is not a frame range");
  REFUSED(JOB(",'chunk':2"), "jobs[0].chunk: only allowed together with frames");
  REFUSED(JOB(",'frames':'1-10','chunk':0"), "jobs[0].chunk: must be an integer of at least 1");
  REFUSED(JOB(",'frames':'1-10','chunk':'2'"), "jobs[0].chunk: must be an integer of at least 1");
  REFUSED(JOB(",'frames':'1-10','takes':2"), "jobs[0].takes: cannot be combined with frames");
  REFUSED(JOB(",'takes':0"), "jobs[0].takes: must be an integer in [1, 10000]");
  REFUSED(JOB(",'takes':10001"), "jobs[0].takes: must be an integer in [1, 10000]");
  REFUSED(JOB(",'seed':1.5"), "jobs[0].seed: must be an integer");
  REFUSED(JOB(",'seed':'1'"), "jobs[0].seed: must be an integer");
  REFUSED(JOB(",'takes':2,'seed':9223372036854775807"), "jobs[0].seed: ");
  REFUSED(JOB(",'priority':101"), "jobs[0].priority: must be an integer in [0, 100]");
  REFUSED(JOB(",'priority':'50'"), "jobs[0].priority: must be an integer in [0, 100]");
  REFUSED(JOB(",'priority':5e1"), "jobs[0].priority: must be an integer in [0, 100]");
  REFUSED(JOB(",'timeout_s':31536001"), "jobs[0].timeout_s: must be an integer in [0, 31536000]");
  REFUSED(JOB(",'timeout_s':-1"), "jobs[0].timeout_s: must be an integer in [0, 31536000]");
  REFUSED(JOB(",'max_attempts':0"), "jobs[0].max_attempts: must be an integer in [1, 100]");
  REFUSED(JOB(",'max_lost':101"), "jobs[0].max_lost: must be an integer in [0, 100]");
  REFUSED(JOB(",'retry_backoff_s':86401"),
          "jobs[0].retry_backoff_s: must be an integer in [0, 86400]");
  REFUSED(JOB(",'after':'b'"), "jobs[0].after: must be an array of job names or job ids");
  REFUSED(JOB(",'after':[true]"), "jobs[0].after[0]: must be a job name or a job id");
  REFUSED(JOB(",'after':[1.5]"), "jobs[0].after[0]: must be a job name or a job id");
  REFUSED(JOB(",'after':[0]"), "jobs[0].after[0]: 0 is not a job id");
  REFUSED(JOB(",'after':[-3]"), "jobs[0].after[0]: -3 is not a job id");
  REFUSED(JOB(",'after':['0']"), "jobs[0].after[0]: '0' is not a job id");
  REFUSED(JOB(",'after':['99999999999999999999']"),
          "jobs[0].after[0]: '99999999999999999999' is not a job id");
  REFUSED(JOB(",'after':['9223372036854775808']"),
          "jobs[0].after[0]: '9223372036854775808' is not a job id");
  REFUSED(JOB(",'after':['foo']"), "jobs[0].after[0]: no job named 'foo' in this file");
  REFUSED(JOB(",'after':['']"), "jobs[0].after[0]: no job named '' in this file");
  REFUSED(JOB(",'after':['a']"), "jobs[0].after[0]: a job cannot wait for itself");
  REFUSED(JOB(",'after_approval':['a']"),
          "jobs[0].after_approval[0]: a job cannot wait for itself");
  REFUSED(JOB(",'after':['7',7]"), "jobs[0].after[1]: '7' is listed twice");
  REFUSED(JOB(",'after':['07','7']"), "jobs[0].after[1]: '7' is listed twice");
  REFUSED(JOBS("{'name':'a','command':['x']},{'name':'b','command':['x'],'after':['a','a']}"),
          "jobs[1].after[1]: 'a' is listed twice");
  REFUSED(JOBS("{'name':'a','command':['x']},{'name':'b','command':['x'],'after':[],"
               "'after_approval':['a','zz']}"),
          "jobs[1].after_approval[1]: no job named 'zz' in this file");
  REFUSED(JOB(",'after_approval':{}"), "jobs[0].after_approval: must be an array");

  /* Frame-wise: {"job": NAME or ID, "frames": true}. */
  jobfile_t *fw = parse(JOBS("{'name':'r','command':['x'],'frames':'1-12','chunk':4},"
                  "{'name':'k','command':['x'],'frames':'1-12x2','chunk':2,"
                  "'after':[{'job':'r','frames':true},{'job':5,'frames':false},'9']}"));
  CHECK(fw != NULL);
  if (fw) {
    const jf_dep_t *d = fw->jobs[1].deps;
    CHECK_INT(fw->jobs[1].ndeps, 3);
    CHECK(!d[0].by_id && d[0].index == 0 && d[0].frames && d[0].pos == 0);
    CHECK(d[1].by_id && d[1].job_id == 5 && !d[1].frames);
    CHECK(d[2].by_id && d[2].job_id == 9 && !d[2].frames);
    /* Which render chunks meet comp 5-7 (frames 5 and 7): 5-8 only. */
    size_t lo, hi;
    jf_frames_overlap(fw->jobs[0].tasks, fw->jobs[0].ntasks, 5, 7, &lo, &hi);
    CHECK(lo == 1 && hi == 2);
    jf_frames_overlap(fw->jobs[0].tasks, fw->jobs[0].ntasks, 4, 9, &lo, &hi);
    CHECK(lo == 0 && hi == 3);
    jf_frames_overlap(fw->jobs[0].tasks, fw->jobs[0].ntasks, 13, 20, &lo, &hi);
    CHECK(lo == hi);
  }
  jobfile_free(&fw);
  /* A render of 1-100 in steps of 2 covers the odd frames only. */
  REFUSED(JOBS("{'name':'r','command':['x'],'frames':'1-99x2'},"
               "{'name':'k','command':['x'],'frames':'1-99x2','chunk':3,"
               "'after':[{'job':'r','frames':true}]},"
               "{'name':'m','command':['x'],'frames':'1-4',"
               "'after':[{'job':'r','frames':true}]}"),
          "jobs[2].after[0].frames: frame 2 of this job is not a frame of job 'r'");
  REFUSED(JOBS("{'name':'r','command':['x'],'frames':'1-10'},"
               "{'name':'k','command':['x'],'frames':'5-12','chunk':4,"
               "'after':[{'job':'r','frames':true}]}"),
          "jobs[1].after[0].frames: frame 11 of this job is not a frame of job 'r'");
  REFUSED(JOBS("{'name':'r','command':['x']},"
               "{'name':'k','command':['x'],'frames':'1-2','after':[{'job':'r','frames':true}]}"),
          "jobs[1].after[0].frames: job 'r' has no frames");
  REFUSED(JOBS("{'name':'r','command':['x'],'frames':'1-2'},"
               "{'name':'k','command':['x'],'after':[{'job':'r','frames':true}]}"),
          "jobs[1].after[0].frames: this job has no frames");
  REFUSED(JOB(",'frames':'1','after':[{'job':'b','frames':1}]"),
          "jobs[0].after[0].frames: must be true or false");
  REFUSED(JOB(",'frames':'1','after':[{'job':'b','frames':true,'x':1}]"),
          "jobs[0].after[0].x: unknown field");
  REFUSED(JOB(",'frames':'1','after':[{'frames':true}]"), "jobs[0].after[0].job: required");
  REFUSED(JOB(",'frames':'1','after':[{'job':['b'],'frames':true}]"),
          "jobs[0].after[0].job: must be a job name or a job id");
  REFUSED(JOB(",'frames':'1','after':[{'job':'a','frames':true}]"),
          "jobs[0].after[0]: a job cannot wait for itself");
  REFUSED(JOB(",'frames':'1','after':[{'job':'zz','frames':true}]"),
          "jobs[0].after[0]: no job named 'zz' in this file");
  REFUSED(JOB(",'after_approval':[{'job':'b'}]"),
          "jobs[0].after_approval[0]: must be a job name or a job id");
  REFUSED(JOB(",'after':[true]"),
          "jobs[0].after[0]: must be a job name or a job id (or {\"job\": NAME");

  /* The first error wins: fields of an earlier job before a later one. */
  REFUSED(JOBS("{'name':'a','command':['x'],'priority':-1},{'name':'B','command':['x']}"),
          "jobs[0].priority:");
  /* Errors leave err one line, and a small buffer is not overrun. */
  char small[16];
  char *text = dq(JOB(",'priority':101"));
  jobfile_t *jf = jobfile_parse(text, strlen(text), small, sizeof small);
  CHECK(jf == NULL);
  CHECK_STR(small, "jobs[0].priorit");
  jf = jobfile_parse(text, strlen(text), NULL, 0);
  CHECK(jf == NULL);
  free(text);
  jf = jobfile_parse(NULL, 0, err, sizeof err);
  CHECK(jf == NULL);
  CHECK_CONTAINS(err, "job file: ");
}

int main(void) {
  test_design_example();
  test_defaults();
  test_tasks();
  test_deps();
  test_placeholders();
  test_new_placeholders();
  test_limits();
  test_licences();
  test_errors();
  return check_report("jobfile");
}
