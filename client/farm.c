/*
 * farm.c - where the parts of a `clapper local` farm live, see farm.h.
 */
#include "farm.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

void farm_hash(const char *s, char out[17]) {
  uint64_t h = 14695981039346656037ULL;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    h ^= *p;
    h *= 1099511628211ULL;
  }
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

void farm_shell_quote(sbuf_t *out, const char *s) {
  sbuf_putc(out, '\'');
  for (; *s; s++) {
    if (*s == '\'')
      sbuf_puts(out, "'\\''");
    else
      sbuf_putc(out, *s);
  }
  sbuf_putc(out, '\'');
}

void farm_conninfo_quote(sbuf_t *out, const char *s) {
  if (*s && !strpbrk(s, " \t'\\=")) {
    sbuf_puts(out, s);
    return;
  }
  sbuf_putc(out, '\'');
  for (; *s; s++) {
    if (*s == '\'' || *s == '\\')
      sbuf_putc(out, '\\');
    sbuf_putc(out, *s);
  }
  sbuf_putc(out, '\'');
}

char *farm_default_dir(void) {
  const char *home = getenv("HOME");
  if (!home || home[0] != '/') {
    struct passwd *pw = getpwuid(getuid());
    home = pw && pw->pw_dir ? pw->pw_dir : "/";
  }
  return xasprintf("%s/.clapper/local", strcmp(home, "/") ? home : "");
}

char *farm_user(void) {
  struct passwd *pw = getpwuid(getuid());
  char *name = util_ident_from(pw ? pw->pw_name : NULL);
  uint64_t k;
  if (!name || !strcmp(name, "coordinator") ||
      (!strncmp(name, "local-", 6) && util_parse_u64(name + 6, 0, UINT64_MAX, &k) == 0)) {
    free(name);
    name = xstrdup("admin");
  }
  return name;
}

char *farm_pidfile(const farm_t *f, const char *name) {
  return xasprintf("%s/%s.pid", f->rundir, name);
}

char *farm_logfile(const farm_t *f, const char *name) {
  return xasprintf("%s/%s.log", f->logdir, name);
}

char *farm_workdir(const farm_t *f, const char *name) {
  return xasprintf("%s/workers/%s", f->dir, name);
}

static bool clean_path(const char *s) {
  if (!s || s[0] != '/')
    return false;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return false;
  return true;
}

static char *layout_path(const farm_t *f) { return xasprintf("%s/layout", f->dir); }

/* Reads DIR/layout.  Returns 1, 0 when it does not exist, or -1. */
static int read_layout(farm_t *f, char *err, size_t errlen) {
  char *path = layout_path(f);
  size_t len;
  char *text = util_read_file(path, 1 << 16, &len);
  int rc = -1;
  if (!text) {
    rc = errno == ENOENT ? 0 : util_fail(err, errlen, "cannot read %s: %s", path, strerror(errno));
    free(path);
    return rc;
  }
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *eq = strchr(line, '=');
    if (line[0] == '#' || !eq)
      continue;
    *eq = '\0';
    const char *key = line, *val = eq + 1;
    char **dest = !strcmp(key, "sockdir")  ? &f->sockdir
                  : !strcmp(key, "pgdata") ? &f->pgdata
                  : !strcmp(key, "pgsock") ? &f->pgsock
                  : !strcmp(key, "pgroot") ? &f->pgroot
                                           : NULL;
    if (dest) {
      free(*dest);
      *dest = xstrdup(val);
    } else if (!strcmp(key, "workers")) {
      uint64_t n;
      if (util_parse_u64(val, 0, 1024, &n) == 0)
        f->workers = (int)n;
    }
  }
  if (!clean_path(f->sockdir) || !clean_path(f->pgdata) || !clean_path(f->pgsock) ||
      (f->pgroot && !clean_path(f->pgroot))) {
    util_fail(err, errlen,
              "%s is damaged (expected absolute sockdir, pgdata and pgsock paths); "
              "remove it after `clapper local down` to start afresh",
              path);
    goto out;
  }
  rc = 1;
out:
  free(text);
  free(path);
  return rc;
}

/* Decides where sockets and the cluster go for a new farm. */
static int decide_layout(farm_t *f, char *err, size_t errlen) {
  char hash[17];
  farm_hash(f->dir, hash);
  f->sockdir = strlen(f->rundir) <= FARM_SOCKDIR_MAX ? xstrdup(f->rundir)
                                                     : xasprintf("/tmp/clapper-%s", hash);
  bool relocate = false;
  if (geteuid() == 0) {
    uid_t uid;
    gid_t gid;
    if (proc_nobody(&uid, &gid) < 0)
      return util_fail(err, errlen,
                       "PostgreSQL refuses to run as root, and there is no user "
                       "'nobody' to run it as");
    relocate = !proc_nobody_can_reach(f->dir);
  }
  if (relocate) {
    f->pgroot = xasprintf("/var/tmp/clapper-pg-%s", hash);
    f->pgdata = xasprintf("%s/data", f->pgroot);
    f->pgsock = xasprintf("%s/run", f->pgroot);
  } else {
    f->pgdata = xasprintf("%s/pg", f->dir);
    f->pgsock = xasprintf("%s/pg", f->sockdir);
  }
  return 0;
}

