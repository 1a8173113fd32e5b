/*
 * frames.h - frame range specifications and chunking.
 *
 * A specification is a comma-separated list of items, each "N", "A-B" or
 * "A-BxS" (every S-th frame from A to B inclusive), e.g. "1001-1096",
 * "1-100x2", "1,5,10-20".  Frames are integers in [0, FRAMES_MAX].  Items may
 * not overlap (a frame listed twice is an error) and A <= B, S >= 1.
 *
 * Chunking splits the frames, in ascending order, into tasks of at most
 * `chunk` frames.  A chunk never spans two items, and within an item it is
 * an arithmetic run, so a task is fully described by start, end and step.
 */
#ifndef CLAPPER_FRAMES_H
#define CLAPPER_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define FRAMES_MAX 999999999LL

typedef struct frame_item {
  int64_t start, end, step; /* end is the last frame actually included */
} frame_item_t;

typedef struct frame_set {
  frame_item_t *items; /* sorted by start; caller releases with frames_free */
  size_t nitems;
  uint64_t nframes;    /* total number of frames */
} frame_set_t;

typedef struct frame_chunk {
  int64_t start, end, step;
} frame_chunk_t;

/* Parses spec into out.  Returns 0, or -1 with a one-line reason in err
 * (e.g. "'1-x' is not a frame range (expected e.g. 1-100, 1-100x2, 1,5,10-20)",
 * "frame 5 is listed twice", "range 10-1 is reversed").  An item "A-BxS"
 * whose B is not on the step is normalised so that end is the last frame
 * included. */
int frames_parse(const char *spec, frame_set_t *out, char *err, size_t errlen) MUSTCHECK;

/* Number of chunks of at most `chunk` (>= 1) frames. */
uint64_t frames_chunk_count(const frame_set_t *fs, uint64_t chunk);

/* Writes the chunks into out, which must hold frames_chunk_count() entries.
 * Returns the number written. */
size_t frames_chunks(const frame_set_t *fs, uint64_t chunk, frame_chunk_t *out);

void frames_free(frame_set_t *fs);

#endif
