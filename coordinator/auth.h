/*
 * auth.h - who may connect, and as whom.
 *
 * With --keys DIR both ROUTER sockets are CURVE servers (DIR/coordinator.key)
 * and a ZAP handler, answering from memory on the loop, admits only public
 * keys in the registry: role 'worker' keys on the workers socket, the
 * other roles on the clients socket.  ZeroMQ then stamps every message with
 * the public key it authenticated (User-Id, the key's Z85 text), and every
 * request and worker message is looked up in the registry by that key when
 * it arrives: the actor of every action is the name the key is registered
 * under now, never one the client claims, and a key removed (or replaced
 * by another key under the same name) stops at once, also on a connection
 * that was open before.  The registry (table keys) is changed by admins
 * with `clapper users`.  Without --keys nothing is authenticated and every
 * client acts as an admin named "anonymous".
 * What each role may do is the verb table's business (verbs.h).
 */
#ifndef CLAPPER_AUTH_H
#define CLAPPER_AUTH_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "model.h"

/* The roles a key is registered with; a verb lists the ones allowed as
 * ROLE_BIT()s.  Workers only ever use the workers socket. */
typedef enum role {
  ROLE_SUBMITTER = 0,
  ROLE_SUPERVISOR,
  ROLE_OPERATOR,
  ROLE_AUDITOR,
  ROLE_ADMIN,
  ROLE_WORKER,
  ROLE_COUNT
} role_t;
#define ROLE_BIT(r) (1u << (r))

/* "submitter", ...; "?" for a value out of range. */
const char *auth_role_name(role_t r);
/* The role named name, or -1. */
int auth_role_parse(const char *name);

/* Loads the registry and, with admin_pub (a .pub file), registers that
 * key as an admin unless its name is registered already.  Start-up only
 * (synchronous).  0, or -1 with err. */
int auth_load(coord_t *c, PGconn *conn, const char *admin_pub, char *err, size_t errlen)
    MUSTCHECK;

/* With c->cfg.keys_dir: loads the coordinator's key pair and starts the
 * ZAP handler (before any socket binds).  0, or -1 with err. */
int auth_start(coord_t *c, char *err, size_t errlen) MUSTCHECK;

/* Whether a ZeroMQ endpoint to bind stays on this host: ipc:// and
 * inproc://, or tcp:// on a loopback address (127.0.0.0/8, ::1, localhost,
 * the interface lo).  Without --keys only these are bound, unless
 * --insecure. */
bool auth_endpoint_local(const char *endpoint);

/* True once auth_start turned CURVE on (with --keys). */
bool auth_secure(const coord_t *c);

/* Makes sock a CURVE server for the domain "workers" or "clients" (no-op
 * without keys). */
void auth_server(coord_t *c, void *sock, const char *domain);

/* The role of the key a message was authenticated with (its User-Id, the
 * key's Z85 text), looked up now: ROLE_ADMIN for everyone without keys, -1
 * for a key not (or no longer) registered. */
int auth_role_of(const coord_t *c, const char *key);

/* The name that key is registered under now: "anonymous" without keys,
 * NULL for a key not (or no longer) registered. */
const char *auth_name_of(const coord_t *c, const char *key);

/* The role of the key registered under name now (the HTTP side's
 * sessions and tokens are checked by name, httpauth.h): ROLE_ADMIN for
 * everyone without keys, -1 when no key is registered under name. */
int auth_role_of_name(const coord_t *c, const char *name);

/* Registry changes (admin): 0, or -1 with a code ("bad_request",
 * "conflict", "not_found") and a one-line reason.  The reply document
 * {"user": {...}} is returned in *doc (caller owns it). */
struct json_t;
int auth_add(coord_t *c, const char *name, const char *role, const char *public_key,
             const char *actor, struct json_t **doc, const char **code, char *err,
             size_t errlen);
/* Removing a worker's key also ends that worker's session at once
 * (workers_revoke); removing any key ends its browser sessions and
 * revokes its API tokens (httpauth_key_removed). */
int auth_remove(coord_t *c, const char *name, const char *actor, struct json_t **doc,
                const char **code, char *err, size_t errlen);
/* {"users": [...]}: every user, in registry order (new reference). */
struct json_t *auth_list(const coord_t *c);
/* {"users": [...], "more", "next_after"}: a page of at most limit users
 * whose names sort after `after` (NULL: from the first), in name order
 * (query_name_page; new reference). */
struct json_t *auth_list_page(const coord_t *c, unsigned limit, const char *after);

/* Stops the ZAP handler and releases the registry. */
void auth_free(coord_t *c);

#endif
