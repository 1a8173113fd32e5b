/*
 * cmd_submit.c - `clapper submit FILE|-`: validate a job file locally and
 * send it to the coordinator, which queues it in one transaction.
 *
 * The file is read whole (at most JOBFILE_MAX_BYTES), checked with
 * jobfile_parse so that mistakes are found before anything is sent, and
 * sent as the body of a VERB_SUBMIT request.  --no-local-check skips the
 * local check (to exercise the coordinator's, which always runs).  The reply is
 * {"jobs": [{"job_id", "name", "tasks"}]}; to each job the command adds its
 * "state" and "reason" just after the submission (add_states), so that it
 * says "queued", "waiting: ..." or "held: ..." as it is.
 *
 * Every submission carries an idempotency key: --idempotency-key K, or
 * one made here (submit-<32 hex digits>).  The coordinator writes it with
 * the jobs; the same key and the same file sent again are answered with
 * the jobs already created instead of new ones.  When no reply comes
 * after the request left, the error says that the outcome is unknown and
 * gives the command that finds out safely (the same submit with the key).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cmd.h"
#include "input.h"
#include "jobfile.h"

static struct {
  bool no_local_check;
  char *idempotency_key;
} opt;

static const cfg_opt_t submit_opts[] = {
    {"no-local-check", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "send the file without checking it here first (the coordinator checks it anyway)",
     &opt.no_local_check},
    {"idempotency-key", 0, CFG_STRING, NULL, NULL, 0, 0, "KEY",
     "the submission's key (one line, at most 128 bytes; default: a new random one): the same "
     "key and file sent again return the jobs already created instead of new ones",
     &opt.idempotency_key},
};

int cmd_submit_key(char *buf, size_t len) {
  unsigned char r[16];
  if (len < CMD_SUBMIT_KEY_LEN + 1 || getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
    return -1;
  int n = snprintf(buf, len, "submit-");
  for (size_t i = 0; i < sizeof r; i++)
    n += snprintf(buf + n, len - (size_t)n, "%02x", r[i]);
  return 0;
}

/* Says, after a request that left without an answer, how to find out what
 * became of it. */
static void unknown_outcome(cmd_ctx_t *ctx, const char *key, const char *path) {
  cli_error_t *e = &ctx->error;
  sbuf_t b = {0};
  sbuf_printf(&b,
              "%s; to find out, send it again with the same key: clapper submit "
              "--idempotency-key %s %s (it returns the jobs already created under that key, "
              "or creates them once)",
              e->message, key, path);
  size_t n = b.len < sizeof e->message - 1 ? b.len : sizeof e->message - 1;
  memcpy(e->message, b.buf, n);
  e->message[n] = '\0';
  sbuf_free(&b);
}

static void state_tail(sbuf_t *line, const json_t *job) {
  output_json_text(json_object_get(job, "tasks"), line);
  json_int_t ntasks = json_integer_value(json_object_get(job, "tasks"));
  const char *state = output_string(job, "state"), *reason = output_string(job, "reason");
  sbuf_puts(line, ntasks == 1 ? " task, " : " tasks, ");
  output_state(line, state ? state : "submitted", NULL);
  if (reason)
    sbuf_printf(line, ": %s", reason);
}

/* The human view: "job 12 comp-v3: 8 tasks, waiting: REASON" per job. */
static void print_submitted(FILE *out, const json_t *doc) {
  cmd_print_jobs(out, doc, state_tail);
}

/* What a waiting job j of the file waits for, from its dependencies
 * (jobs: the reply's jobs, in file order): "after job 12 (render), an
 * approved take of job 9".  A static buffer. */
static const char *waits_for(const jf_job_t *j, const json_t *jobs) {
  static char buf[512];
  sbuf_t b = {0};
  for (size_t d = 0; d < j->ndeps && b.len < 400; d++) {
    const jf_dep_t *dep = &j->deps[d];
    sbuf_puts(&b, d ? ", " : "");
    sbuf_puts(&b, dep->kind == JF_DEP_APPROVAL ? "an approved take of job " : "after job ");
    if (dep->by_id) {
      sbuf_printf(&b, "%" PRIu64, dep->job_id);
    } else {
      const json_t *other = json_array_get(jobs, dep->index);
      output_fill(&b, other, "{job_id} ({name})");
    }
  }
  snprintf(buf, sizeof buf, "%s", b.buf ? b.buf : "");
  sbuf_free(&b);
  return buf;
}

