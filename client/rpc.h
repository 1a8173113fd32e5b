/*
 * rpc.h - one request to the coordinator and its reply.
 *
 * A call connects a fresh DEALER socket (LINGER 0, IMMEDIATE) to every
 * endpoint of the coordinator's list ("tcp://a:7711,tcp://b:7711"), sends
 * one Request envelope carrying a new request id, and waits (zmq_poll)
 * until a Reply with the same id arrives or the time is up.  Only the
 * leading coordinator binds its client endpoint (a standby binds when it
 * takes over), and with ZMQ_IMMEDIATE the request is queued only on a
 * connection whose handshake is done: it goes to the first coordinator
 * that accepts, which is the leader, without asking each in turn.
 * Replies with another id are ignored; replies are size-checked by
 * codec_recv against CODEC_MAX_CLIENT_MSG before they are unpacked.
 *
 * A monitor watches the connections (zmq_socket_monitor), so that the
 * failures read differently: nothing accepted a connection ("cannot reach
 * the coordinator at X"), a connection but no handshake (the request was
 * not sent), a refused key, and a request sent but not answered ("no
 * reply within T ms (outcome unknown)").  With a key (rpc_keys_t) the
 * socket is a CURVE client (keys_client); a coordinator that does not use
 * keys fails the call at once instead of looking like silence.
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

/* The most endpoints one --coordinator list may name. */
#define RPC_MAX_ENDPOINTS 16

/* Splits a --coordinator list ("a,b": endpoints joined by commas, none
 * empty) into eps[0..*n) (each allocated; the caller frees them).  Returns
 * 0, or -1 with a one-line reason in err (nothing allocated then) when an
 * endpoint is empty or there are more than max. */
int rpc_endpoints_split(const char *list, char **eps, size_t max, size_t *n, char *err,
                        size_t errlen) MUSTCHECK;

/* Sends req (rpc_call sets req->id) to the coordinator that leads among
 * endpoint (a list, see rpc_endpoints_split) as keys (may be NULL) and
 * waits at most timeout_ms for the answer.  Returns 0 with *out set to a
 * successful reply (caller releases it with rpc_reply_free), or -1 with
 * *out NULL and err filled:
 *   "usage"           - the list is malformed;
 *   "unavailable"     - the request was not sent: "cannot reach the
 *                       coordinator at X: nothing accepted a connection
 *                       within T ms (...)", or a connection was accepted
 *                       but its handshake never finished ("no reply within
 *                       T ms from the coordinator at X: ... the request
 *                       was not sent", naming the coordinator's public key
 *                       when a CURVE handshake failed), an endpoint ZeroMQ
 *                       cannot use, or (with a key) a coordinator that
 *                       does not use keys;
 *   "no_reply"        - the request was sent and no answer came: "no reply
 *                       within T ms (outcome unknown): ...", or the
 *                       connection closed before the answer ("no reply
 *                       (outcome unknown): ...");
 *   "invalid_key"     - the key files cannot be used (keys_client's reason);
 *   "unauthenticated" - the coordinator refused the key ("the coordinator
 *                       at X refused the key K (NAME): ...");
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
