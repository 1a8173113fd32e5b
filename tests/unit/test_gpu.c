/*
 * test_gpu.c - GPU inventory files, good and bad, and NVML discovery on a
 * machine that may have no NVIDIA library at all.
 */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "gpu.h"

static gpu_set_t *parse_ok(const char *text) {
  char err[512] = "";
  gpu_set_t *s = NULL;
  int rc = gpu_inventory_parse(text, "inv.json", &s, err, sizeof err);
  CHECK_INT(rc, 0);
  if (rc)
    fprintf(stderr, "unexpected error: %s\n", err);
  return s;
}

/* Parses text expecting an error that contains want. */
static void parse_bad(const char *text, const char *want) {
  char err[512] = "";
  gpu_set_t *s = NULL;
  CHECK_INT(gpu_inventory_parse(text, "inv.json", &s, err, sizeof err), -1);
  CHECK(s == NULL);
  CHECK_CONTAINS(err, want);
  CHECK(strchr(err, '\n') == NULL);
  gpu_set_free(&s);
}

static void test_good(void) {
  gpu_set_t *s = parse_ok(
      "[{\"index\": 0, \"uuid\": \"GPU-0f2e\", \"model\": \"NVIDIA H100 80GB HBM3\","
      "  \"memory_mb\": 81559},"
      " {\"model\": \"NVIDIA H200\", \"memory_mb\": 143771, \"uuid\": \"GPU-77aa\","
      "  \"index\": 3}]");
  if (!s)
    return;
  CHECK_INT(s->n, 2);
  CHECK_INT(s->gpus[0].index, 0);
  CHECK_STR(s->gpus[0].uuid, "GPU-0f2e");
  CHECK_STR(s->gpus[0].model, "NVIDIA H100 80GB HBM3");
  CHECK_INT(s->gpus[0].memory_mb, 81559);
  CHECK_INT(s->gpus[1].index, 3);
  CHECK_INT(s->gpus[1].memory_mb, 143771);
  CHECK(gpu_find(s, 3) == &s->gpus[1]);
  CHECK(gpu_find(s, 1) == NULL);
  uint64_t mj = 42;
  uint32_t idx[] = {0};
  CHECK(!gpu_energy_mj(s, idx, 1, &mj)); /* no NVML behind an inventory */
  CHECK_INT(mj, 42);
  gpu_set_free(&s);
  CHECK(s == NULL);

  s = parse_ok("[]");
  if (s)
    CHECK_INT(s->n, 0);
  gpu_set_free(&s);
}

static void test_bad(void) {
  parse_bad("", "inv.json: line");
  parse_bad("[{\"index\": 0,", "inv.json: line");
  parse_bad("{\"index\": 0}", "inv.json: expected a JSON array of GPUs");
  parse_bad("[1]", "inv.json: [0]: expected an object");
  const char *ok = "{\"index\":0,\"uuid\":\"GPU-a\",\"model\":\"M\",\"memory_mb\":1}";
  char buf[1024];
  snprintf(buf, sizeof buf, "[%s, {\"uuid\":\"GPU-b\",\"model\":\"M\",\"memory_mb\":1}]", ok);
  parse_bad(buf, "inv.json: [1].index: missing");
  snprintf(buf, sizeof buf, "[%s, {\"index\":\"1\",\"uuid\":\"GPU-b\",\"model\":\"M\",\"memory_mb\":1}]", ok);
  parse_bad(buf, "[1].index: must be an integer in [0, 1023]");
  parse_bad("[{\"index\":-1,\"uuid\":\"GPU-a\",\"model\":\"M\",\"memory_mb\":1}]",
            "[0].index: must be an integer");
  parse_bad("[{\"index\":1.0,\"uuid\":\"GPU-a\",\"model\":\"M\",\"memory_mb\":1}]",
            "[0].index: must be an integer");
  parse_bad("[{\"index\":0,\"model\":\"M\",\"memory_mb\":1}]", "[0].uuid: missing");
  parse_bad("[{\"index\":0,\"uuid\":\"\",\"model\":\"M\",\"memory_mb\":1}]",
            "[0].uuid: must be a non-empty string");
  parse_bad("[{\"index\":0,\"uuid\":5,\"model\":\"M\",\"memory_mb\":1}]",
            "[0].uuid: must be a non-empty string");
  parse_bad("[{\"index\":0,\"uuid\":\"GPU-a\",\"model\":\"bad\\nname\",\"memory_mb\":1}]",
            "[0].model: must be a non-empty string");
  parse_bad("[{\"index\":0,\"uuid\":\"GPU-a\",\"memory_mb\":1}]", "[0].model: missing");
  parse_bad("[{\"index\":0,\"uuid\":\"GPU-a\",\"model\":\"M\"}]", "[0].memory_mb: missing");
  parse_bad("[{\"index\":0,\"uuid\":\"GPU-a\",\"model\":\"M\",\"memory_mb\":0}]",
            "[0].memory_mb: must be an integer >= 1");
  parse_bad("[{\"index\":0,\"uuid\":\"GPU-a\",\"model\":\"M\",\"memory_mb\":\"80GB\"}]",
            "[0].memory_mb: must be an integer >= 1");
  parse_bad("[{\"index\":0,\"uuid\":\"GPU-a\",\"model\":\"M\",\"memory_mb\":1,\"mem\":2}]",
            "[0].mem: unknown field");
  parse_bad("[{\"index\":0,\"index\":1,\"uuid\":\"GPU-a\",\"model\":\"M\",\"memory_mb\":1}]",
            "inv.json: line 1");
  snprintf(buf, sizeof buf, "[%s, {\"index\":0,\"uuid\":\"GPU-b\",\"model\":\"M\",\"memory_mb\":1}]", ok);
  parse_bad(buf, "[1].index: 0 already used by [0]");
  snprintf(buf, sizeof buf, "[%s, {\"index\":1,\"uuid\":\"GPU-a\",\"model\":\"M\",\"memory_mb\":1}]", ok);
  parse_bad(buf, "[1].uuid: GPU-a already used by [0]");
  char longname[200];
  memset(longname, 'x', 120);
  longname[120] = '\0';
  snprintf(buf, sizeof buf, "[{\"index\":0,\"uuid\":\"GPU-a\",\"model\":\"%s\",\"memory_mb\":1}]",
           longname);
  parse_bad(buf, "[0].model: must be a non-empty string of at most 95");
}

