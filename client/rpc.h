/*
 * rpc.h - one request to the coordinator and its reply.
 *
 * A call connects a fresh DEALER socket (LINGER 0) to the coordinator's
 * client endpoint, sends one Request envelope carrying a new request id,
 * and waits (zmq_poll) until a Reply with the same id arrives or the time
 * is up.  Replies with another id are ignored; replies are size-checked by
 * codec_recv against CODEC_MAX_CLIENT_MSG before they are unpacked.
 *
 * With a key (rpc_keys_t) the socket is a CURVE client (keys_client) and
 * a monitor watches the handshake: a key the coordinator refuses, or a
 * coordinator that does not use keys, fails the call at once instead of
 * looking like silence.
 */
#ifndef CLAPPER_CLIENT_RPC_H
#define CLAPPER_CLIENT_RPC_H

#include <jansson.h>
#include <signal.h>

#include "clapper.pb-c.h"
#include "output.h"
#include "util.h"

/* Who the client is: key, a NAME.key file, makes the connection a CURVE
 * client; server_key is the coordinator's public key file (NULL:
 * coordinator.pub next to key).  A NULL rpc_keys_t, or a NULL key, means a
 * plain connection.  Both strings are borrowed. */
typedef struct rpc_keys {
  const char *key;
  const char *server_key;
} rpc_keys_t;

/* Sends req (rpc_call sets req->id) to endpoint as keys (may be NULL) and
 * waits at most timeout_ms for the answer.  Returns 0 with *out set to a
 * successful reply (caller releases it with rpc_reply_free), or -1 with
 * *out NULL and err filled:
 *   "unavailable"     - no reply within timeout_ms (message names endpoint
 *                       and time, and with a key: "(is the key FILE
 *                       registered? see clapper users)"), the endpoint
 *                       could not be used, or (with a key) the coordinator
 *                       does not use keys;
 *   "invalid_key"     - the key files cannot be used (keys_client's reason);
 *   "unauthenticated" - the coordinator refused the key;
 *   "protocol"        - the coordinator answered with a message we refuse;
 *   any code of a Reply with ok == false, with its message. */
int rpc_call_as(const char *endpoint, const rpc_keys_t *keys, Clapper__Request *req,
                int timeout_ms, Clapper__Reply **out, cli_error_t *err) MUSTCHECK;

/* rpc_call_as without keys: a plain connection. */
int rpc_call(const char *endpoint, Clapper__Request *req, int timeout_ms,
             Clapper__Reply **out, cli_error_t *err) MUSTCHECK;

/* Like rpc_call_as, and parses the reply's JSON document.  Returns the
 * document (caller owns it: json_decref) or NULL with err filled
 * ("protocol" when the JSON does not parse or is not an object). */
json_t *rpc_call_json_as(const char *endpoint, const rpc_keys_t *keys, Clapper__Request *req,
                         int timeout_ms, cli_error_t *err) MUSTCHECK;

/* rpc_call_json_as without keys. */
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
