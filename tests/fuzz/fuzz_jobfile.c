/*
 * fuzz_jobfile.c - libFuzzer target: arbitrary bytes as a job file, both
 * as submitted and as stored after submission (recovery).
 *
 * The parser must accept or refuse every input with one line naming the
 * field, never crash, leak or hit undefined behaviour; what it accepts
 * obeys the limits jobfile.h promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const jobfile_t *jf) {
  if (!jf->project || !jf->episode || jf->njobs == 0 || jf->ntasks > JOBFILE_MAX_TASKS)
    abort();
  uint64_t total = 0;
  for (size_t i = 0; i < jf->njobs; i++) {
    const jf_job_t *j = &jf->jobs[i];
    if (j->ntasks == 0 || !j->tasks || !j->spec_json)
      abort();
    total += j->ntasks;
    for (size_t d = 0; d < j->ndeps; d++)
    {
      const jf_dep_t *dep = &j->deps[d];
      if (dep->kind != JF_DEP_AFTER && dep->kind != JF_DEP_APPROVAL)
        abort();
      if (dep->by_id ? dep->job_id < 1 || dep->job_id > INT64_MAX
                     : dep->index >= jf->njobs || dep->index == i)
        abort(); /* a dependency names another job of the file, or an id */
    }
  }
  if (total != jf->ntasks)
    abort();
}

static void one(const uint8_t *data, size_t size, unsigned flags) {
  char err[512];
  err[0] = '\0';
  jobfile_t *jf = jobfile_parse_flags((const char *)data, size, flags, err, sizeof err);
  if (!jf) {
    if (!err[0] || strchr(err, '\n'))
      abort(); /* a refusal is one non-empty line */
    return;
  }
  check(jf);
  jobfile_free(&jf);
  if (jf)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size, 0);
  one(data, size, JOBFILE_STORED);
  return 0;
}
