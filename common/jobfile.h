/*
 * jobfile.h - parsing and validating a job file (docs/jobfile.md).
 *
 * jobfile_parse turns the JSON text of a submission into jobs with their
 * tasks expanded (one per frame chunk, one per take, or a single one).  It
 * checks every field and refuses the whole file at the first problem with a
 * one-line message that starts with the path of the offending field:
 *   "jobs[0].frames: '1-x' is not a frame range (expected e.g. 1-100, ...)"
 *   "jobs[2].requires.gpus: must be an integer in [0, 64]"
 *   "jobs[1].command[3]: unknown placeholder {fram_start}"
 * Nothing is partially accepted.  Both the client (to fail early) and the
 * coordinator (the authority) run it on the same text.
 */
#ifndef CLAPPER_JOBFILE_H
#define CLAPPER_JOBFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define JOBFILE_MAX_BYTES ((size_t)16 << 20)
#define JOBFILE_MAX_JOBS 10000
#define JOBFILE_MAX_TASKS 1000000
#define JOBFILE_MAX_ARG ((size_t)64 << 10)   /* per argument, output, env or provenance value */
#define JOBFILE_MAX_ARGS 4096                /* arguments in one command, {frame} repeats included */
#define JOBFILE_MAX_OUTPUTS 4096             /* outputs of one task, {frame} repeats included */
#define JOBFILE_MAX_GPUS 64
#define JOBFILE_MAX_TAGS 64
#define JOBFILE_MAX_LIMITS 16 /* licence limits one job may require */

typedef enum job_kind { JOB_KIND_GENERATE = 0, JOB_KIND_RENDER, JOB_KIND_PROCESS } job_kind_t;

/* "generate", "render", "process". */
const char *job_kind_name(job_kind_t k);
/* Returns the kind or -1. */
int job_kind_parse(const char *name);

typedef struct jf_requires {
  uint32_t gpus;          /* [0, 64], default 0 */
  uint64_t gpu_memory_mb; /* each assigned GPU must have this much; default 0 */
  uint32_t cpus;          /* [0, 4096], default 1 */
  uint64_t memory_mb;     /* default 0 */
  char **tags;            /* identifiers, all required on the worker */
  size_t ntags;
  char **limits;          /* licence limits (identifiers): each task holds one unit of each */
  size_t nlimits;
  char *pool;             /* the pool of workers it runs on (identifier), or NULL: any */
} jf_requires_t;

typedef struct jf_env {
  char *name;  /* [A-Z_][A-Z0-9_]*, at most 128 characters */
  char *value; /* a template */
} jf_env_t;

typedef struct jf_task {
  int64_t frame_start, frame_end, frame_step; /* 0, 0, 1 without frames */
  int64_t take;                               /* 1-based take, 0 without takes */
  int64_t seed;                               /* job seed + take - 1 for takes */
} jf_task_t;

/* A dependency: `after` (the job waits until the other job succeeded) or
 * `after_approval` (until a take of the other job, or of a retake of it, is
 * approved).  The other job is one of the same file, by its index, or an
 * existing job, by its id; names never leave the parser. */
typedef enum jf_dep_kind { JF_DEP_AFTER = 0, JF_DEP_APPROVAL } jf_dep_kind_t;
typedef struct jf_dep {
  jf_dep_kind_t kind;
  bool by_id;
  bool frames;     /* after only: {"job": ..., "frames": true}, frame-wise */
  size_t index;    /* !by_id: jobs[index] of this file (never the job itself) */
  uint64_t job_id; /* by_id: an id in [1, INT64_MAX] the caller must check exists */
  size_t pos;      /* where it was written: after[pos] or after_approval[pos] */
} jf_dep_t;

/* Frame-wise `after`: the tasks of a job with frames are chunks in
 * ascending order that do not overlap, so the tasks of `on` (n of them)
 * whose frame range meets [start, end] are on[*lo] .. on[*hi - 1]. */
void jf_frames_overlap(const jf_task_t *on, size_t n, int64_t start, int64_t end, size_t *lo,
                       size_t *hi);

/* Whether every frame of t lies in the frame range of a task of `on`;
 * when not, *missing is the first frame that does not. */
bool jf_frames_covered(const jf_task_t *on, size_t n, const jf_task_t *t, int64_t *missing);

/* "after" or "after_approval", the field a dependency of kind k came from. */
const char *jf_dep_field(jf_dep_kind_t k);

typedef struct jf_job {
  char *name;                 /* identifier, unique within the file, not all digits */
  char *shot;                 /* identifier, or NULL when absent */
  job_kind_t kind;            /* default process */
  char **command;             /* templates; at least one */
  size_t ncommand;
  char **outputs;             /* templates of files checked after the run */
  size_t noutputs;
  jf_env_t *env;              /* extra environment for the task */
  size_t nenv;
  char *provenance_json;      /* compact JSON object of strings, "{}" when absent */
  jf_requires_t req;
  uint32_t priority;          /* [0, 100], default 50 */
  uint32_t timeout_s;         /* [0, 31536000], 0 = none (default) */
  uint32_t max_attempts;      /* [1, 100], default 3 */
  uint32_t max_lost;          /* [0, 100], default 5: requeues after lost attempts */
  uint32_t retry_backoff_s;   /* [0, 86400], default 10 */
  int64_t seed;               /* default 0 */
  unsigned placeholders;      /* TV_BIT mask of placeholders used anywhere */
  bool has_frames;            /* "frames" was given: tasks are frame chunks */
  bool has_takes;             /* "takes" was given: tasks are takes */
  jf_dep_t *deps;             /* `after` entries in file order, then `after_approval` ones */
  size_t ndeps;
  bool gated;                 /* has after_approval entries: {approved_output} is allowed */
  jf_task_t *tasks;           /* at least one */
  size_t ntasks;
  char *spec_json;            /* the job object as submitted, compact JSON */
} jf_job_t;

typedef struct jobfile {
  char *project; /* identifier */
  char *episode; /* identifier */
  jf_job_t *jobs;
  size_t njobs;
  uint64_t ntasks; /* over all jobs, at most JOBFILE_MAX_TASKS */
} jobfile_t;

/* Parses and validates len bytes of JSON.  Returns the job file (release
 * with jobfile_free) or NULL with a one-line message in err naming the
 * field.  Dependencies on jobs of the same file must not form a cycle;
 * those by id name existing jobs the caller must check. */
jobfile_t *jobfile_parse(const char *text, size_t len, char *err, size_t errlen) MUSTCHECK;

/* Parse flags. */
enum {
  /* The text is a job stored after its submission: its dependencies were
   * resolved to job ids then and are kept elsewhere (job_deps), so after
   * and after_approval are checked for their form only and not kept
   * (ndeps is 0; gated still says whether after_approval was given). */
  JOBFILE_STORED = 1u << 0,
};

/* jobfile_parse with flags. */
jobfile_t *jobfile_parse_flags(const char *text, size_t len, unsigned flags, char *err,
                               size_t errlen) MUSTCHECK;

/* Releases a job file and sets *jf to NULL. */
void jobfile_free(jobfile_t **jf);

#endif
