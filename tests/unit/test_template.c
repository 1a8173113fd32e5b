/*
 * test_template.c - placeholder checking and expansion (common/template.c).
 */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "template.h"

static char err[256];

static const template_vals_t vals = {
    .project = "hod",
    .episode = "s02e03",
    .shot = "sh0420",
    .job = "sh0420-gen",
    .job_id = 12,
    .task_id = UINT64_MAX,
    .attempt = 2,
    .attempt_id = 77,
    .frame = 1003,
    .frame_start = 1001,
    .frame_end = 1008,
    .frame_step = 2,
    .take = 3,
    .seed = -7,
    .output_dir = "/out/hod/s02e03/12/34",
    .approved_output = "/out/take.mp4",
};

/* Expands tmpl with vals and compares with want. */
static void expands(int line, const char *tmpl, const template_vals_t *v, const char *want) {
  char *got = template_expand(tmpl, v);
  check_count++;
  if (!got || strcmp(got, want) != 0) {
    check_failures++;
    fprintf(stderr, "%s:%d: template_expand(\"%s\") = \"%s\", expected \"%s\"\n", __FILE__, line,
            tmpl, got ? got : "(null)", want);
  }
  free(got);
}
#define EXPANDS(t, want) expands(__LINE__, t, &vals, want)

/* template_check(tmpl, allowed) must fail with exactly msg. */
static void refused(int line, const char *tmpl, unsigned allowed, const char *msg) {
  unsigned used = 12345;
  err[0] = '\0';
  int rc = template_check(tmpl, allowed, &used, err, sizeof err);
  check_count++;
  if (rc != -1 || strcmp(err, msg) != 0 || used != 12345) {
    check_failures++;
    fprintf(stderr, "%s:%d: template_check(\"%s\") = %d \"%s\", expected \"%s\"\n", __FILE__, line,
            tmpl, rc, err, msg);
  }
}
#define REFUSED(t, allowed, msg) refused(__LINE__, t, allowed, msg)

static unsigned used_by(const char *tmpl) {
  unsigned used = 0xdead;
  if (template_check(tmpl, TV_ALL, &used, err, sizeof err) != 0)
    return 0xffffffffu;
  return used;
}

static void test_names(void) {
  CHECK_STR(template_var_name(TV_PROJECT), "project");
  CHECK_STR(template_var_name(TV_EPISODE), "episode");
  CHECK_STR(template_var_name(TV_SHOT), "shot");
  CHECK_STR(template_var_name(TV_JOB), "job");
  CHECK_STR(template_var_name(TV_JOB_ID), "job_id");
  CHECK_STR(template_var_name(TV_TASK_ID), "task_id");
  CHECK_STR(template_var_name(TV_ATTEMPT), "attempt");
  CHECK_STR(template_var_name(TV_FRAME_START), "frame_start");
  CHECK_STR(template_var_name(TV_FRAME_END), "frame_end");
  CHECK_STR(template_var_name(TV_FRAME_STEP), "frame_step");
  CHECK_STR(template_var_name(TV_TAKE), "take");
  CHECK_STR(template_var_name(TV_SEED), "seed");
  CHECK_STR(template_var_name(TV_OUTPUT_DIR), "output_dir");
  CHECK_STR(template_var_name(TV_APPROVED_OUTPUT), "approved_output");
  CHECK_STR(template_var_name(TV_ATTEMPT_ID), "attempt_id");
  CHECK_STR(template_var_name(TV_FRAME), "frame");
  CHECK_STR(template_var_name(TV_JOB_OUTPUT_DIR), "job:NAME:output_dir");
  CHECK_STR(template_var_name(TV_COUNT), "?");
  CHECK_STR(template_var_name((template_var_t)-1), "?");
  /* Every name is recognised by the checker as that variable. */
  for (int v = 0; v < TV_COUNT; v++) {
    char t[40];
    snprintf(t, sizeof t, "{%s}", template_var_name((template_var_t)v));
    CHECK_INT(used_by(t), TV_BIT(v));
  }
}

