/*
 * frames.c - frame range specifications and chunking, see frames.h.
 *
 * All arithmetic stays within int64_t/uint64_t: frames are at most
 * FRAMES_MAX (about 1e9), so a product of two frame quantities (at most
 * about 1e18) still fits, and chunk sizes are only ever compared with frame
 * counts, never multiplied by them.
 */
#include "frames.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPECTED "(expected e.g. 1-100, 1-100x2, 1,5,10-20)"
#define QUOTE_MAX 64 /* longest piece of user text quoted in a message */

/* Length to quote of a piece of n bytes, and the suffix that marks a cut. */
static int qlen(size_t n) { return (int)(n > QUOTE_MAX ? QUOTE_MAX : n); }
static const char *qcut(size_t n) { return n > QUOTE_MAX ? "..." : ""; }

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Reads the digits at *p (before end) into *out.  Returns 0, -1 when there
 * are no digits, or -2 when the number exceeds FRAMES_MAX (all its digits
 * are consumed either way). */
static int number(const char **p, const char *end, int64_t *out) {
  const char *s = *p;
  int64_t v = 0;
  bool big = false;
  while (s < end && is_digit(*s)) {
    if (!big) {
      v = v * 10 + (*s - '0');
      if (v > FRAMES_MAX)
        big = true;
    }
    s++;
  }
  if (s == *p)
    return -1;
  *p = s;
  *out = v;
  return big ? -2 : 0;
}

/* Formats an item the way a user would write it. */
static void item_text(const frame_item_t *it, char *buf, size_t len) {
  if (it->start == it->end)
    snprintf(buf, len, "%lld", (long long)it->start);
  else if (it->step == 1)
    snprintf(buf, len, "%lld-%lld", (long long)it->start, (long long)it->end);
  else
    snprintf(buf, len, "%lld-%lldx%lld", (long long)it->start, (long long)it->end,
             (long long)it->step);
}

/* Reads one number of the item s (n bytes) at *p, as number() does.  When
 * it exceeds FRAMES_MAX, puts "WHAT N is larger than FRAMES_MAX" in err,
 * naming the item too when in_item, and returns -2. */
static int item_number(const char **p, const char *end, int64_t *out, const char *what,
                       bool in_item, const char *s, size_t n, char *err, size_t errlen) {
  const char *num = *p;
  int rc = number(p, end, out);
  if (rc != -2)
    return rc;
  size_t len = (size_t)(*p - num);
  if (in_item)
    util_fail_line(err, errlen, "%s %.*s%s in '%.*s%s' is larger than %lld", what, qlen(len), num,
                   qcut(len), qlen(n), s, qcut(n), FRAMES_MAX);
  else
    util_fail_line(err, errlen, "%s %.*s%s is larger than %lld", what, qlen(len), num, qcut(len),
                   FRAMES_MAX);
  return -2;
}

/* Parses one item (s, n bytes, already trimmed) into *it: A, A-B or A-BxSTEP. */
static int parse_item(const char *s, size_t n, frame_item_t *it, char *err, size_t errlen) {
  const char *p = s, *end = s + n;
  int64_t a = 0, b = 0, step = 1;
  int rc = item_number(&p, end, &a, "frame", false, s, n, err, errlen);
  b = a;
  if (rc == 0 && p < end && *p == '-') {
    p++;
    rc = item_number(&p, end, &b, "frame", false, s, n, err, errlen);
    if (rc == 0 && p < end && *p == 'x') {
      p++;
      rc = item_number(&p, end, &step, "step", true, s, n, err, errlen);
      if (rc == 0 && step < 1)
        return util_fail_line(err, errlen, "step in '%.*s%s' must be at least 1", qlen(n), s,
                              qcut(n));
    }
  }
  if (rc == -2)
    return -1;
  if (rc < 0 || p != end)
    return util_fail_line(err, errlen, "'%.*s%s' is not a frame range " EXPECTED, qlen(n), s,
                          qcut(n));
  if (a > b)
    return util_fail_line(err, errlen, "range %lld-%lld is reversed", (long long)a, (long long)b);
  it->start = a;
  it->end = a + (b - a) / step * step;
  it->step = step;
  return 0;
}

static int cmp_start(const void *x, const void *y) {
  const frame_item_t *a = x, *b = y;
  return a->start < b->start ? -1 : a->start > b->start;
}

