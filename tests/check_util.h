/*
 * check_util.h: what the engine's check suites share.  Each suite is one
 * program, so these are static inline (a suite may leave some unused) and
 * the header is included once per suite.
 */
#ifndef CHECK_UTIL_H
#define CHECK_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy.h"
#include "util.h"

static inline void
fail_on_error(void *arg, const char *msg)
{
	(void)arg;
	ck_abort_msg("policy did not load: %s", msg);
}

/* Load a policy from text: written to a file, as the loader reads files
 * (in /tmp, so a relative file: list is taken from /tmp). */
static inline struct policy *
load_text(const char *text)
{
	char path[] = "/tmp/milter-policy-check.XXXXXX";
	struct policy *p;
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");

	ck_assert_msg(fp != NULL, "cannot write a policy file in /tmp");
	fputs(text, fp);
	fclose(fp);
	p = pol_load(path, fail_on_error, NULL);
	remove(path);
	return p;
}

/* The verdicts the engine noted during pol_eval (pol_conn_notes). */
#define NOTES_MAX 8
struct notes {
	int n;
	struct pol_verdict v[NOTES_MAX];
};

static inline void
notes_add(void *arg, const struct pol_verdict *v)
{
	struct notes *n = arg;

	ck_assert_msg(n->n < NOTES_MAX, "more than %d notes", NOTES_MAX);
	n->v[n->n++] = *v;
}

/* Run a suite; the exit status of a suite's main(). */
static inline int
check_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Run tests[0..n) as one test case of one suite; the exit status. */
static inline int
check_run(const char *suite, const char *tcase, const TTest *const *tests,
    size_t n)
{
	Suite *s = suite_create(suite);
	TCase *tc = tcase_create(tcase);
	size_t i;

	for (i = 0; i < n; i++)
		tcase_add_test(tc, tests[i]);
	suite_add_tcase(s, tc);
	return check_run_suite(s);
}

#endif
