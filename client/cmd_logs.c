/*
 * cmd_logs.c - `clapper logs TASK [-f] [--attempt N | --attempt-id ID]`: the
 * output (stdout and stderr) of a task's attempt.
 *
 * Sends Request{VERB_LOGS, ids = [TASK], offset, value = the attempt id, 0
 * for the latest} and gets back {"task_id", "attempt_id" (null: not
 * started), "attempt" (its try number), "attempt_state", "offset" (where the next read continues), "data",
 * "done" (the attempt ended and all that is stored was returned),
 * "truncated" (the coordinator stopped storing at its cap), "log_path"
 * ({"worker", "path"} of the complete log, or null)}.  One reply carries
 * at most about 1 MiB, so the verb asks again from the reply's offset as
 * long as data comes.
 *
 * --attempt N names the task's Nth try: a first Request{VERB_LOGS, try_no
 * = N} finds its attempt id ("task 5 has no attempt 3" when there is none),
 * and the reads go on as with --attempt-id.
 *
 * Without -f it prints what is there now and exits 0; the attempt seen
 * first is kept for the following reads.  A task without an attempt prints
 * nothing and says "task 5 has not started yet" on stderr.  --json prints
 * the last reply with the data of all reads joined.
 *
 * With -f it polls every 250 ms until the attempt is done, printing (and
 * flushing) data as it arrives.  Unless --attempt pins one, it follows the
 * task's latest attempt: when that changes (the task was retried), it
 * reads what is left of the old attempt, prints "--- attempt N (id ID) ---"
 * and goes on from offset 0 of the new one.  SIGINT ends it quietly, exit 0.
 * -f and --json together are a usage error.
 *
 * Log data is written as the task wrote it (like tail), not sanitised.
 * When the log was truncated and stderr is a terminal, a last line there
 * says where the whole log is.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "rpc.h"

#define POLL_MS 250

static struct {
  bool follow;
  long long attempt;    /* the try number, 0: not given */
  long long attempt_id; /* 0: the latest */
} opt;

static const cfg_opt_t logs_opts[] = {
    {"follow", 'f', CFG_BOOL, NULL, "false", 0, 0, NULL,
     "keep printing the log as it grows, until the attempt ends", &opt.follow},
    {"attempt", 0, CFG_INT, NULL, "0", 0, INT32_MAX, "N",
     "show the task's Nth try (1: the first; 0: the latest)", &opt.attempt},
    {"attempt-id", 0, CFG_INT, NULL, "0", 0, INT64_MAX, "ID",
     "show the attempt with this id (`clapper attempts TASK` lists them)", &opt.attempt_id},
};

static volatile sig_atomic_t got_sigint;

static void on_sigint(int sig) {
  (void)sig;
  got_sigint = 1;
}

/* What one reply says. */
typedef struct piece {
  uint64_t attempt; /* 0: the task has no attempt yet */
  uint64_t try_no;  /* its try number, 0 if the reply does not say */
  uint64_t next;    /* the offset to continue from */
  const char *data; /* points into the reply */
  size_t len;
  bool done, truncated;
} piece_t;

/* The reading of one task's log. */
typedef struct reader {
  cmd_ctx_t *ctx;
  uint64_t task;
  uint64_t offset;    /* where the next read of the current attempt starts */
  sbuf_t joined;      /* --json: the data of all reads */
  bool printed;       /* some data went to out */
  char last;          /* the last byte printed */
  json_t *truncation; /* the last reply of a truncated log (owned), or NULL */
} reader_t;

/* Asks for the log of attempt (0: the latest), or of the try try_no when
 * not 0, from r->offset.  Returns the reply (caller owns it) with p
 * describing it, or NULL after cmd_fail. */
static json_t *ask_try(reader_t *r, uint64_t attempt, uint32_t try_no, piece_t *p) {
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_LOGS;
  req.n_ids = 1;
  req.ids = &r->task;
  req.offset = r->offset;
  req.value = (int64_t)attempt;
  req.try_no = try_no;
  json_t *doc = cmd_request(r->ctx, &req);
  if (!doc)
    return NULL;
  memset(p, 0, sizeof *p);
  const json_t *aid = json_object_get(doc, "attempt_id");
  const json_t *next = json_object_get(doc, "offset");
  const json_t *data = json_object_get(doc, "data");
  if (aid && !json_is_null(aid) && (!json_is_integer(aid) || json_integer_value(aid) <= 0))
    goto bad;
  p->attempt = json_is_integer(aid) ? (uint64_t)json_integer_value(aid) : 0;
  const json_t *tn = json_object_get(doc, "attempt");
  p->try_no = json_is_integer(tn) && json_integer_value(tn) > 0 ? (uint64_t)json_integer_value(tn)
                                                                 : 0;
  if (data && !json_is_null(data) && !json_is_string(data))
    goto bad;
  p->data = json_is_string(data) ? json_string_value(data) : "";
  p->len = json_is_string(data) ? json_string_length(data) : 0;
  if (p->attempt) {
    if (!json_is_integer(next) || json_integer_value(next) < 0)
      goto bad;
    p->next = (uint64_t)json_integer_value(next);
    /* Data must move the offset on, or reading would never end. */
    if (p->len && p->next <= r->offset)
      goto bad;
  }
  p->done = json_is_true(json_object_get(doc, "done"));
  p->truncated = json_is_true(json_object_get(doc, "truncated"));
  return doc;
bad:
  cmd_fail(r->ctx, CMD_EXIT_FAIL, "protocol",
           "the coordinator at %s sent a logs reply that makes no sense (attempt_id, offset "
           "or data)",
           r->ctx->coordinator);
  json_decref(doc);
  return NULL;
}

