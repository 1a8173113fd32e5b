-- 016_json_time.sql: one time format in every JSON document.
--
-- Documents built by PostgreSQL used to carry to_json(timestamptz):
-- "2026-11-30T20:45:28.126255+00:00" with the trailing zeros of the
-- fraction dropped (0 to 6 digits), while those built in the coordinator's
-- memory wrote "2026-11-30T20:45:30.204147Z".  Python before 3.11, which
-- the DCCs embed, cannot parse all of the first kind with one format.
-- Every query that puts a time into a document now wraps it in this
-- function (JSONDOC_TIME_SQL in common/jsondoc.h): RFC 3339 in UTC with
-- 'Z' and exactly six fraction digits, the format of util_iso8601, which
-- datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ') parses.  NULL stays NULL
-- (a JSON null).  STABLE, not IMMUTABLE, because to_char is; a plain SQL
-- body, so that the planner inlines it.
CREATE FUNCTION clapper_json_time(t timestamptz) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;
