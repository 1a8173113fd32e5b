/*
 * worker.h - the clapper-worker daemon: the state that ties the link to
 * the coordinator, the runner, the journal and the GPUs together, and the
 * drain/stop life cycle driven by signals.
 *
 * What the worker tells the coordinator, and when:
 *   Hello      at start, after Reset, after 3 silent heartbeat intervals:
 *              name, version, hostname, cpus, memory_mb, gpus, tags, the
 *              attempts running now, every unacknowledged result (as many
 *              as fit in 16 MiB; the rest follow by retransmission) and
 *              whether it is draining.
 *   Heartbeat  every heartbeat_ms once welcomed: running attempts, draining.
 *   Started    at the end of the loop iteration in which attempts were
 *              spawned: {attempt_id, started_at_us, pid of the shim = the
 *              process group}.  Not retransmitted (Heartbeat.running and
 *              Hello.running carry the same information).
 *   Logs       every 250 ms while attempts run: what their logs gained
 *              (see logstream.h), never before the attempt's Started; and
 *              when attempts finish, the rest of their logs (up to
 *              --log-stream-max-bytes each) just before their Results.
 *              Best effort: not journaled; a failed send is retried next
 *              tick from the same offset.
 *   Results    at the end of the loop iteration in which attempts finished,
 *              after the journal append and fsync; all unacknowledged
 *              results again every 5th heartbeat until a ResultAck.
 *   Drain{on}  once, when SIGTERM starts a drain.
 * An empty ResultAck (the coordinator's answer to a Heartbeat) is a no-op.
 * Assigned tasks that are already running or already have a result are
 * ignored; tasks assigned while draining, or that cannot start, get a
 * result at once (CANCELED "worker is draining", or FAILED with the reason).
 *
 * Signals: the first SIGTERM drains (finish running attempts, then wait up
 * to --drain-timeout-ms for every result to be acknowledged, then exit 0);
 * SIGINT or a second SIGTERM kill every attempt's process group and exit 0
 * at once without sending results.
 */
#ifndef CLAPPER_WORKER_WORKER_H
#define CLAPPER_WORKER_WORKER_H

#include "options.h"

/* Runs the daemon with settings o (borrowed) until it stops.  Returns the
 * process exit status: 0 after a drain or stop, 2 for a settings problem
 * found at start (GPU inventory, endpoint), 1 for any other failure. */
int worker_run(const options_t *o);

#endif
