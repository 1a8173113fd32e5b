/*
 * gpu.c - GPU discovery through dlopen'ed NVML or an inventory file, see
 * gpu.h.  The few NVML types and prototypes used are declared here; no
 * NVIDIA header is needed to build.
 */
#include "gpu.h"

#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---------------------------------------------------------------- NVML */

typedef int nvml_return_t; /* nvmlReturn_t; NVML_SUCCESS is 0 */
typedef struct nvml_device_st *nvml_device_t;
typedef struct {
  unsigned long long total, free, used; /* bytes */
} nvml_memory_t;

#define NVML_SUCCESS 0
#define NVML_NAME_LEN 96 /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */
#define NVML_UUID_LEN 96 /* NVML_DEVICE_UUID_V2_BUFFER_SIZE */

struct gpu_nvml {
  void *lib;
  nvml_return_t (*init)(void);
  nvml_return_t (*shutdown)(void);
  const char *(*error_string)(nvml_return_t);
  nvml_return_t (*count)(unsigned int *);
  nvml_return_t (*by_index)(unsigned int, nvml_device_t *);
  nvml_return_t (*name)(nvml_device_t, char *, unsigned int);
  nvml_return_t (*uuid)(nvml_device_t, char *, unsigned int);
  nvml_return_t (*memory)(nvml_device_t, nvml_memory_t *);
  nvml_return_t (*energy)(nvml_device_t, unsigned long long *); /* may be NULL */
  nvml_device_t *devices; /* parallel to gpu_set_t.gpus */
};

gpu_set_t *gpu_none(void) { return xcalloc(1, sizeof(gpu_set_t)); }

const gpu_info_t *gpu_find(const gpu_set_t *s, uint32_t index) {
  for (size_t i = 0; s && i < s->n; i++)
    if (s->gpus[i].index == index)
      return &s->gpus[i];
  return NULL;
}

/* Shuts NVML down when inited, unloads it and releases nv. */
static void nvml_free(gpu_nvml_t *nv, bool inited) {
  if (inited)
    nv->shutdown();
  if (nv->lib)
    dlclose(nv->lib);
  free(nv->devices);
  free(nv);
}

void gpu_set_free(gpu_set_t **sp) {
  gpu_set_t *s = *sp;
  if (!s)
    return;
  *sp = NULL;
  for (size_t i = 0; i < s->n; i++) {
    free(s->gpus[i].uuid);
    free(s->gpus[i].model);
  }
  free(s->gpus);
  if (s->nvml)
    nvml_free(s->nvml, true);
  free(s);
}

static const char *nvml_err(const gpu_nvml_t *nv, nvml_return_t rc) {
  const char *s = nv->error_string ? nv->error_string(rc) : NULL;
  return s ? s : "unknown NVML error";
}

#define SYM(field, name, required)                                                     \
  do {                                                                                 \
    *(void **)&nv->field = dlsym(nv->lib, name);                                       \
    if (!nv->field && (required)) {                                                    \
      log_info("NVML lacks %s: no GPUs", name);                                        \
      goto fail;                                                                       \
    }                                                                                  \
  } while (0)

gpu_set_t *gpu_discover(void) {
  gpu_set_t *s = gpu_none();
  gpu_nvml_t *nv = xcalloc(1, sizeof *nv);
  bool inited = false;
  nv->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!nv->lib) {
    log_info("libnvidia-ml.so.1 not available (%s): no GPUs", dlerror());
    goto fail;
  }
  SYM(init, "nvmlInit_v2", true);
  SYM(shutdown, "nvmlShutdown", true);
  SYM(error_string, "nvmlErrorString", false);
  SYM(count, "nvmlDeviceGetCount_v2", true);
  SYM(by_index, "nvmlDeviceGetHandleByIndex_v2", true);
  SYM(name, "nvmlDeviceGetName", true);
  SYM(uuid, "nvmlDeviceGetUUID", true);
  SYM(memory, "nvmlDeviceGetMemoryInfo", true);
  SYM(energy, "nvmlDeviceGetTotalEnergyConsumption", false);
  nvml_return_t rc = nv->init();
  if (rc != NVML_SUCCESS) {
    log_info("nvmlInit failed (%s): no GPUs", nvml_err(nv, rc));
    goto fail;
  }
  inited = true;
  unsigned int count = 0;
  if ((rc = nv->count(&count)) != NVML_SUCCESS) {
    log_info("nvmlDeviceGetCount failed (%s): no GPUs", nvml_err(nv, rc));
    goto fail;
  }
  s->gpus = xcalloc(count ? count : 1, sizeof *s->gpus);
  nv->devices = xcalloc(count ? count : 1, sizeof *nv->devices);
  for (unsigned int i = 0; i < count; i++) {
    nvml_device_t dev;
    char name[NVML_NAME_LEN] = "", uuid[NVML_UUID_LEN] = "";
    nvml_memory_t mem = {0, 0, 0};
    if ((rc = nv->by_index(i, &dev)) != NVML_SUCCESS ||
        (rc = nv->name(dev, name, sizeof name)) != NVML_SUCCESS ||
        (rc = nv->uuid(dev, uuid, sizeof uuid)) != NVML_SUCCESS ||
        (rc = nv->memory(dev, &mem)) != NVML_SUCCESS) {
      log_warn("GPU %u: %s; skipped", i, nvml_err(nv, rc));
      continue;
    }
    gpu_info_t *g = &s->gpus[s->n];
    g->index = i;
    g->uuid = xstrndup(uuid, sizeof uuid);
    g->model = xstrndup(name, sizeof name);
    g->memory_mb = mem.total / (1024 * 1024);
    nv->devices[s->n] = dev;
    s->n++;
    log_info("GPU %u: %s %s, %llu MiB", i, g->model, g->uuid, (unsigned long long)g->memory_mb);
  }
  s->nvml = nv;
  return s;
