/*
 * cmd.h - the verbs of the clapper command.
 *
 * Each verb is one file, client/cmd_<verb>.c, exporting a const struct
 * cmd_entry cmd_<verb>_entry: its name, usage, one-line help, option table
 * and exec function (the tmux cmd-*.c pattern).  client/main.c lists the
 * entries; cmd_dispatch picks one by name and cmd_run parses its options
 * (the verb's own table plus the common --coordinator, --key,
 * --server-key, --json, --timeout-ms and --config), checks the number of
 * arguments, runs it and prints its error.  With --key (or CLAPPER_KEY)
 * every request goes over CURVE as that key; without, in the clear.
 *
 * A verb that asks the coordinator one question and shows the answer
 * needs no exec of its own: its entry names the request, what its
 * arguments are and how the reply reads (cmd_ask_t), and cmd_exec_ask
 * does the rest.
 *
 * Adding a verb: write cmd_<verb>.c, declare its entry below and add it to
 * the table in main.c.
 *
 * Exit statuses: 0 success, 1 failure, 2 usage error, and whatever a verb
 * documents beyond that (local status: 3 when nothing runs; wait: 1 a job
 * failed or was canceled, 3 stranded, 124 timed out).
 */
#ifndef CLAPPER_CLIENT_CMD_H
#define CLAPPER_CLIENT_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "clapper.pb-c.h"
#include "config.h"
#include "output.h"

#define CMD_EXIT_OK 0
#define CMD_EXIT_FAIL 1
#define CMD_EXIT_USAGE 2
#define CMD_EXIT_STRANDED 3 /* clapper wait: no worker can run a job any more */
#define CMD_EXIT_TIMEOUT 124 /* clapper wait: --max-wait-s ran out (as timeout(1)) */

#define CMD_DEFAULT_COORDINATOR "tcp://127.0.0.1:7711"
/* The settings files every verb reads (only coordinator, key, server-key,
 * timeout-ms and color), below --config, the environment and the command
 * line: the user's (cmd_user_config_path) above the system's. */
#define CMD_SYSTEM_CONFIG "/etc/clapper/clapper.conf"
#define CMD_DEFAULT_TIMEOUT_MS "30000"

/* What a verb's exec sees besides its positional arguments: the common
 * options, the streams to write to, and the error it reports. */
typedef struct cmd_ctx {
  const struct cmd_entry *entry; /* the verb being run */
  char *coordinator;   /* --coordinator ENDPOINT (owned by the option table) */
  char *key;           /* --key FILE, a NAME.key (CLAPPER_KEY); NULL: no CURVE */
  char *server_key;    /* --server-key FILE (CLAPPER_SERVER_KEY); NULL: coordinator.pub
                          next to key */
  bool json;           /* --json */
  long long timeout_ms; /* --timeout-ms */
  FILE *out;           /* stdout (tests pass a memory stream) */
  FILE *err;           /* stderr */
  cli_error_t error;   /* set by a failing exec (cmd_fail) */
  bool printed_doc;    /* exec already printed its --json document */
} cmd_ctx_t;

/* The question a verb asks, for cmd_exec_ask (and a verb's own exec that
 * serves several entries, such as drain and undrain). */
typedef struct cmd_ask {
  Clapper__Verb verb; /* the request's verb */
  const char *ids;    /* NULL: the arguments are not ids; else what they are
                         ("job id"): each is checked with cmd_parse_id and
                         sent in the request's ids */
  char **note;        /* the verb's --note option (a static of its file),
                         sent as the request's note when given; NULL: none */
  void (*human)(FILE *out, const json_t *doc); /* the human view of the reply */
} cmd_ask_t;

/* The row of an option table for --note TEXT, the free text a verb records
 * with what it changes; the verb's file keeps it in *dest. */
#define CMD_NOTE_OPT(help, dest) {"note", 0, CFG_STRING, NULL, NULL, 0, 0, "TEXT", help, dest}

/* In an entry: the verb's option table and its size, from the one name. */
#define CMD_OPTS(table) .opts = (table), .nopts = ARRAY_SIZE(table)

struct cmd_entry {
  const char *name;  /* "submit" */
  const char *usage; /* after "clapper submit": "[options] FILE|-" */
  const char *help;  /* one line for `clapper --help` */
  const cfg_opt_t *opts; /* the verb's own options; their destinations are
                            the verb file's statics and must all have a
                            default so that each run starts afresh */
  size_t nopts;
  int min_args, max_args; /* positional arguments; max_args -1: unlimited */
  /* Runs the verb.  Returns an exit status; on failure it has called
   * cmd_fail (the error is printed by cmd_run). */
  int (*exec)(cmd_ctx_t *ctx, int argc, char **argv);
  cmd_ask_t ask; /* what exec = cmd_exec_ask asks */
};

