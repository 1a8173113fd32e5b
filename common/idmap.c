/*
 * idmap.c - open-addressing id -> pointer map, see idmap.h.
 */
#include "idmap.h"

#include <stdlib.h>

#include "util.h"

static size_t slot_of(uint64_t key, size_t cap) {
  /* Fibonacci hashing spreads sequential ids over the table. */
  return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static void grow(idmap_t *m) {
  size_t ncap = m->cap ? m->cap * 2 : 64;
  idmap_slot_t *old = m->slots;
  size_t ocap = m->cap;
  m->slots = xcalloc(ncap, sizeof *m->slots);
  m->cap = ncap;
  m->len = 0;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key)
      idmap_put(m, old[i].key, old[i].val);
  free(old);
}

void idmap_put(idmap_t *m, uint64_t key, void *val) {
  if ((m->len + 1) * 10 > m->cap * 7)
    grow(m);
  size_t i = slot_of(key, m->cap);
  while (m->slots[i].key && m->slots[i].key != key)
    i = (i + 1) & (m->cap - 1);
  if (!m->slots[i].key) {
    m->slots[i].key = key;
    m->len++;
  }
  m->slots[i].val = val;
}

void *idmap_get(const idmap_t *m, uint64_t key) {
  if (!m->cap || !key)
    return NULL;
  size_t i = slot_of(key, m->cap);
  while (m->slots[i].key) {
    if (m->slots[i].key == key)
      return m->slots[i].val;
    i = (i + 1) & (m->cap - 1);
  }
  return NULL;
}

void *idmap_del(idmap_t *m, uint64_t key) {
  if (!m->cap || !key)
    return NULL;
  size_t mask = m->cap - 1, i = slot_of(key, m->cap);
  while (m->slots[i].key && m->slots[i].key != key)
    i = (i + 1) & mask;
  if (!m->slots[i].key)
    return NULL;
  void *val = m->slots[i].val;
  /* Backward-shift: move later members of the probe run into the hole. */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
    size_t home = slot_of(m->slots[j].key, m->cap);
    /* j may move to hole when its home is not in (hole, j], cyclically. */
    int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!in_range) {
      m->slots[hole] = m->slots[j];
      hole = j;
    }
  }
  m->slots[hole].key = 0;
  m->slots[hole].val = NULL;
  m->len--;
  return val;
}

void idmap_free(idmap_t *m) {
  free(m->slots);
  m->slots = NULL;
  m->cap = m->len = 0;
}

int idmap_next(const idmap_t *m, size_t *pos, uint64_t *key, void **val) {
  for (size_t i = *pos; i < m->cap; i++) {
    if (m->slots[i].key) {
      *key = m->slots[i].key;
      *val = m->slots[i].val;
      *pos = i + 1;
      return 1;
    }
  }
  *pos = m->cap;
  return 0;
}