/* Makes dir (mode, EEXIST is fine) and checks that it is a real directory
 * owned by uid that no one else may write.  With chown_gid >= 0 a new
 * directory is given to uid:chown_gid first. */
static int private_dir(const char *dir, unsigned mode, uid_t uid, long chown_gid, char *err,
                       size_t errlen) {
  if (mkdir(dir, mode) == 0) {
    if (chmod(dir, mode) < 0)
      return util_fail(err, errlen, "cannot chmod %s: %s", dir, strerror(errno));
    if (chown_gid >= 0 && lchown(dir, uid, (gid_t)chown_gid) < 0)
      return util_fail(err, errlen, "cannot chown %s: %s", dir, strerror(errno));
  } else if (errno != EEXIST) {
    return util_fail(err, errlen, "cannot create %s: %s", dir, strerror(errno));
  }
  struct stat st;
  if (lstat(dir, &st) < 0)
    return util_fail(err, errlen, "cannot inspect %s: %s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 022))
    return util_fail(err, errlen,
                     "%s is not a private directory of uid %ld (a directory, not a "
                     "link, writable by its owner only); remove it or use another --dir",
                     dir, (long)uid);
  return 0;
}

static int ensure_dirs(farm_t *f, char *err, size_t errlen) {
  const char *mine[] = {f->rundir, f->logdir, f->outdir};
  for (size_t i = 0; i < ARRAY_SIZE(mine); i++)
    if (util_mkdir_p(mine[i], 0755) < 0)
      return util_fail(err, errlen, "cannot create %s: %s", mine[i], strerror(errno));
  if (private_dir(f->keysdir, 0700, geteuid(), -1, err, errlen) < 0)
    return -1;
  char *wdir = xasprintf("%s/workers", f->dir);
  int rc = util_mkdir_p(wdir, 0755);
  free(wdir);
  if (rc < 0)
    return util_fail(err, errlen, "cannot create %s/workers: %s", f->dir, strerror(errno));

  uid_t me = geteuid(), pg_uid = me;
  gid_t pg_gid = getegid();
  if (f->pg_as_nobody && proc_nobody(&pg_uid, &pg_gid) < 0)
    return util_fail(err, errlen, "there is no user 'nobody' to run PostgreSQL as");
  long give = f->pg_as_nobody ? (long)pg_gid : -1;

  if (strcmp(f->sockdir, f->rundir) != 0 &&
      private_dir(f->sockdir, 0755, me, -1, err, errlen) < 0)
    return -1;
  /* nobody must pass through the socket directory to PostgreSQL's. */
  if (f->pg_as_nobody && !f->pgroot && chmod(f->sockdir, 0755) < 0)
    return util_fail(err, errlen, "cannot chmod %s: %s", f->sockdir, strerror(errno));

  if (f->pgroot) {
    if (private_dir(f->pgroot, 0700, pg_uid, give, err, errlen) < 0)
      return -1;
    struct stat st;
    char *link = xasprintf("%s/pg", f->dir);
    if (lstat(link, &st) < 0 && errno == ENOENT && symlink(f->pgdata, link) < 0) {
      util_fail(err, errlen, "cannot create the link %s: %s", link, strerror(errno));
      free(link);
      return -1;
    }
    free(link);
  } else if (private_dir(f->pgdata, 0700, pg_uid, give, err, errlen) < 0) {
    return -1;
  }
  if (private_dir(f->pgsock, 0700, pg_uid, give, err, errlen) < 0)
    return -1;
  return 0;
}

int farm_open(farm_t *f, const char *dir, bool create, char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  char real[PATH_MAX];
  if (!realpath(dir, real)) {
    if (!create && (errno == ENOENT || errno == ENOTDIR))
      return 0;
    return util_fail(err, errlen, "%s: %s", dir, strerror(errno));
  }
  if (!clean_path(real))
    return util_fail(err, errlen, "%s: a farm directory may not contain control characters", real);
  f->dir = xstrdup(real);
  f->rundir = xasprintf("%s/run", f->dir);
  f->logdir = xasprintf("%s/logs", f->dir);
  f->outdir = xasprintf("%s/output", f->dir);
  f->keysdir = xasprintf("%s/keys", f->dir);
  f->pg_as_nobody = geteuid() == 0;

  int rc = read_layout(f, err, errlen);
  if (rc < 0)
    goto fail;
  if (rc == 0) {
    if (!create) {
      farm_free(f);
      return 0;
    }
    if (decide_layout(f, err, errlen) < 0)
      goto fail;
    f->fresh = true;
  }
  if (create && ensure_dirs(f, err, errlen) < 0)
    goto fail;

  sbuf_t sb = {0};
  sbuf_puts(&sb, "host=");
  farm_conninfo_quote(&sb, f->pgsock);
  sbuf_puts(&sb, " user=clapper dbname=clapper");
  f->conninfo = sbuf_steal(&sb);
  f->workers_ep = xasprintf("ipc://%s/workers.sock", f->sockdir);
  f->clients_ep = xasprintf("ipc://%s/clients.sock", f->sockdir);
  return 1;
fail:
  farm_free(f);
  return -1;
}

int farm_save(const farm_t *f, char *err, size_t errlen) {
  sbuf_t sb = {0};
  sbuf_puts(&sb, "# where this clapper local farm keeps its parts; written by "
                 "`clapper local up`\n");
  sbuf_printf(&sb, "sockdir=%s\npgdata=%s\npgsock=%s\n", f->sockdir, f->pgdata, f->pgsock);
  if (f->pgroot)
    sbuf_printf(&sb, "pgroot=%s\n", f->pgroot);
  sbuf_printf(&sb, "workers=%d\n", f->workers);
  char *path = layout_path(f);
  int rc = util_write_atomic(path, sb.buf, sb.len, 0644, err, errlen);
  free(path);
  sbuf_free(&sb);
  return rc;
}

int farm_write_env(const farm_t *f, const char *key, char *err, size_t errlen) {
  sbuf_t sb = {0};
  sbuf_printf(&sb, "# clapper local farm in %s; use it with: source %s/env\n", f->dir,
              f->dir);
  sbuf_puts(&sb, "export CLAPPER_DB=");
  farm_shell_quote(&sb, f->conninfo);
  sbuf_puts(&sb, "\nexport CLAPPER_COORDINATOR=");
  farm_shell_quote(&sb, f->clients_ep);
  sbuf_putc(&sb, '\n');
  if (key) {
    sbuf_puts(&sb, "export CLAPPER_KEY=");
    farm_shell_quote(&sb, key);
    sbuf_putc(&sb, '\n');
  }
  char *path = xasprintf("%s/env", f->dir);
  int rc = util_write_atomic(path, sb.buf, sb.len, 0644, err, errlen);
  free(path);
  sbuf_free(&sb);
  return rc;
}

void farm_free(farm_t *f) {
  char **all[] = {&f->dir,    &f->rundir, &f->logdir,   &f->outdir,     &f->keysdir,
                  &f->sockdir, &f->pgroot, &f->pgdata,  &f->pgsock,     &f->conninfo,
                  &f->workers_ep, &f->clients_ep};
  for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
    free(*all[i]);
    *all[i] = NULL;
  }
  f->workers = 0;
  f->pg_as_nobody = false;
  f->fresh = false;
}

