/*
 * query.h - the read side: client questions answered from PostgreSQL.
 *
 * Each query runs on the coordinator's read pool (reads.h), asynchronously,
 * and builds the JSON document of the CLI's --json output inside
 * PostgreSQL (json_build_object / json_agg), so the coordinator only
 * forwards text.  Parameters are always bound, never spliced.
 */
#ifndef CLAPPER_QUERY_H
#define CLAPPER_QUERY_H

#include "clients.h"
#include "model.h"

/* Runs sql (prepared as name, or not prepared when name is NULL; params
 * as pgq_add takes them) on the read pool and replies with the
 * text of the first column of its first row, a JSON document built by
 * PostgreSQL; with not_found (copied) when that is NULL or there is no row,
 * with "internal" when the query fails. */
void query_document(coord_t *c, creq_t *r, const char *name, const char *sql, int nparams,
                    char **params, const char *not_found);

/* Lists are paged: a request asks for at most req->limit items (0: the
 * list's default; at most QUERY_PAGE_MAX) with ids after req->after, in
 * id order (keyset paging: a page costs its own size, not the list's), and
 * a page holds at most about 3 MiB of JSON whatever the limit.  The reply
 * says "more" (items remain after it) and "next_after" (the req->after
 * that lists them, null when none remain). */
#define QUERY_PAGE_MAX 10000
#define QUERY_JOBS_DEFAULT 100
#define QUERY_TASKS_DEFAULT 1000
#define QUERY_TAKES_DEFAULT 100
#define QUERY_COST_JOBS_DEFAULT 1000
/* Lists without a numeric id (workers, users) are keyed by name instead:
 * a page holds the items whose name sorts (byte order) after
 * req->after_name, and "next_after" is a name. */
#define QUERY_WORKERS_DEFAULT 1000
#define QUERY_USERS_DEFAULT 1000
#define QUERY_EVENTS_DEFAULT 1000
/* The JSON bytes a page holds at most (its first item always). */
#define QUERY_PAGE_BYTES 3145728

/* The SQL of a page, for the modules that list (query.c, review.c). */
/* A page of a list, keyset-paged.  rows selects (id, o): the items with
 * an id after $2, in id order, at most $1 + 1 of them (one more than the
 * page, to know whether more remain).  The page keeps the first $1 whose
 * JSON adds up to at most QUERY_PAGE_BYTES (the first always), so that
 * every reply stays well under the reply limit; "more" says whether items
 * remain after it and "next_after" is the --after that lists them. */
#define PAGE_SQL(list, rows) "WITH page AS (" rows "), " PAGE_KEPT("$1") PAGE_DOC(list)

/* The CTEs sized, kept and more of a page (from page (id, o)), lim the
 * limit's parameter. */
#define PAGE_KEPT(lim)                                                                         \
  "sized AS (SELECT id, o, row_number() OVER (ORDER BY id) AS rn, "                           \
  "  sum(octet_length(o::text)) OVER (ORDER BY id) AS bytes FROM page), "                     \
  "kept AS (SELECT id, o FROM sized WHERE rn <= " lim " AND (rn = 1 OR bytes <= "              \
  QUERY_PAGE_BYTES_SQL ")), "                                                                  \
  "more AS (SELECT (SELECT count(*) FROM page) > (SELECT count(*) FROM kept) AS m) "

/* "more" and "next_after" of a page, as members of a json_build_object. */
#define PAGE_MORE                                                                              \
  "'more', (SELECT m FROM more), 'next_after', CASE WHEN (SELECT m FROM more) "                \
  "THEN (SELECT max(id) FROM kept) END"

#define PAGE_DOC(list)                                                                         \
  "SELECT json_build_object('" list "', coalesce((SELECT json_agg(o ORDER BY id) FROM kept), " \
  "'[]'::json), " PAGE_MORE ")::text"

#define QUERY_PAGE_BYTES_SQL "3145728" /* QUERY_PAGE_BYTES, as SQL text */

/* req->limit, or dflt when 0, at most QUERY_PAGE_MAX. */
unsigned query_page_limit(const Clapper__Request *req, unsigned dflt);

