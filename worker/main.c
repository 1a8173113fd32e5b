/*
 * main.c - clapper-worker: the GPU worker daemon (see worker/worker.h), or,
 * with --shim as its first argument, the shim that runs one task (see
 * worker/shim.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "log.h"
#include "options.h"
#include "shim.h"
#include "worker.h"

int main(int argc, char **argv) {
  /* The shim runs before anything else touches the process. */
  if (argc > 1 && !strcmp(argv[1], SHIM_FLAG))
    shim_main(argc, argv);

  uv_disable_stdio_inheritance();
  signal(SIGPIPE, SIG_IGN); /* tasks get default dispositions back from uv_spawn */

  options_t o;
  memset(&o, 0, sizeof o);
  char err[1024];
  int rc = options_parse(&o, argc, argv, err, sizeof err);
  if (rc != 0) {
    if (rc < 0)
      fprintf(stderr, "clapper-worker: %s\n", err);
    options_free(&o);
    return rc < 0 ? 2 : 0;
  }
  log_init("clapper-worker", o.log_level_num);
  rc = worker_run(&o);
  options_free(&o);
  return rc;
}
