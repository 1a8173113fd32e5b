/*
 * cmd_limits.c - licence limits and pools of workers:
 *
 *   clapper limit set NAME N          a limit's count (0 to 1000000; 0: none
 *                                     of its tasks start, running ones finish)
 *   clapper limit remove NAME         forget a limit no unfinished job requires
 *   clapper limits                    NAME COUNT IN-USE WAITING SET-BY
 *   clapper pool set NAME MEMBER...   a pool's members, each tag:TAG (every
 *                                     worker with that tag) or worker:NAME
 *   clapper pool remove NAME          forget a pool no unfinished job targets
 *   clapper pools                     NAME MEMBERS WORKERS WAITING
 *
 * Setting and removing take the operator or admin role; every role reads.
 * `limits` and `pools` both send Request{VERB_LIMITS} and get
 * {"version": 1, "limits": [{"name", "count", "in_use", "waiting",
 * "set_by", "set_at"}], "pools": [{"name", "tags", "workers", "members",
 * "waiting", "set_by", "set_at"}]} (docs/json.md); each shows its half.
 * `limit set` sends Request{VERB_LIMIT_SET, name, value} and shows the
 * reply's {"limit": {...}} as "limit houdini: 20 (3 in use, 5 waiting)";
 * `pool set` sends Request{VERB_POOL_SET, name, members}.  Names are
 * identifiers and counts integers, checked here first (usage errors,
 * exit 2) and by the coordinator again.
 */
#include <string.h>

#include "cmd.h"

/* An identifier, as util.h's ident_valid checks it. */
#define NAME_RULE IDENT_PATTERN

#define LIMIT_USAGE "clapper limit set NAME N | clapper limit remove NAME"
#define POOL_USAGE "clapper pool set NAME tag:TAG|worker:NAME... | clapper pool remove NAME"

/* ---------------------------------------------------------------- views */

static void limit_line(FILE *out, const json_t *doc) {
  sbuf_t line = {0};
  const json_t *l = json_object_get(doc, "limit");
  if (l)
    output_fill(&line, l, "limit {name}: {count} ({in_use} in use, {waiting} waiting)");
  else
    output_fill(&line, doc, "limit {removed} removed");
  output_line_done(out, &line);
}

static void join(sbuf_t *sb, const json_t *arr, const char *prefix) {
  size_t k;
  json_t *e;
  json_array_foreach(arr, k, e) {
    sbuf_printf(sb, "%s%s", sb->len ? "," : "", prefix);
    output_json_text(e, sb);
  }
}

static void pool_members(sbuf_t *sb, const json_t *p) {
  join(sb, json_object_get(p, "tags"), "tag:");
  join(sb, json_object_get(p, "workers"), "worker:");
}

static void pool_line(FILE *out, const json_t *doc) {
  sbuf_t line = {0};
  const json_t *p = json_object_get(doc, "pool");
  if (p) {
    sbuf_t m = {0}, w = {0};
    pool_members(&m, p);
    join(&w, json_object_get(p, "members"), "");
    output_fill(&line, p, "pool {name}: ");
    sbuf_printf(&line, "%s (workers now: %s)", m.buf, w.len ? w.buf : "none");
    sbuf_free(&m);
    sbuf_free(&w);
  } else {
    output_fill(&line, doc, "pool {removed} removed");
  }
  output_line_done(out, &line);
}

static void limit_row(out_table_t *t, const json_t *l, void *arg) {
  (void)arg;
  table_add_fields(t, l, "name", "count", "in_use", "waiting", "set_by", NULL);
}

static void limits_table(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {"NAME", ">COUNT", ">IN-USE", ">WAITING", "SET-BY"};
  const json_t *limits = json_object_get(doc, "limits");
  if (!json_array_size(limits)) {
    output_line(out, "no limits (an operator sets one with clapper limit set NAME N)");
    return;
  }
  output_table(out, ARRAY_SIZE(hdr), hdr, limits, limit_row, NULL);
}

static void pool_row(out_table_t *t, const json_t *p, void *arg) {
  (void)arg;
  table_add_fields(t, p, "name", NULL);
  sbuf_t sb = {0};
  pool_members(&sb, p);
  table_add(t, sb.len ? sb.buf : "-");
  sbuf_free(&sb);
  join(&sb, json_object_get(p, "members"), "");
  table_add(t, sb.len ? sb.buf : "-");
  sbuf_free(&sb);
  table_add_fields(t, p, "waiting", "set_by", NULL);
}

