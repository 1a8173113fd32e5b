/*
 * template.h - placeholders in command arguments and output paths.
 *
 * A template is a string in which "{name}" is replaced per task.  The names
 * are {project} {episode} {shot} {job} {job_id} {task_id} {attempt} (the
 * try number, 1, 2, ...) {attempt_id} {frame_start} {frame_end}
 * {frame_step} {frame} {take} {seed} {output_dir} {approved_output}, and
 * {job:NAME:output_dir}, the output directory of the job NAME of the same
 * submission (resolved at submit: template_resolve_jobs).  "{{" and "}}"
 * stand for literal braces.
 *
 * A number may be zero-padded to a width as in Python: {frame_start:04}
 * is 0007 for 7 (-007 for -7; wider numbers are not cut).  No other format
 * is accepted, and text placeholders take none.
 *
 * {frame} stands for one frame of the task's chunk: a string that holds it
 * is repeated once per frame (template_repeats), the caller setting
 * vals.frame for each copy.
 *
 * A '{' that does not start "{{" or a placeholder is literal, so JSON or
 * shell text passes through.  A placeholder is "{word}" or "{word:spec}"
 * with word made of [a-z_]; "{word:spec}" with an unknown word is literal
 * unless spec is a width (digits), so that "${var:-default}" passes but
 * "{fram_start:04}" is a typo.  "{word}" with an unknown word is an error,
 * so that typos are caught at submit.
 */
#ifndef CLAPPER_TEMPLATE_H
#define CLAPPER_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum template_var {
  TV_PROJECT = 0,
  TV_EPISODE,
  TV_SHOT,
  TV_JOB,
  TV_JOB_ID,
  TV_TASK_ID,
  TV_ATTEMPT,
  TV_FRAME_START,
  TV_FRAME_END,
  TV_FRAME_STEP,
  TV_TAKE,
  TV_SEED,
  TV_OUTPUT_DIR,
  TV_APPROVED_OUTPUT,
  TV_ATTEMPT_ID,
  TV_FRAME,
  TV_JOB_OUTPUT_DIR, /* {job:NAME:output_dir} */
  TV_COUNT
} template_var_t;

#define TV_BIT(v) (1u << (v))
#define TV_ALL ((1u << TV_COUNT) - 1)

/* Values substituted by template_expand.  Strings may be NULL (they expand
 * to ""). */
typedef struct template_vals {
  const char *project, *episode, *shot, *job;
  uint64_t job_id, task_id;
  uint64_t attempt;    /* the try number of the task: 1, 2, ... */
  uint64_t attempt_id; /* the attempt's id, unique on the farm */
  int64_t frame_start, frame_end, frame_step;
  int64_t frame;       /* the frame of this copy of a repeated string */
  int64_t take;
  int64_t seed;
  const char *output_dir;
  const char *approved_output;
} template_vals_t;

/* The placeholder's name without braces ("frame_start";
 * "job:NAME:output_dir" for TV_JOB_OUTPUT_DIR). */
const char *template_var_name(template_var_t v);

/* Checks tmpl: every placeholder must be known and in `allowed` (a mask of
 * TV_BIT()s).  On success returns 0 and, if used != NULL, sets *used to the
 * mask of placeholders that occur.  Otherwise returns -1 with a one-line
 * reason in err ("unknown placeholder {fram_start}", "placeholder {take} is
 * only available in a job with takes", "placeholder {frame_end:4}: the only
 * format is a zero-padded width such as {frame_end:04}"). */
int template_check(const char *tmpl, unsigned allowed, unsigned *used, char *err,
                   size_t errlen) MUSTCHECK;

/* The mask of placeholders in tmpl (0 for none; unknown ones are not
 * counted). */
unsigned template_uses(const char *tmpl);

/* Whether tmpl holds {frame}, so that it is repeated per frame. */
static inline bool template_repeats(const char *tmpl) {
  return (template_uses(tmpl) & TV_BIT(TV_FRAME)) != 0;
}

/* Calls fn(arg, name, n) for each {job:NAME:output_dir} of tmpl, in order;
 * stops at the first call that returns nonzero and returns that value
 * (0 when every call returned 0). */
int template_job_refs(const char *tmpl, int (*fn)(void *arg, const char *name, size_t n),
                      void *arg);

/* A copy of tmpl (the caller frees it) in which each {job:NAME:output_dir}
 * is replaced by dir(arg, NAME) with its braces doubled, so that the result
 * is a template that expands to that text; the rest is kept as written. */
char *template_resolve_jobs(const char *tmpl,
                            const char *(*dir)(void *arg, const char *name, size_t n),
                            void *arg);

/* Expands a checked template into a new string the caller frees.  A
 * {job:NAME:output_dir} left unresolved stays as it is. */
char *template_expand(const char *tmpl, const template_vals_t *vals);

#endif
