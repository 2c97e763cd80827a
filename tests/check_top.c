/*
 * check_top.c: `ctl top`'s watch (milter/top.c) on a real memory store:
 * the order (nearest the limit first), the text of a line, the rule
 * filter, -n, expiry, and the bound: a slot keeps the counter nearest its
 * limit.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store.h"
#include "top.h"

/* Charge `units` of a 3/1h GCRA counter "RULE\0messages\0KEY" at now. */
static void
charge(struct store *st, const char *rule, const char *key, int units,
    uint64_t now)
{
	unsigned char id[TOP_ID_MAX];
	size_t n = (size_t)snprintf((char *)id, sizeof id, "%s%cmessages%c%s",
	    rule, 0, 0, key);
	struct store_req req = { .id = id, .idlen = n, .kind = STORE_GCRA,
	    .window_ms = 3600000, .rate = 3, .burst = 3, .units = 1,
	    .charge = STORE_CHARGE_ALLOWED };
	struct store_res res;
	int i;

	for (i = 0; i < units; i++) {
		ck_assert_int_eq(store_take(st, &req, now, &res), STORE_OK);
		top_seen(&req, &res, now);
	}
}

struct list_case {
	const char *name, *rule;
	int n;
	uint64_t at;
	const char *want;
};

static const struct list_case cases[] = {
	{ "all, nearest first", NULL, 10, 1000,
	  "r 192.0.2.1 used=3/3 rate=3/1h next=refused retry_after=1200s\n"
	  "r 192.0.2.2 used=2/3 rate=3/1h next=allowed retry_after=0s\n"
	  "s a@b.example,x used=1/3 rate=3/1h next=allowed retry_after=0s\n" },
	{ "-n 1", NULL, 1, 1000,
	  "r 192.0.2.1 used=3/3 rate=3/1h next=refused retry_after=1200s\n" },
	{ "one rule", "s", 10, 1000,
	  "s a@b.example,x used=1/3 rate=3/1h next=allowed retry_after=0s\n" },
	{ "a rule that is the prefix of none", "r2", 10, 1000, "" },
	{ "half an hour later", NULL, 10, 1000 + 1800000,
	  "r 192.0.2.1 used=2/3 rate=3/1h next=allowed retry_after=0s\n"
	  "r 192.0.2.2 used=1/3 rate=3/1h next=allowed retry_after=0s\n" },
	{ "all gone after an hour", NULL, 10, 1000 + 3600000, "" },
};

START_TEST(test_list)
{
	const struct list_case *c = &cases[_i];
	struct store *st = store_memory_new(1000);
	char out[4096];
	const char *p;
	int n, lines;

	top_clear();
	charge(st, "r", "192.0.2.1", 3, 1000);
	charge(st, "r", "192.0.2.2", 2, 1000);
	charge(st, "s", "a@b.example\x1fx", 1, 1000);
	n = top_list(st, c->rule, c->n, c->at, out, sizeof out);
	ck_assert_msg(strcmp(out, c->want) == 0, "%s: got\n%s\nwant\n%s", c->name,
	    out, c->want);
	for (lines = 0, p = c->want; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	ck_assert_msg(n == lines, "%s: listed %d, want %d", c->name, n, lines);
	store_free(st);
}
END_TEST

/* 10,000 counters into 2,048 slots: a counter at its limit is never
 * pushed out by counters further from theirs. */
START_TEST(test_bound)
{
	struct store *st = store_memory_new(100000);
	char key[32], out[8192];
	int i;

	top_clear();
	charge(st, "r", "hot", 3, 1000);
	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		charge(st, "r", key, 1, 1000);
	}
	ck_assert_int_eq(top_list(st, "r", 1, 1000, out, sizeof out), 1);
	ck_assert_str_eq(out, "r hot used=3/3 rate=3/1h next=refused retry_after=1200s\n");
	ck_assert_int_le(top_list(st, NULL, TOP_MAX, 1000, out, sizeof out), TOP_MAX);
	store_free(st);
}
END_TEST

static struct store *shared;

static void *
charger(void *arg)
{
	char key[32];
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof key, "%s%d", (const char *)arg, i % 500);
		charge(shared, "r", key, 1, 1000);
	}
	return NULL;
}

/* Charges on two threads while a third lists: for ThreadSanitizer. */
START_TEST(test_threads)
{
	pthread_t t[2];
	char out[TOP_MAX * 512];
	int i;

	top_clear();
	shared = store_memory_new(100000);
	pthread_create(&t[0], NULL, charger, "a");
	pthread_create(&t[1], NULL, charger, "b");
	for (i = 0; i < 20; i++)
		ck_assert_int_le(top_list(shared, "r", TOP_MAX, 1000, out, sizeof out), TOP_MAX);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	ck_assert_int_eq(top_list(shared, "r", 1, 1000, out, sizeof out), 1);
	ck_assert_msg(strstr(out, " used=3/3 ") != NULL, "%s", out);
	store_free(shared);
}
END_TEST

static Suite *
top_suite(void)
{
	Suite *s = suite_create("top");
	TCase *tc = tcase_create("top");

	tcase_add_loop_test(tc, test_list, 0, sizeof cases / sizeof cases[0]);
	tcase_add_test(tc, test_bound);
	suite_add_tcase(s, tc);
	tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0)
		return EXIT_FAILURE;
	sr = srunner_create(top_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
