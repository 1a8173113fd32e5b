/*
 * jsondoc.h - the JSON documents clapper prints and serves (docs/json.md):
 * their schema version, their one time format and how their numbers are
 * written.
 *
 * Every document, built by PostgreSQL, by the coordinator or by the
 * clapper command, follows the same three rules, each kept in one place:
 *
 *   version  every document is an object whose first member is
 *            "version": JSONDOC_VERSION.  The coordinator adds it to every
 *            reply on the way out (jsondoc_versioned in clients_reply_ok),
 *            the clapper command to the documents it builds itself (its
 *            errors, `local`, `keygen`, `logs`, `wait`) when it prints them
 *            (jsondoc_dump with JSONDOC_ADD_VERSION).
 *   times    RFC 3339 in UTC, 'Z', exactly six fraction digits:
 *            "2026-11-30T20:45:28.126255Z", which Python 3.6's
 *            datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ") parses.  From
 *            memory: util_iso8601 (util.h).  From PostgreSQL: the SQL
 *            function clapper_json_time(timestamptz) (sql/016_json_time.sql),
 *            named by JSONDOC_TIME_SQL; every query that puts a timestamptz
 *            into a document wraps it in that function (to_json would write
 *            "+00:00" and drop trailing zeros).
 *   numbers  money is a decimal string with six decimals (money.h), never a
 *            number.  Seconds carry at most 3 decimals, hours and kWh at
 *            most 6: whoever computes them rounds them (PostgreSQL's
 *            round(x, 3) / round(x, 6)), and jsondoc_real prints a real as
 *            the shortest decimal that reads back as the same double, so a
 *            number crosses jansson (parsed into a double, printed again)
 *            without gaining digits: 0.040384 stays 0.040384, never
 *            0.040384000000000003 nor 4.0384e-02.
 */
#ifndef CLAPPER_JSONDOC_H
#define CLAPPER_JSONDOC_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

/* The schema version of every document; raised only when a field changes
 * meaning or goes away (new fields may appear at any time). */
#define JSONDOC_VERSION 1

/* The SQL function that writes a timestamptz as a document's time (text,
 * NULL for NULL), and the SQL of an expression written so, for building
 * queries: JSONDOC_TIME("j.submitted_at") " AS submitted_at". */
#define JSONDOC_TIME_SQL "clapper_json_time"
#define JSONDOC_TIME(expr) JSONDOC_TIME_SQL "(" expr ")"

/* The text of a JSON object document with "version": JSONDOC_VERSION as
 * its first member ("{...}" becomes "{\"version\":1,...}", "{}" becomes
 * "{\"version\":1}"), for a document that is text already (PostgreSQL's,
 * or one jansson dumped).  Text that does not start with '{' (after
 * white space) is copied unchanged.  Caller frees. */
char *jsondoc_versioned(const char *text);

/* Formats v as the shortest plain decimal ("%.Nf", N from 1 up) that
 * strtod reads back as exactly v, with at least one fraction digit: 2.0,
 * 0.040384, 0.000018, -1.5.  A value that needs more than 17 decimals
 * (below about 1e-6 with many significant digits) falls back to "%.17g";
 * a non-finite one is written "null" (JSON has no such number).  Assumes
 * the C locale's '.' (clapper never calls setlocale).  out holds at least
 * JSONDOC_REAL_MAX bytes; longer results are cut. */
#define JSONDOC_REAL_MAX 400
void jsondoc_real(double v, char *out, size_t outlen);

/* Flags of jsondoc_dump. */
enum {
  JSONDOC_ADD_VERSION = 1, /* an object without a "version" member gets one, first */
};

/* Appends v as JSON text to out: indent 0 is compact ("," and ":" without
 * spaces, as jansson's JSON_COMPACT), indent N > 0 puts each member and
 * element on a line of its own, N spaces deeper per level (the layout of
 * jansson's JSON_INDENT(N)); no newline at the end.  Members come in the
 * object's order; strings are UTF-8, with '"', '\\' and control characters
 * escaped; integers are decimal; reals as jsondoc_real writes them. */
void jsondoc_dump(const json_t *v, unsigned indent, int flags, sbuf_t *out);

#endif
