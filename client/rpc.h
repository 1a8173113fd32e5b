/*
 * rpc.h - one request to the coordinator and its reply.
 *
 * A call connects a fresh DEALER socket (LINGER 0) to the coordinator's
 * client endpoint, sends one Request envelope carrying a new request id,
 * and waits (zmq_poll) until a Reply with the same id arrives or the time
 * is up.  Replies with another id are ignored; replies are size-checked by
 * codec_recv against CODEC_MAX_CLIENT_MSG before they are unpacked.
 */
#ifndef CLAPPER_CLIENT_RPC_H
#define CLAPPER_CLIENT_RPC_H

#include <jansson.h>
#include <signal.h>

#include "clapper.pb-c.h"
#include "output.h"
#include "util.h"

/* Sends req (rpc_call sets req->id) to endpoint and waits at most
 * timeout_ms for the answer.  Returns 0 with *out set to a successful
 * reply (caller releases it with rpc_reply_free), or -1 with *out NULL and
 * err filled:
 *   "unavailable" - no reply within timeout_ms (message names endpoint and
 *                   time), or the endpoint could not be used;
 *   "protocol"    - the coordinator answered with a message we refuse;
 *   any code of a Reply with ok == false, with its message. */
int rpc_call(const char *endpoint, Clapper__Request *req, int timeout_ms,
             Clapper__Reply **out, cli_error_t *err) MUSTCHECK;

/* Like rpc_call, and parses the reply's JSON document.  Returns the
 * document (caller owns it: json_decref) or NULL with err filled
 * ("protocol" when the JSON does not parse or is not an object). */
json_t *rpc_call_json(const char *endpoint, Clapper__Request *req, int timeout_ms,
                      cli_error_t *err) MUSTCHECK;

/* Lets a signal handler cut a call short: once *flag is non-zero, rpc_call
 * stops waiting and fails with code "interrupted".  The handler sets *flag
 * and must be installed without SA_RESTART, so that the signal also ends
 * the wait in zmq_poll.  flag must outlive its use; NULL (the default)
 * turns this off. */
void rpc_set_interrupt(volatile sig_atomic_t *flag);

/* Releases a reply from rpc_call and sets *reply to NULL. */
void rpc_reply_free(Clapper__Reply **reply);

/* The id the next request will carry (random start, then incrementing);
 * exposed for tests. */
uint64_t rpc_next_id(void);

#endif
