/*
 * main.c - the clapper command: the table of its verbs.
 *
 * Each verb lives in its own client/cmd_<verb>.c; cmd_dispatch (cmd.c)
 * picks one by name, parses its options and prints its outcome.
 */
#include "cmd.h"

static const struct cmd_entry *const verbs[] = {
    &cmd_local_entry,   &cmd_submit_entry, &cmd_jobs_entry,   &cmd_job_entry,
    &cmd_tasks_entry,   &cmd_attempts_entry, &cmd_wait_entry,   &cmd_cancel_entry, &cmd_pause_entry,
    &cmd_resume_entry,  &cmd_retry_entry,  &cmd_logs_entry,   &cmd_workers_entry,
    &cmd_drain_entry,   &cmd_undrain_entry, &cmd_episode_entry, &cmd_rates_entry,
    &cmd_budget_entry,  &cmd_cost_entry,   &cmd_keygen_entry, &cmd_users_entry,
    &cmd_whoami_entry,
    &cmd_takes_entry,   &cmd_approve_entry, &cmd_reject_entry, &cmd_request_changes_entry,
    &cmd_retake_entry,  &cmd_audit_entry,  &cmd_events_entry,
    &cmd_limit_entry,   &cmd_limits_entry, &cmd_pool_entry,   &cmd_pools_entry,
    &cmd_web_entry,     &cmd_token_entry,
};

int main(int argc, char **argv) { return cmd_dispatch(verbs, ARRAY_SIZE(verbs), argc, argv); }