static void test_check(void) {
  unsigned used = 99;
  CHECK_INT(template_check("plain text", 0, &used, err, sizeof err), 0);
  CHECK_INT(used, 0);
  CHECK_INT(template_check("", 0, &used, err, sizeof err), 0);
  CHECK_INT(used, 0);
  CHECK_INT(template_check("{seed}", TV_BIT(TV_SEED), NULL, err, sizeof err), 0);
  CHECK_INT(used_by("--seed={seed} {output_dir}/{take}.mp4 {seed}"),
            TV_BIT(TV_SEED) | TV_BIT(TV_OUTPUT_DIR) | TV_BIT(TV_TAKE));
  CHECK_INT(used_by("{frame_start}-{frame_end}x{frame_step}"),
            TV_BIT(TV_FRAME_START) | TV_BIT(TV_FRAME_END) | TV_BIT(TV_FRAME_STEP));

  /* Escapes and literal braces are not placeholders. */
  CHECK_INT(used_by("{{seed}}"), 0);
  CHECK_INT(used_by("{\"a\": 1}"), 0);
  CHECK_INT(used_by("{\"a\": {\"b\": [1, 2]}}"), 0);
  CHECK_INT(used_by("${HOME}/x"), 0);
  CHECK_INT(used_by("{}"), 0);
  CHECK_INT(used_by("{ seed }"), 0);
  CHECK_INT(used_by("{Seed}"), 0);
  CHECK_INT(used_by("{seed"), 0);
  CHECK_INT(used_by("seed}"), 0);
  CHECK_INT(used_by("{"), 0);
  CHECK_INT(used_by("}"), 0);
  CHECK_INT(used_by("{a-b}"), 0);
  CHECK_INT(used_by("{seed1}"), 0);
  CHECK_INT(used_by("{{{seed}}}"), TV_BIT(TV_SEED));
  CHECK_INT(used_by("awk '{print $1}'"), 0);

  /* Unknown lowercase words are typos. */
  REFUSED("{fram_start}", TV_ALL, "unknown placeholder {fram_start}");
  REFUSED("x {seed} {outdir}", TV_ALL, "unknown placeholder {outdir}");
  REFUSED("{_}", TV_ALL, "unknown placeholder {_}");
  REFUSED("${home}", TV_ALL, "unknown placeholder {home}");
  REFUSED("{{seed}{bogus}", TV_ALL, "unknown placeholder {bogus}");
  /* Known, but not for this job. */
  unsigned base = TV_ALL & ~(TV_BIT(TV_FRAME_START) | TV_BIT(TV_FRAME_END) | TV_BIT(TV_FRAME_STEP) |
                             TV_BIT(TV_TAKE) | TV_BIT(TV_APPROVED_OUTPUT));
  REFUSED("{frame_start}", base,
          "placeholder {frame_start} is only available in a job with frames");
  REFUSED("{frame_end}", base, "placeholder {frame_end} is only available in a job with frames");
  REFUSED("{frame_step}", base, "placeholder {frame_step} is only available in a job with frames");
  REFUSED("a/{take}.mp4", base, "placeholder {take} is only available in a job with takes");
  REFUSED("{approved_output}", base,
          "placeholder {approved_output} is only available in a job with after_approval");
  REFUSED("{seed}", 0, "placeholder {seed} is not available here");
  /* The first problem wins. */
  REFUSED("{take} {nope}", base, "placeholder {take} is only available in a job with takes");

  /* A very long unknown name is quoted cut short. */
  char longname[300];
  longname[0] = '{';
  memset(longname + 1, 'q', 200);
  strcpy(longname + 201, "}");
  CHECK_INT(template_check(longname, TV_ALL, NULL, err, sizeof err), -1);
  CHECK(strlen(err) < 120);
  CHECK_CONTAINS(err, "unknown placeholder {qqqq");
  CHECK_CONTAINS(err, "...}");
  /* A tiny error buffer is not overrun. */
  char tiny[8];
  CHECK_INT(template_check("{nope}", TV_ALL, NULL, tiny, sizeof tiny), -1);
  CHECK_INT(strlen(tiny), 7);
  CHECK_INT(template_check("{nope}", TV_ALL, NULL, NULL, 0), -1);
}

