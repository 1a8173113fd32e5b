/*
 * template.h - placeholders in command arguments and output paths.
 *
 * A template is a string in which "{name}" is replaced per task.  The names
 * are {project} {episode} {shot} {job} {job_id} {task_id} {attempt}
 * {frame_start} {frame_end} {frame_step} {take} {seed} {output_dir}
 * {approved_output}.  "{{" and "}}" stand for literal braces.  A '{' that
 * does not start "{{" or a placeholder made of [a-z_] characters is literal
 * too, so JSON or shell text passes through; but "{word}" with an unknown
 * lowercase word is an error, so that typos are caught at submit.
 */
#ifndef CLAPPER_TEMPLATE_H
#define CLAPPER_TEMPLATE_H

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
  TV_COUNT
} template_var_t;

#define TV_BIT(v) (1u << (v))
#define TV_ALL ((1u << TV_COUNT) - 1)

/* Values substituted by template_expand.  Strings may be NULL (they expand
 * to ""). */
typedef struct template_vals {
  const char *project, *episode, *shot, *job;
  uint64_t job_id, task_id, attempt;
  int64_t frame_start, frame_end, frame_step;
  int64_t take;
  int64_t seed;
  const char *output_dir;
  const char *approved_output;
} template_vals_t;

/* The placeholder's name without braces ("frame_start"). */
const char *template_var_name(template_var_t v);

/* Checks tmpl: every placeholder must be known and in `allowed` (a mask of
 * TV_BIT()s).  On success returns 0 and, if used != NULL, sets *used to the
 * mask of placeholders that occur.  Otherwise returns -1 with a one-line
 * reason in err ("unknown placeholder {fram_start}", "placeholder {take} is
 * only available in a job with takes"). */
int template_check(const char *tmpl, unsigned allowed, unsigned *used, char *err,
                   size_t errlen) MUSTCHECK;

/* Expands a checked template into a new string the caller frees. */
char *template_expand(const char *tmpl, const template_vals_t *vals);

#endif
