/*
 * cmd_users.c - `clapper users add|list|remove`: the coordinator's key
 * registry, who may connect and as what.  Admins only; the
 * coordinator says "forbidden" to anyone else.
 *
 *   users add NAME --role ROLE --public-key FILE
 *       FILE is a .pub (or .key) file read with keys_load; its name must be
 *       NAME.  Sends Request{VERB_USERS_ADD, name, kind = ROLE, public_key}
 *       (never a secret key) and gets {"user": {...}} back.
 *   users list [--limit N] [--after NAME]
 *       Request{VERB_USERS_LIST, limit, after_name} -> {"users": [{...},
 *       ...], "more", "next_after"}: a page of at most N users (1000 by
 *       default) named after NAME, in name order.
 *   users remove NAME
 *       Request{VERB_USERS_REMOVE, name} -> {"user": {...the removed one}}.
 *
 * A user is {"name", "role", "public_key", "added_by", "added_at"}.  ROLE
 * is one of submitter, supervisor, operator, auditor, admin, worker (a
 * worker's key name is its worker name).  Argument errors are found before
 * anything is sent (exit 2); a key file that cannot be used is exit 1 with
 * code "invalid_key".  Human output: one line for add and remove, e.g.
 *
 *   user alice (admin) added, public key rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
 *   user alice (admin) removed
 *
 * and a table for list (NAME, ROLE, ADDED BY, ADDED AT, PUBLIC KEY) with,
 * when more users remain, a last line naming the --after of the next page.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "keys.h"

#define ROLES "submitter, supervisor, operator, auditor, admin, worker"
#define ADD_USAGE "clapper users add NAME --role ROLE --public-key FILE"
#define LIST_USAGE "clapper users list [--limit N] [--after NAME]"
#define REMOVE_USAGE "clapper users remove NAME"

static struct {
  char *role;
  char *public_key;
  cmd_page_t page;
} opt;

static const cfg_opt_t users_opts[] = {
    {"role", 0, CFG_STRING, NULL, NULL, 0, 0, "ROLE",
     "add: " ROLES, &opt.role},
    {"public-key", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE",
     "add: the user's NAME.pub (from clapper keygen NAME)", &opt.public_key},
    CMD_PAGE_NAME_OPTS(opt.page, "users"),
};

static bool role_valid(const char *role) {
  static const char *const roles[] = {"submitter", "supervisor", "operator",
                                      "auditor",   "admin",      "worker"};
  for (size_t i = 0; i < ARRAY_SIZE(roles); i++)
    if (!strcmp(role, roles[i]))
      return true;
  return false;
}

/* "user alice (admin) WHAT" plus, for add, the public key. */
static void user_line(FILE *out, const json_t *doc, const char *what, bool with_key) {
  const json_t *u = json_object_get(doc, "user");
  sbuf_t line = {0};
  output_fill(&line, u, "user {name} ({role}) ");
  sbuf_puts(&line, what);
  if (with_key)
    output_fill(&line, u, ", public key {public_key}");
  output_line_done(out, &line);
}

static void print_added(FILE *out, const json_t *doc) { user_line(out, doc, "added", true); }
static void print_removed(FILE *out, const json_t *doc) { user_line(out, doc, "removed", false); }

/* One row of the table: a user. */
static void user_row(out_table_t *t, const json_t *u, void *arg) {
  table_add_fields(t, u, "name", "role", "added_by", NULL);
  table_add_time(t, json_object_get(u, "added_at"));
  table_add_fields(t, u, "public_key", NULL);
}

static void print_list(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {"NAME", "ROLE", "ADDED BY", "ADDED AT", "PUBLIC KEY"};
  output_table(out, ARRAY_SIZE(hdr), hdr, json_object_get(doc, "users"), user_row, NULL);
  cmd_page_hint(out, doc, "users");
}

static int check_name(cmd_ctx_t *ctx, const char *name) {
  if (ident_valid(name))
    return 0;
  cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
           "invalid user name '%s': expected " IDENT_PATTERN, name);
  return -1;
}

static int users_add(cmd_ctx_t *ctx, const char *name) {
  if (check_name(ctx, name) < 0)
    return CMD_EXIT_USAGE;
  if (!opt.role)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "users add: --role ROLE is required (one of " ROLES ")");
  if (!role_valid(opt.role))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "users add: invalid role '%s': expected one of " ROLES, opt.role);
  if (!opt.public_key || !opt.public_key[0])
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "users add: --public-key FILE is required (the user makes it with "
                    "clapper keygen %s)",
                    name);
  keys_key_t k;
  char err[1024];
  if (keys_load(opt.public_key, &k, err, sizeof err) < 0)
    return cmd_fail(ctx, CMD_EXIT_FAIL, "invalid_key", "%s", err);
  if (strcmp(k.name, name) != 0) {
    int st = cmd_fail(ctx, CMD_EXIT_FAIL, "invalid_key",
                      "%s is the key of '%s', not of '%s' (a key is registered under the "
                      "name it was made for)",
                      opt.public_key, k.name, name);
    keys_wipe(&k);
    return st;
  }
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_USERS_ADD;
  req.name = (char *)name;
  req.kind = opt.role;
  req.public_key = k.public_key;
  int st = cmd_show(ctx, &req, print_added);
  keys_wipe(&k);
  return st;
}

static int users_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  if (argc < 1)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "users: missing action (usage: " ADD_USAGE ", " LIST_USAGE " or "
                    REMOVE_USAGE ")");
  const char *action = argv[0];
  bool add = !strcmp(action, "add"), list = !strcmp(action, "list"),
       rm = !strcmp(action, "remove");
  if (!add && !list && !rm)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "users: unknown action '%s' (expected add, list or remove)", action);
  int want = list ? 1 : 2;
  if (argc != want)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "users %s: %s (usage: %s)", action,
                    argc < want ? "missing argument" : "too many arguments",
                    add ? ADD_USAGE : list ? LIST_USAGE : REMOVE_USAGE);
  if (!add && (opt.role || opt.public_key))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "users %s: %s is only for users add",
                    action, opt.role ? "--role" : "--public-key");
  if (!list && (opt.page.limit || opt.page.after))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "users %s: %s is only for users list",
                    action, opt.page.after ? "--after" : "--limit");
  if (add)
    return users_add(ctx, argv[1]);
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  if (list) {
    req.verb = CLAPPER__VERB__VERB_USERS_LIST;
    if (cmd_page_request_name(ctx, &opt.page, &req) < 0)
      return CMD_EXIT_USAGE;
    return cmd_show(ctx, &req, print_list);
  }
  if (check_name(ctx, argv[1]) < 0)
    return CMD_EXIT_USAGE;
  req.verb = CLAPPER__VERB__VERB_USERS_REMOVE;
  req.name = argv[1];
  return cmd_show(ctx, &req, print_removed);
}

const struct cmd_entry cmd_users_entry = {
    /* any number of arguments: users_exec words the errors */
    .name = "users", CMD_OPTS(users_opts), .min_args = 0, .max_args = -1, .exec = users_exec,
    .usage = "add NAME --role ROLE --public-key FILE [options]\n"
             "   or: " LIST_USAGE " [options]\n"
             "   or: " REMOVE_USAGE " [options]",
    .help = "register, list or remove the keys the coordinator admits (admins)",
};