fail: /* before any GPU was added: s is still empty */
  nvml_free(nv, inited);
  return s;
}

bool gpu_energy_mj(const gpu_set_t *s, const uint32_t *indices, size_t n, uint64_t *mj) {
  if (!s || !s->nvml || !s->nvml->energy)
    return false;
  uint64_t sum = 0;
  for (size_t k = 0; k < n; k++) {
    size_t i;
    for (i = 0; i < s->n && s->gpus[i].index != indices[k]; i++)
      ;
    if (i == s->n)
      return false;
    unsigned long long e = 0;
    if (s->nvml->energy(s->nvml->devices[i], &e) != NVML_SUCCESS)
      return false;
    sum += e;
  }
  *mj = sum;
  return true;
}

/* ---------------------------------------------------------------- inventory */

static bool clean_string(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > GPU_MAX_STR)
    return false;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return false;
  return true;
}

int gpu_inventory_parse(const char *text, const char *name, gpu_set_t **out, char *err,
                        size_t errlen) {
  json_error_t jerr;
  gpu_set_t *s = NULL;
  json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    snprintf(err, errlen, "%s: line %d: %s", name, jerr.line, jerr.text);
    goto fail;
  }
  if (!json_is_array(root)) {
    snprintf(err, errlen, "%s: expected a JSON array of GPUs", name);
    goto fail;
  }
  size_t n = json_array_size(root);
  if (n > GPU_MAX_INDEX + 1) {
    snprintf(err, errlen, "%s: more than %d GPUs", name, GPU_MAX_INDEX + 1);
    goto fail;
  }
  s = gpu_none();
  s->gpus = xcalloc(n ? n : 1, sizeof *s->gpus);
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(root, i);
    if (!json_is_object(e)) {
      snprintf(err, errlen, "%s: [%zu]: expected an object", name, i);
      goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(e, key, v) {
      if (strcmp(key, "index") && strcmp(key, "uuid") && strcmp(key, "model") &&
          strcmp(key, "memory_mb")) {
        snprintf(err, errlen, "%s: [%zu].%s: unknown field (expected index, uuid, model, memory_mb)",
                 name, i, key);
        goto fail;
      }
    }
    json_t *index = json_object_get(e, "index"), *uuid = json_object_get(e, "uuid"),
           *model = json_object_get(e, "model"), *mem = json_object_get(e, "memory_mb");
    if (!index || !json_is_integer(index) || json_integer_value(index) < 0 ||
        json_integer_value(index) > GPU_MAX_INDEX) {
      snprintf(err, errlen, "%s: [%zu].index: %s", name, i,
               index ? "must be an integer in [0, 1023]" : "missing");
      goto fail;
    }
    if (!uuid || !json_is_string(uuid) || !clean_string(json_string_value(uuid))) {
      snprintf(err, errlen, "%s: [%zu].uuid: %s", name, i,
               uuid ? "must be a non-empty string of at most 95 printable bytes" : "missing");
      goto fail;
    }
    if (!model || !json_is_string(model) || !clean_string(json_string_value(model))) {
      snprintf(err, errlen, "%s: [%zu].model: %s", name, i,
               model ? "must be a non-empty string of at most 95 printable bytes" : "missing");
      goto fail;
    }
    if (!mem || !json_is_integer(mem) || json_integer_value(mem) < 1) {
      snprintf(err, errlen, "%s: [%zu].memory_mb: %s", name, i,
               mem ? "must be an integer >= 1" : "missing");
      goto fail;
    }
    uint32_t idx = (uint32_t)json_integer_value(index);
    for (size_t k = 0; k < s->n; k++) {
      if (s->gpus[k].index == idx) {
        snprintf(err, errlen, "%s: [%zu].index: %u already used by [%zu]", name, i, idx, k);
        goto fail;
      }
      if (!strcmp(s->gpus[k].uuid, json_string_value(uuid))) {
        snprintf(err, errlen, "%s: [%zu].uuid: %s already used by [%zu]", name, i,
                 json_string_value(uuid), k);
        goto fail;
      }
    }
    gpu_info_t *g = &s->gpus[s->n++];
    g->index = idx;
    g->uuid = xstrdup(json_string_value(uuid));
    g->model = xstrdup(json_string_value(model));
    g->memory_mb = (uint64_t)json_integer_value(mem);
  }
  json_decref(root);
  *out = s;
  return 0;
fail:
  json_decref(root);
  gpu_set_free(&s);
  return -1;
}

int gpu_inventory_load(const char *path, gpu_set_t **out, char *err, size_t errlen) {
  size_t len;
  char *text = util_read_file(path, 1 << 20, &len);
  if (!text) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  if (strlen(text) != len) {
    snprintf(err, errlen, "%s: contains a NUL byte", path);
    free(text);
    return -1;
  }
  int rc = gpu_inventory_parse(text, path, out, err, errlen);
  free(text);
  return rc;
}
