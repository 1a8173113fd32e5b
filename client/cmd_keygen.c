/*
 * cmd_keygen.c - `clapper keygen NAME [--dir DIR]`: a new CURVE key pair.
 *
 * Writes DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub (mode 0644)
 * with keys_generate, making DIR (mode 0700) when it does not exist; an
 * existing key is never overwritten.  Does not talk to the coordinator:
 * an admin registers the .pub with `clapper users add`.  Human output:
 *
 *   wrote ./alice.key (secret: keep it to yourself; use it with --key or CLAPPER_KEY)
 *   wrote ./alice.pub (for an admin: clapper users add alice --role ROLE --public-key ./alice.pub)
 *
 * --json: {"name", "key": path, "pub": path, "public_key": Z85}.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "keys.h"

static struct {
  char *dir;
} opt;

static const cfg_opt_t keygen_opts[] = {
    {"dir", 0, CFG_STRING, NULL, ".", 0, 0, "DIR", "where to write NAME.key and NAME.pub",
     &opt.dir},
};

/* The human view of the key pair document: where the two files are. */
static void print_keys(FILE *out, const json_t *doc) {
  sbuf_t line = {0};
  output_fill(&line, doc,
              "wrote {key} (secret: keep it to yourself; use it with --key or CLAPPER_KEY)");
  output_line(out, line.buf);
  sbuf_reset(&line);
  output_fill(&line, doc,
              "wrote {pub} (for an admin: clapper users add {name} --role ROLE "
              "--public-key {pub})");
  output_line_done(out, &line);
}

static int keygen_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  const char *name = argv[0];
  if (!ident_valid(name))
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                    "invalid key name '%s': expected " IDENT_PATTERN, name);
  if (!opt.dir[0])
    return cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "--dir: empty directory name");
  if (util_mkdir_p(opt.dir, 0700) < 0)
    return cmd_fail(ctx, CMD_EXIT_FAIL, "io", "cannot create %s: %s", opt.dir,
                    strerror(errno));
  char err[1024];
  keys_key_t k;
  if (keys_generate(name, opt.dir, &k, err, sizeof err) < 0)
    return cmd_fail(ctx, CMD_EXIT_FAIL, "io", "%s", err);
  char *key = keys_path(opt.dir, name, "key"), *pub = keys_path(opt.dir, name, "pub");
  json_t *doc = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "key", key, "pub", pub,
                          "public_key", k.public_key);
  keys_wipe(&k);
  free(key);
  free(pub);
  return cmd_show_doc(ctx, doc, print_keys);
}

const struct cmd_entry cmd_keygen_entry = {
    .name = "keygen", CMD_OPTS(keygen_opts), .min_args = 1, .max_args = 1, .exec = keygen_exec,
    .usage = "NAME [--dir DIR] [options]",
    .help = "make a key pair NAME.key (secret) and NAME.pub (to register with clapper users)",
};
