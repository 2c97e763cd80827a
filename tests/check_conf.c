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

#include "check_util.h"
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
	"data/good-show.conf",
	"data/good-redis-sentinel.conf",
	"data/good-redis-cluster.conf",
};

START_TEST(test_good_files)
{
	size_t i;

	for (i = 0; i < NELEM(good_files); i++) {
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
	ck_assert_uint_eq(s->thread_stack, POL_STACK_DEFAULT);
	ck_assert_int_eq(pol_rule_count(p), 0);
	ck_assert(pol_needs_stage(p, POL_RCPT));
	ck_assert(!pol_needs_stage(p, POL_BODY));
	ck_assert(!pol_needs_stage(p, POL_HEADER));
	pol_unref(p);
}
END_TEST

/* `-t` and `-t -v`: what pol_show prints (a piece per line); verbose 2:
 * must NOT be in the output of the short form. */
struct show_case {
	int verbose;
	const char *want;
};

static const struct show_case show_cases[] = {
	{ 0, "list local: 1 entry\n" },
	{ 0, "list trusted: 2 entries\n" },
	{ 0, "relay.local_domains: 2 entries\n" },
	{ 0, "relay.permit.client: 2 entries\n" },
	{ 2, "as parsed:" },
	{ 1, "  lists.local[0] = \"example.comexample.net\"\n" },
	{ 1, "  relay.local_domains[1] = \"example.org\"\n" },
	{ 1, "  rules[1].duplicates.max = 2\n" },
	{ 1, "rule rc (line 8): at rcpt, tempfail; 0 when, 0 unless\n" },
	{ 1, "    limit: recipients per sender, client_addr; 3 per 1 h, burst 3, charge accepted\n" },
	{ 1, "    duplicates: of body (all senders together); at most 2 per 10 min\n" },
	{ 1, "    reply 557 5.7.1 \"seen %{count_times} before\"\n" },
	{ 1, "    reply 452-4.5.3 \"Too many recipients from %{counted}:" },
};

START_TEST(test_show)
{
	const struct show_case *c = &show_cases[_i];
	struct errors e = { 0 };
	struct policy *p = pol_load("data/good-show.conf", collect, &e);
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	ck_assert_msg(p != NULL, "good-show.conf: %s", e.msg[0]);
	ck_assert_int_eq(pol_show(p, c->verbose == 1, f), 0);
	fclose(f);
	if (c->verbose == 2)
		ck_assert_msg(strstr(buf, c->want) == NULL, "-t: got \"%s\", want "
		    "no \"%s\"", buf, c->want);
	else
		ck_assert_msg(strstr(buf, c->want) != NULL, "-t%s: got \"%s\", "
		    "want \"%s\"", c->verbose ? " -v" : "", buf, c->want);
	free(buf);
	pol_unref(p);
}
END_TEST

/* milter.thread_stack: what each spelling gives; 1 means refused. */
START_TEST(test_thread_stack)
{
	static const struct { const char *v; size_t want; } t[] = {
		{ "\"128k\"", 128 << 10 }, { "\"256K\"", 256 << 10 },
		{ "\"1m\"", 1 << 20 }, { "\"64m\"", 64 << 20 },
		{ "65536", 65536 }, { "0", 0 }, { "\"0\"", 0 },
		{ "\"63k\"", 1 }, { "\"65m\"", 1 }, { "\"1g\"", 1 },
		{ "\"12x\"", 1 }, { "\"\"", 1 }, { "\"-1\"", 1 }, { "-1", 1 },
		{ "\" 64k\"", 1 }, { "\"99999999999999999999k\"", 1 },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct errors e = { 0 };
		struct policy *p;
		FILE *fp = fopen("data/tmp-stack.conf", "w");

		fprintf(fp, "milter = { thread_stack = %s; };\n", t[i].v);
		fclose(fp);
		p = pol_load("data/tmp-stack.conf", collect, &e);
		remove("data/tmp-stack.conf");
		if (t[i].want == 1) {
			ck_assert_msg(p == NULL, "thread_stack = %s: loaded", t[i].v);
			continue;
		}
		ck_assert_msg(p != NULL, "thread_stack = %s: %s", t[i].v,
		    e.n ? e.msg[0] : "refused");
		ck_assert_uint_eq(pol_settings(p)->thread_stack, t[i].want);
		pol_unref(p);
	}
}
END_TEST

/* The macros the milter asks for follow what a policy reads. */
START_TEST(test_needs_values)
{
	static const struct { const char *text; unsigned want; } t[] = {
		{ "", 0 },
		{ "rules = ({ name = \"a\"; when = { daemon = \"smtpd\"; }; "
		  "action = \"accept\"; scope = \"connection\"; });",
		  POL_NEED_DAEMON },
		{ "rules = ({ name = \"a\"; unless = { authenticated = true; }; "
		  "action = \"reject\"; });", POL_NEED_AUTH_USER },
		{ "rules = ({ name = \"a\"; limit = { count = \"messages\"; "
		  "per = \"auth_user\"; rate = \"10/1h\"; }; });",
		  POL_NEED_AUTH_USER },
		{ "rules = ({ name = \"a\"; when = { helo = \"x\"; }; "
		  "reply = \"550 5.7.1 not you, %{auth_user}\"; });",
		  POL_NEED_AUTH_USER },
		{ "relay = { local_domains = [ \"example.com\" ]; permit = { "
		  "authenticated = true; }; };", POL_NEED_AUTH_USER },
		{ "relay = { local_domains = [ \"example.com\" ]; permit = { "
		  "client = \"10.0.0.0/8\"; }; };", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct errors e = { 0 };
		struct policy *p;
		FILE *fp = fopen("data/tmp-needs.conf", "w");

		fprintf(fp, "%s\n", t[i].text);
		fclose(fp);
		p = pol_load("data/tmp-needs.conf", collect, &e);
		remove("data/tmp-needs.conf");
		ck_assert_msg(p != NULL, "%s: %s", t[i].text, e.n ? e.msg[0] : "");
		ck_assert_msg(pol_needs_values(p) == t[i].want, "%s: needs %#x, "
		    "want %#x", t[i].text, pol_needs_values(p), t[i].want);
		pol_unref(p);
	}
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		test_good_files,
		test_bad_files,
		test_missing_file,
		test_all_errors_reported,
		test_defaults,
	};

	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("load");
	size_t i;

	for (i = 0; i < NELEM(tests); i++)
		tcase_add_test(tc, tests[i]);
	tcase_add_loop_test(tc, test_show, 0, (int)NELEM(show_cases));
	tcase_add_test(tc, test_thread_stack);
	tcase_add_test(tc, test_needs_values);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
