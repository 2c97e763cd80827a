/*
 * check_text.c: the shared text helpers: text_clean, the one cleaner of
 * outside values for replies and log lines, and text_err.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* text_clean, for log lines as well as replies. */
struct clean_case {
	const char *name;
	const char *in;
	size_t outsz;
	const char *want;
};

static const struct clean_case clean_cases[] = {
	{ "plain", "a@example.org", 64, "a@example.org" },
	{ "NULL", NULL, 64, "unknown" },
	{ "empty", "", 64, "" },
	{ "CRLF", "a\r\nb", 64, "a??b" },
	{ "DEL and ESC", "\x7f\x1b", 64, "??" },
	{ "high bytes", "\x80\xff", 64, "??" },
	{ "percent and macro kept", "%{rcpt}%", 64, "%{rcpt}%" },
	{ "fits exactly", "abcde", 6, "abcde" },
	{ "cut by outsz", "abcdefgh", 6, "ab..." },
	{ "smallest outsz", "abcdefgh", 4, "..." },
	{ "smallest outsz fits", "abc", 4, "abc" },
};

START_TEST(test_clean)
{
	const struct clean_case *c = &clean_cases[_i];
	char out[80];
	size_t n;

	memset(out, 'Z', sizeof out);
	n = text_clean(c->in, out, c->outsz);
	ck_assert_msg(strcmp(out, c->want) == 0 && n == strlen(c->want),
	    "%s: got \"%s\" (%zu), want \"%s\"", c->name, out, n, c->want);
	ck_assert_msg(out[c->outsz] == 'Z', "%s: wrote past outsz %zu",
	    c->name, c->outsz);
}
END_TEST

START_TEST(test_clean_value_max)
{
	char v[10241], out[1024];
	size_t n;

	memset(v, 'x', sizeof v - 1);
	v[sizeof v - 1] = '\0';
	memset(out, 'Z', sizeof out);
	n = text_clean(v, out, sizeof out);
	ck_assert_msg(n == TEXT_VALUE_MAX && strlen(out) == n &&
	    strcmp(out + n - 3, "...") == 0, "10 kB value: got %zu bytes "
	    "ending \"%s\", want %d ending \"...\"", n, out + n - 3,
	    TEXT_VALUE_MAX);
}
END_TEST

/* text_err: -1 always; the message only where there is room for it. */
START_TEST(test_err)
{
	char err[8];

	memset(err, 'Z', sizeof err);
	ck_assert_int_eq(text_err(err, sizeof err, "%s %d", "bad", 12345), -1);
	ck_assert_msg(strcmp(err, "bad 123") == 0, "cut: got \"%s\", want "
	    "\"bad 123\"", err);
	ck_assert_int_eq(text_err(NULL, 64, "no buffer"), -1);
	err[0] = 'Z';
	ck_assert_int_eq(text_err(err, 0, "no room"), -1);
	ck_assert_msg(err[0] == 'Z', "errsz 0: got '%c' written, want nothing",
	    err[0]);
}
END_TEST

static Suite *
text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_clean, 0, NELEM(clean_cases));
	tcase_add_test(tc, test_clean_value_max);
	tcase_add_test(tc, test_err);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(text_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
