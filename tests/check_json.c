/*
 * check_json.c: JSON string literals for `replay --json` and `report
 * --json` (milter/json.c, built into this suite): valid JSON whatever the
 * bytes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../milter/json.h"
#include "check_util.h"

struct json_case {
	const char *name, *in, *want;
};

static const struct json_case json_cases[] = {
	{ "plain", "alice@example.com", "\"alice@example.com\"" },
	{ "quote and backslash", "a\"b\\c", "\"a\\\"b\\\\c\"" },
	{ "control bytes", "a\r\nb\x1b[31m\x7f", "\"a\\u000d\\u000ab\\u001b[31m\\u007f\"" },
	{ "well-formed UTF-8 passes", "J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x93\xa7",
	  "\"J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x93\xa7\"" },
	{ "a stray continuation byte", "a\x80z", "\"a\\u0080z\"" },
	{ "a cut sequence", "\xe2\x82", "\"\\u00e2\\u0082\"" },
	{ "an overlong form", "\xc0\xaf", "\"\\u00c0\\u00af\"" },
	{ "a surrogate", "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"" },
	{ "past U+10FFFF", "\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"" },
	{ "empty", "", "\"\"" },
	{ "NULL", NULL, "\"\"" },
};

START_TEST(test_json_str)
{
	const struct json_case *c = &json_cases[_i];
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	json_str(f, c->in);
	fclose(f);
	ck_assert_msg(strcmp(buf, c->want) == 0, "%s: got %s, want %s", c->name,
	    buf, c->want);
	free(buf);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("str");

	tcase_add_loop_test(tc, test_json_str, 0, (int)NELEM(json_cases));
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}
