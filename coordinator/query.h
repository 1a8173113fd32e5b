/*
 * query.h - the read side: client questions answered from PostgreSQL.
 *
 * Each query runs on the coordinator's reader connection, asynchronously,
 * and builds the JSON document of the CLI's --json output inside
 * PostgreSQL (json_build_object / json_agg), so the coordinator only
 * forwards text.  Parameters are always bound, never spliced.
 */
#ifndef CLAPPER_QUERY_H
#define CLAPPER_QUERY_H

#include "clients.h"
#include "model.h"

/* Runs sql (prepared as name, or not prepared when name is NULL; params
 * as pgq_add takes them) on the reader connection and replies with the
 * text of the first column of its first row, a JSON document built by
 * PostgreSQL; with not_found (copied) when that is NULL or there is no row,
 * with "internal" when the query fails. */
void query_document(coord_t *c, creq_t *r, const char *name, const char *sql, int nparams,
                    char **params, const char *not_found);

/* Verb handlers (verbs.c); v->req holds the request. */

/* {"jobs": [...]}: the jobs in req->ids (all of which must exist), or the
 * most recent req->limit (default 100; req->all: no limit). */
void query_jobs(coord_t *c, creq_t *r, const verb_call_t *v);

/* About job req->ids[0] (v->spec->arg): QUERY_JOB_SPEC the job with its
 * specification, QUERY_JOB_TASKS {"tasks": [...]}, each task with its
 * latest attempt. */
enum { QUERY_JOB_SPEC = 0, QUERY_JOB_TASKS };
void query_job(coord_t *c, creq_t *r, const verb_call_t *v);

/* A piece of the log of task req->ids[0]'s attempt req->value (0: the
 * latest) from byte req->offset: {"task_id", "attempt_id", "attempt_state",
 * "offset" (where the next piece starts), "data", "done", "truncated",
 * "log_path"}.  At most about 1 MiB per reply; data ends on a whole UTF-8
 * character (bytes that are not UTF-8 show as U+FFFD). */
void query_logs(coord_t *c, creq_t *r, const verb_call_t *v);

/* The cost report of episode req->name ("p/e") grouped by req->by (shot,
 * job or kind), from the ledger through the job_cost view: {"episode",
 * "currency", "by", "total_cost", "failed_cost", "lost_cost", "gpu_hours",
 * "cpu_hours", "energy_kwh", "budget", "left", "<by>s": [...]}. */
void query_cost(coord_t *c, creq_t *r, const verb_call_t *v);

/* The sign-off audit of episode req->name: per shot takes by state, who
 * decided what, what was approved (machine-generated or not, model,
 * outputs with SHA-256) and what each kind of take and failed attempts
 * cost; the totals equal query_cost's. */
void query_audit(coord_t *c, creq_t *r, const verb_call_t *v);

/* Its SQL ($1 project, $2 episode, $3 currency), for tests/unit/test_audit.c. */
extern const char SQL_AUDIT[];

#endif
