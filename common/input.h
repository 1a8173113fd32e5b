/*
 * input.h - the checks every string, time and number from a client, a
 * worker or a job file passes before it enters memory.
 *
 * Whatever the coordinator keeps ends up in a PostgreSQL row, and a value
 * PostgreSQL refuses (text that is not UTF-8, a time past year 294276)
 * fails a whole batch.  So the edge refuses it first: text must be valid
 * UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF) without NUL, within a length cap for its kind; one-line fields
 * hold no control characters; a time is unix microseconds between
 * 1970-01-01 and 9999-12-31.  A refusal is one line naming the field and
 * what is wrong, "note: 16777216 bytes, more than 4096", written to err.
 *
 * Used by the client-verb path (input_request, coordinator/clients.c), the
 * worker-message path (coordinator/workers.c) and the job-file parser
 * (common/jobfile.c, provenance).
 */
#ifndef CLAPPER_INPUT_H
#define CLAPPER_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clapper.pb-c.h"
#include "util.h"

/* Length caps, in bytes. */
#define INPUT_NOTE_MAX 4096u             /* notes and reasons a person gives */
#define INPUT_NAME_MAX 256u              /* names, models, other identifiers */
#define INPUT_IDEMPOTENCY_KEY_MAX 128u   /* a submission's idempotency key */
#define INPUT_MEMBERS_MAX 256            /* members of a pool in one request */
#define INPUT_PATH_MAX 4096u             /* paths a worker reports */
#define INPUT_PROV_KEY_MAX 64u           /* a provenance key */
#define INPUT_PROV_VALUE_MAX (16u << 10) /* a provenance value */
#define INPUT_PROV_TOTAL_MAX (64u << 10) /* a job's provenance, keys and values */

/* Times: unix microseconds from 1970-01-01T00:00:00Z to
 * 9999-12-31T23:59:59.999999Z. */
#define INPUT_TIME_MIN_US INT64_C(0)
#define INPUT_TIME_MAX_US INT64_C(253402300799999999)

/* Text flags. */
enum {
  INPUT_ONE_LINE = 1,  /* no control characters (C0 and DEL) at all */
  INPUT_MULTI_LINE = 0 /* tab, newline and carriage return allowed */
};

/* Whether the len bytes at s are valid UTF-8 without NUL; when not, the
 * offset of the first bad byte is stored in *bad unless bad is NULL. */
bool input_utf8(const char *s, size_t len, size_t *bad);

/* Checks text s (NUL-terminated; NULL is the empty text) of field against
 * the cap max and flags.  Returns 0, or -1 with "FIELD: what is wrong" in
 * err. */
int input_text(const char *field, const char *s, size_t max, int flags, char *err,
               size_t errlen) MUSTCHECK;

/* The same for len bytes that may hold NUL (refused). */
int input_bytes(const char *field, const char *s, size_t len, size_t max, int flags, char *err,
                size_t errlen) MUSTCHECK;

/* Checks a time (unix microseconds) of field; zero_ok admits 0 (meaning
 * "unset" or "now").  Returns 0, or -1 with a one-line reason in err. */
int input_time(const char *field, int64_t us, bool zero_ok, char *err, size_t errlen) MUSTCHECK;

/* Checks every field of a client request: note at most INPUT_NOTE_MAX
 * bytes of UTF-8, idempotency_key one line of at most
 * INPUT_IDEMPOTENCY_KEY_MAX, the other texts one line of at most INPUT_NAME_MAX,
 * at_us 0 or a time, ids, offset and after at most INT64_MAX, at most
 * INPUT_MEMBERS_MAX members, each a text like name.  The body (a job
 * file) is the job-file parser's to check.  Returns 0, or -1 with a one-line
 * reason naming the field in err. */
int input_request(const Clapper__Request *req, char *err, size_t errlen) MUSTCHECK;

/* A copy of s (NULL: "") cut to at most max bytes, on a character
 * boundary, with every byte that is not part of valid UTF-8 or is a control
 * character replaced by '?': for what a worker reports about a run (an
 * error line, output paths), which is recorded even when it is odd.  The
 * caller frees it. */
char *input_clean(const char *s, size_t max) MUSTCHECK;

/* x clamped to [lo, hi] (lo <= hi). */
static inline int64_t input_clamp(int64_t x, int64_t lo, int64_t hi) {
  return x < lo ? lo : x > hi ? hi : x;
}

#endif