static void test_expand(void) {
  EXPANDS("", "");
  EXPANDS("plain", "plain");
  EXPANDS("{project}/{episode}/{shot}/{job}", "hod/s02e03/sh0420/sh0420-gen");
  EXPANDS("{job_id}:{task_id}:{attempt}", "12:18446744073709551615:2");
  EXPANDS("{frame_start}-{frame_end}x{frame_step}", "1001-1008x2");
  EXPANDS("take{take} seed{seed}", "take3 seed-7");
  EXPANDS("{output_dir}/take.mp4", "/out/hod/s02e03/12/34/take.mp4");
  EXPANDS("{approved_output}", "/out/take.mp4");
  EXPANDS("{seed}{seed}{seed}", "-7-7-7");
  EXPANDS("{{seed}}", "{seed}");
  EXPANDS("{{{seed}}}", "{-7}");
  EXPANDS("{{", "{");
  EXPANDS("}}", "}");
  EXPANDS("a}}b{{c", "a}b{c");
  EXPANDS("{\"a\": 1}", "{\"a\": 1}");
  EXPANDS("{\"seed\": {seed}}", "{\"seed\": -7}");
  EXPANDS("${HOME}/{shot}", "${HOME}/sh0420");
  EXPANDS("awk '{print $1}'", "awk '{print $1}'");
  EXPANDS("{", "{");
  EXPANDS("}", "}");
  EXPANDS("{seed", "{seed");
  EXPANDS("{}", "{}");
  /* Unknown placeholders in an unchecked template are left as they are. */
  EXPANDS("{nope}{seed}", "{nope}-7");

  /* NULL strings expand to nothing; extreme integers print in full. */
  template_vals_t v = {.project = "p", .seed = INT64_MIN, .frame_start = INT64_MAX, .job_id = 0};
  expands(__LINE__, "[{shot}][{output_dir}][{approved_output}][{job}]", &v, "[][][][]");
  expands(__LINE__, "{seed} {frame_start} {job_id}", &v,
          "-9223372036854775808 9223372036854775807 0");
  expands(__LINE__, "{project}", NULL, "");

  /* Long text and many placeholders. */
  sbuf_t t = {0}, want = {0};
  for (int i = 0; i < 5000; i++) {
    sbuf_puts(&t, "ab{take}{{");
    sbuf_puts(&want, "ab3{");
  }
  expands(__LINE__, t.buf, &vals, want.buf);
  sbuf_free(&t);
  sbuf_free(&want);
}

/* Zero-padded widths: accepted on numbers only, as Python formats them. */
static void test_widths(void) {
  EXPANDS("{frame_start:04}-{frame_end:04}", "1001-1008");
  EXPANDS("{frame_start:06}/{frame_step:03}", "001001/002");
  EXPANDS("{take:03} {seed:05} {seed:01}", "003 -0007 -7");
  EXPANDS("{attempt:02} {attempt_id:04} {job_id:03}", "02 0077 012");
  EXPANDS("{frame:05}", "01003");
  EXPANDS("{frame_start:02}", "1001"); /* wider numbers are not cut */
  EXPANDS("{task_id:020}", "18446744073709551615");
  EXPANDS("{{frame_start:04}}", "{frame_start:04}");
  template_vals_t v = {.seed = INT64_MIN, .frame_start = 7};
  expands(__LINE__, "{seed:020}|{frame_start:020}", &v,
          "-9223372036854775808|00000000000000000007");
  CHECK_INT(used_by("{frame_start:04}"), TV_BIT(TV_FRAME_START));
  CHECK_INT(used_by("f{frame:04}.exr"), TV_BIT(TV_FRAME));

  REFUSED("{frame_end:4}", TV_ALL,
          "placeholder {frame_end:4}: the only format is a zero-padded width from 1 to 20, such "
          "as {frame_end:04}");
  REFUSED("{frame:x}", TV_ALL,
          "placeholder {frame:x}: the only format is a zero-padded width from 1 to 20, such as "
          "{frame:04}");
  REFUSED("{frame:00}", TV_ALL,
          "placeholder {frame:00}: the only format is a zero-padded width from 1 to 20, such as "
          "{frame:04}");
  REFUSED("{frame:021}", TV_ALL,
          "placeholder {frame:021}: the only format is a zero-padded width from 1 to 20, such as "
          "{frame:04}");
  REFUSED("{frame:>4}", TV_ALL,
          "placeholder {frame:>4}: the only format is a zero-padded width from 1 to 20, such as "
          "{frame:04}");
  REFUSED("{frame:}", TV_ALL,
          "placeholder {frame:}: the only format is a zero-padded width from 1 to 20, such as "
          "{frame:04}");
  REFUSED("{seed:04d}", TV_ALL,
          "placeholder {seed:04d}: the only format is a zero-padded width from 1 to 20, such as "
          "{seed:04}");
  REFUSED("{shot:04}", TV_ALL, "placeholder {shot:04}: only numbers take a width, {shot} is text");
  REFUSED("{output_dir:08}", TV_ALL,
          "placeholder {output_dir:08}: only numbers take a width, {output_dir} is text");
  REFUSED("{job:04}", TV_ALL, "placeholder {job:04}: only numbers take a width, {job} is text");
  REFUSED("{fram_start:04}", TV_ALL, "unknown placeholder {fram_start:04}");
  REFUSED("{frame:04}", TV_ALL & ~TV_BIT(TV_FRAME),
          "placeholder {frame:04} is only available in a job with frames");
  /* Shell text with a colon stays literal unless the word is known. */
  CHECK_INT(used_by("${var:-default}"), 0);
  CHECK_INT(used_by("{a:b}"), 0);
  CHECK_INT(used_by("{Frame:04}"), 0);
  EXPANDS("${var:-x}{seed}", "${var:-x}-7");
}

