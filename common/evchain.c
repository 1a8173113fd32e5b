/*
 * evchain.c - the event log's hash chain, see evchain.h.
 */
#include "evchain.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *evchain_canon_json(const char *json) {
  json_t *doc = json_loads(json ? json : "{}", JSON_DECODE_ANY, NULL);
  char *out =
      doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_ENCODE_ANY)
          : NULL;
  json_decref(doc);
  return out ? out : xstrdup(json ? json : "{}");
}

/* One hash over the message M of evchain.h: HMAC or plain. */
typedef struct hasher {
  bool keyed;
  crypto_auth_hmacsha256_state h;
  crypto_hash_sha256_state s;
} hasher_t;

static void put(hasher_t *x, const void *p, size_t n) {
  if (x->keyed)
    crypto_auth_hmacsha256_update(&x->h, p, n);
  else
    crypto_hash_sha256_update(&x->s, p, n);
}

static void put_u64(hasher_t *x, uint64_t v) {
  uint8_t b[8];
  for (int i = 7; i >= 0; i--, v >>= 8)
    b[i] = (uint8_t)(v & 0xff);
  put(x, b, 8);
}

static void put_bytes(hasher_t *x, const void *p, size_t n) {
  uint8_t b[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
  put(x, b, 4);
  if (n)
    put(x, p, n);
}

static void put_str(hasher_t *x, const char *s) { put_bytes(x, s ? s : "", strlen(s ? s : "")); }

void evchain_hash(const evchain_key_t *key, const evchain_event_t *e,
                  uint8_t out[EVCHAIN_HASH_BYTES]) {
  hasher_t x = {.keyed = key != NULL};
  if (key)
    crypto_auth_hmacsha256_init(&x.h, key->secret, EVCHAIN_KEY_BYTES);
  else
    crypto_hash_sha256_init(&x.s);
  static const char tag[] = "clapper-event-v1";
  put(&x, tag, sizeof tag - 1);
  put_u64(&x, (uint64_t)e->seq);
  put_u64(&x, (uint64_t)e->at_us);
  put_str(&x, e->actor);
  put_str(&x, e->kind);
  put_str(&x, e->subject_type);
  put_str(&x, e->subject_id);
  put_str(&x, e->details);
  put_bytes(&x, e->prev, e->prevlen);
  if (key)
    crypto_auth_hmacsha256_final(&x.h, out);
  else
    crypto_hash_sha256_final(&x.s, out);
  sodium_memzero(&x, sizeof x);
}

void evchain_legacy_hash(int64_t id, const evchain_event_t *e, uint8_t out[EVCHAIN_HASH_BYTES]) {
  sbuf_t b = {0};
  char prev[2 * 64 + 1] = "";
  if (e->prevlen <= 64)
    evchain_hex(e->prev, e->prevlen, prev);
  sbuf_printf(&b, "%" PRId64 "\x1f%" PRId64 "\x1f", id, e->at_us);
  const char *parts[] = {e->actor, e->kind, e->subject_type, e->subject_id, e->details};
  for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
    sbuf_puts(&b, parts[i] ? parts[i] : "");
    sbuf_putc(&b, '\x1f');
  }
  sbuf_puts(&b, prev);
  crypto_hash_sha256(out, (const unsigned char *)b.buf, b.len);
  sbuf_free(&b);
}

void evchain_hex(const uint8_t *data, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[data[i] >> 4];
    out[2 * i + 1] = hex[data[i] & 15];
  }
  out[2 * n] = '\0';
}

static int nibble(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int evchain_unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = strlen(hex);
  if (n % 2 || n / 2 > cap)
    return -1;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return (int)(n / 2);
}

/* Writes a new key to path: created exclusively with mode 0600 and synced
 * before it is used, so that no event is ever keyed by a secret that is
 * not on disk. */
static int create_key(const char *path, int64_t next_seq, evchain_key_t *key, char *err,
                      size_t errlen) {
  if (sodium_init() < 0)
    return snprintf(err, errlen, "libsodium did not initialise"), -1;
  randombytes_buf(key->secret, EVCHAIN_KEY_BYTES);
  key->from_seq = next_seq;
  char hex[2 * EVCHAIN_KEY_BYTES + 1];
  evchain_hex(key->secret, EVCHAIN_KEY_BYTES, hex);
  char *text = xasprintf("# the secret of clapper's event log chain: keep it with the "
                         "database's backups, never in the database\n"
                         "key = %s\nfrom = %" PRId64 "\n",
                         hex, next_seq);
  sodium_memzero(hex, sizeof hex);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int rc = -1;
  if (fd < 0) {
    snprintf(err, errlen, "cannot create the audit key %s: %s", path, strerror(errno));
  } else {
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
      snprintf(err, errlen, "cannot write the audit key %s: %s", path, strerror(errno));
    else
      rc = 0;
    close(fd);
    if (rc < 0)
      unlink(path);
  }
  sodium_memzero(text, strlen(text));
  free(text);
  return rc;
}

int evchain_key_load(const char *path, int64_t next_seq, evchain_key_t *key, bool *created,
                     char *err, size_t errlen) {
  memset(key, 0, sizeof *key);
  *created = false;
  FILE *f = fopen(path, "re");
  if (!f && errno == ENOENT) {
    if (create_key(path, next_seq, key, err, errlen) < 0)
      return -1;
    *created = true;
    return 0;
  }
  if (!f)
    return snprintf(err, errlen, "cannot read the audit key %s: %s", path, strerror(errno)), -1;
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
    fclose(f);
    return snprintf(err, errlen, "the audit key %s is readable by others (mode %03o): chmod 600 it",
                    path, (unsigned)(st.st_mode & 0777)),
           -1;
  }
  char line[512];
  bool have_key = false, have_from = false;
  while (fgets(line, sizeof line, f)) {
    char name[16], value[160];
    if (line[0] == '#' || sscanf(line, " %15[a-z] = %159s", name, value) != 2)
      continue;
    if (!strcmp(name, "key"))
      have_key = evchain_unhex(value, key->secret, EVCHAIN_KEY_BYTES) == EVCHAIN_KEY_BYTES;
    else if (!strcmp(name, "from"))
      have_from = sscanf(value, "%" SCNd64, &key->from_seq) == 1 && key->from_seq >= 1;
    sodium_memzero(value, sizeof value);
  }
  sodium_memzero(line, sizeof line);
  fclose(f);
  if (!have_key || !have_from) {
    sodium_memzero(key, sizeof *key);
    return snprintf(err, errlen,
                    "the audit key %s is damaged: it needs 'key = ' 64 hex digits "
                    "and 'from = ' a position",
                    path),
           -1;
  }
  return 0;
}