static int64_t gcd(int64_t a, int64_t b) {
  while (b) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* Inverse of a modulo m (gcd(a, m) == 1, 0 <= a < m, m >= 1). */
static int64_t mod_inverse(int64_t a, int64_t m) {
  int64_t r0 = m, r1 = a, t0 = 0, t1 = 1;
  while (r1) {
    int64_t q = r0 / r1, t;
    t = r0 - q * r1;
    r0 = r1;
    r1 = t;
    t = t0 - q * t1;
    t0 = t1;
    t1 = t;
  }
  t0 %= m;
  return t0 < 0 ? t0 + m : t0;
}

/* The smallest frame that belongs to both items, or -1 when they share none
 * (they are arithmetic runs whose ends lie on their steps). */
static int64_t first_shared(const frame_item_t *a, const frame_item_t *b) {
  int64_t lo = a->start > b->start ? a->start : b->start;
  int64_t hi = a->end < b->end ? a->end : b->end;
  if (lo > hi)
    return -1;
  /* Solve x = a.start + k a.step = b.start (mod b.step). */
  int64_t g = gcd(a->step, b->step);
  int64_t diff = b->start - a->start;
  if (diff % g)
    return -1;
  int64_t m = b->step / g; /* <= 1e9, so products of residues fit */
  int64_t d = (diff / g) % m;
  if (d < 0)
    d += m;
  int64_t k = d * mod_inverse((a->step / g) % m, m) % m;
  int64_t lcm = a->step / g * b->step; /* <= 1e18 */
  int64_t x = a->start + k * a->step;  /* < a.start + lcm */
  if (x < lo)
    x += (lo - x + lcm - 1) / lcm * lcm;
  return x <= hi ? x : -1;
}

int frames_parse(const char *spec, frame_set_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!spec)
    return util_fail_line(err, errlen, "no frame range given " EXPECTED);
  size_t len = strlen(spec);
  frame_item_t *items = NULL;
  size_t n = 0, cap = 0;
  const char *p = spec, *end = spec + len;
  for (;;) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *ie = comma ? comma : end, *is = p;
    while (is < ie && *is == ' ')
      is++;
    while (ie > is && ie[-1] == ' ')
      ie--;
    if (is == ie) {
      if (!comma && n == 0)
        util_fail_line(err, errlen, "the frame range is empty " EXPECTED);
      else
        util_fail_line(err, errlen, "'%.*s%s' has an empty item " EXPECTED, qlen(len), spec,
                       qcut(len));
      goto fail;
    }
    ARRAY_RESERVE(items, n, cap, 1);
    if (parse_item(is, (size_t)(ie - is), &items[n], err, errlen) < 0)
      goto fail;
    n++;
    if (!comma)
      break;
    p = comma + 1;
  }
  qsort(items, n, sizeof *items, cmp_start);
  /* Sorted by start, the items are disjoint exactly when each ends before
   * the next begins, so comparing neighbours finds the first clash. */
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && items[i - 1].end >= items[i].start) {
      int64_t f = first_shared(&items[i - 1], &items[i]);
      if (f >= 0) {
        util_fail_line(err, errlen, "frame %lld is listed twice", (long long)f);
      } else {
        char a[80], b[80];
        item_text(&items[i - 1], a, sizeof a);
        item_text(&items[i], b, sizeof b);
        util_fail_line(err, errlen, "ranges %s and %s overlap", a, b);
      }
      goto fail;
    }
    total += (uint64_t)((items[i].end - items[i].start) / items[i].step) + 1;
  }
  out->items = items;
  out->nitems = n;
  out->nframes = total;
  return 0;
fail:
  free(items);
  return -1;
}

/* Frames in one item. */
static uint64_t item_frames(const frame_item_t *it) {
  return (uint64_t)((it->end - it->start) / it->step) + 1;
}

uint64_t frames_chunk_count(const frame_set_t *fs, uint64_t chunk) {
  if (chunk < 1)
    chunk = 1;
  uint64_t total = 0;
  for (size_t i = 0; i < fs->nitems; i++)
    total += (item_frames(&fs->items[i]) - 1) / chunk + 1;
  return total;
}

size_t frames_chunks(const frame_set_t *fs, uint64_t chunk, frame_chunk_t *out) {
  if (chunk < 1)
    chunk = 1;
  size_t w = 0;
  for (size_t i = 0; i < fs->nitems; i++) {
    const frame_item_t *it = &fs->items[i];
    uint64_t nf = item_frames(it);
    for (uint64_t idx = 0; idx < nf;) {
      uint64_t left = nf - idx, cnt = left < chunk ? left : chunk;
      int64_t start = it->start + (int64_t)idx * it->step;
      out[w].start = start;
      out[w].end = start + (int64_t)(cnt - 1) * it->step;
      out[w].step = it->step;
      w++;
      idx += cnt;
    }
  }
  return w;
}

void frames_free(frame_set_t *fs) {
  if (!fs)
    return;
  free(fs->items);
  fs->items = NULL;
  fs->nitems = 0;
  fs->nframes = 0;
}
