/*
 * test_money.c - amounts of money as integer micro-units: what money_parse
 * accepts and the one-line reason for everything it refuses (signs,
 * exponents, blanks, separators, a bare '.', too many decimals, amounts
 * beyond MONEY_MAX and beyond int64), money_format at its extremes, the
 * round trip parse(format(x)) and the exactness of money_cost: whole
 * hours, rounding of tiny and half amounts, and saturation.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "money.h"

static void test_parse_accepts(void) {
  struct {
    const char *s;
    int64_t want;
  } ok[] = {
      {"0", 0},
      {"12", 12 * MONEY_SCALE},
      {"12.5", 12500000},
      {"0.000001", 1},
      {"2.50", 2500000},
      {"0.5", 500000},
      {"007", 7 * MONEY_SCALE},
      {"1.000000", MONEY_SCALE},
      {"999999999999.999999", MONEY_MAX - 1},
      {"1000000000000", MONEY_MAX},
      {"1000000000000.000000", MONEY_MAX},
  };
  for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
    int64_t v = -1;
    char err[256] = "";
    CHECK_INT(money_parse(ok[i].s, &v, err, sizeof err), 0);
    CHECK_INT(v, ok[i].want);
    CHECK_STR(err, "");
  }
}

static void test_parse_refuses(void) {
  struct {
    const char *s;
    const char *reason;
  } bad[] = {
      {"", "the amount is empty"},
      {"-1", "'-1' is negative"},
      {"-0.5", "'-0.5' is negative"},
      {"+1", "'+1' has a sign"},
      {"1.2345678", "'1.2345678' has more than 6 decimals"},
      {"0.0000001", "'0.0000001' has more than 6 decimals"},
      {"1e3", "'1e3' has an exponent"},
      {"1E3", "'1E3' has an exponent"},
      {" 1", "' 1' has blanks"},
      {"1 ", "'1 ' has blanks"},
      {"1,5", "'1,5' has a ','"},
      {"1,000", "'1,000' has a ','"},
      {"1.", "'1.' has no digits after the '.'"},
      {".5", "'.5' has no digits before the '.': write 0.5"},
      {".", "'.' has no digits before the '.'"},
      {"abc", "'abc' is not an amount"},
      {"-abc", "'-abc' is not an amount"},
      {"1.2.3", "'1.2.3' is not an amount"},
      {"0x10", "'0x10' is not an amount"},
      {"12$", "'12$' is not an amount"},
      {"1000000000000.000001", "'1000000000000.000001' is more than 1000000000000"},
      {"1000000000001", "'1000000000001' is more than 1000000000000"},
      {"99999999999999", "'99999999999999' is more than 1000000000000"},
      /* Beyond int64 micro-units (9223372036854.775807) and beyond int64
       * itself: refused the same way, without overflow. */
      {"9223372036855", "'9223372036855' is more than 1000000000000"},
      {"9223372036854775808", "'9223372036854775808' is more than 1000000000000"},
      {"123456789012345678901234567890", "is more than 1000000000000"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    int64_t v = 42;
    char err[256] = "";
    CHECK_INT(money_parse(bad[i].s, &v, err, sizeof err), -1);
    CHECK_INT(v, 42); /* untouched */
    CHECK_CONTAINS(err, bad[i].reason);
    CHECK(strchr(err, '\n') == NULL);
  }
  /* A control character is quoted without breaking the line; long text
   * is cut; NULL is refused like "". */
  int64_t v;
  char err[256];
  CHECK_INT(money_parse("1\n2", &v, err, sizeof err), -1);
  CHECK(strchr(err, '\n') == NULL);
  CHECK_CONTAINS(err, "blanks");
  char long_text[200];
  memset(long_text, '7', sizeof long_text - 1);
  long_text[sizeof long_text - 1] = '\0';
  CHECK_INT(money_parse(long_text, &v, err, sizeof err), -1);
  CHECK_CONTAINS(err, "...' is more than 1000000000000");
  CHECK(strlen(err) < 100);
  CHECK_INT(money_parse(NULL, &v, err, sizeof err), -1);
  CHECK_STR(err, "the amount is empty");
  /* A small error buffer is cut, not overrun; none at all is fine. */
  char small[8];
  CHECK_INT(money_parse("abc", &v, small, sizeof small), -1);
  CHECK_STR(small, "'abc' i");
  CHECK_INT(money_parse("abc", &v, NULL, 0), -1);
}

