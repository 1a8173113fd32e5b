/*
 * gpu.h - the GPUs of this node: from NVML (loaded at run time with
 * dlopen("libnvidia-ml.so.1"), so the worker builds and runs without any
 * NVIDIA software), from an inventory file, or none.
 *
 * Inventory file (--gpu-inventory FILE), a JSON array in NVML's terms:
 *   [{"index": 0, "uuid": "GPU-...", "model": "NVIDIA H100 80GB HBM3",
 *     "memory_mb": 81559}]
 * Every entry must have exactly these four fields: index an integer in
 * [0, 1023] (unique), uuid and model non-empty strings of at most 95 bytes
 * without control characters (uuid unique), memory_mb an integer >= 1.
 */
#ifndef CLAPPER_WORKER_GPU_H
#define CLAPPER_WORKER_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define GPU_MAX_INDEX 1023
#define GPU_MAX_STR 95

typedef struct gpu_info {
  uint32_t index;     /* NVML device index, as CUDA_VISIBLE_DEVICES uses it */
  char *uuid;         /* "GPU-..." */
  char *model;        /* NVML name, e.g. "NVIDIA H100 80GB HBM3" */
  uint64_t memory_mb; /* total memory in MiB */
} gpu_info_t;

typedef struct gpu_nvml gpu_nvml_t;

typedef struct gpu_set {
  gpu_info_t *gpus; /* ordered as listed / enumerated */
  size_t n;
  gpu_nvml_t *nvml; /* the loaded library when the set came from NVML */
} gpu_set_t;

/* An empty set (--gpus none).  Caller owns it (gpu_set_free). */
gpu_set_t *gpu_none(void);

/* Parses inventory JSON text; name (the file name) prefixes error messages.
 * Returns 0 with *out set (caller owns it), or -1 with a one-line message
 * naming the entry and field, e.g. "inv.json: [1].memory_mb: must be an
 * integer >= 1". */
int gpu_inventory_parse(const char *text, const char *name, gpu_set_t **out, char *err,
                        size_t errlen) MUSTCHECK;

/* Reads and parses the inventory file at path, as gpu_inventory_parse. */
int gpu_inventory_load(const char *path, gpu_set_t **out, char *err, size_t errlen) MUSTCHECK;

/* Enumerates GPUs through NVML.  Never fails: when the library is missing
 * or NVML does not initialise, logs one info line and returns an empty
 * set.  Caller owns the result. */
gpu_set_t *gpu_discover(void);

/* The GPU with this index, or NULL. */
const gpu_info_t *gpu_find(const gpu_set_t *s, uint32_t index);

/* Sums NVML's total energy counters (millijoules since the driver loaded)
 * of the GPUs with the given indices into *mj.  Returns false when the set
 * did not come from NVML or any counter cannot be read.  Safe to call from
 * any thread. */
bool gpu_energy_mj(const gpu_set_t *s, const uint32_t *indices, size_t n, uint64_t *mj);

/* Frees the set (and shuts NVML down if it was loaded); sets *s to NULL. */
void gpu_set_free(gpu_set_t **s);

#endif
