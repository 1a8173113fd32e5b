#!/usr/bin/env python3
"""openapi_check.py - checks docs/openapi.yaml against the coordinator.

Used by tests/integration/t_openapi.sh (python3-yaml, python3-jsonschema):

  openapi_check.py SPEC lint
      the document is OpenAPI 3.1.0, every schema is a valid JSON Schema
      (draft 2020-12), every $ref resolves, every operation has an
      operationId and answers 401.
  openapi_check.py SPEC routes SRC_DIR
      the route tables of SRC_DIR/coordinator/*.c (every {"METHOD", "/path"}
      row given to http_add_routes, and api.c's R(...) rows) and the
      document's operations are the same method+path pairs, both ways.
  openapi_check.py SPEC served BASE_URL SRC_DIR
      every documented operation is served by the running coordinator: a
      request to it (ids that do not exist, bodies that are refused) is not
      answered 405 or 404 "nothing is served at".
  openapi_check.py SPEC validate METHOD PATH STATUS FILE [CONTENT_TYPE]
      the answer in FILE, got with STATUS for METHOD PATH (a concrete path,
      query string allowed), is a documented status of that operation and
      validates against the schema the document gives for it.

An operation with `x-clapper-source: FILE` is served by that module: while
FILE has no route table yet (the module is not merged), the operation is
reported as pending and left out of `routes` and `served`.

Exit status 0 when everything holds; 1 with one line per problem on
standard error otherwise; 2 for a usage error.
"""
import glob
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

import jsonschema
import yaml

METHODS = ("get", "post", "put", "delete", "patch", "head", "options")


def die(msg):
    print("openapi_check: " + msg, file=sys.stderr)
    sys.exit(1)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def operations(spec):
    """(METHOD, template, op) for every operation of the document."""
    for template, item in spec.get("paths", {}).items():
        for m in METHODS:
            if m in item:
                yield m.upper(), template, item[m]


def generic(template):
    """/api/v1/jobs/{job_id}/tasks -> /api/v1/jobs/{}/tasks (the server's form)."""
    return re.sub(r"\{[^}/]*\}", "{}", template)


def pointer(spec, ref):
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


