/*
 * cmd_wait.c - `clapper wait ID...`: block until jobs finish.
 *
 * Polls VERB_JOBS (ids = the jobs, all = true) every 250 ms until every job
 * is finished (succeeded, failed or canceled).  On a terminal, stderr shows
 * one progress line refreshed in place, with an estimate of the time left
 * (output_eta: the mean wall time of the jobs' ended attempts, times the
 * tasks not yet finished, over the tasks running now).  Exit status 0 only
 * when every job succeeded; 1 with "clapper: job 12 failed" when one
 * failed or was canceled (or the coordinator could not be asked).  --json
 * prints the final {"jobs": [...]} document (also when a job failed: then
 * the error is only the line on stderr and the exit status).
 * --max-wait-s bounds the wait: past it, exit CMD_EXIT_TIMEOUT (124, as
 * timeout(1)) with error code "timeout".
 *
 * A job whose reason starts with STATES_STRANDED has no worker that can
 * run it any more (every one that could is degraded, lost or excluded by
 * its failures); it keeps waiting on the coordinator, for a worker to
 * recover or join.  Once every unfinished job has been so, with none of
 * its tasks dispatched or running, for --stranded-s seconds, wait stops: it prints the jobs as when they finish
 * and exits CMD_EXIT_STRANDED (3) with "clapper: job 12 cannot run: REASON"
 * (error code "stranded").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "states.h"

#define POLL_MS 250
#define BAR_WIDTH 30

static struct {
  long long max_wait_s;
  long long stranded_s;
} opt;

static const cfg_opt_t wait_opts[] = {
    {"max-wait-s", 0, CFG_INT, NULL, "0", 0, 31536000, "S",
     "give up after S seconds, exit 124 (0: wait as long as it takes)", &opt.max_wait_s},
    {"stranded-s", 0, CFG_INT, NULL, "0", 0, 31536000, "S",
     "stop (exit 3) once no worker could run any unfinished job for S seconds",
     &opt.stranded_s},
};

static bool stranded_reason(const char *why) {
  return why && !strncmp(why, STATES_STRANDED, strlen(STATES_STRANDED));
}

static bool finished_state(const char *state) {
  int s = state ? job_state_parse(state) : -1;
  return s >= 0 && job_state_terminal((job_state_t)s);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* Finds the job with id in the reply's list, or NULL. */
static json_t *find_job(const json_t *doc, uint64_t id) {
  size_t i;
  json_t *job;
  json_array_foreach(json_object_get(doc, "jobs"), i, job) {
    json_int_t jid = json_integer_value(json_object_get(job, "job_id"));
    if (jid > 0 && (uint64_t)jid == id)
      return job;
  }
  return NULL;
}

