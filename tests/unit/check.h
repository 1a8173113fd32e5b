/*
 * check.h - the few assertion macros the unit tests share.
 *
 * A failed CHECK prints the file, line and expression and counts a failure;
 * the test's main() returns check_report(), non-zero when anything failed.
 * The counters live in check.c, so that the helpers a test links from
 * tests/unit/ (fakecoord.c, ...) count into the same totals.
 */
#ifndef CLAPPER_CHECK_H
#define CLAPPER_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

extern int check_failures; /* CHECKs that failed */
extern int check_count;    /* CHECKs run */

#define CHECK(expr)                                                            \
  do {                                                                         \
    check_count++;                                                             \
    if (!(expr)) {                                                             \
      check_failures++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
    }                                                                          \
  } while (0)

#define CHECK_INT(a, b)                                                        \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    check_count++;                                                             \
    if (a_ != b_) {                                                            \
      check_failures++;                                                        \
      fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, \
              #a, a_, b_);                                                     \
    }                                                                          \
  } while (0)

#define CHECK_STR(a, b)                                                        \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    check_count++;                                                             \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                     \
      check_failures++;                                                        \
      fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,      \
              __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
    }                                                                          \
  } while (0)

/* CHECK_CONTAINS(haystack, needle): haystack is non-NULL and has needle. */
#define CHECK_CONTAINS(h, n)                                                   \
  do {                                                                         \
    const char *h_ = (h), *n_ = (n);                                           \
    check_count++;                                                             \
    if (h_ == NULL || strstr(h_, n_) == NULL) {                                \
      check_failures++;                                                        \
      fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,     \
              __LINE__, h_ ? h_ : "(null)", n_);                               \
    }                                                                          \
  } while (0)

static inline int check_report(const char *name) {
  fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count, check_failures);
  return check_failures ? 1 : 0;
}

#endif