def deref(spec, node):
    """Follows a $ref of the document (responses, parameters, bodies)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 10:
        node = pointer(spec, node["$ref"])
        seen += 1
    return node


def all_refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from all_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from all_refs(v)


def validator_for(spec, schema):
    """A draft 2020-12 validator for a schema of the document: the
    components travel along in the root, so that "#/components/..."
    references resolve without a resolver (jsonschema 4.10 to 4.26)."""
    root = dict(schema)
    root["components"] = spec.get("components", {})
    return jsonschema.Draft202012Validator(root, format_checker=None)


# ------------------------------------------------------------------ lint
def cmd_lint(spec):
    problems = []
    if spec.get("openapi") != "3.1.0":
        problems.append("openapi: %r, expected 3.1.0" % spec.get("openapi"))
    if spec.get("jsonSchemaDialect") not in (None, "https://json-schema.org/draft/2020-12/schema"):
        problems.append("jsonSchemaDialect is not draft 2020-12")
    for ref in sorted(set(all_refs(spec))):
        try:
            pointer(spec, ref)
        except (KeyError, TypeError):
            problems.append("$ref %s does not resolve" % ref)
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            problems.append("schema %s: %s" % (name, e.message))
    ids = set()
    for method, template, op in operations(spec):
        where = "%s %s" % (method, template)
        oid = op.get("operationId")
        if not oid:
            problems.append(where + ": no operationId")
        elif oid in ids:
            problems.append(where + ": operationId %s used twice" % oid)
        ids.add(oid)
        responses = op.get("responses", {})
        if not any(s.startswith("2") or s.startswith("3") for s in responses):
            problems.append(where + ": no success response")
        public = op.get("security") == []
        if not public and "401" not in responses:
            problems.append(where + ": needs an identity but documents no 401")
        for status, resp in responses.items():
            resp = deref(spec, resp)
            for ctype, media in resp.get("content", {}).items():
                if "schema" not in media:
                    problems.append("%s %s %s: no schema" % (where, status, ctype))
                elif ctype == "application/json":
                    try:
                        jsonschema.Draft202012Validator.check_schema(media["schema"])
                    except jsonschema.exceptions.SchemaError as e:
                        problems.append("%s %s: %s" % (where, status, e.message))
        declared = set(re.findall(r"\{([^}/]*)\}", template))
        params = [deref(spec, p) for p in item_params(spec, template) + op.get("parameters", [])]
        in_path = {p["name"] for p in params if p.get("in") == "path"}
        if declared != in_path:
            problems.append("%s: path parameters %s, documented %s" %
                            (where, sorted(declared), sorted(in_path)))
    return problems


def item_params(spec, template):
    return list(spec["paths"][template].get("parameters", []))


# ------------------------------------------------------------------ routes
ROUTE_RE = re.compile(r'"(GET|POST|PUT|DELETE|PATCH)"\s*,\s*"(/[^"]*)"')


def server_routes(src):
    """Method+path pairs of every route table in the coordinator's sources."""
    found = {}
    for path in sorted(glob.glob(os.path.join(src, "coordinator", "*.c"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        # Only the rows of route tables: a method string right before a path.
        for m in ROUTE_RE.finditer(text):
            found[(m.group(1), m.group(2))] = os.path.basename(path)
    return found


def pending(op, src):
    """Whether op's module has no route table in src yet."""
    f = op.get("x-clapper-source")
    if not f:
        return False
    try:
        with open(os.path.join(src, f), encoding="utf-8") as fh:
            return not ROUTE_RE.search(fh.read())
    except OSError:
        return True


def report_pending(spec, src):
    for m, t, op in operations(spec):
        if pending(op, src):
            print("pending: %s %s (%s has no routes yet)" % (m, t, op["x-clapper-source"]))


def cmd_routes(spec, src):
    served = server_routes(src)
    if len(served) < 10:
        return ["found only %d routes in %s/coordinator/*.c: the table's form changed?" %
                (len(served), src)]
    report_pending(spec, src)
    documented = {(m, generic(t)) for m, t, op in operations(spec) if not pending(op, src)}
    problems = []
    for (m, p), where in sorted(served.items()):
        if (m, p) not in documented:
            problems.append("%s %s (%s) is served but not in the document" % (m, p, where))
    for m, p in sorted(documented):
        if (m, p) not in served:
            problems.append("%s %s is in the document but in no route table" % (m, p))
    if not problems:
        print("routes: %d method+path pairs, the same in the document and the sources" %
              len(served))
    return problems


# ------------------------------------------------------------------ served
def example_path(spec, template, op):
    """A concrete path for template: ids that do not exist, names that do not."""
    params = {}
    for p in item_params(spec, template) + op.get("parameters", []):
        p = deref(spec, p)
        if p.get("in") == "path":
            t = p.get("schema", {}).get("type")
            params[p["name"]] = "999999999" if t == "integer" else "no-such-" + p["name"]
    return re.sub(r"\{([^}/]*)\}", lambda m: urllib.parse.quote(params[m.group(1)]), template)


def request(base, method, path, token, body=None, headers=None, timeout=30):
    """(status, headers, body bytes); a stream's body is not read."""
    h = {"Authorization": "Bearer " + token} if token else {}
    h.update(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    with resp:
        ctype = resp.headers.get("Content-Type", "")
        if ctype.startswith("text/event-stream"):
            return resp.status, resp.headers, b""
        return resp.status, resp.headers, resp.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def cmd_served(spec, base, token, src):
    urllib.request.install_opener(urllib.request.build_opener(NoRedirect))
    problems = []
    n = 0
    for method, template, op in operations(spec):
        if pending(op, src):
            continue
        path = example_path(spec, template, op)
        body = None
        if "requestBody" in op:
            body = {}  # refused (400) or a note-less action on an id that does not exist
        status, _, text = request(base, method, path, token, body)
        n += 1
        msg = ""
        try:
            msg = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            pass
        if status == 405 or (status == 404 and msg.startswith("nothing is served")):
            problems.append("%s %s (as %s): %d %s: documented but not served" %
                            (method, template, path, status, msg))
    if not problems:
        print("served: each of the %d documented operations is served" % n)
    return problems


# ------------------------------------------------------------------ validate
def find_operation(spec, method, path):
    path = urllib.parse.urlsplit(path).path
    for m, template, op in operations(spec):
        if m != method:
            continue
        rx = "^" + re.sub(r"\\\{[^}/]*\\\}", "[^/]+", re.escape(template)) + "/?$"
        if re.match(rx, path):
            return template, op
    return None, None


def cmd_validate(spec, method, path, status, file, ctype):
    template, op = find_operation(spec, method, path)
    if not op:
        return ["%s %s: no such operation in the document" % (method, path)]
    responses = op.get("responses", {})
    resp = responses.get(status) or responses.get(status[0] + "XX") or responses.get("default")
    if resp is None:
        return ["%s %s: status %s is not documented for %s %s (documented: %s)" %
                (method, path, status, method, template, ", ".join(sorted(responses)))]
    resp = deref(spec, resp)
    content = resp.get("content", {})
    ctype = (ctype or "application/json").split(";")[0].strip()
    if ctype not in content:
        return ["%s %s %s: content type %s is not documented (documented: %s)" %
                (method, path, status, ctype, ", ".join(sorted(content)) or "none")]
    with open(file, "rb") as f:
        raw = f.read()
    if ctype != "application/json":
        return []
    try:
        doc = json.loads(raw)
    except ValueError as e:
        return ["%s %s %s: not JSON: %s" % (method, path, status, e)]
    v = validator_for(spec, content[ctype]["schema"])
    problems = []
    for err in sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(the document)"
        problems.append("%s %s %s: at %s: %s" % (method, path, status, where, err.message[:300]))
    return problems


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    spec = load(argv[1])
    cmd = argv[2]
    if cmd == "lint" and len(argv) == 3:
        problems = cmd_lint(spec)
    elif cmd == "routes" and len(argv) == 4:
        problems = cmd_routes(spec, argv[3])
    elif cmd == "served" and len(argv) == 5:
        problems = cmd_served(spec, argv[3], os.environ.get("CLAPPER_TOKEN", ""), argv[4])
    elif cmd == "validate" and len(argv) in (7, 8):
        problems = cmd_validate(spec, argv[3].upper(), argv[4], argv[5], argv[6],
                                argv[7] if len(argv) == 8 else None)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for p in problems:
        print("openapi_check: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
