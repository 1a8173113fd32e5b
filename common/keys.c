/*
 * keys.c - CURVE key files and the client side of a CURVE connection, see
 * keys.h.
 *
 * Key files are parsed here rather than by config.c: Z85 uses '#' and '=',
 * so only a line that starts with '#' is a comment, and a value runs from
 * the first '=' to the end of its line.
 */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

char *keys_path(const char *dir, const char *name, const char *ext) {
  size_t n = strlen(dir);
  bool slash = n > 0 && dir[n - 1] == '/';
  return xasprintf("%s%s%s.%s", dir, slash ? "" : "/", name, ext);
}

char *keys_default_server(const char *keyfile) {
  const char *slash = strrchr(keyfile, '/');
  if (!slash)
    return xstrdup(KEYS_SERVER_NAME ".pub");
  return xasprintf("%.*s/" KEYS_SERVER_NAME ".pub", (int)(slash - keyfile), keyfile);
}

void keys_wipe(keys_key_t *key) { explicit_bzero(key, sizeof *key); }

bool keys_z85_valid(const char *s) {
  if (!s || strlen(s) != KEYS_Z85_LEN || strspn(s, z85_chars) != KEYS_Z85_LEN)
    return false;
  uint8_t bin[32];
  bool ok = zmq_z85_decode(bin, s) != NULL;
  explicit_bzero(bin, sizeof bin);
  return ok;
}

/* Syncs the directory that holds path, so that a new name survives a
 * crash.  Best effort. */
static void sync_dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

/* Creates path with text and mode, never replacing an existing file: the
 * text goes to a new temporary file in the same directory, which is synced
 * and then hard-linked to path (link fails with EEXIST when path exists).
 * Where hard links are not supported, path is created with O_EXCL and
 * written directly.  Returns 0, or -1 with err. */
