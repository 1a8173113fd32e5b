/*
 * options.c - the worker's settings table and its checks, see options.h.
 */
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "logkeep.h"
#include "log.h"

#define PROG "clapper-worker"
#define USAGE "[options]"

static size_t table(options_t *o, cfg_opt_t *t) {
  size_t n = 0;
  t[n++] = (cfg_opt_t){"config", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE",
                       "read settings from FILE (name = value lines)", &o->config};
  /* No environment variable: CLAPPER_COORDINATOR names the coordinator's
   * client endpoint (clapper local up's env file), not the worker one. */
  t[n++] = (cfg_opt_t){"coordinator", 0, CFG_LIST, NULL, OPTIONS_DEFAULT_COORDINATOR, 0, 0,
                       "ENDPOINT",
                       "coordinator endpoint; list every coordinator (or a,b)",
                       &o->coordinator};
  t[n++] = (cfg_opt_t){"name", 0, CFG_STRING, NULL, NULL, 0, 0, "NAME",
                       "worker name, an identifier (default: the hostname)", &o->name};
  t[n++] = (cfg_opt_t){"gpus", 0, CFG_STRING, NULL, "auto", 0, 0, "auto|none",
                       "discover GPUs through NVML, or use none", &o->gpus};
  t[n++] = (cfg_opt_t){"gpu-inventory", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE",
                       "GPUs from a JSON inventory file instead of NVML", &o->gpu_inventory};
  t[n++] = (cfg_opt_t){"cpus", 0, CFG_INT, NULL, NULL, 1, 65536, "N",
                       "CPUs offered (default: online CPUs)", &o->cpus};
  t[n++] = (cfg_opt_t){"memory-mb", 0, CFG_INT, NULL, NULL, 1, (long long)1 << 40, "N",
                       "memory offered in MiB (default: physical memory)", &o->memory_mb};
  t[n++] = (cfg_opt_t){"tags", 0, CFG_LIST, NULL, NULL, 0, 0, "a,b",
                       "tags this worker offers", &o->tags_raw};
  t[n++] = (cfg_opt_t){"workdir", 0, CFG_STRING, NULL, OPTIONS_DEFAULT_WORKDIR, 0, 0, "DIR",
                       "journal, logs and reports", &o->workdir};
  t[n++] = (cfg_opt_t){"key", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE",
                       "this worker's key pair (NAME.key): talk to the coordinator over "
                       "CURVE (default: in the clear)",
                       &o->key};
  t[n++] = (cfg_opt_t){"server-key", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE",
                       "the coordinator's public key (default: coordinator.pub next to "
                       "--key)",
                       &o->server_key};
  t[n++] = (cfg_opt_t){"heartbeat-ms", 0, CFG_INT, NULL, "1000", 10, 600000, "MS",
                       "heartbeat interval until the coordinator's Welcome sets it",
                       &o->heartbeat_ms};
  t[n++] = (cfg_opt_t){"kill-grace-ms", 0, CFG_INT, NULL, "5000", 0, 3600000, "MS",
                       "SIGTERM to SIGKILL delay for timed-out and canceled tasks",
                       &o->kill_grace_ms};
  t[n++] = (cfg_opt_t){"drain-timeout-ms", 0, CFG_INT, NULL, "10000", 0, 3600000, "MS",
                       "after SIGTERM and the last task, wait this long for acknowledgements",
                       &o->drain_timeout_ms};
  t[n++] = (cfg_opt_t){"log-stream-max-bytes", 0, CFG_INT, NULL, "4194304", 0,
                       (long long)1 << 40, "N",
                       "stream at most N bytes of each task's log to the coordinator "
                       "while it runs (0: none)",
                       &o->log_stream_max_bytes};
  t[n++] = (cfg_opt_t){"min-free-mb", 0, CFG_INT, NULL, "64", 0, (long long)1 << 30, "N",
                       "take no work (degraded) while the workdir's disk has less than N "
                       "MiB free",
                       &o->min_free_mb};
  t[n++] = (cfg_opt_t){"log-retention", 0, CFG_STRING, NULL, LOGKEEP_DEFAULT, 0, 0,
                       "AGE,SIZE",
                       "delete attempt logs the coordinator has whole once older than AGE "
                       "(7d, 12h); keep all logs under SIZE (20G), oldest deleted first; off: "
                       "keep every log",
                       &o->log_retention};
  t[n++] = (cfg_opt_t){"task-user",
                       0,
                       CFG_STRING,
                       NULL,
                       NULL,
                       0,
                       0,
                       "USER",
                       "run tasks as USER, who must not be able to read the key or the "
                       "workdir (default, as root: " TASKUSER_DEFAULT "; otherwise the "
                       "worker's own user)",
                       &o->task_user_name};
  t[n++] = (cfg_opt_t){"cgroups",
                       0,
                       CFG_STRING,
                       NULL,
                       "auto",
                       0,
                       0,
                       "auto|off",
                       "auto: run each attempt in a cgroup of its own (memory.max, cpu.max "
                       "from requires) where this worker's cgroup v2 is writable (systemd "
                       "Delegate=yes)",
                       &o->cgroups};
  t[n++] = (cfg_opt_t){"log-level", 0, CFG_STRING, NULL, "info", 0, 0, "LEVEL",
                       "error, warn, info or debug", &o->log_level};
  return n;
}

