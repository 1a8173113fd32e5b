/*
 * rates.h - the rate card: what a GPU-hour and a CPU-hour cost.
 *
 * Each rate has the time it takes effect.  The rate for a GPU of model M at
 * time T is the latest rate for M that started at or before T, else the
 * latest default GPU rate, else 0; CPUs likewise.  An attempt is priced by
 * the rates in force when it started; since a rate cannot start in the
 * past, pricing an attempt later gives the same answer.
 */
#ifndef CLAPPER_RATES_H
#define CLAPPER_RATES_H

#include <libpq-fe.h>

#include "model.h"

/* "gpu_model", "default_gpu", "cpu"; rates_kind_parse returns the kind or -1. */
const char *rates_kind_name(rate_kind_t k);
int rates_kind_parse(const char *name);

/* Loads the rate card (start-up, synchronous).  0 or -1 with err. */
int rates_load(coord_t *c, PGconn *conn, char *err, size_t errlen) MUSTCHECK;

/* Micro-units per hour of one GPU of model at t (unix us). */
int64_t rates_gpu(const coord_t *c, const char *model, int64_t t);
/* Micro-units per hour of one CPU at t. */
int64_t rates_cpu(const coord_t *c, int64_t t);

/* What attempt a costs per hour (its GPUs and CPUs), with the rates in
 * force at t; *models gets the GPU models, comma-separated (caller frees). */
int64_t rates_attempt(const coord_t *c, const attempt_t *a, int64_t t, char **models);

/* Adds a rate from from_us (>= now, 0 = now), persisted in the next batch
 * and logged as an event by actor.  Returns the new entry, or NULL with a
 * reason in err. */
const rate_t *rates_add(coord_t *c, rate_kind_t kind, const char *gpu_model,
                        int64_t micros_per_hour, int64_t from_us, const char *actor, char *err,
                        size_t errlen);

/* One rate as JSON (new reference). */
struct json_t;
struct json_t *rates_json_one(const coord_t *c, const rate_t *r);
/* {"currency", "rates": [...]} (caller frees). */
char *rates_json(const coord_t *c);

void rates_free(coord_t *c);

#endif
