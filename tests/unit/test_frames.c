/*
 * test_frames.c - frame range parsing, normalisation, overlap detection and
 * chunking (common/frames.c).
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "frames.h"

#define EXPECTED " is not a frame range (expected e.g. 1-100, 1-100x2, 1,5,10-20)"

static char err[512];

/* Parses spec, which must fail with exactly msg (or a message starting with
 * msg when prefix is set); out must come back empty. */
static void bad(int line, const char *spec, const char *msg, int prefix) {
  frame_set_t fs = {.items = (frame_item_t *)&fs, .nitems = 99};
  err[0] = '\0';
  int rc = frames_parse(spec, &fs, err, sizeof err);
  check_count++;
  int ok = rc == -1 && fs.items == NULL && fs.nitems == 0 && fs.nframes == 0 &&
           (prefix ? strncmp(err, msg, strlen(msg)) == 0 : strcmp(err, msg) == 0) &&
           strchr(err, '\n') == NULL;
  if (!ok) {
    check_failures++;
    fprintf(stderr, "%s:%d: frames_parse(\"%s\") = %d, \"%s\"; expected \"%s\"\n", __FILE__, line,
            spec ? spec : "(null)", rc, err, msg);
  }
  if (rc == 0)
    frames_free(&fs);
}
#define BAD(spec, msg) bad(__LINE__, spec, msg, 0)
#define BAD_PREFIX(spec, msg) bad(__LINE__, spec, msg, 1)

static void test_single_range(void) {
  frame_set_t fs;
  CHECK_INT(frames_parse("1001-1096", &fs, err, sizeof err), 0);
  CHECK_INT(fs.nitems, 1);
  CHECK_INT(fs.items[0].start, 1001);
  CHECK_INT(fs.items[0].end, 1096);
  CHECK_INT(fs.items[0].step, 1);
  CHECK_INT(fs.nframes, 96);
  CHECK_INT(frames_chunk_count(&fs, 8), 12);
  CHECK_INT(frames_chunk_count(&fs, 1), 96);
  CHECK_INT(frames_chunk_count(&fs, 96), 1);
  CHECK_INT(frames_chunk_count(&fs, 95), 2);
  CHECK_INT(frames_chunk_count(&fs, 1000), 1);
  frame_chunk_t ch[12];
  CHECK_INT(frames_chunks(&fs, 8, ch), 12);
  CHECK_INT(ch[0].start, 1001);
  CHECK_INT(ch[0].end, 1008);
  CHECK_INT(ch[0].step, 1);
  CHECK_INT(ch[1].start, 1009);
  CHECK_INT(ch[11].start, 1089);
  CHECK_INT(ch[11].end, 1096);
  /* A partial last chunk. */
  CHECK_INT(frames_chunk_count(&fs, 10), 10);
  CHECK_INT(frames_chunks(&fs, 10, ch), 10);
  CHECK_INT(ch[9].start, 1091);
  CHECK_INT(ch[9].end, 1096);
  frames_free(&fs);
  CHECK(fs.items == NULL);
  CHECK_INT(fs.nitems, 0);
  frames_free(&fs); /* twice is harmless */
}

static void test_single_frame_and_zero(void) {
  frame_set_t fs;
  CHECK_INT(frames_parse("0", &fs, err, sizeof err), 0);
  CHECK_INT(fs.nitems, 1);
  CHECK_INT(fs.items[0].start, 0);
  CHECK_INT(fs.items[0].end, 0);
  CHECK_INT(fs.nframes, 1);
  frame_chunk_t ch[1];
  CHECK_INT(frames_chunks(&fs, 5, ch), 1);
  CHECK_INT(ch[0].start, 0);
  CHECK_INT(ch[0].end, 0);
  CHECK_INT(ch[0].step, 1);
  frames_free(&fs);

  CHECK_INT(frames_parse("7-7", &fs, err, sizeof err), 0);
  CHECK_INT(fs.nframes, 1);
  frames_free(&fs);

  CHECK_INT(frames_parse("999999999", &fs, err, sizeof err), 0);
  CHECK_INT(fs.items[0].start, FRAMES_MAX);
  frames_free(&fs);

  /* Leading zeros are plain decimal. */
  CHECK_INT(frames_parse("0010-0012", &fs, err, sizeof err), 0);
  CHECK_INT(fs.items[0].start, 10);
  CHECK_INT(fs.items[0].end, 12);
  frames_free(&fs);
}