/* The entries, each in client/cmd_<verb>.c unless the comment says. */
extern const struct cmd_entry cmd_submit_entry, cmd_jobs_entry, cmd_job_entry, cmd_tasks_entry,
    cmd_wait_entry, cmd_workers_entry, cmd_local_entry, cmd_logs_entry, cmd_episode_entry,
    cmd_rates_entry, cmd_budget_entry, cmd_cost_entry, cmd_keygen_entry, cmd_users_entry,
    cmd_whoami_entry, cmd_takes_entry, cmd_audit_entry, cmd_attempts_entry, cmd_events_entry,
    cmd_cancel_entry, cmd_pause_entry, cmd_resume_entry, cmd_retry_entry, /* cmd_control.c */
    cmd_drain_entry, cmd_undrain_entry,                                    /* cmd_drain.c */
    cmd_approve_entry, cmd_reject_entry, cmd_request_changes_entry,        /* cmd_review.c */
    cmd_retake_entry,                                                      /* cmd_review.c */
    cmd_limit_entry, cmd_limits_entry, cmd_pool_entry, cmd_pools_entry,    /* cmd_limits.c */
    cmd_web_entry, cmd_token_entry;

/* The paging options of a verb that lists (--limit N, --after ID): rows
 * for its option table from CMD_PAGE_OPTS, kept in a static of its file. */
typedef struct cmd_page {
  long long limit; /* 0: the coordinator's default */
  char *after;     /* NULL: from the start (or, for jobs, the newest) */
} cmd_page_t;
#define CMD_PAGE_OPTS(page, what)                                                                {"limit", 'n', CFG_INT, NULL, "0", 0, 10000, "N",                                              "list at most N " what " (0: the coordinator's default; it sends at most 10000, and "        "never more than about 3 MiB)", &(page).limit},                                              {"after", 0, CFG_STRING, NULL, NULL, 0, 0, "ID",                                               "list the " what " after id ID: the next page, as the last line says", &(page).after}

/* The same for a list keyed by name (workers, users): --after NAME lists
 * the items whose names sort after NAME; cmd_page_request_name puts it in
 * req->after_name. */
#define CMD_PAGE_NAME_OPTS(page, what) \
  {"limit", 'n', CFG_INT, NULL, "0", 0, 10000, "N", \
   "list at most N " what " (0: the coordinator's default; it sends at most 10000, and " \
   "never more than about 3 MiB)", &(page).limit}, \
  {"after", 0, CFG_STRING, NULL, NULL, 0, 0, "NAME", \
   "list the " what " named after NAME (in name order): the next page, as the last line " \
   "says", &(page).after}

/* Puts page into req (limit, after; --after 0 sets all).  Returns 0, or
 * -1 after cmd_fail(ctx, 2, "usage", ...) when --after is not an id. */
int cmd_page_request(cmd_ctx_t *ctx, const cmd_page_t *page, Clapper__Request *req) MUSTCHECK;
/* Puts page into req (limit, after_name).  Returns 0, or -1 after
 * cmd_fail(ctx, 2, "usage", ...) when --after is not a name. */
int cmd_page_request_name(cmd_ctx_t *ctx, const cmd_page_t *page,
                          Clapper__Request *req) MUSTCHECK;

/* After a page's human view: when doc says "more", prints the last line
 * "more WHAT: add --after N for the next page" (N an id or a name). */
void cmd_page_hint(FILE *out, const json_t *doc, const char *what);

/* Records the error of a verb in ctx->error and returns status, so that
 * exec can end with `return cmd_fail(ctx, 1, "not_found", "...")`. */
