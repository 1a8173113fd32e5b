-- 004_signoff.sql: who may do what, takes and their review, approval
-- gates, and a tamper-evident event log.

-- The key registry: every CURVE public key the coordinator admits, with the
-- name and role it stands for.  Workers have the role 'worker' and their
-- key's name is their worker name.
CREATE TABLE keys (
  public_key text PRIMARY KEY CHECK (length(public_key) = 40),
  name       clapper_ident NOT NULL UNIQUE,
  role       text NOT NULL CHECK (role IN ('submitter', 'supervisor', 'operator', 'auditor',
                                           'admin', 'worker')),
  added_by   text NOT NULL,
  added_at   timestamptz NOT NULL DEFAULT now()
);

-- A take is a reviewable result: one per succeeded task of a generate job,
-- one per render job once all its tasks succeeded.  Decisions are final.
CREATE TABLE takes (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id      bigint NOT NULL REFERENCES jobs (id),
  task_id     bigint REFERENCES tasks (id),       -- NULL for a render's take
  attempt_id  bigint REFERENCES attempts (id),    -- the attempt that made it (generate)
  kind        text NOT NULL CHECK (kind IN ('generate', 'render')),
  state       text NOT NULL DEFAULT 'pending_review'
              CHECK (state IN ('pending_review', 'approved', 'changes_requested', 'rejected')),
  seed        bigint,
  take        integer,                             -- take number within its job
  outputs     jsonb NOT NULL DEFAULT '[]',         -- [{"path", "size", "sha256"}]
  provenance  jsonb NOT NULL DEFAULT '{}',         -- the job's, plus seed and attempt
  created_at  timestamptz NOT NULL DEFAULT now(),
  decided_by  text,
  decided_at  timestamptz,
  note        text NOT NULL DEFAULT '',
  CHECK ((state = 'pending_review') = (decided_by IS NULL)),
  UNIQUE (job_id, task_id)
);
CREATE INDEX takes_job ON takes (job_id);
-- A render job makes one take.
CREATE UNIQUE INDEX takes_one_render ON takes (job_id) WHERE task_id IS NULL;

-- Decisions are final: a decided take's state never changes again.
CREATE FUNCTION takes_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.state <> 'pending_review' AND NEW.state IS DISTINCT FROM OLD.state THEN
    RAISE EXCEPTION 'take % was already %: decisions are final', OLD.id, OLD.state
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER takes_decisions_final BEFORE UPDATE ON takes
  FOR EACH ROW EXECUTE FUNCTION takes_final();

-- A retake is a new job for the same shot and spec with the next seed; its
-- takes count as takes of the job it retakes (gate_root) for approval gates.
ALTER TABLE jobs ADD COLUMN retake_of bigint REFERENCES takes (id);
ALTER TABLE jobs ADD COLUMN gate_root bigint REFERENCES jobs (id);
-- The approved output a gated job runs on ({approved_output}).
ALTER TABLE jobs ADD COLUMN approved_output text;

-- Tamper evidence: every event carries the hash of its content chained to
-- the previous event's hash.  The chain is computed here, in one place,
-- for every insert; `clapper audit --verify` recomputes it.
ALTER TABLE events ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea;

CREATE FUNCTION clapper_event_hash(id bigint, at timestamptz, actor text, kind text,
                                   subject_type text, subject_id text, details jsonb,
                                   prev bytea)
  RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT sha256(convert_to(concat_ws(E'\x1f', id::text,
                   (extract(epoch FROM at) * 1000000)::bigint::text, actor, kind,
                   subject_type, subject_id, details::text, encode(prev, 'hex')), 'UTF8')) $$;

CREATE TABLE event_chain (
  one       boolean PRIMARY KEY DEFAULT true CHECK (one),
  last_id   bigint NOT NULL,
  last_hash bytea NOT NULL
);

CREATE FUNCTION events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  prev bytea;
BEGIN
  SELECT last_hash INTO prev FROM event_chain FOR UPDATE;
  IF NOT FOUND THEN
    prev := '\x'::bytea;
  END IF;
  NEW.prev_hash := prev;
  NEW.hash := clapper_event_hash(NEW.id, NEW.at, NEW.actor, NEW.kind, NEW.subject_type,
                                 NEW.subject_id, NEW.details, prev);
  INSERT INTO event_chain (last_id, last_hash) VALUES (NEW.id, NEW.hash)
    ON CONFLICT (one) DO UPDATE SET last_id = EXCLUDED.last_id, last_hash = EXCLUDED.last_hash;
  RETURN NEW;
END;
$$;

-- Events written before this migration start the chain, in id order.
DO $$
DECLARE
  r record;
  prev bytea := '\x'::bytea;
BEGIN
  ALTER TABLE events DISABLE TRIGGER events_append_only;
  FOR r IN SELECT * FROM events ORDER BY id LOOP
    UPDATE events SET prev_hash = prev,
                      hash = clapper_event_hash(r.id, r.at, r.actor, r.kind, r.subject_type,
                                                r.subject_id, r.details, prev)
      WHERE id = r.id RETURNING hash INTO prev;
  END LOOP;
  ALTER TABLE events ENABLE TRIGGER events_append_only;
  IF prev <> '\x'::bytea THEN
    INSERT INTO event_chain (last_id, last_hash) SELECT max(id), prev FROM events;
  END IF;
END;
$$;
ALTER TABLE events ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL;

CREATE TRIGGER events_hash_chain BEFORE INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION events_chain();
