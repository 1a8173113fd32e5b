/*
 * input.c - checks on what clients, workers and job files send, see
 * input.h.
 */
#include "input.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length of the UTF-8 sequence at s[0..n) (n >= 1), or 0 when it is
 * not a valid one (RFC 3629, table 3-7 of the Unicode standard). */
static size_t seq_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80)
    return c ? 1 : 0;
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0)
      lo = 0xa0; /* overlong */
    else if (c == 0xed)
      hi = 0x9f; /* surrogates */
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0)
      lo = 0x90; /* overlong */
    else if (c == 0xf4)
      hi = 0x8f; /* above U+10FFFF */
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t k = 2; k < len; k++)
    if ((s[k] & 0xc0) != 0x80)
      return 0;
  return len;
}

bool input_utf8(const char *s, size_t len, size_t *bad) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    size_t n = seq_len(p + i, len - i);
    if (!n) {
      if (bad)
        *bad = i;
      return false;
    }
    i += n;
  }
  return true;
}

static bool is_control(unsigned char c, int flags) {
  if (c == 0x7f)
    return true;
  if (c >= 0x20)
    return false;
  return (flags & INPUT_ONE_LINE) || !(c == '\t' || c == '\n' || c == '\r');
}

int input_bytes(const char *field, const char *s, size_t len, size_t max, int flags, char *err,
                size_t errlen) {
  if (len > max)
    return util_fail_line(err, errlen, "%s: %zu bytes, more than %zu", field, len, max);
  size_t bad = 0;
  if (!input_utf8(s, len, &bad)) {
    if (s[bad] == '\0')
      return util_fail_line(err, errlen, "%s: holds a NUL byte (at byte %zu)", field, bad);
    return util_fail_line(err, errlen, "%s: not valid UTF-8 (byte 0x%02x at byte %zu)", field,
                          (unsigned char)s[bad], bad);
  }
  for (size_t i = 0; i < len; i++)
    if (is_control((unsigned char)s[i], flags))
      return util_fail_line(err, errlen, "%s: holds a control character (0x%02x at byte %zu)",
                            field, (unsigned char)s[i], i);
  return 0;
}

int input_text(const char *field, const char *s, size_t max, int flags, char *err, size_t errlen) {
  if (!s)
    return 0;
  /* Look one byte past the cap only: a 16 MiB text is refused without
   * being read through. */
  size_t len = strnlen(s, max + 1);
  if (len > max)
    return util_fail_line(err, errlen, "%s: %zu bytes, more than %zu", field, strlen(s), max);
  return input_bytes(field, s, len, max, flags, err, errlen);
}

int input_time(const char *field, int64_t us, bool zero_ok, char *err, size_t errlen) {
  if (us == 0 && zero_ok)
    return 0;
  if (us < INPUT_TIME_MIN_US || us > INPUT_TIME_MAX_US)
    return util_fail_line(err, errlen,
                          "%s: %" PRId64 " is not a time between 1970-01-01 and 9999-12-31 "
                          "(unix microseconds)",
                          field, us);
  return 0;
}

int input_request(const Clapper__Request *req, char *err, size_t errlen) {
  const struct {
    const char *field, *value;
    size_t max;
    int flags;
  } texts[] = {
      {"note", req->note, INPUT_NOTE_MAX, INPUT_MULTI_LINE},
      {"name", req->name, INPUT_NAME_MAX, INPUT_ONE_LINE},
      {"amount", req->amount, INPUT_NAME_MAX, INPUT_ONE_LINE},
      {"kind", req->kind, INPUT_NAME_MAX, INPUT_ONE_LINE},
      {"by", req->by, INPUT_NAME_MAX, INPUT_ONE_LINE},
      {"shot", req->shot, INPUT_NAME_MAX, INPUT_ONE_LINE},
      {"state", req->state, INPUT_NAME_MAX, INPUT_ONE_LINE},
      {"public_key", req->public_key, INPUT_NAME_MAX, INPUT_ONE_LINE},
      {"after_name", req->after_name, INPUT_NAME_MAX, INPUT_ONE_LINE},
      {"idempotency_key", req->idempotency_key, INPUT_IDEMPOTENCY_KEY_MAX, INPUT_ONE_LINE},
      {"expires", req->expires, INPUT_NAME_MAX, INPUT_ONE_LINE},
  };
  for (size_t i = 0; i < ARRAY_SIZE(texts); i++)
    if (input_text(texts[i].field, texts[i].value, texts[i].max, texts[i].flags, err, errlen) < 0)
      return -1;
  if (input_time("at_us", req->at_us, true, err, errlen) < 0)
    return -1;
  if (req->n_members > INPUT_MEMBERS_MAX)
    return util_fail_line(err, errlen, "members: %zu entries, at most %d", req->n_members,
                          INPUT_MEMBERS_MAX);
  for (size_t i = 0; i < req->n_members; i++) {
    char field[32];
    snprintf(field, sizeof field, "members[%zu]", i);
    if (input_text(field, req->members[i], INPUT_NAME_MAX, INPUT_ONE_LINE, err, errlen) < 0)
      return -1;
  }
  for (size_t i = 0; i < req->n_ids; i++)
    if (req->ids[i] > INT64_MAX)
      return util_fail_line(err, errlen, "ids[%zu]: %" PRIu64 " is more than %" PRId64, i,
                            req->ids[i], INT64_MAX);
  if (req->offset > INT64_MAX)
    return util_fail_line(err, errlen, "offset: %" PRIu64 " is more than %" PRId64, req->offset,
                          INT64_MAX);
  if (req->after > INT64_MAX)
    return util_fail_line(err, errlen, "after: %" PRIu64 " is more than %" PRId64, req->after,
                          INT64_MAX);
  return 0;
}

char *input_clean(const char *s, size_t max) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  size_t n = strnlen((const char *)p, max);
  char *out = xmalloc(n + 1);
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t len = seq_len(p + i, n - i);
    if (!len || (len == 1 && is_control(p[i], INPUT_ONE_LINE))) {
      out[o++] = '?';
      i++;
      continue;
    }
    memcpy(out + o, p + i, len);
    o += len;
    i += len;
  }
  out[o] = '\0';
  return out;
}
