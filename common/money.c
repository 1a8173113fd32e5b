/*
 * money.c - amounts of money as integer micro-units, see money.h.
 *
 * Integer arithmetic only: amounts are parsed digit by digit into an
 * int64, printed with integer division, and a cost is one 128-bit product
 * divided with rounding, so that no amount ever passes through a double.
 *
 * money_parse refuses everything that is not plainly "digits[.digits]":
 * a sign, an exponent, blanks, thousands separators, and also "1." and
 * ".5" (a person writes 1 and 0.5; accepting half a number would hide
 * typos such as a dropped digit).
 */
#include "money.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MONEY_DECIMALS 6
#define US_PER_HOUR 3600000000ULL
/* How much of the offending text an error quotes. */
#define QUOTE_MAX 40

/* Parses the digits of s[0..n) into *v, saturating just above MONEY_MAX
 * (so that huge and overflowing inputs stay comparable). */
static void digits_value(const char *s, size_t n, uint64_t *v) {
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    x = x * 10 + (uint64_t)(s[i] - '0');
    if (x > (uint64_t)MONEY_MAX)
      x = (uint64_t)MONEY_MAX + 1; /* stays > MONEY_MAX, never overflows */
  }
  *v = x;
}

/* The reason an amount that is neither digits nor a '.' is refused. */
static int refuse_chars(const char *s, const char *q, char *err, size_t errlen) {
  if (s[0] == '-' && s[1] >= '0' && s[1] <= '9')
    return util_fail_line(err, errlen, "'%s' is negative", q);
  if (s[0] == '+')
    return util_fail_line(err, errlen, "'%s' has a sign: write the amount without '+'", q);
  if (strpbrk(s, " \t\r\n\v\f"))
    return util_fail_line(err, errlen, "'%s' has blanks: write the amount alone", q);
  if (strchr(s, ','))
    return util_fail_line(err, errlen,
                          "'%s' has a ',': write a '.' before the decimals and no separators", q);
  if (strpbrk(s, "eE") && strspn(s, "0123456789") > 0)
    return util_fail_line(err, errlen, "'%s' has an exponent: write the amount in full", q);
  return util_fail_line(err, errlen, "'%s' is not an amount", q);
}

int money_parse(const char *s, int64_t *micros, char *err, size_t errlen) {
  if (!s || !*s)
    return util_fail_line(err, errlen, "the amount is empty");
  /* The text as errors quote it: cut, and marked as cut. */
  char q[QUOTE_MAX + 4];
  snprintf(q, sizeof q, "%.*s%s", QUOTE_MAX, s, strlen(s) > QUOTE_MAX ? "..." : "");

  size_t nint = strspn(s, "0123456789");
  const char *rest = s + nint;
  size_t nfrac = 0;
  bool point = rest[0] == '.';
  if (point) {
    nfrac = strspn(rest + 1, "0123456789");
    rest += 1 + nfrac;
  }
  if (*rest)
    return refuse_chars(s, q, err, errlen);
  if (point && nint == 0)
    return util_fail_line(err, errlen, "'%s' has no digits before the '.': write 0%s", q, s);
  if (point && nfrac == 0)
    return util_fail_line(err, errlen, "'%s' has no digits after the '.'", q);
  if (nfrac > MONEY_DECIMALS)
    return util_fail_line(err, errlen, "'%s' has more than %d decimals", q, MONEY_DECIMALS);

  uint64_t units, frac = 0;
  digits_value(s, nint, &units);
  if (nfrac)
    digits_value(s + nint + 1, nfrac, &frac);
  for (size_t i = nfrac; i < MONEY_DECIMALS; i++)
    frac *= 10;
  uint64_t max_units = (uint64_t)(MONEY_MAX / MONEY_SCALE);
  if (units > max_units || (units == max_units && frac > 0))
    return util_fail_line(err, errlen, "'%s' is more than %" PRIu64, q, max_units);
  *micros = (int64_t)(units * (uint64_t)MONEY_SCALE + frac);
  return 0;
}

void money_format(int64_t micros, char *out, size_t outlen) {
  /* The magnitude as unsigned, which also holds -INT64_MIN. */
  uint64_t m = micros < 0 ? 0 - (uint64_t)micros : (uint64_t)micros;
  snprintf(out, outlen, "%s%" PRIu64 ".%06" PRIu64, micros < 0 ? "-" : "",
           m / (uint64_t)MONEY_SCALE, m % (uint64_t)MONEY_SCALE);
}

int64_t money_cost(uint64_t wall_us, int64_t micros_per_hour) {
  bool negative = micros_per_hour < 0;
  uint64_t rate = negative ? 0 - (uint64_t)micros_per_hour : (uint64_t)micros_per_hour;
  /* At most (2^64 - 1) * 2^63 < 2^128: the product cannot overflow. */
  unsigned __int128 p = (unsigned __int128)wall_us * rate;
  unsigned __int128 q = (p + US_PER_HOUR / 2) / US_PER_HOUR; /* halves away from zero */
  if (!negative)
    return q > (unsigned __int128)INT64_MAX ? INT64_MAX : (int64_t)q;
  /* A negative rate is no real rate; its cost saturates at INT64_MIN. */
  return q > (unsigned __int128)INT64_MAX + 1 ? INT64_MIN : (int64_t)(0 - (uint64_t)q);
}
