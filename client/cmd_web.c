/*
 * cmd_web.c - `clapper web [--print]`: sign in to the coordinator's web
 * side without a password.
 *
 * Sends Request{VERB_WEB_LINK} over the authenticated socket and gets
 * {"url", "name", "role", "expires_at", "ttl_ms"} back: a sign-in link,
 * bound to this key's name and role, that works once and only for ttl_ms
 * (the coordinator's --http-link-ttl-ms, 60 s).  The browser trades it for
 * a session cookie (docs/api-auth.md).  Human output: the link alone on
 * the first line, then one line saying whom it signs in and until when;
 * without --print, when there is a display (DISPLAY or WAYLAND_DISPLAY),
 * the link is also opened with xdg-open (not waited for; a missing
 * xdg-open is only mentioned).  A coordinator whose HTTP server is off
 * refuses with code "unavailable".
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"

static struct {
  bool print;
} opt;

static const cfg_opt_t web_opts[] = {
    {"print", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "only print the link (do not open it in a browser)", &opt.print},
};

/* Starts xdg-open url in a grandchild of its own (so nothing waits for
 * the browser); true when the child could be made and exec'd. */
static bool open_url(const char *url) {
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0)
    return false;
  pid_t pid = fork();
  if (pid < 0) {
    close(pfd[0]);
    close(pfd[1]);
    return false;
  }
  if (pid == 0) {
    close(pfd[0]);
    if (fork() != 0)
      _exit(0);
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    execlp("xdg-open", "xdg-open", url, (char *)NULL);
    char fail = 1;
    ssize_t ignored = write(pfd[1], &fail, 1); /* exec failed */
    (void)ignored;
    _exit(127);
  }
  close(pfd[1]);
  int st;
  waitpid(pid, &st, 0);
  char b;
  ssize_t n = read(pfd[0], &b, 1); /* 0 once the grandchild exec'd (close-on-exec) */
  close(pfd[0]);
  return n == 0;
}

static bool opened;

static void print_link(FILE *out, const json_t *doc) {
  const char *url = output_string(doc, "url");
  output_line(out, url ? url : "-");
  sbuf_t line = {0};
  output_fill(&line, doc, "signs in {name} ({role}) once, until {expires_at}");
  if (opened)
    sbuf_puts(&line, "; opened in your browser");
  output_line_done(out, &line);
}

static int web_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  (void)argv;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_WEB_LINK;
  json_t *doc = cmd_request(ctx, &req);
  if (!doc)
    return CMD_EXIT_FAIL;
  opened = false;
  const char *url = output_string(doc, "url");
  const char *display = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
  if (!opt.print && !ctx->json && url && ((display && *display) || (wayland && *wayland))) {
    opened = open_url(url);
    if (!opened)
      fprintf(ctx->err, "clapper: could not run xdg-open; open the link yourself\n");
  }
  return cmd_show_doc(ctx, doc, print_link);
}

const struct cmd_entry cmd_web_entry = {
    .name = "web", CMD_OPTS(web_opts), .min_args = 0, .max_args = 0, .exec = web_exec,
    .usage = "[--print] [options]",
    .help = "print (and open) a single-use link that signs this key in on the web",
};