static void test_steps(void) {
  frame_set_t fs;
  /* 100 is not on the step from 1: end becomes 99. */
  CHECK_INT(frames_parse("1-100x2", &fs, err, sizeof err), 0);
  CHECK_INT(fs.items[0].start, 1);
  CHECK_INT(fs.items[0].end, 99);
  CHECK_INT(fs.items[0].step, 2);
  CHECK_INT(fs.nframes, 50);
  CHECK_INT(frames_chunk_count(&fs, 10), 5);
  frame_chunk_t ch[50];
  CHECK_INT(frames_chunks(&fs, 10, ch), 5);
  CHECK_INT(ch[0].start, 1);
  CHECK_INT(ch[0].end, 19);
  CHECK_INT(ch[0].step, 2);
  CHECK_INT(ch[1].start, 21);
  CHECK_INT(ch[1].end, 39);
  CHECK_INT(ch[4].start, 81);
  CHECK_INT(ch[4].end, 99);
  CHECK_INT(ch[4].step, 2);
  /* Chunk 3 over 50 frames: 16 full chunks and one of 2. */
  CHECK_INT(frames_chunk_count(&fs, 3), 17);
  CHECK_INT(frames_chunks(&fs, 3, ch), 17);
  CHECK_INT(ch[16].start, 97);
  CHECK_INT(ch[16].end, 99);
  frames_free(&fs);

  CHECK_INT(frames_parse("1-10x3", &fs, err, sizeof err), 0);
  CHECK_INT(fs.items[0].end, 10);
  CHECK_INT(fs.nframes, 4);
  frames_free(&fs);
  CHECK_INT(frames_parse("1-12x3", &fs, err, sizeof err), 0);
  CHECK_INT(fs.items[0].end, 10);
  CHECK_INT(fs.nframes, 4);
  frames_free(&fs);

  /* A step larger than the range keeps only the first frame. */
  CHECK_INT(frames_parse("5-9x10", &fs, err, sizeof err), 0);
  CHECK_INT(fs.items[0].start, 5);
  CHECK_INT(fs.items[0].end, 5);
  CHECK_INT(fs.nframes, 1);
  frames_free(&fs);
}

static void test_lists(void) {
  frame_set_t fs;
  CHECK_INT(frames_parse("1,5,10-20", &fs, err, sizeof err), 0);
  CHECK_INT(fs.nitems, 3);
  CHECK_INT(fs.nframes, 13);
  CHECK_INT(frames_chunk_count(&fs, 4), 5);
  frame_chunk_t ch[13];
  /* A chunk never spans two items. */
  CHECK_INT(frames_chunks(&fs, 4, ch), 5);
  CHECK_INT(ch[0].start, 1);
  CHECK_INT(ch[0].end, 1);
  CHECK_INT(ch[1].start, 5);
  CHECK_INT(ch[1].end, 5);
  CHECK_INT(ch[2].start, 10);
  CHECK_INT(ch[2].end, 13);
  CHECK_INT(ch[3].start, 14);
  CHECK_INT(ch[3].end, 17);
  CHECK_INT(ch[4].start, 18);
  CHECK_INT(ch[4].end, 20);
  frames_free(&fs);

  /* Items come back sorted; spaces around items are allowed. */
  CHECK_INT(frames_parse(" 30-40x5 , 1 ,10-12", &fs, err, sizeof err), 0);
  CHECK_INT(fs.nitems, 3);
  CHECK_INT(fs.items[0].start, 1);
  CHECK_INT(fs.items[1].start, 10);
  CHECK_INT(fs.items[1].end, 12);
  CHECK_INT(fs.items[2].start, 30);
  CHECK_INT(fs.items[2].end, 40);
  CHECK_INT(fs.items[2].step, 5);
  CHECK_INT(fs.nframes, 1 + 3 + 3);
  CHECK_INT(frames_chunks(&fs, 2, ch), 1 + 2 + 2);
  CHECK_INT(ch[3].start, 30);
  CHECK_INT(ch[3].end, 35);
  CHECK_INT(ch[3].step, 5);
  CHECK_INT(ch[4].start, 40);
  CHECK_INT(ch[4].end, 40);
  frames_free(&fs);

  /* Adjacent ranges and interleaving steps far apart are fine. */
  CHECK_INT(frames_parse("1-10,11-20", &fs, err, sizeof err), 0);
  CHECK_INT(fs.nframes, 20);
  frames_free(&fs);
}

static void test_huge(void) {
  frame_set_t fs;
  CHECK_INT(frames_parse("0-999999999", &fs, err, sizeof err), 0);
  CHECK_INT(fs.nframes, 1000000000LL);
  CHECK_INT(frames_chunk_count(&fs, 1), 1000000000LL);
  CHECK_INT(frames_chunk_count(&fs, 7), 142857143LL);
  CHECK(frames_chunk_count(&fs, UINT64_MAX) == 1);
  CHECK(frames_chunk_count(&fs, (uint64_t)1 << 63) == 1);
  frame_chunk_t ch[2];
  CHECK_INT(frames_chunks(&fs, UINT64_MAX, ch), 1);
  CHECK_INT(ch[0].start, 0);
  CHECK_INT(ch[0].end, 999999999);
  CHECK_INT(frames_chunks(&fs, 600000000, ch), 2);
  CHECK_INT(ch[1].start, 600000000);
  CHECK_INT(ch[1].end, 999999999);
  frames_free(&fs);

  CHECK_INT(frames_parse("0-999999999x999999999", &fs, err, sizeof err), 0);
  CHECK_INT(fs.nframes, 2);
  CHECK_INT(frames_chunks(&fs, UINT64_MAX, ch), 1);
  CHECK_INT(ch[0].end, 999999999);
  CHECK_INT(ch[0].step, 999999999);
  frames_free(&fs);

  /* Many items. */
  sbuf_t sb = {0};
  for (int i = 0; i < 20000; i++)
    sbuf_printf(&sb, "%s%d", i ? "," : "", (19999 - i) * 3);
  CHECK_INT(frames_parse(sb.buf, &fs, err, sizeof err), 0);
  CHECK_INT(fs.nitems, 20000);
  CHECK_INT(fs.items[0].start, 0);
  CHECK_INT(fs.items[19999].start, 59997);
  CHECK_INT(frames_chunk_count(&fs, 100), 20000);
  frames_free(&fs);
  sbuf_free(&sb);
}

