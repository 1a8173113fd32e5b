/*
 * test_idmap.c - the id -> pointer map against a plain array model.
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "idmap.h"

int main(void) {
  enum { N = 20000 };
  static char present[N + 1];
  idmap_t m = {0};
  CHECK(idmap_get(&m, 5) == NULL);
  CHECK(idmap_del(&m, 5) == NULL);

  /* Pseudo-random inserts and deletes, checked against the model. */
  uint64_t x = 88172645463325252ull;
  for (int round = 0; round < 200000; round++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint64_t k = 1 + x % N;
    if (x & 0x100000) {
      idmap_put(&m, k, (void *)(uintptr_t)(k * 3));
      present[k] = 1;
    } else {
      void *v = idmap_del(&m, k);
      CHECK(present[k] ? v == (void *)(uintptr_t)(k * 3) : v == NULL);
      present[k] = 0;
    }
  }
  size_t count = 0;
  for (uint64_t k = 1; k <= N; k++) {
    void *v = idmap_get(&m, k);
    if (present[k]) {
      count++;
      if (v != (void *)(uintptr_t)(k * 3))
        CHECK(!"value mismatch");
    } else if (v != NULL) {
      CHECK(!"absent key found");
    }
  }
  CHECK_INT(m.len, count);

  size_t seen = 0;
  uint64_t key;
  void *val;
  for (size_t pos = 0; idmap_next(&m, &pos, &key, &val);) {
    seen++;
    CHECK(present[key]);
  }
  CHECK_INT(seen, count);

  /* Replacing keeps one entry. */
  idmap_put(&m, 7, (void *)1);
  idmap_put(&m, 7, (void *)2);
  CHECK(idmap_get(&m, 7) == (void *)2);
  idmap_free(&m);
  CHECK_INT(m.len, 0);
  return check_report("idmap");
}
