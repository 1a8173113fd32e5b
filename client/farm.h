/*
 * farm.h - the directory layout of a `clapper local` farm.
 *
 * DIR holds the farm: run/ (pid files), logs/ (one log per process),
 * output/ (the coordinator's output root), workers/NAME/ (work
 * directories), keys/ (mode 0700: the CURVE key pairs of the coordinator,
 * the local user and each worker), env (a file a shell can source) and
 * layout (where the parts that cannot live in DIR went; written by the
 * first `up` and read by every later command, so they all agree).
 *
 * Two things may not fit in DIR:
 *  - unix sockets (ZeroMQ ipc and PostgreSQL's) need a path of at most
 *    ~107 bytes; when DIR/run is too long they go to /tmp/clapper-HASH;
 *  - as root, PostgreSQL runs as nobody, who must reach its data and socket
 *    directories; when nobody cannot search DIR the cluster goes to
 *    /var/tmp/clapper-pg-HASH (DIR/pg is then a symbolic link to it).
 * HASH is a hash of DIR's absolute path, so each farm has its own.
 * Directories under /tmp and /var/tmp are checked to be real directories
 * of the expected owner that nobody else can write.
 */
#ifndef CLAPPER_CLIENT_FARM_H
#define CLAPPER_CLIENT_FARM_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Longest socket directory we use: sun_path holds 108 bytes, and the
 * longest name in it is "pg/.s.PGSQL.5432" plus a separator. */
#define FARM_SOCKDIR_MAX 90

typedef struct farm {
  char *dir;        /* DIR, absolute */
  char *rundir;     /* DIR/run: pid files */
  char *logdir;     /* DIR/logs */
  char *outdir;     /* DIR/output: the coordinator's --output-root */
  char *keysdir;    /* DIR/keys: key pairs, the coordinator's --keys (0700) */
  char *sockdir;    /* ipc sockets: DIR/run, or /tmp/clapper-HASH when too long */
  char *pgroot;     /* /var/tmp/clapper-pg-HASH when relocated, else NULL */
  char *pgdata;     /* the PostgreSQL cluster: DIR/pg or PGROOT/data */
  char *pgsock;     /* PostgreSQL's socket directory: SOCKDIR/pg or PGROOT/run */
  char *conninfo;   /* "host=PGSOCK user=clapper dbname=clapper" */
  char *workers_ep; /* ipc://SOCKDIR/workers.sock */
  char *clients_ep; /* ipc://SOCKDIR/clients.sock */
  int workers;      /* workers started by the last `up` */
  bool pg_as_nobody; /* PostgreSQL runs as nobody (we are root) */
  bool fresh;        /* DIR had no layout yet: this open decided it */
} farm_t;

/* Describes the farm in dir (made absolute; it must exist).  Reads
 * DIR/layout when present; otherwise, with create, decides where
 * everything goes.  With create also makes every directory (again, if
 * /tmp was cleaned) with the right owner.  Returns 1 when a farm was
 * described, 0 when dir holds none and create is false, -1 with err. */
int farm_open(farm_t *f, const char *dir, bool create, char *err, size_t errlen) MUSTCHECK;

/* Writes DIR/layout (with f->workers) atomically; 0 or -1 with err. */
int farm_save(const farm_t *f, char *err, size_t errlen) MUSTCHECK;

/* Writes DIR/env: export CLAPPER_DB='...' and CLAPPER_COORDINATOR='...'
 * lines, and CLAPPER_KEY='KEY' when key is not NULL; 0 or -1 with err. */
int farm_write_env(const farm_t *f, const char *key, char *err, size_t errlen) MUSTCHECK;

/* The name of the local user's key: the login name reduced to an
 * identifier (lowercased, other characters replaced by '-'), or "admin"
 * when there is none or it would clash with the farm's own keys
 * (coordinator, local-K).  Caller frees. */
char *farm_user(void);

/* A newly allocated path "DIR/run/NAME.pid", "DIR/logs/NAME.log" or
 * "DIR/workers/NAME". */
char *farm_pidfile(const farm_t *f, const char *name);
char *farm_logfile(const farm_t *f, const char *name);
char *farm_workdir(const farm_t *f, const char *name);

/* The default directory: $HOME/.clapper/local (caller frees). */
char *farm_default_dir(void);

/* FNV-1a 64 of s as 16 lowercase hex digits into out[17]. */
void farm_hash(const char *s, char out[17]);

/* Appends s to out as one shell word in single quotes. */
void farm_shell_quote(sbuf_t *out, const char *s);

/* Appends s to out as a libpq conninfo value (quoted when needed). */
void farm_conninfo_quote(sbuf_t *out, const char *s);

/* The user the workers of a farm started as root run tasks as: an
 * unprivileged account that cannot read DIR/keys or PostgreSQL's files. */
#define FARM_TASK_USER "clapper-task"

/* As root: makes sure the user FARM_TASK_USER exists, creating it with
 * useradd (a system account without home or login shell, in the groups
 * video and render where they exist, so that tasks reach the GPUs).
 * Returns 1 when it was created, 0 when it existed (or we are not root:
 * nothing to do), -1 with err. */
int farm_ensure_task_user(char *err, size_t errlen) MUSTCHECK;

/* True when the task user can search path and every directory above it
 * (always true when we are not root). */
bool farm_task_user_can_reach(const char *path);

/* Releases what f holds and zeroes it. */
void farm_free(farm_t *f);

#endif
