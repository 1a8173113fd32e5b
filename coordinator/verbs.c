/*
 * verbs.c - the verb table, see verbs.h.
 */
#include "verbs.h"

#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "httpauth.h"
#include "limit.h"
#include "query.h"
#include "review.h"

#define SUB ROLE_BIT(ROLE_SUBMITTER)
#define SUP ROLE_BIT(ROLE_SUPERVISOR)
#define OPS ROLE_BIT(ROLE_OPERATOR)
#define AUD ROLE_BIT(ROLE_AUDITOR)
#define ADM ROLE_BIT(ROLE_ADMIN)
#define ALL (SUB | SUP | OPS | AUD | ADM)

#define V(name) CLAPPER__VERB__VERB_##name

/* The table is laid out as a table, one verb a row or two. */
// clang-format off

/* Reads: every role, not while stopping. */
#define READ(name, cli_, fn_, what_)                                                           \
  {.verb = V(name), .cli = cli_, .fn = fn_, .roles = ALL, .what = what_}

static const verb_spec_t table[] = {
    {.verb = V(SUBMIT), .cli = "submit", .fn = clients_submit, .roles = SUB | ADM,
     .what = "submitting jobs", .writes = true},
    READ(JOBS, "jobs, wait", query_jobs, "reading jobs"),
    READ(JOB, "job", query_job, "reading jobs"),
    {.verb = V(TASKS), .cli = "tasks", .fn = query_job, .arg = QUERY_JOB_TASKS, .roles = ALL,
     .what = "reading tasks"},
    READ(WORKERS, "workers", clients_workers, "reading workers"),
    {.verb = V(PING), .cli = "local status", .fn = clients_ping, .roles = ALL,
     .what = "checking the coordinator", .while_stopping = true},
    {.verb = V(CANCEL), .cli = "cancel", .fn = clients_control, .arg = JOB_ACT_CANCEL,
     .roles = SUB | OPS | ADM, .own = SUB, .what = "controlling jobs", .writes = true},
    {.verb = V(PAUSE), .cli = "pause", .fn = clients_control, .arg = JOB_ACT_PAUSE,
     .roles = SUB | OPS | ADM, .own = SUB, .what = "controlling jobs", .writes = true},
    {.verb = V(RESUME), .cli = "resume", .fn = clients_control, .arg = JOB_ACT_RESUME,
     .roles = SUB | OPS | ADM, .own = SUB, .what = "controlling jobs", .writes = true},
    {.verb = V(RETRY), .cli = "retry", .fn = clients_control, .arg = JOB_ACT_RETRY,
     .roles = SUB | OPS | ADM, .own = SUB, .what = "controlling jobs", .writes = true},
    {.verb = V(DRAIN), .cli = "drain", .fn = clients_drain, .arg = 1, .roles = OPS | ADM,
     .what = "draining workers", .writes = true},
    {.verb = V(UNDRAIN), .cli = "undrain", .fn = clients_drain, .arg = 0, .roles = OPS | ADM,
     .what = "draining workers", .writes = true},
    READ(LOGS, "logs", query_logs, "reading logs"),
    {.verb = V(EPISODE_WEIGHT), .cli = "episode weight", .fn = clients_episode_weight,
     .roles = OPS | ADM, .what = "setting episode weights", .writes = true},
    READ(RATES, "rates", clients_rates, "reading rates"),
    {.verb = V(RATES_SET), .cli = "rates set", .fn = clients_rates_set, .roles = OPS | ADM,
     .what = "setting rates", .writes = true},
    {.verb = V(BUDGET_SET), .cli = "budget set", .fn = clients_budget, .arg = 1,
     .roles = SUP | ADM, .what = "setting budgets", .writes = true},
    READ(BUDGET_SHOW, "budget show", clients_budget, "reading budgets"),
    READ(COST, "cost", query_cost, "reading cost reports"),
    READ(TAKES, "takes", review_list, "reading takes"),
    {.verb = V(APPROVE), .cli = "approve", .fn = review_decide, .arg = REVIEW_APPROVE,
     .roles = SUP | ADM, .what = "reviewing takes", .writes = true},
    {.verb = V(REJECT), .cli = "reject", .fn = review_decide, .arg = REVIEW_REJECT,
     .roles = SUP | ADM, .what = "reviewing takes", .writes = true},
    {.verb = V(REQUEST_CHANGES), .cli = "request-changes", .fn = review_decide,
     .arg = REVIEW_REQUEST_CHANGES, .roles = SUP | ADM, .what = "reviewing takes",
     .writes = true},
    {.verb = V(RETAKE), .cli = "retake", .fn = review_retake, .roles = SUP | ADM,
     .what = "reviewing takes", .writes = true},
    READ(AUDIT, "audit", query_audit, "reading audits"),
    READ(AUDIT_VERIFY, "audit --verify", audit_verify, "verifying the event log"),
    {.verb = V(USERS_ADD), .cli = "users add", .fn = clients_users_add, .roles = ADM,
     .what = "managing users", .writes = true},
    {.verb = V(USERS_LIST), .cli = "users list", .fn = clients_users_list, .roles = ADM,
     .what = "managing users"},
    {.verb = V(USERS_REMOVE), .cli = "users remove", .fn = clients_users_remove, .roles = ADM,
     .what = "managing users", .writes = true},
    READ(WHOAMI, "whoami", clients_whoami, "asking who you are"),
    READ(AUDIT_HEAD, "audit --head", audit_head, "reading the event log's head"),
    {.verb = V(LIMIT_SET), .cli = "limit set", .fn = limit_set_verb, .roles = OPS | ADM,
     .what = "setting limits", .writes = true},
    {.verb = V(LIMIT_REMOVE), .cli = "limit remove", .fn = limit_remove_verb,
     .roles = OPS | ADM, .what = "setting limits", .writes = true},
    READ(LIMITS, "limits, pools", limit_list_verb, "reading limits and pools"),
    {.verb = V(POOL_SET), .cli = "pool set", .fn = limit_pool_set_verb, .roles = OPS | ADM,
     .what = "setting pools", .writes = true},
    {.verb = V(POOL_REMOVE), .cli = "pool remove", .fn = limit_pool_remove_verb,
     .roles = OPS | ADM, .what = "setting pools", .writes = true},
    READ(ATTEMPTS, "attempts", query_attempts, "reading tasks"),
    READ(WEB_LINK, "web", httpauth_web_link, "signing in on the web"),
    {.verb = V(TOKEN_CREATE), .cli = "token create", .fn = httpauth_token_create,
     .roles = SUB | SUP | OPS | ADM, .what = "creating API tokens", .writes = true},
    READ(TOKEN_LIST, "token list", httpauth_token_list, "listing API tokens"),
    {.verb = V(TOKEN_REVOKE), .cli = "token revoke", .fn = httpauth_token_revoke,
     .roles = SUB | SUP | OPS | ADM, .what = "revoking API tokens", .writes = true},
    READ(EVENTS, "events", query_events, "reading the event log"),
};
// clang-format on

const verb_spec_t *verbs_find(int verb) {
  for (size_t i = 0; i < ARRAY_SIZE(table); i++)
    if (table[i].verb == verb)
      return &table[i];
  return NULL;
}

const verb_spec_t *verbs_all(size_t *n) {
  *n = ARRAY_SIZE(table);
  return table;
}

bool verbs_allowed(const verb_spec_t *spec, int role, char *err, size_t errlen) {
  if (role >= 0 && role < ROLE_COUNT && (spec->roles & ROLE_BIT(role)))
    return true;
  sbuf_t who = {0};
  for (int r = 0; r < ROLE_COUNT; r++)
    if (spec->roles & ROLE_BIT(r))
      sbuf_printf(&who, "%s%s", who.len ? " or " : "", auth_role_name((role_t)r));
  snprintf(err, errlen, "%s needs the %s role (you are %s)", spec->what, who.len ? who.buf : "(no)",
           role >= 0 ? auth_role_name((role_t)role) : "not registered");
  sbuf_free(&who);
  return false;
}