/* An item of an in-memory list keyed by name. */
typedef struct query_named {
  const char *name;
  const void *item;
} query_named_t;

/* {list: [...], "more", "next_after"}: a page of items[0..n) (reordered
 * here): at most limit of those whose name sorts after `after` (NULL or
 * "": from the first), in name order, each as obj(item) makes it (a new
 * reference), at most QUERY_PAGE_BYTES of them.  "next_after" is the
 * page's last name when more remain, else null.  New reference. */
struct json_t *query_name_page(const char *list, query_named_t *items, size_t n,
                               unsigned limit, const char *after,
                               struct json_t *(*obj)(const void *item));

/* Verb handlers (verbs.c); v->req holds the request. */

/* {"events": [{"id" (its position in the log), "kind", "at", "actor",
 * "subject_type", "subject_id", "details"}], "more", "next_after"}: a page
 * of the event log after position req->after, in the log's order, of the
 * kinds starting with req->kind (any when empty); QUERY_EVENTS_DEFAULT by
 * default. */
void query_events(coord_t *c, creq_t *r, const verb_call_t *v);

/* {"jobs": [...], "more", "next_after"}: the jobs in req->ids (all of
 * which must exist; no paging, any state), or a page of jobs after
 * req->after (with req->all, from the first), or else the newest page
 * (then "earlier" says whether older jobs exist).  Default page:
 * QUERY_JOBS_DEFAULT.  Pages hold the unfinished jobs only unless
 * req->finished or req->state (job states, comma-separated: only those)
 * says; req->name "P/E" keeps one episode's jobs, req->mine the caller's
 * (submitted_by = v->actor). */
void query_jobs(coord_t *c, creq_t *r, const verb_call_t *v);

/* About job req->ids[0] (v->spec->arg): QUERY_JOB_SPEC the job with its
 * specification (from its row alone: its attempts and wall time are kept
 * on it), QUERY_JOB_TASKS a page of {"tasks": [...]} after task
 * req->after, each task with its latest attempt (default page
 * QUERY_TASKS_DEFAULT). */
enum { QUERY_JOB_SPEC = 0, QUERY_JOB_TASKS };
void query_job(coord_t *c, creq_t *r, const verb_call_t *v);

/* VERB_ATTEMPTS: {"task_id", "job_id", "attempts": [{"attempt" (the try
 * number), "attempt_id", "worker", "state", "dispatched_at", "started_at",
 * "ended_at", "exit_code", "term_signal", "wall_s", "error"}]}, first try
 * first. */
void query_attempts(coord_t *c, creq_t *r, const verb_call_t *v);

/* A piece of the log of task req->ids[0]'s attempt req->value (0: the
 * latest) from byte req->offset: {"task_id", "attempt_id", "attempt_state",
 * "offset" (where the next piece starts), "data", "done", "truncated",
 * "log_path"}.  At most about 1 MiB per reply; data ends on a whole UTF-8
 * character (bytes that are not UTF-8 show as U+FFFD). */
void query_logs(coord_t *c, creq_t *r, const verb_call_t *v);

/* The cost report of episode req->name ("p/e") grouped by req->by (shot,
 * job or kind), from the ledger through the job_cost view: {"episode",
 * "currency", "by", "total_cost", "failed_cost", "lost_cost", "gpu_hours",
 * "cpu_hours", "energy_kwh", "budget", "left", "<by>s": [...]}.  By job
 * the rows are a page (the jobs after job req->after, at most req->limit,
 * QUERY_COST_JOBS_DEFAULT by default) with "more" and "next_after"; the
 * totals are always the whole episode's. */
void query_cost(coord_t *c, creq_t *r, const verb_call_t *v);

/* The sign-off audit of episode req->name: per shot takes by state, who
 * decided what, what was approved (machine-generated or not, model,
 * outputs with SHA-256) and what each kind of take and failed attempts
 * cost; the totals equal query_cost's. */
void query_audit(coord_t *c, creq_t *r, const verb_call_t *v);

/* Its SQL ($1 project, $2 episode, $3 currency), for tests/unit/test_audit.c. */
extern const char SQL_AUDIT[];

#endif