static int write_new(const char *path, const char *text, unsigned mode, char *err,
                     size_t errlen) {
  char *tmp = xasprintf("%s.XXXXXX", path);
  size_t len = strlen(text);
  int fd = mkostemp(tmp, O_CLOEXEC);
  int rc = -1;
  if (fd < 0) {
    util_fail(err, errlen, "cannot create a file next to %s: %s", path, strerror(errno));
    goto out;
  }
  if (fchmod(fd, (mode_t)mode) < 0 || util_write_all(fd, text, len) < 0 || fsync(fd) < 0) {
    util_fail(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    close(fd);
    unlink(tmp);
    goto out;
  }
  if (close(fd) < 0) {
    util_fail(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    unlink(tmp);
    goto out;
  }
  if (link(tmp, path) < 0) {
    int saved = errno;
    unlink(tmp);
    if (saved == EEXIST) {
      util_fail(err, errlen, "%s already exists: keys are never overwritten (remove it first, "
                "or choose another name)", path);
      goto out;
    }
    if (saved != EPERM && saved != ENOTSUP && saved != ENOSYS) {
      util_fail(err, errlen, "cannot create %s: %s", path, strerror(saved));
      goto out;
    }
    /* No hard links here: create the file itself, exclusively. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0 && errno == EEXIST) {
      util_fail(err, errlen, "%s already exists: keys are never overwritten (remove it first, "
                "or choose another name)", path);
      goto out;
    }
    if (fd < 0) {
      util_fail(err, errlen, "cannot create %s: %s", path, strerror(errno));
      goto out;
    }
    if (fchmod(fd, (mode_t)mode) < 0 || util_write_all(fd, text, len) < 0 || fsync(fd) < 0 ||
        close(fd) < 0) {
      util_fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
      unlink(path);
      goto out;
    }
  } else {
    unlink(tmp);
  }
  sync_dir_of(path);
  rc = 0;
out:
  free(tmp);
  return rc;
}

static char *public_text(const keys_key_t *k) {
  return xasprintf("# clapper public key of %s\nname = %s\npublic-key = %s\n", k->name, k->name,
                   k->public_key);
}

int keys_write_public(const keys_key_t *key, const char *dir, char *err, size_t errlen) {
  char *path = keys_path(dir, key->name, "pub");
  char *text = public_text(key);
  int rc = write_new(path, text, 0644, err, errlen);
  free(text);
  free(path);
  return rc;
}

int keys_generate(const char *name, const char *dir, keys_key_t *out, char *err,
                  size_t errlen) {
  keys_key_t k;
  memset(&k, 0, sizeof k);
  char *keypath = NULL, *pubpath = NULL, *text = NULL;
  int rc = -1;
  if (!name || !ident_valid(name)) {
    util_fail_line(err, errlen, "invalid key name '%s': expected " IDENT_PATTERN,
                   name ? name : "");
    goto out;
  }
  keypath = keys_path(dir, name, "key");
  pubpath = keys_path(dir, name, "pub");
  struct stat st;
  const char *exists = lstat(keypath, &st) == 0 ? keypath : lstat(pubpath, &st) == 0 ? pubpath
                                                                                   : NULL;
  if (exists) {
    util_fail(err, errlen, "%s already exists: keys are never overwritten (remove it first, "
              "or choose another name)", exists);
    goto out;
  }
  snprintf(k.name, sizeof k.name, "%s", name);
  if (zmq_curve_keypair(k.public_key, k.secret_key) < 0) {
    util_fail(err, errlen, "cannot make a CURVE key pair: %s%s", zmq_strerror(zmq_errno()),
              zmq_has("curve") ? "" : " (this libzmq has no CURVE support)");
    goto out;
  }
  text = xasprintf("# clapper key pair of %s: keep this file secret\nname = %s\n"
                   "public-key = %s\nsecret-key = %s\n",
                   name, name, k.public_key, k.secret_key);
  if (write_new(keypath, text, 0600, err, errlen) < 0)
    goto out;
  if (keys_write_public(&k, dir, err, errlen) < 0) {
    unlink(keypath);
    goto out;
  }
  if (out)
    *out = k;
  rc = 0;
out:
  if (text) {
    explicit_bzero(text, strlen(text));
    free(text);
  }
  keys_wipe(&k);
  free(keypath);
  free(pubpath);
  return rc;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
    s[--n] = '\0';
  return s;
}

/* Parses text (the file at path) into k.  0 or -1 with err. */
static int parse(const char *path, char *text, keys_key_t *k, char *err, size_t errlen) {
  int lineno = 0;
  bool seen_name = false, seen_pub = false, seen_sec = false;
  for (char *line = text, *next; line && *line; line = next) {
    lineno++;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    char *s = trim(line);
    if (!*s || *s == '#')
      continue;
    char *eq = strchr(s, '=');
    if (!eq)
      return util_fail(err, errlen, "%s:%d: expected 'name = value'", path, lineno);
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    if (!strcmp(key, "name")) {
      if (seen_name)
        return util_fail(err, errlen, "%s:%d: name is given twice", path, lineno);
      if (!ident_valid(val))
        return util_fail_line(err, errlen,
                              "%s:%d: invalid name '%.80s': expected " IDENT_PATTERN,
                              path, lineno, val);
      snprintf(k->name, sizeof k->name, "%s", val);
      seen_name = true;
    } else if (!strcmp(key, "public-key") || !strcmp(key, "secret-key")) {
      bool pub = key[0] == 'p';
      if (pub ? seen_pub : seen_sec)
        return util_fail(err, errlen, "%s:%d: %s is given twice", path, lineno, key);
      if (!keys_z85_valid(val))
        return util_fail(err, errlen,
                         "%s:%d: %s is not a CURVE key (expected 40 characters of Z85)", path,
                         lineno, key);
      snprintf(pub ? k->public_key : k->secret_key, KEYS_Z85_LEN + 1, "%s", val);
      *(pub ? &seen_pub : &seen_sec) = true;
    } else {
      return util_fail_line(err, errlen, "%s:%d: unknown setting '%.80s'", path, lineno, key);
    }
  }
  if (!seen_name || !seen_pub)
    return util_fail(err, errlen, "%s: not a clapper key file (no %s line)", path,
                     seen_name ? "public-key" : "name");
  if (seen_sec) {
    char derived[KEYS_Z85_LEN + 1];
    if (zmq_curve_public(derived, k->secret_key) < 0)
      return util_fail(err, errlen, "%s: cannot check the key pair: %s", path,
                       zmq_strerror(zmq_errno()));
    bool same = !strcmp(derived, k->public_key);
    explicit_bzero(derived, sizeof derived);
    if (!same)
      return util_fail(err, errlen, "%s: the public key does not belong to the secret key",
                       path);
  }
  return 0;
}

int keys_load(const char *path, keys_key_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  char *text = NULL;
  size_t len = 0;
  int rc = -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return util_fail(err, errlen, "cannot read %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0) {
    util_fail(err, errlen, "cannot read %s: %s", path, strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    util_fail(err, errlen, "%s is not a regular file", path);
    goto out;
  }
  text = util_read_fd(fd, KEYS_FILE_MAX, &len);
  if (!text) {
    util_fail(err, errlen, "cannot read %s: %s", path,
              errno == EFBIG ? "too large for a key file" : strerror(errno));
    goto out;
  }
  if (memchr(text, '\0', len)) {
    util_fail(err, errlen, "%s: not a clapper key file (binary content)", path);
    goto out;
  }
  if (parse(path, text, out, err, errlen) < 0)
    goto out;
  if (out->secret_key[0] && (st.st_mode & 077)) {
    util_fail(err, errlen, "%s is %s by others (mode %04o): chmod 600 %s", path,
              (st.st_mode & 044) ? "readable" : "accessible",
              (unsigned)(st.st_mode & 07777), path);
    goto out;
  }
  rc = 0;
out:
  if (rc < 0)
    keys_wipe(out);
  if (text) {
    explicit_bzero(text, len);
    free(text);
  }
  close(fd);
  return rc;
}

static int set_key(void *sock, int opt, const char *z85, const char *what, char *err,
                   size_t errlen) {
  if (zmq_setsockopt(sock, opt, z85, KEYS_Z85_LEN + 1) == 0)
    return 0;
  return util_fail(err, errlen, "cannot set %s: %s%s", what, zmq_strerror(zmq_errno()),
                   zmq_has("curve") ? "" : " (this libzmq has no CURVE support)");
}

int keys_client(void *sock, const char *keyfile, const char *server_pub, char *name,
                char *err, size_t errlen) {
  keys_key_t mine, server;
  memset(&server, 0, sizeof server);
  char *spath = server_pub ? xstrdup(server_pub) : keys_default_server(keyfile);
  int rc = -1;
  if (keys_load(keyfile, &mine, err, errlen) < 0)
    goto out;
  if (!mine.secret_key[0]) {
    util_fail(err, errlen, "%s holds no secret key: give the %s.key file, not the public one",
              keyfile, mine.name);
    goto out;
  }
  if (keys_load(spath, &server, err, errlen) < 0) {
    if (!server_pub) {
      size_t n = strlen(err);
      snprintf(err + n, errlen > n ? errlen - n : 0,
               " (the coordinator's public key, looked for next to %s; name it with "
               "--server-key FILE)",
               keyfile);
    }
    goto out;
  }
  if (set_key(sock, ZMQ_CURVE_SERVERKEY, server.public_key, "the server key", err, errlen) < 0 ||
      set_key(sock, ZMQ_CURVE_PUBLICKEY, mine.public_key, "the public key", err, errlen) < 0 ||
      set_key(sock, ZMQ_CURVE_SECRETKEY, mine.secret_key, "the secret key", err, errlen) < 0)
    goto out;
  if (name)
    snprintf(name, IDENT_MAX + 1, "%s", mine.name);
  rc = 0;
out:
  keys_wipe(&mine);
  keys_wipe(&server);
  free(spath);
  return rc;
}

/* ---------------------------------------------------------------- monitor */

#define MONITOR_EVENTS                                                                   \
  (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |                     \
   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

void *keys_monitor_open(void *zctx, void *sock, char *err, size_t errlen) {
  return keys_monitor_open_with(zctx, sock, 0, err, errlen);
}

void *keys_monitor_open_with(void *zctx, void *sock, int extra, char *err, size_t errlen) {
  static unsigned long seq;
  unsigned long n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
  char addr[96];
  snprintf(addr, sizeof addr, "inproc://clapper-keys-monitor-%ld-%lu", (long)getpid(), n);
  if (zmq_socket_monitor(sock, addr, MONITOR_EVENTS | extra) < 0) {
    util_fail(err, errlen, "cannot monitor the socket: %s", zmq_strerror(zmq_errno()));
    return NULL;
  }
  void *mon = zmq_socket(zctx, ZMQ_PAIR);
  int zero = 0;
  if (!mon || zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
      zmq_connect(mon, addr) < 0) {
    util_fail(err, errlen, "cannot monitor the socket: %s", zmq_strerror(zmq_errno()));
    if (mon)
      zmq_close(mon);
    zmq_socket_monitor(sock, NULL, 0);
    return NULL;
  }
  return mon;
}

keys_event_t keys_monitor_read(void *mon, bool *gave_up) {
  return keys_monitor_read_at(mon, gave_up, NULL, NULL, 0);
}

keys_event_t keys_monitor_read_at(void *mon, bool *gave_up, int *raw, char *endpoint, size_t len) {
  if (gave_up)
    *gave_up = false;
  if (raw)
    *raw = 0;
  if (endpoint && len)
    endpoint[0] = '\0';
  zmq_msg_t m;
  zmq_msg_init(&m);
  if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
    zmq_msg_close(&m);
    return KEYS_EVENT_NONE;
  }
  uint16_t event = 0;
  uint32_t value = 0;
  if (zmq_msg_size(&m) >= 6) {
    const uint8_t *d = zmq_msg_data(&m);
    memcpy(&event, d, sizeof event);
    memcpy(&value, d + 2, sizeof value);
  }
  /* The endpoint follows in a second frame. */
  while (zmq_msg_more(&m)) {
    zmq_msg_close(&m);
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0)
      break;
    if (endpoint && len) {
      size_t n = zmq_msg_size(&m) < len - 1 ? zmq_msg_size(&m) : len - 1;
      memcpy(endpoint, zmq_msg_data(&m), n);
      endpoint[n] = '\0';
    }
  }
  zmq_msg_close(&m);
  if (raw)
    *raw = event;
  if (gave_up)
    *gave_up = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
               event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
  switch (event) {
  case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
    return KEYS_EVENT_OK;
  case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
    return KEYS_EVENT_REFUSED;
  case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    return value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH ? KEYS_EVENT_MISMATCH
                                                               : KEYS_EVENT_FAILED;
  case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    return KEYS_EVENT_FAILED;
  default:
    return KEYS_EVENT_OTHER;
  }
}

void keys_monitor_close(void *sock, void **mon) {
  if (!mon || !*mon)
    return;
  if (sock)
    zmq_socket_monitor(sock, NULL, 0);
  zmq_close(*mon);
  *mon = NULL;
}
