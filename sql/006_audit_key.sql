-- 006_audit_key.sql: the event log's chain is made by the coordinator, keyed
-- with a secret the database never sees.
--
-- Until now a trigger (events_chain, 004) hashed every event with plain
-- SHA-256, which anyone who can write the table can recompute after
-- changing or dropping rows.  From now on the coordinator computes each
-- row's hash before it writes it (common/evchain.h): HMAC-SHA-256 keyed
-- with KEYS/audit.key (chain 'hmac-sha256'), or plain SHA-256 when it runs
-- without a key (chain 'sha256'), over the row's position in the chain
-- (seq), its fields and the previous row's hash.
--
-- Rows written before this migration keep their hashes and are marked
-- chain 'legacy' with no seq: they come first in the chain, in id order,
-- and are checked with the old formula (clapper_event_hash, kept).  The
-- first row after them chains to the last of them, so once a keyed row
-- follows, rewriting a legacy row breaks the chain there as well.
--
-- event_chain (the last hash, kept by the trigger to show a dropped tail)
-- goes: the owner could rewrite it with the rows.  A dropped tail shows
-- against a head kept elsewhere (`clapper audit --head`) and against the
-- head the running coordinator committed.
DROP TRIGGER events_hash_chain ON events;
DROP FUNCTION events_chain();
DROP TABLE event_chain;

-- ADD COLUMN with a default fills the existing rows without rewriting them
-- (and without firing the append-only triggers); new rows name their
-- chain.
ALTER TABLE events ADD COLUMN chain text NOT NULL DEFAULT 'legacy',
                   ADD COLUMN seq bigint;
ALTER TABLE events ALTER COLUMN chain DROP DEFAULT;
ALTER TABLE events ADD CONSTRAINT events_chain_kind
  CHECK (chain IN ('legacy', 'sha256', 'hmac-sha256')),
  ADD CONSTRAINT events_seq_set CHECK ((chain = 'legacy') = (seq IS NULL)),
  ADD CONSTRAINT events_seq_positive CHECK (seq > 0),
  ADD CONSTRAINT events_hash_size CHECK (length(hash) = 32 AND length(prev_hash) IN (0, 32));
CREATE UNIQUE INDEX events_seq ON events (seq);
