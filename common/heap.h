/*
 * heap.h - a binary min-heap of pointers with O(log n) removal.
 *
 * The owner supplies a "less" function and an index slot inside each
 * element (heap_pos), which the heap keeps up to date so that an element
 * can be removed or re-positioned without a search.  HEAP_NONE marks an
 * element that is not in the heap.
 */
#ifndef CLAPPER_HEAP_H
#define CLAPPER_HEAP_H

#include <stdbool.h>
#include <stddef.h>

#define HEAP_NONE ((size_t)-1)

typedef bool (*heap_less_fn)(const void *a, const void *b);
/* Returns the address of the element's position slot. */
typedef size_t *(*heap_pos_fn)(void *elem);

typedef struct heap {
  void **items;
  size_t len, cap;
  heap_less_fn less;
  heap_pos_fn pos;
} heap_t;

void heap_init(heap_t *h, heap_less_fn less, heap_pos_fn pos);
/* Adds elem (which must not be in a heap). */
void heap_push(heap_t *h, void *elem);
/* The least element, or NULL when empty. */
void *heap_top(const heap_t *h);
/* Removes and returns the least element, or NULL. */
void *heap_pop(heap_t *h);
/* Removes elem if it is in the heap. */
void heap_remove(heap_t *h, void *elem);
/* Restores order after elem's key changed. */
void heap_update(heap_t *h, void *elem);
void heap_free(heap_t *h);

#endif