static void pools_table(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {"NAME", "MEMBERS", "WORKERS", ">WAITING", "SET-BY"};
  const json_t *pools = json_object_get(doc, "pools");
  if (!json_array_size(pools)) {
    output_line(out, "no pools (an operator defines one with clapper pool set NAME tag:TAG)");
    return;
  }
  output_table(out, ARRAY_SIZE(hdr), hdr, pools, pool_row, NULL);
}

/* ---------------------------------------------------------------- verbs */

static int check_name(cmd_ctx_t *ctx, const char *what, const char *name) {
  if (ident_valid(name))
    return 0;
  cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "invalid %s name '%s': expected " NAME_RULE, what, name);
  return -1;
}

static int limit_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  bool set = !strcmp(argv[0], "set");
  if (!set && strcmp(argv[0], "remove") != 0)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "limit: unknown action '%s' (expected set or remove)", argv[0]);
  if (argc != (set ? 3 : 2))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "limit %s: %s (usage: " LIMIT_USAGE ")",
                    argv[0], argc < (set ? 3 : 2) ? "missing argument" : "too many arguments");
  if (check_name(ctx, "limit", argv[1]) < 0)
    return CMD_EXIT_USAGE;
  req.name = argv[1];
  req.verb = CLAPPER__VERB__VERB_LIMIT_REMOVE;
  if (set) {
    uint64_t n;
    if (util_parse_u64(argv[2], 0, 1000000, &n) < 0)
      return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                      "invalid count '%s': expected an integer from 0 to 1000000", argv[2]);
    req.verb = CLAPPER__VERB__VERB_LIMIT_SET;
    req.value = (int64_t)n;
  }
  return cmd_show(ctx, &req, limit_line);
}

static int pool_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  bool set = !strcmp(argv[0], "set");
  if (!set && strcmp(argv[0], "remove") != 0)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "pool: unknown action '%s' (expected set or remove)", argv[0]);
  if (argc < (set ? 3 : 2) || (!set && argc > 2))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "pool %s: %s (usage: " POOL_USAGE ")",
                    argv[0], argc < 2 || set ? "missing argument" : "too many arguments");
  if (check_name(ctx, "pool", argv[1]) < 0)
    return CMD_EXIT_USAGE;
  req.name = argv[1];
  req.verb = CLAPPER__VERB__VERB_POOL_REMOVE;
  if (set) {
    for (int i = 2; i < argc; i++) {
      const char *m = argv[i];
      const char *id = !strncmp(m, "tag:", 4)      ? m + 4
                       : !strncmp(m, "worker:", 7) ? m + 7
                                                   : NULL;
      if (!id || !ident_valid(id))
        return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                        "invalid member '%s': expected tag:TAG or worker:NAME (" NAME_RULE ")",
                        m);
    }
    req.verb = CLAPPER__VERB__VERB_POOL_SET;
    req.members = argv + 2;
    req.n_members = (size_t)(argc - 2);
  }
  return cmd_show(ctx, &req, pool_line);
}

static int list_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  (void)argv;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_LIMITS;
  return cmd_show(ctx, &req, ctx->entry == &cmd_pools_entry ? pools_table : limits_table);
}

const struct cmd_entry cmd_limit_entry = {
    .name = "limit", .min_args = 1, .max_args = 3, .exec = limit_exec,
    .usage = "set NAME N | remove NAME [options]",
    .help = "set a licence limit: at most N tasks of the jobs requiring it run at once",
};

const struct cmd_entry cmd_limits_entry = {
    .name = "limits", .min_args = 0, .max_args = 0, .exec = list_exec,
    .usage = "[options]",
    .help = "list the licence limits: count, in use, tasks waiting",
};

const struct cmd_entry cmd_pool_entry = {
    .name = "pool", .min_args = 1, .max_args = -1, .exec = pool_exec,
    .usage = "set NAME tag:TAG|worker:NAME... | remove NAME [options]",
    .help = "define a pool of workers (by tag or by name) that jobs can target",
};

const struct cmd_entry cmd_pools_entry = {
    .name = "pools", .min_args = 0, .max_args = 0, .exec = list_exec,
    .usage = "[options]",
    .help = "list the pools of workers and their members",
};
