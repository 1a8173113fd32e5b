/*
 * journal.c - append-only result journal with replay and compaction, see
 * journal.h.
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"

#define ACK_RING 4096
#define MAX_FILE ((size_t)1 << 30)

struct journal {
  char *path;
  int fd;
  uint64_t size;            /* bytes in the file */
  Clapper__Result **pending; /* oldest first, owned */
  size_t n, cap;
  uint64_t live;            /* bytes the pending records take */
  bool dirty;               /* ACK records not yet fsync'd */
  uint64_t acked[ACK_RING]; /* recently acknowledged attempt ids */
  size_t acked_pos, acked_n;
};

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u64(uint8_t *p, uint64_t v) {
  put_u32(p, (uint32_t)v);
  put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_u64(const uint8_t *p) {
  return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static uint32_t record_crc(uint8_t type, const uint8_t *payload, size_t len) {
  uLong c = crc32(0L, &type, 1);
  if (len)
    c = crc32(c, payload, (uInt)len);
  return (uint32_t)c;
}

/* Appends one record to sb. */
static void record_put(sbuf_t *sb, uint8_t type, const uint8_t *payload, size_t len) {
  uint8_t hdr[JOURNAL_HEADER];
  put_u32(hdr, (uint32_t)len);
  put_u32(hdr + 4, record_crc(type, payload, len));
  hdr[8] = type;
  sbuf_append(sb, (const char *)hdr, sizeof hdr);
  if (len)
    sbuf_append(sb, (const char *)payload, len);
}

/* Appends the RESULT record of r to sb and returns its size in bytes. */
static size_t record_put_result(sbuf_t *sb, const Clapper__Result *r) {
  size_t len = clapper__result__get_packed_size(r);
  uint8_t *buf = xmalloc(len ? len : 1);
  clapper__result__pack(r, buf);
  record_put(sb, JOURNAL_RESULT, buf, len);
  free(buf);
  return JOURNAL_HEADER + len;
}

static ssize_t find_pending(const journal_t *j, uint64_t id) {
  for (size_t i = 0; i < j->n; i++)
    if (j->pending[i]->attempt_id == id)
      return (ssize_t)i;
  return -1;
}

static void pending_add(journal_t *j, Clapper__Result *r) {
  ARRAY_PUSH(j->pending, j->n, j->cap, r);
  j->live += JOURNAL_HEADER + clapper__result__get_packed_size(r);
}

static void remember_ack(journal_t *j, uint64_t id) {
  j->acked[j->acked_pos] = id;
  j->acked_pos = (j->acked_pos + 1) % ACK_RING;
  if (j->acked_n < ACK_RING)
    j->acked_n++;
}

/* Removes pending[i] (keeping the order) and frees it. */
static void pending_remove(journal_t *j, size_t i) {
  Clapper__Result *r = j->pending[i];
  j->live -= JOURNAL_HEADER + clapper__result__get_packed_size(r);
  remember_ack(j, r->attempt_id);
  clapper__result__free_unpacked(r, NULL);
  memmove(&j->pending[i], &j->pending[i + 1], (j->n - i - 1) * sizeof *j->pending);
  j->n--;
}

/* Replays text[0..len): fills the pending set and returns the length of
 * the valid prefix. */
static size_t replay(journal_t *j, const uint8_t *text, size_t len) {
  size_t off = 0;
  while (len - off >= JOURNAL_HEADER) {
    const uint8_t *p = text + off;
    uint32_t plen = get_u32(p), crc = get_u32(p + 4);
    uint8_t type = p[8];
    if (plen > JOURNAL_MAX_RECORD || plen > len - off - JOURNAL_HEADER)
      break;
    const uint8_t *payload = p + JOURNAL_HEADER;
    if (record_crc(type, payload, plen) != crc)
      break;
    if (type == JOURNAL_RESULT) {
      Clapper__Result *r = clapper__result__unpack(NULL, plen, payload);
      if (!r || r->attempt_id == 0) {
        if (r)
          clapper__result__free_unpacked(r, NULL);
        break;
      }
      if (find_pending(j, r->attempt_id) >= 0)
        clapper__result__free_unpacked(r, NULL);
      else
        pending_add(j, r);
    } else if (type == JOURNAL_ACK && plen == 8) {
      ssize_t i = find_pending(j, get_u64(payload));
      if (i >= 0)
        pending_remove(j, (size_t)i);
    } else {
      break;
    }
    off += JOURNAL_HEADER + plen;
  }
  return off;
}

static int fsync_dir(const char *path) {
  char *copy = xstrdup(path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(copy);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

int journal_compact(journal_t *j) {
  sbuf_t sb = {0};
  char *tmp = xasprintf("%s.tmp", j->path);
  int fd = -1;
  for (size_t i = 0; i < j->n; i++)
    record_put_result(&sb, j->pending[i]);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    goto fail;
  if (util_write_all(fd, sb.buf ? sb.buf : "", sb.len) < 0 || fsync(fd) < 0)
    goto fail;
  if (close(fd) < 0) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (rename(tmp, j->path) < 0)
    goto fail;
  if (fsync_dir(j->path) < 0)
    goto fail;
  fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0)
    goto fail;
  if (j->fd >= 0)
    close(j->fd);
  j->fd = fd;
  j->size = sb.len;
  j->live = sb.len;
  j->dirty = false;
  sbuf_free(&sb);
  free(tmp);
  return 0;
fail: {
  int saved = errno;
  log_error("compacting %s: %s", j->path, strerror(saved));
  if (fd >= 0)
    close(fd);
  unlink(tmp);
  sbuf_free(&sb);
  free(tmp);
  errno = saved;
  return -1;
}
}

int journal_open(const char *path, journal_t **out, char *err, size_t errlen) {
  journal_t *j = xcalloc(1, sizeof *j);
  j->path = xstrdup(path);
  j->fd = -1;
  size_t len = 0;
  uint8_t *text = (uint8_t *)util_read_file(path, MAX_FILE, &len);
  if (!text) {
    if (errno != ENOENT) {
      snprintf(err, errlen, "journal %s: %s", path, strerror(errno));
      goto fail;
    }
    len = 0;
  }
  size_t good = text ? replay(j, text, len) : 0;
  if (good != len)
    log_warn("journal %s: dropping %zu bytes of torn or corrupt records at offset %zu", path,
             len - good, good);
  free(text);
  if (journal_compact(j) < 0) {
    snprintf(err, errlen, "journal %s: cannot rewrite: %s", path, strerror(errno));
    goto fail;
  }
  if (j->n)
    log_info("journal %s: %zu unacknowledged results", path, j->n);
  *out = j;
  return 0;
fail: {
  int saved = errno;
  journal_close(&j);
  errno = saved;
  return -1;
}
}

void journal_close(journal_t **jp) {
  journal_t *j = *jp;
  if (!j)
    return;
  *jp = NULL;
  if (j->fd >= 0) {
    if (j->dirty && fsync(j->fd) < 0)
      log_warn("fsync %s: %s", j->path, strerror(errno));
    close(j->fd);
  }
  for (size_t i = 0; i < j->n; i++)
    clapper__result__free_unpacked(j->pending[i], NULL);
  free(j->pending);
  free(j->path);
  free(j);
}

/* Writes sb to the end of the file; on failure cuts the file back so that
 * no torn record is left in the middle of later ones. */
static int append_bytes(journal_t *j, const sbuf_t *sb, bool sync) {
  if (!sb->len)
    return 0;
  if (util_write_all(j->fd, sb->buf, sb->len) < 0 || (sync && fsync(j->fd) < 0)) {
    int saved = errno;
    if (ftruncate(j->fd, (off_t)j->size) < 0)
      log_warn("ftruncate %s: %s", j->path, strerror(errno));
    errno = saved;
    return -1;
  }
  j->size += sb->len;
  return 0;
}

static void maybe_compact(journal_t *j) {
  if (j->size > JOURNAL_COMPACT_AT && j->size > 2 * j->live) {
    if (journal_compact(j) < 0)
      log_warn("journal stays uncompacted");
  }
}

int journal_append(journal_t *j, Clapper__Result **results, size_t n) {
  sbuf_t sb = {0};
  size_t added = 0;
  for (size_t i = 0; i < n; i++) {
    Clapper__Result *r = results[i];
    if (!r)
      continue;
    if (find_pending(j, r->attempt_id) >= 0) {
      clapper__result__free_unpacked(r, NULL);
      continue;
    }
    record_put_result(&sb, r);
    pending_add(j, r);
    added++;
  }
  /* The fsync also makes earlier ACK records durable. */
  int rc = added ? append_bytes(j, &sb, true) : 0;
  int saved = errno;
  if (rc < 0)
    log_error("appending %zu results to %s: %s", added, j->path, strerror(saved));
  else if (added)
    j->dirty = false;
  sbuf_free(&sb);
  if (rc == 0)
    maybe_compact(j);
  errno = saved;
  return rc;
}

int journal_ack(journal_t *j, const uint64_t *ids, size_t n) {
  sbuf_t sb = {0};
  int removed = 0;
  for (size_t k = 0; k < n; k++) {
    ssize_t i = find_pending(j, ids[k]);
    if (i < 0)
      continue;
    uint8_t payload[8];
    put_u64(payload, ids[k]);
    record_put(&sb, JOURNAL_ACK, payload, sizeof payload);
    pending_remove(j, (size_t)i);
    removed++;
  }
  int rc = append_bytes(j, &sb, false);
  int saved = errno;
  sbuf_free(&sb);
  if (rc < 0) {
    log_error("appending acknowledgements to %s: %s", j->path, strerror(saved));
    errno = saved;
    return -1;
  }
  if (removed)
    j->dirty = true;
  maybe_compact(j);
  return removed;
}

int journal_sync(journal_t *j) {
  if (!j->dirty)
    return 0;
  if (fsync(j->fd) < 0)
    return -1;
  j->dirty = false;
  return 0;
}

Clapper__Result *const *journal_pending(const journal_t *j, size_t *n) {
  *n = j->n;
  return j->pending;
}

size_t journal_pending_count(const journal_t *j) { return j->n; }

bool journal_known(const journal_t *j, uint64_t attempt_id) {
  if (find_pending(j, attempt_id) >= 0)
    return true;
  for (size_t i = 0; i < j->acked_n; i++)
    if (j->acked[i] == attempt_id)
      return true;
  return false;
}

uint64_t journal_file_size(const journal_t *j) { return j->size; }
