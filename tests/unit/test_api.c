/*
 * test_api.c - the /api/v1 route table (api_route_list) against the
 * OpenAPI description, docs/openapi.yaml, both ways: every route of the
 * table is an operation of the document, and every /api/v1 operation of
 * the document that api.c serves (those without x-clapper-source, which
 * name another module) is a route of the table.  Also: no route twice,
 * every route names a verb, every pattern is an /api/v1 path whose
 * captures are whole segments.
 *
 * The document is read line by line in the layout it keeps (two spaces
 * before a path, four before a method, six before an operation's keys);
 * tests/integration/t_openapi.sh reads it as YAML and checks the rest
 * (schemas, answers) against a running coordinator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "check.h"

#define MAX_OPS 128

typedef struct op {
  char method[16];
  char path[160]; /* with "{}" for each "{name}" */
  bool other;     /* x-clapper-source: served by another module */
  bool seen;
} op_t;

static op_t ops[MAX_OPS];
static size_t nops;

/* "/api/v1/jobs/{job_id}/tasks" -> "/api/v1/jobs/{}/tasks". */
static void generic(const char *in, char *out, size_t n) {
  size_t o = 0;
  for (const char *p = in; *p && o + 3 < n; p++) {
    if (*p == '{') {
      const char *e = strchr(p, '}');
      if (!e)
        break;
      out[o++] = '{';
      out[o++] = '}';
      p = e;
    } else {
      out[o++] = *p;
    }
  }
  out[o] = '\0';
}

static void upper(char *s) {
  for (; *s; s++)
    if (*s >= 'a' && *s <= 'z')
      *s = (char)(*s - 'a' + 'A');
}

static int read_document(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) {
    perror(file);
    return -1;
  }
  char line[512], path[160] = "";
  bool in_paths = false;
  op_t *cur = NULL;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!strcmp(line, "paths:")) {
      in_paths = true;
      continue;
    }
    if (in_paths && line[0] && line[0] != ' ' && line[0] != '#')
      break; /* the next top-level key */
    if (!in_paths)
      continue;
    size_t len = strlen(line);
    if (!strncmp(line, "  /", 3) && line[len - 1] == ':') {
      line[len - 1] = '\0';
      generic(line + 2, path, sizeof path);
      cur = NULL;
    } else if (!strncmp(line, "    ", 4) && line[4] != ' ' && line[len - 1] == ':' && *path) {
      char m[16];
      if (len - 5 >= sizeof m)
        continue;
      memcpy(m, line + 4, len - 5);
      m[len - 5] = '\0';
      if (strcmp(m, "get") && strcmp(m, "post") && strcmp(m, "put") && strcmp(m, "delete") &&
          strcmp(m, "patch"))
        continue;
      CHECK(nops < MAX_OPS);
      if (nops == MAX_OPS)
        break;
      cur = &ops[nops++];
      snprintf(cur->method, sizeof cur->method, "%s", m);
      upper(cur->method);
      snprintf(cur->path, sizeof cur->path, "%s", path);
    } else if (cur && !strncmp(line, "      x-clapper-source:", 23)) {
      cur->other = true;
    }
  }
  fclose(f);
  return 0;
}

int main(void) {
  const char *src = getenv("CLAPPER_SOURCE_DIR");
  char file[1024];
  snprintf(file, sizeof file, "%s/docs/openapi.yaml", src ? src : ".");
  CHECK(read_document(file) == 0);
  CHECK(nops >= 30);

  size_t n = 0;
  const api_route_info_t *routes = api_route_list(&n);
  CHECK(n >= 30);
  for (size_t i = 0; i < n; i++) {
    const api_route_info_t *r = &routes[i];
    CHECK(r->verb > 0);
    CHECK(!strncmp(r->pattern, "/api/v1/", 8));
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{'))
      CHECK(p[-1] == '/' && p[1] == '}' && (p[2] == '/' || p[2] == '\0'));
    for (size_t j = 0; j < i; j++)
      CHECK(strcmp(routes[j].method, r->method) || strcmp(routes[j].pattern, r->pattern));
    bool found = false;
    for (size_t k = 0; k < nops; k++)
      if (!strcmp(ops[k].method, r->method) && !strcmp(ops[k].path, r->pattern)) {
        found = true;
        ops[k].seen = true;
        CHECK(!ops[k].other);
      }
    if (!found)
      fprintf(stderr, "%s %s is a route of api.c but not in docs/openapi.yaml\n", r->method,
              r->pattern);
    CHECK(found);
  }
  for (size_t k = 0; k < nops; k++) {
    if (ops[k].seen || ops[k].other)
      continue;
    fprintf(stderr, "%s %s is in docs/openapi.yaml but no route of api.c%s\n", ops[k].method,
            ops[k].path,
            strncmp(ops[k].path, "/api/v1/", 8) ? " (another module's? name it with "
                                                  "x-clapper-source)"
                                                : "");
    CHECK(ops[k].seen);
  }
  return check_report("test_api");
}