int cmd_fail(cmd_ctx_t *ctx, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The user's settings file: $XDG_CONFIG_HOME/clapper/config when that is
 * an absolute path, else $HOME/.config/clapper/config; NULL without HOME
 * (caller frees). */
char *cmd_user_config_path(void);

/* Runs entry with argv[0] = the verb's name and its arguments, writing to
 * out and err.  Parses the options (--help prints the generated help and
 * returns 0), checks the argument count, calls exec and prints any error
 * as output.h describes.  Returns the exit status. */
int cmd_run(const struct cmd_entry *entry, int argc, char **argv, FILE *out, FILE *err);

/* The options every verb takes besides its own, in this order:
 * coordinator, key, server-key, json, timeout-ms, color, config (their
 * dest is NULL: cmd_run points them at its context). */
#define CMD_NCOMMON 7
extern const cfg_opt_t cmd_common_opts[CMD_NCOMMON];

/* Writes to path what the build installs, generated from table (the
 * verbs, their usage, help and options, and cmd_common_opts): format
 * "bash" a bash completion script, "zsh" a zsh completion function
 * (_clapper), "man" the clapper(1) page in roff (gendoc.c).  Reached as
 * the hidden `clapper __gendoc FORMAT PATH`.  Returns 0, 2 for an unknown
 * format, 1 when path cannot be written. */
int cmd_gendoc(const struct cmd_entry *const *table, size_t n, const char *format,
               const char *path);

/* The clapper command: argv[1] names a verb of table (or is --help,
 * --version or "help VERB").  Returns the exit status. */
int cmd_dispatch(const struct cmd_entry *const *table, size_t n, int argc, char **argv);

/* Parses a job id argument (a decimal integer in [1, 2^63-1]).  Returns 0,
 * or -1 after cmd_fail(ctx, 2, "usage", "invalid job id '12x': ...")
 * naming the argument. */
int cmd_parse_id(cmd_ctx_t *ctx, const char *what, const char *arg, uint64_t *id) MUSTCHECK;

/* Checks a "PROJECT/EPISODE" argument: two identifiers joined by '/'.
 * Returns 0, or -1 after cmd_fail(ctx, 2, "usage", ...) naming the bad
 * part ("invalid project 'Hod' in 'Hod/e1': expected ..."). */
int cmd_parse_episode(cmd_ctx_t *ctx, const char *pe) MUSTCHECK;

/* Checks an amount of money with money_parse.  Returns 0 with *micros set,
 * or -1 after cmd_fail(ctx, 2, "usage", "WHAT: REASON"), e.g.
 * "--per-gpu-hour: '1.2345678' has more than 6 decimals". */
int cmd_parse_amount(cmd_ctx_t *ctx, const char *what, const char *arg, int64_t *micros)
    MUSTCHECK;

/* Prints doc as the verb's --json output and notes that it did. */
void cmd_print_json(cmd_ctx_t *ctx, const json_t *doc);

/* Sends req to ctx->coordinator (as ctx->key, when given) within
 * ctx->timeout_ms and returns the reply's JSON object (caller owns it), or
 * NULL after cmd_fail(ctx, 1, code, message) with the error of
 * rpc_call_json_as. */
json_t *cmd_request(cmd_ctx_t *ctx, Clapper__Request *req) MUSTCHECK;

/* Shows doc, what a verb found out: with --json prints it with
 * cmd_print_json, otherwise passes it to human, which writes the human view
 * to out (ctx->out).  Takes ownership of doc (releases it).  Returns
 * CMD_EXIT_OK. */
int cmd_show_doc(cmd_ctx_t *ctx, json_t *doc, void (*human)(FILE *out, const json_t *doc));

/* The body of a verb that asks one question and shows the answer: sends
 * req as cmd_request does and shows the reply with cmd_show_doc.  Releases
 * the reply.  Returns CMD_EXIT_OK, or CMD_EXIT_FAIL after cmd_request's
 * cmd_fail. */
int cmd_show(cmd_ctx_t *ctx, Clapper__Request *req, void (*human)(FILE *out, const json_t *doc));

/* The exec of a verb that asks one question (its entry's ask): sends
 * Request{ask.verb, ids = the arguments when ask.ids names them, note =
 * *ask.note when given} as cmd_show does and shows the reply with
 * ask.human.  Returns CMD_EXIT_USAGE after cmd_parse_id refused an
 * argument, else cmd_show's status. */
int cmd_exec_ask(cmd_ctx_t *ctx, int argc, char **argv);

/* Appends what still runs after a verb that lets running work finish or
 * stops it: " (N running ONE)" when n is 1, " (N running MANY)" when n > 1,
 * else " (NONE)" unless none is NULL. */
void cmd_running_note(sbuf_t *line, json_int_t n, const char *one, const char *many,
                      const char *none);

/* The length of an idempotency key made by cmd_submit_key. */
#define CMD_SUBMIT_KEY_LEN 39

/* Makes a new idempotency key for a submission, "submit-" and 32 random
 * hex digits, into buf (len >= CMD_SUBMIT_KEY_LEN + 1).  Returns 0, or -1
 * (errno set) when no random bytes could be had. */
int cmd_submit_key(char *buf, size_t len) MUSTCHECK;

/* The number of a job's tasks in state, from the job object's "tasks"
 * counts (0 when it has none). */
json_int_t cmd_task_count(const json_t *job, const char *state);

/* Appends the one-line account of a take's review (cmd_review.c), as
 * `clapper approve` prints it and `clapper audit` lists decisions:
 * "take 7 approved by alice at TIME: looks great" from take's "take_id",
 * "state" (changes_requested reads "changes requested", pending_review
 * "pending review", a missing state "decided"), "decided_by",
 * "decided_at" (only when with_time) and "note"; the by, at and note
 * parts are left out when null or empty.  No newline; the text is not
 * sanitised (output_line does that). */
void cmd_review_decision(sbuf_t *out, const json_t *take, bool with_time);

/* Shared with `clapper local status`: prints the coordinator's
 * {"workers": [...]} document as the workers table. */
void cmd_workers_table(FILE *out, const json_t *doc);

/* Prints "job 12 NAME: " followed by what tail appends, one line for every
 * job of doc's "jobs" array (the replies of submit, cancel, pause, ...). */
void cmd_print_jobs(FILE *out, const json_t *doc, void (*tail)(sbuf_t *line, const json_t *job));

#endif
