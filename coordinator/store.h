/*
 * store.h - group commit of the coordinator's state changes.
 *
 * Transition functions mark entities dirty here and queue events; the
 * coordinator's tick calls store_flush at the end of each loop iteration.
 * When no batch is in flight, the flush writes the current state of every
 * dirty entity as one transaction (a few multi-row statements with arrays
 * and unnest, whatever the number of rows) and, once PostgreSQL confirmed
 * the commit, runs what waited for it: first the batch's commit actions
 * (store_on_commit: replies to clients, releasing ended attempts and
 * finished jobs), then the listeners (store_listen: the worker outboxes).
 * While a batch is in flight the next one accumulates, so batches grow
 * with load and a lone change still goes out at once.  A failed batch is
 * fatal (the coordinator exits and recovers from the database on
 * restart): memory never runs ahead of what can be rebuilt.
 *
 * Layering: the store reads the entities it writes (model.h) and calls
 * nothing above it; modules that must act after a commit register here.
 */
#ifndef CLAPPER_STORE_H
#define CLAPPER_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "evchain.h"
#include "model.h"

store_t *store_new(coord_t *c);
void store_free(store_t **s);

/* Mark an entity dirty: its current state goes into the next batch. */
void store_job(coord_t *c, job_t *j);
void store_task(coord_t *c, task_t *t);
void store_attempt(coord_t *c, attempt_t *a);
void store_worker(coord_t *c, worker_t *w);

/* The ledger row of the ended attempt a (cost.c computes the figures). */
void store_ledger(coord_t *c, const attempt_t *a, uint64_t wall_us, const char *gpu_models,
                  int64_t gpu_rate, int64_t cpu_rate, int64_t amount);

/* Stores len bytes of attempt_id's log at position pos in the next batch
 * (data is copied). */
void store_log(coord_t *c, uint64_t attempt_id, uint64_t pos, const uint8_t *data, size_t len);

/* Appends an event to the log in the next batch.  details_json is a JSON
 * object text (copied) or NULL for {}.  The event is chained here: its
 * position, the hash before it and its own (common/evchain.h). */
void store_event(coord_t *c, const char *actor, const char *kind, const char *subject_type,
                 const char *subject_id, const char *details_json);

/* Continues the event log's chain after head (the log's last event as
 * recovered; seq 0 for an empty log), keyed with key (copied) or, when key
 * is NULL, plain SHA-256.  Start-up only, before the first store_event. */
void store_chain_start(coord_t *c, const evchain_key_t *key, const evchain_head_t *head);

/* The chain's head as committed: the last event of the last batch that
 * committed (or the one store_chain_start was given). */
evchain_head_t store_chain_head(const coord_t *c);

/* The key of the chain, or NULL when it is plain SHA-256. */
const evchain_key_t *store_chain_key(const coord_t *c);

/* Adds a one-off statement to the next batch, after the entity rows.  name
 * and sql are literals (the statement is prepared under name); takes
 * ownership of params[0..nparams) (not of the array). */
void store_stmt(coord_t *c, const char *name, const char *sql, int nparams, char **params);

/* Runs fn(c, arg) once, after the batch now accumulating committed, in the
 * order registered.  fn may register again (for the next batch). */
typedef void (*store_commit_fn)(coord_t *c, void *arg);
void store_on_commit(coord_t *c, store_commit_fn fn, void *arg);

/* Runs fn(c, seq, arg) after every committed batch (seq: its sequence
 * number, see store_seq), after that batch's commit actions, in the order
 * registered.  For modules whose work waits for commits (coord_init). */
typedef void (*store_listener_fn)(coord_t *c, uint64_t seq, void *arg);
void store_listen(coord_t *c, store_listener_fn fn, void *arg);

/* The sequence number of the batch now accumulating. */
uint64_t store_seq(const coord_t *c);

/* Asks for a batch even when nothing is dirty (outbox items wait for it). */
void store_kick(coord_t *c);

/* Sends the accumulated batch if none is in flight. */
void store_flush(coord_t *c);

/* True when nothing is accumulated and nothing is in flight. */
bool store_idle(const coord_t *c);

/* Statistics for logs and the benchmark. */
typedef struct store_stats {
  uint64_t batches, rows;
} store_stats_t;
store_stats_t store_stats(const coord_t *c);

#endif
