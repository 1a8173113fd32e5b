/*
 * idmap.h - a hash map from 64-bit ids to pointers.
 *
 * Open addressing with linear probing and backward-shift deletion; the
 * table doubles when 70% full.  Keys must be non-zero (0 marks an empty
 * slot; clapper ids start at 1).  Values are borrowed: the map never frees
 * them.
 */
#ifndef CLAPPER_IDMAP_H
#define CLAPPER_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct idmap_slot {
  uint64_t key;
  void *val;
} idmap_slot_t;

typedef struct idmap {
  idmap_slot_t *slots;
  size_t cap; /* a power of two, or 0 before the first insert */
  size_t len;
} idmap_t;

/* Inserts or replaces key -> val (key != 0). */
void idmap_put(idmap_t *m, uint64_t key, void *val);
/* Returns the value for key, or NULL. */
void *idmap_get(const idmap_t *m, uint64_t key);
/* Removes key; returns its value, or NULL when it was absent. */
void *idmap_del(idmap_t *m, uint64_t key);
/* Releases the table (not the values) and empties the map. */
void idmap_free(idmap_t *m);

/* Iteration: for (size_t i = 0; idmap_next(m, &i, &key, &val);) ...
 * The map must not change during iteration. */
int idmap_next(const idmap_t *m, size_t *pos, uint64_t *key, void **val);

#endif