/* {frame} marks a string repeated per frame; the caller sets .frame. */
static void test_frame(void) {
  CHECK(template_repeats("{output_dir}/f{frame:04}.png"));
  CHECK(template_repeats("{frame}"));
  CHECK(!template_repeats("{frame_start}-{frame_end}"));
  CHECK(!template_repeats("{{frame}}"));
  CHECK(!template_repeats(""));
  CHECK(!template_repeats(NULL));
  CHECK_INT(template_uses("{frame}{seed}{nope}"), TV_BIT(TV_FRAME) | TV_BIT(TV_SEED));
  template_vals_t v = vals;
  for (int64_t f = 5; f <= 8; f++) {
    v.frame = f;
    char want[64];
    snprintf(want, sizeof want, "/out/hod/s02e03/12/34/frame%02lld.png", (long long)f);
    expands(__LINE__, "{output_dir}/frame{frame:02}.png", &v, want);
  }
}

static int collect(void *arg, const char *name, size_t n) {
  sbuf_t *sb = arg;
  sbuf_printf(sb, "[%.*s]", (int)n, name);
  return !strncmp(name, "stop", n) && n == 4 ? 7 : 0;
}

static const char *dir_of(void *arg, const char *name, size_t n) {
  (void)arg;
  if (n == 6 && !memcmp(name, "render", 6))
    return "/out/p/e/sh010/render.12";
  return "/odd/{dir}";
}

/* {job:NAME:output_dir}: recognised, listed and resolved at submit. */
static void test_job_refs(void) {
  CHECK_INT(used_by("{job:render:output_dir}/frame%04d.png"), TV_BIT(TV_JOB_OUTPUT_DIR));
  CHECK_INT(used_by("{job:SH010-Render_2.x:output_dir}"), TV_BIT(TV_JOB_OUTPUT_DIR));
  CHECK_INT(used_by("{job}{job:a:output_dir}"), TV_BIT(TV_JOB) | TV_BIT(TV_JOB_OUTPUT_DIR));
  REFUSED("{job:render}", TV_ALL,
          "placeholder {job:render}: another job is named as {job:NAME:output_dir}, NAME a job "
          "of the same file");
  REFUSED("{job:render:take}", TV_ALL,
          "placeholder {job:render:take}: another job is named as {job:NAME:output_dir}, NAME a "
          "job of the same file");
  REFUSED("{job::output_dir}", TV_ALL,
          "placeholder {job::output_dir}: another job is named as {job:NAME:output_dir}, NAME a "
          "job of the same file");
  REFUSED("{job:-x:output_dir}", TV_ALL,
          "placeholder {job:-x:output_dir}: another job is named as {job:NAME:output_dir}, NAME "
          "a job of the same file");
  REFUSED("{job:a:output_dir}", TV_ALL & ~TV_BIT(TV_JOB_OUTPUT_DIR),
          "placeholder {job:a:output_dir} is not available here");

  sbuf_t sb = {0};
  CHECK_INT(template_job_refs("a {job:render:output_dir} {{job:x:output_dir}} {job:comp:output_dir}",
                              collect, &sb),
            0);
  CHECK_STR(sb.buf, "[render][comp]");
  sbuf_free(&sb);
  CHECK_INT(template_job_refs("{job:stop:output_dir}{job:after:output_dir}", collect, &sb), 7);
  CHECK_STR(sb.buf, "[stop]");
  sbuf_free(&sb);
  CHECK_INT(template_job_refs("none", collect, &sb), 0);

  /* Resolved: the text is kept as written (escapes and all), the reference
   * becomes the directory with its braces doubled. */
  char *r = template_resolve_jobs("-i {job:render:output_dir}/f%04d.png {{x}} {seed:04} {", dir_of,
                                  NULL);
  CHECK_STR(r, "-i /out/p/e/sh010/render.12/f%04d.png {{x}} {seed:04} {");
  free(r);
  r = template_resolve_jobs("{job:other:output_dir}", dir_of, NULL);
  CHECK_STR(r, "/odd/{{dir}}");
  expands(__LINE__, r, &vals, "/odd/{dir}");
  free(r);
  r = template_resolve_jobs(NULL, dir_of, NULL);
  CHECK_STR(r, "");
  free(r);
  /* Unresolved, a reference expands as written. */
  EXPANDS("{job:render:output_dir}/x", "{job:render:output_dir}/x");
}

int main(void) {
  test_names();
  test_check();
  test_expand();
  test_widths();
  test_frame();
  test_job_refs();
  return check_report("template");
}