static json_t *ask(reader_t *r, uint64_t attempt, piece_t *p) {
  return ask_try(r, attempt, 0, p);
}

/* --attempt N: the id of the task's Nth try, in opt.attempt_id; 0, or
 * CMD_EXIT_FAIL after cmd_fail (the coordinator says when there is none). */
static int find_try(reader_t *r) {
  piece_t p;
  json_t *doc = ask_try(r, 0, (uint32_t)opt.attempt, &p);
  if (!doc)
    return CMD_EXIT_FAIL;
  json_decref(doc);
  if (!p.attempt)
    return cmd_fail(r->ctx, CMD_EXIT_FAIL, "not_found", "task %" PRIu64 " has no attempt %lld",
                    r->task, opt.attempt);
  opt.attempt_id = (long long)p.attempt;
  r->offset = 0;
  return 0;
}

/* Takes the data of p: joins it for --json, else prints it. */
static void emit(reader_t *r, const piece_t *p) {
  if (!p->len)
    return;
  if (r->ctx->json) {
    sbuf_append(&r->joined, p->data, p->len);
    return;
  }
  fwrite(p->data, 1, p->len, r->ctx->out);
  fflush(r->ctx->out);
  r->printed = true;
  r->last = p->data[p->len - 1];
}

/* Takes doc's word on truncation (doc is the latest reply of the attempt
 * being read). */
static void note_truncation(reader_t *r, const piece_t *p, json_t *doc) {
  json_decref(r->truncation);
  r->truncation = p->truncated ? json_incref(doc) : NULL;
}

/* On a terminal, says on stderr that the log is incomplete and where the
 * whole of it is. */
static void report_truncation(reader_t *r) {
  if (!r->truncation || isatty(fileno(r->ctx->err)) != 1)
    return;
  const json_t *lp = json_object_get(r->truncation, "log_path");
  const char *worker = json_string_value(json_object_get(lp, "worker"));
  const char *path = json_string_value(json_object_get(lp, "path"));
  sbuf_t line = {0};
  sbuf_printf(&line, "clapper: the coordinator kept only the first %" PRIu64
                     " bytes of the log of attempt %" JSON_INTEGER_FORMAT "; ",
              r->offset, json_integer_value(json_object_get(r->truncation, "attempt_id")));
  if (worker && path)
    sbuf_printf(&line, "the whole log is on worker %s at %s", worker, path);
  else
    sbuf_puts(&line, "the whole log stays on the worker that ran it");
  if (r->printed && r->last != '\n')
    fputc('\n', r->ctx->out);
  fflush(r->ctx->out);
  output_line(r->ctx->err, line.buf);
  fflush(r->ctx->err);
  sbuf_free(&line);
}

