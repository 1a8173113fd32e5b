/*
 * jsondoc.c - the version, time and number rules of clapper's JSON
 * documents, see jsondoc.h.
 */
#include "jsondoc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *jsondoc_versioned(const char *text) {
  const char *p = text;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
    p++;
  if (*p != '{')
    return xstrdup(text);
  const char *q = p + 1;
  while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
    q++;
  sbuf_t sb = {0};
  sbuf_append(&sb, text, (size_t)(p - text));
  sbuf_printf(&sb, "{\"version\":%d%s", JSONDOC_VERSION, *q == '}' ? "" : ",");
  sbuf_puts(&sb, p + 1);
  return sbuf_steal(&sb);
}

void jsondoc_real(double v, char *out, size_t outlen) {
  char buf[JSONDOC_REAL_MAX];
  if (!isfinite(v)) {
    snprintf(out, outlen, "null");
    return;
  }
  /* The shortest plain decimal that reads back as v... */
  for (int d = 1; d <= 17; d++) {
    int n = snprintf(buf, sizeof buf, "%.*f", d, v);
    if (n > 0 && (size_t)n < sizeof buf && strtod(buf, NULL) == v) {
      snprintf(out, outlen, "%s", buf);
      return;
    }
  }
  /* ...else the shortest exponent form (tiny values only; 17 digits
   * always read back). */
  for (int d = 1; d <= 17; d++) {
    snprintf(buf, sizeof buf, "%.*g", d, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  snprintf(out, outlen, "%s", buf);
}

/* Appends s (len bytes of UTF-8) as a JSON string: '"', '\\' and the
 * control characters escaped (the short forms where JSON has one), the
 * rest as it is. */
static void put_string(sbuf_t *out, const char *s, size_t len) {
  static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
  sbuf_putc(out, '"');
  size_t run = 0; /* bytes before s[i] still to copy as they are */
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    const char *hit = ch ? strchr(from, ch) : NULL;
    if (!hit && ch >= 0x20) {
      run++;
      continue;
    }
    sbuf_append(out, s + i - run, run);
    run = 0;
    if (hit)
      sbuf_printf(out, "\\%c", to[hit - from]);
    else
      sbuf_printf(out, "\\u%04X", ch); /* as jansson writes it */
  }
  sbuf_append(out, s + len - run, run);
  sbuf_putc(out, '"');
}

/* A new line indented for depth levels of indent spaces (nothing when
 * compact). */
static void newline(sbuf_t *out, unsigned indent, unsigned depth) {
  if (!indent)
    return;
  sbuf_putc(out, '\n');
  for (unsigned i = 0; i < indent * depth; i++)
    sbuf_putc(out, ' ');
}

static void dump(const json_t *v, unsigned indent, unsigned depth, int flags, sbuf_t *out) {
  const char *colon = indent ? ": " : ":";
  char num[JSONDOC_REAL_MAX];
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    bool version = (flags & JSONDOC_ADD_VERSION) && !json_object_get(v, "version");
    if (!json_object_size(v) && !version) {
      sbuf_puts(out, "{}");
      return;
    }
    sbuf_putc(out, '{');
    bool first = true;
    if (version) {
      newline(out, indent, depth + 1);
      sbuf_printf(out, "\"version\"%s%d", colon, JSONDOC_VERSION);
      first = false;
    }
    const char *key;
    const json_t *member;
    json_object_foreach((json_t *)v, key, member) {
      if (!first)
        sbuf_putc(out, ',');
      first = false;
      newline(out, indent, depth + 1);
      put_string(out, key, strlen(key));
      sbuf_puts(out, colon);
      dump(member, indent, depth + 1, 0, out);
    }
    newline(out, indent, depth);
    sbuf_putc(out, '}');
    return;
  }
  case JSON_ARRAY: {
    size_t n = json_array_size(v);
    if (!n) {
      sbuf_puts(out, "[]");
      return;
    }
    sbuf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
      if (i)
        sbuf_putc(out, ',');
      newline(out, indent, depth + 1);
      dump(json_array_get(v, i), indent, depth + 1, 0, out);
    }
    newline(out, indent, depth);
    sbuf_putc(out, ']');
    return;
  }
  case JSON_STRING:
    put_string(out, json_string_value(v), json_string_length(v));
    return;
  case JSON_INTEGER:
    sbuf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return;
  case JSON_REAL:
    jsondoc_real(json_real_value(v), num, sizeof num);
    sbuf_puts(out, num);
    return;
  case JSON_TRUE:
    sbuf_puts(out, "true");
    return;
  case JSON_FALSE:
    sbuf_puts(out, "false");
    return;
  case JSON_NULL:
  default:
    sbuf_puts(out, "null");
    return;
  }
}

void jsondoc_dump(const json_t *v, unsigned indent, int flags, sbuf_t *out) {
  if (!v) {
    sbuf_puts(out, "null");
    return;
  }
  dump(v, indent, 0, flags, out);
}
