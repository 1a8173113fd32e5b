/*
 * cost.h - what attempts cost, the ledger, and episode budgets.
 *
 * An attempt costs wall seconds x (its GPUs' rates + its CPUs x the CPU
 * rate) / 3600, with the rates in force when it started, in integer
 * micro-units.  Every attempt that ends - succeeded, failed, timed out,
 * lost or canceled - writes exactly one ledger row, in the same batch as
 * its end (the ledger's primary key refuses a second).  A lost attempt is
 * charged until it was declared lost.
 *
 * Budgets: an episode whose spent money plus what its running attempts
 * cost so far reaches its budget has its jobs held (nothing new starts;
 * running attempts finish); raising the budget releases them at once.
 */
#ifndef CLAPPER_COST_H
#define CLAPPER_COST_H

#include "model.h"

/* a started running (its start time is known): its cost starts to count. */
void cost_attempt_started(coord_t *c, attempt_t *a);

/* a ended: writes its ledger row and updates its episode's spending. */
void cost_attempt_ended(coord_t *c, attempt_t *a);

/* What ep's running attempts have cost so far, at now (unix us). */
int64_t cost_running(const episode_t *ep, int64_t now);

/* Holds or releases ep's work as its spending and budget say. */
void cost_check(coord_t *c, episode_t *ep);

/* Sets ep's budget (micros, -1: none), persisted and logged as actor's. */
void cost_set_budget(coord_t *c, episode_t *ep, const char *project, const char *episode,
                     int64_t micros, const char *actor);

/* {"episode", "currency", "budget", "spent", "running", "left", "held"}
 * (new reference). */
struct json_t;
struct json_t *cost_budget_json(const coord_t *c, const episode_t *ep);

/* Starts the timer that re-checks budgets while attempts run. */
void cost_start(coord_t *c);

#endif
