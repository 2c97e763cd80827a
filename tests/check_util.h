/*
 * check_util.h: what the engine's check suites share.  Each suite is one
 * program, so these are static and the header is included once per suite.
 */
#ifndef CHECK_UTIL_H
#define CHECK_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy.h"

static void
fail_on_error(void *arg, const char *msg)
{
	(void)arg;
	ck_abort_msg("policy did not load: %s", msg);
}

/* Load a policy from text: written to a file, as the loader reads files
 * (in /tmp, so a relative file: list is taken from /tmp). */
static struct policy *
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

#endif
