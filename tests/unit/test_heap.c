/*
 * test_heap.c - the indexed heap yields elements in order, also after
 * removals and key updates in the middle.
 */
#include <stdlib.h>

#include "check.h"
#include "heap.h"

typedef struct item {
  int key;
  size_t pos;
} item_t;

static bool less(const void *a, const void *b) {
  return ((const item_t *)a)->key < ((const item_t *)b)->key;
}
static size_t *pos(void *e) { return &((item_t *)e)->pos; }

int main(void) {
  enum { N = 5000 };
  static item_t items[N];
  heap_t h;
  heap_init(&h, less, pos);
  CHECK(heap_pop(&h) == NULL);
  unsigned x = 12345;
  for (int i = 0; i < N; i++) {
    x = x * 1103515245u + 12345u;
    items[i].key = (int)(x >> 8) % 100000;
    items[i].pos = HEAP_NONE;
    heap_push(&h, &items[i]);
  }
  /* Remove every third element, re-key every fifth. */
  for (int i = 0; i < N; i += 3)
    heap_remove(&h, &items[i]);
  for (int i = 0; i < N; i += 3)
    CHECK(items[i].pos == HEAP_NONE);
  for (int i = 1; i < N; i += 5) {
    if (items[i].pos == HEAP_NONE)
      continue;
    items[i].key = (i * 7919) % 100000;
    heap_update(&h, &items[i]);
  }
  int last = -1, n = 0;
  item_t *e;
  while ((e = heap_pop(&h)) != NULL) {
    if (e->key < last)
      CHECK(!"out of order");
    last = e->key;
    n++;
  }
  CHECK_INT(n, N - (N + 2) / 3);
  heap_free(&h);
  return check_report("heap");
}
