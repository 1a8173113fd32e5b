/*
 * heap.c - indexed binary min-heap, see heap.h.
 */
#include "heap.h"

#include <stdlib.h>

#include "util.h"

void heap_init(heap_t *h, heap_less_fn less, heap_pos_fn pos) {
  h->items = NULL;
  h->len = h->cap = 0;
  h->less = less;
  h->pos = pos;
}

static void place(heap_t *h, size_t i, void *e) {
  h->items[i] = e;
  *h->pos(e) = i;
}

static void sift_up(heap_t *h, size_t i) {
  void *e = h->items[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!h->less(e, h->items[parent]))
      break;
    place(h, i, h->items[parent]);
    i = parent;
  }
  place(h, i, e);
}

static void sift_down(heap_t *h, size_t i) {
  void *e = h->items[i];
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    void *best = e;
    if (l < h->len && h->less(h->items[l], best)) {
      m = l;
      best = h->items[l];
    }
    if (r < h->len && h->less(h->items[r], best))
      m = r;
    if (m == i)
      break;
    place(h, i, h->items[m]);
    i = m;
  }
  place(h, i, e);
}

void heap_push(heap_t *h, void *e) {
  ARRAY_RESERVE(h->items, h->len, h->cap, 1);
  place(h, h->len++, e);
  sift_up(h, h->len - 1);
}

void *heap_top(const heap_t *h) { return h->len ? h->items[0] : NULL; }

void heap_remove(heap_t *h, void *e) {
  size_t i = *h->pos(e);
  if (i == HEAP_NONE || i >= h->len || h->items[i] != e)
    return;
  *h->pos(e) = HEAP_NONE;
  void *last = h->items[--h->len];
  if (i == h->len)
    return;
  place(h, i, last);
  sift_down(h, i);
  sift_up(h, *h->pos(last));
}

void *heap_pop(heap_t *h) {
  void *e = heap_top(h);
  if (e)
    heap_remove(h, e);
  return e;
}

void heap_update(heap_t *h, void *e) {
  size_t i = *h->pos(e);
  if (i == HEAP_NONE || i >= h->len)
    return;
  sift_down(h, i);
  sift_up(h, *h->pos(e));
}

void heap_free(heap_t *h) {
  for (size_t i = 0; i < h->len; i++)
    *h->pos(h->items[i]) = HEAP_NONE;
  free(h->items);
  h->items = NULL;
  h->len = h->cap = 0;
}
