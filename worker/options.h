/*
 * options.h - the worker's settings: one table for flags, the --config
 * file and the environment (common/config.h), then checks and defaults
 * that depend on the machine (name from the hostname, CPUs, memory).
 */
#ifndef CLAPPER_WORKER_OPTIONS_H
#define CLAPPER_WORKER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "taskuser.h"
#include "util.h"

#define OPTIONS_DEFAULT_COORDINATOR "tcp://127.0.0.1:7710"
#define OPTIONS_DEFAULT_WORKDIR "/var/lib/clapper-worker"

typedef struct options {
  /* as parsed (owned by the table; options_free releases them) */
  char *config;
  cfg_list_t coordinator;
  char *name;
  char *gpus;          /* "auto" or "none" */
  char *gpu_inventory; /* NULL when not given */
  long long cpus;      /* 0 until defaulted */
  long long memory_mb; /* 0 until defaulted */
  cfg_list_t tags_raw;
  char *workdir;
  char *key;        /* --key FILE: this worker's key pair (NULL: no CURVE) */
  char *server_key; /* --server-key FILE (NULL: coordinator.pub next to key) */
  long long heartbeat_ms;
  long long kill_grace_ms;
  long long drain_timeout_ms;
  long long log_stream_max_bytes; /* 0: logs are not streamed */
  long long min_free_mb;          /* under this much free space the worker is degraded */
  char *log_retention;            /* --log-retention (logkeep.h) */
  char *log_level;
  char *task_user_name; /* --task-user (NULL: the default) */
  char *cgroups;        /* "auto" or "off" */
  /* derived (owned) */
  char **endpoints; /* coordinator endpoints, commas split */
  size_t n_endpoints;
  char **tags; /* validated identifiers, commas split, duplicates removed */
  size_t n_tags;
  int log_level_num;
  uint64_t log_keep_s, log_keep_bytes; /* --log-retention parsed; 0: no such limit */
  /* The user tasks run as: as root, --task-user or clapper-task (which
   * must exist); otherwise the worker's own user (switch false).  When
   * switch is false tasks can read what the worker reads: worker_run says
   * so at start. */
  taskuser_t task_user;
  bool task_user_switch;
} options_t;

/* Parses argv (and --config FILE, and the environment) into o, which must
 * be zeroed.  Returns 0 when the worker should run, 1 when --help or
 * --version was printed (exit 0), or -1 with a one-line message in err
 * (exit 2).  In every case release o with options_free.
 *
 * With --key the key files are checked here (keys_load: the key pair, and
 * the coordinator's public key from --server-key or coordinator.pub next
 * to the key), and the worker's name defaults to the key's name; a --name
 * that differs from it is refused, since the coordinator knows a worker's
 * key by the worker's name. */
int options_parse(options_t *o, int argc, char **argv, char *err, size_t errlen) MUSTCHECK;

/* Releases everything o holds. */
void options_free(options_t *o);

/* The default worker name: the hostname reduced to an identifier by
 * util_ident_from (lowercased, characters an identifier may not contain
 * replaced by '-', cut to IDENT_MAX bytes), or "worker" when nothing is
 * left.  Caller frees. */
char *options_name_from_host(const char *hostname);

#endif
