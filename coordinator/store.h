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
 * with load and a lone change still goes out at once.
 *
 * A batch that fails does not take unrelated work down with it.  What
 * clients and workers send is checked at the edge (common/input.h), so a
 * failure means a value the checks missed or a bug; the store then tries
 * the same batch again in one transaction, statement by statement under a
 * savepoint, and a statement that fails range by range of its rows
 * (halving), down to the rows the database refuses; after 4096 statements
 * (a second or so of round trips) a failing range is refused whole, so a
 * refused job with a million tasks behind it cannot hold the writer for
 * long.  Everything else commits.  Each row knows the change it belongs to: a change is what one
 * client request queues (store_change_begin/resume/end around its
 * handlers); a dirty entity belongs to every change that marked it.  The
 * commit actions of a change with a refused row run with store_refused()
 * saying why, so its client is answered with an error and every other
 * client as usual; the refused rows are logged (rate-limited).
 *
 * Memory and the database after a refusal.  Memory is not rolled back: a
 * transition has effects on other entities (counts, the dispatch index,
 * outboxes) that cannot be undone one by one.  Instead rows carry the
 * whole state of an entity, so the database catches up the next time the
 * entity is written: a refused update leaves the previous row until then;
 * a refused insert (a job, task or attempt, or a job's dependencies) is
 * inserted again with the next write instead of updated.  A refused
 * append-only row (a ledger row, a log piece, a one-off statement) is
 * dropped.  Events are not: each one's hash chains the one before it, so
 * store_event cleans their texts to rows the database accepts, and an
 * event refused all the same ends the coordinator (a fault, not input;
 * recovery continues the chain from what committed).  Nothing is retried on its own, so a row that is
 * refused for what it holds cannot loop; a restart recovers the database's
 * state, which is what the refused change's client was told.  Only when
 * the replay itself cannot roll back or commit does the coordinator exit
 * (crash-only, recovering from what committed).
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
 * position, the hash before it and its own (common/evchain.h).  Texts that
 * are not UTF-8 or hold control characters are cleaned (input_clean), so
 * the row is one the database accepts. */
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

/* The event tap: every event of the log, handed to the tap's functions
 * once the batch holding it committed, in the log's order (after that
 * batch's commit actions and listeners).  For live watchers (sse.c) and
 * notifications (notify.c); the fields are valid during the call only.
 * With no tap registered, store_event keeps nothing extra. */
typedef struct store_tapped {
  uint64_t seq;                 /* the event's position in the log (events.seq) */
  int64_t at_us;                /* when it happened (wall clock) */
  const char *actor, *kind;     /* "alice", "take.approved" */
  const char *subject_type;     /* "job", "take", "worker", "episode", ... */
  const char *subject_id;
  const char *details;          /* a JSON object text */
} store_tapped_t;
typedef void (*store_tap_fn)(coord_t *c, const store_tapped_t *ev, void *arg);
void store_tap(coord_t *c, store_tap_fn fn, void *arg);

/* Changes: rows, dirty marks and commit actions queued between
 * store_change_begin (which returns the change's id) and store_change_end
 * belong to that change; store_change_resume continues a change later (a
 * handler that waited for a read).  Without one they belong to none. */
uint64_t store_change_begin(coord_t *c);
void store_change_resume(coord_t *c, uint64_t change);
void store_change_end(coord_t *c);

/* During a commit action: NULL, or why the database refused part of the
 * action's change (one line). */
const char *store_refused(const coord_t *c);

/* The sequence number of the batch now accumulating. */
uint64_t store_seq(const coord_t *c);

/* Asks for a batch even when nothing is dirty (outbox items wait for it). */
void store_kick(coord_t *c);

/* Sends the accumulated batch if none is in flight. */
void store_flush(coord_t *c);

/* True when nothing is accumulated and nothing is in flight (bulk writes
 * included). */
bool store_idle(const coord_t *c);

/* Bulk writes.  A batch is one transaction and one batch is in flight at a
 * time, and assignments go out only after their batch committed: a change
 * of a million rows written in a batch (a big submit, the cancel of a big
 * job) held every worker idle for as long as the batch took (18 s for a
 * million tasks), and a small submit behind it waited as long.  Changes of
 * at least STORE_BULK_MIN_ROWS rows are written on a connection of their
 * own (c->bdb) instead, while batches keep committing beside them:
 *
 * - A submit (store_bulk_submit) writes its jobs, their dependencies and
 *   all their tasks in one transaction, with a row per job in
 *   bulk_pending (its projects, episodes and shots go just before, in a
 *   transaction of their own, so that a batch needing the same new
 *   episode never waits for a million rows).  Until it committed the jobs
 *   and their tasks are not written by batches (a change to them is only
 *   remembered) and are not dispatched (dispatch.c); then done runs, in
 *   the submit's change: it logs job.submitted and hands the ready tasks
 *   to dispatch, and the next batch writes the jobs' state with that
 *   event and deletes their bulk_pending rows.  The submit is atomic: a
 *   crash before the bulk transaction committed leaves nothing; one after
 *   it but before that batch leaves jobs whose bulk_pending row says
 *   "submit", which recovery deletes with their tasks and dependencies
 *   (no event names them, no worker ran them, no client was answered).
 * - An update (store_bulk_begin, then the transitions, then
 *   store_bulk_end) gathers the task rows of one job that the transitions
 *   mark dirty and that are written and not dirty already; the batch now
 *   accumulating writes the job's own row and a bulk_pending row naming the
 *   update, and once it committed the gathered task rows are written on the
 *   bulk connection with the delete of that row, in one transaction.
 *   Recovery finishes an update it finds pending (a cancel: the job's
 *   row says canceled, its tasks that had not started are canceled).
 *
 * Their task rows are made BULK_CHUNK_ROWS at a time, one chunk per turn
 * of the loop (making a million rows at once held dispatch and results for
 * three seconds), each chunk a statement of the same transaction.  Bulk
 * writes run one at a time, in order, each after the batch that
 * accumulated when it was made (so no batch in flight still writes an
 * older state of the same rows).  The bulk connection holds a lock of its
 * own for its life (main.c), so a new leader's recovery waits for a killed
 * leader's bulk transaction to end before it reads.  Their rows are never written by a batch
 * at the same time: a task changed meanwhile is written by the first batch
 * after the bulk write committed.  The commit actions of the change (its
 * client's reply) run only after its bulk writes and the batch after them
 * committed.  Persist before act holds: nothing of a bulk submit is
 * dispatched before its rows committed.  Events stay in batches, one
 * chain.  A bulk write that fails is written by the next batches instead,
 * the usual way (with its refusals).
 *
 * Why a connection of its own rather than chunks inside the batches: a
 * submit stays one transaction (no half job for recovery to guess about,
 * no task dispatched while its siblings' rows are missing), batches keep
 * their one-transaction rule, and the batch that follows a bulk write is
 * small.  What it costs: the bulk write's rows must not be touched by a
 * batch until it committed (hence the deferred rows above), and a commit
 * of a batch meanwhile also flushes the bulk write's WAL written so far. */
#define STORE_BULK_MIN_ROWS 10000

/* True when a change of `rows` rows should be a bulk write: a bulk
 * connection exists and no bulk update is being gathered. */
bool store_bulk_wanted(const coord_t *c, uint64_t rows);

/* Writes jobs[0..n) (new, with their tasks; the array is copied) as a bulk
 * submit; done(c, arg) runs, in the current change, after it committed. */
void store_bulk_submit(coord_t *c, job_t **jobs, size_t n, store_commit_fn done, void *arg);

/* Gathers the task rows of j marked dirty until store_bulk_end, which
 * writes them as a bulk update of that kind ("cancel": recovery's word for
 * it, a literal) and runs done(c, arg), in the current change, after it
 * committed (at once when nothing was gathered). */
void store_bulk_begin(coord_t *c, job_t *j);
void store_bulk_end(coord_t *c, const char *kind, store_commit_fn done, void *arg);

/* Statistics for logs and the benchmark. */
typedef struct store_stats {
  uint64_t batches, rows;
} store_stats_t;
store_stats_t store_stats(const coord_t *c);

#endif