static void test_load(void) {
  char dir[] = "/tmp/clapper-test-gpu-XXXXXX";
  if (!mkdtemp(dir))
    return;
  char path[256];
  snprintf(path, sizeof path, "%s/inv.json", dir);
  FILE *f = fopen(path, "w");
  fputs("[{\"index\":0,\"uuid\":\"GPU-a\",\"model\":\"NVIDIA H200\",\"memory_mb\":143771}]\n", f);
  fclose(f);
  char err[512] = "";
  gpu_set_t *s = NULL;
  CHECK_INT(gpu_inventory_load(path, &s, err, sizeof err), 0);
  if (s) {
    CHECK_INT(s->n, 1);
    CHECK_STR(s->gpus[0].model, "NVIDIA H200");
  }
  gpu_set_free(&s);
  /* Errors name the file. */
  f = fopen(path, "w");
  fputs("[{\"index\":0}]", f);
  fclose(f);
  CHECK_INT(gpu_inventory_load(path, &s, err, sizeof err), -1);
  CHECK_CONTAINS(err, path);
  CHECK_CONTAINS(err, "[0].uuid: missing");
  unlink(path);
  CHECK_INT(gpu_inventory_load(path, &s, err, sizeof err), -1);
  CHECK_CONTAINS(err, "No such file or directory");
  rmdir(dir);
}

static void test_discover(void) {
  /* With NVML (a GPU machine) the GPUs have names and memory; without it
   * the set is empty and nothing fails. */
  gpu_set_t *s = gpu_discover();
  CHECK(s != NULL);
  if (!s)
    return;
  fprintf(stderr, "gpu_discover: %zu GPUs\n", s->n);
  for (size_t i = 0; i < s->n; i++) {
    CHECK(s->gpus[i].model[0] != '\0');
    CHECK(strncmp(s->gpus[i].uuid, "GPU-", 4) == 0);
    CHECK(s->gpus[i].memory_mb > 0);
    fprintf(stderr, "  %u: %s %s %llu MiB\n", s->gpus[i].index, s->gpus[i].model,
            s->gpus[i].uuid, (unsigned long long)s->gpus[i].memory_mb);
  }
  if (s->n) {
    uint64_t mj = 0;
    uint32_t idx = s->gpus[0].index;
    if (gpu_energy_mj(s, &idx, 1, &mj))
      fprintf(stderr, "  energy counter of GPU %u: %llu mJ\n", idx, (unsigned long long)mj);
  } else {
    uint64_t mj = 0;
    uint32_t idx = 0;
    CHECK(!gpu_energy_mj(s, &idx, 1, &mj));
  }
  gpu_set_free(&s);
  s = gpu_none();
  CHECK_INT(s->n, 0);
  gpu_set_free(&s);
}

int main(void) {
  test_good();
  test_bad();
  test_load();
  test_discover();
  return check_report("test_gpu");
}
