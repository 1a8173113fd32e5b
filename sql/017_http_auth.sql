-- 017_http_auth.sql: API tokens, for scripts that use the HTTP API.
--
-- A token acts for its owner (the key name that created it) with a role
-- no higher than the owner's (an admin may give any role but worker; anyone
-- else only their own).  Only the SHA-256 of the token's text is kept,
-- never the token: whoever reads this table cannot use what is in it.
-- `clapper token create` inserts, `clapper token revoke` sets revoked_at;
-- rows are never deleted (the event log names them by id).  The
-- coordinator loads every row at start and checks requests from memory.
-- Browser sessions and sign-in links are not here: they live in the
-- coordinator's memory only (a restart signs people out).
CREATE TABLE tokens (
  id         bigint PRIMARY KEY CHECK (id > 0),
  name       clapper_ident NOT NULL,
  owner      clapper_ident NOT NULL,
  role       text NOT NULL CHECK (role IN ('submitter', 'supervisor', 'operator', 'auditor',
                                           'admin')),
  hash       text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  created_by text NOT NULL,
  CHECK (expires_at > created_at)
);

-- A name is unique among its owner's tokens that are not revoked, so a
-- revoked token's name can be given again.
CREATE UNIQUE INDEX tokens_owner_name ON tokens (owner, name) WHERE revoked_at IS NULL;
