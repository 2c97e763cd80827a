/*
 * check_log_once.c: a rule's error is logged once per rule and client in
 * a window (milter/log_once.c, built into this suite).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "../milter/log_once.h"
#include "check_util.h"

#define MIN	60000ULL

struct once_case {
	const char *name, *rule, *client;
	uint64_t at_ms;
	int want;
};

/* In order: each row sees what the rows before it logged. */
static const struct once_case once_cases[] = {
	{ "first error of a rule for a client", "aab", "192.0.2.7", 1 * MIN, 1 },
	{ "the same again", "aab", "192.0.2.7", 2 * MIN, 0 },
	{ "the same, later in the window", "aab", "192.0.2.7", 10 * MIN, 0 },
	{ "another client", "aab", "192.0.2.8", 10 * MIN, 1 },
	{ "another rule", "other", "192.0.2.7", 10 * MIN, 1 },
	{ "rule and client joined unambiguously", "aa", "b192.0.2.7", 10 * MIN, 1 },
	{ "the window over", "aab", "192.0.2.7", 11 * MIN + 1, 1 },
	{ "a clock that stepped back", "aab", "192.0.2.7", 1 * MIN, 1 },
	{ "no client address", "aab", NULL, 12 * MIN, 1 },
};

START_TEST(test_once)
{
	size_t i;

	for (i = 0; i < NELEM(once_cases); i++) {
		const struct once_case *c = &once_cases[i];
		int got = log_once_first(c->rule, c->client, c->at_ms);

		ck_assert_msg(got == c->want, "%s: got %d, want %d", c->name,
		    got, c->want);
	}
}
END_TEST

/* Many pairs: the table stays bounded and a pair is logged at least once. */
START_TEST(test_many)
{
	char client[32];
	int i, logged = 0;

	for (i = 0; i < 3 * LOG_ONCE_SLOTS; i++) {
		snprintf(client, sizeof client, "10.%d.%d.%d", i >> 16 & 255,
		    i >> 8 & 255, i & 255);
		logged += log_once_first("flood", client, 100 * MIN);
	}
	ck_assert_int_eq(logged, 3 * LOG_ONCE_SLOTS);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = { test_once, test_many };

	if (sodium_init() < 0)
		return 1;
	return check_run("log_once", "once", tests, NELEM(tests));
}
