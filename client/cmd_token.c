/*
 * cmd_token.c - `clapper token create|list|revoke`: API tokens, with
 * which scripts use the coordinator's HTTP API (docs/api-auth.md).
 *
 *   token create NAME [--role ROLE] [--expires 30d]
 *       Request{VERB_TOKEN_CREATE, name, kind = ROLE ("" this key's own),
 *       expires ("" 90 days; s, m, h or d, at most 365d)} ->
 *       {"token": {...}, "secret": "clp_ID_..."}.  The secret is shown
 *       this once: the coordinator keeps only its hash.  A role is at most
 *       the creator's: an admin may give any role but worker, anyone else
 *       only their own.
 *   token list
 *       Request{VERB_TOKEN_LIST} -> {"tokens": [{...}, ...]}: this key's
 *       tokens (an admin's: everyone's), first made first, never a secret.
 *   token revoke NAME|ID
 *       Request{VERB_TOKEN_REVOKE, ids[0] = ID, or name = NAME} ->
 *       {"token": {...}}: refused from the next request on.  An argument of
 *       digits only is an id (token names are never all digits).
 *
 * A token is {"id", "name", "owner", "role", "state" (active, expired or
 * revoked), "created_at", "expires_at", "revoked_at", "created_by"}.
 * Argument errors are found before anything is sent (exit 2); the rest
 * (the role, the expiry) the coordinator checks.  Human output: for
 * create, a line about the token on stderr and the secret alone on
 * stdout (so that TOKEN=$(clapper token create NAME) keeps just it);
 * for revoke one line; for list a table (ID, NAME, OWNER, ROLE, STATE,
 * EXPIRES, CREATED).
 */
#include <string.h>

#include "cmd.h"

#define CREATE_USAGE "clapper token create NAME [--role ROLE] [--expires 30d]"
#define LIST_USAGE "clapper token list"
#define REVOKE_USAGE "clapper token revoke NAME|ID"

static struct {
  char *role;
  char *expires;
} opt;

static const cfg_opt_t token_opts[] = {
    {"role", 0, CFG_STRING, NULL, NULL, 0, 0, "ROLE",
     "create: the token's role (default yours; only an admin gives another)", &opt.role},
    {"expires", 0, CFG_STRING, NULL, NULL, 0, 0, "DURATION",
     "create: how long it works, e.g. 12h or 30d (s, m, h, d; default 90d, at most 365d)",
     &opt.expires},
};

static void print_created(FILE *out, const json_t *doc) {
  const json_t *t = json_object_get(doc, "token");
  sbuf_t line = {0};
  output_fill(&line, t,
              "token {id} {name} ({role}) for {owner}, until {expires_at}; its "
              "secret, shown only now:");
  output_line_done(stderr, &line); /* stdout is the secret alone: TOKEN=$(clapper token create x) */
  const char *secret = output_string(doc, "secret");
  output_line(out, secret ? secret : "-");
}

static void print_revoked(FILE *out, const json_t *doc) {
  sbuf_t line = {0};
  output_fill(&line, json_object_get(doc, "token"), "token {id} {name} of {owner} revoked");
  output_line_done(out, &line);
}

static void token_row(out_table_t *t, const json_t *k, void *arg) {
  (void)arg;
  table_add_fields(t, k, "id", "name", "owner", "role", NULL);
  const char *state = output_string(k, "state");
  table_add_state(t, state ? state : "-");
  table_add_time(t, json_object_get(k, "expires_at"));
  table_add_time(t, json_object_get(k, "created_at"));
}

static void print_list(FILE *out, const json_t *doc) {
  static const char *const hdr[] = {">ID", "NAME", "OWNER", "ROLE", "STATE", "EXPIRES", "CREATED"};
  const json_t *tokens = json_object_get(doc, "tokens");
  if (!json_array_size(tokens)) {
    output_line(out, "no API tokens (make one with " CREATE_USAGE ")");
    return;
  }
  output_table(out, ARRAY_SIZE(hdr), hdr, tokens, token_row, NULL);
}

static int token_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  if (argc < 1)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "token: missing action (usage: " CREATE_USAGE ", " LIST_USAGE
                    " or " REVOKE_USAGE ")");
  const char *action = argv[0];
  bool create = !strcmp(action, "create"), list = !strcmp(action, "list"),
       revoke = !strcmp(action, "revoke");
  if (!create && !list && !revoke)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "token: unknown action '%s' (expected create, list or revoke)", action);
  int want = list ? 1 : 2;
  if (argc != want)
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "token %s: %s (usage: %s)", action,
                    argc < want ? "missing argument" : "too many arguments",
                    create ? CREATE_USAGE
                    : list ? LIST_USAGE
                           : REVOKE_USAGE);
  if (!create && (opt.role || opt.expires))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "token %s: %s is only for token create", action,
                    opt.role ? "--role" : "--expires");
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  if (list) {
    req.verb = CLAPPER__VERB__VERB_TOKEN_LIST;
    return cmd_show(ctx, &req, print_list);
  }
  const char *arg = argv[1];
  if (create) {
    if (!ident_valid(arg) || util_all_digits(arg))
      return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                      "invalid token name '%s': expected " IDENT_PATTERN ", not all digits", arg);
    req.verb = CLAPPER__VERB__VERB_TOKEN_CREATE;
    req.name = (char *)arg;
    req.kind = opt.role;
    req.expires = opt.expires;
    return cmd_show(ctx, &req, print_created);
  }
  req.verb = CLAPPER__VERB__VERB_TOKEN_REVOKE;
  uint64_t id;
  if (util_all_digits(arg)) {
    if (cmd_parse_id(ctx, "token id", arg, &id) < 0)
      return CMD_EXIT_USAGE;
    req.ids = &id;
    req.n_ids = 1;
  } else if (ident_valid(arg)) {
    req.name = (char *)arg;
  } else {
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "invalid token '%s': expected a token's name (" IDENT_PATTERN ") or id", arg);
  }
  return cmd_show(ctx, &req, print_revoked);
}

const struct cmd_entry cmd_token_entry = {
    /* any number of arguments: token_exec words the errors */
    .name = "token",
    CMD_OPTS(token_opts),
    .min_args = 0,
    .max_args = -1,
    .exec = token_exec,
    .usage = "create NAME [--role ROLE] [--expires 30d] [options]\n"
             "   or: " LIST_USAGE " [options]\n"
             "   or: " REVOKE_USAGE " [options]",
    .help = "create, list or revoke API tokens for the HTTP API",
};
