/*
 * test_evchain.c - the event log's chain hash and the audit key file.
 *
 * Canonical JSON: key order, spacing and escapes do not matter, and the
 * text PostgreSQL prints for a jsonb column canonicalises like the text
 * the coordinator sent; what does not parse is kept.  The hash: the same
 * event hashes alike; every field, the position, the previous hash and the
 * key change it; keyed and plain differ; field boundaries count ("ab","c"
 * is not "a","bc").  A known plain SHA-256 of the legacy formula (the
 * value PostgreSQL's clapper_event_hash gives, worked out with sha256sum).
 * The key file: made with mode 0600 and the position given, loaded back
 * equal, refused when readable by others or damaged.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "evchain.h"

static void test_canon(void) {
  char *a = evchain_canon_json("{\"b\": [1, \"x\"], \"a\": {\"z\": 1, \"y\": \"\\u00e9\"}}");
  char *b = evchain_canon_json("{\"a\":{\"y\":\"\xc3\xa9\",\"z\":1},\"b\":[1,\"x\"]}");
  CHECK_STR(a, b);
  CHECK_STR(a, "{\"a\":{\"y\":\"\\u00E9\",\"z\":1},\"b\":[1,\"x\"]}");
  free(a);
  free(b);
  a = evchain_canon_json("not json");
  CHECK_STR(a, "not json");
  free(a);
  a = evchain_canon_json(NULL);
  CHECK_STR(a, "{}");
  free(a);
}

static evchain_event_t event(void) {
  static const uint8_t prev[EVCHAIN_HASH_BYTES] = {1, 2, 3};
  return (evchain_event_t){.seq = 7,
                           .at_us = 1700000000123456,
                           .actor = "alice",
                           .kind = "job.cancel",
                           .subject_type = "job",
                           .subject_id = "12",
                           .details = "{\"note\":\"x\"}",
                           .prev = prev,
                           .prevlen = sizeof prev};
}

static bool same(const uint8_t *a, const uint8_t *b) {
  return memcmp(a, b, EVCHAIN_HASH_BYTES) == 0;
}

static void test_hash(void) {
  evchain_key_t k1 = {.from_seq = 1}, k2 = {.from_seq = 1};
  memset(k1.secret, 0x11, sizeof k1.secret);
  memset(k2.secret, 0x22, sizeof k2.secret);
  evchain_event_t e = event();
  uint8_t h[EVCHAIN_HASH_BYTES], g[EVCHAIN_HASH_BYTES];
  evchain_hash(&k1, &e, h);
  evchain_hash(&k1, &e, g);
  CHECK(same(h, g));
  evchain_hash(&k2, &e, g);
  CHECK(!same(h, g));
  evchain_hash(NULL, &e, g);
  CHECK(!same(h, g));
  evchain_event_t x;
#define CHANGED(field, value)                                                                      \
  do {                                                                                             \
    x = e;                                                                                         \
    x.field = value;                                                                               \
    evchain_hash(&k1, &x, g);                                                                      \
    CHECK(!same(h, g));                                                                            \
  } while (0)
  CHANGED(seq, 8);
  CHANGED(at_us, 1700000000123457);
  CHANGED(actor, "mallory");
  CHANGED(kind, "job.pause");
  CHANGED(subject_type, "take");
  CHANGED(subject_id, "13");
  CHANGED(details, "{\"note\":\"y\"}");
  CHANGED(prevlen, 0);
  /* Boundaries: actor "ab" + kind "c" is not actor "a" + kind "bc". */
  x = e;
  x.actor = "ab";
  x.kind = "c";
  evchain_hash(&k1, &x, h);
  x.actor = "a";
  x.kind = "bc";
  evchain_hash(&k1, &x, g);
  CHECK(!same(h, g));
}

/* SELECT encode(clapper_event_hash(1, clapper_ts(1000000), 'a', 'k', 't', 's',
 * '{"n": 1}', '\x'), 'hex') = sha256 of "1\x1f1000000\x1fa\x1fk\x1ft\x1fs\x1f{"n": 1}\x1f". */
static void test_legacy(void) {
  evchain_event_t e = {.seq = 0,
                       .at_us = 1000000,
                       .actor = "a",
                       .kind = "k",
                       .subject_type = "t",
                       .subject_id = "s",
                       .details = "{\"n\": 1}",
                       .prev = NULL,
                       .prevlen = 0};
  uint8_t h[EVCHAIN_HASH_BYTES];
  evchain_legacy_hash(1, &e, h);
  char hex[2 * EVCHAIN_HASH_BYTES + 1];
  evchain_hex(h, sizeof h, hex);
  FILE *p =
      popen("printf '1\\0371000000\\037a\\037k\\037t\\037s\\037{\"n\": 1}\\037' | sha256sum", "r");
  char want[128] = "";
  CHECK(p && fgets(want, sizeof want, p));
  if (p)
    pclose(p);
  want[64] = '\0';
  CHECK_STR(hex, want);
  uint8_t back[EVCHAIN_HASH_BYTES];
  CHECK_INT(evchain_unhex(hex, back, sizeof back), EVCHAIN_HASH_BYTES);
  CHECK(same(back, h));
  CHECK_INT(evchain_unhex("abc", back, sizeof back), -1);
  CHECK_INT(evchain_unhex("zz", back, sizeof back), -1);
}

static void test_key_file(void) {
  char dir[] = "/tmp/clapper-test-evchain.XXXXXX", err[512] = "";
  CHECK(mkdtemp(dir) != NULL);
  char path[600];
  snprintf(path, sizeof path, "%s/audit.key", dir);
  evchain_key_t k, again;
  bool created = false;
  CHECK_INT(evchain_key_load(path, 42, &k, &created, err, sizeof err), 0);
  CHECK(created);
  CHECK_INT(k.from_seq, 42);
  struct stat st;
  CHECK_INT(stat(path, &st), 0);
  CHECK_INT(st.st_mode & 0777, 0600);
  CHECK_INT(evchain_key_load(path, 99, &again, &created, err, sizeof err), 0);
  CHECK(!created);
  CHECK_INT(again.from_seq, 42);
  CHECK(memcmp(again.secret, k.secret, sizeof k.secret) == 0);
  chmod(path, 0644);
  CHECK_INT(evchain_key_load(path, 1, &again, &created, err, sizeof err), -1);
  CHECK(strstr(err, "readable by others") != NULL);
  chmod(path, 0600);
  FILE *f = fopen(path, "w");
  fputs("key = 1234\nfrom = 1\n", f);
  fclose(f);
  CHECK_INT(evchain_key_load(path, 1, &again, &created, err, sizeof err), -1);
  CHECK(strstr(err, "damaged") != NULL);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  test_canon();
  test_hash();
  test_legacy();
  test_key_file();
  return check_report("test_evchain");
}
