/*
 * jobfile.c - parsing and validating a job file, see jobfile.h.
 *
 * The parse makes three passes over the jobs: every field of each job in
 * file order (its tasks are expanded there, once the running task total is
 * known to stay within the limit), then the dependencies written as names
 * against the names of the file (they become indexes), then a search for
 * dependency cycles.
 * The first problem found ends the parse and frees everything built so far.
 */
#include "jobfile.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "input.h"
#include "template.h"

#define QUOTE_MAX 64     /* longest piece of user text quoted in a message */
#define ENV_NAME_MAX 128 /* longest environment variable name */
#define IDENT_RULE "[A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 characters"
#define MAX_GPU_MEMORY_MB 16777216LL
#define MAX_CPUS 4096
#define MAX_MEMORY_MB (1LL << 40)
#define MAX_TAKES 10000
#define MAX_PRIORITY 100
#define MAX_TIMEOUT_S 31536000LL
#define MAX_ATTEMPTS 100
#define MAX_LOST 100
#define MAX_BACKOFF_S 86400
#define JOB_NAME_MAX 64 /* the longest identifier */

/* %.*s%s arguments that quote s, cut to QUOTE_MAX bytes. */
#define QARG(s) qlen(s), (s), qcut(s)
static int qlen(const char *s) { return (int)strnlen(s, QUOTE_MAX); }
static const char *qcut(const char *s) {
  return strnlen(s, QUOTE_MAX + 1) > QUOTE_MAX ? "..." : "";
}

/* Placeholders every job may use; the others depend on its fields. */
#define TV_BASE                                                                                    \
  (TV_BIT(TV_PROJECT) | TV_BIT(TV_EPISODE) | TV_BIT(TV_SHOT) | TV_BIT(TV_JOB) |                    \
   TV_BIT(TV_JOB_ID) | TV_BIT(TV_TASK_ID) | TV_BIT(TV_ATTEMPT) | TV_BIT(TV_SEED) |                 \
   TV_BIT(TV_OUTPUT_DIR) | TV_BIT(TV_ATTEMPT_ID) | TV_BIT(TV_JOB_OUTPUT_DIR))
#define TV_FRAMES                                                                                  \
  (TV_BIT(TV_FRAME_START) | TV_BIT(TV_FRAME_END) | TV_BIT(TV_FRAME_STEP) | TV_BIT(TV_FRAME))

static const char *const kind_names[] = {
    [JOB_KIND_GENERATE] = "generate", [JOB_KIND_RENDER] = "render", [JOB_KIND_PROCESS] = "process"};

const char *job_kind_name(job_kind_t k) {
  return (unsigned)k < ARRAY_SIZE(kind_names) ? kind_names[k] : "?";
}

int job_kind_parse(const char *name) {
  for (size_t i = 0; name && i < ARRAY_SIZE(kind_names); i++)
    if (!strcmp(kind_names[i], name))
      return (int)i;
  return -1;
}

static const char *const top_fields[] = {"project", "episode", "jobs", NULL};
static const char *const job_fields[] = {
    "name",           "shot",      "kind",         "command",  "outputs",         "env",
    "provenance",     "requires",  "frames",       "chunk",    "takes",           "seed",
    "priority",       "timeout_s", "max_attempts", "max_lost", "retry_backoff_s", "after",
    "after_approval", NULL};
static const char *const requires_fields[] = {"gpus", "gpu_memory_mb", "cpus", "memory_mb",
                                              "tags", "limits",        "pool", NULL};

/* A dependency written as a name, resolved to an index in pass 2. */
typedef struct pending_name {
  size_t job, dep; /* jobs[job].deps[dep] */
  char *name;
} pending_name_t;

typedef struct parser {
  char *err;
  size_t errlen;
  pending_name_t *names; /* dependencies by name, in file order */
  size_t nnames, capnames;
} parser_t;

/* A dependency within the file: job `to`, through after_approval or after. */
typedef struct edge {
  size_t to;
  bool approval;
} edge_t;

const char *jf_dep_field(jf_dep_kind_t k) {
  return k == JF_DEP_APPROVAL ? "after_approval" : "after";
}