#define TABLE_MAX 24

char *options_name_from_host(const char *hostname) {
  char *name = util_ident_from(hostname);
  return name ? name : xstrdup("worker");
}

/* Appends the comma-separated items of each value to *out; empty items are
 * skipped. */
static void split_list(const cfg_list_t *l, char ***out, size_t *n) {
  for (size_t i = 0; i < l->n; i++) {
    char *copy = xstrdup(l->items[i]), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      while (*tok == ' ')
        tok++;
      size_t len = strlen(tok);
      while (len && tok[len - 1] == ' ')
        tok[--len] = '\0';
      if (!len)
        continue;
      *out = xreallocarray(*out, *n + 1, sizeof **out);
      (*out)[(*n)++] = xstrdup(tok);
    }
    free(copy);
  }
}

/* Checks --key and --server-key (see options.h); the key's name becomes
 * the worker's when --name is not given.  0, or -1 with err. */
static int check_keys(options_t *o, char *err, size_t errlen) {
  char why[1024];
  keys_key_t k, server;
  int rc = -1;
  if (!o->key) {
    if (o->server_key)
      return util_fail(err, errlen, "--server-key needs --key (this worker's key pair)");
    return 0;
  }
  if (!o->key[0])
    return util_fail(err, errlen, "--key: empty file name");
  if (keys_load(o->key, &k, why, sizeof why) < 0)
    return util_fail(err, errlen, "--key: %s", why);
  char *spath = o->server_key ? xstrdup(o->server_key) : keys_default_server(o->key);
  if (!k.secret_key[0]) {
    util_fail(err, errlen, "--key: %s holds no secret key: give the %s.key file, not the "
              "public one", o->key, k.name);
    goto out;
  }
  if (keys_load(spath, &server, why, sizeof why) < 0) {
    if (o->server_key)
      util_fail(err, errlen, "--server-key: %s", why);
    else
      util_fail(err, errlen, "--key: %s (the coordinator's public key, looked for next to "
                "the key; name it with --server-key FILE)", why);
    goto out;
  }
  keys_wipe(&server);
  if (!o->name) {
    o->name = xstrdup(k.name);
  } else if (strcmp(o->name, k.name) != 0) {
    util_fail_line(err, errlen,
                   "--name %s differs from the name of the key in %s (%s): the coordinator "
                   "knows a worker's key by the worker's name",
                   o->name, o->key, k.name);
    goto out;
  }
  rc = 0;
out:
  keys_wipe(&k);
  free(spath);
  return rc;
}

/* Decides the task user (see options.h).  0, or -1 with err. */
static int check_task_user(options_t *o, char *err, size_t errlen) {
  char why[512];
  uid_t me = geteuid();
  if (me != 0) {
    if (!o->task_user_name)
      return taskuser_lookup_self(&o->task_user, err, errlen);
    if (taskuser_lookup(o->task_user_name, &o->task_user, why, sizeof why) < 0)
      return util_fail(err, errlen, "--task-user: %s", why);
    if (o->task_user.uid != me)
      return util_fail(err, errlen,
                       "--task-user %s: a worker that is not root (this one runs as uid %lu) "
                       "cannot run tasks as another user",
                       o->task_user_name, (unsigned long)me);
    return 0;
  }
  const char *name = o->task_user_name ? o->task_user_name : TASKUSER_DEFAULT;
  if (taskuser_lookup(name, &o->task_user, why, sizeof why) < 0) {
    if (o->task_user_name)
      return util_fail(err, errlen, "--task-user: %s", why);
    return util_fail(err, errlen,
                     "a worker running as root runs tasks as user %s, and there is no such "
                     "user: create it (useradd --system --no-create-home --home-dir "
                     "/nonexistent --shell /usr/sbin/nologin %s) or name another with "
                     "--task-user USER",
                     name, name);
  }
  o->task_user_switch = o->task_user.uid != me;
  return 0;
}