/* Sleeps ms unless SIGINT came or comes meanwhile. */
static void nap(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (!got_sigint && nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* Reads once or, as long as data comes, again, everything there is now:
 * the attempt asked for, or the latest one, whose id is kept for the reads
 * after the first. */
static int logs_once(reader_t *r) {
  uint64_t attempt = (uint64_t)opt.attempt_id;
  json_t *doc = NULL;
  piece_t p;
  for (;;) {
    json_t *next = ask(r, attempt, &p);
    if (!next) {
      json_decref(doc);
      return CMD_EXIT_FAIL;
    }
    json_decref(doc);
    doc = next;
    if (attempt && p.attempt != attempt) {
      json_decref(doc);
      return cmd_fail(r->ctx, CMD_EXIT_FAIL, "protocol",
                      "the coordinator answered about attempt %" PRIu64 " instead of %" PRIu64
                      " (0: none)",
                      p.attempt, attempt);
    }
    if (!p.attempt)
      break;
    attempt = p.attempt;
    emit(r, &p);
    r->offset = p.next;
    note_truncation(r, &p, doc);
    if (p.done || !p.len)
      break;
  }
  if (r->ctx->json) {
    if (p.attempt) {
      json_object_set_new(doc, "offset", json_integer((json_int_t)r->offset));
      json_object_set_new(doc, "data", json_stringn_nocheck(r->joined.buf ? r->joined.buf : "",
                                                            r->joined.len));
    }
    cmd_print_json(r->ctx, doc);
  } else if (!p.attempt) {
    fprintf(r->ctx->err, "clapper: task %" PRIu64 " has not started yet\n", r->task);
    fflush(r->ctx->err);
  } else {
    report_truncation(r);
  }
  json_decref(doc);
  return CMD_EXIT_OK;
}

/* -f: polls until the attempt is done or SIGINT comes. */
static int logs_follow(reader_t *r) {
  uint64_t pinned = (uint64_t)opt.attempt_id, cur = pinned;
  piece_t p;
  for (;;) {
    if (got_sigint)
      return CMD_EXIT_OK;
    json_t *doc = ask(r, pinned, &p);
    if (!doc)
      return got_sigint ? CMD_EXIT_OK : CMD_EXIT_FAIL;
    if (!p.attempt) { /* not started yet */
      json_decref(doc);
      nap(POLL_MS);
      continue;
    }
    if (pinned && p.attempt != pinned) {
      json_decref(doc);
      return cmd_fail(r->ctx, CMD_EXIT_FAIL, "protocol",
                      "the coordinator answered about attempt %" PRIu64 " instead of %" PRIu64,
                      p.attempt, pinned);
    }
    if (cur && p.attempt != cur) {
      /* Retried: what this reply holds is the new attempt's log at the old
       * attempt's offset.  Finish the old attempt, then start the new one
       * from the beginning. */
      json_decref(doc);
      piece_t old;
      for (;;) {
        json_t *od = ask(r, cur, &old);
        if (!od)
          return got_sigint ? CMD_EXIT_OK : CMD_EXIT_FAIL;
        bool more = old.attempt == cur && old.len && !old.done;
        if (old.attempt == cur) {
          emit(r, &old);
          r->offset = old.next;
        }
        json_decref(od);
        if (!more || got_sigint)
          break;
      }
      if (got_sigint)
        return CMD_EXIT_OK;
      if (r->printed && r->last != '\n')
        fputc('\n', r->ctx->out);
      if (p.try_no)
        fprintf(r->ctx->out, "--- attempt %" PRIu64 " (id %" PRIu64 ") ---\n", p.try_no,
                p.attempt);
      else
        fprintf(r->ctx->out, "--- attempt id %" PRIu64 " ---\n", p.attempt);
      fflush(r->ctx->out);
      r->printed = true;
      r->last = '\n';
      cur = p.attempt;
      r->offset = 0;
      json_decref(r->truncation);
      r->truncation = NULL;
      continue;
    }
    cur = p.attempt;
    emit(r, &p);
    r->offset = p.next;
    note_truncation(r, &p, doc);
    json_decref(doc);
    if (p.done)
      break;
    if (!p.len)
      nap(POLL_MS);
  }
  report_truncation(r);
  return CMD_EXIT_OK;
}

static int logs_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  reader_t r = {.ctx = ctx};
  if (cmd_parse_id(ctx, "task id", argv[0], &r.task) < 0)
    return CMD_EXIT_USAGE;
  if (opt.follow && ctx->json)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "logs: --json prints one document and cannot be combined with --follow");
  if (opt.attempt && opt.attempt_id)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "logs: --attempt N (the Nth try) and --attempt-id ID name the same thing, "
                    "give one");
  if (opt.attempt && find_try(&r) != 0)
    return CMD_EXIT_FAIL;
  int status;
  if (!opt.follow) {
    status = logs_once(&r);
  } else {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the signal must end a wait */
    got_sigint = 0;
    sigaction(SIGINT, &sa, &old);
    rpc_set_interrupt(&got_sigint);
    status = logs_follow(&r);
    rpc_set_interrupt(NULL);
    sigaction(SIGINT, &old, NULL);
    if (got_sigint) {
      /* Quietly: whatever failed was the interruption. */
      memset(&ctx->error, 0, sizeof ctx->error);
      status = CMD_EXIT_OK;
    }
    got_sigint = 0;
  }
  json_decref(r.truncation);
  sbuf_free(&r.joined);
  return status;
}

const struct cmd_entry cmd_logs_entry = {
    .name = "logs", CMD_OPTS(logs_opts), .min_args = 1, .max_args = 1, .exec = logs_exec,
    .usage = "[-f|--follow] [--attempt N | --attempt-id ID] [options] TASK",
    .help = "print the output of a task (-f: follow it until the attempt ends)",
};