int farm_ensure_task_user(char *err, size_t errlen) {
  if (geteuid() != 0 || getpwnam(FARM_TASK_USER))
    return 0;
  const char *useradd = access("/usr/sbin/useradd", X_OK) == 0 ? "/usr/sbin/useradd"
                        : access("/sbin/useradd", X_OK) == 0   ? "/sbin/useradd"
                                                               : NULL;
  if (!useradd)
    return util_fail(err, errlen,
                     "workers started as root run tasks as user %s, and useradd was not found "
                     "to create it; create it yourself",
                     FARM_TASK_USER);
  sbuf_t groups = {0};
  sbuf_puts(&groups, "");
  const char *gpu_groups[] = {"video", "render"};
  for (size_t i = 0; i < ARRAY_SIZE(gpu_groups); i++)
    if (getgrnam(gpu_groups[i]))
      sbuf_printf(&groups, "%s%s", groups.len ? "," : "", gpu_groups[i]);
  char *argv[16];
  size_t n = 0;
  argv[n++] = (char *)useradd;
  argv[n++] = "--system";
  argv[n++] = "--no-create-home";
  argv[n++] = "--home-dir";
  argv[n++] = "/nonexistent";
  argv[n++] = "--shell";
  argv[n++] = "/usr/sbin/nologin";
  argv[n++] = "--user-group";
  if (groups.len) {
    argv[n++] = "--groups";
    argv[n++] = groups.buf;
  }
  argv[n++] = FARM_TASK_USER;
  argv[n] = NULL;
  sbuf_t out = {0};
  proc_opts_t o = {.capture = &out, .out_fd = -1};
  int rc = proc_run(argv, &o, err, errlen);
  if (rc > 0 && !getpwnam(FARM_TASK_USER)) {
    char *nl = out.buf ? strchr(out.buf, '\n') : NULL;
    if (nl)
      *nl = '\0';
    util_fail(err, errlen, "cannot create user %s: %s", FARM_TASK_USER,
              out.buf ? out.buf : "useradd failed");
    rc = -1;
  }
  sbuf_free(&out);
  sbuf_free(&groups);
  if (rc < 0)
    return -1;
  return getpwnam(FARM_TASK_USER) ? 1 : 0;
}

bool farm_task_user_can_reach(const char *path) {
  struct passwd *pw;
  if (geteuid() != 0 || !(pw = getpwnam(FARM_TASK_USER)))
    return true;
  return proc_user_can_reach(pw->pw_uid, pw->pw_gid, path);
}