static int wait_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  uint64_t *ids = xcalloc((size_t)argc, sizeof *ids);
  char **said = xcalloc((size_t)argc, sizeof *said); /* the reason last shown per job */
  json_t *doc = NULL;
  int status = CMD_EXIT_FAIL;
  bool bar = isatty(fileno(ctx->err)) == 1, bar_drawn = false;
  uint64_t deadline = opt.max_wait_s ? util_mono_us() + (uint64_t)opt.max_wait_s * 1000000 : 0;
  uint64_t stranded_since = 0; /* every unfinished job stranded since (mono us), or 0 */
  bool stranded = false;

  for (int i = 0; i < argc; i++)
    if (cmd_parse_id(ctx, "job id", argv[i], &ids[i]) < 0) {
      status = CMD_EXIT_USAGE;
      goto out;
    }

  for (;;) {
    Clapper__Request req = CLAPPER__REQUEST__INIT;
    req.verb = CLAPPER__VERB__VERB_JOBS;
    req.n_ids = (size_t)argc;
    req.ids = ids;
    req.all = true;
    json_decref(doc);
    doc = cmd_request(ctx, &req);
    if (!doc)
      goto out;

    json_int_t total = 0, succeeded = 0, failed = 0, running = 0, ended = 0, left = 0;
    double wall_s = 0;
    bool all_finished = true, all_stranded = true;
    for (int i = 0; i < argc; i++) {
      json_t *job = find_job(doc, ids[i]);
      if (!job) {
        cmd_fail(ctx, CMD_EXIT_FAIL, "not_found", "job %s not found", argv[i]);
        goto out;
      }
      total += json_integer_value(json_object_get(job, "ntasks"));
      succeeded += cmd_task_count(job, "succeeded");
      failed += cmd_task_count(job, "failed");
      running += cmd_task_count(job, "running");
      /* For the estimate: the attempts that ended and their wall time,
       * and the tasks that have not finished. */
      ended += json_integer_value(json_object_get(job, "attempts")) -
               cmd_task_count(job, "running") - cmd_task_count(job, "dispatched");
      wall_s += json_number_value(json_object_get(job, "wall_s"));
      if (!finished_state(json_string_value(json_object_get(job, "state"))))
        left += json_integer_value(json_object_get(job, "ntasks")) -
                cmd_task_count(job, "succeeded") - cmd_task_count(job, "failed") -
                cmd_task_count(job, "canceled");
      if (!finished_state(json_string_value(json_object_get(job, "state")))) {
        all_finished = false;
        /* Say why a job does not move on (no worker fits, paused, ...),
         * once per new reason. */
        const char *why = json_string_value(json_object_get(job, "reason"));
        all_stranded = all_stranded && stranded_reason(why) &&
                       cmd_task_count(job, "running") + cmd_task_count(job, "dispatched") == 0;
        if (why && *why && (!said[i] || strcmp(said[i], why) != 0)) {
          if (bar_drawn)
            fputc('\n', ctx->err);
          bar_drawn = false;
          fprintf(ctx->err, "clapper: job %s waits: %s\n", argv[i], why);
          free(said[i]);
          said[i] = xstrdup(why);
        }
      }
    }
    if (bar) {
      sbuf_t line = {0};
      output_progress(&line, (uint64_t)succeeded, (uint64_t)failed, (uint64_t)running,
                      (uint64_t)total, BAR_WIDTH);
      output_eta(&line, wall_s, ended > 0 ? (uint64_t)ended : 0, left > 0 ? (uint64_t)left : 0,
                 (uint64_t)running);
      fprintf(ctx->err, "\r%s\033[K", line.buf);
      fflush(ctx->err);
      sbuf_free(&line);
      bar_drawn = true;
    }
    if (all_finished)
      break;
    if (!all_stranded) {
      stranded_since = 0;
    } else {
      uint64_t now = util_mono_us();
      if (!stranded_since)
        stranded_since = now;
      if (now - stranded_since >= (uint64_t)opt.stranded_s * 1000000) {
        stranded = true;
        break;
      }
    }
    if (deadline && util_mono_us() >= deadline) {
      status = cmd_fail(ctx, CMD_EXIT_TIMEOUT, "timeout", "jobs still unfinished after %lld s",
                        opt.max_wait_s);
      goto out;
    }
    long nap = POLL_MS;
    if (deadline) {
      uint64_t left_ms = (deadline - util_mono_us()) / 1000 + 1;
      if (left_ms < (uint64_t)nap)
        nap = (long)left_ms;
    }
    sleep_ms(nap);
  }
  if (bar_drawn) {
    fputc('\n', ctx->err);
    bar_drawn = false;
  }

  if (ctx->json)
    cmd_print_json(ctx, doc);
  sbuf_t bad = {0};
  int nbad = 0;
  for (int i = 0; i < argc; i++) {
    json_t *job = find_job(doc, ids[i]);
    const char *state = json_string_value(json_object_get(job, "state"));
    if (!ctx->json) {
      sbuf_t line = {0};
      sbuf_printf(&line, "job %s ", argv[i]);
      output_json_text(json_object_get(job, "name"), &line);
      sbuf_puts(&line, ": ");
      output_state(&line, state ? state : "?", NULL);
      sbuf_printf(&line, " (%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT " tasks succeeded)",
                  cmd_task_count(job, "succeeded"),
                  json_integer_value(json_object_get(job, "ntasks")));
      output_line(ctx->out, line.buf);
      sbuf_free(&line);
    }
    if (stranded && !finished_state(state)) {
      const char *why = json_string_value(json_object_get(job, "reason"));
      sbuf_printf(&bad, "%sjob %s cannot run: %s", nbad ? "; " : "", argv[i], why ? why : "?");
      nbad++;
    } else if (!stranded && (!state || strcmp(state, "succeeded") != 0)) {
      sbuf_printf(&bad, "%sjob %s %s", nbad ? ", " : "", argv[i], state ? state : "?");
      nbad++;
    }
  }
  if (stranded) {
    cmd_fail(ctx, CMD_EXIT_STRANDED, "stranded", "%s", bad.buf);
    status = CMD_EXIT_STRANDED;
  } else if (nbad)
    cmd_fail(ctx, CMD_EXIT_FAIL, "job_failed", "%s", bad.buf);
  else
    status = CMD_EXIT_OK;
  sbuf_free(&bad);
out:
  if (bar_drawn)
    fputc('\n', ctx->err);
  json_decref(doc);
  for (int i = 0; i < argc; i++)
    free(said[i]);
  free(said);
  free(ids);
  return status;
}

const struct cmd_entry cmd_wait_entry = {
    .name = "wait", CMD_OPTS(wait_opts), .min_args = 1, .max_args = -1, .exec = wait_exec,
    .usage = "[--max-wait-s S] [--stranded-s S] [options] ID...",
    .help = "wait until jobs finish; exit 0 if every one succeeded, 1 if one failed or was "
            "canceled, 3 if no worker can run one, 124 if --max-wait-s ran out",
};
