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

/* {"jobs": [...]}: the jobs in req->ids (all of which must exist), or the
 * most recent req->limit (default 100; req->all: no limit). */
void query_jobs(coord_t *c, creq_t *r, const Clapper__Request *req);

/* The job req->ids[0] with its specification. */
void query_job(coord_t *c, creq_t *r, const Clapper__Request *req);

/* {"tasks": [...]} of job req->ids[0], each with its latest attempt. */
void query_tasks(coord_t *c, creq_t *r, const Clapper__Request *req);

#endif
