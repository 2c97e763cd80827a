/*
 * check_explain.c: `milter-policy explain CODE` (milter/explain.c, built
 * into this suite beside the engine's library): what it returns and
 * prints, for the catalogue, unknown codes and things that are not codes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../milter/explain.h"
#include "replies.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* `explain CODE`: return value and a piece of what it prints. */
struct explain_case {
	const char *arg;
	int rc;
	const char *want;
};

static const struct explain_case explain_cases[] = {
	{ "557", 0, "557 5.7.1 (5xx: permanent failure)" },
	{ "557", 0, "mail loop" },
	{ "451", 0, "greylisting" },
	{ "554", 0, "delist" },
	{ "550", 0, "Whose side:" },
	{ "421", 0, "421 4.7.0 (4xx: temporary failure)" },
	{ "453", 0, "What to do:" },
	{ "499", 1, "499 is not in milter-policy's catalogue" },
	{ "499", 1, "temporary failure" },
	{ "599", 1, "permanent failure" },
	{ "251", 0, "251 2.1.5 (2xx: success)" },
	{ "354", 0, "354 (3xx: intermediate)" },
	{ "354", 0, "ends them with a line" },
	{ "250", 0, "took responsibility" },
	{ "504", 0, "504 5.5.4 (5xx: permanent failure)" },
	{ "538", 0, "5.7.11" },
	{ "299", 1, "299 is not in milter-policy's catalogue" },
	{ "299", 1, "success" },
	{ "399", 1, "intermediate" },
	{ "abc", 1, "\"abc\" is not an SMTP reply code" },
	{ "", 1, "not an SMTP reply code" },
	{ "5500", 1, "not an SMTP reply code" },
	{ "55", 1, "not an SMTP reply code" },
	{ "650", 1, "not an SMTP reply code" },
	{ "150", 1, "not an SMTP reply code" },
	{ "550 ", 1, "not an SMTP reply code" },
	{ NULL, 1, "not an SMTP reply code" },
};

START_TEST(test_explain)
{
	const struct explain_case *c = &explain_cases[_i];
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int rc;

	ck_assert_ptr_nonnull(f);
	rc = explain_print(c->arg, f);
	fclose(f);
	ck_assert_msg(rc == c->rc, "%s: got %d, want %d", c->arg, rc, c->rc);
	ck_assert_msg(strstr(buf, c->want) != NULL,
	    "%s: got \"%s\", want it to contain \"%s\"", c->arg, buf, c->want);
	free(buf);
}
END_TEST

/* `explain` output stays within 76 columns for every catalogue code. */
/* Every code RFC 5321 defines, the AUTH codes (RFC 4954), RFC 7504's and
 * the two this project uses have an entry with all three fields. */
START_TEST(test_catalogue_complete)
{
	static const int codes[] = {
		211, 214, 220, 221, 250, 251, 252, 354,
		421, 450, 451, 452, 455,
		500, 501, 502, 503, 504,
		550, 551, 552, 553, 554, 555,
		530, 534, 535, 538, 521, 556, 453, 557,
	};
	const struct reply_info *info;
	size_t i;

	for (i = 0; i < NELEM(codes); i++) {
		info = reply_info_find(codes[i]);
		ck_assert_msg(info != NULL && info->meaning[0] && info->side[0] &&
		    info->advice[0], "%d: got %s, want a full catalogue entry",
		    codes[i], info ? "a partial entry" : "none");
	}
}
END_TEST

START_TEST(test_explain_width)
{
	char *buf = NULL, *line, *save = NULL, arg[8];
	size_t size = 0;
	FILE *f;
	int code;

	for (code = 200; code < 600; code++) {
		if (reply_info_find(code) == NULL)
			continue;
		f = open_memstream(&buf, &size);
		ck_assert_ptr_nonnull(f);
		snprintf(arg, sizeof arg, "%d", code);
		ck_assert_int_eq(explain_print(arg, f), 0);
		fclose(f);
		for (line = strtok_r(buf, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			ck_assert_msg(strlen(line) <= 76, "%d: got a line of "
			    "%zu columns, want at most 76: \"%s\"", code,
			    strlen(line), line);
		free(buf);
		buf = NULL;
	}
}
END_TEST

static Suite *
explain_suite(void)
{
	Suite *s = suite_create("explain");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_explain, 0, NELEM(explain_cases));
	tcase_add_test(tc, test_explain_width);
	tcase_add_test(tc, test_catalogue_complete);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(explain_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
