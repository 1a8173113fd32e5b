/*
 * money.h - amounts of money as integer micro-units.
 *
 * Money is never floating point in clapper: an amount is an
 * int64 count of micro-units (millionths) of the one configured currency,
 * parsed from and printed as a decimal string ("12.345678", "2.5", "0").
 */
#ifndef CLAPPER_MONEY_H
#define CLAPPER_MONEY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define MONEY_SCALE 1000000LL /* micro-units per unit */
/* The largest amount accepted from a person: 10^12 units. */
#define MONEY_MAX (1000000000000LL * MONEY_SCALE)

/* Parses a non-negative decimal amount: digits, optionally '.' and at most
 * 6 more digits ("12", "12.5", "0.000001"); no sign, exponent, spaces or
 * separators.  Returns 0 with *micros set, or -1 with a one-line reason in
 * err ("'-1' is negative", "'1.2345678' has more than 6 decimals",
 * "'abc' is not an amount", "'99999999999999' is more than 1000000000000"). */
int money_parse(const char *s, int64_t *micros, char *err, size_t errlen) MUSTCHECK;

/* Formats micros as a decimal with exactly 6 decimals ("12.345678",
 * "-0.500000") into out (at least 32 bytes). */
void money_format(int64_t micros, char *out, size_t outlen);

/* The cost of wall_us microseconds at a rate of micros_per_hour, rounded to
 * the nearest micro-unit (halves away from zero); saturates at INT64_MAX. */
int64_t money_cost(uint64_t wall_us, int64_t micros_per_hour);

#endif
