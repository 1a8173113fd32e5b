/*
 * test_input.c - the edge checks: UTF-8 at its boundaries (overlong forms,
 * surrogates, U+10FFFF, truncated sequences, NUL), control characters in
 * one-line and multi-line text, length caps exactly at and one past the
 * cap, times at the ends of their range, every text field of a client
 * request, and the cleaning of what a worker reports.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "input.h"

static bool utf8(const char *s) { return input_utf8(s, strlen(s), NULL); }

static void test_utf8(void) {
  CHECK(utf8(""));
  CHECK(utf8("plain ascii"));
  CHECK(utf8("caf\xc3\xa9"));      /* U+00E9 */
  CHECK(utf8("\xe2\x82\xac"));     /* U+20AC */
  CHECK(utf8("\xf0\x9f\x8e\xac")); /* U+1F3AC */
  CHECK(utf8("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
  CHECK(utf8("\xed\x9f\xbf"));     /* U+D7FF, just below the surrogates */
  CHECK(utf8("\xee\x80\x80"));     /* U+E000, just above */
  CHECK(!utf8("\xff"));
  CHECK(!utf8("H\xff"
              "100"));
  CHECK(!utf8("\x80"));             /* a lone continuation byte */
  CHECK(!utf8("\xc0\xaf"));         /* overlong '/' */
  CHECK(!utf8("\xc1\xbf"));         /* overlong */
  CHECK(!utf8("\xe0\x9f\xbf"));     /* overlong 3-byte */
  CHECK(!utf8("\xf0\x8f\xbf\xbf")); /* overlong 4-byte */
  CHECK(!utf8("\xed\xa0\x80"));     /* U+D800, a surrogate */
  CHECK(!utf8("\xed\xbf\xbf"));     /* U+DFFF */
  CHECK(!utf8("\xf4\x90\x80\x80")); /* U+110000 */
  CHECK(!utf8("\xf5\x80\x80\x80"));
  CHECK(!utf8("\xc3")); /* truncated */
  CHECK(!utf8("\xe2\x82"));
  CHECK(!utf8("\xe2\x82x"));
  size_t bad = 99;
  CHECK(!input_utf8("ab\xc3\xa9\xff", 5, &bad));
  CHECK_INT(bad, 4);
  CHECK(!input_utf8("ab\0c", 4, &bad)); /* NUL */
  CHECK_INT(bad, 2);
}

static void test_text(void) {
  char err[256];
  CHECK_INT(input_text("note", NULL, 10, INPUT_MULTI_LINE, err, sizeof err), 0);
  CHECK_INT(input_text("note", "line one\nline\ttwo\r", 100, INPUT_MULTI_LINE, err, sizeof err), 0);
  CHECK_INT(input_text("name", "line one\nline two", 100, INPUT_ONE_LINE, err, sizeof err), -1);
  CHECK_STR(err, "name: holds a control character (0x0a at byte 8)");
  CHECK_INT(input_text("note", "bell\x07", 100, INPUT_MULTI_LINE, err, sizeof err), -1);
  CHECK_STR(err, "note: holds a control character (0x07 at byte 4)");
  CHECK_INT(input_text("note", "del\x7f", 100, INPUT_MULTI_LINE, err, sizeof err), -1);
  CHECK_INT(input_text("note", "\xff", 100, INPUT_MULTI_LINE, err, sizeof err), -1);
  CHECK_STR(err, "note: not valid UTF-8 (byte 0xff at byte 0)");
  CHECK_INT(input_text("name",
                       "H\xff"
                       "100",
                       256, INPUT_ONE_LINE, err, sizeof err),
            -1);
  CHECK_STR(err, "name: not valid UTF-8 (byte 0xff at byte 1)");
  CHECK_INT(input_bytes("key", "a\0b", 3, 10, INPUT_ONE_LINE, err, sizeof err), -1);
  CHECK_STR(err, "key: holds a NUL byte (at byte 1)");

  /* Caps: exactly at the cap passes, one byte more does not. */
  char *big = xmalloc(INPUT_NOTE_MAX + 2);
  memset(big, 'x', INPUT_NOTE_MAX + 1);
  big[INPUT_NOTE_MAX] = '\0';
  CHECK_INT(input_text("note", big, INPUT_NOTE_MAX, INPUT_MULTI_LINE, err, sizeof err), 0);
  big[INPUT_NOTE_MAX] = 'x';
  big[INPUT_NOTE_MAX + 1] = '\0';
  CHECK_INT(input_text("note", big, INPUT_NOTE_MAX, INPUT_MULTI_LINE, err, sizeof err), -1);
  CHECK_STR(err, "note: 4097 bytes, more than 4096");
  free(big);
  /* A cap counts bytes, not characters: 128 two-byte characters are 256. */
  char two[2 * 129 + 1] = "";
  for (int i = 0; i < 128; i++)
    strcat(two, "\xc3\xa9");
  CHECK_INT(input_text("name", two, INPUT_NAME_MAX, INPUT_ONE_LINE, err, sizeof err), 0);
  strcat(two, "\xc3\xa9");
  CHECK_INT(input_text("name", two, INPUT_NAME_MAX, INPUT_ONE_LINE, err, sizeof err), -1);
  CHECK_STR(err, "name: 258 bytes, more than 256");
}

static void test_time(void) {
  char err[256];
  CHECK_INT(input_time("at_us", 0, true, err, sizeof err), 0);
  CHECK_INT(input_time("at_us", 0, false, err, sizeof err), 0); /* 1970-01-01 is a time */
  CHECK_INT(input_time("at_us", -1, true, err, sizeof err), -1);
  CHECK_STR(err, "at_us: -1 is not a time between 1970-01-01 and 9999-12-31 (unix microseconds)");
  CHECK_INT(input_time("t", INPUT_TIME_MAX_US, false, err, sizeof err), 0);
  CHECK_INT(input_time("t", INPUT_TIME_MAX_US + 1, false, err, sizeof err), -1);
  CHECK_INT(input_time("t", INT64_MAX, false, err, sizeof err), -1);
  CHECK_STR(err, "t: 9223372036854775807 is not a time between 1970-01-01 and 9999-12-31 "
                 "(unix microseconds)");
  CHECK_INT(input_time("t", INT64_MIN, false, err, sizeof err), -1);
  CHECK_INT(input_time("t", 1700000000000000, false, err, sizeof err), 0);
  CHECK_INT(input_clamp(5, 1, 3), 3);
  CHECK_INT(input_clamp(-5, 1, 3), 1);
  CHECK_INT(input_clamp(2, 1, 3), 2);
}

static void test_request(void) {
  char err[256];
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  CHECK_INT(input_request(&req, err, sizeof err), 0);
  uint64_t ids[2] = {1, (uint64_t)INT64_MAX};
  req.ids = ids;
  req.n_ids = 2;
  req.note = "fine\nnote";
  req.name = "NVIDIA H100 80GB HBM3";
  req.at_us = 1700000000000000;
  req.offset = (uint64_t)INT64_MAX;
  CHECK_INT(input_request(&req, err, sizeof err), 0);

  /* Every text field refuses invalid UTF-8 and over-long text, by name. */
  char **fields[] = {&req.note, &req.name,  &req.amount,     &req.kind,       &req.by,
                     &req.shot, &req.state, &req.public_key, &req.after_name, &req.idempotency_key};
  const char *names[] = {"note", "name",  "amount",     "kind",       "by",
                         "shot", "state", "public_key", "after_name", "idempotency_key"};
  char *big = xmalloc(INPUT_NOTE_MAX + 2);
  memset(big, 'a', INPUT_NOTE_MAX + 1);
  big[INPUT_NOTE_MAX + 1] = '\0';
  for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
    char *saved = *fields[i];
    char want[128];
    *fields[i] = "ok\xff";
    CHECK_INT(input_request(&req, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: not valid UTF-8 (byte 0xff at byte 2)", names[i]);
    CHECK_STR(err, want);
    *fields[i] = big;
    CHECK_INT(input_request(&req, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: 4097 bytes, more than %u", names[i],
             i == 0                                 ? INPUT_NOTE_MAX
             : !strcmp(names[i], "idempotency_key") ? INPUT_IDEMPOTENCY_KEY_MAX
                                                    : INPUT_NAME_MAX);
    CHECK_STR(err, want);
    *fields[i] = saved;
  }
  free(big);
  CHECK_INT(input_request(&req, err, sizeof err), 0);
  /* An idempotency key: one line, at most 128 bytes. */
  char key[INPUT_IDEMPOTENCY_KEY_MAX + 2];
  memset(key, 'k', sizeof key - 1);
  key[INPUT_IDEMPOTENCY_KEY_MAX] = '\0';
  req.idempotency_key = key;
  CHECK_INT(input_request(&req, err, sizeof err), 0);
  key[INPUT_IDEMPOTENCY_KEY_MAX] = 'k';
  key[INPUT_IDEMPOTENCY_KEY_MAX + 1] = '\0';
  CHECK_INT(input_request(&req, err, sizeof err), -1);
  CHECK_STR(err, "idempotency_key: 129 bytes, more than 128");
  req.idempotency_key = "a\nb";
  CHECK_INT(input_request(&req, err, sizeof err), -1);
  CHECK_STR(err, "idempotency_key: holds a control character (0x0a at byte 1)");
  req.idempotency_key = "r\xc3\xa9"
                        "essai-7";
  CHECK_INT(input_request(&req, err, sizeof err), 0);
  req.idempotency_key = NULL;

  req.at_us = INT64_MAX;
  CHECK_INT(input_request(&req, err, sizeof err), -1);
  CHECK_CONTAINS(err, "at_us: 9223372036854775807 is not a time");
  req.at_us = 0;
  ids[1] = (uint64_t)INT64_MAX + 1;
  CHECK_INT(input_request(&req, err, sizeof err), -1);
  CHECK_STR(err, "ids[1]: 9223372036854775808 is more than 9223372036854775807");
  ids[1] = 2;
  req.offset = UINT64_MAX;
  CHECK_INT(input_request(&req, err, sizeof err), -1);
  CHECK_CONTAINS(err, "offset: 18446744073709551615 is more than");
  req.offset = 0;
  req.after = (uint64_t)INT64_MAX + 1;
  CHECK_INT(input_request(&req, err, sizeof err), -1);
  CHECK_STR(err, "after: 9223372036854775808 is more than 9223372036854775807");
  req.after = (uint64_t)INT64_MAX;
  CHECK_INT(input_request(&req, err, sizeof err), 0);
}

static void test_clean(void) {
  char *s = input_clean(NULL, 10);
  CHECK_STR(s, "");
  free(s);
  s = input_clean("ok caf\xc3\xa9", 100);
  CHECK_STR(s, "ok caf\xc3\xa9");
  free(s);
  s = input_clean("a\xff"
                  "b\nc\x7f",
                  100);
  CHECK_STR(s, "a?b?c?");
  free(s);
  s = input_clean("abcdef", 3);
  CHECK_STR(s, "abc");
  free(s);
  /* A character cut by the cap does not leave half a sequence. */
  s = input_clean("ab\xc3\xa9", 3);
  CHECK_STR(s, "ab?");
  CHECK(input_utf8(s, strlen(s), NULL));
  free(s);
}

int main(void) {
  test_utf8();
  test_text();
  test_time();
  test_request();
  test_clean();
  return check_report("input");
}