static void test_syntax_errors(void) {
  BAD("1-x", "'1-x'" EXPECTED);
  BAD("x", "'x'" EXPECTED);
  BAD("+1", "'+1'" EXPECTED);
  BAD("-1", "'-1'" EXPECTED);
  BAD("1-", "'1-'" EXPECTED);
  BAD("1-10x", "'1-10x'" EXPECTED);
  BAD("1x2", "'1x2'" EXPECTED);
  BAD("1-5-7", "'1-5-7'" EXPECTED);
  BAD("1 - 5", "'1 - 5'" EXPECTED);
  BAD("1-5X2", "'1-5X2'" EXPECTED);
  BAD("1.5", "'1.5'" EXPECTED);
  BAD("1;2", "'1;2'" EXPECTED);
  BAD("1,2x", "'2x'" EXPECTED);
  BAD("", "the frame range is empty (expected e.g. 1-100, 1-100x2, 1,5,10-20)");
  BAD("   ", "the frame range is empty (expected e.g. 1-100, 1-100x2, 1,5,10-20)");
  BAD("1,,2", "'1,,2' has an empty item (expected e.g. 1-100, 1-100x2, 1,5,10-20)");
  BAD("1,", "'1,' has an empty item (expected e.g. 1-100, 1-100x2, 1,5,10-20)");
  BAD(",1", "',1' has an empty item (expected e.g. 1-100, 1-100x2, 1,5,10-20)");
  BAD("1, ,2", "'1, ,2' has an empty item (expected e.g. 1-100, 1-100x2, 1,5,10-20)");
  BAD(",", "',' has an empty item (expected e.g. 1-100, 1-100x2, 1,5,10-20)");
  BAD_PREFIX(NULL, "no frame range given");
  /* A newline in the spec must not break the one-line message. */
  BAD("1\n2", "'1 2'" EXPECTED);
  /* Long items are quoted cut short. */
  char longspec[200];
  memset(longspec, 'a', sizeof longspec - 1);
  longspec[sizeof longspec - 1] = '\0';
  frame_set_t fs;
  CHECK_INT(frames_parse(longspec, &fs, err, sizeof err), -1);
  CHECK(strlen(err) < 150);
  CHECK_CONTAINS(err, "...'");
}

static void test_value_errors(void) {
  BAD("10-1", "range 10-1 is reversed");
  BAD("1,10-9", "range 10-9 is reversed");
  BAD("1-10x0", "step in '1-10x0' must be at least 1");
  BAD("1000000000", "frame 1000000000 is larger than 999999999");
  BAD("1-1000000000", "frame 1000000000 is larger than 999999999");
  BAD("99999999999999999999999", "frame 99999999999999999999999 is larger than 999999999");
  BAD("1-10x1000000000", "step 1000000000 in '1-10x1000000000' is larger than 999999999");
}

static void test_overlaps(void) {
  BAD("5,5", "frame 5 is listed twice");
  BAD("1-10,5", "frame 5 is listed twice");
  BAD("5,1-10", "frame 5 is listed twice");
  BAD("1-10,10-20", "frame 10 is listed twice");
  BAD("20-30,1-10,5-6", "frame 5 is listed twice");
  BAD("1-100x3,50-60x5", "frame 55 is listed twice");
  BAD("0-999999999x999999999,999999999", "frame 999999999 is listed twice");
  /* Interleaved runs share no frame but their spans overlap. */
  BAD("1-10x2,2-10x2", "ranges 1-9x2 and 2-10x2 overlap");
  BAD("1-9x4,3-7x4", "ranges 1-9x4 and 3-7x4 overlap");
  BAD("1-20x10,5", "ranges 1-11x10 and 5 overlap");
  /* Large coprime steps whose only common frame is 500000000. */
  char spec[96];
  snprintf(spec, sizeof spec, "%d-999999999x99991,%d-999999999x99989", 500000000 % 99991,
           500000000 % 99989);
  BAD(spec, "frame 500000000 is listed twice");
  /* Same steps, spans overlap, and no common frame within them. */
  BAD("1-999999999x99991,2-999999999x99989",
      "ranges 1-999910001x99991 and 2-999989991x99989 overlap");
}

int main(void) {
  test_single_range();
  test_single_frame_and_zero();
  test_steps();
  test_lists();
  test_huge();
  test_syntax_errors();
  test_value_errors();
  test_overlaps();
  return check_report("frames");
}
