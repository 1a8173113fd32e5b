/*
 * keys.h - CURVE key files and the client side of a CURVE connection.
 *
 * A key pair lives in two files of "name = value" lines (the format of
 * config.h's files; '#' starts a comment):
 *
 *   NAME.key  (mode 0600)                 NAME.pub  (mode 0644)
 *   # clapper key pair of NAME: ...        # clapper public key of NAME
 *   name = NAME                            name = NAME
 *   public-key = <Z85, 40 characters>      public-key = <Z85>
 *   secret-key = <Z85, 40 characters>
 *
 * NAME is an identifier ([A-Za-z0-9][A-Za-z0-9_.-]{0,63}); it is the name the
 * key stands for in the coordinator's registry (a user, or a worker's
 * name).  Keys are ZeroMQ CURVE keys in Z85 (zmq_curve_keypair).  A file
 * with a secret key that others may read is refused.  The coordinator's
 * own pair is conventionally coordinator.key/.pub; a client that is given
 * NAME.key finds coordinator.pub next to it unless told otherwise.
 */
#ifndef CLAPPER_KEYS_H
#define CLAPPER_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define KEYS_Z85_LEN 40 /* a 32-byte CURVE key in Z85 */
#define KEYS_FILE_MAX 4096
#define KEYS_SERVER_NAME "coordinator" /* coordinator.key / coordinator.pub */

/* One key file's content.  (Not key_t: <sys/types.h> has one.) */
typedef struct keys_key {
  char name[IDENT_MAX + 1];
  char public_key[KEYS_Z85_LEN + 1];
  char secret_key[KEYS_Z85_LEN + 1]; /* "" when the file holds none (a .pub) */
} keys_key_t;

/* "DIR/NAME.EXT" (ext "key" or "pub"), newly allocated. */
char *keys_path(const char *dir, const char *name, const char *ext);

/* The server key a client uses by default with key file keyfile:
 * "coordinator.pub" in keyfile's directory (caller frees). */
char *keys_default_server(const char *keyfile);

/* Makes a new CURVE key pair for name (an identifier) and writes
 * DIR/NAME.key (0600) and DIR/NAME.pub (0644).  Each file is written to a
 * temporary file, synced and then linked to its name, which fails when the
 * name exists: a key is never overwritten, and readers see a whole file or
 * none.  Both are refused when either exists; when the .pub cannot be
 * written the new .key is removed again.  With out non-NULL the new key
 * (secret included) is stored there.  Returns 0, or -1 with err. */
int keys_generate(const char *name, const char *dir, keys_key_t *out, char *err,
                  size_t errlen) MUSTCHECK;

/* Writes DIR/NAME.pub (0644) for key (its secret is not written), refusing
 * to overwrite an existing file as keys_generate does.  0 or -1 with err. */
int keys_write_public(const keys_key_t *key, const char *dir, char *err, size_t errlen)
    MUSTCHECK;

/* Reads a .key or .pub file (at most KEYS_FILE_MAX bytes) into out.  The
 * name must be an identifier and each key 40 characters of Z85 that
 * decode to 32 bytes; a secret key must belong to the public key, and a
 * file holding one must not be accessible by group or others ("PATH is
 * readable by others (mode 0644): chmod 600 PATH").  Unknown or repeated
 * settings are refused.  Returns 0, or -1 with err naming path (and the
 * line).  Wipe out->secret_key with keys_wipe when done with it. */
int keys_load(const char *path, keys_key_t *out, char *err, size_t errlen) MUSTCHECK;

/* Zeroes key, its secret included, in a way the compiler keeps. */
void keys_wipe(keys_key_t *key);

/* True when s is 40 characters of Z85 that decode to a 32-byte key. */
bool keys_z85_valid(const char *s);

/* Makes sock (a DEALER, before zmq_connect) a CURVE client: loads keyfile
 * (a .key file: it must hold a secret key) and the server's public key
 * from server_pub (a .pub or .key file; NULL: keys_default_server) and
 * sets ZMQ_CURVE_SERVERKEY, ZMQ_CURVE_PUBLICKEY and ZMQ_CURVE_SECRETKEY.
 * Copies of the secret are wiped before returning.  With name non-NULL the
 * key's name is copied there (IDENT_MAX + 1 bytes).  Returns 0, or -1 with
 * err naming the file at fault. */
int keys_client(void *sock, const char *keyfile, const char *server_pub, char *name,
                char *err, size_t errlen) MUSTCHECK;

/* The connection events of a CURVE client, watched so that a refused key
 * is reported instead of looking like silence: keys_monitor_open starts a
 * ZeroMQ monitor on sock (in zctx) for handshake failures and successes
 * and returns the PAIR socket to read them from (poll it for ZMQ_POLLIN),
 * or NULL with err.  Close it with keys_monitor_close before sock. */
void *keys_monitor_open(void *zctx, void *sock, char *err, size_t errlen);

/* What keys_monitor_read found. */
typedef enum keys_event {
  KEYS_EVENT_NONE = 0,   /* nothing (more) to read now */
  KEYS_EVENT_OK,         /* a handshake succeeded */
  KEYS_EVENT_REFUSED,    /* the server refused our key (its ZAP handler said no) */
  KEYS_EVENT_MISMATCH,   /* the server does not use CURVE */
  KEYS_EVENT_FAILED,     /* a handshake failed otherwise (wrong server key, protocol) */
  KEYS_EVENT_OTHER,      /* an event we do not use */
} keys_event_t;

/* Reads one event from a monitor without blocking.  With gave_up not
 * NULL, *gave_up tells whether ZeroMQ dropped the connection for good:
 * after a refusal or another protocol error (KEYS_EVENT_REFUSED,
 * KEYS_EVENT_MISMATCH, some KEYS_EVENT_FAILED) libzmq 4.3 does not
 * reconnect that endpoint by itself, so a long-lived client must
 * zmq_disconnect and zmq_connect it again. */
keys_event_t keys_monitor_read(void *mon, bool *gave_up);

/* keys_monitor_open watching, besides the handshakes, the ZeroMQ events
 * in extra (ZMQ_EVENT_CONNECTED, ZMQ_EVENT_DISCONNECTED, ...): for a
 * client that tells "nothing accepted a connection" from "connected, but
 * no answer".  Works on plain sockets too (their handshake is ZMTP's). */
void *keys_monitor_open_with(void *zctx, void *sock, int extra, char *err, size_t errlen);

/* keys_monitor_read that also says which ZeroMQ event it read (*raw, a
 * ZMQ_EVENT_* value; 0 with KEYS_EVENT_NONE) and for which endpoint, as
 * ZeroMQ names it (copied into endpoint, at most len bytes; "" when it
 * does not say).  raw and endpoint may be NULL. */
keys_event_t keys_monitor_read_at(void *mon, bool *gave_up, int *raw, char *endpoint, size_t len);

/* Stops the monitor of sock and closes mon; sets *mon to NULL. */
void keys_monitor_close(void *sock, void **mon);

#endif