static void test_format(void) {
  struct {
    int64_t v;
    const char *want;
  } cases[] = {
      {0, "0.000000"},
      {1, "0.000001"},
      {-1, "-0.000001"},
      {1234567, "1.234567"},
      {-500000, "-0.500000"},
      {12345678, "12.345678"},
      {MONEY_MAX, "1000000000000.000000"},
      {INT64_MAX, "9223372036854.775807"},
      {INT64_MIN, "-9223372036854.775808"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    char out[32];
    money_format(cases[i].v, out, sizeof out);
    CHECK_STR(out, cases[i].want);
  }
  /* Round trip over the non-negative amounts a person may write. */
  const int64_t trip[] = {0, 1, 999999, 1000000, 1000001, 2500000, 123456789012, MONEY_MAX};
  for (size_t i = 0; i < ARRAY_SIZE(trip); i++) {
    char out[32], err[128];
    int64_t back = -1;
    money_format(trip[i], out, sizeof out);
    CHECK_INT(money_parse(out, &back, err, sizeof err), 0);
    CHECK_INT(back, trip[i]);
  }
}

static void test_cost(void) {
  const uint64_t hour = 3600ULL * 1000000;
  /* 3600 s at 2.5/h is exactly 2.5. */
  CHECK_INT(money_cost(hour, 2500000), 2500000);
  CHECK_INT(money_cost(0, 2500000), 0);
  CHECK_INT(money_cost(hour, 0), 0);
  /* 1 us at 1/h is 1/3600 of a micro-unit: 0. */
  CHECK_INT(money_cost(1, MONEY_SCALE), 0);
  /* Half a micro-unit rounds up, just below half rounds down: 1800 us at
   * 1 micro-unit per second (3600 micros/h) is 1.8e9/3.6e9 = 0.5. */
  CHECK_INT(money_cost(hour / 2, 1), 1);     /* 0.5 */
  CHECK_INT(money_cost(hour / 2 - 1, 1), 0); /* 0.4999... */
  CHECK_INT(money_cost(hour / 2 * 3, 1), 2); /* 1.5 */
  CHECK_INT(money_cost(hour / 2 * 5, 1), 3); /* 2.5: away from zero, not to even */
  CHECK_INT(money_cost(hour / 2 * 5 - 1, 1), 2);
  /* Away from zero for a (nonsensical) negative rate too. */
  CHECK_INT(money_cost(hour / 2, -1), -1);
  CHECK_INT(money_cost(hour / 2 - 1, -1), 0);
  /* A value a double would get wrong: 7 hours + 1 us at 0.000003/h... */
  CHECK_INT(money_cost(7 * hour + 1, 3), 21);
  /* ... and a long, expensive run: 1000 days at 987654.321987/h. */
  CHECK_INT(money_cost(1000ULL * 24 * hour, 987654321987LL), 987654321987LL * 24000);
  /* 90 s at 2.5/h = 0.0625 exactly; 1 s at 2.5/h = 694.444... micro-units. */
  CHECK_INT(money_cost(90ULL * 1000000, 2500000), 62500);
  CHECK_INT(money_cost(1000000, 2500000), 694);
  CHECK_INT(money_cost(1000000, 2501800), 695); /* 694.944... */
  /* The product needs more than 64 bits but the result fits. */
  CHECK_INT(money_cost(UINT64_MAX, 3600), (int64_t)(UINT64_MAX / 1000000 + 1));
  CHECK_INT(money_cost(hour * 1000000, MONEY_MAX), INT64_MAX); /* 10^24 micros: saturates */
  /* Huge values saturate instead of wrapping. */
  CHECK_INT(money_cost(UINT64_MAX, INT64_MAX), INT64_MAX);
  CHECK_INT(money_cost(UINT64_MAX, MONEY_MAX), INT64_MAX);
  CHECK_INT(money_cost(UINT64_MAX, INT64_MIN), INT64_MIN);
  /* Just below and at the saturation point: INT64_MAX hours' worth. */
  CHECK_INT(money_cost(hour, INT64_MAX), INT64_MAX);
  CHECK_INT(money_cost(hour * 2, INT64_MAX), INT64_MAX);
  CHECK_INT(money_cost(hour, INT64_MAX - 1), INT64_MAX - 1);
}

int main(void) {
  test_parse_accepts();
  test_parse_refuses();
  test_format();
  test_cost();
  return check_report("test_money");
}