static int fail(parser_t *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* util_fail_line into the parser's error buffer: quoted user text could
 * carry control characters, and the message stays one line. */
static int fail(parser_t *ps, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  util_vfail_line(ps->err, ps->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* "at.key", or "key" at the top level. */
static const char *join(char *buf, size_t len, const char *at, const char *key) {
  snprintf(buf, len, "%s%s%s", at, *at ? "." : "", key);
  return buf;
}

static void free_strv(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* Refuses any member of obj not in known. */
static int check_fields(parser_t *ps, json_t *obj, const char *at, const char *const *known) {
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    size_t i = 0;
    while (known[i] && strcmp(known[i], key))
      i++;
    if (!known[i])
      return fail(ps, "%s%s%.*s%s: unknown field", at, *at ? "." : "", QARG(key));
  }
  return 0;
}

/* Copies the identifier obj.key into *out; NULL when absent and optional. */
static int get_ident(parser_t *ps, json_t *obj, const char *at, const char *key, bool required,
                     char **out) {
  char path[64];
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v)
    return required ? fail(ps, "%s: required", join(path, sizeof path, at, key)) : 0;
  if (!json_is_string(v))
    return fail(ps, "%s: must be a string (" IDENT_RULE ")", join(path, sizeof path, at, key));
  const char *s = json_string_value(v);
  if (!ident_valid(s))
    return fail(ps, "%s: '%.*s%s' is not an identifier (" IDENT_RULE ")",
                join(path, sizeof path, at, key), QARG(s));
  *out = xstrdup(s);
  return 0;
}

/* Reads the integer obj.key within [min, max] into *out, def when absent.
 * LLONG_MIN and LLONG_MAX as bounds mean "unbounded". */
static int get_int(parser_t *ps, json_t *obj, const char *at, const char *key, long long min,
                   long long max, long long def, long long *out) {
  json_t *v = json_object_get(obj, key);
  if (!v) {
    *out = def;
    return 0;
  }
  if (json_is_integer(v)) {
    long long x = json_integer_value(v);
    if (x >= min && x <= max) {
      *out = x;
      return 0;
    }
  }
  char path[64];
  join(path, sizeof path, at, key);
  if (min == LLONG_MIN && max == LLONG_MAX)
    return fail(ps, "%s: must be an integer", path);
  if (max == LLONG_MAX)
    return fail(ps, "%s: must be an integer of at least %lld", path, min);
  return fail(ps, "%s: must be an integer in [%lld, %lld]", path, min, max);
}

/* Copies the array of strings v (at `path`) into *out.  Each string has at
 * most JOBFILE_MAX_ARG bytes; the array at most max_items entries, and at
 * least one when required; entries may be empty only when allow_empty. */
static int get_strings(parser_t *ps, json_t *v, const char *path, size_t max_items, bool required,
                       bool allow_empty, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!json_is_array(v) || (required && json_array_size(v) == 0))
    return fail(ps, "%s: must be a%s array of strings", path, required ? " non-empty" : "n");
  size_t count = json_array_size(v);
  if (count > max_items)
    return fail(ps, "%s: %zu entries, more than %zu", path, count, max_items);
  *out = xcalloc(count, sizeof **out);
  for (size_t k = 0; k < count; k++) {
    json_t *e = json_array_get(v, k);
    if (!json_is_string(e))
      return fail(ps, "%s[%zu]: must be a string", path, k);
    if (json_string_length(e) > JOBFILE_MAX_ARG)
      return fail(ps, "%s[%zu]: %zu bytes, more than %zu", path, k, json_string_length(e),
                  JOBFILE_MAX_ARG);
    if (!allow_empty && json_string_length(e) == 0)
      return fail(ps, "%s[%zu]: must not be empty", path, k);
    (*out)[k] = xstrdup(json_string_value(e));
    (*n)++;
  }
  return 0;
}

static bool env_name_valid(const char *s) {
  size_t n = 0;
  for (const char *p = s; *p; p++, n++) {
    char c = *p;
    bool ok = (c >= 'A' && c <= 'Z') || c == '_' || (n > 0 && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return n >= 1 && n <= ENV_NAME_MAX;
}

static int get_env(parser_t *ps, json_t *v, const char *at, jf_job_t *job) {
  if (!json_is_object(v))
    return fail(ps, "%s.env: must be an object of NAME: value strings", at);
  job->env = xcalloc(json_object_size(v), sizeof *job->env);
  const char *key;
  json_t *val;
  json_object_foreach(v, key, val) {
    if (!env_name_valid(key))
      return fail(ps,
                  "%s.env: '%.*s%s' is not a variable name ([A-Z_][A-Z0-9_]*, at most %d "
                  "characters)",
                  at, QARG(key), ENV_NAME_MAX);
    if (!json_is_string(val))
      return fail(ps, "%s.env.%s: must be a string", at, key);
    if (json_string_length(val) > JOBFILE_MAX_ARG)
      return fail(ps, "%s.env.%s: %zu bytes, more than %zu", at, key, json_string_length(val),
                  JOBFILE_MAX_ARG);
    jf_env_t *e = &job->env[job->nenv++];
    e->name = xstrdup(key);
    e->value = xstrdup(json_string_value(val));
  }
  return 0;
}

/* Provenance: an object of strings, checked as input.h says (keys, values
 * and the whole within their caps, UTF-8 without NUL). */
static int get_provenance(parser_t *ps, json_t *v, const char *at, jf_job_t *job) {
  if (!v) {
    job->provenance_json = xstrdup("{}");
    return 0;
  }
  if (!json_is_object(v))
    return fail(ps, "%s.provenance: must be an object of strings", at);
  const char *key;
  json_t *val;
  size_t total = 0;
  char field[96], err[256];
  json_object_foreach(v, key, val) {
    snprintf(field, sizeof field, "%s.provenance.%.*s%s", at, QARG(key));
    if (!json_is_string(val))
      return fail(ps, "%s: must be a string", field);
    size_t klen = strlen(key), vlen = json_string_length(val);
    if (input_bytes(field, key, klen, INPUT_PROV_KEY_MAX, INPUT_ONE_LINE, err, sizeof err) < 0 ||
        input_bytes(field, json_string_value(val), vlen, INPUT_PROV_VALUE_MAX, INPUT_MULTI_LINE,
                    err, sizeof err) < 0) {
      if (klen > INPUT_PROV_KEY_MAX)
        snprintf(err, sizeof err, "%s: a key of %zu bytes, more than %u", field, klen,
                 INPUT_PROV_KEY_MAX);
      return fail(ps, "%s", err);
    }
    total += klen + vlen;
    if (total > INPUT_PROV_TOTAL_MAX)
      return fail(ps, "%s.provenance: more than %u bytes of keys and values", at,
                  INPUT_PROV_TOTAL_MAX);
  }
  job->provenance_json = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
  if (!job->provenance_json)
    return fail(ps, "%s.provenance: cannot be encoded", at);
  return 0;
}

/* Reads v.field, an optional array of at most max distinct identifiers,
 * into *out (*n of them). */
static int get_idents(parser_t *ps, json_t *v, const char *rat, const char *field, size_t max,
                      char ***out, size_t *n) {
  json_t *arr = json_object_get(v, field);
  if (!arr)
    return 0;
  if (!json_is_array(arr) || json_array_size(arr) > max)
    return fail(ps, "%s.%s: must be an array of at most %zu identifiers", rat, field, max);
  size_t len = json_array_size(arr);
  *out = xcalloc(len ? len : 1, sizeof **out);
  for (size_t k = 0; k < len; k++) {
    const char *s = json_string_value(json_array_get(arr, k));
    if (!s || !ident_valid(s))
      return fail(ps, "%s.%s[%zu]: must be an identifier (" IDENT_RULE ")", rat, field, k);
    for (size_t j = 0; j < k; j++)
      if (!strcmp((*out)[j], s))
        return fail(ps, "%s.%s[%zu]: '%s' is listed twice", rat, field, k, s);
    (*out)[(*n)++] = xstrdup(s);
  }
  return 0;
}

static int get_requires(parser_t *ps, json_t *v, const char *at, jf_requires_t *req) {
  req->cpus = 1;
  if (!v)
    return 0;
  char rat[48];
  snprintf(rat, sizeof rat, "%s.requires", at);
  if (!json_is_object(v))
    return fail(ps, "%s: must be an object", rat);
  if (check_fields(ps, v, rat, requires_fields) < 0)
    return -1;
  long long x = 0;
  if (get_int(ps, v, rat, "gpus", 0, JOBFILE_MAX_GPUS, 0, &x) < 0)
    return -1;
  req->gpus = (uint32_t)x;
  if (get_int(ps, v, rat, "gpu_memory_mb", 0, MAX_GPU_MEMORY_MB, 0, &x) < 0)
    return -1;
  req->gpu_memory_mb = (uint64_t)x;
  if (get_int(ps, v, rat, "cpus", 0, MAX_CPUS, 1, &x) < 0)
    return -1;
  req->cpus = (uint32_t)x;
  if (get_int(ps, v, rat, "memory_mb", 0, MAX_MEMORY_MB, 0, &x) < 0)
    return -1;
  req->memory_mb = (uint64_t)x;
  if (get_idents(ps, v, rat, "tags", JOBFILE_MAX_TAGS, &req->tags, &req->ntags) < 0 ||
      get_idents(ps, v, rat, "limits", JOBFILE_MAX_LIMITS, &req->limits, &req->nlimits) < 0)
    return -1;
  json_t *pool = json_object_get(v, "pool");
  if (pool) {
    const char *s = json_string_value(pool);
    if (!s || !ident_valid(s))
      return fail(ps, "%s.pool: must be an identifier (" IDENT_RULE ")", rat);
    req->pool = xstrdup(s);
  }
  return 0;
}

/* Reads after or after_approval (kind) of jobs[i] into job->deps: job names
 * (resolved in pass 2) or job ids, as a JSON integer or a decimal string
 * (leading zeros allowed).  The same job listed twice is refused. */
static int get_deps(parser_t *ps, json_t *obj, const char *at, jf_dep_kind_t kind, size_t i,
                    jf_job_t *job, size_t *capdeps) {
  const char *key = jf_dep_field(kind);
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_array(v))
    return fail(ps, "%s.%s: must be an array of job names or job ids%s", at, key,
                kind == JF_DEP_AFTER ? " (or {\"job\": NAME, \"frames\": true})" : "");
  size_t first = job->ndeps;
  for (size_t k = 0; k < json_array_size(v); k++) {
    json_t *e = json_array_get(v, k);
    jf_dep_t d = {.kind = kind, .pos = k};
    const char *name = NULL;
    char eat[96];
    snprintf(eat, sizeof eat, "%s.%s[%zu]", at, key, k);
    bool as_obj = json_is_object(e) && kind == JF_DEP_AFTER;
    if (as_obj) {
      /* {"job": NAME or ID, "frames": true}: frame-wise (docs/jobfile.md). */
      static const char *const dep_fields[] = {"job", "frames", NULL};
      if (check_fields(ps, e, eat, dep_fields) < 0)
        return -1;
      json_t *f = json_object_get(e, "frames");
      if (f && !json_is_boolean(f))
        return fail(ps, "%s.frames: must be true or false", eat);
      d.frames = f && json_is_true(f);
      if (d.frames && !job->has_frames)
        return fail(ps, "%s.frames: this job has no frames (frame-wise after needs frames on "
                        "both jobs)",
                    eat);
      e = json_object_get(e, "job");
      if (!e)
        return fail(ps, "%s.job: required (a job name or a job id)", eat);
    }
    if (json_is_integer(e)) {
      if (json_integer_value(e) < 1)
        return fail(ps, "%s.%s[%zu]: %lld is not a job id (ids start at 1)", at, key, k,
                    (long long)json_integer_value(e));
      d.by_id = true;
      d.job_id = (uint64_t)json_integer_value(e);
    } else if (json_is_string(e)) {
      const char *str = json_string_value(e);
      if (util_all_digits(str)) {
        if (util_parse_u64(str, 1, INT64_MAX, &d.job_id) < 0)
          return fail(ps, "%s.%s[%zu]: '%.*s%s' is not a job id (1 to %lld)", at, key, k,
                      QARG(str), (long long)INT64_MAX);
        d.by_id = true;
      } else if (!strcmp(str, job->name)) {
        return fail(ps, "%s.%s[%zu]: a job cannot wait for itself", at, key, k);
      } else {
        name = str;
      }
    } else if (as_obj) {
      return fail(ps, "%s.job: must be a job name or a job id", eat);
    } else {
      return fail(ps, "%s: must be a job name or a job id%s", eat,
                  kind == JF_DEP_AFTER ? " (or {\"job\": NAME, \"frames\": true})" : "");
    }
    for (size_t m = first; m < job->ndeps; m++) {
      const jf_dep_t *o = &job->deps[m];
      bool same = o->by_id ? d.by_id && o->job_id == d.job_id
                           : name && !strcmp(ps->names[o->index].name, name);
      if (same) {
        if (d.by_id)
          return fail(ps, "%s.%s[%zu]: '%" PRIu64 "' is listed twice", at, key, k, d.job_id);
        return fail(ps, "%s.%s[%zu]: '%.*s%s' is listed twice", at, key, k, QARG(name));
      }
    }
    if (name) { /* until pass 2, index points into ps->names */
      d.index = ps->nnames;
      ARRAY_PUSH(ps->names, ps->nnames, ps->capnames,
                 ((pending_name_t){.job = i, .dep = job->ndeps, .name = xstrdup(name)}));
    }
    ARRAY_PUSH(job->deps, job->ndeps, *capdeps, d);
  }
  if (kind == JF_DEP_APPROVAL)
    job->gated = job->ndeps > first;
  return 0;
}

/* Runs template_check on one string and reports a problem at at.what[k],
 * or at.what when k is SIZE_MAX; adds the placeholders used to *used. */
static int check_template(parser_t *ps, const char *s, unsigned allowed, unsigned *used,
                          const char *at, const char *what, size_t k) {
  char msg[256];
  unsigned u = 0;
  if (template_check(s, allowed, &u, msg, sizeof msg) == 0) {
    *used |= u;
    return 0;
  }
  if (k == SIZE_MAX)
    return fail(ps, "%s.%s: %s", at, what, msg);
  return fail(ps, "%s.%s[%zu]: %s", at, what, k, msg);
}

/* The most strings a task may get from n templates of which r repeat per
 * frame, with chunks of at most f frames. */
static uint64_t repeated_count(size_t n, size_t r, uint64_t f) { return (n - r) + r * f; }

/* With {frame}, the arguments and outputs of the largest chunk of job must
 * stay within JOBFILE_MAX_ARGS and JOBFILE_MAX_OUTPUTS. */
static int check_repeats(parser_t *ps, const jf_job_t *job, const char *at) {
  uint64_t f = 1;
  for (size_t t = 0; t < job->ntasks; t++) {
    const jf_task_t *tk = &job->tasks[t];
    uint64_t n = (uint64_t)(tk->frame_end - tk->frame_start) / (uint64_t)tk->frame_step + 1;
    if (n > f)
      f = n;
  }
  size_t ra = 0, ro = 0;
  for (size_t k = 0; k < job->ncommand; k++)
    ra += template_repeats(job->command[k]);
  for (size_t k = 0; k < job->noutputs; k++)
    ro += template_repeats(job->outputs[k]);
  uint64_t na = repeated_count(job->ncommand, ra, f), no = repeated_count(job->noutputs, ro, f);
  if (na > JOBFILE_MAX_ARGS)
    return fail(ps,
                "%s.command: {frame} repeats %zu arguments for each of up to %" PRIu64
                " frames of a chunk: %" PRIu64 " arguments, more than %d (make chunk smaller)",
                at, ra, f, na, JOBFILE_MAX_ARGS);
  if (no > JOBFILE_MAX_OUTPUTS)
    return fail(ps,
                "%s.outputs: {frame} repeats %zu outputs for each of up to %" PRIu64
                " frames of a chunk: %" PRIu64 " outputs, more than %d (make chunk smaller)",
                at, ro, f, no, JOBFILE_MAX_OUTPUTS);
  return 0;
}

/* Fills job->tasks: one per frame chunk, one per take, or one. */
static void expand_tasks(jf_job_t *job, const frame_set_t *fs, uint64_t chunk, long long takes,
                         uint64_t ntasks) {
  job->tasks = xcalloc(ntasks, sizeof *job->tasks);
  job->ntasks = ntasks;
  if (fs) {
    frame_chunk_t *ch = xcalloc(ntasks, sizeof *ch);
    size_t n = frames_chunks(fs, chunk, ch);
    for (size_t t = 0; t < n; t++) {
      job->tasks[t] = (jf_task_t){.frame_start = ch[t].start,
                                  .frame_end = ch[t].end,
                                  .frame_step = ch[t].step,
                                  .take = 0,
                                  .seed = job->seed};
    }
    free(ch);
  } else if (takes > 0) {
    for (long long t = 1; t <= takes; t++)
      job->tasks[t - 1] = (jf_task_t){.frame_step = 1, .take = t, .seed = job->seed + (t - 1)};
  } else {
    job->tasks[0] = (jf_task_t){.frame_step = 1, .seed = job->seed};
  }
}

/* Validates jobs[i] (obj) into job.  names maps the names seen so far to
 * their index; *total is the running task count. */
static int parse_job(parser_t *ps, json_t *obj, size_t i, jf_job_t *job, json_t *names,
                     uint64_t *total) {
  char at[32], path[64];
  snprintf(at, sizeof at, "jobs[%zu]", i);
  frame_set_t fs = {0};
  bool have_frames = false;
  int rc = -1;
  long long x = 0;

  if (!json_is_object(obj))
    return fail(ps, "%s: must be an object", at);
  if (check_fields(ps, obj, at, job_fields) < 0)
    return -1;

  if (get_ident(ps, obj, at, "name", true, &job->name) < 0)
    return -1;
  if (util_all_digits(job->name))
    return fail(ps, "%s.name: '%s' is all digits, which reads as a job id", at, job->name);
  json_t *prev = json_object_get(names, job->name);
  if (prev)
    return fail(ps, "%s.name: '%s' is already the name of jobs[%lld]", at, job->name,
                (long long)json_integer_value(prev));
  json_object_set_new(names, job->name, json_integer((json_int_t)i));

  if (get_ident(ps, obj, at, "shot", false, &job->shot) < 0)
    return -1;

  job->kind = JOB_KIND_PROCESS;
  json_t *v = json_object_get(obj, "kind");
  if (v) {
    int k = job_kind_parse(json_string_value(v));
    if (k < 0)
      return fail(ps, "%s.kind: must be one of generate, render, process", at);
    job->kind = (job_kind_t)k;
  }

  v = json_object_get(obj, "command");
  if (!v)
    return fail(ps, "%s.command: required", at);
  if (get_strings(ps, v, join(path, sizeof path, at, "command"), JOBFILE_MAX_ARGS, true, true,
                  &job->command, &job->ncommand) < 0)
    return -1;
  if (job->command[0][0] == '\0')
    return fail(ps, "%s.command[0]: the program must not be empty", at);

  v = json_object_get(obj, "outputs");
  if (v && get_strings(ps, v, join(path, sizeof path, at, "outputs"), SIZE_MAX, false, false,
                       &job->outputs, &job->noutputs) < 0)
    return -1;

  v = json_object_get(obj, "env");
  if (v && get_env(ps, v, at, job) < 0)
    return -1;
  if (get_provenance(ps, json_object_get(obj, "provenance"), at, job) < 0)
    return -1;
  if (get_requires(ps, json_object_get(obj, "requires"), at, &job->req) < 0)
    return -1;

  v = json_object_get(obj, "frames");
  if (v) {
    char msg[256];
    if (!json_is_string(v))
      return fail(ps, "%s.frames: must be a string such as \"1-100\", \"1-100x2\" or \"1,5,10-20\"",
                  at);
    if (frames_parse(json_string_value(v), &fs, msg, sizeof msg) < 0)
      return fail(ps, "%s.frames: %s", at, msg);
    have_frames = true;
  }
  /* From here on fs may own memory: leave through `out`. */
  long long chunk = 1, takes = 0;
  if (json_object_get(obj, "chunk") && !have_frames) {
    fail(ps, "%s.chunk: only allowed together with frames", at);
    goto out;
  }
  if (get_int(ps, obj, at, "chunk", 1, LLONG_MAX, 1, &chunk) < 0)
    goto out;
  if (json_object_get(obj, "takes") && have_frames) {
    fail(ps, "%s.takes: cannot be combined with frames", at);
    goto out;
  }
  if (get_int(ps, obj, at, "takes", 1, MAX_TAKES, 0, &takes) < 0)
    goto out;
  if (get_int(ps, obj, at, "seed", LLONG_MIN, LLONG_MAX, 0, &x) < 0)
    goto out;
  job->seed = x;
  if (takes > 1 && job->seed > LLONG_MAX - (takes - 1)) {
    fail(ps, "%s.seed: %lld leaves no room for %lld takes (seed + takes - 1 must not exceed %lld)",
         at, (long long)job->seed, takes, LLONG_MAX);
    goto out;
  }
  const struct {
    const char *key;
    long long min, max, def;
    uint32_t *out;
  } limits[] = {
      {"priority", 0, MAX_PRIORITY, 50, &job->priority},
      {"timeout_s", 0, MAX_TIMEOUT_S, 0, &job->timeout_s},
      {"max_attempts", 1, MAX_ATTEMPTS, 3, &job->max_attempts},
      {"max_lost", 0, MAX_LOST, 5, &job->max_lost},
      {"retry_backoff_s", 0, MAX_BACKOFF_S, 10, &job->retry_backoff_s},
  };
  for (size_t k = 0; k < ARRAY_SIZE(limits); k++) {
    if (get_int(ps, obj, at, limits[k].key, limits[k].min, limits[k].max, limits[k].def, &x) < 0)
      goto out;
    *limits[k].out = (uint32_t)x;
  }

  size_t capdeps = 0;
  job->has_frames = have_frames; /* frame-wise `after` needs it */
  if (get_deps(ps, obj, at, JF_DEP_AFTER, i, job, &capdeps) < 0 ||
      get_deps(ps, obj, at, JF_DEP_APPROVAL, i, job, &capdeps) < 0)
    goto out;

  unsigned allowed = TV_BASE | (have_frames ? TV_FRAMES : 0) | (takes ? TV_BIT(TV_TAKE) : 0) |
                     (job->gated ? TV_BIT(TV_APPROVED_OUTPUT) : 0);
  unsigned used = 0;
  for (size_t k = 0; k < job->ncommand; k++)
    if (check_template(ps, job->command[k], allowed, &used, at, "command", k) < 0)
      goto out;
  for (size_t k = 0; k < job->noutputs; k++)
    if (check_template(ps, job->outputs[k], allowed, &used, at, "outputs", k) < 0)
      goto out;
  for (size_t k = 0; k < job->nenv; k++) {
    char what[ENV_NAME_MAX + 8];
    snprintf(what, sizeof what, "env.%s", job->env[k].name);
    if (check_template(ps, job->env[k].value, allowed, &used, at, what, SIZE_MAX) < 0)
      goto out;
    if (template_repeats(job->env[k].value)) {
      fail(ps,
           "%s.%s: {frame} repeats an argument or an output once per frame, an env value cannot "
           "be repeated (use {frame_start} and {frame_end})",
           at, what);
      goto out;
    }
  }
  job->placeholders = used;
  job->has_frames = have_frames;
  job->has_takes = takes > 0;

  uint64_t ntasks = have_frames ? frames_chunk_count(&fs, (uint64_t)chunk)
                    : takes     ? (uint64_t)takes
                                : 1;
  if (*total + ntasks > JOBFILE_MAX_TASKS) {
    fail(ps, "%s: the submission would have %" PRIu64 " tasks, more than %d", at, *total + ntasks,
         JOBFILE_MAX_TASKS);
    goto out;
  }
  *total += ntasks;
  expand_tasks(job, have_frames ? &fs : NULL, (uint64_t)chunk, takes, ntasks);
  if ((used & TV_BIT(TV_FRAME)) && check_repeats(ps, job, at) < 0)
    goto out;

  job->spec_json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
  if (!job->spec_json) {
    fail(ps, "%s: cannot be encoded", at);
    goto out;
  }
  rc = 0;
out:
  frames_free(&fs);
  return rc;
}

void jf_frames_overlap(const jf_task_t *on, size_t n, int64_t start, int64_t end, size_t *lo,
                       size_t *hi) {
  size_t l = 0, h = n;
  while (l < h) { /* the first task ending at start or later */
    size_t m = l + (h - l) / 2;
    if (on[m].frame_end < start)
      l = m + 1;
    else
      h = m;
  }
  *lo = l;
  h = n;
  while (l < h) { /* the first task starting after end */
    size_t m = l + (h - l) / 2;
    if (on[m].frame_start <= end)
      l = m + 1;
    else
      h = m;
  }
  *hi = l;
}

bool jf_frames_covered(const jf_task_t *on, size_t n, const jf_task_t *t, int64_t *missing) {
  int64_t step = t->frame_step > 0 ? t->frame_step : 1;
  for (int64_t f = t->frame_start; f <= t->frame_end;) {
    size_t lo, hi;
    jf_frames_overlap(on, n, f, f, &lo, &hi);
    if (lo == hi) {
      *missing = f;
      return false;
    }
    /* The next frame of t after that task's range. */
    f += ((on[lo].frame_end - f) / step + 1) * step;
  }
  return true;
}

/* A frame-wise `after` of jobs[i] on jobs[d->index]: both have frames and
 * the other covers every frame of this one (a frame it does not cover
 * would wait for nothing: refused rather than guessed). */
static int check_frames_dep(parser_t *ps, const jobfile_t *jf, size_t i, const jf_dep_t *d) {
  const jf_job_t *job = &jf->jobs[i], *on = &jf->jobs[d->index];
  if (!on->has_frames)
    return fail(ps, "jobs[%zu].after[%zu].frames: job '%s' has no frames", i, d->pos, on->name);
  for (size_t k = 0; k < job->ntasks; k++) {
    int64_t f;
    if (!jf_frames_covered(on->tasks, on->ntasks, &job->tasks[k], &f))
      return fail(ps, "jobs[%zu].after[%zu].frames: frame %lld of this job is not a frame of "
                      "job '%s'",
                  i, d->pos, (long long)f, on->name);
  }
  return 0;
}

/* Pass 2: every dependency by name must name another job of the file;
 * fills in its index.  Builds the edges of the dependency graph,
 * eoff[i]..eoff[i+1] for job i. */
static int resolve(parser_t *ps, jobfile_t *jf, json_t *names, edge_t **edges, size_t **eoff) {
  for (size_t n = 0; n < ps->nnames; n++) {
    const pending_name_t *pn = &ps->names[n];
    jf_dep_t *d = &jf->jobs[pn->job].deps[pn->dep];
    json_t *idx = json_object_get(names, pn->name);
    if (!idx)
      return fail(ps, "jobs[%zu].%s[%zu]: no job named '%.*s%s' in this file", pn->job,
                  jf_dep_field(d->kind), d->pos, QARG(pn->name));
    d->index = (size_t)json_integer_value(idx);
    if (d->frames && check_frames_dep(ps, jf, pn->job, d) < 0)
      return -1;
  }
  size_t total = 0;
  for (size_t i = 0; i < jf->njobs; i++)
    total += jf->jobs[i].ndeps;
  *edges = xcalloc(total, sizeof **edges);
  *eoff = xcalloc(jf->njobs + 1, sizeof **eoff);
  size_t ne = 0;
  for (size_t i = 0; i < jf->njobs; i++) {
    (*eoff)[i] = ne;
    for (size_t k = 0; k < jf->jobs[i].ndeps; k++) {
      const jf_dep_t *d = &jf->jobs[i].deps[k];
      if (!d->by_id)
        (*edges)[ne++] = (edge_t){.to = d->index, .approval = d->kind == JF_DEP_APPROVAL};
    }
  }
  (*eoff)[jf->njobs] = ne;
  return 0;
}

/* What check_refs tells the callback of template_job_refs. */
typedef struct ref_ctx {
  parser_t *ps;
  json_t *names;
  size_t job;
  const char *field; /* "command[3]", "env.X" */
} ref_ctx_t;

static int check_ref(void *arg, const char *name, size_t n) {
  ref_ctx_t *rc = arg;
  char buf[JOB_NAME_MAX + 1];
  int q = (int)(n < QUOTE_MAX ? n : QUOTE_MAX);
  const char *cut = n > QUOTE_MAX ? "..." : "";
  if (n >= sizeof buf)
    return fail(rc->ps, "jobs[%zu].%s: {job:%.*s%s:output_dir}: no job named '%.*s%s' in this file",
                rc->job, rc->field, q, name, cut, q, name, cut);
  memcpy(buf, name, n);
  buf[n] = '\0';
  json_t *idx = json_object_get(rc->names, buf);
  if (!idx)
    return fail(rc->ps, "jobs[%zu].%s: {job:%s:output_dir}: no job named '%s' in this file",
                rc->job, rc->field, buf, buf);
  if ((size_t)json_integer_value(idx) == rc->job)
    return fail(rc->ps,
                "jobs[%zu].%s: {job:%s:output_dir} names the job itself, use {output_dir}",
                rc->job, rc->field, buf);
  return 0;
}

/* Pass 2 too: every {job:NAME:output_dir} names another job of the file. */
static int check_refs(parser_t *ps, const jobfile_t *jf, json_t *names) {
  for (size_t i = 0; i < jf->njobs; i++) {
    const jf_job_t *job = &jf->jobs[i];
    if (!(job->placeholders & TV_BIT(TV_JOB_OUTPUT_DIR)))
      continue;
    char field[ENV_NAME_MAX + 32];
    ref_ctx_t rc = {.ps = ps, .names = names, .job = i, .field = field};
    for (size_t k = 0; k < job->ncommand; k++) {
      snprintf(field, sizeof field, "command[%zu]", k);
      if (template_job_refs(job->command[k], check_ref, &rc))
        return -1;
    }
    for (size_t k = 0; k < job->noutputs; k++) {
      snprintf(field, sizeof field, "outputs[%zu]", k);
      if (template_job_refs(job->outputs[k], check_ref, &rc))
        return -1;
    }
    for (size_t k = 0; k < job->nenv; k++) {
      snprintf(field, sizeof field, "env.%s", job->env[k].name);
      if (template_job_refs(job->env[k].value, check_ref, &rc))
        return -1;
    }
  }
  return 0;
}

/* Pass 3: an iterative depth-first search that reports the first cycle at
 * the job whose dependency closes it. */
static int find_cycle(parser_t *ps, const jobfile_t *jf, const edge_t *edges, const size_t *eoff) {
  size_t n = jf->njobs;
  unsigned char *color = xcalloc(n, 1);    /* 0 unseen, 1 on the stack, 2 done */
  size_t *next = xcalloc(n, sizeof *next); /* next edge to follow */
  size_t *stack = xcalloc(n, sizeof *stack);
  size_t *depth = xcalloc(n, sizeof *depth); /* position on the stack */
  int rc = 0;
  for (size_t root = 0; root < n && rc == 0; root++) {
    if (color[root])
      continue;
    size_t sp = 0;
    stack[sp++] = root;
    color[root] = 1;
    depth[root] = 0;
    next[root] = eoff[root];
    while (sp > 0 && rc == 0) {
      size_t u = stack[sp - 1];
      if (next[u] == eoff[u + 1]) {
        color[u] = 2;
        sp--;
        continue;
      }
      const edge_t *e = &edges[next[u]++];
      size_t w = e->to;
      if (color[w] == 0) {
        color[w] = 1;
        depth[w] = sp;
        next[w] = eoff[w];
        stack[sp++] = w;
      } else if (color[w] == 1) {
        sbuf_t sb = {0};
        for (size_t d = depth[w]; d < sp; d++)
          sbuf_printf(&sb, "%s -> ", jf->jobs[stack[d]].name);
        sbuf_puts(&sb, jf->jobs[w].name);
        rc = fail(ps, "jobs[%zu].%s: dependency cycle %s", u,
                  e->approval ? "after_approval" : "after", sb.buf);
        sbuf_free(&sb);
      }
    }
  }
  free(color);
  free(next);
  free(stack);
  free(depth);
  return rc;
}

static int parse_top(parser_t *ps, json_t *root, jobfile_t *jf, json_t *names) {
  if (!json_is_object(root))
    return fail(ps, "job file: must be a JSON object");
  if (check_fields(ps, root, "", top_fields) < 0)
    return -1;
  if (get_ident(ps, root, "", "project", true, &jf->project) < 0 ||
      get_ident(ps, root, "", "episode", true, &jf->episode) < 0)
    return -1;
  json_t *jobs = json_object_get(root, "jobs");
  if (!jobs)
    return fail(ps, "jobs: required");
  if (!json_is_array(jobs))
    return fail(ps, "jobs: must be an array of job objects");
  size_t n = json_array_size(jobs);
  if (n == 0)
    return fail(ps, "jobs: must hold at least one job");
  if (n > JOBFILE_MAX_JOBS)
    return fail(ps, "jobs: %zu jobs, more than %d", n, JOBFILE_MAX_JOBS);
  jf->jobs = xcalloc(n, sizeof *jf->jobs);
  jf->njobs = n;
  for (size_t i = 0; i < n; i++)
    if (parse_job(ps, json_array_get(jobs, i), i, &jf->jobs[i], names, &jf->ntasks) < 0)
      return -1;
  return 0;
}

jobfile_t *jobfile_parse(const char *text, size_t len, char *err, size_t errlen) {
  return jobfile_parse_flags(text, len, 0, err, errlen);
}

jobfile_t *jobfile_parse_flags(const char *text, size_t len, unsigned flags, char *err,
                               size_t errlen) {
  parser_t ps = {.err = err, .errlen = errlen};
  if (err && errlen)
    err[0] = '\0';
  if (!text) {
    fail(&ps, "job file: no text");
    return NULL;
  }
  if (len > JOBFILE_MAX_BYTES) {
    fail(&ps, "job file: %zu bytes, more than the limit of %zu", len, JOBFILE_MAX_BYTES);
    return NULL;
  }
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
  if (!root) {
    fail(&ps, "job file: invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
    return NULL;
  }
  jobfile_t *jf = xcalloc(1, sizeof *jf);
  json_t *names = json_object();
  edge_t *edges = NULL;
  size_t *eoff = NULL;
  int rc = parse_top(&ps, root, jf, names);
  if (rc == 0 && (flags & JOBFILE_STORED)) {
    /* Resolved at submit: only their form mattered. */
    for (size_t i = 0; i < jf->njobs; i++) {
      free(jf->jobs[i].deps);
      jf->jobs[i].deps = NULL;
      jf->jobs[i].ndeps = 0;
    }
  } else if (rc == 0) {
    rc = resolve(&ps, jf, names, &edges, &eoff);
    if (rc == 0)
      rc = check_refs(&ps, jf, names);
    if (rc == 0)
      rc = find_cycle(&ps, jf, edges, eoff);
  }
  for (size_t n = 0; n < ps.nnames; n++)
    free(ps.names[n].name);
  free(ps.names);
  free(edges);
  free(eoff);
  json_decref(names);
  json_decref(root);
  if (rc < 0)
    jobfile_free(&jf);
  return jf;
}

static void job_free(jf_job_t *job) {
  free(job->name);
  free(job->shot);
  free_strv(job->command, job->ncommand);
  free_strv(job->outputs, job->noutputs);
  for (size_t k = 0; k < job->nenv; k++) {
    free(job->env[k].name);
    free(job->env[k].value);
  }
  free(job->env);
  free(job->provenance_json);
  free_strv(job->req.tags, job->req.ntags);
  free_strv(job->req.limits, job->req.nlimits);
  free(job->req.pool);
  free(job->deps);
  free(job->tasks);
  free(job->spec_json);
}

void jobfile_free(jobfile_t **pjf) {
  if (!pjf || !*pjf)
    return;
  jobfile_t *jf = *pjf;
  for (size_t i = 0; i < jf->njobs; i++)
    job_free(&jf->jobs[i]);
  free(jf->jobs);
  free(jf->project);
  free(jf->episode);
  free(jf);
  *pjf = NULL;
}