/* Adds to each job of doc (the reply of submit) its "state" and "reason"
 * now, asked of the coordinator (VERB_JOBS with the ids): a job may be
 * queued, waiting on another, held by a budget, or already running.  When
 * that question fails the jobs stay without them (the submission is
 * done).  A job that waits without a reason from the coordinator gets
 * the dependencies of its file (waits_for) as its reason. */
static void add_states(cmd_ctx_t *ctx, json_t *doc, const jobfile_t *jf) {
  json_t *jobs = json_object_get(doc, "jobs");
  size_t n = json_array_size(jobs), i;
  json_t *job;
  if (!n)
    return;
  uint64_t *ids = xcalloc(n, sizeof *ids);
  json_array_foreach(jobs, i, job) ids[i] =
      (uint64_t)json_integer_value(json_object_get(job, "job_id"));
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_JOBS;
  req.n_ids = n;
  req.ids = ids;
  cli_error_t saved = ctx->error;
  json_t *now = cmd_request(ctx, &req);
  ctx->error = saved;
  free(ids);
  json_array_foreach(jobs, i, job) {
    size_t k;
    json_t *o;
    json_array_foreach(json_object_get(now, "jobs"), k, o) {
      if (json_equal(json_object_get(o, "job_id"), json_object_get(job, "job_id"))) {
        json_object_set(job, "state", json_object_get(o, "state"));
        json_object_set(job, "reason", json_object_get(o, "reason"));
      }
    }
    const char *state = output_string(job, "state");
    if (jf && jf->njobs == n && state && !strcmp(state, "waiting") &&
        !output_string(job, "reason"))
      json_object_set_new(job, "reason", json_string(waits_for(&jf->jobs[i], jobs)));
  }
  json_decref(now);
}

static int submit_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  const char *path = argv[0];
  bool from_stdin = !strcmp(path, "-");
  const char *shown = from_stdin ? "standard input" : path;
  size_t len = 0;
  char *text = NULL;
  jobfile_t *jf = NULL;
  int status = CMD_EXIT_FAIL;
  (void)argc;

  text = from_stdin ? util_read_fd(STDIN_FILENO, JOBFILE_MAX_BYTES, &len)
                    : util_read_file(path, JOBFILE_MAX_BYTES, &len);
  if (!text) {
    if (errno == EFBIG)
      cmd_fail(ctx, CMD_EXIT_FAIL, "invalid_job",
               "%s: a job file may hold at most %zu bytes (16 MiB); split the submission",
               shown, JOBFILE_MAX_BYTES);
    else
      cmd_fail(ctx, CMD_EXIT_FAIL, "io", "cannot read %s: %s", shown, strerror(errno));
    goto out;
  }

  if (!opt.no_local_check) {
    char why[1024];
    jf = jobfile_parse(text, len, why, sizeof why);
    if (!jf) {
      cmd_fail(ctx, CMD_EXIT_FAIL, "invalid_job", "%s", why);
      goto out;
    }
  }

  char made[CMD_SUBMIT_KEY_LEN + 1];
  const char *key = opt.idempotency_key;
  if (key) {
    char why[256];
    if (!*key || input_text("--idempotency-key", key, INPUT_IDEMPOTENCY_KEY_MAX, INPUT_ONE_LINE,
                            why, sizeof why) < 0) {
      status = cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "%s",
                        *key ? why : "--idempotency-key: empty (leave it out for a new key)");
      goto out;
    }
  } else if (cmd_submit_key(made, sizeof made) == 0) {
    key = made;
  } else {
    status =
        cmd_fail(ctx, CMD_EXIT_FAIL, "io", "cannot make an idempotency key: %s", strerror(errno));
    goto out;
  }

  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_SUBMIT;
  req.body.data = (uint8_t *)text;
  req.body.len = len;
  req.idempotency_key = (char *)key;
  json_t *doc = cmd_request(ctx, &req);
  if (doc) {
    add_states(ctx, doc, jf);
    status = cmd_show_doc(ctx, doc, print_submitted);
  }
  if (status != CMD_EXIT_OK && !strcmp(ctx->error.code, "no_reply"))
    unknown_outcome(ctx, key, from_stdin ? "- (the same file on standard input)" : path);
out:
  jobfile_free(&jf);
  free(text);
  return status;
}

const struct cmd_entry cmd_submit_entry = {
    .name = "submit",
    CMD_OPTS(submit_opts),
    .min_args = 1,
    .max_args = 1,
    .exec = submit_exec,
    .usage = "[--no-local-check] [--idempotency-key KEY] [options] FILE|-",
    .help = "submit a job file (- reads standard input)",
};