int options_parse(options_t *o, int argc, char **argv, char *err, size_t errlen) {
  cfg_opt_t t[TABLE_MAX];
  size_t n = table(o, t);
  cfg_result_t res = {0};
  int rc = config_parse(t, n, argc, argv, PROG, USAGE, &res, err, errlen);
  if (rc != 0)
    return rc;
  rc = -1;
  if (res.npos > 0) {
    snprintf(err, errlen, "unexpected argument '%s' (see %s --help)", res.pos[0], PROG);
    goto out;
  }
  if ((o->log_level_num = log_level_parse(o->log_level)) < 0) {
    snprintf(err, errlen, "--log-level: '%s' is not one of error, warn, info, debug",
             o->log_level);
    goto out;
  }
  if (strcmp(o->cgroups, "auto") && strcmp(o->cgroups, "off")) {
    snprintf(err, errlen, "--cgroups: '%s' is not auto or off", o->cgroups);
    goto out;
  }
  if (strcmp(o->gpus, "auto") && strcmp(o->gpus, "none")) {
    snprintf(err, errlen, "--gpus: '%s' is not auto or none", o->gpus);
    goto out;
  }
  if (o->gpu_inventory && !o->gpu_inventory[0]) {
    snprintf(err, errlen, "--gpu-inventory: empty file name");
    goto out;
  }
  if (logkeep_parse(o->log_retention, &o->log_keep_s, &o->log_keep_bytes, err, errlen) < 0)
    goto out;
  if (!o->workdir[0]) {
    snprintf(err, errlen, "--workdir: empty directory name");
    goto out;
  }
  if (check_keys(o, err, errlen) < 0)
    goto out;
  if (check_task_user(o, err, errlen) < 0)
    goto out;
  if (!o->name) {
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) < 0)
      host[0] = '\0';
    o->name = options_name_from_host(host);
  }
  if (!ident_valid(o->name)) {
    snprintf(err, errlen,
             "--name: '%s' is not a valid worker name (expected " IDENT_PATTERN ")",
             o->name);
    goto out;
  }
  split_list(&o->coordinator, &o->endpoints, &o->n_endpoints);
  if (o->n_endpoints == 0) {
    snprintf(err, errlen, "--coordinator: no endpoint given");
    goto out;
  }
  char **tags = NULL;
  size_t ntags = 0;
  split_list(&o->tags_raw, &tags, &ntags);
  for (size_t i = 0; i < ntags; i++) {
    bool dup = false;
    for (size_t k = 0; k < o->n_tags; k++)
      dup = dup || !strcmp(o->tags[k], tags[i]);
    if (!ident_valid(tags[i])) {
      snprintf(err, errlen, "--tags: '%s' is not a valid tag (expected " IDENT_PATTERN ")",
               tags[i]);
      for (size_t k = i; k < ntags; k++)
        free(tags[k]);
      free(tags);
      goto out;
    }
    if (dup) {
      free(tags[i]);
      continue;
    }
    o->tags = xreallocarray(o->tags, o->n_tags + 1, sizeof *o->tags);
    o->tags[o->n_tags++] = tags[i];
  }
  free(tags);
  if (o->cpus == 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    o->cpus = c > 0 ? c : 1;
  }
  if (o->memory_mb == 0) {
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    o->memory_mb = pages > 0 && psize > 0 ? (long long)pages * psize / (1024 * 1024) : 1;
  }
  rc = 0;
out:
  free(res.pos);
  return rc;
}

void options_free(options_t *o) {
  cfg_opt_t t[TABLE_MAX];
  size_t n = table(o, t);
  config_free(t, n);
  util_strv_free(&o->endpoints, &o->n_endpoints);
  util_strv_free(&o->tags, &o->n_tags);
  taskuser_free(&o->task_user);
}
