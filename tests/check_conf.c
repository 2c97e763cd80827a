/*
 * check_conf: loading policy files.  Every good file (the examples, the
 * shipped default, tests/data/good-*.conf) must load; every
 * tests/data/bad-*.conf must be refused with the exact "FILE:LINE: message"
 * its first line names ("# expect: LINE: message").
 */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define MSG_MAX 2048

struct errors {
	int n;
	char msg[16][MSG_MAX];
};

static void
collect(void *arg, const char *msg)
{
	struct errors *e = arg;

	if (e->n < 16)
		snprintf(e->msg[e->n], MSG_MAX, "%s", msg);
	e->n++;
}

static const char *const good_files[] = {
	"../examples/policy.conf",
	"../init/policy.conf",
	"data/good-minimal.conf",
	"data/good-all-conditions.conf",
	"data/good-redis.conf",
	"data/good-redis-sentinel.conf",
	"data/good-redis-cluster.conf",
};

START_TEST(test_good_files)
{
	size_t i;

	for (i = 0; i < sizeof good_files / sizeof good_files[0]; i++) {
		struct errors e = { 0 };
		struct policy *p = pol_load(good_files[i], collect, &e);

		ck_assert_msg(p != NULL, "%s: got %d errors, first \"%s\"; want none",
		    good_files[i], e.n, e.n ? e.msg[0] : "");
		pol_unref(p);
	}
}
END_TEST

/* The "# expect: LINE: message" of a bad file, as "FILE:LINE: message". */
static void
expected_error(const char *path, char *out, size_t outsz)
{
	char line[MSG_MAX] = "";
	FILE *fp = fopen(path, "r");

	ck_assert_msg(fp != NULL, "%s: cannot open", path);
	ck_assert_msg(fgets(line, sizeof line, fp) != NULL, "%s: empty", path);
	fclose(fp);
	line[strcspn(line, "\n")] = '\0';
	ck_assert_msg(strncmp(line, "# expect: ", 10) == 0,
	    "%s: first line must be \"# expect: LINE: message\"", path);
	snprintf(out, outsz, "%s:%s", path, line + 10);
}

START_TEST(test_bad_files)
{
	char want[MSG_MAX + 64];
	glob_t g;
	size_t i;
	int k, found;

	ck_assert_int_eq(glob("data/bad-*.conf", 0, NULL, &g), 0);
	ck_assert_msg(g.gl_pathc >= 20, "only %zu bad files", g.gl_pathc);
	for (i = 0; i < g.gl_pathc; i++) {
		struct errors e = { 0 };
		struct policy *p = pol_load(g.gl_pathv[i], collect, &e);

		expected_error(g.gl_pathv[i], want, sizeof want);
		ck_assert_msg(p == NULL, "%s: loaded, want refused", g.gl_pathv[i]);
		for (k = found = 0; k < e.n && k < 16; k++)
			found |= strcmp(e.msg[k], want) == 0;
		ck_assert_msg(found, "%s: got \"%s\" (%d errors), want \"%s\"",
		    g.gl_pathv[i], e.n ? e.msg[0] : "", e.n, want);
	}
	globfree(&g);
}
END_TEST

START_TEST(test_missing_file)
{
	struct errors e = { 0 };

	ck_assert_ptr_null(pol_load("data/no-such-file.conf", collect, &e));
	ck_assert_int_eq(e.n, 1);
	ck_assert_str_eq(e.msg[0], "data/no-such-file.conf:0: cannot read the "
	    "policy file: No such file or directory");
}
END_TEST

/* Every error is reported, not only the first. */
START_TEST(test_all_errors_reported)
{
	struct errors e = { 0 };
	FILE *fp = fopen("data/tmp-many.conf", "w");

	fputs("rules = (\n { name = \"a\"; action = \"nope\"; },\n"
	    " { name = \"b\"; when = { client = \"300.1.1.1\"; }; action = \"reject\"; },\n"
	    " { name = \"c\"; reply = \"299 ok\"; }\n);\n", fp);
	fclose(fp);
	ck_assert_ptr_null(pol_load("data/tmp-many.conf", collect, &e));
	remove("data/tmp-many.conf");
	ck_assert_msg(e.n >= 3, "got %d errors, want 3", e.n);
	ck_assert_msg(strncmp(e.msg[0], "data/tmp-many.conf:2: ", 22) == 0, "%s", e.msg[0]);
	ck_assert_msg(strncmp(e.msg[e.n - 1], "data/tmp-many.conf:4: ", 22) == 0,
	    "%s", e.msg[e.n - 1]);
}
END_TEST

START_TEST(test_defaults)
{
	struct errors e = { 0 };
	struct policy *p = pol_load("data/good-minimal.conf", collect, &e);
	const struct pol_settings *s;

	ck_assert_ptr_nonnull(p);
	s = pol_settings(p);
	ck_assert_str_eq(s->socket, "unix:/run/milter-policy/milter-policy.sock");
	ck_assert_str_eq(s->syslog_facility, "mail");
	ck_assert_int_eq(s->mode, POL_ENFORCE);
	ck_assert_int_eq(s->on_error, POL_TEMPFAIL);
	ck_assert_int_eq(pol_rule_count(p), 0);
	ck_assert(pol_needs_stage(p, POL_RCPT));
	ck_assert(!pol_needs_stage(p, POL_BODY));
	ck_assert(!pol_needs_stage(p, POL_HEADER));
	pol_unref(p);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("load");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_good_files);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_all_errors_reported);
	tcase_add_test(tc, test_defaults);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
